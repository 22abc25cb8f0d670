/*
** benchutil.h - what every benchmark program in tools/ needs: a monotonic
** clock, failing loudly, running SQL and taking medians.  Define BENCH_NAME
** (the program's name, for messages) before including it.
*/
#ifndef BEC_BENCHUTIL_H
#define BEC_BENCHUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

/* Prints "<BENCH_NAME>: <zWhat>: <db's last error>" and exits. */
static inline void die(sqlite3 *db, const char *zWhat){
  fprintf(stderr, BENCH_NAME ": %s: %s\n", zWhat, db ? sqlite3_errmsg(db) : "");
  exit(1);
}

static inline void exec(sqlite3 *db, const char *zSql){
  if( sqlite3_exec(db, zSql, 0, 0, 0) ) die(db, zSql);
}

static inline int cmp_double(const void *a, const void *b){
  double x = *(const double*)a, y = *(const double*)b;
  return x<y ? -1 : x>y;
}

/* The median of a[0..n-1]; sorts a. */
static inline double median(double *a, int n){
  qsort(a, (size_t)n, sizeof(double), cmp_double);
  return n%2 ? a[n/2] : (a[n/2-1]+a[n/2])/2;
}

/* Removes a database and its companion files, bec's key file included
** (bec_keygen never overwrites one), so it can be made afresh. */
static inline void remove_db(const char *zPath){
  static const char *const azSuffix[] = { "", "-wal", "-shm", "-journal",
                                          "-bec-key" };
  char z[1100];
  size_t i;
  for(i=0; i<sizeof(azSuffix)/sizeof(azSuffix[0]); i++){
    snprintf(z, sizeof(z), "%s%s", zPath, azSuffix[i]);
    unlink(z);
  }
}

#endif
