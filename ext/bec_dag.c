/*
** bec_dag.c - durable storage of the op DAG, and the one acceptance path
** that every op goes through, whether signed here or received from a peer:
**
**     decode -> group -> hash -> signature -> predecessors -> authorize
**            -> store -> derive (membership, tables) -> unblock pending
**
** Storage (created by bec_dag_ensure_schema, all in the main schema):
**   bec_store_config(key, value)       format version, group id, public key,
**                                      a passphrase-sealed secret key (never
**                                      an unsealed one: bec_keyfile.c), limits
**   bec_store_author(id, pubkey)       small integer ids for public keys
**   bec_store_op(seq, hash, kind, author, depth, target, role, valid,
**                chain, preds, body)   one row per accepted op; seq is the
**                                      arrival order (a topological order),
**                                      preds the predecessors' seqs packed
**                                      as varints, chain the digest that
**                                      keeps bec_graph.c coherent (0 in a
**                                      pruned row: only the last row's is
**                                      read), body the op's encoding or,
**                                      pruned, its stub
**                                      (bec_dag_pruned_header)
**   bec_store_op_id(prefix, seq)      the first 8 bytes of each op's id:
**                                      the lookup by id (BEC_OP_ID_IS)
**   bec_store_head(seq)                ops with no successor
**   bec_store_pending(hash, body, nmissing, received_at, author)
**   bec_store_pending_missing(missing, hash)
**                                      verified ops waiting for predecessors
**   bec_store_rejected(id, hash, reason, received_at)
**                                      a bounded log of rejections
**   bec_store_cut(id, seq, depth, valid)
**                                      the cut of an installed snapshot
**                                      held without headers: stand-in seqs
**                                      (created by an install only; the
**                                      end of this file)
**   bec_store_cut_conc(seq)            ops concurrent with an installed K
**                                      that its band placed (the same)
**
** Nothing is stored before every check has passed: a rejected op leaves
** only its line in bec_store_rejected.
*/
#include "becInt.h"

#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

/* The storage format is the op format (bec_store_config 'format'). */
#define FORMAT_VERSION BEC_FORMAT_VERSION

/* Defaults of the limits in bec_store_config. */
#define DEFAULT_PENDING_MAX_OPS   10000
#define DEFAULT_PENDING_MAX_BYTES (64*1024*1024)
#define DEFAULT_REJECTED_MAX      1000

/* bec_store_op holds each id once: the row has it, bec_store_op_id maps
** its first 8 bytes to the seq (BEC_OP_ID_IS).  The kind and author
** indexes hold no pruned op (BEC_OP_INDEXED): a query that reads them says
** so.  No index calls a function: an app's override of a built-in one
** (substr, length) would make the schema unreadable on its connection, or
** an index wrong in the file. */
#define OP_TABLE(zName) \
  "CREATE TABLE IF NOT EXISTS " zName "(" \
  "  seq INTEGER PRIMARY KEY, hash BLOB NOT NULL," \
  "  kind INTEGER NOT NULL, author INTEGER NOT NULL, depth INTEGER NOT NULL," \
  "  target INTEGER, role INTEGER, valid INTEGER NOT NULL DEFAULT 1," \
  "  chain INTEGER NOT NULL, preds BLOB NOT NULL, body BLOB NOT NULL);"
#define OP_INDEXES \
  "CREATE TABLE IF NOT EXISTS bec_store_op_id(prefix BLOB NOT NULL," \
  "  seq INTEGER NOT NULL, PRIMARY KEY(prefix, seq)) WITHOUT ROWID;" \
  "CREATE INDEX IF NOT EXISTS bec_store_op_author ON bec_store_op(author)" \
  "  WHERE " BEC_OP_INDEXED("bec_store_op") ";" \
  "CREATE INDEX IF NOT EXISTS bec_store_op_kind ON bec_store_op(kind)" \
  "  WHERE " BEC_OP_INDEXED("bec_store_op") ";"

/* The literals of BEC_OP_INDEXED and OP_INDEXES. */
_Static_assert(BEC_KIND_APP==4 && BEC_KIND_WRITE==6, "pruned kinds");
_Static_assert(BEC_ID_PREFIX==8, "id prefix");

static const char zSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_config("
  "  key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_author("
  "  id INTEGER PRIMARY KEY, pubkey BLOB NOT NULL UNIQUE);"
  OP_TABLE("bec_store_op")
  OP_INDEXES
  "CREATE TABLE IF NOT EXISTS bec_store_head(seq INTEGER PRIMARY KEY);"
  "CREATE TABLE IF NOT EXISTS bec_store_pending("
  "  hash BLOB PRIMARY KEY, body BLOB NOT NULL, nmissing INTEGER NOT NULL,"
  "  received_at INTEGER NOT NULL, author BLOB) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_pending_missing("
  "  missing BLOB NOT NULL, hash BLOB NOT NULL,"
  "  PRIMARY KEY(missing, hash)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_rejected("
  "  id INTEGER PRIMARY KEY, hash BLOB, reason TEXT NOT NULL,"
  "  received_at INTEGER NOT NULL);"
  /* The pending area's per-key bound reads author (the signing key) through
  ** an index; evicting or forgetting an op finds its missing links by hash. */
  "CREATE INDEX IF NOT EXISTS bec_store_pending_author"
  "  ON bec_store_pending(author);"
  "CREATE INDEX IF NOT EXISTS bec_store_pending_missing_hash"
  "  ON bec_store_pending_missing(hash);";

/**************************************************************************
** Schema and configuration.
*/
/* The format recorded in db's bec_store_config, 0 if none can be read.
** It runs from sqlite3_bec_init too, where sqlite3_open() would report an
** error left in the connection as its own: so a missing table is looked
** up, not prepared against, and a failure is cleared by a statement that
** cannot fail. */
static i64 stored_format(sqlite3 *db){
  sqlite3_stmt *pStmt = 0;
  i64 iFormat = 0;
  int bTable = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE "
      "type='table' AND name='bec_store_config'", -1, &pStmt, 0);
  if( rc==SQLITE_OK ) bTable = sqlite3_step(pStmt)==SQLITE_ROW;
  if( sqlite3_finalize(pStmt) ) rc = SQLITE_ERROR;
  pStmt = 0;
  if( rc==SQLITE_OK && bTable ){
    rc = sqlite3_prepare_v2(db,
        "SELECT value FROM bec_store_config WHERE key='format'", -1, &pStmt, 0);
    if( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      iFormat = sqlite3_column_int64(pStmt, 0);
    }
    if( sqlite3_finalize(pStmt) ) rc = SQLITE_ERROR;
  }
  if( rc ){
    pStmt = 0;
    if( sqlite3_prepare_v2(db, "SELECT 1", -1, &pStmt, 0)==SQLITE_OK ){
      sqlite3_finalize(pStmt);
    }
  }
  return iFormat;
}

int bec_dag_check_format(sqlite3 *db, char **pzErr){
  i64 iFormat = stored_format(db);
  if( iFormat>FORMAT_VERSION ){
    *pzErr = sqlite3_mprintf("bec: this database was written by a newer bec "
                             "(op format %lld; this build reads format %d "
                             "only)", (long long)iFormat, FORMAT_VERSION);
    return SQLITE_ERROR;
  }
  if( iFormat!=0 && iFormat<FORMAT_VERSION ){
    /* Pre-release: no reading of old ops under new rules, no conversion. */
    *pzErr = sqlite3_mprintf("bec: this database uses op format %lld; this "
        "build reads format %d only (bec is pre-release: re-create the "
        "group)", (long long)iFormat, FORMAT_VERSION);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* Is deriver d told of ops of kind (xAdmit, xStored)? */
static int deriver_wants(const BecDeriver *d, int kind){
  return d->eDerive==BEC_DERIVE_ANY || bec_kind_derives(kind, d->eDerive);
}

void bec_dag_forget(BecCtx *p){
  int i;
  bec_graph_free(p->pGraph);
  p->pGraph = 0;
  p->bKnown = 0;
  p->eCut = 0;
  for(i=0; i<p->nDeriver; i++){
    if( p->apDeriver[i]->xForget ) p->apDeriver[i]->xForget(p);
  }
}

int bec_dag_set_valid(BecCtx *p, BecGraph *g, int iSeq, int bValid){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "UPDATE bec_store_op SET valid=?2 WHERE seq=?1",
                        &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  sqlite3_bind_int(pStmt, 2, bValid);
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK ) g->aNode[iSeq].bValid = bValid!=0;
  return rc;
}

int bec_dag_validity_changed(BecCtx *p, const int *aSeq, int n, char **pzErr){
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<p->nDeriver; i++){
    if( p->apDeriver[i]->xValidity ){
      rc = p->apDeriver[i]->xValidity(p, aSeq, n, pzErr);
    }
  }
  return rc;
}

/* A replica pruned by an older bec kept, for a pruned op, header ||
** signature (no 'pruned_form') or the header alone ('pruned_form' 2): each
** becomes a stub now, once (bec_store_config 'pruned_form' 3), so that
** every pruned row has the one form bec_dag_body_dropped and
** bec_dag_pruned_header know.  bec_check() proves the result: the header
** rebuilt from the stub and the row must hash to the row's id. */
/* Row iSeq's body becomes the stub of an op whose payload pOp's header
** names (bec_op_encode_stub): what pruning keeps of it. */
static int body_to_stub(BecCtx *p, i64 iSeq, const BecOp *pOp){
  sqlite3_stmt *pStmt = 0;
  BecBuf stub;
  int rc = SQLITE_OK;
  memset(&stub, 0, sizeof(stub));
  bec_op_encode_stub(&stub, pOp->nPayload, pOp->aPayloadHash, &rc);
  if( rc==SQLITE_OK ){
    /* (and its chain digest: only the last row's is read, bec_graph_check;
    ** bec_check recomputes the chain and accepts 0 on a stub below it) */
    rc = bec_ctx_stmt(p, "UPDATE bec_store_op SET body=?2, chain=CASE WHEN"
        " seq<(SELECT max(seq) FROM bec_store_op) THEN 0 ELSE chain END"
        " WHERE seq=?1", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, iSeq);
    sqlite3_bind_blob(pStmt, 2, stub.a, (int)stub.n, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  sqlite3_free(stub.a);
  return rc;
}

static int pruned_form_upgrade(BecCtx *p, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  i64 iCp = 0, iForm = 0;
  int rc = bec_config_get_int(p, "prune_checkpoint", 0, &iCp);
  if( rc==SQLITE_OK ) rc = bec_config_get_int(p, "pruned_form", 0, &iForm);
  if( rc || iCp==0 || iForm>=BEC_PRUNED_FORM ) return rc;
  rc = sqlite3_prepare_v2(p->db, "SELECT seq, body FROM bec_store_op", -1,
                          &pStmt, 0);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const u8 *a = sqlite3_column_blob(pStmt, 1);
    i64 n = sqlite3_column_bytes(pStmt, 1);
    BecOp op;
    char *zErr = 0;
    int bOld = 0;
    if( a && bec_op_decode_header(a, n, &op, &zErr)==SQLITE_OK ){
      bOld = op.nPayload>0 && n==op.nHeader + BEC_SIG_BYTES;    /* form 1 */
    }else if( a ){
      sqlite3_free(zErr);
      zErr = 0;
      bOld = bec_op_decode_pruned(a, n, &op, &zErr)==SQLITE_OK
          && op.nPayload>0;                                      /* form 2 */
    }
    sqlite3_free(zErr);
    if( bOld ) rc = body_to_stub(p, sqlite3_column_int64(pStmt, 0), &op);
  }
  sqlite3_finalize(pStmt);
  if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "pruned_form", BEC_PRUNED_FORM);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot convert the pruned rows of an older "
                             "bec: %s", bec_rc_text(p->db, rc));
  }
  return rc;
}

/* An older bec kept each op's id twice (a UNIQUE column: the row and
** sqlite_autoindex_bec_store_op_1) and pruned ops in the kind and author
** indexes.  The table is rebuilt once, rows unchanged (seq, chain: the
** caches stay coherent), in one savepoint; the rename does not touch an
** app's views (legacy_alter_table, restored after).  Tried when the
** connection opens (bec_dag_upgrade_at_open: no statement runs yet), and
** at each call until it could be (the older table lacks bec_store_op_id,
** which every lookup by id reads). */
static int op_table_upgrade(BecCtx *p, char **pzErr){
  static const char zRebuild[] =
    "SAVEPOINT bec_op_upgrade;"
    "DROP TABLE IF EXISTS bec_store_op_new;"
    OP_TABLE("bec_store_op_new")
    "INSERT INTO bec_store_op_new SELECT seq, hash, kind, author, depth,"
    "  target, role, valid, chain, preds, body FROM bec_store_op ORDER BY seq;"
    "DROP TABLE bec_store_op;"
    "ALTER TABLE bec_store_op_new RENAME TO bec_store_op;"
    OP_INDEXES;
  sqlite3_stmt *pStmt = 0;
  sqlite3_stmt *pIns = 0;
  sqlite3_stmt *pUpd = 0;         /* cached by bec_ctx_stmt */
  int rc, bOld = 0, bLegacy = 0;
  rc = sqlite3_prepare_v2(p->db, "SELECT 1 FROM sqlite_schema WHERE "
      "name='sqlite_autoindex_bec_store_op_1'", -1, &pStmt, 0);
  if( rc==SQLITE_OK ) bOld = sqlite3_step(pStmt)==SQLITE_ROW;
  if( sqlite3_finalize(pStmt) && rc==SQLITE_OK ) rc = SQLITE_ERROR;
  if( rc || !bOld ) return rc;
  rc = sqlite3_db_config(p->db, SQLITE_DBCONFIG_LEGACY_ALTER_TABLE, -1,
                         &bLegacy);
  if( rc==SQLITE_OK ){
    rc = sqlite3_db_config(p->db, SQLITE_DBCONFIG_LEGACY_ALTER_TABLE, 1, 0);
  }
  if( rc==SQLITE_OK ) rc = bec_ctx_exec(p, zRebuild, pzErr);
  /* the prefixes, cut here (not by SQL's substr: an app may override it);
  ** a pruned row below the last drops its chain digest, as pruning does */
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(p->db, "SELECT seq, hash, body, seq<(SELECT"
        " max(seq) FROM bec_store_op) FROM bec_store_op", -1, &pStmt, 0);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(p->db, "INSERT INTO bec_store_op_id(prefix, seq)"
                            " VALUES(?1, ?2)", -1, &pIns, 0);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const u8 *aId = sqlite3_column_blob(pStmt, 1);
    i64 iSeq = sqlite3_column_int64(pStmt, 0);
    if( sqlite3_column_bytes(pStmt, 1)<BEC_ID_PREFIX ) continue; /* bec_check */
    sqlite3_bind_blob(pIns, 1, aId, BEC_ID_PREFIX, SQLITE_STATIC);
    sqlite3_bind_int64(pIns, 2, iSeq);
    sqlite3_step(pIns);
    rc = sqlite3_reset(pIns);
    if( rc==SQLITE_OK && sqlite3_column_int(pStmt, 3)
     && bec_dag_body_dropped(sqlite3_column_blob(pStmt, 2),
                             sqlite3_column_bytes(pStmt, 2)) ){
      rc = bec_ctx_stmt(p, "UPDATE bec_store_op SET chain=0 WHERE seq=?1",
                        &pUpd);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int64(pUpd, 1, iSeq);
        sqlite3_step(pUpd);
        rc = sqlite3_reset(pUpd);
      }
    }
  }
  if( rc==SQLITE_OK && pStmt ) rc = sqlite3_reset(pStmt);
  sqlite3_finalize(pIns);
  sqlite3_finalize(pStmt);
  if( rc==SQLITE_OK ) rc = bec_ctx_exec(p, "RELEASE bec_op_upgrade", pzErr);
  if( rc && sqlite3_get_autocommit(p->db)==0 ){
    /* (the savepoint may be open: nothing of the rebuild stays) */
    (void)sqlite3_exec(p->db, "ROLLBACK TO bec_op_upgrade;"
                       "RELEASE bec_op_upgrade", 0, 0, 0);
  }
  (void)sqlite3_db_config(p->db, SQLITE_DBCONFIG_LEGACY_ALTER_TABLE, bLegacy,
                          0);
  if( rc ){
    /* (locked: a statement of this connection reads the table; busy:
    ** another connection writes.  The next call tries again.) */
    sqlite3_free(*pzErr);
    *pzErr = sqlite3_mprintf("bec: cannot convert the op table of an older "
                             "bec yet (%s): try again, or open the database "
                             "alone once", bec_rc_text(p->db, rc));
  }
  return rc;
}

/* Read-only, the older table stays: its lookups by id read a view of the
** prefixes (a scan per lookup: correct, slow) in this connection's temp
** schema. */
static int op_table_readonly(BecCtx *p, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc, bOld = 0;
  rc = sqlite3_prepare_v2(p->db, "SELECT 1 FROM main.sqlite_schema WHERE "
      "name='sqlite_autoindex_bec_store_op_1'", -1, &pStmt, 0);
  if( rc==SQLITE_OK ) bOld = sqlite3_step(pStmt)==SQLITE_ROW;
  if( sqlite3_finalize(pStmt) && rc==SQLITE_OK ) rc = SQLITE_ERROR;
  if( rc || !bOld ) return rc;
  return bec_ctx_exec(p, "CREATE TEMP VIEW IF NOT EXISTS bec_store_op_id AS"
      " SELECT substr(hash,1,8) AS prefix, seq FROM main.bec_store_op", pzErr);
}

void bec_dag_upgrade_at_open(BecCtx *p){
  char *zErr = 0;
  if( stored_format(p->db)==FORMAT_VERSION
   && sqlite3_db_readonly(p->db, "main")==0 ){
    (void)op_table_upgrade(p, &zErr);
    sqlite3_free(zErr);
  }
}

int bec_dag_ensure_schema(BecCtx *p, char **pzErr){
  int rc, i;
  i64 iFormat;
  bec_ctx_recover(p);
  if( p->bSchema ) return SQLITE_OK;
  rc = bec_dag_check_format(p->db, pzErr);
  if( rc ) return rc;
  iFormat = stored_format(p->db);
  if( iFormat==0 ){
    rc = bec_ctx_exec(p, zSchema, pzErr);
    if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "format", FORMAT_VERSION);
    if( rc ) return rc;
  }
  for(i=0; rc==SQLITE_OK && i<p->nDeriver; i++){
    if( p->apDeriver[i]->xSchema ) rc = p->apDeriver[i]->xSchema(p, pzErr);
  }
  if( rc==SQLITE_OK && iFormat!=0 && sqlite3_db_readonly(p->db, "main")==0 ){
    rc = pruned_form_upgrade(p, pzErr);
    if( rc==SQLITE_OK ) rc = op_table_upgrade(p, pzErr);
  }else if( rc==SQLITE_OK && iFormat!=0 ){
    rc = op_table_readonly(p, pzErr);
  }
  if( rc==SQLITE_OK ) p->bSchema = 1;
  if( rc==SQLITE_OK && sqlite3_db_readonly(p->db, "main")==0 ){
    /* A key stored by an older bec moves out now; if it cannot, reading
    ** goes on and signing reports why (bec_key_load retries). */
    char *zIgnored = 0;
    (void)bec_key_migrate(p, &zIgnored);
    sqlite3_free(zIgnored);
  }
  return rc;
}

int bec_dag_group_id(BecCtx *p, u8 *aGroupId, char **pzErr){
  u8 *a = 0;
  int n = 0;
  int rc;
  if( p->bGroupKnown ){
    memcpy(aGroupId, p->aGroupId, BEC_HASH_BYTES);
    return SQLITE_OK;
  }
  rc = bec_config_get_blob(p, "group_id", &a, &n);
  if( rc==SQLITE_OK && n!=BEC_HASH_BYTES ){
    rc = SQLITE_ERROR;
    if( pzErr ){
      *pzErr = sqlite3_mprintf("bec: this database has no group yet: call "
          "bec_create_group() to start one, or bec_join(group_id) to receive "
          "one by sync");
    }
  }
  if( rc==SQLITE_OK ){
    /* Set once per database; a rollback that undoes it also changes the
    ** stored ops or fails a savepoint, and either drops this cache. */
    memcpy(aGroupId, a, BEC_HASH_BYTES);
    memcpy(p->aGroupId, a, BEC_HASH_BYTES);
    p->bGroupKnown = 1;
  }
  sqlite3_free(a);
  return rc;
}

int bec_dag_author_id(BecCtx *p, const u8 *aKey, int bCreate, int *piAuthor){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p,
      "SELECT id FROM bec_store_author WHERE pubkey=?1", &pStmt);
  *piAuthor = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aKey, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *piAuthor = sqlite3_column_int(pStmt, 0);
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && *piAuthor==0 && bCreate ){
    rc = bec_ctx_stmt(p,
        "INSERT INTO bec_store_author(pubkey) VALUES(?1)", &pStmt);
    if( rc ) return rc;
    sqlite3_bind_blob(pStmt, 1, aKey, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ){
      *piAuthor = (int)sqlite3_last_insert_rowid(p->db);
      if( p->pGraph ) rc = bec_graph_add_author(p->pGraph, *piAuthor, aKey);
    }
  }
  return rc;
}

/* *piSeq: the seq of stored op aHash (0: not stored in full). */
static int op_seq_of(BecCtx *p, const u8 *aHash, int *piSeq){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT seq FROM bec_store_op o WHERE "
                        BEC_OP_ID_IS("o", "?2", "?1"), &pStmt);
  *piSeq = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
  sqlite3_bind_blob(pStmt, 2, aHash, BEC_ID_PREFIX, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *piSeq = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

/* A stored op's seq, else its stand-in's: an op naming an op of an
** installed cut finds it present (docs/compaction.md "The snapshot join"). */
int bec_dag_seq_of(BecCtx *p, const u8 *aHash, int *piSeq){
  sqlite3_stmt *pStmt = 0;
  int bCut = 0;
  int rc = op_seq_of(p, aHash, piSeq);
  if( rc==SQLITE_OK && *piSeq==0 ) rc = bec_graph_cut_exists(p, &bCut);
  if( rc || !bCut || *piSeq ) return rc;
  rc = bec_ctx_stmt(p, "SELECT seq FROM bec_store_cut WHERE id=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *piSeq = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

/* Stored op iSeq's kind and derived validity (0, 0 if there is none):
** what its graph node says, read without loading the graph. */
int bec_dag_node_of(BecCtx *p, int iSeq, int *piKind, int *pbValid){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT kind, valid FROM bec_store_op WHERE seq=?1",
                        &pStmt);
  *piKind = 0;
  if( pbValid ) *pbValid = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *piKind = sqlite3_column_int(pStmt, 0);
    if( pbValid ) *pbValid = sqlite3_column_int(pStmt, 1)!=0;
  }
  return sqlite3_reset(pStmt);
}

int bec_dag_secret(BecCtx *p, const u8 **ppSecret, char **pzErr){
  /* The unsealed key is never in this database: bec_keyfile.c reads it. */
  int rc = bec_key_load(p, pzErr);
  *ppSecret = rc==SQLITE_OK ? p->aSecret : 0;
  return rc;
}

/**************************************************************************
** Rejections.
*/
static int record_rejection(BecCtx *p, const u8 *aHash, const char *zReason){
  sqlite3_stmt *pStmt = 0;
  i64 nMax = DEFAULT_REJECTED_MAX;
  int rc = bec_config_get_int(p, "rejected_max", DEFAULT_REJECTED_MAX, &nMax);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_rejected(hash, reason, "
                         "received_at) VALUES(?1, ?2, ?3)", &pStmt);
  }
  if( rc==SQLITE_OK ){
    if( aHash ) sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(pStmt, 2, zReason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(pStmt, 3, (i64)time(0));
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK ){
    /* Keep the log bounded: a flood of garbage must not grow the file. */
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_rejected WHERE id <= "
                         "(SELECT max(id) FROM bec_store_rejected) - ?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, nMax);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  return rc;
}

int bec_dag_note_rejection(BecCtx *p, const u8 *aHash, const char *zReason){
  sqlite3_stmt *pStmt = 0;
  int bSeen = 0;
  int rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_rejected WHERE hash=?1 "
                           "AND reason=?2", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(pStmt, 2, zReason, -1, SQLITE_STATIC);
  bSeen = sqlite3_step(pStmt)==SQLITE_ROW;
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && !bSeen ) rc = record_rejection(p, aHash, zReason);
  return rc;
}

/**************************************************************************
** Savepoints make each op's writes all-or-nothing.
*/
static const BecSavepoint spAccept = {
  "SAVEPOINT bec_accept", "RELEASE bec_accept", "ROLLBACK TO bec_accept"
};
static const BecSavepoint spIngest = {
  "SAVEPOINT bec_ingest", "RELEASE bec_ingest", "ROLLBACK TO bec_ingest"
};
static const BecSavepoint spAppend = {
  "SAVEPOINT bec_append", "RELEASE bec_append", "ROLLBACK TO bec_append"
};

/**************************************************************************
** Pending ops.
*/
static int pending_contains(BecCtx *p, const u8 *aHash, int *pbFound){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_pending WHERE hash=?1", &pStmt);
  *pbFound = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
  *pbFound = sqlite3_step(pStmt)==SQLITE_ROW;
  return sqlite3_reset(pStmt);
}

/* A list of hashes: the work queue of ops to try after one is stored. */
typedef struct HashList HashList;
struct HashList {
  BecBuf buf;
};
#define HASHLIST_N(p)    ((int)((p)->buf.n / BEC_HASH_BYTES))
#define HASHLIST_AT(p,i) (&(p)->buf.a[(i)*BEC_HASH_BYTES])

/*
** BOUNDS OF THE PENDING AREA.  A verified op whose predecessors are missing
** waits here, and anyone with a key can sign such ops: the area must not
** become a place where outsiders lock honest members out.  It is bounded
** per signing key (pending_key_max_ops, pending_key_max_bytes) and as a
** whole (pending_max_ops, pending_max_bytes), all in bec_store_config.
**
** A key is *known* when it is in bec_store_author, i.e. it signed a stored
** op or was the target of a stored add or remove: a function of the stored
** ops, cheap to test (an index), and true of every member this replica has
** heard of.  An outsider cannot become known without an admin's add op.
**
**  - An op whose key already holds its own bound is refused, known or not.
**  - An op that would overflow the whole area: if its key is known, it
**    evicts ops of unknown keys, from the unknown key that holds the most
**    bytes first and within a key in descending hash order (a function of
**    what waits, never of timing), just enough to fit; if even evicting
**    every unknown key's op would not make room, nothing is evicted and the
**    op is refused.  An op of an unknown key never evicts anything.
** So an op of a known key within its own bound is never refused while an
** op of an unknown key waits.
**
** Eviction is safe for convergence: pending ops are not stored, so an
** evicted op is forgotten exactly like one never received; the peers that
** hold it keep offering it (sync sends what this replica does not store),
** and what waited for it waits on.  A refusal is no verdict on the op
** (SQLITE_FULL: bec_dag_accept does not doom what waits for it).
**
** A row without an author is an op this replica had stored, kept by a
** fall-back to a full join (the cut section, "The fall-back"): it counts
** against no bound and is never evicted, since no peer may still send it
** (a bound must never lose an op the replica had stored).
*/

/* Ops and bytes waiting: of key aAuthor, or of everyone if aAuthor is 0
** (kept bodies, which have no author, are not counted). */
static int pending_usage(BecCtx *p, const u8 *aAuthor, i64 *pnOps,
                         i64 *pnBytes){
  sqlite3_stmt *pStmt = 0;
  int rc;
  *pnOps = 0;
  *pnBytes = 0;
  if( aAuthor ){
    rc = bec_ctx_stmt(p, "SELECT count(*), total(length(body)) "
                         "FROM bec_store_pending WHERE author=?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_blob(pStmt, 1, aAuthor, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    }
  }else{
    rc = bec_ctx_stmt(p, "SELECT count(*), total(length(body)) "
                         "FROM bec_store_pending WHERE author IS NOT NULL",
                      &pStmt);
  }
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *pnOps = sqlite3_column_int64(pStmt, 0);
    *pnBytes = sqlite3_column_int64(pStmt, 1);
  }
  return sqlite3_reset(pStmt);
}

/* Forgets pending op aHash (body and missing links) without a verdict. */
static int pending_evict(BecCtx *p, const u8 *aHash){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "DELETE FROM bec_store_pending WHERE hash=?1",
                        &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_pending_missing WHERE hash=?1",
                      &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  return rc;
}

/* Evicts ops of unknown keys, in the order of the essay above, until nOps
** ops and nBytes bytes are free; *pbRoom says whether that was possible
** (if not, nothing is evicted). */
static int pending_make_room(BecCtx *p, i64 nOps, i64 nBytes, int *pbRoom){
  sqlite3_stmt *pStmt = 0;
  HashList victims;
  int rc, i;
  memset(&victims, 0, sizeof(victims));
  *pbRoom = 0;
  rc = bec_ctx_stmt(p,
      "SELECT p.hash, length(p.body) FROM bec_store_pending p"
      " JOIN (SELECT author, total(length(body)) AS held"
      "       FROM bec_store_pending GROUP BY author) k ON k.author=p.author"
      " WHERE p.author NOT IN (SELECT pubkey FROM bec_store_author)"
      " ORDER BY k.held DESC, p.author, p.hash DESC", &pStmt);
  if( rc ) return rc;
  while( rc==SQLITE_OK && (nOps>0 || nBytes>0)
      && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ){
      rc = SQLITE_CORRUPT;
    }else{
      bec_buf_append(&victims.buf, sqlite3_column_blob(pStmt, 0),
                     BEC_HASH_BYTES, &rc);
      nOps--;
      nBytes -= sqlite3_column_int64(pStmt, 1);
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && nOps<=0 && nBytes<=0 ){
    *pbRoom = 1;
    for(i=0; rc==SQLITE_OK && i<HASHLIST_N(&victims); i++){
      rc = pending_evict(p, HASHLIST_AT(&victims, i));
    }
  }
  bec_buf_free(&victims.buf);
  return rc;
}

/* Parks a verified op whose predecessors aMissing are not stored yet, within
** the bounds above; SQLITE_FULL with *pzErr if it does not fit. */
static int pending_park(BecCtx *p, const BecOp *pOp, const u8 *aHash,
                        const u8 *aMissing, int nMissing, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  i64 nMaxOps = 0, nMaxBytes = 0, nKeyMaxOps = 0, nKeyMaxBytes = 0;
  i64 nOps = 0, nBytes = 0;
  int rc, i, iAuthor = 0, bRoom = 1;
  rc = bec_config_get_int(p, "pending_max_ops", DEFAULT_PENDING_MAX_OPS, &nMaxOps);
  if( rc==SQLITE_OK ){
    rc = bec_config_get_int(p, "pending_max_bytes", DEFAULT_PENDING_MAX_BYTES,
                                &nMaxBytes);
  }
  if( rc==SQLITE_OK ){
    rc = bec_config_get_int(p, "pending_key_max_ops",
                                BEC_PENDING_KEY_MAX_OPS, &nKeyMaxOps);
  }
  if( rc==SQLITE_OK ){
    rc = bec_config_get_int(p, "pending_key_max_bytes",
                                BEC_PENDING_KEY_MAX_BYTES, &nKeyMaxBytes);
  }
  if( rc==SQLITE_OK ) rc = pending_usage(p, pOp->aAuthor, &nOps, &nBytes);
  if( rc==SQLITE_OK
   && (nOps+1>nKeyMaxOps || nBytes+pOp->nBody>nKeyMaxBytes) ){
    *pzErr = sqlite3_mprintf("pending area full for this key: it signed %lld "
        "ops, %lld bytes that wait for predecessors (limits "
        "pending_key_max_ops=%lld, pending_key_max_bytes=%lld)",
        (long long)nOps, (long long)nBytes, (long long)nKeyMaxOps,
        (long long)nKeyMaxBytes);
    return SQLITE_FULL;
  }
  if( rc==SQLITE_OK ) rc = pending_usage(p, 0, &nOps, &nBytes);
  if( rc==SQLITE_OK && (nOps+1>nMaxOps || nBytes+pOp->nBody>nMaxBytes) ){
    rc = bec_dag_author_id(p, pOp->aAuthor, 0, &iAuthor);
    bRoom = 0;
    if( rc==SQLITE_OK && iAuthor ){
      rc = pending_make_room(p, nOps+1-nMaxOps, nBytes+pOp->nBody-nMaxBytes,
                             &bRoom);
    }
  }
  if( rc==SQLITE_OK && !bRoom ){
    *pzErr = sqlite3_mprintf("pending area full: %lld ops, %lld bytes wait "
        "for predecessors (limits pending_max_ops=%lld, pending_max_bytes=%lld)%s",
        (long long)nOps, (long long)nBytes, (long long)nMaxOps,
        (long long)nMaxBytes, iAuthor ? "" : "; the op's key is unknown here, "
        "so it may not evict others (only a key that signed a stored op or was "
        "added or removed by one may)");
    return SQLITE_FULL;
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_pending(hash, body, nmissing, "
                         "received_at, author) VALUES(?1, ?2, ?3, ?4, ?5)", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob64(pStmt, 2, pOp->aBody, (sqlite3_uint64)pOp->nBody,
                        SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 3, nMissing);
    sqlite3_bind_int64(pStmt, 4, (i64)time(0));
    sqlite3_bind_blob(pStmt, 5, pOp->aAuthor, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  for(i=0; rc==SQLITE_OK && i<nMissing; i++){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_pending_missing(missing, hash) "
                         "VALUES(?1, ?2)", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_blob(pStmt, 1, &aMissing[i*BEC_HASH_BYTES], BEC_HASH_BYTES,
                        SQLITE_STATIC);
      sqlite3_bind_blob(pStmt, 2, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  return rc;
}

/* Moves the ops that waited only for aStored from pending to pQueue, and
** decrements the missing count of the others. */
static int pending_release(BecCtx *p, const u8 *aStored, HashList *pQueue){
  sqlite3_stmt *pStmt = 0;
  HashList waiting;
  int rc, i;
  memset(&waiting, 0, sizeof(waiting));
  rc = bec_ctx_stmt(p, "SELECT hash FROM bec_store_pending_missing "
                       "WHERE missing=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aStored, BEC_HASH_BYTES, SQLITE_STATIC);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const u8 *aHash = sqlite3_column_blob(pStmt, 0);
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ) rc = SQLITE_CORRUPT;
    else bec_buf_append(&waiting.buf, aHash, BEC_HASH_BYTES, &rc);
  }
  sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && HASHLIST_N(&waiting)>0 ){
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_pending_missing WHERE missing=?1",
                      &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_blob(pStmt, 1, aStored, BEC_HASH_BYTES, SQLITE_STATIC);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  for(i=0; rc==SQLITE_OK && i<HASHLIST_N(&waiting); i++){
    rc = bec_ctx_stmt(p, "UPDATE bec_store_pending SET nmissing=nmissing-1 "
                         "WHERE hash=?1 RETURNING nmissing", &pStmt);
    if( rc==SQLITE_OK ){
      int nLeft = -1;
      sqlite3_bind_blob(pStmt, 1, HASHLIST_AT(&waiting, i), BEC_HASH_BYTES,
                        SQLITE_STATIC);
      if( sqlite3_step(pStmt)==SQLITE_ROW ) nLeft = sqlite3_column_int(pStmt, 0);
      rc = sqlite3_reset(pStmt);
      if( rc==SQLITE_OK && nLeft==0 ){
        bec_buf_append(&pQueue->buf, HASHLIST_AT(&waiting, i), BEC_HASH_BYTES, &rc);
      }
    }
  }
  bec_buf_free(&waiting.buf);
  return rc;
}

/* Takes a released op out of the pending area; *ppBody from
** sqlite3_malloc64, the caller frees it. */
static int pending_take(BecCtx *p, const u8 *aHash, u8 **ppBody, i64 *pnBody){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "DELETE FROM bec_store_pending WHERE hash=?1 "
                           "RETURNING body", &pStmt);
  *ppBody = 0;
  *pnBody = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    rc = bec_ctx_column_copy(pStmt, ppBody, pnBody);
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  return rc;
}

/* Drops pending ops that wait for aRejected, which can never be stored:
** acceptance depends only on an op's causal past, so a rejected op stays
** rejected, and so does everything after it.  Their hashes join pQueue of
** rejected ops so their own dependents follow. */
static int pending_reject_dependents(BecCtx *p, const u8 *aRejected,
                                     HashList *pDoomed){
  sqlite3_stmt *pStmt = 0;
  int i0 = HASHLIST_N(pDoomed), i;
  int rc = SQLITE_OK;
  bec_buf_append(&pDoomed->buf, aRejected, BEC_HASH_BYTES, &rc);
  for(i=i0; rc==SQLITE_OK && i<HASHLIST_N(pDoomed); i++){
    int iFirst = HASHLIST_N(pDoomed), j;
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_pending_missing "
                         "WHERE missing=?1 RETURNING hash", &pStmt);
    if( rc ) break;
    sqlite3_bind_blob(pStmt, 1, HASHLIST_AT(pDoomed, i), BEC_HASH_BYTES,
                      SQLITE_TRANSIENT);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      const u8 *aHash = sqlite3_column_blob(pStmt, 0);
      if( sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ) rc = SQLITE_CORRUPT;
      else bec_buf_append(&pDoomed->buf, aHash, BEC_HASH_BYTES, &rc);
    }
    sqlite3_reset(pStmt);
    for(j=iFirst; rc==SQLITE_OK && j<HASHLIST_N(pDoomed); j++){
      u8 *aBody = 0;
      i64 nBody = 0;
      rc = pending_take(p, HASHLIST_AT(pDoomed, j), &aBody, &nBody);
      sqlite3_free(aBody);
      if( rc==SQLITE_OK ){
        rc = record_rejection(p, HASHLIST_AT(pDoomed, j),
                              "unauthorized: a predecessor was rejected");
      }
    }
  }
  return rc;
}

/**************************************************************************
** Storing an op.
*/
static void pack_preds(BecBuf *pBuf, const int *aSeq, int n, int *pRc){
  int i;
  for(i=0; i<n; i++) bec_buf_append_varint(pBuf, (u64)aSeq[i], pRc);
}

/* The depth of stored op or stand-in iSeq: from the graph if it is
** loaded, else one rowid seek (a local op names the heads only), or a
** seek of bec_store_cut's seq index for a stand-in. */
static int pred_depth(BecCtx *p, const BecGraph *g, int iSeq, int *pDepth){
  sqlite3_stmt *pStmt = 0;
  int rc, bFound, bCut = 0;
  *pDepth = 0;
  if( g ){
    *pDepth = g->aNode[iSeq].depth;
    return SQLITE_OK;
  }
  rc = bec_ctx_stmt(p, "SELECT depth FROM bec_store_op WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  bFound = sqlite3_step(pStmt)==SQLITE_ROW;
  if( bFound ) *pDepth = sqlite3_column_int(pStmt, 0);
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && !bFound ) rc = bec_graph_cut_exists(p, &bCut);
  if( rc==SQLITE_OK && !bFound && bCut ){
    rc = bec_ctx_stmt(p, "SELECT depth FROM bec_store_cut WHERE seq=?1",
                      &pStmt);
    if( rc ) return rc;
    sqlite3_bind_int(pStmt, 1, iSeq);
    bFound = sqlite3_step(pStmt)==SQLITE_ROW;
    if( bFound ) *pDepth = sqlite3_column_int(pStmt, 0);
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK && (!bFound || *pDepth<0) ) rc = SQLITE_CORRUPT;
  return rc;
}

/* *pb: the op whose predecessors are aPredSeq[0..nPred-1] (sorted and
** unique, as the codec requires) names every head, so every stored op is in
** its causal past.  Derivers may then answer from derived state, which is
** exactly that past (BecCtx.bCovering). */
static int covers_heads(BecCtx *p, const int *aPredSeq, int nPred, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc, i, nHead = 0, nIn = 0;
  *pb = 0;
  rc = bec_ctx_stmt(p, "SELECT count(*) FROM bec_store_head", &pStmt);
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) nHead = sqlite3_column_int(pStmt, 0);
  rc = sqlite3_reset(pStmt);
  if( rc || nHead!=nPred ) return rc;
  rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_head WHERE seq=?1", &pStmt);
  for(i=0; rc==SQLITE_OK && i<nPred; i++){
    sqlite3_bind_int(pStmt, 1, aPredSeq[i]);
    if( sqlite3_step(pStmt)==SQLITE_ROW ) nIn++;
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK ) *pb = nIn==nPred;
  return rc;
}

/* Stores a fully checked op and derives what follows from it. */
/* bAdminOp: a data op that a deriver found to be an admin op by its
** payload (BecVerdict.bAdminOp): its role column says admin, which is how
** membership knows it needs an admin grant (bec_member.c, need_of). */
static int store_op(BecCtx *p, const BecOp *pOp, const u8 *aHash,
                    const int *aPredSeq, int bAdminOp, char **pzErr){
  BecGraph *g = p->pGraph;      /* appended to if loaded; never loaded here */
  sqlite3_stmt *pStmt = 0;
  BecNode node;
  BecBuf preds;
  BecBuf stub;                  /* a header alone (a replay) is kept so */
  u64 chain;
  int rc, i, iSeq;

  memset(&node, 0, sizeof(node));
  memset(&preds, 0, sizeof(preds));
  memset(&stub, 0, sizeof(stub));
  rc = bec_graph_check(p, pzErr);
  if( rc ) return rc;
  if( pOp->aSig==0 ){
    bec_op_encode_stub(&stub, pOp->nPayload, pOp->aPayloadHash, &rc);
  }
  g = p->pGraph;
  node.kind = (u8)pOp->kind;
  node.role = (u8)(bAdminOp && pOp->role==0 ? BEC_ROLE_ADMIN : pOp->role);
  node.nPred = pOp->nPred;
  node.bValid = 1;
  for(i=0; rc==SQLITE_OK && i<pOp->nPred; i++){
    int d = 0;
    rc = pred_depth(p, g, aPredSeq[i], &d);
    if( d+1>node.depth ) node.depth = d+1;
  }
  if( rc==SQLITE_OK ) rc = bec_dag_author_id(p, pOp->aAuthor, 1, &node.iAuthor);
  if( rc==SQLITE_OK && pOp->aTarget ){
    rc = bec_dag_author_id(p, pOp->aTarget, 1, &node.iTarget);
  }
  pack_preds(&preds, aPredSeq, pOp->nPred, &rc);
  iSeq = p->nKnown + 1;
  chain = bec_graph_chain_next(p->chainKnown, aHash);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_op(seq, hash, kind, author, "
        "depth, target, role, valid, chain, preds, body) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9, ?10)", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, iSeq);
    sqlite3_bind_blob(pStmt, 2, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 3, pOp->kind);
    sqlite3_bind_int(pStmt, 4, node.iAuthor);
    sqlite3_bind_int(pStmt, 5, node.depth);
    if( node.iTarget ) sqlite3_bind_int(pStmt, 6, node.iTarget);
    if( node.role ) sqlite3_bind_int(pStmt, 7, node.role);
    sqlite3_bind_int64(pStmt, 8, (i64)chain);
    sqlite3_bind_blob(pStmt, 9, preds.a ? (void*)preds.a : (void*)"", (int)preds.n,
                      SQLITE_STATIC);
    if( stub.a ){
      sqlite3_bind_blob(pStmt, 10, stub.a, (int)stub.n, SQLITE_STATIC);
    }else{
      sqlite3_bind_blob64(pStmt, 10, pOp->aBody, (sqlite3_uint64)pOp->nBody,
                          SQLITE_STATIC);
    }
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_op_id(prefix, seq)"
                         " VALUES(?1, ?2)", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aHash, BEC_ID_PREFIX, SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 2, iSeq);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  for(i=0; rc==SQLITE_OK && i<pOp->nPred; i++){
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_head WHERE seq=?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, aPredSeq[i]);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_head(seq) VALUES(?1)", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iSeq);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  if( rc==SQLITE_OK && g ) rc = bec_graph_append(g, &node, aHash, aPredSeq, chain);
  if( rc==SQLITE_OK ){
    p->nKnown = iSeq;
    p->chainKnown = chain;
  }
  for(i=0; rc==SQLITE_OK && i<p->nDeriver; i++){
    const BecDeriver *d = p->apDeriver[i];
    if( d->xStored && deriver_wants(d, pOp->kind) ){
      rc = d->xStored(p, iSeq, pOp, pzErr);
    }
  }
  bec_buf_free(&preds);
  bec_buf_free(&stub);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot store op: %s", bec_rc_text(p->db, rc));
  }
  return rc;
}

/**************************************************************************
** Acceptance of one op.
*/
/* A verdict in *pV if the op is not of this database's group (or the
** database has none); the return code is for failures only. */
static int check_group(BecCtx *p, const BecOp *pOp, const u8 *aHash,
                       u8 *aGroupId, BecVerdict *pV){
  int rc = bec_dag_group_id(p, aGroupId, 0);
  if( rc==SQLITE_ERROR ){
    bec_verdict_set(pV, SQLITE_ERROR, "wrong group: this database has no "
                    "group; call bec_join(group_id) before receiving ops");
    rc = SQLITE_OK;
  }else if( rc==SQLITE_OK
         && (pOp->kind==BEC_KIND_CREATE
               ? memcmp(aHash, aGroupId, BEC_HASH_BYTES)
               : memcmp(pOp->aGroupTag, aGroupId, BEC_GROUP_TAG_BYTES)) ){
    bec_verdict_set(pV, SQLITE_ERROR, "wrong group: the op belongs to "
                    "another group");
  }
  return rc;
}

/* What *pbRejected says (accept_one): a verdict on the op, which every
** copy of it would get, or on this copy only.  The id covers the header
** alone, so bytes that fail before the header and body are known to match
** (a bad signature, a body that is not the header's, bytes that are no op)
** say nothing about the op their header names: they are logged under the
** hash of the bytes received, and nothing that waits for that id is
** dropped, so a forged copy cannot keep the real op out. */
#define REJECT_OP   1
#define REJECT_COPY 2

/* The cut section, at the end of this file. */
static int cut_concurrent(BecCtx*, const BecOp*, const int *aPredSeq,
                          int *pbConc, int *pbPlaced);
static int cut_record(BecCtx*, int iSeq);
static int cut_wait(BecCtx*, const BecOp*, const u8 *aHash, char **pzErr);

/* bVerified: the signature was checked already (a local op, or one
** released from the pending area).  On rejection *pbRejected is set and
** *pzErr says why; aHash is then the id (REJECT_OP) or the hash of the
** bytes (REJECT_COPY), under which the caller logs it. */
static int accept_one(BecCtx *p, const u8 *aBody, i64 nBody, int bVerified,
                      u8 *aHash, int *peOutcome, int *pbRejected, int *pbStoring,
                      char **pzErr){
  BecOp op;
  u8 aGroupId[BEC_HASH_BYTES];
  int aPredSeq[BEC_MAX_PRED];
  u8 *aMissing = 0;
  int nMissing = 0;
  int bFound = 0;
  int bHeaderOnly = 0;
  int bAdminOp = 0;              /* a deriver found an admin op (X10) */
  int bCovering = 0;             /* it names every head (covers_heads) */
  int bConcurrent = 0;           /* concurrent with an installed K */
  int bPlaced = 0;               /* ... and placed against its band */
  int rc, i;

  *peOutcome = 0;
  *pbRejected = 0;
  rc = bec_op_decode(aBody, nBody, &op, pzErr);
  if( rc && p->bScratch && bVerified ){
    /* A replay of a cut on a pruned replica (bec_checkpoint.c): the op's
    ** header alone (bec_dag_pruned_header), verified and admitted there,
    ** from the same causal past; its share of the tables comes from the
    ** merge base.  It is stored as a stub, as there. */
    BecOp hdr;
    char *zWhy = 0;
    if( bec_op_decode_pruned(aBody, nBody, &hdr, &zWhy)==SQLITE_OK
     && hdr.nPayload>0 ){
      sqlite3_free(*pzErr);
      *pzErr = 0;
      op = hdr;
      rc = SQLITE_OK;
      bHeaderOnly = 1;
    }
    sqlite3_free(zWhy);
  }
  if( rc && op.aPayload==0 ){
    /* Not an op, or not this op's body: a verdict on these bytes only. */
    bec_crypto_hash(aBody, nBody, aHash);
    *pbRejected = REJECT_COPY;
    return rc;
  }
  memcpy(aHash, op.aId, BEC_HASH_BYTES);
  if( rc==SQLITE_OK ){
    /* Check the caches against storage once, before anything reads them
    ** (the graph itself loads only if a deriver asks a question of it). */
    p->bGraphChecked = 0;
    rc = bec_graph_check(p, pzErr);
    if( rc ) return rc;
  }
  if( rc ){
    *pbRejected = REJECT_OP;
    return rc;
  }
  rc = bec_dag_seq_of(p, aHash, &aPredSeq[0]);
  if( rc==SQLITE_OK && aPredSeq[0] ){
    *peOutcome = BEC_ACCEPT_DUPLICATE;
    return SQLITE_OK;
  }
  if( rc==SQLITE_OK ){
    BecVerdict v = {0, 0, 0, 0};
    rc = check_group(p, &op, aHash, aGroupId, &v);
    if( rc==SQLITE_OK && v.rc ){
      *pzErr = v.zReason;
      *pbRejected = REJECT_OP;
      return v.rc;
    }
  }
  if( rc ) return rc;
  rc = pending_contains(p, aHash, &bFound);
  if( rc==SQLITE_OK && bFound ){
    *peOutcome = BEC_ACCEPT_PENDING;
    return SQLITE_OK;
  }
  if( rc==SQLITE_OK && !bVerified && !bec_crypto_verify_op(&op, aGroupId) ){
    *pzErr = sqlite3_mprintf("bad signature");
    bec_crypto_hash(aBody, nBody, aHash);
    *pbRejected = REJECT_COPY;
    return SQLITE_ERROR;
  }
  for(i=0; rc==SQLITE_OK && i<op.nPred; i++){
    rc = bec_dag_seq_of(p, &op.aPred[i*BEC_HASH_BYTES], &aPredSeq[i]);
    if( rc==SQLITE_OK && aPredSeq[i]==0 ){
      if( aMissing==0 ){
        aMissing = sqlite3_malloc64((sqlite3_uint64)op.nPred*BEC_HASH_BYTES);
        if( aMissing==0 ) rc = SQLITE_NOMEM;
      }
      if( aMissing ){
        memcpy(&aMissing[nMissing++*BEC_HASH_BYTES],
               &op.aPred[i*BEC_HASH_BYTES], BEC_HASH_BYTES);
      }
    }
  }
  if( rc==SQLITE_OK && nMissing ){
    rc = pending_park(p, &op, aHash, aMissing, nMissing, pzErr);
    if( rc==SQLITE_OK ) *peOutcome = BEC_ACCEPT_PENDING;
    else if( rc==SQLITE_FULL ) *pbRejected = REJECT_OP;
    sqlite3_free(aMissing);
    return rc;
  }
  sqlite3_free(aMissing);
  /* On an installed snapshot, an op that does not descend from K is not
  ** judged against the linearised cut: it waits (the cut section). */
  if( rc==SQLITE_OK ){
    rc = cut_concurrent(p, &op, aPredSeq, &bConcurrent, &bPlaced);
  }
  if( rc==SQLITE_OK && bConcurrent ){
    rc = cut_wait(p, &op, aHash, pzErr);
    if( rc==SQLITE_OK ) *peOutcome = BEC_ACCEPT_PENDING;
    else if( rc==SQLITE_FULL ) *pbRejected = REJECT_OP;
    return rc;
  }
  if( rc==SQLITE_OK ) rc = covers_heads(p, aPredSeq, op.nPred, &bCovering);
  p->bCovering = bCovering;
  /* The derivers' verdicts, in order: authorization (membership) first. */
  for(i=0; rc==SQLITE_OK && i<p->nDeriver; i++){
    const BecDeriver *d = p->apDeriver[i];
    BecVerdict v = {0, 0, 0, 0};
    if( d->xAdmit==0 || !deriver_wants(d, op.kind) || bHeaderOnly ) continue;
    rc = d->xAdmit(p, &op, aPredSeq, &v, pzErr);
    if( rc==SQLITE_OK && v.rc ){
      *pzErr = v.zReason;
      *pbRejected = REJECT_OP;
      p->bCovering = 0;
      return v.rc;
    }
    if( rc==SQLITE_OK && v.bNeedsCut ){
      /* judged only with the cut's headers: waits as an op concurrent
      ** with K, never refused here where a full replica would store it */
      p->bCovering = 0;
      rc = cut_wait(p, &op, aHash, pzErr);
      if( rc==SQLITE_OK ) *peOutcome = BEC_ACCEPT_PENDING;
      else if( rc==SQLITE_FULL ) *pbRejected = REJECT_OP;
      return rc;
    }
    if( v.bAdminOp ) bAdminOp = 1;
    bec_verdict_clear(&v);
  }
  if( rc==SQLITE_OK ){
    *pbStoring = 1;   /* from here on, cached state changes with storage */
    p->bCovering = bCovering;   /* (a deriver may have accepted an op) */
    rc = store_op(p, &op, aHash, aPredSeq, bAdminOp, pzErr);
    /* stored above K without descending from K: its successors ask */
    if( rc==SQLITE_OK && bPlaced ) rc = cut_record(p, p->nKnown);
  }
  p->bCovering = 0;
  if( rc==SQLITE_OK ) *peOutcome = BEC_ACCEPT_STORED;
  return rc;
}

/* An order derived while an id could not be read (bec_graph_id_cmp fell
** back to seqs) may differ from every other replica's: the op that saw it
** is not kept.  nIdFail0 is p->nIdFail before the work. */
static int id_fail_check(BecCtx *p, int nIdFail0, char **pzErr){
  if( p->nIdFail==nIdFail0 ) return SQLITE_OK;
  if( *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: an op id could not be read from "
        "bec_store_op while ordering ops (out of memory or I/O): the op was "
        "not kept; try again");
  }
  return SQLITE_NOMEM;
}

/* Accepts one op inside its own savepoint; logs a rejection. */
static int accept_atomic(BecCtx *p, const u8 *aBody, i64 nBody, int bVerified,
                         u8 *aHash, int *peOutcome, int *pbRejected,
                         char **pzErr){
  int bStoring = 0, nIdFail0 = p->nIdFail;
  int rc = bec_ctx_begin(p, &spAccept);
  if( rc ) return rc;
  rc = accept_one(p, aBody, nBody, bVerified, aHash, peOutcome, pbRejected,
                  &bStoring, pzErr);
  if( rc==SQLITE_OK ){
    rc = id_fail_check(p, nIdFail0, pzErr);
    if( rc ) bStoring = 1;
  }
  if( rc ){
    /* A verdict comes before anything is stored: the caches stay valid, so
    ** a flood of bad ops costs no reloads. */
    int rc2 = bStoring ? bec_ctx_rollback(p, &spAccept)
                       : bec_ctx_rollback_clean(p, &spAccept);
    if( *pbRejected && rc2==SQLITE_OK ){
      rc2 = record_rejection(p, aHash, *pzErr ? *pzErr : "rejected");
    }
    (void)rc2;
  }else{
    rc = bec_ctx_commit(p, &spAccept);
  }
  return rc;
}

/* Accepts, in causal order, the pending ops in *pQueue (released: every
** missing link stored), each in its own savepoint; each stored one can
** release more, so the queue grows as it is consumed.  A verdict on one
** drops what waited for it (into *pDoomed); a failure is the result. */
static int release_queue(BecCtx *p, HashList *pQueue, HashList *pDoomed,
                         char **pzErr){
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<HASHLIST_N(pQueue); i++){
    u8 aHash[BEC_HASH_BYTES];
    u8 *aBody2 = 0;
    i64 nBody2 = 0;
    int eOutcome = 0, bRej = 0;
    char *zErr = 0;
    memcpy(aHash, HASHLIST_AT(pQueue, i), BEC_HASH_BYTES);
    rc = pending_take(p, aHash, &aBody2, &nBody2);
    if( rc==SQLITE_OK && aBody2 ){
      int rc2 = accept_atomic(p, aBody2, nBody2, 1, aHash, &eOutcome, &bRej,
                              &zErr);
      if( rc2==SQLITE_OK && eOutcome==BEC_ACCEPT_STORED ){
        rc = pending_release(p, aHash, pQueue);
      }else if( rc2==SQLITE_OK ){
        /* parked again: it waits for a predecessor its missing links did
        ** not name (one stored when it was parked, and forgotten by a
        ** fall-back to a full join), or it is concurrent with an installed
        ** checkpoint (the cut section) */
        rc = SQLITE_OK;
      }else if( rc2==SQLITE_FULL ){
        /* parked again and the area is full: no verdict on the op (as at
        ** the top of bec_dag_accept); its dependents wait on */
        rc = SQLITE_OK;
      }else if( bRej==REJECT_OP ){
        rc = pending_reject_dependents(p, aHash, pDoomed);
      }else if( bRej ){
        rc = SQLITE_OK;      /* a damaged copy in storage: logged, dropped */
      }else{
        /* A failure (not a verdict) undoes the whole acceptance: say which
        ** released op failed and why, not just the result code. */
        char zHex[13];
        rc = rc2;
        bec_hex_encode(aHash, 6, zHex);
        sqlite3_free(*pzErr);
        *pzErr = sqlite3_mprintf("bec: cannot accept op %s released from the "
                                 "pending area: %s", zHex,
                                 zErr ? zErr : bec_rc_text(p->db, rc));
        if( *pzErr==0 ) rc = SQLITE_NOMEM;
      }
    }
    sqlite3_free(aBody2);
    sqlite3_free(zErr);
  }
  return rc;
}

/* The whole acceptance of one op, with the pending ops it releases, is one
** savepoint: if anything fails other than a verdict on an op (out of
** memory, I/O), nothing of it remains, and in particular no released
** pending op is lost. */
int bec_dag_accept(BecCtx *p, const u8 *aBody, i64 nBody, int bSigned,
                   BecAccept *pRes, char **pzErr){
  HashList queue, doomed;
  u8 *aHashOut = pRes->aId;
  int *peOutcome = &pRes->eOutcome;
  int rc, bRejected = 0;

  *pzErr = 0;
  memset(pRes, 0, sizeof(*pRes));
  memset(&queue, 0, sizeof(queue));
  memset(&doomed, 0, sizeof(doomed));
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_begin(p, &spIngest);
  if( rc ) return rc;
  if( p->nAccepting==0 ) p->bRejoinDue = 0;   /* (a failed one's is undone) */
  p->nAccepting++;
  rc = accept_atomic(p, aBody, nBody, bSigned, aHashOut, peOutcome, &bRejected,
                     pzErr);
  if( rc && bRejected ){
    /* A verdict: keep its log line, and drop the pending ops that waited
    ** for it, since they can never be stored.  A full pending area is no
    ** verdict on the op: what waits for it may still be stored when it
    ** comes again; neither is a rejected copy (REJECT_COPY). */
    int rc2 = rc==SQLITE_FULL || bRejected==REJECT_COPY ? SQLITE_OK
                              : pending_reject_dependents(p, aHashOut, &doomed);
    if( rc2==SQLITE_OK ) rc2 = bec_ctx_commit(p, &spIngest);
    else bec_ctx_rollback(p, &spIngest);
    bec_buf_free(&doomed.buf);
    p->nAccepting--;
    if( rc2 ){
      /* The verdict could not be kept: a failure of this database. */
      sqlite3_free(*pzErr);
      *pzErr = sqlite3_mprintf("bec: cannot record a rejected op: %s",
                               bec_rc_text(p->db, rc2));
      *peOutcome = 0;
      return rc2;
    }
    pRes->eOutcome = BEC_ACCEPT_REJECTED;
    pRes->rcRefused = rc;
    pRes->zReason = *pzErr ? *pzErr : sqlite3_mprintf("rejected");
    *pzErr = 0;
    return pRes->zReason ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && *peOutcome==BEC_ACCEPT_STORED ){
    /* Apply, in causal order, the pending ops this one unblocked: each
    ** stored op can release more, so the queue grows as it is consumed. */
    rc = pending_release(p, aHashOut, &queue);
  }
  if( rc==SQLITE_OK ) rc = release_queue(p, &queue, &doomed, pzErr);
  bec_buf_free(&queue.buf);
  bec_buf_free(&doomed.buf);
  if( rc==SQLITE_OK && p->bRejoinDue && p->xRejoin ){
    /* an op concurrent with the installed checkpoint was recorded: fall
    ** back to a full join in the same savepoint (all of it, or none) */
    p->bRejoinDue = 0;
    rc = p->xRejoin(p, pzErr);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_commit(p, &spIngest);
  }else{
    bec_ctx_rollback(p, &spIngest);
    *peOutcome = 0;
  }
  p->nAccepting--;
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot accept the op: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/**************************************************************************
** Local ops.
*/
/* The current heads' hashes in ascending order, at most BEC_MAX_PRED of
** them.  *ppOut from sqlite3_malloc64; the caller frees it. */
static int current_heads(BecCtx *p, u8 **ppOut, int *pn){
  sqlite3_stmt *pStmt = 0;
  BecBuf buf;
  int rc = bec_ctx_stmt(p, "SELECT o.hash FROM bec_store_head h CROSS JOIN bec_store_op o "
                           "WHERE o.seq=h.seq ORDER BY o.hash LIMIT ?1", &pStmt);
  memset(&buf, 0, sizeof(buf));
  *ppOut = 0;
  *pn = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, BEC_MAX_PRED);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const u8 *aHash = sqlite3_column_blob(pStmt, 0);
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ) rc = SQLITE_CORRUPT;
    else bec_buf_append(&buf, aHash, BEC_HASH_BYTES, &rc);
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  if( rc==SQLITE_OK ){
    *ppOut = buf.a;
    *pn = (int)(buf.n / BEC_HASH_BYTES);
  }else{
    bec_buf_free(&buf);
  }
  return rc;
}

/* The local API refuses a data op (app, write, schema) that the local key
** may not sign in this replica's current view: a removed member's writes
** would be stored by peers but ignored, which is never what the user meant.
** (Acceptance, by contrast, judges an op by its causal past only.) */
static int check_local_role(BecCtx *p, int kind, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int role = 0;
  int rc;
  if( bec_kind_derives(kind, BEC_DERIVE_MEMBERSHIP) ){
    return SQLITE_OK;   /* membership ops: bec_member.c checks its own */
  }
  rc = bec_ctx_stmt(p, "SELECT role FROM bec_store_member WHERE pubkey=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, p->aPub, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) role = sqlite3_column_int(pStmt, 0);
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && role==0 ){
    *pzErr = sqlite3_mprintf("unauthorized: not a member: this replica's key is not a "
        "member of the group in its current view (never added, or removed); "
        "ask an admin to run bec_add_member('<your bec_pubkey()>', 'member')");
    rc = SQLITE_AUTH;
  }else if( rc==SQLITE_OK && role==BEC_ROLE_RELAY ){
    /* A relay syncs, stores and forwards; it signs nothing but its leave. */
    *pzErr = sqlite3_mprintf("unauthorized: a relay: this replica's key has the "
        "role 'relay' in its current view, which may sync and forward ops but "
        "not write; ask an admin to run bec_add_member('<your bec_pubkey()>', "
        "'member')");
    rc = SQLITE_AUTH;
  }else if( rc==SQLITE_OK && bec_kind_needs_admin(kind, 0)
         && role!=BEC_ROLE_ADMIN ){
    *pzErr = sqlite3_mprintf("unauthorized: only an admin may create or drop tables; "
        "this replica's key is a member");
    rc = SQLITE_AUTH;
  }
  return rc;
}

/* Builds, signs and accepts the op; runs inside bec_dag_append's savepoint
** so that the heads it names are read under the write lock. */
static int append_locked(BecCtx *p, int kind, const u8 *aPayload,
                         i64 nPayload, u8 *aHashOut, char **pzErr){
  const u8 *aSecret = 0;
  u8 aGroupId[BEC_HASH_BYTES];
  u8 *aHeads = 0;
  int nHeads = 0;
  BecBuf op;
  int rc;

  memset(&op, 0, sizeof(op));
  memset(aGroupId, 0, sizeof(aGroupId));
  rc = bec_dag_secret(p, &aSecret, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_graph_check(p, pzErr);   /* drops stale caches, loads nothing */
  }
  if( rc==SQLITE_OK && kind==BEC_KIND_CREATE ){
    if( bec_dag_group_id(p, aGroupId, 0)==SQLITE_OK ){
      *pzErr = sqlite3_mprintf("bec: this database already belongs to a group "
                               "(one database holds one group)");
      rc = SQLITE_ERROR;
    }
    memset(aGroupId, 0, sizeof(aGroupId));
  }else if( rc==SQLITE_OK ){
    rc = bec_dag_group_id(p, aGroupId, pzErr);
    if( rc==SQLITE_OK ) rc = check_local_role(p, kind, pzErr);
    if( rc==SQLITE_OK ) rc = current_heads(p, &aHeads, &nHeads);
  }
  if( rc ) return rc;
  bec_op_encode_unsigned(&op, kind, kind==BEC_KIND_CREATE ? 0 : aGroupId,
                         p->aPub, nHeads, aHeads, aPayload, nPayload, &rc);
  bec_op_sign(&op, aSecret, aGroupId, &rc);
  sqlite3_free(aHeads);
  if( rc==SQLITE_OK && kind==BEC_KIND_CREATE ){
    /* The create op's own id is the group id; record it first so the
    ** acceptance path sees a group.  It is rolled back with the op. */
    rc = bec_op_id(op.a, op.n, aGroupId);
    if( rc==SQLITE_OK ){
      rc = bec_config_set_blob(p, "group_id", aGroupId, BEC_HASH_BYTES);
    }
  }
  if( rc==SQLITE_OK ){
    BecAccept res;
    rc = bec_dag_accept(p, op.a, op.n, 1, &res, pzErr);
    if( rc==SQLITE_OK && res.eOutcome==BEC_ACCEPT_REJECTED ){
      /* A local op refused like a peer's would be (say, unauthorized). */
      *pzErr = res.zReason;
      rc = res.rcRefused;
    }else if( rc==SQLITE_OK && res.eOutcome!=BEC_ACCEPT_STORED ){
      *pzErr = sqlite3_mprintf("bec: the new op was not stored");
      rc = SQLITE_ERROR;
    }
    if( rc==SQLITE_OK ) memcpy(aHashOut, res.aId, BEC_HASH_BYTES);
  }
  bec_buf_free(&op);
  return rc;
}

int bec_dag_append(BecCtx *p, int kind, const u8 *aPayload, i64 nPayload,
                   u8 *aHashOut, char **pzErr){
  int rc;
  *pzErr = 0;
  if( nPayload>BEC_MAX_PAYLOAD ){
    *pzErr = sqlite3_mprintf("too large: a payload of %lld bytes exceeds the "
                             "limit of %d", (long long)nPayload, BEC_MAX_PAYLOAD);
    return SQLITE_TOOBIG;
  }
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_begin(p, &spAppend);
  if( rc ){
    if( *pzErr==0 ){
      *pzErr = sqlite3_mprintf("bec: cannot begin the op: %s",
                               bec_rc_text(p->db, rc));
    }
    return rc;
  }
  {
    int nIdFail0 = p->nIdFail;
    rc = append_locked(p, kind, aPayload, nPayload, aHashOut, pzErr);
    if( rc==SQLITE_OK ) rc = id_fail_check(p, nIdFail0, pzErr);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_commit(p, &spAppend);
    if( rc && *pzErr==0 ){
      *pzErr = sqlite3_mprintf("bec: cannot commit the op: %s",
                               bec_rc_text(p->db, rc));
    }
  }else{
    bec_ctx_rollback(p, &spAppend);
  }
  return rc;
}

/**************************************************************************
** Integrity check.
*/
static void report(BecBuf *pOut, int *pnProblem, int *pRc, const char *zFmt, ...){
  va_list ap;
  if( (*pnProblem)++>=100 ) return;
  if( pOut->n ) bec_buf_append(pOut, "\n", 1, pRc);
  va_start(ap, zFmt);
  bec_buf_vappendf(pOut, pRc, zFmt, ap);
  va_end(ap);
}

/**************************************************************************
** Dropped bodies (bec_prune.c decides which; this file is the one writer
** of bec_store_op).  A pruned op keeps its row; its body column holds a
** stub (bec_codec.c): the payload length and hash of its header, the only
** fields of the header its row does not hold already.  Kind and author are
** columns, the predecessors are seqs in preds (their ids in their rows),
** the group tag is the group id's, the key-epoch list is empty in format 2:
** bec_dag_pruned_header rebuilds the exact header, whose hash is the id,
** so the header still proves itself against every id that names it, and
** the checkpoint the cut lies under is sealed by signed attestations
** (COMPACTION.md section 2).  The signature was checked when the op was
** accepted; with the body gone the op is never sent again (sync names it
** as pruned), so nothing here needs it.
*/
int bec_dag_body_dropped(const u8 *a, i64 n){
  i64 nPayload;
  const u8 *aPayloadHash;
  return bec_op_decode_stub(a, n, &nPayload, &aPayloadHash)==SQLITE_OK;
}

static int hash_cmp(const void *a, const void *b){
  return memcmp(a, b, BEC_HASH_BYTES);
}

int bec_dag_pruned_header(BecCtx *p, int iSeq, const u8 *aStub, i64 nStub,
                          BecBuf *pHead, BecOp *pOp, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  u8 aGroupId[BEC_HASH_BYTES];
  u8 aAuthor[BEC_PUBKEY_BYTES];
  BecBuf preds;                   /* the predecessors' ids, then sorted */
  BecBuf seqs;                    /* a copy of the preds column */
  const u8 *aPayloadHash = 0;
  i64 nPayload = 0;
  int kind = 0, nPred = 0, bRow = 0;
  int rc, rc2;

  memset(pOp, 0, sizeof(*pOp));
  memset(&preds, 0, sizeof(preds));
  memset(&seqs, 0, sizeof(seqs));
  if( bec_op_decode_stub(aStub, nStub, &nPayload, &aPayloadHash) ){
    *pzErr = sqlite3_mprintf("malformed: op %d: its stored form is not a "
                             "pruned op's", iSeq);
    return BEC_MALFORMED;
  }
  rc = bec_dag_group_id(p, aGroupId, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT kind, (SELECT pubkey FROM bec_store_author"
        " WHERE id=o.author), preds FROM bec_store_op o WHERE o.seq=?1",
        &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, iSeq);
    if( sqlite3_step(pStmt)==SQLITE_ROW
     && sqlite3_column_bytes(pStmt, 1)==BEC_PUBKEY_BYTES ){
      bRow = 1;
      kind = sqlite3_column_int(pStmt, 0);
      memcpy(aAuthor, sqlite3_column_blob(pStmt, 1), BEC_PUBKEY_BYTES);
      bec_buf_append(&seqs, sqlite3_column_blob(pStmt, 2),
                     sqlite3_column_bytes(pStmt, 2), &rc);
    }
    rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK && !bRow ) rc = SQLITE_CORRUPT;
  if( rc==SQLITE_OK ){
    /* The predecessors' ids, by the seqs the row links to (on an installed
    ** replica a band op's predecessor may be a stand-in: docs/compaction.md
    ** "The band"). */
    BecReader rd;
    int bCut = 0;
    rd.a = seqs.a; rd.n = seqs.n; rd.i = 0;
    rc = bec_graph_cut_exists(p, &bCut);
    if( rc==SQLITE_OK && bCut ){
      rc = bec_ctx_stmt(p, "SELECT hash FROM bec_store_op WHERE seq=?1 UNION ALL"
                        " SELECT id FROM bec_store_cut WHERE seq=?1"
                        " -- a band header's predecessor", &pStmt);
    }else if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(p, "SELECT hash FROM bec_store_op WHERE seq=?1 "
                        "-- a pruned header's predecessor", &pStmt);
    }
    while( rc==SQLITE_OK && rd.i<rd.n ){
      u64 x = 0;
      if( nPred>=BEC_MAX_PRED || bec_read_varint(&rd, &x, 0x7fffffff) ){
        rc = SQLITE_CORRUPT;
        break;
      }
      sqlite3_bind_int64(pStmt, 1, (i64)x);
      if( sqlite3_step(pStmt)==SQLITE_ROW
       && sqlite3_column_bytes(pStmt, 0)==BEC_HASH_BYTES ){
        bec_buf_append(&preds, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES,
                       &rc);
        nPred++;
      }else if( rc==SQLITE_OK ){
        rc = SQLITE_CORRUPT;
      }
      rc2 = sqlite3_reset(pStmt);
      if( rc==SQLITE_OK ) rc = rc2;
    }
  }
  if( rc==SQLITE_OK ){
    /* A header lists its predecessors in id order (bec_codec.c). */
    if( nPred>1 ) qsort(preds.a, (size_t)nPred, BEC_HASH_BYTES, hash_cmp);
    bec_op_encode_header(pHead, kind, kind==BEC_KIND_CREATE ? 0 : aGroupId,
                         aAuthor, 0, 0, nPred, preds.a, nPayload,
                         aPayloadHash, &rc);
  }
  if( rc==SQLITE_OK ) rc = bec_op_decode_pruned(pHead->a, pHead->n, pOp, pzErr);
  if( rc==SQLITE_CORRUPT && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("corrupt: op %d: its row or a predecessor's "
                             "cannot rebuild its pruned header", iSeq);
  }
  sqlite3_free(preds.a);
  sqlite3_free(seqs.a);
  return rc;
}

int bec_dag_drop_body(BecCtx *p, int iSeq, int *pbDropped){
  sqlite3_stmt *pStmt = 0;
  u8 *aHead = 0;
  i64 nHead = 0;
  int rc;
  BecOp op;
  char *zErr = 0;
  *pbDropped = 0;
  rc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) rc = bec_ctx_column_copy(pStmt, &aHead, &nHead);
  sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && aHead && !bec_dag_body_dropped(aHead, nHead)
   && bec_op_decode_header(aHead, nHead, &op, &zErr)==SQLITE_OK
   && op.nPayload>0 ){
    rc = body_to_stub(p, iSeq, &op);
    *pbDropped = rc==SQLITE_OK;
  }
  sqlite3_free(zErr);
  sqlite3_free(aHead);
  return rc;
}

/* *pbOk: op iSeq may have lost its body: a write or app op in the cut of
** the checkpoint bec_prune() last pruned below (bec_store_config
** 'prune_checkpoint'), or an attest or dispute op of an installed band
** (from 'cut_band' up to K, 'cut_top': bec_install.c stores those as
** headers too).  *paCut caches that cut (sqlite3_free it). */
static int dropped_ok(BecCtx *p, BecGraph *g, int iSeq, u8 **paCut, int *pbOk){
  i64 iCp = 0;
  int rc = SQLITE_OK;
  *pbOk = 0;
  if( iSeq<1 || iSeq>g->nNode ) return SQLITE_OK;
  if( g->aNode[iSeq].kind==BEC_KIND_ATTEST
   || g->aNode[iSeq].kind==BEC_KIND_DISPUTE ){
    i64 iBand = 0, iTop = 0;
    rc = bec_config_get_int(p, "cut_band", 0, &iBand);
    if( rc==SQLITE_OK ) rc = bec_config_get_int(p, "cut_top", 0, &iTop);
    *pbOk = rc==SQLITE_OK && iBand>0 && iSeq>=iBand && iSeq<iTop;
    return rc;
  }
  if( g->aNode[iSeq].kind!=BEC_KIND_WRITE && g->aNode[iSeq].kind!=BEC_KIND_APP ){
    return SQLITE_OK;
  }
  if( *paCut==0 ){
    rc = bec_config_get_int(p, "prune_checkpoint", 0, &iCp);
    if( rc || iCp<1 || iCp>g->nNode ) return rc;
    rc = bec_graph_past(g, BEC_NODE_PREDS(g, (int)iCp), g->aNode[iCp].nPred, paCut);
  }
  if( rc==SQLITE_OK ) *pbOk = (*paCut)[iSeq];
  return rc;
}

int bec_dag_check(BecCtx *p, char **pzReport, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecGraph *g = 0;
  BecBuf out;
  u8 aGroupId[BEC_HASH_BYTES];
  int bGroup = 0;
  int nProblem = 0;
  int rc, iD;
  u8 *aHasChild = 0;
  u8 *aPruneCut = 0;              /* the cut pruned below, once asked */
  BecBuf head;                    /* a pruned op's rebuilt header */
  u64 chain = 0;
  BecProgress *pr = 0;
  i64 nSeen = 0;
  int aStoredPred[BEC_MAX_PRED];
  int nStoredPred = 0;
  i64 iCutTop = 0;                /* an installed K: links below it stored */
  int nStandin = 0;               /* nodes without a bec_store_op row */

  memset(&out, 0, sizeof(out));
  memset(&head, 0, sizeof(head));
  *pzReport = 0;
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_progress_begin(p, "bec_check", &pr);
  if( rc ) return rc;
  bGroup = bec_dag_group_id(p, aGroupId, 0)==SQLITE_OK;
  rc = sqlite3_prepare_v2(p->db,
      "SELECT seq, hash, kind, author, depth, target, role, chain, preds, body,"
      " (SELECT pubkey FROM bec_store_author WHERE id=author),"
      " (SELECT pubkey FROM bec_store_author WHERE id=target)"
      " FROM bec_store_op ORDER BY seq", -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    rc = bec_graph_get(p, &g, pzErr);
  }
  if( rc==SQLITE_OK ){
    int bCut = 0;
    rc = bec_graph_cut_exists(p, &bCut);
    if( rc==SQLITE_OK && bCut ){
      rc = bec_config_get_int(p, "cut_top", 0, &iCutTop);
    }
  }
  if( rc==SQLITE_OK ){
    aHasChild = sqlite3_malloc64((sqlite3_uint64)g->nNode + 2);
    if( aHasChild==0 ){
      rc = SQLITE_NOMEM;
    }else{
      int i, j;
      memset(aHasChild, 0, (size_t)g->nNode + 2);
      for(i=1; i<=g->nNode; i++){
        nStandin += BEC_NODE_STANDIN(g, i);
        for(j=0; j<g->aNode[i].nPred; j++){
          int iPred = BEC_NODE_PREDS(g, i)[j];
          if( iPred>=1 && iPred<=g->nNode ) aHasChild[iPred] = 1;
        }
      }
    }
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int iSeq = sqlite3_column_int(pStmt, 0);
    const u8 *aBody = sqlite3_column_blob(pStmt, 9);
    i64 nBody = sqlite3_column_bytes(pStmt, 9);
    const u8 *aStoredHash = sqlite3_column_blob(pStmt, 1);
    const u8 *aAuthorKey = sqlite3_column_blob(pStmt, 10);
    const u8 *aTargetKey = sqlite3_column_blob(pStmt, 11);
    u8 aHash[BEC_HASH_BYTES];
    char zHex[BEC_HASH_BYTES*2+1];
    char *zWhy = 0;
    BecOp op;
    int i, depth = 0;

    if( (++nSeen % BEC_PROGRESS_EVERY)==0 ){
      rc = bec_progress_step(pr, "ops", nSeen, g->nNode);
      if( rc ) break;
    }
    if( sqlite3_column_bytes(pStmt, 1)!=BEC_HASH_BYTES ){
      report(&out, &nProblem, &rc, "op %d: stored hash has the wrong size", iSeq);
      continue;
    }
    bec_hex_encode(aStoredHash, BEC_HASH_BYTES, zHex);
    if( bec_dag_body_dropped(aBody, nBody) ){
      /* Pruned (bec_prune.c): the header is checked as for any op (its
      ** hash, its links), its signature is gone; only a write or app op
      ** below the prune point may have lost its body. */
      int bBelow = 0, rcHead;
      rc = dropped_ok(p, g, iSeq, &aPruneCut, &bBelow);
      if( rc ) break;
      if( !bBelow ){
        report(&out, &nProblem, &rc, "op %s: its body is missing, and it is "
               "not a write or app op below the prune checkpoint, nor an "
               "attest or dispute of an installed band", zHex);
      }
      /* Its header rebuilt from the stub and the row: the id check below
      ** proves the stub, the kind, the author and the links at once. */
      head.n = 0;
      rcHead = bec_dag_pruned_header(p, iSeq, aBody, nBody, &head, &op, &zWhy);
      if( rcHead ){
        if( zWhy==0 ){ rc = rcHead; break; }  /* out of memory, I/O */
        report(&out, &nProblem, &rc, "op %s: %s", zHex, zWhy);
        sqlite3_free(zWhy);
        continue;
      }
    }else if( bec_op_decode(aBody, nBody, &op, &zWhy) ){
      report(&out, &nProblem, &rc, "op %s: %s", zHex, zWhy);
      sqlite3_free(zWhy);
      continue;
    }
    memcpy(aHash, op.aId, BEC_HASH_BYTES);
    if( memcmp(aHash, aStoredHash, BEC_HASH_BYTES) ){
      report(&out, &nProblem, &rc, "op %s: header does not hash to its id",
             zHex);
      continue;
    }
    if( !bGroup ){
      report(&out, &nProblem, &rc, "op %s stored but no group id", zHex);
    }else if( op.kind==BEC_KIND_CREATE
             ? memcmp(aHash, aGroupId, BEC_HASH_BYTES)
             : memcmp(op.aGroupTag, aGroupId, BEC_GROUP_TAG_BYTES) ){
      report(&out, &nProblem, &rc, "op %s: belongs to another group", zHex);
    }else if( op.aSig && !bec_crypto_verify_op(&op, aGroupId) ){
      report(&out, &nProblem, &rc, "op %s: bad signature", zHex);
    }
    if( op.kind!=sqlite3_column_int(pStmt, 2)
     || aAuthorKey==0 || memcmp(aAuthorKey, op.aAuthor, BEC_PUBKEY_BYTES)
     || (op.aTarget!=0)!=(aTargetKey!=0)
     || (op.aTarget && memcmp(aTargetKey, op.aTarget, BEC_PUBKEY_BYTES))
     || (op.role!=sqlite3_column_int(pStmt, 6)
         && !(op.kind==BEC_KIND_WRITE && op.role==0     /* (an admin op) */
              && sqlite3_column_int(pStmt, 6)==BEC_ROLE_ADMIN)) ){
      report(&out, &nProblem, &rc, "op %s: columns disagree with its body", zHex);
    }
    /* The stored links (the graph's, except below an installed K, where
    ** the node before stands for them: bec_graph.c, "Stand-ins"). */
    nStoredPred = 0;
    if( bec_graph_unpack_preds(sqlite3_column_blob(pStmt, 8),
                               sqlite3_column_bytes(pStmt, 8), aStoredPred,
                               &nStoredPred)
     || iSeq<1 || iSeq>g->nNode || nStoredPred!=op.nPred
     || (iSeq>iCutTop && (g->aNode[iSeq].nPred!=op.nPred
                          || memcmp(BEC_NODE_PREDS(g, iSeq), aStoredPred,
                                    sizeof(int)*(size_t)op.nPred))) ){
      report(&out, &nProblem, &rc, "op %s: predecessors disagree with its body",
             zHex);
      continue;
    }
    for(i=0; i<op.nPred; i++){
      int iPred = aStoredPred[i];
      int bFound = 0, j;
      if( iPred<1 || iPred>=iSeq ){
        report(&out, &nProblem, &rc, "op %s: predecessor not stored before it",
               zHex);
        continue;
      }
      for(j=0; j<op.nPred; j++){
        if( bec_graph_id_cmp_to(g, iPred, &op.aPred[j*BEC_HASH_BYTES])==0 ){
          bFound = 1;
        }
      }
      if( !bFound ){
        report(&out, &nProblem, &rc, "op %s: predecessor link is wrong", zHex);
      }
      if( g->aNode[iPred].depth+1>depth ) depth = g->aNode[iPred].depth+1;
    }
    if( depth!=sqlite3_column_int(pStmt, 4) ){
      report(&out, &nProblem, &rc, "op %s: stored depth is wrong", zHex);
    }
    chain = bec_graph_chain_next(chain, aHash);
    if( (i64)chain!=sqlite3_column_int64(pStmt, 7)
     && !(sqlite3_column_int64(pStmt, 7)==0 && iSeq<g->nNode
          && bec_dag_body_dropped(aBody, nBody)) ){
      report(&out, &nProblem, &rc, "op %s: chain digest is wrong", zHex);
    }
  }
  sqlite3_finalize(pStmt);
  pStmt = 0;
  if( rc==SQLITE_OK ){
    /* The heads are exactly the ops with no successor (in the graph: a
    ** stand-in names the node before it, and is never a head). */
    int nHead = 0, nExpected = 0, i;
    rc = sqlite3_prepare_v2(p->db, "SELECT seq FROM bec_store_head", -1, &pStmt, 0);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      int iSeq = sqlite3_column_int(pStmt, 0);
      nHead++;
      if( iSeq<1 || iSeq>g->nNode || aHasChild[iSeq]
       || BEC_NODE_STANDIN(g, iSeq) ){
        report(&out, &nProblem, &rc, "head %d is not a head", iSeq);
      }
    }
    sqlite3_finalize(pStmt);
    for(i=1; i<=g->nNode; i++){
      if( !aHasChild[i] && !BEC_NODE_STANDIN(g, i) ) nExpected++;
    }
    if( rc==SQLITE_OK && nHead!=nExpected ){
      report(&out, &nProblem, &rc, "%d heads stored, %d expected", nHead, nExpected);
    }
  }
  if( rc==SQLITE_OK ){
    /* Each op is found by its id: one prefix row per op, no other. */
    rc = sqlite3_prepare_v2(p->db, "SELECT (SELECT count(*) FROM"
        " bec_store_op_id), (SELECT count(*) FROM bec_store_op o WHERE NOT"
        " EXISTS (SELECT 1 FROM bec_store_op_id i WHERE i.seq=o.seq AND"
        " i.prefix=substr(o.hash,1,8)))", -1, &pStmt, 0);
    if( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW
     && (sqlite3_column_int(pStmt, 0)!=g->nNode - nStandin
         || sqlite3_column_int(pStmt, 1)!=0) ){
      report(&out, &nProblem, &rc, "the index of ids is wrong: %d rows for %d "
             "ops, %d ops not in it", sqlite3_column_int(pStmt, 0),
             g->nNode - nStandin, sqlite3_column_int(pStmt, 1));
    }
    if( sqlite3_finalize(pStmt) && rc==SQLITE_OK ) rc = SQLITE_ERROR;
    pStmt = 0;
  }
  if( rc==SQLITE_OK ) rc = bec_progress_step(pr, "ops", g->nNode, g->nNode);
  for(iD=0; rc==SQLITE_OK && iD<p->nDeriver; iD++){
    char *zProblems = 0;
    if( p->apDeriver[iD]->xCheck==0 ) continue;
    rc = bec_progress_step(pr, p->apDeriver[iD]->zName, iD, p->nDeriver);
    if( rc ) break;
    rc = p->apDeriver[iD]->xCheck(p, &zProblems, pzErr);
    if( rc==SQLITE_OK && zProblems ){
      report(&out, &nProblem, &rc, "%s", zProblems);
    }
    sqlite3_free(zProblems);
  }
  sqlite3_free(aHasChild);
  sqlite3_free(aPruneCut);
  bec_buf_free(&head);
  bec_progress_end(pr);
  if( rc==SQLITE_INTERRUPT && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec_check: stopped by its progress callback");
  }
  if( rc==SQLITE_OK && nProblem>100 ){
    report(&out, &nProblem, &rc, "... and %d more problems", nProblem-100);
  }
  if( rc==SQLITE_OK && nProblem==0 ){
    bec_buf_append(&out, "ok", 2, &rc);
  }
  bec_buf_append_u8(&out, 0, &rc);
  if( rc==SQLITE_OK ){
    *pzReport = (char*)out.a;
  }else{
    bec_buf_free(&out);
    if( *pzErr==0 ) *pzErr = sqlite3_mprintf("bec_check: %s", bec_rc_text(p->db, rc));
  }
  return rc;
}

/**************************************************************************
** The cut of an installed snapshot (docs/compaction.md "The snapshot
** join"; COMPACTION.md section 7: "present without headers").  A joiner
** that installs a snapshot holds K's cut without the ops' headers:
**
**   bec_store_cut(id, seq, depth, valid)
**
** gives each op of the cut that something stored names (a candidate of a
** register in the merge base, a head of the cut, a chain op's
** predecessor) a seq in bec_store_op's seq space, its depth (from the row
** leaf or the proof, both under R) and, where a proof gives it, its
** validity in S(K) (NULL: named by a row only).  One id has one depth and
** one validity: a snapshot naming an op at two depths (or proving two
** validities) is refused, so a stand-in never gets a second seq.
**
** Seqs.  A stand-in takes the seq after every stored op and stand-in, so
** that the seqs stay a topological order once the install stores the
** chain ops that name stand-ins, then K, then the ops after K.  An op
** stored in full (a chain op of the cut, proven too) keeps its own seq:
** the lookup asks bec_store_op first.  The table is created by
** bec_dag_cut_begin, which the install calls first (once: not per lookup):
** a database that never installed a snapshot has none.
**
** In the graph (bec_graph.c, "Stand-ins") a stand-in is a node of no
** author whose one edge is the node before it: that node leaves
** bec_store_head, and a stand-in is never a head.  bec_dag_cut_close(K)
** records K in bec_store_config 'cut_top': every node up to K then has
** that one edge, so every op descending from K has the whole cut in its
** past; the heads below K go.
*/
static const char zCutSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_cut("
  "  id BLOB PRIMARY KEY, seq INTEGER NOT NULL UNIQUE,"
  "  depth INTEGER NOT NULL, valid INTEGER) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_cut_conc(seq INTEGER PRIMARY KEY);";

/* *piSeq: the seq of op aId at depth iDepth, validity bValid (-1: not
** proven): a stored op's, else its stand-in's, allocated when new; -1
** when aId is known at another depth or with the other validity. */
static int cut_seq(BecCtx *p, const u8 *aId, i64 iDepth, int bValid,
                   int *piSeq){
  sqlite3_stmt *pStmt = 0;
  int rc, iSeq = 0, bFound = 0;
  *piSeq = 0;
  if( iDepth<0 || iDepth>0x7fffffff ){ *piSeq = -1; return SQLITE_OK; }
  rc = op_seq_of(p, aId, &iSeq);
  if( rc==SQLITE_OK && iSeq ){
    /* an op stored in full: its depth is what it was stored with */
    rc = bec_ctx_stmt(p, "SELECT depth, valid FROM bec_store_op WHERE seq=?1",
                      &pStmt);
    if( rc ) return rc;
    sqlite3_bind_int(pStmt, 1, iSeq);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      if( sqlite3_column_int64(pStmt, 0)!=iDepth
       || (bValid>=0 && (sqlite3_column_int(pStmt, 1)!=0)!=bValid) ){
        iSeq = -1;
      }
    }
    rc = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) *piSeq = iSeq;
    return rc;
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT seq, depth, valid FROM bec_store_cut"
                         " WHERE id=?1", &pStmt);
  }
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aId, BEC_HASH_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    int bOld = sqlite3_column_type(pStmt, 2)==SQLITE_NULL ? -1
             : sqlite3_column_int(pStmt, 2)!=0;
    bFound = 1;
    iSeq = sqlite3_column_int(pStmt, 0);
    if( sqlite3_column_int64(pStmt, 1)!=iDepth
     || (bValid>=0 && bOld>=0 && bOld!=bValid) ){
      iSeq = -1;
    }else if( bValid<0 || bOld>=0 ){
      bFound = 2;                  /* nothing to add to the row */
    }
  }
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && iSeq<0 ){ *piSeq = -1; return SQLITE_OK; }
  if( rc==SQLITE_OK && bFound==1 ){
    /* a proof gives the validity of an op a row named */
    rc = bec_ctx_stmt(p, "UPDATE bec_store_cut SET valid=?2 WHERE id=?1",
                      &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_blob(pStmt, 1, aId, BEC_HASH_BYTES, SQLITE_STATIC);
      sqlite3_bind_int(pStmt, 2, bValid);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }else if( rc==SQLITE_OK && bFound==0 ){
    i64 iNext = 0;
    rc = bec_ctx_stmt(p, "SELECT max(coalesce((SELECT max(seq) FROM bec_store_op),"
                         " 0), coalesce((SELECT max(seq) FROM bec_store_cut), 0))",
                      &pStmt);
    if( rc ) return rc;
    if( sqlite3_step(pStmt)==SQLITE_ROW ) iNext = sqlite3_column_int64(pStmt, 0) + 1;
    rc = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK && (iNext<1 || iNext>0x7fffffff) ) rc = SQLITE_FULL;
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(p, "INSERT INTO bec_store_cut(id, seq, depth, valid)"
                           " VALUES(?1, ?2, ?3, ?4)", &pStmt);
    }
    if( rc==SQLITE_OK ){
      sqlite3_bind_blob(pStmt, 1, aId, BEC_HASH_BYTES, SQLITE_STATIC);
      sqlite3_bind_int64(pStmt, 2, iNext);
      sqlite3_bind_int64(pStmt, 3, iDepth);
      if( bValid>=0 ) sqlite3_bind_int(pStmt, 4, bValid);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
    iSeq = (int)iNext;
    if( rc==SQLITE_OK ){
      /* its one edge, to the node before it (bec_graph.c): that node is no
      ** head; a stand-in never is one (it has no body to offer) */
      rc = bec_ctx_stmt(p, "DELETE FROM bec_store_head WHERE seq=?1", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, iSeq-1);
        sqlite3_step(pStmt);
        rc = sqlite3_reset(pStmt);
      }
    }
    if( rc==SQLITE_OK ){
      /* the caches count it: the next op stored takes the seq after it, a
      ** loaded graph gets its node (or reloads) */
      if( p->bKnown && iSeq>p->nKnown ) p->nKnown = iSeq;
      if( p->pGraph && p->pGraph->nNode+1==iSeq ){
        rc = bec_graph_append_standin(p->pGraph, aId, (int)iDepth, bValid!=0);
      }else if( p->pGraph ){
        p->bGraphStale = 1;
      }
    }
  }
  if( rc==SQLITE_OK ) *piSeq = iSeq;
  return rc;
}

int bec_dag_cut_begin(BecCtx *p, char **pzErr){
  int rc = bec_ctx_exec(p, zCutSchema, pzErr);
  if( rc==SQLITE_OK ) p->eCut = 2;
  return rc;
}

/* The headers below K (the band's, and the losing writes' the snapshot
** carried) are pruned rows, as on a pruned replica: chain 0 on a stub
** below the last row, so that the kind and author indexes
** (BEC_OP_INDEXED) hold none of them.  (Below K the install stores only
** the create, the chain ops and these headers: a short scan.) */
static int cut_band_pruned(BecCtx *p, int iK){
  sqlite3_stmt *pStmt = 0;
  BecBuf seqs;
  int rc, i;
  memset(&seqs, 0, sizeof(seqs));
  rc = bec_ctx_stmt(p, "SELECT seq, body FROM bec_store_op WHERE seq<?1",
                    &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iK);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( bec_dag_body_dropped(sqlite3_column_blob(pStmt, 1),
                             sqlite3_column_bytes(pStmt, 1)) ){
      int s = sqlite3_column_int(pStmt, 0);
      bec_buf_append(&seqs, &s, sizeof(s), &rc);
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  for(i=0; rc==SQLITE_OK && i<(int)(seqs.n/sizeof(int)); i++){
    int s;
    memcpy(&s, seqs.a + i*sizeof(int), sizeof(int));
    rc = bec_ctx_stmt(p, "UPDATE bec_store_op SET chain=0 WHERE seq=?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, s);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  bec_buf_free(&seqs);
  return rc;
}

int bec_dag_cut_close(BecCtx *p, int iK, char **pzErr){
  int iKind = 0, iTop = 0;
  int rc = bec_dag_node_of(p, iK, &iKind, 0);
  if( rc==SQLITE_OK ) rc = bec_dag_cut_top(p, &iTop);
  if( rc==SQLITE_OK && (iKind==0 || iK<iTop) ){
    /* the install passes K, stored after every stand-in */
    *pzErr = sqlite3_mprintf("bec: op #%d is not stored after the cut", iK);
    return SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "cut_top", iK);
  if( rc==SQLITE_OK ) rc = cut_band_pruned(p, iK);
  if( rc==SQLITE_OK ){
    /* every op below K now has a successor, the node after it */
    sqlite3_stmt *pStmt = 0;
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_head WHERE seq<?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iK);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  /* every node up to K now has the node before it as predecessor */
  if( rc==SQLITE_OK ) p->bGraphStale = 1;
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot close the cut: %s", bec_rc_text(p->db, rc));
  }
  return rc;
}

int bec_dag_cut_top(BecCtx *p, int *piTop){
  sqlite3_stmt *pStmt = 0;
  int bCut = 0;
  int rc = bec_graph_cut_exists(p, &bCut);
  *piTop = 0;
  if( rc || !bCut ) return rc;
  rc = bec_ctx_stmt(p, "SELECT max(seq) FROM bec_store_cut", &pStmt);
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *piTop = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

int bec_dag_cut_band(BecCtx *p, int iBand, char **pzErr){
  int rc = bec_config_set_int(p, "cut_band", iBand);
  if( rc==SQLITE_OK ) p->bGraphStale = 1;
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot record the band: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

int bec_dag_cut_seq(void *pArg, const u8 *aId, i64 iDepth, int *piSeq){
  return cut_seq((BecCtx*)pArg, aId, iDepth, -1, piSeq);
}

int bec_dag_cut_prove(BecCtx *p, const u8 *aId, i64 iDepth, int bValid,
                      int *piSeq){
  return cut_seq(p, aId, iDepth, bValid!=0, piSeq);
}

/*
** AN OP CONCURRENT WITH K (docs/compaction.md "An op concurrent with the
** installed checkpoint").  Once the cut is closed, the graph gives every
** node up to K the node before it as its one predecessor, so any op whose
** highest predecessor lies in the cut would see all of the cut below it as
** its past.  That is true of an op that descends from K and false of an
** op concurrent with K (an author offline since before K): its real past
** holds only part of the cut, and membership and the merge would judge it
** against the linearised cut.  So, on a database with 'cut_top' set:
**
**   an op is AFTER K when one of its predecessors is K or a stored op with
**   a seq above K's that descends from K (every such op but those listed
**   in bec_store_cut_conc); otherwise (every predecessor a stand-in, a
**   chain or band op stored below K, the create, or a listed op) it is
**   CONCURRENT with K, or an op of the cut that the snapshot did not name.
**   Such an op is stored, and listed, when the snapshot's band places it:
**   it reaches every boundary op (cut_fits, bec_graph_band_check;
**   docs/compaction.md "The band"), so the graph gives it exactly its
**   past.  Otherwise it is not stored.
**
** Why the rule is sound: every op stored after the close went through
** this rule (bec_dag_accept is the one road in, local ops included: they
** name the heads, all at or above K), so by induction every stored op above
** K descends from K, whose past is the whole cut, or is listed; an op
** naming one that descends from K has the whole cut in its real past,
** exactly what the graph gives it.
** The rule reads only the op's predecessors and what is stored, never
** arrival order: an op that waits now is judged when its past is here.
**
** What such an op does: it waits in the pending area, its missing links
** its predecessors (their headers are what this replica lacks), until the
** replica holds its real past: the fall-back to a full join (a replica
** that stores the history in full, where every stand-in becomes a stored
** op and releases it).  Such an op by a known key (one that signed a
** stored op or was added or removed by one: every member of the cut, whose
** adds are chain ops stored in full) starts the fall-back, through
** BecCtx.xRejoin at the end of bec_dag_accept (bec_rejoin.c); the first is
** recorded in bec_store_config 'rejoin_op', so the replica reports that it
** fell back (or must, when a deriver could not reset), and why
** (bec_dag_rejoin_op; bec_sync_state's "rejoin").  A hostile peer can make
** that happen with any member's key: a cost (a full join), never a wrong
** state, since nothing is stored for the op.  An unknown key's op waits as
** any op of an unknown key does (evictable, bounded), and starts nothing:
** an outsider cannot cancel a snapshot join.
*/
/* *pb: stored op iSeq (above K) is an op concurrent with K that was
** placed against the band (bec_store_cut_conc). */
static int cut_is_conc(BecCtx *p, int iSeq, int *pb){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_cut_conc WHERE seq=?1",
                        &pStmt);
  *pb = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  *pb = sqlite3_step(pStmt)==SQLITE_ROW;
  return sqlite3_reset(pStmt);
}

static int cut_record(BecCtx *p, int iSeq){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "INSERT INTO bec_store_cut_conc(seq) VALUES(?1)",
                        &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

/* *pbFits: an op with predecessors aPredSeq, concurrent with K (seq iTop),
** reaches every boundary op of the band that starts at seq iBand (the
** band's rule, bec_graph_band_check: docs/compaction.md "The band").  In
** the graph the band ops and K keep their own edges, and every node below
** iBand is an op of the cut outside the band, held without a header. */
static int cut_fits(BecCtx *p, int iBand, int iTop, const int *aPredSeq,
                    int nPred, int *pbFits){
  BecGraph *g = 0;
  u8 *aStop = 0, *aMark = 0;
  BecBuf bound;
  int rc, x, j, nMiss = 0;
  *pbFits = 0;
  memset(&bound, 0, sizeof(bound));
  rc = bec_graph_get(p, &g, 0);
  if( rc==SQLITE_OK && (iBand<1 || iTop>g->nNode || iBand>iTop) ){
    rc = SQLITE_CORRUPT;
  }
  if( rc==SQLITE_OK ){
    aStop = sqlite3_malloc64((u64)g->nNode+1);
    aMark = sqlite3_malloc64((u64)g->nNode+1);
    if( aStop==0 || aMark==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ){
    memset(aStop, 0, (size_t)g->nNode+1);
    memset(aStop, 1, (size_t)iBand);
    memset(aMark, 0, (size_t)g->nNode+1);
    /* the boundary: what K and the band ops name below the band (aMark
    ** as scratch: each once) */
    for(x=iBand; rc==SQLITE_OK && x<=iTop; x++){
      const int *a = BEC_NODE_PREDS(g, x);
      for(j=0; j<g->aNode[x].nPred; j++){
        if( a[j]>=iBand || aMark[a[j]] ) continue;
        aMark[a[j]] = 1;
        bec_buf_append(&bound, &a[j], sizeof(int), &rc);
      }
    }
    memset(aMark, 0, (size_t)g->nNode+1);
  }
  if( rc==SQLITE_OK ){
    rc = bec_graph_band_check(g, aStop, (const int*)bound.a,
                              (int)(bound.n/sizeof(int)), aPredSeq, nPred,
                              aMark, 0, &nMiss);
  }
  if( rc==SQLITE_OK ) *pbFits = nMiss==0;
  sqlite3_free(aStop);
  sqlite3_free(aMark);
  bec_buf_free(&bound);
  return rc;
}

static int cut_concurrent(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                          int *pbConc, int *pbPlaced){
  i64 iTop = 0, iBand = 0;
  int bCut = 0, i, rc, bFits = 0;
  *pbConc = 0;
  *pbPlaced = 0;
  if( pOp->nPred==0 ) return SQLITE_OK;    /* the create: stored at seq 1 */
  rc = bec_graph_cut_exists(p, &bCut);
  if( rc || !bCut ) return rc;
  rc = bec_config_get_int(p, "cut_top", 0, &iTop);
  if( rc==SQLITE_OK && iTop>0 ) rc = bec_config_get_int(p, "cut_band", 0, &iBand);
  if( rc || iTop<=0 ) return rc;
  /* after K: a predecessor is K, or an op above K that descends from K
  ** (on a replica installed by an older bec, without 'cut_band', every op
  ** above K does: none concurrent is stored there) */
  for(i=0; i<pOp->nPred; i++){
    int bConc = 0;
    if( aPredSeq[i]==iTop ) return SQLITE_OK;
    if( aPredSeq[i]<iTop ) continue;
    if( iBand>0 ) rc = cut_is_conc(p, aPredSeq[i], &bConc);
    if( rc || !bConc ) return rc;
  }
  /* concurrent with K: stored if the band places it (its reach holds
  ** every boundary op; an empty band starts at K, whose predecessors are
  ** then the boundary), else it waits (no 'cut_band': it always does) */
  if( iBand>0 && iBand<=iTop ){
    rc = cut_fits(p, (int)iBand, (int)iTop, aPredSeq, pOp->nPred, &bFits);
  }
  if( rc==SQLITE_OK ){
    *pbPlaced = bFits;
    *pbConc = !bFits;
  }
  return rc;
}

/* Parks op pOp, concurrent with K, under the pending area's bounds
** (SQLITE_FULL with *pzErr if it does not fit), and records it as the
** reason to fall back when it is the first by a known key. */
static int cut_wait(BecCtx *p, const BecOp *pOp, const u8 *aHash,
                    char **pzErr){
  int iAuthor = 0, bSet = 0;
  u8 aOld[BEC_HASH_BYTES];
  int rc = pending_park(p, pOp, aHash, pOp->aPred, pOp->nPred, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_author_id(p, pOp->aAuthor, 0, &iAuthor);
  if( rc==SQLITE_OK && iAuthor ) rc = bec_dag_rejoin_op(p, aOld, &bSet);
  if( rc==SQLITE_OK && iAuthor && !bSet ){
    rc = bec_config_set_blob(p, "rejoin_op", aHash, BEC_HASH_BYTES);
  }
  /* bec_dag_accept falls back (or, if that was blocked, tries again);
  ** a caller that can still ask a peer for a longer band falls back
  ** itself when none comes (bec_sync.c, bec_install_extend) */
  if( rc==SQLITE_OK && iAuthor ){
    if( p->bRejoinDefer ) p->bBandWanted = 1;
    else p->bRejoinDue = 1;
  }
  return rc;
}

int bec_dag_rejoin_op(BecCtx *p, u8 *aId, int *pbSet){
  u8 *a = 0;
  int n = 0, bCut = 0;
  int rc = bec_graph_cut_exists(p, &bCut);
  *pbSet = 0;
  if( rc==SQLITE_OK ) rc = bec_config_get_blob(p, "rejoin_op", &a, &n);
  if( rc==SQLITE_OK && a && n==BEC_HASH_BYTES ){
    memcpy(aId, a, BEC_HASH_BYTES);
    *pbSet = bCut ? 1 : 2;
  }else if( rc==SQLITE_OK && a ){
    rc = SQLITE_CORRUPT;
  }
  sqlite3_free(a);
  return rc;
}

/*
** THE FALL-BACK, THE DAG'S PART (bec_rejoin.c runs it; docs/compaction.md
** "An op concurrent with the installed checkpoint").  The replica becomes
** a full joiner without losing an op: every op stored in full (the create,
** the chain ops, K, the ops after K, its own) is KEPT as a body to ingest
** again; the stored sequence, the ids, the heads, the cut table and
** 'cut_top' go, so nothing is stored but what arrives again with its whole
** past.  The create is given back to the caller, which ingests it first
** (the group's first op needs nothing); every other kept body waits in the
** pending area for all of its predecessors, released in causal order as
** they are stored (the create, then the history the peers send: a full
** sync, since the heads are again only what is stored).
**
** Kept bodies wait with no author (bec_store_pending.author NULL): the
** bounds of the pending area are for what peers send, and a kept body is
** what this replica had stored, so it counts against no bound and is never
** evicted (pending_usage and pending_make_room read only rows with an
** author).  It leaves the area only when stored, or dropped because a
** predecessor was refused (then no full replica stores it either).
**
** What stays: bec_store_author (small ids for keys, which no rule orders
** by; its keys, all of ops this replica had stored, stay known to the
** pending bounds), the pending ops peers sent, the rejection log, and
** 'rejoin_op', which now says the replica fell back.  A pruned op's stub is
** no body to send again: the peers send it, as to any full joiner.
*/

/* Parks kept body aBody (an op stored here before) for all its
** predecessors, outside every bound. */
static int rejoin_keep(BecCtx *p, const u8 *aBody, i64 nBody){
  sqlite3_stmt *pStmt = 0;
  BecOp op;
  char *zErr = 0;
  int rc, i;
  rc = bec_op_decode(aBody, nBody, &op, &zErr);
  sqlite3_free(zErr);
  if( rc ) return SQLITE_CORRUPT;       /* it was stored: it decoded then */
  rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_pending(hash, body,"
                       " nmissing, received_at, author)"
                       " VALUES(?1, ?2, ?3, ?4, NULL)", &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, op.aId, BEC_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob64(pStmt, 2, aBody, (sqlite3_uint64)nBody, SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 3, op.nPred);
    sqlite3_bind_int64(pStmt, 4, (i64)time(0));
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  for(i=0; rc==SQLITE_OK && i<op.nPred; i++){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_pending_missing(missing, hash) "
                         "VALUES(?1, ?2)", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_blob(pStmt, 1, &op.aPred[i*BEC_HASH_BYTES], BEC_HASH_BYTES,
                        SQLITE_STATIC);
      sqlite3_bind_blob(pStmt, 2, op.aId, BEC_HASH_BYTES, SQLITE_STATIC);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  return rc;
}

/* The stored sequence, the ids, the heads, the cut and its config go
** (a fall-back, or a band extended: the install is stored again). */
static int store_forget(BecCtx *p, char **pzErr){
  int rc = bec_ctx_exec(p, "DELETE FROM bec_store_op; DELETE FROM bec_store_op_id;"
                           " DELETE FROM bec_store_head;"
                           " DROP TABLE IF EXISTS bec_store_cut;"
                           " DROP TABLE IF EXISTS bec_store_cut_conc;", pzErr);
  if( rc==SQLITE_OK ) rc = bec_config_set_blob(p, "cut_top", 0, 0);
  if( rc==SQLITE_OK ) rc = bec_config_set_blob(p, "cut_band", 0, 0);
  if( rc==SQLITE_OK ) rc = bec_config_set_blob(p, "prune_checkpoint", 0, 0);
  return rc;
}

int bec_dag_rejoin_reset(BecCtx *p, u8 **ppCreate, i64 *pnCreate,
                         char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc, bCut = 0;
  *ppCreate = 0;
  *pnCreate = 0;
  rc = bec_graph_cut_exists(p, &bCut);
  if( rc==SQLITE_OK && !bCut ) rc = SQLITE_MISUSE;   /* nothing installed */
  if( rc==SQLITE_OK ){
    /* seq order: the create first; a pruned row's stub is no op to send
    ** again (a replica that pruned after its install lets the peers send
    ** those bodies, as to any full joiner) */
    rc = bec_ctx_stmt(p, "SELECT body, seq FROM bec_store_op ORDER BY seq",
                      &pStmt);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const u8 *a = sqlite3_column_blob(pStmt, 0);
    i64 n = sqlite3_column_bytes(pStmt, 0);
    if( a==0 || bec_dag_body_dropped(a, n) ) continue;
    if( sqlite3_column_int(pStmt, 1)==1 ){
      rc = bec_ctx_column_copy(pStmt, ppCreate, pnCreate);
    }else{
      rc = rejoin_keep(p, a, n);
    }
  }
  if( pStmt ){
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK && *ppCreate==0 ) rc = SQLITE_CORRUPT;  /* seq 1 */
  if( rc==SQLITE_OK ) rc = store_forget(p, pzErr);
  /* not installed any more: no snapshot to ask for */
  if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "join_snapshot", 0);
  if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "rejoined", 1);
  /* every cache counted the old sequence */
  bec_dag_forget(p);
  if( rc ){
    sqlite3_free(*ppCreate);
    *ppCreate = 0;
    *pnCreate = 0;
    if( *pzErr==0 ){
      *pzErr = sqlite3_mprintf("bec: cannot fall back to a full join: %s",
                               bec_rc_text(p->db, rc));
    }
  }
  return rc;
}

int bec_dag_install_op(BecCtx *p, const BecOp *pOp, i64 iDepth, int *piSeq,
                       char **pzErr){
  int aPredSeq[BEC_MAX_PRED];
  int rc, i, iSeq = 0, iGot = 0;
  char zId[2*BEC_HASH_BYTES+1];
  *piSeq = 0;
  bec_hex_encode(pOp->aId, BEC_HASH_BYTES, zId);
  p->bGraphChecked = 0;
  rc = bec_graph_check(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_seq_of(p, pOp->aId, &iSeq);
  if( rc==SQLITE_OK && iSeq ){
    *pzErr = sqlite3_mprintf("the op %s of the cut is named twice", zId);
    return SQLITE_ERROR;
  }
  for(i=0; rc==SQLITE_OK && i<pOp->nPred; i++){
    rc = bec_dag_seq_of(p, &pOp->aPred[i*BEC_HASH_BYTES], &aPredSeq[i]);
    if( rc==SQLITE_OK && aPredSeq[i]==0 ){
      *pzErr = sqlite3_mprintf("a predecessor of the op %s is not in the "
                               "cut", zId);
      return SQLITE_ERROR;
    }
  }
  /* no admission: the snapshot's checks judged it (its validity is
  ** derived again once the cut is closed, and compared) */
  p->bCovering = 0;
  if( rc==SQLITE_OK ) rc = store_op(p, pOp, pOp->aId, aPredSeq, 0, pzErr);
  if( rc==SQLITE_OK ) rc = pred_depth(p, 0, p->nKnown, &iGot);
  if( rc==SQLITE_OK && iDepth>=0 && iGot!=iDepth ){
    *pzErr = sqlite3_mprintf("the op %s of the cut is proven at depth %lld, "
        "its predecessors give %d", zId, iDepth, iGot);
    return SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ) *piSeq = p->nKnown;
  return rc;
}

/*
** A LONGER BAND (docs/compaction.md "The band", "A longer band").  The
** install is stored again with the longer band (bec_install_extend): the
** ops stored above K are kept as bodies, in seq order, the stored
** sequence goes (store_forget), and once the install is stored again they
** are accepted again, judged by the same rules from the same past.  The
** ops waiting as concurrent with K are judged again by
** bec_dag_pending_retry.
*/
int bec_dag_reinstall_reset(BecCtx *p, BecBuf *pKept, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  i64 iTop = 0;
  int rc = bec_config_get_int(p, "cut_top", 0, &iTop);
  if( rc==SQLITE_OK && iTop<=0 ) rc = SQLITE_MISUSE;     /* nothing installed */
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq>?1"
                         " ORDER BY seq", &pStmt);
  }
  if( rc==SQLITE_OK ) sqlite3_bind_int64(pStmt, 1, iTop);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const u8 *a = sqlite3_column_blob(pStmt, 0);
    i64 n = sqlite3_column_bytes(pStmt, 0);
    if( a==0 || bec_dag_body_dropped(a, n) ){
      /* pruned after the install: no body to store again */
      *pzErr = sqlite3_mprintf("this replica pruned ops after its "
                               "checkpoint: their bodies cannot be stored again");
      rc = SQLITE_ERROR;
    }else{
      bec_buf_append_framed(pKept, a, n, &rc);
    }
  }
  if( pStmt ){
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK ) rc = store_forget(p, pzErr);
  bec_dag_forget(p);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot store the install again: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

int bec_dag_pending_retry(BecCtx *p, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  HashList held, queue, doomed;
  int rc, i;
  memset(&held, 0, sizeof(held));
  memset(&queue, 0, sizeof(queue));
  memset(&doomed, 0, sizeof(doomed));
  *pzErr = 0;
  rc = bec_ctx_begin(p, &spIngest);
  if( rc ) return rc;
  p->nAccepting++;
  rc = bec_ctx_stmt(p, "SELECT DISTINCT missing FROM bec_store_pending_missing",
                    &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int iSeq = 0;
    if( sqlite3_column_bytes(pStmt, 0)!=BEC_HASH_BYTES ){ rc = SQLITE_CORRUPT; break; }
    rc = bec_dag_seq_of(p, sqlite3_column_blob(pStmt, 0), &iSeq);
    if( rc==SQLITE_OK && iSeq ){
      bec_buf_append(&held.buf, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES, &rc);
    }
  }
  if( pStmt ){
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  for(i=0; rc==SQLITE_OK && i<HASHLIST_N(&held); i++){
    rc = pending_release(p, HASHLIST_AT(&held, i), &queue);
  }
  if( rc==SQLITE_OK ) rc = release_queue(p, &queue, &doomed, pzErr);
  if( rc==SQLITE_OK && p->bRejoinDue && p->xRejoin ){
    p->bRejoinDue = 0;
    rc = p->xRejoin(p, pzErr);
  }
  if( rc==SQLITE_OK ) rc = bec_ctx_commit(p, &spIngest);
  else bec_ctx_rollback(p, &spIngest);
  p->nAccepting--;
  bec_buf_free(&held.buf);
  bec_buf_free(&queue.buf);
  bec_buf_free(&doomed.buf);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot store the ops waiting for their "
                             "past: %s", bec_rc_text(p->db, rc));
  }
  return rc;
}

int bec_dag_pending_preds(BecCtx *p, const u8 *aId, BecBuf *pOut){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT body FROM bec_store_pending WHERE hash=?1",
                        &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aId, BEC_HASH_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    BecOp op;
    char *zErr = 0;
    if( bec_op_decode(sqlite3_column_blob(pStmt, 0),
                      sqlite3_column_bytes(pStmt, 0), &op, &zErr)==SQLITE_OK ){
      bec_buf_append(pOut, op.aPred, (i64)op.nPred*BEC_HASH_BYTES, &rc);
    }
    sqlite3_free(zErr);
  }
  if( rc==SQLITE_OK ) rc = sqlite3_reset(pStmt);
  else sqlite3_reset(pStmt);
  return rc;
}
