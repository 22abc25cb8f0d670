/*
** test_kind.c - the kind table (BEC_KINDS in becInt.h) and its users agree:
** every row's number and name round-trip; the codec accepts each kind with
** the payload its rule asks for, refuses other lengths and unknown kinds,
** and sets the target exactly for the target rules; in a database, every
** stored op's bec_ops kind and DOT label are its row's name, and
** `WHERE kind=?` finds it.
**
** test_kindtoy.c includes this file with BEC_TEST_TOY_KIND, and the
** Makefile links it against a library built with the same flag: the toy
** kind (one row, free payload, member author, its own derived state) and
** its deriver (below, registered by bec_main.c in that build) are then
** exercised end to end: the deriver's table is created, its verdict
** refuses an op, a stored op reaches its state, a removal that
** invalidates the op reaches it as a validity change, and bec_check runs
** its check.  Nothing else in ext/ names the toy kind.
*/
#include "becInt.h"
#include "bectest.h"

#include <unistd.h>

static char zKeyFile[64];

#ifdef BEC_TEST_TOY_KIND
/*
** The toy kind's deriver: its state is a table of the toy ops stored, each
** with the validity membership gave it; a toy op whose payload is "bad" is
** refused as malformed.  This is all a kind with derived state needs
** besides its row in BEC_KINDS and its line in bec_main.c.
*/
static int toy_schema(BecCtx *p, char **pzErr){
  return bec_ctx_exec(p, "CREATE TABLE IF NOT EXISTS toy_state("
                         "seq INTEGER PRIMARY KEY, payload BLOB, valid INTEGER)",
                      pzErr);
}

static int toy_admit(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                     BecVerdict *pV, char **pzErr){
  (void)p; (void)aPredSeq; (void)pzErr;
  if( pOp->nPayload==3 && memcmp(pOp->aPayload, "bad", 3)==0 ){
    bec_verdict_set(pV, BEC_MALFORMED, "malformed: a toy op may not say %s",
                    "bad");
  }
  return SQLITE_OK;
}

static int toy_stored(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "INSERT INTO toy_state(seq, payload, valid) "
                           "SELECT ?1, ?2, valid FROM bec_store_op WHERE seq=?1",
                        &pStmt);
  (void)pzErr;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  sqlite3_bind_blob(pStmt, 2, pOp->aPayload, (int)pOp->nPayload, SQLITE_STATIC);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

static int toy_validity(BecCtx *p, const int *aSeq, int n, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = SQLITE_OK, i;
  (void)pzErr;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    rc = bec_ctx_stmt(p, "UPDATE toy_state SET valid=(SELECT valid FROM "
                         "bec_store_op WHERE seq=?1) WHERE seq=?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, aSeq[i]);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  return rc;
}

static int toy_check(BecCtx *p, char **pzProblems, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT count(*) FROM toy_state t JOIN bec_store_op o"
                           " ON o.seq=t.seq WHERE o.valid<>t.valid", &pStmt);
  (void)pzErr;
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_int(pStmt, 0)>0 ){
    *pzProblems = sqlite3_mprintf("toy: %d ops with a stale validity",
                                  sqlite3_column_int(pStmt, 0));
  }
  return sqlite3_reset(pStmt);
}

const BecDeriver bec_toy_deriver = {
  "toy", BEC_DERIVE_TOY,
  toy_schema, toy_admit, toy_stored, toy_validity, toy_check, 0, 0
};
#endif

/* The payload length a rule asks for, or -1 if free. */
static int rule_len(int ePayload){
  switch( ePayload ){
    case BEC_PAYLOAD_NONCE:       return BEC_NONCE_BYTES;
    case BEC_PAYLOAD_TARGET:      return BEC_PUBKEY_BYTES;
    case BEC_PAYLOAD_TARGET_ROLE: return BEC_PUBKEY_BYTES+1;
  }
  return -1;
}

/* Encodes an unsigned op of any kind number (even an unknown one). */
static void make(BecBuf *pBuf, int kind, const u8 *aPay, int nPay){
  static const u8 aGroup[BEC_GROUP_TAG_BYTES] = {1,2,3,4,5,6,7,8};
  static const u8 aAuthor[BEC_PUBKEY_BYTES] = {9};
  static const u8 aPred[BEC_HASH_BYTES] = {7};
  int rc = SQLITE_OK;
  memset(pBuf, 0, sizeof(*pBuf));
  bec_op_encode_unsigned(pBuf, kind, kind==BEC_KIND_CREATE ? 0 : aGroup,
                         aAuthor, kind==BEC_KIND_CREATE ? 0 : 1, aPred,
                         aPay, nPay, &rc);
  CHECK(rc==SQLITE_OK);
}

static void test_table(void){
  int k, j;
  CHECK(bec_kind(0)==0);
  CHECK(bec_kind(BEC_KIND_MAX+1)==0);
  CHECK(bec_kind(-1)==0);
  CHECK(strcmp(bec_kind_name(0), "unknown")==0);
  CHECK(strcmp(bec_kind_name(BEC_KIND_MAX+1), "unknown")==0);
  CHECK(bec_kind_from_name("unknown")==0);
  CHECK(bec_kind_from_name(0)==0);
  for(k=1; k<=BEC_KIND_MAX; k++){
    const BecKind *pK = bec_kind(k);
    CHECK_MSG(pK!=0 && pK->kind==k, "kind %d", k);
    if( pK==0 ) continue;
    CHECK_MSG(strcmp(bec_kind_name(k), pK->zName)==0, "%s", pK->zName);
    CHECK_MSG(bec_kind_from_name(pK->zName)==k, "%s", pK->zName);
    for(j=1; j<k; j++) CHECK(strcmp(bec_kind(j)->zName, pK->zName)!=0);
    CHECK(pK->ePayload>=BEC_PAYLOAD_FREE && pK->ePayload<=BEC_PAYLOAD_ROOT);
    CHECK(pK->eAuthor>=BEC_AUTHOR_FOUNDER && pK->eAuthor<=BEC_AUTHOR_ROOT);
    /* Only the root op is authored by the root, and has its payload rule. */
    CHECK((pK->eAuthor==BEC_AUTHOR_ROOT)==(k==BEC_KIND_ROOT));
    CHECK((pK->ePayload==BEC_PAYLOAD_ROOT)==(k==BEC_KIND_ROOT));
#ifdef BEC_TEST_TOY_KIND
    CHECK(pK->eDerive>=BEC_DERIVE_NONE && pK->eDerive<=BEC_DERIVE_TOY);
#else
    CHECK(pK->eDerive>=BEC_DERIVE_NONE && pK->eDerive<=BEC_DERIVE_CHECKPOINT);
#endif
    CHECK(bec_kind_derives(k, pK->eDerive));
    /* Only create founds a group; the target rules are membership's. */
    CHECK((pK->eAuthor==BEC_AUTHOR_FOUNDER)==(k==BEC_KIND_CREATE));
    if( bec_kind_has_target(k) ){
      CHECK(pK->eDerive==BEC_DERIVE_MEMBERSHIP);
    }
    CHECK(bec_kind_needs_admin(k, 0)==(pK->eAuthor==BEC_AUTHOR_ADMIN
                                     || pK->eAuthor==BEC_AUTHOR_ADMIN_UNLESS_SELF));
    CHECK(bec_kind_needs_admin(k, 1)==(pK->eAuthor==BEC_AUTHOR_ADMIN));
  }
  /* The rows that encode today's membership and table rules. */
  CHECK(bec_kind_needs_admin(BEC_KIND_ADD, 0) && bec_kind_needs_admin(BEC_KIND_SCHEMA, 0));
  CHECK(bec_kind_needs_admin(BEC_KIND_REMOVE, 0) && !bec_kind_needs_admin(BEC_KIND_REMOVE, 1));
  CHECK(!bec_kind_needs_admin(BEC_KIND_APP, 0) && !bec_kind_needs_admin(BEC_KIND_WRITE, 0));
  CHECK(!bec_kind_needs_admin(BEC_KIND_CREATE, 0));
  CHECK(bec_kind_derives(BEC_KIND_SCHEMA, BEC_DERIVE_TABLES)
        && bec_kind_derives(BEC_KIND_WRITE, BEC_DERIVE_TABLES)
        && bec_kind_derives(BEC_KIND_APP, BEC_DERIVE_NONE));
}

static void test_codec(void){
  u8 aPay[64];
  BecBuf buf;
  BecOp op;
  char *zErr = 0;
  int k, n;
  for(k=1; k<=BEC_KIND_MAX; k++){
    const BecKind *pK = bec_kind(k);
    int nWant = rule_len(pK->ePayload);
    memset(aPay, 0x42, sizeof(aPay));
    aPay[BEC_PUBKEY_BYTES] = BEC_ROLE_MEMBER;
    n = nWant>=0 ? nWant : 5;
    if( pK->ePayload==BEC_PAYLOAD_ROOT ){
      /* version 1, action 2 (remove), a target, role 0, the rest free */
      aPay[0] = 1;
      aPay[1] = 2;
      aPay[2+BEC_PUBKEY_BYTES] = 0;
      n = 40;
    }
    make(&buf, k, aPay, n);
    CHECK_MSG(bec_op_decode(buf.a, buf.n, &op, &zErr)==SQLITE_OK, "%s: %s",
              pK->zName, zErr ? zErr : "");
    sqlite3_free(zErr); zErr = 0;
    CHECK(op.kind==k);
    CHECK((op.aTarget!=0)==(bec_kind_has_target(k)
                            || pK->ePayload==BEC_PAYLOAD_ROOT));
    CHECK(op.role==(pK->ePayload==BEC_PAYLOAD_TARGET_ROLE ? BEC_ROLE_MEMBER : 0));
    bec_buf_free(&buf);
    if( nWant>=0 ){
      /* One byte more or less is refused, naming the kind. */
      make(&buf, k, aPay, nWant+1);
      CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK
            && zErr && strstr(zErr, pK->zName));
      sqlite3_free(zErr); zErr = 0;
      bec_buf_free(&buf);
      make(&buf, k, aPay, nWant-1);
      CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
      sqlite3_free(zErr); zErr = 0;
      bec_buf_free(&buf);
    }
  }
  /* A kind past the table, and zero, are unknown to the codec. */
  make(&buf, BEC_KIND_MAX+1, aPay, 5);
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK
        && zErr && strstr(zErr, "unknown op kind"));
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf);
  make(&buf, 0, aPay, 5);
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK
        && zErr && strstr(zErr, "unknown op kind"));
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf);
}

/* Signs an op of kind with the key in zKeyFile, on the heads pOn (0: the
** current heads), and ingests it; returns the ingest result (*pzErr: why,
** caller frees). */
static int ingest_signed_on(sqlite3 *db, const char *zKey, int kind,
                            const u8 *aPay, int nPay, const BecBuf *pOn,
                            char **pzErr){
  sqlite3_stmt *pStmt = 0;
  u8 aSeed[BEC_SEED_BYTES], aPub[BEC_PUBKEY_BYTES], aSecret[BEC_SECKEY_BYTES];
  u8 aGroup[BEC_HASH_BYTES];
  BecBuf heads, op;
  int rc = SQLITE_OK;
  memset(&heads, 0, sizeof(heads));
  memset(&op, 0, sizeof(op));
  *pzErr = 0;
  if( bec_keyfile_read(zKey, aSeed, pzErr) ) return SQLITE_ERROR;
  sqlite3_prepare_v2(db, "SELECT value FROM bec_store_config WHERE key='group_id'",
                     -1, &pStmt, 0);
  if( sqlite3_step(pStmt)!=SQLITE_ROW ){
    sqlite3_finalize(pStmt);
    return SQLITE_ERROR;
  }
  memcpy(aGroup, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
  sqlite3_finalize(pStmt);
  bec_crypto_secret_from_seed(aSeed, aPub, aSecret);
  sqlite3_prepare_v2(db, "SELECT o.hash FROM bec_store_head h JOIN bec_store_op o"
                     " ON o.seq=h.seq ORDER BY o.hash", -1, &pStmt, 0);
  while( pOn==0 && sqlite3_step(pStmt)==SQLITE_ROW ){
    bec_buf_append(&heads, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES, &rc);
  }
  sqlite3_finalize(pStmt);
  if( pOn ) bec_buf_append(&heads, pOn->a, pOn->n, &rc);
  bec_op_encode_unsigned(&op, kind, aGroup, aPub, (int)(heads.n/BEC_HASH_BYTES),
                         heads.a, aPay, nPay, &rc);
  bec_op_sign(&op, aSecret, aGroup, &rc);
  sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &pStmt, 0);
  sqlite3_bind_blob(pStmt, 1, op.a, (int)op.n, SQLITE_STATIC);
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  if( rc ) *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  bec_buf_free(&heads);
  bec_buf_free(&op);
  return rc;
}

static int ingest_signed(sqlite3 *db, const char *zKey, int kind,
                         const u8 *aPay, int nPay, char **pzErr){
  return ingest_signed_on(db, zKey, kind, aPay, nPay, 0, pzErr);
}

/* The current heads (sorted hashes) into *pOut. */
static void heads_of(sqlite3 *db, BecBuf *pOut){
  sqlite3_stmt *pStmt = 0;
  int rc = SQLITE_OK;
  memset(pOut, 0, sizeof(*pOut));
  sqlite3_prepare_v2(db, "SELECT o.hash FROM bec_store_head h JOIN bec_store_op o"
                     " ON o.seq=h.seq ORDER BY o.hash", -1, &pStmt, 0);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    bec_buf_append(pOut, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES, &rc);
  }
  sqlite3_finalize(pStmt);
  CHECK(rc==SQLITE_OK);
}

/* Every stored op: its bec_ops kind is its row's name, `WHERE kind=?`
** finds it, and the DOT label starts with that name. */
static void check_names(sqlite3 *db, int *aSeen){
  sqlite3_stmt *pStmt = 0;
  /* One box per op: runs of an author's data ops (the root's signing
  ** ops are such runs) are not collapsed. */
  char *zDot = sqlite3_mprintf("%s", bt_q(db,
                               "SELECT bec_dot('{\"collapse\":false}')"));
  CHECK(zDot && strncmp(zDot, "digraph", 7)==0);
  CHECK(sqlite3_prepare_v2(db, "SELECT o.kind, lower(hex(o.hash)), v.kind,"
        " (SELECT count(*) FROM bec_ops w WHERE w.kind=v.kind"
        "   AND w.hash=lower(hex(o.hash)))"
        " FROM bec_store_op o JOIN bec_ops v ON v.hash=lower(hex(o.hash))",
        -1, &pStmt, 0)==SQLITE_OK);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    int k = sqlite3_column_int(pStmt, 0);
    const char *zHash = (const char*)sqlite3_column_text(pStmt, 1);
    const char *zName = (const char*)sqlite3_column_text(pStmt, 2);
    char *zLabel;
    CHECK_MSG(bec_kind(k)!=0, "stored kind %d", k);
    if( bec_kind(k)==0 ) continue;
    aSeen[k] = 1;
    CHECK_MSG(zName && strcmp(zName, bec_kind(k)->zName)==0, "kind %d shown as %s",
              k, zName ? zName : "NULL");
    CHECK_MSG(sqlite3_column_int(pStmt, 3)==1, "WHERE kind='%s'", bec_kind(k)->zName);
    zLabel = sqlite3_mprintf("[label=\"%s %.8s\\n", bec_kind(k)->zName, zHash);
    CHECK_MSG(zDot && zLabel && strstr(zDot, zLabel), "DOT has %s", zLabel);
    sqlite3_free(zLabel);
  }
  CHECK(sqlite3_finalize(pStmt)==SQLITE_OK);
  sqlite3_free(zDot);
}

/* The root's kinds: a 2-of-2 key generation between db's key and a second
** replica's (root-open, two deals, two acks), after which the root is
** active on both. */
static void make_root(sqlite3 *db){
  sqlite3 *db2 = 0;
  char zPk[65], zSql[400];
  CHECK(sqlite3_open(":memory:", &db2)==SQLITE_OK);
  snprintf(zPk, sizeof(zPk), "%s", bt_q(db2, "SELECT bec_keygen()"));
  {
    sqlite3_stmt *pStmt = 0;
    CHECK(sqlite3_prepare_v2(db2, "SELECT bec_join(?1)", -1, &pStmt, 0)==SQLITE_OK);
    sqlite3_bind_text(pStmt, 1, bt_q(db, "SELECT hash FROM bec_ops WHERE kind='create'"),
                      -1, SQLITE_TRANSIENT);
    sqlite3_step(pStmt);
    CHECK(sqlite3_finalize(pStmt)==SQLITE_OK);
  }
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')", zPk);
  CHECK(strncmp(bt_q(db, zSql), "ERROR", 5)!=0);
  bt_copy_ops(db, db2, 0, 0);
  snprintf(zSql, sizeof(zSql),
           "SELECT bec_root_open(2, json_array(bec_pubkey(), '%s'))", zPk);
  CHECK(strlen(bt_q(db, zSql))==64);
  bt_copy_ops(db, db2, 0, 0);
  CHECK(strcmp(bt_q(db, "SELECT bec_root_step()"), "1")==0);
  CHECK(strcmp(bt_q(db2, "SELECT bec_root_step()"), "1")==0);
  bt_copy_ops(db2, db, 0, 0);
  bt_copy_ops(db, db2, 0, 0);
  CHECK(strcmp(bt_q(db, "SELECT bec_root_step()"), "1")==0);
  CHECK(strcmp(bt_q(db2, "SELECT bec_root_step()"), "1")==0);
  bt_copy_ops(db2, db, 0, 0);
  CHECK(strcmp(bt_q(db, "SELECT state FROM bec_root"), "active")==0);
  /* Both holders sign a request: a session, two shares and the root op. */
  {
    char zReq[65];
    int i;
    snprintf(zSql, sizeof(zSql),
             "SELECT bec_root_propose('role', '%s', 'member')", zPk);
    snprintf(zReq, sizeof(zReq), "%s", bt_q(db, zSql));
    CHECK(strlen(zReq)==64);
    bt_copy_ops(db, db2, 0, 0);
    snprintf(zSql, sizeof(zSql), "SELECT bec_root_approve('%s')", zReq);
    CHECK(strcmp(bt_q(db2, zSql), "2")==0);
    for(i=0; i<3; i++){
      bt_copy_ops(db2, db, 0, 0);
      bt_copy_ops(db, db2, 0, 0);
      CHECK(strncmp(bt_q(db, "SELECT bec_root_step()"), "ERROR", 5)!=0);
      CHECK(strncmp(bt_q(db2, "SELECT bec_root_step()"), "ERROR", 5)!=0);
    }
    bt_copy_ops(db2, db, 0, 0);
    CHECK(strcmp(bt_q(db, "SELECT state FROM bec_root_requests"), "done")==0);
  }
  CHECK(sqlite3_close(db2)==SQLITE_OK);
}

static void test_db(void){
  sqlite3 *db = 0;
  int aSeen[BEC_KIND_MAX+1];
  char zSql[256];
  char zOther[64];
  char *zErr = 0;
  int k, rc;
  memset(aSeen, 0, sizeof(aSeen));
  snprintf(zKeyFile, sizeof(zKeyFile), "/tmp/bec_test_kind_%d.key", (int)getpid());
  snprintf(zOther, sizeof(zOther), "/tmp/bec_test_kind_%d.other.key", (int)getpid());
  unlink(zKeyFile);
  unlink(zOther);
  CHECK(sqlite3_open(":memory:", &db)==SQLITE_OK);
  /* An outsider's key: written to its own file by a second connection. */
  {
    sqlite3 *db2 = 0;
    CHECK(sqlite3_open(":memory:", &db2)==SQLITE_OK);
    snprintf(zSql, sizeof(zSql), "SELECT bec_key_file('%s')", zOther);
    CHECK(sqlite3_exec(db2, zSql, 0, 0, 0)==SQLITE_OK);
    CHECK(strncmp(bt_q(db2, "SELECT bec_keygen()"), "ERROR", 5)!=0);
    CHECK(sqlite3_close(db2)==SQLITE_OK);
  }
  snprintf(zSql, sizeof(zSql), "SELECT bec_key_file('%s')", zKeyFile);
  CHECK(sqlite3_exec(db, zSql, 0, 0, 0)==SQLITE_OK);
  rc = sqlite3_exec(db,
      "SELECT bec_keygen(); SELECT bec_create_group();"
      "SELECT bec_add_member('" "00112233445566778899aabbccddeeff"
      "00112233445566778899aabbccddeeff', 'member');"
      "SELECT bec_sign('hello');"
      "SELECT bec_set_name('n');"
      "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
      "INSERT INTO t VALUES(1, 'one');"
      "SELECT bec_remove_member('" "00112233445566778899aabbccddeeff"
      "00112233445566778899aabbccddeeff');"
      /* End-to-end encryption: encrypt, rekey, and the keyshare that gives
      ** a newcomer the current seed. */
      "SELECT bec_encrypt_group(); SELECT bec_rekey();"
      "SELECT bec_add_member('ea4a6c63e29c520abef5507b132ec5f9"
      "954776aebebe7b92421eea691446d22c', 'member');", 0, 0, &zErr);
  CHECK_MSG(rc==SQLITE_OK, "%s", zErr ? zErr : "");
  sqlite3_free(zErr); zErr = 0;
#ifdef BEC_TEST_TOY_KIND
  /* The toy kind: its row in BEC_KINDS and its deriver.  xSchema made the
  ** deriver's table with the DAG's. */
  CHECK(strcmp(bt_q(db, "SELECT count(*) FROM toy_state"), "0")==0);
  /* A member's toy op is stored, valid, and reaches the deriver (xStored);
  ** an outsider's is refused as unauthorized (membership's xAdmit). */
  rc = ingest_signed(db, zKeyFile, BEC_KIND_TOY, (const u8*)"toy!", 4, &zErr);
  CHECK_MSG(rc==SQLITE_OK, "%s", zErr ? zErr : "");
  sqlite3_free(zErr); zErr = 0;
  CHECK(strcmp(bt_q(db, "SELECT count(*) FROM bec_ops WHERE kind='toy' AND valid"
                     " AND payload=CAST('toy!' AS BLOB)"), "1")==0);
  CHECK(strcmp(bt_q(db, "SELECT count(*) FROM toy_state WHERE valid=1"
                     " AND payload=CAST('toy!' AS BLOB)"), "1")==0);
  rc = ingest_signed(db, zOther, BEC_KIND_TOY, (const u8*)"no", 2, &zErr);
  CHECK_MSG(rc!=SQLITE_OK && zErr && strstr(zErr, "unauthorized: toy needs a member"),
            "%s", zErr ? zErr : "");
  sqlite3_free(zErr); zErr = 0;
  /* The toy deriver's own verdict refuses a member's "bad" toy op: the
  ** reason is its, the op is logged in bec_rejected and stored nowhere. */
  rc = ingest_signed(db, zKeyFile, BEC_KIND_TOY, (const u8*)"bad", 3, &zErr);
  CHECK_MSG(rc!=SQLITE_OK && zErr && strstr(zErr, "malformed: a toy op may not say bad"),
            "%s", zErr ? zErr : "");
  sqlite3_free(zErr); zErr = 0;
  CHECK(strcmp(bt_q(db, "SELECT count(*) FROM bec_rejected WHERE reason LIKE "
                     "'%toy op may not say bad%'"), "1")==0);
  CHECK(strcmp(bt_q(db, "SELECT count(*) FROM bec_ops WHERE kind='toy'"), "1")==0);
  CHECK(strcmp(bt_q(db, "SELECT count(*) FROM toy_state"), "1")==0);
  /* A validity change reaches it (xValidity): the outsider becomes a
  ** member, writes a toy op, and is removed by an op concurrent with it,
  ** which invalidates the toy op. */
  {
    BecBuf h;
    u8 aPay[BEC_PUBKEY_BYTES+1];
    u8 aSeed[BEC_SEED_BYTES], aSecret[BEC_SECKEY_BYTES];
    CHECK(bec_keyfile_read(zOther, aSeed, &zErr)==SQLITE_OK);
    bec_crypto_secret_from_seed(aSeed, aPay, aSecret);
    aPay[BEC_PUBKEY_BYTES] = BEC_ROLE_MEMBER;
    rc = ingest_signed(db, zKeyFile, BEC_KIND_ADD, aPay, BEC_PUBKEY_BYTES+1, &zErr);
    CHECK_MSG(rc==SQLITE_OK, "%s", zErr ? zErr : "");
    sqlite3_free(zErr); zErr = 0;
    heads_of(db, &h);
    rc = ingest_signed(db, zOther, BEC_KIND_TOY, (const u8*)"mine", 4, &zErr);
    CHECK_MSG(rc==SQLITE_OK, "%s", zErr ? zErr : "");
    sqlite3_free(zErr); zErr = 0;
    CHECK(strcmp(bt_q(db, "SELECT valid FROM toy_state WHERE "
                       "payload=CAST('mine' AS BLOB)"), "1")==0);
    rc = ingest_signed_on(db, zKeyFile, BEC_KIND_REMOVE, aPay, BEC_PUBKEY_BYTES,
                          &h, &zErr);
    CHECK_MSG(rc==SQLITE_OK, "%s", zErr ? zErr : "");
    sqlite3_free(zErr); zErr = 0;
    bec_buf_free(&h);
    CHECK(strcmp(bt_q(db, "SELECT valid FROM bec_ops WHERE kind='toy' AND "
                       "payload=CAST('mine' AS BLOB)"), "0")==0);
    CHECK(strcmp(bt_q(db, "SELECT valid FROM toy_state WHERE "
                       "payload=CAST('mine' AS BLOB)"), "0")==0);
  }
  /* xCheck: bec_check() reports a deriver's stale state. */
  CHECK(strcmp(bt_q(db, "SELECT bec_check()"), "ok")==0);
  CHECK(sqlite3_exec(db, "UPDATE toy_state SET valid=1", 0, 0, 0)==SQLITE_OK);
  CHECK(strstr(bt_q(db, "SELECT bec_check()"), "toy: 1 ops with a stale validity")!=0);
  CHECK(sqlite3_exec(db, "UPDATE toy_state SET valid=0 WHERE "
                         "payload=CAST('mine' AS BLOB)", 0, 0, 0)==SQLITE_OK);
#else
  (void)ingest_signed;
  (void)ingest_signed_on;
  (void)heads_of;
#endif
  make_root(db);
  /* The checkpoint kinds: k recorded in the group (config), a checkpoint
  ** (sealed at once by its author's claim, k being 1), a lying attest
  ** signed by hand with this replica's own key, and the dispute that this
  ** replica signs as it ingests the lie. */
  CHECK(strcmp(bt_q(db, "SELECT bec_config('checkpoint_k', 1)"), "1")==0);
  {
    u8 aPay[1+2*BEC_HASH_BYTES];
    aPay[0] = BEC_CKPT_VERSION;
    CHECK(bec_hex_decode(bt_q(db, "SELECT bec_checkpoint()"), 64, aPay+1,
                         BEC_HASH_BYTES)==BEC_HASH_BYTES);
    CHECK(strcmp(bt_q(db, "SELECT sealed FROM bec_checkpoints"), "1")==0);
    memset(aPay+1+BEC_HASH_BYTES, 0x5a, BEC_HASH_BYTES);
    rc = ingest_signed(db, zKeyFile, BEC_KIND_ATTEST, aPay, sizeof(aPay), &zErr);
    CHECK_MSG(rc==SQLITE_OK, "%s", zErr ? zErr : "");
    sqlite3_free(zErr); zErr = 0;
    CHECK(strcmp(bt_q(db, "SELECT count(*) FROM bec_ops WHERE kind='dispute'"), "1")==0);
    CHECK(strcmp(bt_q(db, "SELECT verified FROM bec_disputes"), "1")==0);
  }
  check_names(db, aSeen);
  for(k=1; k<=BEC_KIND_MAX; k++){
    CHECK_MSG(aSeen[k], "no %s op was stored", bec_kind_name(k));
  }
  CHECK(strcmp(bt_q(db, "PRAGMA integrity_check"), "ok")==0);
  CHECK(strcmp(bt_q(db, "SELECT bec_check()"), "ok")==0);
  CHECK(sqlite3_close(db)==SQLITE_OK);
  unlink(zKeyFile);
  unlink(zOther);
}

/* docs/wire-format.md's table of kinds ("### The kinds") has one row per
** kind of BEC_KINDS (the toy kind aside), with its number, name, author
** rule and derived state in the words of the table's legend. */
static void test_docs(void){
  static const char *azAuthor[] = {
    "the founder", "a member", "an admin", "an admin, or a member removing itself",
    "the root"
  };
  static const char *azDerive[] = { "none", "membership", "tables", "root",
                                    "names", "e2ee",
                                    "checkpoints", "toy" };
  char zPath[512], zLine[1024];
  FILE *f;
  int bIn = 0, nRow = 0, nWant = 0, k;
  snprintf(zPath, sizeof(zPath), "%s/docs/wire-format.md", bt_root());
  f = fopen(zPath, "r");
  CHECK_MSG(f!=0, "cannot open %s (set BEC_ROOT)", zPath);
  if( f==0 ) return;
  while( fgets(zLine, sizeof(zLine), f) ){
    char zName[32], zCell[4][512];
    int num = 0, i;
    char *z, *zEnd;
    if( strncmp(zLine, "### ", 4)==0 ){
      bIn = strcmp(zLine, "### The kinds\n")==0;
      continue;
    }
    if( !bIn || sscanf(zLine, "| `%31[a-z-]` (%d) |", zName, &num)!=2 ) continue;
    /* The cells after the first: payload rule, author, derived state. */
    z = strchr(zLine+1, '|');
    for(i=0; i<3 && z; i++){
      zEnd = strchr(z+1, '|');
      if( zEnd==0 ) break;
      snprintf(zCell[i], sizeof(zCell[i]), "%.*s", (int)(zEnd-z-3), z+2);   /* no spaces around */
      z = zEnd;
    }
    nRow++;
    CHECK_MSG(i==3 && bec_kind(num)!=0, "docs row %s (%d)", zName, num);
    if( i!=3 || bec_kind(num)==0 ) continue;
    CHECK_MSG(strcmp(bec_kind(num)->zName, zName)==0, "docs: %d is %s", num, zName);
    {
      /* The legend's words, then the end of the cell, ':' or ' (...)'. */
      const char *zWant = azAuthor[bec_kind(num)->eAuthor];
      size_t n = strlen(zWant);
      CHECK_MSG(strncmp(zCell[1], zWant, n)==0 && strchr(": ", zCell[1][n]),
                "docs: %s author '%s'", zName, zCell[1]);
    }
    CHECK_MSG(strncmp(zCell[2], azDerive[bec_kind(num)->eDerive],
                      strlen(azDerive[bec_kind(num)->eDerive]))==0,
              "docs: %s derived '%s'", zName, zCell[2]);
  }
  fclose(f);
  for(k=1; k<=BEC_KIND_MAX; k++){
#ifdef BEC_TEST_TOY_KIND
    if( k==BEC_KIND_TOY ) continue;
#endif
    nWant++;
  }
  CHECK_MSG(nRow==nWant, "docs list %d kinds, the table %d", nRow, nWant);
}

int main(void){
  CHECK(sqlite3_auto_extension((void(*)(void))sqlite3_bec_init)==SQLITE_OK);
  test_table();
  test_codec();
  test_db();
  test_docs();
  return bt_done();
}
