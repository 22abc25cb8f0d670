/*
** test_dag.c - storage and acceptance through the C API: the static
** library registered with sqlite3_auto_extension, a plain sqlite3_close()
** after use, ops crafted by hand (an outsider's op, a duplicate create),
** pending ops that are released in causal order or dropped with a
** rejected predecessor, and the integrity check catching tampering.
*/
#include "becInt.h"
#include "bectest.h"

#include <unistd.h>

static sqlite3 *open_db(const char *zPath){
  sqlite3 *db = 0;
  CHECK(sqlite3_open(zPath, &db)==SQLITE_OK);
  return db;
}

static int ingest(sqlite3 *db, const u8 *a, int n, char *zErr, int nErr){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, a, n, SQLITE_STATIC);
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ) rc = SQLITE_OK;
    snprintf(zErr, (size_t)nErr, "%s", rc ? sqlite3_errmsg(db) : "");
  }
  sqlite3_finalize(pStmt);
  return rc;
}

/* Encodes and signs an op with a given key: what a hostile peer can do. */
static void craft(BecBuf *pOut, const u8 *aSecret, const u8 *aGroup, int kind,
                  const u8 *aPred, int nPred, const void *aPay, int nPay){
  int rc = SQLITE_OK;
  memset(pOut, 0, sizeof(*pOut));
  bec_op_encode_unsigned(pOut, kind, kind==BEC_KIND_CREATE ? 0 : aGroup,
                         &aSecret[BEC_SEED_BYTES], nPred, aPred, aPay, nPay, &rc);
  bec_op_sign(pOut, aSecret, aGroup, &rc);
  CHECK(rc==SQLITE_OK);
}

static void hex_to(const char *z, u8 *a){
  CHECK(bec_hex_decode(z, 64, a, 32)==32);
}

/* The id covers the header, not the signature, so a copy with a broken
** signature (or a body that is not its header's) carries the real op's id.
** Such a copy is refused, logged under the hash of its bytes, and leaves
** alone what waits for the id: the real op, arriving later, is stored and
** releases its successors. */
static void test_forged_copy(void){
  char zPath[] = "/tmp/bec_test_forgedXXXXXX";
  char zKey[sizeof(zPath)+8];
  sqlite3 *c;
  char zErr[1024], zHexX[65], zHexBad[65], zSql[200];
  u8 aGroup[32], aSeed[32], aPub[32], aSec[64], aIdX[32], aIdY[32], aBad[32];
  BecBuf x, y, bad;
  BecOp op;
  char *zWhy = 0;
  int fd, rc = SQLITE_OK;

  /* A file database, so the identity's seed can be read from its key file
  ** (it is never readable through SQL). */
  fd = mkstemp(zPath);
  CHECK(fd>=0);
  close(fd);
  snprintf(zKey, sizeof(zKey), "%s-bec-key", zPath);
  c = open_db(zPath);
  bt_q(c, "SELECT bec_keygen()");
  hex_to(bt_q(c, "SELECT bec_create_group()"), aGroup);
  CHECK_MSG(bec_keyfile_read(zKey, aSeed, &zWhy)==SQLITE_OK, "%s", zWhy);
  sqlite3_free(zWhy);
  zWhy = 0;
  bec_crypto_secret_from_seed(aSeed, aPub, aSec);
  craft(&x, aSec, aGroup, BEC_KIND_APP, aGroup, 1, "real", 4);
  CHECK(bec_op_id(x.a, x.n, aIdX)==SQLITE_OK);
  craft(&y, aSec, aGroup, BEC_KIND_APP, aIdX, 1, "after", 5);
  CHECK(bec_op_id(y.a, y.n, aIdY)==SQLITE_OK);
  bec_hex_encode(aIdX, 32, zHexX);

  /* y waits for x. */
  CHECK(ingest(c, y.a, (int)y.n, zErr, sizeof(zErr))==SQLITE_OK);
  CHECK(strcmp(bt_q(c, "SELECT count(*) FROM bec_pending"), "1")==0);

  /* A copy of x with one signature bit flipped: same id, refused. */
  memset(&bad, 0, sizeof(bad));
  bec_buf_append(&bad, x.a, x.n, &rc);
  CHECK(rc==SQLITE_OK && bec_op_decode_header(bad.a, bad.n, &op, &zWhy)==SQLITE_OK);
  sqlite3_free(zWhy); zWhy = 0;
  bad.a[op.nHeader+5] ^= 0x04;
  CHECK(bec_op_id(bad.a, bad.n, aBad)==SQLITE_OK && memcmp(aBad, aIdX, 32)==0);
  CHECK(ingest(c, bad.a, (int)bad.n, zErr, sizeof(zErr))!=SQLITE_OK);
  CHECK_MSG(strstr(zErr, "bad signature")!=0, "%s", zErr);
  /* Logged under the hash of the bytes, never under x's id; y still waits. */
  bec_crypto_hash(bad.a, bad.n, aBad);
  bec_hex_encode(aBad, 32, zHexBad);
  snprintf(zSql, sizeof(zSql), "SELECT hash FROM bec_rejected WHERE reason='bad signature'");
  CHECK(strcmp(bt_q(c, zSql), zHexBad)==0);
  snprintf(zSql, sizeof(zSql), "SELECT count(*) FROM bec_rejected WHERE hash='%s'", zHexX);
  CHECK(strcmp(bt_q(c, zSql), "0")==0);
  CHECK(strcmp(bt_q(c, "SELECT count(*) FROM bec_pending"), "1")==0);

  /* A copy whose body is not its header's: refused the same way. */
  bad.a[op.nHeader+5] ^= 0x04;
  bad.a[bad.n-1] ^= 0x01;
  CHECK(ingest(c, bad.a, (int)bad.n, zErr, sizeof(zErr))!=SQLITE_OK);
  CHECK_MSG(strstr(zErr, "payload hash")!=0, "%s", zErr);
  CHECK(strcmp(bt_q(c, zSql), "0")==0);
  CHECK(strcmp(bt_q(c, "SELECT count(*) FROM bec_pending"), "1")==0);

  /* The real x: stored, and y with it. */
  CHECK(ingest(c, x.a, (int)x.n, zErr, sizeof(zErr))==SQLITE_OK);
  CHECK(strcmp(bt_q(c, "SELECT count(*) FROM bec_pending"), "0")==0);
  CHECK(strcmp(bt_q(c, "SELECT count(*) FROM bec_ops"), "3")==0);
  snprintf(zSql, sizeof(zSql), "SELECT payload FROM bec_ops WHERE hash='%s'", zHexX);
  CHECK(strcmp(bt_q(c, zSql), "real")==0);
  CHECK(strcmp(bt_q(c, "SELECT bec_check()"), "ok")==0);

  /* A broken copy of a stored op changes nothing. */
  bad.a[bad.n-1] ^= 0x01;
  bad.a[op.nHeader] ^= 0x01;
  ingest(c, bad.a, (int)bad.n, zErr, sizeof(zErr));
  CHECK(strcmp(bt_q(c, "SELECT count(*) FROM bec_ops"), "3")==0);
  CHECK(strcmp(bt_q(c, "SELECT bec_check()"), "ok")==0);

  bec_buf_free(&x);
  bec_buf_free(&y);
  bec_buf_free(&bad);
  CHECK(sqlite3_close(c)==SQLITE_OK);
  unlink(zPath);
  unlink(zKey);
}

/* The plan of a query (its EXPLAIN QUERY PLAN lines, joined): 1 if it
** names index zIndex. */
static int plan_uses(sqlite3 *db, const char *zSql, const char *zIndex){
  sqlite3_stmt *pStmt = 0;
  char *zEqp = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", zSql);
  int bFound = 0;
  CHECK(zEqp!=0);
  CHECK_MSG(sqlite3_prepare_v2(db, zEqp, -1, &pStmt, 0)==SQLITE_OK, "%s: %s",
            zSql, sqlite3_errmsg(db));
  while( pStmt && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *z = (const char*)sqlite3_column_text(pStmt, 3);
    if( z && strstr(z, zIndex) ) bFound = 1;
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zEqp);
  return bFound;
}

/* The id is stored once (the row) and found through bec_store_op_id, which
** maps its 8-byte prefix to the seq: the lookup every query by id uses
** (BEC_OP_ID_IS) reads that table, as do the queries by kind and author
** that say BEC_OP_INDEXED (partial indexes: without it SQLite scans).  No
** index of the schema calls a function. */
static void test_lookup_plans(void){
  sqlite3 *db = open_db(":memory:");
  CHECK(strlen(bt_q(db, "SELECT bec_keygen()"))==64);
  CHECK(strlen(bt_q(db, "SELECT bec_create_group()"))==64);
  CHECK(strlen(bt_q(db, "SELECT bec_sign(x'01')"))==64);
  CHECK(strcmp(bt_q(db, "SELECT count(*) FROM sqlite_schema WHERE name="
                        "'sqlite_autoindex_bec_store_op_1'"), "0")==0);
  CHECK(strcmp(bt_q(db, "SELECT count(*) FROM sqlite_schema WHERE tbl_name"
                        " LIKE 'bec_store_op%' AND (sql LIKE '%substr%'"
                        " OR sql LIKE '%length%')"), "0")==0);
  CHECK(plan_uses(db, "SELECT seq FROM bec_store_op o WHERE "
                  BEC_OP_ID_IS("o", "?2", "?1"), "PRIMARY KEY (prefix=?)"));
  CHECK(plan_uses(db, "SELECT seq FROM bec_store_op o WHERE "
                  BEC_OP_ID_IS("o", "substr(?1,1,8)", "?1"),
                  "PRIMARY KEY (prefix=?)"));
  CHECK(plan_uses(db, "SELECT seq FROM bec_store_op o WHERE o.kind=?1 AND "
                  BEC_OP_INDEXED("o"), "bec_store_op_kind"));
  CHECK(plan_uses(db, "SELECT seq FROM bec_store_op o WHERE o.author=?1 AND "
                  BEC_OP_INDEXED("o"), "bec_store_op_author"));
  CHECK(!plan_uses(db, "SELECT seq FROM bec_store_op o WHERE o.kind=?1",
                   "bec_store_op_kind"));
  /* the lookup decides on the full id: a row with the prefix of the
  ** create's id and another tail is not the create */
  CHECK(sqlite3_exec(db, "INSERT INTO bec_store_op(seq, hash, kind, author,"
      " depth, chain, preds, body) SELECT 99,"
      " CAST(substr(hash,1,8)||zeroblob(24) AS BLOB),"
      " kind, author, depth, chain, preds, body FROM bec_store_op WHERE seq=1;"
      " INSERT INTO bec_store_op_id SELECT substr(hash,1,8), 99"
      " FROM bec_store_op WHERE seq=1", 0, 0, 0)==SQLITE_OK);
  CHECK(strcmp(bt_q(db, "SELECT group_concat(o.seq) FROM bec_store_op o,"
      " bec_store_op c WHERE c.seq=1 AND "
      BEC_OP_ID_IS("o", "substr(c.hash,1,8)", "c.hash")), "1")==0);
  CHECK(strcmp(bt_q(db, "SELECT group_concat(o.seq) FROM bec_store_op o,"
      " bec_store_op t WHERE t.seq=99 AND "
      BEC_OP_ID_IS("o", "substr(t.hash,1,8)", "t.hash")), "99")==0);
  CHECK(sqlite3_close(db)==SQLITE_OK);
}

int main(void){
  char zErr[1024];
  char zGroup[65], zHead[65];
  u8 aGroup[32], aHead[32];
  u8 aPub[32], aSec[64], aPub2[32], aSec2[64];
  sqlite3 *a, *b;
  BecBuf op1, op2, op3;
  char zPath[] = "/tmp/bec_test_dagXXXXXX";
  char zKey[sizeof(zPath)+8];
  int fd;

  CHECK(sqlite3_auto_extension((void(*)(void))sqlite3_bec_init)==SQLITE_OK);
  a = open_db(":memory:");
  CHECK(strlen(bt_q(a, "SELECT bec_keygen()"))==64);
  snprintf(zGroup, sizeof(zGroup), "%s", bt_q(a, "SELECT bec_create_group()"));
  CHECK(strlen(zGroup)==64);
  hex_to(zGroup, aGroup);
  snprintf(zHead, sizeof(zHead), "%s", bt_q(a, "SELECT bec_sign(x'01')"));
  hex_to(zHead, aHead);

  /* A plain sqlite3_close() succeeds although bec cached statements. */
  CHECK(sqlite3_close(a)==SQLITE_OK);

  /* An outsider's op, signed correctly on top of the group's create, and a
  ** second create, are refused with readable reasons and store nothing. */
  fd = mkstemp(zPath);
  CHECK(fd>=0);
  close(fd);
  snprintf(zKey, sizeof(zKey), "%s-bec-key", zPath);
  b = open_db(zPath);
  bt_q(b, "SELECT bec_keygen()");
  {
    char zSql[200];
    snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')", zGroup);
    CHECK(strcmp(bt_q(b, zSql), zGroup)==0);
  }
  bec_crypto_keypair(aPub, aSec);
  craft(&op1, aSec, 0, BEC_KIND_CREATE, 0, 0, "0123456789abcdef", 16);
  CHECK(ingest(b, op1.a, (int)op1.n, zErr, sizeof(zErr))!=SQLITE_OK);
  CHECK_MSG(strstr(zErr, "wrong group")!=0, "%s", zErr);
  bec_buf_free(&op1);

  /* The real create, moved by hand. */
  {
    sqlite3 *a2 = 0;
    (void)a2;
  }
  CHECK(strcmp(bt_q(b, "SELECT count(*) FROM bec_ops"), "0")==0);

  /* Build the group on b with a known key so ops can be crafted. */
  sqlite3_close(b);
  unlink(zPath);
  unlink(zKey);   /* the first identity's key file */
  b = open_db(zPath);
  bt_q(b, "SELECT bec_keygen()");
  snprintf(zGroup, sizeof(zGroup), "%s", bt_q(b, "SELECT bec_create_group()"));
  hex_to(zGroup, aGroup);
  bec_crypto_keypair(aPub2, aSec2);
  craft(&op1, aSec2, aGroup, BEC_KIND_APP, aGroup, 1, "hi", 2);
  CHECK(ingest(b, op1.a, (int)op1.n, zErr, sizeof(zErr))!=SQLITE_OK);
  CHECK_MSG(strstr(zErr, "unauthorized")!=0, "%s", zErr);
  CHECK(strcmp(bt_q(b, "SELECT count(*) FROM bec_ops"), "1")==0);
  CHECK(strcmp(bt_q(b, "SELECT count(*) FROM bec_rejected WHERE reason LIKE 'unauthorized%'"), "1")==0);

  /* The outsider builds on its own rejected op; that waits, and is dropped
  ** when the rejected op arrives again: nothing after a rejected op can
  ** ever be stored. */
  {
    u8 aH1[32];
    CHECK(bec_op_id(op1.a, op1.n, aH1)==SQLITE_OK);
    craft(&op2, aSec2, aGroup, BEC_KIND_APP, aH1, 1, "again", 5);
    CHECK(ingest(b, op2.a, (int)op2.n, zErr, sizeof(zErr))==SQLITE_OK);
    CHECK(strcmp(bt_q(b, "SELECT count(*) FROM bec_pending"), "1")==0);
    CHECK(ingest(b, op1.a, (int)op1.n, zErr, sizeof(zErr))!=SQLITE_OK);
    CHECK(strcmp(bt_q(b, "SELECT count(*) FROM bec_pending"), "0")==0);
    CHECK(strcmp(bt_q(b, "SELECT count(*) FROM bec_ops"), "1")==0);
    CHECK(strstr(bt_q(b, "SELECT group_concat(reason) FROM bec_rejected"),
                 "a predecessor was rejected")!=0);
    bec_buf_free(&op2);
  }
  bec_buf_free(&op1);

  /* Ops signed with the group creator's key but crafted out of order are
  ** released in causal order. */
  {
    u8 aSeed[32];
    u8 aH1[32], aH2[32];
    char *zWhy = 0;
    /* The identity's seed, from its key file (never from SQL). */
    CHECK_MSG(bec_keyfile_read(zKey, aSeed, &zWhy)==SQLITE_OK, "%s", zWhy);
    sqlite3_free(zWhy);
    bec_crypto_secret_from_seed(aSeed, aPub, aSec);
    craft(&op1, aSec, aGroup, BEC_KIND_APP, aGroup, 1, "one", 3);
    CHECK(bec_op_id(op1.a, op1.n, aH1)==SQLITE_OK);
    craft(&op2, aSec, aGroup, BEC_KIND_APP, aH1, 1, "two", 3);
    CHECK(bec_op_id(op2.a, op2.n, aH2)==SQLITE_OK);
    craft(&op3, aSec, aGroup, BEC_KIND_APP, aH2, 1, "three", 5);
    CHECK(ingest(b, op3.a, (int)op3.n, zErr, sizeof(zErr))==SQLITE_OK);
    CHECK(ingest(b, op2.a, (int)op2.n, zErr, sizeof(zErr))==SQLITE_OK);
    CHECK(strcmp(bt_q(b, "SELECT count(*) FROM bec_ops"), "1")==0);
    CHECK(ingest(b, op1.a, (int)op1.n, zErr, sizeof(zErr))==SQLITE_OK);
    CHECK(strcmp(bt_q(b, "SELECT group_concat(payload, ',') FROM bec_ops WHERE kind='app'"),
                 "one,two,three")==0);
    CHECK(strcmp(bt_q(b, "SELECT count(*) FROM bec_heads"), "1")==0);
    CHECK(strcmp(bt_q(b, "SELECT bec_check()"), "ok")==0);
    bec_buf_free(&op1);
    bec_buf_free(&op2);
    bec_buf_free(&op3);
  }

  /* bec_check notices tampering with stored bytes, a stored depth and the
  ** heads. */
  CHECK(sqlite3_exec(b, "UPDATE bec_store_op SET depth=depth+5 WHERE seq=2", 0, 0, 0)==SQLITE_OK);
  CHECK(strstr(bt_q(b, "SELECT bec_check()"), "depth")!=0);
  CHECK(sqlite3_exec(b, "UPDATE bec_store_op SET depth=depth-5 WHERE seq=2", 0, 0, 0)==SQLITE_OK);
  CHECK(strcmp(bt_q(b, "SELECT bec_check()"), "ok")==0);
  CHECK(sqlite3_exec(b, "CREATE TEMP TABLE saved AS SELECT body FROM bec_store_op WHERE seq=3;"
                        "UPDATE bec_store_op SET body=zeroblob(length(body)) WHERE seq=3", 0, 0, 0)==SQLITE_OK);
  CHECK(strstr(bt_q(b, "SELECT bec_check()"), "malformed")!=0);
  /* A changed body byte no longer matches the payload hash in the header. */
  CHECK(sqlite3_exec(b, "UPDATE bec_store_op SET body=(SELECT body FROM saved) WHERE seq=3;"
                        "UPDATE bec_store_op SET body=substr(body, 1, length(body)-1)"
                        " || CASE WHEN substr(body, -1)=x'00' THEN x'01' ELSE x'00' END"
                        " WHERE seq=3", 0, 0, 0)==SQLITE_OK);
  CHECK(strstr(bt_q(b, "SELECT bec_check()"), "payload hash")!=0);
  CHECK(sqlite3_exec(b, "UPDATE bec_store_op SET body=(SELECT body FROM saved) WHERE seq=3", 0, 0, 0)==SQLITE_OK);
  CHECK(strcmp(bt_q(b, "SELECT bec_check()"), "ok")==0);
  CHECK(sqlite3_exec(b, "INSERT INTO bec_store_head VALUES(1)", 0, 0, 0)==SQLITE_OK);
  CHECK(strstr(bt_q(b, "SELECT bec_check()"), "head")!=0);
  CHECK(sqlite3_exec(b, "DELETE FROM bec_store_head WHERE seq=1", 0, 0, 0)==SQLITE_OK);

  /* Reopening the file keeps everything. */
  CHECK(sqlite3_close(b)==SQLITE_OK);
  b = open_db(zPath);
  CHECK(strcmp(bt_q(b, "SELECT count(*) FROM bec_ops"), "4")==0);
  CHECK(strcmp(bt_q(b, "SELECT bec_check()"), "ok")==0);
  /* Errors are SQL errors with readable text. */
  CHECK(strstr(bt_q(b, "SELECT bec_join('zz')"), "64 hex")!=0);
  CHECK(strstr(bt_q(b, "SELECT bec_op(42)"), "hash")!=0);
  CHECK(strstr(bt_q(b, "SELECT bec_ingest(x'')"), "malformed")!=0);
  CHECK(strstr(bt_q(b, "SELECT * FROM bec_ops WHERE kind='nonsense'"), "")!=0);
  /* The key file set through the C API: a wrong one cannot sign, the
  ** default (NULL) can again. */
  CHECK(bec_set_key_file(b, "/nonexistent/bec-test.key")==SQLITE_OK);
  CHECK(strstr(bt_q(b, "SELECT bec_sign(x'01')"), "/nonexistent/bec-test.key is missing")!=0);
  CHECK(bec_set_key_file(b, 0)==SQLITE_OK);
  CHECK(strlen(bt_q(b, "SELECT bec_sign(x'01')"))==64);
  CHECK(sqlite3_close(b)==SQLITE_OK);
  unlink(zPath);
  unlink(zKey);
  test_forged_copy();
  test_lookup_plans();
  sqlite3_reset_auto_extension();
  sqlite3_shutdown();
  return bt_done();
}
