/*
** bec_vtab.c - the read-only eponymous tables that show the DAG with SQL:
**
**   SELECT * FROM bec_ops;        -- every stored op, valid or why not
**   SELECT * FROM bec_heads;      -- ops with no successor
**   SELECT * FROM bec_pending;    -- verified ops waiting for predecessors
**   SELECT * FROM bec_rejected;   -- why recent ops were refused
**
** Each is a view of the storage tables of bec_dag.c through one generic
** module: a table definition gives the declared columns, a SELECT that
** yields them in order, and the columns whose equality constraints become
** WHERE terms (so `WHERE hash=?`, `WHERE author=?` and `WHERE kind=?` on
** bec_ops use indexes instead of scanning).  Hashes and keys are shown as
** lowercase hex; constraints may give them as hex text or as blobs.
** Other modules register their own read-only tables with
** bec_vtab_register_table().
*/
#include "becInt.h"

/* How a filter value is converted before it is bound. */
#define FILTER_BLOB32   1   /* hex text or a 32-byte blob */
#define FILTER_KIND     2   /* a kind name */
#define FILTER_INT      3   /* as is */

typedef struct SqlTab SqlTab;
typedef struct SqlCursor SqlCursor;

struct SqlTab {
  sqlite3_vtab base;
  BecCtx *pCtx;
  const BecTableDef *pDef;
  sqlite3_stmt *pSpare;    /* owned: the last query closed, kept for the */
  int iSpareIdx;           /* next filter with the same idxNum (a lookup
                           ** prepared once, not at each filter) */
};

/* Every registered BecTableDef is the first member of one of these. */
typedef struct TableDefCtx TableDefCtx;
struct TableDefCtx {
  BecTableDef def;
  int (*xColumnCtx)(BecCtx*, sqlite3_stmt*, sqlite3_context*, int);
};

struct SqlCursor {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *pStmt;     /* owned: finalized or kept in xClose */
  int iIdx;                /* the idxNum pStmt was prepared for */
  int bEof;
  i64 iRowid;
};

/* The cursor's statement goes back to its table as the spare, reset, or
** is finalized if the table keeps one already. */
static void release_stmt(SqlCursor *p){
  SqlTab *pTab = (SqlTab*)p->base.pVtab;
  if( p->pStmt && pTab->pSpare==0 ){
    sqlite3_reset(p->pStmt);
    sqlite3_clear_bindings(p->pStmt);
    pTab->pSpare = p->pStmt;
    pTab->iSpareIdx = p->iIdx;
  }else{
    sqlite3_finalize(p->pStmt);
  }
  p->pStmt = 0;
}

static int sqlConnect(sqlite3 *db, void *pAux, int argc,
                      const char *const *argv, sqlite3_vtab **ppVtab,
                      char **pzErr){
  const BecTableDef *pDef = (const BecTableDef*)pAux;
  SqlTab *p;
  int rc = sqlite3_declare_vtab(db, pDef->zDecl);
  *ppVtab = 0;
  if( rc ) return rc;
  p = sqlite3_malloc64(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->pCtx = pDef->pCtx;
  p->pDef = pDef;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &p->base;
  return SQLITE_OK;
}

static int sqlDisconnect(sqlite3_vtab *pVtab){
  sqlite3_finalize(((SqlTab*)pVtab)->pSpare);
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/* idxNum is a bitmask of the filters used, in the order of pDef->aFilter;
** argv follows the same order. */
static int sqlBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  SqlTab *p = (SqlTab*)pVtab;
  const BecTableDef *pDef = p->pDef;
  int aUse[BEC_TABLE_MAX_FILTER];
  int i, f, nArg = 0, mask = 0;
  for(f=0; f<BEC_TABLE_MAX_FILTER; f++) aUse[f] = -1;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    if( !pC->usable || pC->op!=SQLITE_INDEX_CONSTRAINT_EQ ) continue;
    for(f=0; f<BEC_TABLE_MAX_FILTER && pDef->aFilter[f].zCond; f++){
      if( pDef->aFilter[f].iCol==pC->iColumn && aUse[f]<0 ) aUse[f] = i;
    }
  }
  for(f=0; f<BEC_TABLE_MAX_FILTER; f++){
    if( aUse[f]>=0 ){
      mask |= 1<<f;
      pInfo->aConstraintUsage[aUse[f]].argvIndex = ++nArg;
      /* SQLite re-checks: hex given in upper case must not match. */
      pInfo->aConstraintUsage[aUse[f]].omit = 0;
    }
  }
  pInfo->idxNum = mask;
  pInfo->estimatedCost = mask ? 10.0 : 1000000.0;
  pInfo->estimatedRows = mask ? 10 : 1000000;
  return SQLITE_OK;
}

static int sqlOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  SqlCursor *p = sqlite3_malloc64(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  *ppCur = &p->base;
  return SQLITE_OK;
}

static int sqlClose(sqlite3_vtab_cursor *pCur){
  SqlCursor *p = (SqlCursor*)pCur;
  release_stmt(p);
  sqlite3_free(p);
  return SQLITE_OK;
}

static void set_error(sqlite3_vtab *pVtab, char *zErr){
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = zErr;
}

/* Binds one filter value; 0 if it can match nothing (so no rows). */
static int bind_filter(sqlite3_stmt *pStmt, int iParam, int eType,
                       sqlite3_value *pVal){
  if( eType==FILTER_BLOB32 ){
    u8 a[BEC_HASH_BYTES];
    if( sqlite3_value_type(pVal)==SQLITE_BLOB
     && sqlite3_value_bytes(pVal)==BEC_HASH_BYTES ){
      sqlite3_bind_blob(pStmt, iParam, sqlite3_value_blob(pVal), BEC_HASH_BYTES,
                        SQLITE_TRANSIENT);
      return 1;
    }
    if( sqlite3_value_type(pVal)==SQLITE_TEXT
     && bec_hex_decode((const char*)sqlite3_value_text(pVal),
                       sqlite3_value_bytes(pVal), a, BEC_HASH_BYTES)==BEC_HASH_BYTES ){
      sqlite3_bind_blob(pStmt, iParam, a, BEC_HASH_BYTES, SQLITE_TRANSIENT);
      return 1;
    }
    return 0;
  }
  if( eType==FILTER_KIND ){
    int kind = bec_kind_from_name((const char*)sqlite3_value_text(pVal));
    if( kind==0 ) return 0;
    sqlite3_bind_int(pStmt, iParam, kind);
    return 1;
  }
  sqlite3_bind_value(pStmt, iParam, pVal);
  return 1;
}

static int sqlNext(sqlite3_vtab_cursor *pCur){
  SqlCursor *p = (SqlCursor*)pCur;
  int rc = sqlite3_step(p->pStmt);
  if( rc==SQLITE_ROW ){
    p->iRowid++;
    return SQLITE_OK;
  }
  p->bEof = 1;
  rc = sqlite3_reset(p->pStmt);
  if( rc ){
    SqlTab *pTab = (SqlTab*)pCur->pVtab;
    set_error(pCur->pVtab, sqlite3_mprintf("%s: %s", pTab->pDef->zName,
              bec_rc_text(pTab->pCtx->db, rc)));
  }
  return rc;
}

static int sqlFilter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr,
                     int argc, sqlite3_value **argv){
  SqlCursor *p = (SqlCursor*)pCur;
  SqlTab *pTab = (SqlTab*)pCur->pVtab;
  const BecTableDef *pDef = pTab->pDef;
  BecBuf sql;
  char *zErr = 0;
  int rc, f, iArg = 0, iParam = 0, bMatch = 1;

  memset(&sql, 0, sizeof(sql));
  release_stmt(p);
  p->bEof = 0;
  p->iRowid = 0;
  rc = bec_dag_ensure_schema(pTab->pCtx, &zErr);
  if( rc ){
    set_error(pCur->pVtab, zErr ? zErr : sqlite3_mprintf("%s: %s", pDef->zName,
              bec_rc_text(pTab->pCtx->db, rc)));
    return rc;
  }
  if( pTab->pSpare && pTab->iSpareIdx==idxNum ){
    p->pStmt = pTab->pSpare;
    pTab->pSpare = 0;
  }
  p->iIdx = idxNum;
  if( p->pStmt==0 ){
    bec_buf_append(&sql, pDef->zSelect, (i64)strlen(pDef->zSelect), &rc);
  }
  for(f=0; p->pStmt==0 && f<BEC_TABLE_MAX_FILTER; f++){
    if( idxNum & (1<<f) ){
      bec_buf_append(&sql, " AND ", 5, &rc);
      bec_buf_append(&sql, pDef->aFilter[f].zCond,
                     (i64)strlen(pDef->aFilter[f].zCond), &rc);
    }
  }
  if( p->pStmt==0 && pDef->zOrder ){
    bec_buf_append(&sql, " ", 1, &rc);
    bec_buf_append(&sql, pDef->zOrder, (i64)strlen(pDef->zOrder), &rc);
  }
  if( p->pStmt==0 ) bec_buf_append_u8(&sql, 0, &rc);
  if( rc==SQLITE_OK && p->pStmt==0 ){
    rc = sqlite3_prepare_v2(pTab->pCtx->db, (const char*)sql.a, -1, &p->pStmt, 0);
    if( rc ){
      set_error(pCur->pVtab, sqlite3_mprintf("%s: %s", pDef->zName,
                bec_rc_text(pTab->pCtx->db, rc)));
    }
  }
  bec_buf_free(&sql);
  for(f=0; rc==SQLITE_OK && f<BEC_TABLE_MAX_FILTER; f++){
    if( (idxNum & (1<<f)) && iArg<argc ){
      const char *z;
      iArg++;
      /* the value goes to each ? of the term (a lookup by id names the
      ** id twice: BEC_OP_ID_IS) */
      for(z=pDef->aFilter[f].zCond; *z; z++){
        if( *z!='?' ) continue;
        iParam++;
        if( !bind_filter(p->pStmt, iParam, pDef->aFilter[f].eType,
                         argv[iArg-1]) ){
          bMatch = 0;
        }
      }
    }
  }
  if( rc ) return rc;
  if( !bMatch ){
    p->bEof = 1;
    return SQLITE_OK;
  }
  return sqlNext(pCur);
}

static int sqlEof(sqlite3_vtab_cursor *pCur){
  return ((SqlCursor*)pCur)->bEof;
}

static int sqlColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int i){
  SqlCursor *p = (SqlCursor*)pCur;
  const BecTableDef *pDef = ((SqlTab*)pCur->pVtab)->pDef;
  const TableDefCtx *pDefCtx = (const TableDefCtx*)pDef;
  if( pDef->xColumn || pDefCtx->xColumnCtx ){
    int rc = pDefCtx->xColumnCtx
           ? pDefCtx->xColumnCtx(pDef->pCtx, p->pStmt, ctx, i)
           : pDef->xColumn(p->pStmt, ctx, i);
    if( rc!=SQLITE_NOTFOUND ) return rc;
  }
  sqlite3_result_value(ctx, sqlite3_column_value(p->pStmt, i));
  return SQLITE_OK;
}

static int sqlRowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid){
  *pRowid = ((SqlCursor*)pCur)->iRowid;
  return SQLITE_OK;
}

static sqlite3_module sqlModule = {
  0,                /* iVersion */
  0,                /* xCreate: eponymous only, no CREATE VIRTUAL TABLE */
  sqlConnect,
  sqlBestIndex,
  sqlDisconnect,
  0,                /* xDestroy */
  sqlOpen,
  sqlClose,
  sqlFilter,
  sqlNext,
  sqlEof,
  sqlColumn,
  sqlRowid,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0     /* read-only, no transactions */
};

static void free_table_def(void *pArg){
  BecTableDef *pDef = (BecTableDef*)pArg;
  bec_ctx_unref(pDef->pCtx);
  sqlite3_free(pDef);
}

int bec_vtab_register_table_ctx(sqlite3 *db, BecCtx *pCtx,
    const BecTableDef *pTpl,
    int (*xColumnCtx)(BecCtx*, sqlite3_stmt*, sqlite3_context*, int)){
  TableDefCtx *pDef = sqlite3_malloc64(sizeof(TableDefCtx));
  if( pDef==0 ) return SQLITE_NOMEM;
  pDef->def = *pTpl;
  pDef->def.pCtx = bec_ctx_ref(pCtx);
  pDef->xColumnCtx = xColumnCtx;
  return sqlite3_create_module_v2(db, pDef->def.zName, &sqlModule, &pDef->def,
                                  free_table_def);
}

int bec_vtab_register_table(sqlite3 *db, BecCtx *pCtx, const BecTableDef *pTpl){
  return bec_vtab_register_table_ctx(db, pCtx, pTpl, 0);
}

/**************************************************************************
** The DAG tables.
*/
#define HEX(x) "lower(hex(" x "))"

/* bec_ops columns computed in C: the kind's name from the kind table (the
** SELECT yields the number), deps and payload from the body; a pruned op's
** body and deps from its header, rebuilt (bec_dag_pruned_header: the row
** keeps a stub).  The SELECT's column 11 is the seq (encrypted is
** computed here). */
static int opsColumn(BecCtx *pCtx, sqlite3_stmt *pStmt, sqlite3_context *ctx,
                     int i){
  const int iBody = 9, iSeq = 11;
  BecOp op;
  BecBuf head;
  char *zErr = 0;
  int rc = SQLITE_OK;
  if( i==2 ){
    const BecKind *pK = bec_kind(sqlite3_column_int(pStmt, 2));
    if( pK ) sqlite3_result_text(ctx, pK->zName, -1, SQLITE_STATIC);
    return SQLITE_OK;   /* an unknown number shows as NULL */
  }
  if( i!=3 && i!=8 && i!=9 && i!=11 ) return SQLITE_NOTFOUND;
  memset(&head, 0, sizeof(head));
  if( bec_dag_body_dropped(sqlite3_column_blob(pStmt, iBody),
                           sqlite3_column_bytes(pStmt, iBody)) ){
    /* Pruned (bec_prune): payload and encrypted are NULL, body is the
    ** header alone, deps from the header. */
    if( i!=3 && i!=9 ) return SQLITE_OK;
    rc = bec_dag_pruned_header(pCtx, sqlite3_column_int(pStmt, iSeq),
                               sqlite3_column_blob(pStmt, iBody),
                               sqlite3_column_bytes(pStmt, iBody), &head, &op,
                               &zErr);
    if( rc==SQLITE_OK && i==9 ){
      sqlite3_result_blob64(ctx, head.a, (sqlite3_uint64)head.n,
                            SQLITE_TRANSIENT);
      bec_buf_free(&head);
      return SQLITE_OK;
    }
  }else if( i==9 ){
    return SQLITE_NOTFOUND;
  }else{
    rc = bec_op_decode(sqlite3_column_blob(pStmt, iBody),
                       sqlite3_column_bytes(pStmt, iBody), &op, &zErr);
  }
  if( rc ){
    if( rc==SQLITE_NOMEM ) sqlite3_result_error_nomem(ctx);
    else sqlite3_result_error(ctx, zErr ? zErr : "bec_ops: corrupt op", -1);
    sqlite3_free(zErr);
    bec_buf_free(&head);
    return SQLITE_OK;
  }
  if( i==8 ){
    sqlite3_result_blob64(ctx, op.aPayload, (sqlite3_uint64)op.nPayload,
                          SQLITE_TRANSIENT);
  }else if( i==11 ){
    /* encrypted: a schema or write op that carries the e2ee envelope. */
    sqlite3_result_int(ctx, bec_e2ee_envelope(&op)!=0);
  }else{
    /* deps: a JSON array of the predecessors' hex hashes. */
    char *z = bec_hex_json_array(op.aPred, op.nPred);
    if( z==0 ){
      sqlite3_result_error_nomem(ctx);
      return SQLITE_OK;
    }
    sqlite3_result_text(ctx, z, (int)strlen(z), sqlite3_free);
  }
  bec_buf_free(&head);
  return SQLITE_OK;
}

static const BecTableDef aDagTable[] = {
  { "bec_ops",
    "CREATE TABLE x(hash TEXT, author TEXT, kind TEXT, deps TEXT, depth INTEGER,"
    " target TEXT, role TEXT, valid INTEGER, payload BLOB, body BLOB,"
    " reason TEXT, encrypted INTEGER)",
    "SELECT " HEX("o.hash") ", " HEX("a.pubkey") ","
    " o.kind,"
    " NULL, o.depth, " HEX("t.pubkey") ","
    " CASE o.role WHEN 1 THEN 'admin' WHEN 2 THEN 'member' WHEN 3 THEN 'relay' END,"
    /* valid: valid by membership and not ignored by the merge; reason:
    ** why not (the merge's reason first: it never changes).  Each deriver
    ** owns its verdicts: bec_crdt.c's are read through its macros. */
    " o.valid AND NOT " BEC_MERGE_IGNORED("o.seq") ", NULL, o.body,"
    " coalesce(" BEC_MERGE_REASON("o.seq") ", CASE WHEN NOT o.valid THEN"
    " 'membership: invalid under the membership rules (docs/membership.md,"
    " rules 4 and 7)' END), o.seq"
    " FROM bec_store_op o JOIN bec_store_author a ON a.id=o.author"
    " LEFT JOIN bec_store_author t ON t.id=o.target WHERE 1",
    "ORDER BY o.seq",
    { { 0, FILTER_BLOB32, BEC_OP_ID_IS("o", "substr(?,1,8)", "?") },
      { 1, FILTER_BLOB32, "o.author=(SELECT id FROM bec_store_author WHERE pubkey=?)" },
      /* the kind index holds no pruned write or app op: they are read
      ** by a scan, when the kind asked for is one of theirs */
      { 2, FILTER_KIND,   "o.seq IN (SELECT s.seq FROM bec_store_op s"
                          " WHERE s.kind=? AND " BEC_OP_INDEXED("s")
                          " UNION ALL SELECT s.seq FROM bec_store_op s"
                          " WHERE ? IN (4,6) AND s.kind=? AND NOT "
                          BEC_OP_INDEXED("s") ")" } },
    0, 0 },                       /* columns: opsColumn */
  { "bec_heads",
    "CREATE TABLE x(hash TEXT)",
    "SELECT " HEX("o.hash") " FROM bec_store_head h CROSS JOIN bec_store_op o"
    " ON o.seq=h.seq WHERE 1",
    "ORDER BY o.hash",
    { { 0, FILTER_BLOB32, BEC_OP_ID_IS("o", "substr(?,1,8)", "?") } },
    0, 0 },
  { "bec_pending",
    "CREATE TABLE x(hash TEXT, missing TEXT, received_at INTEGER, size INTEGER)",
    "SELECT " HEX("p.hash") ", " HEX("m.missing") ", p.received_at,"
    " length(p.body) FROM bec_store_pending p JOIN bec_store_pending_missing m"
    " ON m.hash=p.hash WHERE 1",
    "ORDER BY p.hash, m.missing",
    { { 0, FILTER_BLOB32, "p.hash=?" },
      { 1, FILTER_BLOB32, "m.missing=?" } },
    0, 0 },
  { "bec_rejected",
    "CREATE TABLE x(hash TEXT, reason TEXT, received_at INTEGER)",
    "SELECT " HEX("hash") ", reason, received_at FROM bec_store_rejected WHERE 1",
    "ORDER BY id",
    { { 0, FILTER_BLOB32, "hash=?" } },
    0, 0 },
};

int bec_vtab_register(sqlite3 *db, BecCtx *pCtx){
  int rc = SQLITE_OK;
  size_t i;
  for(i=0; rc==SQLITE_OK && i<sizeof(aDagTable)/sizeof(aDagTable[0]); i++){
    rc = bec_vtab_register_table_ctx(db, pCtx, &aDagTable[i],
                                     i==0 ? opsColumn : 0);
  }
  return rc;
}
