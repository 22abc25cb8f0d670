/*
** bench_sync.c - messages, bytes and round trips of bec_sync_offer /
** bec_sync_apply against the targets of issue 5, and the first-sync rate
** against the ingest rate measured in the same run.
**
**   reconnect cases: a 10,000-op history synced once (persisted shared
**   heads), then k new ops on each side, as one chain or spread over 50
**   concurrent branches; each run is seeded (payloads) and rolled back.
**   Reported per case: runs, messages until both sides hold everything
**   (percent within 2 and within 3), messages in the whole session, bytes,
**   and bytes / bytes of the ops that had to move (with the share of runs
**   within 1.05x + 400 bytes).  Filter seeds come from the CSPRNG, as in
**   production: runs differ in them too.
**
**   first sync: a 100,000-op history; "ingest" stores every op into a fresh
**   replica with SELECT bec_ingest(?) in one transaction; "first sync" runs
**   the offer/apply loop from a replica that only called bec_join, both
**   sides in this process on one core.  Peak memory is the process's
**   maximum resident set (getrusage).
**
** Usage: build/bench_sync [RUNS [FIRST_SYNC_OPS]]  (default 1000, 100000)
** First sync is measured twice: signatures checked on one core, then on two
** (bec_sync_verify_threads); ingest always uses one.
*/
#include "becInt.h"

#define BENCH_NAME "bench_sync"
#include "benchutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define HISTORY       10000
#define PAYLOAD_BYTES 16
#define BRANCHES      50

static sqlite3 *open_file(const char *zPath, int bFresh){
  sqlite3 *db = 0;
  if( bFresh ) remove_db(zPath);
  if( sqlite3_open(zPath, &db) ) die(db, "open");
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  return db;
}

static i64 int_of(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  i64 v = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ) die(db, zSql);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) v = sqlite3_column_int64(pStmt, 0);
  sqlite3_finalize(pStmt);
  return v;
}

/* A deterministic generator for payloads (xorshift64*). */
static u64 rngState = 1;
static u64 rng(void){
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return rngState * 2685821657736338717ULL;
}

/* One replica's identity, read from its storage to sign ops with chosen
** predecessors (bec_sign always takes all current heads). */
typedef struct Signer Signer;
struct Signer {
  u8 aPub[BEC_PUBKEY_BYTES];
  u8 aSecret[BEC_SECKEY_BYTES];
  u8 aGroup[BEC_HASH_BYTES];
};

static void signer_load(sqlite3 *db, Signer *p){
  sqlite3_stmt *pStmt = 0;
  u8 aSeed[BEC_SEED_BYTES];
  char *zKey = sqlite3_mprintf("%s-bec-key", sqlite3_db_filename(db, "main"));
  char *zWhy = 0;
  if( zKey==0 || bec_keyfile_read(zKey, aSeed, &zWhy) ){
    fprintf(stderr, BENCH_NAME ": read key file: %s\n", zWhy ? zWhy : "out of memory");
    exit(1);
  }
  sqlite3_free(zKey);
  bec_crypto_secret_from_seed(aSeed, p->aPub, p->aSecret);
  if( sqlite3_prepare_v2(db, "SELECT value FROM bec_store_config WHERE "
      "key='group_id'", -1, &pStmt, 0) || sqlite3_step(pStmt)!=SQLITE_ROW
   || sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ){
    die(db, "read identity");
  }
  memcpy(p->aGroup, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
  sqlite3_finalize(pStmt);
}

/* The one head of db (the histories here end in a single head). */
static void one_head(sqlite3 *db, u8 *aHash){
  sqlite3_stmt *pStmt = 0;
  if( sqlite3_prepare_v2(db, "SELECT o.hash FROM bec_store_head h, bec_store_op o"
      " WHERE o.seq=h.seq", -1, &pStmt, 0) || sqlite3_step(pStmt)!=SQLITE_ROW ){
    die(db, "head");
  }
  memcpy(aHash, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
  sqlite3_finalize(pStmt);
}

/* Adds k ops to db over nBranch branches that start at aRoot; returns the
** bytes of the ops. */
static i64 add_ops(sqlite3 *db, const Signer *pS, const u8 *aRoot, int k,
                   int nBranch){
  static u8 aTip[BRANCHES][BEC_HASH_BYTES];
  sqlite3_stmt *pStmt = 0;
  i64 nBytes = 0;
  int i, rc = SQLITE_OK;
  for(i=0; i<nBranch; i++) memcpy(aTip[i], aRoot, BEC_HASH_BYTES);
  if( sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &pStmt, 0) ){
    die(db, "prepare ingest");
  }
  for(i=0; i<k; i++){
    BecBuf op;
    u8 aPayload[PAYLOAD_BYTES];
    int b = i % nBranch, j;
    memset(&op, 0, sizeof(op));
    for(j=0; j<PAYLOAD_BYTES; j+=8){
      u64 v = rng();
      memcpy(&aPayload[j], &v, 8);
    }
    bec_op_encode_unsigned(&op, BEC_KIND_APP, pS->aGroup, pS->aPub, 1, aTip[b],
                           aPayload, PAYLOAD_BYTES, &rc);
    bec_op_sign(&op, pS->aSecret, pS->aGroup, &rc);
    if( rc ) die(0, "encode");
    if( bec_op_id(op.a, op.n, aTip[b]) ) die(0, "op id");
    sqlite3_bind_blob(pStmt, 1, op.a, (int)op.n, SQLITE_STATIC);
    if( sqlite3_step(pStmt)!=SQLITE_ROW ) die(db, "ingest");
    sqlite3_reset(pStmt);
    nBytes += op.n;
    bec_buf_free(&op);
  }
  sqlite3_finalize(pStmt);
  return nBytes;
}

/* The result of one session. */
typedef struct Run Run;
struct Run {
  int nMsg;          /* messages in the session */
  int nConverged;    /* messages after which both held everything, or 0 */
  i64 nBytes;
};

static sqlite3_stmt *prep(sqlite3 *db, const char *zSql){
  sqlite3_stmt *p = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &p, 0) ) die(db, zSql);
  return p;
}

/* The offer/apply loop between A (offering, knows B as 'B') and B; nGoal
** is the op count both must reach. */
static void session(sqlite3 *dbA, sqlite3 *dbB, i64 nGoal, Run *pRun){
  sqlite3_stmt *pOffer = prep(dbA, "SELECT bec_sync_offer('B')");
  sqlite3_stmt *pApplyB = prep(dbB, "SELECT bec_sync_apply('A', ?1)");
  sqlite3_stmt *pApplyA = prep(dbA, "SELECT bec_sync_apply('B', ?1)");
  sqlite3_stmt *pCountA = prep(dbA, "SELECT max(seq) FROM bec_store_op");
  sqlite3_stmt *pCountB = prep(dbB, "SELECT max(seq) FROM bec_store_op");
  BecBuf m;
  int rc = SQLITE_OK, iSide = 1;
  memset(pRun, 0, sizeof(*pRun));
  memset(&m, 0, sizeof(m));
  if( sqlite3_step(pOffer)!=SQLITE_ROW ) die(dbA, "offer");
  bec_buf_append(&m, sqlite3_column_blob(pOffer, 0),
                 sqlite3_column_bytes(pOffer, 0), &rc);
  sqlite3_reset(pOffer);
  pRun->nMsg = 1;
  pRun->nBytes = m.n;
  while( m.n ){
    sqlite3_stmt *pApply = iSide ? pApplyB : pApplyA;
    sqlite3_bind_blob(pApply, 1, m.a, (int)m.n, SQLITE_STATIC);
    if( sqlite3_step(pApply)!=SQLITE_ROW ){
      die(iSide ? dbB : dbA, "apply");
    }
    /* After the receiver stored message nMsg: does everyone hold it all? */
    if( pRun->nConverged==0 ){
      i64 a, b;
      sqlite3_step(pCountA); a = sqlite3_column_int64(pCountA, 0); sqlite3_reset(pCountA);
      sqlite3_step(pCountB); b = sqlite3_column_int64(pCountB, 0); sqlite3_reset(pCountB);
      if( a==nGoal && b==nGoal ) pRun->nConverged = pRun->nMsg;
    }
    m.n = 0;
    if( sqlite3_column_type(pApply, 0)==SQLITE_BLOB ){
      bec_buf_append(&m, sqlite3_column_blob(pApply, 0),
                     sqlite3_column_bytes(pApply, 0), &rc);
      pRun->nMsg++;
      pRun->nBytes += m.n;
    }
    sqlite3_reset(pApply);
    iSide = !iSide;
    if( pRun->nMsg>1000 ) die(0, "session does not end");
  }
  bec_buf_free(&m);
  sqlite3_finalize(pOffer);
  sqlite3_finalize(pApplyA);
  sqlite3_finalize(pApplyB);
  sqlite3_finalize(pCountA);
  sqlite3_finalize(pCountB);
}

/* Runs one reconnect case nRun times and prints its line. */
static void reconnect_case(sqlite3 *dbA, sqlite3 *dbB, const Signer *pSA,
                           const Signer *pSB, const u8 *aHead, int k,
                           int nBranch, int nRun){
  i64 nBase = int_of(dbA, "SELECT max(seq) FROM bec_store_op");
  int nIn2 = 0, nIn3 = 0, nWithin = 0, nMaxMsg = 0, nMaxConv = 0, r;
  double sumMsg = 0, sumBytes = 0, sumRatio = 0, maxRatio = 0;
  i64 sumOps = 0;
  for(r=0; r<nRun; r++){
    Run run;
    i64 nOpsBytes;
    double ratio;
    rngState = 0x9e3779b97f4a7c15ULL ^ ((u64)(r+1) * 1000003ULL) ^ (u64)k;
    exec(dbA, "BEGIN");
    exec(dbB, "BEGIN");
    nOpsBytes = k ? add_ops(dbA, pSA, aHead, k, nBranch) : 0;
    nOpsBytes += k ? add_ops(dbB, pSB, aHead, k, nBranch) : 0;
    session(dbA, dbB, nBase + 2*k, &run);
    exec(dbA, "ROLLBACK");
    exec(dbB, "ROLLBACK");
    if( run.nConverged==0 ) run.nConverged = 9999;
    if( k==0 ) run.nConverged = run.nMsg;
    nIn2 += run.nConverged<=2;
    nIn3 += run.nConverged<=3;
    if( run.nMsg>nMaxMsg ) nMaxMsg = run.nMsg;
    if( run.nConverged>nMaxConv ) nMaxConv = run.nConverged;
    sumMsg += run.nMsg;
    sumBytes += (double)run.nBytes;
    sumOps += nOpsBytes;
    ratio = nOpsBytes ? (double)run.nBytes/(double)nOpsBytes : 0;
    sumRatio += ratio;
    if( ratio>maxRatio ) maxRatio = ratio;
    nWithin += (double)run.nBytes <= 1.05*(double)nOpsBytes + 400;
  }
  if( k==0 ){
    printf("already in sync              runs %4d  messages max %d  bytes mean "
           "%.0f (target: 2 messages, <= 160 bytes)\n", nRun, nMaxMsg,
           sumBytes/nRun);
    return;
  }
  printf("k=%-4d %-9s  runs %4d  both hold all after <=2 msgs %5.1f%%, <=3 "
         "%5.1f%% (max %d)  session msgs mean %.2f max %d  bytes mean %.0f  "
         "bytes/ops mean %.3f max %.3f  within 1.05x+400B %5.1f%%\n",
         k, nBranch>1 ? "branches" : "chain", nRun, 100.0*nIn2/nRun,
         100.0*nIn3/nRun, nMaxConv, sumMsg/nRun, nMaxMsg, sumBytes/nRun,
         sumRatio/nRun, maxRatio, 100.0*nWithin/nRun);
  fflush(stdout);
}

/* Builds a history of nOps ops (one chain, bec_sign) in db. */
static void build_history(sqlite3 *db, int nOps){
  sqlite3_stmt *pStmt;
  int i;
  exec(db, "SELECT bec_keygen(); SELECT bec_create_group();");
  exec(db, "BEGIN");
  pStmt = prep(db, "SELECT bec_sign(?1)");
  for(i=1; i<nOps; i++){
    u8 aPayload[PAYLOAD_BYTES];
    int j;
    for(j=0; j<PAYLOAD_BYTES; j+=8){
      u64 v = rng();
      memcpy(&aPayload[j], &v, 8);
    }
    sqlite3_bind_blob(pStmt, 1, aPayload, PAYLOAD_BYTES, SQLITE_STATIC);
    if( sqlite3_step(pStmt)!=SQLITE_ROW ) die(db, "sign");
    sqlite3_reset(pStmt);
  }
  sqlite3_finalize(pStmt);
  exec(db, "COMMIT");
}

static void first_sync(const char *zDir, int nOps){
  char zBig[512], zIng[512], zNew[512];
  sqlite3 *dbBig, *dbIng, *dbNew;
  sqlite3_stmt *pRead, *pIngest, *pJoin;
  char *zGroup;
  double t0, tIngest, tSync;
  Run run;
  struct rusage ru;
  int nThread;
  snprintf(zBig, sizeof(zBig), "%s/first_big.db", zDir);
  snprintf(zIng, sizeof(zIng), "%s/first_ingest.db", zDir);
  snprintf(zNew, sizeof(zNew), "%s/first_new.db", zDir);
  dbBig = open_file(zBig, 1);
  t0 = now();
  build_history(dbBig, nOps);
  printf("first sync: history of %d ops built in %.1f s\n", nOps, now()-t0);
  zGroup = sqlite3_mprintf("%s", "");
  {
    sqlite3_stmt *p = prep(dbBig, "SELECT bec_group_id()");
    sqlite3_step(p);
    sqlite3_free(zGroup);
    zGroup = sqlite3_mprintf("%s", sqlite3_column_text(p, 0));
    sqlite3_finalize(p);
  }

  /* Ingest: verification and storage of every op, one transaction. */
  dbIng = open_file(zIng, 1);
  exec(dbIng, "SELECT bec_keygen()");
  pJoin = prep(dbIng, "SELECT bec_join(?1)");
  sqlite3_bind_text(pJoin, 1, zGroup, -1, SQLITE_STATIC);
  sqlite3_step(pJoin);
  sqlite3_finalize(pJoin);
  pRead = prep(dbBig, "SELECT body FROM bec_store_op ORDER BY seq");
  pIngest = prep(dbIng, "SELECT bec_ingest(?1)");
  t0 = now();
  exec(dbIng, "BEGIN");
  while( sqlite3_step(pRead)==SQLITE_ROW ){
    sqlite3_bind_blob(pIngest, 1, sqlite3_column_blob(pRead, 0),
                      sqlite3_column_bytes(pRead, 0), SQLITE_STATIC);
    if( sqlite3_step(pIngest)!=SQLITE_ROW ) die(dbIng, "ingest");
    sqlite3_reset(pIngest);
  }
  exec(dbIng, "COMMIT");
  tIngest = now() - t0;
  sqlite3_finalize(pRead);
  sqlite3_finalize(pIngest);
  sqlite3_close(dbIng);

  /* First sync of a replica that only joined: on one core, then with the
  ** signatures of each batch checked on two. */
  for(nThread=1; nThread<=2; nThread++){
  bec_sync_verify_threads = nThread;
  dbNew = open_file(zNew, 1);
  exec(dbNew, "SELECT bec_keygen()");
  pJoin = prep(dbNew, "SELECT bec_join(?1)");
  sqlite3_bind_text(pJoin, 1, zGroup, -1, SQLITE_STATIC);
  sqlite3_step(pJoin);
  sqlite3_finalize(pJoin);
  t0 = now();
  session(dbNew, dbBig, nOps, &run);
  tSync = now() - t0;
  if( int_of(dbNew, "SELECT count(*) FROM bec_store_op")!=nOps ){
    die(dbNew, "first sync did not bring every op");
  }
  getrusage(RUSAGE_SELF, &ru);
  printf("first sync (%d core%s): ingest %.0f ops/s (%.2f s); first sync %.0f "
         "ops/s (%.2f s, %d messages, %.1f MB) = %.1f%% of ingest (target >= "
         "80%%); peak RSS %.1f MiB (target < 256)\n", nThread,
         nThread>1 ? "s" : "", nOps/tIngest, tIngest, nOps/tSync, tSync,
         run.nMsg, run.nBytes/1e6, 100.0*tIngest/tSync, ru.ru_maxrss/1024.0);
  /* COMPACTION.md §8: a signature and a payload are incompressible; 8
  ** bytes per op is enough for the rest (bundles). */
  printf("first sync bytes: %.1f per op on the wire, %.2fx the floor of "
         "signature 64 + payload %d + 8 (goal <= 1.15x)\n",
         (double)run.nBytes/nOps, (double)run.nBytes/nOps/(64+PAYLOAD_BYTES+8),
         PAYLOAD_BYTES);
  fflush(stdout);
  sqlite3_close(dbNew);
  }
  sqlite3_free(zGroup);
  sqlite3_close(dbBig);
  remove_db(zBig); remove_db(zIng); remove_db(zNew);
}

int main(int argc, char **argv){
  int nRun = argc>1 ? atoi(argv[1]) : 1000;
  int nFirst = argc>2 ? atoi(argv[2]) : 100000;
  int nBig = nRun>=50 ? 50 : nRun;
  char zDir[] = "/tmp/bench_syncXXXXXX";
  char zA[512], zB[512], zCmd[2200];
  sqlite3 *dbA, *dbB;
  Signer sA, sB;
  u8 aHead[BEC_HASH_BYTES];
  Run run;
  int k;

  if( sodium_init()<0 || mkdtemp(zDir)==0 ) return 1;
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  printf("bench_sync: history %d ops, payload %d bytes, %d runs per case "
         "(%d for k=1000)\n", HISTORY, PAYLOAD_BYTES, nRun, nBig);

  /* Two replicas of one history (same identity: a copy), synced once so
  ** that each has persisted shared heads for the other. */
  snprintf(zA, sizeof(zA), "%s/a.db", zDir);
  snprintf(zB, sizeof(zB), "%s/b.db", zDir);
  dbA = open_file(zA, 1);
  build_history(dbA, HISTORY);
  exec(dbA, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close(dbA);
  snprintf(zCmd, sizeof(zCmd), "cp %s %s && cp -p %s-bec-key %s-bec-key",
           zA, zB, zA, zB);
  if( system(zCmd) ) return 1;
  dbA = open_file(zA, 0);
  dbB = open_file(zB, 0);
  session(dbA, dbB, HISTORY, &run);
  signer_load(dbA, &sA);
  signer_load(dbB, &sB);
  one_head(dbA, aHead);

  if( nRun>0 ) reconnect_case(dbA, dbB, &sA, &sB, aHead, 0, 1, 100);
  for(k=1; nRun>0 && k<=1000; k*=10){
    int n = k==1000 ? nBig : nRun;
    reconnect_case(dbA, dbB, &sA, &sB, aHead, k, 1, n);
    if( k>=100 ) reconnect_case(dbA, dbB, &sA, &sB, aHead, k, BRANCHES, n);
  }
  sqlite3_close(dbA);
  sqlite3_close(dbB);
  remove_db(zA); remove_db(zB);
  if( nFirst>0 ) first_sync(zDir, nFirst);
  rmdir(zDir);
  return 0;
}
