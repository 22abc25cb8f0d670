/*
** bec_batch.c - rows held in memory, read by SQL: the batches of the merge
** writer (issue 18).
**
** The merge writer (bec_crdt.c) writes the rows of one op with one
** statement per batch instead of one statement per row, because a
** statement of its own per row (bind, step, reset, halt) costs more than
** the row's write itself (BENCH.md, "Writes ... one statement per batch"):
**
**   INSERT INTO "t_rows"(c0, c1, .., r, s1, ..)
**     SELECT v0, v1, .., ?2, ?2, .. FROM bec_batch(?1) WHERE 1
**     ON CONFLICT(c0) DO UPDATE SET r=bec_batch_hit(?1, excluded.r), ..
**
** ?1 is a BecBatch bound with sqlite3_bind_pointer(.., BEC_BATCH_PTR, 0):
** SQL text cannot make such a pointer, so from SQL the table is empty and
** the function returns its second argument unchanged.
**
**   bec_batch(batch)      an eponymous table-valued table: one row per
**                         batch row, columns v0..v255 its values (a column
**                         past the batch's nCol is NULL); text and blobs
**                         are handed out without a copy (they live as long
**                         as the batch, which outlives the statement)
**   bec_batch_hit(batch, x)
**                         marks the batch row the table is on as one that
**                         found its row (the upsert's DO UPDATE ran), and
**                         returns x: the change feed's insert or update
**
** A local UPDATE's batch on an INTEGER key in ascending key order (each
** row located by xUpdate, so each exists) is written by an UPDATE over the
** key range instead, which reads no table-valued table (bec_crdt.c
** batch_stmt; BENCH.md "... tenth session": about 600 instructions a row
** less than the upsert):
**
**   UPDATE "t_rows" SET c2=bec_batch_value(?1, c0, 2), s2=?2, r=?2
**     WHERE c0 BETWEEN ?3 AND ?4 [AND bec_batch_has(?1, c0)]
**
**   bec_batch_has(batch, key)       1 if a row of the batch has that key
**   bec_batch_value(batch, key, i)  value i of the row with that key (an
**                         error if none: the WHERE clause admitted it)
**
** Both find the row from the one the last call found (SQLite walks the
** range in key order), by binary search otherwise (any order is right).
**
** bec_batch_hit relies on SQLite writing each row of an INSERT ... SELECT
** as the SELECT yields it (a co-routine), which holds when the SELECT
** reads no table the INSERT writes: the rows come from memory only.  The
** rows are walked in order, so a key twice in one batch is inserted, then
** updated, exactly as two statements would.
*/
#include "becInt.h"

#define BATCH_COL_PTR BEC_TABLE_MAX_COL   /* the hidden argument's column */

typedef struct BatchCursor BatchCursor;
struct BatchCursor {
  sqlite3_vtab_cursor base;
  BecBatch *pBatch;           /* 0: no batch bound (SQL text): no rows */
  int iRow;
};

static int batchConnect(sqlite3 *db, void *pAux, int argc,
                        const char *const *argv, sqlite3_vtab **ppVtab,
                        char **pzErr){
  BecBuf b;
  sqlite3_vtab *p = 0;
  int rc = SQLITE_OK, i;
  *ppVtab = 0;
  memset(&b, 0, sizeof(b));
  bec_buf_appendf(&b, &rc, "CREATE TABLE x(");
  for(i=0; i<BEC_TABLE_MAX_COL; i++) bec_buf_appendf(&b, &rc, "v%d, ", i);
  bec_buf_appendf(&b, &rc, "batch HIDDEN)");
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ) rc = sqlite3_declare_vtab(db, (const char*)b.a);
  bec_buf_free(&b);
  if( rc==SQLITE_OK ){
    p = sqlite3_malloc64(sizeof(*p));
    if( p==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ){
    memset(p, 0, sizeof(*p));
    /* (empty without a pointer only C can bind; never useful elsewhere) */
    sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    *ppVtab = p;
  }
  return rc;
}

static int batchDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/* The one plan: batch = argv[0]; without it there is no plan. */
static int batchBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  int i;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    if( pC->iColumn==BATCH_COL_PTR && pC->op==SQLITE_INDEX_CONSTRAINT_EQ
     && pC->usable ){
      pInfo->aConstraintUsage[i].argvIndex = 1;
      pInfo->aConstraintUsage[i].omit = 1;
      pInfo->estimatedCost = 1.0;
      return SQLITE_OK;
    }
  }
  return SQLITE_CONSTRAINT;
}

static int batchOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  BatchCursor *p = sqlite3_malloc64(sizeof(*p));
  *ppCur = 0;
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  *ppCur = &p->base;
  return SQLITE_OK;
}

static int batchClose(sqlite3_vtab_cursor *pCur){
  sqlite3_free(pCur);
  return SQLITE_OK;
}

static int batchFilter(sqlite3_vtab_cursor *pCur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  BatchCursor *p = (BatchCursor*)pCur;
  p->pBatch = argc>0 ? sqlite3_value_pointer(argv[0], BEC_BATCH_PTR) : 0;
  p->iRow = 0;
  if( p->pBatch ) p->pBatch->iRow = 0;
  return SQLITE_OK;
}

static int batchNext(sqlite3_vtab_cursor *pCur){
  BatchCursor *p = (BatchCursor*)pCur;
  p->iRow++;
  p->pBatch->iRow = p->iRow;
  return SQLITE_OK;
}

static int batchEof(sqlite3_vtab_cursor *pCur){
  BatchCursor *p = (BatchCursor*)pCur;
  return p->pBatch==0 || p->iRow>=p->pBatch->nRow;
}

static int batchColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx,
                       int i){
  BatchCursor *p = (BatchCursor*)pCur;
  const BecBatch *b = p->pBatch;
  if( i<b->nCol ){
    /* (static: the values live as long as the batch) */
    bec_value_result_as(ctx, &b->aVal[(i64)p->iRow*b->nCol + i], SQLITE_STATIC);
  }
  return SQLITE_OK;
}

static int batchRowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid){
  *pRowid = ((BatchCursor*)pCur)->iRow;
  return SQLITE_OK;
}

static sqlite3_module batchModule = {
  0,                /* iVersion */
  0,                /* xCreate: eponymous only */
  batchConnect,
  batchBestIndex,   /* batch = ? (the table-valued argument) */
  batchDisconnect,
  0,                /* xDestroy */
  batchOpen,
  batchClose,
  batchFilter,
  batchNext,
  batchEof,
  batchColumn,
  batchRowid,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0     /* read-only, no transactions */
};

/* bec_batch_hit(batch, x): the row the table is on found its row. */
static void hitFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecBatch *b = sqlite3_value_pointer(argv[0], BEC_BATCH_PTR);
  if( b && b->iRow>=0 && b->iRow<b->nRow ) b->aHit[b->iRow] = 1;
  sqlite3_result_value(ctx, argv[1]);
}

/* The row of batch b (keys ascending in column iKey, integers) whose key
** is k, or -1; b->iRow moves to it. */
static int batch_row_of(BecBatch *b, i64 k){
  const BecValue *a = b->aVal + b->iKey;
  const i64 n = b->nCol;
  int lo = 0, hi = b->nRow - 1;
  if( b->iRow>=0 && b->iRow<b->nRow && a[b->iRow*n].i==k ) return b->iRow;
  if( b->iRow+1>=0 && b->iRow+1<b->nRow && a[(b->iRow+1)*n].i==k ){
    return ++b->iRow;
  }
  while( lo<=hi ){
    int mid = lo + (hi - lo)/2;
    if( a[mid*n].i==k ) return (b->iRow = mid);
    if( a[mid*n].i<k ) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/* bec_batch_has(batch, key) */
static void hasFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecBatch *b = sqlite3_value_pointer(argv[0], BEC_BATCH_PTR);
  sqlite3_result_int(ctx, b && b->iKey>=0
                     && batch_row_of(b, sqlite3_value_int64(argv[1]))>=0);
}

/* bec_batch_value(batch, key, i) */
static void valueFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecBatch *b = sqlite3_value_pointer(argv[0], BEC_BATCH_PTR);
  int i = sqlite3_value_int(argv[2]), iRow;
  if( b==0 ) return;                        /* (from SQL text: NULL) */
  iRow = b->iKey>=0 ? batch_row_of(b, sqlite3_value_int64(argv[1])) : -1;
  if( iRow<0 || i<0 || i>=b->nCol ){
    /* (the statement's WHERE admits only the batch's keys: never) */
    sqlite3_result_error(ctx, "bec: a batch row written is not in the batch", -1);
    sqlite3_result_error_code(ctx, SQLITE_CORRUPT);
    return;
  }
  /* (static: the values live as long as the batch) */
  bec_value_result_as(ctx, &b->aVal[(i64)iRow*b->nCol + i], SQLITE_STATIC);
}

int bec_batch_register(sqlite3 *db){
  int rc = sqlite3_create_module_v2(db, "bec_batch", &batchModule, 0, 0);
  if( rc==SQLITE_OK ){
    /* DIRECTONLY: it writes (into the batch); never DETERMINISTIC */
    rc = sqlite3_create_function_v2(db, "bec_batch_hit", 2,
        SQLITE_UTF8|SQLITE_DIRECTONLY, 0, hitFunc, 0, 0, 0);
  }
  /* (not DETERMINISTIC: they read the batch, which the statement writes) */
  if( rc==SQLITE_OK ){
    rc = sqlite3_create_function_v2(db, "bec_batch_has", 2,
        SQLITE_UTF8|SQLITE_DIRECTONLY, 0, hasFunc, 0, 0, 0);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_create_function_v2(db, "bec_batch_value", 3,
        SQLITE_UTF8|SQLITE_DIRECTONLY, 0, valueFunc, 0, 0, 0);
  }
  return rc;
}
