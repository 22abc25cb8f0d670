/*
** bench_member.c - the cost of membership at the scale of issue 3: a group
** of 10,000 members whose DAG holds 100,000 ops (adds, removes, re-adds,
** promotions, demotions and data ops by members, on four concurrent
** branches that merge now and then).
**
** Measured on that DAG, each figure beside its target:
**   ingest one more op (per kind: data op, add, remove concurrent with the
**   removed member's writes, promote/demote) and append one with the local
**   API (bec_add_member, bec_remove_member): total time of the SQL call,
**   which bounds the membership work in it            target  10 ms
**   SELECT * FROM bec_members (10,000 rows)            target  10 ms
**   rebuild every derived membership state from scratch (facts, validity,
**   members: SELECT bec_member_rebuild())               target  10 s
** and, for information: building the DAG (ingest throughput), reloading
** the in-memory state from the persisted facts (what every cache drop
** costs), and the worst case of a removal that cascades (an admin who
** added hundreds of members, removed concurrently with their adds).
**
** Usage: build/bench_member [N_MEMBERS [N_OPS]]   (default 10000 100000)
** The database is a WAL file in $TMPDIR (default /tmp).  One core.
*/
#include "becInt.h"

#define BENCH_NAME "bench_member"
#include "benchutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define N_ADMIN   20       /* admins who add members */
#define N_BRANCH  4        /* concurrent branches */
#define MERGE_EVERY 250    /* ops between merges of all branches */
#define N_SAMPLE  200      /* measured ops per kind */

typedef struct Stat Stat;
struct Stat { double a[4096]; int n; };
static void stat_add(Stat *s, double v){ if( s->n<4096 ) s->a[s->n++] = v; }
static double stat_q(Stat *s, double qq){
  qsort(s->a, (size_t)s->n, sizeof(double), cmp_double);
  return s->n ? s->a[(int)(qq*(s->n-1))] : 0;
}

/**************************************************************************
** Crafting ops.
*/
typedef struct Key Key;
struct Key { u8 pub[BEC_PUBKEY_BYTES]; u8 sec[BEC_SECKEY_BYTES]; };

static Key *aKey;            /* 0: creator, 1..N_ADMIN admins, then members */
static u8 aGroup[BEC_HASH_BYTES];
static sqlite3 *db;
static sqlite3_stmt *pIngest;
static u64 nRand = 88172645463325252ull;

static u32 rnd(u32 n){
  nRand ^= nRand<<13; nRand ^= nRand>>7; nRand ^= nRand<<17;
  return (u32)(nRand % n);
}

static int cmp_hash(const void *a, const void *b){
  return memcmp(a, b, BEC_HASH_BYTES);
}

/* Signs an op by aKey[k] on the predecessors aPred (hashes, any order, may
** repeat) and ingests it; aHashOut gets its id.  Returns the seconds the
** bec_ingest() call took. */
static double op(int k, int kind, int iTarget, int role, u8 (*aPred)[BEC_HASH_BYTES],
                 int nPred, u8 *aHashOut, int bExpectOk){
  u8 aP[8*BEC_HASH_BYTES], aPay[BEC_PUBKEY_BYTES+1];
  BecBuf buf;
  int rc = SQLITE_OK, n = 0, nPay, i, j;
  double t0;
  memset(&buf, 0, sizeof(buf));
  for(i=0; i<nPred; i++){
    for(j=0; j<n && memcmp(&aP[j*BEC_HASH_BYTES], aPred[i], BEC_HASH_BYTES); j++){}
    if( j==n ) memcpy(&aP[BEC_HASH_BYTES*n++], aPred[i], BEC_HASH_BYTES);
  }
  qsort(aP, (size_t)n, BEC_HASH_BYTES, cmp_hash);
  if( kind==BEC_KIND_CREATE ){
    randombytes_buf(aPay, BEC_NONCE_BYTES);
    nPay = BEC_NONCE_BYTES;
  }else if( kind==BEC_KIND_ADD || kind==BEC_KIND_REMOVE ){
    memcpy(aPay, aKey[iTarget].pub, BEC_PUBKEY_BYTES);
    nPay = BEC_PUBKEY_BYTES;
    if( kind==BEC_KIND_ADD ) aPay[nPay++] = (u8)role;
  }else{
    randombytes_buf(aPay, 24);
    nPay = 24;
  }
  bec_op_encode_unsigned(&buf, kind, kind==BEC_KIND_CREATE ? 0 : aGroup,
                         aKey[k].pub, n, aP, aPay, nPay, &rc);
  bec_op_sign(&buf, aKey[k].sec, aGroup, &rc);
  if( rc ) die(0, "encode");
  if( bec_op_id(buf.a, buf.n, aHashOut) ) die(0, "op id");
  if( kind==BEC_KIND_CREATE ){
    char zSql[120], zG[2*BEC_HASH_BYTES+1];
    memcpy(aGroup, aHashOut, BEC_HASH_BYTES);
    bec_hex_encode(aGroup, BEC_HASH_BYTES, zG);
    snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')", zG);
    if( sqlite3_exec(db, zSql, 0, 0, 0) ) die(db, "bec_join");
  }
  t0 = now();
  sqlite3_bind_blob(pIngest, 1, buf.a, (int)buf.n, SQLITE_STATIC);
  rc = sqlite3_step(pIngest);
  sqlite3_reset(pIngest);
  t0 = now()-t0;
  if( (rc==SQLITE_ROW)!=bExpectOk ) die(db, bExpectOk ? "ingest" : "ingest accepted a bad op");
  bec_buf_free(&buf);
  return t0;
}

/**************************************************************************
** The group.
*/
typedef struct Branch Branch;
struct Branch {
  u8 aHead[BEC_HASH_BYTES];
  int *aNew;          /* members added on this branch since the last merge */
  int nNew;
};

static Branch aBr[N_BRANCH];
static int *aKnown;    /* members everyone knows (added before a merge) */
static int nKnown;
static u8 *aState;     /* per member: 0 unknown, 1 member, 2 removed */
static int nMember;    /* next member key index to add */
static int nCurrent;   /* members not removed */
static int nOps;

static void merge_all(void){
  u8 aP[N_BRANCH][BEC_HASH_BYTES], h[BEC_HASH_BYTES];
  int b, i;
  for(b=0; b<N_BRANCH; b++) memcpy(aP[b], aBr[b].aHead, BEC_HASH_BYTES);
  op(0, BEC_KIND_APP, 0, 0, aP, N_BRANCH, h, 1);
  nOps++;
  for(b=0; b<N_BRANCH; b++){
    memcpy(aBr[b].aHead, h, BEC_HASH_BYTES);
    for(i=0; i<aBr[b].nNew; i++) aKnown[nKnown++] = aBr[b].aNew[i];
    aBr[b].nNew = 0;
  }
}

/* One random op on branch b (not measured). */
static void step(int b, int nMemberTarget, int nOpTarget){
  u8 h[BEC_HASH_BYTES];
  Branch *p = &aBr[b];
  int r = (int)rnd(1000);
  int nLeft = nOpTarget - nOps;
  int nAddLeft = nMemberTarget - nCurrent;
  if( nAddLeft>0 && (int)rnd((u32)nLeft+1) < nAddLeft*11/10 ){
    int m = nMember++;
    nCurrent++;
    op(1+(int)rnd(N_ADMIN), BEC_KIND_ADD, m, BEC_ROLE_MEMBER, &p->aHead, 1, h, 1);
    aState[m] = 1;
    p->aNew[p->nNew++] = m;
  }else if( r<12 && nKnown>0 ){
    /* remove a member, or re-add a removed one */
    int m = aKnown[rnd((u32)nKnown)];
    if( aState[m]==1 ){
      op(1+(int)rnd(N_ADMIN), BEC_KIND_REMOVE, m, 0, &p->aHead, 1, h, 1);
      aState[m] = 2;
      nCurrent--;
    }else{
      op(1+(int)rnd(N_ADMIN), BEC_KIND_ADD, m, BEC_ROLE_MEMBER, &p->aHead, 1, h, 1);
      aState[m] = 1;
      nCurrent++;
    }
  }else if( r<15 && nKnown>0 ){
    /* promote or demote */
    int m = aKnown[rnd((u32)nKnown)];
    op(1+(int)rnd(N_ADMIN), BEC_KIND_ADD, m, rnd(2) ? BEC_ROLE_ADMIN : BEC_ROLE_MEMBER,
       &p->aHead, 1, h, 1);
    if( aState[m]==2 ) nCurrent++;
    aState[m] = 1;
  }else{
    /* a data op by a member this branch knows (removed ones too: their
    ** ops are accepted and ignored) */
    int m = nKnown>0 && (p->nNew==0 || rnd(4)) ? aKnown[rnd((u32)nKnown)]
          : p->nNew>0 ? p->aNew[rnd((u32)p->nNew)] : (int)(1+rnd(N_ADMIN));
    u8 aP[2][BEC_HASH_BYTES];
    int nP = 1;
    memcpy(aP[0], p->aHead, BEC_HASH_BYTES);
    if( rnd(50)==0 ){
      /* partial merge with another branch */
      memcpy(aP[1], aBr[(b+1)%N_BRANCH].aHead, BEC_HASH_BYTES);
      nP = 2;
    }
    op(m, BEC_KIND_APP, 0, 0, aP, nP, h, 1);
  }
  memcpy(p->aHead, h, BEC_HASH_BYTES);
  nOps++;
}

static double select_members(int *pnRow){
  sqlite3_stmt *pStmt = 0;
  double t0 = now();
  int n = 0;
  if( sqlite3_prepare_v2(db, "SELECT * FROM bec_members", -1, &pStmt, 0) ) die(db, "prepare");
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    (void)sqlite3_column_text(pStmt, 0);
    (void)sqlite3_column_text(pStmt, 3);
    n++;
  }
  sqlite3_finalize(pStmt);
  *pnRow = n;
  return now()-t0;
}

static double sql_time(const char *zSql){
  double t0 = now();
  exec(db, zSql);
  return now()-t0;
}

static void report(const char *zWhat, Stat *s, double target){
  double med = stat_q(s, 0.5)*1e3, p99 = stat_q(s, 0.99)*1e3, mx = stat_q(s, 1.0)*1e3;
  printf("  %-44s median %7.3f ms  p99 %7.3f  max %7.3f   %5.1fx under target\n",
         zWhat, med, p99, mx, target/mx);
}

int main(int argc, char **argv){
  int nMemberTarget = argc>1 ? atoi(argv[1]) : 10000;
  int nOpTarget = argc>2 ? atoi(argv[2]) : 100000;
  const char *zDir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  char zPath[512], zSql[300], zLocal[65];
  u8 h[BEC_HASH_BYTES], aLocal[BEC_PUBKEY_BYTES];
  char *zErr = 0;
  int nKey = N_ADMIN + 1 + nMemberTarget + 2*N_SAMPLE + 2000;
  int i, b, n;
  double t0, tBuild;
  Stat sData, sAdd, sRemove, sRole, sLocalAdd, sLocalRemove, sSelect, sReload;

  memset(&sData, 0, sizeof(Stat)); memset(&sAdd, 0, sizeof(Stat));
  memset(&sRemove, 0, sizeof(Stat)); memset(&sRole, 0, sizeof(Stat));
  memset(&sLocalAdd, 0, sizeof(Stat)); memset(&sLocalRemove, 0, sizeof(Stat));
  memset(&sSelect, 0, sizeof(Stat)); memset(&sReload, 0, sizeof(Stat));
  if( sodium_init()<0 ) die(0, "sodium_init");
  snprintf(zPath, sizeof(zPath), "%s/bench_member.db", zDir);
  remove_db(zPath);
  if( sqlite3_open(zPath, &db) ) die(db, "open");
  if( sqlite3_bec_init(db, &zErr, 0) ) die(db, "bec init");
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  if( sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &pIngest, 0) ) die(db, "prepare");

  aKey = malloc(sizeof(Key)*(size_t)nKey);
  aKnown = malloc(sizeof(int)*(size_t)nKey);
  aState = calloc((size_t)nKey, 1);
  for(i=0; i<nKey; i++) crypto_sign_keypair(aKey[i].pub, aKey[i].sec);
  for(b=0; b<N_BRANCH; b++) aBr[b].aNew = malloc(sizeof(int)*(size_t)nKey);

  /* The local key (for the local API) is admin 1's. */
  exec(db, "SELECT bec_keygen()");
  {
    sqlite3_stmt *pStmt = 0;
    sqlite3_prepare_v2(db, "SELECT bec_pubkey()", -1, &pStmt, 0);
    sqlite3_step(pStmt);
    snprintf(zLocal, sizeof(zLocal), "%s", (const char*)sqlite3_column_text(pStmt, 0));
    sqlite3_finalize(pStmt);
    bec_hex_decode(zLocal, 64, aLocal, BEC_PUBKEY_BYTES);
  }

  printf("bench_member: %d members, %d ops, %d concurrent branches\n",
         nMemberTarget, nOpTarget, N_BRANCH);
  t0 = now();
  exec(db, "BEGIN");
  op(0, BEC_KIND_CREATE, 0, 0, 0, 0, h, 1);
  /* The local identity is an admin too: its key takes the last slot. */
  memcpy(aKey[nKey-1].pub, aLocal, BEC_PUBKEY_BYTES);
  for(i=1; i<=N_ADMIN; i++){
    op(0, BEC_KIND_ADD, i, BEC_ROLE_ADMIN, &h, 1, h, 1);
  }
  op(0, BEC_KIND_ADD, nKey-1, BEC_ROLE_ADMIN, &h, 1, h, 1);
  nOps = N_ADMIN + 2;
  nMember = N_ADMIN + 1;
  nCurrent = N_ADMIN + 2;
  for(b=0; b<N_BRANCH; b++) memcpy(aBr[b].aHead, h, BEC_HASH_BYTES);
  while( nOps<nOpTarget ){
    if( nOps % MERGE_EVERY==0 ){
      merge_all();
      exec(db, "COMMIT; BEGIN");
    }else{
      step((int)rnd(N_BRANCH), nMemberTarget, nOpTarget);
    }
  }
  merge_all();
  exec(db, "COMMIT");
  tBuild = now()-t0;
  {
    sqlite3_stmt *pStmt = 0;
    sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM bec_ops),"
        " (SELECT count(*) FROM bec_members), (SELECT count(*) FROM bec_ops"
        " WHERE valid=0), (SELECT count(*) FROM bec_ops WHERE kind IN"
        " ('add','remove'))", -1, &pStmt, 0);
    sqlite3_step(pStmt);
    printf("built: %d ops (%d add/remove, %d ignored), %d current members, "
           "in %.1f s (%.0f ops/s through bec_ingest)\n",
           sqlite3_column_int(pStmt, 0), sqlite3_column_int(pStmt, 3),
           sqlite3_column_int(pStmt, 2), sqlite3_column_int(pStmt, 1), tBuild,
           sqlite3_column_int(pStmt, 0)/tBuild);
    sqlite3_finalize(pStmt);
  }

  /* One more op at a time, each its own transaction.  WAL checkpoints
  ** (storage housekeeping, not membership work) are run between samples
  ** rather than inside one. */
  exec(db, "PRAGMA wal_autocheckpoint=0; PRAGMA wal_checkpoint(TRUNCATE)");
  for(i=0; i<N_SAMPLE; i++){
    Branch *p = &aBr[i%N_BRANCH];
    int m = aKnown[rnd((u32)nKnown)], k;
    double t;
    /* a data op */
    t = op(m, BEC_KIND_APP, 0, 0, &p->aHead, 1, h, 1);
    memcpy(p->aHead, h, BEC_HASH_BYTES);
    stat_add(&sData, t);
    /* an add of a new member */
    t = op(1+(int)rnd(N_ADMIN), BEC_KIND_ADD, nMember++, BEC_ROLE_MEMBER, &p->aHead, 1, h, 1);
    memcpy(p->aHead, h, BEC_HASH_BYTES);
    stat_add(&sAdd, t);
    /* m writes 3 ops on this branch; a removal of m on another branch is
    ** concurrent with them and makes them ignored */
    for(k=0; k<3; k++){
      op(m, BEC_KIND_APP, 0, 0, &p->aHead, 1, h, 1);
      memcpy(p->aHead, h, BEC_HASH_BYTES);
    }
    {
      Branch *o = &aBr[(i+1)%N_BRANCH];
      t = op(1+(int)rnd(N_ADMIN), BEC_KIND_REMOVE, m, 0, &o->aHead, 1, h, 1);
      memcpy(o->aHead, h, BEC_HASH_BYTES);
      stat_add(&sRemove, t);
    }
    /* a promotion or demotion */
    t = op(1+(int)rnd(N_ADMIN), BEC_KIND_ADD, aKnown[rnd((u32)nKnown)],
           rnd(2) ? BEC_ROLE_ADMIN : BEC_ROLE_MEMBER, &p->aHead, 1, h, 1);
    memcpy(p->aHead, h, BEC_HASH_BYTES);
    stat_add(&sRole, t);
  }
  merge_all();
  exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  for(i=0; i<N_SAMPLE/2; i++){
    char zHex[65];
    int m = nMember++;
    bec_hex_encode(aKey[m].pub, BEC_PUBKEY_BYTES, zHex);
    snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')", zHex);
    stat_add(&sLocalAdd, sql_time(zSql));
    snprintf(zSql, sizeof(zSql), "SELECT bec_remove_member('%s')", zHex);
    stat_add(&sLocalRemove, sql_time(zSql));
  }
  exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  for(i=0; i<20; i++) stat_add(&sSelect, select_members(&n));

  printf("\nmembership work on the full DAG (each call its own transaction; the\n"
         "time of the whole SQL call, signature check and storage included):\n");
  report("ingest a data op", &sData, 10);
  report("ingest an add (new member)", &sAdd, 10);
  report("ingest a remove (3 concurrent writes)", &sRemove, 10);
  report("ingest a promotion/demotion", &sRole, 10);
  report("bec_add_member (local API, sign+store)", &sLocalAdd, 10);
  report("bec_remove_member (local API)", &sLocalRemove, 10);
  printf("  %-44s median %7.3f ms  (%d rows)       %5.1fx under target\n",
         "SELECT * FROM bec_members", stat_q(&sSelect, 0.5)*1e3, n,
         10/(stat_q(&sSelect, 1.0)*1e3));

  /* A cache drop (a rolled-back op: here an outsider's) makes the next op
  ** reload the graph and the membership state from storage. */
  for(i=0; i<5; i++){
    Branch *p = &aBr[0];
    int m = aKnown[rnd((u32)nKnown)];
    op(nKey-2, BEC_KIND_APP, 0, 0, &p->aHead, 1, h, 0);
    stat_add(&sReload, op(m, BEC_KIND_APP, 0, 0, &p->aHead, 1, h, 1));
    memcpy(p->aHead, h, BEC_HASH_BYTES);
  }
  printf("  %-44s median %7.1f ms\n", "first op after a cache drop (reload)",
         stat_q(&sReload, 0.5)*1e3);
  {
    double tRebuild = sql_time("SELECT bec_member_rebuild()");
    printf("  %-44s %9.2f s                       %5.1fx under target\n",
           "rebuild all derived state from scratch", tRebuild, 10/tRebuild);
  }

  /* Worst case, for information: an admin's removal concurrent with the
  ** hundreds of adds it made (every one of them, and everything the
  ** members they added wrote, becomes ignored). */
  {
    u8 aBase[1][BEC_HASH_BYTES];
    Branch *p = &aBr[1];
    int adm = nKey-3, k, nAdds = 300;
    double t;
    op(0, BEC_KIND_ADD, adm, BEC_ROLE_ADMIN, &p->aHead, 1, h, 1);
    memcpy(p->aHead, h, BEC_HASH_BYTES);
    memcpy(aBase[0], h, BEC_HASH_BYTES);
    for(k=0; k<nAdds; k++){
      int m = nMember++;
      op(adm, BEC_KIND_ADD, m, BEC_ROLE_MEMBER, &p->aHead, 1, h, 1);
      memcpy(p->aHead, h, BEC_HASH_BYTES);
      op(m, BEC_KIND_APP, 0, 0, &p->aHead, 1, h, 1);
      memcpy(p->aHead, h, BEC_HASH_BYTES);
    }
    t = op(0, BEC_KIND_REMOVE, adm, 0, aBase, 1, h, 1);
    printf("  %-44s %9.1f ms (%d ops change validity)\n",
           "worst case: cascading admin removal", t*1e3, 2*nAdds);
  }
  sqlite3_finalize(pIngest);
  sqlite3_close(db);
  remove_db(zPath);
  for(b=0; b<N_BRANCH; b++) free(aBr[b].aNew);
  free(aKey); free(aKnown); free(aState);
  return 0;
}
