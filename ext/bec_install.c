/*
** bec_install.c - installing a checked snapshot in place of the history
** (docs/compaction.md "The snapshot join"; ../shared/COMPACTION.md section
** 7: the cut "present without headers").
**
**   bec_install_snapshot(p, aSnap, nSnap, &zWhy, &zErr)
**   bec_install_extend(p, aBand, nBand, &zWhy, &zErr)   a longer band
**   SELECT bec_snapshot_install(:snap), bec_band_install(:band);
**
** On a database that holds no op, runs every check of the snapshot
** (bec_snapshot_state) and makes the database a replica pruned at K: the
** group's create op (seq 1), a stand-in (bec_store_cut) for every op the
** rows and the proofs name, the chain ops of the cut stored in full at
** their proven depths, K, the tables' merge base from the rows' leaves,
** the cut closed (every op after K has all of it in its past),
** membership derived from the chain and compared with the members section
** (bec_member_install_check), the root, the names and the e2ee epochs
** derived from the chain and compared with their sections (the seeds of
** the boxes addressed to this replica opened), the earlier checkpoints
** recorded as their section says, K recorded as S(K) with the verified R
** (bec_ckpt_install) and sealed by its claims, stored as ops, and the tables
** rebuilt from the base with 'prune_checkpoint' = K.  All in one
** savepoint: a snapshot whose install fails (an op of the cut at two
** depths, a chain op its predecessors contradict, a membership the chain
** does not give) stores nothing, and *pzWhy says why.
**
** Each deriver writes its own tables through a function of its own file
** (bec_dag.c the ops and stand-ins, bec_crdt.c the base, bec_member.c the
** check, bec_checkpoint.c S(K)).  This file keeps one table:
**
**   bec_store_install(checkpoint, snapshot)   the snapshot installed, as
**                                              verified: an installed replica
**                                              holds no cut bodies to build
**                                              one, and gives these bytes to
**                                              a later joiner (bec_install_give)
**
** THE ORDER OF THE SEQS.  The create first (seq 1), then the cut by
** depth, a topological order (place_cut): the stand-ins and the chain ops
** stored in full, so that each chain op comes after what it names; K
** last (bec_dag_cut_close wants K after every stand-in).  The rows can be
** read only against their tables as shown at K, which the chain's schema
** ops give once stored, while a chain op's predecessor may be a row's
** candidate, whose depth only the rows give: so the rows are read twice.
** A dry run, in a scratch database (BecCtx.xScratch), places the chain
** and reads the rows, collecting each candidate's id and depth; then the
** cut is placed here with those candidates, and the rows are converted
** onto it.  A chain op's predecessor that nothing else names gets a
** stand-in one below the chain op's proven depth: its own depth is read by
** nothing but that op's (store_op computes the op's depth from it, which
** must be the proven one).
**
** THE ROOT, THE NAMES, THE EARLIER CHECKPOINTS.  The chain (snapshot
** version 5) carries every op of the threshold root, every name op and
** every checkpoint op; those of the cut are stored in full with the
** membership ops, their derivers derive from them as from any op, the
** root and names sections derived here must be the snapshot's, leaf for
** leaf (check_section), and bec_checkpoint.c records each earlier
** checkpoint's k and seal as its leaf says (bec_ckpt_install_earlier).
**
** THE BAND (docs/compaction.md "The band").  A snapshot whose provider
** held ops concurrent with K sends some ops of the cut as headers: they
** are stored after the rest of the cut (place_band), each at the next seq
** with its real predecessors and proven depth, and 'cut_band' records
** where they start, so that the graph keeps their edges and K's and an op
** concurrent with K that reaches every boundary op is stored with exactly
** its past (bec_dag.c).  The rest of the cut is placed by depth, so its
** last op is a boundary op (every other lies below one); the install
** checks it, and that no chain op outside the band names a band op.
**
** THE EPOCHS (an encrypted group).  The chain carries every encrypt,
** rekey and keyshare op; those of the cut are stored in full, the e2ee
** deriver derives the epochs from them and opens the boxes addressed to
** this replica, and the epochs section derived here must be the
** snapshot's (check_section).  The dry run reads the rows against schema
** ops that only those seeds open: the scratch borrows this replica's
** identity (bec_e2ee_lend_identity), and a joiner that holds no seed of an
** epoch current at K (no box of it in the cut) is refused there, before
** the rows are read (the join replays).  The rows' leaves carry plaintext
** values, as the merge base does.
*/
#include "becInt.h"

#include <stdlib.h>

static const BecSavepoint spInstall = {
  "SAVEPOINT bec_install", "RELEASE bec_install", "ROLLBACK TO bec_install"
};

static const char zInstallSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_install("
  "  checkpoint BLOB PRIMARY KEY, snapshot BLOB NOT NULL) WITHOUT ROWID;";

/* The proof of op aId, or 0. */
static const BecSnapProof *proof_of(const BecSnapParts *pP, const u8 *aId){
  int i;
  for(i=0; i<pP->nProof; i++){
    if( memcmp(pP->aProof[i].aId, aId, BEC_HASH_BYTES)==0 ) return &pP->aProof[i];
  }
  return 0;
}

/* The index of band op aId in pP, or -1 (docs/compaction.md "The band"). */
static int band_of(const BecSnapParts *pP, const u8 *aId){
  int i;
  for(i=0; i<pP->nBand; i++){
    if( memcmp(pP->aBand[i].aId, aId, BEC_HASH_BYTES)==0 ) return i;
  }
  return -1;
}

/* The band's proof of op aId (a band or boundary op), or 0. */
static const BecSnapProof *band_proof_of(const BecSnapParts *pP,
                                         const u8 *aId){
  int i;
  for(i=0; i<pP->nBandProof; i++){
    if( memcmp(pP->aBandProof[i].aId, aId, BEC_HASH_BYTES)==0 ){
      return &pP->aBandProof[i];
    }
  }
  return 0;
}

/* 1 if aId is a boundary op of the band: a predecessor of K or of a band
** op that is not a band op. */
static int is_boundary(const BecSnapParts *pP, const u8 *aId){
  int i, j;
  if( band_of(pP, aId)>=0 ) return 0;
  for(j=0; j<pP->k.nPred; j++){
    if( memcmp(pP->k.aPred + (i64)j*BEC_HASH_BYTES, aId, BEC_HASH_BYTES)==0 ){
      return 1;
    }
  }
  for(i=0; i<pP->nBand; i++){
    const BecOp *o = &pP->aBand[i];
    for(j=0; j<o->nPred; j++){
      if( memcmp(o->aPred + (i64)j*BEC_HASH_BYTES, aId, BEC_HASH_BYTES)==0 ){
        return 1;
      }
    }
  }
  return 0;
}

/* The dry run's xSeq: records each candidate (id || depth as 8 bytes) in
** the BecBuf pArg and gives it a seq of its own (a register naming one op
** twice is refused), which the scratch database forgets. */
static int collect_seq(void *pArg, const u8 *aId, i64 iDepth, int *piSeq){
  BecBuf *pBuf = (BecBuf*)pArg;
  u8 a[8];
  int rc = SQLITE_OK, i;
  for(i=0; i<8; i++) a[i] = (u8)((u64)iDepth >> (56-8*i));
  bec_buf_append(pBuf, aId, BEC_HASH_BYTES, &rc);
  bec_buf_append(pBuf, a, 8, &rc);
  *piSeq = (int)(pBuf->n/(BEC_HASH_BYTES+8)) + 1;
  return rc;
}

/* *pzWhy for an install the snapshot makes impossible. */
static int why(char **pzWhy, const char *zWhy){
  *pzWhy = sqlite3_mprintf("%s", zWhy);
  return *pzWhy ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* Stores chain op o (not the create) at its proven depth iDepth, or a
** loser's header at the depth its row gives, each predecessor that nothing
** named a stand-in one below it (its own depth is read by nothing but o's,
** which store_op computes from it). */
static int store_one(BecCtx *p, const BecSnapParts *pP, const BecOp *o,
                     i64 iDepth, char **pzWhy, char **pzErr){
  int j, iSeq = 0, rc = SQLITE_OK;
  if( iDepth<1 ) return why(pzWhy, "an op of the cut is placed at depth 0");
  for(j=0; rc==SQLITE_OK && j<o->nPred; j++){
    const u8 *aPred = o->aPred + (i64)j*BEC_HASH_BYTES;
    if( band_of(pP, aPred)>=0 ){
      /* the band is closed upward (bec_snapshot_band): the cut outside it
      ** is stored first and may not name it */
      return why(pzWhy, "an op outside the band has a band op in its past");
    }
    rc = bec_dag_seq_of(p, aPred, &iSeq);
    if( rc==SQLITE_OK && iSeq==0 ){
      rc = bec_dag_cut_seq(p, aPred, iDepth-1, &iSeq);
    }
    if( rc==SQLITE_OK && iSeq<0 ) return why(pzWhy, "an op of the cut at two depths");
  }
  if( rc==SQLITE_OK ){
    rc = bec_dag_install_op(p, o, iDepth, &iSeq, pzErr);
    if( rc==SQLITE_ERROR ){ *pzWhy = *pzErr; *pzErr = 0; }
  }
  return rc;
}

/* The header the snapshot carries for losing write aId (version 6), or 0:
** pP->aLoser is sorted by id (bec_install_snapshot). */
static int cmp_op_id(const void *a, const void *b){
  return memcmp(((const BecOp*)a)->aId, ((const BecOp*)b)->aId, BEC_HASH_BYTES);
}
static const BecOp *loser_of(const BecSnapParts *pP, const u8 *aId){
  BecOp key;
  if( pP->nLoser==0 ) return 0;
  memcpy(key.aId, aId, BEC_HASH_BYTES);
  return (const BecOp*)bsearch(&key, pP->aLoser, (size_t)pP->nLoser,
                               sizeof(BecOp), cmp_op_id);
}

/* One thing to place in the seq space: a stand-in (a proof's op, a row's
** candidate) or a chain op stored in full. */
typedef struct Place Place;
struct Place {
  i64 iDepth;
  const u8 *aId;
  const BecSnapProof *pf;  /* a proof's stand-in, or a chain op's proof */
  const BecOp *pOp;        /* a chain op, else 0 */
  i64 iCand;               /* a row's candidate: its index, else -1 */
};
static int cmp_place(const void *a, const void *b){
  const Place *x = (const Place*)a, *y = (const Place*)b;
  int c;
  if( x->iDepth!=y->iDepth ) return x->iDepth<y->iDepth ? -1 : 1;
  c = memcmp(x->aId, y->aId, BEC_HASH_BYTES);
  if( c ) return c;
  return (x->pOp!=0) - (y->pOp!=0);
}

/* Whether a band op of this kind, outside the chain, is stored as its
** header alone (a pruned row): what its body did is already in S(K) or in
** a section, so nothing on the joiner reads it.  A write's registers are
** the merge base; an app op does nothing; an attest's effect is the seal of
** the earlier checkpoint it names, which the checkpoints section records
** (bec_ckpt_install_earlier: the claims of an earlier checkpoint are not
** carried); a dispute changes no state (disputes of the cut are not
** carried either).  Every other kind is a chain kind, stored in full; a
** kind that is neither (a test's toy kind) is not installed. */
static int band_header_kind(int kind){
  return kind==BEC_KIND_WRITE || kind==BEC_KIND_APP
      || kind==BEC_KIND_ATTEST || kind==BEC_KIND_DISPUTE;
}

/* The band (docs/compaction.md "The band"), after the rest of the cut:
** each band op at the seq after the one before, in the order sent (a
** topological one), with its real predecessors, stored as its header (a
** pruned op, band_header_kind: a write op's body is in the merge base) or,
** a chain op, in full; the depth its predecessors give must be the proven one.
** aTop is the last op placed below it (0: the create), which must be a
** boundary op: the graph gives the cut outside the band one chain ending
** there, and an op the band places reaches every boundary op, so it then
** has all of that chain in its past.  'cut_band' records where it starts. */
static int place_band(BecCtx *p, const BecSnapParts *pP, const u8 *aTop,
                      char **pzWhy, char **pzErr){
  int rc = SQLITE_OK, i, c, iSeq = 0, iFirst = 0, iTop = 0;
  if( aTop ) rc = bec_dag_seq_of(p, aTop, &iTop);
  else iTop = 1;
  if( rc==SQLITE_OK && (aTop ? !is_boundary(pP, aTop) : 0) ){
    return why(pzWhy, "the band does not start above its boundary (the "
                      "deepest op of the cut outside the band is no "
                      "boundary op)");
  }
  for(i=0; rc==SQLITE_OK && i<pP->nBand; i++){
    const BecOp *o = &pP->aBand[i];
    const BecSnapProof *pf = band_proof_of(pP, o->aId);
    const BecOp *pChain = 0;
    for(c=0; c<pP->nChain; c++){
      if( memcmp(pP->aChain[c].aId, o->aId, BEC_HASH_BYTES)==0 ) pChain = &pP->aChain[c];
    }
    if( pf==0 ) return why(pzWhy, "a band op without its proof");
    if( pChain==0 && !band_header_kind(o->kind) ){
      char *z = sqlite3_mprintf("a band op of kind %s is not installed yet: "
                                "the history is replayed", bec_kind_name(o->kind));
      *pzWhy = z;
      return z ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    rc = bec_dag_install_op(p, pChain ? pChain : o, pf->iDepth, &iSeq, pzErr);
    if( rc==SQLITE_ERROR ){ *pzWhy = *pzErr; *pzErr = 0; }
    if( rc==SQLITE_OK && i==0 ) iFirst = iSeq;
    if( rc==SQLITE_OK && iSeq!=iTop+1+i ){
      rc = why(pzWhy, "the band is not stored above the rest of the cut");
    }
  }
  /* (an empty band starts at K: install() records it once K is stored) */
  if( rc==SQLITE_OK && pP->nBand ) rc = bec_dag_cut_band(p, iFirst, pzErr);
  return rc;
}

/* The cut placed in p's seq space: the group's create at seq 1 (membership
** and the root read node 1 as the create), then, by depth (a topological
** order: every op is deeper than what it names), the proofs' ops and the
** rows' candidates (pCand: id || depth as 8 bytes each, or 0; aCandSeq
** gets the seq of each) as stand-ins, and the chain ops of the cut (those
** with a proof) stored in full.  A chain op then has what it names below it, and, through the
** stand-ins' edges (bec_graph.c), everything shallower: its real past and
** more, until bec_dag_cut_close makes the whole cut one chain anyway. */
static int place_cut(BecCtx *p, const BecSnapParts *pP, const BecBuf *pCand,
                     int *aCandSeq, char **pzWhy, char **pzErr){
  Place *aPl = 0;
  i64 nCand = pCand ? pCand->n/(BEC_HASH_BYTES+8) : 0, n = 0, i;
  int rc, j, iSeq = 0, bCreate = 0;
  rc = bec_dag_cut_begin(p, pzErr);
  for(j=0; rc==SQLITE_OK && j<pP->nChain; j++){
    const BecOp *o = &pP->aChain[j];
    if( o->kind!=BEC_KIND_CREATE ) continue;
    rc = bec_dag_install_op(p, o, 0, &iSeq, pzErr);
    if( rc==SQLITE_ERROR ){ *pzWhy = *pzErr; *pzErr = 0; }
    if( rc==SQLITE_OK && iSeq!=1 ) rc = why(pzWhy, "the group's create is not the first op");
    bCreate = 1;
    break;
  }
  if( rc==SQLITE_OK && !bCreate ) rc = why(pzWhy, "the group's create is not in the chain");
  if( rc==SQLITE_OK ){
    aPl = sqlite3_malloc64(sizeof(Place)*(u64)(pP->nProof + pP->nBandProof
                                               + pP->nChain + nCand + 1));
    if( aPl==0 ) rc = SQLITE_NOMEM;
  }
  for(j=0; rc==SQLITE_OK && j<pP->nProof; j++){
    const BecSnapProof *pf = &pP->aProof[j];
    const BecOp *pChain = 0;
    int c;
    for(c=0; c<pP->nChain; c++){
      if( memcmp(pP->aChain[c].aId, pf->aId, BEC_HASH_BYTES)==0 ) pChain = &pP->aChain[c];
    }
    if( pChain && pChain->kind==BEC_KIND_CREATE ) continue;   /* seq 1 */
    if( band_of(pP, pf->aId)>=0 ) continue;         /* after the rest */
    aPl[n].iDepth = pf->iDepth;
    aPl[n].aId = pf->aId;
    aPl[n].pf = pf;
    aPl[n].pOp = pChain;
    aPl[n].iCand = -1;
    n++;
  }
  for(j=0; rc==SQLITE_OK && j<pP->nBandProof; j++){
    /* the band's boundary, proven (a head of the cut has its proof above) */
    const BecSnapProof *pf = &pP->aBandProof[j];
    if( band_of(pP, pf->aId)>=0 || proof_of(pP, pf->aId) ) continue;
    aPl[n].iDepth = pf->iDepth;
    aPl[n].aId = pf->aId;
    aPl[n].pf = pf;
    aPl[n].pOp = 0;
    aPl[n].iCand = -1;
    n++;
  }
  for(i=0; rc==SQLITE_OK && i<nCand; i++){
    const u8 *a = pCand->a + i*(BEC_HASH_BYTES+8);
    u64 d = 0;
    if( band_of(pP, a)>=0 ) continue;       /* a band op: its header's seq */
    for(j=0; j<8; j++) d = (d<<8) | a[BEC_HASH_BYTES+j];
    aPl[n].iDepth = (i64)d;
    aPl[n].aId = a;
    aPl[n].pf = 0;
    aPl[n].pOp = 0;
    aPl[n].iCand = i;
    n++;
  }
  if( rc==SQLITE_OK ) qsort(aPl, (size_t)n, sizeof(Place), cmp_place);
  for(i=0; rc==SQLITE_OK && i<n; i++){
    const Place *pl = &aPl[i];
    const BecOp *pLoser = pl->pOp ? 0 : loser_of(pP, pl->aId);
    if( pLoser && pCand ){
      /* a losing write the snapshot carries the header of: stored as
      ** that header (a pruned op, as on the provider) where the others
      ** get a stand-in, the first time its id is placed */
      rc = bec_dag_seq_of(p, pl->aId, &iSeq);
      if( rc==SQLITE_OK && iSeq==0 ){
        rc = store_one(p, pP, pLoser, pl->iDepth, pzWhy, pzErr);
      }
    }
    if( rc ) break;
    if( pl->pOp ){
      rc = store_one(p, pP, pl->pOp, pl->pf->iDepth, pzWhy, pzErr);
    }else{
      rc = pl->pf ? bec_dag_cut_prove(p, pl->aId, pl->iDepth, pl->pf->bValid, &iSeq)
                  : bec_dag_cut_seq(p, pl->aId, pl->iDepth, &iSeq);
      if( rc==SQLITE_OK && iSeq<0 ) rc = why(pzWhy, "an op of the cut at two depths");
      if( rc==SQLITE_OK && pl->iCand>=0 && aCandSeq ) aCandSeq[pl->iCand] = iSeq;
    }
  }
  if( rc==SQLITE_OK ) rc = place_band(p, pP, n ? aPl[n-1].aId : 0, pzWhy, pzErr);
  for(j=0; rc==SQLITE_OK && pCand && j<pP->nLoser; j++){
    /* (a band op's header came with the band) */
    int iKind = 0;
    rc = bec_dag_seq_of(p, pP->aLoser[j].aId, &iSeq);
    if( rc==SQLITE_OK && iSeq ) rc = bec_dag_node_of(p, iSeq, &iKind, 0);
    if( rc==SQLITE_OK && iKind!=BEC_KIND_WRITE ){
      rc = why(pzWhy, "a loser's header names no write of the rows");
    }
  }
  sqlite3_free(aPl);
  return rc;
}

/* The merge base of every table from its rows (xSeq gives the seqs). */
static int convert_rows(BecCtx *p, const BecSnapParts *pP, BecSeqOf xSeq,
                        void *pArg, char **pzWhy, char **pzErr){
  int i, rc = SQLITE_OK;
  for(i=0; rc==SQLITE_OK && i<pP->nTable; i++){
    const BecSnapTable *t = &pP->aTable[i];
    BecSchema *s = 0;
    BecReader rd;
    int iSchema = 0;
    rc = bec_dag_seq_of(p, t->aCreate, &iSchema);
    if( rc==SQLITE_OK && iSchema==0 ){
      return why(pzWhy, "a table's create op is not in the chain");
    }
    if( rc==SQLITE_OK ) rc = bec_crdt_load_schema(p, iSchema, &s, 0, pzErr);
    rd.a = t->aRows; rd.n = t->nRowsBytes; rd.i = 0;
    if( rc==SQLITE_OK ){
      rc = bec_crdt_base_from_leaves(p, iSchema, s, &rd, t->nRow, xSeq, pArg,
                                     pzErr);
    }
    bec_schema_free(s);
    if( rc==SQLITE_ERROR || rc==SQLITE_MISUSE ){
      *pzWhy = *pzErr ? *pzErr : sqlite3_mprintf("a table's rows do not "
                                                 "convert");
      *pzErr = 0;
      rc = *pzWhy ? SQLITE_ERROR : SQLITE_NOMEM;
    }
  }
  return rc;
}

/* The dry run, in a scratch database (BecCtx.xScratch): the create and
** the chain stored there give the tables' schemas as shown at K, and the
** rows read against them give *pCand, each candidate's id and depth.  A
** scratch, not a savepoint rolled back here: undoing the tables the schema
** ops show would abort the statement that called the install. */
static int dry_run(BecCtx *p, const BecSnapParts *pP, BecBuf *pCand,
                   char **pzWhy, char **pzErr){
  sqlite3 *db2 = 0;
  BecCtx *p2 = 0;
  u8 aGroup[BEC_HASH_BYTES];
  int rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK ){
    rc = p->xScratch ? p->xScratch(&db2, &p2, pzErr) : SQLITE_MISUSE;
  }
  if( rc==SQLITE_OK ) rc = bec_dag_ensure_schema(p2, pzErr);
  if( rc==SQLITE_OK ) rc = bec_config_set_blob(p2, "group_id", aGroup, BEC_HASH_BYTES);
  if( rc==SQLITE_OK ) rc = sqlite3_exec(db2, "BEGIN", 0, 0, 0);
  if( rc==SQLITE_OK ) bec_e2ee_lend_identity(p2, p);
  if( rc==SQLITE_OK ) rc = place_cut(p2, pP, 0, 0, pzWhy, pzErr);
  if( rc==SQLITE_OK ){
    /* Tables at K with state S(K) does not carry (a hidden incarnation or
    ** added column, whose values only their writes give): a replica
    ** without those writes would show them empty once they show. */
    rc = bec_crdt_hidden_state(p2, pzWhy, pzErr);
    if( rc==SQLITE_OK && *pzWhy ) rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ){
    /* An encrypted group: the rows are read against schema ops that only
    ** the seeds of the cut's epochs open, from the boxes its keyshares and
    ** epoch ops address to this replica.  (The epochs current in the chain
    ** as stored here, before validity is derived: an epoch op that the
    ** cut voids and this replica holds no box of refuses too, and the
    ** join replays, which is never wrong.) */
    int iEpoch = 0;
    rc = bec_e2ee_install_held(p2, &iEpoch, pzErr);
    if( rc==SQLITE_OK && iEpoch ){
      rc = why(pzWhy, "this replica holds no key of an epoch of the cut (no "
                      "box of its seed in the cut is addressed to it, or its "
                      "identity is locked): the history is replayed");
    }
  }
  if( rc==SQLITE_OK ) rc = convert_rows(p2, pP, collect_seq, pCand, pzWhy, pzErr);
  if( rc && *pzErr==0 && *pzWhy==0 && db2 ){
    *pzErr = sqlite3_mprintf("bec: the install's dry run: %s", sqlite3_errmsg(db2));
  }
  if( p2 ){
    bec_ctx_finalize_stmts(p2);
    sqlite3_close_v2(db2);
    bec_ctx_unref(p2);
  }
  return rc;
}

/* Section iSec (BEC_CK_SEC_ROOT, _EPOCHS, _NAMES) as derived here from
** the cut's ops, which the install stored in full (the snapshot's chain
** carries them: version 5), against the snapshot's leaves, which R covers: the
** deriver's own state is then the provider's at K, and an op after K is
** judged by it as there.  Why the ops and not the leaves: what the
** derivers show and decide reads the ops (a name by its op's depth and
** validity; a root op after K by the sessions, holders and hand-overs
** its ops give), which a leaf does not carry.  The cut is held as one
** chain by depth where the provider may hold ops concurrent: a derivation
** that this order changes (a hand-over that another key generation
** abandons only in the real order, a rekey's back links to a concurrent
** shallower rekey) differs here, and the install is refused with the
** first leaf that differs (the join replays). */
static int check_section(BecCtx *p, const BecSnapState *pSt, int iSec,
                         char **pzWhy, char **pzErr){
  static const char *azSec[BEC_CK_NSEC] = { "threshold root", "e2ee epochs",
                                            "names", "earlier checkpoints" };
  BecBuf here;
  BecReader a, b;
  u64 nHere = 0, i;
  int rc;
  memset(&here, 0, sizeof(here));
  rc = bec_ckpt_section_here(p, iSec, &here, &nHere, pzErr);
  a.a = here.a; a.n = here.n; a.i = 0;
  b.a = pSt->aSecLeaves[iSec]; b.n = pSt->nSecBytes[iSec]; b.i = 0;
  for(i=0; rc==SQLITE_OK && (i<nHere || i<pSt->nSecLeaf[iSec]); i++){
    const u8 *x = 0, *y = 0;
    u64 nx = 0, ny = 0;
    char zId[17];
    if( i<nHere && (bec_read_varint(&a, &nx, (u64)(a.n-a.i))
                    || bec_read_bytes(&a, (i64)nx, &x)) ) rc = SQLITE_CORRUPT;
    if( i<pSt->nSecLeaf[iSec] && (bec_read_varint(&b, &ny, (u64)(b.n-b.i))
                    || bec_read_bytes(&b, (i64)ny, &y)) ) rc = SQLITE_CORRUPT;
    if( rc || (x && y && nx==ny && memcmp(x, y, (size_t)nx)==0) ) continue;
    /* every leaf of these sections begins with an id or a key */
    if( (y ? ny : nx)>=8 ) bec_hex_encode(y ? y : x, 8, zId);
    else zId[0] = 0;
    *pzWhy = sqlite3_mprintf("the %s derived from the cut's ops %s the "
        "snapshot's: its leaf %lld (%s...) %s", azSec[iSec],
        iSec==BEC_CK_SEC_ROOT ? "is not" : "are not", (long long)i, zId,
        !x ? "is not derived here" : !y ? "is not in the snapshot"
        : "differs");
    rc = *pzWhy ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  bec_buf_free(&here);
  return rc;
}

/* The rows' candidates, as the dry run collects them (id || depth, 8
** bytes big-endian), once each and in order (an op that wrote a whole row
** is a candidate of each of its registers), with the seq place_cut gave
** each: the conversion of the rows then finds a candidate's seq here
** (cand_seq) instead of by two lookups in storage (bec_dag_cut_seq), which
** were a quarter of an install's instructions (BENCH.md "Snapshots"). */
#define CAND_BYTES (BEC_HASH_BYTES+8)
typedef struct CandMap CandMap;
struct CandMap {
  BecCtx *p;
  const u8 *a;             /* n records of CAND_BYTES, sorted */
  i64 n;
  const int *aSeq;         /* the seq of each (0: placed otherwise) */
};
static int cmp_cand(const void *a, const void *b){
  return memcmp(a, b, CAND_BYTES);
}
static void cand_sort(BecBuf *pCand){
  i64 n = pCand->n/CAND_BYTES, i, m = 0;
  if( n<2 ) return;
  qsort(pCand->a, (size_t)n, CAND_BYTES, cmp_cand);
  for(i=0; i<n; i++){
    if( m>0 && memcmp(pCand->a + (m-1)*CAND_BYTES, pCand->a + i*CAND_BYTES,
                      CAND_BYTES)==0 ) continue;
    if( m!=i ) memcpy(pCand->a + m*CAND_BYTES, pCand->a + i*CAND_BYTES, CAND_BYTES);
    m++;
  }
  pCand->n = m*CAND_BYTES;
}
/* A BecSeqOf: the seq place_cut gave candidate aId at iDepth; any other
** (an id at another depth, a band op) as bec_dag_cut_seq gives it. */
static int cand_seq(void *pArg, const u8 *aId, i64 iDepth, int *piSeq){
  const CandMap *m = (const CandMap*)pArg;
  u8 aKey[CAND_BYTES];
  const u8 *x;
  int i;
  memcpy(aKey, aId, BEC_HASH_BYTES);
  for(i=0; i<8; i++) aKey[BEC_HASH_BYTES+i] = (u8)((u64)iDepth >> (56-8*i));
  x = m->n ? bsearch(aKey, m->a, (size_t)m->n, CAND_BYTES, cmp_cand) : 0;
  if( x && m->aSeq[(x - m->a)/CAND_BYTES]>0 ){
    *piSeq = m->aSeq[(x - m->a)/CAND_BYTES];
    return SQLITE_OK;
  }
  return bec_dag_cut_seq(m->p, aId, iDepth, piSeq);
}

/* The install proper, inside spInstall; SQLITE_ERROR with *pzWhy for a
** snapshot that cannot be installed. */
static int install(BecCtx *p, const BecSnapState *pSt, const BecSnapParts *pP,
                   char **pzWhy, char **pzErr){
  BecBuf cand;
  CandMap map;
  int *aCandSeq = 0;
  int rc, i, iSeq = 0, iK = 0;
  memset(&cand, 0, sizeof(cand));
  /* The dry run: the chain for the schemas, the rows for their ids. */
  rc = dry_run(p, pP, &cand, pzWhy, pzErr);
  if( rc==SQLITE_OK ){
    cand_sort(&cand);
    aCandSeq = sqlite3_malloc64(sizeof(int)*(u64)(cand.n/CAND_BYTES + 1));
    if( aCandSeq==0 ) rc = SQLITE_NOMEM;
    else memset(aCandSeq, 0, sizeof(int)*(size_t)(cand.n/CAND_BYTES + 1));
  }
  /* The cut placed for good, the rows converted onto it, K. */
  if( rc==SQLITE_OK ) rc = place_cut(p, pP, &cand, aCandSeq, pzWhy, pzErr);
  map.p = p;
  map.a = cand.a;
  map.n = cand.n/CAND_BYTES;
  map.aSeq = aCandSeq;
  if( rc==SQLITE_OK ) rc = convert_rows(p, pP, cand_seq, &map, pzWhy, pzErr);
  bec_buf_free(&cand);
  sqlite3_free(aCandSeq);
  if( rc==SQLITE_OK ){
    rc = bec_dag_install_op(p, &pP->k, -1, &iK, pzErr);
    if( rc==SQLITE_ERROR ){ *pzWhy = *pzErr; *pzErr = 0; }
  }
  /* An empty band starts at K: K keeps its own edges, so an op concurrent
  ** with K that reaches every predecessor of K is placed (the provider
  ** held such ops and found that they need no header). */
  if( rc==SQLITE_OK && pP->nBand==0 ) rc = bec_dag_cut_band(p, iK, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_cut_close(p, iK, pzErr);

  /* Membership from the chain, as the members section says it is; the
  ** chain ops' validity as proven. */
  if( rc==SQLITE_OK ) rc = bec_member_rederive(p, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_member_install_check(p, pSt, pzWhy, pzErr);
    if( rc==SQLITE_OK && *pzWhy ) rc = SQLITE_ERROR;
  }
  for(i=0; rc==SQLITE_OK && i<pP->nChain; i++){
    const BecSnapProof *pf = proof_of(pP, pP->aChain[i].aId);
    int iKind = 0, bValid = 0;
    if( pf==0 ) continue;
    rc = bec_dag_seq_of(p, pf->aId, &iSeq);
    if( rc==SQLITE_OK ) rc = bec_dag_node_of(p, iSeq, &iKind, &bValid);
    if( rc==SQLITE_OK && (bValid!=0)!=(pf->bValid!=0) ){
      rc = why(pzWhy, "a chain op's validity derived from the cut is not "
                      "the proven one");
    }
  }

  for(i=0; rc==SQLITE_OK && i<pP->nBand; i++){
    const BecSnapProof *pf = band_proof_of(pP, pP->aBand[i].aId);
    int iKind = 0, bValid = 0;
    rc = bec_dag_seq_of(p, pP->aBand[i].aId, &iSeq);
    if( rc==SQLITE_OK ) rc = bec_dag_node_of(p, iSeq, &iKind, &bValid);
    if( rc==SQLITE_OK && pf && (bValid!=0)!=(pf->bValid!=0) ){
      /* a band op's past in the graph holds all of the cut below it: more
      ** than its own, which may decide its validity otherwise */
      rc = why(pzWhy, "a band op's validity derived from the cut is not "
                      "the proven one");
    }
  }

  for(i=0; rc==SQLITE_OK && i<pP->nLoser; i++){
    /* a row's candidate is a valid write; its header's past in the graph
    ** is more than its own (as a band op's), which may decide otherwise */
    int iKind = 0, bValid = 0;
    rc = bec_dag_seq_of(p, pP->aLoser[i].aId, &iSeq);
    if( rc==SQLITE_OK ) rc = bec_dag_node_of(p, iSeq, &iKind, &bValid);
    if( rc==SQLITE_OK && !bValid ){
      rc = why(pzWhy, "a losing write's validity derived from the cut is "
                      "not valid");
    }
  }

  /* The root and the names from the cut's root and name ops, as their
  ** sections say. */
  if( rc==SQLITE_OK ) rc = check_section(p, pSt, BEC_CK_SEC_ROOT, pzWhy, pzErr);
  if( rc==SQLITE_OK ) rc = check_section(p, pSt, BEC_CK_SEC_NAMES, pzWhy, pzErr);
  if( rc==SQLITE_OK ) rc = check_section(p, pSt, BEC_CK_SEC_EPOCHS, pzWhy, pzErr);

  /* The earlier checkpoints as their section says; S(K) as verified, its
  ** claims, the tables from the base. */
  if( rc==SQLITE_OK ){
    rc = bec_ckpt_install_earlier(p, pSt, pzWhy, pzErr);
    if( rc==SQLITE_OK && *pzWhy ) rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ) rc = bec_ckpt_install(p, iK, pSt, pzErr);
  for(i=0; rc==SQLITE_OK && i<pP->nClaim; i++){
    BecAccept res;
    rc = bec_dag_accept(p, pP->aClaim[i].aBody, pP->aClaim[i].nBody, 1, &res,
                        pzErr);
    if( rc==SQLITE_OK && res.eOutcome!=BEC_ACCEPT_STORED
     && res.eOutcome!=BEC_ACCEPT_DUPLICATE && res.eOutcome!=BEC_ACCEPT_PENDING ){
      rc = why(pzWhy, "an attestation of K is refused");
    }
  }
  if( rc==SQLITE_OK ) rc = bec_crdt_base_install(p, iK, pzErr);
  return rc;
}

/* Keeps the installed snapshot's bytes (bec_install_give). */
static int keep_bytes(BecCtx *p, const u8 *aK, const u8 *aSnap, i64 nSnap,
                      char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_exec(p, zInstallSchema, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_install(checkpoint,"
                         " snapshot) VALUES(?1, ?2)", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aK, BEC_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob64(pStmt, 2, aSnap, (sqlite3_uint64)nSnap, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  return rc;
}

int bec_install_snapshot(BecCtx *p, const u8 *aSnap, i64 nSnap, char **pzWhy,
                         char **pzErr){
  BecSnapState st;
  BecSnapParts parts;
  int rc, bEmpty = 0;
  *pzWhy = 0;
  memset(&parts, 0, sizeof(parts));
  memset(&st, 0, sizeof(st));
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_snapshot_may_join(p, &bEmpty);
  if( rc==SQLITE_OK && !bEmpty ){
    *pzWhy = sqlite3_mprintf("this database holds ops: a snapshot installs "
                             "only on an empty one");
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ) rc = bec_snapshot_state(p, aSnap, nSnap, &st, pzWhy, pzErr);
  if( rc || *pzWhy ) return rc;
  rc = bec_snapshot_parts(p, aSnap, nSnap, &parts, pzErr);
  if( rc==SQLITE_OK && parts.nLoser>1 ){
    /* sorted for loser_of; an id twice would be stored twice */
    int i;
    qsort(parts.aLoser, (size_t)parts.nLoser, sizeof(BecOp), cmp_op_id);
    for(i=1; rc==SQLITE_OK && *pzWhy==0 && i<parts.nLoser; i++){
      if( memcmp(parts.aLoser[i-1].aId, parts.aLoser[i].aId, BEC_HASH_BYTES)==0 ){
        *pzWhy = sqlite3_mprintf("the snapshot cannot be installed: a loser's "
                                 "header is sent twice");
        if( *pzWhy==0 ) rc = SQLITE_NOMEM;
      }
    }
  }
  if( rc==SQLITE_OK && *pzWhy==0 ) rc = bec_ctx_begin(p, &spInstall);
  if( rc==SQLITE_OK && *pzWhy==0 ){
    rc = install(p, &st, &parts, pzWhy, pzErr);
    if( rc==SQLITE_OK ){
      rc = keep_bytes(p, st.aCheckpoint, aSnap, nSnap, pzErr);
    }
    if( rc==SQLITE_OK ){
      rc = bec_ctx_commit(p, &spInstall);
    }else{
      int rc2 = bec_ctx_rollback(p, &spInstall);
      if( rc==SQLITE_ERROR && *pzWhy ){
        /* a snapshot that cannot be installed: nothing stored, not a
        ** failure of this database */
        char *z = sqlite3_mprintf("the snapshot cannot be installed: %s", *pzWhy);
        sqlite3_free(*pzWhy);
        sqlite3_free(*pzErr);
        *pzErr = 0;
        *pzWhy = z;
        rc = z ? rc2 : SQLITE_NOMEM;
      }
    }
  }
  bec_snapshot_parts_free(&parts);
  bec_snapshot_state_free(&st);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot install the snapshot: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/**************************************************************************
** A LONGER BAND (docs/compaction.md "A longer band").  An op concurrent
** with K that the band does not place needs the band of a longer suffix of
** the ops section: its new ops are the ops of the cut just below the band
** in (depth, id) order.  The install holds only the ops of the cut that
** something names (a row, a proof, a chain op), so most of them have no
** seq here, and seqs are dense and a topological order: there is no room
** below the band for them.  Renumbering in place would touch every table
** that names a seq (the merge base, the rows, membership, names, epochs).
** So the install is stored again with the longer band, which is exactly
** the install of the snapshot its provider would have sent had it held
** the op: the same bytes but the band section, every check of
** bec_snapshot_state, the same install(); then every op stored after K is
** accepted again from its body (the DAG keeps them: bec_dag_reinstall_reset)
** and the ops waiting as concurrent with K are judged again
** (bec_dag_pending_retry).  Each deriver drops what it derived first, as
** in a fall-back (BecDeriver.xReset), and derives it again from the same
** ops: the state after is a function of the ops, as on every replica.
** All in one savepoint; an op stored before that the longer band does not
** place (the band's rule is conservative) refuses the band, and nothing
** changes.  Cost: the ops after K accepted again (a fall-back costs them
** and the whole history besides).
*/
static const BecSavepoint spExtend = {
  "SAVEPOINT bec_extend", "RELEASE bec_extend", "ROLLBACK TO bec_extend"
};

/* The extension proper, inside spExtend: the derivers reset, the DAG reset
** (pKept the bodies above K), the install again, the kept ops again. */
static int extend(BecCtx *p, const BecSnapState *pSt, const BecSnapParts *pP,
                  const u8 *aSnap, i64 nSnap, char **pzWhy, char **pzErr){
  BecBuf kept;
  BecReader rd;
  int rc = SQLITE_OK, i;
  char *zWhyNot = 0;
  memset(&kept, 0, sizeof(kept));
  for(i=0; rc==SQLITE_OK && i<p->nDeriver; i++){
    const BecDeriver *d = p->apDeriver[i];
    if( d->xReset ) rc = d->xReset(p, 0, &zWhyNot, pzErr);
    if( rc==SQLITE_OK && zWhyNot ) rc = SQLITE_INTERNAL;  /* (probed) */
  }
  sqlite3_free(zWhyNot);
  if( rc==SQLITE_OK ){
    rc = bec_dag_reinstall_reset(p, &kept, pzErr);
    if( rc==SQLITE_ERROR ){ *pzWhy = *pzErr; *pzErr = 0; }
  }
  if( rc==SQLITE_OK ) rc = install(p, pSt, pP, pzWhy, pzErr);
  if( rc==SQLITE_OK ) rc = keep_bytes(p, pSt->aCheckpoint, aSnap, nSnap, pzErr);
  rd.a = kept.a; rd.n = kept.n; rd.i = 0;
  while( rc==SQLITE_OK && rd.i<rd.n ){
    u64 n = 0;
    const u8 *a = 0;
    BecAccept res;
    if( bec_read_varint(&rd, &n, (u64)(rd.n-rd.i))
     || bec_read_bytes(&rd, (i64)n, &a) ){
      rc = SQLITE_CORRUPT;
      break;
    }
    rc = bec_dag_accept(p, a, (i64)n, 1, &res, pzErr);
    if( rc==SQLITE_OK && res.eOutcome!=BEC_ACCEPT_STORED
     && res.eOutcome!=BEC_ACCEPT_DUPLICATE ){
      /* stored before, from the same past: only a band whose rule places
      ** less than the shorter one did refuses it (nothing changes) */
      char zId[13];
      bec_hex_encode(res.aId, 6, zId);
      *pzWhy = sqlite3_mprintf("op %s, stored here against the band "
          "installed, is not placed against the longer one", zId);
      rc = *pzWhy ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    sqlite3_free(res.zReason);
  }
  bec_buf_free(&kept);
  /* the op that waited is judged again: if it (or another) still cannot
  ** be placed, it is recorded again */
  if( rc==SQLITE_OK ) rc = bec_config_set_blob(p, "rejoin_op", 0, 0);
  if( rc==SQLITE_OK ) rc = bec_dag_pending_retry(p, pzErr);
  return rc;
}

int bec_install_extend(BecCtx *p, const u8 *aBand, i64 nBand, char **pzWhy,
                       char **pzErr){
  BecSnapState st;
  BecSnapParts parts;
  BecBuf old, snap;
  u8 aK[BEC_HASH_BYTES], aZero[BEC_HASH_BYTES];
  i64 iOff = 0, iEnd = 0, iOff2 = 0, iEnd2 = 0;
  u64 nOld = 0, nNew = 0;
  int rc, bGiven = 0, i, bDefer = p->bRejoinDefer;
  char *zWhyNot = 0;
  *pzWhy = 0;
  memset(&st, 0, sizeof(st));
  memset(&parts, 0, sizeof(parts));
  memset(&old, 0, sizeof(old));
  memset(&snap, 0, sizeof(snap));
  memset(aZero, 0, sizeof(aZero));
  rc = bec_install_cut(p, aK);
  if( rc==SQLITE_OK && memcmp(aK, aZero, BEC_HASH_BYTES)==0 ){
    *pzWhy = sqlite3_mprintf("this replica installed no snapshot");
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && nBand>BEC_BAND_MAX_BYTES ){
    *pzWhy = sqlite3_mprintf("the band is refused: %lld bytes (at most %d)",
                             (long long)nBand, BEC_BAND_MAX_BYTES);
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  /* The installed snapshot with this band in place of its own. */
  if( rc==SQLITE_OK ) rc = bec_install_give(p, &old, &bGiven, pzErr);
  if( rc==SQLITE_OK && bGiven ){
    rc = bec_snapshot_band_at(p, old.a, old.n, &iOff, &iEnd, &nOld, pzWhy, pzErr);
  }else if( rc==SQLITE_OK ){
    *pzWhy = sqlite3_mprintf("the installed snapshot is not kept here");
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && *pzWhy==0 ){
    /* (the losers' headers after the band stay: version 6) */
    bec_buf_append(&snap, old.a, iOff, &rc);
    bec_buf_append(&snap, aBand, nBand, &rc);
    bec_buf_append(&snap, old.a + iEnd, old.n - iEnd, &rc);
  }
  if( rc==SQLITE_OK && *pzWhy==0 ){
    rc = bec_snapshot_band_at(p, snap.a, snap.n, &iOff2, &iEnd2, &nNew, pzWhy,
                              pzErr);
    if( rc==SQLITE_OK && *pzWhy ){
      char *z = sqlite3_mprintf("the band is refused: %s", *pzWhy);
      sqlite3_free(*pzWhy);
      *pzWhy = z;
      if( z==0 ) rc = SQLITE_NOMEM;
    }
  }
  if( rc==SQLITE_OK && *pzWhy==0 && nNew<=nOld ){
    *pzWhy = sqlite3_mprintf("the band is refused: %llu ops, no longer than "
        "the %llu installed here", (unsigned long long)nNew,
        (unsigned long long)nOld);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  /* Every check of the snapshot: the band's among them (a gap, a proof
  ** that does not lead to R, a header not in the cut, not a suffix). */
  if( rc==SQLITE_OK && *pzWhy==0 ){
    rc = bec_snapshot_state(p, snap.a, snap.n, &st, pzWhy, pzErr);
  }
  if( rc==SQLITE_OK && *pzWhy==0 ){
    rc = bec_snapshot_parts(p, snap.a, snap.n, &parts, pzErr);
  }
  /* Can every deriver drop its state (as for a fall-back)? */
  for(i=0; rc==SQLITE_OK && *pzWhy==0 && i<p->nDeriver; i++){
    const BecDeriver *d = p->apDeriver[i];
    if( d->xReset ) rc = d->xReset(p, 1, &zWhyNot, pzErr);
    if( rc==SQLITE_OK && zWhyNot ){
      *pzWhy = sqlite3_mprintf("a band cannot be installed again here: %s",
                               zWhyNot);
      if( *pzWhy==0 ) rc = SQLITE_NOMEM;
    }
  }
  sqlite3_free(zWhyNot);
  if( rc==SQLITE_OK && *pzWhy==0 ) rc = bec_ctx_begin(p, &spExtend);
  if( rc==SQLITE_OK && *pzWhy==0 ){
    /* an op that the longer band does not place either waits; the caller
    ** decides whether to fall back (bBandWanted) */
    p->bRejoinDefer = 1;
    rc = extend(p, &st, &parts, snap.a, snap.n, pzWhy, pzErr);
    p->bRejoinDefer = bDefer;
    if( rc==SQLITE_OK ){
      rc = bec_ctx_commit(p, &spExtend);
    }else{
      int rc2 = bec_ctx_rollback(p, &spExtend);
      bec_dag_forget(p);
      if( rc==SQLITE_ERROR && *pzWhy ){
        /* refused: nothing changed, not a failure of this database */
        sqlite3_free(*pzErr);
        *pzErr = 0;
        rc = rc2;
      }
    }
  }
  bec_snapshot_parts_free(&parts);
  bec_snapshot_state_free(&st);
  bec_buf_free(&old);
  bec_buf_free(&snap);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot install the longer band: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

int bec_install_band_give(BecCtx *p, const u8 *aK, u64 nHeld, BecBuf *pOut,
                          char **pzWhy, char **pzErr){
  BecBuf snap;
  u8 aHere[BEC_HASH_BYTES];
  i64 iOff = 0, iEnd = 0;
  u64 nBand = 0;
  int rc, bGiven = 0;
  *pzWhy = 0;
  memset(&snap, 0, sizeof(snap));
  rc = bec_install_cut(p, aHere);
  if( rc==SQLITE_OK && memcmp(aHere, aK, BEC_HASH_BYTES) ){
    *pzWhy = sqlite3_mprintf("this replica installed another checkpoint");
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ) rc = bec_install_give(p, &snap, &bGiven, pzErr);
  if( rc==SQLITE_OK && bGiven ){
    rc = bec_snapshot_band_at(p, snap.a, snap.n, &iOff, &iEnd, &nBand, pzWhy,
                              pzErr);
  }
  if( rc==SQLITE_OK && *pzWhy==0 && nBand<=nHeld ){
    *pzWhy = sqlite3_mprintf("no longer band: the band installed here has "
        "%llu ops, the asker holds %llu", (unsigned long long)nBand,
        (unsigned long long)nHeld);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && *pzWhy==0 ){
    bec_buf_append(pOut, snap.a + iOff, iEnd - iOff, &rc);
  }
  bec_buf_free(&snap);
  return rc;
}

int bec_install_give(BecCtx *p, BecBuf *pOut, int *pbGiven, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  u8 aK[BEC_HASH_BYTES], aZero[BEC_HASH_BYTES];
  int rc = bec_install_cut(p, aK);
  *pbGiven = 0;
  memset(aZero, 0, sizeof(aZero));
  if( rc || memcmp(aK, aZero, BEC_HASH_BYTES)==0 ) return rc;
  rc = bec_ctx_stmt(p, "SELECT snapshot FROM bec_store_install"
                       " WHERE checkpoint=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aK, BEC_HASH_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    bec_buf_append(pOut, sqlite3_column_blob(pStmt, 0),
                   sqlite3_column_bytes(pStmt, 0), &rc);
    *pbGiven = rc==SQLITE_OK;
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot read the installed snapshot: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/**************************************************************************
** SQL: bec_snapshot_install(snapshot) installs a snapshot obtained out of
** band on a database that holds no op and returns K's id, or fails with
** why it was not installed (nothing stored).  The snapshot join calls
** bec_install_snapshot from sync (bec_sync.c take_snapshot).
*/
/* Runs xInstall (bec_install_snapshot or bec_install_extend) on blob
** pArg as SQL function zFn; nonzero when it did not install (the error is
** then set on ctx, with why it was refused). */
static int fn_install_blob(sqlite3_context *ctx, sqlite3_value *pArg,
                           const char *zFn, const char *zNotBlob,
                           int (*xInstall)(BecCtx*, const u8*, i64, char**,
                                           char**)){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  char *zErr = 0, *zWhy = 0;
  int rc = SQLITE_OK;
  if( sqlite3_value_type(pArg)!=SQLITE_BLOB ){
    zWhy = sqlite3_mprintf("%s", zNotBlob);
    if( zWhy==0 ) rc = SQLITE_NOMEM;
  }else{
    rc = xInstall(p, sqlite3_value_blob(pArg), sqlite3_value_bytes(pArg),
                  &zWhy, &zErr);
  }
  if( rc==SQLITE_OK && zWhy ){
    rc = SQLITE_ERROR;
    sqlite3_free(zErr);
    zErr = zWhy;
  }else{
    sqlite3_free(zWhy);
  }
  if( rc ) bec_fn_error_in(ctx, zFn, rc, zErr);
  return rc;
}

static void fnInstall(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aK[BEC_HASH_BYTES];
  int rc;
  (void)argc;
  if( fn_install_blob(ctx, argv[0], "bec_snapshot_install",
                      "a snapshot is a blob", bec_install_snapshot) ) return;
  rc = bec_install_cut(p, aK);
  if( rc ) bec_fn_error_in(ctx, "bec_snapshot_install", rc, 0);
  else bec_fn_result_hex(ctx, aK, BEC_HASH_BYTES);
}

/* bec_band_install(band): installs a longer band (bec_band() of a full or
** pruned replica) on a replica that installed a snapshot, and returns how
** many band ops it holds now; fails with why it was refused (nothing
** changed). */
static void fnBandInstall(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  i64 iBand = 0, iTop = 0;
  int rc;
  (void)argc;
  if( fn_install_blob(ctx, argv[0], "bec_band_install", "a band is a blob",
                      bec_install_extend) ) return;
  rc = bec_config_get_int(p, "cut_band", 0, &iBand);
  if( rc==SQLITE_OK ) rc = bec_config_get_int(p, "cut_top", 0, &iTop);
  if( rc ) bec_fn_error_in(ctx, "bec_band_install", rc, 0);
  else sqlite3_result_int64(ctx, iTop - iBand);
}

int bec_install_cut(BecCtx *p, u8 *aK){
  sqlite3_stmt *pStmt = 0;
  i64 iK = 0;
  int rc = bec_config_get_int(p, "cut_top", 0, &iK);
  memset(aK, 0, BEC_HASH_BYTES);
  if( rc || iK==0 ) return rc;
  rc = bec_ctx_stmt(p, "SELECT hash FROM bec_store_op WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iK);
  if( sqlite3_step(pStmt)==SQLITE_ROW
   && sqlite3_column_bytes(pStmt, 0)==BEC_HASH_BYTES ){
    memcpy(aK, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
  }
  return sqlite3_reset(pStmt);
}

int bec_install_register(sqlite3 *db, BecCtx *p){
  static const BecFunc aFunc[] = {
    { "bec_snapshot_install", 1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnInstall },
    { "bec_band_install", 1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnBandInstall },
  };
  return bec_ctx_register_funcs(db, p, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
}
