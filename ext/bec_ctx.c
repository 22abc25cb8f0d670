/*
** bec_ctx.c - the per-connection context: the statement cache (growable:
** it never fails a statement), the unlocked secret key and the in-memory
** caches of derived state (held here, forgotten through the xForget that
** bec_main.c installs: this file names nothing above it).
**
** Why a sentinel table: sqlite3_close() refuses to close a connection that
** still has prepared statements, and it checks that before it runs function
** destructors.  It does, however, disconnect every virtual table first,
** eponymous ones included.  So the cache connects the hidden eponymous
** table bec_conn whenever it prepares a statement, and bec_conn's
** xDisconnect finalizes the cache: a plain sqlite3_close() then succeeds.
*/
#include "becInt.h"

/* Ownership: *pp is from sqlite3_malloc64; freed by the last bec_ctx_unref(). */
int bec_ctx_new(sqlite3 *db, BecCtx **pp){
  BecCtx *p = sqlite3_malloc64(sizeof(BecCtx));
  *pp = 0;
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->db = db;
  p->nRef = 1;
  *pp = p;
  return SQLITE_OK;
}

int bec_ctx_add_deriver(BecCtx *p, const BecDeriver *pDeriver){
  if( p->nDeriver>=BEC_MAX_DERIVERS ) return SQLITE_FULL;
  p->apDeriver[p->nDeriver++] = pDeriver;
  return SQLITE_OK;
}

void bec_ctx_finalize_stmts(BecCtx *p){
  int i;
  for(i=0; i<p->nStmtSlot; i++){
    sqlite3_finalize(p->aStmt[i].pStmt);
  }
  sqlite3_free(p->aStmt);
  p->aStmt = 0;
  p->nStmtSlot = 0;
  p->nStmt = 0;
}

void bec_ctx_drop_caches(BecCtx *p){
  if( p->xForget ) p->xForget(p);
  p->bSchema = 0;
  p->bGraphChecked = 0;
  p->bGroupKnown = 0;
}

BecCtx *bec_ctx_ref(BecCtx *p){
  p->nRef++;
  return p;
}

/* The destructor of every registration that holds the context. */
void bec_ctx_unref(void *pArg){
  BecCtx *p = (BecCtx*)pArg;
  if( p==0 || --p->nRef>0 ) return;
  bec_ctx_finalize_stmts(p);
  bec_ctx_drop_caches(p);
  bec_crypto_wipe(p->aSecret, sizeof(p->aSecret));
  sqlite3_free(p->zKeyFile);
  sqlite3_free(p);
}

/* Connects bec_conn so that closing the connection finalizes the cache. */
static int connect_sentinel(BecCtx *p){
  sqlite3_stmt *pStmt = 0;
  int rc;
  if( p->bSentinel ) return SQLITE_OK;
  rc = sqlite3_prepare_v2(p->db, "SELECT 1 FROM bec_conn", -1, &pStmt, 0);
  sqlite3_finalize(pStmt);
  return rc;
}

/*
** The statement cache.  Every bec_ctx_stmt() call site passes its own string
** literal, so a literal's address names a statement; the set of them is
** fixed at compile time but nothing here depends on its size.  The table is
** open addressing with linear probing over a power-of-two number of slots,
** kept at most half full: a probe always ends at the literal's slot or at an
** empty one.  When one more statement would pass half, the table doubles
** first; the only way that can fail is SQLITE_NOMEM, and then the cache is
** unchanged.  (Addresses are scrambled by a multiplicative hash because
** literals are packed side by side and share their low bits.)
*/
static BecStmtSlot *stmt_slot(BecStmtSlot *a, int nSlot, const char *zSql){
  u64 h = (u64)(uintptr_t)zSql * 0x9E3779B97F4A7C15ull;
  unsigned m = (unsigned)nSlot - 1;
  unsigned j = (unsigned)(h >> 32) & m;
  while( a[j].zSql!=0 && a[j].zSql!=zSql ) j = (j + 1) & m;
  return &a[j];
}

/* Doubles the table (or allocates the first one); moves every entry. */
static int stmt_grow(BecCtx *p){
  int nNew = p->nStmtSlot ? p->nStmtSlot*2 : BEC_STMT_CACHE_INIT;
  BecStmtSlot *aNew;
  int i;
  if( nNew<=p->nStmtSlot || nNew>(1<<24) ) return SQLITE_NOMEM;
  aNew = sqlite3_malloc64(sizeof(BecStmtSlot)*(sqlite3_uint64)nNew);
  if( aNew==0 ) return SQLITE_NOMEM;
  memset(aNew, 0, sizeof(BecStmtSlot)*(size_t)nNew);
  for(i=0; i<p->nStmtSlot; i++){
    if( p->aStmt[i].zSql ) *stmt_slot(aNew, nNew, p->aStmt[i].zSql) = p->aStmt[i];
  }
  sqlite3_free(p->aStmt);
  p->aStmt = aNew;
  p->nStmtSlot = nNew;
  return SQLITE_OK;
}

int bec_ctx_stmt(BecCtx *p, const char *zSql, sqlite3_stmt **ppStmt){
  BecStmtSlot *pSlot;
  int rc;
  *ppStmt = 0;
  if( p->nStmtSlot ){
    pSlot = stmt_slot(p->aStmt, p->nStmtSlot, zSql);
    if( pSlot->zSql ){
      sqlite3_reset(pSlot->pStmt);
      sqlite3_clear_bindings(pSlot->pStmt);
      *ppStmt = pSlot->pStmt;
      return SQLITE_OK;
    }
  }
  rc = connect_sentinel(p);
  if( rc==SQLITE_OK && (p->nStmt+1)*2>p->nStmtSlot ) rc = stmt_grow(p);
  if( rc ) return rc;
  pSlot = stmt_slot(p->aStmt, p->nStmtSlot, zSql);
  rc = sqlite3_prepare_v3(p->db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                          &pSlot->pStmt, 0);
  if( rc ) return rc;   /* pSlot->pStmt is 0: the slot stays empty */
  pSlot->zSql = zSql;
  p->nStmt++;
  *ppStmt = pSlot->pStmt;
  return SQLITE_OK;
}

static int run_cached(BecCtx *p, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, zSql, &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  return rc;
}

/* The outermost change of a call made in autocommit mode runs in its own
** BEGIN IMMEDIATE transaction instead of a savepoint: everything it reads
** (heads, the graph) is then read under the write lock, so two processes
** appending to one file chain their ops instead of forking or failing with
** SQLITE_BUSY_SNAPSHOT, and the busy handler is honoured while waiting. */
#define TXN_BEGIN    "BEGIN IMMEDIATE"
#define TXN_COMMIT   "COMMIT"
#define TXN_ROLLBACK "ROLLBACK"

/* Undoes stack entry i (the innermost); 0 if the SQL ran. */
static int undo_entry(BecCtx *p, int i){
  int rc;
  if( p->aSavepoint[i].bTxn ){
    rc = run_cached(p, TXN_ROLLBACK);
  }else{
    rc = run_cached(p, p->aSavepoint[i].pSp->zRollback);
    if( rc==SQLITE_OK ) rc = run_cached(p, p->aSavepoint[i].pSp->zRelease);
  }
  return rc;
}

void bec_ctx_recover(BecCtx *p){
  if( !p->bNeedRecovery ) return;
  /* Roll back, innermost first, what a failed call left open.  A savepoint
  ** that SQLite already rolled back with its transaction is simply gone. */
  while( p->nSavepoint>0 ){
    p->nSavepoint--;
    (void)undo_entry(p, p->nSavepoint);
  }
  p->bNeedRecovery = 0;
  bec_ctx_drop_caches(p);
}

int bec_ctx_begin(BecCtx *p, const BecSavepoint *pSp){
  int rc, bTxn;
  if( p->bNested ) return SQLITE_OK;
  bec_ctx_recover(p);
  if( p->nSavepoint>=BEC_SAVEPOINT_MAX ) return SQLITE_INTERNAL;
  bTxn = sqlite3_get_autocommit(p->db);
  rc = run_cached(p, bTxn ? TXN_BEGIN : pSp->zBegin);
  if( rc==SQLITE_OK ){
    p->aSavepoint[p->nSavepoint].pSp = pSp;
    p->aSavepoint[p->nSavepoint].bTxn = bTxn;
    p->nSavepoint++;
  }
  return rc;
}

/* Pops pSp if it is the innermost entry; the index it had, or -1. */
static int top_entry(BecCtx *p, const BecSavepoint *pSp){
  if( p->nSavepoint>0 && p->aSavepoint[p->nSavepoint-1].pSp==pSp ){
    return p->nSavepoint-1;
  }
  return -1;
}

int bec_ctx_rollback(BecCtx *p, const BecSavepoint *pSp){
  int rc = bec_ctx_rollback_clean(p, pSp);
  bec_ctx_drop_caches(p);
  return rc;
}

int bec_ctx_rollback_clean(BecCtx *p, const BecSavepoint *pSp){
  int rc = SQLITE_OK;
  int i;
  if( !p->bNested ){
    i = top_entry(p, pSp);
    rc = i<0 ? SQLITE_INTERNAL : undo_entry(p, i);
    if( rc==SQLITE_OK ){
      p->nSavepoint--;
    }else{
      p->bNeedRecovery = 1;
      bec_ctx_drop_caches(p);
    }
  }
  return rc;
}

int bec_ctx_commit(BecCtx *p, const BecSavepoint *pSp){
  int rc, i;
  if( p->bNested ) return SQLITE_OK;
  i = top_entry(p, pSp);
  if( i<0 ) return SQLITE_INTERNAL;
  rc = run_cached(p, p->aSavepoint[i].bTxn ? TXN_COMMIT : pSp->zRelease);
  if( rc==SQLITE_OK ){
    p->nSavepoint--;
  }else{
    bec_ctx_rollback(p, pSp);
  }
  return rc;
}

const char *bec_rc_text(sqlite3 *db, int rc){
  const char *z;
  if( rc==SQLITE_INTERNAL ){
    return "internal error (a bec invariant failed; bec_check() may say more)";
  }
  if( rc==SQLITE_NOMEM ) return "out of memory";
  if( db && (sqlite3_errcode(db) & 0xff)==(rc & 0xff) ) return sqlite3_errmsg(db);
  z = sqlite3_errstr(rc);
  return strcmp(z, "unknown error")==0 ? "unexpected result code" : z;
}

int bec_ctx_exec(BecCtx *p, const char *zSql, char **pzErr){
  char *zErr = 0;
  int rc = sqlite3_exec(p->db, zSql, 0, 0, &zErr);
  if( rc && pzErr ){
    *pzErr = sqlite3_mprintf("%s", zErr ? zErr : sqlite3_errmsg(p->db));
  }
  sqlite3_free(zErr);
  return rc;
}

/**************************************************************************
** bec_conn: the sentinel.  One hidden column, never any rows.
*/
typedef struct ConnVtab ConnVtab;
struct ConnVtab {
  sqlite3_vtab base;
  BecCtx *pCtx;
};

static int connConnect(sqlite3 *db, void *pAux, int argc,
                       const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr){
  ConnVtab *p;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(unused HIDDEN)");
  *ppVtab = 0;
  if( rc ) return rc;
  p = sqlite3_malloc64(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->pCtx = (BecCtx*)pAux;
  p->pCtx->bSentinel = 1;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &p->base;
  return SQLITE_OK;
}

static int connDisconnect(sqlite3_vtab *pVtab){
  ConnVtab *p = (ConnVtab*)pVtab;
  bec_ctx_finalize_stmts(p->pCtx);
  p->pCtx->bSentinel = 0;
  sqlite3_free(p);
  return SQLITE_OK;
}

static int connBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  pInfo->estimatedCost = 1;
  pInfo->estimatedRows = 0;
  return SQLITE_OK;
}

static int connOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  sqlite3_vtab_cursor *p = sqlite3_malloc64(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  *ppCur = p;
  return SQLITE_OK;
}

static int connClose(sqlite3_vtab_cursor *pCur){
  sqlite3_free(pCur);
  return SQLITE_OK;
}

static int connFilter(sqlite3_vtab_cursor *pCur, int idxNum,
                      const char *idxStr, int argc, sqlite3_value **argv){
  return SQLITE_OK;
}

static int connNext(sqlite3_vtab_cursor *pCur){ return SQLITE_OK; }
static int connEof(sqlite3_vtab_cursor *pCur){ return 1; }
static int connColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int i){
  return SQLITE_OK;
}
static int connRowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid){
  *pRowid = 0;
  return SQLITE_OK;
}

sqlite3_module bec_conn_module = {
  0,               /* iVersion */
  0,               /* xCreate: eponymous only */
  connConnect,
  connBestIndex,
  connDisconnect,
  0,               /* xDestroy */
  connOpen,
  connClose,
  connFilter,
  connNext,
  connEof,
  connColumn,
  connRowid,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};

void bec_verdict_set(BecVerdict *pV, int rc, const char *zFmt, ...){
  va_list ap;
  char *z;
  va_start(ap, zFmt);
  z = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  sqlite3_free(pV->zReason);
  pV->rc = rc;
  /* Out of memory for the reason is still a refusal, never a silent pass. */
  pV->zReason = z ? z : sqlite3_mprintf("refused");
}

void bec_verdict_clear(BecVerdict *pV){
  sqlite3_free(pV->zReason);
  pV->zReason = 0;
  pV->rc = 0;
}

/**************************************************************************
** Helpers of every SQL function (here, below every file that registers
** functions).
*/
void bec_fn_error(sqlite3_context *ctx, int rc, char *zErr){
  if( rc==SQLITE_NOMEM ){
    sqlite3_result_error_nomem(ctx);
  }else{
    if( zErr==0 ){
      /* Every caller should say what failed; this is the safety net. */
      zErr = sqlite3_mprintf("bec: %s",
                             bec_rc_text(sqlite3_context_db_handle(ctx), rc));
    }
    if( zErr==0 ){
      sqlite3_result_error_nomem(ctx);
      return;
    }
    sqlite3_result_error(ctx, zErr, -1);
    if( rc!=SQLITE_ERROR ) sqlite3_result_error_code(ctx, rc);
  }
  sqlite3_free(zErr);
}

void bec_fn_error_in(sqlite3_context *ctx, const char *zFunc, int rc,
                     char *zErr){
  size_t n = strlen(zFunc);
  char *zMsg;
  if( rc==SQLITE_NOMEM || (zErr && strncmp(zErr, zFunc, n)==0 && zErr[n]==':') ){
    bec_fn_error(ctx, rc, zErr);
    return;
  }
  if( zErr ){
    zMsg = sqlite3_mprintf("%s: %s", zFunc,
                           zErr + (strncmp(zErr, "bec: ", 5)==0 ? 5 : 0));
  }else{
    zMsg = sqlite3_mprintf("%s: %s", zFunc,
                           bec_rc_text(sqlite3_context_db_handle(ctx), rc));
  }
  sqlite3_free(zErr);
  if( zMsg==0 ) rc = SQLITE_NOMEM;
  bec_fn_error(ctx, rc, zMsg);
}

void bec_fn_result_hex(sqlite3_context *ctx, const u8 *a, int n){
  char z[2*BEC_HASH_BYTES+1];
  bec_hex_encode(a, n, z);
  sqlite3_result_text(ctx, z, 2*n, SQLITE_TRANSIENT);
}

int bec_fn_arg32(sqlite3_value *pVal, u8 *aOut){
  if( sqlite3_value_type(pVal)==SQLITE_BLOB
   && sqlite3_value_bytes(pVal)==BEC_HASH_BYTES ){
    memcpy(aOut, sqlite3_value_blob(pVal), BEC_HASH_BYTES);
    return 1;
  }
  if( sqlite3_value_type(pVal)==SQLITE_TEXT ){
    return bec_hex_decode((const char*)sqlite3_value_text(pVal),
                          sqlite3_value_bytes(pVal), aOut,
                          BEC_HASH_BYTES)==BEC_HASH_BYTES;
  }
  return 0;
}

/**************************************************************************
** bec_store_config: settings and facts of the database (its group id, op
** format, sealed key, limits), one key per row.  The table is created with
** the DAG's tables; every read and write of it goes through these.
*/
/* A copy of column 0 of the current row: *ppOut from sqlite3_malloc64 (the
** caller frees it), *pn its size. */
int bec_ctx_column_copy(sqlite3_stmt *pStmt, u8 **ppOut, i64 *pn){
  i64 n = sqlite3_column_bytes(pStmt, 0);
  u8 *a = sqlite3_malloc64((sqlite3_uint64)n + 1);
  if( a==0 ) return SQLITE_NOMEM;
  if( n ) memcpy(a, sqlite3_column_blob(pStmt, 0), (size_t)n);
  *ppOut = a;
  *pn = n;
  return SQLITE_OK;
}

int bec_config_get_blob(BecCtx *p, const char *zKey, u8 **ppOut, int *pn){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p,
      "SELECT value FROM bec_store_config WHERE key=?1", &pStmt);
  *ppOut = 0;
  *pn = 0;
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zKey, -1, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW
   && sqlite3_column_type(pStmt, 0)==SQLITE_BLOB ){
    i64 n = 0;
    rc = bec_ctx_column_copy(pStmt, ppOut, &n);
    *pn = (int)n;
  }
  sqlite3_reset(pStmt);
  return rc;
}

int bec_config_set_blob(BecCtx *p, const char *zKey, const void *a, int n){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p,
      "INSERT OR REPLACE INTO bec_store_config(key, value) VALUES(?1, ?2)",
      &pStmt);
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zKey, -1, SQLITE_STATIC);
  if( a ) sqlite3_bind_blob(pStmt, 2, a, n, SQLITE_STATIC);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

int bec_config_get_int(BecCtx *p, const char *zKey, i64 iDefault,
                           i64 *piOut){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p,
      "SELECT value FROM bec_store_config WHERE key=?1", &pStmt);
  *piOut = iDefault;
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zKey, -1, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW
   && sqlite3_column_type(pStmt, 0)==SQLITE_INTEGER ){
    *piOut = sqlite3_column_int64(pStmt, 0);
  }
  return sqlite3_reset(pStmt);
}

int bec_config_set_int(BecCtx *p, const char *zKey, i64 iVal){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p,
      "INSERT OR REPLACE INTO bec_store_config(key, value) VALUES(?1, ?2)",
      &pStmt);
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zKey, -1, SQLITE_STATIC);
  sqlite3_bind_int64(pStmt, 2, iVal);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

int bec_config_delete(BecCtx *p, const char *zKey){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "DELETE FROM main.bec_store_config WHERE key=?1",
                        &pStmt);
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zKey, -1, SQLITE_STATIC);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

int bec_ctx_register_funcs(sqlite3 *db, BecCtx *p, const BecFunc *a, int n){
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    /* Each registration holds a reference, released by its destructor. */
    rc = sqlite3_create_function_v2(db, a[i].zName, a[i].nArg, a[i].flags,
                                    bec_ctx_ref(p), a[i].xFunc, 0, 0,
                                    bec_ctx_unref);
  }
  return rc;
}
