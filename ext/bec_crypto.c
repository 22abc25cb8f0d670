/*
** bec_crypto.c - every use of libsodium's hash, signature and secret-key
** sealing in bec.  Nothing else in bec hashes, signs or verifies ops, so
** the hash, the signature check and the signed message exist once
** (bec_frost.c builds threshold signatures from libsodium's ed25519 core
** primitives; what it makes is checked here like any other signature).
**
** Signed message of an op (domain-separated, bound to the group):
**     "bec-op-v2" (9 bytes) || group id (32 bytes, all zero for create)
**     || op id (32 bytes: BLAKE2b-256 of the op's header, bec_codec.c)
** The signature covers the header only; the header covers the body by its
** length and hash.
**
** Sealed secret (bec_keygen with a passphrase):
**     version:u8 (=1) || opslimit:u64le || memlimit:u64le || salt:16
**     || nonce:24 || secretbox(seed):48
** The key is Argon2id(passphrase, salt, opslimit, memlimit).
*/
#include "becInt.h"

#include <sodium.h>

_Static_assert(BEC_HASH_BYTES==crypto_generichash_BYTES, "hash size");
_Static_assert(BEC_PUBKEY_BYTES==crypto_sign_PUBLICKEYBYTES, "public key size");
_Static_assert(BEC_SECKEY_BYTES==crypto_sign_SECRETKEYBYTES, "secret key size");
_Static_assert(BEC_SEED_BYTES==crypto_sign_SEEDBYTES, "seed size");
_Static_assert(BEC_SIG_BYTES==crypto_sign_BYTES, "signature size");

#define SIGN_DOMAIN     "bec-op-v2"
#define SIGN_DOMAIN_LEN 9
#define SEAL_VERSION    1
#define SEAL_SALT       crypto_pwhash_SALTBYTES
#define SEAL_NONCE      crypto_secretbox_NONCEBYTES
#define SEAL_BYTES      (1 + 8 + 8 + SEAL_SALT + SEAL_NONCE \
                         + crypto_secretbox_MACBYTES + BEC_SEED_BYTES)

int bec_crypto_init(void){
  return sodium_init()<0 ? SQLITE_ERROR : SQLITE_OK;
}

void bec_crypto_hash(const u8 *a, i64 n, u8 *aOut){
  crypto_generichash(aOut, BEC_HASH_BYTES, a, (unsigned long long)n, 0, 0);
}

/* Fills aMsg (SIGNED_MESSAGE_BYTES) with the message an op's signature
** covers: the one place it is built, for signing and for verifying. */
#define SIGNED_MESSAGE_BYTES (SIGN_DOMAIN_LEN + 2*BEC_HASH_BYTES)
static void signed_message(const u8 *aGroupId, const u8 *aId, u8 *aMsg){
  static const u8 aZero[BEC_HASH_BYTES] = {0};
  memcpy(aMsg, SIGN_DOMAIN, SIGN_DOMAIN_LEN);
  memcpy(&aMsg[SIGN_DOMAIN_LEN], aGroupId ? aGroupId : aZero, BEC_HASH_BYTES);
  memcpy(&aMsg[SIGN_DOMAIN_LEN+BEC_HASH_BYTES], aId, BEC_HASH_BYTES);
}

_Static_assert(BEC_OP_MESSAGE_BYTES==SIGNED_MESSAGE_BYTES, "message size");
void bec_crypto_op_message(const u8 *aGroupId, const u8 *aId, u8 *aMsg){
  signed_message(aGroupId, aId, aMsg);
}

/* Local secrets: XChaCha20-Poly1305 under BLAKE2b(key = seed,
** "bec-root-nonce-v1"), a random 24-byte nonce first, aAd as associated
** data. */
#define LOCAL_TAG "bec-root-nonce-v1"
_Static_assert(BEC_CRYPTO_LOCAL_OVERHEAD
               ==crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
                 +crypto_aead_xchacha20poly1305_ietf_ABYTES, "overhead");
static void local_key(const u8 *aSecret, u8 *aKey){
  crypto_generichash(aKey, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
                     (const u8*)LOCAL_TAG, sizeof(LOCAL_TAG)-1, aSecret,
                     BEC_SEED_BYTES);
}
void bec_crypto_local_seal(const u8 *aSecret, const u8 *aAd, const u8 *aPlain,
                           int n, u8 *aOut){
  u8 aKey[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  local_key(aSecret, aKey);
  randombytes_buf(aOut, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      &aOut[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], 0, aPlain,
      (unsigned long long)n, aAd, BEC_HASH_BYTES, 0, aOut, aKey);
  sodium_memzero(aKey, sizeof(aKey));
}
int bec_crypto_local_open(const u8 *aSecret, const u8 *aAd, const u8 *aBox,
                          int nBox, u8 *aPlain){
  u8 aKey[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  int r;
  if( nBox<BEC_CRYPTO_LOCAL_OVERHEAD ) return SQLITE_CORRUPT;
  local_key(aSecret, aKey);
  r = crypto_aead_xchacha20poly1305_ietf_decrypt(aPlain, 0, 0,
      &aBox[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES],
      (unsigned long long)nBox-crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
      aAd, BEC_HASH_BYTES, aBox, aKey);
  sodium_memzero(aKey, sizeof(aKey));
  return r==0 ? SQLITE_OK : SQLITE_CORRUPT;
}

int bec_crypto_verify_op(const BecOp *pOp, const u8 *aGroupId){
  u8 aMsg[SIGNED_MESSAGE_BYTES];
  if( pOp->kind==BEC_KIND_CREATE ) aGroupId = 0;
  signed_message(aGroupId, pOp->aId, aMsg);
  return crypto_sign_verify_detached(pOp->aSig, aMsg, sizeof(aMsg),
                                     pOp->aAuthor)==0;
}

void bec_crypto_sign_id(const u8 *aSecret, const u8 *aGroupId, const u8 *aId,
                        u8 *aSig){
  u8 aMsg[SIGNED_MESSAGE_BYTES];
  signed_message(aGroupId, aId, aMsg);
  crypto_sign_detached(aSig, 0, aMsg, sizeof(aMsg), aSecret);
}

/* Signatures of messages that are not ops: domain || message, so that no
** such message can be mistaken for an op's signed message or for another
** domain's (becsync's handshake transcripts, invite redemptions). */
static int domain_message(const char *zDomain, const u8 *aMsg, i64 nMsg,
                          u8 **ppOut, i64 *pnOut){
  size_t nDom = strlen(zDomain);
  u8 *a = sqlite3_malloc64((sqlite3_uint64)(nDom + (size_t)nMsg));
  if( a==0 ) return SQLITE_NOMEM;
  memcpy(a, zDomain, nDom);
  if( nMsg ) memcpy(&a[nDom], aMsg, (size_t)nMsg);
  *ppOut = a;
  *pnOut = (i64)nDom + nMsg;
  return SQLITE_OK;
}

int bec_crypto_sign_domain(const u8 *aSecret, const char *zDomain,
                           const u8 *aMsg, i64 nMsg, u8 *aSig){
  u8 *a = 0;
  i64 n = 0;
  int rc = domain_message(zDomain, aMsg, nMsg, &a, &n);
  if( rc ) return rc;
  crypto_sign_detached(aSig, 0, a, (unsigned long long)n, aSecret);
  sqlite3_free(a);
  return SQLITE_OK;
}

int bec_crypto_verify_domain(const u8 *aPub, const char *zDomain,
                             const u8 *aMsg, i64 nMsg, const u8 *aSig){
  u8 *a = 0;
  i64 n = 0;
  int bOk;
  if( domain_message(zDomain, aMsg, nMsg, &a, &n) ) return 0;
  bOk = crypto_sign_verify_detached(aSig, a, (unsigned long long)n, aPub)==0;
  sqlite3_free(a);
  return bOk;
}

/* becsync handshake signatures. */
#define AUTH_DOMAIN     "bec-sync-auth-v1"

int bec_crypto_sign_auth(const u8 *aSecret, const u8 *aMsg, i64 nMsg,
                         u8 *aSig){
  return bec_crypto_sign_domain(aSecret, AUTH_DOMAIN, aMsg, nMsg, aSig);
}

int bec_crypto_verify_auth(const u8 *aPub, const u8 *aMsg, i64 nMsg,
                           const u8 *aSig){
  return bec_crypto_verify_domain(aPub, AUTH_DOMAIN, aMsg, nMsg, aSig);
}

/* URL-safe base64 without padding (tokens people copy and paste). */
char *bec_crypto_b64_encode(const u8 *a, int n){
  size_t nOut = sodium_base64_ENCODED_LEN((size_t)n,
                                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *z = sqlite3_malloc64(nOut);
  if( z ) sodium_bin2base64(z, nOut, a, (size_t)n,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return z;
}

int bec_crypto_b64_decode(const char *z, int nz, u8 *aOut, int nOut){
  size_t nBin = 0;
  const char *zEnd = 0;
  if( sodium_base642bin(aOut, (size_t)nOut, z, (size_t)nz, 0, &nBin, &zEnd,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING)
   || zEnd!=&z[nz] ){
    return -1;
  }
  return (int)nBin;
}

void bec_crypto_keypair(u8 *aPub, u8 *aSecret){
  crypto_sign_keypair(aPub, aSecret);
}

void bec_crypto_secret_from_seed(const u8 *aSeed, u8 *aPub, u8 *aSecret){
  crypto_sign_seed_keypair(aPub, aSecret, aSeed);
}

static void put_u64le(u8 *a, u64 v){
  int i;
  for(i=0; i<8; i++) a[i] = (u8)(v >> (8*i));
}

static u64 get_u64le(const u8 *a){
  u64 v = 0;
  int i;
  for(i=0; i<8; i++) v |= ((u64)a[i]) << (8*i);
  return v;
}

/* Derives the sealing key; SQLITE_NOMEM if Argon2id could not get memory. */
static int seal_key(u8 *aKey, const char *zPass, int nPass, const u8 *aSalt,
                    u64 opslimit, u64 memlimit){
  if( crypto_pwhash(aKey, crypto_secretbox_KEYBYTES, zPass,
                    (unsigned long long)nPass, aSalt, opslimit, (size_t)memlimit,
                    crypto_pwhash_ALG_ARGON2ID13) ){
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

int bec_crypto_seal(const u8 *aSeed, const char *zPass, int nPass,
                    u8 **ppOut, int *pnOut){
  u8 aKey[crypto_secretbox_KEYBYTES];
  u64 opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  u64 memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  u8 *a;
  int rc;
  *ppOut = 0;
  *pnOut = 0;
  a = sqlite3_malloc64(SEAL_BYTES);
  if( a==0 ) return SQLITE_NOMEM;
  a[0] = SEAL_VERSION;
  put_u64le(&a[1], opslimit);
  put_u64le(&a[9], memlimit);
  randombytes_buf(&a[17], SEAL_SALT);
  randombytes_buf(&a[17+SEAL_SALT], SEAL_NONCE);
  rc = seal_key(aKey, zPass, nPass, &a[17], opslimit, memlimit);
  if( rc==SQLITE_OK ){
    crypto_secretbox_easy(&a[17+SEAL_SALT+SEAL_NONCE], aSeed, BEC_SEED_BYTES,
                          &a[17+SEAL_SALT], aKey);
    *ppOut = a;
    *pnOut = SEAL_BYTES;
  }else{
    sqlite3_free(a);
  }
  sodium_memzero(aKey, sizeof(aKey));
  return rc;
}

int bec_crypto_unseal(const u8 *a, int n, const char *zPass, int nPass,
                      u8 *aSeed){
  u8 aKey[crypto_secretbox_KEYBYTES];
  u64 opslimit, memlimit;
  int rc;
  if( n!=SEAL_BYTES || a[0]!=SEAL_VERSION ) return SQLITE_ERROR;
  opslimit = get_u64le(&a[1]);
  memlimit = get_u64le(&a[9]);
  /* The stored limits come from our own keygen; refuse absurd ones so a
  ** tampered file cannot make unlock take forever. */
  if( opslimit<crypto_pwhash_OPSLIMIT_MIN || opslimit>crypto_pwhash_OPSLIMIT_SENSITIVE
   || memlimit<crypto_pwhash_MEMLIMIT_MIN || memlimit>crypto_pwhash_MEMLIMIT_SENSITIVE ){
    return SQLITE_ERROR;
  }
  rc = seal_key(aKey, zPass, nPass, &a[17], opslimit, memlimit);
  if( rc==SQLITE_OK ){
    if( crypto_secretbox_open_easy(aSeed, &a[17+SEAL_SALT+SEAL_NONCE],
                                   crypto_secretbox_MACBYTES + BEC_SEED_BYTES,
                                   &a[17+SEAL_SALT], aKey) ){
      rc = SQLITE_AUTH;
    }
  }
  sodium_memzero(aKey, sizeof(aKey));
  return rc;
}

void bec_crypto_random(u8 *a, size_t n){
  randombytes_buf(a, n);
}

void bec_crypto_wipe(void *p, size_t n){
  sodium_memzero(p, n);
}
