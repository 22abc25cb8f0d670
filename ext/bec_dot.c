/*
** bec_dot.c - the op DAG as Graphviz DOT, because people would rather look
** at a DAG than read hashes:
**
**   SELECT bec_dot();          -- the newest 1000 ops
**   SELECT bec_dot(50);        -- the newest 50
**   $ build/becviz alice.db dag.svg
**
** One node per op, labelled with its kind and short hash (membership ops
** also name their target and role); one fill colour per author; ops that
** the membership rules ignore (valid = 0) are grey and dashed; an arrow
** points from each op to each predecessor shown.
*/
#include "becInt.h"

#include <stdarg.h>

#define SHORT_HEX 8

/* Fill colours of authors, in order of first appearance. */
static const char *azPalette[] = {
  "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
  "#b3de69", "#fccde5", "#bc80bd", "#ccebc5", "#ffed6f", "#d9d9d9",
};
#define N_PALETTE ((int)(sizeof(azPalette)/sizeof(azPalette[0])))

static void short_hex(const u8 *a, char *z){
  char zFull[2*BEC_HASH_BYTES+1];
  bec_hex_encode(a, BEC_HASH_BYTES, zFull);
  memcpy(z, zFull, SHORT_HEX);
  z[SHORT_HEX] = 0;
}

static void append_str(BecBuf *p, const char *z, int *pRc){
  bec_buf_append(p, z, (i64)strlen(z), pRc);
}


/* The DOT text of the newest nLimit ops.  *pzOut from sqlite3_malloc64;
** the caller frees it. */
int bec_dot_render(BecCtx *p, int nLimit, char **pzOut, char **pzErr){
  BecGraph *g = 0;
  BecBuf out;
  int *aColour = 0;   /* author id -> palette index + 1 */
  int nColour = 0;
  int rc, i, j, iFirst;

  memset(&out, 0, sizeof(out));
  *pzOut = 0;
  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);
  if( rc ) return rc;
  iFirst = g->nNode - nLimit + 1;
  if( iFirst<1 ) iFirst = 1;
  aColour = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)g->nAuthor + 1));
  if( aColour==0 ) return SQLITE_NOMEM;
  memset(aColour, 0, sizeof(int)*((size_t)g->nAuthor + 1));

  append_str(&out, "digraph bec {\n"
    "  rankdir=BT;\n"
    "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
    "  edge [color=\"#555555\", arrowsize=0.6];\n", &rc);
  if( iFirst>1 ){
    bec_buf_appendf(&out, &rc, "  label=\"newest %d of %d ops\";\n",
               g->nNode - iFirst + 1, g->nNode);
  }
  for(i=iFirst; rc==SQLITE_OK && i<=g->nNode; i++){
    const BecNode *pNode = &g->aNode[i];
    char zHash[SHORT_HEX+1], zAuthor[SHORT_HEX+1], zTarget[SHORT_HEX+1];
    const char *zFill;
    if( pNode->iAuthor<1 || pNode->iAuthor>g->nAuthor ) continue;
    if( aColour[pNode->iAuthor]==0 ) aColour[pNode->iAuthor] = ++nColour;
    zFill = azPalette[(aColour[pNode->iAuthor]-1) % N_PALETTE];
    short_hex(pNode->aHash, zHash);
    short_hex(g->aAuthorKey[pNode->iAuthor], zAuthor);
    zTarget[0] = 0;
    if( pNode->iTarget>=1 && pNode->iTarget<=g->nAuthor ){
      short_hex(g->aAuthorKey[pNode->iTarget], zTarget);
    }
    bec_buf_appendf(&out, &rc, "  \"%s\" [label=\"%s %s", zHash,
               bec_kind_name(pNode->kind), zHash);
    /* The payload rule says what the label shows: a grant of a role to a
    ** target, or a target alone (taken out). */
    if( bec_kind(pNode->kind)->ePayload==BEC_PAYLOAD_TARGET_ROLE ){
      bec_buf_appendf(&out, &rc, "\\n+ %s (%s)", zTarget, bec_role_name(pNode->role));
    }else if( bec_kind(pNode->kind)->ePayload==BEC_PAYLOAD_TARGET ){
      bec_buf_appendf(&out, &rc, "\\n- %s", zTarget);
    }
    bec_buf_appendf(&out, &rc, "\\nby %s\"", zAuthor);
    if( pNode->bValid ){
      bec_buf_appendf(&out, &rc, ", fillcolor=\"%s\"", zFill);
    }else{
      append_str(&out, ", fillcolor=\"#eeeeee\", fontcolor=\"#999999\", "
                       "style=\"rounded,filled,dashed\", color=\"#999999\", "
                       "tooltip=\"ignored by the membership rules\"", &rc);
    }
    if( bec_kind_derives(pNode->kind, BEC_DERIVE_MEMBERSHIP) ){
      append_str(&out, ", penwidth=2", &rc);
    }
    append_str(&out, "];\n", &rc);
    for(j=0; j<pNode->nPred; j++){
      int iPred = BEC_NODE_PREDS(g, i)[j];
      char zPred[SHORT_HEX+1];
      if( iPred<iFirst ) continue;
      short_hex(g->aNode[iPred].aHash, zPred);
      bec_buf_appendf(&out, &rc, "  \"%s\" -> \"%s\";\n", zHash, zPred);
    }
  }
  /* A legend: one entry per author shown. */
  append_str(&out, "  subgraph cluster_legend {\n    label=\"authors\"; "
                   "fontsize=10; style=dashed;\n", &rc);
  for(i=1; rc==SQLITE_OK && i<=g->nAuthor; i++){
    char zAuthor[SHORT_HEX+1];
    if( aColour[i]==0 ) continue;
    short_hex(g->aAuthorKey[i], zAuthor);
    bec_buf_appendf(&out, &rc, "    \"author %s\" [label=\"%s\", fillcolor=\"%s\"];\n",
               zAuthor, zAuthor, azPalette[(aColour[i]-1) % N_PALETTE]);
  }
  append_str(&out, "  }\n}\n", &rc);
  bec_buf_append_u8(&out, 0, &rc);
  sqlite3_free(aColour);
  if( rc==SQLITE_OK ){
    *pzOut = (char*)out.a;
  }else{
    bec_buf_free(&out);
  }
  return rc;
}
