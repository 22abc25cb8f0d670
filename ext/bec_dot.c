/*
** bec_dot.c - the op DAG as Graphviz DOT, because people would rather look
** at a DAG than read hashes:
**
**   SELECT bec_dot();                         -- the newest 1000 ops
**   SELECT bec_dot(50);                       -- the newest 50
**   SELECT bec_dot('{"last":200}');           -- options as a JSON object
**   SELECT bec_dot('{"table":"todos","key":"t1"}');  -- one row's writes
**   SELECT bec_dot('{"collapse":false}');     -- one box per op
**   $ build/becviz alice.db dag.svg
**
** Options (docs/reference.md): "last" (newest N ops, default 1000),
** "collapse" (default true), "table" and "key" (only the write ops that
** wrote or deleted that row; a composite key is a JSON array of its
** values in key order), "legend" (default true).
**
** One box per op, labelled with its kind and short hash (membership ops
** also name their target and role, write ops the tables and the number of
** rows they wrote); one fill colour per author; ops that the membership
** rules ignore (valid = 0) are grey and dashed; an arrow points from each
** op to each predecessor shown.  Members are labelled by member_label().
**
** Readability of large DAGs comes from collapsing: a linear run of one
** author's data ops (app and write ops, valid, each the only successor of
** the one before and its only predecessor) is one double-bordered box
** "N ops" with the tables and rows of the whole run.  A DAG of 1000 ops
** from a few replicas that sync now and then becomes one box per author
** per sync round.  Structure ops (the create op, membership ops, table
** schemas) and ignored ops always keep a box of their own.
**
** When the row filter hides ops, an op's arrows go to its nearest shown
** ancestors, found by walking through the hidden ones, and are dashed.
*/
#include "becInt.h"

#include <stdarg.h>

#define SHORT_HEX 8
#define DOT_DEFAULT_LAST 1000
#define DOT_MAX_TABLES_SHOWN 3   /* table lines per box, then "+N tables" */

/* Fill colours of authors, in order of first appearance. */
static const char *azPalette[] = {
  "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
  "#b3de69", "#fccde5", "#bc80bd", "#ccebc5", "#ffed6f", "#d9d9d9",
};
#define N_PALETTE ((int)(sizeof(azPalette)/sizeof(azPalette[0])))

/* What to draw, from the options argument. */
typedef struct DotOpt DotOpt;
struct DotOpt {
  int nLast;          /* the newest nLast ops */
  int bCollapse;      /* collapse linear runs */
  int bLegend;        /* draw the legend */
  char *zTable;       /* row filter: table name, or 0 (sqlite3_free) */
  int nKey;           /* row filter: number of key values */
  BecValue *aKey;     /* row filter: key values; text in azKeyText */
  char **azKeyText;   /* owned copies of text key values (sqlite3_free) */
};

/* Per table written by a box: a list hanging off the box's head node. */
typedef struct DotRows DotRows;
struct DotRows {
  int iSchema;        /* seq of the table's create op */
  i64 nRows;          /* changes (rows written or deleted) */
  int iNext;          /* next entry of the same box, or -1 */
};

/* A loaded table schema, by the seq of its create op. */
typedef struct DotSchema DotSchema;
struct DotSchema {
  int iSchema;
  BecSchema *s;       /* 0 if it could not be loaded */
};

/* The state of one rendering; one cleanup in dot_free. */
typedef struct Dot Dot;
struct Dot {
  BecCtx *p;
  BecGraph *g;
  DotOpt opt;
  int iFirst;         /* first seq in view */
  u8 *abShow;         /* [nNode+1]: drawn (in view and passing the filter) */
  int *aEStart;       /* [nNode+2]: a node's shown predecessors in aEPred */
  int *aEPred;        /* shown predecessors, node by node */
  u8 *abEVia;         /* per aEPred entry: reached through hidden ops */
  int nEPred, nEPredAlloc;
  int *aSucc;         /* [nNode+1]: number of shown successors */
  int *aHead;         /* [nNode+1]: head of the node's box (itself if alone) */
  int *aTail;         /* [nNode+1]: for a head, the last node of its box */
  int *aCount;        /* [nNode+1]: for a head, ops in its box */
  int *aKinds;        /* [nNode+1]: for a head, the kind if all alike, else -1 */
  int *aRowsFirst;    /* [nNode+1]: for a head, first DotRows entry or -1 */
  DotRows *aRows;
  int nRows, nRowsAlloc;
  DotSchema *aSchema;
  int nSchema, nSchemaAlloc;
  int *aColour;       /* author id -> palette index + 1 */
  char **azName;      /* author id -> display name or 0 (bec_names.c) */
  int *aStack;        /* walk through hidden ops */
  int *aSeen;         /* [nNode+1]: walk stamp */
  int nMatch;         /* ops the row filter matched */
};

/* a: at least SHORT_HEX/2 bytes (a graph node's id prefix will do) */
_Static_assert(SHORT_HEX/2 <= BEC_ID_PREFIX, "short ids from the prefix");
static void short_hex(const u8 *a, char *z){
  char zFull[2*BEC_HASH_BYTES+1];
  bec_hex_encode(a, SHORT_HEX/2, zFull);
  memcpy(z, zFull, SHORT_HEX);
  z[SHORT_HEX] = 0;
}

static void append_str(BecBuf *p, const char *z, int *pRc){
  bec_buf_append(p, z, (i64)strlen(z), pRc);
}

/* Appends n bytes of z inside a DOT "..." string: quotes and backslashes
** escaped, control bytes as spaces.  Table names and keys come from peers
** or users: nothing they hold can end the string. */
static void append_escaped(BecBuf *p, const char *z, i64 n, int *pRc){
  i64 i;
  for(i=0; i<n && *pRc==SQLITE_OK; i++){
    u8 c = (u8)z[i];
    if( c=='"' || c=='\\' ){
      bec_buf_append_u8(p, '\\', pRc);
      bec_buf_append_u8(p, c, pRc);
    }else{
      bec_buf_append_u8(p, c<0x20 || c==0x7f ? ' ' : c, pRc);
    }
  }
}

/* The label of member iAuthor, into zOut (LABEL_BYTES): the prefix of
** its public key, after its display name if it signed one ("Alice
** (f907b2c6)": names are not unique, the key prefix tells two Alices
** apart).  The caller escapes it (append_escaped). */
#define LABEL_BYTES (BEC_NAME_MAX_BYTES + SHORT_HEX + 4)
static void member_label(const Dot *d, int iAuthor, char *zOut){
  const BecGraph *g = d->g;
  if( iAuthor>=1 && iAuthor<=g->nAuthor ){
    char zKey[SHORT_HEX+1];
    short_hex(g->aAuthorKey[iAuthor], zKey);
    if( d->azName && d->azName[iAuthor] ){
      sqlite3_snprintf(LABEL_BYTES, zOut, "%s (%s)", d->azName[iAuthor], zKey);
    }else{
      memcpy(zOut, zKey, SHORT_HEX+1);
    }
  }else{
    memcpy(zOut, "?", 2);
  }
}

/* d->azName: the display name of every author that has one. */
static int load_names(Dot *d){
  sqlite3_stmt *pStmt = 0;
  int rc;
  d->azName = sqlite3_malloc64(sizeof(char*)*(sqlite3_uint64)(d->g->nAuthor+1));
  if( d->azName==0 ) return SQLITE_NOMEM;
  memset(d->azName, 0, sizeof(char*)*(size_t)(d->g->nAuthor+1));
  rc = bec_ctx_stmt(d->p, "SELECT a.id, " BEC_NAME_OF_AUTHOR("a.id")
                          " FROM bec_store_author a", &pStmt);
  if( rc ) return rc;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int id = sqlite3_column_int(pStmt, 0);
    const char *z = (const char*)sqlite3_column_text(pStmt, 1);
    if( z && id>=1 && id<=d->g->nAuthor ){
      d->azName[id] = sqlite3_mprintf("%s", z);
      if( d->azName[id]==0 ) rc = SQLITE_NOMEM;
    }
  }
  bec_stmt_reset(pStmt, &rc);
  return rc;
}

static void dot_opt_free(DotOpt *o){
  int i;
  for(i=0; i<o->nKey; i++) sqlite3_free(o->azKeyText[i]);
  sqlite3_free(o->azKeyText);
  sqlite3_free(o->aKey);
  sqlite3_free(o->zTable);
  memset(o, 0, sizeof(*o));
}

/* One JSON scalar (from json_each: its value column and type) as a key
** value; 0 if it cannot be one. */
static int key_from_json(DotOpt *o, sqlite3_stmt *pStmt, int iVal, int iType,
                         int *pRc){
  const char *zType = (const char*)sqlite3_column_text(pStmt, iType);
  BecValue *v = &o->aKey[o->nKey];
  memset(v, 0, sizeof(*v));
  if( zType==0 ) return 0;
  if( strcmp(zType, "integer")==0 ){
    v->eType = BEC_VAL_INT;
    v->i = sqlite3_column_int64(pStmt, iVal);
  }else if( strcmp(zType, "real")==0 ){
    v->eType = BEC_VAL_REAL;
    v->r = sqlite3_column_double(pStmt, iVal);
  }else if( strcmp(zType, "text")==0 ){
    char *z = sqlite3_mprintf("%s", (const char*)sqlite3_column_text(pStmt, iVal));
    if( z==0 ){ *pRc = SQLITE_NOMEM; return 0; }
    o->azKeyText[o->nKey] = z;
    v->eType = BEC_VAL_TEXT;
    v->a = (const u8*)z;
    v->n = (int)strlen(z);
  }else{
    return 0;
  }
  if( !bec_key_normalize(v) ) return 0;
  o->nKey++;
  return 1;
}

/* The "key" option: one scalar, or a JSON array of scalars. */
static int parse_key(BecCtx *p, DotOpt *o, const char *zJson, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(p->db, "SELECT value, type FROM json_each(?1)",
                              -1, &pStmt, 0);
  int bBad = 0;
  if( rc==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zJson, -1, SQLITE_STATIC);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      if( o->nKey>=BEC_TABLE_MAX_COL ){ bBad = 1; break; }
      if( !key_from_json(o, pStmt, 0, 1, &rc) && rc==SQLITE_OK ) bBad = 1;
    }
    if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
    else sqlite3_finalize(pStmt);
  }
  if( rc==SQLITE_OK && (bBad || o->nKey==0) ){
    rc = SQLITE_ERROR;
    *pzErr = sqlite3_mprintf("the key must be a number, a text or a JSON "
                             "array of them (a composite key, in key order)");
  }
  return rc;
}

/* Reads the options argument (0: defaults): a positive integer (the
** number of ops) or a JSON object (docs/reference.md). */
static int parse_options(BecCtx *p, sqlite3_value *pArg, DotOpt *o,
                         char **pzErr){
  static const char zKnown[] = "known: last, collapse, table, key, legend";
  sqlite3_stmt *pStmt = 0;
  int rc = SQLITE_OK;
  memset(o, 0, sizeof(*o));
  o->nLast = DOT_DEFAULT_LAST;
  o->bCollapse = 1;
  o->bLegend = 1;
  if( pArg==0 || sqlite3_value_type(pArg)==SQLITE_NULL ) return SQLITE_OK;
  if( sqlite3_value_type(pArg)==SQLITE_INTEGER ){
    i64 n = sqlite3_value_int64(pArg);
    if( n<1 || n>0x7fffffff ){
      *pzErr = sqlite3_mprintf("the limit must be a positive number of ops");
      return SQLITE_ERROR;
    }
    o->nLast = (int)n;
    return SQLITE_OK;
  }
  if( sqlite3_value_type(pArg)!=SQLITE_TEXT ){
    *pzErr = sqlite3_mprintf("the argument must be a positive number of ops "
                             "or a JSON object of options");
    return SQLITE_ERROR;
  }
  rc = sqlite3_prepare_v2(p->db, "SELECT key, value, type FROM json_each(?1) "
                          "WHERE json_type(?1)='object'", -1, &pStmt, 0);
  if( rc ) return rc;
  sqlite3_bind_value(pStmt, 1, pArg);
  /* Malformed JSON makes json_type fail: that error is the message. */
  {
    sqlite3_stmt *pCheck = 0;
    rc = sqlite3_prepare_v2(p->db, "SELECT json_type(?1)", -1, &pCheck, 0);
    if( rc==SQLITE_OK ){
      sqlite3_bind_value(pCheck, 1, pArg);
      if( sqlite3_step(pCheck)!=SQLITE_ROW
       || sqlite3_column_type(pCheck, 0)==SQLITE_NULL
       || strcmp((const char*)sqlite3_column_text(pCheck, 0), "object") ){
        rc = SQLITE_ERROR;
      }
      sqlite3_finalize(pCheck);
    }
    if( rc ){
      sqlite3_finalize(pStmt);
      *pzErr = sqlite3_mprintf("the options must be a JSON object, e.g. "
                               "'{\"last\":200}' (%s)", zKnown);
      return SQLITE_ERROR;
    }
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zName = (const char*)sqlite3_column_text(pStmt, 0);
    const char *zType = (const char*)sqlite3_column_text(pStmt, 2);
    if( zName==0 || zType==0 ) continue;
    if( strcmp(zType, "null")==0 ) continue;    /* absent */
    if( strcmp(zName, "last")==0 ){
      i64 n = sqlite3_column_int64(pStmt, 1);
      if( strcmp(zType, "integer") || n<1 || n>0x7fffffff ){
        *pzErr = sqlite3_mprintf("option last must be a positive number of ops");
        rc = SQLITE_ERROR;
      }else{
        o->nLast = (int)n;
      }
    }else if( strcmp(zName, "collapse")==0 || strcmp(zName, "legend")==0 ){
      int b;
      if( strcmp(zType, "true")==0 ) b = 1;
      else if( strcmp(zType, "false")==0 ) b = 0;
      else if( strcmp(zType, "integer")==0 ) b = sqlite3_column_int(pStmt, 1)!=0;
      else{
        *pzErr = sqlite3_mprintf("option %s must be true or false", zName);
        rc = SQLITE_ERROR;
        break;
      }
      if( zName[0]=='c' ) o->bCollapse = b; else o->bLegend = b;
    }else if( strcmp(zName, "table")==0 ){
      if( strcmp(zType, "text") ){
        *pzErr = sqlite3_mprintf("option table must be a table name");
        rc = SQLITE_ERROR;
      }else{
        sqlite3_free(o->zTable);
        o->zTable = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 1));
        if( o->zTable==0 ) rc = SQLITE_NOMEM;
      }
    }else if( strcmp(zName, "key")==0 ){
      if( o->aKey ) continue;     /* (json_each gives a repeated key twice) */
      o->aKey = sqlite3_malloc64(sizeof(BecValue)*BEC_TABLE_MAX_COL);
      o->azKeyText = sqlite3_malloc64(sizeof(char*)*BEC_TABLE_MAX_COL);
      if( o->aKey==0 || o->azKeyText==0 ){ rc = SQLITE_NOMEM; break; }
      memset(o->azKeyText, 0, sizeof(char*)*BEC_TABLE_MAX_COL);
      if( strcmp(zType, "array")==0 ){
        rc = parse_key(p, o, (const char*)sqlite3_column_text(pStmt, 1), pzErr);
      }else if( !key_from_json(o, pStmt, 1, 2, &rc) && rc==SQLITE_OK ){
        *pzErr = sqlite3_mprintf("the key must be a number, a text or a JSON "
                                 "array of them (a composite key, in key order)");
        rc = SQLITE_ERROR;
      }
    }else{
      *pzErr = sqlite3_mprintf("unknown option '%s' (%s)", zName, zKnown);
      rc = SQLITE_ERROR;
    }
  }
  sqlite3_finalize(pStmt);
  if( rc==SQLITE_OK && (o->zTable==0)!=(o->nKey==0) ){
    *pzErr = sqlite3_mprintf("options table and key go together: the row "
                             "whose writes to draw");
    rc = SQLITE_ERROR;
  }
  return rc;
}

static void dot_free(Dot *d){
  int i;
  sqlite3_free(d->abShow);
  sqlite3_free(d->aEStart);
  sqlite3_free(d->aEPred);
  sqlite3_free(d->abEVia);
  sqlite3_free(d->aSucc);
  sqlite3_free(d->aHead);
  sqlite3_free(d->aTail);
  sqlite3_free(d->aCount);
  sqlite3_free(d->aKinds);
  sqlite3_free(d->aRowsFirst);
  sqlite3_free(d->aRows);
  for(i=0; i<d->nSchema; i++) bec_schema_free(d->aSchema[i].s);
  sqlite3_free(d->aSchema);
  sqlite3_free(d->aColour);
  if( d->azName ){
    for(i=0; i<=d->g->nAuthor; i++) sqlite3_free(d->azName[i]);
    sqlite3_free(d->azName);
  }
  sqlite3_free(d->aStack);
  sqlite3_free(d->aSeen);
  dot_opt_free(&d->opt);
}

/* A zeroed array of n ints (or bytes with sz 1); 0 if out of memory. */
static void *zalloc(i64 n, size_t sz){
  void *a = sqlite3_malloc64((sqlite3_uint64)n*sz);
  if( a ) memset(a, 0, (size_t)n*sz);
  return a;
}

/* The schema of create op iSchema, loaded once per rendering; 0 if it
** is not a loadable create op (the write is then ignored by the merge:
** its table is shown as "?"). */
static int dot_schema(Dot *d, int iSchema, BecSchema **ps){
  int i, rc;
  char *zErr = 0;
  *ps = 0;
  for(i=0; i<d->nSchema; i++){
    if( d->aSchema[i].iSchema==iSchema ){ *ps = d->aSchema[i].s; return SQLITE_OK; }
  }
  if( d->nSchema>=d->nSchemaAlloc ){
    int nNew = d->nSchemaAlloc ? 2*d->nSchemaAlloc : 8;
    DotSchema *aNew = sqlite3_realloc64(d->aSchema, sizeof(DotSchema)*(sqlite3_uint64)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    d->aSchema = aNew;
    d->nSchemaAlloc = nNew;
  }
  d->aSchema[d->nSchema].iSchema = iSchema;
  d->aSchema[d->nSchema].s = 0;
  rc = SQLITE_OK;
  if( iSchema>=1 && iSchema<=d->g->nNode && d->g->aNode[iSchema].kind==BEC_KIND_SCHEMA ){
    rc = bec_crdt_load_schema(d->p, iSchema, &d->aSchema[d->nSchema].s, 0, &zErr);
    sqlite3_free(zErr);
    if( rc!=SQLITE_NOMEM ) rc = SQLITE_OK;   /* shown as "?", not an error */
    if( d->aSchema[d->nSchema].s && d->aSchema[d->nSchema].s->action!=BEC_SCHEMA_CREATE ){
      bec_schema_free(d->aSchema[d->nSchema].s);
      d->aSchema[d->nSchema].s = 0;
    }
  }
  *ps = d->aSchema[d->nSchema].s;
  d->nSchema++;
  return rc;
}

/* Adds nRows rows of table iSchema to the box headed by iHead. */
static int add_rows(Dot *d, int iHead, int iSchema, i64 nRows){
  int k;
  for(k=d->aRowsFirst[iHead]; k>=0; k=d->aRows[k].iNext){
    if( d->aRows[k].iSchema==iSchema ){ d->aRows[k].nRows += nRows; return SQLITE_OK; }
  }
  if( d->nRows>=d->nRowsAlloc ){
    int nNew = d->nRowsAlloc ? 2*d->nRowsAlloc : 64;
    DotRows *aNew = sqlite3_realloc64(d->aRows, sizeof(DotRows)*(sqlite3_uint64)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    d->aRows = aNew;
    d->nRowsAlloc = nNew;
  }
  d->aRows[d->nRows].iSchema = iSchema;
  d->aRows[d->nRows].nRows = nRows;
  /* appended at the end of the list: tables in order of first write */
  d->aRows[d->nRows].iNext = -1;
  if( d->aRowsFirst[iHead]<0 ){
    d->aRowsFirst[iHead] = d->nRows;
  }else{
    for(k=d->aRowsFirst[iHead]; d->aRows[k].iNext>=0; k=d->aRows[k].iNext){}
    d->aRows[k].iNext = d->nRows;
  }
  d->nRows++;
  return SQLITE_OK;
}

/* 1 if decoded key value a equals the filter's key value b. */
static int key_equal(BecValue a, const BecValue *b){
  if( !bec_key_normalize(&a) || a.eType!=b->eType ) return 0;
  switch( a.eType ){
    case BEC_VAL_INT:  return a.i==b->i;
    case BEC_VAL_REAL: return a.r==b->r;
    default:           return a.n==b->n && memcmp(a.a, b->a, (size_t)a.n)==0;
  }
}

/* Reads write op iSeq: with iHead>0 adds its rows per table to that box;
** *pbMatch (if not 0) is set if it wrote or deleted the filter's row.  A
** write the codec cannot read (it was accepted, so only a missing
** schema) adds nothing. */
static int scan_write(Dot *d, int iSeq, int iHead, int *pbMatch){
  sqlite3_stmt *pStmt = 0;
  BecValue *aVal = 0;
  u8 abSet[BEC_TABLE_MAX_COL];
  int rc = bec_ctx_stmt(d->p, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
  if( pbMatch ) *pbMatch = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  aVal = sqlite3_malloc64(sizeof(BecValue)*BEC_TABLE_MAX_COL);
  if( aVal==0 ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    BecOp op;
    BecWriteReader wr;
    char *zErr = 0;
    if( bec_op_decode(sqlite3_column_blob(pStmt, 0), sqlite3_column_bytes(pStmt, 0),
                      &op, &zErr)==SQLITE_OK
     && op.kind==BEC_KIND_WRITE
     && bec_write_open(&wr, op.aPayload, op.nPayload)==SQLITE_OK ){
      /* The schema and create op seq of each table the op names. */
      BecSchema **aS = sqlite3_malloc64(sizeof(BecSchema*)*(sqlite3_uint64)wr.nTable);
      int *aSeqOf = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)wr.nTable);
      int i, nT = wr.nTable;
      if( aS==0 || aSeqOf==0 ) rc = SQLITE_NOMEM;
      for(i=0; rc==SQLITE_OK && i<nT; i++){
        aSeqOf[i] = 0;
        aS[i] = 0;
        rc = bec_dag_seq_of(d->p, &wr.aTableHash[i*BEC_HASH_BYTES], &aSeqOf[i]);
        if( rc==SQLITE_OK ) rc = dot_schema(d, aSeqOf[i], &aS[i]);
      }
      /* The changes can be parsed only while every table's shape is known. */
      while( rc==SQLITE_OK && wr.iChange<wr.nChange ){
        int iTable = 0, bDelete = 0, k, bAll;
        const BecSchema *s;
        if( bec_write_head(&wr, &iTable, &bDelete) ) break;
        if( iTable<0 || iTable>=nT || aS[iTable]==0 ) break;
        s = aS[iTable];
        if( bec_write_body(&wr, s, bDelete, aVal, abSet) ) break;
        if( iHead>0 ) rc = add_rows(d, iHead, aSeqOf[iTable], 1);
        if( pbMatch && !*pbMatch && s->nPk==d->opt.nKey
         && sqlite3_stricmp(s->zName, d->opt.zTable)==0 ){
          for(k=0, bAll=1; bAll && k<s->nPk; k++){
            bAll = key_equal(aVal[s->aPk[k]], &d->opt.aKey[k]);
          }
          *pbMatch = bAll;
        }
      }
      sqlite3_free(aS);
      sqlite3_free(aSeqOf);
    }
    sqlite3_free(zErr);
  }
  sqlite3_reset(pStmt);
  sqlite3_free(aVal);
  return rc;
}

/* Appends a shown predecessor of the node being built. */
static int add_epred(Dot *d, int iPred, int bVia){
  int k;
  for(k=d->aEStart[0]; k<d->nEPred; k++){
    if( d->aEPred[k]==iPred ) return SQLITE_OK;
  }
  if( d->nEPred>=d->nEPredAlloc ){
    int nNew = d->nEPredAlloc ? 2*d->nEPredAlloc : 256;
    int *aNew = sqlite3_realloc64(d->aEPred, sizeof(int)*(sqlite3_uint64)nNew);
    u8 *aVia;
    if( aNew==0 ) return SQLITE_NOMEM;
    d->aEPred = aNew;
    aVia = sqlite3_realloc64(d->abEVia, (sqlite3_uint64)nNew);
    if( aVia==0 ) return SQLITE_NOMEM;
    d->abEVia = aVia;
    d->nEPredAlloc = nNew;
  }
  d->aEPred[d->nEPred] = iPred;
  d->abEVia[d->nEPred] = (u8)bVia;
  d->nEPred++;
  return SQLITE_OK;
}

/* The shown predecessors of shown node i: its predecessors in view, or,
** through hidden ones, its nearest shown ancestors in view.  (aEStart[0]
** is borrowed as "start of the node being built" for add_epred.) */
static int shown_preds(Dot *d, int i){
  const BecGraph *g = d->g;
  int j, rc = SQLITE_OK, nStack = 0;
  d->aEStart[0] = d->nEPred;
  for(j=0; rc==SQLITE_OK && j<g->aNode[i].nPred; j++){
    int iPred = BEC_NODE_PREDS(g, i)[j];
    if( iPred<d->iFirst ) continue;
    if( d->abShow[iPred] ){
      rc = add_epred(d, iPred, 0);
    }else if( d->aSeen[iPred]!=i ){
      d->aSeen[iPred] = i;
      d->aStack[nStack++] = iPred;
    }
  }
  while( rc==SQLITE_OK && nStack>0 ){
    int x = d->aStack[--nStack];
    for(j=0; rc==SQLITE_OK && j<g->aNode[x].nPred; j++){
      int y = BEC_NODE_PREDS(g, x)[j];
      if( y<d->iFirst || d->aSeen[y]==i ) continue;
      d->aSeen[y] = i;
      if( d->abShow[y] ) rc = add_epred(d, y, 1);
      else d->aStack[nStack++] = y;
    }
  }
  d->aEStart[i] = d->aEStart[0];
  d->aEStart[i+1] = d->nEPred;
  return rc;
}

/* Ops that may share a box: data ops, valid.  Structure ops (create,
** membership, schema, a member's name, checkpoints and their attestations)
** and ignored ops are what a reader looks for. */
static int collapsible(const BecNode *pNode){
  return pNode->bValid && pNode->kind!=BEC_KIND_SCHEMA
      && pNode->kind!=BEC_KIND_CREATE && pNode->kind!=BEC_KIND_NAME
      && !bec_kind_derives(pNode->kind, BEC_DERIVE_MEMBERSHIP)
      && !bec_kind_derives(pNode->kind, BEC_DERIVE_E2EE)
      && !bec_kind_derives(pNode->kind, BEC_DERIVE_CHECKPOINT);
}

/* The DOT id of box head i. */
static void box_id(const BecGraph *g, int i, char *z){
  short_hex(g->aNode[i].aIdPre, z);
}

/* Emits box head i. */
static void emit_box(Dot *d, BecBuf *out, int i, int *pRc){
  const BecGraph *g = d->g;
  const BecNode *pNode = &g->aNode[i];
  char zHash[SHORT_HEX+1], zAuthor[LABEL_BYTES], zTarget[LABEL_BYTES];
  const char *zFill;
  int k, nShown = 0, nMore = 0;
  if( d->aColour[pNode->iAuthor]==0 ){
    int nUsed = 0;
    for(k=1; k<=g->nAuthor; k++) if( d->aColour[k] ) nUsed++;
    d->aColour[pNode->iAuthor] = nUsed+1;
  }
  zFill = azPalette[(d->aColour[pNode->iAuthor]-1) % N_PALETTE];
  box_id(g, i, zHash);
  member_label(d, pNode->iAuthor, zAuthor);
  if( d->aCount[i]>1 ){
    /* "12 write ops by <author>\n<first> .. <last>" */
    char zLast[SHORT_HEX+1];
    short_hex(g->aNode[d->aTail[i]].aIdPre, zLast);
    bec_buf_appendf(out, pRc, "  \"%s\" [label=\"%d %s%sops by ", zHash,
                    d->aCount[i], d->aKinds[i]>0 ? bec_kind_name(d->aKinds[i]) : "",
                    d->aKinds[i]>0 ? " " : "");
    append_escaped(out, zAuthor, (i64)strlen(zAuthor), pRc);
    bec_buf_appendf(out, pRc, "\\n%s .. %s", zHash, zLast);
  }else{
    /* "<kind> <hash>[\n+ <target> (<role>)]\nby <author>" */
    bec_buf_appendf(out, pRc, "  \"%s\" [label=\"%s %s", zHash,
                    bec_kind_name(pNode->kind), zHash);
    /* The payload rule says what the label shows: a grant of a role to a
    ** target, or a target alone (taken out). */
    if( pNode->iTarget>=1 && pNode->iTarget<=g->nAuthor ){
      member_label(d, pNode->iTarget, zTarget);
      if( bec_kind(pNode->kind)->ePayload==BEC_PAYLOAD_TARGET_ROLE ){
        append_str(out, "\\n+ ", pRc);
        append_escaped(out, zTarget, (i64)strlen(zTarget), pRc);
        bec_buf_appendf(out, pRc, " (%s)", bec_role_name(pNode->role));
      }else if( bec_kind(pNode->kind)->ePayload==BEC_PAYLOAD_TARGET ){
        append_str(out, "\\n- ", pRc);
        append_escaped(out, zTarget, (i64)strlen(zTarget), pRc);
      }
    }
    if( pNode->kind==BEC_KIND_SCHEMA ){
      BecSchema *s = 0;
      if( dot_schema(d, i, &s)==SQLITE_NOMEM ) *pRc = SQLITE_NOMEM;
      if( s ){
        append_str(out, "\\ntable ", pRc);
        append_escaped(out, s->zName, (i64)strlen(s->zName), pRc);
      }
    }
    append_str(out, "\\nby ", pRc);
    append_escaped(out, zAuthor, (i64)strlen(zAuthor), pRc);
  }
  /* "\nrows: todos 3, kv 1": the rows the box's write ops wrote, per
  ** table in order of first write. */
  for(k=d->aRowsFirst[i]; k>=0; k=d->aRows[k].iNext){
    BecSchema *s = 0;
    int j;
    if( nShown>=DOT_MAX_TABLES_SHOWN ){ nMore++; continue; }
    for(j=0; j<d->nSchema; j++){
      if( d->aSchema[j].iSchema==d->aRows[k].iSchema ) s = d->aSchema[j].s;
    }
    append_str(out, nShown ? ", " : "\\nrows: ", pRc);
    nShown++;
    if( s ) append_escaped(out, s->zName, (i64)strlen(s->zName), pRc);
    else append_str(out, "?", pRc);
    bec_buf_appendf(out, pRc, " %lld", (long long)d->aRows[k].nRows);
  }
  if( nMore ) bec_buf_appendf(out, pRc, ", +%d tables", nMore);
  append_str(out, "\"", pRc);
  if( pNode->bValid ){
    bec_buf_appendf(out, pRc, ", fillcolor=\"%s\"", zFill);
  }else{
    append_str(out, ", fillcolor=\"#eeeeee\", fontcolor=\"#999999\", "
                    "style=\"rounded,filled,dashed\", color=\"#999999\", "
                    "tooltip=\"ignored by the membership rules\"", pRc);
  }
  if( bec_kind_derives(pNode->kind, BEC_DERIVE_MEMBERSHIP) ){
    append_str(out, ", penwidth=2", pRc);
  }
  if( d->aCount[i]>1 ) append_str(out, ", peripheries=2", pRc);
  append_str(out, "];\n", pRc);
}

static void emit_legend(Dot *d, BecBuf *out, int *pRc){
  const BecGraph *g = d->g;
  int i;
  append_str(out, "  subgraph cluster_legend {\n    label=\"legend\"; "
                  "fontsize=10; style=dashed;\n", pRc);
  for(i=1; *pRc==SQLITE_OK && i<=g->nAuthor; i++){
    char zAuthor[LABEL_BYTES], zKey[SHORT_HEX+1];
    if( d->aColour[i]==0 ) continue;
    short_hex(g->aAuthorKey[i], zKey);
    member_label(d, i, zAuthor);
    bec_buf_appendf(out, pRc, "    \"author %s\" [label=\"author ", zKey);
    append_escaped(out, zAuthor, (i64)strlen(zAuthor), pRc);
    bec_buf_appendf(out, pRc, "\", fillcolor=\"%s\"];\n",
                    azPalette[(d->aColour[i]-1) % N_PALETTE]);
  }
  append_str(out,
    "    \"legend run\" [label=\"N ops: a run of one\\nauthor's data ops\", "
    "fillcolor=white, peripheries=2];\n"
    "    \"legend membership\" [label=\"membership op\", fillcolor=white, "
    "penwidth=2];\n"
    "    \"legend ignored\" [label=\"ignored op\", fillcolor=\"#eeeeee\", "
    "fontcolor=\"#999999\", style=\"rounded,filled,dashed\", color=\"#999999\"];\n"
    "    \"legend rows\" [label=\"rows: todos 3\\nrows written, per table\", "
    "fillcolor=white];\n", pRc);
  if( d->opt.zTable ){
    append_str(out, "    \"legend via\" [label=\"dashed arrow: through\\n"
                    "ops not drawn\", fillcolor=white];\n", pRc);
  }
  append_str(out, "  }\n", pRc);
}

/* The DOT text of the DAG as the options argument says (pOpt 0: the
** defaults).  *pzOut from sqlite3_malloc64; the caller frees it. */
int bec_dot_render(BecCtx *p, sqlite3_value *pOpt, char **pzOut, char **pzErr){
  Dot d;
  BecBuf out;
  int rc, i, j, n;

  memset(&d, 0, sizeof(d));
  memset(&out, 0, sizeof(out));
  *pzOut = 0;
  d.p = p;
  rc = parse_options(p, pOpt, &d.opt, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &d.g, pzErr);
  if( rc ){
    dot_opt_free(&d.opt);
    return rc;
  }
  n = d.g->nNode;
  d.iFirst = n - d.opt.nLast + 1;
  if( d.iFirst<1 ) d.iFirst = 1;
  d.abShow = zalloc(n+1, 1);
  d.aEStart = zalloc(n+2, sizeof(int));
  d.aSucc = zalloc(n+1, sizeof(int));
  d.aHead = zalloc(n+1, sizeof(int));
  d.aTail = zalloc(n+1, sizeof(int));
  d.aCount = zalloc(n+1, sizeof(int));
  d.aKinds = zalloc(n+1, sizeof(int));
  d.aRowsFirst = zalloc(n+1, sizeof(int));
  d.aColour = zalloc(d.g->nAuthor+1, sizeof(int));
  d.aStack = zalloc(n+1, sizeof(int));
  d.aSeen = zalloc(n+1, sizeof(int));
  if( !d.abShow || !d.aEStart || !d.aSucc || !d.aHead || !d.aTail || !d.aCount
   || !d.aKinds || !d.aRowsFirst || !d.aColour || !d.aStack || !d.aSeen ){
    rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ) rc = load_names(&d);

  /* 1. Which ops are drawn. */
  for(i=d.iFirst; rc==SQLITE_OK && i<=n; i++){
    const BecNode *pNode = &d.g->aNode[i];
    d.aRowsFirst[i] = -1;
    if( pNode->iAuthor<1 || pNode->iAuthor>d.g->nAuthor ) continue;
    if( d.opt.zTable==0 ){
      d.abShow[i] = 1;
    }else if( pNode->kind==BEC_KIND_WRITE ){
      int bMatch = 0;
      rc = scan_write(&d, i, 0, &bMatch);
      d.abShow[i] = (u8)bMatch;
      d.nMatch += bMatch;
    }
  }

  /* 2. The arrows between drawn ops, and the successor counts. */
  for(i=d.iFirst; rc==SQLITE_OK && i<=n; i++){
    if( !d.abShow[i] ){
      d.aEStart[i+1] = d.aEStart[i] = d.nEPred;
      continue;
    }
    rc = shown_preds(&d, i);
    for(j=d.aEStart[i]; rc==SQLITE_OK && j<d.aEStart[i+1]; j++){
      d.aSucc[d.aEPred[j]]++;
    }
  }

  /* 3. The boxes: node i joins the box of its only drawn predecessor when
  ** it is that predecessor's only drawn successor and both are one
  ** author's collapsible ops. */
  for(i=d.iFirst; rc==SQLITE_OK && i<=n; i++){
    const BecNode *pNode = &d.g->aNode[i];
    int h = i;
    if( !d.abShow[i] ) continue;
    if( d.opt.bCollapse && collapsible(pNode) && d.aEStart[i+1]-d.aEStart[i]==1 ){
      int u = d.aEPred[d.aEStart[i]];
      const BecNode *pU = &d.g->aNode[u];
      if( d.aSucc[u]==1 && collapsible(pU) && pU->iAuthor==pNode->iAuthor ){
        h = d.aHead[u];
      }
    }
    d.aHead[i] = h;
    d.aTail[h] = i;
    d.aCount[h]++;
    if( h==i ) d.aKinds[h] = pNode->kind;
    else if( d.aKinds[h]!=pNode->kind ) d.aKinds[h] = -1;
    if( pNode->kind==BEC_KIND_WRITE ) rc = scan_write(&d, i, h, 0);
  }

  /* 4. The text. */
  if( rc==SQLITE_OK ){
    append_str(&out, "digraph bec {\n"
      "  rankdir=BT;\n"
      "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
      "  edge [color=\"#555555\", arrowsize=0.6];\n"
      "  ranksep=0.25; nodesep=0.2;\n", &rc);
    append_str(&out, "  labelloc=t; fontname=\"Helvetica\"; fontsize=11;\n  label=\"", &rc);
    if( d.iFirst>1 ){
      bec_buf_appendf(&out, &rc, "newest %d of %d ops", n - d.iFirst + 1, n);
    }else{
      bec_buf_appendf(&out, &rc, "%d ops", n);
    }
    if( d.opt.zTable ){
      int k;
      append_str(&out, "; the ", &rc);
      bec_buf_appendf(&out, &rc, "%d write%s to ", d.nMatch, d.nMatch==1 ? "" : "s");
      append_escaped(&out, d.opt.zTable, (i64)strlen(d.opt.zTable), &rc);
      append_str(&out, " row (", &rc);
      for(k=0; k<d.opt.nKey; k++){
        const BecValue *v = &d.opt.aKey[k];
        if( k ) append_str(&out, ", ", &rc);
        if( v->eType==BEC_VAL_INT ) bec_buf_appendf(&out, &rc, "%lld", (long long)v->i);
        else if( v->eType==BEC_VAL_REAL ) bec_buf_appendf(&out, &rc, "%!.15g", v->r);
        else append_escaped(&out, (const char*)v->a, v->n, &rc);
      }
      append_str(&out, ")", &rc);
    }
    append_str(&out, "\";\n", &rc);
  }
  for(i=d.iFirst; rc==SQLITE_OK && i<=n; i++){
    char zFrom[SHORT_HEX+1], zTo[SHORT_HEX+1];
    if( !d.abShow[i] ) continue;
    if( d.aHead[i]==i ) emit_box(&d, &out, i, &rc);
    box_id(d.g, d.aHead[i], zFrom);
    for(j=d.aEStart[i]; j<d.aEStart[i+1]; j++){
      int iPred = d.aEPred[j];
      if( d.aHead[iPred]==d.aHead[i] ) continue;    /* inside one box */
      box_id(d.g, d.aHead[iPred], zTo);
      bec_buf_appendf(&out, &rc, "  \"%s\" -> \"%s\"%s;\n", zFrom, zTo,
                      d.abEVia[j] ? " [style=dashed]" : "");
    }
  }
  if( rc==SQLITE_OK && d.opt.bLegend ) emit_legend(&d, &out, &rc);
  append_str(&out, "}\n", &rc);
  bec_buf_append_u8(&out, 0, &rc);
  dot_free(&d);
  if( rc==SQLITE_OK ){
    *pzOut = (char*)out.a;
  }else{
    bec_buf_free(&out);
  }
  return rc;
}
