/*
** bec_tablecodec.c - the payloads of schema and write ops: bytes in, bytes
** out, no tables.  docs/tables.md specifies the same bytes for humans:
**
**   schema  := version:u8 (=3) action:u8 (1 create, 2 drop, 3 add column,
**              4 rename column, 5 drop column, 6 rename table)
**              name_len:varint name (action 6: the new name)
**              [action 2] n_drop:varint (1..BEC_DROP_MAX) create_hash:32
**              bytes * n_drop (the incarnations dropped: create ops,
**              ascending, distinct)
**              [actions 3, 4, 5, 6] create_hash:32 bytes (the table altered)
**              [actions 4, 5] target:32 bytes index:varint (the column's
**              id: the create or add column op that introduced it, and its
**              index there)  [action 4] new_len:varint new_name
**              [create, add column] n_col:varint (1..BEC_TABLE_MAX_COL;
**              1 for add column, whose column is never a key) column*n_col
**              options:varint (BEC_OPT_*: 1 strict=1, 2 write='admin')
**              check_version:varint (=1) n_check:varint check*n_check
**   column  := name_len:varint name type_len:varint type
**              pk:varint (0, or the column's 1-based position in the key)
**              flags:varint (BEC_COL_*: 1 NOT NULL, 2 DEFAULT, 4 COLLATE
**              NOCASE, 8 COLLATE RTRIM, 16 COUNTER)
**              [flags & 2] value (the DEFAULT)
**   check   := name_len:varint name (0: unnamed) expr_len:varint expr
**              read:ceil(n_col/8) bytes (the columns the expression reads)
**
**   A column's id is (the create op, its index in it): writes name columns
**   by that index.  Version 1 (no constraints) and 2 (a drop naming a
**   table, not its incarnations) schema payloads are refused.
**
**   write   := version:u8 (=3) n_table:varint (>=1)
**              schema_hash:32 bytes * n_table  (create ops, distinct)
**              n_add:varint (0..255) * n_table  (per table: the ADD COLUMN
**              ops whose columns its changes may write)
**              add_hash:32 bytes * sum(n_add)   (in table order; distinct
**              within a table)
**              n_change:varint (>=1) change*n_change
**   change  := head:varint (table_index*2 + is_delete)
**              pk value * n_pk
**              [upsert only] mask:ceil((n_col+n_add)/8) bytes (bit i%8 of
**              byte i/8: column i is written; never a key column, never >=
**              n_col+n_add; column n_col+k is the column of the table's
**              k-th ADD op)
**              cell * popcount(mask), in column order
**   value   := tag:u8, then: 0 NULL | 1 integer: zigzag varint
**              | 2 real: 8 bytes IEEE 754 big-endian
**              | 3 text: len:varint bytes | 4 blob: len:varint bytes
**   cell    := value | tag:u8 (=5) step: zigzag varint (a COUNTER's step,
**              added to what the column shows; never a key or a DEFAULT)
**
**   Write payload version 3 added the cell tag 5; versions 1 and 2 are
**   refused.
**
** Decoders treat their input as hostile: every read is bounds-checked
** through BecReader and varints must be minimal.  They check the bytes and
** the shape (what acceptance refuses); what the bytes mean (names, types,
** values a table can hold) is the merge's verdict: an op that fails it is
** stored and ignored with a reason (bec_crdt.c).  A declared type never
** reaches SQL: bec_type_parse reads it into a closed form (an affinity)
** and only that form's word does; identifiers are quoted by
** bec_sql_ident.
*/
#include "becInt.h"

/**************************************************************************
** Values, and the exact sum of a COUNTER.
*/
void bec_sum_add(BecSum *p, i64 v){
  u64 lo = p->lo + (u64)v;
  p->hi += (v<0 ? -1 : 0) + (lo < p->lo ? 1 : 0);
  p->lo = lo;
}

/* Clamped once, at the end: a clamp per addition would depend on the
** order of the steps. */
i64 bec_sum_clamp(const BecSum *p){
  if( p->hi==0 && p->lo<=(u64)BEC_I64_MAX ) return (i64)p->lo;
  if( p->hi==-1 && p->lo>(u64)BEC_I64_MAX ) return (i64)p->lo;
  return p->hi<0 ? BEC_I64_MIN : BEC_I64_MAX;
}

static u64 zigzag(i64 v){
  return ((u64)v << 1) ^ (u64)(v >> 63);
}

static i64 unzigzag(u64 u){
  return (i64)(u >> 1) ^ -(i64)(u & 1);
}

void bec_value_put(BecBuf *pBuf, const BecValue *v, int *pRc){
  switch( v->eType ){
    case BEC_VAL_INT:
    case BEC_VAL_STEP:
      bec_buf_append_u8(pBuf, (u8)v->eType, pRc);
      bec_buf_append_varint(pBuf, zigzag(v->i), pRc);
      break;
    case BEC_VAL_REAL: {
      u64 u;
      u8 a[8];
      int i;
      memcpy(&u, &v->r, 8);
      for(i=0; i<8; i++) a[i] = (u8)(u >> (56 - 8*i));
      bec_buf_append_u8(pBuf, BEC_VAL_REAL, pRc);
      bec_buf_append(pBuf, a, 8, pRc);
      break;
    }
    case BEC_VAL_TEXT:
    case BEC_VAL_BLOB:
      bec_buf_append_u8(pBuf, (u8)v->eType, pRc);
      bec_buf_append_varint(pBuf, (u64)v->n, pRc);
      bec_buf_append(pBuf, v->a, v->n, pRc);
      break;
    default:
      bec_buf_append_u8(pBuf, BEC_VAL_NULL, pRc);
      break;
  }
}

void bec_value_encode(BecBuf *pBuf, sqlite3_value *pVal, int *pRc){
  BecValue v;
  int rc = bec_value_of(pVal, &v);
  if( rc ){
    if( *pRc==SQLITE_OK ) *pRc = rc;
    return;
  }
  bec_value_put(pBuf, &v, pRc);
}

int bec_value_of(sqlite3_value *pVal, BecValue *pV){
  BecValue v;
  memset(&v, 0, sizeof(v));
  switch( sqlite3_value_type(pVal) ){
    case SQLITE_INTEGER:
      v.eType = BEC_VAL_INT;
      v.i = sqlite3_value_int64(pVal);
      break;
    case SQLITE_FLOAT:
      v.eType = BEC_VAL_REAL;
      v.r = sqlite3_value_double(pVal);
      break;
    case SQLITE_TEXT:
      v.eType = BEC_VAL_TEXT;
      v.a = sqlite3_value_text(pVal);
      v.n = sqlite3_value_bytes(pVal);
      if( v.a==0 ) return SQLITE_NOMEM;
      break;
    case SQLITE_BLOB:
      v.eType = BEC_VAL_BLOB;
      v.a = sqlite3_value_blob(pVal);
      v.n = sqlite3_value_bytes(pVal);
      break;
    default:
      v.eType = BEC_VAL_NULL;
      break;
  }
  *pV = v;
  return SQLITE_OK;
}

int bec_value_is_nan(const BecValue *v){
  return v->eType==BEC_VAL_REAL && v->r!=v->r;
}

int bec_key_normalize(BecValue *v){
  if( v->eType==BEC_VAL_NULL || bec_value_is_nan(v) ) return 0;
  if( v->eType==BEC_VAL_REAL
   && v->r>=-9223372036854775808.0 && v->r<9223372036854775808.0
   && (double)(i64)v->r==v->r ){
    v->eType = BEC_VAL_INT;
    v->i = (i64)v->r;
    v->r = 0.0;
  }
  return 1;
}

/* A value, or with bStep a cell (a value or a counter's step). */
static int value_decode(BecReader *pRd, BecValue *pOut, int bStep){
  u8 tag = 0;
  u64 u = 0;
  int rc = bec_read_u8(pRd, &tag);
  memset(pOut, 0, sizeof(*pOut));
  if( rc ) return rc;
  pOut->eType = tag;
  if( tag==BEC_VAL_STEP && !bStep ) return BEC_MALFORMED;
  switch( tag ){
    case BEC_VAL_NULL:
      break;
    case BEC_VAL_INT:
    case BEC_VAL_STEP:
      rc = bec_read_varint(pRd, &u, ~(u64)0);
      pOut->i = unzigzag(u);
      break;
    case BEC_VAL_REAL: {
      const u8 *a = 0;
      rc = bec_read_bytes(pRd, 8, &a);
      if( rc==SQLITE_OK ){
        int i;
        for(i=0; i<8; i++) u = (u<<8) | a[i];
        memcpy(&pOut->r, &u, 8);
      }
      break;
    }
    case BEC_VAL_TEXT:
    case BEC_VAL_BLOB:
      rc = bec_read_varint(pRd, &u, BEC_MAX_PAYLOAD);
      if( rc==SQLITE_OK ) rc = bec_read_bytes(pRd, (i64)u, &pOut->a);
      pOut->n = (int)u;
      break;
    default:
      rc = BEC_MALFORMED;
      break;
  }
  return rc;
}

int bec_value_decode(BecReader *pRd, BecValue *pOut){
  return value_decode(pRd, pOut, 0);
}

void bec_value_bind(sqlite3_stmt *pStmt, int iParam, const BecValue *pVal){
  switch( pVal->eType ){
    case BEC_VAL_INT:
    case BEC_VAL_STEP: sqlite3_bind_int64(pStmt, iParam, pVal->i); break;
    case BEC_VAL_REAL: sqlite3_bind_double(pStmt, iParam, pVal->r); break;
    case BEC_VAL_TEXT:
      sqlite3_bind_text(pStmt, iParam, pVal->a ? (const char*)pVal->a : "",
                        pVal->n, SQLITE_STATIC);
      break;
    case BEC_VAL_BLOB:
      sqlite3_bind_blob(pStmt, iParam, pVal->a ? (const void*)pVal->a : "",
                        pVal->n, SQLITE_STATIC);
      break;
    default:       sqlite3_bind_null(pStmt, iParam); break;
  }
}

void bec_value_result_as(sqlite3_context *ctx, const BecValue *pVal,
                         void (*xDel)(void*)){
  switch( pVal->eType ){
    case BEC_VAL_INT:
    case BEC_VAL_STEP: sqlite3_result_int64(ctx, pVal->i); break;
    case BEC_VAL_REAL: sqlite3_result_double(ctx, pVal->r); break;
    case BEC_VAL_TEXT:
      sqlite3_result_text(ctx, pVal->a ? (const char*)pVal->a : "", pVal->n,
                          xDel);
      break;
    case BEC_VAL_BLOB:
      sqlite3_result_blob(ctx, pVal->a ? (const void*)pVal->a : "", pVal->n,
                          xDel);
      break;
    default:       sqlite3_result_null(ctx); break;
  }
}

void bec_value_result(sqlite3_context *ctx, const BecValue *pVal){
  bec_value_result_as(ctx, pVal, SQLITE_TRANSIENT);
}

/**************************************************************************
** Schema payloads.
*/
/* Names may hold any byte but controls; they are always quoted. */
static int name_ok(const u8 *a, int n){
  int i;
  if( n<1 || n>BEC_TABLE_MAX_NAME ) return 0;
  for(i=0; i<n; i++) if( a[i]<0x20 || a[i]==0x7f ) return 0;
  return 1;
}

/* ASCII case-insensitive comparisons of bec's own: names and types are
** compared the same way by every replica, whatever SQLite's version. */
static int lower(int c){ return (c>='A' && c<='Z') ? c+32 : c; }

static int ieq(const char *z, int n, const char *zWord){
  int i;
  for(i=0; i<n; i++) if( zWord[i]==0 || lower((u8)z[i])!=lower((u8)zWord[i]) ) return 0;
  return zWord[n]==0;
}

static int contains_nocase(const char *z, int n, const char *zSub){
  int k = (int)strlen(zSub), i, j;
  for(i=0; i+k<=n; i++){
    for(j=0; j<k && lower((u8)z[i+j])==lower((u8)zSub[j]); j++){}
    if( j==k ) return 1;
  }
  return 0;
}

static int is_digit(char c){ return c>='0' && c<='9'; }
static int is_word(char c){
  return (c>='a' && c<='z') || (c>='A' && c<='Z') || c=='_' || is_digit(c);
}

/* Words that begin a column constraint: never part of a type name. */
static const char *const azConstraintWord[] = {
  "PRIMARY", "KEY", "NOT", "NULL", "UNIQUE", "DEFAULT", "CHECK", "REFERENCES",
  "COLLATE", "CONSTRAINT", "GENERATED", "AS", "HIDDEN", "ON", "CONFLICT",
  "AUTOINCREMENT", "ASC", "DESC", "COUNTER", 0
};

/* A signed number of a type name: [+-]digits[.digits].  *pi moves past. */
static int type_number(const char *z, int n, int *pi){
  int i = *pi, n0;
  if( i<n && (z[i]=='+' || z[i]=='-') ) i++;
  n0 = i;
  while( i<n && is_digit(z[i]) ) i++;
  if( i==n0 ) return 0;
  if( i<n && z[i]=='.' ){
    i++;
    n0 = i;
    while( i<n && is_digit(z[i]) ) i++;
    if( i==n0 ) return 0;
  }
  *pi = i;
  return 1;
}

/* The grammar of a type name, as SQLite's (words, then optionally one or
** two signed numbers in parentheses), parsed by bec; its affinity by the
** rules of SQLite's documentation (datatype3.html, 3.1), in their order. */
int bec_type_parse(const char *z, int n, int *peAff, int *pbInteger){
  int i = 0, nWord = 0, k;
  *peAff = -1;
  *pbInteger = 0;
  if( n<0 || n>BEC_TABLE_MAX_TYPE ) return 0;
  for(;;){
    int i0;
    while( i<n && z[i]==' ' ) i++;
    if( i>=n || !is_word(z[i]) || is_digit(z[i]) ) break;
    i0 = i;
    while( i<n && is_word(z[i]) ) i++;
    for(k=0; azConstraintWord[k]; k++){
      if( ieq(&z[i0], i-i0, azConstraintWord[k]) ) return 0;
    }
    nWord++;
  }
  if( i<n && z[i]=='(' ){
    if( nWord==0 ) return 0;
    i++;
    while( i<n && z[i]==' ' ) i++;
    if( !type_number(z, n, &i) ) return 0;
    while( i<n && z[i]==' ' ) i++;
    if( i<n && z[i]==',' ){
      i++;
      while( i<n && z[i]==' ' ) i++;
      if( !type_number(z, n, &i) ) return 0;
      while( i<n && z[i]==' ' ) i++;
    }
    if( i>=n || z[i]!=')' ) return 0;
    i++;
    while( i<n && z[i]==' ' ) i++;
  }
  if( i!=n ) return 0;
  if( contains_nocase(z, n, "INT") ){
    *peAff = BEC_AFF_INTEGER;
  }else if( contains_nocase(z, n, "CHAR") || contains_nocase(z, n, "CLOB")
         || contains_nocase(z, n, "TEXT") ){
    *peAff = BEC_AFF_TEXT;
  }else if( nWord==0 || contains_nocase(z, n, "BLOB") ){
    *peAff = BEC_AFF_BLOB;
  }else if( contains_nocase(z, n, "REAL") || contains_nocase(z, n, "FLOA")
         || contains_nocase(z, n, "DOUB") ){
    *peAff = BEC_AFF_REAL;
  }else{
    *peAff = BEC_AFF_NUMERIC;
  }
  *pbInteger = ieq(z, n, "INTEGER");
  return 1;
}

const char *bec_type_sql(const BecColumn *c){
  switch( c->eAff ){
    case BEC_AFF_INTEGER: return "INTEGER";
    case BEC_AFF_TEXT:    return "TEXT";
    case BEC_AFF_REAL:    return "REAL";
    case BEC_AFF_NUMERIC: return "NUMERIC";
    default:              return c->zType[0] ? "BLOB" : "";
  }
}

char *bec_sql_ident(const char *zName, const char *zSuffix){
  return sqlite3_mprintf("\"%w%w\"", zName, zSuffix ? zSuffix : "");
}

static int prefix_nocase(const char *z, int n, const char *zPrefix){
  int k = (int)strlen(zPrefix);
  return n>=k && sqlite3_strnicmp(z, zPrefix, k)==0;
}

int bec_table_name_ok(const char *z, int n, char **pzErr){
  if( !name_ok((const u8*)z, n) ){
    *pzErr = sqlite3_mprintf("bad table name: 1 to %d bytes, no control "
                             "characters", BEC_TABLE_MAX_NAME);
    return SQLITE_ERROR;
  }
  if( prefix_nocase(z, n, "sqlite_") || prefix_nocase(z, n, "bec_") ){
    *pzErr = sqlite3_mprintf("bad table name \"%.*s\": names beginning with "
                             "sqlite_ or bec_ are reserved", n, z);
    return SQLITE_ERROR;
  }
  if( n>=5 && sqlite3_strnicmp(&z[n-5], "_rows", 5)==0 ){
    *pzErr = sqlite3_mprintf("bad table name \"%.*s\": names ending in _rows "
                             "are reserved for shadow tables", n, z);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

int bec_schema_has_counter(const BecSchema *p){
  int i;
  for(i=0; i<p->nCol; i++) if( p->aCol[i].flags & BEC_COL_COUNTER ) return 1;
  return 0;
}

void bec_schema_free(BecSchema *p){
  if( p ){
    int i;
    for(i=0; p->apAdd && i<p->nCol-p->nBase; i++) bec_schema_free(p->apAdd[i]);
    bec_schema_free(p->pBase);
    sqlite3_free(p->pAdd);
    sqlite3_free(p->aDrop);
    sqlite3_free(p->pExtra);
  }
  sqlite3_free(p);
}

void bec_value_sql(BecBuf *pBuf, const BecValue *v, int *pRc){
  int i;
  switch( v->eType ){
    case BEC_VAL_INT:  bec_buf_appendf(pBuf, pRc, "%lld", (long long)v->i); break;
    case BEC_VAL_REAL: bec_buf_appendf(pBuf, pRc, "%!.17g", v->r); break;
    case BEC_VAL_TEXT:
      bec_buf_appendf(pBuf, pRc, "'");
      for(i=0; i<v->n; i++){
        if( v->a[i]=='\'' ) bec_buf_append_u8(pBuf, '\'', pRc);
        bec_buf_append_u8(pBuf, v->a[i], pRc);
      }
      bec_buf_appendf(pBuf, pRc, "'");
      break;
    case BEC_VAL_BLOB:
      bec_buf_appendf(pBuf, pRc, "X'");
      for(i=0; i<v->n; i++) bec_buf_appendf(pBuf, pRc, "%02x", v->a[i]);
      bec_buf_appendf(pBuf, pRc, "'");
      break;
    default:           bec_buf_appendf(pBuf, pRc, "NULL"); break;
  }
}

/* The strict type of a declared type: BEC_STRICT_*, 0 if none. */
static int strict_type(const char *z){
  int n = (int)strlen(z);
  if( ieq(z, n, "INTEGER") || ieq(z, n, "INT") ) return BEC_STRICT_INTEGER;
  if( ieq(z, n, "REAL") ) return BEC_STRICT_REAL;
  if( ieq(z, n, "TEXT") ) return BEC_STRICT_TEXT;
  if( ieq(z, n, "BLOB") ) return BEC_STRICT_BLOB;
  if( ieq(z, n, "ANY") ) return BEC_STRICT_ANY;
  return 0;
}

int bec_schema_constrain(BecSchema *p, const BecSchemaDecl *pD){
  i64 nByte = (i64)pD->nCheck*sizeof(BecCheck);
  int aParent[BEC_TABLE_MAX_COL];
  char *z;
  int i, j;
  for(i=0; i<p->nCol; i++){
    if( pD->aFlags[i] & BEC_COL_DEFAULT ){
      const BecValue *v = &pD->aDflt[i];
      if( v->eType==BEC_VAL_TEXT || v->eType==BEC_VAL_BLOB ) nByte += v->n + 1;
    }
  }
  for(i=0; i<pD->nCheck; i++){
    nByte += pD->aCheck[i].nName + pD->aCheck[i].nExpr + 2;
  }
  sqlite3_free(p->pExtra);
  p->pExtra = sqlite3_malloc64((sqlite3_uint64)nByte + 8);
  if( p->pExtra==0 ) return SQLITE_NOMEM;
  memset(p->pExtra, 0, (size_t)nByte + 8);
  p->aCheck = (BecCheck*)p->pExtra;
  z = (char*)&p->aCheck[pD->nCheck];
  p->opts = pD->opts;
  p->iCheckVersion = pD->iCheckVersion;
  p->nCheck = pD->nCheck;
  p->nBaseCheck = pD->nCheck;
  p->bConstrained = pD->nCheck>0 || (pD->opts & BEC_OPT_STRICT);
  for(i=0; i<p->nCol; i++){
    BecColumn *c = &p->aCol[i];
    c->flags = pD->aFlags[i];
    memset(&c->dflt, 0, sizeof(c->dflt));
    if( c->flags & BEC_COL_DEFAULT ){
      c->dflt = pD->aDflt[i];
      if( c->dflt.eType==BEC_VAL_TEXT || c->dflt.eType==BEC_VAL_BLOB ){
        if( c->dflt.n ) memcpy(z, c->dflt.a, (size_t)c->dflt.n);
        c->dflt.a = (const u8*)z;
        z += c->dflt.n + 1;
      }
    }
    if( (c->flags & BEC_COL_COUNTER) && !(c->flags & BEC_COL_DEFAULT) ){
      c->dflt.eType = BEC_VAL_INT;      /* a counter's fill: 0 */
    }
    if( c->flags & BEC_COL_NOTNULL ) p->bConstrained = 1;
    c->eStrict = (p->opts & BEC_OPT_STRICT) ? strict_type(c->zType) : 0;
    /* STRICT's ANY keeps every value as it is: no affinity. */
    if( c->eStrict==BEC_STRICT_ANY ) c->eAff = BEC_AFF_BLOB;
    c->iGroup = -1;
    aParent[i] = i;
  }
  for(i=0; i<pD->nCheck; i++){
    BecCheck *k = &p->aCheck[i];
    int iFirst = -1;
    k->zName = z;
    memcpy(z, pD->aCheck[i].zName, (size_t)pD->aCheck[i].nName);
    z += pD->aCheck[i].nName + 1;
    k->zExpr = z;
    memcpy(z, pD->aCheck[i].zExpr, (size_t)pD->aCheck[i].nExpr);
    z += pD->aCheck[i].nExpr + 1;
    memcpy(k->aRead, pD->aCheck[i].aRead, sizeof(k->aRead));
    for(j=0; j<p->nCol; j++){
      if( BEC_MASK_HAS(k->aRead, j) && !p->aCol[j].iPk ) k->nReadNk++;
    }
    /* Merge groups: the non-key columns of a CHECK that reads two or
    ** more are one register; union-find closes the relation. */
    for(j=0; k->nReadNk>1 && j<p->nCol; j++){
      if( !BEC_MASK_HAS(k->aRead, j) || p->aCol[j].iPk ) continue;
      if( iFirst<0 ){
        iFirst = j;
      }else{
        int a = iFirst, b = j;
        while( aParent[a]!=a ) a = aParent[a];
        while( aParent[b]!=b ) b = aParent[b];
        if( a!=b ) aParent[a<b ? b : a] = a<b ? a : b;
      }
    }
  }
  p->nGroup = 0;
  for(i=0; i<p->nCol; i++){
    int r = i, bGrouped = 0;
    while( aParent[r]!=r ) r = aParent[r];
    for(j=0; j<p->nCol; j++){
      int q = j;
      while( aParent[q]!=q ) q = aParent[q];
      if( j!=i && q==r ) bGrouped = 1;
    }
    if( !bGrouped ) continue;
    if( r==i ) p->aCol[i].iGroup = p->nGroup++;
    else p->aCol[i].iGroup = p->aCol[r].iGroup;
  }
  return SQLITE_OK;
}

/* Builds a BecSchema in one allocation from parsed parts. */
int bec_schema_new(int action, const char *zName, int nName, int nCol,
                   const char *const *azCol, const int *anCol,
                   const char *const *azType, const int *anType,
                   const int *aiPk, BecSchema **pp){
  i64 nByte = sizeof(BecSchema) + (i64)nCol*(sizeof(BecColumn) + sizeof(int))
            + nName + 1;
  BecSchema *p;
  char *z;
  int i;
  *pp = 0;
  for(i=0; i<nCol; i++) nByte += anCol[i] + anType[i] + 2;
  p = sqlite3_malloc64((sqlite3_uint64)nByte);
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, (size_t)nByte);
  p->action = action;
  p->nCol = nCol;
  p->nBase = nCol;
  p->aCol = (BecColumn*)&p[1];
  p->aPk = (int*)&p->aCol[nCol];
  z = (char*)&p->aPk[nCol];
  p->zName = z;
  memcpy(z, zName, (size_t)nName);
  z += nName + 1;
  for(i=0; i<nCol; i++){
    p->aCol[i].zName = z;
    memcpy(z, azCol[i], (size_t)anCol[i]);
    z += anCol[i] + 1;
    p->aCol[i].zType = z;
    memcpy(z, azType[i], (size_t)anType[i]);
    z += anType[i] + 1;
    p->aCol[i].iPk = aiPk[i];
    p->aCol[i].iGroup = -1;
    if( !bec_type_parse(azType[i], anType[i], &p->aCol[i].eAff,
                        &p->aCol[i].bInteger) ){
      p->aCol[i].eAff = -1;
    }
    /* (an out-of-range position is the shape check's to report) */
    if( aiPk[i]>0 && aiPk[i]<=nCol ){
      p->aPk[aiPk[i]-1] = i;
      p->nPk++;
    }
  }
  p->bIntPk = p->nPk==1 && p->aCol[p->aPk[0]].bInteger;
  p->iCheckVersion = BEC_CHECK_VERSION;
  *pp = p;
  return SQLITE_OK;
}

/* The shape a write op is parsed by: 1 to BEC_TABLE_MAX_COL columns and a
** key whose positions are 1..nPk, each once.  A schema op without it is
** malformed (refused at acceptance): no write could name it. */
static int schema_shape(const BecSchema *p, char **pzErr){
  int i, j;
  if( p->action==BEC_SCHEMA_DROP || p->action==BEC_SCHEMA_RETABLE ){
    return SQLITE_OK;
  }
  if( p->action==BEC_SCHEMA_RENAME || p->action==BEC_SCHEMA_DROPCOL ){
    return SQLITE_OK;           /* (the decoder gives them their shape) */
  }
  if( p->action==BEC_SCHEMA_ADD ){
    if( p->nCol!=1 || p->aCol[0].iPk!=0 ){
      *pzErr = sqlite3_mprintf("ADD COLUMN adds one column, never a key "
                               "column");
      return SQLITE_ERROR;
    }
    return SQLITE_OK;
  }
  if( p->nCol<1 || p->nCol>BEC_TABLE_MAX_COL ){
    *pzErr = sqlite3_mprintf("a table has 1 to %d columns", BEC_TABLE_MAX_COL);
    return SQLITE_ERROR;
  }
  if( p->nPk<1 ){
    *pzErr = sqlite3_mprintf("table %s has no primary key: bec tables need "
        "one (rows of all replicas are matched by it)", p->zName);
    return SQLITE_ERROR;
  }
  for(i=0; i<p->nCol; i++){
    const BecColumn *c = &p->aCol[i];
    if( c->iPk<0 || c->iPk>p->nPk ){
      *pzErr = sqlite3_mprintf("column %d: bad key position", i);
      return SQLITE_ERROR;
    }
    for(j=0; j<i; j++){
      if( c->iPk && p->aCol[j].iPk==c->iPk ){
        *pzErr = sqlite3_mprintf("column %d: duplicate key position", i);
        return SQLITE_ERROR;
      }
    }
  }
  return SQLITE_OK;
}

/* 1 if value v may be stored in a column of strict type eStrict (NULL is
** NOT NULL's business). */
static int strict_ok(int eStrict, const BecValue *v){
  if( v->eType==BEC_VAL_NULL ) return 1;
  switch( eStrict ){
    case BEC_STRICT_INTEGER: return v->eType==BEC_VAL_INT || v->eType==BEC_VAL_STEP;
    case BEC_STRICT_REAL:    return v->eType==BEC_VAL_REAL;
    case BEC_STRICT_TEXT:    return v->eType==BEC_VAL_TEXT;
    case BEC_STRICT_BLOB:    return v->eType==BEC_VAL_BLOB;
    default:                 return 1;
  }
}

const char *bec_collate_sql(const BecColumn *c){
  if( c->flags & BEC_COL_NOCASE ) return " COLLATE NOCASE";
  if( c->flags & BEC_COL_RTRIM ) return " COLLATE RTRIM";
  return "";
}

int bec_value_strict_ok(const BecColumn *c, const BecValue *v){
  return c->eStrict==0 || strict_ok(c->eStrict, v);
}

/* Text of a DEFAULT or a CHECK: valid UTF-8 without NUL or control bytes
** other than white space (it reaches SQL text of the private connection
** and messages). */
static int text_ok(const u8 *a, int n){
  int i;
  for(i=0; i<n; i++){
    if( a[i]==0 || (a[i]<0x20 && a[i]!='\t' && a[i]!='\n' && a[i]!='\r') ){
      return 0;
    }
  }
  return 1;
}

const char *bec_sql_skip_quoted(const char *z){
  char e;
  if( *z!='\'' && *z!='"' && *z!='`' && *z!='[' ) return z;
  e = *z=='[' ? ']' : *z;
  for(z++; *z && *z!=e; z++){}
  return *z ? z : 0;
}

/* 1 if a CHECK's text is in the form bec records (docs/tables.md): no
** white space at either end, and outside literals and quoted names only
** single spaces.  Every replica shows the text as recorded, and a
** declaration made from it must record the same bytes. */
static int text_normalised(const char *z){
  int i = 0, n = (int)strlen(z);
  if( n==0 || z[0]==' ' || z[n-1]==' ' ) return 0;
  while( i<n ){
    char q = z[i];
    const char *zEnd = bec_sql_skip_quoted(&z[i]);
    if( zEnd==0 ){
      break;                    /* a literal the text does not close */
    }else if( zEnd!=&z[i] ){
      i = (int)(zEnd - z) + 1;
    }else if( q=='\t' || q=='\n' || q=='\r' || (q==' ' && z[i+1]==' ') ){
      return 0;
    }else{
      i++;
    }
  }
  return 1;
}

/* The declared constraints (docs/tables.md, "Constraints"): what a schema
** op may declare, decided from its bytes alone.  What needs SQLite (a
** CHECK's meaning, and the DEFAULTs passing it) is bec_crdt.c's. */
static int constraints_check(const BecSchema *p, char **pzErr){
  int i, j;
  if( p->opts & ~BEC_OPTS ){
    *pzErr = sqlite3_mprintf("table %s: unknown table options %d", p->zName,
                             p->opts);
    return SQLITE_ERROR;
  }
  if( p->iCheckVersion!=BEC_CHECK_VERSION ){
    *pzErr = sqlite3_mprintf("table %s needs a newer bec (CHECK function list "
        "version %d; this bec knows %d)", p->zName, p->iCheckVersion,
        BEC_CHECK_VERSION);
    return SQLITE_ERROR;
  }
  for(i=0; i<p->nCol; i++){
    const BecColumn *c = &p->aCol[i];
    if( c->flags & ~BEC_COL_FLAGS ){
      *pzErr = sqlite3_mprintf("column %s: unknown column flags", c->zName);
      return SQLITE_ERROR;
    }
    if( (p->opts & BEC_OPT_STRICT) && c->eStrict==0 ){
      *pzErr = sqlite3_mprintf("column %s: a strict table's columns have one "
          "of the types INTEGER, INT, REAL, TEXT, BLOB, ANY (not \"%s\")",
          c->zName, c->zType);
      return SQLITE_ERROR;
    }
    if( (c->flags & BEC_COL_NOCASE) && (c->flags & BEC_COL_RTRIM) ){
      *pzErr = sqlite3_mprintf("column %s: two collations", c->zName);
      return SQLITE_ERROR;
    }
    if( c->iPk && (c->flags & (BEC_COL_NOCASE|BEC_COL_RTRIM)) ){
      *pzErr = sqlite3_mprintf("column %s: COLLATE on a key column is not "
          "supported: rows equal in SQL would be distinct bec keys", c->zName);
      return SQLITE_ERROR;
    }
    if( (c->flags & BEC_COL_COUNTER) && (c->iPk || c->eAff!=BEC_AFF_INTEGER
     || c->iGroup>=0 || ((c->flags & BEC_COL_DEFAULT)
                         && c->dflt.eType!=BEC_VAL_INT)) ){
      *pzErr = sqlite3_mprintf("column %s: a COUNTER is a non-key column of "
          "INTEGER affinity, with an integer DEFAULT (0 if none), in no "
          "merge group", c->zName);
      return SQLITE_ERROR;
    }
    if( c->iPk && (c->flags & BEC_COL_DEFAULT) ){
      *pzErr = sqlite3_mprintf("column %s: a key column takes no DEFAULT",
                               c->zName);
      return SQLITE_ERROR;
    }
    if( !c->iPk && (c->flags & BEC_COL_NOTNULL)
     && (!(c->flags & BEC_COL_DEFAULT) || c->dflt.eType==BEC_VAL_NULL) ){
      *pzErr = sqlite3_mprintf("column %s: NOT NULL needs a constant DEFAULT "
          "that is not NULL: an UPDATE concurrent with a DELETE can leave the "
          "column with no write, and it then shows its DEFAULT", c->zName);
      return SQLITE_ERROR;
    }
    if( c->flags & BEC_COL_DEFAULT ){
      if( (c->dflt.eType==BEC_VAL_REAL && !(c->dflt.r-c->dflt.r==0.0))
       || (c->dflt.eType==BEC_VAL_TEXT && !text_ok(c->dflt.a, c->dflt.n)) ){
        *pzErr = sqlite3_mprintf("column %s: bad DEFAULT (a NaN or an "
            "infinity, or text with control characters)", c->zName);
        return SQLITE_ERROR;
      }
      if( c->eStrict && !strict_ok(c->eStrict, &c->dflt) ){
        *pzErr = sqlite3_mprintf("column %s: the DEFAULT is not of the "
                                 "column's strict type %s", c->zName, c->zType);
        return SQLITE_ERROR;
      }
    }
  }
  for(i=0; i<p->nCheck; i++){
    const BecCheck *k = &p->aCheck[i];
    int nRead = 0;
    if( k->zExpr[0]==0 || !text_ok((const u8*)k->zExpr, (int)strlen(k->zExpr))
     || !text_normalised(k->zExpr)
     || (k->zName[0] && !name_ok((const u8*)k->zName, (int)strlen(k->zName))) ){
      *pzErr = sqlite3_mprintf("table %s: bad CHECK %d (empty, white space "
          "not normalised, or a name or text with control characters)",
          p->zName, i);
      return SQLITE_ERROR;
    }
    for(j=0; j<BEC_TABLE_MAX_COL; j++){
      if( BEC_MASK_HAS(k->aRead, j) ){
        if( j>=p->nCol ){
          *pzErr = sqlite3_mprintf("table %s: CHECK %d reads a column the "
                                   "table does not have", p->zName, i);
          return SQLITE_ERROR;
        }
        nRead++;
      }
    }
    if( nRead==0 ){
      *pzErr = sqlite3_mprintf("table %s: CHECK (%s) reads no column",
                               p->zName, k->zExpr);
      return SQLITE_ERROR;
    }
    for(j=0; j<p->nCol; j++){
      if( BEC_MASK_HAS(k->aRead, j) && (p->aCol[j].flags & BEC_COL_COUNTER) ){
        *pzErr = sqlite3_mprintf("table %s: CHECK (%s) reads COUNTER column "
            "%s: a counter's value is a sum of concurrent steps, which no "
            "CHECK can bound (docs/tables.md, \"Counters\")", p->zName,
            k->zExpr, p->aCol[j].zName);
        return SQLITE_ERROR;
      }
    }
  }
  return SQLITE_OK;
}

/* Checks the rules every schema must satisfy, whoever made it: its shape,
** then what it means (names, types in their closed form).  A local
** declaration that fails is refused; a peer's schema op that has the
** shape but fails the rest is stored and ignored with *pzErr as reason. */
int bec_schema_check(const BecSchema *p, char **pzErr){
  int i, j;
  int rc = schema_shape(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_table_name_ok(p->zName, (int)strlen(p->zName), pzErr);
  if( rc || p->action==BEC_SCHEMA_DROP || p->action==BEC_SCHEMA_RETABLE ){
    return rc;
  }
  for(i=0; i<p->nCol; i++){
    const BecColumn *c = &p->aCol[i];
    if( !name_ok((const u8*)c->zName, (int)strlen(c->zName)) ){
      *pzErr = sqlite3_mprintf("bad column name in table %s", p->zName);
      return SQLITE_ERROR;
    }
    if( c->eAff<0 ){
      *pzErr = sqlite3_mprintf("column %s: unsupported type \"%s\" (a type "
          "name, optionally with numbers in parentheses)", c->zName, c->zType);
      return SQLITE_ERROR;
    }
    for(j=0; j<i; j++){
      const char *zA = p->aCol[j].zName;
      if( ieq(zA, (int)strlen(zA), c->zName) ){
        *pzErr = sqlite3_mprintf("duplicate column name: %s", c->zName);
        return SQLITE_ERROR;
      }
    }
  }
  return constraints_check(p, pzErr);
}

void bec_schema_encode(BecBuf *pBuf, const BecSchema *p, int *pRc){
  int i;
  int n = (int)strlen(p->zName);
  bec_buf_append_u8(pBuf, BEC_SCHEMA_FORMAT, pRc);
  bec_buf_append_u8(pBuf, (u8)p->action, pRc);
  bec_buf_append_varint(pBuf, (u64)n, pRc);
  bec_buf_append(pBuf, p->zName, n, pRc);
  if( p->action==BEC_SCHEMA_DROP ){
    bec_buf_append_varint(pBuf, (u64)p->nDrop, pRc);
    bec_buf_append(pBuf, p->aDrop, p->nDrop*BEC_HASH_BYTES, pRc);
    return;
  }
  if( p->action>=BEC_SCHEMA_ADD ) bec_buf_append(pBuf, p->aCreate, BEC_HASH_BYTES, pRc);
  if( p->action==BEC_SCHEMA_RETABLE ) return;
  if( p->action==BEC_SCHEMA_RENAME || p->action==BEC_SCHEMA_DROPCOL ){
    bec_buf_append(pBuf, p->aTarget, BEC_HASH_BYTES, pRc);
    bec_buf_append_varint(pBuf, (u64)p->iTarget, pRc);
    if( p->action==BEC_SCHEMA_RENAME ){
      int nn = (int)strlen(p->aCol[0].zName);
      bec_buf_append_varint(pBuf, (u64)nn, pRc);
      bec_buf_append(pBuf, p->aCol[0].zName, nn, pRc);
    }
    return;
  }
  bec_buf_append_varint(pBuf, (u64)p->nCol, pRc);
  for(i=0; i<p->nCol; i++){
    int nc = (int)strlen(p->aCol[i].zName);
    int nt = (int)strlen(p->aCol[i].zType);
    bec_buf_append_varint(pBuf, (u64)nc, pRc);
    bec_buf_append(pBuf, p->aCol[i].zName, nc, pRc);
    bec_buf_append_varint(pBuf, (u64)nt, pRc);
    bec_buf_append(pBuf, p->aCol[i].zType, nt, pRc);
    bec_buf_append_varint(pBuf, (u64)p->aCol[i].iPk, pRc);
    bec_buf_append_varint(pBuf, (u64)p->aCol[i].flags, pRc);
    if( p->aCol[i].flags & BEC_COL_DEFAULT ){
      bec_value_put(pBuf, &p->aCol[i].dflt, pRc);
    }
  }
  bec_buf_append_varint(pBuf, (u64)p->opts, pRc);
  bec_buf_append_varint(pBuf, (u64)p->iCheckVersion, pRc);
  bec_buf_append_varint(pBuf, (u64)p->nCheck, pRc);
  for(i=0; i<p->nCheck; i++){
    const BecCheck *k = &p->aCheck[i];
    int nn = (int)strlen(k->zName), ne = (int)strlen(k->zExpr);
    bec_buf_append_varint(pBuf, (u64)nn, pRc);
    bec_buf_append(pBuf, k->zName, nn, pRc);
    bec_buf_append_varint(pBuf, (u64)ne, pRc);
    bec_buf_append(pBuf, k->zExpr, ne, pRc);
    bec_buf_append(pBuf, k->aRead, (p->nCol+7)/8, pRc);
  }
}

static int read_str(BecReader *pRd, int mx, const char **pz, int *pn){
  u64 n = 0;
  int rc = bec_read_varint(pRd, &n, (u64)mx);
  if( rc==SQLITE_OK ) rc = bec_read_bytes(pRd, (i64)n, (const u8**)pz);
  *pn = (int)n;
  return rc;
}

int bec_schema_decode(const u8 *a, i64 n, BecSchema **pp, char **pzErr){
  BecReader rd;
  u8 version = 0, action = 0;
  u64 nCol = 0;
  const char *zName = 0;
  int nName = 0, i;
  const char *azCol[BEC_TABLE_MAX_COL], *azType[BEC_TABLE_MAX_COL];
  int anCol[BEC_TABLE_MAX_COL], anType[BEC_TABLE_MAX_COL], aiPk[BEC_TABLE_MAX_COL];
  int rc;
  BecSchema *p = 0;
  BecSchemaDecl *pD = 0;
  const u8 *aCreate = 0, *aTarget = 0, *aDrop = 0;
  int iTarget = 0, nDrop = 0;

  *pp = 0;
  rd.a = a; rd.n = n; rd.i = 0;
  rc = bec_read_u8(&rd, &version);
  if( rc==SQLITE_OK && version!=BEC_SCHEMA_FORMAT ){
    *pzErr = sqlite3_mprintf("malformed: schema payload version %d: this bec "
        "reads version %d only (%s)", version, BEC_SCHEMA_FORMAT,
        version<BEC_SCHEMA_FORMAT ? "made by an older bec, before drops "
        "listed the incarnations they drop: declare the tables again"
        : "made by a newer bec");
    return BEC_MALFORMED;
  }
  pD = sqlite3_malloc64(sizeof(BecSchemaDecl));
  if( pD==0 ) return SQLITE_NOMEM;
  memset(pD, 0, sizeof(*pD));
  if( rc==SQLITE_OK ) rc = bec_read_u8(&rd, &action);
  if( rc==SQLITE_OK && (action<BEC_SCHEMA_CREATE || action>BEC_SCHEMA_RETABLE) ){
    rc = BEC_MALFORMED;
  }
  if( rc==SQLITE_OK ) rc = read_str(&rd, BEC_TABLE_MAX_NAME, &zName, &nName);
  if( rc==SQLITE_OK && action==BEC_SCHEMA_DROP ){
    u64 nD = 0;
    rc = bec_read_varint(&rd, &nD, BEC_DROP_MAX);
    if( rc==SQLITE_OK && nD<1 ) rc = BEC_MALFORMED;
    if( rc==SQLITE_OK ) rc = bec_read_bytes(&rd, (i64)nD*BEC_HASH_BYTES, &aDrop);
    /* ascending, hence distinct: the one canonical list */
    for(i=1; rc==SQLITE_OK && i<(int)nD; i++){
      if( memcmp(&aDrop[(i-1)*BEC_HASH_BYTES], &aDrop[i*BEC_HASH_BYTES],
                 BEC_HASH_BYTES)>=0 ) rc = BEC_MALFORMED;
    }
    nDrop = (int)nD;
  }
  if( rc==SQLITE_OK && action>=BEC_SCHEMA_ADD ){
    rc = bec_read_bytes(&rd, BEC_HASH_BYTES, &aCreate);
  }
  if( rc==SQLITE_OK && (action==BEC_SCHEMA_RENAME || action==BEC_SCHEMA_DROPCOL) ){
    u64 iT = 0;
    rc = bec_read_bytes(&rd, BEC_HASH_BYTES, &aTarget);
    if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &iT, BEC_TABLE_MAX_COL-1);
    iTarget = (int)iT;
    if( rc==SQLITE_OK && action==BEC_SCHEMA_RENAME ){
      /* the new name, as the one column of the schema */
      nCol = 1;
      rc = read_str(&rd, BEC_TABLE_MAX_NAME, &azCol[0], &anCol[0]);
      azType[0] = "";
      anType[0] = 0;
      aiPk[0] = 0;
      if( rc==SQLITE_OK && memchr(azCol[0], 0, (size_t)anCol[0]) ) rc = BEC_MALFORMED;
    }
  }
  if( rc==SQLITE_OK && action!=BEC_SCHEMA_DROP && action<BEC_SCHEMA_RENAME ){
    rc = bec_read_varint(&rd, &nCol, BEC_TABLE_MAX_COL);
    for(i=0; rc==SQLITE_OK && i<(int)nCol; i++){
      u64 iPk = 0;
      rc = read_str(&rd, BEC_TABLE_MAX_NAME, &azCol[i], &anCol[i]);
      if( rc==SQLITE_OK ) rc = read_str(&rd, BEC_TABLE_MAX_TYPE, &azType[i], &anType[i]);
      if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &iPk, BEC_TABLE_MAX_COL);
      aiPk[i] = (int)iPk;
      if( rc==SQLITE_OK ){
        u64 f = 0;
        rc = bec_read_varint(&rd, &f, BEC_COL_FLAGS);
        pD->aFlags[i] = (int)f;
        if( rc==SQLITE_OK && (f & BEC_COL_DEFAULT) ){
          rc = bec_value_decode(&rd, &pD->aDflt[i]);
        }
      }
      /* Names with NUL bytes would be truncated: not canonical. */
      if( rc==SQLITE_OK && (memchr(azCol[i], 0, (size_t)anCol[i])
                            || memchr(azType[i], 0, (size_t)anType[i])) ){
        rc = BEC_MALFORMED;
      }
    }
    if( rc==SQLITE_OK ){
      u64 opts = 0, ver = 0, nCheck = 0;
      rc = bec_read_varint(&rd, &opts, BEC_OPTS);
      if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &ver, 0xffff);
      if( rc==SQLITE_OK ) rc = bec_read_varint(&rd, &nCheck, BEC_TABLE_MAX_CHECK);
      pD->opts = (int)opts;
      pD->iCheckVersion = (int)ver;
      pD->nCheck = (int)nCheck;
      for(i=0; rc==SQLITE_OK && i<(int)nCheck; i++){
        const u8 *aRead = 0;
        rc = read_str(&rd, BEC_CHECK_MAX_TEXT, &pD->aCheck[i].zName,
                      &pD->aCheck[i].nName);
        if( rc==SQLITE_OK ){
          rc = read_str(&rd, BEC_CHECK_MAX_TEXT, &pD->aCheck[i].zExpr,
                        &pD->aCheck[i].nExpr);
        }
        if( rc==SQLITE_OK ) rc = bec_read_bytes(&rd, ((int)nCol+7)/8, &aRead);
        if( rc==SQLITE_OK ){
          memcpy(pD->aCheck[i].aRead, aRead, ((size_t)nCol+7)/8);
          /* bits past n_col: not canonical */
          if( nCol%8 && (aRead[nCol/8] >> (nCol%8)) ) rc = BEC_MALFORMED;
        }
        if( rc==SQLITE_OK && (memchr(pD->aCheck[i].zName, 0, (size_t)pD->aCheck[i].nName)
                            || memchr(pD->aCheck[i].zExpr, 0, (size_t)pD->aCheck[i].nExpr)) ){
          rc = BEC_MALFORMED;
        }
      }
    }
  }
  if( rc==SQLITE_OK && rd.i!=rd.n ) rc = BEC_MALFORMED;
  if( rc==SQLITE_OK && memchr(zName, 0, (size_t)nName) ) rc = BEC_MALFORMED;
  if( rc ){
    sqlite3_free(pD);
    *pzErr = sqlite3_mprintf("malformed: bad schema payload");
    return rc;
  }
  rc = bec_schema_new(action, zName, nName, (int)nCol, azCol, anCol, azType,
                      anType, aiPk, &p);
  if( action==BEC_SCHEMA_RENAME || action==BEC_SCHEMA_DROPCOL
   || action==BEC_SCHEMA_RETABLE ){
    pD->iCheckVersion = BEC_CHECK_VERSION;
  }
  if( rc==SQLITE_OK && nDrop ){
    p->aDrop = sqlite3_malloc64((sqlite3_uint64)nDrop*BEC_HASH_BYTES);
    if( p->aDrop==0 ){
      rc = SQLITE_NOMEM;
    }else{
      memcpy(p->aDrop, aDrop, (size_t)nDrop*BEC_HASH_BYTES);
      p->nDrop = nDrop;
    }
  }
  if( rc==SQLITE_OK && action!=BEC_SCHEMA_DROP ) rc = bec_schema_constrain(p, pD);
  if( rc==SQLITE_OK && aCreate ) memcpy(p->aCreate, aCreate, BEC_HASH_BYTES);
  if( rc==SQLITE_OK && aTarget ){
    memcpy(p->aTarget, aTarget, BEC_HASH_BYTES);
    p->iTarget = iTarget;
  }
  sqlite3_free(pD);
  if( rc ){
    bec_schema_free(p);
    return rc;
  }
  if( schema_shape(p, pzErr) ){
    char *z = *pzErr;
    *pzErr = sqlite3_mprintf("malformed: schema shape: %s", z);
    sqlite3_free(z);
    bec_schema_free(p);
    return BEC_MALFORMED;
  }
  *pp = p;
  return SQLITE_OK;
}

int bec_schema_with_adds(const BecSchema *pBase, const char *zTab, int nAdd,
                         BecSchema *const *apAdd, const u8 *aHash,
                         const char *const *azName, BecSchema **pp){
  const char *azCol[BEC_TABLE_MAX_COL], *azType[BEC_TABLE_MAX_COL];
  int anCol[BEC_TABLE_MAX_COL], anType[BEC_TABLE_MAX_COL], aiPk[BEC_TABLE_MAX_COL];
  BecSchemaDecl *pD = 0;
  BecSchema *p = 0;
  int nCol = pBase->nBase + nAdd, nCheck = pBase->nBaseCheck, i, k, rc;
  *pp = 0;
  for(i=0; i<nAdd; i++) nCheck += apAdd[i]->nCheck;
  if( nCol>BEC_TABLE_MAX_COL || nCheck>BEC_TABLE_MAX_CHECK ) return SQLITE_RANGE;
  for(i=0; i<nCol; i++){
    const BecColumn *c = i<pBase->nBase ? &pBase->aCol[i]
                                         : &apAdd[i-pBase->nBase]->aCol[0];
    azCol[i] = azName ? azName[i] : c->zName;
    anCol[i] = (int)strlen(azCol[i]);
    azType[i] = c->zType;
    anType[i] = (int)strlen(c->zType);
    aiPk[i] = i<pBase->nBase ? c->iPk : 0;
  }
  pD = sqlite3_malloc64(sizeof(BecSchemaDecl));
  if( pD==0 ) return SQLITE_NOMEM;
  memset(pD, 0, sizeof(*pD));
  if( zTab==0 ) zTab = pBase->zName;
  rc = bec_schema_new(BEC_SCHEMA_CREATE, zTab, (int)strlen(zTab),
                      nCol, azCol, anCol, azType, anType, aiPk, &p);
  if( rc==SQLITE_OK ){
    pD->opts = pBase->opts;
    pD->iCheckVersion = pBase->iCheckVersion;
    for(i=0; i<nCol; i++){
      const BecColumn *c = i<pBase->nBase ? &pBase->aCol[i]
                                           : &apAdd[i-pBase->nBase]->aCol[0];
      pD->aFlags[i] = c->flags;
      pD->aDflt[i] = c->dflt;
    }
    /* the create's CHECKs, then each added column's (reading it alone) */
    for(k=0; k<nCheck; k++){
      const BecCheck *pK;
      int iCol = -1;
      if( k<pBase->nBaseCheck ){
        pK = &pBase->aCheck[k];
      }else{
        int j = k - pBase->nBaseCheck;
        for(i=0; i<nAdd && j>=apAdd[i]->nCheck; i++) j -= apAdd[i]->nCheck;
        pK = &apAdd[i]->aCheck[j];
        iCol = pBase->nBase + i;
      }
      pD->aCheck[k].zName = pK->zName;
      pD->aCheck[k].nName = (int)strlen(pK->zName);
      pD->aCheck[k].zExpr = pK->zExpr;
      pD->aCheck[k].nExpr = (int)strlen(pK->zExpr);
      if( iCol<0 ){
        memcpy(pD->aCheck[k].aRead, pK->aRead, sizeof(pK->aRead));
      }else{
        pD->aCheck[k].aRead[iCol/8] = (u8)(1<<(iCol%8));
      }
    }
    pD->nCheck = nCheck;
    rc = bec_schema_constrain(p, pD);
  }
  if( rc==SQLITE_OK ){
    p->nBase = pBase->nBase;
    p->nBaseCheck = pBase->nBaseCheck;
    p->action = pBase->action;
    if( nAdd ){
      p->pAdd = sqlite3_malloc64((sqlite3_uint64)nAdd*(BEC_HASH_BYTES
                                 + sizeof(BecSchema*)) + 8);
      if( p->pAdd==0 ){
        rc = SQLITE_NOMEM;
      }else{
        p->apAdd = (BecSchema**)p->pAdd;
        p->aAddHash = (u8*)&p->apAdd[nAdd];
        memcpy(p->aAddHash, aHash, (size_t)nAdd*BEC_HASH_BYTES);
        memcpy(p->apAdd, apAdd, sizeof(BecSchema*)*(size_t)nAdd);
      }
    }
  }
  sqlite3_free(pD);
  if( rc ){
    bec_schema_free(p);
    return rc;
  }
  *pp = p;
  return SQLITE_OK;
}

/**************************************************************************
** Write payloads.
*/
int bec_write_open(BecWriteReader *p, const u8 *a, i64 n){
  u8 version = 0;
  u64 nTable = 0, nChange = 0;
  int rc, i, nAdd = 0;
  memset(p, 0, sizeof(*p));
  p->rd.a = a; p->rd.n = n; p->rd.i = 0;
  rc = bec_read_u8(&p->rd, &version);
  if( rc==SQLITE_OK && version!=BEC_TABLE_FORMAT ) rc = BEC_MALFORMED;
  if( rc==SQLITE_OK ) rc = bec_read_varint(&p->rd, &nTable, BEC_WRITE_MAX_TABLES);
  if( rc==SQLITE_OK && nTable==0 ) rc = BEC_MALFORMED;
  if( rc==SQLITE_OK ){
    rc = bec_read_bytes(&p->rd, (i64)nTable*BEC_HASH_BYTES, &p->aTableHash);
  }
  for(i=1; rc==SQLITE_OK && i<(int)nTable; i++){
    int j;
    for(j=0; j<i; j++){
      if( memcmp(&p->aTableHash[j*BEC_HASH_BYTES],
                 &p->aTableHash[i*BEC_HASH_BYTES], BEC_HASH_BYTES)==0 ){
        rc = BEC_MALFORMED;
      }
    }
  }
  for(i=0; rc==SQLITE_OK && i<(int)nTable; i++){
    u64 k = 0;
    rc = bec_read_varint(&p->rd, &k, BEC_ADD_MAX);
    p->anAdd[i] = (u8)k;
    p->aiAdd[i] = nAdd;
    nAdd += (int)k;
  }
  if( rc==SQLITE_OK ) rc = bec_read_bytes(&p->rd, (i64)nAdd*BEC_HASH_BYTES, &p->aAddHash);
  for(i=0; rc==SQLITE_OK && i<(int)nTable; i++){
    const u8 *aT = p->aAddHash ? &p->aAddHash[p->aiAdd[i]*BEC_HASH_BYTES] : 0;
    int j, k;
    for(j=1; j<p->anAdd[i]; j++){
      for(k=0; k<j; k++){
        if( memcmp(&aT[j*BEC_HASH_BYTES], &aT[k*BEC_HASH_BYTES], BEC_HASH_BYTES)==0 ){
          rc = BEC_MALFORMED;
        }
      }
    }
  }
  if( rc==SQLITE_OK ) rc = bec_read_varint(&p->rd, &nChange, BEC_MAX_PAYLOAD);
  if( rc==SQLITE_OK && nChange==0 ) rc = BEC_MALFORMED;
  p->nTable = (int)nTable;
  p->nChange = (i64)nChange;
  return rc;
}

int bec_write_head(BecWriteReader *p, int *piTable, int *pbDelete){
  u64 head = 0;
  int rc;
  if( p->iChange>=p->nChange ) return BEC_MALFORMED;
  rc = bec_read_varint(&p->rd, &head, (u64)p->nTable*2-1);
  p->iChange++;
  *piTable = (int)(head>>1);
  *pbDelete = (int)(head&1);
  p->iTable = *piTable;
  return rc;
}

/* Reads the key values and, for an upsert, the mask and the values, of a
** change to a table of shape pSchema.  aVal has BEC_TABLE_MAX_COL entries:
** aVal[i] is column i's value where pbSet[i] (key columns always set). */
int bec_write_body(BecWriteReader *p, const BecSchema *pSchema, int bDelete,
                   BecValue *aVal, u8 *abSet){
  int rc = SQLITE_OK, i;
  const int nBase = pSchema->nBase;
  const int nAdd = p->anAdd[p->iTable];
  const u8 *aAdd = nAdd ? &p->aAddHash[p->aiAdd[p->iTable]*BEC_HASH_BYTES] : 0;
  const int nMask = (nBase+nAdd+7)/8;
  const u8 *aMask = 0;
  for(i=0; i<pSchema->nCol; i++) abSet[i] = 0;
  for(i=0; rc==SQLITE_OK && i<pSchema->nPk; i++){
    int iCol = pSchema->aPk[i];
    BecValue *v = &aVal[iCol];
    /* (whether the value can be a key is the merge's verdict) */
    rc = bec_value_decode(&p->rd, v);
    abSet[iCol] = 1;
  }
  if( rc || bDelete ) return rc;
  if( nBase+nAdd>BEC_TABLE_MAX_COL ) return BEC_MALFORMED;
  rc = bec_read_bytes(&p->rd, nMask, &aMask);
  for(i=0; rc==SQLITE_OK && i<nMask*8; i++){
    if( (aMask[i/8] >> (i%8)) & 1 ){
      if( i>=nBase+nAdd || (i<nBase && pSchema->aCol[i].iPk) ){
        rc = BEC_MALFORMED;
      }else if( i<nBase ){
        rc = value_decode(&p->rd, &aVal[i], 1);
        abSet[i] = 2;
      }else{
        /* an added column: where pSchema shows the column of that ADD op */
        const u8 *aH = &aAdd[(i-nBase)*BEC_HASH_BYTES];
        int j;
        BecValue v;
        for(j=nBase; j<pSchema->nCol; j++){
          if( memcmp(&pSchema->aAddHash[(j-nBase)*BEC_HASH_BYTES], aH,
                     BEC_HASH_BYTES)==0 ) break;
        }
        rc = value_decode(&p->rd, &v, 1);
        if( j<pSchema->nCol ){
          aVal[j] = v;
          abSet[j] = 2;
        }
      }
    }
  }
  return rc;
}

int bec_write_close(BecWriteReader *p){
  if( p->iChange!=p->nChange || p->rd.i!=p->rd.n ) return BEC_MALFORMED;
  return SQLITE_OK;
}
