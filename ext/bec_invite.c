/*
** bec_invite.c - invitations: joining a group without exchanging keys by
** hand (docs/membership.md, "Invitations").
**
**   SELECT bec_invite('member');           -- an admin: a one-time token
**   SELECT bec_join('becinv1...');         -- the newcomer, on its replica
**   ... sync with the inviter (SQL sync or becsync) ...
**   SELECT * FROM bec_invites;             -- the inviter: open/used/...
**
** A token carries the group id, the first 8 bytes of the inviter's key,
** the role, a 16-byte one-time secret, an expiry date and, if the inviter
** gave them (bec_invite(role, seconds, 'host:port,...')), where to sync:
**
**   token   := "becinv1" base64url(group:32 inviter:8 role:u8 secret:16
**                                  expires:varint relays:rest)
**
** The secret derives an Ed25519 "invite key": seed = hash("bec-invite-
** seed-v1" || secret || group).  The inviter keeps only its public half
** (bec_store_invite), so neither a copy of the inviter's database nor its
** SQL tables reveal anything that redeems the invite.  The newcomer's
** bec_join(token) signs, with the invite key, the statement "add this key
** to this group" and keeps only that signature, the redemption:
**
**   redemption := invite_pk:32 newcomer_pk:32
**                 sig:64 (domain "bec-invite-v1", message group || newcomer_pk)
**
** The newcomer presents it in every sync message it sends while it is not
** a member (the INVITE field of docs/sync.md; in becsync, after its
** handshake signature), to whichever replica it syncs with.  Only the
** inviter's replica holds the invite: it checks the signature, the expiry,
** that the invite is unused or was used by this same key, and that its own
** key may still add members in its current view; then it signs an ordinary
** add(newcomer, role) op, marks the invite used by that key, and the op
** reaches the newcomer in the same session.  So:
**   - a token is single use: once used, another key's redemption is
**     refused ("already used"); a leaked used token does nothing;
**   - a leaked redemption can only add the key it names, once;
**   - a token leaked before use lets its finder join instead: it is a
**     bearer secret, like any invitation link (docs say so); revoke it
**     with bec_invite_revoke(invite) if in doubt.
** Redemption is local policy of the inviter (when to sign an add), not a
** rule of the DAG: what every replica checks is the add op, as always.
**
** Stored (by this file only):
**   bec_store_invite(invite, role, created, expires, revoked, used_by,
**                    used_op, refusal)        at the inviter
**   bec_store_join(invite, inviter, role, expires, relays, redemption,
**                  joined)                    at the newcomer
*/
#include "becInt.h"

#include <time.h>

#define TOKEN_PREFIX      "becinv1"
#define TOKEN_PREFIX_LEN  7
#define SECRET_BYTES      16
#define INVITER_BYTES     8
#define RELAYS_MAX        200
#define RELAYS_MAX_TEXT   "200"
#define TOKEN_MAX_BYTES   (BEC_HASH_BYTES + INVITER_BYTES + 1 + SECRET_BYTES \
                           + 10 + RELAYS_MAX)
#define DEFAULT_SECONDS   (7*86400)
#define MAX_SECONDS       (366*86400)
#define SEED_DOMAIN       "bec-invite-seed-v1"
#define REDEEM_DOMAIN     "bec-invite-v1"

static const char zInviteSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_invite("
  "  invite BLOB PRIMARY KEY, role INTEGER NOT NULL, created INTEGER NOT NULL,"
  "  expires INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
  "  used_by BLOB, used_op BLOB, refusal TEXT) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_join("
  "  invite BLOB PRIMARY KEY, inviter BLOB NOT NULL, role INTEGER NOT NULL,"
  "  expires INTEGER NOT NULL, relays TEXT NOT NULL,"
  "  redemption BLOB NOT NULL, joined INTEGER NOT NULL) WITHOUT ROWID;";

static int invite_schema(BecCtx *p, char **pzErr){
  return bec_ctx_exec(p, zInviteSchema, pzErr);
}

/* Invitations derive nothing from ops: the deriver only owns tables. */
const BecDeriver bec_invite_deriver = {
  "invites", BEC_DERIVE_NONE, invite_schema, 0, 0, 0, 0, 0, 0
};

/* The invite key of a secret: aPub always, aSecret if not 0 (wiped by the
** caller). */
static void invite_key(const u8 *aSecretBytes, const u8 *aGroup, u8 *aPub,
                       u8 *aSecret){
  u8 aMsg[sizeof(SEED_DOMAIN)-1 + SECRET_BYTES + BEC_HASH_BYTES];
  u8 aSeed[BEC_HASH_BYTES], aSk[BEC_SECKEY_BYTES];
  memcpy(aMsg, SEED_DOMAIN, sizeof(SEED_DOMAIN)-1);
  memcpy(&aMsg[sizeof(SEED_DOMAIN)-1], aSecretBytes, SECRET_BYTES);
  memcpy(&aMsg[sizeof(SEED_DOMAIN)-1+SECRET_BYTES], aGroup, BEC_HASH_BYTES);
  bec_crypto_hash(aMsg, sizeof(aMsg), aSeed);
  bec_crypto_secret_from_seed(aSeed, aPub, aSk);
  if( aSecret ) memcpy(aSecret, aSk, BEC_SECKEY_BYTES);
  bec_crypto_wipe(aSeed, sizeof(aSeed));
  bec_crypto_wipe(aSk, sizeof(aSk));
  bec_crypto_wipe(aMsg, sizeof(aMsg));
}

/* What a redemption's signature covers: group || newcomer key. */
static void redeem_message(const u8 *aGroup, const u8 *aKey, u8 *aMsg){
  memcpy(aMsg, aGroup, BEC_HASH_BYTES);
  memcpy(&aMsg[BEC_HASH_BYTES], aKey, BEC_PUBKEY_BYTES);
}

static i64 now(void){ return (i64)time(0); }

/**************************************************************************
** Tokens.
*/
typedef struct Token Token;
struct Token {
  u8 aGroup[BEC_HASH_BYTES];
  u8 aInviter[INVITER_BYTES];
  int role;
  u8 aSecret[SECRET_BYTES];        /* wiped by whoever decoded it */
  i64 iExpires;
  char zRelays[RELAYS_MAX+1];
};

/* The token text of t: from sqlite3_malloc64, 0 if out of memory. */
static char *token_encode(const Token *t){
  BecBuf b;
  char *zB64, *z = 0;
  int rc = SQLITE_OK;
  memset(&b, 0, sizeof(b));
  bec_buf_append(&b, t->aGroup, BEC_HASH_BYTES, &rc);
  bec_buf_append(&b, t->aInviter, INVITER_BYTES, &rc);
  bec_buf_append_u8(&b, (u8)t->role, &rc);
  bec_buf_append(&b, t->aSecret, SECRET_BYTES, &rc);
  bec_buf_append_varint(&b, (u64)t->iExpires, &rc);
  bec_buf_append(&b, t->zRelays, (i64)strlen(t->zRelays), &rc);
  if( rc ){
    bec_buf_free(&b);
    return 0;
  }
  zB64 = bec_crypto_b64_encode(b.a, (int)b.n);
  bec_crypto_wipe(b.a, (size_t)b.n);
  bec_buf_free(&b);
  if( zB64 ) z = sqlite3_mprintf(TOKEN_PREFIX "%s", zB64);
  sqlite3_free(zB64);
  return z;
}

/* Decodes a token; *pzErr (from sqlite3_mprintf) says what is wrong. */
static int token_decode(const char *z, int nz, Token *t, char **pzErr){
  u8 a[TOKEN_MAX_BYTES];
  BecReader rd;
  const u8 *x = 0;
  u64 v = 0;
  u8 role = 0;
  int n;
  memset(t, 0, sizeof(*t));
  if( nz<TOKEN_PREFIX_LEN || memcmp(z, TOKEN_PREFIX, TOKEN_PREFIX_LEN) ){
    *pzErr = sqlite3_mprintf("not an invitation token (it starts with "
                             "\"" TOKEN_PREFIX "\")");
    return SQLITE_ERROR;
  }
  n = bec_crypto_b64_decode(&z[TOKEN_PREFIX_LEN], nz-TOKEN_PREFIX_LEN, a,
                            (int)sizeof(a));
  rd.a = a; rd.n = n; rd.i = 0;
  if( n<0
   || bec_read_bytes(&rd, BEC_HASH_BYTES, &x) ) goto damaged;
  memcpy(t->aGroup, x, BEC_HASH_BYTES);
  if( bec_read_bytes(&rd, INVITER_BYTES, &x) ) goto damaged;
  memcpy(t->aInviter, x, INVITER_BYTES);
  if( bec_read_u8(&rd, &role) || bec_read_bytes(&rd, SECRET_BYTES, &x) ){
    goto damaged;
  }
  memcpy(t->aSecret, x, SECRET_BYTES);
  if( bec_read_varint(&rd, &v, (u64)1<<40) ) goto damaged;
  if( role!=BEC_ROLE_ADMIN && role!=BEC_ROLE_MEMBER && role!=BEC_ROLE_RELAY ){
    goto damaged;
  }
  t->role = role;
  t->iExpires = (i64)v;
  if( rd.n-rd.i>RELAYS_MAX ) goto damaged;
  memcpy(t->zRelays, &a[rd.i], (size_t)(rd.n-rd.i));
  t->zRelays[rd.n-rd.i] = 0;
  for(v=0; v<(u64)(rd.n-rd.i); v++){
    if( (u8)t->zRelays[v]<0x21 || (u8)t->zRelays[v]>0x7e ) goto damaged;
  }
  bec_crypto_wipe(a, sizeof(a));
  return SQLITE_OK;
damaged:
  bec_crypto_wipe(a, sizeof(a));
  bec_crypto_wipe(t, sizeof(*t));
  *pzErr = sqlite3_mprintf("the invitation token is damaged (copy it whole)");
  return SQLITE_ERROR;
}

/**************************************************************************
** The inviter.
*/
/* 0 if v is a relay list a token may carry (printable ASCII, at most
** RELAYS_MAX bytes), else why not (static). */
static const char *relays_problem(sqlite3_value *v){
  const unsigned char *z = sqlite3_value_text(v);
  int i, n = sqlite3_value_bytes(v);
  if( sqlite3_value_type(v)!=SQLITE_TEXT || z==0 ){
    return "the relays are text, e.g. 'relay.example.org:7000,10.0.0.2:7000'";
  }
  if( n>RELAYS_MAX ) return "the relays are at most " RELAYS_MAX_TEXT " bytes";
  for(i=0; i<n; i++){
    if( z[i]<0x21 || z[i]>0x7e ){
      return "the relays are printable ASCII without spaces";
    }
  }
  return 0;
}

/* bec_invite(role [, seconds [, relays]]): a new one-time token (an admin
** only); relays, if given, tell the newcomer where to sync. */
static void fnInvite(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  const char *zRole = (const char*)sqlite3_value_text(argv[0]);
  sqlite3_stmt *pStmt = 0;
  u8 aInvitePub[BEC_PUBKEY_BYTES], aTarget[BEC_PUBKEY_BYTES];
  i64 nSec = DEFAULT_SECONDS;
  char *zErr = 0, *zToken = 0;
  Token t;
  int rc;

  memset(&t, 0, sizeof(t));
  t.role = bec_role_from_name(zRole);
  if( t.role==0 ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_invite: the role must "
             "be 'admin', 'member' or 'relay', not '%s'", zRole ? zRole : "NULL"));
    return;
  }
  if( argc>1 && sqlite3_value_type(argv[1])!=SQLITE_NULL ){
    if( sqlite3_value_type(argv[1])!=SQLITE_INTEGER
     || sqlite3_value_int64(argv[1])<1
     || sqlite3_value_int64(argv[1])>MAX_SECONDS ){
      bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_invite: the validity "
               "must be a number of seconds from 1 to %d (366 days)", MAX_SECONDS));
      return;
    }
    nSec = sqlite3_value_int64(argv[1]);
  }
  if( argc>2 && sqlite3_value_type(argv[2])!=SQLITE_NULL ){
    const char *zWhy = relays_problem(argv[2]);
    if( zWhy ){
      bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_invite: %s", zWhy));
      return;
    }
    memcpy(t.zRelays, sqlite3_value_text(argv[2]),
           (size_t)sqlite3_value_bytes(argv[2]));
  }
  /* Only who could sign the add now may invite; the add is checked again
  ** when the token is redeemed.  The target here is a fresh random key. */
  bec_crypto_random(aTarget, sizeof(aTarget));
  rc = bec_member_may_append(p, "bec_invite", BEC_KIND_ADD, t.role, aTarget,
                             &zErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, t.aGroup, &zErr);
  if( rc ){
    bec_fn_error_in(ctx, "bec_invite", rc, zErr);
    return;
  }
  memcpy(t.aInviter, p->aPub, INVITER_BYTES);
  t.iExpires = now() + nSec;
  bec_crypto_random(t.aSecret, SECRET_BYTES);
  invite_key(t.aSecret, t.aGroup, aInvitePub, 0);
  zToken = token_encode(&t);
  bec_crypto_wipe(&t, sizeof(t));
  if( zToken==0 ){
    sqlite3_result_error_nomem(ctx);
    return;
  }
  rc = bec_ctx_stmt(p, "INSERT INTO bec_store_invite(invite, role, created, "
                       "expires) VALUES(?1, ?2, ?3, ?4)", &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aInvitePub, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 2, bec_role_from_name(zRole));
    sqlite3_bind_int64(pStmt, 3, now());
    sqlite3_bind_int64(pStmt, 4, now() + nSec);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  if( rc ){
    bec_crypto_wipe(zToken, strlen(zToken));
    sqlite3_free(zToken);
    bec_fn_error(ctx, rc, sqlite3_mprintf("bec_invite: cannot record the "
             "invitation: %s", bec_rc_text(p->db, rc)));
    return;
  }
  sqlite3_result_text(ctx, zToken, -1, sqlite3_free);
}

/* Refuses a redemption: the reason is kept with the invite for the
** inviter to see (bec_invites.refusal) and returned in *pzWhy. */
static int refuse(BecCtx *p, const u8 *aInvite, char **pzWhy, char *zWhy){
  sqlite3_stmt *pStmt = 0;
  int rc;
  *pzWhy = zWhy;
  if( zWhy==0 ) return SQLITE_NOMEM;
  rc = bec_ctx_stmt(p, "UPDATE bec_store_invite SET refusal=?2 WHERE invite=?1",
                    &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aInvite, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(pStmt, 2, zWhy, -1, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  return rc;
}

static const BecSavepoint spRedeem = {
  "SAVEPOINT bec_redeem", "RELEASE bec_redeem", "ROLLBACK TO bec_redeem"
};

int bec_invite_redeem(BecCtx *p, const u8 *aRed, u8 *aHash, int *pbAdded,
                      char **pzWhy, char **pzErr){
  const u8 *aInvite = aRed;
  const u8 *aKey = &aRed[BEC_PUBKEY_BYTES];
  const u8 *aSig = &aRed[2*BEC_PUBKEY_BYTES];
  sqlite3_stmt *pStmt = 0;
  u8 aGroup[BEC_HASH_BYTES], aMsg[BEC_HASH_BYTES+BEC_PUBKEY_BYTES];
  u8 aPayload[BEC_PUBKEY_BYTES+1], aUsedBy[BEC_PUBKEY_BYTES];
  int role = 0, bRevoked = 0, bUsed = 0, bFound = 0, rc;
  i64 iExpires = 0;
  char zKey[17];

  *pbAdded = 0;
  *pzWhy = 0;
  rc = bec_ctx_stmt(p, "SELECT role, expires, revoked, used_by FROM "
                       "bec_store_invite WHERE invite=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aInvite, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    bFound = 1;
    role = sqlite3_column_int(pStmt, 0);
    iExpires = sqlite3_column_int64(pStmt, 1);
    bRevoked = sqlite3_column_int(pStmt, 2);
    if( sqlite3_column_bytes(pStmt, 3)==BEC_PUBKEY_BYTES ){
      bUsed = 1;
      memcpy(aUsedBy, sqlite3_column_blob(pStmt, 3), BEC_PUBKEY_BYTES);
    }
  }
  rc = sqlite3_reset(pStmt);
  if( rc ) return rc;
  /* Not this replica's invitation: another replica's business. */
  if( !bFound ) return SQLITE_OK;
  bec_hex_encode(aKey, 8, zKey);
  rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc ) return rc;
  redeem_message(aGroup, aKey, aMsg);
  if( !bec_crypto_verify_domain(aInvite, REDEEM_DOMAIN, aMsg, sizeof(aMsg), aSig) ){
    return refuse(p, aInvite, pzWhy, sqlite3_mprintf("the redemption for "
                  "%s... is not signed by the invitation's key", zKey));
  }
  if( bUsed ){
    if( memcmp(aUsedBy, aKey, BEC_PUBKEY_BYTES)==0 ) return SQLITE_OK;
    return refuse(p, aInvite, pzWhy, sqlite3_mprintf("the invitation was "
                  "already used (by another key); %s... was not added", zKey));
  }
  if( bRevoked ){
    return refuse(p, aInvite, pzWhy, sqlite3_mprintf("the invitation was "
                  "revoked; %s... was not added", zKey));
  }
  if( iExpires<=now() ){
    return refuse(p, aInvite, pzWhy, sqlite3_mprintf("the invitation expired; "
                  "%s... was not added", zKey));
  }
  memcpy(aPayload, aKey, BEC_PUBKEY_BYTES);
  aPayload[BEC_PUBKEY_BYTES] = (u8)role;
  rc = bec_member_may_append(p, "invitation", BEC_KIND_ADD, role, aKey, pzWhy);
  if( rc==SQLITE_NOMEM || rc==SQLITE_IOERR ) return rc;
  if( rc ){
    char *zWhy = *pzWhy;
    *pzWhy = 0;
    return refuse(p, aInvite, pzWhy, zWhy);
  }
  /* The add and the mark commit together: an invite is used exactly when
  ** its add exists.  The add takes the path bec_add_member takes (in an
  ** encrypted group the newcomer's keys follow it). */
  rc = bec_ctx_begin(p, &spRedeem);
  if( rc==SQLITE_OK ) rc = bec_member_append(p, "invitation", BEC_KIND_ADD,
                                             aPayload, aHash, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "UPDATE bec_store_invite SET used_by=?2, used_op=?3, "
                         "refusal=NULL WHERE invite=?1", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aInvite, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(pStmt, 2, aKey, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(pStmt, 3, aHash, BEC_HASH_BYTES, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_commit(p, &spRedeem);
  }else{
    bec_ctx_rollback(p, &spRedeem);
  }
  if( rc==SQLITE_OK ) *pbAdded = 1;
  else if( *pzErr==0 ){
    *pzErr = sqlite3_mprintf("invitation: cannot add %s...: %s", zKey,
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/* bec_invite_redeem(redemption): the inviter's side of becsync's
** handshake.  The add op's hash if this call added the key, NULL if the
** redemption is not for this replica or was already honoured for that key;
** an error saying why if refused. */
static void fnRedeem(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aHash[BEC_HASH_BYTES];
  char *zWhy = 0, *zErr = 0;
  int bAdded = 0, rc;
  if( sqlite3_value_type(argv[0])!=SQLITE_BLOB
   || sqlite3_value_bytes(argv[0])!=BEC_INVITE_REDEMPTION_BYTES ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_invite_redeem: a "
             "redemption is a %d-byte blob", BEC_INVITE_REDEMPTION_BYTES));
    return;
  }
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ){
    rc = bec_invite_redeem(p, sqlite3_value_blob(argv[0]), aHash, &bAdded,
                           &zWhy, &zErr);
  }
  if( rc ){
    sqlite3_free(zWhy);
    bec_fn_error_in(ctx, "bec_invite_redeem", rc, zErr);
  }else if( zWhy ){
    bec_fn_error(ctx, SQLITE_AUTH, sqlite3_mprintf("bec_invite_redeem: %s", zWhy));
    sqlite3_free(zWhy);
  }else if( bAdded ){
    bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
  }
}

/* bec_invite_revoke(invite): an open invitation can no longer be used. */
static void fnRevoke(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  sqlite3_stmt *pStmt = 0;
  u8 aInvite[BEC_PUBKEY_BYTES];
  char *zErr = 0;
  int rc;
  if( !bec_fn_arg32(argv[0], aInvite) ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_invite_revoke: the "
             "invitation is 64 hex characters (the invite column of bec_invites)"));
    return;
  }
  rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "UPDATE bec_store_invite SET revoked=1 WHERE invite=?1"
                         " AND used_by IS NULL", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aInvite, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  if( rc ) bec_fn_error_in(ctx, "bec_invite_revoke", rc, zErr);
  else sqlite3_result_int(ctx, sqlite3_changes(p->db)>0);
}

/**************************************************************************
** The newcomer.
*/
int bec_invite_join(BecCtx *p, const char *zToken, int nToken, u8 *aGroup,
                    char **pzErr){
  sqlite3_stmt *pStmt = 0;
  u8 aInvitePub[BEC_PUBKEY_BYTES], aInviteSk[BEC_SECKEY_BYTES];
  u8 aRed[BEC_INVITE_REDEMPTION_BYTES], aMsg[BEC_HASH_BYTES+BEC_PUBKEY_BYTES];
  u8 *aPub = 0;
  int nPub = 0, rc;
  Token t;

  rc = token_decode(zToken, nToken, &t, pzErr);
  if( rc ) return rc;
  if( bec_dag_group_id(p, aGroup, 0)==SQLITE_OK
   && memcmp(aGroup, t.aGroup, BEC_HASH_BYTES) ){
    bec_crypto_wipe(&t, sizeof(t));
    *pzErr = sqlite3_mprintf("this database already belongs to another group "
                             "(one database holds one group)");
    return SQLITE_ERROR;
  }
  rc = bec_config_get_blob(p, "pubkey", &aPub, &nPub);
  if( rc==SQLITE_OK && nPub!=BEC_PUBKEY_BYTES ){
    *pzErr = sqlite3_mprintf("this database has no key yet: run bec_keygen() "
                             "first (the invitation adds that key)");
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK && t.iExpires<=now() ){
    *pzErr = sqlite3_mprintf("the invitation expired; ask for a new one");
    rc = SQLITE_ERROR;
  }
  if( rc ){
    sqlite3_free(aPub);
    bec_crypto_wipe(&t, sizeof(t));
    return rc;
  }
  invite_key(t.aSecret, t.aGroup, aInvitePub, aInviteSk);
  memcpy(aRed, aInvitePub, BEC_PUBKEY_BYTES);
  memcpy(&aRed[BEC_PUBKEY_BYTES], aPub, BEC_PUBKEY_BYTES);
  redeem_message(t.aGroup, aPub, aMsg);
  rc = bec_crypto_sign_domain(aInviteSk, REDEEM_DOMAIN, aMsg, sizeof(aMsg),
                              &aRed[2*BEC_PUBKEY_BYTES]);
  bec_crypto_wipe(aInviteSk, sizeof(aInviteSk));
  sqlite3_free(aPub);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_join(invite, inviter,"
        " role, expires, relays, redemption, joined) VALUES(?1,?2,?3,?4,?5,?6,?7)",
        &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aInvitePub, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(pStmt, 2, t.aInviter, INVITER_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 3, t.role);
    sqlite3_bind_int64(pStmt, 4, t.iExpires);
    sqlite3_bind_text(pStmt, 5, t.zRelays, -1, SQLITE_STATIC);
    sqlite3_bind_blob(pStmt, 6, aRed, sizeof(aRed), SQLITE_STATIC);
    sqlite3_bind_int64(pStmt, 7, now());
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
    if( rc ) *pzErr = sqlite3_mprintf("cannot record the invitation: %s",
                                      bec_rc_text(p->db, rc));
  }
  if( rc==SQLITE_OK ) memcpy(aGroup, t.aGroup, BEC_HASH_BYTES);
  bec_crypto_wipe(&t, sizeof(t));
  return rc;
}

int bec_invite_is_token(const char *z, int n){
  return n>=TOKEN_PREFIX_LEN && memcmp(z, TOKEN_PREFIX, TOKEN_PREFIX_LEN)==0;
}

int bec_invite_pending(BecCtx *p, u8 *aRed, int *pbHas){
  sqlite3_stmt *pStmt = 0;
  u8 *aPub = 0;
  int nPub = 0, rc;
  *pbHas = 0;
  rc = bec_config_get_blob(p, "pubkey", &aPub, &nPub);
  if( rc || nPub!=BEC_PUBKEY_BYTES ){
    sqlite3_free(aPub);
    return rc;
  }
  /* The latest unexpired invitation, while this key is no member. */
  rc = bec_ctx_stmt(p, "SELECT redemption FROM bec_store_join WHERE expires>?2"
      " AND NOT EXISTS (SELECT 1 FROM bec_store_member WHERE pubkey=?1)"
      " ORDER BY joined DESC, invite LIMIT 1", &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_blob(pStmt, 1, aPub, BEC_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(pStmt, 2, now());
    if( sqlite3_step(pStmt)==SQLITE_ROW
     && sqlite3_column_bytes(pStmt, 0)==BEC_INVITE_REDEMPTION_BYTES ){
      memcpy(aRed, sqlite3_column_blob(pStmt, 0), BEC_INVITE_REDEMPTION_BYTES);
      *pbHas = 1;
    }
    rc = sqlite3_reset(pStmt);
  }
  sqlite3_free(aPub);
  return rc;
}

/* bec_invite_redemption(): what this replica presents while it waits to
** be added (becsync sends it in its handshake), or NULL. */
static void fnRedemption(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aRed[BEC_INVITE_REDEMPTION_BYTES];
  char *zErr = 0;
  int bHas = 0;
  int rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = bec_invite_pending(p, aRed, &bHas);
  if( rc ) bec_fn_error_in(ctx, "bec_invite_redemption", rc, zErr);
  else if( bHas ) sqlite3_result_blob(ctx, aRed, sizeof(aRed), SQLITE_TRANSIENT);
}

/**************************************************************************
** bec_invites and bec_joins.
*/
static const BecTableDef invitesTable = {
  "bec_invites",
  "CREATE TABLE x(invite TEXT, role TEXT, created INTEGER, expires INTEGER,"
  " state TEXT, used_by TEXT, used_op TEXT, refusal TEXT)",
  "SELECT lower(hex(invite)), CASE role WHEN 1 THEN 'admin' WHEN 2 THEN"
  " 'member' ELSE 'relay' END, created, expires,"
  " CASE WHEN used_by IS NOT NULL THEN 'used' WHEN revoked THEN 'revoked'"
  " WHEN expires<=unixepoch() THEN 'expired' ELSE 'open' END,"
  " lower(hex(used_by)), lower(hex(used_op)), refusal FROM bec_store_invite"
  " WHERE 1",
  "ORDER BY created, invite",
  { { 0, 1, "invite=?" } },
  0, 0
};

static const BecTableDef joinsTable = {
  "bec_joins",
  "CREATE TABLE x(invite TEXT, inviter TEXT, role TEXT, expires INTEGER,"
  " relays TEXT, state TEXT)",
  "SELECT lower(hex(invite)), lower(hex(inviter)), CASE role WHEN 1 THEN"
  " 'admin' WHEN 2 THEN 'member' ELSE 'relay' END, expires, relays,"
  " CASE WHEN EXISTS (SELECT 1 FROM bec_store_member m, bec_store_config c"
  " WHERE c.key='pubkey' AND m.pubkey=c.value) THEN 'member'"
  " WHEN expires<=unixepoch() THEN 'expired' ELSE 'waiting' END"
  " FROM bec_store_join WHERE 1",
  "ORDER BY joined, invite",
  { { 0, 1, "invite=?" } },
  0, 0
};

int bec_invite_register(sqlite3 *db, BecCtx *pCtx){
  static const BecFunc aFunc[] = {
    { "bec_invite",            1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnInvite },
    { "bec_invite",            2, SQLITE_UTF8|SQLITE_DIRECTONLY, fnInvite },
    { "bec_invite",            3, SQLITE_UTF8|SQLITE_DIRECTONLY, fnInvite },
    { "bec_invite_redeem",     1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRedeem },
    { "bec_invite_revoke",     1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRevoke },
    { "bec_invite_redemption", 0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRedemption },
  };
  int rc = bec_ctx_register_funcs(db, pCtx, aFunc,
                                  (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table(db, pCtx, &invitesTable);
  if( rc==SQLITE_OK ) rc = bec_vtab_register_table(db, pCtx, &joinsTable);
  return rc;
}
