/*
** bectest.h - the tiny harness of bec's C unit tests.  A test program calls
** CHECK() for every assertion; failures print "FAIL file:line: what" and the
** program ends with bt_done(), which prints "RESULT <passed> <failed>" for
** test/run.sh and returns the exit code.
*/
#ifndef BECTEST_H
#define BECTEST_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <stdint.h>

static int bt_nPass = 0, bt_nFail = 0;

#define CHECK(cond) do { \
  if( cond ){ bt_nPass++; } \
  else { bt_nFail++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); fflush(stdout); } \
} while(0)

#define CHECK_MSG(cond, ...) do { \
  if( cond ){ bt_nPass++; } \
  else { bt_nFail++; printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
         printf(__VA_ARGS__); printf("\n"); fflush(stdout); } \
} while(0)

/* The repository's root, for files a test reads (vectors, docs):
** $BEC_ROOT (test/run.sh sets it), else the folder the test was built
** in (the Makefile's BEC_SRC_ROOT), so a unit runs from any folder. */
#ifndef BEC_SRC_ROOT
# define BEC_SRC_ROOT "."
#endif
static __attribute__((unused)) const char *bt_root(void){
  const char *z = getenv("BEC_ROOT");
  return z && z[0] ? z : BEC_SRC_ROOT;
}

#ifdef SQLITE_OK
/* The first column of the first row of zSql as text, in a static buffer
** (overwritten by the next call): "" for no row or NULL, and
** "ERROR: <message>" when the statement fails. */
static __attribute__((unused)) const char *bt_q(sqlite3 *db, const char *zSql){
  static char zOut[65536];
  sqlite3_stmt *pStmt = 0;
  zOut[0] = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK ){
    if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_text(pStmt, 0) ){
      snprintf(zOut, sizeof(zOut), "%s", (const char*)sqlite3_column_text(pStmt, 0));
    }else if( sqlite3_errcode(db)!=SQLITE_OK && sqlite3_errcode(db)!=SQLITE_ROW
           && sqlite3_errcode(db)!=SQLITE_DONE ){
      snprintf(zOut, sizeof(zOut), "ERROR: %s", sqlite3_errmsg(db));
    }
  }else{
    snprintf(zOut, sizeof(zOut), "ERROR: %s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
  return zOut;
}

/* Runs zSql (several statements), which must succeed. */
static __attribute__((unused)) void bt_exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  CHECK_MSG(rc==SQLITE_OK, "%s: %s", zSql, zErr ? zErr : "");
  sqlite3_free(zErr);
}

/* The first column of zSql's first row as an integer (bt_q's text). */
static __attribute__((unused)) int bt_int(sqlite3 *db, const char *zSql){
  return atoi(bt_q(db, zSql));
}

/* Every op of dbFrom stored after seq iAfter, ingested into dbTo in seq
** order (bReverse: the other way round), each checked to be taken. */
static __attribute__((unused)) void bt_copy_ops(sqlite3 *dbFrom, sqlite3 *dbTo,
                                                int iAfter, int bReverse){
  sqlite3_stmt *pSel = 0, *pIng = 0;
  CHECK(sqlite3_prepare_v2(dbFrom, bReverse
      ? "SELECT body FROM bec_store_op WHERE seq>?1 ORDER BY seq DESC"
      : "SELECT body FROM bec_store_op WHERE seq>?1 ORDER BY seq",
      -1, &pSel, 0)==SQLITE_OK);
  CHECK(sqlite3_prepare_v2(dbTo, "SELECT bec_ingest(?1)", -1, &pIng, 0)==SQLITE_OK);
  sqlite3_bind_int(pSel, 1, iAfter);
  while( sqlite3_step(pSel)==SQLITE_ROW ){
    sqlite3_bind_value(pIng, 1, sqlite3_column_value(pSel, 0));
    CHECK_MSG(sqlite3_step(pIng)==SQLITE_ROW, "%s", sqlite3_errmsg(dbTo));
    sqlite3_reset(pIng);
  }
  sqlite3_finalize(pSel);
  sqlite3_finalize(pIng);
}

/* Op iSeq of db: its id (32 bytes into aId), depth, and body (malloc'd,
** *pnBody bytes; the caller frees it). */
static __attribute__((unused)) unsigned char *bt_op_of(sqlite3 *db, int iSeq,
                                  unsigned char *aId, int *piDepth, int *pnBody){
  sqlite3_stmt *pStmt = 0;
  unsigned char *aBody = 0;
  CHECK(sqlite3_prepare_v2(db, "SELECT hash, depth, body FROM bec_store_op"
                           " WHERE seq=?1", -1, &pStmt, 0)==SQLITE_OK);
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_bytes(pStmt, 0)==32 ){
    memcpy(aId, sqlite3_column_blob(pStmt, 0), 32);
    *piDepth = sqlite3_column_int(pStmt, 1);
    *pnBody = sqlite3_column_bytes(pStmt, 2);
    aBody = malloc((size_t)*pnBody + 1);
    if( aBody ) memcpy(aBody, sqlite3_column_blob(pStmt, 2), (size_t)*pnBody);
  }
  sqlite3_finalize(pStmt);
  CHECK_MSG(aBody!=0, "op %d", iSeq);
  return aBody;
}

/* The blob of zSql's first row (malloc'd, *pn bytes). */
static __attribute__((unused)) unsigned char *bt_blob_of(sqlite3 *db,
                                     const char *zSql, int64_t *pn){
  sqlite3_stmt *pS = 0;
  unsigned char *a = 0;
  *pn = 0;
  CHECK(sqlite3_prepare_v2(db, zSql, -1, &pS, 0)==SQLITE_OK);
  if( sqlite3_step(pS)==SQLITE_ROW ){
    *pn = sqlite3_column_bytes(pS, 0);
    a = malloc((size_t)*pn + 1);
    if( a && *pn ) memcpy(a, sqlite3_column_blob(pS, 0), (size_t)*pn);
  }else{
    printf("%s: %s\n", zSql, sqlite3_errmsg(db));
  }
  sqlite3_finalize(pS);
  CHECK(a!=0);
  return a;
}

/* Installs aSnap on a fresh database zPath joining group zGid by
** snapshot (bec_snapshot_install: the extension's own context, as sync's);
** *pzWhy the reason it was not installed (or 0; sqlite3_free it). */
static __attribute__((unused)) sqlite3 *bt_install_on(const char *zPath,
    const char *zGid, const unsigned char *aSnap, int64_t nSnap,
    char **pzWhy){
  sqlite3 *db = 0;
  sqlite3_stmt *pS = 0;
  char zSql[200];
  CHECK(sqlite3_open(zPath, &db)==SQLITE_OK);
  snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s', 'snapshot')", zGid);
  CHECK_MSG(strncmp(bt_q(db, zSql), "ERROR", 5)!=0, "%s", bt_q(db, zSql));
  *pzWhy = 0;
  CHECK(sqlite3_prepare_v2(db, "SELECT bec_snapshot_install(?1)", -1, &pS, 0)==SQLITE_OK);
  sqlite3_bind_blob(pS, 1, aSnap, (int)nSnap, SQLITE_STATIC);
  if( sqlite3_step(pS)!=SQLITE_ROW ){
    *pzWhy = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  }else{
    CHECK(sqlite3_column_bytes(pS, 0)==64);
  }
  sqlite3_finalize(pS);
  return db;
}
#endif

static int bt_done(void){
  printf("RESULT %d %d\n", bt_nPass, bt_nFail);
  return bt_nFail ? 1 : 0;
}
#endif
