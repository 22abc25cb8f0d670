/*
** bec_codec.c - the canonical op encoding, and the byte builder and reader
** that every encoder and decoder in bec uses.  Nothing here touches tables
** or keys; the hash and the signature primitive come from bec_crypto.c.
** docs/wire-format.md specifies the same bytes for humans:
**
**   op     := header signature body
**   header := version:u8 (=2)
**             kind:u8 (1 create, 2 add, 3 remove, 4 app, 5 schema, 6 write:
**                      the table BEC_KINDS in becInt.h)
**             group_tag:8 bytes (first 8 bytes of the group id; zero in create)
**             author:32 bytes (Ed25519 public key)
**             n_epoch:varint (must be 0 in format 2: the key-epoch list is
**                             reserved for end-to-end encryption)
**             epoch:32 bytes * n_epoch (strictly increasing)
**             n_pred:varint (0 only in create, at most BEC_MAX_PRED)
**             pred:32 bytes * n_pred (strictly increasing, so sorted and unique)
**             payload_len:varint (at most BEC_MAX_PAYLOAD)
**             payload_hash:32 bytes (BLAKE2b-256 of the body)
**   signature := 64 bytes, Ed25519 over "bec-op-v2" || group id || id
**   body   := payload_len bytes (the payload), hashing to payload_hash
**
**   stub   := 0x00 payload_len:varint payload_hash:32 bytes
**             (stored only, never sent: what a pruned op's row keeps of its
**             header, the rest being its row's columns and its
**             predecessors' ids; payload_len > 0.  bec_dag_pruned_header
**             rebuilds the header with bec_op_encode_header, and its hash
**             must be the row's id.  The leading 0 is no format version, so a
**             stub is never mistaken for an op.)
**
**   varint := LEB128, little-endian groups of 7 bits, minimal (no trailing
**             zero group), at most 10 bytes.
**
**   payloads, by the kind's payload rule (BEC_PAYLOAD_*): create = 16-byte
**   nonce; add = target key (32) || role (1: admin, 2: member); remove =
**   target key (32); root = version (1) || action (1: add, 2: remove, 3:
**   role, 4: restore, 5: holders) || target key (32, all zero for holders)
**   || role (1; 0 for remove and holders) || the rest, which bec_root.c
**   decodes; app, schema, write = bytes interpreted by the layer that owns
**   that kind.
**
** The op's id is the BLAKE2b-256 hash of its header, computed in one place
** (decode_header).  The header binds the body through its length and hash,
** so the id names the whole op while the signature and the body can be
** checked, dropped or fetched apart from it.  There is exactly one header
** per op: the decoder rejects every deviation.  The rules a header alone
** decides (kind, predecessors, payload length by kind) are checked with
** the header; only the add op's role needs the body.
*/
#include "becInt.h"

#include <stdarg.h>
#include <stdio.h>

/* One place to break on when peer data is rejected. */
int bec_malformed_breakpoint(int iLine){
  (void)iLine;
  return SQLITE_ERROR;
}

/**************************************************************************
** Builder.
*/
static void buf_reserve(BecBuf *p, i64 nMore, int *pRc){
  i64 nNeed;
  u8 *aNew;
  i64 nNew;
  if( *pRc ) return;
  nNeed = p->n + nMore;
  if( nNeed <= p->nAlloc ) return;
  nNew = p->nAlloc ? p->nAlloc*2 : 256;
  while( nNew < nNeed ) nNew *= 2;
  aNew = sqlite3_realloc64(p->a, (sqlite3_uint64)nNew);
  if( aNew==0 ){
    *pRc = SQLITE_NOMEM;
    return;
  }
  p->a = aNew;
  p->nAlloc = nNew;
}

void bec_buf_append(BecBuf *p, const void *a, i64 n, int *pRc){
  buf_reserve(p, n, pRc);
  if( *pRc==SQLITE_OK && n>0 ){
    memcpy(&p->a[p->n], a, (size_t)n);
    p->n += n;
  }
}

/* The single bytes and varints of a write op's changes are appended a
** few hundred thousand times per large transaction: written in place. */
void bec_buf_append_u8(BecBuf *p, u8 v, int *pRc){
  buf_reserve(p, 1, pRc);
  if( *pRc==SQLITE_OK ) p->a[p->n++] = v;
}

int bec_varint_len(u64 v){
  int n = 1;
  while( v>=0x80 ){ v >>= 7; n++; }
  return n;
}

void bec_buf_append_varint(BecBuf *p, u64 v, int *pRc){
  if( v<0x80 && *pRc==SQLITE_OK && p->n<p->nAlloc ){
    p->a[p->n++] = (u8)v;          /* (most varints: one byte, room known) */
    return;
  }
  buf_reserve(p, 10, pRc);
  if( *pRc ) return;
  do{
    u8 c = (u8)(v & 0x7f);
    v >>= 7;
    p->a[p->n++] = v ? (c|0x80) : c;
  }while( v );
}

void bec_buf_append_framed(BecBuf *p, const u8 *a, i64 n, int *pRc){
  bec_buf_append_varint(p, (u64)n, pRc);
  bec_buf_append(p, a, n, pRc);
}

void bec_buf_vappendf(BecBuf *p, int *pRc, const char *zFmt, va_list ap){
  char *z;
  if( *pRc ) return;
  z = sqlite3_vmprintf(zFmt, ap);
  if( z==0 ){
    *pRc = SQLITE_NOMEM;
    return;
  }
  bec_buf_append(p, z, (i64)strlen(z), pRc);
  sqlite3_free(z);
}

void bec_buf_appendf(BecBuf *p, int *pRc, const char *zFmt, ...){
  va_list ap;
  va_start(ap, zFmt);
  bec_buf_vappendf(p, pRc, zFmt, ap);
  va_end(ap);
}

void bec_buf_free(BecBuf *p){
  sqlite3_free(p->a);
  memset(p, 0, sizeof(*p));
}

int bec_ints_push(BecInts *v, int x){
  if( v->n>=v->nAlloc ){
    int nNew = v->nAlloc ? v->nAlloc*2 : 8;
    int *aNew = sqlite3_realloc64(v->a, sizeof(int)*(sqlite3_uint64)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    v->a = aNew;
    v->nAlloc = nNew;
  }
  v->a[v->n++] = x;
  return SQLITE_OK;
}

void bec_stmt_reset(sqlite3_stmt *pStmt, int *pRc){
  int rc2;
  if( pStmt==0 ) return;
  rc2 = sqlite3_reset(pStmt);
  if( *pRc==SQLITE_OK ) *pRc = rc2;
}

/* Steps pStmt to its end, pushing each row's first column onto pOut, and
** resets it; the first error is returned (the statement is reset anyway).
** Callers collect first when they reuse the statement cache per row. */
int bec_stmt_ints(sqlite3_stmt *pStmt, BecInts *pOut){
  int rc = SQLITE_OK;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    rc = bec_ints_push(pOut, sqlite3_column_int(pStmt, 0));
  }
  bec_stmt_reset(pStmt, &rc);
  return rc;
}

void bec_ints_free(BecInts *v){
  sqlite3_free(v->a);
  memset(v, 0, sizeof(*v));
}

/**************************************************************************
** Reader.
*/
int bec_read_u8(BecReader *p, u8 *pOut){
  if( p->i>=p->n ) return BEC_MALFORMED;
  *pOut = p->a[p->i++];
  return SQLITE_OK;
}

/* Reads a minimal LEB128 varint no greater than mx. */
int bec_read_varint(BecReader *p, u64 *pVal, u64 mx){
  u64 v = 0;
  int shift = 0;
  for(;;){
    u8 c;
    if( p->i>=p->n || shift>63 ) return BEC_MALFORMED;
    c = p->a[p->i++];
    if( shift==63 && (c & 0x7e) ) return BEC_MALFORMED;  /* overflow */
    v |= ((u64)(c & 0x7f)) << shift;
    if( (c & 0x80)==0 ){
      if( c==0 && shift>0 ) return BEC_MALFORMED;        /* not minimal */
      break;
    }
    shift += 7;
  }
  if( v>mx ) return BEC_MALFORMED;
  *pVal = v;
  return SQLITE_OK;
}

int bec_read_bytes(BecReader *p, i64 n, const u8 **pp){
  if( n<0 || n > p->n - p->i ) return BEC_MALFORMED;
  *pp = &p->a[p->i];
  p->i += n;
  return SQLITE_OK;
}

/**************************************************************************
** The kind table, made from the one list BEC_KINDS in becInt.h.
*/
static const BecKind aKind[] = {
#define KIND_ROW(N, num, z, ePay, eAuth, eDer) { num, z, ePay, eAuth, eDer },
  BEC_KINDS(KIND_ROW)
#undef KIND_ROW
};

/* Rows are indexed by kind-1: the numbers must run 1, 2, 3 ... in order. */
enum {
#define KIND_POS(N, num, z, ePay, eAuth, eDer) KIND_POS_##N,
  BEC_KINDS(KIND_POS)
#undef KIND_POS
  KIND_COUNT
};
#define KIND_CHECK(N, num, z, ePay, eAuth, eDer) \
  _Static_assert(num==KIND_POS_##N+1, "BEC_KINDS: kind " #N " out of order");
BEC_KINDS(KIND_CHECK)
#undef KIND_CHECK
_Static_assert(KIND_COUNT==BEC_KIND_MAX, "BEC_KINDS: numbers not contiguous");

const BecKind *bec_kind(int kind){
  return (kind>=1 && kind<=BEC_KIND_MAX) ? &aKind[kind-1] : 0;
}

const char *bec_kind_name(int kind){
  const BecKind *pK = bec_kind(kind);
  return pK ? pK->zName : "unknown";
}

int bec_kind_from_name(const char *z){
  int i;
  for(i=0; z && i<BEC_KIND_MAX; i++){
    if( strcmp(z, aKind[i].zName)==0 ) return aKind[i].kind;
  }
  return 0;
}

int bec_kind_has_target(int kind){
  const BecKind *pK = bec_kind(kind);
  return pK && (pK->ePayload==BEC_PAYLOAD_TARGET
                || pK->ePayload==BEC_PAYLOAD_TARGET_ROLE);
}

int bec_kind_needs_admin(int kind, int bSelf){
  const BecKind *pK = bec_kind(kind);
  return pK && (pK->eAuthor==BEC_AUTHOR_ADMIN
                || (pK->eAuthor==BEC_AUTHOR_ADMIN_UNLESS_SELF && !bSelf));
}

int bec_kind_derives(int kind, int eDerive){
  const BecKind *pK = bec_kind(kind);
  return pK && pK->eDerive==eDerive;
}

const char *bec_role_name(int role){
  if( role==BEC_ROLE_ADMIN ) return "admin";
  if( role==BEC_ROLE_MEMBER ) return "member";
  if( role==BEC_ROLE_RELAY ) return "relay";
  return 0;
}

int bec_role_from_name(const char *z){
  if( z && strcmp(z, "admin")==0 ) return BEC_ROLE_ADMIN;
  if( z && strcmp(z, "member")==0 ) return BEC_ROLE_MEMBER;
  if( z && strcmp(z, "relay")==0 ) return BEC_ROLE_RELAY;
  return 0;
}

void bec_hex_encode(const u8 *a, int n, char *zOut){
  static const char aDigit[] = "0123456789abcdef";
  int i;
  for(i=0; i<n; i++){
    zOut[i*2] = aDigit[a[i]>>4];
    zOut[i*2+1] = aDigit[a[i]&0xf];
  }
  zOut[n*2] = 0;
}

static int hex_value(char c){
  if( c>='0' && c<='9' ) return c-'0';
  if( c>='a' && c<='f' ) return c-'a'+10;
  if( c>='A' && c<='F' ) return c-'A'+10;
  return -1;
}

char *bec_hex_json_array(const u8 *a, int n){
  char *z = sqlite3_malloc64((sqlite3_uint64)n*(BEC_HASH_BYTES*2+3) + 3);
  int j, k = 0;
  if( z==0 ) return 0;
  z[k++] = '[';
  for(j=0; j<n; j++){
    if( j ) z[k++] = ',';
    z[k++] = '"';
    bec_hex_encode(&a[j*BEC_HASH_BYTES], BEC_HASH_BYTES, &z[k]);
    k += BEC_HASH_BYTES*2;
    z[k++] = '"';
  }
  z[k++] = ']';
  z[k] = 0;
  return z;
}

int bec_hex_decode(const char *z, int nz, u8 *aOut, int nOut){
  int i;
  if( z==0 || nz%2 || nz/2>nOut ) return -1;
  for(i=0; i<nz/2; i++){
    int hi = hex_value(z[i*2]);
    int lo = hex_value(z[i*2+1]);
    if( hi<0 || lo<0 ) return -1;
    aOut[i] = (u8)(hi<<4 | lo);
  }
  return nz/2;
}

/**************************************************************************
** Ops.
*/
void bec_op_encode_header(
  BecBuf *pBuf, int kind, const u8 *aGroupTag, const u8 *aAuthor,
  int nEpoch, const u8 *aEpoch, int nPred, const u8 *aPred, i64 nPayload,
  const u8 *aPayloadHash, int *pRc
){
  static const u8 aZero[BEC_GROUP_TAG_BYTES] = {0};
  bec_buf_append_u8(pBuf, BEC_FORMAT_VERSION, pRc);
  bec_buf_append_u8(pBuf, (u8)kind, pRc);
  bec_buf_append(pBuf, aGroupTag ? aGroupTag : aZero, BEC_GROUP_TAG_BYTES, pRc);
  bec_buf_append(pBuf, aAuthor, BEC_PUBKEY_BYTES, pRc);
  bec_buf_append_varint(pBuf, (u64)nEpoch, pRc);
  bec_buf_append(pBuf, aEpoch, (i64)nEpoch*BEC_HASH_BYTES, pRc);
  bec_buf_append_varint(pBuf, (u64)nPred, pRc);
  bec_buf_append(pBuf, aPred, (i64)nPred*BEC_HASH_BYTES, pRc);
  bec_buf_append_varint(pBuf, (u64)nPayload, pRc);
  bec_buf_append(pBuf, aPayloadHash, BEC_HASH_BYTES, pRc);
}

void bec_op_encode_unsigned(
  BecBuf *pBuf, int kind, const u8 *aGroupTag, const u8 *aAuthor,
  int nPred, const u8 *aPred, const u8 *aPayload, i64 nPayload, int *pRc
){
  static const u8 aZero[BEC_SIG_BYTES] = {0};
  u8 aHash[BEC_HASH_BYTES];
  if( *pRc ) return;
  bec_crypto_hash(aPayload, nPayload, aHash);
  bec_op_encode_header(pBuf, kind, aGroupTag, aAuthor, 0, 0, nPred, aPred,
                       nPayload, aHash, pRc);      /* no key epochs */
  bec_buf_append(pBuf, aZero, BEC_SIG_BYTES, pRc);   /* bec_op_sign fills it */
  bec_buf_append(pBuf, aPayload, nPayload, pRc);
}

/* 1 if the n hashes at a are strictly increasing (sorted and unique). */
static int hashes_increasing(const u8 *a, int n){
  int i;
  for(i=1; i<n; i++){
    if( memcmp(&a[(i-1)*BEC_HASH_BYTES], &a[i*BEC_HASH_BYTES],
               BEC_HASH_BYTES)>=0 ) return 0;
  }
  return 1;
}

/* The kind rules a header alone decides (docs/wire-format.md). */
static int check_kind(const BecOp *pOp, char **pzErr){
  static const u8 aZeroTag[BEC_GROUP_TAG_BYTES] = {0};
  const BecKind *pK = bec_kind(pOp->kind);
  i64 nWant = -1;                 /* the payload length of the rule, if fixed */
  if( pOp->kind==BEC_KIND_CREATE ){
    /* The one op that founds a group: its id becomes the group id. */
    if( pOp->nPred!=0 ){
      *pzErr = sqlite3_mprintf("malformed: create op with predecessors");
      return BEC_MALFORMED;
    }
    if( memcmp(pOp->aGroupTag, aZeroTag, BEC_GROUP_TAG_BYTES) ){
      *pzErr = sqlite3_mprintf("malformed: create op with a group tag");
      return BEC_MALFORMED;
    }
  }
  switch( pK->ePayload ){
    case BEC_PAYLOAD_NONCE:       nWant = BEC_NONCE_BYTES;    break;
    case BEC_PAYLOAD_TARGET:      nWant = BEC_PUBKEY_BYTES;   break;
    case BEC_PAYLOAD_TARGET_ROLE: nWant = BEC_PUBKEY_BYTES+1; break;
    default:                      break;
  }
  if( nWant>=0 && pOp->nPayload!=nWant ){
    *pzErr = sqlite3_mprintf("malformed: %s payload is not %d bytes",
                             pK->zName, (int)nWant);
    return BEC_MALFORMED;
  }
  if( pOp->kind!=BEC_KIND_CREATE && pOp->nPred==0 ){
    *pzErr = sqlite3_mprintf("malformed: only a create op may have no "
                             "predecessors");
    return BEC_MALFORMED;
  }
  return SQLITE_OK;
}

/* Reads the header and (bSig) the signature after it from pRd, sets the
** header fields of pOp and its id.  The one place an op id is computed. */
static int decode_header(BecReader *pRd, BecOp *pOp, int bSig, char **pzErr){
  u8 version = 0, kind = 0;
  u64 nEpoch = 0, nPred = 0, nPayload = 0;
  int rc;

  rc = bec_read_u8(pRd, &version);
  if( rc==SQLITE_OK && version!=BEC_FORMAT_VERSION ){
    *pzErr = sqlite3_mprintf("malformed: unknown format version %d", version);
    return BEC_MALFORMED;
  }
  if( rc==SQLITE_OK ) rc = bec_read_u8(pRd, &kind);
  if( rc==SQLITE_OK && bec_kind(kind)==0 ){
    *pzErr = sqlite3_mprintf("malformed: unknown op kind %d", kind);
    return BEC_MALFORMED;
  }
  if( rc==SQLITE_OK ) rc = bec_read_bytes(pRd, BEC_GROUP_TAG_BYTES, &pOp->aGroupTag);
  if( rc==SQLITE_OK ) rc = bec_read_bytes(pRd, BEC_PUBKEY_BYTES, &pOp->aAuthor);
  if( rc==SQLITE_OK ){
    rc = bec_read_varint(pRd, &nEpoch, ~(u64)0);
    if( rc ){
      *pzErr = sqlite3_mprintf("malformed: bad key-epoch count");
      return rc;
    }
    if( nEpoch>BEC_MAX_EPOCH ){
      *pzErr = sqlite3_mprintf("malformed: %llu key epochs (the list is "
          "reserved for end-to-end encryption and must be empty in op "
          "format %d)", (unsigned long long)nEpoch, BEC_FORMAT_VERSION);
      return BEC_MALFORMED;
    }
  }
  if( rc==SQLITE_OK ){
    rc = bec_read_bytes(pRd, (i64)nEpoch*BEC_HASH_BYTES, &pOp->aEpoch);
  }
  if( rc==SQLITE_OK ){
    rc = bec_read_varint(pRd, &nPred, BEC_MAX_PRED);
    if( rc ){
      *pzErr = sqlite3_mprintf("malformed: bad predecessor count");
      return rc;
    }
  }
  if( rc==SQLITE_OK ) rc = bec_read_bytes(pRd, (i64)nPred*BEC_HASH_BYTES, &pOp->aPred);
  if( rc==SQLITE_OK ){
    rc = bec_read_varint(pRd, &nPayload, BEC_MAX_PAYLOAD);
    if( rc ){
      *pzErr = sqlite3_mprintf("malformed: bad payload length");
      return rc;
    }
  }
  if( rc==SQLITE_OK ) rc = bec_read_bytes(pRd, BEC_HASH_BYTES, &pOp->aPayloadHash);
  if( rc==SQLITE_OK && bSig ) rc = bec_read_bytes(pRd, BEC_SIG_BYTES, &pOp->aSig);
  if( rc ){
    *pzErr = sqlite3_mprintf("malformed: truncated op");
    return rc;
  }
  pOp->kind = kind;
  pOp->nEpoch = (int)nEpoch;
  pOp->nPred = (int)nPred;
  pOp->nPayload = (i64)nPayload;
  if( !hashes_increasing(pOp->aEpoch, pOp->nEpoch) ){
    *pzErr = sqlite3_mprintf("malformed: key epochs not sorted and unique");
    return BEC_MALFORMED;
  }
  if( !hashes_increasing(pOp->aPred, pOp->nPred) ){
    *pzErr = sqlite3_mprintf("malformed: predecessors not sorted and unique");
    return BEC_MALFORMED;
  }
  rc = check_kind(pOp, pzErr);
  if( rc ) return rc;
  pOp->aHeader = pRd->a;
  pOp->nHeader = pRd->i - (bSig ? BEC_SIG_BYTES : 0);
  bec_crypto_hash(pOp->aHeader, pOp->nHeader, pOp->aId);
  return SQLITE_OK;
}

int bec_op_decode_header(const u8 *a, i64 n, BecOp *pOp, char **pzErr){
  BecReader rd;
  memset(pOp, 0, sizeof(*pOp));
  *pzErr = 0;
  rd.a = a; rd.n = n; rd.i = 0;
  pOp->aBody = a;
  pOp->nBody = n;
  return decode_header(&rd, pOp, 1, pzErr);
}

int bec_op_decode_pruned(const u8 *a, i64 n, BecOp *pOp, char **pzErr){
  BecReader rd;
  int rc;
  memset(pOp, 0, sizeof(*pOp));
  *pzErr = 0;
  rd.a = a; rd.n = n; rd.i = 0;
  rc = decode_header(&rd, pOp, 0, pzErr);
  if( rc==SQLITE_OK && rd.i!=rd.n ){
    *pzErr = sqlite3_mprintf("malformed: %lld bytes after a pruned header",
                             (long long)(rd.n - rd.i));
    rc = BEC_MALFORMED;
  }
  pOp->aBody = a;
  pOp->nBody = n;
  return rc;
}

void bec_op_encode_stub(BecBuf *pBuf, i64 nPayload, const u8 *aPayloadHash,
                        int *pRc){
  bec_buf_append_u8(pBuf, 0, pRc);
  bec_buf_append_varint(pBuf, (u64)nPayload, pRc);
  bec_buf_append(pBuf, aPayloadHash, BEC_HASH_BYTES, pRc);
}

int bec_op_decode_stub(const u8 *a, i64 n, i64 *pnPayload,
                       const u8 **paPayloadHash){
  BecReader rd;
  u8 c = 1;
  u64 nPayload = 0;
  int rc;
  *pnPayload = 0;
  *paPayloadHash = 0;
  if( a==0 ) return BEC_MALFORMED;
  rd.a = a; rd.n = n; rd.i = 0;
  rc = bec_read_u8(&rd, &c);
  if( rc==SQLITE_OK && c!=0 ) rc = BEC_MALFORMED;
  if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &nPayload, BEC_MAX_PAYLOAD);
  if( rc==SQLITE_OK ) rc = bec_read_bytes(&rd, BEC_HASH_BYTES, paPayloadHash);
  if( rc==SQLITE_OK && (rd.i!=rd.n || nPayload==0) ) rc = BEC_MALFORMED;
  if( rc==SQLITE_OK ) *pnPayload = (i64)nPayload;
  return rc;
}

int bec_op_id(const u8 *a, i64 n, u8 *aId){
  BecOp op;
  char *zErr = 0;
  int rc = bec_op_decode_header(a, n, &op, &zErr);
  sqlite3_free(zErr);
  if( rc==SQLITE_OK ) memcpy(aId, op.aId, BEC_HASH_BYTES);
  return rc;
}

int bec_op_decode(const u8 *a, i64 n, BecOp *pOp, char **pzErr){
  BecReader rd;
  u8 aHash[BEC_HASH_BYTES];
  int rc;

  memset(pOp, 0, sizeof(*pOp));
  *pzErr = 0;
  if( n>BEC_MAX_OP_BYTES ){
    *pzErr = sqlite3_mprintf("too large: op of %lld bytes exceeds %d",
                             (long long)n, (int)BEC_MAX_OP_BYTES);
    return SQLITE_TOOBIG;
  }
  rd.a = a; rd.n = n; rd.i = 0;
  rc = decode_header(&rd, pOp, 1, pzErr);
  if( rc ) return rc;
  pOp->aBody = a;
  pOp->nBody = n;
  if( rd.n - rd.i != pOp->nPayload ){
    *pzErr = sqlite3_mprintf("malformed: body of %lld bytes, its header "
                             "says %lld", (long long)(rd.n - rd.i),
                             (long long)pOp->nPayload);
    return BEC_MALFORMED;
  }
  bec_crypto_hash(&a[rd.i], pOp->nPayload, aHash);
  if( memcmp(aHash, pOp->aPayloadHash, BEC_HASH_BYTES) ){
    *pzErr = sqlite3_mprintf("malformed: body does not match its header's "
                             "payload hash");
    return BEC_MALFORMED;
  }
  pOp->aPayload = &a[rd.i];
  if( bec_kind_has_target(pOp->kind) ){
    pOp->aTarget = pOp->aPayload;
  }
  if( bec_kind(pOp->kind)->ePayload==BEC_PAYLOAD_ROOT ){
    /* A root op: its action's target and role, as an add or remove has. */
    static const u8 aZero[BEC_PUBKEY_BYTES] = {0};
    const u8 *aP = pOp->aPayload;
    int eAct = pOp->nPayload>=3+BEC_PUBKEY_BYTES ? aP[1] : 0;
    int role = eAct ? aP[2+BEC_PUBKEY_BYTES] : 0;
    if( eAct<1 || eAct>6 || aP[0]!=1 ){
      *pzErr = sqlite3_mprintf("malformed: root payload (version %d, action "
                               "%d)", pOp->nPayload ? aP[0] : 0, eAct);
      return BEC_MALFORMED;
    }
    if( (eAct==2 || eAct>=5) ? role!=0 : bec_role_name(role)==0 ){
      *pzErr = sqlite3_mprintf("malformed: root action %d with role %d",
                               eAct, role);
      return BEC_MALFORMED;
    }
    if( (eAct==5)!=(memcmp(&aP[2], aZero, BEC_PUBKEY_BYTES)==0) ){
      *pzErr = sqlite3_mprintf("malformed: root action %d with%s target",
                               eAct, eAct==5 ? " a" : "out a");
      return BEC_MALFORMED;
    }
    /* 5 (holders) and 6 (attest: the 32 bytes name a checkpoint) act on
    ** no member: no target. */
    if( eAct<5 ) pOp->aTarget = &aP[2];
    pOp->role = role;
  }
  if( bec_kind(pOp->kind)->ePayload==BEC_PAYLOAD_TARGET_ROLE ){
    pOp->role = pOp->aPayload[BEC_PUBKEY_BYTES];
    if( bec_role_name(pOp->role)==0 ){
      *pzErr = sqlite3_mprintf("malformed: unknown role %d", pOp->role);
      return BEC_MALFORMED;
    }
  }
  return SQLITE_OK;
}

void bec_op_sign(BecBuf *pBuf, const u8 *aSecret, const u8 *aGroupId,
                 int *pRc){
  BecOp op;
  char *zErr = 0;
  if( *pRc ) return;
  if( bec_op_decode_header(pBuf->a, pBuf->n, &op, &zErr) ){
    *pRc = SQLITE_MISUSE;
  }else{
    /* The signature's place is right after the header. */
    bec_crypto_sign_id(aSecret, op.kind==BEC_KIND_CREATE ? 0 : aGroupId,
                       op.aId, &pBuf->a[op.nHeader]);
  }
  sqlite3_free(zErr);
}
