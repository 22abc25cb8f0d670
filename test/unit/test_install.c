/*
** test_install.c - installing a checked snapshot in place of the history
** (bec_install_snapshot, ext/bec_install.c; docs/compaction.md "The
** snapshot join").
**
** A provider A (admin) and B (member, added by A) write concurrently (a
** counter, losers, an existence conflict), A names a checkpoint K, which
** its claim seals (k = 1), then both write after K and A adds a third key.
** A's snapshot is installed on two fresh databases J1 and J2, which then
** ingest the ops after K, J1 in A's order, J2 in the reverse one.  Checked:
** the install holds the cut as stand-ins, stores only the chain, K and its
** claim, keeps the snapshot's bytes (to give a later joiner), and is byte
** for byte the same on J1 and J2 (differential); after
** the ops after K, each joiner's tables (rows, conflicts), members (role,
** rank, cover) and the validity of every op it holds, by id, are A's;
** bec_check() passes; K is sealed there, 'prune_checkpoint' is K.  Refused
** with a reason and nothing stored: a database that holds ops, a snapshot
** that fails a check.
**
** Then (snapshot version 5, the functions at the end) three histories
** installed twice, byte-identical, followed by their ops after K in two
** orders and compared with the provider's views, with a tampered leaf
** refused before anything is stored: test_names (names set, renamed, a
** member named then removed; renames and a new member's name after K; a
** name op concurrent with its author's removal), test_root (a key
** generation and a hand-over in the cut; after K the new epoch's root
** removes the creator), test_checkpoints (two earlier checkpoints sealed
** by two admins; after K a checkpoint that needs them sealed in its cut,
** and a late claim of the first).
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>
#include <unistd.h>

/* A copy of the first column of zSql's first row as text (free it). */
static char *text_of(sqlite3 *db, const char *zSql){
  return sqlite3_mprintf("%s", bt_q(db, zSql));
}

/* Everything stored in bec's own tables, as text (sqlite3_free it). */
static char *stored(sqlite3 *db){
  sqlite3_stmt *pT = 0;
  char *zAll = sqlite3_mprintf("");
  CHECK(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type='table'"
      " AND name LIKE 'bec\\_store\\_%' ESCAPE '\\' ORDER BY name", -1, &pT, 0)==SQLITE_OK);
  while( sqlite3_step(pT)==SQLITE_ROW ){
    sqlite3_stmt *pR = 0;
    char *zSql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY 1",
                                 (const char*)sqlite3_column_text(pT, 0));
    CHECK(sqlite3_prepare_v2(db, zSql, -1, &pR, 0)==SQLITE_OK);
    zAll = sqlite3_mprintf("%z\n%s:", zAll, sqlite3_column_text(pT, 0));
    while( pR && sqlite3_step(pR)==SQLITE_ROW ){
      int i;
      for(i=0; i<sqlite3_column_count(pR); i++){
        sqlite3_value *v = sqlite3_column_value(pR, i);
        if( sqlite3_value_type(v)==SQLITE_BLOB ){
          const u8 *a = sqlite3_value_blob(v);
          int n = sqlite3_value_bytes(v), j;
          zAll = sqlite3_mprintf("%z x", zAll);
          for(j=0; j<n; j++) zAll = sqlite3_mprintf("%z%02x", zAll, a[j]);
        }else{
          zAll = sqlite3_mprintf("%z %s", zAll, sqlite3_value_text(v)
                                 ? (const char*)sqlite3_value_text(v) : "NULL");
        }
      }
      zAll = sqlite3_mprintf("%z;", zAll);
    }
    sqlite3_finalize(pR);
    sqlite3_free(zSql);
  }
  sqlite3_finalize(pT);
  return zAll;
}

/* What a replica shows, by op id: rows, conflicts, members. */
static char *shown(sqlite3 *db, int bCut){
  char *zConf;
  char *z = text_of(db, "SELECT group_concat(x, '|') FROM (SELECT quote(id)||','"
      "||quote(v)||','||quote(n)||','||quote(w) x FROM t ORDER BY id)");
  z = sqlite3_mprintf("%z\nu %s", z, bt_q(db, "SELECT group_concat(x, '|') FROM"
      " (SELECT quote(a)||','||quote(bb) x FROM u ORDER BY a)"));
  /* the registers' losers by op id (bec_conflicts names their authors,
  ** which a replica holding the cut without headers does not know) */
  zConf = sqlite3_mprintf("SELECT group_concat(x, '|')"
      " FROM (SELECT t.name||','||quote(c.pk)||','||c.col||','||quote(c.value)"
      "||','||hex(coalesce(o.hash, %s)) x FROM bec_store_conflict c"
      " JOIN bec_store_table t ON t.seq=c.tbl"
      " LEFT JOIN bec_store_op o ON o.seq=c.seq ORDER BY 1)",
      bCut ? "(SELECT id FROM bec_store_cut k WHERE k.seq=c.seq)" : "NULL");
  z = sqlite3_mprintf("%z\nconflicts %s", z, bt_q(db, zConf));
  sqlite3_free(zConf);
  z = sqlite3_mprintf("%z\nmembers %s", z, bt_q(db, "SELECT group_concat(x, '|')"
      " FROM (SELECT pubkey||','||role||','||rank x FROM bec_members"
      " ORDER BY 1)"));
  z = sqlite3_mprintf("%z\ncover %s", z, bt_q(db, "SELECT group_concat(x, '|')"
      " FROM (SELECT hex(pubkey)||','||cover x FROM bec_store_member ORDER BY 1)"));
  return z;
}

static void test_names(const char *zDir);
static void test_root(const char *zDir);
static void test_checkpoints(const char *zDir);
static void test_epochs(const char *zDir);
static void test_band_attest(const char *zDir);

int main(void){
  char zDir[] = "/tmp/bec-test-install-XXXXXX";
  char zA[80], zB[80], zJ1[80], zJ2[80], zJ3[80], zC[80];
  char zGid[80], zSql[300];
  sqlite3 *dbA = 0, *dbB = 0, *dbJ1 = 0, *dbJ2 = 0, *dbJ3 = 0, *dbC = 0;
  u8 *aSnap = 0;
  i64 nSnap = 0;
  char *zWhy = 0, *zS1, *zS2, *zA1, *zJ;
  int iK, nBase, nA;

  bec_crypto_init();
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( mkdtemp(zDir)==0 ) return 1;
  snprintf(zA, sizeof(zA), "%s/a.db", zDir);
  snprintf(zB, sizeof(zB), "%s/b.db", zDir);
  snprintf(zC, sizeof(zC), "%s/c.db", zDir);
  snprintf(zJ1, sizeof(zJ1), "%s/j1.db", zDir);
  snprintf(zJ2, sizeof(zJ2), "%s/j2.db", zDir);
  snprintf(zJ3, sizeof(zJ3), "%s/j3.db", zDir);

  /* A's history: two tables, B added, concurrent writes. */
  CHECK(sqlite3_open(zA, &dbA)==SQLITE_OK);
  bt_exec(dbA, "SELECT bec_keygen(); SELECT bec_create_group();"
      "CREATE VIRTUAL TABLE t USING bec(id TEXT PRIMARY KEY, v TEXT,"
      " n INTEGER COUNTER);"
      "CREATE VIRTUAL TABLE u USING bec(a INTEGER PRIMARY KEY, b);"
      "INSERT INTO t(id, v, n) VALUES('r1', 'one', 1), ('r2', 'two', 2),"
      " ('r3', 'three', 3);"
      "INSERT INTO u VALUES(1, 'x'), (2, x'0102');");
  snprintf(zGid, sizeof(zGid), "%s", bt_q(dbA, "SELECT bec_group_id()"));
  CHECK(sqlite3_open(zB, &dbB)==SQLITE_OK);
  snprintf(zSql, sizeof(zSql), "SELECT bec_keygen(); SELECT bec_join('%s')", zGid);
  bt_exec(dbB, zSql);
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')",
           bt_q(dbB, "SELECT bec_pubkey()"));
  bt_exec(dbA, zSql);
  bt_copy_ops(dbA, dbB, 0, 0);
  nBase = bt_int(dbA, "SELECT max(seq) FROM bec_store_op");
  bt_exec(dbA, "UPDATE t SET v='a-side' WHERE id='r1'; UPDATE t SET n=n+3 WHERE id='r2';"
            "INSERT INTO t(id, v) VALUES('new', 'A'); UPDATE u SET b='ua' WHERE a=1;");
  nA = bt_int(dbA, "SELECT max(seq) FROM bec_store_op");
  bt_exec(dbB, "UPDATE t SET v='b-side' WHERE id='r1'; UPDATE t SET n=n+2 WHERE id='r2';"
            "INSERT INTO t(id, v) VALUES('new', 'B'); DELETE FROM t WHERE id='r3';");
  bt_copy_ops(dbB, dbA, nBase, 0);
  (void)nA;
  /* an ADD COLUMN and a RENAME in the cut: the rows' leaves are read
  ** against the table as shown at K */
  bt_exec(dbA, "SELECT bec_alter('t', 'ADD COLUMN w REAL DEFAULT 1.5');"
            "SELECT bec_alter('u', 'RENAME COLUMN b TO bb');"
            "UPDATE t SET w=2.5 WHERE id='r2';");

  /* K, sealed by A's claim (k = 1); ops after it on both sides. */
  bt_exec(dbA, "SELECT bec_checkpoint()");
  iK = bt_int(dbA, "SELECT max(seq) FROM bec_store_op");
  CHECK(bt_int(dbA, "SELECT sealed FROM bec_checkpoints ORDER BY rowid DESC LIMIT 1")>=1
        || bt_int(dbA, "SELECT count(*) FROM bec_store_checkpoint WHERE sealed>0")==1);
  bt_copy_ops(dbA, dbB, 0, 0);
  bt_exec(dbB, "UPDATE t SET v='b-after' WHERE id='r2'; UPDATE t SET n=n+10 WHERE id='r1';");
  bt_exec(dbA, "INSERT INTO t(id, v) VALUES('after', 'K'); UPDATE u SET bb=7 WHERE a=2;");
  CHECK(sqlite3_open(zC, &dbC)==SQLITE_OK);
  bt_exec(dbC, "SELECT bec_keygen()");
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'admin')",
           bt_q(dbC, "SELECT bec_pubkey()"));
  bt_exec(dbA, zSql);
  bt_copy_ops(dbB, dbA, iK, 0);
  bt_copy_ops(dbA, dbB, 0, 0);
  CHECK(strcmp(bt_q(dbA, "SELECT group_concat(v) FROM t"),
               bt_q(dbB, "SELECT group_concat(v) FROM t"))==0);

  /* A's snapshot of K, installed on two fresh databases. */
  aSnap = bt_blob_of(dbA, "SELECT bec_snapshot()", &nSnap);
  CHECK(nSnap>0);
  dbJ1 = bt_install_on(zJ1, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy==0, "J1 not installed: %s", zWhy);
  sqlite3_free(zWhy); zWhy = 0;
  dbJ2 = bt_install_on(zJ2, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy==0, "J2 not installed: %s", zWhy);
  sqlite3_free(zWhy); zWhy = 0;

  /* The cut as stand-ins; bodies only of the chain, K and its claim; the
  ** losing writes as their headers (bec_conflicts names their authors). */
  CHECK_MSG(bt_int(dbJ1, "SELECT count(*) FROM bec_store_cut")>=8,
            "stand-ins: %s", bt_q(dbJ1, "SELECT count(*) FROM bec_store_cut"));
  nA = bt_int(dbA, "SELECT count(DISTINCT seq) FROM bec_store_conflict WHERE"
                   " col>=0 AND seq<(SELECT seq FROM bec_store_op WHERE kind=19)");
  CHECK_MSG(nA>0 && bt_int(dbJ1, "SELECT count(*) FROM bec_ops WHERE kind='write'"
                           " AND payload IS NULL")==nA
            && bt_int(dbJ1, "SELECT count(*) FROM bec_ops WHERE kind='write'")==nA,
            "writes stored: %s, headers of the %d losers", bt_q(dbJ1,
            "SELECT count(*) FROM bec_store_op WHERE kind=6"), nA);
  CHECK(bt_int(dbJ1, "SELECT count(*) FROM bec_store_op")
        == bt_int(dbA, "SELECT count(*) FROM bec_store_op WHERE kind IN (1,2,3,5,22)"
                       " AND seq<(SELECT seq FROM bec_store_op WHERE kind=19)") + 1 + nA);
  snprintf(zSql, sizeof(zSql), "SELECT seq FROM bec_store_op WHERE hash=(SELECT hash"
           " FROM bec_store_op WHERE kind=19)");
  CHECK_MSG(bt_int(dbJ1, "SELECT value FROM bec_store_config WHERE key='prune_checkpoint'")
            == bt_int(dbJ1, zSql), "prune_checkpoint %s",
            bt_q(dbJ1, "SELECT value FROM bec_store_config WHERE key='prune_checkpoint'"));
  CHECK_MSG(bt_int(dbJ1, "SELECT sealed FROM bec_store_checkpoint")==1,
            "sealed: %s", bt_q(dbJ1, "SELECT group_concat(sealed) FROM bec_store_checkpoint"));
  /* The bytes it installed, kept to give a later joiner (bec_install_give). */
  {
    sqlite3_stmt *pS = 0;
    CHECK(sqlite3_prepare_v2(dbJ1, "SELECT snapshot=?1 AND checkpoint=(SELECT hash"
        " FROM bec_store_op WHERE kind=19) FROM bec_store_install", -1, &pS, 0)==SQLITE_OK);
    sqlite3_bind_blob(pS, 1, aSnap, (int)nSnap, SQLITE_STATIC);
    CHECK(sqlite3_step(pS)==SQLITE_ROW && sqlite3_column_int(pS, 0)==1);
    sqlite3_finalize(pS);
  }
  zS1 = stored(dbJ1);
  zS2 = stored(dbJ2);
  if( strcmp(zS1, zS2) ){
    /* the lines that differ */
    char *a = zS1, *b = zS2;
    while( *a && *b ){
      char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
      size_t na = ea ? (size_t)(ea-a) : strlen(a), nb = eb ? (size_t)(eb-b) : strlen(b);
      if( na!=nb || memcmp(a, b, na) ) printf("J1 %.*s\nJ2 %.*s\n", (int)na, a, (int)nb, b);
      a += na + (ea!=0);
      b += nb + (eb!=0);
    }
  }
  CHECK_MSG(strcmp(zS1, zS2)==0, "two installs differ");
  sqlite3_free(zS1);
  sqlite3_free(zS2);
  CHECK_MSG(strcmp(bt_q(dbJ1, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ1, "SELECT bec_check()"));

  /* The ops after K, in two orders: A's state on both. */
  bt_copy_ops(dbA, dbJ1, iK, 0);
  bt_copy_ops(dbA, dbJ2, iK, 1);
  bt_copy_ops(dbA, dbJ2, iK, 0);          /* what waited for a predecessor */
  zA1 = shown(dbA, 0);
  zJ = shown(dbJ1, 1);
  CHECK_MSG(strcmp(zA1, zJ)==0, "J1 shows\n%s\nA shows\n%s", zJ, zA1);
  sqlite3_free(zJ);
  zJ = shown(dbJ2, 1);
  CHECK_MSG(strcmp(zA1, zJ)==0, "J2 shows\n%s\nA shows\n%s", zJ, zA1);
  sqlite3_free(zJ);
  sqlite3_free(zA1);
  snprintf(zSql, sizeof(zSql), "ATTACH '%s' AS a", zA);
  bt_exec(dbJ1, zSql);
  bt_exec(dbJ2, zSql);
  CHECK_MSG(bt_int(dbJ1, "SELECT count(*) FROM bec_store_op j JOIN a.bec_store_op o"
                         " ON o.hash=j.hash WHERE o.valid IS NOT j.valid")==0,
            "validity differs: %s", bt_q(dbJ1, "SELECT count(*) FROM bec_store_op j"
            " JOIN a.bec_store_op o ON o.hash=j.hash WHERE o.valid IS NOT j.valid"));
  CHECK(bt_int(dbJ1, "SELECT count(*) FROM a.bec_store_op o WHERE o.seq>(SELECT seq"
                     " FROM a.bec_store_op WHERE kind=19) AND o.hash NOT IN"
                     " (SELECT hash FROM main.bec_store_op)")==0);
  CHECK(bt_int(dbJ2, "SELECT count(*) FROM bec_store_op j JOIN a.bec_store_op o"
                     " ON o.hash=j.hash WHERE o.valid IS NOT j.valid")==0);
  bt_exec(dbJ1, "DETACH a");
  bt_exec(dbJ2, "DETACH a");
  CHECK_MSG(strcmp(bt_q(dbJ1, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ1, "SELECT bec_check()"));
  CHECK_MSG(strcmp(bt_q(dbJ2, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ2, "SELECT bec_check()"));

  /* Refused, nothing stored: a database that holds ops. */
  {
    sqlite3_stmt *pS = 0;
    int nOp = bt_int(dbJ1, "SELECT count(*) FROM bec_store_op");
    CHECK(sqlite3_prepare_v2(dbJ1, "SELECT bec_snapshot_install(?1)", -1, &pS, 0)==SQLITE_OK);
    sqlite3_bind_blob(pS, 1, aSnap, (int)nSnap, SQLITE_STATIC);
    CHECK(sqlite3_step(pS)==SQLITE_ERROR);
    CHECK_MSG(strstr(sqlite3_errmsg(dbJ1), "holds ops")!=0, "%s", sqlite3_errmsg(dbJ1));
    sqlite3_finalize(pS);
    CHECK(bt_int(dbJ1, "SELECT count(*) FROM bec_store_op")==nOp);
  }
  /* A snapshot that fails a check (a byte of a row leaf altered). */
  {
    u8 *aBad = malloc((size_t)nSnap);
    memcpy(aBad, aSnap, (size_t)nSnap);
    aBad[nSnap-40] ^= 0x01;
    dbJ3 = bt_install_on(zJ3, zGid, aBad, nSnap, &zWhy);
    CHECK_MSG(zWhy!=0, "an altered snapshot was installed");
    sqlite3_free(zWhy); zWhy = 0;
    CHECK(bt_int(dbJ3, "SELECT count(*) FROM bec_store_op")==0);
    CHECK(bt_int(dbJ3, "SELECT count(*) FROM sqlite_schema WHERE name='bec_store_cut'")==0);
    free(aBad);
    sqlite3_close(dbJ3);
  }
  test_names(zDir);
  test_root(zDir);
  test_checkpoints(zDir);
  test_epochs(zDir);
  test_band_attest(zDir);
  free(aSnap);
  CHECK(sqlite3_close(dbA)==SQLITE_OK);
  CHECK(sqlite3_close(dbB)==SQLITE_OK);
  CHECK(sqlite3_close(dbC)==SQLITE_OK);
  CHECK(sqlite3_close(dbJ1)==SQLITE_OK);
  CHECK(sqlite3_close(dbJ2)==SQLITE_OK);
  snprintf(zSql, sizeof(zSql), "rm -rf %s", zDir);
  CHECK(system(zSql)==0);
  return bt_done();
}

/**************************************************************************
** The install of the names, the threshold root and the earlier
** checkpoints (docs/compaction.md "The install").  Each history is
** installed on two fresh databases; then the ops after K reach them in two
** orders and what they show is the provider's.
*/

/* A fresh database zDir/zName that joins zGid and holds the keys of no
** group: a member to add (its key). */
static sqlite3 *fresh(const char *zDir, const char *zName, const char *zGid){
  sqlite3 *db = 0;
  char zPath[120], zSql[200];
  snprintf(zPath, sizeof(zPath), "%s/%s", zDir, zName);
  CHECK(sqlite3_open(zPath, &db)==SQLITE_OK);
  snprintf(zSql, sizeof(zSql), "SELECT bec_keygen(); SELECT bec_join('%s')", zGid);
  bt_exec(db, zSql);
  return db;
}

/* dbAdmin adds db's key with zRole; db gets every op of dbAdmin. */
static void add_key(sqlite3 *dbAdmin, sqlite3 *db, const char *zRole){
  char zSql[200];
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', '%s')",
           bt_q(db, "SELECT bec_pubkey()"), zRole);
  bt_exec(dbAdmin, zSql);
  bt_copy_ops(dbAdmin, db, 0, 0);
}

/* The number of ops db holds. */
static int n_ops(sqlite3 *db){
  return bt_int(db, "SELECT count(*) FROM bec_store_op");
}

/* The snapshot of dbP (sealed at K, seq iK there; aGiven if not 0, else
** dbP's bec_snapshot() now) installed on two fresh
** databases zDir/<zTag>1.db and 2.db: byte-identical stored state and
** bec_check() ok; then the ops of dbP after iK, in its order on the first
** and in the reverse one on the second; zView (one text value) then reads
** the same on both as on dbP, and bec_check() passes. */
static void install_and_follow(const char *zDir, const char *zTag, sqlite3 *dbP,
                               int iK, const char *zView, const u8 *aGiven,
                               i64 nGiven){
  char zPath[120], zGid[80];
  sqlite3 *aJ[2];
  char *zWhy = 0, *zS[2];
  u8 *aSnap;
  i64 nSnap = 0;
  int i;
  snprintf(zGid, sizeof(zGid), "%s", bt_q(dbP, "SELECT bec_group_id()"));
  if( aGiven ){
    aSnap = malloc((size_t)nGiven);
    memcpy(aSnap, aGiven, (size_t)nGiven);
    nSnap = nGiven;
  }else{
    aSnap = bt_blob_of(dbP, "SELECT bec_snapshot()", &nSnap);
  }
  for(i=0; i<2; i++){
    snprintf(zPath, sizeof(zPath), "%s/%s%d.db", zDir, zTag, i+1);
    aJ[i] = bt_install_on(zPath, zGid, aSnap, nSnap, &zWhy);
    CHECK_MSG(zWhy==0, "%s: J%d not installed: %s", zTag, i+1, zWhy);
    sqlite3_free(zWhy); zWhy = 0;
    zS[i] = stored(aJ[i]);
    CHECK_MSG(strcmp(bt_q(aJ[i], "SELECT bec_check()"), "ok")==0, "%s: bec_check"
              " after the install: %s", zTag, bt_q(aJ[i], "SELECT bec_check()"));
  }
  CHECK_MSG(strcmp(zS[0], zS[1])==0, "%s: two installs differ", zTag);
  sqlite3_free(zS[0]);
  sqlite3_free(zS[1]);
  bt_copy_ops(dbP, aJ[0], iK, 0);
  bt_copy_ops(dbP, aJ[1], iK, 1);
  bt_copy_ops(dbP, aJ[1], iK, 0);        /* what waited for a predecessor */
  for(i=0; i<2; i++){
    char *zP = text_of(dbP, zView), *zJ = text_of(aJ[i], zView);
    CHECK_MSG(strcmp(zP, zJ)==0, "%s: J%d shows\n%s\nthe provider\n%s", zTag,
              i+1, zJ, zP);
    sqlite3_free(zP);
    sqlite3_free(zJ);
    CHECK_MSG(strcmp(bt_q(aJ[i], "SELECT bec_check()"), "ok")==0, "%s: bec_check:"
              " %s", zTag, bt_q(aJ[i], "SELECT bec_check()"));
    CHECK(sqlite3_close(aJ[i])==SQLITE_OK);
  }
  free(aSnap);
}

/* dbP's snapshot with the byte at the last occurrence of zNeedle (a leaf's
** bytes, found after the ops) flipped: refused, nothing stored. */
static void refuse_tampered(const char *zDir, const char *zTag, sqlite3 *dbP,
                            const u8 *aNeedle, int nNeedle){
  char zPath[120], zGid[80];
  sqlite3 *db;
  char *zWhy = 0;
  u8 *aSnap;
  i64 nSnap = 0, i, iAt = -1;
  snprintf(zGid, sizeof(zGid), "%s", bt_q(dbP, "SELECT bec_group_id()"));
  aSnap = bt_blob_of(dbP, "SELECT bec_snapshot()", &nSnap);
  for(i=0; i+nNeedle<=nSnap; i++){
    if( memcmp(aSnap+i, aNeedle, (size_t)nNeedle)==0 ) iAt = i;
  }
  CHECK_MSG(iAt>=0, "%s: the leaf is not in the snapshot", zTag);
  if( iAt>=0 ) aSnap[iAt+nNeedle-1] ^= 0x01;
  snprintf(zPath, sizeof(zPath), "%s/%s-bad.db", zDir, zTag);
  db = bt_install_on(zPath, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy && strstr(zWhy, "digest does not match"), "%s: %s", zTag,
            zWhy ? zWhy : "a tampered leaf was installed");
  sqlite3_free(zWhy);
  CHECK(n_ops(db)==0);
  CHECK(bt_int(db, "SELECT count(*) FROM sqlite_schema WHERE name='bec_store_cut'")==0);
  sqlite3_close(db);
  free(aSnap);
}

#define NAMES_VIEW "SELECT group_concat(x, '|') FROM (SELECT pubkey||','" \
  "||quote(name)||','||role x FROM bec_members ORDER BY 1)"

/* Names set, renamed (one rename concurrent with another member's), a
** member named and removed, in the cut; renames and a new member's name
** after K.  Then a name op concurrent with its author's removal: valid
** there in the cut held as one chain, void on the provider: refused. */
static void test_names(const char *zDir){
  sqlite3 *dbP = 0, *dbB, *dbC, *dbD;
  char zGid[80], zPath[120], zSql[200];
  int iK, nB;
  snprintf(zPath, sizeof(zPath), "%s/names-p.db", zDir);
  CHECK(sqlite3_open(zPath, &dbP)==SQLITE_OK);
  bt_exec(dbP, "SELECT bec_keygen(); SELECT bec_create_group();"
            "SELECT bec_set_name('alice');"
            "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
            "INSERT INTO t VALUES(1, 'x');");
  snprintf(zGid, sizeof(zGid), "%s", bt_q(dbP, "SELECT bec_group_id()"));
  dbB = fresh(zDir, "names-b.db", zGid);
  dbC = fresh(zDir, "names-c.db", zGid);
  add_key(dbP, dbB, "member");
  add_key(dbP, dbC, "member");
  nB = bt_int(dbB, "SELECT max(seq) FROM bec_store_op");
  bt_exec(dbB, "SELECT bec_set_name('bob'); INSERT INTO t VALUES(2, 'b');"
            "SELECT bec_set_name('bobby');");
  bt_exec(dbC, "SELECT bec_set_name('carol');");
  bt_exec(dbP, "SELECT bec_set_name('alice2'); UPDATE t SET v='y' WHERE id=1;");
  bt_copy_ops(dbB, dbP, nB, 0);
  bt_copy_ops(dbC, dbP, nB, 0);
  snprintf(zSql, sizeof(zSql), "SELECT bec_remove_member('%s')",
           bt_q(dbC, "SELECT bec_pubkey()"));
  bt_exec(dbP, zSql);
  bt_exec(dbP, "SELECT bec_checkpoint()");
  iK = bt_int(dbP, "SELECT max(seq) FROM bec_store_op");
  CHECK(bt_int(dbP, "SELECT sealed FROM bec_store_checkpoint")==1);
  /* after K: renames, a new member named */
  bt_copy_ops(dbP, dbB, 0, 0);
  dbD = fresh(zDir, "names-d.db", zGid);
  add_key(dbP, dbD, "admin");
  bt_exec(dbB, "SELECT bec_set_name('bob3'); INSERT INTO t VALUES(3, 'c');");
  bt_exec(dbD, "SELECT bec_set_name('dave');");
  bt_exec(dbP, "SELECT bec_set_name('alice3');");
  bt_copy_ops(dbB, dbP, iK, 0);
  bt_copy_ops(dbD, dbP, iK, 0);
  CHECK_MSG(strstr(bt_q(dbP, NAMES_VIEW), "'bob3'")
            && strstr(bt_q(dbP, NAMES_VIEW), "'dave'")
            && strstr(bt_q(dbP, NAMES_VIEW), "'alice3'"), "%s", bt_q(dbP, NAMES_VIEW));
  install_and_follow(zDir, "names", dbP, iK, NAMES_VIEW, 0, 0);
  /* right after the install: the names at K */
  {
    sqlite3 *dbJ;
    char *zWhy = 0;
    u8 *aSnap;
    i64 nSnap = 0;
    aSnap = bt_blob_of(dbP, "SELECT bec_snapshot()", &nSnap);
    snprintf(zPath, sizeof(zPath), "%s/names-k.db", zDir);
    dbJ = bt_install_on(zPath, zGid, aSnap, nSnap, &zWhy);
    CHECK_MSG(zWhy==0, "%s", zWhy);
    sqlite3_free(zWhy);
    CHECK_MSG(strcmp(bt_q(dbJ, "SELECT group_concat(name, ',') FROM (SELECT name"
                     " FROM bec_members ORDER BY name)"), "alice2,bobby") == 0,
              "names at K: %s", bt_q(dbJ, "SELECT group_concat(name, ',')"
              " FROM (SELECT name FROM bec_members ORDER BY name)"));
    CHECK(bt_int(dbJ, "SELECT count(*) FROM bec_store_name")==5);
    sqlite3_close(dbJ);
    free(aSnap);
  }
  refuse_tampered(zDir, "names", dbP, (const u8*)"bobby", 5);
  sqlite3_close(dbB);
  sqlite3_close(dbC);
  sqlite3_close(dbD);
  CHECK(sqlite3_close(dbP)==SQLITE_OK);

  /* A name op concurrent with its author's removal. */
  {
    sqlite3 *dbQ = 0, *dbE, *dbJ;
    char *zWhy = 0;
    u8 *aSnap;
    i64 nSnap = 0;
    int nQ;
    snprintf(zPath, sizeof(zPath), "%s/names-q.db", zDir);
    CHECK(sqlite3_open(zPath, &dbQ)==SQLITE_OK);
    bt_exec(dbQ, "SELECT bec_keygen(); SELECT bec_create_group();");
    snprintf(zGid, sizeof(zGid), "%s", bt_q(dbQ, "SELECT bec_group_id()"));
    dbE = fresh(zDir, "names-e.db", zGid);
    add_key(dbQ, dbE, "member");
    nQ = bt_int(dbQ, "SELECT max(seq) FROM bec_store_op");
    bt_exec(dbE, "SELECT bec_set_name('eve');");
    snprintf(zSql, sizeof(zSql), "SELECT bec_remove_member('%s')",
             bt_q(dbE, "SELECT bec_pubkey()"));
    bt_exec(dbQ, zSql);
    bt_copy_ops(dbE, dbQ, nQ, 0);
    CHECK(bt_int(dbQ, "SELECT valid FROM bec_store_op WHERE kind=10")==0);
    bt_exec(dbQ, "SELECT bec_checkpoint()");
    aSnap = bt_blob_of(dbQ, "SELECT bec_snapshot()", &nSnap);
    snprintf(zPath, sizeof(zPath), "%s/names-qj.db", zDir);
    dbJ = bt_install_on(zPath, zGid, aSnap, nSnap, &zWhy);
    /* The chain by depth, then id: the name op before or after the
    ** removal, by the keys' draw.  Before, it derives valid where the
    ** provider's is void: refused, nothing stored; after, installed with
    ** the provider's names. */
    if( zWhy ){
      CHECK_MSG(strstr(zWhy, "cannot be installed")
                && strstr(zWhy, "validity"), "%s", zWhy);
      CHECK(n_ops(dbJ)==0);
    }else{
      CHECK_MSG(strcmp(bt_q(dbJ, NAMES_VIEW), bt_q(dbQ, NAMES_VIEW))==0,
                "%s", bt_q(dbJ, NAMES_VIEW));
      CHECK(bt_int(dbJ, "SELECT count(*) FROM bec_store_op WHERE kind=10"
                        " AND valid=0")==1);
    }
    sqlite3_free(zWhy);
    sqlite3_close(dbJ);
    sqlite3_close(dbE);
    free(aSnap);
    CHECK(sqlite3_close(dbQ)==SQLITE_OK);
  }
}

/* Every op any of aDb[0..n-1] holds, on each of them. */
static void sync_dbs(sqlite3 **aDb, int n){
  int i, j;
  for(i=0; i<n; i++){
    for(j=0; j<n; j++) if( i!=j ) bt_copy_ops(aDb[i], aDb[j], 0, 0);
  }
}

/* sync_dbs, then bec_root_step() on each, until none has a step of the
** root to take (test_checkpoint_root.py's root_steps). */
static void root_steps(sqlite3 **aDb, int n){
  int r, i, nStep = 1;
  for(r=0; r<10 && nStep; r++){
    sync_dbs(aDb, n);
    for(nStep=0, i=0; i<n; i++) nStep += bt_int(aDb[i], "SELECT bec_root_step()");
  }
  sync_dbs(aDb, n);
}

#define ROOT_VIEW "SELECT (SELECT group_concat(x, '|') FROM (SELECT session" \
  "||','||epoch||','||k||','||n||','||quote(group_key)||','||state x" \
  " FROM bec_root ORDER BY 1))||' holders '||(SELECT group_concat(x, '|')" \
  " FROM (SELECT session||','||id||','||pk||','||confirmed||','||" \
  "quote(share_key)||','||member x FROM bec_root_holders ORDER BY 1))" \
  "||' requests '||(SELECT group_concat(x, '|') FROM (SELECT id||','||" \
  "action||','||quote(target)||','||approvals||','||state x FROM" \
  " bec_root_requests ORDER BY 1))||' root ops '||(SELECT" \
  " group_concat(x, '|') FROM (SELECT hex(hash)||','||valid x FROM" \
  " bec_store_op WHERE kind=15 ORDER BY 1))||' members '||(" \
  "SELECT group_concat(x, '|') FROM (SELECT pubkey||','||role||','||rank" \
  " x FROM bec_members ORDER BY 1))"

/* A 2-of-3 root of A (admin, the creator), B and C (members), handed over
** to A, B, C and D with k = 3, then K (sealed by A's claim: A is the one
** admin); after K, the root removes A, the most senior member, signed by
** the new epoch's key: valid on the joiners as on A, and A's ops after
** that removal are void there too. */
static void test_root(const char *zDir){
  sqlite3 *aDb[4];
  char zGid[80], zPath[120], zSql[600], azPk[4][80];
  int iK, i;
  snprintf(zPath, sizeof(zPath), "%s/root-a.db", zDir);
  CHECK(sqlite3_open(zPath, &aDb[0])==SQLITE_OK);
  bt_exec(aDb[0], "SELECT bec_keygen(); SELECT bec_create_group();"
               "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
               "INSERT INTO t VALUES(1, 'x');");
  snprintf(zGid, sizeof(zGid), "%s", bt_q(aDb[0], "SELECT bec_group_id()"));
  for(i=1; i<4; i++){
    char zName[20];
    snprintf(zName, sizeof(zName), "root-%c.db", 'a'+i);
    aDb[i] = fresh(zDir, zName, zGid);
    add_key(aDb[0], aDb[i], "member");
  }
  for(i=0; i<4; i++){    /* (bt_q's answer lives until its next call) */
    snprintf(azPk[i], sizeof(azPk[i]), "%s", bt_q(aDb[i], "SELECT bec_pubkey()"));
  }
  snprintf(zSql, sizeof(zSql), "SELECT bec_root_open(2, json_array('%s', '%s',"
           " '%s'))", azPk[0], azPk[1], azPk[2]);
  bt_exec(aDb[0], zSql);
  root_steps(aDb, 4);
  CHECK_MSG(strcmp(bt_q(aDb[0], "SELECT state FROM bec_root"), "active")==0,
            "root: %s", bt_q(aDb[0], "SELECT state FROM bec_root"));
  /* the hand-over: proposed by A, approved by B, the new holders step */
  {
    char zReq[80];
    snprintf(zSql, sizeof(zSql), "SELECT bec_root_propose('holders', json_array("
             "'%s', '%s', '%s', '%s'), 3)", azPk[0], azPk[1], azPk[2], azPk[3]);
    snprintf(zReq, sizeof(zReq), "%s", bt_q(aDb[0], zSql));
    sync_dbs(aDb, 4);
    snprintf(zSql, sizeof(zSql), "SELECT bec_root_approve('%s')", zReq);
    bt_exec(aDb[1], zSql);
    root_steps(aDb, 4);
  }
  CHECK_MSG(bt_int(aDb[0], "SELECT count(*) FROM bec_root WHERE state='active'"
                   " AND epoch=2 AND k=3 AND n=4")==1, "hand-over: %s",
            bt_q(aDb[0], "SELECT group_concat(epoch||state) FROM bec_root"));
  bt_exec(aDb[0], "INSERT INTO t VALUES(2, 'y'); SELECT bec_checkpoint()");
  iK = bt_int(aDb[0], "SELECT max(seq) FROM bec_store_op");
  CHECK(bt_int(aDb[0], "SELECT sealed FROM bec_store_checkpoint")==1);
  sync_dbs(aDb, 4);
  /* after K: the root (the new epoch, 3 of 4) removes A */
  {
    char zReq[80];
    snprintf(zSql, sizeof(zSql), "SELECT bec_root_propose('remove', '%s')",
             azPk[0]);
    snprintf(zReq, sizeof(zReq), "%s", bt_q(aDb[1], zSql));
    sync_dbs(aDb, 4);
    snprintf(zSql, sizeof(zSql), "SELECT bec_root_approve('%s')", zReq);
    bt_exec(aDb[2], zSql);
    bt_exec(aDb[3], zSql);
    root_steps(aDb, 4);
  }
  CHECK_MSG(bt_int(aDb[0], "SELECT count(*) FROM bec_store_op WHERE kind=15"
                   " AND valid")>=2, "root ops: %s", bt_q(aDb[0], ROOT_VIEW));
  CHECK_MSG(bt_int(aDb[1], "SELECT count(*) FROM bec_members WHERE role='admin'")==0,
            "A removed: %s", bt_q(aDb[1], ROOT_VIEW));
  bt_exec(aDb[1], "INSERT INTO t VALUES(3, 'b')");
  sync_dbs(aDb, 4);
  install_and_follow(zDir, "root", aDb[0], iK, ROOT_VIEW, 0, 0);
  {
    /* the new epoch's group key, in its root leaf (the last place the
    ** snapshot holds it) */
    i64 nY = 0;
    u8 *aY = bt_blob_of(aDb[0], "SELECT group_key FROM bec_store_root_session"
                             " WHERE epoch=2", &nY);
    CHECK(nY==32);
    refuse_tampered(zDir, "root", aDb[0], aY, (int)nY);
    free(aY);
  }
  for(i=3; i>=0; i--) CHECK(sqlite3_close(aDb[i])==SQLITE_OK);
}

/* A and B, admins (k = 2): J1 and J2 sealed by both claims, then K;
** after K, writes, a checkpoint K2 that needs J1, J2 and K sealed within
** its cut (admitted and sealed on the joiners as on A), and the claims of
** all four by C, an admin added after K2.  The
** joiners list J1 and J2 with A's k, seal and author; their digest is
** unknown there (NULL) and their attestations 0 (docs/compaction.md "The
** install"). */
static void test_checkpoints(const char *zDir){
  sqlite3 *dbA = 0, *dbB, *dbC;
  char zGid[80], zPath[120], zJ[2][80], zK[80];
  char *zView;
  u8 *aSnap;
  i64 nSnap = 0;
  int iK, i;
  snprintf(zPath, sizeof(zPath), "%s/ck-a.db", zDir);
  CHECK(sqlite3_open(zPath, &dbA)==SQLITE_OK);
  bt_exec(dbA, "SELECT bec_keygen(); SELECT bec_create_group();"
            "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
            "INSERT INTO t VALUES(1, 'x');");
  snprintf(zGid, sizeof(zGid), "%s", bt_q(dbA, "SELECT bec_group_id()"));
  dbB = fresh(zDir, "ck-b.db", zGid);
  add_key(dbA, dbB, "admin");
  for(i=0; i<3; i++){
    char zSql[200];
    snprintf(zSql, sizeof(zSql), "INSERT INTO t VALUES(%d, 'a'); SELECT"
             " bec_checkpoint()", 10+i);
    bt_exec(dbA, zSql);
    snprintf(zSql, sizeof(zSql), "INSERT INTO t VALUES(%d, 'b')", 20+i);
    bt_copy_ops(dbA, dbB, 0, 0);
    bt_exec(dbB, zSql);
    bt_exec(dbB, "SELECT bec_attest()");   /* (the ingest may have) */
    bt_copy_ops(dbB, dbA, 0, 0);
    CHECK_MSG(bt_int(dbA, "SELECT count(*) FROM bec_checkpoints WHERE sealed")==i+1,
              "sealed: %s", bt_q(dbA, "SELECT group_concat(sealed) FROM bec_checkpoints"));
    snprintf(i<2 ? zJ[i] : zK, 80, "%s", bt_q(dbA, "SELECT checkpoint FROM"
             " bec_checkpoints ORDER BY rowid DESC LIMIT 1"));
  }
  iK = bt_int(dbA, "SELECT seq FROM bec_store_op WHERE kind=19 ORDER BY seq DESC LIMIT 1");
  aSnap = bt_blob_of(dbA, "SELECT bec_snapshot()", &nSnap);
  /* after K: writes, K2 attested by B */
  bt_exec(dbB, "UPDATE t SET v='after' WHERE id=1");
  bt_copy_ops(dbB, dbA, 0, 0);
  bt_exec(dbA, "INSERT INTO t VALUES(30, 'c'); SELECT bec_checkpoint()");
  bt_copy_ops(dbA, dbB, 0, 0);
  bt_exec(dbB, "SELECT bec_attest()");
  bt_copy_ops(dbB, dbA, 0, 0);
  bt_exec(dbA, "INSERT INTO t VALUES(31, 'd')");
  /* C, an admin added after K2, attests J1, J2, K and K2 once it holds
  ** them all: claims of J1 after K, which do not count (C is no admin of
  ** S(J1)); on a joiner J1's seal stays the snapshot's (its admins and the
  ** claims that sealed it are not there) */
  dbC = fresh(zDir, "ck-c.db", zGid);
  add_key(dbA, dbC, "admin");
  bt_exec(dbC, "SELECT bec_attest()");
  bt_copy_ops(dbC, dbA, 0, 0);
  {
    char zSql[300];
    snprintf(zSql, sizeof(zSql), "SELECT count(*) FROM bec_store_claim c JOIN"
             " bec_store_op o ON o.seq=c.checkpoint WHERE lower(hex(o.hash))="
             "'%s'", zJ[0]);
    CHECK_MSG(bt_int(dbA, zSql)==3, "J1's claims: %s", bt_q(dbA, zSql));
  }
  CHECK_MSG(bt_int(dbA, "SELECT count(*) FROM bec_checkpoints WHERE sealed")==4,
            "K2 sealed: %s", bt_q(dbA, "SELECT group_concat(sealed) FROM bec_checkpoints"));
  zView = sqlite3_mprintf("SELECT (SELECT group_concat(x, '|') FROM (SELECT"
      " checkpoint||','||sealed||','||k||','||author||','||root||','||CASE"
      " WHEN checkpoint IN ('%s', '%s') THEN 'earlier' ELSE"
      " digest||','||attestations END x FROM bec_checkpoints WHERE checkpoint"
      " IN ('%s', '%s', '%s') ORDER BY 1))||' after K '||(SELECT"
      " group_concat(x, '|') FROM (SELECT hex(hash)||','||valid x FROM"
      " bec_store_op WHERE seq>(SELECT seq FROM bec_store_op WHERE"
      " hash=x'%s') ORDER BY 1))||' rows '||(SELECT group_concat(id||v, ',')"
      " FROM t)", zJ[0], zJ[1], zJ[0], zJ[1], zK, zK);
  install_and_follow(zDir, "ck", dbA, iK, zView, aSnap, nSnap);
  /* what a joiner shows of J1 and J2 */
  {
    sqlite3 *dbJ;
    char *zWhy = 0, zSql[300];
    snprintf(zPath, sizeof(zPath), "%s/ck-k.db", zDir);
    dbJ = bt_install_on(zPath, zGid, aSnap, nSnap, &zWhy);
    CHECK_MSG(zWhy==0, "%s", zWhy);
    sqlite3_free(zWhy);
    snprintf(zSql, sizeof(zSql), "SELECT group_concat(quote(digest)||','||"
             "attestations||','||sealed||','||k, '|') FROM bec_checkpoints"
             " WHERE checkpoint IN ('%s', '%s')", zJ[0], zJ[1]);
    CHECK_MSG(strcmp(bt_q(dbJ, zSql), "NULL,0,1,2|NULL,0,1,2")==0, "J1, J2: %s",
              bt_q(dbJ, zSql));
    CHECK_MSG(strcmp(bt_q(dbA, zSql), "NULL,0,1,2|NULL,0,1,2")!=0, "%s",
              bt_q(dbA, zSql));
    /* it attests neither (their digest is not computed here) */
    snprintf(zSql, sizeof(zSql), "SELECT count(*) FROM bec_store_claim c JOIN"
             " bec_store_op o ON o.seq=c.checkpoint WHERE lower(hex(o.hash))"
             " IN ('%s', '%s')", zJ[0], zJ[1]);
    CHECK_MSG(bt_int(dbJ, zSql)==2, "claims of J1, J2: %s", bt_q(dbJ, zSql));
    sqlite3_close(dbJ);
  }
  {
    /* a tampered leaf: J1's id and claimed R, its last byte flipped */
    u8 aLeaf[64];
    i64 n = 0;
    char zSql[200];
    u8 *a;
    snprintf(zSql, sizeof(zSql), "SELECT hash||(SELECT digest FROM"
             " bec_store_claim c WHERE c.seq=o.seq) FROM bec_store_op o"
             " WHERE lower(hex(hash))='%s'", zJ[0]);
    a = bt_blob_of(dbA, zSql, &n);
    CHECK(n==64);
    if( n==64 ) memcpy(aLeaf, a, 64);
    free(a);
    refuse_tampered(zDir, "ck", dbA, aLeaf, 64);
  }
  sqlite3_free(zView);
  free(aSnap);
  sqlite3_close(dbB);
  sqlite3_close(dbC);
  CHECK(sqlite3_close(dbA)==SQLITE_OK);
}

/**************************************************************************
** The install of an encrypted group (docs/compaction.md "The install"):
** the cut's epoch ops and keyshares come in the chain, the joiner opens
** the boxes addressed to it, and the epochs it derives are the epochs
** section's, leaf for leaf.
*/

/* What an encrypted replica shows: rows, epochs (with what this identity
** holds), locked ops, members. */
#define EPOCHS_VIEW "SELECT (SELECT group_concat(x, '|') FROM (SELECT" \
  " quote(id)||','||quote(v) x FROM t ORDER BY id))||' epochs '||" \
  "(SELECT group_concat(x, '|') FROM (SELECT epoch||','||author||','||valid" \
  "||','||holders||','||i_hold||','||current x FROM bec_epochs ORDER BY 1))" \
  "||' locked '||(SELECT count(*) FROM bec_locked)||' members '||" \
  "(SELECT group_concat(x, '|') FROM (SELECT pubkey||','||role x" \
  " FROM bec_members ORDER BY 1))"

/* stored(db) without the seeds' sealed copies (a fresh nonce each), and
** with the epochs whose seed db holds. */
static char *stored_e2ee(sqlite3 *db){
  char *z = stored(db), *zAt = strstr(z, "\nbec_store_epoch_key:"), *zEnd;
  if( zAt ){
    zEnd = strchr(zAt+1, '\n');
    if( zEnd ) memmove(zAt, zEnd, strlen(zEnd)+1);
    else *zAt = 0;
  }
  return sqlite3_mprintf("%z\nseeds %s", z, bt_q(db, "SELECT group_concat(epoch)"
                         " FROM (SELECT epoch FROM bec_store_epoch_key ORDER BY 1)"));
}

/* zDir/zName, a copy of zDir/zFrom (database and key file: the same
** identity), or a new identity when zFrom is 0; it holds no op. */
static sqlite3 *identity_db(const char *zDir, const char *zName,
                            const char *zFrom){
  sqlite3 *db = 0;
  char zPath[120], zCmd[400];
  snprintf(zPath, sizeof(zPath), "%s/%s", zDir, zName);
  if( zFrom ){
    snprintf(zCmd, sizeof(zCmd), "cp %s/%s %s && cp %s/%s-bec-key %s-bec-key",
             zDir, zFrom, zPath, zDir, zFrom, zPath);
    CHECK(system(zCmd)==0);
  }
  CHECK(sqlite3_open(zPath, &db)==SQLITE_OK);
  if( zFrom==0 ) bt_exec(db, "SELECT bec_keygen()");
  return db;
}

/* An encrypted group: A (admin) and B (member) write, the joiner's key J
** is added (its box in the keyshare after its add), A rekeys, both write;
** K.  After K: A writes under the cut's epoch, B rekeys and writes under
** its new epoch.  Installed on two databases of J's identity (byte for
** byte the same but for the sealed seeds' nonces), the ops after K in two
** orders: rows, epochs, locked ops, members as on a full replica of J's
** identity.  Refused: a stranger's install (it holds no box), a tampered
** epochs leaf, and a cut whose rekeys are concurrent (the chain by depth
** gives an epoch back links the provider's does not: the epochs section
** differs). */
static void test_epochs(const char *zDir){
  sqlite3 *dbP = 0, *dbB, *dbJ, *dbF, *aJ[2], *dbS;
  char zGid[80], zPath[120], zSql[300];
  char *zWhy = 0, *zS[2];
  u8 *aSnap, *aCommit;
  i64 nSnap = 0, nCommit = 0;
  int iK, i;
  snprintf(zPath, sizeof(zPath), "%s/ep-p.db", zDir);
  CHECK(sqlite3_open(zPath, &dbP)==SQLITE_OK);
  bt_exec(dbP, "SELECT bec_keygen(); SELECT bec_create_group('encrypted');"
            "CREATE VIRTUAL TABLE t USING bec(id TEXT PRIMARY KEY, v TEXT);"
            "INSERT INTO t VALUES('r1', 'secret one');");
  snprintf(zGid, sizeof(zGid), "%s", bt_q(dbP, "SELECT bec_group_id()"));
  dbB = fresh(zDir, "ep-b.db", zGid);
  add_key(dbP, dbB, "member");
  dbJ = identity_db(zDir, "ep-j.db", 0);
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')",
           bt_q(dbJ, "SELECT bec_pubkey()"));
  bt_exec(dbP, zSql);
  bt_copy_ops(dbP, dbB, bt_int(dbB, "SELECT max(seq) FROM bec_store_op"), 0);
  bt_exec(dbB, "INSERT INTO t VALUES('b1', 'by b');");
  bt_copy_ops(dbB, dbP, bt_int(dbP, "SELECT max(seq) FROM bec_store_op"), 0);
  bt_exec(dbP, "SELECT bec_rekey(); UPDATE t SET v='secret two' WHERE id='r1';");
  bt_exec(dbP, "SELECT bec_checkpoint()");
  iK = bt_int(dbP, "SELECT max(seq) FROM bec_store_op");
  CHECK(bt_int(dbP, "SELECT sealed FROM bec_store_checkpoint")==1);
  CHECK(bt_int(dbP, "SELECT count(*) FROM bec_store_op WHERE kind=16")==1);
  aSnap = bt_blob_of(dbP, "SELECT bec_snapshot()", &nSnap);
  /* after K */
  bt_copy_ops(dbP, dbB, bt_int(dbB, "SELECT max(seq) FROM bec_store_op"), 0);
  bt_exec(dbP, "INSERT INTO t VALUES('p2', 'after K, a cut epoch');");
  bt_exec(dbB, "SELECT bec_rekey(); INSERT INTO t VALUES('b2', 'after K, a new epoch');");
  bt_copy_ops(dbB, dbP, iK, 0);
  CHECK(bt_int(dbP, "SELECT count(*) FROM bec_store_op WHERE kind=16")==2);
  CHECK(bt_int(dbP, "SELECT count(*) FROM t")==4);
  /* a full replica of J's identity */
  dbF = identity_db(zDir, "ep-f.db", "ep-j.db");
  snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')", zGid);
  bt_exec(dbF, zSql);
  bt_copy_ops(dbP, dbF, 0, 0);
  CHECK_MSG(bt_int(dbF, "SELECT count(*) FROM t")==4
            && bt_int(dbF, "SELECT count(*) FROM bec_locked")==0, "%s",
            bt_q(dbF, EPOCHS_VIEW));
  /* the installs */
  sqlite3_close(dbJ);
  for(i=0; i<2; i++){
    char zName[40];
    snprintf(zName, sizeof(zName), "ep-j%d.db", i+1);
    sqlite3_close(identity_db(zDir, zName, "ep-j.db"));
    snprintf(zPath, sizeof(zPath), "%s/%s", zDir, zName);
    aJ[i] = bt_install_on(zPath, zGid, aSnap, nSnap, &zWhy);
    CHECK_MSG(zWhy==0, "epochs: J%d not installed: %s", i+1, zWhy);
    sqlite3_free(zWhy); zWhy = 0;
    CHECK_MSG(strcmp(bt_q(aJ[i], "SELECT bec_check()"), "ok")==0, "epochs:"
              " bec_check after the install: %s", bt_q(aJ[i], "SELECT bec_check()"));
    CHECK_MSG(bt_int(aJ[i], "SELECT count(*) FROM bec_locked")==0
              && bt_int(aJ[i], "SELECT count(*) FROM t")==2
              && bt_int(aJ[i], "SELECT count(*) FROM bec_epochs WHERE i_hold")==2,
              "epochs: J%d at K: %s", i+1, bt_q(aJ[i], EPOCHS_VIEW));
    zS[i] = stored_e2ee(aJ[i]);
  }
  CHECK_MSG(strcmp(zS[0], zS[1])==0, "epochs: two installs differ:\n%s\n%s",
            zS[0], zS[1]);
  CHECK(strstr(zS[0], "\nseeds ") && strcmp(strstr(zS[0], "\nseeds "),
                                            "\nseeds ")!=0);
  sqlite3_free(zS[0]);
  sqlite3_free(zS[1]);
  bt_copy_ops(dbP, aJ[0], iK, 0);
  bt_copy_ops(dbP, aJ[1], iK, 1);
  bt_copy_ops(dbP, aJ[1], iK, 0);
  for(i=0; i<2; i++){
    char *zF = text_of(dbF, EPOCHS_VIEW), *zJ = text_of(aJ[i], EPOCHS_VIEW);
    CHECK_MSG(strcmp(zF, zJ)==0, "epochs: J%d shows\n%s\nthe full replica\n%s",
              i+1, zJ, zF);
    sqlite3_free(zF);
    sqlite3_free(zJ);
    CHECK_MSG(strcmp(bt_q(aJ[i], "SELECT bec_check()"), "ok")==0, "epochs:"
              " bec_check: %s", bt_q(aJ[i], "SELECT bec_check()"));
    /* J writes after K under the current epochs (and its attestation of
    ** K before it); the provider reads it */
    if( i==0 ){
      bt_exec(aJ[0], "INSERT INTO t VALUES('j1', 'by the installed joiner');");
      bt_copy_ops(aJ[0], dbP, bt_int(aJ[0], "SELECT seq FROM bec_store_op"
                                             " WHERE kind=19"), 0);
      CHECK_MSG(strcmp(bt_q(dbP, "SELECT v FROM t WHERE id='j1'"),
                       "by the installed joiner")==0, "%s",
                bt_q(dbP, "SELECT count(*) FROM bec_locked"));
    }
    CHECK(sqlite3_close(aJ[i])==SQLITE_OK);
  }

  /* A stranger (no box in the cut) is refused, nothing stored. */
  dbS = identity_db(zDir, "ep-s.db", 0);
  sqlite3_close(dbS);
  snprintf(zPath, sizeof(zPath), "%s/ep-s.db", zDir);
  dbS = bt_install_on(zPath, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy && strstr(zWhy, "cannot be installed")
            && strstr(zWhy, "holds no key of an epoch"), "%s",
            zWhy ? zWhy : "a stranger installed an encrypted group");
  sqlite3_free(zWhy); zWhy = 0;
  CHECK(n_ops(dbS)==0);
  CHECK(bt_int(dbS, "SELECT count(*) FROM sqlite_schema WHERE name='bec_store_cut'")==0);
  sqlite3_close(dbS);

  /* A tampered epochs leaf (the rekey's commitment): refused. */
  aCommit = bt_blob_of(dbP, "SELECT e.hcommit FROM bec_store_epoch e JOIN"
                         " bec_store_op o ON o.seq=e.seq WHERE o.kind=16"
                         " ORDER BY e.seq LIMIT 1", &nCommit);
  refuse_tampered(zDir, "epochs", dbP, aCommit, (int)nCommit);
  free(aCommit);
  free(aSnap);
  sqlite3_close(dbF);
  sqlite3_close(dbB);
  CHECK(sqlite3_close(dbP)==SQLITE_OK);

  /* Concurrent rekeys in the cut, at different depths: B's rekey, deeper,
  ** follows only the group's first epoch on the provider; in the chain
  ** held by depth, A's rekey is in its past too.  The epochs derived
  ** differ from the section: refused with the leaf, nothing stored. */
  {
    sqlite3 *dbQ = 0, *dbC, *dbK;
    int nQ;
    snprintf(zPath, sizeof(zPath), "%s/ep-q.db", zDir);
    CHECK(sqlite3_open(zPath, &dbQ)==SQLITE_OK);
    bt_exec(dbQ, "SELECT bec_keygen(); SELECT bec_create_group('encrypted');"
              "CREATE VIRTUAL TABLE t USING bec(id TEXT PRIMARY KEY, v TEXT);");
    snprintf(zGid, sizeof(zGid), "%s", bt_q(dbQ, "SELECT bec_group_id()"));
    dbC = fresh(zDir, "ep-c.db", zGid);
    add_key(dbQ, dbC, "member");
    dbK = identity_db(zDir, "ep-k.db", 0);
    snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')",
             bt_q(dbK, "SELECT bec_pubkey()"));
    bt_exec(dbQ, zSql);
    sqlite3_close(dbK);
    bt_copy_ops(dbQ, dbC, bt_int(dbC, "SELECT max(seq) FROM bec_store_op"), 0);
    nQ = bt_int(dbQ, "SELECT max(seq) FROM bec_store_op");
    bt_exec(dbQ, "SELECT bec_rekey();");
    bt_exec(dbC, "INSERT INTO t VALUES('c1', 'x'); INSERT INTO t VALUES('c2', 'y');"
              "INSERT INTO t VALUES('c3', 'z'); SELECT bec_rekey();");
    bt_copy_ops(dbC, dbQ, nQ, 0);
    bt_exec(dbQ, "INSERT INTO t VALUES('q1', 'both'); SELECT bec_checkpoint()");
    aSnap = bt_blob_of(dbQ, "SELECT bec_snapshot()", &nSnap);
    snprintf(zPath, sizeof(zPath), "%s/ep-k.db", zDir);
    dbK = bt_install_on(zPath, zGid, aSnap, nSnap, &zWhy);
    CHECK_MSG(zWhy && strstr(zWhy, "the e2ee epochs derived from the cut's"
                             " ops are not the snapshot's"), "%s",
              zWhy ? zWhy : "concurrent rekeys installed");
    sqlite3_free(zWhy);
    CHECK(n_ops(dbK)==0);
    sqlite3_close(dbK);
    free(aSnap);
    sqlite3_close(dbC);
    CHECK(sqlite3_close(dbQ)==SQLITE_OK);
  }
}

/**************************************************************************
** A band that holds an attest (docs/compaction.md "The band"): A and B
** admins (k = 2), D a member that goes offline below J; A names J, B
** attests it, A names K, B attests K; D's write, concurrent with both,
** reaches A after K.  A's band reaches below J, so it holds B's attest of
** J, which the install stores as its header (its effect, J's seal, is the
** checkpoints section's); the joiners then take D's op without a fall-back
** and show A's rows, J's and K's seals and the validity of every op after
** K (D's among them).
*/
#define BAND_VIEW "SELECT (SELECT group_concat(id||v, ',') FROM t)||' after K '" \
  "||(SELECT group_concat(x, '|') FROM (SELECT hex(hash)||','||valid x FROM"   \
  " bec_store_op WHERE seq>(SELECT max(seq) FROM bec_store_op WHERE kind=19)"  \
  " ORDER BY 1))||' sealed '||(SELECT group_concat(sealed||k, ',') FROM"       \
  " (SELECT sealed, k FROM bec_checkpoints ORDER BY checkpoint))"

static void test_band_attest(const char *zDir){
  sqlite3 *dbA = 0, *dbB, *dbD, *dbJ;
  char zGid[80], zPath[120];
  char *zWhy = 0;
  u8 *aSnap;
  i64 nSnap = 0;
  int iK, nD;
  snprintf(zPath, sizeof(zPath), "%s/ba-a.db", zDir);
  CHECK(sqlite3_open(zPath, &dbA)==SQLITE_OK);
  bt_exec(dbA, "PRAGMA synchronous=OFF; SELECT bec_keygen(); SELECT bec_create_group();"
            "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
            "INSERT INTO t VALUES(1, 'x');");
  snprintf(zGid, sizeof(zGid), "%s", bt_q(dbA, "SELECT bec_group_id()"));
  dbB = fresh(zDir, "ba-b.db", zGid);
  dbD = fresh(zDir, "ba-d.db", zGid);
  bt_exec(dbB, "PRAGMA synchronous=OFF");   /* (a test: no fsync per op) */
  bt_exec(dbD, "PRAGMA synchronous=OFF");
  add_key(dbA, dbB, "admin");
  add_key(dbA, dbD, "member");
  bt_exec(dbA, "INSERT INTO t VALUES(2, 'a')");
  bt_copy_ops(dbA, dbD, 0, 0);                /* D goes offline here */
  nD = n_ops(dbD);
  bt_exec(dbA, "INSERT INTO t VALUES(3, 'b'); SELECT bec_checkpoint()");   /* J */
  bt_copy_ops(dbA, dbB, 0, 0);
  bt_exec(dbB, "SELECT bec_attest()");
  bt_copy_ops(dbB, dbA, 0, 0);
  bt_exec(dbA, "INSERT INTO t VALUES(4, 'c'); SELECT bec_checkpoint()");   /* K */
  bt_copy_ops(dbA, dbB, 0, 0);
  bt_exec(dbB, "SELECT bec_attest()");
  bt_copy_ops(dbB, dbA, 0, 0);
  CHECK_MSG(bt_int(dbA, "SELECT count(*) FROM bec_checkpoints WHERE sealed")==2,
            "J and K sealed: %s", bt_q(dbA, "SELECT group_concat(sealed) FROM"
            " bec_checkpoints"));
  iK = bt_int(dbA, "SELECT seq FROM bec_store_op WHERE kind=19 ORDER BY seq DESC LIMIT 1");
  bt_exec(dbD, "UPDATE t SET v='offline' WHERE id=2");  /* concurrent with K */
  bt_copy_ops(dbD, dbA, nD, 0);
  bt_exec(dbA, "INSERT INTO t VALUES(5, 'after K')");
  /* B's attest of J is in the band: stored as its header on a joiner */
  aSnap = bt_blob_of(dbA, "SELECT bec_snapshot()", &nSnap);
  snprintf(zPath, sizeof(zPath), "%s/ba-k.db", zDir);
  dbJ = bt_install_on(zPath, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy==0, "a band with an attest: %s", zWhy);
  sqlite3_free(zWhy);
  CHECK_MSG(bt_int(dbJ, "SELECT count(*) FROM bec_ops o JOIN bec_store_op s"
                   " ON lower(hex(s.hash))=o.hash WHERE o.kind='attest' AND"
                   " o.payload IS NULL AND s.seq>=(SELECT value FROM"
                   " bec_store_config WHERE key='cut_band') AND s.seq<(SELECT"
                   " value FROM bec_store_config WHERE key='cut_top')")==1,
            "B's attest of J is a band op, a header: %s", bt_q(dbJ,
            "SELECT group_concat(kind) FROM bec_ops"));
  CHECK_MSG(strcmp(bt_q(dbJ, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ, "SELECT bec_check()"));
  sqlite3_close(dbJ);
  install_and_follow(zDir, "ba", dbA, iK, BAND_VIEW, aSnap, nSnap);
  free(aSnap);
  sqlite3_close(dbB);
  sqlite3_close(dbD);
  CHECK(sqlite3_close(dbA)==SQLITE_OK);
}
