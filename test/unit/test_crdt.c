/*
** test_crdt.c - the payload codec of bec tables (bec_tablecodec.c) and the
** acceptance checks of schema and write ops (bec_crdt_validate): round
** trips, every truncation rejected, hostile payloads rejected as malformed.
*/
#include "becInt.h"
#include "bectest.h"

#include <unistd.h>

/* The key file of test_validate's identity: its ops are also signed by hand. */
static char zKeyFile[64];

static sqlite3 *open_db(void){
  sqlite3 *db = 0;
  char *zErr = 0;
  sqlite3_open(":memory:", &db);
  CHECK( sqlite3_bec_init(db, &zErr, 0)==SQLITE_OK );
  sqlite3_free(zErr);
  return db;
}

static void test_values(void){
  static const i64 aInt[] = { 0, 1, -1, 63, -64, 64, 1LL<<40, -(1LL<<62),
                              0x7fffffffffffffffLL, (i64)0x8000000000000000ULL };
  sqlite3 *db = open_db();
  sqlite3_stmt *pStmt = 0;
  size_t i;
  int rc = SQLITE_OK;
  CHECK( sqlite3_prepare_v2(db, "SELECT ?1", -1, &pStmt, 0)==SQLITE_OK );
  for(i=0; i<sizeof(aInt)/sizeof(aInt[0]); i++){
    BecBuf b; BecReader rd; BecValue v;
    memset(&b, 0, sizeof(b));
    sqlite3_bind_int64(pStmt, 1, aInt[i]);
    sqlite3_step(pStmt);
    bec_value_encode(&b, sqlite3_column_value(pStmt, 0), &rc);
    sqlite3_reset(pStmt);
    rd.a = b.a; rd.n = b.n; rd.i = 0;
    CHECK( bec_value_decode(&rd, &v)==SQLITE_OK && v.eType==BEC_VAL_INT
           && v.i==aInt[i] && rd.i==rd.n );
    bec_buf_free(&b);
  }
  {
    BecBuf b; BecReader rd; BecValue v;
    memset(&b, 0, sizeof(b));
    sqlite3_bind_double(pStmt, 1, -2.5e300);
    sqlite3_step(pStmt);
    bec_value_encode(&b, sqlite3_column_value(pStmt, 0), &rc);
    sqlite3_reset(pStmt);
    sqlite3_bind_text(pStmt, 1, "h\0i", 3, SQLITE_STATIC);
    sqlite3_step(pStmt);
    bec_value_encode(&b, sqlite3_column_value(pStmt, 0), &rc);
    sqlite3_reset(pStmt);
    rd.a = b.a; rd.n = b.n; rd.i = 0;
    CHECK( bec_value_decode(&rd, &v)==SQLITE_OK && v.eType==BEC_VAL_REAL && v.r==-2.5e300 );
    CHECK( bec_value_decode(&rd, &v)==SQLITE_OK && v.eType==BEC_VAL_TEXT && v.n==3
           && memcmp(v.a, "h\0i", 3)==0 );
    /* Every truncation fails. */
    for(i=0; i<(size_t)b.n; i++){
      int bad = 0;
      rd.a = b.a; rd.n = (i64)i; rd.i = 0;
      if( bec_value_decode(&rd, &v) || bec_value_decode(&rd, &v) ) bad = 1;
      CHECK( bad );
    }
    /* Unknown tags fail. */
    b.a[0] = 9; rd.a = b.a; rd.n = b.n; rd.i = 0;
    CHECK( bec_value_decode(&rd, &v)!=SQLITE_OK );
    bec_buf_free(&b);
  }
  CHECK( rc==SQLITE_OK );
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
}

static void test_schema_codec(void){
  const char *azCol[] = { "id", "title" }, *azType[] = { "INTEGER", "VARCHAR(10)" };
  int anCol[] = { 2, 5 }, anType[] = { 7, 11 }, aiPk[] = { 1, 0 };
  BecSchema *s = 0, *s2 = 0;
  BecBuf b;
  char *zErr = 0;
  int rc = SQLITE_OK;
  i64 i;
  memset(&b, 0, sizeof(b));
  CHECK( bec_schema_new(BEC_SCHEMA_CREATE, "todos", 5, 2, azCol, anCol, azType,
                        anType, aiPk, &s)==SQLITE_OK );
  CHECK( s->bIntPk && s->nPk==1 && s->aPk[0]==0 );
  CHECK( bec_schema_check(s, &zErr)==SQLITE_OK );
  bec_schema_encode(&b, s, &rc);
  CHECK( rc==SQLITE_OK );
  CHECK( bec_schema_decode(b.a, b.n, &s2, &zErr)==SQLITE_OK );
  CHECK( s2 && strcmp(s2->zName, "todos")==0 && s2->nCol==2
         && strcmp(s2->aCol[1].zType, "VARCHAR(10)")==0 && s2->aCol[0].iPk==1 );
  bec_schema_free(s2); s2 = 0;
  for(i=0; i<b.n; i++){
    CHECK( bec_schema_decode(b.a, i, &s2, &zErr)!=SQLITE_OK && s2==0 );
    sqlite3_free(zErr); zErr = 0;
  }
  /* A type that would inject SQL, and no primary key, are malformed. */
  {
    const char *azBad[] = { "INTEGER", "TEXT); DROP TABLE x; --" };
    int anBad[] = { 7, 22 }, aiNoPk[] = { 0, 0 };
    BecSchema *p = 0;
    CHECK( bec_schema_new(BEC_SCHEMA_CREATE, "t", 1, 2, azCol, anCol, azBad, anBad, aiPk, &p)==SQLITE_OK );
    CHECK( bec_schema_check(p, &zErr)!=SQLITE_OK );
    sqlite3_free(zErr); zErr = 0;
    bec_schema_free(p);
    CHECK( bec_schema_new(BEC_SCHEMA_CREATE, "t", 1, 2, azCol, anCol, azType, anType, aiNoPk, &p)==SQLITE_OK );
    CHECK( bec_schema_check(p, &zErr)!=SQLITE_OK && strstr(zErr, "no primary key") );
    sqlite3_free(zErr); zErr = 0;
    bec_schema_free(p);
  }
  bec_schema_free(s);
  bec_buf_free(&b);
}


/* Signs an op of kind with payload as this database's identity, on top of
** the current heads, and ingests it as a peer's op would be.  Returns the
** result code; *pzErr the error text (sqlite3_free it). */
static int ingest_signed(sqlite3 *db, int kind, const u8 *aPay, int nPay,
                         char **pzErr){
  sqlite3_stmt *pStmt = 0;
  u8 aSeed[BEC_SEED_BYTES], aPub[BEC_PUBKEY_BYTES], aSecret[BEC_SECKEY_BYTES];
  u8 aGroup[BEC_HASH_BYTES];
  BecBuf heads, op;
  int rc = SQLITE_OK;
  memset(&heads, 0, sizeof(heads));
  memset(&op, 0, sizeof(op));
  *pzErr = 0;
  if( bec_keyfile_read(zKeyFile, aSeed, pzErr) ) return SQLITE_ERROR;
  sqlite3_prepare_v2(db, "SELECT value FROM bec_store_config WHERE key='group_id'",
                     -1, &pStmt, 0);
  sqlite3_step(pStmt);
  memcpy(aGroup, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
  sqlite3_finalize(pStmt);
  bec_crypto_secret_from_seed(aSeed, aPub, aSecret);
  sqlite3_prepare_v2(db, "SELECT o.hash FROM bec_store_head h JOIN bec_store_op o"
                     " ON o.seq=h.seq ORDER BY o.hash", -1, &pStmt, 0);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    bec_buf_append(&heads, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES, &rc);
  }
  sqlite3_finalize(pStmt);
  bec_op_encode_unsigned(&op, kind, aGroup, aPub, (int)(heads.n/BEC_HASH_BYTES),
                         heads.a, aPay, nPay, &rc);
  bec_op_sign(&op, aSecret, aGroup, &rc);
  sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &pStmt, 0);
  sqlite3_bind_blob(pStmt, 1, op.a, (int)op.n, SQLITE_STATIC);
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  if( rc ) *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  bec_buf_free(&heads);
  bec_buf_free(&op);
  return rc;
}

/* 1 if the last stored op is ignored by the merge with a reason holding
** zPart, and bec_ops shows it as not valid. */
static int last_reason_has(sqlite3 *db, const char *zPart){
  sqlite3_stmt *pStmt = 0;
  int bOk = 0;
  if( sqlite3_prepare_v2(db, "SELECT valid, reason FROM bec_ops WHERE hash=(SELECT"
        " lower(hex(hash)) FROM bec_store_op ORDER BY seq DESC LIMIT 1)", -1,
        &pStmt, 0)==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *z = (const char*)sqlite3_column_text(pStmt, 1);
    bOk = sqlite3_column_int(pStmt, 0)==0 && z && strstr(z, zPart)!=0;
  }
  sqlite3_finalize(pStmt);
  return bOk;
}

/* Hostile ops signed by a member go through acceptance: malformed bytes are
** refused; well-formed ops the merge cannot apply are stored and ignored. */
static void test_validate(void){
  sqlite3 *db = open_db();
  sqlite3_stmt *pStmt = 0;
  u8 aSchema[BEC_HASH_BYTES];
  char *zErr = 0;
  char zSql[128];
  int rc;
  snprintf(zKeyFile, sizeof(zKeyFile), "/tmp/bec_test_crdt_%d.key", (int)getpid());
  unlink(zKeyFile);
  snprintf(zSql, sizeof(zSql), "SELECT bec_key_file('%s')", zKeyFile);
  CHECK( sqlite3_exec(db, zSql, 0, 0, 0)==SQLITE_OK );
  CHECK( sqlite3_exec(db, "SELECT bec_keygen(); SELECT bec_create_group();"
         "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT);"
         "INSERT INTO t VALUES(1, 'one')", 0, 0, 0)==SQLITE_OK );
  CHECK( sqlite3_prepare_v2(db, "SELECT hash FROM bec_store_op WHERE kind=5", -1, &pStmt, 0)==SQLITE_OK );
  CHECK( sqlite3_step(pStmt)==SQLITE_ROW );
  memcpy(aSchema, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
  sqlite3_finalize(pStmt);
  {
    /* Text where the INTEGER key must be an integer. */
    BecBuf b;
    memset(&b, 0, sizeof(b));
    rc = SQLITE_OK;
    bec_buf_append_u8(&b, BEC_TABLE_FORMAT, &rc);
    bec_buf_append_varint(&b, 1, &rc);
    bec_buf_append(&b, aSchema, BEC_HASH_BYTES, &rc);
    bec_buf_append_varint(&b, 0, &rc);           /* no ADD COLUMN ops */
    bec_buf_append_varint(&b, 1, &rc);
    bec_buf_append_varint(&b, 0, &rc);           /* table 0, upsert */
    bec_buf_append_u8(&b, BEC_VAL_TEXT, &rc);
    bec_buf_append_varint(&b, 1, &rc);
    bec_buf_append_u8(&b, 'x', &rc);
    bec_buf_append_u8(&b, 2, &rc);               /* mask: column 1 */
    bec_buf_append_u8(&b, BEC_VAL_NULL, &rc);
    /* Well formed, but a value the table cannot hold: stored, and ignored
    ** by the merge with a reason (acceptance reads bytes and the causal
    ** past only). */
    rc = ingest_signed(db, BEC_KIND_WRITE, b.a, (int)(b.n), &zErr);
    CHECK_MSG( rc==SQLITE_OK, "%s", zErr ? zErr : "" );
    sqlite3_free(zErr); zErr = 0;
    CHECK( last_reason_has(db, "is not an integer") );
    rc = SQLITE_OK;
    /* The same with an integer key is accepted and merged. */
    b.n = BEC_HASH_BYTES + 5;
    bec_buf_append_u8(&b, BEC_VAL_INT, &rc);
    bec_buf_append_varint(&b, 4, &rc);           /* zigzag 2 */
    bec_buf_append_u8(&b, 2, &rc);
    bec_buf_append_u8(&b, BEC_VAL_TEXT, &rc);
    bec_buf_append_varint(&b, 3, &rc);
    bec_buf_append(&b, "two", 3, &rc);
    rc = ingest_signed(db, BEC_KIND_WRITE, b.a, (int)(b.n), &zErr);
    CHECK_MSG( rc==SQLITE_OK, "%s", zErr ? zErr : "" );
    rc = SQLITE_OK;
    sqlite3_free(zErr); zErr = 0;
    /* A mask bit on the key column, trailing bytes, an unknown table. */
    b.a[b.n-6] = 3;
    CHECK( ingest_signed(db, BEC_KIND_WRITE, b.a, (int)(b.n), &zErr)!=SQLITE_OK );
    sqlite3_free(zErr); zErr = 0;
    b.a[b.n-6] = 2;
    bec_buf_append_u8(&b, 0, &rc);
    CHECK( ingest_signed(db, BEC_KIND_WRITE, b.a, (int)(b.n), &zErr)!=SQLITE_OK );
    sqlite3_free(zErr); zErr = 0;
    b.n--;
    b.a[3] ^= 1;
    CHECK( ingest_signed(db, BEC_KIND_WRITE, b.a, (int)(b.n), &zErr)==SQLITE_OK );
    sqlite3_free(zErr); zErr = 0;
    CHECK( last_reason_has(db, "not in the op's causal past") );
    bec_buf_free(&b);
  }
  {
    static const u8 aJunk[] = { 1, 1, 200 };
    CHECK( ingest_signed(db, BEC_KIND_SCHEMA, aJunk, (int)(3), &zErr)!=SQLITE_OK
           && zErr && strstr(zErr, "malformed") );
    sqlite3_free(zErr); zErr = 0;
  }
  CHECK( sqlite3_prepare_v2(db, "SELECT group_concat(id||v) FROM t", -1, &pStmt, 0)==SQLITE_OK );
  CHECK( sqlite3_step(pStmt)==SQLITE_ROW
         && strcmp((const char*)sqlite3_column_text(pStmt, 0), "1one,2two")==0 );
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  unlink(zKeyFile);
}

/* Declared types: the closed form and SQLite's affinity rules, computed by
** bec; anything that is not a type name is refused. */
static void test_types(void){
  static const struct { const char *z; int eAff; int bInt; } aOk[] = {
    { "", BEC_AFF_BLOB, 0 }, { "INTEGER", BEC_AFF_INTEGER, 1 },
    { "integer", BEC_AFF_INTEGER, 1 }, { "BIGINT", BEC_AFF_INTEGER, 0 },
    { "VARCHAR(10)", BEC_AFF_TEXT, 0 }, { "NUMERIC(10, 2)", BEC_AFF_NUMERIC, 0 },
    { "DOUBLE PRECISION", BEC_AFF_REAL, 0 }, { "FLOATING POINT", BEC_AFF_INTEGER, 0 },
    { "CHARINT", BEC_AFF_INTEGER, 0 }, { "BLOB", BEC_AFF_BLOB, 0 },
    { "DECIMAL(+5,-1.5)", BEC_AFF_NUMERIC, 0 }, { "TEXT ", BEC_AFF_TEXT, 0 },
  };
  static const char *const azBad[] = {
    "TEXT UNIQUE", "TEXT COLLATE NOCASE", "INT, evil TEXT", "TEXT) --",
    "INT NOT NULL", "(5)", "INT(5", "INT(a)", "INT(1,2,3)", "TEXT PRIMARY KEY",
    "INT DEFAULT 5", "TEXT\"", "5INT", "INT(1) X",
  };
  size_t i;
  for(i=0; i<sizeof(aOk)/sizeof(aOk[0]); i++){
    int eAff = -2, bInt = -2;
    CHECK_MSG( bec_type_parse(aOk[i].z, (int)strlen(aOk[i].z), &eAff, &bInt)
               && eAff==aOk[i].eAff && bInt==aOk[i].bInt, "%s", aOk[i].z );
  }
  for(i=0; i<sizeof(azBad)/sizeof(azBad[0]); i++){
    int eAff = 0, bInt = 0;
    CHECK_MSG( !bec_type_parse(azBad[i], (int)strlen(azBad[i]), &eAff, &bInt)
               && eAff==-1, "%s", azBad[i] );
  }
  {
    /* A schema with such a type decodes (its shape is fine) but fails the
    ** check, so the merge ignores it; a bad key position is malformed. */
    const char *azCol[] = { "id", "v" }, *azType[] = { "TEXT", "TEXT UNIQUE" };
    int anCol[] = { 2, 1 }, anType[] = { 4, 11 }, aiPk[] = { 1, 0 };
    BecSchema *s = 0, *s2 = 0;
    BecBuf b;
    char *zErr = 0;
    int rc = SQLITE_OK;
    memset(&b, 0, sizeof(b));
    CHECK( bec_schema_new(BEC_SCHEMA_CREATE, "t", 1, 2, azCol, anCol, azType,
                          anType, aiPk, &s)==SQLITE_OK );
    bec_schema_encode(&b, s, &rc);
    CHECK( bec_schema_decode(b.a, b.n, &s2, &zErr)==SQLITE_OK && s2 );
    CHECK( s2 && s2->aCol[1].eAff==-1 && bec_schema_check(s2, &zErr)!=SQLITE_OK
           && zErr && strstr(zErr, "unsupported type") );
    sqlite3_free(zErr); zErr = 0;
    bec_schema_free(s2); s2 = 0;
    b.a[b.n-5] = 3;            /* column v at key position 3 of 2 columns
                               ** (then flags, options, check version, n_check) */
    CHECK( bec_schema_decode(b.a, b.n, &s2, &zErr)!=SQLITE_OK && s2==0
           && zErr && strstr(zErr, "malformed") );
    sqlite3_free(zErr);
    bec_schema_free(s);
    bec_buf_free(&b);
  }
  {
    char *z = bec_sql_ident("a\"b", "_rows");
    CHECK( z && strcmp(z, "\"a\"\"b_rows\"")==0 );
    sqlite3_free(z);
  }
}

/* Key identity: integral finite REALs in the i64 range become INTEGERs;
** NULL and NaN are no keys. */
static void test_keys(void){
  static const struct { double r; int bInt; i64 i; } a[] = {
    { 1.0, 1, 1 }, { -0.0, 1, 0 }, { 0.0, 1, 0 }, { 1.5, 0, 0 },
    { -9223372036854775808.0, 1, (i64)0x8000000000000000ULL },
    { 9223372036854775808.0, 0, 0 }, { 1e300, 0, 0 }, { -1e300, 0, 0 },
    { 4503599627370497.0, 1, 4503599627370497LL },
  };
  size_t i;
  BecValue v;
  for(i=0; i<sizeof(a)/sizeof(a[0]); i++){
    memset(&v, 0, sizeof(v));
    v.eType = BEC_VAL_REAL;
    v.r = a[i].r;
    CHECK( bec_key_normalize(&v) );
    CHECK_MSG( (v.eType==BEC_VAL_INT)==a[i].bInt && (!a[i].bInt || v.i==a[i].i),
               "%.17g", a[i].r );
    CHECK( a[i].bInt || (v.eType==BEC_VAL_REAL && v.r==a[i].r) );
  }
  memset(&v, 0, sizeof(v));
  v.eType = BEC_VAL_REAL;
  v.r = 1.0/0.0;
  CHECK( bec_key_normalize(&v) && v.eType==BEC_VAL_REAL );
  v.r = v.r - v.r;               /* NaN */
  CHECK( bec_value_is_nan(&v) && !bec_key_normalize(&v) );
  v.eType = BEC_VAL_NULL;
  CHECK( !bec_key_normalize(&v) );
  v.eType = BEC_VAL_TEXT; v.a = (const u8*)"1"; v.n = 1;
  CHECK( bec_key_normalize(&v) && v.eType==BEC_VAL_TEXT );
}

/* Schema payload version 2: constraints round-trip; groups are derived
** from the CHECKs' read masks; a version 1 payload is refused by name;
** every truncation is malformed; the rules of bec_schema_check. */
static void test_schema_constraints(void){
  const char *azCol[] = { "id", "a", "b", "c" };
  const char *azType[] = { "TEXT", "INTEGER", "INT", "ANY" };
  int anCol[] = { 2, 1, 1, 1 }, anType[] = { 4, 7, 3, 3 }, aiPk[] = { 1, 0, 0, 0 };
  BecSchema *s = 0, *s2 = 0;
  BecSchemaDecl *pD = sqlite3_malloc64(sizeof(BecSchemaDecl));
  BecBuf b;
  char *zErr = 0;
  int rc = SQLITE_OK;
  i64 i;
  memset(&b, 0, sizeof(b));
  memset(pD, 0, sizeof(*pD));
  pD->opts = BEC_OPT_STRICT | BEC_OPT_ADMIN;
  pD->iCheckVersion = BEC_CHECK_VERSION;
  pD->aFlags[1] = BEC_COL_NOTNULL | BEC_COL_DEFAULT;
  pD->aDflt[1].eType = BEC_VAL_INT;
  pD->aDflt[1].i = 7;
  pD->aFlags[3] = BEC_COL_DEFAULT;
  pD->aDflt[3].eType = BEC_VAL_TEXT;
  pD->aDflt[3].a = (const u8*)"it's";
  pD->aDflt[3].n = 4;
  pD->nCheck = 2;
  pD->aCheck[0].zName = "lt"; pD->aCheck[0].nName = 2;
  pD->aCheck[0].zExpr = "a < b"; pD->aCheck[0].nExpr = 5;
  pD->aCheck[0].aRead[0] = 0x06;            /* a, b: a merge group */
  pD->aCheck[1].zName = ""; pD->aCheck[1].nName = 0;
  pD->aCheck[1].zExpr = "c IS NOT 'x'"; pD->aCheck[1].nExpr = 12;
  pD->aCheck[1].aRead[0] = 0x08;
  CHECK( bec_schema_new(BEC_SCHEMA_CREATE, "t", 1, 4, azCol, anCol, azType,
                        anType, aiPk, &s)==SQLITE_OK );
  CHECK( bec_schema_constrain(s, pD)==SQLITE_OK );
  CHECK( bec_schema_check(s, &zErr)==SQLITE_OK );
  CHECK( s->nGroup==1 && s->aCol[1].iGroup==0 && s->aCol[2].iGroup==0
         && s->aCol[3].iGroup==-1 && s->aCol[0].iGroup==-1 );
  CHECK( s->aCol[3].eStrict==BEC_STRICT_ANY && s->aCol[3].eAff==BEC_AFF_BLOB );
  bec_schema_encode(&b, s, &rc);
  CHECK( rc==SQLITE_OK && b.a[0]==BEC_SCHEMA_FORMAT );
  CHECK( bec_schema_decode(b.a, b.n, &s2, &zErr)==SQLITE_OK && s2 );
  CHECK( s2 && s2->opts==pD->opts && s2->nCheck==2 && s2->nGroup==1
         && strcmp(s2->aCheck[0].zName, "lt")==0
         && strcmp(s2->aCheck[1].zExpr, "c IS NOT 'x'")==0
         && s2->aCol[1].flags==(BEC_COL_NOTNULL|BEC_COL_DEFAULT)
         && s2->aCol[1].dflt.i==7 && s2->aCol[3].dflt.n==4
         && memcmp(s2->aCol[3].dflt.a, "it's", 4)==0 );
  bec_schema_free(s2); s2 = 0;
  for(i=0; i<b.n; i++){
    CHECK( bec_schema_decode(b.a, i, &s2, &zErr)!=SQLITE_OK && s2==0 );
    sqlite3_free(zErr); zErr = 0;
  }
  b.a[0] = 1;
  CHECK( bec_schema_decode(b.a, b.n, &s2, &zErr)==BEC_MALFORMED && s2==0
         && zErr && strstr(zErr, "schema payload version 1") );
  sqlite3_free(zErr); zErr = 0;
  {
    /* NOT NULL without a DEFAULT; a strict type outside the list; a
    ** DEFAULT of another strict type; white space not normalised. */
    static const struct { int iCase; const char *zWant; } aCase[] = {
      { 0, "NOT NULL needs a constant DEFAULT" },
      { 1, "strict table's columns" },
      { 2, "not of the column's strict type" },
      { 3, "white space not normalised" },
    };
    int k;
    for(k=0; k<4; k++){
      BecSchemaDecl d = *pD;
      const char *azT2[] = { "TEXT", "INTEGER", "FLOAT", "ANY" };
      int anT2[] = { 4, 7, 5, 3 };
      BecSchema *p = 0;
      if( k==0 ) d.aFlags[1] = BEC_COL_NOTNULL;
      if( k==2 ){ d.aDflt[1].eType = BEC_VAL_TEXT; d.aDflt[1].a = (const u8*)"x"; d.aDflt[1].n = 1; }
      if( k==3 ){ d.aCheck[1].zExpr = "c  IS NOT 'x'"; d.aCheck[1].nExpr = 13; }
      CHECK( bec_schema_new(BEC_SCHEMA_CREATE, "t", 1, 4, azCol, anCol,
                            k==1 ? azT2 : azType, k==1 ? anT2 : anType, aiPk, &p)==SQLITE_OK );
      CHECK( bec_schema_constrain(p, &d)==SQLITE_OK );
      CHECK_MSG( bec_schema_check(p, &zErr)!=SQLITE_OK && zErr
                 && strstr(zErr, aCase[k].zWant), "case %d: %s", aCase[k].iCase,
                 zErr ? zErr : "accepted" );
      sqlite3_free(zErr); zErr = 0;
      bec_schema_free(p);
    }
  }
  bec_schema_free(s);
  bec_buf_free(&b);
  sqlite3_free(pD);
}

int main(void){
  test_schema_constraints();
  test_values();
  test_types();
  test_keys();
  test_schema_codec();
  test_validate();
  return bt_done();
}
