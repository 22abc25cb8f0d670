/*
** bectest.h - the tiny harness of bec's C unit tests.  A test program calls
** CHECK() for every assertion; failures print "FAIL file:line: what" and the
** program ends with bt_done(), which prints "RESULT <passed> <failed>" for
** test/run.sh and returns the exit code.
*/
#ifndef BECTEST_H
#define BECTEST_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int bt_nPass = 0, bt_nFail = 0;

#define CHECK(cond) do { \
  if( cond ){ bt_nPass++; } \
  else { bt_nFail++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); fflush(stdout); } \
} while(0)

#define CHECK_MSG(cond, ...) do { \
  if( cond ){ bt_nPass++; } \
  else { bt_nFail++; printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
         printf(__VA_ARGS__); printf("\n"); fflush(stdout); } \
} while(0)

static int bt_done(void){
  printf("RESULT %d %d\n", bt_nPass, bt_nFail);
  return bt_nFail ? 1 : 0;
}
#endif
