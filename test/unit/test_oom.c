/*
** test_oom.c - out-of-memory fault injection along bec's key paths.
**
** SQLite's allocator is wrapped so that the N-th allocation fails; every
** path is run once for every N until it completes without reaching N.  Each
** run must end in success or a clean SQL error, never a crash, and leave a
** database that bec_check() finds consistent and on which the same step then
** succeeds.  Paths: keygen, create group, sign, bec_check, ingest, ingest releasing a
** pending op, ingest evicting an outsider's pending op, a table write,
** applying a sync message, the root's key generation (open, deal,
** accepting a deal, ack), a checkpoint and the replay of its cut, a
** snapshot built and verified (also by a pruned replica), a snapshot
** installed (also an encrypted group's), joined in sync (also an
** encrypted group's, sealed to the joiner), an op that
** names a stand-in of an installed cut, and one concurrent with its K (by
** ingest, and in a sync offer: the session started again), a longer band
** installed.  Leaks are caught
** by the valgrind and ASan passes of make test.
** bec allocates only through sqlite3_malloc64, so this reaches all of it.
** To replay one failure: BEC_OOM_ONLY=<path name> runs that path alone and
** BEC_OOM_START=<n> starts it at fault n (under gdb or valgrind).
*/
#include "becInt.h"
#include "bectest.h"

static sqlite3_mem_methods orig;
static int nFailAt = 0;     /* fail the allocation with this number; 0: never */
static int nAlloc = 0;      /* allocations since the count was armed */
static int bFailed = 0;     /* the fail point was reached */

static void *oomMalloc(int n){
  if( nFailAt && ++nAlloc==nFailAt ){
    bFailed = 1;
    return 0;
  }
  return orig.xMalloc(n);
}

static void *oomRealloc(void *p, int n){
  if( nFailAt && ++nAlloc==nFailAt ){
    bFailed = 1;
    return 0;
  }
  return orig.xRealloc(p, n);
}

static void arm(int n){ nFailAt = n; nAlloc = 0; bFailed = 0; }
static void disarm(void){ nFailAt = 0; }

/* Runs zSql; returns the result code of its last statement. */
static int run(sqlite3 *db, const char *zSql){
  return sqlite3_exec(db, zSql, 0, 0, 0);
}

static int check_ok(sqlite3 *db){
  sqlite3_stmt *pStmt = 0;
  int ok = 0;
  if( sqlite3_prepare_v2(db, "SELECT bec_check()", -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    ok = strcmp((const char*)sqlite3_column_text(pStmt, 0), "ok")==0;
    if( !ok ) printf("bec_check: %s\n", sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return ok;
}

static int count_ops(sqlite3 *db){
  sqlite3_stmt *pStmt = 0;
  int n = -1;
  if( sqlite3_prepare_v2(db, "SELECT count(*) FROM bec_store_op", -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    n = sqlite3_column_int(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return n;
}

/* A fresh replica, set up without faults by zSetup. */
static sqlite3 *replica(const char *zSetup){
  sqlite3 *db = 0;
  char *zErr = 0;
  disarm();
  if( sqlite3_open(":memory:", &db)==SQLITE_OK ){
    sqlite3_bec_init(db, &zErr, 0);
    sqlite3_free(zErr);
    if( zSetup && run(db, zSetup) ) printf("setup failed: %s\n", sqlite3_errmsg(db));
  }
  return db;
}

static char zBody[4096];   /* hex of an op to ingest, made by setup */

/* One path: for every N, a fresh replica, the step with allocation N
** failing, then the checks.  nOpsAfter: the op count the step makes. */
/* The normal build fails every fault point; the sanitizer build every
** second one and valgrind every 34th are enough for memory safety.  In CI,
** where the passes run side by side within make test's budget, the normal
** and sanitizer builds share every second point: the normal build takes
** 1, 5, 9, .. and the sanitizer build 3, 7, 11, .. (every point of the
** union fails once, and each under the sanitizers is checked for memory
** errors too), and valgrind every 68th. */
static int nStrideMul = 1;   /* the root's long paths: every 3rd point */
static int in_ci(void){
  const char *zCi = getenv("CI");
  return zCi && zCi[0] && strcmp(zCi, "false")!=0;
}
static int fault_stride(void){
  int bCi = in_ci();
  if( getenv("BEC_VALGRIND") ) return 34*(bCi ? 2 : 1)*nStrideMul;
  if( bCi ) return 4*nStrideMul;
  return (getenv("BEC_SAN") ? 2 : 1)*nStrideMul;
}
static int fault_first(void){
  if( getenv("BEC_OOM_START") ) return atoi(getenv("BEC_OOM_START"));
  if( in_ci() && getenv("BEC_SAN") && !getenv("BEC_VALGRIND") ){
    return 1 + fault_stride()/2;
  }
  return 1;
}

static void each_fault(const char *zName, const char *zSetup, const char *zStep,
                       int nOpsAfter){
  int n, nFail = 0, nBad = 0;
  if( getenv("BEC_OOM_ONLY") && strcmp(getenv("BEC_OOM_ONLY"), zName) ) return;
  for(n=fault_first(); n<100000; n+=fault_stride()){
    sqlite3 *db = replica(zSetup);
    int rc, nOps;
    arm(n);
    rc = run(db, zStep);
    disarm();
    if( !bFailed ){
      CHECK_MSG(rc==SQLITE_OK, "%s without faults: %s", zName, sqlite3_errmsg(db));
      CHECK(count_ops(db)==nOpsAfter);
      CHECK(check_ok(db));
      sqlite3_close(db);
      break;
    }
    nFail++;
    /* A failed step stores all or nothing of itself, and the replica
    ** stays consistent and usable.  SQLite runs no SQL inside a statement
    ** after an allocation failed in it, so bec may only be able to roll
    ** back the interrupted change at the next call: make one first. */
    run(db, "SELECT bec_pubkey()");
    CHECK_MSG(sqlite3_get_autocommit(db), "%s: fault %d left a transaction open",
              zName, n);
    nOps = count_ops(db);
    if( !check_ok(db) || (rc==SQLITE_OK && nOps!=nOpsAfter) ){
      nBad++;
      printf("FAIL %s: fault at allocation %d left rc=%d ops=%d\n", zName, n, rc, nOps);
    }
    if( nOps!=nOpsAfter && run(db, zStep)!=SQLITE_OK ){
      nBad++;
      printf("FAIL %s: retry after fault %d: %s\n", zName, n, sqlite3_errmsg(db));
    }
    if( count_ops(db)!=nOpsAfter ){
      nBad++;
      printf("FAIL %s: after fault %d and retry: %d ops\n", zName, n, count_ops(db));
    }
    CHECK_MSG(sqlite3_close(db)==SQLITE_OK, "%s: close after fault %d", zName, n);
  }
  CHECK_MSG(nBad==0, "%s: %d bad outcomes", zName, nBad);
  CHECK_MSG(nFail*fault_stride()>10, "%s: only %d fault points reached", zName, nFail);
  printf("%s: %d allocation faults injected\n", zName, nFail);
}

/* each_fault at every nNormal-th point of its stride on the normal build
** and every nChecked-th under the sanitizers and valgrind: for the paths
** whose fresh replica is costly to build. */
static void each_fault_sparse(int nNormal, int nChecked, const char *zName,
                              const char *zSetup, const char *zStep,
                              int nOpsAfter){
  nStrideMul = getenv("BEC_SAN") || getenv("BEC_VALGRIND") ? nChecked : nNormal;
  each_fault(zName, zSetup, zStep, nOpsAfter);
  nStrideMul = 1;
}

/* The threshold root's key generation (bec_root.c): the creator's open,
** its deal, the acceptance of the other holder's deal, and the ack that
** opens the boxes, each under every fault.  Both keys are fixed seeds (the
** creator's installed as a legacy key, as above), so every fresh replica
** is the same creator and the ops made once here fit it. */
static void root_paths(void){
  static char zKeyC[400], zSetup[65536+16384+8], zStep[16384], zOps[65536];
  u8 aSeed[BEC_SEED_BYTES], aPubC[BEC_PUBKEY_BYTES], aSecC[BEC_SECKEY_BYTES];
  u8 aPubX[BEC_PUBKEY_BYTES], aSecX[BEC_SECKEY_BYTES];
  u8 aGid[BEC_HASH_BYTES], aSid[BEC_HASH_BYTES], aHeads[8*BEC_HASH_BYTES];
  u8 aPk[2][BEC_PUBKEY_BYTES], aBoxes[2*BEC_FROST_BOX_BYTES];
  char zSeed[65], zPubC[65], zPubX[65], zDeal[4096];
  BecFrostDeal deal;
  sqlite3 *src;
  sqlite3_stmt *pStmt = 0;
  BecBuf pay, op;
  int nHeads = 0, idX, rc = SQLITE_OK, m = 0;

  memset(aSeed, 11, sizeof(aSeed));
  bec_crypto_secret_from_seed(aSeed, aPubC, aSecC);
  bec_hex_encode(aSeed, BEC_SEED_BYTES, zSeed);
  bec_hex_encode(aPubC, BEC_PUBKEY_BYTES, zPubC);
  memset(aSeed, 12, sizeof(aSeed));
  bec_crypto_secret_from_seed(aSeed, aPubX, aSecX);
  bec_hex_encode(aPubX, BEC_PUBKEY_BYTES, zPubX);
  snprintf(zKeyC, sizeof(zKeyC), "SELECT bec_pubkey(); INSERT INTO "
           "bec_store_config VALUES('seckey', x'%s'), ('pubkey', x'%s');",
           zSeed, zPubC);

  /* Each fault point costs a fresh replica that verifies a few deals:
  ** every third point (every fifth, on top of their own strides, under the
  ** sanitizers and valgrind) keeps the file's run time in budget. */
  nStrideMul = getenv("BEC_SAN") || getenv("BEC_VALGRIND") ? 5 : 3;
  snprintf(zSetup, sizeof(zSetup), "%s SELECT bec_create_group(); "
           "SELECT bec_add_member('%s', 'member')", zKeyC, zPubX);
  snprintf(zStep, sizeof(zStep), "SELECT bec_root_open(2, "
           "json_array(bec_pubkey(), '%s'))", zPubX);
  each_fault("root open", zSetup, zStep, 3);
  m = (int)strlen(zSetup);
  snprintf(zSetup+m, sizeof(zSetup)-(size_t)m, "; %s", zStep);
  each_fault("root deal", zSetup, "SELECT bec_root_step()", 4);

  /* The other holder's deal, made by hand on the creator's four ops. */
  src = replica(zSetup);
  CHECK(run(src, "SELECT bec_root_step()")==SQLITE_OK);
  sqlite3_prepare_v2(src, "SELECT bec_group_id(), (SELECT session FROM bec_root)",
                     -1, &pStmt, 0);
  CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
  CHECK(bec_hex_decode((const char*)sqlite3_column_text(pStmt, 0), 64, aGid,
                       BEC_HASH_BYTES)==BEC_HASH_BYTES);
  CHECK(bec_hex_decode((const char*)sqlite3_column_text(pStmt, 1), 64, aSid,
                       BEC_HASH_BYTES)==BEC_HASH_BYTES);
  sqlite3_finalize(pStmt);
  sqlite3_prepare_v2(src, "SELECT hash FROM bec_heads", -1, &pStmt, 0);
  while( sqlite3_step(pStmt)==SQLITE_ROW && nHeads<8 ){
    CHECK(bec_hex_decode((const char*)sqlite3_column_text(pStmt, 0), 64,
                         &aHeads[BEC_HASH_BYTES*nHeads++], BEC_HASH_BYTES)==BEC_HASH_BYTES);
  }
  sqlite3_finalize(pStmt);
  idX = memcmp(aPubX, aPubC, BEC_PUBKEY_BYTES)<0 ? 1 : 2;
  memcpy(aPk[idX-1], aPubX, BEC_PUBKEY_BYTES);
  memcpy(aPk[2-idX], aPubC, BEC_PUBKEY_BYTES);
  CHECK(bec_frost_dkg_deal(aGid, aSid, idX, 2, 2,
                           (const u8 (*)[BEC_PUBKEY_BYTES])aPk, &deal, aBoxes)==SQLITE_OK);
  memset(&pay, 0, sizeof(pay));
  memset(&op, 0, sizeof(op));
  bec_buf_append_u8(&pay, 1, &rc);
  bec_buf_append(&pay, aSid, BEC_HASH_BYTES, &rc);
  bec_buf_append_u8(&pay, (u8)idX, &rc);
  bec_buf_append_u8(&pay, 2, &rc);
  bec_buf_append_u8(&pay, 2, &rc);
  bec_buf_append(&pay, deal.aPhi, 2*BEC_FROST_POINT_BYTES, &rc);
  bec_buf_append(&pay, deal.aPopR, BEC_FROST_POINT_BYTES, &rc);
  bec_buf_append(&pay, deal.aPopMu, BEC_FROST_SCALAR_BYTES, &rc);
  bec_buf_append(&pay, aBoxes, sizeof(aBoxes), &rc);
  bec_op_encode_unsigned(&op, BEC_KIND_DKG_DEAL, aGid, aPubX, nHeads, aHeads,
                         pay.a, pay.n, &rc);
  bec_op_sign(&op, aSecX, aGid, &rc);
  CHECK(rc==SQLITE_OK && op.n*2<(i64)sizeof(zDeal));
  bec_hex_encode(op.a, (int)op.n, zDeal);
  bec_buf_free(&pay);
  bec_buf_free(&op);

  /* A replica of the same creator that joined and received the four ops. */
  {
    char zGid[65];
    bec_hex_encode(aGid, BEC_HASH_BYTES, zGid);
    m = snprintf(zOps, sizeof(zOps), "%s SELECT bec_join('%s');", zKeyC, zGid);
  }
  sqlite3_prepare_v2(src, "SELECT hex(body) FROM bec_store_op ORDER BY seq", -1, &pStmt, 0);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    m += snprintf(zOps+m, sizeof(zOps)-(size_t)m, " SELECT bec_ingest(x'%s');",
                  sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  sqlite3_close(src);
  snprintf(zStep, sizeof(zStep), "SELECT bec_ingest(x'%s')", zDeal);
  each_fault("root: ingest a deal", zOps, zStep, 5);
  snprintf(zSetup, sizeof(zSetup), "%s %s", zOps, zStep);
  each_fault("root ack", zSetup, "SELECT bec_root_step()", 6);
  nStrideMul = 1;
}

/* A replica that holds an op concurrent with a checkpoint ingests the
** checkpoint under every fault: its cut is replayed into a scratch
** database (and the checkpoint, k being 1, is sealed by its author).  The
** creator's key is a fixed seed (a legacy key, as in root_paths), so the
** concurrent op is made here with it. */
static void checkpoint_replay(void){
  static char zKeyC[400], zSetup[16384], zStep[4096];
  u8 aSeed[BEC_SEED_BYTES], aPubC[BEC_PUBKEY_BYTES], aSecC[BEC_SECKEY_BYTES];
  u8 aGid[BEC_HASH_BYTES], aPred[BEC_HASH_BYTES];
  char zSeed[65], zPubC[65], zHex[2048];
  sqlite3 *src;
  sqlite3_stmt *pStmt = 0;
  BecBuf op;
  int rc = SQLITE_OK, m;
  memset(&op, 0, sizeof(op));
  memset(aSeed, 13, sizeof(aSeed));
  bec_crypto_secret_from_seed(aSeed, aPubC, aSecC);
  bec_hex_encode(aSeed, BEC_SEED_BYTES, zSeed);
  bec_hex_encode(aPubC, BEC_PUBKEY_BYTES, zPubC);
  snprintf(zKeyC, sizeof(zKeyC), "SELECT bec_pubkey(); INSERT INTO "
           "bec_store_config VALUES('seckey', x'%s'), ('pubkey', x'%s');",
           zSeed, zPubC);
  m = snprintf(zSetup, sizeof(zSetup), "%s SELECT bec_create_group();"
               " SELECT bec_sign(x'aa'); SELECT bec_sign(x'bb');", zKeyC);
  src = replica(zSetup);
  CHECK(run(src, "SELECT bec_checkpoint()")==SQLITE_OK);
  /* The replica: joins, holds create, aa, bb, and x (on aa, beside bb). */
  sqlite3_prepare_v2(src, "SELECT bec_group_id(), (SELECT hash FROM bec_store_op"
                     " WHERE seq=2)", -1, &pStmt, 0);
  CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
  CHECK(bec_hex_decode((const char*)sqlite3_column_text(pStmt, 0), 64, aGid,
                       BEC_HASH_BYTES)==BEC_HASH_BYTES);
  memcpy(aPred, sqlite3_column_blob(pStmt, 1), BEC_HASH_BYTES);
  sqlite3_finalize(pStmt);
  bec_op_encode_unsigned(&op, BEC_KIND_APP, aGid, aPubC, 1, aPred,
                         (const u8*)"x", 1, &rc);
  bec_op_sign(&op, aSecC, aGid, &rc);
  CHECK(rc==SQLITE_OK && op.n*2<(i64)sizeof(zHex));
  bec_hex_encode(op.a, (int)op.n, zHex);
  bec_hex_encode(aGid, BEC_HASH_BYTES, zSeed);
  m = snprintf(zSetup, sizeof(zSetup), "SELECT bec_keygen(); SELECT bec_join('%s');",
               zSeed);
  sqlite3_prepare_v2(src, "SELECT hex(body), kind FROM bec_store_op ORDER BY seq",
                     -1, &pStmt, 0);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zBodyHex = (const char*)sqlite3_column_text(pStmt, 0);
    if( sqlite3_column_int(pStmt, 1)==BEC_KIND_CHECKPOINT ){
      snprintf(zStep, sizeof(zStep), "SELECT bec_ingest(x'%s')", zBodyHex);
    }else{
      m += snprintf(zSetup+m, sizeof(zSetup)-(size_t)m,
                    " SELECT bec_ingest(x'%s');", zBodyHex);
    }
  }
  sqlite3_finalize(pStmt);
  sqlite3_close(src);
  snprintf(zSetup+m, sizeof(zSetup)-(size_t)m, " SELECT bec_ingest(x'%s')", zHex);
  bec_buf_free(&op);
  each_fault_sparse(8, 13, "checkpoint replay", zSetup, zStep, 5);
}

/* The install path: a provider's snapshot (a table, a member added, a
** name, writes, an earlier checkpoint, K sealed, a write after K),
** installed under every fault. */
static void install_path(void){
  static char zSetup[65536], zHex[60000];
  sqlite3 *src = replica("SELECT bec_keygen(); SELECT bec_create_group();"
      "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
      "INSERT INTO t VALUES(1, 'one'); INSERT INTO t VALUES(2, 'two');"
      "UPDATE t SET v='uno' WHERE id=1;"
      "SELECT bec_add_member(hex(zeroblob(31))||'01', 'member');"
      "SELECT bec_set_name('oom'); SELECT bec_checkpoint();"
      "INSERT INTO t VALUES(4, 'four');"
      "SELECT bec_checkpoint(); INSERT INTO t VALUES(3, 'three')");
  int nChain;
  snprintf(zHex, sizeof(zHex), "%s", bt_q(src, "SELECT hex(bec_snapshot())"));
  nChain = atoi(bt_q(src, "SELECT count(*) FROM bec_store_op WHERE kind IN"
                          " (1, 2, 3, 5, 10, 22) OR kind=19"));
  CHECK(strlen(zHex)>100 && strlen(zHex)<sizeof(zHex)-1);
  snprintf(zSetup, sizeof(zSetup), "SELECT bec_join('%s', 'snapshot');"
           "CREATE TABLE snap(b); INSERT INTO snap VALUES(x'%s')",
           bt_q(src, "SELECT bec_group_id()"), zHex);
  sqlite3_close(src);
  nStrideMul = getenv("BEC_SAN") || getenv("BEC_VALGRIND") ? 13 : 8;
  each_fault("install", zSetup, "SELECT bec_snapshot_install(b) FROM snap", nChain);
}

/* The snapshot join in sync (bec_sync.c take_snapshot): the provider
** offers (300 ops: a filter, no ops), the joiner's reply asks for a
** snapshot, and the provider's answer (the snapshot and the op after K) is
** stored and installed under every fault.  The step applies the offer again
** first, so that a retry after a fault has a session to apply it in. */
static void join_sync_path(void){
  static char zSetup[512], zOffer[65536], zStep[2*65536+256], zGroup[65];
  sqlite3 *src = replica("SELECT bec_keygen(); SELECT bec_create_group();"
      "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT)");
  sqlite3 *tmpl;
  char zSql[128];
  int i, nAfter;
  for(i=0; i<300; i++){
    snprintf(zSql, sizeof(zSql), "INSERT OR REPLACE INTO t VALUES(%d, 'v%d')",
             i%10, i);
    CHECK(run(src, zSql)==SQLITE_OK);
  }
  CHECK(run(src, "SELECT bec_checkpoint(); INSERT INTO t VALUES(99, 'after K')")
        ==SQLITE_OK);
  snprintf(zGroup, sizeof(zGroup), "%s", bt_q(src, "SELECT bec_group_id()"));
  snprintf(zSetup, sizeof(zSetup), "SELECT bec_keygen();"
           " SELECT bec_join('%s', 'snapshot')", zGroup);
  snprintf(zOffer, sizeof(zOffer), "%s",
           bt_q(src, "SELECT hex(bec_sync_offer('j'))"));
  tmpl = replica(zSetup);
  snprintf(zStep, sizeof(zStep), "SELECT hex(bec_sync_apply('a', x'%s'))", zOffer);
  snprintf(zStep, sizeof(zStep), "SELECT hex(bec_sync_apply('j', x'%s'))",
           bt_q(tmpl, zStep));
  snprintf(zStep, sizeof(zStep), "SELECT bec_sync_apply('a', x'%s');"
           " SELECT bec_sync_apply('a', x'%s')", zOffer, bt_q(src, zStep));
  sqlite3_close(tmpl);
  tmpl = replica(zSetup);
  CHECK(run(tmpl, zStep)==SQLITE_OK);
  CHECK(atoi(bt_q(tmpl, "SELECT count(*) FROM bec_store_cut"))>0);
  nAfter = count_ops(tmpl);
  CHECK(nAfter>0 && nAfter<10);
  sqlite3_close(tmpl);
  sqlite3_close(src);
  each_fault_sparse(8, 13, "snapshot join in sync", zSetup, zStep, nAfter);
}


/* The band paths' group: A creates t with one row and adds B (a member),
** who holds A's ops; then A and B write row 1 concurrently (B offline
** from here), A adds row 2. */
static void two_writers(sqlite3 **pa, sqlite3 **pb){
  char zSql[200];
  sqlite3 *a = replica("SELECT bec_keygen(); SELECT bec_create_group();"
      "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
      "INSERT INTO t VALUES(1, 'one');");
  sqlite3 *b;
  snprintf(zSql, sizeof(zSql), "SELECT bec_keygen(); SELECT bec_join('%s')",
           bt_q(a, "SELECT bec_group_id()"));
  b = replica(zSql);
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')",
           bt_q(b, "SELECT bec_pubkey()"));
  run(a, zSql);
  bt_copy_ops(a, b, 0, 0);
  run(a, "INSERT INTO t VALUES(2, 'two'); UPDATE t SET v='uno' WHERE id=1;");
  run(b, "UPDATE t SET v='b' WHERE id=1;");
  *pa = a;
  *pb = b;
}

/* The install with a band (docs/compaction.md "The band"): B, offline
** since the first write, writes while A goes on and names K; A stores B's
** op after K, so its snapshot sends the cut ops B's op needs as headers. */
static void install_band_path(void){
  static char zSetup[65536], zHex[60000];
  sqlite3 *a, *b, *j;
  int nAfter;
  two_writers(&a, &b);
  run(a, "SELECT bec_checkpoint()");
  bt_copy_ops(b, a, 0, 0);
  snprintf(zHex, sizeof(zHex), "%s", bt_q(a, "SELECT hex(bec_snapshot())"));
  CHECK(strlen(zHex)>100 && strlen(zHex)<sizeof(zHex)-1);
  snprintf(zSetup, sizeof(zSetup), "SELECT bec_join('%s', 'snapshot');"
           "CREATE TABLE snap(b); INSERT INTO snap VALUES(x'%s')",
           bt_q(a, "SELECT bec_group_id()"), zHex);
  /* what a fault-free install stores: the chain, the band, K */
  j = replica(zSetup);
  CHECK_MSG(run(j, "SELECT bec_snapshot_install(b) FROM snap")==SQLITE_OK, "%s",
            sqlite3_errmsg(j));
  CHECK(atoi(bt_q(j, "SELECT value FROM bec_store_config WHERE key='cut_band'"))>1);
  nAfter = count_ops(j);
  sqlite3_close(j);
  sqlite3_close(a);
  sqlite3_close(b);
  each_fault_sparse(8, 13, "install band", zSetup,
                    "SELECT bec_snapshot_install(b) FROM snap", nAfter);
}

/* A longer band (docs/compaction.md "A longer band"): B, offline since
** the first write, writes; A names K without B's op, so its snapshot's
** band is empty; the joiner installed it and stored A's op after K.  The
** step installs the band A builds for B's op: every check, the install
** stored again, the op after K accepted again, under every fault. */
static void extend_band_path(void){
  static char zSetup[131072], zHex[60000], zBand[60000], zAfter[4096],
              zStep[60100];
  sqlite3 *a, *b, *j;
  char zSql[BEC_MAX_PRED*64+400], zK[80], zPreds[BEC_MAX_PRED*64+1];
  BecOp op;
  char *zE = 0;
  u8 aId[BEC_HASH_BYTES], *aOp;
  int nAfter, nOp = 0, iDepth = 0, i, iK;
  two_writers(&a, &b);
  run(a, "SELECT bec_checkpoint()");
  run(a, "INSERT INTO t VALUES(3, 'after');");
  iK = atoi(bt_q(a, "SELECT max(seq) FROM bec_store_op WHERE kind=19"));
  snprintf(zK, sizeof(zK), "%s", bt_q(a, "SELECT hex(hash) FROM bec_store_op"
           " WHERE kind=19"));
  aOp = bt_op_of(b, atoi(bt_q(b, "SELECT max(seq) FROM bec_store_op")), aId,
                 &iDepth, &nOp);
  CHECK(aOp && bec_op_decode(aOp, nOp, &op, &zE)==SQLITE_OK);
  sqlite3_free(zE);
  for(i=0; i<op.nPred*BEC_HASH_BYTES; i++){
    snprintf(zPreds+2*i, 3, "%02X", op.aPred[i]);
  }
  free(aOp);
  snprintf(zSql, sizeof(zSql), "SELECT hex(bec_band('%s', x'%s'))", zK, zPreds);
  snprintf(zBand, sizeof(zBand), "%s", bt_q(a, zSql));
  snprintf(zHex, sizeof(zHex), "%s", bt_q(a, "SELECT hex(bec_snapshot())"));
  snprintf(zSql, sizeof(zSql), "SELECT hex(body) FROM bec_store_op WHERE seq>%d"
           " AND kind=6", iK);
  snprintf(zAfter, sizeof(zAfter), "%s", bt_q(a, zSql));
  CHECK(strlen(zHex)>100 && strlen(zHex)<sizeof(zHex)-1);
  CHECK_MSG(strlen(zBand)>8 && strlen(zBand)<sizeof(zBand)-1, "band %s", zBand);
  CHECK(strlen(zAfter)>8);
  snprintf(zSetup, sizeof(zSetup), "SELECT bec_join('%s', 'snapshot');"
           "SELECT bec_snapshot_install(x'%s'); SELECT bec_ingest(x'%s');",
           bt_q(a, "SELECT bec_group_id()"), zHex, zAfter);
  /* (the band as a literal: the install stored again drops the bec
  ** tables, which no statement reading a table of the database allows) */
  snprintf(zStep, sizeof(zStep), "SELECT bec_band_install(x'%s')", zBand);
  /* what a fault-free extension stores */
  j = replica(zSetup);
  CHECK_MSG(run(j, zStep)==SQLITE_OK, "%s", sqlite3_errmsg(j));
  nAfter = count_ops(j);
  sqlite3_close(j);
  sqlite3_close(a);
  sqlite3_close(b);
  /* (about 24,000 allocations: every 199th, a few seconds; under
  ** valgrind one or two, each run seconds there) */
  nStrideMul = getenv("BEC_VALGRIND") ? 600 : 199;
  each_fault("extend band", zSetup, zStep, nAfter);
  nStrideMul = 1;
}

/* The install of an encrypted group: the joiner, a fixed key (installed
** as a legacy key, so every fresh replica is the same joiner), added before
** K with its box in the keyshare after its add; a rekey in the cut.  The
** dry run that opens the boxes, the epochs derived and compared, under
** every fault. */
static void install_e2ee_path(void){
  static char zSetup[65536], zHex[60000];
  u8 aSeed[BEC_SEED_BYTES], aPub[BEC_PUBKEY_BYTES], aSec[BEC_SECKEY_BYTES];
  char zSeed[65], zPub[65], zSql[400];
  sqlite3 *src;
  int nChain;
  memset(aSeed, 13, sizeof(aSeed));
  bec_crypto_secret_from_seed(aSeed, aPub, aSec);
  bec_hex_encode(aSeed, BEC_SEED_BYTES, zSeed);
  bec_hex_encode(aPub, BEC_PUBKEY_BYTES, zPub);
  src = replica("SELECT bec_keygen(); SELECT bec_create_group('encrypted');"
      "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
      "INSERT INTO t VALUES(1, 'one');");
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member');"
           "INSERT INTO t VALUES(2, 'two'); SELECT bec_rekey();"
           "UPDATE t SET v='uno' WHERE id=1; SELECT bec_checkpoint();", zPub);
  CHECK_MSG(run(src, zSql)==SQLITE_OK, "%s", sqlite3_errmsg(src));
  snprintf(zHex, sizeof(zHex), "%s", bt_q(src, "SELECT hex(bec_snapshot())"));
  nChain = atoi(bt_q(src, "SELECT count(*) FROM bec_store_op WHERE kind IN"
                          " (1, 2, 5, 16, 17, 18, 19)"));
  CHECK(strlen(zHex)>100 && strlen(zHex)<sizeof(zHex)-1);
  snprintf(zSetup, sizeof(zSetup), "SELECT bec_pubkey(); INSERT INTO "
           "bec_store_config VALUES('seckey', x'%s'), ('pubkey', x'%s');"
           "SELECT bec_join('%s', 'snapshot');"
           "CREATE TABLE snap(b); INSERT INTO snap VALUES(x'%s')",
           zSeed, zPub, bt_q(src, "SELECT bec_group_id()"), zHex);
  sqlite3_close(src);
  each_fault_sparse(8, 13, "install e2ee", zSetup,
                    "SELECT bec_snapshot_install(b) FROM snap", nChain);
}

/* An encrypted group's snapshot join in sync (bec_sync.c take_snapshot):
** the joiner (a fixed key, as in install_e2ee_path, so the snapshot the
** provider sealed to it once opens in every fresh replica) applies the
** provider's offer and then its answer, the sealed snapshot: opened,
** checked and installed under every fault. */
static void join_sync_e2ee_path(void){
  static char zSetup[1024], zOffer[65536], zStep[4*65536+256];
  u8 aSeed[BEC_SEED_BYTES], aPub[BEC_PUBKEY_BYTES], aSec[BEC_SECKEY_BYTES];
  char zSeed[65], zPub[65], zSql[400];
  sqlite3 *src, *tmpl;
  int nAfter, i;
  memset(aSeed, 14, sizeof(aSeed));
  bec_crypto_secret_from_seed(aSeed, aPub, aSec);
  bec_hex_encode(aSeed, BEC_SEED_BYTES, zSeed);
  bec_hex_encode(aPub, BEC_PUBKEY_BYTES, zPub);
  src = replica("SELECT bec_keygen(); SELECT bec_create_group('encrypted');"
      "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
      "INSERT INTO t VALUES(1, 'one');");
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member');"
           "INSERT INTO t VALUES(2, 'two'); SELECT bec_rekey();", zPub);
  CHECK_MSG(run(src, zSql)==SQLITE_OK, "%s", sqlite3_errmsg(src));
  /* (more ops than an offer carries: the joiner holds none when it asks) */
  for(i=0; i<300; i++){
    snprintf(zSql, sizeof(zSql), "INSERT OR REPLACE INTO t VALUES(%d, 'v%d')",
             10+i%10, i);
    CHECK(run(src, zSql)==SQLITE_OK);
  }
  CHECK(run(src, "SELECT bec_checkpoint(); INSERT INTO t VALUES(3, 'after K')")
        ==SQLITE_OK);
  snprintf(zSetup, sizeof(zSetup), "SELECT bec_pubkey(); INSERT INTO "
           "bec_store_config VALUES('seckey', x'%s'), ('pubkey', x'%s');"
           "SELECT bec_join('%s', 'snapshot')",
           zSeed, zPub, bt_q(src, "SELECT bec_group_id()"));
  snprintf(zOffer, sizeof(zOffer), "%s",
           bt_q(src, "SELECT hex(bec_sync_offer('j'))"));
  tmpl = replica(zSetup);
  snprintf(zStep, sizeof(zStep), "SELECT hex(bec_sync_apply('a', x'%s'))", zOffer);
  snprintf(zStep, sizeof(zStep), "SELECT hex(bec_sync_apply('j', x'%s'))",
           bt_q(tmpl, zStep));
  /* (the joiner, a member, attests K after the sync, best effort: a
  ** fault there leaves it to bec_attest(), which says when it fails) */
  snprintf(zStep, sizeof(zStep), "SELECT bec_sync_apply('a', x'%s');"
           " SELECT bec_sync_apply('a', x'%s'); SELECT bec_attest()", zOffer,
           bt_q(src, zStep));
  CHECK(strlen(zStep)<sizeof(zStep)-1);
  sqlite3_close(tmpl);
  tmpl = replica(zSetup);
  CHECK_MSG(run(tmpl, zStep)==SQLITE_OK, "%s", sqlite3_errmsg(tmpl));
  CHECK(atoi(bt_q(tmpl, "SELECT count(*) FROM bec_store_cut"))>0);
  CHECK(strcmp(bt_q(tmpl, "SELECT v FROM t WHERE id=3"), "after K")==0);
  nAfter = count_ops(tmpl);
  sqlite3_close(tmpl);
  sqlite3_close(src);
  /* (twice the stride of the paths it shares most of its points with,
  ** "snapshot join in sync" and "install e2ee": about as long as each) */
  each_fault_sparse(16, 26, "snapshot join in sync, encrypted",
                    zSetup, zStep, nAfter);
}

int main(void){
  sqlite3_mem_methods wrap;
  char zIngest[sizeof(zBody)+100];
  char zSetup[4096];
  sqlite3 *src;
  sqlite3_stmt *pStmt = 0;
  char zGroup[65];

  CHECK(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &orig)==SQLITE_OK);
  wrap = orig;
  wrap.xMalloc = oomMalloc;
  wrap.xRealloc = oomRealloc;
  CHECK(sqlite3_config(SQLITE_CONFIG_MALLOC, &wrap)==SQLITE_OK);
  CHECK(sqlite3_initialize()==SQLITE_OK);

  each_fault("keygen", 0, "SELECT bec_keygen()", 0);
  each_fault("create group", "SELECT bec_keygen()", "SELECT bec_create_group()", 1);
  each_fault("sign", "SELECT bec_keygen(); SELECT bec_create_group()",
             "SELECT bec_sign(x'0102')", 2);
  {
    /* A key an older bec stored in plaintext moves out (here: to memory)
    ** when it is first needed; a fault loses neither the key nor the row. */
    static char zLegacy[400];
    u8 aSeed[BEC_SEED_BYTES], aPub[BEC_PUBKEY_BYTES], aSec[BEC_SECKEY_BYTES];
    char zSeed[2*BEC_SEED_BYTES+1], zPub[2*BEC_PUBKEY_BYTES+1];
    memset(aSeed, 7, sizeof(aSeed));
    bec_crypto_secret_from_seed(aSeed, aPub, aSec);
    bec_hex_encode(aSeed, BEC_SEED_BYTES, zSeed);
    bec_hex_encode(aPub, BEC_PUBKEY_BYTES, zPub);
    snprintf(zLegacy, sizeof(zLegacy), "SELECT bec_pubkey(); INSERT INTO "
             "bec_store_config VALUES('seckey', x'%s'), ('pubkey', x'%s')",
             zSeed, zPub);
    each_fault("old plaintext key", zLegacy, "SELECT bec_create_group()", 1);
  }

  /* Ingest: a second replica joins and receives the create and one op;
  ** the op's predecessor arrives in setup, the op itself under faults. */
  src = replica("SELECT bec_keygen(); SELECT bec_create_group(); SELECT bec_sign(x'aa')");
  sqlite3_prepare_v2(src, "SELECT bec_group_id(), hex(bec_op(bec_group_id())),"
      " (SELECT hex(body) FROM bec_store_op WHERE seq=2)", -1, &pStmt, 0);
  CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
  snprintf(zGroup, sizeof(zGroup), "%s", sqlite3_column_text(pStmt, 0));
  snprintf(zSetup, sizeof(zSetup), "SELECT bec_keygen(); SELECT bec_join('%s');"
           " SELECT bec_ingest(x'%s')", zGroup, sqlite3_column_text(pStmt, 1));
  snprintf(zBody, sizeof(zBody), "%s", sqlite3_column_text(pStmt, 2));
  sqlite3_finalize(pStmt);
  sqlite3_close(src);
  snprintf(zIngest, sizeof(zIngest), "SELECT bec_ingest(x'%s')", zBody);
  each_fault("ingest", zSetup, zIngest, 2);

  /* Ingest of an op that waits, then the one that releases it. */
  {
    char zSetup2[8192], zStep2[8192];
    src = replica("SELECT bec_keygen(); SELECT bec_create_group(); "
                  "SELECT bec_sign(x'aa'); SELECT bec_sign(x'bb')");
    sqlite3_prepare_v2(src, "SELECT bec_group_id(), hex(bec_op(bec_group_id())),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=2),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=3)", -1, &pStmt, 0);
    CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
    snprintf(zSetup2, sizeof(zSetup2), "SELECT bec_keygen(); SELECT bec_join('%s');"
             " SELECT bec_ingest(x'%s'); SELECT bec_ingest(x'%s')",
             sqlite3_column_text(pStmt, 0), sqlite3_column_text(pStmt, 1),
             sqlite3_column_text(pStmt, 3));
    snprintf(zStep2, sizeof(zStep2), "SELECT bec_ingest(x'%s')",
             sqlite3_column_text(pStmt, 2));
    sqlite3_finalize(pStmt);
    sqlite3_close(src);
    each_fault("ingest releasing a pending op", zSetup2, zStep2, 3);
  }

  /* Ingest of an op that names a stand-in of an installed cut (bec_store_cut,
  ** docs/compaction.md "The snapshot join"): the graph loads both tables
  ** merged by seq, the op finds its predecessor there and takes the seq
  ** after it. */
  {
    char zSetup3[8192], zStep3[8192];
    src = replica("SELECT bec_keygen(); SELECT bec_create_group(); "
                  "SELECT bec_sign(x'aa'); SELECT bec_sign(x'bb')");
    sqlite3_prepare_v2(src, "SELECT bec_group_id(), hex(bec_op(bec_group_id())),"
        " (SELECT hex(hash) FROM bec_store_op WHERE seq=2),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=3)", -1, &pStmt, 0);
    CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
    snprintf(zSetup3, sizeof(zSetup3), "SELECT bec_keygen(); SELECT bec_join('%s');"
             " CREATE TABLE bec_store_cut(id BLOB PRIMARY KEY, seq INTEGER NOT NULL"
             " UNIQUE, depth INTEGER NOT NULL, valid INTEGER) WITHOUT ROWID;"
             " SELECT bec_ingest(x'%s');"
             " INSERT INTO bec_store_cut VALUES(x'%s', 2, 1, 1);"
             " DELETE FROM bec_store_head",     /* as bec_dag_cut_seq does */
             sqlite3_column_text(pStmt, 0), sqlite3_column_text(pStmt, 1),
             sqlite3_column_text(pStmt, 2));
    snprintf(zStep3, sizeof(zStep3), "SELECT bec_ingest(x'%s')",
             sqlite3_column_text(pStmt, 3));
    sqlite3_finalize(pStmt);
    sqlite3_close(src);
    each_fault("ingest after a stand-in", zSetup3, zStep3, 2);
  }

  /* Ingest of an op concurrent with an installed cut's K (bec_dag.c "An op
  ** concurrent with K"), and the fall-back to a full join it starts
  ** (bec_rejoin.c): B, added in op 2, signs op x on op 2 while A signs 3 and
  ** K (4); the joiner holds 1, 2 and K in full, 3 as a stand-in, the cut
  ** closed at K ('cut_top').  After the step: the cut is gone, x is stored
  ** after the create and op 2 (stored again), K waits as a kept body (no
  ** author), x is recorded as the reason (the step checks it all;
  ** abs(min int) fails it otherwise); or, under a fault, nothing changed. */
  {
    static char zSetup4[16384], zStep4[8192];
    sqlite3 *srcB = replica("SELECT bec_keygen()");
    static char zSql[8192];
    src = replica("SELECT bec_keygen(); SELECT bec_create_group()");
    snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')",
             bt_q(srcB, "SELECT bec_pubkey()"));
    CHECK(strncmp(bt_q(src, zSql), "ERROR", 5)!=0);
    snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')",
             bt_q(src, "SELECT bec_group_id()"));
    CHECK(strncmp(bt_q(srcB, zSql), "ERROR", 5)!=0);
    snprintf(zSql, sizeof(zSql), "SELECT bec_ingest(x'%s')",
             bt_q(src, "SELECT hex(body) FROM bec_store_op WHERE seq=1"));
    CHECK(strncmp(bt_q(srcB, zSql), "ERROR", 5)!=0);
    snprintf(zSql, sizeof(zSql), "SELECT bec_ingest(x'%s')",
             bt_q(src, "SELECT hex(body) FROM bec_store_op WHERE seq=2"));
    CHECK(strncmp(bt_q(srcB, zSql), "ERROR", 5)!=0);
    CHECK(strncmp(bt_q(srcB, "SELECT bec_sign(x'bb')"), "ERROR", 5)!=0);
    CHECK(strncmp(bt_q(src, "SELECT bec_sign(x'aa')"), "ERROR", 5)!=0);
    CHECK(strncmp(bt_q(src, "SELECT bec_sign(x'cc')"), "ERROR", 5)!=0);
    sqlite3_prepare_v2(src, "SELECT bec_group_id(),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=1),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=2),"
        " (SELECT hex(hash) FROM bec_store_op WHERE seq=3),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=4)", -1, &pStmt, 0);
    CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
    snprintf(zSetup4, sizeof(zSetup4), "SELECT bec_keygen(); SELECT bec_join('%s');"
             " CREATE TABLE bec_store_cut(id BLOB PRIMARY KEY, seq INTEGER NOT NULL"
             " UNIQUE, depth INTEGER NOT NULL, valid INTEGER) WITHOUT ROWID;"
             " SELECT bec_ingest(x'%s'); SELECT bec_ingest(x'%s');"
             " INSERT INTO bec_store_cut VALUES(x'%s', 3, 2, 1);"
             " DELETE FROM bec_store_head;"
             " SELECT bec_ingest(x'%s');"
             " INSERT INTO bec_store_config VALUES('cut_top', 4)",
             sqlite3_column_text(pStmt, 0), sqlite3_column_text(pStmt, 1),
             sqlite3_column_text(pStmt, 2), sqlite3_column_text(pStmt, 3),
             sqlite3_column_text(pStmt, 4));
    snprintf(zStep4, sizeof(zStep4), "SELECT bec_ingest(x'%s');"
             " SELECT CASE WHEN (SELECT count(*) FROM bec_store_pending"
             "      WHERE author IS NULL)=1"
             " AND (SELECT count(*) FROM sqlite_schema"
             "      WHERE name='bec_store_cut')=0"
             " AND (SELECT length(value) FROM bec_store_config"
             "      WHERE key='rejoin_op')=32 THEN 1"
             " ELSE abs(-9223372036854775807-1) END",
             bt_q(srcB, "SELECT hex(body) FROM bec_store_op WHERE seq=3"));
    sqlite3_finalize(pStmt);
    sqlite3_close(src);
    each_fault("ingest concurrent with the cut", zSetup4, zStep4, 3);
    /* The same op in B's sync offer (bec_sync.c): the fall-back while the
    ** message is stored, and the session started again, whose reply is a
    ** new offer (round 0). */
    snprintf(zStep4, sizeof(zStep4), "SELECT bec_sync_apply('b', x'%s');"
             " SELECT CASE WHEN json_extract(bec_sync_state('b'), '$.round')=0"
             " AND json_extract(bec_sync_state('b'), '$.rejoin')='fell back'"
             " THEN 1 ELSE abs(-9223372036854775807-1) END",
             bt_q(srcB, "SELECT hex(bec_sync_offer('j'))"));
    sqlite3_close(srcB);
    each_fault("sync concurrent with the cut", zSetup4, zStep4, 3);
  }

  /* A peer's write ops, whose rows the merge writes in batches (bec_batch.c):
  ** the inserts of new rows, then an update of some of them and a new row
  ** (the batch's DO UPDATE, and the feed's insert or update per row). */
  {
    static char zSetup5[16384], zStep5[16384];
    src = replica("SELECT bec_keygen(); SELECT bec_create_group();"
                  "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
                  "INSERT INTO t VALUES(1, 'one'), (2, 'two'), (3, 'three');"
                  "INSERT OR REPLACE INTO t VALUES(2, 'TWO'), (4, 'four')");
    sqlite3_prepare_v2(src, "SELECT bec_group_id(), hex(bec_op(bec_group_id())),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=2),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=3),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=4)", -1, &pStmt, 0);
    CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
    snprintf(zSetup5, sizeof(zSetup5), "SELECT bec_keygen(); SELECT bec_join('%s');"
             " SELECT bec_ingest(x'%s'); SELECT bec_ingest(x'%s')",
             sqlite3_column_text(pStmt, 0), sqlite3_column_text(pStmt, 1),
             sqlite3_column_text(pStmt, 2));
    snprintf(zStep5, sizeof(zStep5), "SELECT bec_ingest(x'%s'); SELECT bec_ingest(x'%s')",
             sqlite3_column_text(pStmt, 3), sqlite3_column_text(pStmt, 4));
    sqlite3_finalize(pStmt);
    sqlite3_close(src);
    each_fault("ingest write ops", zSetup5, zStep5, 4);
  }

  /* A write to a bec table: one signed write op at commit. */
  each_fault("table write",
             "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT)",
             "INSERT INTO t VALUES(1, 'one'), (2, 'two')", 3);

  /* A local UPDATE written in batches (bec_crdt.c "Local batches"): the
  ** values copied into the batch, and its write at commit (xSync).  (A
  ** step is one autocommit statement: a failed one stores nothing.) */
  each_fault("table update in batches",
             "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE t USING bec(id TEXT PRIMARY KEY, v TEXT);"
             "INSERT INTO t VALUES('a', 'one'), ('b', 'two'), ('c', 'three')",
             "UPDATE t SET v = v || (SELECT count(*) FROM t)", 4);
  /* ... on an INTEGER key with a gap: the batch written by an UPDATE of
  ** its key range with bec_batch_has/_value (bec_crdt.c batch_stmt). */
  each_fault("table update by key range",
             "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
             "INSERT INTO t VALUES(1, 'one'), (2, 'two'), (3, 'three'), (5, 'five')",
             "UPDATE t SET v = v || (SELECT count(*) FROM t)", 4);

  /* Counters: a step on rows with stored steps (apply_counter_fast) and a
  ** reset (the general merge: the row's members are read). */
  each_fault("counter steps",
             "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE c USING bec(id INTEGER PRIMARY KEY, n COUNTER);"
             "INSERT INTO c VALUES(1, 10), (2, 20);"
             "UPDATE c SET n = n + 1",
             "UPDATE c SET n = n + 2", 5);
  each_fault("counter reset",
             "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE c USING bec(id INTEGER PRIMARY KEY, n COUNTER);"
             "INSERT INTO c VALUES(1, 10), (2, 20);"
             "UPDATE c SET n = n + 1",
             "INSERT OR REPLACE INTO c VALUES(1, 0), (3, 3)", 5);

  /* bec_check itself: it snapshots every table, rebuilds it from the ops
  ** and compares; a fault anywhere in it is a clean error, never a crash
  ** (a write failing with SQLITE_NOMEM after its temporary tables were
  ** made rolls the transaction back and disconnects the tables under the
  ** merge: bec_tab_hold).  About 4,000 points: every 4th. */
  nStrideMul = 4;
  each_fault("check",
             "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
             "INSERT INTO t VALUES(1, 'one'), (2, 'two')",
             "SELECT bec_check()", 3);
  nStrideMul = 1;

  /* Sync: a replica that joined applies the first message of a peer that
  ** holds the group's ops (the offer carries them when they are few). */
  {
    static char zSetup3[512], zStep3[65536];
    src = replica("SELECT bec_keygen(); SELECT bec_create_group(); "
                  "SELECT bec_sign(x'aa'); SELECT bec_sign(x'bb')");
    sqlite3_prepare_v2(src, "SELECT bec_group_id(), hex(bec_sync_offer('b'))",
                       -1, &pStmt, 0);
    CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
    snprintf(zSetup3, sizeof(zSetup3), "SELECT bec_keygen(); SELECT bec_join('%s')",
             sqlite3_column_text(pStmt, 0));
    snprintf(zStep3, sizeof(zStep3), "SELECT bec_sync_apply('a', x'%s')",
             sqlite3_column_text(pStmt, 1));
    sqlite3_finalize(pStmt);
    sqlite3_close(src);
    each_fault("sync apply", zSetup3, zStep3, 3);
  }

  /* A member's out-of-order op evicts an outsider's pending op from a full
  ** pending area (issue 11, class 5).  The outsider's op is signed by hand
  ** with a fresh key and names a predecessor nobody has. */
  {
    static char zSetup4[16384], zStep4[8192];
    u8 aGroup[BEC_HASH_BYTES], aPub[BEC_PUBKEY_BYTES], aSec[BEC_SECKEY_BYTES];
    u8 aGhost[BEC_HASH_BYTES];
    char zOut[4096];
    BecBuf op;
    int rc = SQLITE_OK;
    src = replica("SELECT bec_keygen(); SELECT bec_create_group(); "
                  "SELECT bec_sign(x'aa'); SELECT bec_sign(x'bb'); "
                  "SELECT bec_sign(x'cc')");
    sqlite3_prepare_v2(src, "SELECT bec_group_id(), hex(bec_op(bec_group_id())),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=2),"
        " (SELECT hex(body) FROM bec_store_op WHERE seq=4)", -1, &pStmt, 0);
    CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
    CHECK(bec_hex_decode((const char*)sqlite3_column_text(pStmt, 0), 64, aGroup,
                         BEC_HASH_BYTES)==BEC_HASH_BYTES);
    memset(&op, 0, sizeof(op));
    memset(aGhost, 0x5a, sizeof(aGhost));
    bec_crypto_keypair(aPub, aSec);
    bec_op_encode_unsigned(&op, BEC_KIND_APP, aGroup, aPub, 1, aGhost,
                           (const u8*)"x", 1, &rc);
    bec_op_sign(&op, aSec, aGroup, &rc);
    CHECK(rc==SQLITE_OK && op.n*2<(i64)sizeof(zOut));
    bec_hex_encode(op.a, (int)op.n, zOut);
    snprintf(zSetup4, sizeof(zSetup4), "SELECT bec_keygen(); SELECT bec_join('%s');"
             " SELECT bec_ingest(x'%s'); SELECT bec_ingest(x'%s');"
             " SELECT bec_config('pending_max_ops', 1); SELECT bec_ingest(x'%s')",
             sqlite3_column_text(pStmt, 0), sqlite3_column_text(pStmt, 1),
             sqlite3_column_text(pStmt, 2), zOut);
    snprintf(zStep4, sizeof(zStep4), "SELECT bec_ingest(x'%s')",
             sqlite3_column_text(pStmt, 3));
    bec_buf_free(&op);
    sqlite3_finalize(pStmt);
    sqlite3_close(src);
    each_fault("ingest evicting an outsider's pending op", zSetup4, zStep4, 2);
  }
  root_paths();
  /* Checkpoints (bec_checkpoint.c): the digest read from the state, the
  ** store, the seal (k = 1: the author's claim) and membership derived
  ** again; then a checkpoint whose cut is replayed into a scratch
  ** database. */
  /* Long paths: every 3rd point, every 8th for the replay (every 5th and
  ** 13th, on top of their own strides, under the sanitizers and valgrind). */
  nStrideMul = getenv("BEC_SAN") || getenv("BEC_VALGRIND") ? 5 : 3;
  each_fault("checkpoint", "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
             "INSERT INTO t VALUES(1, 'one')",
             "SELECT bec_checkpoint()", 4);
  checkpoint_replay();
  /* A snapshot (bec_snapshot.c): S(K) replayed with its leaves (a write
  ** after K), the message built, then decoded and verified; it stores
  ** nothing.  Every 8th point (13th under the sanitizers and valgrind). */
  nStrideMul = getenv("BEC_SAN") || getenv("BEC_VALGRIND") ? 13 : 8;
  each_fault("snapshot", "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
             "INSERT INTO t VALUES(1, 'one'); SELECT bec_checkpoint();"
             "INSERT INTO t VALUES(2, 'two')",
             "SELECT bec_snapshot_verify(bec_snapshot())", 5);
  /* Pruning (bec_prune.c, bec_dag.c): the merge base kept and the bodies
  ** below the checkpoint turned into stubs, in one savepoint; then the
  ** reads that rebuild a pruned header from its stub (bec_ops, bec_check). */
  each_fault("prune", "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
             "INSERT INTO t VALUES(1, 'one'); INSERT INTO t VALUES(2, 'two');"
             "SELECT bec_checkpoint()",
             "SELECT bec_prune()", 5);
  each_fault("pruned headers", "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
             "INSERT INTO t VALUES(1, 'one'); INSERT INTO t VALUES(2, 'two');"
             "SELECT bec_checkpoint(); SELECT bec_prune()",
             "SELECT count(body), group_concat(deps) FROM bec_ops; SELECT bec_check()", 5);
  /* The snapshot of a replica pruned below K (an op after K): the cut's
  ** headers replayed, the merge base copied whole as S(K)'s tables. */
  nStrideMul = getenv("BEC_SAN") || getenv("BEC_VALGRIND") ? 13 : 8;
  each_fault("pruned snapshot", "SELECT bec_keygen(); SELECT bec_create_group();"
             "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
             "INSERT INTO t VALUES(1, 'one'); INSERT INTO t VALUES(2, 'two');"
             "SELECT bec_checkpoint(); INSERT INTO t VALUES(3, 'three');"
             "SELECT bec_prune()",
             "SELECT bec_snapshot_verify(bec_snapshot())", 6);
  /* A snapshot installed on a database that holds no op (bec_install.c):
  ** the checks, the dry run, the stand-ins, the chain, K, the merge base,
  ** membership, S(K) sealed by its claim, the tables, in one savepoint. */
  install_path();
  join_sync_path();
  install_band_path();
  extend_band_path();
  install_e2ee_path();
  join_sync_e2ee_path();
  return bt_done();
}
