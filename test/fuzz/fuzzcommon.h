/*
** fuzzcommon.h - set-up helpers the libFuzzer targets share (each target
** includes this once; everything is static inline).
*/
#ifndef BEC_FUZZCOMMON_H
#define BEC_FUZZCOMMON_H

#include "becInt.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A connection to a copy of a database image (or an empty one), with bec. */
static inline sqlite3 *open_image(const unsigned char *aImg, sqlite3_int64 nImg){
  sqlite3 *db = 0;
  char *zErr = 0;
  sqlite3_open(":memory:", &db);
  if( aImg ){
    unsigned char *a = sqlite3_malloc64((sqlite3_uint64)nImg);
    assert( a );
    memcpy(a, aImg, (size_t)nImg);
    sqlite3_deserialize(db, "main", a, nImg, nImg,
                        SQLITE_DESERIALIZE_FREEONCLOSE|SQLITE_DESERIALIZE_RESIZEABLE);
  }
  sqlite3_bec_init(db, &zErr, 0);
  sqlite3_free(zErr);
  return db;
}

/* Runs set-up SQL that must succeed: a failure is a broken harness. */
static inline void exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr)!=SQLITE_OK ){
    fprintf(stderr, "fuzz set-up: %s: %s\n", zSql, zErr);
    abort();
  }
}

/* The unsealed secret key never travels in a database image, so a replica
** whose copies must sign keeps its key in a key file of this process, and
** every copy points to it.  bNew (at set-up, before bec_keygen): a stale
** file goes first, and the file is removed when the process exits. */
static inline char *fuzz_key_slot(int i){
  static char a[4][96];
  return a[i];
}
static inline void fuzz_key_cleanup(void){
  int i;
  for(i=0; i<4; i++) if( fuzz_key_slot(i)[0] ) unlink(fuzz_key_slot(i));
}
static inline void use_key_file(sqlite3 *db, const char *zName, int bNew){
  char zPath[96], *zSql;
  snprintf(zPath, sizeof(zPath), "/tmp/bec_fuzz_%d_%s.key", (int)getpid(), zName);
  if( bNew ){
    int i;
    unlink(zPath);
    for(i=0; i<4 && fuzz_key_slot(i)[0]; i++){}
    assert( i<4 );
    if( i==0 ) atexit(fuzz_key_cleanup);
    memcpy(fuzz_key_slot(i), zPath, sizeof(zPath));
  }
  zSql = sqlite3_mprintf("SELECT bec_key_file(%Q)", zPath);
  exec(db, zSql);
  sqlite3_free(zSql);
}

/* The first column of the first row, from sqlite3_mprintf (or 0). */
static inline char *text(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  char *z = 0;
  sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_text(pStmt, 0) ){
    z = sqlite3_mprintf("%s", sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return z;
}

/* A deterministic random source for libsodium, installed with
** randombytes_set_implementation(&rnd): keys, nonces and Bloom seeds repeat
** from run to run.  pRng selects the stream (a target may keep several). */
static u64 rngA, *pRng = &rngA;
static inline u64 splitmix(void){
  u64 z = (*pRng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static const char *rnd_name(void){ return "fuzz"; }
static uint32_t rnd_random(void){ return (uint32_t)splitmix(); }
static void rnd_stir(void){}
static uint32_t rnd_uniform(const uint32_t n){ return n<2 ? 0 : (uint32_t)(splitmix() % n); }
static void rnd_buf(void * const p, const size_t n){
  size_t i;
  for(i=0; i<n; i++) ((u8*)p)[i] = (u8)splitmix();
}
static int rnd_close(void){ return 0; }
static randombytes_implementation rnd = {
  rnd_name, rnd_random, rnd_stir, rnd_uniform, rnd_buf, rnd_close
};

/* Ingests into r every op of a, in seq order (those r holds are no-ops). */
static inline void forward_ops(sqlite3 *a, sqlite3 *r){
  sqlite3_stmt *pStmt = 0, *pIns = 0;
  sqlite3_prepare_v2(a, "SELECT body FROM bec_ops", -1, &pStmt, 0);
  sqlite3_prepare_v2(r, "SELECT bec_ingest(?1)", -1, &pIns, 0);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_bind_value(pIns, 1, sqlite3_column_value(pStmt, 0));
    sqlite3_step(pIns);
    sqlite3_reset(pIns);
  }
  sqlite3_finalize(pStmt);
  sqlite3_finalize(pIns);
}

/* Makes r a member (zRole) of a's group and gives it all of a's ops: the
** usual second replica of a target's set-up. */
static inline void admit_with_ops(sqlite3 *a, sqlite3 *r, const char *zRole){
  char *zGroup, *zPub, *zSql;
  zGroup = text(a, "SELECT bec_group_id()");
  zPub = text(r, "SELECT bec_pubkey()");
  zSql = sqlite3_mprintf("SELECT bec_add_member('%q', '%q')", zPub, zRole);
  exec(a, zSql);
  sqlite3_free(zSql);
  zSql = sqlite3_mprintf("SELECT bec_join('%q')", zGroup);
  exec(r, zSql);
  sqlite3_free(zSql);
  forward_ops(a, r);
  sqlite3_free(zGroup);
  sqlite3_free(zPub);
}

#endif /* BEC_FUZZCOMMON_H */
