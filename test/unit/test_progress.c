/*
** test_progress.c - progress of bec_check() (bec_progress.c) through the C
** API: the callback set with bec_check_progress() hears the "ops" step in
** order with the total, then one step per deriver, and ends at done ==
** total; a nonzero return stops bec_check with SQLITE_INTERRUPT and a
** message that says so; while the callback runs, another connection of
** the process sees the check in bec_check_progress; NULL clears the
** callback; bec_check_progress_handler() from SQL text cannot set one.
*/
#include "becInt.h"
#include "bec.h"
#include "bectest.h"

typedef struct Seen Seen;
struct Seen {
  int nCalls, nOps, bOrdered, bSawTables, bSawMember;
  long long nLastDone, nTotal;
  int nStopAfter;               /* return 1 at this call (0: never) */
  sqlite3 *dbOther;             /* read bec_check_progress from here */
  int nOtherRows;
  char zOtherStep[32];
};

static int on_progress(void *pArg, const char *zStep, long long nDone,
                       long long nTotal){
  Seen *s = (Seen*)pArg;
  s->nCalls++;
  if( strcmp(zStep, "ops")==0 ){
    if( s->nOps && nDone<s->nLastDone ) s->bOrdered = 0;
    s->nOps++;
    s->nLastDone = nDone;
    s->nTotal = nTotal;
  }
  if( strcmp(zStep, "tables")==0 ) s->bSawTables = 1;
  if( strcmp(zStep, "membership")==0 ) s->bSawMember = 1;
  if( s->dbOther && s->nOtherRows==0 ){
    sqlite3_stmt *pStmt = 0;
    if( sqlite3_prepare_v2(s->dbOther, "SELECT step, done, total, operation "
                           "FROM bec_check_progress", -1, &pStmt, 0)==SQLITE_OK ){
      while( sqlite3_step(pStmt)==SQLITE_ROW ){
        s->nOtherRows++;
        snprintf(s->zOtherStep, sizeof(s->zOtherStep), "%s",
                 (const char*)sqlite3_column_text(pStmt, 0));
      }
    }
    sqlite3_finalize(pStmt);
  }
  return s->nStopAfter && s->nCalls>=s->nStopAfter;
}

int main(void){
  sqlite3 *db = 0, *db2 = 0;
  Seen s;
  char *zErr = 0;
  int rc, i, nOps = 3*BEC_PROGRESS_EVERY + 10;

  CHECK(sqlite3_auto_extension((void(*)(void))sqlite3_bec_init)==SQLITE_OK);
  CHECK(sqlite3_open(":memory:", &db)==SQLITE_OK);
  CHECK(sqlite3_open(":memory:", &db2)==SQLITE_OK);
  CHECK(strlen(bt_q(db, "SELECT bec_keygen()"))==64);
  CHECK(strlen(bt_q(db, "SELECT bec_create_group()"))==64);
  rc = sqlite3_exec(db, "BEGIN; CREATE VIRTUAL TABLE t USING bec(id INTEGER "
                    "PRIMARY KEY, v); INSERT INTO t VALUES(1, 'x'); COMMIT", 0, 0, &zErr);
  CHECK_MSG(rc==SQLITE_OK, "%s", zErr ? zErr : "");
  sqlite3_free(zErr);
  CHECK(sqlite3_exec(db, "BEGIN", 0, 0, 0)==SQLITE_OK);
  for(i=0; i<nOps; i++){
    if( strlen(bt_q(db, "SELECT bec_sign(randomblob(8))"))!=64 ) break;
  }
  CHECK(i==nOps);
  CHECK(sqlite3_exec(db, "COMMIT", 0, 0, 0)==SQLITE_OK);

  /* Nothing running: the table is empty. */
  CHECK(strcmp(bt_q(db2, "SELECT count(*) FROM bec_check_progress"), "0")==0);

  /* The callback hears every step. */
  memset(&s, 0, sizeof(s));
  s.bOrdered = 1;
  s.dbOther = db2;
  CHECK(bec_check_progress(db, on_progress, &s)==SQLITE_OK);
  CHECK(strcmp(bt_q(db, "SELECT bec_check()"), "ok")==0);
  CHECK_MSG(s.nOps>=4, "%d ops reports", s.nOps);
  CHECK(s.bOrdered);
  CHECK_MSG(s.nTotal==nOps+3, "total %lld", s.nTotal);
  CHECK(s.nLastDone==s.nTotal);
  CHECK(s.bSawTables && s.bSawMember);
  CHECK_MSG(s.nOtherRows==1 && strcmp(s.zOtherStep, "ops")==0,
            "another connection saw %d rows, step %s", s.nOtherRows, s.zOtherStep);
  CHECK(strcmp(bt_q(db2, "SELECT count(*) FROM bec_check_progress"), "0")==0);

  /* A nonzero return stops the check. */
  memset(&s, 0, sizeof(s));
  s.nStopAfter = 2;
  CHECK(bec_check_progress(db, on_progress, &s)==SQLITE_OK);
  CHECK_MSG(strstr(bt_q(db, "SELECT bec_check()"), "stopped by its progress callback")!=0,
            "%s", bt_q(db, "SELECT bec_check()"));
  {
    sqlite3_stmt *pStmt = 0;
    CHECK(sqlite3_prepare_v2(db, "SELECT bec_check()", -1, &pStmt, 0)==SQLITE_OK);
    s.nCalls = 0;
    CHECK(sqlite3_step(pStmt)==SQLITE_INTERRUPT);
    sqlite3_finalize(pStmt);
  }
  CHECK(strcmp(bt_q(db2, "SELECT count(*) FROM bec_check_progress"), "0")==0);

  /* Cleared: no more calls, and the check runs to the end. */
  CHECK(bec_check_progress(db, 0, 0)==SQLITE_OK);
  s.nCalls = 0;
  CHECK(strcmp(bt_q(db, "SELECT bec_check()"), "ok")==0);
  CHECK(s.nCalls==0);

  /* SQL text cannot pass a callback. */
  CHECK(strstr(bt_q(db, "SELECT bec_check_progress_handler(x'00112233')"),
               "call bec_check_progress() from C")!=0);
  CHECK(strcmp(bt_q(db, "SELECT bec_check_progress_handler(NULL)"), "0")==0);

  CHECK(sqlite3_close(db)==SQLITE_OK);
  CHECK(sqlite3_close(db2)==SQLITE_OK);
  return bt_done();
}
