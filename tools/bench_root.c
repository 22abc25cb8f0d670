/*
** bench_root.c - the threshold root's key generation through the DAG
** (issue 16): n replicas in one process, each an in-memory database with
** its own key, run bec_root_open, then bec_root_step on every holder, with
** every op delivered to every replica by bec_ingest, until the root is
** active everywhere.
**
** Measured for 3-of-5 and 7-of-10 (medians of N runs, one core):
**   the whole key generation: every replica's steps and ingests, in one
**   process (what n devices spend together), and one holder's share of it
**   (its deal, its ack, and ingesting the others' 2(n-1) ops);
**   one step that deals, one that acks (opens n boxes, Feldman);
**   acceptance of one deal (PoP, points) and of one ack (Y recomputed);
**   the bytes: root-open, each deal, each ack, and all ops together.
** Then the same replicas sign one root op (a 'role' request: holder
** replica 1 proposes, k-1 others approve, bec_root_step on every replica
** and full delivery in rounds until the root op is everywhere):
**   the ops (messages) and bytes of each kind, the delivery rounds, the
**   time of propose, approve, each step, and all of it;
**   the verification cost of the root op and of an ordinary op: the
**   signature check alone (bec_crypto_verify_op on the decoded op, the one
**   verifier, interleaved blocks of 100), and acceptance by a replica (bec_ingest,
**   with the derivations the op triggers).
**
** Usage: build/bench_root [RUNS]   (default 7)
*/
#include "becInt.h"

#define BENCH_NAME "bench_root"
#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMAXR 16

typedef struct Run Run;
struct Run {
  double tAll;           /* every replica's steps and ingests */
  double tHolder;        /* holder 1's steps and ingests */
  double tDeal, tAck;    /* one dealing step, one acking step (holder 1) */
  double tInDeal, tInAck;/* one deal / ack accepted (by holder 1) */
  i64 nOpen, nDeal, nAck, nAll;
  /* Signing one root op. */
  double tPropose, tApprove, tStepMax, tSignAll, tWork;
  int nRound;
  i64 anKind[5], anBytes[5];     /* request, approve, session, share, root */
  double tVerRoot, tVerOp;       /* one signature check */
  double tInRoot, tInOp;         /* one acceptance (bec_ingest) */
};

static const char *const azSignKind[5] = {
  "root-request", "root-approve", "root-session", "root-share", "root"
};

static sqlite3 *aDb[NMAXR];

static const char *q(sqlite3 *db, const char *zSql, char *zOut, int nOut){
  sqlite3_stmt *pStmt = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ) die(db, zSql);
  zOut[0] = 0;
  if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_text(pStmt, 0) ){
    snprintf(zOut, (size_t)nOut, "%s", sqlite3_column_text(pStmt, 0));
  }
  if( sqlite3_finalize(pStmt) ) die(db, zSql);
  return zOut;
}

static i64 qint(sqlite3 *db, const char *zSql){
  char z[64];
  return atoll(q(db, zSql, z, sizeof(z)));
}

/* Ingests into to every op of from it lacks; returns seconds spent in to,
** and adds to *pt the time of each ingest of a given kind (if zKind). */
static double copy_ops(sqlite3 *from, sqlite3 *to, const char *zKind,
                       double *pt, int *pn){
  sqlite3_stmt *pRead = 0, *pIn = 0;
  double t = 0;
  if( sqlite3_prepare_v2(from, "SELECT body, kind FROM bec_ops", -1, &pRead, 0) ){
    die(from, "read");
  }
  if( sqlite3_prepare_v2(to, "SELECT bec_ingest(?1)", -1, &pIn, 0) ) die(to, "ingest");
  while( sqlite3_step(pRead)==SQLITE_ROW ){
    double t0 = now(), dt;
    sqlite3_bind_value(pIn, 1, sqlite3_column_value(pRead, 0));
    sqlite3_step(pIn);
    if( sqlite3_reset(pIn) ) die(to, "ingest");
    dt = now()-t0;
    t += dt;
    if( zKind && strcmp((const char*)sqlite3_column_text(pRead, 1), zKind)==0
     && dt>1e-4 ){
      *pt += dt;
      (*pn)++;
    }
  }
  sqlite3_finalize(pRead);
  sqlite3_finalize(pIn);
  return t;
}

/* Seconds per signature check of the ops whose bodies are z1 and z2 (hex):
** *pt1 and *pt2, the medians of 25 blocks of 100 checks, the two ops'
** blocks interleaved so that both see the same machine load. */
static void verify_cost(const char *z1, const char *z2, const u8 *aGroup,
                        double *pt1, double *pt2){
  static u8 a[2][65536];
  const char *az[2];
  double at[2][25];
  BecOp op[2];
  char *zErr = 0;
  int i, j, b, bOk = 1;
  az[0] = z1;
  az[1] = z2;
  for(j=0; j<2; j++){
    int n = bec_hex_decode(az[j], (int)strlen(az[j]), a[j], sizeof(a[j]));
    if( n<=0 ) die(0, "hex");
    if( bec_op_decode(a[j], n, &op[j], &zErr) ) die(0, zErr);
  }
  for(b=0; b<25; b++){
    for(j=0; j<2; j++){
      double t0 = now();
      for(i=0; i<100; i++) bOk &= bec_crypto_verify_op(&op[j], aGroup);
      at[j][b] = (now()-t0)/100;
    }
  }
  if( !bOk ) die(0, "an op does not verify");
  *pt1 = median(at[0], 25);
  *pt2 = median(at[1], 25);
}

/* Seconds for db to accept the op whose body is z (hex). */
static double ingest_hex(sqlite3 *db, const char *zHex){
  char zSql[70000], z[64];
  double t0;
  snprintf(zSql, sizeof(zSql), "SELECT bec_ingest(x'%s')", zHex);
  t0 = now();
  q(db, zSql, z, sizeof(z));
  return now()-t0;
}

static double step(sqlite3 *db, i64 *pnMade){
  double t0 = now();
  *pnMade = qint(db, "SELECT bec_root_step()");
  return now()-t0;
}

/* Every replica receives every op it lacks; returns the seconds spent. */
static double deliver_all(int n){
  double t = 0;
  int i, j;
  for(i=0; i<n; i++){
    for(j=0; j<n; j++) if( i!=j ) t += copy_ops(aDb[j], aDb[i], 0, 0, 0);
  }
  return t;
}

/* The signing of one root op by the replicas of an active root. */
static void sign_run(int k, int n, char zPk[][65], Run *r){
  static char zRoot[70000], zOp[70000];
  char zSql[512], zReq[80], z[128];
  u8 aGroup[BEC_HASH_BYTES];
  sqlite3 *pObs = 0;
  int i, round;
  double t0;
  q(aDb[0], "SELECT bec_group_id()", z, sizeof(z));
  if( bec_hex_decode(z, 64, aGroup, BEC_HASH_BYTES)!=BEC_HASH_BYTES ) die(0, "gid");
  /* An observer with the whole history so far: it will accept the root op
  ** and an ordinary op, one each. */
  if( sqlite3_open(":memory:", &pObs) ) die(0, "open");
  q(pObs, "SELECT bec_keygen()", zSql, sizeof(zSql));
  snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')", z);
  exec(pObs, zSql);
  copy_ops(aDb[0], pObs, 0, 0, 0);
  snprintf(zSql, sizeof(zSql), "SELECT bec_root_propose('role', '%s', 'admin')",
           zPk[n-1]);
  t0 = now();
  q(aDb[1], zSql, zReq, sizeof(zReq));
  r->tPropose = now()-t0;
  r->tSignAll = r->tWork = r->tPropose;
  for(i=2; i<=k; i++){
    copy_ops(aDb[1], aDb[i], 0, 0, 0);
    snprintf(zSql, sizeof(zSql), "SELECT bec_root_approve('%s')", zReq);
    t0 = now();
    q(aDb[i], zSql, z, sizeof(z));
    if( i==2 ) r->tApprove = now()-t0;
    r->tSignAll += now()-t0;
    r->tWork += now()-t0;
  }
  r->tStepMax = 0;
  for(round=0; round<8; round++){
    i64 nMade = 0, nAll = 0;
    r->tSignAll += deliver_all(n);
    for(i=0; i<n; i++){
      double t = step(aDb[i], &nMade);
      if( nMade && t>r->tStepMax ) r->tStepMax = t;
      if( nMade ) r->tWork += t;
      r->tSignAll += t;
      nAll += nMade;
    }
    if( nAll==0 ) break;
    r->nRound = round+1;
  }
  r->tSignAll += deliver_all(n);
  for(i=0; i<n; i++){
    if( qint(aDb[i], "SELECT count(*) FROM bec_ops WHERE kind='root' AND valid")!=1 ){
      die(aDb[i], "no valid root op");
    }
  }
  for(i=0; i<5; i++){
    snprintf(zSql, sizeof(zSql), "SELECT count(*) FROM bec_ops WHERE kind='%s'",
             azSignKind[i]);
    r->anKind[i] = qint(aDb[0], zSql);
    snprintf(zSql, sizeof(zSql), "SELECT coalesce(sum(length(body)), 0) FROM "
             "bec_ops WHERE kind='%s'", azSignKind[i]);
    r->anBytes[i] = qint(aDb[0], zSql);
  }
  /* The observer gets everything but the root op, then the root op. */
  {
    sqlite3_stmt *pRead = 0, *pIn = 0;
    if( sqlite3_prepare_v2(aDb[0], "SELECT body FROM bec_ops WHERE kind<>'root'",
                           -1, &pRead, 0) ) die(aDb[0], "read");
    if( sqlite3_prepare_v2(pObs, "SELECT bec_ingest(?1)", -1, &pIn, 0) ) die(pObs, "in");
    while( sqlite3_step(pRead)==SQLITE_ROW ){
      sqlite3_bind_value(pIn, 1, sqlite3_column_value(pRead, 0));
      sqlite3_step(pIn);
      if( sqlite3_reset(pIn) ) die(pObs, "ingest");
    }
    sqlite3_finalize(pRead);
    sqlite3_finalize(pIn);
  }
  q(aDb[0], "SELECT hex(body) FROM bec_ops WHERE kind='root'", zRoot, sizeof(zRoot));
  r->tInRoot = ingest_hex(pObs, zRoot);
  /* An ordinary op of about the same size, after it. */
  snprintf(zSql, sizeof(zSql), "SELECT bec_sign(randomblob(%d))",
           (int)(r->anBytes[4]>200 ? r->anBytes[4]-200 : 40));
  q(aDb[1], zSql, z, sizeof(z));
  snprintf(zSql, sizeof(zSql), "SELECT hex(body) FROM bec_ops WHERE hash='%s'",
           z);
  q(aDb[1], zSql, zOp, sizeof(zOp));
  if( zOp[0]==0 ) die(aDb[1], "bec_sign's op");
  r->tInOp = ingest_hex(pObs, zOp);
  verify_cost(zRoot, zOp, aGroup, &r->tVerRoot, &r->tVerOp);
  sqlite3_close(pObs);
}

static void one_run(int k, int n, Run *r){
  char zSql[4096], z[256], zPk[NMAXR][65];
  double tDealIn = 0, tAckIn = 0;
  int nDealIn = 0, nAckIn = 0;
  int i, j, round;
  memset(r, 0, sizeof(*r));
  for(i=0; i<n; i++){
    if( sqlite3_open(":memory:", &aDb[i]) ) die(0, "open");
    q(aDb[i], "SELECT bec_keygen()", zPk[i], sizeof(zPk[i]));
  }
  q(aDb[0], "SELECT bec_create_group()", z, sizeof(z));
  for(i=1; i<n; i++){
    snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')", z);
    exec(aDb[i], zSql);
  }
  for(i=1; i<n; i++){
    snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')", zPk[i]);
    exec(aDb[0], zSql);
  }
  {
    int m = snprintf(zSql, sizeof(zSql), "SELECT bec_root_open(%d, json_array(", k);
    for(i=0; i<n; i++){
      m += snprintf(zSql+m, sizeof(zSql)-(size_t)m, "%s'%s'", i ? "," : "", zPk[i]);
    }
    snprintf(zSql+m, sizeof(zSql)-(size_t)m, "))");
    exec(aDb[0], zSql);
  }
  for(i=1; i<n; i++) copy_ops(aDb[0], aDb[i], 0, 0, 0);
  /* Round 0: every holder deals; round 1: every holder acks. */
  for(round=0; round<2; round++){
    for(i=0; i<n; i++){
      i64 nMade = 0;
      double t = step(aDb[i], &nMade);
      if( nMade!=1 ) die(aDb[i], "a step made no op");
      r->tAll += t;
      if( i==1 ){
        r->tHolder += t;
        if( round==0 ) r->tDeal = t; else r->tAck = t;
      }
    }
    for(i=0; i<n; i++){
      for(j=0; j<n; j++){
        double t;
        if( i==j ) continue;
        t = copy_ops(aDb[j], aDb[i], i==1 ? (round ? "dkg-ack" : "dkg-deal") : 0,
                     round ? &tAckIn : &tDealIn, round ? &nAckIn : &nDealIn);
        r->tAll += t;
        if( i==1 ) r->tHolder += t;
      }
    }
  }
  for(i=0; i<n; i++){
    if( strcmp(q(aDb[i], "SELECT state FROM bec_root", z, sizeof(z)), "active") ){
      die(aDb[i], "the root is not active");
    }
  }
  if( strcmp(q(aDb[0], "SELECT bec_check()", z, sizeof(z)), "ok") ) die(aDb[0], z);
  r->tInDeal = nDealIn ? tDealIn/nDealIn : 0;
  r->tInAck = nAckIn ? tAckIn/nAckIn : 0;
  r->nOpen = qint(aDb[0], "SELECT sum(length(body)) FROM bec_ops WHERE kind='root-open'");
  r->nDeal = qint(aDb[0], "SELECT max(length(body)) FROM bec_ops WHERE kind='dkg-deal'");
  r->nAck = qint(aDb[0], "SELECT max(length(body)) FROM bec_ops WHERE kind='dkg-ack'");
  r->nAll = qint(aDb[0], "SELECT sum(length(body)) FROM bec_ops WHERE kind IN "
                         "('root-open', 'dkg-deal', 'dkg-ack')");
  sign_run(k, n, zPk, r);
  for(i=0; i<n; i++) sqlite3_close(aDb[i]);
}

static void bench(int k, int n, int nRun){
  double a[15][64];
  Run r;
  int i;
  i64 nOps = 0, nBytes = 0;
  for(i=0; i<nRun; i++){
    one_run(k, n, &r);
    a[0][i] = r.tAll; a[1][i] = r.tHolder; a[2][i] = r.tDeal;
    a[3][i] = r.tAck; a[4][i] = r.tInDeal; a[5][i] = r.tInAck;
    a[6][i] = r.tPropose; a[7][i] = r.tApprove; a[8][i] = r.tStepMax;
    a[9][i] = r.tSignAll; a[10][i] = r.tVerRoot; a[11][i] = r.tVerOp;
    a[12][i] = r.tInRoot; a[13][i] = r.tInOp; a[14][i] = r.tWork;
  }
  printf("DKG %d-of-%d through the DAG: %d replicas, 1 + %d ops\n", k, n, n, 2*n);
  printf("  bytes: root-open %lld, deal %lld, ack %lld; all %lld\n",
         (long long)r.nOpen, (long long)r.nDeal, (long long)r.nAck,
         (long long)r.nAll);
  printf("  whole key generation, all replicas     %9.3f ms\n", median(a[0], nRun)*1e3);
  printf("  one holder: its steps and ingests      %9.3f ms\n", median(a[1], nRun)*1e3);
  printf("  bec_root_step that deals               %9.3f ms\n", median(a[2], nRun)*1e3);
  printf("  bec_root_step that acks                %9.3f ms\n", median(a[3], nRun)*1e3);
  printf("  accept one deal (bec_ingest)           %9.3f ms\n", median(a[4], nRun)*1e3);
  printf("  accept one ack (bec_ingest)            %9.3f ms\n", median(a[5], nRun)*1e3);
  printf("signing one root op, %d-of-%d ('role' request, %d signers)\n", k, n, k);
  printf("  ops:");
  for(i=0; i<5; i++){
    printf(" %s %lld (%lld B)%s", azSignKind[i], (long long)r.anKind[i],
           (long long)r.anBytes[i], i<4 ? "," : "\n");
    nOps += r.anKind[i];
    nBytes += r.anBytes[i];
  }
  printf("  messages: %lld ops, %lld bytes; %d delivery rounds after the "
         "approvals\n", (long long)nOps, (long long)nBytes, r.nRound);
  printf("  bec_root_propose                       %9.3f ms\n", median(a[6], nRun)*1e3);
  printf("  bec_root_approve                       %9.3f ms\n", median(a[7], nRun)*1e3);
  printf("  slowest bec_root_step that made an op  %9.3f ms\n", median(a[8], nRun)*1e3);
  printf("  the calls that made ops, all replicas  %9.3f ms\n", median(a[14], nRun)*1e3);
  printf("  all of it, with every full delivery    %9.3f ms\n", median(a[9], nRun)*1e3);
  printf("  signature check, the root op           %9.4f ms\n", median(a[10], nRun)*1e3);
  printf("  signature check, an ordinary op        %9.4f ms (ratio %.2f)\n",
         median(a[11], nRun)*1e3, median(a[10], nRun)/median(a[11], nRun));
  printf("  accept the root op (bec_ingest)        %9.3f ms\n", median(a[12], nRun)*1e3);
  printf("  accept an ordinary app op (bec_ingest) %9.3f ms\n", median(a[13], nRun)*1e3);
}

int main(int argc, char **argv){
  int nRun = argc>1 ? atoi(argv[1]) : 7;
  if( nRun<1 || nRun>64 ) nRun = 7;
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  printf("bench_root: medians of %d runs, one core\n", nRun);
  bench(3, 5, nRun);
  bench(7, 10, nRun);
  return 0;
}
