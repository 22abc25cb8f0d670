/*
** bec_table.c - the "bec" virtual table module: CRDT-merged tables that
** read and write like plain ones.
**
**   CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT,
**                                       done INTEGER);   -- a schema op
**   CREATE VIRTUAL TABLE t2 USING bec(id TEXT PRIMARY KEY,
**       n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0), strict=1);
**                                        -- declared constraints, judged by
**                                        -- bec_crdt_constraints for local
**                                        -- statements and peers' ops alike
**   INSERT INTO todos VALUES('a', 'milk', 0);            -- a write op
**   UPDATE todos SET done=1 WHERE id='a';                -- another
**   SELECT * FROM todos WHERE id='a';                    -- a key lookup
**   SELECT * FROM bec_conflicts;                         -- lost values
**   ALTER TABLE todos RENAME TO tasks;    -- a RENAME TO op (xRename)
**   DROP TABLE tasks;                     -- a drop listing its incarnations
**
** Rows live in the shadow table "<name>_rows" (see bec_crdt.c), keyed by
** the primary key: a single INTEGER key is the shadow table's rowid, any
** other key a unique index.  Reads are queries on it that select only the
** columns a statement uses; xBestIndex turns comparisons of the rowid,
** equality on the first column of another key, and ORDER BY that column
** into lookups, in ways that give exactly what a full scan with the same
** filter gives whatever the affinity of the comparison (see "Plans" above
** tabBestIndex, and docs/tables.md "Reads").
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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* idxNum of a scan: a plan in the low bits, then flags.  Which columns
** the statement reads (colUsed) travels in idxStr, after "cols=". */
#define PLAN_FULL       0
#define PLAN_ROWID      1   /* rowid = ?1 */
#define PLAN_EQ         2   /* the first key column may equal ?1 (eq_bind) */
#define PLAN_RANGE      3   /* bounds on the rowid */
#define PLAN_MASK       7
#define IDX_LOWER       8   /* a lower bound ... */
#define IDX_LOWER_EQ    16  /* ... that is >= */
#define IDX_UPPER       32
#define IDX_UPPER_EQ    64
#define IDX_ORDER       128 /* ORDER BY the first key column */
#define IDX_DESC        256
#define IDX_UNPAGED     512 /* set by xFilter: more cells than a function
                            ** takes arguments, so rows one at a time */
#define IDX_LAZY        1024 /* the scan of an UPDATE: see "Lazy columns" */

/* The parameters of a PLAN_EQ statement (see eq_bind). */
#define EQ_NPARAM       11

/* Full scans read the shadow table a page of rows at a time, in rowid
** order.  Stepping an inner statement once per row costs about as much as
** the plain table's whole scan does per row, and each of its column values
** is one more call that takes the connection's mutex.  Instead the cursor
** holds one statement, "SELECT 1 FROM <rows> WHERE bec_scan_page(rowid,
** c..) ORDER BY rowid", whose WHERE function copies each row into the
** cursor's page and is false until the page holds PAGE_ROWS rows or
** PAGE_BYTES of text and blobs: one sqlite3_step() fills one page, and the
** next step goes on from the following row (SQLITE_DONE: the last page).
** No bounds are compared per row and no page seeks its first row.  Only
** the columns the statement uses (colUsed) are arguments. */
#define PAGE_ROWS      1024
#define PAGE_BYTES     (256*1024)

/* One value of a page: integers and reals as themselves, text and blobs as
** an offset into the page's byte buffer. */
typedef struct PageCell PageCell;
struct PageCell {
  union { i64 i; double r; } u;
  int eType;              /* SQLITE_INTEGER ... SQLITE_NULL, CELL_TEXT_Z */
  int n;                  /* bytes of text or blob */
};

/* The eType of a text cell followed by a terminator and without a NUL
** byte of its own. */
#define CELL_TEXT_Z    (SQLITE_TEXT | 0x100)

typedef struct BecCursor BecCursor;
struct BecCursor {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *pStmt;    /* owned while open (scan_take/scan_put) */
  int idxNum;
  u64 mCol;               /* the columns read, as colUsed (col_read) */
  int bEof;
  int nCell;              /* cells (result columns) per row: the rowid,
                          ** then each column read other than the rowid */
  int *aiCell;            /* column i's cell, -1 if not read (nCol of
                          ** them, in the cursor's own allocation) */
  /* Paged full scans. */
  int bPaged;
  int bDesc;              /* descending rowid order */
  int bDone;              /* pStmt has no rows past the current page */
  int bUnique;            /* row plans: at most one row (iRow counts them) */
  int nRow, iRow;         /* rows in the page, the current one */
  int nRowAlloc;
  int rcPage;             /* an error met while filling the page */
  PageCell *aCell;        /* nRow * nCell, in scan order */
  BecBuf bytes;           /* text and blob bytes of the page */
  /* Lazy columns (an UPDATE's full scan). */
  int bLazy;              /* the next pages read only the columns asked */
  u64 mAsked;             /* the columns xColumn gave a value of (as mCol) */
};

static void set_error(sqlite3_vtab *pVtab, char *zErr){
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = zErr;
}

/**************************************************************************
** Scan statements (the shadow-row statements of writes are bec_crdt.c's).
*/

/* 1 if column i is in mCol, a mask as colUsed: bit i for column i < 63,
** bit 63 for every column from 63 on. */
static int col_read(u64 mCol, int i){
  return (int)((mCol >> (i<63 ? i : 63)) & 1);
}

/* 1 if column i is the shadow table's rowid (an INTEGER key). */
static int col_is_rowid(const BecSchema *s, int i){
  return s->bIntPk && s->aCol[i].iPk;
}

/* Fills aiCell (column -> cell, -1 if not read) for a scan reading mCol,
** and returns the number of cells: the rowid first, then each column
** read, in column order; an INTEGER key is the rowid's cell.  The scan
** statements select exactly these (scan_cells). */
static int col_map(const BecSchema *s, u64 mCol, int *aiCell){
  int i, n = 1;
  for(i=0; i<s->nCol; i++){
    if( !col_read(mCol, i) ) aiCell[i] = -1;
    else if( col_is_rowid(s, i) ) aiCell[i] = 0;
    else aiCell[i] = n++;
  }
  return n;
}

static void scan_cells(const BecSchema *s, u64 mCol, BecBuf *b, int *pRc){
  int i;
  bec_buf_appendf(b, pRc, "rowid");
  for(i=0; i<s->nCol; i++){
    if( col_read(mCol, i) && !col_is_rowid(s, i) ) bec_buf_appendf(b, pRc, ", c%d", i);
  }
}

/* 1 if scans of plan idxNum are paged: full scans and rowid ranges,
** unordered or ordered by an INTEGER key, which is the rowid. */
static int scan_is_paged(const BecTab *t, int idxNum){
  return ((idxNum & PLAN_MASK)==PLAN_FULL || (idxNum & PLAN_MASK)==PLAN_RANGE)
      && (!(idxNum & IDX_ORDER) || t->pSchema->bIntPk)
      && !(idxNum & IDX_UNPAGED);
}

/* The bounds of a PLAN_RANGE on the rowid, ?1 and ?2, as "AND" terms. */
static void scan_sql_range(int idxNum, BecBuf *b, int *pRc){
  int iArg = 1;
  if( idxNum & IDX_LOWER ){
    bec_buf_appendf(b, pRc, " AND rowid%s?%d", (idxNum & IDX_LOWER_EQ) ? ">=" : ">", iArg++);
  }
  if( idxNum & IDX_UPPER ){
    bec_buf_appendf(b, pRc, " AND rowid%s?%d", (idxNum & IDX_UPPER_EQ) ? "<=" : "<", iArg++);
  }
}

/* The SQL of a paged scan: one step fills one page (see PAGE_ROWS).  The
** bounds of a range are seeks on the rowid, so only rows within them reach
** bec_scan_page(). */
static void scan_sql_paged(const BecTab *t, int idxNum, u64 mCol, BecBuf *b, int *pRc){
  bec_buf_appendf(b, pRc, "SELECT 1 FROM %s WHERE 1", t->zRows);
  if( (idxNum & PLAN_MASK)==PLAN_RANGE ) scan_sql_range(idxNum, b, pRc);
  bec_buf_appendf(b, pRc, " AND bec_scan_page(");
  scan_cells(t->pSchema, mCol, b, pRc);
  bec_buf_appendf(b, pRc, ") ORDER BY rowid%s", (idxNum & IDX_DESC) ? " DESC" : "");
}

/* The SQL of a row-at-a-time scan: the cells of the rows of plan idxNum. */
static void scan_sql_rows(const BecTab *t, int idxNum, u64 mCol, BecBuf *b, int *pRc){
  const BecSchema *s = t->pSchema;
  const char *zK0;
  char zKey[16];
  if( s->bIntPk ){
    zK0 = "rowid";
  }else{
    snprintf(zKey, sizeof(zKey), "c%d", s->aPk[0]);
    zK0 = zKey;
  }
  bec_buf_appendf(b, pRc, "SELECT ");
  scan_cells(s, mCol, b, pRc);
  bec_buf_appendf(b, pRc, " FROM %s", t->zRows);
  switch( idxNum & PLAN_MASK ){
    case PLAN_ROWID:
      bec_buf_appendf(b, pRc, " WHERE rowid=?1");
      break;
    case PLAN_EQ: {
      /* ?1..?3 values, then four [lower, upper) ranges (eq_bind). */
      int k;
      bec_buf_appendf(b, pRc, " WHERE (%s=?1 OR %s=?2 OR %s=?3", zK0, zK0, zK0);
      for(k=4; k<EQ_NPARAM; k+=2){
        bec_buf_appendf(b, pRc, " OR (%s>=?%d AND %s<?%d)", zK0, k, zK0, k+1);
      }
      bec_buf_appendf(b, pRc, ")");
      break;
    }
    case PLAN_RANGE:
      bec_buf_appendf(b, pRc, " WHERE 1");
      scan_sql_range(idxNum, b, pRc);
      break;
  }
  if( idxNum & IDX_ORDER ){
    bec_buf_appendf(b, pRc, " ORDER BY %s%s", zK0, (idxNum & IDX_DESC) ? " DESC" : "");
  }
}

/* The scan statement of idxNum reading mCol, taken from the cache or
** prepared; the cursor owns it until it gives it back (scan_put).  A full
** cache only means one more prepare. */
static int scan_take(BecTab *t, int idxNum, u64 mCol, sqlite3_stmt **ppStmt){
  BecBuf b;
  int rc = SQLITE_OK, i;
  for(i=0; i<BEC_TAB_NSCAN; i++){
    if( t->aScan[i].pStmt && t->aScan[i].idxNum==idxNum && t->aScan[i].mCol==mCol ){
      *ppStmt = t->aScan[i].pStmt;
      t->aScan[i].pStmt = 0;
      return SQLITE_OK;
    }
  }
  memset(&b, 0, sizeof(b));
  if( scan_is_paged(t, idxNum) ){
    scan_sql_paged(t, idxNum, mCol, &b, &rc);
  }else{
    scan_sql_rows(t, idxNum, mCol, &b, &rc);
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

/* Gives a scan statement back to the cache: into a free slot, preferably
** the one it came from; with no free slot it is finalized (the next scan
** of that plan prepares it again). */
static void scan_put(BecTab *t, int idxNum, u64 mCol, sqlite3_stmt *pStmt){
  int i, iFree = -1;
  if( pStmt==0 ) return;
  sqlite3_reset(pStmt);
  for(i=0; i<BEC_TAB_NSCAN; i++){
    if( t->aScan[i].pStmt==0 ){
      if( t->aScan[i].idxNum==idxNum && t->aScan[i].mCol==mCol ){ iFree = i; break; }
      if( iFree<0 ) iFree = i;
    }
  }
  if( iFree<0 ){
    sqlite3_finalize(pStmt);
  }else{
    t->aScan[iFree].idxNum = idxNum;
    t->aScan[iFree].mCol = mCol;
    t->aScan[iFree].pStmt = pStmt;
  }
}

/* Frees t (BecTab.xFree: after the last hold is released). */
static void tab_mem_free(BecTab *t){
  int i;
  bec_tab_stmts_free(t);
  for(i=0; i<BEC_TAB_NSCAN; i++) sqlite3_finalize(t->aScan[i].pStmt);
  bec_schema_free(t->pSchema);
  sqlite3_free(t->zRows);
  sqlite3_free(t->base.zErrMsg);
  sqlite3_free(t);
}

/* SQLite lets go of t (xDisconnect, xDestroy, a failed xCreate or
** xConnect): the merge no longer finds it, and frees it once no merge
** frame holds it either. */
static void tab_free(BecTab *t){
  BecTab **pp;
  if( t==0 ) return;
  if( t->pCtx->pCrdt ){
    for(pp=&t->pCtx->pCrdt->pTabList; *pp; pp=&(*pp)->pNext){
      if( *pp==t ){ *pp = t->pNext; break; }
    }
  }
  bec_tab_release(t);
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

/* The end of a parenthesised span starting at z ('('): just past its ')',
** skipping literals and quoted names; 0 if it does not close. */
static const char *span_paren(const char *z){
  int depth = 0;
  for(; *z; z++){
    char q = *z;
    const char *zEnd = bec_sql_skip_quoted(z);
    if( zEnd==0 ) return 0;
    if( zEnd!=z ){
      z = zEnd;
    }else if( q=='(' ){
      depth++;
    }else if( q==')' ){
      if( --depth==0 ) return z+1;
    }
  }
  return 0;
}

/* The text of an expression as the schema op records it: outer white space
** trimmed, runs of white space outside literals one space.  From
** sqlite3_malloc64 (0 if out of memory). */
static char *norm_ws(const char *z, int n){
  char *zOut = sqlite3_malloc64((sqlite3_uint64)n + 1);
  int i = 0, j = 0;
  if( zOut==0 ) return 0;
  while( i<n && is_space(z[i]) ) i++;
  while( n>i && is_space(z[n-1]) ) n--;
  while( i<n ){
    char q = z[i];
    if( q=='\'' || q=='"' || q=='`' || q=='[' ){
      char e = q=='[' ? ']' : q;
      zOut[j++] = z[i++];
      while( i<n && z[i]!=e ) zOut[j++] = z[i++];
      if( i<n ) zOut[j++] = z[i++];
    }else if( is_space(q) ){
      while( i<n && is_space(z[i]) ) i++;
      zOut[j++] = ' ';
    }else{
      zOut[j++] = z[i++];
    }
  }
  zOut[j] = 0;
  return zOut;
}

/* What a declaration is being parsed into: the columns, their constraints,
** and the storage the texts and values use until bec_schema_new and
** bec_schema_constrain copy them. */
typedef struct Parse Parse;
struct Parse {
  BecCtx *pCtx;
  const char *zTab;
  BecSchemaDecl d;
  char *azText[BEC_TABLE_MAX_CHECK];              /* check texts, owned */
  char *azCName[BEC_TABLE_MAX_CHECK];             /* check names, owned */
  sqlite3_value *apDflt[BEC_TABLE_MAX_COL];       /* DEFAULTs, owned */
  char *zErr;
};

static void parse_free(Parse *pP){
  int i;
  for(i=0; i<BEC_TABLE_MAX_CHECK; i++){
    sqlite3_free(pP->azText[i]);
    sqlite3_free(pP->azCName[i]);
  }
  for(i=0; i<BEC_TABLE_MAX_COL; i++) sqlite3_value_free(pP->apDflt[i]);
}

/* "CHECK (expr)" at *pz (past the word CHECK): records it, named zName
** (may be 0). */
static int parse_check(Parse *pP, const char **pz, const char *zName){
  const char *z = *pz, *zEnd;
  int i = pP->d.nCheck;
  while( is_space(*z) ) z++;
  if( *z!='(' || (zEnd = span_paren(z))==0 ){
    pP->zErr = sqlite3_mprintf("bec: table %s: CHECK needs a parenthesised "
                               "expression", pP->zTab);
    return SQLITE_ERROR;
  }
  if( i>=BEC_TABLE_MAX_CHECK ){
    pP->zErr = sqlite3_mprintf("bec: table %s: at most %d CHECK constraints",
                               pP->zTab, BEC_TABLE_MAX_CHECK);
    return SQLITE_ERROR;
  }
  pP->azText[i] = norm_ws(z+1, (int)(zEnd-z-2));
  pP->azCName[i] = sqlite3_mprintf("%s", zName ? zName : "");
  if( pP->azText[i]==0 || pP->azCName[i]==0 ) return SQLITE_NOMEM;
  if( strlen(pP->azText[i])>BEC_CHECK_MAX_TEXT ){
    pP->zErr = sqlite3_mprintf("bec: table %s: a CHECK has at most %d bytes",
                               pP->zTab, BEC_CHECK_MAX_TEXT);
    return SQLITE_ERROR;
  }
  pP->d.aCheck[i].zExpr = pP->azText[i];
  pP->d.aCheck[i].nExpr = (int)strlen(pP->azText[i]);
  pP->d.aCheck[i].zName = pP->azCName[i];
  pP->d.aCheck[i].nName = (int)strlen(pP->azCName[i]);
  pP->d.nCheck++;
  *pz = zEnd;
  return SQLITE_OK;
}

/* "DEFAULT value" at *pz (past the word DEFAULT) for column iCol. */
static int parse_default(Parse *pP, const char **pz, int iCol,
                         const char *zCol){
  const char *z = *pz, *zStart;
  char *zWhy = 0;
  int rc;
  while( is_space(*z) ) z++;
  zStart = z;
  if( *z=='(' ){
    z = span_paren(z);
    if( z==0 ) z = zStart + strlen(zStart);
  }else{
    if( *z=='+' || *z=='-' ) z++;
    while( is_space(*z) ) z++;
    if( *z=='\'' || ((*z=='x' || *z=='X') && z[1]=='\'') ){
      if( *z!='\'' ) z++;
      for(z++; *z; z++){
        if( *z=='\'' ){
          if( z[1]=='\'' ){ z++; continue; }
          z++;
          break;
        }
      }
    }else{
      while( *z && !is_space(*z) ) z++;
    }
  }
  if( word_is(zStart, "CURRENT_TIME") || word_is(zStart, "CURRENT_DATE")
   || word_is(zStart, "CURRENT_TIMESTAMP") ){
    pP->zErr = sqlite3_mprintf("bec: column %s: DEFAULT %.*s is not a constant "
        "(the fill must be the same on every replica)", zCol,
        (int)(z-zStart), zStart);
    return SQLITE_ERROR;
  }
  rc = bec_crdt_default_value(pP->pCtx, zStart, (int)(z-zStart),
                              &pP->apDflt[iCol], &zWhy);
  if( rc==SQLITE_OK && zWhy ) rc = SQLITE_ERROR;
  if( rc==SQLITE_OK ){
    rc = bec_value_of(pP->apDflt[iCol], &pP->d.aDflt[iCol]);
    pP->d.aFlags[iCol] |= BEC_COL_DEFAULT;
  }else if( zWhy ){
    pP->zErr = sqlite3_mprintf("bec: column %s: %s", zCol, zWhy);
  }
  sqlite3_free(zWhy);
  *pz = z;
  return rc;
}

static const char zNoUnique[] = "UNIQUE is not supported: two members can "
  "write the same value concurrently and no replica can refuse either (make "
  "the column the PRIMARY KEY: rows with equal keys merge into one)";
static const char zNoForeign[] = "FOREIGN KEY is not supported: a parent row "
  "can be deleted concurrently with the insert of a child, and no replica can "
  "refuse either (keep the reference as a plain column and treat a missing "
  "parent as absent)";

/* A table option "name=value" at z: strict=1|0, write='admin'|'member'. */
static int parse_option(Parse *pP, const char *z){
  char zOpt[16], zVal[16];
  int n = 0;
  while( n<(int)sizeof(zOpt)-1 && ((*z>='a' && *z<='z') || (*z>='A' && *z<='Z')
                                  || *z=='_') ){
    zOpt[n++] = *z++;
  }
  zOpt[n] = 0;
  while( is_space(*z) ) z++;
  if( n>0 && *z=='=' ){
    z++;
    while( is_space(*z) ) z++;
    if( *z=='\'' ){
      int k = 0;
      for(z++; *z && *z!='\'' && k<(int)sizeof(zVal)-1; z++) zVal[k++] = *z;
      zVal[k] = 0;
      if( *z=='\'' ) z++;
    }else{
      int k = 0;
      while( *z && !is_space(*z) && k<(int)sizeof(zVal)-1 ) zVal[k++] = *z++;
      zVal[k] = 0;
    }
    while( is_space(*z) ) z++;
    if( *z==0 && sqlite3_stricmp(zOpt, "strict")==0
     && (strcmp(zVal, "1")==0 || strcmp(zVal, "0")==0) ){
      if( zVal[0]=='1' ) pP->d.opts |= BEC_OPT_STRICT;
      return SQLITE_OK;
    }
    if( *z==0 && sqlite3_stricmp(zOpt, "write")==0
     && (sqlite3_stricmp(zVal, "admin")==0 || sqlite3_stricmp(zVal, "member")==0) ){
      if( sqlite3_stricmp(zVal, "admin")==0 ) pP->d.opts |= BEC_OPT_ADMIN;
      return SQLITE_OK;
    }
  }
  pP->zErr = sqlite3_mprintf("bec: table %s: unknown option (bec takes "
      "strict=1 and write='admin' or write='member')", pP->zTab);
  return SQLITE_ERROR;
}

/* 1 if the argument z is a table option: a name followed by '='. */
static int is_option(const char *z){
  int n = 0;
  while( (*z>='a' && *z<='z') || (*z>='A' && *z<='Z') || *z=='_' ){ z++; n++; }
  while( is_space(*z) ) z++;
  return n>0 && *z=='=';
}

/* Parses the module arguments into a schema, with its constraints judged
** (bec_crdt_schema_judge).  *pzErr says what is wrong. */
static int parse_args(BecCtx *pCtx, int eAction, const char *zTab, int nArg,
                      const char *const *azArg, BecSchema **pp, char **pzErr){
  const char *azCol[BEC_TABLE_MAX_COL], *azType[BEC_TABLE_MAX_COL];
  int anCol[BEC_TABLE_MAX_COL], anType[BEC_TABLE_MAX_COL], aiPk[BEC_TABLE_MAX_COL];
  char (*aName)[BEC_TABLE_MAX_NAME+1] = 0;
  char *zTypes = 0;
  Parse *pP = 0;
  int nCol = 0, nPk = 0, bTablePk = 0, i, rc = SQLITE_OK;

  *pp = 0;
  aName = sqlite3_malloc64((sqlite3_uint64)BEC_TABLE_MAX_COL*(BEC_TABLE_MAX_NAME+1));
  zTypes = sqlite3_malloc64((sqlite3_uint64)BEC_TABLE_MAX_COL*(BEC_TABLE_MAX_TYPE+1));
  pP = sqlite3_malloc64(sizeof(Parse));
  if( aName==0 || zTypes==0 || pP==0 ) rc = SQLITE_NOMEM;
  else{
    memset(pP, 0, sizeof(*pP));
    pP->pCtx = pCtx;
    pP->zTab = zTab;
    pP->d.iCheckVersion = BEC_CHECK_VERSION;
  }
  for(i=0; rc==SQLITE_OK && i<nArg; i++){
    const char *z = azArg[i];
    char zCName[BEC_TABLE_MAX_NAME+1];
    int bCName = 0;
    while( is_space(*z) ) z++;
    if( word_is(z, "CONSTRAINT") ){
      z += 10;
      if( read_ident(&z, zCName, sizeof(zCName))<=0 ){ rc = SQLITE_ERROR; break; }
      bCName = 1;
      while( is_space(*z) ) z++;
    }
    if( word_is(z, "CHECK") ){
      z += 5;
      rc = parse_check(pP, &z, bCName ? zCName : 0);
      while( rc==SQLITE_OK && is_space(*z) ) z++;
      if( rc==SQLITE_OK && *z ) rc = SQLITE_ERROR;
      continue;
    }
    if( word_is(z, "UNIQUE") ){
      pP->zErr = sqlite3_mprintf("bec: table %s: %s", zTab, zNoUnique);
      rc = SQLITE_ERROR;
      break;
    }
    if( word_is(z, "FOREIGN") ){
      pP->zErr = sqlite3_mprintf("bec: table %s: %s", zTab, zNoForeign);
      rc = SQLITE_ERROR;
      break;
    }
    if( !bCName && is_option(z) ){
      rc = parse_option(pP, z);
      continue;
    }
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
          pP->zErr = sqlite3_mprintf("bec: PRIMARY KEY names unknown or repeated "
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
    if( bCName ){ rc = SQLITE_ERROR; break; }
    if( nCol>=BEC_TABLE_MAX_COL ){
      pP->zErr = sqlite3_mprintf("bec: a table has at most %d columns",
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
         || word_is(z, "HIDDEN") || word_is(z, "COUNTER")) ){
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
        pP->zErr = sqlite3_mprintf("bec: column %s: unsupported type \"%.*s\"",
                                   aName[nCol], (int)(zEnd-zStart), zStart);
        rc = SQLITE_ERROR;
        break;
      }
      memcpy(zT, zStart, (size_t)(zEnd-zStart));
      zT[zEnd-zStart] = 0;
      azType[nCol] = zT;
      anType[nCol] = (int)(zEnd-zStart);
    }
    /* Column constraints. */
    pP->d.aFlags[nCol] = 0;
    for(;;){
      const char *zName = 0;
      while( is_space(*z) ) z++;
      if( *z==0 ) break;
      if( word_is(z, "CONSTRAINT") ){
        z += 10;
        if( read_ident(&z, zCName, sizeof(zCName))<=0 ){ rc = SQLITE_ERROR; break; }
        zName = zCName;
        while( is_space(*z) ) z++;
      }
      if( word_is(z, "PRIMARY") ){
        if( !skip_primary_key(&z) ){ rc = SQLITE_ERROR; break; }
        if( word_is(z, "ASC") ) z += 3;
        if( nPk ){
          pP->zErr = sqlite3_mprintf("bec: table %s has more than one primary "
                                     "key", zTab);
          rc = SQLITE_ERROR;
          break;
        }
        aiPk[nCol] = ++nPk;
      }else if( word_is(z, "NOT") ){
        z += 3;
        while( is_space(*z) ) z++;
        if( !word_is(z, "NULL") ){ rc = SQLITE_ERROR; break; }
        z += 4;
        pP->d.aFlags[nCol] |= BEC_COL_NOTNULL;
      }else if( word_is(z, "NULL") ){
        z += 4;
      }else if( word_is(z, "DEFAULT") ){
        z += 7;
        if( pP->d.aFlags[nCol] & BEC_COL_DEFAULT ){ rc = SQLITE_ERROR; break; }
        rc = parse_default(pP, &z, nCol, aName[nCol]);
        if( rc ) break;
      }else if( word_is(z, "CHECK") ){
        z += 5;
        rc = parse_check(pP, &z, zName);
        if( rc ) break;
      }else if( word_is(z, "COUNTER") ){
        /* merges by addition (docs/tables.md, "Counters"); `n COUNTER`
        ** is an INTEGER column */
        z += 7;
        pP->d.aFlags[nCol] |= BEC_COL_COUNTER;
        if( anType[nCol]==0 ){
          azType[nCol] = "INTEGER";
          anType[nCol] = 7;
        }
      }else if( word_is(z, "COLLATE") ){
        char zColl[16];
        z += 7;
        if( read_ident(&z, zColl, sizeof(zColl))<=0 ){ rc = SQLITE_ERROR; break; }
        if( sqlite3_stricmp(zColl, "NOCASE")==0 ){
          pP->d.aFlags[nCol] |= BEC_COL_NOCASE;
        }else if( sqlite3_stricmp(zColl, "RTRIM")==0 ){
          pP->d.aFlags[nCol] |= BEC_COL_RTRIM;
        }else if( sqlite3_stricmp(zColl, "BINARY")!=0 ){
          pP->zErr = sqlite3_mprintf("bec: column %s: COLLATE %s is not "
              "supported: only BINARY, NOCASE and RTRIM, built into SQLite, "
              "compare alike on every replica", aName[nCol], zColl);
          rc = SQLITE_ERROR;
          break;
        }
      }else if( word_is(z, "UNIQUE") ){
        pP->zErr = sqlite3_mprintf("bec: column %s: %s", aName[nCol], zNoUnique);
        rc = SQLITE_ERROR;
        break;
      }else if( word_is(z, "REFERENCES") ){
        pP->zErr = sqlite3_mprintf("bec: column %s: %s", aName[nCol], zNoForeign);
        rc = SQLITE_ERROR;
        break;
      }else{
        pP->zErr = sqlite3_mprintf("bec: column %s: unsupported constraint "
            "\"%s\" (bec columns take a type, PRIMARY KEY, NOT NULL, DEFAULT, "
            "CHECK, COLLATE and COUNTER; GENERATED, AUTOINCREMENT and conflict clauses "
            "are not supported)", aName[nCol], z);
        rc = SQLITE_ERROR;
        break;
      }
    }
    if( rc ) break;
    nCol++;
  }
  if( rc==SQLITE_ERROR && pP && pP->zErr==0 ){
    pP->zErr = sqlite3_mprintf("bec: cannot parse the declaration of table %s",
                               zTab);
  }
  if( rc==SQLITE_OK ){
    rc = bec_schema_new(eAction, zTab, (int)strlen(zTab), nCol,
                        azCol, anCol, azType, anType, aiPk, pp);
  }
  if( rc==SQLITE_OK ) rc = bec_schema_constrain(*pp, &pP->d);
  if( rc==SQLITE_OK ){
    char *zWhy = 0;
    rc = bec_crdt_schema_judge(pCtx, *pp, &pP->d, 1, &zWhy);
    if( zWhy ){
      pP->zErr = sqlite3_mprintf("bec: %s", zWhy);
      sqlite3_free(zWhy);
      if( rc==SQLITE_OK ) rc = SQLITE_ERROR;
    }
  }
  if( rc && *pp ){
    bec_schema_free(*pp);
    *pp = 0;
  }
  if( pP ){
    *pzErr = pP->zErr;
    parse_free(pP);
  }
  sqlite3_free(pP);
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
    char *zId;
    if( s->aCol[i].bHidden ){
      /* A dropped or hidden column keeps its place (the index writes name
      ** it by), out of SELECT * and INSERT, under a name no column can
      ** have (column names hold no control characters). */
      bec_buf_appendf(&b, &rc, "%s\"bec_hidden_%d\x01\" HIDDEN", i ? ", " : "", i);
      continue;
    }
    zId = bec_sql_ident(s->aCol[i].zName, 0);
    if( zId==0 ) rc = SQLITE_NOMEM;
    bec_buf_appendf(&b, &rc, "%s%s %s%s", i ? ", " : "", zId ? zId : "",
                    bec_type_sql(&s->aCol[i]), bec_collate_sql(&s->aCol[i]));
    sqlite3_free(zId);
  }
  bec_buf_appendf(&b, &rc, ")");
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ) rc = sqlite3_declare_vtab(db, (const char*)b.a);
  bec_buf_free(&b);
  return rc;
}

/* Appends a local schema op.  bDDL: from xCreate, xDestroy or xRename,
** whose statement is the DDL of the op (the merge runs none: bNested);
** else (bec_alter) the merge declares the tables the op changes. */
static int append_schema(BecCtx *p, const BecSchema *s, int bDDL, u8 *aHash,
                         char **pzErr){
  BecCrdt *pC = p->pCrdt;
  BecBuf pay;
  int rc = SQLITE_OK;
  int bNested = p->bNested;
  if( pC->bTxn && pC->nChange>0 ){
    *pzErr = sqlite3_mprintf("bec: commit the writes to bec tables before "
        "creating, altering or dropping a bec table in the same transaction");
    return SQLITE_ERROR;
  }
  memset(&pay, 0, sizeof(pay));
  bec_schema_encode(&pay, s, &rc);
  if( rc ) return rc;
  if( bDDL ) p->bNested = 1;
  {
    /* e2ee: in an encrypted group the op carries the envelope. */
    BecBuf sealed;
    memset(&sealed, 0, sizeof(sealed));
    rc = bec_e2ee_seal(p, BEC_KIND_SCHEMA, pay.a, pay.n, 1, 0, &sealed, pzErr);
    if( rc==SQLITE_OK ){
      rc = bec_dag_append(p, BEC_KIND_SCHEMA, sealed.n ? sealed.a : pay.a,
                          sealed.n ? sealed.n : pay.n, aHash, pzErr);
    }
    bec_buf_free(&sealed);
  }
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
  int iSchema = 0, bShow = 0;
  int rc;

  *ppVtab = 0;
  if( sqlite3_stricmp(argv[1], "main") ){
    *pzErr = sqlite3_mprintf("bec: bec tables live in the main database");
    return SQLITE_ERROR;
  }
  rc = bec_crdt_get(p, &pC);
  if( rc==SQLITE_OK ) rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK && bCreate && pC->iShowing ){
    /* The merge showing the winner of the name, as the ops make it. */
    rc = bec_crdt_winner(p, zName, &iSchema);
    if( rc==SQLITE_OK && iSchema!=pC->iShowing ){
      zErr = sqlite3_mprintf("bec: table %s is not the one being shown", zName);
      rc = SQLITE_ERROR;
    }
    bShow = 1;
  }else if( rc==SQLITE_OK && bCreate ){
    /* Showing the group's table of that name (the merge shows the winning
    ** create with the declaration it implies), or a new table? */
    int bSame = 0;
    rc = parse_args(p, BEC_SCHEMA_CREATE, zName, argc-3, &argv[3], &s, &zErr);
    if( rc==SQLITE_OK ) rc = bec_crdt_winner(p, zName, &iSchema);
    if( rc==SQLITE_OK && iSchema ){
      rc = bec_crdt_schema_is(p, iSchema, s, &bSame, &zErr);
    }
    bec_schema_free(s);
    s = 0;
    if( !bSame ) iSchema = 0;
    bShow = iSchema!=0;
  }
  if( rc==SQLITE_OK && bCreate ){
    /* SQLite checked zName; its shadow table's name may be the app's
    ** (refused before anything is signed or shown). */
    char *zWhy = 0;
    rc = bec_crdt_name_taken(p, zName, &zWhy);
    if( rc==SQLITE_OK && zWhy ){
      zErr = sqlite3_mprintf("bec: table %s cannot be created: %s",
                             zName, zWhy);
      rc = SQLITE_ERROR;
    }
    sqlite3_free(zWhy);
  }
  if( rc==SQLITE_OK && bCreate && iSchema==0 ){
    /* A new table: sign the schema op first. */
    u8 aHash[BEC_HASH_BYTES];
    int iWin = 0;
    {
      BecSchema *pNew = 0;
      rc = parse_args(p, BEC_SCHEMA_CREATE, zName, argc-3, &argv[3], &pNew, &zErr);
      if( rc==SQLITE_OK ) rc = append_schema(p, pNew, 1, aHash, &zErr);
      bec_schema_free(pNew);
    }
    if( rc==SQLITE_OK ) rc = bec_dag_seq_of(p, aHash, &iSchema);
    if( rc==SQLITE_OK ) rc = bec_crdt_winner(p, zName, &iWin);
    if( rc==SQLITE_OK && iWin!=iSchema ){
      zErr = sqlite3_mprintf("bec: table %s: the new schema op lost to a "
                             "concurrent one", zName);
      rc = SQLITE_ERROR;
    }
  }else if( rc==SQLITE_OK && !bCreate ){
    rc = bec_crdt_winner(p, zName, &iSchema);
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
    t->nRef = 1;                  /* SQLite's */
    t->xFree = tab_mem_free;
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
    /* A table of the group shown now: its rows, from the ops. */
    if( bShow ) rc = bec_crdt_show_rows(t, &zErr);
  }
  if( rc==SQLITE_OK ){
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

/* Finalizes the cached scans of t: before DDL on its shadow table. */
static void scans_free(BecTab *t){
  int i;
  for(i=0; i<BEC_TAB_NSCAN; i++){
    sqlite3_finalize(t->aScan[i].pStmt);
    t->aScan[i].pStmt = 0;
  }
}

static int tabDestroy(sqlite3_vtab *pVtab){
  BecTab *t = (BecTab*)pVtab;
  BecCtx *p = t->pCtx;
  char *zErr = 0;
  int rc, iWin = 0;
  /* Which incarnation does the name show, by the stored ops?  The merge
  ** drops a virtual table when the name shows another one or none (stored
  ** already, the catalog not yet told); a DROP TABLE of the one still
  ** shown is the app's: sign it first. */
  rc = bec_crdt_winner_of_ops(p, t->pSchema->zName, &iWin, &zErr);
  /* (the merge declaring the table again with other columns: an alter) */
  if( rc==SQLITE_OK && p->pCrdt && p->pCrdt->bRedeclare ) iWin = 0;
  if( rc==SQLITE_OK && iWin==t->iSchema ){
    /* The drop lists the incarnations of the name here, shown or hidden:
    ** a create of the name made concurrently survives it.  More than one
    ** drop payload holds (BEC_DROP_MAX: hostile concurrent creates) are
    ** listed by several drop ops, signed in this transaction. */
    BecSchema *s = 0;
    u8 aHash[BEC_HASH_BYTES];
    u8 *aAll = 0;
    int nAll = 0, i;
    const char *zName = t->pSchema->zName;
    rc = bec_schema_new(BEC_SCHEMA_DROP, zName, (int)strlen(zName), 0, 0, 0, 0,
                        0, 0, &s);
    if( rc==SQLITE_OK ) rc = bec_crdt_incarnations(p, zName, &aAll, &nAll, &zErr);
    for(i=0; rc==SQLITE_OK && i<nAll; i+=BEC_DROP_MAX){
      /* (s borrows each slice of aAll: cleared before it is freed) */
      s->aDrop = &aAll[(i64)i*BEC_HASH_BYTES];
      s->nDrop = nAll-i<BEC_DROP_MAX ? nAll-i : BEC_DROP_MAX;
      rc = append_schema(p, s, 1, aHash, &zErr);
    }
    if( s ){ s->aDrop = 0; s->nDrop = 0; }
    sqlite3_free(aAll);
    bec_schema_free(s);
  }
  if( rc==SQLITE_OK ){
    scans_free(t);
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
/* Plans, and why each is exact.  SQLite compares a column with a value
** under an affinity that depends on the other operand's, which a virtual
** table is never told (a bound parameter, a literal, a CAST or a column of
** another table), and that may turn text into numbers or numbers into
** text.  So:
**   - the rowid, or an INTEGER key (which is the rowid and always an
**     integer): =, <, <=, >, >= are answered by the shadow table's rowid,
**     compared by SQLite under the same INTEGER affinity: exact, and
**     SQLite is told not to check again (omit);
**   - = on the first column of any other key: the rows whose key may equal
**     the value under any affinity (eq_bind), each checked again by SQLite;
**   - ranges on such a key: a full scan that SQLite filters, since under a
**     TEXT affinity numbers order as their text;
**   - ORDER BY the first key column: the shadow index's order, which is
**     SQLite's order of values (no affinity applies to ORDER BY).
** Only the columns the statement uses (colUsed) are read: their mask goes
** to xFilter in idxStr, after "cols=". */
static int tabBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  BecTab *t = (BecTab*)pVtab;
  const BecSchema *s = t->pSchema;
  int iRowidEq = -1, iKeyEq = -1, iLower = -1, iUpper = -1;
  int idxNum = PLAN_FULL, i, nArg = 0;
  double rCost = 1e6, nRows = 1e6;
  const int iK0 = s->aPk[0];
  const char *zPlan = "scan";
  u64 mCol = pInfo->colUsed;

  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    int iCol = pC->iColumn;
    if( !pC->usable ) continue;
    if( iCol<0 || col_is_rowid(s, iCol) ){
      switch( pC->op ){
        case SQLITE_INDEX_CONSTRAINT_EQ: iRowidEq = i; break;
        case SQLITE_INDEX_CONSTRAINT_GT:
        case SQLITE_INDEX_CONSTRAINT_GE: iLower = i; break;
        case SQLITE_INDEX_CONSTRAINT_LT:
        case SQLITE_INDEX_CONSTRAINT_LE: iUpper = i; break;
      }
    }else if( iCol==iK0 && pC->op==SQLITE_INDEX_CONSTRAINT_EQ
           && sqlite3_limit(t->pCtx->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1)>=EQ_NPARAM ){
      iKeyEq = i;         /* (a lookup's statement has EQ_NPARAM parameters) */
    }
  }
  if( iRowidEq>=0 ){
    idxNum = PLAN_ROWID;
    zPlan = "rowid=";
    pInfo->aConstraintUsage[iRowidEq].argvIndex = ++nArg;
    pInfo->aConstraintUsage[iRowidEq].omit = 1;
    pInfo->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
    rCost = 1; nRows = 1;
  }else if( iKeyEq>=0 ){
    idxNum = PLAN_EQ;
    zPlan = "key=";
    pInfo->aConstraintUsage[iKeyEq].argvIndex = ++nArg;
    rCost = s->nPk>1 ? 100 : 10; nRows = s->nPk>1 ? 100 : 1;
  }else if( iLower>=0 || iUpper>=0 ){
    idxNum = PLAN_RANGE;
    zPlan = "rowid-range";
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
  if( s->nCol<63 ){
    /* SQLite sets every bit of colUsed, those past the last column too,
    ** for the scan of an UPDATE of a virtual table (no query sets those):
    ** its columns are read lazily ("Lazy columns"). */
    if( (mCol >> s->nCol)!=0 && idxNum==PLAN_FULL ) idxNum |= IDX_LAZY;
    mCol &= ((u64)1 << s->nCol) - 1;
  }
  pInfo->idxStr = sqlite3_mprintf("%s%s cols=%llx", zPlan,
      (idxNum & IDX_ORDER) ? ((idxNum & IDX_DESC) ? " order desc" : " order") : "",
      (unsigned long long)mCol);
  if( pInfo->idxStr==0 ) return SQLITE_NOMEM;
  pInfo->needToFreeIdxStr = 1;
  pInfo->idxNum = idxNum;
  pInfo->estimatedCost = rCost;
  pInfo->estimatedRows = (sqlite3_int64)nRows;
  return SQLITE_OK;
}

/* The columns a plan's idxStr says the statement reads; every column if
** it says nothing readable (never fewer than it asked for). */
static u64 idx_cols(const BecSchema *s, const char *idxStr){
  const char *z = idxStr ? strstr(idxStr, "cols=") : 0;
  u64 m = 0;
  int n = 0;
  if( z==0 ) return ~(u64)0;
  for(z+=5; n<16; z++, n++){
    int d;
    if( *z>='0' && *z<='9' ) d = *z - '0';
    else if( *z>='a' && *z<='f' ) d = *z - 'a' + 10;
    else break;
    m = (m<<4) | (u64)d;
  }
  if( n==0 || (*z!=0 && *z!=' ') ) return ~(u64)0;
  if( s->nCol<63 ) m &= ((u64)1 << s->nCol) - 1;
  return m;
}

static int tabOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  const BecSchema *s = ((BecTab*)pVtab)->pSchema;
  BecCursor *c = sqlite3_malloc64(sizeof(*c) + sizeof(int)*(size_t)s->nCol);
  if( c==0 ) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  c->aiCell = (int*)&c[1];
  *ppCur = &c->base;
  return SQLITE_OK;
}

static int tabClose(sqlite3_vtab_cursor *pCur){
  BecCursor *c = (BecCursor*)pCur;
  scan_put((BecTab*)pCur->pVtab, c->idxNum, c->mCol, c->pStmt);
  sqlite3_free(c->aCell);
  bec_buf_free(&c->bytes);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* bec_scan_page(rowid, c.., ...): the WHERE function of a paged scan.  It
** copies the row (its cells: see col_map) into the cursor whose page
** page_next is filling (BecCrdt.pPage) and is true once the page is full.
** At any other time it does nothing and is false.  Errors are left in rcPage, and the page then
** counts as full so that the step ends. */
static void scanPageFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  BecCursor *c = p->pCrdt ? (BecCursor*)p->pCrdt->pPage : 0;
  PageCell *a;
  i64 iRowid;
  int i;
  if( c==0 || argc!=c->nCell ){
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
  for(i=1; i<c->nCell; i++){
    sqlite3_value *v = argv[i];
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
        if( z==0 && a[i].n>0 ){
          c->rcPage = SQLITE_NOMEM;
        }else{
          /* Text with its terminator (sqlite3_value_text() has one), so
          ** that xColumn can hand SQLite text it knows to be terminated.
          ** Copied in place while the buffer has room (the common case). */
          i64 nCopy = a[i].n + (a[i].eType==SQLITE_TEXT);
          if( z==0 ) z = "";
          if( nCopy==0 ){
            /* an empty blob: nothing to copy */
          }else if( c->bytes.n + nCopy <= c->bytes.nAlloc ){
            memcpy(c->bytes.a + c->bytes.n, z, (size_t)nCopy);
            c->bytes.n += nCopy;
          }else{
            bec_buf_append(&c->bytes, z, nCopy, &c->rcPage);
          }
          if( a[i].eType==SQLITE_TEXT
           && (a[i].n==0 || memchr(z, 0, (size_t)a[i].n)==0) ){
            a[i].eType = CELL_TEXT_Z;
          }
        }
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

/* Lazy columns (issue 18).  SQLite asks a virtual table for every column
** of a row it UPDATEs (colUsed has every bit set), and says which ones the
** UPDATE leaves unchanged only in xColumn (sqlite3_vtab_nochange), after
** the scan's page holds copies of them all; xUpdate gets no value for
** those (bec reads a row's old values from the shadow row, never from the
** scan: local_update_row).  So such a scan (IDX_LAZY: a full scan in rowid
** order) fills its first page with every column, notes the columns
** xColumn gives a value of (mAsked), and reads the next pages with a
** statement of only those: "rowid > the page's last rowid", as a range
** scan's (the same rows in the same order, as one scan's pages would
** be).  A column asked later (a CASE that reads it on some rows only) is
** read from its stored row by rowid (lazy_cell), and the next page reads
** it again with the others.  Only the columns read change, never the
** rows. */

/* The next pages of c read the columns c->mAsked: a range scan from the
** current page's last row. */
static int lazy_switch(BecCursor *c){
  BecTab *t = (BecTab*)c->base.pVtab;
  const i64 iLast = c->aCell[(c->nRow-1)*c->nCell].u.i;
  const int idxNew = PLAN_RANGE | IDX_LOWER;
  sqlite3_stmt *pNew = 0;
  int rc = scan_take(t, idxNew, c->mAsked, &pNew);
  if( rc ) return rc;
  scan_put(t, c->idxNum, c->mCol, c->pStmt);
  c->pStmt = pNew;
  c->idxNum = idxNew;
  c->mCol = c->mAsked;
  c->nCell = col_map(t->pSchema, c->mCol, c->aiCell);
  /* (between pages: the cells are laid out again, by the new count) */
  sqlite3_free(c->aCell);
  c->aCell = 0;
  c->nRowAlloc = 0;
  return sqlite3_bind_int64(pNew, 1, iLast);
}

/* Column i of the current row, which the page does not hold: from its
** stored row. */
static int lazy_cell(BecCursor *c, sqlite3_context *ctx, int i){
  BecTab *t = (BecTab*)c->base.pVtab;
  const u64 m = (u64)1 << (i<63 ? i : 63);
  sqlite3_stmt *pSel = 0;
  int rc = scan_take(t, PLAN_ROWID, m, &pSel);
  if( rc ) return rc;
  sqlite3_bind_int64(pSel, 1, page_row(c)->u.i);
  if( sqlite3_step(pSel)==SQLITE_ROW ){
    sqlite3_result_value(ctx, sqlite3_column_value(pSel, col_is_rowid(t->pSchema, i) ? 0 : 1));
  }else{
    rc = sqlite3_reset(pSel);
    if( rc==SQLITE_OK ) rc = SQLITE_CORRUPT_VTAB;   /* the row is gone */
  }
  scan_put(t, PLAN_ROWID, m, pSel);
  return rc;
}

static int tabNext(sqlite3_vtab_cursor *pCur){
  BecCursor *c = (BecCursor*)pCur;
  int rc;
  if( c->bPaged ){
    if( ++c->iRow < c->nRow ) return SQLITE_OK;
    rc = SQLITE_OK;
    if( c->bLazy && !c->bDone && c->nRow>0 && c->mAsked!=c->mCol ){
      rc = lazy_switch(c);
    }
    if( rc==SQLITE_OK ) rc = page_next(c);
  }else if( c->bUnique && ++c->iRow>0 ){
    /* A rowid has one row: no step to learn that there is no other.  The
    ** statement is reset when it is next used or given back. */
    c->bEof = 1;
    return SQLITE_OK;
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

/* The leading significant decimal digit of the number pN (1..9), or 0 if
** any digit may lead a text that reads as it (0, which '1e-400' reads as,
** and the infinities, which '1e999' reads as). */
static int lead_digit(sqlite3_value *pN){
  char z[40];
  if( sqlite3_value_type(pN)==SQLITE_INTEGER ){
    i64 i = sqlite3_value_int64(pN);
    u64 u = i<0 ? (u64)0 - (u64)i : (u64)i;
    if( u==0 ) return 0;
    snprintf(z, sizeof(z), "%llu", (unsigned long long)u);
  }else{
    double r = sqlite3_value_double(pN);
    if( r<0 ) r = -r;
    if( r==0.0 || r>1.7976931348623157e308 || r!=r ) return 0;
    snprintf(z, sizeof(z), "%.17e", r);
  }
  return z[0]>='1' && z[0]<='9' ? z[0]-'0' : 0;
}

static void bind_text(sqlite3_stmt *pStmt, int i, const char *z){
  sqlite3_bind_text(pStmt, i, z, (int)strlen(z), SQLITE_STATIC);
}

/* Binds the parameters of a PLAN_EQ statement for "key = pX": every row
** whose first key column SQLite may find equal to pX, whichever affinity
** the comparison has (none, TEXT or NUMERIC; docs/tables.md "Reads"):
**   ?1  pX itself (no conversion; blobs never convert);
**   ?2  pX converted as the column's affinity converts it (local_value);
**   ?3  the number pX reads as, if it is a text that reads as one;
**   ?4..?9  if pX is or reads as a number N: the texts a NUMERIC affinity
**       may turn into N.  Such a text starts with a space, a sign, '.',
**       '0' (all below '1'), or with N's first significant digit d, or
**       d-1 when it rounds up to N ('4.99999999999999999' is 5.0, and
**       '9.99999999999999999e-1' is 1.0): ranges ['\t','1'), [d-1, d+1),
**       and ['9', ':') for d = 1; any digit if d is unknown (0);
**   ?10..?11  in a TEXT column, if pX is a text: every number (a TEXT
**       affinity compares numbers as their text); honest writers store
**       none there.
** Unbound parameters are NULL: their terms are false.  SQLite checks
** every row again. */
static int eq_bind(BecTab *t, sqlite3_stmt *pStmt, sqlite3_value *pX){
  const int iCol = t->pSchema->aPk[0];
  sqlite3_value *pConv = 0, *pNum = 0, *pN = 0;
  int eType = sqlite3_value_type(pX);
  int rc = SQLITE_OK;
  if( eType==SQLITE_NULL ) return SQLITE_OK;        /* = NULL is never true */
  sqlite3_bind_value(pStmt, 1, pX);
  rc = local_value(t, iCol, pX, &pConv);
  if( rc==SQLITE_OK && pConv ) sqlite3_bind_value(pStmt, 2, pConv);
  if( rc==SQLITE_OK ){
    if( eType==SQLITE_INTEGER || eType==SQLITE_FLOAT ){
      pN = pX;
    }else if( eType==SQLITE_TEXT ){
      pNum = sqlite3_value_dup(pX);
      if( pNum==0 ){
        rc = SQLITE_NOMEM;
      }else{
        int e = sqlite3_value_numeric_type(pNum);
        if( e==SQLITE_INTEGER || e==SQLITE_FLOAT ){
          pN = pNum;
          sqlite3_bind_value(pStmt, 3, pNum);
        }
      }
    }
  }
  if( rc==SQLITE_OK && pN ){
    static const char *azDigit[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":" };
    int d = lead_digit(pN);
    bind_text(pStmt, 4, "\t");
    bind_text(pStmt, 5, "1");
    bind_text(pStmt, 6, azDigit[d<=1 ? 1 : d-1]);
    bind_text(pStmt, 7, azDigit[d==0 ? 10 : d+1]);
    if( d==1 ){
      bind_text(pStmt, 8, "9");
      bind_text(pStmt, 9, ":");
    }
  }
  if( rc==SQLITE_OK && eType==SQLITE_TEXT
   && t->pSchema->aCol[iCol].eAff==BEC_AFF_TEXT ){
    sqlite3_bind_double(pStmt, 10, -HUGE_VAL);
    bind_text(pStmt, 11, "");
  }
  sqlite3_value_free(pConv);
  sqlite3_value_free(pNum);
  return rc;
}

/* Binds a bound of the rowid (PLAN_ROWID, PLAN_RANGE) as the INTEGER
** affinity of the comparison converts it: text that reads as a number
** becomes that number, and an integral REAL within the 64-bit range the
** integer (SQLite's rowid seek misses -2^63 given as a REAL, which the
** comparison finds equal). */
static int bind_rowid(sqlite3_stmt *pStmt, int iParam, sqlite3_value *pX){
  sqlite3_value *pNum = 0;
  if( sqlite3_value_type(pX)==SQLITE_TEXT ){
    pNum = sqlite3_value_dup(pX);
    if( pNum==0 ) return SQLITE_NOMEM;
    sqlite3_value_numeric_type(pNum);
    pX = pNum;
  }
  if( sqlite3_value_type(pX)==SQLITE_FLOAT ){
    BecValue v;
    memset(&v, 0, sizeof(v));
    v.eType = BEC_VAL_REAL;
    v.r = sqlite3_value_double(pX);
    if( bec_key_normalize(&v) && v.eType==BEC_VAL_INT ){
      sqlite3_bind_int64(pStmt, iParam, v.i);
    }else{
      sqlite3_bind_value(pStmt, iParam, pX);
    }
  }else{
    sqlite3_bind_value(pStmt, iParam, pX);
  }
  sqlite3_value_free(pNum);
  return SQLITE_OK;
}

static int tabFilter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr,
                     int argc, sqlite3_value **argv){
  BecCursor *c = (BecCursor*)pCur;
  BecTab *t = (BecTab*)pCur->pVtab;
  u64 mCol = idx_cols(t->pSchema, idxStr);
  int rc = SQLITE_OK, i;
  const int bLazy = (idxNum & IDX_LAZY)!=0;
  idxNum &= ~IDX_LAZY;        /* (the statement is a full scan's) */
  /* The rows a local statement holds in its batch are written before any
  ** bec table is read (bec_crdt.c, "Local batches"). */
  rc = bec_crdt_local_flush(t->pCtx);
  if( rc ){
    set_error(pCur->pVtab, sqlite3_mprintf("bec: cannot write the rows of "
        "this transaction before reading %s: %s", t->pSchema->zName,
        bec_rc_text(t->pCtx->db, rc)));
    return rc;
  }
  c->nCell = col_map(t->pSchema, mCol, c->aiCell);
  if( scan_is_paged(t, idxNum)
   && c->nCell>sqlite3_limit(t->pCtx->db, SQLITE_LIMIT_FUNCTION_ARG, -1) ){
    /* bec_scan_page() could not take every cell: rows one at a time (the
    ** flag also keys the statement cache). */
    idxNum |= IDX_UNPAGED;
  }
  if( c->pStmt && (c->idxNum!=idxNum || c->mCol!=mCol) ){
    scan_put(t, c->idxNum, c->mCol, c->pStmt);
    c->pStmt = 0;
  }
  c->idxNum = idxNum;
  c->mCol = mCol;
  c->bEof = 0;
  if( c->pStmt==0 ){
    rc = scan_take(t, idxNum, mCol, &c->pStmt);
    if( rc ){
      set_error(pCur->pVtab, sqlite3_mprintf("bec: cannot scan %s: %s",
          t->pSchema->zName, bec_rc_text(t->pCtx->db, rc)));
      return rc;
    }
  }else{
    sqlite3_reset(c->pStmt);
  }
  if( (idxNum & PLAN_MASK)==PLAN_EQ ){
    sqlite3_clear_bindings(c->pStmt);
    rc = argc==1 ? eq_bind(t, c->pStmt, argv[0]) : SQLITE_INTERNAL;
    if( rc ){
      set_error(pCur->pVtab, sqlite3_mprintf("bec: cannot look up a key of %s: %s",
          t->pSchema->zName, sqlite3_errstr(rc)));
      return rc;
    }
  }else{
    for(i=0; rc==SQLITE_OK && i<argc; i++) rc = bind_rowid(c->pStmt, i+1, argv[i]);
    if( rc ){
      set_error(pCur->pVtab, sqlite3_mprintf("%s", sqlite3_errstr(rc)));
      return rc;
    }
  }
  c->bUnique = (idxNum & PLAN_MASK)==PLAN_ROWID;
  c->bPaged = scan_is_paged(t, idxNum);
  c->bLazy = bLazy && c->bPaged;
  c->mAsked = 0;
  if( c->bPaged ){
    c->bDesc = (idxNum & IDX_DESC)!=0;
    c->bDone = 0;
    c->iRow = -1;
    c->nRow = 0;
  }else{
    c->iRow = -1;
  }
  return tabNext(pCur);
}

static int tabEof(sqlite3_vtab_cursor *pCur){
  return ((BecCursor*)pCur)->bEof;
}

static int tabColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int i){
  BecCursor *c = (BecCursor*)pCur;
  int j;
  /* In an UPDATE, columns it does not set are left "unchanged": that is
  ** how xUpdate knows which registers the UPDATE writes. */
  if( sqlite3_vtab_nochange(ctx) ) return SQLITE_OK;
  j = (i>=0 && i<((BecTab*)pCur->pVtab)->pSchema->nCol) ? c->aiCell[i] : -1;
  if( c->bLazy && i>=0 && i<((BecTab*)pCur->pVtab)->pSchema->nCol ){
    c->mAsked |= (u64)1 << (i<63 ? i : 63);
    if( j<0 ){
      int rc = lazy_cell(c, ctx, i);
      if( rc ){
        BecTab *t = (BecTab*)pCur->pVtab;
        char *z = rc==SQLITE_CORRUPT_VTAB
            ? sqlite3_mprintf("bec: a row of %s being updated is gone from "
                              "its shadow table (damaged storage)", t->pSchema->zName)
            : sqlite3_mprintf("bec: cannot read %s: %s", t->pSchema->zName,
                              bec_rc_text(t->pCtx->db, rc));
        sqlite3_result_error(ctx, z ? z : "bec: cannot read a row", -1);
        sqlite3_free(z);
      }
      return rc;
    }
  }
  if( j<0 ){
    /* SQLite asks only for the columns colUsed names (an UPDATE names
    ** them all); were it to ask for another, a clear error, not a NULL. */
    BecTab *t = (BecTab*)pCur->pVtab;
    char *z = sqlite3_mprintf("bec: internal error: column %d of %s was "
        "not read by this scan (colUsed %llx)", i, t->pSchema->zName,
        (unsigned long long)c->mCol);
    sqlite3_result_error(ctx, z ? z : "bec: internal error: column not read", -1);
    sqlite3_free(z);
    return SQLITE_INTERNAL;
  }
  if( c->bPaged ){
    /* Text and blobs are copied into the result's own buffer, which
    ** SQLite reuses from row to row; SQLITE_STATIC would let e.g. max()
    ** keep a pointer into the page, which the next page overwrites. */
    const PageCell *a = &page_row(c)[j];
    switch( a->eType ){
      case SQLITE_INTEGER: sqlite3_result_int64(ctx, a->u.i); break;
      case SQLITE_FLOAT:   sqlite3_result_double(ctx, a->u.r); break;
      case CELL_TEXT_Z:
        /* Length -1: SQLite then knows the copy is terminated, and does
        ** not reallocate it to add a terminator when the value is read as
        ** text (length(), sqlite3_column_text()), row after row. */
        sqlite3_result_text(ctx, (const char*)c->bytes.a + a->u.i, -1, SQLITE_TRANSIENT);
        break;
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
    sqlite3_result_value(ctx, sqlite3_column_value(c->pStmt, j));
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

/* An sqlite3_value holding v (sqlite3_value_free it). */
static int value_dup_of(BecTab *t, const BecValue *v, sqlite3_value **ppOut){
  sqlite3_stmt *pSel = 0;
  int rc = bec_ctx_stmt(t->pCtx, "SELECT ?1", &pSel);
  *ppOut = 0;
  if( rc ) return rc;
  bec_value_bind(pSel, 1, v);
  if( sqlite3_step(pSel)==SQLITE_ROW ){
    *ppOut = sqlite3_value_dup(sqlite3_column_value(pSel, 0));
  }
  rc = sqlite3_reset(pSel);
  if( rc==SQLITE_OK && *ppOut==0 ) rc = SQLITE_NOMEM;
  return rc;
}

static const char *type_name(int eType){
  switch( eType ){
    case BEC_VAL_INT:  return "INTEGER";
    case BEC_VAL_REAL: return "REAL";
    case BEC_VAL_TEXT: return "TEXT";
    case BEC_VAL_BLOB: return "BLOB";
    default:           return "NULL";
  }
}

/* The declared constraints of one local change, judged before anything is
** written or signed (docs/tables.md, "Local statements"), by the function
** that judges peers' ops.  aV: the values as converted (keys included);
** abSet: 2 where written.  A NULL in an INSERT where the column has a
** DEFAULT is the DEFAULT (SQLite gives a virtual table NULL for an omitted
** column); under OR REPLACE a NULL for a NOT NULL column is its DEFAULT.
** Such values replace aV[i] and are kept in apOwn[i] (the caller frees).
** *pbSkip: the row breaks a rule and the statement is OR IGNORE. */
static int local_constraints(BecTab *t, int bInsert, sqlite3_value **aV,
                             const u8 *abSet, sqlite3_value **apOwn,
                             int *pbSkip, char **pzErr){
  const BecSchema *s = t->pSchema;
  BecValue aVal[BEC_TABLE_MAX_COL];
  int eConflict;
  int rc = SQLITE_OK, i, eRule = 0, iWhich = -1;
  *pbSkip = 0;
  if( !s->bConstrained ){
    for(i=0; i<s->nCol && !(bInsert && (s->aCol[i].flags & BEC_COL_DEFAULT)); i++){}
    if( i==s->nCol ) return SQLITE_OK;
  }
  eConflict = sqlite3_vtab_on_conflict(t->pCtx->db);
  for(i=0; rc==SQLITE_OK && i<s->nCol; i++){
    const BecColumn *c = &s->aCol[i];
    if( abSet[i]!=2 || sqlite3_value_type(aV[i])!=SQLITE_NULL ) continue;
    if( (c->flags & BEC_COL_DEFAULT)
     && (bInsert || ((c->flags & BEC_COL_NOTNULL) && eConflict==SQLITE_REPLACE)) ){
      rc = value_dup_of(t, &c->dflt, &apOwn[i]);
      if( rc==SQLITE_OK ) aV[i] = apOwn[i];
    }
  }
  for(i=0; rc==SQLITE_OK && i<s->nCol; i++){
    if( abSet[i] ) rc = bec_value_of(aV[i], &aVal[i]);
    else memset(&aVal[i], 0, sizeof(aVal[i]));
  }
  if( rc==SQLITE_OK ){
    rc = bec_crdt_constraints(t->pCtx, t->aSchemaHash, s, aVal, abSet, &eRule,
                              &iWhich, pzErr);
  }
  if( rc || eRule==BEC_RULE_OK ) return rc;
  if( eConflict==SQLITE_IGNORE ){
    *pbSkip = 1;
    return SQLITE_OK;
  }
  switch( eRule ){
    case BEC_RULE_TYPE:
      *pzErr = sqlite3_mprintf("cannot store %s value in %s column %s.%s",
          type_name(aVal[iWhich].eType),
          s->aCol[iWhich].eStrict ? s->aCol[iWhich].zType : bec_type_sql(&s->aCol[iWhich]),
          s->zName, s->aCol[iWhich].zName);
      return SQLITE_CONSTRAINT_DATATYPE;
    case BEC_RULE_NOTNULL:
      *pzErr = sqlite3_mprintf("NOT NULL constraint failed: %s.%s", s->zName,
                               s->aCol[iWhich].zName);
      return SQLITE_CONSTRAINT_NOTNULL;
    case BEC_RULE_GROUP:
      *pzErr = sqlite3_mprintf("CHECK constraint failed: %s: a merge group is "
                               "written whole", s->zName);
      return SQLITE_CONSTRAINT_CHECK;
    default: {
      const BecCheck *k = &s->aCheck[iWhich];
      *pzErr = sqlite3_mprintf("CHECK constraint failed: %s",
                               k->zName[0] ? k->zName : k->zExpr);
      return SQLITE_CONSTRAINT_CHECK;
    }
  }
}

/* Counters (docs/tables.md, "Counters"): a counter holds integers.  An
** INSERT writes its base (NULL: the fill); an UPDATE (pRow on the row as
** this replica shows it) writes the step new - old, or nothing if it is
** 0.  A value that is not an integer (an overflowing n + 1 is a REAL) or a
** step out of [-(2^63-1), 2^63-1] fails the statement with
** SQLITE_CONSTRAINT_DATATYPE.  Steps are marked BEC_SET_STEP in abSet,
** their values in apOwn. */
static int local_counters(BecTab *t, sqlite3_stmt *pRow, sqlite3_value **aV,
                          u8 *abSet, sqlite3_value **apOwn, char **pzErr){
  const BecSchema *s = t->pSchema;
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<s->nCol; i++){
    const BecColumn *c;
    BecSum sum = {0, 0};
    BecValue v;
    if( abSet[i]!=2 || !(s->aCol[i].flags & BEC_COL_COUNTER) ) continue;
    c = &s->aCol[i];
    if( pRow==0 && sqlite3_value_type(aV[i])==SQLITE_NULL ){
      sqlite3_value_free(apOwn[i]);
      rc = value_dup_of(t, &c->dflt, &apOwn[i]);
      if( rc ) break;
      aV[i] = apOwn[i];
    }
    if( sqlite3_value_type(aV[i])!=SQLITE_INTEGER ){
      *pzErr = sqlite3_mprintf("cannot store %s value in COUNTER column %s.%s",
                               type_name(sqlite3_value_type(aV[i])), s->zName,
                               c->zName);
      return SQLITE_CONSTRAINT_DATATYPE;
    }
    if( pRow==0 ) continue;
    /* new - old, exactly: -old = -(old + 1) + 1 has no overflow */
    bec_sum_add(&sum, sqlite3_value_int64(aV[i]));
    bec_sum_add(&sum, -(sqlite3_column_int64(pRow, 2 + s->nCol - s->nPk + i) + 1));
    bec_sum_add(&sum, 1);
    memset(&v, 0, sizeof(v));
    v.eType = BEC_VAL_INT;
    v.i = bec_sum_clamp(&sum);
    if( v.i==BEC_I64_MIN || v.i==BEC_I64_MAX ){
      BecSum back = {0, 0};
      bec_sum_add(&back, v.i);
      if( v.i==BEC_I64_MIN || back.hi!=sum.hi || back.lo!=sum.lo ){
        *pzErr = sqlite3_mprintf("COUNTER column %s.%s: the step from %lld to "
            "%lld is out of range", s->zName, c->zName,
            (long long)sqlite3_column_int64(pRow, 2 + s->nCol - s->nPk + i),
            (long long)sqlite3_value_int64(aV[i]));
        return SQLITE_CONSTRAINT_DATATYPE;
      }
    }
    if( v.i==0 ){
      abSet[i] = 0;           /* unchanged: nothing written */
      continue;
    }
    sqlite3_value_free(apOwn[i]);
    rc = value_dup_of(t, &v, &apOwn[i]);
    if( rc==SQLITE_OK ){
      aV[i] = apOwn[i];
      abSet[i] = BEC_SET_STEP;
    }
  }
  return rc;
}

/* A new row's key is taken (by a row other than the one an UPDATE moves):
** OR IGNORE skips the row (SQLITE_DONE), OR REPLACE lets the upsert
** write it (SQLITE_OK), any other mode fails as SQLite's UNIQUE does. */
static int key_taken(BecTab *t, char **pzErr){
  const BecSchema *s = t->pSchema;
  int eConflict = sqlite3_vtab_on_conflict(t->pCtx->db);
  int rc = SQLITE_OK, k;
  BecBuf b;
  if( eConflict==SQLITE_IGNORE ) return SQLITE_DONE;
  if( eConflict==SQLITE_REPLACE ) return SQLITE_OK;
  memset(&b, 0, sizeof(b));
  for(k=0; k<s->nPk; k++){
    bec_buf_appendf(&b, &rc, "%s%s.%s", k ? ", " : "", s->zName, s->aCol[s->aPk[k]].zName);
  }
  bec_buf_append_u8(&b, 0, &rc);
  *pzErr = sqlite3_mprintf("UNIQUE constraint failed: %s", b.a ? (char*)b.a : "");
  bec_buf_free(&b);
  return rc ? rc : SQLITE_CONSTRAINT_PRIMARYKEY;
}

/* *pbRow: a shadow row holds the key of aV (normalised as the merge
** matches keys). */
static int key_has_row(BecTab *t, sqlite3_value **aV, int *pbRow){
  const BecSchema *s = t->pSchema;
  sqlite3_stmt *pSel = 0;
  int rc = bec_tab_stmt(t, BEC_TAB_SEL_PK, &pSel), k;
  *pbRow = 0;
  for(k=0; rc==SQLITE_OK && k<s->nPk; k++){
    BecValue v;
    rc = bec_value_of(aV[s->aPk[k]], &v);
    if( rc==SQLITE_OK ){
      bec_key_normalize(&v);
      bec_value_bind(pSel, k+1, &v);
    }
  }
  if( rc ) return rc;
  *pbRow = sqlite3_step(pSel)==SQLITE_ROW;
  return sqlite3_reset(pSel);
}

static int local_insert(BecTab *t, sqlite3_value **aV, i64 *piRowid, char **pzErr){
  const BecSchema *s = t->pSchema;
  sqlite3_value *apKey[BEC_TABLE_MAX_COL];
  u8 abSet[BEC_TABLE_MAX_COL];
  int rc, i;

  sqlite3_value *aUse[BEC_TABLE_MAX_COL];
  sqlite3_value *apOwn[BEC_TABLE_MAX_COL];
  int bSkip = 0;

  rc = check_key(t, aV, apKey, pzErr);
  if( rc ) return rc;
  for(i=0; i<s->nCol; i++){
    abSet[i] = s->aCol[i].iPk ? 1 : 2;
    /* (a dropped or hidden column is never written; a merge group's
    ** columns always are) */
    if( s->aCol[i].bHidden && s->aCol[i].iGroup<0 ) abSet[i] = 0;
    aUse[i] = aV[i];
    apOwn[i] = 0;
  }
  rc = local_counters(t, 0, aUse, abSet, apOwn, pzErr);
  if( rc==SQLITE_OK ) rc = local_constraints(t, 1, aUse, abSet, apOwn, &bSkip, pzErr);
  if( rc || bSkip ){
    for(i=0; i<s->nCol; i++) sqlite3_value_free(apOwn[i]);
    return rc;
  }
  aV = aUse;
  rc = bec_crdt_local_change(t, BEC_CHANGE_INSERT, apKey, abSet, aV, 0, piRowid,
                             pzErr);
  if( rc==SQLITE_CONSTRAINT && *pzErr==0 ){
    /* The key exists. */
    rc = key_taken(t, pzErr);
    if( rc==SQLITE_DONE ){
      rc = SQLITE_OK;
    }else if( rc==SQLITE_OK ){
      /* INSERT OR REPLACE: an upsert of every column. */
      rc = bec_crdt_local_change(t, BEC_CHANGE_UPSERT, apKey, abSet, aV, 0,
                                 piRowid, pzErr);
    }
  }
  for(i=0; i<s->nCol; i++) sqlite3_value_free(apOwn[i]);
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
    if( s->aCol[i].bHidden && !s->aCol[i].iPk ) continue;
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
    /* The new key's row decides before the old row goes: OR IGNORE keeps
    ** the row as it is, OR FAIL/ABORT fail without deleting it (as a
    ** plain table's UPDATE does). */
    if( rc==SQLITE_OK ){
      int bTaken = 0;
      rc = key_has_row(t, aNew, &bTaken);
      if( rc==SQLITE_OK && bTaken ) rc = key_taken(t, pzErr);
    }
    if( rc==SQLITE_DONE ){
      for(i=0; i<s->nCol; i++) sqlite3_value_free(aNew[i]);
      return SQLITE_OK;
    }
    if( rc==SQLITE_OK ) rc = local_delete(t, iRowid, pzErr);
    if( rc==SQLITE_OK ) rc = local_insert(t, aNew, &iNew, pzErr);
    for(i=0; i<s->nCol; i++) sqlite3_value_free(aNew[i]);
    return rc;
  }
  if( !bAny ) return SQLITE_OK;
  if( s->bIntPk && s->nGroup==0 && !bec_schema_has_counter(s) ){
    apKey[0] = pOld;
  }else{
    rc = key_of_rowid(t, iRowid, &pSel, apKey);
    if( rc ) return rc==SQLITE_NOTFOUND ? SQLITE_OK : rc;
    if( s->bIntPk ) apKey[0] = pOld;
  }
  {
    sqlite3_value *aUse[BEC_TABLE_MAX_COL];
    sqlite3_value *apOwn[BEC_TABLE_MAX_COL];
    int bSkip = 0;
    for(i=0; i<s->nCol; i++){
      aUse[i] = aV[i];
      apOwn[i] = 0;
    }
    /* A merge group is one register: an UPDATE of some of its columns
    ** writes the others too, with the values this replica shows (pSel is
    ** on the row). */
    for(i=0; i<s->nCol; i++){
      int g = s->aCol[i].iGroup, j;
      if( g<0 || abSet[i]==2 ) continue;
      for(j=0; j<s->nCol && !(s->aCol[j].iGroup==g && abSet[j]==2); j++){}
      if( j<s->nCol ){
        aUse[i] = sqlite3_column_value(pSel, 2 + s->nCol - s->nPk + i);
        abSet[i] = 3;             /* marked: set below, after the scan */
      }
    }
    for(i=0; i<s->nCol; i++) if( abSet[i]==3 ) abSet[i] = 2;
    for(k=0; k<s->nPk; k++) abSet[s->aPk[k]] = 1;
    for(k=0; k<s->nPk; k++) aUse[s->aPk[k]] = apKey[k];
    rc = local_constraints(t, 0, aUse, abSet, apOwn, &bSkip, pzErr);
    for(k=0; k<s->nPk; k++) abSet[s->aPk[k]] = 0;
    if( rc==SQLITE_OK && !bSkip ){
      /* (after the constraints, which judge the new values) */
      rc = local_counters(t, pSel, aUse, abSet, apOwn, pzErr);
      for(i=0; i<s->nCol && abSet[i]==0; i++){}
      if( i==s->nCol ) bSkip = 1;     /* only unchanged counters */
    }
    if( rc==SQLITE_OK && !bSkip ){
      rc = bec_crdt_local_change(t, BEC_CHANGE_UPSERT, apKey, abSet, aUse,
                                 &iRowid, 0, pzErr);
    }
    for(i=0; i<s->nCol; i++) if( apOwn[i] ) sqlite3_value_free(apOwn[i]);
  }
  if( pSel ) sqlite3_reset(pSel);
  return rc;
}

/* write='admin' (docs/tables.md, "Write policy"): a local write fails at
** the statement, signing nothing, unless this replica's current view of
** the membership makes its key an admin.  (bec_store_member is
** membership's table, read here as the current view.) */
static int local_policy(BecTab *t, char **pzErr){
  BecCtx *p = t->pCtx;
  sqlite3_stmt *pStmt = 0;
  int rc, bAdmin = 0;
  if( !(t->pSchema->opts & BEC_OPT_ADMIN) ) return SQLITE_OK;
  rc = bec_ctx_stmt(p, "SELECT role FROM bec_store_member WHERE pubkey=?1",
                    &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, p->aPub, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    bAdmin = sqlite3_column_int(pStmt, 0)==BEC_ROLE_ADMIN;
  }
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && !bAdmin ){
    *pzErr = sqlite3_mprintf("unauthorized: %s is writable by admins only "
                             "(write='admin')", t->pSchema->zName);
    rc = SQLITE_AUTH;
  }
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
  if( rc==SQLITE_OK ) rc = local_policy(t, &zErr);
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
  /* (most values need no conversion: no call per column for them) */
  for(i=0; i<nCol; i++) if( aConv[i] ) sqlite3_value_free(aConv[i]);
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
/* A batch held (bec_crdt.c, "Local batches") is written at a savepoint
** and at a release: it then holds only changes after the newest mark, all
** of which a rollback to any mark discards.  The batch statement's own
** savepoints (bLocalFlush) move no mark: it writes rows, never the op. */
static int local_flush(sqlite3_vtab *pVtab){
  BecTab *t = (BecTab*)pVtab;
  int rc = bec_crdt_local_flush(t->pCtx);
  if( rc ){
    set_error(pVtab, sqlite3_mprintf("bec: cannot write the rows of this "
        "transaction: %s", bec_rc_text(t->pCtx->db, rc)));
  }
  return rc;
}

static int tabSavepoint(sqlite3_vtab *pVtab, int iSavepoint){
  BecCrdt *pC = ((BecTab*)pVtab)->pCtx->pCrdt;
  int rc;
  if( pC->bLocalFlush ) return SQLITE_OK;   /* the batch statement's own */
  rc = local_flush(pVtab);
  if( rc ) return rc;
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
  int rc;
  if( pC->bLocalFlush ) return SQLITE_OK;
  rc = local_flush(pVtab);
  if( rc ) return rc;
  if( pC->nMark>iSavepoint ) pC->nMark = iSavepoint;
  return SQLITE_OK;
}

static int tabRollbackTo(sqlite3_vtab *pVtab, int iSavepoint){
  BecCrdt *pC = ((BecTab*)pVtab)->pCtx->pCrdt;
  if( pC->bLocalFlush ) return SQLITE_OK;
  bec_crdt_local_discard(pC);
  if( iSavepoint<pC->nMark ){
    BecMark *m = &pC->aMark[iSavepoint];
    pC->chg.n = m->nBuf;
    pC->nChange = m->nChange;
    pC->nTable = m->nTable;
    pC->nMark = iSavepoint+1;
  }
  return SQLITE_OK;
}

/* The RENAME TO op of incarnation iSchema (create op aCreate, shown as
** zOld) to zNew, in *ppOp, after the checks of this replica's view. */
static int retable_op(BecCtx *p, int iSchema, const u8 *aCreate,
                      const char *zOld, const char *zNew, BecSchema **ppOp,
                      char **pzErr){
  char *zWhy = 0;
  int rc = bec_crdt_rename_judge(p, iSchema, zOld, zNew, &zWhy);
  *ppOp = 0;
  if( rc==SQLITE_OK && zWhy ){
    *pzErr = sqlite3_mprintf("RENAME TO %s: %s", zNew, zWhy);
    sqlite3_free(zWhy);
    return SQLITE_ERROR;
  }
  if( rc ) return rc;
  rc = bec_schema_new(BEC_SCHEMA_RETABLE, zNew, (int)strlen(zNew), 0, 0, 0, 0,
                      0, 0, ppOp);
  if( rc==SQLITE_OK ) memcpy((*ppOp)->aCreate, aCreate, BEC_HASH_BYTES);
  return rc;
}

/* ALTER TABLE t RENAME TO u: signs a RENAME TO op (admins only), then
** renames the shadow table as SQLite renames the virtual table. */
static int tabRename(sqlite3_vtab *pVtab, const char *zNew){
  BecTab *t = (BecTab*)pVtab;
  BecCtx *p = t->pCtx;
  BecSchema *pOp = 0;
  char *zErr = 0;
  u8 aHash[BEC_HASH_BYTES];
  int rc = retable_op(p, t->iSchema, t->aSchemaHash, t->pSchema->zName, zNew,
                      &pOp, &zErr);
  if( rc==SQLITE_OK ) rc = append_schema(p, pOp, 1, aHash, &zErr);
  bec_schema_free(pOp);
  if( rc==SQLITE_OK ){
    char *zOld = bec_sql_ident(t->pSchema->zName, "_rows");
    char *zTo = bec_sql_ident(zNew, "_rows");
    char *zSql = zOld && zTo ? sqlite3_mprintf("ALTER TABLE main.%s RENAME "
                                               "TO %s", zOld, zTo) : 0;
    bec_tab_stmts_free(t);
    scans_free(t);
    rc = zSql ? bec_ctx_exec(p, zSql, &zErr) : SQLITE_NOMEM;
    if( rc==SQLITE_OK ){
      /* (SQLite connects the table again under its new name) */
      char *zRows = sqlite3_mprintf("main.%s", zTo);
      if( zRows ){
        sqlite3_free(t->zRows);
        t->zRows = zRows;
      }
    }
    sqlite3_free(zSql);
    sqlite3_free(zOld);
    sqlite3_free(zTo);
  }
  if( rc ){
    set_error(pVtab, zErr ? zErr : sqlite3_mprintf("bec: cannot rename table "
              "%s: %s", t->pSchema->zName, bec_rc_text(p->db, rc)));
    return rc;
  }
  return SQLITE_OK;
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
  tabRename,          /* signs a RENAME TO op */
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
    case BEC_VAL_STEP:            /* a counter's step (bec_history) */
      bec_buf_appendf(b, pRc, "{\"step\":%lld}", (long long)v->i);
      break;
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

/* bec_columns: columns 4..7 (notnull, dflt, check, merge) come from the
** create op's schema (its body is column 4 of the row), opened first in an
** encrypted group (a table is shown only when its create op opened). */
static int columnsColumn(BecCtx *pCtx, sqlite3_stmt *pStmt,
                         sqlite3_context *ctx, int i){
  BecOp op;
  BecSchema *s = 0;
  BecBuf b;
  char *zErr = 0;
  u8 *aPlain = 0;
  const char *zLocked = 0;
  int rc, iCol = sqlite3_column_int(pStmt, 5), k, n = 0;
  if( i<4 ) return SQLITE_NOTFOUND;
  rc = bec_op_decode(sqlite3_column_blob(pStmt, 4), sqlite3_column_bytes(pStmt, 4),
                     &op, &zErr);
  if( rc==SQLITE_OK ) rc = bec_e2ee_open(pCtx, &op, &aPlain, &zLocked, &zErr);
  if( rc==SQLITE_OK && zLocked ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK ) rc = bec_schema_decode(op.aPayload, op.nPayload, &s, &zErr);
  sqlite3_free(aPlain);
  sqlite3_free(zErr);
  /* an added column: its ADD op's one column */
  if( rc==SQLITE_OK && s->action==BEC_SCHEMA_ADD ) iCol = 0;
  if( rc || iCol<0 || iCol>=s->nCol ){
    bec_schema_free(s);
    sqlite3_result_error(ctx, "bec_columns: a stored schema op does not decode", -1);
    return SQLITE_OK;
  }
  memset(&b, 0, sizeof(b));
  rc = SQLITE_OK;
  switch( i ){
    case 4:
      sqlite3_result_int(ctx, (s->aCol[iCol].flags & BEC_COL_NOTNULL)!=0
                              || s->aCol[iCol].iPk!=0);
      break;
    case 5:
      if( s->aCol[iCol].flags & BEC_COL_DEFAULT ){
        bec_value_sql(&b, &s->aCol[iCol].dflt, &rc);
      }
      break;
    case 6:
      /* the CHECKs that read the column, as recorded */
      for(k=0; k<s->nCheck; k++){
        if( BEC_MASK_HAS(s->aCheck[k].aRead, iCol) ) n++;
      }
      for(k=0; k<s->nCheck; k++){
        if( !BEC_MASK_HAS(s->aCheck[k].aRead, iCol) ) continue;
        bec_buf_appendf(&b, &rc, n>1 ? "%s(%s)" : "%s%s",
                        b.n ? " AND " : "", s->aCheck[k].zExpr);
      }
      break;
    default:
      if( s->aCol[iCol].iPk ) bec_buf_appendf(&b, &rc, "key");
      else if( s->aCol[iCol].flags & BEC_COL_COUNTER ){
        bec_buf_appendf(&b, &rc, "counter");
      }else if( s->aCol[iCol].iGroup>=0 ){
        bec_buf_appendf(&b, &rc, "group:%d", s->aCol[iCol].iGroup+1);
      }else bec_buf_appendf(&b, &rc, "lww");
      break;
  }
  if( rc ) sqlite3_result_error_nomem(ctx);
  else if( b.n ) sqlite3_result_text(ctx, (char*)b.a, (int)b.n, SQLITE_TRANSIENT);
  bec_buf_free(&b);
  bec_schema_free(s);
  return SQLITE_OK;
}

static const BecTableDef columnsDef = {
  "bec_columns",
  "CREATE TABLE x(tbl TEXT, cid INTEGER, name TEXT, type TEXT, \"notnull\" "
  "INTEGER, dflt TEXT, \"check\" TEXT, merge TEXT)",
  "SELECT t.name, (SELECT count(*) FROM bec_store_column k2 WHERE"
  " k2.tbl=k.tbl AND k2.idx<k.idx), k.name, k.type, coalesce((SELECT a.body"
  " FROM bec_store_alter x JOIN bec_store_op a ON a.seq=x.seq WHERE"
  " x.tbl=t.seq AND x.idx=k.idx), o.body), k.idx, NULL, NULL"
  " FROM bec_store_table t JOIN bec_store_column k ON k.tbl=t.seq"
  " JOIN bec_store_op o ON o.seq=t.seq WHERE 1",
  "ORDER BY t.name, k.idx",
  { { 0, 3, "t.name=?" } },
  0, 0
};

/**************************************************************************
** bec_alter(table, change): schema evolution (docs/tables.md).  Signs one
** schema op naming the table's create op; every replica then shows the
** changed columns or name, with the rows kept.  Supported: ADD COLUMN
** <column definition>, RENAME COLUMN a TO b, DROP COLUMN c, RENAME TO u.
** Returns the op's id (hex).
*/
/* "RENAME [COLUMN] a TO b" or "DROP [COLUMN] c" at z, for table s (shown
** schema, create op aCreate): the alter op in *ppOp, naming the column by
** its id. */
static int alter_column(BecCtx *p, const BecSchema *s, const u8 *aCreate,
                        const char *z, BecSchema **ppOp, char **pzErr){
  char zOld[BEC_TABLE_MAX_NAME+1], zNew[BEC_TABLE_MAX_NAME+1];
  const char *zNewArg = "";
  int bRename = word_is(z, "RENAME"), i, rc, nNew = 0;
  const char *zT = "";
  int nT = 0;
  *ppOp = 0;
  z += bRename ? 6 : 4;
  while( is_space(*z) ) z++;
  if( word_is(z, "COLUMN") ) z += 6;
  if( read_ident(&z, zOld, sizeof(zOld))<=0 ){
    *pzErr = sqlite3_mprintf("name the column: %s", bRename
        ? "RENAME COLUMN a TO b" : "DROP COLUMN c");
    return SQLITE_ERROR;
  }
  while( is_space(*z) ) z++;
  if( bRename ){
    if( !word_is(z, "TO") ){
      *pzErr = sqlite3_mprintf("RENAME COLUMN a TO b: TO is missing");
      return SQLITE_ERROR;
    }
    z += 2;
    nNew = read_ident(&z, zNew, sizeof(zNew));
    if( nNew<=0 ){
      *pzErr = sqlite3_mprintf("RENAME COLUMN a TO b: the new name is missing");
      return SQLITE_ERROR;
    }
    zNewArg = zNew;
    while( is_space(*z) ) z++;
  }
  if( *z ){
    *pzErr = sqlite3_mprintf("unexpected \"%s\" after the column", z);
    return SQLITE_ERROR;
  }
  for(i=0; i<s->nCol; i++){
    if( !s->aCol[i].bHidden && sqlite3_stricmp(s->aCol[i].zName, zOld)==0 ) break;
  }
  if( i==s->nCol ){
    *pzErr = sqlite3_mprintf("table %s has no column %s", s->zName, zOld);
    return SQLITE_ERROR;
  }
  rc = bec_schema_new(bRename ? BEC_SCHEMA_RENAME : BEC_SCHEMA_DROPCOL,
                      s->zName, (int)strlen(s->zName), bRename ? 1 : 0,
                      &zNewArg, &nNew, &zT, &nT, &nT, ppOp);
  if( rc ) return rc;
  memcpy((*ppOp)->aCreate, aCreate, BEC_HASH_BYTES);
  /* the column's id: the create's index, or its ADD op */
  if( i<s->nBase ){
    memcpy((*ppOp)->aTarget, aCreate, BEC_HASH_BYTES);
    (*ppOp)->iTarget = i;
  }else{
    memcpy((*ppOp)->aTarget, &s->aAddHash[(i-s->nBase)*BEC_HASH_BYTES], BEC_HASH_BYTES);
    (*ppOp)->iTarget = 0;
  }
  if( bRename ){
    char *zWhy = 0;
    if( bec_schema_check(*ppOp, &zWhy) ){
      *pzErr = zWhy;
      bec_schema_free(*ppOp);
      *ppOp = 0;
      return SQLITE_ERROR;
    }
  }
  return SQLITE_OK;
}

static void alterFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  const char *zTab = (const char*)sqlite3_value_text(argv[0]);
  const char *z = (const char*)sqlite3_value_text(argv[1]);
  BecCrdt *pC = 0;
  BecSchema *s = 0, *pAdd = 0;
  u8 aCreate[BEC_HASH_BYTES], aHash[BEC_HASH_BYTES];
  char *zErr = 0;
  int rc, iSchema = 0;
  (void)argc;
  if( zTab==0 || z==0 ){
    bec_fn_error(ctx, SQLITE_MISUSE, sqlite3_mprintf("bec_alter: give a table "
                 "name and a change, e.g. 'ADD COLUMN n INTEGER NOT NULL "
                 "DEFAULT 0'"));
    return;
  }
  rc = bec_crdt_get(p, &pC);
  if( rc==SQLITE_OK ) rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK && pC->bTxn && pC->nChange>0 ){
    zErr = sqlite3_mprintf("commit the writes to bec tables before altering "
                           "a bec table in the same transaction");
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ) rc = bec_crdt_winner(p, zTab, &iSchema);
  if( rc==SQLITE_OK && iSchema ){
    rc = bec_crdt_load_schema(p, iSchema, &s, aCreate, &zErr);
    if( rc==SQLITE_OK && s->action!=BEC_SCHEMA_CREATE ) iSchema = 0;
  }
  if( rc==SQLITE_OK && iSchema==0 ){
    zErr = sqlite3_mprintf("no bec table %s", zTab);
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ){
    while( is_space(*z) ) z++;
    if( word_is(z, "ADD") ){
      const char *azArg[3];
      int nArg = 1;
      z += 3;
      while( is_space(*z) ) z++;
      if( word_is(z, "COLUMN") ) z += 6;
      /* The table's options decide the column's strict type; the ADD op
      ** records them (the merge ignores one whose options differ). */
      azArg[0] = z;
      if( s->opts & BEC_OPT_STRICT ) azArg[nArg++] = "strict=1";
      if( s->opts & BEC_OPT_ADMIN ) azArg[nArg++] = "write='admin'";
      rc = parse_args(p, BEC_SCHEMA_ADD, s->zName, nArg, azArg, &pAdd, &zErr);
    }else if( word_is(z, "RENAME") && word_is(z+6+strspn(z+6, " \t\n\r"), "TO") ){
      /* RENAME TO u: the table's name (a register, like a column's) */
      char zNew[BEC_TABLE_MAX_NAME+1];
      z += 6;
      while( is_space(*z) ) z++;
      z += 2;
      if( read_ident(&z, zNew, sizeof(zNew))<=0 ){
        zErr = sqlite3_mprintf("RENAME TO u: the new name is missing");
        rc = SQLITE_ERROR;
      }
      while( rc==SQLITE_OK && is_space(*z) ) z++;
      if( rc==SQLITE_OK && *z ){
        zErr = sqlite3_mprintf("unexpected \"%s\" after the new name", z);
        rc = SQLITE_ERROR;
      }
      if( rc==SQLITE_OK ){
        rc = retable_op(p, iSchema, aCreate, s->zName, zNew, &pAdd, &zErr);
      }
    }else if( word_is(z, "DROP") || word_is(z, "RENAME") ){
      rc = alter_column(p, s, aCreate, z, &pAdd, &zErr);
    }else{
      zErr = sqlite3_mprintf("unsupported change \"%s\" (supported: ADD "
          "COLUMN <column definition>, RENAME COLUMN a TO b, DROP COLUMN c, "
          "RENAME TO u)", z);
      rc = SQLITE_ERROR;
    }
  }
  if( rc==SQLITE_OK ){
    char *zWhy = 0;
    memcpy(pAdd->aCreate, aCreate, BEC_HASH_BYTES);
    /* The merge's verdict on the op, before it is signed. */
    rc = bec_crdt_alter_judge(p, pAdd, &zWhy);
    if( rc==SQLITE_OK && zWhy ){
      zErr = zWhy;
      rc = SQLITE_ERROR;
    }else{
      sqlite3_free(zWhy);
    }
  }
  /* Not nested: the merge declares the table again (alter_show) or
  ** under its new name (catalog_sync). */
  if( rc==SQLITE_OK ) rc = append_schema(p, pAdd, 0, aHash, &zErr);
  bec_schema_free(s);
  bec_schema_free(pAdd);
  if( rc ) bec_fn_error_in(ctx, "bec_alter", rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

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
  if( rc==SQLITE_OK ){
    /* Signs an op: never from a view or trigger. */
    rc = sqlite3_create_function_v2(db, "bec_alter", 2,
        SQLITE_UTF8|SQLITE_DIRECTONLY, bec_ctx_ref(pCtx), alterFunc, 0, 0,
        bec_ctx_unref);
  }
  if( rc ) return rc;
  rc = bec_vtab_register_table(db, pCtx, &conflictsDef);
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table_ctx(db, pCtx, &columnsDef,
                                                            columnsColumn);
  return rc;
}
