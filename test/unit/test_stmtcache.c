/*
** test_stmtcache.c - the per-connection statement cache (bec_ctx_stmt) never
** fails a statement (issue 11, class 7).
**
** The cache used to hold 64 slots and answered SQLITE_FULL, with no
** message, to the 65th distinct statement of a connection.  Here one
** context is given far more distinct literals than any fixed bound; every
** one must be prepared, cached (the same statement comes back) and run,
** and a plain sqlite3_close() must still succeed (the bec_conn sentinel
** finalizes the cache).  Then the same filling runs with the N-th
** allocation failing, for every N: each call ends in SQLITE_OK or
** SQLITE_NOMEM, and afterwards every statement is prepared and right.
*/
#include "becInt.h"
#include "bectest.h"

#define NLIT 300                 /* distinct literals: well past 64 */
#define NOOM 140                 /* those filled under faults: 3 growths */
static char azSql[NLIT][32];     /* each row has its own address */

static sqlite3_mem_methods orig;
static int nFailAt = 0;          /* fail this allocation; 0: never */
static int nAlloc = 0;
static int bFailed = 0;

static void *oomMalloc(int n){
  if( nFailAt && ++nAlloc==nFailAt ){ bFailed = 1; return 0; }
  return orig.xMalloc(n);
}
static void *oomRealloc(void *p, int n){
  if( nFailAt && ++nAlloc==nFailAt ){ bFailed = 1; return 0; }
  return orig.xRealloc(p, n);
}
static void arm(int n){ nFailAt = n; nAlloc = 0; bFailed = 0; }
static void disarm(void){ nFailAt = 0; }

/* A connection whose bec_conn sentinel finalizes the context p. */
static sqlite3 *open_with(BecCtx **pp){
  sqlite3 *db = 0;
  *pp = 0;
  if( sqlite3_open(":memory:", &db)!=SQLITE_OK ) return 0;
  if( bec_ctx_new(db, pp)!=SQLITE_OK
   || sqlite3_create_module(db, "bec_conn", &bec_conn_module, *pp)!=SQLITE_OK ){
    sqlite3_close(db);
    bec_ctx_unref(*pp);
    *pp = 0;
    return 0;
  }
  return db;
}

/* 1 if pStmt yields the one value i. */
static int yields(sqlite3_stmt *pStmt, int i){
  int ok = pStmt && sqlite3_step(pStmt)==SQLITE_ROW
        && sqlite3_column_int(pStmt, 0)==i;
  if( pStmt ) ok = sqlite3_reset(pStmt)==SQLITE_OK && ok;
  return ok;
}

static void test_many(void){
  sqlite3_stmt *apFirst[NLIT];
  BecCtx *p = 0;
  sqlite3 *db = open_with(&p);
  int i, nBad = 0, nMoved = 0;
  CHECK(db!=0);
  if( db==0 ) return;
  for(i=0; i<NLIT; i++){
    sqlite3_stmt *pStmt = 0;
    int rc = bec_ctx_stmt(p, azSql[i], &pStmt);
    if( rc!=SQLITE_OK || !yields(pStmt, i) ){
      if( nBad++<3 ) printf("FAIL statement %d: rc=%d\n", i, rc);
    }
    apFirst[i] = pStmt;
  }
  CHECK_MSG(nBad==0, "%d of %d distinct statements failed", nBad, NLIT);
  CHECK(p->nStmt==NLIT);
  CHECK(p->nStmtSlot>=2*NLIT);
  /* Cached: the same statement comes back, reset, bindings cleared. */
  for(i=NLIT-1; i>=0; i--){
    sqlite3_stmt *pStmt = 0;
    if( bec_ctx_stmt(p, azSql[i], &pStmt)!=SQLITE_OK || pStmt!=apFirst[i]
     || !yields(pStmt, i) ) nMoved++;
  }
  CHECK_MSG(nMoved==0, "%d statements not found again in the cache", nMoved);
  CHECK(p->nStmt==NLIT);
  CHECK(sqlite3_close(db)==SQLITE_OK);
  CHECK(p->aStmt==0 && p->nStmt==0);
  bec_ctx_unref(p);
}

/* Fill the cache with every allocation failing in turn (every 17th under
** valgrind). */
static void test_oom(void){
  int nStride = getenv("BEC_VALGRIND") ? 17 : 1;
  int n, nFault = 0, nGrowFail = 0, nBad = 0;
  for(n=1; n<1000000; n+=nStride){
    BecCtx *p = 0;
    sqlite3 *db = open_with(&p);
    int i, bDone;
    if( db==0 ){ nBad++; break; }
    arm(n);
    for(i=0; i<NOOM; i++){
      sqlite3_stmt *pStmt = 0;
      int nSlot = p->nStmtSlot, nUsed = p->nStmt;
      int rc = bec_ctx_stmt(p, azSql[i], &pStmt);
      if( rc==SQLITE_NOMEM ){
        /* A failed call leaves the cache as it was. */
        if( pStmt!=0 || p->nStmt!=nUsed || p->nStmtSlot<nSlot ) nBad++;
        if( (nUsed+1)*2>nSlot && p->nStmtSlot==nSlot && nSlot>0 ) nGrowFail++;
      }else if( rc!=SQLITE_OK || !yields(pStmt, i) ){
        if( nBad++<3 ) printf("FAIL fault %d: statement %d: rc=%d\n", n, i, rc);
      }
    }
    bDone = !bFailed;
    disarm();
    if( bFailed ) nFault++;
    /* Whatever failed, every statement is now prepared and correct. */
    for(i=0; i<NOOM; i++){
      sqlite3_stmt *pStmt = 0;
      if( bec_ctx_stmt(p, azSql[i], &pStmt)!=SQLITE_OK || !yields(pStmt, i) ){
        if( nBad++<3 ) printf("FAIL fault %d: statement %d after recovery\n", n, i);
      }
    }
    if( p->nStmt!=NOOM || p->nStmt*2>p->nStmtSlot ) nBad++;
    if( sqlite3_close(db)!=SQLITE_OK ) nBad++;
    bec_ctx_unref(p);
    if( bDone ) break;
  }
  CHECK_MSG(nBad==0, "%d bad outcomes under allocation faults", nBad);
  CHECK_MSG(nFault*nStride>1000, "only %d faults injected", nFault);
  if( nStride==1 ){
    /* The growths at 33, 65 and 129 statements each failed. */
    CHECK_MSG(nGrowFail>=3, "only %d failed growths", nGrowFail);
  }
  printf("stmtcache oom: %d allocation faults injected, %d in a growth\n",
         nFault, nGrowFail);
}

int main(void){
  sqlite3_mem_methods wrap;
  int i;
  for(i=0; i<NLIT; i++) snprintf(azSql[i], sizeof(azSql[i]), "SELECT %d", i);
  CHECK(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &orig)==SQLITE_OK);
  wrap = orig;
  wrap.xMalloc = oomMalloc;
  wrap.xRealloc = oomRealloc;
  CHECK(sqlite3_config(SQLITE_CONFIG_MALLOC, &wrap)==SQLITE_OK);
  CHECK(sqlite3_initialize()==SQLITE_OK);
  test_many();
  test_oom();
  return bt_done();
}
