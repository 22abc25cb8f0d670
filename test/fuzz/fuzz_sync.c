/*
** fuzz_sync.c - libFuzzer target: sync message decoding and bec_sync_apply
** on a replica with history.
**
** The replica (A) holds a group, a bec table with rows, members and the
** persisted sync state of a peer 'P' (a replica B that synced with it once
** and has since written ops A lacks).  Every input runs on a fresh copy of
** A's database (sqlite3_deserialize of an image made at set-up), so inputs
** are independent and a crash replays from its file alone.
**
** An input is one sync message, or, if its first byte is 0xF5 (never a
** valid version byte), a session: byte 1 bit 0 set means A first offers to
** P, then (u32 little-endian length, message) frames follow, each applied
** as coming from P.  libsodium's random source is a fixed stream here,
** reset for every input, so A's session ids and filter seeds are the same
** on every run and recorded sessions (seeds) replay as they happened.
**
** Each message is also given to bec_syncmsg_decode directly, and its ops to
** bec_op_decode.  Nothing may crash or leak, and bec_check() (which
** re-verifies every stored op) must stay 'ok'.
**
**   BEC_FUZZ_WRITE_SEEDS=dir ./fuzz_sync      writes recorded sessions to dir
*/
#include "fuzzcommon.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

/* The second random stream; the first, rngA, is in fuzzcommon.h. */
static u64 rngB;

static unsigned char *aImage;     /* A's database */
static sqlite3_int64 nImage;

static sqlite3 *open_db(void){
  sqlite3 *db = 0;
  char *zErr = 0;
  sqlite3_open(":memory:", &db);
  sqlite3_bec_init(db, &zErr, 0);
  sqlite3_free(zErr);
  return db;
}

/* A fresh copy of A. */
static sqlite3 *open_a(void){
  sqlite3 *db = 0;
  unsigned char *a = sqlite3_malloc64((sqlite3_uint64)nImage);
  char *zErr = 0;
  assert( a );
  memcpy(a, aImage, (size_t)nImage);
  sqlite3_open(":memory:", &db);
  sqlite3_deserialize(db, "main", a, nImage, nImage,
                      SQLITE_DESERIALIZE_FREEONCLOSE|SQLITE_DESERIALIZE_RESIZEABLE);
  sqlite3_bec_init(db, &zErr, 0);
  sqlite3_free(zErr);
  return db;
}



/* offer (pMsg==0) or apply; the reply in *pOut (sqlite3_malloc'd) */
static int sync_call(sqlite3 *db, const char *zPeer, const u8 *a, int n,
                     u8 **ppOut, int *pnOut){
  sqlite3_stmt *pStmt = 0;
  int rc;
  *ppOut = 0;
  *pnOut = 0;
  if( a ){
    sqlite3_prepare_v2(db, "SELECT bec_sync_apply(?1, ?2)", -1, &pStmt, 0);
    sqlite3_bind_blob(pStmt, 2, a, n, SQLITE_STATIC);
  }else{
    sqlite3_prepare_v2(db, "SELECT bec_sync_offer(?1)", -1, &pStmt, 0);
  }
  sqlite3_bind_text(pStmt, 1, zPeer, -1, SQLITE_STATIC);
  rc = sqlite3_step(pStmt);
  if( rc==SQLITE_ROW && sqlite3_column_type(pStmt, 0)==SQLITE_BLOB ){
    *pnOut = sqlite3_column_bytes(pStmt, 0);
    *ppOut = sqlite3_malloc64((sqlite3_uint64)*pnOut + 1);
    memcpy(*ppOut, sqlite3_column_blob(pStmt, 0), (size_t)*pnOut);
  }
  sqlite3_finalize(pStmt);
  return rc==SQLITE_ROW ? SQLITE_OK : SQLITE_ERROR;
}

/* A full session, x offers; used at set-up only. */
static void sync_full(sqlite3 *x, const char *zXnamesY, u64 *pRx,
                      sqlite3 *y, const char *zYnamesX, u64 *pRy){
  u8 *m = 0, *r = 0;
  int n = 0, nr = 0, k;
  pRng = pRx;
  sync_call(x, zXnamesY, 0, 0, &m, &n);
  for(k=0; m && k<100; k++){
    pRng = (k&1) ? pRx : pRy;
    sync_call((k&1) ? x : y, (k&1) ? zXnamesY : zYnamesX, m, n, &r, &nr);
    sqlite3_free(m);
    m = r; n = nr;
  }
  sqlite3_free(m);
  pRng = &rngA;
}

/* ---- recording seeds: real sessions between B and a fresh copy of A */
static void write_file(const char *zDir, const char *zName, const u8 *a, i64 n){
  char *zPath = sqlite3_mprintf("%s/%s", zDir, zName);
  FILE *f = fopen(zPath, "wb");
  if( f ){ fwrite(a, 1, (size_t)n, f); fclose(f); }
  sqlite3_free(zPath);
}

static void frame(BecBuf *p, const u8 *a, int n, int *pRc){
  u8 len[4] = { (u8)n, (u8)(n>>8), (u8)(n>>16), (u8)(n>>24) };
  bec_buf_append(p, len, 4, pRc);
  bec_buf_append(p, a, n, pRc);
}

static void record(sqlite3 *b, const char *zDir){
  int bOfferFirst;
  for(bOfferFirst=0; bOfferFirst<2; bOfferFirst++){
    /* A copy of B for each recording, so both start from the same state */
    sqlite3 *a, *bb = open_db();
    sqlite3_int64 nB = 0;
    unsigned char *aB = sqlite3_serialize(b, "main", &nB, 0);
    unsigned char *aBB = sqlite3_malloc64((sqlite3_uint64)nB);
    u64 rB = 777;
    BecBuf framed;
    u8 *m = 0, *r = 0, hdr[2];
    int n = 0, nr = 0, k, rc = SQLITE_OK;
    char zName[64];
    memcpy(aBB, aB, (size_t)nB);
    sqlite3_free(aB);
    sqlite3_close(bb);
    bb = 0;
    sqlite3_open(":memory:", &bb);
    sqlite3_deserialize(bb, "main", aBB, nB, nB,
                        SQLITE_DESERIALIZE_FREEONCLOSE|SQLITE_DESERIALIZE_RESIZEABLE);
    { char *zErr = 0; sqlite3_bec_init(bb, &zErr, 0); sqlite3_free(zErr); }
    rngA = 1;                       /* as LLVMFuzzerTestOneInput does */
    pRng = &rngA;
    a = open_a();
    memset(&framed, 0, sizeof(framed));
    hdr[0] = 0xF5;
    hdr[1] = bOfferFirst ? 0 : 1;   /* bit 0: A offers first */
    bec_buf_append(&framed, hdr, 2, &rc);
    if( bOfferFirst ){
      pRng = &rB;
      sync_call(bb, "A", 0, 0, &m, &n);
    }else{
      pRng = &rngA;
      sync_call(a, "P", 0, 0, &r, &nr);
      pRng = &rB;
      sync_call(bb, "A", r, nr, &m, &n);
      sqlite3_free(r);
    }
    for(k=0; m && k<20; k++){
      sqlite3_snprintf(sizeof(zName), zName, "%s-msg%d.bin",
                       bOfferFirst ? "b-offers" : "a-offers", k);
      write_file(zDir, zName, m, n);
      frame(&framed, m, n, &rc);
      pRng = &rngA;
      sync_call(a, "P", m, n, &r, &nr);
      sqlite3_free(m);
      m = 0; n = 0;
      if( r==0 ) break;
      pRng = &rB;
      sync_call(bb, "A", r, nr, &m, &n);
      sqlite3_free(r);
    }
    sqlite3_free(m);
    sqlite3_snprintf(sizeof(zName), zName, "%s-session.bin",
                     bOfferFirst ? "b-offers" : "a-offers");
    if( rc==SQLITE_OK ) write_file(zDir, zName, framed.a, framed.n);
    bec_buf_free(&framed);
    sqlite3_close(a);
    sqlite3_close(bb);
    pRng = &rngA;
  }
}

static void setup(void){
  sqlite3 *a, *b;
  char *zSql, *zPub;
  const char *zDir = getenv("BEC_FUZZ_WRITE_SEEDS");
  int i;
  randombytes_set_implementation(&rnd);
  rngA = 11; rngB = 22;
  pRng = &rngA;
  a = open_db();
  exec(a, "SELECT bec_keygen(); SELECT bec_create_group();"
          "CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, v INTEGER, w BLOB);"
          "INSERT INTO t VALUES('a', 1, x'01'), ('b', 2, NULL);"
          "SELECT bec_sign('app 1');");
  pRng = &rngB;
  b = open_db();
  exec(b, "SELECT bec_keygen()");
  zPub = text(b, "SELECT bec_pubkey()");
  {
    char *zGroup;
    pRng = &rngA;
    zGroup = text(a, "SELECT bec_group_id()");
    zSql = sqlite3_mprintf("SELECT bec_add_member('%q', 'admin')", zPub);
    exec(a, zSql);
    sqlite3_free(zSql);
    pRng = &rngB;
    zSql = sqlite3_mprintf("SELECT bec_join('%q')", zGroup);
    exec(b, zSql);
    sqlite3_free(zSql);
    sqlite3_free(zGroup);
  }
  sync_full(b, "A", &rngB, a, "P", &rngA);
  /* Concurrent work on both sides since that sync. */
  pRng = &rngB;
  for(i=0; i<6; i++){
    zSql = sqlite3_mprintf("INSERT OR REPLACE INTO t VALUES('b%d', %d, x'%02x')", i%3, i, i);
    exec(b, zSql);
    sqlite3_free(zSql);
  }
  exec(b, "SELECT bec_sign('from b'); UPDATE t SET v = v + 10 WHERE k = 'a';"
          "SELECT bec_add_member('0000000000000000000000000000000000000000000000000000000000000001', 'member');"
          "CREATE VIRTUAL TABLE u USING bec(id INTEGER PRIMARY KEY, x);"
          "INSERT INTO u VALUES(1, 'one');");
  pRng = &rngA;
  exec(a, "INSERT INTO t VALUES('c', 3, x'03'); DELETE FROM t WHERE k = 'b';"
          "SELECT bec_sign('from a');");
  aImage = sqlite3_serialize(a, "main", &nImage, 0);
  assert( aImage );
  sqlite3_close(a);
  sqlite3_free(zPub);
  if( zDir ) record(b, zDir);
  sqlite3_close(b);
}

/* The decoder on its own. */
static void decode_only(const u8 *a, i64 n){
  BecSyncMsg msg;
  char *zErr = 0;
  if( bec_syncmsg_decode(a, n, &msg, &zErr)==SQLITE_OK ){
    i64 off = 0;
    int k;
    for(k=0; k<msg.nOp; k++){
      const u8 *aOp = 0;
      i64 nOp = 0;
      BecOp op;
      char *zE = 0;
      bec_syncmsg_next_op(&msg, &off, &aOp, &nOp);
      if( bec_op_decode(aOp, nOp, &op, &zE)==SQLITE_OK && (msg.flags & BEC_SYNC_F_FILTER) ){
        (void)bec_bloom_test(&msg.filter, op.aId);
      }
      sqlite3_free(zE);
    }
    bec_bloom_free(&msg.filter);
    bec_syncmsg_free(&msg);
  }
  sqlite3_free(zErr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size){
  sqlite3 *db;
  u8 *r = 0;
  int nr = 0;
  char *zCheck;
  if( aImage==0 ) setup();
  rngA = 1;
  pRng = &rngA;
  db = open_a();
  if( size>=2 && data[0]==0xF5 ){
    size_t i = 2;
    int nMsg = 0;
    if( data[1] & 1 ){
      sync_call(db, "P", 0, 0, &r, &nr);
      sqlite3_free(r);
    }
    while( i+4<=size && nMsg<16 ){
      size_t n = (size_t)data[i] | ((size_t)data[i+1]<<8)
               | ((size_t)data[i+2]<<16) | ((size_t)data[i+3]<<24);
      i += 4;
      if( n>size-i ) n = size-i;
      decode_only(data+i, (i64)n);
      sync_call(db, "P", data+i, (int)n, &r, &nr);
      sqlite3_free(r);
      i += n;
      nMsg++;
    }
  }else{
    decode_only(data, (i64)size);
    sync_call(db, "P", data, (int)size, &r, &nr);
    sqlite3_free(r);
  }
  zCheck = text(db, "SELECT bec_check()");
  if( zCheck==0 || strcmp(zCheck, "ok")!=0 ){
    fprintf(stderr, "fuzz_sync: bec_check() is not ok: %s\n", zCheck ? zCheck : "(null)");
    abort();
  }
  sqlite3_free(zCheck);
  sqlite3_close(db);
  return 0;
}
