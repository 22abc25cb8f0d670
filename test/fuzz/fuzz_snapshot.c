/*
** fuzz_snapshot.c - libFuzzer target: a snapshot message (docs/wire-format.md
** "Snapshot", version 6: row leaves as tokens, the band of cut headers,
** the losers' headers)
** given to a replica that joined the group and holds no op.
**
** Set-up makes a provider (a group, a table whose rows were written whole
** and updated, so the rows' leaves repeat ids, sealed checkpoint K, and a
** member's write concurrent with K, which it holds: so its snapshot has a
** band, docs/compaction.md "The band") and a joiner; its snapshot is the
** seed.  Every input runs on a fresh copy of the
** joiner: bec_snapshot_verify(input), then bec_snapshot_tables (every check
** again, then the tables' rows expanded).  Nothing may crash or leak;
** nothing may be stored; an input that verifies must be K's and give the
** same tables, leaf for leaf, as the honest snapshot (the oracle: refused,
** or the same R).  libsodium's random source is a fixed stream, so the set-up
** and the seed are the same on every run.
**
**   BEC_FUZZ_WRITE_SEEDS=dir ./fuzz_snapshot   writes the honest snapshot
*/
#include "fuzzcommon.h"

static unsigned char *aImage;        /* the joiner's database */
static sqlite3_int64 nImage;
static char *zK;                     /* K's id (hex) */
static u8 aTables[BEC_HASH_BYTES];   /* the honest snapshot's tables */

/* bec_snapshot_tables' callback: hashes the heads and rows into pArg (a
** running hash: H(previous || head || n_row || rows)). */
static int hash_table(void *pArg, const u8 *aHead, i64 nHead, u64 nRow,
                      BecReader *pRows){
  u8 *aH = (u8*)pArg;
  BecBuf b;
  int rc = SQLITE_OK;
  memset(&b, 0, sizeof(b));
  bec_buf_append(&b, aH, BEC_HASH_BYTES, &rc);
  bec_buf_append_framed(&b, aHead, nHead, &rc);
  bec_buf_append_varint(&b, nRow, &rc);
  bec_buf_append(&b, pRows->a + pRows->i, pRows->n - pRows->i, &rc);
  if( rc==SQLITE_OK ) bec_crypto_hash(b.a, b.n, aH);
  bec_buf_free(&b);
  return rc;
}

/* The tables of snapshot a[0..n-1] hashed into aH; 0 if it is refused,
** -1 if memory ran out (libFuzzer's limit). */
static int tables_of(sqlite3 *db, const u8 *a, i64 n, u8 *aH){
  BecCtx *p = 0;
  char *zWhy = 0, *zErr = 0;
  int rc;
  memset(aH, 0, BEC_HASH_BYTES);
  if( bec_ctx_new(db, &p)!=SQLITE_OK ) abort();
  rc = bec_snapshot_tables(p, a, n, hash_table, aH, &zWhy, &zErr);
  if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM && zWhy==0 ){
    fprintf(stderr, "fuzz_snapshot: bec_snapshot_tables: %d %s\n", rc,
            zErr ? zErr : "(no message)");
    abort();
  }
  sqlite3_free(zErr);
  bec_ctx_unref(p);
  if( zWhy ){
    sqlite3_free(zWhy);
    return 0;
  }
  return rc==SQLITE_OK ? 1 : -1;
}

/* Every op of src ingested into dst, in src's order. */
static void copy_ops(sqlite3 *src, sqlite3 *dst){
  sqlite3_stmt *pSel = 0, *pIng = 0;
  sqlite3_prepare_v2(src, "SELECT body FROM bec_store_op ORDER BY seq", -1, &pSel, 0);
  sqlite3_prepare_v2(dst, "SELECT bec_ingest(?1)", -1, &pIng, 0);
  while( sqlite3_step(pSel)==SQLITE_ROW ){
    sqlite3_bind_value(pIng, 1, sqlite3_column_value(pSel, 0));
    sqlite3_step(pIng);
    sqlite3_reset(pIng);
  }
  sqlite3_finalize(pSel);
  sqlite3_finalize(pIng);
}

static void setup(void){
  sqlite3 *a, *b, *j;
  char *zKeyB;
  sqlite3_stmt *pStmt = 0;
  char *zGroup, *zSql;
  const char *zDir = getenv("BEC_FUZZ_WRITE_SEEDS");
  randombytes_set_implementation(&rnd);
  rngA = 17;
  a = open_image(0, 0);
  exec(a, "SELECT bec_keygen(); SELECT bec_create_group();"
          "CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, v INTEGER, w BLOB);"
          "INSERT INTO t VALUES('a', 1, x'01'), ('b', 2, NULL), ('c', 3, zeroblob(64));");
  zGroup = text(a, "SELECT bec_group_id()");
  /* B, a member, writes offline: concurrent with K, held by A after K */
  b = open_image(0, 0);
  zSql = sqlite3_mprintf("SELECT bec_keygen(); SELECT bec_join('%q')", zGroup);
  exec(b, zSql);
  sqlite3_free(zSql);
  zKeyB = text(b, "SELECT bec_pubkey()");
  zSql = sqlite3_mprintf("SELECT bec_add_member('%q', 'member')", zKeyB);
  exec(a, zSql);
  sqlite3_free(zSql);
  sqlite3_free(zKeyB);
  copy_ops(a, b);
  exec(b, "UPDATE t SET w = x'0b' WHERE k = 'a'");
  exec(a, "UPDATE t SET v = v + 10 WHERE k <> 'b';"
          "INSERT INTO t VALUES('d', 4, x'0404');");
  zK = text(a, "SELECT bec_checkpoint()");
  copy_ops(b, a);
  sqlite3_close(b);
  j = open_image(0, 0);
  zSql = sqlite3_mprintf("SELECT bec_keygen(); SELECT bec_join('%q')", zGroup);
  exec(j, zSql);
  sqlite3_free(zSql);
  sqlite3_free(zGroup);
  sqlite3_prepare_v2(a, "SELECT bec_snapshot()", -1, &pStmt, 0);
  if( sqlite3_step(pStmt)!=SQLITE_ROW
   || sqlite3_column_type(pStmt, 0)!=SQLITE_BLOB
   || tables_of(j, sqlite3_column_blob(pStmt, 0),
                sqlite3_column_bytes(pStmt, 0), aTables)!=1 ){
    fprintf(stderr, "fuzz_snapshot: set-up: no snapshot: %s\n",
            sqlite3_errmsg(a));
    abort();
  }
  if( zDir ){
    char zPath[512];
    FILE *f;
    snprintf(zPath, sizeof(zPath), "%s/snapshot-v5.bin", zDir);
    f = fopen(zPath, "wb");
    if( f ){
      fwrite(sqlite3_column_blob(pStmt, 0), 1,
             (size_t)sqlite3_column_bytes(pStmt, 0), f);
      fclose(f);
    }
  }
  sqlite3_finalize(pStmt);
  aImage = sqlite3_serialize(j, "main", &nImage, 0);
  assert( aImage );
  sqlite3_close(j);
  sqlite3_close(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size){
  sqlite3 *db;
  sqlite3_stmt *pStmt = 0;
  char *zN;
  u8 aH[BEC_HASH_BYTES];
  int bOk = 0, bT;
  if( aImage==0 ) setup();
  rngA = 1;
  db = open_image(aImage, nImage);
  sqlite3_prepare_v2(db, "SELECT bec_snapshot_verify(?1)", -1, &pStmt, 0);
  sqlite3_bind_blob(pStmt, 1, data, (int)size, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *z = (const char*)sqlite3_column_text(pStmt, 0);
    if( z==0 || strcmp(z, zK)!=0 ){
      fprintf(stderr, "fuzz_snapshot: verified as %s, not K\n", z ? z : "NULL");
      abort();
    }
    bOk = 1;
  }else if( strstr(sqlite3_errmsg(db), "unknown error") ){
    fprintf(stderr, "fuzz_snapshot: %s\n", sqlite3_errmsg(db));
    abort();
  }
  sqlite3_finalize(pStmt);
  bT = tables_of(db, data, (i64)size, aH);
  if( (bT>=0 && bT!=bOk) || (bT>0 && memcmp(aH, aTables, BEC_HASH_BYTES)) ){
    fprintf(stderr, "fuzz_snapshot: verified %d, tables differ from K's\n", bOk);
    abort();
  }
  zN = text(db, "SELECT count(*) FROM bec_store_op");
  if( zN==0 || strcmp(zN, "0")!=0 ){
    fprintf(stderr, "fuzz_snapshot: %s ops stored\n", zN ? zN : "?");
    abort();
  }
  sqlite3_free(zN);
  sqlite3_close(db);
  return 0;
}
