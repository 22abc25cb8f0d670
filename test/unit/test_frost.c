/*
** test_frost.c - the threshold root's arithmetic (bec_frost.c): RFC 9591
** App. E.1 byte for byte (R1), a flipped signature share named (R2), the
** refusal of non-canonical scalars and invalid points, key generation
** 3-of-5 with real identity keys after which every 3-subset signs and no
** 2-subset can (and 7-of-10, spot-checked), dealers with a bad box or a
** bad proof of possession named, and commitments that sum to the identity
** handled.
*/
#include "becInt.h"
#include "bectest.h"

#include <sodium.h>

static void hex(const char *z, u8 *a, int n){
  int nGot = bec_hex_decode(z, (int)strlen(z), a, n);
  if( nGot!=n ){ printf("bad hex %s\n", z); exit(1); }
}

static int all_zero(const void *p, size_t n){
  const u8 *a = p;
  size_t i;
  for(i=0; i<n; i++) if( a[i] ) return 0;
  return 1;
}

static int has(const char *zErr, const char *zWant){
  return zErr && strstr(zErr, zWant)!=0;
}

/**************************************************************************
** R1, R2: RFC 9591 Appendix E.1, FROST(Ed25519, SHA-512), 2-of-3, signers
** 1 and 3, message "test".
*/
static const char *zE1Secret =
  "7b1c33d3f5291d85de664833beb1ad469f7fb6025a0ec78b3a790c6e13a98304";
static const char *zE1Group =
  "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673";
static const char *zE1A1 =
  "178199860edd8c62f5212ee91eff1295d0d670ab4ed4506866bae57e7030b204";
static const char *azE1Share[3] = {
  "929dcc590407aae7d388761cddb0c0db6f5627aea8e217f4a033f2ec83d93509",
  "a91e66e012e4364ac9aaa405fcafd370402d9859f7b6685c07eed76bf409e80d",
  "d3cb090a075eb154e82fdb4b3cb507f110040905468bb9c46da8bdea643a9a02",
};
typedef struct E1Signer E1Signer;
struct E1Signer {
  int id;
  const char *zRandD, *zRandE, *zD, *zE, *zCommitD, *zCommitE, *zRho, *zZ;
};
static const E1Signer aE1[2] = {
  { 1,
    "0fd2e39e111cdc266f6c0f4d0fd45c947761f1f5d3cb583dfcb9bbaf8d4c9fec",
    "69cd85f631d5f7f2721ed5e40519b1366f340a87c2f6856363dbdcda348a7501",
    "812d6104142944d5a55924de6d49940956206909f2acaeedecda2b726e630407",
    "b1110165fc2334149750b28dd813a39244f315cff14d4e89e6142f262ed83301",
    "b5aa8ab305882a6fc69cbee9327e5a45e54c08af61ae77cb8207be3d2ce13de3",
    "67e98ab55aa310c3120418e5050c9cf76cf387cb20ac9e4b6fdb6f82a469f932",
    "f2cb9d7dd9beff688da6fcc83fa89046b3479417f47f55600b106760eb3b5603",
    "001719ab5a53ee1a12095cd088fd149702c0720ce5fd2f29dbecf24b7281b603" },
  { 3,
    "86d64a260059e495d0fb4fcc17ea3da7452391baa494d4b00321098ed2a0062f",
    "13e6b25afb2eba51716a9a7d44130c0dbae0004a9ef8d7b5550c8a0e07c61775",
    "c256de65476204095ebdc01bd11dc10e57b36bc96284595b8215222374f99c0e",
    "243d71944d929063bc51205714ae3c2218bd3451d0214dfb5aeec2a90c35180d",
    "cfbdb165bd8aad6eb79deb8d287bcc0ab6658ae57fdcc98ed12c0669e90aec91",
    "7487bc41a6e712eea2f2af24681b58b1cf1da278ea11fe4e8b78398965f13552",
    "b087686bf35a13f3dc78e780a34b0fe8a77fef1b9938c563f5573d71d8d7890f",
    "bd86125de990acc5e1f13781d8e32c03a9bbd4c53539bbc106058bfd14326007" },
};
/* binding_factor_input of signer 1 without its last 32 bytes (the
** identifier): Y || H4("test") || H5(commitment list). */
static const char *zE1RhoPrefix =
  "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673"
  "504df914fa965023fb75c25ded4bb260f417de6d32e5c442c6ba313791cc9a49"
  "48d6273e8d3511f93348ea7a708a9b862bc73ba2a79cfdfe07729a193751cbc9"
  "73af46d8ac3440e518d4ce440a0e7d4ad5f62ca8940f32de6d8dc00fc12c660b"
  "817d587d82f856d277ce6473cae6d2f5763f7da2e8b4d799a3f3e725d4522ec7";
static const char *zE1Sig =
  "36282629c383bb820a88b71cae937d41f2f2adfcc3d02e55507e2fb9e2dd3cbe"
  "bd9d2b0844e49ae0f3fa935161e1419aab7b47d21a37ebeae1f17d4987b3160b";

static void test_rfc_e1(void){
  const u8 *aMsg = (const u8*)"test";
  BecFrostPoly poly;
  BecFrostKey aKey[2];
  BecFrostNonce aNonce[2], save;
  BecFrostCommit aList[2];
  u8 aY[32], aShare[32], aWant[32], aWant2[32];
  u8 aRho[2][32], aInput[2*BEC_FROST_RHO_INPUT_BYTES];
  u8 aPre[BEC_FROST_RHO_INPUT_BYTES-32];
  u8 aZ[2][32], aPk[2][32], aSig[64], aWantSig[64], aT[32];
  char *zErr = 0;
  int i, iBad = -1;

  /* Shares from the dealer polynomial f(x) = s + a1.x (App. C), by the
  ** DKG's Horner evaluation. */
  hex(zE1Group, aY, 32);
  poly.k = 2;
  hex(zE1Secret, poly.a[0], 32);
  hex(zE1A1, poly.a[1], 32);
  for(i=1; i<=3; i++){
    hex(azE1Share[i-1], aWant, 32);
    CHECK(bec_frost_poly_eval(&poly, i, aShare)==SQLITE_OK);
    CHECK_MSG(memcmp(aShare, aWant, 32)==0, "share %d", i);
  }
  CHECK(crypto_scalarmult_ed25519_base_noclamp(aT, poly.a[0])==0);
  CHECK(memcmp(aT, aY, 32)==0);
  sodium_memzero(&poly, sizeof(poly));

  /* Round 1 from the RFC's randomness. */
  for(i=0; i<2; i++){
    u8 aRandD[32], aRandE[32];
    aKey[i].id = aE1[i].id;
    hex(azE1Share[aE1[i].id-1], aKey[i].aShare, 32);
    memcpy(aKey[i].aY, aY, 32);
    CHECK(crypto_scalarmult_ed25519_base_noclamp(aKey[i].aPk,
                                                 aKey[i].aShare)==0);
    memcpy(aPk[i], aKey[i].aPk, 32);
    hex(aE1[i].zRandD, aRandD, 32);
    hex(aE1[i].zRandE, aRandE, 32);
    CHECK(bec_frost_commit_with(&aKey[i], aRandD, aRandE, &aNonce[i])==0);
    hex(aE1[i].zD, aWant, 32);
    CHECK_MSG(memcmp(aNonce[i].ad, aWant, 32)==0, "hiding nonce %d", aE1[i].id);
    hex(aE1[i].zE, aWant, 32);
    CHECK_MSG(memcmp(aNonce[i].ae, aWant, 32)==0, "binding nonce %d",
              aE1[i].id);
    hex(aE1[i].zCommitD, aWant, 32);
    CHECK_MSG(memcmp(aNonce[i].commit.aD, aWant, 32)==0, "D %d", aE1[i].id);
    hex(aE1[i].zCommitE, aWant, 32);
    CHECK_MSG(memcmp(aNonce[i].commit.aE, aWant, 32)==0, "E %d", aE1[i].id);
    CHECK(aNonce[i].commit.id==aE1[i].id);
    aList[i] = aNonce[i].commit;
  }

  /* Binding factors and their preimages. */
  CHECK(bec_frost_binding_factors(aList, 2, aY, aMsg, 4, aRho, aInput,
                                  &zErr)==SQLITE_OK);
  hex(zE1RhoPrefix, aPre, (int)sizeof(aPre));
  for(i=0; i<2; i++){
    const u8 *aIn = &aInput[i*BEC_FROST_RHO_INPUT_BYTES];
    hex(aE1[i].zRho, aWant, 32);
    CHECK_MSG(memcmp(aRho[i], aWant, 32)==0, "rho %d", aE1[i].id);
    CHECK(memcmp(aIn, aPre, sizeof(aPre))==0);
    CHECK(aIn[sizeof(aPre)]==aE1[i].id && all_zero(&aIn[sizeof(aPre)+1], 31));
  }

  /* Round 2: both shares byte for byte; each nonce pair is then gone. */
  for(i=0; i<2; i++){
    save = aNonce[i];
    CHECK(bec_frost_sign(&aKey[i], &aNonce[i], aList, 2, aMsg, 4, aZ[i],
                         &zErr)==SQLITE_OK);
    hex(aE1[i].zZ, aWant, 32);
    CHECK_MSG(memcmp(aZ[i], aWant, 32)==0, "sig share %d", aE1[i].id);
    CHECK(all_zero(&aNonce[i], sizeof(aNonce[i])));
    CHECK(bec_frost_sign(&aKey[i], &aNonce[i], aList, 2, aMsg, 4, aT,
                         &zErr)!=SQLITE_OK);
    CHECK(has(zErr, "own commitment"));
    aNonce[i] = save;     /* for the refusals below */
    CHECK(bec_frost_verify_share(aE1[i].id, aPk[i], aZ[i], aList, 2, aY,
                                 aMsg, 4, &zErr)==SQLITE_OK);
  }

  /* Aggregate: the RFC's signature, which libsodium's verify accepts. */
  CHECK(bec_frost_aggregate(aList, 2, (const u8(*)[32])aZ,
                            (const u8(*)[32])aPk, aY, aMsg, 4, aSig, &iBad,
                            &zErr)==SQLITE_OK);
  hex(zE1Sig, aWantSig, 64);
  CHECK(memcmp(aSig, aWantSig, 64)==0);
  CHECK(iBad==0);
  CHECK(crypto_sign_verify_detached(aSig, aMsg, 4, aY)==0);

  /* R2: one byte of z_3 flipped.  The aggregate fails and holder 3 is
  ** named, by the aggregate and by the share check. */
  memcpy(aT, aZ[1], 32);
  aZ[1][5] ^= 0x01;
  CHECK(bec_frost_aggregate(aList, 2, (const u8(*)[32])aZ,
                            (const u8(*)[32])aPk, aY, aMsg, 4, aSig, &iBad,
                            &zErr)!=SQLITE_OK);
  CHECK(iBad==3);
  CHECK_MSG(has(zErr, "bad signature share: holder 3"), "%s", zErr);
  CHECK(all_zero(aSig, 64));
  CHECK(bec_frost_verify_share(3, aPk[1], aZ[1], aList, 2, aY, aMsg, 4,
                               &zErr)!=SQLITE_OK);
  CHECK(has(zErr, "bad signature share: holder 3"));
  CHECK(bec_frost_verify_share(1, aPk[0], aZ[0], aList, 2, aY, aMsg, 4,
                               &zErr)==SQLITE_OK);
  /* The same signature bytes with the flipped share: libsodium refuses. */
  memcpy(aWant2, aZ[0], 32);
  crypto_core_ed25519_scalar_add(aWant2, aWant2, aZ[1]);
  memcpy(&aWantSig[32], aWant2, 32);
  CHECK(crypto_sign_verify_detached(aWantSig, aMsg, 4, aY)!=0);
  /* Without the public keys: it fails and no one can be named. */
  CHECK(bec_frost_aggregate(aList, 2, (const u8(*)[32])aZ, 0, aY, aMsg, 4,
                            aSig, &iBad, &zErr)!=SQLITE_OK);
  CHECK(iBad==0 && has(zErr, "does not verify"));
  /* The top bit flipped: no longer canonical, named before any sum. */
  memcpy(aZ[1], aT, 32);
  aZ[1][31] ^= 0x80;
  CHECK(bec_frost_aggregate(aList, 2, (const u8(*)[32])aZ,
                            (const u8(*)[32])aPk, aY, aMsg, 4, aSig, &iBad,
                            &zErr)!=SQLITE_OK);
  CHECK(iBad==3);
  memcpy(aZ[1], aT, 32);

  /* The signer's own refusals. */
  {
    BecFrostCommit aBad[2];
    /* not sorted */
    aBad[0] = aList[1]; aBad[1] = aList[0];
    CHECK(bec_frost_sign(&aKey[0], &aNonce[0], aBad, 2, aMsg, 4, aT,
                         &zErr)!=SQLITE_OK);
    CHECK(has(zErr, "not sorted"));
    /* a duplicate identifier */
    aBad[0] = aList[0]; aBad[1] = aList[0];
    CHECK(bec_frost_sign(&aKey[0], &aNonce[0], aBad, 2, aMsg, 4, aT,
                         &zErr)!=SQLITE_OK);
    /* its own commitment altered */
    aBad[0] = aList[0]; aBad[1] = aList[1];
    memcpy(aBad[0].aE, aList[1].aE, 32);
    CHECK(bec_frost_sign(&aKey[0], &aNonce[0], aBad, 2, aMsg, 4, aT,
                         &zErr)!=SQLITE_OK);
    CHECK(has(zErr, "own commitment"));
    /* its own commitment missing */
    CHECK(bec_frost_sign(&aKey[0], &aNonce[0], &aList[1], 1, aMsg, 4, aT,
                         &zErr)!=SQLITE_OK);
    CHECK(has(zErr, "own commitment"));
    /* another's commitment the identity */
    aBad[0] = aList[0]; aBad[1] = aList[1];
    memset(aBad[1].aD, 0, 32); aBad[1].aD[0] = 1;
    CHECK(bec_frost_sign(&aKey[0], &aNonce[0], aBad, 2, aMsg, 4, aT,
                         &zErr)!=SQLITE_OK);
    CHECK(has(zErr, "invalid commitment of holder 3"));
    /* an identifier out of range */
    aBad[1] = aList[1]; aBad[1].id = BEC_FROST_MAX_HOLDERS+1;
    CHECK(bec_frost_sign(&aKey[0], &aNonce[0], aBad, 2, aMsg, 4, aT,
                         &zErr)!=SQLITE_OK);
    /* None of these used the nonce: it still signs, the same share. */
    CHECK(bec_frost_sign(&aKey[0], &aNonce[0], aList, 2, aMsg, 4, aT,
                         &zErr)==SQLITE_OK);
    CHECK(memcmp(aT, aZ[0], 32)==0);
  }
  sodium_memzero(aKey, sizeof(aKey));
  sodium_memzero(aNonce, sizeof(aNonce));
  sqlite3_free(zErr);
}

/**************************************************************************
** Deserialization: gap 1 (scalars) and DeserializeElement (points).
*/
static void test_encodings(void){
  /* L, L+1, 2^256-1, 2^255 */
  static const char *azBadScalar[] = {
    "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010",
    "eed3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0000000000000000000000000000000000000000000000000000000000000080",
  };
  static const char *azGoodScalar[] = {   /* L-1, 0, 1 */
    "ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
  };
  static const char *azBadPoint[] = {
    /* the identity */
    "0100000000000000000000000000000000000000000000000000000000000000",
    /* small order: 2, 4, 8, 8 */
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    /* non-canonical: y = p+1 (the identity again), y = p (order 4) */
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    /* the base point with a set sign bit for x: -B is fine, but y=1, x<0
    ** is not a canonical encoding */
    "0100000000000000000000000000000000000000000000000000000000000080",
  };
  u8 a[32], aB[32], aT[32], aTors[32];
  BecFrostCommit aList[1];
  BecFrostKey key;
  BecFrostNonce nonce;
  char *zErr = 0;
  u8 aRho[1][32];
  unsigned i;

  for(i=0; i<sizeof(azBadScalar)/sizeof(azBadScalar[0]); i++){
    hex(azBadScalar[i], a, 32);
    CHECK_MSG(bec_frost_scalar_check(a)!=SQLITE_OK, "%s", azBadScalar[i]);
  }
  for(i=0; i<sizeof(azGoodScalar)/sizeof(azGoodScalar[0]); i++){
    hex(azGoodScalar[i], a, 32);
    CHECK_MSG(bec_frost_scalar_check(a)==SQLITE_OK, "%s", azGoodScalar[i]);
  }
  for(i=0; i<sizeof(azBadPoint)/sizeof(azBadPoint[0]); i++){
    hex(azBadPoint[i], a, 32);
    CHECK_MSG(bec_frost_point_check(a)!=SQLITE_OK, "%s", azBadPoint[i]);
  }
  /* The base point is valid; the base point plus a point of order 8 is
  ** on the curve but outside the prime-order subgroup. */
  hex("5866666666666666666666666666666666666666666666666666666666666666",
      aB, 32);
  CHECK(bec_frost_point_check(aB)==SQLITE_OK);
  hex(azBadPoint[3], aTors, 32);
  CHECK(crypto_core_ed25519_add(aT, aB, aTors)==0);
  CHECK(bec_frost_point_check(aT)!=SQLITE_OK);

  /* Through the API: a commitment outside the subgroup, a key share that
  ** is not canonical, a zero key share. */
  memset(&key, 0, sizeof(key));
  key.id = 1;
  crypto_core_ed25519_scalar_random(key.aShare);
  CHECK(crypto_scalarmult_ed25519_base_noclamp(key.aY, key.aShare)==0);
  CHECK(bec_frost_commit(&key, &nonce)==SQLITE_OK);
  aList[0] = nonce.commit;
  CHECK(bec_frost_binding_factors(aList, 1, key.aY, a, 0, aRho, 0,
                                  &zErr)==SQLITE_OK);
  memcpy(aList[0].aE, aT, 32);
  CHECK(bec_frost_binding_factors(aList, 1, key.aY, a, 0, aRho, 0,
                                  &zErr)!=SQLITE_OK);
  CHECK(has(zErr, "invalid commitment of holder 1"));
  aList[0] = nonce.commit;
  CHECK(bec_frost_binding_factors(aList, 1, aT, a, 0, aRho, 0,
                                  &zErr)!=SQLITE_OK);
  CHECK(has(zErr, "invalid group key"));
  CHECK(bec_frost_binding_factors(aList, 0, key.aY, a, 0, aRho, 0,
                                  &zErr)!=SQLITE_OK);
  hex(azBadScalar[0], key.aShare, 32);
  CHECK(bec_frost_commit(&key, &nonce)!=SQLITE_OK);
  CHECK(all_zero(&nonce, sizeof(nonce)));
  memset(key.aShare, 0, 32);
  CHECK(bec_frost_commit(&key, &nonce)!=SQLITE_OK);
  sqlite3_free(zErr);
}

/**************************************************************************
** Key generation and signing with real identity keys.
*/
typedef struct Dkg Dkg;
struct Dkg {
  int k, n;
  u8 aGid[32], aSid[32];
  u8 aPub[BEC_FROST_MAX_HOLDERS][BEC_PUBKEY_BYTES];
  u8 aSec[BEC_FROST_MAX_HOLDERS][BEC_SECKEY_BYTES];
  BecFrostDeal aDeal[BEC_FROST_MAX_HOLDERS];
  u8 *aBoxes;                    /* n deals of n boxes: dealer i, holder j */
  BecFrostKey aKey[BEC_FROST_MAX_HOLDERS];
  u8 aY[32];
  u8 aPk[BEC_FROST_MAX_HOLDERS][32];
};

static u8 *box_of(Dkg *p, int i, int j){
  return &p->aBoxes[((i-1)*p->n + (j-1))*BEC_FROST_BOX_BYTES];
}

static void dkg_setup(Dkg *p, int k, int n){
  int i;
  memset(p, 0, sizeof(*p));
  p->k = k;
  p->n = n;
  bec_crypto_random(p->aGid, 32);
  bec_crypto_random(p->aSid, 32);
  for(i=0; i<n; i++) bec_crypto_keypair(p->aPub[i], p->aSec[i]);
  p->aBoxes = malloc((size_t)n*n*BEC_FROST_BOX_BYTES);
}

static void dkg_free(Dkg *p){
  sodium_memzero(p->aKey, sizeof(p->aKey));
  sodium_memzero(p->aSec, sizeof(p->aSec));
  free(p->aBoxes);
}

/* Holder j finishes with the boxes addressed to it. */
static int dkg_finish(Dkg *p, int j, int *piBad, char **pzErr){
  const u8 *apBox[BEC_FROST_MAX_HOLDERS];
  int i;
  for(i=1; i<=p->n; i++) apBox[i-1] = box_of(p, i, j);
  return bec_frost_dkg_finish(p->aSid, j, p->aDeal, p->n, apBox,
                              p->aSec[j-1], &p->aKey[j-1], piBad, pzErr);
}

/* Every dealer deals honestly, every deal checks, every holder finishes;
** all views agree. */
static void dkg_run(Dkg *p){
  char *zErr = 0;
  int i, j, iBad;
  u8 aT[32];
  for(i=1; i<=p->n; i++){
    CHECK(bec_frost_dkg_deal(p->aGid, p->aSid, i, p->k, p->n,
                             (const u8(*)[BEC_PUBKEY_BYTES])p->aPub,
                             &p->aDeal[i-1], box_of(p, i, 1))==SQLITE_OK);
  }
  for(i=1; i<=p->n; i++){
    CHECK(bec_frost_dkg_check_deal(p->aGid, p->aSid, &p->aDeal[i-1],
                                   &zErr)==SQLITE_OK);
  }
  CHECK(bec_frost_dkg_public(p->aDeal, p->n, p->aY, p->aPk, &zErr)==0);
  for(j=1; j<=p->n; j++){
    BecFrostKey *pKey = &p->aKey[j-1];
    CHECK_MSG(dkg_finish(p, j, &iBad, &zErr)==SQLITE_OK, "holder %d: %s",
              j, zErr);
    CHECK(iBad==0);
    CHECK(pKey->id==j);
    CHECK(memcmp(pKey->aY, p->aY, 32)==0);
    CHECK(memcmp(pKey->aPk, p->aPk[j-1], 32)==0);
    CHECK(crypto_scalarmult_ed25519_base_noclamp(aT, pKey->aShare)==0);
    CHECK(memcmp(aT, pKey->aPk, 32)==0);
  }
  CHECK(bec_frost_point_check(p->aY)==SQLITE_OK);
  sqlite3_free(zErr);
}

/* The signers are the holders whose bit is set in mask.  Returns the
** aggregate's rc; *piBad as bec_frost_aggregate sets it. */
static int dkg_sign(Dkg *p, unsigned mask, const u8 *aMsg, int nMsg,
                    u8 *aSig, int *piBad){
  BecFrostNonce aNonce[BEC_FROST_MAX_HOLDERS];
  BecFrostCommit aList[BEC_FROST_MAX_HOLDERS];
  u8 aZ[BEC_FROST_MAX_HOLDERS][32], aPk[BEC_FROST_MAX_HOLDERS][32];
  char *zErr = 0;
  int n = 0, j, rc;
  for(j=1; j<=p->n; j++){
    if( (mask & (1u<<(j-1)))==0 ) continue;
    CHECK(bec_frost_commit(&p->aKey[j-1], &aNonce[n])==SQLITE_OK);
    aList[n] = aNonce[n].commit;
    memcpy(aPk[n], p->aPk[j-1], 32);
    n++;
  }
  for(j=0; j<n; j++){
    int id = aList[j].id;
    CHECK(bec_frost_sign(&p->aKey[id-1], &aNonce[j], aList, n, aMsg, nMsg,
                         aZ[j], &zErr)==SQLITE_OK);
    /* Each share passes its own check, even in a set below threshold. */
    CHECK(bec_frost_verify_share(id, aPk[j], aZ[j], aList, n, p->aY, aMsg,
                                 nMsg, &zErr)==SQLITE_OK);
  }
  rc = bec_frost_aggregate(aList, n, (const u8(*)[32])aZ,
                           (const u8(*)[32])aPk, p->aY, aMsg, nMsg, aSig,
                           piBad, &zErr);
  sqlite3_free(zErr);
  return rc;
}

static int popcount(unsigned x){
  int c = 0;
  while( x ){ c += x&1; x >>= 1; }
  return c;
}

static void test_dkg_3_of_5(void){
  Dkg d;
  u8 aMsg[73], aSig[64];
  unsigned mask;
  int nSigned = 0, nRefused = 0, iBad;
  dkg_setup(&d, 3, 5);
  dkg_run(&d);
  bec_crypto_random(aMsg, sizeof(aMsg));
  for(mask=1; mask<32; mask++){
    int c = popcount(mask);
    int rc;
    if( c<2 ) continue;
    rc = dkg_sign(&d, mask, aMsg, sizeof(aMsg), aSig, &iBad);
    if( c>=3 ){
      CHECK_MSG(rc==SQLITE_OK, "subset %x", mask);
      CHECK(crypto_sign_verify_detached(aSig, aMsg, sizeof(aMsg), d.aY)==0);
      nSigned += (c==3);
    }else{
      /* Two shares interpolate the wrong secret: the aggregate fails and
      ** no holder is to blame. */
      CHECK_MSG(rc!=SQLITE_OK, "subset %x", mask);
      CHECK(iBad==0);
      nRefused++;
    }
  }
  CHECK(nSigned==10 && nRefused==10);
  dkg_free(&d);
}

/* 7-of-10: two 7-subsets and the 10 sign, a 6-subset cannot. */
static void test_dkg_7_of_10(void){
  Dkg d;
  u8 aMsg[73], aSig[64];
  int iBad;
  dkg_setup(&d, 7, 10);
  dkg_run(&d);
  bec_crypto_random(aMsg, sizeof(aMsg));
  CHECK(dkg_sign(&d, 0x07f, aMsg, 73, aSig, &iBad)==SQLITE_OK);
  CHECK(crypto_sign_verify_detached(aSig, aMsg, 73, d.aY)==0);
  CHECK(dkg_sign(&d, 0x3f8, aMsg, 73, aSig, &iBad)==SQLITE_OK);
  CHECK(crypto_sign_verify_detached(aSig, aMsg, 73, d.aY)==0);
  CHECK(dkg_sign(&d, 0x3ff, aMsg, 73, aSig, &iBad)==SQLITE_OK);
  /* holders 1, 3, 5, 6, 7, 8 */
  CHECK(dkg_sign(&d, 0x0f5, aMsg, 73, aSig, &iBad)!=SQLITE_OK);
  CHECK(iBad==0);
  dkg_free(&d);
}

/* Dealer 2 of a 3-of-5 session deals its own way: aBad[j] chooses what
** holder j's box holds (0 honest). */
enum { BOX_OK, BOX_VALUE, BOX_PAIR, BOX_SID, BOX_KEY, BOX_NOISE, BOX_LONGID };
static void deal_badly(Dkg *p, int iDealer, int jVictim, int eHow){
  BecFrostPoly poly;
  u8 aShare[32], aOne[32] = {1}, aSid[32];
  int j;
  CHECK(bec_frost_poly_random(p->k, &poly)==SQLITE_OK);
  CHECK(bec_frost_dkg_commit(&poly, p->aGid, p->aSid, iDealer,
                             &p->aDeal[iDealer-1])==SQLITE_OK);
  for(j=1; j<=p->n; j++){
    u8 *aBox = box_of(p, iDealer, j);
    int eBox = j==jVictim ? eHow : BOX_OK;
    CHECK(bec_frost_poly_eval(&poly, j, aShare)==SQLITE_OK);
    switch( eBox ){
      case BOX_VALUE:   /* a share off by one */
        crypto_core_ed25519_scalar_add(aShare, aShare, aOne);
        CHECK(bec_frost_dkg_seal(p->aSid, iDealer, j, aShare, p->aPub[j-1],
                                 aBox)==SQLITE_OK);
        break;
      case BOX_PAIR:    /* the right value, labeled for another holder */
        CHECK(bec_frost_dkg_seal(p->aSid, iDealer, j%p->n+1, aShare,
                                 p->aPub[j-1], aBox)==SQLITE_OK);
        break;
      case BOX_SID:     /* from another session */
        memcpy(aSid, p->aSid, 32);
        aSid[0] ^= 1;
        CHECK(bec_frost_dkg_seal(aSid, iDealer, j, aShare, p->aPub[j-1],
                                 aBox)==SQLITE_OK);
        break;
      case BOX_KEY:     /* sealed to another holder's key */
        CHECK(bec_frost_dkg_seal(p->aSid, iDealer, j, aShare,
                                 p->aPub[j%p->n], aBox)==SQLITE_OK);
        break;
      case BOX_NOISE:
        bec_crypto_random(aBox, BEC_FROST_BOX_BYTES);
        break;
      default:
        CHECK(bec_frost_dkg_seal(p->aSid, iDealer, j, aShare, p->aPub[j-1],
                                 aBox)==SQLITE_OK);
        break;
    }
  }
  sodium_memzero(&poly, sizeof(poly));
  sodium_memzero(aShare, sizeof(aShare));
}

static void test_bad_dealer(void){
  static const int aHow[] = { BOX_VALUE, BOX_PAIR, BOX_SID, BOX_KEY,
                              BOX_NOISE };
  unsigned h;
  for(h=0; h<sizeof(aHow)/sizeof(aHow[0]); h++){
    Dkg d;
    char *zErr = 0;
    int i, j, iBad;
    dkg_setup(&d, 3, 5);
    for(i=1; i<=5; i++){
      if( i==2 ){
        deal_badly(&d, 2, 4, aHow[h]);
      }else{
        CHECK(bec_frost_dkg_deal(d.aGid, d.aSid, i, 3, 5,
                                 (const u8(*)[BEC_PUBKEY_BYTES])d.aPub,
                                 &d.aDeal[i-1], box_of(&d, i, 1))==SQLITE_OK);
      }
    }
    /* The public part is fine: anyone accepts the deal. */
    for(i=1; i<=5; i++){
      CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &d.aDeal[i-1], &zErr)==0);
    }
    for(j=1; j<=5; j++){
      int rc = dkg_finish(&d, j, &iBad, &zErr);
      if( j==4 ){
        CHECK_MSG(rc!=SQLITE_OK && iBad==2, "how %d: rc %d bad %d", aHow[h],
                  rc, iBad);
        CHECK_MSG(has(zErr, "dkg: bad share from holder 2"), "%s", zErr);
        CHECK(all_zero(&d.aKey[3], sizeof(d.aKey[3])));
      }else{
        CHECK(rc==SQLITE_OK && iBad==0);
      }
    }
    sqlite3_free(zErr);
    dkg_free(&d);
  }

  /* A box whose plaintext holds a non-canonical scalar (sealed by hand in
  ** the documented layout) is refused by its recipient; the sealing
  ** function itself refuses to make one. */
  {
    Dkg d;
    u8 aPlain[BEC_FROST_BOX_PLAIN_BYTES], aXPk[32], aBox[BEC_FROST_BOX_BYTES];
    u8 aShare[32];
    char *zErr = 0;
    dkg_setup(&d, 2, 3);
    memcpy(aPlain, "bec-dkg-share-v1", 16);
    memcpy(&aPlain[16], d.aSid, 32);
    aPlain[48] = 1;
    aPlain[49] = 2;
    memset(&aPlain[50], 0xff, 32);
    CHECK(crypto_sign_ed25519_pk_to_curve25519(aXPk, d.aPub[1])==0);
    CHECK(crypto_box_seal(aBox, aPlain, sizeof(aPlain), aXPk)==0);
    CHECK(bec_frost_dkg_open(d.aSid, 1, 2, aBox, sizeof(aBox), d.aSec[1],
                             aShare, &zErr)!=SQLITE_OK);
    CHECK(has(zErr, "bad share from holder 1"));
    /* The same layout with a good scalar opens: the layout is right. */
    memset(&aPlain[50], 0, 32);
    aPlain[50] = 7;
    CHECK(crypto_box_seal(aBox, aPlain, sizeof(aPlain), aXPk)==0);
    CHECK(bec_frost_dkg_open(d.aSid, 1, 2, aBox, sizeof(aBox), d.aSec[1],
                             aShare, &zErr)==SQLITE_OK);
    CHECK(aShare[0]==7 && all_zero(&aShare[1], 31));
    /* Wrong length, zero share. */
    CHECK(bec_frost_dkg_open(d.aSid, 1, 2, aBox, sizeof(aBox)-1, d.aSec[1],
                             aShare, &zErr)!=SQLITE_OK);
    memset(&aPlain[50], 0, 32);
    CHECK(crypto_box_seal(aBox, aPlain, sizeof(aPlain), aXPk)==0);
    CHECK(bec_frost_dkg_open(d.aSid, 1, 2, aBox, sizeof(aBox), d.aSec[1],
                             aShare, &zErr)!=SQLITE_OK);
    memset(aShare, 0xff, 32);
    CHECK(bec_frost_dkg_seal(d.aSid, 1, 2, aShare, d.aPub[1], aBox)
          !=SQLITE_OK);
    /* A small-order "identity key" has no X25519 key: nobody can seal to
    ** it, and its holder gets SQLITE_MISUSE, which blames no dealer. */
    memset(aXPk, 0, 32);
    aShare[31] = 0;
    CHECK(bec_frost_dkg_seal(d.aSid, 1, 2, aShare, aXPk, aBox)!=SQLITE_OK);
    memset(&d.aSec[1][32], 0, 32);
    CHECK(bec_frost_dkg_open(d.aSid, 1, 2, aBox, sizeof(aBox), d.aSec[1],
                             aShare, &zErr)==SQLITE_MISUSE);
    CHECK(has(zErr, "no X25519 key"));
    {
      int iBad = -1;
      d.n = 3;
      CHECK(bec_frost_dkg_deal(d.aGid, d.aSid, 1, 2, 3,
                               (const u8(*)[BEC_PUBKEY_BYTES])d.aPub,
                               &d.aDeal[0], box_of(&d, 1, 1))==SQLITE_OK);
      CHECK(bec_frost_dkg_deal(d.aGid, d.aSid, 2, 2, 3,
                               (const u8(*)[BEC_PUBKEY_BYTES])d.aPub,
                               &d.aDeal[1], box_of(&d, 2, 1))==SQLITE_OK);
      CHECK(bec_frost_dkg_deal(d.aGid, d.aSid, 3, 2, 3,
                               (const u8(*)[BEC_PUBKEY_BYTES])d.aPub,
                               &d.aDeal[2], box_of(&d, 3, 1))==SQLITE_OK);
      CHECK(dkg_finish(&d, 2, &iBad, &zErr)==SQLITE_MISUSE && iBad==0);
      CHECK(dkg_finish(&d, 1, &iBad, &zErr)==SQLITE_OK && iBad==0);
    }
    sqlite3_free(zErr);
    dkg_free(&d);
  }
}

static void test_bad_pop(void){
  Dkg d;
  BecFrostDeal deal;
  u8 aOne[32] = {1}, aT[32];
  char *zErr = 0;
  dkg_setup(&d, 3, 5);
  dkg_run(&d);
  /* mu changed */
  deal = d.aDeal[1];
  crypto_core_ed25519_scalar_add(deal.aPopMu, deal.aPopMu, aOne);
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  CHECK_MSG(has(zErr, "bad proof of possession from holder 2"), "%s", zErr);
  /* replayed into another session, another group, as another dealer */
  deal = d.aDeal[1];
  d.aSid[3] ^= 1;
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  d.aSid[3] ^= 1;
  d.aGid[3] ^= 1;
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  d.aGid[3] ^= 1;
  deal.id = 3;
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  CHECK(has(zErr, "holder 3"));
  /* a rogue phi_0 (another dealer's) under dealer 2's proof */
  deal = d.aDeal[1];
  memcpy(deal.aPhi[0], d.aDeal[0].aPhi[0], 32);
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  /* invalid points and scalars in a deal */
  deal = d.aDeal[1];
  memset(deal.aPhi[2], 0, 32);
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  CHECK(has(zErr, "invalid commitment 2 from holder 2"));
  deal = d.aDeal[1];
  memset(deal.aPopR, 0, 32); deal.aPopR[0] = 1;
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  deal = d.aDeal[1];
  hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010",
      deal.aPopMu, 32);
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  /* mu + L: the same residue, not canonical: refused (no malleability) */
  deal = d.aDeal[1];
  hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", aT,
      32);
  {
    unsigned carry = 0;
    int b;
    for(b=0; b<32; b++){
      carry += (unsigned)deal.aPopMu[b] + aT[b];
      deal.aPopMu[b] = (u8)carry;
      carry >>= 8;
    }
    CHECK(carry==0);
  }
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  CHECK(has(zErr, "malformed proof of possession"));
  deal = d.aDeal[1];
  deal.k = 0;
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &deal, &zErr)!=SQLITE_OK);
  /* the original still checks */
  CHECK(bec_frost_dkg_check_deal(d.aGid, d.aSid, &d.aDeal[1], &zErr)==0);
  sqlite3_free(zErr);
  dkg_free(&d);
}

/* Dealer 3 colludes with dealers 1 and 2 and picks a_31 = -(a_11 + a_21),
** so the summed commitment Phi_1 is the identity, which libsodium refuses
** to multiply: the Feldman sum skips it and key generation still works
** (with a summed polynomial of degree 0: every share is s, which only
** dealers who know each other's coefficients can arrange). */
static void test_identity_sum(void){
  Dkg d;
  BecFrostPoly aPoly[3];
  u8 aMsg[5] = "hello", aSig[64], aShare[32];
  char *zErr = 0;
  int i, j, iBad;
  dkg_setup(&d, 2, 3);
  for(i=0; i<3; i++) CHECK(bec_frost_poly_random(2, &aPoly[i])==SQLITE_OK);
  crypto_core_ed25519_scalar_add(aShare, aPoly[0].a[1], aPoly[1].a[1]);
  crypto_core_ed25519_scalar_negate(aPoly[2].a[1], aShare);
  for(i=1; i<=3; i++){
    CHECK(bec_frost_dkg_commit(&aPoly[i-1], d.aGid, d.aSid, i,
                               &d.aDeal[i-1])==SQLITE_OK);
    for(j=1; j<=3; j++){
      CHECK(bec_frost_poly_eval(&aPoly[i-1], j, aShare)==SQLITE_OK);
      CHECK(bec_frost_dkg_seal(d.aSid, i, j, aShare, d.aPub[j-1],
                               box_of(&d, i, j))==SQLITE_OK);
    }
  }
  CHECK(crypto_core_ed25519_add(aShare, d.aDeal[0].aPhi[1],
                                d.aDeal[1].aPhi[1])==0);
  CHECK(crypto_core_ed25519_add(aShare, aShare, d.aDeal[2].aPhi[1])==0);
  CHECK(aShare[0]==1 && all_zero(&aShare[1], 31));    /* the identity */
  CHECK(bec_frost_dkg_public(d.aDeal, 3, d.aY, d.aPk, &zErr)==SQLITE_OK);
  for(j=1; j<=3; j++){
    CHECK_MSG(dkg_finish(&d, j, &iBad, &zErr)==SQLITE_OK, "%s", zErr);
    CHECK(memcmp(d.aKey[j-1].aPk, d.aPk[j-1], 32)==0);
    CHECK(memcmp(d.aPk[j-1], d.aY, 32)==0);
  }
  CHECK(dkg_sign(&d, 3, aMsg, 5, aSig, &iBad)==SQLITE_OK);
  CHECK(dkg_sign(&d, 6, aMsg, 5, aSig, &iBad)==SQLITE_OK);
  CHECK(crypto_sign_verify_detached(aSig, aMsg, 5, d.aY)==0);
  /* Deals out of order or with unequal k are refused. */
  {
    BecFrostDeal t = d.aDeal[0];
    d.aDeal[0] = d.aDeal[1];
    d.aDeal[1] = t;
    CHECK(bec_frost_dkg_public(d.aDeal, 3, d.aY, 0, &zErr)!=SQLITE_OK);
    d.aDeal[1] = d.aDeal[0];
    d.aDeal[0] = t;
    d.aDeal[2].k = 3;
    CHECK(bec_frost_dkg_public(d.aDeal, 3, d.aY, 0, &zErr)!=SQLITE_OK);
    d.aDeal[2].k = 2;
  }
  sodium_memzero(aPoly, sizeof(aPoly));
  sqlite3_free(zErr);
  dkg_free(&d);
}

int main(void){
  bec_crypto_init();
  test_rfc_e1();
  test_encodings();
  test_dkg_3_of_5();
  test_dkg_7_of_10();
  test_bad_dealer();
  test_bad_pop();
  test_identity_sum();
  return bt_done();
}
