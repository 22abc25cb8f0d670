/*
** bec_member.c - who may do what in the group.
**
** PROVISIONAL: until the membership rules land, only the group's creator may
** sign ops.  bec_member_authorize() is the one place acceptance asks.
*/
#include "becInt.h"

int bec_member_ensure_schema(BecCtx *p, char **pzErr){
  return SQLITE_OK;
}

int bec_member_authorize(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                         char **pzErr){
  BecGraph *g = 0;
  int rc;
  if( pOp->kind==BEC_KIND_CREATE ) return SQLITE_OK;
  rc = bec_graph_get(p, &g, pzErr);
  if( rc ) return rc;
  if( g->nNode<1 || g->aNode[1].kind!=BEC_KIND_CREATE
   || memcmp(g->aAuthorKey[g->aNode[1].iAuthor], pOp->aAuthor, BEC_PUBKEY_BYTES) ){
    *pzErr = sqlite3_mprintf("unauthorized: the author is not a member of "
                             "the group");
    return SQLITE_AUTH;
  }
  return SQLITE_OK;
}

int bec_member_on_store(BecCtx *p, int iSeq, char **pzErr){
  return SQLITE_OK;
}

int bec_member_check(BecCtx *p, char **pzProblems, char **pzErr){
  *pzProblems = 0;
  return SQLITE_OK;
}

void bec_member_free(BecMember *p){
  (void)p;
}

int bec_member_register(sqlite3 *db, BecCtx *p){
  return SQLITE_OK;
}
