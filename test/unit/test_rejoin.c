/*
** test_rejoin.c - an installed snapshot's replica meets an op concurrent
** with K, and falls back to a full join (docs/compaction.md "An op
** concurrent with the installed checkpoint"; bec_dag.c, the cut section;
** bec_rejoin.c).
**
** A replica A creates a group, adds B and D, creates a bec table t and
** writes rows (ops 1-5); D, holding 1-5, updates row 1 (Z, naming A's op
** 5); B, holding 1-3, signs Y (naming the add of D, a chain op), then,
** holding 1-5 and Y, inserts row 3 (X); A goes on: row 2 (6), signs up to
** K (11), row 1 again (12, concurrent with Z), a sign (13).  Y and Z are
** concurrent with K.  A joiner is built as an install leaves it (as
** test_cut.c does): A's ops 1-4 in full (the create, the adds, the
** table's create), stand-ins for 5-10, K in full, the cut closed at K,
** then A's 12 and 13, which descend from K.
**
** Checked: ops that descend from K are stored as before; an op whose
** predecessors are all in the cut (Y) is not stored against the cut: the
** joiner falls back.  After it the database holds no stand-in, no cut table,
** no 'cut_top', no table t (it comes back with its create op), every body it
** had stored is stored again (those whose past it holds) or waits in the
** pending area outside every bound; an outsider's op naming a stand-in
** waits without starting anything; a copy of a waiting op stays pending;
** the state says it fell back and why.  Then the full history from A
** (which holds X, Y, Z too), ingested in seq order, in reverse order, or
** by sync (the session in which it falls back goes on), gives each joiner
** exactly A's validity by id, members, rows and conflicts, byte for byte,
** and bec_check() passes.
** A joiner in an encrypted group falls back the same way.  (The one
** refusal left, a local write not signed yet, is test_rejoin.py
** test_encrypted's.)
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>
#include <unistd.h>

#define NA 13                    /* A's ops */
#define K_SEQ 11

static char zDir[] = "/tmp/bec-test-rejoin-XXXXXX";

static void ok(sqlite3 *db, const char *zSql){
  const char *z = bt_q(db, zSql);
  CHECK_MSG(strncmp(z, "ERROR", 5)!=0, "%s: %s", zSql, z);
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
  u8 *aBody = bt_op_of(dbFrom, iSeq, aId, &iDepth, &nBody);
  CHECK_MSG(ingest_body(dbTo, aBody, nBody)==SQLITE_OK, "op %d", iSeq);
  free(aBody);
}

static int count_id(sqlite3 *db, const char *zTable, const u8 *aId){
  char zSql[200], zHex[2*BEC_HASH_BYTES+1];
  bec_hex_encode(aId, BEC_HASH_BYTES, zHex);
  snprintf(zSql, sizeof(zSql), "SELECT count(*) FROM %s WHERE hash=x'%s'",
           zTable, zHex);
  return bt_int(db, zSql);
}
#define is_stored(db, a)  count_id(db, "bec_store_op", a)
#define is_pending(db, a) count_id(db, "bec_store_pending", a)

/* A new database of the group of dbA with a key; its public key (hex)
** in zPub. */
static sqlite3 *member_db(const char *zName, sqlite3 *dbA, char *zPub){
  sqlite3 *db = 0;
  char zSql[200], zPath[80];
  snprintf(zPath, sizeof(zPath), "%s/%s", zDir, zName);
  CHECK(sqlite3_open(zPath, &db)==SQLITE_OK);
  ok(db, "SELECT bec_keygen()");
  if( dbA ){
    snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')",
             bt_q(dbA, "SELECT bec_group_id()"));
    ok(db, zSql);
  }
  if( zPub ) snprintf(zPub, 65, "%s", bt_q(db, "SELECT bec_pubkey()"));
  return db;
}

/* What must be equal on every replica that holds the same ops: every
** op's validity by id, the members, t's rows and conflicts (malloc'd). */
static char *state_of(sqlite3 *db){
  static const char *azQ[] = {
    "SELECT group_concat(h||':'||valid, ' ') FROM (SELECT hex(hash) h, valid"
    " FROM bec_store_op ORDER BY hash)",
    "SELECT group_concat(pubkey||':'||role||':'||rank||':'||added_in, ' ') FROM"
    " (SELECT * FROM bec_members ORDER BY pubkey)",
    "SELECT group_concat(id||':'||quote(v), ' ') FROM (SELECT * FROM t ORDER BY id)",
    "SELECT group_concat(pk||':'||\"column\"||':'||quote(value)||':'||op, ' ') FROM"
    " (SELECT * FROM bec_conflicts ORDER BY pk, \"column\", op)",
  };
  size_t n = 1, i;
  char *z = malloc(1);
  z[0] = 0;
  for(i=0; i<sizeof(azQ)/sizeof(azQ[0]); i++){
    const char *zPart = bt_q(db, azQ[i]);
    z = realloc(z, n + strlen(zPart) + 2);
    strcat(z, zPart);
    strcat(z, "\n");
    n += strlen(zPart) + 1;
  }
  return z;
}

/* A session between joiner dbC and provider dbA ('a' for C, 'c' for A):
** one offers (C if bCOffers), and both apply the other's messages until
** one has nothing more to say.  The number of messages, or -1 on an
** error. */
static int session_by(sqlite3 *dbC, sqlite3 *dbA, int bCOffers){
  sqlite3_stmt *pMsg = 0;
  sqlite3 *aDb[2];
  const char *azPeer[2];
  int n = 0, i = 0;
  aDb[0] = bCOffers ? dbA : dbC;
  aDb[1] = bCOffers ? dbC : dbA;
  azPeer[0] = bCOffers ? "c" : "a";
  azPeer[1] = bCOffers ? "a" : "c";
  CHECK(sqlite3_prepare_v2(aDb[1], bCOffers ? "SELECT bec_sync_offer('a')"
                           : "SELECT bec_sync_offer('c')", -1, &pMsg, 0)==SQLITE_OK);
  if( sqlite3_step(pMsg)!=SQLITE_ROW ){
    printf("offer: %s\n", sqlite3_errmsg(aDb[1]));
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
#define session(dbC, dbA) session_by(dbC, dbA, 1)

/* A's history (see the header); the bodies of Y, Z, X. */
typedef struct History History;
struct History {
  sqlite3 *dbA;
  u8 aIds[NA+1][BEC_HASH_BYTES];
  int aDepth[NA+1];
  u8 aY[BEC_HASH_BYTES], aZ[BEC_HASH_BYTES], aX[BEC_HASH_BYTES];
  u8 *aBodyY, *aBodyZ, *aBodyX;
  int nY, nZ, nX;
};

static void history(History *h, const char *zTag, int bEncrypt){
  char zPubB[65], zPubD[65], zSql[200], zName[40];
  sqlite3 *dbB, *dbD;
  int i, iDepth = 0, nBody = 0;
  memset(h, 0, sizeof(*h));
  snprintf(zName, sizeof(zName), "%s-a.db", zTag);
  h->dbA = member_db(zName, 0, 0);
  ok(h->dbA, "SELECT bec_create_group()");
  snprintf(zName, sizeof(zName), "%s-b.db", zTag);
  dbB = member_db(zName, h->dbA, zPubB);
  snprintf(zName, sizeof(zName), "%s-d.db", zTag);
  dbD = member_db(zName, h->dbA, zPubD);
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')", zPubB);
  ok(h->dbA, zSql);
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')", zPubD);
  ok(h->dbA, zSql);
  if( bEncrypt ){
    ok(h->dbA, "SELECT bec_encrypt_group()");          /* (4: the encrypt op) */
  }else{
    ok(h->dbA, "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT)");
  }
  if( bEncrypt ) ok(h->dbA, "SELECT bec_sign(x'05')");
  else ok(h->dbA, "INSERT INTO t VALUES(1, 'a'), (2, 'a')");
  CHECK(bt_int(h->dbA, "SELECT max(seq) FROM bec_store_op")==5);
  /* B holds 1-3: Y; D holds 1-5: Z; B holds 1-5 and Y: X */
  for(i=1; i<=3; i++) ingest(h->dbA, dbB, i);
  ok(dbB, "SELECT bec_sign(x'b1')");
  for(i=1; i<=5; i++) ingest(h->dbA, dbD, i);
  if( bEncrypt ) ok(dbD, "SELECT bec_sign(x'd1')");
  else ok(dbD, "UPDATE t SET v='d' WHERE id=1");
  for(i=4; i<=5; i++) ingest(h->dbA, dbB, i);
  if( bEncrypt ) ok(dbB, "SELECT bec_sign(x'b2')");
  else ok(dbB, "INSERT INTO t VALUES(3, 'b')");
  h->aBodyY = bt_op_of(dbB, 4, h->aY, &iDepth, &h->nY);
  h->aBodyX = bt_op_of(dbB, 7, h->aX, &iDepth, &h->nX);
  h->aBodyZ = bt_op_of(dbD, 6, h->aZ, &iDepth, &h->nZ);
  /* A goes on: 6, signs to K (11), 12 (row 1 again), 13 */
  if( bEncrypt ) ok(h->dbA, "SELECT bec_sign(x'06')");
  else ok(h->dbA, "UPDATE t SET v='a2' WHERE id=2");
  for(i=7; i<=K_SEQ; i++) ok(h->dbA, "SELECT bec_sign(randomblob(8))");
  if( bEncrypt ) ok(h->dbA, "SELECT bec_sign(x'0c')");
  else ok(h->dbA, "UPDATE t SET v='a3' WHERE id=1");
  ok(h->dbA, "SELECT bec_sign(randomblob(8))");
  CHECK(bt_int(h->dbA, "SELECT max(seq) FROM bec_store_op")==NA);
  for(i=1; i<=NA; i++){
    free(bt_op_of(h->dbA, i, h->aIds[i], &h->aDepth[i], &nBody));
  }
  sqlite3_close(dbB);
  sqlite3_close(dbD);
}

static void history_free(History *h){
  free(h->aBodyY);
  free(h->aBodyZ);
  free(h->aBodyX);
  sqlite3_close(h->dbA);
}

/* A joiner as an install leaves it (see the header): returns its
** connection; ops are ingested through it. */
static sqlite3 *joiner(History *h, const char *zName){
  sqlite3 *db = 0, *db2 = 0;
  BecCtx *pC = 0;
  char *zErr = 0;
  char zPath[80];
  int i, iSeq = 0;
  db = member_db(zName, h->dbA, 0);
  snprintf(zPath, sizeof(zPath), "%s/%s", zDir, zName);
  for(i=1; i<=4; i++) ingest(h->dbA, db, i);
  CHECK(bec_ctx_new(db, &pC)==SQLITE_OK);
  if( pC ) pC->xForget = bec_dag_forget;        /* as bec_main.c sets it */
  CHECK(bec_dag_cut_begin(pC, &zErr)==SQLITE_OK);
  for(i=5; i<K_SEQ; i++){
    CHECK(bec_dag_cut_prove(pC, h->aIds[i], h->aDepth[i], 1, &iSeq)==SQLITE_OK
          && iSeq==i);
  }
  /* (stand-ins written by another context: a new connection ingests, as
  ** in test_cut.c; the install writes them in its own transaction) */
  CHECK(sqlite3_open(zPath, &db2)==SQLITE_OK);
  ingest(h->dbA, db2, K_SEQ);
  CHECK(bt_int(db2, "SELECT max(seq) FROM bec_store_op")==K_SEQ);
  CHECK(bec_dag_cut_close(pC, K_SEQ, &zErr)==SQLITE_OK);
  sqlite3_free(zErr);
  bec_ctx_unref(pC);
  sqlite3_close(db2);
  sqlite3_close(db);
  CHECK(sqlite3_open(zPath, &db)==SQLITE_OK);
  ingest(h->dbA, db, 12);
  ingest(h->dbA, db, 13);
  CHECK(strcmp(bt_q(db, "SELECT group_concat(seq) FROM"
                   " (SELECT seq FROM bec_store_op ORDER BY seq)"),
               "1,2,3,4,11,12,13")==0);
  CHECK(bt_int(db, "SELECT count(*) FROM bec_store_cut")==6);
  CHECK(bt_int(db, "SELECT value FROM bec_store_config WHERE key='cut_top'")==K_SEQ);
  return db;
}

/* Makes the joiner meet Y, and checks what the fall-back leaves. */
static void meet_y(History *h, sqlite3 *db){
  u8 aId[BEC_HASH_BYTES];
  int i, iFeed = bt_int(db, "SELECT max(cursor) FROM bec_changes");
  CHECK(iFeed>0);                         /* (the writes after K) */
  CHECK(ingest_body(db, h->aBodyY, h->nY)==SQLITE_OK);
  /* the change feed: one trim marker where its last line was, so an app
  ** reading from any earlier cursor learns to read the tables again */
  {
    char zSql[200];
    snprintf(zSql, sizeof(zSql), "SELECT count(*) FROM bec_changes"
             " WHERE cursor<=%d", iFeed);
    CHECK(bt_int(db, zSql)==1);
    CHECK(bt_int(db, "SELECT max(cursor) FROM bec_changes"
                 " WHERE \"table\" IS NULL")==iFeed);
  }
  /* no cut, no stand-in, no 'cut_top', no snapshot wish */
  CHECK(bt_int(db, "SELECT count(*) FROM sqlite_schema"
               " WHERE name='bec_store_cut'")==0);
  CHECK(strcmp(bt_q(db, "SELECT value FROM bec_store_config"
                    " WHERE key='cut_top'"), "")==0);
  CHECK(bt_int(db, "SELECT value FROM bec_store_config"
               " WHERE key='join_snapshot'")==0);
  /* what it holds the past of is stored again (the create, the adds, the
  ** table's create, and Y, whose one predecessor is the add of D); the
  ** rest of what it had stored waits, outside every bound */
  for(i=1; i<=4; i++) CHECK_MSG(is_stored(db, h->aIds[i]), "op %d", i);
  CHECK(is_stored(db, h->aY));
  CHECK(bt_int(db, "SELECT count(*) FROM bec_store_op")==5);
  for(i=K_SEQ; i<=NA; i++){
    CHECK_MSG(is_pending(db, h->aIds[i]), "op %d", i);
  }
  CHECK(bt_int(db, "SELECT count(*) FROM bec_store_pending"
               " WHERE author IS NULL")==3);
  /* the table comes back with its create op (4), without rows yet */
  CHECK(bt_int(db, "SELECT count(*) FROM t")==0);
  CHECK(bt_int(db, "SELECT count(*) FROM bec_members")==3);
  /* the state says it fell back, and for which op */
  {
    BecCtx *p = 0;
    int bSet = 0;
    CHECK(bec_ctx_new(db, &p)==SQLITE_OK);
    CHECK(bec_dag_rejoin_op(p, aId, &bSet)==SQLITE_OK && bSet==2
          && memcmp(aId, h->aY, BEC_HASH_BYTES)==0);
    bec_ctx_unref(p);
  }
  CHECK_MSG(strcmp(bt_q(db, "SELECT bec_check()"), "ok")==0, "%s",
            bt_q(db, "SELECT bec_check()"));
}

int main(void){
  History h, he;
  sqlite3 *dbC1, *dbC2, *dbC3, *dbE;
  char *zA, *z;
  int i;

  bec_crypto_init();
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( mkdtemp(zDir)==0 ) return 1;
  history(&h, "h", 0);

  /* Before Y: ops after K are stored, nothing is reported; X (naming Y,
  ** which the joiner lacks) waits as any op waits; an outsider's op naming
  ** a stand-in waits and starts nothing. */
  dbC1 = joiner(&h, "c1.db");
  CHECK(ingest_body(dbC1, h.aBodyX, h.nX)==SQLITE_OK);
  CHECK(is_pending(dbC1, h.aX) && !is_stored(dbC1, h.aX));
  {
    u8 aPub[BEC_PUBKEY_BYTES], aSec[BEC_SECKEY_BYTES], aGroup[BEC_HASH_BYTES];
    BecBuf op;
    int rc = SQLITE_OK;
    memset(&op, 0, sizeof(op));
    bec_crypto_keypair(aPub, aSec);
    CHECK(bec_hex_decode(bt_q(h.dbA, "SELECT bec_group_id()"), 64, aGroup, 32)==32);
    bec_op_encode_unsigned(&op, BEC_KIND_APP, aGroup, &aSec[BEC_SEED_BYTES], 1,
                           h.aIds[7], (const u8*)"outsider", 8, &rc);
    bec_op_sign(&op, aSec, aGroup, &rc);
    CHECK(rc==SQLITE_OK);
    CHECK(ingest_body(dbC1, op.a, (int)op.n)==SQLITE_OK);
    bec_buf_free(&op);
  }
  CHECK(bt_int(dbC1, "SELECT count(*) FROM bec_store_pending")==2);
  CHECK(bt_int(dbC1, "SELECT count(*) FROM bec_store_cut")==6);
  CHECK(bt_int(dbC1, "SELECT count(*) FROM bec_store_config"
               " WHERE key='rejoin_op'")==0);
  CHECK(bt_int(dbC1, "SELECT count(*) FROM bec_store_op")==7);

  /* Y: the fall-back. */
  meet_y(&h, dbC1);
  /* a copy of a waiting op stays pending */
  CHECK(ingest_body(dbC1, h.aBodyX, h.nX)==SQLITE_OK);
  CHECK(is_pending(dbC1, h.aX) && !is_stored(dbC1, h.aX));

  /* A holds X, Y, Z; then its whole history in seq order. */
  CHECK(ingest_body(h.dbA, h.aBodyZ, h.nZ)==SQLITE_OK);
  CHECK(ingest_body(h.dbA, h.aBodyY, h.nY)==SQLITE_OK);
  CHECK(ingest_body(h.dbA, h.aBodyX, h.nX)==SQLITE_OK);
  CHECK(bt_int(h.dbA, "SELECT count(*) FROM bec_store_op")==NA+3);
  CHECK(bt_int(h.dbA, "SELECT count(*) FROM bec_conflicts")>0);
  zA = state_of(h.dbA);
  for(i=1; i<=NA+3; i++) ingest(h.dbA, dbC1, i);
  z = state_of(dbC1);
  CHECK_MSG(strcmp(z, zA)==0, "in order:\n%s\nA:\n%s", z, zA);
  free(z);
  /* and the feed goes on after the marker, with the rows coming back */
  CHECK(bt_int(dbC1, "SELECT min(cursor) FROM bec_changes"
               " WHERE \"table\"='t'")>bt_int(dbC1, "SELECT min(cursor)"
               " FROM bec_changes"));
  /* the outsider's op was judged once op 7 came: refused */
  CHECK(bt_int(dbC1, "SELECT count(*) FROM bec_store_pending")==0);
  CHECK(bt_int(dbC1, "SELECT count(*) FROM bec_rejected")==1);
  CHECK_MSG(strcmp(bt_q(dbC1, "SELECT bec_check()"), "ok")==0, "%s",
            bt_q(dbC1, "SELECT bec_check()"));

  /* Another joiner: Y, then the history in reverse order. */
  dbC2 = joiner(&h, "c2.db");
  meet_y(&h, dbC2);
  for(i=NA+3; i>=1; i--) ingest(h.dbA, dbC2, i);
  z = state_of(dbC2);
  CHECK_MSG(strcmp(z, zA)==0, "reversed:\n%s\nA:\n%s", z, zA);
  free(z);
  CHECK(bt_int(dbC2, "SELECT count(*) FROM bec_store_pending")==0);
  CHECK_MSG(strcmp(bt_q(dbC2, "SELECT bec_check()"), "ok")==0, "%s",
            bt_q(dbC2, "SELECT bec_check()"));

  /* A third: it meets Z and Y in a sync session with A and falls back
  ** while it stores them; the session goes on as a full sync (its reply is
  ** a new offer, bec_sync.c session_restart: the old seqs are forgotten
  ** on both sides) and ends in sync.  A next one, offered by A, is an
  ** ordinary one. */
  dbC3 = joiner(&h, "c3.db");
  CHECK(session(dbC3, h.dbA)>0);
  CHECK_MSG(strstr(bt_q(dbC3, "SELECT bec_sync_state('a')"), "\"in_sync\":1")!=0
            && strstr(bt_q(dbC3, "SELECT bec_sync_state('a')"), "\"error\":null")!=0,
            "%s", bt_q(dbC3, "SELECT bec_sync_state('a')"));
  CHECK(bt_int(dbC3, "SELECT sessions FROM bec_peers WHERE peer='a'")==2);
  CHECK(bt_int(dbC3, "SELECT count(*) FROM sqlite_schema"
               " WHERE name='bec_store_cut'")==0);
  CHECK(session_by(dbC3, h.dbA, 0)>0);
  z = state_of(dbC3);
  CHECK_MSG(strcmp(z, zA)==0, "by sync:\n%s\nA:\n%s", z, zA);
  free(z);
  {
    const char *zState = bt_q(dbC3, "SELECT bec_sync_state('a')");
    CHECK_MSG(strstr(zState, "\"rejoin\":\"fell back\"")!=0, "%s", zState);
  }
  CHECK_MSG(strcmp(bt_q(dbC3, "SELECT bec_check()"), "ok")==0, "%s",
            bt_q(dbC3, "SELECT bec_check()"));
  free(zA);

  /* An encrypted group falls back too (its epoch seeds are kept by the
  ** epoch ops' ids, test_rejoin.py test_encrypted), and a session with A,
  ** which holds Y, Z and X, gives it A's state. */
  history(&he, "e", 1);
  dbE = joiner(&he, "e.db");
  CHECK(ingest_body(dbE, he.aBodyY, he.nY)==SQLITE_OK);
  CHECK(bt_int(dbE, "SELECT count(*) FROM sqlite_schema"
               " WHERE name='bec_store_cut'")==0);
  CHECK(strcmp(bt_q(dbE, "SELECT value FROM bec_store_config"
                    " WHERE key='rejoin_blocked'"), "")==0);
  CHECK(ingest_body(he.dbA, he.aBodyZ, he.nZ)==SQLITE_OK);
  CHECK(ingest_body(he.dbA, he.aBodyY, he.nY)==SQLITE_OK);
  CHECK(ingest_body(he.dbA, he.aBodyX, he.nX)==SQLITE_OK);
  CHECK(session(dbE, he.dbA)>0);
  zA = state_of(he.dbA);
  z = state_of(dbE);
  CHECK_MSG(strcmp(z, zA)==0, "encrypted, by sync:\n%s\nA:\n%s", z, zA);
  free(z);
  free(zA);
  CHECK(bt_int(dbE, "SELECT count(*) FROM bec_epochs")
        ==bt_int(he.dbA, "SELECT count(*) FROM bec_epochs"));
  CHECK_MSG(strcmp(bt_q(dbE, "SELECT bec_check()"), "ok")==0, "%s",
            bt_q(dbE, "SELECT bec_check()"));

  sqlite3_close(dbE);
  sqlite3_close(dbC3);
  sqlite3_close(dbC2);
  sqlite3_close(dbC1);
  history_free(&he);
  history_free(&h);
  {
    char zCmd[200];
    snprintf(zCmd, sizeof(zCmd), "rm -rf %s", zDir);
    if( system(zCmd) ){}
  }
  return bt_done();
}
