/*
** bec_frost.c - the arithmetic of the threshold root: FROST(Ed25519,
** SHA-512) signing as in RFC 9591, and the Pedersen key generation with
** proofs of possession of ../shared/THRESHOLD.md section 3.  Bytes in,
** bytes out: no tables, no ops, no SQL.  The op kinds that carry these
** values, and the rules that decide when each step runs, live elsewhere.
**
** Everything here is built from libsodium 1.0.18's ed25519 core primitives
** (crypto_core_ed25519_*, crypto_scalarmult_ed25519_*noclamp), SHA-512,
** randombytes, crypto_box_seal and the Ed25519 -> X25519 key conversion.
** The only arithmetic written here is the protocol's own: sums, products
** and inverses of scalars and points, done by those primitives.
**
** NOTATION.  B is the base point, L the group order, x.P a scalar
** multiplication, || concatenation.  A scalar is 32 bytes little-endian and
** canonical (< L); a point is a 32-byte RFC 8032 encoding.  An identifier
** is a small integer in [1, BEC_FROST_MAX_HOLDERS]; inside a hash it is
** serialized as a scalar (RFC 9591 SerializeScalar: 32 bytes, little
** endian), inside a share box as one byte.  ctx is the ASCII string
** "FROST-ED25519-SHA512-v1".
**
** THE HASHES (RFC 9591 6.1).  All are SHA-512:
**     H1(m) = SHA-512(ctx || "rho"   || m) mod L     binding factors
**     H2(m) = SHA-512(m) mod L                       the challenge: RFC 8032's
**     H3(m) = SHA-512(ctx || "nonce" || m) mod L     nonces
**     H4(m) = SHA-512(ctx || "msg"   || m)           64 bytes, not reduced
**     H5(m) = SHA-512(ctx || "com"   || m)           64 bytes, not reduced
**     Hd(m) = SHA-512(ctx || "dkg"   || m) mod L     bec's PoP challenge
**
** SIGNING (RFC 9591 4-5).  Holder i holds s_i = f(i) of a polynomial f of
** degree k-1 with f(0) = s, and everyone knows PK_i = s_i.B and Y = s.B.
**
**   Round 1 (bec_frost_commit).  d = H3(rand1 || s_i), e = H3(rand2 || s_i)
**   with 32 fresh random bytes each; publish (i, D = d.B, E = e.B); keep
**   (d, e).  Mixing s_i into the hash keeps the nonces secret even if the
**   random source is weak.  A nonce pair signs at most once: two shares
**   with one (d, e) reveal s_i (RFC 9591 7.3), so bec_frost_sign wipes the
**   pair when it returns a share.
**
**   Round 2 (bec_frost_sign).  The commitment list is sorted by
**   identifier, each entry encoded as id (scalar) || D || E.  Then
**       rho_j = H1(Y || H4(msg) || H5(list) || id_j)   for each signer j
**       R     = sum_j (D_j + rho_j.E_j)
**       c     = H2(R || Y || msg)
**       lambda_i = prod_{j != i} x_j / (x_j - x_i)     (Lagrange at 0)
**       z_i   = d + e.rho_i + lambda_i.s_i.c
**   Because sum_i lambda_i.s_i = s over any k holders, sum_i z_i.B =
**   R + c.Y: (R, z = sum z_i) is an Ed25519 signature of msg under Y, and
**   crypto_sign_verify_detached accepts it (RFC 9591 App. A).
**
**   Share check (bec_frost_verify_share, RFC 9591 5.3):
**       z_i.B == D_i + rho_i.E_i + (c.lambda_i).PK_i
**   A failed check names holder i (identifiable abort, 5.4).  With fewer
**   than k signers every share still passes its own check (it is consistent
**   with the list it was computed for) but the interpolation misses s, so
**   the aggregate fails to verify and no holder is to blame.
**
** KEY GENERATION (THRESHOLD.md 3: Pedersen DKG with proofs of possession,
** Komlo-Goldberg 2020 Fig. 1).  Every holder i of n is also a dealer:
**
**   Deal (bec_frost_dkg_deal).  Draw f_i with k random non-zero
**   coefficients a_i0..a_i(k-1).  Publish phi_it = a_it.B and a proof of
**   possession of a_i0: r random, R_i = r.B,
**       c_i = Hd(gid || sid || id_i || phi_i0 || R_i),  mu_i = r + a_i0.c_i.
**   The group id gid and session id sid in c_i stop a proof from being
**   replayed in another key generation; the proof stops a dealer from
**   choosing phi_i0 as a function of the others' (rogue-key attack).  For
**   every holder j (itself included) seal f_i(j), computed by Horner's
**   rule, in an anonymous crypto_box_seal box to j's X25519 key, converted
**   from j's Ed25519 identity key.  The plaintext is
**       "bec-dkg-share-v1" (16) || sid (32) || i (u8) || j (u8) || f_i(j) (32)
**   so a box cannot be moved to another session or another pair (i, j);
**   sealed, it is BEC_FROST_BOX_BYTES long.  The signed op that carries the
**   box says who dealt it.
**
**   Deal check (bec_frost_dkg_check_deal), by anyone: every phi_it and
**   R_i deserializes, mu_i is canonical and mu_i.B == R_i + c_i.phi_i0.
**
**   Finish (bec_frost_dkg_finish), by holder j with the n deals: open the
**   n boxes (each must open with j's key, carry this sid and the pair
**   (i, j), and hold a canonical non-zero scalar), add the shares
**   s_j = sum_i f_i(j), and check it against the commitments (Feldman).
**   libsodium has no multi-scalar multiplication, so the commitments are
**   first summed coefficient by coefficient, Phi_t = sum_i phi_it, and the
**   one check s_j.B == sum_t j^t.Phi_t costs k multiplications instead of
**   n.k.  Only if it fails is every dealer checked alone,
**   f_i(j).B == sum_t j^t.phi_it, to name the culprit.  The results are
**   Y = Phi_0 and PK_j = sum_t j^t.Phi_t, which anyone can compute from the
**   deals (bec_frost_dkg_public).
**
** THE GAPS IN LIBSODIUM 1.0.18, and the rule this file follows for each
** (THRESHOLD.md 2):
**   1. No canonical-scalar check.  A scalar read from outside is copied
**      into a zeroed 64-byte buffer and reduced; it is canonical iff the
**      result equals the input (bec_frost_scalar_check).  This refuses L,
**      L+1 and everything up to 2^256-1.
**   2. The *_noclamp multiplications fail on a zero scalar and on an
**      identity result.  So every point sum starts from its first term,
**      never from an identity point; a term whose point is the identity
**      (possible only in a sum of commitments) is skipped rather than
**      multiplied; a zero binding factor, challenge, coefficient, nonce or
**      share is a failure of that step, never passed on; and every return
**      value of libsodium is checked.  crypto_core_ed25519_add itself
**      accepts the identity, so partial sums may pass through it.
**   3. Ed25519 signing takes a seed, not a raw scalar: the proof of
**      possession is a Schnorr proof built from the primitives.
**   4. Points are deserialized with crypto_core_ed25519_is_valid_point:
**      canonical, on the curve, in the prime-order subgroup and not of
**      small order (so never the identity), which is RFC 9591's
**      DeserializeElement.  crypto_scalarmult_ed25519_noclamp applies
**      the same checks to its point, so a point that is only ever
**      multiplied (E_j, PK_j, phi_t for t > 0 in a Feldman sum) is
**      deserialized by that call, and a point that is added (D_j, R_i,
**      phi_0, Y) is checked explicitly: one subgroup check per point.  A
**      sum of such points is in the prime-order subgroup, so it only needs
**      the identity test.  The final check of a signature is
**      crypto_sign_verify_detached, the one every replica uses.
**   5. No multi-scalar multiplication: summed Feldman checks (above).
**
** RULES CHOSEN HERE, where THRESHOLD.md leaves a choice:
**   - id_i inside Hd is SerializeScalar(id_i), 32 bytes, as in H1.
**   - A share box whose scalar is zero is a bad share from its dealer (an
**     honest dealer's f_i(j) is zero with probability 1/L); so
**     bec_frost_dkg_deal fails on a polynomial that vanishes at some j,
**     and its caller deals again.
**   - The box is 82 + 48 = 130 bytes: THRESHOLD.md's 114 (66 + 48) leaves
**     out the 16-byte tag that its own plaintext starts with.
**   - The arithmetic does not know k when signing: a list of fewer than k
**     commitments yields shares that each pass their check and an
**     aggregate that fails with no one to blame.  The DAG layer enforces
**     exactly k signers.
**   - A holder whose own Ed25519 key has no X25519 form gets SQLITE_MISUSE
**     from bec_frost_dkg_open / _finish, which blames no dealer.
**
** RESULTS.  Every function returns SQLITE_OK or an error code; a refused
** input is BEC_MALFORMED (SQLITE_ERROR) with *pzErr saying why (pzErr may
** be 0: no message; else *pzErr is 0 or an earlier message, which is
** freed and replaced by one from sqlite3_mprintf that the caller frees),
** and where a holder is to blame *piBad names it.  No function allocates
** memory except for that message.  Secrets (shares, coefficients, nonces,
** products that contain them, box plaintexts, X25519 secret keys, hash
** states) are wiped with sodium_memzero before return; the structs that
** carry secrets out (BecFrostPoly, BecFrostNonce, BecFrostKey) belong to
** the caller, who wipes them with sodium_memzero as soon as they are used.
*/
#include "becInt.h"

#include <sodium.h>
#include <stdarg.h>

_Static_assert(BEC_FROST_SCALAR_BYTES==crypto_core_ed25519_SCALARBYTES,
               "scalar size");
_Static_assert(BEC_FROST_POINT_BYTES==crypto_core_ed25519_BYTES, "point size");
_Static_assert(BEC_FROST_POINT_BYTES==crypto_scalarmult_ed25519_BYTES,
               "scalarmult size");
_Static_assert(BEC_FROST_RAND_BYTES==32, "nonce randomness (RFC 9591 4.1)");
_Static_assert(BEC_FROST_SIG_BYTES==crypto_sign_BYTES, "signature size");
_Static_assert(BEC_FROST_SID_BYTES==BEC_HASH_BYTES, "session id is an op hash");
_Static_assert(BEC_FROST_BOX_BYTES==BEC_FROST_BOX_PLAIN_BYTES
                                    + crypto_box_SEALBYTES, "box size");
_Static_assert(BEC_FROST_MAX_HOLDERS<=255, "identifiers fit one byte");

#define SC BEC_FROST_SCALAR_BYTES
#define PT BEC_FROST_POINT_BYTES

#define CTX         "FROST-ED25519-SHA512-v1"
#define CTX_LEN     23
#define BOX_TAG     "bec-dkg-share-v1"
#define BOX_TAG_LEN 16
#define RHO_PREFIX  (PT + 2*crypto_hash_sha512_BYTES)  /* Y || H4 || H5 */

_Static_assert(BEC_FROST_RHO_INPUT_BYTES==RHO_PREFIX + SC, "rho input size");
_Static_assert(BEC_FROST_BOX_PLAIN_BYTES==BOX_TAG_LEN + BEC_FROST_SID_BYTES
                                          + 2 + SC, "box plaintext size");

/* The canonical encoding of the identity point (x = 0, y = 1): what
** crypto_core_ed25519_add writes when a sum cancels. */
static const u8 aIdentity[PT] = { 1 };

/* Refusals go through one macro so that BEC_MALFORMED's breakpoint sees
** the line that refused; the message is optional. */
static void set_err(char **pzErr, const char *zFmt, ...){
  va_list ap;
  if( pzErr==0 ) return;
  sqlite3_free(*pzErr);
  va_start(ap, zFmt);
  *pzErr = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
}
#define FAIL(pzErr, ...) (set_err(pzErr, __VA_ARGS__), BEC_MALFORMED)

/**************************************************************************
** Scalars, points and identifiers.
*/

/* Gap 1: DeserializeScalar.  Constant time in the value, since a share
** read from a box is a secret. */
int bec_frost_scalar_check(const u8 *a){
  u8 aWide[crypto_core_ed25519_NONREDUCEDSCALARBYTES] = {0};
  u8 aRed[SC];
  u8 diff = 0;
  int i;
  memcpy(aWide, a, SC);
  crypto_core_ed25519_scalar_reduce(aRed, aWide);
  for(i=0; i<SC; i++) diff |= (u8)(aRed[i] ^ a[i]);
  sodium_memzero(aWide, sizeof(aWide));
  sodium_memzero(aRed, sizeof(aRed));
  return diff==0 ? SQLITE_OK : BEC_MALFORMED;
}

/* DeserializeElement (gap 4). */
int bec_frost_point_check(const u8 *a){
  return crypto_core_ed25519_is_valid_point(a)==1 ? SQLITE_OK : BEC_MALFORMED;
}

static int scalar_is_zero(const u8 *a){
  u8 acc = 0;
  int i;
  for(i=0; i<SC; i++) acc |= a[i];
  return acc==0;
}

/* A canonical, non-zero scalar: the only kind this file multiplies by. */
static int scalar_ok(const u8 *a){
  return bec_frost_scalar_check(a)==SQLITE_OK && !scalar_is_zero(a);
}

static int id_ok(int id){
  return id>=1 && id<=BEC_FROST_MAX_HOLDERS;
}

/* SerializeScalar(identifier). */
static void id_scalar(int id, u8 *a){
  memset(a, 0, SC);
  a[0] = (u8)id;
}

/* The three point operations, with libsodium's -1 turned into a failure.
** base_mul and mul refuse a zero scalar and an identity result (gap 2). */
static int base_mul(u8 *aOut, const u8 *aScalar){
  return crypto_scalarmult_ed25519_base_noclamp(aOut, aScalar)==0
         ? SQLITE_OK : SQLITE_ERROR;
}
static int mul(u8 *aOut, const u8 *aScalar, const u8 *aPoint){
  return crypto_scalarmult_ed25519_noclamp(aOut, aScalar, aPoint)==0
         ? SQLITE_OK : SQLITE_ERROR;
}
static int add(u8 *aOut, const u8 *aP, const u8 *aQ){
  return crypto_core_ed25519_add(aOut, aP, aQ)==0 ? SQLITE_OK : SQLITE_ERROR;
}

/**************************************************************************
** Hashes.  Each is one SHA-512 over a domain prefix and parts; the state
** and the 64-byte digest are wiped when it ends, since H3 hashes a share.
*/
static int h_begin(crypto_hash_sha512_state *pSt, const char *zTag){
  int bad = crypto_hash_sha512_init(pSt);
  if( zTag ){
    bad |= crypto_hash_sha512_update(pSt, (const u8*)CTX, CTX_LEN);
    bad |= crypto_hash_sha512_update(pSt, (const u8*)zTag, strlen(zTag));
  }
  return bad ? SQLITE_ERROR : SQLITE_OK;
}
static int h_add(crypto_hash_sha512_state *pSt, const u8 *a, i64 n,
                 int rc){
  if( rc==SQLITE_OK && crypto_hash_sha512_update(pSt, a,
                                               (unsigned long long)n) ){
    rc = SQLITE_ERROR;
  }
  return rc;
}
/* Finishes H1, H2, H3 or Hd: the digest reduced mod L. */
static int h_scalar(crypto_hash_sha512_state *pSt, u8 *aOut, int rc){
  u8 aDigest[crypto_hash_sha512_BYTES];
  if( rc==SQLITE_OK && crypto_hash_sha512_final(pSt, aDigest) ){
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ) crypto_core_ed25519_scalar_reduce(aOut, aDigest);
  sodium_memzero(aDigest, sizeof(aDigest));
  sodium_memzero(pSt, sizeof(*pSt));   /* also when a step failed */
  return rc;
}
static int h_digest(crypto_hash_sha512_state *pSt, u8 *aOut, int rc){
  if( rc==SQLITE_OK && crypto_hash_sha512_final(pSt, aOut) ) rc = SQLITE_ERROR;
  sodium_memzero(pSt, sizeof(*pSt));
  return rc;
}

/* H3(rand || s): one nonce (RFC 9591 4.1 nonce_generate). */
static int nonce_generate(const u8 *aRand, const u8 *aSecret, u8 *aNonce){
  crypto_hash_sha512_state st;
  int rc = h_begin(&st, "nonce");
  rc = h_add(&st, aRand, BEC_FROST_RAND_BYTES, rc);
  rc = h_add(&st, aSecret, SC, rc);
  return h_scalar(&st, aNonce, rc);
}

/**************************************************************************
** Round 1: commit.
*/
int bec_frost_commit_with(const BecFrostKey *pKey, const u8 *aRandD,
                          const u8 *aRandE, BecFrostNonce *pNonce){
  int rc = SQLITE_OK;
  memset(pNonce, 0, sizeof(*pNonce));
  if( !id_ok(pKey->id) || !scalar_ok(pKey->aShare) ) return BEC_MALFORMED;
  rc = nonce_generate(aRandD, pKey->aShare, pNonce->ad);
  if( rc==SQLITE_OK ) rc = nonce_generate(aRandE, pKey->aShare, pNonce->ae);
  /* A zero nonce (probability 2/L) makes base_mul fail: the caller draws
  ** again rather than ever signing with it. */
  if( rc==SQLITE_OK ) rc = base_mul(pNonce->commit.aD, pNonce->ad);
  if( rc==SQLITE_OK ) rc = base_mul(pNonce->commit.aE, pNonce->ae);
  if( rc==SQLITE_OK ){
    pNonce->commit.id = pKey->id;
  }else{
    sodium_memzero(pNonce, sizeof(*pNonce));
  }
  return rc;
}

int bec_frost_commit(const BecFrostKey *pKey, BecFrostNonce *pNonce){
  u8 aRand[2][BEC_FROST_RAND_BYTES];
  int rc;
  randombytes_buf(aRand, sizeof(aRand));
  rc = bec_frost_commit_with(pKey, aRand[0], aRand[1], pNonce);
  sodium_memzero(aRand, sizeof(aRand));
  return rc;
}

/**************************************************************************
** Round 2: the values every signer and the aggregator derive from the
** commitment list, the group key and the message.
*/
typedef struct Session Session;
struct Session {
  int n;                                  /* signers in the list */
  u8 aRho[BEC_FROST_MAX_HOLDERS][SC];     /* binding factor of each entry */
  u8 aComm[BEC_FROST_MAX_HOLDERS][PT];    /* its share of R: D + rho.E */
  u8 aR[PT];                              /* group commitment */
  u8 aC[SC];                              /* challenge */
};

/* Checks the list (1..MAX entries, identifiers strictly increasing, every
** point deserializes) and the group key, then computes rho_j, R and c.
** aInput, if not 0, receives the n preimages of rho_j
** (BEC_FROST_RHO_INPUT_BYTES each). */
static int session_init(Session *p, const BecFrostCommit *aList, int n,
                        const u8 *aY, const u8 *aMsg, i64 nMsg, u8 *aInput,
                        char **pzErr){
  crypto_hash_sha512_state st;
  u8 aPre[RHO_PREFIX + SC];      /* Y || H4(msg) || H5(list) || id_j */
  u8 aT[PT];
  int rc = SQLITE_OK;
  const char *zWhy = "group commitment failed";   /* if rc gets set */
  int iWho = 0;                                   /* holder to name, or 0 */
  int j;
  if( n<1 || n>BEC_FROST_MAX_HOLDERS ){
    return FAIL(pzErr, "frost: %d signers (1..%d)", n, BEC_FROST_MAX_HOLDERS);
  }
  if( nMsg<0 ) return FAIL(pzErr, "frost: negative message length");
  if( bec_frost_point_check(aY) ){
    return FAIL(pzErr, "frost: invalid group key");
  }
  for(j=0; j<n; j++){
    if( !id_ok(aList[j].id) || (j>0 && aList[j].id<=aList[j-1].id) ){
      return FAIL(pzErr, "frost: commitment list not sorted by identifier");
    }
    /* D_j is only ever added, so it is deserialized here; E_j is by the
    ** multiplication rho_j.E_j below, which applies the same checks. */
    if( bec_frost_point_check(aList[j].aD) ){
      return FAIL(pzErr, "frost: invalid commitment of holder %d",
                  aList[j].id);
    }
  }
  p->n = n;

  /* The prefix shared by every rho_j: Y || H4(msg) || H5(list). */
  memcpy(aPre, aY, PT);
  rc = h_begin(&st, "msg");
  rc = h_add(&st, aMsg, nMsg, rc);
  rc = h_digest(&st, &aPre[PT], rc);
  if( rc==SQLITE_OK ) rc = h_begin(&st, "com");
  for(j=0; j<n; j++){
    u8 aId[SC];
    id_scalar(aList[j].id, aId);
    rc = h_add(&st, aId, SC, rc);
    rc = h_add(&st, aList[j].aD, PT, rc);
    rc = h_add(&st, aList[j].aE, PT, rc);
  }
  rc = h_digest(&st, &aPre[PT+crypto_hash_sha512_BYTES], rc);

  for(j=0; rc==SQLITE_OK && j<n; j++){
    id_scalar(aList[j].id, &aPre[RHO_PREFIX]);
    if( aInput ) memcpy(&aInput[j*BEC_FROST_RHO_INPUT_BYTES], aPre,
                        sizeof(aPre));
    rc = h_begin(&st, "rho");
    rc = h_add(&st, aPre, sizeof(aPre), rc);
    rc = h_scalar(&st, p->aRho[j], rc);
    if( rc==SQLITE_OK && scalar_is_zero(p->aRho[j]) ){
      rc = SQLITE_ERROR;
      zWhy = "zero binding factor";
    }
  }

  /* R = sum_j (D_j + rho_j.E_j), from the first term on (gap 2). */
  for(j=0; rc==SQLITE_OK && j<n; j++){
    if( mul(aT, p->aRho[j], aList[j].aE) ){
      rc = SQLITE_ERROR;
      iWho = aList[j].id;
    }
    if( rc==SQLITE_OK ) rc = add(p->aComm[j], aList[j].aD, aT);
    if( rc==SQLITE_OK ){
      if( j==0 ) memcpy(p->aR, p->aComm[j], PT);
      else rc = add(p->aR, p->aR, p->aComm[j]);
    }
  }
  /* A sum of prime-order points is one, or the identity. */
  if( rc==SQLITE_OK && memcmp(p->aR, aIdentity, PT)==0 ){
    rc = SQLITE_ERROR;
    zWhy = "group commitment is the identity";
  }

  /* c = H2(R || Y || msg). */
  if( rc==SQLITE_OK ){
    rc = h_begin(&st, 0);
    rc = h_add(&st, p->aR, PT, rc);
    rc = h_add(&st, aY, PT, rc);
    rc = h_add(&st, aMsg, nMsg, rc);
    rc = h_scalar(&st, p->aC, rc);
    if( rc==SQLITE_OK && scalar_is_zero(p->aC) ){
      rc = SQLITE_ERROR;
      zWhy = "zero challenge";
    }
  }
  if( rc!=SQLITE_OK ){
    if( iWho ) return FAIL(pzErr, "frost: invalid commitment of holder %d",
                           iWho);
    return FAIL(pzErr, "frost: %s", zWhy);
  }
  return SQLITE_OK;
}

/* lambda of entry iSelf over the identifiers of the list (RFC 9591 4.2).
** The identifiers are distinct (session_init), so no denominator is 0. */
static int lagrange(const BecFrostCommit *aList, int n, int iSelf,
                    u8 *aLambda){
  u8 aNum[SC], aDen[SC], aXi[SC], aXj[SC], aT[SC];
  int j;
  id_scalar(1, aNum);
  id_scalar(1, aDen);
  id_scalar(aList[iSelf].id, aXi);
  for(j=0; j<n; j++){
    if( j==iSelf ) continue;
    id_scalar(aList[j].id, aXj);
    crypto_core_ed25519_scalar_mul(aNum, aNum, aXj);
    crypto_core_ed25519_scalar_sub(aT, aXj, aXi);
    crypto_core_ed25519_scalar_mul(aDen, aDen, aT);
  }
  if( crypto_core_ed25519_scalar_invert(aT, aDen) ) return SQLITE_ERROR;
  crypto_core_ed25519_scalar_mul(aLambda, aNum, aT);
  return SQLITE_OK;
}

int bec_frost_binding_factors(const BecFrostCommit *aList, int n,
                              const u8 *aY, const u8 *aMsg, i64 nMsg,
                              u8 (*aRho)[BEC_FROST_SCALAR_BYTES],
                              u8 *aInput, char **pzErr){
  Session s;
  int rc = session_init(&s, aList, n, aY, aMsg, nMsg, aInput, pzErr);
  if( rc==SQLITE_OK ) memcpy(aRho, s.aRho, (size_t)n*SC);
  return rc;
}

static int find_entry(const BecFrostCommit *aList, int n, int id){
  int j;
  for(j=0; j<n; j++) if( aList[j].id==id ) return j;
  return -1;
}

int bec_frost_sign(const BecFrostKey *pKey, BecFrostNonce *pNonce,
                   const BecFrostCommit *aList, int n,
                   const u8 *aMsg, i64 nMsg, u8 *aZ, char **pzErr){
  Session s;
  u8 aLambda[SC], aT[SC];
  int iSelf;
  int rc;
  memset(aZ, 0, SC);
  if( !id_ok(pKey->id) || !scalar_ok(pKey->aShare) ){
    return FAIL(pzErr, "frost: invalid key share");
  }
  rc = session_init(&s, aList, n, pKey->aY, aMsg, nMsg, 0, pzErr);
  if( rc ) return rc;
  /* Its own commitment must be in the list, as it was published: else
  ** the share would be computed for nonces it does not hold. */
  iSelf = find_entry(aList, n, pKey->id);
  if( iSelf<0 || pNonce->commit.id!=pKey->id
   || memcmp(aList[iSelf].aD, pNonce->commit.aD, PT)
   || memcmp(aList[iSelf].aE, pNonce->commit.aE, PT) ){
    return FAIL(pzErr, "frost: own commitment of holder %d not in the list",
                pKey->id);
  }
  if( !scalar_ok(pNonce->ad) || !scalar_ok(pNonce->ae) ){
    return FAIL(pzErr, "frost: nonce of holder %d already used", pKey->id);
  }
  rc = lagrange(aList, n, iSelf, aLambda);
  if( rc==SQLITE_OK ){
    /* z = d + e.rho + lambda.s.c */
    crypto_core_ed25519_scalar_mul(aT, aLambda, pKey->aShare);
    crypto_core_ed25519_scalar_mul(aT, aT, s.aC);
    crypto_core_ed25519_scalar_add(aZ, pNonce->ad, aT);
    crypto_core_ed25519_scalar_mul(aT, pNonce->ae, s.aRho[iSelf]);
    crypto_core_ed25519_scalar_add(aZ, aZ, aT);
    if( scalar_is_zero(aZ) ) rc = FAIL(pzErr, "frost: zero signature share");
  }
  sodium_memzero(aT, sizeof(aT));
  sodium_memzero(aLambda, sizeof(aLambda));
  if( rc==SQLITE_OK ){
    /* Used once: the pair is gone, so it can never sign again. */
    sodium_memzero(pNonce, sizeof(*pNonce));
  }else{
    memset(aZ, 0, SC);
  }
  return rc;
}

/* The share check of entry j: z_j.B == D_j + rho_j.E_j + (c.lambda_j).PK_j.
** SQLITE_OK if it holds. */
static int share_check(const Session *p, const BecFrostCommit *aList,
                       int j, const u8 *aPk, const u8 *aZ){
  u8 aL[PT], aR[PT], aT[PT], aCl[SC];
  int rc;
  /* PK_j is deserialized by its multiplication. */
  if( !scalar_ok(aZ) ) return SQLITE_ERROR;
  rc = base_mul(aL, aZ);
  if( rc==SQLITE_OK ) rc = lagrange(aList, p->n, j, aCl);
  if( rc==SQLITE_OK ){
    crypto_core_ed25519_scalar_mul(aCl, aCl, p->aC);
    rc = mul(aT, aCl, aPk);
  }
  if( rc==SQLITE_OK ) rc = add(aR, p->aComm[j], aT);
  if( rc==SQLITE_OK && memcmp(aL, aR, PT) ) rc = SQLITE_ERROR;
  return rc;
}

int bec_frost_verify_share(int id, const u8 *aPk, const u8 *aZ,
                           const BecFrostCommit *aList, int n,
                           const u8 *aY, const u8 *aMsg, i64 nMsg,
                           char **pzErr){
  Session s;
  int j;
  int rc = session_init(&s, aList, n, aY, aMsg, nMsg, 0, pzErr);
  if( rc ) return rc;
  j = find_entry(aList, n, id);
  if( j<0 ) return FAIL(pzErr, "frost: holder %d not in the list", id);
  if( share_check(&s, aList, j, aPk, aZ) ){
    return FAIL(pzErr, "bad signature share: holder %d", id);
  }
  return SQLITE_OK;
}

int bec_frost_aggregate(const BecFrostCommit *aList, int n,
                        const u8 (*aZ)[BEC_FROST_SCALAR_BYTES],
                        const u8 (*aPk)[BEC_FROST_POINT_BYTES],
                        const u8 *aY, const u8 *aMsg, i64 nMsg,
                        u8 *aSig, int *piBad, char **pzErr){
  Session s;
  int j;
  int rc;
  *piBad = 0;
  memset(aSig, 0, BEC_FROST_SIG_BYTES);
  rc = session_init(&s, aList, n, aY, aMsg, nMsg, 0, pzErr);
  if( rc ) return rc;
  memcpy(aSig, s.aR, PT);
  for(j=0; j<n; j++){
    if( bec_frost_scalar_check(aZ[j]) ){
      *piBad = aList[j].id;
      break;
    }
    crypto_core_ed25519_scalar_add(&aSig[PT], &aSig[PT], aZ[j]);
  }
  if( *piBad==0
   && crypto_sign_verify_detached(aSig, aMsg, (unsigned long long)nMsg,
                                  aY)==0 ){
    return SQLITE_OK;
  }
  /* It does not verify: find the share to blame (RFC 9591 5.4). */
  for(j=0; *piBad==0 && aPk && j<n; j++){
    if( share_check(&s, aList, j, aPk[j], aZ[j]) ) *piBad = aList[j].id;
  }
  memset(aSig, 0, BEC_FROST_SIG_BYTES);
  if( *piBad ) return FAIL(pzErr, "bad signature share: holder %d", *piBad);
  return FAIL(pzErr, "frost: the signature does not verify");
}

/**************************************************************************
** Key generation: the dealer's polynomial.
*/
int bec_frost_poly_random(int k, BecFrostPoly *pPoly){
  int t;
  memset(pPoly, 0, sizeof(*pPoly));
  if( k<1 || k>BEC_FROST_MAX_HOLDERS ) return BEC_MALFORMED;
  pPoly->k = k;
  /* libsodium draws in [1, L): never zero, as gap 2 requires. */
  for(t=0; t<k; t++) crypto_core_ed25519_scalar_random(pPoly->a[t]);
  return SQLITE_OK;
}

/* f(x) by Horner's rule: ((a_(k-1).x + a_(k-2)).x + ...) + a_0. */
int bec_frost_poly_eval(const BecFrostPoly *pPoly, int x, u8 *aOut){
  u8 aX[SC];
  int t;
  if( pPoly->k<1 || pPoly->k>BEC_FROST_MAX_HOLDERS || !id_ok(x) ){
    return BEC_MALFORMED;
  }
  id_scalar(x, aX);
  memcpy(aOut, pPoly->a[pPoly->k-1], SC);
  for(t=pPoly->k-2; t>=0; t--){
    crypto_core_ed25519_scalar_mul(aOut, aOut, aX);
    crypto_core_ed25519_scalar_add(aOut, aOut, pPoly->a[t]);
  }
  /* A zero share would be refused by its recipient (gap 2). */
  if( scalar_is_zero(aOut) ) return SQLITE_ERROR;
  return SQLITE_OK;
}

/* Hd(gid || sid || id || phi_0 || R): the PoP challenge. */
static int pop_challenge(const u8 *aGid, const u8 *aSid, int id,
                         const u8 *aPhi0, const u8 *aR, u8 *aC){
  crypto_hash_sha512_state st;
  u8 aId[SC];
  int rc = h_begin(&st, "dkg");
  id_scalar(id, aId);
  rc = h_add(&st, aGid, BEC_HASH_BYTES, rc);
  rc = h_add(&st, aSid, BEC_FROST_SID_BYTES, rc);
  rc = h_add(&st, aId, SC, rc);
  rc = h_add(&st, aPhi0, PT, rc);
  rc = h_add(&st, aR, PT, rc);
  rc = h_scalar(&st, aC, rc);
  if( rc==SQLITE_OK && scalar_is_zero(aC) ) rc = SQLITE_ERROR;
  return rc;
}

int bec_frost_dkg_commit(const BecFrostPoly *pPoly, const u8 *aGid,
                         const u8 *aSid, int id, BecFrostDeal *pDeal){
  u8 aNonce[SC], aC[SC], aT[SC];
  int rc = SQLITE_OK;
  int t;
  memset(pDeal, 0, sizeof(*pDeal));
  if( !id_ok(id) || pPoly->k<1 || pPoly->k>BEC_FROST_MAX_HOLDERS ){
    return BEC_MALFORMED;
  }
  pDeal->id = id;
  pDeal->k = pPoly->k;
  for(t=0; rc==SQLITE_OK && t<pPoly->k; t++){
    rc = base_mul(pDeal->aPhi[t], pPoly->a[t]);   /* refuses a zero a_t */
  }
  crypto_core_ed25519_scalar_random(aNonce);
  if( rc==SQLITE_OK ) rc = base_mul(pDeal->aPopR, aNonce);
  if( rc==SQLITE_OK ){
    rc = pop_challenge(aGid, aSid, id, pDeal->aPhi[0], pDeal->aPopR, aC);
  }
  if( rc==SQLITE_OK ){
    crypto_core_ed25519_scalar_mul(aT, pPoly->a[0], aC);
    crypto_core_ed25519_scalar_add(pDeal->aPopMu, aNonce, aT);
    if( scalar_is_zero(pDeal->aPopMu) ) rc = SQLITE_ERROR;
  }
  sodium_memzero(aNonce, sizeof(aNonce));
  sodium_memzero(aT, sizeof(aT));
  return rc;
}

int bec_frost_dkg_check_deal(const u8 *aGid, const u8 *aSid,
                             const BecFrostDeal *pDeal, char **pzErr){
  u8 aC[SC], aL[PT], aR[PT];
  int t;
  int rc;
  if( !id_ok(pDeal->id) || pDeal->k<1 || pDeal->k>BEC_FROST_MAX_HOLDERS ){
    return FAIL(pzErr, "dkg: malformed deal");
  }
  /* Every commitment deserializes: they are stored, summed and multiplied
  ** by every holder later. */
  for(t=0; t<pDeal->k; t++){
    if( bec_frost_point_check(pDeal->aPhi[t]) ){
      return FAIL(pzErr, "dkg: invalid commitment %d from holder %d",
                  t, pDeal->id);
    }
  }
  if( bec_frost_point_check(pDeal->aPopR) || !scalar_ok(pDeal->aPopMu) ){
    return FAIL(pzErr, "dkg: malformed proof of possession from holder %d",
                pDeal->id);
  }
  /* mu.B == R + c.phi_0 */
  rc = pop_challenge(aGid, aSid, pDeal->id, pDeal->aPhi[0], pDeal->aPopR, aC);
  if( rc==SQLITE_OK ) rc = base_mul(aL, pDeal->aPopMu);
  if( rc==SQLITE_OK ) rc = mul(aR, aC, pDeal->aPhi[0]);
  if( rc==SQLITE_OK ) rc = add(aR, pDeal->aPopR, aR);
  if( rc || memcmp(aL, aR, PT) ){
    return FAIL(pzErr, "dkg: bad proof of possession from holder %d",
                pDeal->id);
  }
  return SQLITE_OK;
}

/**************************************************************************
** Key generation: the share boxes.
*/
int bec_frost_dkg_seal(const u8 *aSid, int i, int j, const u8 *aShare,
                       const u8 *aEdPk, u8 *aBox){
  u8 aPlain[BEC_FROST_BOX_PLAIN_BYTES];
  u8 aXPk[crypto_box_PUBLICKEYBYTES];
  int rc = SQLITE_OK;
  if( !id_ok(i) || !id_ok(j) || !scalar_ok(aShare) ) return BEC_MALFORMED;
  memcpy(aPlain, BOX_TAG, BOX_TAG_LEN);
  memcpy(&aPlain[BOX_TAG_LEN], aSid, BEC_FROST_SID_BYTES);
  aPlain[BOX_TAG_LEN+BEC_FROST_SID_BYTES] = (u8)i;
  aPlain[BOX_TAG_LEN+BEC_FROST_SID_BYTES+1] = (u8)j;
  memcpy(&aPlain[BOX_TAG_LEN+BEC_FROST_SID_BYTES+2], aShare, SC);
  if( crypto_sign_ed25519_pk_to_curve25519(aXPk, aEdPk) ){
    rc = BEC_MALFORMED;     /* not a usable identity key */
  }else if( crypto_box_seal(aBox, aPlain, sizeof(aPlain), aXPk) ){
    rc = SQLITE_ERROR;
  }
  sodium_memzero(aPlain, sizeof(aPlain));
  return rc;
}

int bec_frost_dkg_open(const u8 *aSid, int i, int j, const u8 *aBox,
                       i64 nBox, const u8 *aEdSecret, u8 *aShare,
                       char **pzErr){
  u8 aPlain[BEC_FROST_BOX_PLAIN_BYTES];
  u8 aXPk[crypto_box_PUBLICKEYBYTES];
  u8 aXSk[crypto_box_SECRETKEYBYTES];
  const u8 *aId = &aPlain[BOX_TAG_LEN+BEC_FROST_SID_BYTES];
  int rc = SQLITE_OK;
  memset(aShare, 0, SC);
  if( !id_ok(i) || !id_ok(j) ) return FAIL(pzErr, "dkg: bad identifiers");
  if( nBox!=BEC_FROST_BOX_BYTES ){
    return FAIL(pzErr, "dkg: bad share from holder %d", i);
  }
  /* The X25519 key pair of this holder, from its Ed25519 identity key
  ** (seed || public key). */
  if( crypto_sign_ed25519_sk_to_curve25519(aXSk, aEdSecret)
   || crypto_sign_ed25519_pk_to_curve25519(aXPk, &aEdSecret[BEC_SEED_BYTES]) ){
    /* Our own key, not the dealer's fault: SQLITE_MISUSE, no blame. */
    set_err(pzErr, "dkg: this identity key has no X25519 key");
    rc = SQLITE_MISUSE;
  }else if( crypto_box_seal_open(aPlain, aBox, (unsigned long long)nBox,
                                 aXPk, aXSk) ){
    rc = FAIL(pzErr, "dkg: bad share from holder %d", i);   /* not for us */
  }else if( memcmp(aPlain, BOX_TAG, BOX_TAG_LEN)
         || memcmp(&aPlain[BOX_TAG_LEN], aSid, BEC_FROST_SID_BYTES)
         || aId[0]!=(u8)i || aId[1]!=(u8)j
         || !scalar_ok(&aId[2]) ){
    /* Another session, another pair (i, j), or not a canonical non-zero
    ** scalar: a copied or forged box. */
    rc = FAIL(pzErr, "dkg: bad share from holder %d", i);
  }else{
    memcpy(aShare, &aId[2], SC);
  }
  sodium_memzero(aPlain, sizeof(aPlain));
  sodium_memzero(aXSk, sizeof(aXSk));
  return rc;
}

int bec_frost_dkg_deal(const u8 *aGid, const u8 *aSid, int id, int k,
                       int n, const u8 (*aHolderPk)[BEC_PUBKEY_BYTES],
                       BecFrostDeal *pDeal, u8 *aBoxes){
  BecFrostPoly poly;
  u8 aShare[SC];
  int rc;
  int j;
  if( n<k || n>BEC_FROST_MAX_HOLDERS || id>n ) return BEC_MALFORMED;
  rc = bec_frost_poly_random(k, &poly);
  if( rc==SQLITE_OK ) rc = bec_frost_dkg_commit(&poly, aGid, aSid, id, pDeal);
  for(j=1; rc==SQLITE_OK && j<=n; j++){
    rc = bec_frost_poly_eval(&poly, j, aShare);
    if( rc==SQLITE_OK ){
      rc = bec_frost_dkg_seal(aSid, id, j, aShare, aHolderPk[j-1],
                              &aBoxes[(j-1)*BEC_FROST_BOX_BYTES]);
    }
  }
  sodium_memzero(aShare, sizeof(aShare));
  sodium_memzero(&poly, sizeof(poly));
  return rc;
}

/**************************************************************************
** Key generation: Feldman checks and the results.
*/

/* sum_t x^t.aPhi[t] over t < k; aPhi[0] has been deserialized by the
** caller.  A term whose point is the identity (a sum of commitments that
** cancels) contributes nothing and is skipped, since libsodium refuses to
** multiply it; every other point is deserialized by its multiplication.
** The sum passes through crypto_core_ed25519_add, which takes the
** identity; being a sum of prime-order points it can only fail by ending
** as the identity. */
static int feldman(const u8 (*aPhi)[PT], int k, int x, u8 *aOut){
  u8 aX[SC], aPow[SC], aT[PT];
  int rc = SQLITE_OK;
  int t;
  memcpy(aOut, aPhi[0], PT);
  id_scalar(x, aX);
  memcpy(aPow, aX, SC);
  for(t=1; rc==SQLITE_OK && t<k; t++){
    if( memcmp(aPhi[t], aIdentity, PT) ){
      rc = mul(aT, aPow, aPhi[t]);
      if( rc==SQLITE_OK ) rc = add(aOut, aOut, aT);
    }
    crypto_core_ed25519_scalar_mul(aPow, aPow, aX);
  }
  if( rc==SQLITE_OK && memcmp(aOut, aIdentity, PT)==0 ) rc = SQLITE_ERROR;
  return rc;
}

/* Phi_t = sum_i phi_it (gap 5), after checking that the deals are those of
** dealers 1..n in order, with one k. */
static int sum_commitments(const BecFrostDeal *aDeal, int n,
                           u8 (*aPhi)[PT], char **pzErr){
  int i, t;
  int k;
  if( n<1 || n>BEC_FROST_MAX_HOLDERS ) return FAIL(pzErr, "dkg: %d deals", n);
  k = aDeal[0].k;
  for(i=0; i<n; i++){
    if( aDeal[i].id!=i+1 || aDeal[i].k!=k || k<1 || k>n ){
      return FAIL(pzErr, "dkg: deal %d out of place", i+1);
    }
  }
  for(t=0; t<k; t++){
    memcpy(aPhi[t], aDeal[0].aPhi[t], PT);
    for(i=1; i<n; i++){
      if( add(aPhi[t], aPhi[t], aDeal[i].aPhi[t]) ){
        return FAIL(pzErr, "dkg: invalid commitment from holder %d", i+1);
      }
    }
  }
  /* Y = Phi_0 must deserialize, or the session is void. */
  if( bec_frost_point_check(aPhi[0]) ){
    return FAIL(pzErr, "dkg: the group key is not a valid point");
  }
  return SQLITE_OK;
}

int bec_frost_dkg_public(const BecFrostDeal *aDeal, int n, u8 *aY,
                         u8 (*aPk)[BEC_FROST_POINT_BYTES], char **pzErr){
  u8 aPhi[BEC_FROST_MAX_HOLDERS][PT];
  int rc = sum_commitments(aDeal, n, aPhi, pzErr);
  int j;
  if( rc ) return rc;
  memcpy(aY, aPhi[0], PT);
  for(j=1; aPk && j<=n; j++){
    if( feldman((const u8(*)[PT])aPhi, aDeal[0].k, j, aPk[j-1]) ){
      return FAIL(pzErr, "dkg: the key of holder %d is not a valid point", j);
    }
  }
  return SQLITE_OK;
}

int bec_frost_dkg_finish(const u8 *aSid, int j, const BecFrostDeal *aDeal,
                         int n, const u8 *const *apBox, const u8 *aEdSecret,
                         BecFrostKey *pKey, int *piBad, char **pzErr){
  u8 aPhi[BEC_FROST_MAX_HOLDERS][PT];
  u8 aShare[BEC_FROST_MAX_HOLDERS][SC];   /* f_i(j), secret */
  u8 aL[PT], aR[PT];
  int i, k;
  int rc;
  *piBad = 0;
  memset(pKey, 0, sizeof(*pKey));
  rc = sum_commitments(aDeal, n, aPhi, pzErr);
  if( rc ) return rc;
  if( !id_ok(j) || j>n ) return FAIL(pzErr, "dkg: holder %d of %d", j, n);
  k = aDeal[0].k;

  /* Open every box; any failure names its dealer. */
  for(i=1; rc==SQLITE_OK && i<=n; i++){
    rc = bec_frost_dkg_open(aSid, i, j, apBox[i-1], BEC_FROST_BOX_BYTES,
                            aEdSecret, aShare[i-1], pzErr);
    if( rc==SQLITE_ERROR ) *piBad = i;
  }

  /* s_j = sum_i f_i(j), checked once against the summed commitments. */
  if( rc==SQLITE_OK ){
    memcpy(pKey->aShare, aShare[0], SC);
    for(i=1; i<n; i++){
      crypto_core_ed25519_scalar_add(pKey->aShare, pKey->aShare, aShare[i]);
    }
    rc = feldman((const u8(*)[PT])aPhi, k, j, pKey->aPk);
    if( rc ) rc = FAIL(pzErr, "dkg: the key of holder %d is not valid", j);
  }
  if( rc==SQLITE_OK
   && (!scalar_ok(pKey->aShare) || base_mul(aL, pKey->aShare)
       || memcmp(aL, pKey->aPk, PT)) ){
    /* Dealer by dealer, to name the one whose share does not match its
    ** commitments: f_i(j).B == sum_t j^t.phi_it. */
    for(i=1; *piBad==0 && i<=n; i++){
      if( base_mul(aL, aShare[i-1])
       || bec_frost_point_check(aDeal[i-1].aPhi[0])
       || feldman((const u8(*)[PT])aDeal[i-1].aPhi, k, j, aR)
       || memcmp(aL, aR, PT) ){
        *piBad = i;
      }
    }
    rc = *piBad ? FAIL(pzErr, "dkg: bad share from holder %d", *piBad)
                : FAIL(pzErr, "dkg: the shares do not match the commitments");
  }
  if( rc==SQLITE_OK ){
    pKey->id = j;
    memcpy(pKey->aY, aPhi[0], PT);
  }else{
    sodium_memzero(pKey, sizeof(*pKey));
  }
  sodium_memzero(aShare, sizeof(aShare));
  return rc;
}
