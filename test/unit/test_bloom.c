/*
** test_bloom.c - the Bloom filter of sync messages and the message codec:
** no false negatives, a false-positive rate near 0.8% at 10 bits and 7
** probes, a fresh seed (and so fresh probe positions) per filter, and a
** decoder that accepts only the canonical encoding and stays within its
** bounds.
*/
#include "becInt.h"
#include "bectest.h"

#include <stdlib.h>

static void random_hash(u8 *a){
  bec_crypto_random(a, BEC_HASH_BYTES);
}

static void test_filter(void){
  enum { N = 10000, PROBES = 100000 };
  BecBloom f, g, e;
  u8 (*aIn)[BEC_HASH_BYTES] = malloc((size_t)N*BEC_HASH_BYTES);
  int i, nMiss = 0, nFp = 0;
  CHECK(bec_bloom_init(&f, N)==SQLITE_OK);
  CHECK(f.nBit==N*BEC_BLOOM_BITS_PER_ENTRY && f.nProbe==BEC_BLOOM_PROBES);
  for(i=0; i<N; i++){
    random_hash(aIn[i]);
    bec_bloom_add(&f, aIn[i]);
  }
  for(i=0; i<N; i++) nMiss += !bec_bloom_test(&f, aIn[i]);
  CHECK_MSG(nMiss==0, "%d false negatives", nMiss);
  for(i=0; i<PROBES; i++){
    u8 a[BEC_HASH_BYTES];
    random_hash(a);
    nFp += bec_bloom_test(&f, a);
  }
  CHECK_MSG(nFp>PROBES*0.003 && nFp<PROBES*0.015,
            "false positive rate %.3f%%", 100.0*nFp/PROBES);

  /* The same entries in a second filter: another seed, other bits. */
  CHECK(bec_bloom_init(&g, N)==SQLITE_OK);
  for(i=0; i<N; i++) bec_bloom_add(&g, aIn[i]);
  CHECK(g.seed!=f.seed);
  CHECK(memcmp(g.aBit, f.aBit, (size_t)(f.nBit/8))!=0);

  /* An empty filter holds nothing. */
  CHECK(bec_bloom_init(&e, 0)==SQLITE_OK);
  CHECK(e.nBit==0 && !bec_bloom_test(&e, aIn[0]));
  bec_bloom_free(&e);

  /* A copy tests alike. */
  CHECK(bec_bloom_copy(&e, &f)==SQLITE_OK);
  for(i=0; i<100; i++) CHECK(bec_bloom_test(&e, aIn[i]));
  bec_bloom_free(&e);
  bec_bloom_free(&f);
  bec_bloom_free(&g);
  free(aIn);
}

/* Encodes a message with the given parts; returns the bytes in pOut. */
static void encode(BecBuf *pOut, int flags, i64 iRound, int nHead,
                   const u8 *aHead, const BecBloom *pF, int nNeed,
                   const u8 *aNeed, const BecBuf *pOps, int nOp){
  static const u8 aTag[BEC_GROUP_TAG_BYTES] = {1,2,3,4,5,6,7,8};
  static const u8 aSession[BEC_SYNC_SESSION_BYTES] = {9,9,9,9,9,9,9,9};
  BecSyncMsg m;
  int rc = SQLITE_OK;
  memset(&m, 0, sizeof(m));
  m.flags = flags | (pF ? BEC_SYNC_F_FILTER : 0);
  m.aGroupTag = aTag;
  m.aSession = aSession;
  m.iRound = iRound;
  m.nHead = nHead; m.aHead = aHead;
  m.nShared = nHead; m.aShared = aHead;
  if( pF ) m.filter = *pF;
  m.nNeed = nNeed; m.aNeed = aNeed;
  m.nOp = nOp;
  pOut->n = 0;
  bec_syncmsg_encode(pOut, &m, pOps, &rc);
  CHECK(rc==SQLITE_OK);
}

static int decodes(const BecBuf *p){
  BecSyncMsg m;
  char *zErr = 0;
  int rc = bec_syncmsg_decode(p->a, p->n, &m, &zErr);
  sqlite3_free(zErr);
  if( rc==SQLITE_OK ) bec_syncmsg_free(&m);
  return rc==SQLITE_OK;
}

static void test_codec(void){
  u8 aHead[3*BEC_HASH_BYTES], aNeed[2*BEC_HASH_BYTES];
  u8 aOp[40];
  BecBuf buf, ops;
  BecBloom f;
  BecSyncMsg m;
  char *zErr = 0;
  i64 iOff = 0, nOp = 0, i;
  const u8 *p = 0;
  int rc = SQLITE_OK;

  memset(&buf, 0, sizeof(buf));
  memset(&ops, 0, sizeof(ops));
  for(i=0; i<3; i++) memset(&aHead[i*BEC_HASH_BYTES], (int)(i+1), BEC_HASH_BYTES);
  for(i=0; i<2; i++) memset(&aNeed[i*BEC_HASH_BYTES], (int)(i+7), BEC_HASH_BYTES);
  memset(aOp, 0x42, sizeof(aOp));
  bec_syncmsg_add_op(&ops, aOp, sizeof(aOp), &rc);
  bec_syncmsg_add_op(&ops, aOp, 3, &rc);
  CHECK(bec_bloom_init(&f, 10)==SQLITE_OK);
  bec_bloom_add(&f, aHead);

  /* Round trip. */
  encode(&buf, BEC_SYNC_F_KNOWS_ALL, 5, 3, aHead, &f, 2, aNeed, &ops, 2);
  CHECK(bec_syncmsg_decode(buf.a, buf.n, &m, &zErr)==SQLITE_OK);
  CHECK(m.iRound==5 && m.nHead==3 && m.nShared==3 && m.nNeed==2 && m.nOp==2);
  CHECK(m.flags==(BEC_SYNC_F_KNOWS_ALL|BEC_SYNC_F_SHARED_IS_HEADS|BEC_SYNC_F_FILTER));
  CHECK(m.filter.nBit==f.nBit && m.filter.seed==f.seed && m.filter.nProbe==7);
  CHECK(bec_bloom_test(&m.filter, aHead));
  CHECK(memcmp(m.aNeed, aNeed, sizeof(aNeed))==0);
  bec_syncmsg_next_op(&m, &iOff, &p, &nOp);
  CHECK(nOp==40 && memcmp(p, aOp, 40)==0);
  bec_syncmsg_next_op(&m, &iOff, &p, &nOp);
  CHECK(nOp==3);

  /* Every truncation fails cleanly. */
  for(i=0; i<buf.n; i++){
    CHECK_MSG(bec_syncmsg_decode(buf.a, i, &m, &zErr)!=SQLITE_OK, "length %lld",
              (long long)i);
    sqlite3_free(zErr);
    zErr = 0;
  }
  /* A trailing byte. */
  bec_buf_append_u8(&buf, 0, &rc);
  CHECK(!decodes(&buf));
  /* Unknown flag, unknown version. */
  encode(&buf, 0, 1, 3, aHead, 0, 0, 0, 0, 0);
  CHECK(decodes(&buf));
  buf.a[1] |= 0x80;
  CHECK(!decodes(&buf));
  buf.a[1] &= 0x7f;
  buf.a[0] = 2;
  CHECK(!decodes(&buf));
  /* Unsorted heads. */
  memcpy(&aHead[BEC_HASH_BYTES], aHead, BEC_HASH_BYTES);
  encode(&buf, 0, 1, 3, aHead, 0, 0, 0, 0, 0);
  CHECK(!decodes(&buf));
  memset(&aHead[BEC_HASH_BYTES], 2, BEC_HASH_BYTES);
  /* An offer must be round 0 and cannot answer heads. */
  encode(&buf, BEC_SYNC_F_OFFER, 1, 3, aHead, 0, 0, 0, 0, 0);
  CHECK(!decodes(&buf));
  encode(&buf, BEC_SYNC_F_OFFER, 0, 3, aHead, 0, 0, 0, 0, 0);
  CHECK(decodes(&buf));
  buf.a[1] |= BEC_SYNC_F_SAME_HEADS;
  CHECK(!decodes(&buf));
  /* A round beyond the bound. */
  encode(&buf, 0, BEC_SYNC_MAX_ROUNDS+1, 3, aHead, 0, 0, 0, 0, 0);
  CHECK(!decodes(&buf));
  /* Filter sizes and probe counts out of range. */
  f.nProbe = 0;
  encode(&buf, 0, 1, 3, aHead, &f, 0, 0, 0, 0);
  CHECK(!decodes(&buf));
  f.nProbe = BEC_SYNC_MAX_PROBES+1;
  encode(&buf, 0, 1, 3, aHead, &f, 0, 0, 0, 0);
  CHECK(!decodes(&buf));
  f.nProbe = 7;
  f.nBit -= 4;
  encode(&buf, 0, 1, 3, aHead, &f, 0, 0, 0, 0);
  CHECK(!decodes(&buf));
  f.nBit += 4;
  /* An op count beyond the bound, and ops that overrun the message. */
  encode(&buf, 0, 1, 3, aHead, 0, 0, 0, &ops, BEC_SYNC_MAX_OPS+1);
  CHECK(!decodes(&buf));
  encode(&buf, 0, 1, 3, aHead, 0, 0, 0, &ops, 3);
  CHECK(!decodes(&buf));
  /* Oversized. */
  CHECK(bec_syncmsg_decode(buf.a, (i64)BEC_SYNC_MAX_MSG_BYTES+1, &m, &zErr)
        ==SQLITE_TOOBIG);
  sqlite3_free(zErr);
  bec_bloom_free(&f);
  bec_buf_free(&buf);
  bec_buf_free(&ops);
}

int main(void){
  bec_crypto_init();
  test_filter();
  test_codec();
  return bt_done();
}
