/*
** test_checkpoint.c - the canonical Merkle tree of a checkpoint's digest
** (docs/compaction.md "The digest"): RFC 6962 section 2.1 with BLAKE2b-256,
** the empty tree H(""), one leaf as itself, and the split at the largest
** power of two below n, written out by hand for n = 2, 3, 4, 5 and 7; the
** audit path of a leaf (RFC 6962 PATH) and its check (RFC 9162 2.1.3.2):
** by hand for leaf 4 of 7, and every leaf of every tree up to 40 leaves
** against altered paths, indexes and roots; many paths made at once are
** each the path made alone.
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
  /* The audit path of leaf 4 of 7, by hand: leaf 5, leaf 6, then n0123. */
  {
    BecBuf path;
    int rc = SQLITE_OK;
    memset(&path, 0, sizeof(path));
    i64 iFour = 4;
    bec_ckpt_merkle_paths(aLeaf[0], 7, &iFour, 1, &path, &rc);
    CHECK(rc==SQLITE_OK && path.n==3*BEC_HASH_BYTES);
    CHECK(memcmp(path.a, aLeaf[5], BEC_HASH_BYTES)==0);
    CHECK(memcmp(path.a+BEC_HASH_BYTES, aLeaf[6], BEC_HASH_BYTES)==0);
    CHECK(memcmp(path.a+2*BEC_HASH_BYTES, n0123, BEC_HASH_BYTES)==0);
    bec_ckpt_merkle(aLeaf[0], 7, aRoot);
    CHECK(bec_ckpt_merkle_verify(aLeaf[4], 4, 7, path.a, 3, aRoot));
    bec_buf_free(&path);
  }
  /* Every leaf of every tree up to 40 leaves: its path proves it; a flipped
  ** bit, another index, a path one hash short or long, another root do not. */
  {
    u8 aMany[40][BEC_HASH_BYTES], aBig[41*BEC_HASH_BYTES];
    int n, m, nOk = 0, nBad = 0, nCase = 0;
    for(i=0; i<40; i++){
      u8 a[2] = { 0x00, (u8)i };
      bec_crypto_hash(a, 2, aMany[i]);
    }
    for(n=1; n<=40; n++){
      bec_ckpt_merkle(aMany[0], n, aRoot);
      for(m=0; m<n; m++){
        BecBuf path;
        int rc = SQLITE_OK, nPath;
        memset(&path, 0, sizeof(path));
        i64 iM = m;
        bec_ckpt_merkle_paths(aMany[0], n, &iM, 1, &path, &rc);
        nPath = (int)(path.n/BEC_HASH_BYTES);
        nCase++;
        nOk += rc==SQLITE_OK
            && bec_ckpt_merkle_verify(aMany[m], m, n, path.a, nPath, aRoot);
        if( nPath>0 ){
          path.a[path.n-1] ^= 1;
          nBad += bec_ckpt_merkle_verify(aMany[m], m, n, path.a, nPath, aRoot);
          path.a[path.n-1] ^= 1;
          nBad += bec_ckpt_merkle_verify(aMany[m], m, n, path.a, nPath-1, aRoot);
        }
        if( n>1 ){
          int m2 = (m+1)%n;
          nBad += bec_ckpt_merkle_verify(aMany[m], m2, n, path.a, nPath, aRoot);
          nBad += bec_ckpt_merkle_verify(aMany[(m+1)%n], m, n, path.a, nPath, aRoot);
        }
        if( path.n ) memcpy(aBig, path.a, (size_t)path.n);
        memcpy(aBig+path.n, aMany[0], BEC_HASH_BYTES);
        nBad += bec_ckpt_merkle_verify(aMany[m], m, n, aBig, nPath+1, aRoot);
        nBad += bec_ckpt_merkle_verify(aMany[m], m, n, path.a, nPath, aMany[39]);
        nBad += bec_ckpt_merkle_verify(aMany[m], n, n, path.a, nPath, aRoot);
        bec_buf_free(&path);
      }
    }
    CHECK_MSG(nOk==nCase, "%d of %d paths verify", nOk, nCase);
    CHECK_MSG(nBad==0, "%d altered paths verify", nBad);
    /* Many paths at once are each the path alone: every leaf of every
    ** tree, then every third leaf (subtrees with none wanted). */
    nBad = 0;
    for(n=1; n<=40; n++){
      int step;
      for(step=1; step<=3; step+=2){
        BecBuf aAll[40], one;
        i64 aIdx[40];
        int nWant = 0, rc = SQLITE_OK;
        for(m=0; m<n; m+=step) aIdx[nWant++] = m;
        memset(aAll, 0, sizeof(aAll));
        bec_ckpt_merkle_paths(aMany[0], n, aIdx, nWant, aAll, &rc);
        for(i=0; i<nWant; i++){
          memset(&one, 0, sizeof(one));
          bec_ckpt_merkle_paths(aMany[0], n, &aIdx[i], 1, &one, &rc);
          nBad += rc!=SQLITE_OK || one.n!=aAll[i].n
               || (one.n && memcmp(one.a, aAll[i].a, (size_t)one.n));
          bec_buf_free(&one);
          bec_buf_free(&aAll[i]);
        }
      }
    }
    CHECK_MSG(nBad==0, "%d paths differ when made together", nBad);
    {
      BecBuf b;
      i64 aDesc[2] = { 3, 1 };
      int rc = SQLITE_OK;
      memset(&b, 0, sizeof(b));
      bec_ckpt_merkle_paths(aMany[0], 5, aDesc, 2, &b, &rc);
      CHECK(rc==SQLITE_MISUSE);
    }
  }
  return bt_done();
}
