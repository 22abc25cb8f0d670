/*
** bec_bundle.c - the compact encoding of many ops in one sync message
** (COMPACTION.md §8; docs/wire-format.md, "Bundle"): bytes in, bytes out,
** no tables.
**
** A sync message that carries many ops sends them as a bundle instead of a
** list of op encodings.  What an op repeats from its neighbours goes once:
** authors are indexes into a table of keys, predecessors are the distance
** back to an op earlier in the bundle or an index into a sorted list of
** ids outside it, the group tag comes from the message, the version is
** implied, and the payload hash and the id are recomputed:
**
**   bundle := version u8 (=1)
**             n_author varint, author keys (32 each)   in order of first use
**             n_ext varint, ext ids (32 each)          strictly increasing
**             n_op varint
**             per op: kind u8            (bit 7, header only, is refused:
**                                         no replica prunes bodies yet)
**                     author varint      index into the authors
**                     n_pred varint, then n_pred refs (varint r): r < n_ext
**                                        names ext[r], else the op
**                                        r - n_ext + 1 places earlier
**                     n_epoch varint, epochs (32 each)   as in the header
**                     payload_len varint, payload
**                     signature (64)
**
** Nothing in a bundle is trusted.  The decoder bounds every count before
** it reads or allocates (authors and ext ids at most the op count, refs in
** range, the rebuilt ops at most BEC_SYNC_MAX_MSG_BYTES in all), then
** rebuilds each op's canonical encoding (header || signature || body) for
** the ordinary acceptance path, which decodes and verifies it exactly as
** it would the same op sent alone: an op whose predecessors do not come
** out strictly increasing is malformed there, as always.  The encoder is
** exact for any ops in topological order; it declines (the caller sends a
** list) when the ops do not decode or a bound would not hold.
*/
#include "becInt.h"

#include <stdlib.h>

#define BUNDLE_VERSION  1
#define KIND_HEADER_ONLY 0x80

/* Open addressing over 32-byte keys (ids or public keys, random enough
** that their first 8 bytes spread): slot value is index+1, 0 empty. */
typedef struct KeyMap KeyMap;
struct KeyMap {
  int *aSlot;
  int nSlot;                     /* a power of two, at least twice the keys */
};

static int map_init(KeyMap *m, int nKey){
  m->nSlot = 16;
  while( m->nSlot < 2*nKey ) m->nSlot *= 2;
  m->aSlot = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)m->nSlot);
  if( m->aSlot==0 ) return SQLITE_NOMEM;
  memset(m->aSlot, 0, sizeof(int)*(size_t)m->nSlot);
  return SQLITE_OK;
}

static u32 map_hash(const u8 *k){
  return (u32)k[0] | (u32)k[1]<<8 | (u32)k[2]<<16 | (u32)k[3]<<24;
}

/* The index of key k (its 32 bytes at aKeys[i*32]), or -1; with bAdd and
** iNew, records k as iNew when absent and returns -1. */
static int map_find(KeyMap *m, const u8 *aKeys, const u8 *k, int bAdd, int iNew){
  u32 h = map_hash(k) & (u32)(m->nSlot-1);
  while( m->aSlot[h] ){
    int i = m->aSlot[h]-1;
    if( memcmp(&aKeys[(i64)i*32], k, 32)==0 ) return i;
    h = (h+1) & (u32)(m->nSlot-1);
  }
  if( bAdd ) m->aSlot[h] = iNew+1;
  return -1;
}

static int hash_cmp(const void *a, const void *b){
  return memcmp(a, b, BEC_HASH_BYTES);
}

/**************************************************************************
** Encoding.
*/
int bec_bundle_encode(BecBuf *pOut, const u8 *aFrames, i64 nFrames, int nOp,
                      int *pbDone){
  BecOp *aOp = 0;
  u8 *aAuthors = 0, *aIds = 0, *aExt = 0;
  int nAuthor = 0, nExt = 0, nExtAlloc = 0, i, j;
  int *aAuthorOf = 0;
  KeyMap mAuthor, mId;
  BecReader rd;
  int rc = SQLITE_OK;

  *pbDone = 0;
  memset(&mAuthor, 0, sizeof(mAuthor));
  memset(&mId, 0, sizeof(mId));
  if( nOp<1 ) return SQLITE_OK;
  aOp = sqlite3_malloc64(sizeof(BecOp)*(sqlite3_uint64)nOp);
  aAuthors = sqlite3_malloc64((sqlite3_uint64)nOp*32);
  aIds = sqlite3_malloc64((sqlite3_uint64)nOp*32);
  aAuthorOf = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)nOp);
  if( aOp==0 || aAuthors==0 || aIds==0 || aAuthorOf==0 ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK ) rc = map_init(&mAuthor, nOp);
  if( rc==SQLITE_OK ) rc = map_init(&mId, nOp);

  /* The ops, their ids and authors (in order of first use). */
  rd.a = aFrames; rd.n = nFrames; rd.i = 0;
  for(i=0; rc==SQLITE_OK && i<nOp; i++){
    u64 n = 0;
    const u8 *a = 0;
    char *zErr = 0;
    int iA;
    if( bec_read_varint(&rd, &n, BEC_MAX_OP_BYTES)
     || bec_read_bytes(&rd, (i64)n, &a)
     || bec_op_decode(a, (i64)n, &aOp[i], &zErr) ){
      sqlite3_free(zErr);
      goto decline;
    }
    memcpy(&aIds[(i64)i*32], aOp[i].aId, 32);
    if( map_find(&mId, aIds, aOp[i].aId, 1, i)>=0 ) goto decline;  /* twice */
    iA = map_find(&mAuthor, aAuthors, aOp[i].aAuthor, 0, 0);
    if( iA<0 ){
      iA = nAuthor++;
      memcpy(&aAuthors[(i64)iA*32], aOp[i].aAuthor, 32);
      (void)map_find(&mAuthor, aAuthors, aOp[i].aAuthor, 1, iA);
    }
    aAuthorOf[i] = iA;
  }
  if( rc==SQLITE_OK && rd.i!=rd.n ) goto decline;

  /* Predecessors outside the bundle (or later in it: kept by id), sorted. */
  for(i=0; rc==SQLITE_OK && i<nOp; i++){
    for(j=0; j<aOp[i].nPred; j++){
      const u8 *p = &aOp[i].aPred[(i64)j*32];
      int k = map_find(&mId, aIds, p, 0, 0);
      if( k>=0 && k<i ) continue;
      if( nExt==nExtAlloc ){
        int nNew = nExtAlloc ? 2*nExtAlloc : 64;
        u8 *aNew = sqlite3_realloc64(aExt, (sqlite3_uint64)nNew*32);
        if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
        aExt = aNew;
        nExtAlloc = nNew;
      }
      memcpy(&aExt[(i64)nExt*32], p, 32);
      nExt++;
    }
  }
  if( rc==SQLITE_OK && nExt>1 ){
    int nUnique = 1;
    qsort(aExt, (size_t)nExt, 32, hash_cmp);
    for(j=1; j<nExt; j++){
      if( memcmp(&aExt[(i64)(j-1)*32], &aExt[(i64)j*32], 32) ){
        memmove(&aExt[(i64)nUnique*32], &aExt[(i64)j*32], 32);
        nUnique++;
      }
    }
    nExt = nUnique;
  }
  if( rc==SQLITE_OK && nExt>nOp ) goto decline;     /* the decoder's bound */

  if( rc==SQLITE_OK ){
    bec_buf_append_u8(pOut, BUNDLE_VERSION, &rc);
    bec_buf_append_varint(pOut, (u64)nAuthor, &rc);
    bec_buf_append(pOut, aAuthors, (i64)nAuthor*32, &rc);
    bec_buf_append_varint(pOut, (u64)nExt, &rc);
    bec_buf_append(pOut, aExt, (i64)nExt*32, &rc);
    bec_buf_append_varint(pOut, (u64)nOp, &rc);
  }
  for(i=0; rc==SQLITE_OK && i<nOp; i++){
    const BecOp *o = &aOp[i];
    bec_buf_append_u8(pOut, (u8)o->kind, &rc);
    bec_buf_append_varint(pOut, (u64)aAuthorOf[i], &rc);
    bec_buf_append_varint(pOut, (u64)o->nPred, &rc);
    for(j=0; j<o->nPred; j++){
      const u8 *p = &o->aPred[(i64)j*32];
      int k = map_find(&mId, aIds, p, 0, 0);
      u64 r;
      if( k>=0 && k<i ){
        r = (u64)nExt + (u64)(i - k - 1);
      }else{
        const u8 *x = bsearch(p, aExt, (size_t)nExt, 32, hash_cmp);
        r = (u64)((x - aExt)/32);
      }
      bec_buf_append_varint(pOut, r, &rc);
    }
    bec_buf_append_varint(pOut, (u64)o->nEpoch, &rc);
    bec_buf_append(pOut, o->aEpoch, (i64)o->nEpoch*32, &rc);
    bec_buf_append_varint(pOut, (u64)o->nPayload, &rc);
    bec_buf_append(pOut, o->aPayload, o->nPayload, &rc);
    bec_buf_append(pOut, o->aSig, BEC_SIG_BYTES, &rc);
  }
  if( rc==SQLITE_OK ) *pbDone = 1;
  goto done;

decline:
  rc = SQLITE_OK;
done:
  sqlite3_free(aOp);
  sqlite3_free(aAuthors);
  sqlite3_free(aIds);
  sqlite3_free(aExt);
  sqlite3_free(aAuthorOf);
  sqlite3_free(mAuthor.aSlot);
  sqlite3_free(mId.aSlot);
  return rc;
}

/**************************************************************************
** Decoding.
*/
static int bad(char **pzErr, const char *zWhat){
  *pzErr = sqlite3_mprintf("malformed sync message: bundle: %s", zWhat);
  return BEC_MALFORMED;
}

int bec_bundle_decode(const u8 *a, i64 n, const u8 *aGroupTag, int nMaxOp,
                      BecBuf *pFrames, int *pnOp, char **pzErr){
  BecReader rd;
  const u8 *aAuthors = 0, *aExt = 0;
  u8 *aIds = 0;
  u64 nAuthor = 0, nExt = 0, nOp = 0, i, j;
  u8 version = 0;
  BecBuf op;
  int rc = SQLITE_OK;

  *pnOp = 0;
  *pzErr = 0;
  memset(&op, 0, sizeof(op));
  rd.a = a; rd.n = n; rd.i = 0;
  if( bec_read_u8(&rd, &version) ) return bad(pzErr, "empty");
  if( version!=BUNDLE_VERSION ) return bad(pzErr, "unknown version");
  /* Counts are checked against nMaxOp now and against n_op once it is
  ** read: no count can ask for more than the bytes present. */
  if( bec_read_varint(&rd, &nAuthor, (u64)nMaxOp)
   || bec_read_bytes(&rd, (i64)nAuthor*32, &aAuthors) ){
    return bad(pzErr, "bad author table");
  }
  if( bec_read_varint(&rd, &nExt, (u64)nMaxOp)
   || bec_read_bytes(&rd, (i64)nExt*32, &aExt) ){
    return bad(pzErr, "bad list of outside predecessors");
  }
  for(i=1; i<nExt; i++){
    if( memcmp(&aExt[(i-1)*32], &aExt[i*32], 32)>=0 ){
      return bad(pzErr, "outside predecessors not sorted and unique");
    }
  }
  if( bec_read_varint(&rd, &nOp, (u64)nMaxOp) ) return bad(pzErr, "bad op count");
  if( nAuthor>nOp || nExt>nOp ){
    return bad(pzErr, "more authors or outside predecessors than ops");
  }
  if( nOp>0 ){
    aIds = sqlite3_malloc64(nOp*32);
    if( aIds==0 ) return SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<nOp; i++){
    u8 kind = 0, aHash[BEC_HASH_BYTES];
    u64 iAuthor = 0, nPred = 0, nEpoch = 0, nPayload = 0;
    const u8 *aEpoch = 0, *aPayload = 0, *aSig = 0;
    u8 aPred[BEC_MAX_PRED*BEC_HASH_BYTES];
    BecOp dec;
    char *zErr = 0;

    if( bec_read_u8(&rd, &kind) ){ rc = bad(pzErr, "truncated op"); break; }
    if( kind & KIND_HEADER_ONLY ){
      rc = bad(pzErr, "a header-only op (pruned bodies are not accepted)");
      break;
    }
    if( bec_read_varint(&rd, &iAuthor, nAuthor ? nAuthor-1 : 0) || nAuthor==0 ){
      rc = bad(pzErr, "author index out of range");
      break;
    }
    if( bec_read_varint(&rd, &nPred, BEC_MAX_PRED) ){
      rc = bad(pzErr, "bad predecessor count");
      break;
    }
    for(j=0; j<nPred; j++){
      u64 r = 0;
      /* Refs name ext ids or ops before this one: nExt + i choices. */
      if( nExt + i==0 || bec_read_varint(&rd, &r, nExt + i - 1) ){
        rc = bad(pzErr, "predecessor reference out of range");
        break;
      }
      if( r<nExt ) memcpy(&aPred[j*32], &aExt[r*32], 32);
      else memcpy(&aPred[j*32], &aIds[(i - (r - nExt + 1))*32], 32);
    }
    if( rc ) break;
    if( bec_read_varint(&rd, &nEpoch, BEC_MAX_EPOCH)
     || bec_read_bytes(&rd, (i64)nEpoch*32, &aEpoch) ){
      rc = bad(pzErr, "bad key epochs");
      break;
    }
    if( bec_read_varint(&rd, &nPayload, BEC_MAX_PAYLOAD)
     || bec_read_bytes(&rd, (i64)nPayload, &aPayload)
     || bec_read_bytes(&rd, BEC_SIG_BYTES, &aSig) ){
      rc = bad(pzErr, "truncated op");
      break;
    }
    /* The canonical encoding, for the acceptance path. */
    op.n = 0;
    bec_crypto_hash(aPayload, (i64)nPayload, aHash);
    bec_op_encode_header(&op, kind, kind==BEC_KIND_CREATE ? 0 : aGroupTag,
                         &aAuthors[iAuthor*32], (int)nEpoch, aEpoch,
                         (int)nPred, aPred, (i64)nPayload, aHash, &rc);
    bec_buf_append(&op, aSig, BEC_SIG_BYTES, &rc);
    bec_buf_append(&op, aPayload, (i64)nPayload, &rc);
    if( rc ) break;
    if( bec_op_decode_header(op.a, op.n, &dec, &zErr) ){
      /* Later ops may name this one by its place: with no id to give them,
      ** the bundle is refused whole (a list would carry such an op to its
      ** own rejection; a bundle is one sender's encoding). */
      *pzErr = sqlite3_mprintf("malformed sync message: bundle: op %llu is "
                               "not an op: %s", (unsigned long long)i,
                               zErr ? zErr : "malformed");
      sqlite3_free(zErr);
      rc = BEC_MALFORMED;
      break;
    }
    memcpy(&aIds[i*32], dec.aId, 32);
    if( pFrames->n + op.n + 10 > (i64)BEC_SYNC_MAX_MSG_BYTES ){
      rc = bad(pzErr, "its ops take more room than a sync message may");
      break;
    }
    bec_buf_append_framed(pFrames, op.a, op.n, &rc);
  }
  if( rc==SQLITE_OK && rd.i!=rd.n ) rc = bad(pzErr, "trailing bytes");
  if( rc==SQLITE_OK ) *pnOp = (int)nOp;
  bec_buf_free(&op);
  sqlite3_free(aIds);
  return rc;
}
