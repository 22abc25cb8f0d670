/*
** test_band.c - the band of cut headers: an installed replica stores an op
** concurrent with K (docs/compaction.md "The band"; bec_snapshot.c
** bec_snapshot_band, bec_install.c place_band, bec_graph.c
** bec_graph_band_check, bec_dag.c "An op concurrent with K").
**
** A (admin) creates a group and a table, adds B, D and F (members); F
** holds only that much.  A writes more, D takes it and goes offline; A and
** B write concurrently (a conflict, a delete, a counter) for two rounds; D,
** offline, writes four ops (concurrent with what follows); A names K,
** sealed by its own claim (k = 1).  Then A receives D's ops, A and B write
** after K.  A's snapshot carries a band (D's ops are concurrent with K).
** It is installed on J1 and J2, which then receive every op A stored after
** K (D's among them), J1 in A's order, J2 in the reverse one.  Checked:
** the band is stored as headers (pruned ops) and recorded ('cut_band'); no
** fall-back happens ('rejoin_op' unset), D's ops are stored as concurrent
** with K; each joiner's rows, losers by op id, members with their covers
** and the validity of every op it holds, by id, are A's; bec_check()
** passes.  F's op, written on the state F held (below the band), is not
** placed: the replica that receives it falls back to a full join.  A
** snapshot of a history without a concurrent op has no band.
**
** A longer band (test_extend; docs/compaction.md "A longer band"): A,
** which never held F's op, builds with bec_band() the band that places an
** op naming F's op's predecessors; J5, which installed A's snapshot and
** stored everything A stored after K, refuses a band with a gap, a wrong
** proof, a header not in the cut (in place of a band op, or added), the
** lowest band op left out (not a suffix), and one no longer than its own
** (each with its message, nothing changed), installs the good one (installed again: the
** ops after K accepted again), and then stores F's op without a fall-back;
** J6 installs the band first and takes the ops in reverse.  Both end as A
** once A holds F's op: rows, losers, members, validity by id.  (The
** band J5 installs is longer than the snapshot's: A's snapshot placed D's
** ops; F's op needs the cut below them.)
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>
#include <unistd.h>

/* A new database zName in zDir joining group zGid (0: none) with a key. */
static sqlite3 *open_db(const char *zDir, const char *zName, const char *zGid){
  sqlite3 *db = 0;
  char zPath[120], zSql[200];
  snprintf(zPath, sizeof(zPath), "%s/%s", zDir, zName);
  CHECK(sqlite3_open(zPath, &db)==SQLITE_OK);
  bt_exec(db, "SELECT bec_keygen()");
  if( zGid ){
    snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')", zGid);
    bt_exec(db, zSql);
  }
  return db;
}

static void add_member(sqlite3 *dbA, sqlite3 *db){
  char zSql[200];
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')",
           bt_q(db, "SELECT bec_pubkey()"));
  bt_exec(dbA, zSql);
}

/* What a replica shows, by op id: rows, losers (bCut: a loser held as a
** stand-in by its id), members with covers (sqlite3_free it). */
static char *shown(sqlite3 *db, int bCut){
  char *z = sqlite3_mprintf("%s", bt_q(db, "SELECT group_concat(x, '|') FROM"
      " (SELECT quote(id)||','||quote(v)||','||quote(n) x FROM t ORDER BY id)"));
  char *zQ = sqlite3_mprintf("SELECT group_concat(x, '|')"
      " FROM (SELECT quote(c.pk)||','||c.col||','||quote(c.value)||','"
      "||hex(coalesce(o.hash, %s))"
      " x FROM bec_store_conflict c LEFT JOIN bec_store_op o ON o.seq=c.seq"
      " ORDER BY 1)", bCut ? "(SELECT id FROM bec_store_cut k WHERE k.seq=c.seq)"
                           : "NULL");
  z = sqlite3_mprintf("%z\nconflicts %s", z, bt_q(db, zQ));
  sqlite3_free(zQ);
  z = sqlite3_mprintf("%z\nmembers %s", z, bt_q(db, "SELECT group_concat(x, '|')"
      " FROM (SELECT hex(pubkey)||','||role||','||cover x FROM bec_store_member"
      " ORDER BY 1)"));
  return z;
}

/* The ops db holds whose validity differs from A's (file zA), by id, and
** the ops A stored after K (seq iK) that db lacks. */
static int validity_diff(sqlite3 *db, const char *zA, int iK){
  char zSql[200];
  int n;
  snprintf(zSql, sizeof(zSql), "ATTACH '%s' AS a", zA);
  bt_exec(db, zSql);
  n = bt_int(db, "SELECT count(*) FROM bec_store_op j JOIN a.bec_store_op o"
                 " ON o.hash=j.hash WHERE o.valid IS NOT j.valid");
  snprintf(zSql, sizeof(zSql), "SELECT count(*) FROM a.bec_store_op o WHERE"
           " o.seq>%d AND o.hash NOT IN (SELECT hash FROM main.bec_store_op)", iK);
  n += bt_int(db, zSql);
  bt_exec(db, "DETACH a");
  return n;
}

/* Band section a[0..n-1] split: *pnBand headers (framed) from *piHead,
** then the proofs from *piProof (count included). */
static void band_split(const u8 *a, i64 n, u64 *pnBand, i64 *aHeadOff,
                       i64 *aHeadLen, i64 *piProof){
  BecReader rd;
  u64 i, m = 0;
  const u8 *x = 0;
  rd.a = a; rd.n = n; rd.i = 0;
  CHECK(bec_read_varint(&rd, pnBand, 1000)==SQLITE_OK);
  for(i=0; i<*pnBand; i++){
    i64 i0 = rd.i;
    CHECK(bec_read_varint(&rd, &m, (u64)n)==SQLITE_OK);
    CHECK(bec_read_bytes(&rd, (i64)m, &x)==SQLITE_OK);
    aHeadOff[i] = i0;
    aHeadLen[i] = rd.i - i0;
  }
  *piProof = rd.i;
}

/* bec_band_install(a[0..n-1]) on db: "" if installed, else the error. */
static char *band_install(sqlite3 *db, const u8 *a, i64 n){
  sqlite3_stmt *pS = 0;
  char *z = 0;
  CHECK(sqlite3_prepare_v2(db, "SELECT bec_band_install(?1)", -1, &pS, 0)==SQLITE_OK);
  sqlite3_bind_blob(pS, 1, a, (int)n, SQLITE_STATIC);
  if( sqlite3_step(pS)==SQLITE_ROW ) z = sqlite3_mprintf("");
  else z = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  sqlite3_finalize(pS);
  return z;
}

/* Expects band a[0..n-1] refused on db with a message holding zWant, and
** nothing changed (the band, bec_check). */
static void refused(sqlite3 *db, const u8 *a, i64 n, const char *zWant){
  char *z = band_install(db, a, n);
  int iBand = bt_int(db, "SELECT value FROM bec_store_config WHERE key='cut_band'");
  CHECK_MSG(strstr(z, zWant)!=0, "wanted '%s', got '%s'", zWant, z);
  if( getenv("BEC_BAND_SHOW") ) printf("refused: %s\n", z);
  sqlite3_free(z);
  z = band_install(db, 0, 0);    /* (not a blob) */
  CHECK(strstr(z, "a band is a blob")!=0);
  sqlite3_free(z);
  CHECK(bt_int(db, "SELECT value FROM bec_store_config WHERE key='cut_band'")==iBand);
  CHECK(strcmp(bt_q(db, "SELECT bec_check()"), "ok")==0);
}

/* docs/compaction.md "A longer band" (header comment). */
static void test_extend(const char *zDir, const char *zGid, sqlite3 *dbA,
                        const char *zA, int iK, const u8 *aSnap, i64 nSnap,
                        const u8 *aF, int nBodyF){
  char zJ5[120], zJ6[120], zSql[400], zK[80];
  char *zWhy = 0, *z, *zSA, *zSJ;
  sqlite3 *dbJ5, *dbJ6;
  sqlite3_stmt *pS = 0;
  BecOp f, after;
  u8 *aBand = 0, *aBad = 0, *aAfter = 0;
  i64 nBand = 0, aOff[1000], aLen[1000], iProof = 0;
  u64 nB = 0, nOld = 0;
  int iBandOld, i, nAfter = 0, iDepth = 0;
  u8 aId[BEC_HASH_BYTES];
  char *zE = 0;

  snprintf(zJ5, sizeof(zJ5), "%s/j5.db", zDir);
  snprintf(zJ6, sizeof(zJ6), "%s/j6.db", zDir);
  snprintf(zK, sizeof(zK), "%s", bt_q(dbA, "SELECT hex(hash) FROM bec_store_op"
           " WHERE seq=(SELECT max(seq) FROM bec_store_op WHERE kind=19)"));
  (void)iK;
  /* F's op's predecessors: what J5 asks about. */
  CHECK(bec_op_decode(aF, nBodyF, &f, &zE)==SQLITE_OK);
  sqlite3_free(zE); zE = 0;
  snprintf(zSql, sizeof(zSql), "SELECT bec_band('%s', ?1)", zK);
  CHECK(sqlite3_prepare_v2(dbA, zSql, -1, &pS, 0)==SQLITE_OK);
  sqlite3_bind_blob(pS, 1, f.aPred, f.nPred*BEC_HASH_BYTES, SQLITE_STATIC);
  CHECK_MSG(sqlite3_step(pS)==SQLITE_ROW, "bec_band: %s", sqlite3_errmsg(dbA));
  nBand = sqlite3_column_bytes(pS, 0);
  aBand = malloc((size_t)nBand + 1);
  memcpy(aBand, sqlite3_column_blob(pS, 0), (size_t)nBand);
  sqlite3_finalize(pS);
  band_split(aBand, nBand, &nB, aOff, aLen, &iProof);

  /* J5: installed, every op A stored after K. */
  dbJ5 = bt_install_on(zJ5, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy==0, "J5 not installed: %s", zWhy);
  sqlite3_free(zWhy); zWhy = 0;
  bt_copy_ops(dbA, dbJ5, iK, 0);
  iBandOld = bt_int(dbJ5, "SELECT value FROM bec_store_config WHERE key='cut_band'");
  nOld = (u64)(bt_int(dbJ5, "SELECT value FROM bec_store_config WHERE key='cut_top'")
               - iBandOld);
  CHECK_MSG(nB>nOld+1, "band %llu ops, installed %llu", (unsigned long long)nB,
            (unsigned long long)nOld);
  /* An installed replica builds none. */
  snprintf(zSql, sizeof(zSql), "SELECT bec_band('%s')", zK);
  CHECK(strstr(bt_q(dbJ5, zSql), "installed a snapshot")!=0);

  /* A gap: a header left out (the middle one). */
  aBad = malloc((size_t)nBand + 64);
  {
    BecBuf b;
    int rc = SQLITE_OK;
    u64 k = nB/2;
    memset(&b, 0, sizeof(b));
    bec_buf_append_varint(&b, nB-1, &rc);
    for(i=0; i<(int)nB; i++){
      if( (u64)i!=k ) bec_buf_append(&b, aBand+aOff[i], aLen[i], &rc);
    }
    bec_buf_append(&b, aBand+iProof, nBand-iProof, &rc);
    refused(dbJ5, b.a, b.n, "the band is refused: not a suffix of the ops section");
    bec_buf_free(&b);
  }
  /* A wrong proof: the last byte of the last audit path. */
  memcpy(aBad, aBand, (size_t)nBand);
  aBad[nBand-1] ^= 1;
  refused(dbJ5, aBad, nBand, "an op's leaf is not in the ops root");
  /* A header not in the cut: an op after K in place of the first. */
  {
    BecBuf b;
    int rc = SQLITE_OK;
    aAfter = bt_op_of(dbA, iK+1, aId, &iDepth, &nAfter);
    CHECK(bec_op_decode_header(aAfter, nAfter, &after, &zE)==SQLITE_OK);
    sqlite3_free(zE); zE = 0;
    memset(&b, 0, sizeof(b));
    bec_buf_append_varint(&b, nB, &rc);
    bec_buf_append_framed(&b, after.aHeader, after.nHeader, &rc);
    for(i=1; i<(int)nB; i++) bec_buf_append(&b, aBand+aOff[i], aLen[i], &rc);
    bec_buf_append(&b, aBand+iProof, nBand-iProof, &rc);
    refused(dbJ5, b.a, b.n, "the band is refused: not in a topological order");
    /* and added to the band */
    b.n = 0;
    bec_buf_append_varint(&b, nB+1, &rc);
    for(i=0; i<(int)nB; i++) bec_buf_append(&b, aBand+aOff[i], aLen[i], &rc);
    bec_buf_append_framed(&b, after.aHeader, after.nHeader, &rc);
    bec_buf_append(&b, aBand+iProof, nBand-iProof, &rc);
    refused(dbJ5, b.a, b.n, "the band is refused: an op is not reachable from K "
                            "through the band");
    bec_buf_free(&b);
  }
  /* Not a suffix: the lowest headers left out, their proofs kept (each a
  ** proof of an op neither in the band nor on its boundary, or a band op
  ** below others left out of it). */
  {
    BecBuf b;
    int rc = SQLITE_OK;
    memset(&b, 0, sizeof(b));
    bec_buf_append_varint(&b, nB-1, &rc);
    for(i=1; i<(int)nB; i++) bec_buf_append(&b, aBand+aOff[i], aLen[i], &rc);
    bec_buf_append(&b, aBand+iProof, nBand-iProof, &rc);
    refused(dbJ5, b.a, b.n, "the band is refused: a proof of an op neither in "
                            "the band nor on its boundary");
    bec_buf_free(&b);
  }
  /* No longer than the installed band: A's band without the ops asked
  ** about is the snapshot's (A holds no more concurrent ops). */
  snprintf(zSql, sizeof(zSql), "SELECT bec_band('%s')", zK);
  CHECK(sqlite3_prepare_v2(dbA, zSql, -1, &pS, 0)==SQLITE_OK);
  CHECK(sqlite3_step(pS)==SQLITE_ROW);
  refused(dbJ5, sqlite3_column_blob(pS, 0), sqlite3_column_bytes(pS, 0),
          "ops, no longer than the ");
  sqlite3_finalize(pS);

  /* The good band: installed again, then F's op is placed. */
  z = band_install(dbJ5, aBand, nBand);
  CHECK_MSG(z[0]==0, "band refused: %s", z);
  sqlite3_free(z);
  CHECK((u64)(bt_int(dbJ5, "SELECT value FROM bec_store_config WHERE key='cut_top'")
              - bt_int(dbJ5, "SELECT value FROM bec_store_config WHERE key='cut_band'"))==nB);
  CHECK_MSG(strcmp(bt_q(dbJ5, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ5, "SELECT bec_check()"));
  CHECK(sqlite3_prepare_v2(dbJ5, "SELECT bec_ingest(?1)", -1, &pS, 0)==SQLITE_OK);
  sqlite3_bind_blob(pS, 1, aF, nBodyF, SQLITE_STATIC);
  sqlite3_step(pS);
  sqlite3_finalize(pS);
  CHECK_MSG(bt_int(dbJ5, "SELECT count(*) FROM bec_store_config WHERE key IN"
                         " ('rejoined', 'rejoin_op') AND value IS NOT NULL")==0,
            "J5 fell back");
  CHECK(bt_int(dbJ5, "SELECT count(*) FROM bec_store_pending")==0);

  /* J6: the band first, then the ops after K in reverse, then F's op. */
  dbJ6 = bt_install_on(zJ6, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy==0, "J6 not installed: %s", zWhy);
  sqlite3_free(zWhy); zWhy = 0;
  z = band_install(dbJ6, aBand, nBand);
  CHECK_MSG(z[0]==0, "band refused on J6: %s", z);
  sqlite3_free(z);
  bt_copy_ops(dbA, dbJ6, iK, 1);
  bt_copy_ops(dbA, dbJ6, iK, 0);
  CHECK(sqlite3_prepare_v2(dbJ6, "SELECT bec_ingest(?1)", -1, &pS, 0)==SQLITE_OK);
  sqlite3_bind_blob(pS, 1, aF, nBodyF, SQLITE_STATIC);
  sqlite3_step(pS);
  sqlite3_finalize(pS);
  CHECK_MSG(bt_int(dbJ6, "SELECT count(*) FROM bec_store_config WHERE key IN"
                         " ('rejoined', 'rejoin_op') AND value IS NOT NULL")==0,
            "J6 fell back");

  /* A, once it holds F's op: the same state. */
  CHECK(sqlite3_prepare_v2(dbA, "SELECT bec_ingest(?1)", -1, &pS, 0)==SQLITE_OK);
  sqlite3_bind_blob(pS, 1, aF, nBodyF, SQLITE_STATIC);
  sqlite3_step(pS);
  sqlite3_finalize(pS);
  zSA = shown(dbA, 0);
  zSJ = shown(dbJ5, 1);
  CHECK_MSG(strcmp(zSA, zSJ)==0, "J5 shows\n%s\nA shows\n%s", zSJ, zSA);
  sqlite3_free(zSJ);
  zSJ = shown(dbJ6, 1);
  CHECK_MSG(strcmp(zSA, zSJ)==0, "J6 shows\n%s\nA shows\n%s", zSJ, zSA);
  sqlite3_free(zSJ);
  sqlite3_free(zSA);
  CHECK_MSG(validity_diff(dbJ5, zA, iK)==0, "J5's validity");
  CHECK_MSG(validity_diff(dbJ6, zA, iK)==0, "J6's validity");
  CHECK_MSG(strcmp(bt_q(dbJ6, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ6, "SELECT bec_check()"));
  free(aBand);
  free(aBad);
  free(aAfter);
  CHECK(sqlite3_close(dbJ5)==SQLITE_OK);
  CHECK(sqlite3_close(dbJ6)==SQLITE_OK);
}

int main(void){
  char zDir[] = "/tmp/bec-test-band-XXXXXX";
  char zA[120], zJ1[120], zJ2[120], zJ3[120], zJ4[120], zGid[80], zSql[300];
  sqlite3 *dbA, *dbB, *dbD, *dbF, *dbJ1, *dbJ2, *dbJ3;
  u8 *aSnap = 0, *aF = 0;
  i64 nSnap = 0;
  char *zWhy = 0, *zSA, *zSJ;
  int iK, nA, nD0, nF, iDepth = 0, nBodyF = 0;
  u8 aId[BEC_HASH_BYTES];

  bec_crypto_init();
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( mkdtemp(zDir)==0 ) return 1;
  snprintf(zA, sizeof(zA), "%s/a.db", zDir);
  snprintf(zJ1, sizeof(zJ1), "%s/j1.db", zDir);
  snprintf(zJ2, sizeof(zJ2), "%s/j2.db", zDir);
  snprintf(zJ3, sizeof(zJ3), "%s/j3.db", zDir);
  snprintf(zJ4, sizeof(zJ4), "%s/j4.db", zDir);

  /* The group, the table, three members; F holds this much only. */
  dbA = open_db(zDir, "a.db", 0);
  bt_exec(dbA, "SELECT bec_create_group();"
      "CREATE VIRTUAL TABLE t USING bec(id TEXT PRIMARY KEY, v TEXT,"
      " n INTEGER COUNTER);"
      "INSERT INTO t(id, v, n) VALUES('r1', 'one', 1), ('r2', 'two', 2),"
      " ('r3', 'three', 3), ('r4', 'four', 4);");
  snprintf(zGid, sizeof(zGid), "%s", bt_q(dbA, "SELECT bec_group_id()"));
  dbB = open_db(zDir, "b.db", zGid);
  dbD = open_db(zDir, "d.db", zGid);
  dbF = open_db(zDir, "f.db", zGid);
  add_member(dbA, dbB);
  add_member(dbA, dbD);
  add_member(dbA, dbF);
  bt_copy_ops(dbA, dbF, 0, 0);
  /* More by A; D takes it and goes offline. */
  bt_exec(dbA, "UPDATE t SET v='a1' WHERE id='r1'; INSERT INTO t(id, v) VALUES('r5', 'five');");
  bt_copy_ops(dbA, dbB, 0, 0);
  bt_copy_ops(dbA, dbD, 0, 0);
  nD0 = bt_int(dbD, "SELECT max(seq) FROM bec_store_op");
  /* A and B concurrently, two rounds. */
  bt_exec(dbA, "UPDATE t SET v='a-side' WHERE id='r2'; UPDATE t SET n=n+1 WHERE id='r4';");
  bt_exec(dbB, "UPDATE t SET v='b-side' WHERE id='r2'; DELETE FROM t WHERE id='r3';");
  bt_copy_ops(dbB, dbA, 0, 0);
  bt_copy_ops(dbA, dbB, 0, 0);
  bt_exec(dbA, "INSERT INTO t(id, v) VALUES('r6', 'six');");
  bt_exec(dbB, "UPDATE t SET v='b5', n=n+2 WHERE id='r5';");
  bt_copy_ops(dbB, dbA, 0, 0);
  bt_copy_ops(dbA, dbB, 0, 0);
  /* D, offline: four ops concurrent with everything since. */
  bt_exec(dbD, "UPDATE t SET v='d-side' WHERE id='r1';");
  bt_exec(dbD, "UPDATE t SET n=n+5 WHERE id='r4';");
  bt_exec(dbD, "INSERT INTO t(id, v) VALUES('r7', 'seven');");
  bt_exec(dbD, "DELETE FROM t WHERE id='r5';");
  /* K, sealed by A's claim. */
  bt_exec(dbA, "SELECT bec_checkpoint()");
  iK = bt_int(dbA, "SELECT max(seq) FROM bec_store_op WHERE kind=19");
  CHECK(bt_int(dbA, "SELECT count(*) FROM bec_store_checkpoint WHERE sealed>0")==1);
  /* After K: A receives D's ops; A and B write. */
  bt_copy_ops(dbD, dbA, nD0, 0);
  CHECK(bt_int(dbA, "SELECT min(seq) FROM bec_store_op WHERE author=(SELECT author"
                    " FROM bec_store_op WHERE kind=6 ORDER BY seq DESC LIMIT 1)"
                    " AND kind=6")>iK);
  bt_copy_ops(dbA, dbB, 0, 0);
  bt_exec(dbB, "UPDATE t SET v='b-after' WHERE id='r6';");
  bt_exec(dbA, "UPDATE t SET v='a-after' WHERE id='r7'; UPDATE t SET n=n+10 WHERE id='r1';");
  bt_copy_ops(dbB, dbA, 0, 0);
  nA = bt_int(dbA, "SELECT max(seq) FROM bec_store_op");
  (void)nA;
  /* F, on the state it held (below the band): kept from A. */
  bt_exec(dbF, "INSERT INTO t(id, v) VALUES('r8', 'eight');");
  nF = bt_int(dbF, "SELECT max(seq) FROM bec_store_op");
  aF = bt_op_of(dbF, nF, aId, &iDepth, &nBodyF);

  /* A's snapshot: installed on J1 and J2. */
  aSnap = bt_blob_of(dbA, "SELECT bec_snapshot()", &nSnap);
  dbJ1 = bt_install_on(zJ1, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy==0, "J1 not installed: %s", zWhy);
  sqlite3_free(zWhy); zWhy = 0;
  dbJ2 = bt_install_on(zJ2, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy==0, "J2 not installed: %s", zWhy);
  sqlite3_free(zWhy); zWhy = 0;
  /* The band: stored as headers (pruned writes), above the rest of the cut,
  ** below K. */
  CHECK_MSG(bt_int(dbJ1, "SELECT value FROM bec_store_config WHERE key='cut_band'")>1,
            "cut_band %s", bt_q(dbJ1, "SELECT value FROM bec_store_config WHERE key='cut_band'"));
  CHECK_MSG(bt_int(dbJ1, "SELECT count(*) FROM bec_store_op WHERE kind=6"
                         " AND seq>=(SELECT value FROM bec_store_config WHERE key='cut_band')"
                         " AND seq<(SELECT value FROM bec_store_config WHERE key='cut_top')")>0,
            "band writes %s", bt_q(dbJ1, "SELECT count(*) FROM bec_store_op WHERE kind=6"));
  CHECK(bt_int(dbJ1, "SELECT count(*) FROM bec_store_cut WHERE seq>=(SELECT value"
                     " FROM bec_store_config WHERE key='cut_band')")==0);
  CHECK_MSG(strcmp(bt_q(dbJ1, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ1, "SELECT bec_check()"));

  /* Everything A stored after K, in two orders. */
  bt_copy_ops(dbA, dbJ1, iK, 0);
  bt_copy_ops(dbA, dbJ2, iK, 1);
  bt_copy_ops(dbA, dbJ2, iK, 0);        /* what waited for a predecessor */
  CHECK_MSG(bt_int(dbJ1, "SELECT count(*) FROM bec_store_config WHERE key='rejoin_op'"
                         " AND value IS NOT NULL")==0, "J1 fell back");
  CHECK_MSG(bt_int(dbJ2, "SELECT count(*) FROM bec_store_config WHERE key='rejoin_op'"
                         " AND value IS NOT NULL")==0, "J2 fell back");
  CHECK_MSG(bt_int(dbJ1, "SELECT count(*) FROM bec_store_cut_conc")==4,
            "concurrent ops stored: %s", bt_q(dbJ1, "SELECT count(*) FROM bec_store_cut_conc"));
  CHECK(bt_int(dbJ1, "SELECT count(*) FROM bec_store_pending")==0);
  CHECK(bt_int(dbJ2, "SELECT count(*) FROM bec_store_pending")==0);
  zSA = shown(dbA, 0);
  zSJ = shown(dbJ1, 1);
  CHECK_MSG(strcmp(zSA, zSJ)==0, "J1 shows\n%s\nA shows\n%s", zSJ, zSA);
  sqlite3_free(zSJ);
  zSJ = shown(dbJ2, 1);
  CHECK_MSG(strcmp(zSA, zSJ)==0, "J2 shows\n%s\nA shows\n%s", zSJ, zSA);
  sqlite3_free(zSJ);
  sqlite3_free(zSA);
  CHECK_MSG(validity_diff(dbJ1, zA, iK)==0, "J1's validity");
  CHECK_MSG(validity_diff(dbJ2, zA, iK)==0, "J2's validity");
  CHECK_MSG(strcmp(bt_q(dbJ1, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ1, "SELECT bec_check()"));
  CHECK_MSG(strcmp(bt_q(dbJ2, "SELECT bec_check()"), "ok")==0, "bec_check: %s",
            bt_q(dbJ2, "SELECT bec_check()"));

  /* F's op reaches below the band: the replica falls back. */
  dbJ3 = bt_install_on(zJ3, zGid, aSnap, nSnap, &zWhy);
  CHECK_MSG(zWhy==0, "J3 not installed: %s", zWhy);
  sqlite3_free(zWhy); zWhy = 0;
  {
    sqlite3_stmt *pS = 0;
    CHECK(sqlite3_prepare_v2(dbJ3, "SELECT bec_ingest(?1)", -1, &pS, 0)==SQLITE_OK);
    sqlite3_bind_blob(pS, 1, aF, nBodyF, SQLITE_STATIC);
    sqlite3_step(pS);
    sqlite3_finalize(pS);
  }
  CHECK_MSG(bt_int(dbJ3, "SELECT count(*) FROM bec_store_config WHERE key='rejoined'"
                         " AND value=1")==1, "F's op: no fall-back");
  sqlite3_close(dbJ3);

  /* A longer band, asked for F's op (A never held it). */
  test_extend(zDir, zGid, dbA, zA, iK, aSnap, nSnap, aF, nBodyF);

  /* No concurrent op held: no band, the install as before. */
  {
    sqlite3 *dbP = open_db(zDir, "p.db", 0), *dbJ4;
    u8 *aS;
    i64 nS = 0;
    char zGidP[80];
    bt_exec(dbP, "SELECT bec_create_group();"
              "CREATE VIRTUAL TABLE t USING bec(id TEXT PRIMARY KEY, v TEXT);"
              "INSERT INTO t VALUES('x', 'y'); SELECT bec_checkpoint();");
    snprintf(zGidP, sizeof(zGidP), "%s", bt_q(dbP, "SELECT bec_group_id()"));
    aS = bt_blob_of(dbP, "SELECT bec_snapshot()", &nS);
    CHECK(nS>2 && aS[nS-1]==0 && aS[nS-2]==0);     /* an empty band */
    dbJ4 = bt_install_on(zJ4, zGidP, aS, nS, &zWhy);
    CHECK_MSG(zWhy==0, "J4 not installed: %s", zWhy);
    sqlite3_free(zWhy); zWhy = 0;
    /* an empty band starts at K: K keeps its own edges */
    CHECK(bt_int(dbJ4, "SELECT value FROM bec_store_config WHERE key='cut_band'")
          ==bt_int(dbJ4, "SELECT value FROM bec_store_config WHERE key='cut_top'"));
    free(aS);
    sqlite3_close(dbJ4);
    sqlite3_close(dbP);
  }

  free(aSnap);
  free(aF);
  CHECK(sqlite3_close(dbA)==SQLITE_OK);
  CHECK(sqlite3_close(dbB)==SQLITE_OK);
  CHECK(sqlite3_close(dbD)==SQLITE_OK);
  CHECK(sqlite3_close(dbF)==SQLITE_OK);
  CHECK(sqlite3_close(dbJ1)==SQLITE_OK);
  CHECK(sqlite3_close(dbJ2)==SQLITE_OK);
  snprintf(zSql, sizeof(zSql), "rm -rf %s", zDir);
  CHECK(system(zSql)==0);
  return bt_done();
}
