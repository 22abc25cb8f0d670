/*
** test_cut.c - the graph and the derivers with the stand-ins of an
** installed snapshot's cut (bec_store_cut; docs/compaction.md "The snapshot
** join", steps 1-2).
**
** A replica A signs a linear history.  A database C that holds none of it
** gets A's create op in full, stand-ins for A's ops 2..11, A's op 12 in
** full (a chain op naming a stand-in), stand-ins for 13..21, then A's op 22
** in full as K, closes the cut at K, and receives A's ops 23 and 24 (23
** names K).  Checked: the graph loads both tables merged by seq, every
** stand-in a node of no author whose id reads back from the cut table; no
** seq is reused (12 and 22 take the seq after every stand-in); an op
** naming a stand-in finds it (bec_dag_seq_of) and is stored valid; the op
** whose predecessor is K, and the one after it, have every stand-in and
** every op below K in their causal past (before the cut is closed, op 12's
** past is its stored link and what the stand-ins' edges reach); another connection's context sees
** the stand-ins (its check counts them) and reloads; sync offers and
** replies never carry a stand-in; bec_check() passes; and A's
** own graph (no stand-ins) has the same past for the same ops.
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>
#include <unistd.h>

#define NA 24                    /* A's ops: create, 20 signs, K, 2 after */
#define K_SEQ 22

/* Ingests A's op iSeq into C through SQL (the extension's own context). */
static void ingest(sqlite3 *dbA, sqlite3 *dbC, int iSeq){
  sqlite3_stmt *pStmt = 0;
  u8 aId[BEC_HASH_BYTES];
  int iDepth = 0, nBody = 0;
  u8 *aBody = bt_op_of(dbA, iSeq, aId, &iDepth, &nBody);
  CHECK(sqlite3_prepare_v2(dbC, "SELECT bec_ingest(?1)", -1, &pStmt, 0)==SQLITE_OK);
  sqlite3_bind_blob(pStmt, 1, aBody, nBody, SQLITE_STATIC);
  CHECK_MSG(sqlite3_step(pStmt)==SQLITE_ROW, "op %d: %s", iSeq, sqlite3_errmsg(dbC));
  sqlite3_finalize(pStmt);
  free(aBody);
}

/* The number of ops a sync message carries; -1 if it does not decode. */
static int ops_in(const u8 *a, int n){
  BecSyncMsg msg;
  char *zErr = 0;
  int nOp = -1;
  memset(&msg, 0, sizeof(msg));
  if( bec_syncmsg_decode(a, n, &msg, &zErr)==SQLITE_OK ) nOp = msg.nOp;
  CHECK_MSG(nOp>=0, "%s", zErr ? zErr : "");
  bec_syncmsg_free(&msg);
  sqlite3_free(zErr);
  return nOp;
}

/* 1 if every node below iBelow is in the past of an op whose predecessors
** are node iSeq's. */
static int past_holds_all(BecGraph *g, int iSeq, int iBelow){
  u8 *aMark = 0;
  int x, ok = 1;
  if( bec_graph_past(g, BEC_NODE_PREDS(g, iSeq), g->aNode[iSeq].nPred,
                     &aMark)!=SQLITE_OK ) return 0;
  for(x=1; x<iBelow; x++) if( !aMark[x] ) ok = 0;
  sqlite3_free(aMark);
  return ok;
}

int main(void){
  char zDir[] = "/tmp/bec-test-cut-XXXXXX";
  char zA[64], zC[64];
  sqlite3 *dbA = 0, *dbC = 0, *dbC2 = 0;
  BecCtx *pC = 0;
  BecGraph *g = 0;
  char *zErr = 0;
  int i, iSeq = 0;
  u8 aIds[NA+1][BEC_HASH_BYTES];
  int aDepth[NA+1];

  bec_crypto_init();
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( mkdtemp(zDir)==0 ) return 1;
  snprintf(zA, sizeof(zA), "%s/a.db", zDir);
  snprintf(zC, sizeof(zC), "%s/c.db", zDir);

  CHECK(sqlite3_open(zA, &dbA)==SQLITE_OK);
  CHECK(strncmp(bt_q(dbA, "SELECT bec_keygen()"), "ERROR", 5)!=0);
  CHECK(strncmp(bt_q(dbA, "SELECT bec_create_group()"), "ERROR", 5)!=0);
  for(i=2; i<=NA; i++){
    CHECK(strncmp(bt_q(dbA, "SELECT bec_sign(randomblob(8))"), "ERROR", 5)!=0);
  }
  CHECK(bt_int(dbA, "SELECT max(seq) FROM bec_store_op")==NA);
  for(i=1; i<=NA; i++){
    int nBody = 0;
    free(bt_op_of(dbA, i, aIds[i], &aDepth[i], &nBody));
  }

  /* C: the create op in full, then the stand-ins and chain ops. */
  CHECK(sqlite3_open(zC, &dbC)==SQLITE_OK);
  {
    char zSql[200];
    snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')",
             bt_q(dbA, "SELECT bec_group_id()"));
    CHECK_MSG(strncmp(bt_q(dbC, zSql), "ERROR", 5)!=0, "%s", bt_q(dbC, zSql));
  }
  ingest(dbA, dbC, 1);
  CHECK(bt_int(dbC, "SELECT count(*) FROM bec_store_op")==1);
  CHECK(bec_ctx_new(dbC, &pC)==SQLITE_OK);
  if( pC ) pC->xForget = bec_dag_forget;        /* as bec_main.c sets it */
  CHECK(bec_dag_cut_begin(pC, &zErr)==SQLITE_OK);
  /* in reverse: A's op i gets C's seq 13-i, so that op 12's one link (to
  ** A's 11, C's seq 2) is not the node before it */
  for(i=11; i>=2; i--){
    CHECK(bec_dag_cut_prove(pC, aIds[i], aDepth[i], 1, &iSeq)==SQLITE_OK
          && iSeq==13-i);
  }
  /* A chain op naming a stand-in: found present, stored after it.  The
  ** install writes stand-ins in the transaction that stores its ops; here
  ** they are written by another context, so a new connection ingests (one
  ** that looked bec_store_cut up before would see no op change). */
  CHECK(sqlite3_open(zC, &dbC2)==SQLITE_OK);
  ingest(dbA, dbC2, 12);
  CHECK_MSG(bt_int(dbC, "SELECT seq FROM bec_store_op WHERE depth=11")==12,
            "%s", bt_q(dbC, "SELECT group_concat(seq) FROM bec_store_op"));
  CHECK(bt_int(dbC, "SELECT count(*) FROM bec_store_pending")==0);
  for(i=13; i<=21; i++){
    CHECK(bec_dag_cut_seq(pC, aIds[i], aDepth[i], &iSeq)==SQLITE_OK && iSeq==i);
  }
  CHECK(bec_dag_seq_of(pC, aIds[5], &iSeq)==SQLITE_OK && iSeq==8);
  ingest(dbA, dbC2, K_SEQ);
  CHECK(bt_int(dbC, "SELECT max(seq) FROM bec_store_op")==K_SEQ);

  /* Before the cut is closed: the stored links, and each stand-in's edge
  ** to the node before it. */
  CHECK_MSG(bec_graph_get(pC, &g, &zErr)==SQLITE_OK, "%s", zErr ? zErr : "");
  sqlite3_free(zErr);
  zErr = 0;
  CHECK(g && g->nNode==K_SEQ);
  if( g ){
    int nStand = 0, nBad = 0;
    for(i=1; i<=g->nNode; i++){
      u8 aId[BEC_HASH_BYTES];
      nStand += BEC_NODE_STANDIN(g, i);
      int iA = i>=2 && i<=11 ? 13-i : i;      /* A's seq of node i */
      if( bec_graph_id(g, i, aId)!=SQLITE_OK || memcmp(aId, aIds[iA], BEC_HASH_BYTES) ){
        nBad++;
      }
    }
    CHECK_MSG(nStand==19, "%d stand-ins", nStand);
    CHECK_MSG(nBad==0, "%d ids differ", nBad);
    CHECK(!BEC_NODE_STANDIN(g, 1) && !BEC_NODE_STANDIN(g, 12)
          && !BEC_NODE_STANDIN(g, K_SEQ));
    CHECK(g->aNode[8].depth==aDepth[5] && g->aNode[8].bValid);
    /* op 12 keeps its own edge (to stand-in 2) until the cut is closed */
    CHECK(g->aNode[12].nPred==1 && BEC_NODE_PREDS(g, 12)[0]==2);
    CHECK(g->aNode[12].depth==aDepth[12]);
    {
      u8 *aMark = 0;
      CHECK(bec_graph_past(g, BEC_NODE_PREDS(g, 12), 1, &aMark)==SQLITE_OK
            && aMark && aMark[1] && aMark[2] && !aMark[3] && !aMark[11]);
      sqlite3_free(aMark);
    }
  }
  {
    int iTop = 0;
    CHECK(bec_dag_cut_top(pC, &iTop)==SQLITE_OK && iTop==21);
  }

  /* Closed at K: every node below K in the past of what descends from K. */
  CHECK(bec_dag_cut_close(pC, K_SEQ, &zErr)==SQLITE_OK);
  sqlite3_free(zErr);
  zErr = 0;
  sqlite3_close(dbC2);           /* the install closes in K's transaction */
  CHECK(sqlite3_open(zC, &dbC2)==SQLITE_OK);
  ingest(dbA, dbC2, 23);
  ingest(dbA, dbC2, 24);
  CHECK(strcmp(bt_q(dbC, "SELECT group_concat(seq) FROM"
                     " (SELECT seq FROM bec_store_op ORDER BY seq)"), "1,12,22,23,24")==0);
  CHECK_MSG(strcmp(bt_q(dbC, "SELECT group_concat(s) FROM (SELECT seq s FROM"
                  " bec_store_op UNION ALL SELECT seq FROM bec_store_cut ORDER BY s)"),
                   "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24")==0,
            "%s", bt_q(dbC, "SELECT group_concat(seq) FROM bec_store_cut"));
  CHECK(bt_int(dbC, "SELECT count(*) FROM bec_store_op WHERE valid=0")==0);
  CHECK(bt_int(dbC, "SELECT count(*) FROM bec_store_head")==1
        && bt_int(dbC, "SELECT seq FROM bec_store_head")==24);
  g = 0;
  CHECK_MSG(bec_graph_get(pC, &g, &zErr)==SQLITE_OK, "%s", zErr ? zErr : "");
  sqlite3_free(zErr);
  zErr = 0;
  CHECK(g && g->nNode==NA);
  if( g ){
    CHECK(past_holds_all(g, 23, 23));
    CHECK(past_holds_all(g, 24, 24));
    CHECK(past_holds_all(g, K_SEQ, K_SEQ));
    CHECK(past_holds_all(g, 12, 12));
    /* in the region every node's one edge is the node before it */
    CHECK(g->aNode[12].nPred==1 && BEC_NODE_PREDS(g, 12)[0]==11);
    CHECK(g->aNode[23].nPred==1 && BEC_NODE_PREDS(g, 23)[0]==K_SEQ);
    CHECK(g->aNode[13].nPred==1 && BEC_NODE_PREDS(g, 13)[0]==12);
  }

  /* bec_check on the database with stand-ins */
  CHECK_MSG(strcmp(bt_q(dbC, "SELECT bec_check()"), "ok")==0, "%s",
            bt_q(dbC, "SELECT bec_check()"));

  /* the DAG drawn: stand-ins are nodes without a body (no error) */
  CHECK_MSG(strncmp(bt_q(dbC, "SELECT bec_dot()"), "ERROR", 5)!=0, "%s",
            bt_q(dbC, "SELECT bec_dot()"));

  /* membership keeps no facts of a stand-in (its loader takes them as
  ** dropped, so no rebuild writes them) */
  CHECK(bt_int(dbC, "SELECT count(*) FROM bec_store_member_op"
               " WHERE seq IN (SELECT seq FROM bec_store_cut)")==0);
  CHECK(bt_int(dbC, "SELECT count(*) FROM bec_store_member_op")==5);

  /* Sync: an offer carries the ops stored in full, never a stand-in; a
  ** reply to A's offer neither. */
  {
    sqlite3_stmt *pO = 0, *pA = 0;
    int nFull = bt_int(dbC, "SELECT count(*) FROM bec_store_op");
    CHECK(sqlite3_prepare_v2(dbC, "SELECT bec_sync_offer('a')", -1, &pO, 0)==SQLITE_OK);
    CHECK_MSG(sqlite3_step(pO)==SQLITE_ROW, "%s", sqlite3_errmsg(dbC));
    {
      int n = ops_in(sqlite3_column_blob(pO, 0), sqlite3_column_bytes(pO, 0));
      CHECK_MSG(n>0 && n<=nFull, "the offer carries %d ops", n);
    }
    sqlite3_finalize(pO);
    pO = 0;
    CHECK(sqlite3_prepare_v2(dbA, "SELECT bec_sync_offer('c')", -1, &pO, 0)==SQLITE_OK);
    CHECK(sqlite3_step(pO)==SQLITE_ROW);
    CHECK(sqlite3_prepare_v2(dbC, "SELECT bec_sync_apply('a2', ?1)", -1, &pA, 0)==SQLITE_OK);
    sqlite3_bind_value(pA, 1, sqlite3_column_value(pO, 0));
    CHECK_MSG(sqlite3_step(pA)==SQLITE_ROW, "%s", sqlite3_errmsg(dbC));
    if( sqlite3_column_type(pA, 0)==SQLITE_BLOB ){
      int n = ops_in(sqlite3_column_blob(pA, 0), sqlite3_column_bytes(pA, 0));
      CHECK_MSG(n>=0 && n<=nFull, "the reply carries %d ops", n);
    }
    sqlite3_finalize(pA);
    sqlite3_finalize(pO);
  }

  /* A, without stand-ins: the same ops have the same past (all of it). */
  {
    BecCtx *pA = 0;
    BecGraph *gA = 0;
    CHECK(bec_ctx_new(dbA, &pA)==SQLITE_OK);
    if( pA ) pA->xForget = bec_dag_forget;
    CHECK(bec_graph_get(pA, &gA, &zErr)==SQLITE_OK);
    CHECK(gA && past_holds_all(gA, 23, 23));
    for(i=1; gA && i<=gA->nNode; i++) CHECK(!BEC_NODE_STANDIN(gA, i));
    CHECK(bt_int(dbA, "SELECT count(*) FROM sqlite_schema WHERE name='bec_store_cut'")==0);
    bec_ctx_unref(pA);
  }

  bec_ctx_unref(pC);
  sqlite3_close(dbC2);
  sqlite3_close(dbC);
  sqlite3_close(dbA);
  {
    char zCmd[200];
    snprintf(zCmd, sizeof(zCmd), "rm -rf %s", zDir);
    if( system(zCmd) ){}
  }
  return bt_done();
}
