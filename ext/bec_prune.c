/*
** bec_prune.c - dropping the bodies of sealed history (COMPACTION.md
** section 6; docs/compaction.md "Pruning" for users).
**
**   SELECT bec_prune();     -- drops the bodies of the write and app ops
**                           -- below the latest sealed checkpoint; returns
**                           -- how many it dropped
**
** THE RULE.  Let K be the latest checkpoint sealed here (by depth, then
** id).  The validity of every op in cut(K) is final (sealing), so the only
** thing a write op of the cut can still contribute is its share of S(K)'s
** registers: bec_crdt_base_take() keeps those registers as the merge base
** and the tables are rebuilt from the base and the writes outside the cut.
** Then the bodies of the cut's write and app ops are dropped, and their
** signatures with them: their rows in bec_store_op keep a stub from which
** the header is rebuilt (bec_dag_drop_body, bec_dag_pruned_header), so ids,
** depth and causality still work, and the header still proves itself by
** its id (the id covers the header only, and
** K, which the cut hangs under, is signed and sealed).  Membership's facts
** of those ops go too (bec_member_drop_facts): their validity is final.  A pruned op is not
** relayed: sync names it in its pruned list and the peer fetches it, signed,
** from a replica that holds it (docs/compaction.md "Pruning").  Every other
** kind keeps its body: membership, schema, checkpoint, attest, dispute,
** config, root, e2ee and name ops are small and are what the
** authentication chain, seniority and the derivers need.  No op outside
** the cut loses its body: its validity may still change.
**
** Pruning is refused, with nothing changed, while
**   - the transaction has table writes not signed yet;
**   - no checkpoint is sealed here;
**   - the latest sealed checkpoint does not descend from the one pruned
**     below before (a concurrent one: its cut does not hold the base);
**   - a write op of the cut is locked (end-to-end encryption: its
**     verdict can still change when a key arrives);
**   - the tables do not allow it (bec_crdt_base_take: a table name of the
**     cut won outside it, a table hidden here).
** It runs in one savepoint and is idempotent: a second call below the
** same checkpoint drops nothing and returns 0.
**
** Stored: bec_store_config 'prune_checkpoint' (the seq of K, written by
** bec_crdt_base_take with its base).  A body is known to be dropped from
** its stored encoding alone (bec_dag_body_dropped).
*/
#include "becInt.h"

static const BecSavepoint spPrune = {
  "SAVEPOINT bec_prune", "RELEASE bec_prune", "ROLLBACK TO bec_prune"
};

int bec_prune_point(BecCtx *p, int *piCp, u8 *aCpId){
  sqlite3_stmt *pStmt = 0;
  i64 iCp = 0;
  int rc = bec_config_get_int(p, "prune_checkpoint", 0, &iCp);
  *piCp = 0;
  if( rc || iCp==0 ) return rc;
  rc = bec_ctx_stmt(p, "SELECT hash FROM bec_store_op WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iCp);
  if( sqlite3_step(pStmt)==SQLITE_ROW
   && sqlite3_column_bytes(pStmt, 0)==BEC_HASH_BYTES ){
    memcpy(aCpId, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
    *piCp = (int)iCp;
  }
  return sqlite3_reset(pStmt);
}

char *bec_prune_message(BecCtx *p, const u8 *aId){
  char zOp[2*BEC_HASH_BYTES+1], zCp[2*BEC_HASH_BYTES+1];
  u8 aCp[BEC_HASH_BYTES];
  int iCp = 0;
  bec_hex_encode(aId, BEC_HASH_BYTES, zOp);
  if( bec_prune_point(p, &iCp, aCp)==SQLITE_OK && iCp ){
    bec_hex_encode(aCp, BEC_HASH_BYTES, zCp);
    return sqlite3_mprintf("pruned: the body of %s was dropped below "
                           "checkpoint %s", zOp, zCp);
  }
  return sqlite3_mprintf("pruned: the body of %s was dropped", zOp);
}

int bec_prune_latest_sealed(BecCtx *p, int *piCp){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT k.seq FROM bec_store_checkpoint k"
      " JOIN bec_store_op o ON o.seq=k.seq WHERE k.sealed"
      " ORDER BY o.depth DESC, o.hash DESC LIMIT 1", &pStmt);
  *piCp = 0;
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *piCp = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

/* *pzWhy if a write op of aCut is ignored as locked (e2ee). */
static int locked_in_cut(BecCtx *p, const BecGraph *g, const u8 *aCut,
                         char **pzWhy){
  char *zReason = 0;
  int x = 0;
  int rc = bec_crdt_locked_among(p, aCut, g->nNode+1, &x, &zReason);
  if( rc==SQLITE_OK && x ){
    *pzWhy = sqlite3_mprintf("op %d below the checkpoint is %s (a key it "
                             "needs has not arrived)", x, zReason);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  sqlite3_free(zReason);
  return rc;
}

/* Prunes below the latest sealed checkpoint: *pnDropped bodies dropped,
** or *pzWhy (nothing changed) if pruning is refused. */
static int prune(BecCtx *p, int *pnDropped, char **pzWhy, char **pzErr){
  BecGraph *g = 0;
  u8 *aCut = 0;
  u8 aOld[BEC_HASH_BYTES];
  int rc, iCp = 0, iOld = 0, x, bBegun = 0;
  *pnDropped = 0;
  if( p->pCrdt && p->pCrdt->bTxn ){
    /* Its rows hold changes that are in no op yet: a rebuild loses them. */
    *pzWhy = sqlite3_mprintf("this transaction has table writes not signed "
                             "yet: commit them first");
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_begin(p, &spPrune);
  bBegun = rc==SQLITE_OK;
  if( rc==SQLITE_OK ) rc = bec_prune_latest_sealed(p, &iCp);
  if( rc==SQLITE_OK && iCp==0 ){
    *pzWhy = sqlite3_mprintf("no checkpoint is sealed here yet: nothing can be "
        "pruned (bec_checkpoint(), then k attestations: bec_checkpoints)");
  }
  if( rc==SQLITE_OK && *pzWhy==0 ) rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK && *pzWhy==0 ){
    rc = bec_graph_past(g, BEC_NODE_PREDS(g, iCp), g->aNode[iCp].nPred, &aCut);
  }
  if( rc==SQLITE_OK && *pzWhy==0 ) rc = bec_prune_point(p, &iOld, aOld);
  if( rc==SQLITE_OK && *pzWhy==0 && iOld && iOld!=iCp
   && (iOld>g->nNode || !aCut[iOld]) ){
    char zCp[2*BEC_HASH_BYTES+1], zOld[2*BEC_HASH_BYTES+1];
    bec_graph_id_hex(g, iCp, zCp);
    bec_hex_encode(aOld, BEC_HASH_BYTES, zOld);
    *pzWhy = sqlite3_mprintf("the latest sealed checkpoint %s does not descend "
        "from checkpoint %s, which this replica pruned below", zCp, zOld);
  }
  if( rc==SQLITE_OK && *pzWhy==0 ) rc = locked_in_cut(p, g, aCut, pzWhy);
  if( rc==SQLITE_OK && *pzWhy==0 && iOld!=iCp ){
    rc = bec_crdt_base_take(p, iCp, aCut, pzWhy, pzErr);
    /* (the tables' rebuild may have reloaded the graph) */
    if( rc==SQLITE_OK && *pzWhy==0 ) rc = bec_graph_get(p, &g, pzErr);
  }
  for(x=1; rc==SQLITE_OK && *pzWhy==0 && x<=g->nNode; x++){
    int bDropped = 0;
    if( !aCut[x] || BEC_NODE_STANDIN(g, x) ) continue;   /* (no body) */
    if( g->aNode[x].kind!=BEC_KIND_WRITE && g->aNode[x].kind!=BEC_KIND_APP ){
      continue;
    }
    rc = bec_dag_drop_body(p, x, &bDropped);
    *pnDropped += bDropped;
  }
  /* Membership's facts of those ops: final validity answers for them. */
  if( rc==SQLITE_OK && *pzWhy==0 ) rc = bec_member_drop_facts(p, g, aCut, pzErr);
  if( bBegun ){
    if( rc==SQLITE_OK && *pzWhy==0 ){
      rc = bec_ctx_commit(p, &spPrune);
    }else{
      (void)bec_ctx_rollback(p, &spPrune);
      *pnDropped = 0;
    }
  }
  sqlite3_free(aCut);
  return rc;
}

/* bec_prune(): the number of bodies dropped. */
static void fnPrune(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  char *zErr = 0, *zWhy = 0;
  int n = 0;
  int rc = prune(p, &n, &zWhy, &zErr);
  (void)argc;
  (void)argv;
  if( rc==SQLITE_OK && zWhy ){
    rc = SQLITE_ERROR;
    zErr = zWhy;
    zWhy = 0;
  }
  sqlite3_free(zWhy);
  if( rc ) bec_fn_error_in(ctx, "bec_prune", rc, zErr);
  else sqlite3_result_int(ctx, n);
}

int bec_prune_register(sqlite3 *db, BecCtx *p){
  static const BecFunc aFunc[] = {
    { "bec_prune", 0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnPrune },
  };
  return bec_ctx_register_funcs(db, p, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
}
