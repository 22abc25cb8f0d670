/*
** bec_e2ee.c - end-to-end encryption: who may READ (../shared/E2EE.md;
** docs/encryption.md for users).  This file owns the epochs of a group's
** data key, who holds each epoch's seed, this replica's sealed copy of the
** seeds it holds, and the envelope of encrypted schema and write ops: the
** merge (bec_crdt.c) calls bec_e2ee_seal where it produces a table op's
** payload and bec_e2ee_open where it consumes one, so it sees plaintext
** only; an op it cannot open is ignored with "locked: ..." and judged
** again when new seeds arrive (published as a change of validity).
**
**   SELECT bec_create_group('encrypted');  -- create + encrypt (an epoch)
**   SELECT bec_encrypt_group();            -- admins: an encrypt op
**   SELECT bec_rekey();                    -- any member: a rekey op
**   SELECT bec_heal();                     -- keyshares for holes
**   SELECT * FROM bec_epochs;              -- epochs, holders, i_hold
**   bec_add_member / bec_remove_member     -- keyshare to the newcomer /
**                                          -- rekey after removing another
**
** Epoch ops (kinds encrypt and rekey) carry an epoch block:
**
**   block  := version:u8 (=1) commit:32 n_box:varint (1..65536)
**             box * n_box (sorted by prefix, prefixes distinct)
**             back_nonce:24 n_back_ct:varint back_ct:n_back_ct
**   box    := prefix:8 (first bytes of the recipient's Ed25519 key)
**             sealed:80 (crypto_box_seal of the seed K to its X25519 key)
**   back_ct:= XChaCha20-Poly1305-IETF under H_K("bec-e2ee-back-v1"), AD
**             "bec-e2ee-back-v1" || group id || author || commit, of
**             n_back:varint (hash:32 || K:32) * n_back, sorted by hash:
**             the seeds of the maximal epochs in the op's causal past that
**             the author holds (a newcomer walks them back to the start)
**
** and a keyshare op carries seeds of earlier epochs, or asks for them:
**
**   keyshare := n_share:varint (1..1024)
**               (epoch:32 n_box:varint (0..65536) box * n_box) * n_share
**
** where n_box = 0 is a request: its author lacks that epoch's seed.
**
** Decisions taken here (docs/encryption.md lists them):
** - The encrypted context of an op is "an encrypt op is in its causal
**   past": monotone, a function of the op's past only.  An encrypted group
**   is made by a create followed by an encrypt op (one transaction), and a
**   removal of another member is followed by a rekey op, rather than the
**   create and remove payloads carrying the block: the payload rules of the
**   kind table stay fixed-length, and the rekey after a removal is what the
**   writer's safety rule asks for anyway.  A newcomer gets the seeds of the
**   current epochs in a keyshare right after its add.
** - Readers are the current members with the role admin or member; a
**   member with the role relay never receives a box.
** - holders(e) is what the DAG says, on every replica alike: the author of
**   e, the recipients of boxes for e (in e and in keyshares), and the
**   holders of every epoch f that names e in its back list, where the back
**   list is taken from the DAG (the maximal epochs in f's causal past), not
**   from the ciphertext, so that a relay computes it too.  A member with an
**   unanswered request for e (no keyshare to it follows the request) is
**   left out of holders(e).
** - A write to a write='admin' table is marked as an admin op by its
**   envelope's first byte (0xE3, BEC_E2EE_ENVELOPE_ADMIN), in the clear:
**   acceptance, the op's role and a concurrent demotion's cancel are then
**   the same on a replica without the key (bec_crdt.c crdt_admit).
** - A seed is believed only if H("bec-e2ee-commit-v1" || K) is the epoch's
**   commit: a box that does not open, or opens to another seed, counts as
**   no key for this replica (bec_store_epoch_bad), and heal asks for it.
**
** Stored (written by this file only):
**   bec_store_epoch(seq, hcommit)              one row per epoch op
**   bec_store_epoch_holder(epoch, prefix, via) a recipient of a box for the
**                                              epoch in op via (0: author)
**   bec_store_epoch_back(epoch, back)          back names the epoch op back
**   bec_store_epoch_req(epoch, prefix, seq, answered)  requests
**   bec_store_epoch_key(epoch, nonce, sealed)  this replica's checked
**       seeds, sealed with XChaCha20-Poly1305 under
**       H_seed("bec-e2ee-store-v1") (seed: the identity's Ed25519 seed,
**       which lives in the key file, never in the database), AD the epoch
**       hash: a copy of the database file does not give the seeds
**   bec_store_epoch_bad(epoch)                 a box to this replica that
**                                              failed its commitment
**   bec_store_epoch_xpk(pubkey, ok)            whether a member's key has an
**       X25519 form (a pure function of the key, 43 us each, asked for
**       every reader by every write: remembered)
**   bec_store_epoch_named(epoch)               an epoch some stored schema
**       or write op names: heal hands it on even when the epoch op lost
**       its validity (a counter-removal that lost on seniority, under
**       whose epoch a member wrote before it learnt the outcome)
**   bec_store_epoch_kept(id, nonce, sealed)    seeds of bec_store_epoch_key
**       kept by the epoch op's id across a fall-back to a full join
**       (bec_rejoin.c), until that op is stored again
** No table or function returns a seed or a derived key.
*/
#include "becInt.h"

#include <stdlib.h>

static const BecSavepoint spE2ee = {
  "SAVEPOINT bec_e2ee", "RELEASE bec_e2ee", "ROLLBACK TO bec_e2ee"
};

static const char zE2eeSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_epoch("
  "  seq INTEGER PRIMARY KEY, hcommit BLOB NOT NULL);"
  "CREATE TABLE IF NOT EXISTS bec_store_epoch_holder("
  "  epoch INTEGER NOT NULL, prefix BLOB NOT NULL, via INTEGER NOT NULL,"
  "  PRIMARY KEY(epoch, prefix, via)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_epoch_back("
  "  epoch INTEGER NOT NULL, back INTEGER NOT NULL,"
  "  PRIMARY KEY(epoch, back)) WITHOUT ROWID;"
  "CREATE INDEX IF NOT EXISTS bec_store_epoch_back_b"
  "  ON bec_store_epoch_back(back);"
  "CREATE TABLE IF NOT EXISTS bec_store_epoch_req("
  "  epoch INTEGER NOT NULL, prefix BLOB NOT NULL, seq INTEGER NOT NULL,"
  "  answered INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY(epoch, prefix, seq)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_epoch_key("
  "  epoch INTEGER PRIMARY KEY, nonce BLOB NOT NULL, sealed BLOB NOT NULL);"
  "CREATE TABLE IF NOT EXISTS bec_store_epoch_bad(epoch INTEGER PRIMARY KEY);"
  "CREATE TABLE IF NOT EXISTS bec_store_epoch_xpk("
  "  pubkey BLOB PRIMARY KEY, ok INTEGER NOT NULL) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_epoch_named(epoch INTEGER PRIMARY KEY);"
  "CREATE TABLE IF NOT EXISTS bec_store_epoch_kept("
  "  id BLOB PRIMARY KEY, nonce BLOB NOT NULL, sealed BLOB NOT NULL)"
  "  WITHOUT ROWID;";

/* SQL: the current epochs E, the valid epoch ops that no valid epoch op
** follows (an epoch follows another iff a chain of back links joins them:
** the back links are the transitive reduction of the epochs' order). */
#define E2EE_CURRENT \
  "SELECT e.seq FROM bec_store_epoch e JOIN bec_store_op o ON o.seq=e.seq" \
  " WHERE o.valid AND e.seq NOT IN (WITH RECURSIVE anc(x) AS (" \
  "  SELECT b.back FROM bec_store_epoch_back b JOIN bec_store_op v" \
  "  ON v.seq=b.epoch WHERE v.valid UNION" \
  "  SELECT b.back FROM bec_store_epoch_back b JOIN anc ON b.epoch=anc.x)" \
  " SELECT x FROM anc)"

/* SQL: the prefixes of holders(x), x an expression naming an epoch seq. */
#define E2EE_HOLDERS(x) \
  "SELECT DISTINCT h.prefix AS pf FROM (WITH RECURSIVE up(f) AS (" \
  " SELECT " x " UNION SELECT b.epoch FROM bec_store_epoch_back b" \
  " JOIN up ON b.back=up.f) SELECT f FROM up) u" \
  " JOIN bec_store_epoch_holder h ON h.epoch=u.f" \
  " WHERE NOT EXISTS(SELECT 1 FROM bec_store_epoch_req r WHERE" \
  " r.epoch=" x " AND r.prefix=h.prefix AND NOT r.answered)"

/* SQL: the readers (current members who receive boxes), by key, with
** whether the key converts (NULL: not known yet). */
#define E2EE_READERS \
  "SELECT m.pubkey, x.ok FROM bec_store_member m LEFT JOIN" \
  " bec_store_epoch_xpk x ON x.pubkey=m.pubkey WHERE m.role IN (1,2)" \
  " ORDER BY m.pubkey"

static int is_table_kind(int kind);
static void rule_follow(BecCtx*, int iSeq);
static int admit_table_op(BecCtx*, const BecOp*, const int*, BecVerdict*,
                          char**);
static int unlock_ops(BecCtx*, char**);

/* The number of seeds this replica holds (new ones unlock table ops). */
static int seed_count(BecCtx *p, int *pn){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT count(*) FROM bec_store_epoch_key", &pStmt);
  *pn = 0;
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *pn = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

static int is_epoch_kind(int kind){
  return kind==BEC_KIND_ENCRYPT || kind==BEC_KIND_REKEY;
}

/**************************************************************************
** Decoding the payloads (keyless: what every replica and relay checks).
*/
typedef struct Block Block;
struct Block {
  const u8 *aCommit;     /* BEC_HASH_BYTES */
  int nBox;
  const u8 *aBox;        /* nBox * BEC_E2EE_BOX_BYTES */
  const u8 *aBackNonce;  /* BEC_E2EE_NONCE_BYTES */
  i64 nBackCt;
  const u8 *aBackCt;
};

/* An encrypted schema or write op's payload (envelope_parse, below). */
typedef struct Envelope Envelope;
struct Envelope {
  int nEpoch;
  const u8 *aEpoch;
  const u8 *aNonce;
  i64 nCt;
  const u8 *aCt;
};

/* Reads n_box boxes (0..BEC_E2EE_MAX_BOX; at least nMin) sorted by prefix,
** prefixes distinct. */
static int boxes_read(BecReader *pRd, int nMin, int *pnBox, const u8 **paBox){
  u64 n = 0;
  int i;
  if( bec_read_varint(pRd, &n, BEC_E2EE_MAX_BOX) || (int)n<nMin ){
    return BEC_MALFORMED;
  }
  if( bec_read_bytes(pRd, (i64)n*BEC_E2EE_BOX_BYTES, paBox) ){
    return BEC_MALFORMED;
  }
  for(i=1; i<(int)n; i++){
    if( memcmp(&(*paBox)[(i-1)*BEC_E2EE_BOX_BYTES],
               &(*paBox)[i*BEC_E2EE_BOX_BYTES], BEC_E2EE_PREFIX_BYTES)>=0 ){
      return BEC_MALFORMED;
    }
  }
  *pnBox = (int)n;
  return SQLITE_OK;
}

static int block_parse(const u8 *a, i64 n, Block *pB){
  BecReader rd;
  u8 v = 0;
  u64 nCt = 0;
  rd.a = a; rd.n = n; rd.i = 0;
  memset(pB, 0, sizeof(*pB));
  if( bec_read_u8(&rd, &v) || v!=BEC_E2EE_BLOCK_VERSION ) return BEC_MALFORMED;
  if( bec_read_bytes(&rd, BEC_HASH_BYTES, &pB->aCommit) ) return BEC_MALFORMED;
  if( boxes_read(&rd, 1, &pB->nBox, &pB->aBox) ) return BEC_MALFORMED;
  if( bec_read_bytes(&rd, BEC_E2EE_NONCE_BYTES, &pB->aBackNonce)
   || bec_read_varint(&rd, &nCt, (u64)n)
   || nCt<1+BEC_E2EE_TAG_BYTES
   || bec_read_bytes(&rd, (i64)nCt, &pB->aBackCt)
   || rd.i!=rd.n ){
    return BEC_MALFORMED;
  }
  pB->nBackCt = (i64)nCt;
  return SQLITE_OK;
}

/* The sealed part of the box for aPrefix among nBox boxes, or 0. */
static const u8 *box_find(const u8 *aBox, int nBox, const u8 *aPrefix){
  int i;
  for(i=0; i<nBox; i++){
    const u8 *b = &aBox[i*BEC_E2EE_BOX_BYTES];
    if( memcmp(b, aPrefix, BEC_E2EE_PREFIX_BYTES)==0 ){
      return &b[BEC_E2EE_PREFIX_BYTES];
    }
  }
  return 0;
}

/* One share of a keyshare payload at a time: *piShare counts them. */
typedef struct Share Share;
struct Share {
  const u8 *aEpoch;
  int nBox;
  const u8 *aBox;
};
static int share_open(BecReader *pRd, const u8 *a, i64 n, int *pnShare){
  u64 nShare = 0;
  pRd->a = a; pRd->n = n; pRd->i = 0;
  if( bec_read_varint(pRd, &nShare, BEC_E2EE_MAX_SHARE) || nShare<1 ){
    return BEC_MALFORMED;
  }
  *pnShare = (int)nShare;
  return SQLITE_OK;
}
static int share_next(BecReader *pRd, Share *pS){
  if( bec_read_bytes(pRd, BEC_HASH_BYTES, &pS->aEpoch) ) return BEC_MALFORMED;
  return boxes_read(pRd, 0, &pS->nBox, &pS->aBox);
}

/**************************************************************************
** Small helpers over storage.
*/
/* *pb: an encrypt op is stored (this replica's view of the group). */
static int group_encrypted(BecCtx *p, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_op o WHERE o.kind=?1"
                        " AND " BEC_OP_INDEXED("o") " LIMIT 1",
                        &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, BEC_KIND_ENCRYPT);
  *pb = sqlite3_step(pStmt)==SQLITE_ROW;
  return sqlite3_reset(pStmt);
}

int bec_e2ee_group_encrypted(BecCtx *p, int *pb){
  return group_encrypted(p, pb);
}

/* Loads the stored op iSeq: *ppBody (sqlite3_malloc64, the caller frees it)
** decoded into *pOp. */
static int op_load(BecCtx *p, int iSeq, u8 **ppBody, BecOp *pOp,
                   char **pzErr){
  sqlite3_stmt *pStmt = 0;
  i64 n = 0;
  int rc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
  *ppBody = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    rc = bec_ctx_column_copy(pStmt, ppBody, &n);
  }else{
    rc = SQLITE_CORRUPT;
  }
  sqlite3_reset(pStmt);
  if( rc==SQLITE_OK ) rc = bec_op_decode(*ppBody, n, pOp, pzErr);
  if( rc ){
    sqlite3_free(*ppBody);
    *ppBody = 0;
    if( *pzErr==0 ){
      *pzErr = sqlite3_mprintf("bec: stored op %d cannot be read", iSeq);
    }
  }
  return rc;
}

/* The unlocked identity (seed || public key), or 0 when this replica has
** no key or it is locked: the callers then do nothing, without error. */
static const u8 *identity(BecCtx *p){
  const u8 *aSecret = 0;
  char *zErr = 0;
  if( bec_dag_secret(p, &aSecret, &zErr) ) aSecret = 0;
  sqlite3_free(zErr);
  return aSecret;
}

/* *pb: this replica holds the checked seed of epoch iEpoch (whose hash is
** aHash, the AD of its sealed copy); aSeed (may be 0) receives it. */
static int seed_get(BecCtx *p, const u8 *aSecret, const u8 *aHash,
                    int iEpoch, u8 *aSeed, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT nonce, sealed FROM bec_store_epoch_key"
                           " WHERE epoch=?1", &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iEpoch);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *pb = 1;
    if( aSeed ){
      u8 aKey[BEC_E2EE_KEY_BYTES];
      if( aSecret==0 || aHash==0
       || sqlite3_column_bytes(pStmt, 0)!=BEC_E2EE_NONCE_BYTES
       || sqlite3_column_bytes(pStmt, 1)!=BEC_E2EE_SEED_BYTES+BEC_E2EE_TAG_BYTES ){
        *pb = 0;
      }else{
        bec_e2ee_store_key(aSecret, aKey);
        if( bec_e2ee_aead_open(aKey, sqlite3_column_blob(pStmt, 0),
                aHash, BEC_HASH_BYTES,
                sqlite3_column_blob(pStmt, 1),
                BEC_E2EE_SEED_BYTES+BEC_E2EE_TAG_BYTES, aSeed) ){
          *pb = 0;               /* sealed under another identity */
        }
        bec_crypto_wipe(aKey, sizeof(aKey));
      }
    }
  }
  rc = sqlite3_reset(pStmt);
  return rc;
}

/* The id of the stored epoch op iSeq into aId; *pb 0 if iSeq is no stored
** epoch op.  Read from its row, which the graph is loaded from: a write
** does not load the graph to name or open its epochs (docs/compaction.md,
** "Opening a long history"). */
static int epoch_id(BecCtx *p, int iSeq, u8 *aId, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT hash FROM bec_store_op WHERE seq=?1"
                           " AND kind IN (?2, ?3)", &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  sqlite3_bind_int(pStmt, 2, BEC_KIND_ENCRYPT);
  sqlite3_bind_int(pStmt, 3, BEC_KIND_REKEY);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ){
      rc = SQLITE_CORRUPT;
    }else{
      memcpy(aId, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
      *pb = 1;
    }
  }
  /* a failed step's code (memory, I/O) wins over "no row" */
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc2 ) rc = rc2;
  }
  return rc;
}

/* epoch_id appended to a builder (sticky *pRc).  The callers take iSeq
** from the epoch tables: an epoch op that is not stored is damage. */
static void epoch_id_append(BecCtx *p, int iSeq, BecBuf *pBuf, int *pRc){
  u8 aId[BEC_HASH_BYTES];
  int b = 0;
  if( *pRc ) return;
  *pRc = epoch_id(p, iSeq, aId, &b);
  if( *pRc==SQLITE_OK && !b ) *pRc = SQLITE_CORRUPT;
  bec_buf_append(pBuf, aId, BEC_HASH_BYTES, pRc);
}

/* seed_get of stored epoch op iEpoch, its id (the AD) read from its row;
** none (0) if iEpoch is no stored epoch op.  aSeed 0: whether it is held,
** which needs no id. */
static int seed_get_seq(BecCtx *p, const u8 *aSecret, int iEpoch, u8 *aSeed,
                        int *pb){
  u8 aId[BEC_HASH_BYTES];
  int bId = 0;
  if( aSeed ){
    int rc = epoch_id(p, iEpoch, aId, &bId);
    if( rc ){
      *pb = 0;
      return rc;
    }
  }
  return seed_get(p, aSecret, bId ? aId : 0, iEpoch, aSeed, pb);
}

/* Steps a cached statement that returns no row and resets it. */
static int step_done(sqlite3_stmt *pStmt){
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

/**************************************************************************
** Learning seeds: every seed is checked against its epoch's commitment,
** then sealed into bec_store_epoch_key, then its back list is opened.
*/
/* Learns seed aSeed for epoch iEpoch and, through back lists, every earlier
** epoch it leads to.  A seed that fails the commitment is recorded as bad
** (unless a good one is held). */
static int learn(BecCtx *p, const u8 *aSecret, BecGraph *g, int iEpoch,
                 const u8 *aSeedIn, char **pzErr){
  BecBuf work;                        /* (seq:int, seed:32) entries to learn */
  int rc = SQLITE_OK;
  const int nEntry = (int)sizeof(int) + BEC_E2EE_SEED_BYTES;
  memset(&work, 0, sizeof(work));
  bec_buf_append(&work, &iEpoch, sizeof(int), &rc);
  bec_buf_append(&work, aSeedIn, BEC_E2EE_SEED_BYTES, &rc);
  while( rc==SQLITE_OK && work.n>0 ){
    int iE, bHave = 0;
    u8 aSeed[BEC_E2EE_SEED_BYTES], aCommit[BEC_HASH_BYTES];
    sqlite3_stmt *pStmt = 0;
    int bGood = 0;
    work.n -= nEntry;
    memcpy(&iE, &work.a[work.n], sizeof(int));
    memcpy(aSeed, &work.a[work.n+sizeof(int)], BEC_E2EE_SEED_BYTES);
    bec_crypto_wipe(&work.a[work.n], (size_t)nEntry);
    if( iE<1 || iE>g->nNode || !is_epoch_kind(g->aNode[iE].kind) ) continue;
    rc = seed_get_seq(p, aSecret, iE, 0, &bHave);
    if( rc || bHave ){ bec_crypto_wipe(aSeed, sizeof(aSeed)); continue; }
    rc = bec_ctx_stmt(p, "SELECT hcommit FROM bec_store_epoch WHERE seq=?1",
                      &pStmt);
    if( rc ) break;
    sqlite3_bind_int(pStmt, 1, iE);
    bec_e2ee_commit(aSeed, aCommit);
    if( sqlite3_step(pStmt)==SQLITE_ROW
     && sqlite3_column_bytes(pStmt, 0)==BEC_HASH_BYTES
     && memcmp(sqlite3_column_blob(pStmt, 0), aCommit, BEC_HASH_BYTES)==0 ){
      bGood = 1;
    }
    rc = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK && !bGood ){
      rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_epoch_bad(epoch)"
                           " VALUES(?1)", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iE);
        rc = step_done(pStmt);
      }
    }
    if( rc==SQLITE_OK && bGood ){
      u8 aKey[BEC_E2EE_KEY_BYTES], aNonce[BEC_E2EE_NONCE_BYTES];
      u8 aSealed[BEC_E2EE_SEED_BYTES+BEC_E2EE_TAG_BYTES];
      u8 aAd[BEC_HASH_BYTES];
      bec_crypto_random(aNonce, sizeof(aNonce));
      rc = bec_graph_id(g, iE, aAd);
      bec_e2ee_store_key(aSecret, aKey);
      bec_e2ee_aead_seal(aKey, aNonce, aAd, BEC_HASH_BYTES,
                         aSeed, BEC_E2EE_SEED_BYTES, aSealed);
      bec_crypto_wipe(aKey, sizeof(aKey));
      if( rc==SQLITE_OK ){
        rc = bec_ctx_stmt(p, "INSERT INTO bec_store_epoch_key(epoch, nonce,"
                             " sealed) VALUES(?1, ?2, ?3)", &pStmt);
      }
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iE);
        sqlite3_bind_blob(pStmt, 2, aNonce, sizeof(aNonce), SQLITE_STATIC);
        sqlite3_bind_blob(pStmt, 3, aSealed, sizeof(aSealed), SQLITE_STATIC);
        rc = step_done(pStmt);
      }
      if( rc==SQLITE_OK ){
        rc = bec_ctx_stmt(p, "DELETE FROM bec_store_epoch_bad WHERE epoch=?1",
                          &pStmt);
        if( rc==SQLITE_OK ){
          sqlite3_bind_int(pStmt, 1, iE);
          rc = step_done(pStmt);
        }
      }
      if( rc==SQLITE_OK ){
        /* (a copy kept across a fall-back while the identity was locked,
        ** which seed_restore could not put back: held again now) */
        rc = bec_ctx_stmt(p, "DELETE FROM bec_store_epoch_kept WHERE id=?1",
                          &pStmt);
        if( rc==SQLITE_OK ){
          sqlite3_bind_blob(pStmt, 1, aAd, BEC_HASH_BYTES, SQLITE_STATIC);
          rc = step_done(pStmt);
        }
      }
    }
    /* Its back list: seeds of earlier epochs, each checked in its turn. */
    if( rc==SQLITE_OK && bGood ){
      u8 *aBody = 0, *aPt = 0;
      BecOp op;
      Block blk;
      rc = op_load(p, iE, &aBody, &op, pzErr);
      if( rc==SQLITE_OK && block_parse(op.aPayload, op.nPayload, &blk)==SQLITE_OK ){
        BecBuf ad;
        u8 aGroup[BEC_HASH_BYTES], aKey[BEC_E2EE_KEY_BYTES];
        memset(&ad, 0, sizeof(ad));
        rc = bec_dag_group_id(p, aGroup, pzErr);
        bec_buf_append(&ad, "bec-e2ee-back-v1", 16, &rc);
        bec_buf_append(&ad, aGroup, BEC_HASH_BYTES, &rc);
        bec_buf_append(&ad, op.aAuthor, BEC_PUBKEY_BYTES, &rc);
        bec_buf_append(&ad, blk.aCommit, BEC_HASH_BYTES, &rc);
        if( rc==SQLITE_OK ){
          aPt = sqlite3_malloc64((sqlite3_uint64)blk.nBackCt);
          if( aPt==0 ) rc = SQLITE_NOMEM;
        }
        if( rc==SQLITE_OK ){
          bec_e2ee_back_key(aSeed, aKey);
          if( bec_e2ee_aead_open(aKey, blk.aBackNonce, ad.a, ad.n,
                                 blk.aBackCt, blk.nBackCt, aPt)==SQLITE_OK ){
            BecReader rd;
            u64 nBack = 0, k;
            rd.a = aPt; rd.n = blk.nBackCt - BEC_E2EE_TAG_BYTES; rd.i = 0;
            if( bec_read_varint(&rd, &nBack, (u64)rd.n/64)==SQLITE_OK ){
              for(k=0; rc==SQLITE_OK && k<nBack; k++){
                const u8 *aH = 0, *aK = 0;
                int iB = 0;
                if( bec_read_bytes(&rd, BEC_HASH_BYTES, &aH)
                 || bec_read_bytes(&rd, BEC_E2EE_SEED_BYTES, &aK) ) break;
                rc = bec_dag_seq_of(p, aH, &iB);
                if( rc==SQLITE_OK && iB>0 ){
                  bec_buf_append(&work, &iB, sizeof(int), &rc);
                  bec_buf_append(&work, aK, BEC_E2EE_SEED_BYTES, &rc);
                }
              }
            }
            bec_crypto_wipe(aPt, (size_t)blk.nBackCt);
          }
          bec_crypto_wipe(aKey, sizeof(aKey));
        }
        bec_buf_free(&ad);
      }
      sqlite3_free(aPt);
      sqlite3_free(aBody);
    }
    bec_crypto_wipe(aSeed, sizeof(aSeed));
  }
  if( work.a ) bec_crypto_wipe(work.a, (size_t)work.nAlloc);
  bec_buf_free(&work);
  return rc;
}

/* Opens the box for this replica in op iVia (an epoch op, or a keyshare)
** for epoch iEpoch, if there is one, and learns its seed; a box that does
** not open counts as a bad seed. */
static int open_from(BecCtx *p, const u8 *aSecret, BecGraph *g, int iEpoch,
                     int iVia, char **pzErr){
  u8 *aBody = 0;
  BecOp op;
  const u8 *aSealed = 0;
  const u8 *aMe = &aSecret[BEC_SEED_BYTES];
  int rc = op_load(p, iVia, &aBody, &op, pzErr);
  if( rc ) return rc;
  if( is_epoch_kind(op.kind) ){
    Block blk;
    if( block_parse(op.aPayload, op.nPayload, &blk)==SQLITE_OK ){
      aSealed = box_find(blk.aBox, blk.nBox, aMe);
    }
  }else if( op.kind==BEC_KIND_KEYSHARE ){
    BecReader rd;
    int nShare = 0, i;
    if( share_open(&rd, op.aPayload, op.nPayload, &nShare)==SQLITE_OK ){
      for(i=0; i<nShare && aSealed==0; i++){
        Share s;
        if( share_next(&rd, &s) ) break;
        if( bec_graph_id_cmp_to(g, iEpoch, s.aEpoch)==0 ){
          aSealed = box_find(s.aBox, s.nBox, aMe);
        }
      }
    }
  }
  if( aSealed ){
    u8 aSeed[BEC_E2EE_SEED_BYTES];
    if( bec_e2ee_box_open(aSealed, aSecret, aSeed)==SQLITE_OK ){
      rc = learn(p, aSecret, g, iEpoch, aSeed, pzErr);
    }else{
      sqlite3_stmt *pStmt = 0;
      rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_epoch_bad(epoch)"
                           " SELECT ?1 WHERE NOT EXISTS(SELECT 1 FROM"
                           " bec_store_epoch_key WHERE epoch=?1)", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iEpoch);
        rc = step_done(pStmt);
      }
    }
    bec_crypto_wipe(aSeed, sizeof(aSeed));
  }
  sqlite3_free(aBody);
  return rc;
}

/* Opens every box addressed to this replica whose epoch it does not hold
** yet: after bec_unlock, or ops that arrived while the key was locked. */
static int catch_up(BecCtx *p, const u8 *aSecret, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  int *aPair = 0, nPair = 0, nAlloc = 0, i;
  /* The graph (learn and open_from walk it) is loaded only when there is
  ** a box to open: the common case, nothing new, is one query. */
  int rc = bec_graph_check(p, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT h.epoch, h.via FROM bec_store_epoch_holder h"
        " WHERE h.prefix=?1 AND h.via>0 AND h.epoch NOT IN"
        " (SELECT epoch FROM bec_store_epoch_key)"
        " AND h.epoch NOT IN (SELECT epoch FROM bec_store_epoch_bad)"
        " ORDER BY h.epoch, h.via", &pStmt);
  }
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, &aSecret[BEC_SEED_BYTES], BEC_E2EE_PREFIX_BYTES,
                    SQLITE_STATIC);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( nPair*2+2>nAlloc ){
      int nNew = nAlloc ? nAlloc*2 : 32;
      int *aNew = sqlite3_realloc64(aPair, sizeof(int)*(sqlite3_uint64)nNew);
      if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
      aPair = aNew;
      nAlloc = nNew;
    }
    aPair[nPair*2] = sqlite3_column_int(pStmt, 0);
    aPair[nPair*2+1] = sqlite3_column_int(pStmt, 1);
    nPair++;
  }
  bec_stmt_reset(pStmt, &rc);
  if( rc==SQLITE_OK && nPair>0 ) rc = bec_graph_get(p, &g, pzErr);
  for(i=0; rc==SQLITE_OK && i<nPair; i++){
    rc = open_from(p, aSecret, g, aPair[i*2], aPair[i*2+1], pzErr);
  }
  sqlite3_free(aPair);
  return rc;
}

/**************************************************************************
** The deriver.
*/
static int e2ee_schema(BecCtx *p, char **pzErr){
  return bec_ctx_exec(p, zE2eeSchema, pzErr);
}

/* *pb: an encrypt op is among the nodes marked in aMark (a causal past). */
static int past_encrypted(const BecGraph *g, const u8 *aMark){
  int x;
  for(x=g->nNode; x>=1; x--){
    if( aMark[x] && g->aNode[x].kind==BEC_KIND_ENCRYPT ) return 1;
  }
  return 0;
}

static int e2ee_admit(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                      BecVerdict *pV, char **pzErr){
  BecGraph *g = 0;
  u8 *aMark = 0;
  int rc, bEnc = 0, bAny = 0;
  if( is_table_kind(pOp->kind) ){
    return admit_table_op(p, pOp, aPredSeq, pV, pzErr);
  }
  if( !bec_kind_derives(pOp->kind, BEC_DERIVE_E2EE) && pOp->kind!=BEC_KIND_ADD ){
    return SQLITE_OK;
  }
  rc = group_encrypted(p, &bAny);
  if( rc ) return rc;
  if( pOp->kind==BEC_KIND_ADD && !bAny ) return SQLITE_OK;
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_past(g, aPredSeq, pOp->nPred, &aMark);
  if( rc ) return rc;
  bEnc = past_encrypted(g, aMark);
  if( pOp->kind==BEC_KIND_ADD ){
    u8 aX[BEC_E2EE_KEY_BYTES];
    if( bEnc && pOp->role!=BEC_ROLE_RELAY && bec_e2ee_xpk(pOp->aTarget, aX) ){
      bec_verdict_set(pV, SQLITE_ERROR, "malformed: add in an encrypted group "
                      "of a public key that cannot receive keys");
    }
  }else if( is_epoch_kind(pOp->kind) ){
    Block blk;
    if( pOp->kind==BEC_KIND_REKEY && !bEnc ){
      bec_verdict_set(pV, SQLITE_ERROR, "malformed: rekey in a plaintext "
                      "group (no encrypt op in its causal past)");
    }else if( block_parse(pOp->aPayload, pOp->nPayload, &blk) ){
      bec_verdict_set(pV, SQLITE_ERROR, "malformed: bad epoch block");
    }
  }else if( pOp->kind==BEC_KIND_KEYSHARE ){
    BecReader rd;
    int nShare = 0, i;
    if( !bEnc ){
      bec_verdict_set(pV, SQLITE_ERROR, "malformed: keyshare in a plaintext "
                      "group (no encrypt op in its causal past)");
    }else if( share_open(&rd, pOp->aPayload, pOp->nPayload, &nShare) ){
      bec_verdict_set(pV, SQLITE_ERROR, "malformed: bad keyshare");
    }else{
      for(i=0; rc==SQLITE_OK && i<nShare && pV->rc==0; i++){
        Share s;
        int iE = 0;
        if( share_next(&rd, &s) ){
          bec_verdict_set(pV, SQLITE_ERROR, "malformed: bad keyshare");
          break;
        }
        rc = bec_dag_seq_of(p, s.aEpoch, &iE);
        if( rc==SQLITE_OK && (iE<1 || iE>g->nNode || !aMark[iE]
                              || !is_epoch_kind(g->aNode[iE].kind)) ){
          char zHex[2*BEC_HASH_BYTES+1];
          bec_hex_encode(s.aEpoch, BEC_HASH_BYTES, zHex);
          bec_verdict_set(pV, SQLITE_ERROR, "bad epoch: %.16s is not an epoch "
                          "op in its causal past", zHex);
        }
      }
      if( rc==SQLITE_OK && pV->rc==0 && rd.i!=rd.n ){
        bec_verdict_set(pV, SQLITE_ERROR, "malformed: bad keyshare");
      }
    }
  }
  sqlite3_free(aMark);
  return rc;
}

static int holder_add(BecCtx *p, int iEpoch, const u8 *aPrefix, int iVia){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_epoch_holder"
                           "(epoch, prefix, via) VALUES(?1, ?2, ?3)", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iEpoch);
  sqlite3_bind_blob(pStmt, 2, aPrefix, BEC_E2EE_PREFIX_BYTES, SQLITE_STATIC);
  sqlite3_bind_int(pStmt, 3, iVia);
  return step_done(pStmt);
}

/* The seed of epoch op iSeq that this replica held before a fall-back to
** a full join (e2ee_reset), put back under its new seq.  Only with the
** identity unlocked: a locked replica opens the boxes again at its next
** heal (catch_up), which then judges the locked ops again (unlock_ops). */
static int seed_restore(BecCtx *p, BecGraph *g, int iSeq){
  sqlite3_stmt *pStmt = 0;
  u8 aId[BEC_HASH_BYTES];
  int rc = bec_graph_id(g, iSeq, aId);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_epoch_key(epoch,"
                         " nonce, sealed) SELECT ?1, nonce, sealed FROM"
                         " bec_store_epoch_kept WHERE id=?2", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, iSeq);
    sqlite3_bind_blob(pStmt, 2, aId, BEC_HASH_BYTES, SQLITE_STATIC);
    rc = step_done(pStmt);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_epoch_kept WHERE id=?1",
                      &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aId, BEC_HASH_BYTES, SQLITE_STATIC);
    rc = step_done(pStmt);
  }
  return rc;
}

/* Epoch op iSeq: its row, its holders, its back links. */
static int stored_epoch(BecCtx *p, BecGraph *g, int iSeq, const BecOp *pOp,
                        const u8 *aSecret, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  u8 *aMark = 0;
  Block blk;
  int rc, i, x;
  if( block_parse(pOp->aPayload, pOp->nPayload, &blk) ) return SQLITE_CORRUPT;
  rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_epoch(seq, hcommit)"
                       " VALUES(?1, ?2)", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  sqlite3_bind_blob(pStmt, 2, blk.aCommit, BEC_HASH_BYTES, SQLITE_STATIC);
  rc = step_done(pStmt);
  if( rc==SQLITE_OK && aSecret ) rc = seed_restore(p, g, iSeq);
  if( rc==SQLITE_OK ) rc = holder_add(p, iSeq, pOp->aAuthor, 0);
  for(i=0; rc==SQLITE_OK && i<blk.nBox; i++){
    rc = holder_add(p, iSeq, &blk.aBox[i*BEC_E2EE_BOX_BYTES], iSeq);
  }
  /* The back links: the maximal epoch ops in its causal past. */
  if( rc==SQLITE_OK ){
    rc = bec_graph_past(g, BEC_NODE_PREDS(g, iSeq), g->aNode[iSeq].nPred,
                        &aMark);
  }
  for(x=iSeq-1; rc==SQLITE_OK && x>=1; x--){
    if( aMark[x]==1 && is_epoch_kind(g->aNode[x].kind) ){
      /* Maximal: no epoch op of the past above it (marked 2 below). */
      rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_epoch_back"
                           "(epoch, back) VALUES(?1, ?2)", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iSeq);
        sqlite3_bind_int(pStmt, 2, x);
        rc = step_done(pStmt);
      }
    }
    if( aMark[x] && (aMark[x]==2 || is_epoch_kind(g->aNode[x].kind)) ){
      /* Everything below an epoch op of the past is not maximal. */
      const int *a = BEC_NODE_PREDS(g, x);
      int j;
      for(j=0; j<g->aNode[x].nPred; j++) aMark[a[j]] = 2;
    }
  }
  sqlite3_free(aMark);
  if( rc==SQLITE_OK && aSecret
   && box_find(blk.aBox, blk.nBox, &aSecret[BEC_SEED_BYTES]) ){
    rc = open_from(p, aSecret, g, iSeq, iSeq, pzErr);
  }
  return rc;
}

/* Keyshare iSeq: holders and requests, answers to earlier requests. */
static int stored_keyshare(BecCtx *p, BecGraph *g, int iSeq, const BecOp *pOp,
                           const u8 *aSecret, char **pzErr){
  BecReader rd;
  u8 *aMark = 0;
  int nShare = 0, i, rc;
  if( share_open(&rd, pOp->aPayload, pOp->nPayload, &nShare) ){
    return SQLITE_CORRUPT;
  }
  rc = bec_graph_past(g, BEC_NODE_PREDS(g, iSeq), g->aNode[iSeq].nPred, &aMark);
  for(i=0; rc==SQLITE_OK && i<nShare; i++){
    Share s;
    int iE = 0, j;
    sqlite3_stmt *pStmt = 0;
    if( share_next(&rd, &s) ){ rc = SQLITE_CORRUPT; break; }
    rc = bec_dag_seq_of(p, s.aEpoch, &iE);
    if( rc ) break;
    if( s.nBox==0 ){
      rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_epoch_req(epoch,"
                           " prefix, seq) VALUES(?1, ?2, ?3)", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iE);
        sqlite3_bind_blob(pStmt, 2, pOp->aAuthor, BEC_E2EE_PREFIX_BYTES,
                          SQLITE_STATIC);
        sqlite3_bind_int(pStmt, 3, iSeq);
        rc = step_done(pStmt);
      }
      continue;
    }
    for(j=0; rc==SQLITE_OK && j<s.nBox; j++){
      const u8 *aPf = &s.aBox[j*BEC_E2EE_BOX_BYTES];
      rc = holder_add(p, iE, aPf, iSeq);
      /* A request is answered by a share to its author that follows it. */
      if( rc==SQLITE_OK ){
        rc = bec_ctx_stmt(p, "SELECT seq FROM bec_store_epoch_req WHERE"
                             " epoch=?1 AND prefix=?2 AND NOT answered", &pStmt);
      }
      if( rc==SQLITE_OK ){
        int aAns[16], nAns = 0, k;
        sqlite3_bind_int(pStmt, 1, iE);
        sqlite3_bind_blob(pStmt, 2, aPf, BEC_E2EE_PREFIX_BYTES, SQLITE_STATIC);
        while( sqlite3_step(pStmt)==SQLITE_ROW && nAns<16 ){
          int r = sqlite3_column_int(pStmt, 0);
          if( r>=1 && r<iSeq && aMark[r] ) aAns[nAns++] = r;
        }
        rc = sqlite3_reset(pStmt);
        for(k=0; rc==SQLITE_OK && k<nAns; k++){
          rc = bec_ctx_stmt(p, "UPDATE bec_store_epoch_req SET answered=1"
                               " WHERE epoch=?1 AND prefix=?2 AND seq=?3", &pStmt);
          if( rc==SQLITE_OK ){
            sqlite3_bind_int(pStmt, 1, iE);
            sqlite3_bind_blob(pStmt, 2, aPf, BEC_E2EE_PREFIX_BYTES, SQLITE_STATIC);
            sqlite3_bind_int(pStmt, 3, aAns[k]);
            rc = step_done(pStmt);
          }
        }
      }
    }
    if( rc==SQLITE_OK && aSecret
     && box_find(s.aBox, s.nBox, &aSecret[BEC_SEED_BYTES]) ){
      int bHave = 0;
      rc = seed_get_seq(p, aSecret, iE, 0, &bHave);
      if( rc==SQLITE_OK && !bHave ) rc = open_from(p, aSecret, g, iE, iSeq, pzErr);
    }
  }
  sqlite3_free(aMark);
  return rc;
}

/* A stored envelope: the epochs it names (bec_store_epoch_named).  A run
** of ops under the same epochs is recorded once (BecCtx.aE2eeNamed). */
static int has_envelope(const BecOp*);
static int envelope_parse(const u8*, i64, Envelope*);
static int stored_named(BecCtx *p, const BecOp *pOp, char **pzErr){
  Envelope env;
  u8 aWhich[BEC_HASH_BYTES];
  int rc = SQLITE_OK, i;
  if( envelope_parse(pOp->aPayload, pOp->nPayload, &env) ) return SQLITE_OK;
  bec_crypto_hash(env.aEpoch, (i64)env.nEpoch*BEC_HASH_BYTES, aWhich);
  if( p->bE2eeNamed && memcmp(aWhich, p->aE2eeNamed, sizeof(aWhich))==0 ){
    return SQLITE_OK;
  }
  for(i=0; rc==SQLITE_OK && i<env.nEpoch; i++){
    sqlite3_stmt *pStmt = 0;
    rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_epoch_named(epoch)"
                         " SELECT seq FROM bec_store_op o WHERE "
                         BEC_OP_ID_IS("o", "?2", "?1"), &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_blob(pStmt, 1, &env.aEpoch[i*BEC_HASH_BYTES], BEC_HASH_BYTES,
                        SQLITE_STATIC);
      sqlite3_bind_blob(pStmt, 2, &env.aEpoch[i*BEC_HASH_BYTES], BEC_ID_PREFIX,
                        SQLITE_STATIC);
      rc = step_done(pStmt);
    }
  }
  if( rc==SQLITE_OK ){
    memcpy(p->aE2eeNamed, aWhich, sizeof(aWhich));
    p->bE2eeNamed = 1;
  }else if( *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot record epoch keys: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

static int e2ee_stored(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  BecGraph *g = 0;
  const u8 *aSecret;
  int rc, nBefore = 0, nAfter = 0;
  /* Only schema and write ops leave what the safety rule reads as it was
  ** (epochs, holders, requests, readers, seeds). */
  if( !is_table_kind(pOp->kind) ) p->nE2eeRule = 0;
  else rule_follow(p, iSeq);
  if( has_envelope(pOp) ) return stored_named(p, pOp, pzErr);
  if( !bec_kind_derives(pOp->kind, BEC_DERIVE_E2EE) ) return SQLITE_OK;
  rc = bec_graph_get(p, &g, pzErr);
  if( rc ) return rc;
  aSecret = identity(p);
  if( aSecret ) rc = seed_count(p, &nBefore);
  if( rc==SQLITE_OK && is_epoch_kind(pOp->kind) ){
    rc = stored_epoch(p, g, iSeq, pOp, aSecret, pzErr);
  }else if( rc==SQLITE_OK ){
    rc = stored_keyshare(p, g, iSeq, pOp, aSecret, pzErr);
  }
  if( rc==SQLITE_OK && aSecret ) rc = seed_count(p, &nAfter);
  if( rc==SQLITE_OK && nAfter>nBefore ) rc = unlock_ops(p, pzErr);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot record epoch keys: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/* bec_check(): every epoch op has its row with its commit, and every seed
** this replica holds opens and matches its commitment. */
static int e2ee_check(BecCtx *p, char **pzProblems, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecBuf out;
  const u8 *aSecret = identity(p);
  int rc;
  memset(&out, 0, sizeof(out));
  *pzProblems = 0;
  /* (no graph: bec_check must not cache one built from damaged rows) */
  rc = bec_ctx_stmt(p, "SELECT o.seq, e.hcommit, o.hash FROM bec_store_op o"
      " LEFT JOIN bec_store_epoch e ON e.seq=o.seq WHERE o.kind IN (?1, ?2)"
      " ORDER BY o.seq", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, BEC_KIND_ENCRYPT);
  sqlite3_bind_int(pStmt, 2, BEC_KIND_REKEY);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0), bHave = 0;
    u8 aSeed[BEC_E2EE_SEED_BYTES], aCommit[BEC_HASH_BYTES];
    if( sqlite3_column_bytes(pStmt, 1)!=BEC_HASH_BYTES ){
      bec_buf_appendf(&out, &rc, "e2ee: epoch op %d has no bec_store_epoch "
                      "row\n", x);
      continue;
    }
    if( aSecret==0 || sqlite3_column_bytes(pStmt, 2)!=BEC_HASH_BYTES ) continue;
    rc = seed_get(p, aSecret, sqlite3_column_blob(pStmt, 2), x, aSeed, &bHave);
    if( rc==SQLITE_OK && bHave ){
      bec_e2ee_commit(aSeed, aCommit);
      if( memcmp(aCommit, sqlite3_column_blob(pStmt, 1), BEC_HASH_BYTES) ){
        bec_buf_appendf(&out, &rc, "e2ee: the seed held for epoch op %d fails "
                        "its commitment\n", x);
      }
    }
    bec_crypto_wipe(aSeed, sizeof(aSeed));
  }
  bec_stmt_reset(pStmt, &rc);
  if( rc==SQLITE_OK && out.n ){
    out.a[out.n-1] = 0;                       /* the last newline */
    *pzProblems = sqlite3_mprintf("%s", (const char*)out.a);
    if( *pzProblems==0 ) rc = SQLITE_NOMEM;
  }
  bec_buf_free(&out);
  return rc;
}

static void key_cache_wipe(BecCtx*);
static void e2ee_forget(BecCtx *p){
  key_cache_wipe(p);
  p->nE2eeRule = 0;
  p->bE2eeNamed = 0;
}

/* A change of validity can change E (an epoch op's) and the readers (a
** membership op's): the safety rule is asked again. */
static int e2ee_validity(BecCtx *p, const int *aSeq, int n, char **pzErr){
  (void)aSeq; (void)n; (void)pzErr;
  p->nE2eeRule = 0;
  return SQLITE_OK;
}

/* A fall-back to a full join (bec_rejoin.c): everything this file derived
** from the ops is dropped and derived again as they are stored, except
** this replica's seeds, which no op gives back when its identity is locked
** as they come (and which it may have learnt through ops that arrive
** later than the epoch op): kept by the epoch op's id, the sealed copies
** as they are (their AD is that id), in bec_store_epoch_kept, and put back
** under the new seq when the epoch op is stored again (stored_epoch). */
static int e2ee_reset(BecCtx *p, int bProbe, char **pzWhyNot, char **pzErr){
  int rc;
  (void)pzWhyNot;
  if( bProbe ) return SQLITE_OK;
  rc = bec_ctx_exec(p,
      "INSERT OR REPLACE INTO bec_store_epoch_kept(id, nonce, sealed)"
      "  SELECT o.hash, k.nonce, k.sealed FROM bec_store_epoch_key k"
      "  JOIN bec_store_op o ON o.seq=k.epoch;"
      "DELETE FROM bec_store_epoch; DELETE FROM bec_store_epoch_holder;"
      "DELETE FROM bec_store_epoch_back; DELETE FROM bec_store_epoch_req;"
      "DELETE FROM bec_store_epoch_key; DELETE FROM bec_store_epoch_bad;"
      "DELETE FROM bec_store_epoch_named;", pzErr);
  e2ee_forget(p);
  return rc;
}

const BecDeriver bec_e2ee_deriver = {
  "e2ee", BEC_DERIVE_ANY,
  e2ee_schema, e2ee_admit, e2ee_stored, e2ee_validity, e2ee_check, e2ee_forget,
  e2ee_reset
};

/**************************************************************************
** Local ops.
*/
/* The seqs that statement zSql (a string literal, no parameters) yields. */
static int ints_query(BecCtx *p, const char *zSql, BecInts *v){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, zSql, &pStmt);
  if( rc ) return rc;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    rc = bec_ints_push(v, sqlite3_column_int(pStmt, 0));
  }
  bec_stmt_reset(pStmt, &rc);
  return rc;
}

/* Remembers whether aKey converts (bec_store_epoch_xpk). */
static int xpk_remember(BecCtx *p, const u8 *aKey, int bOk){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_epoch_xpk(pubkey,"
                           " ok) VALUES(?1, ?2)", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aKey, BEC_PUBKEY_BYTES, SQLITE_TRANSIENT);
  sqlite3_bind_int(pStmt, 2, bOk);
  return step_done(pStmt);
}

/* The current epochs E (what E2EE_CURRENT says) into pOut, in seq order,
** or in hash order if bHash: the valid epochs that no valid epoch follows
** through back links.  Computed here from the two small tables rather than
** by the recursive query, which every local write asks several times; it
** reads stored rows only (the ids too), not the graph. */
static int current_epochs(BecCtx *p, int bHash, BecInts *pOut, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecInts ep, todo;
  u8 *aState = 0;           /* per seq: 1 epoch, 2 valid epoch, |4 covered */
  u8 *aId = 0;              /* bHash: the ids of pOut, in its order */
  int rc, i, nNode;
  memset(&ep, 0, sizeof(ep));
  memset(&todo, 0, sizeof(todo));
  pOut->n = 0;
  rc = bec_graph_check(p, pzErr);
  if( rc ) return rc;
  nNode = p->nKnown;
  aState = sqlite3_malloc64((sqlite3_uint64)nNode + 1);
  if( aState==0 ) return SQLITE_NOMEM;
  memset(aState, 0, (size_t)nNode + 1);
  rc = bec_ctx_stmt(p, "SELECT e.seq, o.valid FROM bec_store_epoch e"
                       " CROSS JOIN bec_store_op o ON o.seq=e.seq", &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0);
    if( x<1 || x>nNode ) continue;
    aState[x] = sqlite3_column_int(pStmt, 1) ? 2 : 1;
    rc = bec_ints_push(&ep, x);
  }
  if( pStmt ){
    bec_stmt_reset(pStmt, &rc);
  }
  /* Everything a valid epoch reaches through back links is covered. */
  for(i=0; rc==SQLITE_OK && i<ep.n; i++){
    if( aState[ep.a[i]] & 2 ) rc = bec_ints_push(&todo, ep.a[i]);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT back FROM bec_store_epoch_back WHERE epoch=?1",
                      &pStmt);
  }
  while( rc==SQLITE_OK && todo.n>0 ){
    int x = todo.a[--todo.n];
    sqlite3_bind_int(pStmt, 1, x);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      int y = sqlite3_column_int(pStmt, 0);
      if( y<1 || y>nNode || (aState[y] & 4) ) continue;
      aState[y] |= 4;
      rc = bec_ints_push(&todo, y);
    }
    bec_stmt_reset(pStmt, &rc);
  }
  for(i=0; rc==SQLITE_OK && i<ep.n; i++){
    if( aState[ep.a[i]]==2 ) rc = bec_ints_push(pOut, ep.a[i]);
  }
  if( rc==SQLITE_OK && bHash && pOut->n>1 ){
    /* seq order (the rows came in seq order), or hash order: the full ids
    ** compared, as bec_graph_id_cmp orders */
    BecBuf ids;
    memset(&ids, 0, sizeof(ids));
    for(i=0; i<pOut->n; i++) epoch_id_append(p, pOut->a[i], &ids, &rc);
    aId = ids.a;
    for(i=1; rc==SQLITE_OK && i<pOut->n; i++){    /* a few: insertion sort */
      u8 aX[BEC_HASH_BYTES];
      int x = pOut->a[i], j = i;
      memcpy(aX, &aId[i*BEC_HASH_BYTES], BEC_HASH_BYTES);
      while( j>0 && memcmp(&aId[(j-1)*BEC_HASH_BYTES], aX, BEC_HASH_BYTES)>0 ){
        pOut->a[j] = pOut->a[j-1];
        memcpy(&aId[j*BEC_HASH_BYTES], &aId[(j-1)*BEC_HASH_BYTES],
               BEC_HASH_BYTES);
        j--;
      }
      pOut->a[j] = x;
      memcpy(&aId[j*BEC_HASH_BYTES], aX, BEC_HASH_BYTES);
    }
  }
  sqlite3_free(aId);
  sqlite3_free(ep.a);
  sqlite3_free(todo.a);
  sqlite3_free(aState);
  return rc;
}

/* The install's dry run (bec_install.c): the scratch database holds no
** key, and its parent holds no op yet (so p2->pKeys, the replay's way to
** open, finds no seed); the parent's identity lent to it opens the boxes
** of the cut's epoch ops and keyshares as they are stored there, and so
** the schema ops of the cut, whichever comes first by depth (a locked op
** is judged again once its seeds arrive: unlock_ops).  The scratch seals
** the seeds in its own bec_store_epoch_key, closed with it, and wipes
** the copy when its context goes (bec_ctx.c). */
void bec_e2ee_lend_identity(BecCtx *p2, BecCtx *p){
  const u8 *aSecret = identity(p);
  if( aSecret==0 ) return;
  memcpy(p2->aSecret, aSecret, sizeof(p2->aSecret));
  memcpy(p2->aPub, &aSecret[BEC_SEED_BYTES], sizeof(p2->aPub));
  p2->bUnlocked = 1;
  p2->eKeySrc = BEC_KEY_MEMORY;
}

int bec_e2ee_install_held(BecCtx *p, int *piEpoch, char **pzErr){
  BecInts cur;
  const u8 *aSecret = identity(p);
  int rc, i;
  memset(&cur, 0, sizeof(cur));
  *piEpoch = 0;
  rc = current_epochs(p, 0, &cur, pzErr);
  for(i=0; rc==SQLITE_OK && i<cur.n && *piEpoch==0; i++){
    int bHave = 0;
    rc = seed_get_seq(p, aSecret, cur.a[i], 0, &bHave);
    if( rc==SQLITE_OK && (!bHave || aSecret==0) ) *piEpoch = cur.a[i];
  }
  sqlite3_free(cur.a);
  return rc;
}

/**************************************************************************
** An encrypted group's snapshot in sync (docs/encryption.md "Snapshots in
** sync").
** S(K) carries the readers' state in plaintext, so a provider gives it
** only to a key that reads the group, sealed to that key: whoever relays
** or asks in its name holds bytes it cannot open.  The rule, on the
** provider's view:
**   - now: the key is a current member or admin (a reader) and holds the
**     seed of every current epoch here (holders(e)): what it could read
**     of the history anyway, since a holder of the current epochs walks
**     back to every earlier one; a removed member, a relay or a stranger
**     gets none;
**   - at K: it holds a box of every epoch current at K among the cut's ops
**     (S(K)'s epochs section): else its install could not open the cut's
**     schema ops (bec_e2ee_install_held refuses it) and the bytes would be
**     wasted; a member added after K replays the history instead.
** The sealed form (the snap field of a sync message, ext bit SEALED):
**   checkpoint:32 || box(K_m, reader) || nonce || AEAD(snapshot, AD, K_m)
** with AD = "bec-e2ee-snapshot-v1" || group id || checkpoint || reader key
** (bec_e2ee_reader_seal): a copy sent for another group, checkpoint or
** key does not authenticate.
*/
#define DOM_SNAPSHOT "bec-e2ee-snapshot-v1"

static void snapshot_ad(const u8 *aGroup, const u8 *aK, const u8 *aReader,
                        u8 *aAd){
  memcpy(aAd, DOM_SNAPSHOT, sizeof(DOM_SNAPSHOT)-1);
  memcpy(&aAd[sizeof(DOM_SNAPSHOT)-1], aGroup, BEC_HASH_BYTES);
  memcpy(&aAd[sizeof(DOM_SNAPSHOT)-1+BEC_HASH_BYTES], aK, BEC_HASH_BYTES);
  memcpy(&aAd[sizeof(DOM_SNAPSHOT)-1+2*BEC_HASH_BYTES], aReader,
         BEC_PUBKEY_BYTES);
}
#define SNAPSHOT_AD_BYTES (sizeof(DOM_SNAPSHOT)-1+2*BEC_HASH_BYTES+BEC_PUBKEY_BYTES)

/* identity(), with a failure of this database (out of memory) returned
** rather than taken for "no identity": *paSecret 0 when there is none or
** it is locked. */
static int identity_rc(BecCtx *p, const u8 **paSecret){
  char *zErr = 0;
  int rc = bec_dag_secret(p, paSecret, &zErr);
  sqlite3_free(zErr);
  if( rc ) *paSecret = 0;
  return (rc & 0xff)==SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_OK;
}

int bec_e2ee_snapshot_key(BecCtx *p, const u8 **paKey){
  const u8 *aSecret = 0;
  int rc = identity_rc(p, &aSecret);
  *paKey = aSecret ? &aSecret[BEC_SEED_BYTES] : 0;
  return rc;
}

/* The index of epoch aId among the snapshot's (sorted by id), or -1. */
static int snap_epoch_find(const BecSnapState *pSt, const u8 *aId){
  int lo = 0, hi = pSt->nEpoch - 1;
  while( lo<=hi ){
    int mid = (lo+hi)/2;
    int c = memcmp(pSt->aEpoch[mid].aId, aId, BEC_HASH_BYTES);
    if( c==0 ) return mid;
    if( c<0 ) lo = mid+1; else hi = mid-1;
  }
  return -1;
}

/* *pbHolds: aKey holds a box of every epoch current at K in pSt (the
** valid epochs of the cut that no valid epoch of the cut reaches through
** back links, as E2EE_CURRENT says of a replica's own). */
static int snap_reader_at_k(const BecSnapState *pSt, const u8 *aKey,
                            int *pbHolds){
  BecInts todo;
  u8 *aCov = 0;
  int rc = SQLITE_OK, i;
  u64 j;
  memset(&todo, 0, sizeof(todo));
  *pbHolds = 1;
  if( pSt->nEpoch==0 ) return SQLITE_OK;
  aCov = sqlite3_malloc64((sqlite3_uint64)pSt->nEpoch);
  if( aCov==0 ) return SQLITE_NOMEM;
  memset(aCov, 0, (size_t)pSt->nEpoch);
  for(i=0; rc==SQLITE_OK && i<pSt->nEpoch; i++){
    const BecSnapEpoch *e = &pSt->aEpoch[i];
    for(j=0; rc==SQLITE_OK && e->bValid && j<e->nBack; j++){
      rc = bec_ints_push(&todo, snap_epoch_find(pSt, &e->aBack[j*BEC_HASH_BYTES]));
    }
  }
  while( rc==SQLITE_OK && todo.n>0 ){
    int x = todo.a[--todo.n];
    const BecSnapEpoch *e;
    if( x<0 || aCov[x] ) continue;
    aCov[x] = 1;
    e = &pSt->aEpoch[x];
    for(j=0; rc==SQLITE_OK && j<e->nBack; j++){
      rc = bec_ints_push(&todo, snap_epoch_find(pSt, &e->aBack[j*BEC_HASH_BYTES]));
    }
  }
  for(i=0; rc==SQLITE_OK && *pbHolds && i<pSt->nEpoch; i++){
    const BecSnapEpoch *e = &pSt->aEpoch[i];
    int bBox = 0;
    if( !e->bValid || aCov[i] ) continue;
    for(j=0; j<e->nHolder && !bBox; j++){
      bBox = memcmp(&e->aHolders[j*(BEC_E2EE_PREFIX_BYTES+BEC_HASH_BYTES)],
                    aKey, BEC_E2EE_PREFIX_BYTES)==0;
    }
    if( !bBox ) *pbHolds = 0;
  }
  sqlite3_free(todo.a);
  sqlite3_free(aCov);
  return rc;
}

int bec_e2ee_snapshot_reader(BecCtx *p, const u8 *aKey,
                             const BecSnapState *pSt, char **pzWhy,
                             char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecInts cur;
  char zKey[2*BEC_E2EE_PREFIX_BYTES+1];
  int rc, bReader = 0, bHolds = 1, i;
  memset(&cur, 0, sizeof(cur));
  *pzWhy = 0;
  bec_hex_encode(aKey, BEC_E2EE_PREFIX_BYTES, zKey);
  rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_member WHERE pubkey=?1"
                       " AND role IN (1,2)", &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aKey, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    bReader = sqlite3_step(pStmt)==SQLITE_ROW;
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK && !bReader ){
    *pzWhy = sqlite3_mprintf("the group is encrypted and the key that asks "
        "(%s...) is no member or admin here: S(K)'s rows are for its readers",
        zKey);
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ) rc = current_epochs(p, 0, &cur, pzErr);
  for(i=0; rc==SQLITE_OK && bHolds && i<cur.n; i++){
    rc = bec_ctx_stmt(p, "SELECT 1 FROM (" E2EE_HOLDERS("?1") ") WHERE pf=?2",
                      &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, cur.a[i]);
      sqlite3_bind_blob(pStmt, 2, aKey, BEC_E2EE_PREFIX_BYTES, SQLITE_STATIC);
      bHolds = sqlite3_step(pStmt)==SQLITE_ROW;
      rc = sqlite3_reset(pStmt);
    }
  }
  sqlite3_free(cur.a);
  if( rc==SQLITE_OK && !bHolds ){
    *pzWhy = sqlite3_mprintf("the group is encrypted and the key that asks "
        "(%s...) does not hold the current epoch's key here (no box of it "
        "yet)", zKey);
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ) rc = snap_reader_at_k(pSt, aKey, &bHolds);
  if( rc==SQLITE_OK && !bHolds ){
    *pzWhy = sqlite3_mprintf("the group is encrypted and the key that asks "
        "(%s...) holds no box of an epoch current at the checkpoint (added "
        "after it?): it could not open the snapshot's tables, and replays "
        "the history", zKey);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  return rc;
}

int bec_e2ee_snapshot_seal(BecCtx *p, const u8 *aKey, const u8 *aK,
                           BecBuf *pSnap, char **pzErr){
  u8 aGroup[BEC_HASH_BYTES];
  u8 aAd[SNAPSHOT_AD_BYTES];
  u8 *aOut = 0;
  i64 nOut = BEC_HASH_BYTES + BEC_E2EE_READER_BYTES + pSnap->n;
  int rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK ){
    aOut = sqlite3_malloc64((sqlite3_uint64)nOut);
    if( aOut==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ){
    snapshot_ad(aGroup, aK, aKey, aAd);
    memcpy(aOut, aK, BEC_HASH_BYTES);
    if( bec_e2ee_reader_seal(aKey, aAd, sizeof(aAd), pSnap->a, pSnap->n,
                             &aOut[BEC_HASH_BYTES]) ){
      *pzErr = sqlite3_mprintf("bec_sync_apply: the key that asks for the "
                               "snapshot cannot receive keys");
      rc = SQLITE_ERROR;
    }
  }
  if( rc==SQLITE_OK ){
    bec_crypto_wipe(pSnap->a, (size_t)pSnap->n);
    bec_buf_free(pSnap);
    pSnap->a = aOut;
    pSnap->n = pSnap->nAlloc = nOut;
  }else{
    sqlite3_free(aOut);
    if( *pzErr==0 ){
      *pzErr = sqlite3_mprintf("bec_sync_apply: cannot seal the snapshot: %s",
                               bec_rc_text(p->db, rc));
    }
  }
  return rc;
}

int bec_e2ee_snapshot_open(BecCtx *p, const u8 *a, i64 n, u8 **ppOut,
                           i64 *pnOut, char **pzWhy, char **pzErr){
  u8 aGroup[BEC_HASH_BYTES];
  u8 aAd[SNAPSHOT_AD_BYTES];
  const u8 *aSecret = 0;
  const char *zWhy = 0;
  u8 *aPt = 0;
  i64 nPt = n - BEC_HASH_BYTES - BEC_E2EE_READER_BYTES;
  int rc = identity_rc(p, &aSecret);
  *ppOut = 0;
  *pnOut = 0;
  *pzWhy = 0;
  if( rc ){
    return rc;
  }else if( nPt<1 ){
    zWhy = "it is truncated";
  }else if( aSecret==0 ){
    zWhy = "this replica's identity is locked or absent";
  }
  if( zWhy==0 ) rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK && zWhy==0 ){
    aPt = sqlite3_malloc64((sqlite3_uint64)nPt);
    if( aPt==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && zWhy==0 ){
    snapshot_ad(aGroup, a, &aSecret[BEC_SEED_BYTES], aAd);
    zWhy = bec_e2ee_reader_open(aSecret, aAd, sizeof(aAd), &a[BEC_HASH_BYTES],
                                n - BEC_HASH_BYTES, aPt);
  }
  if( rc==SQLITE_OK && zWhy ){
    *pzWhy = sqlite3_mprintf("the sealed snapshot does not open: %s", zWhy);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && zWhy==0 ){
    *ppOut = aPt;
    *pnOut = nPt;
  }else if( aPt ){
    bec_crypto_wipe(aPt, (size_t)nPt);
    sqlite3_free(aPt);
  }
  return rc;
}

/* The readers' keys (n * 32 bytes into *pKeys) that can receive boxes. */
static int readers(BecCtx *p, BecBuf *pKeys, int *pn){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, E2EE_READERS, &pStmt);
  *pn = 0;
  if( rc ) return rc;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    u8 aX[BEC_E2EE_KEY_BYTES];
    const u8 *aK = sqlite3_column_blob(pStmt, 0);
    int bOk;
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_PUBKEY_BYTES ) continue;
    if( sqlite3_column_type(pStmt, 1)==SQLITE_NULL ){
      bOk = bec_e2ee_xpk(aK, aX)==SQLITE_OK;
      rc = xpk_remember(p, aK, bOk);
    }else{
      bOk = sqlite3_column_int(pStmt, 1)!=0;
    }
    if( !bOk ) continue;
    bec_buf_append(pKeys, aK, BEC_PUBKEY_BYTES, &rc);
    (*pn)++;
  }
  bec_stmt_reset(pStmt, &rc);
  return rc;
}

static int cmp_prefix(const void *a, const void *b){
  return memcmp(a, b, BEC_E2EE_PREFIX_BYTES);
}

/* Signs an epoch op of kind (encrypt or rekey): a fresh seed sealed to
** every reader of this replica's view, its back list the seeds of the
** maximal epochs this replica holds. */
static int epoch_append(BecCtx *p, int kind, u8 *aHashOut, char **pzErr){
  BecBuf keys, boxes, back, pay, ad;
  BecInts top;
  const u8 *aSecret = 0;
  u8 aSeed[BEC_E2EE_SEED_BYTES], aCommit[BEC_HASH_BYTES];
  u8 aGroup[BEC_HASH_BYTES], aNonce[BEC_E2EE_NONCE_BYTES];
  u8 aKey[BEC_E2EE_KEY_BYTES];
  int rc, nKey = 0, i, nBack = 0;

  memset(&keys, 0, sizeof(keys)); memset(&boxes, 0, sizeof(boxes));
  memset(&back, 0, sizeof(back)); memset(&pay, 0, sizeof(pay));
  memset(&ad, 0, sizeof(ad)); memset(&top, 0, sizeof(top));
  rc = bec_dag_secret(p, &aSecret, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK ) rc = catch_up(p, aSecret, pzErr);
  if( rc==SQLITE_OK ) rc = readers(p, &keys, &nKey);
  if( rc==SQLITE_OK && nKey==0 ){
    *pzErr = sqlite3_mprintf("no member of the group can receive keys");
    rc = SQLITE_ERROR;
  }
  bec_crypto_random(aSeed, sizeof(aSeed));
  bec_e2ee_commit(aSeed, aCommit);
  for(i=0; rc==SQLITE_OK && i<nKey; i++){
    u8 aBox[BEC_E2EE_BOX_BYTES];
    if( bec_e2ee_box_seal(aSeed, &keys.a[i*BEC_PUBKEY_BYTES], aBox)==SQLITE_OK ){
      bec_buf_append(&boxes, aBox, sizeof(aBox), &rc);
    }
  }
  if( rc==SQLITE_OK ){
    int nBox = (int)(boxes.n/BEC_E2EE_BOX_BYTES);
    qsort(boxes.a, (size_t)nBox, BEC_E2EE_BOX_BYTES, cmp_prefix);
    for(i=1; i<nBox; i++){
      if( cmp_prefix(&boxes.a[(i-1)*BEC_E2EE_BOX_BYTES],
                     &boxes.a[i*BEC_E2EE_BOX_BYTES])==0 ){
        *pzErr = sqlite3_mprintf("two members' keys share their first %d "
                                 "bytes", BEC_E2EE_PREFIX_BYTES);
        rc = SQLITE_ERROR;
      }
    }
  }
  /* The back list: the maximal stored epochs, valid or not, that it holds
  ** (hash order: bec_store_op.hash is the epoch's id). */
  if( rc==SQLITE_OK ){
    rc = ints_query(p, "SELECT e.seq FROM bec_store_epoch e JOIN bec_store_op o"
        " ON o.seq=e.seq WHERE e.seq NOT IN (SELECT back FROM"
        " bec_store_epoch_back) ORDER BY o.hash", &top);
  }
  for(i=0; rc==SQLITE_OK && i<top.n; i++){
    u8 aOld[BEC_E2EE_SEED_BYTES];
    int bHave = 0;
    rc = seed_get_seq(p, aSecret, top.a[i], aOld, &bHave);
    if( rc==SQLITE_OK && bHave ){
      epoch_id_append(p, top.a[i], &back, &rc);
      bec_buf_append(&back, aOld, BEC_E2EE_SEED_BYTES, &rc);
      nBack++;
    }
    bec_crypto_wipe(aOld, sizeof(aOld));
  }
  if( rc==SQLITE_OK ){
    BecBuf pt;
    memset(&pt, 0, sizeof(pt));
    bec_buf_append_varint(&pt, (u64)nBack, &rc);
    bec_buf_append(&pt, back.a, back.n, &rc);
    bec_buf_append(&ad, "bec-e2ee-back-v1", 16, &rc);
    bec_buf_append(&ad, aGroup, BEC_HASH_BYTES, &rc);
    bec_buf_append(&ad, &aSecret[BEC_SEED_BYTES], BEC_PUBKEY_BYTES, &rc);
    bec_buf_append(&ad, aCommit, BEC_HASH_BYTES, &rc);
    bec_buf_append_u8(&pay, BEC_E2EE_BLOCK_VERSION, &rc);
    bec_buf_append(&pay, aCommit, BEC_HASH_BYTES, &rc);
    bec_buf_append_varint(&pay, (u64)(boxes.n/BEC_E2EE_BOX_BYTES), &rc);
    bec_buf_append(&pay, boxes.a, boxes.n, &rc);
    bec_crypto_random(aNonce, sizeof(aNonce));
    bec_buf_append(&pay, aNonce, sizeof(aNonce), &rc);
    bec_buf_append_varint(&pay, (u64)(pt.n + BEC_E2EE_TAG_BYTES), &rc);
    if( rc==SQLITE_OK ){
      i64 iCt = pay.n;
      u8 z[BEC_E2EE_TAG_BYTES] = {0};
      bec_buf_append(&pay, pt.a, pt.n, &rc);
      bec_buf_append(&pay, z, sizeof(z), &rc);
      if( rc==SQLITE_OK ){
        bec_e2ee_back_key(aSeed, aKey);
        bec_e2ee_aead_seal(aKey, aNonce, ad.a, ad.n, pt.a, pt.n, &pay.a[iCt]);
      }
    }
    if( pt.a ) bec_crypto_wipe(pt.a, (size_t)pt.nAlloc);
    bec_buf_free(&pt);
  }
  if( rc==SQLITE_OK ){
    rc = bec_dag_append(p, kind, pay.a, pay.n, aHashOut, pzErr);
  }
  bec_crypto_wipe(aSeed, sizeof(aSeed));
  bec_crypto_wipe(aKey, sizeof(aKey));
  if( back.a ) bec_crypto_wipe(back.a, (size_t)back.nAlloc);
  bec_buf_free(&keys); bec_buf_free(&boxes); bec_buf_free(&back);
  bec_buf_free(&pay); bec_buf_free(&ad);
  sqlite3_free(top.a);
  return rc;
}

/* The holder prefixes of epoch iEpoch (*pn of them) into pOut. */
static int holders_load(BecCtx *p, int iEpoch, BecBuf *pOut, int *pn){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, E2EE_HOLDERS("?1"), &pStmt);
  pOut->n = 0;
  *pn = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iEpoch);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_E2EE_PREFIX_BYTES ) continue;
    bec_buf_append(pOut, sqlite3_column_blob(pStmt, 0), BEC_E2EE_PREFIX_BYTES,
                   &rc);
    (*pn)++;
  }
  bec_stmt_reset(pStmt, &rc);
  return rc;
}

/* 1 if the first bytes of aKey are among the n prefixes of aPf. */
static int prefix_in(const u8 *aPf, int n, const u8 *aKey){
  int i;
  for(i=0; i<n; i++){
    if( memcmp(&aPf[i*BEC_E2EE_PREFIX_BYTES], aKey, BEC_E2EE_PREFIX_BYTES)==0 ){
      return 1;
    }
  }
  return 0;
}

/* Signs the nShare shares in pShares as one keyshare op. */
static int keyshare_append(BecCtx *p, int nShare, const BecBuf *pShares,
                           char **pzErr){
  BecBuf op;
  u8 aHash[BEC_HASH_BYTES];
  int rc = SQLITE_OK;
  memset(&op, 0, sizeof(op));
  bec_buf_append_varint(&op, (u64)nShare, &rc);
  bec_buf_append(&op, pShares->a, pShares->n, &rc);
  if( rc==SQLITE_OK ){
    rc = bec_dag_append(p, BEC_KIND_KEYSHARE, op.a, op.n, aHash, pzErr);
  }
  bec_buf_free(&op);
  return rc;
}

/*
** Heal (E2EE.md section 8): for each epoch considered (the current ones if
** bCurrent, else every stored epoch), a box for each reader missing from its
** holders whose key converts, when this replica holds the seed; a request
** when it lacks the seed, unless its own request is still unanswered.  One
** keyshare op per 1024 shares; *pnShare: the shares signed.  Does nothing
** in a plaintext group, without an unlocked identity, or when this replica
** is not a reader.
*/
static int heal(BecCtx *p, int bCurrent, int *pnShare, char **pzErr){
  BecBuf keys, pay;
  BecInts ep;
  const u8 *aSecret = identity(p);
  int rc, bEnc = 0, nKey = 0, bMe = 0, i, j, nShare = 0;

  *pnShare = 0;
  memset(&keys, 0, sizeof(keys)); memset(&pay, 0, sizeof(pay));
  memset(&ep, 0, sizeof(ep));
  rc = group_encrypted(p, &bEnc);
  if( rc || !bEnc || aSecret==0 ) return rc;
  rc = readers(p, &keys, &nKey);
  for(i=0; rc==SQLITE_OK && i<nKey; i++){
    if( memcmp(&keys.a[i*BEC_PUBKEY_BYTES], &aSecret[BEC_SEED_BYTES],
               BEC_PUBKEY_BYTES)==0 ) bMe = 1;
  }
  if( rc==SQLITE_OK && bMe ){
    int nBefore = 0, nAfter = 0;
    rc = seed_count(p, &nBefore);
    if( rc==SQLITE_OK ) rc = catch_up(p, aSecret, pzErr);
    if( rc==SQLITE_OK ) rc = seed_count(p, &nAfter);
    if( rc==SQLITE_OK && nAfter>nBefore ) rc = unlock_ops(p, pzErr);
  }
  if( rc==SQLITE_OK && bMe ){
    rc = bCurrent ? current_epochs(p, 0, &ep, pzErr)
       : ints_query(p, "SELECT e.seq FROM bec_store_epoch e JOIN bec_store_op"
                       " o ON o.seq=e.seq WHERE o.valid OR e.seq IN (SELECT"
                       " epoch FROM bec_store_epoch_named) ORDER BY e.seq", &ep);
  }
  for(i=0; rc==SQLITE_OK && bMe && i<ep.n; i++){
    u8 aSeed[BEC_E2EE_SEED_BYTES];
    int bHave = 0, bIn = 0;
    rc = seed_get_seq(p, aSecret, ep.a[i], aSeed, &bHave);
    if( rc==SQLITE_OK && !bHave ){
      /* Ask, unless an own request is still unanswered. */
      sqlite3_stmt *pStmt = 0;
      rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_epoch_req WHERE epoch=?1"
                           " AND prefix=?2 AND NOT answered", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, ep.a[i]);
        sqlite3_bind_blob(pStmt, 2, &aSecret[BEC_SEED_BYTES],
                          BEC_E2EE_PREFIX_BYTES, SQLITE_STATIC);
        bIn = sqlite3_step(pStmt)==SQLITE_ROW;
        rc = sqlite3_reset(pStmt);
      }
      if( rc==SQLITE_OK && !bIn ){
        epoch_id_append(p, ep.a[i], &pay, &rc);
        bec_buf_append_varint(&pay, 0, &rc);
        nShare++;
      }
    }else if( rc==SQLITE_OK ){
      BecBuf share, hold;
      int nBox = 0, nHold = 0;
      memset(&share, 0, sizeof(share));
      memset(&hold, 0, sizeof(hold));
      rc = holders_load(p, ep.a[i], &hold, &nHold);
      /* The readers are in key order, so the boxes are in prefix order. */
      for(j=0; rc==SQLITE_OK && j<nKey; j++){
        const u8 *aK = &keys.a[j*BEC_PUBKEY_BYTES];
        if( !prefix_in(hold.a, nHold, aK) ){
          u8 aBox[BEC_E2EE_BOX_BYTES];
          if( bec_e2ee_box_seal(aSeed, aK, aBox)==SQLITE_OK ){
            bec_buf_append(&share, aBox, sizeof(aBox), &rc);
            nBox++;
          }
        }
      }
      if( rc==SQLITE_OK && nBox>0 ){
        epoch_id_append(p, ep.a[i], &pay, &rc);
        bec_buf_append_varint(&pay, (u64)nBox, &rc);
        bec_buf_append(&pay, share.a, share.n, &rc);
        nShare++;
      }
      bec_buf_free(&share);
      bec_buf_free(&hold);
    }
    bec_crypto_wipe(aSeed, sizeof(aSeed));
    if( rc==SQLITE_OK && nShare==BEC_E2EE_MAX_SHARE ){
      rc = keyshare_append(p, nShare, &pay, pzErr);
      *pnShare += nShare;
      nShare = 0;
      pay.n = 0;
    }
  }
  if( rc==SQLITE_OK && nShare>0 ){
    rc = keyshare_append(p, nShare, &pay, pzErr);
    *pnShare += nShare;
  }
  bec_buf_free(&keys);
  bec_buf_free(&pay);
  sqlite3_free(ep.a);
  return rc;
}

/**************************************************************************
** Encrypted schema and write ops (E2EE.md sections 5 to 7).
**
**   envelope := format:u8 (0xE2; 0xE3: a write marked as an admin op)
**               n_epoch:varint (1..16)
**               epoch:32 * n_epoch (strictly increasing)
**               nonce:24 ct (XChaCha20-Poly1305-IETF of sodium_pad(pt, 256))
**   key      := k_e of the one epoch, or H("bec-e2ee-merge-v1" || e_1 ||
**               k_e1 || ...) of several, in epoch-hash order
**   AD       := "bec-e2ee-ad-v1" || group id || kind:u8 || author ||
**               n_pred:varint || preds || n_epoch:varint || epochs
**
** pt is the payload of docs/tables.md.  The AD binds the author and the
** predecessors, so a ciphertext copied into another op does not open.
*/
#define E2EE_ENVELOPE  BEC_E2EE_ENVELOPE
#define E2EE_MAX_EPOCH 16
_Static_assert(sizeof(((BecCtx*)0)->aE2eeRule)==E2EE_MAX_EPOCH*sizeof(int),
               "BecCtx.aE2eeRule holds E2EE_MAX_EPOCH epochs");
const char bec_e2ee_undecryptable[] = "locked: undecryptable";

static int is_table_kind(int kind){
  return kind==BEC_KIND_SCHEMA || kind==BEC_KIND_WRITE;
}

static int has_envelope(const BecOp *pOp){
  return bec_e2ee_envelope(pOp)!=0;
}

static int envelope_parse(const u8 *a, i64 n, Envelope *pE){
  BecReader rd;
  u8 v = 0;
  u64 nEpoch = 0;
  int i;
  rd.a = a; rd.n = n; rd.i = 0;
  memset(pE, 0, sizeof(*pE));
  if( bec_read_u8(&rd, &v) || (v!=E2EE_ENVELOPE && v!=BEC_E2EE_ENVELOPE_ADMIN)
   || bec_read_varint(&rd, &nEpoch, E2EE_MAX_EPOCH) || nEpoch<1
   || bec_read_bytes(&rd, (i64)nEpoch*BEC_HASH_BYTES, &pE->aEpoch)
   || bec_read_bytes(&rd, BEC_E2EE_NONCE_BYTES, &pE->aNonce) ){
    return BEC_MALFORMED;
  }
  pE->nEpoch = (int)nEpoch;
  for(i=1; i<pE->nEpoch; i++){
    if( memcmp(&pE->aEpoch[(i-1)*BEC_HASH_BYTES], &pE->aEpoch[i*BEC_HASH_BYTES],
               BEC_HASH_BYTES)>=0 ) return BEC_MALFORMED;
  }
  pE->aCt = &a[rd.i];
  pE->nCt = n - rd.i;
  if( pE->nCt<BEC_E2EE_TAG_BYTES+BEC_E2EE_PAD_BYTES
   || (pE->nCt-BEC_E2EE_TAG_BYTES)%BEC_E2EE_PAD_BYTES ){
    return BEC_MALFORMED;
  }
  return SQLITE_OK;
}

static void envelope_ad(BecBuf *pAd, const u8 *aGroup, int kind,
                        const u8 *aAuthor, int nPred, const u8 *aPred,
                        int nEpoch, const u8 *aEpoch, int *pRc){
  bec_buf_append(pAd, "bec-e2ee-ad-v1", 14, pRc);
  bec_buf_append(pAd, aGroup, BEC_HASH_BYTES, pRc);
  bec_buf_append_u8(pAd, (u8)kind, pRc);
  bec_buf_append(pAd, aAuthor, BEC_PUBKEY_BYTES, pRc);
  bec_buf_append_varint(pAd, (u64)nPred, pRc);
  bec_buf_append(pAd, aPred, (i64)nPred*BEC_HASH_BYTES, pRc);
  bec_buf_append_varint(pAd, (u64)nEpoch, pRc);
  bec_buf_append(pAd, aEpoch, (i64)nEpoch*BEC_HASH_BYTES, pRc);
}

/* The connection's cached write key (BecCtx.aE2eeKey) and schema
** plaintext are forgotten. */
static void schema_cache_wipe(BecCtx *p){
  if( p->aE2eeSchemaPt ){
    bec_crypto_wipe(p->aE2eeSchemaPt, (size_t)p->nE2eeSchemaPt);
    sqlite3_free(p->aE2eeSchemaPt);
  }
  p->aE2eeSchemaPt = 0;
  p->nE2eeSchemaPt = 0;
  bec_crypto_wipe(p->aE2eeSchemaWhich, sizeof(p->aE2eeSchemaWhich));
}
static void key_cache_wipe(BecCtx *p){
  p->bE2eeKey = 0;
  bec_crypto_wipe(p->aE2eeKey, sizeof(p->aE2eeKey));
  bec_crypto_wipe(p->aE2eeWhich, sizeof(p->aE2eeWhich));
  schema_cache_wipe(p);
}

/* What a cached schema plaintext is for: H(identity || op id).  The op id
** covers the whole op, ciphertext included. */
static void schema_cache_which(const u8 *aSecret, const BecOp *pOp,
                               u8 *aWhich){
  u8 a[BEC_PUBKEY_BYTES + BEC_HASH_BYTES];
  memcpy(a, &aSecret[BEC_SEED_BYTES], BEC_PUBKEY_BYTES);
  memcpy(&a[BEC_PUBKEY_BYTES], pOp->aId, BEC_HASH_BYTES);
  bec_crypto_hash(a, sizeof(a), aWhich);
}

/* What the cached write key is for: H(identity || group || epochs). */
static void key_cache_which(const u8 *aSecret, const u8 *aGroup, int nEpoch,
                            const u8 *aEpoch, u8 *aWhich){
  u8 a[BEC_PUBKEY_BYTES + BEC_HASH_BYTES*(1+E2EE_MAX_EPOCH)];
  memcpy(a, &aSecret[BEC_SEED_BYTES], BEC_PUBKEY_BYTES);
  memcpy(&a[BEC_PUBKEY_BYTES], aGroup, BEC_HASH_BYTES);
  memcpy(&a[BEC_PUBKEY_BYTES+BEC_HASH_BYTES], aEpoch,
         (size_t)nEpoch*BEC_HASH_BYTES);
  bec_crypto_hash(a, BEC_PUBKEY_BYTES + BEC_HASH_BYTES*(i64)(1+nEpoch), aWhich);
}

/* k_w of epochs aEpoch[0..nEpoch-1] into aKey, or *pzWhy (static) says
** why this replica has none.  The last key derived is kept for the
** connection (a run of ops under one epoch reads no seed again). */
static int write_key(BecCtx *p, const u8 *aSecret, const u8 *aGroup,
                     int nEpoch, const u8 *aEpoch, u8 *aKey,
                     const char **pzWhy){
  u8 aKeys[E2EE_MAX_EPOCH*BEC_E2EE_KEY_BYTES];
  u8 aWhich[BEC_HASH_BYTES];
  int rc = SQLITE_OK, i;
  *pzWhy = 0;
  if( aSecret==0 ){
    key_cache_wipe(p);            /* locked, or no identity */
  }else if( nEpoch>=1 && nEpoch<=E2EE_MAX_EPOCH ){
    key_cache_which(aSecret, aGroup, nEpoch, aEpoch, aWhich);
    if( p->bE2eeKey && memcmp(p->aE2eeWhich, aWhich, sizeof(aWhich))==0 ){
      memcpy(aKey, p->aE2eeKey, BEC_E2EE_KEY_BYTES);
      return SQLITE_OK;
    }
  }
  memset(aKeys, 0, sizeof(aKeys));
  for(i=0; rc==SQLITE_OK && i<nEpoch && *pzWhy==0; i++){
    u8 aSeed[BEC_E2EE_SEED_BYTES];
    int iE = 0, bHave = 0;
    /* (the envelope names the epoch by its id: the seed's AD) */
    rc = bec_dag_seq_of(p, &aEpoch[i*BEC_HASH_BYTES], &iE);
    if( rc==SQLITE_OK && (iE<1 || aSecret==0) ){
      *pzWhy = "locked: no key";
      break;
    }
    if( rc==SQLITE_OK ){
      rc = seed_get(p, aSecret, &aEpoch[i*BEC_HASH_BYTES], iE, aSeed, &bHave);
    }
    if( rc==SQLITE_OK && !bHave ){
      sqlite3_stmt *pStmt = 0;
      int bBad = 0;
      rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_epoch_bad WHERE epoch=?1",
                        &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iE);
        bBad = sqlite3_step(pStmt)==SQLITE_ROW;
        rc = sqlite3_reset(pStmt);
      }
      *pzWhy = bBad ? "locked: bad commitment" : "locked: no key";
    }else if( rc==SQLITE_OK ){
      bec_e2ee_epoch_key(aSeed, aGroup, &aEpoch[i*BEC_HASH_BYTES],
                         &aKeys[i*BEC_E2EE_KEY_BYTES]);
    }
    bec_crypto_wipe(aSeed, sizeof(aSeed));
  }
  if( rc==SQLITE_OK && *pzWhy==0 ){
    if( nEpoch==1 ) memcpy(aKey, aKeys, BEC_E2EE_KEY_BYTES);
    else bec_e2ee_merge_key(nEpoch, aEpoch, aKeys, aKey);
    if( aSecret && nEpoch>=1 && nEpoch<=E2EE_MAX_EPOCH ){
      memcpy(p->aE2eeWhich, aWhich, sizeof(aWhich));
      memcpy(p->aE2eeKey, aKey, BEC_E2EE_KEY_BYTES);
      p->bE2eeKey = 1;
    }
  }
  bec_crypto_wipe(aKeys, sizeof(aKeys));
  return rc;
}

int bec_e2ee_open(BecCtx *p, BecOp *pOp, u8 **ppFree, const char **pzLocked,
                  char **pzErr){
  Envelope env;
  BecBuf ad;
  const u8 *aSecret;
  u8 aGroup[BEC_HASH_BYTES], aKey[BEC_E2EE_KEY_BYTES];
  u8 *aPt = 0;
  i64 nPt = 0;
  int rc;
  *ppFree = 0;
  *pzLocked = 0;
  if( !has_envelope(pOp) ) return SQLITE_OK;
  if( p->pKeys ){
    /* A replay of a cut (bec_checkpoint.c): its parent holds every op of
    ** the cut and the keys, and an envelope opens by its bytes alone. */
    return bec_e2ee_open(p->pKeys, pOp, ppFree, pzLocked, pzErr);
  }
  if( envelope_parse(pOp->aPayload, pOp->nPayload, &env) ){
    *pzLocked = bec_e2ee_undecryptable;  /* (acceptance refuses it) */
    return SQLITE_OK;
  }
  aSecret = identity(p);
  if( aSecret && pOp->kind==BEC_KIND_SCHEMA && p->aE2eeSchemaPt ){
    /* The schema op opened last: the same op opens to the same bytes. */
    u8 aWhich[BEC_HASH_BYTES];
    schema_cache_which(aSecret, pOp, aWhich);
    if( memcmp(aWhich, p->aE2eeSchemaWhich, sizeof(aWhich))==0 ){
      aPt = sqlite3_malloc64((sqlite3_uint64)p->nE2eeSchemaPt + 1);
      if( aPt==0 ) return SQLITE_NOMEM;
      memcpy(aPt, p->aE2eeSchemaPt, (size_t)p->nE2eeSchemaPt);
      pOp->aPayload = aPt;
      pOp->nPayload = p->nE2eeSchemaPt;
      *ppFree = aPt;
      return SQLITE_OK;
    }
  }
  /* The check forgets a key cached before a rollback or another
  ** connection's write; the envelope names its epochs, so the graph need
  ** not be loaded (a table's create op opens as the table connects). */
  rc = bec_graph_check(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK ){
    rc = write_key(p, aSecret, aGroup, env.nEpoch, env.aEpoch, aKey, pzLocked);
  }
  if( rc || *pzLocked ) return rc;
  memset(&ad, 0, sizeof(ad));
  envelope_ad(&ad, aGroup, pOp->kind, pOp->aAuthor, pOp->nPred, pOp->aPred,
              env.nEpoch, env.aEpoch, &rc);
  if( rc==SQLITE_OK ){
    aPt = sqlite3_malloc64((sqlite3_uint64)env.nCt);
    if( aPt==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ){
    if( bec_e2ee_aead_open(aKey, env.aNonce, ad.a, ad.n, env.aCt, env.nCt,
                           aPt)
     || bec_e2ee_unpad(aPt, env.nCt-BEC_E2EE_TAG_BYTES, &nPt) ){
      *pzLocked = bec_e2ee_undecryptable;
      sqlite3_free(aPt);
    }else{
      pOp->aPayload = aPt;
      pOp->nPayload = nPt;
      *ppFree = aPt;
      if( pOp->kind==BEC_KIND_SCHEMA && aSecret ){
        /* Kept for the next write the merge applies to this table (a
        ** failed copy only means it is opened again). */
        u8 *aCopy = sqlite3_malloc64((sqlite3_uint64)nPt + 1);
        schema_cache_wipe(p);
        if( aCopy ){
          memcpy(aCopy, aPt, (size_t)nPt);
          p->aE2eeSchemaPt = aCopy;
          p->nE2eeSchemaPt = nPt;
          schema_cache_which(aSecret, pOp, p->aE2eeSchemaWhich);
        }
      }
    }
  }else{
    sqlite3_free(aPt);
  }
  bec_crypto_wipe(aKey, sizeof(aKey));
  bec_buf_free(&ad);
  return rc;
}

/* *pb: node x is in the causal past of an op with predecessors aPred.
** Depth falls along every predecessor edge, so the walk back from aPred
** never needs a node shallower than x: it costs the ops between x and the
** op, not the whole past (an envelope names recent epochs). */
static int in_past(const BecGraph *g, const int *aPred, int nPred, int x,
                   int *pb){
  BecInts todo;
  u8 *aSeen;
  int i, rc = SQLITE_OK;
  *pb = 0;
  if( x<1 || x>g->nNode ) return SQLITE_OK;
  aSeen = sqlite3_malloc64((sqlite3_uint64)g->nNode + 1);
  if( aSeen==0 ) return SQLITE_NOMEM;
  memset(aSeen, 0, (size_t)g->nNode + 1);
  memset(&todo, 0, sizeof(todo));
  for(i=0; rc==SQLITE_OK && i<nPred; i++) rc = bec_ints_push(&todo, aPred[i]);
  while( rc==SQLITE_OK && todo.n>0 && !*pb ){
    int y = todo.a[--todo.n];
    if( y<1 || y>g->nNode || aSeen[y] ) continue;
    aSeen[y] = 1;
    if( y==x ){ *pb = 1; break; }
    if( g->aNode[y].depth<=g->aNode[x].depth ) continue;
    for(i=0; rc==SQLITE_OK && i<g->aNode[y].nPred; i++){
      rc = bec_ints_push(&todo, BEC_NODE_PREDS(g, y)[i]);
    }
  }
  sqlite3_free(todo.a);
  sqlite3_free(aSeen);
  return rc;
}

/* The keyless checks of a schema or write op (acceptance, relays too):
** the envelope in an encrypted context, plaintext outside one, and every
** epoch it names an epoch op in its causal past.  The common case, an
** envelope whose epochs are all in its past, needs no walk of the whole
** past: an epoch op in the past puts an encrypt op there too (an encrypt
** op is one, and a rekey is stored only in an encrypted context).  An op
** that names every head (BecCtx.bCovering: a local write, a peer's on a
** linear history) has every stored op in its past: an epoch in its past is
** a stored epoch op, which its row says without the graph. */
static int admit_table_op(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                          BecVerdict *pV, char **pzErr){
  BecGraph *g = 0;
  u8 *aMark = 0;
  Envelope env;
  int bAny = 0, bEnc, bEnv = has_envelope(pOp), i;
  int rc = group_encrypted(p, &bAny);
  if( rc || (!bAny && !bEnv) ) return rc;
  if( p->bCovering && bEnv
   && envelope_parse(pOp->aPayload, pOp->nPayload, &env)==SQLITE_OK ){
    int bAll = 1;
    for(i=0; rc==SQLITE_OK && bAll && i<env.nEpoch; i++){
      u8 aId[BEC_HASH_BYTES];
      int iE = 0;
      rc = bec_dag_seq_of(p, &env.aEpoch[i*BEC_HASH_BYTES], &iE);
      if( rc==SQLITE_OK && iE>=1 ) rc = epoch_id(p, iE, aId, &bAll);
      else bAll = 0;
    }
    if( rc || bAll ) return rc;   /* admitted */
  }
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK && bEnv
   && envelope_parse(pOp->aPayload, pOp->nPayload, &env)==SQLITE_OK ){
    int bAll = 1;
    for(i=0; rc==SQLITE_OK && bAll && i<env.nEpoch; i++){
      int iE = 0;
      rc = bec_dag_seq_of(p, &env.aEpoch[i*BEC_HASH_BYTES], &iE);
      bAll = rc==SQLITE_OK && iE>=1 && iE<=g->nNode
          && is_epoch_kind(g->aNode[iE].kind);
      if( bAll ) rc = in_past(g, aPredSeq, pOp->nPred, iE, &bAll);
    }
    if( rc || bAll ) return rc;   /* admitted */
  }
  /* Otherwise the whole past decides, and names the reason. */
  if( rc==SQLITE_OK ) rc = bec_graph_past(g, aPredSeq, pOp->nPred, &aMark);
  if( rc ) return rc;
  bEnc = past_encrypted(g, aMark);
  if( bEnc && !bEnv ){
    bec_verdict_set(pV, SQLITE_ERROR, "malformed: plaintext table op in an "
                    "encrypted group");
  }else if( !bEnc && bEnv ){
    bec_verdict_set(pV, SQLITE_ERROR, "malformed: encrypted op in a plaintext "
                    "group");
  }else if( bEnv && envelope_parse(pOp->aPayload, pOp->nPayload, &env) ){
    bec_verdict_set(pV, SQLITE_ERROR, "malformed: bad encrypted envelope");
  }else if( bEnv ){
    for(i=0; rc==SQLITE_OK && i<env.nEpoch && pV->rc==0; i++){
      int iE = 0;
      rc = bec_dag_seq_of(p, &env.aEpoch[i*BEC_HASH_BYTES], &iE);
      if( rc==SQLITE_OK && (iE<1 || iE>g->nNode || !aMark[iE]
                            || !is_epoch_kind(g->aNode[iE].kind)) ){
        char zHex[2*BEC_HASH_BYTES+1];
        bec_hex_encode(&env.aEpoch[i*BEC_HASH_BYTES], BEC_HASH_BYTES, zHex);
        bec_verdict_set(pV, SQLITE_ERROR, "bad epoch: %.16s is not an epoch "
                        "op in its causal past", zHex);
      }
    }
  }
  sqlite3_free(aMark);
  return rc;
}

/* The prefix sets of holders: 1 if every holder of all of E (their
** intersection) is a reader, with the readers' keys in pKeys. */
static int holders_are_readers(BecCtx *p, const BecInts *pE, const BecBuf *pKeys,
                               int nKey, int *pbOk){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, E2EE_HOLDERS("?1"), &pStmt);
  *pbOk = 1;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, pE->a[0]);
  while( rc==SQLITE_OK && *pbOk && sqlite3_step(pStmt)==SQLITE_ROW ){
    const u8 *aPf = sqlite3_column_blob(pStmt, 0);
    int bAll = 1, bReader = 0, i;
    u8 aCopy[BEC_E2EE_PREFIX_BYTES];
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_E2EE_PREFIX_BYTES ) continue;
    memcpy(aCopy, aPf, sizeof(aCopy));
    for(i=0; i<nKey && !bReader; i++){
      bReader = memcmp(&pKeys->a[i*BEC_PUBKEY_BYTES], aCopy, sizeof(aCopy))==0;
    }
    if( bReader ) continue;
    /* An outsider among the holders of E[0]: does it hold all of E? */
    for(i=1; rc==SQLITE_OK && i<pE->n && bAll; i++){
      sqlite3_stmt *pIn = 0;
      rc = bec_ctx_stmt(p, "SELECT 1 FROM (" E2EE_HOLDERS("?1") ") WHERE pf=?2",
                        &pIn);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pIn, 1, pE->a[i]);
        sqlite3_bind_blob(pIn, 2, aCopy, sizeof(aCopy), SQLITE_STATIC);
        bAll = sqlite3_step(pIn)==SQLITE_ROW;
        rc = sqlite3_reset(pIn);
      }
    }
    if( bAll ) *pbOk = 0;
  }
  bec_stmt_reset(pStmt, &rc);
  return rc;
}

/* The epochs the safety rule approved last, into pE, if nothing it reads
** can have changed since (BecCtx.nE2eeRule): 1 if so.  A run of writes
** then asks no query of it (it cost 330k instructions per write).  Keyed
** by the stored sequence the connection checked (bec_graph_check: any
** change of storage under it changes nKnown or chainKnown), not by the
** graph, which a write need not load. */
static int rule_remembered(BecCtx *p, const u8 *aSecret, BecInts *pE){
  int i;
  if( p->nE2eeRule==0 || !p->bKnown || p->nE2eeRuleKnown!=p->nKnown
   || p->chainE2eeRule!=p->chainKnown
   || memcmp(p->aE2eeRulePub, &aSecret[BEC_SEED_BYTES], BEC_PUBKEY_BYTES) ){
    return 0;
  }
  pE->n = 0;
  for(i=0; i<p->nE2eeRule; i++){
    int x = p->aE2eeRule[i];
    if( x<1 || x>p->nKnown ) return 0;   /* (never: the sequence says) */
    if( bec_ints_push(pE, x) ) return 0;      /* (computed again, or fails) */
  }
  return 1;
}

static void rule_remember(BecCtx *p, const u8 *aSecret, const BecInts *pE){
  p->nE2eeRule = 0;
  if( !p->bKnown || pE->n<1 || pE->n>E2EE_MAX_EPOCH ) return;
  memcpy(p->aE2eeRule, pE->a, sizeof(int)*(size_t)pE->n);
  memcpy(p->aE2eeRulePub, &aSecret[BEC_SEED_BYTES], BEC_PUBKEY_BYTES);
  p->nE2eeRuleKnown = p->nKnown;
  p->chainE2eeRule = p->chainKnown;
  p->nE2eeRule = pE->n;
}

/* Op iSeq, of a kind that leaves what the rule reads as it was, was just
** stored on the sequence the rule was remembered for: it still holds. */
static void rule_follow(BecCtx *p, int iSeq){
  if( p->nE2eeRule && p->bKnown && iSeq==p->nKnown
   && p->nE2eeRuleKnown==iSeq-1 ){
    p->nE2eeRuleKnown = iSeq;
    p->chainE2eeRule = p->chainKnown;
  }
}

/*
** The epochs E of the next local op, after the writer's safety rule
** (E2EE.md section 6): (1) no current epoch, more than 16, or one whose
** seed this replica lacks: rekey; (2) a holder of E that is not a reader
** (a member who left or was removed, an outsider): rekey; (3) a reader who
** holds not all of E: a keyshare (heal of the current epochs).  With
** bMaySign 0 nothing is signed: SQLITE_ERROR if a rekey were needed.
** pE gets the epoch seqs in hash order.
*/
static int write_epochs(BecCtx *p, int bMaySign, BecInts *pE, char **pzErr){
  const u8 *aSecret = 0;
  int rc, iTry;
  rc = bec_dag_secret(p, &aSecret, pzErr);
  /* (bec_graph_check first: it forgets what a rollback or another
  ** connection's write made stale.  The rule reads stored rows only: the
  ** graph loads if a rekey or keyshare is signed, not to approve.) */
  if( rc==SQLITE_OK ) rc = bec_graph_check(p, pzErr);
  if( rc==SQLITE_OK && rule_remembered(p, aSecret, pE) ) return rc;
  if( rc==SQLITE_OK && bMaySign ) rc = catch_up(p, aSecret, pzErr);
  for(iTry=0; rc==SQLITE_OK && iTry<2; iTry++){
    BecBuf keys;
    int bRekey = 0, i, nKey = 0, bOk = 1;
    u8 aHash[BEC_HASH_BYTES];
    memset(&keys, 0, sizeof(keys));
    pE->n = 0;
    rc = current_epochs(p, 1, pE, pzErr);
    bRekey = pE->n==0 || pE->n>E2EE_MAX_EPOCH;
    for(i=0; rc==SQLITE_OK && !bRekey && i<pE->n; i++){
      int bHave = 0;
      rc = seed_get_seq(p, aSecret, pE->a[i], 0, &bHave);
      if( !bHave ) bRekey = 1;
    }
    if( rc==SQLITE_OK && !bRekey ) rc = readers(p, &keys, &nKey);
    if( rc==SQLITE_OK && !bRekey ){
      rc = holders_are_readers(p, pE, &keys, nKey, &bOk);
      if( !bOk ) bRekey = 1;
    }
    bec_buf_free(&keys);
    if( rc ) break;
    if( !bRekey ){
      int n = 0;
      if( bMaySign ) rc = heal(p, 1, &n, pzErr);
      /* Approved with nothing signed: remembered for the next writes. */
      if( rc==SQLITE_OK && bMaySign && n==0 ) rule_remember(p, aSecret, pE);
      break;
    }
    if( !bMaySign ){
      *pzErr = sqlite3_mprintf("no usable epoch key for this write (the "
                               "writer's safety rule needs a rekey first)");
      rc = SQLITE_ERROR;
      break;
    }
    rc = epoch_append(p, BEC_KIND_REKEY, aHash, pzErr);
  }
  return rc;
}

int bec_e2ee_before_write(BecCtx *p, char **pzErr){
  BecInts e;
  int bEnc = 0;
  int rc = group_encrypted(p, &bEnc);
  if( rc || !bEnc ) return rc;
  memset(&e, 0, sizeof(e));
  {
    /* Inside a write statement (xUpdate): its transaction makes these ops
    ** atomic with the write, as for the write op itself at commit. */
    int bNested = p->bNested;
    p->bNested = 1;
    rc = write_epochs(p, 1, &e, pzErr);
    p->bNested = bNested;
  }
  sqlite3_free(e.a);
  return rc;
}

int bec_e2ee_seal(BecCtx *p, int kind, const u8 *aPt, i64 nPt, int bMaySign,
                  int bAdmin, BecBuf *pOut, char **pzErr){
  BecInts e;
  BecBuf ad, epochs;
  sqlite3_stmt *pStmt = 0;
  const u8 *aSecret = 0;
  const char *zWhy = 0;
  u8 aGroup[BEC_HASH_BYTES], aKey[BEC_E2EE_KEY_BYTES];
  u8 aNonce[BEC_E2EE_NONCE_BYTES];
  u8 *aPad = 0;
  BecBuf preds;
  i64 nPad = bec_e2ee_padded(nPt), nPadded = 0;
  int bEnc = 0, i, nPred = 0;
  int rc = group_encrypted(p, &bEnc);
  if( rc || !bEnc ) return rc;
  memset(&e, 0, sizeof(e)); memset(&ad, 0, sizeof(ad));
  memset(&epochs, 0, sizeof(epochs)); memset(&preds, 0, sizeof(preds));
  rc = write_epochs(p, bMaySign, &e, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_secret(p, &aSecret, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, aGroup, pzErr);
  for(i=0; rc==SQLITE_OK && i<e.n; i++){
    epoch_id_append(p, e.a[i], &epochs, &rc);
  }
  /* The predecessors bec_dag_append will give the op: the current heads. */
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT o.hash FROM bec_store_head h CROSS JOIN"
        " bec_store_op o WHERE o.seq=h.seq ORDER BY o.hash LIMIT ?1", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, BEC_MAX_PRED);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      bec_buf_append(&preds, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES, &rc);
      nPred++;
    }
    bec_stmt_reset(pStmt, &rc);
  }
  if( rc==SQLITE_OK ){
    rc = write_key(p, aSecret, aGroup, e.n, epochs.a, aKey, &zWhy);
    if( rc==SQLITE_OK && zWhy ){
      *pzErr = sqlite3_mprintf("no key for the current epoch (%s)", zWhy);
      rc = SQLITE_ERROR;
    }
  }
  if( rc==SQLITE_OK ){
    aPad = sqlite3_malloc64((sqlite3_uint64)nPad);
    if( aPad==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ){
    memcpy(aPad, aPt, (size_t)nPt);
    if( bec_e2ee_pad(aPad, nPt, nPad, &nPadded) ) rc = SQLITE_INTERNAL;
  }
  envelope_ad(&ad, aGroup, kind, &aSecret[BEC_SEED_BYTES], nPred, preds.a,
              e.n, epochs.a, &rc);
  if( rc==SQLITE_OK ){
    i64 iCt;
    bec_crypto_random(aNonce, sizeof(aNonce));
    /* (the mark is not in the AD: the op's signature covers it) */
    bec_buf_append_u8(pOut, bAdmin && kind==BEC_KIND_WRITE
                            ? BEC_E2EE_ENVELOPE_ADMIN : E2EE_ENVELOPE, &rc);
    bec_buf_append_varint(pOut, (u64)e.n, &rc);
    bec_buf_append(pOut, epochs.a, epochs.n, &rc);
    bec_buf_append(pOut, aNonce, sizeof(aNonce), &rc);
    iCt = pOut->n;
    bec_buf_append(pOut, aPad, nPadded, &rc);
    bec_buf_append(pOut, aNonce, BEC_E2EE_TAG_BYTES, &rc);   /* room */
    if( rc==SQLITE_OK ){
      bec_e2ee_aead_seal(aKey, aNonce, ad.a, ad.n, aPad, nPadded,
                         &pOut->a[iCt]);
    }
  }
  if( aPad ) bec_crypto_wipe(aPad, (size_t)nPad);
  sqlite3_free(aPad);
  bec_crypto_wipe(aKey, sizeof(aKey));
  bec_buf_free(&ad); bec_buf_free(&epochs); bec_buf_free(&preds);
  sqlite3_free(e.a);
  return rc;
}

/* Publishes the locked table ops to the merge as a change of validity, so
** that it judges them again (after new seeds). */
static int unlock_ops(BecCtx *p, char **pzErr){
  BecInts v;
  int rc;
  memset(&v, 0, sizeof(v));
  rc = ints_query(p, "SELECT seq FROM bec_store_ignored WHERE reason LIKE"
                     " 'locked: %' ORDER BY seq", &v);
  if( rc==SQLITE_OK && v.n>0 ) rc = bec_dag_validity_changed(p, v.a, v.n, pzErr);
  sqlite3_free(v.a);
  return rc;
}

/* bec_locked: the valid ops this replica holds but cannot apply. */
static int lockedColumn(sqlite3_stmt *pStmt, sqlite3_context *ctx, int i){
  BecOp op;
  Envelope env;
  char *zErr = 0, *zJson;
  if( i!=1 ) return SQLITE_NOTFOUND;
  if( bec_op_decode(sqlite3_column_blob(pStmt, 1),
                    sqlite3_column_bytes(pStmt, 1), &op, &zErr)
   || envelope_parse(op.aPayload, op.nPayload, &env) ){
    sqlite3_free(zErr);
    sqlite3_result_text(ctx, "[]", 2, SQLITE_STATIC);
    return SQLITE_OK;
  }
  zJson = bec_hex_json_array(env.aEpoch, env.nEpoch);
  if( zJson==0 ) sqlite3_result_error_nomem(ctx);
  else sqlite3_result_text(ctx, zJson, -1, sqlite3_free);
  return SQLITE_OK;
}

static const BecTableDef lockedTable = {
  "bec_locked",
  "CREATE TABLE x(op TEXT, epochs TEXT, reason TEXT)",
  "SELECT lower(hex(o.hash)), o.body, substr(i.reason, 9)"
  " FROM bec_store_ignored i JOIN bec_store_op o ON o.seq=i.seq"
  " WHERE o.valid AND i.reason LIKE 'locked: %'",
  "ORDER BY o.seq",
  { { 0, 1, BEC_OP_ID_IS("o", "substr(?,1,8)", "?") } },
  lockedColumn, 0 };

int bec_e2ee_before_member_op(BecCtx *p, int kind, const u8 *aTarget,
                              char **pzErr){
  u8 aX[BEC_E2EE_KEY_BYTES];
  int bEnc = 0;
  int rc;
  if( kind!=BEC_KIND_ADD ) return SQLITE_OK;
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = group_encrypted(p, &bEnc);
  if( rc==SQLITE_OK && bEnc && aTarget[BEC_PUBKEY_BYTES]!=BEC_ROLE_RELAY
   && bec_e2ee_xpk(aTarget, aX) ){
    *pzErr = sqlite3_mprintf("bec_add_member: the public key cannot receive "
                             "keys (it has no X25519 form)");
    rc = SQLITE_ERROR;
  }
  return rc;
}

int bec_e2ee_after_member_op(BecCtx *p, int kind, const u8 *aTarget,
                             char **pzErr){
  u8 aHash[BEC_HASH_BYTES];
  int bEnc = 0, n = 0;
  int rc = group_encrypted(p, &bEnc);
  if( rc || !bEnc ) return rc;
  if( kind==BEC_KIND_REMOVE ){
    if( memcmp(aTarget, p->aPub, BEC_PUBKEY_BYTES)==0 ) return SQLITE_OK;
    return epoch_append(p, BEC_KIND_REKEY, aHash, pzErr);
  }
  return heal(p, 1, &n, pzErr);
}

int bec_e2ee_sync_heal(BecCtx *p, char **pzErr){
  int n = 0;
  int rc = heal(p, 0, &n, pzErr);
  if( rc!=SQLITE_NOMEM && (rc & 0xff)!=SQLITE_IOERR && rc!=SQLITE_FULL
   && (rc & 0xff)!=SQLITE_CORRUPT ){
    sqlite3_free(*pzErr);
    *pzErr = 0;
    rc = SQLITE_OK;
  }
  return rc;
}

/**************************************************************************
** SQL functions.
*/
/* bec_create_group('encrypted'): a create op and an encrypt op, in one
** transaction; returns the group id. */
static void fnCreateEncrypted(sqlite3_context *ctx, int argc,
                              sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  const char *zMode = (const char*)sqlite3_value_text(argv[0]);
  u8 aNonce[BEC_NONCE_BYTES], aGroup[BEC_HASH_BYTES], aHash[BEC_HASH_BYTES];
  char *zErr = 0;
  int rc;
  (void)argc;
  if( zMode==0 || strcmp(zMode, "encrypted")!=0 ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_create_group: the "
                 "mode must be 'encrypted'"));
    return;
  }
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_begin(p, &spE2ee);
  if( rc==SQLITE_OK ){
    bec_crypto_random(aNonce, sizeof(aNonce));
    rc = bec_dag_append(p, BEC_KIND_CREATE, aNonce, sizeof(aNonce), aGroup,
                        &zErr);
    if( rc==SQLITE_OK ) rc = epoch_append(p, BEC_KIND_ENCRYPT, aHash, &zErr);
    if( rc==SQLITE_OK ) rc = bec_ctx_commit(p, &spE2ee);
    else bec_ctx_rollback(p, &spE2ee);
  }
  if( rc ) bec_fn_error_in(ctx, "bec_create_group", rc, zErr);
  else bec_fn_result_hex(ctx, aGroup, BEC_HASH_BYTES);
}

/* bec_rekey(): a rekey op; returns its hash. */
static void fnRekey(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aHash[BEC_HASH_BYTES];
  char *zErr = 0;
  int rc, bEnc = 0;
  (void)argc; (void)argv;
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = group_encrypted(p, &bEnc);
  if( rc==SQLITE_OK && !bEnc ){
    zErr = sqlite3_mprintf("the group is not encrypted (bec_encrypt_group() "
                           "first)");
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ) rc = epoch_append(p, BEC_KIND_REKEY, aHash, &zErr);
  if( rc ) bec_fn_error_in(ctx, "bec_rekey", rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

/* bec_encrypt_group(): an encrypt op; returns its hash. */
static void fnEncryptGroup(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aHash[BEC_HASH_BYTES];
  char *zErr = 0;
  int rc, bEnc = 0;
  (void)argc; (void)argv;
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = group_encrypted(p, &bEnc);
  if( rc==SQLITE_OK && bEnc ){
    zErr = sqlite3_mprintf("the group is already encrypted");
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ) rc = epoch_append(p, BEC_KIND_ENCRYPT, aHash, &zErr);
  if( rc ) bec_fn_error_in(ctx, "bec_encrypt_group", rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

/* bec_heal(): the number of shares signed. */
static void fnHeal(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  char *zErr = 0;
  int rc, n = 0;
  (void)argc; (void)argv;
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_begin(p, &spE2ee);
  if( rc==SQLITE_OK ){
    rc = heal(p, 0, &n, &zErr);
    if( rc==SQLITE_OK ) rc = bec_ctx_commit(p, &spE2ee);
    else bec_ctx_rollback(p, &spE2ee);
  }
  if( rc ) bec_fn_error_in(ctx, "bec_heal", rc, zErr);
  else sqlite3_result_int(ctx, n);
}

/* bec_epochs: one row per epoch op. */
static const BecTableDef epochTable = {
  "bec_epochs",
  "CREATE TABLE x(epoch TEXT, author TEXT, valid INTEGER, holders TEXT,"
  " i_hold INTEGER, current INTEGER)",
  "SELECT lower(hex(o.hash)), lower(hex(a.pubkey)), o.valid,"
  " (SELECT json_group_array(k) FROM (SELECT coalesce((SELECT"
  "   lower(hex(pubkey)) FROM bec_store_author WHERE substr(pubkey,1,8)=pf"
  "   ORDER BY pubkey LIMIT 1), lower(hex(pf))) AS k FROM ("
  E2EE_HOLDERS("e.seq") ") ORDER BY k)),"
  " EXISTS(SELECT 1 FROM bec_store_epoch_key k WHERE k.epoch=e.seq),"
  " e.seq IN (" E2EE_CURRENT ")"
  " FROM bec_store_epoch e JOIN bec_store_op o ON o.seq=e.seq"
  " JOIN bec_store_author a ON a.id=o.author WHERE 1",
  "ORDER BY o.seq",
  { { 0, 1, BEC_OP_ID_IS("o", "substr(?,1,8)", "?") } },
  0, 0 };

int bec_e2ee_register(sqlite3 *db, BecCtx *p){
  static const BecFunc aFunc[] = {
    { "bec_create_group",  1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnCreateEncrypted },
    { "bec_encrypt_group", 0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnEncryptGroup },
    { "bec_rekey",         0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRekey },
    { "bec_heal",          0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnHeal },
  };
  int rc = bec_ctx_register_funcs(db, p, aFunc,
                                  (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  if( rc ) return rc;
  rc = bec_vtab_register_table(db, p, &epochTable);
  if( rc ) return rc;
  return bec_vtab_register_table(db, p, &lockedTable);
}
