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

/* Decodes the packed predecessor seqs of a stored op (varints). */
static int unpack_preds(const u8 *a, int n, int *aOut, int *pnOut){
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

/* Loads every stored op into a new graph of nStored nodes (the arrays
** sized once).  *pp owned by the caller. */
static int load_graph(BecCtx *pCtx, int nStored, BecGraph **pp){
  BecGraph *g = sqlite3_malloc64(sizeof(BecGraph));
  sqlite3_stmt *pStmt = 0;
  int aPred[BEC_MAX_PRED];
  int rc;
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
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(pCtx,
        "SELECT seq, hash, kind, author, depth, target, role, valid, chain, preds"
        " FROM bec_store_op ORDER BY seq", &pStmt);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    BecNode node;
    int nPred = 0, role;
    memset(&node, 0, sizeof(node));
    if( sqlite3_column_int(pStmt, 0)!=g->nNode+1
     || sqlite3_column_bytes(pStmt, 1)!=BEC_HASH_BYTES ){
      rc = SQLITE_CORRUPT;
      break;
    }
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
    if( rc==SQLITE_OK ){
      /* Everything that indexes the graph relies on these: check them once
      ** here, so damaged storage is an error, never a wild read. */
      int k;
      if( bec_kind(node.kind)==0
       || role!=node.role
       || node.iAuthor<1 || node.iAuthor>g->nAuthor
       || node.iTarget<0 || node.iTarget>g->nAuthor
       || (bec_kind_has_target(node.kind) && node.iTarget<1)
       || node.depth<0 ){
        rc = SQLITE_CORRUPT;
      }
      for(k=0; rc==SQLITE_OK && k<nPred; k++){
        if( aPred[k]<1 || aPred[k]>g->nNode ) rc = SQLITE_CORRUPT;
      }
    }
    if( rc==SQLITE_OK ){
      /* Only the last row's chain digest is kept (a column read costs a
      ** mutex round trip per row); rows past nStored, written meanwhile by
      ** another connection, read theirs too. */
      u64 chain = 0;
      if( g->nNode+1>=nStored ) chain = (u64)sqlite3_column_int64(pStmt, 8);
      rc = bec_graph_append(g, &node, sqlite3_column_blob(pStmt, 1), aPred,
                            chain);
    }
  }
  if( pStmt ){
    /* A step that failed (memory, I/O) ends the loop: its code, not a
    ** graph cut short, is the result. */
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK && g->nNode<nStored ) rc = SQLITE_CORRUPT;
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

int bec_graph_check(BecCtx *pCtx, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc;
  int nStored = 0;
  u64 chain = 0;
  if( pCtx->nAccepting && pCtx->bGraphChecked && pCtx->bKnown
   && !pCtx->bGraphStale ){
    return SQLITE_OK;
  }
  rc = bec_ctx_stmt(pCtx,
      "SELECT seq, chain FROM bec_store_op ORDER BY seq DESC LIMIT 1", &pStmt);
  if( rc==SQLITE_OK ){
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      nStored = sqlite3_column_int(pStmt, 0);
      chain = (u64)sqlite3_column_int64(pStmt, 1);
    }
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK ){
    /* Another connection wrote, or this one rolled back: whatever was
    ** derived from the stored sequence the caches knew is dropped, the
    ** graph with it (bec_dag_forget clears bKnown). */
    if( pCtx->bGraphStale || (pCtx->bKnown && (pCtx->nKnown!=nStored
                                               || pCtx->chainKnown!=chain)) ){
      bec_ctx_drop_caches(pCtx);
    }
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
  rc = bec_ctx_stmt(g->pCtx, "SELECT hash FROM bec_store_op WHERE seq=?1",
                    &pStmt);
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
