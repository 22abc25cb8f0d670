/*
** test_bundle.c - the compact bulk encoding of ops (bec_bundle.c,
** COMPACTION.md §8): real ops of two authors, with concurrent branches and
** predecessors outside the bundle, round-trip byte for byte through
** bec_bundle_encode / bec_bundle_decode and through a sync message, in
** fewer bytes; every truncation and every hostile bundle below is refused
** with a "malformed sync message: bundle: ..." reason and nothing leaks.
*/
#include "becInt.h"
#include "bec.h"
#include "bectest.h"

/* Every op of db in seq order, framed as bec_syncmsg_add_op frames them;
** from seq iFrom on. */
static int frames_of(sqlite3 *db, int iFrom, BecBuf *pOut){
  sqlite3_stmt *pStmt = 0;
  int rc = SQLITE_OK, n = 0;
  memset(pOut, 0, sizeof(*pOut));
  CHECK(sqlite3_prepare_v2(db, "SELECT body FROM bec_store_op WHERE seq>=?1 "
                           "ORDER BY seq", -1, &pStmt, 0)==SQLITE_OK);
  sqlite3_bind_int(pStmt, 1, iFrom);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    bec_syncmsg_add_op(pOut, sqlite3_column_blob(pStmt, 0),
                       sqlite3_column_bytes(pStmt, 0), &rc);
    n++;
  }
  sqlite3_finalize(pStmt);
  CHECK(rc==SQLITE_OK);
  return n;
}

/* bec_ingest into dst every op of src from seq iFrom on. */
static void copy_ops(sqlite3 *src, sqlite3 *dst, int iFrom){
  BecBuf f;
  BecReader rd;
  int k, n = frames_of(src, iFrom, &f);
  rd.a = f.a; rd.n = f.n; rd.i = 0;
  for(k=0; k<n; k++){
    u64 len = 0;
    const u8 *x = 0;
    sqlite3_stmt *pStmt = 0;
    CHECK(bec_read_varint(&rd, &len, BEC_MAX_OP_BYTES)==0);
    CHECK(bec_read_bytes(&rd, (i64)len, &x)==0);
    sqlite3_prepare_v2(dst, "SELECT bec_ingest(?1)", -1, &pStmt, 0);
    sqlite3_bind_blob(pStmt, 1, x, (int)len, SQLITE_STATIC);
    CHECK(sqlite3_step(pStmt)==SQLITE_ROW);
    sqlite3_finalize(pStmt);
  }
  bec_buf_free(&f);
}

static int decode_fails(const u8 *a, i64 n, const u8 *aTag, const char *zWant){
  BecBuf out;
  char *zErr = 0;
  int nOp = 0, bOk;
  memset(&out, 0, sizeof(out));
  bOk = bec_bundle_decode(a, n, aTag, BEC_SYNC_MAX_OPS, &out, &nOp, &zErr)!=SQLITE_OK
     && zErr && strstr(zErr, "malformed sync message: bundle:")
     && (zWant==0 || strstr(zErr, zWant));
  if( !bOk ) printf("# got: %s\n", zErr ? zErr : "(no error)");
  sqlite3_free(zErr);
  bec_buf_free(&out);
  return bOk;
}

int main(void){
  sqlite3 *a = 0, *b = 0;
  BecBuf frames, bundle, back, msg;
  BecSyncMsg m, d;
  u8 aTag[BEC_GROUP_TAG_BYTES];
  char zSql[400], *zErr = 0;
  int nOp, nBack = 0, bDone = 0, i, rc = SQLITE_OK;

  CHECK(sqlite3_auto_extension((void(*)(void))sqlite3_bec_init)==SQLITE_OK);
  CHECK(sqlite3_open(":memory:", &a)==SQLITE_OK);
  CHECK(sqlite3_open(":memory:", &b)==SQLITE_OK);
  bt_q(a, "SELECT bec_keygen()");
  bt_q(a, "SELECT bec_create_group()");
  bt_q(b, "SELECT bec_keygen()");
  snprintf(zSql, sizeof(zSql), "SELECT bec_join('%s')", bt_q(a, "SELECT bec_group_id()"));
  bt_q(b, zSql);
  snprintf(zSql, sizeof(zSql), "SELECT bec_add_member('%s', 'member')",
           bt_q(b, "SELECT bec_pubkey()"));
  bt_q(a, zSql);
  /* b gets a's ops; then both write concurrently: two branches. */
  copy_ops(a, b, 1);
  for(i=0; i<100; i++){
    CHECK(strlen(bt_q(a, "SELECT bec_sign(randomblob(16))"))==64 || (i = 100) );
    CHECK(strlen(bt_q(b, "SELECT bec_sign(randomblob(16))"))==64 || (i = 100) );
  }
  /* a takes b's ops: a's store now has both branches, interleaved. */
  copy_ops(b, a, 3);
  bt_q(a, "SELECT bec_sign(x'00')");              /* merges both branches */
  CHECK(bec_hex_decode(bt_q(a, "SELECT bec_group_id()"), 16, aTag, 8)==8);

  /* From seq 3 on: the first ops' ids are outside predecessors. */
  nOp = frames_of(a, 3, &frames);
  CHECK_MSG(nOp>=200, "%d ops", nOp);
  memset(&bundle, 0, sizeof(bundle));
  memset(&back, 0, sizeof(back));
  CHECK(bec_bundle_encode(&bundle, frames.a, frames.n, nOp, &bDone)==SQLITE_OK);
  CHECK(bDone);
  CHECK(bec_bundle_decode(bundle.a, bundle.n, aTag, BEC_SYNC_MAX_OPS, &back,
                          &nBack, &zErr)==SQLITE_OK);
  CHECK_MSG(zErr==0, "%s", zErr);
  CHECK(nBack==nOp);
  CHECK(back.n==frames.n && memcmp(back.a, frames.a, (size_t)frames.n)==0);
  printf("# %d ops: %lld bytes as a list, %lld as a bundle (%.1f per op, "
         "payload 16 + signature 64)\n", nOp, (long long)frames.n,
         (long long)bundle.n, (double)bundle.n/nOp);
  CHECK(bundle.n*10 < frames.n*6);
  CHECK((double)bundle.n/nOp < 1.15*(64+16+8+4));   /* app ops: + a kind byte */

  /* Through a sync message. */
  memset(&m, 0, sizeof(m));
  memset(&msg, 0, sizeof(msg));
  m.aGroupTag = aTag;
  m.aSession = (const u8*)"sessionX";
  m.nOp = nOp;
  bec_syncmsg_encode(&msg, &m, &frames, &rc);
  CHECK(rc==SQLITE_OK);
  CHECK(bec_syncmsg_decode(msg.a, msg.n, &d, &zErr)==SQLITE_OK);
  CHECK(d.flags & BEC_SYNC_F_BUNDLE);
  CHECK(d.nOp==nOp && d.nOps==frames.n && memcmp(d.aOps, frames.a, (size_t)frames.n)==0);
  bec_syncmsg_free(&d);
  /* Fewer than BEC_SYNC_BUNDLE_MIN_OPS: a list. */
  {
    BecBuf few, m2;
    i64 off = 0;
    int k, n2 = 0;
    BecReader rd;
    memset(&few, 0, sizeof(few));
    memset(&m2, 0, sizeof(m2));
    rd.a = frames.a; rd.n = frames.n; rd.i = 0;
    for(k=0; k<BEC_SYNC_BUNDLE_MIN_OPS-1; k++){
      u64 len = 0;
      const u8 *x = 0;
      CHECK(bec_read_varint(&rd, &len, BEC_MAX_OP_BYTES)==0 && bec_read_bytes(&rd, (i64)len, &x)==0);
      bec_syncmsg_add_op(&few, x, (i64)len, &rc);
      n2++;
    }
    m.nOp = n2;
    bec_syncmsg_encode(&m2, &m, &few, &rc);
    CHECK(bec_syncmsg_decode(m2.a, m2.n, &d, &zErr)==SQLITE_OK);
    CHECK((d.flags & BEC_SYNC_F_BUNDLE)==0 && d.nOp==n2);
    bec_syncmsg_free(&d);
    (void)off;
    bec_buf_free(&few);
    bec_buf_free(&m2);
  }

  /* Every truncation of the bundle is refused. */
  for(i=0; i<bundle.n; i+= (i<4000 ? 1 : 97)){
    if( !decode_fails(bundle.a, i, aTag, 0) ){
      CHECK_MSG(0, "truncated at %d", i);
      break;
    }
  }
  /* Hostile bundles, each a clear reason. */
  {
    static const u8 aV2[] = { 2 };
    static const u8 aTooMany[] = { 1, 2, 0 };  /* 2 authors, bytes missing */
    u8 x[400];
    int n;
    CHECK(decode_fails(aV2, 1, aTag, "unknown version"));
    CHECK(decode_fails(aTooMany, 3, aTag, "author table"));
    /* 1 author, 0 ext, 0 ops: more authors than ops. */
    memset(x, 0, sizeof(x));
    x[0] = 1; x[1] = 1; x[34] = 0; x[35] = 0;
    CHECK(decode_fails(x, 36, aTag, "more authors"));
    /* 0 authors, 2 ext ids not increasing, 2 ops. */
    x[0] = 1; x[1] = 0; x[2] = 2; memset(&x[3], 7, 64); x[67] = 2;
    CHECK(decode_fails(x, 68, aTag, "not sorted"));
    /* 1 author, no ext, 1 op: a header-only kind. */
    n = 0;
    x[n++] = 1; x[n++] = 1; memset(&x[n], 9, 32); n += 32; x[n++] = 0; x[n++] = 1;
    x[n++] = 4 | 0x80;
    CHECK(decode_fails(x, n, aTag, "header-only"));
    /* ... author index out of range. */
    x[n-1] = 4; x[n++] = 1;
    CHECK(decode_fails(x, n, aTag, "author index"));
    /* ... a predecessor ref with nothing to refer to. */
    x[n-1] = 0; x[n++] = 1; x[n++] = 0;
    CHECK(decode_fails(x, n, aTag, "reference out of range"));
    /* ... an op that is no op (a bad signature is judged later, but an
    ** app op with no predecessor is malformed at once). */
    n -= 2;
    x[n++] = 0;                 /* n_pred 0 */
    x[n++] = 0;                 /* n_epoch */
    x[n++] = 1; x[n++] = 'p';   /* payload */
    memset(&x[n], 0, 64); n += 64;
    CHECK(decode_fails(x, n, aTag, "is not an op"));
    /* Trailing bytes after a valid bundle. */
    bec_buf_append_u8(&bundle, 0, &rc);
    CHECK(decode_fails(bundle.a, bundle.n, aTag, "trailing"));
    bundle.n--;
    /* A ref that makes predecessors unsorted: flip the first op with two
    ** predecessors' refs is covered by the op decoder ("not an op"). */
  }
  /* Frames that are not ops: the encoder declines, the caller sends a list. */
  {
    BecBuf junk, out;
    int k;
    memset(&junk, 0, sizeof(junk));
    memset(&out, 0, sizeof(out));
    for(k=0; k<BEC_SYNC_BUNDLE_MIN_OPS; k++) bec_syncmsg_add_op(&junk, (const u8*)"abc", 3, &rc);
    CHECK(bec_bundle_encode(&out, junk.a, junk.n, BEC_SYNC_BUNDLE_MIN_OPS, &bDone)==SQLITE_OK);
    CHECK(!bDone && out.n==0);
    bec_buf_free(&junk);
  }

  bec_buf_free(&frames);
  bec_buf_free(&bundle);
  bec_buf_free(&back);
  bec_buf_free(&msg);
  sqlite3_free(zErr);
  CHECK(sqlite3_close(a)==SQLITE_OK);
  CHECK(sqlite3_close(b)==SQLITE_OK);
  return bt_done();
}
