/*
** bec_rejoin.c - the fall-back of a snapshot's replica to a full join
** (docs/compaction.md "An op concurrent with the installed checkpoint").
**
** A replica that installed a snapshot holds the cut of checkpoint K as
** stand-ins, linearised so that everything after K has the whole cut in its
** past.  An op concurrent with K (an author offline since before K) has only
** part of the cut in its real past, which this replica cannot see: the DAG
** does not store it (bec_dag.c, "An op concurrent with K"), records it in
** 'rejoin_op', and calls BecCtx.xRejoin, which is bec_rejoin_start, in the
** savepoint of that op's acceptance: all of the fall-back, or none of it.
**
** The fall-back makes the replica a full joiner without losing an op:
**   1. every deriver drops the state it derived from the stored ops
**      (BecDeriver.xReset, each owner its own tables), once each has said
**      it can (xReset with bProbe): a deriver that holds state it cannot
**      carry over now (the merge, while a local write is not signed yet)
**      refuses, and then nothing changes: the op waits and the replica
**      reports it ('rejoin_blocked'); the next op concurrent with K asks
**      again.  (An encrypted group's seeds, stored by the epoch op's seq,
**      are kept by its id across the fall-back: bec_e2ee.c e2ee_reset);
**   2. the DAG keeps every op it stored in full as a body waiting in the
**      pending area for its predecessors (outside the area's bounds), and
**      forgets the stored sequence, the heads, the cut and 'cut_top'
**      (bec_dag_rejoin_reset);
**   3. the create is ingested again, which releases what needs only it.
** The next syncs are ordinary full syncs: this replica's heads are again
** only what it stores, so the peers send the history it lacks, and the kept
** bodies and the concurrent op are stored as their predecessors arrive, each
** judged from its real causal past, as on any full joiner.
**
** Stored: nothing of its own.  bec_store_config 'rejoin_blocked' (why a
** fall-back could not happen), through bec_ctx.c.
*/
#include "becInt.h"

static const BecSavepoint spRejoin = {
  "SAVEPOINT bec_rejoin", "RELEASE bec_rejoin", "ROLLBACK TO bec_rejoin"
};

int bec_rejoin_start(BecCtx *p, char **pzErr){
  char *zWhyNot = 0;
  u8 *aCreate = 0;
  i64 nCreate = 0;
  int rc = SQLITE_OK, i;

  /* Can every deriver drop its state?  If not, nothing changes: the op
  ** waits, and the replica says why (the next such op asks again). */
  for(i=0; i<p->nDeriver; i++){
    const BecDeriver *d = p->apDeriver[i];
    if( d->xReset ) rc = d->xReset(p, 1, &zWhyNot, pzErr);
    if( rc ) return rc;
    if( zWhyNot ){
      rc = bec_config_set_blob(p, "rejoin_blocked", zWhyNot,
                               (int)strlen(zWhyNot));
      sqlite3_free(zWhyNot);
      return rc;
    }
  }
  rc = bec_ctx_begin(p, &spRejoin);
  if( rc ) return rc;
  for(i=0; rc==SQLITE_OK && i<p->nDeriver; i++){
    const BecDeriver *d = p->apDeriver[i];
    if( d->xReset ) rc = d->xReset(p, 0, &zWhyNot, pzErr);
    if( rc==SQLITE_OK && zWhyNot ) rc = SQLITE_INTERNAL;  /* (probed above) */
  }
  if( rc==SQLITE_OK ) rc = bec_config_set_blob(p, "rejoin_blocked", 0, 0);
  if( rc==SQLITE_OK ) rc = bec_dag_rejoin_reset(p, &aCreate, &nCreate, pzErr);
  if( rc==SQLITE_OK ){
    BecAccept res;
    rc = bec_dag_accept(p, aCreate, nCreate, 1, &res, pzErr);
    if( rc==SQLITE_OK && res.eOutcome!=BEC_ACCEPT_STORED ){
      /* the group's own create, stored here before: only damage refuses it */
      *pzErr = sqlite3_mprintf("bec: cannot fall back to a full join: the "
          "group's create op was not stored again (%s)",
          res.zReason ? res.zReason : "no reason");
      rc = SQLITE_CORRUPT;
    }
    sqlite3_free(res.zReason);
  }
  sqlite3_free(aCreate);
  if( rc==SQLITE_OK ){
    p->nRejoin++;
    rc = bec_ctx_commit(p, &spRejoin);
  }else{
    bec_ctx_rollback(p, &spRejoin);
  }
  sqlite3_free(zWhyNot);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot fall back to a full join: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}
