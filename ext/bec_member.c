/*
** bec_member.c - who may do what in the group: the membership rules of
** ../shared/MEMBERSHIP.md (docs/membership.md for users), derived from the
** signed create/add/remove ops of the DAG and kept current as ops arrive.
**
**   SELECT bec_add_member(:pubkey, 'admin');    -- appends one signed add op
**   SELECT bec_remove_member(:pubkey);          -- remove (own key: leave)
**   SELECT * FROM bec_members;                  -- current members
**   SELECT bec_member_rebuild();                -- re-derive all from the DAG
**
** Storage (created by bec_member_ensure_schema):
**   bec_store_member(pubkey, author, role, rank, added_by, added_in, cover)
**       the current members (rule 9), keyed and ordered by public key, with
**       the keys and hash it shows, so that bec_members is one scan; cover
**       is the highest role (BEC_ROLE_*, 0: none) whose ops rule 4 makes
**       valid when they have every stored op in their past (at most role),
**       cover_facts the facts such a data op gets (S = M(u))
**   bec_store_member_op(seq, facts)
**       immutable facts about each op's causal past (below), written once
**       when the op is stored, so that a cache rebuild only reads them; a
**       write or app op of final validity (a sealed cut) may have none:
**       pruning drops them (facts_droppable)
** and the `valid` column of bec_store_op (rule 4, with rule 7's drops).
**
** THE IDEA.  Every causality question the rules ask is between an op and the
** membership ops *about its own author*: the grants (create, add(u, .)) and
** removes (remove(u)) of u, called M(u) here.  Rules 3, 4, 6 and 9 only ever
** compare y (by u) with ops of M(u), or two ops of M(u) with each other.  So
** each op stores, when it arrives, three short sorted lists of seqs:
**
**   S(y)   the ops of M(author(y)) in y's causal past
**   T(y)   for add/remove y with target v != author: the ops of M(v) in the
**          past of y
**   CV(y)  for add/remove y with target v: v's ops stored before y that are
**          NOT in y's past (concurrent with y)
**
** and any question "a < b" is then a binary search (before() below): an op
** can only be in the past of an op stored after it, and the three lists
** cover every pair the rules compare.  A fact about an op's past never
** changes, so the lists are computed once and persisted.
**
** Computing them: scan() marks y's causal past backwards from its
** predecessors in decreasing seq order, and stops as soon as no op that is
** NOT in the past remains unresolved below the current seq (it starts from
** the heads that are not predecessors).  An op whose predecessors are the
** current heads costs O(number of predecessors); in general the cost is the
** number of ops stored since the oldest op concurrent with y.  A full
** rebuild uses facts_batch() instead: 64 membership ops at a time, one
** forward and one backward pass of 64-bit masks over the DAG, O(|M|/64 * E).
**
** Evaluation.  Only add and remove ops have authority edges leaving them
** (rule 6 edges go from M(u) into ops by u), so only they can be in rule-7
** cycles and only they can change the validity of other ops.  A data op is
** evaluated once on arrival (nothing depends on it).  An add or remove x
** about v can change the ops downstream of it in the authority graph:
** eval_region() takes that closure R, finds its strongly connected
** components (Tarjan), settles cycles by seniority (rule 7), evaluates rule
** 4 in a topological order (Kahn), then the data ops of the users whose
** grants or removes changed are re-evaluated, and the member rows of the
** users concerned rewritten.  Strongly connected components outside R keep
** their edges and so their drops, unless a seniority key they use changed:
** ranks and keys (rule 5) are maintained by incremental shortest-path
** relaxation, and a key change that touches a cycle re-evaluates all
** add/remove ops.
**
** Covering ops (COMPACTION.md section 9, incremental).  An op whose
** predecessors are every head (BecCtx.bCovering: a local op, a peer's op on
** a linear history) has every stored op in its past.  For a data op y by u
** that is not a root op, rule 4 then reads M(u) only, all of it before y:
** rule4(y, u) is rule4(0, u, need_of(y)), the hypothetical op of the local
** API, and S(y) is M(u) itself (T and CV are empty, y is no grant).  So
** member_write stores that answer per member (cover) with those facts
** (cover_facts), and when it says valid, admission and derivation read the
** member's row instead of loading the graph and this state: the same
** verdict, facts and validity as the full path, written the same way
** (bec_check compares them), at a cost that grows neither with the history
** nor with the group (the heads, one member row, the op).  Any other
** case (cover too low: the op may be invalid; a membership op; a state
** already in memory, which must stay in step) takes the full path.
**
** The threshold root (THRESHOLD.md 5, docs/root.md "Which root ops act"):
** a root op is an add or remove by the most senior author, and a
** creator's root-open is a node of the authority graph too (edges from
** the creator's grants and removes into it, and from it to the root ops
** whose lineage rule reads it: root_acts, open_edge), so cycles through
** the root are settled by rule 7.  What the rule needs of the root (each
** root op's lineage and request, each creator session's completeness and
** abandonment) comes from bec_root.c through BecCtx.xRootFacts, read again
** by bec_member_root_changed whenever bec_root.c stores such a fact.
*/
#include "becInt.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>

/* MemberOp.flags */
#define MOP_POTENTIAL 0x01   /* rule 5: a potential grant (create or add) */
#define MOP_DROPPED   0x02   /* rule 7: dropped from a conflict cycle */
#define MOP_CYCLE     0x04   /* in a nontrivial SCC of the authority graph */

/* Scan marks, stored as (stamp<<2)|mark so that no clearing is needed. */
#define MARK_PAST 1u
#define MARK_CONC 2u

/* How many problems bec_member_check lists before it summarizes. */
#define MAX_PROBLEMS 50


/* What is known about one author (index: bec_store_author.id). */
typedef struct MemberUser MemberUser;
struct MemberUser {
  BecInts ops;      /* seqs of every op this user authored, ascending */
  BecInts mAuth;    /* seqs of the add/remove ops this user authored */
  BecInts mAbout;   /* M(u): create by u, add(u, .), remove(u), ascending */
  int rank;        /* rule 5; 0 while the user has no potential grant */
  int iKey;        /* seq of the op whose hash completes the key */
};

/* What is known about one op (index: seq). */
typedef struct MemberOp MemberOp;
struct MemberOp {
  int iFact;       /* S, T and CV start at BecMember.fact.a[iFact] */
  int nS, nT, nCV;
  u8 flags;        /* MOP_* */
};

struct BecMember {
  u64 iGeneration;     /* the graph generation this was derived from */
  int nDone;           /* ops 1..nDone are indexed and evaluated */
  int nSlot;           /* entries in the per-op arrays */
  MemberOp *aOp;
  u8 *aValid;          /* rule-4 validity by seq */
  int *aHeadPos;       /* 1 + position in heads, 0 if not a head */
  u32 *aMark;          /* scan() marks */
  u32 *aLocStamp;      /* eval_region() membership stamps */
  int *aLoc;           /* eval_region() local index of a seq */
  u32 iStamp;
  u32 iLocStamp;
  int iScanLow;        /* after scan(): every seq <= iScanLow is in the past */
  BecInts heads;        /* ops without successor among 1..nDone */
  BecInts fact;         /* pool of S, T and CV lists */
  BecInts hand;         /* hand-overs: root ops without a target, ascending
                        ** (root attestations too: root_acts skips them) */
  BecInts roots;        /* every root op, ascending */
  BecInts opens;        /* every creator's root-open, ascending */
  BecInts rf;           /* the root's facts (BecCtx.xRootFacts): 4 ints a
                       ** row, sorted; empty while there is no root op */
  int nUser;
  MemberUser *aUser;
  const u8 *aFinal;    /* final validity of ops in sealed cuts, borrowed
                       ** from BecCtx.xFinal (bec_checkpoint.c): 0 not
                       ** final, 1 invalid, 2 valid; nFinal entries */
  int nFinal;
};

/**************************************************************************
** Small helpers.
*/
/* 1 if the ascending array a[0..n-1] holds x. */
static int has(const int *a, int n, int x){
  int lo = 0, hi = n;
  while( lo<hi ){
    int mid = (lo+hi)/2;
    if( a[mid]==x ) return 1;
    if( a[mid]<x ) lo = mid+1; else hi = mid;
  }
  return 0;
}

/* A root op with a target (THRESHOLD.md 5): an add (a grant: add, role,
** restore) or a remove by the threshold root, whose author is the group
** key.  bec_root.c admitted it (signature, epoch, payload); here it is an
** add or remove that needs no grant and whose author outranks everyone. */
static int is_root_mop(const BecNode *n){
  return n->kind==BEC_KIND_ROOT && n->iTarget>0;
}
/* A creator's root-open (acceptance lets only the creator post one): the
** source of the root's authority (THRESHOLD.md 5).  For the facts it is a
** data op of the creator; for evaluation it is a node of the authority
** graph, with edges to the root ops whose validity reads its own. */
static int is_open(const BecNode *n){
  return n->kind==BEC_KIND_ROOT_OPEN;
}
/* Data ops: every kind whose derived state is not membership; their
** validity is their author's membership (rule 4). */
static int is_data(const BecNode *n){
  return !bec_kind_derives(n->kind, BEC_DERIVE_MEMBERSHIP) && !is_root_mop(n);
}
/* Add and remove: the membership ops about their target. */
static int is_addrem(const BecNode *n){
  return bec_kind_has_target(n->kind) || is_root_mop(n);
}
static int is_add(const BecNode *n){
  return n->kind==BEC_KIND_ADD || (is_root_mop(n) && n->role!=0);
}
static int is_remove(const BecNode *n){
  return n->kind==BEC_KIND_REMOVE || (is_root_mop(n) && n->role==0);
}
/* Rule 2: create and add are grants (of their author / target). */
static int is_grant(const BecNode *n){
  return n->kind==BEC_KIND_CREATE || is_add(n);
}
/* Levels of authority, ordered: what a grant gives and what an op needs.
** A relay (docs/membership.md) is a grant of the lowest level: it is
** listed as a member row, but gives only what LEVEL_RELAY ops need (its
** own leave); an op that needs more than a grant gives is not authorized
** by it, and an add of a lower level cancels grants for such ops (the
** generalisation of "a demotion cancels admin ops"). */
#define LEVEL_RELAY  1
#define LEVEL_MEMBER 2
#define LEVEL_ADMIN  3

static int role_level(int role){
  if( role==BEC_ROLE_ADMIN ) return LEVEL_ADMIN;
  if( role==BEC_ROLE_MEMBER ) return LEVEL_MEMBER;
  return LEVEL_RELAY;
}
static int level_role(int level){
  if( level==LEVEL_ADMIN ) return BEC_ROLE_ADMIN;
  if( level==LEVEL_MEMBER ) return BEC_ROLE_MEMBER;
  return BEC_ROLE_RELAY;
}
/* The level a grant gives: the create gives admin. */
static int level_of(const BecNode *n){
  return n->kind==BEC_KIND_CREATE ? LEVEL_ADMIN : role_level(n->role);
}
static int gives_admin(const BecNode *n){
  return level_of(n)==LEVEL_ADMIN;
}
/* Rule 1, from the kind table's author rule: admin ops need an admin
** grant, a leave (a self-targeting op of an admin-unless-self kind) any
** grant, every other op a member grant. */
static int need_level(int kind, int bSelf){
  if( bec_kind_needs_admin(kind, bSelf) ) return LEVEL_ADMIN;
  if( bSelf && bec_kind(kind)->eAuthor==BEC_AUTHOR_ADMIN_UNLESS_SELF ){
    return LEVEL_RELAY;
  }
  return LEVEL_MEMBER;
}
static int need_of(const BecNode *n){
  /* a write to a write='admin' table: an admin op (bec_dag.c store_op) */
  if( n->kind==BEC_KIND_WRITE && n->role==BEC_ROLE_ADMIN ) return LEVEL_ADMIN;
  return need_level(n->kind, is_addrem(n) && n->iTarget==n->iAuthor);
}
/* Rule 3: an add that gives less than an op needs cancels the author's
** earlier grants for that op (a demotion for admin ops; a demotion to
** relay for every op but a leave). */
static int lowers(const BecNode *n, int need){
  return is_add(n) && level_of(n)<need;
}
/* The user whose M() an op belongs to: the creator for create, the target
** for add and remove, nobody (0) for data ops. */
static int about(const BecNode *n){
  if( n->kind==BEC_KIND_CREATE ) return n->iAuthor;
  if( is_addrem(n) ) return n->iTarget;
  return 0;
}

#define S_OF(pm, i)  (&(pm)->fact.a[(pm)->aOp[i].iFact])
#define T_OF(pm, i)  (S_OF(pm, i) + (pm)->aOp[i].nS)
#define CV_OF(pm, i) (T_OF(pm, i) + (pm)->aOp[i].nT)

/* a < b, for a and b both in M(w) or by w (the only pairs the rules
** compare; see the header comment). */
static int before(const BecMember *pm, const BecGraph *g, int w, int a, int b){
  const BecNode *na, *nb;
  if( a>=b ) return 0;               /* seq is a topological order */
  na = &g->aNode[a];
  nb = &g->aNode[b];
  if( about(na)==w ){
    if( nb->iAuthor==w ) return has(S_OF(pm, b), pm->aOp[b].nS, a);
    assert( about(nb)==w );
    return has(T_OF(pm, b), pm->aOp[b].nT, a);
  }
  assert( na->iAuthor==w && about(nb)==w );
  return !has(CV_OF(pm, b), pm->aOp[b].nCV, a);
}

/**************************************************************************
** State allocation.
*/
static void member_free(BecMember *pm){
  int i;
  if( pm==0 ) return;
  for(i=0; i<pm->nUser; i++){
    bec_ints_free(&pm->aUser[i].ops);
    bec_ints_free(&pm->aUser[i].mAuth);
    bec_ints_free(&pm->aUser[i].mAbout);
  }
  sqlite3_free(pm->aUser);
  sqlite3_free(pm->aOp);
  sqlite3_free(pm->aValid);
  sqlite3_free(pm->aHeadPos);
  sqlite3_free(pm->aMark);
  sqlite3_free(pm->aLocStamp);
  sqlite3_free(pm->aLoc);
  bec_ints_free(&pm->heads);
  bec_ints_free(&pm->fact);
  bec_ints_free(&pm->hand);
  bec_ints_free(&pm->roots);
  bec_ints_free(&pm->opens);
  bec_ints_free(&pm->rf);
  sqlite3_free(pm);
}

/* Grows p (n entries of sz bytes) to nNew entries, zeroing the new part. */
static int grow(void **pp, int n, int nNew, size_t sz){
  u8 *a = sqlite3_realloc64(*pp, (sqlite3_uint64)nNew*sz);
  if( a==0 ) return SQLITE_NOMEM;
  memset(&a[(size_t)n*sz], 0, (size_t)(nNew-n)*sz);
  *pp = a;
  return SQLITE_OK;
}

/* Per-op arrays for seqs 0..nNode and per-user arrays for ids 0..nAuthor. */
static int ensure_size(BecMember *pm, int nNode, int nAuthor){
  int rc = SQLITE_OK;
  if( nNode+1>pm->nSlot ){
    int nNew = pm->nSlot ? pm->nSlot : 1024;
    while( nNew<nNode+1 ) nNew *= 2;
    rc = grow((void**)&pm->aOp, pm->nSlot, nNew, sizeof(MemberOp));
    if( rc==SQLITE_OK ) rc = grow((void**)&pm->aValid, pm->nSlot, nNew, 1);
    if( rc==SQLITE_OK ) rc = grow((void**)&pm->aHeadPos, pm->nSlot, nNew, sizeof(int));
    if( rc==SQLITE_OK ) rc = grow((void**)&pm->aMark, pm->nSlot, nNew, sizeof(u32));
    if( rc==SQLITE_OK ) rc = grow((void**)&pm->aLocStamp, pm->nSlot, nNew, sizeof(u32));
    if( rc==SQLITE_OK ) rc = grow((void**)&pm->aLoc, pm->nSlot, nNew, sizeof(int));
    if( rc==SQLITE_OK ) pm->nSlot = nNew;
  }
  if( rc==SQLITE_OK && nAuthor+1>pm->nUser ){
    int nNew = pm->nUser ? pm->nUser : 64;
    while( nNew<nAuthor+1 ) nNew *= 2;
    rc = grow((void**)&pm->aUser, pm->nUser, nNew, sizeof(MemberUser));
    if( rc==SQLITE_OK ) pm->nUser = nNew;
  }
  return rc;
}

/* A new, empty state.  *ppm owned by the caller (bec_member_free). */
static int state_new(BecGraph *g, BecMember **ppm){
  BecMember *pm = sqlite3_malloc64(sizeof(BecMember));
  int rc;
  *ppm = 0;
  if( pm==0 ) return SQLITE_NOMEM;
  memset(pm, 0, sizeof(*pm));
  pm->iGeneration = g->iGeneration;
  rc = ensure_size(pm, g->nNode, g->nAuthor);
  /* Allocate fact.a now, so that S_OF() never offsets a null pointer. */
  if( rc==SQLITE_OK && (rc = bec_ints_push(&pm->fact, 0))==SQLITE_OK ) pm->fact.n = 0;
  if( rc ){
    member_free(pm);
    return rc;
  }
  *ppm = pm;
  return SQLITE_OK;
}

/**************************************************************************
** Causal pasts.
*/
static void new_stamp(u32 *piStamp, u32 *aArr, int nSlot){
  if( ++*piStamp >= (1u<<29) ){
    memset(aArr, 0, sizeof(u32)*(size_t)nSlot);
    *piStamp = 1;
  }
}

static u32 mark_get(const BecMember *pm, int i){
  u32 m = pm->aMark[i];
  return (m>>2)==pm->iStamp ? (m & 3u) : 0;
}
static void mark_set(BecMember *pm, int i, u32 m){
  pm->aMark[i] = (pm->iStamp<<2) | m;
}
/* After scan(): is op i (<= the scan's top) in the past? */
static int in_past(const BecMember *pm, int i){
  return i<=pm->iScanLow || mark_get(pm, i)==MARK_PAST;
}

/*
** Marks the causal past of a (possibly not yet stored) op with predecessors
** aPred[0..nPred-1] among ops 1..nTop, whose heads are pm->heads.
**
** Ops are visited in decreasing seq.  An op marked PAST passes PAST to its
** predecessors; an op not in the past (CONC) passes CONC to its
** predecessors unless they are PAST already.  Every op not in the past is
** a head or a predecessor of an op not in the past, so once no CONC op is
** left unvisited, everything below is in the past: the scan stops there and
** records that bound in iScanLow.
*/
static void scan(BecMember *pm, const BecGraph *g, int nPred, const int *aPred,
                 int nTop){
  int nPending = 0, z, i;
  new_stamp(&pm->iStamp, pm->aMark, pm->nSlot);
  for(i=0; i<nPred; i++) mark_set(pm, aPred[i], MARK_PAST);
  for(i=0; i<pm->heads.n; i++){
    int h = pm->heads.a[i];
    if( h<=nTop && mark_get(pm, h)!=MARK_PAST ){
      mark_set(pm, h, MARK_CONC);
      nPending++;
    }
  }
  for(z=nTop; z>=1 && nPending>0; z--){
    const int *aP = BEC_NODE_PREDS(g, z);
    int nP = g->aNode[z].nPred;
    u32 m = mark_get(pm, z);
    if( m==MARK_PAST ){
      for(i=0; i<nP; i++){
        u32 mp = mark_get(pm, aP[i]);
        if( mp==MARK_CONC ) nPending--;
        if( mp!=MARK_PAST ) mark_set(pm, aP[i], MARK_PAST);
      }
    }else{
      assert( m==MARK_CONC );
      nPending--;
      for(i=0; i<nP; i++){
        if( mark_get(pm, aP[i])==0 ){
          mark_set(pm, aP[i], MARK_CONC);
          nPending++;
        }
      }
    }
  }
  pm->iScanLow = z;
}

/* Computes the facts of op y from a scan() of its past; appends them to
** the pool. */
static int facts_incremental(BecMember *pm, const BecGraph *g, int y){
  const BecNode *n = &g->aNode[y];
  MemberOp *o = &pm->aOp[y];
  const MemberUser *pu = &pm->aUser[n->iAuthor];
  int rc = SQLITE_OK, i;

  memset(o, 0, sizeof(*o));
  o->iFact = pm->fact.n;
  if( n->kind==BEC_KIND_CREATE ){
    o->flags = MOP_POTENTIAL;
    return SQLITE_OK;
  }
  scan(pm, g, n->nPred, BEC_NODE_PREDS(g, y), y-1);
  for(i=0; rc==SQLITE_OK && i<pu->mAbout.n; i++){
    if( in_past(pm, pu->mAbout.a[i]) ){
      rc = bec_ints_push(&pm->fact, pu->mAbout.a[i]);
      o->nS++;
    }
  }
  if( is_addrem(n) ){
    const MemberUser *pv = &pm->aUser[n->iTarget];
    int i0, k;
    if( n->iTarget!=n->iAuthor ){
      for(i=0; rc==SQLITE_OK && i<pv->mAbout.n; i++){
        if( in_past(pm, pv->mAbout.a[i]) ){
          rc = bec_ints_push(&pm->fact, pv->mAbout.a[i]);
          o->nT++;
        }
      }
    }
    /* Only the target's ops above iScanLow can be outside the past. */
    i0 = pm->fact.n;
    for(k=pv->ops.n-1; rc==SQLITE_OK && k>=0 && pv->ops.a[k]>pm->iScanLow; k--){
      if( !in_past(pm, pv->ops.a[k]) ){
        rc = bec_ints_push(&pm->fact, pv->ops.a[k]);
        o->nCV++;
      }
    }
    for(i=0; rc==SQLITE_OK && i<o->nCV/2; i++){
      int t = pm->fact.a[i0+i];
      pm->fact.a[i0+i] = pm->fact.a[pm->fact.n-1-i];
      pm->fact.a[pm->fact.n-1-i] = t;
    }
  }
  return rc;
}

/* Rule 5: an add is potential if its author holds a potential admin grant
** in its past.  Needs S(y) and the flags of earlier ops. */
static void set_potential(BecMember *pm, const BecGraph *g, int y){
  const BecNode *n = &g->aNode[y];
  if( n->kind==BEC_KIND_CREATE ){
    pm->aOp[y].flags |= MOP_POTENTIAL;
  }else if( is_root_mop(n) ){
    pm->aOp[y].flags |= MOP_POTENTIAL;   /* the root needs no grant */
  }else if( n->kind==BEC_KIND_ADD ){
    const int *aS = S_OF(pm, y);
    int i;
    for(i=0; i<pm->aOp[y].nS; i++){
      const BecNode *ng = &g->aNode[aS[i]];
      if( is_grant(ng) && gives_admin(ng)
       && (pm->aOp[aS[i]].flags & MOP_POTENTIAL) ){
        pm->aOp[y].flags |= MOP_POTENTIAL;
        break;
      }
    }
  }
}

/* Adds op y to the per-user lists and the heads. */
static int index_add(BecMember *pm, const BecGraph *g, int y){
  const BecNode *n = &g->aNode[y];
  MemberUser *pu = &pm->aUser[n->iAuthor];
  const int *aP = BEC_NODE_PREDS(g, y);
  int rc = bec_ints_push(&pu->ops, y);
  int i;
  if( rc==SQLITE_OK && n->kind==BEC_KIND_CREATE ) rc = bec_ints_push(&pu->mAbout, y);
  if( rc==SQLITE_OK && n->kind==BEC_KIND_ROOT && !is_root_mop(n) ){
    rc = bec_ints_push(&pm->hand, y);
  }
  if( rc==SQLITE_OK && n->kind==BEC_KIND_ROOT ) rc = bec_ints_push(&pm->roots, y);
  if( rc==SQLITE_OK && is_open(n) ){
    /* In its author's mAuth: the creator's grants and removes have
    ** authority edges into it like into the creator's add/remove ops. */
    rc = bec_ints_push(&pm->opens, y);
    if( rc==SQLITE_OK ) rc = bec_ints_push(&pu->mAuth, y);
  }
  if( rc==SQLITE_OK && is_addrem(n) ){
    rc = bec_ints_push(&pu->mAuth, y);
    if( rc==SQLITE_OK ) rc = bec_ints_push(&pm->aUser[n->iTarget].mAbout, y);
  }
  for(i=0; rc==SQLITE_OK && i<n->nPred; i++){
    int iPos = pm->aHeadPos[aP[i]];
    if( iPos ){
      int iLast = pm->heads.a[--pm->heads.n];
      pm->heads.a[iPos-1] = iLast;
      pm->aHeadPos[iLast] = iPos;
      pm->aHeadPos[aP[i]] = 0;
    }
  }
  if( rc==SQLITE_OK ) rc = bec_ints_push(&pm->heads, y);
  if( rc==SQLITE_OK ) pm->aHeadPos[y] = pm->heads.n;
  return rc;
}

/*
** The facts of ops 1..nUpTo from scratch, for a rebuild or a check.  The
** per-user lists must be built already.  For each block of 64 membership
** ops, a forward pass computes for every op the mask of the block's ops in
** its past, and a backward pass the mask of the block's ops in its future;
** the facts are read off the masks, then sorted into place.
*/
static int facts_batch(BecMember *pm, const BecGraph *g, int nUpTo){
  BecInts aM, aSPair, aTPair, aCVPair;
  int *aMIdx = 0, *aCnt = 0, *aTmp = 0;
  u64 *aAnc = 0, *aDesc = 0;
  int rc = SQLITE_OK;
  int y, j, c, i;

  memset(&aM, 0, sizeof(aM));
  memset(&aSPair, 0, sizeof(aSPair));
  memset(&aTPair, 0, sizeof(aTPair));
  memset(&aCVPair, 0, sizeof(aCVPair));
  aMIdx = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)nUpTo+1));
  aAnc = sqlite3_malloc64(sizeof(u64)*((sqlite3_uint64)nUpTo+1));
  aDesc = sqlite3_malloc64(sizeof(u64)*((sqlite3_uint64)nUpTo+1));
  aCnt = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)nUpTo+2)*3);
  if( aMIdx==0 || aAnc==0 || aDesc==0 || aCnt==0 ) rc = SQLITE_NOMEM;
  for(y=1; rc==SQLITE_OK && y<=nUpTo; y++){
    aMIdx[y] = -1;
    if( !is_data(&g->aNode[y]) ){
      aMIdx[y] = aM.n;
      rc = bec_ints_push(&aM, y);
    }
  }
#define SELF_BIT(p) ((aMIdx[p]>=lo && aMIdx[p]<hi) ? (1ull<<(aMIdx[p]-lo)) : 0)
  for(c=0; rc==SQLITE_OK && c*64<aM.n; c++){
    int lo = c*64, hi = lo+64 < aM.n ? lo+64 : aM.n;
    aAnc[0] = 0;
    for(y=1; y<=nUpTo; y++){
      const int *aP = BEC_NODE_PREDS(g, y);
      u64 m = 0;
      for(i=0; i<g->aNode[y].nPred; i++) m |= aAnc[aP[i]] | SELF_BIT(aP[i]);
      aAnc[y] = m;
    }
    for(j=lo; rc==SQLITE_OK && j<hi; j++){
      int x = aM.a[j];
      u64 bit = 1ull<<(j-lo);
      const MemberUser *pw = &pm->aUser[about(&g->aNode[x])];
      int w = about(&g->aNode[x]);
      for(i=0; rc==SQLITE_OK && i<pw->ops.n; i++){
        int n = pw->ops.a[i];
        if( n>x && (aAnc[n] & bit) ){
          rc = bec_ints_push(&aSPair, n);
          if( rc==SQLITE_OK ) rc = bec_ints_push(&aSPair, x);
        }
      }
      for(i=0; rc==SQLITE_OK && i<pw->mAbout.n; i++){
        int n = pw->mAbout.a[i];
        if( n>x && g->aNode[n].iAuthor!=w && (aAnc[n] & bit) ){
          rc = bec_ints_push(&aTPair, n);
          if( rc==SQLITE_OK ) rc = bec_ints_push(&aTPair, x);
        }
      }
    }
    memset(aDesc, 0, sizeof(u64)*((size_t)nUpTo+1));
    for(y=nUpTo; y>=1; y--){
      const int *aP = BEC_NODE_PREDS(g, y);
      u64 d = aDesc[y] | SELF_BIT(y);
      for(i=0; i<g->aNode[y].nPred; i++) aDesc[aP[i]] |= d;
    }
    for(j=lo; rc==SQLITE_OK && j<hi; j++){
      int x = aM.a[j];
      u64 bit = 1ull<<(j-lo);
      const MemberUser *pw;
      if( !is_addrem(&g->aNode[x]) ) continue;
      pw = &pm->aUser[about(&g->aNode[x])];
      for(i=0; rc==SQLITE_OK && i<pw->ops.n && pw->ops.a[i]<x; i++){
        if( (aDesc[pw->ops.a[i]] & bit)==0 ){
          rc = bec_ints_push(&aCVPair, x);
          if( rc==SQLITE_OK ) rc = bec_ints_push(&aCVPair, pw->ops.a[i]);
        }
      }
    }
  }
#undef SELF_BIT

  /* Counting sort of the pairs by op, stable, into the pool. */
  if( rc==SQLITE_OK ){
    int nTmp = (aSPair.n + aTPair.n + aCVPair.n)/2;
    aTmp = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)nTmp+1));
    if( aTmp==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ){
    BecInts *apPair[3];
    int *aStart = aCnt;                       /* per op, 3 lists */
    int iOut = 0, t;
    apPair[0] = &aSPair; apPair[1] = &aTPair; apPair[2] = &aCVPair;
    memset(aCnt, 0, sizeof(int)*((size_t)nUpTo+2)*3);
    for(t=0; t<3; t++){
      for(i=0; i<apPair[t]->n; i+=2) aCnt[apPair[t]->a[i]*3+t]++;
    }
    /* Exclusive prefix sums in (op, list) order: the pool layout. */
    for(y=0; y<=nUpTo; y++){
      for(t=0; t<3; t++){
        int nc = aCnt[y*3+t];
        if( y>=1 ){
          if( t==0 ){
            pm->aOp[y].iFact = pm->fact.n + iOut;
            pm->aOp[y].nS = nc;
          }else if( t==1 ){
            pm->aOp[y].nT = nc;
          }else{
            pm->aOp[y].nCV = nc;
          }
          pm->aOp[y].flags = 0;
        }
        aStart[y*3+t] = iOut;
        iOut += nc;
      }
    }
    for(t=0; t<3; t++){
      for(i=0; i<apPair[t]->n; i+=2){
        aTmp[aStart[apPair[t]->a[i]*3+t]++] = apPair[t]->a[i+1];
      }
    }
    for(i=0; rc==SQLITE_OK && i<iOut; i++) rc = bec_ints_push(&pm->fact, aTmp[i]);
  }
  for(y=1; rc==SQLITE_OK && y<=nUpTo; y++) set_potential(pm, g, y);
  bec_ints_free(&aM);
  bec_ints_free(&aSPair);
  bec_ints_free(&aTPair);
  bec_ints_free(&aCVPair);
  sqlite3_free(aMIdx);
  sqlite3_free(aAnc);
  sqlite3_free(aDesc);
  sqlite3_free(aCnt);
  sqlite3_free(aTmp);
  return rc;
}

/**************************************************************************
** Facts on disk: flags, then S, T and CV, each as a count and ascending
** seqs delta-encoded, all varints.
*/
static void facts_encode_lists(int flags, const int *a, int nS, int nT,
                               int nCV, BecBuf *pBuf, int *pRc){
  int an[3], t, i, k = 0;
  an[0] = nS; an[1] = nT; an[2] = nCV;
  bec_buf_append_varint(pBuf, flags & MOP_POTENTIAL, pRc);
  for(t=0; t<3; t++){
    int prev = 0;
    bec_buf_append_varint(pBuf, (u64)an[t], pRc);
    for(i=0; i<an[t]; i++, k++){
      bec_buf_append_varint(pBuf, (u64)(a[k]-prev), pRc);
      prev = a[k];
    }
  }
}
static void facts_encode(const BecMember *pm, int y, BecBuf *pBuf, int *pRc){
  const MemberOp *o = &pm->aOp[y];
  facts_encode_lists(o->flags, S_OF(pm, y), o->nS, o->nT, o->nCV, pBuf, pRc);
}

/* Decodes op y's facts into the pool; SQLITE_CORRUPT unless well formed
** (ascending seqs below y). */
static int facts_decode(BecMember *pm, int y, const u8 *aBlob, int nBlob){
  BecReader rd;
  MemberOp *o = &pm->aOp[y];
  u64 v;
  int an[3], t, i, rc;
  rd.a = aBlob; rd.n = nBlob; rd.i = 0;
  memset(o, 0, sizeof(*o));
  o->iFact = pm->fact.n;
  if( bec_read_varint(&rd, &v, 1) ) return SQLITE_CORRUPT;
  o->flags = v ? MOP_POTENTIAL : 0;
  for(t=0; t<3; t++){
    int prev = 0;
    if( bec_read_varint(&rd, &v, (u64)y) ) return SQLITE_CORRUPT;
    an[t] = (int)v;
    for(i=0; i<an[t]; i++){
      if( bec_read_varint(&rd, &v, (u64)y) ) return SQLITE_CORRUPT;
      if( (i>0 && v==0) || prev+(i64)v>=y ) return SQLITE_CORRUPT;
      prev += (int)v;
      rc = bec_ints_push(&pm->fact, prev);
      if( rc ) return rc;
    }
  }
  if( rd.i!=rd.n ) return SQLITE_CORRUPT;
  o->nS = an[0]; o->nT = an[1]; o->nCV = an[2];
  return SQLITE_OK;
}

/* Writes op y's facts, encoded in buf (or the error of the encoding). */
static int facts_put(BecCtx *p, int y, const BecBuf *pBuf, int rc){
  sqlite3_stmt *pStmt = 0;
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_member_op(seq, facts)"
                         " VALUES(?1, ?2)", &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, y);
    sqlite3_bind_blob(pStmt, 2, pBuf->a ? (void*)pBuf->a : (void*)"",
                      (int)pBuf->n, SQLITE_STATIC);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  return rc;
}

static int facts_store(BecCtx *p, const BecMember *pm, int y){
  BecBuf buf;
  int rc = SQLITE_OK;
  memset(&buf, 0, sizeof(buf));
  facts_encode(pm, y, &buf, &rc);
  rc = facts_put(p, y, &buf, rc);
  bec_buf_free(&buf);
  return rc;
}

/**************************************************************************
** Seniority (rule 5): rank = shortest path from the creator over potential
** adds; key = (rank, lowest hash among the potential adds from rank-1).
*/
/* Is the key of user a larger (less senior) than that of b? */
static int key_cmp(const BecMember *pm, const BecGraph *g, int a, int b){
  const MemberUser *pa = &pm->aUser[a], *pb = &pm->aUser[b];
  if( pa->rank!=pb->rank ) return pa->rank<pb->rank ? -1 : 1;
  if( pa->iKey==pb->iKey ) return 0;
  return bec_graph_id_cmp(g, pa->iKey, pb->iKey);
}

/* Recomputes the key op of user t from its potential adds. */
static void key_recompute(BecMember *pm, const BecGraph *g, int t){
  MemberUser *pt = &pm->aUser[t];
  int i;
  if( t==g->aNode[1].iAuthor ) return;   /* the creator: the create op */
  pt->iKey = 0;
  for(i=0; i<pt->mAbout.n; i++){
    int x = pt->mAbout.a[i];
    const BecNode *n = &g->aNode[x];
    if( !is_add(n) || !(pm->aOp[x].flags & MOP_POTENTIAL) ) continue;
    if( pm->aUser[n->iAuthor].rank!=pt->rank-1 ) continue;
    if( pt->iKey==0 || bec_graph_id_cmp(g, x, pt->iKey)<0 ){
      pt->iKey = x;
    }
  }
}

/* Relaxes the potential add x; users whose key changed join pChanged
** (maybe twice), users whose rank fell are queued on pQueue. */
static int rank_relax(BecMember *pm, const BecGraph *g, int x, BecInts *pQueue,
                      BecInts *pChanged){
  const BecNode *n = &g->aNode[x];
  MemberUser *pt = &pm->aUser[n->iTarget];
  int r = pm->aUser[n->iAuthor].rank;   /* the root's is 0: the most senior */
  int rc = SQLITE_OK;
  if( r==0 && !is_root_mop(n) ) return SQLITE_OK;  /* cannot happen */
  if( pt->rank==0 || r+1<pt->rank ){
    pt->rank = r+1;
    key_recompute(pm, g, n->iTarget);
    rc = bec_ints_push(pQueue, n->iTarget);
    if( rc==SQLITE_OK ) rc = bec_ints_push(pChanged, n->iTarget);
  }else if( r+1==pt->rank && pt->iKey!=x
         && bec_graph_id_cmp(g, x, pt->iKey)<0 ){
    pt->iKey = x;
    rc = bec_ints_push(pChanged, n->iTarget);
  }
  return rc;
}

/* Propagates rank decreases from the queued users (Bellman-Ford with a
** queue; ranks only ever fall, so this converges). */
static int rank_propagate(BecMember *pm, const BecGraph *g, BecInts *pQueue,
                          BecInts *pChanged){
  int rc = SQLITE_OK, iq;
  for(iq=0; rc==SQLITE_OK && iq<pQueue->n; iq++){
    const MemberUser *pu = &pm->aUser[pQueue->a[iq]];
    int i;
    for(i=0; rc==SQLITE_OK && i<pu->mAuth.n; i++){
      int y = pu->mAuth.a[i];
      if( is_add(&g->aNode[y]) && (pm->aOp[y].flags & MOP_POTENTIAL) ){
        rc = rank_relax(pm, g, y, pQueue, pChanged);
      }
    }
  }
  return rc;
}

/* Ranks and keys of every user, from scratch (ops 1..nUpTo). */
static int rank_full(BecMember *pm, const BecGraph *g, int nUpTo){
  BecInts queue, changed;
  int rc, i;
  memset(&queue, 0, sizeof(queue));
  memset(&changed, 0, sizeof(changed));
  for(i=0; i<pm->nUser; i++){
    pm->aUser[i].rank = 0;
    pm->aUser[i].iKey = 0;
  }
  if( nUpTo<1 ) return SQLITE_OK;
  pm->aUser[g->aNode[1].iAuthor].rank = 1;
  pm->aUser[g->aNode[1].iAuthor].iKey = 1;
  rc = bec_ints_push(&queue, g->aNode[1].iAuthor);
  /* A member the root adds has rank 1 (the root's rank is 0). */
  for(i=1; rc==SQLITE_OK && i<=nUpTo; i++){
    if( is_root_mop(&g->aNode[i]) && is_add(&g->aNode[i]) ){
      rc = rank_relax(pm, g, i, &queue, &changed);
    }
  }
  if( rc==SQLITE_OK ) rc = rank_propagate(pm, g, &queue, &changed);
  bec_ints_free(&queue);
  bec_ints_free(&changed);
  return rc;
}

/**************************************************************************
** Validity (rules 3, 4, 6, 7, 8).
*/
/* 1 if op a is in the causal past of op b (any two ops): marks b's past
** downwards from b to a, in the scan marks (pm is scratch here: no scan's
** marks are in use while validity is evaluated). */
static int reaches(const BecMember *pm, const BecGraph *g, int a, int b){
  BecMember *pw = (BecMember*)pm;
  int z, i;
  if( a>=b ) return 0;
  new_stamp(&pw->iStamp, pw->aMark, pw->nSlot);
  mark_set(pw, b, MARK_PAST);
  for(z=b; z>a; z--){
    if( mark_get(pw, z)!=MARK_PAST ) continue;
    for(i=0; i<g->aNode[z].nPred; i++){
      mark_set(pw, BEC_NODE_PREDS(g, z)[i], MARK_PAST);
    }
  }
  return mark_get(pw, a)==MARK_PAST;
}

/* The root's facts (BecCtx.xRootFacts): the first row (x, type, ...), or
** 0. */
static const int *rf_row(const BecMember *pm, int x, int type){
  int lo = 0, hi = pm->rf.n/4;
  while( lo<hi ){
    int mid = (lo+hi)/2;
    const int *r = &pm->rf.a[mid*4];
    if( r[0]<x || (r[0]==x && r[1]<type) ) lo = mid+1; else hi = mid;
  }
  if( lo<pm->rf.n/4 && pm->rf.a[lo*4]==x && pm->rf.a[lo*4+1]==type ){
    return &pm->rf.a[lo*4];
  }
  return 0;
}
/* Root op y's lineage (the seq of its epoch-1 open, 0 if not known yet)
** and request (*piReq; -y if not known, so that it is unlike any other). */
static int root_line(const BecMember *pm, int y, int *piReq){
  const int *r = rf_row(pm, y, 1);
  if( piReq ) *piReq = r ? r[3] : -y;
  return r ? r[2] : 0;
}
/* 1 if the creator's session x has exactly one complete transcript. */
static int open_live(const BecMember *pm, int x){
  const int *r = rf_row(pm, x, 2);
  return r && r[2];
}
/* 1 if the creator's open w abandons some session. */
static int open_abandons(const BecMember *pm, int w){
  int i;
  for(i=0; i<pm->rf.n; i+=4){
    if( pm->rf.a[i+1]==3 && pm->rf.a[i+2]==w ) return 1;
  }
  return 0;
}
/* 1 if the creator's open x stands: valid, and abandoned by no valid open
** (an open the rules cancel abandons nothing). */
static int open_stands(const BecMember *pm, int x){
  const int *r = rf_row(pm, x, 3);
  if( !pm->aValid[x] ) return 0;
  for(; r && r<&pm->rf.a[pm->rf.n] && r[0]==x && r[1]==3; r+=4){
    if( pm->aValid[r[2]] ) return 0;
  }
  return 1;
}
/* Rule 6 for the root: an authority edge from the creator's open x to root
** op z if z's validity reads x's (root_acts): x is z's lineage, or a
** complete session that could be its rival, or an open that abandons. */
static int open_edge(const BecMember *pm, int x, int z){
  return root_line(pm, z, 0)==x || open_live(pm, x) || open_abandons(pm, x);
}

/* Whether root op y acts (THRESHOLD.md 5, docs/root.md "which root ops
** act").  A function of the set of stored ops, like every op's validity:
**  - the epoch rule: a hand-over (a root op without target) ends its
**    author's epoch, so a root op by that author counts only if it is in
**    the past of each of its author's hand-overs (two aggregations of one
**    'holders' request are one hand-over: they do not end each other);
**  - forks: an author with hand-overs of two different requests forked
**    the root, which disables it: every root op counts only if it is in
**    the past of each of those hand-overs (they themselves never count);
**  - the lineage rule: y's lineage (its epoch-1 open, found from y's
**    causal past by bec_root.c) must stand (valid under these rules, not
**    abandoned by a valid open) and have one complete transcript, and no
**    other creator's session may be complete with an open that stands
**    (two concurrent creator roots disable each other). */
static int root_acts(const BecMember *pm, const BecGraph *g, int y){
  int u = g->aNode[y].iAuthor, iReqY = 0, iLine, i, j;
  iLine = root_line(pm, y, &iReqY);
  if( iLine==0 ) return 0;    /* bec_root.c has not stored it yet */
  for(i=0; i<pm->hand.n; i++){
    int h = pm->hand.a[i], w = g->aNode[h].iAuthor, iReqH = 0, bFork = 0;
    if( rf_row(pm, h, 4) ) continue;  /* a root attestation ends no epoch */
    root_line(pm, h, &iReqH);
    for(j=0; j<pm->hand.n; j++){
      int h2 = pm->hand.a[j], iReq2 = 0;
      if( g->aNode[h2].iAuthor!=w || rf_row(pm, h2, 4) ) continue;
      root_line(pm, h2, &iReq2);
      if( iReq2!=iReqH ) bFork = 1;
    }
    if( w!=u && !bFork ) continue;
    if( h==y ){
      if( bFork ) return 0;
      continue;
    }
    if( !bFork && iReqH==iReqY ) continue;   /* y is the same hand-over */
    if( !reaches(pm, g, y, h) ) return 0;
  }
  if( !open_stands(pm, iLine) || !open_live(pm, iLine) ) return 0;
  for(i=0; i<pm->opens.n; i++){
    int x = pm->opens.a[i];
    if( x!=iLine && open_live(pm, x) && open_stands(pm, x) ) return 0;
  }
  return 1;
}

/*
** Rule 4 for op y by user u.  With y==0: a hypothetical op by u that has
** every stored op in its past and needs level need (what the local
** API may sign).  Relations are tested before validity so that only the
** validity of authority-edge sources is ever read.
*/
/* The final validity of op y (sealed checkpoints: docs/compaction.md): 0
** if it has none, else 1 + valid.  Final validity is never recomputed. */
static int final_of(const BecMember *pm, int y){
  return pm->aFinal && y>0 && y<pm->nFinal ? pm->aFinal[y] : 0;
}

/* May op y's facts be absent from bec_store_member_op?  A write or app op
** of final validity: rule4 answers from its final validity before it reads
** S(y), and nothing else reads the facts of a data op (no authority edge
** leaves it).  Pruning drops them (bec_member_drop_facts), a rebuild does
** not write them, and the loader and bec_check accept either. */
static int facts_droppable(const BecMember *pm, const BecGraph *g, int y){
  int kind = g->aNode[y].kind;
  if( BEC_NODE_STANDIN(g, y) ) return 1;     /* a cut's stand-in: none */
  return (kind==BEC_KIND_WRITE || kind==BEC_KIND_APP) && final_of(pm, y)!=0;
}

static int rule4(const BecMember *pm, const BecGraph *g, int y, int u,
                 int need){
  const MemberUser *pu = &pm->aUser[u];
  int i, j;
  if( y && final_of(pm, y) ) return final_of(pm, y)==2;
  if( y ){
    const BecNode *n = &g->aNode[y];
    if( n->kind==BEC_KIND_CREATE ) return 1;
    if( n->kind==BEC_KIND_ROOT ){
      return root_acts(pm, g, y);   /* needs no grant (THRESHOLD.md 5);
                                    ** bec_root.c admitted it */
    }
    if( pm->aOp[y].flags & MOP_DROPPED ) return 0;
    need = need_of(n);
  }
  for(i=0; i<pu->mAbout.n; i++){
    int gr = pu->mAbout.a[i];
    const BecNode *ng = &g->aNode[gr];
    if( y && gr>=y ) break;
    if( !is_grant(ng) || level_of(ng)<need ) continue;
    if( y && !before(pm, g, u, gr, y) ) continue;
    if( !pm->aValid[gr] ) continue;
    for(j=0; j<pu->mAbout.n; j++){
      int r = pu->mAbout.a[j];
      const BecNode *nr = &g->aNode[r];
      if( r==y ) continue;
      if( !is_remove(nr) && !lowers(nr, need) ) continue;
      if( before(pm, g, u, r, gr) ) continue;
      if( y && before(pm, g, u, y, r) ) continue;
      if( pm->aValid[r] ) break;               /* g is cancelled for y */
    }
    if( j==pu->mAbout.n ) return 1;
  }
  return 0;
}

/* Rule 6: is there an authority edge x -> z?  x is in M(author of z). */
static int is_edge(const BecMember *pm, const BecGraph *g, int x, int z){
  const BecNode *nx = &g->aNode[x], *nz = &g->aNode[z];
  int u = nz->iAuthor;
  if( x==z ) return 0;
  if( is_grant(nx) && before(pm, g, u, x, z) ) return 1;
  if( is_remove(nx) && !before(pm, g, u, z, x) ) return 1;
  if( lowers(nx, need_of(nz)) && !before(pm, g, u, z, x) ) return 1;
  return 0;
}

/* The authority subgraph induced on a region of add/remove ops. */
typedef struct Region Region;
struct Region {
  int n;
  int *aSeq;       /* local index -> seq (the caller's array) */
  int *aStart;     /* out-edges of k: aEdge[aStart[k] .. aStart[k+1]-1] */
  BecInts edge;
  int *aComp;      /* component a node belongs to in the current round */
  u8 *aDrop;
  int *aIdx, *aLow, *aStk, *aCallV, *aCallE;
  u8 *aOnStk;
};

static int in_region(const BecMember *pm, int seq){
  return pm->aLocStamp[seq]==pm->iLocStamp;
}

/*
** Tarjan's algorithm, iterative, over the nodes aRoot[0..nRoot-1] (which
** all have aComp==iComp), following edges to non-dropped nodes of the same
** component.  The nodes of every SCC with more than one node are appended
** to pOut, and the SCC's size to pLen.
*/
static int tarjan(Region *r, const int *aRoot, int nRoot, int iComp,
                  BecInts *pOut, BecInts *pLen){
  int rc = SQLITE_OK, nStk = 0, iCounter = 0, i;
  for(i=0; i<nRoot; i++) r->aIdx[aRoot[i]] = -1;
  for(i=0; rc==SQLITE_OK && i<nRoot; i++){
    int nCall = 0, s = aRoot[i];
    if( r->aIdx[s]>=0 ) continue;
    r->aIdx[s] = r->aLow[s] = iCounter++;
    r->aStk[nStk++] = s;
    r->aOnStk[s] = 1;
    r->aCallV[nCall] = s;
    r->aCallE[nCall++] = r->aStart[s];
    while( nCall>0 && rc==SQLITE_OK ){
      int v = r->aCallV[nCall-1];
      int e = r->aCallE[nCall-1];
      if( e<r->aStart[v+1] ){
        int w = r->edge.a[e];
        r->aCallE[nCall-1]++;
        if( r->aComp[w]!=iComp || r->aDrop[w] ) continue;
        if( r->aIdx[w]<0 ){
          r->aIdx[w] = r->aLow[w] = iCounter++;
          r->aStk[nStk++] = w;
          r->aOnStk[w] = 1;
          r->aCallV[nCall] = w;
          r->aCallE[nCall++] = r->aStart[w];
        }else if( r->aOnStk[w] && r->aIdx[w]<r->aLow[v] ){
          r->aLow[v] = r->aIdx[w];
        }
      }else{
        nCall--;
        if( nCall>0 ){
          int u = r->aCallV[nCall-1];
          if( r->aLow[v]<r->aLow[u] ) r->aLow[u] = r->aLow[v];
        }
        if( r->aLow[v]==r->aIdx[v] ){
          int nComp = 0, w, i0 = pOut->n;
          do{
            w = r->aStk[--nStk];
            r->aOnStk[w] = 0;
            nComp++;
            if( rc==SQLITE_OK ) rc = bec_ints_push(pOut, w);
          }while( w!=v );
          if( nComp>1 ){
            if( rc==SQLITE_OK ) rc = bec_ints_push(pLen, nComp);
          }else{
            pOut->n = i0;
          }
        }
      }
    }
  }
  return rc;
}

/* Rule 7's choice in a component: the op whose author has the largest key,
** then the largest hash.  Returns a local index. */
static int victim(const BecMember *pm, const BecGraph *g, const Region *r,
                  const int *aNode, int n){
  int best = aNode[0], i;
  for(i=1; i<n; i++){
    const BecNode *a = &g->aNode[r->aSeq[aNode[i]]];
    const BecNode *b = &g->aNode[r->aSeq[best]];
    int c = key_cmp(pm, g, a->iAuthor, b->iAuthor);
    /* An op of a sealed cut is dropped only if the whole cycle is. */
    int fa = final_of(pm, r->aSeq[aNode[i]])!=0;
    int fb = final_of(pm, r->aSeq[best])!=0;
    if( fa!=fb ){
      if( fb ) best = aNode[i];
      continue;
    }
    if( c>0 || (c==0 && bec_graph_id_cmp(g, r->aSeq[aNode[i]],
                                         r->aSeq[best])>0) ){
      best = aNode[i];
    }
  }
  return best;
}

/* Rule 7 on the region: finds the SCCs, drops victims round after round
** until no cycle is left; flags MOP_CYCLE and MOP_DROPPED. */
static int settle_cycles(BecMember *pm, const BecGraph *g, Region *r){
  BecInts work, len, out, outLen, roots;
  int rc = SQLITE_OK, iComp = 0, i;
  memset(&work, 0, sizeof(work));
  memset(&len, 0, sizeof(len));
  memset(&out, 0, sizeof(out));
  memset(&outLen, 0, sizeof(outLen));
  memset(&roots, 0, sizeof(roots));
  for(i=0; rc==SQLITE_OK && i<r->n; i++) rc = bec_ints_push(&roots, i);
  if( rc==SQLITE_OK ) rc = tarjan(r, roots.a, roots.n, 0, &work, &len);
  for(i=0; i<work.n; i++){
    pm->aOp[r->aSeq[work.a[i]]].flags |= MOP_CYCLE;
  }
  /* work holds components back to back, len their sizes; take from the
  ** end, drop the victim, and push the cycles left in the rest. */
  while( rc==SQLITE_OK && len.n>0 ){
    int n = len.a[--len.n];
    int iOff = work.n - n, v, k;
    iComp++;
    v = victim(pm, g, r, &work.a[iOff], n);
    r->aDrop[v] = 1;
    roots.n = 0;
    for(k=iOff; rc==SQLITE_OK && k<work.n; k++){
      if( work.a[k]!=v ){
        r->aComp[work.a[k]] = iComp;
        rc = bec_ints_push(&roots, work.a[k]);
      }
    }
    work.n = iOff;
    out.n = 0;
    outLen.n = 0;
    if( rc==SQLITE_OK ) rc = tarjan(r, roots.a, roots.n, iComp, &out, &outLen);
    for(k=0; rc==SQLITE_OK && k<out.n; k++) rc = bec_ints_push(&work, out.a[k]);
    for(k=0; rc==SQLITE_OK && k<outLen.n; k++) rc = bec_ints_push(&len, outLen.a[k]);
  }
  bec_ints_free(&work);
  bec_ints_free(&len);
  bec_ints_free(&out);
  bec_ints_free(&outLen);
  bec_ints_free(&roots);
  return rc;
}

/*
** Re-derives the validity of the add/remove ops aSeq[0..n-1], which must be
** closed under authority edges (everything downstream of a change).  Ops
** whose validity changed are appended to pChanged; pm->aValid is updated.
*/
static int eval_region(BecMember *pm, const BecGraph *g, int *aSeq, int n,
                       BecInts *pChanged){
  Region r;
  int *aInDeg = 0, *aQueue = 0;
  int rc = SQLITE_OK, k, i, nQueue = 0, nDone = 0, nAlive = 0;

  memset(&r, 0, sizeof(r));
  if( n==0 ) return SQLITE_OK;
  r.n = n;
  r.aSeq = aSeq;
  new_stamp(&pm->iLocStamp, pm->aLocStamp, pm->nSlot);
  for(k=0; k<n; k++){
    pm->aLocStamp[aSeq[k]] = pm->iLocStamp;
    pm->aLoc[aSeq[k]] = k;
  }
  r.aStart = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)n+1)*8);
  r.aDrop = sqlite3_malloc64((sqlite3_uint64)n*2);
  if( r.aStart==0 || r.aDrop==0 ){
    rc = SQLITE_NOMEM;
  }else{
    memset(r.aStart, 0, sizeof(int)*((size_t)n+1)*8);
    memset(r.aDrop, 0, (size_t)n*2);
    r.aComp = &r.aStart[n+1];
    r.aIdx = &r.aComp[n+1];
    r.aLow = &r.aIdx[n+1];
    r.aStk = &r.aLow[n+1];
    r.aCallV = &r.aStk[n+1];
    r.aCallE = &r.aCallV[n+1];
    aInDeg = &r.aCallE[n+1];
    r.aOnStk = &r.aDrop[n];
  }
  /* Out-edges x -> z go to ops authored by the user x is about; a
  ** creator's open's go to root ops. */
  for(k=0; rc==SQLITE_OK && k<n; k++){
    int x = aSeq[k];
    const MemberUser *pv = &pm->aUser[about(&g->aNode[x])];
    r.aStart[k] = r.edge.n;
    for(i=0; rc==SQLITE_OK && is_open(&g->aNode[x]) && i<pm->roots.n; i++){
      int z = pm->roots.a[i];
      if( in_region(pm, z) && open_edge(pm, x, z) ){
        rc = bec_ints_push(&r.edge, pm->aLoc[z]);
      }
    }
    for(i=0; rc==SQLITE_OK && !is_open(&g->aNode[x]) && i<pv->mAuth.n; i++){
      int z = pv->mAuth.a[i];
      if( in_region(pm, z) && is_edge(pm, g, x, z) ){
        rc = bec_ints_push(&r.edge, pm->aLoc[z]);
      }
    }
    pm->aOp[x].flags &= ~(MOP_DROPPED|MOP_CYCLE);
  }
  if( rc==SQLITE_OK ){
    r.aStart[n] = r.edge.n;
    rc = settle_cycles(pm, g, &r);
  }
  /* Rule 8: rule 4 in a topological order of what is left (Kahn). */
  if( rc==SQLITE_OK ){
    aQueue = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)n);
    if( aQueue==0 ) rc = SQLITE_NOMEM;
  }
  for(k=0; rc==SQLITE_OK && k<n; k++){
    if( r.aDrop[k] ){
      pm->aOp[aSeq[k]].flags |= MOP_DROPPED;
      continue;
    }
    nAlive++;
    for(i=r.aStart[k]; i<r.aStart[k+1]; i++){
      if( !r.aDrop[r.edge.a[i]] ) aInDeg[r.edge.a[i]]++;
    }
  }
  for(k=0; rc==SQLITE_OK && k<n; k++){
    int y = aSeq[k];
    if( r.aDrop[k] ){
      u8 v = final_of(pm, y)==2;
      if( pm->aValid[y]!=v ){
        pm->aValid[y] = v;
        rc = bec_ints_push(pChanged, y);
      }
    }else if( aInDeg[k]==0 ){
      aQueue[nQueue++] = k;
    }
  }
  while( rc==SQLITE_OK && nDone<nQueue ){
    int kk = aQueue[nDone++];
    int y = aSeq[kk];
    u8 v = (u8)rule4(pm, g, y, g->aNode[y].iAuthor, 0);
    if( v!=pm->aValid[y] ){
      pm->aValid[y] = v;
      rc = bec_ints_push(pChanged, y);
    }
    for(i=r.aStart[kk]; i<r.aStart[kk+1]; i++){
      int w = r.edge.a[i];
      if( !r.aDrop[w] && --aInDeg[w]==0 ) aQueue[nQueue++] = w;
    }
  }
  if( rc==SQLITE_OK && nDone!=nAlive ) rc = SQLITE_INTERNAL;
  bec_ints_free(&r.edge);
  sqlite3_free(r.aStart);
  sqlite3_free(r.aDrop);
  sqlite3_free(aQueue);
  return rc;
}

/* Appends to pR the add/remove ops downstream of pR's ops (in place). */
static int region_close(BecMember *pm, const BecGraph *g, BecInts *pR){
  int rc = SQLITE_OK, k, i;
  new_stamp(&pm->iLocStamp, pm->aLocStamp, pm->nSlot);
  for(k=0; k<pR->n; k++) pm->aLocStamp[pR->a[k]] = pm->iLocStamp;
  for(k=0; rc==SQLITE_OK && k<pR->n; k++){
    int x = pR->a[k];
    const MemberUser *pv = &pm->aUser[about(&g->aNode[x])];
    for(i=0; rc==SQLITE_OK && is_open(&g->aNode[x]) && i<pm->roots.n; i++){
      int z = pm->roots.a[i];
      if( !in_region(pm, z) && open_edge(pm, x, z) ){
        pm->aLocStamp[z] = pm->iLocStamp;
        rc = bec_ints_push(pR, z);
      }
    }
    for(i=0; rc==SQLITE_OK && !is_open(&g->aNode[x]) && i<pv->mAuth.n; i++){
      int z = pv->mAuth.a[i];
      if( !in_region(pm, z) && is_edge(pm, g, x, z) ){
        pm->aLocStamp[z] = pm->iLocStamp;
        rc = bec_ints_push(pR, z);
      }
    }
  }
  return rc;
}

/* Every add/remove op and creator's open among 1..nUpTo, ascending. */
static int all_addrem(const BecGraph *g, int nUpTo, BecInts *pOut){
  int rc = SQLITE_OK, y;
  for(y=1; rc==SQLITE_OK && y<=nUpTo; y++){
    if( is_addrem(&g->aNode[y]) || is_open(&g->aNode[y]) ){
      rc = bec_ints_push(pOut, y);
    }
  }
  return rc;
}

/* Re-derives every data op of user u (or only those in aOnly[0..nOnly-1]
** if aOnly); changed ones join pChanged. */
static int eval_data(BecMember *pm, const BecGraph *g, int u,
                     const int *aOnly, int nOnly, BecInts *pChanged){
  const MemberUser *pu = &pm->aUser[u];
  const int *a = aOnly ? aOnly : pu->ops.a;
  int n = aOnly ? nOnly : pu->ops.n;
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    int y = a[i];
    if( is_data(&g->aNode[y]) && !is_open(&g->aNode[y]) ){
      u8 v = (u8)rule4(pm, g, y, u, 0);
      if( v!=pm->aValid[y] ){
        pm->aValid[y] = v;
        rc = bec_ints_push(pChanged, y);
      }
    }
  }
  return rc;
}

/**************************************************************************
** Current members (rule 9).
*/
typedef struct MemberRow MemberRow;
struct MemberRow {
  int role;        /* BEC_ROLE_*, 0 if not a member */
  int rank;
  int iAddedBy;    /* author id */
  int iAddedIn;    /* seq of the grant */
  int cover;       /* LEVEL_* (stored as a role): the highest level at
                   ** which rule 4 makes an op covering every stored op
                   ** valid, 0 if none */
};

/* A member iff some valid grant is not overridden by a valid remove that
** is not before it; the role is the lowest level among the causally
** maximal such grants (admin only if all give admin); added_in is the maximal live grant with the lowest hash. */
static void member_row(const BecMember *pm, const BecGraph *g, int u,
                       MemberRow *pRow){
  const MemberUser *pu = &pm->aUser[u];
  int i, j, nLive = 0, level = LEVEL_ADMIN;
  memset(pRow, 0, sizeof(*pRow));
  for(i=0; i<pu->mAbout.n; i++){
    int gr = pu->mAbout.a[i];
    if( !is_grant(&g->aNode[gr]) || !pm->aValid[gr] ) continue;
    for(j=0; j<pu->mAbout.n; j++){
      int r = pu->mAbout.a[j];
      if( is_remove(&g->aNode[r]) && pm->aValid[r]
       && !before(pm, g, u, r, gr) ) break;
    }
    if( j<pu->mAbout.n ) continue;
    nLive++;
    /* Maximal: no other live grant after it. */
    for(j=0; j<pu->mAbout.n; j++){
      int h = pu->mAbout.a[j], k;
      if( h<=gr || !is_grant(&g->aNode[h]) || !pm->aValid[h] ) continue;
      if( !before(pm, g, u, gr, h) ) continue;
      for(k=0; k<pu->mAbout.n; k++){
        int r = pu->mAbout.a[k];
        if( is_remove(&g->aNode[r]) && pm->aValid[r]
         && !before(pm, g, u, r, h) ) break;
      }
      if( k==pu->mAbout.n ) break;              /* h is live and after gr */
    }
    if( j<pu->mAbout.n ) continue;
    if( level_of(&g->aNode[gr])<level ) level = level_of(&g->aNode[gr]);
    if( pRow->iAddedIn==0 || bec_graph_id_cmp(g, gr, pRow->iAddedIn)<0 ){
      pRow->iAddedIn = gr;
    }
  }
  if( nLive>0 ){
    pRow->role = level_role(level);
    pRow->rank = pu->rank;
    pRow->iAddedBy = g->aNode[pRow->iAddedIn].iAuthor;
    /* Rule 4 grows weaker with the level (fewer adds lower a grant), so
    ** the highest valid level answers every lower one; none valid without
    ** a live grant, so a row without a role needs no cover. */
    for(level=LEVEL_ADMIN; level>=LEVEL_RELAY && !pRow->cover; level--){
      if( rule4(pm, g, 0, u, level) ) pRow->cover = level;
    }
  }
}

/* The facts of a data op by u that names every head: S = M(u), all of it
** (ascending: index_add appends in seq order), no T or CV. */
static void cover_facts(const BecMember *pm, int u, BecBuf *pBuf, int *pRc){
  const MemberUser *pu = &pm->aUser[u];
  facts_encode_lists(0, pu->mAbout.a, pu->mAbout.n, 0, 0, pBuf, pRc);
}

static int member_write(BecCtx *p, const BecMember *pm, const BecGraph *g,
                        int u){
  sqlite3_stmt *pStmt = 0;
  MemberRow row;
  BecBuf facts;
  int rc;
  memset(&facts, 0, sizeof(facts));
  member_row(pm, g, u, &row);
  if( row.role ){
    /* added_in: the id read from storage (the graph holds a prefix) */
    rc = bec_ctx_stmt(p, "INSERT OR REPLACE INTO bec_store_member(pubkey, author,"
                         " role, rank, added_by, added_in, cover, cover_facts)"
                         " VALUES(?1,?2,?3,?4,?5,(SELECT hash FROM bec_store_op"
                         " WHERE seq=?6),?7,?8)", &pStmt);
    if( rc ) return rc;
    cover_facts(pm, u, &facts, &rc);
    if( rc ){
      bec_buf_free(&facts);
      return rc;
    }
    sqlite3_bind_int(pStmt, 2, u);
    sqlite3_bind_int(pStmt, 3, row.role);
    sqlite3_bind_int(pStmt, 4, row.rank);
    sqlite3_bind_blob(pStmt, 5, g->aAuthorKey[row.iAddedBy], BEC_PUBKEY_BYTES,
                      SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 6, row.iAddedIn);
    sqlite3_bind_int(pStmt, 7, row.cover ? level_role(row.cover) : 0);
    sqlite3_bind_blob(pStmt, 8, facts.a ? (void*)facts.a : (void*)"",
                      (int)facts.n, SQLITE_STATIC);
  }else{
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_member WHERE pubkey=?1", &pStmt);
    if( rc ) return rc;
  }
  sqlite3_bind_blob(pStmt, 1, g->aAuthorKey[u], BEC_PUBKEY_BYTES, SQLITE_STATIC);
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  bec_buf_free(&facts);
  return rc;
}

/**************************************************************************
** Writing derived validity.
*/
/* Records pm->aValid of the ops in aSeq (in bec_store_op and the graph,
** through bec_dag.c, their owner). */
static int valid_write(BecCtx *p, const BecMember *pm, BecGraph *g,
                       const int *aSeq, int n){
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    rc = bec_dag_set_valid(p, g, aSeq[i], pm->aValid[aSeq[i]]);
  }
  return rc;
}

/* Sorts and dedups an BecInts in place. */
static int cmp_int(const void *a, const void *b){
  int x = *(const int*)a, y = *(const int*)b;
  return x<y ? -1 : x>y;
}
static void vec_sort_unique(BecInts *v){
  int i, n = 0;
  if( v->n<2 ) return;
  qsort(v->a, (size_t)v->n, sizeof(int), cmp_int);
  for(i=0; i<v->n; i++){
    if( n==0 || v->a[n-1]!=v->a[i] ) v->a[n++] = v->a[i];
  }
  v->n = n;
}

/**************************************************************************
** Full derivation (rebuild, check) and incremental derivation (on_store).
*/
/* Reads the root's facts into pm->rf (THRESHOLD.md 5): only once a root op
** exists, since only root ops' validity reads them. */
static int rf_load(BecCtx *p, BecMember *pm){
  int *a = 0, n = 0, rc;
  pm->rf.n = 0;
  if( p->xRootFacts==0 || pm->roots.n==0 ) return SQLITE_OK;
  rc = p->xRootFacts(p, &a, &n);
  if( rc==SQLITE_OK ){
    bec_ints_free(&pm->rf);
    pm->rf.a = a;
    pm->rf.n = pm->rf.nAlloc = 4*n;
  }
  return rc;
}

/* Indexes ops 1..nUpTo, computes their facts from scratch (facts_batch)
** and derives everything: validity of every op, ranks.  *ppm is a new
** state owned by the caller. */
static int derive_all(BecCtx *p, BecGraph *g, int nUpTo, const u8 *aFinal,
                      int nFinal, BecMember **ppm){
  BecMember *pm = 0;
  BecInts all, changed;
  int rc, y, u;
  memset(&all, 0, sizeof(all));
  memset(&changed, 0, sizeof(changed));
  *ppm = 0;
  rc = state_new(g, &pm);
  if( rc==SQLITE_OK ){
    pm->aFinal = aFinal;
    pm->nFinal = nFinal;
  }
  for(y=1; rc==SQLITE_OK && y<=nUpTo; y++) rc = index_add(pm, g, y);
  if( rc==SQLITE_OK ) rc = facts_batch(pm, g, nUpTo);
  if( rc==SQLITE_OK ) rc = rf_load(p, pm);
  if( rc==SQLITE_OK ) rc = rank_full(pm, g, nUpTo);
  if( rc==SQLITE_OK && nUpTo>=1 ) pm->aValid[1] = 1;
  for(y=1; rc==SQLITE_OK && y<=nUpTo; y++){
    if( BEC_NODE_STANDIN(g, y) ) pm->aValid[y] = g->aNode[y].bValid;
  }
  if( rc==SQLITE_OK ) rc = all_addrem(g, nUpTo, &all);
  if( rc==SQLITE_OK ) rc = eval_region(pm, g, all.a, all.n, &changed);
  for(u=1; rc==SQLITE_OK && u<pm->nUser; u++){
    rc = eval_data(pm, g, u, 0, 0, &changed);
  }
  bec_ints_free(&all);
  bec_ints_free(&changed);
  if( rc==SQLITE_OK ){
    pm->nDone = nUpTo;
    *ppm = pm;
  }else{
    member_free(pm);
  }
  return rc;
}

/* Loads the persisted facts of ops 1..nUpTo into a fresh state.  Sets
** *pbMissing (and returns SQLITE_OK) if some are missing or unreadable. */
static int state_load_facts(BecCtx *p, BecGraph *g, int nUpTo,
                            BecMember **ppm, int *pbMissing){
  sqlite3_stmt *pStmt = 0;
  BecMember *pm = 0;
  BecInts all, changed;
  int rc, y = 0;
  memset(&all, 0, sizeof(all));
  memset(&changed, 0, sizeof(changed));
  *ppm = 0;
  *pbMissing = 0;
  rc = state_new(g, &pm);
  /* (final validity first: it says which facts may be absent) */
  if( rc==SQLITE_OK && p->xFinal ) rc = p->xFinal(p, &pm->aFinal, &pm->nFinal);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT seq, facts FROM bec_store_member_op"
                         " WHERE seq<=?1 ORDER BY seq", &pStmt);
  }
  if( rc==SQLITE_OK ){
    int bRow = 1;
    sqlite3_bind_int(pStmt, 1, nUpTo);
    while( rc==SQLITE_OK && !*pbMissing && y<nUpTo ){
      int iRow;
      if( bRow ) bRow = sqlite3_step(pStmt)==SQLITE_ROW;
      iRow = bRow ? sqlite3_column_int(pStmt, 0) : nUpTo+1;
      y++;
      while( y<iRow && y<=nUpTo && facts_droppable(pm, g, y) ){
        /* dropped facts: empty lists, never read */
        memset(&pm->aOp[y], 0, sizeof(pm->aOp[y]));
        pm->aOp[y].iFact = pm->fact.n;
        rc = index_add(pm, g, y);
        if( rc ) break;
        y++;
      }
      if( rc ) break;
      if( y>nUpTo ){                   /* (no row left: the last dropped) */
        y = nUpTo;
        break;
      }
      if( !bRow || iRow!=y ){
        *pbMissing = 1;
        break;
      }
      rc = facts_decode(pm, y, sqlite3_column_blob(pStmt, 1),
                        sqlite3_column_bytes(pStmt, 1));
      if( rc==SQLITE_CORRUPT ){
        rc = SQLITE_OK;
        *pbMissing = 1;
      }
      if( rc==SQLITE_OK ) rc = index_add(pm, g, y);
    }
    bec_stmt_reset(pStmt, &rc);
    if( rc==SQLITE_OK && y!=nUpTo && !*pbMissing ) *pbMissing = 1;
  }
  if( rc==SQLITE_OK && !*pbMissing ){
    /* Stored validity of data ops is derived state kept in the same
    ** transactions as the ops; add/remove ops are re-derived here because
    ** drops and cycles are needed in memory anyway, with the final
    ** validity of sealed cuts, as they were stored (else an op a seal
    ** keeps valid comes back invalid here). */
    for(y=1; y<=nUpTo; y++) pm->aValid[y] = g->aNode[y].bValid;
    rc = rf_load(p, pm);
    if( rc==SQLITE_OK ) rc = rank_full(pm, g, nUpTo);
    if( rc==SQLITE_OK ) rc = all_addrem(g, nUpTo, &all);
    if( rc==SQLITE_OK ) rc = eval_region(pm, g, all.a, all.n, &changed);
    if( rc==SQLITE_OK ) pm->nDone = nUpTo;
  }
  bec_ints_free(&all);
  bec_ints_free(&changed);
  if( rc==SQLITE_OK && !*pbMissing ){
    *ppm = pm;
  }else{
    member_free(pm);
  }
  return rc;
}

/*
** Replaces all derived state of ops 1..nUpTo with a derivation from
** scratch: facts, valid column (and graph), member rows, and tells the
** table layer which ops changed validity.  *pnChanged (may be 0) receives
** their number.  The new state becomes p->pMember.
*/
static int rebuild(BecCtx *p, BecGraph *g, int nUpTo, int *pnChanged,
                   char **pzErr){
  sqlite3_stmt *pStmt = 0;
  BecMember *pm = 0;
  BecInts changed;
  int rc, y, u;
  memset(&changed, 0, sizeof(changed));
  const u8 *aFinal = 0;
  int nFinal = 0;
  member_free(p->pMember);
  p->pMember = 0;
  rc = p->xFinal ? p->xFinal(p, &aFinal, &nFinal) : SQLITE_OK;
  if( rc==SQLITE_OK ) rc = derive_all(p, g, nUpTo, aFinal, nFinal, &pm);
  if( rc==SQLITE_OK ){
    rc = bec_ctx_exec(p, "DELETE FROM bec_store_member_op;"
                         "DELETE FROM bec_store_member;", pzErr);
  }
  for(y=1; rc==SQLITE_OK && y<=nUpTo; y++){
    if( !facts_droppable(pm, g, y) ) rc = facts_store(p, pm, y);
  }
  /* Compare with the stored column, not the graph's copy of it. */
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "SELECT seq, valid FROM bec_store_op WHERE seq<=?1",
                      &pStmt);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, nUpTo);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      y = sqlite3_column_int(pStmt, 0);
      if( y>=1 && y<=nUpTo && sqlite3_column_int(pStmt, 1)!=pm->aValid[y] ){
        rc = bec_ints_push(&changed, y);
      }
    }
    bec_stmt_reset(pStmt, &rc);
  }
  if( rc==SQLITE_OK ) rc = valid_write(p, pm, g, changed.a, changed.n);
  for(u=1; rc==SQLITE_OK && u<pm->nUser; u++){
    if( pm->aUser[u].mAbout.n ) rc = member_write(p, pm, g, u);
  }
  if( rc==SQLITE_OK && changed.n ){
    rc = bec_dag_validity_changed(p, changed.a, changed.n, pzErr);
  }
  if( rc==SQLITE_OK ){
    if( pnChanged ) *pnChanged = changed.n;
    p->pMember = pm;
  }else{
    member_free(pm);
  }
  bec_ints_free(&changed);
  return rc;
}

static int process_op(BecCtx *p, BecMember *pm, BecGraph *g, int y,
                      char **pzErr);

/* The membership state, current for ops 1..nUpTo (loaded, rebuilt or
** caught up as needed).  Owned by p. */
static int member_state(BecCtx *p, BecGraph *g, int nUpTo, BecMember **ppm,
                        char **pzErr){
  BecMember *pm = p->pMember;
  int rc = SQLITE_OK;
  *ppm = 0;
  if( pm && (pm->iGeneration!=g->iGeneration || pm->nDone>nUpTo) ){
    member_free(pm);
    p->pMember = pm = 0;
  }
  if( pm==0 ){
    int bMissing = 0;
    rc = state_load_facts(p, g, nUpTo, &pm, &bMissing);
    if( rc==SQLITE_OK && bMissing ){
      rc = rebuild(p, g, nUpTo, 0, pzErr);
      pm = p->pMember;
    }else if( rc==SQLITE_OK ){
      p->pMember = pm;
    }
  }
  /* Sealed cuts' final validity, current (re-evaluations read it). */
  if( rc==SQLITE_OK && p->xFinal ){
    rc = p->xFinal(p, &pm->aFinal, &pm->nFinal);
  }
  /* Ops stored without being derived (not expected): derive them now. */
  while( rc==SQLITE_OK && pm->nDone<nUpTo ){
    rc = process_op(p, pm, g, pm->nDone+1, pzErr);
  }
  if( rc==SQLITE_OK ){
    *ppm = pm;
  }else if( pzErr && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot derive membership: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/*
** Op y was just appended to the graph and stored: index it, persist its
** facts, derive its validity and everything it changes.
*/
static int process_op(BecCtx *p, BecMember *pm, BecGraph *g, int y,
                      char **pzErr){
  const BecNode *n;
  BecInts changed, region, queue, keyChanged, users;
  int rc, i, u, v;

  memset(&changed, 0, sizeof(changed));
  memset(&region, 0, sizeof(region));
  memset(&queue, 0, sizeof(queue));
  memset(&keyChanged, 0, sizeof(keyChanged));
  memset(&users, 0, sizeof(users));
  assert( y==pm->nDone+1 && y<=g->nNode );
  rc = ensure_size(pm, g->nNode, g->nAuthor);
  if( rc==SQLITE_OK && BEC_NODE_STANDIN(g, y) ){
    /* A stand-in of an installed cut: no facts, no author, its validity
    ** the proof's (final, bec_graph.c); indexed for the heads only. */
    rc = index_add(pm, g, y);
    pm->aValid[y] = g->aNode[y].bValid;
    if( rc==SQLITE_OK ) pm->nDone = y;
    return rc;
  }
  n = &g->aNode[y];
  u = n->iAuthor;
  v = about(n);
  if( rc==SQLITE_OK ) rc = facts_incremental(pm, g, y);
  if( rc==SQLITE_OK ){
    set_potential(pm, g, y);
    rc = index_add(pm, g, y);
  }
  if( rc==SQLITE_OK ) rc = facts_store(p, pm, y);
  pm->aValid[y] = 0;
  if( rc==SQLITE_OK && n->kind==BEC_KIND_CREATE ){
    pm->aValid[y] = 1;
    pm->aUser[u].rank = 1;
    pm->aUser[u].iKey = y;
    rc = bec_ints_push(&users, u);
  }else if( rc==SQLITE_OK && n->kind==BEC_KIND_ROOT && !is_root_mop(n) ){
    /* A hand-over: the epoch rule may change any root op's validity, and
    ** with it what depends on it.  Rare: re-derive every op. */
    int w;
    rc = all_addrem(g, y, &region);
    if( rc==SQLITE_OK ) rc = eval_region(pm, g, region.a, region.n, &changed);
    for(w=1; rc==SQLITE_OK && w<pm->nUser; w++){
      rc = eval_data(pm, g, w, 0, 0, &changed);
      if( rc==SQLITE_OK && pm->aUser[w].mAbout.n ) rc = bec_ints_push(&users, w);
    }
    if( rc==SQLITE_OK ) pm->aValid[y] = (u8)rule4(pm, g, y, u, 0);
  }else if( rc==SQLITE_OK && is_data(n) && !is_open(n) ){
    pm->aValid[y] = (u8)rule4(pm, g, y, u, 0);
  }else if( rc==SQLITE_OK ){
    int bFull = 0;
    /* Rule 5: a potential add may improve ranks and keys. */
    if( is_add(n) && (pm->aOp[y].flags & MOP_POTENTIAL) ){
      rc = rank_relax(pm, g, y, &queue, &keyChanged);
      if( rc==SQLITE_OK ) rc = rank_propagate(pm, g, &queue, &keyChanged);
      vec_sort_unique(&keyChanged);
      for(i=0; rc==SQLITE_OK && i<keyChanged.n; i++){
        const MemberUser *pk = &pm->aUser[keyChanged.a[i]];
        int j;
        for(j=0; j<pk->mAuth.n && !bFull; j++){
          if( pm->aOp[pk->mAuth.a[j]].flags & MOP_CYCLE ) bFull = 1;
        }
        rc = bec_ints_push(&users, keyChanged.a[i]);
      }
    }
    /* Rules 6-8 on everything downstream of y (or all, if a key that a
    ** cycle depends on changed). */
    if( rc==SQLITE_OK ){
      if( bFull ){
        rc = all_addrem(g, y, &region);
      }else{
        rc = bec_ints_push(&region, y);
        if( rc==SQLITE_OK ) rc = region_close(pm, g, &region);
      }
    }
    if( rc==SQLITE_OK ) rc = eval_region(pm, g, region.a, region.n, &changed);
    /* Data ops: every one of a user whose grants or removes changed
    ** validity; only those concurrent with y for y's own target. */
    if( rc==SQLITE_OK ){
      BecInts full;
      memset(&full, 0, sizeof(full));
      for(i=0; rc==SQLITE_OK && i<changed.n; i++){
        int w = about(&g->aNode[changed.a[i]]);
        if( changed.a[i]!=y && w ) rc = bec_ints_push(&full, w);
      }
      vec_sort_unique(&full);
      for(i=0; rc==SQLITE_OK && i<full.n; i++){
        rc = eval_data(pm, g, full.a[i], 0, 0, &changed);
        if( rc==SQLITE_OK ) rc = bec_ints_push(&users, full.a[i]);
      }
      if( rc==SQLITE_OK && v && pm->aValid[y] && !has(full.a, full.n, v) ){
        rc = eval_data(pm, g, v, CV_OF(pm, y), pm->aOp[y].nCV, &changed);
      }
      bec_ints_free(&full);
    }
    if( rc==SQLITE_OK && v ) rc = bec_ints_push(&users, v);
    vec_sort_unique(&users);
  }
  pm->nDone = y;

  /* Write: y's validity (stored as 1), every other change, member rows. */
  if( rc==SQLITE_OK && pm->aValid[y]!=g->aNode[y].bValid ){
    rc = valid_write(p, pm, g, &y, 1);
  }
  if( rc==SQLITE_OK ){
    int nOut = 0;
    for(i=0; i<changed.n; i++){
      if( changed.a[i]!=y ) changed.a[nOut++] = changed.a[i];
    }
    changed.n = nOut;
    vec_sort_unique(&changed);
    rc = valid_write(p, pm, g, changed.a, changed.n);
  }
  for(i=0; rc==SQLITE_OK && i<users.n; i++) rc = member_write(p, pm, g, users.a[i]);
  if( rc==SQLITE_OK && changed.n ){
    rc = bec_dag_validity_changed(p, changed.a, changed.n, pzErr);
  }
  bec_ints_free(&changed);
  bec_ints_free(&region);
  bec_ints_free(&queue);
  bec_ints_free(&keyChanged);
  bec_ints_free(&users);
  return rc;
}

/**************************************************************************
** The interface of becInt.h.
*/
static int member_schema(BecCtx *p, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc, bOld = 0;
  /* A database made before the cover columns: they are added as -1 (not
  ** computed), which no need reaches, so its ops take the full path until
  ** a full derivation writes the row; bec_check skips a -1 row's cover. */
  rc = sqlite3_prepare_v2(p->db, "SELECT 1 FROM pragma_table_info("
                          "'bec_store_member') WHERE name='author'"
                          " AND NOT EXISTS (SELECT 1 FROM pragma_table_info("
                          "'bec_store_member') WHERE name='cover')", -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    bOld = sqlite3_step(pStmt)==SQLITE_ROW;
    rc = sqlite3_finalize(pStmt);
  }
  if( rc==SQLITE_OK && bOld ){
    rc = bec_ctx_exec(p, "ALTER TABLE bec_store_member ADD COLUMN cover"
                         " INTEGER NOT NULL DEFAULT -1;"
                         "ALTER TABLE bec_store_member ADD COLUMN cover_facts"
                         " BLOB NOT NULL DEFAULT x'';", pzErr);
  }
  if( rc ) return rc;
  return bec_ctx_exec(p,
      "CREATE TABLE IF NOT EXISTS bec_store_member("
      "  pubkey BLOB PRIMARY KEY, author INTEGER NOT NULL,"
      "  role INTEGER NOT NULL, rank INTEGER NOT NULL,"
      "  added_by BLOB NOT NULL, added_in BLOB NOT NULL,"
      "  cover INTEGER NOT NULL, cover_facts BLOB NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS bec_store_member_op("
      "  seq INTEGER PRIMARY KEY, facts BLOB NOT NULL);", pzErr);
}

/* A short, readable name for a key in messages: its first 16 hex chars. */
static void key_prefix(const u8 *aKey, char *zOut /* 17 */){
  bec_hex_encode(aKey, 8, zOut);
}

/**************************************************************************
** Covering ops (the header comment): admission and derivation from the
** stored rows, without the graph.
*/
/* The cover stored for key aKey, as a level (*pCover, 0 if none), and, if
** pFacts, the facts a covering data op of its gets (a copy in *pFacts). */
static int stored_cover(BecCtx *p, const u8 *aKey, int *pCover, BecBuf *pFacts){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT cover, cover_facts FROM bec_store_member"
                           " WHERE pubkey=?1", &pStmt);
  *pCover = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aKey, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_int(pStmt, 0)>0 ){
    /* (-1: not computed, a row from before the column: no cover) */
    *pCover = role_level(sqlite3_column_int(pStmt, 0));
    if( pFacts ){
      bec_buf_append(pFacts, sqlite3_column_blob(pStmt, 1),
                     sqlite3_column_bytes(pStmt, 1), &rc);
    }
  }
  bec_stmt_reset(pStmt, &rc);
  return rc;
}

/* Data op y, just stored, covers every stored op: if its author's cover
** makes it valid, writes its facts (S(y) = M(u), stored with the member
** row) and sets *pbDone; its validity is the stored default (valid).
** Otherwise the full path. */
static int covering_stored(BecCtx *p, int y, const BecOp *pOp, int *pbDone){
  sqlite3_stmt *pStmt = 0;
  BecNode n;
  BecBuf facts;
  int rc, cover = 0;
  *pbDone = 0;
  memset(&n, 0, sizeof(n));
  memset(&facts, 0, sizeof(facts));
  /* Derived state complete up to y-1, or the full path recomputes what is
  ** lost (state_load_facts); one index seek. */
  rc = bec_ctx_stmt(p, "SELECT max(seq) FROM bec_store_member_op", &pStmt);
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) cover = sqlite3_column_int(pStmt, 0);
  rc = sqlite3_reset(pStmt);
  if( rc || cover!=y-1 ) return rc;
  rc = bec_ctx_stmt(p, "SELECT kind, role FROM bec_store_op WHERE seq=?1",
                    &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int(pStmt, 1, y);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    n.kind = (u8)sqlite3_column_int(pStmt, 0);
    n.role = (u8)(sqlite3_column_int(pStmt, 1) & 0x7f);
  }
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && bec_kind(n.kind)==0 ) rc = SQLITE_CORRUPT;
  if( rc || !is_data(&n) || is_open(&n) || n.kind==BEC_KIND_ROOT ) return rc;
  rc = stored_cover(p, pOp->aAuthor, &cover, &facts);
  if( rc==SQLITE_OK && cover>=need_of(&n) ){
    rc = facts_put(p, y, &facts, rc);
    if( rc==SQLITE_OK ) *pbDone = 1;
  }
  bec_buf_free(&facts);
  return rc;
}

/* xAdmit: may pOp's author do pOp in its causal past? */
static int member_admit(BecCtx *p, const BecOp *pOp, const int *aPredSeq,
                        BecVerdict *pV, char **pzErr){
  BecGraph *g = 0;
  BecMember *pm = 0;
  int need, u = 0, i, rc;
  char zKey[17];

  if( bec_kind(pOp->kind)->eAuthor==BEC_AUTHOR_FOUNDER
   || bec_kind(pOp->kind)->eAuthor==BEC_AUTHOR_ROOT ) return SQLITE_OK;
  need = need_level(pOp->kind, pOp->aTarget!=0
              && memcmp(pOp->aTarget, pOp->aAuthor, BEC_PUBKEY_BYTES)==0);
  if( p->bCovering ){
    /* A valid grant of the level in a past of every stored op is a
    ** potential one (the converse is the full path's to answer). */
    int cover = 0;
    rc = stored_cover(p, pOp->aAuthor, &cover, 0);
    if( rc || cover>=need ) return rc;
  }
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = member_state(p, g, g->nNode, &pm, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_author_id(p, pOp->aAuthor, 0, &u);
  if( rc ) return rc;
  if( u>0 && u<pm->nUser && pm->aUser[u].mAbout.n>0 ){
    const MemberUser *pu = &pm->aUser[u];
    scan(pm, g, pOp->nPred, aPredSeq, g->nNode);
    for(i=0; i<pu->mAbout.n; i++){
      int x = pu->mAbout.a[i];
      const BecNode *nx = &g->aNode[x];
      if( is_grant(nx) && (pm->aOp[x].flags & MOP_POTENTIAL)
       && level_of(nx)>=need && in_past(pm, x) ){
        return SQLITE_OK;
      }
    }
  }
  key_prefix(pOp->aAuthor, zKey);
  bec_verdict_set(pV, SQLITE_AUTH, "unauthorized: %s needs %s, and its author "
      "%s... holds no %s grant in the op's causal past",
      bec_kind_name(pOp->kind),
      need==LEVEL_ADMIN ? "an admin" : need==LEVEL_MEMBER ? "a member" : "a grant",
      zKey, need==LEVEL_ADMIN ? "potential admin" :
            need==LEVEL_MEMBER ? "potential member" : "potential");
  return SQLITE_OK;
}

/* xStored: node iSeq was just stored; bring derived membership state (the
** valid column, bec_store_member) up to date. */
static int member_stored(BecCtx *p, int iSeq, const BecOp *pOp, char **pzErr){
  BecGraph *g = 0;
  BecMember *pm = 0;
  int rc = SQLITE_OK, bDone = 0;
  if( p->bCovering && p->pMember==0 ){
    /* (a state in memory must see every op: process_op keeps it) */
    rc = covering_stored(p, iSeq, pOp, &bDone);
    if( rc || bDone ){
      if( rc && *pzErr==0 ){
        *pzErr = sqlite3_mprintf("bec: cannot derive membership: %s",
                                 bec_rc_text(p->db, rc));
      }
      return rc;
    }
  }
  rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = member_state(p, g, iSeq-1, &pm, pzErr);
  if( rc==SQLITE_OK ) rc = process_op(p, pm, g, iSeq, pzErr);
  if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot derive membership: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/* Column i of pStmt holds u's cover facts (cover_facts). */
static int facts_are(const BecMember *pm, int u, sqlite3_stmt *pStmt, int i,
                     int *pRc){
  BecBuf b;
  int bSame;
  memset(&b, 0, sizeof(b));
  cover_facts(pm, u, &b, pRc);
  bSame = *pRc==SQLITE_OK && b.n==sqlite3_column_bytes(pStmt, i)
       && (b.n==0 || memcmp(b.a, sqlite3_column_blob(pStmt, i), (size_t)b.n)==0);
  bec_buf_free(&b);
  return bSame;
}

/* Appends one line to a problem report (at most MAX_PROBLEMS lines). */
static void problem(BecBuf *pOut, int *pn, int *pRc, const char *zFmt, ...){
  va_list ap;
  if( (*pn)++>=MAX_PROBLEMS ) return;
  if( pOut->n ) bec_buf_append(pOut, "\n", 1, pRc);
  va_start(ap, zFmt);
  bec_buf_vappendf(pOut, pRc, zFmt, ap);
  va_end(ap);
}

/* Is column i of the row the 32-byte blob a? */
static int blob_is(sqlite3_stmt *pStmt, int i, const u8 *a){
  return a && sqlite3_column_bytes(pStmt, i)==32
      && memcmp(sqlite3_column_blob(pStmt, i), a, 32)==0;
}

static int member_check(BecCtx *p, char **pzProblems, char **pzErr){
  BecGraph *g = 0;
  BecMember *pm = 0;
  sqlite3_stmt *pStmt = 0;
  BecBuf out, a;
  int rc, nProblem = 0, u;
  u8 *aSeen = 0;
  u8 aAddedIn[BEC_HASH_BYTES];

  memset(&out, 0, sizeof(out));
  memset(&a, 0, sizeof(a));
  *pzProblems = 0;
  const u8 *aFinal = 0;
  int nFinal = 0;
  rc = bec_graph_get(p, &g, pzErr);
  if( rc ) return rc;
  rc = p->xFinal ? p->xFinal(p, &aFinal, &nFinal) : SQLITE_OK;
  if( rc==SQLITE_OK ) rc = derive_all(p, g, g->nNode, aFinal, nFinal, &pm);
  /* Validity. */
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(p->db, "SELECT seq, valid FROM bec_store_op"
                                   " ORDER BY seq", -1, &pStmt, 0);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int y = sqlite3_column_int(pStmt, 0);
    if( y>=1 && y<=g->nNode && sqlite3_column_int(pStmt, 1)!=pm->aValid[y] ){
      char zHex[2*BEC_HASH_BYTES+1];
      bec_graph_id_hex(g, y, zHex);
      problem(&out, &nProblem, &rc, "membership: op %s is stored as %s but "
              "derives as %s", zHex, pm->aValid[y] ? "ignored" : "valid",
              pm->aValid[y] ? "valid" : "ignored");
    }
  }
  sqlite3_finalize(pStmt);
  pStmt = 0;
  /* Facts. */
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(p->db, "SELECT seq, facts FROM bec_store_member_op"
                                   " ORDER BY seq", -1, &pStmt, 0);
  }
  if( rc==SQLITE_OK ){
    int y = 0;
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      int iSeq = sqlite3_column_int(pStmt, 0);
      /* (a final write or app op's facts may be dropped) */
      while( y+1<iSeq && y+1<=g->nNode && facts_droppable(pm, g, y+1) ) y++;
      if( iSeq!=++y || iSeq>g->nNode ){
        problem(&out, &nProblem, &rc, "membership: facts of op seq %d are "
                "missing or extra", y);
        y = iSeq;
        continue;
      }
      a.n = 0;
      facts_encode(pm, iSeq, &a, &rc);
      if( rc==SQLITE_OK && (a.n!=sqlite3_column_bytes(pStmt, 1)
           || (a.n && memcmp(a.a, sqlite3_column_blob(pStmt, 1), (size_t)a.n))) ){
        char zHex[2*BEC_HASH_BYTES+1];
        bec_graph_id_hex(g, iSeq, zHex);
        problem(&out, &nProblem, &rc, "membership: stored causal facts of op "
                "%s disagree with the DAG", zHex);
      }
    }
    while( y<g->nNode && facts_droppable(pm, g, y+1) ) y++;
    if( rc==SQLITE_OK && y!=g->nNode ){
      problem(&out, &nProblem, &rc, "membership: %d ops have no stored facts",
              g->nNode-y);
    }
  }
  sqlite3_finalize(pStmt);
  pStmt = 0;
  /* Members. */
  if( rc==SQLITE_OK ){
    aSeen = sqlite3_malloc64((sqlite3_uint64)pm->nUser);
    if( aSeen==0 ) rc = SQLITE_NOMEM;
    else memset(aSeen, 0, (size_t)pm->nUser);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(p->db, "SELECT author, role, rank, added_by, "
        "added_in, pubkey, cover, cover_facts FROM bec_store_member", -1,
        &pStmt, 0);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    MemberRow row;
    u = sqlite3_column_int(pStmt, 0);
    /* pm->nUser is the arrays' size; the graph knows the ids in use. */
    if( u<1 || u>g->nAuthor || u>=pm->nUser ){
      problem(&out, &nProblem, &rc, "membership: member row for unknown "
              "author id %d", u);
      continue;
    }
    aSeen[u] = 1;
    member_row(pm, g, u, &row);
    if( row.role ){
      rc = bec_graph_id(g, row.iAddedIn, aAddedIn);
      if( rc ) break;
    }
    if( row.role!=sqlite3_column_int(pStmt, 1)
     || row.rank!=sqlite3_column_int(pStmt, 2)
     || !blob_is(pStmt, 3, row.role ? g->aAuthorKey[row.iAddedBy] : 0)
     || !blob_is(pStmt, 4, row.role ? aAddedIn : 0)
     || !blob_is(pStmt, 5, g->aAuthorKey[u])
     || (sqlite3_column_int(pStmt, 6)!=-1        /* -1: see member_schema */
         && ((row.cover ? level_role(row.cover) : 0)!=sqlite3_column_int(pStmt, 6)
             || !facts_are(pm, u, pStmt, 7, &rc))) ){
      char zHex[2*BEC_PUBKEY_BYTES+1];
      bec_hex_encode(g->aAuthorKey[u], BEC_PUBKEY_BYTES, zHex);
      problem(&out, &nProblem, &rc, "membership: stored member row of %s "
              "disagrees with the DAG%s", zHex,
              row.role ? "" : " (not a member)");
    }
  }
  sqlite3_finalize(pStmt);
  for(u=1; rc==SQLITE_OK && u<pm->nUser && u<=g->nAuthor; u++){
    MemberRow row;
    if( aSeen[u] || pm->aUser[u].mAbout.n==0 ) continue;
    member_row(pm, g, u, &row);
    if( row.role ){
      char zHex[2*BEC_PUBKEY_BYTES+1];
      bec_hex_encode(g->aAuthorKey[u], BEC_PUBKEY_BYTES, zHex);
      problem(&out, &nProblem, &rc, "membership: %s is a member but has no "
              "member row", zHex);
    }
  }
  if( rc==SQLITE_OK && nProblem>MAX_PROBLEMS ){
    char *z = sqlite3_mprintf("\n... and %d more membership problems",
                              nProblem-MAX_PROBLEMS);
    if( z==0 ) rc = SQLITE_NOMEM;
    else bec_buf_append(&out, z, (i64)strlen(z), &rc);
    sqlite3_free(z);
  }
  bec_buf_append_u8(&out, 0, &rc);
  if( rc==SQLITE_OK && nProblem ){
    *pzProblems = (char*)out.a;
    out.a = 0;
  }else if( rc && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: membership check failed: %s",
                             bec_rc_text(p->db, rc));
  }
  bec_buf_free(&out);
  bec_buf_free(&a);
  sqlite3_free(aSeen);
  member_free(pm);
  return rc;
}

/**************************************************************************
** SQL functions.
*/


/* The current role of aKey (0: not a member) and, if it is an admin, the
** number of admins, from bec_store_member. */
static int local_roles(BecCtx *p, const u8 *aKey, int *pRole, int *pnAdmin){
  sqlite3_stmt *pStmt = 0;
  int rc = bec_ctx_stmt(p, "SELECT role, CASE role WHEN 1 THEN (SELECT count(*)"
      " FROM bec_store_member WHERE role=1) END FROM bec_store_member"
      " WHERE pubkey=?1", &pStmt);
  *pRole = 0;
  *pnAdmin = 0;
  if( rc ) return rc;
  sqlite3_bind_blob(pStmt, 1, aKey, BEC_PUBKEY_BYTES, SQLITE_STATIC);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *pRole = sqlite3_column_int(pStmt, 0);
    *pnAdmin = sqlite3_column_int(pStmt, 1);
  }
  return sqlite3_reset(pStmt);
}

/*
** Checks, in this replica's current view, that the local key may append a
** membership op of kind (ADD with role, or REMOVE) about aTarget, and that
** it would not leave the group without admins.  On refusal, *pzErr says
** why, prefixed with zFunc.
*/
static int local_check(BecCtx *p, const char *zFunc, int kind, int role,
                       const u8 *aTarget, char **pzErr){
  const u8 *aSecret = 0;
  BecGraph *g = 0;
  BecMember *pm = 0;
  u8 aGroup[BEC_HASH_BYTES];
  int rc, uSelf = 0, iTargetRole = 0, nAdmin = 0, bSelf;
  char zKey[17];

  rc = bec_dag_ensure_schema(p, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_secret(p, &aSecret, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_group_id(p, aGroup, pzErr);
  if( rc==SQLITE_OK ) rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = member_state(p, g, g->nNode, &pm, pzErr);
  if( rc==SQLITE_OK ) rc = bec_dag_author_id(p, p->aPub, 0, &uSelf);
  if( rc==SQLITE_OK ) rc = local_roles(p, aTarget, &iTargetRole, &nAdmin);
  if( rc ){
    if( *pzErr==0 ) *pzErr = sqlite3_mprintf("%s: %s", zFunc, bec_rc_text(p->db, rc));
    return rc;
  }
  bSelf = memcmp(aTarget, p->aPub, BEC_PUBKEY_BYTES)==0;
  key_prefix(aTarget, zKey);
  if( uSelf==0 || uSelf>=pm->nUser
   || !rule4(pm, g, 0, uSelf, (kind==BEC_KIND_ADD || !bSelf) ? LEVEL_ADMIN
                                                               : LEVEL_RELAY) ){
    *pzErr = sqlite3_mprintf("%s: not allowed: this replica's key is not %s of "
        "the group in its current view", zFunc,
        (kind==BEC_KIND_ADD || !bSelf) ? "an admin" : "a member");
    return SQLITE_AUTH;
  }
  if( kind==BEC_KIND_REMOVE && iTargetRole==0 ){
    *pzErr = sqlite3_mprintf("%s: %s... is not a member of the group",
                             zFunc, zKey);
    return SQLITE_ERROR;
  }
  if( iTargetRole==BEC_ROLE_ADMIN && nAdmin<=1
   && (kind==BEC_KIND_REMOVE || role!=BEC_ROLE_ADMIN) ){
    *pzErr = sqlite3_mprintf("%s: refused: %s %s..., the last admin, would "
        "leave the group without admins (promote someone first)", zFunc,
        kind==BEC_KIND_REMOVE ? (bSelf ? "leaving as" : "removing")
                              : "demoting", zKey);
    return SQLITE_CONSTRAINT;
  }
  return SQLITE_OK;
}


int bec_member_may_append(BecCtx *p, const char *zFunc, int kind, int role,
                          const u8 *aTarget, char **pzErr){
  return local_check(p, zFunc, kind, role, aTarget, pzErr);
}

/* The membership op and what an encrypted group signs right after it (the
** newcomer's keyshare, the rekey after a removal) are one transaction: if
** the second cannot be signed (out of memory, I/O, a full disk), neither is
** stored and the caller gets the error (docs/encryption.md). */
static const BecSavepoint spMemberOp = {
  "SAVEPOINT bec_member_op", "RELEASE bec_member_op",
  "ROLLBACK TO bec_member_op"
};

int bec_member_append(BecCtx *p, const char *zFunc, int kind,
                      const u8 *aPayload, u8 *aHash, char **pzErr){
  int role = kind==BEC_KIND_ADD ? aPayload[BEC_PUBKEY_BYTES] : 0;
  i64 nPayload = kind==BEC_KIND_ADD ? BEC_PUBKEY_BYTES+1 : BEC_PUBKEY_BYTES;
  int rc = local_check(p, zFunc, kind, role, aPayload, pzErr);
  /* An encrypted group: the newcomer must be able to receive keys, and
  ** gets them (or the key moves on after a removal) right after. */
  if( rc==SQLITE_OK ) rc = bec_e2ee_before_member_op(p, kind, aPayload, pzErr);
  if( rc==SQLITE_OK ) rc = bec_ctx_begin(p, &spMemberOp);
  if( rc==SQLITE_OK ){
    rc = bec_dag_append(p, kind, aPayload, nPayload, aHash, pzErr);
    if( rc==SQLITE_OK ) rc = bec_e2ee_after_member_op(p, kind, aPayload, pzErr);
    if( rc==SQLITE_OK ) rc = bec_ctx_commit(p, &spMemberOp);
    else bec_ctx_rollback(p, &spMemberOp);
  }
  return rc;
}

/* bec_add_member(pubkey, role): appends add(pubkey, role); returns its
** hash. */
static void fnAddMember(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aPayload[BEC_PUBKEY_BYTES+1], aHash[BEC_HASH_BYTES];
  const char *zRole = (const char*)sqlite3_value_text(argv[1]);
  int role = bec_role_from_name(zRole);
  char *zErr = 0;
  int rc;
  if( !bec_fn_arg32(argv[0], aPayload) ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_add_member: the public "
             "key must be 64 hex characters or a 32-byte blob"));
    return;
  }
  if( role==0 ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_add_member: the role must "
             "be 'admin', 'member' or 'relay', not '%s'", zRole ? zRole : "NULL"));
    return;
  }
  aPayload[BEC_PUBKEY_BYTES] = (u8)role;
  rc = bec_member_append(p, "bec_add_member", BEC_KIND_ADD, aPayload, aHash, &zErr);
  if( rc ) bec_fn_error(ctx, rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

/* bec_remove_member(pubkey): appends remove(pubkey); returns its hash. */
static void fnRemoveMember(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  u8 aKey[BEC_PUBKEY_BYTES], aHash[BEC_HASH_BYTES];
  char *zErr = 0;
  int rc;
  if( !bec_fn_arg32(argv[0], aKey) ){
    bec_fn_error(ctx, SQLITE_ERROR, sqlite3_mprintf("bec_remove_member: the public "
             "key must be 64 hex characters or a 32-byte blob"));
    return;
  }
  rc = bec_member_append(p, "bec_remove_member", BEC_KIND_REMOVE, aKey, aHash,
                         &zErr);
  if( rc ) bec_fn_error(ctx, rc, zErr);
  else bec_fn_result_hex(ctx, aHash, BEC_HASH_BYTES);
}

/* bec_member_rebuild(): re-derives all membership state from the DAG;
** returns how many ops changed validity (0 if everything agreed). */
static void fnRebuild(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  BecCtx *p = (BecCtx*)sqlite3_user_data(ctx);
  BecGraph *g = 0;
  char *zErr = 0;
  int nChanged = 0;
  int rc = bec_dag_ensure_schema(p, &zErr);
  if( rc==SQLITE_OK ) rc = sqlite3_exec(p->db, "SAVEPOINT bec_member_rebuild",
                                        0, 0, 0);
  if( rc==SQLITE_OK ){
    rc = bec_graph_get(p, &g, &zErr);
    if( rc==SQLITE_OK ) rc = rebuild(p, g, g->nNode, &nChanged, &zErr);
    if( rc ){
      sqlite3_exec(p->db, "ROLLBACK TO bec_member_rebuild;"
                          "RELEASE bec_member_rebuild", 0, 0, 0);
      bec_ctx_drop_caches(p);
    }else{
      rc = sqlite3_exec(p->db, "RELEASE bec_member_rebuild", 0, 0, 0);
    }
  }
  if( rc ){
    if( zErr==0 ) zErr = sqlite3_mprintf("bec_member_rebuild: %s",
                                         bec_rc_text(p->db, rc));
    bec_fn_error(ctx, rc, zErr);
  }else{
    sqlite3_result_int(ctx, nChanged);
  }
}

/* bec_members columns from the raw row: keys and hash as lowercase hex,
** encoded here rather than with lower(hex()) in SQL (three times faster
** for 10,000 rows), and the role as a static string. */
static int memberColumn(sqlite3_stmt *pStmt, sqlite3_context *ctx, int i){
  if( i==0 || i==3 || i==4 ){
    char z[2*BEC_HASH_BYTES+1];
    if( sqlite3_column_bytes(pStmt, i)!=BEC_HASH_BYTES ){
      sqlite3_result_error(ctx, "bec_members: corrupt member row", -1);
      return SQLITE_OK;
    }
    bec_hex_encode(sqlite3_column_blob(pStmt, i), BEC_HASH_BYTES, z);
    sqlite3_result_text(ctx, z, 2*BEC_HASH_BYTES, SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  if( i==1 ){
    const char *zRole = bec_role_name(sqlite3_column_int(pStmt, 1));
    sqlite3_result_text(ctx, zRole ? zRole : "member", -1, SQLITE_STATIC);
    return SQLITE_OK;
  }
  return SQLITE_NOTFOUND;
}

/* bec_members: the current members (rule 9), in public key order. */
static const BecTableDef memberTable = {
  "bec_members",
  "CREATE TABLE x(pubkey TEXT, role TEXT, rank INTEGER, added_by TEXT,"
  " added_in TEXT, name TEXT)",
  "SELECT pubkey, role, rank, added_by, added_in, "
  BEC_NAME_OF_AUTHOR("(SELECT id FROM bec_store_author ba"
                     " WHERE ba.pubkey=bec_store_member.pubkey)")
  " FROM bec_store_member WHERE 1",
  "ORDER BY pubkey",
  { { 0, 1, "pubkey=?" },
    { 1, 3, "role=(CASE ? WHEN 'admin' THEN 1 WHEN 'member' THEN 2"
            " WHEN 'relay' THEN 3 END)" } },
  memberColumn, 0 };

int bec_member_drop_facts(BecCtx *p, const BecGraph *g, const u8 *aCut,
                          char **pzErr){
  sqlite3_stmt *pStmt = 0;
  const u8 *aFinal = 0;
  int nFinal = 0, x, rc;
  BecMember m;
  rc = p->xFinal ? p->xFinal(p, &aFinal, &nFinal) : SQLITE_OK;
  memset(&m, 0, sizeof(m));
  m.aFinal = aFinal;
  m.nFinal = nFinal;
  if( rc==SQLITE_OK ){
    rc = bec_ctx_stmt(p, "DELETE FROM bec_store_member_op WHERE seq=?1",
                      &pStmt);
  }
  for(x=1; rc==SQLITE_OK && x<=g->nNode; x++){
    if( !aCut[x] || !facts_droppable(&m, g, x) ) continue;
    sqlite3_bind_int(pStmt, 1, x);
    sqlite3_step(pStmt);
    rc = sqlite3_reset(pStmt);
  }
  if( rc && pzErr && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot drop the membership facts of "
                             "pruned ops: %s", bec_rc_text(p->db, rc));
  }
  return rc;
}

/* xForget: the membership state is a cache of bec_store_member_op. */
static void member_forget(BecCtx *p){
  member_free(p->pMember);
  p->pMember = 0;
}

/* A fall-back to a full join (bec_rejoin.c): every fact and row is
** derived again as the ops come back. */
static int member_reset(BecCtx *p, int bProbe, char **pzWhyNot, char **pzErr){
  (void)pzWhyNot;
  if( bProbe ) return SQLITE_OK;
  member_forget(p);
  return bec_ctx_exec(p, "DELETE FROM bec_store_member;"
                         " DELETE FROM bec_store_member_op", pzErr);
}

const BecDeriver bec_member_deriver = {
  "membership", BEC_DERIVE_ANY,
  member_schema, member_admit, member_stored, 0, member_check, member_forget,
  member_reset
};

int bec_member_register(sqlite3 *db, BecCtx *p){
  static const BecFunc aFunc[] = {
    { "bec_add_member", 2, SQLITE_UTF8|SQLITE_DIRECTONLY, fnAddMember },
    { "bec_remove_member", 1, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRemoveMember },
    { "bec_member_rebuild", 0, SQLITE_UTF8|SQLITE_DIRECTONLY, fnRebuild },
  };
  int rc = bec_ctx_register_funcs(db, p, aFunc,
                                  (int)(sizeof(aFunc)/sizeof(aFunc[0])));
  if( rc ) return rc;
  return bec_vtab_register_table(db, p, &memberTable);
}

/* Seniority as derived (rule 5), for the digest of a checkpoint's cut
** (bec_checkpoint.c): the rank and the key op of one author. */
int bec_member_seniority(BecCtx *p, int iAuthor, int *pRank, int *piKeyOp,
                         char **pzErr){
  BecGraph *g = 0;
  BecMember *pm = 0;
  int rc = bec_graph_get(p, &g, pzErr);
  *pRank = 0;
  *piKeyOp = 0;
  if( rc==SQLITE_OK ) rc = member_state(p, g, g->nNode, &pm, pzErr);
  if( rc==SQLITE_OK && iAuthor>0 && iAuthor<pm->nUser ){
    *pRank = pm->aUser[iAuthor].rank;
    *piKeyOp = pm->aUser[iAuthor].rank ? pm->aUser[iAuthor].iKey : 0;
  }
  return rc;
}

/* The root's facts changed (bec_root.c stored a root op, or an open or an
** ack once a root op exists): reads them again and re-evaluates every
** add/remove op, creator's open and data op, publishing what changed. */
int bec_member_root_changed(BecCtx *p, char **pzErr){
  BecGraph *g = 0;
  BecMember *pm = 0;
  BecInts region, changed;
  int rc = bec_graph_get(p, &g, pzErr);
  int u;
  memset(&region, 0, sizeof(region));
  memset(&changed, 0, sizeof(changed));
  if( rc==SQLITE_OK ) rc = member_state(p, g, g->nNode, &pm, pzErr);
  if( rc==SQLITE_OK ) rc = rf_load(p, pm);
  if( rc==SQLITE_OK ) rc = all_addrem(g, pm->nDone, &region);
  if( rc==SQLITE_OK ) rc = eval_region(pm, g, region.a, region.n, &changed);
  for(u=1; rc==SQLITE_OK && u<pm->nUser; u++){
    rc = eval_data(pm, g, u, 0, 0, &changed);
  }
  if( rc==SQLITE_OK ){
    vec_sort_unique(&changed);
    rc = valid_write(p, pm, g, changed.a, changed.n);
  }
  for(u=1; rc==SQLITE_OK && changed.n && u<pm->nUser; u++){
    if( pm->aUser[u].mAbout.n ) rc = member_write(p, pm, g, u);
  }
  if( rc==SQLITE_OK && changed.n ){
    rc = bec_dag_validity_changed(p, changed.a, changed.n, pzErr);
  }
  bec_ints_free(&region);
  bec_ints_free(&changed);
  if( rc && pzErr && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("bec: cannot derive membership: %s",
                             bec_rc_text(p->db, rc));
  }
  return rc;
}

/* Derives membership again from every op (bec_checkpoint.c, when a
** checkpoint is sealed and the final validity of its cut takes effect),
** publishing the validity changes. */
int bec_member_rederive(BecCtx *p, char **pzErr){
  BecGraph *g = 0;
  int rc = bec_graph_get(p, &g, pzErr);
  if( rc==SQLITE_OK ) rc = rebuild(p, g, g->nNode, 0, pzErr);
  return rc;
}

/* For the digest of a checkpoint's cut (bec_checkpoint.c, bec-cut-v4): the
** highest role whose ops by author iAuthor rule 4 makes valid when they
** have every stored op in their past (member_row's cover, as
** bec_store_member.cover holds it; computed here so that a row written by
** an older bec, -1, never reaches a digest): *pCover BEC_ROLE_* or 0. */
int bec_member_cover(BecCtx *p, int iAuthor, int *pCover, char **pzErr){
  BecGraph *g = 0;
  BecMember *pm = 0;
  int rc = bec_graph_get(p, &g, pzErr);
  *pCover = 0;
  if( rc==SQLITE_OK ) rc = member_state(p, g, g->nNode, &pm, pzErr);
  if( rc==SQLITE_OK && iAuthor>0 && iAuthor<pm->nUser ){
    MemberRow row;
    member_row(pm, g, iAuthor, &row);
    *pCover = row.cover ? level_role(row.cover) : 0;
  }
  return rc;
}

/* An installed snapshot (bec_install.c): membership derived from the cut
** as this replica holds it is the members section's, or *pzWhy says which
** key differs.
**
** Why this is the membership the provider judges by.  The install stores
** every membership op of the cut in full (the chain: each create, add and
** remove, in the provider's seq order), and closes the cut: every node up
** to K has the one before it as its predecessor (bec_dag_cut_close), so
** here the cut's membership ops are a chain in that order, where the
** provider may hold some of them concurrent.  An op that descends from K
** has all of them in its past on both replicas; rule 4 judges it from
** M(u), its author's grants and removes: those of the cut, all before it,
** and those after K.  What the cut contributes is the level rule 4 gives
** an op that has every op of the cut in its past, per key: the cover
** (docs/compaction.md "The snapshot join"), with the seniority that rule 7
** reads (the rank) and the shown role.  The ops after K relate to the
** cut's ops alike on both replicas (each is after all of them).  So when
** every member's role, rank and cover derived here equal the section's
** (under R), an op after K gets here the verdict it gets from the
** provider; when one differs (a cut whose order matters: a demotion
** concurrent with a grant, test_demotion_in_cut), the install is refused
** and the join replays the history.  The order is the provider's seq
** order, a topological order of its DAG: the chain's own links are kept. */
int bec_member_install_check(BecCtx *p, const BecSnapState *pSt,
                             char **pzWhy, char **pzErr){
  BecGraph *g = 0;
  BecMember *pm = 0;
  int rc = bec_graph_get(p, &g, pzErr);
  int i, u, nShown = 0, nHere = 0;
  *pzWhy = 0;
  if( rc==SQLITE_OK ) rc = member_state(p, g, g->nNode, &pm, pzErr);
  for(i=0; rc==SQLITE_OK && *pzWhy==0 && i<pSt->nMember; i++){
    const BecSnapMember *m = &pSt->aMember[i];
    MemberRow row;
    int iAuthor = 0, iCover;
    char zKey[17];
    memset(&row, 0, sizeof(row));
    rc = bec_dag_author_id(p, m->aKey, 0, &iAuthor);
    if( rc ) break;
    if( iAuthor>0 && iAuthor<pm->nUser ) member_row(pm, g, iAuthor, &row);
    iCover = row.cover ? level_role(row.cover) : 0;
    if( m->role ) nShown++;
    key_prefix(m->aKey, zKey);
    if( iAuthor<=0 || iAuthor>=pm->nUser
     || row.role!=m->role || iCover!=m->cover
     || (u64)pm->aUser[iAuthor].rank!=m->rank ){
      *pzWhy = sqlite3_mprintf("the membership of %s derived from the cut's "
          "chain (role %d, cover %d) is not the snapshot's (role %d, cover %d)",
          zKey, row.role, iCover, m->role, m->cover);
      if( *pzWhy==0 ) rc = SQLITE_NOMEM;
    }
  }
  for(u=1; rc==SQLITE_OK && *pzWhy==0 && u<pm->nUser; u++){
    MemberRow row;
    member_row(pm, g, u, &row);
    if( row.role ) nHere++;
  }
  if( rc==SQLITE_OK && *pzWhy==0 && nHere!=nShown ){
    *pzWhy = sqlite3_mprintf("the cut's chain gives %d members, the "
                             "snapshot %d", nHere, nShown);
    if( *pzWhy==0 ) rc = SQLITE_NOMEM;
  }
  return rc;
}
