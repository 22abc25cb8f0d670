/*
** test_kindtoy.c - test_kind.c with the toy kind compiled in: the Makefile
** links this program against a library built with -DBEC_TEST_TOY_KIND, so
** the toy kind's one row in BEC_KINDS is all that differs.
*/
#ifndef BEC_TEST_TOY_KIND
# error "test_kindtoy.c is built with -DBEC_TEST_TOY_KIND (see the Makefile)"
#endif
#include "test_kind.c"
