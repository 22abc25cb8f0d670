/*
** test_rejoin.c - an installed snapshot's replica meets an op concurrent
** with K (docs/compaction.md "An op concurrent with the installed
** checkpoint"; bec_dag.c, the cut section).
**
** A replica A creates a group, adds B and D (chain ops), signs on; B goes
** offline holding A's ops 1-2 and signs Y (naming the add, a chain op); D
** goes offline holding 1-5 and signs Z (naming A's op 5); both Y and Z are
** concurrent with A's op 11, taken as K.  A database C is built as an
** install leaves it (test_cut.c does the same): A's ops 1-3 in full (the
** create, the two adds), stand-ins for 4-10, K in full, the cut closed at
** K, then A's ops 12 and 13, which descend from K.
**
** Checked: ops that descend from K are stored as before (also after the
** concurrent ones arrive, and on a new connection); Y and Z are not stored
** but wait in the pending area, their missing links their predecessors
** (what C lacks is their headers); B's op X naming Y and stand-in 5 waits
** for Y as any op waits; the first concurrent op by a known key is what
** C reports (bec_dag_rejoin_op, bec_sync_state's "rejoin"), and an
** outsider's concurrent op waits without being reported; a copy of a
** waiting op is pending again, not stored; A itself, without a cut,
** stores Y, Z and X at once; a sync session with A stores none of them
** and ends saying why; bec_check() passes.
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>
#include <unistd.h>

#define NA 13                    /* A's ops: create, 2 adds, signs, K, 2 after */
#define K_SEQ 11

static int int_of(sqlite3 *db, const char *zSql){
  return atoi(bt_q(db, zSql));
}

/* Op iSeq of db: id and depth, and its body (malloc'd, *pnBody bytes). */
static u8 *op_of(sqlite3 *db, int iSeq, u8 *aId, int *piDepth, int *pnBody){
  sqlite3_stmt *pStmt = 0;
  u8 *aBody = 0;
  CHECK(sqlite3_prepare_v2(db, "SELECT hash, depth, body FROM bec_store_op"
                           " WHERE seq=?1", -1, &pStmt, 0)==SQLITE_OK);
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    memcpy(aId, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
    *piDepth = sqlite3_column_int(pStmt, 1);
    *pnBody = sqlite3_column_bytes(pStmt, 2);
    aBody = malloc((size_t)*pnBody);
    memcpy(aBody, sqlite3_column_blob(pStmt, 2), (size_t)*pnBody);
  }
  sqlite3_finalize(pStmt);
  CHECK(aBody!=0);
  return aBody;
}

/* Ingests a body into db; the SQL result code. */
static int ingest_body(sqlite3 *db, const u8 *a, int n){
  sqlite3_stmt *pStmt = 0;
  int rc;
  CHECK(sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &pStmt, 0)==SQLITE_OK);
  sqlite3_bind_blob(pStmt, 1, a, n, SQLITE_STATIC);
  rc = sqlite3_step(pStmt);
  if( rc!=SQLITE_ROW ) printf("ingest: %s\n", sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  return rc==SQLITE_ROW ? SQLITE_OK : rc;
}

/* Ingests op iSeq of dbFrom into dbTo. */
static void ingest(sqlite3 *dbFrom, sqlite3 *dbTo, int iSeq){
  u8 aId[BEC_HASH_BYTES];
  int iDepth = 0, nBody = 0;
  u8 *aBody = op_of(dbFrom, iSeq, aId, &iDepth, &nBody);
  CHECK_MSG(ingest_body(dbTo, aBody, nBody)==SQLITE_OK, "op %d", iSeq);
  free(aBody);
}

static int is_stored(sqlite3 *db, const u8 *aId){
  char zSql[200], zHex[2*BEC_HASH_BYTES+1];
  bec_hex_encode(aId, BEC_HASH_BYTES, zHex);
  snprintf(zSql, sizeof(zSql), "SELECT count(*) FROM bec_store_op"
           " WHERE hash=x'%s'", zHex);
  return int_of(db, zSql);
}

static int is_pending(sqlite3 *db, const u8 *aId){
  char zSql[200], zHex[2*BEC_HASH_BYTES+1];
  bec_hex_encode(aId, BEC_HASH_BYTES, zHex);
  snprintf(zSql, sizeof(zSql), "SELECT count(*) FROM bec_store_pending"
           " WHERE hash=x'%s'", zHex);
  return int_of(db, zSql);
}

/* The missing links of pending op aId, as hex ids joined by ','. */
static const char *missing_of(sqlite3 *db, const u8 *aId){
  char zSql[300], zHex[2*BEC_HASH_BYTES+1];
  bec_hex_encode(aId, BEC_HASH_BYTES, zHex);
  snprintf(zSql, sizeof(zSql), "SELECT group_concat(hex(missing)) FROM"
           " (SELECT missing FROM bec_store_pending_missing WHERE hash=x'%s'"
           " ORDER BY missing)", zHex);
  return bt_q(db, zSql);
}

/* A new database of the group of dbA, with a key: its public key in
** zPub (65 bytes). */
static sqlite3 *member_db(const char *zPath, sqlite3 *dbA, char *zPub){
  sqlite3 *db = 0;
  char zSql[200];
  CHECK(sqlite3_open(zPath, &db)==SQLITE_OK);
  CHECK(strncmp(bt_q(db, "SELECT bec_keygen()"), "ERROR", 5)!=0);
  snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')",
           bt_q(dbA, "SELECT bec_group_id()"));
  CHECK_MSG(strncmp(bt_q(db, zSql), "ERROR", 5)!=0, "%s", bt_q(db, zSql));
  snprintf(zPub, 65, "%s", bt_q(db, "SELECT bec_pubkey()"));
  return db;
}

/* A session: dbC offers to dbA ('a' for C, 'c' for A) and both apply the
** other's messages until one has nothing more to say.  The number of
** messages, or -1 on an error. */
static int session(sqlite3 *dbC, sqlite3 *dbA){
  sqlite3_stmt *pMsg = 0;
  sqlite3 *aDb[2];
  const char *azPeer[2] = {"c", "a"};
  int n = 0, i = 0;
  aDb[0] = dbA;
  aDb[1] = dbC;
  CHECK(sqlite3_prepare_v2(dbC, "SELECT bec_sync_offer('a')", -1, &pMsg, 0)==SQLITE_OK);
  if( sqlite3_step(pMsg)!=SQLITE_ROW ){
    printf("offer: %s\n", sqlite3_errmsg(dbC));
    sqlite3_finalize(pMsg);
    return -1;
  }
  while( n<40 && sqlite3_column_type(pMsg, 0)==SQLITE_BLOB ){
    sqlite3_stmt *pApply = 0;
    char zSql[100];
    snprintf(zSql, sizeof(zSql), "SELECT bec_sync_apply('%s', ?1)", azPeer[i]);
    CHECK(sqlite3_prepare_v2(aDb[i], zSql, -1, &pApply, 0)==SQLITE_OK);
    sqlite3_bind_value(pApply, 1, sqlite3_column_value(pMsg, 0));
    n++;
    if( sqlite3_step(pApply)!=SQLITE_ROW ){
      printf("apply: %s\n", sqlite3_errmsg(aDb[i]));
      sqlite3_finalize(pApply);
      sqlite3_finalize(pMsg);
      return -1;
    }
    sqlite3_finalize(pMsg);
    pMsg = pApply;
    i = 1-i;
  }
  sqlite3_finalize(pMsg);
  return n;
}

int main(void){
  char zDir[] = "/tmp/bec-test-rejoin-XXXXXX";
  char zPath[80], zPubB[65], zPubD[65], zSql[300];
  sqlite3 *dbA = 0, *dbB = 0, *dbD = 0, *dbC = 0, *dbC2 = 0;
  BecCtx *pC = 0;
  char *zErr = 0;
  int i, iSeq = 0, nBody = 0;
  u8 aIds[NA+1][BEC_HASH_BYTES];
  int aDepth[NA+1];
  u8 aY[BEC_HASH_BYTES], aZ[BEC_HASH_BYTES], aX[BEC_HASH_BYTES];
  u8 *aBodyY = 0, *aBodyZ = 0, *aBodyX = 0;
  int nY = 0, nZ = 0, nX = 0, iDepth = 0;

  bec_crypto_init();
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( mkdtemp(zDir)==0 ) return 1;

  /* A: create (1), add B (2), add D (3), signs 4-10, K (11), 12, 13. */
  snprintf(zPath, sizeof(zPath), "%s/a.db", zDir);
  CHECK(sqlite3_open(zPath, &dbA)==SQLITE_OK);
  CHECK(strncmp(bt_q(dbA, "SELECT bec_keygen()"), "ERROR", 5)!=0);
  CHECK(strncmp(bt_q(dbA, "SELECT bec_create_group()"), "ERROR", 5)!=0);
  snprintf(zPath, sizeof(zPath), "%s/b.db", zDir);
  dbB = member_db(zPath, dbA, zPubB);
  snprintf(zPath, sizeof(zPath), "%s/d.db", zDir);
  dbD = member_db(zPath, dbA, zPubD);
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')", zPubB);
  CHECK_MSG(strncmp(bt_q(dbA, zSql), "ERROR", 5)!=0, "%s", bt_q(dbA, zSql));
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')", zPubD);
  CHECK_MSG(strncmp(bt_q(dbA, zSql), "ERROR", 5)!=0, "%s", bt_q(dbA, zSql));
  for(i=4; i<=5; i++){
    CHECK(strncmp(bt_q(dbA, "SELECT bec_sign(randomblob(8))"), "ERROR", 5)!=0);
  }
  /* B holds 1-2 and signs Y; D holds 1-5 and signs Z; B then holds 1-5
  ** and signs X (naming Y and A's 5). */
  ingest(dbA, dbB, 1);
  ingest(dbA, dbB, 2);
  CHECK_MSG(strncmp(bt_q(dbB, "SELECT bec_sign(x'b1')"), "ERROR", 5)!=0, "%s", bt_q(dbB, "SELECT bec_sign(x'b1')"));
  for(i=1; i<=5; i++) ingest(dbA, dbD, i);
  CHECK(strncmp(bt_q(dbD, "SELECT bec_sign(x'd1')"), "ERROR", 5)!=0);
  for(i=3; i<=5; i++) ingest(dbA, dbB, i);
  CHECK(strncmp(bt_q(dbB, "SELECT bec_sign(x'b2')"), "ERROR", 5)!=0);
  aBodyY = op_of(dbB, 3, aY, &iDepth, &nY);
  aBodyX = op_of(dbB, 7, aX, &iDepth, &nX);
  aBodyZ = op_of(dbD, 6, aZ, &iDepth, &nZ);
  CHECK(int_of(dbB, "SELECT count(*) FROM bec_store_op")==7);
  for(i=6; i<=NA; i++){
    CHECK(strncmp(bt_q(dbA, "SELECT bec_sign(randomblob(8))"), "ERROR", 5)!=0);
  }
  CHECK(int_of(dbA, "SELECT max(seq) FROM bec_store_op")==NA);
  for(i=1; i<=NA; i++){
    free(op_of(dbA, i, aIds[i], &aDepth[i], &nBody));
  }

  /* C: as an install leaves it. */
  snprintf(zPath, sizeof(zPath), "%s/c.db", zDir);
  CHECK(sqlite3_open(zPath, &dbC)==SQLITE_OK);
  snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')",
           bt_q(dbA, "SELECT bec_group_id()"));
  CHECK(strncmp(bt_q(dbC, zSql), "ERROR", 5)!=0);
  for(i=1; i<=3; i++) ingest(dbA, dbC, i);
  CHECK(bec_ctx_new(dbC, &pC)==SQLITE_OK);
  if( pC ) pC->xForget = bec_dag_forget;        /* as bec_main.c sets it */
  CHECK(bec_dag_cut_begin(pC, &zErr)==SQLITE_OK);
  for(i=4; i<=10; i++){
    CHECK(bec_dag_cut_prove(pC, aIds[i], aDepth[i], 1, &iSeq)==SQLITE_OK
          && iSeq==i);
  }
  /* (stand-ins written by another context: a new connection ingests, as
  ** in test_cut.c; the install writes them in its own transaction) */
  CHECK(sqlite3_open(zPath, &dbC2)==SQLITE_OK);
  ingest(dbA, dbC2, K_SEQ);
  CHECK(int_of(dbC, "SELECT max(seq) FROM bec_store_op")==K_SEQ);
  CHECK(bec_dag_cut_close(pC, K_SEQ, &zErr)==SQLITE_OK);
  sqlite3_free(zErr);
  zErr = 0;
  sqlite3_close(dbC2);
  CHECK(sqlite3_open(zPath, &dbC2)==SQLITE_OK);
  ingest(dbA, dbC2, 12);
  CHECK(int_of(dbC, "SELECT max(seq) FROM bec_store_op")==12);
  {
    u8 aId[BEC_HASH_BYTES];
    int bSet = 1;
    CHECK(bec_dag_rejoin_op(pC, aId, &bSet)==SQLITE_OK && bSet==0);
  }

  /* X first: it names Y, which C does not hold, so it waits for Y as
  ** any op waits (the rule judges it once its predecessors are here). */
  CHECK(ingest_body(dbC2, aBodyX, nX)==SQLITE_OK);
  CHECK(is_pending(dbC, aX) && !is_stored(dbC, aX));
  {
    char zHexY[2*BEC_HASH_BYTES+1];
    bec_hex_encode(aY, BEC_HASH_BYTES, zHexY);
    CHECK_MSG(strcasecmp(missing_of(dbC, aX), zHexY)==0, "%s", missing_of(dbC, aX));
  }

  /* Y names only a chain op stored below K: concurrent with K.  Not
  ** stored; it waits for op 2's header, and C reports it. */
  CHECK(ingest_body(dbC2, aBodyY, nY)==SQLITE_OK);
  CHECK(!is_stored(dbC, aY) && is_pending(dbC, aY));
  CHECK(!is_stored(dbC, aX) && is_pending(dbC, aX));
  {
    char zHex[2*BEC_HASH_BYTES+1];
    u8 aId[BEC_HASH_BYTES];
    int bSet = 0;
    bec_hex_encode(aIds[2], BEC_HASH_BYTES, zHex);
    CHECK_MSG(strcasecmp(missing_of(dbC, aY), zHex)==0, "%s", missing_of(dbC, aY));
    CHECK(bec_dag_rejoin_op(pC, aId, &bSet)==SQLITE_OK && bSet
          && memcmp(aId, aY, BEC_HASH_BYTES)==0);
  }
  CHECK(int_of(dbC, "SELECT count(*) FROM bec_store_op")==5);
  CHECK(int_of(dbC, "SELECT count(*) FROM bec_rejected")==0);

  /* Z names only a stand-in: concurrent too; the first op stays the
  ** reason. */
  CHECK(ingest_body(dbC2, aBodyZ, nZ)==SQLITE_OK);
  CHECK(!is_stored(dbC, aZ) && is_pending(dbC, aZ));
  {
    char zHex[2*BEC_HASH_BYTES+1];
    u8 aId[BEC_HASH_BYTES];
    int bSet = 0;
    bec_hex_encode(aIds[5], BEC_HASH_BYTES, zHex);
    CHECK_MSG(strcasecmp(missing_of(dbC, aZ), zHex)==0, "%s", missing_of(dbC, aZ));
    CHECK(bec_dag_rejoin_op(pC, aId, &bSet)==SQLITE_OK && bSet
          && memcmp(aId, aY, BEC_HASH_BYTES)==0);
  }

  /* An outsider's op naming a stand-in waits too (bounded as any unknown
  ** key's op) and is not what C reports. */
  {
    u8 aPub[BEC_PUBKEY_BYTES], aSec[BEC_SECKEY_BYTES], aGroup[BEC_HASH_BYTES];
    BecBuf op;
    int rc = SQLITE_OK;
    memset(&op, 0, sizeof(op));
    bec_crypto_keypair(aPub, aSec);
    CHECK(bec_hex_decode(bt_q(dbA, "SELECT bec_group_id()"), 64, aGroup, 32)==32);
    bec_op_encode_unsigned(&op, BEC_KIND_APP, aGroup, &aSec[BEC_SEED_BYTES], 1,
                           aIds[7], (const u8*)"outsider", 8, &rc);
    bec_op_sign(&op, aSec, aGroup, &rc);
    CHECK(rc==SQLITE_OK);
    CHECK(ingest_body(dbC2, op.a, (int)op.n)==SQLITE_OK);
    CHECK(int_of(dbC, "SELECT count(*) FROM bec_store_pending")==4);
    {
      u8 aId[BEC_HASH_BYTES];
      int bSet = 0;
      CHECK(bec_dag_rejoin_op(pC, aId, &bSet)==SQLITE_OK && bSet
            && memcmp(aId, aY, BEC_HASH_BYTES)==0);
    }
    bec_buf_free(&op);
  }

  /* An op that descends from K is stored as before, on a new connection
  ** too; a copy of Y there is pending again, not stored. */
  sqlite3_close(dbC2);
  CHECK(sqlite3_open(zPath, &dbC2)==SQLITE_OK);
  ingest(dbA, dbC2, 13);
  CHECK(int_of(dbC, "SELECT max(seq) FROM bec_store_op")==13);
  CHECK(int_of(dbC, "SELECT count(*) FROM bec_store_op WHERE valid=0")==0);
  CHECK(ingest_body(dbC2, aBodyY, nY)==SQLITE_OK);
  CHECK(!is_stored(dbC, aY) && is_pending(dbC, aY));
  CHECK(strcmp(bt_q(dbC2, "SELECT group_concat(seq) FROM"
                     " (SELECT seq FROM bec_store_op ORDER BY seq)"),
               "1,2,3,11,12,13")==0);
  CHECK(int_of(dbC, "SELECT seq FROM bec_store_head")==13
        && int_of(dbC, "SELECT count(*) FROM bec_store_head")==1);
  CHECK_MSG(strcmp(bt_q(dbC2, "SELECT bec_check()"), "ok")==0, "%s",
            bt_q(dbC2, "SELECT bec_check()"));

  /* A, without a cut, stores all three at once: the ops are valid ones. */
  CHECK(ingest_body(dbA, aBodyX, nX)==SQLITE_OK);
  CHECK(ingest_body(dbA, aBodyZ, nZ)==SQLITE_OK);
  CHECK(ingest_body(dbA, aBodyY, nY)==SQLITE_OK);
  CHECK(is_stored(dbA, aX) && is_stored(dbA, aY) && is_stored(dbA, aZ));
  CHECK(int_of(dbA, "SELECT count(*) FROM bec_store_op WHERE valid=0")==0);

  /* A sync session with A (which holds Y, Z and X) stores nothing of the
  ** concurrent ops; it ends when no progress is possible, saying why, and
  ** its state says C must fall back to a full join. */
  CHECK(session(dbC2, dbA)==-1);
  CHECK(!is_stored(dbC, aY) && !is_stored(dbC, aZ) && !is_stored(dbC, aX));
  CHECK(is_pending(dbC, aY) && is_pending(dbC, aZ) && is_pending(dbC, aX));
  CHECK(int_of(dbC, "SELECT count(*) FROM bec_store_op")==6);
  {
    const char *z = bt_q(dbC2, "SELECT bec_sync_state('a')");
    char zHex[2*BEC_HASH_BYTES+1], zErrMsg[200];
    bec_hex_encode(aY, BEC_HASH_BYTES, zHex);
    CHECK_MSG(strstr(z, "\"rejoin\":\"")!=0 && strstr(z, zHex)!=0, "%s", z);
    zHex[12] = 0;
    snprintf(zErrMsg, sizeof(zErrMsg), "this replica installed a snapshot, and "
             "op %s is concurrent with its checkpoint: it and what follows it "
             "wait for a full join", zHex);
    CHECK_MSG(strstr(z, zErrMsg)!=0, "%s", z);
    z = bt_q(dbA, "SELECT bec_sync_state('c')");
    CHECK_MSG(strstr(z, "\"rejoin\":null")!=0, "%s", z);
  }
  CHECK_MSG(strcmp(bt_q(dbC2, "SELECT bec_check()"), "ok")==0, "%s",
            bt_q(dbC2, "SELECT bec_check()"));

  free(aBodyY);
  free(aBodyZ);
  free(aBodyX);
  bec_ctx_unref(pC);
  sqlite3_close(dbC2);
  sqlite3_close(dbC);
  sqlite3_close(dbD);
  sqlite3_close(dbB);
  sqlite3_close(dbA);
  {
    char zCmd[200];
    snprintf(zCmd, sizeof(zCmd), "rm -rf %s", zDir);
    if( system(zCmd) ){}
  }
  return bt_done();
}
