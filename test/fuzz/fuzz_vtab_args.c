/*
** fuzz_vtab_args.c - libFuzzer target: the arguments of
**   CREATE VIRTUAL TABLE x USING bec(<input>)
** then a few statements on the table, and the schema op it signed
** ingested by a second replica, which must create the same table itself.
**
** Every input starts from fresh copies of two databases made at set-up (an
** admin who created the group, and a member that joined it), so inputs are
** independent.  The input is text: only the first SQL statement it makes is
** run, so a ')' in the input cannot smuggle other SQL in.  After the
** statements, bec_check() must be 'ok' on both replicas, and both must show
** the same rows.
*/
#include "fuzzcommon.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>


static unsigned char *aImgA, *aImgR;
static sqlite3_int64 nImgA, nImgR;




/* Runs the first statement of zSql (binding ?1..?n to a few values). */
static int run1(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  int i, n, k = 0;
  if( rc!=SQLITE_OK ) return rc;
  n = sqlite3_bind_parameter_count(pStmt);
  for(i=1; i<=n; i++){
    switch( i%5 ){
      case 0: sqlite3_bind_int64(pStmt, i, i*7); break;
      case 1: sqlite3_bind_text(pStmt, i, "key", -1, SQLITE_STATIC); break;
      case 2: sqlite3_bind_double(pStmt, i, 2.5); break;
      case 3: sqlite3_bind_blob(pStmt, i, "\x00\x01", 2, SQLITE_STATIC); break;
      default: sqlite3_bind_null(pStmt, i); break;
    }
  }
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW && ++k<1000 ){}
  sqlite3_finalize(pStmt);
  return rc==SQLITE_DONE || rc==SQLITE_ROW ? SQLITE_OK : rc;
}

/* A digest of "SELECT * FROM x" (order-independent). */
static u64 rows_digest(sqlite3 *db, int *pnRow){
  sqlite3_stmt *pStmt = 0;
  u64 h = 0;
  *pnRow = -1;
  if( sqlite3_prepare_v2(db, "SELECT * FROM x", -1, &pStmt, 0)!=SQLITE_OK ) return 0;
  *pnRow = 0;
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    u64 r = 1469598103934665603ULL;
    int i;
    for(i=0; i<sqlite3_column_count(pStmt); i++){
      const u8 *z = (const u8*)sqlite3_column_blob(pStmt, i);
      int j, nz = sqlite3_column_bytes(pStmt, i);
      r = (r ^ (u64)sqlite3_column_type(pStmt, i)) * 1099511628211ULL;
      for(j=0; j<nz; j++) r = (r ^ z[j]) * 1099511628211ULL;
    }
    h += r;
    (*pnRow)++;
  }
  sqlite3_finalize(pStmt);
  return h;
}

static void setup(void){
  sqlite3 *a, *r;
  randombytes_set_implementation(&rnd);
  rngA = 5;
  a = open_image(0, 0);
  r = open_image(0, 0);
  use_key_file(a, "vtab_a", 1);
  use_key_file(r, "vtab_r", 1);
  exec(a, "SELECT bec_keygen(); SELECT bec_create_group();");
  exec(r, "SELECT bec_keygen()");
  admit_with_ops(a, r, "member");
  aImgA = sqlite3_serialize(a, "main", &nImgA, 0);
  aImgR = sqlite3_serialize(r, "main", &nImgR, 0);
  assert( aImgA && aImgR );
  sqlite3_close(a);
  sqlite3_close(r);
}

static void must_be_ok(sqlite3 *db, const char *zWho){
  char *z = text(db, "SELECT bec_check()");
  if( z==0 || strcmp(z, "ok")!=0 ){
    fprintf(stderr, "fuzz_vtab_args: bec_check() on %s: %s\n", zWho, z ? z : "(null)");
    abort();
  }
  sqlite3_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size){
  sqlite3 *a, *r;
  char *zArgs, *zSql;
  int nRowA, nRowR, i;
  u64 hA, hR;
  static const char *azStmt[] = {
    "INSERT INTO x SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8",
    "INSERT INTO x DEFAULT VALUES",
    "INSERT OR REPLACE INTO x SELECT * FROM x",
    "UPDATE x SET rowid = rowid + 1",
    "SELECT * FROM x WHERE rowid = 1",
    "DELETE FROM x WHERE rowid IN (SELECT rowid FROM x LIMIT 1)",
  };
  if( aImgA==0 ) setup();
  if( size>2000 ) return 0;
  rngA = 9;
  a = open_image(aImgA, nImgA);
  r = open_image(aImgR, nImgR);
  use_key_file(a, "vtab_a", 0);
  use_key_file(r, "vtab_r", 0);
  zArgs = sqlite3_malloc64(size+1);
  memcpy(zArgs, data, size);
  zArgs[size] = 0;
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE x USING bec(%s)", zArgs);
  if( run1(a, zSql)==SQLITE_OK ){
    /* A few writes with as many values as the table has columns. */
    sqlite3_stmt *pStmt = 0;
    int nCol = 0;
    if( sqlite3_prepare_v2(a, "SELECT * FROM x", -1, &pStmt, 0)==SQLITE_OK ){
      nCol = sqlite3_column_count(pStmt);
    }
    sqlite3_finalize(pStmt);
    if( nCol>0 ){
      BecBuf b;
      int rc = SQLITE_OK;
      memset(&b, 0, sizeof(b));
      bec_buf_append(&b, "INSERT INTO x VALUES(", 21, &rc);
      for(i=0; i<nCol; i++) bec_buf_append(&b, i ? ",?" : "?", i ? 2 : 1, &rc);
      bec_buf_append(&b, ")", 2, &rc);
      if( rc==SQLITE_OK ){
        run1(a, (const char*)b.a);
        run1(a, (const char*)b.a);      /* the same key again: a conflict */
      }
      bec_buf_free(&b);
    }
    for(i=0; i<(int)(sizeof(azStmt)/sizeof(azStmt[0])); i++){
      run1(a, azStmt[i]);
    }
    /* A transaction rolled back leaves nothing. */
    sqlite3_exec(a, "BEGIN", 0, 0, 0);
    run1(a, "DELETE FROM x");
    sqlite3_exec(a, "ROLLBACK", 0, 0, 0);
    run1(a, "SELECT * FROM bec_conflicts");
    forward_ops(a, r);
    hA = rows_digest(a, &nRowA);
    hR = rows_digest(r, &nRowR);
    if( hA!=hR || nRowA!=nRowR ){
      fprintf(stderr, "fuzz_vtab_args: the replica shows other rows (%d vs %d)\n",
              nRowA, nRowR);
      abort();
    }
    run1(a, "DROP TABLE x");
    forward_ops(a, r);
  }
  must_be_ok(a, "the writer");
  must_be_ok(r, "the replica");
  sqlite3_free(zSql);
  sqlite3_free(zArgs);
  sqlite3_close(a);
  sqlite3_close(r);
  return 0;
}
