/*
** test_codec.c - the canonical op encoding and its signature.
**
** Round trip of every kind; every truncation and every single-bit flip of
** valid ops is rejected (by the decoder, the signature or the hash);
** non-canonical encodings are rejected; a body that is not its header's is
** rejected; the header alone gives the id and the signature check; golden
** vectors in test/vectors/ops.txt pin the bytes (BEC_REGEN_VECTORS=1
** rewrites them; test/py/test_wire.py rebuilds them from the document).
*/
#include "becInt.h"
#include "bectest.h"

#include <sodium.h>

/* The vector file, under the repository's root (bt_root). */
static const char *vector_file(void){
  static char zPath[4096];
  snprintf(zPath, sizeof(zPath), "%s/test/vectors/ops.txt", bt_root());
  return zPath;
}
#define VECTOR_FILE vector_file()

static u8 aSecretA[BEC_SECKEY_BYTES], aPubA[BEC_PUBKEY_BYTES];
static u8 aGroup[BEC_HASH_BYTES];

/* Builds an op with a zero signature (what a header the signer refuses
** would look like); *pBuf owned by the caller (bec_buf_free). */
static void make_unsigned(BecBuf *pBuf, int kind, int nPred, const u8 *aPred,
                          const u8 *aPayload, int nPayload){
  int rc = SQLITE_OK;
  memset(pBuf, 0, sizeof(*pBuf));
  bec_op_encode_unsigned(pBuf, kind, kind==BEC_KIND_CREATE ? 0 : aGroup, aPubA,
                         nPred, aPred, aPayload, nPayload, &rc);
  CHECK(rc==SQLITE_OK);
}

/* Builds and signs an op; *pBuf owned by the caller (bec_buf_free). */
static void make_op(BecBuf *pBuf, int kind, int nPred, const u8 *aPred,
                    const u8 *aPayload, int nPayload){
  int rc = SQLITE_OK;
  make_unsigned(pBuf, kind, nPred, aPred, aPayload, nPayload);
  bec_op_sign(pBuf, aSecretA, aGroup, &rc);
  CHECK(rc==SQLITE_OK);
}

/* 1 if the bytes pass every check a receiver applies: decode, signature,
** and (when aWantHash is given) the expected id. */
static int accepted(const u8 *a, i64 n, const u8 *aWantHash){
  BecOp op;
  char *zErr = 0;
  int ok = 0;
  if( bec_op_decode(a, n, &op, &zErr)==SQLITE_OK ){
    ok = bec_crypto_verify_op(&op, aGroup);
    if( ok && aWantHash ){
      ok = memcmp(op.aId, aWantHash, BEC_HASH_BYTES)==0;
    }
  }
  sqlite3_free(zErr);
  return ok;
}

/* Every truncation and every single-bit flip must be rejected. */
static void mutate_all(const BecBuf *pOp, const char *zKind){
  u8 aHash[BEC_HASH_BYTES];
  u8 *a = malloc((size_t)pOp->n + 1);
  i64 i;
  int bit, nAccepted = 0;
  CHECK(bec_op_id(pOp->a, pOp->n, aHash)==SQLITE_OK);
  for(i=0; i<pOp->n; i++){
    if( accepted(pOp->a, i, 0) ) nAccepted++;
  }
  CHECK_MSG(nAccepted==0, "%s: %d truncations accepted", zKind, nAccepted);
  nAccepted = 0;
  for(i=0; i<pOp->n; i++){
    for(bit=0; bit<8; bit++){
      memcpy(a, pOp->a, (size_t)pOp->n);
      a[i] ^= (u8)(1<<bit);
      /* A flip in the header changes the id and breaks the signature; in
      ** the signature it breaks the signature (Ed25519 as libsodium checks
      ** it is not malleable); in the body it breaks the payload hash. */
      if( accepted(a, pOp->n, aHash) ) nAccepted++;
    }
  }
  CHECK_MSG(nAccepted==0, "%s: %d bit flips accepted", zKind, nAccepted);
  free(a);
}

static void test_round_trip(void){
  static const int aKind[] = { BEC_KIND_CREATE, BEC_KIND_ADD, BEC_KIND_REMOVE,
                               BEC_KIND_APP, BEC_KIND_SCHEMA, BEC_KIND_WRITE };
  u8 aPred[3*BEC_HASH_BYTES];
  u8 aPayload[40];
  size_t k;
  memset(aPred, 0x11, BEC_HASH_BYTES);
  memset(&aPred[BEC_HASH_BYTES], 0x22, BEC_HASH_BYTES);
  memset(&aPred[2*BEC_HASH_BYTES], 0x33, BEC_HASH_BYTES);
  for(k=0; k<sizeof(aKind)/sizeof(aKind[0]); k++){
    int kind = aKind[k];
    int nPred = kind==BEC_KIND_CREATE ? 0 : 3;
    int nPayload;
    BecBuf buf;
    BecOp op;
    char *zErr = 0;
    memset(aPayload, 0x5a, sizeof(aPayload));
    switch( kind ){
      case BEC_KIND_CREATE: nPayload = BEC_NONCE_BYTES; break;
      case BEC_KIND_ADD:    nPayload = 33; aPayload[32] = BEC_ROLE_MEMBER; break;
      case BEC_KIND_REMOVE: nPayload = 32; break;
      default:              nPayload = 40; break;
    }
    make_op(&buf, kind, nPred, aPred, aPayload, nPayload);
    CHECK_MSG(bec_op_decode(buf.a, buf.n, &op, &zErr)==SQLITE_OK, "%s: %s",
              bec_kind_name(kind), zErr ? zErr : "");
    sqlite3_free(zErr);
    CHECK(op.kind==kind);
    CHECK(op.nPred==nPred);
    CHECK(nPred==0 || memcmp(op.aPred, aPred, (size_t)nPred*BEC_HASH_BYTES)==0);
    CHECK(op.nPayload==nPayload && memcmp(op.aPayload, aPayload, (size_t)nPayload)==0);
    CHECK(memcmp(op.aAuthor, aPubA, BEC_PUBKEY_BYTES)==0);
    CHECK(bec_crypto_verify_op(&op, aGroup));
    if( kind==BEC_KIND_ADD ) CHECK(op.role==BEC_ROLE_MEMBER && op.aTarget==op.aPayload);
    if( kind==BEC_KIND_REMOVE ) CHECK(op.aTarget==op.aPayload && op.role==0);
    /* The signature binds the group: another group id fails (create ops
    ** sign with the zero id and are their own group). */
    if( kind!=BEC_KIND_CREATE ){
      u8 aOther[BEC_HASH_BYTES];
      memcpy(aOther, aGroup, sizeof(aOther));
      aOther[31] ^= 1;
      CHECK(!bec_crypto_verify_op(&op, aOther));
    }
    mutate_all(&buf, bec_kind_name(kind));
    bec_buf_free(&buf);
  }
}

/* Hand-made encodings that must be refused, each for its own reason. */
/* A pruned op's stub (bec_codec.c grammar): exactly 0x00, a minimal
** payload length above 0 and a 32-byte hash; anything else is refused, and
** no op and no stub decode as each other. */
static void test_stub(void){
  BecBuf buf;
  u8 aHash[BEC_HASH_BYTES], aBad[64];
  const u8 *aGot = 0;
  i64 nGot = 0;
  int rc = SQLITE_OK, i;
  BecOp op;
  char *zErr = 0;
  memset(&buf, 0, sizeof(buf));
  for(i=0; i<BEC_HASH_BYTES; i++) aHash[i] = (u8)(i*7+1);
  bec_op_encode_stub(&buf, 300, aHash, &rc);
  CHECK(rc==SQLITE_OK && buf.n==1+2+BEC_HASH_BYTES && buf.a[0]==0);
  CHECK(bec_op_decode_stub(buf.a, buf.n, &nGot, &aGot)==SQLITE_OK);
  CHECK(nGot==300 && aGot && memcmp(aGot, aHash, BEC_HASH_BYTES)==0);
  for(i=0; i<buf.n; i++){               /* every truncation */
    CHECK(bec_op_decode_stub(buf.a, i, &nGot, &aGot)!=SQLITE_OK);
  }
  memcpy(aBad, buf.a, (size_t)buf.n);   /* a byte after it */
  aBad[buf.n] = 0;
  CHECK(bec_op_decode_stub(aBad, buf.n+1, &nGot, &aGot)!=SQLITE_OK);
  aBad[0] = BEC_FORMAT_VERSION;         /* not 0: an op's first byte */
  CHECK(bec_op_decode_stub(aBad, buf.n, &nGot, &aGot)!=SQLITE_OK);
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
  sqlite3_free(zErr);
  zErr = 0;
  CHECK(bec_op_decode_pruned(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
  sqlite3_free(zErr);
  aBad[0] = 0; aBad[1] = 0x80; aBad[2] = 0x00;    /* a non-minimal varint */
  memcpy(&aBad[3], aHash, BEC_HASH_BYTES);
  CHECK(bec_op_decode_stub(aBad, 3+BEC_HASH_BYTES, &nGot, &aGot)!=SQLITE_OK);
  aBad[1] = 0;                                     /* payload length 0 */
  memcpy(&aBad[2], aHash, BEC_HASH_BYTES);
  CHECK(bec_op_decode_stub(aBad, 2+BEC_HASH_BYTES, &nGot, &aGot)!=SQLITE_OK);
  CHECK(bec_op_decode_stub(0, 0, &nGot, &aGot)!=SQLITE_OK);
  bec_buf_free(&buf);
}

static void test_non_canonical(void){
  u8 aPred[2*BEC_HASH_BYTES];
  u8 aPayload[33];
  BecBuf buf;
  BecOp op;
  char *zErr = 0;
  int rc = SQLITE_OK;

  /* Unsorted predecessors. */
  memset(aPred, 0x22, BEC_HASH_BYTES);
  memset(&aPred[BEC_HASH_BYTES], 0x11, BEC_HASH_BYTES);
  make_unsigned(&buf, BEC_KIND_APP, 2, aPred, (const u8*)"x", 1);
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
  CHECK(zErr && strstr(zErr, "sorted"));
  /* The signer refuses a header that does not decode. */
  bec_op_sign(&buf, aSecretA, aGroup, &rc);
  CHECK(rc==SQLITE_MISUSE);
  rc = SQLITE_OK;
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf);

  /* Duplicate predecessors. */
  memset(&aPred[BEC_HASH_BYTES], 0x22, BEC_HASH_BYTES);
  make_unsigned(&buf, BEC_KIND_APP, 2, aPred, (const u8*)"x", 1);
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf);

  /* No predecessors on a non-create op. */
  make_unsigned(&buf, BEC_KIND_APP, 0, 0, (const u8*)"x", 1);
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
  CHECK(zErr && strstr(zErr, "predecessors"));
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf);

  /* A create with predecessors. */
  make_unsigned(&buf, BEC_KIND_CREATE, 1, aPred, (const u8*)"0123456789abcdef", 16);
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf);

  /* Unknown role in an add. */
  memset(aPayload, 1, sizeof(aPayload));
  aPayload[32] = 4;               /* 1 admin, 2 member, 3 relay */
  make_op(&buf, BEC_KIND_ADD, 1, aPred, aPayload, 33);
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
  CHECK(zErr && strstr(zErr, "role"));
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf);

  /* Unknown kind and unknown version. */
  make_op(&buf, BEC_KIND_APP, 1, aPred, (const u8*)"x", 1);
  buf.a[1] = BEC_KIND_MAX+1;      /* (by name: kinds are appended) */
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
  CHECK(zErr && strstr(zErr, "kind"));
  sqlite3_free(zErr); zErr = 0;
  buf.a[1] = BEC_KIND_APP;
  buf.a[0] = 1;                  /* op format 1 is refused, not reread */
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
  CHECK(zErr && strstr(zErr, "version 1"));
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf);

  /* A non-minimal varint for the predecessor count (0x81 0x00 = 1). */
  {
    u8 aBodyHash[BEC_HASH_BYTES], aSig[BEC_SIG_BYTES];
    memset(aSig, 0, sizeof(aSig));
    bec_crypto_hash((const u8*)"x", 1, aBodyHash);
    memset(&buf, 0, sizeof(buf));
    bec_buf_append_u8(&buf, BEC_FORMAT_VERSION, &rc);
    bec_buf_append_u8(&buf, BEC_KIND_APP, &rc);
    bec_buf_append(&buf, aGroup, BEC_GROUP_TAG_BYTES, &rc);
    bec_buf_append(&buf, aPubA, BEC_PUBKEY_BYTES, &rc);
    bec_buf_append_u8(&buf, 0, &rc);
    bec_buf_append(&buf, "\x81\x00", 2, &rc);
    bec_buf_append(&buf, aPred, BEC_HASH_BYTES, &rc);
    bec_buf_append_u8(&buf, 1, &rc);
    bec_buf_append(&buf, aBodyHash, BEC_HASH_BYTES, &rc);
    bec_buf_append(&buf, aSig, BEC_SIG_BYTES, &rc);
    bec_buf_append(&buf, "x", 1, &rc);
    CHECK(rc==SQLITE_OK);
    CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
    CHECK(zErr && strstr(zErr, "predecessor count"));
    sqlite3_free(zErr); zErr = 0;
    /* The same with a minimal count decodes: only the varint was wrong. */
    memmove(&buf.a[44], &buf.a[45], (size_t)(buf.n-45));
    buf.a[43] = 1;
    buf.n--;
    CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)==SQLITE_OK);
    sqlite3_free(zErr); zErr = 0;
    bec_buf_free(&buf);
  }

  /* Too many predecessors. */
  {
    int n = BEC_MAX_PRED+1, i;
    u8 *a = malloc((size_t)n*BEC_HASH_BYTES);
    for(i=0; i<n; i++){
      memset(&a[i*BEC_HASH_BYTES], 0, BEC_HASH_BYTES);
      a[i*BEC_HASH_BYTES] = (u8)(i>>8);
      a[i*BEC_HASH_BYTES+1] = (u8)i;
    }
    make_unsigned(&buf, BEC_KIND_APP, n, a, (const u8*)"x", 1);
    CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)!=SQLITE_OK);
    sqlite3_free(zErr); zErr = 0;
    bec_buf_free(&buf);
    make_op(&buf, BEC_KIND_APP, BEC_MAX_PRED, a, (const u8*)"x", 1);
    CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)==SQLITE_OK);
    sqlite3_free(zErr); zErr = 0;
    bec_buf_free(&buf);
    free(a);
  }
}

/* Op format 2: the header alone gives the id and the signature check; the
** body is checked against the header's length and hash; the key-epoch list
** must be empty. */
static void test_header(void){
  static const u8 aPayload[] = "a body of some bytes";
  u8 aPred[BEC_HASH_BYTES];
  u8 aId[BEC_HASH_BYTES], aId2[BEC_HASH_BYTES];
  BecBuf buf, buf2;
  BecOp op, hdr;
  char *zErr = 0;
  int rc = SQLITE_OK;

  memset(aPred, 0x44, sizeof(aPred));
  make_op(&buf, BEC_KIND_APP, 1, aPred, aPayload, (int)sizeof(aPayload));
  CHECK(bec_op_decode(buf.a, buf.n, &op, &zErr)==SQLITE_OK);
  sqlite3_free(zErr); zErr = 0;
  CHECK(op.nEpoch==0 && op.nPayload==(i64)sizeof(aPayload));
  CHECK(op.aHeader==buf.a && op.aSig==&buf.a[op.nHeader]);
  CHECK(op.aPayload==&buf.a[op.nHeader+BEC_SIG_BYTES]);
  CHECK(op.nHeader + BEC_SIG_BYTES + op.nPayload == buf.n);

  /* The id is BLAKE2b-256 of the header; the signed message is
  ** "bec-op-v2" || group id || id (checked here with libsodium alone). */
  {
    u8 aMsg[9+2*BEC_HASH_BYTES], aWant[BEC_HASH_BYTES];
    crypto_generichash(aWant, BEC_HASH_BYTES, buf.a,
                       (unsigned long long)op.nHeader, 0, 0);
    CHECK(memcmp(aWant, op.aId, BEC_HASH_BYTES)==0);
    crypto_generichash(aWant, BEC_HASH_BYTES, aPayload, sizeof(aPayload), 0, 0);
    CHECK(memcmp(aWant, op.aPayloadHash, BEC_HASH_BYTES)==0);
    memcpy(aMsg, "bec-op-v2", 9);
    memcpy(&aMsg[9], aGroup, BEC_HASH_BYTES);
    memcpy(&aMsg[9+BEC_HASH_BYTES], op.aId, BEC_HASH_BYTES);
    CHECK(crypto_sign_verify_detached(op.aSig, aMsg, sizeof(aMsg), aPubA)==0);
  }

  /* Header-only decode: the header and signature without the body give the
  ** same id, and the signature checks. */
  CHECK(bec_op_decode_header(buf.a, op.nHeader+BEC_SIG_BYTES, &hdr, &zErr)==SQLITE_OK);
  sqlite3_free(zErr); zErr = 0;
  CHECK(memcmp(hdr.aId, op.aId, BEC_HASH_BYTES)==0);
  CHECK(hdr.aPayload==0 && hdr.nPayload==op.nPayload && hdr.nHeader==op.nHeader);
  CHECK(memcmp(hdr.aPayloadHash, op.aPayloadHash, BEC_HASH_BYTES)==0);
  CHECK(hdr.nPred==1 && memcmp(hdr.aPred, aPred, BEC_HASH_BYTES)==0);
  CHECK(bec_crypto_verify_op(&hdr, aGroup));
  /* ... but is no op on its own, and one byte less is no header. */
  CHECK(bec_op_decode(buf.a, op.nHeader+BEC_SIG_BYTES, &hdr, &zErr)!=SQLITE_OK);
  CHECK(zErr && strstr(zErr, "body of 0 bytes") && hdr.aHeader && hdr.aPayload==0);
  sqlite3_free(zErr); zErr = 0;
  CHECK(bec_op_decode_header(buf.a, op.nHeader+BEC_SIG_BYTES-1, &hdr, &zErr)!=SQLITE_OK);
  sqlite3_free(zErr); zErr = 0;

  /* A body that is not the header's: refused, though the header decodes
  ** (so a receiver can tell a bad copy from a bad op). */
  memset(&buf2, 0, sizeof(buf2));
  bec_buf_append(&buf2, buf.a, buf.n, &rc);
  buf2.a[buf2.n-1] ^= 1;
  CHECK(bec_op_decode(buf2.a, buf2.n, &hdr, &zErr)!=SQLITE_OK);
  CHECK(zErr && strstr(zErr, "payload hash") && hdr.aHeader && hdr.aPayload==0);
  CHECK(memcmp(hdr.aId, op.aId, BEC_HASH_BYTES)==0);
  sqlite3_free(zErr); zErr = 0;
  buf2.a[buf2.n-1] ^= 1;
  bec_buf_append_u8(&buf2, 0, &rc);
  CHECK(bec_op_decode(buf2.a, buf2.n, &hdr, &zErr)!=SQLITE_OK);
  CHECK(zErr && strstr(zErr, "header says"));
  sqlite3_free(zErr); zErr = 0;

  /* The id does not cover the signature: a forged copy keeps the id and
  ** fails the check. */
  buf2.n--;
  buf2.a[op.nHeader] ^= 0x10;
  CHECK(bec_op_id(buf2.a, buf2.n, aId)==SQLITE_OK);
  CHECK(memcmp(aId, op.aId, BEC_HASH_BYTES)==0);
  CHECK(bec_op_decode(buf2.a, buf2.n, &hdr, &zErr)==SQLITE_OK);
  CHECK(!bec_crypto_verify_op(&hdr, aGroup));
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf2);

  /* The id covers the body through its hash. */
  make_op(&buf2, BEC_KIND_APP, 1, aPred, aPayload, (int)sizeof(aPayload)-1);
  CHECK(bec_op_id(buf2.a, buf2.n, aId2)==SQLITE_OK);
  CHECK(memcmp(aId2, op.aId, BEC_HASH_BYTES)!=0);
  bec_buf_free(&buf2);

  /* A key-epoch list is reserved: any count but 0 is malformed. */
  memset(&buf2, 0, sizeof(buf2));
  bec_buf_append(&buf2, buf.a, 42, &rc);
  bec_buf_append_u8(&buf2, 1, &rc);
  bec_buf_append(&buf2, aPred, BEC_HASH_BYTES, &rc);
  bec_buf_append(&buf2, &buf.a[43], buf.n-43, &rc);
  CHECK(rc==SQLITE_OK);
  CHECK(bec_op_decode(buf2.a, buf2.n, &hdr, &zErr)!=SQLITE_OK);
  CHECK(zErr && strstr(zErr, "key epochs") && hdr.aHeader==0);
  sqlite3_free(zErr); zErr = 0;
  CHECK(bec_op_decode_header(buf2.a, buf2.n, &hdr, &zErr)!=SQLITE_OK);
  sqlite3_free(zErr); zErr = 0;
  bec_buf_free(&buf2);
  bec_buf_free(&buf);
}

static void test_varints(void){
  static const u64 aVal[] = { 0, 1, 127, 128, 300, 16383, 16384, 0xffffffffULL,
                              0x7fffffffffffffffULL, 0xffffffffffffffffULL };
  size_t i;
  for(i=0; i<sizeof(aVal)/sizeof(aVal[0]); i++){
    BecBuf buf;
    BecReader rd;
    u64 v = 0;
    int rc = SQLITE_OK;
    memset(&buf, 0, sizeof(buf));
    bec_buf_append_varint(&buf, aVal[i], &rc);
    CHECK((int)buf.n==bec_varint_len(aVal[i]));
    rd.a = buf.a; rd.n = buf.n; rd.i = 0;
    CHECK(bec_read_varint(&rd, &v, ~(u64)0)==SQLITE_OK && v==aVal[i] && rd.i==rd.n);
    rd.i = 0;
    if( aVal[i]>0 ) CHECK(bec_read_varint(&rd, &v, aVal[i]-1)!=SQLITE_OK);
    bec_buf_free(&buf);
  }
  {
    /* 11 bytes, and a 10th byte with more than one bit: overflow. */
    static const u8 aLong[] = {0x80,0x80,0x80,0x80,0x80,0x80,0x80,0x80,0x80,0x80,0x01};
    static const u8 aOver[] = {0xff,0xff,0xff,0xff,0xff,0xff,0xff,0xff,0xff,0x02};
    BecReader rd;
    u64 v;
    rd.a = aLong; rd.n = sizeof(aLong); rd.i = 0;
    CHECK(bec_read_varint(&rd, &v, ~(u64)0)!=SQLITE_OK);
    rd.a = aOver; rd.n = sizeof(aOver); rd.i = 0;
    CHECK(bec_read_varint(&rd, &v, ~(u64)0)!=SQLITE_OK);
  }
}

/* Golden vectors: ops built from fixed seeds must have exactly these bytes
** and hashes on every platform and in every version of this format. */
static void test_golden(void){
  u8 aSeed[BEC_SEED_BYTES];
  u8 aTarget[BEC_PUBKEY_BYTES];
  u8 aPayload[BEC_PUBKEY_BYTES+1];
  BecBuf aOp[5];
  u8 aHash[5][BEC_HASH_BYTES];
  u8 aPred[BEC_HASH_BYTES];
  const int bRegen = getenv("BEC_REGEN_VECTORS")!=0;
  FILE *f;
  int i;

  memset(aSeed, 0x01, sizeof(aSeed));
  bec_crypto_secret_from_seed(aSeed, aPubA, aSecretA);
  memset(aTarget, 0xbb, sizeof(aTarget));
  make_op(&aOp[0], BEC_KIND_CREATE, 0, 0, (const u8*)"bec golden nonce", 16);
  CHECK(bec_op_id(aOp[0].a, aOp[0].n, aHash[0])==SQLITE_OK);
  memcpy(aGroup, aHash[0], BEC_HASH_BYTES);
  memcpy(aPayload, aTarget, BEC_PUBKEY_BYTES);
  aPayload[BEC_PUBKEY_BYTES] = BEC_ROLE_ADMIN;
  make_op(&aOp[1], BEC_KIND_ADD, 1, aHash[0], aPayload, 33);
  CHECK(bec_op_id(aOp[1].a, aOp[1].n, aHash[1])==SQLITE_OK);
  make_op(&aOp[2], BEC_KIND_APP, 1, aHash[1], (const u8*)"hello", 5);
  CHECK(bec_op_id(aOp[2].a, aOp[2].n, aHash[2])==SQLITE_OK);
  make_op(&aOp[3], BEC_KIND_REMOVE, 1, aHash[2], aTarget, 32);
  CHECK(bec_op_id(aOp[3].a, aOp[3].n, aHash[3])==SQLITE_OK);
  memcpy(aPred, aHash[3], BEC_HASH_BYTES);
  make_op(&aOp[4], BEC_KIND_WRITE, 1, aPred, (const u8*)"\x00\x01\x02", 3);
  CHECK(bec_op_id(aOp[4].a, aOp[4].n, aHash[4])==SQLITE_OK);

  if( bRegen ){
    f = fopen(VECTOR_FILE, "w");
    CHECK(f!=0);
    if( f==0 ) return;
    fprintf(f, "# bec op golden vectors (op format 2): kind id encoding.\n"
               "# Author seed: 32 bytes of 0x01.  Regenerate only on a format "
               "change: BEC_REGEN_VECTORS=1 build/test/test_codec\n");
    for(i=0; i<5; i++){
      char *zHex = malloc((size_t)aOp[i].n*2+1);
      char zHash[BEC_HASH_BYTES*2+1];
      BecOp op;
      char *zErr = 0;
      CHECK(bec_op_decode(aOp[i].a, aOp[i].n, &op, &zErr)==SQLITE_OK);
      bec_hex_encode(aOp[i].a, (int)aOp[i].n, zHex);
      bec_hex_encode(aHash[i], BEC_HASH_BYTES, zHash);
      fprintf(f, "%s %s %s\n", bec_kind_name(op.kind), zHash, zHex);
      free(zHex);
    }
    fclose(f);
  }
  f = fopen(VECTOR_FILE, "r");
  CHECK_MSG(f!=0, "cannot open %s (run from the repository root)", VECTOR_FILE);
  if( f ){
    char zLine[4096];
    int n = 0;
    while( fgets(zLine, sizeof(zLine), f) ){
      char zKind[16], zHash[80], zBody[4000];
      u8 aBody[2000], aWant[BEC_HASH_BYTES];
      int nBody;
      if( zLine[0]=='#' ) continue;
      if( sscanf(zLine, "%15s %79s %3999s", zKind, zHash, zBody)!=3 ) continue;
      nBody = bec_hex_decode(zBody, (int)strlen(zBody), aBody, sizeof(aBody));
      CHECK(n<5);
      if( n>=5 ) break;
      CHECK_MSG(nBody==aOp[n].n && memcmp(aBody, aOp[n].a, (size_t)nBody)==0,
                "golden vector %d (%s): encoding differs", n, zKind);
      CHECK(bec_hex_decode(zHash, (int)strlen(zHash), aWant, BEC_HASH_BYTES)==BEC_HASH_BYTES);
      CHECK_MSG(memcmp(aWant, aHash[n], BEC_HASH_BYTES)==0,
                "golden vector %d (%s): hash differs", n, zKind);
      CHECK(strcmp(zKind, bec_kind_name(aOp[n].a[1]))==0);
      CHECK(accepted(aBody, nBody, aWant));
      n++;
    }
    CHECK(n==5);
    fclose(f);
  }
  for(i=0; i<5; i++) bec_buf_free(&aOp[i]);
}

static void test_hex(void){
  u8 a[4];
  char z[9];
  CHECK(bec_hex_decode("00ffA0", 6, a, 4)==3 && a[1]==0xff && a[2]==0xa0);
  CHECK(bec_hex_decode("0g", 2, a, 4)==-1);
  CHECK(bec_hex_decode("abc", 3, a, 4)==-1);
  CHECK(bec_hex_decode("0011223344", 10, a, 4)==-1);
  a[0]=0; a[1]=0xab; a[2]=0x0f; a[3]=0xf0;
  bec_hex_encode(a, 4, z);
  CHECK(strcmp(z, "00ab0ff0")==0);
}

/* A COUNTER's sum is exact and clamped once; a step is a cell of a write
** payload only (docs/tables.md, "Payloads"). */
static void test_counter_values(void){
  static const i64 aOrder[3][8] = {
    { 1, 1, 1, 1, -1, -1, -1, -1 }, { 1, -1, 1, -1, 1, -1, 1, -1 },
    { -1, -1, -1, -1, 1, 1, 1, 1 } };
  BecSum sum;
  BecValue v, w;
  BecBuf b;
  BecReader rd;
  int i, k, rc = SQLITE_OK;
  for(k=0; k<3; k++){
    memset(&sum, 0, sizeof(sum));
    for(i=0; i<8; i++) bec_sum_add(&sum, aOrder[k][i]*((i64)1<<62));
    CHECK(bec_sum_clamp(&sum)==0);
  }
  memset(&sum, 0, sizeof(sum));
  for(i=0; i<4; i++) bec_sum_add(&sum, (i64)1<<62);
  CHECK(bec_sum_clamp(&sum)==BEC_I64_MAX);
  memset(&sum, 0, sizeof(sum));
  for(i=0; i<4; i++) bec_sum_add(&sum, -((i64)1<<62));
  CHECK(bec_sum_clamp(&sum)==BEC_I64_MIN);
  memset(&sum, 0, sizeof(sum));
  bec_sum_add(&sum, BEC_I64_MIN);
  CHECK(bec_sum_clamp(&sum)==BEC_I64_MIN);
  bec_sum_add(&sum, -1);
  CHECK(bec_sum_clamp(&sum)==BEC_I64_MIN);
  bec_sum_add(&sum, 1);
  CHECK(bec_sum_clamp(&sum)==BEC_I64_MIN);
  /* a step encodes as tag 5; a plain value decoder refuses it */
  memset(&b, 0, sizeof(b));
  memset(&v, 0, sizeof(v));
  v.eType = BEC_VAL_STEP;
  v.i = -7;
  bec_value_put(&b, &v, &rc);
  CHECK(rc==SQLITE_OK && b.n==2 && b.a[0]==BEC_VAL_STEP && b.a[1]==13);
  rd.a = b.a; rd.n = b.n; rd.i = 0;
  CHECK(bec_value_decode(&rd, &w)==BEC_MALFORMED);
  bec_buf_free(&b);
}

int main(void){
  CHECK(bec_crypto_init()==SQLITE_OK);
  test_golden();        /* first: fixes the key and group the others use */
  test_round_trip();
  test_non_canonical();
  test_stub();
  test_header();
  test_varints();
  test_hex();
  test_counter_values();
  return bt_done();
}
