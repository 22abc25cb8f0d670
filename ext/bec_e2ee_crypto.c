/*
** bec_e2ee_crypto.c - the primitives of end-to-end encryption
** (../shared/E2EE.md sections 2, 4 and 10), libsodium 1.0.18 only: the
** X25519 form of a member's Ed25519 key, the seed commitment, the key
** derivations, the sealed boxes that carry seeds, and the AEAD.  Bytes in,
** bytes out; no tables (bec_e2ee.c owns those).
**
** libsodium 1.0.18 has no HKDF, and crypto_kdf takes an 8-byte context, so
** every derivation is keyed BLAKE2b-256 over a domain string, as crypto_kx
** derives its session keys.  Each domain string is used once:
**
**   commit  = H("bec-e2ee-commit-v1" || K)
**   k_e     = H_K("bec-e2ee-epoch-v1" || group id || e)
**   k_back  = H_K("bec-e2ee-back-v1")
**   k_w     = H("bec-e2ee-merge-v1" || e_1 || k_e1 || ... || e_n || k_en)
**   k_store = H_seed("bec-e2ee-store-v1")
**
** A box is prefix(8) || crypto_box_seal(K, x_pk): the first 8 bytes of the
** recipient's Ed25519 key name it, the sealed box is anonymous (the op's
** signature says who made it).  Secrets on the stack are wiped before
** return.
**
** A message sealed to one reader (an encrypted group's snapshot in sync,
** bec_e2ee.c) is a box of a fresh random key K_m, then the message under
** XChaCha20-Poly1305-IETF with that key and the caller's associated data:
**
**   sealed := box(K_m, reader):88 || nonce:24 || ct:(n + 16)
**
** K_m is used for this one message, so it needs no derivation.
*/
#include "becInt.h"

#include <sodium.h>

_Static_assert(BEC_E2EE_SEALED_BYTES==BEC_E2EE_SEED_BYTES+crypto_box_SEALBYTES,
               "sealed box size");
_Static_assert(BEC_E2EE_NONCE_BYTES==crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "AEAD nonce size");
_Static_assert(BEC_E2EE_TAG_BYTES==crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "AEAD tag size");
_Static_assert(BEC_E2EE_KEY_BYTES==crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "AEAD key size");
_Static_assert(BEC_E2EE_KEY_BYTES==crypto_box_PUBLICKEYBYTES, "X25519 size");

#define DOM_COMMIT "bec-e2ee-commit-v1"
#define DOM_EPOCH  "bec-e2ee-epoch-v1"
#define DOM_MERGE  "bec-e2ee-merge-v1"
#define DOM_BACK   "bec-e2ee-back-v1"
#define DOM_STORE  "bec-e2ee-store-v1"

int bec_e2ee_xpk(const u8 *aEdPk, u8 *aXPk){
  return crypto_sign_ed25519_pk_to_curve25519(aXPk, aEdPk)==0
         ? SQLITE_OK : SQLITE_ERROR;
}

void bec_e2ee_commit(const u8 *aSeed, u8 *aOut){
  crypto_generichash_state st;
  crypto_generichash_init(&st, 0, 0, BEC_HASH_BYTES);
  crypto_generichash_update(&st, (const u8*)DOM_COMMIT, sizeof(DOM_COMMIT)-1);
  crypto_generichash_update(&st, aSeed, BEC_E2EE_SEED_BYTES);
  crypto_generichash_final(&st, aOut, BEC_HASH_BYTES);
}

void bec_e2ee_epoch_key(const u8 *aSeed, const u8 *aGroup, const u8 *aEpoch,
                        u8 *aKey){
  crypto_generichash_state st;
  crypto_generichash_init(&st, aSeed, BEC_E2EE_SEED_BYTES, BEC_E2EE_KEY_BYTES);
  crypto_generichash_update(&st, (const u8*)DOM_EPOCH, sizeof(DOM_EPOCH)-1);
  crypto_generichash_update(&st, aGroup, BEC_HASH_BYTES);
  crypto_generichash_update(&st, aEpoch, BEC_HASH_BYTES);
  crypto_generichash_final(&st, aKey, BEC_E2EE_KEY_BYTES);
  sodium_memzero(&st, sizeof(st));
}

void bec_e2ee_back_key(const u8 *aSeed, u8 *aKey){
  crypto_generichash(aKey, BEC_E2EE_KEY_BYTES, (const u8*)DOM_BACK,
                     sizeof(DOM_BACK)-1, aSeed, BEC_E2EE_SEED_BYTES);
}

void bec_e2ee_store_key(const u8 *aIdSeed, u8 *aKey){
  crypto_generichash(aKey, BEC_E2EE_KEY_BYTES, (const u8*)DOM_STORE,
                     sizeof(DOM_STORE)-1, aIdSeed, BEC_SEED_BYTES);
}

void bec_e2ee_merge_key(int n, const u8 *aEpoch, const u8 *aKeys, u8 *aOut){
  crypto_generichash_state st;
  int i;
  crypto_generichash_init(&st, 0, 0, BEC_E2EE_KEY_BYTES);
  crypto_generichash_update(&st, (const u8*)DOM_MERGE, sizeof(DOM_MERGE)-1);
  for(i=0; i<n; i++){
    crypto_generichash_update(&st, &aEpoch[i*BEC_HASH_BYTES], BEC_HASH_BYTES);
    crypto_generichash_update(&st, &aKeys[i*BEC_E2EE_KEY_BYTES],
                              BEC_E2EE_KEY_BYTES);
  }
  crypto_generichash_final(&st, aOut, BEC_E2EE_KEY_BYTES);
  sodium_memzero(&st, sizeof(st));
}

int bec_e2ee_box_seal(const u8 *aSeed, const u8 *aEdPk, u8 *aBox){
  u8 aX[crypto_box_PUBLICKEYBYTES];
  if( bec_e2ee_xpk(aEdPk, aX) ) return SQLITE_ERROR;
  memcpy(aBox, aEdPk, BEC_E2EE_PREFIX_BYTES);
  if( crypto_box_seal(&aBox[BEC_E2EE_PREFIX_BYTES], aSeed,
                      BEC_E2EE_SEED_BYTES, aX) ){
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

int bec_e2ee_box_open(const u8 *aSealed, const u8 *aEdSecret, u8 *aSeed){
  u8 aXs[crypto_box_SECRETKEYBYTES], aXp[crypto_box_PUBLICKEYBYTES];
  int rc = SQLITE_ERROR;
  if( crypto_sign_ed25519_sk_to_curve25519(aXs, aEdSecret)==0
   && bec_e2ee_xpk(&aEdSecret[BEC_SEED_BYTES], aXp)==SQLITE_OK
   && crypto_box_seal_open(aSeed, aSealed, BEC_E2EE_SEALED_BYTES,
                           aXp, aXs)==0 ){
    rc = SQLITE_OK;
  }
  sodium_memzero(aXs, sizeof(aXs));
  if( rc ) sodium_memzero(aSeed, BEC_E2EE_SEED_BYTES);
  return rc;
}

void bec_e2ee_aead_seal(const u8 *aKey, const u8 *aNonce, const u8 *aAd,
                        i64 nAd, const u8 *aPt, i64 n, u8 *aOut){
  crypto_aead_xchacha20poly1305_ietf_encrypt(aOut, 0, aPt,
      (unsigned long long)n, aAd, (unsigned long long)nAd, 0, aNonce, aKey);
}

int bec_e2ee_aead_open(const u8 *aKey, const u8 *aNonce, const u8 *aAd,
                       i64 nAd, const u8 *aCt, i64 n, u8 *aOut){
  if( n<BEC_E2EE_TAG_BYTES ) return SQLITE_ERROR;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(aOut, 0, 0, aCt,
      (unsigned long long)n, aAd, (unsigned long long)nAd, aNonce, aKey)==0
      ? SQLITE_OK : SQLITE_ERROR;
}

int bec_e2ee_pad(u8 *a, i64 n, i64 nMax, i64 *pnOut){
  size_t nOut = 0;
  if( sodium_pad(&nOut, a, (size_t)n, BEC_E2EE_PAD_BYTES, (size_t)nMax) ){
    return SQLITE_ERROR;
  }
  *pnOut = (i64)nOut;
  return SQLITE_OK;
}

int bec_e2ee_unpad(const u8 *a, i64 n, i64 *pnOut){
  size_t nOut = 0;
  if( n<=0 || sodium_unpad(&nOut, a, (size_t)n, BEC_E2EE_PAD_BYTES) ){
    return SQLITE_ERROR;
  }
  *pnOut = (i64)nOut;
  return SQLITE_OK;
}

int bec_e2ee_reader_seal(const u8 *aEdPk, const u8 *aAd, i64 nAd,
                         const u8 *aPt, i64 nPt, u8 *aOut){
  u8 aKey[BEC_E2EE_KEY_BYTES];
  u8 *aNonce = &aOut[BEC_E2EE_BOX_BYTES];
  int rc;
  randombytes_buf(aKey, sizeof(aKey));
  rc = bec_e2ee_box_seal(aKey, aEdPk, aOut);
  if( rc==SQLITE_OK ){
    randombytes_buf(aNonce, BEC_E2EE_NONCE_BYTES);
    bec_e2ee_aead_seal(aKey, aNonce, aAd, nAd, aPt, nPt,
                       &aNonce[BEC_E2EE_NONCE_BYTES]);
  }
  sodium_memzero(aKey, sizeof(aKey));
  return rc;
}

const char *bec_e2ee_reader_open(const u8 *aEdSecret, const u8 *aAd, i64 nAd,
                                 const u8 *a, i64 n, u8 *aOut){
  u8 aKey[BEC_E2EE_KEY_BYTES];
  const char *zWhy = 0;
  if( n<BEC_E2EE_READER_BYTES ) return "it is truncated";
  if( memcmp(a, &aEdSecret[BEC_SEED_BYTES], BEC_E2EE_PREFIX_BYTES) ){
    return "it is sealed to another key";
  }
  if( bec_e2ee_box_open(&a[BEC_E2EE_PREFIX_BYTES], aEdSecret, aKey) ){
    return "its key does not open with this replica's identity";
  }
  if( bec_e2ee_aead_open(aKey, &a[BEC_E2EE_BOX_BYTES], aAd, nAd,
          &a[BEC_E2EE_BOX_BYTES+BEC_E2EE_NONCE_BYTES],
          n - BEC_E2EE_BOX_BYTES - BEC_E2EE_NONCE_BYTES, aOut) ){
    zWhy = "it does not authenticate (altered, or sealed for another "
           "group, checkpoint or key)";
  }
  sodium_memzero(aKey, sizeof(aKey));
  return zWhy;
}
