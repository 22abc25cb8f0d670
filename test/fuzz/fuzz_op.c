/*
** fuzz_op.c - libFuzzer target: op decoding, verification and acceptance.
**
** Every input is offered twice: to the decoder and signature check on their
** own, and to bec_ingest on a replica that has joined a fixed group, so the
** whole acceptance path (pending area and rejection log included) sees
** hostile bytes.  Nothing may crash, leak or store an op that does not
** verify; the harness asserts the last one with bec_check().
*/
#include "becInt.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

static sqlite3 *db;
static int nStoredAtSetup;

static int stored_ops(void){
  sqlite3_stmt *pStmt = 0;
  int n = -1;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM bec_store_op", -1, &pStmt, 0);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) n = sqlite3_column_int(pStmt, 0);
  sqlite3_finalize(pStmt);
  return n;
}

static void setup(void){
  char *zErr = 0;
  sqlite3_open(":memory:", &db);
  sqlite3_bec_init(db, &zErr, 0);
  sqlite3_exec(db, "SELECT bec_keygen(); SELECT bec_create_group();"
                   "SELECT bec_sign(x'01'); SELECT bec_sign(x'02');", 0, 0, 0);
  sqlite3_free(zErr);
  nStoredAtSetup = stored_ops();
  assert( nStoredAtSetup==3 );
}

int LLVMFuzzerTestOneInput(const uint8_t *a, size_t n){
  BecOp op;
  char *zErr = 0;
  sqlite3_stmt *pStmt = 0;
  if( db==0 ) setup();
  if( bec_op_decode(a, (i64)n, &op, &zErr)==SQLITE_OK ){
    u8 aGroup[BEC_HASH_BYTES];
    memset(aGroup, 0, sizeof(aGroup));
    (void)bec_crypto_verify_op(&op, aGroup);
  }
  sqlite3_free(zErr);
  sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &pStmt, 0);
  sqlite3_bind_blob(pStmt, 1, a, (int)n, SQLITE_STATIC);
  sqlite3_step(pStmt);
  sqlite3_finalize(pStmt);
  /* Random bytes cannot carry a valid signature: the store stays at the
  ** ops of setup. */
  if( stored_ops()!=nStoredAtSetup ){
    fprintf(stderr, "fuzz_op: an unverified op was stored\n");
    abort();
  }
  return 0;
}
