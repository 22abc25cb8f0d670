/*
** test_e2ee.c - the primitives of end-to-end encryption (bec_e2ee_crypto.c):
** a seed sealed to a member opens with that member's identity key and with
** no other; a flipped bit in a box fails; a small-order or invalid Ed25519
** key has no X25519 form (seal refuses it); the commitment binds the seed;
** the epoch key binds the seed, the group and the epoch hash; the back,
** store and merge keys differ from each other and the merge key depends on
** the order given; the AEAD refuses a changed AD, key or ciphertext; each
** derivation is the keyed BLAKE2b-256 with its domain string that
** ../shared/E2EE.md names (recomputed here with libsodium directly).  A
** message sealed to one reader (a snapshot in sync) opens with its key and
** AD only: another key, a changed AD, a flipped bit in the box or the
** ciphertext, and a truncated message each say why and leave nothing.
*/
#include "becInt.h"
#include "bectest.h"

#include <sodium.h>

static void keypair(u8 seed, u8 *aPub, u8 *aSecret){
  u8 aSeed[BEC_SEED_BYTES];
  memset(aSeed, seed, sizeof(aSeed));
  bec_crypto_secret_from_seed(aSeed, aPub, aSecret);
}

static void test_boxes(void){
  u8 aPubA[32], aSecA[64], aPubB[32], aSecB[64];
  u8 aSeed[32], aGot[32], aBox[BEC_E2EE_BOX_BYTES], aX[32];
  keypair(1, aPubA, aSecA);
  keypair(2, aPubB, aSecB);
  randombytes_buf(aSeed, sizeof(aSeed));
  CHECK(bec_e2ee_box_seal(aSeed, aPubA, aBox)==SQLITE_OK);
  CHECK(memcmp(aBox, aPubA, BEC_E2EE_PREFIX_BYTES)==0);
  CHECK(bec_e2ee_box_open(&aBox[BEC_E2EE_PREFIX_BYTES], aSecA, aGot)==SQLITE_OK);
  CHECK(memcmp(aGot, aSeed, 32)==0);
  /* Another member's key does not open it, and leaves no seed behind. */
  memset(aGot, 0x55, sizeof(aGot));
  CHECK(bec_e2ee_box_open(&aBox[BEC_E2EE_PREFIX_BYTES], aSecB, aGot)!=SQLITE_OK);
  CHECK(sodium_is_zero(aGot, sizeof(aGot)));
  /* A flipped bit fails. */
  aBox[BEC_E2EE_PREFIX_BYTES+40] ^= 1;
  CHECK(bec_e2ee_box_open(&aBox[BEC_E2EE_PREFIX_BYTES], aSecA, aGot)!=SQLITE_OK);
  /* Small-order points and invalid encodings have no X25519 form. */
  {
    u8 aBad[32];
    memset(aBad, 0, sizeof(aBad));
    CHECK(bec_e2ee_xpk(aBad, aX)!=SQLITE_OK);            /* (0, ...) */
    aBad[0] = 1;
    CHECK(bec_e2ee_xpk(aBad, aX)!=SQLITE_OK);            /* the identity */
    CHECK(bec_e2ee_box_seal(aSeed, aBad, aBox)!=SQLITE_OK);
    memset(aBad, 0xff, sizeof(aBad));
    CHECK(bec_e2ee_xpk(aBad, aX)!=SQLITE_OK);            /* not canonical */
    CHECK(bec_e2ee_xpk(aPubA, aX)==SQLITE_OK);
  }
}

static void test_derivations(void){
  u8 aSeed[32], aSeed2[32], aGroup[32], aE[32], aE2[32];
  u8 a1[32], a2[32], a3[32], aWant[32];
  crypto_generichash_state st;
  randombytes_buf(aSeed, 32);
  memcpy(aSeed2, aSeed, 32);
  aSeed2[31] ^= 1;
  randombytes_buf(aGroup, 32);
  randombytes_buf(aE, 32);
  memcpy(aE2, aE, 32);
  aE2[0] ^= 0x80;

  /* commit = H("bec-e2ee-commit-v1" || K) */
  bec_e2ee_commit(aSeed, a1);
  crypto_generichash_init(&st, 0, 0, 32);
  crypto_generichash_update(&st, (const u8*)"bec-e2ee-commit-v1", 18);
  crypto_generichash_update(&st, aSeed, 32);
  crypto_generichash_final(&st, aWant, 32);
  CHECK(memcmp(a1, aWant, 32)==0);
  bec_e2ee_commit(aSeed2, a2);
  CHECK(memcmp(a1, a2, 32)!=0);

  /* k_e = H_K("bec-e2ee-epoch-v1" || group || e): binds all three. */
  bec_e2ee_epoch_key(aSeed, aGroup, aE, a1);
  crypto_generichash_init(&st, aSeed, 32, 32);
  crypto_generichash_update(&st, (const u8*)"bec-e2ee-epoch-v1", 17);
  crypto_generichash_update(&st, aGroup, 32);
  crypto_generichash_update(&st, aE, 32);
  crypto_generichash_final(&st, aWant, 32);
  CHECK(memcmp(a1, aWant, 32)==0);
  bec_e2ee_epoch_key(aSeed, aGroup, aE2, a2);
  CHECK(memcmp(a1, a2, 32)!=0);
  bec_e2ee_epoch_key(aSeed2, aGroup, aE, a2);
  CHECK(memcmp(a1, a2, 32)!=0);
  bec_e2ee_epoch_key(aSeed, aE, aGroup, a2);
  CHECK(memcmp(a1, a2, 32)!=0);

  /* back and store keys: keyed hashes of their domain strings. */
  bec_e2ee_back_key(aSeed, a2);
  crypto_generichash(aWant, 32, (const u8*)"bec-e2ee-back-v1", 16, aSeed, 32);
  CHECK(memcmp(a2, aWant, 32)==0);
  CHECK(memcmp(a1, a2, 32)!=0);
  bec_e2ee_store_key(aSeed, a3);
  crypto_generichash(aWant, 32, (const u8*)"bec-e2ee-store-v1", 17, aSeed, 32);
  CHECK(memcmp(a3, aWant, 32)==0);
  CHECK(memcmp(a3, a2, 32)!=0);

  /* merge: order-dependent, and differs from either key. */
  {
    u8 aEp[64], aKeys[64], aEpR[64], aKeysR[64];
    memcpy(aEp, aE, 32); memcpy(&aEp[32], aE2, 32);
    memcpy(aKeys, a1, 32); memcpy(&aKeys[32], a2, 32);
    memcpy(aEpR, aE2, 32); memcpy(&aEpR[32], aE, 32);
    memcpy(aKeysR, a2, 32); memcpy(&aKeysR[32], a1, 32);
    bec_e2ee_merge_key(2, aEp, aKeys, a3);
    crypto_generichash_init(&st, 0, 0, 32);
    crypto_generichash_update(&st, (const u8*)"bec-e2ee-merge-v1", 17);
    crypto_generichash_update(&st, aE, 32);
    crypto_generichash_update(&st, a1, 32);
    crypto_generichash_update(&st, aE2, 32);
    crypto_generichash_update(&st, a2, 32);
    crypto_generichash_final(&st, aWant, 32);
    CHECK(memcmp(a3, aWant, 32)==0);
    bec_e2ee_merge_key(2, aEpR, aKeysR, aWant);
    CHECK(memcmp(a3, aWant, 32)!=0);
    CHECK(memcmp(a3, a1, 32)!=0 && memcmp(a3, a2, 32)!=0);
  }
}

static void test_aead(void){
  u8 aKey[32], aNonce[24], aPt[100], aCt[116], aOut[100];
  u8 aAd[40];
  randombytes_buf(aKey, 32);
  randombytes_buf(aNonce, 24);
  randombytes_buf(aPt, sizeof(aPt));
  randombytes_buf(aAd, sizeof(aAd));
  bec_e2ee_aead_seal(aKey, aNonce, aAd, sizeof(aAd), aPt, sizeof(aPt), aCt);
  CHECK(memcmp(aCt, aPt, sizeof(aPt))!=0);
  CHECK(bec_e2ee_aead_open(aKey, aNonce, aAd, sizeof(aAd), aCt, sizeof(aCt),
                           aOut)==SQLITE_OK);
  CHECK(memcmp(aOut, aPt, sizeof(aPt))==0);
  aAd[3] ^= 1;
  CHECK(bec_e2ee_aead_open(aKey, aNonce, aAd, sizeof(aAd), aCt, sizeof(aCt),
                           aOut)!=SQLITE_OK);
  aAd[3] ^= 1;
  aCt[50] ^= 1;
  CHECK(bec_e2ee_aead_open(aKey, aNonce, aAd, sizeof(aAd), aCt, sizeof(aCt),
                           aOut)!=SQLITE_OK);
  aCt[50] ^= 1;
  aKey[0] ^= 1;
  CHECK(bec_e2ee_aead_open(aKey, aNonce, aAd, sizeof(aAd), aCt, sizeof(aCt),
                           aOut)!=SQLITE_OK);
  /* Shorter than a tag: refused, not read. */
  CHECK(bec_e2ee_aead_open(aKey, aNonce, aAd, sizeof(aAd), aCt, 15, aOut)
        !=SQLITE_OK);
}

static void test_reader(void){
  u8 aPubA[32], aSecA[64], aPubB[32], aSecB[64], aBad[32];
  u8 aPt[300], aSealed[300+BEC_E2EE_READER_BYTES], aOut[300], aAd[72];
  const i64 n = (i64)sizeof(aSealed);
  const char *zWhy;
  int i;
  keypair(3, aPubA, aSecA);
  keypair(4, aPubB, aSecB);
  randombytes_buf(aPt, sizeof(aPt));
  randombytes_buf(aAd, sizeof(aAd));
  CHECK(bec_e2ee_reader_seal(aPubA, aAd, sizeof(aAd), aPt, sizeof(aPt),
                             aSealed)==SQLITE_OK);
  CHECK(memcmp(aSealed, aPubA, BEC_E2EE_PREFIX_BYTES)==0);
  for(i=0; i+16<=n; i++) if( memcmp(&aSealed[i], aPt, 16)==0 ) break;
  CHECK(i+16>n);                          /* no plaintext in the clear */
  zWhy = bec_e2ee_reader_open(aSecA, aAd, sizeof(aAd), aSealed, n, aOut);
  CHECK(zWhy==0 && memcmp(aOut, aPt, sizeof(aPt))==0);
  /* Another reader: named by the prefix; with B's prefix forged in, its
  ** key still does not open the box. */
  zWhy = bec_e2ee_reader_open(aSecB, aAd, sizeof(aAd), aSealed, n, aOut);
  CHECK(zWhy && strstr(zWhy, "sealed to another key"));
  memcpy(aSealed, aPubB, BEC_E2EE_PREFIX_BYTES);
  zWhy = bec_e2ee_reader_open(aSecB, aAd, sizeof(aAd), aSealed, n, aOut);
  CHECK(zWhy && strstr(zWhy, "does not open"));
  memcpy(aSealed, aPubA, BEC_E2EE_PREFIX_BYTES);
  /* The AD altered (another group, checkpoint or key), a bit of the
  ** ciphertext or of the box flipped, the message cut: refused. */
  aAd[40] ^= 1;
  zWhy = bec_e2ee_reader_open(aSecA, aAd, sizeof(aAd), aSealed, n, aOut);
  CHECK(zWhy && strstr(zWhy, "does not authenticate"));
  aAd[40] ^= 1;
  for(i=BEC_E2EE_BOX_BYTES; i<n; i+=97){
    aSealed[i] ^= 0x80;
    zWhy = bec_e2ee_reader_open(aSecA, aAd, sizeof(aAd), aSealed, n, aOut);
    CHECK(zWhy && strstr(zWhy, "does not authenticate"));
    aSealed[i] ^= 0x80;
  }
  aSealed[BEC_E2EE_PREFIX_BYTES+3] ^= 1;
  zWhy = bec_e2ee_reader_open(aSecA, aAd, sizeof(aAd), aSealed, n, aOut);
  CHECK(zWhy && strstr(zWhy, "does not open"));
  aSealed[BEC_E2EE_PREFIX_BYTES+3] ^= 1;
  zWhy = bec_e2ee_reader_open(aSecA, aAd, sizeof(aAd), aSealed, n-1, aOut);
  CHECK(zWhy && strstr(zWhy, "does not authenticate"));
  for(i=0; i<BEC_E2EE_READER_BYTES; i+=7){
    zWhy = bec_e2ee_reader_open(aSecA, aAd, sizeof(aAd), aSealed, i, aOut);
    CHECK(zWhy && strstr(zWhy, "truncated"));
  }
  CHECK(bec_e2ee_reader_open(aSecA, aAd, sizeof(aAd), aSealed, n, aOut)==0);
  /* A key without an X25519 form cannot be sealed to. */
  memset(aBad, 0, sizeof(aBad));
  CHECK(bec_e2ee_reader_seal(aBad, aAd, sizeof(aAd), aPt, sizeof(aPt),
                             aSealed)!=SQLITE_OK);
}

int main(void){
  if( bec_crypto_init() ) return 1;
  test_boxes();
  test_derivations();
  test_aead();
  test_reader();
  return bt_done();
}
