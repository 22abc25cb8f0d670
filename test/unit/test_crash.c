/*
** test_crash.c - crash safety: a child process ingesting a long history
** into a file database is killed with SIGKILL at a random moment, TRIALS
** times (BEC_CRASH_TRIALS, default 100; 25 under the sanitizers, 5 under
** valgrind).  After every kill
** the database opens, bec_check() is ok, and ingesting the whole history
** again converges to the source's heads with nothing left pending.  The
** history is delivered out of order, so the pending area is in the crash
** too, and journal modes alternate between WAL and rollback.
*/
#include "becInt.h"
#include "bectest.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_OPS_MAX 600

static int N_OPS = N_OPS_MAX;          /* 100 under valgrind */
static u8 *aBody[N_OPS_MAX+1];
static int anBody[N_OPS_MAX+1];
static int nBody;
static char zGroup[65], zHeads[65*4];

static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec*1e-9;
}

static const char *q(sqlite3 *db, const char *zSql){
  static char zOut[4096];
  sqlite3_stmt *pStmt = 0;
  zOut[0] = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_text(pStmt, 0) ){
    snprintf(zOut, sizeof(zOut), "%s", sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return zOut;
}

/* The source replica: N_OPS app ops; bodies shuffled with a fixed seed. */
static void make_history(void){
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  int i;
  sqlite3_open(":memory:", &db);
  sqlite3_exec(db, "SELECT bec_keygen(); SELECT bec_create_group(); BEGIN", 0, 0, 0);
  for(i=0; i<N_OPS; i++) sqlite3_exec(db, "SELECT bec_sign(randomblob(60))", 0, 0, 0);
  sqlite3_exec(db, "COMMIT", 0, 0, 0);
  snprintf(zGroup, sizeof(zGroup), "%s", q(db, "SELECT bec_group_id()"));
  snprintf(zHeads, sizeof(zHeads), "%s", q(db, "SELECT group_concat(hash) FROM bec_heads"));
  sqlite3_prepare_v2(db, "SELECT body FROM bec_store_op ORDER BY seq", -1, &pStmt, 0);
  while( sqlite3_step(pStmt)==SQLITE_ROW && nBody<=N_OPS ){
    anBody[nBody] = sqlite3_column_bytes(pStmt, 0);
    aBody[nBody] = malloc((size_t)anBody[nBody]);
    memcpy(aBody[nBody], sqlite3_column_blob(pStmt, 0), (size_t)anBody[nBody]);
    nBody++;
  }
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  srand(7);
  for(i=nBody-1; i>0; i--){
    int j = rand() % (i+1);
    u8 *a = aBody[i]; int n = anBody[i];
    aBody[i] = aBody[j]; anBody[i] = anBody[j];
    aBody[j] = a; anBody[j] = n;
  }
}

static void ingest_all(sqlite3 *db, int nPerTxn){
  sqlite3_stmt *pStmt = 0;
  int i;
  sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &pStmt, 0);
  sqlite3_exec(db, "BEGIN", 0, 0, 0);
  for(i=0; i<nBody; i++){
    sqlite3_bind_blob(pStmt, 1, aBody[i], anBody[i], SQLITE_STATIC);
    sqlite3_step(pStmt);
    sqlite3_reset(pStmt);
    if( i%nPerTxn==nPerTxn-1 ) sqlite3_exec(db, "COMMIT; BEGIN", 0, 0, 0);
  }
  sqlite3_exec(db, "COMMIT", 0, 0, 0);
  sqlite3_finalize(pStmt);
}

static void fresh_replica(const char *zPath, int bWal){
  sqlite3 *db = 0;
  char zSql[200];
  unlink(zPath);
  sqlite3_open(zPath, &db);
  snprintf(zSql, sizeof(zSql), "PRAGMA journal_mode=%s; SELECT bec_keygen();"
           " SELECT bec_join('%s')", bWal ? "WAL" : "DELETE", zGroup);
  sqlite3_exec(db, zSql, 0, 0, 0);
  sqlite3_close(db);
}

/* The child: ingests everything, committing every 40 ops, then exits. */
static void child(const char *zPath){
  sqlite3 *db = 0;
  sqlite3_open(zPath, &db);
  ingest_all(db, 40);
  sqlite3_close(db);
  _exit(0);
}

int main(void){
  char zPath[256], zWal[300], zJournal[300];
  /* 100 trials on the normal build; the sanitizer and valgrind passes
  ** check memory safety, for which fewer are enough. */
  int nTrial = getenv("BEC_CRASH_TRIALS") ? atoi(getenv("BEC_CRASH_TRIALS"))
             : getenv("BEC_VALGRIND") ? 5 : getenv("BEC_SAN") ? 25 : 100;
  int t, nBad = 0, nPartial = 0;
  double span;
  pid_t pid;

  if( getenv("BEC_VALGRIND") ) N_OPS = 100;
  else if( getenv("BEC_SAN") ) N_OPS = 250;
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  make_history();
  CHECK(nBody==N_OPS+1);
  snprintf(zPath, sizeof(zPath), "/tmp/bec_crash_%d.db", (int)getpid());
  snprintf(zWal, sizeof(zWal), "%s-wal", zPath);
  snprintf(zJournal, sizeof(zJournal), "%s-journal", zPath);

  /* How long a whole ingest takes, to spread the kills over it. */
  fresh_replica(zPath, 1);
  span = now();
  pid = fork();
  if( pid==0 ) child(zPath);
  waitpid(pid, 0, 0);
  span = now() - span;

  srand(11);
  for(t=0; t<nTrial; t++){
    sqlite3 *db = 0;
    int nStored;
    char zCheck[4096];
    fresh_replica(zPath, t%2);
    pid = fork();
    if( pid==0 ) child(zPath);
    usleep((useconds_t)(span * 1e6 * (rand() / (double)RAND_MAX)));
    kill(pid, SIGKILL);
    waitpid(pid, 0, 0);

    sqlite3_open(zPath, &db);
    snprintf(zCheck, sizeof(zCheck), "%s", q(db, "SELECT bec_check()"));
    nStored = atoi(q(db, "SELECT count(*) FROM bec_ops"));
    if( nStored>1 && nStored<nBody ) nPartial++;
    ingest_all(db, nBody);
    if( strcmp(zCheck, "ok")
     || strcmp(q(db, "SELECT group_concat(hash) FROM bec_heads"), zHeads)
     || atoi(q(db, "SELECT count(*) FROM bec_ops"))!=nBody
     || strcmp(q(db, "SELECT count(*) FROM bec_pending"), "0")
     || strcmp(q(db, "SELECT bec_check()"), "ok") ){
      nBad++;
      printf("FAIL trial %d: check after kill: %s; %d ops stored\n", t, zCheck, nStored);
    }
    sqlite3_close(db);
  }
  unlink(zPath); unlink(zWal); unlink(zJournal);
  CHECK_MSG(nBad==0, "%d of %d crash trials did not recover", nBad, nTrial);
  /* Under valgrind the timing is too coarse for this to mean anything. */
  if( !getenv("BEC_VALGRIND") ){
    CHECK_MSG(nPartial>=nTrial/4, "only %d of %d kills landed mid-ingest",
              nPartial, nTrial);
  }
  printf("crash trials: %d, %d killed mid-ingest (%.0f ms per ingest)\n",
         nTrial, nPartial, span*1000);
  for(t=0; t<nBody; t++) free(aBody[t]);
  return bt_done();
}
