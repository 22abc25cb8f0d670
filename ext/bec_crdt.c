/*
** bec_crdt.c - PROVISIONAL: the CRDT table layer is not built yet; schema
** and write ops are stored but have no effect.
*/
#include "becInt.h"

int bec_crdt_on_store(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  return SQLITE_OK;
}

int bec_crdt_on_validity(BecCtx *p, const int *aSeq, int n, char **pzErr){
  return SQLITE_OK;
}
