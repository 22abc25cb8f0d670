/*
** fuzz_shadow.c - libFuzzer target: storage corrupted behind bec's back.
**
** A replica with history (a group, members, a removed member, two bec
** tables with rows and conflicts (t.v a COUNTER: its steps are stored
** members too), ops waiting in the pending area, a
** rejected op, the sync state of a peer) is saved as an image at set-up.
** Every input starts from a fresh copy of it and is read as a list of
** corruptions, each applied with plain SQL to one of bec's storage tables
** (bec_store_*) or a table's shadow table (<name>_rows):
**
**   byte 0: what  (mod 6: set a column, delete a row, copy a row, drop the
**                  table, set a column in every row, set a config value;
**                  a config row past the last is an old plaintext 'seckey')
**   byte 1: table (mod the number of tables)
**   byte 2: row   (the row at this offset, in the table's natural order)
**   byte 3: column (mod the number of columns)
**   byte 4: value type (mod 5: integer, text, blob, NULL, real)
**   byte 5: n, then n bytes of value
**
** Then the connection runs what an application and a peer would: reads of
** every bec table, bec_check(), local writes, bec_sign, bec_ingest of a
** peer's valid ops, bec_sync_offer and bec_sync_apply of a recorded message,
** bec_member_rebuild() and bec_dot().  Errors are expected (bec_check()
** lists problems); nothing may crash, hang, leak or trip a sanitizer.
*/
#include "fuzzcommon.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>


static unsigned char *aImage;
static sqlite3_int64 nImage;
static BecBuf peerOps;          /* (u32 length, body) of a peer's ops */
static BecBuf peerMsg;          /* a sync offer from the peer */

/* The tables an input may corrupt (those missing in a build are skipped). */
static const char *azTable[] = {
  "bec_store_op", "bec_store_head", "bec_store_author", "bec_store_config",
  "bec_store_member", "bec_store_member_op", "bec_store_pending",
  "bec_store_pending_missing", "bec_store_rejected", "bec_store_peer",
  "bec_store_table", "bec_store_column", "bec_store_conflict",
  "t_rows", "u_rows",
};
#define N_TABLE ((int)(sizeof(azTable)/sizeof(azTable[0])))




/* Steps the first statement of zSql to the end (at most 10,000 rows). */
static void run1(sqlite3 *db, const char *zSql, const void *a, int n){
  sqlite3_stmt *pStmt = 0;
  int k = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)!=SQLITE_OK ) return;
  if( a ) sqlite3_bind_blob(pStmt, 1, a, n, SQLITE_STATIC);
  while( sqlite3_step(pStmt)==SQLITE_ROW && ++k<10000 ){}
  sqlite3_finalize(pStmt);
}

static void setup(void){
  sqlite3 *a, *p;
  int rc = SQLITE_OK;
  randombytes_set_implementation(&rnd);
  rngA = 3;
  a = open_image(0, 0);
  p = open_image(0, 0);
  use_key_file(a, "shadow_a", 1);
  exec(a, "SELECT bec_keygen(); SELECT bec_create_group();"
          "CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, v INTEGER COUNTER, w BLOB);"
          "CREATE VIRTUAL TABLE u USING bec(id INTEGER PRIMARY KEY, x);"
          "INSERT INTO t VALUES('a', 1, x'01'), ('b', 2, NULL), ('c', 3, 'three');"
          "INSERT INTO u VALUES(1, 'one'), (2, 2.5);"
          "SELECT bec_sign('app');"
          "SELECT bec_add_member('0101010101010101010101010101010101010101010101010101010101010101', 'member');"
          "SELECT bec_remove_member('0101010101010101010101010101010101010101010101010101010101010101');");
  exec(p, "SELECT bec_keygen()");
  admit_with_ops(a, p, "admin");
  /* Concurrent writes: conflicts in t. */
  exec(p, "UPDATE t SET v = 100 WHERE k = 'a'; INSERT INTO t VALUES('d', 4, NULL);"
          "SELECT bec_sign('peer app 1'); SELECT bec_sign('peer app 2');");
  exec(a, "UPDATE t SET v = 200 WHERE k = 'a'; DELETE FROM t WHERE k = 'b';");
  {
    /* The peer's newer ops: the first one is held back, so the others
    ** wait in a's pending area; all of them are replayed by inputs. */
    sqlite3_stmt *pStmt = 0, *pIns = 0;
    int k = 0;
    sqlite3_prepare_v2(p, "SELECT body FROM bec_ops WHERE author=bec_pubkey()", -1, &pStmt, 0);
    sqlite3_prepare_v2(a, "SELECT bec_ingest(?1)", -1, &pIns, 0);
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      int n = sqlite3_column_bytes(pStmt, 0);
      u8 len[4] = { (u8)n, (u8)(n>>8), (u8)(n>>16), (u8)(n>>24) };
      bec_buf_append(&peerOps, len, 4, &rc);
      bec_buf_append(&peerOps, sqlite3_column_blob(pStmt, 0), n, &rc);
      if( k++>0 ){
        sqlite3_bind_value(pIns, 1, sqlite3_column_value(pStmt, 0));
        sqlite3_step(pIns);
        sqlite3_reset(pIns);
      }
    }
    sqlite3_finalize(pStmt);
    sqlite3_finalize(pIns);
  }
  /* A rejected op (an outsider's bytes) and a peer's sync offer. */
  run1(a, "SELECT bec_ingest(?1)", "\x01\x04garbage", 9);
  {
    sqlite3_stmt *pStmt = 0;
    sqlite3_prepare_v2(p, "SELECT bec_sync_offer('A')", -1, &pStmt, 0);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      bec_buf_append(&peerMsg, sqlite3_column_blob(pStmt, 0),
                     sqlite3_column_bytes(pStmt, 0), &rc);
    }
    sqlite3_finalize(pStmt);
  }
  {
    /* a's own sync state with the peer */
    sqlite3_stmt *pStmt = 0;
    sqlite3_prepare_v2(a, "SELECT bec_sync_offer('P')", -1, &pStmt, 0);
    sqlite3_step(pStmt);
    sqlite3_finalize(pStmt);
  }
  assert( rc==SQLITE_OK );
  aImage = sqlite3_serialize(a, "main", &nImage, 0);
  assert( aImage );
  sqlite3_close(a);
  sqlite3_close(p);
}

/* Binds the value described at data[*pi..] to parameter 1. */
static void bind_value(sqlite3_stmt *pStmt, int iParam, int eType,
                       const u8 *a, int n){
  switch( eType%5 ){
    case 0: {
      i64 v = 0;
      int k;
      for(k=0; k<n && k<8; k++) v = (i64)(((u64)v<<8) | a[k]);
      if( n==1 ) v = (signed char)a[0];
      sqlite3_bind_int64(pStmt, iParam, v);
      break;
    }
    case 1: sqlite3_bind_text(pStmt, iParam, (const char*)a, n, SQLITE_TRANSIENT); break;
    case 2: sqlite3_bind_blob(pStmt, iParam, a, n, SQLITE_TRANSIENT); break;
    case 3: sqlite3_bind_null(pStmt, iParam); break;
    default: {
      double r = 0;
      if( n>=8 ) memcpy(&r, a, 8); else r = n ? (double)a[0] - 128.5 : 0;
      sqlite3_bind_double(pStmt, iParam, r);
      break;
    }
  }
}

/* The names of the columns of zTable, and whether it has a rowid. */
static int columns(sqlite3 *db, const char *zTable, char ***pazCol, int *pbRowid){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT name, (SELECT sql NOT LIKE '%%WITHOUT ROWID%%'"
                               " FROM sqlite_schema WHERE name=%Q) FROM pragma_table_info(%Q)",
                               zTable, zTable);
  char **az = 0;
  int n = 0;
  *pbRowid = 0;
  sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  while( sqlite3_step(pStmt)==SQLITE_ROW && n<64 ){
    az = sqlite3_realloc64(az, sizeof(char*)*(sqlite3_uint64)(n+1));
    az[n++] = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
    *pbRowid = sqlite3_column_int(pStmt, 1);
  }
  sqlite3_finalize(pStmt);
  *pazCol = az;
  return n;
}

static void corrupt(sqlite3 *db, int eWhat, const char *zTable, int iRow,
                    int iCol, int eType, const u8 *a, int n){
  char **azCol = 0;
  int nCol, bRowid, k;
  char *zSql = 0;
  sqlite3_stmt *pStmt = 0;
  nCol = columns(db, zTable, &azCol, &bRowid);
  if( nCol==0 ) return;
  iCol %= nCol;
  /* Rows are addressed by rowid, or by their first column for the tables
  ** WITHOUT ROWID (whose first column starts the key in bec's schema). */
  switch( eWhat%6 ){
    case 0:
      if( bRowid ){
        zSql = sqlite3_mprintf("UPDATE \"%w\" SET \"%w\"=?1 WHERE rowid=(SELECT rowid FROM"
                               " \"%w\" LIMIT 1 OFFSET %d)", zTable, azCol[iCol], zTable, iRow);
      }else{
        zSql = sqlite3_mprintf("UPDATE \"%w\" SET \"%w\"=?1 WHERE \"%w\"=(SELECT \"%w\" FROM"
                               " \"%w\" LIMIT 1 OFFSET %d)", zTable, azCol[iCol], azCol[0],
                               azCol[0], zTable, iRow);
      }
      break;
    case 1:
      if( bRowid ){
        zSql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE rowid=(SELECT rowid FROM \"%w\""
                               " LIMIT 1 OFFSET %d)", zTable, zTable, iRow);
      }else{
        zSql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE \"%w\"=(SELECT \"%w\" FROM \"%w\""
                               " LIMIT 1 OFFSET %d)", zTable, azCol[0], azCol[0], zTable, iRow);
      }
      break;
    case 2: {
      /* a copy of a row with one column changed (rowid tables: a new rowid) */
      BecBuf b;
      int rc = SQLITE_OK;
      memset(&b, 0, sizeof(b));
      bec_buf_append(&b, "INSERT OR IGNORE INTO \"", 23, &rc);
      bec_buf_append(&b, zTable, (i64)strlen(zTable), &rc);
      bec_buf_append(&b, "\" SELECT ", 9, &rc);
      for(k=0; k<nCol; k++){
        const char *z = k==iCol ? "?1" : azCol[k];
        if( k ) bec_buf_append(&b, ",", 1, &rc);
        bec_buf_append(&b, "\"", k==iCol ? 0 : 1, &rc);
        bec_buf_append(&b, z, (i64)strlen(z), &rc);
        bec_buf_append(&b, "\"", k==iCol ? 0 : 1, &rc);
      }
      bec_buf_append(&b, " FROM \"", 7, &rc);
      bec_buf_append(&b, zTable, (i64)strlen(zTable), &rc);
      bec_buf_append(&b, "\" LIMIT 1 OFFSET ?2", 20, &rc);
      if( rc==SQLITE_OK ) zSql = sqlite3_mprintf("%s", (char*)b.a);
      bec_buf_free(&b);
      break;
    }
    case 3:
      zSql = sqlite3_mprintf("DROP TABLE \"%w\"", zTable);
      break;
    case 4:
      zSql = sqlite3_mprintf("UPDATE \"%w\" SET \"%w\"=?1", zTable, azCol[iCol]);
      break;
    default:
      /* Past the last row: the plaintext 'seckey' row an older bec wrote,
      ** which bec moves out to the key file (or refuses to, saying why). */
      zSql = sqlite3_mprintf("INSERT OR REPLACE INTO bec_store_config(key, value) VALUES("
                             "coalesce((SELECT key FROM bec_store_config LIMIT 1 OFFSET %d),"
                             " 'seckey'), ?1)", iRow);
      break;
  }
  if( zSql && sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK ){
    bind_value(pStmt, 1, eType, a, n);
    if( sqlite3_bind_parameter_count(pStmt)>=2 ) sqlite3_bind_int(pStmt, 2, iRow);
    sqlite3_step(pStmt);
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zSql);
  for(k=0; k<nCol; k++) sqlite3_free(azCol[k]);
  sqlite3_free(azCol);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size){
  sqlite3 *db;
  size_t i = 0;
  int nCmd = 0;
  i64 off;
  static const char *azRead[] = {
    "SELECT * FROM t", "SELECT * FROM t WHERE k='a'", "SELECT * FROM t ORDER BY v DESC",
    "SELECT * FROM u", "SELECT * FROM u WHERE id=2", "SELECT * FROM bec_ops",
    "SELECT * FROM bec_ops WHERE kind='write'", "SELECT * FROM bec_heads",
    "SELECT * FROM bec_members", "SELECT * FROM bec_members WHERE role='admin'",
    "SELECT * FROM bec_pending", "SELECT * FROM bec_rejected", "SELECT * FROM bec_conflicts",
    "SELECT * FROM bec_peers", "SELECT bec_check()", "SELECT bec_group_id(), bec_pubkey()",
    "SELECT bec_sync_state('P')",
  };
  static const char *azWrite[] = {
    "INSERT INTO t VALUES('z', 9, x'09')", "UPDATE t SET v = v + 1",
    "DELETE FROM t WHERE k = 'c'", "INSERT OR REPLACE INTO u VALUES(2, 'two')",
    "SELECT bec_sign('after')", "SELECT bec_add_member("
    "'0202020202020202020202020202020202020202020202020202020202020202', 'member')",
    "CREATE VIRTUAL TABLE v USING bec(a TEXT PRIMARY KEY)", "DROP TABLE u",
  };
  if( aImage==0 ) setup();
  rngA = 7;
  db = open_image(aImage, nImage);
  use_key_file(db, "shadow_a", 0);
  while( i+6<=size && nCmd<8 ){
    int n = data[i+5];
    if( (size_t)n > size-(i+6) ) n = (int)(size-(i+6));
    corrupt(db, data[i], azTable[data[i+1]%N_TABLE], data[i+2], data[i+3], data[i+4],
            data+i+6, n);
    i += 6 + (size_t)n;
    nCmd++;
  }
  for(i=0; i<sizeof(azRead)/sizeof(azRead[0]); i++) run1(db, azRead[i], 0, 0);
  for(i=0; i<sizeof(azWrite)/sizeof(azWrite[0]); i++) run1(db, azWrite[i], 0, 0);
  for(off=0; off+4<=peerOps.n; ){
    int n = (int)(peerOps.a[off] | (peerOps.a[off+1]<<8) | (peerOps.a[off+2]<<16)
                  | ((u32)peerOps.a[off+3]<<24));
    run1(db, "SELECT bec_ingest(?1)", peerOps.a+off+4, n);
    off += 4 + n;
  }
  run1(db, "SELECT bec_sync_apply('P', ?1)", peerMsg.a, (int)peerMsg.n);
  run1(db, "SELECT bec_sync_offer('Q')", 0, 0);
  run1(db, "SELECT bec_member_rebuild()", 0, 0);
  run1(db, "SELECT bec_dot()", 0, 0);
  for(i=0; i<sizeof(azRead)/sizeof(azRead[0]); i++) run1(db, azRead[i], 0, 0);
  sqlite3_close(db);
  return 0;
}
