/*
** bec_root.c - the threshold root: the key generation runs as ops in the
** DAG (THRESHOLD.md section 3), then k holders sign root ops (section 4,
** "Signing" below) and hand the root over to new holders (section 5);
** docs/root.md for users.
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
** complete; else 'generating'.  (Abandoned means: by an open that is
** valid.)  Whether a root op acts is the membership rules' call: this file
** gives them each root op's lineage and each creator session's state
** (bec_root_facts, BecCtx.xRootFacts) and tells them when those change
** (bec_member_root_changed).
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
  "  PRIMARY KEY(session, by)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_root_request("
  "  seq INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, args BLOB NOT NULL);"
  "CREATE TABLE IF NOT EXISTS bec_store_root_commit("
  "  seq INTEGER PRIMARY KEY, request INTEGER NOT NULL,"
  "  holder INTEGER NOT NULL, d BLOB NOT NULL, e BLOB NOT NULL);"
  "CREATE INDEX IF NOT EXISTS bec_store_root_commit_request"
  "  ON bec_store_root_commit(request, holder);"
  "CREATE TABLE IF NOT EXISTS bec_store_root_signing("
  "  seq INTEGER PRIMARY KEY, request INTEGER NOT NULL);"
  "CREATE TABLE IF NOT EXISTS bec_store_root_signer("
  "  signing INTEGER NOT NULL, holder INTEGER NOT NULL,"
  "  commit_seq INTEGER NOT NULL, PRIMARY KEY(signing, holder)) WITHOUT ROWID;"
  "CREATE INDEX IF NOT EXISTS bec_store_root_signer_commit"
  "  ON bec_store_root_signer(commit_seq);"
  "CREATE TABLE IF NOT EXISTS bec_store_root_share("
  "  seq INTEGER PRIMARY KEY, signing INTEGER NOT NULL,"
  "  holder INTEGER NOT NULL, z BLOB NOT NULL);"
  "CREATE INDEX IF NOT EXISTS bec_store_root_share_signing"
  "  ON bec_store_root_share(signing, holder);"
  "CREATE TABLE IF NOT EXISTS bec_store_root_done("
  "  seq INTEGER PRIMARY KEY, signing INTEGER NOT NULL,"
  "  request INTEGER NOT NULL);"
  /* Not derived: this replica's unused nonce pairs, sealed under a key
  ** derived from its identity key (bec_crypto_local_seal), keyed by the id
  ** of the op that published their commitment. */
  "CREATE TABLE IF NOT EXISTS bec_store_root_nonce("
  "  commit_id BLOB PRIMARY KEY, sealed BLOB NOT NULL) WITHOUT ROWID;";

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

/* Every session (bOpened: only those the creator opened, epoch 1), as
** (seq, n) pairs: *paSess from sqlite3_malloc64 (2 ints each; the caller
** frees it). */
static int session_list(BecCtx *p, int bOpened, int **paSess, int *pnSess){
  sqlite3_stmt *pStmt = 0;
  BecBuf b;
  int rc = bec_ctx_stmt(p, bOpened
      ? "SELECT seq, n FROM bec_store_root_session WHERE epoch=1 ORDER BY seq"
      : "SELECT seq, n FROM bec_store_root_session ORDER BY seq", &pStmt);
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

/* The ints of the first row of a cached query with one int parameter (*pb 0 if
** no row). */
static int query_ints(BecCtx *p, const char *zSql, int iParam, int nOut,
                      int *aOut, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc, i;
  for(i=0; i<nOut; i++) aOut[i] = 0;
  *pb = 0;
  rc = bec_ctx_stmt(p, zSql, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iParam);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *pb = 1;
    for(i=0; i<nOut; i++) aOut[i] = sqlite3_column_int(pStmt, i);
  }
  return sqlite3_reset(pStmt);
}

/* The hand-overs from epoch iSess in the past aMark (0: every stored op):
** root ops of a 'holders' request of that epoch.  *pnNext: how many
** distinct successor sessions they name; *piNext: the first of them. */
static int handover_next(BecCtx *p, int iSess, const u8 *aMark, int *piNext,
                         int *pnNext){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT d.seq, d.request FROM bec_store_root_done d"
      " JOIN bec_store_root_request r ON r.seq=d.request WHERE r.epoch=?1"
      " AND substr(r.args, 1, 1)=x'05' ORDER BY d.request", &pStmt);
  int iLast = 0;
  *piNext = 0;
  *pnNext = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSess);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0), r = sqlite3_column_int(pStmt, 1);
    if( aMark && aMark[x]==0 ) continue;
    if( r!=iLast ){                    /* rows come ordered by request */
      if( (*pnNext)++==0 ) *piNext = r;
      iLast = r;
    }
  }
  return sqlite3_reset(pStmt);
}

/* The one session active in the past aMark (0: every stored op), in
** *piActive (0 if none): its open and one complete transcript of acks are
** in it, it is not abandoned there, and no other session is complete there
** too (that would disable both).  aY and aDeals (n*32; either may be 0)
** receive its group key and transcript. */
static int active_in_past(BecCtx *p, const u8 *aMark, int *piActive,
                          u8 *aYOut, u8 *aDealsOut){
  u8 aT[BEC_HASH_BYTES], aY[PT], aConf[NMAX+1];
  u8 *aDeals = sqlite3_malloc64(NMAX*BEC_HASH_BYTES);
  int *aSess = 0;
  int nSess = 0, nActive = 0, iLast = 0, i;
  int rc = aDeals ? session_list(p, 1, &aSess, &nSess) : SQLITE_NOMEM;
  for(i=0; rc==SQLITE_OK && i<nSess; i++){
    int iSess = aSess[2*i], n = aSess[2*i+1], bAb = 0, nComplete = 0;
    if( aMark && aMark[iSess]==0 ) continue;
    rc = session_abandoned(p, iSess, aMark, &bAb);
    if( rc==SQLITE_OK && !bAb ){
      rc = session_tally(p, iSess, n, aMark, &nComplete, aT, aY, aDeals, aConf);
    }
    if( rc==SQLITE_OK && nComplete==1 ){
      nActive++;
      iLast = iSess;
      if( aYOut ) memcpy(aYOut, aY, PT);
      if( aDealsOut ) memcpy(aDealsOut, aDeals, (size_t)n*BEC_HASH_BYTES);
    }
  }
  *piActive = nActive==1 ? iLast : 0;
  /* Then the hand-overs in that past (THRESHOLD.md 5): one from the active
  ** epoch makes its successor active; two (to different successors) are
  ** a fork, and no epoch is active. */
  while( rc==SQLITE_OK && *piActive ){
    int iNext = 0, nNext = 0, n = 0, nComplete = 0;
    rc = handover_next(p, *piActive, aMark, &iNext, &nNext);
    if( rc || nNext==0 ) break;
    *piActive = 0;
    if( nNext>1 ) break;
    rc = query_ints(p, "SELECT n FROM bec_store_root_session WHERE seq=?1",
                    iNext, 1, &n, &nComplete);
    if( rc==SQLITE_OK && nComplete ){
      rc = session_tally(p, iNext, n, aMark, &nComplete, aT, aY, aDeals, aConf);
    }
    if( rc==SQLITE_OK && nComplete==1 ){
      *piActive = iNext;
      if( aYOut ) memcpy(aYOut, aY, PT);
      if( aDealsOut ) memcpy(aDealsOut, aDeals, (size_t)n*BEC_HASH_BYTES);
    }
  }
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

/* A payload that does not decode: malformed, the same everywhere (zWhy,
** from its decoder, is taken over). */
static int malformed(BecVerdict *pV, const char *zKind, char *zWhy){
  bec_verdict_set(pV, SQLITE_ERROR, "malformed: %s: %s", zKind,
                  zWhy ? zWhy : "bad payload");
  sqlite3_free(zWhy);
  return SQLITE_OK;
}

static int admit_open(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                      const u8 *aMark, BecVerdict *pV){
  RootOpen o;
  char *zWhy = 0;
  const u8 *aCreator = creator_key(g);
  int iActive = 0, rc;
  if( open_decode(pOp->aPayload, pOp->nPayload, &o, &zWhy) ){
    return malformed(pV, "root-open", zWhy);
  }
  if( aCreator==0 || memcmp(aCreator, pOp->aAuthor, BEC_PUBKEY_BYTES) ){
    bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: root-open: only the "
                    "group's creator may open a root");
    return SQLITE_OK;
  }
  rc = active_in_past(p, aMark, &iActive, 0, 0);
  if( rc==SQLITE_OK && iActive ){
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
   || (g->aNode[*piSess].kind!=BEC_KIND_ROOT_OPEN
       && g->aNode[*piSess].kind!=BEC_KIND_ROOT_REQUEST) ){
    bec_verdict_set(pV, SQLITE_ERROR, "%s: its session is no root-open in "
                    "the op's causal past (nor a 'holders' request)", zKind);
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

/**************************************************************************
** Signing (THRESHOLD.md 4): requests, approvals, sessions, shares and the
** root op.  Payloads:
**
**   root-request  version(1) epoch(32) i(u8) D(32) E(32) args(34)
**   root-approve  version(1) request(32) i(u8) D(32) E(32)
**   root-session  version(1) request(32) m(u8) commit[m](32)
**   root-share    version(1) session(32) i(u8) z(32)
**   root          version(1) args(34) epoch(32) request(32)
**
** args = action(u8: 1 add, 2 remove, 3 role, 4 restore, 5 holders,
** 6 attest) target(32) role(u8; 0 for remove, holders and attest): the
** bytes the root op copies, which bec_codec.c reads as its target and role
** (holders and attest have none).  An attest's target is a checkpoint id
** and its request and root op end with the digest R (32) it attests
** (docs/compaction.md "Sealing by the root").  epoch is the key
** generation's session id; a request or an approve is a *commitment*
** (i, D, E) of holder i; commit[] names m = k commitment ops of one
** request, by identifier strictly increasing.  The root op has exactly one predecessor, its
** session op, and its author is the group key Y: it is fully determined
** by the session, so every holder signs the same 73-byte message.
*/
#define ARGS        (2+BEC_PUBKEY_BYTES)
#define ACT_ADD     1
#define ACT_REMOVE  2
#define ACT_ROLE    3
#define ACT_RESTORE 4
#define ACT_HOLDERS 5
#define ACT_ATTEST  6     /* a root attestation of a checkpoint: seals it */
#define ROOT_PAYLOAD_BYTES (1+ARGS+SID+BEC_HASH_BYTES)

typedef struct RootCommit RootCommit;   /* a root-request or root-approve */
struct RootCommit {
  const u8 *aRef; int id; const u8 *aD, *aE, *aArgs;
  RootOpen hold;          /* a 'holders' request: the new k, n and keys */
  const u8 *aDigest;      /* an 'attest' request: the R it attests */
};
typedef struct RootSign RootSign;       /* a root-session */
struct RootSign { const u8 *aReq; int m; const u8 *aCommit; };
typedef struct RootShare RootShare;
struct RootShare { const u8 *aSess; int id; const u8 *aZ; };

static const char *act_name(int eAct){
  switch( eAct ){
    case ACT_ADD:     return "add";
    case ACT_REMOVE:  return "remove";
    case ACT_ROLE:    return "role";
    case ACT_RESTORE: return "restore";
    case ACT_ATTEST:  return "attest";
  }
  return "holders";
}

static int args_check(const u8 *a, char **pzErr){
  static const u8 aZero[BEC_PUBKEY_BYTES] = {0};
  int eAct = a[0], role = a[1+BEC_PUBKEY_BYTES];
  if( eAct<ACT_ADD || eAct>ACT_ATTEST ) return bad(pzErr, "unknown action %d", eAct);
  if( eAct==ACT_ATTEST ){
    /* The target names a checkpoint: acceptance finds it in the past. */
    return role ? bad(pzErr, "action attest with role %d", role) : SQLITE_OK;
  }
  if( eAct==ACT_HOLDERS ){
    if( role || memcmp(&a[1], aZero, BEC_PUBKEY_BYTES) ){
      return bad(pzErr, "action holders with a target or role");
    }
    return SQLITE_OK;
  }
  if( eAct==ACT_REMOVE ? role!=0 : bec_role_name(role)==0 ){
    return bad(pzErr, "action %s with role %d", act_name(eAct), role);
  }
  if( bec_frost_point_check(&a[1]) ){
    return bad(pzErr, "the target is not a valid public key");
  }
  return SQLITE_OK;
}

/* A root-request (bRequest) or root-approve payload. */
static int commit_decode(const u8 *a, i64 nA, int bRequest, RootCommit *pC,
                         char **pzErr){
  BecReader r;
  u8 v = 0, id = 0;
  r.a = a; r.n = nA; r.i = 0;
  memset(pC, 0, sizeof(*pC));
  if( bec_read_u8(&r, &v) || bec_read_bytes(&r, BEC_HASH_BYTES, &pC->aRef)
   || bec_read_u8(&r, &id) || bec_read_bytes(&r, PT, &pC->aD)
   || bec_read_bytes(&r, PT, &pC->aE)
   || (bRequest && bec_read_bytes(&r, ARGS, &pC->aArgs)) ){
    return bad(pzErr, "truncated");
  }
  if( bRequest && pC->aArgs[0]==ACT_HOLDERS ){
    /* The new holders, as a root-open lists them: k, n, sorted keys. */
    int rc = open_decode(&r.a[r.i], r.n-r.i, &pC->hold, pzErr);
    if( rc==SQLITE_OK && r.a[r.i]!=ROOT_VERSION ) rc = BEC_MALFORMED;
    if( rc ) return rc;
    r.i = r.n;
  }
  if( bRequest && pC->aArgs[0]==ACT_ATTEST
   && bec_read_bytes(&r, BEC_HASH_BYTES, &pC->aDigest) ){
    return bad(pzErr, "truncated: an attest request ends with a digest");
  }
  if( r.i!=r.n ){
    return bad(pzErr, "length: %lld bytes, not %d", (long long)nA,
               1+BEC_HASH_BYTES+1+2*PT+(bRequest ? ARGS : 0));
  }
  if( v!=ROOT_VERSION ) return bad(pzErr, "unknown version %d", v);
  if( id<1 || id>NMAX ) return bad(pzErr, "holder %d", id);
  if( bec_frost_point_check(pC->aD) || bec_frost_point_check(pC->aE) ){
    return bad(pzErr, "a nonce commitment is not a valid point");
  }
  pC->id = id;
  return bRequest ? args_check(pC->aArgs, pzErr) : SQLITE_OK;
}

static int sign_decode(const u8 *a, i64 nA, RootSign *pS, char **pzErr){
  BecReader r;
  u8 v = 0, m = 0;
  r.a = a; r.n = nA; r.i = 0;
  if( bec_read_u8(&r, &v) || bec_read_bytes(&r, BEC_HASH_BYTES, &pS->aReq)
   || bec_read_u8(&r, &m) ){
    return bad(pzErr, "truncated");
  }
  if( v!=ROOT_VERSION ) return bad(pzErr, "unknown version %d", v);
  if( m<2 || m>NMAX ) return bad(pzErr, "%d signers (2..%d)", m, NMAX);
  if( bec_read_bytes(&r, (i64)m*BEC_HASH_BYTES, &pS->aCommit) || r.i!=r.n ){
    return bad(pzErr, "length: %d commitments need %d bytes, not %lld", m,
               34+m*BEC_HASH_BYTES, (long long)nA);
  }
  pS->m = m;
  return SQLITE_OK;
}

static int share_decode(const u8 *a, i64 nA, RootShare *pS, char **pzErr){
  BecReader r;
  u8 v = 0, id = 0;
  r.a = a; r.n = nA; r.i = 0;
  if( bec_read_u8(&r, &v) || bec_read_bytes(&r, BEC_HASH_BYTES, &pS->aSess)
   || bec_read_u8(&r, &id) || bec_read_bytes(&r, SC, &pS->aZ) || r.i!=r.n ){
    return bad(pzErr, "length: %lld bytes, not %d", (long long)nA,
               2+BEC_HASH_BYTES+SC);
  }
  if( v!=ROOT_VERSION ) return bad(pzErr, "unknown version %d", v);
  if( id<1 || id>NMAX ) return bad(pzErr, "holder %d", id);
  if( bec_frost_scalar_check(pS->aZ) ){
    return bad(pzErr, "z is not a canonical scalar");
  }
  pS->id = id;
  return SQLITE_OK;
}

/* 1 if node x is in the past aMark (0: anything stored) and of kind. */
static int in_past_kind(const BecGraph *g, const u8 *aMark, int x, int kind){
  return x>=1 && x<=g->nNode && (aMark==0 || aMark[x])
      && g->aNode[x].kind==kind;
}

/* The op aRef names must be an op of kind in the judged op's causal past
** (aMark): *piSeq its seq, or the verdict zWhy when it is not. */
static int ref_in_past(BecCtx *p, const BecGraph *g, const u8 *aMark,
                       const u8 *aRef, int kind, const char *zWhy, int *piSeq,
                       BecVerdict *pV){
  int rc = bec_dag_seq_of(p, aRef, piSeq);
  if( rc==SQLITE_OK && !in_past_kind(g, aMark, *piSeq, kind) ){
    bec_verdict_set(pV, SQLITE_ERROR, "%s", zWhy);
  }
  return rc;
}

/* The epoch (session seq) and args of request iReq; *pb 0 if none. */
static int request_get(BecCtx *p, int iReq, int *piEpoch, u8 *aArgs, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT epoch, args FROM bec_store_root_request "
                           "WHERE seq=?1", &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iReq);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    int nB = sqlite3_column_bytes(pStmt, 1);
    const u8 *aB = (const u8*)sqlite3_column_blob(pStmt, 1);
    if( nB!=ARGS && !(nB==ARGS+BEC_HASH_BYTES && aB[0]==ACT_ATTEST) ){
      rc = SQLITE_CORRUPT;
    }else{
      *pb = 1;
      *piEpoch = sqlite3_column_int(pStmt, 0);
      memcpy(aArgs, aB, ARGS);
    }
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  return rc;
}

/* The digest an 'attest' request iReq attests, into aDigest (32). */
static int request_digest(BecCtx *p, int iReq, u8 *aDigest){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT substr(args, ?2) FROM "
                           "bec_store_root_request WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iReq);
  sqlite3_bind_int(pStmt, 2, ARGS+1);
  if( sqlite3_step(pStmt)!=SQLITE_ROW
   || sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ){
    rc = SQLITE_CORRUPT;
  }else{
    memcpy(aDigest, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  return rc;
}

/* The sid, k and n of session iSess. */
static int session_get(BecCtx *p, int iSess, u8 *aSid, int *pk, int *pn){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT sid, k, n FROM bec_store_root_session "
                           "WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSess);
  if( sqlite3_step(pStmt)!=SQLITE_ROW || sqlite3_column_bytes(pStmt, 0)!=SID ){
    rc = SQLITE_CORRUPT;
  }else{
    memcpy(aSid, sqlite3_column_blob(pStmt, 0), SID);
    *pk = sqlite3_column_int(pStmt, 1);
    *pn = sqlite3_column_int(pStmt, 2);
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  return rc;
}

/* The group key and PK_1..PK_n of epoch iSess as the past aMark (0: every
** stored op) sees it: *pbActive 0 unless iSess is the one active session
** there. */
static int epoch_keys(BecCtx *p, const u8 *aMark, int iSess, int n,
                      int *pbActive, u8 *aY, u8 (*aPk)[PT]){
  u8 aDeals[NMAX*BEC_HASH_BYTES];
  BecFrostDeal *aFd = 0;
  int iActive = 0, j, rc;
  *pbActive = 0;
  rc = active_in_past(p, aMark, &iActive, aY, aDeals);
  if( rc || iActive!=iSess ) return rc;
  aFd = sqlite3_malloc64(sizeof(BecFrostDeal)*NMAX);
  if( aFd==0 ) return SQLITE_NOMEM;
  for(j=0; rc==SQLITE_OK && j<n; j++){
    int x = 0, iS = 0;
    rc = deal_find(p, &aDeals[j*BEC_HASH_BYTES], &x, &iS, &aFd[j]);
    if( rc==SQLITE_OK && x==0 ) rc = SQLITE_CORRUPT;
  }
  if( rc==SQLITE_OK ){
    char *zWhy = 0;
    u8 aY2[PT];
    if( bec_frost_dkg_public(aFd, n, aY2, aPk, &zWhy) || memcmp(aY, aY2, PT) ){
      rc = SQLITE_CORRUPT;        /* the acks' Y was checked on acceptance */
    }
    sqlite3_free(zWhy);
  }
  sqlite3_free(aFd);
  if( rc==SQLITE_OK ) *pbActive = 1;
  return rc;
}

/* The commitments of signing session iSig, by identifier: aList (up to
** NMAX), *pn, and the commit op seqs in aCommit (may be 0). */
static int signers_load(BecCtx *p, int iSig, BecFrostCommit *aList, int *pn,
                        int *aCommit){
  sqlite3_stmt *pStmt = 0;
  int n = 0;
  int rc = bec_ctx_stmt(p, "SELECT s.holder, c.d, c.e, s.commit_seq FROM "
      "bec_store_root_signer s JOIN bec_store_root_commit c "
      "ON c.seq=s.commit_seq WHERE s.signing=?1 ORDER BY s.holder", &pStmt);
  *pn = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSig);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    if( n>=NMAX || sqlite3_column_bytes(pStmt, 1)!=PT
     || sqlite3_column_bytes(pStmt, 2)!=PT ){
      rc = SQLITE_CORRUPT;
      break;
    }
    aList[n].id = sqlite3_column_int(pStmt, 0);
    memcpy(aList[n].aD, sqlite3_column_blob(pStmt, 1), PT);
    memcpy(aList[n].aE, sqlite3_column_blob(pStmt, 2), PT);
    if( aCommit ) aCommit[n] = sqlite3_column_int(pStmt, 3);
    n++;
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  *pn = n;
  return rc;
}

/* The unsigned root op that signing session iSig signs, into pOp (empty),
** and the message its signature covers, aMsg (BEC_OP_MESSAGE_BYTES).
** aY is the epoch's group key. */
static int root_op_build(BecCtx *p, const BecGraph *g, int iSig,
                         const u8 *aY, BecBuf *pOp, u8 *aMsg){
  u8 aGid[BEC_HASH_BYTES], aArgs[ARGS], aSid[SID], aId[BEC_HASH_BYTES];
  u8 aPay[ROOT_PAYLOAD_BYTES], aSigId[BEC_HASH_BYTES];
  int a[1], b = 0, iReq = 0, iEpoch = 0, k = 0, n = 0;
  int rc = bec_dag_group_id(p, aGid, 0);
  if( rc==SQLITE_OK ){
    rc = query_ints(p, "SELECT request FROM bec_store_root_signing "
                       "WHERE seq=?1", iSig, 1, a, &b);
    iReq = a[0];
  }
  if( rc==SQLITE_OK && (!b || iReq<1 || iReq>g->nNode || iSig>g->nNode) ){
    rc = SQLITE_CORRUPT;
  }
  if( rc==SQLITE_OK ) rc = request_get(p, iReq, &iEpoch, aArgs, &b);
  if( rc==SQLITE_OK && !b ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK ) rc = session_get(p, iEpoch, aSid, &k, &n);
  if( rc==SQLITE_OK ) rc = bec_graph_id(g, iReq, &aPay[1+ARGS+SID]);
  if( rc==SQLITE_OK ) rc = bec_graph_id(g, iSig, aSigId);
  if( rc ) return rc;
  aPay[0] = ROOT_VERSION;
  memcpy(&aPay[1], aArgs, ARGS);
  memcpy(&aPay[1+ARGS], aSid, SID);
  if( aArgs[0]==ACT_HOLDERS ){
    /* The hand-over commits to the new key generation's outcome as the
    ** session's past has it: its n deal hashes and Y'. */
    u8 aT[BEC_HASH_BYTES], aY2[PT], aConf[NMAX+1];
    u8 *aMark = 0;
    BecBuf pay;
    int k2 = 0, n2 = 0, nComplete = 0;
    u8 aSid2[SID];
    memset(&pay, 0, sizeof(pay));
    rc = session_get(p, iReq, aSid2, &k2, &n2);
    if( rc==SQLITE_OK ){
      rc = bec_graph_past(g, BEC_NODE_PREDS(g, iSig), g->aNode[iSig].nPred,
                          &aMark);
    }
    bec_buf_append(&pay, aPay, sizeof(aPay), &rc);
    if( rc==SQLITE_OK ){
      u8 aDeals[NMAX*BEC_HASH_BYTES];
      rc = session_tally(p, iReq, n2, aMark, &nComplete, aT, aY2, aDeals,
                         aConf);
      if( rc==SQLITE_OK && nComplete!=1 ) rc = SQLITE_CORRUPT;
      bec_buf_append(&pay, aDeals, (i64)n2*BEC_HASH_BYTES, &rc);
      bec_buf_append(&pay, aY2, PT, &rc);
    }
    bec_op_encode_unsigned(pOp, BEC_KIND_ROOT, aGid, aY, 1,
                           aSigId, pay.a, pay.n, &rc);
    bec_buf_free(&pay);
    sqlite3_free(aMark);
  }else if( aArgs[0]==ACT_ATTEST ){
    /* A root attestation carries the digest its request names. */
    u8 aFull[ROOT_PAYLOAD_BYTES+BEC_HASH_BYTES];
    memcpy(aFull, aPay, sizeof(aPay));
    rc = request_digest(p, iReq, &aFull[sizeof(aPay)]);
    bec_op_encode_unsigned(pOp, BEC_KIND_ROOT, aGid, aY, 1,
                           aSigId, aFull, sizeof(aFull), &rc);
  }else{
    bec_op_encode_unsigned(pOp, BEC_KIND_ROOT, aGid, aY, 1,
                           aSigId, aPay, sizeof(aPay), &rc);
  }
  if( rc==SQLITE_OK && bec_op_id(pOp->a, pOp->n, aId) ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK ) bec_crypto_op_message(aGid, aId, aMsg);
  return rc;
}

static int admit_request(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                         const u8 *aMark, BecVerdict *pV){
  RootCommit c;
  u8 aY[PT];
  char *zWhy = 0;
  int iSess = 0, k = 0, n = 0, bHolder = 0, bActive = 0, rc;
  if( commit_decode(pOp->aPayload, pOp->nPayload, 1, &c, &zWhy) ){
    return malformed(pV, "root-request", zWhy);
  }
  rc = session_find(p, c.aRef, &iSess, &k, &n);
  if( rc ) return rc;
  if( !in_past_kind(g, aMark, iSess, BEC_KIND_ROOT_OPEN)
   && !in_past_kind(g, aMark, iSess, BEC_KIND_ROOT_REQUEST) ){
    bec_verdict_set(pV, SQLITE_ERROR, "root-request: its epoch is no "
                    "root-open (or 'holders' request) in the op's causal past");
    return SQLITE_OK;
  }
  if( c.id<=n ) rc = is_holder(p, iSess, c.id, pOp->aAuthor, &bHolder);
  if( rc==SQLITE_OK && !bHolder ){
    bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: root-request: its author "
                    "is not holder %d of the epoch", c.id);
    return SQLITE_OK;
  }
  if( rc==SQLITE_OK ){
    u8 aPk[NMAX][PT];
    rc = epoch_keys(p, aMark, iSess, n, &bActive, aY, aPk);
  }
  if( rc==SQLITE_OK && !bActive ){
    bec_verdict_set(pV, SQLITE_ERROR, "root-request: its epoch is not active "
                    "in the op's causal past (all n acks before it)");
  }
  if( rc==SQLITE_OK && pV->rc==0 && c.aArgs[0]==ACT_ATTEST ){
    /* What the root attests is a checkpoint it knows (its root op has the
    ** request, so the checkpoint, in its past too). */
    int iCp = 0;
    rc = ref_in_past(p, g, aMark, &c.aArgs[1], BEC_KIND_CHECKPOINT,
                     "root-request: attest: its checkpoint is no checkpoint "
                     "in the op's causal past", &iCp, pV);
  }
  return rc;
}

/* A root-approve: the request is in its past, its author holder i. */
static int admit_approve(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                         const u8 *aMark, BecVerdict *pV){
  RootCommit c;
  u8 aArgs[ARGS];
  char *zWhy = 0;
  int iReq = 0, iEpoch = 0, b = 0, bHolder = 0, rc;
  if( commit_decode(pOp->aPayload, pOp->nPayload, 0, &c, &zWhy) ){
    return malformed(pV, "root-approve", zWhy);
  }
  rc = ref_in_past(p, g, aMark, c.aRef, BEC_KIND_ROOT_REQUEST, "root-approve: "
                   "its request is no root-request in the op's causal past",
                   &iReq, pV);
  if( rc || pV->rc ) return rc;
  rc = request_get(p, iReq, &iEpoch, aArgs, &b);
  if( rc==SQLITE_OK && b ) rc = is_holder(p, iEpoch, c.id, pOp->aAuthor, &bHolder);
  if( rc==SQLITE_OK && !bHolder ){
    bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: root-approve: its author "
                    "is not holder %d of the request's epoch", c.id);
  }
  return rc;
}

/* A root-session: k commitments of one request, in its past, by distinct
** holders in increasing order, posted by the first of them. */
static int admit_signing(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                         const u8 *aMark, BecVerdict *pV){
  RootSign s;
  u8 aArgs[ARGS], aSid[SID];
  char *zWhy = 0;
  int iReq = 0, iEpoch = 0, b = 0, k = 0, n = 0, i, iPrev = 0, iFirst = 0;
  int bHolder = 0, rc;
  if( sign_decode(pOp->aPayload, pOp->nPayload, &s, &zWhy) ){
    return malformed(pV, "root-session", zWhy);
  }
  rc = ref_in_past(p, g, aMark, s.aReq, BEC_KIND_ROOT_REQUEST, "root-session: "
                   "its request is no root-request in the op's causal past",
                   &iReq, pV);
  if( rc || pV->rc ) return rc;
  rc = request_get(p, iReq, &iEpoch, aArgs, &b);
  if( rc==SQLITE_OK && !b ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK ) rc = session_get(p, iEpoch, aSid, &k, &n);
  if( rc ) return rc;
  if( s.m!=k ){
    bec_verdict_set(pV, SQLITE_ERROR, "root-session: %d commitments, the "
                    "epoch is %d-of-%d", s.m, k, n);
    return SQLITE_OK;
  }
  for(i=0; rc==SQLITE_OK && i<s.m && pV->rc==0; i++){
    int x = 0, a[2];
    rc = bec_dag_seq_of(p, &s.aCommit[i*BEC_HASH_BYTES], &x);
    if( rc==SQLITE_OK && (in_past_kind(g, aMark, x, BEC_KIND_ROOT_REQUEST)
                       || in_past_kind(g, aMark, x, BEC_KIND_ROOT_APPROVE)) ){
      rc = query_ints(p, "SELECT request, holder FROM bec_store_root_commit "
                         "WHERE seq=?1", x, 2, a, &b);
    }else{
      b = 0;
    }
    if( rc==SQLITE_OK && (!b || a[0]!=iReq) ){
      bec_verdict_set(pV, SQLITE_ERROR, "root-session: commitment %d is no "
                      "commitment of the request in the op's causal past", i+1);
    }else if( rc==SQLITE_OK && a[1]<=iPrev ){
      bec_verdict_set(pV, SQLITE_ERROR, "root-session: the commitments are "
                      "not by distinct holders in increasing order");
    }else if( rc==SQLITE_OK ){
      iPrev = a[1];
      if( i==0 ) iFirst = a[1];
    }
  }
  if( rc==SQLITE_OK && pV->rc==0 && aArgs[0]==ACT_HOLDERS ){
    /* A hand-over signs the new key generation's outcome: it must be
    ** complete, one transcript acked by all, in the session's past. */
    u8 aT[BEC_HASH_BYTES], aY[PT], aDeals[NMAX*BEC_HASH_BYTES], aConf[NMAX+1];
    int a2[1], nComplete = 0;
    rc = query_ints(p, "SELECT n FROM bec_store_root_session WHERE seq=?1",
                    iReq, 1, a2, &b);
    if( rc==SQLITE_OK && b ){
      rc = session_tally(p, iReq, a2[0], aMark, &nComplete, aT, aY, aDeals,
                         aConf);
    }
    if( rc==SQLITE_OK && nComplete!=1 ){
      bec_verdict_set(pV, SQLITE_ERROR, "root-session: the new holders' key "
                      "generation is not complete in the op's causal past");
    }
  }
  if( rc==SQLITE_OK && pV->rc==0 ){
    rc = is_holder(p, iEpoch, iFirst, pOp->aAuthor, &bHolder);
    if( rc==SQLITE_OK && !bHolder ){
      bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: root-session: its author"
                      " is not holder %d, the first signer", iFirst);
    }
  }
  return rc;
}

/* A root-share: holder i of a session in its past, whose commitment has no
** share in its past, and whose z passes the share check (RFC 9591 5.3)
** against PK_i of the epoch as the op's past sees it. */
static int admit_share(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                       const u8 *aMark, BecVerdict *pV){
  sqlite3_stmt *pStmt = 0;
  RootShare sh;
  BecFrostCommit aList[NMAX];
  u8 aPk[NMAX][PT], aY[PT], aArgs[ARGS], aSid[SID];
  u8 aMsg[BEC_OP_MESSAGE_BYTES];
  BecBuf op;
  char *zWhy = 0;
  int iSig = 0, iReq = 0, iEpoch = 0, b = 0, k = 0, n = 0, nList = 0;
  int a[1], aCommit[NMAX], iCommit = 0, bHolder = 0, bActive = 0, i, rc;
  memset(&op, 0, sizeof(op));
  if( share_decode(pOp->aPayload, pOp->nPayload, &sh, &zWhy) ){
    return malformed(pV, "root-share", zWhy);
  }
  rc = ref_in_past(p, g, aMark, sh.aSess, BEC_KIND_ROOT_SESSION, "root-share: "
                   "its session is no root-session in the op's causal past",
                   &iSig, pV);
  if( rc || pV->rc ) return rc;
  rc = query_ints(p, "SELECT request FROM bec_store_root_signing WHERE seq=?1",
                  iSig, 1, a, &b);
  iReq = a[0];
  if( rc==SQLITE_OK && b ) rc = request_get(p, iReq, &iEpoch, aArgs, &b);
  if( rc==SQLITE_OK && !b ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK ) rc = session_get(p, iEpoch, aSid, &k, &n);
  if( rc==SQLITE_OK ) rc = signers_load(p, iSig, aList, &nList, aCommit);
  for(i=0; i<nList; i++) if( aList[i].id==sh.id ) iCommit = aCommit[i];
  if( rc==SQLITE_OK && iCommit==0 ){
    bec_verdict_set(pV, SQLITE_ERROR, "root-share: holder %d is not a signer "
                    "of the session", sh.id);
    return SQLITE_OK;
  }
  if( rc==SQLITE_OK ) rc = is_holder(p, iEpoch, sh.id, pOp->aAuthor, &bHolder);
  if( rc==SQLITE_OK && !bHolder ){
    bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: root-share: its author is "
                    "not holder %d of the epoch", sh.id);
    return SQLITE_OK;
  }
  /* A commitment signs at most once in any causal past. */
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT sh.seq FROM bec_store_root_share sh JOIN "
        "bec_store_root_signer s ON s.signing=sh.signing AND s.holder=sh.holder"
        " WHERE s.commit_seq=?1", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, iCommit);
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      if( in_past_kind(g, aMark, sqlite3_column_int(pStmt, 0),
                       BEC_KIND_ROOT_SHARE) ) b = 2;
    }
    rc = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK && b==2 ){
      bec_verdict_set(pV, SQLITE_ERROR, "root-share: holder %d's commitment "
                      "already signed in the op's causal past", sh.id);
      return SQLITE_OK;
    }
  }
  if( rc==SQLITE_OK ) rc = epoch_keys(p, aMark, iEpoch, n, &bActive, aY, aPk);
  if( rc==SQLITE_OK && !bActive ){
    bec_verdict_set(pV, SQLITE_ERROR, "root-share: its epoch is not active in "
                    "the op's causal past");
    return SQLITE_OK;
  }
  if( rc==SQLITE_OK ) rc = root_op_build(p, g, iSig, aY, &op, aMsg);
  if( rc==SQLITE_OK ){
    if( bec_frost_verify_share(sh.id, aPk[sh.id-1], sh.aZ, aList, nList, aY,
                               aMsg, sizeof(aMsg), &zWhy) ){
      bec_verdict_set(pV, SQLITE_ERROR, "%s",
                      zWhy ? zWhy : "bad signature share");
    }
    sqlite3_free(zWhy);
  }
  bec_buf_free(&op);
  return rc;
}

/* A root op: its one predecessor is a session, its payload is what that
** session signs, its author the group key of an epoch active in its past
** (the DAG checked the signature under that key, as for every op). */
static int admit_root(BecCtx *p, const BecGraph *g, const BecOp *pOp,
                      const int *aPredSeq, const u8 *aMark, BecVerdict *pV){
  BecBuf op;
  BecOp want;
  u8 aY[PT], aPk[NMAX][PT], aArgs[ARGS], aSid[SID];
  u8 aMsg[BEC_OP_MESSAGE_BYTES];
  char *zWhy = 0;
  int iSig = pOp->nPred==1 ? aPredSeq[0] : 0;
  int a[1], b = 0, iReq = 0, iEpoch = 0, k = 0, n = 0, bActive = 0, rc;
  memset(&op, 0, sizeof(op));
  if( !in_past_kind(g, aMark, iSig, BEC_KIND_ROOT_SESSION) ){
    bec_verdict_set(pV, SQLITE_ERROR, "root: its one predecessor must be its "
                    "root-session");
    return SQLITE_OK;
  }
  rc = query_ints(p, "SELECT request FROM bec_store_root_signing WHERE seq=?1",
                  iSig, 1, a, &b);
  iReq = a[0];
  if( rc==SQLITE_OK && b ) rc = request_get(p, iReq, &iEpoch, aArgs, &b);
  if( rc==SQLITE_OK && !b ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK ) rc = session_get(p, iEpoch, aSid, &k, &n);
  if( rc==SQLITE_OK ) rc = epoch_keys(p, aMark, iEpoch, n, &bActive, aY, aPk);
  if( rc ) return rc;
  if( !bActive ){
    bec_verdict_set(pV, SQLITE_ERROR, "root: its epoch is not active in the "
                    "op's causal past (all n acks before it)");
    return SQLITE_OK;
  }
  if( memcmp(pOp->aAuthor, aY, PT) ){
    bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: root: its author is not "
                    "the epoch's group key");
    return SQLITE_OK;
  }
  rc = root_op_build(p, g, iSig, aY, &op, aMsg);
  if( rc==SQLITE_OK ){
    if( bec_op_decode_header(op.a, op.n, &want, &zWhy)
     || memcmp(want.aId, pOp->aId, BEC_HASH_BYTES) ){
      bec_verdict_set(pV, SQLITE_ERROR, "root: its payload is not what its "
                      "session signs");
    }
    sqlite3_free(zWhy);
  }
  bec_buf_free(&op);
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
      case BEC_KIND_ROOT_REQUEST:
        rc = admit_request(p, g, pOp, aMark, pV);
        break;
      case BEC_KIND_ROOT_APPROVE:
        rc = admit_approve(p, g, pOp, aMark, pV);
        break;
      case BEC_KIND_ROOT_SESSION:
        rc = admit_signing(p, g, pOp, aMark, pV);
        break;
      case BEC_KIND_ROOT_SHARE:
        rc = admit_share(p, g, pOp, aMark, pV);
        break;
      case BEC_KIND_ROOT:
        rc = admit_root(p, g, pOp, aPredSeq, aMark, pV);
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
  int nComplete;               /* transcripts acked by all n holders */
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

/* 1 in *pb if the creator's session iSess is abandoned by a root-open that
** is valid under the membership rules (THRESHOLD.md 3 and 5: an open the
** rules cancel, such as a stolen creator key's open concurrent with the
** root's removal of it, abandons nothing). */
static int abandoned_by_valid(BecCtx *p, int iSess, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT a.by FROM bec_store_root_abandon a JOIN "
                           "bec_store_op o ON o.seq=a.by WHERE a.session=?1 "
                           "AND o.valid", &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSess);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *pb = 1;
  return sqlite3_reset(pStmt);
}

/* The state of every session from the stored facts. *paState from
** sqlite3_malloc64 (the caller frees it). */
static int compute_states(BecCtx *p, RootState **paState, int *pnState){
  RootState *aSt = 0;
  BecFrostDeal *aFd = 0;
  u8 *aDeals = 0;
  int *aSess = 0, *aParent = 0;
  int nSess = 0, nActive = 0, i, j;
  int rc = session_list(p, 0, &aSess, &nSess);
  *paState = 0;
  *pnState = 0;
  if( rc==SQLITE_OK ){
    aSt = sqlite3_malloc64(sizeof(RootState)*(sqlite3_uint64)(nSess+1));
    aFd = sqlite3_malloc64(sizeof(BecFrostDeal)*NMAX);
    aDeals = sqlite3_malloc64((sqlite3_uint64)(nSess+1)*NMAX*BEC_HASH_BYTES);
    aParent = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)(nSess+1));
    if( aSt==0 || aFd==0 || aDeals==0 || aParent==0 ) rc = SQLITE_NOMEM;
  }
  /* Pass 1: each session on its own.  A session the creator opened is
  ** abandoned, void (its open invalid), generating, active (one complete
  ** transcript) or disabled (two); a 'holders' request's session is
  ** generating until its parent hands over to it (pass 2). */
  for(i=0; rc==SQLITE_OK && i<nSess; i++){
    RootState *s = &aSt[i];
    u8 *aD = &aDeals[(size_t)i*NMAX*BEC_HASH_BYTES];
    int bAb = 0, bValid = 1, nComplete = 0, b = 0, a[1];
    memset(s, 0, sizeof(*s));
    s->iSess = aSess[2*i];
    s->n = aSess[2*i+1];
    rc = query_ints(p, "SELECT epoch FROM bec_store_root_request WHERE seq=?1",
                    s->iSess, 1, a, &b);
    aParent[i] = b ? a[0] : 0;
    if( rc==SQLITE_OK && !aParent[i] ){
      rc = abandoned_by_valid(p, s->iSess, &bAb);
      if( rc==SQLITE_OK ) rc = open_valid(p, s->iSess, &bValid);
    }
    if( rc==SQLITE_OK ){
      rc = session_tally(p, s->iSess, s->n, 0, &nComplete, s->aT, s->aY,
                         aD, s->abConf);
    }
    if( rc ) break;
    s->nComplete = nComplete;
    if( bAb ){
      s->zState = "abandoned";
    }else if( nComplete>1 || !bValid ){
      s->zState = "disabled";   /* two transcripts, or the open is void */
    }else if( nComplete==0 || aParent[i] ){
      s->zState = "generating";
    }else{
      s->zState = "active";
      s->bActive = 1;
      nActive++;
    }
  }
  if( rc==SQLITE_OK && nActive>1 ){
    /* Two complete creator sessions that are not abandoned (concurrent
    ** creator opens): neither acts. */
    for(i=0; i<nSess; i++){
      if( aSt[i].bActive ){
        aSt[i].bActive = 0;
        aSt[i].zState = "disabled";
      }
    }
  }
  /* Pass 2, in seq order (a parent comes first): an active epoch with one
  ** hand-over is superseded and its successor active; with hand-overs to
  ** two successors it is a fork: the epoch and both are disabled.  The
  ** successors of a session that is not superseded by them stay
  ** generating, or are disabled with a disabled parent. */
  for(i=0; rc==SQLITE_OK && i<nSess; i++){
    RootState *s = &aSt[i];
    int iNext = 0, nNext = 0;
    if( aParent[i] ){
      for(j=0; j<i && aSt[j].iSess!=aParent[i]; j++){}
      if( j==i || strcmp(aSt[j].zState, "disabled")==0 ){
        s->zState = "disabled";
      }
    }
    if( !s->bActive ) continue;
    rc = handover_next(p, s->iSess, 0, &iNext, &nNext);
    if( rc || nNext==0 ) continue;
    if( nNext==1 ){
      s->zState = "superseded";
      for(j=i+1; j<nSess && aSt[j].iSess!=iNext; j++){}
      if( j<nSess && aSt[j].nComplete==1 ){
        aSt[j].zState = "active";
        aSt[j].bActive = 1;
      }else if( j<nSess ){
        aSt[j].zState = "disabled";
      }
    }else{
      s->zState = "disabled";
      s->bActive = 0;
    }
  }
  /* The keys of every session that was active: Y and PK_1..PK_n. */
  for(i=0; rc==SQLITE_OK && i<nSess; i++){
    RootState *s = &aSt[i];
    char *zWhy = 0;
    const u8 *aD = &aDeals[(size_t)i*NMAX*BEC_HASH_BYTES];
    if( strcmp(s->zState, "disabled")==0 ) s->bActive = 0;
    if( !s->bActive ) continue;
    for(j=0; rc==SQLITE_OK && j<s->n; j++){
      int x = 0, iS = 0;
      rc = deal_find(p, &aD[j*BEC_HASH_BYTES], &x, &iS, &aFd[j]);
      if( rc==SQLITE_OK && x==0 ) rc = SQLITE_CORRUPT;
    }
    if( rc==SQLITE_OK
     && bec_frost_dkg_public(aFd, s->n, s->aY, s->aPk, &zWhy) ){
      rc = SQLITE_CORRUPT;    /* every ack's Y was checked on acceptance */
    }
    sqlite3_free(zWhy);
  }
  sqlite3_free(aSess);
  sqlite3_free(aFd);
  sqlite3_free(aDeals);
  sqlite3_free(aParent);
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
  if( rc==SQLITE_OK ) rc = session_list(p, 1, &aSess, &nSess);
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

/* The facts of a signing op (acceptance checked everything they rely on). */
static int stored_signing(BecCtx *p, int iSeq, const BecOp *pOp){
  RootCommit c;
  RootSign sg;
  RootShare sh;
  u8 aArgs[ARGS];
  int rc = SQLITE_OK, iRef = 0, k = 0, n = 0, a[2], b = 0, i;
  switch( pOp->kind ){
    case BEC_KIND_ROOT_REQUEST:
      if( commit_decode(pOp->aPayload, pOp->nPayload, 1, &c, 0) ) return SQLITE_CORRUPT;
      rc = session_find(p, c.aRef, &iRef, &k, &n);
      if( rc==SQLITE_OK ){
        /* An attest's R follows its args in the payload: kept with them. */
        rc = run3(p, "INSERT INTO bec_store_root_request(seq, epoch, args) "
                     "VALUES(?1, ?2, ?4)", iSeq, iRef, 0, c.aArgs,
                  c.aDigest ? ARGS+BEC_HASH_BYTES : ARGS, 0, 0);
      }
      if( rc==SQLITE_OK && c.aArgs[0]==ACT_HOLDERS ){
        /* A 'holders' request opens the next epoch's key generation: its
        ** id is the session id (THRESHOLD.md 5). */
        int aE[1];
        rc = query_ints(p, "SELECT epoch FROM bec_store_root_session WHERE "
                           "seq=?1", iRef, 1, aE, &b);
        if( rc==SQLITE_OK ){
          rc = run3(p, "INSERT INTO bec_store_root_session(seq, k, n, epoch, "
                       "sid) VALUES(?1, ?2, ?3, 0, ?4)", iSeq, c.hold.k,
                    c.hold.n, pOp->aId, BEC_HASH_BYTES, 0, 0);
        }
        if( rc==SQLITE_OK ){
          rc = run3(p, "UPDATE bec_store_root_session SET epoch=?2 WHERE "
                       "seq=?1", iSeq, aE[0]+1, 0, 0, 0, 0, 0);
        }
        for(i=0; rc==SQLITE_OK && i<c.hold.n; i++){
          rc = run3(p, "INSERT INTO bec_store_root_holder(session, id, "
                       "confirmed, pk) VALUES(?1, ?2, ?3, ?4)", iSeq, i+1, 0,
                    &c.hold.aPk[i*BEC_PUBKEY_BYTES], BEC_PUBKEY_BYTES, 0, 0);
        }
      }
      if( rc==SQLITE_OK ) iRef = iSeq;
      break;
    case BEC_KIND_ROOT_APPROVE:
      if( commit_decode(pOp->aPayload, pOp->nPayload, 0, &c, 0) ) return SQLITE_CORRUPT;
      rc = bec_dag_seq_of(p, c.aRef, &iRef);
      break;
    case BEC_KIND_ROOT_SESSION:
      if( sign_decode(pOp->aPayload, pOp->nPayload, &sg, 0) ) return SQLITE_CORRUPT;
      rc = bec_dag_seq_of(p, sg.aReq, &iRef);
      if( rc==SQLITE_OK ){
        rc = run3(p, "INSERT INTO bec_store_root_signing(seq, request) "
                     "VALUES(?1, ?2)", iSeq, iRef, 0, 0, 0, 0, 0);
      }
      for(i=0; rc==SQLITE_OK && i<sg.m; i++){
        int x = 0;
        rc = bec_dag_seq_of(p, &sg.aCommit[i*BEC_HASH_BYTES], &x);
        if( rc==SQLITE_OK ){
          rc = query_ints(p, "SELECT request, holder FROM bec_store_root_commit"
                             " WHERE seq=?1", x, 2, a, &b);
        }
        if( rc==SQLITE_OK && !b ) rc = SQLITE_CORRUPT;
        if( rc==SQLITE_OK ){
          rc = run3(p, "INSERT INTO bec_store_root_signer(signing, holder, "
                       "commit_seq) VALUES(?1, ?2, ?3)", iSeq, a[1], x,
                    0, 0, 0, 0);
        }
      }
      return rc;
    case BEC_KIND_ROOT_SHARE:
      if( share_decode(pOp->aPayload, pOp->nPayload, &sh, 0) ) return SQLITE_CORRUPT;
      rc = bec_dag_seq_of(p, sh.aSess, &iRef);
      if( rc==SQLITE_OK ){
        rc = run3(p, "INSERT INTO bec_store_root_share(seq, signing, holder, z)"
                     " VALUES(?1, ?2, ?3, ?4)", iSeq, iRef, sh.id, sh.aZ, SC,
                  0, 0);
      }
      return rc;
    default: {
      /* The root op: its session is its one predecessor. */
      const u8 *aSess = pOp->aPred;
      rc = bec_dag_seq_of(p, aSess, &iRef);
      if( rc==SQLITE_OK ){
        rc = query_ints(p, "SELECT request FROM bec_store_root_signing "
                           "WHERE seq=?1", iRef, 1, a, &b);
      }
      if( rc==SQLITE_OK && !b ) rc = SQLITE_CORRUPT;
      if( rc==SQLITE_OK ){
        rc = run3(p, "INSERT INTO bec_store_root_done(seq, signing, request) "
                     "VALUES(?1, ?2, ?3)", iSeq, iRef, a[0], 0, 0, 0, 0);
      }
      return rc;
    }
  }
  /* A request or an approve: a commitment (i, D, E) of the request iRef. */
  (void)aArgs;
  if( rc==SQLITE_OK ){
    sqlite3_stmt *pStmt = 0;
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_root_commit(seq, request, "
                         "holder, d, e) VALUES(?1, ?2, ?3, ?4, ?5)", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iSeq);
      sqlite3_bind_int(pStmt, 2, iRef);
      sqlite3_bind_int(pStmt, 3, c.id);
      sqlite3_bind_blob(pStmt, 4, c.aD, PT, SQLITE_STATIC);
      sqlite3_bind_blob(pStmt, 5, c.aE, PT, SQLITE_STATIC);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  return rc;
}

/* For checkpoints (bec_checkpoint.c): whether pOp, stored, is a root
** attestation (a root op of action attest), and what it names. */
int bec_root_attest_of(const BecOp *pOp, const u8 **paCheckpoint,
                       const u8 **paDigest){
  const u8 *a = pOp->aPayload;
  if( pOp->kind!=BEC_KIND_ROOT || a==0
   || pOp->nPayload!=ROOT_PAYLOAD_BYTES+BEC_HASH_BYTES
   || a[0]!=ROOT_VERSION || a[1]!=ACT_ATTEST ){
    return 0;
  }
  *paCheckpoint = &a[2];
  *paDigest = &a[ROOT_PAYLOAD_BYTES];
  return 1;
}

int bec_root_key_in_past(BecCtx *p, const u8 *aMark, u8 *aY, int *pb){
  int iActive = 0;
  int rc = active_in_past(p, aMark, &iActive, aY, 0);
  *pb = rc==SQLITE_OK && iActive>0;
  return rc;
}

/* Appends one row of bec_root_facts. */
static void fact_row(BecBuf *pB, int a, int b, int c, int d, int *pRc){
  int aRow[4];
  aRow[0] = a; aRow[1] = b; aRow[2] = c; aRow[3] = d;
  bec_buf_append(pB, aRow, sizeof(aRow), pRc);
}

static int cmp_fact(const void *a, const void *b){
  const int *x = (const int*)a, *y = (const int*)b;
  int i;
  for(i=0; i<4; i++){
    if( x[i]!=y[i] ) return x[i]<y[i] ? -1 : 1;
  }
  return 0;
}

/* BecCtx.xRootFacts (becInt.h): the lineage of every root op (its request's
** epoch, then each 'holders' session's parent epoch, up to the creator's
** open), whether each creator's session is complete, and who abandons
** it.  Read from the stored facts only. */
int bec_root_facts(BecCtx *p, int **paRow, int *pnRow){
  sqlite3_stmt *pStmt = 0;
  BecBuf b;
  u8 aT[BEC_HASH_BYTES], aY[PT], aConf[NMAX+1];
  u8 *aDeals = sqlite3_malloc64(NMAX*BEC_HASH_BYTES);
  int *aSess = 0;
  int nSess = 0, i, rc;
  memset(&b, 0, sizeof(b));
  *paRow = 0;
  *pnRow = 0;
  rc = aDeals ? bec_ctx_stmt(p, "SELECT d.seq, d.request, r.epoch,"
      " substr(r.args, 1, 1)=x'06' FROM bec_store_root_done d"
      " JOIN bec_store_root_request r ON r.seq=d.request"
      " ORDER BY d.seq", &pStmt) : SQLITE_NOMEM;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0), iReq = sqlite3_column_int(pStmt, 1);
    int iLine = sqlite3_column_int(pStmt, 2), a[1], bFound = 1;
    /* A root attestation, like a hand-over, has no target, but it ends no
    ** epoch: the rules must not take it for one. */
    if( sqlite3_column_int(pStmt, 3) ) fact_row(&b, x, 4, 0, 0, &rc);
    /* A 'holders' session's row in bec_store_root_request names its parent
    ** epoch, which is older: the walk ends at the creator's open. */
    while( rc==SQLITE_OK && bFound ){
      rc = query_ints(p, "SELECT epoch FROM bec_store_root_request "
                         "WHERE seq=?1", iLine, 1, a, &bFound);
      if( rc==SQLITE_OK && bFound ){
        if( a[0]>=iLine ){ rc = SQLITE_CORRUPT; break; }
        iLine = a[0];
      }
    }
    if( rc==SQLITE_OK ) fact_row(&b, x, 1, iLine, iReq, &rc);
  }
  if( pStmt ){
    if( rc ) sqlite3_reset(pStmt);
    else rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK ) rc = session_list(p, 1, &aSess, &nSess);
  for(i=0; rc==SQLITE_OK && i<nSess; i++){
    int nComplete = 0;
    rc = session_tally(p, aSess[2*i], aSess[2*i+1], 0, &nComplete, aT, aY,
                       aDeals, aConf);
    if( rc==SQLITE_OK ) fact_row(&b, aSess[2*i], 2, nComplete==1, 0, &rc);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT session, by FROM bec_store_root_abandon",
                      &pStmt);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      fact_row(&b, sqlite3_column_int(pStmt, 0), 3,
               sqlite3_column_int(pStmt, 1), 0, &rc);
    }
    if( rc ) sqlite3_reset(pStmt);
    else rc = sqlite3_reset(pStmt);
  }
  sqlite3_free(aSess);
  sqlite3_free(aDeals);
  if( rc==SQLITE_OK ){
    *pnRow = (int)(b.n/(4*sizeof(int)));
    if( *pnRow ) qsort(b.a, (size_t)*pnRow, 4*sizeof(int), cmp_fact);
    *paRow = (int*)b.a;
  }else{
    bec_buf_free(&b);
  }
  return rc;
}

/* Whether the membership rules must look at the root again after op
** kind was stored: a root op always; an open or an ack (which may complete
** or abandon a creator's session) once some root op exists. */
static int root_touches_members(BecCtx *p, int kind, int *pb){
  int a[1];
  *pb = kind==BEC_KIND_ROOT;
  if( *pb || (kind!=BEC_KIND_ROOT_OPEN && kind!=BEC_KIND_DKG_ACK) ){
    return SQLITE_OK;
  }
  return query_ints(p, "SELECT 1 FROM bec_store_root_done WHERE seq>?1",
                    0, 1, a, pb);
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
  }else if( pOp->kind==BEC_KIND_DKG_ACK ){
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
  if( pOp->kind!=BEC_KIND_ROOT_OPEN && pOp->kind!=BEC_KIND_DKG_DEAL
   && pOp->kind!=BEC_KIND_DKG_ACK ){
    rc = stored_signing(p, iSeq, pOp);
  }
  if( rc==SQLITE_OK && (pOp->kind==BEC_KIND_ROOT_OPEN
                     || pOp->kind==BEC_KIND_DKG_ACK
                     || pOp->kind==BEC_KIND_ROOT) ){
    rc = refresh(p);
  }
  if( rc==SQLITE_OK ){
    int bMembers = 0;
    rc = root_touches_members(p, pOp->kind, &bMembers);
    if( rc==SQLITE_OK && bMembers ) rc = bec_member_root_changed(p, pzErr);
  }
  if( rc && *pzErr==0 ){
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
      "IN (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) AND o.seq NOT IN (SELECT seq FROM "
      "bec_store_root_session UNION ALL SELECT seq FROM bec_store_root_deal "
      "UNION ALL SELECT seq FROM bec_store_root_ack UNION ALL SELECT seq FROM "
      "bec_store_root_request UNION ALL SELECT seq FROM bec_store_root_commit "
      "UNION ALL SELECT seq FROM bec_store_root_signing UNION ALL SELECT seq "
      "FROM bec_store_root_share UNION ALL SELECT seq FROM bec_store_root_done)",
      &pStmt);
  memset(&out, 0, sizeof(out));
  if( rc==SQLITE_OK ){
    static const int aKinds[] = {
      BEC_KIND_ROOT_OPEN, BEC_KIND_DKG_DEAL, BEC_KIND_DKG_ACK,
      BEC_KIND_ROOT_REQUEST, BEC_KIND_ROOT_APPROVE, BEC_KIND_ROOT_SESSION,
      BEC_KIND_ROOT_SHARE, BEC_KIND_ROOT
    };
    int i;
    for(i=0; i<8; i++) sqlite3_bind_int(pStmt, i+1, aKinds[i]);
    if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_int(pStmt, 0)>0 ){
      bec_buf_appendf(&out, &rc, "root: %d root ops have no "
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

/* A fall-back to a full join (bec_rejoin.c) is refused once the group has
** a threshold root: a holder's share and nonces are this replica's own,
** tied to the seqs the fall-back renumbers. */
/* The fall-back to a full join (bec_rejoin.c): every table above is
** derived from the stored ops alone (a holder's share is derived again from
** the DAG and its identity key), so it is dropped and follows the ops as
** they are stored again.  bec_store_root_nonce is not derived: its pairs
** are keyed by the id of the op that published their commitment, which
** the fall-back keeps, so it stays. */
static int root_reset(BecCtx *p, int bProbe, char **pzWhyNot, char **pzErr){
  (void)pzWhyNot;
  if( bProbe ) return SQLITE_OK;
  return bec_ctx_exec(p,
      "DELETE FROM bec_store_root_session; DELETE FROM bec_store_root_holder;"
      "DELETE FROM bec_store_root_deal; DELETE FROM bec_store_root_ack;"
      "DELETE FROM bec_store_root_abandon; DELETE FROM bec_store_root_request;"
      "DELETE FROM bec_store_root_commit; DELETE FROM bec_store_root_signing;"
      "DELETE FROM bec_store_root_signer; DELETE FROM bec_store_root_share;"
      "DELETE FROM bec_store_root_done;", pzErr);
}

const BecDeriver bec_root_deriver = {
  "root", BEC_DERIVE_ROOT,
  root_schema, root_admit, root_stored, root_validity, root_check, 0,
  root_reset
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

/**************************************************************************
** The local key's part of signing: bec_root_propose, bec_root_approve,
** and the session, share and aggregate work of bec_root_step.
*/
static const BecSavepoint spRoot = {
  "SAVEPOINT bec_root", "RELEASE bec_root", "ROLLBACK TO bec_root"
};

/* Rows of ints of a cached query with one int parameter (nCol columns):
** *paOut from sqlite3_malloc64 (the caller frees it), *pnRow rows. */
static int query_rows(BecCtx *p, const char *zSql, int iParam, int nCol,
                      int **paOut, int *pnRow){
  sqlite3_stmt *pStmt = 0;
  BecBuf b;
  int rc = bec_ctx_stmt(p, zSql, &pStmt);
  memset(&b, 0, sizeof(b));
  *paOut = 0;
  *pnRow = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iParam);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int i;
    for(i=0; i<nCol; i++){
      int v = sqlite3_column_int(pStmt, i);
      bec_buf_append(&b, &v, sizeof(v), &rc);
    }
  }
  if( rc ) sqlite3_reset(pStmt);
  else rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK ){
    *paOut = (int*)b.a;
    *pnRow = (int)(b.n/(i64)(sizeof(int)*(size_t)nCol));
  }else{
    bec_buf_free(&b);
  }
  return rc;
}

/* The active session in which this replica's key is a holder: *pb 0 if
** there is none. */
static int my_epoch(BecCtx *p, MySession *s, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT s.seq, s.k, s.n, h.id, s.sid FROM "
      "bec_store_root_session s JOIN bec_store_root_holder h "
      "ON h.session=s.seq WHERE s.state='active' AND h.pk=?1", &pStmt);
  *pb = 0;
  memset(s, 0, sizeof(*s));
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, p->aPub, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_bytes(pStmt, 4)==SID ){
    s->iSess = sqlite3_column_int(pStmt, 0);
    s->k = sqlite3_column_int(pStmt, 1);
    s->n = sqlite3_column_int(pStmt, 2);
    s->id = sqlite3_column_int(pStmt, 3);
    memcpy(s->aSid, sqlite3_column_blob(pStmt, 4), SID);
    *pb = 1;
  }
  return sqlite3_reset(pStmt);
}

/* This holder's share of session s, derived again from the transcript's
** deals and the identity key (never stored): *pKey, which the caller
** wipes. */
static int my_key(BecCtx *p, const u8 *aSecret, const MySession *s,
                  BecFrostKey *pKey, char **pzErr){
  Cand *aC = 0;
  BecFrostDeal *aFd = 0;
  const u8 *apBox[NMAX];
  u8 aDeals[NMAX*BEC_HASH_BYTES], aT[BEC_HASH_BYTES], aY[PT], aConf[NMAX+1];
  char *zWhy = 0;
  int nComplete = 0, nC = 0, i, j, iBad = 0;
  int rc = session_tally(p, s->iSess, s->n, 0, &nComplete, aT, aY, aDeals,
                         aConf);
  memset(pKey, 0, sizeof(*pKey));
  if( rc==SQLITE_OK && nComplete!=1 ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK ) rc = cand_load(p, s->iSess, &aC, &nC);
  if( rc==SQLITE_OK ){
    aFd = sqlite3_malloc64(sizeof(BecFrostDeal)*(sqlite3_uint64)s->n);
    if( aFd==0 ) rc = SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<s->n; i++){
    for(j=0; j<nC; j++){
      if( memcmp(aC[j].aHash, &aDeals[i*BEC_HASH_BYTES], BEC_HASH_BYTES)==0 ){
        break;
      }
    }
    if( j==nC ){
      rc = SQLITE_CORRUPT;
    }else{
      memset(&aFd[i], 0, sizeof(BecFrostDeal));
      aFd[i].id = i+1;
      aFd[i].k = aC[j].d.k;
      memcpy(aFd[i].aPhi, aC[j].d.aPhi, (size_t)aC[j].d.k*PT);
      apBox[i] = &aC[j].d.aBox[(s->id-1)*BOX];
    }
  }
  if( rc==SQLITE_OK
   && bec_frost_dkg_finish(s->aSid, s->id, aFd, s->n, apBox, aSecret, pKey,
                           &iBad, &zWhy) ){
    *pzErr = sqlite3_mprintf("cannot derive this holder's share: %s",
                             zWhy ? zWhy : "a box does not open");
    rc = SQLITE_ERROR;
  }
  sqlite3_free(zWhy);
  cand_free(aC, nC);
  sqlite3_free(aFd);
  return rc;
}

/* Posts a commitment op (a root-request with aArgs, or a root-approve) of
** holder s->id naming aRef, and stores its nonce pair, sealed, in the same
** transaction: a crash leaves both or neither.  aHash receives its id. */
static int post_commit(BecCtx *p, const u8 *aSecret, const MySession *s,
                       int kind, const u8 *aRef, const u8 *aArgs, int nArgs,
                       u8 *aHash, char **pzErr){
  BecFrostKey key;
  BecFrostNonce nonce;
  u8 aPlain[2*SC], aSealed[2*SC+BEC_CRYPTO_LOCAL_OVERHEAD];
  BecBuf b;
  int rc = my_key(p, aSecret, s, &key, pzErr);
  memset(&b, 0, sizeof(b));
  memset(&nonce, 0, sizeof(nonce));
  if( rc==SQLITE_OK && bec_frost_commit(&key, &nonce) ){
    *pzErr = sqlite3_mprintf("cannot draw a nonce");
    rc = SQLITE_ERROR;
  }
  bec_crypto_wipe(&key, sizeof(key));
  bec_buf_append_u8(&b, ROOT_VERSION, &rc);
  bec_buf_append(&b, aRef, BEC_HASH_BYTES, &rc);
  bec_buf_append_u8(&b, (u8)s->id, &rc);
  bec_buf_append(&b, nonce.commit.aD, PT, &rc);
  bec_buf_append(&b, nonce.commit.aE, PT, &rc);
  if( aArgs ) bec_buf_append(&b, aArgs, nArgs, &rc);
  if( rc==SQLITE_OK ) rc = bec_ctx_begin(p, &spRoot);
  if( rc==SQLITE_OK ){
    rc = bec_dag_append(p, kind, b.a, b.n, aHash, pzErr);
    if( rc==SQLITE_OK ){
      sqlite3_stmt *pStmt = 0;
      memcpy(aPlain, nonce.ad, SC);
      memcpy(&aPlain[SC], nonce.ae, SC);
      bec_crypto_local_seal(aSecret, aHash, aPlain, sizeof(aPlain), aSealed);
      rc = bec_ctx_stmt(p, "INSERT INTO bec_store_root_nonce(commit_id, "
                           "sealed) VALUES(?1, ?2)", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(pStmt, 2, aSealed, sizeof(aSealed), SQLITE_STATIC);
        sqlite3_step(pStmt);
        rc = sqlite3_reset(pStmt);
      }
    }
    if( rc==SQLITE_OK ) rc = bec_ctx_commit(p, &spRoot);
    else bec_ctx_rollback(p, &spRoot);
  }
  bec_crypto_wipe(&nonce, sizeof(nonce));
  bec_crypto_wipe(aPlain, sizeof(aPlain));
  bec_buf_free(&b);
  return rc;
}

/* 1 in *pb if commitment op iCommit has a share op in the DAG (it is
** spent: its nonce must never sign again). */
static int commit_spent(BecCtx *p, int iCommit, int *pb){
  int a[1];
  return query_ints(p, "SELECT 1 FROM bec_store_root_signer s JOIN "
      "bec_store_root_share sh ON sh.signing=s.signing AND sh.holder=s.holder "
      "WHERE s.commit_seq=?1", iCommit, 1, a, pb);
}

/* Session work: for each request of epoch s not yet done, the first k
** holders (by identifier) with an unspent commitment, each by its oldest
** one; if this holder is the first of them and no session of the request
** names that set yet, it posts one. */
static int post_sessions(BecCtx *p, const BecGraph *g, const MySession *s,
                         int *pnMade, char **pzErr){
  int *aReq = 0, nReq = 0, i, rc;
  rc = query_rows(p, "SELECT r.seq FROM bec_store_root_request r WHERE "
      "r.epoch=?1 AND NOT EXISTS (SELECT 1 FROM bec_store_root_done d "
      "WHERE d.request=r.seq) ORDER BY r.seq", s->iSess, 1, &aReq, &nReq);
  for(i=0; rc==SQLITE_OK && i<nReq; i++){
    int *aPick = 0, nPick = 0, *aSig = 0, nSig = 0, j, bSame = 0;
    rc = query_rows(p, "SELECT c.holder, min(c.seq) FROM bec_store_root_commit"
        " c WHERE c.request=?1 AND NOT EXISTS (SELECT 1 FROM "
        "bec_store_root_signer s JOIN bec_store_root_share sh ON "
        "sh.signing=s.signing AND sh.holder=s.holder WHERE s.commit_seq=c.seq)"
        " GROUP BY c.holder ORDER BY c.holder", aReq[i], 2, &aPick, &nPick);
    if( rc==SQLITE_OK && nPick>=s->k && aPick[0]==s->id ){
      /* A 'holders' request waits for its key generation. */
      int a2[1], b2 = 0, nComplete = 1;
      rc = query_ints(p, "SELECT n FROM bec_store_root_session WHERE seq=?1",
                      aReq[i], 1, a2, &b2);
      if( rc==SQLITE_OK && b2 ){
        u8 aT[BEC_HASH_BYTES], aY[PT], aD[NMAX*BEC_HASH_BYTES], aC[NMAX+1];
        rc = session_tally(p, aReq[i], a2[0], 0, &nComplete, aT, aY, aD, aC);
      }
      if( nComplete!=1 ) nPick = 0;
    }
    if( rc==SQLITE_OK && nPick>=s->k && aPick[0]==s->id ){
      rc = query_rows(p, "SELECT seq FROM bec_store_root_signing WHERE "
                         "request=?1", aReq[i], 1, &aSig, &nSig);
      for(j=0; rc==SQLITE_OK && !bSame && j<nSig; j++){
        int *aHave = 0, nHave = 0, t;
        rc = query_rows(p, "SELECT holder, commit_seq FROM "
            "bec_store_root_signer WHERE signing=?1 ORDER BY holder", aSig[j],
            2, &aHave, &nHave);
        if( rc==SQLITE_OK && nHave==s->k ){
          for(t=0; t<s->k && aHave[2*t]==aPick[2*t]
                           && aHave[2*t+1]==aPick[2*t+1]; t++){}
          bSame = t==s->k;
        }
        sqlite3_free(aHave);
      }
      if( rc==SQLITE_OK && !bSame ){
        BecBuf b;
        u8 aHash[BEC_HASH_BYTES];
        memset(&b, 0, sizeof(b));
        bec_buf_append_u8(&b, ROOT_VERSION, &rc);
        bec_graph_id_append(g, aReq[i], &b, &rc);
        bec_buf_append_u8(&b, (u8)s->k, &rc);
        for(j=0; j<s->k; j++){
          bec_graph_id_append(g, aPick[2*j+1], &b, &rc);
        }
        if( rc==SQLITE_OK ){
          rc = bec_dag_append(p, BEC_KIND_ROOT_SESSION, b.a, b.n, aHash, pzErr);
        }
        if( rc==SQLITE_OK ) (*pnMade)++;
        bec_buf_free(&b);
      }
    }
    sqlite3_free(aPick);
    sqlite3_free(aSig);
  }
  sqlite3_free(aReq);
  return rc;
}

/* One share, in one transaction with the deletion of its nonce: a crash
** leaves the nonce and no share op, or the share op and no nonce. */
static int post_share(BecCtx *p, const u8 *aSecret, int iSig, int iCommit,
                      int *pnMade, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  BecFrostNonce nonce;
  BecFrostKey key;
  BecFrostCommit aList[NMAX];
  MySession s;
  u8 aSealed[2*SC+BEC_CRYPTO_LOCAL_OVERHEAD], aPlain[2*SC];
  u8 aY[PT], aPk[NMAX][PT], aZ[SC], aHash[BEC_HASH_BYTES];
  u8 aMsg[BEC_OP_MESSAGE_BYTES], aCommitId[BEC_HASH_BYTES];
  BecBuf op, b;
  char *zWhy = 0;
  int nList = 0, a[2], bHave = 0, bSpent = 0, bActive = 0, iReq = 0, i;
  int rc = bec_ctx_begin(p, &spRoot);
  memset(&nonce, 0, sizeof(nonce));
  memset(&key, 0, sizeof(key));
  memset(&op, 0, sizeof(op));
  memset(&b, 0, sizeof(b));
  memset(&s, 0, sizeof(s));
  if( rc ) return rc;
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_id(g, iCommit, aCommitId);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT sealed FROM bec_store_root_nonce WHERE "
                         "commit_id=?1", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aCommitId, BEC_HASH_BYTES, SQLITE_STATIC);
    if( sqlite3_step(pStmt)==SQLITE_ROW
     && sqlite3_column_bytes(pStmt, 0)==(int)sizeof(aSealed) ){
      memcpy(aSealed, sqlite3_column_blob(pStmt, 0), sizeof(aSealed));
      bHave = 1;
    }
    rc = sqlite3_reset(pStmt);
  }
  /* A commitment with a share op in the DAG never signs again, even if a
  ** copy of this database still holds its nonce: the nonce goes. */
  if( rc==SQLITE_OK && bHave ) rc = commit_spent(p, iCommit, &bSpent);
  if( rc==SQLITE_OK && bHave && !bSpent ){
    if( bec_crypto_local_open(aSecret, aCommitId, aSealed,
                              sizeof(aSealed), aPlain) ){
      *pzErr = sqlite3_mprintf("a stored nonce does not open with this key");
      rc = SQLITE_CORRUPT;
    }
  }
  if( rc==SQLITE_OK && bHave && !bSpent ){
    rc = query_ints(p, "SELECT c.request, r.epoch FROM bec_store_root_commit c"
        " JOIN bec_store_root_request r ON r.seq=c.request WHERE c.seq=?1",
        iCommit, 2, a, &i);
    iReq = a[0];
    s.iSess = a[1];
    if( rc==SQLITE_OK && !i ) rc = SQLITE_CORRUPT;
    if( rc==SQLITE_OK ) rc = session_get(p, s.iSess, s.aSid, &s.k, &s.n);
    if( rc==SQLITE_OK ){
      rc = query_ints(p, "SELECT holder FROM bec_store_root_commit WHERE "
                         "seq=?1", iCommit, 1, a, &i);
      s.id = a[0];
    }
    if( rc==SQLITE_OK ) rc = my_key(p, aSecret, &s, &key, pzErr);
    if( rc==SQLITE_OK ) rc = signers_load(p, iSig, aList, &nList, 0);
    if( rc==SQLITE_OK ) rc = epoch_keys(p, 0, s.iSess, s.n, &bActive, aY, aPk);
    if( rc==SQLITE_OK && !bActive ) rc = SQLITE_CORRUPT;
    if( rc==SQLITE_OK ) rc = root_op_build(p, g, iSig, aY, &op, aMsg);
    if( rc==SQLITE_OK ){
      memcpy(nonce.ad, aPlain, SC);
      memcpy(nonce.ae, &aPlain[SC], SC);
      for(i=0; i<nList; i++) if( aList[i].id==s.id ) nonce.commit = aList[i];
      if( bec_frost_sign(&key, &nonce, aList, nList, aMsg, sizeof(aMsg), aZ,
                         &zWhy) ){
        *pzErr = sqlite3_mprintf("%s", zWhy ? zWhy : "cannot sign");
        rc = SQLITE_ERROR;
      }
    }
    (void)iReq;
  }
  if( rc==SQLITE_OK && bHave ){
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_root_nonce WHERE commit_id=?1",
                      &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_blob(pStmt, 1, aCommitId, BEC_HASH_BYTES, SQLITE_STATIC);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  if( rc==SQLITE_OK && bHave && !bSpent ){
    u8 aSess[BEC_HASH_BYTES];
    rc = bec_graph_id(g, iSig, aSess);
    bec_buf_append_u8(&b, ROOT_VERSION, &rc);
    bec_buf_append(&b, aSess, BEC_HASH_BYTES, &rc);
    bec_buf_append_u8(&b, (u8)s.id, &rc);
    bec_buf_append(&b, aZ, SC, &rc);
    if( rc==SQLITE_OK ){
      rc = bec_dag_append(p, BEC_KIND_ROOT_SHARE, b.a, b.n, aHash, pzErr);
    }
    if( rc==SQLITE_OK ) (*pnMade)++;
  }
  if( rc==SQLITE_OK ) rc = bec_ctx_commit(p, &spRoot);
  else bec_ctx_rollback(p, &spRoot);
  sqlite3_free(zWhy);
  bec_crypto_wipe(&key, sizeof(key));
  bec_crypto_wipe(&nonce, sizeof(nonce));
  bec_crypto_wipe(aPlain, sizeof(aPlain));
  bec_buf_free(&op);
  bec_buf_free(&b);
  return rc;
}

/* Share work: every session naming a commitment whose nonce this replica
** holds, unless the commitment signed already or another signer's
** commitment was spent elsewhere (the session is dead). */
static int post_shares(BecCtx *p, const u8 *aSecret, int *pnMade,
                       char **pzErr){
  int *aRow = 0, nRow = 0, i, rc;
  rc = query_rows(p, "SELECT s.signing, s.commit_seq FROM "
      "bec_store_root_signer s JOIN bec_store_op o ON o.seq=s.commit_seq "
      "JOIN bec_store_root_nonce n ON n.commit_id=o.hash WHERE ?1 AND "
      "NOT EXISTS (SELECT 1 FROM bec_store_root_signer s2 JOIN "
      "bec_store_root_share sh ON sh.signing=s2.signing AND "
      "sh.holder=s2.holder WHERE s2.commit_seq IN (SELECT commit_seq FROM "
      "bec_store_root_signer WHERE signing=s.signing) "
      "AND s2.signing<>s.signing) ORDER BY s.signing", 1, 2, &aRow, &nRow);
  for(i=0; rc==SQLITE_OK && i<nRow; i++){
    rc = post_share(p, aSecret, aRow[2*i], aRow[2*i+1], pnMade, pzErr);
  }
  sqlite3_free(aRow);
  return rc;
}

/* Aggregation, by any replica: a session with a share of every signer and
** no root op yet becomes its root op, accepted like a peer's (so its
** signature is checked by the one signature check). */
static int aggregate(BecCtx *p, int *pnMade, char **pzErr){
  int *aSig = 0, nSig = 0, i, rc;
  rc = query_rows(p, "SELECT g.seq FROM bec_store_root_signing g WHERE ?1 "
      "AND NOT EXISTS (SELECT 1 FROM bec_store_root_done d WHERE "
      "d.signing=g.seq) AND (SELECT count(DISTINCT holder) FROM "
      "bec_store_root_share sh WHERE sh.signing=g.seq)=(SELECT count(*) FROM "
      "bec_store_root_signer s WHERE s.signing=g.seq) ORDER BY g.seq", 1, 1,
      &aSig, &nSig);
  for(i=0; rc==SQLITE_OK && i<nSig; i++){
    sqlite3_stmt *pStmt = 0;
    BecGraph *g = 0;
    BecFrostCommit aList[NMAX];
    u8 aZ[NMAX][SC], aPk[NMAX][PT], aPkList[NMAX][PT], aY[PT], aArgs[ARGS];
    u8 aSid[SID], aMsg[BEC_OP_MESSAGE_BYTES], aRs[BEC_FROST_SIG_BYTES];
    BecBuf op;
    BecOp hdr;
    char *zWhy = 0;
    int nList = 0, a[2], b = 0, iEpoch = 0, k = 0, n = 0, bActive = 0, j;
    int iBad = 0;
    memset(&op, 0, sizeof(op));
    rc = bec_graph_get(p, &g, pzErr);
    if( rc==SQLITE_OK ) rc = signers_load(p, aSig[i], aList, &nList, 0);
    if( rc==SQLITE_OK ){
      rc = query_ints(p, "SELECT request FROM bec_store_root_signing WHERE "
                         "seq=?1", aSig[i], 1, a, &b);
    }
    if( rc==SQLITE_OK ) rc = request_get(p, a[0], &iEpoch, aArgs, &b);
    if( rc==SQLITE_OK ) rc = session_get(p, iEpoch, aSid, &k, &n);
    if( rc==SQLITE_OK ) rc = epoch_keys(p, 0, iEpoch, n, &bActive, aY, aPk);
    if( rc || !bActive ){ bec_buf_free(&op); continue; }
    rc = bec_ctx_stmt(p, "SELECT holder, z FROM bec_store_root_share WHERE "
                         "signing=?1 ORDER BY holder, seq", &pStmt);
    if( rc==SQLITE_OK ){
      int iLast = 0;
      j = 0;
      sqlite3_bind_int(pStmt, 1, aSig[i]);
      while( sqlite3_step(pStmt)==SQLITE_ROW ){
        int id = sqlite3_column_int(pStmt, 0);
        if( id==iLast ) continue;
        iLast = id;
        if( j>=nList || aList[j].id!=id || sqlite3_column_bytes(pStmt, 1)!=SC ){
          rc = SQLITE_CORRUPT;
          break;
        }
        memcpy(aZ[j], sqlite3_column_blob(pStmt, 1), SC);
        memcpy(aPkList[j], aPk[id-1], PT);
        j++;
      }
      if( rc ) sqlite3_reset(pStmt);
      else rc = sqlite3_reset(pStmt);
      if( rc==SQLITE_OK && j!=nList ) rc = SQLITE_CORRUPT;
    }
    if( rc==SQLITE_OK ) rc = root_op_build(p, g, aSig[i], aY, &op, aMsg);
    if( rc==SQLITE_OK
     && bec_frost_aggregate(aList, nList, (const u8 (*)[SC])aZ,
                            (const u8 (*)[PT])aPkList, aY, aMsg, sizeof(aMsg),
                            aRs, &iBad, &zWhy)==SQLITE_OK
     && bec_op_decode_header(op.a, op.n, &hdr, &zWhy)==SQLITE_OK ){
      BecAccept res;
      memcpy((u8*)hdr.aSig, aRs, BEC_FROST_SIG_BYTES);
      rc = bec_dag_accept(p, op.a, op.n, 0, &res, pzErr);
      if( rc==SQLITE_OK && res.eOutcome==BEC_ACCEPT_STORED ) (*pnMade)++;
      sqlite3_free(res.zReason);
    }
    sqlite3_free(zWhy);
    bec_buf_free(&op);
  }
  sqlite3_free(aSig);
  return rc;
}

/* bec_root_step's signing work, in order: sessions, shares, aggregates. */
static int step_signing(BecCtx *p, const u8 *aSecret, int *pnMade,
                        char **pzErr){
  BecGraph *g = 0;
  MySession s;
  int b = 0;
  int rc = my_epoch(p, &s, &b);
  if( rc==SQLITE_OK && b ) rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK && b ) rc = post_sessions(p, g, &s, pnMade, pzErr);
  if( rc==SQLITE_OK ) rc = post_shares(p, aSecret, pnMade, pzErr);
  if( rc==SQLITE_OK ) rc = aggregate(p, pnMade, pzErr);
  return rc;
}

/* Reports rc from a signing function zFunc: the message gets its prefix. */
static void fn_fail(sqlite3_context *ctx, BecCtx *p, const char *zFunc,
                    int rc, char *zErr){
  if( zErr==0 ) zErr = sqlite3_mprintf("%s", bec_rc_text(p->db, rc));
  bec_fn_error_in(ctx, zFunc, rc, zErr);
}

/* The role of the last add of aKey in this replica's view (0: none). */
static int last_grant_role(BecCtx *p, const u8 *aKey, int *pRole){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT o.role FROM bec_store_op o JOIN "
      "bec_store_author a ON a.id=o.target WHERE a.pubkey=?1 AND o.role>0 "
      "ORDER BY o.seq DESC LIMIT 1", &pStmt);
  *pRole = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aKey, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *pRole = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

static int is_member(BecCtx *p, const u8 *aKey, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_member WHERE pubkey=?1",
                        &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aKey, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  *pb = sqlite3_step(pStmt)==SQLITE_ROW;
  return sqlite3_reset(pStmt);
}

static int cmp_key(const void *a, const void *b){
  return memcmp(a, b, BEC_PUBKEY_BYTES);
}

/* SQLITE_CONSTRAINT, with "<zFunc>: holder <key>... is not a current
** member", unless the n keys at aPk are current members in this view. */
static int holders_are_members(BecCtx *p, const char *zFunc, const u8 *aPk,
                               int n, char **pzErr){
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int bMember = 0;
    rc = is_member(p, &aPk[i*BEC_PUBKEY_BYTES], &bMember);
    if( rc==SQLITE_OK && !bMember ){
      char z[17];
      bec_hex_encode(&aPk[i*BEC_PUBKEY_BYTES], 8, z);
      *pzErr = sqlite3_mprintf("%s: holder %s... is not a current member",
                               zFunc, z);
      rc = SQLITE_CONSTRAINT;
    }
  }
  return rc;
}

/* The holders given as a JSON array of 64-hex keys (read with SQLite's
** json_each), sorted and checked distinct, into aPk (NMAX keys), *pn.
** SQLITE_MISUSE (or SQLite's error) with *pzErr if they are not. */
static int holders_parse(BecCtx *p, sqlite3_value *pList, u8 *aPk, int *pn,
                         char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int n = 0, i, rc;
  rc = sqlite3_prepare_v2(p->db, "SELECT type, value FROM json_each(?1)", -1,
                          &pStmt, 0);
  if( rc==SQLITE_OK ){
    sqlite3_bind_value(pStmt, 1, pList);
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      const char *zType = (const char*)sqlite3_column_text(pStmt, 0);
      if( n>=NMAX ){
        *pzErr = sqlite3_mprintf("more than %d holders", NMAX);
        break;
      }
      if( zType==0 || strcmp(zType, "text")
       || !bec_fn_arg32(sqlite3_column_value(pStmt, 1),
                        &aPk[n*BEC_PUBKEY_BYTES]) ){
        *pzErr = sqlite3_mprintf("holder %d is not a public key "
                                 "(64 hex characters)", n+1);
        break;
      }
      n++;
    }
    rc = sqlite3_finalize(pStmt);
    if( rc && *pzErr==0 ){
      *pzErr = sqlite3_mprintf("the holders must be a JSON array of public "
                               "keys: %s", sqlite3_errmsg(p->db));
    }
  }
  if( rc==SQLITE_OK && *pzErr ) rc = SQLITE_MISUSE;
  if( rc==SQLITE_OK ){
    qsort(aPk, (size_t)n, BEC_PUBKEY_BYTES, cmp_key);
    for(i=1; i<n; i++){
      if( memcmp(&aPk[(i-1)*BEC_PUBKEY_BYTES], &aPk[i*BEC_PUBKEY_BYTES],
                 BEC_PUBKEY_BYTES)==0 ){
        *pzErr = sqlite3_mprintf("a holder is named twice");
        rc = SQLITE_MISUSE;
        break;
      }
    }
  }
  *pn = n;
  return rc;
}

/* bec_root_propose(action, target [, role]): a root-request of the active
** epoch, which counts as this holder's approval; returns its id. */
static void fnRootPropose(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  static const char *azAct[] = { 0, "add", "remove", "role", "restore",
                                  "holders", "attest" };
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  const char *zAct = (const char*)sqlite3_value_text(argv[0]);
  const u8 *aSecret = 0;
  u8 aArgs[ARGS+3+NMAX*BEC_PUBKEY_BYTES], aHash[BEC_HASH_BYTES];
  MySession s;
  char *zErr = 0;
  int eAct = 0, role = 0, b = 0, bMember = 1, nArgs = ARGS, rc = SQLITE_OK;
  memset(aArgs, 0, sizeof(aArgs));
  for(eAct=ACT_ATTEST; eAct>0; eAct--){
    if( zAct && strcmp(zAct, azAct[eAct])==0 ) break;
  }
  if( eAct==0 ){
    zErr = sqlite3_mprintf("unknown action '%s' (add, remove, role, restore,"
                           " holders, attest)", zAct ? zAct : "");
    rc = SQLITE_MISUSE;
  }else if( eAct==ACT_ATTEST ){
    /* ('attest', checkpoint, digest): the digest as the caller read it
    ** (bec_checkpoints.digest); a wrong one is a dispute, not a seal. */
    if( argc!=3 || !bec_fn_arg32(argv[1], &aArgs[1])
     || !bec_fn_arg32(argv[2], &aArgs[ARGS]) ){
      zErr = sqlite3_mprintf("'attest' takes a checkpoint id and a digest "
                             "(64 hex each)");
      rc = SQLITE_MISUSE;
    }
    nArgs = ARGS+BEC_HASH_BYTES;
  }else if( eAct==ACT_HOLDERS ){
    /* ('holders', json_array(pk, ...), k): the new holders, as a root-open
    ** lists them, after the args. */
    int n = 0, k = argc==3 ? (int)sqlite3_value_int64(argv[2]) : 0;
    if( argc!=3 || sqlite3_value_type(argv[2])!=SQLITE_INTEGER ){
      zErr = sqlite3_mprintf("'holders' takes json_array(pk, ...) and k");
      rc = SQLITE_MISUSE;
    }else{
      rc = holders_parse(p, argv[1], &aArgs[ARGS+3], &n, &zErr);
    }
    if( rc==SQLITE_OK && !bounds_ok(k, n) ){
      zErr = sqlite3_mprintf("holders: %d-of-%d: need 2 <= k <= n <= %d and "
                             "2k > n", k, n, NMAX);
      rc = SQLITE_MISUSE;
    }
    aArgs[ARGS] = ROOT_VERSION;
    aArgs[ARGS+1] = (u8)k;
    aArgs[ARGS+2] = (u8)n;
    nArgs = ARGS+3+n*BEC_PUBKEY_BYTES;
    if( rc==SQLITE_OK ) rc = bec_dag_ensure_schema(p, &zErr);
    if( rc==SQLITE_OK ) rc = holders_are_members(p, "holders", &aArgs[ARGS+3],
                                                 n, &zErr);
  }else if( !bec_fn_arg32(argv[1], &aArgs[1]) ){
    zErr = sqlite3_mprintf("the target must be a public key (64 hex)");
    rc = SQLITE_MISUSE;
  }else if( (eAct==ACT_ADD || eAct==ACT_ROLE)!=(argc==3) ){
    zErr = sqlite3_mprintf("'%s' takes %s", zAct, argc==3 ? "no role"
                           : "a role ('admin', 'member' or 'relay')");
    rc = SQLITE_MISUSE;
  }else if( argc==3 ){
    role = bec_role_from_name((const char*)sqlite3_value_text(argv[2]));
    if( role==0 ){
      zErr = sqlite3_mprintf("unknown role (admin, member, relay)");
      rc = SQLITE_MISUSE;
    }
  }
  if( rc==SQLITE_OK ) rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = bec_dag_secret(p, &aSecret, &zErr);
  if( rc==SQLITE_OK ) rc = my_epoch(p, &s, &b);
  if( rc==SQLITE_OK && !b ){
    zErr = sqlite3_mprintf("this replica's key is no holder of an active "
                           "root");
    rc = SQLITE_AUTH;
  }
  if( rc==SQLITE_OK && eAct<ACT_HOLDERS ) rc = is_member(p, &aArgs[1], &bMember);
  if( rc==SQLITE_OK && eAct==ACT_RESTORE ){
    rc = last_grant_role(p, &aArgs[1], &role);
    if( rc==SQLITE_OK && (bMember || role==0) ){
      zErr = sqlite3_mprintf("restore: %s", bMember ? "the key is a current "
                             "member" : "the key was never granted a role");
      rc = SQLITE_CONSTRAINT;
    }
  }
  if( rc==SQLITE_OK && eAct==ACT_REMOVE && !bMember ){
    zErr = sqlite3_mprintf("remove: the key is not a current member");
    rc = SQLITE_CONSTRAINT;
  }
  aArgs[0] = (u8)eAct;
  aArgs[1+BEC_PUBKEY_BYTES] = (u8)role;
  if( rc==SQLITE_OK ){
    rc = post_commit(p, aSecret, &s, BEC_KIND_ROOT_REQUEST, s.aSid, aArgs,
                     nArgs, aHash, &zErr);
  }
  if( rc ) fn_fail(ctx, p, "bec_root_propose", rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

/* bec_root_approve(request): a fresh commitment of this holder for the
** request; returns the request's approval count in this view. */
static void fnRootApprove(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  const u8 *aSecret = 0;
  u8 aReq[BEC_HASH_BYTES], aArgs[ARGS], aHash[BEC_HASH_BYTES];
  MySession s;
  char *zErr = 0;
  int iReq = 0, iEpoch = 0, b = 0, a[1], *aMine = 0, nMine = 0, i;
  int rc = SQLITE_OK;
  (void)argc;
  if( !bec_fn_arg32(argv[0], aReq) ){
    zErr = sqlite3_mprintf("the request id must be 64 hex characters");
    rc = SQLITE_MISUSE;
  }
  if( rc==SQLITE_OK ) rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = bec_dag_secret(p, &aSecret, &zErr);
  if( rc==SQLITE_OK ) rc = bec_dag_seq_of(p, aReq, &iReq);
  if( rc==SQLITE_OK ) rc = request_get(p, iReq, &iEpoch, aArgs, &b);
  if( rc==SQLITE_OK && !b ){
    zErr = sqlite3_mprintf("no such request");
    rc = SQLITE_NOTFOUND;
  }
  if( rc==SQLITE_OK ) rc = my_epoch(p, &s, &b);
  if( rc==SQLITE_OK && (!b || s.iSess!=iEpoch) ){
    zErr = sqlite3_mprintf("this replica's key is no holder of the request's "
                           "epoch, or that epoch is not active");
    rc = SQLITE_AUTH;
  }
  if( rc==SQLITE_OK ){
    rc = query_ints(p, "SELECT 1 FROM bec_store_root_done WHERE request=?1",
                    iReq, 1, a, &b);
    if( rc==SQLITE_OK && b ){
      zErr = sqlite3_mprintf("the request is done");
      rc = SQLITE_CONSTRAINT;
    }
  }
  /* A holder approves again only once every commitment it posted for the
  ** request has signed (a session it signed in died). */
  if( rc==SQLITE_OK ){
    sqlite3_stmt *pStmt = 0;
    rc = bec_ctx_stmt(p, "SELECT c.seq FROM bec_store_root_commit c WHERE "
                         "c.request=?1 AND c.holder=?2", &pStmt);
    if( rc==SQLITE_OK ){
      BecInts mine;
      memset(&mine, 0, sizeof(mine));
      sqlite3_bind_int(pStmt, 1, iReq);
      sqlite3_bind_int(pStmt, 2, s.id);
      rc = bec_stmt_ints(pStmt, &mine);
      aMine = mine.a;                  /* freed below with sqlite3_free */
      nMine = mine.n;
    }
    for(i=0; rc==SQLITE_OK && i<nMine; i++){
      rc = commit_spent(p, aMine[i], &b);
      if( rc==SQLITE_OK && !b ){
        zErr = sqlite3_mprintf("this holder approved the request already");
        rc = SQLITE_CONSTRAINT;
      }
    }
    sqlite3_free(aMine);
  }
  if( rc==SQLITE_OK ){
    rc = post_commit(p, aSecret, &s, BEC_KIND_ROOT_APPROVE, aReq, 0, 0, aHash,
                     &zErr);
  }
  if( rc==SQLITE_OK ){
    rc = query_ints(p, "SELECT count(DISTINCT holder) FROM "
                       "bec_store_root_commit WHERE request=?1", iReq, 1, a, &b);
  }
  if( rc ) fn_fail(ctx, p, "bec_root_approve", rc, zErr);
  else sqlite3_result_int(ctx, a[0]);
}

/* bec_root_step(): the deal and the ack due from this replica's key in
** every generating session, then the signing work (sessions, shares,
** aggregates); returns the number of ops made. */
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
  if( rc==SQLITE_OK ) rc = step_signing(p, aSecret, &nMade, &zErr);
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

/* The checks of bec_root_open that depend on this replica's view: the
** caller created the group, every holder is a current member, and no root
** is active. */
static int open_local_check(BecCtx *p, const u8 *aPk, int n, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  const u8 *aCreator;
  int rc = bec_graph_get(p, &g, pzErr);
  int bActive = 0;
  if( rc ) return rc;
  aCreator = creator_key(g);
  if( aCreator==0 || memcmp(aCreator, p->aPub, BEC_PUBKEY_BYTES) ){
    *pzErr = sqlite3_mprintf("bec_root_open: only the group's creator may "
                             "open a root");
    return SQLITE_AUTH;
  }
  rc = holders_are_members(p, "bec_root_open", aPk, n, pzErr);
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
  u8 aPk[NMAX*BEC_PUBKEY_BYTES];
  u8 aHash[BEC_HASH_BYTES];
  BecBuf b;
  char *zErr = 0;
  int n = 0, k, rc = SQLITE_OK;
  (void)argc;
  memset(&b, 0, sizeof(b));
  if( sqlite3_value_type(argv[0])!=SQLITE_INTEGER ){
    bec_fn_error(ctx, SQLITE_MISUSE, sqlite3_mprintf("bec_root_open: k must "
                 "be an integer"));
    return;
  }
  k = (int)sqlite3_value_int64(argv[0]);
  if( sqlite3_value_int64(argv[0])!=k ) k = 0;
  rc = holders_parse(p, argv[1], aPk, &n, &zErr);
  if( rc ){
    bec_fn_error_in(ctx, "bec_root_open", rc, zErr);
    return;
  }
  if( !bounds_ok(k, n) ){
    bec_fn_error(ctx, SQLITE_MISUSE, sqlite3_mprintf("bec_root_open: %d-of-%d:"
                 " need 2 <= k <= n <= %d and 2k > n", k, n, NMAX));
    return;
  }
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ){
    const u8 *aSecret = 0;       /* loads the key: p->aPub is the caller */
    rc = bec_dag_secret(p, &aSecret, &zErr);
  }
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

/* bec_root_holders: the holders of those sessions; member = 0 for a
** holder who is no longer a current member (its share still counts until
** the holders change: the tools prompt for a re-key). */
static const BecTableDef holderTable = {
  "bec_root_holders",
  "CREATE TABLE x(session TEXT, id INTEGER, pk TEXT, confirmed INTEGER,"
  " share_key TEXT, member INTEGER)",
  "SELECT lower(hex(s.sid)), h.id, lower(hex(h.pk)), h.confirmed, "
  HEXOR("h.share_key") ", EXISTS (SELECT 1 FROM bec_store_member m"
  " WHERE m.pubkey=h.pk)"
  " FROM bec_store_root_session s JOIN bec_store_root_holder h"
  " ON h.session=s.seq WHERE s.state<>'abandoned'",
  "ORDER BY s.seq, h.id",
  { { 0, 1, "s.sid=?" } },
  0, 0 };

/* bec_root_requests: the requests of every epoch. */
static const BecTableDef requestTable = {
  "bec_root_requests",
  "CREATE TABLE x(id TEXT, action TEXT, target TEXT, approvals INTEGER,"
  " state TEXT)",
  "SELECT lower(hex(o.hash)), CASE hex(substr(r.args, 1, 1))"
  " WHEN '01' THEN 'add' WHEN '02' THEN 'remove' WHEN '03' THEN 'role'"
  " WHEN '04' THEN 'restore' WHEN '06' THEN 'attest' ELSE 'holders' END,"
  " CASE WHEN substr(r.args, 1, 1)=x'05' THEN NULL"
  "  ELSE lower(hex(substr(r.args, 2, 32))) END, r.approvals,"
  " CASE WHEN EXISTS (SELECT 1 FROM bec_store_root_done d"
  "   WHERE d.request=r.seq) THEN 'done'"
  " WHEN s.state<>'active' THEN 'void'"
  " WHEN r.approvals>=s.k THEN 'signing' ELSE 'pending' END"
  " FROM (SELECT seq, epoch, args, (SELECT count(DISTINCT holder) FROM"
  "   bec_store_root_commit c WHERE c.request=q.seq) AS approvals"
  "   FROM bec_store_root_request q) r"
  " JOIN bec_store_op o ON o.seq=r.seq"
  " JOIN bec_store_root_session s ON s.seq=r.epoch WHERE 1",
  "ORDER BY r.seq",
  { { 0, 1, BEC_OP_ID_IS("o", "substr(?,1,8)", "?") } },
  0, 0 };

int bec_root_register(sqlite3 *db, BecCtx *p){
  static const BecFunc aFunc[] = {
    { "bec_root_propose", 2, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRootPropose },
    { "bec_root_propose", 3, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRootPropose },
    { "bec_root_approve", 1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRootApprove },
    { "bec_root_open", 2, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRootOpen },
    { "bec_root_step", 0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRootStep },
  };
  int rc = bec_ctx_register_funcs(db, p, aFunc,
                                  (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table(db, p, &rootTable);
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table(db, p, &holderTable);
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table(db, p, &requestTable);
  return rc;
}

/* For the digest of a checkpoint's cut (bec_checkpoint.c, bec-cut-v4): the
** seq of the root-open of the one root epoch active in the past aMark (0:
** every stored op), as bec_root_key_in_past finds it; 0 if none. */
int bec_root_active_session(BecCtx *p, const u8 *aMark, int *piSession){
  return active_in_past(p, aMark, piSession, 0, 0);
}
