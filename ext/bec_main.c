/*
** bec_main.c - the entry point and the SQL functions of the op DAG.
**
**   .load ./build/bec
**   SELECT bec_keygen();                 -- this database's identity
**   SELECT bec_create_group();           -- the group's create op
**   SELECT bec_sign(x'68656c6c6f');      -- an app op, signed
**   SELECT * FROM bec_ops;               -- the DAG
**   SELECT bec_ingest(bec_op(:hash));    -- on another replica
**
** Function flags: SQLITE_DIRECTONLY on everything that writes or signs, so
** triggers and views in an untrusted schema cannot call them;
** SQLITE_DETERMINISTIC only where the result depends on the arguments
** alone; SQLITE_INNOCUOUS where a call under attacker control is harmless.
*/
#include "becInt.h"

#ifndef SQLITE_CORE
SQLITE_EXTENSION_INIT1
#endif

#include <sodium.h>
#include <xxhash.h>

#define BEC_MIN_SQLITE 3040000

static BecCtx *fn_ctx(sqlite3_context *ctx){
  return (BecCtx*)sqlite3_user_data(ctx);
}

/* Makes sure the storage tables exist; reports and returns non-zero if not. */
static int fn_schema(sqlite3_context *ctx, const char *zFunc){
  char *zErr = 0;
  int rc = bec_dag_ensure_schema(fn_ctx(ctx), &zErr);
  if( rc && zErr==0 ){
    zErr = sqlite3_mprintf("cannot open its storage tables: %s",
                           bec_rc_text(fn_ctx(ctx)->db, rc));
  }
  if( rc ) bec_fn_error_in(ctx, zFunc, rc, zErr);
  return rc;
}

/* bec_version(): the version alone ("0.1.0"), for comparisons and logs. */
static void fnVersion(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  sqlite3_result_text(ctx, BEC_VERSION, -1, SQLITE_STATIC);
}

/* The compiler that built this file, for bec_build_info(). */
#if defined(__clang__)
# define BEC_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
# define BEC_COMPILER "gcc " __VERSION__
#else
# define BEC_COMPILER "unknown"
#endif

/* bec_build_info(): how this bec was built and what it runs on, as one JSON
** object (keys in docs/reference.md), for bug reports. */
static void fnBuildInfo(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  char *z = sqlite3_mprintf("{\"version\":\"%s\",\"op_format\":%d,"
      "\"sqlite_compiled\":\"%s\",\"sqlite_running\":\"%s\","
      "\"libsodium\":\"%s\",\"xxhash\":\"%u.%u.%u\",\"compiler\":\"%s\","
      "\"built\":\"%s %s\",\"sanitizers\":%s}",
      BEC_VERSION, BEC_FORMAT_VERSION, SQLITE_VERSION, sqlite3_libversion(),
      sodium_version_string(), XXH_VERSION_MAJOR, XXH_VERSION_MINOR,
      XXH_VERSION_RELEASE, BEC_COMPILER, __DATE__, __TIME__,
#if defined(__SANITIZE_ADDRESS__)
      "true"
#else
      "false"
#endif
      );
  if( z==0 ) sqlite3_result_error_nomem(ctx);
  else sqlite3_result_text(ctx, z, -1, sqlite3_free);
}

/* bec_keygen([passphrase]): a new identity key pair; returns the public
** key.  With a passphrase the secret is stored sealed in the database;
** without, it goes to the key file (bec_keyfile.c), written and fsynced
** before the public key is stored, or for a database without a file, to
** this connection's memory. */
static void fnKeygen(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = fn_ctx(ctx);
  u8 *aOld = 0;
  int nOld = 0;
  u8 aPub[BEC_PUBKEY_BYTES], aSecret[BEC_SECKEY_BYTES];
  char *zCreated = 0, *zErr = 0;
  int rc;
  if( fn_schema(ctx, "bec_keygen") ) return;
  if( argc==1 && (sqlite3_value_type(argv[0])!=SQLITE_TEXT
                  || sqlite3_value_bytes(argv[0])==0) ){
    bec_fn_error(ctx, SQLITE_ERROR,
             sqlite3_mprintf("bec_keygen: the passphrase must be non-empty text"));
    return;
  }
  rc = bec_config_get_blob(p, "pubkey", &aOld, &nOld);
  sqlite3_free(aOld);
  if( rc==SQLITE_OK && nOld ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_keygen: this database "
             "already has an identity (see bec_pubkey())"));
    return;
  }
  if( rc==SQLITE_OK ){
    bec_crypto_keypair(aPub, aSecret);
    if( argc==1 ){
      u8 *aSealed = 0;
      int nSealed = 0;
      rc = bec_crypto_seal(aSecret, (const char*)sqlite3_value_text(argv[0]),
                           sqlite3_value_bytes(argv[0]), &aSealed, &nSealed);
      if( rc==SQLITE_OK ){
        rc = bec_config_set_blob(p, "seckey_sealed", aSealed, nSealed);
      }
      sqlite3_free(aSealed);
    }else{
      rc = bec_key_save(p, aSecret, &zCreated, &zErr);
    }
  }
  if( rc==SQLITE_OK ) rc = bec_config_set_blob(p, "pubkey", aPub, BEC_PUBKEY_BYTES);
  if( rc==SQLITE_OK ){
    memcpy(p->aSecret, aSecret, BEC_SECKEY_BYTES);
    memcpy(p->aPub, aPub, BEC_PUBKEY_BYTES);
    p->bUnlocked = 1;
    p->eKeySrc = argc==1 ? BEC_KEY_SEALED : zCreated ? BEC_KEY_FILE : BEC_KEY_MEMORY;
    bec_fn_result_hex(ctx, aPub, BEC_PUBKEY_BYTES);
  }else{
    /* No identity was stored: the key file written for it goes too. */
    bec_key_discard(zCreated);
    bec_fn_error_in(ctx, "bec_keygen", rc,
                    zErr ? zErr : sqlite3_mprintf("%s", sqlite3_errmsg(p->db)));
    zErr = 0;
  }
  bec_crypto_wipe(aSecret, sizeof(aSecret));
  sqlite3_free(zCreated);
  sqlite3_free(zErr);
}

/* bec_pubkey(): this database's public key, or NULL. */
static void fnPubkey(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  u8 *a = 0;
  int n = 0;
  int rc;
  if( fn_schema(ctx, "bec_pubkey") ) return;
  rc = bec_config_get_blob(fn_ctx(ctx), "pubkey", &a, &n);
  if( rc ) bec_fn_error(ctx, rc, sqlite3_mprintf("bec_pubkey: cannot read the "
           "key: %s", bec_rc_text(fn_ctx(ctx)->db, rc)));
  else if( n==BEC_PUBKEY_BYTES ) bec_fn_result_hex(ctx, a, n);
  sqlite3_free(a);
}

/* bec_unlock(passphrase): unseals the secret key for this connection.  An
** unsealed key needs no passphrase: it is read from its key file now, so a
** missing or unsafe file is reported here. */
static void fnUnlock(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = fn_ctx(ctx);
  u8 *aSealed = 0;
  int nSealed = 0;
  u8 aSeed[BEC_SEED_BYTES];
  int rc;
  if( fn_schema(ctx, "bec_unlock") ) return;
  rc = bec_config_get_blob(p, "seckey_sealed", &aSealed, &nSealed);
  if( rc==SQLITE_OK && aSealed==0 ){
    char *zErr = 0;
    rc = bec_key_load(p, &zErr);
    if( rc ){
      bec_fn_error_in(ctx, "bec_unlock", rc, zErr);
    }else{
      sqlite3_result_int(ctx, 1);   /* not sealed: nothing to unlock */
    }
    return;
  }
  if( rc==SQLITE_OK ){
    rc = bec_crypto_unseal(aSealed, nSealed,
                           (const char*)sqlite3_value_text(argv[0]),
                           sqlite3_value_bytes(argv[0]), aSeed);
  }
  sqlite3_free(aSealed);
  if( rc==SQLITE_OK ){
    bec_crypto_secret_from_seed(aSeed, p->aPub, p->aSecret);
    p->bUnlocked = 1;
    p->eKeySrc = BEC_KEY_SEALED;
    sqlite3_result_int(ctx, 1);
  }else if( rc==SQLITE_AUTH ){
    bec_fn_error(ctx, SQLITE_AUTH, sqlite3_mprintf("bec_unlock: wrong passphrase"));
  }else{
    bec_fn_error(ctx, rc, sqlite3_mprintf("bec_unlock: the sealed key is damaged"));
  }
  bec_crypto_wipe(aSeed, sizeof(aSeed));
}

/* bec_lock(): forgets the unlocked secret key; a key from a key file is
** read again when next needed.  The key of a database without a file stays:
** memory is its only copy. */
static void fnLock(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = fn_ctx(ctx);
  if( p->eKeySrc!=BEC_KEY_MEMORY ){
    bec_crypto_wipe(p->aSecret, sizeof(p->aSecret));
    p->bUnlocked = 0;
    p->eKeySrc = BEC_KEY_NONE;
  }
  sqlite3_result_int(ctx, 1);
}

/* bec_key_file([path]): sets this connection's key file (NULL: back to the
** default beside the database); returns the key file in effect, or NULL if
** the key lives in memory only.  DIRECTONLY: the path is the app's to say. */
static void fnKeyFile(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = fn_ctx(ctx);
  char *zPath = 0;
  int rc = SQLITE_OK;
  if( argc==1 ){
    int eType = sqlite3_value_type(argv[0]);
    const char *z = (const char*)sqlite3_value_text(argv[0]);
    if( eType!=SQLITE_NULL && (eType!=SQLITE_TEXT || z==0 || z[0]==0
        || (int)strlen(z)!=sqlite3_value_bytes(argv[0])) ){
      bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_key_file: the path "
               "must be non-empty text (or NULL for the default)"));
      return;
    }
    rc = bec_key_set_path(p, eType==SQLITE_NULL ? 0 : z);
  }
  if( rc==SQLITE_OK ) rc = bec_key_path(p, &zPath);
  if( rc ) bec_fn_error_in(ctx, "bec_key_file", rc, 0);
  else if( zPath ) sqlite3_result_text(ctx, zPath, -1, sqlite3_free);
  else sqlite3_result_null(ctx);
}

/* bec_create_group(): appends the create op; returns the group id. */
static void fnCreateGroup(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  u8 aNonce[BEC_NONCE_BYTES], aHash[BEC_HASH_BYTES];
  char *zErr = 0;
  int rc;
  bec_crypto_random(aNonce, sizeof(aNonce));
  rc = bec_dag_append(fn_ctx(ctx), BEC_KIND_CREATE, aNonce, sizeof(aNonce),
                      aHash, &zErr);
  if( rc ) bec_fn_error_in(ctx, "bec_create_group", rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

/* bec_group_id(): the group id, or NULL. */
static void fnGroupId(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  u8 aGroup[BEC_HASH_BYTES];
  if( fn_schema(ctx, "bec_group_id") ) return;
  if( bec_dag_group_id(fn_ctx(ctx), aGroup, 0)==SQLITE_OK ){
    bec_fn_result_hex(ctx, aGroup, BEC_HASH_BYTES);
  }
}

/* bec_join(group_id): this database will accept that group's ops.
** bec_join(token): the same for the token's group, and this replica asks
** to be added in its next syncs (bec_invite.c).
** bec_join(group_id|token, 'snapshot'): and its syncs ask for a snapshot
** while it holds no op (bec_snapshot.c, docs/compaction.md "The snapshot
** join"); 'full', the default, replays the whole history. */
static void fnJoin(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = fn_ctx(ctx);
  u8 aGroup[BEC_HASH_BYTES], aOld[BEC_HASH_BYTES];
  int rc, bSnap = 0;
  if( fn_schema(ctx, "bec_join") ) return;
  if( argc==2 ){
    const char *zHow = (const char*)sqlite3_value_text(argv[1]);
    if( zHow && sqlite3_stricmp(zHow, "snapshot")==0 ) bSnap = 1;
    else if( zHow==0 || sqlite3_stricmp(zHow, "full") ){
      bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_join: the second "
               "argument is 'snapshot' or 'full' (the default)"));
      return;
    }
    if( bSnap ){
      int bEmpty = 0;
      rc = bec_snapshot_may_join(p, &bEmpty);
      if( rc ){
        bec_fn_error_in(ctx, "bec_join", rc, 0);
        return;
      }
      if( !bEmpty ){
        bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_join: a snapshot "
                 "join needs a database that holds no op yet"));
        return;
      }
    }
  }
  if( sqlite3_value_type(argv[0])==SQLITE_TEXT
   && bec_invite_is_token((const char*)sqlite3_value_text(argv[0]),
                          sqlite3_value_bytes(argv[0])) ){
    /* An invitation: the redemption is kept, then the group is joined. */
    char *zErr = 0;
    rc = bec_invite_join(p, (const char*)sqlite3_value_text(argv[0]),
                         sqlite3_value_bytes(argv[0]), aGroup, &zErr);
    if( rc ){
      bec_fn_error_in(ctx, "bec_join", rc, zErr);
      return;
    }
  }else if( !bec_fn_arg32(argv[0], aGroup) ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_join: give an "
             "invitation token (bec_invite() on an admin's replica) or the "
             "group id, 64 hex characters (bec_group_id() on a member)"));
    return;
  }
  if( bec_dag_group_id(p, aOld, 0)==SQLITE_OK ){
    if( memcmp(aOld, aGroup, BEC_HASH_BYTES) ){
      bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_join: this database "
               "already belongs to another group (one database holds one group)"));
      return;
    }
    rc = argc==2 ? bec_config_set_int(p, "join_snapshot", bSnap) : SQLITE_OK;
  }else{
    rc = bec_config_set_blob(p, "group_id", aGroup, BEC_HASH_BYTES);
    if( rc==SQLITE_OK && argc==2 ){
      rc = bec_config_set_int(p, "join_snapshot", bSnap);
    }
  }
  if( rc ) bec_fn_error(ctx, rc, sqlite3_mprintf("bec_join: cannot record the "
           "group id: %s", bec_rc_text(p->db, rc)));
  else bec_fn_result_hex(ctx, aGroup, BEC_HASH_BYTES);
}

/* bec_sign(payload): appends an app op; returns its hash. */
static void fnSign(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  u8 aHash[BEC_HASH_BYTES];
  char *zErr = 0;
  int rc;
  if( sqlite3_value_type(argv[0])==SQLITE_NULL ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_sign: the payload is NULL"));
    return;
  }
  rc = bec_dag_append(fn_ctx(ctx), BEC_KIND_APP, sqlite3_value_blob(argv[0]),
                      sqlite3_value_bytes(argv[0]), aHash, &zErr);
  if( rc ) bec_fn_error_in(ctx, "bec_sign", rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

/* bec_op(hash): the encoding of a stored op, or NULL. */
static void fnOp(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = fn_ctx(ctx);
  sqlite3_stmt *pStmt = 0;
  u8 aHash[BEC_HASH_BYTES];
  int rc;
  if( fn_schema(ctx, "bec_op") ) return;
  if( !bec_fn_arg32(argv[0], aHash) ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_op: the hash must be 64 "
             "hex characters or a 32-byte blob"));
    return;
  }
  rc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op o WHERE "
                       BEC_OP_ID_IS("o", "?2", "?1"), &pStmt);
  if( rc ){
    bec_fn_error(ctx, rc, sqlite3_mprintf("bec_op: %s", bec_rc_text(p->db, rc)));
    return;
  }
  sqlite3_bind_blob(pStmt, 1, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
  sqlite3_bind_blob(pStmt, 2, aHash, BEC_ID_PREFIX, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    if( bec_dag_body_dropped(sqlite3_column_blob(pStmt, 0),
                             sqlite3_column_bytes(pStmt, 0)) ){
      /* Only the header is held (bec_prune): no op a peer could ingest. */
      sqlite3_reset(pStmt);
      bec_fn_error_in(ctx, "bec_op", SQLITE_NOTFOUND,
                      bec_prune_message(p, aHash));
      return;
    }
    sqlite3_result_value(ctx, sqlite3_column_value(pStmt, 0));
  }
  sqlite3_reset(pStmt);
}

/* bec_ingest(blob): verifies and stores one op; returns its hash. */
static void fnIngest(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecAccept res;
  char *zErr = 0;
  int rc;
  if( sqlite3_value_type(argv[0])!=SQLITE_BLOB ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_ingest: malformed: the op "
             "must be a blob (from bec_op())"));
    return;
  }
  rc = bec_dag_accept(fn_ctx(ctx), sqlite3_value_blob(argv[0]),
                      sqlite3_value_bytes(argv[0]), 0, &res, &zErr);
  if( rc==SQLITE_OK && res.eOutcome==BEC_ACCEPT_REJECTED ){
    /* A refused op is this call's error: the caller sent it. */
    rc = res.rcRefused;
    zErr = res.zReason;
  }
  if( rc ){
    bec_fn_error_in(ctx, "bec_ingest", rc, zErr);
  }else{
    if( res.eOutcome==BEC_ACCEPT_STORED ) bec_checkpoint_settle(fn_ctx(ctx));
    bec_fn_result_hex(ctx, res.aId, BEC_HASH_BYTES);
  }
}

/* bec_verify(blob [, group_id]): 1 if the encoding and its signature are
** sound on their own, else 0. */
static void fnVerify(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecOp op;
  char *zErr = 0;
  u8 aGroup[BEC_HASH_BYTES];
  int bOk = 0;
  if( sqlite3_value_type(argv[0])==SQLITE_BLOB
   && bec_op_decode(sqlite3_value_blob(argv[0]), sqlite3_value_bytes(argv[0]),
                    &op, &zErr)==SQLITE_OK ){
    if( op.kind==BEC_KIND_CREATE ){
      bOk = bec_crypto_verify_op(&op, 0);
    }else if( argc==2 ){
      bOk = bec_fn_arg32(argv[1], aGroup) && bec_crypto_verify_op(&op, aGroup);
    }else{
      if( fn_schema(ctx, "bec_verify") ) return;
      bOk = bec_dag_group_id(fn_ctx(ctx), aGroup, 0)==SQLITE_OK
         && memcmp(op.aGroupTag, aGroup, BEC_GROUP_TAG_BYTES)==0
         && bec_crypto_verify_op(&op, aGroup);
    }
  }
  sqlite3_free(zErr);
  sqlite3_result_int(ctx, bOk);
}

/* bec_check(): re-verifies everything stored; 'ok' or the problems. */
static void fnCheck(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  char *zReport = 0, *zErr = 0;
  int rc = bec_dag_check(fn_ctx(ctx), &zReport, &zErr);
  if( rc ) bec_fn_error_in(ctx, "bec_check", rc, zErr);
  else sqlite3_result_text(ctx, zReport, -1, sqlite3_free);
}

/* bec_dot([limit | options]): the DAG as Graphviz DOT (bec_dot.c). */
static void fnDot(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  char *zDot = 0, *zErr = 0;
  int rc = bec_dot_render(fn_ctx(ctx), argc ? argv[0] : 0, &zDot, &zErr);
  if( rc ) bec_fn_error_in(ctx, "bec_dot", rc, zErr);
  else sqlite3_result_text(ctx, zDot, -1, sqlite3_free);
}

/* bec_config(name [, value]): reads or sets a limit. */
static void fnConfig(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  static const struct { const char *zName; i64 iDefault; i64 iMin; } aKnob[] = {
    { "pending_max_ops",   10000,            1 },
    { "pending_max_bytes", 64*1024*1024,     1024 },
    { "rejected_max",      1000,             1 },
    { "pending_key_max_ops",   BEC_PENDING_KEY_MAX_OPS,   1 },
    { "pending_key_max_bytes", BEC_PENDING_KEY_MAX_BYTES, 1024 },
  };
  const char *zName = (const char*)sqlite3_value_text(argv[0]);
  BecCtx *p = fn_ctx(ctx);
  size_t i;
  i64 v = 0;
  int rc;
  if( fn_schema(ctx, "bec_config") ) return;
  if( zName && strcmp(zName, "checkpoint_k")==0 ){
    /* Recorded in the group by a signed op, not a local knob. */
    bec_checkpoint_config(ctx, p, argc, argv);
    return;
  }
  for(i=0; i<sizeof(aKnob)/sizeof(aKnob[0]); i++){
    if( zName && strcmp(zName, aKnob[i].zName)==0 ) break;
  }
  if( i==sizeof(aKnob)/sizeof(aKnob[0]) ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_config: unknown setting "
             "'%s' (known: pending_max_ops, pending_max_bytes, rejected_max, "
             "pending_key_max_ops, pending_key_max_bytes, checkpoint_k)",
             zName ? zName : ""));
    return;
  }
  if( argc==2 ){
    if( sqlite3_value_type(argv[1])!=SQLITE_INTEGER
     || sqlite3_value_int64(argv[1])<aKnob[i].iMin ){
      bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_config: %s must be an "
               "integer of at least %lld", zName, (long long)aKnob[i].iMin));
      return;
    }
    rc = bec_config_set_int(p, aKnob[i].zName, sqlite3_value_int64(argv[1]));
    if( rc ){
      bec_fn_error(ctx, rc, sqlite3_mprintf("bec_config: cannot set %s: %s",
                                            zName, bec_rc_text(p->db, rc)));
      return;
    }
  }
  rc = bec_config_get_int(p, aKnob[i].zName, aKnob[i].iDefault, &v);
  if( rc ) bec_fn_error(ctx, rc, sqlite3_mprintf("bec_config: cannot read %s: %s",
                                                 zName, bec_rc_text(p->db, rc)));
  else sqlite3_result_int64(ctx, v);
}

#define DIRECT   (SQLITE_UTF8|SQLITE_DIRECTONLY)
#define READS    (SQLITE_UTF8|SQLITE_INNOCUOUS)
#define PURE     (SQLITE_UTF8|SQLITE_INNOCUOUS|SQLITE_DETERMINISTIC)

static const BecFunc aFunc[] = {
  { "bec_version",      0, PURE,   fnVersion },
  { "bec_build_info",   0, PURE,   fnBuildInfo },
  { "bec_keygen",       0, DIRECT, fnKeygen },
  { "bec_keygen",       1, DIRECT, fnKeygen },
  { "bec_pubkey",       0, READS,  fnPubkey },
  { "bec_unlock",       1, DIRECT, fnUnlock },
  { "bec_lock",         0, DIRECT, fnLock },
  { "bec_key_file",     0, DIRECT, fnKeyFile },
  { "bec_key_file",     1, DIRECT, fnKeyFile },
  { "bec_create_group", 0, DIRECT, fnCreateGroup },
  { "bec_group_id",     0, READS,  fnGroupId },
  { "bec_join",         1, DIRECT, fnJoin },
  { "bec_join",         2, DIRECT, fnJoin },
  { "bec_sign",         1, DIRECT, fnSign },
  { "bec_op",           1, READS,  fnOp },
  { "bec_ingest",       1, DIRECT, fnIngest },
  { "bec_verify",       1, READS,  fnVerify },
  { "bec_verify",       2, PURE,   fnVerify },
  { "bec_check",        0, DIRECT, fnCheck },
  { "bec_dot",          0, READS,  fnDot },
  { "bec_dot",          1, READS,  fnDot },
  { "bec_config",       1, READS,  fnConfig },
  { "bec_config",       2, DIRECT, fnConfig },
};

/* The scratch databases of bec_checkpoint.c: an in-memory database with
** bec loaded, whose context is marked bScratch.  With bec installed as an
** auto-extension, opening the database loads it already; ppScratchCtx then
** catches the context that load makes. */
static __thread BecCtx **ppScratchCtx = 0;

static int scratch_open(sqlite3 **ppDb, BecCtx **ppCtx, char **pzErr){
  sqlite3 *db = 0;
  BecCtx *pCtx = 0;
  char *zErr = 0;
  int rc;
  *ppDb = 0;
  *ppCtx = 0;
  ppScratchCtx = &pCtx;
  rc = sqlite3_open_v2(":memory:", &db,
                       SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0);
  if( rc==SQLITE_OK && pCtx==0 ){
#ifdef SQLITE_CORE
    rc = sqlite3_bec_init(db, &zErr, 0);
#else
    rc = sqlite3_bec_init(db, &zErr, sqlite3_api);
#endif
  }
  ppScratchCtx = 0;
  if( rc==SQLITE_OK && pCtx==0 ) rc = SQLITE_ERROR;
  if( rc ){
    *pzErr = sqlite3_mprintf("checkpoint: cannot open a scratch database: %s",
                             zErr ? zErr : sqlite3_errstr(rc));
    sqlite3_free(zErr);
    if( pCtx ) bec_ctx_finalize_stmts(pCtx);
    sqlite3_close_v2(db);
    if( pCtx ) bec_ctx_unref(pCtx);
    return rc==SQLITE_NOMEM ? rc : SQLITE_ERROR;
  }
  *ppDb = db;
  *ppCtx = pCtx;                 /* one reference, the caller's */
  return SQLITE_OK;
}

/* A key stored in bec_store_config by an older bec moves out as bec is
** loaded: no statement of the connection runs yet (with .load,
** sqlite3_load_extension or sqlite3_auto_extension), so the WAL can be
** checkpointed and emptied at once (see bec_keyfile.c).  Failures wait for
** the first call that needs the key, which reports them. */
static void move_key_at_open(BecCtx *p){
  sqlite3_stmt *pStmt = 0;
  char *zErr = 0;
  if( sqlite3_db_readonly(p->db, "main")==0 ){
    (void)bec_key_migrate(p, &zErr);
    sqlite3_free(zErr);
  }
  bec_dag_upgrade_at_open(p);
  /* sqlite3_open fails if an auto-extension leaves an error code behind
  ** (a database without bec tables gives "no such table"): a statement
  ** that prepares cleanly resets it. */
  if( sqlite3_prepare_v2(p->db, "SELECT 1", -1, &pStmt, 0)==SQLITE_OK ){
    sqlite3_finalize(pStmt);
  }
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_bec_init(sqlite3 *db, char **pzErrMsg,
                     const sqlite3_api_routines *pApi){
  static const BecDeriver *const apDeriver[] = {
    &bec_member_deriver, &bec_crdt_deriver, &bec_sync_deriver,
    &bec_root_deriver,
    &bec_names_deriver, &bec_invite_deriver,
    &bec_e2ee_deriver, &bec_checkpoint_deriver,
#ifdef BEC_TEST_TOY_KIND
    &bec_toy_deriver,
#endif
  };
  BecCtx *pCtx = 0;
  int rc = SQLITE_OK;
  size_t i;
  SQLITE_EXTENSION_INIT2(pApi);

  if( sqlite3_libversion_number()<BEC_MIN_SQLITE ){
    *pzErrMsg = sqlite3_mprintf("bec needs SQLite 3.40.0 or newer; this is %s",
                                sqlite3_libversion());
    return SQLITE_ERROR;
  }
  if( bec_crypto_init() ){
    *pzErrMsg = sqlite3_mprintf("bec: libsodium failed to initialize");
    return SQLITE_ERROR;
  }
  /* A database of another op format is refused on open, before anything
  ** reads its ops. */
  if( bec_dag_check_format(db, pzErrMsg) ) return SQLITE_ERROR;
  rc = bec_ctx_new(db, &pCtx);
  if( rc ) return rc;
  /* The floors meet here only: the derivers hear the DAG's events in this
  ** order (membership decides validity before the tables merge). */
  pCtx->xForget = bec_dag_forget;
  pCtx->xScratch = scratch_open;
  pCtx->xSettle = bec_checkpoint_settle;
  pCtx->xRejoin = bec_rejoin_start;
  pCtx->xFinal = bec_checkpoint_final;
  pCtx->xRootFacts = bec_root_facts;
  if( ppScratchCtx && *ppScratchCtx==0 ){
    pCtx->bScratch = 1;
    *ppScratchCtx = bec_ctx_ref(pCtx);
  }
  for(i=0; rc==SQLITE_OK && i<sizeof(apDeriver)/sizeof(apDeriver[0]); i++){
    rc = bec_ctx_add_deriver(pCtx, apDeriver[i]);
  }
  if( rc==SQLITE_OK ) rc = sqlite3_create_module_v2(db, "bec_conn", &bec_conn_module,
                                bec_ctx_ref(pCtx), bec_ctx_unref);
  if( rc==SQLITE_OK ) rc = bec_vtab_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_member_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_table_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_feed_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_batch_register(db);
  if( rc==SQLITE_OK ) rc = bec_names_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_invite_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_progress_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_sync_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_root_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_e2ee_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_checkpoint_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_prune_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_snapshot_register(db, pCtx);
  if( rc==SQLITE_OK ) rc = bec_install_register(db, pCtx);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_register_funcs(db, pCtx, aFunc,
                                (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  }
  if( rc ){
    *pzErrMsg = sqlite3_mprintf("bec: cannot register: %s", sqlite3_errstr(rc));
  }else{
    move_key_at_open(pCtx);
  }
  bec_ctx_unref(pCtx);
  return rc;
}

#ifndef SQLITE_CORE
/* The entry point SQLite tries before the one it derives from the file
** name: the module loads whatever its file is called.  Only in the loadable
** module (ext/bec.map exports these two); a static libbec.a must not
** define it, as other extensions linked beside it may. */
#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_extension_init(sqlite3 *db, char **pzErrMsg,
                           const sqlite3_api_routines *pApi){
  return sqlite3_bec_init(db, pzErrMsg, pApi);
}
#endif
