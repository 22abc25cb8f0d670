/*
** bec_table.c - the "bec" virtual table module: CRDT-merged tables that
** read and write like plain ones.
**
**   CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT,
**                                       done INTEGER);   -- a schema op
**   INSERT INTO todos VALUES('a', 'milk', 0);            -- a write op
**   UPDATE todos SET done=1 WHERE id='a';                -- another
**   SELECT * FROM todos WHERE id='a';                    -- a key lookup
**   SELECT * FROM bec_conflicts;                         -- lost values
**   DROP TABLE todos;                                    -- a schema op
**
** Rows live in the shadow table "<name>_rows" (see bec_crdt.c), keyed by
** the primary key: a single INTEGER key is the shadow table's rowid, any
** other key a unique index.  Reads are queries on it; xBestIndex turns
** equality on the whole key, equality or ranges on its first column, and
** ORDER BY that column into index lookups.
**
** Writes go one way.  xUpdate turns each row change into a change of the
** write op the transaction is building (bec_crdt_local_change), which the
** merge writer applies at once as that op, so a transaction reads its own
** writes; this file writes no shadow row.  xSync, where SQLite commits,
** signs all of a transaction's changes as ONE op and hands it to the
** acceptance path like a peer's op.  A rollback, or a rollback to a
** savepoint, truncates the op being built as SQLite rolls back the shadow
** table.
*/
#include "becInt.h"

#include <stdio.h>
#include <stdlib.h>

/* idxNum of a scan: a plan in the low bits, then flags. */
#define PLAN_FULL       0
#define PLAN_ROWID      1   /* rowid = ?1 */
#define PLAN_KEY        2   /* every key column = ? */
#define PLAN_RANGE      3   /* bounds on the first key column */
#define PLAN_PREFIX     4   /* first key column = ?1 */
#define PLAN_MASK       7
#define IDX_LOWER       8   /* a lower bound ... */
#define IDX_LOWER_EQ    16  /* ... that is >= */
#define IDX_UPPER       32
#define IDX_UPPER_EQ    64
#define IDX_ORDER       128 /* ORDER BY the first key column */
#define IDX_DESC        256

/* Full scans read the shadow table a page of rows at a time, in rowid
** order.  Stepping an inner statement once per row costs about as much as
** the plain table's whole scan does per row, and each of its column values
** is one more call that takes the connection's mutex.  Instead the cursor
** holds one statement, "SELECT 1 FROM <rows> WHERE bec_scan_page(rowid,
** c..) ORDER BY rowid", whose WHERE function copies each row into the
** cursor's page and is false until the page holds PAGE_ROWS rows or
** PAGE_BYTES of text and blobs: one sqlite3_step() fills one page, and the
** next step goes on from the following row (SQLITE_DONE: the last page).
** No bounds are compared per row and no page seeks its first row. */
#define PAGE_ROWS      1024
#define PAGE_BYTES     (256*1024)

/* One value of a page: integers and reals as themselves, text and blobs as
** an offset into the page's byte buffer. */
typedef struct PageCell PageCell;
struct PageCell {
  union { i64 i; double r; } u;
  int eType;              /* SQLITE_INTEGER ... SQLITE_NULL */
  int n;                  /* bytes of text or blob */
};

typedef struct BecCursor BecCursor;
struct BecCursor {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *pStmt;    /* owned while open (scan_take/scan_put) */
  int idxNum;
  int bEof;
  /* Paged full scans. */
  int bPaged;
  int bDesc;              /* descending rowid order */
  int bDone;              /* pStmt has no rows past the current page */
  int nCell;              /* cells per row: the rowid, then each column */
  int nArg;               /* arguments of bec_scan_page() */
  int iIntPk;             /* the INTEGER key column, or -1 */
  int nRow, iRow;         /* rows in the page, the current one */
  int nRowAlloc;
  int rcPage;             /* an error met while filling the page */
  PageCell *aCell;        /* nRow * nCell, in scan order */
  BecBuf bytes;           /* text and blob bytes of the page */
};

static void set_error(sqlite3_vtab *pVtab, char *zErr){
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = zErr;
}

/**************************************************************************
** Scan statements (the shadow-row statements of writes are bec_crdt.c's).
*/

/* 1 if scans of plan idxNum are paged: unordered full scans, and those
** ordered by an INTEGER key, which is the rowid. */
static int scan_is_paged(const BecTab *t, int idxNum){
  return (idxNum & PLAN_MASK)==PLAN_FULL
      && (!(idxNum & IDX_ORDER) || t->pSchema->bIntPk);
}

/* The SQL of a paged scan: one step fills one page (see PAGE_ROWS). */
static void scan_sql_paged(const BecTab *t, int idxNum, BecBuf *b, int *pRc){
  const BecSchema *s = t->pSchema;
  int i;
  bec_buf_appendf(b, pRc, "SELECT 1 FROM %s WHERE bec_scan_page(rowid", t->zRows);
  for(i=0; i<s->nCol; i++){
    /* An INTEGER key is the rowid: not read twice. */
    if( !s->bIntPk || !s->aCol[i].iPk ) bec_buf_appendf(b, pRc, ", c%d", i);
  }
  bec_buf_appendf(b, pRc, ") ORDER BY rowid%s", (idxNum & IDX_DESC) ? " DESC" : "");
}

/* The SQL of a row-at-a-time scan: rowid, c0.. of the rows of plan idxNum. */
static void scan_sql_rows(const BecTab *t, int idxNum, BecBuf *b, int *pRc){
  const BecSchema *s = t->pSchema;
  const char *zK0;
  char zKey[16];
  int i, k, iArg = 1;
  if( s->bIntPk ){
    zK0 = "rowid";
  }else{
    snprintf(zKey, sizeof(zKey), "c%d", s->aPk[0]);
    zK0 = zKey;
  }
  bec_buf_appendf(b, pRc, "SELECT rowid");
  for(i=0; i<s->nCol; i++) bec_buf_appendf(b, pRc, ", c%d", i);
  bec_buf_appendf(b, pRc, " FROM %s", t->zRows);
  switch( idxNum & PLAN_MASK ){
    case PLAN_ROWID:
      bec_buf_appendf(b, pRc, " WHERE rowid=?1");
      break;
    case PLAN_KEY:
      for(k=0; k<s->nPk; k++){
        bec_buf_appendf(b, pRc, "%s c%d=?%d", k ? " AND" : " WHERE", s->aPk[k], k+1);
      }
      break;
    case PLAN_PREFIX:
      bec_buf_appendf(b, pRc, " WHERE %s=?1", zK0);
      break;
    case PLAN_RANGE:
      bec_buf_appendf(b, pRc, " WHERE 1");
      if( idxNum & IDX_LOWER ){
        bec_buf_appendf(b, pRc, " AND %s%s?%d", zK0,
                   (idxNum & IDX_LOWER_EQ) ? ">=" : ">", iArg++);
      }
      if( idxNum & IDX_UPPER ){
        bec_buf_appendf(b, pRc, " AND %s%s?%d", zK0,
                   (idxNum & IDX_UPPER_EQ) ? "<=" : "<", iArg++);
      }
      break;
  }
  if( idxNum & IDX_ORDER ){
    bec_buf_appendf(b, pRc, " ORDER BY %s%s", zK0, (idxNum & IDX_DESC) ? " DESC" : "");
  }
}

/* The scan statement of idxNum, taken from the cache or prepared; the
** cursor owns it until it gives it back (scan_put). */
static int scan_take(BecTab *t, int idxNum, sqlite3_stmt **ppStmt){
  BecBuf b;
  int rc = SQLITE_OK, i;
  for(i=0; i<BEC_TAB_NSCAN; i++){
    if( t->aScan[i].pStmt && t->aScan[i].idxNum==idxNum ){
      *ppStmt = t->aScan[i].pStmt;
      t->aScan[i].pStmt = 0;
      return SQLITE_OK;
    }
  }
  memset(&b, 0, sizeof(b));
  if( scan_is_paged(t, idxNum) ){
    scan_sql_paged(t, idxNum, &b, &rc);
  }else{
    scan_sql_rows(t, idxNum, &b, &rc);
  }
  bec_buf_append_u8(&b, 0, &rc);
  *ppStmt = 0;
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v3(t->pCtx->db, (const char*)b.a, -1,
                            SQLITE_PREPARE_PERSISTENT, ppStmt, 0);
  }
  bec_buf_free(&b);
  return rc;
}

static void scan_put(BecTab *t, int idxNum, sqlite3_stmt *pStmt){
  int i, iFree = -1;
  if( pStmt==0 ) return;
  sqlite3_reset(pStmt);
  for(i=0; i<BEC_TAB_NSCAN; i++){
    if( t->aScan[i].pStmt==0 ){
      if( t->aScan[i].idxNum==idxNum ){ iFree = i; break; }
      if( iFree<0 ) iFree = i;
    }
  }
  if( iFree<0 ){
    sqlite3_finalize(pStmt);
  }else{
    t->aScan[iFree].idxNum = idxNum;
    t->aScan[iFree].pStmt = pStmt;
  }
}

static void tab_free(BecTab *t){
  int i;
  BecTab **pp;
  if( t==0 ) return;
  if( t->pCtx->pCrdt ){
    for(pp=&t->pCtx->pCrdt->pTabList; *pp; pp=&(*pp)->pNext){
      if( *pp==t ){ *pp = t->pNext; break; }
    }
  }
  for(i=0; i<BEC_TAB_NSTMT; i++) sqlite3_finalize(t->aStmt[i]);
  for(i=0; i<BEC_TAB_NSCAN; i++) sqlite3_finalize(t->aScan[i].pStmt);
  bec_schema_free(t->pSchema);
  sqlite3_free(t->zRows);
  sqlite3_free(t->base.zErrMsg);
  sqlite3_free(t);
}

/**************************************************************************
** Parsing CREATE VIRTUAL TABLE ... USING bec(column, ..., [PRIMARY KEY(..)])
*/
static int is_space(char c){ return c==' ' || c=='\t' || c=='\n' || c=='\r'; }

/* Reads one identifier (bare, or quoted with "", [], ``) at *pz into
** zOut (unquoted); returns its length, or -1. */
static int read_ident(const char **pz, char *zOut, int nOut){
  const char *z = *pz;
  int n = 0;
  while( is_space(*z) ) z++;
  if( *z=='"' || *z=='`' || *z=='[' ){
    char cEnd = *z=='[' ? ']' : *z;
    z++;
    for(;;){
      if( *z==0 ) return -1;
      if( *z==cEnd ){
        if( cEnd!=']' && z[1]==cEnd ){ z++; }
        else break;
      }
      if( n>=nOut-1 ) return -1;
      zOut[n++] = *z++;
    }
    z++;
  }else{
    while( *z && !is_space(*z) && *z!=',' && *z!='(' && *z!=')' ){
      if( n>=nOut-1 ) return -1;
      zOut[n++] = *z++;
    }
  }
  zOut[n] = 0;
  *pz = z;
  return n;
}

static int word_is(const char *z, const char *zWord){
  int n = (int)strlen(zWord);
  return sqlite3_strnicmp(z, zWord, n)==0
      && (z[n]==0 || is_space(z[n]) || z[n]=='(');
}

/* *pz starts with the word PRIMARY: moves past "PRIMARY KEY" and the
** spaces after it (1), or returns 0 if KEY does not follow. */
static int skip_primary_key(const char **pz){
  const char *z = *pz + 7;
  while( is_space(*z) ) z++;
  if( !word_is(z, "KEY") ) return 0;
  z += 3;
  while( is_space(*z) ) z++;
  *pz = z;
  return 1;
}

/* Parses the module arguments into a schema.  *pzErr says what is wrong. */
static int parse_args(const char *zTab, int nArg, const char *const *azArg,
                      BecSchema **pp, char **pzErr){
  const char *azCol[BEC_TABLE_MAX_COL], *azType[BEC_TABLE_MAX_COL];
  int anCol[BEC_TABLE_MAX_COL], anType[BEC_TABLE_MAX_COL], aiPk[BEC_TABLE_MAX_COL];
  char (*aName)[BEC_TABLE_MAX_NAME+1] = 0;
  char *zTypes = 0;
  int nCol = 0, nPk = 0, bTablePk = 0, i, rc = SQLITE_OK;

  *pp = 0;
  aName = sqlite3_malloc64((sqlite3_uint64)BEC_TABLE_MAX_COL*(BEC_TABLE_MAX_NAME+1));
  zTypes = sqlite3_malloc64((sqlite3_uint64)BEC_TABLE_MAX_COL*(BEC_TABLE_MAX_TYPE+1));
  if( aName==0 || zTypes==0 ) rc = SQLITE_NOMEM;
  for(i=0; rc==SQLITE_OK && i<nArg; i++){
    const char *z = azArg[i];
    while( is_space(*z) ) z++;
    if( word_is(z, "PRIMARY") ){
      /* PRIMARY KEY(a, b) */
      if( !skip_primary_key(&z) ){ rc = SQLITE_ERROR; break; }
      if( *z!='(' || bTablePk || nPk ){ rc = SQLITE_ERROR; break; }
      z++;
      bTablePk = 1;
      for(;;){
        char zId[BEC_TABLE_MAX_NAME+1];
        int j;
        if( read_ident(&z, zId, sizeof(zId))<=0 ){ rc = SQLITE_ERROR; break; }
        for(j=0; j<nCol && sqlite3_stricmp(aName[j], zId); j++){}
        if( j==nCol || aiPk[j] ){
          *pzErr = sqlite3_mprintf("bec: PRIMARY KEY names unknown or repeated "
                                   "column %s", zId);
          rc = SQLITE_ERROR;
          break;
        }
        aiPk[j] = ++nPk;
        while( is_space(*z) ) z++;
        if( *z==',' ){ z++; continue; }
        if( *z==')' ) break;
        rc = SQLITE_ERROR;
        break;
      }
      continue;
    }
    if( nCol>=BEC_TABLE_MAX_COL ){
      *pzErr = sqlite3_mprintf("bec: a table has at most %d columns",
                               BEC_TABLE_MAX_COL);
      rc = SQLITE_ERROR;
      break;
    }
    anCol[nCol] = read_ident(&z, aName[nCol], BEC_TABLE_MAX_NAME+1);
    if( anCol[nCol]<=0 ){ rc = SQLITE_ERROR; break; }
    azCol[nCol] = aName[nCol];
    aiPk[nCol] = 0;
    {
      /* The type: words up to the first constraint keyword. */
      char *zT = &zTypes[nCol*(BEC_TABLE_MAX_TYPE+1)];
      const char *zStart, *zEnd;
      int depth = 0, eAff = 0, bInt = 0;
      while( is_space(*z) ) z++;
      zStart = zEnd = z;
      while( *z ){
        if( depth==0 && (word_is(z, "PRIMARY") || word_is(z, "NOT")
         || word_is(z, "NULL") || word_is(z, "UNIQUE") || word_is(z, "DEFAULT")
         || word_is(z, "CHECK") || word_is(z, "REFERENCES")
         || word_is(z, "COLLATE") || word_is(z, "CONSTRAINT")
         || word_is(z, "GENERATED") || word_is(z, "AS")
         || word_is(z, "HIDDEN")) ){
          break;
        }
        if( *z=='(' ) depth++;
        if( *z==')' ) depth--;
        z++;
        if( !is_space(z[-1]) ) zEnd = z;
      }
      /* Refused unless in bec's closed form (bec_type_parse). */
      if( zEnd-zStart>BEC_TABLE_MAX_TYPE
       || !bec_type_parse(zStart, (int)(zEnd-zStart), &eAff, &bInt) ){
        *pzErr = sqlite3_mprintf("bec: column %s: unsupported type \"%.*s\"",
                                 aName[nCol], (int)(zEnd-zStart), zStart);
        rc = SQLITE_ERROR;
        break;
      }
      memcpy(zT, zStart, (size_t)(zEnd-zStart));
      zT[zEnd-zStart] = 0;
      azType[nCol] = zT;
      anType[nCol] = (int)(zEnd-zStart);
    }
    while( is_space(*z) ) z++;
    if( word_is(z, "PRIMARY") ){
      if( !skip_primary_key(&z) ){ rc = SQLITE_ERROR; break; }
      if( word_is(z, "ASC") ) z += 3;
      while( is_space(*z) ) z++;
      if( nPk ){
        *pzErr = sqlite3_mprintf("bec: table %s has more than one primary key",
                                 zTab);
        rc = SQLITE_ERROR;
        break;
      }
      aiPk[nCol] = ++nPk;
    }
    if( *z ){
      *pzErr = sqlite3_mprintf("bec: column %s: unsupported constraint \"%s\" "
          "(bec columns take a name, a type and optionally PRIMARY KEY)",
          aName[nCol], z);
      rc = SQLITE_ERROR;
      break;
    }
    nCol++;
  }
  if( rc==SQLITE_ERROR && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot parse the declaration of table %s",
                             zTab);
  }
  if( rc==SQLITE_OK ){
    rc = bec_schema_new(BEC_SCHEMA_CREATE, zTab, (int)strlen(zTab), nCol,
                        azCol, anCol, azType, anType, aiPk, pp);
  }
  if( rc==SQLITE_OK && bec_schema_check(*pp, pzErr) ){
    char *z = *pzErr;
    *pzErr = sqlite3_mprintf("bec: %s", z);
    sqlite3_free(z);
    bec_schema_free(*pp);
    *pp = 0;
    rc = SQLITE_ERROR;
  }
  sqlite3_free(aName);
  sqlite3_free(zTypes);
  return rc;
}

/**************************************************************************
** Create, connect, destroy.
*/
static int declare(sqlite3 *db, const BecSchema *s){
  BecBuf b;
  int rc = SQLITE_OK, i;
  memset(&b, 0, sizeof(b));
  bec_buf_appendf(&b, &rc, "CREATE TABLE x(");
  for(i=0; i<s->nCol; i++){
    char *zId = bec_sql_ident(s->aCol[i].zName, 0);
    if( zId==0 ) rc = SQLITE_NOMEM;
    bec_buf_appendf(&b, &rc, "%s%s %s", i ? ", " : "", zId ? zId : "",
                    bec_type_sql(&s->aCol[i]));
    sqlite3_free(zId);
  }
  bec_buf_appendf(&b, &rc, ")");
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ) rc = sqlite3_declare_vtab(db, (const char*)b.a);
  bec_buf_free(&b);
  return rc;
}

/* Appends a local schema op (create or drop) from xCreate or xDestroy. */
static int append_schema(BecCtx *p, const BecSchema *s, u8 *aHash, char **pzErr){
  BecCrdt *pC = p->pCrdt;
  BecBuf pay;
  int rc = SQLITE_OK;
  int bNested = p->bNested;
  if( pC->bTxn && pC->nChange>0 ){
    *pzErr = sqlite3_mprintf("bec: commit the writes to bec tables before "
        "creating or dropping a bec table in the same transaction");
    return SQLITE_ERROR;
  }
  memset(&pay, 0, sizeof(pay));
  bec_schema_encode(&pay, s, &rc);
  if( rc ) return rc;
  p->bNested = 1;
  pC->bLocalSchema = 1;
  rc = bec_dag_append(p, BEC_KIND_SCHEMA, pay.a, pay.n, aHash, pzErr);
  pC->bLocalSchema = 0;
  p->bNested = bNested;
  bec_buf_free(&pay);
  return rc;
}

static int tabInit(sqlite3 *db, BecCtx *p, int bCreate, int argc,
                   const char *const *argv, sqlite3_vtab **ppVtab,
                   char **pzErr){
  BecCrdt *pC = 0;
  BecTab *t = 0;
  BecSchema *s = 0;
  const char *zName = argv[2];
  char *zErr = 0;
  int iSchema = 0;
  int rc;

  *ppVtab = 0;
  if( sqlite3_stricmp(argv[1], "main") ){
    *pzErr = sqlite3_mprintf("bec: bec tables live in the main database");
    return SQLITE_ERROR;
  }
  rc = bec_crdt_get(p, &pC);
  if( rc==SQLITE_OK ) rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK && bCreate && pC->iApplySchema==0 ){
    /* A local CREATE VIRTUAL TABLE: sign the schema op first. */
    u8 aHash[BEC_HASH_BYTES];
    int iWin = 0;
    rc = parse_args(zName, argc-3, &argv[3], &s, &zErr);
    bec_schema_free(s);
    s = 0;
    if( rc==SQLITE_OK ){
      /* SQLite checked zName; its shadow table's name may be the app's
      ** (refused before anything is signed). */
      char *zWhy = 0;
      rc = bec_crdt_name_taken(p, zName, &zWhy);
      if( rc==SQLITE_OK && zWhy ){
        zErr = sqlite3_mprintf("bec: table %s cannot be created: %s",
                               zName, zWhy);
        rc = SQLITE_ERROR;
      }
      sqlite3_free(zWhy);
    }
    if( rc==SQLITE_OK ){
      BecSchema *pNew = 0;
      rc = parse_args(zName, argc-3, &argv[3], &pNew, &zErr);
      if( rc==SQLITE_OK ) rc = append_schema(p, pNew, aHash, &zErr);
      bec_schema_free(pNew);
    }
    if( rc==SQLITE_OK ) rc = bec_dag_seq_of(p, aHash, &iSchema);
    if( rc==SQLITE_OK ) rc = bec_crdt_winner(p, zName, &iWin);
    if( rc==SQLITE_OK && iWin!=iSchema ){
      zErr = sqlite3_mprintf("bec: table %s: the new schema op lost to a "
                             "concurrent one", zName);
      rc = SQLITE_ERROR;
    }
  }else if( rc==SQLITE_OK ){
    iSchema = pC->iApplySchema;
    if( iSchema==0 ) rc = bec_crdt_winner(p, zName, &iSchema);
    if( rc==SQLITE_OK && iSchema==0 ){
      zErr = sqlite3_mprintf("bec: table %s has no schema op in this database",
                             zName);
      rc = SQLITE_ERROR;
    }
  }
  if( rc==SQLITE_OK ){
    t = sqlite3_malloc64(sizeof(BecTab));
    if( t==0 ) rc = SQLITE_NOMEM;
    else memset(t, 0, sizeof(*t));
  }
  if( rc==SQLITE_OK ){
    int i;
    t->pCtx = p;
    t->iSchema = iSchema;
    t->eConflicts = -1;
    for(i=0; i<BEC_TAB_NSCAN; i++) t->aScan[i].idxNum = -1;
    rc = bec_crdt_load_schema(p, iSchema, &t->pSchema, t->aSchemaHash, &zErr);
  }
  if( rc==SQLITE_OK && t->pSchema->action!=BEC_SCHEMA_CREATE ){
    zErr = sqlite3_mprintf("bec: table %s was dropped", zName);
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ){
    char *zId = bec_sql_ident(zName, "_rows");
    t->zRows = zId ? sqlite3_mprintf("main.%s", zId) : 0;
    sqlite3_free(zId);
    if( t->zRows==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && bCreate ) rc = bec_crdt_shadow_create(t, &zErr);
  if( rc==SQLITE_OK ) rc = declare(db, t->pSchema);
  if( rc==SQLITE_OK ){
    sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
    t->pNext = pC->pTabList;
    pC->pTabList = t;
    *ppVtab = &t->base;
  }else{
    if( zErr==0 ){
      zErr = sqlite3_mprintf("bec: cannot %s the table: %s",
                             bCreate ? "create" : "connect", bec_rc_text(db, rc));
    }
    *pzErr = zErr;
    zErr = 0;
    tab_free(t);
  }
  sqlite3_free(zErr);
  return rc;
}

static int tabCreate(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                     sqlite3_vtab **ppVtab, char **pzErr){
  return tabInit(db, (BecCtx*)pAux, 1, argc, argv, ppVtab, pzErr);
}

static int tabConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                      sqlite3_vtab **ppVtab, char **pzErr){
  return tabInit(db, (BecCtx*)pAux, 0, argc, argv, ppVtab, pzErr);
}

static int tabDisconnect(sqlite3_vtab *pVtab){
  tab_free((BecTab*)pVtab);
  return SQLITE_OK;
}

static int tabDestroy(sqlite3_vtab *pVtab){
  BecTab *t = (BecTab*)pVtab;
  BecCtx *p = t->pCtx;
  char *zErr = 0;
  int rc = SQLITE_OK, i;
  if( !p->pCrdt->bApplyDrop ){
    /* A local DROP TABLE: sign the drop first. */
    BecSchema *s = 0;
    u8 aHash[BEC_HASH_BYTES];
    const char *zName = t->pSchema->zName;
    rc = bec_schema_new(BEC_SCHEMA_DROP, zName, (int)strlen(zName), 0, 0, 0, 0,
                        0, 0, &s);
    if( rc==SQLITE_OK ) rc = append_schema(p, s, aHash, &zErr);
    bec_schema_free(s);
  }
  if( rc==SQLITE_OK ){
    for(i=0; i<BEC_TAB_NSCAN; i++){
      sqlite3_finalize(t->aScan[i].pStmt);
      t->aScan[i].pStmt = 0;
    }
    rc = bec_crdt_shadow_drop(t, &zErr);
  }
  if( rc ){
    set_error(pVtab, zErr ? zErr : sqlite3_mprintf("bec: cannot drop the table: %s",
                                                   bec_rc_text(p->db, rc)));
    return rc;
  }
  tab_free(t);
  return SQLITE_OK;
}

/**************************************************************************
** Values of local writes and lookups.
*/
/* The value a local write stores and signs for column iCol, or a lookup
** compares with it: the column's affinity applied here, on the writer's
** side, so the op carries the result and no replica converts a peer's
** value; and a key in its normal form (bec_key_normalize).  *ppOut is 0
** if pIn is that value already, else a new value: the caller frees it
** with sqlite3_value_free(). */
static int local_value(BecTab *t, int iCol, sqlite3_value *pIn,
                       sqlite3_value **ppOut){
  const BecColumn *c = &t->pSchema->aCol[iCol];
  sqlite3_value *pNum = 0;
  sqlite3_stmt *pSel = 0;
  BecValue v;
  int eType = sqlite3_value_type(pIn);
  int bChange = 0, rc = SQLITE_OK;
  *ppOut = 0;
  memset(&v, 0, sizeof(v));
  if( eType==SQLITE_INTEGER ){
    v.eType = BEC_VAL_INT;
    v.i = sqlite3_value_int64(pIn);
  }else if( eType==SQLITE_FLOAT ){
    v.eType = BEC_VAL_REAL;
    v.r = sqlite3_value_double(pIn);
  }else if( eType==SQLITE_TEXT && c->eAff!=BEC_AFF_TEXT && c->eAff!=BEC_AFF_BLOB ){
    /* Numeric affinities: text that reads as a number becomes it. */
    pNum = sqlite3_value_dup(pIn);
    if( pNum==0 ) return SQLITE_NOMEM;
    eType = sqlite3_value_numeric_type(pNum);
    if( eType==SQLITE_INTEGER ){
      v.eType = BEC_VAL_INT;
      v.i = sqlite3_value_int64(pNum);
      bChange = 1;
    }else if( eType==SQLITE_FLOAT ){
      v.eType = BEC_VAL_REAL;
      v.r = sqlite3_value_double(pNum);
      bChange = 1;
    }
  }
  if( v.eType==BEC_VAL_INT || v.eType==BEC_VAL_REAL ){
    switch( c->eAff ){
      case BEC_AFF_TEXT:
        /* Numbers become their text, as SQLite renders them here. */
        v.eType = BEC_VAL_TEXT;
        v.a = sqlite3_value_text(pNum ? pNum : pIn);
        v.n = sqlite3_value_bytes(pNum ? pNum : pIn);
        if( v.a==0 ) rc = SQLITE_NOMEM;
        bChange = 1;
        break;
      case BEC_AFF_REAL:
        if( v.eType==BEC_VAL_INT ){
          v.eType = BEC_VAL_REAL;
          v.r = (double)v.i;
          bChange = 1;
        }
        break;
      case BEC_AFF_INTEGER:
      case BEC_AFF_NUMERIC:
        if( v.eType==BEC_VAL_REAL && bec_key_normalize(&v) && v.eType==BEC_VAL_INT ){
          bChange = 1;
        }
        break;
    }
  }
  if( c->iPk && (v.eType==BEC_VAL_REAL) ){
    bec_key_normalize(&v);
    if( v.eType==BEC_VAL_INT ) bChange = 1;
  }
  if( rc==SQLITE_OK && bChange ){
    rc = bec_ctx_stmt(t->pCtx, "SELECT ?1", &pSel);
    if( rc==SQLITE_OK ){
      bec_value_bind(pSel, 1, &v);
      if( sqlite3_step(pSel)==SQLITE_ROW ){
        *ppOut = sqlite3_value_dup(sqlite3_column_value(pSel, 0));
      }
      rc = sqlite3_reset(pSel);
      if( rc==SQLITE_OK && *ppOut==0 ) rc = SQLITE_NOMEM;
    }
  }
  sqlite3_value_free(pNum);
  return rc;
}

/**************************************************************************
** Reading.
*/
static int tabBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  BecTab *t = (BecTab*)pVtab;
  const BecSchema *s = t->pSchema;
  int aEq[BEC_TABLE_MAX_COL];
  int iRowidEq = -1, iLower = -1, iUpper = -1;
  int idxNum = PLAN_FULL, i, k, nArg = 0;
  double rCost = 1e6, nRows = 1e6;
  const int iK0 = s->aPk[0];

  aEq[0] = -1;
  for(k=0; k<s->nPk; k++) aEq[k] = -1;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    int iCol = pC->iColumn;
    if( !pC->usable ) continue;
    if( iCol<0 || (s->bIntPk && iCol==iK0) ){
      if( pC->op==SQLITE_INDEX_CONSTRAINT_EQ ) iRowidEq = i;
      iCol = iK0;
      if( !s->bIntPk ) continue;
    }
    if( s->aCol[iCol].iPk==0 ) continue;
    switch( pC->op ){
      case SQLITE_INDEX_CONSTRAINT_EQ:
        aEq[s->aCol[iCol].iPk-1] = i;
        break;
      case SQLITE_INDEX_CONSTRAINT_GT:
      case SQLITE_INDEX_CONSTRAINT_GE:
        if( iCol==iK0 ) iLower = i;
        break;
      case SQLITE_INDEX_CONSTRAINT_LT:
      case SQLITE_INDEX_CONSTRAINT_LE:
        if( iCol==iK0 ) iUpper = i;
        break;
    }
  }
  for(k=0; k<s->nPk && aEq[k]>=0; k++){}
  if( iRowidEq>=0 ){
    idxNum = PLAN_ROWID;
    pInfo->aConstraintUsage[iRowidEq].argvIndex = ++nArg;
    pInfo->aConstraintUsage[iRowidEq].omit = 1;
    rCost = 1; nRows = 1;
  }else if( k==s->nPk ){
    idxNum = PLAN_KEY;
    for(k=0; k<s->nPk; k++){
      pInfo->aConstraintUsage[aEq[k]].argvIndex = ++nArg;
      pInfo->aConstraintUsage[aEq[k]].omit = 1;
    }
    rCost = 1 + s->nPk; nRows = 1;
  }else if( aEq[0]>=0 ){
    idxNum = PLAN_PREFIX;
    pInfo->aConstraintUsage[aEq[0]].argvIndex = ++nArg;
    pInfo->aConstraintUsage[aEq[0]].omit = 1;
    rCost = 100; nRows = 100;
  }else if( iLower>=0 || iUpper>=0 ){
    idxNum = PLAN_RANGE;
    if( iLower>=0 ){
      idxNum |= IDX_LOWER;
      if( pInfo->aConstraint[iLower].op==SQLITE_INDEX_CONSTRAINT_GE ) idxNum |= IDX_LOWER_EQ;
      pInfo->aConstraintUsage[iLower].argvIndex = ++nArg;
      pInfo->aConstraintUsage[iLower].omit = 1;
    }
    if( iUpper>=0 ){
      idxNum |= IDX_UPPER;
      if( pInfo->aConstraint[iUpper].op==SQLITE_INDEX_CONSTRAINT_LE ) idxNum |= IDX_UPPER_EQ;
      pInfo->aConstraintUsage[iUpper].argvIndex = ++nArg;
      pInfo->aConstraintUsage[iUpper].omit = 1;
    }
    rCost = (iLower>=0 && iUpper>=0) ? 1e4 : 2.5e5;
    nRows = rCost;
  }
  if( pInfo->nOrderBy==1 ){
    int iCol = pInfo->aOrderBy[0].iColumn;
    if( iCol==iK0 || (iCol<0 && s->bIntPk) ){
      idxNum |= IDX_ORDER;
      if( pInfo->aOrderBy[0].desc ) idxNum |= IDX_DESC;
      pInfo->orderByConsumed = 1;
    }
  }
  if( (idxNum & PLAN_MASK)==PLAN_ROWID || (idxNum & PLAN_MASK)==PLAN_KEY ){
    pInfo->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  }
  pInfo->idxNum = idxNum;
  pInfo->estimatedCost = rCost;
  pInfo->estimatedRows = (sqlite3_int64)nRows;
  return SQLITE_OK;
}

static int tabOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  BecCursor *c = sqlite3_malloc64(sizeof(*c));
  if( c==0 ) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *ppCur = &c->base;
  return SQLITE_OK;
}

static int tabClose(sqlite3_vtab_cursor *pCur){
  BecCursor *c = (BecCursor*)pCur;
  scan_put((BecTab*)pCur->pVtab, c->idxNum, c->pStmt);
  sqlite3_free(c->aCell);
  bec_buf_free(&c->bytes);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* bec_scan_page(rowid, c0, ...): the WHERE function of a paged scan.  It
** copies the row into the cursor whose page page_next is filling
** (BecCrdt.pPage) and is true once the page is full.  At any other time it
** does nothing and is false.  The key column of an INTEGER key is not an
** argument: it is the rowid.  Errors are left in rcPage, and the page then
** counts as full so that the step ends. */
static void scanPageFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  BecCursor *c = p->pCrdt ? (BecCursor*)p->pCrdt->pPage : 0;
  PageCell *a;
  i64 iRowid;
  int i, iArg;
  if( c==0 || argc!=c->nArg ){
    sqlite3_result_int(ctx, 0);
    return;
  }
  if( c->rcPage==SQLITE_OK && (c->nRow>=PAGE_ROWS || c->bytes.n>=PAGE_BYTES) ){
    /* Called past a full page: the rows are not coming one step at a
    ** time (a query plan that filters before it yields). */
    c->rcPage = SQLITE_INTERNAL;
  }
  if( c->rcPage==SQLITE_OK && c->nRow>=c->nRowAlloc ){
    int nNew = c->nRowAlloc ? c->nRowAlloc*2 : 64;
    PageCell *aNew = sqlite3_realloc64(c->aCell,
        sizeof(PageCell)*(sqlite3_uint64)nNew*(sqlite3_uint64)c->nCell);
    if( aNew==0 ){
      c->rcPage = SQLITE_NOMEM;
    }else{
      c->aCell = aNew;
      c->nRowAlloc = nNew;
    }
  }
  if( c->rcPage ){
    sqlite3_result_int(ctx, 1);
    return;
  }
  a = &c->aCell[c->nRow*c->nCell];
  iRowid = sqlite3_value_int64(argv[0]);
  if( c->nRow>0 && (c->bDesc ? iRowid>=a[-c->nCell].u.i : iRowid<=a[-c->nCell].u.i) ){
    c->rcPage = SQLITE_CORRUPT_VTAB;   /* not in rowid order: a damaged b-tree */
  }
  a[0].eType = SQLITE_INTEGER;
  a[0].u.i = iRowid;
  for(i=1, iArg=1; i<c->nCell; i++){
    sqlite3_value *v;
    if( i-1==c->iIntPk ){
      a[i] = a[0];
      continue;
    }
    v = argv[iArg++];
    a[i].eType = sqlite3_value_type(v);
    switch( a[i].eType ){
      case SQLITE_INTEGER:
        a[i].u.i = sqlite3_value_int64(v);
        break;
      case SQLITE_FLOAT:
        a[i].u.r = sqlite3_value_double(v);
        break;
      case SQLITE_TEXT:
      case SQLITE_BLOB: {
        const void *z = a[i].eType==SQLITE_TEXT
            ? (const void*)sqlite3_value_text(v) : sqlite3_value_blob(v);
        a[i].n = sqlite3_value_bytes(v);
        a[i].u.i = c->bytes.n;
        if( z==0 && a[i].n>0 ) c->rcPage = SQLITE_NOMEM;
        else bec_buf_append(&c->bytes, z, a[i].n, &c->rcPage);
        break;
      }
    }
  }
  c->nRow++;
  sqlite3_result_int(ctx, c->rcPage!=SQLITE_OK
                          || c->nRow>=PAGE_ROWS || c->bytes.n>=PAGE_BYTES);
}

/* Moves the cursor to the next page: one step of its statement.  A step
** that yields a row ended at a full page; SQLITE_DONE means the page holds
** the last rows (maybe none). */
static int page_next(BecCursor *c){
  BecTab *t = (BecTab*)c->base.pVtab;
  int rc = SQLITE_OK;
  c->iRow = 0;
  c->nRow = 0;
  c->bytes.n = 0;
  if( !c->bDone ){
    c->rcPage = SQLITE_OK;
    t->pCtx->pCrdt->pPage = c;
    rc = sqlite3_step(c->pStmt);
    t->pCtx->pCrdt->pPage = 0;
    if( rc==SQLITE_ROW ){
      rc = SQLITE_OK;
    }else{
      c->bDone = 1;
      rc = sqlite3_reset(c->pStmt);
    }
    if( rc==SQLITE_OK ) rc = c->rcPage;
  }
  c->bEof = c->nRow==0;
  return rc;
}

/* The cells of the current row. */
static const PageCell *page_row(const BecCursor *c){
  return &c->aCell[c->iRow*c->nCell];
}

static int tabNext(sqlite3_vtab_cursor *pCur){
  BecCursor *c = (BecCursor*)pCur;
  int rc;
  if( c->bPaged ){
    if( ++c->iRow < c->nRow ) return SQLITE_OK;
    rc = page_next(c);
  }else{
    rc = sqlite3_step(c->pStmt);
    if( rc==SQLITE_ROW ) return SQLITE_OK;
    c->bEof = 1;
    rc = sqlite3_reset(c->pStmt);
  }
  if( rc ){
    BecTab *t = (BecTab*)pCur->pVtab;
    c->bEof = 1;
    if( rc==SQLITE_NOMEM ){
      set_error(pCur->pVtab, sqlite3_mprintf("%s", sqlite3_errstr(rc)));
    }else if( rc==SQLITE_INTERNAL ){
      set_error(pCur->pVtab, sqlite3_mprintf("bec: internal error: the full "
          "scan of %s read past a full page", t->pSchema->zName));
    }else if( rc==SQLITE_CORRUPT_VTAB ){
      set_error(pCur->pVtab, sqlite3_mprintf("bec: the shadow table of %s "
          "returned its rows out of order (damaged storage)", t->pSchema->zName));
    }else{
      set_error(pCur->pVtab, sqlite3_mprintf("bec: cannot read %s: %s",
          t->pSchema->zName, bec_rc_text(t->pCtx->db, rc)));
    }
  }
  return rc;
}

static int tabFilter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr,
                     int argc, sqlite3_value **argv){
  BecCursor *c = (BecCursor*)pCur;
  BecTab *t = (BecTab*)pCur->pVtab;
  int rc = SQLITE_OK, i;
  if( c->pStmt && c->idxNum!=idxNum ){
    scan_put(t, c->idxNum, c->pStmt);
    c->pStmt = 0;
  }
  c->idxNum = idxNum;
  c->bEof = 0;
  if( c->pStmt==0 ){
    rc = scan_take(t, idxNum, &c->pStmt);
    if( rc ){
      set_error(pCur->pVtab, sqlite3_mprintf("bec: cannot scan %s: %s",
          t->pSchema->zName, bec_rc_text(t->pCtx->db, rc)));
      return rc;
    }
  }else{
    sqlite3_reset(c->pStmt);
  }
  c->bPaged = scan_is_paged(t, idxNum);
  if( c->bPaged ){
    c->bDesc = (idxNum & IDX_DESC)!=0;
    c->bDone = 0;
    c->nCell = t->pSchema->nCol + 1;
    c->iIntPk = t->pSchema->bIntPk ? t->pSchema->aPk[0] : -1;
    c->nArg = c->nCell - (c->iIntPk>=0);
    c->iRow = -1;
    c->nRow = 0;
    return tabNext(pCur);
  }
  for(i=0; i<argc; i++){
    /* Key values compare as the stored keys were made (local_value). */
    int ePlan = idxNum & PLAN_MASK;
    sqlite3_value *pConv = 0;
    if( ePlan!=PLAN_ROWID ){
      rc = local_value(t, t->pSchema->aPk[ePlan==PLAN_KEY ? i : 0], argv[i], &pConv);
      if( rc ){
        set_error(pCur->pVtab, sqlite3_mprintf("%s", sqlite3_errstr(rc)));
        return rc;
      }
    }
    sqlite3_bind_value(c->pStmt, i+1, pConv ? pConv : argv[i]);
    sqlite3_value_free(pConv);
  }
  return tabNext(pCur);
}

static int tabEof(sqlite3_vtab_cursor *pCur){
  return ((BecCursor*)pCur)->bEof;
}

static int tabColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int i){
  BecCursor *c = (BecCursor*)pCur;
  /* In an UPDATE, columns it does not set are left "unchanged": that is
  ** how xUpdate knows which registers the UPDATE writes. */
  if( sqlite3_vtab_nochange(ctx) ) return SQLITE_OK;
  if( c->bPaged ){
    /* Text and blobs are copied into the result's own buffer, which
    ** SQLite reuses from row to row; SQLITE_STATIC would let e.g. max()
    ** keep a pointer into the page, which the next page overwrites. */
    const PageCell *a = &page_row(c)[i+1];
    switch( a->eType ){
      case SQLITE_INTEGER: sqlite3_result_int64(ctx, a->u.i); break;
      case SQLITE_FLOAT:   sqlite3_result_double(ctx, a->u.r); break;
      case SQLITE_TEXT:
        sqlite3_result_text(ctx, a->n ? (const char*)c->bytes.a + a->u.i : "",
                            a->n, SQLITE_TRANSIENT);
        break;
      case SQLITE_BLOB:
        sqlite3_result_blob(ctx, a->n ? (const void*)(c->bytes.a + a->u.i) : "",
                            a->n, SQLITE_TRANSIENT);
        break;
      default:
        break;          /* the result is NULL unless set */
    }
  }else{
    sqlite3_result_value(ctx, sqlite3_column_value(c->pStmt, i+1));
  }
  return SQLITE_OK;
}

static int tabRowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid){
  BecCursor *c = (BecCursor*)pCur;
  if( c->bPaged ){
    *pRowid = page_row(c)->u.i;
  }else{
    *pRowid = sqlite3_column_int64(c->pStmt, 0);
  }
  return SQLITE_OK;
}

/**************************************************************************
** Writing.  xUpdate turns a statement's row changes into changes of the
** transaction's write op; bec_crdt_local_change encodes each and has the
** merge writer apply it (bec_crdt.c, "Local writes").  Nothing here writes
** a shadow row.
*/
/* The key values of a row as sqlite3_values: from the shadow row, whose
** statement pSel must stay on the row while they are used. */
static int key_of_rowid(BecTab *t, i64 iRowid, sqlite3_stmt **ppSel,
                        sqlite3_value **apKey){
  const BecSchema *s = t->pSchema;
  int rc = bec_tab_stmt(t, BEC_TAB_SEL_ROWID, ppSel);
  int k;
  if( rc ) return rc;
  sqlite3_bind_int64(*ppSel, 1, iRowid);
  if( sqlite3_step(*ppSel)!=SQLITE_ROW ){
    rc = sqlite3_reset(*ppSel);
    return rc ? rc : SQLITE_NOTFOUND;
  }
  for(k=0; k<s->nPk; k++){
    apKey[k] = sqlite3_column_value(*ppSel, 2 + s->nCol - s->nPk + s->aPk[k]);
  }
  return SQLITE_OK;
}

static int local_delete(BecTab *t, i64 iRowid, char **pzErr){
  sqlite3_stmt *pSel = 0;
  sqlite3_value *apKey[BEC_TABLE_MAX_COL];
  int rc = key_of_rowid(t, iRowid, &pSel, apKey);
  if( rc==SQLITE_NOTFOUND ) return SQLITE_OK;
  if( rc==SQLITE_OK ){
    rc = bec_crdt_local_change(t, BEC_CHANGE_DELETE, apKey, 0, 0, &iRowid, 0,
                               pzErr);
  }
  sqlite3_reset(pSel);
  return rc;
}

/* Key checks of a new row: no NULL, and an INTEGER key is an integer.
** aV[k] may be replaced by the converted value in apKey. */
static int check_key(BecTab *t, sqlite3_value **aV, sqlite3_value **apKey,
                     char **pzErr){
  const BecSchema *s = t->pSchema;
  int k;
  for(k=0; k<s->nPk; k++){
    sqlite3_value *v = aV[s->aPk[k]];
    if( sqlite3_value_type(v)==SQLITE_NULL ){
      *pzErr = sqlite3_mprintf("NOT NULL constraint failed: %s.%s (bec rows are "
          "matched by key on every replica: choose keys that are unique across "
          "replicas)", s->zName, s->aCol[s->aPk[k]].zName);
      return SQLITE_CONSTRAINT;
    }
    if( s->bIntPk && sqlite3_value_numeric_type(v)!=SQLITE_INTEGER ){
      *pzErr = sqlite3_mprintf("datatype mismatch: %s.%s is an INTEGER PRIMARY "
                               "KEY", s->zName, s->aCol[s->aPk[k]].zName);
      return SQLITE_MISMATCH;
    }
    apKey[k] = v;
  }
  return SQLITE_OK;
}

static int local_insert(BecTab *t, sqlite3_value **aV, i64 *piRowid, char **pzErr){
  const BecSchema *s = t->pSchema;
  sqlite3_value *apKey[BEC_TABLE_MAX_COL];
  u8 abSet[BEC_TABLE_MAX_COL];
  int rc, i, k;

  rc = check_key(t, aV, apKey, pzErr);
  if( rc ) return rc;
  for(i=0; i<s->nCol; i++) abSet[i] = s->aCol[i].iPk ? 1 : 2;
  rc = bec_crdt_local_change(t, BEC_CHANGE_INSERT, apKey, abSet, aV, 0, piRowid,
                             pzErr);
  if( rc==SQLITE_CONSTRAINT && *pzErr==0 ){
    /* The key exists. */
    int eConflict = sqlite3_vtab_on_conflict(t->pCtx->db);
    if( eConflict==SQLITE_IGNORE ) return SQLITE_OK;
    if( eConflict!=SQLITE_REPLACE ){
      BecBuf b;
      memset(&b, 0, sizeof(b));
      rc = SQLITE_OK;
      for(k=0; k<s->nPk; k++){
        bec_buf_appendf(&b, &rc, "%s%s.%s", k ? ", " : "", s->zName, s->aCol[s->aPk[k]].zName);
      }
      bec_buf_append_u8(&b, 0, &rc);
      *pzErr = sqlite3_mprintf("UNIQUE constraint failed: %s", b.a ? (char*)b.a : "");
      bec_buf_free(&b);
      return SQLITE_CONSTRAINT_PRIMARYKEY;
    }
    /* INSERT OR REPLACE: an upsert of every column. */
    rc = bec_crdt_local_change(t, BEC_CHANGE_UPSERT, apKey, abSet, aV, 0,
                               piRowid, pzErr);
  }
  return rc;
}

static int local_update_row(BecTab *t, sqlite3_value *pOld, sqlite3_value *pNew,
                            sqlite3_value **aV, char **pzErr){
  const BecSchema *s = t->pSchema;
  sqlite3_stmt *pSel = 0;
  sqlite3_value *apKey[BEC_TABLE_MAX_COL];
  u8 abSet[BEC_TABLE_MAX_COL];
  i64 iRowid = sqlite3_value_int64(pOld);
  int bKeyChange = 0, bAny = 0, rc = SQLITE_OK, i, k;

  if( sqlite3_value_type(pNew)!=SQLITE_NULL && sqlite3_value_int64(pNew)!=iRowid
   && !s->bIntPk ){
    *pzErr = sqlite3_mprintf("bec: the rowid of a bec table cannot be set; "
                             "change the primary key instead");
    return SQLITE_CONSTRAINT;
  }
  for(i=0; i<s->nCol; i++){
    abSet[i] = 0;
    if( sqlite3_value_nochange(aV[i]) ) continue;
    if( s->aCol[i].iPk ) bKeyChange = 1;
    else{ abSet[i] = 2; bAny = 1; }
  }
  if( s->bIntPk && bKeyChange ){
    sqlite3_value *v = aV[s->aPk[0]];
    bKeyChange = !(sqlite3_value_numeric_type(v)==SQLITE_INTEGER
                   && sqlite3_value_int64(v)==iRowid);
  }else if( bKeyChange ){
    rc = key_of_rowid(t, iRowid, &pSel, apKey);
    for(k=0, bKeyChange=0; rc==SQLITE_OK && k<s->nPk; k++){
      sqlite3_value *a = apKey[k], *b = aV[s->aPk[k]];
      if( sqlite3_value_nochange(b) ) continue;
      if( sqlite3_value_type(a)!=sqlite3_value_type(b)
       || sqlite3_value_bytes(a)!=sqlite3_value_bytes(b)
       || (sqlite3_value_type(a)==SQLITE_INTEGER
           && sqlite3_value_int64(a)!=sqlite3_value_int64(b))
       || (sqlite3_value_type(a)==SQLITE_FLOAT
           && sqlite3_value_double(a)!=sqlite3_value_double(b))
       || ((sqlite3_value_type(a)==SQLITE_TEXT || sqlite3_value_type(a)==SQLITE_BLOB)
           && memcmp(sqlite3_value_blob(a), sqlite3_value_blob(b),
                     (size_t)sqlite3_value_bytes(a))) ){
        bKeyChange = 1;
      }
    }
    if( pSel ) sqlite3_reset(pSel);
    pSel = 0;
    if( rc ) return rc==SQLITE_NOTFOUND ? SQLITE_OK : rc;
  }
  if( bKeyChange ){
    /* A new key is a new row: delete the old one, insert the new one with
    ** every column (unchanged ones keep their values). */
    sqlite3_value *aNew[BEC_TABLE_MAX_COL];
    i64 iNew = 0;
    rc = bec_tab_stmt(t, BEC_TAB_SEL_ROWID, &pSel);
    if( rc ) return rc;
    sqlite3_bind_int64(pSel, 1, iRowid);
    if( sqlite3_step(pSel)!=SQLITE_ROW ) return sqlite3_reset(pSel);
    /* The old values must outlive the delete: keep them as copies. */
    for(i=0; i<s->nCol; i++){
      aNew[i] = sqlite3_value_nochange(aV[i])
          ? sqlite3_value_dup(sqlite3_column_value(pSel, 2 + s->nCol - s->nPk + i))
          : sqlite3_value_dup(aV[i]);
      if( aNew[i]==0 ) rc = SQLITE_NOMEM;
    }
    sqlite3_reset(pSel);
    if( rc==SQLITE_OK ) rc = local_delete(t, iRowid, pzErr);
    if( rc==SQLITE_OK ) rc = local_insert(t, aNew, &iNew, pzErr);
    for(i=0; i<s->nCol; i++) sqlite3_value_free(aNew[i]);
    return rc;
  }
  if( !bAny ) return SQLITE_OK;
  if( s->bIntPk ){
    apKey[0] = pOld;
  }else{
    rc = key_of_rowid(t, iRowid, &pSel, apKey);
    if( rc ) return rc==SQLITE_NOTFOUND ? SQLITE_OK : rc;
  }
  rc = bec_crdt_local_change(t, BEC_CHANGE_UPSERT, apKey, abSet, aV, &iRowid, 0,
                             pzErr);
  if( pSel ) sqlite3_reset(pSel);
  return rc;
}

static int tabUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                     sqlite3_int64 *pRowid){
  BecTab *t = (BecTab*)pVtab;
  sqlite3_value *aUse[BEC_TABLE_MAX_COL];
  sqlite3_value *aConv[BEC_TABLE_MAX_COL];   /* owned: converted values */
  char *zErr = 0;
  int rc = bec_crdt_txn_begin(t->pCtx, &zErr), i;
  const int nCol = argc>2 ? t->pSchema->nCol : 0;
  for(i=0; i<nCol; i++){
    aConv[i] = 0;
    aUse[i] = argv[2+i];
    if( rc==SQLITE_OK && !sqlite3_value_nochange(argv[2+i]) ){
      rc = local_value(t, i, argv[2+i], &aConv[i]);
      if( aConv[i] ) aUse[i] = aConv[i];
    }
  }
  if( rc==SQLITE_OK ){
    if( argc==1 ){
      rc = local_delete(t, sqlite3_value_int64(argv[0]), &zErr);
    }else if( sqlite3_value_type(argv[0])==SQLITE_NULL ){
      i64 iRowid = 0;
      rc = local_insert(t, aUse, &iRowid, &zErr);
      *pRowid = iRowid;
    }else{
      rc = local_update_row(t, argv[0], argv[1], aUse, &zErr);
    }
  }
  for(i=0; i<nCol; i++) sqlite3_value_free(aConv[i]);
  if( rc ){
    if( zErr==0 ){
      zErr = sqlite3_mprintf("bec: cannot write %s: %s", t->pSchema->zName,
                             bec_rc_text(t->pCtx->db, rc));
    }
    set_error(pVtab, zErr);
  }
  return rc;
}

/**************************************************************************
** Transactions.
*/
static int tabBegin(sqlite3_vtab *pVtab){
  ((BecTab*)pVtab)->eConflicts = -1;
  return SQLITE_OK;
}

static int tabSync(sqlite3_vtab *pVtab){
  BecTab *t = (BecTab*)pVtab;
  char *zErr = 0;
  int rc = bec_crdt_flush(t->pCtx, &zErr);
  if( rc ){
    char *z = sqlite3_mprintf("bec: cannot sign this transaction's writes: %s",
                              zErr ? zErr : bec_rc_text(t->pCtx->db, rc));
    sqlite3_free(zErr);
    set_error(pVtab, z);
  }
  return rc;
}

static int tabCommit(sqlite3_vtab *pVtab){
  bec_crdt_txn_reset(((BecTab*)pVtab)->pCtx->pCrdt);
  return SQLITE_OK;
}

static int tabRollback(sqlite3_vtab *pVtab){
  bec_crdt_txn_reset(((BecTab*)pVtab)->pCtx->pCrdt);
  return SQLITE_OK;
}

/* Savepoint marks are shared by all tables of the connection: the first
** table to hear of savepoint i records where the op stood; tables that
** join later are told of it again and must not move the mark. */
static int tabSavepoint(sqlite3_vtab *pVtab, int iSavepoint){
  BecCrdt *pC = ((BecTab*)pVtab)->pCtx->pCrdt;
  if( iSavepoint>=pC->nMarkAlloc ){
    int nNew = iSavepoint + 16;
    BecMark *aNew = sqlite3_realloc64(pC->aMark, sizeof(BecMark)*(sqlite3_uint64)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    pC->aMark = aNew;
    pC->nMarkAlloc = nNew;
  }
  while( pC->nMark<=iSavepoint ){
    BecMark *m = &pC->aMark[pC->nMark++];
    m->nBuf = pC->chg.n;
    m->nChange = pC->nChange;
    m->nTable = pC->nTable;
  }
  return SQLITE_OK;
}

static int tabRelease(sqlite3_vtab *pVtab, int iSavepoint){
  BecCrdt *pC = ((BecTab*)pVtab)->pCtx->pCrdt;
  if( pC->nMark>iSavepoint ) pC->nMark = iSavepoint;
  return SQLITE_OK;
}

static int tabRollbackTo(sqlite3_vtab *pVtab, int iSavepoint){
  BecCrdt *pC = ((BecTab*)pVtab)->pCtx->pCrdt;
  if( iSavepoint<pC->nMark ){
    BecMark *m = &pC->aMark[iSavepoint];
    pC->chg.n = m->nBuf;
    pC->nChange = m->nChange;
    pC->nTable = m->nTable;
    pC->nMark = iSavepoint+1;
  }
  return SQLITE_OK;
}

static int tabRename(sqlite3_vtab *pVtab, const char *zNew){
  set_error(pVtab, sqlite3_mprintf("bec: bec tables cannot be renamed (a "
      "rename is not a replicated op); create a new table and copy the rows"));
  return SQLITE_ERROR;
}

static int tabShadowName(const char *zName){
  return sqlite3_stricmp(zName, "rows")==0;
}

static sqlite3_module becModule = {
  3,                  /* iVersion: xShadowName */
  tabCreate,          /* CREATE VIRTUAL TABLE: signs a schema op */
  tabConnect,         /* schema from the winning schema op */
  tabBestIndex,       /* key equality, ranges, ORDER BY key */
  tabDisconnect,
  tabDestroy,         /* DROP TABLE: signs a drop */
  tabOpen,
  tabClose,
  tabFilter,
  tabNext,
  tabEof,
  tabColumn,
  tabRowid,
  tabUpdate,          /* a change of the transaction's op, applied now */
  tabBegin,
  tabSync,            /* signs the transaction's changes as one op */
  tabCommit,
  tabRollback,
  0,                  /* xFindFunction */
  tabRename,          /* refused */
  tabSavepoint,
  tabRelease,
  tabRollbackTo,
  tabShadowName,
};

/**************************************************************************
** bec_conflicts: the concurrent values that lost a merge.
*/
/* JSON text of one value, for multi-column keys. */
static void json_value(BecBuf *b, const BecValue *v, int *pRc){
  int i;
  switch( v->eType ){
    case BEC_VAL_INT: bec_buf_appendf(b, pRc, "%lld", (long long)v->i); break;
    case BEC_VAL_REAL: bec_buf_appendf(b, pRc, "%!.17g", v->r); break;
    case BEC_VAL_TEXT:
      bec_buf_append_u8(b, '"', pRc);
      for(i=0; i<v->n; i++){
        u8 c = v->a[i];
        if( c=='"' || c=='\\' ) bec_buf_appendf(b, pRc, "\\%c", c);
        else if( c<0x20 ) bec_buf_appendf(b, pRc, "\\u%04x", c);
        else bec_buf_append_u8(b, c, pRc);
      }
      bec_buf_append_u8(b, '"', pRc);
      break;
    case BEC_VAL_BLOB: {
      char *z = sqlite3_malloc64((sqlite3_uint64)v->n*2 + 1);
      if( z==0 ){ *pRc = SQLITE_NOMEM; return; }
      bec_hex_encode(v->a, v->n, z);
      bec_buf_appendf(b, pRc, "\"%s\"", z);
      sqlite3_free(z);
      break;
    }
    default: bec_buf_appendf(b, pRc, "null"); break;
  }
}

void bec_table_json_value(BecBuf *b, const BecValue *v, int *pRc){
  json_value(b, v, pRc);
}

/* Column pk: the stored key, one value as itself, several as JSON. */
static int conflictsColumn(sqlite3_stmt *pStmt, sqlite3_context *ctx, int i){
  BecReader rd;
  BecValue aV[BEC_TABLE_MAX_COL];
  int n = 0, rc = SQLITE_OK;
  if( i!=1 ) return SQLITE_NOTFOUND;
  rd.a = sqlite3_column_blob(pStmt, 1);
  rd.n = sqlite3_column_bytes(pStmt, 1);
  rd.i = 0;
  while( rc==SQLITE_OK && rd.i<rd.n && n<BEC_TABLE_MAX_COL ){
    rc = bec_value_decode(&rd, &aV[n++]);
  }
  if( rc ){
    sqlite3_result_error(ctx, "bec_conflicts: corrupt key", -1);
  }else{
    bec_table_key_result(ctx, aV, n);
  }
  return SQLITE_OK;
}

void bec_table_key_result(sqlite3_context *ctx, const BecValue *aV, int n){
  int rc = SQLITE_OK, k;
  if( n==1 ){
    bec_value_result(ctx, &aV[0]);
  }else{
    BecBuf b;
    memset(&b, 0, sizeof(b));
    bec_buf_append_u8(&b, '[', &rc);
    for(k=0; k<n; k++){
      if( k ) bec_buf_append_u8(&b, ',', &rc);
      json_value(&b, &aV[k], &rc);
    }
    bec_buf_append_u8(&b, ']', &rc);
    if( rc==SQLITE_OK ) sqlite3_result_text(ctx, (char*)b.a, (int)b.n, SQLITE_TRANSIENT);
    else sqlite3_result_error_nomem(ctx);
    bec_buf_free(&b);
  }
}

static const BecTableDef conflictsDef = {
  "bec_conflicts",
  "CREATE TABLE x(\"table\" TEXT, pk, \"column\" TEXT, value, op TEXT, "
  "author TEXT)",
  "SELECT t.name, c.pk, k.name, c.value, lower(hex(o.hash)),"
  " lower(hex(a.pubkey))"
  " FROM bec_store_conflict c JOIN bec_store_table t ON t.seq=c.tbl"
  " JOIN bec_store_column k ON k.tbl=c.tbl AND k.idx=c.col"
  " JOIN bec_store_op o ON o.seq=c.seq"
  " JOIN bec_store_author a ON a.id=o.author WHERE c.col>=0",
  "ORDER BY t.name, c.pk, c.col, o.depth DESC, o.hash DESC",
  { { 0, 3, "t.name=?" } },
  conflictsColumn, 0
};

static void module_destroy(void *pArg){
  BecCtx *p = (BecCtx*)pArg;
  bec_crdt_free(p->pCrdt);
  p->pCrdt = 0;
  bec_ctx_unref(p);
}

int bec_table_register(sqlite3 *db, BecCtx *pCtx){
  BecCrdt *pC = 0;
  int rc = bec_crdt_get(pCtx, &pC);
  if( rc ) return rc;
  rc = sqlite3_create_module_v2(db, "bec", &becModule, bec_ctx_ref(pCtx),
                                module_destroy);
  if( rc==SQLITE_OK ){
    /* Harmless under attacker control: without a cursor bound by
    ** page_next it does nothing. */
    rc = sqlite3_create_function_v2(db, "bec_scan_page", -1,
        SQLITE_UTF8|SQLITE_DIRECTONLY, bec_ctx_ref(pCtx), scanPageFunc, 0, 0,
        bec_ctx_unref);
  }
  if( rc ) return rc;
  return bec_vtab_register_table(db, pCtx, &conflictsDef);
}
