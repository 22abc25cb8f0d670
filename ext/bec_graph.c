/*
** bec_graph.c - the in-memory index of the stored DAG: for every op a
** prefix of its hash, author, kind, target, role, depth, last derived
** validity and predecessors, addressed by seq (the op's position in arrival
** order, a topological order).  Membership, tables and sync read the DAG
** here instead of decoding stored bodies.
**
** Memory.  A node is 28 bytes and a predecessor 4 (COMPACTION.md section
** 9): the 32-byte ids stay in bec_store_op, and bec_graph_id reads one by
** seq (a rowid seek) when a payload or a message needs it.  Ordering by id
** (the tie-breaks of membership, tables, checkpoints) compares the 8-byte
** prefixes and reads the full ids only when those are equal: an attacker
** can grind two ops to one prefix, so the prefix never decides alone.  The
** graph grows by appending; a load sizes its arrays from the stored count.
**
** Coherence.  The graph is a cache of bec_store_op.  Each stored op carries
** a chain digest, chain(seq) = XXH3(hash(seq), seed = chain(seq-1)), so the
** last row's (seq, chain) identifies the whole stored sequence.  Before
** every use bec_graph_check() compares it with the one the caches were
** built on: equal means nothing changed; anything else (another connection
** wrote, or this one rolled back) drops the graph and every state derived
** from storage.
**
** Loading on demand (COMPACTION.md section 9, incremental).  The check
** reads one row; only bec_graph_get() loads the graph, at the first
** question that needs it (a causal past, an order by id, a sync reply).
** Storing an op whose predecessors are every head (a local op, a peer's
** op on a linear history) needs the check only: bec_dag.c stores it from
** the last row and its predecessors' depths, and membership admits it from
** its stored derived state (bec_member.c, "Covering ops").
**
** Stand-ins (docs/compaction.md "The snapshot join").  A replica that
** installs a snapshot holds the ops of K's cut that something names as
** rows of bec_store_cut, without header or body, in bec_store_op's seq
** space: the graph is both tables merged by seq.  A stand-in's node is a
** write of final validity by no key (iAuthor 0, BEC_NODE_STANDIN): the
** loops over every node skip it, bec_graph_id reads its id from the cut
** table.  Its edges are unknown, and what the install needs is that every
** op descending from K has the whole cut in its past: so in memory every
** node up to K (bec_store_config 'cut_top', its seq; the install stores K
** after every stand-in and chain op) has one predecessor, the node before
** it, and a stand-in above K (none, once installed) has that one too.
** Every traversal of the graph (bec_graph_past, membership, the merge's
** ancestor walks) then sees seqs 1..K-1 in K's past, which is exactly the
** installed content, without a flag each would have to check.  An op
** concurrent with K that names only ops of the cut would see more than its
** real past; the install keeps such an op pending (step 5 there).  With a
** band (bec_store_config 'cut_band', docs/compaction.md "The band") the
** one-edge region ends below the band: the band ops, stored after the rest
** of the cut, and K keep their real edges, so an op concurrent with K that
** the band places sees exactly its past (the band ops it reaches, and,
** through the last node below the band, which is a boundary op it
** reaches, all of the cut outside the band).
** The chain digest covers stored ops only: a stand-in leaves it as it is,
** and the check counts the highest stand-in's seq besides the last row.
*/
#include "becInt.h"

#include <xxhash.h>

/* Room for nodes up to nMin.  Growth by half keeps the slack of a growing
** graph small; a load asks for the stored count at once. */
static int grow_nodes(BecGraph *g, int nMin){
  if( nMin >= g->nNodeAlloc ){
    i64 nNew = g->nNodeAlloc ? g->nNodeAlloc + g->nNodeAlloc/2 : 1024;
    BecNode *aNew;
    if( nNew<=nMin ) nNew = (i64)nMin + 1;
    aNew = sqlite3_realloc64(g->aNode, sizeof(BecNode)*(sqlite3_uint64)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    g->aNode = aNew;
    g->nNodeAlloc = (int)nNew;
  }
  return SQLITE_OK;
}

static int grow_preds(BecGraph *g, int nMore){
  /* Allocated even for a node without predecessors (the create op), so
  ** that BEC_NODE_PREDS never offsets a null pointer. */
  if( g->aPred==0 || g->nPred + nMore > g->nPredAlloc ){
    i64 nNew = g->nPredAlloc ? g->nPredAlloc + g->nPredAlloc/2 : 1024;
    int *aNew;
    if( nNew < (i64)g->nPred + nMore ) nNew = (i64)g->nPred + nMore;
    aNew = sqlite3_realloc64(g->aPred, sizeof(int)*(sqlite3_uint64)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    g->aPred = aNew;
    g->nPredAlloc = (int)nNew;
  }
  return SQLITE_OK;
}

int bec_graph_add_author(BecGraph *g, int iAuthor, const u8 *aKey){
  if( iAuthor >= g->nAuthorAlloc ){
    int nNew = g->nAuthorAlloc ? g->nAuthorAlloc*2 : 64;
    void *aNew;
    while( nNew<=iAuthor ) nNew *= 2;
    aNew = sqlite3_realloc64(g->aAuthorKey, (sqlite3_uint64)nNew*BEC_PUBKEY_BYTES);
    if( aNew==0 ) return SQLITE_NOMEM;
    /* zeros: slot 0 is a stand-in's "no key" (BEC_NODE_STANDIN), read
    ** by a loop that shows every node's author (bec_dot.c) */
    memset((u8*)aNew + (size_t)g->nAuthorAlloc*BEC_PUBKEY_BYTES, 0,
           (size_t)(nNew - g->nAuthorAlloc)*BEC_PUBKEY_BYTES);
    g->aAuthorKey = aNew;
    g->nAuthorAlloc = nNew;
  }
  memcpy(g->aAuthorKey[iAuthor], aKey, BEC_PUBKEY_BYTES);
  if( iAuthor>g->nAuthor ) g->nAuthor = iAuthor;
  return SQLITE_OK;
}

int bec_graph_append(BecGraph *g, const BecNode *pNode, const u8 *aHash,
                     const int *aPredSeq, u64 chain){
  int rc = grow_nodes(g, g->nNode+1);
  if( rc==SQLITE_OK ) rc = grow_preds(g, pNode->nPred);
  if( rc==SQLITE_OK ){
    BecNode *p = &g->aNode[++g->nNode];
    *p = *pNode;
    memcpy(p->aIdPre, aHash, BEC_ID_PREFIX);
    p->iPred = g->nPred;
    if( pNode->nPred ){
      memcpy(&g->aPred[g->nPred], aPredSeq, sizeof(int)*(size_t)pNode->nPred);
    }
    g->nPred += pNode->nPred;
    g->chain = chain;
  }
  return rc;
}

void bec_graph_free(BecGraph *g){
  if( g ){
    sqlite3_free(g->aNode);
    sqlite3_free(g->aPred);
    sqlite3_free(g->aAuthorKey);
    sqlite3_free(g);
  }
}

/* Decodes the packed predecessor seqs of a stored op (varints); inline, so
** that the load inlines it. */
static inline int unpack_preds(const u8 *a, int n, int *aOut, int *pnOut){
  BecReader rd;
  int nOut = 0;
  rd.a = a; rd.n = n; rd.i = 0;
  while( rd.i<rd.n ){
    u64 v;
    if( nOut>=BEC_MAX_PRED || bec_read_varint(&rd, &v, 0x7fffffff) ){
      return SQLITE_CORRUPT;
    }
    aOut[nOut++] = (int)v;
  }
  *pnOut = nOut;
  return SQLITE_OK;
}

int bec_graph_unpack_preds(const u8 *a, int n, int *aOut, int *pnOut){
  return unpack_preds(a, n, aOut, pnOut);
}

static int load_authors(BecCtx *pCtx, BecGraph *g){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(pCtx,
      "SELECT id, pubkey FROM bec_store_author WHERE id>?1 ORDER BY id", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, g->nAuthor);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    /* ids are rowids, never deleted: dense from 1 (a damaged id must not
    ** size the key array) */
    if( sqlite3_column_bytes(pStmt, 1)!=BEC_PUBKEY_BYTES
     || sqlite3_column_int64(pStmt, 0)!=g->nAuthor+1 ){
      rc = SQLITE_CORRUPT;
    }else{
      rc = bec_graph_add_author(g, sqlite3_column_int(pStmt, 0),
                                sqlite3_column_blob(pStmt, 1));
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  return rc;
}

/* Appends the node of the bec_store_op row pStmt holds (seq, hash, kind,
** author, depth, target, role, valid, chain, preds).  iTop: nodes up to it
** have the node before them as their only predecessor (a stand-in region).
** bChain: read the row's chain digest (else the graph keeps 0). */
static int load_op_row(BecGraph *g, sqlite3_stmt *pStmt, int iTop, int bChain){
  BecNode node;
  int aPred[BEC_MAX_PRED];
  int nPred = 0, role, k, rc;
  u64 chain = 0;
  memset(&node, 0, sizeof(node));
  if( sqlite3_column_bytes(pStmt, 1)!=BEC_HASH_BYTES ) return SQLITE_CORRUPT;
  node.kind = (u8)sqlite3_column_int(pStmt, 2);
  node.iAuthor = sqlite3_column_int(pStmt, 3);
  node.depth = sqlite3_column_int(pStmt, 4);
  node.iTarget = sqlite3_column_int(pStmt, 5);
  role = sqlite3_column_int(pStmt, 6);
  node.role = (u8)(role & 0x7f);
  node.bValid = sqlite3_column_int(pStmt, 7)!=0;
  rc = unpack_preds(sqlite3_column_blob(pStmt, 9),
                    sqlite3_column_bytes(pStmt, 9), aPred, &nPred);
  node.nPred = nPred;
  if( rc ) return rc;
  /* Everything that indexes the graph relies on these: check them once
  ** here, so damaged storage is an error, never a wild read. */
  if( bec_kind(node.kind)==0
   || role!=node.role
   || node.iAuthor<1 || node.iAuthor>g->nAuthor
   || node.iTarget<0 || node.iTarget>g->nAuthor
   || (bec_kind_has_target(node.kind) && node.iTarget<1)
   || node.depth<0 ){
    return SQLITE_CORRUPT;
  }
  for(k=0; k<nPred; k++){
    if( aPred[k]<1 || aPred[k]>g->nNode ) return SQLITE_CORRUPT;
  }
  if( g->nNode+1<=iTop ){
    /* in the installed region: the node before it stands for its edges */
    node.nPred = g->nNode>0;
    aPred[0] = g->nNode;
  }
  if( bChain ) chain = (u64)sqlite3_column_int64(pStmt, 8);
  return bec_graph_append(g, &node, sqlite3_column_blob(pStmt, 1), aPred,
                          chain);
}

/* Appends the node of a stand-in (a bec_store_cut row: id, depth,
** valid): a write of final validity by no key whose one predecessor is the
** node before it.  The chain digest stays the last stored op's. */
int bec_graph_append_standin(BecGraph *g, const u8 *aId, int depth, int bValid){
  BecNode node;
  int iPrev = g->nNode;
  memset(&node, 0, sizeof(node));
  if( depth<0 ) return SQLITE_CORRUPT;
  node.kind = BEC_KIND_WRITE;
  node.depth = depth;
  node.bValid = bValid!=0;
  node.nPred = iPrev>0;
  return bec_graph_append(g, &node, aId, &iPrev, g->chain);
}

/* Whether bec_store_cut exists: looked up once after the caches drop
** (bec_dag_forget clears eCut), and again when a read of it fails (a
** rollback removed it). */
int bec_graph_cut_exists(BecCtx *pCtx, int *pb){
  if( pCtx->eCut==0 ){
    sqlite3_stmt *pStmt = 0;
    int rc = bec_ctx_stmt(pCtx, "SELECT 1 FROM sqlite_schema"
        " WHERE type='table' AND name='bec_store_cut'", &pStmt);
    if( rc ) return rc;
    pCtx->eCut = sqlite3_step(pStmt)==SQLITE_ROW ? 2 : 1;
    rc = sqlite3_reset(pStmt);
    if( rc ){ pCtx->eCut = 0; return rc; }
  }
  *pb = pCtx->eCut==2;
  return SQLITE_OK;
}

/* *piTop: the last node given the node before it as its one predecessor
** on an installed replica: K ('cut_top'), or, when the install stored a
** band ('cut_band': the band ops from that seq up to K), the node below
** the band: the band ops and K keep their own edges (docs/compaction.md
** "The band").  0 elsewhere. */
static int cut_top(BecCtx *pCtx, int bCut, int *piTop){
  i64 iTop = 0, iBand = 0;
  int rc = bCut ? bec_config_get_int(pCtx, "cut_top", 0, &iTop) : SQLITE_OK;
  if( rc==SQLITE_OK && bCut && iTop>0 ){
    rc = bec_config_get_int(pCtx, "cut_band", 0, &iBand);
  }
  *piTop = 0;
  if( rc==SQLITE_OK && (iTop<0 || iTop>0x7fffffff || iBand<0 || iBand>iTop) ){
    rc = SQLITE_CORRUPT;
  }
  if( rc==SQLITE_OK ) *piTop = iBand>0 ? (int)iBand-1 : (int)iTop;
  return rc;
}

/* Loads every stored op and stand-in into a new graph of nStored nodes (the
** arrays sized once).  *pp owned by the caller. */
static int load_graph(BecCtx *pCtx, int nStored, BecGraph **pp){
  BecGraph *g = sqlite3_malloc64(sizeof(BecGraph));
  sqlite3_stmt *pStmt = 0;
  sqlite3_stmt *pCut = 0;
  int rc, bCut = 0, iTop = 0;
  int bOp = 0, bStand = 0;        /* pStmt, pCut hold a row */
  *pp = 0;
  if( g==0 ) return SQLITE_NOMEM;
  memset(g, 0, sizeof(*g));
  g->pCtx = pCtx;
  /* Room for the stored ops and a few more (the next local writes must not
  ** copy the arrays); most ops have one or two predecessors, appends grow
  ** the rest. */
  rc = grow_nodes(g, nStored + nStored/16 + 64);
  if( rc==SQLITE_OK ) rc = grow_preds(g, nStored + nStored/4 + 64);
  if( rc==SQLITE_OK ) rc = load_authors(pCtx, g);
  if( rc==SQLITE_OK ) rc = bec_graph_cut_exists(pCtx, &bCut);
  if( rc==SQLITE_OK ) rc = cut_top(pCtx, bCut, &iTop);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(pCtx,
        "SELECT seq, hash, kind, author, depth, target, role, valid, chain, preds"
        " FROM bec_store_op ORDER BY seq", &pStmt);
  }
  if( rc==SQLITE_OK && bCut ){
    rc = bec_ctx_stmt(pCtx, "SELECT seq, id, depth, valid FROM bec_store_cut"
                            " ORDER BY seq", &pCut);
  }
  if( rc==SQLITE_OK ){
    bOp = sqlite3_step(pStmt)==SQLITE_ROW;
    bStand = pCut && sqlite3_step(pCut)==SQLITE_ROW;
  }
  /* Both tables merged by seq: seqs are dense from 1, each in one table. */
  while( rc==SQLITE_OK && (bOp || bStand) ){
    if( bOp && sqlite3_column_int64(pStmt, 0)==g->nNode+1 ){
      /* Only the last row's chain digest is kept (a column read costs a
      ** mutex round trip per row); rows past nStored, written meanwhile by
      ** another connection, read theirs too.  With stand-ins the last op
      ** is not the last node: every row reads it. */
      rc = load_op_row(g, pStmt, iTop, bCut || g->nNode+1>=nStored);
      bOp = rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW;
    }else if( bStand && sqlite3_column_int64(pCut, 0)==g->nNode+1 ){
      if( sqlite3_column_bytes(pCut, 1)!=BEC_HASH_BYTES ){
        rc = SQLITE_CORRUPT;
      }else{
        rc = bec_graph_append_standin(g, sqlite3_column_blob(pCut, 1),
                          sqlite3_column_int(pCut, 2),
                          sqlite3_column_type(pCut, 3)==SQLITE_NULL
                          || sqlite3_column_int(pCut, 3)!=0);
      }
      bStand = rc==SQLITE_OK && sqlite3_step(pCut)==SQLITE_ROW;
    }else{
      rc = SQLITE_CORRUPT;
    }
  }
  {
    /* A step that failed (memory, I/O) ends the loop: its code, not a
    ** graph cut short, is the result. */
    int rc2 = pStmt ? sqlite3_reset(pStmt) : SQLITE_OK;
    int rc3 = pCut ? sqlite3_reset(pCut) : SQLITE_OK;
    if( rc==SQLITE_OK ) rc = rc2 ? rc2 : rc3;
  }
  if( rc==SQLITE_OK && (g->nNode<nStored || iTop>g->nNode) ) rc = SQLITE_CORRUPT;
  if( rc ){
    bec_graph_free(g);
  }else{
    *pp = g;
  }
  return rc;
}

/* The message of a failed check or load. */
static void graph_error(BecCtx *pCtx, int rc, char **pzErr){
  if( pzErr && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot load the op graph: %s",
                             rc==SQLITE_CORRUPT ? "storage is corrupt"
                                                : bec_rc_text(pCtx->db, rc));
  }
}

/* *pnStored: the highest seq, of a stored op or a stand-in; *pChain: the
** last stored op's chain digest. */
static int stored_top(BecCtx *pCtx, int *pnStored, u64 *pChain){
  sqlite3_stmt *pStmt = 0;
  int rc, bCut = 0, iTry;
  *pnStored = 0;
  *pChain = 0;
  rc = bec_ctx_stmt(pCtx,
      "SELECT seq, chain FROM bec_store_op ORDER BY seq DESC LIMIT 1", &pStmt);
  if( rc==SQLITE_OK ){
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      *pnStored = sqlite3_column_int(pStmt, 0);
      *pChain = (u64)sqlite3_column_int64(pStmt, 1);
    }
    rc = sqlite3_reset(pStmt);
  }
  for(iTry=0; rc==SQLITE_OK && iTry<2; iTry++){
    rc = bec_graph_cut_exists(pCtx, &bCut);
    if( rc || !bCut ) break;
    rc = bec_ctx_stmt(pCtx, "SELECT max(seq) FROM bec_store_cut", &pStmt);
    if( rc==SQLITE_OK ){
      if( sqlite3_step(pStmt)==SQLITE_ROW
       && sqlite3_column_int(pStmt, 0)>*pnStored ){
        *pnStored = sqlite3_column_int(pStmt, 0);
      }
      rc = sqlite3_reset(pStmt);
    }
    /* the table went away (a rollback of the install): look again; any
    ** other failure (memory, I/O) is the result */
    if( rc!=SQLITE_ERROR || iTry ) break;
    pCtx->eCut = 0;
    rc = SQLITE_OK;
  }
  return rc;
}

int bec_graph_check(BecCtx *pCtx, char **pzErr){
  int rc;
  int nStored = 0;
  u64 chain = 0;
  if( pCtx->nAccepting && pCtx->bGraphChecked && pCtx->bKnown
   && !pCtx->bGraphStale ){
    return SQLITE_OK;
  }
  rc = stored_top(pCtx, &nStored, &chain);
  if( rc==SQLITE_OK ){
    /* Another connection wrote, or this one rolled back: whatever was
    ** derived from the stored sequence the caches knew is dropped, the
    ** graph with it (bec_dag_forget clears bKnown, and eCut: the stand-ins
    ** are counted again, their table may have come or gone). */
    if( pCtx->bGraphStale || (pCtx->bKnown && (pCtx->nKnown!=nStored
                                               || pCtx->chainKnown!=chain)) ){
      bec_ctx_drop_caches(pCtx);
      if( pCtx->eCut==0 ) rc = stored_top(pCtx, &nStored, &chain);
    }
  }
  if( rc==SQLITE_OK ){
    pCtx->bGraphStale = 0;
    pCtx->bKnown = 1;
    pCtx->nKnown = nStored;
    pCtx->chainKnown = chain;
    pCtx->bGraphChecked = pCtx->nAccepting>0;
  }else{
    graph_error(pCtx, rc, pzErr);
  }
  return rc;
}

int bec_graph_get(BecCtx *pCtx, BecGraph **ppGraph, char **pzErr){
  static u64 iGenerationCounter = 0;
  int rc;
  *ppGraph = 0;
  rc = bec_graph_check(pCtx, pzErr);
  if( rc==SQLITE_OK && pCtx->pGraph==0 ){
    rc = load_graph(pCtx, pCtx->nKnown, &pCtx->pGraph);
    if( rc==SQLITE_OK ){
      /* Atomic: connections of one process may load graphs on several
      ** threads at once (becsync serve), and a generation must never
      ** repeat.  Rows another connection wrote since the check are in the
      ** graph: it is what the caches know now. */
      pCtx->pGraph->iGeneration = __atomic_add_fetch(&iGenerationCounter, 1,
                                                     __ATOMIC_RELAXED);
      pCtx->nKnown = pCtx->pGraph->nNode;
      pCtx->chainKnown = pCtx->pGraph->chain;
    }else{
      graph_error(pCtx, rc, pzErr);
    }
  }
  if( rc==SQLITE_OK ) *ppGraph = pCtx->pGraph;
  return rc;
}

int bec_graph_id(const BecGraph *g, int iSeq, u8 *aOut){
  sqlite3_stmt *pStmt = 0;
  int rc;
  if( iSeq<1 || iSeq>g->nNode ) return SQLITE_CORRUPT;
  rc = bec_ctx_stmt(g->pCtx, BEC_NODE_STANDIN(g, iSeq)
                    ? "SELECT id FROM bec_store_cut WHERE seq=?1"
                    : "SELECT hash FROM bec_store_op WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    /* the row must be the node's: same length, same prefix */
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ){
      rc = SQLITE_CORRUPT;
    }else{
      memcpy(aOut, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
      if( memcmp(aOut, g->aNode[iSeq].aIdPre, BEC_ID_PREFIX) ){
        rc = SQLITE_CORRUPT;
      }
    }
  }else{
    rc = SQLITE_CORRUPT;
  }
  /* a failed step's code (memory, I/O) wins over "no row" */
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc2 ) rc = rc2;
  }
  return rc;
}

void bec_graph_id_append(const BecGraph *g, int iSeq, BecBuf *pBuf,
                         int *pRc){
  u8 aId[BEC_HASH_BYTES];
  if( *pRc ) return;
  *pRc = bec_graph_id(g, iSeq, aId);
  bec_buf_append(pBuf, aId, BEC_HASH_BYTES, pRc);
}

void bec_graph_id_hex(const BecGraph *g, int iSeq, char *zHex){
  u8 aId[BEC_HASH_BYTES];
  if( bec_graph_id(g, iSeq, aId)==SQLITE_OK ){
    bec_hex_encode(aId, BEC_HASH_BYTES, zHex);
  }else{
    sqlite3_snprintf(2*BEC_HASH_BYTES+1, zHex, "op #%d", iSeq);
  }
}

/* A comparison has no error channel (qsort): a failed read marks the graph
** stale (reloaded at the next bec_graph_get) and counts in nIdFail, so
** the acceptance or append that ordered with it fails and rolls back
** whatever it derived (bec_dag.c); it orders by seq meanwhile. */
static int id_read_failed(const BecGraph *g, int a, int b){
  g->pCtx->bGraphStale = 1;
  g->pCtx->nIdFail++;
  return (a>b) - (a<b);
}

int bec_graph_id_cmp(const BecGraph *g, int a, int b){
  u8 aA[BEC_HASH_BYTES], aB[BEC_HASH_BYTES];
  int c;
  if( a==b ) return 0;
  c = memcmp(g->aNode[a].aIdPre, g->aNode[b].aIdPre, BEC_ID_PREFIX);
  if( c ) return c;
  if( bec_graph_id(g, a, aA) || bec_graph_id(g, b, aB) ){
    return id_read_failed(g, a, b);
  }
  return memcmp(aA, aB, BEC_HASH_BYTES);
}

int bec_graph_id_cmp_to(const BecGraph *g, int a, const u8 *aId){
  u8 aA[BEC_HASH_BYTES];
  int c = memcmp(g->aNode[a].aIdPre, aId, BEC_ID_PREFIX);
  if( c ) return c;
  if( bec_graph_id(g, a, aA) ) return id_read_failed(g, a, a) - 1;
  return memcmp(aA, aId, BEC_HASH_BYTES);
}

/* The chain digest after an op with hash aHash follows digest prev. */
u64 bec_graph_chain_next(u64 prev, const u8 *aHash){
  return (u64)XXH3_64bits_withSeed(aHash, BEC_HASH_BYTES, (XXH64_hash_t)prev);
}

/* One backward sweep: seqs are a topological order (predecessors first),
** so visiting nodes from the highest marked seq down marks every ancestor
** once.  O(nodes + edges) below the highest predecessor. */
int bec_graph_past(const BecGraph *g, const int *aPred, int nPred,
                   u8 **paMark){
  u8 *aMark = sqlite3_malloc64((sqlite3_uint64)g->nNode + 1);
  int i, x, iTop = 0;
  *paMark = 0;
  if( aMark==0 ) return SQLITE_NOMEM;
  memset(aMark, 0, (size_t)g->nNode + 1);
  for(i=0; i<nPred; i++){
    if( aPred[i]<1 || aPred[i]>g->nNode ) continue;
    aMark[aPred[i]] = 1;
    if( aPred[i]>iTop ) iTop = aPred[i];
  }
  for(x=iTop; x>=1; x--){
    if( aMark[x] ){
      const int *a = BEC_NODE_PREDS(g, x);
      for(i=0; i<g->aNode[x].nPred; i++) aMark[a[i]] = 1;
    }
  }
  *paMark = aMark;
  return SQLITE_OK;
}

/* Pushes node x on the worklist *paStack (n used, *pnAlloc room). */
static int band_push(int **paStack, int *pn, int *pnAlloc, int x){
  if( *pn>=*pnAlloc ){
    int nNew = *pnAlloc ? 2 * *pnAlloc : 64;
    int *aNew = sqlite3_realloc64(*paStack, sizeof(int)*(u64)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    *paStack = aNew;
    *pnAlloc = nNew;
  }
  (*paStack)[(*pn)++] = x;
  return SQLITE_OK;
}

/*
** THE BAND'S RULE (docs/compaction.md "The band").  A replica installed
** at K holds some ops of K's cut as headers (the band) and the rest
** without them; the boundary is every predecessor of K or of a band op
** that is not in the band.  An op O concurrent with K has, in the cut,
** exactly the band ops it reaches and all of the cut outside the band
** when it reaches every boundary op: a path from K to any cut op outside
** the band leaves the band at a boundary op, which O's past holds.  The
** reach walks down the predecessors of O over what a replica holds as
** headers (aStop[x]==0: band ops, ops outside the cut) and stops at an op
** of the cut held without one (aStop[x]!=0), marking both.  The provider
** choosing the band (bec_snapshot_band) and the joiner judging O
** (bec_dag.c, "An op concurrent with K") ask this one function.
**
** aMark: nNode+1 bytes, zeroed by the caller.  *pnMiss: how many of the
** nBound boundary ops aBound are not reached, the first of them in aMiss
** (room for nBound) when aMiss is not 0.  The graph's edges are the real
** ones for every node the walk passes (band ops and ops above K keep
** theirs on an installed replica, bec_graph.c "Stand-ins").
*/
int bec_graph_band_check(const BecGraph *g, const u8 *aStop,
                         const int *aBound, int nBound,
                         const int *aPred, int nPred,
                         u8 *aMark, int *aMiss, int *pnMiss){
  int *aStack = 0, nStack = 0, nAlloc = 0, i, rc = SQLITE_OK;
  *pnMiss = 0;
  /* a worklist: each node is pushed once (marked when pushed) */
  for(i=0; rc==SQLITE_OK && i<nPred; i++){
    int x = aPred[i];
    if( x<1 || x>g->nNode || aMark[x] ) continue;
    aMark[x] = 1;
    rc = band_push(&aStack, &nStack, &nAlloc, x);
  }
  while( rc==SQLITE_OK && nStack>0 ){
    int x = aStack[--nStack], j;
    const int *a = BEC_NODE_PREDS(g, x);
    if( aStop[x] ) continue;               /* held without a header */
    for(j=0; rc==SQLITE_OK && j<g->aNode[x].nPred; j++){
      int y = a[j];
      if( y<1 || y>g->nNode || aMark[y] ) continue;
      aMark[y] = 1;
      rc = band_push(&aStack, &nStack, &nAlloc, y);
    }
  }
  sqlite3_free(aStack);
  for(i=0; rc==SQLITE_OK && i<nBound; i++){
    int x = aBound[i];
    if( x>=1 && x<=g->nNode && aMark[x] ) continue;
    if( aMiss ) aMiss[*pnMiss] = x;
    (*pnMiss)++;
  }
  return rc;
}
