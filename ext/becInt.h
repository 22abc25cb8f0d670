/*
** becInt.h - the one internal header of the bec extension.
**
** bec gives a SQLite database Byzantine Eventual Consistency: every change is
** a signed op in a hash DAG, membership is derived from signed ops, app data
** lives in CRDT-merged virtual tables, and replicas reconcile by Bloom-filter
** sync.  This header has one section per source file, in layering order:
**
**   bec_codec.c   canonical op encoding (bytes in, bytes out, no tables;
**                 hashes and signs through bec_crypto.c)
**   bec_crypto.c  hash, sign, verify, secret-key sealing (libsodium only)
**   bec_frost.c   FROST threshold signing and key-generation arithmetic
**                 (libsodium's ed25519 core; bec_root.c runs it as ops)
**   bec_ctx.c     the per-connection context and its statement cache
**   bec_graph.c   the in-memory index of the DAG, kept coherent with storage
**   bec_dag.c     storage: schema, accept/store ops, heads, pending, rejected
**   bec_keyfile.c where the unsealed secret key lives: a key file, never SQL
**   bec_member.c  the membership rules of docs/membership.md
**   bec_root.c    the threshold root: key generation, signing, epochs
**   bec_e2ee.c    end-to-end encryption: epochs, keys, encrypted table ops
**   bec_vtab.c    the read-only eponymous tables (bec_ops, bec_heads ...)
**   bec_main.c    the entry point and the SQL functions
**
** Every fallible call returns an SQLite result code and, where a user must
** read why, fills a (char **pzErr) allocated with sqlite3_mprintf() that the
** caller frees with sqlite3_free().
*/
#ifndef BEC_INT_H
#define BEC_INT_H

#include <sqlite3ext.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Every file but bec_main.c reaches SQLite through the routines pointer that
** bec_main.c defines (SQLITE_EXTENSION_INIT1).  Built with -DSQLITE_CORE for
** the static library, the macros collapse to direct calls. */
SQLITE_EXTENSION_INIT3

#include "bec.h"

typedef unsigned char u8;
typedef uint32_t u32;
typedef int64_t i64;
typedef uint64_t u64;

#define BEC_WARN_UNUSED __attribute__((warn_unused_result))

/*
** Sizes.  bec_crypto.c ties them to libsodium's constants with static
** assertions so a mismatch cannot compile.
*/
#define BEC_HASH_BYTES      32   /* BLAKE2b-256 op id */
#define BEC_PUBKEY_BYTES    32   /* Ed25519 public key */
#define BEC_SECKEY_BYTES    64   /* Ed25519 secret key (seed || public key) */
#define BEC_SEED_BYTES      32   /* Ed25519 seed: what is stored, sealed or not */
#define BEC_SIG_BYTES       64   /* Ed25519 signature */
#define BEC_GROUP_TAG_BYTES 8    /* leading bytes of the group id, carried in ops */
#define BEC_NONCE_BYTES     16   /* payload of a create op: makes group ids unique */

/* Limits a peer cannot exceed (docs/wire-format.md).  BEC_FORMAT_VERSION
** is the op format (the first byte of every op) and the storage format that
** bec_store_config records: a database of another format is refused. */
#define BEC_FORMAT_VERSION  2
#define BEC_PRUNED_FORM     3     /* bec_store_config 'pruned_form': stubs */
#define BEC_MAX_PRED        1024              /* predecessors per op */
#define BEC_MAX_EPOCH       0                 /* key epochs per op: the list
                                              ** is reserved for end-to-end
                                              ** encryption, empty in format 2 */
#define BEC_MAX_PAYLOAD     (32*1024*1024)    /* payload bytes per op */
#define BEC_MAX_HEADER_BYTES (2 + BEC_GROUP_TAG_BYTES + BEC_PUBKEY_BYTES \
                             + 1 + 5 + BEC_MAX_PRED*BEC_HASH_BYTES \
                             + 5 + BEC_HASH_BYTES)
#define BEC_MAX_OP_BYTES    (BEC_MAX_HEADER_BYTES + BEC_SIG_BYTES \
                             + BEC_MAX_PAYLOAD)

/* Default per-signing-key bounds of the pending area (bec_config
** pending_key_max_ops / pending_key_max_bytes; bec_dag.c explains). */
#define BEC_PENDING_KEY_MAX_OPS   1000
#define BEC_PENDING_KEY_MAX_BYTES (8*1024*1024)

/*
** The op kinds: one row each in BEC_KINDS, the one list that every
** property of a kind comes from (docs/architecture.md, "Where a new kind
** goes").  The row gives the number as encoded (contiguous from 1, in
** order: zero and anything above BEC_KIND_MAX is malformed), the name
** shown in SQL and DOT, the payload rule the codec checks, who may author
** it, and which derived state consumes it.  bec_codec.c turns the list
** into the table that bec_kind() returns; the enum below gives the
** BEC_KIND_<NAME> numbers.
*/
#define BEC_PAYLOAD_FREE        0  /* bytes decoded by the kind's consumer */
#define BEC_PAYLOAD_NONCE       1  /* BEC_NONCE_BYTES: makes group ids unique */
#define BEC_PAYLOAD_TARGET      2  /* target key (32) */
#define BEC_PAYLOAD_TARGET_ROLE 3  /* target key (32) || role (1) */
#define BEC_PAYLOAD_ROOT        4  /* version (1) || action (1) || target key
                                   ** (32) || role (1) || the rest: a root
                                   ** op (bec_root.c decodes the rest) */

#define BEC_AUTHOR_FOUNDER      0  /* the group's first op: no grant needed */
#define BEC_AUTHOR_MEMBER       1  /* a member (or admin) grant */
#define BEC_AUTHOR_ADMIN        2  /* an admin grant */
#define BEC_AUTHOR_ADMIN_UNLESS_SELF 3  /* admin, or a member targeting itself */
#define BEC_AUTHOR_ROOT         4  /* the threshold root's group key: no grant;
                                   ** the root deriver judges it */

#define BEC_DERIVE_NONE         0  /* stored and shown; nothing derived */
#define BEC_DERIVE_MEMBERSHIP   1  /* bec_member.c: the group's members */
#define BEC_DERIVE_TABLES       2  /* bec_crdt.c: the replicated tables */
#define BEC_DERIVE_ROOT         3  /* bec_root.c: the threshold root */
#define BEC_DERIVE_NAMES        4  /* bec_names.c: display names */
#define BEC_DERIVE_E2EE         5  /* bec_e2ee.c: epochs and their keys */
#define BEC_DERIVE_CHECKPOINT   6  /* bec_checkpoint.c: checkpoints, sealing */

/* A toy kind, compiled only into the test build (-DBEC_TEST_TOY_KIND), that
** shows the whole path of a new kind: its row here, its deriver
** (bec_toy_deriver, in test/unit/test_kind.c) and the deriver's line in
** bec_main.c (docs/architecture.md walks through it). */
#ifdef BEC_TEST_TOY_KIND
# define BEC_DERIVE_TOY 7
# define BEC_KIND_TOY_ROW(X) \
  X(TOY,   23, "toy",    BEC_PAYLOAD_FREE,   BEC_AUTHOR_MEMBER,  BEC_DERIVE_TOY)
#else
# define BEC_KIND_TOY_ROW(X)
#endif

/*  X(NAME, number, name, payload rule, who may author, consumed by) */
#define BEC_KINDS(X) \
  X(CREATE, 1, "create", BEC_PAYLOAD_NONCE,  BEC_AUTHOR_FOUNDER, BEC_DERIVE_MEMBERSHIP) \
  X(ADD,    2, "add",    BEC_PAYLOAD_TARGET_ROLE, BEC_AUTHOR_ADMIN, BEC_DERIVE_MEMBERSHIP) \
  X(REMOVE, 3, "remove", BEC_PAYLOAD_TARGET, BEC_AUTHOR_ADMIN_UNLESS_SELF, \
                                                         BEC_DERIVE_MEMBERSHIP) \
  X(APP,    4, "app",    BEC_PAYLOAD_FREE,   BEC_AUTHOR_MEMBER,  BEC_DERIVE_NONE) \
  X(SCHEMA, 5, "schema", BEC_PAYLOAD_FREE,   BEC_AUTHOR_ADMIN,   BEC_DERIVE_TABLES) \
  X(WRITE,  6, "write",  BEC_PAYLOAD_FREE,   BEC_AUTHOR_MEMBER,  BEC_DERIVE_TABLES) \
  X(ROOT_OPEN, 7, "root-open", BEC_PAYLOAD_FREE, BEC_AUTHOR_ADMIN,  BEC_DERIVE_ROOT) \
  X(DKG_DEAL,  8, "dkg-deal",  BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, BEC_DERIVE_ROOT) \
  X(DKG_ACK,   9, "dkg-ack",   BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, BEC_DERIVE_ROOT) \
  X(NAME,     10, "name",      BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, BEC_DERIVE_NAMES) \
  X(ROOT_REQUEST, 11, "root-request", BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, \
                                                         BEC_DERIVE_ROOT) \
  X(ROOT_APPROVE, 12, "root-approve", BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, \
                                                         BEC_DERIVE_ROOT) \
  X(ROOT_SESSION, 13, "root-session", BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, \
                                                         BEC_DERIVE_ROOT) \
  X(ROOT_SHARE,   14, "root-share",   BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, \
                                                         BEC_DERIVE_ROOT) \
  X(ROOT,         15, "root",         BEC_PAYLOAD_ROOT, BEC_AUTHOR_ROOT, \
                                                         BEC_DERIVE_ROOT) \
  X(REKEY,    16, "rekey",     BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, BEC_DERIVE_E2EE) \
  X(KEYSHARE, 17, "keyshare",  BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, BEC_DERIVE_E2EE) \
  X(ENCRYPT,  18, "encrypt",   BEC_PAYLOAD_FREE, BEC_AUTHOR_ADMIN,  BEC_DERIVE_E2EE) \
  X(CHECKPOINT, 19, "checkpoint", BEC_PAYLOAD_FREE, BEC_AUTHOR_ADMIN, \
                                                         BEC_DERIVE_CHECKPOINT) \
  X(ATTEST,   20, "attest",    BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, BEC_DERIVE_CHECKPOINT) \
  X(DISPUTE,  21, "dispute",   BEC_PAYLOAD_FREE, BEC_AUTHOR_MEMBER, BEC_DERIVE_CHECKPOINT) \
  X(CONFIG,   22, "config",    BEC_PAYLOAD_FREE, BEC_AUTHOR_ADMIN,  BEC_DERIVE_CHECKPOINT) \
  BEC_KIND_TOY_ROW(X)

enum {
#define BEC_KIND_ENUM(N, num, z, ePay, eAuth, eDer) BEC_KIND_##N = num,
  BEC_KINDS(BEC_KIND_ENUM)
#undef BEC_KIND_ENUM
  BEC_KIND_END_
};
#define BEC_KIND_MAX (BEC_KIND_END_-1)

/* One row of the kind table. */
typedef struct BecKind BecKind;
struct BecKind {
  int kind;            /* BEC_KIND_*, as encoded */
  const char *zName;   /* as shown in SQL ("create" ...) */
  int ePayload;        /* BEC_PAYLOAD_* */
  int eAuthor;         /* BEC_AUTHOR_* */
  int eDerive;         /* BEC_DERIVE_* */
};

/* Roles carried by an add op. */
#define BEC_ROLE_ADMIN  1
#define BEC_ROLE_MEMBER 2
#define BEC_ROLE_RELAY  3   /* syncs, stores, forwards; signs only its leave */

/* Outcome of accepting one op (bec_dag_accept). */
#define BEC_ACCEPT_STORED    1   /* verified and stored now */
#define BEC_ACCEPT_DUPLICATE 2   /* was stored already: nothing to do */
#define BEC_ACCEPT_PENDING   3   /* verified, waits for predecessors */
#define BEC_ACCEPT_REJECTED  4   /* a verdict: refused, logged in
                                 ** bec_rejected, with a code and reason */

/* What acceptance did with one op: a value that callers act on (never the
** presence of a message).  zReason is owned: the caller frees it. */
typedef struct BecAccept BecAccept;
struct BecAccept {
  int eOutcome;                /* BEC_ACCEPT_* */
  int rcRefused;               /* REJECTED: SQLITE_AUTH (unauthorized),
                               ** SQLITE_ERROR (malformed, bad signature,
                               ** wrong group), SQLITE_FULL (pending area
                               ** full), SQLITE_TOOBIG ... */
  char *zReason;               /* REJECTED: why, from sqlite3_mprintf */
  u8 aId[BEC_HASH_BYTES];      /* the op id; for a copy whose bytes are not
                               ** the op (forged, damaged), their hash */
};

/* Every failed check on peer data goes through this macro, one place for a
** debugger breakpoint.  It evaluates to SQLITE_CORRUPT_VTAB-free SQLITE_ERROR
** so that callers can `return BEC_MALFORMED;`. */
int bec_malformed_breakpoint(int iLine);
#define BEC_MALFORMED bec_malformed_breakpoint(__LINE__)

/**************************************************************************
** bec_codec.c - the canonical op encoding, and the byte builder/reader that
** every encoder and decoder in bec uses.
*/

/* A growable byte buffer.  Appends do nothing once *pRc is set, so an
** encoder is a straight line of appends with one check at the end.  The
** buffer is freed with bec_buf_free(); a zeroed struct is an empty buffer. */
typedef struct BecBuf BecBuf;
struct BecBuf {
  u8 *a;        /* bytes, from sqlite3_malloc64 */
  i64 n;        /* bytes used */
  i64 nAlloc;   /* bytes allocated */
};
void bec_buf_append(BecBuf*, const void*, i64, int *pRc);
void bec_buf_append_u8(BecBuf*, u8, int *pRc);
void bec_buf_append_varint(BecBuf*, u64, int *pRc);
/* A varint length, then the n bytes: how a list of ops is framed. */
void bec_buf_append_framed(BecBuf*, const u8 *a, i64 n, int *pRc);
/* bec_tablecodec.c: if *z opens an SQL literal or quoted name (' " ` [),
** the address of its closing character, or 0 if the text ends first;
** z itself if *z opens none.  The one scanner of quoted spans in the
** expression texts bec checks and records. */
const char *bec_sql_skip_quoted(const char *z);
/* printf-style appends, with sqlite3_mprintf's formats. */
void bec_buf_appendf(BecBuf*, int *pRc, const char *zFmt, ...);
void bec_buf_vappendf(BecBuf*, int *pRc, const char *zFmt, va_list);
void bec_buf_free(BecBuf*);

/* A growable array of ints (seqs, author ids), beside BecBuf; zeroed is
** empty.  bec_ints_push returns SQLITE_NOMEM when it cannot grow; the
** caller frees a with bec_ints_free. */
typedef struct BecInts BecInts;
struct BecInts {
  int *a;       /* from sqlite3_realloc64 */
  int n;        /* ints used */
  int nAlloc;   /* ints allocated */
};
int bec_ints_push(BecInts*, int);
int bec_stmt_ints(sqlite3_stmt*, BecInts*);
/* Resets pStmt (0: nothing) at the end of a loop over its rows, keeping
** the first error: *pRc takes the reset's result only if it was SQLITE_OK
** (a step's error shows there, and an earlier error is not hidden). */
void bec_stmt_reset(sqlite3_stmt *pStmt, int *pRc);
void bec_ints_free(BecInts*);

/* A bounds-checked reader over peer bytes.  Every read returns SQLITE_OK or
** BEC_MALFORMED; no read ever passes a[n]. */
typedef struct BecReader BecReader;
struct BecReader {
  const u8 *a;
  i64 n;
  i64 i;
};
int bec_read_u8(BecReader*, u8*) BEC_WARN_UNUSED;
int bec_read_varint(BecReader*, u64 *pVal, u64 mx) BEC_WARN_UNUSED;
int bec_read_bytes(BecReader*, i64 n, const u8 **pp) BEC_WARN_UNUSED;
int bec_varint_len(u64);

/* A decoded op.  Pointers point into the buffer that was decoded; the
** struct owns nothing.  An op is header || signature || body
** (docs/wire-format.md): the id is the hash of the header alone, and the
** header carries the body's length and hash, so the id and the signature
** can be checked without the body.  "Body" in the field names aBody/nBody
** predates that word's use in the format: they span the whole encoding; the
** format's body is aPayload/nPayload. */
typedef struct BecOp BecOp;
struct BecOp {
  int kind;                    /* BEC_KIND_* */
  const u8 *aGroupTag;         /* BEC_GROUP_TAG_BYTES; all zero for create */
  const u8 *aAuthor;           /* BEC_PUBKEY_BYTES */
  int nEpoch;                  /* key epochs: always 0 in format 2 */
  const u8 *aEpoch;            /* nEpoch * BEC_HASH_BYTES, strictly increasing */
  int nPred;
  const u8 *aPred;             /* nPred * BEC_HASH_BYTES, strictly increasing */
  i64 nPayload;                /* payload_len of the header */
  const u8 *aPayloadHash;      /* BEC_HASH_BYTES: payload_hash of the header */
  const u8 *aPayload;          /* the body, once checked against the header;
                               ** 0 after a header-only decode, and after a
                               ** failed decode that did not get that far */
  const u8 *aTarget;           /* add/remove: target public key, else 0 */
  int role;                    /* add: BEC_ROLE_*, else 0 */
  const u8 *aHeader;           /* the signed header ... */
  i64 nHeader;                 /* ... of nHeader bytes */
  u8 aId[BEC_HASH_BYTES];      /* the op id: BLAKE2b-256 of the header */
  const u8 *aSig;              /* BEC_SIG_BYTES, right after the header */
  const u8 *aBody;             /* the whole encoding */
  i64 nBody;
};

/* Decode an encoding, rejecting everything that is not the one canonical
** encoding of an op, including a body that does not match the length and
** hash its header gives.  On failure *pzErr says what is wrong, and the
** fields checked before the failing check are set: aHeader and aId once
** the header decoded, aPayload once the body matched it. */
int bec_op_decode(const u8 *a, i64 n, BecOp *pOp, char **pzErr) BEC_WARN_UNUSED;

/* Decode the header and signature at the start of a[0..n-1]; what follows
** them (the body, if a carries one) is not read.  A header-only encoding
** (an op whose body was dropped or is still to come) is exactly
** pOp->nHeader + BEC_SIG_BYTES bytes.  aPayload is left 0; nPayload and
** aPayloadHash say which body belongs to the op.  The id and the signature
** (bec_crypto_verify_op) need nothing more. */
int bec_op_decode_header(const u8 *a, i64 n, BecOp *pOp, char **pzErr)
    BEC_WARN_UNUSED;

/* Decode a pruned op's stored header: exactly a header, no signature and no
** body (bec_dag.c keeps a pruned op's row so; COMPACTION.md section 2: the
** id covers the header alone).  aSig and aPayload are left 0. */
int bec_op_decode_pruned(const u8 *a, i64 n, BecOp *pOp, char **pzErr)
    BEC_WARN_UNUSED;

/* A pruned op's stored form (the stub of the grammar in bec_codec.c): its
** header's payload length and hash; the rest of the header is its row's
** (bec_dag_pruned_header).  decode_stub: SQLITE_OK only for exactly a stub
** with a payload length above 0 (*paPayloadHash points into a). */
void bec_op_encode_stub(BecBuf *pBuf, i64 nPayload, const u8 *aPayloadHash,
                        int *pRc);
int bec_op_decode_stub(const u8 *a, i64 n, i64 *pnPayload,
                       const u8 **paPayloadHash) BEC_WARN_UNUSED;

/* The id of the op encoded in a[0..n-1] (from its header): SQLITE_OK, or
** BEC_MALFORMED if the header does not decode. */
int bec_op_id(const u8 *a, i64 n, u8 *aId) BEC_WARN_UNUSED;

/* Append an op's header with the given fields (aGroupTag 0: all zero; no
** check: the decoder judges what comes out).  The one writer of headers. */
void bec_op_encode_header(BecBuf *pBuf, int kind, const u8 *aGroupTag,
    const u8 *aAuthor, int nEpoch, const u8 *aEpoch, int nPred,
    const u8 *aPred, i64 nPayload, const u8 *aPayloadHash, int *pRc);

/* Encode an op with an all-zero signature into pBuf, which must be empty;
** bec_op_sign fills the signature in. */
void bec_op_encode_unsigned(BecBuf *pBuf, int kind, const u8 *aGroupTag,
    const u8 *aAuthor, int nPred, const u8 *aPred,
    const u8 *aPayload, i64 nPayload, int *pRc);

/* Sign the op that bec_op_encode_unsigned left in pBuf, in place, as
** aSecret for the group aGroupId (ignored for a create op, which signs
** with the zero group id).  A header that does not decode is not signed:
** *pRc becomes SQLITE_MISUSE. */
void bec_op_sign(BecBuf *pBuf, const u8 *aSecret, const u8 *aGroupId,
                 int *pRc);

/* The kind table.  bec_kind() is the row of kind, or 0 if the kind is
** unknown.  The names are those shown in SQL ("create" ...);
** bec_kind_name() of an unknown kind is "unknown". */
const BecKind *bec_kind(int kind);
const char *bec_kind_name(int kind);
int bec_kind_from_name(const char *z);   /* 0 if unknown */
/* 1 if the payload starts with a target key (add, remove). */
int bec_kind_has_target(int kind);
/* 1 if an op of kind needs an admin grant; bSelf: its target is its author. */
int bec_kind_needs_admin(int kind, int bSelf);
/* 1 if the kind's derived state is eDerive (BEC_DERIVE_*). */
int bec_kind_derives(int kind, int eDerive);

/* Names of roles as shown in SQL ("admin", "member", "relay"). */
const char *bec_role_name(int role);
int bec_role_from_name(const char *z);   /* 0 if unknown */

/* Hex helpers.  bec_hex_decode returns the byte count or -1. */
void bec_hex_encode(const u8 *a, int n, char *zOut /* 2n+1 */);
int bec_hex_decode(const char *z, int nz, u8 *aOut, int nOut);
/* '["<hex>",...]' of n hashes; from sqlite3_malloc64, 0 if out of memory. */
char *bec_hex_json_array(const u8 *a, int n);

/**************************************************************************
** bec_crypto.c - the only file that calls libsodium's hash, sign and
** verify.  Secrets are wiped with sodium_memzero after use.
*/
int bec_crypto_init(void);
void bec_crypto_hash(const u8 *a, i64 n, u8 *aOut /* BEC_HASH_BYTES */);
/* 1 if aSig is a valid signature by aAuthor of the op's signed message in
** the group aGroupId (all zero for a create op), else 0.  The signed
** message is "bec-op-v2" || group id || op id: it needs the header only. */
int bec_crypto_verify_op(const BecOp*, const u8 *aGroupId) BEC_WARN_UNUSED;
/* The message an op's signature covers (what the threshold root signs with
** FROST, then checked by bec_crypto_verify_op like any op's). */
#define BEC_OP_MESSAGE_BYTES 73
void bec_crypto_op_message(const u8 *aGroupId, const u8 *aId,
                           u8 *aMsg /* BEC_OP_MESSAGE_BYTES */);
/* Seals n bytes of a local secret (a FROST nonce pair) under a key derived
** from the identity secret aSecret, bound to aAd (32 bytes): aOut receives
** n + BEC_CRYPTO_LOCAL_OVERHEAD bytes.  _open returns SQLITE_OK, or
** SQLITE_CORRUPT if the box is not this key's for aAd. */
#define BEC_CRYPTO_LOCAL_OVERHEAD 40
void bec_crypto_local_seal(const u8 *aSecret, const u8 *aAd, const u8 *aPlain,
                           int n, u8 *aOut);
int bec_crypto_local_open(const u8 *aSecret, const u8 *aAd, const u8 *aBox,
                          int nBox, u8 *aPlain) BEC_WARN_UNUSED;
/* The signature of the op with id aId in the group aGroupId (0 or all zero
** for a create op); bec_op_sign is its one caller. */
void bec_crypto_sign_id(const u8 *aSecret, const u8 *aGroupId, const u8 *aId,
                        u8 *aSig);
/* Make a key pair from fresh randomness: aSecret = seed || public key. */
void bec_crypto_keypair(u8 *aPub, u8 *aSecret);
void bec_crypto_secret_from_seed(const u8 *aSeed, u8 *aPub, u8 *aSecret);
/* Seal a seed with a passphrase (Argon2id + XSalsa20-Poly1305).  *ppOut is
** from sqlite3_malloc64; the caller frees it. */
int bec_crypto_seal(const u8 *aSeed, const char *zPass, int nPass,
                    u8 **ppOut, int *pnOut) BEC_WARN_UNUSED;
/* Unseal; SQLITE_AUTH if the passphrase is wrong, SQLITE_ERROR if the sealed
** blob is malformed. */
int bec_crypto_unseal(const u8 *aSealed, int nSealed, const char *zPass,
                      int nPass, u8 *aSeed) BEC_WARN_UNUSED;
/* Sign / verify a becsync handshake transcript (domain "bec-sync-auth-v1",
** never an op's signed message).  Sign returns SQLITE_NOMEM or SQLITE_OK;
** verify returns 1 if valid, else 0. */
/* Signatures of non-op messages under a domain string (domain || msg). */
int bec_crypto_sign_domain(const u8 *aSecret, const char *zDomain,
                           const u8 *aMsg, i64 nMsg, u8 *aSig);
int bec_crypto_verify_domain(const u8 *aPub, const char *zDomain,
                             const u8 *aMsg, i64 nMsg, const u8 *aSig);
/* URL-safe base64, no padding: the text from sqlite3_malloc64 (0: no
** memory); decode returns the byte count, or -1 if z is not such text or
** does not fit nOut. */
char *bec_crypto_b64_encode(const u8 *a, int n);
int bec_crypto_b64_decode(const char *z, int nz, u8 *aOut, int nOut);
int bec_crypto_sign_auth(const u8 *aSecret, const u8 *aMsg, i64 nMsg,
                         u8 *aSig) BEC_WARN_UNUSED;
int bec_crypto_verify_auth(const u8 *aPub, const u8 *aMsg, i64 nMsg,
                           const u8 *aSig) BEC_WARN_UNUSED;
void bec_crypto_random(u8 *a, size_t n);
void bec_crypto_wipe(void *p, size_t n);

/**************************************************************************
** bec_ctx.c - the per-connection state.  One BecCtx per sqlite3 connection,
** created when the extension is loaded into it and freed when it closes.
*/
typedef struct BecCtx BecCtx;
typedef struct BecGraph BecGraph;
typedef struct BecMember BecMember;
typedef struct BecCrdt BecCrdt;

/*
** A deriver: a file above the DAG that keeps state of its own, derived from
** the stored ops (membership, the replicated tables) or beside them (sync's
** peers).  bec_main.c registers the derivers on every context, in the
** order they hear events; bec_dag.c publishes its events to them and names
** none of them (docs/architecture.md).  Any member may be 0.
*/
/* A verdict refusing an op, as a value: the code a caller reports
** (SQLITE_AUTH: unauthorized, SQLITE_ERROR: malformed, SQLITE_FULL: the
** pending area is full ...) and why (sqlite3_mprintf, owned). */
typedef struct BecVerdict BecVerdict;
struct BecVerdict {
  int rc;             /* 0: not refused */
  char *zReason;
  int bAdminOp;       /* a data op that is an admin op by its payload (a
                      ** write to a write='admin' table): stored with role
                      ** admin, judged by membership as an admin op */
  int bNeedsCut;      /* not refused, but not judged either: the verdict
                      ** reads an op of an installed snapshot's cut that
                      ** this replica holds without its header (or may be
                      ** one it does not hold); the op waits as an op
                      ** concurrent with K does, and its known author's op
                      ** makes the replica fall back to a full join
                      ** (bec_dag.c "An op concurrent with K") */
};
/* Sets pV to a refusal with code rc; the reason is printf-formatted (an
** out-of-memory reason is "refused"). */
void bec_verdict_set(BecVerdict *pV, int rc, const char *zFmt, ...);
void bec_verdict_clear(BecVerdict *pV);

typedef struct BecDeriver BecDeriver;
struct BecDeriver {
  const char *zName;      /* "membership", "tables" ... (in messages) */
  int eDerive;            /* the BEC_DERIVE_* of the kinds it is told of in
                          ** xAdmit and xStored; BEC_DERIVE_ANY: every op */
  /* Create the tables it owns (idempotent). */
  int (*xSchema)(BecCtx*, char **pzErr);
  /* Before an op is stored: its verdict, from the op and its causal past
  ** (aPredSeq: the predecessors' seqs), into *pV (pV->rc stays 0 if the op
  ** may be stored).  The return code is for failures of this database
  ** only (out of memory, I/O), with *pzErr. */
  int (*xAdmit)(BecCtx*, const BecOp*, const int *aPredSeq, BecVerdict *pV,
                char **pzErr);
  /* Node iSeq (pOp) was just stored. */
  int (*xStored)(BecCtx*, int iSeq, const BecOp *pOp, char **pzErr);
  /* The validity of ops aSeq[0..n-1] changed. */
  int (*xValidity)(BecCtx*, const int *aSeq, int n, char **pzErr);
  /* bec_check(): recompute and compare; *pzProblems 0 if all agrees. */
  int (*xCheck)(BecCtx*, char **pzProblems, char **pzErr);
  /* Forget cached state (a rollback, another connection's write, close). */
  void (*xForget)(BecCtx*);
  /* The DAG is about to forget every stored op and take them again from
  ** the start (a snapshot's replica falls back to a full join:
  ** bec_rejoin.c): drop the state derived from them, keep what is not
  ** (this replica's secrets, logs).  Asked first with bProbe set: a
  ** deriver that holds state it could not derive again (or cannot drop
  ** now) sets *pzWhyNot (sqlite3_malloc'd) and the fall-back does not
  ** happen; with bProbe set nothing changes.  0: it derives nothing that
  ** names a stored op. */
  int (*xReset)(BecCtx*, int bProbe, char **pzWhyNot, char **pzErr);
};
#define BEC_DERIVE_ANY   (-1)
#define BEC_MAX_DERIVERS 16
#ifdef BEC_TEST_TOY_KIND
extern const BecDeriver bec_toy_deriver;
#endif

#define BEC_STMT_CACHE_INIT 64    /* slots of the statement cache at first
                                  ** use; it doubles whenever half full */
#define BEC_SAVEPOINT_MAX 8

/* One slot of the statement cache. */
typedef struct BecStmtSlot BecStmtSlot;
struct BecStmtSlot {
  const char *zSql;                /* a string literal: cached by address */
  sqlite3_stmt *pStmt;
};

/* A named savepoint: three string literals, so their statements are cached,
** e.g. { "SAVEPOINT bec_x", "RELEASE bec_x", "ROLLBACK TO bec_x" }. */
typedef struct BecSavepoint BecSavepoint;
struct BecSavepoint {
  const char *zBegin;
  const char *zRelease;
  const char *zRollback;
};

struct BecCtx {
  sqlite3 *db;
  int nRef;                        /* registrations that point here */
  int bSchema;                     /* storage tables known to exist */
  BecStmtSlot *aStmt;              /* open addressing on zSql's address,
                                   ** from sqlite3_malloc64, or 0 */
  int nStmtSlot;                   /* slots in aStmt: 0 or a power of two */
  int nStmt;                       /* slots in use: at most nStmtSlot/2 */
  int bSentinel;                   /* bec_conn eponymous table connected */
  int bUnlocked;                   /* aSecret holds the unlocked key */
  int eKeySrc;                     /* BEC_KEY_*: where aSecret came from */
  char *zKeyFile;                  /* bec_key_file() override, or 0 for the
                                   ** default (sqlite3_malloc64, owned) */
  u8 aSecret[BEC_SECKEY_BYTES];
  u8 aPub[BEC_PUBKEY_BYTES];
  BecGraph *pGraph;                /* in-memory DAG index, or 0 */
  BecMember *pMember;              /* membership state, or 0 */
  int nPendingMaxOps;              /* cached limits (bec_store_config) */
  i64 nPendingMaxBytes;
  BecCrdt *pCrdt;                  /* bec_crdt.c: table state, or 0 */
  int bNested;                     /* inside a write statement (a vtab
                                   ** method): no SAVEPOINTs; the statement's
                                   ** transaction makes an op atomic */
  int nSavepoint;                  /* savepoints this context has open */
  struct {
    const struct BecSavepoint *pSp;
    int bTxn;                      /* opened as BEGIN IMMEDIATE */
  } aSavepoint[BEC_SAVEPOINT_MAX];
  int bNeedRecovery;               /* a savepoint could not be closed */
  int nAccepting;                  /* depth of bec_dag_accept calls */
  int bGraphChecked;               /* pGraph checked in this acceptance */
  int bGraphStale;                 /* an id read failed (bec_graph_id_cmp):
                                   ** reload pGraph at the next get */
  int bKnown;                      /* nKnown, chainKnown hold the last
                                   ** row of bec_store_op that the caches
                                   ** were checked against (bec_graph_check);
                                   ** 0 once they are dropped */
  int nKnown;                      /* the highest seq: a stored op's or
                                   ** a stand-in's (bec_store_cut) */
  u64 chainKnown;
  int eCut;                        /* bec_store_cut: 0 not looked up since
                                   ** the caches were dropped, 1 none, 2 the
                                   ** table exists (bec_graph_check) */
  int bCovering;                   /* the op being admitted and stored names
                                   ** every head as a predecessor: its causal
                                   ** past is every stored op (bec_dag.c) */
  int nIdFail;                     /* id reads failed inside comparisons,
                                   ** ever: an acceptance or append that saw
                                   ** one fails (bec_dag.c, id_fail_check) */
  int bGroupKnown;                 /* aGroupId holds the group id */
  u8 aGroupId[BEC_HASH_BYTES];
  /* Registered by bec_main.c: the derivers, and what forgets every cache
  ** above this file (bec_dag_forget), so the context names none of them. */
  const BecDeriver *apDeriver[BEC_MAX_DERIVERS];
  int nDeriver;
  /* bec_progress.c: the callback of bec_check_progress(), or 0. */
  int (*xProgress)(void*, const char*, long long, long long);
  void *pProgressArg;
  void (*xForget)(BecCtx*);
  /* bec_checkpoint.c: set by bec_main.c.  xScratch opens a private
  ** in-memory database with bec loaded (its context has bScratch set), in
  ** which the causal past of a checkpoint is replayed; xSettle runs after
  ** ops from a peer were stored (bec_ingest, a sync message) and signs the
  ** attestations and disputes they call for. */
  int bScratch;
  int (*xScratch)(sqlite3 **ppDb, BecCtx **ppCtx, char **pzErr);
  /* bec_checkpoint.c: 1 + the locked ops counted at the last settle that
  ** looked for digests left unknown (0: not yet on this connection). */
  i64 nCkLocked;
  /* bec_e2ee.c: a scratch database's parent, whose seeds open the
  ** envelopes of the cut replayed here (the scratch holds no key), or 0. */
  BecCtx *pKeys;
  void (*xSettle)(BecCtx*);
  /* bec_rejoin.c: set by bec_main.c.  xRejoin falls back to a full join
  ** (bec_rejoin_start); bec_dag_accept calls it when an op concurrent with
  ** an installed checkpoint was recorded (bRejoinDue).  nRejoin counts the
  ** fall-backs on this connection: a reader holding seqs across an
  ** acceptance (a sync session) sees that they changed meaning. */
  int (*xRejoin)(BecCtx*, char **pzErr);
  int bRejoinDue;
  int nRejoin;
  /* Set while a caller that can still ask a peer for a longer band
  ** (docs/compaction.md "The band": sync, bec_install_extend) stores ops:
  ** an op concurrent with K that the band does not place waits, as
  ** always, but sets bBandWanted instead of bRejoinDue, and the caller
  ** asks for a band, or falls back itself (bec_rejoin_start). */
  int bRejoinDefer;
  int bBandWanted;
  /* The final validity of the ops in sealed cuts, for membership:
  ** *paFinal (owned by bec_checkpoint.c, valid until the next seal or
  ** forget) has *pnFinal entries, 0 not final, 1 invalid, 2 valid. */
  int (*xFinal)(BecCtx*, const u8 **paFinal, int *pnFinal);
  u8 *aCkFinal;                    /* bec_checkpoint.c's cache of it */
  int nCkFinal;
  int bCkFinal;                    /* aCkFinal is current */
  /* bec_root.c, for membership (THRESHOLD.md 5): what the root's lineage
  ** rule needs, as bec_root_facts gives it; set by bec_main.c. */
  int (*xRootFacts)(BecCtx*, int **paRow, int *pnRow);
  /* bec_e2ee.c: the write key it derived last (E2EE.md section 10 lets a
  ** connection keep derived keys in memory), for the identity, group and
  ** epochs that hash to aE2eeWhich; wiped by its xForget (a rollback,
  ** another connection's write, close) and when the key is locked. */
  int bE2eeKey;
  u8 aE2eeWhich[BEC_HASH_BYTES];
  u8 aE2eeKey[32];                 /* BEC_E2EE_KEY_BYTES */
  /* ... and the plaintext of the schema op it opened last (the merge opens
  ** a write's schema op for every write it applies), for the identity and
  ** op id that hash to aE2eeSchemaWhich; wiped with the key. */
  u8 aE2eeSchemaWhich[BEC_HASH_BYTES];
  u8 *aE2eeSchemaPt;               /* sqlite3_malloc64, or 0 */
  i64 nE2eeSchemaPt;
  /* bec_e2ee.c: the epochs E the writer's safety rule approved last (no
  ** rekey, no keyshare due), kept while nothing the rule reads can have
  ** changed: for the stored sequence (nKnown, chainKnown) it was computed
  ** on, moved along as this connection stores a schema or write op (a
  ** rollback or another connection's write changes it; the graph need not
  ** be loaded) and identity aE2eeRulePub; forgotten when an op of a kind
  ** other than schema and write is stored, on a change of validity, and
  ** by its xForget. */
  int nE2eeRule;                   /* 0: nothing remembered */
  int aE2eeRule[16];               /* E's seqs in hash order (E2EE_MAX_EPOCH) */
  int nE2eeRuleKnown;
  u64 chainE2eeRule;
  u8 aE2eeRulePub[BEC_PUBKEY_BYTES];
  /* ... and the hash of the epoch list of the last envelope whose epochs it
  ** recorded in bec_store_epoch_named (a run of writes records it once);
  ** forgotten by its xForget. */
  int bE2eeNamed;
  u8 aE2eeNamed[BEC_HASH_BYTES];
};

/* A new context with one reference, held by the caller. */
int bec_ctx_new(sqlite3*, BecCtx **pp);
/* Adds a deriver (bec_main.c, at load): SQLITE_OK, or SQLITE_FULL past
** BEC_MAX_DERIVERS. */
int bec_ctx_add_deriver(BecCtx*, const BecDeriver*);
/* Every function and module registered with the context as its user data
** holds a reference, released by its destructor (bec_ctx_unref), so the
** context outlives whatever still points to it, even across a reload. */
BecCtx *bec_ctx_ref(BecCtx*);
void bec_ctx_unref(void*);
/* A reset, cached statement for zSql, which must be a string literal (the
** cache is keyed by its address).  The statement stays owned by the cache.
** The cache grows as needed: the only errors are SQLite's own from
** preparing zSql (message in sqlite3_errmsg) and SQLITE_NOMEM. */
int bec_ctx_stmt(BecCtx*, const char *zSql, sqlite3_stmt **ppStmt);
/* Finalize every cached statement (called before the connection closes). */
void bec_ctx_finalize_stmts(BecCtx*);
/* Forget everything derived from storage (after a rollback or a change by
** another connection). */
void bec_ctx_drop_caches(BecCtx*);
/* Savepoints that make a multi-statement change all-or-nothing.  After an
** out-of-memory error inside a statement that calls bec, SQLite refuses to
** run any SQL until that statement ends, so a savepoint may be impossible
** to roll back at once: the context then remembers it, and the next call
** into bec rolls it back first (bec_ctx_recover, run by
** bec_dag_ensure_schema and bec_ctx_begin).  In autocommit mode the
** outermost one is a BEGIN IMMEDIATE transaction.  With bNested set (inside a
** write statement) these do nothing: the statement is the unit of undo. */
int bec_ctx_begin(BecCtx*, const BecSavepoint*);
int bec_ctx_commit(BecCtx*, const BecSavepoint*);
int bec_ctx_rollback(BecCtx*, const BecSavepoint*);
/* The same, for a savepoint in which no cached state changed: the caches
** survive (a rejected op costs no reload). */
int bec_ctx_rollback_clean(BecCtx*, const BecSavepoint*);
void bec_ctx_recover(BecCtx*);
/* Run a statement that returns no rows; fills *pzErr on failure. */
int bec_ctx_exec(BecCtx*, const char *zSql, char **pzErr);
/* What rc means, for a message that has no better one: SQLite's message
** when rc is db's latest error, else a description of the code; never
** "unknown error" (SQLite's text for SQLITE_INTERNAL).  Static text. */
const char *bec_rc_text(sqlite3 *db, int rc);
/* Helpers every SQL function uses.  bec_fn_error reports rc with zErr
** (taken over, may be 0) as the function's error. */
void bec_fn_error(sqlite3_context*, int rc, char *zErr);
/* The same, for an error from a lower layer: the message gets the one
** prefix every SQL function's error has, "<zFunc>: " (a leading "bec: "
** gives way to it). */
void bec_fn_error_in(sqlite3_context*, const char *zFunc, int rc, char *zErr);
/* A 32-byte hash or key given as 64 hex characters or as a blob: 1 if so. */
int bec_fn_arg32(sqlite3_value*, u8 *aOut);
/* Returns n bytes as lowercase hex text. */
void bec_fn_result_hex(sqlite3_context*, const u8 *a, int n);
/* Values in bec_store_config (created with the DAG's tables): a blob
** (*ppOut from sqlite3_malloc64, 0 if unset) or an integer. */
int bec_config_get_blob(BecCtx*, const char *zKey, u8 **ppOut, int *pn);
int bec_config_set_blob(BecCtx*, const char *zKey, const void*, int n);
int bec_config_get_int(BecCtx*, const char *zKey, i64 iDefault, i64 *piOut);
int bec_config_set_int(BecCtx*, const char *zKey, i64 iVal);
int bec_config_delete(BecCtx*, const char *zKey);
/* A copy of column 0 of pStmt's current row: *ppOut from sqlite3_malloc64
** (the caller frees it), *pn its size. */
int bec_ctx_column_copy(sqlite3_stmt *pStmt, u8 **ppOut, i64 *pn);
/* One SQL function of a table of them, registered with a reference to the
** context as its user data (bec_ctx_register_funcs). */
typedef struct BecFunc BecFunc;
struct BecFunc {
  const char *zName;
  int nArg;
  int flags;                       /* SQLITE_UTF8 | SQLITE_DIRECTONLY ... */
  void (*xFunc)(sqlite3_context*, int, sqlite3_value**);
};
int bec_ctx_register_funcs(sqlite3*, BecCtx*, const BecFunc *a, int n);
/* The eponymous table whose xDisconnect finalizes the cache. */
extern sqlite3_module bec_conn_module;

/**************************************************************************
** bec_graph.c - the in-memory index of the stored DAG.  Node i is the op
** with seq i (1-based, dense, a topological order: predecessors come first).
** It is a cache of bec_store_op and checks itself against storage before
** every use (bec_graph_get), so rollbacks and other connections' writes are
** seen.
*/
typedef struct BecNode BecNode;
/* 28 bytes per op (COMPACTION.md section 9): ids stay on disk.  aIdPre is
** the first BEC_ID_PREFIX bytes of the op's hash, enough to order two ops
** by hash without a read in all but rare cases; equal prefixes are never
** taken for equal ids (64-bit prefixes can be ground), bec_graph_id_cmp
** then reads the full ids. */
#define BEC_ID_PREFIX 8
struct BecNode {
  u8 aIdPre[BEC_ID_PREFIX]; /* first bytes of the op's hash */
  int iAuthor;        /* bec_store_author.id */
  int iTarget;        /* add/remove: target's author id, else 0 */
  int depth;          /* longest path from the create op */
  int iPred;          /* first predecessor in BecGraph.aPred */
  u8 kind;            /* BEC_KIND_* */
  u8 role: 7;         /* add: BEC_ROLE_*, else 0 */
  u8 bValid: 1;       /* rule-4 validity as last derived */
  unsigned short nPred; /* at most BEC_MAX_PRED */
};
struct BecGraph {
  int nNode;          /* nodes 1..nNode are valid; aNode[0] unused */
  int nNodeAlloc;
  BecNode *aNode;
  int nPred, nPredAlloc;
  int *aPred;         /* predecessor seqs, per node */
  u64 chain;          /* chain digest of node nNode (see bec_dag.c) */
  int nAuthor;        /* author ids are 1..nAuthor */
  int nAuthorAlloc;
  u8 (*aAuthorKey)[BEC_PUBKEY_BYTES]; /* aAuthorKey[id] */
  u64 iGeneration;    /* bumped whenever the graph is rebuilt from storage */
  BecCtx *pCtx;       /* whose storage the ids are read from */
};
/* The graph, loaded or brought up to date from storage.  Owned by pCtx.
** Inside bec_dag_accept it is checked against storage once per accepted
** op: the acceptance path keeps it in step with its own writes. */
int bec_graph_get(BecCtx*, BecGraph **ppGraph, char **pzErr);
/* The check of bec_graph_get without the load (COMPACTION.md section 9,
** incremental): compares the last stored row with what the caches were
** built on, drops every cache if they differ, and records it in
** BecCtx.bKnown/nKnown/chainKnown.  A local sign or a covering op needs no
** more than this; the graph loads at the first question that needs it. */
int bec_graph_check(BecCtx*, char **pzErr);
/* Append a node just stored by this connection (keeps the cache warm);
** aHash is the op's id, of which the node keeps the prefix. */
int bec_graph_append(BecGraph*, const BecNode*, const u8 *aHash,
                     const int *aPredSeq, u64 chain);
int bec_graph_add_author(BecGraph*, int iAuthor, const u8 *aKey);
/* Append the node of a stand-in just allocated (bec_dag.c, cut_seq): a
** write of final validity bValid by no key, depth, whose one predecessor
** is the node before it (BEC_NODE_STANDIN). */
int bec_graph_append_standin(BecGraph*, const u8 *aId, int depth, int bValid);
/* The predecessor seqs packed in a bec_store_op row's preds column (at
** most BEC_MAX_PRED into aOut); SQLITE_CORRUPT if malformed. */
int bec_graph_unpack_preds(const u8 *a, int n, int *aOut, int *pnOut);
/* *pb: bec_store_cut exists (cached in BecCtx.eCut until the caches drop). */
int bec_graph_cut_exists(BecCtx*, int *pb);
void bec_graph_free(BecGraph*);
/* The id (hash) of node iSeq, read from storage into aOut (a rowid seek):
** the graph holds only a prefix.  SQLITE_OK, or the failure of the read. */
int bec_graph_id(const BecGraph*, int iSeq, u8 *aOut);
/* bec_graph_id appended to a builder (sticky *pRc). */
void bec_graph_id_append(const BecGraph*, int iSeq, BecBuf*, int *pRc);
/* The id of node iSeq in hex, for messages (zHex: 2*BEC_HASH_BYTES+1
** bytes); "op #<seq>" if it cannot be read. */
void bec_graph_id_hex(const BecGraph*, int iSeq, char *zHex);
/* memcmp order of the ids of nodes a and b (<0, 0, >0), from the prefixes,
** reading the full ids only when the prefixes are equal.  A failed read
** (storage, memory) orders by seq and marks the graph stale, so that the
** next bec_graph_get reloads it and drops what was derived. */
int bec_graph_id_cmp(const BecGraph*, int a, int b);
/* memcmp order of node a's id against the id aId (same fallbacks). */
int bec_graph_id_cmp_to(const BecGraph*, int a, const u8 *aId);
/* The chain digest of an op with hash aHash stored after digest prev. */
u64 bec_graph_chain_next(u64 prev, const u8 *aHash);
/* The predecessors of node i. */
#define BEC_NODE_PREDS(g, i) (&(g)->aPred[(g)->aNode[i].iPred])
/* Node i is a stand-in of an installed snapshot's cut (bec_store_cut): an op
** held without header or body, a write of final validity by no key
** (iAuthor 0).  Every loop over all nodes that reads an author, a body or
** a stored row skips it; sync never offers or sends it. */
#define BEC_NODE_STANDIN(g, i) ((g)->aNode[i].iAuthor==0)
/* The causal past of an op whose predecessors are the nodes aPred[0..nPred-1]
** (a stored node's BEC_NODE_PREDS, or an op's aPredSeq before it is
** stored): *paMark, nNode+1 bytes from sqlite3_malloc64 that the caller
** frees, has aMark[x]==1 iff node x is in that past (the op itself is not). */
int bec_graph_past(const BecGraph*, const int *aPred, int nPred, u8 **paMark);
/* The band's rule (docs/compaction.md "The band"): marks in aMark (nNode+1
** bytes, zeroed by the caller) what an op with predecessors aPred reaches
** walking down through nodes with aStop[x]==0 and stopping at those with
** aStop[x]!=0 (ops of the cut held without a header); *pnMiss counts the
** boundary ops aBound[0..nBound-1] it does not reach, listed in aMiss
** (room for nBound) unless aMiss is 0.  The op can be placed against the
** band iff *pnMiss is 0.  Provider (bec_snapshot_band) and joiner
** (bec_dag.c) both ask this. */
int bec_graph_band_check(const BecGraph*, const u8 *aStop,
                         const int *aBound, int nBound,
                         const int *aPred, int nPred,
                         u8 *aMark, int *aMiss, int *pnMiss);

/**************************************************************************
** bec_dag.c - durable storage of the DAG and the acceptance path that every
** op, local or from a peer, goes through.
*/
/* Create the storage tables if they do not exist (idempotent). */
int bec_dag_ensure_schema(BecCtx*, char **pzErr);
/* At open (bec_main.c): converts storage written by an older bec in place,
** when it can now (writable, not locked); else the first call does. */
void bec_dag_upgrade_at_open(BecCtx*);
/* SQLITE_ERROR, with *pzErr naming the format, if db's bec storage is of
** another op format than BEC_FORMAT_VERSION (sqlite3_bec_init refuses such
** a database on open); SQLITE_OK if it matches or none can be read yet. */
int bec_dag_check_format(sqlite3 *db, char **pzErr);
/* The group id, or SQLITE_ERROR with a hint if neither created nor joined. */
int bec_dag_group_id(BecCtx*, u8 *aGroupId, char **pzErr);
/* Find or create the author id of a public key. */
int bec_dag_author_id(BecCtx*, const u8 *aKey, int bCreate, int *piAuthor);
/* Seq of a stored op, 0 if not stored (exact: BEC_OP_ID_IS). */
int bec_dag_seq_of(BecCtx*, const u8 *aHash, int *piSeq);
/* SQL: the row o of bec_store_op is the op whose id is zId, where zPre
** is its first 8 bytes (BEC_ID_PREFIX).  The id is stored once, in the
** row; bec_store_op_id(prefix, seq) finds the rows of a prefix and the full
** id decides, since a prefix can be ground (two ops with one prefix are
** both stored).  The one lookup by id: every query that finds a stored op
** by its id says this.  A statement that decides what is stored binds the
** prefix from C (bec_dag_seq_of): an app's own substr() cannot reach it,
** and the schema calls no function.  zId may be a numbered parameter or a
** column; in a filter of a BecTableDef "?" (the value is bound to each). */
#define BEC_OP_ID_IS(o, zPre, zId) \
  o ".seq=(SELECT s.seq FROM bec_store_op_id i, bec_store_op s" \
  " WHERE i.prefix=" zPre " AND s.seq=i.seq AND s.hash=" zId ")"
/* SQL: row o of bec_store_op is in the kind and author indexes: every op
** but a pruned write or app op (kinds 4 and 6, the kinds bec_prune drops;
** a pruned row below the last keeps chain 0).  Columns only: an index
** calls no function an app could override.  SQLite reads a partial index
** only for a query that repeats its condition, so a query by kind or
** author says this: for any other kind it is true, and a query by kind 4
** or 6 that wants pruned ops scans for them. */
#define BEC_OP_INDEXED(o) "(" o ".kind NOT IN (4,6) OR " o ".chain<>0)"
int bec_dag_node_of(BecCtx*, int iSeq, int *piKind, int *pbValid);
/* The cut of an installed snapshot, held without headers (bec_store_cut:
** the end of bec_dag.c).  bec_dag_cut_seq is a BecSeqOf for
** bec_crdt_base_from_leaves (pArg the BecCtx): *piSeq is the seq of op aId
** at depth iDepth, a stored op's or its stand-in's, allocated when new
** after every stored op and stand-in; -1 when the snapshot named aId at
** another depth.  bec_dag_cut_prove does the same for a proof's op and
** records its validity in S(K) (-1 also when proven with the other one).
** bec_dag_cut_begin creates bec_store_cut (idempotent); call it first. */
int bec_dag_cut_begin(BecCtx*, char **pzErr);
int bec_dag_cut_seq(void *pArg, const u8 *aId, i64 iDepth, int *piSeq);
int bec_dag_cut_prove(BecCtx*, const u8 *aId, i64 iDepth, int bValid,
                      int *piSeq);
/* Records iK, the seq of the installed checkpoint K (stored after every
** stand-in and chain op; an error if it is not stored or a stand-in
** follows it), in bec_store_config 'cut_top': the graph then
** gives every node up to K the node before it as its one predecessor, so
** that everything descending from K has the whole cut in its past
** (bec_graph.c, "Stand-ins").  The graph reloads. */
int bec_dag_cut_close(BecCtx*, int iK, char **pzErr);
/* Records iBand, the seq of the first band op of an installed snapshot
** (docs/compaction.md "The band"), in bec_store_config 'cut_band': the
** install stores the cut outside the band first (seqs below iBand, the
** last of them a boundary op), then the band ops, then K.  The graph keeps
** the edges of the nodes from iBand to K and gives the nodes below iBand
** the node before them; an op concurrent with K is stored when it reaches
** every boundary op (bec_graph_band_check).  The graph reloads. */
int bec_dag_cut_band(BecCtx*, int iBand, char **pzErr);
/* Stores pOp, an op of an installed snapshot's cut (its signature and
** group checked with the snapshot), without the derivers' admission: its
** validity is derived again once the cut is closed (bec_install.c
** compares it with the proven one).  Every predecessor must be stored or
** a stand-in; iDepth >= 0: the depth its predecessors give must be it (a
** chain op's proven depth).  *piSeq its seq.  SQLITE_ERROR with *pzErr
** (sqlite3_free it) for an op the cut contradicts. */
int bec_dag_install_op(BecCtx*, const BecOp *pOp, i64 iDepth, int *piSeq,
                       char **pzErr);
/* The highest stand-in seq (0: none, or no bec_store_cut). */
int bec_dag_cut_top(BecCtx*, int *piTop);
/* *pbSet 1: an op concurrent with the installed checkpoint K, by a known
** key, waits in the pending area (bec_dag.c, "An op concurrent with K"),
** so this replica must fall back to a full join (and has not: a deriver
** could not reset, bec_rejoin.c); 2: it fell back; 0: neither.  aId
** (BEC_HASH_BYTES) is the first such op's id. */
int bec_dag_rejoin_op(BecCtx*, u8 *aId, int *pbSet);
/* The DAG's part of the fall-back to a full join (bec_rejoin.c): every op
** stored in full but the create waits in the pending area as a kept body
** (outside the bounds), the stored ops, heads, cut and 'cut_top' go, and
** every cache is forgotten.  *ppCreate (sqlite3_malloc'd, the caller frees
** it): the create's body, to be ingested first. */
int bec_dag_rejoin_reset(BecCtx*, u8 **ppCreate, i64 *pnCreate, char **pzErr);
/* A longer band (bec_install_extend): the bodies of the ops stored above
** K, framed, in seq order, appended to pKept; then the stored sequence,
** the heads, the cut and 'cut_top' go, as in a fall-back, for the install
** to be stored again.  SQLITE_ERROR with *pzErr when an op above K was
** pruned here (no body to store again). */
int bec_dag_reinstall_reset(BecCtx*, BecBuf *pKept, char **pzErr);
/* Every op in the pending area whose missing links are all held now (an op
** concurrent with K, once a longer band is installed) accepted again, in
** causal order, in one savepoint. */
int bec_dag_pending_retry(BecCtx*, char **pzErr);
/* The predecessors' ids of op aId waiting in the pending area, appended to
** pOut (nothing when it does not wait there). */
int bec_dag_pending_preds(BecCtx*, const u8 *aId, BecBuf *pOut);


/* The acceptance path.  Decodes, checks group, hash, signature,
** predecessors and the derivers' verdicts (authorization, payloads);
** stores the op (or parks it as pending), publishes it to the derivers,
** and applies the pending ops it unblocks.  bSigned: 0 for peer data (the
** signature is verified here), 1 when the signature is known good: an op
** this connection just signed, or one whose signature the caller verified
** itself with bec_crypto_verify_op (sync verifies batches on two cores).
** Every other check runs either way.  SQLITE_OK with the outcome in *pRes
** (a rejected op is logged in bec_store_rejected); any other code is a
** failure of this database, nothing of the op kept, *pzErr says why. */
int bec_dag_accept(BecCtx*, const u8 *aBody, i64 nBody, int bSigned,
                   BecAccept *pRes, char **pzErr);
/* Sign and append a local op of kind with the current heads as
** predecessors, then accept it.  aHashOut receives its id. */
int bec_dag_append(BecCtx*, int kind, const u8 *aPayload, i64 nPayload,
                   u8 *aHashOut, char **pzErr);
/* The unlocked local secret key, or SQLITE_ERROR with a hint. */
int bec_dag_secret(BecCtx*, const u8 **ppSecret, char **pzErr);
/* Logs a verdict that a deriver reached about a stored op outside
** acceptance (bec_root.c: "dkg: bad share from holder i", which only the
** recipient can see) in bec_store_rejected, once per (hash, reason). */
int bec_dag_note_rejection(BecCtx*, const u8 *aHash, const char *zReason);
/* Re-verify everything stored; *pzReport is "ok" or a list of problems
** (the DAG's, then each deriver's xCheck). */
int bec_dag_check(BecCtx*, char **pzReport, char **pzErr);
/* Pruning (bec_prune.c).  1 if the stored encoding a[0..n-1] is an op
** whose body was dropped: a stub (bec_op_decode_stub). */
int bec_dag_body_dropped(const u8 *a, i64 n);
/* The header of pruned op iSeq, whose stored stub is aStub[0..nStub-1],
** rebuilt from the stub and the row (kind, author, the predecessors' ids,
** the group's tag) into pHead (caller frees pHead->a with sqlite3_free())
** and decoded into *pOp (bec_op_decode_pruned; it points into pHead).  The
** one rebuilder of pruned headers: every reader calls it; pOp->aId is the
** hash of what was rebuilt, for the caller to hold against the row's id. */
int bec_dag_pruned_header(BecCtx*, int iSeq, const u8 *aStub, i64 nStub,
                          BecBuf *pHead, BecOp *pOp, char **pzErr);
/* Replaces the stored encoding of op iSeq by its stub;
** *pbDropped: it held a body until now. */
int bec_dag_drop_body(BecCtx*, int iSeq, int *pbDropped);
/* Frees the graph and tells every deriver to forget its caches (installed
** as BecCtx.xForget by bec_main.c). */
void bec_dag_forget(BecCtx*);
/* Records the validity of stored op iSeq (bec_store_op.valid and node
** iSeq of g, the context's graph): membership decides it, the DAG keeps
** it. */
int bec_dag_set_valid(BecCtx*, BecGraph *g, int iSeq, int bValid);
/* Publishes a change of validity of ops aSeq[0..n-1] (membership, the
** deriver that decides validity, calls it) to every deriver's xValidity. */
int bec_dag_validity_changed(BecCtx*, const int *aSeq, int n, char **pzErr);

/**************************************************************************
** bec_rejoin.c - the fall-back of a snapshot's replica to a full join.
*/
/* Resets every deriver (xReset) and the DAG (bec_dag_rejoin_reset), then
** ingests the create again; if a deriver cannot reset, nothing changes and
** the reason is kept ('rejoin_blocked'). */
int bec_rejoin_start(BecCtx*, char **pzErr);

/**************************************************************************
** bec_keyfile.c - the unsealed secret key lives outside the database: in an
** owner-only key file (by default "<database file>-bec-key", or the path
** set with bec_key_file()), or, for a database without a file, only in the
** connection's memory.  A passphrase-sealed key stays in bec_store_config.
*/
#define BEC_KEY_NONE    0     /* BecCtx.eKeySrc: no key in memory */
#define BEC_KEY_FILE    1     /* read from (or written to) the key file */
#define BEC_KEY_MEMORY  2     /* memory only: the database has no file */
#define BEC_KEY_SEALED  3     /* unsealed with the passphrase */
#define BEC_KEYFILE_MAGIC       "bec-key-v1\n"
#define BEC_KEYFILE_MAGIC_BYTES 11
#define BEC_KEYFILE_BYTES       (BEC_KEYFILE_MAGIC_BYTES + BEC_SEED_BYTES)
/* The key file in effect: *pzPath from sqlite3_mprintf (the caller frees
** it), or 0 when the database has no file and no key file was set. */
int bec_key_path(BecCtx*, char **pzPath);
/* Sets (zPath) or clears (0) the connection's key file; forgets a key
** read from the previous one. */
int bec_key_set_path(BecCtx*, const char *zPath);
/* Makes p->aSecret hold the unsealed key: moves a legacy key out of the
** database first, then reads the key file.  A clear error if the key is
** sealed and locked, missing, unsafe, or another identity's. */
int bec_key_load(BecCtx*, char **pzErr);
/* bec_keygen without a passphrase: writes aSeed to a new key file (never
** overwriting one), fsynced, before the caller commits the public key.
** *pzCreated is the file written (the caller frees it, and removes the
** file with bec_key_discard if the public key cannot be stored), or 0 if
** the key lives in memory only. */
int bec_key_save(BecCtx*, const u8 *aSeed, char **pzCreated, char **pzErr);
void bec_key_discard(const char *zPath);
/* Moves a plaintext 'seckey' row (written by bec before key files) out of
** the database: to the key file, or to memory for a database without a
** file; then deletes it with secure_delete and truncates the WAL.  The
** row is removed only once the key is safe elsewhere. */
int bec_key_migrate(BecCtx*, char **pzErr);
/* Reads and checks a key file (regular, owned by this user, mode 0600 or
** stricter, the v1 format).  Also used by tools/bench_sync.c. */
int bec_keyfile_read(const char *zPath, u8 *aSeed, char **pzErr)
    BEC_WARN_UNUSED;

/**************************************************************************
** bec_member.c - the membership rules (docs/membership.md).
*/
/* The membership deriver: authorizes every op (xAdmit), derives every
** op's validity (xStored) and publishes changes of it, owns
** bec_store_member and bec_store_member_op. */
extern const BecDeriver bec_member_deriver;
/* Pruning (bec_prune.c): deletes the facts of the ops marked in aCut
** (g->nNode+1 flags) that no longer need them: write and app ops of final
** validity (a sealed cut). */
int bec_member_drop_facts(BecCtx*, const BecGraph *g, const u8 *aCut,
                          char **pzErr);
/* Registers the membership functions and tables on a connection. */
int bec_member_register(sqlite3*, BecCtx*);
/* Whether this replica's key may append a membership op of kind (ADD with
** role, or REMOVE) about aTarget in its current view, as bec_add_member
** and bec_remove_member check; on refusal *pzErr says why, prefixed with
** zFunc. */
int bec_member_may_append(BecCtx*, const char *zFunc, int kind, int role,
                          const u8 *aTarget, char **pzErr);
/* bec_add_member's and bec_remove_member's whole local path: the check
** above, then the op (aPayload: target key, and for ADD the role byte),
** with what an encrypted group needs around it. */
int bec_member_append(BecCtx*, const char *zFunc, int kind,
                      const u8 *aPayload, u8 *aHash, char **pzErr);

/* The cover of author iAuthor as derived (BEC_ROLE_*, 0: none): the
** highest role whose ops rule 4 makes valid when they have every stored op
** in their past (bec_checkpoint.c digests it, bec-cut-v4). */
int bec_member_cover(BecCtx*, int iAuthor, int *pCover, char **pzErr);
/* Seniority of author iAuthor as derived (rule 5): *pRank 0 if it holds
** no potential grant, else its rank and *piKeyOp the seq of the op whose
** hash completes its key (bec_checkpoint.c digests it). */
int bec_member_seniority(BecCtx*, int iAuthor, int *pRank, int *piKeyOp,
                         char **pzErr);
/* Derives membership again from every op and publishes what changed (a
** checkpoint was sealed: its cut's validity became final). */
int bec_member_rederive(BecCtx*, char **pzErr);
/* Re-evaluates every op's validity from the stored facts and publishes
** what changed: bec_root.c stored a fact the root's lineage rule reads (a
** root op, an ack of a creator's session, a creator's root-open). */
int bec_member_root_changed(BecCtx*, char **pzErr);

/**************************************************************************
** bec_checkpoint.c - checkpoints, attestations, disputes and sealing
** (docs/compaction.md): the canonical digest of the derived state at a
** cut, computed by replaying the cut into a scratch database.
*/
#define BEC_CKPT_VERSION 1
extern const BecDeriver bec_checkpoint_deriver;
/* Registers bec_checkpoint(), bec_attest(), bec_checkpoints, bec_disputes. */
int bec_checkpoint_register(sqlite3*, BecCtx*);
/* After ops from a peer were stored: signs the attestations and disputes
** this replica owes (best effort: what fails is retried next time). */
void bec_checkpoint_settle(BecCtx*);
/* BecCtx.xFinal: the final validity of the ops in sealed cuts. */
int bec_checkpoint_final(BecCtx*, const u8 **paFinal, int *pnFinal);
/* bec_config('checkpoint_k' [, k]): reads the value in force at the heads,
** or signs a config op. */
void bec_checkpoint_config(sqlite3_context*, BecCtx*, int argc,
                           sqlite3_value **argv);
/* The RFC 6962 Merkle tree hash of n leaf hashes (aLeaf: n * 32 bytes,
** each H(0x00 || leaf)); the empty list hashes to H(""). */
void bec_ckpt_merkle(const u8 *aLeaf, i64 n, u8 *aRoot);
/* The check of an audit path (RFC 6962 PATH(m, D[n]): the sibling hashes
** from the leaf up): 1 if nPath hashes aPath lead from leaf hash aLeafHash
** at index m of n to aRoot. */
int bec_ckpt_merkle_verify(const u8 *aLeafHash, i64 m, i64 n,
                           const u8 *aPath, int nPath, const u8 *aRoot);
/* The audit paths of the nWant leaves aWant (increasing indexes) among n
** leaf hashes, each appended to apPath[i]: O(n) hashes in all.  SQLITE_MISUSE if aWant is
** not increasing within [0, n). */
void bec_ckpt_merkle_paths(const u8 *aLeaf, i64 n, const i64 *aWant,
                           int nWant, BecBuf *apPath, int *pRc);
/* The sections of the digest after ops, members and tables (bec-cut-v4,
** docs/compaction.md "The digest, byte by byte"), in the digest's order. */
#define BEC_CK_SEC_ROOT   0     /* the threshold root's sessions */
#define BEC_CK_SEC_EPOCHS 1     /* e2ee epochs */
#define BEC_CK_SEC_NAMES  2     /* the names in effect */
#define BEC_CK_SEC_CKPTS  3     /* the earlier checkpoints of the cut */
#define BEC_CK_NSEC       4
#define BEC_CK_NROOT      (3+BEC_CK_NSEC)   /* every section root */
/* R := H("bec-cut-v4" || group || n_head || heads || n_op || k || the
** BEC_CK_NROOT roots, 32 bytes each at aRoots: ops, members, tables, then
** the BEC_CK_SEC_* sections): the one place the digest's top is laid out. */
void bec_ckpt_digest(const u8 *aGroup, const u8 *aHeads, int nHead, i64 nOp,
                     i64 k, const u8 *aRoots, u8 *aDigest, int *pRc);
/* S(K) of a stored checkpoint as a snapshot sends it (bec_snapshot.c):
** the digest's fields and the leaves of the members, tables and
** BEC_CK_SEC_* sections, in the digest's order.  members: per member, varint length || leaf
** bytes; tables: per table, varint length || the leaf up to n_row, then
** n_row varint and per row varint length || leaf bytes. */
typedef struct BecCkState BecCkState;
struct BecCkState {
  u8 aDigest[BEC_HASH_BYTES];
  i64 nOp, k;
  u8 aOpsRoot[BEC_HASH_BYTES];
  i64 nMember;
  BecBuf members;
  i64 nTable;
  BecBuf tables;
  /* The BEC_CK_SEC_* sections: per leaf, varint length || leaf bytes. */
  i64 anSec[BEC_CK_NSEC];
  BecBuf aSec[BEC_CK_NSEC];
  /* The ops section: its leaf hashes in order, and per leaf its op's id
  ** (32 bytes) and depth (i64) and validity (1 byte), CK_OPKEY bytes each
  ** (a snapshot proves some of them: bec_ckpt_ops_proof). */
  i64 nOpLeaf;
  BecBuf opLeaves;
  BecBuf opKeys;
  /* The ids (32 bytes each, as met) of the cut's losing writes at K: every
  ** candidate of a value register that does not win.  A snapshot sends
  ** their headers (bec_conflicts on an installed replica names each
  ** loser's author, even one an op after K covers here). */
  BecBuf loserIds;
};
/* Computes it for checkpoint iCp (a seq): the cut is replayed unless it is
** every op held.  Free with bec_ckpt_state_free (also after an error). */
int bec_ckpt_state(BecCtx*, int iCp, BecCkState*, char **pzErr);
/* The leaves of section iSec (BEC_CK_SEC_ROOT, _EPOCHS or _NAMES) of the
** digest, derived from every op p holds, appended to pOut framed as in a
** snapshot (varint length || leaf), *pnLeaf of them: an install (which
** holds only the cut) compares them with the snapshot's. */
int bec_ckpt_section_here(BecCtx*, int iSec, BecBuf *pOut, u64 *pnLeaf,
                          char **pzErr);
void bec_ckpt_state_free(BecCkState*);
/* Appends, for each of the nId ids at aIds whose op is in the ops section
** of p, in their order (an id given again is skipped), the proof that its
** leaf is there (id, index varint, depth varint, valid u8, n_path varint,
** the audit path: docs/wire-format.md "Snapshot"); *pnProof the number
** appended.  O(n) hashes whatever nId. */
void bec_ckpt_ops_proofs(const BecCkState *p, const u8 *aIds, int nId,
                         BecBuf *pOut, int *pnProof, int *pRc);
/* A checkpoint or attest op's claim: *paRef the checkpoint an attest
** names (0 for a checkpoint), *paDigest its R; 0, or why the payload is
** malformed (static). */
const char *bec_ckpt_claim(const BecOp*, const u8 **paRef,
                           const u8 **paDigest);

/**************************************************************************
** bec_prune.c - dropping the bodies of sealed history (bec_prune(),
** docs/compaction.md "Pruning").
*/
/* Registers bec_prune(). */
int bec_prune_register(sqlite3*, BecCtx*);
/* The checkpoint pruned below: *piCp its seq (0: never pruned), aCpId its
** id. */
int bec_prune_point(BecCtx*, int *piCp, u8 *aCpId);
/* "pruned: the body of <id> was dropped below checkpoint <id>", from
** sqlite3_mprintf (0: out of memory): the one answer to a request for a
** dropped body. */
char *bec_prune_message(BecCtx*, const u8 *aId);
/* The latest checkpoint sealed here, by (depth, id): *piCp its seq, 0 if
** none (what bec_prune() prunes below and bec_snapshot() gives). */
int bec_prune_latest_sealed(BecCtx*, int *piCp);

/**************************************************************************
** bec_snapshot.c - the state at the latest sealed checkpoint as one
** message, and its verification (docs/compaction.md "Snapshots").
*/
/* Registers bec_snapshot() and bec_snapshot_verify(). */
int bec_snapshot_register(sqlite3*, BecCtx*);
/* The snapshot of the latest checkpoint sealed here appended to pOut,
** checked as a joiner checks it; if there is none to give (none sealed,
** pruned, a cut that cannot be replayed, a check that fails), *pzWhy says
** why (sqlite3_mprintf, caller frees) and SQLITE_OK is returned. */
int bec_snapshot_give(BecCtx*, BecBuf *pOut, char **pzWhy, char **pzErr);
/* The band of checkpoint iK's snapshot (docs/compaction.md "The band"),
** as this replica (full or pruned: every header) chooses it: the seqs (ints
** in pBand, increasing) of the ops of K's cut a joiner gets as headers so
** that every op held here that is concurrent with K can be placed against
** them, and, when nExtra, an op whose predecessors are the nodes
** aExtra[0..nExtra-1] (one a joiner asks about: bec_snapshot_band_give).
** Empty when no such op is held. */
int bec_snapshot_band(BecCtx*, int iK, const int *aExtra, int nExtra,
                      BecBuf *pBand, char **pzErr);
/* The most bytes a band section given or taken after the install may have
** (docs/compaction.md "A longer band"): a joiner may ask for the band of
** an op deep in the cut, which is most of the cut. */
#define BEC_BAND_MAX_BYTES (4*1024*1024)
/* A longer band for a joiner that installed checkpoint aK's snapshot
** (docs/compaction.md "A longer band"): the band section of K's snapshot
** as this replica (full or pruned: every header) builds it, placing every
** op held here concurrent with K and an op naming the ops aPreds
** (nPred ids; those not held here are left out), appended to pOut when it
** has more than nHeld band ops; else *pzWhy (sqlite3_free it) says why
** none is given (K not held, a replica that installed a snapshot itself,
** no longer band, one larger than BEC_BAND_MAX_BYTES), with SQLITE_OK. */
int bec_snapshot_band_give(BecCtx*, const u8 *aK, const u8 *aPreds, int nPred,
                           u64 nHeld, BecBuf *pOut, char **pzWhy,
                           char **pzErr);
/* Where the band section of snapshot a[0..n-1] (this version) starts
** (*piOff) and ends (*piEnd: the losers' headers follow it) and how many
** band ops it has (*pnBand); *pzWhy (sqlite3_free it) for a snapshot that
** does not decode or is of another version. */
int bec_snapshot_band_at(BecCtx*, const u8 *a, i64 n, i64 *piOff, i64 *piEnd,
                         u64 *pnBand, char **pzWhy, char **pzErr);
/* Every check of a snapshot (the header comment of bec_snapshot.c): aCp
** is set to its checkpoint's id, or *pzWhy (caller frees) to the first
** check that fails, with SQLITE_OK; stores nothing. */
int bec_snapshot_check(BecCtx*, const u8 *a, i64 n, u8 *aCp, char **pzWhy,
                       char **pzErr) BEC_WARN_UNUSED;
/* A checked snapshot's state at K, parsed for its install: every pointer
** points into the snapshot's bytes (the caller keeps them while it reads
** this), the arrays are owned by the struct (bec_snapshot_state_free).
** The leaves' layout: docs/compaction.md "The digest, byte by byte". */
typedef struct BecSnapMember BecSnapMember;
struct BecSnapMember {
  const u8 *aKey;          /* 32 */
  u64 rank;                /* seniority: 1 the creator, 2 whom it added... */
  const u8 *aRankOp;       /* the create or add that gave the rank (32) */
  int best;                /* best role of its grants (BEC_ROLE_*, 0 none) */
  int role;                /* role at K (rule 9; 0 none) */
  int cover;               /* rule 4's level at K for an op that descends
                           ** from K: BEC_ROLE_*, 0 none */
  u64 nLive;
  const u8 *aLive;         /* nLive ids of live grants, increasing */
};
typedef struct BecSnapRoot BecSnapRoot;
struct BecSnapRoot {        /* a key generation of the threshold root */
  const u8 *aSid;          /* its session id (the open or request op) */
  const u8 *aParent;       /* the session it hands over from (32; zeros
                           ** for an open): the key's lineage */
  u64 epoch;
  int k, n;
  int state;               /* 0 generating, 1 active, 2 disabled,
                           ** 3 abandoned, 4 superseded */
  int bActive;             /* the epoch whose key acts after K */
  const u8 *aGroupKey;     /* 32, or 0 while it has none */
  const u8 *aHolders;      /* n keys of 32 bytes, in holder order */
};
typedef struct BecSnapEpoch BecSnapEpoch;
struct BecSnapEpoch {       /* an e2ee epoch op (encrypt, rekey) */
  const u8 *aId;
  int bValid;
  const u8 *aCommit;       /* the seed's commitment (32) */
  u64 nBack;
  const u8 *aBack;         /* the epochs it follows: nBack ids */
  u64 nHolder;
  const u8 *aHolders;      /* per holder: key prefix (8) || the op whose
                           ** box it holds (32; zeros: the epoch's author) */
};
typedef struct BecSnapName BecSnapName;
struct BecSnapName {
  const u8 *aKey, *aOp;    /* the member, its name op */
  u64 nName;
  const u8 *aName;         /* UTF-8, not terminated */
};
typedef struct BecSnapCkpt BecSnapCkpt;
struct BecSnapCkpt {        /* a checkpoint of the cut, K excluded */
  const u8 *aId, *aClaimed;  /* its id, the R its author claimed */
  u64 k;                   /* k in its own cut (0: not computed) */
  int sealed;              /* within K's cut: 0, 1 by k claims, 2 root */
};
typedef struct BecSnapState BecSnapState;
struct BecSnapState {
  u8 aCheckpoint[BEC_HASH_BYTES];   /* K's id */
  u8 aDigest[BEC_HASH_BYTES];       /* R(K), attested */
  u64 nOp, k;
  int nMember;  BecSnapMember *aMember;   /* by key */
  int nRoot;    BecSnapRoot *aRoot;       /* by session id */
  int nEpoch;   BecSnapEpoch *aEpoch;     /* by id */
  int nName;    BecSnapName *aName;       /* by key */
  int nCkpt;    BecSnapCkpt *aCkpt;       /* by id */
  /* The leaves of the root, epochs, names and checkpoints sections
  ** (BEC_CK_SEC_*) as sent: nSecLeaf[i] framed leaves (varint length ||
  ** leaf), nSecBytes[i] bytes; what an install compares with the sections
  ** derived from the cut's ops it stores (bec_ckpt_section_here). */
  const u8 *aSecLeaves[BEC_CK_NSEC];
  i64 nSecBytes[BEC_CK_NSEC];
  u64 nSecLeaf[BEC_CK_NSEC];
};
/* Every check of bec_snapshot_check, then the state at K into *pOut
** (pointers into a[0..n-1]); *pzWhy the first check that fails (then
** *pOut is empty).  Stores nothing. */
int bec_snapshot_state(BecCtx*, const u8 *a, i64 n, BecSnapState *pOut,
                       char **pzWhy, char **pzErr) BEC_WARN_UNUSED;
void bec_snapshot_state_free(BecSnapState*);
/* The tables of snapshot a[0..n-1], for the install: every check of
** bec_snapshot_check (*pzWhy the first that fails, then xTable is not
** called), then xTable once per table, in the digest's order, with its
** head (the digest's table leaf up to n_row: name, schema op, ...) and a
** reader over its nRow row leaves, each a varint length and the leaf as
** the digest has it (expanded from the message's tokens): what
** bec_crdt_base_from_leaves reads.  The reader's bytes live until xTable
** returns; an error from xTable stops and is returned. */
typedef int (*BecSnapTableFn)(void *pArg, const u8 *aHead, i64 nHead,
                              u64 nRow, BecReader *pRows);
int bec_snapshot_tables(BecCtx*, const u8 *a, i64 n, BecSnapTableFn xTable,
                        void *pArg, char **pzWhy, char **pzErr);
/* The parts of a checked snapshot that BecSnapState does not carry, for
** its install (bec_install.c): K, the claims and the chain decoded (each
** op's pointers into the snapshot's bytes), each proof's op leaf, and per
** table its create op's id and its rows as the digest has them (nRow framed leaves, for
** bec_crdt_base_from_leaves).  The arrays are owned by the struct
** (bec_snapshot_parts_free).  Call on bytes bec_snapshot_state checked. */
typedef struct BecSnapProof BecSnapProof;
struct BecSnapProof { const u8 *aId; i64 iDepth; int bValid; };
typedef struct BecSnapTable BecSnapTable;
struct BecSnapTable {
  const u8 *aCreate;       /* the table's create op (32) */
  i64 nRow;
  const u8 *aRows;         /* nRow framed row leaves, nRowsBytes bytes,
                           ** expanded from the message's tokens */
  i64 nRowsBytes;
  u8 *aOwn;                /* what aRows points into (the struct's) */
};
typedef struct BecSnapParts BecSnapParts;
struct BecSnapParts {
  BecOp k;
  int nClaim;   BecOp *aClaim;
  int nChain;   BecOp *aChain;     /* in the provider's seq order */
  int nProof;   BecSnapProof *aProof;
  int nTable;   BecSnapTable *aTable;
  int nBand;    BecOp *aBand;      /* the band's headers (pruned form), in a
                                   ** topological order (docs/compaction.md
                                   ** "The band") */
  int nBandProof; BecSnapProof *aBandProof;  /* band and boundary ops */
  int nLoser;   BecOp *aLoser;     /* the headers of the cut's losing writes
                                   ** (pruned form; version 6) */
};
int bec_snapshot_parts(BecCtx*, const u8 *a, i64 n, BecSnapParts *pOut,
                       char **pzErr);
void bec_snapshot_parts_free(BecSnapParts*);
/* aK: the id of the checkpoint of snapshot a[0..n-1] (one this replica
** built or checked); BEC_MALFORMED if the bytes do not begin with one. */
int bec_snapshot_k(const u8 *a, i64 n, u8 *aK);
/* Records iK, the installed snapshot's checkpoint (bec_install.c), as
** S(K) here: R, k and n_op as verified, the members section's admins, the
** cut's ops invalid in S(K); then seals it if its stored claims do
** (bec_checkpoint.c). */
int bec_ckpt_install(BecCtx*, int iK, const BecSnapState *pSt, char **pzErr);
/* Records the earlier checkpoints of an installed snapshot's cut (each
** stored in full from the chain) as its checkpoints section says: k and
** the seal within the cut, the digest unknown here (bec_checkpoint.c says
** why).  *pzWhy (sqlite3_free it) when a leaf cannot be installed. */
int bec_ckpt_install_earlier(BecCtx*, const BecSnapState *pSt, char **pzWhy,
                             char **pzErr);
/* After an install (bec_install.c): *pzWhy (sqlite3_free it) is 0 when
** every member's role, rank and cover derived from the cut as stored here
** are the members section's (why that makes an op after K judged here as
** by the provider: bec_member.c), else the first that differs. */
int bec_member_install_check(BecCtx*, const BecSnapState *pSt, char **pzWhy,
                             char **pzErr);
/* Installs snapshot aSnap[0..nSnap-1] on a database that holds no op, in
** place of the history (bec_install.c): every check of bec_snapshot_state,
** then the cut held without headers, K sealed, the tables from the merge
** base, one savepoint.  *pzWhy (sqlite3_free it), with SQLITE_OK and
** nothing stored, when it is not installed: a check that fails, a
** snapshot this version does not install (the join then replays), one
** whose install the cut contradicts. */
int bec_install_snapshot(BecCtx*, const u8 *aSnap, i64 nSnap, char **pzWhy,
                         char **pzErr);
/* aK: the id of the checkpoint installed here (zeros: none installed). */
int bec_install_cut(BecCtx*, u8 *aK);
/* Appends to pOut the snapshot installed here, as it was verified (an
** installed replica holds no cut bodies to build one), *pbGiven 1; 0 on a
** replica that did not install one. */
int bec_install_give(BecCtx*, BecBuf *pOut, int *pbGiven, char **pzErr);
/* Installs a longer band (docs/compaction.md "A longer band"): aBand is a
** band section (n_band || headers || n_bproof || proofs, the end of a
** version-5 snapshot) for the checkpoint installed here.  The installed
** snapshot with this band in place of its own passes every check of
** bec_snapshot_state, has more band ops, and is installed again in one
** savepoint: the ops stored after K accepted again (each as before, or
** nothing changes), the ops waiting as concurrent with K judged again.
** *pzWhy (sqlite3_free it), with SQLITE_OK and nothing changed, when it
** is refused. */
int bec_install_extend(BecCtx*, const u8 *aBand, i64 nBand, char **pzWhy,
                       char **pzErr);
/* The band this replica installed (its snapshot's band section, as
** extended), for a joiner that installed checkpoint aK and holds nHeld
** band ops, appended to pOut; *pzWhy (sqlite3_free it) with SQLITE_OK
** when it has none to give (another checkpoint, no longer band, none
** installed). */
int bec_install_band_give(BecCtx*, const u8 *aK, u64 nHeld, BecBuf *pOut,
                          char **pzWhy, char **pzErr);
/* bec_snapshot_install(snapshot) (bec_install.c). */
int bec_install_register(sqlite3*, BecCtx*);
/* *pbEmpty: this database holds no op (a snapshot join may start). */
int bec_snapshot_may_join(BecCtx*, int *pbEmpty);
/* *pbWant: bec_join(.., 'snapshot') was called and no op is held yet. */
int bec_snapshot_wanted(BecCtx*, int *pbWant);

/**************************************************************************
** bec_root.c - the threshold root: key generation (root-open, dkg-deal,
** dkg-ack), signing (root-request, root-approve, root-session,
** root-share, root) and epochs (docs/root.md).
*/
/* The root deriver: judges the root's ops, owns bec_store_root_session,
** _holder, _deal, _ack, _abandon, _request, _commit, _signing, _signer,
** _share, _done and (not derived: this replica's sealed nonces) _nonce. */
extern const BecDeriver bec_root_deriver;
/* Registers bec_root_open, bec_root_step, bec_root_propose,
** bec_root_approve, bec_root, bec_root_holders and bec_root_requests. */
int bec_root_register(sqlite3*, BecCtx*);
/* BecCtx.xRootFacts: the facts the membership rules read about the root
** (THRESHOLD.md 5, docs/root.md "the lineage rule"), as rows of 4 ints
** sorted by their first two: (seq of a root op, 1, seq of the epoch-1
** root-open of its lineage, seq of its request); (seq of a creator's
** root-open, 2, 1 if its session has exactly one complete transcript, 0);
** (seq of a creator's root-open, 3, seq of a creator's root-open that
** abandons it, 0); (seq of a root attestation, 4, 0, 0): a root op without
** a target that is no hand-over.  *paRow (4 * *pnRow ints) from sqlite3_malloc64, freed
** by the caller. */
int bec_root_facts(BecCtx*, int **paRow, int *pnRow);
/* 1 if stored op pOp is a root attestation (a root op of action attest,
** docs/compaction.md "Sealing by the root"): *paCheckpoint the id of the
** checkpoint it names, *paDigest the R it attests (both into pOp's
** payload); 0 otherwise. */
int bec_root_attest_of(const BecOp *pOp, const u8 **paCheckpoint,
                       const u8 **paDigest);
/* The group key of the one root epoch active in the past aMark (0: every
** stored op; as a root-request's acceptance reads it) into aY (32); *pb 0
** if no epoch is active there. */
int bec_root_key_in_past(BecCtx*, const u8 *aMark, u8 *aY, int *pb);
/* The seq of that epoch's root-open (*piSession 0: none active). */
int bec_root_active_session(BecCtx*, const u8 *aMark, int *piSession);

/**************************************************************************
** bec_tablecodec.c - the payloads of schema and write ops (docs/tables.md).
*/
#define BEC_TABLE_FORMAT     3     /* first byte of write payloads: 2 added
                                   ** the ADD COLUMN ops each table's
                                   ** changes use, 3 counter steps (value
                                   ** tag 5); 1 and 2 are refused */
#define BEC_SCHEMA_FORMAT    3     /* first byte of schema payloads: 2 added
                                   ** constraints and table options, 3 the
                                   ** incarnations a drop lists and RENAME
                                   ** TO; older ones are refused
                                   ** (docs/wire-format.md) */
#define BEC_TABLE_MAX_CHECK  32    /* CHECK constraints per table */
#define BEC_CHECK_MAX_TEXT   1024  /* bytes of one CHECK's text or name */
#define BEC_CHECK_VERSION    1     /* the allow-list of CHECK functions */
#define BEC_COL_NOTNULL      0x01  /* column flags in a schema payload */
#define BEC_COL_DEFAULT      0x02  /* a DEFAULT value follows */
#define BEC_COL_NOCASE       0x04  /* COLLATE NOCASE (non-key columns) */
#define BEC_COL_RTRIM        0x08  /* COLLATE RTRIM (non-key columns) */
#define BEC_COL_COUNTER      0x10  /* COUNTER: merges by addition */
#define BEC_COL_FLAGS        0x1f
#define BEC_OPT_STRICT       0x01  /* table options: strict=1 */
#define BEC_OPT_ADMIN        0x02  /* write='admin' */
#define BEC_OPTS             0x03
#define BEC_STRICT_INTEGER   1     /* closed form of a strict column's type */
#define BEC_STRICT_REAL      2
#define BEC_STRICT_TEXT      3
#define BEC_STRICT_BLOB      4
#define BEC_STRICT_ANY       5
#define BEC_TABLE_MAX_COL    256
#define BEC_TABLE_MAX_NAME   128   /* bytes in a table or column name */
#define BEC_TABLE_MAX_TYPE   64    /* bytes in a declared type */
#define BEC_WRITE_MAX_TABLES 1024  /* tables one write op may touch */
#define BEC_SCHEMA_CREATE    1
#define BEC_SCHEMA_DROP      2
#define BEC_SCHEMA_ADD       3     /* ALTER: ADD COLUMN (bec_alter) */
#define BEC_SCHEMA_RENAME    4     /* ALTER: RENAME COLUMN */
#define BEC_SCHEMA_DROPCOL   5     /* ALTER: DROP COLUMN */
#define BEC_SCHEMA_RETABLE   6     /* ALTER: RENAME TO (the table) */
#define BEC_DROP_MAX         255   /* incarnations one drop lists */
#define BEC_ADD_MAX          255   /* ADD COLUMN ops one write names per table */
#define BEC_VAL_NULL         0     /* value tags */
#define BEC_VAL_INT          1
#define BEC_VAL_REAL         2
#define BEC_VAL_TEXT         3
#define BEC_VAL_BLOB         4
#define BEC_VAL_STEP         5     /* a COUNTER's step (write payloads only):
                                   ** i is added to the shown value */

/* A decoded value; text and blob point into the decoded bytes. */
typedef struct BecValue BecValue;
struct BecValue {
  int eType;          /* BEC_VAL_* */
  int n;              /* bytes of text or blob */
  i64 i;
  double r;
  const u8 *a;
};
void bec_value_encode(BecBuf*, sqlite3_value*, int *pRc);
/* The value of an sqlite3_value, as bec_value_encode encodes it (text and
** blob point into pVal).  SQLITE_NOMEM if its text cannot be had. */
int bec_value_of(sqlite3_value *pVal, BecValue *pV);
int bec_value_decode(BecReader*, BecValue*) BEC_WARN_UNUSED;
/* A COUNTER's exact sum, clamped once to the i64 range (docs/tables.md,
** "Counters").  The sum is kept as hi:lo two's complement 128 bits. */
#define BEC_I64_MAX ((i64)0x7fffffffffffffffLL)
#define BEC_I64_MIN (-BEC_I64_MAX - 1)
typedef struct BecSum BecSum;
struct BecSum { i64 hi; u64 lo; };
void bec_sum_add(BecSum*, i64 v);
i64 bec_sum_clamp(const BecSum*);
void bec_value_bind(sqlite3_stmt*, int iParam, const BecValue*);
void bec_value_result(sqlite3_context*, const BecValue*);
/* bec_value_result with the destructor of text and blob (SQLITE_STATIC:
** the bytes outlive the result's use). */
void bec_value_result_as(sqlite3_context*, const BecValue*, void(*)(void*));

/* Affinities, as SQLite's documented rules derive them from a declared
** type; bec computes them itself (bec_type_parse). */
#define BEC_AFF_BLOB     0
#define BEC_AFF_TEXT     1
#define BEC_AFF_NUMERIC  2
#define BEC_AFF_INTEGER  3
#define BEC_AFF_REAL     4

/* A table's schema (one allocation: free with bec_schema_free). */
typedef struct BecColumn BecColumn;
struct BecColumn {
  char *zName;
  char *zType;        /* declared type as in the op, "" if none: never SQL */
  int iPk;            /* 0, or 1-based position in the primary key */
  int eAff;           /* closed form: BEC_AFF_*, -1 if the type is not one */
  int bInteger;       /* closed form: the type is exactly INTEGER */
  int flags;          /* BEC_COL_* */
  BecValue dflt;      /* the DEFAULT, the column's fill (NULL if none);
                      ** bytes in the schema's allocation */
  int eStrict;        /* strict table: BEC_STRICT_* of the type, else 0 */
  int iGroup;         /* merge group (docs/tables.md), -1 if none */
  int bHidden;        /* a create's column dropped, or whose name another
                      ** column shows: kept, never shown or written */
  int bDropped;       /* of those, dropped (its values never show again;
                      ** one hidden by a name may: the digest covers it) */
};
/* A CHECK constraint as recorded: text, optional name, and the columns it
** reads (aRead, a bit per column index). */
typedef struct BecCheck BecCheck;
struct BecCheck {
  char *zName;        /* "" if unnamed */
  char *zExpr;        /* the expression, white space normalised */
  u8 aRead[BEC_TABLE_MAX_COL/8];
  int nReadNk;        /* non-key columns read */
};
typedef struct BecSchema BecSchema;
struct BecSchema {
  int action;         /* BEC_SCHEMA_* */
  char *zName;
  int nCol;
  BecColumn *aCol;
  int nPk;
  int *aPk;           /* aPk[k]: column index of the k-th key column */
  int bIntPk;         /* key is one column of type INTEGER (a rowid alias) */
  int opts;           /* BEC_OPT_* */
  int iCheckVersion;  /* BEC_CHECK_VERSION the op was made for */
  int nCheck;
  BecCheck *aCheck;   /* in pExtra */
  int nGroup;         /* merge groups (BecColumn.iGroup) */
  int bConstrained;   /* any NOT NULL, CHECK or strict type to check */
  void *pExtra;       /* defaults and checks (sqlite3_malloc64, owned) */
  /* Schema evolution (docs/tables.md, "Schema evolution").  A create's
  ** schema as the merge shows it has its own nBase columns first, then one
  ** column per ADD COLUMN op it shows; an ADD op's own schema has one
  ** column and names its create op. */
  int nBase;          /* columns of the create op itself */
  int nBaseCheck;     /* its CHECKs (aCheck[nBaseCheck..]: of added ones) */
  u8 aCreate[BEC_HASH_BYTES];  /* BEC_SCHEMA_ADD, _RENAME, _DROPCOL,
                               ** _RETABLE: the create op altered (a
                               ** RENAME TO's new name is zName) */
  int nDrop;          /* BEC_SCHEMA_DROP: the incarnations it drops, their */
  u8 *aDrop;          /* create ops' hashes ascending (sqlite3_malloc64,
                      ** owned) */
  u8 aTarget[BEC_HASH_BYTES];  /* _RENAME, _DROPCOL: the column's id, the */
  int iTarget;                 /* op that introduced it and its index there
                               ** (a RENAME's new name is aCol[0].zName) */
  BecSchema *pBase;   /* a create as shown: its own schema (the names its
                      ** CHECKs use), owned; 0 if it is that schema */
  u8 *aAddHash;       /* per added column i: its ADD op's hash at
                      ** [(i-nBase)*BEC_HASH_BYTES] (in pAdd) */
  BecSchema **apAdd;  /* per added column: its ADD op's schema (in pAdd) */
  void *pAdd;         /* owns aAddHash, apAdd and the schemas apAdd holds */
};
/* The constraints of a declaration, the input of bec_schema_constrain. */
typedef struct BecSchemaDecl BecSchemaDecl;
struct BecSchemaDecl {
  int opts;                            /* BEC_OPT_* */
  int iCheckVersion;
  int aFlags[BEC_TABLE_MAX_COL];       /* BEC_COL_* per column */
  BecValue aDflt[BEC_TABLE_MAX_COL];   /* where BEC_COL_DEFAULT */
  int nCheck;
  struct {
    const char *zName; int nName;
    const char *zExpr; int nExpr;
    u8 aRead[BEC_TABLE_MAX_COL/8];
  } aCheck[BEC_TABLE_MAX_CHECK];
};
/* Gives schema p the constraints of pD (copied): groups and flags are
** derived.  SQLITE_NOMEM, or SQLITE_OK. */
int bec_schema_constrain(BecSchema *p, const BecSchemaDecl *pD);
/* 1 if v may be written to column c as its strict type requires (any value
** if the table is not strict; NULL always: that is NOT NULL's rule). */
int bec_value_strict_ok(const BecColumn *c, const BecValue *v);
/* " COLLATE NOCASE", " COLLATE RTRIM" or "": the collation of column c in
** SQL text (a closed form: one of SQLite's built-in collations). */
const char *bec_collate_sql(const BecColumn *c);
/* Appends v as an SQL literal (DEFAULT clauses of declarations). */
void bec_value_sql(BecBuf*, const BecValue*, int *pRc);
/* 1 if bit i of a column mask is set. */
#define BEC_MASK_HAS(a, i) (((a)[(i)/8] >> ((i)%8)) & 1)
int bec_schema_new(int action, const char *zName, int nName, int nCol,
                   const char *const *azCol, const int *anCol,
                   const char *const *azType, const int *anType,
                   const int *aiPk, BecSchema **pp);
void bec_schema_free(BecSchema*);
/* 1 if a column of p is a COUNTER. */
int bec_schema_has_counter(const BecSchema *p);
int bec_schema_check(const BecSchema*, char **pzErr);
void bec_schema_encode(BecBuf*, const BecSchema*, int *pRc);
int bec_schema_decode(const u8 *a, i64 n, BecSchema **pp, char **pzErr)
    BEC_WARN_UNUSED;
int bec_table_name_ok(const char *z, int n, char **pzErr);
/* Parses a declared type into its closed form: 1 if it is a type name
** (words, optionally one or two signed numbers in parentheses, no
** constraint keyword), with *peAff and *pbInteger set; else 0. */
int bec_type_parse(const char *z, int n, int *peAff, int *pbInteger);
/* The only type text that reaches SQL: the closed form's word ("" for a
** column without a type). */
const char *bec_type_sql(const BecColumn*);
/* The one quoting helper for identifiers in SQL text: "<zName><zSuffix>"
** with '"' doubled, from sqlite3_mprintf (caller frees), 0 if out of
** memory. */
char *bec_sql_ident(const char *zName, const char *zSuffix);
/* Key identity (docs/tables.md): a REAL key that is finite, integral and
** within the i64 range becomes that INTEGER (so -0.0 becomes 0).  1 if the
** value can be a key after that: not NULL, not NaN. */
int bec_key_normalize(BecValue*);
/* 1 if v is a REAL NaN. */
int bec_value_is_nan(const BecValue*);
/* Encodes a decoded value (the same bytes as bec_value_encode). */
void bec_value_put(BecBuf*, const BecValue*, int *pRc);

/* Reading a write payload: open, then per change head + body, then close. */
typedef struct BecWriteReader BecWriteReader;
struct BecWriteReader {
  BecReader rd;
  int nTable;
  const u8 *aTableHash;   /* nTable * BEC_HASH_BYTES */
  i64 nChange;
  i64 iChange;
  int iTable;             /* the table of the change being read */
  const u8 *aAddHash;     /* every table's ADD ops, in table order */
  u8 anAdd[BEC_WRITE_MAX_TABLES];     /* per table: its ADD ops ... */
  int aiAdd[BEC_WRITE_MAX_TABLES];    /* ... from aAddHash[aiAdd[i]*32] */
};
int bec_write_open(BecWriteReader*, const u8 *a, i64 n) BEC_WARN_UNUSED;
int bec_write_head(BecWriteReader*, int *piTable, int *pbDelete) BEC_WARN_UNUSED;
/* Reads a change's values into the layout of pSchema: a create's columns,
** then the added columns pSchema shows (a value written to an added
** column that pSchema does not show is read and dropped). */
int bec_write_body(BecWriteReader*, const BecSchema*, int bDelete,
                   BecValue *aVal, u8 *abSet) BEC_WARN_UNUSED;
/* Builds in *pp the schema of create pBase with the added columns of the
** ADD ops apAdd[0..nAdd-1] (hashes aHash, nAdd*32 bytes) after its own, in
** that order, named azName[i] (0: as their ops name them), the table named
** zTab (0: as pBase).  On success the
** schemas apAdd[i] belong to *pp (pBase stays the caller's); SQLITE_RANGE
** if the columns or CHECKs are too many. */
int bec_schema_with_adds(const BecSchema *pBase, const char *zTab, int nAdd,
                         BecSchema *const *apAdd, const u8 *aHash,
                         const char *const *azName, BecSchema **pp);
int bec_write_close(BecWriteReader*) BEC_WARN_UNUSED;

/**************************************************************************
** bec_crdt.c - merged table state derived from schema and write ops, and
** bec_table.c - the "bec" virtual table module over it.
*/
/* The tables deriver (schema and write ops): validates their payloads
** (xAdmit), merges them (xStored), recomputes what a change of validity
** touches (xValidity), checks tables against the ops (xCheck). */
extern const BecDeriver bec_crdt_deriver;

/* A change a local transaction makes (bec_crdt_local_change). */
#define BEC_CHANGE_UPSERT  0
#define BEC_CHANGE_DELETE  1
#define BEC_SET_STEP       4   /* abSet of bec_crdt_local_change: a step */
#define BEC_CHANGE_INSERT  2   /* an upsert refused (SQLITE_CONSTRAINT, with
                               ** nothing written) if the row exists */

/* Statements of a BecTab's shadow table, prepared on first use. */
#define BEC_TAB_SEL_PK     0   /* rowid, r, s.., c.. WHERE key = ?.. */
#define BEC_TAB_SEL_ROWID  1   /* the same WHERE rowid=?1 */
#define BEC_TAB_INSERT     2   /* c.. (?1..), r, s.. */
#define BEC_TAB_DELETE     3   /* WHERE rowid=?1 */
#define BEC_TAB_UPSERT     4   /* as INSERT, ON CONFLICT(key) DO UPDATE the
                               ** registers whose s.. is bound */
#define BEC_TAB_DELETE_KEY 5   /* WHERE key = ?1.. */
#define BEC_TAB_NSTMT      6   /* (UPDATEs: by the registers they write,
                               ** BecTab.aUpd, in bec_crdt.c) */
#define BEC_TAB_NSCAN      8   /* cached scan statements (by idxNum) */
#define BEC_TAB_NUPD       4   /* cached UPDATEs (by the registers written) */
#define BEC_TAB_NBATCH     2   /* cached batch upserts (by the registers written) */

/* One connected bec table: the virtual table object itself.  Every
** connected table of a connection is on BecCrdt.pTabList, so the merge
** can reach its statements. */
typedef struct BecTab BecTab;
struct BecTab {
  sqlite3_vtab base;
  BecCtx *pCtx;
  BecTab *pNext;
  int iSchema;                    /* seq of the create op (the incarnation) */
  u8 aSchemaHash[BEC_HASH_BYTES];
  BecSchema *pSchema;
  char *zRows;                    /* "main"."<name>_rows", quoted */
  int eConflicts;                 /* -1 unknown, 0 none, 1 some */
  sqlite3_stmt *aStmt[BEC_TAB_NSTMT];
  /* Scan statements by plan (idxNum) and columns read (mCol, as colUsed). */
  struct { int idxNum; u64 mCol; sqlite3_stmt *pStmt; } aScan[BEC_TAB_NSCAN];
  /* UPDATEs of a shadow row by the columns they write (a bit each). */
  /* (iX: r and s.. bound to iX by the last user, 0 unknown: update_stmt) */
  struct { u8 aMask[BEC_TABLE_MAX_COL/8]; sqlite3_stmt *pStmt; int iX; } aUpd[BEC_TAB_NUPD];
  int iUpdNext;                   /* the aUpd entry a new mask takes */
  /* The upserts of a batch of rows by the columns they write (bec_crdt.c
  ** batch_stmt: INSERT .. SELECT .. FROM bec_batch(?1) ..; eForm: which
  ** statement, BATCH_PEER, _LOCAL or a local UPDATE by key range). */
  struct { u8 aMask[BEC_TABLE_MAX_COL/8]; u8 eForm; sqlite3_stmt *pStmt; } aBatch[BEC_TAB_NBATCH];
  int iBatchNext;                 /* the aBatch entry a new mask takes */
  /* What apply_covering last bound to aStmt[BEC_TAB_INSERT] and [_UPSERT]
  ** as r and s.. (r = iX, s<i> = iX where bit i of aS, else NULL): the same
  ** for every row of an op, and bindings outlive a reset, so the next row
  ** binds only its values.  iX 0: unknown (any other binder clears it). */
  struct { int iX; u8 aS[BEC_TABLE_MAX_COL/8]; } aNewBound[2];
  /* Lifetime: one hold for SQLite's connection (until xDisconnect or
  ** xDestroy) and one per merge frame using the table (bec_tab_hold);
  ** xFree (bec_table.c) runs when the last is released. */
  int nRef;
  void (*xFree)(BecTab*);
};
/* The shadow-row statement eStmt (BEC_TAB_*) of t, prepared on first use
** and kept by t (bec_crdt.c owns the shadow tables). */
int bec_tab_stmt(BecTab*, int eStmt, sqlite3_stmt **ppStmt);
/* SQLite may disconnect a table while the merge is inside one of its
** statements (a nested write failing with SQLITE_NOMEM rolls back a
** transaction that changed the schema, which resets the schema and
** disconnects every virtual table): the merge holds the tables it uses,
** and the last release frees one. */
void bec_tab_hold(BecTab*);
void bec_tab_release(BecTab*);
/* Finalizes every shadow-row statement t keeps (bec_tab_stmt's and the
** merge writer's UPDATEs); they are prepared again on next use. */
void bec_tab_stmts_free(BecTab*);
/* (Re)creates t's empty shadow table (xCreate). */
int bec_crdt_shadow_create(BecTab*, char **pzErr);
/* Drops t's shadow table (xDestroy), finalizing its statements first. */
int bec_crdt_shadow_drop(BecTab*, char **pzErr);
/* Loads the schema of create op iSchema (from its stored body). */
int bec_crdt_load_schema(BecCtx*, int iSchema, BecSchema **pp, u8 *aHash,
                         char **pzErr);
/* *pbSame: schema op iSeq is a create of s: the same name and column
** names, the same key, types of the same affinity (what the merge
** declares).  xCreate then shows that table rather than signing one. */
int bec_crdt_schema_is(BecCtx*, int iSeq, const BecSchema *s, int *pbSame,
                       char **pzErr);
/* The incarnation (create op) a table name shows, computed from the stored
** valid ops (not the catalog, which the merge updates after the DDL it
** runs): xDestroy signs a drop only while the table it drops is shown. */
int bec_crdt_winner_of_ops(BecCtx*, const char *zName, int *piWin,
                           char **pzErr);
/* Pruning (bec_prune.c): recomputes every shown table from the writes in
** aCut (the cut of sealed checkpoint iCp, which holds the cut of any
** earlier base), keeps those rows and conflicts as the merge base, and
** rebuilds the tables from the base and the writes outside aCut.  *pzWhy
** (sqlite3_free it), with nothing changed, if the tables do not allow it:
** a table name is won outside the cut, a table is hidden here, a schema
** op of the cut is locked, the tables hold hidden state
** (bec_crdt_hidden_state). */
int bec_crdt_base_take(BecCtx*, int iCp, const u8 *aCut, char **pzWhy,
                       char **pzErr);
/* *pzWhy (sqlite3_free it; 0 if none): the valid ops give a table an
** incarnation hidden by another of its name, or a live added column hidden
** by a name: state that the merge base and a snapshot's S(K) do not keep,
** so pruning and the install refuse (docs/compaction.md "Hidden tables and
** columns"). */
int bec_crdt_hidden_state(BecCtx*, char **pzWhy, char **pzErr);
/* Copies the merge base of pFrom into pTo, a scratch database replaying a
** cut that holds the base's cut, renumbering seqs by aTo[0..nTo-1] (pFrom's
** seq -> pTo's), and rebuilds pTo's tables from it (bec_checkpoint.c).
** aTo[the base's checkpoint] -1: pTo replays exactly the base's cut. */
int bec_crdt_base_copy(BecCtx *pFrom, BecCtx *pTo, const int *aTo, int nTo,
                       char **pzErr);
/* The seq here of the op with id aId at depth iDepth (*piSeq 0: none, -1:
** named at another depth before). */
typedef int (*BecSeqOf)(void *pArg, const u8 *aId, i64 iDepth, int *piSeq);
/* Writes the merge base of create op iSchema (s, as shown) from the nRow
** row leaves of a snapshot that pRows reads (each a varint length and the
** leaf: bec_snapshot.c), the exact inverse of the digest's rows: a
** candidate's id becomes its seq by xSeq.  pRows is left after the rows.
** BEC_MALFORMED with *pzErr (sqlite3_free it) for a leaf that does not
** parse against s or names an op xSeq does not know; the caller's
** savepoint undoes what was written. */
int bec_crdt_base_from_leaves(BecCtx*, int iSchema, const BecSchema *s,
                              BecReader *pRows, i64 nRow, BecSeqOf xSeq,
                              void *pArg, char **pzErr);
/* An installed snapshot's merge base (bec_crdt_base_from_leaves wrote it)
** made the pruned replica's: 'prune_checkpoint' = iCp (K, its cut closed:
** bec_dag_cut_close) and every table rebuilt from the base (bec_install.c). */
int bec_crdt_base_install(BecCtx*, int iCp, char **pzErr);
/* Fills the rows of t, a table of the group being shown (xCreate), from
** the valid ops. */
int bec_crdt_show_rows(BecTab *t, char **pzErr);
/* The winning schema op of a table name, 0 if none. */
int bec_crdt_winner(BecCtx*, const char *zName, int *piSeq);
/* *pzWhy (sqlite3_free it) is 0 if the names a bec table zName needs in
** main ("<zName>", "<zName>_rows") are free, else which local object of
** the app has taken one.  Asked while no bec table zName is shown, or
** from its xCreate. */
int bec_crdt_name_taken(BecCtx*, const char *zName, char **pzWhy);
/* *piSeq: an op with aMark[seq] set (seq 1..nMark-1) that is locked here
** (ignored as "locked: ...": end-to-end encrypted, its key not held), 0 if
** none; what this replica derives from such ops is not what a holder of
** the keys does.  *pzReason (if pzReason; sqlite3_free it): its reason. */
int bec_crdt_locked_among(BecCtx*, const u8 *aMark, int nMark, int *piSeq,
                          char **pzReason);
/* *paHash (sqlite3_free it), *pn: the create ops' hashes, ascending, of the
** live incarnations named zName (case-insensitively), shown or hidden: what
** a local DROP TABLE lists. */
int bec_crdt_incarnations(BecCtx*, const char *zName, u8 **paHash, int *pn,
                          char **pzErr);
/* *pzWhy (sqlite3_free it): why incarnation iSchema, shown as zOld, may not
** be renamed zNew in this replica's view (the same name, a reserved or bad
** name, a live bec table's name or a local object's), else 0. */
int bec_crdt_rename_judge(BecCtx*, int iSchema, const char *zOld,
                          const char *zNew, char **pzWhy);
/* 1 if the table has rows in bec_store_conflict (cached per transaction). */
int bec_crdt_has_conflicts(BecTab*, int *pbHas);

/* Per-connection state: the connected tables and the write op that the
** current transaction is building. */
typedef struct BecMark BecMark;
struct BecMark { i64 nBuf; i64 nChange; int nTable; };
struct BecCrdt {
  BecTab *pTabList;
  int bTxn;                       /* this transaction has written */
  int iSeq;                       /* the seq its write op is predicted to get */
  BecBuf chg;                     /* encoded changes */
  i64 nChange;
  i64 nJudged;                    /* changes 0..nJudged-1 (or all, if not
                                  ** fewer than nChange) were each found to
                                  ** pass change_reason as they were made */
  int nTable, nTableAlloc;
  int *aTable;                    /* schema seqs of the tables written */
  u8 *aTableHash;                 /* their hashes */
  int nMark, nMarkAlloc;
  BecMark *aMark;                 /* savepoint marks */
  int bLocalFlush;                /* the local batch's statement runs: its
                                  ** savepoint calls move no mark */
  void *pMerge;                   /* bec_crdt.c's scratch for local changes */
  const u8 *aAhead;               /* while bec_crdt_flush signs the op: its */
  i64 nAhead;                     /* payload, whose changes are applied */
  void *pPage;                    /* bec_table.c: the cursor whose page
                                  ** bec_scan_page() is filling, or 0 */
  const u8 *aVerdictBody;         /* the write op bec_crdt_validate judged */
  i64 nVerdictBody;               /* last (its body), and ... */
  char *zVerdict;                 /* ... why the merge ignores it, or 0 */
  BecBuf feed;                    /* per change of the op being built: its
                                  ** BEC_FEED_* kind (the change feed) */
  sqlite3 *dbCheck;               /* the private connection CHECKs are
                                  ** judged and evaluated in, or 0 */
  void *pCheckCache;              /* bec_crdt.c: its statements per table */
  int bRedeclare;                 /* the merge re-declares a table whose
                                  ** columns an alter changed: its
                                  ** xDestroy signs nothing */
  int iShowing;                   /* the create op whose table the merge is
                                  ** showing: its xCreate shows it as the
                                  ** ops make it, whatever the arguments */
};
/* The rules one change must pass, in the order reasons name them. */
#define BEC_RULE_OK       0
#define BEC_RULE_TYPE     1      /* strict type, or a form no column holds */
#define BEC_RULE_NOTNULL  2
#define BEC_RULE_CHECK    3      /* a CHECK of one column */
#define BEC_RULE_GROUP    4      /* a merge group written partly */
#define BEC_RULE_GCHECK   5      /* a CHECK of a merge group */
#define BEC_RULE_STEP     6      /* a counter's value that is not an integer
                                 ** (or a step of -2^63), or a step to a
                                 ** column that is not a counter */
/* Judges the values of one upsert (aVal where abSet[i], as
** bec_write_body gives them) to table s, whose create op is aSchemaHash,
** against its declared constraints: *peRule BEC_RULE_* of the first rule
** broken, *piWhich the column (TYPE, NOTNULL), CHECK index (CHECK,
** GCHECK) or group (GROUP).  The same verdict for a local statement and a
** peer's op.  The return code is for failures of this database only. */
int bec_crdt_constraints(BecCtx*, const u8 *aSchemaHash, const BecSchema *s,
                         const BecValue *aVal, const u8 *abSet, int *peRule,
                         int *piWhich, char **pzErr);
/* The whole verdict on a declared schema: bec_schema_check, then what
** needs SQLite: each CHECK compiles in the private connection, calls only
** allow-listed functions, reads the columns it records (with bFill, it
** records them into pD's masks instead), and the DEFAULTs pass it.
** *pzWhy (sqlite3_free it) is 0 if s applies. */
int bec_crdt_schema_judge(BecCtx*, BecSchema *s, BecSchemaDecl *pD, int bFill,
                          char **pzWhy);
/* The merge's verdict on ADD COLUMN op pAdd if this replica signed it now
** (every stored op in its causal past): *pzWhy (sqlite3_free it) is 0 if
** it applies, else the reason the merge would ignore it with. */
int bec_crdt_alter_judge(BecCtx*, BecSchema *pAdd, char **pzWhy);
/* The value of the DEFAULT text z[0..n-1] of a declaration: a constant (no
** function, no column) that SQLite evaluates in the private connection.
** *ppVal (sqlite3_value_free it), or *pzWhy why not. */
int bec_crdt_default_value(BecCtx*, const char *z, int n, sqlite3_value **ppVal,
                           char **pzWhy);
/* The merge's reason for stored op x, as SQL (bec_ops.reason): NULL if the
** merge applies it.  bec_store_ignored is written by bec_crdt.c only. */
#define BEC_MERGE_REASON(x) \
  "(SELECT reason FROM bec_store_ignored WHERE seq=" x ")"
#define BEC_MERGE_IGNORED(x) \
  "EXISTS(SELECT 1 FROM bec_store_ignored WHERE seq=" x ")"
int bec_crdt_get(BecCtx*, BecCrdt **pp);
/* The change feed (bec_store_change, written by bec_crdt.c only): what
** each applied change did to its row, as one byte per change. */
#define BEC_FEED_NONE        0     /* nothing visible (no such row) */
#define BEC_FEED_INSERT      1
#define BEC_FEED_UPDATE      2
#define BEC_FEED_DELETE      3
#define BEC_FEED_CONFLICT    4     /* the row now has concurrent values */
#define BEC_FEED_INVALIDATED 5     /* re-read: a validity change or reload */
#define BEC_FEED_MAX_ROWS    100000  /* feed rows kept (oldest trimmed) */
/* Trims the feed up to cursor iCursor (the rows before it go; it becomes
** a marker telling a reader with an older cursor to reload).  *pnDel:
** the rows deleted. */
int bec_crdt_feed_trim(BecCtx*, i64 iCursor, i64 *pnDel);
void bec_crdt_free(BecCrdt*);
/* The index of table t in the transaction's write op (added if new). */
int bec_crdt_txn_table(BecCrdt*, BecTab *t, int *piTable);
/* One local change (xUpdate): encoded into the transaction's write op and
** applied by the merge writer as that op (bec_crdt.c, "Local writes").
** apKey: the key values; for an upsert abSet[i]==2 marks the columns
** written, with values aV[i], and abSet[i]==BEC_SET_STEP a counter's step
** (aV[i] an integer: the new value minus the old).  piAt (may be 0): the rowid of the row the
** caller read (an UPDATE or DELETE of it), a hint that saves a lookup.
** *piRowid (may be 0): the row's rowid.  For
** BEC_CHANGE_INSERT, SQLITE_CONSTRAINT with nothing written if the row
** exists. */
/* Begins the transaction's write op if none is under way: the key must be
** unlocked and the database in a group. */
int bec_crdt_txn_begin(BecCtx*, char **pzErr);
int bec_crdt_local_change(BecTab*, int eChange, sqlite3_value **apKey,
                          const u8 *abSet, sqlite3_value **aV,
                          const i64 *piAt, i64 *piRowid, char **pzErr);
/* Signs the transaction's changes as one write op (xSync). */
int bec_crdt_flush(BecCtx*, char **pzErr);
/* The local batch (bec_crdt.c "Local batches"): written, or dropped. */
int bec_crdt_local_flush(BecCtx*);
void bec_crdt_local_discard(BecCrdt*);
void bec_crdt_txn_reset(BecCrdt*);
/* Encodes key values of a shadow row as a bec_store_conflict key. */
void bec_crdt_key_from_stmt(BecBuf*, BecTab*, sqlite3_stmt*, int iFirstCol,
                            int *pRc);
/* Registers the bec module and bec_conflicts (called by sqlite3_bec_init). */
int bec_table_register(sqlite3*, BecCtx*);
/* A row key as SQL shows it (bec_conflicts, bec_changes, bec_history): one
** value as itself, several as a JSON array. */
void bec_table_key_result(sqlite3_context*, const BecValue *aV, int n);
/* Appends v as JSON (a blob as a string of hex) to b. */
void bec_table_json_value(BecBuf *b, const BecValue *v, int *pRc);

/**************************************************************************
** bec_batch.c - rows held in memory, read by SQL (bec_batch(?1), bound with
** sqlite3_bind_pointer): the merge writer writes the rows of one op with
** one statement per batch.
*/
#define BEC_BATCH_PTR "bec_batch"   /* the pointer type of ?1 */
typedef struct BecBatch BecBatch;
struct BecBatch {
  int nCol;             /* values per row */
  int nRow;
  const BecValue *aVal; /* nRow*nCol values, row by row; text and blobs
                        ** are read without a copy while a statement runs */
  u8 *aHit;             /* OUT per row: 1 if its upsert found its row
                        ** (bec_batch_hit); the caller zeroes it */
  int iRow;             /* the row bec_batch is on (for bec_batch_hit), or
                        ** the row bec_batch_value last found */
  int iKey;             /* the INTEGER key's column, keys ascending: the
                        ** rows bec_batch_has/_value find; -1 none */
};
int bec_batch_register(sqlite3*);

/**************************************************************************
** bec_feed.c - the change feed and row history for apps (bec_changes,
** bec_changes_trim).
*/
int bec_feed_register(sqlite3*, BecCtx*);

/**************************************************************************
** bec_names.c - display names (the `name` kind): bec_store_name,
** bec_set_name().  Names are labels, never identities.
*/
#define BEC_NAME_MAX_BYTES 64
#define BEC_NAME_MAX_TEXT "64"
extern const BecDeriver bec_names_deriver;
int bec_names_register(sqlite3*, BecCtx*);
/* SQL: the display name of the author whose bec_store_author id is the
** expression x: the payload of its greatest valid name op by (depth, hash),
** or NULL.  The one definition bec_members, bec_history and DOT use. */
#define BEC_NAME_OF_AUTHOR(x) \
  "(SELECT bn.name FROM bec_store_name bn JOIN bec_store_op bo" \
  " ON bo.seq=bn.seq WHERE bn.author=" x " AND bo.valid" \
  " ORDER BY bo.depth DESC, bo.hash DESC LIMIT 1)"

/**************************************************************************
** bec_dot.c - the DAG as Graphviz DOT (bec_dot(), tools/becviz).
*/
/* The DAG as the options argument of bec_dot() says (pOpt 0: defaults):
** a number of ops or a JSON object (docs/reference.md).  *pzOut from
** sqlite3_malloc64; the caller frees it. */
int bec_dot_render(BecCtx*, sqlite3_value *pOpt, char **pzOut, char **pzErr);

/**************************************************************************
** bec_vtab.c - read-only eponymous virtual tables.
*/
#define BEC_TABLE_MAX_FILTER 4
typedef struct BecTableDef BecTableDef;
struct BecTableDef {
  const char *zName;       /* the eponymous table's name */
  const char *zDecl;       /* CREATE TABLE x(...) */
  const char *zSelect;     /* yields the declared columns; ends in a WHERE */
  const char *zOrder;      /* ORDER BY ..., or 0 */
  struct {
    int iCol;              /* column whose = constraint becomes ... */
    int eType;             /* 1: hex or 32-byte blob, 2: kind name, 3: as is */
    const char *zCond;     /* ... this term: the value bound to each ? */
  } aFilter[BEC_TABLE_MAX_FILTER];
  /* Optional: compute column i from the row of zSelect; SQLITE_NOTFOUND
  ** to show the selected value as it is. */
  int (*xColumn)(sqlite3_stmt*, sqlite3_context*, int i);
  BecCtx *pCtx;
};
/* Registers the DAG tables (bec_ops, bec_heads, bec_pending, bec_rejected). */
int bec_vtab_register(sqlite3*, BecCtx*);
/* Registers one read-only eponymous table described by a copy of *pDef
** (its pCtx is ignored: the table holds a reference to pCtx). */
int bec_vtab_register_table(sqlite3*, BecCtx*, const BecTableDef *pDef);
/* The same, with xColumnCtx computing the columns instead of pDef's
** xColumn: it gets the table's context (to open an encrypted payload). */
int bec_vtab_register_table_ctx(sqlite3*, BecCtx*, const BecTableDef *pDef,
    int (*xColumnCtx)(BecCtx*, sqlite3_stmt*, sqlite3_context*, int i));

/**************************************************************************
** bec_progress.c - progress of long operations: a running operation is
** listed in the process-wide table bec_check_progress and reported to the
** connection's callback (bec_check_progress() in bec.h).
*/
typedef struct BecProgress BecProgress;
#define BEC_PROGRESS_EVERY 256    /* items between two reports */
/* Lists an operation as running; *pp is 0 only on SQLITE_NOMEM. */
int bec_progress_begin(BecCtx*, const char *zOp /* static */, BecProgress **pp);
/* Reports a step (zStep static); SQLITE_INTERRUPT if the callback asked to
** stop.  pr may be 0 (nothing to report to). */
int bec_progress_step(BecProgress *pr, const char *zStep, i64 nDone, i64 nTotal);
/* Unlists and frees pr (0 is fine). */
void bec_progress_end(BecProgress *pr);
int bec_progress_register(sqlite3*, BecCtx*);

/**************************************************************************
** bec_invite.c - invitations: bec_invite(role) gives a one-time token, the
** newcomer's bec_join(token) keeps a redemption it presents in sync, and
** the inviter's replica signs the add (docs/membership.md).
*/
#define BEC_INVITE_REDEMPTION_BYTES (2*BEC_PUBKEY_BYTES + BEC_SIG_BYTES)
extern const BecDeriver bec_invite_deriver;
int bec_invite_register(sqlite3*, BecCtx*);
/* 1 if z[0..n-1] looks like an invitation token (its prefix). */
int bec_invite_is_token(const char *z, int n);
/* The newcomer's bec_join(token): checks the token, signs the redemption
** for this database's key and keeps it; aGroup gets the token's group. */
int bec_invite_join(BecCtx*, const char *zToken, int nToken, u8 *aGroup,
                    char **pzErr);
/* The redemption this replica presents while it is not a member: *pbHas
** 0 if none. */
int bec_invite_pending(BecCtx*, u8 *aRed /* BEC_INVITE_REDEMPTION_BYTES */,
                       int *pbHas);
/* The inviter's side.  A redemption for an invitation this replica does
** not hold does nothing.  Refused: *pzWhy (from sqlite3_mprintf) says why,
** rc stays SQLITE_OK.  Honoured: the add op's hash in aHash, *pbAdded 1
** (0 when the same key had redeemed it before).  rc is for failures of
** this database only, with *pzErr. */
int bec_invite_redeem(BecCtx*, const u8 *aRed, u8 *aHash, int *pbAdded,
                      char **pzWhy, char **pzErr);

/**************************************************************************
** bec_bloom.c / bec_syncmsg.c / bec_sync.c - Bloom-filter reconciliation
** between replicas (docs/sync.md): the filter, the versioned sync message,
** and offer/apply with per-peer state (bec_sync_offer, bec_sync_apply,
** bec_peers).
*/
/* Limits a peer cannot exceed in one message or session (docs/sync.md). */
#define BEC_SYNC_VERSION          1
#define BEC_SYNC_VERSION_EXT      2    /* version 1 with an extension byte */
#define BEC_SYNC_SESSION_BYTES    8
#define BEC_SYNC_MAX_MSG_BYTES    (64*1024*1024)   /* whole message */
#define BEC_SYNC_MAX_HEADS        8192             /* heads, shared heads */
#define BEC_SYNC_MAX_NEEDS        4096             /* needs per message */
#define BEC_SYNC_MAX_OPS          10000            /* ops per message */
#define BEC_SYNC_MAX_FILTER_BYTES (16*1024*1024)   /* filter bits / 8 */
#define BEC_SYNC_MAX_PROBES       32               /* probes per entry */
#define BEC_SYNC_MAX_ROUNDS       4096             /* messages per session */

/* Message flags. */
#define BEC_SYNC_F_OFFER           0x01  /* first message of a session */
#define BEC_SYNC_F_SHARED_IS_HEADS 0x02  /* shared list omitted: = heads */
#define BEC_SYNC_F_FILTER          0x04  /* a filter follows */
#define BEC_SYNC_F_KNOWS_ALL       0x08  /* sender holds all heads you sent */
#define BEC_SYNC_F_SAME_HEADS      0x10  /* heads omitted: = those you sent */
#define BEC_SYNC_F_INVITE          0x20  /* an invitation's redemption */
#define BEC_SYNC_F_BUNDLE          0x40  /* the ops travel as a bundle */
#define BEC_SYNC_F_PRUNED          0x80  /* ops the sender cannot send: it
                                         ** dropped their bodies (bec_prune) */
#define BEC_SYNC_F_ALL             0xff
/* Extension bits (a version-2 message: the flag byte is full). */
#define BEC_SYNC_X_WANT_SNAPSHOT   0x01  /* the sender joins by snapshot */
#define BEC_SYNC_X_SNAPSHOT        0x02  /* a snapshot follows */
#define BEC_SYNC_X_NO_SNAPSHOT     0x04  /* the sender cannot give one */
#define BEC_SYNC_X_READER          0x08  /* with WANT_SNAPSHOT: the key the
                                         ** joiner reads with follows */
#define BEC_SYNC_X_SEALED          0x10  /* with SNAPSHOT: it is sealed to
                                         ** that key (an encrypted group) */
#define BEC_SYNC_X_WANT_BAND       0x20  /* the sender installed a snapshot
                                         ** and asks for a longer band */
#define BEC_SYNC_X_BAND            0x40  /* a longer band follows */
#define BEC_SYNC_X_NO_BAND         0x80  /* the sender cannot give one */
#define BEC_SYNC_X_ALL             0xff
#define BEC_SYNC_MAX_BAND_PREDS    64    /* ops a band is asked to place */
/* A message carries its ops as a bundle (bec_bundle.c) from this many. */
#define BEC_SYNC_BUNDLE_MIN_OPS    64

#define BEC_BLOOM_BITS_PER_ENTRY  10
#define BEC_BLOOM_PROBES          7

typedef struct BecBloom BecBloom;
struct BecBloom {
  u64 seed;          /* XXH3 seed: fresh randomness per filter */
  int nProbe;        /* probes per entry, 1..BEC_SYNC_MAX_PROBES */
  i64 nBit;          /* a multiple of 8; 0: empty, every test negative */
  u8 *aBit;          /* nBit/8 bytes */
  int bOwned;        /* aBit from sqlite3_malloc64, freed by bec_bloom_free */
};
/* A filter sized for nEntry entries with a fresh random seed. */
int bec_bloom_init(BecBloom*, i64 nEntry);
void bec_bloom_add(BecBloom*, const u8 *aHash);
int bec_bloom_test(const BecBloom*, const u8 *aHash);
/* A deep copy (pTo is freed first). */
int bec_bloom_copy(BecBloom *pTo, const BecBloom *pFrom);
void bec_bloom_free(BecBloom*);
/* Tests only: probes from the raw hash bytes, as an unsalted filter. */
extern int bec_bloom_test_unsalted;

/* A decoded sync message.  Pointers point into the decoded bytes; filter
** bits are borrowed (bOwned==0).  The ops are nOp (length, body) pairs in
** aOps[0..nOps-1], already checked for framing; bec_syncmsg_next_op walks
** them. */
typedef struct BecSyncMsg BecSyncMsg;
struct BecSyncMsg {
  int flags;                     /* BEC_SYNC_F_* */
  const u8 *aGroupTag;           /* BEC_GROUP_TAG_BYTES */
  const u8 *aInvite;             /* BEC_INVITE_REDEMPTION_BYTES if INVITE */
  const u8 *aSession;            /* BEC_SYNC_SESSION_BYTES */
  i64 iRound;
  int nHead;  const u8 *aHead;   /* sorted, unique */
  int nShared; const u8 *aShared;/* sorted, unique (= heads if flagged) */
  BecBloom filter;               /* if flags & BEC_SYNC_F_FILTER */
  int nNeed;  const u8 *aNeed;   /* sorted, unique */
  int nOp;    const u8 *aOps; i64 nOps;
  BecBuf owned;                  /* decode: the ops rebuilt from a bundle
                                 ** (aOps points here); bec_syncmsg_free */
  const u8 *aPrunedBelow;        /* if PRUNED: the checkpoint pruned below */
  int nPruned; const u8 *aPruned;/* if PRUNED: the ops whose bodies the
                                 ** sender dropped, sorted, unique, >= 1 */
  int ext;                       /* BEC_SYNC_X_* (0: a version-1 message) */
  const u8 *aSnap; i64 nSnap;    /* if X_SNAPSHOT: the snapshot's bytes
                                 ** (with X_SEALED: its sealed form) */
  const u8 *aReader;             /* if X_READER: the joiner's key (32) */
  const u8 *aBandK;              /* if X_WANT_BAND: the installed checkpoint, */
  u64 nBandHeld;                 /* the band ops held, */
  int nBandPred; const u8 *aBandPred;  /* the ops to place (sorted, >= 1) */
  const u8 *aBand; i64 nBand;    /* if X_BAND: a band section */
};
int bec_syncmsg_decode(const u8 *a, i64 n, BecSyncMsg*, char **pzErr)
    BEC_WARN_UNUSED;
/* Frees what a successful decode allocated (a bundle's rebuilt ops). */
void bec_syncmsg_free(BecSyncMsg*);
/* Iterates the ops of a decoded message: *piOff starts at 0. */
void bec_syncmsg_next_op(const BecSyncMsg*, i64 *piOff, const u8 **ppOp,
                         i64 *pnOp);
/* Appends the encoding of pMsg to pOut; pOps holds nOp (varint length,
** body) pairs already framed by bec_syncmsg_add_op. */
void bec_syncmsg_encode(BecBuf *pOut, const BecSyncMsg *pMsg,
                        const BecBuf *pOps, int *pRc);
void bec_syncmsg_add_op(BecBuf *pOps, const u8 *aOp, i64 nOp, int *pRc);

/* Bundles (bec_bundle.c).  Encode: the nOp framed ops at aFrames (as
** bec_syncmsg_add_op frames them, in topological order) as a bundle into
** pOut; *pbDone 0 when they cannot be (then pOut is unchanged and a list
** is sent).  Decode: the bundle a[0..n-1] into framed canonical op
** encodings appended to pFrames, at most nMaxOp ops, *pnOp of them. */
int bec_bundle_encode(BecBuf *pOut, const u8 *aFrames, i64 nFrames, int nOp,
                      int *pbDone);
int bec_bundle_decode(const u8 *a, i64 n, const u8 *aGroupTag, int nMaxOp,
                      BecBuf *pFrames, int *pnOp, char **pzErr);

/* Threads that check the signatures of a large incoming batch (1 or 2;
** the benchmark measures both). */
extern int bec_sync_verify_threads;
/* Registers bec_sync_offer, bec_sync_apply, bec_sync_state, the becsync
** handshake helpers and the bec_peers table. */
int bec_sync_register(sqlite3*, BecCtx*);
/* Sync as a deriver: it only owns tables (bec_peers' storage). */
extern const BecDeriver bec_sync_deriver;

/**************************************************************************
** bec_frost.c - the arithmetic of the threshold root (THRESHOLD.md 1-3):
** FROST(Ed25519, SHA-512) signing as in RFC 9591 and the Pedersen key
** generation with proofs of possession.  Bytes in, bytes out; no tables.
** Every function returns SQLITE_OK or an error code (a refused input is
** BEC_MALFORMED with *pzErr, which may be 0); *piBad names the holder to
** blame.  Structs marked secret belong to the caller, who wipes them with
** sodium_memzero once used.
*/
#define BEC_FROST_SCALAR_BYTES    32   /* canonical little-endian, < L */
#define BEC_FROST_POINT_BYTES     32   /* RFC 8032 point encoding */
#define BEC_FROST_RAND_BYTES      32   /* randomness per nonce */
#define BEC_FROST_SIG_BYTES       64   /* R || z: an Ed25519 signature */
#define BEC_FROST_SID_BYTES       32   /* key-generation session id */
#define BEC_FROST_MAX_HOLDERS     64   /* identifiers are 1..64 */
#define BEC_FROST_RHO_INPUT_BYTES 192  /* Y || H4(msg) || H5(list) || id */
#define BEC_FROST_BOX_PLAIN_BYTES 82   /* tag(16) || sid || i || j || f_i(j) */
#define BEC_FROST_BOX_BYTES       130  /* sealed: + crypto_box_SEALBYTES */

/* One signer's public nonce commitment (round 1). */
typedef struct BecFrostCommit BecFrostCommit;
struct BecFrostCommit {
  int id;                            /* identifier, 1..BEC_FROST_MAX_HOLDERS */
  u8 aD[BEC_FROST_POINT_BYTES];      /* hiding commitment d.B */
  u8 aE[BEC_FROST_POINT_BYTES];      /* binding commitment e.B */
};
/* Secret: a nonce pair and its public commitment.  bec_frost_sign wipes
** it when it returns a share, so it signs at most once. */
typedef struct BecFrostNonce BecFrostNonce;
struct BecFrostNonce {
  u8 ad[BEC_FROST_SCALAR_BYTES];     /* hiding nonce d */
  u8 ae[BEC_FROST_SCALAR_BYTES];     /* binding nonce e */
  BecFrostCommit commit;             /* what is published */
};
/* Secret: one holder's share of the root key, and the public keys. */
typedef struct BecFrostKey BecFrostKey;
struct BecFrostKey {
  int id;                            /* this holder's identifier */
  u8 aShare[BEC_FROST_SCALAR_BYTES]; /* s_id (secret) */
  u8 aPk[BEC_FROST_POINT_BYTES];     /* PK_id = s_id.B */
  u8 aY[BEC_FROST_POINT_BYTES];      /* the group key */
};
/* Secret: a dealer's polynomial, coefficients a_0..a_(k-1), all non-zero. */
typedef struct BecFrostPoly BecFrostPoly;
struct BecFrostPoly {
  int k;
  u8 a[BEC_FROST_MAX_HOLDERS][BEC_FROST_SCALAR_BYTES];
};
/* The public part of a deal: commitments and proof of possession. */
typedef struct BecFrostDeal BecFrostDeal;
struct BecFrostDeal {
  int id;                            /* the dealer's identifier i */
  int k;                             /* threshold: aPhi[0..k-1] are used */
  u8 aPhi[BEC_FROST_MAX_HOLDERS][BEC_FROST_POINT_BYTES]; /* a_it.B */
  u8 aPopR[BEC_FROST_POINT_BYTES];   /* PoP commitment R_i */
  u8 aPopMu[BEC_FROST_SCALAR_BYTES]; /* PoP response mu_i */
};

/* Deserialization: SQLITE_OK if canonical (scalar < L; point valid, in the
** prime-order subgroup, not of small order), else BEC_MALFORMED. */
int bec_frost_scalar_check(const u8 *a) BEC_WARN_UNUSED;
int bec_frost_point_check(const u8 *a) BEC_WARN_UNUSED;

/* Round 1.  _with takes the two 32-byte randomness inputs (tests). */
int bec_frost_commit(const BecFrostKey*, BecFrostNonce *pNonce /* OUT */)
    BEC_WARN_UNUSED;
int bec_frost_commit_with(const BecFrostKey*, const u8 *aRandD,
    const u8 *aRandE, BecFrostNonce *pNonce /* OUT */) BEC_WARN_UNUSED;
/* Round 2.  aList: the n commitments, sorted by identifier, the signer's
** own among them.  aZ (OUT) receives z_i.  *pNonce is wiped on success. */
int bec_frost_sign(const BecFrostKey*, BecFrostNonce *pNonce /* IN/OUT */,
    const BecFrostCommit *aList, int n, const u8 *aMsg, i64 nMsg,
    u8 *aZ, char **pzErr) BEC_WARN_UNUSED;
/* The binding factors rho_j of each list entry (OUT, n of them), and if
** aInput is not 0 their preimages (n * BEC_FROST_RHO_INPUT_BYTES). */
int bec_frost_binding_factors(const BecFrostCommit *aList, int n,
    const u8 *aY, const u8 *aMsg, i64 nMsg,
    u8 (*aRho)[BEC_FROST_SCALAR_BYTES], u8 *aInput, char **pzErr)
    BEC_WARN_UNUSED;
/* The share check of holder id: "bad signature share: holder <id>". */
int bec_frost_verify_share(int id, const u8 *aPk, const u8 *aZ,
    const BecFrostCommit *aList, int n, const u8 *aY,
    const u8 *aMsg, i64 nMsg, char **pzErr) BEC_WARN_UNUSED;
/* z = sum of aZ[0..n-1] (aZ[j] from aList[j]); aSig = R || z, checked
** with crypto_sign_verify_detached under aY.  If it does not verify and
** aPk (PK of each list entry) is given, *piBad names the holder whose
** share fails its check; 0 if none does (too few signers). */
int bec_frost_aggregate(const BecFrostCommit *aList, int n,
    const u8 (*aZ)[BEC_FROST_SCALAR_BYTES],
    const u8 (*aPk)[BEC_FROST_POINT_BYTES], const u8 *aY,
    const u8 *aMsg, i64 nMsg, u8 *aSig /* OUT */, int *piBad,
    char **pzErr) BEC_WARN_UNUSED;

/* Key generation.  A dealer draws a polynomial, evaluates it (Horner),
** commits with a proof of possession bound to (gid, sid, id), and seals
** f(j) to holder j's Ed25519 key; bec_frost_dkg_deal does all of it, with
** aBoxes (OUT) n * BEC_FROST_BOX_BYTES, box j-1 for holder j. */
int bec_frost_poly_random(int k, BecFrostPoly* /* OUT */) BEC_WARN_UNUSED;
int bec_frost_poly_eval(const BecFrostPoly*, int x, u8 *aOut)
    BEC_WARN_UNUSED;
int bec_frost_dkg_commit(const BecFrostPoly*, const u8 *aGid,
    const u8 *aSid, int id, BecFrostDeal* /* OUT */) BEC_WARN_UNUSED;
int bec_frost_dkg_seal(const u8 *aSid, int i, int j, const u8 *aShare,
    const u8 *aEdPk, u8 *aBox /* OUT */) BEC_WARN_UNUSED;
int bec_frost_dkg_deal(const u8 *aGid, const u8 *aSid, int id, int k,
    int n, const u8 (*aHolderPk)[BEC_PUBKEY_BYTES],
    BecFrostDeal *pDeal /* OUT */, u8 *aBoxes /* OUT */) BEC_WARN_UNUSED;
/* Anyone: commitments deserialize and the PoP verifies. */
int bec_frost_dkg_check_deal(const u8 *aGid, const u8 *aSid,
    const BecFrostDeal*, char **pzErr) BEC_WARN_UNUSED;
/* Holder j: open the box from dealer i with its Ed25519 secret key
** (seed || public key).  BEC_MALFORMED: the box is bad ("dkg: bad share
** from holder <i>"); SQLITE_MISUSE: the key itself has no X25519 form. */
int bec_frost_dkg_open(const u8 *aSid, int i, int j, const u8 *aBox,
    i64 nBox, const u8 *aEdSecret, u8 *aShare /* OUT, secret */,
    char **pzErr) BEC_WARN_UNUSED;
/* Anyone, from the n checked deals of dealers 1..n in order: Y and, if
** aPk is not 0, PK_1..PK_n. */
int bec_frost_dkg_public(const BecFrostDeal *aDeal, int n, u8 *aY,
    u8 (*aPk)[BEC_FROST_POINT_BYTES], char **pzErr) BEC_WARN_UNUSED;
/* Holder j: opens its n boxes (apBox[i-1] from dealer i), checks them
** against the commitments and fills *pKey; on a bad box or share, *piBad
** names the dealer ("dkg: bad share from holder <i>"). */
int bec_frost_dkg_finish(const u8 *aSid, int j, const BecFrostDeal *aDeal,
    int n, const u8 *const *apBox, const u8 *aEdSecret,
    BecFrostKey *pKey /* OUT, secret */, int *piBad, char **pzErr)
    BEC_WARN_UNUSED;

/**************************************************************************
** bec_e2ee_crypto.c / bec_e2ee.c - end-to-end encryption
** (../shared/E2EE.md, docs/encryption.md): member encryption keys, epoch
** ops (encrypt, rekey) with key commitments, keyshares, the local sealed
** store of epoch seeds, bec_epochs and bec_heal().
*/
#define BEC_E2EE_SEED_BYTES    32   /* an epoch seed K */
#define BEC_E2EE_KEY_BYTES     32   /* a derived key (XChaCha20-Poly1305) */
#define BEC_E2EE_PREFIX_BYTES  8    /* a box names its recipient by this */
#define BEC_E2EE_SEALED_BYTES  80   /* crypto_box_seal of a seed: 32 + 48 */
#define BEC_E2EE_BOX_BYTES     (BEC_E2EE_PREFIX_BYTES + BEC_E2EE_SEALED_BYTES)
#define BEC_E2EE_NONCE_BYTES   24   /* XChaCha20-Poly1305-IETF nonce */
#define BEC_E2EE_TAG_BYTES     16   /* its tag */
#define BEC_E2EE_MAX_BOX       65536 /* boxes per epoch block or share */
#define BEC_E2EE_MAX_SHARE     1024  /* shares per keyshare op */
#define BEC_E2EE_BLOCK_VERSION 1

/* The primitives (bec_e2ee_crypto.c: libsodium only; no tables).  Every
** derivation is keyed BLAKE2b-256 with its own domain string. */
/* A member's X25519 public key from its Ed25519 key: SQLITE_OK, or
** SQLITE_ERROR if the key has no X25519 form (small order, invalid). */
int bec_e2ee_xpk(const u8 *aEdPk, u8 *aXPk) BEC_WARN_UNUSED;
/* H("bec-e2ee-commit-v1" || K). */
void bec_e2ee_commit(const u8 *aSeed, u8 *aOut);
/* k_e = H_K("bec-e2ee-epoch-v1" || group id || e). */
void bec_e2ee_epoch_key(const u8 *aSeed, const u8 *aGroup, const u8 *aEpoch,
                        u8 *aKey);
/* H_K("bec-e2ee-back-v1"): the key of an epoch op's back list. */
void bec_e2ee_back_key(const u8 *aSeed, u8 *aKey);
/* H_seed("bec-e2ee-store-v1"): the key that seals seeds in this database,
** from the identity's Ed25519 seed. */
void bec_e2ee_store_key(const u8 *aIdSeed, u8 *aKey);
/* k_w of several epochs: H("bec-e2ee-merge-v1" || e_1 || k_1 ...), the
** epochs (n * 32 bytes) strictly increasing, aKeys their keys. */
void bec_e2ee_merge_key(int n, const u8 *aEpoch, const u8 *aKeys, u8 *aOut);
/* A box: the recipient's 8-byte prefix || crypto_box_seal(K, x_pk).
** SQLITE_ERROR if the recipient's key has no X25519 form. */
int bec_e2ee_box_seal(const u8 *aSeed, const u8 *aEdPk, u8 *aBox)
    BEC_WARN_UNUSED;
/* Opens a box's sealed part with the identity's Ed25519 secret key (seed
** || public key): SQLITE_OK with aSeed (secret), else SQLITE_ERROR. */
int bec_e2ee_box_open(const u8 *aSealed, const u8 *aEdSecret, u8 *aSeed)
    BEC_WARN_UNUSED;
/* XChaCha20-Poly1305-IETF: aOut gets n + BEC_E2EE_TAG_BYTES bytes. */
void bec_e2ee_aead_seal(const u8 *aKey, const u8 *aNonce, const u8 *aAd,
                        i64 nAd, const u8 *aPt, i64 n, u8 *aOut);
/* The reverse: aOut gets n - BEC_E2EE_TAG_BYTES bytes; SQLITE_ERROR if the
** ciphertext does not authenticate. */
int bec_e2ee_aead_open(const u8 *aKey, const u8 *aNonce, const u8 *aAd,
                       i64 nAd, const u8 *aCt, i64 n, u8 *aOut)
    BEC_WARN_UNUSED;

/* A message sealed to one reader (an encrypted group's snapshot in sync):
** box(K_m, reader) || nonce || AEAD(pt, AD, nonce, K_m), K_m a fresh random
** key, BEC_E2EE_READER_BYTES more than the plaintext.
** bec_e2ee_reader_seal: aOut gets nPt + BEC_E2EE_READER_BYTES bytes;
** SQLITE_ERROR if aEdPk has no X25519 form.  bec_e2ee_reader_open with the
** identity's Ed25519 secret (seed || public key): 0 and aOut gets
** n - BEC_E2EE_READER_BYTES bytes, or why it does not open (static). */
#define BEC_E2EE_READER_BYTES \
  (BEC_E2EE_BOX_BYTES + BEC_E2EE_NONCE_BYTES + BEC_E2EE_TAG_BYTES)
int bec_e2ee_reader_seal(const u8 *aEdPk, const u8 *aAd, i64 nAd,
                         const u8 *aPt, i64 nPt, u8 *aOut) BEC_WARN_UNUSED;
const char *bec_e2ee_reader_open(const u8 *aEdSecret, const u8 *aAd, i64 nAd,
                                 const u8 *a, i64 n, u8 *aOut);

/* sodium_pad to a multiple of BEC_E2EE_PAD_BYTES (a[n..nMax-1] must be
** writable; nMax at least bec_e2ee_padded(n)) and sodium_unpad. */
#define BEC_E2EE_PAD_BYTES     256
#define bec_e2ee_padded(n)     (((n)/BEC_E2EE_PAD_BYTES+1)*BEC_E2EE_PAD_BYTES)
int bec_e2ee_pad(u8 *a, i64 n, i64 nMax, i64 *pnOut) BEC_WARN_UNUSED;
int bec_e2ee_unpad(const u8 *a, i64 n, i64 *pnOut) BEC_WARN_UNUSED;

/* The deriver (bec_e2ee.c): judges epoch ops and keyshares without keys
** (xAdmit), records epochs, holders and back links and opens this
** replica's boxes (xStored); owns bec_store_epoch, _epoch_holder,
** _epoch_back, _epoch_req, _epoch_key and _epoch_bad. */
extern const BecDeriver bec_e2ee_deriver;
/* Registers bec_create_group(mode), bec_encrypt_group(), bec_rekey(),
** bec_heal() and the bec_epochs table. */
int bec_e2ee_register(sqlite3*, BecCtx*);
/* Hooks of bec_add_member / bec_remove_member (bec_member.c): before an
** add, refuses a key that cannot receive keys in an encrypted group; after
** an add or a removal of another member, seals the seeds to the newcomer
** (a keyshare) or rotates (a rekey).  Nothing in a plaintext group. */
int bec_e2ee_before_member_op(BecCtx*, int kind, const u8 *aTarget,
                              char **pzErr);
int bec_e2ee_after_member_op(BecCtx*, int kind, const u8 *aTarget,
                             char **pzErr);
/* bec_sync_apply, after a message that stored new ops: bec_heal(), which
** does nothing without an unlocked identity.  Only a failure of this
** database (out of memory, I/O) is returned; a refusal to sign is not. */
int bec_e2ee_sync_heal(BecCtx*, char **pzErr);
/* *pb: this replica's view of the group is encrypted (an encrypt op is
** stored).  Whom becsync may serve asks it: a relay that is not a member
** is accepted only in an encrypted group (bec_sync.c). */
int bec_e2ee_group_encrypted(BecCtx*, int *pb);
/* The install of a snapshot (bec_install.c).  bec_e2ee_lend_identity: the
** scratch context p2 of the install's dry run signs and opens as p (its
** unlocked identity copied; nothing without one), so that the cut's epoch
** ops and keyshares stored there open the boxes addressed to this
** replica and the cut's encrypted schema ops open.  bec_e2ee_install_held:
** *piEpoch a valid epoch op current at the cut whose seed p does not hold
** (0: every one is held, or the group is not encrypted). */
void bec_e2ee_lend_identity(BecCtx *p2, BecCtx *p);
int bec_e2ee_install_held(BecCtx *p, int *piEpoch, char **pzErr);

/* An encrypted group's snapshot in sync (bec_sync.c; docs/encryption.md
** "Snapshots in sync").  bec_e2ee_snapshot_key: *paKey the public key of this
** replica's unlocked identity, which a snapshot joiner names in its wish
** (0: none, or locked).  bec_e2ee_snapshot_reader: *pzWhy (sqlite3_mprintf, caller
** frees) why aKey gets no snapshot whose state at K is *pSt (this
** replica's, checked): not a reader now, or none at K; 0 if it gets it.
** bec_e2ee_snapshot_seal: replaces *pSnap's bytes (the snapshot of
** checkpoint aK) by their sealed form, aK || sealed to aKey.
** bec_e2ee_snapshot_open: the reverse with this replica's identity:
** *ppOut (sqlite3_malloc64, caller frees) the snapshot, or *pzWhy (caller
** frees) why it does not open; the caller checks that it is a snapshot of
** the checkpoint the first 32 bytes name (bound by the AD). */
int bec_e2ee_snapshot_key(BecCtx*, const u8 **paKey);
int bec_e2ee_snapshot_reader(BecCtx*, const u8 *aKey, const BecSnapState *pSt,
                             char **pzWhy, char **pzErr);
int bec_e2ee_snapshot_seal(BecCtx*, const u8 *aKey, const u8 *aK,
                           BecBuf *pSnap, char **pzErr);
int bec_e2ee_snapshot_open(BecCtx*, const u8 *a, i64 n, u8 **ppOut,
                           i64 *pnOut, char **pzWhy, char **pzErr);
#define BEC_E2EE_SNAPSHOT_SEALED_MIN \
  (BEC_HASH_BYTES + BEC_E2EE_READER_BYTES + 1)

/* Encrypted schema and write ops (E2EE.md section 5).  The merge calls
** these where a table op's payload is produced and consumed, and sees
** plaintext only.
** bec_e2ee_open: if pOp (schema or write) carries the envelope, points
** pOp->aPayload/nPayload at its plaintext (*ppFree, from sqlite3_malloc64,
** the caller frees it); if this replica cannot open it, *pzLocked is why
** ("locked: no key", "locked: bad commitment", "locked: undecryptable",
** static) and pOp is unchanged.  A plaintext payload is left as it is. */
#define BEC_E2EE_LOCKED_PREFIX "locked: "
#define BEC_E2EE_ENVELOPE   0xE2    /* first byte of an encrypted payload: no
                                   ** table payload version (those count up
                                   ** from 1; schema payloads are at 2) */
#define BEC_E2EE_ENVELOPE_ADMIN 0xE3 /* the same, of a write op its author
                                   ** marks as an admin op: what a replica
                                   ** without the key must know of a write
                                   ** to a write='admin' table (it is judged
                                   ** as an admin op; docs/encryption.md) */
/* BEC_E2EE_ENVELOPE_ADMIN if pOp is a write op marked as an admin op,
** BEC_E2EE_ENVELOPE if it is another schema or write op that carries the
** envelope, else 0 (a plaintext op).  Inline: the merge, bec_ops and the
** envelope's owner (bec_e2ee.c) read the same first byte, on every floor.
** (The admin mark is a write's only: a schema op is an admin op anyway.) */
static inline int bec_e2ee_envelope(const BecOp *pOp){
  if( (pOp->kind!=BEC_KIND_SCHEMA && pOp->kind!=BEC_KIND_WRITE)
   || pOp->nPayload<1 || pOp->aPayload==0 ){
    return 0;
  }
  if( pOp->aPayload[0]==BEC_E2EE_ENVELOPE ) return BEC_E2EE_ENVELOPE;
  if( pOp->aPayload[0]==BEC_E2EE_ENVELOPE_ADMIN && pOp->kind==BEC_KIND_WRITE ){
    return BEC_E2EE_ENVELOPE_ADMIN;
  }
  return 0;
}
extern const char bec_e2ee_undecryptable[];
int bec_e2ee_open(BecCtx*, BecOp *pOp, u8 **ppFree, const char **pzLocked,
                  char **pzErr);
/* Before a local transaction's first write: in an encrypted group, signs
** the rekey or keyshare that the writer's safety rule asks for (E2EE.md
** section 6), so that the write op's seq is known. */
int bec_e2ee_before_write(BecCtx*, char **pzErr);
/* The payload of a local schema or write op as it is signed: in an
** encrypted group pOut gets the envelope of aPt (under the current epochs,
** bound to the current heads); in a plaintext group pOut stays empty.
** bMaySign: the safety rule may sign ops first (not inside a commit).
** bAdmin: a write op that writes a write='admin' table, marked as an admin
** op in its envelope's first byte (BEC_E2EE_ENVELOPE_ADMIN). */
int bec_e2ee_seal(BecCtx*, int kind, const u8 *aPt, i64 nPt, int bMaySign,
                  int bAdmin, BecBuf *pOut, char **pzErr);

#endif /* BEC_INT_H */
