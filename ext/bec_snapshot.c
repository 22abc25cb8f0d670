/*
** bec_snapshot.c - the state at a sealed checkpoint as one message, and
** its verification by a replica that has not replayed the history
** (../shared/COMPACTION.md section 7; docs/compaction.md "Snapshots").
**
**   SELECT bec_snapshot();             -- the snapshot of the latest
**                                      -- checkpoint sealed here (a blob)
**   SELECT bec_snapshot_verify(:snap); -- the checkpoint's id if every
**                                      -- check holds, else why not
**   SELECT bec_join(:gid, 'snapshot'); -- an empty replica's syncs ask for
**                                      -- one (docs/compaction.md "The
**                                      -- snapshot join")
**   SELECT bec_band(:k, :ops);         -- a longer band for a joiner that
**                                      -- installed K's snapshot ("A
**                                      -- longer band")
**
** THE PROVIDER.  S(K) is read by bec_ckpt_state (bec_checkpoint.c): from
** the derived state, or from a replay of the cut; on a replica pruned below
** K, the replay takes the pruned ops as headers and the tables from the
** merge base, which is exactly S(K)'s tables (bec_crdt_base_copy), so a
** pruned replica gives the same bytes as before it pruned.
**
** THE JOIN.  bec_sync.c carries the bytes: a joiner (bec_snapshot_wanted:
** marked by bec_join and holding no op) asks in every sync message, a
** peer answers with bec_snapshot_give (a pruned replica too: a joiner
** that cannot install it replays the history, whose dropped bodies it
** fetches from another peer; nothing that fails its own checks; bec_sync.c drops
** one too large for BEC_SYNC_MAX_MSG_BYTES; its band places every op the
** peer holds concurrent with K, bec_snapshot_band), and the joiner runs
** bec_snapshot_check before it stores anything of that message, then
** installs it (bec_install.c, from bec_snapshot_state and
** bec_snapshot_parts).
**
** THE MESSAGE, version 5 (docs/wire-format.md "Snapshot"; versions 1 and
** 2, of an older bec, carry a bec-cut-v3 digest, 3 sends its row leaves
** whole: all three are refused; 4, without the band and with an auth
** chain that carries no name or checkpoint op and only the root's grants,
** is read as 5 with an empty band: it is checked as any, and the install
** refuses a cut whose names, root or checkpoints its chain does not give,
** so the join replays):
**
**   snapshot := version u8 (=5) || group id (32)
**     || checkpoint op                      K
**     || n_claim varint || op each          attest ops of K that seal it
**     || n_chain varint || op each          the auth chain: every create,
**                                           add, remove, schema, config,
**                                           name and checkpoint op and
**                                           every op of the threshold
**                                           root (kinds 7 to 15 but 10),
**                                           in the provider's seq order
**     || n_op varint || k varint || ops_root (32)
**     || n_proof varint || proof each       per head of the cut, then per
**                                           chain op in the cut: id (32) ||
**                                           index varint || depth varint ||
**                                           valid u8 || n_path varint ||
**                                           its ops leaf's audit path
**     || n_member varint || bytes each      the members section's leaves
**     || n_table varint || per table:
**          bytes                            its leaf up to n_row
**          || n_row varint || row each      its rows' leaves as tokens
**                                           (below: "A row leaf in the
**                                           message")
**     || per section root, epochs, names, checkpoints (BEC_CK_SEC_*):
**          n_leaf varint || bytes each      its leaves
**     || n_band varint || header each       the band: ops of the cut as
**                                           headers (the pruned form), in
**                                           the provider's seq order
**     || n_bproof varint || proof each      per band op, then per boundary
**                                           op (THE BAND, below)
**     || n_loser varint || header each      version 6: the headers (pruned
**                                           form) of the cut's write ops
**                                           that lose a register (THE
**                                           LOSERS, below)
**   op, bytes, row, header := varint length || the bytes
**
** Every leaf is the leaf of the digest (docs/compaction.md, "The digest,
** byte by byte"), in the digest's order (a row leaf once its tokens are
** expanded); a table's leaf is its head || n_row || the Merkle root of its
** rows.  The heads of the cut are K's
** predecessors.  So R is recomputed from the message alone, with the
** digest's own functions (bec_ckpt_digest, bec_ckpt_merkle).  The leaves
** of the members and of the four last sections are parsed here (parse_*),
** for the checks and for the install (bec_snapshot_state, BecSnapState);
** the install reads the tables' rows, expanded, through
** bec_snapshot_tables.
**
** THE CHECKS, in order; the first that fails is the error, and nothing is
** stored in any case:
**   1. every op decodes canonically, belongs to this database's group and
**      carries its author's valid signature; K is a checkpoint, each claim
**      an attest naming K, each chain op of a chain kind; the group's
**      create is in the chain; every member leaf and every leaf of the
**      four last sections is one leaf of its layout;
**   2. R recomputed from the message equals the attested R (the digest the
**      attests carry, all alike; K's own if none): "digest does not match";
**      then every proof's path leads from its leaf to ops_root, and each
**      head of the cut has one: "an op's leaf is not in the ops root", "a
**      head of the cut is not proven in the ops root";
**   3. every claim that carries R (K counts for its author) is by a key
**      that is an admin in the members section, with an admin grant among
**      its live grants: "attester is not an admin of the cut";
**   4. at least k (the k covered by R) distinct such keys: "fewer than k
**      attestations";
**   5. every live grant of every member is a signed chain op granting that
**      key (the create for its author, an add naming it, a root grant
**      naming it), an add's author holds an admin grant reaching back to
**      the create (or to a root's admin grant) through the chain's admin
**      adds, and a root grant's
**      author is a group key of the root section (R says it was the
**      group's root in the cut): "grant not in the auth chain";
**   6. every member's rank follows the chain: rank 1 is the group's create
**      by that key or a root grant naming it, rank r > 1 an add of the
**      chain naming the key by a member of rank r - 1: "rank not in the
**      auth chain" (that no shorter chain of adds exists is covered by R,
**      not checked).
**   7. the band (check_band, after 2): each header's id is its hash, no
**      op twice or K, a topological order, every band op reachable from
**      K through band ops, every band and boundary op proven, each band
**      op's depth one more than its predecessors' deepest, the band ops'
**      leaves the last n_band of the ops section (so it is closed upward):
**      "the band is refused: ...".
** Not checked yet: the ops leaves without a proof (a chain op sent without
** one is taken as outside the cut), and that a member's rank is the
** shortest chain of adds (covered by R).
*/
#include "becInt.h"

#include <stdlib.h>

#define SNAP_VERSION 6      /* 1 and 2 (an older bec's, bec-cut-v3) are
                            ** refused: their R is no R computed here;
                            ** 3 too: its rows are sent whole */
#define SNAP_NO_LOSERS 5    /* read as 6 without the losers' headers (an
                            ** older bec sends it: bec_conflicts does not
                            ** list the cut's losers where it is installed) */
#define SNAP_NO_BAND 4      /* read as 5 with an empty band (an older bec
                            ** sends it: an op concurrent with K then
                            ** falls back, as before the band; a cut with
                            ** names, root ops or checkpoints, which its
                            ** chain lacks, is not installed: replayed) */
#define SNAP_MAX_PATH 64     /* hashes in an audit path: 2^64 leaves */

/* The chain's kinds as numbers in snapshot_build's SQL. */
typedef char snap_chain_kinds[(BEC_KIND_CREATE==1 && BEC_KIND_ADD==2
    && BEC_KIND_REMOVE==3 && BEC_KIND_SCHEMA==5 && BEC_KIND_CONFIG==22
    && BEC_KIND_ROOT_OPEN==7 && BEC_KIND_DKG_DEAL==8 && BEC_KIND_DKG_ACK==9
    && BEC_KIND_NAME==10 && BEC_KIND_ROOT_REQUEST==11
    && BEC_KIND_ROOT_APPROVE==12 && BEC_KIND_ROOT_SESSION==13
    && BEC_KIND_ROOT_SHARE==14 && BEC_KIND_ROOT==15
    && BEC_KIND_REKEY==16 && BEC_KIND_KEYSHARE==17 && BEC_KIND_ENCRYPT==18
    && BEC_KIND_CHECKPOINT==19) ? 1 : -1];
/* The chain's ops (SQL, over bec_store_op o): membership, schema and
** config ops, and (version 5) every op of the threshold root (its key
** generations, hand-overs, signing sessions and root ops), every name op,
** every checkpoint op (but K, sent first) and every e2ee op (encrypt,
** rekey, keyshare: the epochs and the boxes of their seeds): small, kept
** in full by a pruned replica; the install stores those of the cut,
** derives the root, the names and the epochs from them, as their
** sections say (bec_install.c check_section), opens the boxes addressed
** to the joiner, and records the earlier checkpoints as their section
** says (bec_ckpt_install_earlier). */
#define SNAP_CHAIN(o) "(" o ".kind IN (1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13," \
  " 14, 15, 16, 17, 18, 19, 22))"
/* A chain kind, for the check of a snapshot's chain. */
static int snap_chain_kind(int kd){
  return kd==BEC_KIND_CREATE || kd==BEC_KIND_ADD || kd==BEC_KIND_REMOVE
      || kd==BEC_KIND_SCHEMA || kd==BEC_KIND_CONFIG || kd==BEC_KIND_NAME
      || kd==BEC_KIND_CHECKPOINT
      || (kd>=BEC_KIND_ROOT_OPEN && kd<=BEC_KIND_ENCRYPT); /* 7..18, 10 above */
}

/* The decoded message: pointers into the caller's bytes. */
typedef struct SnapMsg SnapMsg;
struct SnapMsg {
  const u8 *aGroup;
  BecOp k;                 /* the checkpoint */
  BecOp *aClaim;           /* nClaim attests */
  int nClaim;
  BecOp *aChain;           /* nChain chain ops */
  int nChain;
  u64 nOp, kNeed;
  const u8 *aOpsRoot;
  u64 nProof;              /* version 2: the proofs of ops leaves, as sent */
  const u8 *aProofs;
  i64 nProofsBytes;
  u8 aMembersRoot[BEC_HASH_BYTES];
  u8 aTablesRoot[BEC_HASH_BYTES];
  const u8 *aMembers;      /* the members entries, as sent */
  i64 nMembersBytes;
  u64 nMember;
  const u8 *aTables;       /* the tables, as sent (row leaves as tokens) */
  i64 nTablesBytes;
  u64 nTable;
  /* The BEC_CK_SEC_* sections (version 3): their roots, entries as sent */
  u8 aSecRoot[BEC_CK_NSEC][BEC_HASH_BYTES];
  const u8 *aSec[BEC_CK_NSEC];
  i64 nSecBytes[BEC_CK_NSEC];
  u64 nSec[BEC_CK_NSEC];
  /* The band (version 5 and 6): where its section starts and ends (the
  ** losers' headers follow it in version 6), its headers, its proofs as
  ** sent */
  i64 iBandOff, iBandEnd;
  BecOp *aBand;
  int nBand;
  u64 nBandProof;
  const u8 *aBandProofs;
  i64 nBandProofsBytes;
  /* The losers' headers (version 6) */
  BecOp *aLoser;
  int nLoser;
};

static void snap_free(SnapMsg *m){
  sqlite3_free(m->aClaim);
  sqlite3_free(m->aChain);
  sqlite3_free(m->aBand);
  sqlite3_free(m->aLoser);
}

/**************************************************************************
** A row leaf in the message (version 4).  A row leaf names the same op
** ids again and again (an op that wrote the whole row wins its existence
** register and every column's), so the message sends each leaf as tokens
** that expand to it: the leaves, their hashes and R are the digest's, the
** message only is shorter (BENCH.md "Snapshots").
**
**   token := varint c
**     c = 2 len, len >= 1   a literal: the next len bytes
**     c = 2 off + 1         a reference: the 32 bytes at offset off of
**                           the leaf expanded so far (off + 32 at most
**                           the bytes before it)
**
** The provider writes, left to right, a reference wherever the next 32
** bytes equal 32 bytes that end before them (the earliest such), else a
** literal byte; a joiner expands any token string, and refuses one that
** refers past what it expanded, an empty literal, a token cut by the
** leaf's end, or a leaf expanding past SNAP_MAX_LEAF (32 bytes from one
** byte: the bound keeps a hostile message from growing 32-fold in memory).
*/
#define SNAP_REF 32                          /* bytes a reference copies */
#define SNAP_MAX_LEAF BEC_SYNC_MAX_MSG_BYTES /* an expanded row leaf */
#define SNAP_PROBES 16                       /* see row_window */

/* The next framed bytes at pRd (a varint length, the bytes): *pa, *pn. */
static int read_framed(BecReader *pRd, const u8 **pa, u64 *pn){
  int rc = bec_read_varint(pRd, pn, (u64)(pRd->n - pRd->i));
  if( rc==SQLITE_OK ) rc = bec_read_bytes(pRd, (i64)*pn, pa);
  return rc;
}

/* The slot of the 32 bytes at a in a table of 2^nBit slots. */
static u32 row_slot(const u8 *a, int nBit){
  u64 w[4];
  memcpy(w, a, sizeof(w));
  return (u32)(((w[0] ^ (w[1]<<17 | w[1]>>47) ^ (w[2]<<31 | w[2]>>33)
                ^ (w[3]<<47 | w[3]>>17)) * 0x9E3779B97F4A7C15ull)
               >> (64 - nBit));
}

/* The offset of the 32 bytes at a[i] among the windows of a that the
** table holds, or -1; with bAdd, a[i] is added when it is not there.  A
** window further than SNAP_PROBES slots from its own is left out: a
** reference the provider does not make, never a wrong one (the joiner
** expands whatever it is sent). */
static int row_window(const u8 *a, int i, int *aSlot, int nBit, int bAdd){
  u32 h = row_slot(a + i, nBit), mask = ((u32)1<<nBit) - 1;
  int k;
  for(k=0; k<SNAP_PROBES; k++, h=(h+1)&mask){
    int j = aSlot[h];
    if( j<0 ){
      if( bAdd ) aSlot[h] = i;
      return -1;
    }
    if( memcmp(a + j, a + i, SNAP_REF)==0 ) return j;
  }
  return -1;
}

static void row_literal(const u8 *a, i64 n, BecBuf *pOut, int *pRc){
  if( n==0 ) return;
  bec_buf_append_varint(pOut, 2*(u64)n, pRc);
  bec_buf_append(pOut, a, n, pRc);
}

/* Row leaf a[0..n-1] as tokens, framed, appended to pOut. */
static void row_encode(const u8 *a, i64 n, BecBuf *pOut, int *pRc){
  BecBuf tok;
  i64 i = 0, iLit = 0, iAdd = 0;
  int nBit = 4, *aSlot;
  if( *pRc ) return;
  memset(&tok, 0, sizeof(tok));
  /* twice the leaf's windows: linear probing stays short */
  while( ((i64)1<<nBit) < 2*(n - SNAP_REF + 1) ) nBit++;
  aSlot = sqlite3_malloc64(sizeof(int)*((u64)1<<nBit));
  if( aSlot==0 ){
    *pRc = SQLITE_NOMEM;
    return;
  }
  memset(aSlot, 0xff, sizeof(int)*((size_t)1<<nBit));      /* all -1 */
  while( i+SNAP_REF<=n ){
    int j;
    for(; iAdd+SNAP_REF<=i; iAdd++) row_window(a, (int)iAdd, aSlot, nBit, 1);
    j = row_window(a, (int)i, aSlot, nBit, 0);
    if( j<0 ){
      i++;
      continue;
    }
    row_literal(a + iLit, i - iLit, &tok, pRc);
    bec_buf_append_varint(&tok, 2*(u64)j + 1, pRc);
    i += SNAP_REF;
    iLit = i;
  }
  row_literal(a + iLit, n - iLit, &tok, pRc);
  bec_buf_append_framed(pOut, tok.a, tok.n, pRc);
  bec_buf_free(&tok);
  sqlite3_free(aSlot);
}

/* Appends the leaf that the tokens a[0..n-1] expand to to pOut (a
** reference counts from where the leaf starts in pOut); BEC_MALFORMED with
** *pzErr when they do not expand to one. */
static int row_expand(const u8 *a, u64 n, BecBuf *pOut, char **pzErr){
  BecReader rd;
  const i64 i0 = pOut->n;
  int rc = SQLITE_OK;
  const char *zWhy = 0;
  rd.a = a; rd.n = (i64)n; rd.i = 0;
  while( rc==SQLITE_OK && zWhy==0 && rd.i<rd.n ){
    u64 c = 0;
    i64 nAt = pOut->n - i0;
    i64 iTok = rd.i;
    if( bec_read_varint(&rd, &c, 2*(u64)SNAP_MAX_LEAF + 1) ){
      while( iTok<rd.n && (a[iTok] & 0x80) ) iTok++;
      zWhy = iTok>=rd.n ? "a row leaf ends inside a token"
                        : "a row leaf has a token that is no minimal varint "
                          "within the bound";
    }else if( c & 1 ){
      u8 aRef[SNAP_REF];
      if( (c>>1) + SNAP_REF > (u64)nAt ){
        zWhy = "a row leaf refers past the bytes before the reference";
      }else if( nAt + SNAP_REF > SNAP_MAX_LEAF ){
        zWhy = "a row leaf expands past the bound";
      }else{
        /* copied first: the append may move pOut->a */
        memcpy(aRef, pOut->a + i0 + (i64)(c>>1), SNAP_REF);
        bec_buf_append(pOut, aRef, SNAP_REF, &rc);
      }
    }else{
      const u8 *aLit = 0;
      if( c==0 ){
        zWhy = "a row leaf has an empty literal";
      }else if( bec_read_bytes(&rd, (i64)(c>>1), &aLit) ){
        zWhy = "a row leaf ends inside a literal";
      }else if( nAt + (i64)(c>>1) > SNAP_MAX_LEAF ){
        zWhy = "a row leaf expands past the bound";
      }else{
        bec_buf_append(pOut, aLit, (i64)(c>>1), &rc);
      }
    }
  }
  if( zWhy ){
    *pzErr = sqlite3_mprintf("%s", zWhy);
    return *pzErr ? BEC_MALFORMED : SQLITE_NOMEM;
  }
  return rc;
}

/**************************************************************************
** The provider.
*/
static void put_op(BecCtx *p, int iSeq, BecBuf *pOut, int *pRc){
  sqlite3_stmt *pStmt = 0;
  if( *pRc ) return;
  *pRc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
  if( *pRc ) return;
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    bec_buf_append_framed(pOut, sqlite3_column_blob(pStmt, 0),
                          sqlite3_column_bytes(pStmt, 0), pRc);
  }else if( *pRc==SQLITE_OK ){
    *pRc = SQLITE_CORRUPT;
  }
  if( *pRc==SQLITE_OK ) *pRc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
}

/* Appends n_seq || each op of the seqs that zSql selects (?1, if it has
** one, bound to iBind). */
static void put_ops(BecCtx *p, const char *zSql, int iBind, BecBuf *pOut,
                    int *pRc){
  sqlite3_stmt *pStmt = 0;
  BecBuf seqs;
  int i, n;
  memset(&seqs, 0, sizeof(seqs));
  if( *pRc ) return;
  *pRc = bec_ctx_stmt(p, zSql, &pStmt);
  if( *pRc ) return;
  sqlite3_bind_int(pStmt, 1, iBind);
  while( *pRc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int s = sqlite3_column_int(pStmt, 0);
    bec_buf_append(&seqs, &s, sizeof(s), pRc);
  }
  if( *pRc==SQLITE_OK ) *pRc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  n = (int)(seqs.n/sizeof(int));
  bec_buf_append_varint(pOut, (u64)n, pRc);
  for(i=0; i<n; i++){
    int s;
    memcpy(&s, seqs.a + i*sizeof(int), sizeof(int));
    put_op(p, s, pOut, pRc);
  }
  bec_buf_free(&seqs);
}

/* The claims of checkpoint X (SQL) that a snapshot carries (K's own among
** them): each admin of S(K)'s first claim by (depth, id), when it carries
** the digest computed here. */
#define SNAP_CLAIMS(X) "bec_store_claim c" \
  " JOIN bec_store_op o ON o.seq=c.seq" \
  " JOIN bec_store_checkpoint_admin a ON a.checkpoint=c.checkpoint" \
  "  AND a.author=c.author" \
  " JOIN bec_store_checkpoint k ON k.seq=c.checkpoint" \
  " WHERE c.checkpoint=" X " AND c.digest=k.digest" \
  "  AND NOT EXISTS(SELECT 1 FROM bec_store_claim c2" \
  "   JOIN bec_store_op o2 ON o2.seq=c2.seq WHERE c2.checkpoint=c.checkpoint" \
  "   AND c2.author=c.author AND (o2.depth<o.depth" \
  "    OR (o2.depth=o.depth AND o2.hash<o.hash)))"

/* *piCp: the latest checkpoint sealed here that k admins' claims of the
** digest computed here seal, or *pzWhy.  A checkpoint sealed by the root
** alone is passed over (an older one is given): a joiner could not tell
** which root key was active in the cut without the cut's causal order (a
** key that a later key generation retired could still sign), while the
** admins' claims are checked against the members section R covers
** (docs/compaction.md "Snapshots of a root-sealed checkpoint"). */
static int snapshot_checkpoint(BecCtx *p, int *piCp, char **pzWhy){
  sqlite3_stmt *pStmt = 0;
  int rc, nSealed = 0;
  *piCp = 0;
  rc = bec_ctx_stmt(p, "SELECT kk.seq, kk.k>0 AND (SELECT count(*) FROM "
      SNAP_CLAIMS("kk.seq") ")>=kk.k FROM bec_store_checkpoint kk"
      " JOIN bec_store_op oo ON oo.seq=kk.seq WHERE kk.sealed"
      " ORDER BY oo.depth DESC, oo.hash DESC", &pStmt);
  if( rc ) return rc;
  while( *piCp==0 && sqlite3_step(pStmt)==SQLITE_ROW ){
    nSealed++;
    if( sqlite3_column_int(pStmt, 1) ) *piCp = sqlite3_column_int(pStmt, 0);
  }
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && *piCp==0 ){
    *pzWhy = nSealed==0
        ? sqlite3_mprintf("no checkpoint is sealed here yet: there is no "
                          "snapshot to give")
        : sqlite3_mprintf("no checkpoint here is sealed by k admins' "
                          "attestations (the root's seal alone is not given "
                          "as a snapshot): there is no snapshot to give");
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  return rc;
}

/* The proofs (version 2): for each of K's predecessors, in its header's
** order, then each chain op in the cut, in the order sent, its id, its ops
** leaf (index, depth and validity) and its audit path under ops_root: what
** R covers of the ops a joiner holds without their headers
** (docs/compaction.md "The snapshot join"). */
static void put_proofs(BecCtx *p, int iCp, const BecCkState *pSt, BecBuf *pOut,
                       int *pRc){
  sqlite3_stmt *pStmt = 0;
  BecBuf ids, proofs;
  char *zErr = 0;
  int nProof = 0;
  memset(&ids, 0, sizeof(ids));
  if( *pRc ) return;
  *pRc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
  if( *pRc ) return;
  sqlite3_bind_int(pStmt, 1, iCp);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    BecOp k;
    if( bec_op_decode(sqlite3_column_blob(pStmt, 0), sqlite3_column_bytes(pStmt, 0),
                      &k, &zErr) ){
      *pRc = SQLITE_CORRUPT;
    }else{
      bec_buf_append(&ids, k.aPred, (i64)k.nPred*BEC_HASH_BYTES, pRc);
    }
  }else{
    *pRc = SQLITE_CORRUPT;
  }
  sqlite3_free(zErr);
  if( *pRc==SQLITE_OK ) *pRc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  if( *pRc==SQLITE_OK ){
    *pRc = bec_ctx_stmt(p, "SELECT hash FROM bec_store_op o WHERE "
                           SNAP_CHAIN("o") " AND o.seq<>?1 ORDER BY seq", &pStmt);
    if( *pRc==SQLITE_OK ) sqlite3_bind_int(pStmt, 1, iCp);   /* K: sent */
  }
  while( *pRc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ){
      *pRc = SQLITE_CORRUPT;
      break;
    }
    bec_buf_append(&ids, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES, pRc);
  }
  if( pStmt && *pRc==SQLITE_OK ) *pRc = sqlite3_reset(pStmt);
  else if( pStmt ) sqlite3_reset(pStmt);
  memset(&proofs, 0, sizeof(proofs));
  /* a chain op that is also a head is proven once, as a head */
  bec_ckpt_ops_proofs(pSt, ids.a, (int)(ids.n/BEC_HASH_BYTES), &proofs,
                      &nProof, pRc);
  bec_buf_append_varint(pOut, (u64)nProof, pRc);
  bec_buf_append(pOut, proofs.a, proofs.n, pRc);
  bec_buf_free(&proofs);
  bec_buf_free(&ids);
}

/* The tables of pSt (per table its head leaf, n_row and its rows'
** leaves, framed, as the digest has them), each row leaf as tokens. */
static void put_tables(const BecCkState *pSt, BecBuf *pOut, int *pRc){
  BecReader rd;
  i64 t;
  rd.a = pSt->tables.a; rd.n = pSt->tables.n; rd.i = 0;
  bec_buf_append_varint(pOut, (u64)pSt->nTable, pRc);
  for(t=0; *pRc==SQLITE_OK && t<pSt->nTable; t++){
    const u8 *a = 0;
    u64 n = 0, nRow = 0, r;
    if( read_framed(&rd, &a, &n)
     || bec_read_varint(&rd, &nRow, (u64)(rd.n - rd.i)) ){
      *pRc = SQLITE_CORRUPT;
      break;
    }
    bec_buf_append_framed(pOut, a, (i64)n, pRc);
    bec_buf_append_varint(pOut, nRow, pRc);
    for(r=0; *pRc==SQLITE_OK && r<nRow; r++){
      if( read_framed(&rd, &a, &n) ) *pRc = SQLITE_CORRUPT;
      else row_encode(a, (i64)n, pOut, pRc);
    }
  }
  if( *pRc==SQLITE_OK && rd.i!=rd.n ) *pRc = SQLITE_CORRUPT;
}

/**************************************************************************
** THE BAND (docs/compaction.md "The band").  An op O concurrent with K
** (written while K was being sealed: not in K's cut, not descending from
** K) names ops of the cut whose headers an installed replica lacks.  The
** band B is a set of cut ops sent as headers, chosen so that every
** concurrent op held here reaches every boundary op (a predecessor of K
** or of a band op outside B) over the headers a joiner will hold
** (bec_graph_band_check): then O's past in the cut is exactly the band
** ops it reaches and all of the cut outside B.  Start with B empty (the
** boundary is K's predecessors); while some O misses a boundary op, add
** the missed ones, and every op of the cut but K that the ops section
** (the ops root's leaves, in (depth, id) order) lists at or after the
** lowest band op: B is a suffix of the ops section, so it is closed upward
** (an op that descends from a band op is deeper: no op outside B has a
** band op in its past, and the cut outside B, closed downward, can be held
** as one chain below the band), and a joiner can check that it is one
** (check_band: the band's leaves are the last n_band).  Only the
** concurrent ops whose predecessors all lie in the cut are checked: any
** other one reaches what a concurrent predecessor reaches.  No concurrent
** op held: B is empty.
*/
/* *paCut: cut(K) marks (K's past and K; nNode+1 bytes, caller frees). */
static int band_cut(const BecGraph *g, int iK, u8 **paCut){
  int rc = bec_graph_past(g, BEC_NODE_PREDS(g, iK), g->aNode[iK].nPred, paCut);
  if( rc==SQLITE_OK ) (*paCut)[iK] = 1;
  return rc;
}

/* The boundary of band aIn (per node, 1 = in B) under K, into *pBound
** (ints, each once; aSeen: nNode+1 bytes of scratch). */
static void band_boundary(const BecGraph *g, int iK, const u8 *aCut,
                          const u8 *aIn, u8 *aSeen, BecBuf *pBound, int *pRc){
  int x, j;
  pBound->n = 0;
  memset(aSeen, 0, (size_t)g->nNode+1);
  for(x=1; *pRc==SQLITE_OK && x<=iK; x++){
    const int *a;
    if( x!=iK && !aIn[x] ) continue;
    a = BEC_NODE_PREDS(g, x);
    for(j=0; j<g->aNode[x].nPred; j++){
      int y = a[j];
      if( !aCut[y] || aIn[y] || aSeen[y] ) continue;
      aSeen[y] = 1;
      bec_buf_append(pBound, &y, sizeof(int), pRc);
    }
  }
}

/* The order of nodes a and b in the ops section: (depth, id). */
static int band_order(const BecGraph *g, int a, int b){
  if( g->aNode[a].depth!=g->aNode[b].depth ){
    return g->aNode[a].depth<g->aNode[b].depth ? -1 : 1;
  }
  return bec_graph_id_cmp(g, a, b);
}

int bec_snapshot_band(BecCtx *p, int iK, const int *aExtra, int nExtra,
                      BecBuf *pBand, char **pzErr){
  BecGraph *g = 0;
  u8 *aCut = 0, *aIn = 0, *aStop = 0, *aMark = 0;
  BecBuf minimal, bound;
  int rc, x, j, i, iLowest = 0;
  memset(&minimal, 0, sizeof(minimal));
  memset(&bound, 0, sizeof(bound));
  pBand->n = 0;
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK && (iK<1 || iK>g->nNode) ) rc = SQLITE_MISUSE;
  if( rc==SQLITE_OK ) rc = band_cut(g, iK, &aCut);
  if( rc==SQLITE_OK ){
    /* per node: in B, a stop (a cut op outside B), descends from K */
    aIn = sqlite3_malloc64((u64)g->nNode + 1);
    aStop = sqlite3_malloc64((u64)g->nNode + 1);
    aMark = sqlite3_malloc64((u64)g->nNode + 1);
    if( aIn==0 || aStop==0 || aMark==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ){
    memset(aIn, 0, (size_t)g->nNode+1);
    memcpy(aStop, aCut, (size_t)g->nNode+1);
    memset(aMark, 0, (size_t)g->nNode+1);
    aMark[iK] = 1;                          /* here: descends from K */
    for(x=1; rc==SQLITE_OK && x<=g->nNode; x++){
      const int *a = BEC_NODE_PREDS(g, x);
      int bAllCut = 1;
      for(j=0; j<g->aNode[x].nPred; j++){
        if( x>iK && aMark[a[j]] ) aMark[x] = 1;
        if( !aCut[a[j]] ) bAllCut = 0;
      }
      if( !aCut[x] && !aMark[x] && !BEC_NODE_STANDIN(g, x) && bAllCut ){
        bec_buf_append(&minimal, &x, sizeof(int), &rc);
      }
    }
  }
  while( rc==SQLITE_OK && (minimal.n || nExtra) ){
    int bAdded = 0, *aMiss;
    band_boundary(g, iK, aCut, aIn, aMark, &bound, &rc);
    aMiss = rc ? 0 : sqlite3_malloc64(bound.n + sizeof(int));
    if( rc==SQLITE_OK && aMiss==0 ) rc = SQLITE_NOMEM;
    /* each concurrent op held here, then the op a joiner asks about (its
    ** predecessors aExtra: bec_snapshot_band_give) */
    for(i=0; rc==SQLITE_OK && i<=(int)(minimal.n/sizeof(int)); i++){
      int o, nMiss = 0, m;
      if( i==(int)(minimal.n/sizeof(int)) ){
        if( nExtra==0 ) break;
        memset(aMark, 0, (size_t)g->nNode+1);
        rc = bec_graph_band_check(g, aStop, (const int*)bound.a,
                                  (int)(bound.n/sizeof(int)), aExtra, nExtra,
                                  aMark, aMiss, &nMiss);
      }else{
        memcpy(&o, minimal.a + i*sizeof(int), sizeof(int));
        memset(aMark, 0, (size_t)g->nNode+1);
        rc = bec_graph_band_check(g, aStop, (const int*)bound.a,
                                  (int)(bound.n/sizeof(int)), BEC_NODE_PREDS(g, o),
                                  g->aNode[o].nPred, aMark, aMiss, &nMiss);
      }
      for(m=0; rc==SQLITE_OK && m<nMiss; m++){
        if( !aIn[aMiss[m]] ){
          aIn[aMiss[m]] = 1;
          bAdded = 1;
        }
      }
    }
    sqlite3_free(aMiss);
    if( rc || !bAdded ) break;
    /* a suffix of the ops section: every op of the cut but K at or after
    ** the lowest band op in (depth, id) order, the ops leaves' order */
    for(x=1; x<iK; x++){
      if( aIn[x] && (iLowest==0 || band_order(g, x, iLowest)<0) ) iLowest = x;
    }
    for(x=1; x<iK; x++){
      if( aCut[x] && !aIn[x] && band_order(g, x, iLowest)>0 ) aIn[x] = 1;
      aStop[x] = aCut[x] && !aIn[x];
    }
  }
  for(x=1; rc==SQLITE_OK && x<iK; x++){
    if( aIn[x] ) bec_buf_append(pBand, &x, sizeof(int), &rc);
  }
  sqlite3_free(aCut);
  sqlite3_free(aIn);
  sqlite3_free(aStop);
  sqlite3_free(aMark);
  bec_buf_free(&minimal);
  bec_buf_free(&bound);
  if( rc && pzErr && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot choose the band of the snapshot: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/* Op s's header, framed, into pOut: the pruned form (no signature, no
** body), rebuilt from the stub of a pruned op.  pStmt reads a body by
** seq. */
static void put_header(BecCtx *p, sqlite3_stmt *pStmt, int s, BecBuf *pOut,
                       int *pRc){
  BecOp op;
  BecBuf head;
  char *zErr = 0;
  if( *pRc ) return;
  memset(&head, 0, sizeof(head));
  sqlite3_bind_int(pStmt, 1, s);
  if( sqlite3_step(pStmt)!=SQLITE_ROW ){
    *pRc = sqlite3_reset(pStmt);
    if( *pRc==SQLITE_OK ) *pRc = SQLITE_CORRUPT;
    return;
  }else{
    const u8 *a = sqlite3_column_blob(pStmt, 0);
    i64 nA = sqlite3_column_bytes(pStmt, 0);
    if( a && bec_dag_body_dropped(a, nA) ){
      *pRc = bec_dag_pruned_header(p, s, a, nA, &head, &op, &zErr);
      bec_buf_append_framed(pOut, head.a, head.n, pRc);
    }else if( a && bec_op_decode_header(a, nA, &op, &zErr)==SQLITE_OK ){
      bec_buf_append_framed(pOut, op.aHeader, op.nHeader, pRc);
    }else{
      *pRc = SQLITE_CORRUPT;
    }
  }
  bec_buf_free(&head);
  sqlite3_free(zErr);
  if( *pRc==SQLITE_OK ) *pRc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
}

/* The band section: n_band || each band op's header (the pruned form:
** no signature, no body) || n_proof || the proofs of the band ops' and
** the boundary ops' leaves under ops_root (their depths and validity). */
static void put_band(BecCtx *p, int iCp, const BecCkState *pSt,
                     const int *aExtra, int nExtra, BecBuf *pOut, int *pRc){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  BecBuf band, ids, proofs, bound;
  u8 *aCut = 0, *aIn = 0, *aSeen = 0;
  int i, n, nProof = 0;
  char *zErr = 0;
  if( *pRc ) return;
  memset(&band, 0, sizeof(band));
  memset(&ids, 0, sizeof(ids));
  memset(&proofs, 0, sizeof(proofs));
  memset(&bound, 0, sizeof(bound));
  *pRc = bec_snapshot_band(p, iCp, aExtra, nExtra, &band, &zErr);
  if( *pRc==SQLITE_OK ) *pRc = bec_graph_get(p, &g, &zErr);
  n = (int)(band.n/sizeof(int));
  bec_buf_append_varint(pOut, (u64)n, pRc);
  if( *pRc==SQLITE_OK ){
    *pRc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
  }
  for(i=0; *pRc==SQLITE_OK && i<n; i++){
    int s;
    memcpy(&s, band.a + i*sizeof(int), sizeof(int));
    put_header(p, pStmt, s, pOut, pRc);
    bec_graph_id_append(g, s, &ids, pRc);
  }
  /* the boundary, proven with the band (their depths order the band's) */
  if( *pRc==SQLITE_OK ) *pRc = band_cut(g, iCp, &aCut);
  if( *pRc==SQLITE_OK ){
    aIn = sqlite3_malloc64((u64)g->nNode + 1);
    aSeen = sqlite3_malloc64((u64)g->nNode + 1);
    if( aIn==0 || aSeen==0 ) *pRc = SQLITE_NOMEM;
  }
  if( *pRc==SQLITE_OK ){
    memset(aIn, 0, (size_t)g->nNode+1);
    for(i=0; i<n; i++){
      int s;
      memcpy(&s, band.a + i*sizeof(int), sizeof(int));
      aIn[s] = 1;
    }
    band_boundary(g, iCp, aCut, aIn, aSeen, &bound, pRc);
  }
  for(i=0; n && *pRc==SQLITE_OK && i<(int)(bound.n/sizeof(int)); i++){
    int s;
    memcpy(&s, bound.a + i*sizeof(int), sizeof(int));
    bec_graph_id_append(g, s, &ids, pRc);
  }
  bec_ckpt_ops_proofs(pSt, ids.a, (int)(ids.n/BEC_HASH_BYTES), &proofs,
                      &nProof, pRc);
  bec_buf_append_varint(pOut, (u64)nProof, pRc);
  bec_buf_append(pOut, proofs.a, proofs.n, pRc);
  sqlite3_free(zErr);
  sqlite3_free(aCut);
  sqlite3_free(aIn);
  sqlite3_free(aSeen);
  bec_buf_free(&band);
  bec_buf_free(&ids);
  bec_buf_free(&proofs);
  bec_buf_free(&bound);
}

/* THE LOSERS (version 6).  bec_conflicts names each losing write's op and
** author, which a row leaf does not carry (its candidates are ids): so the
** snapshot carries the header of each write op of the cut that loses a
** register at K (pSt->loserIds: the conflicts of S(K), the registers the
** digest hashes), in id order, and the joiner stores it in place of its
** stand-in (bec_install.c), as a pruned replica holds it: its id is its
** hash, named by a row under R, so a header proves itself.  Every loser at
** K, not only those shown here now: an op after K that covers one here
** may turn invalid later (a late removal this replica does not hold yet),
** and the loser shows again, on the joiner too. */
static int cmp_id32(const void *a, const void *b){
  return memcmp(a, b, BEC_HASH_BYTES);
}
static void put_losers(BecCtx *p, const BecCkState *pSt, BecBuf *pOut,
                       int *pRc){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  BecBuf ids, seqs;
  char *zErr = 0;
  int i, n = 0;
  if( *pRc ) return;
  memset(&ids, 0, sizeof(ids));
  memset(&seqs, 0, sizeof(seqs));
  bec_buf_append(&ids, pSt->loserIds.a, pSt->loserIds.n, pRc);
  if( *pRc==SQLITE_OK && ids.n>BEC_HASH_BYTES ){
    qsort(ids.a, (size_t)(ids.n/BEC_HASH_BYTES), BEC_HASH_BYTES, cmp_id32);
  }
  if( *pRc==SQLITE_OK ) *pRc = bec_graph_get(p, &g, &zErr);
  for(i=0; *pRc==SQLITE_OK && i<(int)(ids.n/BEC_HASH_BYTES); i++){
    const u8 *aId = ids.a + (i64)i*BEC_HASH_BYTES;
    int s = 0;
    if( i>0 && memcmp(aId - BEC_HASH_BYTES, aId, BEC_HASH_BYTES)==0 ) continue;
    *pRc = bec_dag_seq_of(p, aId, &s);
    /* (the cut's ops are held here, as headers at least) */
    if( *pRc==SQLITE_OK && s>=1 && s<=g->nNode && !BEC_NODE_STANDIN(g, s)
     && g->aNode[s].kind==BEC_KIND_WRITE ){
      bec_buf_append(&seqs, &s, sizeof(s), pRc);
    }
  }
  n = (int)(seqs.n/sizeof(int));
  bec_buf_append_varint(pOut, (u64)n, pRc);
  if( *pRc==SQLITE_OK ){
    *pRc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
  }
  for(i=0; *pRc==SQLITE_OK && i<n; i++){
    int s;
    memcpy(&s, seqs.a + i*sizeof(int), sizeof(int));
    put_header(p, pStmt, s, pOut, pRc);
  }
  sqlite3_free(zErr);
  bec_buf_free(&ids);
  bec_buf_free(&seqs);
}

/* The snapshot of the latest checkpoint sealed here by k admins (snapshot_checkpoint) into pOut; *pzWhy if
** there is none. */
/* A band op costs its header and a proof of about log2(cut) hashes, about
** four times what the op costs in a full join's bundle (tools/bench_band.py,
** BENCH.md "A longer band"): a band of more than a quarter of the cut moves
** more than the history would, and a joiner is better served by the full
** join.  A short band is given whatever the cut: the fall-back's replay
** costs more than its bytes.  nCut: the ops of the cut. */
#define BEC_BAND_COST_PER_OP 4
#define BEC_BAND_CHEAP_OPS   256
static int band_too_deep(u64 nBand, i64 nCut){
  return nBand>BEC_BAND_CHEAP_OPS && nBand*BEC_BAND_COST_PER_OP>(u64)nCut;
}

/* bGive: for a joiner in sync, which a band too deep serves worse than
** the history (then *pzWhy, and nothing is given). */
static int snapshot_build(BecCtx *p, BecBuf *pOut, int bGive, char **pzWhy,
                          char **pzErr){
  BecCkState st;
  u8 aGroup[BEC_HASH_BYTES];
  int rc, iCp = 0, i;
  memset(&st, 0, sizeof(st));
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK ) rc = snapshot_checkpoint(p, &iCp, pzWhy);
  if( rc || *pzWhy ) return rc;
  if( rc==SQLITE_OK ) rc = bec_ckpt_state(p, iCp, &st, pzErr);
  bec_buf_append_u8(pOut, SNAP_VERSION, &rc);
  bec_buf_append(pOut, aGroup, BEC_HASH_BYTES, &rc);
  put_op(p, iCp, pOut, &rc);
  /* The claims that seal it: an admin of S(K)'s first claim by (depth,
  ** id), carrying the digest computed here; K itself is sent above. */
  put_ops(p, "SELECT c.seq FROM " SNAP_CLAIMS("?1") " AND c.seq<>?1"
      " ORDER BY c.seq", iCp, pOut, &rc);
  put_ops(p, "SELECT seq FROM bec_store_op o WHERE " SNAP_CHAIN("o")
             " AND " BEC_OP_INDEXED("o") " AND o.seq<>?1 ORDER BY o.seq", iCp,
             pOut, &rc);
  bec_buf_append_varint(pOut, (u64)st.nOp, &rc);
  bec_buf_append_varint(pOut, (u64)st.k, &rc);
  bec_buf_append(pOut, st.aOpsRoot, BEC_HASH_BYTES, &rc);
  put_proofs(p, iCp, &st, pOut, &rc);
  bec_buf_append_varint(pOut, (u64)st.nMember, &rc);
  bec_buf_append(pOut, st.members.a, st.members.n, &rc);
  put_tables(&st, pOut, &rc);
  for(i=0; i<BEC_CK_NSEC; i++){
    bec_buf_append_varint(pOut, (u64)st.anSec[i], &rc);
    bec_buf_append(pOut, st.aSec[i].a, st.aSec[i].n, &rc);
  }
  {
    i64 iBand = pOut->n;
    put_band(p, iCp, &st, 0, 0, pOut, &rc);
    if( rc==SQLITE_OK && bGive ){
      BecReader rd;
      u64 nBand = 0;
      rd.a = pOut->a; rd.n = pOut->n; rd.i = iBand;
      if( bec_read_varint(&rd, &nBand, (u64)pOut->n) ) rc = SQLITE_CORRUPT;
      if( rc==SQLITE_OK && band_too_deep(nBand, st.nOpLeaf) ){
        *pzWhy = sqlite3_mprintf("its band would be %llu of the cut's %lld "
            "ops (an op held here concurrent with the checkpoint names ops "
            "deep in it): the history is cheaper", (unsigned long long)nBand,
            (long long)st.nOpLeaf);
        if( *pzWhy==0 ) rc = SQLITE_NOMEM;
      }
    }
  }
  if( *pzWhy==0 ) put_losers(p, &st, pOut, &rc);   /* (none given else) */
  bec_ckpt_state_free(&st);
  return rc;
}

/**************************************************************************
** The joiner.
*/
/* One framed op: decoded, of the group, signed by its author. */
static int read_op(BecReader *pRd, const u8 *aGroup, BecOp *pOp,
                   char **pzErr){
  u64 n = 0;
  const u8 *a = 0;
  u8 aZero[BEC_HASH_BYTES];
  int rc = read_framed(pRd, &a, &n);
  if( rc ) return rc;
  if( bec_op_decode(a, (i64)n, pOp, pzErr) ) return BEC_MALFORMED;
  memset(aZero, 0, sizeof(aZero));
  if( pOp->kind==BEC_KIND_CREATE
        ? memcmp(pOp->aId, aGroup, BEC_HASH_BYTES)
        : memcmp(pOp->aGroupTag, aGroup, BEC_GROUP_TAG_BYTES) ){
    *pzErr = sqlite3_mprintf("an op of another group");
    return BEC_MALFORMED;
  }
  if( !bec_crypto_verify_op(pOp, pOp->kind==BEC_KIND_CREATE ? aZero : aGroup) ){
    *pzErr = sqlite3_mprintf("an op with a bad signature");
    return BEC_MALFORMED;
  }
  return SQLITE_OK;
}

/* A counted list of framed ops into *paOp (caller frees). */
static int read_ops(BecReader *pRd, const u8 *aGroup, BecOp **paOp, int *pn,
                    char **pzErr){
  u64 n = 0, i;
  /* Every op has a signature: a count the bytes cannot hold is refused
  ** before anything is allocated. */
  int rc = bec_read_varint(pRd, &n, (u64)(pRd->n - pRd->i)/BEC_SIG_BYTES);
  BecOp *a = 0;
  *paOp = 0;
  *pn = 0;
  if( rc ) return rc;
  if( n ){
    a = sqlite3_malloc64(sizeof(BecOp)*n);
    if( a==0 ) return SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<n; i++) rc = read_op(pRd, aGroup, &a[i], pzErr);
  *paOp = a;
  *pn = (int)n;
  return rc;
}

/* H(0x00 || the framed bytes at pRd) appended to pLeaves. */
static int read_leaf(BecReader *pRd, BecBuf *pTmp, BecBuf *pLeaves,
                     const u8 **pa, u64 *pn){
  u64 n = 0;
  const u8 *a = 0;
  u8 aHash[BEC_HASH_BYTES];
  int rc = read_framed(pRd, &a, &n);
  pTmp->n = 0;
  bec_buf_append_u8(pTmp, 0x00, &rc);
  bec_buf_append(pTmp, a, (i64)n, &rc);
  if( rc==SQLITE_OK ){
    bec_crypto_hash(pTmp->a, pTmp->n, aHash);
    bec_buf_append(pLeaves, aHash, BEC_HASH_BYTES, &rc);
  }
  if( pa ){ *pa = a; *pn = n; }
  return rc;
}

/* The leaves, as the checks and the install read them (docs/compaction.md
** "The digest, byte by byte"): each parser takes one leaf's bytes and
** fills its struct with pointers into them; BEC_MALFORMED unless the
** bytes are exactly one leaf.  All five are leaf_fields, the one
** length-checked reader, given the leaf's layout as a string of fields,
** one or more arguments each, in order:
**   'h'  32 bytes (an id or a key)     const u8 **
**   'v'  a varint at most mx           u64 *, u64 mx
**   'b'  a byte at most mx             u8 *, int mx
**   'o'  a byte 0 or 1, then 32 bytes  const u8 ** (0 after a 0 byte)
**        if it is 1
**   'l'  a varint count, then that     u64 *, const u8 **, int sz
**        many items of sz bytes
**   'f'  *pn items of sz bytes, *pn    const u8 *pn, int sz, const u8 **
**        read by an earlier 'b'
*/
typedef char snap_key_is_hash[BEC_PUBKEY_BYTES==BEC_HASH_BYTES ? 1 : -1];
static int leaf_fields(const u8 *a, u64 n, const char *zFmt, ...){
  BecReader rd;
  va_list ap;
  int rc = SQLITE_OK;
  rd.a = a; rd.n = (i64)n; rd.i = 0;
  va_start(ap, zFmt);
  for(; rc==SQLITE_OK && *zFmt; zFmt++){
    switch( *zFmt ){
      case 'h': {
        rc = bec_read_bytes(&rd, BEC_HASH_BYTES, va_arg(ap, const u8**));
        break;
      }
      case 'v': {
        u64 *pV = va_arg(ap, u64*);
        rc = bec_read_varint(&rd, pV, va_arg(ap, u64));
        break;
      }
      case 'b': {
        u8 *pB = va_arg(ap, u8*);
        rc = bec_read_u8(&rd, pB);
        if( rc==SQLITE_OK && *pB>va_arg(ap, int) ) rc = BEC_MALFORMED;
        break;
      }
      case 'o': {
        const u8 **pA = va_arg(ap, const u8**);
        u8 b = 0;
        *pA = 0;
        rc = bec_read_u8(&rd, &b);
        if( rc==SQLITE_OK && b>1 ) rc = BEC_MALFORMED;
        if( rc==SQLITE_OK && b ) rc = bec_read_bytes(&rd, BEC_HASH_BYTES, pA);
        break;
      }
      case 'l': {
        u64 *pN = va_arg(ap, u64*);
        const u8 **pA = va_arg(ap, const u8**);
        int sz = va_arg(ap, int);
        rc = bec_read_varint(&rd, pN, (u64)(rd.n - rd.i)/(u64)sz);
        if( rc==SQLITE_OK ) rc = bec_read_bytes(&rd, (i64)*pN*sz, pA);
        break;
      }
      default: {                            /* 'f' */
        const u8 *pN = va_arg(ap, const u8*);
        int sz = va_arg(ap, int);
        rc = bec_read_bytes(&rd, (i64)*pN*sz, va_arg(ap, const u8**));
        break;
      }
    }
  }
  va_end(ap);
  return rc || rd.i!=rd.n ? BEC_MALFORMED : SQLITE_OK;
}

static int parse_member(const u8 *a, u64 n, BecSnapMember *pM){
  u8 best = 0, role = 0, cover = 0;
  int rc;
  memset(pM, 0, sizeof(*pM));
  rc = leaf_fields(a, n, "hvhbbbl", &pM->aKey, &pM->rank, (u64)1<<40,
                   &pM->aRankOp, &best, 3, &role, 3, &cover, 3,
                   &pM->nLive, &pM->aLive, BEC_HASH_BYTES);
  pM->best = best;
  pM->role = role;
  pM->cover = cover;
  return rc;
}

static int parse_root(const u8 *a, u64 n, BecSnapRoot *pR){
  u8 k = 0, nh = 0, st = 0, act = 0;
  int rc;
  memset(pR, 0, sizeof(*pR));
  rc = leaf_fields(a, n, "hhvbbbbof", &pR->aSid, &pR->aParent, &pR->epoch,
                   (u64)1<<40, &k, 255, &nh, 255, &st, 4, &act, 1,
                   &pR->aGroupKey, &nh, BEC_PUBKEY_BYTES, &pR->aHolders);
  if( rc==SQLITE_OK && k>nh ) rc = BEC_MALFORMED;
  pR->k = k;
  pR->n = nh;
  pR->state = st;
  pR->bActive = act;
  return rc;
}

#define SNAP_HOLDER (BEC_E2EE_PREFIX_BYTES + BEC_HASH_BYTES)
static int parse_epoch(const u8 *a, u64 n, BecSnapEpoch *pE){
  u8 v = 0;
  int rc;
  memset(pE, 0, sizeof(*pE));
  rc = leaf_fields(a, n, "hbhll", &pE->aId, &v, 1, &pE->aCommit,
                   &pE->nBack, &pE->aBack, BEC_HASH_BYTES,
                   &pE->nHolder, &pE->aHolders, SNAP_HOLDER);
  pE->bValid = v;
  return rc;
}

static int parse_name(const u8 *a, u64 n, BecSnapName *pN){
  memset(pN, 0, sizeof(*pN));
  return leaf_fields(a, n, "hhl", &pN->aKey, &pN->aOp, &pN->nName,
                     &pN->aName, 1);
}

static int parse_ckpt(const u8 *a, u64 n, BecSnapCkpt *pC){
  u8 sealed = 0;
  int rc;
  memset(pC, 0, sizeof(*pC));
  rc = leaf_fields(a, n, "hhvb", &pC->aId, &pC->aClaimed, &pC->k,
                   (u64)1<<20, &sealed, 2);
  pC->sealed = sealed;
  return rc;
}

static const char *const azSec[BEC_CK_NSEC] = {
  "root", "epochs", "names", "checkpoints"
};

/* One leaf of section iSec (BEC_CK_SEC_*) parsed into pOut, of that
** section's struct (0: only checked). */
static int parse_sec_leaf(int iSec, const u8 *a, u64 n, void *pOut){
  union { BecSnapRoot r; BecSnapEpoch e; BecSnapName nm; BecSnapCkpt c; } x;
  switch( iSec ){
    case BEC_CK_SEC_ROOT:
      return parse_root(a, n, pOut ? (BecSnapRoot*)pOut : &x.r);
    case BEC_CK_SEC_EPOCHS:
      return parse_epoch(a, n, pOut ? (BecSnapEpoch*)pOut : &x.e);
    case BEC_CK_SEC_NAMES:
      return parse_name(a, n, pOut ? (BecSnapName*)pOut : &x.nm);
  }
  return parse_ckpt(a, n, pOut ? (BecSnapCkpt*)pOut : &x.c);
}

/* The next framed member leaf at pRd (snap_decode parsed each once). */
static int read_member(BecReader *pRd, BecSnapMember *pM){
  u64 n = 0;
  const u8 *a = 0;
  int rc = read_framed(pRd, &a, &n);
  if( rc==SQLITE_OK ) rc = parse_member(a, n, pM);
  return rc;
}

/* One proof at pRd (id, index, depth, validity, audit path), its fields
** into the pointers; BEC_MALFORMED for one out of bounds. */
static int read_proof(BecReader *pRd, u64 nOp, const u8 **paId, u64 *piLeaf,
                      u64 *piDepth, u8 *pbValid, u64 *pnPath,
                      const u8 **paPath){
  int rc = bec_read_bytes(pRd, BEC_HASH_BYTES, paId);
  if( rc==SQLITE_OK ) rc = bec_read_varint(pRd, piLeaf, nOp);
  if( rc==SQLITE_OK && *piLeaf>=nOp ) rc = BEC_MALFORMED;
  if( rc==SQLITE_OK ) rc = bec_read_varint(pRd, piDepth, (u64)1<<40);
  if( rc==SQLITE_OK ) rc = bec_read_u8(pRd, pbValid);
  if( rc==SQLITE_OK && *pbValid>1 ) rc = BEC_MALFORMED;
  if( rc==SQLITE_OK ) rc = bec_read_varint(pRd, pnPath, SNAP_MAX_PATH);
  if( rc==SQLITE_OK ) rc = bec_read_bytes(pRd, (i64)*pnPath*BEC_HASH_BYTES, paPath);
  return rc;
}

/* A counted list of proofs: *pn, and the bytes after the count. */
static int read_proofs(BecReader *pRd, u64 nOp, u64 *pn, const u8 **pa,
                       i64 *pnBytes){
  u64 i;
  int rc = bec_read_varint(pRd, pn, (u64)(pRd->n - pRd->i)/BEC_HASH_BYTES);
  *pa = pRd->a + pRd->i;
  for(i=0; rc==SQLITE_OK && i<*pn; i++){
    u64 iLeaf = 0, iDepth = 0, nPath = 0;
    u8 bValid = 0;
    const u8 *aId = 0, *aPath = 0;
    rc = read_proof(pRd, nOp, &aId, &iLeaf, &iDepth, &bValid, &nPath, &aPath);
  }
  *pnBytes = (pRd->a + pRd->i) - *pa;
  return rc;
}

/* The band (version 5): n_band || each header, framed (exactly a header:
** the pruned form, bec_op_decode_pruned; its id is its hash) || the
** proofs of the band's and the boundary's ops leaves. */
/* n || n framed headers (the pruned form) into *paOp, *pn (zWhat names
** them in an error): each exactly a header of this group, not the create. */
static int read_headers(BecReader *pRd, const u8 *aGroup, const char *zWhat,
                        BecOp **paOp, int *pn, char **pzErr){
  u64 n = 0, i;
  int rc = bec_read_varint(pRd, &n, (u64)(pRd->n - pRd->i)/2);
  if( rc==SQLITE_OK && n ){
    *paOp = sqlite3_malloc64(sizeof(BecOp)*n);
    if( *paOp==0 ) rc = SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<n; i++){
    const u8 *a = 0;
    u64 nA = 0;
    BecOp *o = &(*paOp)[i];
    char *zWhy = 0;
    rc = read_framed(pRd, &a, &nA);
    if( rc==SQLITE_OK && bec_op_decode_pruned(a, (i64)nA, o, &zWhy) ){
      sqlite3_free(*pzErr);
      *pzErr = sqlite3_mprintf("a %s header: %s", zWhat,
                               zWhy ? zWhy : "malformed");
      rc = BEC_MALFORMED;
    }
    sqlite3_free(zWhy);
    if( rc==SQLITE_OK && (o->kind==BEC_KIND_CREATE
                          || memcmp(o->aGroupTag, aGroup, BEC_GROUP_TAG_BYTES)) ){
      *pzErr = sqlite3_mprintf("a %s header of another group, or the create",
                               zWhat);
      rc = BEC_MALFORMED;
    }
    *pn = (int)i+1;
  }
  return rc;
}

static int read_band(BecReader *pRd, const u8 *aGroup, SnapMsg *m,
                     char **pzErr){
  int rc = read_headers(pRd, aGroup, "band", &m->aBand, &m->nBand, pzErr);
  if( rc==SQLITE_OK ){
    rc = read_proofs(pRd, m->nOp, &m->nBandProof, &m->aBandProofs,
                     &m->nBandProofsBytes);
  }
  return rc;
}

/* Decodes m from a[0..n-1] and computes the members and tables roots. */
static int snap_decode(const u8 *a, i64 n, const u8 *aGroup, SnapMsg *m,
                       char **pzErr){
  BecReader rd;
  BecBuf leaves, rows, tmp;
  u64 i, j, nTable = 0;
  u8 v = 0;
  int rc, s;
  memset(m, 0, sizeof(*m));
  memset(&leaves, 0, sizeof(leaves));
  memset(&rows, 0, sizeof(rows));
  memset(&tmp, 0, sizeof(tmp));
  if( n<1 ){
    /* no bytes (a may be 0: no pointer arithmetic on it below) */
    *pzErr = sqlite3_mprintf("no bytes");
    return BEC_MALFORMED;
  }
  rd.a = a; rd.n = n; rd.i = 0;
  rc = bec_read_u8(&rd, &v);
  if( rc==SQLITE_OK && v>=1 && v<SNAP_NO_BAND ){
    *pzErr = sqlite3_mprintf("version %d, of an older bec (%s): ask a "
        "provider that runs this version", (int)v, v<3
        ? "its digest is bec-cut-v3" : "its row leaves are sent whole");
    return BEC_MALFORMED;
  }
  if( rc==SQLITE_OK && v!=SNAP_VERSION && v!=SNAP_NO_LOSERS
   && v!=SNAP_NO_BAND ){
    *pzErr = sqlite3_mprintf("unknown snapshot version %d", (int)v);
    return BEC_MALFORMED;
  }
  if( rc==SQLITE_OK ) rc = bec_read_bytes(&rd, BEC_HASH_BYTES, &m->aGroup);
  if( rc==SQLITE_OK && memcmp(m->aGroup, aGroup, BEC_HASH_BYTES) ){
    *pzErr = sqlite3_mprintf("a snapshot of another group");
    return BEC_MALFORMED;
  }
  if( rc==SQLITE_OK ) rc = read_op(&rd, aGroup, &m->k, pzErr);
  if( rc==SQLITE_OK ) rc = read_ops(&rd, aGroup, &m->aClaim, &m->nClaim, pzErr);
  if( rc==SQLITE_OK ) rc = read_ops(&rd, aGroup, &m->aChain, &m->nChain, pzErr);
  if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &m->nOp, (u64)1<<40);
  if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &m->kNeed, (u64)1<<20);
  if( rc==SQLITE_OK ) rc = bec_read_bytes(&rd, BEC_HASH_BYTES, &m->aOpsRoot);
  /* The proofs: their structure here, their hashes in snap_check. */
  if( rc==SQLITE_OK ){
    rc = read_proofs(&rd, m->nOp, &m->nProof, &m->aProofs, &m->nProofsBytes);
  }
  if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &m->nMember, (u64)(rd.n - rd.i));
  m->aMembers = rd.a + rd.i;
  for(i=0; rc==SQLITE_OK && i<m->nMember; i++){
    const u8 *aLeaf = 0;
    u64 nLeaf = 0;
    BecSnapMember mb;
    rc = read_leaf(&rd, &tmp, &leaves, &aLeaf, &nLeaf);
    if( rc==SQLITE_OK && parse_member(aLeaf, nLeaf, &mb) ){
      *pzErr = sqlite3_mprintf("a member leaf");
      rc = BEC_MALFORMED;
    }
  }
  m->nMembersBytes = (rd.a + rd.i) - m->aMembers;
  if( rc==SQLITE_OK ){
    bec_ckpt_merkle(leaves.a, (i64)m->nMember, m->aMembersRoot);
    leaves.n = 0;
    rc = bec_read_varint(&rd, &nTable, (u64)(rd.n - rd.i));
  }
  m->aTables = rd.a + rd.i;
  m->nTable = nTable;
  for(i=0; rc==SQLITE_OK && i<nTable; i++){
    /* The table's leaf: its head || n_row || the root of its rows. */
    const u8 *aHead = 0;
    u64 nHead = 0, nRow = 0;
    u8 aRoot[BEC_HASH_BYTES], aLeaf[BEC_HASH_BYTES];
    BecBuf scratch;
    memset(&scratch, 0, sizeof(scratch));
    rc = read_leaf(&rd, &tmp, &scratch, &aHead, &nHead);
    bec_buf_free(&scratch);
    if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &nRow, (u64)(rd.n - rd.i));
    rows.n = 0;
    for(j=0; rc==SQLITE_OK && j<nRow; j++){
      /* H(0x00 || the leaf its tokens expand to) */
      const u8 *aTok = 0;
      u64 nTok = 0;
      u8 aHash[BEC_HASH_BYTES];
      rc = read_framed(&rd, &aTok, &nTok);
      tmp.n = 0;
      bec_buf_append_u8(&tmp, 0x00, &rc);
      if( rc==SQLITE_OK ) rc = row_expand(aTok, nTok, &tmp, pzErr);
      if( rc==SQLITE_OK ){
        bec_crypto_hash(tmp.a, tmp.n, aHash);
        bec_buf_append(&rows, aHash, BEC_HASH_BYTES, &rc);
      }
    }
    if( rc==SQLITE_OK ){
      bec_ckpt_merkle(rows.a, (i64)nRow, aRoot);
      tmp.n = 0;
      bec_buf_append_u8(&tmp, 0x00, &rc);
      bec_buf_append(&tmp, aHead, (i64)nHead, &rc);
      bec_buf_append_varint(&tmp, nRow, &rc);
      bec_buf_append(&tmp, aRoot, BEC_HASH_BYTES, &rc);
    }
    if( rc==SQLITE_OK ){
      bec_crypto_hash(tmp.a, tmp.n, aLeaf);
      bec_buf_append(&leaves, aLeaf, BEC_HASH_BYTES, &rc);
    }
  }
  m->nTablesBytes = (rd.a + rd.i) - m->aTables;
  if( rc==SQLITE_OK ) bec_ckpt_merkle(leaves.a, (i64)nTable, m->aTablesRoot);
  /* The sections after the tables, each leaf of its section's layout. */
  for(s=0; rc==SQLITE_OK && s<BEC_CK_NSEC; s++){
    leaves.n = 0;
    rc = bec_read_varint(&rd, &m->nSec[s], (u64)(rd.n - rd.i));
    m->aSec[s] = rd.a + rd.i;
    for(i=0; rc==SQLITE_OK && i<m->nSec[s]; i++){
      const u8 *aLeaf = 0;
      u64 nLeaf = 0;
      rc = read_leaf(&rd, &tmp, &leaves, &aLeaf, &nLeaf);
      if( rc==SQLITE_OK && parse_sec_leaf(s, aLeaf, nLeaf, 0) ){
        *pzErr = sqlite3_mprintf("a leaf of the %s section", azSec[s]);
        rc = BEC_MALFORMED;
      }
    }
    m->nSecBytes[s] = (rd.a + rd.i) - m->aSec[s];
    if( rc==SQLITE_OK ){
      bec_ckpt_merkle(leaves.a, (i64)m->nSec[s], m->aSecRoot[s]);
    }
  }
  m->iBandOff = rd.i;
  if( rc==SQLITE_OK && v>=SNAP_NO_LOSERS ) rc = read_band(&rd, aGroup, m, pzErr);
  m->iBandEnd = rd.i;
  if( rc==SQLITE_OK && v==SNAP_VERSION ){
    rc = read_headers(&rd, aGroup, "loser", &m->aLoser, &m->nLoser, pzErr);
    for(s=0; rc==SQLITE_OK && s<m->nLoser; s++){
      if( m->aLoser[s].kind!=BEC_KIND_WRITE ){
        *pzErr = sqlite3_mprintf("a loser header of no write op");
        rc = BEC_MALFORMED;
      }
    }
  }
  if( rc==SQLITE_OK && rd.i!=rd.n ) rc = BEC_MALFORMED;
  bec_buf_free(&leaves);
  bec_buf_free(&rows);
  bec_buf_free(&tmp);
  return rc;
}

/* The chain op with id aId, or 0 (linear: chains are membership-sized). */
static const BecOp *chain_find(const SnapMsg *m, const u8 *aId){
  int i;
  for(i=0; i<m->nChain; i++){
    if( memcmp(m->aChain[i].aId, aId, BEC_HASH_BYTES)==0 ) return &m->aChain[i];
  }
  return 0;
}

/* A member's key and rank, ordered by key (a liar may send the leaves in
** any order: they are sorted here). */
typedef struct SnapRank SnapRank;
struct SnapRank { const u8 *aKey; u64 rank; };
static int cmp_rank(const void *a, const void *b){
  return memcmp(((const SnapRank*)a)->aKey, ((const SnapRank*)b)->aKey,
                BEC_PUBKEY_BYTES);
}

/* The rank of key aKey among the n members aRank (sorted), 0 if none. */
static u64 member_rank(const SnapRank *aRank, u64 n, const u8 *aKey){
  SnapRank key, *r;
  if( n==0 ) return 0;
  key.aKey = aKey;
  key.rank = 0;
  r = bsearch(&key, aRank, (size_t)n, sizeof(SnapRank), cmp_rank);
  return r ? r->rank : 0;
}

static int is_root_grant(const BecOp*, const BecBuf*, const u8*);
static int has_key(const BecBuf*, const u8*);

/* Check 6: why member mb's rank is not the chain's, or 0.  Rank 1 is the
** group's create, by that key (or a root op, not sent); rank r > 1 an add
** of the chain naming that key, by a member of rank r - 1 (seniority:
** docs/membership.md rule 5). */
static char *rank_problem(const SnapMsg *m, const BecSnapMember *mb,
                          const SnapRank *aRank, const BecBuf *pRootKeys){
  const BecOp *o = chain_find(m, mb->aRankOp);
  char zKey[2*BEC_PUBKEY_BYTES+1];
  bec_hex_encode(mb->aKey, BEC_PUBKEY_BYTES, zKey);
  if( mb->rank==1 ){
    /* the group's create, or a grant of the threshold root (rank 1 too,
    ** docs/root.md) by a root key of the root section */
    if( is_root_grant(o, pRootKeys, mb->aKey) ) return 0;
    if( o && o->kind==BEC_KIND_CREATE
     && memcmp(o->aId, m->aGroup, BEC_HASH_BYTES)==0
     && memcmp(o->aAuthor, mb->aKey, BEC_PUBKEY_BYTES)==0 ) return 0;
  }else if( o && o->kind==BEC_KIND_ADD
         && memcmp(o->aTarget, mb->aKey, BEC_PUBKEY_BYTES)==0
         && member_rank(aRank, m->nMember, o->aAuthor)+1==mb->rank ){
    return 0;
  }
  return sqlite3_mprintf("rank not in the auth chain: %s", zKey);
}

/* The keys holding an admin grant that reaches the create through the
** chain's admin adds, or a root grant of admin by a key of pRootKeys
** (removals ignored: a potential grant), into *pKeys. */
static int chain_admins(const SnapMsg *m, const BecBuf *pRootKeys,
                        BecBuf *pKeys){
  int rc = SQLITE_OK, i, bMore = 1;
  for(i=0; i<m->nChain; i++){
    const BecOp *o = &m->aChain[i];
    if( o->kind==BEC_KIND_CREATE
     && memcmp(o->aId, m->aGroup, BEC_HASH_BYTES)==0 ){
      bec_buf_append(pKeys, o->aAuthor, BEC_PUBKEY_BYTES, &rc);
    }
    if( o->kind==BEC_KIND_ROOT && o->role==BEC_ROLE_ADMIN
     && has_key(pRootKeys, o->aAuthor) ){
      bec_buf_append(pKeys, o->aTarget, BEC_PUBKEY_BYTES, &rc);
    }
  }
  while( rc==SQLITE_OK && bMore ){
    bMore = 0;
    for(i=0; rc==SQLITE_OK && i<m->nChain; i++){
      const BecOp *o = &m->aChain[i];
      i64 j;
      int bAuthor = 0, bTarget = 0;
      if( o->kind!=BEC_KIND_ADD || o->role!=BEC_ROLE_ADMIN ) continue;
      for(j=0; j<pKeys->n; j+=BEC_PUBKEY_BYTES){
        if( memcmp(pKeys->a+j, o->aAuthor, BEC_PUBKEY_BYTES)==0 ) bAuthor = 1;
        if( memcmp(pKeys->a+j, o->aTarget, BEC_PUBKEY_BYTES)==0 ) bTarget = 1;
      }
      if( bAuthor && !bTarget ){
        bec_buf_append(pKeys, o->aTarget, BEC_PUBKEY_BYTES, &rc);
        bMore = 1;
      }
    }
  }
  return rc;
}

static int has_key(const BecBuf *pKeys, const u8 *aKey){
  i64 j;
  for(j=0; j<pKeys->n; j+=BEC_PUBKEY_BYTES){
    if( memcmp(pKeys->a+j, aKey, BEC_PUBKEY_BYTES)==0 ) return 1;
  }
  return 0;
}

/* The group keys of the threshold root's key generations in the root
** section (R covers them: the keys that were the group's root in the
** cut), into *pKeys. */
static int root_keys(const SnapMsg *m, BecBuf *pKeys){
  BecReader rd;
  u64 i;
  int rc = SQLITE_OK;
  rd.a = m->aSec[BEC_CK_SEC_ROOT];
  rd.n = m->nSecBytes[BEC_CK_SEC_ROOT];
  rd.i = 0;
  for(i=0; rc==SQLITE_OK && i<m->nSec[BEC_CK_SEC_ROOT]; i++){
    u64 n = 0;
    const u8 *a = 0;
    BecSnapRoot r;
    /* snap_decode parsed every leaf once: the reads hold */
    rc = read_framed(&rd, &a, &n);
    if( rc==SQLITE_OK ) rc = parse_root(a, n, &r);
    if( rc==SQLITE_OK && r.aGroupKey ){
      bec_buf_append(pKeys, r.aGroupKey, BEC_PUBKEY_BYTES, &rc);
    }
  }
  return rc;
}

/* A root grant of the chain naming aKey, signed by a root key. */
static int is_root_grant(const BecOp *o, const BecBuf *pRootKeys,
                         const u8 *aKey){
  return o && o->kind==BEC_KIND_ROOT && o->role!=0
      && memcmp(o->aTarget, aKey, BEC_PUBKEY_BYTES)==0
      && has_key(pRootKeys, o->aAuthor);
}

/* Why the live grant aId of key aKey is not a chain grant, or 0. */
static char *grant_problem(const SnapMsg *m, const BecBuf *pAdmins,
                           const BecBuf *pRootKeys, const u8 *aKey,
                           const u8 *aId, int *pbAdmin){
  const BecOp *o = chain_find(m, aId);
  char zId[2*BEC_HASH_BYTES+1];
  bec_hex_encode(aId, BEC_HASH_BYTES, zId);
  if( o && o->kind==BEC_KIND_CREATE
   && memcmp(o->aAuthor, aKey, BEC_PUBKEY_BYTES)==0
   && memcmp(o->aId, m->aGroup, BEC_HASH_BYTES)==0 ){
    *pbAdmin = 1;
    return 0;
  }
  if( o && o->kind==BEC_KIND_ADD
   && memcmp(o->aTarget, aKey, BEC_PUBKEY_BYTES)==0 ){
    if( !has_key(pAdmins, o->aAuthor) ){
      return sqlite3_mprintf("grant not in the auth chain: the author of "
          "grant %s holds no admin grant reaching the group's create", zId);
    }
    if( o->role==BEC_ROLE_ADMIN ) *pbAdmin = 1;
    return 0;
  }
  if( o && o->kind==BEC_KIND_ROOT
   && memcmp(o->aTarget, aKey, BEC_PUBKEY_BYTES)==0 ){
    if( !is_root_grant(o, pRootKeys, aKey) ){
      return sqlite3_mprintf("grant not in the auth chain: the author of "
          "grant %s is no root key of the cut", zId);
    }
    if( o->role==BEC_ROLE_ADMIN ) *pbAdmin = 1;
    return 0;
  }
  return sqlite3_mprintf("grant not in the auth chain: %s", zId);
}

/* A proven op as verify_proofs records it: id || depth (8, big-endian)
** || validity (1) || leaf index (8, big-endian). */
#define PROVEN_BYTES (BEC_HASH_BYTES+17)

/* The proven record of op aId in pProven, or 0. */
static const u8 *proven_find(const BecBuf *pProven, const u8 *aId){
  i64 j;
  for(j=0; j+PROVEN_BYTES<=pProven->n; j+=PROVEN_BYTES){
    if( memcmp(pProven->a + j, aId, BEC_HASH_BYTES)==0 ) return pProven->a + j;
  }
  return 0;
}
static i64 proven_depth(const u8 *a){
  i64 d = 0;
  int i;
  for(i=0; i<8; i++) d = (d<<8) | a[BEC_HASH_BYTES+i];
  return d;
}
static u64 proven_index(const u8 *a){
  u64 d = 0;
  int i;
  for(i=0; i<8; i++) d = (d<<8) | a[BEC_HASH_BYTES+9+i];
  return d;
}

/* Every proof of the nProof at a[0..n-1] leads from its op's leaf (id,
** depth, validity) to ops_root: *pzWhy names the first that does not.
** Each is recorded in pProven (PROVEN_BYTES each). */
static int verify_proofs(const SnapMsg *m, const u8 *a, i64 n, u64 nProof,
                         BecBuf *pProven, char **pzWhy){
  BecReader rd;
  BecBuf leaf;
  u64 i;
  int rc = SQLITE_OK;
  memset(&leaf, 0, sizeof(leaf));
  rd.a = a; rd.n = n; rd.i = 0;
  for(i=0; rc==SQLITE_OK && *pzWhy==0 && i<nProof; i++){
    u64 iLeaf = 0, iDepth = 0, nPath = 0;
    u8 bValid = 0, aHash[BEC_HASH_BYTES], aD[8], aI[8];
    const u8 *aPath = 0, *aId = 0;
    char zId[2*BEC_HASH_BYTES+1];
    int b;
    /* snap_decode read these bytes once: the reads hold */
    if( read_proof(&rd, m->nOp, &aId, &iLeaf, &iDepth, &bValid, &nPath,
                   &aPath) ){
      break;
    }
    leaf.n = 0;
    bec_buf_append_u8(&leaf, 0x00, &rc);
    bec_buf_append(&leaf, aId, BEC_HASH_BYTES, &rc);
    bec_buf_append_varint(&leaf, iDepth, &rc);
    bec_buf_append_u8(&leaf, bValid, &rc);
    for(b=0; b<8; b++) aD[b] = (u8)(iDepth >> (56-8*b));
    for(b=0; b<8; b++) aI[b] = (u8)(iLeaf >> (56-8*b));
    bec_buf_append(pProven, aId, BEC_HASH_BYTES, &rc);
    bec_buf_append(pProven, aD, 8, &rc);
    bec_buf_append_u8(pProven, bValid, &rc);
    bec_buf_append(pProven, aI, 8, &rc);
    if( rc ) break;
    bec_crypto_hash(leaf.a, leaf.n, aHash);
    if( !bec_ckpt_merkle_verify(aHash, (i64)iLeaf, (i64)m->nOp, aPath,
                                (int)nPath, m->aOpsRoot) ){
      bec_hex_encode(aId, BEC_HASH_BYTES, zId);
      *pzWhy = sqlite3_mprintf("an op's leaf is not in the ops root: %s", zId);
      if( *pzWhy==0 ) rc = SQLITE_NOMEM;
    }
  }
  if( rc==SQLITE_OK && *pzWhy==0 && (i<nProof || rd.i!=rd.n) ){
    /* snap_decode read these bytes already: not reached */
    *pzWhy = sqlite3_mprintf("the snapshot is malformed: a proof");
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  bec_buf_free(&leaf);
  return rc;
}

/* Check 2b: every proof leads from its op's leaf (id, depth, validity) to
** ops_root, and every head of the cut (K's predecessors) has one. */
static int check_proofs(const SnapMsg *m, char **pzWhy){
  BecBuf proven;
  int rc, h;
  memset(&proven, 0, sizeof(proven));
  rc = verify_proofs(m, m->aProofs, m->nProofsBytes, m->nProof, &proven, pzWhy);
  for(h=0; rc==SQLITE_OK && *pzWhy==0 && h<m->k.nPred; h++){
    const u8 *aId = m->k.aPred + (i64)h*BEC_HASH_BYTES;
    if( proven_find(&proven, aId)==0 ){
      char zId[2*BEC_HASH_BYTES+1];
      bec_hex_encode(aId, BEC_HASH_BYTES, zId);
      *pzWhy = sqlite3_mprintf("a head of the cut is not proven in the ops "
                               "root: %s", zId);
      if( *pzWhy==0 ) rc = SQLITE_NOMEM;
    }
  }
  bec_buf_free(&proven);
  return rc;
}

/* The index of the band op with id aId, or -1. */
static int band_find(const SnapMsg *m, const u8 *aId){
  int i;
  for(i=0; i<m->nBand; i++){
    if( memcmp(m->aBand[i].aId, aId, BEC_HASH_BYTES)==0 ) return i;
  }
  return -1;
}

/* *pzWhy for band check zWhat about op aId. */
static int band_why(char **pzWhy, const char *zWhat, const u8 *aId){
  char zId[2*BEC_HASH_BYTES+1];
  bec_hex_encode(aId, BEC_HASH_BYTES, zId);
  *pzWhy = sqlite3_mprintf("the band is refused: %s: %s", zWhat, zId);
  return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
}

/* Check 7, the band (docs/compaction.md "The band"): each header's id is
** its hash (decoded so); no op twice, K not in it; a band op's band
** predecessors come before it (a topological order); every band op is
** reachable from K through band ops (so it is in the cut: a header that
** was altered names no op K reaches); every band op and every boundary
** op (a predecessor of K or of a band op outside the band) is proven in
** the ops root, and a band op's proven depth is one more than the
** deepest of its predecessors'; and the band ops' leaves are the last
** n_band of the ops section.  The section is in (depth, id) order (R,
** which k attesters vouch for, covers it), and an op deeper than a band op
** follows it there: so no op outside the band has a band op in its past
** (the band is closed upward), which the joiner could not check from the
** headers alone (what lies outside the band it holds without them). */
/* 1 if aId is a predecessor of K or of a band op (and so, not being a band
** op, a boundary op). */
static int band_named(const SnapMsg *m, const u8 *aId){
  int i, j;
  for(j=0; j<m->k.nPred; j++){
    if( memcmp(m->k.aPred + (i64)j*BEC_HASH_BYTES, aId, BEC_HASH_BYTES)==0 ){
      return 1;
    }
  }
  for(i=0; i<m->nBand; i++){
    const BecOp *o = &m->aBand[i];
    for(j=0; j<o->nPred; j++){
      if( memcmp(o->aPred + (i64)j*BEC_HASH_BYTES, aId, BEC_HASH_BYTES)==0 ){
        return 1;
      }
    }
  }
  return 0;
}

static int check_band(const SnapMsg *m, char **pzWhy){
  BecBuf proven;
  u8 *aReach = 0;
  i64 x;
  int rc, i, j;
  if( m->nBand==0 && m->nBandProof==0 ) return SQLITE_OK;
  if( m->nBand==0 ){
    /* the install takes these proofs' ops as the boundary's: none without
    ** a band */
    *pzWhy = sqlite3_mprintf("the band is refused: proofs without a band");
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  memset(&proven, 0, sizeof(proven));
  rc = verify_proofs(m, m->aBandProofs, m->nBandProofsBytes, m->nBandProof,
                     &proven, pzWhy);
  if( rc==SQLITE_OK && *pzWhy==0 ){
    aReach = sqlite3_malloc64((u64)m->nBand);
    if( aReach==0 ) rc = SQLITE_NOMEM;
    else memset(aReach, 0, (size_t)m->nBand);
  }
  for(i=0; rc==SQLITE_OK && *pzWhy==0 && i<m->nBand; i++){
    const BecOp *o = &m->aBand[i];
    if( memcmp(o->aId, m->k.aId, BEC_HASH_BYTES)==0 ){
      rc = band_why(pzWhy, "K is in it", o->aId);
    }else if( band_find(m, o->aId)!=i ){
      rc = band_why(pzWhy, "an op is sent twice", o->aId);
    }
    for(j=0; rc==SQLITE_OK && *pzWhy==0 && j<o->nPred; j++){
      int b = band_find(m, o->aPred + (i64)j*BEC_HASH_BYTES);
      if( b>=i ) rc = band_why(pzWhy, "not in a topological order", o->aId);
    }
  }
  /* reachable from K through the band: K's band predecessors, then down */
  for(j=0; rc==SQLITE_OK && *pzWhy==0 && j<m->k.nPred; j++){
    int b = band_find(m, m->k.aPred + (i64)j*BEC_HASH_BYTES);
    if( b>=0 ) aReach[b] = 1;
  }
  for(i=m->nBand-1; rc==SQLITE_OK && *pzWhy==0 && i>=0; i--){
    const BecOp *o = &m->aBand[i];
    if( !aReach[i] ){
      rc = band_why(pzWhy, "an op is not reachable from K through the band",
                    o->aId);
      break;
    }
    for(j=0; j<o->nPred; j++){
      int b = band_find(m, o->aPred + (i64)j*BEC_HASH_BYTES);
      if( b>=0 ) aReach[b] = 1;
    }
  }
  /* proven, and the depths agree */
  for(i=0; rc==SQLITE_OK && *pzWhy==0 && i<m->nBand; i++){
    const BecOp *o = &m->aBand[i];
    const u8 *pr = proven_find(&proven, o->aId);
    i64 dMax = -1;
    if( pr==0 ){
      rc = band_why(pzWhy, "an op is not proven in the ops root", o->aId);
      break;
    }
    if( (u64)m->nBand>m->nOp || proven_index(pr)<m->nOp-(u64)m->nBand ){
      /* the band ops are distinct, each at one leaf: n_band leaves among
      ** the last n_band are all of them */
      rc = band_why(pzWhy, "not a suffix of the ops section (the cut's ops "
                    "from the lowest band op on, by depth and id)", o->aId);
      break;
    }
    for(j=0; rc==SQLITE_OK && *pzWhy==0 && j<o->nPred; j++){
      const u8 *aP = o->aPred + (i64)j*BEC_HASH_BYTES;
      const u8 *pp = proven_find(&proven, aP);
      if( pp==0 ){
        rc = band_why(pzWhy, "a boundary op is not proven in the ops root", aP);
      }else if( proven_depth(pp)>dMax ){
        dMax = proven_depth(pp);
      }
    }
    if( rc==SQLITE_OK && *pzWhy==0 && proven_depth(pr)!=dMax+1 ){
      rc = band_why(pzWhy, "an op's depth is not its predecessors'", o->aId);
    }
  }
  for(j=0; rc==SQLITE_OK && *pzWhy==0 && j<m->k.nPred; j++){
    const u8 *aP = m->k.aPred + (i64)j*BEC_HASH_BYTES;
    if( proven_find(&proven, aP)==0 ){
      rc = band_why(pzWhy, "a boundary op is not proven in the ops root", aP);
    }
  }
  /* the proofs are of the band and its boundary only (the install takes
  ** each as the op's depth and validity) */
  for(x=0; rc==SQLITE_OK && *pzWhy==0 && x+PROVEN_BYTES<=proven.n;
      x+=PROVEN_BYTES){
    const u8 *aP = proven.a + x;
    if( band_find(m, aP)<0 && !band_named(m, aP) ){
      rc = band_why(pzWhy, "a proof of an op neither in the band nor on its "
                    "boundary", aP);
    }
  }
  sqlite3_free(aReach);
  bec_buf_free(&proven);
  return rc;
}

/* The checks (header comment); *pzWhy is the first that fails. */
static int snap_check(const SnapMsg *m, char **pzWhy){
  const u8 *aRef = 0, *aKR = 0, *aAttested = 0;
  u8 aR[BEC_HASH_BYTES], aRoots[BEC_CK_NROOT*BEC_HASH_BYTES];
  BecBuf admins, counted, rootKeys;
  BecReader rd;
  SnapRank *aRank = 0;
  int rc = SQLITE_OK, i, bCreate = 0;
  u64 x;
  memset(&admins, 0, sizeof(admins));
  memset(&counted, 0, sizeof(counted));
  memset(&rootKeys, 0, sizeof(rootKeys));
  /* 1. Kinds. */
  if( m->k.kind!=BEC_KIND_CHECKPOINT || bec_ckpt_claim(&m->k, &aRef, &aKR) ){
    *pzWhy = sqlite3_mprintf("the snapshot's checkpoint is not a checkpoint op");
    goto done;
  }
  for(i=0; i<m->nClaim; i++){
    const u8 *aD = 0;
    if( m->aClaim[i].kind!=BEC_KIND_ATTEST
     || bec_ckpt_claim(&m->aClaim[i], &aRef, &aD)
     || memcmp(aRef, m->k.aId, BEC_HASH_BYTES) ){
      *pzWhy = sqlite3_mprintf("a claim of the snapshot is no attestation of "
                               "its checkpoint");
      goto done;
    }
  }
  for(i=0; i<m->nChain; i++){
    int kd = m->aChain[i].kind;
    if( !snap_chain_kind(kd) ){
      *pzWhy = sqlite3_mprintf("an op of the auth chain is of kind %d", kd);
      goto done;
    }
    if( kd==BEC_KIND_CREATE ) bCreate = 1;
  }
  if( !bCreate || chain_find(m, m->aGroup)==0 ){
    *pzWhy = sqlite3_mprintf("grant not in the auth chain: the group's create "
                             "is missing");
    goto done;
  }
  /* 2. The digest. */
  memcpy(aRoots, m->aOpsRoot, BEC_HASH_BYTES);
  memcpy(aRoots + BEC_HASH_BYTES, m->aMembersRoot, BEC_HASH_BYTES);
  memcpy(aRoots + 2*BEC_HASH_BYTES, m->aTablesRoot, BEC_HASH_BYTES);
  memcpy(aRoots + 3*BEC_HASH_BYTES, m->aSecRoot, sizeof(m->aSecRoot));
  bec_ckpt_digest(m->aGroup, m->k.aPred, m->k.nPred, (i64)m->nOp,
                  (i64)m->kNeed, aRoots, aR, &rc);
  if( rc ) goto done;
  aAttested = aKR;
  for(i=0; i<m->nClaim; i++){
    const u8 *aD = 0;
    (void)bec_ckpt_claim(&m->aClaim[i], &aRef, &aD);
    if( i==0 ) aAttested = aD;
    if( memcmp(aD, aAttested, BEC_HASH_BYTES) ) aAttested = 0;
  }
  if( aAttested==0 || memcmp(aAttested, aR, BEC_HASH_BYTES) ){
    *pzWhy = sqlite3_mprintf("digest does not match: the state sent does not "
                             "digest to the attested R");
    goto done;
  }
  /* 2b. The proofs: each op's leaf is in the ops root R covers. */
  if( m->aProofs ){
    rc = check_proofs(m, pzWhy);
    if( rc || *pzWhy ) goto done;
  }
  /* 2c. The band: headers of the cut, closed under K, proven. */
  rc = check_band(m, pzWhy);
  if( rc || *pzWhy ) goto done;
  /* 5 (before 3: an attester's admin grant must be a chain grant). */
  rc = root_keys(m, &rootKeys);
  if( rc==SQLITE_OK ) rc = chain_admins(m, &rootKeys, &admins);
  /* The members' ranks by key, for check 6. */
  rd.a = m->aMembers; rd.n = m->nMembersBytes; rd.i = 0;
  if( rc==SQLITE_OK && m->nMember ){
    aRank = sqlite3_malloc64(sizeof(SnapRank)*m->nMember);
    if( aRank==0 ) rc = SQLITE_NOMEM;
  }
  for(x=0; rc==SQLITE_OK && x<m->nMember; x++){
    BecSnapMember mb;
    rc = read_member(&rd, &mb);
    if( rc==SQLITE_OK ){
      aRank[x].aKey = mb.aKey;
      aRank[x].rank = mb.rank;
    }
  }
  if( rc==SQLITE_OK && m->nMember>1 ){
    qsort(aRank, (size_t)m->nMember, sizeof(SnapRank), cmp_rank);
  }
  rd.a = m->aMembers; rd.n = m->nMembersBytes; rd.i = 0;
  for(x=0; rc==SQLITE_OK && *pzWhy==0 && x<m->nMember; x++){
    BecSnapMember mb;
    u64 g;
    int bAdmin = 0, bClaims = 0;
    rc = read_member(&rd, &mb);
    for(g=0; rc==SQLITE_OK && *pzWhy==0 && g<mb.nLive; g++){
      *pzWhy = grant_problem(m, &admins, &rootKeys, mb.aKey,
                             mb.aLive + g*BEC_HASH_BYTES, &bAdmin);
    }
    /* 6. */
    if( rc==SQLITE_OK && *pzWhy==0 ){
      *pzWhy = rank_problem(m, &mb, aRank, &rootKeys);
    }
    if( rc || *pzWhy ) break;
    /* 3. Is this key a claimant? */
    if( memcmp(m->k.aAuthor, mb.aKey, BEC_PUBKEY_BYTES)==0
     && memcmp(aKR, aR, BEC_HASH_BYTES)==0 ) bClaims = 1;
    for(i=0; i<m->nClaim; i++){
      if( memcmp(m->aClaim[i].aAuthor, mb.aKey, BEC_PUBKEY_BYTES)==0 ) bClaims = 1;
    }
    if( bClaims && mb.role==BEC_ROLE_ADMIN && bAdmin
     && !has_key(&counted, mb.aKey) ){     /* a key listed twice counts once */
      bec_buf_append(&counted, mb.aKey, BEC_PUBKEY_BYTES, &rc);
    }
  }
  if( rc==SQLITE_ERROR ){                   /* BEC_MALFORMED from a read */
    *pzWhy = sqlite3_mprintf("a member leaf of the snapshot is malformed");
    rc = SQLITE_OK;
  }
  if( rc || *pzWhy ) goto done;
  /* 3. Every claimant counted: an admin of the cut. */
  for(i=-1; i<m->nClaim; i++){
    const u8 *aAuthor = i<0 ? m->k.aAuthor : m->aClaim[i].aAuthor;
    if( i<0 && memcmp(aKR, aR, BEC_HASH_BYTES) ) continue;
    if( !has_key(&counted, aAuthor) ){
      char zKey[2*BEC_PUBKEY_BYTES+1];
      bec_hex_encode(aAuthor, BEC_PUBKEY_BYTES, zKey);
      *pzWhy = sqlite3_mprintf("attester is not an admin of the cut: %s", zKey);
      goto done;
    }
  }
  /* 4. k of them. */
  if( (u64)(counted.n/BEC_PUBKEY_BYTES) < m->kNeed ){
    *pzWhy = sqlite3_mprintf("fewer than k attestations: %d distinct admins "
        "attest the digest, k is %d", (int)(counted.n/BEC_PUBKEY_BYTES),
        (int)m->kNeed);
  }
done:
  bec_buf_free(&admins);
  bec_buf_free(&counted);
  bec_buf_free(&rootKeys);
  sqlite3_free(aRank);
  return rc;
}

/**************************************************************************
** The join through sync (bec_sync.c carries the bytes).
*/
/* A pruned replica gives one too: it keeps every header, the chain ops,
** the claims and the merge base, all that snapshot_build reads (a cut
** below K is replayed from the base, bec_ckpt_state).  A joiner that
** cannot install it replays the history; the cut bodies this replica
** dropped are then named in its pruned list, and the joiner completes from
** a replica that holds them (docs/compaction.md "The snapshot join").  A
** replica that installed a snapshot holds no cut headers to build one:
** *pzWhy says so, and bec_sync.c gives the one it installed. */
int bec_snapshot_give(BecCtx *p, BecBuf *pOut, char **pzWhy, char **pzErr){
  int iStandin = 0;
  int rc = bec_dag_cut_top(p, &iStandin);
  if( rc==SQLITE_OK && iStandin ){
    *pzWhy = sqlite3_mprintf("this replica installed a snapshot: it gives "
                             "the one it installed");
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ) rc = snapshot_build(p, pOut, 1, pzWhy, pzErr);
  if( rc==SQLITE_ERROR || rc==SQLITE_NOTFOUND ){
    /* A state this replica cannot give a snapshot of (a cut it cannot
    ** replay): not a failure of the session, which goes on as a full sync. */
    *pzWhy = *pzErr;
    *pzErr = 0;
    rc = SQLITE_OK;
  }
  if( rc==SQLITE_OK && *pzWhy==0 ){
    /* Checked here first: a snapshot the joiner would refuse (a replay that
    ** differs from the attested state) would refuse it every time. */
    u8 aCp[BEC_HASH_BYTES];
    rc = bec_snapshot_check(p, pOut->a, pOut->n, aCp, pzWhy, pzErr);
  }
  return rc;
}

/**************************************************************************
** A LONGER BAND (docs/compaction.md "A longer band").  A joiner that meets
** an op concurrent with K that its band does not place asks a peer for the
** band of K that places it: the same band section a snapshot ends with,
** built by the same functions (bec_snapshot_band with the op's
** predecessors, put_band), so the joiner checks it with every check of
** the snapshot (bec_install_extend puts it in place of its own band).
*/
int bec_snapshot_band_give(BecCtx *p, const u8 *aK, const u8 *aPreds, int nPred,
                           u64 nHeld, BecBuf *pOut, char **pzWhy,
                           char **pzErr){
  BecCkState st;
  BecBuf extra, sec;
  BecReader rd;
  u64 nBand = 0;
  i64 iTop = 0;
  int rc, iK = 0, i, iKind = 0;
  *pzWhy = 0;
  memset(&st, 0, sizeof(st));
  memset(&extra, 0, sizeof(extra));
  memset(&sec, 0, sizeof(sec));
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_config_get_int(p, "cut_top", 0, &iTop);
  if( rc==SQLITE_OK && iTop>0 ){
    /* no cut headers here: bec_install_give's bytes carry its own band */
    *pzWhy = sqlite3_mprintf("this replica installed a snapshot: it holds no "
                             "headers of the cut beyond its band");
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ) rc = bec_dag_seq_of(p, aK, &iK);
  if( rc==SQLITE_OK && iK ) rc = bec_dag_node_of(p, iK, &iKind, 0);
  if( rc==SQLITE_OK && iKind!=BEC_KIND_CHECKPOINT ){
    *pzWhy = sqlite3_mprintf("the checkpoint is not held here");
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<nPred; i++){
    int iSeq = 0;
    rc = bec_dag_seq_of(p, aPreds + (i64)i*BEC_HASH_BYTES, &iSeq);
    if( rc==SQLITE_OK && iSeq ) bec_buf_append(&extra, &iSeq, sizeof(int), &rc);
  }
  if( rc==SQLITE_OK ) rc = bec_ckpt_state(p, iK, &st, pzErr);
  if( rc==SQLITE_OK ){
    put_band(p, iK, &st, (const int*)extra.a, (int)(extra.n/sizeof(int)),
             &sec, &rc);
  }
  if( rc==SQLITE_OK ){
    rd.a = sec.a; rd.n = sec.n; rd.i = 0;
    if( bec_read_varint(&rd, &nBand, (u64)sec.n) ) rc = SQLITE_CORRUPT;
  }
  if( rc==SQLITE_OK && nBand<=nHeld ){
    *pzWhy = sqlite3_mprintf("no longer band: the band of the checkpoint "
        "here has %llu ops, the asker holds %llu", (unsigned long long)nBand,
        (unsigned long long)nHeld);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }else if( rc==SQLITE_OK && sec.n>BEC_BAND_MAX_BYTES ){
    *pzWhy = sqlite3_mprintf("the band would be %llu ops (%lld bytes, at most "
        "%d): the history is cheaper", (unsigned long long)nBand,
        (long long)sec.n, BEC_BAND_MAX_BYTES);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }else if( rc==SQLITE_OK && band_too_deep(nBand, st.nOpLeaf) ){
    *pzWhy = sqlite3_mprintf("the band would be %llu of the cut's %lld ops: "
        "the history is cheaper", (unsigned long long)nBand,
        (long long)st.nOpLeaf);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }else if( rc==SQLITE_OK ){
    bec_buf_append(pOut, sec.a, sec.n, &rc);
  }
  if( rc==SQLITE_ERROR || rc==SQLITE_NOTFOUND ){
    /* a state this replica cannot give (a cut it cannot replay): no band,
    ** not a failure of the session */
    *pzWhy = *pzErr;
    *pzErr = 0;
    rc = *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  bec_ckpt_state_free(&st);
  bec_buf_free(&extra);
  bec_buf_free(&sec);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot build the band: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

int bec_snapshot_band_at(BecCtx *p, const u8 *a, i64 n, i64 *piOff,
                         i64 *piEnd, u64 *pnBand, char **pzWhy, char **pzErr){
  SnapMsg m;
  u8 aGroup[BEC_HASH_BYTES];
  int rc;
  *pzWhy = 0;
  *piOff = 0;
  *piEnd = 0;
  *pnBand = 0;
  rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc ) return rc;
  rc = snap_decode(a, n, aGroup, &m, pzWhy);
  if( rc==SQLITE_OK && a[0]!=SNAP_VERSION ){
    *pzWhy = sqlite3_mprintf("a snapshot of version %d has no band", a[0]);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ){
    *piOff = m.iBandOff;
    *piEnd = m.iBandEnd;
    *pnBand = (u64)m.nBand;
  }else if( rc!=SQLITE_NOMEM ){
    char *z = sqlite3_mprintf("the snapshot is malformed: %s",
                              *pzWhy ? *pzWhy : "it does not decode");
    sqlite3_free(*pzWhy);
    *pzWhy = z;
    rc = z ? SQLITE_OK : SQLITE_NOMEM;
  }
  snap_free(&m);
  return rc;
}

/* Decodes and checks a[0..n-1] into *pM (the caller frees it with
** snap_free); *pzWhy the first check that fails, with SQLITE_OK. */
static int snap_decode_check(BecCtx *p, const u8 *a, i64 n, SnapMsg *pM,
                             char **pzWhy, char **pzErr){
  u8 aGroup[BEC_HASH_BYTES];
  int rc;
  memset(pM, 0, sizeof(*pM));
  *pzWhy = 0;
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK ){
    rc = snap_decode(a, n, aGroup, pM, pzWhy);
    if( rc==SQLITE_ERROR ){                 /* BEC_MALFORMED */
      char *z = *pzWhy
          ? sqlite3_mprintf("the snapshot is malformed: %s", *pzWhy)
          : sqlite3_mprintf("the snapshot is malformed");
      sqlite3_free(*pzWhy);
      *pzWhy = z;
      rc = z ? SQLITE_OK : SQLITE_NOMEM;
    }
  }
  if( rc==SQLITE_OK && *pzWhy==0 ) rc = snap_check(pM, pzWhy);
  return rc;
}

int bec_snapshot_check(BecCtx *p, const u8 *a, i64 n, u8 *aCp, char **pzWhy,
                       char **pzErr){
  SnapMsg m;
  int rc = snap_decode_check(p, a, n, &m, pzWhy, pzErr);
  if( rc==SQLITE_OK && *pzWhy==0 ) memcpy(aCp, m.k.aId, BEC_HASH_BYTES);
  snap_free(&m);
  return rc;
}

/* One section's nLeaf framed leaves at aBytes into *paOut, an array of
** nLeaf structs of sz bytes each (parsed by parse_sec_leaf, or
** parse_member for iSec -1). */
static int state_sec(int iSec, const u8 *aBytes, i64 nBytes, u64 nLeaf,
                     size_t sz, void **paOut){
  BecReader rd;
  u64 i;
  int rc = SQLITE_OK;
  *paOut = 0;
  if( nLeaf==0 ) return SQLITE_OK;
  *paOut = sqlite3_malloc64(sz*nLeaf);
  if( *paOut==0 ) return SQLITE_NOMEM;
  memset(*paOut, 0, sz*(size_t)nLeaf);
  rd.a = aBytes; rd.n = nBytes; rd.i = 0;
  for(i=0; rc==SQLITE_OK && i<nLeaf; i++){
    u64 nL = 0;
    const u8 *aL = 0;
    void *pOne = (u8*)*paOut + sz*(size_t)i;
    /* snap_decode parsed every leaf once: the reads hold */
    rc = read_framed(&rd, &aL, &nL);
    if( rc==SQLITE_OK ){
      rc = iSec<0 ? parse_member(aL, nL, (BecSnapMember*)pOne)
                  : parse_sec_leaf(iSec, aL, nL, pOne);
    }
  }
  return rc ? SQLITE_CORRUPT : SQLITE_OK;
}

int bec_snapshot_state(BecCtx *p, const u8 *a, i64 n, BecSnapState *pOut,
                       char **pzWhy, char **pzErr){
  SnapMsg m;
  const u8 *aRef = 0, *aR = 0;
  int rc = snap_decode_check(p, a, n, &m, pzWhy, pzErr);
  void *v = 0;
  memset(pOut, 0, sizeof(*pOut));
  if( rc || *pzWhy ){
    snap_free(&m);
    return rc;
  }
  memcpy(pOut->aCheckpoint, m.k.aId, BEC_HASH_BYTES);
  (void)bec_ckpt_claim(&m.k, &aRef, &aR);    /* snap_check: a checkpoint */
  if( m.nClaim ) (void)bec_ckpt_claim(&m.aClaim[0], &aRef, &aR);
  if( aR ) memcpy(pOut->aDigest, aR, BEC_HASH_BYTES);   /* = R: check 2 */
  pOut->nOp = m.nOp;
  pOut->k = m.kNeed;
#define STATE_SEC(I, N, A, T) \
  if( rc==SQLITE_OK ){ \
    rc = state_sec(I, m.aSec[I], m.nSecBytes[I], m.nSec[I], \
                   sizeof(T), &v); \
    pOut->A = (T*)v; pOut->N = (int)m.nSec[I]; \
  }
  if( rc==SQLITE_OK ){
    rc = state_sec(-1, m.aMembers, m.nMembersBytes, m.nMember,
                   sizeof(BecSnapMember), &v);
    pOut->aMember = (BecSnapMember*)v;
    pOut->nMember = (int)m.nMember;
  }
  STATE_SEC(BEC_CK_SEC_ROOT, nRoot, aRoot, BecSnapRoot)
  STATE_SEC(BEC_CK_SEC_EPOCHS, nEpoch, aEpoch, BecSnapEpoch)
  STATE_SEC(BEC_CK_SEC_NAMES, nName, aName, BecSnapName)
  STATE_SEC(BEC_CK_SEC_CKPTS, nCkpt, aCkpt, BecSnapCkpt)
#undef STATE_SEC
  memcpy(pOut->aSecLeaves, m.aSec, sizeof(m.aSec));
  memcpy(pOut->nSecBytes, m.nSecBytes, sizeof(m.nSecBytes));
  memcpy(pOut->nSecLeaf, m.nSec, sizeof(m.nSec));
  if( rc ) bec_snapshot_state_free(pOut);
  snap_free(&m);
  return rc;
}

/* nRow row leaves of a table read from pRd (as sent: framed token
** strings) into pRows, each expanded and framed as the digest has it.
** snap_decode expanded them once, so a failure here is corruption. */
static int rows_expand(BecReader *pRd, u64 nRow, BecBuf *pRows, char **pzErr){
  BecBuf leaf;
  const u8 *aTok = 0;
  u64 r, nTok = 0;
  int rc = SQLITE_OK;
  memset(&leaf, 0, sizeof(leaf));
  for(r=0; rc==SQLITE_OK && r<nRow; r++){
    rc = read_framed(pRd, &aTok, &nTok);
    leaf.n = 0;
    if( rc==SQLITE_OK ) rc = row_expand(aTok, nTok, &leaf, pzErr);
    bec_buf_append_framed(pRows, leaf.a, leaf.n, &rc);
  }
  bec_buf_free(&leaf);
  return rc;
}

int bec_snapshot_tables(BecCtx *p, const u8 *a, i64 n, BecSnapTableFn xTable,
                        void *pArg, char **pzWhy, char **pzErr){
  SnapMsg m;
  BecReader rd;
  BecBuf rows;
  u64 t;
  int rc = snap_decode_check(p, a, n, &m, pzWhy, pzErr);
  memset(&rows, 0, sizeof(rows));
  rd.a = m.aTables; rd.n = m.nTablesBytes; rd.i = 0;
  for(t=0; rc==SQLITE_OK && *pzWhy==0 && t<m.nTable; t++){
    const u8 *aHead = 0;
    u64 nHead = 0, nRow = 0;
    BecReader rows_rd;
    /* snap_decode read and expanded these bytes once: the reads hold */
    rc = read_framed(&rd, &aHead, &nHead);
    if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &nRow, (u64)(rd.n - rd.i));
    rows.n = 0;
    if( rc==SQLITE_OK ) rc = rows_expand(&rd, nRow, &rows, pzErr);
    if( rc==SQLITE_OK ){
      rows_rd.a = rows.a; rows_rd.n = rows.n; rows_rd.i = 0;
      rc = xTable(pArg, aHead, (i64)nHead, nRow, &rows_rd);
    }
  }
  bec_buf_free(&rows);
  snap_free(&m);
  return rc;
}

void bec_snapshot_state_free(BecSnapState *p){
  sqlite3_free(p->aMember);
  sqlite3_free(p->aRoot);
  sqlite3_free(p->aEpoch);
  sqlite3_free(p->aName);
  sqlite3_free(p->aCkpt);
  memset(p, 0, sizeof(*p));
}

/* The nProof proofs at a[0..n-1] as BecSnapProofs (*paOut, caller frees). */
static int parts_proofs(const SnapMsg *m, const u8 *a, i64 n, u64 nProof,
                        BecSnapProof **paOut, int *pnOut){
  BecReader rd;
  u64 i;
  int rc = SQLITE_OK;
  *paOut = 0;
  *pnOut = 0;
  if( nProof==0 ) return SQLITE_OK;
  *paOut = sqlite3_malloc64(sizeof(BecSnapProof)*nProof);
  if( *paOut==0 ) return SQLITE_NOMEM;
  rd.a = a; rd.n = n; rd.i = 0;
  for(i=0; rc==SQLITE_OK && i<nProof; i++){
    BecSnapProof *pP = &(*paOut)[i];
    u64 iLeaf = 0, iDepth = 0, nPath = 0;
    u8 bValid = 0;
    const u8 *aPath = 0;
    /* snap_decode read these bytes once: the reads hold */
    if( read_proof(&rd, m->nOp, &pP->aId, &iLeaf, &iDepth, &bValid, &nPath,
                   &aPath) ){
      rc = SQLITE_CORRUPT;
    }
    pP->iDepth = (i64)iDepth;
    pP->bValid = bValid;
    *pnOut = (int)i+1;
  }
  return rc;
}

/* The ops, proofs and rows of a snapshot that bec_snapshot_state
** checked, for the install (bec_install.c): decoded again, not checked
** again.  The tables' rows are expanded from the message's tokens into
** leaves as the digest has them (bec_crdt_base_from_leaves reads them); a
** table's create op is the id its head ends with. */
int bec_snapshot_parts(BecCtx *p, const u8 *a, i64 n, BecSnapParts *pOut,
                       char **pzErr){
  SnapMsg m;
  BecReader rd;
  u8 aGroup[BEC_HASH_BYTES];
  char *zWhy = 0;
  u64 i;
  int rc;
  memset(pOut, 0, sizeof(*pOut));
  rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc ) return rc;
  rc = snap_decode(a, n, aGroup, &m, &zWhy);
  sqlite3_free(zWhy);
  if( rc ){
    snap_free(&m);
    return rc==SQLITE_NOMEM ? rc : SQLITE_CORRUPT;    /* checked before */
  }
  pOut->k = m.k;
  pOut->aClaim = m.aClaim; pOut->nClaim = m.nClaim; m.aClaim = 0;
  pOut->aChain = m.aChain; pOut->nChain = m.nChain; m.aChain = 0;
  rc = parts_proofs(&m, m.aProofs, m.nProofsBytes, m.nProof, &pOut->aProof,
                    &pOut->nProof);
  if( rc==SQLITE_OK ){
    rc = parts_proofs(&m, m.aBandProofs, m.nBandProofsBytes, m.nBandProof,
                      &pOut->aBandProof, &pOut->nBandProof);
  }
  pOut->aBand = m.aBand; pOut->nBand = m.nBand; m.aBand = 0;
  pOut->aLoser = m.aLoser; pOut->nLoser = m.nLoser; m.aLoser = 0;
  if( rc==SQLITE_OK && m.nTable ){
    pOut->aTable = sqlite3_malloc64(sizeof(BecSnapTable)*m.nTable);
    if( pOut->aTable==0 ) rc = SQLITE_NOMEM;
  }
  rd.a = m.aTables; rd.n = m.nTablesBytes; rd.i = 0;
  for(i=0; rc==SQLITE_OK && i<m.nTable; i++){
    BecSnapTable *pT = &pOut->aTable[i];
    BecReader head;
    BecBuf rows;
    u64 nHead = 0, nName = 0, nRow = 0;
    const u8 *aHead = 0, *x = 0;
    memset(pT, 0, sizeof(*pT));
    pOut->nTable = (int)i+1;
    if( read_framed(&rd, &aHead, &nHead)
     || bec_read_varint(&rd, &nRow, (u64)(rd.n - rd.i)) ){
      rc = SQLITE_CORRUPT;
      break;
    }
    head.a = aHead; head.n = (i64)nHead; head.i = 0;
    if( bec_read_varint(&head, &nName, nHead)
     || bec_read_bytes(&head, (i64)nName, &x)
     || bec_read_bytes(&head, BEC_HASH_BYTES, &pT->aCreate) ){
      rc = SQLITE_CORRUPT;
      break;
    }
    /* The rows as the digest has them (bec_crdt_base_from_leaves). */
    memset(&rows, 0, sizeof(rows));
    rc = rows_expand(&rd, nRow, &rows, pzErr);
    pT->aOwn = rows.a;
    pT->aRows = rows.a;
    pT->nRowsBytes = rows.n;
    pT->nRow = (i64)nRow;
  }
  snap_free(&m);
  if( rc ) bec_snapshot_parts_free(pOut);
  return rc;
}

int bec_snapshot_k(const u8 *a, i64 n, u8 *aK){
  BecReader rd;
  BecOp k;
  const u8 *x = 0;
  char *zErr = 0;
  u64 m = 0;
  int rc;
  rd.a = a; rd.n = n; rd.i = 0;
  rc = bec_read_bytes(&rd, 1+BEC_HASH_BYTES, &x);
  if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &m, (u64)(rd.n - rd.i));
  if( rc==SQLITE_OK ) rc = bec_read_bytes(&rd, (i64)m, &x);
  if( rc==SQLITE_OK && bec_op_decode(x, (i64)m, &k, &zErr) ) rc = BEC_MALFORMED;
  sqlite3_free(zErr);
  if( rc==SQLITE_OK ) memcpy(aK, k.aId, BEC_HASH_BYTES);
  return rc;
}

void bec_snapshot_parts_free(BecSnapParts *p){
  int i;
  for(i=0; i<p->nTable; i++) sqlite3_free(p->aTable[i].aOwn);
  sqlite3_free(p->aClaim);
  sqlite3_free(p->aChain);
  sqlite3_free(p->aProof);
  sqlite3_free(p->aBand);
  sqlite3_free(p->aLoser);
  sqlite3_free(p->aBandProof);
  sqlite3_free(p->aTable);
  memset(p, 0, sizeof(*p));
}

int bec_snapshot_may_join(BecCtx *p, int *pbEmpty){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT NOT EXISTS(SELECT 1 FROM bec_store_op)",
                        &pStmt);
  *pbEmpty = 0;
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *pbEmpty = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

int bec_snapshot_wanted(BecCtx *p, int *pbWant){
  i64 bJoin = 0;
  int rc = bec_config_get_int(p, "join_snapshot", 0, &bJoin);
  *pbWant = 0;
  if( rc==SQLITE_OK && bJoin ) rc = bec_snapshot_may_join(p, pbWant);
  return rc;
}

/**************************************************************************
** SQL functions.
*/
/* bec_snapshot(): the snapshot message of the latest sealed checkpoint. */
static void fnSnapshot(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  BecBuf out;
  char *zErr = 0, *zWhy = 0;
  int rc;
  (void)argc;
  (void)argv;
  memset(&out, 0, sizeof(out));
  rc = snapshot_build(p, &out, 0, &zWhy, &zErr);
  if( rc==SQLITE_OK && zWhy ){
    rc = SQLITE_ERROR;
    zErr = zWhy;
  }
  if( rc ) bec_fn_error_in(ctx, "bec_snapshot", rc, zErr);
  else sqlite3_result_blob64(ctx, out.a, (sqlite3_uint64)out.n, SQLITE_TRANSIENT);
  bec_buf_free(&out);
}

/* bec_snapshot_verify(snapshot): the checkpoint's id, or the first check
** that fails.  Stores nothing.  (Through bec_snapshot_state, so that the
** install's parsed form is built by every verification.) */
static void fnVerify(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aCp[BEC_HASH_BYTES];
  char *zErr = 0, *zWhy = 0;
  int rc = SQLITE_OK;
  (void)argc;
  if( sqlite3_value_type(argv[0])!=SQLITE_BLOB ){
    zWhy = sqlite3_mprintf("a snapshot is a blob");
  }else{
    BecSnapState st;
    rc = bec_snapshot_state(p, sqlite3_value_blob(argv[0]),
                            sqlite3_value_bytes(argv[0]), &st, &zWhy, &zErr);
    memcpy(aCp, st.aCheckpoint, BEC_HASH_BYTES);
    bec_snapshot_state_free(&st);
  }
  if( rc==SQLITE_OK && zWhy ){
    rc = SQLITE_ERROR;
    sqlite3_free(zErr);
    zErr = zWhy;
  }
  if( rc ) bec_fn_error_in(ctx, "bec_snapshot_verify", rc, zErr);
  else bec_fn_result_hex(ctx, aCp, BEC_HASH_BYTES);
}

/* bec_band(checkpoint [, ops]): the band section a joiner that installed
** that checkpoint's snapshot installs with bec_band_install (docs/
** compaction.md "A longer band"): it places every op held here concurrent
** with K and, given ops (a blob of 32-byte ids: the predecessors of the
** op the joiner cannot place), an op naming those.  Fails with why there
** is none (a replica that installed a snapshot, the checkpoint not held
** here, a band larger than BEC_BAND_MAX_BYTES).  Stores nothing. */
static void fnBand(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aK[BEC_HASH_BYTES];
  BecBuf out;
  char *zErr = 0, *zWhy = 0;
  const u8 *aOps = 0;
  int rc = SQLITE_OK, nOps = 0;
  memset(&out, 0, sizeof(out));
  if( !bec_fn_arg32(argv[0], aK) ){
    zWhy = sqlite3_mprintf("a checkpoint is an op id (64 hex characters or "
                           "32 bytes)");
  }else if( argc>1 && sqlite3_value_type(argv[1])!=SQLITE_NULL ){
    nOps = sqlite3_value_bytes(argv[1]);
    aOps = sqlite3_value_blob(argv[1]);
    if( sqlite3_value_type(argv[1])!=SQLITE_BLOB || nOps%BEC_HASH_BYTES
     || nOps/BEC_HASH_BYTES>BEC_MAX_PRED ){
      zWhy = sqlite3_mprintf("ops is a blob of at most %d op ids of 32 "
                             "bytes", BEC_MAX_PRED);
    }
    nOps /= BEC_HASH_BYTES;
  }
  if( zWhy==0 ){
    rc = bec_snapshot_band_give(p, aK, aOps, nOps, 0, &out, &zWhy, &zErr);
  }
  if( rc==SQLITE_OK && zWhy ){
    rc = SQLITE_ERROR;
    sqlite3_free(zErr);
    zErr = zWhy;
  }
  if( rc ) bec_fn_error_in(ctx, "bec_band", rc, zErr);
  else sqlite3_result_blob64(ctx, out.a, (sqlite3_uint64)out.n, SQLITE_TRANSIENT);
  bec_buf_free(&out);
}

int bec_snapshot_register(sqlite3 *db, BecCtx *p){
  static const BecFunc aFunc[] = {
    { "bec_snapshot", 0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnSnapshot },
    { "bec_snapshot_verify", 1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnVerify },
    { "bec_band", 1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnBand },
    { "bec_band", 2, SQLITE_UTF8|SQLITE_DIRECTONLY, fnBand },
  };
  return bec_ctx_register_funcs(db, p, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
}
