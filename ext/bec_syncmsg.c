/*
** bec_syncmsg.c - the sync message, versions 1 and 2 (2: one extension
** byte more): bytes in, bytes out, no tables.  docs/sync.md specifies the
** same bytes for humans:
**
**   msg := version:u8 (1, or 2 when an extension byte follows the flags)
**          flags:u8      bit 0 OFFER: first message of a session
**                        bit 1 SHARED_IS_HEADS: the shared list is omitted
**                              and equals the heads
**                        bit 2 FILTER: a filter follows the shared list
**                        bit 3 KNOWS_ALL: the sender holds every head of
**                              the message it answers
**                        bit 4 SAME_HEADS: the head list is omitted and
**                              equals the heads of the message it answers
**                              (never in an offer)
**                        bit 5 INVITE: a redemption follows the round
**                        bit 6 BUNDLE: the ops travel as a bundle
**                        bit 7 PRUNED: a pruned list follows the filter
**          [ext:u8] if version 2 (the flag byte is full), never 0:
**                        bit 0 WANT_SNAPSHOT: the sender joins by snapshot
**                              and holds no op yet (docs/compaction.md)
**                        bit 1 SNAPSHOT: a snapshot follows the pruned list
**                        bit 2 NO_SNAPSHOT: the sender has no snapshot to
**                              give (no sealed checkpoint, or pruned)
**                        bit 3 READER (with WANT_SNAPSHOT): the key the
**                              sender reads an encrypted group with follows
**                        bit 4 SEALED (with SNAPSHOT): the snapshot is
**                              sealed to the asker's key (docs/encryption.md)
**                        (SNAPSHOT and NO_SNAPSHOT exclude each other)
**                        bit 5 WANT_BAND: the sender installed a snapshot
**                              and asks for a longer band
**                        bit 6 BAND: a longer band follows
**                        bit 7 NO_BAND: the sender cannot give a longer
**                              band (BAND and NO_BAND exclude each other)
**          group_tag:8 bytes (first 8 bytes of the group id)
**          session:8 bytes (chosen at random by the offerer, echoed)
**          round:varint (0 in an offer; a reply is the round it answers
**                        plus 1; at most BEC_SYNC_MAX_ROUNDS)
**          [invite:128 bytes] if INVITE (flag bit 5): an invitation's
**                        redemption, sent by a replica waiting to be added
**                        (bec_invite.c)
**          [reader:32 bytes] if READER (ext bit 3): the Ed25519 key of the
**                        joiner's identity, to which a provider of an
**                        encrypted group seals the snapshot
**          [n_head:varint, head:32 bytes * n_head]     (strictly increasing)
**                                                      unless SAME_HEADS
**          [n_shared:varint, shared:32 bytes * n_shared] unless
**                                                      SHARED_IS_HEADS
**          [filter] if FILTER:
**              n_bit:varint (a multiple of 8, at most 8*MAX_FILTER_BYTES)
**              if n_bit > 0: probes:u8 (1..32), seed:u64 little-endian,
**                            bits:n_bit/8 bytes (bit j is byte j/8,
**                            value 1<<(j%8))
**          [pruned] if PRUNED (flag bit 7): ops the receiver lacks whose
**              bodies the sender dropped (bec_prune), so it cannot send them:
**              checkpoint:32 bytes (the one it pruned below),
**              n_pruned:varint (1..MAX_NEEDS), pruned:32 bytes * n_pruned
**                                                      (strictly increasing)
**          [snapshot] if SNAPSHOT (ext bit 1): n_snap:varint (>= 1),
**              snap:n_snap bytes (docs/wire-format.md "Snapshot"); with
**              SEALED: checkpoint:32 || box:88 || nonce:24 || ct (the
**              snapshot and a 16-byte tag; bec_e2ee.c), n_snap >= 161
**          [want_band] if WANT_BAND (ext bit 5): checkpoint:32 bytes (the
**              one installed), n_held:varint (its band ops),
**              n_pred:varint (1..MAX_BAND_PREDS), pred:32 bytes * n_pred
**              (strictly increasing: the ops an op waiting there names)
**          [band] if BAND (ext bit 6): n_band:varint (1..BEC_BAND_MAX_BYTES),
**              band:n_band bytes (a snapshot's band section:
**              docs/wire-format.md "Snapshot")
**          n_need:varint, need:32 bytes * n_need       (strictly increasing)
**          n_op:varint, then n_op times: n_body:varint, body:n_body bytes
**                                        (an op, docs/wire-format.md)
**            or, if BUNDLE (flag bit 6), a bundle of the ops (bec_bundle.c),
**            sent for BEC_SYNC_BUNDLE_MIN_OPS ops or more
**          nothing after the last op
**
** Every count is checked against its BEC_SYNC_MAX_* limit before anything
** is read or allocated, and the message as a whole against
** BEC_SYNC_MAX_MSG_BYTES.  The decoder accepts only the canonical form
** (minimal varints, sorted lists, no unknown flag, no trailing byte).
*/
#include "becInt.h"

static int bad(char **pzErr, const char *zWhat){
  *pzErr = sqlite3_mprintf("malformed sync message: %s", zWhat);
  return BEC_MALFORMED;
}

/* Reads a list of n 32-byte hashes, strictly increasing. */
static int read_hashes(BecReader *pRd, int mx, int *pn, const u8 **pa,
                       char **pzErr, const char *zWhat){
  u64 n = 0;
  u64 i;
  if( bec_read_varint(pRd, &n, (u64)mx) ){
    *pzErr = sqlite3_mprintf("malformed sync message: bad %s count (at most "
                             "%d)", zWhat, mx);
    return BEC_MALFORMED;
  }
  if( bec_read_bytes(pRd, (i64)n*BEC_HASH_BYTES, pa) ){
    return bad(pzErr, "truncated hash list");
  }
  for(i=1; i<n; i++){
    if( memcmp(&(*pa)[(i-1)*BEC_HASH_BYTES], &(*pa)[i*BEC_HASH_BYTES],
               BEC_HASH_BYTES)>=0 ){
      *pzErr = sqlite3_mprintf("malformed sync message: %s list not sorted "
                               "and unique", zWhat);
      return BEC_MALFORMED;
    }
  }
  *pn = (int)n;
  return SQLITE_OK;
}

int bec_syncmsg_decode(const u8 *a, i64 n, BecSyncMsg *pMsg, char **pzErr){
  BecReader rd;
  u8 version = 0, flags = 0;
  u64 v = 0, nOp = 0, i;
  int rc;

  memset(pMsg, 0, sizeof(*pMsg));
  *pzErr = 0;
  if( n>BEC_SYNC_MAX_MSG_BYTES ){
    *pzErr = sqlite3_mprintf("sync message too large: %lld bytes (limit %d)",
                             (long long)n, BEC_SYNC_MAX_MSG_BYTES);
    return SQLITE_TOOBIG;
  }
  rd.a = a; rd.n = n; rd.i = 0;
  if( bec_read_u8(&rd, &version) ) return bad(pzErr, "empty");
  if( version!=BEC_SYNC_VERSION && version!=BEC_SYNC_VERSION_EXT ){
    *pzErr = sqlite3_mprintf("malformed sync message: unknown version %d "
                             "(this build speaks %d and %d)", version,
                             BEC_SYNC_VERSION, BEC_SYNC_VERSION_EXT);
    return BEC_MALFORMED;
  }
  if( bec_read_u8(&rd, &flags) ) return bad(pzErr, "truncated header");
  if( flags & ~BEC_SYNC_F_ALL ) return bad(pzErr, "unknown flags");
  pMsg->flags = flags;
  if( version==BEC_SYNC_VERSION_EXT ){
    u8 ext = 0;
    if( bec_read_u8(&rd, &ext) ) return bad(pzErr, "truncated header");
    /* Version 1 says "no extension": a zero byte is not canonical. */
    if( ext==0 ) return bad(pzErr, "an empty extension byte");
    if( ext & ~BEC_SYNC_X_ALL ) return bad(pzErr, "unknown extension bits");
    if( (ext & BEC_SYNC_X_SNAPSHOT) && (ext & BEC_SYNC_X_NO_SNAPSHOT) ){
      return bad(pzErr, "a snapshot and none");
    }
    if( (ext & BEC_SYNC_X_BAND) && (ext & BEC_SYNC_X_NO_BAND) ){
      return bad(pzErr, "a band and none");
    }
    if( (ext & BEC_SYNC_X_READER) && !(ext & BEC_SYNC_X_WANT_SNAPSHOT) ){
      return bad(pzErr, "a reader key without a wish for a snapshot");
    }
    if( (ext & BEC_SYNC_X_SEALED) && !(ext & BEC_SYNC_X_SNAPSHOT) ){
      return bad(pzErr, "sealed without a snapshot");
    }
    pMsg->ext = ext;
  }
  if( bec_read_bytes(&rd, BEC_GROUP_TAG_BYTES, &pMsg->aGroupTag)
   || bec_read_bytes(&rd, BEC_SYNC_SESSION_BYTES, &pMsg->aSession) ){
    return bad(pzErr, "truncated header");
  }
  if( bec_read_varint(&rd, &v, BEC_SYNC_MAX_ROUNDS) ){
    *pzErr = sqlite3_mprintf("malformed sync message: bad round (a session "
                             "has at most %d)", BEC_SYNC_MAX_ROUNDS);
    return BEC_MALFORMED;
  }
  pMsg->iRound = (i64)v;
  if( (flags & BEC_SYNC_F_INVITE)
   && bec_read_bytes(&rd, BEC_INVITE_REDEMPTION_BYTES, &pMsg->aInvite) ){
    return bad(pzErr, "truncated invitation");
  }
  if( (pMsg->ext & BEC_SYNC_X_READER)
   && bec_read_bytes(&rd, BEC_PUBKEY_BYTES, &pMsg->aReader) ){
    return bad(pzErr, "truncated reader key");
  }
  if( (flags & BEC_SYNC_F_OFFER) && v!=0 ) return bad(pzErr, "offer not in round 0");
  if( (flags & BEC_SYNC_F_OFFER) && (flags & BEC_SYNC_F_SAME_HEADS) ){
    return bad(pzErr, "an offer answers no heads");
  }
  if( (flags & BEC_SYNC_F_SAME_HEADS)==0 ){
    /* With SAME_HEADS the session layer fills aHead in. */
    rc = read_hashes(&rd, BEC_SYNC_MAX_HEADS, &pMsg->nHead, &pMsg->aHead,
                     pzErr, "head");
    if( rc ) return rc;
  }
  if( flags & BEC_SYNC_F_SHARED_IS_HEADS ){
    pMsg->nShared = pMsg->nHead;     /* (filled in later with SAME_HEADS) */
    pMsg->aShared = pMsg->aHead;
  }else{
    rc = read_hashes(&rd, BEC_SYNC_MAX_HEADS, &pMsg->nShared, &pMsg->aShared,
                     pzErr, "shared head");
    if( rc ) return rc;
  }
  if( flags & BEC_SYNC_F_FILTER ){
    u64 nBit = 0;
    if( bec_read_varint(&rd, &nBit, (u64)BEC_SYNC_MAX_FILTER_BYTES*8)
     || (nBit & 7) ){
      return bad(pzErr, "bad filter size");
    }
    if( nBit ){
      u8 nProbe = 0;
      const u8 *aSeed = 0;
      if( bec_read_u8(&rd, &nProbe) || bec_read_bytes(&rd, 8, &aSeed) ){
        return bad(pzErr, "truncated filter");
      }
      if( nProbe<1 || nProbe>BEC_SYNC_MAX_PROBES ){
        return bad(pzErr, "bad filter probe count");
      }
      if( bec_read_bytes(&rd, (i64)(nBit/8), (const u8**)&pMsg->filter.aBit) ){
        return bad(pzErr, "truncated filter");
      }
      for(i=0; i<8; i++) pMsg->filter.seed |= (u64)aSeed[i] << (8*i);
      pMsg->filter.nProbe = nProbe;
      pMsg->filter.nBit = (i64)nBit;
    }
  }
  if( flags & BEC_SYNC_F_PRUNED ){
    if( bec_read_bytes(&rd, BEC_HASH_BYTES, &pMsg->aPrunedBelow) ){
      return bad(pzErr, "truncated pruned list");
    }
    rc = read_hashes(&rd, BEC_SYNC_MAX_NEEDS, &pMsg->nPruned, &pMsg->aPruned,
                     pzErr, "pruned");
    if( rc ) return rc;
    if( pMsg->nPruned==0 ) return bad(pzErr, "empty pruned list");
  }
  if( pMsg->ext & BEC_SYNC_X_SNAPSHOT ){
    u64 nSnap = 0;
    if( bec_read_varint(&rd, &nSnap, (u64)(rd.n - rd.i)) || nSnap==0
     || bec_read_bytes(&rd, (i64)nSnap, &pMsg->aSnap) ){
      return bad(pzErr, "bad snapshot length");
    }
    pMsg->nSnap = (i64)nSnap;
    if( (pMsg->ext & BEC_SYNC_X_SEALED)
     && pMsg->nSnap<BEC_E2EE_SNAPSHOT_SEALED_MIN ){
      return bad(pzErr, "a sealed snapshot too short to hold one");
    }
  }
  if( pMsg->ext & BEC_SYNC_X_WANT_BAND ){
    if( bec_read_bytes(&rd, BEC_HASH_BYTES, &pMsg->aBandK)
     || bec_read_varint(&rd, &pMsg->nBandHeld, (u64)1<<40) ){
      return bad(pzErr, "truncated band wish");
    }
    rc = read_hashes(&rd, BEC_SYNC_MAX_BAND_PREDS, &pMsg->nBandPred,
                     &pMsg->aBandPred, pzErr, "band op");
    if( rc ) return rc;
    if( pMsg->nBandPred==0 ) return bad(pzErr, "a band wish without ops");
  }
  if( pMsg->ext & BEC_SYNC_X_BAND ){
    u64 nBand = 0;
    if( bec_read_varint(&rd, &nBand, BEC_BAND_MAX_BYTES) || nBand==0
     || bec_read_bytes(&rd, (i64)nBand, &pMsg->aBand) ){
      return bad(pzErr, "bad band length");
    }
    pMsg->nBand = (i64)nBand;
  }
  rc = read_hashes(&rd, BEC_SYNC_MAX_NEEDS, &pMsg->nNeed, &pMsg->aNeed, pzErr,
                   "need");
  if( rc ) return rc;
  if( flags & BEC_SYNC_F_BUNDLE ){
    /* The rest is a bundle: its ops are rebuilt into pMsg->owned. */
    int n2 = 0;
    rc = bec_bundle_decode(&a[rd.i], rd.n - rd.i, pMsg->aGroupTag,
                           BEC_SYNC_MAX_OPS, &pMsg->owned, &n2, pzErr);
    if( rc ){
      bec_buf_free(&pMsg->owned);
      return rc;
    }
    pMsg->nOp = n2;
    pMsg->aOps = pMsg->owned.a;
    pMsg->nOps = pMsg->owned.n;
    return SQLITE_OK;
  }
  if( bec_read_varint(&rd, &nOp, BEC_SYNC_MAX_OPS) ){
    *pzErr = sqlite3_mprintf("malformed sync message: bad op count (at most "
                             "%d per message)", BEC_SYNC_MAX_OPS);
    return BEC_MALFORMED;
  }
  pMsg->nOp = (int)nOp;
  pMsg->aOps = &a[rd.i];
  for(i=0; i<nOp; i++){
    const u8 *aBody = 0;
    if( bec_read_varint(&rd, &v, BEC_MAX_OP_BYTES)
     || bec_read_bytes(&rd, (i64)v, &aBody) ){
      return bad(pzErr, "truncated op");
    }
  }
  pMsg->nOps = (i64)(&a[rd.i] - pMsg->aOps);
  if( rd.i!=rd.n ) return bad(pzErr, "trailing bytes");
  return SQLITE_OK;
}

void bec_syncmsg_free(BecSyncMsg *pMsg){
  bec_buf_free(&pMsg->owned);
  pMsg->aOps = 0;
  pMsg->nOps = 0;
}

void bec_syncmsg_next_op(const BecSyncMsg *pMsg, i64 *piOff, const u8 **ppOp,
                         i64 *pnOp){
  BecReader rd;
  u64 v = 0;
  rd.a = pMsg->aOps; rd.n = pMsg->nOps; rd.i = *piOff;
  /* The framing was checked by bec_syncmsg_decode. */
  if( bec_read_varint(&rd, &v, BEC_MAX_OP_BYTES)
   || bec_read_bytes(&rd, (i64)v, ppOp) ){
    *ppOp = 0;
    *pnOp = 0;
    return;
  }
  *pnOp = (i64)v;
  *piOff = rd.i;
}

void bec_syncmsg_add_op(BecBuf *pOps, const u8 *aOp, i64 nOp, int *pRc){
  bec_buf_append_framed(pOps, aOp, nOp, pRc);
}

void bec_syncmsg_encode(BecBuf *pOut, const BecSyncMsg *pMsg,
                        const BecBuf *pOps, int *pRc){
  int flags = pMsg->flags & ~(BEC_SYNC_F_SHARED_IS_HEADS|BEC_SYNC_F_FILTER
                              |BEC_SYNC_F_BUNDLE);
  BecBuf bundle;
  int i, bBundle = 0;
  memset(&bundle, 0, sizeof(bundle));
  if( *pRc ) return;
  if( pOps && pMsg->nOp>=BEC_SYNC_BUNDLE_MIN_OPS ){
    *pRc = bec_bundle_encode(&bundle, pOps->a, pOps->n, pMsg->nOp, &bBundle);
    if( bBundle ) flags |= BEC_SYNC_F_BUNDLE;
  }
  if( pMsg->nShared==pMsg->nHead
   && (pMsg->nHead==0
       || memcmp(pMsg->aShared, pMsg->aHead, (size_t)pMsg->nHead*BEC_HASH_BYTES)==0) ){
    flags |= BEC_SYNC_F_SHARED_IS_HEADS;
  }
  if( pMsg->flags & BEC_SYNC_F_FILTER ) flags |= BEC_SYNC_F_FILTER;
  bec_buf_append_u8(pOut, pMsg->ext ? BEC_SYNC_VERSION_EXT : BEC_SYNC_VERSION,
                    pRc);
  bec_buf_append_u8(pOut, (u8)flags, pRc);
  if( pMsg->ext ) bec_buf_append_u8(pOut, (u8)pMsg->ext, pRc);
  bec_buf_append(pOut, pMsg->aGroupTag, BEC_GROUP_TAG_BYTES, pRc);
  bec_buf_append(pOut, pMsg->aSession, BEC_SYNC_SESSION_BYTES, pRc);
  bec_buf_append_varint(pOut, (u64)pMsg->iRound, pRc);
  if( flags & BEC_SYNC_F_INVITE ){
    bec_buf_append(pOut, pMsg->aInvite, BEC_INVITE_REDEMPTION_BYTES, pRc);
  }
  if( pMsg->ext & BEC_SYNC_X_READER ){
    bec_buf_append(pOut, pMsg->aReader, BEC_PUBKEY_BYTES, pRc);
  }
  if( (flags & BEC_SYNC_F_SAME_HEADS)==0 ){
    bec_buf_append_varint(pOut, (u64)pMsg->nHead, pRc);
    bec_buf_append(pOut, pMsg->aHead, (i64)pMsg->nHead*BEC_HASH_BYTES, pRc);
  }
  if( (flags & BEC_SYNC_F_SHARED_IS_HEADS)==0 ){
    bec_buf_append_varint(pOut, (u64)pMsg->nShared, pRc);
    bec_buf_append(pOut, pMsg->aShared, (i64)pMsg->nShared*BEC_HASH_BYTES, pRc);
  }
  if( flags & BEC_SYNC_F_FILTER ){
    const BecBloom *pF = &pMsg->filter;
    bec_buf_append_varint(pOut, (u64)pF->nBit, pRc);
    if( pF->nBit ){
      u8 aSeed[8];
      for(i=0; i<8; i++) aSeed[i] = (u8)(pF->seed >> (8*i));
      bec_buf_append_u8(pOut, (u8)pF->nProbe, pRc);
      bec_buf_append(pOut, aSeed, 8, pRc);
      bec_buf_append(pOut, pF->aBit, pF->nBit/8, pRc);
    }
  }
  if( flags & BEC_SYNC_F_PRUNED ){
    bec_buf_append(pOut, pMsg->aPrunedBelow, BEC_HASH_BYTES, pRc);
    bec_buf_append_varint(pOut, (u64)pMsg->nPruned, pRc);
    bec_buf_append(pOut, pMsg->aPruned, (i64)pMsg->nPruned*BEC_HASH_BYTES, pRc);
  }
  if( pMsg->ext & BEC_SYNC_X_SNAPSHOT ){
    bec_buf_append_varint(pOut, (u64)pMsg->nSnap, pRc);
    bec_buf_append(pOut, pMsg->aSnap, pMsg->nSnap, pRc);
  }
  if( pMsg->ext & BEC_SYNC_X_WANT_BAND ){
    bec_buf_append(pOut, pMsg->aBandK, BEC_HASH_BYTES, pRc);
    bec_buf_append_varint(pOut, pMsg->nBandHeld, pRc);
    bec_buf_append_varint(pOut, (u64)pMsg->nBandPred, pRc);
    bec_buf_append(pOut, pMsg->aBandPred, (i64)pMsg->nBandPred*BEC_HASH_BYTES,
                   pRc);
  }
  if( pMsg->ext & BEC_SYNC_X_BAND ){
    bec_buf_append_varint(pOut, (u64)pMsg->nBand, pRc);
    bec_buf_append(pOut, pMsg->aBand, pMsg->nBand, pRc);
  }
  bec_buf_append_varint(pOut, (u64)pMsg->nNeed, pRc);
  bec_buf_append(pOut, pMsg->aNeed, (i64)pMsg->nNeed*BEC_HASH_BYTES, pRc);
  if( bBundle ){
    bec_buf_append(pOut, bundle.a, bundle.n, pRc);
  }else{
    bec_buf_append_varint(pOut, (u64)pMsg->nOp, pRc);
    if( pOps ) bec_buf_append(pOut, pOps->a, pOps->n, pRc);
  }
  bec_buf_free(&bundle);
}
