/*
** test_base.c - the merge base from a snapshot's row leaves
** (bec_crdt_base_from_leaves, for installing a snapshot: docs/compaction.md
** "The snapshot join").  A replica pruned below K keeps S(K)'s registers as
** its merge base (bec_store_base, _base_conflict); its snapshot carries the
** same registers as the digest's row leaves.  Converting those leaves back,
** with each candidate's id turned into its seq on that replica, gives
** exactly the base it holds: every row's cells (values, r, s..), the losers
** of each register, the existence conflicts and a counter's members.  A
** leaf naming an op the replica does not know, rows out of key order and a
** truncated leaf are refused with why.  The same leaves converted into a
** database that holds no op give each candidate a stand-in of the cut
** (bec_store_cut, bec_dag_cut_seq/_prove): one per op, at its depth, with a
** proof's validity, the same base once stand-ins are read as ids.
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>
#include <unistd.h>

/* The pruned replica's seq of an id (the install's cut would give it). */
static int seq_of(void *pArg, const u8 *aId, i64 iDepth, int *piSeq){
  BecCtx *p = (BecCtx*)pArg;
  int iKind = 0, bValid = 0;
  int rc = bec_dag_seq_of(p, aId, piSeq);
  (void)iDepth;
  if( rc==SQLITE_OK && *piSeq ) rc = bec_dag_node_of(p, *piSeq, &iKind, &bValid);
  return rc;
}

/* A table of the snapshot: its create's seq on the replica and its rows. */
typedef struct SnapTable SnapTable;
struct SnapTable {
  int iSchema;
  i64 nRow;
  u8 *aRows;             /* its rows' leaves, framed (malloc: a copy) */
  i64 nRows;
};

/* bec_snapshot_tables' callback: the table's create op (its head is its
** name, then that op's id) and a copy of its rows' leaves, at most 8. */
typedef struct SnapTables SnapTables;
struct SnapTables { BecCtx *p; SnapTable *aT; int nT; };
static int snap_table(void *pArg, const u8 *aHead, i64 nHead, u64 nRow,
                      BecReader *pRows){
  SnapTables *x = (SnapTables*)pArg;
  SnapTable *t = &x->aT[x->nT];
  BecReader head;
  const u8 *aName = 0, *aId = 0;
  u64 nName = 0;
  if( x->nT>=8 ) return SQLITE_ERROR;
  head.a = aHead; head.n = nHead; head.i = 0;
  if( bec_read_varint(&head, &nName, (u64)nHead)
   || bec_read_bytes(&head, (i64)nName, &aName)
   || bec_read_bytes(&head, BEC_HASH_BYTES, &aId)
   || bec_dag_seq_of(x->p, aId, &t->iSchema) ) return SQLITE_ERROR;
  t->nRow = (i64)nRow;
  t->nRows = pRows->n - pRows->i;
  t->aRows = malloc((size_t)t->nRows + 1);
  if( t->aRows==0 ) return SQLITE_NOMEM;
  memcpy(t->aRows, pRows->a + pRows->i, (size_t)t->nRows);
  x->nT++;
  return SQLITE_OK;
}

/* The tables of snapshot a[0..n-1] (bec_snapshot_tables: every check,
** then the rows' leaves as the digest has them), or -1. */
static int snap_tables(BecCtx *p, const u8 *a, i64 n, SnapTable *aT){
  SnapTables x;
  char *zWhy = 0, *zErr = 0;
  int rc;
  x.p = p; x.aT = aT; x.nT = 0;
  rc = bec_snapshot_tables(p, a, n, snap_table, &x, &zWhy, &zErr);
  CHECK_MSG(rc==SQLITE_OK && zWhy==0, "bec_snapshot_tables: %d %s %s", rc,
            zWhy ? zWhy : "", zErr ? zErr : "");
  sqlite3_free(zWhy);
  sqlite3_free(zErr);
  return rc==SQLITE_OK ? x.nT : -1;
}

/* The base as text, row numbers left out (the leaves come in key order,
** the replica's rows in its shadow table's order). */
static char *base_text(sqlite3 *db){
  /* bt_q's buffer is static: one call per mprintf */
  char *zRows = sqlite3_mprintf("%s", bt_q(db, "SELECT group_concat(x, ',') FROM"
      " (SELECT tbl||':'||(row=0)||':'||hex(cells) x FROM bec_store_base ORDER BY 1)"));
  char *z = sqlite3_mprintf("%s|%s", zRows, bt_q(db, "SELECT group_concat(x, ',')"
      " FROM (SELECT tbl||':'||hex(pk)||':'||col||':'||seq||':'||quote(value) x"
      " FROM bec_store_base_conflict ORDER BY tbl, pk, col, seq)"));
  sqlite3_free(zRows);
  return z;
}

/* Every table's row leaves of aT[0..nT-1] into pC's merge base, each
** candidate's seq from xSeq(pArg, ...); the first failure's rc, its
** message in *pzErr. */
static int leaves_into(BecCtx *pA, const SnapTable *aT, int nT, BecCtx *pC,
                       int (*xSeq)(void*, const u8*, i64, int*), void *pArg,
                       char **pzErr){
  int i, rc = SQLITE_OK;
  for(i=0; rc==SQLITE_OK && i<nT; i++){
    BecSchema *s = 0;
    BecReader rd;
    rc = bec_crdt_load_schema(pA, aT[i].iSchema, &s, 0, pzErr);
    rd.a = aT[i].aRows; rd.n = aT[i].nRows; rd.i = 0;
    if( rc==SQLITE_OK ){
      rc = bec_crdt_base_from_leaves(pC, aT[i].iSchema, s, &rd, aT[i].nRow,
                                     xSeq, pArg, pzErr);
    }
    bec_schema_free(s);
  }
  return rc;
}

/* Converts table t's rows (bytes a[0..n-1] standing for them) into a fresh
** database; the error text, or 0 if it converted.  *pzBase: the base. */
static char *convert(BecCtx *pA, const SnapTable *t, const u8 *a, i64 n,
                     char **pzBase){
  sqlite3 *dbC = 0;
  BecCtx *pC = 0;
  BecSchema *s = 0;
  BecReader rd;
  char *zErr = 0;
  int rc;
  CHECK(sqlite3_open(":memory:", &dbC)==SQLITE_OK);
  CHECK(bec_ctx_new(dbC, &pC)==SQLITE_OK);
  rc = bec_crdt_load_schema(pA, t->iSchema, &s, 0, &zErr);
  CHECK_MSG(rc==SQLITE_OK, "%s", zErr ? zErr : "");
  rd.a = a; rd.n = n; rd.i = 0;
  if( rc==SQLITE_OK ){
    rc = bec_crdt_base_from_leaves(pC, t->iSchema, s, &rd, t->nRow, seq_of,
                                   pA, &zErr);
  }
  if( rc==SQLITE_OK ){
    sqlite3_free(zErr);
    zErr = 0;
    if( pzBase ) *pzBase = base_text(dbC);
  }else if( zErr==0 ){
    zErr = sqlite3_mprintf("rc %d", rc);
  }
  bec_schema_free(s);
  bec_ctx_unref(pC);
  sqlite3_close(dbC);
  return zErr;
}

int main(void){
  char zDir[] = "/tmp/bec-test-base-XXXXXX";
  char zA[64], zB[64], zCmd[300];
  sqlite3 *dbA = 0, *dbB = 0;
  BecCtx *pA = 0;
  SnapTable aT[8];
  u8 *aSnap = 0;
  i64 nSnap;
  char *zBase = 0, *zConv = 0, *zErr = 0;
  int nBase, nT, i, nConflict;

  bec_crypto_init();
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( mkdtemp(zDir)==0 ) return 1;
  snprintf(zA, sizeof(zA), "%s/a.db", zDir);
  snprintf(zB, sizeof(zB), "%s/b.db", zDir);

  /* A history: a key, plain columns, a counter, an added column. */
  CHECK(sqlite3_open(zA, &dbA)==SQLITE_OK);
  bt_exec(dbA, "SELECT bec_keygen(); SELECT bec_create_group();"
      "CREATE VIRTUAL TABLE t USING bec(id TEXT PRIMARY KEY, v TEXT,"
      " n INTEGER COUNTER, w REAL DEFAULT 1.5);"
      "CREATE VIRTUAL TABLE u USING bec(a INTEGER, b BLOB, c, PRIMARY KEY(a, b));"
      "INSERT INTO t(id, v, n) VALUES('r1', 'one', 1), ('r2', 'two', 2),"
      " ('r3', 'three', 3), ('r4', 'four', 4);"
      "INSERT INTO u VALUES(1, x'01', 'x'), (1, x'0102', 2.5), (-7, x'', NULL);"
      "SELECT bec_alter('t', 'ADD COLUMN x INTEGER DEFAULT 9');"
      "UPDATE t SET x=10 WHERE id='r4';");
  sqlite3_close(dbA);
  snprintf(zCmd, sizeof(zCmd), "cp %s %s && cp %s-bec-key %s-bec-key",
           zA, zB, zA, zB);
  CHECK(system(zCmd)==0);
  CHECK(sqlite3_open(zA, &dbA)==SQLITE_OK);
  CHECK(sqlite3_open(zB, &dbB)==SQLITE_OK);
  nBase = bt_int(dbA, "SELECT max(seq) FROM bec_store_op");

  /* Concurrent writes on the two copies: losers, a counter's assignment
  ** against steps, a row inserted on both sides. */
  bt_exec(dbA, "UPDATE t SET v='a-side' WHERE id='r1'; UPDATE t SET n=n+3 WHERE id='r2';"
            "UPDATE t SET n=100 WHERE id='r3'; INSERT INTO t(id, v) VALUES('new', 'A');"
            "UPDATE u SET c='ua' WHERE a=1 AND b=x'01';");
  bt_exec(dbB, "UPDATE t SET v='b-side' WHERE id='r1'; UPDATE t SET n=n+2 WHERE id='r2';"
            "UPDATE t SET n=n+5 WHERE id='r3'; INSERT INTO t(id, v) VALUES('new', 'B');"
            "UPDATE u SET c=42 WHERE a=1 AND b=x'01'; DELETE FROM t WHERE id='r4';");
  {
    int nA = bt_int(dbA, "SELECT max(seq) FROM bec_store_op");
    bt_copy_ops(dbB, dbA, nBase, 0);
    bt_copy_ops(dbA, dbB, nBase, 0);
    (void)nA;
  }
  CHECK(strcmp(bt_q(dbA, "SELECT group_concat(v) FROM t"),
               bt_q(dbB, "SELECT group_concat(v) FROM t"))==0);

  /* K, sealed (one admin), an op after it, then pruned below K. */
  bt_exec(dbA, "SELECT bec_checkpoint(); INSERT INTO t(id, v) VALUES('after', 'K');");
  CHECK(bt_int(dbA, "SELECT bec_prune()")>0);
  nConflict = bt_int(dbA, "SELECT count(*) FROM bec_store_base_conflict");
  CHECK_MSG(nConflict>=5, "conflicts in the base: %d", nConflict);
  CHECK_MSG(bt_int(dbA, "SELECT count(*) FROM bec_store_base WHERE row>0")==7,
            "rows in the base: %s", bt_q(dbA, "SELECT count(*) FROM bec_store_base"));
  CHECK(bt_int(dbA, "SELECT count(*) FROM bec_store_base_conflict WHERE col=-1")>0);
  CHECK(bt_int(dbA, "SELECT count(*) FROM bec_store_base_conflict WHERE col<-1")>0);

  /* Its snapshot's leaves, converted, are its base. */
  CHECK(bec_ctx_new(dbA, &pA)==SQLITE_OK);
  {
    sqlite3_stmt *pS = 0;
    CHECK(sqlite3_prepare_v2(dbA, "SELECT bec_snapshot()", -1, &pS, 0)==SQLITE_OK);
    CHECK_MSG(sqlite3_step(pS)==SQLITE_ROW, "%s", sqlite3_errmsg(dbA));
    nSnap = sqlite3_column_bytes(pS, 0);
    aSnap = malloc((size_t)nSnap + 1);
    if( nSnap ) memcpy(aSnap, sqlite3_column_blob(pS, 0), (size_t)nSnap);
    sqlite3_finalize(pS);
  }
  nT = snap_tables(pA, aSnap, nSnap, aT);
  CHECK_MSG(nT==2, "tables in the snapshot: %d", nT);
  zBase = base_text(dbA);
  {
    /* both tables into one database, as the install would */
    sqlite3 *dbC = 0;
    BecCtx *pC = 0;
    CHECK(sqlite3_open(":memory:", &dbC)==SQLITE_OK);
    CHECK(bec_ctx_new(dbC, &pC)==SQLITE_OK);
    {
      int rc = leaves_into(pA, aT, nT, pC, seq_of, pA, &zErr);
      CHECK_MSG(rc==SQLITE_OK, "%d %s", rc, zErr ? zErr : "");
      sqlite3_free(zErr);
      zErr = 0;
    }
    zConv = base_text(dbC);
    bec_ctx_unref(pC);
    sqlite3_close(dbC);
  }
  CHECK_MSG(strcmp(zBase, zConv)==0, "\nbase      %s\nconverted %s", zBase, zConv);
  sqlite3_free(zConv);
  zConv = 0;

  /* The same leaves into a database that holds no op, each candidate's
  ** seq a stand-in of the cut (bec_store_cut, as the install holds it):
  ** one stand-in per op, seqs 1..n, the depth the op has on the replica,
  ** and the losers exactly the replica's once stand-ins are read as ids. */
  {
    sqlite3 *dbC = 0;
    BecCtx *pC = 0;
    char zAttach[200];
    int nCut, iSeq = 0, iSeq2 = 0;
    u8 aFresh[BEC_HASH_BYTES];
    CHECK(sqlite3_open(":memory:", &dbC)==SQLITE_OK);
    CHECK(bec_ctx_new(dbC, &pC)==SQLITE_OK);
    CHECK(bec_dag_ensure_schema(pC, &zErr)==SQLITE_OK);
    CHECK(bec_dag_cut_begin(pC, &zErr)==SQLITE_OK);
    {
      int rc = leaves_into(pA, aT, nT, pC, bec_dag_cut_seq, pC, &zErr);
      CHECK_MSG(rc==SQLITE_OK, "%d %s", rc, zErr ? zErr : "");
    }
    snprintf(zAttach, sizeof(zAttach), "ATTACH '%s' AS a", zA);
    bt_exec(dbC, zAttach);
    nCut = bt_int(dbC, "SELECT count(*) FROM bec_store_cut");
    CHECK_MSG(nCut>=nConflict/2 && nCut>0, "stand-ins: %d", nCut);
    CHECK(bt_int(dbC, "SELECT min(seq)=1 AND max(seq)=count(*) FROM bec_store_cut"));
    CHECK(bt_int(dbC, "SELECT count(*) FROM bec_store_cut WHERE valid IS NOT NULL")==0);
    CHECK_MSG(bt_int(dbC, "SELECT count(*) FROM bec_store_cut k JOIN a.bec_store_op o"
                          " ON o.hash=k.id AND o.depth=k.depth")==nCut,
              "stand-ins that are not the replica's ops at their depths: %s",
              bt_q(dbC, "SELECT count(*) FROM bec_store_cut"));
    CHECK_MSG(bt_int(dbC, "SELECT count(*) FROM ("
        " SELECT c.tbl, c.pk, c.col, o.seq, c.value FROM bec_store_base_conflict c"
        "  JOIN bec_store_cut k ON k.seq=c.seq JOIN a.bec_store_op o ON o.hash=k.id"
        " EXCEPT SELECT tbl, pk, col, seq, value FROM a.bec_store_base_conflict)")==0
     && bt_int(dbC, "SELECT count(*) FROM bec_store_base_conflict")==nConflict,
        "losers: %s", bt_q(dbC, "SELECT count(*) FROM bec_store_base_conflict"));
    /* Every register's winner and every loser is a stand-in. */
    CHECK(bt_int(dbC, "SELECT count(*) FROM bec_store_base_conflict c"
                      " WHERE c.seq NOT IN (SELECT seq FROM bec_store_cut)")==0);

    /* One op, one depth: named again at its depth it keeps its seq, at
    ** another it is refused (-1: bec_crdt_base_from_leaves says "an op of
    ** the cut at two depths"). */
    {
      sqlite3_stmt *pS = 0;
      u8 aId[BEC_HASH_BYTES];
      i64 iDepth;
      CHECK(sqlite3_prepare_v2(dbC, "SELECT id, depth, seq FROM bec_store_cut"
                               " ORDER BY seq LIMIT 1", -1, &pS, 0)==SQLITE_OK);
      CHECK(sqlite3_step(pS)==SQLITE_ROW);
      memcpy(aId, sqlite3_column_blob(pS, 0), BEC_HASH_BYTES);
      iDepth = sqlite3_column_int64(pS, 1);
      CHECK(sqlite3_column_int(pS, 2)==1);
      sqlite3_finalize(pS);
      CHECK(bec_dag_cut_seq(pC, aId, iDepth, &iSeq)==SQLITE_OK && iSeq==1);
      CHECK(bec_dag_cut_seq(pC, aId, iDepth+1, &iSeq)==SQLITE_OK && iSeq==-1);
      CHECK(bec_dag_cut_seq(pC, aId, -1, &iSeq)==SQLITE_OK && iSeq==-1);
      /* a proof gives its validity; the other validity is refused */
      CHECK(bec_dag_cut_prove(pC, aId, iDepth, 1, &iSeq)==SQLITE_OK && iSeq==1);
      CHECK(bec_dag_cut_prove(pC, aId, iDepth, 0, &iSeq)==SQLITE_OK && iSeq==-1);
      CHECK(bt_int(dbC, "SELECT valid FROM bec_store_cut WHERE seq=1")==1);
      CHECK(bec_dag_cut_seq(pC, aId, iDepth, &iSeq)==SQLITE_OK && iSeq==1);
      /* leaves naming an op the cut holds at another depth are refused */
      {
        sqlite3 *dbD = 0;
        BecCtx *pD = 0;
        int rc;
        CHECK(sqlite3_open(":memory:", &dbD)==SQLITE_OK);
        CHECK(bec_ctx_new(dbD, &pD)==SQLITE_OK);
        CHECK(bec_dag_ensure_schema(pD, &zErr)==SQLITE_OK);
        CHECK(bec_dag_cut_begin(pD, &zErr)==SQLITE_OK);
        CHECK(bec_dag_cut_seq(pD, aId, iDepth+1, &iSeq)==SQLITE_OK && iSeq==1);
        rc = leaves_into(pA, aT, nT, pD, bec_dag_cut_seq, pD, &zErr);
        CHECK_MSG(rc==SQLITE_ERROR && zErr
                  && strstr(zErr, "an op of the cut at two depths"),
                  "%d %s", rc, zErr ? zErr : "(converted)");
        sqlite3_free(zErr);
        zErr = 0;
        bec_ctx_unref(pD);
        sqlite3_close(dbD);
      }
      /* a new op of a proof: the next seq, proven invalid */
      memset(aFresh, 0x5a, sizeof(aFresh));
      CHECK(bec_dag_cut_prove(pC, aFresh, 3, 0, &iSeq2)==SQLITE_OK && iSeq2==nCut+1);
      CHECK(bt_int(dbC, "SELECT valid IS 0 FROM bec_store_cut WHERE id=x'"
                        "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a'"));
      /* an op stored in full keeps its own seq, at its own depth only */
      CHECK(sqlite3_prepare_v2(dbA, "SELECT hash, depth, valid, seq FROM bec_store_op"
                               " ORDER BY seq DESC LIMIT 1", -1, &pS, 0)==SQLITE_OK);
      CHECK(sqlite3_step(pS)==SQLITE_ROW);
      memcpy(aId, sqlite3_column_blob(pS, 0), BEC_HASH_BYTES);
      iDepth = sqlite3_column_int64(pS, 1);
      CHECK(bec_dag_cut_prove(pA, aId, iDepth, sqlite3_column_int(pS, 2), &iSeq)==SQLITE_OK
            && iSeq==sqlite3_column_int(pS, 3));
      CHECK(bec_dag_cut_seq(pA, aId, iDepth+2, &iSeq)==SQLITE_OK && iSeq==-1);
      CHECK(bec_dag_cut_prove(pA, aId, iDepth, !sqlite3_column_int(pS, 2), &iSeq)==SQLITE_OK
            && iSeq==-1);
      sqlite3_finalize(pS);
      CHECK(atoi(bt_q(dbA, "SELECT count(*) FROM sqlite_schema WHERE name='bec_store_cut'"))==0);
    }
    bec_ctx_unref(pC);
    sqlite3_close(dbC);
  }

  /* Hostile leaves are refused with why. */
  for(i=0; i<nT; i++){
    const SnapTable *t = &aT[i];
    u8 *aBad;
    BecReader rd;
    u64 nLeaf = 0;
    const u8 *aLeaf = 0;
    i64 nRowsBytes = 0;
    int j;
    rd.a = t->aRows; rd.n = t->nRows; rd.i = 0;
    for(j=0; j<t->nRow; j++){
      if( bec_read_varint(&rd, &nLeaf, (u64)rd.n) || bec_read_bytes(&rd, (i64)nLeaf, &aLeaf) ) break;
    }
    nRowsBytes = rd.i;
    if( t->nRow<2 ) continue;
    aBad = malloc((size_t)nRowsBytes);
    /* an id that is not an op here: the first candidate after the key */
    memcpy(aBad, t->aRows, (size_t)nRowsBytes);
    rd.a = aBad; rd.n = nRowsBytes; rd.i = 0;
    CHECK(bec_read_varint(&rd, &nLeaf, (u64)rd.n)==0);
    {
      /* the leaf's existence register begins after the key: find the
      ** first varint 1 followed by a 32-byte id of a known op */
      i64 k;
      for(k=rd.i; k+1+BEC_HASH_BYTES<=rd.i+(i64)nLeaf; k++){
        int iSeq = 0;
        if( aBad[k]<1 || aBad[k]>8 ) continue;
        if( bec_dag_seq_of(pA, aBad+k+1, &iSeq)==SQLITE_OK && iSeq>0 ){
          aBad[k+1] ^= 0xff;
          break;
        }
      }
    }
    zErr = convert(pA, t, aBad, nRowsBytes, 0);
    CHECK_MSG(zErr && strstr(zErr, "a candidate is not an op of the cut"),
              "%s", zErr ? zErr : "(converted)");
    sqlite3_free(zErr);
    /* the first leaf again after the second: not in key order */
    {
      BecReader r2;
      u64 n1 = 0, n2 = 0;
      const u8 *a1 = 0, *a2 = 0;
      BecBuf b;
      int rc = SQLITE_OK;
      memset(&b, 0, sizeof(b));
      r2.a = t->aRows; r2.n = nRowsBytes; r2.i = 0;
      CHECK(bec_read_varint(&r2, &n1, (u64)r2.n)==0 && bec_read_bytes(&r2, (i64)n1, &a1)==0);
      CHECK(bec_read_varint(&r2, &n2, (u64)r2.n)==0 && bec_read_bytes(&r2, (i64)n2, &a2)==0);
      bec_buf_append_varint(&b, n2, &rc);
      bec_buf_append(&b, a2, (i64)n2, &rc);
      bec_buf_append_varint(&b, n1, &rc);
      bec_buf_append(&b, a1, (i64)n1, &rc);
      bec_buf_append(&b, t->aRows + r2.i, nRowsBytes - r2.i, &rc);
      zErr = convert(pA, t, b.a, b.n, 0);
      CHECK_MSG(zErr && strstr(zErr, "rows are not in key order"), "%s",
                zErr ? zErr : "(converted)");
      sqlite3_free(zErr);
      /* a leaf cut short (its length says one byte less) */
      b.n = 0;
      bec_buf_append_varint(&b, n1-1, &rc);
      bec_buf_append(&b, a1, (i64)n1-1, &rc);
      zErr = convert(pA, t, b.a, b.n, 0);
      CHECK_MSG(zErr && strstr(zErr, "are malformed"), "%s",
                zErr ? zErr : "(converted)");
      sqlite3_free(zErr);
      /* the honest bytes convert */
      zErr = convert(pA, t, t->aRows, nRowsBytes, 0);
      CHECK_MSG(zErr==0, "%s", zErr);
      sqlite3_free(zErr);
      bec_buf_free(&b);
    }
    free(aBad);
  }
  zErr = 0;

  sqlite3_free(zBase);
  for(i=0; i<nT; i++) free(aT[i].aRows);
  free(aSnap);
  bec_ctx_unref(pA);
  CHECK(sqlite3_close(dbA)==SQLITE_OK);
  CHECK(sqlite3_close(dbB)==SQLITE_OK);
  snprintf(zCmd, sizeof(zCmd), "rm -rf %s", zDir);
  CHECK(system(zCmd)==0);
  return bt_done();
}
