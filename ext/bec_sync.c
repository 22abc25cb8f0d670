/*
** bec_sync.c - reconciliation of two replicas' op DAGs (docs/sync.md):
**
**   SELECT bec_sync_offer('B');          -- first message for peer 'B'
**   SELECT bec_sync_apply('A', :msg);    -- store what msg carries; the
**                                        -- reply, or NULL when done
**   SELECT * FROM bec_peers;             -- per-peer state and counters
**   SELECT bec_sync_state('B');          -- the current session, as JSON
**
** The algorithm (Kleppmann and Howard, BEC paper, algorithm 2) with three
** refinements that save round trips:
**
**  1. What the peer holds.  Every message names the sender's heads and a
**     "shared" list: ops the sender holds, with all their ancestors, that it
**     believes the receiver holds too.  A receiver that knows every head of
**     the sender knows *exactly* what the sender holds (a correct replica
**     holds the whole causal past of its heads) and sends precisely the
**     rest, without looking at any filter.  Only when some of the sender's
**     heads are unknown does the receiver test its candidates (ops that are
**     not ancestors of anything the sender is known to hold) against the
**     sender's Bloom filter; it sends the negatives, all their descendants,
**     and the candidate predecessors of the negatives (so that a single
**     false positive at the root of a branch does not leave a hole).
**  2. The offer carries the ops added since the persisted shared heads when
**     they are few (OFFER_MAX_OPS, OFFER_MAX_BYTES) instead of a filter, so
**     that after one round trip both sides hold everything.
**  3. A filter is sent only when the sender lacks something (it does not
**     know all the peer's heads) and the peer cannot work out exactly what,
**     because not all the sender's candidates have been sent yet.
**
** Ops move in the sender's seq order (a topological order), each through
** bec_dag_accept, all of one message inside one savepoint.  Predecessors a
** receiver still misses (Bloom false positives, a peer withholding) leave
** ops parked in the pending area; their missing hashes go into `need`.
**
** State.  Per peer label, bec_store_peer keeps the shared heads of the last
** exchange and counters; this is the only state that survives a restart.
** Everything else (ops sent, what the peer is known to hold, its last
** filter) lives in an in-memory session that starts with an offer and ends
** when either side has nothing more to say, or at the first error (a
** fall-back to a full join while storing a message starts it again under a
** new id: session_restart; so does a longer band installed: "A longer
** band" below).  "In sync" is decided only by comparing the
** verified local heads with the heads the peer reports.
**
** Bounds: a message is decoded against the BEC_SYNC_MAX_* limits before
** anything is allocated; a session ends with an error after
** BEC_SYNC_MAX_ROUNDS rounds, MAX_IDLE_ROUNDS rounds without progress,
** MAX_REJECTED rejected ops, or MAX_PARKED ops left waiting for
** predecessors; the pending area has its own limits (bec_config).
*/
#include "becInt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define OFFER_MAX_OPS    256            /* an offer carries ops if few */
#define OFFER_MAX_BYTES  (256*1024)
#define MSG_SOFT_BYTES   (4*1024*1024)  /* stop adding ops past this */
#define MSG_HEAD_ROOM    (1024*1024)    /* a reply's heads, needs, filter
                                        ** beside a snapshot, at most */
#define MAX_IDLE_ROUNDS  3
#define MAX_REJECTED     32             /* rejected ops per session */
#define MAX_PARKED       4096           /* ops parked per session */
#define MAX_SESSIONS     64             /* live sessions per connection */
#define MAX_PEER_LABEL   256
#define SYNC_FORMAT      1

typedef struct SyncCtx SyncCtx;
typedef struct Session Session;

/* One reconciliation with one peer. */
struct Session {
  Session *pNext;
  char *zPeer;
  int bActive;                   /* accepting the next message */
  u8 aId[BEC_SYNC_SESSION_BYTES];
  i64 iRound;                    /* round of our last message, -1: none */
  BecBuf sentHeads;              /* our heads in our last message */
  BecBuf theirHeads;             /* their heads in their last message */
  int bHeard;                    /* theirHeads is set */
  i64 nMap;                      /* aSent and aRoot cover seqs 0..nMap-1 */
  u8 *aSent;                     /* ops sent in this session, by seq */
  u8 *aRoot;                     /* ops the peer showed it holds, by seq */
  BecBloom filter;               /* the peer's latest filter */
  int bFilter;
  BecBuf parked;                 /* hashes of its ops parked as pending */
  int nIdle;                     /* consecutive rounds without progress */
  i64 nMsgSent, nMsgRecv;
  i64 nOpsSent, nOpsRecv, nBytesSent, nBytesRecv, nRejected;
  char *zError;                  /* why the session ended, or 0 */
  int bSnapSent;                 /* answered the peer's wish for a snapshot */
  char *zSnap;                   /* a joiner's answer: the verified
                                 ** checkpoint's id, or "none" */
  char *zNoSnap;                 /* a provider's: why it gave none */
  int bBandAsked;                /* our last message asked for a band */
  int bBandSent;                 /* answered the peer's ask (once: it costs
                                 ** S(K); an asker that installs one starts
                                 ** a new session) */
  int bNoBand;                   /* the peer gave none: fall back */
  char *zBand;                   /* what came of the last ask, or 0 */
};

/* The per-connection state of this module (user data of its functions). */
struct SyncCtx {
  BecCtx *pCtx;
  int nRef;
  Session *pList;
};

/* Counts of one offer or apply, added to bec_store_peer. */
typedef struct Delta Delta;
struct Delta {
  i64 nSessions, nOpsSent, nOpsRecv, nBytesSent, nBytesRecv, nRejected;
};

/**************************************************************************
** Storage of per-peer state.
*/
static int sync_schema(BecCtx *p, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  i64 iFormat = 0;
  int bExists = 0;
  int rc = sqlite3_prepare_v2(p->db, "SELECT 1 FROM sqlite_schema WHERE "
      "type='table' AND name='bec_store_peer'", -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    bExists = sqlite3_step(pStmt)==SQLITE_ROW;
    rc = sqlite3_finalize(pStmt);
  }
  if( rc==SQLITE_OK && bExists ){
    rc = bec_config_get_int(p, "sync_format", SYNC_FORMAT, &iFormat);
    if( rc==SQLITE_OK && iFormat>SYNC_FORMAT ){
      *pzErr = sqlite3_mprintf("bec: this database's sync state was written by "
          "a newer bec (format %lld; this build reads %d)", (long long)iFormat,
          SYNC_FORMAT);
      rc = SQLITE_ERROR;
    }
    return rc;
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_exec(p,
      "CREATE TABLE IF NOT EXISTS bec_store_peer("
      "  peer TEXT PRIMARY KEY, shared BLOB NOT NULL DEFAULT x'',"
      "  last_sync INTEGER, sessions INTEGER NOT NULL DEFAULT 0,"
      "  ops_sent INTEGER NOT NULL DEFAULT 0,"
      "  ops_received INTEGER NOT NULL DEFAULT 0,"
      "  bytes_sent INTEGER NOT NULL DEFAULT 0,"
      "  bytes_received INTEGER NOT NULL DEFAULT 0,"
      "  rejected INTEGER NOT NULL DEFAULT 0, last_error TEXT) WITHOUT ROWID;",
      pzErr);
    if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "sync_format", SYNC_FORMAT);
  }
  return rc;
}

/* Sync owns tables only (the peers' state): its events are xSchema and
** xReset.  A fall-back to a full join (bec_rejoin.c): the shared heads
** persisted per peer name ops this replica no longer stores, and an offer
** must not claim them (the peers would not send their past): every peer
** starts again from nothing shared.  Counters stay. */
static int sync_reset(BecCtx *p, int bProbe, char **pzWhyNot, char **pzErr){
  (void)pzWhyNot;
  if( bProbe ) return SQLITE_OK;
  return bec_ctx_exec(p, "UPDATE bec_store_peer SET shared=x''", pzErr);
}

const BecDeriver bec_sync_deriver = {
  "sync", BEC_DERIVE_NONE, sync_schema, 0, 0, 0, 0, 0, sync_reset
};

/* The persisted shared heads of zPeer into pOut (hashes, sorted). */
static int peer_shared(BecCtx *p, const char *zPeer, BecBuf *pOut){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT shared FROM bec_store_peer WHERE peer=?1",
                        &pStmt);
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zPeer, -1, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    int n = sqlite3_column_bytes(pStmt, 0);
    if( n % BEC_HASH_BYTES==0 ){
      bec_buf_append(pOut, sqlite3_column_blob(pStmt, 0), n, &rc);
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  return rc;
}

/* Adds the counts in pD to zPeer's row; sets its shared heads if pShared,
** its last sync time if bSynced, its last error if zError. */
static int peer_update(BecCtx *p, const char *zPeer, const Delta *pD,
                       const BecBuf *pShared, int bSynced, const char *zError){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p,
      "INSERT INTO bec_store_peer(peer, sessions, ops_sent, ops_received,"
      " bytes_sent, bytes_received, rejected) VALUES(?1,?2,?3,?4,?5,?6,?7)"
      " ON CONFLICT(peer) DO UPDATE SET sessions=sessions+excluded.sessions,"
      " ops_sent=ops_sent+excluded.ops_sent,"
      " ops_received=ops_received+excluded.ops_received,"
      " bytes_sent=bytes_sent+excluded.bytes_sent,"
      " bytes_received=bytes_received+excluded.bytes_received,"
      " rejected=rejected+excluded.rejected", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zPeer, -1, SQLITE_STATIC);
  sqlite3_bind_int64(pStmt, 2, pD->nSessions);
  sqlite3_bind_int64(pStmt, 3, pD->nOpsSent);
  sqlite3_bind_int64(pStmt, 4, pD->nOpsRecv);
  sqlite3_bind_int64(pStmt, 5, pD->nBytesSent);
  sqlite3_bind_int64(pStmt, 6, pD->nBytesRecv);
  sqlite3_bind_int64(pStmt, 7, pD->nRejected);
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && (pShared || bSynced || zError) ){
    rc = bec_ctx_stmt(p, "UPDATE bec_store_peer SET"
        " shared=coalesce(?2, shared),"
        " last_sync=coalesce(?3, last_sync), last_error=?4 WHERE peer=?1",
        &pStmt);
    if( rc ) return rc;
    sqlite3_bind_text(pStmt, 1, zPeer, -1, SQLITE_STATIC);
    if( pShared ){
      sqlite3_bind_blob64(pStmt, 2, pShared->a ? (void*)pShared->a : (void*)"",
                          (sqlite3_uint64)pShared->n, SQLITE_STATIC);
    }
    if( bSynced ) sqlite3_bind_int64(pStmt, 3, (i64)time(0));
    if( zError ) sqlite3_bind_text(pStmt, 4, zError, -1, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  return rc;
}

/**************************************************************************
** Sessions.
*/
static void session_clear(Session *s){
  bec_buf_free(&s->sentHeads);
  bec_buf_free(&s->theirHeads);
  bec_buf_free(&s->parked);
  bec_bloom_free(&s->filter);
  sqlite3_free(s->aSent);
  sqlite3_free(s->aRoot);
  s->aSent = s->aRoot = 0;
  s->nMap = 0;
  s->bFilter = 0;
  s->bHeard = 0;
  s->bActive = 0;
}

static void session_free(Session *s){
  session_clear(s);
  sqlite3_free(s->zSnap);
  sqlite3_free(s->zNoSnap);
  sqlite3_free(s->zBand);
  sqlite3_free(s->zError);
  sqlite3_free(s->zPeer);
  sqlite3_free(s);
}

/* Starts a new session with zPeer, replacing any earlier one.  The least
** recently started session is dropped when there are too many. */
static int session_start(SyncCtx *pS, const char *zPeer, const u8 *aId,
                         Session **pp){
  Session *s, **pp2;
  int n = 0;
  *pp = 0;
  for(pp2=&pS->pList; *pp2; pp2=&(*pp2)->pNext){
    if( strcmp((*pp2)->zPeer, zPeer)==0 ){
      s = *pp2;
      *pp2 = s->pNext;
      session_free(s);
      break;
    }
  }
  for(pp2=&pS->pList; *pp2; pp2=&(*pp2)->pNext){
    if( ++n>=MAX_SESSIONS ){
      while( *pp2 ){
        s = *pp2;
        *pp2 = s->pNext;
        session_free(s);
      }
      break;
    }
  }
  s = sqlite3_malloc64(sizeof(*s));
  if( s==0 ) return SQLITE_NOMEM;
  memset(s, 0, sizeof(*s));
  s->zPeer = sqlite3_mprintf("%s", zPeer);
  if( s->zPeer==0 ){
    sqlite3_free(s);
    return SQLITE_NOMEM;
  }
  if( aId ) memcpy(s->aId, aId, BEC_SYNC_SESSION_BYTES);
  else bec_crypto_random(s->aId, BEC_SYNC_SESSION_BYTES);
  s->iRound = -1;
  s->bActive = 1;
  s->pNext = pS->pList;
  pS->pList = s;
  *pp = s;
  return SQLITE_OK;
}

static Session *session_find(SyncCtx *pS, const char *zPeer){
  Session *s;
  for(s=pS->pList; s; s=s->pNext){
    if( strcmp(s->zPeer, zPeer)==0 ) return s;
  }
  return 0;
}

/* Ends s with an error: the message in *pzErr is kept for bec_sync_state
** and bec_peers. */
static void session_fail(BecCtx *p, Session *s, const char *zErr){
  Delta d;
  memset(&d, 0, sizeof(d));
  session_clear(s);
  sqlite3_free(s->zError);
  s->zError = sqlite3_mprintf("%s", zErr ? zErr : "error");
  (void)peer_update(p, s->zPeer, &d, 0, 0, s->zError);
}

/* Makes the per-seq maps cover seqs 0..nNode. */
static int session_maps(Session *s, int nNode){
  i64 nNew = (i64)nNode + 1;
  if( nNew>s->nMap ){
    u8 *a1 = sqlite3_realloc64(s->aSent, (sqlite3_uint64)nNew);
    u8 *a2;
    if( a1==0 ) return SQLITE_NOMEM;
    s->aSent = a1;
    a2 = sqlite3_realloc64(s->aRoot, (sqlite3_uint64)nNew);
    if( a2==0 ) return SQLITE_NOMEM;
    s->aRoot = a2;
    memset(&s->aSent[s->nMap], 0, (size_t)(nNew - s->nMap));
    memset(&s->aRoot[s->nMap], 0, (size_t)(nNew - s->nMap));
    s->nMap = nNew;
  }
  return SQLITE_OK;
}

/**************************************************************************
** The DAG, seen through the graph.
*/
/* Marks, in aMark[1..nNode], every ancestor of a marked node: afterwards a
** node is marked iff it was marked or precedes a marked node.  One pass in
** decreasing seq suffices because seq is a topological order. */
static void mark_ancestors(const BecGraph *g, u8 *aMark){
  int i, j;
  for(i=g->nNode; i>=1; i--){
    if( aMark[i] ){
      const int *aP = BEC_NODE_PREDS(g, i);
      for(j=0; j<g->aNode[i].nPred; j++) aMark[aP[j]] = 1;
    }
  }
}

/* Marks every stand-in of an installed cut (BEC_NODE_STANDIN) as held by
** the peer: it has no body, so it is never offered, sent or filtered. */
static void mark_standins(const BecGraph *g, u8 *aHave){
  int i;
  for(i=1; i<=g->nNode; i++) if( BEC_NODE_STANDIN(g, i) ) aHave[i] = 1;
}

/* Seqs of the hashes in a (0 for a hash not stored); *pnUnknown counts
** those not stored.  *paSeq from sqlite3_malloc64; the caller frees it.
** The seqs index arrays sized by graph g: an op that another connection
** stored after g was read counts as not stored, this round. */
static int seqs_of(BecCtx *p, const BecGraph *g, const u8 *a, int n,
                   int **paSeq, int *pnUnknown){
  int *aSeq = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)(n+1));
  int i, rc = SQLITE_OK, nUnknown = 0;
  *paSeq = 0;
  if( aSeq==0 ) return SQLITE_NOMEM;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    rc = bec_dag_seq_of(p, &a[i*BEC_HASH_BYTES], &aSeq[i]);
    if( aSeq[i]<1 || aSeq[i]>g->nNode ) aSeq[i] = 0;
    if( aSeq[i]==0 ) nUnknown++;
  }
  if( rc ){
    sqlite3_free(aSeq);
    return rc;
  }
  if( pnUnknown ) *pnUnknown = nUnknown;
  *paSeq = aSeq;
  return SQLITE_OK;
}

/* Marks the stored ones among the hashes a[0..n-1] in aMark. */
static int mark_hashes(BecCtx *p, const BecGraph *g, const u8 *a, int n,
                       u8 *aMark, int *pnUnknown){
  int *aSeq = 0, i;
  int rc = seqs_of(p, g, a, n, &aSeq, pnUnknown);
  for(i=0; rc==SQLITE_OK && i<n; i++) if( aSeq[i] ) aMark[aSeq[i]] = 1;
  sqlite3_free(aSeq);
  return rc;
}

static int hash_cmp(const void *a, const void *b){
  return memcmp(a, b, BEC_HASH_BYTES);
}

/* The maximal elements of the marked set aSet (nodes no other marked node
** follows), as sorted hashes in pOut. */
static int maximal_hashes(const BecGraph *g, const u8 *aSet, BecBuf *pOut){
  u8 *aBelow = sqlite3_malloc64((sqlite3_uint64)g->nNode + 1);
  int i, j, rc = SQLITE_OK;
  if( aBelow==0 ) return SQLITE_NOMEM;
  memset(aBelow, 0, (size_t)g->nNode + 1);
  for(i=g->nNode; i>=1; i--){
    if( aSet[i] || aBelow[i] ){
      const int *aP = BEC_NODE_PREDS(g, i);
      for(j=0; j<g->aNode[i].nPred; j++) aBelow[aP[j]] = 1;
    }
  }
  for(i=1; rc==SQLITE_OK && i<=g->nNode; i++){
    if( aSet[i] && !aBelow[i] ){
      bec_graph_id_append(g, i, pOut, &rc);
    }
  }
  sqlite3_free(aBelow);
  if( rc==SQLITE_OK && pOut->n>BEC_HASH_BYTES ){
    qsort(pOut->a, (size_t)(pOut->n/BEC_HASH_BYTES), BEC_HASH_BYTES, hash_cmp);
  }
  /* A message carries at most BEC_SYNC_MAX_HEADS; claiming fewer shared
  ** ops is always safe (the peer may only send some ops twice). */
  if( pOut->n > (i64)BEC_SYNC_MAX_HEADS*BEC_HASH_BYTES ){
    pOut->n = (i64)BEC_SYNC_MAX_HEADS*BEC_HASH_BYTES;
  }
  return rc;
}

/* The local heads as sorted hashes. */
static int local_heads(BecCtx *p, BecBuf *pOut, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT o.hash FROM bec_store_head h, bec_store_op o"
                           " WHERE o.seq=h.seq ORDER BY o.hash", &pStmt);
  if( rc ) return rc;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const u8 *aHash = sqlite3_column_blob(pStmt, 0);
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ) rc = SQLITE_CORRUPT;
    else bec_buf_append(pOut, aHash, BEC_HASH_BYTES, &rc);
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && pOut->n/BEC_HASH_BYTES > BEC_SYNC_MAX_HEADS ){
    *pzErr = sqlite3_mprintf("bec_sync: this replica has %lld heads, more than "
        "a sync message can carry (%d): write one op to merge them",
        (long long)(pOut->n/BEC_HASH_BYTES), BEC_SYNC_MAX_HEADS);
    rc = SQLITE_TOOBIG;
  }
  return rc;
}

static int buf_equal(const BecBuf *a, const u8 *b, i64 nb){
  return a->n==nb && (nb==0 || memcmp(a->a, b, (size_t)nb)==0);
}

static void buf_set(BecBuf *p, const u8 *a, i64 n, int *pRc){
  p->n = 0;
  bec_buf_append(p, a, n, pRc);
}

/* Appends the stored body of op iSeq to pOps; adds its size to *pnBytes.
** An op whose body this replica dropped (bec_prune) is not sent: *pbAdded
** is 0, and if pPruned is given its id goes there (the peer is told). */
static int add_stored_op(BecCtx *p, int iSeq, BecBuf *pOps, i64 *pnBytes,
                         BecBuf *pPruned, int *pbAdded){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT body, hash FROM bec_store_op WHERE seq=?1",
                        &pStmt);
  *pbAdded = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    i64 n = sqlite3_column_bytes(pStmt, 0);
    if( bec_dag_body_dropped(sqlite3_column_blob(pStmt, 0), n) ){
      if( pPruned && pPruned->n/BEC_HASH_BYTES < BEC_SYNC_MAX_NEEDS
       && sqlite3_column_bytes(pStmt, 1)==BEC_HASH_BYTES ){
        bec_buf_append(pPruned, sqlite3_column_blob(pStmt, 1), BEC_HASH_BYTES, &rc);
      }
    }else{
      bec_syncmsg_add_op(pOps, sqlite3_column_blob(pStmt, 0), n, &rc);
      *pnBytes += n;
      *pbAdded = 1;
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  return rc;
}

static int cmp_hash(const void *a, const void *b){
  return memcmp(a, b, BEC_HASH_BYTES);
}

/* Tells the peer, in pMsg, which ops it lacks whose bodies were dropped
** here (pPruned, sorted in place; aBelow receives the checkpoint). */
static int tell_pruned(BecCtx *p, BecSyncMsg *pMsg, BecBuf *pPruned,
                       u8 *aBelow){
  int iCp = 0, rc;
  if( pPruned->n==0 ) return SQLITE_OK;
  rc = bec_prune_point(p, &iCp, aBelow);
  if( rc==SQLITE_OK && iCp==0 ) memset(aBelow, 0, BEC_HASH_BYTES);
  if( rc==SQLITE_OK ){
    qsort(pPruned->a, (size_t)(pPruned->n/BEC_HASH_BYTES), BEC_HASH_BYTES,
          cmp_hash);
    pMsg->flags |= BEC_SYNC_F_PRUNED;
    pMsg->aPrunedBelow = aBelow;
    pMsg->nPruned = (int)(pPruned->n/BEC_HASH_BYTES);
    pMsg->aPruned = pPruned->a;
  }
  return rc;
}

/* A filter over the ops not marked in aHave. */
static int build_filter(const BecGraph *g, const u8 *aHave, BecBloom *pF){
  i64 n = 0;
  int i, rc;
  for(i=1; i<=g->nNode; i++) if( !aHave[i] ) n++;
  rc = bec_bloom_init(pF, n);
  for(i=1; rc==SQLITE_OK && i<=g->nNode; i++){
    u8 aId[BEC_HASH_BYTES];
    if( aHave[i] ) continue;
    rc = bec_graph_id(g, i, aId);          /* ids live on disk */
    if( rc==SQLITE_OK ) bec_bloom_add(pF, aId);
  }
  return rc;
}

/* The group tag of this database. */
static int group_tag(BecCtx *p, u8 *aTag, char **pzErr){
  u8 aGroup[BEC_HASH_BYTES];
  int rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK ) memcpy(aTag, aGroup, BEC_GROUP_TAG_BYTES);
  return rc;
}

/**************************************************************************
** Invitations (bec_invite.c).
*/
/* While this replica waits to be added, every message it sends carries
** its redemption. */
static int ask_to_join(BecCtx *p, BecSyncMsg *pMsg, u8 *aInvite){
  int bHas = 0;
  int rc = bec_invite_pending(p, aInvite, &bHas);
  if( rc==SQLITE_OK && bHas ){
    pMsg->flags |= BEC_SYNC_F_INVITE;
    pMsg->aInvite = aInvite;
  }
  return rc;
}

/* A refused redemption is the newcomer's problem, not the session's: it
** goes on, and the reason (*pzWhy, from sqlite3_mprintf) is kept in
** bec_invites and as the peer's last error in bec_peers. */
static int honour_invite(BecCtx *p, const u8 *aInvite, char **pzWhy,
                         char **pzErr){
  u8 aHash[BEC_HASH_BYTES];
  int bAdded = 0;
  return bec_invite_redeem(p, aInvite, aHash, &bAdded, pzWhy, pzErr);
}

/**************************************************************************
** The snapshot join (bec_snapshot.c; docs/compaction.md "The snapshot
** join").  A replica marked by bec_join(.., 'snapshot') that holds no op
** says so in every message (ext WANT_SNAPSHOT) until a peer answers; a
** peer answers once per session, with the snapshot of its latest sealed
** checkpoint or with NO_SNAPSHOT, and goes on as in any sync.  The joiner
** runs every check of the snapshot before it stores anything the message
** carries: a snapshot that fails one ends the session with that check's
** message, and nothing of the message is kept.
*/
static int wish_snapshot(BecCtx *p, Session *s, BecSyncMsg *pMsg){
  int bWant = 0;
  int rc = s->zSnap ? SQLITE_OK : bec_snapshot_wanted(p, &bWant);
  if( rc==SQLITE_OK && bWant ){
    /* The key it reads with: an encrypted group's provider seals the
    ** snapshot to it (none while the identity is locked: it could not
    ** open one, nor read the cut's schema ops to install it). */
    const u8 *aReader = 0;
    rc = bec_e2ee_snapshot_key(p, &aReader);
    pMsg->ext |= BEC_SYNC_X_WANT_SNAPSHOT;
    if( rc==SQLITE_OK && aReader ){
      pMsg->ext |= BEC_SYNC_X_READER;
      pMsg->aReader = aReader;
    }
  }
  return rc;
}

/* The provider's answer to a wish, into pMsg (pSnap holds its bytes);
** *piK is the seq of the checkpoint given, 0 if none.  It is given when
** it fits a message with room for the rest of the reply (its band places
** every op held here that is concurrent with K: bec_snapshot_band, so the
** joiner that installs it keeps it); else NO_SNAPSHOT,
** and why none is kept in s->zNoSnap (bec_sync_state's "no_snapshot").
** In an encrypted group S(K)'s rows are the readers' plaintext: it goes
** only to the key the wish names when that key reads the group now and
** at K, sealed to it (bec_e2ee.c "An encrypted group's snapshot in
** sync"), so a relay asking with its own key gets none, and one naming a
** member's key gets bytes it cannot open. */
static int give_snapshot(BecCtx *p, Session *s, const BecSyncMsg *pIn,
                         BecSyncMsg *pMsg, BecBuf *pSnap, int *piK,
                         char **pzErr){
  char *zWhy = 0;
  int rc = SQLITE_OK, bEnc = 0, bNoKey = 0;
  *piK = 0;
  if( (pIn->ext & BEC_SYNC_X_WANT_SNAPSHOT)==0 || s->bSnapSent ) return rc;
  rc = bec_e2ee_group_encrypted(p, &bEnc);
  if( rc==SQLITE_OK && bEnc && pIn->aReader==0 ){
    bNoKey = 1;
    zWhy = sqlite3_mprintf("the group is encrypted and the wish names no key "
        "to seal the snapshot to (the asker's identity is locked or absent)");
    if( zWhy==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && zWhy==0 ) rc = bec_snapshot_give(p, pSnap, &zWhy, pzErr);
  if( rc==SQLITE_OK && zWhy && !bNoKey ){
    /* A replica that installed a snapshot holds no cut bodies to build
    ** one: it gives the one it installed (bec_install.c). */
    int bGiven = 0;
    pSnap->n = 0;
    rc = bec_install_give(p, pSnap, &bGiven, pzErr);
    if( rc==SQLITE_OK && bGiven ){
      sqlite3_free(zWhy);
      zWhy = 0;
    }
  }
  if( rc==SQLITE_OK && zWhy==0
   && pSnap->n + (bEnc ? BEC_E2EE_SNAPSHOT_SEALED_MIN : 0) + MSG_HEAD_ROOM
      > (i64)BEC_SYNC_MAX_MSG_BYTES ){
    zWhy = sqlite3_mprintf("its snapshot (%lld bytes) is larger than a sync "
                           "message may be", (long long)pSnap->n);
    if( zWhy==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && zWhy==0 && bEnc ){
    /* (S(K)'s epochs say who held what at K) */
    BecSnapState st;
    char *zBad = 0;
    rc = bec_snapshot_state(p, pSnap->a, pSnap->n, &st, &zBad, pzErr);
    if( rc==SQLITE_OK && zBad==0 ){
      rc = bec_e2ee_snapshot_reader(p, pIn->aReader, &st, &zWhy, pzErr);
    }
    bec_snapshot_state_free(&st);
    if( zBad ){
      zWhy = zBad;             /* (this replica checked it before) */
      zBad = 0;
    }
  }
  if( rc==SQLITE_OK && zWhy==0 ){
    u8 aK[BEC_HASH_BYTES];
    /* (bytes this replica built and checked, or verified and installed) */
    if( bec_snapshot_k(pSnap->a, pSnap->n, aK) ){
      *pzErr = sqlite3_mprintf("bec_sync_apply: this replica's snapshot does "
                               "not decode");
      rc = SQLITE_CORRUPT;
    }
    if( rc==SQLITE_OK ) rc = bec_dag_seq_of(p, aK, piK);
  }
  if( rc==SQLITE_OK && zWhy==0 && bEnc ){
    u8 aK[BEC_HASH_BYTES];
    if( bec_snapshot_k(pSnap->a, pSnap->n, aK)==0 ){  /* (decoded above) */
      rc = bec_e2ee_snapshot_seal(p, pIn->aReader, aK, pSnap, pzErr);
    }
  }
  sqlite3_free(s->zNoSnap);
  s->zNoSnap = 0;
  if( rc==SQLITE_OK && zWhy ){
    pMsg->ext |= BEC_SYNC_X_NO_SNAPSHOT;   /* then a full sync, as always */
    s->zNoSnap = zWhy;
    zWhy = 0;
    *piK = 0;
  }else if( rc==SQLITE_OK ){
    pMsg->ext |= BEC_SYNC_X_SNAPSHOT | (bEnc ? BEC_SYNC_X_SEALED : 0);
    pMsg->aSnap = pSnap->a;
    pMsg->nSnap = pSnap->n;
  }
  sqlite3_free(zWhy);
  if( rc==SQLITE_OK ) s->bSnapSent = 1;
  return rc;
}

/* A reply carrying a snapshot that comes out larger than a peer decodes
** (BEC_SYNC_MAX_MSG_BYTES) goes without the ops beside it, which follow in
** the next round (they are those outside the cut, which the joiner then
** holds); a snapshot too large alone says NO_SNAPSHOT instead: the joiner
** would refuse that message in every session, where NO_SNAPSHOT lets it
** complete as a full join.  pOut holds the encoded reply from offset n0;
** it is encoded again when it does.  *pbDropped: the ops were left out. */
static void snapshot_fits(BecSyncMsg *pMsg, BecBuf *pOps, i64 n0,
                          BecBuf *pOut, int *pbDropped, int *pRc){
  *pbDropped = 0;
  if( *pRc || (pMsg->ext & BEC_SYNC_X_SNAPSHOT)==0 ) return;
  if( pOut->n - n0 <= (i64)BEC_SYNC_MAX_MSG_BYTES ) return;
  if( pMsg->nOp>0 ){
    pMsg->nOp = 0;
    pOps->n = 0;
    *pbDropped = 1;
    pOut->n = n0;
    bec_syncmsg_encode(pOut, pMsg, pOps, pRc);
    if( *pRc || pOut->n - n0 <= (i64)BEC_SYNC_MAX_MSG_BYTES ) return;
  }
  pMsg->ext = (pMsg->ext & ~BEC_SYNC_X_SNAPSHOT) | BEC_SYNC_X_NO_SNAPSHOT;
  pMsg->aSnap = 0;
  pMsg->nSnap = 0;
  pOut->n = n0;
  bec_syncmsg_encode(pOut, pMsg, pOps, pRc);
}

/* The joiner's side: checks a snapshot the peer sent, before anything of
** its message is stored.  A replica that did not ask ignores it.  A
** sealed one (an encrypted group) is opened first with this replica's
** identity; one that does not open is refused like one that fails a
** check. */
static int take_snapshot(BecCtx *p, Session *s, const char *zPeer,
                         const BecSyncMsg *pIn, char **pzErr){
  u8 aCp[BEC_HASH_BYTES];
  char zCp[2*BEC_HASH_BYTES+1];
  char *zWhy = 0;
  u8 *aOpen = 0;                 /* the opened snapshot of a sealed one */
  i64 nOpen = 0;
  const u8 *aSnap = pIn->aSnap;
  i64 nSnap = pIn->nSnap;
  int bWant = 0, rc;
  if( (pIn->ext & (BEC_SYNC_X_SNAPSHOT|BEC_SYNC_X_NO_SNAPSHOT))==0 ){
    return SQLITE_OK;
  }
  rc = bec_snapshot_wanted(p, &bWant);
  if( rc || !bWant || s->zSnap ) return rc;
  if( pIn->ext & BEC_SYNC_X_NO_SNAPSHOT ){
    s->zSnap = sqlite3_mprintf("none");
    return s->zSnap ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( pIn->ext & BEC_SYNC_X_SEALED ){
    rc = bec_e2ee_snapshot_open(p, pIn->aSnap, pIn->nSnap, &aOpen, &nOpen,
                                &zWhy, pzErr);
    aSnap = aOpen;
    nSnap = nOpen;
    if( rc==SQLITE_OK && zWhy==0
     && (bec_snapshot_k(aSnap, nSnap, aCp)
         || memcmp(aCp, pIn->aSnap, BEC_HASH_BYTES)) ){
      zWhy = sqlite3_mprintf("the sealed snapshot is not of the checkpoint "
                             "it names");
      if( zWhy==0 ) rc = SQLITE_NOMEM;
    }
  }
  if( rc==SQLITE_OK && zWhy==0 ){
    rc = bec_snapshot_check(p, aSnap, nSnap, aCp, &zWhy, pzErr);
  }
  if( rc==SQLITE_OK && zWhy ){
    *pzErr = sqlite3_mprintf("bec_sync_apply: the snapshot from peer '%s' is "
                             "refused: %s", zPeer, zWhy);
    rc = SQLITE_ERROR;
  }else if( rc==SQLITE_OK ){
    bec_hex_encode(aCp, BEC_HASH_BYTES, zCp);
    s->zSnap = sqlite3_mprintf("%s", zCp);
    if( s->zSnap==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ){
    /* Installed in place of the history (bec_install.c, in its own
    ** savepoint, before the ops beside it, which are those outside the cut,
    ** are stored: a failure of the message keeps the install, and the next
    ** session sends what follows K).  A snapshot
    ** the install cannot take (a kind of state not installed yet, a cut
    ** whose membership the chain does not give) leaves the database as it
    ** was: the session goes on as a full sync and replays the history. */
    sqlite3_free(zWhy);
    zWhy = 0;
    rc = bec_install_snapshot(p, aSnap, nSnap, &zWhy, pzErr);
  }
  sqlite3_free(zWhy);
  if( aOpen ){
    bec_crypto_wipe(aOpen, (size_t)nOpen);
    sqlite3_free(aOpen);
  }
  return rc;
}

/**************************************************************************
** A longer band (docs/compaction.md "A longer band").  A replica that
** installed a snapshot and meets an op concurrent with K that its band
** does not place keeps it waiting without falling back while it stores a
** peer's message (BecCtx.bRejoinDefer), and asks that peer, in its next
** message, for the band of K that places it (ext WANT_BAND: K, how many
** band ops it holds, the ops the waiting op names).  The peer answers in
** its reply: BAND, the band section a full or pruned replica builds for
** it (bec_snapshot_band_give) or the one an installed replica holds if it
** is longer (bec_install_band_give), or NO_BAND.  The asker installs the
** band (bec_install_extend: every check of the snapshot, nothing stored
** unverified), and the op is placed; its seqs change (the install is
** stored again), so the session starts again (session_restart).  A
** NO_BAND, a band refused, or no answer falls back to a full join, in the
** same session, as before (bec_rejoin.c).
*/
/* WANT_BAND in pMsg when an op waits here as concurrent with K (the first
** one, 'rejoin_op') and this peer has not said it has no band; pWish
** holds the bytes the message points to. */
static int wish_band(BecCtx *p, Session *s, BecSyncMsg *pMsg, BecBuf *pWish){
  u8 aOp[BEC_HASH_BYTES], aK[BEC_HASH_BYTES];
  i64 iTop = 0, iBand = 0;
  int rc, bSet = 0, n;
  if( s->bNoBand ) return SQLITE_OK;
  rc = bec_dag_rejoin_op(p, aOp, &bSet);
  if( rc || bSet!=1 ) return rc;
  pWish->n = 0;
  rc = bec_install_cut(p, aK);
  if( rc==SQLITE_OK ) rc = bec_config_get_int(p, "cut_top", 0, &iTop);
  if( rc==SQLITE_OK ) rc = bec_config_get_int(p, "cut_band", 0, &iBand);
  bec_buf_append(pWish, aK, BEC_HASH_BYTES, &rc);
  if( rc==SQLITE_OK ) rc = bec_dag_pending_preds(p, aOp, pWish);
  n = (int)(pWish->n/BEC_HASH_BYTES) - 1;
  if( rc || n<1 || n>BEC_SYNC_MAX_BAND_PREDS || iBand<1 || iBand>iTop ){
    return rc;          /* (an op waits for no band: nothing to ask) */
  }
  qsort(pWish->a + BEC_HASH_BYTES, (size_t)n, BEC_HASH_BYTES, cmp_hash);
  pMsg->ext |= BEC_SYNC_X_WANT_BAND;
  pMsg->aBandK = pWish->a;
  pMsg->nBandHeld = (u64)(iTop - iBand);
  pMsg->nBandPred = n;
  pMsg->aBandPred = pWish->a + BEC_HASH_BYTES;
  s->bBandAsked = 1;
  return SQLITE_OK;
}

/* An op waits as concurrent with K: when this session may ask for a band
** (wish_band would), the next message asks; else (the peer said it has
** none, or left an ask unanswered: an older bec refuses the message; or
** there is nothing to ask, as on a replica installed without a band) the
** fall-back, now, as before the band. */
static int band_or_fall_back(BecCtx *p, Session *s, BecBuf *pWish,
                             char **pzErr){
  BecSyncMsg probe;
  u8 aOp[BEC_HASH_BYTES];
  int rc, bSet = 0;
  memset(&probe, 0, sizeof(probe));
  rc = wish_band(p, s, &probe, pWish);
  s->bBandAsked = 0;                    /* (the message asks, when built) */
  if( rc==SQLITE_OK && (probe.ext & BEC_SYNC_X_WANT_BAND)==0 ){
    rc = bec_dag_rejoin_op(p, aOp, &bSet);
    if( rc==SQLITE_OK && bSet==1 && p->xRejoin ) rc = p->xRejoin(p, pzErr);
  }
  return rc;
}

/* The answer to a peer's WANT_BAND, into pMsg (pBand holds its bytes). */
static int give_band(BecCtx *p, Session *s, const BecSyncMsg *pIn,
                     BecSyncMsg *pMsg, BecBuf *pBand, char **pzErr){
  u8 aK[BEC_HASH_BYTES], aZero[BEC_HASH_BYTES];
  char *zWhy = 0;
  int rc;
  if( (pIn->ext & BEC_SYNC_X_WANT_BAND)==0 ) return SQLITE_OK;
  memset(aZero, 0, sizeof(aZero));
  rc = bec_install_cut(p, aK);
  if( s->bBandSent ){
    pMsg->ext |= BEC_SYNC_X_NO_BAND;       /* asked again in one session */
    return rc;
  }
  s->bBandSent = 1;
  if( rc==SQLITE_OK && memcmp(aK, aZero, BEC_HASH_BYTES) ){
    /* no cut headers here: the band it installed, if longer */
    rc = bec_install_band_give(p, pIn->aBandK, pIn->nBandHeld, pBand, &zWhy,
                               pzErr);
  }else if( rc==SQLITE_OK ){
    rc = bec_snapshot_band_give(p, pIn->aBandK, pIn->aBandPred, pIn->nBandPred,
                                pIn->nBandHeld, pBand, &zWhy, pzErr);
  }
  if( rc==SQLITE_OK && zWhy==0 && pBand->n>0 ){
    pMsg->ext |= BEC_SYNC_X_BAND;
    pMsg->aBand = pBand->a;
    pMsg->nBand = pBand->n;
  }else if( rc==SQLITE_OK ){
    pMsg->ext |= BEC_SYNC_X_NO_BAND;
  }
  sqlite3_free(zWhy);
  return rc;
}

/* The asker's side: the peer's answer to our WANT_BAND (this message
** answers our last one).  A band is installed (*pbExtended); none, or one
** refused, falls back to a full join (p->nRejoin counts it). */
static int take_band(BecCtx *p, Session *s, const BecSyncMsg *pIn,
                     int *pbExtended, char **pzErr){
  char *zWhy = 0;
  int rc = SQLITE_OK, bSet = 0;
  u8 aOp[BEC_HASH_BYTES];
  *pbExtended = 0;
  if( !s->bBandAsked ) return SQLITE_OK;
  s->bBandAsked = 0;
  sqlite3_free(s->zBand);
  s->zBand = 0;
  if( pIn->ext & BEC_SYNC_X_BAND ){
    rc = bec_install_extend(p, pIn->aBand, pIn->nBand, &zWhy, pzErr);
    if( rc==SQLITE_OK && zWhy==0 ){
      *pbExtended = 1;
      s->zBand = sqlite3_mprintf("installed");
    }else if( rc==SQLITE_OK ){
      s->zBand = sqlite3_mprintf("refused: %s", zWhy);
    }
  }else{
    s->zBand = sqlite3_mprintf("none");
  }
  if( rc==SQLITE_OK && s->zBand==0 ) rc = SQLITE_NOMEM;
  sqlite3_free(zWhy);
  if( rc==SQLITE_OK && !*pbExtended ){
    /* this peer has no band that places it: a full join, as before */
    s->bNoBand = 1;
    rc = bec_dag_rejoin_op(p, aOp, &bSet);
    if( rc==SQLITE_OK && bSet==1 && p->xRejoin ) rc = p->xRejoin(p, pzErr);
  }
  return rc;
}

/**************************************************************************
** The offer.
*/
/* The offer of session s (round 0) into pOut.  On failure the session
** ends with the error. */
static int offer_build(BecCtx *p, Session *s, const char *zPeer,
                       BecBuf *pOut, char **pzErr){
  BecGraph *g = 0;
  BecSyncMsg msg;
  BecBuf shared, heads, ops, sharedOut, pruned, wish;
  u8 aTag[BEC_GROUP_TAG_BYTES];
  u8 aInvite[BEC_INVITE_REDEMPTION_BYTES];
  u8 aBelow[BEC_HASH_BYTES];
  u8 *aHave = 0;
  Delta d;
  i64 nBytes = 0;
  int i, nCand = 0, nOp = 0, nPruned = 0, rc;

  memset(&pruned, 0, sizeof(pruned));
  memset(&wish, 0, sizeof(wish));
  memset(&msg, 0, sizeof(msg));
  memset(&shared, 0, sizeof(shared));
  memset(&heads, 0, sizeof(heads));
  memset(&ops, 0, sizeof(ops));
  memset(&sharedOut, 0, sizeof(sharedOut));
  memset(&d, 0, sizeof(d));
  rc = group_tag(p, aTag, pzErr);
  if( rc==SQLITE_OK ) rc = peer_shared(p, zPeer, &shared);
  if( rc==SQLITE_OK ) rc = local_heads(p, &heads, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = session_maps(s, g->nNode);
  if( rc==SQLITE_OK ){
    aHave = sqlite3_malloc64((sqlite3_uint64)g->nNode + 1);
    if( aHave==0 ) rc = SQLITE_NOMEM;
    else memset(aHave, 0, (size_t)g->nNode + 1);
  }
  /* Candidates: the ops added since the shared heads (those of them that
  ** are stored here; unknown ones are forgotten). */
  if( rc==SQLITE_OK ){
    rc = mark_hashes(p, g, shared.a, (int)(shared.n/BEC_HASH_BYTES), aHave, 0);
  }
  if( rc==SQLITE_OK ) rc = maximal_hashes(g, aHave, &sharedOut);
  if( rc==SQLITE_OK ){
    mark_ancestors(g, aHave);
    mark_standins(g, aHave);
    for(i=1; i<=g->nNode; i++) if( !aHave[i] ) nCand++;
  }
  /* Few: carry them all, and no filter is needed. */
  if( rc==SQLITE_OK && nCand<=OFFER_MAX_OPS ){
    for(i=1; rc==SQLITE_OK && i<=g->nNode && nBytes<=OFFER_MAX_BYTES; i++){
      if( !aHave[i] ){
        int bAdded = 0;
        rc = add_stored_op(p, i, &ops, &nBytes, &pruned, &bAdded);
        nOp += bAdded;
        nPruned += !bAdded;
      }
    }
    if( nBytes>OFFER_MAX_BYTES ){
      bec_buf_free(&ops);
      bec_buf_free(&pruned);
      nOp = 0;
      nPruned = 0;
      nBytes = 0;
    }else{
      for(i=1; i<=g->nNode; i++) if( !aHave[i] ) s->aSent[i] = 1;
    }
  }
  if( rc==SQLITE_OK && nOp+nPruned<nCand ){
    msg.flags |= BEC_SYNC_F_FILTER;
    rc = build_filter(g, aHave, &msg.filter);
  }
  if( rc==SQLITE_OK ) rc = tell_pruned(p, &msg, &pruned, aBelow);
  if( rc==SQLITE_OK ) rc = ask_to_join(p, &msg, aInvite);
  if( rc==SQLITE_OK ) rc = wish_snapshot(p, s, &msg);
  if( rc==SQLITE_OK ) rc = wish_band(p, s, &msg, &wish);
  if( rc==SQLITE_OK ){
    msg.flags |= BEC_SYNC_F_OFFER;
    msg.aGroupTag = aTag;
    msg.aSession = s->aId;
    msg.iRound = 0;
    msg.nHead = (int)(heads.n/BEC_HASH_BYTES);
    msg.aHead = heads.a;
    msg.nShared = (int)(sharedOut.n/BEC_HASH_BYTES);
    msg.aShared = sharedOut.a;
    msg.nOp = nOp;
    bec_syncmsg_encode(pOut, &msg, &ops, &rc);
  }
  if( rc==SQLITE_OK ){
    s->iRound = 0;
    buf_set(&s->sentHeads, heads.a, heads.n, &rc);
    s->nMsgSent++;
    s->nOpsSent += nOp;
    s->nBytesSent += pOut->n;
    d.nSessions = 1;
    d.nOpsSent = nOp;
    d.nBytesSent = pOut->n;
    rc = peer_update(p, zPeer, &d, 0, 0, 0);
  }
  if( rc ) session_fail(p, s, *pzErr);
  bec_bloom_free(&msg.filter);
  bec_buf_free(&shared);
  bec_buf_free(&heads);
  bec_buf_free(&ops);
  bec_buf_free(&sharedOut);
  bec_buf_free(&pruned);
  bec_buf_free(&wish);
  sqlite3_free(aHave);
  return rc;
}

/* A fall-back to a full join (bec_rejoin.c) while s stored a message: the
** stored seqs were renumbered, so what s holds by seq (aSent, aRoot), the
** peer's filter, the parked hashes and the heads each side announced name
** other ops or none, and the peer believes this replica holds K's cut,
** which it now lacks.  s starts again under a new id, keeping its counters
** and its snapshot answer; its offer (round 0) goes in pOut as the reply,
** and the peer, which takes an offer as the start of a new session, drops
** its own state of this one.  The offer carries this replica's heads as
** stored now (sync_reset emptied every peer's shared heads): the peer sends
** the history, and the bodies the fall-back kept are stored as their
** predecessors arrive.  pD: the counts of the message just stored. */
static int session_restart(BecCtx *p, Session *s, const char *zPeer,
                           const Delta *pD, BecBuf *pOut, char **pzErr){
  int rc = peer_update(p, zPeer, pD, 0, 0, 0);
  if( rc ){
    *pzErr = sqlite3_mprintf("bec_sync_apply: cannot record the counts of "
        "peer '%s': %s", zPeer, bec_rc_text(p->db, rc));
    session_fail(p, s, *pzErr);
    return rc;
  }
  session_clear(s);
  s->bActive = 1;
  s->iRound = -1;
  s->nIdle = 0;
  bec_crypto_random(s->aId, BEC_SYNC_SESSION_BYTES);
  return offer_build(p, s, zPeer, pOut, pzErr);
}

static int sync_offer(SyncCtx *pS, const char *zPeer, BecBuf *pOut,
                      char **pzErr){
  Session *s = session_find(pS, zPeer);
  BecBuf wish;
  /* an ask for a band that the last session left unanswered (it ended:
  ** an older bec refuses the message) is not made again */
  int bUnanswered = s && s->bBandAsked;
  int rc = bec_dag_ensure_schema(pS->pCtx, pzErr);
  memset(&wish, 0, sizeof(wish));
  if( rc==SQLITE_OK ) rc = session_start(pS, zPeer, 0, &s);
  if( rc==SQLITE_OK && bUnanswered ){
    s->bNoBand = 1;
    rc = band_or_fall_back(pS->pCtx, s, &wish, pzErr);
  }
  bec_buf_free(&wish);
  if( rc==SQLITE_OK ) rc = offer_build(pS->pCtx, s, zPeer, pOut, pzErr);
  return rc;
}

/**************************************************************************
** Applying a message.
*/
/* Is aHash among the hashes in p? */
static int hash_in(const BecBuf *p, const u8 *aHash){
  i64 i;
  for(i=0; i+BEC_HASH_BYTES<=p->n; i+=BEC_HASH_BYTES){
    if( memcmp(&p->a[i], aHash, BEC_HASH_BYTES)==0 ) return 1;
  }
  return 0;
}

/* Signatures of a large batch are checked on two cores before the ops go
** through bec_dag_accept one by one: an op whose signature checked out is
** accepted as verified (every other check still runs); any other op is
** accepted as unverified, so the acceptance path rejects and logs it
** exactly as bec_ingest would.  The knob exists for the benchmark. */
int bec_sync_verify_threads = 2;
#define VERIFY_BATCH_MIN 256

typedef struct VerifyJob VerifyJob;
struct VerifyJob {
  const BecSyncMsg *pMsg;
  const u8 *aGroupId;
  int iFirst, iLast;             /* ops [iFirst, iLast) */
  u8 *aOk;                       /* aOk[i]: op i verified */
};

static void *verify_range(void *pArg){
  VerifyJob *pJob = (VerifyJob*)pArg;
  i64 iOff = 0;
  int i;
  for(i=0; i<pJob->iLast; i++){
    const u8 *aOp = 0;
    i64 nOp = 0;
    bec_syncmsg_next_op(pJob->pMsg, &iOff, &aOp, &nOp);
    if( i>=pJob->iFirst ){
      BecOp op;
      char *zErr = 0;
      if( bec_op_decode(aOp, nOp, &op, &zErr)==SQLITE_OK ){
        pJob->aOk[i] = (u8)bec_crypto_verify_op(&op, pJob->aGroupId);
      }
      sqlite3_free(zErr);
    }
  }
  return 0;
}

/* aOk[i] is set if op i of pMsg carries a valid signature for this group;
** *paOk is 0 when the batch is too small to be worth a second thread. */
static int verify_batch(BecCtx *p, const BecSyncMsg *pMsg, u8 **paOk){
  u8 aGroupId[BEC_HASH_BYTES];
  VerifyJob a, b;
  pthread_t tid;
  u8 *aOk;
  *paOk = 0;
  if( bec_sync_verify_threads<2 || pMsg->nOp<VERIFY_BATCH_MIN ) return SQLITE_OK;
  if( bec_dag_group_id(p, aGroupId, 0) ) return SQLITE_OK;
  aOk = sqlite3_malloc64((sqlite3_uint64)pMsg->nOp);
  if( aOk==0 ) return SQLITE_NOMEM;
  memset(aOk, 0, (size_t)pMsg->nOp);
  a.pMsg = b.pMsg = pMsg;
  a.aGroupId = b.aGroupId = aGroupId;
  a.aOk = b.aOk = aOk;
  a.iFirst = 0;
  a.iLast = b.iFirst = pMsg->nOp/2;
  b.iLast = pMsg->nOp;
  if( pthread_create(&tid, 0, verify_range, &b) ){
    verify_range(&b);
  }else{
    verify_range(&a);
    pthread_join(tid, 0);
    a.iFirst = a.iLast;          /* done */
  }
  if( a.iFirst<a.iLast ) verify_range(&a);
  *paOk = aOk;
  return SQLITE_OK;
}

/* Accepts the ops of pMsg, all in one savepoint.  pRecv collects the ops
** stored or already held (framed as in a message): the peer holds them. */
static int accept_ops(BecCtx *p, Session *s, const BecSyncMsg *pMsg,
                      BecBuf *pRecv, Delta *pD, i64 *pnParked, char **pzErr){
  static const BecSavepoint sp = {
    "SAVEPOINT bec_sync", "RELEASE bec_sync", "ROLLBACK TO bec_sync"
  };
  i64 iOff = 0;
  u8 *aOk = 0;
  int i, rc, bBound = 0;
  rc = verify_batch(p, pMsg, &aOk);
  if( rc ) return rc;
  rc = bec_ctx_begin(p, &sp);
  for(i=0; rc==SQLITE_OK && i<pMsg->nOp; i++){
    const u8 *aOp = 0;
    i64 nOp = 0;
    BecAccept res;
    const u8 *aHash = res.aId;
    int eOutcome, rc2;
    char *zErr = 0;
    bec_syncmsg_next_op(pMsg, &iOff, &aOp, &nOp);
    rc2 = bec_dag_accept(p, aOp, nOp, aOk ? aOk[i] : 0, &res, &zErr);
    eOutcome = res.eOutcome;
    if( rc2==SQLITE_OK && eOutcome==BEC_ACCEPT_REJECTED ){
      pD->nRejected++;
      if( s->nRejected + pD->nRejected > MAX_REJECTED ){
        *pzErr = sqlite3_mprintf("bec_sync_apply: the peer sent more than %d "
            "ops that were rejected (last: %s)", MAX_REJECTED, res.zReason);
        rc = SQLITE_ERROR;
        bBound = 1;
      }
      sqlite3_free(res.zReason);
    }else if( rc2==SQLITE_OK ){
      if( eOutcome==BEC_ACCEPT_STORED ) pD->nOpsRecv++;
      if( eOutcome==BEC_ACCEPT_PENDING && !hash_in(&s->parked, aHash) ){
        /* Parked anew (sending a parked op again is no progress). */
        (*pnParked)++;
        if( s->parked.n/BEC_HASH_BYTES >= MAX_PARKED ){
          *pzErr = sqlite3_mprintf("bec_sync_apply: the peer sent more than %d "
              "ops whose predecessors it does not send", MAX_PARKED);
          rc = SQLITE_ERROR;
          bBound = 1;
        }
        bec_buf_append(&s->parked, aHash, BEC_HASH_BYTES, &rc);
      }else if( eOutcome!=BEC_ACCEPT_PENDING ){
        bec_syncmsg_add_op(pRecv, aOp, nOp, &rc);
      }
    }else{
      *pzErr = zErr;
      zErr = 0;
      rc = rc2;
    }
    sqlite3_free(zErr);
  }
  if( rc==SQLITE_OK || bBound ){
    /* A bound exceeded (bBound) keeps what was stored before it. */
    int rc2 = bec_ctx_commit(p, &sp);
    if( rc==SQLITE_OK ) rc = rc2;
  }else{
    /* A failure of this database undoes the whole message. */
    (void)bec_ctx_rollback(p, &sp);
  }
  sqlite3_free(aOk);
  return rc;
}

/* Marks in aMark the ops of pRecv (bodies as framed by
** bec_syncmsg_add_op) that no other op of pRecv names as a predecessor:
** marking their ancestors afterwards covers them all, with one lookup per
** branch instead of one per op. */
static int mark_received(BecCtx *p, const BecGraph *g, const BecBuf *pRecv,
                         u8 *aMark){
  BecBuf preds, ids, tips;
  BecReader rd;
  int rc = SQLITE_OK, nPred, i;
  memset(&preds, 0, sizeof(preds));
  memset(&ids, 0, sizeof(ids));
  memset(&tips, 0, sizeof(tips));
  rd.a = pRecv->a; rd.n = pRecv->n; rd.i = 0;
  while( rc==SQLITE_OK && rd.i<rd.n ){
    u64 n = 0;
    const u8 *aOp = 0;
    BecOp op;
    char *zErr = 0;
    if( bec_read_varint(&rd, &n, BEC_MAX_OP_BYTES)
     || bec_read_bytes(&rd, (i64)n, &aOp) ) break;
    if( bec_op_decode(aOp, (i64)n, &op, &zErr)==SQLITE_OK ){
      bec_buf_append(&preds, op.aPred, (i64)op.nPred*BEC_HASH_BYTES, &rc);
      bec_buf_append(&ids, op.aId, BEC_HASH_BYTES, &rc);
    }
    sqlite3_free(zErr);
  }
  nPred = (int)(preds.n/BEC_HASH_BYTES);
  if( rc==SQLITE_OK && nPred>1 ){
    qsort(preds.a, (size_t)nPred, BEC_HASH_BYTES, hash_cmp);
  }
  for(i=0; rc==SQLITE_OK && i<(int)(ids.n/BEC_HASH_BYTES); i++){
    const u8 *aHash = &ids.a[i*BEC_HASH_BYTES];
    if( nPred==0 || bsearch(aHash, preds.a, (size_t)nPred, BEC_HASH_BYTES,
                            hash_cmp)==0 ){
      bec_buf_append(&tips, aHash, BEC_HASH_BYTES, &rc);
    }
  }
  if( rc==SQLITE_OK ){
    rc = mark_hashes(p, g, tips.a, (int)(tips.n/BEC_HASH_BYTES), aMark, 0);
  }
  bec_buf_free(&preds);
  bec_buf_free(&ids);
  bec_buf_free(&tips);
  return rc;
}

/* Our needs: missing predecessors of the ops this peer left parked. */
static int our_needs(BecCtx *p, Session *s, BecBuf *pNeed){
  sqlite3_stmt *pStmt = 0;
  BecBuf still;
  int i, rc = SQLITE_OK;
  memset(&still, 0, sizeof(still));
  for(i=0; rc==SQLITE_OK && i<(int)(s->parked.n/BEC_HASH_BYTES); i++){
    const u8 *aHash = &s->parked.a[i*BEC_HASH_BYTES];
    int bPending = 0;
    rc = bec_ctx_stmt(p, "SELECT missing FROM bec_store_pending_missing "
                         "WHERE hash=?1", &pStmt);
    if( rc ) break;
    sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      const u8 *aMiss = sqlite3_column_blob(pStmt, 0);
      bPending = 1;
      /* (a damaged row of another length is no hash: skip it) */
      if( pNeed->n/BEC_HASH_BYTES < BEC_SYNC_MAX_NEEDS
       && sqlite3_column_bytes(pStmt, 0)==BEC_HASH_BYTES ){
        bec_buf_append(pNeed, aMiss, BEC_HASH_BYTES, &rc);
      }
    }
    sqlite3_reset(pStmt);
    if( bPending ) bec_buf_append(&still, aHash, BEC_HASH_BYTES, &rc);
  }
  if( rc==SQLITE_OK ){
    bec_buf_free(&s->parked);
    s->parked = still;
    memset(&still, 0, sizeof(still));
  }
  bec_buf_free(&still);
  /* Sorted and unique, as the format requires. */
  if( rc==SQLITE_OK && pNeed->n>BEC_HASH_BYTES ){
    int n = (int)(pNeed->n/BEC_HASH_BYTES), j = 1;
    qsort(pNeed->a, (size_t)n, BEC_HASH_BYTES, hash_cmp);
    for(i=1; i<n; i++){
      if( memcmp(&pNeed->a[(j-1)*BEC_HASH_BYTES], &pNeed->a[i*BEC_HASH_BYTES],
                 BEC_HASH_BYTES) ){
        memmove(&pNeed->a[j*BEC_HASH_BYTES], &pNeed->a[i*BEC_HASH_BYTES],
                BEC_HASH_BYTES);
        j++;
      }
    }
    pNeed->n = (i64)j*BEC_HASH_BYTES;
  }
  return rc;
}

/* Decides what to send to a peer that holds the ops marked in aHave (all
** ancestors included): the rest, or, when the peer may hold more than
** aHave says (bExact==0) and sent a filter, the negatives of the filter
** with their descendants and their candidate predecessors.  Sets aSend. */
static int choose_ops(const BecGraph *g, const u8 *aHave, int bExact,
                      const BecBloom *pF, u8 *aSend){
  int i, j, rc = SQLITE_OK;
  for(i=1; rc==SQLITE_OK && i<=g->nNode; i++){
    const int *aP = BEC_NODE_PREDS(g, i);
    u8 aId[BEC_HASH_BYTES];
    if( aHave[i] ) continue;
    if( !bExact && pF ) rc = bec_graph_id(g, i, aId);  /* ids live on disk */
    if( rc ) break;
    if( bExact || pF==0 || !bec_bloom_test(pF, aId) ){
      aSend[i] = 2;                          /* negative */
    }else{
      for(j=0; j<g->aNode[i].nPred; j++){
        if( aSend[aP[j]] ){ aSend[i] = 1; break; }   /* a descendant */
      }
    }
  }
  if( rc==SQLITE_OK && !bExact && pF ){
    for(i=1; i<=g->nNode; i++){
      if( aSend[i]==2 ){
        const int *aP = BEC_NODE_PREDS(g, i);
        for(j=0; j<g->aNode[i].nPred; j++){
          if( !aHave[aP[j]] && !aSend[aP[j]] ) aSend[aP[j]] = 1;
        }
      }
    }
  }
  return rc;
}

static int sync_apply(SyncCtx *pS, const char *zPeer, const u8 *aIn, i64 nIn,
                      BecBuf *pOut, int *pbDone, char **pzErr){
  BecCtx *p = pS->pCtx;
  BecGraph *g = 0;
  Session *s = 0;
  BecSyncMsg in, msg;
  BecBuf recv, heads, ops, need, sharedOut, shared, same, pruned, snap;
  BecBuf wish, band;
  int bExtended = 0;             /* a longer band installed from it */
  u8 aTag[BEC_GROUP_TAG_BYTES];
  u8 aBelow[BEC_HASH_BYTES];
  u8 aInvite[BEC_INVITE_REDEMPTION_BYTES];
  char *zRefusal = 0;
  u8 *aHave = 0, *aSend = 0, *aBase = 0;
  int nRejoin0 = 0;              /* p->nRejoin before storing */
  int *aTheirSeq = 0;
  Delta d;
  i64 nParked = 0, nBytes = 0, n0;
  int nUnknown = 0, nNew = 0, nOp = 0, bAllCand = 1, bExact;
  int bProgress, bSynced = 0;
  int iSnapK = 0;                /* the seq of the snapshot given here */
  int bDropped = 0;              /* its ops left for the next round */
  int i, rc;

  *pbDone = 0;
  memset(&msg, 0, sizeof(msg));
  memset(&recv, 0, sizeof(recv));
  memset(&heads, 0, sizeof(heads));
  memset(&ops, 0, sizeof(ops));
  memset(&need, 0, sizeof(need));
  memset(&sharedOut, 0, sizeof(sharedOut));
  memset(&shared, 0, sizeof(shared));
  memset(&same, 0, sizeof(same));
  memset(&pruned, 0, sizeof(pruned));
  memset(&snap, 0, sizeof(snap));
  memset(&wish, 0, sizeof(wish));
  memset(&band, 0, sizeof(band));
  memset(&d, 0, sizeof(d));
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = group_tag(p, aTag, pzErr);
  if( rc ) return rc;

  /* Decode, and place the message in its session. */
  rc = bec_syncmsg_decode(aIn, nIn, &in, pzErr);
  s = session_find(pS, zPeer);
  if( rc==SQLITE_OK && memcmp(in.aGroupTag, aTag, BEC_GROUP_TAG_BYTES) ){
    *pzErr = sqlite3_mprintf("bec_sync_apply: the message belongs to another "
                             "group");
    rc = SQLITE_ERROR;
  }
  if( rc ){
    if( s && s->bActive ) session_fail(p, s, *pzErr);
    bec_syncmsg_free(&in);
    return rc;
  }
  if( in.flags & BEC_SYNC_F_OFFER ){
    int bUnanswered = s && s->bBandAsked;   /* (as in sync_offer) */
    rc = session_start(pS, zPeer, in.aSession, &s);
    if( rc ){
      bec_syncmsg_free(&in);
      return rc;
    }
    s->bNoBand = bUnanswered;
    d.nSessions = 1;
  }else if( s==0 || !s->bActive
         || memcmp(s->aId, in.aSession, BEC_SYNC_SESSION_BYTES) ){
    /* Not an error of the session in progress, if any: it goes on. */
    *pzErr = sqlite3_mprintf("bec_sync_apply: the message belongs to no "
        "session in progress with '%s' (replayed, or sent before a restart): "
        "start again with bec_sync_offer", zPeer);
    bec_syncmsg_free(&in);
    return SQLITE_ERROR;
  }else if( in.iRound!=s->iRound+1 ){
    *pzErr = sqlite3_mprintf("bec_sync_apply: out of order: round %lld, "
        "expected %lld (a duplicated, reordered or lost message)",
        (long long)in.iRound, (long long)(s->iRound+1));
    bec_syncmsg_free(&in);
    return SQLITE_ERROR;
  }
  if( in.flags & BEC_SYNC_F_SAME_HEADS ){
    /* A copy: sentHeads changes before this message is done with. */
    bec_buf_append(&same, s->sentHeads.a, s->sentHeads.n, &rc);
    if( rc ){
      bec_syncmsg_free(&in);
      return rc;
    }
    in.nHead = (int)(same.n/BEC_HASH_BYTES);
    in.aHead = same.a;
    if( in.flags & BEC_SYNC_F_SHARED_IS_HEADS ){
      in.nShared = in.nHead;
      in.aShared = in.aHead;
    }
  }
  s->nMsgRecv++;
  s->nBytesRecv += nIn;
  d.nBytesRecv = nIn;

  /* Store what it carries (a snapshot checked first). */
  nRejoin0 = p->nRejoin;
  rc = take_snapshot(p, s, zPeer, &in, pzErr);
  if( rc==SQLITE_OK ) rc = take_band(p, s, &in, &bExtended, pzErr);
  if( rc==SQLITE_OK ){
    /* an op concurrent with K that the band does not place waits: this
    ** peer is asked for a longer band before any fall-back */
    p->bRejoinDefer = !s->bNoBand;
    p->bBandWanted = 0;
    rc = accept_ops(p, s, &in, &recv, &d, &nParked, pzErr);
    p->bRejoinDefer = 0;
  }
  if( rc==SQLITE_OK && (p->bBandWanted || s->bNoBand) ){
    rc = band_or_fall_back(p, s, &wish, pzErr);
  }
  /* New ops may leave members without keys: heal before replying. */
  if( rc==SQLITE_OK && d.nOpsRecv>0 ) rc = bec_e2ee_sync_heal(p, pzErr);
  s->nOpsRecv += d.nOpsRecv;
  s->nRejected += d.nRejected;

  /* The peer dropped bodies this replica lacks: what it did send is kept,
  ** and the session ends out of sync; the next sync with a replica that
  ** holds them fetches them (docs/compaction.md, "Pruning").  Only the
  ** listed ops not stored here count: the peer listed what this replica
  ** lacked when it said so (its offer, its needs), and sessions with other
  ** replicas may have brought those ops since. */
  if( rc==SQLITE_OK && (in.flags & BEC_SYNC_F_PRUNED) ){
    int nLack = 0;
    for(i=0; rc==SQLITE_OK && i<in.nPruned; i++){
      int iHeld = 0;
      rc = bec_dag_seq_of(p, in.aPruned + (i64)i*BEC_HASH_BYTES, &iHeld);
      if( iHeld==0 ) nLack++;
    }
    if( rc==SQLITE_OK && nLack>0 ){
      char zCp[2*BEC_HASH_BYTES+1];
      bec_hex_encode(in.aPrunedBelow, BEC_HASH_BYTES, zCp);
      *pzErr = sqlite3_mprintf("bec_sync_apply: peer '%s' has pruned %d bodies "
          "this replica lacks, below checkpoint %s: sync with a replica that "
          "holds them", zPeer, nLack, zCp);
      rc = SQLITE_ERROR;
    }
  }

  /* This replica fell back to a full join while storing them (an op
  ** concurrent with its installed checkpoint: bec_rejoin.c): the session
  ** starts again from what is stored, and the reply is its offer. */
  if( rc==SQLITE_OK && (p->nRejoin!=nRejoin0 || bExtended) ){
    /* (a longer band installed: the install was stored again, its seqs
    ** name other ops too) */
    rc = session_restart(p, s, zPeer, &d, pOut, pzErr);
    goto apply_end;
  }

  /* A newcomer's invitation: honoured here if this replica issued it; its
  ** add op then goes back in this reply. */
  if( rc==SQLITE_OK && (in.flags & BEC_SYNC_F_INVITE) ){
    rc = honour_invite(p, in.aInvite, &zRefusal, pzErr);
  }

  /* What the peer holds: everything it sent, its heads and shared heads,
  ** and, if it says so, everything we claimed last. */
  if( rc==SQLITE_OK ) rc = local_heads(p, &heads, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = session_maps(s, g->nNode);
  if( rc==SQLITE_OK ) rc = mark_received(p, g, &recv, s->aRoot);
  if( rc==SQLITE_OK ) rc = seqs_of(p, g, in.aHead, in.nHead, &aTheirSeq, &nUnknown);
  for(i=0; rc==SQLITE_OK && i<in.nHead; i++){
    if( aTheirSeq[i] ) s->aRoot[aTheirSeq[i]] = 1;
  }
  if( rc==SQLITE_OK ) rc = mark_hashes(p, g, in.aShared, in.nShared, s->aRoot, 0);
  if( rc==SQLITE_OK && (in.flags & BEC_SYNC_F_KNOWS_ALL) ){
    rc = mark_hashes(p, g, s->sentHeads.a, (int)(s->sentHeads.n/BEC_HASH_BYTES),
                     s->aRoot, 0);
  }
  if( rc==SQLITE_OK ){
    aHave = sqlite3_malloc64((sqlite3_uint64)g->nNode + 1);
    aSend = sqlite3_malloc64((sqlite3_uint64)g->nNode + 1);
    aBase = sqlite3_malloc64((sqlite3_uint64)g->nNode + 1);
    if( aHave==0 || aSend==0 || aBase==0 ) rc = SQLITE_NOMEM;
  }
  /* A joiner given a snapshot in this reply holds K's cut once it installs
  ** it: only what lies outside the cut goes beside it.  One that cannot
  ** install it shows so by its heads in the next round, and gets the rest. */
  if( rc==SQLITE_OK ) rc = give_snapshot(p, s, &in, &msg, &snap, &iSnapK, pzErr);
  if( rc==SQLITE_OK ){
    memcpy(aHave, s->aRoot, (size_t)g->nNode + 1);
    if( iSnapK>=1 && iSnapK<=g->nNode ) aHave[iSnapK] = 1;
    mark_ancestors(g, aHave);
    mark_standins(g, aHave);
    memset(aSend, 0, (size_t)g->nNode + 1);
    if( in.flags & BEC_SYNC_F_FILTER ){
      rc = bec_bloom_copy(&s->filter, &in.filter);
      s->bFilter = rc==SQLITE_OK;
    }
  }

  /* What to send: exact when every head of the peer is known here. */
  bExact = nUnknown==0;
  if( rc==SQLITE_OK ){
    rc = choose_ops(g, aHave, bExact, s->bFilter ? &s->filter : 0, aSend);
  }
  if( rc==SQLITE_OK ){
    for(i=1; i<=g->nNode; i++) if( s->aSent[i] ) aSend[i] = 0;
    /* Needs are served even if sent before: the peer says it lacks them. */
    for(i=0; rc==SQLITE_OK && i<in.nNeed; i++){
      int iSeq = 0;
      rc = bec_dag_seq_of(p, &in.aNeed[i*BEC_HASH_BYTES], &iSeq);
      if( iSeq>=1 && iSeq<=g->nNode && !BEC_NODE_STANDIN(g, iSeq) ){
        aSend[iSeq] = 3;
      }else if( rc==SQLITE_OK && iSeq>=1 && iSeq<=g->nNode
             && pruned.n/BEC_HASH_BYTES < BEC_SYNC_MAX_NEEDS ){
        /* an op of an installed snapshot's cut: held without its body,
        ** as a pruned one (the peer fetches it from a full replica) */
        bec_buf_append(&pruned, &in.aNeed[i*BEC_HASH_BYTES], BEC_HASH_BYTES, &rc);
      }
    }
  }
  for(i=1; rc==SQLITE_OK && i<=g->nNode; i++){
    int bAdded = 0;
    if( !aSend[i] ) continue;
    if( nOp>=BEC_SYNC_MAX_OPS || (nOp>0 && nBytes>=MSG_SOFT_BYTES) ) break;
    /* A dropped body is reported only when the peer surely lacks it (an
    ** exact reply, or its need), not for a filter's guess. */
    rc = add_stored_op(p, i, &ops, &nBytes,
                       (bExact || aSend[i]==3) ? &pruned : 0, &bAdded);
    if( !s->aSent[i] && bAdded ) nNew++;
    s->aSent[i] = 1;
    nOp += bAdded;
  }
  for(i=1; rc==SQLITE_OK && i<=g->nNode; i++){
    if( !aHave[i] && !s->aSent[i] ){ bAllCand = 0; break; }
  }
  if( rc==SQLITE_OK ) rc = our_needs(p, s, &need);

  /* What we can say we hold that the peer holds too: the persisted shared
  ** heads and the peer's heads known here.  A filter covers the rest. */
  if( rc==SQLITE_OK ) rc = peer_shared(p, zPeer, &shared);
  if( rc==SQLITE_OK ){
    memset(aBase, 0, (size_t)g->nNode + 1);
    rc = mark_hashes(p, g, shared.a, (int)(shared.n/BEC_HASH_BYTES), aBase, 0);
    for(i=0; rc==SQLITE_OK && i<in.nHead; i++){
      if( aTheirSeq[i] ) aBase[aTheirSeq[i]] = 1;
    }
  }
  if( rc==SQLITE_OK ) rc = maximal_hashes(g, aBase, &sharedOut);
  if( rc==SQLITE_OK && !bExact && !bAllCand ){
    mark_ancestors(g, aBase);
    msg.flags |= BEC_SYNC_F_FILTER;
    rc = build_filter(g, aBase, &msg.filter);
  }

  if( rc==SQLITE_OK ){
    int bSame = buf_equal(&heads, in.aHead, (i64)in.nHead*BEC_HASH_BYTES);
    int bTold = s->iRound>=0 && buf_equal(&s->sentHeads, heads.a, heads.n);
    bSynced = bSame;
    if( bSame && nOp==0 && need.n==0 && bTold
     && (in.ext & BEC_SYNC_X_WANT_BAND)==0 ){
      *pbDone = 1;
    }
    /* Progress is something new moving, either way.  New heads alone
    ** are not: a peer could invent them forever. */
    bProgress = d.nOpsRecv>0 || nParked>0 || nNew>0 || !bTold;
    if( *pbDone ){
      s->nIdle = 0;
    }else if( bProgress ){
      s->nIdle = 0;
    }else if( ++s->nIdle>=MAX_IDLE_ROUNDS ){
      /* On an installed snapshot the usual cause is an op concurrent with
      ** its checkpoint: it waits for a full join (bec_dag_rejoin_op). */
      u8 aRejoin[BEC_HASH_BYTES];
      char zRejoin[13];
      int bRejoin = 0;
      rc = bec_dag_rejoin_op(p, aRejoin, &bRejoin);
      if( bRejoin==1 ) bec_hex_encode(aRejoin, 6, zRejoin);
      if( rc==SQLITE_OK ){
        *pzErr = bRejoin==1
          ? sqlite3_mprintf("bec_sync_apply: no progress in %d rounds: this "
              "replica installed a snapshot, and op %s is concurrent with its "
              "checkpoint: it and what follows it wait for a full join",
              MAX_IDLE_ROUNDS, zRejoin)
          : sqlite3_mprintf("bec_sync_apply: no progress in %d rounds: the "
              "peer reports heads this replica cannot reach (it withholds ops, "
              "or its ops were rejected)", MAX_IDLE_ROUNDS);
        rc = SQLITE_ERROR;
      }
    }
    if( rc==SQLITE_OK && in.iRound+1>BEC_SYNC_MAX_ROUNDS ){
      *pzErr = sqlite3_mprintf("bec_sync_apply: more than %d rounds in one "
                               "session", BEC_SYNC_MAX_ROUNDS);
      rc = SQLITE_ERROR;
    }
  }
  if( rc==SQLITE_OK ){
    buf_set(&s->theirHeads, in.aHead, (i64)in.nHead*BEC_HASH_BYTES, &rc);
    s->bHeard = 1;
  }
  if( rc==SQLITE_OK && !*pbDone ) rc = ask_to_join(p, &msg, aInvite);
  if( rc==SQLITE_OK && !*pbDone ) rc = wish_snapshot(p, s, &msg);
  if( rc==SQLITE_OK && !*pbDone ) rc = wish_band(p, s, &msg, &wish);
  if( rc==SQLITE_OK && !*pbDone ) rc = give_band(p, s, &in, &msg, &band, pzErr);
  if( rc==SQLITE_OK && !*pbDone ){
    msg.flags |= bExact ? BEC_SYNC_F_KNOWS_ALL : 0;
    if( buf_equal(&heads, in.aHead, (i64)in.nHead*BEC_HASH_BYTES) ){
      msg.flags |= BEC_SYNC_F_SAME_HEADS;
    }
    msg.aGroupTag = aTag;
    msg.aSession = s->aId;
    msg.iRound = in.iRound+1;
    msg.nHead = (int)(heads.n/BEC_HASH_BYTES);
    msg.aHead = heads.a;
    msg.nShared = (int)(sharedOut.n/BEC_HASH_BYTES);
    msg.aShared = sharedOut.a;
    msg.nNeed = (int)(need.n/BEC_HASH_BYTES);
    msg.aNeed = need.a;
    msg.nOp = nOp;
    n0 = pOut->n;
    rc = tell_pruned(p, &msg, &pruned, aBelow);
    bec_syncmsg_encode(pOut, &msg, &ops, &rc);
    snapshot_fits(&msg, &ops, n0, pOut, &bDropped, &rc);
    if( bDropped ){
      /* not sent after all: the next round sends them */
      for(i=1; i<=g->nNode; i++) if( aSend[i] ) s->aSent[i] = 0;
      nOp = 0;
    }
    if( rc==SQLITE_OK ){
      s->iRound = msg.iRound;
      buf_set(&s->sentHeads, heads.a, heads.n, &rc);
      s->nMsgSent++;
      s->nOpsSent += nOp;
      s->nBytesSent += pOut->n;
      d.nOpsSent = nOp;
      d.nBytesSent = pOut->n;
    }
  }
  if( rc==SQLITE_OK ){
    /* Both hold every head the peer reported: those are shared now. */
    const BecBuf *pShared = 0;
    BecBuf theirs;
    theirs.a = (u8*)in.aHead;
    theirs.n = (i64)in.nHead*BEC_HASH_BYTES;
    theirs.nAlloc = 0;
    if( bExact ) pShared = &theirs;
    rc = peer_update(p, zPeer, &d, pShared, bSynced, zRefusal);
    if( *pbDone ) s->bActive = 0;
  }else{
    /* Keep the counts of what did happen; end the session. */
    (void)peer_update(p, zPeer, &d, 0, 0, 0);
    session_fail(p, s, *pzErr);
  }
apply_end:
  bec_bloom_free(&msg.filter);
  bec_buf_free(&recv);
  bec_buf_free(&heads);
  bec_buf_free(&ops);
  bec_buf_free(&need);
  bec_buf_free(&sharedOut);
  bec_buf_free(&shared);
  bec_buf_free(&same);
  bec_buf_free(&pruned);
  bec_buf_free(&snap);
  bec_buf_free(&wish);
  bec_buf_free(&band);
  bec_syncmsg_free(&in);
  sqlite3_free(zRefusal);
  sqlite3_free(aHave);
  sqlite3_free(aSend);
  sqlite3_free(aBase);
  sqlite3_free(aTheirSeq);
  return rc;
}

/**************************************************************************
** Who may sync with this replica.
*/
/* Is aPub a current member of the group in this replica's view?  The one
** place that decides whom becsync serves.  With a membership table
** (bec_members) it is asked; without one, the group's creator is the only
** member.  A replica that holds no op yet (it only joined) may sync with
** anyone: it has nothing to give away, and must learn the group first. */
static int peer_is_member(BecCtx *p, const u8 *aPub, int *pbOk, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  int rc;
  *pbOk = 0;
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);
  if( rc ) return rc;
  if( g->nNode==0 ){
    *pbOk = 1;
    return SQLITE_OK;
  }
  if( sqlite3_prepare_v2(p->db, "SELECT count(*) FROM bec_members "
                         "WHERE pubkey=?1", -1, &pStmt, 0)==SQLITE_OK ){
    char zHex[BEC_PUBKEY_BYTES*2+1];
    bec_hex_encode(aPub, BEC_PUBKEY_BYTES, zHex);
    sqlite3_bind_text(pStmt, 1, zHex, -1, SQLITE_TRANSIENT);
    if( sqlite3_step(pStmt)==SQLITE_ROW ) *pbOk = sqlite3_column_int(pStmt, 0)>0;
    rc = sqlite3_finalize(pStmt);
    if( rc && pzErr ){
      *pzErr = sqlite3_mprintf("bec_sync_peer_allowed: cannot read bec_members: "
                               "%s", bec_rc_text(p->db, rc));
    }
    return rc;
  }
  sqlite3_finalize(pStmt);
  if( g->aNode[1].kind==BEC_KIND_CREATE ){
    *pbOk = memcmp(g->aAuthorKey[g->aNode[1].iAuthor], aPub,
                   BEC_PUBKEY_BYTES)==0;
  }
  return SQLITE_OK;
}

/**************************************************************************
** SQL functions.
*/
static void sync_ctx_unref(void *pArg){
  SyncCtx *pS = (SyncCtx*)pArg;
  if( --pS->nRef>0 ) return;
  while( pS->pList ){
    Session *s = pS->pList;
    pS->pList = s->pNext;
    session_free(s);
  }
  bec_ctx_unref(pS->pCtx);
  sqlite3_free(pS);
}


/* The peer label argument, or 0 after reporting why it is unusable. */
static const char *arg_peer(sqlite3_context *ctx, sqlite3_value *pVal,
                            const char *zFunc){
  const char *z = (const char*)sqlite3_value_text(pVal);
  if( sqlite3_value_type(pVal)!=SQLITE_TEXT || z==0 || z[0]==0
   || sqlite3_value_bytes(pVal)>MAX_PEER_LABEL ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("%s: the peer must be a "
             "non-empty text label of at most %d bytes", zFunc, MAX_PEER_LABEL));
    return 0;
  }
  return z;
}

/* bec_sync_offer(peer): the first message of a new session with peer. */
static void fnOffer(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  SyncCtx *pS = (SyncCtx*)sqlite3_user_data(ctx);
  const char *zPeer = arg_peer(ctx, argv[0], "bec_sync_offer");
  BecBuf out;
  char *zErr = 0;
  int rc;
  if( zPeer==0 ) return;
  memset(&out, 0, sizeof(out));
  rc = sync_offer(pS, zPeer, &out, &zErr);
  if( rc ){
    bec_buf_free(&out);
    bec_fn_error_in(ctx, "bec_sync_offer", rc, zErr);
    return;
  }
  sqlite3_result_blob64(ctx, out.a, (sqlite3_uint64)out.n, sqlite3_free);
}

/* bec_sync_apply(peer, msg): stores what msg carries; the reply, or NULL
** when this side has nothing more to say. */
static void fnApply(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  SyncCtx *pS = (SyncCtx*)sqlite3_user_data(ctx);
  const char *zPeer = arg_peer(ctx, argv[0], "bec_sync_apply");
  BecBuf out;
  char *zErr = 0;
  int rc, bDone = 0;
  if( zPeer==0 ) return;
  if( sqlite3_value_type(argv[1])!=SQLITE_BLOB ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_sync_apply: the message "
             "must be a blob (from bec_sync_offer or bec_sync_apply)"));
    return;
  }
  memset(&out, 0, sizeof(out));
  rc = sync_apply(pS, zPeer, sqlite3_value_blob(argv[1]),
                  sqlite3_value_bytes(argv[1]), &out, &bDone, &zErr);
  if( rc ){
    bec_buf_free(&out);
    bec_fn_error_in(ctx, "bec_sync_apply", rc, zErr);
    return;
  }
  /* Attestations the stored ops call for (bec_checkpoint.c): signed once
  ** the reply is built, so they travel in the next message or session. */
  if( pS->pCtx->xSettle ) pS->pCtx->xSettle(pS->pCtx);
  if( bDone ){
    bec_buf_free(&out);
    sqlite3_result_null(ctx);
  }else{
    sqlite3_result_blob64(ctx, out.a, (sqlite3_uint64)out.n, sqlite3_free);
  }
}

/* z as a JSON string literal; from sqlite3_malloc64, or 0 if out of memory. */
static char *json_string(const char *z){
  BecBuf b;
  int rc = SQLITE_OK;
  memset(&b, 0, sizeof(b));
  bec_buf_append_u8(&b, '"', &rc);
  for(; *z; z++){
    unsigned char c = (unsigned char)*z;
    if( c=='"' || c=='\\' ){
      bec_buf_append_u8(&b, '\\', &rc);
      bec_buf_append_u8(&b, c, &rc);
    }else if( c<0x20 ){
      char zEsc[8];
      snprintf(zEsc, sizeof(zEsc), "\\u%04x", c);
      bec_buf_append(&b, zEsc, 6, &rc);
    }else{
      bec_buf_append_u8(&b, c, &rc);
    }
  }
  bec_buf_append(&b, "\"", 2, &rc);
  if( rc ){
    bec_buf_free(&b);
    return 0;
  }
  return (char*)b.a;
}

/* bec_sync_state(peer): the session with peer as JSON, or NULL. */
static void fnState(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  SyncCtx *pS = (SyncCtx*)sqlite3_user_data(ctx);
  const char *zPeer = arg_peer(ctx, argv[0], "bec_sync_state");
  BecBuf heads;
  Session *s;
  char *zErr = 0, *z, *zJsonErr, *zJsonNoSnap;
  char zRejoin[2*BEC_HASH_BYTES+1];
  u8 aRejoin[BEC_HASH_BYTES];
  u8 *aWhy = 0;
  char *zWhy = 0;
  int rc, bInSync = 0, bRejoin = 0, nWhy = 0;
  if( zPeer==0 ) return;
  s = session_find(pS, zPeer);
  if( s==0 ) return;
  memset(&heads, 0, sizeof(heads));
  rc = bec_dag_ensure_schema(pS->pCtx, &zErr);
  if( rc==SQLITE_OK ) rc = local_heads(pS->pCtx, &heads, &zErr);
  /* an installed snapshot this replica must leave for a full join */
  if( rc==SQLITE_OK ) rc = bec_dag_rejoin_op(pS->pCtx, aRejoin, &bRejoin);
  if( rc==SQLITE_OK && bRejoin==1 ){
    rc = bec_config_get_blob(pS->pCtx, "rejoin_blocked", &aWhy, &nWhy);
  }
  if( rc==SQLITE_OK && aWhy ){
    zWhy = sqlite3_mprintf("%.*s", nWhy, (const char*)aWhy);
    if( zWhy==0 ) rc = SQLITE_NOMEM;
  }
  sqlite3_free(aWhy);
  if( rc ){
    sqlite3_free(zWhy);
    bec_fn_error_in(ctx, "bec_sync_state", rc, zErr);
    bec_buf_free(&heads);
    return;
  }
  bInSync = s->bHeard && s->zError==0
         && buf_equal(&heads, s->theirHeads.a, s->theirHeads.n);
  bec_buf_free(&heads);
  zJsonErr = s->zError ? json_string(s->zError) : 0;
  zJsonNoSnap = s->zNoSnap ? json_string(s->zNoSnap) : 0;
  if( bRejoin ) bec_hex_encode(aRejoin, BEC_HASH_BYTES, zRejoin);
  {
    /* the fall-back of an installed snapshot (bec_rejoin.c): "fell back",
    ** or "waiting" with why */
    char *zJsonWhy = zWhy ? json_string(zWhy) : 0;
    /* and what came of the last ask for a longer band */
    char *zJsonBand = s->zBand ? json_string(s->zBand) : 0;
    sqlite3_free(zWhy);
    zWhy = sqlite3_mprintf("\"rejoin\":%s,\"rejoin_op\":%s%s%s,"
        "\"rejoin_why\":%s,\"band\":%s",
        bRejoin==2 ? "\"fell back\"" : bRejoin ? "\"waiting\"" : "null",
        bRejoin ? "\"" : "", bRejoin ? zRejoin : "null", bRejoin ? "\"" : "",
        zJsonWhy ? zJsonWhy : "null", zJsonBand ? zJsonBand : "null");
    sqlite3_free(zJsonWhy);
    sqlite3_free(zJsonBand);
  }
  z = zWhy==0 ? 0 : sqlite3_mprintf("{\"active\":%d,\"in_sync\":%d,\"round\":%lld,"
      "\"messages_sent\":%lld,\"messages_received\":%lld,"
      "\"ops_sent\":%lld,\"ops_received\":%lld,\"bytes_sent\":%lld,"
      "\"bytes_received\":%lld,\"rejected\":%lld,\"pending\":%lld,"
      "\"snapshot\":%s%s%s,\"no_snapshot\":%s,%s,\"error\":%s}",
      s->bActive, bInSync, (long long)s->iRound, (long long)s->nMsgSent,
      (long long)s->nMsgRecv, (long long)s->nOpsSent, (long long)s->nOpsRecv,
      (long long)s->nBytesSent, (long long)s->nBytesRecv,
      (long long)s->nRejected, (long long)(s->parked.n/BEC_HASH_BYTES),
      s->zSnap ? "\"" : "", s->zSnap ? s->zSnap : "null",
      s->zSnap ? "\"" : "", zJsonNoSnap ? zJsonNoSnap : "null", zWhy,
      zJsonErr ? zJsonErr : "null");
  sqlite3_free(zJsonErr);
  sqlite3_free(zJsonNoSnap);
  sqlite3_free(zWhy);
  if( z==0 ) sqlite3_result_error_nomem(ctx);
  else sqlite3_result_text(ctx, z, -1, sqlite3_free);
}

/* bec_sync_auth_sign(transcript): this replica's signature of a becsync
** handshake transcript (domain-separated from op signatures). */
static void fnAuthSign(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  SyncCtx *pS = (SyncCtx*)sqlite3_user_data(ctx);
  const u8 *aSecret = 0;
  u8 aSig[BEC_SIG_BYTES];
  char *zErr = 0;
  int rc;
  if( sqlite3_value_type(argv[0])!=SQLITE_BLOB ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_sync_auth_sign: the "
             "transcript must be a blob"));
    return;
  }
  rc = bec_dag_ensure_schema(pS->pCtx, &zErr);
  if( rc==SQLITE_OK ) rc = bec_dag_secret(pS->pCtx, &aSecret, &zErr);
  if( rc ){
    bec_fn_error_in(ctx, "bec_sync_auth_sign", rc, zErr);
    return;
  }
  rc = bec_crypto_sign_auth(aSecret, sqlite3_value_blob(argv[0]),
                            sqlite3_value_bytes(argv[0]), aSig);
  if( rc ) bec_fn_error(ctx, rc, sqlite3_mprintf("bec_sync_auth_sign: %s",
                                                 bec_rc_text(0, rc)));
  else sqlite3_result_blob(ctx, aSig, BEC_SIG_BYTES, SQLITE_TRANSIENT);
}

/* bec_sync_auth_verify(pubkey, transcript, sig): 1 if sig is pubkey's
** signature of the transcript, else 0. */
static void fnAuthVerify(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  int bOk = 0;
  if( sqlite3_value_type(argv[0])==SQLITE_BLOB
   && sqlite3_value_bytes(argv[0])==BEC_PUBKEY_BYTES
   && sqlite3_value_type(argv[1])==SQLITE_BLOB
   && sqlite3_value_type(argv[2])==SQLITE_BLOB
   && sqlite3_value_bytes(argv[2])==BEC_SIG_BYTES ){
    bOk = bec_crypto_verify_auth(sqlite3_value_blob(argv[0]),
                                 sqlite3_value_blob(argv[1]),
                                 sqlite3_value_bytes(argv[1]),
                                 sqlite3_value_blob(argv[2]));
  }
  sqlite3_result_int(ctx, bOk);
}

/* bec_sync_op_count(): the number of ops this replica holds (verified,
** not pending), from the in-memory graph: cheap enough for every session's
** handshake, where becsync tells the peer so it can show progress.  The
** cut's stand-ins of an installed snapshot count: peers send none of them,
** so a progress estimate (the peer's count minus this one) stays right. */
static void fnOpCount(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  SyncCtx *pS = (SyncCtx*)sqlite3_user_data(ctx);
  BecGraph *g = 0;
  char *zErr = 0;
  int rc = bec_dag_ensure_schema(pS->pCtx, &zErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(pS->pCtx, &g, &zErr);
  if( rc ) bec_fn_error_in(ctx, "bec_sync_op_count", rc, zErr);
  else sqlite3_result_int64(ctx, g->nNode);
}

/* bec_sync_peer_allowed(pubkey [, relay_key]): 1 if this replica may sync
** with pubkey (a current member of the group in this replica's view), else
** 0.  relay_key pins a relay that is not a member (becsync --relay-key):
** pubkey equal to it is allowed too, and only in an encrypted group, since
** such a relay reads every plaintext value.  Given in a group that holds
** ops and is not encrypted, the pin is an error whatever pubkey is. */
static int key_arg(sqlite3_value *pVal, u8 *aKey){
  if( sqlite3_value_type(pVal)==SQLITE_BLOB
   && sqlite3_value_bytes(pVal)==BEC_PUBKEY_BYTES ){
    memcpy(aKey, sqlite3_value_blob(pVal), BEC_PUBKEY_BYTES);
    return 1;
  }
  return sqlite3_value_type(pVal)==SQLITE_TEXT
      && bec_hex_decode((const char*)sqlite3_value_text(pVal),
                        sqlite3_value_bytes(pVal), aKey,
                        BEC_PUBKEY_BYTES)==BEC_PUBKEY_BYTES;
}
static void fnPeerAllowed(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  SyncCtx *pS = (SyncCtx*)sqlite3_user_data(ctx);
  u8 aPub[BEC_PUBKEY_BYTES], aPin[BEC_PUBKEY_BYTES];
  char *zErr = 0;
  int rc = SQLITE_OK, bOk = 0, bPin = argc>1, bEnc = 0;
  if( !key_arg(argv[0], aPub) || (bPin && !key_arg(argv[1], aPin)) ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_sync_peer_allowed: the "
             "key must be 64 hex characters or a 32-byte blob"));
    return;
  }
  if( bPin ){
    BecGraph *g = 0;
    rc = bec_dag_ensure_schema(pS->pCtx, &zErr);
    if( rc==SQLITE_OK ) rc = bec_graph_get(pS->pCtx, &g, &zErr);
    if( rc==SQLITE_OK ) rc = bec_e2ee_group_encrypted(pS->pCtx, &bEnc);
    if( rc==SQLITE_OK && g->nNode>0 && !bEnc ){
      zErr = sqlite3_mprintf("a relay key is pinned but the group is not "
          "encrypted: a relay that is not a member would read every value "
          "(bec_encrypt_group() first, or add the relay as a member)");
      rc = SQLITE_ERROR;
    }
  }
  if( rc==SQLITE_OK ) rc = peer_is_member(pS->pCtx, aPub, &bOk, &zErr);
  if( rc==SQLITE_OK && !bOk && bPin
   && memcmp(aPub, aPin, BEC_PUBKEY_BYTES)==0 ){
    bOk = 1;
  }
  if( rc ) bec_fn_error_in(ctx, "bec_sync_peer_allowed", rc, zErr);
  else sqlite3_result_int(ctx, bOk);
}

/**************************************************************************
** bec_peers.
*/
/* shared_heads as a JSON array of hex hashes. */
static int peersColumn(sqlite3_stmt *pStmt, sqlite3_context *ctx, int i){
  char *z;
  if( i!=1 ) return SQLITE_NOTFOUND;
  z = bec_hex_json_array(sqlite3_column_blob(pStmt, 1),
                         sqlite3_column_bytes(pStmt, 1) / BEC_HASH_BYTES);
  if( z==0 ){
    sqlite3_result_error_nomem(ctx);
  }else{
    sqlite3_result_text(ctx, z, -1, sqlite3_free);
  }
  return SQLITE_OK;
}

static const BecTableDef peersTable = {
  "bec_peers",
  "CREATE TABLE x(peer TEXT, shared_heads TEXT, last_sync INTEGER,"
  " sessions INTEGER, ops_sent INTEGER, ops_received INTEGER,"
  " bytes_sent INTEGER, bytes_received INTEGER, rejected INTEGER,"
  " last_error TEXT)",
  "SELECT peer, shared, last_sync, sessions, ops_sent, ops_received,"
  " bytes_sent, bytes_received, rejected, last_error FROM bec_store_peer"
  " WHERE 1",
  "ORDER BY peer",
  { { 0, 3, "peer=?" } },
  peersColumn, 0
};

#define DIRECT   (SQLITE_UTF8|SQLITE_DIRECTONLY)
#define READS    (SQLITE_UTF8|SQLITE_INNOCUOUS)
#define PURE     (SQLITE_UTF8|SQLITE_INNOCUOUS|SQLITE_DETERMINISTIC)

int bec_sync_register(sqlite3 *db, BecCtx *pCtx){
  static const struct {
    const char *zName;
    int nArg;
    int flags;
    void (*xFunc)(sqlite3_context*, int, sqlite3_value**);
  } aFunc[] = {
    { "bec_sync_offer",        1, DIRECT, fnOffer },
    { "bec_sync_apply",        2, DIRECT, fnApply },
    { "bec_sync_state",        1, READS,  fnState },
    { "bec_sync_auth_sign",    1, DIRECT, fnAuthSign },
    { "bec_sync_auth_verify",  3, PURE,   fnAuthVerify },
    { "bec_sync_peer_allowed", 1, READS,  fnPeerAllowed },
    { "bec_sync_peer_allowed", 2, READS,  fnPeerAllowed },
    { "bec_sync_op_count",     0, READS,  fnOpCount },
  };
  SyncCtx *pS = sqlite3_malloc64(sizeof(SyncCtx));
  size_t i;
  int rc = SQLITE_OK;
  if( pS==0 ) return SQLITE_NOMEM;
  memset(pS, 0, sizeof(*pS));
  pS->pCtx = bec_ctx_ref(pCtx);
  pS->nRef = 1;
  for(i=0; rc==SQLITE_OK && i<sizeof(aFunc)/sizeof(aFunc[0]); i++){
    pS->nRef++;
    rc = sqlite3_create_function_v2(db, aFunc[i].zName, aFunc[i].nArg,
                                    aFunc[i].flags, pS, aFunc[i].xFunc, 0, 0,
                                    sync_ctx_unref);
  }
  sync_ctx_unref(pS);
  if( rc ) return rc;
  return bec_vtab_register_table(db, pCtx, &peersTable);
}
