/*
** bec_names.c - display names: a member signs a name for itself.
**
**   SELECT bec_set_name('Alice');          -- signs a `name` op
**   SELECT pubkey, name FROM bec_members;  -- the names in effect
**
** A `name` op (kind "name", the author rule of any member's op: its author
** is who it names, so a member can name only itself) carries the name as
** its payload: 1..BEC_NAME_MAX_BYTES bytes of well-formed UTF-8 with no
** control character (no NUL).  An op whose payload breaks this is
** malformed: refused by the deriver's xAdmit, identically everywhere.
**
** The name of a member is the payload of its latest valid name op by
** (depth, hash): the greatest of them, a total order every replica
** computes alike, whatever order the ops came in.  A name op voided by
** membership (a concurrent removal) does not count; validity is read from
** bec_store_op, so a change of validity needs no work here.
**
** Names are labels for people to read.  They are not unique, anyone can
** pick any name, and nothing in bec uses them for authorization: keys do.
**
** Stored (derived from the name ops, by this file only):
**   bec_store_name(seq, author, name)   one row per stored name op
*/
#include "becInt.h"

static const char zNameSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_name("
  "  seq INTEGER PRIMARY KEY, author INTEGER NOT NULL, name TEXT NOT NULL);"
  "CREATE INDEX IF NOT EXISTS bec_store_name_author ON bec_store_name(author);";

static int names_schema(BecCtx *p, char **pzErr){
  return bec_ctx_exec(p, zNameSchema, pzErr);
}

/* 0 if a[0..n-1] is a name (see the header), else why not (static). */
static const char *name_problem(const u8 *a, i64 n){
  i64 i = 0;
  if( n<1 ) return "a name must not be empty";
  if( n>BEC_NAME_MAX_BYTES ) return "a name is at most " BEC_NAME_MAX_TEXT " bytes";
  while( i<n ){
    u32 c = a[i], cp;
    int k, j;
    if( c<0x20 || c==0x7f ) return "a name must not hold control characters";
    if( c<0x80 ){ i++; continue; }
    if( c>=0xc2 && c<=0xdf ){ k = 1; cp = c & 0x1f; }
    else if( c>=0xe0 && c<=0xef ){ k = 2; cp = c & 0x0f; }
    else if( c>=0xf0 && c<=0xf4 ){ k = 3; cp = c & 0x07; }
    else return "a name must be well-formed UTF-8";
    for(j=1; j<=k; j++){
      if( i+j>=n || (a[i+j] & 0xc0)!=0x80 ) return "a name must be well-formed UTF-8";
      cp = (cp<<6) | (a[i+j] & 0x3f);
    }
    if( (k==2 && (cp<0x800 || (cp>=0xd800 && cp<=0xdfff)))
     || (k==3 && (cp<0x10000 || cp>0x10ffff)) ){
      return "a name must be well-formed UTF-8";
    }
    if( cp>=0x80 && cp<0xa0 ) return "a name must not hold control characters";
    i += k+1;
  }
  return 0;
}

static int names_admit(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                       BecVerdict *pV, char **pzErr){
  const char *zWhy;
  if( pOp->kind!=BEC_KIND_NAME ) return SQLITE_OK;
  zWhy = name_problem(pOp->aPayload, pOp->nPayload);
  if( zWhy ) bec_verdict_set(pV, SQLITE_ERROR, "malformed: %s", zWhy);
  return SQLITE_OK;
}

static int names_stored(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc, iAuthor = 0;
  if( pOp->kind!=BEC_KIND_NAME ) return SQLITE_OK;
  rc = bec_dag_author_id(p, pOp->aAuthor, 0, &iAuthor);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_name(seq, author, name) "
                         "VALUES(?1, ?2, ?3)", &pStmt);
  }
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  sqlite3_bind_int(pStmt, 2, iAuthor);
  sqlite3_bind_text64(pStmt, 3, (const char*)pOp->aPayload,
                      (sqlite3_uint64)pOp->nPayload, SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

/* bec_check(): every name op has its row, with its author and name, and
** no row is without its op. */
static int names_check(BecCtx *p, char **pzProblems, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecBuf out;
  int rc, nBad = 0;
  memset(&out, 0, sizeof(out));
  *pzProblems = 0;
  rc = bec_ctx_stmt(p, "SELECT o.seq, o.author, o.body, n.author, n.name"
                       " FROM bec_store_op o LEFT JOIN bec_store_name n"
                       " ON n.seq=o.seq WHERE o.kind=?1 AND " BEC_OP_INDEXED("o"), &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, BEC_KIND_NAME);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    BecOp op;
    char *zWhy = 0;
    int bBad = sqlite3_column_type(pStmt, 3)==SQLITE_NULL
            || sqlite3_column_int(pStmt, 1)!=sqlite3_column_int(pStmt, 3);
    if( !bBad ){
      if( bec_op_decode(sqlite3_column_blob(pStmt, 2),
                        sqlite3_column_bytes(pStmt, 2), &op, &zWhy) ){
        bBad = 1;
      }else{
        const void *aName = sqlite3_column_blob(pStmt, 4);
        bBad = op.nPayload!=sqlite3_column_bytes(pStmt, 4)
            || (op.nPayload>0 && memcmp(aName, op.aPayload, (size_t)op.nPayload));
      }
      sqlite3_free(zWhy);
    }
    if( bBad && nBad++<5 ){
      bec_buf_appendf(&out, &rc, "names: name op %d does not match "
                      "bec_store_name\n", sqlite3_column_int(pStmt, 0));
    }
  }
  bec_stmt_reset(pStmt, &rc);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT n.seq FROM bec_store_name n LEFT JOIN"
                         " bec_store_op o ON o.seq=n.seq"
                         " WHERE o.kind IS NOT ?1 LIMIT 5", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, BEC_KIND_NAME);
      while( sqlite3_step(pStmt)==SQLITE_ROW ){
        bec_buf_appendf(&out, &rc, "names: bec_store_name row %d is no name op\n",
                        sqlite3_column_int(pStmt, 0));
      }
      rc = sqlite3_reset(pStmt);
    }
  }
  if( rc==SQLITE_OK && out.n ){
    out.n--;                                  /* the last newline */
    bec_buf_append_u8(&out, 0, &rc);
    if( rc==SQLITE_OK ){
      *pzProblems = sqlite3_mprintf("%s", (const char*)out.a);
      if( *pzProblems==0 ) rc = SQLITE_NOMEM;
    }
  }
  bec_buf_free(&out);
  return rc;
}

/* A fall-back to a full join (bec_rejoin.c): the names come again with
** their ops. */
static int names_reset(BecCtx *p, int bProbe, char **pzWhyNot, char **pzErr){
  (void)pzWhyNot;
  if( bProbe ) return SQLITE_OK;
  return bec_ctx_exec(p, "DELETE FROM bec_store_name", pzErr);
}

const BecDeriver bec_names_deriver = {
  "names", BEC_DERIVE_NAMES,
  names_schema, names_admit, names_stored, 0, names_check, 0, names_reset
};

/* bec_set_name(name): signs a name op for this replica's identity. */
static void fnSetName(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aHash[BEC_HASH_BYTES];
  const u8 *a;
  const char *zWhy;
  char *zErr = 0;
  int n, rc;
  if( sqlite3_value_type(argv[0])!=SQLITE_TEXT ){
    bec_fn_error(ctx, SQLITE_ERROR,
                 sqlite3_mprintf("bec_set_name: the name must be text"));
    return;
  }
  a = sqlite3_value_text(argv[0]);
  n = sqlite3_value_bytes(argv[0]);
  zWhy = name_problem(a, n);
  if( zWhy ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_set_name: %s", zWhy));
    return;
  }
  rc = bec_dag_append(p, BEC_KIND_NAME, a, n, aHash, &zErr);
  if( rc ) bec_fn_error_in(ctx, "bec_set_name", rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

int bec_names_register(sqlite3 *db, BecCtx *pCtx){
  return sqlite3_create_function_v2(db, "bec_set_name", 1,
      SQLITE_UTF8|SQLITE_DIRECTONLY, bec_ctx_ref(pCtx), fnSetName, 0, 0,
      bec_ctx_unref);
}
