/*
** bec_progress.c - progress of long operations (bec_check()).
**
**   SELECT * FROM bec_check_progress;     -- from any connection of the
**                                         -- process: the checks running
**   bec_check_progress(db, xCallback, p)  -- C: a callback on db's checks
**
** A long operation reports its steps through bec_progress_step.  Two
** readers see them:
**   - the process-wide table bec_check_progress(database, operation,
**     step, done, total, seconds): one row per operation running in this
**     process, readable from another connection (another thread) while
**     the operation runs on its own;
**   - a callback set on a connection with bec_check_progress() (bec.h):
**     called with the step and counts; a nonzero return stops the
**     operation with SQLITE_INTERRUPT.
** Reports are rate-limited by the caller (every BEC_PROGRESS_EVERY items
** and at each step's end), so the cost is a mutex and a few stores.
**
** Owns: the registry of running operations (memory only, under a mutex;
** nothing stored) and the per-connection callback (in BecCtx).
*/
#include "becInt.h"

#include <pthread.h>
#include <time.h>

struct BecProgress {
  BecProgress *pNext;
  BecCtx *pCtx;
  char *zDb;                     /* the main database file, or "" */
  const char *zOp;               /* static: "bec_check" */
  const char *zStep;             /* static: the step in progress */
  i64 nDone, nTotal;
  double tStart;
  int bStopped;                  /* the callback asked to stop */
};

static pthread_mutex_t gMutex = PTHREAD_MUTEX_INITIALIZER;
static BecProgress *gpRunning = 0;

static double mono_now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec/1e9;
}

int bec_progress_begin(BecCtx *p, const char *zOp, BecProgress **ppOut){
  const char *zFile = sqlite3_db_filename(p->db, "main");
  BecProgress *pr = sqlite3_malloc64(sizeof(*pr));
  *ppOut = 0;
  if( pr==0 ) return SQLITE_NOMEM;
  memset(pr, 0, sizeof(*pr));
  pr->zDb = sqlite3_mprintf("%s", zFile ? zFile : "");
  if( pr->zDb==0 ){
    sqlite3_free(pr);
    return SQLITE_NOMEM;
  }
  pr->pCtx = p;
  pr->zOp = zOp;
  pr->zStep = "starting";
  pr->tStart = mono_now();
  pthread_mutex_lock(&gMutex);
  pr->pNext = gpRunning;
  gpRunning = pr;
  pthread_mutex_unlock(&gMutex);
  *ppOut = pr;
  return SQLITE_OK;
}

int bec_progress_step(BecProgress *pr, const char *zStep, i64 nDone,
                      i64 nTotal){
  BecCtx *p;
  if( pr==0 ) return SQLITE_OK;
  p = pr->pCtx;
  pthread_mutex_lock(&gMutex);
  pr->zStep = zStep;
  pr->nDone = nDone;
  pr->nTotal = nTotal;
  pthread_mutex_unlock(&gMutex);
  if( p->xProgress && !pr->bStopped
   && p->xProgress(p->pProgressArg, zStep, nDone, nTotal) ){
    pr->bStopped = 1;
  }
  return pr->bStopped ? SQLITE_INTERRUPT : SQLITE_OK;
}

void bec_progress_end(BecProgress *pr){
  BecProgress **pp;
  if( pr==0 ) return;
  pthread_mutex_lock(&gMutex);
  for(pp=&gpRunning; *pp; pp=&(*pp)->pNext){
    if( *pp==pr ){
      *pp = pr->pNext;
      break;
    }
  }
  pthread_mutex_unlock(&gMutex);
  sqlite3_free(pr->zDb);
  sqlite3_free(pr);
}

/**************************************************************************
** The C API: bec_check_progress(db, xCallback, pArg) passes the callback
** to bec_check_progress_handler(ptr) as a pointer value, which SQL text
** cannot forge (sqlite3_bind_pointer with its own type name).
*/
#define HANDLER_TYPE "bec_progress_handler"

typedef struct Handler Handler;
struct Handler {
  int (*xCallback)(void*, const char*, long long, long long);
  void *pArg;
};

static void fnHandler(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  Handler *h = (Handler*)sqlite3_value_pointer(argv[0], HANDLER_TYPE);
  if( h==0 && sqlite3_value_type(argv[0])!=SQLITE_NULL ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_check_progress_handler:"
             " call bec_check_progress() from C (bec.h)"));
    return;
  }
  p->xProgress = h ? h->xCallback : 0;
  p->pProgressArg = h ? h->pArg : 0;
  sqlite3_result_int(ctx, h!=0);
}

int bec_check_progress(sqlite3 *db,
                       int (*xCallback)(void*, const char*, long long, long long),
                       void *pArg){
  sqlite3_stmt *pStmt = 0;
  Handler h;
  int rc;
#ifndef SQLITE_CORE
  if( sqlite3_api==0 ) return SQLITE_MISUSE;   /* bec was never loaded */
#endif
  h.xCallback = xCallback;
  h.pArg = pArg;
  rc = sqlite3_prepare_v2(db, "SELECT bec_check_progress_handler(?1)", -1,
                          &pStmt, 0);
  if( rc==SQLITE_OK ){
    if( xCallback ) sqlite3_bind_pointer(pStmt, 1, &h, HANDLER_TYPE, 0);
    (void)sqlite3_step(pStmt);
    rc = sqlite3_finalize(pStmt);
  }
  return rc;
}

/**************************************************************************
** bec_check_progress: a snapshot of the registry, taken at xFilter.
*/
typedef struct Snap Snap;
struct Snap {
  char *zDb;
  const char *zOp, *zStep;
  i64 nDone, nTotal;
  double dSeconds;
};

typedef struct ProgCursor ProgCursor;
struct ProgCursor {
  sqlite3_vtab_cursor base;
  Snap *aSnap;                   /* owned, with each zDb */
  int nSnap, iRow;
};

static int progConnect(sqlite3 *db, void *pAux, int argc,
                       const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr){
  sqlite3_vtab *pTab;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(database TEXT, operation "
      "TEXT, step TEXT, done INTEGER, total INTEGER, seconds REAL)");
  *ppVtab = 0;
  if( rc ) return rc;
  pTab = sqlite3_malloc64(sizeof(*pTab));
  if( pTab==0 ) return SQLITE_NOMEM;
  memset(pTab, 0, sizeof(*pTab));
  *ppVtab = pTab;
  return SQLITE_OK;
}

static int progDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static int progBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  pInfo->estimatedCost = 10;
  pInfo->estimatedRows = 4;
  return SQLITE_OK;
}

static void snap_free(ProgCursor *c){
  int i;
  for(i=0; i<c->nSnap; i++) sqlite3_free(c->aSnap[i].zDb);
  sqlite3_free(c->aSnap);
  c->aSnap = 0;
  c->nSnap = 0;
}

static int progOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  ProgCursor *c = sqlite3_malloc64(sizeof(*c));
  if( c==0 ) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *ppCur = &c->base;
  return SQLITE_OK;
}

static int progClose(sqlite3_vtab_cursor *pCur){
  ProgCursor *c = (ProgCursor*)pCur;
  snap_free(c);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int progFilter(sqlite3_vtab_cursor *pCur, int idxNum,
                      const char *idxStr, int argc, sqlite3_value **argv){
  ProgCursor *c = (ProgCursor*)pCur;
  BecProgress *pr;
  double t = mono_now();
  int n = 0, rc = SQLITE_OK;
  snap_free(c);
  c->iRow = 0;
  pthread_mutex_lock(&gMutex);
  for(pr=gpRunning; pr; pr=pr->pNext) n++;
  if( n ){
    c->aSnap = sqlite3_malloc64(sizeof(Snap)*(sqlite3_uint64)n);
    if( c->aSnap==0 ) rc = SQLITE_NOMEM;
  }
  for(pr=gpRunning; rc==SQLITE_OK && pr; pr=pr->pNext){
    Snap *s = &c->aSnap[c->nSnap];
    s->zDb = sqlite3_mprintf("%s", pr->zDb);
    if( s->zDb==0 ){
      rc = SQLITE_NOMEM;
      break;
    }
    s->zOp = pr->zOp;
    s->zStep = pr->zStep;
    s->nDone = pr->nDone;
    s->nTotal = pr->nTotal;
    s->dSeconds = t - pr->tStart;
    c->nSnap++;
  }
  pthread_mutex_unlock(&gMutex);
  return rc;
}

static int progNext(sqlite3_vtab_cursor *pCur){
  ((ProgCursor*)pCur)->iRow++;
  return SQLITE_OK;
}

static int progEof(sqlite3_vtab_cursor *pCur){
  ProgCursor *c = (ProgCursor*)pCur;
  return c->iRow>=c->nSnap;
}

static int progColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int i){
  ProgCursor *c = (ProgCursor*)pCur;
  const Snap *s = &c->aSnap[c->iRow];
  switch( i ){
    case 0: sqlite3_result_text(ctx, s->zDb, -1, SQLITE_TRANSIENT); break;
    case 1: sqlite3_result_text(ctx, s->zOp, -1, SQLITE_STATIC); break;
    case 2: sqlite3_result_text(ctx, s->zStep, -1, SQLITE_STATIC); break;
    case 3: sqlite3_result_int64(ctx, s->nDone); break;
    case 4: sqlite3_result_int64(ctx, s->nTotal); break;
    default: sqlite3_result_double(ctx, s->dSeconds); break;
  }
  return SQLITE_OK;
}

static int progRowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid){
  *pRowid = ((ProgCursor*)pCur)->iRow + 1;
  return SQLITE_OK;
}

static sqlite3_module progModule = {
  0, 0, progConnect, progBestIndex, progDisconnect, 0, progOpen, progClose,
  progFilter, progNext, progEof, progColumn, progRowid,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};

int bec_progress_register(sqlite3 *db, BecCtx *pCtx){
  static const BecFunc aFunc[] = {
    { "bec_check_progress_handler", 1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnHandler },
  };
  int rc = bec_ctx_register_funcs(db, pCtx, aFunc, 1);
  if( rc==SQLITE_OK ){
    rc = sqlite3_create_module_v2(db, "bec_check_progress", &progModule, 0, 0);
  }
  return rc;
}
