/*
** test_graph.c - the op graph keeps ids on disk (issue 17 item 6,
** COMPACTION.md section 9).
**
** A node holds an 8-byte prefix of its op's id; bec_graph_id reads the full
** id by seq and bec_graph_id_cmp orders two nodes as memcmp of their full
** ids.  Checked here: the ids read back are the stored ones; the order is
** memcmp's for every pair; two ops whose ids share the prefix (as an
** attacker can grind them) are still ordered by the full ids, and never
** taken for equal; a row whose id disagrees with the node's prefix is an
** error, and a comparison that met one marks the graph stale so that the
** next bec_graph_get reloads it; and a loaded graph costs at most 40 bytes
** per op.
*/
#include "becInt.h"
#include "bectest.h"

#define NOPS 2000

static sqlite3 *open_db(void){
  sqlite3 *db = 0;
  CHECK(sqlite3_open(":memory:", &db)==SQLITE_OK);
  return db;
}

/* The stored id of op iSeq into aOut; 1 if there is one. */
static int stored_id(sqlite3 *db, int iSeq, u8 *aOut){
  sqlite3_stmt *pStmt = 0;
  int ok = 0;
  if( sqlite3_prepare_v2(db, "SELECT hash FROM bec_store_op WHERE seq=?1", -1,
                         &pStmt, 0)==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, iSeq);
    if( sqlite3_step(pStmt)==SQLITE_ROW
     && sqlite3_column_bytes(pStmt, 0)==BEC_HASH_BYTES ){
      memcpy(aOut, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
      ok = 1;
    }
  }
  sqlite3_finalize(pStmt);
  return ok;
}

static void set_id(sqlite3 *db, int iSeq, const u8 *aId){
  sqlite3_stmt *pStmt = 0;
  CHECK(sqlite3_prepare_v2(db, "UPDATE bec_store_op SET hash=?2 WHERE seq=?1",
                           -1, &pStmt, 0)==SQLITE_OK);
  sqlite3_bind_int(pStmt, 1, iSeq);
  sqlite3_bind_blob(pStmt, 2, aId, BEC_HASH_BYTES, SQLITE_STATIC);
  CHECK(sqlite3_step(pStmt)==SQLITE_DONE);
  sqlite3_finalize(pStmt);
}

static int sign(int c){ return (c>0) - (c<0); }

int main(void){
  sqlite3 *db;
  BecCtx *p = 0, *p2 = 0;
  BecGraph *g = 0;
  char *zErr = 0;
  u8 aA[BEC_HASH_BYTES], aB[BEC_HASH_BYTES], aC[BEC_HASH_BYTES];
  int i, j, nBad = 0;
  u64 iGen;

  CHECK(sqlite3_auto_extension((void(*)(void))sqlite3_bec_init)==SQLITE_OK);
  db = open_db();
  CHECK(strncmp(bt_q(db, "SELECT bec_keygen()"), "ERROR", 5)!=0);
  CHECK(strncmp(bt_q(db, "SELECT bec_create_group()"), "ERROR", 5)!=0);
  bt_q(db, "BEGIN");
  for(i=0; i<NOPS; i++) bt_q(db, "SELECT bec_sign(randomblob(16))");
  bt_q(db, "COMMIT");
  CHECK(atoi(bt_q(db, "SELECT count(*) FROM bec_store_op"))==NOPS+1);

  /* A context of our own reads the same storage. */
  CHECK(bec_ctx_new(db, &p)==SQLITE_OK);
  if( p ) p->xForget = bec_dag_forget;        /* as bec_main.c sets it */
  CHECK_MSG(bec_graph_get(p, &g, &zErr)==SQLITE_OK, "%s", zErr ? zErr : "");
  sqlite3_free(zErr);
  zErr = 0;
  CHECK(g && g->nNode==NOPS+1);

  /* Memory: 28-byte nodes, 4-byte predecessors, arrays sized by the load. */
  CHECK(sizeof(BecNode)<=28);
  if( g ){
    double nPerOp = ((double)g->nNodeAlloc*sizeof(BecNode)
                     + (double)g->nPredAlloc*sizeof(int)) / g->nNode;
    CHECK_MSG(nPerOp<=40.0, "%.1f bytes per op", nPerOp);
  }

  /* The ids read back are the stored ones; the order is memcmp's. */
  for(i=1; g && i<=g->nNode; i++){
    if( !stored_id(db, i, aA) || bec_graph_id(g, i, aB)!=SQLITE_OK
     || memcmp(aA, aB, BEC_HASH_BYTES) ) nBad++;
  }
  CHECK_MSG(nBad==0, "%d ids differ", nBad);
  nBad = 0;
  for(i=1; g && i<=60; i++){
    for(j=1; j<=60; j++){
      stored_id(db, i, aA);
      stored_id(db, j, aB);
      int c = sign(memcmp(aA, aB, BEC_HASH_BYTES));
      if( sign(bec_graph_id_cmp(g, i, j))!=c
       || sign(bec_graph_id_cmp_to(g, i, aB))!=c ){
        nBad++;
      }
    }
  }
  CHECK_MSG(nBad==0, "%d pairs out of order", nBad);
  CHECK(p->bGraphStale==0);

  /* Ground prefixes: ops 3 and 5 get ids sharing the first 8 bytes (the
  ** prefix), in one byte order after them and the other order at the last
  ** byte.  A fresh context loads the graph with these prefixes. */
  stored_id(db, 3, aA);
  memcpy(aB, aA, BEC_HASH_BYTES);
  aA[BEC_ID_PREFIX] = 0xff;  aB[BEC_ID_PREFIX] = 0x00;
  aA[BEC_HASH_BYTES-1] = 0x00;  aB[BEC_HASH_BYTES-1] = 0xff;
  set_id(db, 3, aA);
  set_id(db, 5, aB);
  CHECK(bec_ctx_new(db, &p2)==SQLITE_OK);
  if( p2 ) p2->xForget = bec_dag_forget;      /* as bec_main.c sets it */
  CHECK(bec_graph_get(p2, &g, 0)==SQLITE_OK);
  if( g ){
    CHECK(memcmp(g->aNode[3].aIdPre, g->aNode[5].aIdPre, BEC_ID_PREFIX)==0);
    CHECK(bec_graph_id_cmp(g, 3, 5)>0);
    CHECK(bec_graph_id_cmp(g, 5, 3)<0);
    CHECK(bec_graph_id_cmp(g, 3, 3)==0);
    CHECK(bec_graph_id_cmp_to(g, 3, aB)>0);
    CHECK(bec_graph_id_cmp_to(g, 5, aA)<0);
    CHECK(bec_graph_id_cmp_to(g, 5, aB)==0);
    /* differing only in the last byte: ordered by it, not equal */
    memcpy(aC, aA, BEC_HASH_BYTES);
    aC[BEC_HASH_BYTES-1] = 0x01;
    CHECK(bec_graph_id_cmp_to(g, 3, aC)<0);
    CHECK(p2->bGraphStale==0);

    /* A row that disagrees with the node's prefix: an error, never a
    ** silent answer; the comparison marks the graph stale. */
    iGen = g->iGeneration;
    memset(aC, 0x5a, BEC_HASH_BYTES);
    set_id(db, 5, aC);
    CHECK(bec_graph_id(g, 5, aB)==SQLITE_CORRUPT);
    CHECK(bec_graph_id(g, 0, aB)!=SQLITE_OK);
    CHECK(bec_graph_id(g, g->nNode+1, aB)!=SQLITE_OK);
    {
      /* counted too: the acceptance or append that ordered with it fails
      ** (bec_dag.c id_fail_check) instead of keeping a seq order */
      int nFail0 = p2->nIdFail;
      bec_graph_id_cmp(g, 3, 5);
      CHECK(p2->bGraphStale==1);
      CHECK(p2->nIdFail==nFail0+1);
    }
    CHECK(bec_graph_get(p2, &g, 0)==SQLITE_OK);
    CHECK(g && g->iGeneration!=iGen && p2->bGraphStale==0);
  }

  bec_ctx_unref(p);
  bec_ctx_unref(p2);
  CHECK(sqlite3_close(db)==SQLITE_OK);
  sqlite3_reset_auto_extension();
  return bt_done();
}
