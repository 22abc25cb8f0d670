/*
** bec_root.c - the threshold root, first step: the key generation runs as
** ops in the DAG (docs/root.md; the design is THRESHOLD.md section 3).
**
**   SELECT bec_root_open(3, json_array(:pk1, :pk2, :pk3, :pk4, :pk5));
**   SELECT bec_root_step();          -- on each holder: deal, then ack
**   SELECT * FROM bec_root;          -- session, epoch, k, n, group_key, state
**   SELECT * FROM bec_root_holders;  -- session, id, pk, confirmed, share_key
**
** THE IDEA.  The creator's `root-open` op names k and the n holders (by
** key order: holder i is the i-th smallest key); its id is the session id.
** Each holder posts one `dkg-deal`: the commitments of a random polynomial,
** a proof of possession of its constant term, and n sealed boxes, box j
** holding f_i(j) for holder j.  Each holder opens its boxes, checks them
** against the commitments and posts one `dkg-ack` that names the n deals
** it used (the transcript) and the group key Y they give.  The session is
** active once all n holders acked one transcript.  Nobody stores a share:
** a holder derives s_j again from the DAG and its identity key.
**
** Acceptance (xAdmit) judges each op by its payload and causal past only:
**   root-open  the creator's (membership checks the admin grant, this file
**              that the author created the group); canonical holders; no
**              session active in its causal past;
**   dkg-deal   its session's open is in its causal past, its author is
**              holder i, k and n are the session's, the commitments and
**              the proof of possession verify (bec_frost_dkg_check_deal);
**   dkg-ack    likewise for holder j, and every named deal is a deal of
**              the right dealer of this session in its causal past, whose
**              summed constant commitments are the Y it states.
** Only the recipient can check a box: a holder whose box fails posts no
** ack and logs "dkg: bad share from holder i" in its bec_rejected.
**
** Derived state (xStored, recomputed from the facts below, so it depends
** on the set of stored ops only, never on their order):
**   bec_store_root_session(seq, sid, k, n, epoch, state, group_key,
**                          transcript)    one row per root-open
**   bec_store_root_holder(session, id, pk, confirmed, share_key)
**   bec_store_root_deal(seq, session, dealer, hash, phi)   the commitments
**   bec_store_root_ack(seq, session, holder, transcript, y, deals)
**   bec_store_root_abandon(session, by)   open `by` has session in its past
** A session is 'abandoned' (not shown) once another root-open has its open
** in its causal past; 'disabled' if its open is invalid under the
** membership rules (xValidity follows it); 'active' with one complete
** transcript (all n holders acked it); 'disabled' with two complete
** transcripts, or when two sessions that are not abandoned are both
** complete; else 'generating'.
*/
#include "becInt.h"

#include <stdlib.h>

#define ROOT_VERSION   1                     /* first byte of each payload */
#define PT             BEC_FROST_POINT_BYTES
#define SC             BEC_FROST_SCALAR_BYTES
#define SID            BEC_FROST_SID_BYTES
#define NMAX           BEC_FROST_MAX_HOLDERS
#define BOX            BEC_FROST_BOX_BYTES
#define TRANSCRIPT_TAG "bec-dkg-transcript-v1"

static const char zRootSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_root_session("
  "  seq INTEGER PRIMARY KEY, sid BLOB NOT NULL UNIQUE, k INTEGER NOT NULL,"
  "  n INTEGER NOT NULL, epoch INTEGER NOT NULL,"
  "  state TEXT NOT NULL DEFAULT 'generating', group_key BLOB,"
  "  transcript BLOB);"
  "CREATE TABLE IF NOT EXISTS bec_store_root_holder("
  "  session INTEGER NOT NULL, id INTEGER NOT NULL, pk BLOB NOT NULL,"
  "  confirmed INTEGER NOT NULL DEFAULT 0, share_key BLOB,"
  "  PRIMARY KEY(session, id)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_root_deal("
  "  seq INTEGER PRIMARY KEY, session INTEGER NOT NULL,"
  "  dealer INTEGER NOT NULL, hash BLOB NOT NULL UNIQUE, phi BLOB NOT NULL);"
  "CREATE INDEX IF NOT EXISTS bec_store_root_deal_session"
  "  ON bec_store_root_deal(session, dealer);"
  "CREATE TABLE IF NOT EXISTS bec_store_root_ack("
  "  seq INTEGER PRIMARY KEY, session INTEGER NOT NULL,"
  "  holder INTEGER NOT NULL, transcript BLOB NOT NULL, y BLOB NOT NULL,"
  "  deals BLOB NOT NULL);"
  "CREATE INDEX IF NOT EXISTS bec_store_root_ack_session"
  "  ON bec_store_root_ack(session, transcript, holder);"
  "CREATE TABLE IF NOT EXISTS bec_store_root_abandon("
  "  session INTEGER NOT NULL, by INTEGER NOT NULL,"
  "  PRIMARY KEY(session, by)) WITHOUT ROWID;";

/**************************************************************************
** Payloads (docs/wire-format.md, "Threshold root").  Every decoder takes
** the whole payload, refuses anything but the one canonical encoding and
** leaves pointers into it.
**
**   root-open  version(1) k(u8) n(u8) holder_pk[n]     keys strictly
**                                                      increasing
**   dkg-deal   version(1) sid(32) i(u8) k(u8) n(u8) phi[k](32) R(32)
**              mu(32) box[n](130)
**   dkg-ack    version(1) sid(32) j(u8) n(u8) deal_hash[n](32) Y(32)
**
** with 2 <= k <= n <= 64, 2k > n, 1 <= i, j <= n; points are canonical,
** in the prime-order subgroup and not of small order; mu is a canonical
** scalar; the n deal hashes of an ack are distinct.
*/
typedef struct RootOpen RootOpen;
struct RootOpen { int k, n; const u8 *aPk; };
typedef struct RootDeal RootDeal;
struct RootDeal {
  const u8 *aSid; int id, k, n;
  const u8 *aPhi, *aPopR, *aPopMu, *aBox;
};
typedef struct RootAck RootAck;
struct RootAck { const u8 *aSid; int id, n; const u8 *aDeal, *aY; };

/* Sets *pzErr (may be 0) and returns BEC_MALFORMED. */
static int bad(char **pzErr, const char *zFmt, ...){
  if( pzErr ){
    va_list ap;
    va_start(ap, zFmt);
    sqlite3_free(*pzErr);
    *pzErr = sqlite3_vmprintf(zFmt, ap);
    va_end(ap);
  }
  return BEC_MALFORMED;
}

static int bounds_ok(int k, int n){
  return k>=2 && k<=n && n<=NMAX && 2*k>n;
}

static int open_decode(const u8 *a, i64 nA, RootOpen *pOpen, char **pzErr){
  BecReader r;
  u8 v = 0, k = 0, n = 0;
  int i;
  r.a = a; r.n = nA; r.i = 0;
  if( bec_read_u8(&r, &v) || bec_read_u8(&r, &k) || bec_read_u8(&r, &n) ){
    return bad(pzErr, "truncated");
  }
  if( v!=ROOT_VERSION ) return bad(pzErr, "unknown version %d", v);
  if( !bounds_ok(k, n) ){
    return bad(pzErr, "%d-of-%d is outside 2 <= k <= n <= %d, 2k > n",
               k, n, NMAX);
  }
  if( bec_read_bytes(&r, (i64)n*BEC_PUBKEY_BYTES, &pOpen->aPk) || r.i!=r.n ){
    return bad(pzErr, "length: %d holder keys need %d bytes, not %lld", n,
               3+n*BEC_PUBKEY_BYTES, (long long)nA);
  }
  for(i=0; i<n; i++){
    const u8 *aKey = &pOpen->aPk[i*BEC_PUBKEY_BYTES];
    if( i>0 && memcmp(aKey-BEC_PUBKEY_BYTES, aKey, BEC_PUBKEY_BYTES)>=0 ){
      return bad(pzErr, "holder keys not strictly increasing");
    }
    if( bec_frost_point_check(aKey) ){
      return bad(pzErr, "holder %d's key is not a valid public key", i+1);
    }
  }
  pOpen->k = k;
  pOpen->n = n;
  return SQLITE_OK;
}

static int deal_decode(const u8 *a, i64 nA, RootDeal *pDeal, char **pzErr){
  BecReader r;
  u8 v = 0, id = 0, k = 0, n = 0;
  int t;
  r.a = a; r.n = nA; r.i = 0;
  if( bec_read_u8(&r, &v) || bec_read_bytes(&r, SID, &pDeal->aSid)
   || bec_read_u8(&r, &id) || bec_read_u8(&r, &k) || bec_read_u8(&r, &n) ){
    return bad(pzErr, "truncated");
  }
  if( v!=ROOT_VERSION ) return bad(pzErr, "unknown version %d", v);
  if( !bounds_ok(k, n) ){
    return bad(pzErr, "%d-of-%d is outside 2 <= k <= n <= %d, 2k > n",
               k, n, NMAX);
  }
  if( id<1 || id>n ) return bad(pzErr, "dealer %d of %d", id, n);
  if( bec_read_bytes(&r, (i64)k*PT, &pDeal->aPhi)
   || bec_read_bytes(&r, PT, &pDeal->aPopR)
   || bec_read_bytes(&r, SC, &pDeal->aPopMu)
   || bec_read_bytes(&r, (i64)n*BOX, &pDeal->aBox) || r.i!=r.n ){
    return bad(pzErr, "length: a %d-of-%d deal has %d bytes, not %lld", k, n,
               36+k*PT+PT+SC+n*BOX, (long long)nA);
  }
  for(t=0; t<k; t++){
    if( bec_frost_point_check(&pDeal->aPhi[t*PT]) ){
      return bad(pzErr, "commitment %d is not a valid point", t);
    }
  }
  if( bec_frost_point_check(pDeal->aPopR) ){
    return bad(pzErr, "the proof's R is not a valid point");
  }
  if( bec_frost_scalar_check(pDeal->aPopMu) ){
    return bad(pzErr, "the proof's mu is not a canonical scalar");
  }
  pDeal->id = id;
  pDeal->k = k;
  pDeal->n = n;
  return SQLITE_OK;
}

static int ack_decode(const u8 *a, i64 nA, RootAck *pAck, char **pzErr){
  BecReader r;
  u8 v = 0, id = 0, n = 0;
  int i, j;
  r.a = a; r.n = nA; r.i = 0;
  if( bec_read_u8(&r, &v) || bec_read_bytes(&r, SID, &pAck->aSid)
   || bec_read_u8(&r, &id) || bec_read_u8(&r, &n) ){
    return bad(pzErr, "truncated");
  }
  if( v!=ROOT_VERSION ) return bad(pzErr, "unknown version %d", v);
  if( n<2 || n>NMAX ) return bad(pzErr, "%d holders (2..%d)", n, NMAX);
  if( id<1 || id>n ) return bad(pzErr, "holder %d of %d", id, n);
  if( bec_read_bytes(&r, (i64)n*BEC_HASH_BYTES, &pAck->aDeal)
   || bec_read_bytes(&r, PT, &pAck->aY) || r.i!=r.n ){
    return bad(pzErr, "length: an ack of %d deals has %d bytes, not %lld", n,
               35+n*BEC_HASH_BYTES+PT, (long long)nA);
  }
  for(i=0; i<n; i++){
    for(j=0; j<i; j++){
      if( memcmp(&pAck->aDeal[i*BEC_HASH_BYTES], &pAck->aDeal[j*BEC_HASH_BYTES],
                 BEC_HASH_BYTES)==0 ){
        return bad(pzErr, "deal %d is named twice", i+1);
      }
    }
  }
  if( bec_frost_point_check(pAck->aY) ){
    return bad(pzErr, "Y is not a valid point");
  }
  pAck->id = id;
  pAck->n = n;
  return SQLITE_OK;
}

/* The transcript hash: BLAKE2b-256(tag || sid || the n deal hashes). */
static int transcript_hash(const u8 *aSid, const u8 *aDeals, int n, u8 *aOut){
  BecBuf b;
  int rc = SQLITE_OK;
  memset(&b, 0, sizeof(b));
  bec_buf_append(&b, TRANSCRIPT_TAG, (i64)strlen(TRANSCRIPT_TAG), &rc);
  bec_buf_append(&b, aSid, SID, &rc);
  bec_buf_append(&b, aDeals, (i64)n*BEC_HASH_BYTES, &rc);
  if( rc==SQLITE_OK ) bec_crypto_hash(b.a, b.n, aOut);
  bec_buf_free(&b);
  return rc;
}

/**************************************************************************
** Reading the facts.
*/
/* The session whose open op has id aSid: *piSess its seq (0 if none),
** with k and n. */
static int session_find(BecCtx *p, const u8 *aSid, int *piSess, int *pk,
                        int *pn){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT seq, k, n FROM bec_store_root_session "
                           "WHERE sid=?1", &pStmt);
  *piSess = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aSid, SID, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *piSess = sqlite3_column_int(pStmt, 0);
    *pk = sqlite3_column_int(pStmt, 1);
    *pn = sqlite3_column_int(pStmt, 2);
  }
  return sqlite3_reset(pStmt);
}

/* 1 in *pbIs if aKey is holder id of session iSess. */
static int is_holder(BecCtx *p, int iSess, int id, const u8 *aKey, int *pbIs){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT pk FROM bec_store_root_holder "
                           "WHERE session=?1 AND id=?2", &pStmt);
  *pbIs = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSess);
  sqlite3_bind_int(pStmt, 2, id);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *pbIs = sqlite3_column_bytes(pStmt, 0)==BEC_PUBKEY_BYTES
         && memcmp(sqlite3_column_blob(pStmt, 0), aKey, BEC_PUBKEY_BYTES)==0;
  }
  return sqlite3_reset(pStmt);
}

/* The deal with id aHash: *piSeq (0 if it is no stored deal), its session
** and dealer, and its commitments into *pDeal (id and k set). */
static int deal_find(BecCtx *p, const u8 *aHash, int *piSeq, int *piSess,
                     BecFrostDeal *pDeal){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT seq, session, dealer, phi FROM "
                           "bec_store_root_deal WHERE hash=?1", &pStmt);
  *piSeq = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    int nPhi = sqlite3_column_bytes(pStmt, 3);
    if( nPhi<PT || nPhi>NMAX*PT || nPhi%PT ){
      rc = SQLITE_CORRUPT;
    }else{
      *piSeq = sqlite3_column_int(pStmt, 0);
      *piSess = sqlite3_column_int(pStmt, 1);
      pDeal->id = sqlite3_column_int(pStmt, 2);
      pDeal->k = nPhi/PT;
      memcpy(pDeal->aPhi, sqlite3_column_blob(pStmt, 3), (size_t)nPhi);
    }
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  return rc;
}

/* The tally of session iSess (n holders) over the acks marked in aMark, or
** over every stored ack if aMark is 0: *pnComplete transcripts acked by all
** n holders; the first of them (by transcript hash) in aT, its Y in aY and
** its deal hashes in aDeals (n*32); abConf[id] = 1 for each holder that
** acked it (or, with none complete, that acked anything). */
static int session_tally(BecCtx *p, int iSess, int n, const u8 *aMark,
                         int *pnComplete, u8 *aT, u8 *aY, u8 *aDeals,
                         u8 *abConf){
  sqlite3_stmt *pStmt = 0;
  u8 aCur[BEC_HASH_BYTES];
  u8 abCur[NMAX+1], abAny[NMAX+1];
  int nCur = 0, bCur = 0;
  int rc = bec_ctx_stmt(p, "SELECT seq, holder, transcript, y, deals FROM "
                           "bec_store_root_ack WHERE session=?1 "
                           "ORDER BY transcript, holder", &pStmt);
  *pnComplete = 0;
  memset(abConf, 0, NMAX+1);
  memset(abAny, 0, sizeof(abAny));
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSess);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0);
    int id = sqlite3_column_int(pStmt, 1);
    const u8 *aTr = sqlite3_column_blob(pStmt, 2);
    if( aMark && aMark[x]==0 ) continue;
    if( id<1 || id>n || sqlite3_column_bytes(pStmt, 2)!=BEC_HASH_BYTES
     || sqlite3_column_bytes(pStmt, 3)!=PT
     || sqlite3_column_bytes(pStmt, 4)!=n*BEC_HASH_BYTES ){
      rc = SQLITE_CORRUPT;
      break;
    }
    abAny[id] = 1;
    if( !bCur || memcmp(aCur, aTr, BEC_HASH_BYTES) ){
      bCur = 1;
      nCur = 0;
      memcpy(aCur, aTr, BEC_HASH_BYTES);
      memset(abCur, 0, sizeof(abCur));
    }
    if( abCur[id]==0 ){
      abCur[id] = 1;
      if( ++nCur==n && (*pnComplete)++==0 ){
        memcpy(aT, aTr, BEC_HASH_BYTES);
        memcpy(aY, sqlite3_column_blob(pStmt, 3), PT);
        memcpy(aDeals, sqlite3_column_blob(pStmt, 4), (size_t)n*BEC_HASH_BYTES);
        memcpy(abConf, abCur, NMAX+1);
      }
    }
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && *pnComplete==0 ) memcpy(abConf, abAny, NMAX+1);
  return rc;
}

/* 1 in *pb if session iSess is abandoned by an open marked in aMark (or by
** any stored open if aMark is 0). */
static int session_abandoned(BecCtx *p, int iSess, const u8 *aMark, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT by FROM bec_store_root_abandon "
                           "WHERE session=?1", &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSess);
  while( *pb==0 && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( aMark==0 || aMark[sqlite3_column_int(pStmt, 0)] ) *pb = 1;
  }
  return sqlite3_reset(pStmt);
}

/* Every session, as (seq, n) pairs: *paSess from sqlite3_malloc64 (2 ints
** each; the caller frees it). */
static int session_list(BecCtx *p, int **paSess, int *pnSess){
  sqlite3_stmt *pStmt = 0;
  BecBuf b;
  int rc = bec_ctx_stmt(p, "SELECT seq, n FROM bec_store_root_session "
                           "ORDER BY seq", &pStmt);
  memset(&b, 0, sizeof(b));
  *paSess = 0;
  *pnSess = 0;
  if( rc ) return rc;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int a[2];
    a[0] = sqlite3_column_int(pStmt, 0);
    a[1] = sqlite3_column_int(pStmt, 1);
    bec_buf_append(&b, a, sizeof(a), &rc);
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK ){
    *paSess = (int*)b.a;
    *pnSess = (int)(b.n/(2*sizeof(int)));
  }else{
    bec_buf_free(&b);
  }
  return rc;
}

/* 1 in *pbActive if a session is active in the past aMark: its open and
** one complete transcript of acks are in it, it is not abandoned there,
** and no other session is complete there too (that would disable both). */
static int active_in_past(BecCtx *p, const u8 *aMark, int *pbActive){
  u8 aT[BEC_HASH_BYTES], aY[PT], aConf[NMAX+1];
  u8 *aDeals = sqlite3_malloc64(NMAX*BEC_HASH_BYTES);
  int *aSess = 0;
  int nSess = 0, nActive = 0, i;
  int rc = aDeals ? session_list(p, &aSess, &nSess) : SQLITE_NOMEM;
  for(i=0; rc==SQLITE_OK && i<nSess; i++){
    int iSess = aSess[2*i], n = aSess[2*i+1], bAb = 0, nComplete = 0;
    if( aMark[iSess]==0 ) continue;
    rc = session_abandoned(p, iSess, aMark, &bAb);
    if( rc==SQLITE_OK && !bAb ){
      rc = session_tally(p, iSess, n, aMark, &nComplete, aT, aY, aDeals, aConf);
    }
    if( rc==SQLITE_OK && nComplete==1 ) nActive++;
  }
  *pbActive = nActive==1;
  sqlite3_free(aSess);
  sqlite3_free(aDeals);
  return rc;
}

/**************************************************************************
** Acceptance.
*/
/* The creator: the author of the create op (node 1). */
static const u8 *creator_key(const BecGraph *g){
  if( g->nNode<1 || g->aNode[1].kind!=BEC_KIND_CREATE ) return 0;
  return g->aAuthorKey[g->aNode[1].iAuthor];
}

static int admit_open(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                      const u8 *aMark, BecVerdict *pV){
  RootOpen o;
  char *zWhy = 0;
  const u8 *aCreator = creator_key(g);
  int bActive = 0, rc;
  if( open_decode(pOp->aPayload, pOp->nPayload, &o, &zWhy) ){
    bec_verdict_set(pV, SQLITE_ERROR, "malformed: root-open: %s",
                    zWhy ? zWhy : "bad payload");
    sqlite3_free(zWhy);
    return SQLITE_OK;
  }
  if( aCreator==0 || memcmp(aCreator, pOp->aAuthor, BEC_PUBKEY_BYTES) ){
    bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: root-open: only the "
                    "group's creator may open a root");
    return SQLITE_OK;
  }
  rc = active_in_past(p, aMark, &bActive);
  if( rc==SQLITE_OK && bActive ){
    bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: root-open: a root is "
                    "active in the op's causal past");
  }
  return rc;
}

/* The session a deal or ack names: it must be a root-open in the op's
** causal past, of n holders (and k, if k>0), authored by holder id. */
static int admit_session(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                         const u8 *aMark, const u8 *aSid, int id, int k,
                         int n, int *piSess, BecVerdict *pV){
  const char *zKind = bec_kind_name(pOp->kind);
  int kS = 0, nS = 0, bHolder = 0;
  int rc = session_find(p, aSid, piSess, &kS, &nS);
  if( rc ) return rc;
  if( *piSess<1 || *piSess>g->nNode || aMark[*piSess]==0
   || g->aNode[*piSess].kind!=BEC_KIND_ROOT_OPEN ){
    bec_verdict_set(pV, SQLITE_ERROR, "%s: its session is no root-open in "
                    "the op's causal past", zKind);
  }else if( nS!=n || (k>0 && kS!=k) ){
    bec_verdict_set(pV, SQLITE_ERROR, "%s: the session is %d-of-%d, the op "
                    "says %d-of-%d", zKind, kS, nS, k>0 ? k : kS, n);
  }else{
    rc = is_holder(p, *piSess, id, pOp->aAuthor, &bHolder);
    if( rc==SQLITE_OK && !bHolder ){
      bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: %s: its author is not "
                      "holder %d of the session", zKind, id);
    }
  }
  return rc;
}

static int admit_deal(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                      const u8 *aMark, BecVerdict *pV, char **pzErr){
  RootDeal d;
  BecFrostDeal *pFd = 0;
  u8 aGid[BEC_HASH_BYTES];
  char *zWhy = 0;
  int iSess = 0, rc;
  if( deal_decode(pOp->aPayload, pOp->nPayload, &d, &zWhy) ){
    bec_verdict_set(pV, SQLITE_ERROR, "malformed: dkg-deal: %s",
                    zWhy ? zWhy : "bad payload");
    sqlite3_free(zWhy);
    return SQLITE_OK;
  }
  rc = admit_session(p, g, pOp, aMark, d.aSid, d.id, d.k, d.n, &iSess, pV);
  if( rc || pV->rc ) return rc;
  rc = bec_dag_group_id(p, aGid, pzErr);
  if( rc ) return rc;
  pFd = sqlite3_malloc64(sizeof(*pFd));
  if( pFd==0 ) return SQLITE_NOMEM;
  memset(pFd, 0, sizeof(*pFd));
  pFd->id = d.id;
  pFd->k = d.k;
  memcpy(pFd->aPhi, d.aPhi, (size_t)d.k*PT);
  memcpy(pFd->aPopR, d.aPopR, PT);
  memcpy(pFd->aPopMu, d.aPopMu, SC);
  if( bec_frost_dkg_check_deal(aGid, d.aSid, pFd, &zWhy) ){
    bec_verdict_set(pV, SQLITE_ERROR, "dkg-deal: %s",
                    zWhy ? zWhy : "the proof of possession fails");
  }
  sqlite3_free(zWhy);
  sqlite3_free(pFd);
  return SQLITE_OK;
}

static int admit_ack(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                     const u8 *aMark, BecVerdict *pV, char **pzErr){
  RootAck a;
  BecFrostDeal *aFd = 0;
  u8 aY[PT];
  char *zWhy = 0;
  int iSess = 0, rc, i;
  if( ack_decode(pOp->aPayload, pOp->nPayload, &a, &zWhy) ){
    bec_verdict_set(pV, SQLITE_ERROR, "malformed: dkg-ack: %s",
                    zWhy ? zWhy : "bad payload");
    sqlite3_free(zWhy);
    return SQLITE_OK;
  }
  rc = admit_session(p, g, pOp, aMark, a.aSid, a.id, 0, a.n, &iSess, pV);
  if( rc || pV->rc ) return rc;
  aFd = sqlite3_malloc64(sizeof(*aFd)*(sqlite3_uint64)a.n);
  if( aFd==0 ) return SQLITE_NOMEM;
  memset(aFd, 0, sizeof(*aFd)*(size_t)a.n);
  for(i=0; rc==SQLITE_OK && pV->rc==0 && i<a.n; i++){
    int x = 0, iS = 0;
    rc = deal_find(p, &a.aDeal[i*BEC_HASH_BYTES], &x, &iS, &aFd[i]);
    if( rc==SQLITE_OK && (x==0 || x>g->nNode || aMark[x]==0 || iS!=iSess
                          || aFd[i].id!=i+1) ){
      bec_verdict_set(pV, SQLITE_ERROR, "dkg-ack: deal %d is not a deal of "
                      "holder %d of this session in the op's causal past",
                      i+1, i+1);
    }
  }
  if( rc==SQLITE_OK && pV->rc==0 ){
    if( bec_frost_dkg_public(aFd, a.n, aY, 0, &zWhy)
     || memcmp(aY, a.aY, PT) ){
      bec_verdict_set(pV, SQLITE_ERROR, "dkg-ack: its Y is not the sum of "
                      "the named deals' commitments");
    }
    sqlite3_free(zWhy);
  }
  sqlite3_free(aFd);
  (void)pzErr;
  return rc;
}

/* xAdmit: the rules above, from the payload and the op's causal past. */
static int root_admit(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                      BecVerdict *pV, char **pzErr){
  BecGraph *g = 0;
  u8 *aMark = 0;
  int rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_past(g, aPredSeq, pOp->nPred, &aMark);
  if( rc==SQLITE_OK ){
    switch( pOp->kind ){
      case BEC_KIND_ROOT_OPEN:
        rc = admit_open(p, g, pOp, aMark, pV);
        break;
      case BEC_KIND_DKG_DEAL:
        rc = admit_deal(p, g, pOp, aMark, pV, pzErr);
        break;
      default:
        rc = admit_ack(p, g, pOp, aMark, pV, pzErr);
        break;
    }
  }
  sqlite3_free(aMark);
  return rc;
}

/**************************************************************************
** Derived state.
*/
/* One session's derived row, as refresh computes it. */
typedef struct RootState RootState;
struct RootState {
  int iSess, n;
  const char *zState;          /* a string literal */
  int bActive;                 /* group_key, transcript, share keys set */
  u8 aY[PT];
  u8 aT[BEC_HASH_BYTES];
  u8 abConf[NMAX+1];
  u8 aPk[NMAX][PT];            /* PK_1..PK_n, if bActive */
};

/* 1 in *pbValid if the root-open iSeq is valid under the membership rules
** (bec_store_op.valid, which membership decides and the DAG keeps). */
static int open_valid(BecCtx *p, int iSeq, int *pbValid){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT valid FROM bec_store_op WHERE seq=?1",
                        &pStmt);
  *pbValid = 1;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *pbValid = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

/* The state of every session from the stored facts. *paState from
** sqlite3_malloc64 (the caller frees it). */
static int compute_states(BecCtx *p, RootState **paState, int *pnState){
  RootState *aSt = 0;
  BecFrostDeal *aFd = 0;
  u8 *aDeals = 0;
  int *aSess = 0;
  int nSess = 0, nActive = 0, i, j;
  int rc = session_list(p, &aSess, &nSess);
  *paState = 0;
  *pnState = 0;
  if( rc==SQLITE_OK ){
    aSt = sqlite3_malloc64(sizeof(RootState)*(sqlite3_uint64)(nSess+1));
    aFd = sqlite3_malloc64(sizeof(BecFrostDeal)*NMAX);
    aDeals = sqlite3_malloc64(NMAX*BEC_HASH_BYTES);
    if( aSt==0 || aFd==0 || aDeals==0 ) rc = SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<nSess; i++){
    RootState *s = &aSt[i];
    int bAb = 0, bValid = 1, nComplete = 0;
    memset(s, 0, sizeof(*s));
    s->iSess = aSess[2*i];
    s->n = aSess[2*i+1];
    rc = session_abandoned(p, s->iSess, 0, &bAb);
    if( rc==SQLITE_OK ) rc = open_valid(p, s->iSess, &bValid);
    if( rc==SQLITE_OK ){
      rc = session_tally(p, s->iSess, s->n, 0, &nComplete, s->aT, s->aY,
                         aDeals, s->abConf);
    }
    if( rc ) break;
    if( bAb ){
      s->zState = "abandoned";
    }else if( !bValid ){
      s->zState = "disabled";   /* the creator's open is invalid: void */
    }else if( nComplete==0 ){
      s->zState = "generating";
    }else if( nComplete>1 ){
      s->zState = "disabled";
    }else{
      char *zWhy = 0;
      s->zState = "active";
      s->bActive = 1;
      nActive++;
      for(j=0; rc==SQLITE_OK && j<s->n; j++){
        int x = 0, iS = 0;
        rc = deal_find(p, &aDeals[j*BEC_HASH_BYTES], &x, &iS, &aFd[j]);
        if( rc==SQLITE_OK && x==0 ) rc = SQLITE_CORRUPT;
      }
      if( rc==SQLITE_OK
       && bec_frost_dkg_public(aFd, s->n, s->aY, s->aPk, &zWhy) ){
        rc = SQLITE_CORRUPT;    /* every ack's Y was checked on acceptance */
      }
      sqlite3_free(zWhy);
    }
  }
  if( rc==SQLITE_OK && nActive>1 ){
    /* Two complete sessions that are not abandoned (concurrent creator
    ** opens): neither acts. */
    for(i=0; i<nSess; i++){
      if( aSt[i].bActive ){
        aSt[i].bActive = 0;
        aSt[i].zState = "disabled";
      }
    }
  }
  sqlite3_free(aSess);
  sqlite3_free(aFd);
  sqlite3_free(aDeals);
  if( rc ){
    sqlite3_free(aSt);
  }else{
    *paState = aSt;
    *pnState = nSess;
  }
  return rc;
}

/* Writes the computed states, or with pProblems compares them with the
** stored ones and appends what differs. */
static int apply_states(BecCtx *p, const RootState *aSt, int nSt,
                        BecBuf *pProblems, int *pnProblem){
  sqlite3_stmt *pStmt = 0;
  int rc = SQLITE_OK, i, j;
  for(i=0; rc==SQLITE_OK && i<nSt; i++){
    const RootState *s = &aSt[i];
    if( pProblems==0 ){
      rc = bec_ctx_stmt(p, "UPDATE bec_store_root_session SET state=?2, "
                           "group_key=?3, transcript=?4 WHERE seq=?1", &pStmt);
      if( rc ) break;
      sqlite3_bind_int(pStmt, 1, s->iSess);
      sqlite3_bind_text(pStmt, 2, s->zState, -1, SQLITE_STATIC);
      if( s->bActive ){
        sqlite3_bind_blob(pStmt, 3, s->aY, PT, SQLITE_STATIC);
        sqlite3_bind_blob(pStmt, 4, s->aT, BEC_HASH_BYTES, SQLITE_STATIC);
      }
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
      for(j=1; rc==SQLITE_OK && j<=s->n; j++){
        rc = bec_ctx_stmt(p, "UPDATE bec_store_root_holder SET confirmed=?3, "
                             "share_key=?4 WHERE session=?1 AND id=?2", &pStmt);
        if( rc ) break;
        sqlite3_bind_int(pStmt, 1, s->iSess);
        sqlite3_bind_int(pStmt, 2, j);
        sqlite3_bind_int(pStmt, 3, s->abConf[j]);
        if( s->bActive ) sqlite3_bind_blob(pStmt, 4, s->aPk[j-1], PT, SQLITE_STATIC);
        sqlite3_step(pStmt);
        rc = sqlite3_reset(pStmt);
      }
    }else{
      int bSame = 0;
      rc = bec_ctx_stmt(p, "SELECT state=?2 AND group_key IS ?3 AND "
                           "transcript IS ?4 FROM bec_store_root_session "
                           "WHERE seq=?1", &pStmt);
      if( rc ) break;
      sqlite3_bind_int(pStmt, 1, s->iSess);
      sqlite3_bind_text(pStmt, 2, s->zState, -1, SQLITE_STATIC);
      if( s->bActive ){
        sqlite3_bind_blob(pStmt, 3, s->aY, PT, SQLITE_STATIC);
        sqlite3_bind_blob(pStmt, 4, s->aT, BEC_HASH_BYTES, SQLITE_STATIC);
      }
      if( sqlite3_step(pStmt)==SQLITE_ROW ) bSame = sqlite3_column_int(pStmt, 0);
      rc = sqlite3_reset(pStmt);
      for(j=1; rc==SQLITE_OK && bSame && j<=s->n; j++){
        rc = bec_ctx_stmt(p, "SELECT confirmed=?3 AND share_key IS ?4 FROM "
                             "bec_store_root_holder WHERE session=?1 AND id=?2",
                          &pStmt);
        if( rc ) break;
        sqlite3_bind_int(pStmt, 1, s->iSess);
        sqlite3_bind_int(pStmt, 2, j);
        sqlite3_bind_int(pStmt, 3, s->abConf[j]);
        if( s->bActive ) sqlite3_bind_blob(pStmt, 4, s->aPk[j-1], PT, SQLITE_STATIC);
        bSame = sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_int(pStmt, 0);
        rc = sqlite3_reset(pStmt);
      }
      if( rc==SQLITE_OK && !bSame ){
        bec_buf_appendf(pProblems, &rc, "%sroot: session of op %d is stored "
                        "differently from its recomputed state (%s)",
                        *pnProblem ? "\n" : "", s->iSess, s->zState);
        (*pnProblem)++;
      }
    }
  }
  return rc;
}

static int refresh(BecCtx *p){
  RootState *aSt = 0;
  int nSt = 0;
  int rc = compute_states(p, &aSt, &nSt);
  if( rc==SQLITE_OK ) rc = apply_states(p, aSt, nSt, 0, 0);
  sqlite3_free(aSt);
  return rc;
}

/* xValidity: a session's state follows the validity of its open. */
static int root_validity(BecCtx *p, const int *aSeq, int n, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = SQLITE_OK, i, bOpen = 0;
  for(i=0; rc==SQLITE_OK && !bOpen && i<n; i++){
    rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_root_session WHERE seq=?1",
                      &pStmt);
    if( rc ) break;
    sqlite3_bind_int(pStmt, 1, aSeq[i]);
    bOpen = sqlite3_step(pStmt)==SQLITE_ROW;
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK && bOpen ) rc = refresh(p);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot derive the root: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

static int root_schema(BecCtx *p, char **pzErr){
  return bec_ctx_exec(p, zRootSchema, pzErr);
}

/* Runs a cached statement with up to three bound values: an int, and two
** blobs (0: NULL). */
static int run3(BecCtx *p, const char *zSql, int i1, int i2, int i3,
                const u8 *a4, int n4, const u8 *a5, int n5){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, zSql, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, i1);
  sqlite3_bind_int(pStmt, 2, i2);
  sqlite3_bind_int(pStmt, 3, i3);
  if( a4 ) sqlite3_bind_blob(pStmt, 4, a4, n4, SQLITE_STATIC);
  if( a5 ) sqlite3_bind_blob(pStmt, 5, a5, n5, SQLITE_STATIC);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

static int stored_open(BecCtx *p, int iSeq, const BecOp *pOp){
  RootOpen o;
  BecGraph *g = 0;
  u8 *aMark = 0;
  int *aSess = 0;
  int nSess = 0, i, rc;
  if( open_decode(pOp->aPayload, pOp->nPayload, &o, 0) ) return SQLITE_CORRUPT;
  rc = run3(p, "INSERT INTO bec_store_root_session(seq, k, n, epoch, sid) "
               "VALUES(?1, ?2, ?3, 1, ?4)", iSeq, o.k, o.n,
            pOp->aId, BEC_HASH_BYTES, 0, 0);
  for(i=0; rc==SQLITE_OK && i<o.n; i++){
    rc = run3(p, "INSERT INTO bec_store_root_holder(session, id, confirmed, pk)"
                 " VALUES(?1, ?2, ?3, ?4)", iSeq, i+1, 0,
              &o.aPk[i*BEC_PUBKEY_BYTES], BEC_PUBKEY_BYTES, 0, 0);
  }
  /* Every earlier session in this open's causal past is abandoned by it. */
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, 0);
  if( rc==SQLITE_OK ){
    rc = bec_graph_past(g, BEC_NODE_PREDS(g, iSeq), g->aNode[iSeq].nPred,
                        &aMark);
  }
  if( rc==SQLITE_OK ) rc = session_list(p, &aSess, &nSess);
  for(i=0; rc==SQLITE_OK && i<nSess; i++){
    if( aSess[2*i]<iSeq && aMark[aSess[2*i]] ){
      rc = run3(p, "INSERT INTO bec_store_root_abandon(session, by) "
                   "VALUES(?1, ?2)", aSess[2*i], iSeq, 0, 0, 0, 0, 0);
    }
  }
  sqlite3_free(aMark);
  sqlite3_free(aSess);
  return rc;
}

/* xStored: record the op's facts, then recompute the sessions' states. */
static int root_stored(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  int rc = SQLITE_OK, iSess = 0, k = 0, n = 0;
  if( pOp->kind==BEC_KIND_ROOT_OPEN ){
    rc = stored_open(p, iSeq, pOp);
  }else if( pOp->kind==BEC_KIND_DKG_DEAL ){
    RootDeal d;
    if( deal_decode(pOp->aPayload, pOp->nPayload, &d, 0) ) rc = SQLITE_CORRUPT;
    if( rc==SQLITE_OK ) rc = session_find(p, d.aSid, &iSess, &k, &n);
    if( rc==SQLITE_OK ){
      rc = run3(p, "INSERT INTO bec_store_root_deal(seq, session, dealer, hash,"
                   " phi) VALUES(?1, ?2, ?3, ?4, ?5)", iSeq, iSess, d.id,
                pOp->aId, BEC_HASH_BYTES, d.aPhi, d.k*PT);
    }
  }else{
    RootAck a;
    u8 aT[BEC_HASH_BYTES];
    if( ack_decode(pOp->aPayload, pOp->nPayload, &a, 0) ) rc = SQLITE_CORRUPT;
    if( rc==SQLITE_OK ) rc = session_find(p, a.aSid, &iSess, &k, &n);
    if( rc==SQLITE_OK ) rc = transcript_hash(a.aSid, a.aDeal, a.n, aT);
    if( rc==SQLITE_OK ){
      sqlite3_stmt *pStmt = 0;
      rc = bec_ctx_stmt(p, "INSERT INTO bec_store_root_ack(seq, session, "
                           "holder, transcript, y, deals) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iSeq);
        sqlite3_bind_int(pStmt, 2, iSess);
        sqlite3_bind_int(pStmt, 3, a.id);
        sqlite3_bind_blob(pStmt, 4, aT, BEC_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(pStmt, 5, a.aY, PT, SQLITE_STATIC);
        sqlite3_bind_blob(pStmt, 6, a.aDeal, a.n*BEC_HASH_BYTES, SQLITE_STATIC);
        sqlite3_step(pStmt);
        rc = sqlite3_reset(pStmt);
      }
    }
  }
  if( rc==SQLITE_OK && pOp->kind!=BEC_KIND_DKG_DEAL ) rc = refresh(p);
  if( rc ){
    *pzErr = sqlite3_mprintf("bec: cannot derive the root: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/* xCheck: every root op has its facts, and the states are what the facts
** give. */
static int root_check(BecCtx *p, char **pzProblems, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  RootState *aSt = 0;
  BecBuf out;
  int nSt = 0, nProblem = 0;
  int rc = bec_ctx_stmt(p, "SELECT count(*) FROM bec_store_op o WHERE o.kind "
      "IN (?1, ?2, ?3) AND o.seq NOT IN (SELECT seq FROM bec_store_root_session "
      "UNION ALL SELECT seq FROM bec_store_root_deal UNION ALL SELECT seq FROM "
      "bec_store_root_ack)", &pStmt);
  memset(&out, 0, sizeof(out));
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, BEC_KIND_ROOT_OPEN);
    sqlite3_bind_int(pStmt, 2, BEC_KIND_DKG_DEAL);
    sqlite3_bind_int(pStmt, 3, BEC_KIND_DKG_ACK);
    if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_int(pStmt, 0)>0 ){
      bec_buf_appendf(&out, &rc, "root: %d key-generation ops have no "
                      "derived facts", sqlite3_column_int(pStmt, 0));
      nProblem++;
    }
    if( rc ) sqlite3_reset(pStmt);
    else rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK ) rc = compute_states(p, &aSt, &nSt);
  if( rc==SQLITE_OK ) rc = apply_states(p, aSt, nSt, &out, &nProblem);
  sqlite3_free(aSt);
  if( rc==SQLITE_OK && nProblem ){
    bec_buf_append_u8(&out, 0, &rc);
    if( rc==SQLITE_OK ){
      *pzProblems = (char*)out.a;
      out.a = 0;
    }
  }
  bec_buf_free(&out);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot check the root: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

const BecDeriver bec_root_deriver = {
  "root", BEC_DERIVE_ROOT,
  root_schema, root_admit, root_stored, root_validity, root_check, 0
};

/**************************************************************************
** The local key's part: bec_root_open and bec_root_step.
*/
/* The holders' keys of session iSess in identifier order (n of them). */
static int holder_keys(BecCtx *p, int iSess, int n,
                       u8 (*aPk)[BEC_PUBKEY_BYTES]){
  sqlite3_stmt *pStmt = 0;
  int i = 0;
  int rc = bec_ctx_stmt(p, "SELECT pk FROM bec_store_root_holder WHERE "
                           "session=?1 ORDER BY id", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSess);
  while( sqlite3_step(pStmt)==SQLITE_ROW && i<n ){
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_PUBKEY_BYTES ) break;
    memcpy(aPk[i++], sqlite3_column_blob(pStmt, 0), BEC_PUBKEY_BYTES);
  }
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && i!=n ) rc = SQLITE_CORRUPT;
  return rc;
}

/* 1 in *pb if holder id has a deal (bAck 0) or an ack (bAck 1) stored in
** session iSess. */
static int has_posted(BecCtx *p, int iSess, int id, int bAck, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, bAck
      ? "SELECT 1 FROM bec_store_root_ack WHERE session=?1 AND holder=?2"
      : "SELECT 1 FROM bec_store_root_deal WHERE session=?1 AND dealer=?2",
      &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSess);
  sqlite3_bind_int(pStmt, 2, id);
  *pb = sqlite3_step(pStmt)==SQLITE_ROW;
  return sqlite3_reset(pStmt);
}

/* A session this replica holds a part of. */
typedef struct MySession MySession;
struct MySession {
  int iSess, k, n, id;
  u8 aSid[SID];
};

static int make_deal(BecCtx *p, const u8 *aSecret, const u8 *aGid,
                     const MySession *s, char **pzErr){
  u8 (*aPk)[BEC_PUBKEY_BYTES] = 0;
  BecFrostDeal *pFd = 0;
  u8 *aBoxes = 0;
  u8 aHash[BEC_HASH_BYTES];
  BecBuf b;
  int rc = SQLITE_OK;
  (void)aSecret;
  memset(&b, 0, sizeof(b));
  aPk = sqlite3_malloc64((sqlite3_uint64)s->n*BEC_PUBKEY_BYTES);
  pFd = sqlite3_malloc64(sizeof(*pFd));
  aBoxes = sqlite3_malloc64((sqlite3_uint64)s->n*BOX);
  if( aPk==0 || pFd==0 || aBoxes==0 ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK ) rc = holder_keys(p, s->iSess, s->n, aPk);
  if( rc==SQLITE_OK
   && bec_frost_dkg_deal(aGid, s->aSid, s->id, s->k, s->n,
                         (const u8 (*)[BEC_PUBKEY_BYTES])aPk, pFd, aBoxes) ){
    *pzErr = sqlite3_mprintf("bec_root_step: cannot deal (a holder's key "
                             "has no X25519 form)");
    rc = SQLITE_ERROR;
  }
  bec_buf_append_u8(&b, ROOT_VERSION, &rc);
  bec_buf_append(&b, s->aSid, SID, &rc);
  bec_buf_append_u8(&b, (u8)s->id, &rc);
  bec_buf_append_u8(&b, (u8)s->k, &rc);
  bec_buf_append_u8(&b, (u8)s->n, &rc);
  if( rc==SQLITE_OK ) bec_buf_append(&b, pFd->aPhi, (i64)s->k*PT, &rc);
  if( rc==SQLITE_OK ) bec_buf_append(&b, pFd->aPopR, PT, &rc);
  if( rc==SQLITE_OK ) bec_buf_append(&b, pFd->aPopMu, SC, &rc);
  if( rc==SQLITE_OK ) bec_buf_append(&b, aBoxes, (i64)s->n*BOX, &rc);
  if( rc==SQLITE_OK ){
    rc = bec_dag_append(p, BEC_KIND_DKG_DEAL, b.a, b.n, aHash, pzErr);
  }
  bec_buf_free(&b);
  sqlite3_free(aPk);
  sqlite3_free(pFd);
  sqlite3_free(aBoxes);
  return rc;
}

/* One candidate deal for the ack: its dealer, hash, commitments and the
** body of its op (which holds the boxes). */
typedef struct Cand Cand;
struct Cand {
  int dealer;
  u8 aHash[BEC_HASH_BYTES];
  u8 *aBody;              /* from sqlite3_malloc64 */
  i64 nBody;
  RootDeal d;             /* points into aBody */
};

/* The stored deals of session iSess, by dealer then hash. *paCand from
** sqlite3_malloc64; free with cand_free. */
static int cand_load(BecCtx *p, int iSess, Cand **paCand, int *pnCand){
  sqlite3_stmt *pStmt = 0;
  Cand *aC = 0;
  int nC = 0, nAlloc = 0;
  int rc = bec_ctx_stmt(p, "SELECT d.dealer, d.hash, o.body FROM "
      "bec_store_root_deal d JOIN bec_store_op o ON o.seq=d.seq "
      "WHERE d.session=?1 ORDER BY d.dealer, d.hash", &pStmt);
  *paCand = 0;
  *pnCand = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSess);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    Cand *c;
    BecOp op;
    char *zErr = 0;
    if( nC==nAlloc ){
      Cand *aNew;
      nAlloc = nAlloc ? 2*nAlloc : 16;
      aNew = sqlite3_realloc64(aC, sizeof(Cand)*(sqlite3_uint64)nAlloc);
      if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
      aC = aNew;
    }
    c = &aC[nC];
    memset(c, 0, sizeof(*c));
    c->dealer = sqlite3_column_int(pStmt, 0);
    if( sqlite3_column_bytes(pStmt, 1)!=BEC_HASH_BYTES ){
      rc = SQLITE_CORRUPT;
      break;
    }
    memcpy(c->aHash, sqlite3_column_blob(pStmt, 1), BEC_HASH_BYTES);
    c->nBody = sqlite3_column_bytes(pStmt, 2);
    c->aBody = sqlite3_malloc64((sqlite3_uint64)c->nBody + 1);
    if( c->aBody==0 ){ rc = SQLITE_NOMEM; break; }
    nC++;
    memcpy(c->aBody, sqlite3_column_blob(pStmt, 2), (size_t)c->nBody);
    if( bec_op_decode(c->aBody, c->nBody, &op, &zErr)
     || deal_decode(op.aPayload, op.nPayload, &c->d, 0) ){
      rc = SQLITE_CORRUPT;
    }
    sqlite3_free(zErr);
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  *paCand = aC;
  *pnCand = nC;
  return rc;
}

static void cand_free(Cand *aC, int nC){
  int i;
  for(i=0; i<nC; i++) sqlite3_free(aC[i].aBody);
  sqlite3_free(aC);
}

/* Opens this holder's boxes, one deal per dealer (the first by hash whose
** box checks out), and acks.  A dealer whose box fails is logged in
** bec_rejected; with no good deal left from some dealer, no ack. */
static int make_ack(BecCtx *p, const u8 *aSecret, const MySession *s,
                    int *pnMade, char **pzErr){
  Cand *aC = 0;
  BecFrostDeal *aFd = 0;
  BecFrostKey key;
  int aPick[NMAX+1];                  /* index into aC of dealer i's deal */
  const u8 *apBox[NMAX];
  int nC = 0, i, bDone = 0;
  int rc = cand_load(p, s->iSess, &aC, &nC);
  if( rc==SQLITE_OK ){
    aFd = sqlite3_malloc64(sizeof(BecFrostDeal)*(sqlite3_uint64)s->n);
    if( aFd==0 ) rc = SQLITE_NOMEM;
  }
  for(i=1; i<=s->n; i++) aPick[i] = -1;
  for(i=nC-1; rc==SQLITE_OK && i>=0; i--){
    if( aC[i].d.n!=s->n || aC[i].d.k!=s->k ){
      rc = SQLITE_CORRUPT;      /* acceptance checked both against the open */
    }else if( aC[i].dealer>=1 && aC[i].dealer<=s->n ){
      aPick[aC[i].dealer] = i;
    }
  }
  for(i=1; i<=s->n; i++) if( aPick[i]<0 ) bDone = 1;  /* a deal is missing */
  while( rc==SQLITE_OK && !bDone ){
    int iBad = 0;
    char *zWhy = 0;
    for(i=1; i<=s->n; i++){
      const Cand *c = &aC[aPick[i]];
      memset(&aFd[i-1], 0, sizeof(BecFrostDeal));
      aFd[i-1].id = i;
      aFd[i-1].k = c->d.k;
      memcpy(aFd[i-1].aPhi, c->d.aPhi, (size_t)c->d.k*PT);
      apBox[i-1] = &c->d.aBox[(s->id-1)*BOX];
    }
    if( bec_frost_dkg_finish(s->aSid, s->id, aFd, s->n, apBox, aSecret, &key,
                             &iBad, &zWhy)==SQLITE_OK ){
      BecBuf b;
      u8 aHash[BEC_HASH_BYTES];
      memset(&b, 0, sizeof(b));
      bec_buf_append_u8(&b, ROOT_VERSION, &rc);
      bec_buf_append(&b, s->aSid, SID, &rc);
      bec_buf_append_u8(&b, (u8)s->id, &rc);
      bec_buf_append_u8(&b, (u8)s->n, &rc);
      for(i=1; i<=s->n; i++){
        bec_buf_append(&b, aC[aPick[i]].aHash, BEC_HASH_BYTES, &rc);
      }
      bec_buf_append(&b, key.aY, PT, &rc);
      bec_crypto_wipe(&key, sizeof(key));    /* s_j is never kept */
      if( rc==SQLITE_OK ){
        rc = bec_dag_append(p, BEC_KIND_DKG_ACK, b.a, b.n, aHash, pzErr);
      }
      if( rc==SQLITE_OK ) (*pnMade)++;
      bec_buf_free(&b);
      bDone = 1;
    }else if( iBad>=1 && iBad<=s->n ){
      char *zReason = sqlite3_mprintf("dkg: bad share from holder %d", iBad);
      if( zReason==0 ) rc = SQLITE_NOMEM;
      else rc = bec_dag_note_rejection(p, aC[aPick[iBad]].aHash, zReason);
      sqlite3_free(zReason);
      /* That dealer's next deal, if it posted another. */
      if( aPick[iBad]+1<nC && aC[aPick[iBad]+1].dealer==iBad ) aPick[iBad]++;
      else bDone = 1;
    }else{
      bDone = 1;          /* the shares disagree as a whole: no ack */
    }
    sqlite3_free(zWhy);
  }
  cand_free(aC, nC);
  sqlite3_free(aFd);
  return rc;
}

/* The sessions not yet active in which this replica's key is a holder. */
static int my_sessions(BecCtx *p, MySession **paS, int *pnS){
  sqlite3_stmt *pStmt = 0;
  BecBuf b;
  int rc = bec_ctx_stmt(p, "SELECT s.seq, s.k, s.n, h.id, s.sid FROM "
      "bec_store_root_session s JOIN bec_store_root_holder h "
      "ON h.session=s.seq WHERE s.state='generating' AND h.pk=?1 "
      "ORDER BY s.seq", &pStmt);
  memset(&b, 0, sizeof(b));
  *paS = 0;
  *pnS = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, p->aPub, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    MySession s;
    memset(&s, 0, sizeof(s));
    s.iSess = sqlite3_column_int(pStmt, 0);
    s.k = sqlite3_column_int(pStmt, 1);
    s.n = sqlite3_column_int(pStmt, 2);
    s.id = sqlite3_column_int(pStmt, 3);
    if( sqlite3_column_bytes(pStmt, 4)!=SID ){
      rc = SQLITE_CORRUPT;
      break;
    }
    memcpy(s.aSid, sqlite3_column_blob(pStmt, 4), SID);
    bec_buf_append(&b, &s, sizeof(s), &rc);
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK ){
    *paS = (MySession*)b.a;
    *pnS = (int)(b.n/(i64)sizeof(MySession));
  }else{
    bec_buf_free(&b);
  }
  return rc;
}

/* bec_root_step(): the deal and the ack due from this replica's key in
** every generating session; returns the number of ops made. */
static void fnRootStep(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  const u8 *aSecret = 0;
  u8 aGid[BEC_HASH_BYTES];
  MySession *aS = 0;
  char *zErr = 0;
  int nS = 0, nMade = 0, i;
  int rc = bec_dag_ensure_schema(p, &zErr);
  (void)argc; (void)argv;
  if( rc==SQLITE_OK ) rc = bec_dag_secret(p, &aSecret, &zErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, aGid, &zErr);
  if( rc==SQLITE_OK ){
    BecGraph *g = 0;
    rc = bec_graph_get(p, &g, &zErr);    /* drops stale caches first */
  }
  if( rc==SQLITE_OK ) rc = my_sessions(p, &aS, &nS);
  for(i=0; rc==SQLITE_OK && i<nS; i++){
    int bDealt = 0, bAcked = 0;
    rc = has_posted(p, aS[i].iSess, aS[i].id, 0, &bDealt);
    if( rc==SQLITE_OK && !bDealt ){
      rc = make_deal(p, aSecret, aGid, &aS[i], &zErr);
      if( rc==SQLITE_OK ) nMade++;
    }
    if( rc==SQLITE_OK ) rc = has_posted(p, aS[i].iSess, aS[i].id, 1, &bAcked);
    if( rc==SQLITE_OK && !bAcked ) rc = make_ack(p, aSecret, &aS[i], &nMade, &zErr);
  }
  sqlite3_free(aS);
  if( rc ){
    if( zErr && strncmp(zErr, "bec_root_step", 13) ){
      char *z = sqlite3_mprintf("bec_root_step: %s", zErr);
      sqlite3_free(zErr);
      zErr = z;
    }else if( zErr==0 ){
      zErr = sqlite3_mprintf("bec_root_step: %s", bec_rc_text(p->db, rc));
    }
    bec_fn_error(ctx, rc, zErr);
  }else{
    sqlite3_result_int(ctx, nMade);
  }
}

static int cmp_key(const void *a, const void *b){
  return memcmp(a, b, BEC_PUBKEY_BYTES);
}

/* The checks of bec_root_open that depend on this replica's view: the
** caller created the group, every holder is a current member, and no root
** is active. */
static int open_local_check(BecCtx *p, const u8 *aPk, int n, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  const u8 *aCreator;
  int rc = bec_graph_get(p, &g, pzErr);
  int i, bActive = 0;
  if( rc ) return rc;
  aCreator = creator_key(g);
  if( aCreator==0 || memcmp(aCreator, p->aPub, BEC_PUBKEY_BYTES) ){
    *pzErr = sqlite3_mprintf("bec_root_open: only the group's creator may "
                             "open a root");
    return SQLITE_AUTH;
  }
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int bMember = 0;
    rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_member WHERE pubkey=?1",
                      &pStmt);
    if( rc ) break;
    sqlite3_bind_blob(pStmt, 1, &aPk[i*BEC_PUBKEY_BYTES], BEC_PUBKEY_BYTES,
                      SQLITE_STATIC);
    bMember = sqlite3_step(pStmt)==SQLITE_ROW;
    rc = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK && !bMember ){
      char z[17];
      bec_hex_encode(&aPk[i*BEC_PUBKEY_BYTES], 8, z);
      *pzErr = sqlite3_mprintf("bec_root_open: holder %s... is not a current "
                               "member", z);
      rc = SQLITE_CONSTRAINT;
    }
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_root_session WHERE "
                         "state='active'", &pStmt);
    if( rc==SQLITE_OK ){
      bActive = sqlite3_step(pStmt)==SQLITE_ROW;
      rc = sqlite3_reset(pStmt);
    }
    if( rc==SQLITE_OK && bActive ){
      *pzErr = sqlite3_mprintf("bec_root_open: a root is active; only the "
                               "root changes its holders");
      rc = SQLITE_CONSTRAINT;
    }
  }
  return rc;
}

/* bec_root_open(k, json_array(pk, ...)): the creator's root-open op;
** returns the session id. */
static void fnRootOpen(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  sqlite3_stmt *pStmt = 0;
  u8 aPk[NMAX*BEC_PUBKEY_BYTES];
  u8 aHash[BEC_HASH_BYTES];
  BecBuf b;
  char *zErr = 0;
  int n = 0, i, k, rc = SQLITE_OK;
  (void)argc;
  memset(&b, 0, sizeof(b));
  if( sqlite3_value_type(argv[0])!=SQLITE_INTEGER ){
    bec_fn_error(ctx, SQLITE_MISUSE, sqlite3_mprintf("bec_root_open: k must "
                 "be an integer"));
    return;
  }
  k = (int)sqlite3_value_int64(argv[0]);
  if( sqlite3_value_int64(argv[0])!=k ) k = 0;
  /* The list: a JSON array of 64-hex keys, read with SQLite's json_each. */
  rc = sqlite3_prepare_v2(p->db, "SELECT type, value FROM json_each(?1)", -1,
                          &pStmt, 0);
  if( rc==SQLITE_OK ){
    sqlite3_bind_value(pStmt, 1, argv[1]);
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      const char *zType = (const char*)sqlite3_column_text(pStmt, 0);
      if( n>=NMAX ){
        zErr = sqlite3_mprintf("bec_root_open: more than %d holders", NMAX);
        break;
      }
      if( zType==0 || strcmp(zType, "text")
       || !bec_fn_arg32(sqlite3_column_value(pStmt, 1),
                        &aPk[n*BEC_PUBKEY_BYTES]) ){
        zErr = sqlite3_mprintf("bec_root_open: holder %d is not a public key "
                               "(64 hex characters)", n+1);
        break;
      }
      n++;
    }
    rc = sqlite3_finalize(pStmt);
    if( rc && zErr==0 ){
      zErr = sqlite3_mprintf("bec_root_open: the holders must be a JSON array"
                             " of public keys: %s", sqlite3_errmsg(p->db));
    }
  }
  if( zErr ){
    bec_fn_error(ctx, rc ? rc : SQLITE_MISUSE, zErr);
    return;
  }
  if( rc ){
    bec_fn_error(ctx, rc, 0);
    return;
  }
  qsort(aPk, (size_t)n, BEC_PUBKEY_BYTES, cmp_key);
  for(i=1; i<n; i++){
    if( memcmp(&aPk[(i-1)*BEC_PUBKEY_BYTES], &aPk[i*BEC_PUBKEY_BYTES],
               BEC_PUBKEY_BYTES)==0 ){
      bec_fn_error(ctx, SQLITE_MISUSE, sqlite3_mprintf("bec_root_open: a "
                   "holder is named twice"));
      return;
    }
  }
  if( !bounds_ok(k, n) ){
    bec_fn_error(ctx, SQLITE_MISUSE, sqlite3_mprintf("bec_root_open: %d-of-%d:"
                 " need 2 <= k <= n <= %d and 2k > n", k, n, NMAX));
    return;
  }
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = open_local_check(p, aPk, n, &zErr);
  bec_buf_append_u8(&b, ROOT_VERSION, &rc);
  bec_buf_append_u8(&b, (u8)k, &rc);
  bec_buf_append_u8(&b, (u8)n, &rc);
  bec_buf_append(&b, aPk, (i64)n*BEC_PUBKEY_BYTES, &rc);
  if( rc==SQLITE_OK ){
    rc = bec_dag_append(p, BEC_KIND_ROOT_OPEN, b.a, b.n, aHash, &zErr);
  }
  bec_buf_free(&b);
  if( rc ) bec_fn_error(ctx, rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

#define HEXOR(x) "CASE WHEN " x " IS NULL THEN NULL ELSE lower(hex(" x ")) END"

/* bec_root: the sessions that are not abandoned. */
static const BecTableDef rootTable = {
  "bec_root",
  "CREATE TABLE x(session TEXT, epoch INTEGER, k INTEGER, n INTEGER,"
  " group_key TEXT, state TEXT)",
  "SELECT lower(hex(sid)), epoch, k, n, " HEXOR("group_key") ", state"
  " FROM bec_store_root_session WHERE state<>'abandoned'",
  "ORDER BY seq",
  { { 0, 1, "sid=?" } },
  0, 0 };

/* bec_root_holders: the holders of those sessions. */
static const BecTableDef holderTable = {
  "bec_root_holders",
  "CREATE TABLE x(session TEXT, id INTEGER, pk TEXT, confirmed INTEGER,"
  " share_key TEXT)",
  "SELECT lower(hex(s.sid)), h.id, lower(hex(h.pk)), h.confirmed, "
  HEXOR("h.share_key")
  " FROM bec_store_root_session s JOIN bec_store_root_holder h"
  " ON h.session=s.seq WHERE s.state<>'abandoned'",
  "ORDER BY s.seq, h.id",
  { { 0, 1, "s.sid=?" } },
  0, 0 };

int bec_root_register(sqlite3 *db, BecCtx *p){
  static const BecFunc aFunc[] = {
    { "bec_root_open", 2, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRootOpen },
    { "bec_root_step", 0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRootStep },
  };
  int rc = bec_ctx_register_funcs(db, p, aFunc,
                                  (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table(db, p, &rootTable);
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table(db, p, &holderTable);
  return rc;
}
