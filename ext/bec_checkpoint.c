/*
** bec_checkpoint.c - checkpoints, attestations, disputes and sealing
** (../shared/COMPACTION.md sections 3-5; docs/compaction.md for users).
**
**   SELECT bec_checkpoint();               -- an admin names a cut
**   SELECT bec_config('checkpoint_k', 2);  -- k, recorded in the group
**   SELECT * FROM bec_checkpoints;         -- checkpoint, digest, attestations,
**                                          -- sealed, k, author, root
**   SELECT * FROM bec_disputes;            -- attestations that disagree
**   SELECT bec_attest();                   -- what sync does by itself
**
** A checkpoint op K names its cut: K's predecessors and their causal past.
** S(K), the derived state computed from the cut alone (validity, members,
** the winning schema of every table name, every register's candidates),
** has one canonical digest R(K) (COMPACTION.md section 3, docs/compaction.md
** "The digest, byte by byte", format bec-cut-v4): a hash over a header and
** seven RFC 6962 Merkle trees (ops, members, tables: the tables as shown,
** after ADD, RENAME and DROP COLUMN; root, epochs, names, checkpoints).
** Every replica that holds the cut computes the same R;
** test/vectors/digest.txt pins it byte for byte.
**
** THE COMPUTATION.  Today's tables show the state of the whole op set, not
** of the cut.  The cheapest correct way to get S(K) is to run the existing
** rules on the cut alone: ck_compute() opens a private in-memory database
** with bec loaded (BecCtx.xScratch, from bec_main.c; its context has
** bScratch set), hands it the cut's ops in seq order (a topological order)
** through the ordinary acceptance path with their signatures taken as
** checked, and reads the digest from what membership and the merge derive
** there.  One code path decides validity and merges rows, so the digest
** cannot drift from the rules.  When the cut is every op this replica
** holds (the author's own checkpoint, or one received with nothing
** concurrent to it) that state is the one already derived here, and the
** digest is read from it without a replay (ck_compute).  It runs once per
** checkpoint op and replica, when the op is stored (and in
** bec_checkpoint(), for the author's claim).
** Inside a scratch database nothing is computed for checkpoints (no
** recursion): the facts of its ops are recorded, nothing more.
**
** SEALING.  K is sealed when the op set holds claims of K with one digest
** by at least k distinct keys that are admins in S(K), where a claim is an
** attest op naming K or K itself (its author's claim), and only an author's
** first claim by (depth, id) counts; k is the value of the valid config op
** with the greatest (depth, id) in the cut, else a majority of S(K)'s
** admins.  Every input is fixed once K is stored (S(K), k, the admins) or
** once a claim is stored (author, digest), so "sealed" is a monotone
** function of the op set: adding ops never unseals.  The validity of the
** claims is deliberately not consulted (a later removal of an attester
** must not unseal).  The threshold root: a root attestation (a root op of
** action attest, bec_root.c; a claim of K by the group key) seals K alone
** if its author is the group key of the root epoch active in cut(K)
** (ck_root_seal), whatever its digest (a wrong one is a dispute, as k
** admins' wrong claims would be); sealed is then 2.
** E2EE: where an op of the cut is locked (its key not held here), the
** digest is unknown here: stored empty (x''), shown NULL, so this replica
** neither attests nor disputes K; sealing never reads it; ck_settle
** computes it once the keys arrive.
** This deriver hears every op (BEC_DERIVE_ANY) to see root attestations.
** A checkpoint that more than n-k of its admins passed over for a
** concurrent one is retired (ck_retired): it no longer blocks the next.
**
** FINALITY.  The validity of an op in a sealed cut is final: its validity
** in S of the sealed checkpoint with the least (depth, id) whose cut holds
** it (ck_final_build, from bec_store_checkpoint.invalid).  Membership reads
** it through BecCtx.xFinal (rule 4 returns it; rule 7 drops another op of
** a cycle), and is derived again whenever a checkpoint becomes sealed
** (ck_update_seal).  A replay of a cut is given the final validity of the
** checkpoints sealed within that cut, renumbered, so S(K) applies the
** seals its cut holds and nothing else.
**
** AN INSTALLED SNAPSHOT (bec_install.c): K recorded as verified
** (bec_ckpt_install); each earlier checkpoint of its cut with k and the
** seal its leaf gives, its digest unknown here, its seal read as recorded
** rather than from claims (bec_ckpt_install_earlier, ck_installed_earlier);
** bec_ckpt_section_here gives the install the root and names sections of
** what it derived, to compare with the snapshot's.
**
** Stored (derived from the ops, by this file only):
**   bec_store_checkpoint(seq, digest, k, n_op, invalid, attestations, sealed)
**       per checkpoint op: R computed here, k in the cut, the ops in the cut,
**       the seqs of the cut's ops that are invalid in S(K) (4 bytes each,
**       big-endian, increasing), the claims that count toward k and carry
**       this digest, and whether K is sealed (0; 1 by k claims; 2 by a root
**       attestation)
**   bec_store_checkpoint_admin(checkpoint, author)   the admins of S(K)
**   bec_store_claim(seq, checkpoint, author, digest)  checkpoint, attest
**       and root attestation
**   bec_store_dispute(seq, claim, digest)             dispute ops
**   bec_store_ckconfig(seq, k)                        config ops
**
** Payloads (each begins with BEC_CKPT_VERSION):
**   checkpoint  version || R (32)
**   attest      version || checkpoint id (32) || R (32)
**   dispute     version || claim id (32) || R (32): the disputer's digest
**   config      version || name_len varint || name || value varint
**               (name "checkpoint_k", value >= 1)
*/
#include "becInt.h"

#include <stdlib.h>

/* The digest's format (docs/compaction.md, "The digest, byte by byte"):
** v2 digests the tables as shown after ALTERs (column ids and names); v3
** also the create's columns hidden by a name another column shows (their
** values show again if the collision goes away); v4 each member's cover
** (what rule 4 lets its ops after the cut do) and four more sections: the
** threshold root's sessions, the e2ee epochs, the names and the earlier
** checkpoints of the cut (what a joiner installing a snapshot needs). */
#define BEC_CUT_TAG     "bec-cut-v4"
#define BEC_CUT_TAG_LEN 10
#define CK_K_NAME      "checkpoint_k"
#define CK_K_NAME_LEN  12
#define CK_MAX_K       (1<<20)          /* a config value above this is
                                        ** malformed: no group has as many */

static const char zCkptSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_checkpoint("
  "  seq INTEGER PRIMARY KEY, digest BLOB NOT NULL, k INTEGER NOT NULL,"
  "  n_op INTEGER NOT NULL, invalid BLOB NOT NULL,"
  "  attestations INTEGER NOT NULL DEFAULT 0,"
  "  sealed INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE IF NOT EXISTS bec_store_checkpoint_admin("
  "  checkpoint INTEGER NOT NULL, author INTEGER NOT NULL,"
  "  PRIMARY KEY(checkpoint, author)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_claim("
  "  seq INTEGER PRIMARY KEY, checkpoint INTEGER NOT NULL,"
  "  author INTEGER NOT NULL, digest BLOB NOT NULL);"
  "CREATE INDEX IF NOT EXISTS bec_store_claim_checkpoint"
  "  ON bec_store_claim(checkpoint, author);"
  "CREATE TABLE IF NOT EXISTS bec_store_dispute("
  "  seq INTEGER PRIMARY KEY, claim INTEGER NOT NULL, digest BLOB NOT NULL);"
  "CREATE TABLE IF NOT EXISTS bec_store_ckconfig("
  "  seq INTEGER PRIMARY KEY, k INTEGER NOT NULL);";

static int ck_schema(BecCtx *p, char **pzErr){
  return bec_ctx_exec(p, zCkptSchema, pzErr);
}

/**************************************************************************
** Payloads.
*/
typedef struct CkPayload CkPayload;
struct CkPayload {
  const u8 *aRef;        /* attest: the checkpoint; dispute: the claim */
  const u8 *aDigest;     /* checkpoint, attest, dispute: an R */
  i64 k;                 /* config: the value */
};

/* 0 if pOp's payload is well-formed for its kind, else why not (static). */
static const char *ck_parse(const BecOp *pOp, CkPayload *pP){
  const u8 *a = pOp->aPayload;
  i64 n = pOp->nPayload;
  memset(pP, 0, sizeof(*pP));
  /* a header without its body (an attest or dispute of an installed band,
  ** bec_install.c): nothing to record, its effect is in S(K) */
  if( a==0 ) return "a header without its payload";
  if( n<1 || a[0]!=BEC_CKPT_VERSION ) return "unknown payload version";
  switch( pOp->kind ){
    case BEC_KIND_CHECKPOINT:
      if( n!=1+BEC_HASH_BYTES ) return "a checkpoint is version || digest";
      pP->aDigest = a+1;
      return 0;
    case BEC_KIND_ATTEST:
    case BEC_KIND_DISPUTE:
      if( n!=1+2*BEC_HASH_BYTES ) return "an attest or dispute is version || id || digest";
      pP->aRef = a+1;
      pP->aDigest = a+1+BEC_HASH_BYTES;
      return 0;
    case BEC_KIND_CONFIG: {
      BecReader rd;
      const u8 *aName = 0;
      u64 nName = 0, v = 0;
      rd.a = a; rd.n = n; rd.i = 1;
      if( bec_read_varint(&rd, &nName, 256)
       || bec_read_bytes(&rd, (i64)nName, &aName)
       || bec_read_varint(&rd, &v, CK_MAX_K)
       || rd.i!=rd.n ){
        return "a config is version || name || value";
      }
      if( nName!=CK_K_NAME_LEN || memcmp(aName, CK_K_NAME, CK_K_NAME_LEN) ){
        return "unknown config name (known: checkpoint_k)";
      }
      if( v<1 ) return "checkpoint_k must be at least 1";
      pP->k = (i64)v;
      return 0;
    }
  }
  return "not a checkpoint kind";
}

/**************************************************************************
** The digest (COMPACTION.md section 3).
*/
/* RFC 6962 section 2.1 with BLAKE2b-256: n leaf hashes, already
** H(0x00 || leaf), split at the largest power of two below n. */
void bec_ckpt_merkle(const u8 *aLeaf, i64 n, u8 *aRoot){
  u8 aNode[1 + 2*BEC_HASH_BYTES];
  i64 k = 1;
  if( n==0 ){
    bec_crypto_hash((const u8*)"", 0, aRoot);
    return;
  }
  if( n==1 ){
    memcpy(aRoot, aLeaf, BEC_HASH_BYTES);
    return;
  }
  while( k*2<n ) k *= 2;
  aNode[0] = 0x01;
  bec_ckpt_merkle(aLeaf, k, &aNode[1]);
  bec_ckpt_merkle(aLeaf + k*BEC_HASH_BYTES, n-k, &aNode[1+BEC_HASH_BYTES]);
  bec_crypto_hash(aNode, sizeof(aNode), aRoot);
}

/* The audit paths of leaves (RFC 6962 section 2.1.1, PATH(m, D[n]): the
** sibling subtrees' hashes from the leaf up), what a snapshot needs to show
** that an op's leaf (its id, depth and validity) is in the ops root R
** covers, without the other leaves.  Here: the root of the nLeaf leaf
** hashes at aLeaf (indexes from iLo) into aRoot, and the sibling of every
** subtree on the way into the paths of the wanted leaves in it (aWant:
** nWant indexes, increasing; apPath[i] the path of aWant[i]).  Every
** subtree's hash is computed once: O(n) hashes for any number of paths. */
static void merkle_paths(const u8 *aLeaf, i64 iLo, i64 nLeaf, const i64 *aWant,
                         int nWant, BecBuf *apPath, u8 *aRoot, int *pRc){
  u8 aNode[1 + 2*BEC_HASH_BYTES];
  i64 k = 1;
  int nLeft = 0, i;
  if( *pRc ) return;
  if( nWant==0 || nLeaf<=1 ){
    bec_ckpt_merkle(aLeaf + iLo*BEC_HASH_BYTES, nLeaf, aRoot);
    return;
  }
  while( k*2<nLeaf ) k *= 2;
  while( nLeft<nWant && aWant[nLeft]<iLo+k ) nLeft++;
  aNode[0] = 0x01;
  merkle_paths(aLeaf, iLo, k, aWant, nLeft, apPath, &aNode[1], pRc);
  merkle_paths(aLeaf, iLo+k, nLeaf-k, aWant+nLeft, nWant-nLeft, apPath+nLeft,
               &aNode[1+BEC_HASH_BYTES], pRc);
  for(i=0; i<nWant; i++){
    /* the left half's leaves get the right half's root, and the other way */
    bec_buf_append(&apPath[i], i<nLeft ? &aNode[1+BEC_HASH_BYTES] : &aNode[1],
                   BEC_HASH_BYTES, pRc);
  }
  bec_crypto_hash(aNode, sizeof(aNode), aRoot);
}

void bec_ckpt_merkle_paths(const u8 *aLeaf, i64 n, const i64 *aWant,
                           int nWant, BecBuf *apPath, int *pRc){
  u8 aRoot[BEC_HASH_BYTES];
  int i;
  for(i=1; i<nWant; i++){
    if( aWant[i]<=aWant[i-1] ){ *pRc = SQLITE_MISUSE; return; }
  }
  if( nWant>0 && (aWant[0]<0 || aWant[nWant-1]>=n) ){ *pRc = SQLITE_MISUSE; return; }
  merkle_paths(aLeaf, 0, n, aWant, nWant, apPath, aRoot, pRc);
}

/* Whether nPath hashes aPath prove leaf hash aLeafHash at index m of n
** leaves under aRoot (RFC 9162 section 2.1.3.2, the verifier of the path
** above: the path's length must be exactly the leaf's height). */
int bec_ckpt_merkle_verify(const u8 *aLeafHash, i64 m, i64 n,
                           const u8 *aPath, int nPath, const u8 *aRoot){
  u8 aNode[1 + 2*BEC_HASH_BYTES], r[BEC_HASH_BYTES];
  i64 fn = m, sn = n-1;
  int i;
  if( m<0 || m>=n ) return 0;
  memcpy(r, aLeafHash, BEC_HASH_BYTES);
  aNode[0] = 0x01;
  for(i=0; i<nPath; i++){
    const u8 *p = aPath + (i64)i*BEC_HASH_BYTES;
    if( sn==0 ) return 0;
    if( (fn & 1) || fn==sn ){
      memcpy(&aNode[1], p, BEC_HASH_BYTES);
      memcpy(&aNode[1+BEC_HASH_BYTES], r, BEC_HASH_BYTES);
      if( (fn & 1)==0 ){
        while( fn!=0 && (fn & 1)==0 ){ fn >>= 1; sn >>= 1; }
      }
    }else{
      memcpy(&aNode[1], r, BEC_HASH_BYTES);
      memcpy(&aNode[1+BEC_HASH_BYTES], p, BEC_HASH_BYTES);
    }
    bec_crypto_hash(aNode, sizeof(aNode), r);
    fn >>= 1;
    sn >>= 1;
  }
  return sn==0 && memcmp(r, aRoot, BEC_HASH_BYTES)==0;
}

/* Appends H(0x00 || pLeaf's bytes after its first) to pOut: pLeaf was
** started with a 0x00 byte (leaf_start), so it hashes in place. */
static void leaf_start(BecBuf *pLeaf, int *pRc){
  pLeaf->n = 0;
  bec_buf_append_u8(pLeaf, 0x00, pRc);
}
static void leaf_end(BecBuf *pLeaf, BecBuf *pOut, int *pRc){
  u8 aHash[BEC_HASH_BYTES];
  if( *pRc ) return;
  bec_crypto_hash(pLeaf->a, pLeaf->n, aHash);
  bec_buf_append(pOut, aHash, BEC_HASH_BYTES, pRc);
}

/* Every section's end: the root over its leaves (when all went well),
** then both buffers freed.  Returns rc. */
static int sec_finish(BecBuf *pLeaves, BecBuf *pLeaf, u8 *aRoot, int rc){
  if( rc==SQLITE_OK ){
    bec_ckpt_merkle(pLeaves->a, pLeaves->n/BEC_HASH_BYTES, aRoot);
  }
  bec_buf_free(pLeaves);
  bec_buf_free(pLeaf);
  return rc;
}

/* What ck_compute finds about a cut. */
typedef struct CkCut CkCut;
struct CkCut {
  u8 aDigest[BEC_HASH_BYTES];
  i64 k;
  i64 nOp;
  BecBuf admins;         /* admin public keys of S(K), 32 bytes each */
  BecBuf invalid;        /* seqs (of this database) invalid in S(K), as
                         ** 4-byte big-endian integers, increasing */
  BecCkState *pRaw;      /* a snapshot's sections (bec_ckpt_state), or 0 */
  int bLocked;           /* an op of the cut is locked here (e2ee: no key):
                         ** aDigest is not S(K)'s, and is not stored */
};
static void cut_free(CkCut *c){
  bec_buf_free(&c->admins);
  bec_buf_free(&c->invalid);
}

static int cmp_hash(const void *a, const void *b){
  return memcmp(a, b, BEC_HASH_BYTES);
}
static int cmp_u32be(const void *a, const void *b){
  return memcmp(a, b, 4);
}

/* The ops section over the database of p2, but op iExclude (0: none);
** aMap[seq2] (0: the identity) is the seq in this database of op seq2.
** Fills pCut->nOp and pCut->invalid. */
static int digest_ops(BecCtx *p2, const int *aMap, int iExclude, CkCut *pCut,
                      u8 *aRoot){
  sqlite3_stmt *pStmt = 0;
  BecBuf leaves, leaf;
  int rc;
  memset(&leaves, 0, sizeof(leaves));
  memset(&leaf, 0, sizeof(leaf));
  rc = bec_ctx_stmt(p2, "SELECT seq, hash, depth, valid FROM bec_store_op"
                        " ORDER BY depth, hash", &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int bValid = sqlite3_column_int(pStmt, 3)!=0;
    int iSeq2 = sqlite3_column_int(pStmt, 0);
    if( iSeq2==iExclude ) continue;
    leaf_start(&leaf, &rc);
    bec_buf_append(&leaf, sqlite3_column_blob(pStmt, 1), BEC_HASH_BYTES, &rc);
    bec_buf_append_varint(&leaf, (u64)sqlite3_column_int64(pStmt, 2), &rc);
    bec_buf_append_u8(&leaf, (u8)bValid, &rc);
    leaf_end(&leaf, &leaves, &rc);
    if( pCut->pRaw && rc==SQLITE_OK ){
      /* for a snapshot's proofs: the op's id, depth and validity */
      i64 iDepth = sqlite3_column_int64(pStmt, 2);
      u8 b = (u8)bValid;
      bec_buf_append(&pCut->pRaw->opKeys, sqlite3_column_blob(pStmt, 1),
                     BEC_HASH_BYTES, &rc);
      bec_buf_append(&pCut->pRaw->opKeys, &iDepth, sizeof(iDepth), &rc);
      bec_buf_append(&pCut->pRaw->opKeys, &b, 1, &rc);
    }
    if( !bValid ){
      u32 s = (u32)(aMap ? aMap[iSeq2] : iSeq2);
      u8 a4[4] = { (u8)(s>>24), (u8)(s>>16), (u8)(s>>8), (u8)s };
      bec_buf_append(&pCut->invalid, a4, 4, &rc);
    }
    pCut->nOp++;
  }
  bec_stmt_reset(pStmt, &rc);
  if( rc==SQLITE_OK && pCut->pRaw ){
    pCut->pRaw->nOpLeaf = leaves.n/BEC_HASH_BYTES;
    bec_buf_append(&pCut->pRaw->opLeaves, leaves.a, leaves.n, &rc);
  }
  if( rc==SQLITE_OK ){
    bec_ckpt_merkle(leaves.a, leaves.n/BEC_HASH_BYTES, aRoot);
    if( pCut->invalid.n ){
      qsort(pCut->invalid.a, (size_t)(pCut->invalid.n/4), 4, cmp_u32be);
    }
  }
  bec_buf_free(&leaves);
  bec_buf_free(&leaf);
  return rc;
}

/* The level of a grant (create: admin); smaller role numbers are not
** ordered, so compare levels: admin 3, member 2, relay 1. */
static int grant_level(int kind, int role){
  if( kind==BEC_KIND_CREATE || role==BEC_ROLE_ADMIN ) return 3;
  return role==BEC_ROLE_MEMBER ? 2 : 1;
}
static int level_role(int level){
  return level==3 ? BEC_ROLE_ADMIN : level==2 ? BEC_ROLE_MEMBER : BEC_ROLE_RELAY;
}

/* One member leaf of author iAuthor (key aKey) into pLeaf. */
static int member_leaf(BecCtx *p2, BecGraph *g2, int iAuthor, const u8 *aKey,
                       BecBuf *pLeaf, int *pState, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecBuf live;
  BecInts removes;
  int rc, rank = 0, iKeyOp = 0, level = 0, i;
  memset(&live, 0, sizeof(live));
  memset(&removes, 0, sizeof(removes));
  *pState = 0;
  rc = bec_member_seniority(p2, iAuthor, &rank, &iKeyOp, pzErr);
  bec_buf_append(pLeaf, aKey, BEC_PUBKEY_BYTES, &rc);
  bec_buf_append_varint(pLeaf, (u64)rank, &rc);
  if( rc==SQLITE_OK ){
    if( iKeyOp>0 && iKeyOp<=g2->nNode ){
      bec_graph_id_append(g2, iKeyOp, pLeaf, &rc);
    }else{
      u8 aZero[BEC_HASH_BYTES];
      memset(aZero, 0, sizeof(aZero));
      bec_buf_append(pLeaf, aZero, BEC_HASH_BYTES, &rc);
    }
  }
  /* The valid removes of the key (rule 9). */
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p2, "SELECT seq FROM bec_store_op o WHERE o.kind=?1"
                          " AND o.target=?2 AND o.valid AND " BEC_OP_INDEXED("o"), &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, BEC_KIND_REMOVE);
    sqlite3_bind_int(pStmt, 2, iAuthor);
    rc = bec_stmt_ints(pStmt, &removes);
  }
  /* Its grants: the best potential role, and the live ones. */
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p2, "SELECT seq, kind, role, valid FROM bec_store_op o"
        " WHERE (o.kind=?1 AND o.author=?3 AND " BEC_OP_INDEXED("o") ")"
        " OR (o.kind=?2 AND o.target=?3 AND " BEC_OP_INDEXED("o") ")"
        " OR (o.kind=?4 AND o.target=?3 AND o.role<>0)", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, BEC_KIND_CREATE);
    sqlite3_bind_int(pStmt, 2, BEC_KIND_ADD);
    sqlite3_bind_int(pStmt, 3, iAuthor);
    sqlite3_bind_int(pStmt, 4, BEC_KIND_ROOT);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      int s = sqlite3_column_int(pStmt, 0);
      int lv = grant_level(sqlite3_column_int(pStmt, 1),
                           sqlite3_column_int(pStmt, 2));
      int bLive = sqlite3_column_int(pStmt, 3)!=0;
      if( lv>level ) level = lv;
      if( bLive && removes.n ){
        /* Overridden by a valid remove r with not(r < g). */
        u8 *aMark = 0;
        rc = bec_graph_past(g2, BEC_NODE_PREDS(g2, s), g2->aNode[s].nPred,
                            &aMark);
        for(i=0; rc==SQLITE_OK && i<removes.n; i++){
          if( !aMark[removes.a[i]] ){ bLive = 0; break; }
        }
        sqlite3_free(aMark);
      }
      if( bLive ) bec_graph_id_append(g2, s, &live, &rc);
    }
    bec_stmt_reset(pStmt, &rc);
  }
  /* Its state at the cut (rule 9), as membership derived it. */
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p2, "SELECT role FROM bec_store_member WHERE pubkey=?1",
                      &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aKey, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    if( sqlite3_step(pStmt)==SQLITE_ROW ) *pState = sqlite3_column_int(pStmt, 0);
    rc = sqlite3_reset(pStmt);
  }
  bec_buf_append_u8(pLeaf, (u8)(level ? level_role(level) : 0), &rc);
  bec_buf_append_u8(pLeaf, (u8)*pState, &rc);
  /* Its cover (v4): what rule 4 lets an op of it that descends from the
  ** cut do, which a demotion that a removal overrides can lower below the
  ** role shown (docs/compaction.md "The snapshot join"). */
  if( rc==SQLITE_OK ){
    int iCover = 0;
    rc = bec_member_cover(p2, iAuthor, &iCover, pzErr);
    bec_buf_append_u8(pLeaf, (u8)iCover, &rc);
  }
  if( rc==SQLITE_OK && live.n ){
    qsort(live.a, (size_t)(live.n/BEC_HASH_BYTES), BEC_HASH_BYTES, cmp_hash);
  }
  bec_buf_append_varint(pLeaf, (u64)(live.n/BEC_HASH_BYTES), &rc);
  bec_buf_append(pLeaf, live.a, live.n, &rc);
  bec_buf_free(&live);
  bec_ints_free(&removes);
  return rc;
}

/* The members section: every key with a potential grant (the creator,
** every add's target: every stored add was authorized by a potential admin
** grant; v4: and every target of a threshold root's grant, an add, role or
** restore, whose author is a root key), by public key.  The admins of S(K)
** go to pCut->admins. */
static int digest_members(BecCtx *p2, BecGraph *g2, CkCut *pCut, u8 *aRoot,
                          char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecBuf leaves, leaf;
  int rc, nAuthor = 0, i;
  int *aAuthor = 0;
  u8 *aKeys = 0;
  memset(&leaves, 0, sizeof(leaves));
  memset(&leaf, 0, sizeof(leaf));
  /* Collected first: member_leaf runs statements of its own. */
  rc = bec_ctx_stmt(p2, "SELECT a.id, a.pubkey FROM bec_store_author a"
      " WHERE a.id IN (SELECT o.author FROM bec_store_op o WHERE o.kind=?1"
      " AND " BEC_OP_INDEXED("o") " UNION SELECT o.target FROM bec_store_op o"
      " WHERE o.kind=?2 AND " BEC_OP_INDEXED("o") " UNION SELECT o.target"
      " FROM bec_store_op o WHERE o.kind=?3 AND o.role<>0)"
      " ORDER BY a.pubkey", &pStmt);
  if( rc==SQLITE_OK ){
    BecBuf ids, keys;
    memset(&ids, 0, sizeof(ids));
    memset(&keys, 0, sizeof(keys));
    sqlite3_bind_int(pStmt, 1, BEC_KIND_CREATE);
    sqlite3_bind_int(pStmt, 2, BEC_KIND_ADD);
    sqlite3_bind_int(pStmt, 3, BEC_KIND_ROOT);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      int id = sqlite3_column_int(pStmt, 0);
      if( sqlite3_column_bytes(pStmt, 1)!=BEC_PUBKEY_BYTES ){
        rc = SQLITE_CORRUPT;
        break;
      }
      bec_buf_append(&ids, &id, sizeof(id), &rc);
      bec_buf_append(&keys, sqlite3_column_blob(pStmt, 1), BEC_PUBKEY_BYTES, &rc);
    }
    bec_stmt_reset(pStmt, &rc);
    nAuthor = (int)(ids.n/sizeof(int));
    aAuthor = (int*)ids.a;
    aKeys = keys.a;
  }
  for(i=0; rc==SQLITE_OK && i<nAuthor; i++){
    int iState = 0;
    const u8 *aKey = aKeys + (i64)i*BEC_PUBKEY_BYTES;
    leaf_start(&leaf, &rc);
    if( rc==SQLITE_OK ){
      rc = member_leaf(p2, g2, aAuthor[i], aKey, &leaf, &iState, pzErr);
    }
    leaf_end(&leaf, &leaves, &rc);
    if( pCut->pRaw && rc==SQLITE_OK ){
      /* The leaf as sent in a snapshot: its bytes after the 0x00. */
      bec_buf_append_varint(&pCut->pRaw->members, (u64)(leaf.n-1), &rc);
      bec_buf_append(&pCut->pRaw->members, leaf.a+1, leaf.n-1, &rc);
      pCut->pRaw->nMember++;
    }
    if( iState==BEC_ROLE_ADMIN ) bec_buf_append(&pCut->admins, aKey, BEC_PUBKEY_BYTES, &rc);
  }
  sqlite3_free(aAuthor);
  sqlite3_free(aKeys);
  return sec_finish(&leaves, &leaf, aRoot, rc);
}

/* One row of a table: its key bytes (in a shared buffer) and leaf hash. */
typedef struct CkRow CkRow;
struct CkRow {
  i64 iKey;
  int nKey;
  i64 iRaw;              /* the leaf's bytes in the raw buffer (snapshot) */
  i64 nRaw;
  u8 aLeaf[BEC_HASH_BYTES];
};
static __thread const u8 *gRowKeys;   /* qsort has no context argument */
static int cmp_row(const void *a, const void *b){
  const CkRow *x = (const CkRow*)a, *y = (const CkRow*)b;
  int n = x->nKey<y->nKey ? x->nKey : y->nKey;
  int c = memcmp(gRowKeys + x->iKey, gRowKeys + y->iKey, (size_t)n);
  if( c ) return c;
  return x->nKey - y->nKey;
}

/* A losing candidate of a register (from bec_store_conflict). */
typedef struct CkCand CkCand;
struct CkCand {
  int col;               /* -1: existence */
  int seq;
  BecBuf val;            /* the value, encoded */
};
/* Decreasing (depth, id). */
static __thread const BecGraph *gCandGraph;
static int cmp_cand(const void *a, const void *b){
  int sx = ((const CkCand*)a)->seq, sy = ((const CkCand*)b)->seq;
  const BecNode *x = &gCandGraph->aNode[sx];
  const BecNode *y = &gCandGraph->aNode[sy];
  if( x->depth!=y->depth ) return x->depth>y->depth ? -1 : 1;
  return -bec_graph_id_cmp(gCandGraph, sx, sy);
}

/* Appends one register: the winner iWin (0: none) with its value pWin (0
** for existence), then the conflicts of column col among aCand. */
static void put_register(BecBuf *pLeaf, const BecGraph *g2, int iWin,
                         sqlite3_value *pWin, int bValue, const CkCand *aCand,
                         int nCand, int col, int *pRc){
  int i, n = 0;
  if( iWin<1 || iWin>g2->nNode ){
    bec_buf_append_varint(pLeaf, 0, pRc);
    return;
  }
  for(i=0; i<nCand; i++) if( aCand[i].col==col ) n++;
  bec_buf_append_varint(pLeaf, (u64)(1+n), pRc);
  bec_graph_id_append(g2, iWin, pLeaf, pRc);
  bec_buf_append_varint(pLeaf, (u64)g2->aNode[iWin].depth, pRc);
  if( bValue ) bec_value_encode(pLeaf, pWin, pRc);
  for(i=0; i<nCand; i++){
    const CkCand *c = &aCand[i];
    if( c->col!=col || c->seq<1 || c->seq>g2->nNode ) continue;
    bec_graph_id_append(g2, c->seq, pLeaf, pRc);
    bec_buf_append_varint(pLeaf, (u64)g2->aNode[c->seq].depth, pRc);
    if( bValue ) bec_buf_append(pLeaf, c->val.a, c->val.n, pRc);
  }
}

/* Appends the members of a COUNTER column kept under col (the winning
** assignment's base, or the uncovered steps: docs/tables.md "Counters"):
** their count, then each one's id, depth and value, in aCand's order
** (decreasing depth, then id).  They are what a later op merges with, so
** the digest covers them, not only the sum shown. */
static void put_members(BecBuf *pLeaf, const BecGraph *g2, const CkCand *aCand,
                        int nCand, int col, int *pRc){
  int i, n = 0;
  for(i=0; i<nCand; i++){
    if( aCand[i].col==col && aCand[i].seq>=1 && aCand[i].seq<=g2->nNode ) n++;
  }
  bec_buf_append_varint(pLeaf, (u64)n, pRc);
  for(i=0; i<nCand; i++){
    const CkCand *c = &aCand[i];
    if( c->col!=col || c->seq<1 || c->seq>g2->nNode ) continue;
    bec_graph_id_append(g2, c->seq, pLeaf, pRc);
    bec_buf_append_varint(pLeaf, (u64)g2->aNode[c->seq].depth, pRc);
    bec_buf_append(pLeaf, c->val.a, c->val.n, pRc);
  }
}

/* Whether column c is listed in the shown columns (bHiddenList 0) or in
** the hidden ones (1): a dropped column in neither. */
static int col_listed(const BecColumn *c, int bHiddenList){
  if( c->bDropped ) return 0;
  return bHiddenList ? c->bHidden : !c->bHidden;
}

/* rows_root and n_row of the table of create op iSchema (schema s, as
** shown: its own columns, then the added ones; the shadow table has a
** column per entry of s, hidden ones included, and only shown ones are
** digested). */
/* A table whose name another incarnation shows keeps no rows here (its
** _rows table does not exist): SQLITE_NOTFOUND, which ck_compute_raw
** answers with a replay of the cut; any other failure stays rcIn. */
static int rows_hidden(sqlite3 *db, const char *zName, int rcIn){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM main.sqlite_schema WHERE "
                              "type='table' AND name=?1||'_rows'", -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zName, -1, SQLITE_STATIC);
    rc = sqlite3_step(pStmt);
    rc = rc==SQLITE_DONE ? SQLITE_NOTFOUND : rc==SQLITE_ROW ? rcIn : rc;
  }
  sqlite3_finalize(pStmt);
  return rc;
}

static int digest_rows(BecCtx *p2, BecGraph *g2, int iSchema,
                       const BecSchema *s, i64 *pnRow, u8 *aRoot,
                       BecBuf *pRawRows, BecBuf *pLosers, char **pzErr){
  sqlite3 *db2 = p2->db;
  sqlite3_stmt *pRows = 0, *pConf = 0, *pAny = 0;
  BecBuf sql, keys, rows, leaf, leaves, raws;
  CkCand *aCand = 0;
  int nCand = 0, nCandAlloc = 0, bConflicts = 0, i, rc = SQLITE_OK;
  int nNonKey = 0;
  i64 nRow = 0;
  char *zRows = bec_sql_ident(s->zName, "_rows");
  memset(&sql, 0, sizeof(sql));
  memset(&keys, 0, sizeof(keys));
  memset(&rows, 0, sizeof(rows));
  memset(&leaf, 0, sizeof(leaf));
  memset(&leaves, 0, sizeof(leaves));
  memset(&raws, 0, sizeof(raws));
  if( zRows==0 ) return SQLITE_NOMEM;
  /* r, s<i> (non-key columns, in order), c0..c<n-1> */
  bec_buf_appendf(&sql, &rc, "SELECT r");
  for(i=0; i<s->nCol; i++){
    if( !s->aCol[i].iPk ){ bec_buf_appendf(&sql, &rc, ", s%d", i); nNonKey++; }
  }
  for(i=0; i<s->nCol; i++) bec_buf_appendf(&sql, &rc, ", c%d", i);
  bec_buf_appendf(&sql, &rc, " FROM %s", zRows);
  bec_buf_append_u8(&sql, 0, &rc);
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(db2, (const char*)sql.a, -1, &pRows, 0);
  if( rc==SQLITE_ERROR ) rc = rows_hidden(db2, s->zName, rc);
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(db2, "SELECT 1 FROM bec_store_conflict WHERE tbl=?1"
                                 " LIMIT 1", -1, &pAny, 0);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pAny, 1, iSchema);
    bConflicts = sqlite3_step(pAny)==SQLITE_ROW;
    rc = sqlite3_reset(pAny);
  }
  if( rc==SQLITE_OK && bConflicts ){
    rc = sqlite3_prepare_v2(db2, "SELECT col, seq, value FROM bec_store_conflict"
                                 " WHERE tbl=?1 AND pk=?2", -1, &pConf, 0);
  }
  while( rc==SQLITE_OK && sqlite3_step(pRows)==SQLITE_ROW ){
    CkRow row;
    int k, j, h;
    /* The key bytes: the key values in key order, value-encoded. */
    row.iKey = keys.n;
    for(k=0; k<s->nPk; k++){
      bec_value_encode(&keys, sqlite3_column_value(pRows, 1+nNonKey+s->aPk[k]), &rc);
    }
    row.nKey = (int)(keys.n - row.iKey);
    nCand = 0;
    if( rc==SQLITE_OK && pConf ){
      sqlite3_bind_int(pConf, 1, iSchema);
      sqlite3_bind_blob(pConf, 2, keys.a + row.iKey, row.nKey, SQLITE_STATIC);
      while( rc==SQLITE_OK && sqlite3_step(pConf)==SQLITE_ROW ){
        if( nCand==nCandAlloc ){
          int nNew = nCandAlloc ? nCandAlloc*2 : 8;
          CkCand *aNew = sqlite3_realloc64(aCand, sizeof(CkCand)*(u64)nNew);
          if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
          memset(&aNew[nCandAlloc], 0, sizeof(CkCand)*(size_t)(nNew-nCandAlloc));
          aCand = aNew;
          nCandAlloc = nNew;
        }
        aCand[nCand].col = sqlite3_column_int(pConf, 0);
        aCand[nCand].seq = sqlite3_column_int(pConf, 1);
        aCand[nCand].val.n = 0;
        bec_value_encode(&aCand[nCand].val, sqlite3_column_value(pConf, 2), &rc);
        nCand++;
      }
      bec_stmt_reset(pConf, &rc);
      if( rc==SQLITE_OK && nCand>1 ){
        gCandGraph = g2;
        qsort(aCand, (size_t)nCand, sizeof(CkCand), cmp_cand);
      }
      for(k=0; pLosers && k<nCand; k++){
        if( aCand[k].col>=0 ) bec_graph_id_append(g2, aCand[k].seq, pLosers, &rc);
      }
    }
    leaf_start(&leaf, &rc);
    bec_buf_append(&leaf, keys.a + row.iKey, row.nKey, &rc);
    put_register(&leaf, g2, sqlite3_column_int(pRows, 0), 0, 0, aCand, nCand,
                 -1, &rc);
    /* The shown columns, then those hidden by a name (put_columns). */
    for(h=0; h<2; h++){
      for(i=0, j=0; i<s->nCol; i++){
        if( s->aCol[i].iPk ) continue;
        j++;
        if( !col_listed(&s->aCol[i], h) ) continue;
        put_register(&leaf, g2, sqlite3_column_int(pRows, j),
                     sqlite3_column_value(pRows, 1+nNonKey+i), 1, aCand, nCand,
                     i, &rc);
        if( s->aCol[i].flags & BEC_COL_COUNTER ){
          put_members(&leaf, g2, aCand, nCand, -3-2*i, &rc);
          put_members(&leaf, g2, aCand, nCand, -2-2*i, &rc);
        }
      }
    }
    row.iRaw = raws.n;
    row.nRaw = leaf.n-1;
    if( pRawRows ) bec_buf_append(&raws, leaf.a+1, leaf.n-1, &rc);
    if( rc==SQLITE_OK ){
      bec_crypto_hash(leaf.a, leaf.n, row.aLeaf);
      bec_buf_append(&rows, &row, sizeof(row), &rc);
      nRow++;
    }
  }
  if( pRows ){
    int rc2 = sqlite3_finalize(pRows);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK && nRow>1 ){
    gRowKeys = keys.a;
    qsort(rows.a, (size_t)nRow, sizeof(CkRow), cmp_row);
  }
  for(i=0; rc==SQLITE_OK && i<nRow; i++){
    const CkRow *r = &((CkRow*)rows.a)[i];
    bec_buf_append(&leaves, r->aLeaf, BEC_HASH_BYTES, &rc);
    if( pRawRows ){
      bec_buf_append_varint(pRawRows, (u64)r->nRaw, &rc);
      bec_buf_append(pRawRows, raws.a + r->iRaw, r->nRaw, &rc);
    }
  }
  if( rc==SQLITE_OK ){
    bec_ckpt_merkle(leaves.a, nRow, aRoot);
    *pnRow = nRow;
  }else if( *pzErr==0 ){
    *pzErr = sqlite3_mprintf("checkpoint: cannot read the rows of %s: %s",
                             s->zName, sqlite3_errmsg(db2));
  }
  for(i=0; i<nCandAlloc; i++) bec_buf_free(&aCand[i].val);
  sqlite3_free(aCand);
  sqlite3_finalize(pConf);
  sqlite3_finalize(pAny);
  sqlite3_free(zRows);
  bec_buf_free(&sql);
  bec_buf_free(&keys);
  bec_buf_free(&rows);
  bec_buf_free(&leaf);
  bec_buf_free(&leaves);
  bec_buf_free(&raws);
  return rc;
}

/* One list of put_columns: the shown columns (bHiddenList 0) or the hidden
** ones (1), each as a count, then id and name per column. */
static void put_column_list(BecBuf *pLeaf, const BecGraph *g2, int iSchema,
                            const BecSchema *s, int bHiddenList, int *pRc){
  int i, n = 0;
  for(i=0; i<s->nCol; i++) n += col_listed(&s->aCol[i], bHiddenList);
  bec_buf_append_varint(pLeaf, (u64)n, pRc);
  for(i=0; i<s->nCol; i++){
    const BecColumn *c = &s->aCol[i];
    int nName = (int)strlen(c->zName);
    if( !col_listed(c, bHiddenList) ) continue;
    if( i<s->nBase ){
      bec_graph_id_append(g2, iSchema, pLeaf, pRc);
      bec_buf_append_varint(pLeaf, (u64)i, pRc);
    }else{
      bec_buf_append(pLeaf, s->aAddHash + (i64)(i-s->nBase)*BEC_HASH_BYTES,
                     BEC_HASH_BYTES, pRc);
      bec_buf_append_varint(pLeaf, 0, pRc);
    }
    bec_buf_append_varint(pLeaf, (u64)nName, pRc);
    bec_buf_append(pLeaf, c->zName, nName, pRc);
  }
}

/* The shown columns of a create op iSchema (schema s, as shown) in shown
** order: the count, then per column its id (the op that introduced it and
** its index there: the create's hash and index, or the ADD op's hash and
** 0) and its name now; then, the same way, the create's columns hidden
** because another column shows their name.  A drop has none. */
static void put_columns(BecBuf *pLeaf, const BecGraph *g2, int iSchema,
                        const BecSchema *s, int *pRc){
  int h;
  if( s->action!=BEC_SCHEMA_CREATE ){
    bec_buf_append_varint(pLeaf, 0, pRc);
    bec_buf_append_varint(pLeaf, 0, pRc);
    return;
  }
  for(h=0; h<2; h++) put_column_list(pLeaf, g2, iSchema, s, h, pRc);
}

/* The tables section: per table name with a winning schema op, by the
** name's bytes after ASCII lower-casing.  The name is the one shown (the
** incarnation's name register: its create or the greatest RENAME TO), so
** a table rename changes the digest as a column rename does. */
static int digest_tables(BecCtx *p2, BecGraph *g2, u8 *aRoot,
                         BecCkState *pRaw, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecBuf leaves, leaf, names;
  BecBuf seqs, rawRows;
  int rc, i, n, iName = 0;
  memset(&leaves, 0, sizeof(leaves));
  memset(&leaf, 0, sizeof(leaf));
  memset(&names, 0, sizeof(names));
  memset(&seqs, 0, sizeof(seqs));
  memset(&rawRows, 0, sizeof(rawRows));
  /* names: each shown name, NUL-terminated, in the order of seqs */
  rc = bec_ctx_stmt(p2, "SELECT seq, name FROM bec_store_table"
                        " ORDER BY lower(name) COLLATE BINARY", &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int s = sqlite3_column_int(pStmt, 0);
    const char *z = (const char*)sqlite3_column_text(pStmt, 1);
    bec_buf_append(&seqs, &s, sizeof(s), &rc);
    bec_buf_append(&names, z ? z : "", (int)strlen(z ? z : "")+1, &rc);
  }
  bec_stmt_reset(pStmt, &rc);
  n = (int)(seqs.n/sizeof(int));
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int iSeq;
    const char *zShown = (const char*)names.a + iName;
    BecOp op;
    BecSchema *s = 0;
    u8 *aBody = 0;
    i64 nBody = 0, nRow = 0;
    u8 aRows[BEC_HASH_BYTES];
    memcpy(&iSeq, seqs.a + i*sizeof(int), sizeof(int));
    if( iSeq<1 || iSeq>g2->nNode ){ rc = SQLITE_CORRUPT; break; }
    rc = bec_ctx_stmt(p2, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iSeq);
      if( sqlite3_step(pStmt)==SQLITE_ROW ) rc = bec_ctx_column_copy(pStmt, &aBody, &nBody);
      sqlite3_reset(pStmt);
    }
    if( rc==SQLITE_OK && bec_op_decode(aBody, nBody, &op, pzErr) ) rc = SQLITE_CORRUPT;
    /* The schema as shown: the alters the merge applies (ADD, RENAME and
    ** DROP COLUMN) are part of the state. */
    if( rc==SQLITE_OK ) rc = bec_crdt_load_schema(p2, iSeq, &s, 0, pzErr);
    if( rc==SQLITE_OK ){
      if( s->action==BEC_SCHEMA_CREATE ){
        rawRows.n = 0;
        rc = digest_rows(p2, g2, iSeq, s, &nRow, aRows,
                         pRaw ? &rawRows : 0, pRaw ? &pRaw->loserIds : 0,
                         pzErr);
      }else{
        bec_ckpt_merkle(0, 0, aRows);
      }
    }
    leaf_start(&leaf, &rc);
    if( rc==SQLITE_OK ){
      int nName = (int)strlen(zShown);
      bec_buf_append_varint(&leaf, (u64)nName, &rc);
      bec_buf_append(&leaf, zShown, nName, &rc);
      bec_graph_id_append(g2, iSeq, &leaf, &rc);
      bec_buf_append_varint(&leaf, (u64)g2->aNode[iSeq].depth, &rc);
      bec_buf_append_varint(&leaf, (u64)op.nPayload, &rc);
      bec_buf_append(&leaf, op.aPayload, op.nPayload, &rc);
      put_columns(&leaf, g2, iSeq, s, &rc);
      if( pRaw && rc==SQLITE_OK ){
        /* As sent in a snapshot: the leaf's head (after the 0x00, up to
        ** n_row), then the rows' leaves; the joiner hashes the rows. */
        bec_buf_append_varint(&pRaw->tables, (u64)(leaf.n-1), &rc);
        bec_buf_append(&pRaw->tables, leaf.a+1, leaf.n-1, &rc);
        bec_buf_append_varint(&pRaw->tables, (u64)nRow, &rc);
        if( nRow ) bec_buf_append(&pRaw->tables, rawRows.a, rawRows.n, &rc);
        pRaw->nTable++;
      }
      bec_buf_append_varint(&leaf, (u64)nRow, &rc);
      bec_buf_append(&leaf, aRows, BEC_HASH_BYTES, &rc);
    }
    leaf_end(&leaf, &leaves, &rc);
    bec_schema_free(s);
    sqlite3_free(aBody);
    iName += (int)strlen(zShown) + 1;
  }
  bec_buf_free(&names);
  bec_buf_free(&seqs);
  bec_buf_free(&rawRows);
  return sec_finish(&leaves, &leaf, aRoot, rc);
}

/**************************************************************************
** The sections of v4 after the tables (docs/compaction.md, "The digest,
** byte by byte"): what a replica derives from the cut besides members and
** tables, which a joiner installing a snapshot needs under R.  Each is a
** list of leaves in a fixed order; sec_leaf hashes one and keeps its bytes
** for a snapshot.
*/
static void sec_leaf(BecBuf *pLeaf, BecBuf *pLeaves, CkCut *pCut, int iSec,
                     int *pRc){
  leaf_end(pLeaf, pLeaves, pRc);
  if( pCut->pRaw && *pRc==SQLITE_OK ){
    bec_buf_append_varint(&pCut->pRaw->aSec[iSec], (u64)(pLeaf->n-1), pRc);
    bec_buf_append(&pCut->pRaw->aSec[iSec], pLeaf->a+1, pLeaf->n-1, pRc);
    pCut->pRaw->anSec[iSec]++;
  }
}

/* An id column (32 bytes) appended, or SQLITE_CORRUPT. */
static void put_id_col(BecBuf *pLeaf, sqlite3_stmt *pStmt, int iCol, int *pRc){
  if( *pRc ) return;
  if( sqlite3_column_bytes(pStmt, iCol)!=BEC_HASH_BYTES ){
    *pRc = SQLITE_CORRUPT;
    return;
  }
  bec_buf_append(pLeaf, sqlite3_column_blob(pStmt, iCol), BEC_HASH_BYTES, pRc);
}

/* Runs pStmt (bound by the caller) to its end, appending column 0 of each
** row as an id, after a varint count. */
static void put_id_list(BecBuf *pLeaf, sqlite3_stmt *pStmt, int *pRc){
  BecBuf ids;
  memset(&ids, 0, sizeof(ids));
  while( *pRc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    put_id_col(&ids, pStmt, 0, pRc);
  }
  bec_stmt_reset(pStmt, pRc);
  bec_buf_append_varint(pLeaf, (u64)(ids.n/BEC_HASH_BYTES), pRc);
  bec_buf_append(pLeaf, ids.a, ids.n, pRc);
  bec_buf_free(&ids);
}

/* The root section: one leaf per key generation (a root-open, or a
** 'holders' request's session) in the cut, by session id: sid (32), the
** session it hands over from (32: its lineage; zeros for an open), epoch
** (varint), k (u8), n (u8), state (u8: 0 generating, 1 active, 2
** disabled, 3 abandoned, 4 superseded by a hand-over), active in the cut (u8: 1 for the one epoch whose
** key acts for a root op descending from the cut, after hand-overs), the
** group key (u8 0, or u8 1 and 32 bytes), the n holders' keys in holder
** order. */
#define CK_NROOTSTATE 5
static int digest_root(BecCtx *pD, CkCut *pCut, u8 *aRoot, char **pzErr){
  static const char *azState[CK_NROOTSTATE] = { "generating", "active",
      "disabled", "abandoned", "superseded" };
  sqlite3_stmt *pStmt = 0, *pHold = 0;
  BecBuf leaves, leaf;
  int rc, iActive = 0;
  memset(&leaves, 0, sizeof(leaves));
  memset(&leaf, 0, sizeof(leaf));
  rc = bec_root_active_session(pD, 0, &iActive);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(pD, "SELECT s.seq, s.sid, s.epoch, s.k, s.n, s.state,"
        " s.group_key, (SELECT ps.sid FROM bec_store_root_request r"
        " JOIN bec_store_root_session ps ON ps.seq=r.epoch WHERE r.seq=s.seq)"
        " FROM bec_store_root_session s ORDER BY s.sid", &pStmt);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zState = (const char*)sqlite3_column_text(pStmt, 5);
    int iSess = sqlite3_column_int(pStmt, 0), e;
    for(e=0; e<CK_NROOTSTATE && (zState==0 || strcmp(zState, azState[e]));
        e++){}
    leaf_start(&leaf, &rc);
    put_id_col(&leaf, pStmt, 1, &rc);
    if( sqlite3_column_type(pStmt, 7)==SQLITE_NULL ){
      u8 aZero[BEC_HASH_BYTES];
      memset(aZero, 0, sizeof(aZero));
      bec_buf_append(&leaf, aZero, BEC_HASH_BYTES, &rc);
    }else{
      put_id_col(&leaf, pStmt, 7, &rc);
    }
    bec_buf_append_varint(&leaf, (u64)sqlite3_column_int64(pStmt, 2), &rc);
    bec_buf_append_u8(&leaf, (u8)sqlite3_column_int(pStmt, 3), &rc);
    bec_buf_append_u8(&leaf, (u8)sqlite3_column_int(pStmt, 4), &rc);
    if( rc==SQLITE_OK && e==CK_NROOTSTATE ){
      *pzErr = sqlite3_mprintf("checkpoint: a key generation of the root in "
                               "the state '%s', unknown here",
                               zState ? zState : "");
      rc = SQLITE_CORRUPT;
    }
    bec_buf_append_u8(&leaf, (u8)e, &rc);
    bec_buf_append_u8(&leaf, (u8)(iSess==iActive), &rc);
    if( sqlite3_column_bytes(pStmt, 6)==BEC_PUBKEY_BYTES ){
      bec_buf_append_u8(&leaf, 1, &rc);
      bec_buf_append(&leaf, sqlite3_column_blob(pStmt, 6), BEC_PUBKEY_BYTES, &rc);
    }else{
      bec_buf_append_u8(&leaf, 0, &rc);
    }
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(pD, "SELECT pk FROM bec_store_root_holder"
                            " WHERE session=?1 ORDER BY id", &pHold);
    }
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pHold, 1, iSess);
      while( rc==SQLITE_OK && sqlite3_step(pHold)==SQLITE_ROW ){
        put_id_col(&leaf, pHold, 0, &rc);
      }
      bec_stmt_reset(pHold, &rc);
    }
    sec_leaf(&leaf, &leaves, pCut, BEC_CK_SEC_ROOT, &rc);
  }
  bec_stmt_reset(pStmt, &rc);
  return sec_finish(&leaves, &leaf, aRoot, rc);
}

/* The epochs section: one leaf per epoch op (encrypt, rekey) in the cut,
** by id: id (32), valid (u8), the seed's commitment (32), the epochs it
** follows (varint count, ids increasing), its holders (varint count, then
** per holder its key prefix (8) and the op whose box it holds (32: the
** epoch op or a keyshare; 32 zero bytes: the epoch's author), by prefix
** then that id). */
static int digest_epochs(BecCtx *pD, CkCut *pCut, u8 *aRoot){
  sqlite3_stmt *pStmt = 0, *pSub = 0;
  BecBuf leaves, leaf, holders;
  int rc;
  u8 aZero[BEC_HASH_BYTES];
  memset(aZero, 0, sizeof(aZero));
  memset(&leaves, 0, sizeof(leaves));
  memset(&leaf, 0, sizeof(leaf));
  memset(&holders, 0, sizeof(holders));
  rc = bec_ctx_stmt(pD, "SELECT e.seq, o.hash, o.valid, e.hcommit"
      " FROM bec_store_epoch e JOIN bec_store_op o ON o.seq=e.seq"
      " ORDER BY o.hash", &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int iEpoch = sqlite3_column_int(pStmt, 0), n = 0;
    leaf_start(&leaf, &rc);
    put_id_col(&leaf, pStmt, 1, &rc);
    bec_buf_append_u8(&leaf, (u8)(sqlite3_column_int(pStmt, 2)!=0), &rc);
    put_id_col(&leaf, pStmt, 3, &rc);
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(pD, "SELECT o.hash FROM bec_store_epoch_back b"
          " JOIN bec_store_op o ON o.seq=b.back WHERE b.epoch=?1"
          " ORDER BY o.hash", &pSub);
    }
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pSub, 1, iEpoch);
      put_id_list(&leaf, pSub, &rc);
    }
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(pD, "SELECT h.prefix, o.hash FROM"
          " bec_store_epoch_holder h LEFT JOIN bec_store_op o"
          " ON o.seq=h.via AND h.via<>0 WHERE h.epoch=?1"
          " ORDER BY h.prefix, coalesce(o.hash, x'')", &pSub);
    }
    holders.n = 0;
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pSub, 1, iEpoch);
      while( rc==SQLITE_OK && sqlite3_step(pSub)==SQLITE_ROW ){
        if( sqlite3_column_bytes(pSub, 0)!=BEC_E2EE_PREFIX_BYTES ){
          rc = SQLITE_CORRUPT;
          break;
        }
        bec_buf_append(&holders, sqlite3_column_blob(pSub, 0),
                       BEC_E2EE_PREFIX_BYTES, &rc);
        if( sqlite3_column_type(pSub, 1)==SQLITE_NULL ){
          bec_buf_append(&holders, aZero, BEC_HASH_BYTES, &rc);
        }else{
          put_id_col(&holders, pSub, 1, &rc);
        }
        n++;
      }
      bec_stmt_reset(pSub, &rc);
    }
    bec_buf_append_varint(&leaf, (u64)n, &rc);
    bec_buf_append(&leaf, holders.a, holders.n, &rc);
    sec_leaf(&leaf, &leaves, pCut, BEC_CK_SEC_EPOCHS, &rc);
  }
  bec_stmt_reset(pStmt, &rc);
  bec_buf_free(&holders);
  return sec_finish(&leaves, &leaf, aRoot, rc);
}

/* The names section: one leaf per key with a name in effect in the cut
** (its valid name op with the greatest (depth, id)), by key: key (32), the
** name op's id (32), the name (varint length, UTF-8 bytes). */
static int digest_names(BecCtx *pD, CkCut *pCut, u8 *aRoot){
  sqlite3_stmt *pStmt = 0;
  BecBuf leaves, leaf;
  int rc;
  memset(&leaves, 0, sizeof(leaves));
  memset(&leaf, 0, sizeof(leaf));
  rc = bec_ctx_stmt(pD, "SELECT a.pubkey, o.hash, n.name FROM bec_store_name n"
      " JOIN bec_store_op o ON o.seq=n.seq JOIN bec_store_author a"
      " ON a.id=n.author WHERE o.valid AND NOT EXISTS(SELECT 1 FROM"
      " bec_store_name n2 JOIN bec_store_op o2 ON o2.seq=n2.seq"
      " WHERE n2.author=n.author AND o2.valid AND (o2.depth>o.depth"
      " OR (o2.depth=o.depth AND o2.hash>o.hash))) ORDER BY a.pubkey", &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int nName = sqlite3_column_bytes(pStmt, 2);
    leaf_start(&leaf, &rc);
    put_id_col(&leaf, pStmt, 0, &rc);      /* (a key is 32 bytes too) */
    put_id_col(&leaf, pStmt, 1, &rc);
    bec_buf_append_varint(&leaf, (u64)nName, &rc);
    bec_buf_append(&leaf, sqlite3_column_text(pStmt, 2), nName, &rc);
    sec_leaf(&leaf, &leaves, pCut, BEC_CK_SEC_NAMES, &rc);
  }
  bec_stmt_reset(pStmt, &rc);
  return sec_finish(&leaves, &leaf, aRoot, rc);
}

static int ck_seal_state(BecCtx*, int, const u8*, const u8*, int*, int*);

/* The checkpoints section, read in this database (p) with the cut aMark:
** one leaf per checkpoint op in the cut, by id: id (32), the digest its
** author claimed (32: its payload's R), k in force in its own cut
** (varint; where its cut could not be computed here R(K) is unknown here,
** pCut->bLocked), sealed within the
** cut (u8: 0 no, 1 by k admins' claims in the cut, 2 by a root
** attestation in the cut).  Not from the replay: a scratch database
** computes nothing for checkpoints; the claims in the cut and each
** checkpoint's admins and k are fixed once stored, so this reads the same
** on both paths.  (Nested checkpoints: every checkpoint of the cut is
** sealed or retired within it, ck_admit.) */
static int digest_ckpts(BecCtx *p, const u8 *aMark, int nMark, CkCut *pCut,
                        u8 *aRoot){
  sqlite3_stmt *pStmt = 0;
  BecBuf leaves, leaf, seqs;
  int rc, i, n;
  u8 aZero[BEC_HASH_BYTES];
  memset(aZero, 0, sizeof(aZero));
  memset(&leaves, 0, sizeof(leaves));
  memset(&leaf, 0, sizeof(leaf));
  memset(&seqs, 0, sizeof(seqs));
  /* Collected first: ck_seal_state runs statements of its own. */
  rc = bec_ctx_stmt(p, "SELECT o.seq FROM bec_store_op o WHERE o.kind=?1"
                       " ORDER BY o.hash", &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, BEC_KIND_CHECKPOINT);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      int x = sqlite3_column_int(pStmt, 0);
      if( x<1 || x>=nMark || !aMark[x] ) continue;
      bec_buf_append(&seqs, &x, sizeof(x), &rc);
    }
    bec_stmt_reset(pStmt, &rc);
  }
  n = (int)(seqs.n/sizeof(int));
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int x, bSealed = 0;
    memcpy(&x, seqs.a + (i64)i*sizeof(int), sizeof(int));
    rc = bec_ctx_stmt(p, "SELECT o.hash, (SELECT c.digest FROM bec_store_claim"
        " c WHERE c.seq=o.seq), (SELECT k.k FROM bec_store_checkpoint k"
        " WHERE k.seq=o.seq) FROM bec_store_op o WHERE o.seq=?1", &pStmt);
    if( rc ) break;
    sqlite3_bind_int(pStmt, 1, x);
    leaf_start(&leaf, &rc);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      put_id_col(&leaf, pStmt, 0, &rc);
      if( sqlite3_column_bytes(pStmt, 1)==BEC_HASH_BYTES ){
        put_id_col(&leaf, pStmt, 1, &rc);
      }else{
        bec_buf_append(&leaf, aZero, BEC_HASH_BYTES, &rc);
      }
      bec_buf_append_varint(&leaf, (u64)sqlite3_column_int64(pStmt, 2), &rc);
      /* J's cut was not computed here (pruned below a checkpoint
      ** concurrent with J): its k and seal are unknown here, so is R(K),
      ** as where an op of the cut is locked (no claim, no dispute). */
      if( sqlite3_column_type(pStmt, 2)==SQLITE_NULL ) pCut->bLocked = 1;
    }else if( rc==SQLITE_OK ){
      rc = SQLITE_CORRUPT;
    }
    bec_stmt_reset(pStmt, &rc);
    if( rc==SQLITE_OK ) rc = ck_seal_state(p, x, aMark, 0, &bSealed, 0);
    bec_buf_append_u8(&leaf, (u8)bSealed, &rc);
    sec_leaf(&leaf, &leaves, pCut, BEC_CK_SEC_CKPTS, &rc);
  }
  bec_buf_free(&seqs);
  return sec_finish(&leaves, &leaf, aRoot, rc);
}

/* k in force in the scratch database's op set: the valid config op with
** the greatest (depth, id), else a majority of nAdmin. */
static int cut_k(BecCtx *p2, int nAdmin, i64 *pk){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p2, "SELECT c.k FROM bec_store_ckconfig c"
      " JOIN bec_store_op o ON o.seq=c.seq WHERE o.valid"
      " ORDER BY o.depth DESC, o.hash DESC LIMIT 1", &pStmt);
  *pk = nAdmin/2 + 1;
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *pk = sqlite3_column_int64(pStmt, 0);
  return sqlite3_reset(pStmt);
}

/* The section roots but the checkpoints' (digest_ckpts, read by the
** caller) and k, read from the derived state of pD's database (see
** digest_ops for aMap and iExclude); aRoots: BEC_CK_NROOT * 32 bytes. */
#define CK_ROOT(a, i) ((a) + (i)*BEC_HASH_BYTES)
static int digest_state(BecCtx *pD, const int *aMap, int iExclude, CkCut *pCut,
                        u8 *aRoots, char **pzErr){
  BecGraph *gD = 0;
  int rc = bec_graph_get(pD, &gD, pzErr);
  if( rc==SQLITE_OK ) rc = digest_ops(pD, aMap, iExclude, pCut, CK_ROOT(aRoots, 0));
  if( rc==SQLITE_OK ) rc = digest_members(pD, gD, pCut, CK_ROOT(aRoots, 1), pzErr);
  if( rc==SQLITE_OK ){
    rc = digest_tables(pD, gD, CK_ROOT(aRoots, 2), pCut->pRaw, pzErr);
  }
  if( rc==SQLITE_OK ){
    rc = digest_root(pD, pCut, CK_ROOT(aRoots, 3+BEC_CK_SEC_ROOT), pzErr);
  }
  if( rc==SQLITE_OK ){
    rc = digest_epochs(pD, pCut, CK_ROOT(aRoots, 3+BEC_CK_SEC_EPOCHS));
  }
  if( rc==SQLITE_OK ){
    rc = digest_names(pD, pCut, CK_ROOT(aRoots, 3+BEC_CK_SEC_NAMES));
  }
  if( rc==SQLITE_OK ){
    rc = cut_k(pD, (int)(pCut->admins.n/BEC_PUBKEY_BYTES), &pCut->k);
  }
  return rc;
}

static int ck_final_build(BecCtx*, const u8 *aCut, u8 **paFinal, int *pn);

/* *pb: the cut aMark is exactly the cut of checkpoint iCp (the one this
** replica pruned below), so the merge base is its tables' share whole. */
static int cut_is_base(const BecGraph *g, const u8 *aMark, int iCp, int *pb){
  u8 *aBase = 0;
  int x, rc = bec_graph_past(g, BEC_NODE_PREDS(g, iCp), g->aNode[iCp].nPred,
                             &aBase);
  *pb = 0;
  if( rc ) return rc;
  *pb = 1;
  for(x=1; x<=g->nNode; x++){
    if( !aMark[x]!=!aBase[x] ){ *pb = 0; break; }
  }
  sqlite3_free(aBase);
  return SQLITE_OK;
}

/* The same, from the cut alone: its ops replayed into a scratch database
** in seq order (aMark: the cut). */
static int digest_replay(BecCtx *p, BecGraph *g, const u8 *aMark, int nCut,
                         const u8 *aGroup, CkCut *pCut, u8 *aRoots,
                         char **pzErr){
  sqlite3 *db2 = 0;
  BecCtx *p2 = 0;
  sqlite3_stmt *pStmt = 0;
  int *aMap = 0;
  int iPrune = 0;                 /* the prune point: 0 not asked, -1 none
                                  ** in this cut, else its seq */
  int bBaseCut = 0;               /* the cut is exactly iPrune's cut */
  int rc, x, i;
  aMap = sqlite3_malloc64(sizeof(int)*(u64)(nCut+1));
  if( aMap==0 ) return SQLITE_NOMEM;
  rc = p->xScratch ? p->xScratch(&db2, &p2, pzErr) : SQLITE_MISUSE;
  if( rc==SQLITE_OK ) p2->pKeys = p;   /* e2ee: this replica's keys open */
  if( rc==SQLITE_OK ) rc = bec_dag_ensure_schema(p2, pzErr);
  if( rc==SQLITE_OK ) rc = bec_config_set_blob(p2, "group_id", aGroup, BEC_HASH_BYTES);
  if( rc==SQLITE_OK ) rc = sqlite3_exec(db2, "BEGIN", 0, 0, 0);
  /* The seals within the cut apply to the replay: their final validity,
  ** renumbered as the scratch database numbers the cut's ops. */
  if( rc==SQLITE_OK ){
    u8 *aFinal = 0;
    int nFinal = 0;
    rc = ck_final_build(p, aMark, &aFinal, &nFinal);
    if( rc==SQLITE_OK && aFinal ){
      p2->aCkFinal = sqlite3_malloc64((u64)nCut+1);
      if( p2->aCkFinal==0 ) rc = SQLITE_NOMEM;
      for(x=1, i=0; rc==SQLITE_OK && x<=g->nNode; x++){
        if( aMark[x] ) p2->aCkFinal[++i] = x<nFinal ? aFinal[x] : 0;
      }
      if( rc==SQLITE_OK ){
        p2->aCkFinal[0] = 0;
        p2->nCkFinal = nCut+1;
        p2->bCkFinal = 1;
      }
    }
    sqlite3_free(aFinal);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
  }
  for(x=1, i=0; rc==SQLITE_OK && x<=g->nNode; x++){
    BecAccept res;
    BecBuf head;                  /* a pruned op's header, rebuilt */
    BecOp hdr;
    const u8 *aBody;
    i64 nBody;
    if( !aMark[x] ) continue;
    sqlite3_bind_int(pStmt, 1, x);
    if( sqlite3_step(pStmt)!=SQLITE_ROW ){
      rc = sqlite3_reset(pStmt);
      if( rc==SQLITE_OK ) rc = SQLITE_CORRUPT;
      break;
    }
    aBody = sqlite3_column_blob(pStmt, 0);
    nBody = sqlite3_column_bytes(pStmt, 0);
    memset(&head, 0, sizeof(head));
    if( bec_dag_body_dropped(aBody, nBody) ){
      /* Pruned here (bec_prune.c).  If the cut holds the checkpoint pruned
      ** below, or is that checkpoint's cut, the header goes in and the
      ** merge base is copied after the replay; else this cut cannot be
      ** replayed here. */
      if( iPrune==0 ){
        u8 aCp[BEC_HASH_BYTES];
        rc = bec_prune_point(p, &iPrune, aCp);
        if( rc==SQLITE_OK && (iPrune<1 || iPrune>g->nNode) ) iPrune = -1;
        if( rc==SQLITE_OK && iPrune>0 && !aMark[iPrune] ){
          /* The cut of the prune checkpoint itself (its snapshot): the
          ** base is this very cut's share of the tables. */
          rc = cut_is_base(g, aMark, iPrune, &bBaseCut);
          if( rc==SQLITE_OK && !bBaseCut ) iPrune = -1;
        }
      }
      if( rc==SQLITE_OK && iPrune<0 ){
        u8 aX[BEC_HASH_BYTES];
        sqlite3_reset(pStmt);
        rc = bec_graph_id(g, x, aX);
        if( rc==SQLITE_OK ){
          *pzErr = bec_prune_message(p, aX);
          rc = SQLITE_NOTFOUND;
        }
        break;
      }
      /* The header alone goes in (the scratch stores it as a stub). */
      if( rc==SQLITE_OK ){
        rc = bec_dag_pruned_header(p, x, aBody, nBody, &head, &hdr, pzErr);
      }
      if( rc ){
        sqlite3_reset(pStmt);
        bec_buf_free(&head);
        break;
      }
      aBody = head.a;
      nBody = head.n;
    }
    memset(&res, 0, sizeof(res));
    rc = bec_dag_accept(p2, aBody, nBody, 1, &res, pzErr);
    sqlite3_reset(pStmt);
    bec_buf_free(&head);
    if( rc==SQLITE_OK && res.eOutcome!=BEC_ACCEPT_STORED ){
      *pzErr = sqlite3_mprintf("checkpoint: op %d of the cut does not replay "
          "alone: %s", x, res.zReason ? res.zReason : "not stored");
      rc = SQLITE_CORRUPT;
    }
    sqlite3_free(res.zReason);
    aMap[++i] = x;
  }
  if( rc==SQLITE_OK && iPrune>0 ){
    /* The pruned writes' share of the tables: the merge base. */
    int *aTo = sqlite3_malloc64(sizeof(int)*((u64)g->nNode+1));
    if( aTo==0 ) rc = SQLITE_NOMEM;
    else{
      memset(aTo, 0, sizeof(int)*((size_t)g->nNode+1));
      for(x=1; x<=i; x++) aTo[aMap[x]] = x;
      if( bBaseCut ) aTo[iPrune] = -1;    /* (not replayed: its cut is) */
      rc = bec_crdt_base_copy(p, p2, aTo, g->nNode+1, pzErr);
      sqlite3_free(aTo);
    }
  }
  if( rc==SQLITE_OK ){
    rc = digest_state(p2, aMap, 0, pCut, aRoots, pzErr);
  }
  if( rc && *pzErr==0 && db2 ){
    *pzErr = sqlite3_mprintf("checkpoint: cannot replay the cut: %s",
                             sqlite3_errmsg(db2));
  }
  if( p2 ){
    bec_ctx_finalize_stmts(p2);
    sqlite3_close_v2(db2);
    sqlite3_free(p2->aCkFinal);
    p2->aCkFinal = 0;
    bec_ctx_unref(p2);
  }
  sqlite3_free(aMap);
  return rc;
}

/*
** S(K) and R(K) for the cut whose heads are aPredSeq[0..nPred-1] (seqs of
** this database); iSelf is K's seq once K is stored, else 0.
**
** When the cut is every stored op but K (a checkpoint signed here, or
** received by a replica that holds nothing concurrent with it: the common
** case), S(K) is the state this database already derived, and the digest
** is read from it directly.  Not while this transaction has table writes
** not yet signed (they are in the rows but in no op), and not if a table
** is hidden here (its rows are not shown): then, as for any other cut, the
** cut is replayed into a scratch database.  Both read the digest with the
** same functions.  pCut is filled; the caller frees it with cut_free even
** on failure.
*/
static int ck_compute_raw(BecCtx*, const int*, int, int, CkCut*,
                          BecCkState*, char**);
static int ck_compute(BecCtx *p, const int *aPredSeq, int nPred, int iSelf,
                      CkCut *pCut, char **pzErr){
  return ck_compute_raw(p, aPredSeq, nPred, iSelf, pCut, 0, pzErr);
}

/* The same, and the sections' leaves into pRaw if not 0 (a snapshot). */
static int ck_compute_raw(BecCtx *p, const int *aPredSeq, int nPred,
                          int iSelf, CkCut *pCut, BecCkState *pRaw,
                          char **pzErr){
  BecGraph *g = 0;
  u8 *aMark = 0;
  int rc, x, nCut = 0, i;
  u8 aGroup[BEC_HASH_BYTES];
  u8 aRoots[BEC_CK_NROOT*BEC_HASH_BYTES];
  BecBuf heads;
  memset(pCut, 0, sizeof(*pCut));
  pCut->pRaw = pRaw;
  memset(&heads, 0, sizeof(heads));
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_past(g, aPredSeq, nPred, &aMark);
  if( rc==SQLITE_OK && !p->bScratch ){
    /* e2ee: a cut with an op this replica cannot open has a digest here
    ** that no holder of the keys computes: unknown here, until the key
    ** arrives (ck_settle computes it again). */
    int iLocked = 0;
    rc = bec_crdt_locked_among(p, aMark, g->nNode+1, &iLocked, 0);
    pCut->bLocked = iLocked!=0;
  }
  if( rc==SQLITE_OK ){
    int bDirect;
    for(x=1; x<=g->nNode; x++) nCut += aMark[x];
    /* a stand-in of an installed cut has no leaf here: as if pruned */
    for(x=1; x<=g->nNode; x++){
      if( aMark[x] && BEC_NODE_STANDIN(g, x) ) rc = SQLITE_NOTFOUND;
    }
    bDirect = rc==SQLITE_OK && nCut==g->nNode - (iSelf ? 1 : 0)
           && !(p->pCrdt && p->pCrdt->bTxn) && !p->bScratch;
    if( bDirect ){
      rc = digest_state(p, 0, iSelf, pCut, aRoots, pzErr);
      if( rc==SQLITE_NOTFOUND ){
        /* A hidden table (no rows shown here, rows_hidden): replay. */
        sqlite3_free(*pzErr);
        *pzErr = 0;
        cut_free(pCut);
        memset(pCut, 0, sizeof(*pCut));
        pCut->pRaw = pRaw;
        if( pRaw ){
          pRaw->members.n = pRaw->tables.n = 0;
          pRaw->nMember = pRaw->nTable = 0;
          for(i=0; i<BEC_CK_NSEC; i++){
            pRaw->aSec[i].n = 0;
            pRaw->anSec[i] = 0;
          }
          pRaw->opLeaves.n = pRaw->opKeys.n = 0;
          pRaw->nOpLeaf = 0;
          pRaw->loserIds.n = 0;
        }
        bDirect = 0;
        rc = SQLITE_OK;
      }
    }
    if( rc==SQLITE_OK && !bDirect ){
      rc = digest_replay(p, g, aMark, nCut, aGroup, pCut, aRoots, pzErr);
    }
  }
  if( rc==SQLITE_OK ){
    rc = digest_ckpts(p, aMark, g->nNode+1, pCut,
                      CK_ROOT(aRoots, 3+BEC_CK_SEC_CKPTS));
  }
  /* The heads, strictly increasing. */
  for(i=0; rc==SQLITE_OK && i<nPred; i++){
    bec_graph_id_append(g, aPredSeq[i], &heads, &rc);
  }
  if( rc==SQLITE_OK && nPred>1 ){
    qsort(heads.a, (size_t)nPred, BEC_HASH_BYTES, cmp_hash);
  }
  bec_ckpt_digest(aGroup, heads.a, nPred, pCut->nOp, pCut->k, aRoots,
                  pCut->aDigest, &rc);
  if( rc==SQLITE_OK && pCut->pRaw ){
    memcpy(pCut->pRaw->aOpsRoot, aRoots, BEC_HASH_BYTES);
  }
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("checkpoint: cannot compute the digest of the "
                             "cut: %s", bec_rc_text(p->db, rc));
  }
  sqlite3_free(aMark);
  bec_buf_free(&heads);
  return rc;
}

void bec_ckpt_digest(const u8 *aGroup, const u8 *aHeads, int nHead, i64 nOp,
                     i64 k, const u8 *aRoots, u8 *aDigest, int *pRc){
  BecBuf top;
  memset(&top, 0, sizeof(top));
  bec_buf_append(&top, BEC_CUT_TAG, BEC_CUT_TAG_LEN, pRc);
  bec_buf_append(&top, aGroup, BEC_HASH_BYTES, pRc);
  bec_buf_append_varint(&top, (u64)nHead, pRc);
  bec_buf_append(&top, aHeads, (i64)nHead*BEC_HASH_BYTES, pRc);
  bec_buf_append_varint(&top, (u64)nOp, pRc);
  bec_buf_append_varint(&top, (u64)k, pRc);
  bec_buf_append(&top, aRoots, BEC_CK_NROOT*BEC_HASH_BYTES, pRc);
  if( *pRc==SQLITE_OK ) bec_crypto_hash(top.a, top.n, aDigest);
  bec_buf_free(&top);
}

int bec_ckpt_state(BecCtx *p, int iCp, BecCkState *pOut, char **pzErr){
  BecGraph *g = 0;
  CkCut cut;
  int rc;
  memset(pOut, 0, sizeof(*pOut));
  memset(&cut, 0, sizeof(cut));
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK && (iCp<1 || iCp>g->nNode) ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK ){
    rc = ck_compute_raw(p, BEC_NODE_PREDS(g, iCp), g->aNode[iCp].nPred, iCp,
                        &cut, pOut, pzErr);
  }
  if( rc==SQLITE_OK ){
    memcpy(pOut->aDigest, cut.aDigest, BEC_HASH_BYTES);
    pOut->nOp = cut.nOp;
    pOut->k = cut.k;
  }else{
    bec_ckpt_state_free(pOut);
  }
  cut_free(&cut);
  return rc;
}

int bec_ckpt_section_here(BecCtx *p, int iSec, BecBuf *pOut, u64 *pnLeaf,
                          char **pzErr){
  BecCkState raw;
  CkCut cut;
  u8 aRoot[BEC_HASH_BYTES];
  int rc;
  memset(&raw, 0, sizeof(raw));
  memset(&cut, 0, sizeof(cut));
  cut.pRaw = &raw;
  *pnLeaf = 0;
  switch( iSec ){
    case BEC_CK_SEC_ROOT:   rc = digest_root(p, &cut, aRoot, pzErr); break;
    case BEC_CK_SEC_EPOCHS: rc = digest_epochs(p, &cut, aRoot); break;
    case BEC_CK_SEC_NAMES:  rc = digest_names(p, &cut, aRoot); break;
    default:                rc = SQLITE_MISUSE; break;
  }
  if( rc==SQLITE_OK ){
    bec_buf_append(pOut, raw.aSec[iSec].a, raw.aSec[iSec].n, &rc);
    *pnLeaf = (u64)raw.anSec[iSec];
  }
  bec_ckpt_state_free(&raw);
  cut_free(&cut);
  return rc;
}

void bec_ckpt_state_free(BecCkState *p){
  int i;
  for(i=0; i<BEC_CK_NSEC; i++) bec_buf_free(&p->aSec[i]);
  bec_buf_free(&p->members);
  bec_buf_free(&p->tables);
  bec_buf_free(&p->opLeaves);
  bec_buf_free(&p->opKeys);
  bec_buf_free(&p->loserIds);
  memset(p, 0, sizeof(*p));
}

#define CK_OPKEY (BEC_HASH_BYTES + (int)sizeof(i64) + 1)

/* Increasing leaf index, for bec_ckpt_ops_proofs. */
static int cmp_i64(const void *a, const void *b){
  i64 x = *(const i64*)a, y = *(const i64*)b;
  return x<y ? -1 : x>y;
}
/* A wanted id and its place in the caller's list, ordered by (id, place). */
typedef struct CkWant CkWant;
struct CkWant { const u8 *aId; int i; };
static int cmp_want(const void *a, const void *b){
  const CkWant *x = (const CkWant*)a, *y = (const CkWant*)b;
  int c = memcmp(x->aId, y->aId, BEC_HASH_BYTES);
  return c ? c : x->i - y->i;
}
static int cmp_want_id(const void *pKey, const void *b){
  return memcmp(pKey, ((const CkWant*)b)->aId, BEC_HASH_BYTES);
}

void bec_ckpt_ops_proofs(const BecCkState *p, const u8 *aIds, int nId,
                         BecBuf *pOut, int *pnProof, int *pRc){
  i64 *aAt = 0, *aWant = 0, j;
  CkWant *aSorted = 0;
  BecBuf *aPath = 0;
  int i, nWant = 0;
  *pnProof = 0;
  if( *pRc || nId==0 ) return;
  if( p->opKeys.n!=p->nOpLeaf*CK_OPKEY ){ *pRc = SQLITE_CORRUPT; return; }
  aAt = sqlite3_malloc64(sizeof(i64)*2*(u64)nId);
  aPath = sqlite3_malloc64(sizeof(BecBuf)*(u64)nId);
  aSorted = sqlite3_malloc64(sizeof(CkWant)*(u64)nId);
  if( aPath ) memset(aPath, 0, sizeof(BecBuf)*(size_t)nId);
  if( aAt==0 || aPath==0 || aSorted==0 ){
    *pRc = SQLITE_NOMEM;
    goto done;
  }
  aWant = aAt + nId;
  for(i=0; i<nId; i++){
    aAt[i] = -1;
    aSorted[i].aId = aIds + (i64)i*BEC_HASH_BYTES;
    aSorted[i].i = i;
  }
  qsort(aSorted, (size_t)nId, sizeof(CkWant), cmp_want);
  /* One pass over the leaves: each id's leaf (-1: not in the cut), given
  ** to the id's first place only (a chain op that is also a head is
  ** proven once, as a head). */
  for(j=0; j<p->nOpLeaf; j++){
    const u8 *aLeafId = p->opKeys.a + j*CK_OPKEY;
    CkWant *w = bsearch(aLeafId, aSorted, (size_t)nId, sizeof(CkWant),
                        cmp_want_id);
    if( w==0 ) continue;
    while( w>aSorted && memcmp(w[-1].aId, aLeafId, BEC_HASH_BYTES)==0 ) w--;
    aAt[w->i] = j;
    aWant[nWant++] = j;
  }
  qsort(aWant, (size_t)nWant, sizeof(i64), cmp_i64);
  bec_ckpt_merkle_paths(p->opLeaves.a, p->nOpLeaf, aWant, nWant, aPath, pRc);
  for(i=0; *pRc==SQLITE_OK && i<nId; i++){
    const u8 *k;
    const BecBuf *pPath;
    i64 iDepth, *pAt;
    if( aAt[i]<0 ) continue;
    pAt = bsearch(&aAt[i], aWant, (size_t)nWant, sizeof(i64), cmp_i64);
    pPath = &aPath[pAt - aWant];
    k = p->opKeys.a + aAt[i]*CK_OPKEY;
    memcpy(&iDepth, k + BEC_HASH_BYTES, sizeof(iDepth));
    bec_buf_append(pOut, k, BEC_HASH_BYTES, pRc);
    bec_buf_append_varint(pOut, (u64)aAt[i], pRc);
    bec_buf_append_varint(pOut, (u64)iDepth, pRc);
    bec_buf_append_u8(pOut, k[BEC_HASH_BYTES + sizeof(i64)], pRc);
    bec_buf_append_varint(pOut, (u64)(pPath->n/BEC_HASH_BYTES), pRc);
    bec_buf_append(pOut, pPath->a, pPath->n, pRc);
    (*pnProof)++;
  }
done:
  if( aPath ){
    for(i=0; i<nId; i++) bec_buf_free(&aPath[i]);
  }
  sqlite3_free(aPath);
  sqlite3_free(aSorted);
  sqlite3_free(aAt);
}

const char *bec_ckpt_claim(const BecOp *pOp, const u8 **paRef,
                           const u8 **paDigest){
  CkPayload c;
  const char *z = ck_parse(pOp, &c);
  *paRef = c.aRef;
  *paDigest = c.aDigest;
  return z;
}

/**************************************************************************
** Sealing.
*/
/* *pbRoot: among the ops with aMark[seq] set (0: every stored op), a root
** attestation of iCp is by the group key of the root epoch active in
** cut(iCp), whatever digest it carries (as k admins' claims of one digest
** seal: a wrong one is a dispute; the digest computed here is not asked,
** since a replica without an epoch's key cannot compute it).  Each input
** is fixed once the claim is stored (the cut is), so this is monotone too. */
static int ck_root_seal(BecCtx *p, int iCp, const u8 *aMark, int *pbRoot){
  sqlite3_stmt *pStmt = 0;
  BecBuf keys;
  BecGraph *g = 0;
  u8 *aCut = 0;
  u8 aY[BEC_PUBKEY_BYTES];
  int rc, i, n, bActive = 0;
  memset(&keys, 0, sizeof(keys));
  *pbRoot = 0;
  rc = bec_ctx_stmt(p, "SELECT c.seq, a.pubkey FROM bec_store_claim c"
      " JOIN bec_store_op o ON o.seq=c.seq JOIN bec_store_author a"
      " ON a.id=c.author WHERE c.checkpoint=?1 AND o.kind=?2", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iCp);
  sqlite3_bind_int(pStmt, 2, BEC_KIND_ROOT);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( aMark && !aMark[sqlite3_column_int(pStmt, 0)] ) continue;
    if( sqlite3_column_bytes(pStmt, 1)!=BEC_PUBKEY_BYTES ) continue;
    bec_buf_append(&keys, sqlite3_column_blob(pStmt, 1), BEC_PUBKEY_BYTES, &rc);
  }
  bec_stmt_reset(pStmt, &rc);
  n = (int)(keys.n/BEC_PUBKEY_BYTES);
  /* The cut's root only when a claim could match it (rare: a root acts). */
  if( rc==SQLITE_OK && n>0 ){
    g = p->pGraph;
    if( g==0 ) rc = bec_graph_get(p, &g, 0);
  }
  if( rc==SQLITE_OK && n>0 && (iCp<1 || iCp>g->nNode) ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK && n>0 ){
    rc = bec_graph_past(g, BEC_NODE_PREDS(g, iCp), g->aNode[iCp].nPred, &aCut);
  }
  if( rc==SQLITE_OK && n>0 ) rc = bec_root_key_in_past(p, aCut, aY, &bActive);
  for(i=0; rc==SQLITE_OK && bActive && i<n; i++){
    if( memcmp(keys.a + (i64)i*BEC_PUBKEY_BYTES, aY, BEC_PUBKEY_BYTES)==0 ){
      *pbRoot = 1;
    }
  }
  sqlite3_free(aCut);
  bec_buf_free(&keys);
  return rc;
}

/* The claims of checkpoint iCp that count (an admin of S(K)'s first claim
** by (depth, id)), among the ops with aMark[seq] set (every stored op if
** aMark is 0): *pbSealed 1 if some digest has k of them, 2 if a root
** attestation seals it (ck_root_seal), else 0; *pnMatch how many carry
** aDigest (may be 0). */
/* *pb: iCp is an earlier checkpoint of a snapshot's cut installed here
** (bec_ckpt_install_earlier): a checkpoint below K, the installed cut's
** top.  Its seal is the snapshot's (sealed within K's cut, so within the
** cut of every op after K), not computed from claims: its admins and the
** claims that sealed it are not here. */
static int ck_installed_earlier(BecCtx *p, int iCp, int *pb){
  i64 iTop = 0;
  int rc = bec_config_get_int(p, "cut_top", 0, &iTop);
  *pb = rc==SQLITE_OK && iCp<iTop;
  return rc;
}

/* The seal and count of installed earlier checkpoint iCp, as recorded. */
static int ck_installed_seal(BecCtx *p, int iCp, int *pbSealed, int *pnMatch){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT sealed, attestations FROM"
                           " bec_store_checkpoint WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iCp);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *pbSealed = sqlite3_column_int(pStmt, 0);
    if( pnMatch ) *pnMatch = sqlite3_column_int(pStmt, 1);
  }
  return sqlite3_reset(pStmt);
}

static int ck_seal_state(BecCtx *p, int iCp, const u8 *aMark,
                         const u8 *aDigest, int *pbSealed, int *pnMatch){
  sqlite3_stmt *pStmt = 0;
  BecBuf digests;
  i64 k = 0;
  int rc, iLast = 0, n = 0, i, nRun, nBest = 0, nMatch = 0, bRoot = 0;
  memset(&digests, 0, sizeof(digests));
  *pbSealed = 0;
  if( pnMatch ) *pnMatch = 0;
  /* (the digest computed here is not asked: unknown where an op of the cut
  ** is locked, and sealing must not depend on the keys a replica holds) */
  rc = bec_ctx_stmt(p, "SELECT k FROM bec_store_checkpoint WHERE seq=?1",
                    &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iCp);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) k = sqlite3_column_int64(pStmt, 0);
  rc = sqlite3_reset(pStmt);
  if( rc || k==0 ) return rc;          /* not computed here (a scratch) */
  {
    int bEarlier = 0;
    rc = ck_installed_earlier(p, iCp, &bEarlier);
    if( rc || bEarlier ) return rc ? rc : ck_installed_seal(p, iCp, pbSealed,
                                                            pnMatch);
  }
  rc = bec_ctx_stmt(p, "SELECT c.seq, c.author, c.digest FROM bec_store_claim c"
      " JOIN bec_store_op o ON o.seq=c.seq"
      " JOIN bec_store_checkpoint_admin a ON a.checkpoint=c.checkpoint"
      " AND a.author=c.author WHERE c.checkpoint=?1"
      " ORDER BY c.author, o.depth, o.hash", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iCp);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int s = sqlite3_column_int(pStmt, 0), a = sqlite3_column_int(pStmt, 1);
    if( aMark && !aMark[s] ) continue;
    if( a==iLast ) continue;            /* only an author's first claim */
    iLast = a;
    if( sqlite3_column_bytes(pStmt, 2)!=BEC_HASH_BYTES ) continue;
    bec_buf_append(&digests, sqlite3_column_blob(pStmt, 2), BEC_HASH_BYTES, &rc);
    n++;
  }
  bec_stmt_reset(pStmt, &rc);
  if( rc==SQLITE_OK && n>1 ) qsort(digests.a, (size_t)n, BEC_HASH_BYTES, cmp_hash);
  for(i=0, nRun=0; rc==SQLITE_OK && i<n; i++){
    const u8 *d = digests.a + (i64)i*BEC_HASH_BYTES;
    nRun = (i>0 && memcmp(d, d-BEC_HASH_BYTES, BEC_HASH_BYTES)==0) ? nRun+1 : 1;
    if( nRun>nBest ) nBest = nRun;
    if( aDigest && memcmp(d, aDigest, BEC_HASH_BYTES)==0 ) nMatch++;
  }
  /* One root attestation of the right key and digest seals alone. */
  if( rc==SQLITE_OK ) rc = ck_root_seal(p, iCp, aMark, &bRoot);
  *pbSealed = bRoot ? 2 : nBest>=k;
  if( pnMatch ) *pnMatch = nMatch;
  bec_buf_free(&digests);
  return rc;
}

/*
** Retirement (docs/compaction.md, "Concurrent checkpoints"): checkpoint iCp
** is retired among the ops with aMark set (0: every stored op) when more
** than n-k of the n admins of S(iCp) claimed there a checkpoint concurrent
** with iCp.  The attest policy lets an honest admin claim only one of two
** concurrent checkpoints, so fewer than k admins are left who could attest
** iCp: it can no longer be sealed by k honest admins, and it stops
** blocking the next checkpoints.  Every input (S(iCp)'s admins, k, the
** authors of claims, which checkpoints are concurrent) is fixed once the
** ops are stored, so this is a monotone function of the op set like
** sealing.  It may still be sealed later (by the root, or by admins that
** claim twice: a visible double claim); concurrent sealed checkpoints are
** already handled (ck_final_build).
*/
static int ck_retired(BecCtx *p, int iCp, const u8 *aMark, int *pbRetired){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  BecBuf rows;
  u8 *aPast = 0;
  i64 k = 0;
  int nAdmin = 0, nSpent = 0, iLast = 0, i, n, rc;
  memset(&rows, 0, sizeof(rows));
  *pbRetired = 0;
  rc = bec_ctx_stmt(p, "SELECT k, (SELECT count(*) FROM"
      " bec_store_checkpoint_admin WHERE checkpoint=?1)"
      " FROM bec_store_checkpoint WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iCp);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    k = sqlite3_column_int64(pStmt, 0);
    nAdmin = sqlite3_column_int(pStmt, 1);
  }
  rc = sqlite3_reset(pStmt);
  if( rc || k==0 ) return rc;          /* not computed here */
  /* Claims by S(iCp)'s admins of other checkpoints, by author. */
  rc = bec_ctx_stmt(p, "SELECT c.seq, c.author, c.checkpoint FROM"
      " bec_store_claim c JOIN bec_store_checkpoint_admin a"
      " ON a.checkpoint=?1 AND a.author=c.author WHERE c.checkpoint<>?1"
      " ORDER BY c.author, c.seq", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iCp);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int aRow[3];
    for(i=0; i<3; i++) aRow[i] = sqlite3_column_int(pStmt, i);
    bec_buf_append(&rows, aRow, sizeof(aRow), &rc);
  }
  bec_stmt_reset(pStmt, &rc);
  n = (int)(rows.n/(3*sizeof(int)));
  if( rc==SQLITE_OK ){
    g = p->pGraph;
    if( g==0 ) rc = bec_graph_get(p, &g, 0);
  }
  if( rc==SQLITE_OK && (iCp<1 || iCp>g->nNode) ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK && n>0 ){
    rc = bec_graph_past(g, BEC_NODE_PREDS(g, iCp), g->aNode[iCp].nPred, &aPast);
  }
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int aRow[3];
    u8 *aOther = 0;
    memcpy(aRow, rows.a + (i64)i*sizeof(aRow), sizeof(aRow));
    if( aRow[0]<1 || aRow[0]>g->nNode || aRow[2]<1 || aRow[2]>g->nNode ) continue;
    if( (aMark && !aMark[aRow[0]]) || aRow[1]==iLast || aPast[aRow[2]] ) continue;
    rc = bec_graph_past(g, BEC_NODE_PREDS(g, aRow[2]), g->aNode[aRow[2]].nPred,
                        &aOther);
    if( rc==SQLITE_OK && !aOther[iCp] ){        /* concurrent with iCp */
      nSpent++;
      iLast = aRow[1];
    }
    sqlite3_free(aOther);
  }
  if( rc==SQLITE_OK ) *pbRetired = nSpent > nAdmin - k;
  sqlite3_free(aPast);
  bec_buf_free(&rows);
  return rc;
}

/* 1 if seq s is among the sorted 4-byte big-endian seqs of a[0..n-1]. */
static int in_invalid(const u8 *a, int n, int s){
  int lo = 0, hi = n/4 - 1;
  while( lo<=hi ){
    int mid = (lo+hi)/2;
    const u8 *e = a + mid*4;
    int v = (int)(((u32)e[0]<<24) | ((u32)e[1]<<16) | ((u32)e[2]<<8) | e[3]);
    if( v==s ) return 1;
    if( v<s ) lo = mid+1; else hi = mid-1;
  }
  return 0;
}

/*
** Final validity (docs/compaction.md, "Sealing"): for every op x in the cut
** of a sealed checkpoint, its validity in S of the sealed checkpoint with
** the least (depth, id) whose cut holds x.  *paFinal (sqlite3_malloc64,
** the caller's) has nNode+1 entries: 0 not final, 1 invalid, 2 valid.
** With aCut, only checkpoints in that cut and sealed within it count (the
** seals a replay of that cut applies).
*/
static int ck_final_build(BecCtx *p, const u8 *aCut, u8 **paFinal, int *pn){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  BecBuf rows;
  u8 *aFinal = 0;
  int rc, i, n;
  memset(&rows, 0, sizeof(rows));
  *paFinal = 0;
  *pn = 0;
  /* Membership asks while it holds its state: the graph it just checked
  ** is current, and checking it again could drop that state. */
  g = p->pGraph;
  if( g==0 ){
    rc = bec_graph_get(p, &g, 0);
    if( rc ) return rc;
  }
  rc = bec_ctx_stmt(p, "SELECT k.seq, k.sealed FROM bec_store_checkpoint k"
      " JOIN bec_store_op o ON o.seq=k.seq ORDER BY o.depth, o.hash", &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int s = sqlite3_column_int(pStmt, 0), bSealed = sqlite3_column_int(pStmt, 1);
    if( aCut ){
      if( s<1 || s>g->nNode || !aCut[s] ) continue;
      bSealed = -1;                       /* decided below, within aCut */
    }
    if( bSealed ){
      bec_buf_append(&rows, &s, sizeof(s), &rc);
      bec_buf_append(&rows, &bSealed, sizeof(bSealed), &rc);
    }
  }
  bec_stmt_reset(pStmt, &rc);
  n = (int)(rows.n/(2*sizeof(int)));
  if( rc==SQLITE_OK && n>0 ){
    aFinal = sqlite3_malloc64((u64)g->nNode+1);
    if( aFinal==0 ) rc = SQLITE_NOMEM;
    else memset(aFinal, 0, (size_t)g->nNode+1);
  }
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int s, bSealed, x;
    u8 *aMark = 0;
    u8 *aInv = 0;
    i64 nInv = 0;
    memcpy(&s, rows.a + (i64)i*2*sizeof(int), sizeof(int));
    memcpy(&bSealed, rows.a + (i64)i*2*sizeof(int) + sizeof(int), sizeof(int));
    if( s<1 || s>g->nNode ) continue;
    if( bSealed<0 ) rc = ck_seal_state(p, s, aCut, 0, &bSealed, 0);
    if( rc || !bSealed ) continue;
    rc = bec_ctx_stmt(p, "SELECT invalid FROM bec_store_checkpoint WHERE seq=?1",
                      &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, s);
      if( sqlite3_step(pStmt)==SQLITE_ROW ) rc = bec_ctx_column_copy(pStmt, &aInv, &nInv);
      sqlite3_reset(pStmt);
    }
    if( rc==SQLITE_OK ) rc = bec_graph_past(g, BEC_NODE_PREDS(g, s), g->aNode[s].nPred, &aMark);
    for(x=1; rc==SQLITE_OK && x<=g->nNode; x++){
      if( aMark[x] && aFinal[x]==0 ){
        aFinal[x] = in_invalid(aInv, (int)nInv, x) ? 1 : 2;
      }
    }
    sqlite3_free(aMark);
    sqlite3_free(aInv);
  }
  bec_buf_free(&rows);
  if( rc==SQLITE_OK ){
    *paFinal = aFinal;
    *pn = aFinal ? g->nNode+1 : 0;
  }else{
    sqlite3_free(aFinal);
  }
  return rc;
}

int bec_checkpoint_final(BecCtx *p, const u8 **paFinal, int *pnFinal){
  int rc = SQLITE_OK;
  if( !p->bScratch && !p->bCkFinal ){
    sqlite3_free(p->aCkFinal);
    p->aCkFinal = 0;
    p->nCkFinal = 0;
    rc = ck_final_build(p, 0, &p->aCkFinal, &p->nCkFinal);
    if( rc==SQLITE_OK ) p->bCkFinal = 1;
  }
  *paFinal = p->aCkFinal;
  *pnFinal = p->nCkFinal;
  return rc;
}

/* xForget: the cache of final validity (a scratch database's was given to
** it by its replay, which frees it). */
static void ck_forget(BecCtx *p){
  if( p->bScratch ) return;
  sqlite3_free(p->aCkFinal);
  p->aCkFinal = 0;
  p->nCkFinal = 0;
  p->bCkFinal = 0;
}

/* Brings bec_store_checkpoint.attestations and .sealed of iCp up to date
** (a claim of it was stored, or it was).  When iCp becomes sealed, the
** final validity of its cut takes effect: membership is derived again. */
static int ck_update_seal(BecCtx *p, int iCp, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  u8 aDigest[BEC_HASH_BYTES];
  int rc, bSealed = 0, nMatch = 0, bHave = 0, bWas = 0, bDigest = 0;
  rc = bec_ctx_stmt(p, "SELECT digest, sealed FROM bec_store_checkpoint"
                       " WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iCp);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    if( sqlite3_column_bytes(pStmt, 0)==BEC_HASH_BYTES ){
      memcpy(aDigest, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
      bDigest = 1;           /* else unknown here (locked): 0 match it */
    }
    bWas = sqlite3_column_int(pStmt, 1);
    bHave = 1;
  }
  rc = sqlite3_reset(pStmt);
  if( rc || !bHave ) return rc;
  rc = ck_seal_state(p, iCp, 0, bDigest ? aDigest : 0, &bSealed, &nMatch);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "UPDATE bec_store_checkpoint SET attestations=?2,"
                         " sealed=?3 WHERE seq=?1", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, iCp);
    sqlite3_bind_int(pStmt, 2, nMatch);
    sqlite3_bind_int(pStmt, 3, bSealed);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK && bSealed && !bWas ){
    p->bCkFinal = 0;
    rc = bec_member_rederive(p, pzErr);
  }
  return rc;
}

/* *pb: seq iSeq is a claim (a checkpoint, an attest or a root
** attestation). */
static int ck_is_claim(BecCtx *p, int iSeq, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_claim WHERE seq=?1", &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  *pb = sqlite3_step(pStmt)==SQLITE_ROW;
  return sqlite3_reset(pStmt);
}

/**************************************************************************
** The deriver.
*/
/* xAdmit: the payload parses; an attest names a checkpoint and a dispute a
** claim in the op's causal past; a checkpoint's cut holds no checkpoint
** that is not sealed within that cut (so sealed checkpoints along one
** causal line nest).  All from the op and its past. */
static int ck_admit(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                    BecVerdict *pV, char **pzErr){
  CkPayload pl;
  BecGraph *g = 0;
  u8 *aMark = 0;
  const char *zWhy;
  int rc = SQLITE_OK;
  /* Every op comes here (root attestations are claims too); the root
  ** judges its own ops. */
  if( !bec_kind_derives(pOp->kind, BEC_DERIVE_CHECKPOINT) ) return SQLITE_OK;
  zWhy = ck_parse(pOp, &pl);
  if( zWhy ){
    bec_verdict_set(pV, SQLITE_ERROR, "malformed: %s: %s",
                    bec_kind_name(pOp->kind), zWhy);
    return SQLITE_OK;
  }
  if( pOp->kind==BEC_KIND_CONFIG ) return SQLITE_OK;
  if( pOp->kind==BEC_KIND_CHECKPOINT && p->bScratch ) return SQLITE_OK;
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_past(g, aPredSeq, pOp->nPred, &aMark);
  if( rc ) return rc;
  if( pOp->kind==BEC_KIND_CHECKPOINT ){
    int x;
    for(x=1; rc==SQLITE_OK && x<=g->nNode; x++){
      int bSealed = 0;
      char zHex[2*BEC_HASH_BYTES+1];
      if( !aMark[x] || g->aNode[x].kind!=BEC_KIND_CHECKPOINT ) continue;
      rc = ck_seal_state(p, x, aMark, 0, &bSealed, 0);
      if( rc==SQLITE_OK && !bSealed ) rc = ck_retired(p, x, aMark, &bSealed);
      if( rc==SQLITE_OK && !bSealed ){
        bec_graph_id_hex(g, x, zHex);
        bec_verdict_set(pV, SQLITE_ERROR, "malformed: checkpoint: the earlier "
                        "checkpoint %s is not sealed within its cut", zHex);
        break;
      }
    }
  }else{
    int iRef = 0, bCut = 0;
    rc = bec_dag_seq_of(p, pl.aRef, &iRef);
    if( rc==SQLITE_OK && (iRef==0 || (iRef<=g->nNode && BEC_NODE_STANDIN(g, iRef))) ){
      rc = bec_graph_cut_exists(p, &bCut);
    }
    if( rc==SQLITE_OK && bCut ){
      /* An installed replica holds an op of the cut without its header
      ** (a stand-in: its kind unknown), or not at all: a claim that a full
      ** replica finds in the op's past, an attest a dispute names, may be
      ** one.  Not judged here (bec_dag.c "An op concurrent with K"). */
      pV->bNeedsCut = 1;
    }else if( rc==SQLITE_OK ){
      int bOk = iRef>0 && iRef<=g->nNode && aMark[iRef];
      if( bOk && pOp->kind==BEC_KIND_ATTEST ){
        bOk = g->aNode[iRef].kind==BEC_KIND_CHECKPOINT;
      }else if( bOk && g->aNode[iRef].kind==BEC_KIND_ROOT ){
        /* a root attestation: its claim row says so (recorded from the op
        ** alone when it was stored) */
        rc = ck_is_claim(p, iRef, &bOk);
      }else if( bOk ){
        bOk = g->aNode[iRef].kind==BEC_KIND_CHECKPOINT
           || g->aNode[iRef].kind==BEC_KIND_ATTEST;
      }
      if( rc==SQLITE_OK && !bOk ){
        bec_verdict_set(pV, SQLITE_ERROR, pOp->kind==BEC_KIND_ATTEST
            ? "malformed: attest: the checkpoint is not in its causal past"
            : "malformed: dispute: the attestation is not in its causal past");
      }
    }
  }
  sqlite3_free(aMark);
  return rc;
}

static int ck_insert_claim(BecCtx *p, int iSeq, int iCp, int iAuthor,
                           const u8 *aDigest){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_claim(seq,"
                           " checkpoint, author, digest) VALUES(?1,?2,?3,?4)", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  sqlite3_bind_int(pStmt, 2, iCp);
  sqlite3_bind_int(pStmt, 3, iAuthor);
  sqlite3_bind_blob(pStmt, 4, aDigest, BEC_HASH_BYTES, SQLITE_STATIC);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

/* Records S(K)'s facts for checkpoint op iSeq. */
static int ck_store_cut(BecCtx *p, int iSeq, const CkCut *c){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_checkpoint(seq,"
      " digest, k, n_op, invalid) VALUES(?1,?2,?3,?4,?5)", &pStmt);
  int i;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( c->bLocked ) sqlite3_bind_blob(pStmt, 2, "", 0, SQLITE_STATIC);  /* x'':
                                                        ** unknown here */
  else sqlite3_bind_blob(pStmt, 2, c->aDigest, BEC_HASH_BYTES, SQLITE_STATIC);
  sqlite3_bind_int64(pStmt, 3, c->k);
  sqlite3_bind_int64(pStmt, 4, c->nOp);
  sqlite3_bind_blob64(pStmt, 5, c->invalid.a ? (void*)c->invalid.a : (void*)"",
                      (sqlite3_uint64)c->invalid.n, SQLITE_STATIC);
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  for(i=0; rc==SQLITE_OK && i<(int)(c->admins.n/BEC_PUBKEY_BYTES); i++){
    int iAuthor = 0;
    rc = bec_dag_author_id(p, c->admins.a + (i64)i*BEC_PUBKEY_BYTES, 0, &iAuthor);
    if( rc || iAuthor==0 ) continue;
    rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_checkpoint_admin("
                         "checkpoint, author) VALUES(?1,?2)", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iSeq);
      sqlite3_bind_int(pStmt, 2, iAuthor);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  return rc;
}

/* xStored: records the op's facts; for a checkpoint, computes S(K). */
static int ck_stored(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  CkPayload pl;
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  int rc, iAuthor = 0, iRef = 0;
  if( bec_root_attest_of(pOp, &pl.aRef, &pl.aDigest) ){
    /* A root attestation: a claim by the group key (bec_root.c admitted
    ** it, and found its checkpoint in its past). */
    rc = bec_dag_author_id(p, pOp->aAuthor, 0, &iAuthor);
    if( rc==SQLITE_OK ) rc = bec_dag_seq_of(p, pl.aRef, &iRef);
    if( rc==SQLITE_OK && iRef==0 ) rc = SQLITE_CORRUPT;
    if( rc==SQLITE_OK ) rc = ck_insert_claim(p, iSeq, iRef, iAuthor, pl.aDigest);
    if( rc==SQLITE_OK ) rc = ck_update_seal(p, iRef, pzErr);
    return rc;
  }
  if( !bec_kind_derives(pOp->kind, BEC_DERIVE_CHECKPOINT) ) return SQLITE_OK;
  if( ck_parse(pOp, &pl) ) return SQLITE_OK;     /* xAdmit refused it */
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_author_id(p, pOp->aAuthor, 0, &iAuthor);
  if( rc ) return rc;
  switch( pOp->kind ){
    case BEC_KIND_CHECKPOINT:
      if( !p->bScratch ){
        CkCut cut;
        rc = ck_compute(p, BEC_NODE_PREDS(g, iSeq), g->aNode[iSeq].nPred,
                        iSeq, &cut, pzErr);
        if( rc==SQLITE_OK ) rc = ck_store_cut(p, iSeq, &cut);
        if( rc==SQLITE_NOTFOUND ){
          /* A cut that needs bodies this replica pruned: S(K) is not
          ** computed here, as in a scratch (docs/compaction.md). */
          sqlite3_free(*pzErr);
          *pzErr = 0;
          rc = SQLITE_OK;
        }
        cut_free(&cut);
      }
      if( rc==SQLITE_OK ) rc = ck_insert_claim(p, iSeq, iSeq, iAuthor, pl.aDigest);
      if( rc==SQLITE_OK ) rc = ck_update_seal(p, iSeq, pzErr);
      break;
    case BEC_KIND_ATTEST:
      rc = bec_dag_seq_of(p, pl.aRef, &iRef);
      if( rc==SQLITE_OK ) rc = ck_insert_claim(p, iSeq, iRef, iAuthor, pl.aDigest);
      if( rc==SQLITE_OK ) rc = ck_update_seal(p, iRef, pzErr);
      break;
    case BEC_KIND_DISPUTE:
      rc = bec_dag_seq_of(p, pl.aRef, &iRef);
      if( rc==SQLITE_OK ){
        rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_dispute(seq,"
                             " claim, digest) VALUES(?1,?2,?3)", &pStmt);
      }
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iSeq);
        sqlite3_bind_int(pStmt, 2, iRef);
        sqlite3_bind_blob(pStmt, 3, pl.aDigest, BEC_HASH_BYTES, SQLITE_STATIC);
        sqlite3_step(pStmt);
        rc = sqlite3_reset(pStmt);
      }
      break;
    case BEC_KIND_CONFIG:
      rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_ckconfig(seq, k)"
                           " VALUES(?1,?2)", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iSeq);
        sqlite3_bind_int64(pStmt, 2, pl.k);
        sqlite3_step(pStmt);
        rc = sqlite3_reset(pStmt);
      }
      break;
  }
  return rc;
}

/* xCheck: every checkpoint's digest, recomputed, equals the stored one. */
static int ck_check(BecCtx *p, char **pzProblems, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  BecBuf seqs, out;
  int rc, i, n;
  memset(&seqs, 0, sizeof(seqs));
  memset(&out, 0, sizeof(out));
  *pzProblems = 0;
  rc = bec_ctx_stmt(p, "SELECT o.seq, k.digest FROM bec_store_op o LEFT JOIN"
      " bec_store_checkpoint k ON k.seq=o.seq WHERE o.kind=?1 AND "
      BEC_OP_INDEXED("o")
      " AND NOT (k.seq IS NOT NULL AND length(k.digest)<>32)", &pStmt);
  /* (an empty digest is unknown here: an op of the cut was locked when it
  ** was computed, and ck_settle computes it once the keys have arrived) */
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, BEC_KIND_CHECKPOINT);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    u8 aRow[4 + BEC_HASH_BYTES];
    int s = sqlite3_column_int(pStmt, 0);
    memcpy(aRow, &s, 4);
    memset(aRow+4, 0, BEC_HASH_BYTES);
    if( sqlite3_column_bytes(pStmt, 1)==BEC_HASH_BYTES ){
      memcpy(aRow+4, sqlite3_column_blob(pStmt, 1), BEC_HASH_BYTES);
    }
    bec_buf_append(&seqs, aRow, sizeof(aRow), &rc);
  }
  bec_stmt_reset(pStmt, &rc);
  n = (int)(seqs.n/(4+BEC_HASH_BYTES));
  /* The graph only if there is a checkpoint to check (a check of another
  ** deriver may have dropped it, and nothing else here needs it). */
  if( rc==SQLITE_OK && n>0 ) rc = bec_graph_get(p, &g, pzErr);
  for(i=0; rc==SQLITE_OK && i<n; i++){
    CkCut cut;
    int s;
    const u8 *aStored = seqs.a + (i64)i*(4+BEC_HASH_BYTES) + 4;
    memcpy(&s, seqs.a + (i64)i*(4+BEC_HASH_BYTES), 4);
    if( s<1 || s>g->nNode ) continue;
    rc = ck_compute(p, BEC_NODE_PREDS(g, s), g->aNode[s].nPred, s, &cut, pzErr);
    if( rc==SQLITE_NOTFOUND ){
      /* pruned below: its digest was checked when it was stored */
      sqlite3_free(*pzErr);
      *pzErr = 0;
      rc = SQLITE_OK;
    }else if( rc==SQLITE_OK && cut.bLocked ){
      bec_buf_appendf(&out, &rc, "checkpoint: checkpoint op %d has a digest "
                      "although an op of its cut is locked here\n", s);
    }else if( rc==SQLITE_OK && memcmp(cut.aDigest, aStored, BEC_HASH_BYTES) ){
      bec_buf_appendf(&out, &rc, "checkpoint: the digest of checkpoint op %d "
                      "does not match its cut\n", s);
    }
    cut_free(&cut);
  }
  if( rc==SQLITE_OK && out.n ){
    out.a[out.n-1] = 0;                      /* the last newline */
    *pzProblems = sqlite3_mprintf("%s", (const char*)out.a);
    if( *pzProblems==0 ) rc = SQLITE_NOMEM;
  }
  bec_buf_free(&seqs);
  bec_buf_free(&out);
  return rc;
}

/* BEC_DERIVE_ANY: it hears root ops too (a root attestation is a claim),
** and filters by kind itself. */
/* A fall-back to a full join (bec_rejoin.c): checkpoints, claims and
** their seals are judged again as their ops come back. */
static int ck_reset(BecCtx *p, int bProbe, char **pzWhyNot, char **pzErr){
  (void)pzWhyNot;
  if( bProbe ) return SQLITE_OK;
  ck_forget(p);
  return bec_ctx_exec(p, "DELETE FROM bec_store_checkpoint;"
      " DELETE FROM bec_store_checkpoint_admin; DELETE FROM bec_store_claim;"
      " DELETE FROM bec_store_dispute; DELETE FROM bec_store_ckconfig", pzErr);
}

const BecDeriver bec_checkpoint_deriver = {
  "checkpoints", BEC_DERIVE_ANY,
  ck_schema, ck_admit, ck_stored, 0, ck_check, ck_forget, ck_reset
};

/**************************************************************************
** Attesting (after sync and ingest) and the SQL functions.
*/
/* *pbHold: this replica must not attest checkpoint iCp (COMPACTION.md
** section 4): its own op set gives an op of the cut another validity than
** the cut alone (a removal sealing would cut off), or it already claimed a
** checkpoint concurrent with iCp. */
static int ck_hold_back(BecCtx *p, BecGraph *g, int iCp, const u8 *aInvalid,
                        int nInvalid, int iMe, int *pbHold){
  sqlite3_stmt *pStmt = 0;
  u8 *aMark = 0;
  BecInts mine;
  int rc, x, i;
  memset(&mine, 0, sizeof(mine));
  *pbHold = 0;
  rc = bec_graph_past(g, BEC_NODE_PREDS(g, iCp), g->aNode[iCp].nPred, &aMark);
  if( rc ) return rc;
  for(x=1; x<=g->nNode; x++){
    if( aMark[x] && (int)g->aNode[x].bValid==in_invalid(aInvalid, nInvalid, x) ){
      *pbHold = 1;
      break;
    }
  }
  if( !*pbHold ){
    rc = bec_ctx_stmt(p, "SELECT DISTINCT checkpoint FROM bec_store_claim"
                         " WHERE author=?1 AND checkpoint<>?2", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iMe);
      sqlite3_bind_int(pStmt, 2, iCp);
      rc = bec_stmt_ints(pStmt, &mine);
    }
    for(i=0; rc==SQLITE_OK && !*pbHold && i<mine.n; i++){
      int s = mine.a[i];
      u8 *aOther = 0;
      if( s<1 || s>g->nNode || aMark[s] ) continue;     /* s < iCp */
      rc = bec_graph_past(g, BEC_NODE_PREDS(g, s), g->aNode[s].nPred, &aOther);
      if( rc==SQLITE_OK && !aOther[iCp] ) *pbHold = 1;  /* concurrent */
      sqlite3_free(aOther);
    }
  }
  sqlite3_free(aMark);
  bec_ints_free(&mine);
  return rc;
}

/* e2ee: the digests left unknown because an op of their cut was locked
** (stored empty), computed now for the cuts whose keys have arrived, and
** their seal brought up to date.  Only when fewer ops are locked than at
** the last look on this connection (or at the first): a replay per
** settle would be the price of a key that never comes. */
static int ck_unlock_digests(BecCtx *p, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecInts todo;
  BecGraph *g = 0;
  i64 nLocked = 0;
  int rc, i;
  memset(&todo, 0, sizeof(todo));
  /* (the locked ops are counted only when a digest is unknown: a scan of
  ** the ignored ops at every settle would be paid by every group) */
  rc = bec_ctx_stmt(p, "SELECT EXISTS(SELECT 1 FROM bec_store_checkpoint"
                       " WHERE length(digest)<>32), CASE WHEN EXISTS(SELECT 1"
                       " FROM bec_store_checkpoint WHERE length(digest)<>32)"
                       " THEN (SELECT count(*) FROM bec_store_ignored"
                       " WHERE reason LIKE 'locked: %') END", &pStmt);
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    if( sqlite3_column_int64(pStmt, 0)>0 ) nLocked = sqlite3_column_int64(pStmt, 1)+1;
  }
  rc = sqlite3_reset(pStmt);
  if( rc || nLocked==0 ) return rc;
  if( p->nCkLocked!=0 && nLocked>=p->nCkLocked ){
    p->nCkLocked = nLocked;
    return SQLITE_OK;
  }
  p->nCkLocked = nLocked;
  rc = bec_ctx_stmt(p, "SELECT seq FROM bec_store_checkpoint WHERE length(digest)<>32"
                       " ORDER BY seq", &pStmt);
  if( rc==SQLITE_OK ) rc = bec_stmt_ints(pStmt, &todo);
  if( rc==SQLITE_OK && todo.n>0 ) rc = bec_graph_get(p, &g, pzErr);
  for(i=0; rc==SQLITE_OK && i<todo.n; i++){
    CkCut cut;
    int s = todo.a[i];
    if( s<1 || s>g->nNode ) continue;
    rc = ck_compute(p, BEC_NODE_PREDS(g, s), g->aNode[s].nPred, s, &cut, pzErr);
    if( rc==SQLITE_NOTFOUND ){              /* pruned below: not here */
      sqlite3_free(*pzErr);
      *pzErr = 0;
      rc = SQLITE_OK;
    }else if( rc==SQLITE_OK && !cut.bLocked ){
      rc = bec_ctx_stmt(p, "UPDATE bec_store_checkpoint SET digest=?2"
                           " WHERE seq=?1", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, s);
        sqlite3_bind_blob(pStmt, 2, cut.aDigest, BEC_HASH_BYTES, SQLITE_STATIC);
        sqlite3_step(pStmt);
        rc = sqlite3_reset(pStmt);
      }
      if( rc==SQLITE_OK ) rc = ck_update_seal(p, s, pzErr);
    }
    cut_free(&cut);
  }
  sqlite3_free(todo.a);
  return rc;
}

/* Signs what this replica owes: an attest of every checkpoint it has not
** claimed (unless it holds back), a dispute of every claim whose digest is
** not the one it computed.  *pnSigned: ops signed. */
static int ck_settle(BecCtx *p, int *pnSigned, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  BecBuf todo;
  int rc, iMe = 0, role = 0, i, n;
  memset(&todo, 0, sizeof(todo));
  *pnSigned = 0;
  if( p->bScratch || !p->bUnlocked ) return SQLITE_OK;
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_author_id(p, p->aPub, 0, &iMe);
  if( rc || iMe==0 ) return rc;
  rc = bec_ctx_stmt(p, "SELECT role FROM bec_store_member WHERE pubkey=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, p->aPub, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) role = sqlite3_column_int(pStmt, 0);
  rc = sqlite3_reset(pStmt);
  if( rc || (role!=BEC_ROLE_ADMIN && role!=BEC_ROLE_MEMBER) ) return rc;
  /* (a relay holds no key: its unknown digests stay unknown) */
  rc = ck_unlock_digests(p, pzErr);
  if( rc ) return rc;

  /* Attestations: collected first, since signing writes. */
  rc = bec_ctx_stmt(p, "SELECT k.seq, k.digest, k.invalid FROM"
      " bec_store_checkpoint k WHERE NOT EXISTS (SELECT 1 FROM bec_store_claim"
      " c WHERE c.checkpoint=k.seq AND c.author=?1) ORDER BY k.seq", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iMe);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int s = sqlite3_column_int(pStmt, 0), nInv = sqlite3_column_bytes(pStmt, 2);
    if( sqlite3_column_bytes(pStmt, 1)!=BEC_HASH_BYTES ) continue;
    bec_buf_append(&todo, &s, sizeof(s), &rc);
    bec_buf_append(&todo, sqlite3_column_blob(pStmt, 1), BEC_HASH_BYTES, &rc);
    bec_buf_append(&todo, &nInv, sizeof(nInv), &rc);
    bec_buf_append(&todo, sqlite3_column_blob(pStmt, 2), nInv, &rc);
  }
  bec_stmt_reset(pStmt, &rc);
  for(i=0; rc==SQLITE_OK && i<todo.n; ){
    int s, nInv, bHold = 0;
    u8 aPay[1+2*BEC_HASH_BYTES], aId[BEC_HASH_BYTES];
    const u8 *aDigest, *aInv;
    memcpy(&s, todo.a+i, sizeof(s)); i += sizeof(s);
    aDigest = todo.a+i; i += BEC_HASH_BYTES;
    memcpy(&nInv, todo.a+i, sizeof(nInv)); i += sizeof(nInv);
    aInv = todo.a+i; i += nInv;
    rc = bec_graph_get(p, &g, pzErr);
    if( rc==SQLITE_OK && (s<1 || s>g->nNode) ) continue;
    if( rc==SQLITE_OK ) rc = ck_hold_back(p, g, s, aInv, nInv, iMe, &bHold);
    if( rc || bHold ) continue;
    aPay[0] = BEC_CKPT_VERSION;
    rc = bec_graph_id(g, s, aPay+1);
    if( rc ) continue;
    memcpy(aPay+1+BEC_HASH_BYTES, aDigest, BEC_HASH_BYTES);
    rc = bec_dag_append(p, BEC_KIND_ATTEST, aPay, sizeof(aPay), aId, pzErr);
    if( rc==SQLITE_OK ) (*pnSigned)++;
  }

  /* Disputes of claims whose digest is not the one computed here. */
  todo.n = 0;
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT o.hash, k.digest FROM bec_store_claim c"
        " JOIN bec_store_checkpoint k ON k.seq=c.checkpoint"
        " JOIN bec_store_op o ON o.seq=c.seq WHERE c.digest<>k.digest"
        " AND length(k.digest)=32"
        " AND NOT EXISTS (SELECT 1 FROM bec_store_dispute d JOIN bec_store_op"
        " x ON x.seq=d.seq WHERE d.claim=c.seq AND x.author=?1)"
        " ORDER BY c.seq", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, iMe);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      bec_buf_append(&todo, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES, &rc);
      bec_buf_append(&todo, sqlite3_column_blob(pStmt, 1), BEC_HASH_BYTES, &rc);
    }
    bec_stmt_reset(pStmt, &rc);
  }
  n = (int)(todo.n/(2*BEC_HASH_BYTES));
  for(i=0; rc==SQLITE_OK && i<n; i++){
    u8 aPay[1+2*BEC_HASH_BYTES], aId[BEC_HASH_BYTES];
    aPay[0] = BEC_CKPT_VERSION;
    memcpy(aPay+1, todo.a + (i64)i*2*BEC_HASH_BYTES, 2*BEC_HASH_BYTES);
    rc = bec_dag_append(p, BEC_KIND_DISPUTE, aPay, sizeof(aPay), aId, pzErr);
    if( rc==SQLITE_OK ) (*pnSigned)++;
  }
  bec_buf_free(&todo);
  return rc;
}

void bec_checkpoint_settle(BecCtx *p){
  char *zErr = 0;
  int n = 0;
  /* Best effort: the ops are stored; what fails here is derived again from
  ** them at the next sync, ingest or bec_attest(). */
  (void)ck_settle(p, &n, &zErr);
  sqlite3_free(zErr);
}

/* bec_attest(): signs the attestations and disputes this replica owes (as
** sync does by itself); returns how many ops it signed. */
static void fnAttest(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  char *zErr = 0;
  int n = 0, rc;
  if( !p->bUnlocked ){
    const u8 *aSecret = 0;
    rc = bec_dag_secret(p, &aSecret, &zErr);
    if( rc ){
      bec_fn_error_in(ctx, "bec_attest", rc, zErr);
      return;
    }
  }
  rc = ck_settle(p, &n, &zErr);
  if( rc ) bec_fn_error_in(ctx, "bec_attest", rc, zErr);
  else sqlite3_result_int(ctx, n);
}

/* bec_checkpoint(): signs a checkpoint on the current heads, with this
** replica's digest of them; refused while a stored checkpoint is not
** sealed. */
static void fnCheckpoint(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  sqlite3_stmt *pStmt = 0;
  BecInts heads;
  CkCut cut;
  char *zErr = 0;
  u8 aPay[1+BEC_HASH_BYTES], aId[BEC_HASH_BYTES];
  int rc;
  memset(&heads, 0, sizeof(heads));
  memset(&cut, 0, sizeof(cut));
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT k.seq FROM bec_store_checkpoint k"
        " WHERE NOT k.sealed ORDER BY k.seq", &pStmt);
  }
  /* collected first: ck_retired uses the statement cache */
  if( rc==SQLITE_OK ) rc = bec_stmt_ints(pStmt, &heads);
  if( rc==SQLITE_OK ){
    int i, bRetired = 1;
    for(i=0; rc==SQLITE_OK && bRetired && i<heads.n; i++){
      int s = heads.a[i];
      rc = ck_retired(p, s, 0, &bRetired);
      if( rc==SQLITE_OK && !bRetired ){
        BecGraph *g = 0;
        char zHex[2*BEC_HASH_BYTES+1];
        rc = bec_graph_get(p, &g, &zErr);
        if( rc==SQLITE_OK ){
          bec_graph_id_hex(g, s, zHex);
          zErr = sqlite3_mprintf("the previous checkpoint %s is not sealed yet "
                                 "(it needs k attestations: bec_checkpoints)", zHex);
          rc = SQLITE_ERROR;
        }
      }
    }
    heads.n = 0;
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT seq FROM bec_store_head ORDER BY seq", &pStmt);
  }
  if( rc==SQLITE_OK ){
    rc = bec_stmt_ints(pStmt, &heads);
    if( rc==SQLITE_OK && heads.n==0 ){
      zErr = sqlite3_mprintf("this database is in no group yet");
      rc = SQLITE_ERROR;
    }
  }
  if( rc==SQLITE_OK ){
    rc = ck_compute(p, heads.a, heads.n, 0, &cut, &zErr);
  }
  if( rc==SQLITE_OK ){
    aPay[0] = BEC_CKPT_VERSION;
    memcpy(aPay+1, cut.aDigest, BEC_HASH_BYTES);
    rc = bec_dag_append(p, BEC_KIND_CHECKPOINT, aPay, sizeof(aPay), aId, &zErr);
  }
  cut_free(&cut);
  bec_ints_free(&heads);
  if( rc ) bec_fn_error_in(ctx, "bec_checkpoint", rc, zErr);
  else bec_fn_result_hex(ctx, aId, BEC_HASH_BYTES);
}

/* k in force at the heads, and the number of admins there. */
static int current_k(BecCtx *p, i64 *pk, int *pnAdmin){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT count(*) FROM bec_store_member WHERE role=?1",
                        &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, BEC_ROLE_ADMIN);
  *pnAdmin = sqlite3_step(pStmt)==SQLITE_ROW ? sqlite3_column_int(pStmt, 0) : 0;
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK ) rc = cut_k(p, *pnAdmin, pk);
  return rc;
}

void bec_checkpoint_config(sqlite3_context *ctx, BecCtx *p, int argc,
                           sqlite3_value **argv){
  char *zErr = 0;
  i64 k = 0;
  int nAdmin = 0, rc;
  rc = current_k(p, &k, &nAdmin);
  if( rc==SQLITE_OK && argc==2 ){
    i64 v;
    u8 aPay[1+1+CK_K_NAME_LEN+9], aId[BEC_HASH_BYTES];
    BecBuf b;
    memset(&b, 0, sizeof(b));
    if( sqlite3_value_type(argv[1])!=SQLITE_INTEGER
     || (v = sqlite3_value_int64(argv[1]))<1 ){
      bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_config: checkpoint_k "
               "must be an integer of at least 1"));
      return;
    }
    if( v>nAdmin ){
      bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_config: checkpoint_k "
               "must be at most the number of admins (%d)", nAdmin));
      return;
    }
    bec_buf_append_u8(&b, BEC_CKPT_VERSION, &rc);
    bec_buf_append_varint(&b, CK_K_NAME_LEN, &rc);
    bec_buf_append(&b, CK_K_NAME, CK_K_NAME_LEN, &rc);
    bec_buf_append_varint(&b, (u64)v, &rc);
    if( rc==SQLITE_OK && b.n<=(i64)sizeof(aPay) ){
      memcpy(aPay, b.a, (size_t)b.n);
      rc = bec_dag_append(p, BEC_KIND_CONFIG, aPay, b.n, aId, &zErr);
    }
    bec_buf_free(&b);
    if( rc==SQLITE_OK ) rc = current_k(p, &k, &nAdmin);
  }
  if( rc ) bec_fn_error_in(ctx, "bec_config", rc, zErr);
  else sqlite3_result_int64(ctx, k);
}

/* bec_checkpoints: one row per checkpoint op, in the order stored. */
static const BecTableDef checkpointTable = {
  "bec_checkpoints",
  "CREATE TABLE x(checkpoint TEXT, digest TEXT, attestations INTEGER,"
  " sealed INTEGER, k INTEGER, author TEXT, root INTEGER)",
  "SELECT lower(hex(o.hash)), nullif(lower(hex(k.digest)), ''), k.attestations,"
  " k.sealed<>0, k.k, lower(hex(a.pubkey)), k.sealed=2"
  " FROM bec_store_checkpoint k"
  " JOIN bec_store_op o ON o.seq=k.seq"
  " JOIN bec_store_author a ON a.id=o.author WHERE 1",
  "ORDER BY k.seq",
  { { 0, 1, BEC_OP_ID_IS("o", "substr(?,1,8)", "?") } },
  0, 0 };

/* bec_disputes: each dispute op, and each claim that disagrees with the
** digest computed here and that no dispute names yet (disputer NULL).
** verified: 1 if the digest computed here is the dispute's and not the
** claim's (the attestation lied), 0 if not (the dispute lied). */
static const BecTableDef disputeTable = {
  "bec_disputes",
  "CREATE TABLE x(checkpoint TEXT, attestation TEXT, attester TEXT,"
  " claimed TEXT, computed TEXT, disputer TEXT, verified INTEGER)",
  "SELECT * FROM ("
  "SELECT lower(hex(ko.hash)) checkpoint, lower(hex(co.hash)) attestation,"
  " lower(hex(ca.pubkey)) attester, lower(hex(c.digest)) claimed,"
  " lower(hex(d.digest)) computed, lower(hex(da.pubkey)) disputer,"
  " CASE WHEN k.digest IS NULL OR length(k.digest)<>32 THEN NULL"
  " WHEN k.digest=d.digest AND d.digest<>c.digest THEN 1 ELSE 0 END verified,"
  " d.seq ord"
  " FROM bec_store_dispute d JOIN bec_store_op dop ON dop.seq=d.seq"
  " JOIN bec_store_author da ON da.id=dop.author"
  " JOIN bec_store_claim c ON c.seq=d.claim"
  " JOIN bec_store_op co ON co.seq=c.seq"
  " JOIN bec_store_op ko ON ko.seq=c.checkpoint"
  " JOIN bec_store_author ca ON ca.id=c.author"
  " LEFT JOIN bec_store_checkpoint k ON k.seq=c.checkpoint"
  " UNION ALL "
  "SELECT lower(hex(ko.hash)), lower(hex(co.hash)), lower(hex(ca.pubkey)),"
  " lower(hex(c.digest)), lower(hex(k.digest)), NULL, 1, c.seq"
  " FROM bec_store_claim c JOIN bec_store_checkpoint k ON k.seq=c.checkpoint"
  " JOIN bec_store_op co ON co.seq=c.seq"
  " JOIN bec_store_op ko ON ko.seq=c.checkpoint"
  " JOIN bec_store_author ca ON ca.id=c.author"
  " WHERE c.digest<>k.digest AND length(k.digest)=32"
  " AND NOT EXISTS (SELECT 1 FROM bec_store_dispute d WHERE d.claim=c.seq)"
  ") WHERE 1",
  "ORDER BY ord",
  { { 0, 1, "checkpoint=lower(hex(?))" } },
  0, 0 };

int bec_checkpoint_register(sqlite3 *db, BecCtx *p){
  static const BecFunc aFunc[] = {
    { "bec_checkpoint", 0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnCheckpoint },
    { "bec_attest", 0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnAttest },
  };
  int rc = bec_ctx_register_funcs(db, p, aFunc,
                                  (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table(db, p, &checkpointTable);
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table(db, p, &disputeTable);
  return rc;
}

/**************************************************************************
** An installed snapshot's checkpoint (bec_install.c).  This replica holds
** K's cut without the headers, so ck_compute found no S(K) when K was
** stored; the snapshot's checks verified R, k, n_op and the members
** section under the attested R, and those are what S(K)'s row holds here:
** the digest R (not recomputed), k, n_op, the admins of the members
** section, and the cut's ops invalid in S(K) (the chain ops and the proven
** stand-ins of validity 0).  The claims, stored as ops, then seal it as
** anywhere else (ck_update_seal).
*/
/* pInvalid: the seqs below iBelow of the installed cut invalid in S(K)
** (stored ops and proven stand-ins of validity 0), 4 bytes each. */
static int installed_invalid(BecCtx *p, int iBelow, BecBuf *pInvalid){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT seq FROM bec_store_op WHERE seq<?1 AND"
                           " valid=0 UNION SELECT seq FROM bec_store_cut WHERE"
                           " valid=0 AND seq<?1 ORDER BY 1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iBelow);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    u32 s = (u32)sqlite3_column_int(pStmt, 0);
    u8 a[4];
    a[0] = (u8)(s>>24); a[1] = (u8)(s>>16); a[2] = (u8)(s>>8); a[3] = (u8)s;
    bec_buf_append(pInvalid, a, 4, &rc);
  }
  bec_stmt_reset(pStmt, &rc);
  return rc;
}

int bec_ckpt_install(BecCtx *p, int iK, const BecSnapState *pSt,
                     char **pzErr){
  CkCut c;
  int rc, i;
  memset(&c, 0, sizeof(c));
  memcpy(c.aDigest, pSt->aDigest, BEC_HASH_BYTES);
  c.k = (i64)pSt->k;
  c.nOp = (i64)pSt->nOp;
  rc = ck_schema(p, pzErr);
  for(i=0; rc==SQLITE_OK && i<pSt->nMember; i++){
    if( pSt->aMember[i].role==BEC_ROLE_ADMIN ){
      bec_buf_append(&c.admins, pSt->aMember[i].aKey, BEC_PUBKEY_BYTES, &rc);
    }
  }
  if( rc==SQLITE_OK ) rc = installed_invalid(p, iK, &c.invalid);
  if( rc==SQLITE_OK ) rc = ck_store_cut(p, iK, &c);
  if( rc==SQLITE_OK ) rc = ck_update_seal(p, iK, pzErr);
  cut_free(&c);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot record the installed checkpoint: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/**************************************************************************
** The earlier checkpoints of an installed snapshot's cut (bec_install.c).
** Each checkpoint J of the cut came in the chain (snapshot version 5) and
** was stored in full; its leaf of the checkpoints section (under R) gives
** the R its author claimed, k in its own cut and its seal within K's cut.
** Recorded here: k and the seal as the leaf says, the digest unknown here
** (x'', shown NULL: this replica holds no cut to compute R(J) from, and the
** leaf's R is J's author's claim, which the seal does not vouch for: so it
** neither attests nor disputes J, as where an op of J's cut is locked),
** attestations 0 (the claims that sealed J are not carried), and as J's
** invalid ops those of S(K) below J (the cut is one chain in memory here:
** what J's seal makes final below it is then S(K)'s validity, which J's
** own S gives on a full replica for the ops of its cut).  Its seal is
** then read as recorded (ck_installed_earlier): it is sealed within K's
** cut, so within the cut of every op after K (a checkpoint after K, which
** needs J sealed within its cut, is judged as on a full replica).
*/
int bec_ckpt_install_earlier(BecCtx *p, const BecSnapState *pSt, char **pzWhy,
                             char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc, i;
  *pzWhy = 0;
  rc = ck_schema(p, pzErr);
  for(i=0; rc==SQLITE_OK && *pzWhy==0 && i<pSt->nCkpt; i++){
    const BecSnapCkpt *j = &pSt->aCkpt[i];
    const char *zWhy = 0;
    CkCut c;
    int iJ = 0;
    memset(&c, 0, sizeof(c));
    rc = bec_dag_seq_of(p, j->aId, &iJ);
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq=?1 AND"
                           " kind=?2", &pStmt);
    }
    if( rc ) break;
    sqlite3_bind_int(pStmt, 1, iJ);
    sqlite3_bind_int(pStmt, 2, BEC_KIND_CHECKPOINT);
    zWhy = "an earlier checkpoint of the cut is not in the chain";
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      BecOp op;
      CkPayload pl;
      char *zErr = 0;
      if( bec_op_decode(sqlite3_column_blob(pStmt, 0),
                        sqlite3_column_bytes(pStmt, 0), &op, &zErr)==SQLITE_OK
       && ck_parse(&op, &pl)==0 ){
        zWhy = memcmp(pl.aDigest, j->aClaimed, BEC_HASH_BYTES)
             ? "an earlier checkpoint's leaf does not carry the R its op claims"
             : 0;
      }
      sqlite3_free(zErr);
    }
    rc = sqlite3_reset(pStmt);
    if( rc ) break;
    if( zWhy==0 && (j->k==0 || j->sealed==0) ){
      /* not computed on the provider (pruned below a concurrent one), or
      ** retired rather than sealed within the cut: its seal in a later cut
      ** is not the leaf's word */
      zWhy = "an earlier checkpoint that the cut does not seal (or whose cut "
             "the provider did not compute) is not installed yet";
    }
    if( zWhy ){
      *pzWhy = sqlite3_mprintf("%s", zWhy);
      rc = *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
      break;
    }
    c.bLocked = 1;
    c.k = (i64)j->k;
    rc = installed_invalid(p, iJ, &c.invalid);
    if( rc==SQLITE_OK ) rc = ck_store_cut(p, iJ, &c);
    cut_free(&c);
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(p, "UPDATE bec_store_checkpoint SET sealed=?2,"
                           " attestations=0 WHERE seq=?1", &pStmt);
    }
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iJ);
      sqlite3_bind_int(pStmt, 2, j->sealed);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  ck_forget(p);                /* the final validity takes in the seals */
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot record an earlier checkpoint: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}
