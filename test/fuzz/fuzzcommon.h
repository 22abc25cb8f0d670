/*
** fuzzcommon.h - set-up helpers the libFuzzer targets share (each target
** includes this once; everything is static inline).
*/
#ifndef BEC_FUZZCOMMON_H
#define BEC_FUZZCOMMON_H

#include "becInt.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif /* BEC_FUZZCOMMON_H */
