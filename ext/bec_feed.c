/*
** bec_feed.c - what changed, for apps: the change feed.
**
**   SELECT * FROM bec_changes(:since);     -- every change after a cursor
**   SELECT bec_changes_trim(:cursor);      -- forget the feed up to a cursor
**
** bec_changes is an eponymous table with a hidden column `since`: it reads
** bec_store_change (written by the merge, bec_crdt.c, as it applies each
** write op: one row per op, one byte per change saying what it did to its
** row) from the cursor on, by its primary key, and decodes the write op of
** each row with the table codec to name the table, key and columns.  The
** cost of a poll is the number of changes after the cursor, never the
** size of the tables.  Row kinds (docs/reference.md):
**
**   insert, update, delete   the change made, removed or changed a row
**   conflict                 the row now holds concurrent values
**   invalidated              re-read it: the validity of an op that wrote
**                            it changed (a removal), or (key NULL) the
**                            whole table was recomputed or shown, or
**                            (table NULL) the feed was trimmed past the
**                            reader's cursor: reload everything
*/
#include "becInt.h"

#include <stddef.h>

/* The columns of bec_changes. */
#define FEED_CURSOR  0
#define FEED_TABLE   1
#define FEED_KEY     2
#define FEED_COLUMNS 3
#define FEED_KIND    4
#define FEED_OP      5
#define FEED_AUTHOR  6
#define FEED_SINCE   7

static const char *const azFeedKind[] = {
  0, "insert", "update", "delete", "conflict", "invalidated"
};

typedef struct FeedTab FeedTab;
typedef struct FeedCursor FeedCursor;
struct FeedTab {
  sqlite3_vtab base;
  BecCtx *pCtx;
};

/* One row of bec_store_change is shown as the rows of its changes: the
** cursor walks the op's changes with a write reader (pointing into the
** statement's row, valid until the next step). */
struct FeedCursor {
  sqlite3_vtab_cursor base;
  BecCtx *pCtx;
  u8 *aPlain;                /* e2ee: the open op's plaintext, owned */
  sqlite3_stmt *pStmt;       /* owned: the feed rows after `since` */
  i64 iSince;
  int bEof;
  i64 iRowid;
  int eRow;                  /* 1: an op's change, 2: a whole table, 3: trim
                             ** marker */
  BecWriteReader wr;         /* eRow 1: the op's changes */
  int bOpen;                 /* wr is positioned on an op */
  const u8 *aKind;           /* the kinds (0: every change invalidated) */
  i64 nKind;
  i64 iChange;               /* the change shown (index) */
  int eKind;                 /* its BEC_FEED_* */
  int iTable, bDelete;
  BecSchema **aSchema;       /* per table of the op, loaded on use */
  int nSchema;
  BecValue aVal[BEC_TABLE_MAX_COL];
  u8 abSet[BEC_TABLE_MAX_COL];
};

/* Both tables of this file: an innocuous eponymous table declared as
** zDecl, holding the context. */
static int tab_connect(sqlite3 *db, void *pAux, const char *zDecl,
                       sqlite3_vtab **ppVtab){
  FeedTab *p;
  int rc = sqlite3_declare_vtab(db, zDecl);
  *ppVtab = 0;
  if( rc ) return rc;
  p = sqlite3_malloc64(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->pCtx = (BecCtx*)pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &p->base;
  return SQLITE_OK;
}

/* A zeroed cursor struct of nByte bytes whose first member is the base
** cursor, with the table's context stored at byte offset iCtx. */
static int cursor_open(sqlite3_vtab *pVtab, size_t nByte, size_t iCtx,
                       sqlite3_vtab_cursor **ppCur){
  u8 *p = sqlite3_malloc64(nByte);
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, nByte);
  memcpy(&p[iCtx], &((FeedTab*)pVtab)->pCtx, sizeof(BecCtx*));
  *ppCur = (sqlite3_vtab_cursor*)p;
  return SQLITE_OK;
}

/* Frees a list of schemas loaded on use. */
static void schemas_free(BecSchema ***paSchema, int *pnSchema){
  int i;
  for(i=0; i<*pnSchema; i++) bec_schema_free((*paSchema)[i]);
  sqlite3_free(*paSchema);
  *paSchema = 0;
  *pnSchema = 0;
}

static int feedConnect(sqlite3 *db, void *pAux, int argc,
                       const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr){
  return tab_connect(db, pAux, "CREATE TABLE x(cursor INTEGER, "
      "\"table\" TEXT, key, columns TEXT, kind TEXT, op TEXT, author TEXT, "
      "since HIDDEN)", ppVtab);
}

static int feedDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/* idxNum 1: since = argv[0]; its rows come by the primary key. */
static int feedBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  int i;
  pInfo->idxNum = 0;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    if( pC->iColumn==FEED_SINCE && pC->op==SQLITE_INDEX_CONSTRAINT_EQ ){
      if( !pC->usable ) return SQLITE_CONSTRAINT;
      pInfo->aConstraintUsage[i].argvIndex = 1;
      pInfo->aConstraintUsage[i].omit = 1;
      pInfo->idxNum = 1;
    }
  }
  pInfo->estimatedCost = pInfo->idxNum ? 100.0 : 100000.0;
  if( pInfo->nOrderBy==1 && pInfo->aOrderBy[0].iColumn==FEED_CURSOR
   && !pInfo->aOrderBy[0].desc ){
    pInfo->orderByConsumed = 1;
  }
  return SQLITE_OK;
}

static int feedOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  return cursor_open(pVtab, sizeof(FeedCursor), offsetof(FeedCursor, pCtx), ppCur);
}

static void feed_op_close(FeedCursor *p){
  schemas_free(&p->aSchema, &p->nSchema);
  p->bOpen = 0;
  sqlite3_free(p->aPlain);
  p->aPlain = 0;
}

static int feedClose(sqlite3_vtab_cursor *pCur){
  FeedCursor *p = (FeedCursor*)pCur;
  feed_op_close(p);
  sqlite3_finalize(p->pStmt);
  sqlite3_free(p);
  return SQLITE_OK;
}

static void feed_error(sqlite3_vtab_cursor *pCur, int rc, char *zErr){
  FeedCursor *p = (FeedCursor*)pCur;
  sqlite3_free(pCur->pVtab->zErrMsg);
  pCur->pVtab->zErrMsg = sqlite3_mprintf("bec_changes: %s",
      zErr ? zErr : bec_rc_text(p->pCtx->db, rc));
  sqlite3_free(zErr);
}

/* The schema of table iTable of the op being walked. */
static int feed_schema(FeedCursor *p, int iTable, BecSchema **pp, char **pzErr){
  int rc = SQLITE_OK;
  *pp = 0;
  if( iTable<0 || iTable>=p->nSchema ) return SQLITE_CORRUPT;
  if( p->aSchema[iTable]==0 ){
    int iSchema = 0;
    rc = bec_dag_seq_of(p->pCtx, &p->wr.aTableHash[iTable*BEC_HASH_BYTES],
                        &iSchema);
    if( rc==SQLITE_OK ){
      rc = bec_crdt_load_schema(p->pCtx, iSchema, &p->aSchema[iTable], 0, pzErr);
    }
  }
  *pp = p->aSchema[iTable];
  return rc;
}

/* Moves to the next change of the open op that shows; *pbDone if none. */
static int feed_next_change(FeedCursor *p, int *pbDone, char **pzErr){
  int rc = SQLITE_OK;
  *pbDone = 1;
  while( rc==SQLITE_OK && p->wr.iChange<p->wr.nChange ){
    BecSchema *s = 0;
    i64 i = p->wr.iChange;
    rc = bec_write_head(&p->wr, &p->iTable, &p->bDelete);
    if( rc==SQLITE_OK ) rc = feed_schema(p, p->iTable, &s, pzErr);
    if( rc==SQLITE_OK ){
      rc = bec_write_body(&p->wr, s, p->bDelete, p->aVal, p->abSet);
    }
    if( rc ) break;
    p->eKind = p->aKind==0 ? BEC_FEED_INVALIDATED
             : i<p->nKind ? p->aKind[i] : BEC_FEED_NONE;
    if( p->eKind>BEC_FEED_NONE && p->eKind<=BEC_FEED_INVALIDATED ){
      p->iChange = i;
      *pbDone = 0;
      break;
    }
  }
  return rc;
}

/* Opens the current feed row: an op's changes, or a one-row kind. */
static int feed_row(FeedCursor *p, int *pbShown, char **pzErr){
  sqlite3_stmt *pS = p->pStmt;
  int rc = SQLITE_OK, bDone = 1;
  feed_op_close(p);
  *pbShown = 0;
  if( sqlite3_column_type(pS, 1)!=SQLITE_NULL ){
    BecOp op;
    p->eRow = 1;
    if( sqlite3_column_type(pS, 4)==SQLITE_NULL ) return SQLITE_OK;  /* gone */
    if( bec_dag_body_dropped(sqlite3_column_blob(pS, 4),
                             sqlite3_column_bytes(pS, 4)) ){
      return SQLITE_OK;                 /* pruned (bec_prune): gone too */
    }
    const char *zLocked = 0;
    rc = bec_op_decode(sqlite3_column_blob(pS, 4), sqlite3_column_bytes(pS, 4),
                       &op, pzErr);
    if( rc==SQLITE_OK && op.kind!=BEC_KIND_WRITE ) rc = SQLITE_CORRUPT;
    /* e2ee: an applied op opens (the feed lists applied changes only). */
    if( rc==SQLITE_OK ) rc = bec_e2ee_open(p->pCtx, &op, &p->aPlain, &zLocked, pzErr);
    if( rc==SQLITE_OK && zLocked ) return SQLITE_OK;
    if( rc==SQLITE_OK ) rc = bec_write_open(&p->wr, op.aPayload, op.nPayload);
    if( rc==SQLITE_OK ){
      p->aSchema = sqlite3_malloc64(sizeof(BecSchema*)*(sqlite3_uint64)(p->wr.nTable+1));
      if( p->aSchema==0 ) return SQLITE_NOMEM;
      memset(p->aSchema, 0, sizeof(BecSchema*)*(size_t)(p->wr.nTable+1));
      p->nSchema = p->wr.nTable;
      p->bOpen = 1;
      p->aKind = sqlite3_column_blob(pS, 3);
      p->nKind = sqlite3_column_bytes(pS, 3);
      rc = feed_next_change(p, &bDone, pzErr);
      *pbShown = !bDone;
    }
  }else if( sqlite3_column_type(pS, 2)!=SQLITE_NULL ){
    BecSchema *s = 0;
    p->eRow = 2;
    p->eKind = BEC_FEED_INVALIDATED;
    rc = bec_crdt_load_schema(p->pCtx, sqlite3_column_int(pS, 2), &s, 0, pzErr);
    if( rc==SQLITE_OK ){
      p->aSchema = sqlite3_malloc64(sizeof(BecSchema*));
      if( p->aSchema==0 ){
        bec_schema_free(s);
        return SQLITE_NOMEM;
      }
      p->aSchema[0] = s;
      p->nSchema = 1;
      p->iTable = 0;
      *pbShown = 1;
    }
  }else{
    p->eRow = 3;
    p->eKind = BEC_FEED_INVALIDATED;
    *pbShown = 1;
  }
  return rc;
}

/* Steps to the next shown row: the next change of the open op, else the
** next feed row with one. */
static int feed_advance(FeedCursor *p, int bFirst, char **pzErr){
  int rc = SQLITE_OK;
  if( !bFirst && p->bOpen ){
    int bDone = 1;
    rc = feed_next_change(p, &bDone, pzErr);
    if( rc || !bDone ) return rc;
  }
  for(;;){
    int bShown = 0;
    if( sqlite3_step(p->pStmt)!=SQLITE_ROW ){
      feed_op_close(p);
      p->bEof = 1;
      return sqlite3_reset(p->pStmt);
    }
    rc = feed_row(p, &bShown, pzErr);
    if( rc || bShown ) return rc;
  }
}

static int feedNext(sqlite3_vtab_cursor *pCur){
  FeedCursor *p = (FeedCursor*)pCur;
  char *zErr = 0;
  int rc = feed_advance(p, 0, &zErr);
  p->iRowid++;
  if( rc ) feed_error(pCur, rc, zErr);
  return rc;
}

static int feedFilter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr,
                      int argc, sqlite3_value **argv){
  FeedCursor *p = (FeedCursor*)pCur;
  char *zErr = 0;
  int rc;
  feed_op_close(p);
  sqlite3_finalize(p->pStmt);
  p->pStmt = 0;
  p->bEof = 0;
  p->iRowid = 0;
  p->iSince = 0;
  if( idxNum==1 && argc==1 ){
    /* A cursor is an integer; anything else matches nothing. */
    if( sqlite3_value_numeric_type(argv[0])!=SQLITE_INTEGER ){
      p->bEof = 1;
      return SQLITE_OK;
    }
    p->iSince = sqlite3_value_int64(argv[0]);
  }
  rc = bec_dag_ensure_schema(p->pCtx, &zErr);
  if( rc==SQLITE_OK ){
    /* (a separate statement: a poll may run inside another's loop) */
    rc = sqlite3_prepare_v2(p->pCtx->db,
        "SELECT c.cursor, c.seq, c.tbl, c.kinds, o.body, lower(hex(o.hash)),"
        " lower(hex(a.pubkey))"
        " FROM bec_store_change c LEFT JOIN bec_store_op o ON o.seq=c.seq"
        " LEFT JOIN bec_store_author a ON a.id=o.author"
        " WHERE c.cursor>?1 ORDER BY c.cursor", -1, &p->pStmt, 0);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(p->pStmt, 1, p->iSince);
    rc = feed_advance(p, 1, &zErr);
  }
  if( rc ) feed_error(pCur, rc, zErr);
  return rc;
}

static int feedEof(sqlite3_vtab_cursor *pCur){
  return ((FeedCursor*)pCur)->bEof;
}

/* A column name as a JSON string. */
static void json_name(BecBuf *b, const char *zName, int *pRc){
  BecValue v;
  memset(&v, 0, sizeof(v));
  v.eType = BEC_VAL_TEXT;
  v.a = (const u8*)zName;
  v.n = (int)strlen(zName);
  bec_table_json_value(b, &v, pRc);
}

/* The names of the non-key columns a change wrote, as a JSON array. */
static void feed_columns(sqlite3_context *ctx, const BecSchema *s,
                         const u8 *abSet){
  BecBuf b;
  int rc = SQLITE_OK, i, n = 0;
  memset(&b, 0, sizeof(b));
  bec_buf_append_u8(&b, '[', &rc);
  for(i=0; i<s->nCol; i++){
    if( s->aCol[i].iPk || abSet[i]!=2 ) continue;
    if( n++ ) bec_buf_append_u8(&b, ',', &rc);
    json_name(&b, s->aCol[i].zName, &rc);
  }
  bec_buf_append_u8(&b, ']', &rc);
  if( rc==SQLITE_OK ) sqlite3_result_text(ctx, (char*)b.a, (int)b.n, SQLITE_TRANSIENT);
  else sqlite3_result_error_nomem(ctx);
  bec_buf_free(&b);
}

static int feedColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int i){
  FeedCursor *p = (FeedCursor*)pCur;
  const BecSchema *s = p->eRow<3 && p->nSchema>p->iTable
                     ? p->aSchema[p->iTable] : 0;
  switch( i ){
    case FEED_CURSOR:
      sqlite3_result_int64(ctx, sqlite3_column_int64(p->pStmt, 0));
      break;
    case FEED_TABLE:
      if( s ) sqlite3_result_text(ctx, s->zName, -1, SQLITE_TRANSIENT);
      break;
    case FEED_KEY:
      if( s && p->eRow==1 ){
        BecValue aK[BEC_TABLE_MAX_COL];
        int k;
        for(k=0; k<s->nPk; k++) aK[k] = p->aVal[s->aPk[k]];
        bec_table_key_result(ctx, aK, s->nPk);
      }
      break;
    case FEED_COLUMNS:
      if( s && p->eRow==1 && !p->bDelete && p->eKind!=BEC_FEED_INVALIDATED ){
        feed_columns(ctx, s, p->abSet);
      }
      break;
    case FEED_KIND:
      sqlite3_result_text(ctx, azFeedKind[p->eKind], -1, SQLITE_STATIC);
      break;
    case FEED_OP:
      if( p->eRow==1 ) sqlite3_result_value(ctx, sqlite3_column_value(p->pStmt, 5));
      break;
    case FEED_AUTHOR:
      if( p->eRow==1 ) sqlite3_result_value(ctx, sqlite3_column_value(p->pStmt, 6));
      break;
    default:
      sqlite3_result_int64(ctx, p->iSince);
      break;
  }
  return SQLITE_OK;
}

static int feedRowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid){
  *pRowid = ((FeedCursor*)pCur)->iRowid;
  return SQLITE_OK;
}

static sqlite3_module feedModule = {
  0,                /* iVersion */
  0,                /* xCreate: eponymous only */
  feedConnect,
  feedBestIndex,    /* since = ? (the table-valued argument) */
  feedDisconnect,
  0,                /* xDestroy */
  feedOpen,
  feedClose,
  feedFilter,
  feedNext,
  feedEof,
  feedColumn,
  feedRowid,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0     /* read-only, no transactions */
};


/**************************************************************************
** bec_history(table, key): every write to one row, in causal order.
**
** Reads the stored write ops (never the feed): each write op after the
** table's create op, in (depth, hash) order - a topological order of the
** DAG, the same on every replica - decoded with the table codec; each of
** its changes to the table's current incarnation is a row.  The key is
** matched by SQLite on the hidden column `key`, which shows the key as
** bec_changes and bec_conflicts do (one value as itself, several as a JSON
** array), so a key read from either is given back as it was read.  The
** cost is a read of every write op after the table's creation: for an
** app's "history of this row" view, not for polling (bec_changes).
*/
#define HIST_OP     0
#define HIST_AUTHOR 1
#define HIST_NAME   2
#define HIST_DEPTH  3
#define HIST_VALID  4
#define HIST_KIND   5
#define HIST_VALUES 6
#define HIST_TABLE  7
#define HIST_KEY    8

typedef struct HistCursor HistCursor;
struct HistCursor {
  sqlite3_vtab_cursor base;
  BecCtx *pCtx;
  u8 *aPlain;                /* e2ee: the open op's plaintext, owned */
  sqlite3_stmt *pStmt;       /* owned: write ops after the create op */
  BecSchema *pSchema;        /* the table's current incarnation, owned */
  u8 aHash[BEC_HASH_BYTES];  /* its create op's hash */
  int bEof;
  i64 iRowid;
  BecWriteReader wr;         /* the op's changes (into pStmt's row) */
  int bOpen;
  int iTarget;               /* the table's index in the op, -1 none */
  BecSchema **aOther;        /* the op's other tables, loaded to skip their
                             ** changes (owned, per index; 0 if unloaded) */
  int nOther;
  int bDelete;
  BecValue aVal[BEC_TABLE_MAX_COL];
  u8 abSet[BEC_TABLE_MAX_COL];
};

static int histConnect(sqlite3 *db, void *pAux, int argc,
                       const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr){
  return tab_connect(db, pAux, "CREATE TABLE x(op TEXT, author TEXT, "
      "name TEXT, depth INTEGER, valid INTEGER, kind TEXT, \"values\" TEXT, "
      "\"table\" HIDDEN, key HIDDEN)", ppVtab);
}

/* The table argument is required (argv[0]); the key is compared by SQLite
** (not omitted). */
static int histBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  int i, iTable = -1;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    if( pC->iColumn==HIST_TABLE && pC->op==SQLITE_INDEX_CONSTRAINT_EQ ){
      if( !pC->usable ) return SQLITE_CONSTRAINT;
      iTable = i;
    }
  }
  if( iTable<0 ){
    sqlite3_free(pVtab->zErrMsg);
    pVtab->zErrMsg = sqlite3_mprintf("bec_history: give the table and key: "
                                     "bec_history(table, key)");
    return SQLITE_ERROR;
  }
  pInfo->aConstraintUsage[iTable].argvIndex = 1;
  pInfo->aConstraintUsage[iTable].omit = 1;
  pInfo->idxNum = 1;
  pInfo->estimatedCost = 1000.0;
  return SQLITE_OK;
}

static int histOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  return cursor_open(pVtab, sizeof(HistCursor), offsetof(HistCursor, pCtx), ppCur);
}

static void hist_op_close(HistCursor *p){
  schemas_free(&p->aOther, &p->nOther);
  p->bOpen = 0;
  sqlite3_free(p->aPlain);
  p->aPlain = 0;
}

static void hist_reset(HistCursor *p){
  hist_op_close(p);
  sqlite3_finalize(p->pStmt);
  p->pStmt = 0;
  bec_schema_free(p->pSchema);
  p->pSchema = 0;
  p->bOpen = 0;
}

static int histClose(sqlite3_vtab_cursor *pCur){
  hist_reset((HistCursor*)pCur);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

/* Steps to the next change to the table: within the open op, else in the
** next op that writes it. */
static int hist_advance(HistCursor *p, char **pzErr){
  int rc = SQLITE_OK;
  for(;;){
    while( p->bOpen && p->wr.iChange<p->wr.nChange ){
      int iTable = 0;
      rc = bec_write_head(&p->wr, &iTable, &p->bDelete);
      if( rc==SQLITE_OK && (iTable<0 || iTable>=p->nOther) ) rc = SQLITE_CORRUPT;
      if( rc==SQLITE_OK && iTable==p->iTarget ){
        rc = bec_write_body(&p->wr, p->pSchema, p->bDelete, p->aVal, p->abSet);
        if( rc==SQLITE_OK ){
          int k;
          for(k=0; k<p->pSchema->nPk; k++) bec_key_normalize(&p->aVal[p->pSchema->aPk[k]]);
          return SQLITE_OK;
        }
      }else if( rc==SQLITE_OK ){
        /* Another table's change: read past it with that table's schema. */
        if( p->aOther[iTable]==0 ){
          int iSchema = 0;
          rc = bec_dag_seq_of(p->pCtx, &p->wr.aTableHash[iTable*BEC_HASH_BYTES],
                              &iSchema);
          if( rc==SQLITE_OK ){
            rc = bec_crdt_load_schema(p->pCtx, iSchema, &p->aOther[iTable], 0,
                                      pzErr);
          }
        }
        if( rc==SQLITE_OK ){
          rc = bec_write_body(&p->wr, p->aOther[iTable], p->bDelete, p->aVal,
                              p->abSet);
        }
      }
      if( rc ) return rc;
    }
    hist_op_close(p);
    if( sqlite3_step(p->pStmt)!=SQLITE_ROW ){
      p->bEof = 1;
      return sqlite3_reset(p->pStmt);
    }else{
      BecOp op;
      const char *zLocked = 0;
      int i;
      /* A pruned op (bec_prune) has no changes to show any more. */
      if( bec_dag_body_dropped(sqlite3_column_blob(p->pStmt, 0),
                               sqlite3_column_bytes(p->pStmt, 0)) ) continue;
      rc = bec_op_decode(sqlite3_column_blob(p->pStmt, 0),
                         sqlite3_column_bytes(p->pStmt, 0), &op, pzErr);
      /* e2ee: a locked op is not shown (this replica cannot read it). */
      if( rc==SQLITE_OK ) rc = bec_e2ee_open(p->pCtx, &op, &p->aPlain, &zLocked, pzErr);
      if( rc==SQLITE_OK && zLocked ) continue;
      if( rc==SQLITE_OK ) rc = bec_write_open(&p->wr, op.aPayload, op.nPayload);
      if( rc ) return rc;
      p->aOther = sqlite3_malloc64(sizeof(BecSchema*)*(sqlite3_uint64)(p->wr.nTable+1));
      if( p->aOther==0 ) return SQLITE_NOMEM;
      memset(p->aOther, 0, sizeof(BecSchema*)*(size_t)(p->wr.nTable+1));
      p->nOther = p->wr.nTable;
      p->iTarget = -1;
      for(i=0; i<p->wr.nTable; i++){
        if( memcmp(&p->wr.aTableHash[i*BEC_HASH_BYTES], p->aHash, BEC_HASH_BYTES)==0 ){
          p->iTarget = i;
        }
      }
      p->bOpen = p->iTarget>=0;
    }
  }
}

static int histNext(sqlite3_vtab_cursor *pCur){
  HistCursor *p = (HistCursor*)pCur;
  char *zErr = 0;
  int rc = hist_advance(p, &zErr);
  p->iRowid++;
  if( rc ){
    sqlite3_free(pCur->pVtab->zErrMsg);
    pCur->pVtab->zErrMsg = sqlite3_mprintf("bec_history: %s",
        zErr ? zErr : bec_rc_text(p->pCtx->db, rc));
    sqlite3_free(zErr);
  }
  return rc;
}

static int histFilter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr,
                      int argc, sqlite3_value **argv){
  HistCursor *p = (HistCursor*)pCur;
  char *zErr = 0;
  int rc, iSchema = 0;
  hist_reset(p);
  p->bEof = 1;
  p->iRowid = 0;
  if( argc<1 || sqlite3_value_type(argv[0])!=SQLITE_TEXT ) return SQLITE_OK;
  rc = bec_dag_ensure_schema(p->pCtx, &zErr);
  if( rc==SQLITE_OK ){
    rc = bec_crdt_winner(p->pCtx, (const char*)sqlite3_value_text(argv[0]),
                         &iSchema);
  }
  if( rc==SQLITE_OK && iSchema ){
    rc = bec_crdt_load_schema(p->pCtx, iSchema, &p->pSchema, p->aHash, &zErr);
    if( rc==SQLITE_OK && p->pSchema->action!=BEC_SCHEMA_CREATE ) iSchema = 0;
  }
  if( rc==SQLITE_OK && iSchema ){
    rc = sqlite3_prepare_v2(p->pCtx->db,
        "SELECT o.body, lower(hex(o.hash)), lower(hex(a.pubkey)), o.depth,"
        " o.valid AND i.seq IS NULL, " BEC_NAME_OF_AUTHOR("o.author")
        " FROM bec_store_op o JOIN bec_store_author a ON a.id=o.author"
        " LEFT JOIN bec_store_ignored i ON i.seq=o.seq"
        " WHERE o.kind=?1 AND o.seq>?2 ORDER BY o.depth, o.hash", -1,
        &p->pStmt, 0);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(p->pStmt, 1, BEC_KIND_WRITE);
      sqlite3_bind_int(p->pStmt, 2, iSchema);
      p->bEof = 0;
      rc = hist_advance(p, &zErr);
    }
  }
  if( rc ){
    sqlite3_free(pCur->pVtab->zErrMsg);
    pCur->pVtab->zErrMsg = sqlite3_mprintf("bec_history: %s",
        zErr ? zErr : bec_rc_text(p->pCtx->db, rc));
    sqlite3_free(zErr);
  }
  return rc;
}

static int histEof(sqlite3_vtab_cursor *pCur){
  return ((HistCursor*)pCur)->bEof;
}

/* The values an upsert set, as a JSON object by column name. */
static void hist_values(sqlite3_context *ctx, HistCursor *p){
  const BecSchema *s = p->pSchema;
  BecBuf b;
  int rc = SQLITE_OK, i, n = 0;
  memset(&b, 0, sizeof(b));
  bec_buf_append_u8(&b, '{', &rc);
  for(i=0; i<s->nCol; i++){
    if( s->aCol[i].iPk || p->abSet[i]!=2 ) continue;
    if( n++ ) bec_buf_append_u8(&b, ',', &rc);
    json_name(&b, s->aCol[i].zName, &rc);
    bec_buf_append_u8(&b, ':', &rc);
    bec_table_json_value(&b, &p->aVal[i], &rc);
  }
  bec_buf_append_u8(&b, '}', &rc);
  if( rc==SQLITE_OK ) sqlite3_result_text(ctx, (char*)b.a, (int)b.n, SQLITE_TRANSIENT);
  else sqlite3_result_error_nomem(ctx);
  bec_buf_free(&b);
}

static int histColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int i){
  HistCursor *p = (HistCursor*)pCur;
  const BecSchema *s = p->pSchema;
  switch( i ){
    case HIST_OP:     sqlite3_result_value(ctx, sqlite3_column_value(p->pStmt, 1)); break;
    case HIST_AUTHOR: sqlite3_result_value(ctx, sqlite3_column_value(p->pStmt, 2)); break;
    case HIST_NAME:   sqlite3_result_value(ctx, sqlite3_column_value(p->pStmt, 5)); break;
    case HIST_DEPTH:  sqlite3_result_value(ctx, sqlite3_column_value(p->pStmt, 3)); break;
    case HIST_VALID:  sqlite3_result_value(ctx, sqlite3_column_value(p->pStmt, 4)); break;
    case HIST_KIND:
      sqlite3_result_text(ctx, p->bDelete ? "delete" : "upsert", -1, SQLITE_STATIC);
      break;
    case HIST_VALUES: if( !p->bDelete ) hist_values(ctx, p); break;
    case HIST_TABLE:  sqlite3_result_text(ctx, s->zName, -1, SQLITE_TRANSIENT); break;
    default: {
      BecValue aK[BEC_TABLE_MAX_COL];
      int k;
      for(k=0; k<s->nPk; k++) aK[k] = p->aVal[s->aPk[k]];
      bec_table_key_result(ctx, aK, s->nPk);
      break;
    }
  }
  return SQLITE_OK;
}

static sqlite3_module histModule = {
  0,                /* iVersion */
  0,                /* xCreate: eponymous only */
  histConnect,
  histBestIndex,    /* table = ? (required), key = ? checked by SQLite */
  feedDisconnect,
  0,                /* xDestroy */
  histOpen,
  histClose,
  histFilter,
  histNext,
  histEof,
  histColumn,
  feedRowid,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0     /* read-only, no transactions */
};

/* bec_changes_trim(cursor): the feed forgets the rows before cursor (which
** stays, as a marker); returns the number of rows deleted. */
static const BecSavepoint spTrim = {
  "SAVEPOINT bec_trim", "RELEASE bec_trim", "ROLLBACK TO bec_trim"
};
static void trimFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  char *zErr = 0;
  i64 nDel = 0;
  int rc;
  if( sqlite3_value_numeric_type(argv[0])!=SQLITE_INTEGER ){
    bec_fn_error(ctx, SQLITE_ERROR,
                 sqlite3_mprintf("bec_changes_trim: the cursor must be an integer"));
    return;
  }
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_begin(p, &spTrim);
  if( rc==SQLITE_OK ){
    rc = bec_crdt_feed_trim(p, sqlite3_value_int64(argv[0]), &nDel);
    if( rc==SQLITE_OK ) rc = bec_ctx_commit(p, &spTrim);
    else bec_ctx_rollback(p, &spTrim);
  }
  if( rc ){
    bec_fn_error_in(ctx, "bec_changes_trim", rc, zErr);
    return;
  }
  sqlite3_result_int64(ctx, nDel);
}

int bec_feed_register(sqlite3 *db, BecCtx *pCtx){
  int rc = sqlite3_create_module_v2(db, "bec_changes", &feedModule,
                                    bec_ctx_ref(pCtx), bec_ctx_unref);
  if( rc==SQLITE_OK ){
    rc = sqlite3_create_module_v2(db, "bec_history", &histModule,
                                  bec_ctx_ref(pCtx), bec_ctx_unref);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_create_function_v2(db, "bec_changes_trim", 1,
        SQLITE_UTF8|SQLITE_DIRECTONLY, bec_ctx_ref(pCtx), trimFunc, 0, 0,
        bec_ctx_unref);
  }
  return rc;
}
