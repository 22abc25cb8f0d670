/*
** bench_frost.c - the cost of the threshold root's arithmetic (bec_frost.c),
** in memory, without ops or storage:
**   signing 3-of-5: one commitment, one signature share, one share check,
**   the aggregation (which ends in crypto_sign_verify_detached), and the
**   plain verification of the result, which is what every replica pays to
**   check a root op, the same as for any op;
**   key generation 3-of-5 and 7-of-10: one dealer's deal (polynomial,
**   commitments, proof of possession, n sealed boxes), one deal check,
**   one holder's finish (n boxes opened, summed Feldman check), all public
**   keys, the whole key generation done by one process (n deals, every deal
**   checked once, n finishes), and the bytes a deal carries.
** Medians of N_RUN runs, one core.
**
** Usage: build/bench_frost
*/
#include "becInt.h"

#define BENCH_NAME "bench_frost"
#include "benchutil.h"

#include <sodium.h>

#define N_RUN 31

static void fail(const char *zWhat){
  fprintf(stderr, BENCH_NAME ": %s failed\n", zWhat);
  exit(1);
}

typedef struct Dkg Dkg;
struct Dkg {
  int k, n;
  u8 aGid[32], aSid[32];
  u8 aPub[BEC_FROST_MAX_HOLDERS][BEC_PUBKEY_BYTES];
  u8 aSec[BEC_FROST_MAX_HOLDERS][BEC_SECKEY_BYTES];
  BecFrostDeal aDeal[BEC_FROST_MAX_HOLDERS];
  u8 *aBoxes;
  BecFrostKey aKey[BEC_FROST_MAX_HOLDERS];
  u8 aY[32];
  u8 aPk[BEC_FROST_MAX_HOLDERS][32];
};

/* One figure: the median of a[0..N_RUN-1] in milliseconds. */
static void row(const char *zLabel, double *a){
  printf("  %-45s %8.3f ms\n", zLabel, 1e3*median(a, N_RUN));
}

static void setup(Dkg *p, int k, int n){
  int i;
  memset(p, 0, sizeof(*p));
  p->k = k;
  p->n = n;
  randombytes_buf(p->aGid, 32);
  randombytes_buf(p->aSid, 32);
  for(i=0; i<n; i++) crypto_sign_keypair(p->aPub[i], p->aSec[i]);
  p->aBoxes = malloc((size_t)n*n*BEC_FROST_BOX_BYTES);
  if( p->aBoxes==0 ) fail("malloc");
}

static void teardown(Dkg *p){
  sodium_memzero(p->aKey, sizeof(p->aKey));
  sodium_memzero(p->aSec, sizeof(p->aSec));
  free(p->aBoxes);
}

static u8 *box_of(Dkg *p, int i, int j){
  return &p->aBoxes[((i-1)*p->n + (j-1))*BEC_FROST_BOX_BYTES];
}

static void deal(Dkg *p, int i){
  if( bec_frost_dkg_deal(p->aGid, p->aSid, i, p->k, p->n,
                         (const u8(*)[BEC_PUBKEY_BYTES])p->aPub,
                         &p->aDeal[i-1], box_of(p, i, 1)) ) fail("deal");
}
static void check(Dkg *p, int i){
  if( bec_frost_dkg_check_deal(p->aGid, p->aSid, &p->aDeal[i-1], 0) ){
    fail("check");
  }
}
static void finish(Dkg *p, int j){
  const u8 *apBox[BEC_FROST_MAX_HOLDERS];
  int i, iBad;
  for(i=1; i<=p->n; i++) apBox[i-1] = box_of(p, i, j);
  if( bec_frost_dkg_finish(p->aSid, j, p->aDeal, p->n, apBox, p->aSec[j-1],
                           &p->aKey[j-1], &iBad, 0) ) fail("finish");
}
static void dkg_all(Dkg *p){
  int i;
  for(i=1; i<=p->n; i++) deal(p, i);
  for(i=1; i<=p->n; i++) check(p, i);
  for(i=1; i<=p->n; i++) finish(p, i);
  if( bec_frost_dkg_public(p->aDeal, p->n, p->aY, p->aPk, 0) ) fail("public");
}

static void bench_dkg(int k, int n){
  Dkg d;
  double aT[5][N_RUN];
  char zLabel[64];
  int r;
  setup(&d, k, n);
  for(r=0; r<N_RUN; r++){
    double t0 = now(), t1, t2, t3, t4, t5;
    dkg_all(&d);
    t1 = now();
    deal(&d, 1);
    t2 = now();
    check(&d, 1);
    t3 = now();
    finish(&d, 1);
    t4 = now();
    if( bec_frost_dkg_public(d.aDeal, n, d.aY, d.aPk, 0) ) fail("public");
    t5 = now();
    aT[0][r] = t1-t0; aT[1][r] = t2-t1; aT[2][r] = t3-t2;
    aT[3][r] = t4-t3; aT[4][r] = t5-t4;
  }
  printf("DKG %d-of-%d: deal %d bytes (%d commitments, PoP 64, %d boxes of %d)"
         ", %d deals + %d acks = %d ops\n", k, n,
         k*BEC_FROST_POINT_BYTES + 64 + n*BEC_FROST_BOX_BYTES, k, n,
         BEC_FROST_BOX_BYTES, n, n, 2*n);
  row("whole key generation, one process", aT[0]);
  row("one dealer: deal", aT[1]);
  row("anyone: check one deal (PoP, points)", aT[2]);
  snprintf(zLabel, sizeof(zLabel),
           "one holder: finish (open %d boxes, Feldman)", n);
  row(zLabel, aT[3]);
  snprintf(zLabel, sizeof(zLabel), "anyone: Y and PK_1..PK_%d", n);
  row(zLabel, aT[4]);
  teardown(&d);
}

static void bench_sign(void){
  Dkg d;
  double aT[6][N_RUN];
  u8 aMsg[73], aSig[64];
  int r, j;
  setup(&d, 3, 5);
  dkg_all(&d);
  randombytes_buf(aMsg, sizeof(aMsg));
  for(r=0; r<N_RUN; r++){
    BecFrostNonce aNonce[3];
    BecFrostCommit aList[3];
    u8 aZ[3][32], aPk[3][32];
    double t0, t1, t2, t3, t4, t5, t6;
    int iBad;
    t0 = now();
    for(j=0; j<3; j++){
      if( bec_frost_commit(&d.aKey[j], &aNonce[j]) ) fail("commit");
      aList[j] = aNonce[j].commit;
      memcpy(aPk[j], d.aPk[j], 32);
    }
    t1 = now();
    for(j=0; j<3; j++){
      if( bec_frost_sign(&d.aKey[j], &aNonce[j], aList, 3, aMsg, 73, aZ[j],
                         0) ) fail("sign");
    }
    t2 = now();
    if( bec_frost_verify_share(1, aPk[0], aZ[0], aList, 3, d.aY, aMsg, 73, 0) ){
      fail("verify share");
    }
    t3 = now();
    if( bec_frost_aggregate(aList, 3, (const u8(*)[32])aZ,
                            (const u8(*)[32])aPk, d.aY, aMsg, 73, aSig,
                            &iBad, 0) ) fail("aggregate");
    t4 = now();
    if( crypto_sign_verify_detached(aSig, aMsg, 73, d.aY) ) fail("verify");
    t5 = now();
    aZ[2][0] ^= 1;   /* a bad share: the aggregate fails and names it */
    if( bec_frost_aggregate(aList, 3, (const u8(*)[32])aZ,
                            (const u8(*)[32])aPk, d.aY, aMsg, 73, aSig,
                            &iBad, 0)==SQLITE_OK || iBad!=3 ) fail("blame");
    t6 = now();
    aT[0][r] = (t1-t0)/3; aT[1][r] = (t2-t1)/3; aT[2][r] = t3-t2;
    aT[3][r] = t4-t3; aT[4][r] = t5-t4; aT[5][r] = t6-t5;
  }
  printf("signing 3-of-5, 73-byte message (an op's signed message)\n");
  row("commit (one holder)", aT[0]);
  row("sign (one share)", aT[1]);
  row("check one share", aT[2]);
  row("aggregate 3 shares (+ verify)", aT[3]);
  row("verify the root signature (any op's cost)", aT[4]);
  row("aggregate with a bad share, named", aT[5]);
  teardown(&d);
}

int main(void){
  if( bec_crypto_init() ) fail("sodium_init");
  printf("bench_frost: medians of %d runs, one core\n", N_RUN);
  bench_sign();
  bench_dkg(3, 5);
  bench_dkg(7, 10);
  return 0;
}
