/*
** bench_tables.c - bec tables against a plain SQLite table (and against
** cr-sqlite, when its library is given), side by side in one run (issues 4
** and 18).  Table (id INTEGER PRIMARY KEY, title TEXT, done INTEGER), N
** rows, WAL, synchronous=NORMAL, as in ../shared/ANCHORS.md:
**
**   insert-select   one INSERT ... SELECT of N rows (one write op)
**   single inserts  N prepared single-row INSERTs in one transaction
**   update          UPDATE t SET done=1-done (every row, one column)
**   apply           a fresh replica ingests the ops (bec_ingest); plain:
**                   INSERT INTO fresh.t SELECT * FROM src.t (a copy);
**                   cr-sqlite: every row of crsql_changes inserted into
**                   the fresh replica's crsql_changes
**   point lookup    N lookups SELECT * FROM t WHERE id=? (random ids)
**   range           N/100 ranges WHERE id BETWEEN ? AND ?+99 (random)
**   full scan       SELECT * FROM t, every column of every row read
**   sum             SELECT sum(done) FROM t: one column of every row
**   size            file size after insert-select + update, checkpointed
**
** The full scan's floor.  A virtual table whose rows live in an SQLite
** table pays for two row loops: SQLite's loop over the virtual table
** (xNext, one xColumn per column) and the loop that reads the stored rows.
** Two more lines measure each at its cheapest, in the same run:
**   vtab loop       the same scan over a virtual table that stores nothing
**                   (its rows are made up from precomputed titles)
**   storage loop    SELECT 1 FROM t_rows WHERE f(rowid, c1, c2), f a
**                   function that does nothing and is false
** Their sum, over the plain scan, bounds what any such table can reach
** before it moves a single value from the second loop to the first.  The
** same storage loop over other layouts of the same rows (copies made for
** the benchmark only; see ALT_*) tells whether another storage would lower
** that floor.
**
** The UPDATE's floor.  SQLite updates a virtual table in two passes: it
** reads every row to change (with its new values) into a temporary table,
** then calls xUpdate once per row.  Lines measure, against the plain
** UPDATE in the same run:
**   vtab update     UPDATE of the table that stores nothing (xUpdate does
**                   nothing): what any virtual table pays before it stores
**   trigger         the other way to learn of each changed row: a plain
**                   table with an AFTER UPDATE trigger calling a no-op
**                   function (how cr-sqlite learns of writes), and the same
**                   trigger also writing one metadata row per change
**   statement per row
**                   the plain table's rows updated by one prepared UPDATE
**                   per row in one transaction (how the merge writer
**                   writes: a statement per row it writes)
** A bec UPDATE cannot cost less than the vtab update plus one stored row
** written (the plain UPDATE itself); while it writes each row with a
** statement of its own, not less than the vtab update plus the statement
** per row.
**
** VIEW.  The one lever below that floor is not to read through a virtual
** table at all: the same reads through a (temporary) view over t_rows,
** which SQLite flattens into a plain scan or seek of the stored rows.  The
** last three lines measure that, against the plain table's same reads.
**
** REC.  The rows' values in one record column, read by bec with an
** sqlite3_blob (issue 18): bench-only copies of t_rows in that layout and in
** t_rows's own, a bench-only virtual table that looks rows up in them, and
** per layout a copy of every row, an UPDATE of one value and the pages (the
** comment above recModule says what each line measures).
**
** cr-sqlite: BEC_CRSQLITE=/path/to/crsqlite.so runs every line against a
** table made a CRR (crsql_as_crr) in a third database of the same
** process; without it, the run says it skipped cr-sqlite.
**
** Usage: build/bench_tables [N_ROWS [RUNS]]   (default 100000 rows, 11
** runs).  Times are medians; a ratio is the median of the runs' ratios,
** each measured side by side in one run, which the machine's drift from
** run to run does not move.  Files go to $TMPDIR (default /tmp).
*/
#include "becInt.h"

#define BENCH_NAME "bench_tables"
#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int nRow = 100000;

static char zDir[512];

static sqlite3 *open_file(const char *zName, int bBec){
  sqlite3 *db = 0;
  char zPath[600];
  snprintf(zPath, sizeof(zPath), "%s/%s", zDir, zName);
  remove_db(zPath);
  if( sqlite3_open(zPath, &db) ) die(db, "open");
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  if( bBec ){
    char *zErr = 0;
    if( sqlite3_bec_init(db, &zErr, 0) ) die(db, zErr);
  }
  return db;
}

static sqlite3 *open_plain(const char *zName){
  sqlite3 *db = open_file(zName, 0);
  exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, title TEXT, done INTEGER)");
  return db;
}

static sqlite3 *open_bec(const char *zName){
  sqlite3 *db = open_file(zName, 1);
  exec(db, "SELECT bec_keygen(); SELECT bec_create_group();"
           "CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, "
           "title TEXT, done INTEGER)");
  return db;
}

/* cr-sqlite's library (BEC_CRSQLITE), or 0: then its lines are skipped. */
static const char *zCrLib = 0;

static sqlite3 *open_cr(const char *zName){
  sqlite3 *db = open_file(zName, 0);
  char *zErr = 0;
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, zCrLib, 0, &zErr) ){
    fprintf(stderr, BENCH_NAME ": cannot load cr-sqlite from %s: %s\n", zCrLib,
            zErr ? zErr : "");
    exit(1);
  }
  exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY NOT NULL, title TEXT, "
           "done INTEGER); SELECT crsql_as_crr('t')");
  return db;
}

/* cr-sqlite wants crsql_finalize() before a connection closes. */
static void close_db(sqlite3 *db, int bCr){
  if( db==0 ) return;
  if( bCr ) exec(db, "SELECT crsql_finalize()");
  sqlite3_close(db);
}

static i64 db_size(sqlite3 *db){
  sqlite3_stmt *pStmt = 0;
  i64 n = 0;
  exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  if( sqlite3_prepare_v2(db, "SELECT page_count*page_size FROM "
                         "pragma_page_count, pragma_page_size", -1, &pStmt, 0) ){
    die(db, "size");
  }
  if( sqlite3_step(pStmt)==SQLITE_ROW ) n = sqlite3_column_int64(pStmt, 0);
  sqlite3_finalize(pStmt);
  return n;
}

static double t_insert_select(sqlite3 *db){
  char zSql[300];
  double t0;
  snprintf(zSql, sizeof(zSql), "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
           "SELECT x+1 FROM c WHERE x<%d) INSERT INTO t SELECT x, "
           "'title ' || x, x%%2 FROM c", nRow);
  t0 = now();
  exec(db, zSql);
  return now() - t0;
}

static double t_single_inserts(sqlite3 *db){
  sqlite3_stmt *pStmt = 0;
  char zTitle[32];
  double t0 = now();
  int i;
  exec(db, "BEGIN");
  if( sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?1, ?2, ?3)", -1, &pStmt, 0) ){
    die(db, "prepare insert");
  }
  for(i=1; i<=nRow; i++){
    int n = snprintf(zTitle, sizeof(zTitle), "title %d", i);
    sqlite3_bind_int(pStmt, 1, i);
    sqlite3_bind_text(pStmt, 2, zTitle, n, SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 3, i%2);
    sqlite3_step(pStmt);
    if( sqlite3_reset(pStmt) ) die(db, "insert");
  }
  sqlite3_finalize(pStmt);
  exec(db, "COMMIT");
  return now() - t0;
}

/* The process's CPU time (user and system), for the UPDATE line's second
** figure: on a machine other processes load, it moves less than the clock. */
static double cpu_now(void){
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}
static double gUpdateCpu;     /* CPU seconds of the last t_update_of */

static double t_update_of(sqlite3 *db, const char *zTable){
  char zSql[100];
  double t0, c0;
  snprintf(zSql, sizeof(zSql), "UPDATE %s SET done = 1 - done", zTable);
  c0 = cpu_now();
  t0 = now();
  exec(db, zSql);
  gUpdateCpu = cpu_now() - c0;
  return now() - t0;
}

static double t_update(sqlite3 *db){
  return t_update_of(db, "t");
}

/* The UPDATE line of the plain table and of bec's, each in a function of
** its own, so that callgrind counts one alone:
**   valgrind --tool=callgrind --toggle-collect=update_bec build/bench_tables 20000 1
** (update_plain for the plain table's, update_vtab for the "vtab update"
** floor line's; noipa: GCC would otherwise fold the identical functions
** into one). */
#if defined(__GNUC__) && !defined(__clang__)
# define BENCH_APART __attribute__((noipa))
#else
# define BENCH_APART __attribute__((noinline))
#endif
static BENCH_APART double update_plain(sqlite3 *db){
  return t_update(db);
}
static BENCH_APART double update_bec(sqlite3 *db){
  return t_update(db);
}
/* The "vtab update" floor line alone (--toggle-collect=update_vtab). */
static BENCH_APART double update_vtab(sqlite3 *db, const char *zTable){
  return t_update_of(db, zTable);
}

static double t_lookup_of(sqlite3 *db, const char *zTable){
  sqlite3_stmt *pStmt = 0;
  unsigned x = 12345;
  i64 sum = 0;
  double t0;
  int i;
  char zSql[100];
  snprintf(zSql, sizeof(zSql), "SELECT id, title, done FROM %s WHERE id=?1", zTable);
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ){
    die(db, "prepare lookup");
  }
  t0 = now();
  for(i=0; i<nRow; i++){
    x = x*1103515245u + 12345u;
    sqlite3_bind_int(pStmt, 1, (int)(x % (unsigned)nRow) + 1);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      sum += sqlite3_column_int(pStmt, 0) + sqlite3_column_bytes(pStmt, 1)
           + sqlite3_column_int(pStmt, 2);
    }
    sqlite3_reset(pStmt);
  }
  t0 = now() - t0;
  sqlite3_finalize(pStmt);
  if( sum==0 ) die(db, "lookup found nothing");
  return t0;
}

static double t_lookup(sqlite3 *db){
  return t_lookup_of(db, "t");
}

/* One column of every row: SELECT sum(done). */
static double t_sum_of(sqlite3 *db, const char *zTable){
  sqlite3_stmt *pStmt = 0;
  double t0;
  char zSql[100];
  snprintf(zSql, sizeof(zSql), "SELECT sum(done) FROM %s", zTable);
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ){
    die(db, "prepare sum");
  }
  t0 = now();
  if( sqlite3_step(pStmt)!=SQLITE_ROW || sqlite3_column_type(pStmt, 0)==SQLITE_NULL ){
    die(db, "sum");
  }
  t0 = now() - t0;
  sqlite3_finalize(pStmt);
  return t0;
}

static double t_sum(sqlite3 *db){
  return t_sum_of(db, "t");
}

/* nRow/100 ranges of 100 keys at random places: each must use the key. */
static double t_range(sqlite3 *db){
  sqlite3_stmt *pStmt = 0;
  unsigned x = 4321;
  i64 n = 0;
  double t0;
  int i, nRange = nRow/100 > 0 ? nRow/100 : 1;
  if( sqlite3_prepare_v2(db, "SELECT id, title, done FROM t "
                         "WHERE id BETWEEN ?1 AND ?1 + 99", -1, &pStmt, 0) ){
    die(db, "prepare range");
  }
  t0 = now();
  for(i=0; i<nRange; i++){
    x = x*1103515245u + 12345u;
    sqlite3_bind_int(pStmt, 1, nRow>100 ? (int)(x % (unsigned)(nRow-99)) + 1 : 1);
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      n += sqlite3_column_int(pStmt, 0) + sqlite3_column_bytes(pStmt, 1);
    }
    sqlite3_reset(pStmt);
  }
  t0 = now() - t0;
  sqlite3_finalize(pStmt);
  if( n==0 ) die(db, "range found nothing");
  return t0;
}

/* The scan of the benchmark, over table zTable. */
static double t_scan_of(sqlite3 *db, const char *zTable){
  sqlite3_stmt *pStmt = 0;
  char zSql[100];
  i64 n = 0;
  double t0;
  snprintf(zSql, sizeof(zSql), "SELECT id, title, done FROM %s", zTable);
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ){
    die(db, "prepare scan");
  }
  t0 = now();
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    n += sqlite3_column_int(pStmt, 0) + sqlite3_column_bytes(pStmt, 1)
       + sqlite3_column_int(pStmt, 2);
  }
  t0 = now() - t0;
  sqlite3_finalize(pStmt);
  if( n==0 ) die(db, "scan found nothing");
  return t0;
}

static double t_scan(sqlite3 *db){
  return t_scan_of(db, "t");
}

/* A virtual table that stores nothing: nRow rows (id, 'title <id>', id%2),
** the titles made once, up front, one after the other in zTitles. */
typedef struct NullCursor NullCursor;
struct NullCursor { sqlite3_vtab_cursor base; int i; };
static char *zTitles = 0;
static int *aiTitle = 0;          /* title i is zTitles[aiTitle[i]..aiTitle[i+1]) */

static int nullConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                       sqlite3_vtab **ppVtab, char **pzErr){
  sqlite3_vtab *v = sqlite3_malloc(sizeof(*v));
  (void)pAux; (void)argc; (void)argv; (void)pzErr;
  if( v==0 ) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  *ppVtab = v;
  return sqlite3_declare_vtab(db, "CREATE TABLE x(id INTEGER, title TEXT, done INTEGER)");
}
static int nullBestIndex(sqlite3_vtab *v, sqlite3_index_info *p){
  (void)v;
  p->estimatedCost = 1e6;
  return SQLITE_OK;
}
static int nullDisconnect(sqlite3_vtab *v){ sqlite3_free(v); return SQLITE_OK; }
static int nullOpen(sqlite3_vtab *v, sqlite3_vtab_cursor **pp){
  NullCursor *c = sqlite3_malloc(sizeof(*c));
  (void)v;
  if( c==0 ) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *pp = &c->base;
  return SQLITE_OK;
}
static int nullClose(sqlite3_vtab_cursor *c){ sqlite3_free(c); return SQLITE_OK; }
static int nullFilter(sqlite3_vtab_cursor *c, int idxNum, const char *idxStr,
                      int argc, sqlite3_value **argv){
  (void)idxNum; (void)idxStr; (void)argc; (void)argv;
  ((NullCursor*)c)->i = 1;
  return SQLITE_OK;
}
static int nullNext(sqlite3_vtab_cursor *c){ ((NullCursor*)c)->i++; return SQLITE_OK; }
static int nullEof(sqlite3_vtab_cursor *c){ return ((NullCursor*)c)->i > nRow; }
static int nullColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int iCol){
  int i = ((NullCursor*)pCur)->i;
  if( sqlite3_vtab_nochange(ctx) ) return SQLITE_OK;
  switch( iCol ){
    case 0: sqlite3_result_int64(ctx, i); break;
    case 1:
      sqlite3_result_text(ctx, zTitles + aiTitle[i], aiTitle[i+1] - aiTitle[i],
                          SQLITE_TRANSIENT);
      break;
    default: sqlite3_result_int64(ctx, i%2); break;
  }
  return SQLITE_OK;
}
static int nullRowid(sqlite3_vtab_cursor *c, sqlite3_int64 *pRowid){
  *pRowid = ((NullCursor*)c)->i;
  return SQLITE_OK;
}
/* Takes every write and stores nothing: the UPDATE floor's vtab loop. */
static int nullUpdate(sqlite3_vtab *v, int argc, sqlite3_value **argv,
                      sqlite3_int64 *pRowid){
  (void)v; (void)argc; (void)argv; (void)pRowid;
  return SQLITE_OK;
}
static sqlite3_module nullModule = {
  0, nullConnect, nullConnect, nullBestIndex, nullDisconnect, nullDisconnect,
  nullOpen, nullClose, nullFilter, nullNext, nullEof, nullColumn, nullRowid,
  nullUpdate, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};

static void noopFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  (void)argc; (void)argv;
  sqlite3_result_int(ctx, 0);
}

/* The vtab loop: the benchmark's scan (bSum: sum(done)) over the table
** that stores nothing. */
static double t_vtab_loop(sqlite3 *db, int bSum){
  static int bDone = 0;
  int i;
  if( !bDone ){
    zTitles = malloc((size_t)nRow*24 + 1);
    aiTitle = malloc(sizeof(int)*(size_t)(nRow+2));
    if( zTitles==0 || aiTitle==0 ) die(0, "out of memory");
    aiTitle[1] = 0;
    for(i=1; i<=nRow; i++){
      aiTitle[i+1] = aiTitle[i] + sprintf(zTitles + aiTitle[i], "title %d", i);
    }
    bDone = 1;
  }
  if( bSum ){
    sqlite3_stmt *pStmt = 0;
    double t0;
    if( sqlite3_prepare_v2(db, "SELECT sum(done) FROM temp.nulltab", -1, &pStmt, 0) ){
      die(db, "prepare vtab sum");
    }
    t0 = now();
    if( sqlite3_step(pStmt)!=SQLITE_ROW ) die(db, "vtab sum");
    t0 = now() - t0;
    sqlite3_finalize(pStmt);
    return t0;
  }
  if( sqlite3_create_module(db, "bench_null", &nullModule, 0) ) die(db, "module");
  exec(db, "CREATE VIRTUAL TABLE temp.nulltab USING bench_null");
  return t_scan_of(db, "temp.nulltab");
}

/* The storage loop: every stored row handed to a function that does
** nothing; zSql is such a query (default: over t_rows). */
static double t_storage_loop(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  double t0;
  if( zSql==0 ) zSql = "SELECT 1 FROM t_rows WHERE bench_noop(rowid, c1, c2)";
  if( sqlite3_create_function(db, "bench_noop", -1, SQLITE_UTF8, 0, noopFunc, 0, 0)
   || sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ){
    die(db, "prepare storage loop");
  }
  t0 = now();
  while( sqlite3_step(pStmt)==SQLITE_ROW ){}
  t0 = now() - t0;
  sqlite3_finalize(pStmt);
  return t0;
}

/* Other layouts of the same stored rows, for the storage loop only (the
** merge writes none of them): copies of t_rows made after the update. */
enum { ALT_VALUES, ALT_WITHOUT_ROWID, ALT_RECORD, NALT };
static const char *const azAltSchema[NALT] = {
  /* Values only: the merge metadata (r, s1, s2) in another table. */
  "CREATE TABLE alt_values(c0 INTEGER PRIMARY KEY, c1, c2);"
  "INSERT INTO alt_values SELECT c0, c1, c2 FROM t_rows",
  /* Keyed like the user's key, without a rowid. */
  "CREATE TABLE alt_norowid(c0 PRIMARY KEY, c1, c2, r INTEGER NOT NULL, "
  "s1 INTEGER, s2 INTEGER) WITHOUT ROWID;"
  "INSERT INTO alt_norowid SELECT c0, c1, c2, r, s1, s2 FROM t_rows",
  /* The non-key values in one record column, encoded by the table codec
  ** (bench_rec, REC below; decoding it is the vtab's work: REC's lines). */
  "CREATE TABLE alt_record(c0 INTEGER PRIMARY KEY, rec BLOB, r INTEGER NOT NULL, "
  "s1 INTEGER, s2 INTEGER);"
  "INSERT INTO alt_record SELECT c0, bench_rec(c1, c2), r, s1, s2 FROM t_rows",
};
static const char *const azAltLoop[NALT] = {
  "SELECT 1 FROM alt_values WHERE bench_noop(rowid, c1, c2)",
  "SELECT 1 FROM alt_norowid WHERE bench_noop(c0, c1, c2)",
  "SELECT 1 FROM alt_record WHERE bench_noop(rowid, rec)",
};

/* REC: the rows' values in one record column, read by bec (issue 18).  A
** bench-only copy of t_rows keeps the non-key values as one blob, each
** value as the table codec encodes it (bec_value_encode), and a bench-only
** virtual table reads it, as bec's own would:
**   USING bench_rec(<table>, blob)  a lookup by the key seeks the row with
**                                   one sqlite3_blob per cursor (opened by
**                                   its first lookup, reopened after)
**   USING bench_rec(<table>, stmt)  the same seek by a nested prepared
**                                   statement, kept by the table between
**                                   cursors and reset by xClose (how bec
**                                   seeks today)
** Only lookups are planned (id=?); nothing else is asked of it here.  The
** layouts compared, all copies of t_rows after the update:
**   rec_columns  t_rows as it is (c0 INTEGER PRIMARY KEY, c1, c2, r, s1, s2)
**   rec_record   (c0 INTEGER PRIMARY KEY, rec BLOB, r, s1, s2)
**   rec_both     t_rows's columns plus rec (the narrow variant: columns kept,
**                the record only for lookups by an INTEGER key)
** and, per layout, the copy of the rows into it (a write of every row), an
** UPDATE of one value of every row (for a record: decode, replace, encode)
** and its pages (dbstat).  Lookups run as the benchmark's (a statement per
** key) and as many keys in one statement (t_lookup_one); SQLite opens the
** virtual table's cursor afresh for each key in both, so a handle per
** cursor is opened per lookup (BENCH.md, issue 18, fifth session). */
#define REC_NVAL 2                /* title, done */

/* Decodes a record of REC_NVAL values; SQLITE_CORRUPT_VTAB if damaged. */
static int rec_decode(const u8 *a, int n, BecValue *aVal){
  BecReader rd;
  int k;
  rd.a = a; rd.n = n; rd.i = 0;
  for(k=0; k<REC_NVAL; k++){
    if( bec_value_decode(&rd, &aVal[k]) ) return SQLITE_CORRUPT_VTAB;
  }
  return rd.i==rd.n ? SQLITE_OK : SQLITE_CORRUPT_VTAB;
}

/* bench_rec(v1, v2, ..): the record of its arguments. */
static void recFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecBuf b;
  int rc = SQLITE_OK, i;
  memset(&b, 0, sizeof(b));
  for(i=0; i<argc; i++) bec_value_encode(&b, argv[i], &rc);
  if( rc==SQLITE_OK ){
    sqlite3_result_blob(ctx, b.n ? (const void*)b.a : "", (int)b.n, SQLITE_TRANSIENT);
  }else{
    sqlite3_result_error_code(ctx, rc);
  }
  bec_buf_free(&b);
}

/* bench_rec_flip(rec): the record with its second value v as 1-v. */
static void recFlipFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecValue aVal[REC_NVAL];
  BecBuf b;
  int rc = rec_decode(sqlite3_value_blob(argv[0]), sqlite3_value_bytes(argv[0]), aVal);
  (void)argc;
  memset(&b, 0, sizeof(b));
  if( rc ){
    sqlite3_result_error(ctx, "damaged record", -1);
    return;
  }
  aVal[1].i = 1 - aVal[1].i;
  bec_value_put(&b, &aVal[0], &rc);
  bec_value_put(&b, &aVal[1], &rc);
  if( rc==SQLITE_OK ){
    sqlite3_result_blob(ctx, (const void*)b.a, (int)b.n, SQLITE_TRANSIENT);
  }else{
    sqlite3_result_error_code(ctx, rc);
  }
  bec_buf_free(&b);
}

/* bench_decode(rowid, rec): decodes the record, is false. */
static void decodeFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecValue aVal[REC_NVAL];
  (void)argc;
  if( rec_decode(sqlite3_value_blob(argv[1]), sqlite3_value_bytes(argv[1]), aVal) ){
    sqlite3_result_error(ctx, "damaged record", -1);
    return;
  }
  sqlite3_result_int(ctx, 0);
}

typedef struct RecTab RecTab;
struct RecTab {
  sqlite3_vtab base;
  sqlite3 *db;
  char zTab[32];
  int bBlob;
  sqlite3_stmt *pSeek;            /* !bBlob: the seek, kept between cursors
                                  ** (as bec keeps its scans: scan_put) */
};
typedef struct RecCursor RecCursor;
struct RecCursor {
  sqlite3_vtab_cursor base;
  sqlite3_blob *pBlob;            /* bBlob: the cursor's handle, or 0 */
  sqlite3_stmt *pSeek;            /* !bBlob: SELECT rec .. WHERE rowid=?1,
                                  ** taken from RecTab until xClose */
  i64 iRowid;
  int bEof;
  u8 *aBuf; int nAlloc;           /* bBlob: the record's bytes */
  BecValue aVal[REC_NVAL];
};

static int recConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                      sqlite3_vtab **ppVtab, char **pzErr){
  RecTab *v;
  (void)pAux; (void)pzErr;
  if( argc!=5 ) return SQLITE_ERROR;
  v = sqlite3_malloc(sizeof(*v));
  if( v==0 ) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->db = db;
  snprintf(v->zTab, sizeof(v->zTab), "%s", argv[3]);
  v->bBlob = strcmp(argv[4], "blob")==0;
  *ppVtab = &v->base;
  return sqlite3_declare_vtab(db, "CREATE TABLE x(id INTEGER, title TEXT, done INTEGER)");
}
static int recBestIndex(sqlite3_vtab *v, sqlite3_index_info *p){
  int i;
  (void)v;
  for(i=0; i<p->nConstraint; i++){
    if( p->aConstraint[i].usable && p->aConstraint[i].iColumn<=0
     && p->aConstraint[i].op==SQLITE_INDEX_CONSTRAINT_EQ ){
      p->aConstraintUsage[i].argvIndex = 1;
      p->aConstraintUsage[i].omit = 1;
      p->idxNum = 1;
      p->estimatedCost = 1;
      p->estimatedRows = 1;
      p->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
      return SQLITE_OK;
    }
  }
  return SQLITE_CONSTRAINT;       /* lookups only */
}
static int recDisconnect(sqlite3_vtab *v){
  sqlite3_finalize(((RecTab*)v)->pSeek);
  sqlite3_free(v);
  return SQLITE_OK;
}
static int recOpen(sqlite3_vtab *v, sqlite3_vtab_cursor **pp){
  RecCursor *c = sqlite3_malloc(sizeof(*c));
  (void)v;
  if( c==0 ) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *pp = &c->base;
  return SQLITE_OK;
}
static int recClose(sqlite3_vtab_cursor *pCur){
  RecCursor *c = (RecCursor*)pCur;
  RecTab *t = (RecTab*)pCur->pVtab;
  sqlite3_blob_close(c->pBlob);
  if( c->pSeek ){
    sqlite3_reset(c->pSeek);
    if( t->pSeek==0 ){
      t->pSeek = c->pSeek;
    }else{
      sqlite3_finalize(c->pSeek);
    }
  }
  sqlite3_free(c->aBuf);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* Reads the record of iRowid through the cursor's blob handle: reopened on
** the row (a write of the table aborts the handle: opened again), a row
** that is not there is no row. */
static int rec_seek_blob(RecCursor *c, RecTab *t, i64 iRowid){
  int rc = SQLITE_ABORT, n;
  if( c->pBlob ){
    rc = sqlite3_blob_reopen(c->pBlob, iRowid);
    if( rc ){
      sqlite3_blob_close(c->pBlob);
      c->pBlob = 0;
    }
  }
  if( c->pBlob==0 ){
    rc = sqlite3_blob_open(t->db, "main", t->zTab, "rec", iRowid, 0, &c->pBlob);
  }
  if( rc==SQLITE_ERROR ){         /* no such row (here: nothing else) */
    c->bEof = 1;
    return SQLITE_OK;
  }
  if( rc ) return rc;
  n = sqlite3_blob_bytes(c->pBlob);
  if( n>c->nAlloc ){
    u8 *a = sqlite3_realloc(c->aBuf, n);
    if( a==0 ) return SQLITE_NOMEM;
    c->aBuf = a;
    c->nAlloc = n;
  }
  rc = sqlite3_blob_read(c->pBlob, c->aBuf, n, 0);
  return rc ? rc : rec_decode(c->aBuf, n, c->aVal);
}

static int rec_seek_stmt(RecCursor *c, RecTab *t, i64 iRowid){
  int rc;
  if( c->pSeek==0 && t->pSeek ){
    c->pSeek = t->pSeek;
    t->pSeek = 0;
  }else if( c->pSeek==0 ){
    char zSql[100];
    snprintf(zSql, sizeof(zSql), "SELECT rec FROM %s WHERE rowid=?1", t->zTab);
    rc = sqlite3_prepare_v3(t->db, zSql, -1, SQLITE_PREPARE_PERSISTENT, &c->pSeek, 0);
    if( rc ) return rc;
  }else{
    sqlite3_reset(c->pSeek);
  }
  sqlite3_bind_int64(c->pSeek, 1, iRowid);
  if( sqlite3_step(c->pSeek)!=SQLITE_ROW ){
    c->bEof = 1;
    return sqlite3_reset(c->pSeek);
  }
  return rec_decode(sqlite3_column_blob(c->pSeek, 0), sqlite3_column_bytes(c->pSeek, 0),
                    c->aVal);
}

static int recFilter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr,
                     int argc, sqlite3_value **argv){
  RecCursor *c = (RecCursor*)pCur;
  RecTab *t = (RecTab*)pCur->pVtab;
  int rc;
  (void)idxNum; (void)idxStr;
  if( argc!=1 ) return SQLITE_INTERNAL;
  c->bEof = 0;
  c->iRowid = sqlite3_value_int64(argv[0]);
  rc = t->bBlob ? rec_seek_blob(c, t, c->iRowid) : rec_seek_stmt(c, t, c->iRowid);
  if( rc==SQLITE_CORRUPT_VTAB ){
    sqlite3_free(t->base.zErrMsg);
    t->base.zErrMsg = sqlite3_mprintf("the stored row of %s is damaged", t->zTab);
  }
  return rc;
}
static int recNext(sqlite3_vtab_cursor *c){ ((RecCursor*)c)->bEof = 1; return SQLITE_OK; }
static int recEof(sqlite3_vtab_cursor *c){ return ((RecCursor*)c)->bEof; }
static int recColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int iCol){
  RecCursor *c = (RecCursor*)pCur;
  if( iCol==0 ){
    sqlite3_result_int64(ctx, c->iRowid);
  }else{
    bec_value_result(ctx, &c->aVal[iCol-1]);
  }
  return SQLITE_OK;
}
static int recRowid(sqlite3_vtab_cursor *c, sqlite3_int64 *pRowid){
  *pRowid = ((RecCursor*)c)->iRowid;
  return SQLITE_OK;
}
static sqlite3_module recModule = {
  0, recConnect, recConnect, recBestIndex, recDisconnect, recDisconnect,
  recOpen, recClose, recFilter, recNext, recEof, recColumn, recRowid,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};

/* The layouts REC compares (see above), made from t_rows after the update. */
enum { REC_COLUMNS, REC_RECORD, REC_BOTH, NREC };
static const char *const azRecMake[NREC] = {
  "CREATE TABLE rec_columns(c0 INTEGER PRIMARY KEY, c1, c2, r INTEGER NOT NULL, "
  "s1 INTEGER, s2 INTEGER)",
  "CREATE TABLE rec_record(c0 INTEGER PRIMARY KEY, rec BLOB, r INTEGER NOT NULL, "
  "s1 INTEGER, s2 INTEGER)",
  "CREATE TABLE rec_both(c0 INTEGER PRIMARY KEY, c1, c2, r INTEGER NOT NULL, "
  "s1 INTEGER, s2 INTEGER, rec BLOB)",
};
static const char *const azRecFill[NREC] = {
  "INSERT INTO rec_columns SELECT c0, c1, c2, r, s1, s2 FROM t_rows",
  "INSERT INTO rec_record SELECT c0, bench_rec(c1, c2), r, s1, s2 FROM t_rows",
  "INSERT INTO rec_both SELECT c0, c1, c2, r, s1, s2, bench_rec(c1, c2) FROM t_rows",
};
static const char *const azRecUpdate[NREC] = {
  "UPDATE rec_columns SET c2=1-c2, r=r+1, s2=r+1",
  "UPDATE rec_record SET rec=bench_rec_flip(rec), r=r+1, s2=r+1",
  "UPDATE rec_both SET c2=1-c2, rec=bench_rec_flip(rec), r=r+1, s2=r+1",
};
static const char *const azRecName[NREC] = { "rec_columns", "rec_record", "rec_both" };

static void rec_functions(sqlite3 *db){
  if( sqlite3_create_function(db, "bench_rec", -1, SQLITE_UTF8|SQLITE_DETERMINISTIC,
                              0, recFunc, 0, 0)
   || sqlite3_create_function(db, "bench_rec_flip", 1, SQLITE_UTF8|SQLITE_DETERMINISTIC,
                              0, recFlipFunc, 0, 0)
   || sqlite3_create_function(db, "bench_decode", 2, SQLITE_UTF8, 0, decodeFunc, 0, 0)
   || sqlite3_create_function(db, "bench_noop", -1, SQLITE_UTF8, 0, noopFunc, 0, 0) ){
    die(db, "bench functions");
  }
}

static double t_exec(sqlite3 *db, const char *zSql){
  double t0 = now();
  exec(db, zSql);
  return now() - t0;
}

static double table_bytes(sqlite3 *db, const char *zName){
  sqlite3_stmt *pStmt = 0;
  double n = 0;
  if( sqlite3_prepare_v2(db, "SELECT sum(pgsize) FROM dbstat WHERE name=?1", -1, &pStmt, 0) ){
    die(db, "dbstat");
  }
  sqlite3_bind_text(pStmt, 1, zName, -1, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) n = sqlite3_column_double(pStmt, 0);
  sqlite3_finalize(pStmt);
  return n;
}

/* nRow lookups by key in ONE statement (a correlated subquery per row of a
** generated list of random keys): the virtual table's cursor, and so its
** blob handle or seek statement, lives across the lookups. */
static double t_lookup_one(sqlite3 *db, const char *zTable){
  sqlite3_stmt *pStmt = 0;
  char zSql[400];
  double t0;
  snprintf(zSql, sizeof(zSql), "WITH RECURSIVE k(i, x) AS (SELECT 0, 12345 UNION ALL "
           "SELECT i+1, (x*1103515245+12345)%%4294967296 FROM k WHERE i<%d) "
           "SELECT sum((SELECT done FROM %s WHERE id=x%%%d+1)) FROM k",
           nRow - 1, zTable, nRow);
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ) die(db, "prepare lookup one");
  t0 = now();
  if( sqlite3_step(pStmt)!=SQLITE_ROW || sqlite3_column_type(pStmt, 0)==SQLITE_NULL ){
    die(db, "lookup one");
  }
  t0 = now() - t0;
  sqlite3_finalize(pStmt);
  return t0;
}

/* Named wrappers, so that callgrind counts each kind of lookup apart
** (callgrind_annotate --inclusive=yes; see BENCH.md). */
#define LOOKUP_FN(NAME, CALL) \
  static __attribute__((noinline, noipa)) double NAME(sqlite3 *db, const char *z){ return CALL(db, z); }
LOOKUP_FN(lookup_plain, t_lookup_of)
LOOKUP_FN(lookup_bec, t_lookup_of)
LOOKUP_FN(lookup_rec_blob, t_lookup_of)
LOOKUP_FN(lookup_rec_stmt, t_lookup_of)
LOOKUP_FN(lookup_both_blob, t_lookup_of)
LOOKUP_FN(lookup1_plain, t_lookup_one)
LOOKUP_FN(lookup1_bec, t_lookup_one)
LOOKUP_FN(lookup1_rec_blob, t_lookup_one)
LOOKUP_FN(lookup1_rec_stmt, t_lookup_one)

/* REC's lines (main prints them in this order). */
enum { RL_LK_BLOB, RL_LK_STMT, RL_LK_BOTH, RL_ONE_PLAIN, RL_ONE_BEC, RL_ONE_BLOB,
       RL_ONE_STMT, RL_LOOP_DECODE, RL_COPY, RL_UPD = RL_COPY + NREC,
       RL_SIZE = RL_UPD + NREC, NRL = RL_SIZE + NREC };

/* One run of REC on the bec database b (p: the plain one, for the plain
** lookups in one statement); tPlainLookup, tPlainScan: the plain lookup's
** and scan's times in this run.  OUT: aL[i] line i's time (bytes for
** sizes), aR[i] its ratio to the line main names beside it. */
static void t_rec(sqlite3 *p, sqlite3 *b, double tPlainLookup, double tPlainScan,
                  double *aL, double *aR){
  int k;
  rec_functions(b);
  for(k=0; k<NREC; k++){
    exec(b, azRecMake[k]);
    aL[RL_COPY+k] = t_exec(b, azRecFill[k]);
    aL[RL_UPD+k] = t_exec(b, azRecUpdate[k]);
  }
  exec(b, "PRAGMA wal_checkpoint(TRUNCATE)");
  for(k=0; k<NREC; k++) aL[RL_SIZE+k] = table_bytes(b, azRecName[k]);
  if( sqlite3_create_module(b, "bench_rec", &recModule, 0) ) die(b, "rec module");
  exec(b, "CREATE VIRTUAL TABLE temp.rec_blob USING bench_rec(rec_record, blob);"
          "CREATE VIRTUAL TABLE temp.rec_stmt USING bench_rec(rec_record, stmt);"
          "CREATE VIRTUAL TABLE temp.both_blob USING bench_rec(rec_both, blob)");
  aL[RL_LK_BLOB] = lookup_rec_blob(b, "temp.rec_blob");
  aL[RL_LK_STMT] = lookup_rec_stmt(b, "temp.rec_stmt");
  aL[RL_LK_BOTH] = lookup_both_blob(b, "temp.both_blob");
  aL[RL_ONE_PLAIN] = lookup1_plain(p, "t");
  aL[RL_ONE_BEC] = lookup1_bec(b, "t");
  aL[RL_ONE_BLOB] = lookup1_rec_blob(b, "temp.rec_blob");
  aL[RL_ONE_STMT] = lookup1_rec_stmt(b, "temp.rec_stmt");
  aL[RL_LOOP_DECODE] = t_storage_loop(b, "SELECT 1 FROM rec_record WHERE "
                                         "bench_decode(rowid, rec)");
  for(k=0; k<NRL; k++){
    double tRef = k<=RL_LK_BOTH ? tPlainLookup
                : k<=RL_ONE_STMT ? aL[RL_ONE_PLAIN]
                : k==RL_LOOP_DECODE ? tPlainScan
                : k<RL_UPD ? aL[RL_COPY]
                : k<RL_SIZE ? aL[RL_UPD] : aL[RL_SIZE];
    aR[k] = aL[k] / tRef;
  }
  exec(b, "DROP TABLE temp.rec_blob; DROP TABLE temp.rec_stmt; DROP TABLE temp.both_blob");
}

/* Ingests every op of src into a fresh replica; returns the time of the
** write op(s) only (1: the insert op, 2: the update op). */
static void t_apply(sqlite3 *src, double *pInsert, double *pUpdate){
  sqlite3 *dst = open_file("apply.db", 1);
  sqlite3_stmt *pSel = 0, *pIng = 0;
  char zJoin[200];
  int iWrite = 0;
  snprintf(zJoin, sizeof(zJoin), "SELECT bec_join((SELECT bec_group_id() "
           "FROM (SELECT 1)))");
  {
    sqlite3_stmt *pG = 0;
    if( sqlite3_prepare_v2(src, "SELECT bec_group_id()", -1, &pG, 0) ) die(src, "gid");
    sqlite3_step(pG);
    snprintf(zJoin, sizeof(zJoin), "SELECT bec_join('%s')", sqlite3_column_text(pG, 0));
    sqlite3_finalize(pG);
  }
  exec(dst, zJoin);
  if( sqlite3_prepare_v2(src, "SELECT body, kind FROM bec_ops", -1, &pSel, 0)
   || sqlite3_prepare_v2(dst, "SELECT bec_ingest(?1)", -1, &pIng, 0) ){
    die(dst, "prepare apply");
  }
  while( sqlite3_step(pSel)==SQLITE_ROW ){
    int bWrite = strcmp((const char*)sqlite3_column_text(pSel, 1), "write")==0;
    double t0 = now();
    sqlite3_bind_value(pIng, 1, sqlite3_column_value(pSel, 0));
    sqlite3_step(pIng);
    if( sqlite3_reset(pIng) ) die(dst, "ingest");
    if( bWrite ){
      iWrite++;
      if( iWrite==1 ) *pInsert = now() - t0;
      if( iWrite==2 ) *pUpdate = now() - t0;
    }
  }
  sqlite3_finalize(pSel);
  sqlite3_finalize(pIng);
  {
    sqlite3_stmt *pC = 0;
    if( sqlite3_prepare_v2(dst, "SELECT count(*), sum(done) FROM t", -1, &pC, 0) ) die(dst, "count");
    sqlite3_step(pC);
    if( sqlite3_column_int(pC, 0)!=nRow ) die(dst, "replica has the wrong rows");
    sqlite3_finalize(pC);
  }
  sqlite3_close(dst);
}

/* cr-sqlite's merge: every change of src into a fresh replica's
** crsql_changes, in one transaction. */
static double t_apply_cr(sqlite3 *src){
  sqlite3 *dst = open_cr("crapply.db");
  sqlite3_stmt *pSel = 0, *pIns = 0, *pC = 0;
  char zIns[200];
  int nCol, i, n;
  double t0 = now();
  if( sqlite3_prepare_v2(src, "SELECT * FROM crsql_changes", -1, &pSel, 0) ){
    die(src, "prepare crsql_changes");
  }
  nCol = sqlite3_column_count(pSel);
  n = snprintf(zIns, sizeof(zIns), "INSERT INTO crsql_changes VALUES(?");
  for(i=1; i<nCol && n<(int)sizeof(zIns)-8; i++) n += snprintf(zIns+n, sizeof(zIns)-n, ", ?");
  snprintf(zIns+n, sizeof(zIns)-n, ")");
  if( sqlite3_prepare_v2(dst, zIns, -1, &pIns, 0) ) die(dst, "prepare apply");
  exec(dst, "BEGIN");
  while( sqlite3_step(pSel)==SQLITE_ROW ){
    for(i=0; i<nCol; i++) sqlite3_bind_value(pIns, i+1, sqlite3_column_value(pSel, i));
    sqlite3_step(pIns);
    if( sqlite3_reset(pIns) ) die(dst, "apply");
  }
  exec(dst, "COMMIT");
  t0 = now() - t0;
  sqlite3_finalize(pSel);
  sqlite3_finalize(pIns);
  if( sqlite3_prepare_v2(dst, "SELECT count(*) FROM t", -1, &pC, 0) ) die(dst, "count");
  sqlite3_step(pC);
  if( sqlite3_column_int(pC, 0)!=nRow ) die(dst, "cr-sqlite replica has the wrong rows");
  sqlite3_finalize(pC);
  close_db(dst, 1);
  return t0;
}

static double t_copy(sqlite3 *src){
  char zSql[700];
  double t0;
  sqlite3 *dst = open_plain("copy.db");
  sqlite3_close(dst);
  snprintf(zSql, sizeof(zSql), "ATTACH '%s/copy.db' AS fresh", zDir);
  exec(src, zSql);
  t0 = now();
  exec(src, "INSERT INTO fresh.t SELECT * FROM main.t");
  t0 = now() - t0;
  exec(src, "DETACH fresh");
  return t0;
}

/* The UPDATE floor's lines (see the header comment). */
enum { UPD_VTAB, UPD_TRIGGER, UPD_TRIGGER_META, UPD_ROWS, NUPD };
static const char *const azUpdSetup[NUPD] = {
  0,
  "CREATE TABLE trg(id INTEGER PRIMARY KEY, title TEXT, done INTEGER);"
  "INSERT INTO trg SELECT * FROM t;"
  "CREATE TRIGGER trg_u AFTER UPDATE ON trg BEGIN "
  "SELECT bench_noop(new.id, new.title, new.done); END",
  "CREATE TABLE trgm(id INTEGER PRIMARY KEY, title TEXT, done INTEGER);"
  "INSERT INTO trgm SELECT * FROM t;"
  "CREATE TABLE trgm_meta(id INTEGER PRIMARY KEY, r INTEGER, s1 INTEGER, s2 INTEGER);"
  "INSERT INTO trgm_meta SELECT id, 1, NULL, NULL FROM t;"
  "CREATE TRIGGER trgm_u AFTER UPDATE ON trgm "
  "WHEN bench_noop(new.id, new.title, new.done)=0 BEGIN "
  "UPDATE trgm_meta SET r=2, s2=2 WHERE id=new.id; END",
  "CREATE TABLE rowst(id INTEGER PRIMARY KEY, title TEXT, done INTEGER);"
  "INSERT INTO rowst SELECT * FROM t;",
};
static const char *const azUpdTable[NUPD] = { "temp.nulltab", "trg", "trgm", "rowst" };

/* UPD_ROWS: the same rows updated by one prepared statement per row
** (bound, stepped, reset), in one transaction: what writing each row with a
** statement of its own costs on a plain table, whoever runs the statements
** (the merge writer runs one per row it writes). */
static double t_update_rows(sqlite3 *db, const char *zTable){
  sqlite3_stmt *pStmt = 0;
  char zSql[100];
  double t0;
  int i;
  snprintf(zSql, sizeof(zSql), "UPDATE %s SET done = 1 - done WHERE id=?1", zTable);
  t0 = now();
  exec(db, "BEGIN");
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ) die(db, "prepare update");
  for(i=1; i<=nRow; i++){
    sqlite3_bind_int(pStmt, 1, i);
    sqlite3_step(pStmt);
    if( sqlite3_reset(pStmt) ) die(db, "update");
  }
  sqlite3_finalize(pStmt);
  exec(db, "COMMIT");
  return now() - t0;
}

#define MAX_RUNS 15
enum { INS_SEL, SINGLE, UPDATE, APPLY_INS, APPLY_UPD, APPLY_BOTH, LOOKUP, RANGE,
       SCAN, SUM, SIZE, NSTEP };
enum { FLOOR_VTAB, FLOOR_STORAGE, FLOOR_SUM, FLOOR_SCAN,
       FLOOR_VTAB_SUM, FLOOR_STORAGE_SUM, FLOOR_SUM_SUM, FLOOR_SUM_BEC, NFLOOR };

/* One line: times (or bytes) of plain, bec and cr-sqlite per run. */
static double aT[3][NSTEP][MAX_RUNS];

/* The median of the runs' ratios of system j to plain on step i. */
static double ratio(int j, int i, int nRun){
  double a[MAX_RUNS];
  int r;
  for(r=0; r<nRun; r++) a[r] = aT[j][i][r] / aT[0][i][r];
  return median(a, nRun);
}

static double med(int j, int i, int nRun){
  double a[MAX_RUNS];
  memcpy(a, aT[j][i], sizeof(double)*(size_t)nRun);
  return median(a, nRun);
}

/* Rows of step i (the range step reads nRow/100 ranges of 100 rows). */
static double rows_of(int i){
  if( i==APPLY_BOTH ) return 2.0*nRow;
  return i==RANGE ? (double)(nRow/100 > 0 ? nRow/100 : 1)*100 : (double)nRow;
}

int main(int argc, char **argv){
  static double aFloor[NFLOOR][MAX_RUNS], aAlt[NALT][MAX_RUNS];
  static double aFloorRatio[NFLOOR][MAX_RUNS], aAltRatio[NALT][MAX_RUNS];
  static double aView[3][MAX_RUNS], aViewRatio[3][MAX_RUNS];
  static double aUpd[NUPD][MAX_RUNS], aUpdRatio[NUPD][MAX_RUNS];
  static double aUpdCpu[2][MAX_RUNS], aUpdCpuRatio[MAX_RUNS];
  static double aRecT[MAX_RUNS][NRL], aRecR[MAX_RUNS][NRL];
  static const char *azStep[NSTEP] = {
    "INSERT ... SELECT of N rows", "N single-row INSERTs, one transaction",
    "UPDATE one column of every row", "apply the insert op on a fresh replica",
    "apply the update op on a fresh replica",
    "reach insert + update on a fresh replica",
    "point lookup by primary key", "range of 100 keys (BETWEEN)",
    "full scan", "sum(done) over every row",
    "database size after insert + update"
  };
  static const char *azAlt[NALT] = {
    "  values only, metadata elsewhere",
    "  WITHOUT ROWID, keyed by the key",
    "  values in one record column",
  };
  int nRun = 11, r, i, bCr;
  const char *zTmp = getenv("TMPDIR");
  if( argc>1 ) nRow = atoi(argv[1]);
  if( argc>2 ) nRun = atoi(argv[2]);
  if( nRow<1 ) nRow = 100000;
  if( nRun<1 || nRun>MAX_RUNS ) nRun = 11;
  zCrLib = getenv("BEC_CRSQLITE");
  if( zCrLib && zCrLib[0]==0 ) zCrLib = 0;
  bCr = zCrLib!=0;
  snprintf(zDir, sizeof(zDir), "%s/bench_tables.%d", zTmp ? zTmp : "/tmp", (int)getpid());
  {
    char zCmd[600];
    snprintf(zCmd, sizeof(zCmd), "mkdir -p '%s'", zDir);
    if( system(zCmd) ) return 1;
  }
  for(r=0; r<nRun; r++){
    sqlite3 *p = open_plain("plain.db");
    sqlite3 *b = open_bec("bec.db");
    sqlite3 *c = bCr ? open_cr("cr.db") : 0;
    sqlite3 *aDb[3];
    int j, k;
    aDb[0] = p; aDb[1] = b; aDb[2] = c;
    for(j=0; j<2+bCr; j++) aT[j][INS_SEL][r] = t_insert_select(aDb[j]);
    aT[0][UPDATE][r] = update_plain(p);
    aUpdCpu[0][r] = gUpdateCpu;
    aT[1][UPDATE][r] = update_bec(b);
    aUpdCpu[1][r] = gUpdateCpu;
    aUpdCpuRatio[r] = aUpdCpu[1][r] / aUpdCpu[0][r];
    if( bCr ) aT[2][UPDATE][r] = t_update(c);
    for(j=0; j<2+bCr; j++) aT[j][SIZE][r] = (double)db_size(aDb[j]);
    aT[0][LOOKUP][r] = lookup_plain(p, "t");
    aT[1][LOOKUP][r] = lookup_bec(b, "t");
    if( bCr ) aT[2][LOOKUP][r] = t_lookup(c);
    for(j=0; j<2+bCr; j++) aT[j][RANGE][r] = t_range(aDb[j]);
    for(j=0; j<2+bCr; j++) aT[j][SCAN][r] = t_scan(aDb[j]);
    for(j=0; j<2+bCr; j++) aT[j][SUM][r] = t_sum(aDb[j]);
    aFloor[FLOOR_VTAB][r] = t_vtab_loop(p, 0);
    aFloor[FLOOR_STORAGE][r] = t_storage_loop(b, 0);
    aFloor[FLOOR_SUM][r] = aFloor[FLOOR_VTAB][r] + aFloor[FLOOR_STORAGE][r];
    aFloor[FLOOR_SCAN][r] = aT[1][SCAN][r];
    aFloor[FLOOR_VTAB_SUM][r] = t_vtab_loop(p, 1);
    aFloor[FLOOR_STORAGE_SUM][r] = t_storage_loop(b,
        "SELECT 1 FROM t_rows WHERE bench_noop(rowid, c2)");
    aFloor[FLOOR_SUM_SUM][r] = aFloor[FLOOR_VTAB_SUM][r] + aFloor[FLOOR_STORAGE_SUM][r];
    aFloor[FLOOR_SUM_BEC][r] = aT[1][SUM][r];
    rec_functions(b);
    for(k=0; k<NALT; k++){
      exec(b, azAltSchema[k]);
      aAlt[k][r] = t_storage_loop(b, azAltLoop[k]);
    }
    /* The lever beyond the floor: not a virtual table at all (see VIEW). */
    exec(b, "CREATE TEMP VIEW tv AS SELECT c0 AS id, c1 AS title, c2 AS done "
            "FROM main.t_rows");
    aView[0][r] = t_scan_of(b, "tv");
    aView[1][r] = t_sum_of(b, "tv");
    aView[2][r] = t_lookup_of(b, "tv");
    exec(b, "DROP VIEW tv");
    t_rec(p, b, aT[0][LOOKUP][r], aT[0][SCAN][r], aRecT[r], aRecR[r]);
    /* The UPDATE's floor, on the plain database (its table t is the copy's
    ** source; the vtab loop above made temp.nulltab and bench_noop). */
    if( sqlite3_create_function(p, "bench_noop", -1, SQLITE_UTF8, 0, noopFunc, 0, 0) ){
      die(p, "bench_noop");
    }
    for(k=0; k<NUPD; k++){
      if( azUpdSetup[k] ) exec(p, azUpdSetup[k]);
      aUpd[k][r] = k==UPD_ROWS ? t_update_rows(p, azUpdTable[k])
                 : k==UPD_VTAB ? update_vtab(p, azUpdTable[k])
                               : t_update_of(p, azUpdTable[k]);
    }
    aT[0][APPLY_INS][r] = aT[0][APPLY_UPD][r] = aT[0][APPLY_BOTH][r] = t_copy(p);
    t_apply(b, &aT[1][APPLY_INS][r], &aT[1][APPLY_UPD][r]);
    aT[1][APPLY_BOTH][r] = aT[1][APPLY_INS][r] + aT[1][APPLY_UPD][r];
    if( bCr ){
      aT[2][APPLY_BOTH][r] = t_apply_cr(c);
      aT[2][APPLY_INS][r] = aT[2][APPLY_UPD][r] = 0;
    }
    close_db(p, 0);
    close_db(b, 0);
    close_db(c, 1);
    p = open_plain("plain2.db");
    b = open_bec("bec2.db");
    c = bCr ? open_cr("cr2.db") : 0;
    aT[0][SINGLE][r] = t_single_inserts(p);
    aT[1][SINGLE][r] = t_single_inserts(b);
    if( bCr ) aT[2][SINGLE][r] = t_single_inserts(c);
    close_db(p, 0);
    close_db(b, 0);
    close_db(c, 1);
  }
  /* The runs' ratios first: median() sorts its array. */
  for(r=0; r<nRun; r++){
    for(i=0; i<NFLOOR; i++){
      aFloorRatio[i][r] = aFloor[i][r] / aT[0][i<FLOOR_VTAB_SUM ? SCAN : SUM][r];
    }
    for(i=0; i<NALT; i++) aAltRatio[i][r] = aAlt[i][r] / aT[0][SCAN][r];
    aViewRatio[0][r] = aView[0][r] / aT[0][SCAN][r];
    aViewRatio[1][r] = aView[1][r] / aT[0][SUM][r];
    aViewRatio[2][r] = aView[2][r] / aT[0][LOOKUP][r];
    for(i=0; i<NUPD; i++) aUpdRatio[i][r] = aUpd[i][r] / aT[0][UPDATE][r];
  }
  printf("bec tables vs a plain table: %d rows, WAL, median of %d runs "
         "(sqlite %s)\n", nRow, nRun, sqlite3_libversion());
  printf("%-42s %14s %14s %8s", "step", "plain", "bec", "ratio");
  if( bCr ) printf(" %14s %8s", "cr-sqlite", "ratio");
  printf("\n");
  for(i=0; i<NSTEP; i++){
    int j;
    for(j=0; j<2+bCr; j++){
      double x = med(j, i, nRun);
      if( j==0 ) printf("%-42s", azStep[i]);
      if( j==2 && x==0 ){
        printf(" %14s %8s", "-", "-");      /* one op: see the apply line */
      }else if( i==SIZE ){
        printf(" %11.2f MB", x/1e6);
      }else{
        printf(" %9.0f rows/s", rows_of(i)/x);
      }
      if( j>0 && !(j==2 && x==0) ) printf(" %7.2fx", ratio(j, i, nRun));
    }
    printf("\n");
  }
  printf("%-42s %9.0f rows/s %9.0f rows/s %7.2fx\n", "  the same UPDATE in CPU time",
         nRow/median(aUpdCpu[0], nRun), nRow/median(aUpdCpu[1], nRun),
         median(aUpdCpuRatio, nRun));
  printf("(apply: plain is a copy INSERT INTO fresh.t SELECT * FROM t; reach: "
         "rows/s counts both ops' rows)\n");
  if( !bCr ){
    printf("cr-sqlite: skipped (set BEC_CRSQLITE to the path of its loadable "
           "library to compare)\n");
  }
  {
    static const char *azFloor[NFLOOR] = {
      "vtab loop (a virtual table storing nothing)",
      "storage loop (no-op function over t_rows)",
      "floor of a full scan: their sum",
      "bec's full scan",
      "vtab loop of sum(done)",
      "storage loop over (rowid, c2)",
      "floor of sum(done): their sum",
      "bec's sum(done)"
    };
    double aScanOverFloor[MAX_RUNS], aSumOverFloor[MAX_RUNS];
    for(r=0; r<nRun; r++){
      aScanOverFloor[r] = aFloor[FLOOR_SCAN][r] / aFloor[FLOOR_SUM][r];
      aSumOverFloor[r] = aFloor[FLOOR_SUM_BEC][r] / aFloor[FLOOR_SUM_SUM][r];
    }
    for(i=0; i<NFLOOR; i++){
      double tf = median(aFloor[i], nRun);
      if( i==0 ){
        printf("full scan floor, as a share of the plain scan (see bench_tables.c):\n");
      }else if( i==FLOOR_VTAB_SUM ){
        printf("%-42s %38.2fx\n", "bec's full scan / the floor", median(aScanOverFloor, nRun));
        printf("floor of sum(done), as a share of the plain sum(done):\n");
      }
      printf("%-42s %9.0f rows/s %14s %7.2fx\n", azFloor[i], nRow/tf, "",
             median(aFloorRatio[i], nRun));
    }
    printf("%-42s %38.2fx\n", "bec's sum(done) / the floor", median(aSumOverFloor, nRun));
    printf("storage loop over other layouts of the same rows (bench-only copies):\n");
    for(i=0; i<NALT; i++){
      double tf = median(aAlt[i], nRun);
      printf("%-42s %9.0f rows/s %14s %7.2fx\n", azAlt[i], nRow/tf, "",
             median(aAltRatio[i], nRun));
    }
  }
  {
    static const char *azView[3] = {
      "  full scan", "  sum(done) over every row", "  point lookup by primary key"
    };
    printf("reads through a view over t_rows instead of the virtual table "
           "(VIEW in bench_tables.c):\n");
    for(i=0; i<3; i++){
      printf("%-42s %9.0f rows/s %14s %7.2fx\n", azView[i],
             nRow/median(aView[i], nRun), "", median(aViewRatio[i], nRun));
    }
  }
  {
    static const char *azUpd[NUPD] = {
      "  vtab update (xUpdate stores nothing)",
      "  trigger calling a no-op function",
      "  trigger writing one metadata row",
      "  one UPDATE statement per row",
    };
    printf("UPDATE floor, as a share of the plain UPDATE (see bench_tables.c):\n");
    for(i=0; i<NUPD; i++){
      printf("%-42s %9.0f rows/s %14s %7.2fx\n", azUpd[i],
             nRow/median(aUpd[i], nRun), "", median(aUpdRatio[i], nRun));
    }
  }
  {
    static const char *azRec[NRL] = {
      "  point lookup, record by sqlite3_blob",
      "  point lookup, record by nested statement",
      "  point lookup, columns+record by sqlite3_blob",
      "  lookups in one statement: plain",
      "  lookups in one statement: bec",
      "  lookups in one statement: record by blob",
      "  lookups in one statement: record by stmt",
      "  storage loop, the record decoded",
      "  copy of the rows: columns (t_rows)",
      "  copy of the rows: record",
      "  copy of the rows: columns+record",
      "  UPDATE one value of every row: columns",
      "  UPDATE one value of every row: record",
      "  UPDATE one value: columns+record",
      "  pages: columns",
      "  pages: record",
      "  pages: columns+record",
    };
    static const char *azRef[] = { "plain lookup", "plain, one statement",
      "plain scan", "columns" };
    printf("values in one record column, read by bec (REC in bench_tables.c; "
           "ratio to the line named):\n");
    for(i=0; i<NRL; i++){
      double a[MAX_RUNS], b2[MAX_RUNS], x;
      int iRef = i<=RL_LK_BOTH ? 0 : i<=RL_ONE_STMT ? 1 : i==RL_LOOP_DECODE ? 2 : 3;
      for(r=0; r<nRun; r++){ a[r] = aRecT[r][i]; b2[r] = aRecR[r][i]; }
      x = median(a, nRun);
      if( i>=RL_SIZE ){
        printf("%-42s %11.2f MB %14s %7.2fx %s\n", azRec[i], x/1e6, "",
               median(b2, nRun), azRef[iRef]);
      }else{
        printf("%-42s %9.0f rows/s %14s %7.2fx %s\n", azRec[i], nRow/x, "",
               median(b2, nRun), azRef[iRef]);
      }
    }
  }
  {
    char zCmd[600];
    snprintf(zCmd, sizeof(zCmd), "rm -rf '%s'", zDir);
    if( system(zCmd) ) return 1;
  }
  return 0;
}
