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
** that fails a check, a snapshot with member names (not installed yet: the
** join replays).
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>
#include <unistd.h>

static void exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  CHECK_MSG(rc==SQLITE_OK, "%s: %s", zSql, zErr ? zErr : "");
  sqlite3_free(zErr);
}

static int int_of(sqlite3 *db, const char *zSql){
  return atoi(bt_q(db, zSql));
}

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

int main(void){
  char zDir[] = "/tmp/bec-test-install-XXXXXX";
  char zA[80], zB[80], zJ1[80], zJ2[80], zJ3[80], zC[80], zN[80];
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
  snprintf(zN, sizeof(zN), "%s/n.db", zDir);

  /* A's history: two tables, B added, concurrent writes. */
  CHECK(sqlite3_open(zA, &dbA)==SQLITE_OK);
  exec(dbA, "SELECT bec_keygen(); SELECT bec_create_group();"
      "CREATE VIRTUAL TABLE t USING bec(id TEXT PRIMARY KEY, v TEXT,"
      " n INTEGER COUNTER);"
      "CREATE VIRTUAL TABLE u USING bec(a INTEGER PRIMARY KEY, b);"
      "INSERT INTO t(id, v, n) VALUES('r1', 'one', 1), ('r2', 'two', 2),"
      " ('r3', 'three', 3);"
      "INSERT INTO u VALUES(1, 'x'), (2, x'0102');");
  snprintf(zGid, sizeof(zGid), "%s", bt_q(dbA, "SELECT bec_group_id()"));
  CHECK(sqlite3_open(zB, &dbB)==SQLITE_OK);
  snprintf(zSql, sizeof(zSql), "SELECT bec_keygen(); SELECT bec_join('%s')", zGid);
  exec(dbB, zSql);
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')",
           bt_q(dbB, "SELECT bec_pubkey()"));
  exec(dbA, zSql);
  bt_copy_ops(dbA, dbB, 0, 0);
  nBase = int_of(dbA, "SELECT max(seq) FROM bec_store_op");
  exec(dbA, "UPDATE t SET v='a-side' WHERE id='r1'; UPDATE t SET n=n+3 WHERE id='r2';"
            "INSERT INTO t(id, v) VALUES('new', 'A'); UPDATE u SET b='ua' WHERE a=1;");
  nA = int_of(dbA, "SELECT max(seq) FROM bec_store_op");
  exec(dbB, "UPDATE t SET v='b-side' WHERE id='r1'; UPDATE t SET n=n+2 WHERE id='r2';"
            "INSERT INTO t(id, v) VALUES('new', 'B'); DELETE FROM t WHERE id='r3';");
  bt_copy_ops(dbB, dbA, nBase, 0);
  (void)nA;
  /* an ADD COLUMN and a RENAME in the cut: the rows' leaves are read
  ** against the table as shown at K */
  exec(dbA, "SELECT bec_alter('t', 'ADD COLUMN w REAL DEFAULT 1.5');"
            "SELECT bec_alter('u', 'RENAME COLUMN b TO bb');"
            "UPDATE t SET w=2.5 WHERE id='r2';");

  /* K, sealed by A's claim (k = 1); ops after it on both sides. */
  exec(dbA, "SELECT bec_checkpoint()");
  iK = int_of(dbA, "SELECT max(seq) FROM bec_store_op");
  CHECK(int_of(dbA, "SELECT sealed FROM bec_checkpoints ORDER BY rowid DESC LIMIT 1")>=1
        || int_of(dbA, "SELECT count(*) FROM bec_store_checkpoint WHERE sealed>0")==1);
  bt_copy_ops(dbA, dbB, 0, 0);
  exec(dbB, "UPDATE t SET v='b-after' WHERE id='r2'; UPDATE t SET n=n+10 WHERE id='r1';");
  exec(dbA, "INSERT INTO t(id, v) VALUES('after', 'K'); UPDATE u SET bb=7 WHERE a=2;");
  CHECK(sqlite3_open(zC, &dbC)==SQLITE_OK);
  exec(dbC, "SELECT bec_keygen()");
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'admin')",
           bt_q(dbC, "SELECT bec_pubkey()"));
  exec(dbA, zSql);
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

  /* The cut as stand-ins; bodies only of the chain, K and its claim. */
  CHECK_MSG(int_of(dbJ1, "SELECT count(*) FROM bec_store_cut")>=8,
            "stand-ins: %s", bt_q(dbJ1, "SELECT count(*) FROM bec_store_cut"));
  CHECK_MSG(int_of(dbJ1, "SELECT count(*) FROM bec_store_op WHERE kind=6")==0,
            "writes stored: %s", bt_q(dbJ1, "SELECT count(*) FROM bec_store_op WHERE kind=6"));
  CHECK(int_of(dbJ1, "SELECT count(*) FROM bec_store_op")
        == int_of(dbA, "SELECT count(*) FROM bec_store_op WHERE kind IN (1,2,3,5,22)"
                       " AND seq<(SELECT seq FROM bec_store_op WHERE kind=19)") + 1);
  snprintf(zSql, sizeof(zSql), "SELECT seq FROM bec_store_op WHERE hash=(SELECT hash"
           " FROM bec_store_op WHERE kind=19)");
  CHECK_MSG(int_of(dbJ1, "SELECT value FROM bec_store_config WHERE key='prune_checkpoint'")
            == int_of(dbJ1, zSql), "prune_checkpoint %s",
            bt_q(dbJ1, "SELECT value FROM bec_store_config WHERE key='prune_checkpoint'"));
  CHECK_MSG(int_of(dbJ1, "SELECT sealed FROM bec_store_checkpoint")==1,
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
  exec(dbJ1, zSql);
  exec(dbJ2, zSql);
  CHECK_MSG(int_of(dbJ1, "SELECT count(*) FROM bec_store_op j JOIN a.bec_store_op o"
                         " ON o.hash=j.hash WHERE o.valid IS NOT j.valid")==0,
            "validity differs: %s", bt_q(dbJ1, "SELECT count(*) FROM bec_store_op j"
            " JOIN a.bec_store_op o ON o.hash=j.hash WHERE o.valid IS NOT j.valid"));
  CHECK(int_of(dbJ1, "SELECT count(*) FROM a.bec_store_op o WHERE o.seq>(SELECT seq"
                     " FROM a.bec_store_op WHERE kind=19) AND o.hash NOT IN"
                     " (SELECT hash FROM main.bec_store_op)")==0);
  CHECK(int_of(dbJ2, "SELECT count(*) FROM bec_store_op j JOIN a.bec_store_op o"
                     " ON o.hash=j.hash WHERE o.valid IS NOT j.valid")==0);
  exec(dbJ1, "DETACH a");
  exec(dbJ2, "DETACH a");
  CHECK_MSG(strcmp(bt_q(dbJ1, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ1, "SELECT bec_check()"));
  CHECK_MSG(strcmp(bt_q(dbJ2, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ2, "SELECT bec_check()"));

  /* Refused, nothing stored: a database that holds ops. */
  {
    sqlite3_stmt *pS = 0;
    int nOp = int_of(dbJ1, "SELECT count(*) FROM bec_store_op");
    CHECK(sqlite3_prepare_v2(dbJ1, "SELECT bec_snapshot_install(?1)", -1, &pS, 0)==SQLITE_OK);
    sqlite3_bind_blob(pS, 1, aSnap, (int)nSnap, SQLITE_STATIC);
    CHECK(sqlite3_step(pS)==SQLITE_ERROR);
    CHECK_MSG(strstr(sqlite3_errmsg(dbJ1), "holds ops")!=0, "%s", sqlite3_errmsg(dbJ1));
    sqlite3_finalize(pS);
    CHECK(int_of(dbJ1, "SELECT count(*) FROM bec_store_op")==nOp);
  }
  /* A snapshot that fails a check (a byte of a row leaf altered). */
  {
    u8 *aBad = malloc((size_t)nSnap);
    memcpy(aBad, aSnap, (size_t)nSnap);
    aBad[nSnap-40] ^= 0x01;
    dbJ3 = bt_install_on(zJ3, zGid, aBad, nSnap, &zWhy);
    CHECK_MSG(zWhy!=0, "an altered snapshot was installed");
    sqlite3_free(zWhy); zWhy = 0;
    CHECK(int_of(dbJ3, "SELECT count(*) FROM bec_store_op")==0);
    CHECK(int_of(dbJ3, "SELECT count(*) FROM sqlite_schema WHERE name='bec_store_cut'")==0);
    free(aBad);
    sqlite3_close(dbJ3);
  }
  /* Not installed yet: a snapshot with member names (the join replays). */
  {
    sqlite3 *dbP = 0, *dbN = 0;
    u8 *aN;
    i64 nN = 0;
    char zP[80], zGidN[80];
    snprintf(zP, sizeof(zP), "%s/p.db", zDir);
    CHECK(sqlite3_open(zP, &dbP)==SQLITE_OK);
    exec(dbP, "SELECT bec_keygen(); SELECT bec_create_group();"
              "SELECT bec_set_name('alice'); SELECT bec_checkpoint();");
    snprintf(zGidN, sizeof(zGidN), "%s", bt_q(dbP, "SELECT bec_group_id()"));
    aN = bt_blob_of(dbP, "SELECT bec_snapshot()", &nN);
    dbN = bt_install_on(zN, zGidN, aN, nN, &zWhy);
    CHECK_MSG(zWhy && strstr(zWhy, "member names") && strstr(zWhy, "replayed"),
              "%s", zWhy ? zWhy : "(installed)");
    sqlite3_free(zWhy); zWhy = 0;
    CHECK(int_of(dbN, "SELECT count(*) FROM bec_store_op")==0);
    free(aN);
    sqlite3_close(dbN);
    sqlite3_close(dbP);
  }
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
