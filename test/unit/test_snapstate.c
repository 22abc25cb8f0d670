/*
** test_snapstate.c - bec_snapshot_state (bec_snapshot.c), the parsed form
** of a checked snapshot that its install reads (docs/compaction.md
** "Snapshots"): one admin's group with a name and two checkpoints, K1
** sealed in K2's cut; the state of K2's snapshot gives K2's id and R, the
** member (rank, roles, cover, live grant), the name in effect and K1 (its
** claimed R, k, sealed), no root and no epochs; a snapshot with one byte
** altered gives why, and an empty state.
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>
#include <unistd.h>

/* The hex of a 32-byte value, in a static buffer per slot. */
static const char *hex32(const u8 *a, int iSlot){
  static char az[4][2*BEC_HASH_BYTES+1];
  if( a==0 ) return "(null)";
  bec_hex_encode(a, BEC_HASH_BYTES, az[iSlot]);
  return az[iSlot];
}

/* zSql's first column as text, copied (the caller frees). */
static char *text_of(sqlite3 *db, const char *zSql){
  return sqlite3_mprintf("%s", bt_q(db, zSql));
}

int main(void){
  char zDir[] = "/tmp/bec-test-snapstate-XXXXXX";
  char zA[64];
  sqlite3 *db = 0;
  BecCtx *p = 0;
  BecSnapState st;
  sqlite3_stmt *pS = 0;
  u8 *aSnap = 0;
  i64 nSnap = 0;
  char *zWhy = 0, *zErr = 0, *zK1, *zK2, *zR1, *zR2, *zKey, *zGroup;
  int rc;

  bec_crypto_init();
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( mkdtemp(zDir)==0 ) return 1;
  snprintf(zA, sizeof(zA), "%s/a.db", zDir);
  CHECK(sqlite3_open(zA, &db)==SQLITE_OK);
  bt_exec(db, "SELECT bec_keygen(); SELECT bec_create_group();"
      "CREATE VIRTUAL TABLE t USING bec(id TEXT PRIMARY KEY, v TEXT);"
      "INSERT INTO t VALUES('r1', 'one'); SELECT bec_set_name('Alice');"
      "SELECT bec_checkpoint(); INSERT INTO t VALUES('r2', 'two');"
      "SELECT bec_checkpoint();");
  zK1 = text_of(db, "SELECT checkpoint FROM bec_checkpoints c JOIN bec_ops o"
                    " ON o.hash=c.checkpoint ORDER BY o.depth LIMIT 1");
  zK2 = text_of(db, "SELECT checkpoint FROM bec_checkpoints c JOIN bec_ops o"
                    " ON o.hash=c.checkpoint ORDER BY o.depth DESC LIMIT 1");
  zR1 = text_of(db, "SELECT digest FROM bec_checkpoints c JOIN bec_ops o"
                    " ON o.hash=c.checkpoint ORDER BY o.depth LIMIT 1");
  zR2 = text_of(db, "SELECT digest FROM bec_checkpoints c JOIN bec_ops o"
                    " ON o.hash=c.checkpoint ORDER BY o.depth DESC LIMIT 1");
  zKey = text_of(db, "SELECT pubkey FROM bec_members");
  zGroup = text_of(db, "SELECT bec_group_id()");
  CHECK(sqlite3_prepare_v2(db, "SELECT bec_snapshot()", -1, &pS, 0)==SQLITE_OK);
  CHECK_MSG(sqlite3_step(pS)==SQLITE_ROW, "%s", sqlite3_errmsg(db));
  nSnap = sqlite3_column_bytes(pS, 0);
  aSnap = malloc((size_t)nSnap + 1);
  if( nSnap ) memcpy(aSnap, sqlite3_column_blob(pS, 0), (size_t)nSnap);
  sqlite3_finalize(pS);

  CHECK(bec_ctx_new(db, &p)==SQLITE_OK);
  rc = bec_snapshot_state(p, aSnap, nSnap, &st, &zWhy, &zErr);
  CHECK_MSG(rc==SQLITE_OK && zWhy==0, "%d %s %s", rc, zWhy ? zWhy : "",
            zErr ? zErr : "");
  CHECK_MSG(strcmp(hex32(st.aCheckpoint, 0), zK2)==0, "%s", hex32(st.aCheckpoint, 0));
  CHECK_MSG(strcmp(hex32(st.aDigest, 0), zR2)==0, "%s", hex32(st.aDigest, 0));
  CHECK(st.k==1);
  /* The one member: the creator, rank 1, admin, cover admin, its create. */
  CHECK_MSG(st.nMember==1, "%d", st.nMember);
  if( st.nMember==1 ){
    const BecSnapMember *m = &st.aMember[0];
    CHECK(strcmp(hex32(m->aKey, 0), zKey)==0);
    CHECK(m->rank==1 && m->best==BEC_ROLE_ADMIN && m->role==BEC_ROLE_ADMIN);
    CHECK(m->cover==BEC_ROLE_ADMIN);
    CHECK(m->nLive==1 && strcmp(hex32(m->aLive, 0), zGroup)==0);
    CHECK(strcmp(hex32(m->aRankOp, 0), zGroup)==0);
  }
  CHECK(st.nRoot==0 && st.aRoot==0 && st.nEpoch==0 && st.aEpoch==0);
  /* The name in effect. */
  CHECK_MSG(st.nName==1, "%d", st.nName);
  if( st.nName==1 ){
    CHECK(strcmp(hex32(st.aName[0].aKey, 0), zKey)==0);
    CHECK(st.aName[0].nName==5 && memcmp(st.aName[0].aName, "Alice", 5)==0);
  }
  /* K1, in K2's cut: its claim, k 1, sealed by its author's claim. */
  CHECK_MSG(st.nCkpt==1, "%d", st.nCkpt);
  if( st.nCkpt==1 ){
    CHECK(strcmp(hex32(st.aCkpt[0].aId, 0), zK1)==0);
    CHECK(strcmp(hex32(st.aCkpt[0].aClaimed, 1), zR1)==0);
    CHECK(st.aCkpt[0].k==1 && st.aCkpt[0].sealed==1);
  }
  bec_snapshot_state_free(&st);
  CHECK(st.aMember==0 && st.nMember==0);

  /* One byte altered (the checkpoints section's leaf's last, before the
  ** band and the losers' headers, empty here: three zero counts): refused,
  ** nothing parsed. */
  CHECK(nSnap>4 && aSnap[nSnap-1]==0 && aSnap[nSnap-2]==0 && aSnap[nSnap-3]==0);
  aSnap[nSnap-4] ^= 1;
  rc = bec_snapshot_state(p, aSnap, nSnap, &st, &zWhy, &zErr);
  CHECK_MSG(rc==SQLITE_OK && zWhy && strstr(zWhy, "digest does not match"),
            "%d %s", rc, zWhy ? zWhy : "(none)");
  CHECK(st.nMember==0 && st.aMember==0 && st.nCkpt==0 && st.aCkpt==0);
  sqlite3_free(zWhy);
  sqlite3_free(zErr);

  bec_ctx_unref(p);
  sqlite3_close(db);
  free(aSnap);
  sqlite3_free(zK1); sqlite3_free(zK2); sqlite3_free(zR1); sqlite3_free(zR2);
  sqlite3_free(zKey); sqlite3_free(zGroup);
  {
    char zCmd[200];
    snprintf(zCmd, sizeof(zCmd), "rm -rf %s", zDir);
    if( system(zCmd) ){ /* best effort */ }
  }
  return bt_done();
}
