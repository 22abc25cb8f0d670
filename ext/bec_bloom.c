/*
** bec_bloom.c - the Bloom filter that a sync message carries over the ops
** its sender added since the heads it believes both sides share.
**
** Probe positions.  Published work showed that when probe positions are
** taken straight from the op hash, an author who grinds about 9 bits per op
** makes an unsalted filter answer "present" for 97.5% of its ops, and a
** Bloom-filter sync then needs one round trip per op.  Here every filter is
** made with a fresh 64-bit seed from libsodium's CSPRNG, carried with the
** filter, and probe i of a hash h is
**
**     (lo + i*hi) mod nBit,   where (lo, hi) = XXH3-128(h, seed)
**
** (double hashing, Kirsch and Mitzenmacher).  An op that exists before the
** filter does cannot have been ground against a seed nobody knew yet.
**
** Size.  BEC_BLOOM_BITS_PER_ENTRY bits per entry and BEC_BLOOM_PROBES probes
** give about 0.8% false positives (the figures of Kleppmann and Howard).
** nBit is a multiple of 8; a filter with no bits holds nothing, and every
** test on it is negative.
*/
#include "becInt.h"

#include <xxhash.h>

/* Tests only (never reachable from SQL or from a peer): derive probes from
** the hash bytes themselves, as an unsalted filter would, so a test can show
** what mined collisions do to such a filter. */
int bec_bloom_test_unsalted = 0;

/* The k probe positions of aHash are lo + i*hi (mod nBit). */
static void probe_base(const BecBloom *p, const u8 *aHash, u64 *pLo, u64 *pHi){
  if( bec_bloom_test_unsalted ){
    u64 lo = 0, hi = 0;
    int i;
    for(i=0; i<8; i++){
      lo |= (u64)aHash[i] << (8*i);
      hi |= (u64)aHash[8+i] << (8*i);
    }
    *pLo = lo;
    *pHi = hi;
  }else{
    XXH128_hash_t h = XXH3_128bits_withSeed(aHash, BEC_HASH_BYTES,
                                            (XXH64_hash_t)p->seed);
    *pLo = (u64)h.low64;
    *pHi = (u64)h.high64;
  }
}

int bec_bloom_init(BecBloom *p, i64 nEntry){
  i64 nBit;
  memset(p, 0, sizeof(*p));
  if( nEntry<=0 ) return SQLITE_OK;
  nBit = nEntry * BEC_BLOOM_BITS_PER_ENTRY;
  nBit = (nBit + 7) & ~(i64)7;
  if( nBit>(i64)BEC_SYNC_MAX_FILTER_BYTES*8 ){
    /* A denser filter only costs false positives, never correctness. */
    nBit = (i64)BEC_SYNC_MAX_FILTER_BYTES*8;
  }
  p->aBit = sqlite3_malloc64((sqlite3_uint64)(nBit/8));
  if( p->aBit==0 ) return SQLITE_NOMEM;
  memset(p->aBit, 0, (size_t)(nBit/8));
  p->nBit = nBit;
  p->nProbe = BEC_BLOOM_PROBES;
  p->bOwned = 1;
  if( bec_bloom_test_unsalted ){
    p->seed = 0;
  }else{
    bec_crypto_random((u8*)&p->seed, sizeof(p->seed));
  }
  return SQLITE_OK;
}

void bec_bloom_add(BecBloom *p, const u8 *aHash){
  u64 lo, hi;
  int i;
  if( p->nBit==0 ) return;
  probe_base(p, aHash, &lo, &hi);
  for(i=0; i<p->nProbe; i++){
    u64 bit = (lo + (u64)i*hi) % (u64)p->nBit;
    p->aBit[bit>>3] |= (u8)(1 << (bit & 7));
  }
}

int bec_bloom_test(const BecBloom *p, const u8 *aHash){
  u64 lo, hi;
  int i;
  if( p->nBit==0 ) return 0;
  probe_base(p, aHash, &lo, &hi);
  for(i=0; i<p->nProbe; i++){
    u64 bit = (lo + (u64)i*hi) % (u64)p->nBit;
    if( (p->aBit[bit>>3] & (1 << (bit & 7)))==0 ) return 0;
  }
  return 1;
}

int bec_bloom_copy(BecBloom *pTo, const BecBloom *pFrom){
  bec_bloom_free(pTo);
  *pTo = *pFrom;
  pTo->aBit = 0;
  pTo->bOwned = 0;
  if( pFrom->nBit ){
    pTo->aBit = sqlite3_malloc64((sqlite3_uint64)(pFrom->nBit/8));
    if( pTo->aBit==0 ){
      memset(pTo, 0, sizeof(*pTo));
      return SQLITE_NOMEM;
    }
    memcpy(pTo->aBit, pFrom->aBit, (size_t)(pFrom->nBit/8));
    pTo->bOwned = 1;
  }
  return SQLITE_OK;
}

void bec_bloom_free(BecBloom *p){
  if( p->bOwned ) sqlite3_free(p->aBit);
  memset(p, 0, sizeof(*p));
}
