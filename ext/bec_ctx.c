/*
** bec_ctx.c - the per-connection context: the statement cache, the
** unlocked secret key and the in-memory caches of derived state.
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

void bec_ctx_finalize_stmts(BecCtx *p){
  int i;
  for(i=0; i<BEC_STMT_CACHE; i++){
    sqlite3_finalize(p->aStmt[i].pStmt);
    p->aStmt[i].pStmt = 0;
    p->aStmt[i].zSql = 0;
  }
}

void bec_ctx_drop_caches(BecCtx *p){
  bec_graph_free(p->pGraph);
  p->pGraph = 0;
  bec_member_free(p->pMember);
  p->pMember = 0;
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

int bec_ctx_stmt(BecCtx *p, const char *zSql, sqlite3_stmt **ppStmt){
  /* Open addressing on the literal's address; the cache never fills in
  ** practice, and if it does the statement is simply not cached. */
  unsigned h = (unsigned)(((uintptr_t)zSql >> 3) % BEC_STMT_CACHE);
  int i, rc;
  *ppStmt = 0;
  for(i=0; i<BEC_STMT_CACHE; i++){
    int j = (int)((h + (unsigned)i) % BEC_STMT_CACHE);
    if( p->aStmt[j].zSql==zSql ){
      sqlite3_reset(p->aStmt[j].pStmt);
      sqlite3_clear_bindings(p->aStmt[j].pStmt);
      *ppStmt = p->aStmt[j].pStmt;
      return SQLITE_OK;
    }
    if( p->aStmt[j].zSql==0 ){
      rc = connect_sentinel(p);
      if( rc ) return rc;
      rc = sqlite3_prepare_v3(p->db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                              &p->aStmt[j].pStmt, 0);
      if( rc ) return rc;
      p->aStmt[j].zSql = zSql;
      *ppStmt = p->aStmt[j].pStmt;
      return SQLITE_OK;
    }
  }
  return SQLITE_FULL;
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
