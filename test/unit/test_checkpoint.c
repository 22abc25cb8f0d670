/*
** test_checkpoint.c - the canonical Merkle tree of a checkpoint's digest
** (docs/compaction.md "The digest"): RFC 6962 section 2.1 with BLAKE2b-256,
** the empty tree H(""), one leaf as itself, and the split at the largest
** power of two below n, written out by hand for n = 2, 3, 4, 5 and 7.
*/
#include "becInt.h"
#include "bectest.h"

static void node(const u8 *l, const u8 *r, u8 *aOut){
  u8 a[1+2*BEC_HASH_BYTES];
  a[0] = 0x01;
  memcpy(a+1, l, BEC_HASH_BYTES);
  memcpy(a+1+BEC_HASH_BYTES, r, BEC_HASH_BYTES);
  bec_crypto_hash(a, sizeof(a), aOut);
}

int main(void){
  u8 aLeaf[7][BEC_HASH_BYTES], aRoot[BEC_HASH_BYTES], aWant[BEC_HASH_BYTES];
  u8 n01[BEC_HASH_BYTES], n23[BEC_HASH_BYTES], n45[BEC_HASH_BYTES];
  u8 n0123[BEC_HASH_BYTES], n456[BEC_HASH_BYTES];
  char zHex[2*BEC_HASH_BYTES+1];
  int i;
  CHECK(bec_crypto_init()==0);
  for(i=0; i<7; i++){
    u8 a[2] = { 0x00, (u8)('a'+i) };        /* H(0x00 || leaf) */
    bec_crypto_hash(a, 2, aLeaf[i]);
  }
  /* The empty list: H(""), BLAKE2b-256 of nothing. */
  bec_ckpt_merkle(0, 0, aRoot);
  bec_hex_encode(aRoot, BEC_HASH_BYTES, zHex);
  CHECK_MSG(strcmp(zHex, "0e5751c026e543b2e8ab2eb06099daa1"
                         "d1e5df47778f7787faab45cdf12fe3a8")==0, "%s", zHex);
  /* One leaf: its leaf hash. */
  bec_ckpt_merkle(aLeaf[0], 1, aRoot);
  CHECK(memcmp(aRoot, aLeaf[0], BEC_HASH_BYTES)==0);
  node(aLeaf[0], aLeaf[1], n01);
  node(aLeaf[2], aLeaf[3], n23);
  node(aLeaf[4], aLeaf[5], n45);
  node(n01, n23, n0123);
  bec_ckpt_merkle(aLeaf[0], 2, aRoot);
  CHECK(memcmp(aRoot, n01, BEC_HASH_BYTES)==0);
  /* 3 = 2 + 1 */
  node(n01, aLeaf[2], aWant);
  bec_ckpt_merkle(aLeaf[0], 3, aRoot);
  CHECK(memcmp(aRoot, aWant, BEC_HASH_BYTES)==0);
  bec_ckpt_merkle(aLeaf[0], 4, aRoot);
  CHECK(memcmp(aRoot, n0123, BEC_HASH_BYTES)==0);
  /* 5 = 4 + 1 */
  node(n0123, aLeaf[4], aWant);
  bec_ckpt_merkle(aLeaf[0], 5, aRoot);
  CHECK(memcmp(aRoot, aWant, BEC_HASH_BYTES)==0);
  /* 7 = 4 + (2 + 1) */
  node(n45, aLeaf[6], n456);
  node(n0123, n456, aWant);
  bec_ckpt_merkle(aLeaf[0], 7, aRoot);
  CHECK(memcmp(aRoot, aWant, BEC_HASH_BYTES)==0);
  /* Order matters: swapping two leaves changes the root. */
  {
    u8 aSwap[2][BEC_HASH_BYTES];
    memcpy(aSwap[0], aLeaf[1], BEC_HASH_BYTES);
    memcpy(aSwap[1], aLeaf[0], BEC_HASH_BYTES);
    bec_ckpt_merkle(aSwap[0], 2, aRoot);
    CHECK(memcmp(aRoot, n01, BEC_HASH_BYTES)!=0);
  }
  return bt_done();
}
