/*
** bench_dag.c - how close ingesting and appending signed ops come to their
** ceilings, measured side by side in one run on the same ops (issue 2).
**
**   ingest ceiling = raw libsodium verify of each op + a plain SQLite insert
**                    of the same bytes (32-byte key, WITHOUT ROWID, WAL, one
**                    transaction)
**   bec ingest     = SELECT bec_ingest(?) for each op, one transaction
**   append ceiling = raw libsodium sign + the same plain insert
**   bec append     = SELECT bec_sign(?) for each op, one transaction
**
** Usage: build/bench_dag [N_OPS [RUNS]]   (default 20000 ops, 5 runs; the
** median of the runs is reported).  One core: no threads are used.
*/
#include "becInt.h"

#define BENCH_NAME "bench_dag"
#include "benchutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD_BYTES 100

static sqlite3 *open_file(const char *zPath){
  sqlite3 *db = 0;
  remove_db(zPath);
  if( sqlite3_open(zPath, &db) ) die(db, "open");
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  return db;
}

typedef struct Ops Ops;
struct Ops {
  int n;
  unsigned char **aBody;
  int *anBody;
  char zGroup[65];
};

/* Signs N app ops on a fresh replica and collects their encodings. */
static void make_ops(Ops *p, int n, const char *zDir){
  char zPath[512];
  sqlite3 *db;
  sqlite3_stmt *pStmt = 0;
  int i = 0;
  snprintf(zPath, sizeof(zPath), "%s/bench_src.db", zDir);
  db = open_file(zPath);
  exec(db, "SELECT bec_keygen(); SELECT bec_create_group(); BEGIN");
  if( sqlite3_prepare_v2(db, "SELECT bec_sign(randomblob(?1))", -1, &pStmt, 0) ){
    die(db, "prepare");
  }
  for(i=0; i<n; i++){
    sqlite3_bind_int(pStmt, 1, PAYLOAD_BYTES);
    if( sqlite3_step(pStmt)!=SQLITE_ROW ) die(db, "bec_sign");
    sqlite3_reset(pStmt);
  }
  sqlite3_finalize(pStmt);
  exec(db, "COMMIT");
  p->n = n + 1;
  p->aBody = calloc((size_t)p->n, sizeof(unsigned char*));
  p->anBody = calloc((size_t)p->n, sizeof(int));
  if( sqlite3_prepare_v2(db, "SELECT body, (SELECT lower(hex(value)) FROM "
       "bec_store_config WHERE key='group_id') FROM bec_store_op ORDER BY seq",
       -1, &pStmt, 0) ) die(db, "prepare");
  for(i=0; sqlite3_step(pStmt)==SQLITE_ROW; i++){
    p->anBody[i] = sqlite3_column_bytes(pStmt, 0);
    p->aBody[i] = malloc((size_t)p->anBody[i]);
    memcpy(p->aBody[i], sqlite3_column_blob(pStmt, 0), (size_t)p->anBody[i]);
    snprintf(p->zGroup, sizeof(p->zGroup), "%s", sqlite3_column_text(pStmt, 1));
  }
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  remove_db(zPath);
}

/* The ceiling of ingest: verify every op with libsodium, then insert the
** bytes under their hash into a plain table. */
static double run_ceiling_ingest(const Ops *p, const char *zDir){
  char zPath[512];
  sqlite3 *db;
  sqlite3_stmt *pStmt = 0;
  u8 aGroup[32];
  double t0, t1;
  int i;
  snprintf(zPath, sizeof(zPath), "%s/bench_plain.db", zDir);
  db = open_file(zPath);
  bec_hex_decode(p->zGroup, 64, aGroup, 32);
  exec(db, "CREATE TABLE ops(hash BLOB PRIMARY KEY, body BLOB) WITHOUT ROWID");
  if( sqlite3_prepare_v2(db, "INSERT INTO ops VALUES(?1, ?2)", -1, &pStmt, 0) ){
    die(db, "prepare");
  }
  t0 = now();
  exec(db, "BEGIN");
  for(i=0; i<p->n; i++){
    u8 aHash[32];
    const u8 *a = p->aBody[i];
    int n = p->anBody[i];
    static const u8 aZero[32];
    /* What any reader of op format 2 must do: check the body against the
    ** header's payload hash, hash the header (the id), and verify the
    ** signed message (domain, group, id).  The header of these ops: 42
    ** fixed bytes, no epochs, 0 or 1 predecessor, a 1-byte length, the
    ** payload hash. */
    int nHeader = 42 + 1 + 1 + 32*a[43] + 1 + 32;
    u8 aMsg[9+32+32];
    crypto_generichash(aHash, 32, &a[nHeader+64],
                       (unsigned long long)(n-nHeader-64), 0, 0);
    if( memcmp(aHash, &a[nHeader-32], 32) ) die(0, "raw body check failed");
    memcpy(aMsg, "bec-op-v2", 9);
    memcpy(&aMsg[9], i==0 ? aZero : aGroup, 32);
    crypto_generichash(aHash, 32, a, (unsigned long long)nHeader, 0, 0);
    memcpy(&aMsg[41], aHash, 32);
    if( crypto_sign_verify_detached(&a[nHeader], aMsg, sizeof(aMsg), &a[10]) ){
      die(0, "raw verify failed");
    }
    sqlite3_bind_blob(pStmt, 1, aHash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(pStmt, 2, a, n, SQLITE_STATIC);
    if( sqlite3_step(pStmt)!=SQLITE_DONE ) die(db, "insert");
    sqlite3_reset(pStmt);
  }
  exec(db, "COMMIT");
  t1 = now();
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  remove_db(zPath);
  return t1 - t0;
}

static double run_bec_ingest(const Ops *p, const char *zDir){
  char zPath[512], zSql[200];
  sqlite3 *db;
  sqlite3_stmt *pStmt = 0;
  double t0, t1;
  int i;
  snprintf(zPath, sizeof(zPath), "%s/bench_bec.db", zDir);
  db = open_file(zPath);
  snprintf(zSql, sizeof(zSql), "SELECT bec_keygen(); SELECT bec_join('%s')",
           p->zGroup);
  exec(db, zSql);
  if( sqlite3_prepare_v2(db, "SELECT bec_ingest(?1)", -1, &pStmt, 0) ){
    die(db, "prepare");
  }
  t0 = now();
  exec(db, "BEGIN");
  for(i=0; i<p->n; i++){
    sqlite3_bind_blob(pStmt, 1, p->aBody[i], p->anBody[i], SQLITE_STATIC);
    if( sqlite3_step(pStmt)!=SQLITE_ROW ) die(db, "bec_ingest");
    sqlite3_reset(pStmt);
  }
  exec(db, "COMMIT");
  t1 = now();
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  remove_db(zPath);
  return t1 - t0;
}

/* The ceiling of append: sign with libsodium, hash, insert. */
static double run_ceiling_append(int n, const char *zDir){
  char zPath[512];
  sqlite3 *db;
  sqlite3_stmt *pStmt = 0;
  u8 aPub[32], aSec[64];
  u8 aMsg[9+32+32];
  double t0, t1;
  int i;
  snprintf(zPath, sizeof(zPath), "%s/bench_plain2.db", zDir);
  db = open_file(zPath);
  exec(db, "CREATE TABLE ops(hash BLOB PRIMARY KEY, body BLOB) WITHOUT ROWID");
  crypto_sign_keypair(aPub, aSec);
  if( sqlite3_prepare_v2(db, "INSERT INTO ops VALUES(?1, ?2)", -1, &pStmt, 0) ){
    die(db, "prepare");
  }
  memset(aMsg, 7, sizeof(aMsg));
  t0 = now();
  exec(db, "BEGIN");
  for(i=0; i<n; i++){
    /* header (fixed 42, no epochs, 1 predecessor, length, payload hash)
    ** || signature || payload, as op format 2 lays them out */
    u8 aBody[400], aHash[32];
    int nHeader = 42+1+1+32+1+32;
    int nBody = nHeader+64+PAYLOAD_BYTES;
    memset(aBody, 7, (size_t)nHeader);
    randombytes_buf(&aBody[nHeader+64], PAYLOAD_BYTES);
    crypto_generichash(&aBody[nHeader-32], 32, &aBody[nHeader+64],
                       PAYLOAD_BYTES, 0, 0);
    crypto_generichash(aHash, 32, aBody, (unsigned long long)nHeader, 0, 0);
    memcpy(&aMsg[41], aHash, 32);
    crypto_sign_detached(&aBody[nHeader], 0, aMsg, sizeof(aMsg), aSec);
    sqlite3_bind_blob(pStmt, 1, aHash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(pStmt, 2, aBody, nBody, SQLITE_STATIC);
    if( sqlite3_step(pStmt)!=SQLITE_DONE ) die(db, "insert");
    sqlite3_reset(pStmt);
  }
  exec(db, "COMMIT");
  t1 = now();
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  remove_db(zPath);
  return t1 - t0;
}

static double run_bec_append(int n, const char *zDir){
  char zPath[512];
  sqlite3 *db;
  sqlite3_stmt *pStmt = 0;
  double t0, t1;
  int i;
  snprintf(zPath, sizeof(zPath), "%s/bench_bec2.db", zDir);
  db = open_file(zPath);
  exec(db, "SELECT bec_keygen(); SELECT bec_create_group()");
  if( sqlite3_prepare_v2(db, "SELECT bec_sign(randomblob(?1))", -1, &pStmt, 0) ){
    die(db, "prepare");
  }
  t0 = now();
  exec(db, "BEGIN");
  for(i=0; i<n; i++){
    sqlite3_bind_int(pStmt, 1, PAYLOAD_BYTES);
    if( sqlite3_step(pStmt)!=SQLITE_ROW ) die(db, "bec_sign");
    sqlite3_reset(pStmt);
  }
  exec(db, "COMMIT");
  t1 = now();
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  remove_db(zPath);
  return t1 - t0;
}

int main(int argc, char **argv){
  int n = argc>1 ? atoi(argv[1]) : 20000;
  int nRun = argc>2 ? atoi(argv[2]) : 5;
  const char *zDir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  double *aCeil = calloc((size_t)nRun, sizeof(double));
  double *aBec = calloc((size_t)nRun, sizeof(double));
  double *aCeil2 = calloc((size_t)nRun, sizeof(double));
  double *aBec2 = calloc((size_t)nRun, sizeof(double));
  double c, b, c2, b2;
  Ops ops;
  int r;

  if( n<1 || nRun<1 ){
    fprintf(stderr, "usage: bench_dag [N_OPS [RUNS]]\n");
    return 2;
  }
  if( sodium_init()<0 ) return 1;
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  fprintf(stderr, "bench_dag: signing %d ops...\n", n);
  make_ops(&ops, n, zDir);
  for(r=0; r<nRun; r++){
    fprintf(stderr, "\rbench_dag: run %d/%d", r+1, nRun);
    aCeil[r] = run_ceiling_ingest(&ops, zDir);
    aBec[r] = run_bec_ingest(&ops, zDir);
    aCeil2[r] = run_ceiling_append(n, zDir);
    aBec2[r] = run_bec_append(n, zDir);
  }
  fprintf(stderr, "\n");
  c = median(aCeil, nRun); b = median(aBec, nRun);
  c2 = median(aCeil2, nRun); b2 = median(aBec2, nRun);
  printf("bench_dag: %d ops of %d-byte payload, median of %d runs, one core\n",
         ops.n, PAYLOAD_BYTES, nRun);
  printf("%-44s %10.0f ops/s\n", "ingest ceiling (raw verify + plain insert)", ops.n/c);
  printf("%-44s %10.0f ops/s  %5.1f%% of ceiling (target >= 70%%)\n",
         "bec_ingest (verify + store + heads)", ops.n/b, 100.0*c/b);
  printf("%-44s %10.0f ops/s\n", "append ceiling (raw sign + plain insert)", n/c2);
  printf("%-44s %10.0f ops/s  %5.1f%% of ceiling (target >= 70%%)\n",
         "bec_sign (sign + store + heads)", n/b2, 100.0*c2/b2);
  return 0;
}
