/*
** test_sync.c - mined hash collisions do not raise round trips.
**
** Two replicas share a history and persisted sync state.  A adds 400 ops
** (more than an offer carries, so A's offer holds a filter over them); B
** adds 60 ops whose payloads were ground until their hashes test positive
** in the filter an *unsalted* design would build from A's ops (probes taken
** from the hash bytes).  With unsalted probes (a test-only switch) B then
** believes A holds its ops and the sync needs more messages; with the
** salted filter bec sends (XXH3 keyed by a fresh seed), the ground ops
** are ordinary and both sides hold everything as soon as without them.
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>
#include <unistd.h>

#define NA      400
#define NB      60

static i64 count(sqlite3 *db){
  sqlite3_stmt *p = 0;
  i64 n = -1;
  if( sqlite3_prepare_v2(db, "SELECT count(*) FROM bec_store_op", -1, &p, 0)==0
   && sqlite3_step(p)==SQLITE_ROW ){
    n = sqlite3_column_int64(p, 0);
  }
  sqlite3_finalize(p);
  return n;
}

static void ingest(sqlite3 *db, const BecBuf *pOps){
  sqlite3_stmt *p = 0;
  BecReader rd;
  CHECK(sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &p, 0)==SQLITE_OK);
  rd.a = pOps->a; rd.n = pOps->n; rd.i = 0;
  while( rd.i<rd.n ){
    u64 n = 0;
    const u8 *a = 0;
    if( bec_read_varint(&rd, &n, BEC_MAX_OP_BYTES) || bec_read_bytes(&rd, (i64)n, &a) ){
      CHECK(0);
      break;
    }
    sqlite3_bind_blob(p, 1, a, (int)n, SQLITE_STATIC);
    CHECK_MSG(sqlite3_step(p)==SQLITE_ROW, "%s", sqlite3_errmsg(db));
    sqlite3_reset(p);
  }
  sqlite3_finalize(p);
}

/* Messages until both hold nGoal ops (A offers); 0 if never. */
static int session(sqlite3 *dbA, sqlite3 *dbB, i64 nGoal, int *pnTotal){
  sqlite3_stmt *pOffer = 0, *pA = 0, *pB = 0;
  BecBuf m;
  int nMsg = 1, nConv = 0, iSide = 1, rc = SQLITE_OK;
  memset(&m, 0, sizeof(m));
  sqlite3_prepare_v2(dbA, "SELECT bec_sync_offer('B')", -1, &pOffer, 0);
  sqlite3_prepare_v2(dbA, "SELECT bec_sync_apply('B', ?1)", -1, &pA, 0);
  sqlite3_prepare_v2(dbB, "SELECT bec_sync_apply('A', ?1)", -1, &pB, 0);
  CHECK(sqlite3_step(pOffer)==SQLITE_ROW);
  bec_buf_append(&m, sqlite3_column_blob(pOffer, 0), sqlite3_column_bytes(pOffer, 0), &rc);
  while( m.n && nMsg<100 ){
    sqlite3_stmt *p = iSide ? pB : pA;
    sqlite3_bind_blob(p, 1, m.a, (int)m.n, SQLITE_STATIC);
    CHECK_MSG(sqlite3_step(p)==SQLITE_ROW, "%s",
              sqlite3_errmsg(iSide ? dbB : dbA));
    if( nConv==0 && count(dbA)==nGoal && count(dbB)==nGoal ) nConv = nMsg;
    m.n = 0;
    if( sqlite3_column_type(p, 0)==SQLITE_BLOB ){
      bec_buf_append(&m, sqlite3_column_blob(p, 0), sqlite3_column_bytes(p, 0), &rc);
      nMsg++;
    }
    sqlite3_reset(p);
    iSide = !iSide;
  }
  *pnTotal = nMsg;
  bec_buf_free(&m);
  sqlite3_finalize(pOffer);
  sqlite3_finalize(pA);
  sqlite3_finalize(pB);
  return nConv;
}

/* Signs an app op with predecessor aPred and the given payload. */
static void sign_op(BecBuf *pOp, const u8 *aPub, const u8 *aSecret,
                    const u8 *aGroup, const u8 *aPred, const u8 *aPayload,
                    int nPayload){
  int rc = SQLITE_OK;
  pOp->n = 0;
  bec_op_encode_unsigned(pOp, BEC_KIND_APP, aGroup, aPub, 1, aPred, aPayload,
                         nPayload, &rc);
  bec_op_sign(pOp, aSecret, aGroup, &rc);
  CHECK(rc==SQLITE_OK);
}

int main(void){
  char zDir[] = "/tmp/test_syncXXXXXX";
  char zA[256], zB[256], zCmd[600];
  sqlite3 *dbA = 0, *dbB = 0;
  sqlite3_stmt *p = 0;
  u8 aPub[BEC_PUBKEY_BYTES], aSecret[BEC_SECKEY_BYTES], aGroup[BEC_HASH_BYTES];
  u8 aHead[BEC_HASH_BYTES], aTip[BEC_HASH_BYTES];
  BecBuf opsA, opsB, op;
  BecBloom unsalted, salted;
  i64 nBase;
  int i, nTotal = 0, nUnsalted, nSalted, nPosUnsalted = 0, nPosSalted = 0;
  int rc = SQLITE_OK;

  memset(&opsA, 0, sizeof(opsA));
  memset(&opsB, 0, sizeof(opsB));
  memset(&op, 0, sizeof(op));
  bec_crypto_init();
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( mkdtemp(zDir)==0 ) return 1;
  snprintf(zA, sizeof(zA), "%s/a.db", zDir);
  snprintf(zB, sizeof(zB), "%s/b.db", zDir);

  /* A history, copied, synced once (persisted shared heads). */
  CHECK(sqlite3_open(zA, &dbA)==SQLITE_OK);
  bt_exec(dbA, "SELECT bec_keygen(); SELECT bec_create_group();"
            "SELECT bec_sign(x'01'); SELECT bec_sign(x'02');");
  sqlite3_close(dbA);
  snprintf(zCmd, sizeof(zCmd), "cp %s %s", zA, zB);
  CHECK(system(zCmd)==0);
  CHECK(sqlite3_open(zA, &dbA)==SQLITE_OK);
  CHECK(sqlite3_open(zB, &dbB)==SQLITE_OK);
  nBase = count(dbA);
  CHECK(session(dbA, dbB, nBase, &nTotal)>0);

  {
    u8 aSeed[BEC_SEED_BYTES];
    char zKey[sizeof(zA)+8], *zWhy = 0;
    snprintf(zKey, sizeof(zKey), "%s-bec-key", zA);
    CHECK_MSG(bec_keyfile_read(zKey, aSeed, &zWhy)==SQLITE_OK, "%s", zWhy);
    sqlite3_free(zWhy);
    bec_crypto_secret_from_seed(aSeed, aPub, aSecret);
  }
  CHECK(sqlite3_prepare_v2(dbA, "SELECT (SELECT value FROM bec_store_config WHERE"
      " key='group_id'),"
      " (SELECT o.hash FROM bec_store_head h, bec_store_op o WHERE o.seq=h.seq)",
      -1, &p, 0)==SQLITE_OK);
  CHECK(sqlite3_step(p)==SQLITE_ROW);
  memcpy(aGroup, sqlite3_column_blob(p, 0), BEC_HASH_BYTES);
  memcpy(aHead, sqlite3_column_blob(p, 1), BEC_HASH_BYTES);
  sqlite3_finalize(p);

  /* A's new ops, and the filter an unsalted design would build of them. */
  bec_bloom_test_unsalted = 1;
  CHECK(bec_bloom_init(&unsalted, NA)==SQLITE_OK);
  bec_bloom_test_unsalted = 0;
  CHECK(bec_bloom_init(&salted, NA)==SQLITE_OK);
  memcpy(aTip, aHead, BEC_HASH_BYTES);
  for(i=0; i<NA; i++){
    u8 aPayload[8];
    memcpy(aPayload, &i, sizeof(i));
    memset(&aPayload[4], 'a', 4);
    sign_op(&op, aPub, aSecret, aGroup, aTip, aPayload, 8);
    CHECK(bec_op_id(op.a, op.n, aTip)==SQLITE_OK);
    bec_bloom_test_unsalted = 1;
    bec_bloom_add(&unsalted, aTip);
    bec_bloom_test_unsalted = 0;
    bec_bloom_add(&salted, aTip);
    bec_syncmsg_add_op(&opsA, op.a, op.n, &rc);
  }

  /* B's ops, ground until each collides in the unsalted filter. */
  memcpy(aTip, aHead, BEC_HASH_BYTES);
  for(i=0; i<NB; i++){
    u8 aPayload[16], aHash[BEC_HASH_BYTES];
    u64 nonce;
    memset(aPayload, 0, sizeof(aPayload));
    for(nonce=0; nonce<1000000; nonce++){
      memcpy(aPayload, &i, sizeof(i));
      memcpy(&aPayload[8], &nonce, sizeof(nonce));
      sign_op(&op, aPub, aSecret, aGroup, aTip, aPayload, 16);
      CHECK(bec_op_id(op.a, op.n, aHash)==SQLITE_OK);
      bec_bloom_test_unsalted = 1;
      if( bec_bloom_test(&unsalted, aHash) ){
        bec_bloom_test_unsalted = 0;
        break;
      }
      bec_bloom_test_unsalted = 0;
    }
    memcpy(aTip, aHash, BEC_HASH_BYTES);
    bec_bloom_test_unsalted = 1;
    nPosUnsalted += bec_bloom_test(&unsalted, aHash);
    bec_bloom_test_unsalted = 0;
    nPosSalted += bec_bloom_test(&salted, aHash);
    bec_syncmsg_add_op(&opsB, op.a, op.n, &rc);
  }
  CHECK_MSG(nPosUnsalted==NB, "mined: %d of %d collide unsalted", nPosUnsalted, NB);
  CHECK_MSG(nPosSalted<=5, "%d of %d mined ops positive in a salted filter",
            nPosSalted, NB);

  /* The sync, with unsalted probes, then with bec's salted filter. */
  bt_exec(dbA, "BEGIN"); bt_exec(dbB, "BEGIN");
  ingest(dbA, &opsA); ingest(dbB, &opsB);
  bec_bloom_test_unsalted = 1;
  nUnsalted = session(dbA, dbB, nBase+NA+NB, &nTotal);
  bec_bloom_test_unsalted = 0;
  bt_exec(dbA, "ROLLBACK"); bt_exec(dbB, "ROLLBACK");

  bt_exec(dbA, "BEGIN"); bt_exec(dbB, "BEGIN");
  ingest(dbA, &opsA); ingest(dbB, &opsB);
  nSalted = session(dbA, dbB, nBase+NA+NB, &nTotal);
  CHECK(count(dbA)==nBase+NA+NB && count(dbB)==nBase+NA+NB);
  bt_exec(dbA, "COMMIT"); bt_exec(dbB, "COMMIT");

  printf("mined collisions: both hold everything after %d messages with an "
         "unsalted filter, %d with bec's salted filter\n", nUnsalted, nSalted);
  CHECK_MSG(nUnsalted>=4, "the mined ops did hurt an unsalted filter (%d)", nUnsalted);
  CHECK_MSG(nSalted>0 && nSalted<=3, "salted: %d messages", nSalted);

  bec_bloom_free(&unsalted);
  bec_bloom_free(&salted);
  bec_buf_free(&opsA);
  bec_buf_free(&opsB);
  bec_buf_free(&op);
  CHECK(sqlite3_close(dbA)==SQLITE_OK);
  CHECK(sqlite3_close(dbB)==SQLITE_OK);
  unlink(zA); unlink(zB);
  snprintf(zCmd, sizeof(zCmd), "rm -rf %s", zDir);
  CHECK(system(zCmd)==0);
  return bt_done();
}
