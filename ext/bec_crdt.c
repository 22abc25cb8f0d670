/*
** bec_crdt.c - the merge: table state derived from schema and write ops.
**
** What is stored (all derived: rebuilt from the ops when validity changes):
**   bec_store_table(name, seq)       per table name, the incarnation (create
**                                    op) it shows (see "The catalog")
**   bec_store_column(tbl, idx, name, type, pk)
**                                    the columns of every create op, as
**                                    shown (its own, then added ones)
**   bec_store_alter(tbl, seq, idx)   the alter ops (ADD, RENAME, DROP
**                                    COLUMN, RENAME TO) and drops of each
**                                    create op (incarnation) that the
**                                    merge does not ignore, with an added
**                                    column's index where it is shown
**                                    (NULL: hidden, or not an ADD); see
**                                    "Schema evolution"
**   bec_store_conflict(tbl, pk, col, seq, value)
**                                    the concurrent writes that lost, per
**                                    register (col -1: the row's existence);
**                                    a COUNTER's steps (col -2-2i) and
**                                    winning assignment (col -3-2i): see
**                                    "Counters"
**   bec_store_ignored(seq, reason)   the schema and write ops the merge
**                                    ignores, and why: a verdict on the op
**                                    and its causal past only (see
**                                    verdict_schema, verdict_write), among
**                                    them the writes that break a declared
**                                    constraint ("Declared constraints")
**   "<name>_rows"                    per live table shown here (see
**                                    "Showing tables"), one row per existing
**                                    merged row: the key and column values
**                                    c0.., the seq r of the row's winning
**                                    upsert and per non-key column the seq
**                                    s<k> of the write whose value it shows
**   bec_store_change(cursor, seq, tbl, kinds)
**                                    the change feed (bec_changes): per
**                                    write op applied, seq and one
**                                    BEC_FEED_* byte per change (what it did
**                                    to its row); seq and no kinds: every
**                                    row op seq wrote may have changed (its
**                                    validity did); tbl: the whole table
**                                    was recomputed; neither: a marker of
**                                    rows trimmed (bec_crdt_feed_trim).
**                                    Not derived: it is a log of this
**                                    replica's applications, never rebuilt
**
** The merge (docs/tables.md has the rules; this is how they are computed).
** Every column of every row is a register, and so is the row's existence
** (a column with no member shows its DEFAULT, the fill; the columns of a
** merge group always hold the same members, since every write of the group
** writes all of them, so they act as one register).
** A register holds the set of writes to it that no valid delete of the row
** covers, reduced to its maximal elements: a write that is an ancestor of
** another member can never show again, because any delete covering the
** later one covers it too.  Ops are applied in a topological order (seq),
** so a new op x is never an ancestor of a member:
**   upsert by x:  drop the members of each written register that are x or
**                 ancestors of x, then add x;
**   delete by x:  drop the members of every register of the row that are x
**                 or ancestors of x (the writes the delete observed).
** The register shows its greatest member by (depth, hash); the others are
** the row's conflicts.  A row exists while its existence register is not
** empty.  In the common case a register has one member and all a row needs
** is one seq per column.  Ancestry is answered by walking the DAG down from
** x in seq order, lazily and once per op (struct Anc); an op whose
** predecessors were all heads has every earlier op as an ancestor, which
** is the case of every local op and needs no walk at all.
** A COUNTER column's register also holds steps, which only deletes cover
** and which add up instead of competing (see "Counters", apply_merge).
*/
#include "becInt.h"

#include <stdarg.h>
#include <stdlib.h>

static const char zCrdtSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_table("
  "  name TEXT PRIMARY KEY COLLATE NOCASE, seq INTEGER NOT NULL) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_column("
  "  tbl INTEGER NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,"
  "  type TEXT NOT NULL, pk INTEGER NOT NULL, PRIMARY KEY(tbl, idx))"
  "  WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_conflict("
  "  tbl INTEGER NOT NULL, pk BLOB NOT NULL, col INTEGER NOT NULL,"
  "  seq INTEGER NOT NULL, value, PRIMARY KEY(tbl, pk, col, seq))"
  "  WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_ignored("
  "  seq INTEGER PRIMARY KEY, reason TEXT NOT NULL);"
  "CREATE TABLE IF NOT EXISTS bec_store_change("
  "  cursor INTEGER PRIMARY KEY, seq INTEGER, tbl INTEGER, kinds BLOB);"
  "CREATE TABLE IF NOT EXISTS bec_store_alter("
  "  tbl INTEGER NOT NULL, seq INTEGER NOT NULL, idx INTEGER,"
  "  PRIMARY KEY(tbl, seq)) WITHOUT ROWID;";

/* The merge base of a pruned replica ("The merge base"), created by the
** first bec_prune(). */
static const char zBaseSchema[] =
  "CREATE TABLE IF NOT EXISTS bec_store_base("
  "  tbl INTEGER NOT NULL, row INTEGER NOT NULL, cells BLOB NOT NULL,"
  "  PRIMARY KEY(tbl, row)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS bec_store_base_conflict("
  "  tbl INTEGER NOT NULL, pk BLOB NOT NULL, col INTEGER NOT NULL,"
  "  seq INTEGER NOT NULL, value, PRIMARY KEY(tbl, pk, col, seq))"
  "  WITHOUT ROWID;";

/* 2: bec_store_ignored; shadow tables whose value columns have no type.
** 3: bec_store_change.  4: bec_store_alter. */
#define TABLES_FORMAT 4

static int verdicts_all(BecCtx*, char**);

static int crdt_schema(BecCtx *p, char **pzErr){
  i64 iFormat = 0;
  int rc = bec_config_get_int(p, "tables_format", 0, &iFormat);
  if( rc ) return rc;
  if( iFormat>TABLES_FORMAT ){
    *pzErr = sqlite3_mprintf("bec: this database's tables were written by a "
        "newer bec (table format %lld; this build reads %d)",
        (long long)iFormat, TABLES_FORMAT);
    return SQLITE_ERROR;
  }
  if( iFormat==TABLES_FORMAT ) return SQLITE_OK;
  rc = bec_ctx_exec(p, zCrdtSchema, pzErr);
  if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "tables_format", TABLES_FORMAT);
  /* Format 1 had no verdicts: judge every stored op once.  (Its shadow
  ** tables keep their typed columns until the table is re-created.) */
  if( rc==SQLITE_OK && iFormat==1 ) rc = verdicts_all(p, pzErr);
  return rc;
}

int bec_crdt_get(BecCtx *p, BecCrdt **pp){
  if( p->pCrdt==0 ){
    p->pCrdt = sqlite3_malloc64(sizeof(BecCrdt));
    if( p->pCrdt==0 ) return SQLITE_NOMEM;
    memset(p->pCrdt, 0, sizeof(BecCrdt));
  }
  *pp = p->pCrdt;
  return SQLITE_OK;
}

typedef struct Merge Merge;
static void merge_free(Merge*);
static void check_db_close(BecCrdt*);
static int value_same(const BecValue*, const BecValue*);
void bec_crdt_free(BecCrdt *pC){
  if( pC ){
    if( pC->pMerge ) merge_free((Merge*)pC->pMerge);
    sqlite3_free(pC->pMerge);
    bec_buf_free(&pC->chg);
    bec_buf_free(&pC->feed);
    sqlite3_free(pC->aTable);
    sqlite3_free(pC->aTableHash);
    sqlite3_free(pC->aMark);
    sqlite3_free(pC->zVerdict);
    check_db_close(pC);
    sqlite3_free(pC);
  }
}

/**************************************************************************
** Order and ancestry.
*/
/* 1 if op a is ordered after op b: greater depth, then greater hash. */
static int later(const BecGraph *g, int a, int b){
  const BecNode *pA, *pB;
  /* The op a local transaction is building (seq nNode+1, not stored yet)
  ** descends from every stored op: it is deeper than all of them. */
  if( a>g->nNode || b>g->nNode ) return a>b;
  pA = &g->aNode[a];
  pB = &g->aNode[b];
  if( pA->depth!=pB->depth ) return pA->depth > pB->depth;
  return bec_graph_id_cmp(g, a, b) > 0;
}

/* Answers "is w op x or an ancestor of x?" for one op x.  Nodes are
** visited from x down in seq order (a topological order), so once every
** node above w is visited, w is marked iff it is an ancestor. */
typedef struct Anc Anc;
struct Anc {
  const BecGraph *g;
  int x;              /* the op; may be nNode+1 (not stored yet) */
  const int *aXPred;
  int nXPred;
  int bAll;           /* every node below x is an ancestor */
  int iLow;           /* nodes >= iLow are visited; 0 before the first walk */
  u32 iStamp;
  u32 *aStamp;        /* aStamp[i]==iStamp: i is marked */
  int nStamp;
};

static void anc_init(Anc *a, const BecGraph *g, int x, const int *aPred,
                     int nPred, int bAll){
  a->g = g;
  a->x = x;
  a->aXPred = aPred;
  a->nXPred = nPred;
  a->bAll = bAll;
  a->iLow = 0;
  a->iStamp++;
  if( a->iStamp==0 ){
    if( a->aStamp ) memset(a->aStamp, 0, sizeof(u32)*(size_t)a->nStamp);
    a->iStamp = 1;
  }
}

static void anc_free(Anc *a){
  sqlite3_free(a->aStamp);
  a->aStamp = 0;
  a->nStamp = 0;
}

static int anc_covers(Anc *a, int w, int *pRc){
  const BecGraph *g = a->g;
  int i;
  if( w==a->x ) return 1;
  if( w<1 || w>a->x ) return 0;
  if( a->bAll ) return 1;
  if( a->iLow==0 ){
    if( a->nStamp < a->x+1 ){
      int nNew = a->x + 1024;
      u32 *aNew = sqlite3_realloc64(a->aStamp, sizeof(u32)*(sqlite3_uint64)nNew);
      if( aNew==0 ){
        *pRc = SQLITE_NOMEM;
        return 0;
      }
      memset(&aNew[a->nStamp], 0, sizeof(u32)*(size_t)(nNew - a->nStamp));
      a->aStamp = aNew;
      a->nStamp = nNew;
    }
    for(i=0; i<a->nXPred; i++) a->aStamp[a->aXPred[i]] = a->iStamp;
    a->iLow = a->x;
  }
  while( a->iLow > w+1 ){
    int j = --a->iLow;
    if( a->aStamp[j]==a->iStamp ){
      const int *aP = BEC_NODE_PREDS(g, j);
      for(i=0; i<g->aNode[j].nPred; i++) a->aStamp[aP[i]] = a->iStamp;
    }
  }
  return a->aStamp[w]==a->iStamp;
}

/* 1 if the just stored op is the only head: every op is its ancestor. */
static int only_head(BecCtx *p, int *pbOnly){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT count(*) FROM bec_store_head", &pStmt);
  *pbOnly = 0;
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *pbOnly = sqlite3_column_int(pStmt, 0)==1;
  return sqlite3_reset(pStmt);
}

/**************************************************************************
** Schemas and the catalog.
*/
/* The schema of schema op iSchema as its payload says (a create without
** the columns added to it since). */
static int load_op_schema(BecCtx *p, int iSchema, BecSchema **pp, u8 *aHash,
                          char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT hash, body FROM bec_store_op "
                           "WHERE seq=?1 AND kind=5", &pStmt);
  *pp = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSchema);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    BecOp op;
    u8 *aPlain = 0;               /* e2ee: the plaintext of an envelope */
    const char *zLocked = 0;
    rc = bec_op_decode(sqlite3_column_blob(pStmt, 1),
                       sqlite3_column_bytes(pStmt, 1), &op, pzErr);
    if( rc==SQLITE_OK ) rc = bec_e2ee_open(p, &op, &aPlain, &zLocked, pzErr);
    if( rc==SQLITE_OK && zLocked ){
      *pzErr = sqlite3_mprintf("bec: schema op %d is %s", iSchema, zLocked);
      rc = SQLITE_ERROR;
    }
    if( rc==SQLITE_OK ) rc = bec_schema_decode(op.aPayload, op.nPayload, pp, pzErr);
    sqlite3_free(aPlain);
    if( rc==SQLITE_OK && aHash && sqlite3_column_bytes(pStmt, 0)==BEC_HASH_BYTES ){
      memcpy(aHash, sqlite3_column_blob(pStmt, 0), BEC_HASH_BYTES);
    }
  }else{
    rc = SQLITE_CORRUPT;
    *pzErr = sqlite3_mprintf("bec: schema op %d is not stored", iSchema);
  }
  sqlite3_reset(pStmt);
  return rc;
}

/**************************************************************************
** Schema evolution: what the merge shows of a create op.
**
** A create op's table, as shown, is its own columns, then the column of
** each ADD COLUMN op of it (bec_store_alter) that is valid, ordered by the
** ADD ops' (depth, hash).  A column's name is a register: the name given by
** the greatest (depth, hash) op among the op that introduced it and the
** RENAME COLUMN ops naming its id.  A column is dropped if a valid DROP
** COLUMN names it (a drop wins over concurrent renames).  If two live
** columns end up with one name (case-insensitively), the one whose name
** was set by the greater op shows it and the other is hidden (a key column
** always shows); so is an added column that would take the table past
** BEC_TABLE_MAX_COL columns or BEC_TABLE_MAX_CHECK CHECKs.  A create's own
** columns keep their index when dropped or hidden (writes name them by it):
** they stay in the schema, marked bHidden; hidden added columns are left
** out (writes name them by their ADD op).  Everything here is a function
** of the valid ops, so every replica shows the same columns in the same
** order; verdicts compute the same view over an op's causal past.
*/
typedef struct ViewCol ViewCol;
struct ViewCol {
  u8 aId[BEC_HASH_BYTES];     /* the column's id: the op that introduced */
  int iIdx;                   /* it, and its index there */
  const char *zName;          /* its name now */
  int iNameSeq;               /* the op that gave it that name */
  int iAdd;                   /* View.aOp index of its ADD op, -1: create's */
  int bKey, bDropped, bShown;
};
/* When the graph is not loaded, the (depth, id) and validity of the ops a
** view reads come from their stored rows, which the graph is loaded from:
** the view is the same, and connecting an altered table (or judging a
** write that names every head) does not load the graph. */
typedef struct ViewOrd ViewOrd;
struct ViewOrd {
  int iSeq;
  i64 depth;
  int bValid;
  u8 aId[BEC_HASH_BYTES];
};
typedef struct View View;
struct View {
  const BecGraph *g;          /* the graph, or 0: aOrd */
  int nOrd;
  ViewOrd *aOrd;              /* the create and its alter ops, if g==0 */
  int nOp;
  struct ViewOp { int iSeq; BecSchema *s; } *aOp;   /* alter ops, owned */
  int nCol;
  ViewCol *aCol;              /* the create's columns, then the added ones */
  const char *zTab;           /* the table's name now (a register) */
  int iTabSeq;                /* the op that gave it: the create, a RENAME TO */
  int bTabDropped;            /* a drop lists this incarnation */
};

static void view_free(View *v){
  int i;
  for(i=0; i<v->nOp; i++) bec_schema_free(v->aOp[i].s);
  sqlite3_free(v->aOp);
  sqlite3_free(v->aCol);
  sqlite3_free(v->aOrd);
  memset(v, 0, sizeof(*v));
}

static const ViewOrd *view_ord(const View *v, int x){
  int i;
  for(i=0; i<v->nOrd; i++) if( v->aOrd[i].iSeq==x ) return &v->aOrd[i];
  return 0;
}

/* later() over the view's ops, with or without the graph. */
static int view_later(const View *v, int a, int b){
  const ViewOrd *pA, *pB;
  if( v->g ) return later(v->g, a, b);
  pA = view_ord(v, a);
  pB = view_ord(v, b);
  if( pA==0 || pB==0 ) return a>b;      /* not stored yet: the deepest */
  if( pA->depth!=pB->depth ) return pA->depth > pB->depth;
  return memcmp(pA->aId, pB->aId, BEC_HASH_BYTES) > 0;
}

/* The id of op x of the view (bec_graph_id without the graph). */
static int view_id(const View *v, int x, u8 *aOut){
  const ViewOrd *o;
  if( v->g ) return bec_graph_id(v->g, x, aOut);
  o = view_ord(v, x);
  if( o==0 ) return SQLITE_CORRUPT;
  memcpy(aOut, o->aId, BEC_HASH_BYTES);
  return SQLITE_OK;
}

/* Appends op x's stored (depth, id, validity) to v->aOrd; *pbFound 0 if
** no row has seq x. */
static int view_ord_read(BecCtx *p, View *v, int x, int *pbFound){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT depth, hash, valid FROM bec_store_op"
                           " WHERE seq=?1", &pStmt);
  *pbFound = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, x);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    ViewOrd *aNew = sqlite3_realloc64(v->aOrd,
                        sizeof(ViewOrd)*(sqlite3_uint64)(v->nOrd+1));
    if( aNew==0 ){
      rc = SQLITE_NOMEM;
    }else if( sqlite3_column_bytes(pStmt, 1)!=BEC_HASH_BYTES ){
      v->aOrd = aNew;
      rc = SQLITE_CORRUPT;
    }else{
      ViewOrd *o = &aNew[v->nOrd++];
      v->aOrd = aNew;
      o->iSeq = x;
      o->depth = sqlite3_column_int64(pStmt, 0);
      o->bValid = sqlite3_column_int(pStmt, 2)!=0;
      memcpy(o->aId, sqlite3_column_blob(pStmt, 1), BEC_HASH_BYTES);
      *pbFound = 1;
    }
  }
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  return rc;
}

/* The columns of create op iCreate (its schema pBase) as the alter ops of
** it make them: with pAnc, those in the causal past pAnc answers (the view
** of that op's author), else the valid ones.  g may be 0 (the graph is not
** loaded) without pAnc or with one whose past is every stored op (bAll):
** the ops' order and validity are then read from storage (ViewOrd). */
static int view_load(BecCtx *p, const BecGraph *g, int iCreate,
                     const BecSchema *pBase, Anc *pAnc, View *v, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecInts alters;
  int *aSeq = 0, nSeq = 0, rc, i, j, nCheck, nShownAdd = 0, bFound = 0;
  memset(v, 0, sizeof(*v));
  memset(&alters, 0, sizeof(alters));
  v->g = g;
  /* (collected first: view_ord_read uses the statement cache) */
  rc = bec_ctx_stmt(p, "SELECT seq FROM bec_store_alter WHERE tbl=?1 "
                       "ORDER BY seq", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iCreate);
  rc = bec_stmt_ints(pStmt, &alters);
  if( rc==SQLITE_OK && g==0 ) rc = view_ord_read(p, v, iCreate, &bFound);
  if( rc==SQLITE_OK ){
    aSeq = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)(alters.n+1));
    if( aSeq==0 ) rc = SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<alters.n; i++){
    int x = alters.a[i], bValid;
    if( g ){
      if( x<1 || x>g->nNode ) continue;
      bValid = g->aNode[x].bValid;
    }else{
      rc = view_ord_read(p, v, x, &bFound);
      if( rc || !bFound ) continue;
      bValid = v->aOrd[v->nOrd-1].bValid;
    }
    if( pAnc ? (x==pAnc->x || !anc_covers(pAnc, x, &rc)) : !bValid ){
      continue;
    }
    aSeq[nSeq++] = x;
  }
  bec_ints_free(&alters);
  if( rc==SQLITE_OK ){
    v->aOp = sqlite3_malloc64(sizeof(*v->aOp)*(sqlite3_uint64)(nSeq+1));
    v->aCol = sqlite3_malloc64(sizeof(ViewCol)*(sqlite3_uint64)(pBase->nBase+nSeq+1));
    if( v->aOp==0 || v->aCol==0 ) rc = SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<nSeq; i++){
    v->aOp[i].iSeq = aSeq[i];
    v->aOp[i].s = 0;
    v->nOp = i+1;
    rc = load_op_schema(p, aSeq[i], &v->aOp[i].s, 0, pzErr);
    if( rc==SQLITE_OK && v->aOp[i].s->action<BEC_SCHEMA_ADD
     && v->aOp[i].s->action!=BEC_SCHEMA_DROP ) rc = SQLITE_CORRUPT;
  }
  sqlite3_free(aSeq);
  if( rc ){
    view_free(v);
    return rc;
  }
  /* The table's name: the greatest of the create and its RENAME TO ops;
  ** a drop listing it ends it (and wins over concurrent renames). */
  v->zTab = pBase->zName;
  v->iTabSeq = iCreate;
  for(i=0; i<v->nOp; i++){
    const BecSchema *r = v->aOp[i].s;
    if( r->action==BEC_SCHEMA_DROP ){
      v->bTabDropped = 1;
    }else if( r->action==BEC_SCHEMA_RETABLE && view_later(v, v->aOp[i].iSeq, v->iTabSeq) ){
      v->zTab = r->zName;
      v->iTabSeq = v->aOp[i].iSeq;
    }
  }
  for(i=0; i<pBase->nBase; i++){
    ViewCol *c = &v->aCol[v->nCol++];
    memset(c, 0, sizeof(*c));
    if( rc==SQLITE_OK ) rc = view_id(v, iCreate, c->aId);
    c->iIdx = i;
    c->zName = pBase->aCol[i].zName;
    c->iNameSeq = iCreate;
    c->iAdd = -1;
    c->bKey = pBase->aCol[i].iPk!=0;
  }
  for(i=0; i<v->nOp; i++){
    ViewCol *c;
    if( v->aOp[i].s->action!=BEC_SCHEMA_ADD ) continue;
    c = &v->aCol[v->nCol++];
    memset(c, 0, sizeof(*c));
    if( rc==SQLITE_OK ) rc = view_id(v, v->aOp[i].iSeq, c->aId);
    c->zName = v->aOp[i].s->aCol[0].zName;
    c->iNameSeq = v->aOp[i].iSeq;
    c->iAdd = i;
    /* (depth, hash) order of the ADD ops: insertion sort, lists are short */
    for(j=v->nCol-1; j>pBase->nBase
        && view_later(v, v->aCol[j-1].iNameSeq, v->aCol[j].iNameSeq); j--){
      ViewCol t = v->aCol[j];
      v->aCol[j] = v->aCol[j-1];
      v->aCol[j-1] = t;
    }
  }
  if( rc ){
    view_free(v);
    return rc;
  }
  for(i=0; i<v->nOp; i++){
    const BecSchema *r = v->aOp[i].s;
    if( r->action!=BEC_SCHEMA_RENAME && r->action!=BEC_SCHEMA_DROPCOL ) continue;
    for(j=0; j<v->nCol; j++){
      ViewCol *c = &v->aCol[j];
      if( c->iIdx!=r->iTarget || memcmp(c->aId, r->aTarget, BEC_HASH_BYTES) ) continue;
      if( c->bKey ){
        continue;               /* (the verdict ignores such ops) */
      }else if( r->action==BEC_SCHEMA_DROPCOL ){
        c->bDropped = 1;
      }else if( view_later(v, v->aOp[i].iSeq, c->iNameSeq) ){
        c->zName = r->aCol[0].zName;
        c->iNameSeq = v->aOp[i].iSeq;
      }
    }
  }
  /* Names: key columns first, then from the greatest naming op down; the
  ** first to take a name keeps it. */
  nCheck = pBase->nBaseCheck;
  for(i=0; i<v->nCol; i++) if( v->aCol[i].bKey ) v->aCol[i].bShown = 1;
  for(;;){
    ViewCol *pBest = 0;
    for(i=0; i<v->nCol; i++){
      ViewCol *c = &v->aCol[i];
      if( c->bShown || c->bDropped || c->bKey || c->iNameSeq<0 ) continue;
      if( pBest==0 || view_later(v, c->iNameSeq, pBest->iNameSeq) ) pBest = c;
    }
    if( pBest==0 ) break;
    for(i=0; i<v->nCol; i++){
      if( v->aCol[i].bShown && sqlite3_stricmp(v->aCol[i].zName, pBest->zName)==0 ){
        break;
      }
    }
    if( i==v->nCol && (pBest->iAdd<0
        || (pBase->nBase+nShownAdd<BEC_TABLE_MAX_COL
            && nCheck+v->aOp[pBest->iAdd].s->nCheck<=BEC_TABLE_MAX_CHECK)) ){
      pBest->bShown = 1;
      if( pBest->iAdd>=0 ){
        nShownAdd++;
        nCheck += v->aOp[pBest->iAdd].s->nCheck;
      }
    }else{
      pBest->iNameSeq = -1;     /* hidden: done with it */
    }
  }
  return SQLITE_OK;
}

/* *pbAltered: some ALTER op (valid or not) of create op iCreate is stored. */
static int altered(BecCtx *p, int iCreate, int *pbAltered){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_alter WHERE tbl=?1 LIMIT 1",
                        &pStmt);
  *pbAltered = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iCreate);
  *pbAltered = sqlite3_step(pStmt)==SQLITE_ROW;
  return sqlite3_reset(pStmt);
}

/* *pp: create op iSchema's schema as shown (see above), made from its own
** schema pBase, which it takes over (freed, or returned as *pp). */
static int schema_shown(BecCtx *p, BecSchema *pBase, int iSchema,
                        BecSchema **pp, char **pzErr){
  BecGraph *g = 0;
  View v;
  BecSchema *apAdd[BEC_TABLE_MAX_COL];
  const char *azName[BEC_TABLE_MAX_COL];
  u8 *aHash = 0;
  int nAdd = 0, i, rc, bAltered = 0;
  *pp = 0;
  memset(&v, 0, sizeof(v));
  /* A table no ALTER op names is shown as created: answered from storage,
  ** so that connecting it (a fresh connection's first INSERT) does not
  ** load the graph, whose answer would be the same (view_load finds no
  ** op, v.nOp==0). */
  rc = altered(p, iSchema, &bAltered);
  if( rc==SQLITE_OK && !bAltered ){
    *pp = pBase;
    return SQLITE_OK;
  }
  /* An altered table: its view over the valid alter ops, from the graph
  ** if it is loaded, else from their stored rows (view_load). */
  if( rc==SQLITE_OK ) rc = bec_graph_check(p, pzErr);
  if( rc==SQLITE_OK ) g = p->pGraph;
  if( rc==SQLITE_OK ) rc = view_load(p, g, iSchema, pBase, 0, &v, pzErr);
  if( rc ) return rc;
  if( v.nOp==0 ){
    view_free(&v);
    *pp = pBase;
    return SQLITE_OK;
  }
  aHash = sqlite3_malloc64((sqlite3_uint64)(v.nCol+1)*BEC_HASH_BYTES);
  if( aHash==0 ) rc = SQLITE_NOMEM;
  for(i=0; rc==SQLITE_OK && i<v.nCol; i++){
    const ViewCol *c = &v.aCol[i];
    if( c->iAdd<0 ){
      azName[i] = c->zName;
    }else if( c->bShown ){
      azName[pBase->nBase+nAdd] = c->zName;
      apAdd[nAdd] = v.aOp[c->iAdd].s;
      memcpy(&aHash[nAdd*BEC_HASH_BYTES], c->aId, BEC_HASH_BYTES);
      nAdd++;
    }
  }
  if( rc==SQLITE_OK ){
    rc = bec_schema_with_adds(pBase, v.zTab, nAdd, apAdd, aHash, azName, pp);
  }
  if( rc==SQLITE_OK ){
    /* (the shown ADD schemas and pBase now belong to *pp) */
    for(i=0; i<v.nCol; i++){
      const ViewCol *c = &v.aCol[i];
      if( c->iAdd>=0 && c->bShown ) v.aOp[c->iAdd].s = 0;
      if( c->iAdd<0 ){
        (*pp)->aCol[c->iIdx].bHidden = !c->bShown;
        (*pp)->aCol[c->iIdx].bDropped = c->bDropped;
      }
    }
    (*pp)->pBase = pBase;
  }
  view_free(&v);
  sqlite3_free(aHash);
  return rc;
}

int bec_crdt_load_schema(BecCtx *p, int iSchema, BecSchema **pp, u8 *aHash,
                         char **pzErr){
  BecSchema *s = 0;
  int rc = load_op_schema(p, iSchema, &s, aHash, pzErr);
  *pp = 0;
  if( rc==SQLITE_OK && s->action==BEC_SCHEMA_CREATE ){
    BecSchema *pShown = 0;
    rc = schema_shown(p, s, iSchema, &pShown, pzErr);
    if( rc ){
      bec_schema_free(s);
      return rc;
    }
    s = pShown;
  }
  if( rc ){
    bec_schema_free(s);
    return rc;
  }
  *pp = s;
  return SQLITE_OK;
}

int bec_crdt_schema_is(BecCtx *p, int iSeq, const BecSchema *s, int *pbSame,
                       char **pzErr){
  BecSchema *pW = 0;
  int rc, i;
  *pbSame = 0;
  rc = bec_crdt_load_schema(p, iSeq, &pW, 0, pzErr);
  /* Types compare by their affinity: that is what the merge declares
  ** (bec_type_sql); the table shown is the op's, with the op's types. */
  if( rc==SQLITE_OK && pW->action==BEC_SCHEMA_CREATE
   && strcmp(pW->zName, s->zName)==0 && pW->nCol==s->nCol
   && pW->nPk==s->nPk ){
    int bSame = 1;
    for(i=0; i<s->nCol; i++){
      const BecColumn *a = &pW->aCol[i], *b = &s->aCol[i];
      if( strcmp(a->zName, b->zName) || a->iPk!=b->iPk || a->eAff!=b->eAff
       || a->flags!=b->flags || a->eStrict!=b->eStrict
       || ((a->flags & BEC_COL_DEFAULT) && !value_same(&a->dflt, &b->dflt)) ){
        bSame = 0;
      }
    }
    if( pW->opts!=s->opts || pW->nCheck!=s->nCheck ) bSame = 0;
    for(i=0; bSame && i<s->nCheck; i++){
      if( strcmp(pW->aCheck[i].zName, s->aCheck[i].zName)
       || strcmp(pW->aCheck[i].zExpr, s->aCheck[i].zExpr) ){
        bSame = 0;
      }
    }
    for(i=0; i<s->nPk; i++) if( pW->aPk[i]!=s->aPk[i] ) bSame = 0;
    *pbSame = bSame;
  }
  bec_schema_free(pW);
  return rc;
}

int bec_crdt_winner(BecCtx *p, const char *zName, int *piSeq){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT seq FROM bec_store_table WHERE name=?1",
                        &pStmt);
  *piSeq = 0;
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zName, (int)strlen(zName), SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *piSeq = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

/**************************************************************************
** Declared constraints (docs/tables.md, "Constraints";
** ../shared/INVARIANTS.md).  A change's values are judged by the same
** function for a local statement (before anything is signed) and for a
** peer's op (a verdict on the op and the schema op it names, which lies in
** its causal past).  CHECKs are compiled and evaluated by SQLite itself, in
** a private in-memory connection bec opens: only SQLite's built-in
** functions and collations exist there, so an application that overrides
** length() or NOCASE on its own connection changes nothing.  Per table
** written, the connection holds a plain table "t" with the table's
** columns and types (so a CHECK sees each value after the column's
** affinity, as on a plain table), and a statement per CHECK.
*/
static void value_from_column(sqlite3_stmt*, int, BecValue*);

typedef struct CheckTab CheckTab;
struct CheckTab {
  u8 aHash[BEC_HASH_BYTES];    /* the create op (0: slot free) */
  int bUsed;
  sqlite3_stmt *pIns;          /* INSERT INTO t VALUES(?1..) */
  sqlite3_stmt *pSel;          /* SELECT * FROM t */
  sqlite3_stmt *pDel;          /* DELETE FROM t */
  int nCheck;
  sqlite3_stmt *apCheck[BEC_TABLE_MAX_CHECK];  /* 1 if the CHECK fails */
};
#define CHECK_CACHE 8

static void checktab_clear(CheckTab *c){
  int i;
  sqlite3_finalize(c->pIns);
  sqlite3_finalize(c->pSel);
  sqlite3_finalize(c->pDel);
  for(i=0; i<c->nCheck; i++) sqlite3_finalize(c->apCheck[i]);
  memset(c, 0, sizeof(*c));
}

static void check_db_close(BecCrdt *pC){
  CheckTab *a = (CheckTab*)pC->pCheckCache;
  int i;
  if( a ){
    for(i=0; i<CHECK_CACHE; i++) checktab_clear(&a[i]);
    sqlite3_free(a);
    pC->pCheckCache = 0;
  }
  if( pC->dbCheck ) sqlite3_close(pC->dbCheck);
  pC->dbCheck = 0;
}

/* Drops the cached statements of the table whose create op is aHash. */
static void check_forget_slot(BecCrdt *pC, const u8 *aHash){
  CheckTab *a = (CheckTab*)pC->pCheckCache;
  int i;
  for(i=0; a && i<CHECK_CACHE; i++){
    if( a[i].pIns && memcmp(a[i].aHash, aHash, BEC_HASH_BYTES)==0 ){
      checktab_clear(&a[i]);
    }
  }
}

/* Opens the private connection on first use. */
static int check_db(BecCrdt *pC, char **pzErr){
  int rc;
  if( pC->dbCheck ) return SQLITE_OK;
  pC->pCheckCache = sqlite3_malloc64(sizeof(CheckTab)*CHECK_CACHE);
  if( pC->pCheckCache==0 ) return SQLITE_NOMEM;
  memset(pC->pCheckCache, 0, sizeof(CheckTab)*CHECK_CACHE);
  rc = sqlite3_open_v2(":memory:", &pC->dbCheck,
                       SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0);
  if( rc ){
    *pzErr = sqlite3_mprintf("bec: cannot open the connection that evaluates "
                             "CHECK constraints: %s", sqlite3_errstr(rc));
    check_db_close(pC);
  }
  return rc;
}

/* "CREATE TABLE <zName>(<columns of s with their types>" without the
** closing parenthesis, into b. */
static void check_table_sql(const BecSchema *s, const char *zName, BecBuf *b,
                            int *pRc){
  int i;
  bec_buf_appendf(b, pRc, "CREATE TABLE %s(", zName);
  for(i=0; i<s->nCol; i++){
    char *zId = bec_sql_ident(s->aCol[i].zName, 0);
    if( zId==0 && *pRc==SQLITE_OK ) *pRc = SQLITE_NOMEM;
    bec_buf_appendf(b, pRc, "%s%s %s%s", i ? ", " : "", zId ? zId : "",
                    bec_type_sql(&s->aCol[i]), bec_collate_sql(&s->aCol[i]));
    sqlite3_free(zId);
  }
}

/* The functions a CHECK may call (../shared/INVARIANTS.md section 5,
** version 1): deterministic on every replica whatever SQLite's version,
** compile options or the application's overrides. */
static const char *const azCheckFunc[] = {
  "abs", "char", "coalesce", "glob", "hex", "ifnull", "iif", "instr",
  "length", "likely", "unlikely", "likelihood", "ltrim", "max", "min",
  "nullif", "replace", "rtrim", "substr", "trim", "typeof", "unicode", 0
};

typedef struct Analyze Analyze;
struct Analyze {
  const BecSchema *s;
  u8 aRead[BEC_TABLE_MAX_COL/8];
  char *zWhy;                  /* the first refusal */
};

static int analyze_auth(void *pArg, int eAction, const char *z1,
                        const char *z2, const char *z3, const char *z4){
  Analyze *a = (Analyze*)pArg;
  int i;
  (void)z3; (void)z4;
  if( a->zWhy ) return SQLITE_DENY;
  switch( eAction ){
    case SQLITE_SELECT:
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      for(i=0; azCheckFunc[i]; i++){
        if( z2 && sqlite3_stricmp(z2, azCheckFunc[i])==0 ) return SQLITE_OK;
      }
      a->zWhy = sqlite3_mprintf("function %s() is not allowed in a CHECK (it "
          "could give different results on different replicas; allowed: abs, "
          "char, coalesce, glob, hex, ifnull, iif, instr, length, likely, "
          "unlikely, likelihood, ltrim, max, min, nullif, replace, rtrim, "
          "substr, trim, typeof, unicode)", z2 ? z2 : "?");
      return SQLITE_DENY;
    case SQLITE_READ:
      if( z1 && sqlite3_stricmp(z1, "t")==0 && z2 ){
        for(i=0; i<a->s->nCol; i++){
          if( sqlite3_stricmp(a->s->aCol[i].zName, z2)==0 ){
            a->aRead[i/8] |= (u8)(1<<(i%8));
            return SQLITE_OK;
          }
        }
      }
      a->zWhy = sqlite3_mprintf("a CHECK reads only columns of its own row");
      return SQLITE_DENY;
    default:
      a->zWhy = sqlite3_mprintf("a CHECK is an expression over the row's "
                                "columns only");
      return SQLITE_DENY;
  }
}

/* 1 if z has balanced parentheses outside its literals and quoted names,
** every literal closed, and no ';': it cannot end the clause it is put in. */
static int check_text_balanced(const char *z){
  int depth = 0;
  while( *z ){
    char q = *z;
    const char *zEnd = bec_sql_skip_quoted(z);
    if( zEnd==0 ) return 0;
    if( zEnd!=z ){
      z = zEnd;
    }else if( q=='(' ){
      depth++;
    }else if( q==')' ){
      if( --depth<0 ) return 0;
    }else if( q==';' || (q=='-' && z[1]=='-') || (q=='/' && z[1]=='*') ){
      return 0;
    }
    z++;
  }
  return depth==0;
}

/* Judges CHECK zExpr of table s: *pzWhy 0 and aRead the columns it reads,
** or why it is refused. */
static int check_analyze(BecCrdt *pC, const BecSchema *s, const char *zExpr,
                         u8 *aRead, char **pzWhy){
  sqlite3 *db;
  sqlite3_stmt *pStmt = 0;
  BecBuf b;
  Analyze an;
  char *zErr = 0;
  int rc = check_db(pC, &zErr);
  *pzWhy = 0;
  if( rc ){
    sqlite3_free(zErr);
    return rc;
  }
  db = pC->dbCheck;
  if( !check_text_balanced(zExpr) ){
    *pzWhy = sqlite3_mprintf("CHECK (%s): unbalanced parentheses or quotes, "
                             "a ';' or a comment", zExpr);
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  memset(&b, 0, sizeof(b));
  memset(&an, 0, sizeof(an));
  an.s = s;
  /* SQLite's own refusals first: subqueries, parameters, aggregates and
  ** window functions in a CHECK, unknown columns, syntax. */
  bec_buf_appendf(&b, &rc, "DROP TABLE IF EXISTS t; DROP TABLE IF EXISTS c; ");
  check_table_sql(s, "c", &b, &rc);
  bec_buf_appendf(&b, &rc, ", CHECK(%s)); ", zExpr);
  check_table_sql(s, "t", &b, &rc);
  bec_buf_appendf(&b, &rc, ")");
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK && sqlite3_exec(db, (const char*)b.a, 0, 0, 0)!=SQLITE_OK ){
    *pzWhy = sqlite3_mprintf("CHECK (%s): %s", zExpr, sqlite3_errmsg(db));
    bec_buf_free(&b);
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  b.n = 0;
  bec_buf_appendf(&b, &rc, "SELECT (%s) FROM t", zExpr);
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ){
    const char *zTail = 0;
    int rcP;
    sqlite3_set_authorizer(db, analyze_auth, &an);
    rcP = sqlite3_prepare_v2(db, (const char*)b.a, -1, &pStmt, &zTail);
    sqlite3_set_authorizer(db, 0, 0);
    if( an.zWhy ){
      *pzWhy = sqlite3_mprintf("CHECK (%s): %s", zExpr, an.zWhy);
    }else if( rcP ){
      *pzWhy = sqlite3_mprintf("CHECK (%s): %s", zExpr, sqlite3_errmsg(db));
    }else if( (zTail && *zTail) || sqlite3_column_count(pStmt)!=1
           || sqlite3_bind_parameter_count(pStmt)!=0 ){
      *pzWhy = sqlite3_mprintf("CHECK (%s): not one expression", zExpr);
    }else{
      memcpy(aRead, an.aRead, sizeof(an.aRead));
    }
    sqlite3_free(an.zWhy);
    sqlite3_finalize(pStmt);
  }
  sqlite3_exec(db, "DROP TABLE IF EXISTS t; DROP TABLE IF EXISTS c", 0, 0, 0);
  bec_buf_free(&b);
  return rc;
}

/* The cached statements of table s (create op aHash) in the private
** connection, prepared on first use. */
static int check_tab(BecCrdt *pC, const u8 *aHash, const BecSchema *s,
                     CheckTab **pp, char **pzErr){
  CheckTab *a;
  BecBuf b;
  char zName[24];
  int rc = check_db(pC, pzErr), i, iSlot = 0;
  *pp = 0;
  if( rc ) return rc;
  a = (CheckTab*)pC->pCheckCache;
  for(i=0; i<CHECK_CACHE; i++){
    if( a[i].pIns && memcmp(a[i].aHash, aHash, BEC_HASH_BYTES)==0 ){
      a[i].bUsed = 1;
      *pp = &a[i];
      return SQLITE_OK;
    }
  }
  /* a free slot, else the first not used since the last eviction (a
  ** full cache only costs a prepare: never an error) */
  for(i=0; i<2*CHECK_CACHE; i++){
    iSlot = i % CHECK_CACHE;
    if( a[iSlot].pIns==0 || !a[iSlot].bUsed ) break;
    a[iSlot].bUsed = 0;
  }
  checktab_clear(&a[iSlot]);
  memcpy(a[iSlot].aHash, aHash, BEC_HASH_BYTES);
  {
    char zHex[2*BEC_HASH_BYTES+1];
    bec_hex_encode(aHash, 8, zHex);
    sqlite3_snprintf((int)sizeof(zName), zName, "t%.16s", zHex);
  }
  memset(&b, 0, sizeof(b));
  bec_buf_appendf(&b, &rc, "DROP TABLE IF EXISTS %s; ", zName);
  check_table_sql(s, zName, &b, &rc);
  bec_buf_appendf(&b, &rc, ")");
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ) rc = sqlite3_exec(pC->dbCheck, (const char*)b.a, 0, 0, 0);
  for(i=-3; rc==SQLITE_OK && i<s->nCheck; i++){
    sqlite3_stmt **ppS = i==-3 ? &a[iSlot].pIns : i==-2 ? &a[iSlot].pSel
                       : i==-1 ? &a[iSlot].pDel : &a[iSlot].apCheck[i];
    int k;
    b.n = 0;
    if( i==-3 ){
      bec_buf_appendf(&b, &rc, "INSERT INTO %s VALUES(", zName);
      for(k=0; k<s->nCol; k++) bec_buf_appendf(&b, &rc, "%s?%d", k ? "," : "", k+1);
      bec_buf_appendf(&b, &rc, ")");
    }else if( i==-2 ){
      bec_buf_appendf(&b, &rc, "SELECT * FROM %s", zName);
    }else if( i==-1 ){
      bec_buf_appendf(&b, &rc, "DELETE FROM %s", zName);
    }else{
      /* As SQLite: a CHECK fails when its value is false; NULL passes. */
      bec_buf_appendf(&b, &rc, "SELECT coalesce(NOT (%s), 0) FROM %s",
                      s->aCheck[i].zExpr, zName);
    }
    bec_buf_append_u8(&b, 0, &rc);
    if( rc==SQLITE_OK ){
      rc = sqlite3_prepare_v3(pC->dbCheck, (const char*)b.a, -1,
                              SQLITE_PREPARE_PERSISTENT, ppS, 0);
    }
    if( i>=0 ) a[iSlot].nCheck = i+1;
  }
  bec_buf_free(&b);
  if( rc ){
    if( *pzErr==0 ){
      *pzErr = sqlite3_mprintf("bec: cannot prepare the CHECKs of table %s: %s",
                               s->zName, sqlite3_errmsg(pC->dbCheck));
    }
    checktab_clear(&a[iSlot]);
    return rc;
  }
  a[iSlot].bUsed = 1;
  *pp = &a[iSlot];
  return SQLITE_OK;
}

/* 1 if two values are the same value of the same storage class. */
static int value_same(const BecValue *a, const BecValue *b){
  if( a->eType!=b->eType ) return 0;
  switch( a->eType ){
    case BEC_VAL_INT:  return a->i==b->i;
    case BEC_VAL_REAL: return memcmp(&a->r, &b->r, sizeof(double))==0;
    case BEC_VAL_TEXT:
    case BEC_VAL_BLOB:
      return a->n==b->n && (a->n==0 || memcmp(a->a, b->a, (size_t)a->n)==0);
    default:           return 1;
  }
}

/* Whether CHECK k of s applies to a change writing abSet: every column it
** reads is written (the merge-group rule makes it all or none for the
** non-key ones; key columns are always there). */
static int check_applies(const BecSchema *s, const BecCheck *k, const u8 *abSet){
  int i;
  for(i=0; i<s->nCol; i++){
    if( BEC_MASK_HAS(k->aRead, i) && !abSet[i] ) return 0;
  }
  return 1;
}

/* Evaluates the CHECKs of s that apply to the values aVal/abSet: *piFail
** the first failing one, or -1.  With bType, also sets *piType to the
** first column read by a CHECK whose value the column's affinity would
** change (a form no plain table holds: the CHECK would judge another value
** than the one shown), else -1.  eWhich: 1 one-column CHECKs, 2 group
** CHECKs. */
static int check_eval(BecCrdt *pC, const u8 *aHash, const BecSchema *s,
                      const BecValue *aVal, const u8 *abSet, int eWhich,
                      int *piType, int *piFail, char **pzErr){
  CheckTab *c = 0;
  int rc, i, bAny = 0;
  *piFail = -1;
  if( piType ) *piType = -1;
  for(i=0; i<s->nCheck; i++){
    const BecCheck *k = &s->aCheck[i];
    if( (k->nReadNk>1)==(eWhich==2) && check_applies(s, k, abSet) ) bAny = 1;
  }
  if( !bAny ) return SQLITE_OK;
  rc = check_tab(pC, aHash, s, &c, pzErr);
  if( rc ) return rc;
  for(i=0; i<s->nCol; i++){
    if( abSet[i] ) bec_value_bind(c->pIns, i+1, &aVal[i]);
    else sqlite3_bind_null(c->pIns, i+1);
  }
  sqlite3_step(c->pIns);
  rc = sqlite3_reset(c->pIns);
  sqlite3_clear_bindings(c->pIns);
  if( rc==SQLITE_OK && piType ){
    if( sqlite3_step(c->pSel)==SQLITE_ROW ){
      for(i=0; i<s->nCol && *piType<0; i++){
        int j, bRead = 0;
        BecValue v;
        if( !abSet[i] ) continue;
        for(j=0; j<s->nCheck; j++){
          if( BEC_MASK_HAS(s->aCheck[j].aRead, i)
           && check_applies(s, &s->aCheck[j], abSet) ) bRead = 1;
        }
        if( !bRead ) continue;
        value_from_column(c->pSel, i, &v);
        if( !value_same(&v, &aVal[i]) ) *piType = i;
      }
    }
    rc = sqlite3_reset(c->pSel);
  }
  for(i=0; rc==SQLITE_OK && i<s->nCheck && *piFail<0; i++){
    const BecCheck *k = &s->aCheck[i];
    if( (k->nReadNk>1)!=(eWhich==2) || !check_applies(s, k, abSet) ) continue;
    if( sqlite3_step(c->apCheck[i])==SQLITE_ROW
     && sqlite3_column_int(c->apCheck[i], 0) ){
      *piFail = i;
    }
    rc = sqlite3_reset(c->apCheck[i]);
  }
  sqlite3_step(c->pDel);
  bec_stmt_reset(c->pDel, &rc);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot evaluate the CHECKs of table %s: %s",
                             s->zName, sqlite3_errmsg(pC->dbCheck));
  }
  return rc;
}

/* bec_crdt_constraints for a schema of one op: a create's own columns, or
** an ADD op's one column (the CHECK texts name columns as that op did). */
static int constraints_of(BecCtx *p, const u8 *aSchemaHash, const BecSchema *s,
                          const BecValue *aVal, const u8 *abSet, int *peRule,
                          int *piWhich, char **pzErr){
  BecCrdt *pC = 0;
  int rc, i, g, iType = -1, iFail = -1;
  *peRule = BEC_RULE_OK;
  *piWhich = -1;
  if( !s->bConstrained ) return SQLITE_OK;
  rc = bec_crdt_get(p, &pC);
  if( rc ) return rc;
  for(i=0; i<s->nCol; i++){
    if( abSet[i] && !bec_value_strict_ok(&s->aCol[i], &aVal[i]) ){
      *peRule = BEC_RULE_TYPE;
      *piWhich = i;
      return SQLITE_OK;
    }
  }
  /* (one evaluation judges the forms and the one-column CHECKs) */
  rc = check_eval(pC, aSchemaHash, s, aVal, abSet, 1, &iType, &iFail, pzErr);
  if( rc ) return rc;
  if( iType>=0 ){
    *peRule = BEC_RULE_TYPE;
    *piWhich = iType;
    return SQLITE_OK;
  }
  for(i=0; i<s->nCol; i++){
    if( abSet[i]==2 && (s->aCol[i].flags & BEC_COL_NOTNULL)
     && aVal[i].eType==BEC_VAL_NULL ){
      *peRule = BEC_RULE_NOTNULL;
      *piWhich = i;
      return SQLITE_OK;
    }
  }
  if( iFail>=0 ){
    *peRule = BEC_RULE_CHECK;
    *piWhich = iFail;
    return SQLITE_OK;
  }
  for(g=0; g<s->nGroup; g++){
    int nIn = 0, nSet = 0;
    for(i=0; i<s->nCol; i++){
      if( s->aCol[i].iGroup!=g ) continue;
      nIn++;
      if( abSet[i]==2 ) nSet++;
    }
    if( nSet>0 && nSet<nIn ){
      *peRule = BEC_RULE_GROUP;
      *piWhich = g;
      return SQLITE_OK;
    }
  }
  if( s->nGroup ){
    rc = check_eval(pC, aSchemaHash, s, aVal, abSet, 2, 0, &iFail, pzErr);
    if( rc==SQLITE_OK && iFail>=0 ){
      *peRule = BEC_RULE_GCHECK;
      *piWhich = iFail;
    }
  }
  return rc;
}

int bec_crdt_constraints(BecCtx *p, const u8 *aSchemaHash, const BecSchema *s,
                         const BecValue *aVal, const u8 *abSet, int *peRule,
                         int *piWhich, char **pzErr){
  BecSchema base = s->pBase ? *s->pBase : *s;
  int rc, i, iCheck = s->nBaseCheck;
  *peRule = BEC_RULE_OK;
  *piWhich = -1;
  if( !s->bConstrained ) return SQLITE_OK;
  /* The create's own columns: its schema as the op made it (its CHECKs
  ** name columns so, whatever they are called now). */
  base.nCol = s->nBase;
  base.nCheck = s->nBaseCheck;
  rc = constraints_of(p, aSchemaHash, &base, aVal, abSet, peRule, piWhich,
                      pzErr);
  /* Each added column: its ADD op's schema, in column order. */
  for(i=s->nBase; rc==SQLITE_OK && *peRule==BEC_RULE_OK && i<s->nCol; i++){
    const BecSchema *pA = s->apAdd ? s->apAdd[i-s->nBase] : 0;
    int iW = -1;
    if( pA==0 ) continue;
    if( abSet[i] ){
      rc = constraints_of(p, &s->aAddHash[(i-s->nBase)*BEC_HASH_BYTES], pA,
                          &aVal[i], &abSet[i], peRule, &iW, pzErr);
      if( *peRule==BEC_RULE_TYPE || *peRule==BEC_RULE_NOTNULL ) *piWhich = i;
      else if( *peRule ) *piWhich = iCheck + iW;
    }
    iCheck += pA->nCheck;
  }
  return rc;
}

/* "t.c" for one column of mask aRead (or of group g if aRead is 0), else
** "t(c1, c2)": how reasons name what a rule is about. */
static void rule_target(BecBuf *b, const BecSchema *s, const u8 *aRead, int g,
                        int *pRc){
  int i, n = 0, k = 0;
  for(i=0; i<s->nCol; i++){
    if( aRead ? BEC_MASK_HAS(aRead, i) : s->aCol[i].iGroup==g ) n++;
  }
  bec_buf_appendf(b, pRc, "%s%s", s->zName, n==1 ? "." : "(");
  for(i=0; i<s->nCol; i++){
    if( aRead ? BEC_MASK_HAS(aRead, i) : s->aCol[i].iGroup==g ){
      bec_buf_appendf(b, pRc, "%s%s", k++ ? ", " : "", s->aCol[i].zName);
    }
  }
  if( n!=1 ) bec_buf_appendf(b, pRc, ")");
}

/* The reason of rule eRule broken at iWhich: "constraint: CHECK todos.done"
** (sqlite3_free it; 0 if out of memory). */
static char *rule_reason(const BecSchema *s, int eRule, int iWhich){
  BecBuf b;
  int rc = SQLITE_OK;
  u8 aOne[BEC_TABLE_MAX_COL/8];
  memset(&b, 0, sizeof(b));
  memset(aOne, 0, sizeof(aOne));
  if( eRule==BEC_RULE_TYPE || eRule==BEC_RULE_NOTNULL
   || eRule==BEC_RULE_STEP ){
    aOne[iWhich/8] = (u8)(1<<(iWhich%8));
  }
  switch( eRule ){
    case BEC_RULE_TYPE:
      bec_buf_appendf(&b, &rc, "constraint: type ");
      rule_target(&b, s, aOne, 0, &rc);
      break;
    case BEC_RULE_NOTNULL:
      bec_buf_appendf(&b, &rc, "constraint: NOT NULL ");
      rule_target(&b, s, aOne, 0, &rc);
      break;
    case BEC_RULE_STEP:
      bec_buf_appendf(&b, &rc, "constraint: counter step ");
      rule_target(&b, s, aOne, 0, &rc);
      break;
    case BEC_RULE_GROUP:
      bec_buf_appendf(&b, &rc, "constraint: merge group ");
      rule_target(&b, s, 0, iWhich, &rc);
      break;
    default:
      bec_buf_appendf(&b, &rc, "constraint: CHECK ");
      rule_target(&b, s, s->aCheck[iWhich].aRead, 0, &rc);
      break;
  }
  bec_buf_append_u8(&b, 0, &rc);
  if( rc ){
    bec_buf_free(&b);
    return 0;
  }
  return (char*)b.a;
}

static int deny_all(void *pArg, int eAction, const char *z1, const char *z2,
                    const char *z3, const char *z4){
  (void)pArg; (void)z1; (void)z2; (void)z3; (void)z4;
  return eAction==SQLITE_SELECT ? SQLITE_OK : SQLITE_DENY;
}

int bec_crdt_default_value(BecCtx *p, const char *z, int n, sqlite3_value **ppVal,
                           char **pzWhy){
  BecCrdt *pC = 0;
  sqlite3_stmt *pStmt = 0;
  char *zSql = 0;
  int rc = bec_crdt_get(p, &pC);
  *ppVal = 0;
  *pzWhy = 0;
  if( rc==SQLITE_OK ) rc = check_db(pC, pzWhy);
  if( rc ) return rc;
  zSql = sqlite3_mprintf("SELECT %.*s", n, z);
  if( zSql==0 ) return SQLITE_NOMEM;
  sqlite3_set_authorizer(pC->dbCheck, deny_all, 0);
  {
    const char *zTail = 0;
    int rcP = sqlite3_prepare_v2(pC->dbCheck, zSql, -1, &pStmt, &zTail);
    sqlite3_set_authorizer(pC->dbCheck, 0, 0);
    if( rcP || pStmt==0 || (zTail && *zTail) || sqlite3_column_count(pStmt)!=1
     || sqlite3_bind_parameter_count(pStmt) ){
      *pzWhy = sqlite3_mprintf("DEFAULT %.*s is not a constant (a number, a "
          "string, a blob, NULL, TRUE or FALSE: the fill must be the same on "
          "every replica)", n, z);
    }else if( sqlite3_step(pStmt)==SQLITE_ROW ){
      *ppVal = sqlite3_value_dup(sqlite3_column_value(pStmt, 0));
      if( *ppVal==0 ) rc = SQLITE_NOMEM;
    }else{
      rc = sqlite3_reset(pStmt);
      if( rc==SQLITE_OK ) rc = SQLITE_ERROR;
      *pzWhy = sqlite3_mprintf("DEFAULT %.*s: %s", n, z,
                               sqlite3_errmsg(pC->dbCheck));
    }
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zSql);
  if( rc==SQLITE_OK && *ppVal==0 && *pzWhy==0 ) rc = SQLITE_NOMEM;
  return rc;
}

int bec_crdt_schema_judge(BecCtx *p, BecSchema *s, BecSchemaDecl *pD,
                          int bFill, char **pzWhy){
  BecCrdt *pC = 0;
  BecValue aVal[BEC_TABLE_MAX_COL];
  u8 abSet[BEC_TABLE_MAX_COL];
  char *zErr = 0;
  int rc, i, j;
  *pzWhy = 0;
  rc = bec_crdt_get(p, &pC);
  if( rc ) return rc;
  for(i=0; rc==SQLITE_OK && i<s->nCheck && *pzWhy==0; i++){
    u8 aRead[BEC_TABLE_MAX_COL/8];
    memset(aRead, 0, sizeof(aRead));
    rc = check_analyze(pC, s, s->aCheck[i].zExpr, aRead, pzWhy);
    if( rc || *pzWhy ) break;
    if( bFill ){
      memcpy(pD->aCheck[i].aRead, aRead, sizeof(aRead));
    }else if( memcmp(aRead, s->aCheck[i].aRead, sizeof(aRead)) ){
      *pzWhy = sqlite3_mprintf("CHECK (%s) reads other columns than the op "
                               "records", s->aCheck[i].zExpr);
    }
  }
  if( rc==SQLITE_OK && *pzWhy==0 && bFill ) rc = bec_schema_constrain(s, pD);
  if( rc || *pzWhy ) return rc;
  {
    char *zWhy = 0;
    if( bec_schema_check(s, &zWhy) ){
      *pzWhy = zWhy ? zWhy : sqlite3_mprintf("invalid schema");
      return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
    }
  }
  for(i=0; i<s->nCheck; i++){
    const BecCheck *k = &s->aCheck[i];
    int nKey = 0;
    for(j=0; j<s->nCol; j++){
      if( BEC_MASK_HAS(k->aRead, j) && s->aCol[j].iPk ) nKey++;
    }
    if( nKey && k->nReadNk ){
      *pzWhy = sqlite3_mprintf("CHECK (%s) reads key and non-key columns: a "
          "column that falls back to its DEFAULT would not be checked against "
          "the row's key (check key columns and other columns separately)",
          k->zExpr);
      return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
    }
  }
  /* The fill: every DEFAULT (NULL without one) passes every CHECK. */
  for(i=0; i<s->nCol; i++){
    aVal[i] = s->aCol[i].dflt;
    abSet[i] = s->aCol[i].iPk ? 0 : 2;
  }
  for(i=0; rc==SQLITE_OK && i<2 && *pzWhy==0; i++){
    u8 aHash[BEC_HASH_BYTES];
    int iFail = -1;
    /* (a table being judged has no op yet: its name keys the cache slot,
    ** which is dropped afterwards) */
    memset(aHash, 0, sizeof(aHash));
    aHash[0] = 0xff;
    rc = check_eval(pC, aHash, s, aVal, abSet, i+1, 0, &iFail, &zErr);
    if( rc==SQLITE_OK && iFail>=0 ){
      *pzWhy = sqlite3_mprintf("the DEFAULTs fail CHECK (%s): a row whose "
          "columns have no write left shows them", s->aCheck[iFail].zExpr);
      if( *pzWhy==0 ) rc = SQLITE_NOMEM;
    }
    check_forget_slot(pC, aHash);
  }
  if( rc && zErr && *pzWhy==0 ){
    *pzWhy = zErr;              /* (the caller reports rc with it) */
    zErr = 0;
  }
  sqlite3_free(zErr);
  return rc;
}

/**************************************************************************
** Verdicts: which stored ops the merge ignores, and why.
**
** Acceptance (crdt_admit) refuses only what is malformed: bytes
** that do not parse, or a schema without the shape writes are parsed by.
** Everything else is stored, and the merge ignores, whole and identically
** on every replica, an op it cannot apply: a schema op whose names or
** types are not in bec's closed form, or a write that names an op which is
** not a usable create op in its causal past, or carries a value the table
** cannot hold (a NULL or NaN key, a non-integer INTEGER PRIMARY KEY, a
** NaN).  A verdict reads only the op and its causal past (the create ops
** it names are there), so it never depends on arrival order or on which
** tables are live; it is kept in bec_store_ignored.
*/
/* A reason quotes names from a peer's op: every byte of it that is a
** control character or not part of well-formed UTF-8 becomes '?', so that
** bec_ops.reason is always readable text (the same on every replica). */
static void reason_clean(char *z){
  u8 *a = (u8*)z;
  int i = 0, n = (int)strlen(z);
  while( i<n ){
    int c = a[i], k = 0, j;
    u32 cp = 0;
    if( c<0x20 || c==0x7f ){ a[i++] = '?'; continue; }
    if( c<0x80 ){ i++; continue; }
    if( c>=0xc2 && c<=0xdf ){ k = 1; cp = c & 0x1f; }
    else if( c>=0xe0 && c<=0xef ){ k = 2; cp = c & 0x0f; }
    else if( c>=0xf0 && c<=0xf4 ){ k = 3; cp = c & 0x07; }
    for(j=1; k && j<=k; j++){
      if( i+j>=n || (a[i+j] & 0xc0)!=0x80 ){ k = 0; break; }
      cp = (cp<<6) | (a[i+j] & 0x3f);
    }
    if( k==0 || (k==2 && (cp<0x800 || (cp>=0xd800 && cp<=0xdfff)))
     || (k==3 && (cp<0x10000 || cp>0x10ffff)) ){
      a[i++] = '?';
      continue;
    }
    i += k+1;
  }
}

/* *pzReason: 0 if schema s applies, else why not (sqlite3_free it). */
static int verdict_schema(BecCtx *p, BecSchema *s, char **pzReason){
  char *zWhy = 0;
  int rc = bec_crdt_schema_judge(p, s, 0, 0, &zWhy);
  *pzReason = 0;
  if( rc ){
    sqlite3_free(zWhy);
    return rc;
  }
  if( zWhy==0 ) return SQLITE_OK;
  *pzReason = sqlite3_mprintf("ignored: schema: %s", zWhy);
  sqlite3_free(zWhy);
  if( *pzReason ) reason_clean(*pzReason);
  return *pzReason ? SQLITE_OK : SQLITE_NOMEM;
}

/* *pbOk: schema op iSeq (schema s) applies: in bec's closed form, and not
** ignored by its recorded verdict (which judged its CHECKs). */
static int schema_applies(BecCtx *p, int iSeq, const BecSchema *s, int *pbOk){
  sqlite3_stmt *pStmt = 0;
  char *zWhy = 0;
  int rc = bec_schema_check(s, &zWhy);
  sqlite3_free(zWhy);
  *pbOk = 0;
  if( rc ) return SQLITE_OK;
  rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_ignored WHERE seq=?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSeq);
  *pbOk = sqlite3_step(pStmt)!=SQLITE_ROW;
  return sqlite3_reset(pStmt);
}

/* *pbAdmin: the author of an op whose causal past pAnc answers holds a
** potential admin grant there (docs/membership.md: a create by it, or an
** add of it as admin), as write='admin' tables require at acceptance. */
static int past_admin_grant(const BecGraph *g, Anc *pAnc, int iAuthor,
                            int *pbAdmin){
  int rc = SQLITE_OK, i;
  *pbAdmin = 0;
  for(i=g->nNode; rc==SQLITE_OK && i>=1 && !*pbAdmin; i--){
    const BecNode *n = &g->aNode[i];
    if( (n->kind==BEC_KIND_CREATE && n->iAuthor==iAuthor)
     || (n->kind==BEC_KIND_ADD && n->iTarget==iAuthor
         && n->role==BEC_ROLE_ADMIN) ){
      if( anc_covers(pAnc, i, &rc) ) *pbAdmin = 1;
    }
  }
  return rc;
}

/* *pg: the graph, loaded now for a question an Anc without one (bAll,
** crdt_admit's covering op) cannot answer from storage. */
static int anc_graph(BecCtx *p, Anc *pAnc, const BecGraph **pg, char **pzErr){
  BecGraph *g = 0;
  int rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ){
    pAnc->g = g;
    *pg = g;
  }
  return rc;
}

/* Sets the first reason only; later ones are dropped. */
static void reason_set(char **pzReason, int *pRc, const char *zFmt, ...){
  va_list ap;
  if( *pzReason || *pRc ) return;
  va_start(ap, zFmt);
  *pzReason = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  if( *pzReason==0 ) *pRc = SQLITE_NOMEM;
  else reason_clean(*pzReason);
}

/* e2ee: *pzLock (sqlite3_free it) is the reason schema or write op x is
** ignored with when it is locked ("locked: ..."), else 0. */
static int locked_reason(BecCtx *p, int x, char **pzLock){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT reason FROM bec_store_ignored WHERE seq=?1"
                           " AND reason LIKE 'locked: %'", &pStmt);
  *pzLock = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, x);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *pzLock = sqlite3_mprintf("%s", (const char*)sqlite3_column_text(pStmt, 0));
    if( *pzLock==0 ) rc = SQLITE_NOMEM;
  }
  sqlite3_reset(pStmt);
  return rc;
}

int bec_crdt_locked_among(BecCtx *p, const u8 *aMark, int nMark, int *piSeq,
                          char **pzReason){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT seq, reason FROM bec_store_ignored"
                           " WHERE reason LIKE 'locked: %' ORDER BY seq", &pStmt);
  *piSeq = 0;
  if( pzReason ) *pzReason = 0;
  if( rc ) return rc;
  while( *piSeq==0 && sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0);
    if( x>=1 && x<nMark && aMark[x] ){
      *piSeq = x;
      if( pzReason ){
        *pzReason = sqlite3_mprintf("%s", (const char*)sqlite3_column_text(pStmt, 1));
        if( *pzReason==0 ) rc = SQLITE_NOMEM;
      }
    }
  }
  bec_stmt_reset(pStmt, &rc);
  return rc;
}

/* *piSeq: the create op aCreate that an alter op (ADD, RENAME or DROP
** COLUMN, RENAME TO) alters or a drop lists, if it is a create op in the
** causal past pAnc answers that the merge applies (*ppCreate: its schema,
** if ppCreate is not 0); else 0 with *pzReason why (zWhat: "alter",
** "drop"). */
static int add_target(BecCtx *p, const BecGraph *g, Anc *pAnc,
                      const u8 *aCreate, const char *zWhat, int *piSeq,
                      BecSchema **ppCreate, char **pzReason){
  BecSchema *pC = 0;
  char *zErr = 0;
  int rc, iSeq = 0, bOk = 0;
  *piSeq = 0;
  if( ppCreate ) *ppCreate = 0;
  rc = bec_dag_seq_of(p, aCreate, &iSeq);
  if( rc ) return rc;
  if( iSeq<1 || iSeq>g->nNode || !anc_covers(pAnc, iSeq, &rc) ){
    if( rc ) return rc;
    reason_set(pzReason, &rc, "ignored: %s of a table whose create op is "
               "not in the op's causal past", zWhat);
    return rc;
  }
  if( g->aNode[iSeq].kind==BEC_KIND_SCHEMA ){
    rc = load_op_schema(p, iSeq, &pC, 0, &zErr);
    sqlite3_free(zErr);
    if( rc ){
      /* (a locked or undecodable schema op is not a table's) */
      pC = 0;
      rc = SQLITE_OK;
    }
  }
  if( pC && pC->action==BEC_SCHEMA_CREATE ){
    rc = schema_applies(p, iSeq, pC, &bOk);
  }
  if( rc==SQLITE_OK && !bOk ){
    reason_set(pzReason, &rc, "ignored: %s of an op that is not a create "
               "op the merge applies", zWhat);
  }
  if( rc==SQLITE_OK && bOk ){
    *piSeq = iSeq;
    if( ppCreate ){ *ppCreate = pC; pC = 0; }
  }
  bec_schema_free(pC);
  return rc;
}

/* The verdict on alter op s (ADD, RENAME or DROP COLUMN) whose causal past
** pAnc answers: it applies to a create op there that the merge applies;
** an ADD with the table's options, a column of bec's closed form whose
** CHECKs read it alone and pass its DEFAULT; a RENAME or DROP to a column
** of the table in the author's view (the create's and the alter ops of it
** in the op's causal past that the merge does not ignore: view_load), a
** DROP never to a key column or one a CHECK of several columns reads; and
** a new name that no column shown in that view has. */
static int verdict_alter(BecCtx *p, const BecGraph *g, Anc *pAnc, BecSchema *s,
                         char **pzReason){
  BecSchema *pC = 0;
  View v;
  char *zErr = 0;
  const char *zWhat = s->action==BEC_SCHEMA_ADD ? "ADD COLUMN"
                    : s->action==BEC_SCHEMA_RENAME ? "RENAME COLUMN" : "DROP COLUMN";
  const char *zCol = s->nCol ? s->aCol[0].zName : "";
  ViewCol *pT = 0;
  int rc, iSeq = 0, i, nAdd = 0;
  *pzReason = 0;
  memset(&v, 0, sizeof(v));
  rc = add_target(p, g, pAnc, s->aCreate, "alter", &iSeq, &pC, pzReason);
  if( rc || *pzReason ){
    bec_schema_free(pC);
    return rc;
  }
  if( s->action==BEC_SCHEMA_RETABLE ){
    /* RENAME TO: a name in bec's closed form, not reserved.  A name that
    ** another table has is not a reason: the greater op shows it. */
    char *zWhy = 0;
    if( bec_table_name_ok(s->zName, (int)strlen(s->zName), &zWhy) ){
      reason_set(pzReason, &rc, "ignored: schema: RENAME TO: %s",
                 zWhy ? zWhy : "bad name");
    }
    sqlite3_free(zWhy);
    bec_schema_free(pC);
    return rc;
  }
  if( s->action==BEC_SCHEMA_ADD && s->opts!=pC->opts ){
    reason_set(pzReason, &rc, "ignored: schema: ADD COLUMN %s: the table "
               "options differ from table %s's", zCol, pC->zName);
  }
  if( rc==SQLITE_OK && *pzReason==0 && s->action!=BEC_SCHEMA_DROPCOL ){
    rc = verdict_schema(p, s, pzReason);
  }
  if( rc==SQLITE_OK && *pzReason==0 ){
    rc = view_load(p, g, iSeq, pC, pAnc, &v, &zErr);
    sqlite3_free(zErr);
  }
  if( rc || *pzReason ){
    view_free(&v);
    bec_schema_free(pC);
    return rc;
  }
  for(i=0; i<v.nCol; i++){
    if( v.aCol[i].iAdd>=0 && v.aCol[i].bShown ) nAdd++;
    if( s->action!=BEC_SCHEMA_ADD && v.aCol[i].iIdx==s->iTarget
     && memcmp(v.aCol[i].aId, s->aTarget, BEC_HASH_BYTES)==0 ){
      pT = &v.aCol[i];
    }
  }
  if( s->action!=BEC_SCHEMA_ADD && (pT==0 || !pT->bShown) ){
    reason_set(pzReason, &rc, "ignored: schema: %s: table %s has no such "
               "column in the op's causal past", zWhat, pC->zName);
  }else if( s->action!=BEC_SCHEMA_ADD && pT->bKey ){
    /* (key names stay the create's: unique, and never hidden) */
    reason_set(pzReason, &rc, "ignored: schema: %s %s: a key column cannot "
               "be %s", zWhat, pT->zName,
               s->action==BEC_SCHEMA_DROPCOL ? "dropped" : "renamed");
  }else if( s->action==BEC_SCHEMA_DROPCOL && pT->iAdd<0
         && pC->aCol[pT->iIdx].iGroup>=0 ){
    reason_set(pzReason, &rc, "ignored: schema: DROP COLUMN %s: a CHECK of "
               "several columns reads it", pT->zName);
  }else if( s->action==BEC_SCHEMA_ADD && pC->nBase+nAdd>=BEC_TABLE_MAX_COL ){
    reason_set(pzReason, &rc, "ignored: schema: ADD COLUMN %s: table %s has "
               "%d columns already", zCol, pC->zName, BEC_TABLE_MAX_COL);
  }else if( s->action!=BEC_SCHEMA_DROPCOL ){
    for(i=0; i<v.nCol; i++){
      if( v.aCol[i].bShown && &v.aCol[i]!=pT
       && sqlite3_stricmp(v.aCol[i].zName, zCol)==0 ){
        reason_set(pzReason, &rc, "ignored: schema: %s %s%s%s: table %s has a "
                   "column of that name", zWhat, pT ? pT->zName : "",
                   pT ? " TO " : "", zCol, pC->zName);
      }
    }
  }
  view_free(&v);
  bec_schema_free(pC);
  return rc;
}

/* The verdict on drop s whose causal past pAnc answers: every incarnation
** it lists is a create op there that the merge applies (acceptance has
** refused a plaintext drop listing an op outside its causal past). */
static int verdict_drop(BecCtx *p, const BecGraph *g, Anc *pAnc,
                        const BecSchema *s, char **pzReason){
  int rc = SQLITE_OK, i, iSeq = 0;
  char *zWhy = 0;
  *pzReason = 0;
  if( bec_table_name_ok(s->zName, (int)strlen(s->zName), &zWhy) ){
    reason_set(pzReason, &rc, "ignored: schema: %s", zWhy ? zWhy : "bad name");
  }
  sqlite3_free(zWhy);
  for(i=0; rc==SQLITE_OK && *pzReason==0 && i<s->nDrop; i++){
    rc = add_target(p, g, pAnc, &s->aDrop[i*BEC_HASH_BYTES], "drop", &iSeq, 0,
                    pzReason);
  }
  return rc;
}

int bec_crdt_alter_judge(BecCtx *p, BecSchema *pAdd, char **pzWhy){
  BecGraph *g = 0;
  Anc anc;
  char *zErr = 0;
  int rc = bec_graph_get(p, &g, &zErr);
  *pzWhy = 0;
  sqlite3_free(zErr);
  if( rc ) return rc;
  memset(&anc, 0, sizeof(anc));
  anc_init(&anc, g, g->nNode+1, 0, 0, 1);
  rc = verdict_alter(p, g, &anc, pAdd, pzWhy);
  anc_free(&anc);
  if( rc==SQLITE_OK && *pzWhy ){
    /* (as the local statement's error: without the merge's prefix) */
    const char *zPre = "ignored: schema: ";
    if( strncmp(*pzWhy, zPre, strlen(zPre))==0 ){
      memmove(*pzWhy, *pzWhy+strlen(zPre), strlen(*pzWhy+strlen(zPre))+1);
    }
  }
  return rc;
}

/* Replaces *ppS, the schema of create op number iTable of write wr, by the
** schema its changes are read by: the create's own columns, then the
** column of each ADD op the write lists for that table, in that order.
** Each must be an ADD COLUMN of that table in the causal past pAnc answers
** that the merge does not ignore; else *pzReason says which is not. */
static int write_schema(BecCtx *p, const BecGraph *g, Anc *pAnc,
                        const BecWriteReader *wr, int iTable, BecSchema **ppS,
                        char **pzReason){
  const int nAdd = wr->anAdd[iTable];
  BecSchema *apAdd[BEC_ADD_MAX];
  BecSchema *pW = 0;
  int rc = SQLITE_OK, k, n = 0;
  if( nAdd==0 ) return SQLITE_OK;
  for(k=0; rc==SQLITE_OK && k<nAdd; k++){
    const u8 *aH = &wr->aAddHash[(wr->aiAdd[iTable]+k)*BEC_HASH_BYTES];
    BecSchema *pA = 0;
    char *zErr = 0;
    int iSeq = 0, bOk = 0;
    int kind = 0;
    rc = bec_dag_seq_of(p, aH, &iSeq);
    if( rc==SQLITE_OK && iSeq>=1 ){
      /* without the graph, the op's past is every stored op (pAnc->bAll) */
      if( g ) kind = iSeq<=g->nNode ? g->aNode[iSeq].kind : 0;
      else rc = bec_dag_node_of(p, iSeq, &kind, 0);
    }
    if( rc==SQLITE_OK && kind==BEC_KIND_SCHEMA && anc_covers(pAnc, iSeq, &rc) ){
      if( load_op_schema(p, iSeq, &pA, 0, &zErr)==SQLITE_OK
       && pA->action==BEC_SCHEMA_ADD
       && memcmp(pA->aCreate, &wr->aTableHash[iTable*BEC_HASH_BYTES],
                 BEC_HASH_BYTES)==0 ){
        rc = schema_applies(p, iSeq, pA, &bOk);
      }
      sqlite3_free(zErr);
    }
    if( rc==SQLITE_OK && !bOk ){
      char zHex[2*BEC_HASH_BYTES+1];
      bec_hex_encode(aH, BEC_HASH_BYTES, zHex);
      reason_set(pzReason, &rc, "ignored: write to table %s names op %.12s, "
                 "not an ADD COLUMN of it in the op's causal past that the "
                 "merge applies", (*ppS)->zName, zHex);
      bec_schema_free(pA);
      pA = 0;
    }
    if( pA ) apAdd[n++] = pA;
    if( *pzReason ) break;
  }
  if( rc==SQLITE_OK && *pzReason==0 ){
    rc = bec_schema_with_adds(*ppS, 0, n, apAdd,
                              &wr->aAddHash[wr->aiAdd[iTable]*BEC_HASH_BYTES], 0, &pW);
    if( rc==SQLITE_RANGE ){
      rc = SQLITE_OK;
      reason_set(pzReason, &rc, "ignored: write to table %s names more added "
                 "columns or CHECKs than a table holds", (*ppS)->zName);
    }else if( rc==SQLITE_OK ){
      n = 0;                    /* (they belong to pW) */
      bec_schema_free(*ppS);
      *ppS = pW;
    }
  }
  for(k=0; k<n; k++) bec_schema_free(apAdd[k]);
  return rc;
}

/* The steps of one op to one counter cell combine (INVARIANTS.md 7: "two
** steps of one transaction to the same cell may be combined"), and the
** combination is a step too, so it must lie in [-(2^63-1), 2^63-1] like any
** step, or the merge's combination would be clamped (inexact).  Each
** counter write of the op is an event (cell, order, step or base); sorted
** by cell then order, the steps since the cell's last base in the op are
** summed exactly. */
typedef struct StepEvent StepEvent;
struct StepEvent {
  const u8 *aKeys;     /* the buffer of cells (set once it is complete) */
  i64 iKey, nKey;      /* the cell: iTable, key, column, in aKeys */
  i64 iOrder;          /* the change's index in the op */
  i64 step;            /* the step (bStep), else an assignment's base */
  int bStep, iTable, iCol;
};
static int step_event_cmp(const void *a, const void *b){
  const StepEvent *x = a, *y = b;
  i64 n = x->nKey<y->nKey ? x->nKey : y->nKey;
  int c = memcmp(x->aKeys + x->iKey, y->aKeys + y->iKey, (size_t)n);
  if( c ) return c;
  if( x->nKey!=y->nKey ) return x->nKey<y->nKey ? -1 : 1;
  return x->iOrder<y->iOrder ? -1 : x->iOrder>y->iOrder;
}
/* *piBad: the index of the first event whose cell's combined step leaves
** the range, -1 if none. */
static void steps_combined(StepEvent *a, int n, const u8 *aKeys, int *piBad){
  BecSum sum = {0, 0};
  int i, bBase = 0;
  *piBad = -1;
  for(i=0; i<n; i++) a[i].aKeys = aKeys;
  if( n>1 ) qsort(a, (size_t)n, sizeof(StepEvent), step_event_cmp);
  for(i=0; i<n && *piBad<0; i++){
    if( i==0 || a[i].nKey!=a[i-1].nKey
     || memcmp(aKeys + a[i].iKey, aKeys + a[i-1].iKey, (size_t)a[i].nKey) ){
      memset(&sum, 0, sizeof(sum));
      bBase = 0;
    }
    if( !a[i].bStep ){ bBase = 1; continue; }  /* a base: a value, clamped */
    if( bBase ) continue;
    bec_sum_add(&sum, a[i].step);
    {
      i64 v = bec_sum_clamp(&sum);
      BecSum back = {0, 0};
      bec_sum_add(&back, v);
      if( v==BEC_I64_MIN || back.hi!=sum.hi || back.lo!=sum.lo ) *piBad = i;
    }
  }
}

/* The rules one change of a write op passes on its values alone (table s,
** aVal where abSet[i]==2, the keys normalized here): a key that is NULL, a
** NaN or, for an INTEGER PRIMARY KEY, not an integer; a NaN; a step to a
** column that is not a counter, a counter's value that is not an integer.
** *pzReason: why the merge ignores the op (left as it is if already set),
** iChange the change's index in it.  The one copy of these rules: every
** replica's verdict (verdict_write) and the local writer's judgment of a
** change as it is made (bec_crdt_local_change, "Local batches") call it. */
static int change_reason(const BecSchema *s, BecValue *aVal, const u8 *abSet,
                         i64 iChange, char **pzReason){
  int rc = SQLITE_OK, k;
  for(k=0; k<s->nPk; k++){
    BecValue *v = &aVal[s->aPk[k]];
    if( !bec_key_normalize(v) ){
      reason_set(pzReason, &rc, "ignored: change %lld: the key of table %s "
                 "is %s", (long long)iChange, s->zName,
                 v->eType==BEC_VAL_NULL ? "NULL" : "a NaN");
    }else if( s->bIntPk && v->eType!=BEC_VAL_INT ){
      reason_set(pzReason, &rc, "ignored: change %lld: the INTEGER PRIMARY "
                 "KEY of table %s is not an integer", (long long)iChange,
                 s->zName);
    }
  }
  for(k=0; k<s->nCol; k++){
    if( abSet[k]==2 && bec_value_is_nan(&aVal[k]) ){
      reason_set(pzReason, &rc, "ignored: change %lld: column %s of table "
                 "%s is a NaN, which no table holds", (long long)iChange,
                 s->aCol[k].zName, s->zName);
    }
  }
  for(k=0; rc==SQLITE_OK && *pzReason==0 && k<s->nCol; k++){
    /* A counter holds integers; a step is a counter's only, and -2^63
    ** has no negation (docs/tables.md, "Counters"). */
    const BecValue *v = &aVal[k];
    int bCounter = (s->aCol[k].flags & BEC_COL_COUNTER)!=0;
    if( abSet[k]==2 && (bCounter ? (v->eType!=BEC_VAL_INT
                                    && (v->eType!=BEC_VAL_STEP
                                        || v->i==BEC_I64_MIN))
                                 : v->eType==BEC_VAL_STEP) ){
      *pzReason = rule_reason(s, BEC_RULE_STEP, k);
      if( *pzReason==0 ) rc = SQLITE_NOMEM;
      else reason_clean(*pzReason);
    }
  }
  return rc;
}

/* Examines a write op whose causal past pAnc answers (its own seq may be
** nNode+1: not stored yet).  If its bytes are malformed: a refusal in
** *pRefuse (acceptance), or, with pRefuse 0, BEC_MALFORMED with *pzErr (a
** stored op: damaged storage).  Otherwise SQLITE_OK with *pzReason 0 (it
** applies) or why the merge ignores it.  eEnv: the envelope pOp's
** plaintext came in (bec_e2ee_envelope), 0 for a plaintext op.
** bJudged: the op is the local transaction's, whose every change this
** connection encoded and found to pass change_reason as it was made, in
** tables the per-change rules need nothing else for (local_judged): the
** changes are not read again (bec_crdt_local_change; the tables' rules,
** which depend on the op's causal past, are judged here as always). */
static int verdict_write(BecCtx *p, const BecGraph *g, Anc *pAnc,
                         const BecOp *pOp, int eEnv, int bJudged,
                         char **pzReason, BecVerdict *pRefuse, char **pzErr){
  /* g may be 0 when pAnc->bAll (an op naming every head, crdt_admit): the
  ** op's past is every stored op, the stored rows answer what a node
  ** would, and the graph is loaded only for what needs a walk (added
  ** columns, a write='admin' table's grant). */
  const int nNode = g ? g->nNode : pAnc->x - 1;
  BecWriteReader wr;
  BecSchema **aSchema = 0;
  BecValue *aVal = 0;
  u8 abSet[BEC_TABLE_MAX_COL];
  BecBuf ev, keys;                /* the op's counter writes (StepEvent) */
  int nLoaded = 0, bParse = 1, bMalformed = 0, rc, i;

  memset(&ev, 0, sizeof(ev));
  memset(&keys, 0, sizeof(keys));

  *pzReason = 0;
  rc = bec_write_open(&wr, pOp->aPayload, pOp->nPayload);
  if( rc ){
    if( pRefuse && pOp->nPayload>0 && pOp->aPayload[0]!=BEC_TABLE_FORMAT ){
      bec_verdict_set(pRefuse, BEC_MALFORMED, "malformed: write payload "
                      "version %d: this bec reads version %d only (%s)",
                      pOp->aPayload[0], BEC_TABLE_FORMAT,
                      pOp->aPayload[0]<BEC_TABLE_FORMAT ? "made by an older "
                      "bec" : "made by a newer bec");
      return SQLITE_OK;
    }
    if( pRefuse ){
      bec_verdict_set(pRefuse, BEC_MALFORMED, "malformed: bad write payload "
                      "header");
      return SQLITE_OK;
    }
    *pzErr = sqlite3_mprintf("malformed: bad write payload header");
    return rc;
  }
  aSchema = sqlite3_malloc64(sizeof(BecSchema*)*(sqlite3_uint64)wr.nTable);
  aVal = sqlite3_malloc64(sizeof(BecValue)*BEC_TABLE_MAX_COL);
  if( aSchema==0 || aVal==0 ) rc = SQLITE_NOMEM;
  for(i=0; rc==SQLITE_OK && i<wr.nTable; i++){
    int iSchema = 0, kind = 0;
    aSchema[i] = 0;
    nLoaded = i+1;
    rc = bec_dag_seq_of(p, &wr.aTableHash[i*BEC_HASH_BYTES], &iSchema);
    if( rc ) break;
    if( iSchema<1 || iSchema>nNode || !anc_covers(pAnc, iSchema, &rc) ){
      reason_set(pzReason, &rc, "ignored: write to a table whose create op "
                 "is not in the op's causal past");
      bParse = 0;
      continue;
    }
    if( g ) kind = g->aNode[iSchema].kind;
    else rc = bec_dag_node_of(p, iSchema, &kind, 0);
    if( rc ) break;
    if( kind!=BEC_KIND_SCHEMA ){
      /* Named by its hash: a seq is a local row number (docs/tables.md). */
      char zHex[2*BEC_HASH_BYTES+1];
      bec_hex_encode(&wr.aTableHash[i*BEC_HASH_BYTES], BEC_HASH_BYTES, zHex);
      reason_set(pzReason, &rc, "ignored: write names op %.12s, not a create "
                 "op", zHex);
      bParse = 0;
      continue;
    }
    {
      /* e2ee: a write to a table whose create op is locked is locked. */
      char *zLock = 0;
      rc = locked_reason(p, iSchema, &zLock);
      if( rc==SQLITE_OK && zLock ){
        sqlite3_free(*pzReason);
        *pzReason = sqlite3_mprintf("%s", "locked: no key");
        if( *pzReason==0 ) rc = SQLITE_NOMEM;
        sqlite3_free(zLock);
        bParse = 0;
        break;
      }
      if( rc ) break;
    }
    rc = load_op_schema(p, iSchema, &aSchema[i], 0, pzErr);
    if( rc ) break;
    if( aSchema[i]->action!=BEC_SCHEMA_CREATE ){
      reason_set(pzReason, &rc, "ignored: write names a drop of table %s, "
                 "not a create op", aSchema[i]->zName);
      bParse = 0;
    }else{
      int bOk = 0;
      rc = schema_applies(p, iSchema, aSchema[i], &bOk);
      if( rc==SQLITE_OK && !bOk ){
        reason_set(pzReason, &rc, "ignored: write to table %s, whose create "
                   "op is ignored", aSchema[i]->zName);
      }
      /* (added columns of an op whose past is every stored op are judged
      ** from storage: write_schema) */
      if( rc==SQLITE_OK && g==0 && ((bOk && wr.anAdd[i]>0 && !pAnc->bAll)
          || (pRefuse && (aSchema[i]->opts & BEC_OPT_ADMIN))) ){
        rc = anc_graph(p, pAnc, &g, pzErr);
      }
      if( rc==SQLITE_OK && bOk ){
        /* the added columns it writes (docs/tables.md, "Schema evolution") */
        char *zWhy = 0;
        rc = write_schema(p, g, pAnc, &wr, i, &aSchema[i], &zWhy);
        if( zWhy ){
          if( *pzReason==0 ){ *pzReason = zWhy; zWhy = 0; }
          sqlite3_free(zWhy);
          bParse = 0;
        }
      }
      if( rc==SQLITE_OK && pRefuse && pRefuse->rc==0
       && (aSchema[i]->opts & BEC_OPT_ADMIN) ){
        /* write='admin': an admin op, refused at acceptance without a
        ** potential admin grant in its causal past (INVARIANTS.md 9). */
        int iAuthor = 0, bAdmin = 0;
        rc = bec_dag_author_id(p, pOp->aAuthor, 0, &iAuthor);
        if( rc==SQLITE_OK ) rc = past_admin_grant(g, pAnc, iAuthor, &bAdmin);
        /* (valid only while that grant is: a concurrent demotion or
        ** removal cancels it, as any admin op's; X10) */
        pRefuse->bAdminOp = 1;
        if( rc==SQLITE_OK && !bAdmin ){
          bec_verdict_set(pRefuse, SQLITE_AUTH, "unauthorized: %s is writable "
                          "by admins only (write='admin')", aSchema[i]->zName);
        }
      }else if( rc==SQLITE_OK && eEnv==BEC_E2EE_ENVELOPE
             && (aSchema[i]->opts & BEC_OPT_ADMIN) ){
        /* Encrypted, the policy was judged at acceptance by the envelope's
        ** admin mark, which every replica reads (crdt_admit): a write to a
        ** write='admin' table without it was admitted as a member's op,
        ** so every key holder ignores it alike. */
        reason_set(pzReason, &rc, "ignored: policy: %s is writable by admins "
                   "only (write='admin') and the op is not marked as an "
                   "admin op", aSchema[i]->zName);
      }
    }
  }
  /* Without every table's shape the changes cannot even be parsed. */
  while( rc==SQLITE_OK && bParse && !bJudged && wr.iChange<wr.nChange ){
    int iTable = 0, bDelete = 0, k;
    const BecSchema *s = 0;
    rc = bec_write_head(&wr, &iTable, &bDelete);
    if( rc==SQLITE_OK ){
      s = aSchema[iTable];
      rc = bec_write_body(&wr, s, bDelete, aVal, abSet);
    }
    if( rc ){
      *pzErr = sqlite3_mprintf("malformed: bad change %lld in write payload",
                               (long long)wr.iChange);
      bMalformed = 1;
      break;
    }
    rc = change_reason(s, aVal, abSet, wr.iChange, pzReason);
    for(k=0; k<s->nCol && !(s->aCol[k].flags & BEC_COL_COUNTER); k++){}
    if( rc==SQLITE_OK && *pzReason==0 && !bDelete && k<s->nCol ){
      /* this change's counter writes, for steps_combined (a cell: the
      ** table, the row's key, the column) */
      BecBuf row;
      int j;
      memset(&row, 0, sizeof(row));
      bec_buf_append(&row, &iTable, sizeof(iTable), &rc);
      for(j=0; j<s->nPk; j++) bec_value_put(&row, &aVal[s->aPk[j]], &rc);
      for(k=0; rc==SQLITE_OK && k<s->nCol; k++){
        StepEvent e;
        if( abSet[k]!=2 || !(s->aCol[k].flags & BEC_COL_COUNTER) ) continue;
        memset(&e, 0, sizeof(e));
        e.iKey = keys.n;
        bec_buf_append(&keys, row.a, row.n, &rc);
        bec_buf_append(&keys, &k, sizeof(k), &rc);
        e.nKey = keys.n - e.iKey;
        e.iOrder = wr.iChange;
        e.bStep = aVal[k].eType==BEC_VAL_STEP;
        e.step = aVal[k].i;
        e.iTable = iTable;
        e.iCol = k;
        bec_buf_append(&ev, &e, sizeof(e), &rc);
      }
      bec_buf_free(&row);
    }
    if( rc==SQLITE_OK && *pzReason==0 && !bDelete && s->bConstrained ){
      int eRule = 0, iWhich = -1;
      rc = bec_crdt_constraints(p, &wr.aTableHash[iTable*BEC_HASH_BYTES], s,
                                aVal, abSet, &eRule, &iWhich, pzErr);
      if( rc==SQLITE_OK && eRule ){
        *pzReason = rule_reason(s, eRule, iWhich);
        if( *pzReason==0 ) rc = SQLITE_NOMEM;
        else reason_clean(*pzReason);
      }
    }
  }
  if( rc==SQLITE_OK && bParse && !bJudged && bec_write_close(&wr) ){
    *pzErr = sqlite3_mprintf("malformed: trailing bytes in write payload");
    rc = BEC_MALFORMED;
    bMalformed = 1;
  }
  if( rc==SQLITE_OK && *pzReason==0 && ev.n>0 ){
    int iBad = -1;
    StepEvent *aEv = (StepEvent*)ev.a;
    steps_combined(aEv, (int)(ev.n/sizeof(StepEvent)), keys.a, &iBad);
    if( iBad>=0 ){
      *pzReason = rule_reason(aSchema[aEv[iBad].iTable], BEC_RULE_STEP,
                              aEv[iBad].iCol);
      if( *pzReason==0 ) rc = SQLITE_NOMEM;
      else reason_clean(*pzReason);
    }
  }
  bec_buf_free(&ev);
  bec_buf_free(&keys);
  for(i=0; i<nLoaded; i++) bec_schema_free(aSchema[i]);
  sqlite3_free(aSchema);
  sqlite3_free(aVal);
  if( rc ){
    sqlite3_free(*pzReason);
    *pzReason = 0;
  }
  if( bMalformed && pRefuse ){
    /* A verdict on the op's bytes, not a failure of this database. */
    bec_verdict_set(pRefuse, BEC_MALFORMED, "%s", *pzErr ? *pzErr
                    : "malformed: bad write payload");
    sqlite3_free(*pzErr);
    *pzErr = 0;
    rc = SQLITE_OK;
  }
  return rc;
}

/* The verdict on stored op x (kind schema or write), from scratch (its
** plaintext, if end-to-end encrypted, else why it is locked). */
static int verdict_plain(BecCtx*, const BecGraph*, int, int, const BecOp*,
                         int, char**, char**);
/* The same, keeping what it opened: *pOpOut is the op with its plaintext
** payload in *ppPlain (the caller wipes and frees it; 0 for a plaintext op
** or a locked one), so that the merge that follows opens nothing again.
** The plaintext lives in memory for the op's acceptance only. */
static int verdict_open(BecCtx *p, const BecGraph *g, int x, int bAll,
                        const BecOp *pOpIn, BecOp *pOpOut, u8 **ppPlain,
                        char **pzReason, char **pzErr){
  const char *zLocked = 0;
  int rc;
  *pzReason = 0;
  *pOpOut = *pOpIn;
  rc = bec_e2ee_open(p, pOpOut, ppPlain, &zLocked, pzErr);
  if( rc==SQLITE_OK && zLocked ){
    *pzReason = sqlite3_mprintf("%s", zLocked);
    return *pzReason ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( rc ) return rc;
  rc = verdict_plain(p, g, x, bAll, pOpOut, bec_e2ee_envelope(pOpIn),
                     pzReason, pzErr);
  if( rc==BEC_MALFORMED && *ppPlain ){
    /* Opened by every holder alike, yet not a payload: undecryptable. */
    sqlite3_free(*pzErr);
    *pzErr = 0;
    sqlite3_free(*pzReason);
    *pzReason = sqlite3_mprintf("%s", bec_e2ee_undecryptable);
    rc = *pzReason ? SQLITE_OK : SQLITE_NOMEM;
  }
  return rc;
}
/* The plaintext of an opened envelope, wiped before it is freed. */
static void plain_free(u8 *aPlain, const BecOp *pOp){
  if( aPlain ){
    bec_crypto_wipe(aPlain, (size_t)pOp->nPayload);
    sqlite3_free(aPlain);
  }
}
static int verdict_stored(BecCtx *p, const BecGraph *g, int x, int bAll,
                          const BecOp *pOpIn, char **pzReason, char **pzErr){
  BecOp op;
  u8 *aPlain = 0;                 /* e2ee: the plaintext of an envelope */
  int rc = verdict_open(p, g, x, bAll, pOpIn, &op, &aPlain, pzReason, pzErr);
  plain_free(aPlain, &op);
  return rc;
}
static int verdict_plain(BecCtx *p, const BecGraph *g, int x, int bAll,
                         const BecOp *pOp, int eEnv, char **pzReason,
                         char **pzErr){
  int rc;
  *pzReason = 0;
  if( pOp->kind==BEC_KIND_SCHEMA ){
    BecSchema *s = 0;
    rc = bec_schema_decode(pOp->aPayload, pOp->nPayload, &s, pzErr);
    if( rc==SQLITE_OK && (s->action>=BEC_SCHEMA_ADD || s->action==BEC_SCHEMA_DROP) ){
      Anc anc;
      memset(&anc, 0, sizeof(anc));
      anc_init(&anc, g, x, BEC_NODE_PREDS(g, x), g->aNode[x].nPred, bAll);
      if( s->action==BEC_SCHEMA_DROP ){
        rc = verdict_drop(p, g, &anc, s, pzReason);
      }else{
        rc = verdict_alter(p, g, &anc, s, pzReason);
      }
      anc_free(&anc);
    }else if( rc==SQLITE_OK ){
      rc = verdict_schema(p, s, pzReason);
    }
    bec_schema_free(s);
  }else{
    Anc anc;
    memset(&anc, 0, sizeof(anc));
    if( g ) anc_init(&anc, g, x, BEC_NODE_PREDS(g, x), g->aNode[x].nPred, bAll);
    else anc_init(&anc, 0, x, 0, 0, 1);       /* (bAll: on_store_op) */
    rc = verdict_write(p, g, &anc, pOp, eEnv, 0, pzReason, 0, pzErr);
    anc_free(&anc);
  }
  return rc;
}

/* Records that the merge ignores op x. */
static int ignore_op(BecCtx *p, int x, const char *zReason){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_ignored(seq, "
                           "reason) VALUES(?1, ?2)", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, x);
  sqlite3_bind_text(pStmt, 2, zReason, (int)strlen(zReason), SQLITE_STATIC);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

/* Records the verdict on every stored schema and write op (an upgrade from
** tables format 1, which had none). */
static int all_ancestors(const BecGraph*, u8**);
static int verdicts_all(BecCtx *p, char **pzErr){
  BecGraph *g = 0;
  sqlite3_stmt *pStmt = 0;
  u8 *aAll = 0;
  int rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = all_ancestors(g, &aAll);
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(p->db, "SELECT seq, body FROM bec_store_op"
                            " WHERE kind IN (5,6) ORDER BY seq", -1, &pStmt, 0);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0);
    char *zReason = 0;
    BecOp op;
    if( x<1 || x>g->nNode ){ rc = SQLITE_CORRUPT; break; }
    rc = bec_op_decode(sqlite3_column_blob(pStmt, 1),
                       sqlite3_column_bytes(pStmt, 1), &op, pzErr);
    if( rc==SQLITE_OK ) rc = verdict_stored(p, g, x, aAll[x], &op, &zReason, pzErr);
    if( rc==SQLITE_OK && zReason ) rc = ignore_op(p, x, zReason);
    sqlite3_free(zReason);
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(aAll);
  return rc;
}

/**************************************************************************
** Showing tables: names taken by local objects.
**
** The merge's state (the winner of every name, columns, verdicts) is a
** function of the ops.  Showing a live table needs two names of the main
** database: "<name>" for the virtual table and "<name>_rows" for its shadow
** table.  The app may have taken one of them with an object of its own (a
** table, a view, an index or a virtual table of another module; triggers
** have names of their own).  Such a table is *hidden* on this replica: its
** schema op still wins its name and writes to it are stored and judged as
** anywhere else, but neither the virtual table nor its rows or conflicts
** exist here, and bec never touches the app's object.  A hidden table is
** shown (created, and its rows rebuilt from the ops) once both names are
** free, when this replica next stores a peer's schema or write op or runs
** bec_check() (show_hidden).
*/
static int sql_ident_char(char c){
  return (c>='a' && c<='z') || (c>='A' && c<='Z') || (c>='0' && c<='9')
      || c=='_' || c=='$' || (c & 0x80);
}

/* Skips white space and comments of SQL text. */
static const char *sql_skip_space(const char *z){
  for(;;){
    if( *z==' ' || *z=='\t' || *z=='\n' || *z=='\r' || *z=='\f' ){
      z++;
    }else if( z[0]=='-' && z[1]=='-' ){
      while( *z && *z!='\n' ) z++;
    }else if( z[0]=='/' && z[1]=='*' ){
      for(z+=2; *z && !(z[0]=='*' && z[1]=='/'); z++){}
      if( *z ) z += 2;
    }else{
      return z;
    }
  }
}

/* Skips one identifier token, quoted or bare; sets *pn to its length. */
static const char *sql_skip_ident(const char *z, int *pn){
  const char *zStart = z;
  char q = *z;
  if( q=='"' || q=='\'' || q=='`' ){
    for(z++; *z; z++){
      if( *z==q ){
        if( z[1]!=q ){ z++; break; }
        z++;
      }
    }
  }else if( q=='[' ){
    while( *z && *z!=']' ) z++;
    if( *z ) z++;
  }else{
    while( sql_ident_char(*z) ) z++;
  }
  *pn = (int)(z-zStart);
  return z;
}

/* 1 if zSql, the sqlite_master text of a table, declares a virtual table
** of module bec.  SQLite stores "CREATE VIRTUAL TABLE " and then the
** statement's own text from the table's name (without its schema) on. */
static int sql_is_bec_vtab(const char *zSql){
  static const char zPre[] = "CREATE VIRTUAL TABLE ";
  const char *z = zSql;
  int n = 0;
  if( z==0 || strncmp(z, zPre, sizeof(zPre)-1) ) return 0;
  z = sql_skip_ident(z + sizeof(zPre)-1, &n);
  z = sql_skip_space(z);
  if( sqlite3_strnicmp(z, "USING", 5) || sql_ident_char(z[5]) ) return 0;
  z = sql_skip_space(z+5);
  z = sql_skip_ident(z, &n);
  if( n==3 ) return sqlite3_strnicmp(z-3, "bec", 3)==0;
  return n==5 && (z[-5]=='[' ? z[-1]==']' : z[-1]==z[-5])
      && sqlite3_strnicmp(z-4, "bec", 3)==0;
}

/* *pbShown: the virtual table zName of module bec exists in main. */
static int tab_shown(BecCtx *p, const char *zName, int *pbShown){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT sql FROM main.sqlite_master "
                           "WHERE type='table' AND name=?1 COLLATE NOCASE", &pStmt);
  *pbShown = 0;
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zName, (int)strlen(zName), SQLITE_STATIC);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    if( sql_is_bec_vtab((const char*)sqlite3_column_text(pStmt, 0)) ) *pbShown = 1;
  }
  return sqlite3_reset(pStmt);
}

int bec_crdt_name_taken(BecCtx *p, const char *zName, char **pzWhy){
  sqlite3_stmt *pStmt = 0;
  char *zRows = sqlite3_mprintf("%s_rows", zName);
  int rc = zRows ? SQLITE_OK : SQLITE_NOMEM;
  *pzWhy = 0;
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT type, name, sql FROM main.sqlite_master "
        "WHERE type IN ('table','view','index') "
        "AND (name=?1 COLLATE NOCASE OR name=?2 COLLATE NOCASE)", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zName, -1, SQLITE_STATIC);
    sqlite3_bind_text(pStmt, 2, zRows, -1, SQLITE_STATIC);
    while( *pzWhy==0 && sqlite3_step(pStmt)==SQLITE_ROW ){
      const char *zType = (const char*)sqlite3_column_text(pStmt, 0);
      const char *zSql = (const char*)sqlite3_column_text(pStmt, 2);
      int bVtab = zSql && strncmp(zSql, "CREATE VIRTUAL", 14)==0;
      /* (xCreate runs once SQLite has entered the table being created) */
      if( sql_is_bec_vtab(zSql)
       && sqlite3_stricmp((const char*)sqlite3_column_text(pStmt, 1), zName)==0 ){
        continue;
      }
      *pzWhy = sqlite3_mprintf("the name %s is taken by a local %s%s",
          (const char*)sqlite3_column_text(pStmt, 1),
          bVtab ? "virtual " : "", zType ? zType : "object");
      if( *pzWhy==0 ) rc = SQLITE_NOMEM;
    }
    bec_stmt_reset(pStmt, &rc);
  }
  sqlite3_free(zRows);
  return rc;
}

/* 1 if create op iSchema is the incarnation its name shows (see "The
** catalog"): live and not hidden by another incarnation. */
static int is_live(BecCtx *p, int iSchema, int *pbLive){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_table WHERE seq=?1", &pStmt);
  *pbLive = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, iSchema);
  *pbLive = sqlite3_step(pStmt)==SQLITE_ROW;
  return sqlite3_reset(pStmt);
}

/* Whether connected table t still shows its incarnation as the ops do
** now (pNow, bec_crdt_load_schema's).  Only the incarnation's alters
** change what it shows: its name (RENAME TO), its columns (ADD COLUMN
** appends, RENAME COLUMN renames, DROP COLUMN and a name taken hide) and
** the CHECKs the added columns bring. */
static int tab_current(const BecTab *t, const BecSchema *pNow){
  const BecSchema *a = t->pSchema;
  int i;
  if( a->nCol!=pNow->nCol || a->nCheck!=pNow->nCheck
   || strcmp(a->zName, pNow->zName) ){
    return 0;
  }
  for(i=0; i<a->nCol; i++){
    if( a->aCol[i].bHidden!=pNow->aCol[i].bHidden
     || a->aCol[i].bDropped!=pNow->aCol[i].bDropped
     || strcmp(a->aCol[i].zName, pNow->aCol[i].zName) ){
      return 0;
    }
  }
  return 1;
}

/* The connected table of incarnation iSchema, connecting it if needed;
** *pp is 0 (and rc SQLITE_OK) if the table is hidden on this replica.
** pNow: the incarnation as the ops show it now (bec_crdt_load_schema).
** A table this connection connected before another connection applied an
** alter of it still shows the old columns (SQLite connects it again only
** when a statement naming it is prepared after the schema changed): the
** merge must not write through it, or the rows lose the new columns.  It
** leaves the list here (SQLite still holds it, and lets go of it when it
** reloads the schema: tab_free then finds it gone) and the table is
** connected again, as the ops show it. */
static int tab_find(BecCtx *p, int iSchema, const BecSchema *pNow, BecTab **pp,
                    char **pzErr){
  BecTab *t, **pt;
  const char *zName = pNow->zName;
  int rc = SQLITE_OK;
  *pp = 0;
  for(pt=&p->pCrdt->pTabList; (t = *pt)!=0; ){
    if( t->iSchema!=iSchema ){
      pt = &t->pNext;
    }else if( tab_current(t, pNow) ){
      *pp = t;
      return SQLITE_OK;
    }else{
      *pt = t->pNext;             /* stale: see above */
      t->pNext = 0;
    }
  }
  {
    int bShown = 0;
    rc = tab_shown(p, zName, &bShown);
    if( rc || !bShown ) return rc;    /* hidden: nothing to write to */
  }
  {
    /* Stepped: a statement notices a schema another connection changed
    ** when it runs, and SQLite then reads the schema again. */
    sqlite3_stmt *pStmt = 0;
    char *zId = bec_sql_ident(zName, 0);
    char *zSql = zId ? sqlite3_mprintf("SELECT 1 FROM main.%s WHERE 0", zId) : 0;
    sqlite3_free(zId);
    if( zSql==0 ) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
    sqlite3_free(zSql);
    if( rc==SQLITE_OK ){
      sqlite3_step(pStmt);
      rc = sqlite3_finalize(pStmt);
    }
  }
  for(t=p->pCrdt->pTabList; rc==SQLITE_OK && t; t=t->pNext){
    if( t->iSchema==iSchema && tab_current(t, pNow) ){ *pp = t; return SQLITE_OK; }
  }
  *pzErr = sqlite3_mprintf("bec: cannot open table %s: %s", zName,
                           rc ? bec_rc_text(p->db, rc) : "not a bec table here");
  return rc ? rc : SQLITE_ERROR;
}

int bec_crdt_has_conflicts(BecTab *t, int *pbHas){
  sqlite3_stmt *pStmt = 0;
  int rc;
  if( t->eConflicts>=0 ){
    *pbHas = t->eConflicts;
    return SQLITE_OK;
  }
  rc = bec_ctx_stmt(t->pCtx, "SELECT 1 FROM bec_store_conflict WHERE tbl=?1 "
                             "LIMIT 1", &pStmt);
  *pbHas = 0;
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, t->iSchema);
  *pbHas = sqlite3_step(pStmt)==SQLITE_ROW;
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK ) t->eConflicts = *pbHas;
  return rc;
}

void bec_crdt_key_from_stmt(BecBuf *pBuf, BecTab *t, sqlite3_stmt *pStmt,
                            int iFirstCol, int *pRc){
  int k;
  for(k=0; k<t->pSchema->nPk; k++){
    bec_value_encode(pBuf, sqlite3_column_value(pStmt,
                     iFirstCol + t->pSchema->aPk[k]), pRc);
  }
}

/**************************************************************************
** The shadow tables "<name>_rows": created here, and written only by the
** merge writer (apply_change).  Their statements are indexed by BEC_TAB_*.
*/
void bec_tab_hold(BecTab *t){
  t->nRef++;
}

void bec_tab_release(BecTab *t){
  if( t && --t->nRef==0 ) t->xFree(t);
}

void bec_tab_stmts_free(BecTab *t){
  int i;
  memset(t->aNewBound, 0, sizeof(t->aNewBound));
  for(i=0; i<BEC_TAB_NSTMT; i++){
    sqlite3_finalize(t->aStmt[i]);
    t->aStmt[i] = 0;
  }
  for(i=0; i<BEC_TAB_NUPD; i++){
    sqlite3_finalize(t->aUpd[i].pStmt);
    t->aUpd[i].pStmt = 0;
  }
  for(i=0; i<BEC_TAB_NBATCH; i++){
    sqlite3_finalize(t->aBatch[i].pStmt);
    t->aBatch[i].pStmt = 0;
  }
}

int bec_crdt_shadow_drop(BecTab *t, char **pzErr){
  char *zSql = sqlite3_mprintf("DROP TABLE IF EXISTS %s", t->zRows);
  int rc;
  /* (no statement may be open on a table that is dropped) */
  bec_tab_stmts_free(t);
  rc = zSql ? bec_ctx_exec(t->pCtx, zSql, pzErr) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  return rc;
}

int bec_crdt_shadow_create(BecTab *t, char **pzErr){
  const BecSchema *s = t->pSchema;
  BecBuf b;
  int rc = SQLITE_OK, i, k;
  memset(&b, 0, sizeof(b));
  bec_buf_appendf(&b, &rc, "DROP TABLE IF EXISTS %s; CREATE TABLE %s(", t->zRows, t->zRows);
  for(i=0; i<s->nCol; i++){
    if( s->bIntPk && s->aCol[i].iPk ){
      bec_buf_appendf(&b, &rc, "c%d INTEGER PRIMARY KEY, ", i);
    }else{
      /* No type: no affinity of SQLite's converts a peer's value, and the
      ** key index's equality is bec's key identity (docs/tables.md). */
      bec_buf_appendf(&b, &rc, "c%d%s, ", i, s->aCol[i].iPk ? " NOT NULL" : "");
    }
  }
  bec_buf_appendf(&b, &rc, "r INTEGER NOT NULL");
  for(i=0; i<s->nCol; i++) if( !s->aCol[i].iPk ) bec_buf_appendf(&b, &rc, ", s%d INTEGER", i);
  if( !s->bIntPk ){
    for(k=0; k<s->nPk; k++) bec_buf_appendf(&b, &rc, "%sc%d", k ? ", " : ", PRIMARY KEY(", s->aPk[k]);
    bec_buf_appendf(&b, &rc, ")");
  }
  bec_buf_appendf(&b, &rc, ")");
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ) rc = bec_ctx_exec(t->pCtx, (const char*)b.a, pzErr);
  bec_buf_free(&b);
  return rc;
}

/* The result columns of SEL_PK and SEL_ROWID: rowid, r, s.., c.. */
static void sel_columns(BecTab *t, BecBuf *b, int *pRc){
  const BecSchema *s = t->pSchema;
  int i;
  bec_buf_appendf(b, pRc, "SELECT rowid, r");
  for(i=0; i<s->nCol; i++) if( !s->aCol[i].iPk ) bec_buf_appendf(b, pRc, ", s%d", i);
  for(i=0; i<s->nCol; i++) bec_buf_appendf(b, pRc, ", c%d", i);
  bec_buf_appendf(b, pRc, " FROM %s", t->zRows);
}

int bec_tab_stmt(BecTab *t, int eStmt, sqlite3_stmt **ppStmt){
  const BecSchema *s = t->pSchema;
  BecBuf b;
  int rc = SQLITE_OK, i, k;
  if( t->aStmt[eStmt] ){
    *ppStmt = t->aStmt[eStmt];
    return SQLITE_OK;
  }
  memset(&b, 0, sizeof(b));
  switch( eStmt ){
    case BEC_TAB_SEL_PK:
      sel_columns(t, &b, &rc);
      for(k=0; k<s->nPk; k++){
        bec_buf_appendf(&b, &rc, "%s c%d=?%d", k ? " AND" : " WHERE", s->aPk[k], k+1);
      }
      break;
    case BEC_TAB_SEL_ROWID:
      sel_columns(t, &b, &rc);
      bec_buf_appendf(&b, &rc, " WHERE rowid=?1");
      break;
    case BEC_TAB_INSERT:
    case BEC_TAB_UPSERT:
      bec_buf_appendf(&b, &rc, "INSERT %sINTO %s(",
                      eStmt==BEC_TAB_INSERT ? "OR FAIL " : "", t->zRows);
      for(i=0; i<s->nCol; i++) bec_buf_appendf(&b, &rc, "c%d, ", i);
      bec_buf_appendf(&b, &rc, "r");
      for(i=0; i<s->nCol; i++) if( !s->aCol[i].iPk ) bec_buf_appendf(&b, &rc, ", s%d", i);
      bec_buf_appendf(&b, &rc, ") VALUES(");
      for(i=0; i<s->nCol; i++) bec_buf_appendf(&b, &rc, "?%d, ", i+1);
      bec_buf_appendf(&b, &rc, "?%d", s->nCol+1);
      for(i=0, k=0; i<s->nCol; i++){
        if( !s->aCol[i].iPk ) bec_buf_appendf(&b, &rc, ", ?%d", s->nCol+2+k++);
      }
      bec_buf_appendf(&b, &rc, ")");
      if( eStmt==BEC_TAB_UPSERT ){
        /* An existing row keeps the registers the change does not write
        ** (their s.. bound NULL). */
        for(i=0; i<s->nPk; i++){
          bec_buf_appendf(&b, &rc, "%sc%d", i ? ", " : " ON CONFLICT(", s->aPk[i]);
        }
        bec_buf_appendf(&b, &rc, ") DO UPDATE SET r=excluded.r");
        for(i=0; i<s->nCol; i++){
          if( s->aCol[i].iPk ) continue;
          bec_buf_appendf(&b, &rc, ", c%d=iif(excluded.s%d IS NULL, c%d, excluded.c%d)"
                          ", s%d=coalesce(excluded.s%d, s%d)", i, i, i, i, i, i, i);
        }
      }
      break;
    case BEC_TAB_DELETE_KEY:
      bec_buf_appendf(&b, &rc, "DELETE FROM %s", t->zRows);
      for(i=0; i<s->nPk; i++){
        bec_buf_appendf(&b, &rc, "%s c%d=?%d", i ? " AND" : " WHERE", s->aPk[i], i+1);
      }
      break;
    default:
      bec_buf_appendf(&b, &rc, "DELETE FROM %s WHERE rowid=?1", t->zRows);
      break;
  }
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v3(t->pCtx->db, (const char*)b.a, -1,
                            SQLITE_PREPARE_PERSISTENT, &t->aStmt[eStmt], 0);
  }
  bec_buf_free(&b);
  *ppStmt = t->aStmt[eStmt];
  return rc;
}

/* The UPDATE of a shadow row that sets r and the registers of the columns
** in aMask (bit i%8 of byte i/8: column i): "UPDATE OR FAIL rows SET r=?2,
** c<i>=?<2j+3>, s<i>=?<2j+4> .. WHERE rowid=?1", j counting the columns
** set, in order.  One statement per set of columns, the BEC_TAB_NUPD last
** used kept by t (an UPDATE of every row writes one set): a statement that
** sets only what changes runs about a third fewer instructions than one
** that decides per column whether to keep the old value.  A miss prepares
** the statement again; it never fails for want of a slot.
**
** iX: a caller that binds r and every s<i> to the same seq passes it, and
** *pbBound says they are bound so already (bindings outlive a reset: the
** rows of one op bind only their key and values, two binds of about 150
** instructions fewer for one column); a caller that binds them otherwise
** passes 0. */
static int update_stmt(BecTab *t, const u8 *aMask, int iX,
                       sqlite3_stmt **ppStmt, int *pbBound){
  const BecSchema *s = t->pSchema;
  BecBuf b;
  int rc = SQLITE_OK, i, j, iSlot;
  *pbBound = 0;
  for(i=0; i<BEC_TAB_NUPD; i++){
    if( t->aUpd[i].pStmt && memcmp(t->aUpd[i].aMask, aMask, BEC_TABLE_MAX_COL/8)==0 ){
      *pbBound = iX!=0 && t->aUpd[i].iX==iX;
      t->aUpd[i].iX = iX;
      *ppStmt = t->aUpd[i].pStmt;
      return SQLITE_OK;
    }
  }
  iSlot = t->iUpdNext;
  t->iUpdNext = (iSlot + 1) % BEC_TAB_NUPD;
  sqlite3_finalize(t->aUpd[iSlot].pStmt);
  t->aUpd[iSlot].pStmt = 0;
  t->aUpd[iSlot].iX = iX;
  memset(&b, 0, sizeof(b));
  bec_buf_appendf(&b, &rc, "UPDATE OR FAIL %s SET r=?2", t->zRows);
  for(i=0, j=0; i<s->nCol; i++){
    if( aMask[i/8] & (1<<(i%8)) ){
      bec_buf_appendf(&b, &rc, ", c%d=?%d, s%d=?%d", i, 2*j+3, i, 2*j+4);
      j++;
    }
  }
  bec_buf_appendf(&b, &rc, " WHERE rowid=?1");
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v3(t->pCtx->db, (const char*)b.a, -1,
                            SQLITE_PREPARE_PERSISTENT, &t->aUpd[iSlot].pStmt, 0);
  }
  bec_buf_free(&b);
  if( rc==SQLITE_OK ) memcpy(t->aUpd[iSlot].aMask, aMask, BEC_TABLE_MAX_COL/8);
  *ppStmt = t->aUpd[iSlot].pStmt;
  return rc;
}

/* The forms of a batch's statement (BecTab.aBatch[].eForm). */
#define BATCH_PEER    0   /* a peer's op: the upsert, bec_batch_hit marks */
#define BATCH_LOCAL   1   /* a local UPDATE's located rows: the upsert of
                          ** the key and the columns written */
#define BATCH_DENSE   2   /* the same, INTEGER key, every key from the
                          ** first to the last once in order: by range */
#define BATCH_SPARSE  3   /* the same, keys ascending with gaps, the range
                          ** at most twice the rows: by range and has() */

/* The statement that writes a batch of rows (bec_batch.c) that write the
** registers of the columns in aMask (as update_stmt's), each row what
** apply_covering's upsert writes for it.  BATCH_PEER:
**   INSERT INTO rows(c0.., r, s<i>..) SELECT v0.., ?2, ?2 or NULL..
**     FROM bec_batch(?1) WHERE 1 ON CONFLICT(key) DO UPDATE SET
**     r=bec_batch_hit(?1, excluded.r), c<i>=excluded.c<i>, s<i>=.. (aMask)
** ?1 the batch, ?2 the op's seq.  (WHERE 1: without it SQLite would read
** ON as a join's.)  BATCH_LOCAL: the rows are a local UPDATE's, each of
** which xUpdate located, so every upsert finds its row: the statement
** reads and inserts only the key and the columns in aMask, and marks no
** hits (batch_flush checks that nothing was inserted).  BATCH_DENSE and
** _SPARSE: the same rows written by an UPDATE of the key range ?3..?4,
** which seeks once and walks the rows in place (the upsert seeks and reads
** a table-valued table per row: about 600 instructions a row more,
** BENCH.md "... tenth session"):
**   UPDATE rows SET c<i>=bec_batch_value(?1, c<k>, i).., s<i>=?2.., r=?2
**     WHERE c<k> BETWEEN ?3 AND ?4 [AND bec_batch_has(?1, c<k>)]
** (the same values into the same columns: the same stored bytes).  The
** BEC_TAB_NBATCH last used are kept per table. */
static int batch_stmt(BecTab *t, const u8 *aMask, int eForm,
                      sqlite3_stmt **ppStmt){
  const BecSchema *s = t->pSchema;
  const int bLocal = eForm!=BATCH_PEER;
  BecBuf b;
  int rc = SQLITE_OK, i, iSlot;
  const char *zSep = "";
#define BATCH_SET(i) ((aMask[(i)/8] & (1<<((i)%8))) || s->aCol[i].iPk)
  for(i=0; i<BEC_TAB_NBATCH; i++){
    if( t->aBatch[i].pStmt && t->aBatch[i].eForm==eForm
     && memcmp(t->aBatch[i].aMask, aMask, BEC_TABLE_MAX_COL/8)==0 ){
      *ppStmt = t->aBatch[i].pStmt;
      return SQLITE_OK;
    }
  }
  iSlot = t->iBatchNext;
  t->iBatchNext = (iSlot + 1) % BEC_TAB_NBATCH;
  sqlite3_finalize(t->aBatch[iSlot].pStmt);
  t->aBatch[iSlot].pStmt = 0;
  memset(&b, 0, sizeof(b));
  if( eForm==BATCH_DENSE || eForm==BATCH_SPARSE ){
    const int k = s->aPk[0];
    bec_buf_appendf(&b, &rc, "UPDATE %s SET ", t->zRows);
    for(i=0; i<s->nCol; i++){
      if( aMask[i/8] & (1<<(i%8)) ){
        bec_buf_appendf(&b, &rc, "c%d=bec_batch_value(?1, c%d, %d), s%d=?2, ",
                        i, k, i, i);
      }
    }
    bec_buf_appendf(&b, &rc, "r=?2 WHERE c%d BETWEEN ?3 AND ?4", k);
    if( eForm==BATCH_SPARSE ){
      bec_buf_appendf(&b, &rc, " AND bec_batch_has(?1, c%d)", k);
    }
  }else{
    bec_buf_appendf(&b, &rc, "INSERT INTO %s(", t->zRows);
    for(i=0; i<s->nCol; i++){
      if( !bLocal || BATCH_SET(i) ) bec_buf_appendf(&b, &rc, "c%d, ", i);
    }
    bec_buf_appendf(&b, &rc, "r");
    for(i=0; i<s->nCol; i++){
      if( s->aCol[i].iPk || (bLocal && !BATCH_SET(i)) ) continue;
      bec_buf_appendf(&b, &rc, ", s%d", i);
    }
    bec_buf_appendf(&b, &rc, ") SELECT ");
    for(i=0; i<s->nCol; i++){
      if( !bLocal || BATCH_SET(i) ) bec_buf_appendf(&b, &rc, "v%d, ", i);
    }
    bec_buf_appendf(&b, &rc, "?2");
    for(i=0; i<s->nCol; i++){
      if( s->aCol[i].iPk || (bLocal && !BATCH_SET(i)) ) continue;
      bec_buf_appendf(&b, &rc, (aMask[i/8] & (1<<(i%8))) ? ", ?2" : ", NULL");
    }
    bec_buf_appendf(&b, &rc, " FROM bec_batch(?1) WHERE 1");
    for(i=0; i<s->nPk; i++){
      bec_buf_appendf(&b, &rc, "%sc%d", i ? ", " : " ON CONFLICT(", s->aPk[i]);
    }
    bec_buf_appendf(&b, &rc, ") DO UPDATE SET ");
    if( !bLocal ){
      bec_buf_appendf(&b, &rc, "r=bec_batch_hit(?1, excluded.r)");
      zSep = ", ";
    }
    for(i=0; i<s->nCol; i++){
      if( aMask[i/8] & (1<<(i%8)) ){
        bec_buf_appendf(&b, &rc, "%sc%d=excluded.c%d, s%d=excluded.s%d", zSep,
                        i, i, i, i);
        zSep = ", ";
      }
    }
    if( bLocal ) bec_buf_appendf(&b, &rc, "%sr=excluded.r", zSep);
  }
#undef BATCH_SET
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v3(t->pCtx->db, (const char*)b.a, -1,
                            SQLITE_PREPARE_PERSISTENT, &t->aBatch[iSlot].pStmt, 0);
  }
  bec_buf_free(&b);
  if( rc==SQLITE_OK ){
    memcpy(t->aBatch[iSlot].aMask, aMask, BEC_TABLE_MAX_COL/8);
    t->aBatch[iSlot].eForm = (u8)eForm;
  }
  *ppStmt = t->aBatch[iSlot].pStmt;
  return rc;
}

/**************************************************************************
** Merging one change of a peer's op into a row.
*/
typedef struct Member Member;
struct Member {
  int col;            /* -1: the row's existence register */
  int seq;
  int bStep;          /* a counter's step (v.i), not an assignment */
  BecValue v;
};

/* Counters (docs/tables.md, "Counters").  A counter cell's register holds
** assignments (writes of its base), reduced like any register's members,
** and steps, which only a delete covers: a step in the causal past of one
** assignment still counts if a concurrent assignment that did not see it
** wins.  The cell shows the base of its greatest assignment W (the fill if
** none) plus the steps not in W's causal past, summed exactly and clamped
** once.  The shadow row keeps that sum, and in s<i> the greatest of W and
** the steps counted; bec_store_conflict keeps the members: W's base
** under col COUNTER_BASE_COL(i), each step under COUNTER_STEP_COL(i),
** losing assignments under col i as any register's losers (so
** bec_conflicts, which reads col >= 0, lists them). */
#define COUNTER_STEP_COL(i)  (-2-2*(i))
#define COUNTER_BASE_COL(i)  (-3-2*(i))

/* a + b clamped to [lo, BEC_I64_MAX]: two writes of one op to one cell
** combine (the op's changes are applied in payload order everywhere). */
static i64 add_clamped(i64 a, i64 b, i64 lo){
  BecSum sum = {0, 0};
  i64 v;
  bec_sum_add(&sum, a);
  bec_sum_add(&sum, b);
  v = bec_sum_clamp(&sum);
  return v<lo ? lo : v;
}

/* a + b is a step: in [-(2^63-1), 2^63-1], exactly. */
static int step_fits(i64 a, i64 b){
  BecSum sum = {0, 0}, back = {0, 0};
  i64 v;
  bec_sum_add(&sum, a);
  bec_sum_add(&sum, b);
  v = bec_sum_clamp(&sum);
  bec_sum_add(&back, v);
  return v!=BEC_I64_MIN && back.hi==sum.hi && back.lo==sum.lo;
}

/* Scratch space reused by every change of an op. */
struct Merge {
  Anc anc;
  Anc ancW;           /* the causal past of a counter's winning assignment */
  i64 aCnt[BEC_TABLE_MAX_COL];     /* per counter column: the value shown */
  int aCntSeq[BEC_TABLE_MAX_COL];  /* ... and its s<i> (0: NULL) */
  Member *a;          /* members of the row's registers */
  int n, nAlloc;
  BecBuf key;         /* the row's bec_store_conflict key */
  BecBuf extra;       /* copies of the values of loaded conflicts */
  BecValue aVal[BEC_TABLE_MAX_COL];
  u8 abSet[BEC_TABLE_MAX_COL];
  int aWin[BEC_TABLE_MAX_COL+1];   /* winner member per register, -1 none */
  int eFeed;          /* OUT of apply_change: BEC_FEED_* of the change */
  int iStepRange;     /* OUT of a failed local change: the counter column
                      ** whose steps in the op combined out of range */
  int bUpdFirst;      /* the last covering upsert found its row: try the
                      ** next as an UPDATE (apply_covering; a hint of cost
                      ** only, the row written is the same either way) */
  /* The batch of apply_plain (see "Batches"): upserts of one table that
  ** write the registers of the same columns, not yet written. */
  BecTab *pBatchTab;  /* 0: the batch is empty */
  u8 aBatchMask[BEC_TABLE_MAX_COL/8];
  int bBatchLocal;    /* the batch holds a local UPDATE's located rows */
  int bBatchAsc;      /* ... of an INTEGER key, each greater than the last */
  i64 iBatchLo, iBatchHi;          /* ... the first and last of those keys */
  int nBatch;                      /* rows held (at most BATCH_MAX_ROWS) */
  BecValue *aBatchVal;             /* nBatch rows of the table's nCol */
  i64 nBatchValAlloc;              /* values allocated in aBatchVal */
  u8 *aBatchHit;                   /* per row: found its row (bec_batch_hit) */
  i64 *aBatchKind;                 /* per row: its byte in the feed kinds */
  BecBuf arena;       /* a local batch's copies of its text and blobs (the
                      ** statement's values die with its xUpdate) */
};

static void merge_free(Merge *m){
  anc_free(&m->anc);
  anc_free(&m->ancW);
  sqlite3_free(m->a);
  sqlite3_free(m->aBatchVal);
  sqlite3_free(m->aBatchHit);
  sqlite3_free(m->aBatchKind);
  bec_buf_free(&m->arena);
  bec_buf_free(&m->key);
  bec_buf_free(&m->extra);
}

static int member_add(Merge *m, int col, int seq, const BecValue *pV){
  if( m->n>=m->nAlloc ){
    int nNew = m->nAlloc ? m->nAlloc*2 : 64;
    Member *aNew = sqlite3_realloc64(m->a, sizeof(Member)*(sqlite3_uint64)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    m->a = aNew;
    m->nAlloc = nNew;
  }
  m->a[m->n].col = col;
  m->a[m->n].seq = seq;
  m->a[m->n].bStep = 0;
  if( pV ) m->a[m->n].v = *pV;
  else memset(&m->a[m->n].v, 0, sizeof(BecValue));
  m->n++;
  return SQLITE_OK;
}

/* member_add() for a member read from storage (the shadow row or
** bec_store_conflict): its seq indexes the graph and its column the row's
** registers, so a damaged database must not take either out of range.
** (No member is later than the op being applied; a local transaction's op
** may have written the row already, under the seq it will get.) */
static int stored_member_add(const BecTab *t, Merge *m, int col, int seq,
                             const BecValue *pV){
  const BecSchema *s = t->pSchema;
  int bStep = 0, rc;
  if( col<=-2 ){
    /* a counter's step or winning assignment */
    bStep = (-col)%2==0;
    col = (-col-2)/2;
    if( col>=s->nCol || !(s->aCol[col].flags & BEC_COL_COUNTER)
     || pV==0 || pV->eType!=BEC_VAL_INT ){
      return SQLITE_CORRUPT_VTAB;
    }
  }
  if( seq<1 || seq>m->anc.x || col<-1 || col>=s->nCol
   || (col>=0 && s->aCol[col].iPk) ){
    return SQLITE_CORRUPT_VTAB;
  }
  rc = member_add(m, col, seq, pV);
  if( rc==SQLITE_OK ) m->a[m->n-1].bStep = bStep;
  return rc;
}

static void value_from_column(sqlite3_stmt *pStmt, int i, BecValue *pV){
  memset(pV, 0, sizeof(*pV));
  switch( sqlite3_column_type(pStmt, i) ){
    case SQLITE_INTEGER:
      pV->eType = BEC_VAL_INT;
      pV->i = sqlite3_column_int64(pStmt, i);
      break;
    case SQLITE_FLOAT:
      pV->eType = BEC_VAL_REAL;
      pV->r = sqlite3_column_double(pStmt, i);
      break;
    case SQLITE_TEXT:
      pV->eType = BEC_VAL_TEXT;
      pV->a = sqlite3_column_text(pStmt, i);
      pV->n = sqlite3_column_bytes(pStmt, i);
      break;
    case SQLITE_BLOB:
      pV->eType = BEC_VAL_BLOB;
      pV->a = sqlite3_column_blob(pStmt, i);
      pV->n = sqlite3_column_bytes(pStmt, i);
      break;
    default:
      pV->eType = BEC_VAL_NULL;
      break;
  }
}

/* Loads the row's conflicts as members.  Their text and blob bytes are
** copied into m->extra, so pointers are fixed up after loading. */
static int load_conflicts(BecTab *t, Merge *m){
  sqlite3_stmt *pStmt = 0;
  int i0 = m->n, i;
  int rc = bec_ctx_stmt(t->pCtx, "SELECT col, seq, value FROM bec_store_conflict"
                                 " WHERE tbl=?1 AND pk=?2", &pStmt);
  if( rc ) return rc;
  m->extra.n = 0;
  sqlite3_bind_int(pStmt, 1, t->iSchema);
  sqlite3_bind_blob(pStmt, 2, m->key.a, (int)m->key.n, SQLITE_STATIC);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    BecValue v;
    value_from_column(pStmt, 2, &v);
    if( v.a ){
      i64 iOff = m->extra.n;
      bec_buf_append(&m->extra, v.a, v.n, &rc);
      v.a = (const u8*)(intptr_t)iOff;      /* an offset until fixed up */
    }
    if( rc==SQLITE_OK ){
      rc = stored_member_add(t, m, sqlite3_column_int(pStmt, 0),
                             sqlite3_column_int(pStmt, 1), &v);
    }
  }
  bec_stmt_reset(pStmt, &rc);
  for(i=i0; rc==SQLITE_OK && i<m->n; i++){
    BecValue *v = &m->a[i].v;
    if( v->eType==BEC_VAL_TEXT || v->eType==BEC_VAL_BLOB ){
      v->a = v->n ? m->extra.a + (intptr_t)v->a : (const u8*)"";
    }
  }
  return rc;
}

static int exec_key(BecTab *t, Merge *m, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(t->pCtx, zSql, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, t->iSchema);
  sqlite3_bind_blob(pStmt, 2, m->key.a, (int)m->key.n, SQLITE_STATIC);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

static const char zDelConflicts[] =
  "DELETE FROM bec_store_conflict WHERE tbl=?1 AND pk=?2";

/* Keeps op seq's member of register col (-1: the row's existence; a
** counter's steps and base: COUNTER_STEP_COL / _BASE_COL) of the row with
** key m->key in bec_store_conflict, with value pV bound as it is (0:
** NULL). */
static int conflict_put(BecTab *t, Merge *m, int col, int seq,
                        const BecValue *pV){
  sqlite3_stmt *pIns = 0;
  int rc = bec_ctx_stmt(t->pCtx, "INSERT OR REPLACE INTO bec_store_conflict"
                        "(tbl, pk, col, seq, value) VALUES(?1,?2,?3,?4,?5)",
                        &pIns);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pIns, 1, t->iSchema);
    sqlite3_bind_blob(pIns, 2, m->key.a, (int)m->key.n, SQLITE_STATIC);
    sqlite3_bind_int(pIns, 3, col);
    sqlite3_bind_int(pIns, 4, seq);
    if( pV ) bec_value_bind(pIns, 5, pV);
    else sqlite3_bind_null(pIns, 5);
    sqlite3_step(pIns);
    rc = sqlite3_reset(pIns);
  }
  t->eConflicts = 1;
  return rc;
}

/* The row at iRowid (key m->key) is gone: its stored row, and its losers
** in bec_store_conflict if the table has any (bHasConf). */
static int delete_row(BecTab *t, Merge *m, i64 iRowid, int bHasConf){
  sqlite3_stmt *pW = 0;
  int rc = bec_tab_stmt(t, BEC_TAB_DELETE, &pW);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pW, 1, iRowid);
    sqlite3_step(pW);
    rc = sqlite3_reset(pW);
  }
  if( rc==SQLITE_OK && bHasConf ) rc = exec_key(t, m, zDelConflicts);
  return rc;
}

/* Binds the row a change of op x makes new to BEC_TAB_INSERT or _UPSERT:
** the values it sets (NULL elsewhere), r = x, s<i> = x where it writes.
** iBound: pW's entry of t->aNewBound (0 INSERT, 1 UPSERT): r and s.. are
** not bound again when they already are these (a bind costs about 150
** instructions; a row of three columns saves three of six); -1: bind all,
** and the caller clears the statement's entry. */
static void bind_new_row(BecTab *t, const Merge *m, int x, sqlite3_stmt *pW,
                         int iBound){
  const BecSchema *s = t->pSchema;
  u8 aS[BEC_TABLE_MAX_COL/8];
  int i, k;
  for(i=0; i<s->nCol; i++){
    /* a column with no write shows its DEFAULT, the fill (NULL if none) */
    if( m->abSet[i] ) bec_value_bind(pW, i+1, &m->aVal[i]);
    else bec_value_bind(pW, i+1, &s->aCol[i].dflt);
  }
  memset(aS, 0, sizeof(aS));
  for(i=0; i<s->nCol; i++){
    if( !s->aCol[i].iPk && m->abSet[i]==2 ) aS[i/8] |= (u8)(1<<(i%8));
  }
  if( iBound>=0 && t->aNewBound[iBound].iX==x
   && memcmp(t->aNewBound[iBound].aS, aS, sizeof(aS))==0 ){
    return;
  }
  sqlite3_bind_int(pW, s->nCol+1, x);
  for(i=0, k=0; i<s->nCol; i++){
    if( s->aCol[i].iPk ) continue;
    if( aS[i/8] & (1<<(i%8)) ) sqlite3_bind_int(pW, s->nCol+2+k, x);
    else sqlite3_bind_null(pW, s->nCol+2+k);
    k++;
  }
  if( iBound>=0 ){
    t->aNewBound[iBound].iX = x;
    memcpy(t->aNewBound[iBound].aS, aS, sizeof(aS));
  }
}

/* apply_change for an op that descends from every member of the row (every
** stored op is its ancestor, as for every local op and for a peer's op on
** a linear history) in a table without conflicts: the op covers every
** member of each register it writes, so the result needs no reading of
** the row: the written registers become the op's, the others stay.  Exactly
** what the general path computes, with one statement instead of two. */
static int apply_covering(BecTab *t, Merge *m, int x, int eChange,
                          const i64 *piAt, i64 *piRowid){
  const BecSchema *s = t->pSchema;
  sqlite3_stmt *pW = 0;
  i64 iMark, iKey;
  int rc, i, k;

  if( eChange==BEC_CHANGE_UPSERT && piAt==0 && m->bUpdFirst && s->bIntPk
   && m->aVal[s->aPk[0]].eType==BEC_VAL_INT ){
    /* A peer's op that updates rows (the last upsert found its row): with
    ** an INTEGER key the rowid is the key, so the row can be written by
    ** the UPDATE below, which sets only the registers the change writes
    ** (about a third fewer instructions than the upsert's DO UPDATE); a
    ** row it does not find is inserted by the upsert as before. */
    iKey = m->aVal[s->aPk[0]].i;
    piAt = &iKey;
  }
  if( eChange==BEC_CHANGE_DELETE ){
    rc = bec_tab_stmt(t, piAt ? BEC_TAB_DELETE : BEC_TAB_DELETE_KEY, &pW);
    if( rc ) return rc;
    if( piAt ){
      sqlite3_bind_int64(pW, 1, *piAt);
    }else{
      for(k=0; k<s->nPk; k++) bec_value_bind(pW, k+1, &m->aVal[s->aPk[k]]);
    }
    sqlite3_step(pW);
    rc = sqlite3_reset(pW);
    if( rc==SQLITE_OK && sqlite3_changes(t->pCtx->db)>0 ){
      m->eFeed = BEC_FEED_DELETE;
    }
    return rc;
  }
  if( eChange==BEC_CHANGE_UPSERT && piAt ){
    /* The caller read the row at *piAt (a local UPDATE), or the key is the
    ** rowid (above). */
    u8 aMask[BEC_TABLE_MAX_COL/8];
    int bBound = 0;
    memset(aMask, 0, sizeof(aMask));
    for(i=0; i<s->nCol; i++){
      if( !s->aCol[i].iPk && m->abSet[i]==2 ) aMask[i/8] |= (u8)(1<<(i%8));
    }
    rc = update_stmt(t, aMask, x, &pW, &bBound);
    if( rc ) return rc;
    sqlite3_bind_int64(pW, 1, *piAt);
    if( !bBound ) sqlite3_bind_int(pW, 2, x);
    for(i=0, k=0; i<s->nCol; i++){
      if( aMask[i/8] & (1<<(i%8)) ){
        bec_value_bind(pW, 2*k+3, &m->aVal[i]);
        if( !bBound ) sqlite3_bind_int(pW, 2*k+4, x);
        k++;
      }
    }
    sqlite3_step(pW);
    rc = sqlite3_reset(pW);
    if( rc || sqlite3_changes(t->pCtx->db)>0 ){
      if( rc==SQLITE_OK && piRowid ) *piRowid = *piAt;
      m->eFeed = BEC_FEED_UPDATE;
      return rc;
    }
  }
  /* An upsert in one statement; a local INSERT must find no row. */
  rc = bec_tab_stmt(t, eChange==BEC_CHANGE_INSERT ? BEC_TAB_INSERT
                                                  : BEC_TAB_UPSERT, &pW);
  if( rc ) return rc;
  bind_new_row(t, m, x, pW, eChange==BEC_CHANGE_INSERT ? 0 : 1);
  /* Inserted or updated?  Only an insert sets the last rowid: preset it to
  ** a value the new row cannot have (an INTEGER key is the rowid; other
  ** tables' rowids are positive). */
  iMark = s->bIntPk ? ~m->aVal[s->aPk[0]].i : 0;
  sqlite3_set_last_insert_rowid(t->pCtx->db, iMark);
  sqlite3_step(pW);
  rc = sqlite3_reset(pW);
  m->eFeed = sqlite3_last_insert_rowid(t->pCtx->db)!=iMark
           ? BEC_FEED_INSERT : BEC_FEED_UPDATE;
  m->bUpdFirst = m->eFeed==BEC_FEED_UPDATE;
  if( (rc & 0xff)==SQLITE_CONSTRAINT && eChange==BEC_CHANGE_INSERT ){
    return SQLITE_CONSTRAINT;          /* the row exists: nothing written */
  }
  if( rc==SQLITE_OK && piRowid ){
    /* (apply_change asks for the rowid of an upsert here only with an
    ** INTEGER key) */
    *piRowid = s->bIntPk ? m->aVal[s->aPk[0]].i
                         : sqlite3_last_insert_rowid(t->pCtx->db);
  }
  return rc;
}

/* A counter's value and s<i> for every counter column of the row (after
** the merge of op x): m->aCnt, m->aCntSeq. */
static int counter_values(const BecTab *t, Merge *m, int x){
  const BecSchema *s = t->pSchema;
  const BecGraph *g = m->anc.g;
  int rc = SQLITE_OK, i, j;
  for(i=0; rc==SQLITE_OK && i<s->nCol; i++){
    BecSum sum = {0, 0};
    Anc *pA = 0;
    int iW, iTop = -1;
    if( !(s->aCol[i].flags & BEC_COL_COUNTER) || s->aCol[i].iPk ) continue;
    iW = m->aWin[i+1];
    if( iW>=0 ){
      int w = m->a[iW].seq;
      bec_sum_add(&sum, m->a[iW].v.i);
      if( w==x ){
        pA = &m->anc;
      }else{
        anc_init(&m->ancW, g, w, BEC_NODE_PREDS(g, w), g->aNode[w].nPred, 0);
        pA = &m->ancW;
      }
    }else{
      bec_sum_add(&sum, s->aCol[i].dflt.i);
    }
    for(j=0; rc==SQLITE_OK && j<m->n; j++){
      const Member *pM = &m->a[j];
      if( !pM->bStep || pM->col!=i ) continue;
      if( pA && anc_covers(pA, pM->seq, &rc) ) continue;
      bec_sum_add(&sum, pM->v.i);
      if( iTop<0 || later(g, pM->seq, m->a[iTop].seq) ) iTop = j;
    }
    m->aCnt[i] = bec_sum_clamp(&sum);
    /* s<i>: the greatest member counted (the greatest op is never in the
    ** causal past of another: a step later than W counts) */
    if( iW>=0 && (iTop<0 || later(g, m->a[iW].seq, m->a[iTop].seq)) ) iTop = iW;
    m->aCntSeq[i] = iTop>=0 ? m->a[iTop].seq : 0;
  }
  return rc;
}

/* Deletes the row's members of register col from bec_store_conflict. */
static int conflict_col_delete(BecTab *t, Merge *m, int col){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(t->pCtx, "DELETE FROM bec_store_conflict WHERE tbl=?1"
                                 " AND pk=?2 AND col=?3", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, t->iSchema);
  sqlite3_bind_blob(pStmt, 2, m->key.a, (int)m->key.n, SQLITE_STATIC);
  sqlite3_bind_int(pStmt, 3, col);
  sqlite3_step(pStmt);
  return sqlite3_reset(pStmt);
}

/* Two cases of apply_merge that need not read a counter's members, on an
** existing row of a table with counters that op x has not written yet
** (pSel on it):
**   - x descends from every stored op (Anc.bAll): every member of the row
**     is its ancestor, so a delete covers all, and an upsert covers the
**     members of each register it writes but a counter's steps, and wins;
**   - x is an upsert that writes only counter steps: a step covers
**     nothing, and x, later in seq than every member, is in no member's
**     causal past, so it counts whatever assignment wins; only the row's
**     existence register (a few members) is merged.
** Either way a step adds to the sum shown (exact unless the sum was
** clamped: then *pbDone is 0 and the general path recomputes it).  A hot
** counter so costs one stored row per step, local or a peer's, instead of
** a read and rewrite of all its steps. */
static int apply_counter_fast(BecTab *t, Merge *m, int x, int bDelete,
                              sqlite3_stmt *pSel, i64 iRowid, int rOld,
                              int *pbDone){
  const BecSchema *s = t->pSchema;
  const BecGraph *g = m->anc.g;
  const int iC0 = 2 + s->nCol - s->nPk;
  const int bAll = m->anc.bAll;
  sqlite3_stmt *pW = 0;
  u8 aMask[BEC_TABLE_MAX_COL/8];
  i64 aNew[BEC_TABLE_MAX_COL];
  int aS[BEC_TABLE_MAX_COL];
  int rc = SQLITE_OK, bHasConf = 0, i, k, rWin = x, bBound = 0;
  *pbDone = 0;
  for(i=0; !bAll && i<s->nCol; i++){
    if( m->abSet[i]==2 && m->aVal[i].eType!=BEC_VAL_STEP ) return SQLITE_OK;
  }
  if( !bAll && bDelete ) return SQLITE_OK;
  for(i=0, k=0; !bDelete && i<s->nCol; i++){
    aNew[i] = 0;
    aS[i] = x;
    if( s->aCol[i].iPk ) continue;
    if( m->abSet[i]==2 && m->aVal[i].eType==BEC_VAL_STEP ){
      i64 c = sqlite3_column_int64(pSel, iC0+i);
      int sOld = sqlite3_column_int(pSel, 2+k);
      if( sqlite3_column_type(pSel, iC0+i)!=SQLITE_INTEGER
       || c==BEC_I64_MAX || c==BEC_I64_MIN ){
        return SQLITE_OK;
      }
      aNew[i] = add_clamped(c, m->aVal[i].i, BEC_I64_MIN);
      if( !bAll && sOld>=1 && sOld<x && later(g, sOld, x) ) aS[i] = sOld;
    }
    k++;
  }
  rc = bec_crdt_has_conflicts(t, &bHasConf);
  m->key.n = 0;
  bec_crdt_key_from_stmt(&m->key, t, pSel, iC0, &rc);
  if( rc ) return rc;
  *pbDone = 1;
  if( bDelete ){
    rc = delete_row(t, m, iRowid, bHasConf);
    m->eFeed = BEC_FEED_DELETE;
    return rc;
  }
  /* The row's existence: x covers its ancestors among the members (all
  ** of them if bAll); the greatest left wins, the others stay losers. */
  if( !bAll ){
    int j = 0;
    m->n = 0;
    rc = stored_member_add(t, m, -1, rOld, 0);
    if( rc==SQLITE_OK && bHasConf ){
      /* (its losers only: not the counters' many steps) */
      sqlite3_stmt *pEx = 0;
      rc = bec_ctx_stmt(t->pCtx, "SELECT seq FROM bec_store_conflict WHERE "
                        "tbl=?1 AND pk=?2 AND col=-1", &pEx);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pEx, 1, t->iSchema);
        sqlite3_bind_blob(pEx, 2, m->key.a, (int)m->key.n, SQLITE_STATIC);
        while( rc==SQLITE_OK && sqlite3_step(pEx)==SQLITE_ROW ){
          rc = stored_member_add(t, m, -1, sqlite3_column_int(pEx, 0), 0);
        }
        bec_stmt_reset(pEx, &rc);
      }
    }
    for(i=0; rc==SQLITE_OK && i<m->n; i++){
      if( m->a[i].col!=-1 || anc_covers(&m->anc, m->a[i].seq, &rc) ) continue;
      m->a[j++] = m->a[i];
    }
    m->n = j;
    for(i=0; i<m->n; i++) if( later(g, m->a[i].seq, rWin) ) rWin = m->a[i].seq;
  }
  if( rc==SQLITE_OK && bHasConf ) rc = conflict_col_delete(t, m, -1);
  for(i=0; rc==SQLITE_OK && !bAll && i<=m->n; i++){
    int seq = i<m->n ? m->a[i].seq : x;
    if( seq==rWin ) continue;
    rc = conflict_put(t, m, -1, seq, 0);
  }
  /* The members x covers in the registers it writes (a counter: its
  ** assignments, not its steps). */
  for(i=0; rc==SQLITE_OK && bHasConf && i<s->nCol; i++){
    if( m->abSet[i]!=2 || m->aVal[i].eType==BEC_VAL_STEP ) continue;
    rc = conflict_col_delete(t, m, i);
    if( rc==SQLITE_OK && (s->aCol[i].flags & BEC_COL_COUNTER) ){
      rc = conflict_col_delete(t, m, COUNTER_BASE_COL(i));
    }
  }
  /* x's members of counters, which the shadow row does not hold */
  for(i=0; rc==SQLITE_OK && i<s->nCol; i++){
    BecValue v;
    if( m->abSet[i]!=2 || !(s->aCol[i].flags & BEC_COL_COUNTER) ) continue;
    memset(&v, 0, sizeof(v));
    v.eType = BEC_VAL_INT;             /* a step or a base: an integer */
    v.i = m->aVal[i].i;
    rc = conflict_put(t, m, m->aVal[i].eType==BEC_VAL_STEP
                            ? COUNTER_STEP_COL(i) : COUNTER_BASE_COL(i), x, &v);
  }
  /* The row: x wins every register it writes (a counter's s<i>: the
  ** greatest member counted). */
  memset(aMask, 0, sizeof(aMask));
  for(i=0; i<s->nCol; i++){
    if( !s->aCol[i].iPk && m->abSet[i]==2 ) aMask[i/8] |= (u8)(1<<(i%8));
  }
  if( rc==SQLITE_OK ) rc = update_stmt(t, aMask, 0, &pW, &bBound);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pW, 1, iRowid);
    sqlite3_bind_int(pW, 2, rWin);
    for(i=0, k=0; i<s->nCol; i++){
      if( (aMask[i/8] & (1<<(i%8)))==0 ) continue;
      if( m->aVal[i].eType==BEC_VAL_STEP ){
        sqlite3_bind_int64(pW, 2*k+3, aNew[i]);
      }else{
        bec_value_bind(pW, 2*k+3, &m->aVal[i]);
      }
      sqlite3_bind_int(pW, 2*k+4, aS[i]);
      k++;
    }
    sqlite3_step(pW);
    rc = sqlite3_reset(pW);
  }
  m->eFeed = BEC_FEED_UPDATE;
  if( rc==SQLITE_OK && (bHasConf || !bAll) ){
    /* losers left in registers x did not write: still a conflict */
    sqlite3_stmt *pAny = 0;
    rc = bec_ctx_stmt(t->pCtx, "SELECT 1 FROM bec_store_conflict WHERE tbl=?1"
                               " AND pk=?2 AND col>=-1 LIMIT 1", &pAny);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pAny, 1, t->iSchema);
      sqlite3_bind_blob(pAny, 2, m->key.a, (int)m->key.n, SQLITE_STATIC);
      if( sqlite3_step(pAny)==SQLITE_ROW ) m->eFeed = BEC_FEED_CONFLICT;
      rc = sqlite3_reset(pAny);
    }
  }
  return rc;
}

/* Binds the counters of a new row over what bind_new_row bound. */
static void bind_counters(const BecTab *t, const Merge *m, sqlite3_stmt *pW){
  const BecSchema *s = t->pSchema;
  int i, k;
  for(i=0, k=0; i<s->nCol; i++){
    if( s->aCol[i].iPk ) continue;
    if( s->aCol[i].flags & BEC_COL_COUNTER ){
      sqlite3_bind_int64(pW, i+1, m->aCnt[i]);
      if( m->aCntSeq[i] ) sqlite3_bind_int(pW, s->nCol+2+k, m->aCntSeq[i]);
      else sqlite3_bind_null(pW, s->nCol+2+k);
    }
    k++;
  }
}

/* Applies one change of op x (the values in m->aVal/m->abSet) by reading
** the row's members and merging: an upsert,
** a delete, or (a local INSERT) an upsert that writes nothing and returns
** SQLITE_CONSTRAINT if the row exists.  *piRowid (may be 0) receives the
** shadow row's rowid of an upsert. */
static int apply_merge(BecTab *t, Merge *m, int x, int eChange,
                       i64 *piRowid){
  const int bDelete = eChange==BEC_CHANGE_DELETE;
  const BecSchema *s = t->pSchema;
  const BecGraph *g = m->anc.g;
  const int bCounter = bec_schema_has_counter(s);
  sqlite3_stmt *pSel = 0, *pW = 0;
  const int nNk = s->nCol - s->nPk;      /* non-key columns */
  const int iC0 = 2 + nNk;               /* first value column in pSel */
  int rc, i, k, bRow = 0, bHasConf = 0, bNewConf = 0, bKeep = 0;
  i64 iRowid = 0;
  int rOld = 0, bBound = 0;

  rc = bec_tab_stmt(t, BEC_TAB_SEL_PK, &pSel);
  if( rc ) return rc;
  for(k=0; k<s->nPk; k++) bec_value_bind(pSel, k+1, &m->aVal[s->aPk[k]]);
  m->n = 0;
  if( sqlite3_step(pSel)==SQLITE_ROW ){
    bRow = 1;
    iRowid = sqlite3_column_int64(pSel, 0);
    if( eChange==BEC_CHANGE_INSERT ){
      sqlite3_reset(pSel);
      return SQLITE_CONSTRAINT;
    }
    if( piRowid ) *piRowid = iRowid;
    rOld = sqlite3_column_int(pSel, 1);
    rc = stored_member_add(t, m, -1, rOld, 0);
    for(i=0, k=0; rc==SQLITE_OK && i<s->nCol; i++){
      if( s->aCol[i].iPk ) continue;
      /* (a counter's members are all in bec_store_conflict) */
      if( sqlite3_column_type(pSel, 2+k)!=SQLITE_NULL
       && !(s->aCol[i].flags & BEC_COL_COUNTER) ){
        BecValue v;
        value_from_column(pSel, iC0+i, &v);
        rc = stored_member_add(t, m, i, sqlite3_column_int(pSel, 2+k), &v);
      }
      k++;
    }
    if( rc==SQLITE_OK && bCounter && rOld!=x ){
      int bDone = 0, n0 = m->n;
      rc = apply_counter_fast(t, m, x, bDelete, pSel, iRowid, rOld, &bDone);
      if( rc || bDone ){
        sqlite3_reset(pSel);
        return rc;
      }
      m->n = n0;                  /* (it declined before reading members) */
    }
    if( rc==SQLITE_OK ) rc = bec_crdt_has_conflicts(t, &bHasConf);
    if( rc==SQLITE_OK && bHasConf ){
      m->key.n = 0;
      bec_crdt_key_from_stmt(&m->key, t, pSel, iC0, &rc);
      if( rc==SQLITE_OK ) rc = load_conflicts(t, m);
    }
  }else{
    rc = sqlite3_reset(pSel);
    if( bDelete || rc ) return rc;      /* nothing observed, nothing to do */
  }

  /* The merge itself.  An assignment to a counter covers the assignments
  ** it saw, never the steps; a step covers nothing. */
  if( rc==SQLITE_OK ){
    int j = 0;
    for(i=0; i<m->n; i++){
      Member *pM = &m->a[i];
      int bTouched;
      if( bDelete || pM->col<0 ) bTouched = 1;
      else if( m->abSet[pM->col]!=2 ) bTouched = 0;
      else if( m->aVal[pM->col].eType==BEC_VAL_STEP ) bTouched = 0;
      else bTouched = !pM->bStep || pM->seq==x;
      if( bTouched && anc_covers(&m->anc, pM->seq, &rc) ) continue;
      m->a[j++] = *pM;
    }
    m->n = j;
    if( !bDelete ){
      rc = member_add(m, -1, x, 0);
      for(i=0; rc==SQLITE_OK && i<s->nCol; i++){
        if( m->abSet[i]!=2 ) continue;
        if( m->aVal[i].eType==BEC_VAL_STEP ){
          /* A second write of op x to the cell combines with the first:
          ** its step, or its assignment's base. */
          for(j=0; j<m->n && !(m->a[j].col==i && m->a[j].seq==x); j++){}
          if( j<m->n && m->a[j].bStep && !step_fits(m->a[j].v.i, m->aVal[i].i) ){
            /* Steps combined out of range: a peer's op never gets here
            ** (verdict_write, steps_combined); a local statement fails
            ** before anything of its row is written. */
            m->iStepRange = i;
            rc = SQLITE_CONSTRAINT_DATATYPE;
          }else if( j<m->n ){
            m->a[j].v.i = add_clamped(m->a[j].v.i, m->aVal[i].i,
                              m->a[j].bStep ? -BEC_I64_MAX : BEC_I64_MIN);
          }else{
            rc = member_add(m, i, x, &m->aVal[i]);
            if( rc==SQLITE_OK ){
              m->a[m->n-1].bStep = 1;
              m->a[m->n-1].v.eType = BEC_VAL_INT;
            }
          }
        }else{
          rc = member_add(m, i, x, &m->aVal[i]);
        }
      }
    }
  }
  if( rc ){
    sqlite3_reset(pSel);
    return rc;
  }
  for(i=0; i<=s->nCol; i++) m->aWin[i] = -1;
  for(i=0; i<m->n; i++){
    int c = m->a[i].col + 1;
    if( m->a[i].bStep ){
      bKeep = 1;
      continue;
    }
    if( m->aWin[c]<0 || later(g, m->a[i].seq, m->a[m->aWin[c]].seq) ){
      m->aWin[c] = i;
    }
  }
  for(i=0; i<m->n; i++){
    if( m->a[i].bStep || m->aWin[m->a[i].col+1]==i ) continue;
    bNewConf = 1;
  }
  if( bCounter ){
    rc = counter_values(t, m, x);
    for(i=0; i<s->nCol; i++){
      if( (s->aCol[i].flags & BEC_COL_COUNTER) && m->aWin[i+1]>=0 ) bKeep = 1;
    }
    if( rc ){
      sqlite3_reset(pSel);
      return rc;
    }
  }
  bKeep = bKeep || bNewConf;

  m->eFeed = m->aWin[0]<0 ? BEC_FEED_DELETE
          : !bRow ? BEC_FEED_INSERT
          : bNewConf ? BEC_FEED_CONFLICT : BEC_FEED_UPDATE;
  if( m->aWin[0]<0 ){
    /* No uncovered upsert is left: the row is gone. */
    rc = delete_row(t, m, iRowid, bHasConf);
    sqlite3_reset(pSel);
    return rc;
  }
  if( !bRow ){
    rc = bec_tab_stmt(t, BEC_TAB_INSERT, &pW);
    if( rc==SQLITE_OK ){
      t->aNewBound[0].iX = 0;      /* (bound here as apply_covering does not) */
      bind_new_row(t, m, x, pW, -1);
      if( bCounter ) bind_counters(t, m, pW);
      sqlite3_step(pW);
      rc = sqlite3_reset(pW);
      if( rc==SQLITE_OK && piRowid ){
        /* An INTEGER key is the rowid (the verdict made it an integer). */
        *piRowid = s->bIntPk ? m->aVal[s->aPk[0]].i
                             : sqlite3_last_insert_rowid(t->pCtx->db);
      }
    }
    /* a new row's conflict key: its key values, as the shadow row holds
    ** them (bec_crdt_key_from_stmt's bytes) */
    m->key.n = 0;
    for(k=0; rc==SQLITE_OK && k<s->nPk; k++){
      bec_value_put(&m->key, &m->aVal[s->aPk[k]], &rc);
    }
  }else{
    /* The registers whose winner changed, and those op x wrote again (it
    ** may write a row twice in one transaction: the seq stays, the value
    ** changes); a register no write is left in shows its fill; a
    ** counter is written again whenever it may have changed. */
    u8 aMask[BEC_TABLE_MAX_COL/8];
    memset(aMask, 0, sizeof(aMask));
    for(i=0, k=0; i<s->nCol; i++){
      int iWin = m->aWin[i+1], sOld;
      if( s->aCol[i].iPk ) continue;
      sOld = sqlite3_column_int(pSel, 2+k++);
      if( (s->aCol[i].flags & BEC_COL_COUNTER)
       || (iWin<0 ? sOld!=0 : (m->a[iWin].seq!=sOld || m->a[iWin].seq==x)) ){
        aMask[i/8] |= (u8)(1<<(i%8));
      }
    }
    rc = update_stmt(t, aMask, 0, &pW, &bBound);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pW, 1, iRowid);
      sqlite3_bind_int(pW, 2, m->a[m->aWin[0]].seq);
      for(i=0, k=0; i<s->nCol; i++){
        int iWin = m->aWin[i+1];
        if( (aMask[i/8] & (1<<(i%8)))==0 ) continue;
        if( s->aCol[i].flags & BEC_COL_COUNTER ){
          sqlite3_bind_int64(pW, 2*k+3, m->aCnt[i]);
          if( m->aCntSeq[i] ) sqlite3_bind_int(pW, 2*k+4, m->aCntSeq[i]);
          else sqlite3_bind_null(pW, 2*k+4);
        }else if( iWin<0 ){
          bec_value_bind(pW, 2*k+3, &s->aCol[i].dflt);
          sqlite3_bind_null(pW, 2*k+4);
        }else{
          bec_value_bind(pW, 2*k+3, &m->a[iWin].v);
          sqlite3_bind_int(pW, 2*k+4, m->a[iWin].seq);
        }
        k++;
      }
      sqlite3_step(pW);
      rc = sqlite3_reset(pW);
    }
    if( rc==SQLITE_OK && bKeep && !bHasConf ){
      m->key.n = 0;
      bec_crdt_key_from_stmt(&m->key, t, pSel, iC0, &rc);
    }
    if( rc==SQLITE_OK && bHasConf ) rc = exec_key(t, m, zDelConflicts);
  }
  /* The members that the shadow row does not hold. */
  for(i=0; rc==SQLITE_OK && bKeep && i<m->n; i++){
    int col = m->a[i].col;
    if( m->a[i].bStep ){
      col = COUNTER_STEP_COL(col);
    }else if( m->aWin[col+1]==i ){
      if( col<0 || !(s->aCol[col].flags & BEC_COL_COUNTER) ) continue;
      col = COUNTER_BASE_COL(col);
    }
    /* The value as the op carries it: no affinity converts it. */
    rc = conflict_put(t, m, col, m->a[i].seq, col!=-1 ? &m->a[i].v : 0);
  }
  sqlite3_reset(pSel);
  return rc;
}

/* *pbCover: the change of the op being merged (m->anc) to table t may be
** applied without reading the row (apply_covering): the op descends from
** every stored op, and t has no counter and no conflicts. */
static int covering(BecTab *t, Merge *m, int *pbCover){
  int bConf = 0, rc = SQLITE_OK;
  *pbCover = 0;
  if( m->anc.bAll && !bec_schema_has_counter(t->pSchema) ){
    rc = bec_crdt_has_conflicts(t, &bConf);
    *pbCover = rc==SQLITE_OK && !bConf;
  }
  return rc;
}

/* The one writer of shadow rows: every change, a peer's or this
** transaction's, is applied here (a peer's upserts that apply_covering
** would write may come batched: batch_flush). */
static int apply_change(BecTab *t, Merge *m, int x, int eChange,
                        const i64 *piAt, i64 *piRowid){
  m->eFeed = BEC_FEED_NONE;
  /* (the covering path knows an upserted row's rowid only for an INTEGER
  ** key, a new row, or a row the caller located) */
  if( piRowid==0 || t->pSchema->bIntPk || piAt || eChange==BEC_CHANGE_INSERT ){
    int bCover = 0;
    int rc = covering(t, m, &bCover);
    if( rc ) return rc;
    if( bCover ) return apply_covering(t, m, x, eChange, piAt, piRowid);
  }
  if( m->anc.g==0 ){
    BecGraph *g = 0;
    int rc = bec_graph_get(t->pCtx, &g, 0);
    if( rc ) return rc;
    m->anc.g = g;
  }
  return apply_merge(t, m, x, eChange, piRowid);
}

/**************************************************************************
** Batches.  A write op's upserts that apply_covering would write one
** statement each (bound, stepped, reset: more instructions than the row's
** write itself) are held instead, and the rows of one table that write
** the same columns are written by one statement (batch_stmt) reading them
** from memory (bec_batch.c).  The rows written are the same, in the same
** order (a key twice in one batch is inserted, then updated), and so is
** each change's feed byte: bec_batch_hit marks the rows whose upsert found
** its row.  Any other change, and the end of the op, writes the batch
** first, so no change ever reads a row the batch has not written yet.
** A local UPDATE of a located row is batched too (bec_crdt_local_change,
** with copies of its values): see "Local batches".
*/
#define BATCH_MAX_ROWS 1024

/* Writes the batch (rows of op x) and empties it; pKinds (may be 0): the
** feed bytes that batch_add held for its rows are set. */
static int batch_flush(Merge *m, int x, BecBuf *pKinds){
  BecTab *t = m->pBatchTab;
  sqlite3 *db;
  sqlite3_stmt *pW = 0;
  BecBatch b;
  i64 iSave = 0, iMark = 0;
  int rc, i;
  int eForm = m->bBatchLocal ? BATCH_LOCAL : BATCH_PEER;
  if( t==0 ) return SQLITE_OK;
  db = t->pCtx->db;
  m->pBatchTab = 0;
  if( m->bBatchLocal && m->bBatchAsc ){
    /* (unsigned: the span of two i64 keys may not fit an i64) */
    u64 nSpan = (u64)m->iBatchHi - (u64)m->iBatchLo;
    if( nSpan==(u64)m->nBatch-1 ) eForm = BATCH_DENSE;
    else if( nSpan<(u64)m->nBatch*2 ) eForm = BATCH_SPARSE;
  }
  rc = batch_stmt(t, m->aBatchMask, eForm, &pW);
  if( rc==SQLITE_OK ){
    memset(&b, 0, sizeof(b));
    b.nCol = t->pSchema->nCol;
    b.nRow = m->nBatch;
    b.aVal = m->aBatchVal;
    b.aHit = m->aBatchHit;
    b.iKey = -1;
    memset(b.aHit, 0, (size_t)m->nBatch);
    if( eForm==BATCH_DENSE || eForm==BATCH_SPARSE ){
      b.iKey = t->pSchema->aPk[0];
      sqlite3_bind_int64(pW, 3, m->iBatchLo);
      sqlite3_bind_int64(pW, 4, m->iBatchHi);
    }else if( eForm==BATCH_LOCAL ){
      /* Only an insert sets the last rowid: a mark no row of the batch
      ** inserts (the first key's complement; other tables' rowids are
      ** positive), the user's value restored after. */
      const BecSchema *s = t->pSchema;
      iSave = sqlite3_last_insert_rowid(db);
      iMark = s->bIntPk ? ~m->aBatchVal[s->aPk[0]].i : 0;
      sqlite3_set_last_insert_rowid(db, iMark);
    }
    sqlite3_bind_pointer(pW, 1, &b, BEC_BATCH_PTR, 0);
    sqlite3_bind_int(pW, 2, x);
    sqlite3_step(pW);
    rc = sqlite3_reset(pW);
    sqlite3_bind_null(pW, 1);     /* (b lives on this stack frame only) */
    if( eForm==BATCH_LOCAL ){
      if( rc==SQLITE_OK && sqlite3_last_insert_rowid(db)!=iMark ){
        rc = SQLITE_CORRUPT;       /* a located row was gone: never */
      }
      sqlite3_set_last_insert_rowid(db, iSave);
    }else if( eForm!=BATCH_PEER ){
      /* (an UPDATE inserts nothing: it must have written every row) */
      if( rc==SQLITE_OK && sqlite3_changes(db)!=m->nBatch ){
        rc = SQLITE_CORRUPT;       /* a located row was gone: never */
      }
    }
    if( m->bBatchLocal ) memset(b.aHit, 1, (size_t)m->nBatch);
  }
  for(i=0; rc==SQLITE_OK && pKinds && i<m->nBatch; i++){
    pKinds->a[m->aBatchKind[i]] = m->aBatchHit[i] ? BEC_FEED_UPDATE
                                                  : BEC_FEED_INSERT;
  }
  m->nBatch = 0;
  m->arena.n = 0;
  return rc;
}

/* Adds the upsert of op x to table t in m->aVal, m->abSet to the batch
** (writing first a batch of another table or of other columns, or a full
** one), and holds its byte in pKinds (may be 0) until the batch is
** written.  The caller checked covering(). */
static int batch_add(BecTab *t, Merge *m, int x, BecBuf *pKinds, int bCopy){
  const BecSchema *s = t->pSchema;
  u8 aMask[BEC_TABLE_MAX_COL/8];
  BecValue *aRow;
  int rc = SQLITE_OK, i;
  memset(aMask, 0, sizeof(aMask));
  for(i=0; i<s->nCol; i++){
    if( !s->aCol[i].iPk && m->abSet[i]==2 ) aMask[i/8] |= (u8)(1<<(i%8));
  }
  if( m->pBatchTab && (m->pBatchTab!=t || m->nBatch>=BATCH_MAX_ROWS
                       || m->bBatchLocal!=bCopy
                       || memcmp(aMask, m->aBatchMask, sizeof(aMask))!=0) ){
    rc = batch_flush(m, x, pKinds);
  }
  /* (each allocated on its own: after a failed one, the next call
  ** allocates what is missing) */
  if( rc==SQLITE_OK && m->aBatchHit==0 ){
    m->aBatchHit = sqlite3_malloc64(BATCH_MAX_ROWS);
    if( m->aBatchHit==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && m->aBatchKind==0 ){
    m->aBatchKind = sqlite3_malloc64(sizeof(i64)*BATCH_MAX_ROWS);
    if( m->aBatchKind==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK && (i64)(m->nBatch+1)*s->nCol>m->nBatchValAlloc ){
    i64 nNew = (i64)(m->nBatch+1)*s->nCol*2;
    BecValue *aNew = sqlite3_realloc64(m->aBatchVal,
                                       sizeof(BecValue)*(sqlite3_uint64)nNew);
    if( aNew==0 ) rc = SQLITE_NOMEM;
    else{
      m->aBatchVal = aNew;
      m->nBatchValAlloc = nNew;
    }
  }
  if( rc==SQLITE_OK && pKinds ){
    m->aBatchKind[m->nBatch] = pKinds->n;
    bec_buf_append_u8(pKinds, BEC_FEED_NONE, &rc);
  }
  if( rc ) return rc;
  if( m->pBatchTab==0 ){
    m->pBatchTab = t;
    m->bBatchLocal = bCopy;
    memcpy(m->aBatchMask, aMask, sizeof(aMask));
    m->bBatchAsc = bCopy && s->bIntPk
                && m->aVal[s->aPk[0]].eType==BEC_VAL_INT;
    if( m->bBatchAsc ) m->iBatchLo = m->iBatchHi = m->aVal[s->aPk[0]].i;
  }else if( m->bBatchAsc ){
    const BecValue *pKey = &m->aVal[s->aPk[0]];
    if( pKey->eType==BEC_VAL_INT && pKey->i>m->iBatchHi ){
      m->iBatchHi = pKey->i;
    }else{
      m->bBatchAsc = 0;
    }
  }
  if( bCopy ){
    /* A local row's text and blobs, copied: first their total, so the
    ** arena moves (and the batch's pointers into it are moved) at most
    ** once here. */
    i64 nNeed = m->arena.n;
    const u8 *aOld = m->arena.a;
    for(i=0; i<s->nCol; i++){
      if( m->abSet[i] && (m->aVal[i].eType==BEC_VAL_TEXT
                          || m->aVal[i].eType==BEC_VAL_BLOB) ){
        nNeed += m->aVal[i].n;
      }
    }
    if( nNeed>m->arena.nAlloc ){
      i64 nNew = nNeed*2 + 1024;
      u8 *aNew = sqlite3_realloc64(m->arena.a, (sqlite3_uint64)nNew);
      if( aNew==0 ) return SQLITE_NOMEM;
      m->arena.a = aNew;
      m->arena.nAlloc = nNew;
      if( aNew!=aOld ){
        i64 j, nVal = (i64)m->nBatch*s->nCol;
        for(j=0; j<nVal; j++){
          BecValue *v = &m->aBatchVal[j];
          if( (v->eType==BEC_VAL_TEXT || v->eType==BEC_VAL_BLOB) && v->n>0
           && (uintptr_t)v->a>=(uintptr_t)aOld
           && (uintptr_t)v->a<(uintptr_t)aOld + (uintptr_t)m->arena.n ){
            v->a = aNew + ((uintptr_t)v->a - (uintptr_t)aOld);
          }
        }
      }
    }
  }
  aRow = &m->aBatchVal[(i64)m->nBatch*s->nCol];
  for(i=0; i<s->nCol; i++){
    /* a column with no write shows its DEFAULT, the fill (bind_new_row) */
    aRow[i] = m->abSet[i] ? m->aVal[i] : s->aCol[i].dflt;
    if( bCopy && m->abSet[i] && aRow[i].n>0
     && (aRow[i].eType==BEC_VAL_TEXT || aRow[i].eType==BEC_VAL_BLOB) ){
      memcpy(m->arena.a + m->arena.n, aRow[i].a, (size_t)aRow[i].n);
      aRow[i].a = m->arena.a + m->arena.n;
      m->arena.n += aRow[i].n;
    }
  }
  m->nBatch++;
  return SQLITE_OK;
}

/**************************************************************************
** The change feed (bec_store_change; read by bec_changes in bec_feed.c).
** A write costs one byte per change and one row per op: what a change did
** is known only here, as it is applied; which key and columns it wrote are
** in the op, decoded when the feed is read.  Cursors only grow: a trim
** keeps the row it stops at (as its marker), so the largest rowid stays.
*/
static int feed_add(BecCtx *p, int iSeq, int iTbl, const u8 *aKind, i64 nKind){
  sqlite3_stmt *pStmt = 0;
  i64 iCursor = 0;
  int rc = bec_ctx_stmt(p, "INSERT INTO bec_store_change(seq, tbl, kinds) "
                           "VALUES(?1, ?2, ?3)", &pStmt);
  if( rc ) return rc;
  if( iSeq ) sqlite3_bind_int(pStmt, 1, iSeq);
  if( iTbl ) sqlite3_bind_int(pStmt, 2, iTbl);
  if( aKind ) sqlite3_bind_blob64(pStmt, 3, aKind, (sqlite3_uint64)nKind,
                                  SQLITE_STATIC);
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  sqlite3_clear_bindings(pStmt);
  if( rc==SQLITE_OK ) iCursor = sqlite3_last_insert_rowid(p->db);
  /* The bound, looked at once per 1024 rows: a feed never grows without
  ** limit; a reader that falls behind meets the marker and reloads. */
  if( rc==SQLITE_OK && iCursor%1024==0 ){
    i64 iMin = 0;
    rc = bec_ctx_stmt(p, "SELECT min(cursor) FROM bec_store_change", &pStmt);
    if( rc==SQLITE_OK ){
      if( sqlite3_step(pStmt)==SQLITE_ROW ) iMin = sqlite3_column_int64(pStmt, 0);
      rc = sqlite3_reset(pStmt);
    }
    if( rc==SQLITE_OK && iCursor-iMin>=BEC_FEED_MAX_ROWS ){
      i64 nDel = 0;
      rc = bec_crdt_feed_trim(p, iCursor - BEC_FEED_MAX_ROWS/2, &nDel);
    }
  }
  return rc;
}

/* Op iSeq's changes did aKind[0..nKind-1] (nothing recorded if none
** shows). */
static int feed_op(BecCtx *p, int iSeq, const u8 *aKind, i64 nKind){
  i64 i;
  for(i=0; i<nKind && aKind[i]==BEC_FEED_NONE; i++){}
  if( i==nKind ) return SQLITE_OK;
  return feed_add(p, iSeq, 0, aKind, nKind);
}

int bec_crdt_feed_trim(BecCtx *p, i64 iCursor, i64 *pnDel){
  sqlite3_stmt *pStmt = 0;
  i64 iMax = 0;
  int rc;
  *pnDel = 0;
  rc = bec_ctx_stmt(p, "SELECT max(cursor) FROM bec_store_change", &pStmt);
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) iMax = sqlite3_column_int64(pStmt, 0);
  rc = sqlite3_reset(pStmt);
  if( iCursor>iMax ) iCursor = iMax;
  if( rc || iCursor<1 ) return rc;
  rc = bec_ctx_stmt(p, "DELETE FROM bec_store_change WHERE cursor<?1", &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iCursor);
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK ) *pnDel = sqlite3_changes(p->db);
  if( rc==SQLITE_OK && *pnDel>0 ){
    rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_change"
                         "(cursor, seq, tbl, kinds) VALUES(?1, NULL, NULL, NULL)",
                      &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, iCursor);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  return rc;
}

/**************************************************************************
** Applying a write op.
*/
/* Applies the changes of write op x to live tables (only to incarnation
** iOnly if non-zero).  bAll: every earlier op is an ancestor of x.
** pKinds (may be 0): receives the BEC_FEED_* of each change. */
static int apply_plain(BecCtx*, Merge*, int, const BecOp*, int, int, BecBuf*,
                       BecGraph*, char**);
static int apply_write(BecCtx *p, Merge *m, int x, const BecOp *pOpIn, int bAll,
                       int iOnly, BecBuf *pKinds, char **pzErr){
  BecGraph *g = 0;
  int rc = SQLITE_OK;

  BecOp op = *pOpIn;
  const BecOp *pOp = &op;
  u8 *aPlain = 0;                 /* e2ee: the plaintext of an envelope */
  const char *zLocked = 0;

  /* With bAll the merge needs no walk: apply_change loads the graph if a
  ** row needs merging (a peer's op on a linear history need not). */
  if( bAll ) g = p->pGraph;
  else rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = bec_e2ee_open(p, &op, &aPlain, &zLocked, pzErr);
  if( rc || zLocked ) return rc;  /* (a locked op is ignored: never here) */
  rc = apply_plain(p, m, x, pOp, bAll, iOnly, pKinds, g, pzErr);
  sqlite3_free(aPlain);
  return rc;
}
static int apply_plain(BecCtx *p, Merge *m, int x, const BecOp *pOp, int bAll,
                       int iOnly, BecBuf *pKinds, BecGraph *g, char **pzErr){
  BecWriteReader wr;
  BecSchema *aSchema[BEC_WRITE_MAX_TABLES];
  BecTab *aTab[BEC_WRITE_MAX_TABLES];
  int nLoaded = 0;
  int rc, i;
  rc = bec_write_open(&wr, pOp->aPayload, pOp->nPayload);
  if( rc ){
    *pzErr = sqlite3_mprintf("malformed: bad write payload");
    return rc;
  }
  if( g ){
    anc_init(&m->anc, g, x, BEC_NODE_PREDS(g, x), g->aNode[x].nPred, bAll);
  }else{
    anc_init(&m->anc, 0, x, 0, 0, 1);             /* (bAll: apply_write) */
  }
  for(i=0; rc==SQLITE_OK && i<wr.nTable; i++){
    int iSchema = 0, bLive = 0;
    aTab[i] = 0;
    aSchema[i] = 0;
    rc = bec_dag_seq_of(p, &wr.aTableHash[i*BEC_HASH_BYTES], &iSchema);
    if( rc==SQLITE_OK ) rc = bec_crdt_load_schema(p, iSchema, &aSchema[i], 0, pzErr);
    nLoaded = i+1;
    if( rc==SQLITE_OK && (iOnly==0 || iOnly==iSchema) ){
      rc = is_live(p, iSchema, &bLive);
      if( rc==SQLITE_OK && bLive ){
        rc = tab_find(p, iSchema, aSchema[i], &aTab[i], pzErr);
      }
      if( aTab[i] ) bec_tab_hold(aTab[i]);
      if( rc==SQLITE_OK && aTab[i] ) aTab[i]->eConflicts = -1;
    }
  }
  while( rc==SQLITE_OK && wr.iChange<wr.nChange ){
    int iTable = 0, bDelete = 0;
    rc = bec_write_head(&wr, &iTable, &bDelete);
    if( rc==SQLITE_OK ){
      rc = bec_write_body(&wr, aSchema[iTable], bDelete, m->aVal, m->abSet);
    }
    if( rc==SQLITE_OK && aTab[iTable] ){
      const BecSchema *s = aSchema[iTable];
      int k, bCover = 0;
      /* Key identity: the same normal form as local writes (the verdict
      ** kept out every key this cannot normalise). */
      for(k=0; k<s->nPk; k++) bec_key_normalize(&m->aVal[s->aPk[k]]);
      if( !bDelete ) rc = covering(aTab[iTable], m, &bCover);
      if( rc==SQLITE_OK && bCover ){
        rc = batch_add(aTab[iTable], m, x, pKinds, 0);
        continue;                   /* (its feed byte is held) */
      }
      if( rc==SQLITE_OK ) rc = batch_flush(m, x, pKinds);
      if( rc==SQLITE_OK ){
        rc = apply_change(aTab[iTable], m, x,
                          bDelete ? BEC_CHANGE_DELETE : BEC_CHANGE_UPSERT, 0, 0);
      }
    }
    if( rc==SQLITE_OK && pKinds ){
      bec_buf_append_u8(pKinds, aTab[iTable] ? (u8)m->eFeed : BEC_FEED_NONE,
                        &rc);
    }
  }
  if( rc==SQLITE_OK ) rc = batch_flush(m, x, pKinds);
  m->pBatchTab = 0;                 /* (nothing of a failed op is written) */
  m->nBatch = 0;
  for(i=0; i<nLoaded; i++){
    bec_schema_free(aSchema[i]);
    bec_tab_release(aTab[i]);
  }
  if( rc && *pzErr==0 ){
    /* Errors of bec's own (a damaged row's metadata) are not the
    ** connection's last error. */
    const char *zWhy = sqlite3_extended_errcode(p->db)==rc
                     ? sqlite3_errmsg(p->db) : sqlite3_errstr(rc);
    *pzErr = sqlite3_mprintf("bec: cannot merge write op %d: %s%s", x,
        (rc & 0xff)==SQLITE_CORRUPT ? "damaged table storage: " : "", zWhy);
  }
  return rc;
}

/**************************************************************************
** Local writes, in one direction.  A change that xUpdate makes becomes one
** set of values that is encoded into the transaction's write op and applied
** by apply_change, the writer of peers' ops, as that op: with the seq it
** will get (pC->iSeq) and every stored op its ancestor, as every local op
** has.  The transaction so reads its own writes.  At commit
** bec_crdt_flush signs the op and hands it to the acceptance path like a
** peer's op; crdt_stored then finds exactly these changes applied under
** exactly that seq and ancestry, or recomputes the tables they touched.
*/
/* Before the first change of a transaction: the identity must be usable,
** and the op's seq is predicted. */
int bec_crdt_txn_begin(BecCtx *p, char **pzErr){
  BecCrdt *pC = p->pCrdt;
  const u8 *aSecret = 0;
  u8 aGroup[BEC_HASH_BYTES];
  int rc;
  if( pC->bTxn ) return SQLITE_OK;
  rc = bec_dag_secret(p, &aSecret, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, aGroup, pzErr);
  /* e2ee: the rekey or keyshare the safety rule asks for goes first. */
  if( rc==SQLITE_OK ) rc = bec_e2ee_before_write(p, pzErr);
  /* The seq the op will get follows the last stored row: the check reads
  ** that row, not the graph (loaded later only if a change must merge). */
  if( rc==SQLITE_OK ) rc = bec_graph_check(p, pzErr);
  if( rc==SQLITE_OK ){
    pC->bTxn = 1;
    pC->iSeq = p->nKnown + 1;
  }
  return rc;
}

/* Appends one change to the transaction's op: head, key values and, for
** an upsert, the mask and values of the columns with abSet[i]==2. */
static int change_encode(BecTab *t, BecCrdt *pC, int bDelete,
                         const BecValue *aVal, const u8 *abSet, char **pzErr){
  const BecSchema *s = t->pSchema;
  u8 aMask[(BEC_TABLE_MAX_COL+7)/8];
  int nMask = (s->nCol+7)/8;
  int rc, iTable = 0, i, k;
  if( pC->chg.n > BEC_MAX_PAYLOAD ){
    *pzErr = sqlite3_mprintf("bec: too large: this transaction's changes to bec "
        "tables exceed the op size limit of %d bytes; split it into smaller "
        "transactions", BEC_MAX_PAYLOAD);
    return SQLITE_TOOBIG;
  }
  rc = bec_crdt_txn_table(pC, t, &iTable);
  if( rc==SQLITE_TOOBIG ){
    *pzErr = sqlite3_mprintf("bec: a transaction may write to at most %d bec "
                             "tables", BEC_WRITE_MAX_TABLES);
    return rc;
  }
  bec_buf_append_varint(&pC->chg, (u64)iTable*2 + (bDelete ? 1 : 0), &rc);
  for(k=0; k<s->nPk; k++) bec_value_put(&pC->chg, &aVal[s->aPk[k]], &rc);
  if( !bDelete ){
    memset(aMask, 0, sizeof(aMask));
    for(i=0; i<s->nCol; i++) if( abSet[i]==2 ) aMask[i/8] |= (u8)(1<<(i%8));
    bec_buf_append(&pC->chg, aMask, nMask, &rc);
    for(i=0; i<s->nCol; i++){
      if( abSet[i]==2 ) bec_value_put(&pC->chg, &aVal[i], &rc);
    }
  }
  pC->nChange++;
  return rc;
}

/* Local batches (issue 18; BENCH.md "Writes in batches").  A local UPDATE
** of a row xUpdate located, whose write apply_covering would make (no
** counter, no conflicts: every stored op is the transaction's ancestor),
** is held in the batch of the connection's Merge, with copies of its
** values, and written by the batch statement: the same row, registers
** and feed byte (bec_batch_hit), one statement per batch instead of one
** per row.  The batch reaches the shadow table before anything reads it:
** bec_crdt_local_flush is called by any other local change, xFilter of
** every bec table, xSavepoint and xRelease (the statement's end inside a
** transaction), bec_crdt_flush (xSync, the end of an autocommit statement
** and of a transaction); xRollbackTo and xRollback discard it
** (bec_crdt_local_discard): it holds only changes made after the newest
** savepoint, since xSavepoint flushes.
**
** Only while SQLite is in autocommit: the statement's end is then xSync,
** where SQLite has taken the tables out of the transaction's list
** (sqlite3VtabSync), so the batch statement calls no savepoint method,
** and nothing after the statement sees the rows unwritten.  Inside BEGIN
** the batch would outlive its statement (a one-row UPDATE opens no
** statement savepoint) and reach a reader that is not a bec table (a
** shadow table, bec's own functions), and it would be written inside
** xRelease, where the batch statement's own statement savepoint takes the
** index of the one being released: a retry of that statement (SQLITE_SCHEMA
** after a DROP TABLE) rolled back to it and cut this transaction's op
** short of changes whose rows were written (test_local_batch
** test_batch_in_transaction; bytesim seed 78).  So a batch is written
** inside xSavepoint or xRelease only when a function of the statement
** opens a savepoint, and bLocalFlush makes the savepoint methods ignore
** the batch statement's own savepoints: that statement changes no op
** bytes, and its own rollback undoes only rows its retry writes again.
** BEC_NO_LOCAL_BATCH=1 in the environment (read once per process) turns
** it off, and the judgment of changes as they are made (local_judge): a
** test knob, for the differential test_local_batch.py. */
static int local_batching(void){
  static int eOn = -1;            /* (a benign race: every reader agrees) */
  if( eOn<0 ){
    const char *z = getenv("BEC_NO_LOCAL_BATCH");
    eOn = (z && z[0] && z[0]!='0') ? 0 : 1;
  }
  return eOn;
}

/* The local judgment of changes (bec_crdt_local_change, local_judge) is
** cross-checked against the full reading at crdt_admit with
** BEC_CHECK_JUDGED=1 in the environment (read once per process): a test
** knob. */
static int local_judge_check(void){
  static int eOn = -1;            /* (a benign race: every reader agrees) */
  if( eOn<0 ){
    const char *z = getenv("BEC_CHECK_JUDGED");
    eOn = (z && z[0] && z[0]!='0') ? 1 : 0;
  }
  return eOn;
}

/* The local judgment of one change (issue 18): change nChange-1 of the
** transaction's op, just encoded by change_encode from aVal/abSet of table
** s, is judged by change_reason, the rules every replica's verdict
** applies to each change (verdict_write), on the same values: the codec is
** lossless (test_codec), so reading them back from the op's bytes at
** crdt_admit would find what this finds.  A clean change extends the
** judged prefix (nJudged).  Only tables whose per-change rules are
** change_reason's alone: no CHECK, NOT NULL or strict rule
** (bConstrained: bec_crdt_constraints), no counter (the steps of one cell
** are judged across changes: steps_combined), no added column (the
** op's schema is then the op's past's, write_schema).  A change that is
** not judged, or has a reason, leaves the op to the full reading, which
** gives its verdict as before.  Off with BEC_NO_LOCAL_BATCH=1. */
static void local_judge(BecCrdt *pC, const BecSchema *s, BecValue *aVal,
                        const u8 *abSet){
  char *zReason = 0;
  int rc, k;
  if( pC->nJudged!=pC->nChange-1 || !local_batching() ) return;
  if( s->bConstrained || s->nCol!=s->nBase ) return;
  for(k=0; k<s->nCol && !(s->aCol[k].flags & BEC_COL_COUNTER); k++){}
  if( k<s->nCol ) return;
  rc = change_reason(s, aVal, abSet, pC->nChange-1, &zReason);
  if( rc==SQLITE_OK && zReason==0 ) pC->nJudged++;
  sqlite3_free(zReason);
}

int bec_crdt_local_flush(BecCtx *p){
  BecCrdt *pC = p->pCrdt;
  Merge *m = pC ? (Merge*)pC->pMerge : 0;
  int rc;
  if( m==0 || m->pBatchTab==0 ) return SQLITE_OK;
  pC->bLocalFlush = 1;
  rc = batch_flush(m, pC->iSeq, &pC->feed);
  pC->bLocalFlush = 0;
  return rc;
}

void bec_crdt_local_discard(BecCrdt *pC){
  Merge *m = pC ? (Merge*)pC->pMerge : 0;
  if( m ){
    m->pBatchTab = 0;
    m->nBatch = 0;
    m->arena.n = 0;
  }
}

int bec_crdt_local_change(BecTab *t, int eChange, sqlite3_value **apKey,
                          const u8 *abSet, sqlite3_value **aV,
                          const i64 *piAt, i64 *piRowid, char **pzErr){
  BecCtx *p = t->pCtx;
  BecCrdt *pC = p->pCrdt;
  const BecSchema *s = t->pSchema;
  const i64 nBuf0 = pC->chg.n, nChange0 = pC->nChange;
  const int nTable0 = pC->nTable;
  Merge *m;
  int rc, i, k;

  rc = bec_crdt_txn_begin(p, pzErr);
  if( rc ) return rc;
  if( pC->pMerge==0 ){
    pC->pMerge = sqlite3_malloc64(sizeof(Merge));
    if( pC->pMerge==0 ) return SQLITE_NOMEM;
    memset(pC->pMerge, 0, sizeof(Merge));
  }
  m = (Merge*)pC->pMerge;
  /* One set of values: the op's bytes are their encoding, and the merge
  ** applies the same values (the codec is lossless: test_codec). */
  for(i=0; i<s->nCol; i++) m->abSet[i] = 0;
  for(k=0; rc==SQLITE_OK && k<s->nPk; k++){
    rc = bec_value_of(apKey[k], &m->aVal[s->aPk[k]]);
    m->abSet[s->aPk[k]] = 1;
  }
  for(i=0; rc==SQLITE_OK && eChange!=BEC_CHANGE_DELETE && i<s->nCol; i++){
    if( (abSet[i]==2 || abSet[i]==BEC_SET_STEP) && !s->aCol[i].iPk ){
      rc = bec_value_of(aV[i], &m->aVal[i]);
      if( abSet[i]==BEC_SET_STEP ) m->aVal[i].eType = BEC_VAL_STEP;
      m->abSet[i] = 2;
    }
  }
  if( rc==SQLITE_OK ){
    /* (a rollback to a savepoint cut the op short of judged changes) */
    if( pC->nJudged>pC->nChange ) pC->nJudged = pC->nChange;
    rc = change_encode(t, pC, eChange==BEC_CHANGE_DELETE, m->aVal, m->abSet,
                       pzErr);
    if( rc==SQLITE_OK ) local_judge(pC, s, m->aVal, m->abSet);
  }
  if( rc==SQLITE_OK ){
    int bBatch = 0;
    for(k=0; k<s->nPk; k++) bec_key_normalize(&m->aVal[s->aPk[k]]);
    /* (the graph is fetched only if the row needs merging: apply_change) */
    anc_init(&m->anc, 0, pC->iSeq, 0, 0, 1);
    if( eChange==BEC_CHANGE_UPSERT && piAt && piRowid==0 && local_batching()
     && sqlite3_get_autocommit(p->db) ){
      /* A local batch of t holds only rows that covering() admitted, and
      ** any other change writes it first: nothing since has changed the
      ** answer (no conflict is recorded, no counter added). */
      if( m->pBatchTab==t && m->bBatchLocal ) bBatch = 1;
      else rc = covering(t, m, &bBatch);
    }
    if( rc==SQLITE_OK && bBatch ){
      /* (its feed byte, change nChange-1's, is set when the batch is
      ** written) */
      pC->feed.n = pC->nChange - 1;
      rc = batch_add(t, m, pC->iSeq, &pC->feed, 1);
      if( rc==SQLITE_OK ) return SQLITE_OK;
    }
    if( rc==SQLITE_OK ) rc = bec_crdt_local_flush(p);
    if( rc==SQLITE_OK ) rc = apply_change(t, m, pC->iSeq, eChange, piAt, piRowid);
    if( rc==SQLITE_CONSTRAINT_DATATYPE && *pzErr==0 ){
      *pzErr = sqlite3_mprintf("COUNTER column %s.%s: the steps this "
          "transaction makes to one row sum out of range (a step is at most "
          "2^63-1 either way); commit between them", s->zName,
          s->aCol[m->iStepRange].zName);
    }
  }
  if( rc==SQLITE_OK ){
    /* The feed byte of change nChange-1 (a rollback to a savepoint lowers
    ** nChange: the next change overwrites what it undid). */
    pC->feed.n = pC->nChange - 1;
    bec_buf_append_u8(&pC->feed, (u8)m->eFeed, &rc);
  }
  if( rc ){
    /* Nothing of a failed change stays in the op. */
    pC->chg.n = nBuf0;
    pC->nChange = nChange0;
    pC->nTable = nTable0;
  }
  return rc;
}

/* *paAll (sqlite3_free it): aAll[x] is 1 if every op before x is an
** ancestor of x, which holds exactly when every head of ops 1..x-1 is a
** predecessor of x: then x needs no walk of the DAG (Anc.bAll). */
static int all_ancestors(const BecGraph *g, u8 **paAll){
  u8 *aAll = sqlite3_malloc64((sqlite3_uint64)g->nNode + 2);
  u8 *aHead = sqlite3_malloc64((sqlite3_uint64)g->nNode + 2);
  int i, nHead = 0;
  *paAll = 0;
  if( aAll==0 || aHead==0 ){
    sqlite3_free(aAll);
    sqlite3_free(aHead);
    return SQLITE_NOMEM;
  }
  memset(aHead, 0, (size_t)g->nNode + 2);
  for(i=1; i<=g->nNode; i++){
    const int *aP = BEC_NODE_PREDS(g, i);
    int j, nIn = 0;
    for(j=0; j<g->aNode[i].nPred; j++){
      if( aHead[aP[j]] ){ aHead[aP[j]] = 0; nIn++; }
    }
    aAll[i] = nIn==nHead;
    nHead = nHead - nIn + 1;
    aHead[i] = 1;
  }
  sqlite3_free(aHead);
  *paAll = aAll;
  return SQLITE_OK;
}

static int base_load(BecCtx*, BecGraph*, BecTab*, u8**, char**);

/* Recomputes incarnation iSchema's rows from every valid write op (if it
** is shown on this replica): on a pruned replica, from the merge base and
** the valid writes outside its cut.  aUpTo (may be 0): only the writes
** with aUpTo[seq] set (bec_crdt_base_take, computing S(K)'s rows). */
static int rebuild_upto(BecCtx*, int, const u8*, char**);
static int rebuild(BecCtx *p, int iSchema, char **pzErr){
  return rebuild_upto(p, iSchema, 0, pzErr);
}
static int rebuild_upto(BecCtx *p, int iSchema, const u8 *aUpTo,
                        char **pzErr){
  BecGraph *g = 0;
  BecTab *t = 0;
  BecSchema *pNow = 0;            /* the incarnation as its ops show it */
  sqlite3_stmt *pStmt = 0;
  Merge *m = 0;
  u8 *aAll = 0;
  u8 *aBase = 0;                  /* the merge base's cut, if pruned */
  int rc;
  char *zSql = 0;

  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = bec_crdt_load_schema(p, iSchema, &pNow, 0, pzErr);
  if( rc==SQLITE_OK ) rc = tab_find(p, iSchema, pNow, &t, pzErr);
  bec_schema_free(pNow);
  if( rc || t==0 ) return rc;       /* (hidden: rebuilt when shown) */
  bec_tab_hold(t);
  zSql = sqlite3_mprintf("DELETE FROM %s", t->zRows);
  rc = zSql ? bec_ctx_exec(p, zSql, pzErr) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_conflict WHERE tbl=?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iSchema);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
    t->eConflicts = 0;
  }
  if( rc==SQLITE_OK ){
    m = sqlite3_malloc64(sizeof(Merge));
    if( m==0 ) rc = SQLITE_NOMEM;
    else memset(m, 0, sizeof(*m));
  }
  if( rc==SQLITE_OK ) rc = all_ancestors(g, &aAll);
  if( rc==SQLITE_OK ) rc = base_load(p, g, t, &aBase, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT seq, body FROM bec_store_op "
                         "WHERE kind=6 AND seq>?1 AND seq NOT IN "
                         "(SELECT seq FROM bec_store_ignored) ORDER BY seq", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, iSchema);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      int x = sqlite3_column_int(pStmt, 0);
      BecOp op;
      if( x<1 || x>g->nNode ){ rc = SQLITE_CORRUPT; break; }
      if( !g->aNode[x].bValid ) continue;
      if( aBase && aBase[x] ) continue;       /* in the base */
      if( aUpTo && !aUpTo[x] ) continue;
      /* (a dropped body lies in a base's cut, bec_check says so: met here
      ** only in a replay before its base is copied in) */
      if( bec_dag_body_dropped(sqlite3_column_blob(pStmt, 1),
                               sqlite3_column_bytes(pStmt, 1)) ) continue;
      rc = bec_op_decode(sqlite3_column_blob(pStmt, 1),
                         sqlite3_column_bytes(pStmt, 1), &op, pzErr);
      if( rc==SQLITE_OK ) rc = apply_write(p, m, x, &op, aAll[x], iSchema, 0, pzErr);
    }
    bec_stmt_reset(pStmt, &rc);
  }
  if( m ) merge_free(m);
  sqlite3_free(m);
  sqlite3_free(aAll);
  sqlite3_free(aBase);
  bec_tab_release(t);
  return rc;
}

/**************************************************************************
** The merge base (pruning: bec_prune.c decides, docs/compaction.md says
** why it is sound).
**
** bec_prune() drops the bodies of the write ops in the cut of a sealed
** checkpoint K.  Their validity is final, and what they can still
** contribute to any later state is S(K)'s registers: a write below a
** register's candidates is covered by whatever covers the candidates, a
** delete in the cut covers only writes in the cut, and no op outside the
** cut is below one inside.  So the base is the shown rows (values, r, s..)
** and the conflicts of every shown table as they stand when the table is
** rebuilt from the cut's writes alone, kept in
**   bec_store_base(tbl, row, cells)   row 0: the id of each column the
**                                     rows hold (the create's index i as an
**                                     integer, an added column's ADD op hash
**                                     as a blob); rows 1..: the shadow cells
**                                     c.. (one per id), r, s.. (one per
**                                     non-key id), in the value encoding
**   bec_store_base_conflict(tbl, pk, col, seq, value)
**                                     as bec_store_conflict (col: an index
**                                     into row 0's ids)
** Columns are named by id, not position, because the shown columns change
** with the alters (bec_alter) that arrive after the prune: a column added
** later has no write in the base (its fill shows), a column gone from the
** shown schema (dropped, or an added column hidden by a name collision)
** is left out when the base is loaded.
** and rebuild() starts from it and applies the valid writes outside
** cut(K) in seq order, which gives the registers a replay of every valid
** write gives.  bec_store_config 'prune_checkpoint' names K.
*/
static int base_cut(BecCtx *p, BecGraph *g, u8 **paCut){
  i64 iCp = 0;
  int rc = bec_config_get_int(p, "prune_checkpoint", 0, &iCp);
  *paCut = 0;
  if( rc || iCp==0 ) return rc;
  if( iCp==-1 ){
    /* A scratch database replaying exactly the base's cut (the snapshot of
    ** the prune checkpoint, bec_crdt_base_copy): every op is in it. */
    *paCut = sqlite3_malloc64((u64)g->nNode+1);
    if( *paCut==0 ) return SQLITE_NOMEM;
    memset(*paCut, 1, (size_t)g->nNode+1);
    return SQLITE_OK;
  }
  if( iCp<1 || iCp>g->nNode ) return SQLITE_CORRUPT;
  return bec_graph_past(g, BEC_NODE_PREDS(g, (int)iCp), g->aNode[iCp].nPred,
                        paCut);
}

/* Fills t's emptied shadow table and conflicts from the base; *paBase
** (sqlite3_free it) is the base's cut, 0 on a replica never pruned. */
/* The id of shown column i of s, as base_save writes it. */
static void base_col_id(const BecSchema *s, int i, BecValue *pV){
  memset(pV, 0, sizeof(*pV));
  if( i<s->nBase ){
    pV->eType = BEC_VAL_INT;
    pV->i = i;
  }else{
    pV->eType = BEC_VAL_BLOB;
    pV->n = BEC_HASH_BYTES;
    pV->a = &s->aAddHash[(i-s->nBase)*BEC_HASH_BYTES];
  }
}

/* aMap[k] = the shown column of s whose id is the k-th of the base's row 0
** (cells rd), -1 if none shows; *pnOld the number of ids.  aMap holds
** BEC_TABLE_MAX_COL entries. */
static int base_map(const BecSchema *s, BecReader *rd, int *aMap, int *pnOld){
  int nOld = 0, j;
  while( rd->i<rd->n ){
    BecValue v, w;
    if( nOld>=BEC_TABLE_MAX_COL || bec_value_decode(rd, &v) ) return SQLITE_CORRUPT;
    aMap[nOld] = -1;
    for(j=0; j<s->nCol; j++){
      base_col_id(s, j, &w);
      if( v.eType==w.eType && (v.eType==BEC_VAL_INT ? v.i==w.i
                : v.n==w.n && memcmp(v.a, w.a, (size_t)v.n)==0) ){
        aMap[nOld] = j;
        break;
      }
    }
    nOld++;
  }
  *pnOld = nOld;
  return SQLITE_OK;
}

static int base_load(BecCtx *p, BecGraph *g, BecTab *t, u8 **paBase,
                     char **pzErr){
  sqlite3_stmt *pSel = 0, *pIns = 0;
  const BecSchema *s = t->pSchema;
  int aMap[BEC_TABLE_MAX_COL], aOldPk[BEC_TABLE_MAX_COL];
  BecValue aVal[BEC_TABLE_MAX_COL], aSeq[BEC_TABLE_MAX_COL];
  int rc = base_cut(p, g, paBase), i, k, nOld = -1;
  if( rc || *paBase==0 ) return rc;
  rc = bec_ctx_stmt(p, "SELECT row, cells FROM bec_store_base WHERE tbl=?1 "
                       "ORDER BY row", &pSel);
  if( rc==SQLITE_OK ) rc = bec_tab_stmt(t, BEC_TAB_INSERT, &pIns);
  if( rc ) return rc;
  t->aNewBound[0].iX = 0;          /* (its r and s.. are bound below) */
  sqlite3_bind_int(pSel, 1, t->iSchema);
  while( rc==SQLITE_OK && sqlite3_step(pSel)==SQLITE_ROW ){
    BecReader rd;
    BecValue r;
    rd.a = sqlite3_column_blob(pSel, 1);
    rd.n = sqlite3_column_bytes(pSel, 1);
    rd.i = 0;
    if( sqlite3_column_int64(pSel, 0)==0 ){
      rc = base_map(s, &rd, aMap, &nOld);
      for(i=0; rc==SQLITE_OK && i<nOld; i++){
        /* a key column is the create's, shown at its own index */
        aOldPk[i] = aMap[i]>=0 && s->aCol[aMap[i]].iPk;
      }
      continue;
    }
    if( nOld<0 ){ rc = SQLITE_CORRUPT; break; }
    /* a column the base does not hold: no write, its fill */
    for(i=0; i<s->nCol; i++){
      aVal[i] = s->aCol[i].dflt;
      memset(&aSeq[i], 0, sizeof(BecValue));
    }
    for(i=0; rc==SQLITE_OK && i<nOld; i++){
      BecValue v;
      if( bec_value_decode(&rd, &v) ) rc = SQLITE_CORRUPT;
      else if( aMap[i]>=0 ) aVal[aMap[i]] = v;
    }
    if( rc==SQLITE_OK && bec_value_decode(&rd, &r) ) rc = SQLITE_CORRUPT;
    for(i=0; rc==SQLITE_OK && i<nOld; i++){
      BecValue v;
      if( aOldPk[i] ) continue;
      if( bec_value_decode(&rd, &v) ) rc = SQLITE_CORRUPT;
      else if( aMap[i]>=0 ) aSeq[aMap[i]] = v;
    }
    if( rc==SQLITE_OK && rd.i!=rd.n ) rc = SQLITE_CORRUPT;
    if( rc==SQLITE_OK ){
      for(i=0; i<s->nCol; i++) bec_value_bind(pIns, i+1, &aVal[i]);
      bec_value_bind(pIns, s->nCol+1, &r);
      for(i=0, k=0; i<s->nCol; i++){
        if( !s->aCol[i].iPk ) bec_value_bind(pIns, s->nCol+2+k++, &aSeq[i]);
      }
      sqlite3_step(pIns);
      rc = sqlite3_reset(pIns);
    }
  }
  sqlite3_reset(pSel);
  if( rc==SQLITE_CORRUPT ){
    *pzErr = sqlite3_mprintf("bec: the merge base of table %s is damaged "
                             "(bec_store_base)", s->zName);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT pk, col, seq, value FROM bec_store_base_conflict"
                         " WHERE tbl=?1", &pSel);
    if( rc==SQLITE_OK ) rc = bec_ctx_stmt(p, "INSERT INTO bec_store_conflict(tbl, "
        "pk, col, seq, value) VALUES(?1, ?2, ?3, ?4, ?5)", &pIns);
    if( rc==SQLITE_OK ) sqlite3_bind_int(pSel, 1, t->iSchema);
    while( rc==SQLITE_OK && sqlite3_step(pSel)==SQLITE_ROW ){
      int col = sqlite3_column_int(pSel, 1), iTo = col;
      if( col>=nOld ){ rc = SQLITE_CORRUPT; break; }
      if( col>=0 && aMap[col]<0 ) continue;       /* not shown: left out */
      if( col>=0 ) iTo = aMap[col];
      if( col<=-2 ){
        /* a counter's member, named by its column's index in the base */
        int iOld = (-col-2)/2;
        if( iOld>=nOld ){ rc = SQLITE_CORRUPT; break; }
        if( aMap[iOld]<0 ) continue;
        iTo = (-col)%2==0 ? COUNTER_STEP_COL(aMap[iOld])
                          : COUNTER_BASE_COL(aMap[iOld]);
      }
      sqlite3_bind_int(pIns, 1, t->iSchema);
      sqlite3_bind_value(pIns, 2, sqlite3_column_value(pSel, 0));
      sqlite3_bind_int(pIns, 3, iTo);
      sqlite3_bind_value(pIns, 4, sqlite3_column_value(pSel, 2));
      sqlite3_bind_value(pIns, 5, sqlite3_column_value(pSel, 3));
      sqlite3_step(pIns);
      rc = sqlite3_reset(pIns);
    }
    if( pSel ) sqlite3_reset(pSel);
    if( rc==SQLITE_CORRUPT ){
      *pzErr = sqlite3_mprintf("bec: the merge base of table %s is damaged "
                               "(bec_store_base_conflict)", s->zName);
    }
    t->eConflicts = -1;
  }
  return rc;
}

/* Copies t's shown rows and conflicts into the base. */
static int base_save(BecCtx *p, BecTab *t){
  const BecSchema *s = t->pSchema;
  sqlite3_stmt *pSel = 0, *pIns = 0;
  BecBuf b, cells;
  int rc = SQLITE_OK, i, nCell = 0;
  i64 iRow = 0;
  memset(&b, 0, sizeof(b));
  memset(&cells, 0, sizeof(cells));
  bec_buf_appendf(&b, &rc, "SELECT ");
  for(i=0; i<s->nCol; i++) bec_buf_appendf(&b, &rc, "c%d, ", i);
  bec_buf_appendf(&b, &rc, "r");
  for(i=0; i<s->nCol; i++) if( !s->aCol[i].iPk ) bec_buf_appendf(&b, &rc, ", s%d", i);
  bec_buf_appendf(&b, &rc, " FROM %s", t->zRows);
  bec_buf_append_u8(&b, 0, &rc);
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(p->db, (const char*)b.a, -1, &pSel, 0);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_base(tbl, row, cells) "
                         "VALUES(?1, ?2, ?3)", &pIns);
  }
  if( rc==SQLITE_OK ){
    /* row 0: the columns' ids (base_load maps them to the shown ones) */
    for(i=0; i<s->nCol; i++){
      BecValue v;
      base_col_id(s, i, &v);
      bec_value_put(&cells, &v, &rc);
    }
    sqlite3_bind_int(pIns, 1, t->iSchema);
    sqlite3_bind_int64(pIns, 2, 0);
    sqlite3_bind_blob(pIns, 3, cells.a, (int)cells.n, SQLITE_STATIC);
    if( rc==SQLITE_OK ){
      sqlite3_step(pIns);
      rc = sqlite3_reset(pIns);
    }
  }
  if( rc==SQLITE_OK ) nCell = sqlite3_column_count(pSel);
  while( rc==SQLITE_OK && sqlite3_step(pSel)==SQLITE_ROW ){
    cells.n = 0;
    for(i=0; i<nCell; i++) bec_value_encode(&cells, sqlite3_column_value(pSel, i), &rc);
    if( rc ) break;
    sqlite3_bind_int(pIns, 1, t->iSchema);
    sqlite3_bind_int64(pIns, 2, ++iRow);
    sqlite3_bind_blob(pIns, 3, cells.a, (int)cells.n, SQLITE_STATIC);
    sqlite3_step(pIns);
    rc = sqlite3_reset(pIns);
  }
  sqlite3_finalize(pSel);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_base_conflict(tbl, pk, col, "
        "seq, value) SELECT tbl, pk, col, seq, value FROM bec_store_conflict "
        "WHERE tbl=?1", &pIns);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pIns, 1, t->iSchema);
      sqlite3_step(pIns);
      rc = sqlite3_reset(pIns);
    }
  }
  bec_buf_free(&b);
  bec_buf_free(&cells);
  return rc;
}

static int base_tab(BecCtx*, int, BecTab**, char**, char**);

/* Every table of p rebuilt from the merge base and the valid writes
** outside its cut (a scratch given a base, an installed snapshot). */
static int base_rebuild_tables(BecCtx *pTo, char **pzErr){
  sqlite3_stmt *pSel = 0;
  int rc = SQLITE_OK;
  if( rc==SQLITE_OK ){
    BecGraph *g = 0;
    int *aSeq = 0, n = 0, i;
    char *zWhy = 0;
    rc = bec_graph_get(pTo, &g, pzErr);
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(pTo, "SELECT seq FROM bec_store_table", &pSel);
      while( rc==SQLITE_OK && sqlite3_step(pSel)==SQLITE_ROW ){
        int *aNew = sqlite3_realloc64(aSeq, sizeof(int)*(u64)(n+1));
        if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
        aSeq = aNew;
        aSeq[n++] = sqlite3_column_int(pSel, 0);
      }
      if( pSel ) sqlite3_reset(pSel);
    }
    for(i=0; rc==SQLITE_OK && i<n; i++){
      BecTab *t = 0;
      rc = base_tab(pTo, aSeq[i], &t, &zWhy, pzErr);
      if( rc==SQLITE_OK && t ) rc = rebuild(pTo, t->iSchema, pzErr);
    }
    if( rc==SQLITE_OK && zWhy ){
      *pzErr = zWhy;
      zWhy = 0;
      rc = SQLITE_ERROR;
    }
    sqlite3_free(zWhy);
    sqlite3_free(aSeq);
  }
  return rc;
}

int bec_crdt_base_install(BecCtx *p, int iCp, char **pzErr){
  BecCrdt *pC = 0;
  int rc = bec_crdt_get(p, &pC);
  if( rc==SQLITE_OK ) rc = crdt_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_exec(p, zBaseSchema, pzErr);
  if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "prune_checkpoint", iCp);
  /* (the headers it stored are stubs, as bec_prune's: no form to convert
  ** when the database is opened again, bec_dag.c pruned_form_upgrade) */
  if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "pruned_form", BEC_PRUNED_FORM);
  if( rc==SQLITE_OK ) rc = base_rebuild_tables(p, pzErr);
  if( rc==SQLITE_CORRUPT && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: the merge base is damaged (bec_store_base)");
  }
  return rc;
}

/* Copies the merge base of pFrom into pTo, a scratch database replaying a
** cut that holds pFrom's base cut (bec_checkpoint.c): seqs renumbered by
** aTo (pFrom's seq -> pTo's, 0: not in the cut), and pTo's tables rebuilt
** from it. */
int bec_crdt_base_copy(BecCtx *pFrom, BecCtx *pTo, const int *aTo, int nTo,
                       char **pzErr){
  sqlite3_stmt *pSel = 0, *pIns = 0;
  BecCrdt *pC = 0;
  BecBuf cells;
  i64 iCp = 0;
  int rc, iTbl = -1, nCol = 0;
  memset(&cells, 0, sizeof(cells));
#define BASE_MAP(s) ((s)>=1 && (s)<nTo ? aTo[s] : 0)
  rc = bec_config_get_int(pFrom, "prune_checkpoint", 0, &iCp);
  if( rc || iCp==0 ) return rc;
  if( BASE_MAP(iCp)==0 ) return SQLITE_CORRUPT;
  /* BASE_MAP(iCp) -1: pTo replays exactly the base's cut, without its
  ** checkpoint (base_cut reads -1 as every op) */
  rc = bec_crdt_get(pTo, &pC);
  if( rc==SQLITE_OK ) rc = crdt_schema(pTo, pzErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_exec(pTo, zBaseSchema, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(pFrom, "SELECT tbl, row, cells FROM bec_store_base"
                             " ORDER BY tbl, row", &pSel);
  }
  while( rc==SQLITE_OK && sqlite3_step(pSel)==SQLITE_ROW ){
    int t = sqlite3_column_int(pSel, 0), i;
    BecReader rd;
    rd.a = sqlite3_column_blob(pSel, 2);
    rd.n = sqlite3_column_bytes(pSel, 2);
    rd.i = 0;
    cells.n = 0;
    if( sqlite3_column_int64(pSel, 1)==0 ){
      /* row 0, the ids: no seq in it, copied as it is */
      bec_buf_append(&cells, rd.a, rd.n, &rc);
      for(nCol=0; rc==SQLITE_OK && rd.i<rd.n; nCol++){
        BecValue v;
        if( bec_value_decode(&rd, &v) ) rc = SQLITE_CORRUPT;
      }
      iTbl = t;
    }else if( t!=iTbl ){
      rc = SQLITE_CORRUPT;             /* rows without their ids */
    }else{
      for(i=0; rc==SQLITE_OK && rd.i<rd.n; i++){
        BecValue v;
        if( bec_value_decode(&rd, &v) ){ rc = SQLITE_CORRUPT; break; }
        /* the cells after the columns are seqs: r, then s.. */
        if( i>=nCol && v.eType==BEC_VAL_INT ) v.i = BASE_MAP(v.i);
        bec_value_put(&cells, &v, &rc);
      }
    }
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(pTo, "INSERT INTO bec_store_base(tbl, row, cells) "
                             "VALUES(?1, ?2, ?3)", &pIns);
    }
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pIns, 1, BASE_MAP(t));
      sqlite3_bind_int64(pIns, 2, sqlite3_column_int64(pSel, 1));
      sqlite3_bind_blob(pIns, 3, cells.a, (int)cells.n, SQLITE_STATIC);
      sqlite3_step(pIns);
      rc = sqlite3_reset(pIns);
    }
  }
  if( pSel ) sqlite3_reset(pSel);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(pFrom, "SELECT tbl, pk, col, seq, value FROM "
                             "bec_store_base_conflict", &pSel);
  }
  while( rc==SQLITE_OK && sqlite3_step(pSel)==SQLITE_ROW ){
    rc = bec_ctx_stmt(pTo, "INSERT INTO bec_store_base_conflict(tbl, pk, col,"
                           " seq, value) VALUES(?1, ?2, ?3, ?4, ?5)", &pIns);
    if( rc ) break;
    sqlite3_bind_int(pIns, 1, BASE_MAP(sqlite3_column_int(pSel, 0)));
    sqlite3_bind_value(pIns, 2, sqlite3_column_value(pSel, 1));
    sqlite3_bind_value(pIns, 3, sqlite3_column_value(pSel, 2));
    sqlite3_bind_int(pIns, 4, BASE_MAP(sqlite3_column_int(pSel, 3)));
    sqlite3_bind_value(pIns, 5, sqlite3_column_value(pSel, 4));
    sqlite3_step(pIns);
    rc = sqlite3_reset(pIns);
  }
  if( pSel ) sqlite3_reset(pSel);
  if( rc==SQLITE_OK ) rc = bec_config_set_int(pTo, "prune_checkpoint", BASE_MAP(iCp));
  /* The scratch's live tables, from the base and its writes outside it. */
  if( rc==SQLITE_OK ) rc = base_rebuild_tables(pTo, pzErr);
  if( rc==SQLITE_CORRUPT && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: the merge base is damaged (bec_store_base)");
  }
  bec_buf_free(&cells);
#undef BASE_MAP
  return rc;
}

/**************************************************************************
** The merge base from a snapshot's row leaves (installing a snapshot:
** docs/compaction.md "The snapshot join").  The exact inverse of
** bec_checkpoint.c's digest_rows, which lays a row out as its key values,
** the existence register, the register of each listed column (shown, then
** hidden by a name; a dropped column has none) with, after a COUNTER
** column's register, its base and its steps.  A register is a count, then
** per candidate its id, depth and (a column's) value, the winner first:
** the winner becomes the shadow cell c<i> and s<i> (r for existence), the
** others bec_store_base_conflict rows as bec_store_conflict keeps them
** (col -1 existence, i a column's losers, COUNTER_BASE_COL(i) and
** COUNTER_STEP_COL(i) a counter's members).  An unwritten column gets its
** fill and a NULL s<i>, as bind_new_row writes it.
*/

/* Reads one register or member list of col into *piWin (the winner's seq
** when bWinner, else 0) and the conflict rows; a winner's value into
** *pWin when pWin.  0, or why the leaf is refused (static text). */
static const char *leaf_register(BecCtx *p, BecReader *rd, int iSchema,
                                 const u8 *aKey, int nKey, int col,
                                 int bValue, int bWinner, int bInt,
                                 BecSeqOf xSeq, void *pArg, int *piWin,
                                 BecValue *pWin, int *pRc){
  sqlite3_stmt *pIns = 0;
  u64 n = 0, j;
  *piWin = 0;
  if( *pRc ) return 0;            /* an earlier failure stays the result */
  if( bec_read_varint(rd, &n, (u64)(rd->n - rd->i)) ) return "truncated";
  if( n==0 ) return 0;
  *pRc = bec_ctx_stmt(p, "INSERT INTO bec_store_base_conflict(tbl, pk, col, "
                         "seq, value) VALUES(?1, ?2, ?3, ?4, ?5)", &pIns);
  for(j=0; *pRc==SQLITE_OK && j<n; j++){
    const u8 *aId = 0;
    u64 iDepth = 0;
    BecValue v;
    int iSeq = 0;
    memset(&v, 0, sizeof(v));
    if( bec_read_bytes(rd, BEC_HASH_BYTES, &aId)
     || bec_read_varint(rd, &iDepth, (u64)BEC_I64_MAX) ) return "truncated";
    if( bValue && bec_value_decode(rd, &v) ) return "a value does not decode";
    if( bInt && v.eType!=BEC_VAL_INT ) return "a counter's value is not an integer";
    *pRc = xSeq(pArg, aId, (i64)iDepth, &iSeq);
    if( *pRc ) break;
    if( iSeq<0 ) return "an op of the cut at two depths";
    if( iSeq<=0 ) return "a candidate is not an op of the cut";
    if( j==0 && bWinner ){
      *piWin = iSeq;
      if( pWin ) *pWin = v;
      continue;
    }
    sqlite3_bind_int(pIns, 1, iSchema);
    sqlite3_bind_blob(pIns, 2, aKey, nKey, SQLITE_STATIC);
    sqlite3_bind_int(pIns, 3, col);
    sqlite3_bind_int(pIns, 4, iSeq);
    if( bValue ) bec_value_bind(pIns, 5, &v);
    else sqlite3_bind_null(pIns, 5);
    sqlite3_step(pIns);
    *pRc = sqlite3_reset(pIns);
    if( *pRc==SQLITE_CONSTRAINT ){
      *pRc = SQLITE_OK;
      return "a register names one op twice";
    }
  }
  return 0;
}

int bec_crdt_base_from_leaves(BecCtx *p, int iSchema, const BecSchema *s,
                              BecReader *pRows, i64 nRow, BecSeqOf xSeq,
                              void *pArg, char **pzErr){
  sqlite3_stmt *pIns = 0;
  BecBuf cells, prev;
  BecValue aVal[BEC_TABLE_MAX_COL];
  int aSeq[BEC_TABLE_MAX_COL];
  const char *zBad = 0;
  i64 iRow;
  int rc, i, k, h;
  memset(&cells, 0, sizeof(cells));
  memset(&prev, 0, sizeof(prev));
  if( s->action!=BEC_SCHEMA_CREATE || s->nCol>BEC_TABLE_MAX_COL ){
    return SQLITE_MISUSE;
  }
  rc = bec_ctx_exec(p, zBaseSchema, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT INTO bec_store_base(tbl, row, cells) "
                         "VALUES(?1, ?2, ?3)", &pIns);
  }
  if( rc==SQLITE_OK ){
    /* row 0: the ids of the columns the rows hold (base_save's) */
    for(i=0; i<s->nCol; i++){
      BecValue v;
      if( s->aCol[i].bDropped ) continue;
      base_col_id(s, i, &v);
      bec_value_put(&cells, &v, &rc);
    }
    sqlite3_bind_int(pIns, 1, iSchema);
    sqlite3_bind_int64(pIns, 2, 0);
    sqlite3_bind_blob(pIns, 3, cells.a, (int)cells.n, SQLITE_STATIC);
    if( rc==SQLITE_OK ){
      sqlite3_step(pIns);
      rc = sqlite3_reset(pIns);
    }
  }
  for(iRow=1; rc==SQLITE_OK && zBad==0 && iRow<=nRow; iRow++){
    BecReader rd;
    u64 nLeaf = 0;
    const u8 *aLeaf = 0;
    int nKey, r = 0;
    if( bec_read_varint(pRows, &nLeaf, (u64)(pRows->n - pRows->i))
     || bec_read_bytes(pRows, (i64)nLeaf, &aLeaf) ){
      zBad = "truncated";
      break;
    }
    rd.a = aLeaf; rd.n = (i64)nLeaf; rd.i = 0;
    for(i=0; i<s->nCol; i++){ aVal[i] = s->aCol[i].dflt; aSeq[i] = 0; }
    for(k=0; zBad==0 && k<s->nPk; k++){
      if( bec_value_decode(&rd, &aVal[s->aPk[k]]) ) zBad = "a key does not decode";
    }
    if( zBad ) break;
    nKey = (int)rd.i;
    if( iRow>1 ){
      /* strictly increasing key bytes (memcmp, then length): no key twice */
      int c = nKey && prev.n
            ? memcmp(prev.a, aLeaf, (size_t)(nKey<prev.n ? nKey : prev.n)) : 0;
      if( c>0 || (c==0 && prev.n>=nKey) ){
        zBad = "rows are not in key order";
        break;
      }
    }
    prev.n = 0;
    bec_buf_append(&prev, aLeaf, nKey, &rc);
    zBad = leaf_register(p, &rd, iSchema, aLeaf, nKey, -1, 0, 1, 0, xSeq,
                         pArg, &r, 0, &rc);
    if( zBad==0 && rc==SQLITE_OK && r==0 ) zBad = "a row without its write";
    for(h=0; zBad==0 && rc==SQLITE_OK && h<2; h++){
      for(i=0; zBad==0 && rc==SQLITE_OK && i<s->nCol; i++){
        const BecColumn *c = &s->aCol[i];
        int bCounter = (c->flags & BEC_COL_COUNTER)!=0, iWin = 0;
        BecValue v;
        if( c->iPk || c->bDropped || (h ? !c->bHidden : c->bHidden) ) continue;
        zBad = leaf_register(p, &rd, iSchema, aLeaf, nKey, i, 1, 1, bCounter,
                             xSeq, pArg, &iWin, &v, &rc);
        if( iWin ){ aVal[i] = v; aSeq[i] = iWin; }
        if( bCounter && zBad==0 && rc==SQLITE_OK ){
          zBad = leaf_register(p, &rd, iSchema, aLeaf, nKey, COUNTER_BASE_COL(i),
                               1, 0, 1, xSeq, pArg, &iWin, 0, &rc);
        }
        if( bCounter && zBad==0 && rc==SQLITE_OK ){
          zBad = leaf_register(p, &rd, iSchema, aLeaf, nKey, COUNTER_STEP_COL(i),
                               1, 0, 1, xSeq, pArg, &iWin, 0, &rc);
        }
      }
    }
    if( zBad==0 && rc==SQLITE_OK && rd.i!=rd.n ) zBad = "bytes after a row";
    if( zBad || rc ) break;
    /* c.., r, s.. as base_save writes them, for the columns of row 0 */
    cells.n = 0;
    for(i=0; i<s->nCol; i++){
      if( !s->aCol[i].bDropped ) bec_value_put(&cells, &aVal[i], &rc);
    }
    for(i=-1; i<s->nCol; i++){
      BecValue v;
      int x = i<0 ? r : aSeq[i];
      if( i>=0 && (s->aCol[i].iPk || s->aCol[i].bDropped) ) continue;
      memset(&v, 0, sizeof(v));
      if( x ){ v.eType = BEC_VAL_INT; v.i = x; }
      bec_value_put(&cells, &v, &rc);
    }
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pIns, 1, iSchema);
      sqlite3_bind_int64(pIns, 2, iRow);
      sqlite3_bind_blob(pIns, 3, cells.a, (int)cells.n, SQLITE_STATIC);
      sqlite3_step(pIns);
      rc = sqlite3_reset(pIns);
    }
  }
  if( rc==SQLITE_OK && zBad ){
    *pzErr = sqlite3_mprintf("the snapshot's rows of table %s are malformed: "
                             "%s", s->zName, zBad);
    rc = *pzErr ? BEC_MALFORMED : SQLITE_NOMEM;
  }
  bec_buf_free(&cells);
  bec_buf_free(&prev);
  return rc;
}

/* Pruning needs every table name a schema op of the cut names to be won
** by an op of the cut (then no incarnation without a base can win again),
** and every live table to be shown here (its rows are the base).
** *pzWhy (sqlite3_free it) says why not; *paSeq (sqlite3_free it) lists
** the *pn live creates. */
static int base_tables(BecCtx *p, BecGraph *g, const u8 *aCut, int **paSeq,
                       int *pn, char **pzWhy, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc, n = 0, nAlloc = 0;
  int *aSeq = 0;
  *paSeq = 0;
  *pn = 0;
  rc = sqlite3_prepare_v2(p->db, "SELECT seq, body FROM bec_store_op o WHERE "
      "o.kind=5 AND " BEC_OP_INDEXED("o") " AND o.seq NOT IN "
      "(SELECT seq FROM bec_store_ignored) ORDER BY o.seq",
      -1, &pStmt, 0);
  while( rc==SQLITE_OK && *pzWhy==0 && sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0), iWin = 0;
    BecOp op;
    BecSchema *sc = 0;
    u8 *aPlain = 0;
    const char *zLocked = 0;
    if( x<1 || x>g->nNode || !aCut[x] || !g->aNode[x].bValid ) continue;
    rc = bec_op_decode(sqlite3_column_blob(pStmt, 1),
                       sqlite3_column_bytes(pStmt, 1), &op, pzErr);
    if( rc==SQLITE_OK ) rc = bec_e2ee_open(p, &op, &aPlain, &zLocked, pzErr);
    if( rc==SQLITE_OK && zLocked ){
      *pzWhy = sqlite3_mprintf("schema op %d below the checkpoint is %s", x,
                               zLocked);
    }else if( rc==SQLITE_OK
           && bec_schema_decode(op.aPayload, op.nPayload, &sc, pzErr)==SQLITE_OK ){
      /* (a name whose incarnations are all dropped shows none) */
      rc = bec_crdt_winner(p, sc->zName, &iWin);
      if( rc==SQLITE_OK && iWin && (iWin<1 || iWin>g->nNode || !aCut[iWin]) ){
        *pzWhy = sqlite3_mprintf("table %s is won by a schema op that is not "
                                 "below the checkpoint", sc->zName);
      }
    }else if( rc==SQLITE_OK ){
      sqlite3_free(*pzErr);
      *pzErr = 0;
    }
    bec_schema_free(sc);
    sqlite3_free(aPlain);
  }
  sqlite3_finalize(pStmt);
  if( rc==SQLITE_OK && *pzWhy==0 ){
    rc = bec_ctx_stmt(p, "SELECT seq FROM bec_store_table", &pStmt);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      if( n>=nAlloc ){
        int *aNew;
        nAlloc = nAlloc ? 2*nAlloc : 8;
        aNew = sqlite3_realloc64(aSeq, sizeof(int)*(u64)nAlloc);
        if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
        aSeq = aNew;
      }
      aSeq[n++] = sqlite3_column_int(pStmt, 0);
    }
    bec_stmt_reset(pStmt, &rc);
  }
  *paSeq = aSeq;
  *pn = n;
  return rc;
}

/* The connected table of live create op iSeq (0 for a drop), or *pzWhy. */
static int base_tab(BecCtx *p, int iSeq, BecTab **pp, char **pzWhy,
                    char **pzErr){
  BecSchema *sc = 0;
  int rc = bec_crdt_load_schema(p, iSeq, &sc, 0, pzErr);
  *pp = 0;
  if( rc==SQLITE_OK && sc->action==BEC_SCHEMA_CREATE ){
    rc = tab_find(p, iSeq, sc, pp, pzErr);
    if( rc==SQLITE_OK && *pp==0 ){
      *pzWhy = sqlite3_mprintf("table %s is not shown here (a local object "
                               "has its name)", sc->zName);
    }
  }
  bec_schema_free(sc);
  return rc;
}

int bec_crdt_base_take(BecCtx *p, int iCp, const u8 *aCut, char **pzWhy,
                       char **pzErr){
  BecCrdt *pC = 0;
  BecGraph *g = 0;
  BecTab *t = 0;
  int *aSeq = 0;
  int rc, n = 0, i, ePhase;
  *pzWhy = 0;
  rc = bec_crdt_get(p, &pC);
  if( rc==SQLITE_OK ) rc = crdt_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_exec(p, zBaseSchema, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = bec_crdt_hidden_state(p, pzWhy, pzErr);
  if( rc==SQLITE_OK && *pzWhy==0 ){
    rc = base_tables(p, g, aCut, &aSeq, &n, pzWhy, pzErr);
  }
  for(i=0; rc==SQLITE_OK && *pzWhy==0 && i<n; i++){
    rc = base_tab(p, aSeq[i], &t, pzWhy, pzErr);
  }
  /* Phase 0: the rows at the cut, from the old base (if any) and the
  ** cut's writes, kept as the base; phase 1: the rows of the whole op set
  ** again, from the new base. */
  for(ePhase=0; rc==SQLITE_OK && *pzWhy==0 && ePhase<2; ePhase++){
    for(i=0; rc==SQLITE_OK && i<n; i++){
      rc = base_tab(p, aSeq[i], &t, pzWhy, pzErr);
      if( rc || t==0 ) continue;
      rc = rebuild_upto(p, t->iSchema, ePhase ? 0 : aCut,
                        pzErr);
      if( rc==SQLITE_OK && ePhase==0 ){
        sqlite3_stmt *pDel = 0;
        int k;
        for(k=0; rc==SQLITE_OK && k<2; k++){
          rc = bec_ctx_stmt(p, k ? "DELETE FROM bec_store_base_conflict "
                                   "WHERE tbl=?1"
                                 : "DELETE FROM bec_store_base WHERE tbl=?1",
                            &pDel);
          if( rc==SQLITE_OK ){
            sqlite3_bind_int(pDel, 1, t->iSchema);
            sqlite3_step(pDel);
            rc = sqlite3_reset(pDel);
          }
        }
        if( rc==SQLITE_OK ) rc = base_save(p, t);
      }
    }
    if( rc==SQLITE_OK && ePhase==0 ){
      rc = bec_config_set_int(p, "prune_checkpoint", iCp);
      /* (pruned rows are stubs: bec_dag.c pruned_form_upgrade) */
      if( rc==SQLITE_OK ) rc = bec_config_set_int(p, "pruned_form", BEC_PRUNED_FORM);
    }
  }
  sqlite3_free(aSeq);
  return rc;
}

/**************************************************************************
** Schema ops.
*/
/* Runs a statement made by the merge (DDL on behalf of a peer's op). */
static int exec_fmt(BecCtx *p, char **pzErr, const char *zFmt, ...){
  va_list ap;
  char *zSql;
  int rc;
  va_start(ap, zFmt);
  zSql = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = bec_ctx_exec(p, zSql, pzErr);
  sqlite3_free(zSql);
  return rc;
}

/* The CREATE VIRTUAL TABLE arguments of a schema: its declaration. */
static char *schema_decl(const BecSchema *s){
  BecBuf b;
  int rc = SQLITE_OK, i, k;
  memset(&b, 0, sizeof(b));
  for(i=0; i<s->nCol; i++){
    const BecColumn *c = &s->aCol[i];
    char *zId;
    if( c->bHidden ) continue;
    zId = bec_sql_ident(c->zName, 0);
    if( zId==0 ){ rc = SQLITE_NOMEM; break; }
    /* a strict table's declared type words are its closed form */
    bec_buf_appendf(&b, &rc, "%s%s %s", b.n ? ", " : "", zId,
                    c->eStrict ? c->zType : bec_type_sql(c));
    sqlite3_free(zId);
    bec_buf_appendf(&b, &rc, "%s", bec_collate_sql(c));
    if( c->flags & BEC_COL_NOTNULL ) bec_buf_appendf(&b, &rc, " NOT NULL");
    if( c->flags & BEC_COL_DEFAULT ){
      bec_buf_appendf(&b, &rc, " DEFAULT ");
      bec_value_sql(&b, &c->dflt, &rc);
    }
  }
  bec_buf_appendf(&b, &rc, ", PRIMARY KEY(");
  for(k=0; rc==SQLITE_OK && k<s->nPk; k++){
    char *zId = bec_sql_ident(s->aCol[s->aPk[k]].zName, 0);
    if( zId==0 ){ rc = SQLITE_NOMEM; break; }
    bec_buf_appendf(&b, &rc, "%s%s", k ? ", " : "", zId);
    sqlite3_free(zId);
  }
  bec_buf_appendf(&b, &rc, ")");
  /* (a CHECK's text applies only if it is balanced: check_analyze) */
  for(k=0; rc==SQLITE_OK && k<s->nCheck; k++){
    const BecCheck *pK = &s->aCheck[k];
    int j, bAsMade = 1;
    /* The text names columns as its op did: shown only while each column
    ** it reads is shown under that name (bec_columns shows it always). */
    for(j=0; j<s->nCol; j++){
      const char *zOp;
      if( !BEC_MASK_HAS(pK->aRead, j) ) continue;
      zOp = j<s->nBase ? (s->pBase ? s->pBase->aCol[j].zName : s->aCol[j].zName)
                       : (s->apAdd ? s->apAdd[j-s->nBase]->aCol[0].zName : s->aCol[j].zName);
      if( s->aCol[j].bHidden || strcmp(zOp, s->aCol[j].zName) ) bAsMade = 0;
    }
    if( !bAsMade ) continue;
    if( pK->zName[0] ){
      char *zId = bec_sql_ident(pK->zName, 0);
      if( zId==0 ){ rc = SQLITE_NOMEM; break; }
      bec_buf_appendf(&b, &rc, ", CONSTRAINT %s", zId);
      sqlite3_free(zId);
    }else{
      bec_buf_appendf(&b, &rc, ",");
    }
    bec_buf_appendf(&b, &rc, " CHECK(%s)", pK->zExpr);
  }
  if( s->opts & BEC_OPT_STRICT ) bec_buf_appendf(&b, &rc, ", strict=1");
  if( s->opts & BEC_OPT_ADMIN ) bec_buf_appendf(&b, &rc, ", write='admin'");
  bec_buf_append_u8(&b, 0, &rc);
  if( rc ){
    bec_buf_free(&b);
    return 0;
  }
  return (char*)b.a;
}

/* Creates the virtual table of create op iSeq (schema s, the winner of
** its name) unless a local object has taken one of its names: then the
** table stays hidden (see "Showing tables").  Its xCreate fills its rows
** from the ops (bec_crdt_show_rows). */
static int show_table(BecCtx *p, int iSeq, const BecSchema *s, char **pzErr){
  char *zWhy = 0, *zDecl = 0, *zId = 0;
  int rc = bec_crdt_name_taken(p, s->zName, &zWhy);
  if( rc || zWhy ){
    sqlite3_free(zWhy);
    return rc;
  }
  zDecl = schema_decl(s);
  zId = bec_sql_ident(s->zName, 0);
  if( zDecl==0 || zId==0 ){
    rc = SQLITE_NOMEM;
  }else{
    /* xCreate shows the catalog's winner iSeq (iShowing): nothing is
    ** signed. */
    BecCrdt *pC = p->pCrdt;
    int iWas = pC ? pC->iShowing : 0;
    if( pC ) pC->iShowing = iSeq;
    rc = exec_fmt(p, pzErr, "CREATE VIRTUAL TABLE main.%s USING bec(%s)",
                  zId, zDecl);
    if( pC ) pC->iShowing = iWas;
  }
  sqlite3_free(zDecl);
  sqlite3_free(zId);
  /* (the feed: every row of the table shown may be new to the app) */
  if( rc==SQLITE_OK ) rc = feed_add(p, 0, iSeq, 0, 0);
  return rc;
}

int bec_crdt_show_rows(BecTab *t, char **pzErr){
  return rebuild(t->pCtx, t->iSchema, pzErr);
}

/* Shows every hidden table whose names are free again, with its rows
** rebuilt from the ops.  Run when nothing else is under way: after a
** peer's op was merged, and by bec_check(). */
static int show_hidden(BecCtx *p, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int *aSeq = 0, nSeq = 0, nAlloc = 0;
  int rc, i;
  /* The live creates (the catalog's winners that have columns), each with
  ** the table of its name, if any: one statement per op merged. */
  rc = bec_ctx_stmt(p, "SELECT s.seq, m.sql FROM main.bec_store_table s "
      "LEFT JOIN main.sqlite_master m ON m.type='table' "
      "AND m.name=s.name COLLATE NOCASE WHERE "
      "EXISTS(SELECT 1 FROM main.bec_store_column c WHERE c.tbl=s.seq)", &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0);
    if( sql_is_bec_vtab((const char*)sqlite3_column_text(pStmt, 1)) ){
      continue;                         /* shown */
    }
    if( nSeq>=nAlloc ){
      int *aNew;
      nAlloc = nAlloc ? nAlloc*2 : 8;
      aNew = sqlite3_realloc64(aSeq, sizeof(int)*(sqlite3_uint64)nAlloc);
      if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
      aSeq = aNew;
    }
    aSeq[nSeq++] = x;
  }
  /* (reset before any DDL: an active read of the schema would lock it) */
  if( pStmt ){
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  for(i=0; rc==SQLITE_OK && i<nSeq; i++){
    BecSchema *s = 0;
    rc = bec_crdt_load_schema(p, aSeq[i], &s, 0, pzErr);
    if( rc==SQLITE_OK ) rc = show_table(p, aSeq[i], s, pzErr);
    bec_schema_free(s);
  }
  sqlite3_free(aSeq);
  return rc;
}

static int store_columns(BecCtx *p, int iSeq, const BecSchema *s){
  sqlite3_stmt *pStmt = 0;
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<s->nCol; i++){
    if( s->aCol[i].bHidden ) continue;
    rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_column"
                         "(tbl, idx, name, type, pk) VALUES(?1,?2,?3,?4,?5)", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iSeq);
      sqlite3_bind_int(pStmt, 2, i);
      const char *zT = bec_type_sql(&s->aCol[i]);
      sqlite3_bind_text(pStmt, 3, s->aCol[i].zName,
                        (int)strlen(s->aCol[i].zName), SQLITE_STATIC);
      sqlite3_bind_text(pStmt, 4, zT, (int)strlen(zT), SQLITE_STATIC);
      sqlite3_bind_int(pStmt, 5, s->aCol[i].iPk);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  return rc;
}

/**************************************************************************
** The catalog: which incarnation each name shows.
**
** An incarnation is a valid create op that the merge applies.  Its name is
** a register (view_load: the greatest (depth, hash) of the create and its
** RENAME TO ops); it is live until a valid drop lists it, and then stays
** dropped.  Among the live incarnations of one name (case-insensitively)
** the one whose name was set by the greater op is shown: bec_store_table
** names it.  The others are hidden, their rows kept (derived from the
** ops): they are shown when the collision goes away.  A drop lists the
** incarnations its author had at the name, so a create of the name made
** concurrently with it survives.  All of it is a function of the valid
** ops: catalog_sync recomputes it whole after a create, a drop or a
** RENAME TO, or a change of validity of one.
*/
typedef struct Inc Inc;
struct Inc {
  int iSeq;                   /* the create op */
  int iNameSeq;               /* the op that gave it its name */
  char *zName;                /* its name (sqlite3_malloc64, owned) */
};

static void incs_free(Inc *a, int n){
  int i;
  for(i=0; i<n; i++) sqlite3_free(a[i].zName);
  sqlite3_free(a);
}

/* *paInc (incs_free it), *pnInc: every live incarnation. */
static int incs_load(BecCtx *p, const BecGraph *g, Inc **paInc, int *pnInc,
                     char **pzErr){
  sqlite3_stmt *pStmt = 0;
  Inc *a = 0;
  int n = 0, rc;
  *paInc = 0;
  *pnInc = 0;
  rc = sqlite3_prepare_v2(p->db, "SELECT seq, body FROM bec_store_op o WHERE o.kind=5"
                                 " AND " BEC_OP_INDEXED("o") " ORDER BY o.seq", -1, &pStmt, 0);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0), bOk = 0;
    BecOp op;
    BecSchema *s = 0;
    u8 *aPlain = 0;               /* e2ee: the plaintext of an envelope */
    const char *zLocked = 0;
    char *zWhy = 0;
    View v;
    if( x<1 || x>g->nNode || !g->aNode[x].bValid ) continue;
    if( bec_dag_body_dropped(sqlite3_column_blob(pStmt, 1),
                             sqlite3_column_bytes(pStmt, 1)) ) continue;
    rc = bec_op_decode(sqlite3_column_blob(pStmt, 1),
                       sqlite3_column_bytes(pStmt, 1), &op, pzErr);
    if( rc==SQLITE_OK ) rc = bec_e2ee_open(p, &op, &aPlain, &zLocked, pzErr);
    if( rc==SQLITE_OK && zLocked==0 ){
      /* an op not in the closed form is no create; out of memory is a
      ** failure (not the op's verdict: the catalog would miss a table) */
      int rcDecode = bec_schema_decode(op.aPayload, op.nPayload, &s, &zWhy);
      if( rcDecode==SQLITE_NOMEM ) rc = rcDecode;
      if( rcDecode==SQLITE_OK && s->action==BEC_SCHEMA_CREATE ){
        rc = schema_applies(p, x, s, &bOk);
      }
    }
    sqlite3_free(zWhy);
    sqlite3_free(aPlain);
    if( rc==SQLITE_OK && bOk ){
      rc = view_load(p, g, x, s, 0, &v, pzErr);
      if( rc==SQLITE_OK && v.bTabDropped ){
        view_free(&v);
      }else if( rc==SQLITE_OK ){
        Inc *aNew = sqlite3_realloc64(a, sizeof(Inc)*(sqlite3_uint64)(n+1));
        if( aNew==0 ){
          rc = SQLITE_NOMEM;
        }else{
          a = aNew;
          a[n].iSeq = x;
          a[n].iNameSeq = v.iTabSeq;
          a[n].zName = sqlite3_mprintf("%s", v.zTab);
          if( a[n].zName==0 ) rc = SQLITE_NOMEM;
          n++;
        }
        view_free(&v);
      }
    }
    bec_schema_free(s);
  }
  {
    int rc2 = sqlite3_finalize(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc ){
    incs_free(a, n);
    return rc;
  }
  *paInc = a;
  *pnInc = n;
  return SQLITE_OK;
}

/* The index in a of the incarnation shown at zName, -1 if none. */
static int incs_winner(const BecGraph *g, const Inc *a, int n,
                       const char *zName){
  int i, iWin = -1;
  for(i=0; i<n; i++){
    if( sqlite3_stricmp(a[i].zName, zName) ) continue;
    if( iWin<0 || later(g, a[i].iNameSeq, a[iWin].iNameSeq) ) iWin = i;
  }
  return iWin;
}

/* State of the tables that neither the merge base nor a snapshot's S(K)
** keeps (docs/compaction.md "Hidden tables and columns"): an incarnation
** hidden by another of its name, or a live added column hidden by a name
** (or past the limits of columns and CHECKs).  Their rows and values are
** derived from the bodies of their writes when they show again, which a
** pruned replica dropped and an installed one never held: it would show
** them empty where a full replica shows them filled.  So pruning and the
** install refuse while the ops hold such state (*pzWhy says which; 0 when
** none); the join then replays.  A function of the valid ops alone. */
int bec_crdt_hidden_state(BecCtx *p, char **pzWhy, char **pzErr){
  BecGraph *g = 0;
  Inc *a = 0;
  int n = 0, i, j, rc;
  *pzWhy = 0;
  rc = crdt_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = incs_load(p, g, &a, &n, pzErr);
  for(i=0; rc==SQLITE_OK && *pzWhy==0 && i<n; i++){
    BecSchema *s = 0;
    View v;
    if( incs_winner(g, a, n, a[i].zName)!=i ){
      *pzWhy = sqlite3_mprintf("an incarnation of table %s is hidden by "
          "another of its name (its rows are kept only as its writes)",
          a[i].zName);
      if( *pzWhy==0 ) rc = SQLITE_NOMEM;
      break;
    }
    rc = load_op_schema(p, a[i].iSeq, &s, 0, pzErr);
    if( rc==SQLITE_OK ) rc = view_load(p, g, a[i].iSeq, s, 0, &v, pzErr);
    if( rc==SQLITE_OK ){
      for(j=0; j<v.nCol; j++){
        const ViewCol *c = &v.aCol[j];
        if( c->iAdd<0 || c->bShown || c->bDropped ) continue;
        *pzWhy = sqlite3_mprintf("table %s has an added column hidden by a "
            "name (%s; its values are kept only as its writes)", a[i].zName,
            c->zName);
        if( *pzWhy==0 ) rc = SQLITE_NOMEM;
        break;
      }
      view_free(&v);
    }
    bec_schema_free(s);
  }
  incs_free(a, n);
  return rc;
}

/* The incarnation shown at zName by the ops (0 if none), *ppWin its schema
** as shown. */
static int compute_winner(BecCtx *p, const BecGraph *g, const char *zName,
                          int *piWin, BecSchema **ppWin, char **pzErr){
  Inc *a = 0;
  int n = 0, i, rc;
  *piWin = 0;
  *ppWin = 0;
  rc = incs_load(p, g, &a, &n, pzErr);
  i = rc==SQLITE_OK ? incs_winner(g, a, n, zName) : -1;
  if( i>=0 ){
    *piWin = a[i].iSeq;
    rc = bec_crdt_load_schema(p, a[i].iSeq, ppWin, 0, pzErr);
  }
  incs_free(a, n);
  return rc;
}

int bec_crdt_incarnations(BecCtx *p, const char *zName, u8 **paHash, int *pn,
                          char **pzErr){
  BecGraph *g = 0;
  Inc *a = 0;
  u8 *aHash = 0;
  int n = 0, nOut = 0, i, j, rc;
  *paHash = 0;
  *pn = 0;
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = incs_load(p, g, &a, &n, pzErr);
  if( rc==SQLITE_OK ){
    aHash = sqlite3_malloc64((sqlite3_uint64)(n+1)*BEC_HASH_BYTES);
    if( aHash==0 ) rc = SQLITE_NOMEM;
  }
  for(i=0; rc==SQLITE_OK && i<n; i++){
    u8 h[BEC_HASH_BYTES];
    if( sqlite3_stricmp(a[i].zName, zName) ) continue;
    rc = bec_graph_id(g, a[i].iSeq, h);
    if( rc ) break;
    /* ascending (the payload's canonical order): insertion sort */
    for(j=nOut; j>0 && memcmp(&aHash[(j-1)*BEC_HASH_BYTES], h, BEC_HASH_BYTES)>0; j--){
      memcpy(&aHash[j*BEC_HASH_BYTES], &aHash[(j-1)*BEC_HASH_BYTES], BEC_HASH_BYTES);
    }
    memcpy(&aHash[j*BEC_HASH_BYTES], h, BEC_HASH_BYTES);
    nOut++;
  }
  incs_free(a, n);
  if( rc ){
    sqlite3_free(aHash);
    return rc;
  }
  *paHash = aHash;
  *pn = nOut;
  return SQLITE_OK;
}

int bec_crdt_rename_judge(BecCtx *p, int iSchema, const char *zOld,
                          const char *zNew, char **pzWhy){
  BecGraph *g = 0;
  Inc *a = 0;
  char *zErr = 0;
  int n = 0, i, rc;
  *pzWhy = 0;
  if( sqlite3_stricmp(zOld, zNew)==0 ){
    *pzWhy = sqlite3_mprintf("table %s has that name already (names "
                             "compare case-insensitively)", zOld);
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( bec_table_name_ok(zNew, (int)strlen(zNew), pzWhy) ){
    return *pzWhy ? SQLITE_OK : SQLITE_NOMEM;
  }
  rc = bec_graph_get(p, &g, &zErr);
  if( rc==SQLITE_OK ) rc = incs_load(p, g, &a, &n, &zErr);
  sqlite3_free(zErr);
  for(i=0; rc==SQLITE_OK && i<n; i++){
    if( a[i].iSeq!=iSchema && sqlite3_stricmp(a[i].zName, zNew)==0 ){
      *pzWhy = sqlite3_mprintf("there is already a bec table named %s%s",
          a[i].zName, incs_winner(g, a, n, zNew)==i ? "" : " (hidden)");
      if( *pzWhy==0 ) rc = SQLITE_NOMEM;
      break;
    }
  }
  incs_free(a, n);
  if( rc==SQLITE_OK && *pzWhy==0 ) rc = bec_crdt_name_taken(p, zNew, pzWhy);
  return rc;
}

/* Drops the virtual table (and so its rows) shown under zName, if any;
** its xDestroy signs nothing (bRedeclare).  Not inside a vtab method. */
static int unshow_table(BecCtx *p, const char *zName, char **pzErr){
  BecCrdt *pC = p->pCrdt;
  int bShown = 0;
  int rc = tab_shown(p, zName, &bShown);
  if( rc==SQLITE_OK && bShown ){
    char *zId = bec_sql_ident(zName, 0);
    if( zId==0 ){
      rc = SQLITE_NOMEM;
    }else{
      int bWas = pC ? pC->bRedeclare : 0;
      if( pC ) pC->bRedeclare = 1;
      rc = exec_fmt(p, pzErr, "DROP TABLE IF EXISTS main.%s", zId);
      if( pC ) pC->bRedeclare = bWas;
      sqlite3_free(zId);
    }
  }
  return rc;
}

/* Makes the catalog and the virtual tables follow the incarnations: a
** name whose shown incarnation changed drops the old one's virtual table
** (first, so that names can be swapped) and shows the new one, with its
** rows rebuilt from the ops (xCreate).  Inside xCreate, xDestroy or
** xRename (bNested) the app's own statement is the DDL and no other can
** run: only the catalog follows (a table left unshown is shown by
** show_hidden).  Names compare case-insensitively (ASCII), but what is
** shown - the catalog's name, the virtual table's and its shadow table's
** spelling - is exactly the incarnation's. */
static int catalog_sync(BecCtx *p, char **pzErr){
  BecGraph *g = 0;
  sqlite3_stmt *pStmt = 0;
  Inc *a = 0;
  int n = 0, i, rc, nOld = 0;
  struct CatRow { int iSeq; char *zName; } *aOld = 0;

  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = incs_load(p, g, &a, &n, pzErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_stmt(p, "SELECT name, seq FROM bec_store_table", &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *z = (const char*)sqlite3_column_text(pStmt, 0);
    int x = sqlite3_column_int(pStmt, 1), j;
    void *pNew;
    j = z ? incs_winner(g, a, n, z) : -1;
    if( j>=0 && a[j].iSeq==x && strcmp(a[j].zName, z)==0 ) continue;
    pNew = sqlite3_realloc64(aOld, sizeof(*aOld)*(sqlite3_uint64)(nOld+1));
    if( pNew==0 ){ rc = SQLITE_NOMEM; break; }
    aOld = pNew;
    aOld[nOld].iSeq = x;
    aOld[nOld].zName = sqlite3_mprintf("%s", z ? z : "");
    if( aOld[nOld++].zName==0 ) rc = SQLITE_NOMEM;
  }
  if( pStmt ){
    int rc2 = sqlite3_reset(pStmt);   /* (before any DDL) */
    if( rc==SQLITE_OK ) rc = rc2;
  }
  /* The names whose incarnation changed lose the old one. */
  for(i=0; rc==SQLITE_OK && i<nOld; i++){
    if( !p->bNested ) rc = unshow_table(p, aOld[i].zName, pzErr);
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(p, "DELETE FROM bec_store_conflict WHERE tbl=?1", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int(pStmt, 1, aOld[i].iSeq);
        sqlite3_step(pStmt);
        rc = sqlite3_reset(pStmt);
      }
    }
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(p, "DELETE FROM bec_store_table WHERE name=?1", &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_text(pStmt, 1, aOld[i].zName, -1, SQLITE_STATIC);
        sqlite3_step(pStmt);
        rc = sqlite3_reset(pStmt);
      }
    }
  }
  /* Then every name shows its incarnation. */
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int bHave = 0;
    BecSchema *pShown = 0;
    if( incs_winner(g, a, n, a[i].zName)!=i ) continue;
    rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_table WHERE seq=?1 "
                         "AND name=?2 COLLATE BINARY", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, a[i].iSeq);
      sqlite3_bind_text(pStmt, 2, a[i].zName, -1, SQLITE_STATIC);
      bHave = sqlite3_step(pStmt)==SQLITE_ROW;
      rc = sqlite3_reset(pStmt);
    }
    if( rc || bHave ) continue;
    rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_table(name, seq) "
                         "VALUES(?1, ?2)", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_text(pStmt, 1, a[i].zName, -1, SQLITE_STATIC);
      sqlite3_bind_int(pStmt, 2, a[i].iSeq);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
    if( rc==SQLITE_OK && !p->bNested ){
      rc = bec_crdt_load_schema(p, a[i].iSeq, &pShown, 0, pzErr);
      if( rc==SQLITE_OK ) rc = show_table(p, a[i].iSeq, pShown, pzErr);
      bec_schema_free(pShown);
    }
  }
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot apply the schema ops: %s",
                             bec_rc_text(p->db, rc));
  }
  for(i=0; i<nOld; i++) sqlite3_free(aOld[i].zName);
  sqlite3_free(aOld);
  incs_free(a, n);
  return rc;
}

int bec_crdt_winner_of_ops(BecCtx *p, const char *zName, int *piWin,
                           char **pzErr){
  BecGraph *g = 0;
  BecSchema *pWin = 0;
  int rc = bec_graph_get(p, &g, pzErr);
  *piWin = 0;
  if( rc==SQLITE_OK ) rc = compute_winner(p, g, zName, piWin, &pWin, pzErr);
  bec_schema_free(pWin);
  return rc;
}

/* Shows the columns of create op iCreate as its valid alter ops make them:
** bec_store_column and bec_store_alter.idx follow, and if the table is
** shown here its virtual table is declared again, with its rows rebuilt
** from the ops (xCreate).  Its xDestroy signs nothing (bRedeclare). */
static int alter_show(BecCtx *p, int iCreate, char **pzErr){
  BecCrdt *pC = p->pCrdt;
  BecSchema *s = 0;
  sqlite3_stmt *pStmt = 0;
  int rc, i, bLive = 0, bShown = 0;
  rc = bec_crdt_load_schema(p, iCreate, &s, 0, pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "UPDATE bec_store_alter SET idx=NULL WHERE tbl=?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iCreate);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  for(i=s ? s->nBase : 0; rc==SQLITE_OK && i<s->nCol; i++){
    int iAdd = 0;
    rc = bec_dag_seq_of(p, &s->aAddHash[(i-s->nBase)*BEC_HASH_BYTES], &iAdd);
    if( rc==SQLITE_OK ){
      rc = bec_ctx_stmt(p, "UPDATE bec_store_alter SET idx=?3 WHERE tbl=?1 "
                           "AND seq=?2", &pStmt);
    }
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iCreate);
      sqlite3_bind_int(pStmt, 2, iAdd);
      sqlite3_bind_int(pStmt, 3, i);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_column WHERE tbl=?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pStmt, 1, iCreate);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  if( rc==SQLITE_OK ) rc = store_columns(p, iCreate, s);
  if( rc==SQLITE_OK ) rc = is_live(p, iCreate, &bLive);
  if( rc==SQLITE_OK && bLive ) rc = tab_shown(p, s->zName, &bShown);
  if( rc==SQLITE_OK && bShown && !p->bNested && pC ){
    char *zId = bec_sql_ident(s->zName, 0);
    if( zId==0 ){
      rc = SQLITE_NOMEM;
    }else{
      pC->bRedeclare = 1;
      rc = exec_fmt(p, pzErr, "DROP TABLE IF EXISTS main.%s", zId);
      pC->bRedeclare = 0;
      sqlite3_free(zId);
    }
    if( rc==SQLITE_OK ) rc = show_table(p, iCreate, s, pzErr);
  }
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot apply the columns of table %s: %s",
                             s ? s->zName : "?", bec_rc_text(p->db, rc));
  }
  bec_schema_free(s);
  return rc;
}

/* Records op iSeq among the ops of the incarnation whose create op is
** aCreate (bec_store_alter; view_load reads them); *piCreate is that
** create's seq. */
static int alter_record(BecCtx *p, const u8 *aCreate, int iSeq, int *piCreate){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_dag_seq_of(p, aCreate, piCreate);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT OR IGNORE INTO bec_store_alter(tbl, seq) "
                         "VALUES(?1, ?2)", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, *piCreate);
    sqlite3_bind_int(pStmt, 2, iSeq);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  return rc;
}

/* Alter op iSeq (ADD, RENAME or DROP COLUMN; schema s, not ignored) was
** stored, or became readable (e2ee) or valid: the table it alters shows
** its columns anew if bValid. */
static int alter_stored(BecCtx *p, int iSeq, const BecSchema *s, int bValid,
                        char **pzErr){
  int iCreate = 0;
  int rc = alter_record(p, s->aCreate, iSeq, &iCreate);
  if( rc==SQLITE_OK && bValid ) rc = alter_show(p, iCreate, pzErr);
  return rc;
}

/* Records drop or RENAME TO op iSeq (schema s, not ignored) among the ops
** of each incarnation it names. */
static int incarnation_ops(BecCtx *p, int iSeq, const BecSchema *s){
  int rc = SQLITE_OK, i;
  int n = s->action==BEC_SCHEMA_DROP ? s->nDrop : 1;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int iCreate = 0;
    rc = alter_record(p, s->action==BEC_SCHEMA_DROP
                         ? &s->aDrop[i*BEC_HASH_BYTES] : s->aCreate, iSeq, &iCreate);
  }
  return rc;
}

static int on_schema(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  BecGraph *g = 0;
  BecSchema *s = 0;
  char *zReason = 0;
  BecOp op = *pOp;
  u8 *aPlain = 0;
  const char *zLocked = 0;
  int rc;
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ){
    /* e2ee: a locked or undecryptable schema op is ignored with why; so is
    ** one not in bec's closed form, or an ADD COLUMN that cannot apply:
    ** stored, ignored, never partly applied. */
    rc = verdict_stored(p, g, iSeq, 0, pOp, &zReason, pzErr);
    if( rc==SQLITE_OK && zReason ){
      rc = ignore_op(p, iSeq, zReason);
      sqlite3_free(zReason);
      return rc;
    }
  }
  if( rc==SQLITE_OK ){
    rc = bec_e2ee_open(p, &op, &aPlain, &zLocked, pzErr);
    pOp = &op;
  }
  if( rc==SQLITE_OK ) rc = bec_schema_decode(pOp->aPayload, pOp->nPayload, &s, pzErr);
  sqlite3_free(aPlain);
  if( rc ){
    bec_schema_free(s);
    return rc;
  }
  if( s->action>=BEC_SCHEMA_ADD && s->action!=BEC_SCHEMA_RETABLE ){
    /* An alter: the table it alters, not a name, is what it changes. */
    rc = alter_stored(p, iSeq, s, g->aNode[iSeq].bValid, pzErr);
    bec_schema_free(s);
    return rc;
  }
  if( s->action==BEC_SCHEMA_CREATE ) rc = store_columns(p, iSeq, s);
  else rc = incarnation_ops(p, iSeq, s);
  if( rc==SQLITE_OK && g->aNode[iSeq].bValid ) rc = catalog_sync(p, pzErr);
  bec_schema_free(s);
  return rc;
}

/**************************************************************************
** The hooks called by the acceptance path.
*/
/* Recomputes the tables the transaction's own op wrote, when the rows
** xUpdate wrote are not what the merge of that op gives. */
static int rebuild_txn_tables(BecCtx *p, BecCrdt *pC, char **pzErr){
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<pC->nTable; i++){
    BecSchema *s = 0;
    rc = bec_crdt_load_schema(p, pC->aTable[i], &s, 0, pzErr);
    if( rc==SQLITE_OK ) rc = rebuild(p, pC->aTable[i], pzErr);
    if( rc==SQLITE_OK ) rc = feed_add(p, 0, pC->aTable[i], 0, 0);
    bec_schema_free(s);
  }
  return rc;
}

static int on_store_op(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  BecCrdt *pC = 0;
  BecGraph *g = 0;
  Merge *m = 0;
  BecBuf kinds;       /* what each change of the op did, for the feed */
  char *zReason = 0;
  BecOp opIn;         /* the op as the verdict opened it (e2ee: plaintext) */
  u8 *aPlain = 0;     /* ... whose payload this is, or 0 */
  int rc, bAll = 0, bAhead, bValid = 0, kind = 0;

  rc = bec_crdt_get(p, &pC);
  if( rc==SQLITE_OK ) rc = crdt_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_check(p, pzErr);
  if( rc ) return rc;
  /* An op naming every head that crdt_admit judged, or an envelope (its
  ** plaintext judged below, its past every stored op): what follows reads
  ** its stored row, and the graph loads only to merge (apply_write). */
  g = p->pGraph;
  if( g==0 && !(p->bCovering && pOp->kind==BEC_KIND_WRITE
                && ((pC->aVerdictBody==pOp->aBody
                     && pC->nVerdictBody==pOp->nBody)
                    || bec_e2ee_envelope(pOp))) ){
    rc = bec_graph_get(p, &g, pzErr);
    if( rc ) return rc;
  }
  if( pOp->kind==BEC_KIND_SCHEMA ) return on_schema(p, iSeq, pOp, pzErr);
  if( pOp->kind!=BEC_KIND_WRITE ) return SQLITE_OK;
  if( g ) bValid = g->aNode[iSeq].bValid;
  else rc = bec_dag_node_of(p, iSeq, &kind, &bValid);
  if( rc ) return rc;
  opIn = *pOp;
  if( pC->aVerdictBody==pOp->aBody && pC->nVerdictBody==pOp->nBody ){
    zReason = pC->zVerdict;       /* judged by crdt_admit just now */
    pC->zVerdict = 0;
  }else{
    /* e2ee: opened once, here; apply_write then finds plaintext.  (No
    ** graph: an op naming every head, judged from stored rows.) */
    rc = verdict_open(p, g, iSeq, g==0, pOp, &opIn, &aPlain, &zReason, pzErr);
  }
  pC->aVerdictBody = 0;
  /* Are this op's changes the ones applied ahead as seq iSeq?  (Compared
  ** as plaintext: the verdict opened an envelope; a locked op's payload
  ** is still ciphertext, so it is not.) */
  bAhead = rc==SQLITE_OK && pC->aAhead && iSeq==pC->iSeq
        && opIn.nPayload==pC->nAhead
        && memcmp(opIn.aPayload, pC->aAhead, (size_t)pC->nAhead)==0;
  if( rc==SQLITE_OK && !bAhead && pC->bTxn && pC->nChange>0 ){
    *pzErr = sqlite3_mprintf("bec: an op cannot be received while this "
        "transaction has unsigned writes to bec tables: commit or roll back "
        "first");
    rc = SQLITE_ERROR;
  }
  if( rc ){
    plain_free(aPlain, &opIn);
    sqlite3_free(zReason);
    return rc;
  }
  if( zReason ){
    /* Ignored: recorded, never applied.  (A local op is never ignored;
    ** if one were, the rows it wrote already are recomputed.) */
    plain_free(aPlain, &opIn);
    rc = ignore_op(p, iSeq, zReason);
    sqlite3_free(zReason);
    if( rc==SQLITE_OK && bAhead ) rc = rebuild_txn_tables(p, pC, pzErr);
    return rc;
  }
  if( rc==SQLITE_OK ) rc = only_head(p, &bAll);
  if( rc || bAhead || !bValid ){
    plain_free(aPlain, &opIn);
    aPlain = 0;
  }
  if( rc ) return rc;
  if( bAhead ){
    /* Applied ahead as a valid op descending from every op: if it is one,
    ** the rows hold its merge already, and pC->feed what it did. */
    if( bValid && bAll ){
      return feed_op(p, iSeq, pC->feed.a, pC->feed.n<pC->nChange
                                          ? pC->feed.n : pC->nChange);
    }
    return rebuild_txn_tables(p, pC, pzErr);
  }
  if( !bValid ) return SQLITE_OK;
  m = sqlite3_malloc64(sizeof(Merge));
  if( m==0 ){
    plain_free(aPlain, &opIn);
    return SQLITE_NOMEM;
  }
  memset(m, 0, sizeof(*m));
  memset(&kinds, 0, sizeof(kinds));
  rc = apply_write(p, m, iSeq, &opIn, bAll, 0, &kinds, pzErr);
  plain_free(aPlain, &opIn);
  if( rc==SQLITE_OK ) rc = feed_op(p, iSeq, kinds.a, kinds.n);
  bec_buf_free(&kinds);
  merge_free(m);
  sqlite3_free(m);
  return rc;
}

static int crdt_stored(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  /* A header without its body (a replay on a pruned replica): its share
  ** of the rows comes from the merge base (bec_crdt_base_copy). */
  if( pOp->aPayload==0 && pOp->nPayload>0 ) return SQLITE_OK;
  int rc = on_store_op(p, iSeq, pOp, pzErr);
  BecCrdt *pC = p->pCrdt;
  /* A peer's op merged: a table hidden by a local object appears once the
  ** object is gone.  (Not inside xCreate, xDestroy or a commit's xSync.) */
  if( rc==SQLITE_OK && pC && !p->bNested
   && !(pC->bTxn && pC->nChange>0) ){
    rc = show_hidden(p, pzErr);
  }
  return rc;
}

static int crdt_validity(BecCtx *p, const int *aSeq, int n, char **pzErr){
  BecGraph *g = 0;
  BecCrdt *pC = 0;
  sqlite3_stmt *pStmt = 0;
  int *aTbl = 0;          /* incarnations to rebuild */
  int nTbl = 0, nTblAlloc = 0;
  int bCatalog = 0;       /* a create, drop or RENAME TO changed validity */
  int rc, i, j;

  rc = bec_crdt_get(p, &pC);
  if( rc==SQLITE_OK ) rc = crdt_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);
  if( rc ) return rc;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int x = aSeq[i];
    BecOp op;
    sqlite3_stmt *pStmt2 = 0;
    u8 *aPlain = 0;               /* e2ee: the plaintext of an envelope */
    const char *zLocked = 0;
    int bUnlocked = 0;
    if( x<1 || x>g->nNode ) continue;
    if( g->aNode[x].kind!=BEC_KIND_SCHEMA && g->aNode[x].kind!=BEC_KIND_WRITE ){
      continue;
    }
    rc = bec_ctx_stmt(p, "SELECT body FROM bec_store_op WHERE seq=?1", &pStmt);
    if( rc ) break;
    sqlite3_bind_int(pStmt, 1, x);
    if( sqlite3_step(pStmt)!=SQLITE_ROW
     || bec_dag_body_dropped(sqlite3_column_blob(pStmt, 0),
                             sqlite3_column_bytes(pStmt, 0)) ){
      /* (a pruned write's validity is final: it never changes) */
      sqlite3_reset(pStmt);
      continue;
    }
    rc = bec_op_decode(sqlite3_column_blob(pStmt, 0),
                       sqlite3_column_bytes(pStmt, 0), &op, pzErr);
    /* e2ee: an op locked for want of a key is judged again (new seeds
    ** publish the locked ops here); still locked, it stays ignored. */
    if( rc==SQLITE_OK ){
      char *zLock = 0, *zReason = 0;
      rc = locked_reason(p, x, &zLock);
      if( rc==SQLITE_OK && zLock ){
        rc = verdict_stored(p, g, x, 0, &op, &zReason, pzErr);
        if( rc==SQLITE_OK && zReason==0 ){
          rc = bec_ctx_stmt(p, "DELETE FROM bec_store_ignored WHERE seq=?1",
                            &pStmt2);
          if( rc==SQLITE_OK ){
            sqlite3_bind_int(pStmt2, 1, x);
            sqlite3_step(pStmt2);
            rc = sqlite3_reset(pStmt2);
          }
          bUnlocked = 1;
        }else if( rc==SQLITE_OK && strcmp(zReason, zLock)!=0 ){
          rc = ignore_op(p, x, zReason);
        }
      }
      if( rc==SQLITE_OK ) rc = bec_e2ee_open(p, &op, &aPlain, &zLocked, pzErr);
      if( rc==SQLITE_OK && zLocked ){
        sqlite3_free(zLock);
        sqlite3_free(zReason);
        sqlite3_free(aPlain);
        aPlain = 0;
        sqlite3_reset(pStmt);
        continue;
      }
      sqlite3_free(zLock);
      sqlite3_free(zReason);
    }
    if( rc==SQLITE_OK && op.kind==BEC_KIND_SCHEMA ){
      BecSchema *s = 0;
      rc = bec_schema_decode(op.aPayload, op.nPayload, &s, pzErr);
      if( rc==SQLITE_OK && bUnlocked && s->action==BEC_SCHEMA_CREATE ){
        rc = store_columns(p, x, s);
      }else if( rc==SQLITE_OK && bUnlocked && (s->action==BEC_SCHEMA_DROP
                                            || s->action==BEC_SCHEMA_RETABLE) ){
        rc = incarnation_ops(p, x, s);
      }
      /* s is a copy: end the read of the op's row now, or the DROP TABLE
      ** of catalog_sync finds this statement active (SQLITE_LOCKED). */
      sqlite3_reset(pStmt);
      if( rc==SQLITE_OK && s->action>=BEC_SCHEMA_ADD
       && s->action!=BEC_SCHEMA_RETABLE ){
        int bIgnored = 0;
        sqlite3_stmt *pI = 0;
        rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_ignored WHERE seq=?1", &pI);
        if( rc==SQLITE_OK ){
          sqlite3_bind_int(pI, 1, x);
          bIgnored = sqlite3_step(pI)==SQLITE_ROW;
          rc = sqlite3_reset(pI);
        }
        if( rc==SQLITE_OK && !bIgnored ){
          rc = alter_stored(p, x, s, 1, pzErr);
        }
        bec_schema_free(s);
        sqlite3_free(aPlain);
        continue;
      }
      /* (a create, a drop or a RENAME TO: the catalog follows, once) */
      if( rc==SQLITE_OK ){
        int bIgnored = 0;
        sqlite3_stmt *pI = 0;
        rc = bec_ctx_stmt(p, "SELECT 1 FROM bec_store_ignored WHERE seq=?1", &pI);
        if( rc==SQLITE_OK ){
          sqlite3_bind_int(pI, 1, x);
          bIgnored = sqlite3_step(pI)==SQLITE_ROW;
          rc = sqlite3_reset(pI);
        }
        if( !bIgnored ) bCatalog = 1;
      }
      bec_schema_free(s);
    }else if( rc==SQLITE_OK ){
      BecWriteReader wr;
      /* The feed: every row op x wrote may have changed. */
      rc = feed_add(p, x, 0, 0, 0);
      if( rc==SQLITE_OK
       && bec_write_open(&wr, op.aPayload, op.nPayload)==SQLITE_OK ){
        for(j=0; rc==SQLITE_OK && j<wr.nTable; j++){
          int iSchema = 0, k;
          rc = bec_dag_seq_of(p, &wr.aTableHash[j*BEC_HASH_BYTES], &iSchema);
          for(k=0; k<nTbl && aTbl[k]!=iSchema; k++){}
          if( rc==SQLITE_OK && k==nTbl ){
            if( nTbl>=nTblAlloc ){
              int *aNew;
              nTblAlloc = nTblAlloc ? nTblAlloc*2 : 8;
              aNew = sqlite3_realloc64(aTbl, sizeof(int)*(sqlite3_uint64)nTblAlloc);
              if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
              aTbl = aNew;
            }
            aTbl[nTbl++] = iSchema;
          }
        }
      }
    }
    sqlite3_free(aPlain);
    sqlite3_reset(pStmt);
  }
  if( rc==SQLITE_OK && bCatalog ) rc = catalog_sync(p, pzErr);
  for(i=0; rc==SQLITE_OK && i<nTbl; i++){
    int bLive = 0;
    rc = is_live(p, aTbl[i], &bLive);
    if( rc==SQLITE_OK && bLive ){
      /* (an ignored write may name a drop, which wins its name too) */
      BecSchema *s = 0;
      rc = bec_crdt_load_schema(p, aTbl[i], &s, 0, pzErr);
      if( rc==SQLITE_OK && s->action==BEC_SCHEMA_CREATE ){
        rc = rebuild(p, aTbl[i], pzErr);
      }
      bec_schema_free(s);
    }
  }
  sqlite3_free(aTbl);
  return rc;
}

/* xAdmit: are a schema or write op's bytes well formed, given its causal
** past?  Acceptance refuses only malformed bytes; whether the merge then
** ignores the op (bec_store_ignored, bec_ops.reason) is a verdict on the
** op and its causal past too, never a refusal. */
static int crdt_admit(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                      BecVerdict *pV, char **pzErr){
  BecCrdt *pC = 0;
  BecGraph *g = 0;
  char *zReason = 0;
  Anc anc;
  int rc;
  int eEnv = bec_e2ee_envelope(pOp);
  if( eEnv ){
    /* e2ee: an envelope is judged without keys by bec_e2ee.c; its
    ** plaintext is judged when stored (verdict_stored). */
    rc = bec_crdt_get(p, &pC);
    if( rc==SQLITE_OK ) pC->aVerdictBody = 0;
    if( rc==SQLITE_OK && eEnv==BEC_E2EE_ENVELOPE_ADMIN ){
      /* Marked as a write to a write='admin' table: an admin op on every
      ** replica, keys or not (INVARIANTS.md 9; the plaintext decides
      ** nothing here, so a relay judges it the same). */
      int iAuthor = 0, bAdmin = 0;
      rc = bec_graph_get(p, &g, pzErr);
      if( rc==SQLITE_OK ) rc = bec_dag_author_id(p, pOp->aAuthor, 0, &iAuthor);
      if( rc==SQLITE_OK ){
        memset(&anc, 0, sizeof(anc));
        anc_init(&anc, g, g->nNode+1, aPredSeq, pOp->nPred, 0);
        rc = past_admin_grant(g, &anc, iAuthor, &bAdmin);
        anc_free(&anc);
      }
      pV->bAdminOp = 1;
      if( rc==SQLITE_OK && !bAdmin ){
        bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: an op marked as a "
                        "write to a write='admin' table, by an author without "
                        "an admin grant");
      }
    }
    return rc;
  }
  if( pOp->kind==BEC_KIND_SCHEMA ){
    BecSchema *s = 0;
    char *zWhy = 0;
    rc = bec_schema_decode(pOp->aPayload, pOp->nPayload, &s, &zWhy);
    if( rc==SQLITE_OK && s->action==BEC_SCHEMA_DROP ){
      /* A drop lists the incarnations its author had: each is in its
      ** causal past, or the op is malformed. */
      int i;
      rc = bec_graph_get(p, &g, pzErr);
      if( rc==SQLITE_OK ){
        memset(&anc, 0, sizeof(anc));
        anc_init(&anc, g, g->nNode+1, aPredSeq, pOp->nPred, 0);
        for(i=0; rc==SQLITE_OK && i<s->nDrop; i++){
          int iSeq = 0;
          rc = bec_dag_seq_of(p, &s->aDrop[i*BEC_HASH_BYTES], &iSeq);
          if( rc==SQLITE_OK && (iSeq<1 || iSeq>g->nNode
                                || !anc_covers(&anc, iSeq, &rc)) && rc==SQLITE_OK ){
            zWhy = sqlite3_mprintf("malformed: a drop lists an incarnation "
                                   "that is not in its causal past");
            rc = zWhy ? BEC_MALFORMED : SQLITE_NOMEM;
          }
        }
        anc_free(&anc);
      }
    }
    bec_schema_free(s);
    if( rc==BEC_MALFORMED ){
      bec_verdict_set(pV, rc, "%s", zWhy ? zWhy : "malformed: bad schema "
                      "payload");
      rc = SQLITE_OK;
    }else if( rc ){
      *pzErr = zWhy;
      zWhy = 0;
    }
    sqlite3_free(zWhy);
    return rc;
  }
  if( pOp->kind!=BEC_KIND_WRITE ) return SQLITE_OK;
  rc = bec_crdt_get(p, &pC);
  memset(&anc, 0, sizeof(anc));
  if( rc==SQLITE_OK && p->bCovering ){
    /* Its past is every stored op (bec_dag.c): the verdict reads stored
    ** rows, and the graph only if a question needs it (verdict_write). */
    rc = bec_graph_check(p, pzErr);
    if( rc==SQLITE_OK ) anc_init(&anc, p->pGraph, p->nKnown+1, aPredSeq,
                                 pOp->nPred, 1);
  }else{
    if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);
    if( rc==SQLITE_OK ) anc_init(&anc, g, g->nNode+1, aPredSeq, pOp->nPred, 0);
  }
  if( rc ) return rc;
  {
    /* The transaction's own op, each change judged as it was made: the
    ** same bytes, so the same changes (as crdt_stored's bAhead). */
    int bJudged = pC->nJudged>=pC->nChange && pC->nChange>0
               && pC->aAhead && pOp->nPayload==pC->nAhead
               && memcmp(pOp->aPayload, pC->aAhead, (size_t)pC->nAhead)==0;
    rc = verdict_write(p, anc.g, &anc, pOp, 0, bJudged, &zReason, pV, pzErr);
    if( rc==SQLITE_OK && bJudged && local_judge_check() ){
      /* BEC_CHECK_JUDGED=1 (tests): the full reading must agree. */
      char *zFull = 0;
      BecVerdict v2;
      memset(&v2, 0, sizeof(v2));
      rc = verdict_write(p, anc.g, &anc, pOp, 0, 0, &zFull, &v2, pzErr);
      if( rc==SQLITE_OK && ((zFull==0)!=(zReason==0) || v2.rc!=pV->rc) ){
        *pzErr = sqlite3_mprintf("bec: internal error: the local op's changes, "
            "judged as made, are judged otherwise when read again: %s",
            zFull ? zFull : "(applies)");
        rc = SQLITE_INTERNAL;
      }
      sqlite3_free(zFull);
      bec_verdict_clear(&v2);
    }
  }
  anc_free(&anc);
  /* The verdict goes with the op to crdt_stored (no second parse). */
  sqlite3_free(pC->zVerdict);
  pC->zVerdict = zReason;
  pC->aVerdictBody = rc==SQLITE_OK && pV->rc==0 ? pOp->aBody : 0;
  pC->nVerdictBody = pOp->nBody;
  return rc;
}

/**************************************************************************
** The local transaction's write op.
*/
int bec_crdt_txn_table(BecCrdt *pC, BecTab *t, int *piTable){
  int i;
  for(i=0; i<pC->nTable; i++){
    if( pC->aTable[i]==t->iSchema ){ *piTable = i; return SQLITE_OK; }
  }
  if( pC->nTable>=BEC_WRITE_MAX_TABLES ) return SQLITE_TOOBIG;
  if( pC->nTable>=pC->nTableAlloc ){
    int nNew = pC->nTableAlloc ? pC->nTableAlloc*2 : 8;
    int *aNew = sqlite3_realloc64(pC->aTable, sizeof(int)*(sqlite3_uint64)nNew);
    u8 *aNewHash;
    if( aNew==0 ) return SQLITE_NOMEM;
    pC->aTable = aNew;
    aNewHash = sqlite3_realloc64(pC->aTableHash, (sqlite3_uint64)nNew*BEC_HASH_BYTES);
    if( aNewHash==0 ) return SQLITE_NOMEM;
    pC->aTableHash = aNewHash;
    pC->nTableAlloc = nNew;
  }
  pC->aTable[pC->nTable] = t->iSchema;
  memcpy(&pC->aTableHash[pC->nTable*BEC_HASH_BYTES], t->aSchemaHash, BEC_HASH_BYTES);
  *piTable = pC->nTable++;
  return SQLITE_OK;
}

void bec_crdt_txn_reset(BecCrdt *pC){
  bec_crdt_local_discard(pC);
  pC->bTxn = 0;
  pC->iSeq = 0;
  pC->chg.n = 0;
  pC->nChange = 0;
  pC->nJudged = 0;
  pC->feed.n = 0;
  pC->nTable = 0;
  pC->nMark = 0;
  if( pC->chg.nAlloc > 4*1024*1024 ) bec_buf_free(&pC->chg);
}

int bec_crdt_flush(BecCtx *p, char **pzErr){
  BecCrdt *pC = p->pCrdt;
  BecBuf pay, sealed;
  u8 aHash[BEC_HASH_BYTES];
  int rc = SQLITE_OK;
  int bNested;
  if( pC ) rc = bec_crdt_local_flush(p);
  if( rc ){
    bec_crdt_local_discard(pC);
    *pzErr = sqlite3_mprintf("cannot write this transaction's rows: %s",
                             bec_rc_text(p->db, rc));
    return rc;
  }
  if( pC==0 || pC->nChange==0 ){
    if( pC ) bec_crdt_txn_reset(pC);
    return SQLITE_OK;
  }
  memset(&pay, 0, sizeof(pay));
  memset(&sealed, 0, sizeof(sealed));
  bec_buf_append_u8(&pay, BEC_TABLE_FORMAT, &rc);
  bec_buf_append_varint(&pay, (u64)pC->nTable, &rc);
  bec_buf_append(&pay, pC->aTableHash, (i64)pC->nTable*BEC_HASH_BYTES, &rc);
  {
    /* Per table, the ADD ops of the columns it shows: the changes' masks
    ** cover its columns as shown (bec_write_body maps them back). */
    int i, k;
    for(k=0; k<2; k++){
      for(i=0; i<pC->nTable; i++){
        const BecTab *t;
        for(t=pC->pTabList; t && t->iSchema!=pC->aTable[i]; t=t->pNext){}
        if( k==0 ){
          bec_buf_append_varint(&pay, t ? (u64)(t->pSchema->nCol-t->pSchema->nBase) : 0, &rc);
        }else if( t && t->pSchema->nCol>t->pSchema->nBase ){
          bec_buf_append(&pay, t->pSchema->aAddHash,
              (i64)(t->pSchema->nCol-t->pSchema->nBase)*BEC_HASH_BYTES, &rc);
        }
      }
    }
  }
  bec_buf_append_varint(&pay, (u64)pC->nChange, &rc);
  bec_buf_append(&pay, pC->chg.a, pC->chg.n, &rc);
  if( rc==SQLITE_OK && pay.n>BEC_MAX_PAYLOAD ){
    *pzErr = sqlite3_mprintf("bec: too large: this transaction's changes to bec "
        "tables need a %lld-byte op, over the limit of %d bytes; split it into "
        "smaller transactions", (long long)pay.n, BEC_MAX_PAYLOAD);
    rc = SQLITE_TOOBIG;
  }
  if( rc==SQLITE_OK ){
    bNested = p->bNested;
    p->bNested = 1;
    pC->aAhead = pay.a;
    pC->nAhead = pay.n;
    /* e2ee: in an encrypted group the op carries the envelope, marked as
    ** an admin op if it writes a write='admin' table (bec_e2ee_envelope) */
    int bAdminWrite = 0, i;
    for(i=0; i<pC->nTable && !bAdminWrite; i++){
      const BecTab *t;
      for(t=pC->pTabList; t && t->iSchema!=pC->aTable[i]; t=t->pNext){}
      bAdminWrite = t && (t->pSchema->opts & BEC_OPT_ADMIN)!=0;
    }
    rc = bec_e2ee_seal(p, BEC_KIND_WRITE, pay.a, pay.n, 0, bAdminWrite,
                       &sealed, pzErr);
    if( rc==SQLITE_OK ){
      rc = bec_dag_append(p, BEC_KIND_WRITE, sealed.n ? sealed.a : pay.a,
                          sealed.n ? sealed.n : pay.n, aHash, pzErr);
    }
    pC->aAhead = 0;
    pC->nAhead = 0;
    p->bNested = bNested;
  }
  bec_buf_free(&pay);
  bec_buf_free(&sealed);
  bec_crdt_txn_reset(pC);
  return rc;
}

/**************************************************************************
** Checking (bec_check): the tables against the ops.
**
** Every live table is recomputed from the valid ops by the same replay a
** validity change uses (rebuild), inside a savepoint that is always rolled
** back, and compared with what its shadow table and bec_store_conflict
** held before: rows and their merge metadata, and the lost values.  The
** winning schema op of every table name is recomputed as well.
*/
static const BecSavepoint spCheck = {
  "SAVEPOINT bec_check", "RELEASE bec_check", "ROLLBACK TO bec_check"
};
static const BecSavepoint spShow = {
  "SAVEPOINT bec_show", "RELEASE bec_show", "ROLLBACK TO bec_show"
};

#define CHECK_MAX_SHOWN 5     /* differing rows shown per table and kind */

static void problem(BecBuf *pOut, int *pRc, const char *zFmt, ...){
  va_list ap;
  if( pOut->n ) bec_buf_append(pOut, "\n", 1, pRc);
  va_start(ap, zFmt);
  bec_buf_vappendf(pOut, pRc, zFmt, ap);
  va_end(ap);
}

/* Runs zSql, whose rows are one text column describing a difference, and
** reports each as "<zPrefix>: <row>" (at most CHECK_MAX_SHOWN of them). */
static int report_rows(BecCtx *p, const char *zSql, const char *zPrefix,
                       BecBuf *pOut){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  int n = 0;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( n++<CHECK_MAX_SHOWN ){
      problem(pOut, &rc, "%s: %s", zPrefix,
              (const char*)sqlite3_column_text(pStmt, 0));
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
  else sqlite3_finalize(pStmt);
  if( n>CHECK_MAX_SHOWN ){
    problem(pOut, &rc, "%s: ... %d rows in all", zPrefix, n);
  }
  return rc;
}

/* Reports, for table zName, the rows (zCols, described by zDesc) of
** zStored that zDerived lacks ("stored <what> not derived from the ops")
** and the reverse ("<what> derived from the ops is not stored"). */
static int report_both_ways(BecCtx *p, const char *zName, const char *zWhat,
                            const char *zDesc, const char *zCols,
                            const char *zStored, const char *zDerived,
                            BecBuf *pOut){
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<2; i++){
    char *zPrefix = i==0
      ? sqlite3_mprintf("table %s: stored %s not derived from the ops", zName, zWhat)
      : sqlite3_mprintf("table %s: %s derived from the ops is not stored", zName, zWhat);
    char *zSql = sqlite3_mprintf("SELECT %s FROM (SELECT %s FROM %s EXCEPT"
        " SELECT %s FROM %s)", zDesc, zCols, i==0 ? zStored : zDerived, zCols,
        i==0 ? zDerived : zStored);
    rc = (zSql && zPrefix) ? report_rows(p, zSql, zPrefix, pOut) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    sqlite3_free(zPrefix);
  }
  return rc;
}

/* Compares table iSchema (live, named zName) with its recomputation. */
static int check_table(BecCtx *p, int iSchema, const char *zName, BecBuf *pOut,
                       char **pzErr){
  BecSchema *s = 0;
  BecBuf cols, desc;
  char *zSql = 0, *zRows = 0;
  int rc, i;
  memset(&cols, 0, sizeof(cols));
  memset(&desc, 0, sizeof(desc));
  rc = bec_crdt_load_schema(p, iSchema, &s, 0, pzErr);
  /* The shadow table's columns, and a text description of a row. */
  for(i=0; rc==SQLITE_OK && i<s->nCol; i++){
    char *z = sqlite3_mprintf("%sc%d", i ? ", " : "", i);
    char *zD = sqlite3_mprintf("%squote(c%d)", i ? "||', '||" : "'('||", i);
    if( z==0 || zD==0 ) rc = SQLITE_NOMEM;
    bec_buf_append(&cols, z, z ? (i64)strlen(z) : 0, &rc);
    bec_buf_append(&desc, zD, zD ? (i64)strlen(zD) : 0, &rc);
    sqlite3_free(z);
    sqlite3_free(zD);
  }
  if( rc==SQLITE_OK ){
    bec_buf_append(&cols, ", r", 3, &rc);
    bec_buf_append(&desc, "||') r='||quote(r)", 18, &rc);
  }
  for(i=0; rc==SQLITE_OK && i<s->nCol; i++){
    char *z, *zD;
    if( s->aCol[i].iPk ) continue;
    z = sqlite3_mprintf(", s%d", i);
    zD = sqlite3_mprintf("||' s%d='||quote(s%d)", i, i);
    if( z==0 || zD==0 ) rc = SQLITE_NOMEM;
    bec_buf_append(&cols, z, z ? (i64)strlen(z) : 0, &rc);
    bec_buf_append(&desc, zD, zD ? (i64)strlen(zD) : 0, &rc);
    sqlite3_free(z);
    sqlite3_free(zD);
  }
  bec_buf_append_u8(&cols, 0, &rc);
  bec_buf_append_u8(&desc, 0, &rc);
  if( rc==SQLITE_OK ){
    char *zId = bec_sql_ident(zName, "_rows");
    zRows = zId ? sqlite3_mprintf("main.%s", zId) : 0;
    sqlite3_free(zId);
    if( zRows==0 ) rc = SQLITE_NOMEM;
  }

  /* Snapshot what is stored. */
  if( rc==SQLITE_OK ){
    zSql = sqlite3_mprintf(
        "DROP TABLE IF EXISTS temp.bec_check_rows;"
        "DROP TABLE IF EXISTS temp.bec_check_conflict;"
        "CREATE TEMP TABLE bec_check_rows AS SELECT %s FROM %s;"
        "CREATE TEMP TABLE bec_check_conflict AS SELECT pk, col, seq, value"
        " FROM main.bec_store_conflict WHERE tbl=%d;",
        (char*)cols.a, zRows, iSchema);
    rc = zSql ? sqlite3_exec(p->db, zSql, 0, 0, 0) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    zSql = 0;
    if( rc==SQLITE_ERROR ){
      rc = SQLITE_OK;
      problem(pOut, &rc, "table %s: cannot read its shadow table: %s", zName,
              sqlite3_errmsg(p->db));
      goto check_out;
    }
  }

  /* The columns shown (alters): the catalog against the ops. */
  if( rc==SQLITE_OK ){
    sqlite3_stmt *pCol = 0;
    int j = 0, bSame = 1;
    rc = bec_ctx_stmt(p, "SELECT idx, name FROM bec_store_column WHERE tbl=?1 "
                         "ORDER BY idx", &pCol);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int(pCol, 1, iSchema);
      while( sqlite3_step(pCol)==SQLITE_ROW ){
        const char *zCol = (const char*)sqlite3_column_text(pCol, 1);
        while( j<s->nCol && s->aCol[j].bHidden ) j++;
        if( j>=s->nCol || sqlite3_column_int(pCol, 0)!=j || zCol==0
         || strcmp(zCol, s->aCol[j].zName) ){
          bSame = 0;
        }
        j++;
      }
      while( j<s->nCol && s->aCol[j].bHidden ) j++;
      if( j<s->nCol ) bSame = 0;
      rc = sqlite3_reset(pCol);
    }
    if( rc==SQLITE_OK && !bSame ){
      problem(pOut, &rc, "table %s: the catalog's columns are not the ones "
              "its ops give", zName);
    }
  }

  /* Recompute, then compare both ways. */
  if( rc==SQLITE_OK ) rc = rebuild(p, iSchema, pzErr);
  if( rc==SQLITE_OK ){
    rc = report_both_ways(p, zName, "row", (char*)desc.a, (char*)cols.a,
                          "temp.bec_check_rows", zRows, pOut);
  }
  if( rc==SQLITE_OK ){
    char *zDerived = sqlite3_mprintf("main.bec_store_conflict WHERE tbl=%d",
                                     iSchema);
    rc = zDerived ? report_both_ways(p, zName, "conflict",
        "'pk='||quote(pk)||' col='||col||' op '||seq||' value='||quote(value)",
        "pk, col, seq, value", "temp.bec_check_conflict", zDerived, pOut)
                  : SQLITE_NOMEM;
    sqlite3_free(zDerived);
  }

check_out:
  sqlite3_exec(p->db, "DROP TABLE IF EXISTS temp.bec_check_rows;"
                      "DROP TABLE IF EXISTS temp.bec_check_conflict;", 0, 0, 0);
  sqlite3_free(zRows);
  bec_buf_free(&cols);
  bec_buf_free(&desc);
  bec_schema_free(s);
  return rc;
}

/* Compares bec_store_ignored with the verdicts recomputed from the ops. */
static int check_ignored(BecCtx *p, const BecGraph *g, BecBuf *pOut,
                         char **pzErr){
  sqlite3_stmt *pStmt = 0;
  u8 *aAll = 0;
  int rc = all_ancestors(g, &aAll);
  int nShown = 0;
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(p->db, "SELECT o.seq, o.body, i.reason, o.kind"
        " FROM bec_store_op o LEFT JOIN bec_store_ignored i ON i.seq=o.seq"
        " WHERE o.kind IN (5,6) OR i.seq IS NOT NULL"
        " UNION ALL SELECT seq, NULL, reason, 0 FROM bec_store_ignored"
        " WHERE seq NOT IN (SELECT seq FROM bec_store_op)"
        " ORDER BY 1", -1, &pStmt, 0);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int x = sqlite3_column_int(pStmt, 0);
    const char *zStored = (const char*)sqlite3_column_text(pStmt, 2);
    int kind = sqlite3_column_int(pStmt, 3);
    char *zReason = 0, *zWhy = 0;
    BecOp op;
    if( kind!=BEC_KIND_SCHEMA && kind!=BEC_KIND_WRITE ){
      if( nShown++<CHECK_MAX_SHOWN ){
        problem(pOut, &rc, "op %d: the merge's verdict is stored, but it is "
                "not a schema or write op", x);
      }
      continue;
    }
    if( x<1 || x>g->nNode ){ rc = SQLITE_CORRUPT; break; }
    /* A pruned write's verdict stays as stored: its effect is in the
    ** merge base, which the rows are checked against. */
    if( bec_dag_body_dropped(sqlite3_column_blob(pStmt, 1),
                             sqlite3_column_bytes(pStmt, 1)) ) continue;
    rc = bec_op_decode(sqlite3_column_blob(pStmt, 1),
                       sqlite3_column_bytes(pStmt, 1), &op, &zWhy);
    if( rc==SQLITE_OK ) rc = verdict_stored(p, g, x, aAll[x], &op, &zReason, &zWhy);
    if( rc==BEC_MALFORMED || (rc==SQLITE_OK && zWhy) ){
      rc = SQLITE_OK;
      if( nShown++<CHECK_MAX_SHOWN ){
        problem(pOut, &rc, "op %d: %s", x, zWhy ? zWhy : "malformed");
      }
    }else if( rc==SQLITE_OK && (zReason==0)!=(zStored==0) ){
      if( nShown++<CHECK_MAX_SHOWN ){
        problem(pOut, &rc, zReason ? "op %d: the merge ignores it (%s), but "
                "that is not stored" : "op %d: stored as ignored (%s), but "
                "the merge applies it", x, zReason ? zReason : zStored);
      }
    }else if( rc==SQLITE_OK && zReason && strcmp(zReason, zStored) ){
      if( nShown++<CHECK_MAX_SHOWN ){
        problem(pOut, &rc, "op %d: stored reason \"%s\", the ops say \"%s\"",
                x, zStored, zReason);
      }
    }
    sqlite3_free(zReason);
    sqlite3_free(zWhy);
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(aAll);
  if( rc==SQLITE_OK && nShown>CHECK_MAX_SHOWN ){
    problem(pOut, &rc, "... %d ops whose verdicts differ", nShown);
  }
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot check the merge's verdicts: %s",
                             sqlite3_errstr(rc));
  }
  return rc;
}

/* Reports a table whose shown spelling is not exactly that of its winning
** schema op pWin: the catalog's name, and for a shown create the name of
** the virtual table in sqlite_master. */
static int check_spelling(BecCtx *p, const BecSchema *pWin, int bShown,
                          BecBuf *pOut){
  static const char *azSql[2] = {
    "SELECT name FROM main.bec_store_table WHERE name=?1",
    "SELECT name FROM main.sqlite_master WHERE type='table'"
    " AND name=?1 COLLATE NOCASE",
  };
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<2; i++){
    sqlite3_stmt *pStmt = 0;
    if( i==1 && !bShown ) break;
    rc = sqlite3_prepare_v2(p->db, azSql[i], -1, &pStmt, 0);
    if( rc ) break;
    sqlite3_bind_text(pStmt, 1, pWin->zName, (int)strlen(pWin->zName),
                      SQLITE_STATIC);
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      const char *z = (const char*)sqlite3_column_text(pStmt, 0);
      if( z && strcmp(z, pWin->zName)!=0 ){
        problem(pOut, &rc, "table %s: %s spells it %s", pWin->zName,
                i==0 ? "the catalog" : "sqlite_master", z);
      }
    }
    if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
    else sqlite3_finalize(pStmt);
  }
  return rc;
}

static int crdt_check(BecCtx *p, char **pzProblems, char **pzErr){
  BecCrdt *pC = 0;
  BecGraph *g = 0;
  sqlite3_stmt *pStmt = 0;
  BecBuf out, names;          /* names: NUL-terminated table names */
  BecTab *t;
  i64 iOff;
  int rc, bBegun = 0;

  *pzProblems = 0;
  memset(&out, 0, sizeof(out));
  memset(&names, 0, sizeof(names));
  rc = bec_crdt_get(p, &pC);
  if( rc==SQLITE_OK ) rc = crdt_schema(p, pzErr);
  if( rc ) return rc;
  if( pC->bTxn && pC->nChange>0 ){
    *pzErr = sqlite3_mprintf("bec: commit or roll back this transaction's "
                             "writes to bec tables before bec_check()");
    return SQLITE_ERROR;
  }
  /* Not a check but a repair of this replica's display: a hidden table
  ** whose names are free again is shown before the tables are checked. */
  rc = bec_ctx_begin(p, &spShow);
  if( rc==SQLITE_OK ){
    rc = show_hidden(p, pzErr);
    if( rc==SQLITE_OK ) rc = bec_ctx_commit(p, &spShow);
    else bec_ctx_rollback(p, &spShow);
  }
  if( rc==SQLITE_OK ) rc = bec_ctx_begin(p, &spCheck);
  bBegun = rc==SQLITE_OK;
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);

  if( rc==SQLITE_OK ) rc = check_ignored(p, g, &out, pzErr);
  if( rc==SQLITE_OK && out.n ){
    /* The tables are recomputed by applying the ops that are not ignored:
    ** with verdicts that disagree with the ops, that would apply ops that
    ** cannot be.  Report the verdicts alone. */
    problem(&out, &rc, "the tables are checked once the verdicts agree");
    goto check_done;
  }

  /* Every table name that a schema op or the catalog mentions. */
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(p->db, "SELECT body, NULL FROM bec_store_op "
        "WHERE kind=5 UNION ALL SELECT NULL, name FROM bec_store_table",
        -1, &pStmt, 0);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zName = (const char*)sqlite3_column_text(pStmt, 1);
    BecSchema *s = 0;
    if( zName==0 ){
      BecOp op;
      char *zWhy = 0;
      u8 *aPlain = 0;             /* e2ee: the plaintext of an envelope */
      const char *zLocked = 0;
      if( bec_op_decode(sqlite3_column_blob(pStmt, 0),
                        sqlite3_column_bytes(pStmt, 0), &op, &zWhy)==SQLITE_OK
       && bec_e2ee_open(p, &op, &aPlain, &zLocked, &zWhy)==SQLITE_OK
       && zLocked==0
       && bec_schema_decode(op.aPayload, op.nPayload, &s, &zWhy)==SQLITE_OK ){
        zName = s->zName;
      }
      sqlite3_free(aPlain);
      sqlite3_free(zWhy);
    }
    if( zName ){
      for(iOff=0; iOff<names.n; iOff+=(i64)strlen((char*)&names.a[iOff])+1){
        if( sqlite3_stricmp((char*)&names.a[iOff], zName)==0 ) break;
      }
      if( iOff>=names.n ) bec_buf_append(&names, zName, (i64)strlen(zName)+1, &rc);
    }
    bec_schema_free(s);
  }
  sqlite3_finalize(pStmt);

  for(iOff=0; rc==SQLITE_OK && iOff<names.n; iOff+=(i64)strlen((char*)&names.a[iOff])+1){
    const char *zName = (const char*)&names.a[iOff];
    BecSchema *pWin = 0;
    int iWin = 0, iStored = 0;
    rc = compute_winner(p, g, zName, &iWin, &pWin, pzErr);
    if( rc==SQLITE_OK ) rc = bec_crdt_winner(p, zName, &iStored);
    if( rc==SQLITE_OK && iWin!=iStored ){
      problem(&out, &rc, "table %s: the catalog names schema op %d, the ops "
              "say %d", zName, iStored, iWin);
    }else if( rc==SQLITE_OK && pWin ){
      int bShown = 0;
      if( pWin->action==BEC_SCHEMA_CREATE ){
        rc = tab_shown(p, pWin->zName, &bShown);
      }
      if( rc==SQLITE_OK ) rc = check_spelling(p, pWin, bShown, &out);
      if( rc==SQLITE_OK && bShown ){
        rc = check_table(p, iWin, pWin->zName, &out, pzErr);
      }else if( rc==SQLITE_OK && pWin->action==BEC_SCHEMA_CREATE ){
        /* Hidden: a local note, not a divergence (the ops agree). */
        char *zWhy = 0;
        rc = bec_crdt_name_taken(p, pWin->zName, &zWhy);
        if( rc==SQLITE_OK && zWhy ){
          problem(&out, &rc, "table %s cannot be shown: %s (rename or drop "
                  "it)", pWin->zName, zWhy);
        }else if( rc==SQLITE_OK ){
          problem(&out, &rc, "table %s is not shown, though its names are "
                  "free", pWin->zName);
        }
        sqlite3_free(zWhy);
      }
    }
    bec_schema_free(pWin);
  }

check_done:
  if( bBegun ){
    int rc2 = bec_ctx_rollback(p, &spCheck);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  for(t=pC->pTabList; t; t=t->pNext) t->eConflicts = -1;
  if( rc==SQLITE_OK && out.n ){
    bec_buf_append_u8(&out, 0, &rc);
    if( rc==SQLITE_OK ){
      *pzProblems = (char*)out.a;
      out.a = 0;
    }
  }
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot check the tables: %s",
                             bec_rc_text(p->db, rc));
  }
  bec_buf_free(&out);
  bec_buf_free(&names);
  return rc;
}

/* A fall-back to a full join (bec_rejoin.c): every table is derived
** again from its ops as they come back, so none is shown until its create
** op is stored again (the app's tables are unavailable meanwhile).  The
** virtual tables and their rows go as when another incarnation wins their
** name; the catalog, columns, conflicts, verdicts and the merge base go;
** the change feed keeps its cursors going, every line before trimmed (its
** seqs name other ops from now on).  A transaction that wrote here and has
** not signed yet cannot be carried over: the fall-back waits for it. */
static int crdt_reset(BecCtx *p, int bProbe, char **pzWhyNot, char **pzErr){
  BecCrdt *pC = p->pCrdt;
  sqlite3_stmt *pStmt = 0;
  char **azName = 0;
  int nName = 0, i, rc;
  i64 iMax = 0, nDel = 0;
  if( pC && pC->bTxn ){
    *pzWhyNot = sqlite3_mprintf("a local write to a bec table is not "
        "signed yet (commit it, then sync again)");
    return *pzWhyNot ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( p->bNested ){
    *pzWhyNot = sqlite3_mprintf("the op arrived inside a statement on a bec "
        "table (ingest it on its own)");
    return *pzWhyNot ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( bProbe ) return SQLITE_OK;
  rc = bec_ctx_stmt(p, "SELECT name FROM bec_store_table", &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *z = (const char*)sqlite3_column_text(pStmt, 0);
    char **azNew = sqlite3_realloc64(azName, sizeof(char*)*(sqlite3_uint64)(nName+1));
    if( azNew==0 ){ rc = SQLITE_NOMEM; break; }
    azName = azNew;
    azName[nName] = sqlite3_mprintf("%s", z ? z : "");
    if( azName[nName++]==0 ) rc = SQLITE_NOMEM;
  }
  if( pStmt ){
    int rc2 = sqlite3_reset(pStmt);   /* (before any DDL) */
    if( rc==SQLITE_OK ) rc = rc2;
  }
  for(i=0; rc==SQLITE_OK && i<nName; i++){
    rc = unshow_table(p, azName[i], pzErr);
  }
  for(i=0; i<nName; i++) sqlite3_free(azName[i]);
  sqlite3_free(azName);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_exec(p, "DELETE FROM bec_store_table;"
        " DELETE FROM bec_store_column; DELETE FROM bec_store_alter;"
        " DELETE FROM bec_store_conflict; DELETE FROM bec_store_ignored;"
        " DROP TABLE IF EXISTS bec_store_base;"
        " DROP TABLE IF EXISTS bec_store_base_conflict", pzErr);
  }
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT max(cursor) FROM bec_store_change", &pStmt);
    if( rc==SQLITE_OK ){
      if( sqlite3_step(pStmt)==SQLITE_ROW ) iMax = sqlite3_column_int64(pStmt, 0);
      rc = sqlite3_reset(pStmt);
    }
  }
  if( rc==SQLITE_OK && iMax>0 ) rc = bec_crdt_feed_trim(p, iMax+1, &nDel);
  if( rc==SQLITE_OK && iMax>0 && nDel==0 ){
    /* one line only: it becomes the marker */
    rc = bec_ctx_stmt(p, "UPDATE bec_store_change SET seq=NULL, tbl=NULL,"
                         " kinds=NULL WHERE cursor=?1", &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, iMax);
      sqlite3_step(pStmt);
      rc = sqlite3_reset(pStmt);
    }
  }
  return rc;
}

const BecDeriver bec_crdt_deriver = {
  "tables", BEC_DERIVE_TABLES,
  crdt_schema, crdt_admit, crdt_stored, crdt_validity, crdt_check, 0,
  crdt_reset
};
