/*
** becsync - reconcile bec databases, between two files, over TCP, or over
** any pipe (so `ssh host becsync --stdio db` is a transport):
**
**   becsync A.db B.db                           both files, both ways
**   becsync serve DB --listen 127.0.0.1:PORT    serve peers one after another
**          [--peer HOST:PORT]... [--interval SECS] [--max-sessions N]
**   becsync sync DB HOST:PORT                   one session with a server
**   becsync sync DB --exec 'ssh host becsync --stdio db'
**   becsync --stdio DB                          the serving side on stdin/out
**
** Options: --quiet (no progress line), --timeout SECS (I/O, default 30),
** --handshake-timeout SECS (default 10), --label NAME (the peer's name in
** bec_peers; default "key:<its key>", or "file:<path>" for files).
**
** Channel (docs/sync.md, "becsync"): each side sends a hello in clear
**   "BECS" | version 1 | role 'C' or 'S' | group id (32) | identity key (32)
**   | ephemeral X25519 key (32)
** then both derive session keys with crypto_kx (the connecting side is the
** kx client) and send a crypto_secretstream_xchacha20poly1305 header.
** Every later frame is a 4-byte big-endian length and one secretstream
** message whose first plaintext byte is its type: 'A' the sender's Ed25519
** signature (bec_sync_auth_sign) of client hello || server hello || its
** role; 'K' the sender accepts the peer; 'M' a sync message; 'D' nothing
** more to say; 'E' an error text.  After checking the peer's signature,
** each side asks bec_sync_peer_allowed(peer key) and sends 'K' or 'E'; no
** sync message moves before both sides have sent 'K', so a peer that is
** not a member gets an 'E' frame and nothing else (no op, no head).
**
** Before authentication (BEFORE AUTH): until both sides have sent 'K', the
** peer is unknown, so what it can make this side do is bounded.  The whole
** handshake, reads and writes and the closing drain, has one total
** deadline (--handshake-timeout, HANDSHAKE_TIMEOUT seconds by default) that
** starts when the session starts: a peer trickling its hello one byte at a
** time gains nothing, since no byte it sends moves the deadline.  A frame
** announced before authentication is refused, before anything is allocated
** for it, when its length exceeds PREAUTH_MAX_FRAME (the handshake's own
** frames, 'A' 'K' 'E', are under 200 bytes).  Only after the peer's 'K'
** (its signature checked, bec_sync_peer_allowed said yes, and it accepted
** us) may a frame be as large as MAX_FRAME; from then on each read or write
** must make progress within --timeout seconds.  Both roles apply the same
** rules, so a hostile server cannot hold or bloat a client either.
**
** Exit codes: 0 in sync; 1 usage; 2 local database error; 3 transport
** error (connect, I/O, timeout, end of stream); 4 authentication failed or
** refused (not a member); 5 protocol error (malformed message, a bound
** exceeded, the peer reported an error); 6 the session ended out of sync.
*/
#include "bec.h"

#include <sqlite3.h>
#include <sodium.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_OK       0
#define EXIT_USAGE    1
#define EXIT_LOCAL    2
#define EXIT_NET      3
#define EXIT_AUTH     4
#define EXIT_PROTO    5
#define EXIT_NOSYNC   6

#define HELLO_BYTES   (4 + 1 + 1 + 32 + 32 + 32)
#define MAX_FRAME     (64*1024*1024 + 1 + 17)
/* Before authentication (see BEFORE AUTH above).  The bound is part of the
** protocol, so it is not an option: both sides must agree on it. */
#define PREAUTH_MAX_FRAME  1024
#define HANDSHAKE_TIMEOUT  10
/* Closing drains what the peer still sends so that a refusal is not lost to
** a reset, for at most this long in total (and never past the handshake
** deadline of a peer that did not authenticate). */
#define CLOSE_DRAIN_SECS   1
#define SS_state      crypto_secretstream_xchacha20poly1305_state
#define SS_push       crypto_secretstream_xchacha20poly1305_push
#define SS_pull       crypto_secretstream_xchacha20poly1305_pull
#define SS_init_push  crypto_secretstream_xchacha20poly1305_init_push
#define SS_init_pull  crypto_secretstream_xchacha20poly1305_init_pull
#define SS_ABYTES     crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADERBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE

typedef unsigned char u8;

static int bQuiet = 0;
static int nTimeout = 30;
static int nHandshakeTimeout = HANDSHAKE_TIMEOUT;
static const char *zLabelOpt = 0;

/* Counters of one session, for the progress line and the summary. */
typedef struct Stats Stats;
struct Stats {
  int nRound;
  long long nOpsSent, nOpsRecv, nBytesSent, nBytesRecv;
  double tStart;
};

/* Seconds on the monotonic clock: deadlines must not move with the date. */
static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec/1e9;
}

static void progress(const Stats *st){
  if( bQuiet || !isatty(2) ) return;
  fprintf(stderr, "\rbecsync: round %d  sent %lld ops %lld B  received %lld ops "
          "%lld B   ", st->nRound, st->nOpsSent, st->nBytesSent, st->nOpsRecv,
          st->nBytesRecv);
  fflush(stderr);
}

static void progress_end(void){
  if( !bQuiet && isatty(2) ) fprintf(stderr, "\r%70s\r", "");
}

/**************************************************************************
** The database side: everything goes through bec's SQL functions.
*/
static int db_open(const char *zPath, sqlite3 **pDb){
  int rc = sqlite3_open_v2(zPath, pDb, SQLITE_OPEN_READWRITE, 0);
  if( rc ){
    fprintf(stderr, "becsync: cannot open %s: %s\n", zPath,
            *pDb ? sqlite3_errmsg(*pDb) : sqlite3_errstr(rc));
    return EXIT_LOCAL;
  }
  sqlite3_busy_timeout(*pDb, 10000);
  return EXIT_OK;
}

/* Runs zSql with blob/text arguments; the first column of the first row is
** returned in *ppOut and *pn (from malloc, 0 for NULL).  Non-zero on error, with
** the message in *pzErr (malloc'd). */
static int db_call(sqlite3 *db, const char *zSql, int nArg, const void **aArg,
                   const int *anArg, const int *abText, u8 **ppOut, int *pn,
                   char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  int i;
  if( ppOut ){ *ppOut = 0; *pn = 0; }
  for(i=0; rc==SQLITE_OK && i<nArg; i++){
    if( abText && abText[i] ) sqlite3_bind_text(pStmt, i+1, aArg[i], anArg[i], SQLITE_STATIC);
    else sqlite3_bind_blob(pStmt, i+1, aArg[i], anArg[i], SQLITE_STATIC);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      rc = SQLITE_OK;
      if( ppOut && sqlite3_column_type(pStmt, 0)!=SQLITE_NULL ){
        int n = sqlite3_column_bytes(pStmt, 0);
        const void *a = sqlite3_column_blob(pStmt, 0);
        *ppOut = malloc((size_t)n + 1);
        if( *ppOut==0 ){
          rc = SQLITE_NOMEM;
        }else{
          if( n ) memcpy(*ppOut, a, (size_t)n);
          (*ppOut)[n] = 0;
          *pn = n;
        }
      }
    }else if( rc==SQLITE_DONE ){
      rc = SQLITE_OK;
    }
  }
  if( rc && pzErr ) *pzErr = strdup(sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  return rc;
}

/* A hex text result of a no-argument function as bytes; 0 if NULL. */
static int db_hex(sqlite3 *db, const char *zSql, u8 *aOut, int nOut){
  u8 *z = 0;
  int n = 0, i;
  if( db_call(db, zSql, 0, 0, 0, 0, &z, &n, 0) || z==0 || n!=nOut*2 ){
    free(z);
    return 0;
  }
  for(i=0; i<nOut; i++){
    unsigned v;
    sscanf((const char*)&z[i*2], "%2x", &v);
    aOut[i] = (u8)v;
  }
  free(z);
  return 1;
}

/* The JSON state of the session with zLabel: in sync? and counters. */
static int db_state(sqlite3 *db, const char *zLabel, Stats *st, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int bInSync = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT json_extract(s,'$.in_sync'),"
      " json_extract(s,'$.ops_sent'), json_extract(s,'$.ops_received'),"
      " json_extract(s,'$.error') FROM (SELECT bec_sync_state(?1) AS s)",
      -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zLabel, -1, SQLITE_STATIC);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      bInSync = sqlite3_column_int(pStmt, 0);
      st->nOpsSent = sqlite3_column_int64(pStmt, 1);
      st->nOpsRecv = sqlite3_column_int64(pStmt, 2);
      if( pzErr && sqlite3_column_type(pStmt, 3)==SQLITE_TEXT ){
        *pzErr = strdup((const char*)sqlite3_column_text(pStmt, 3));
      }
    }
  }
  sqlite3_finalize(pStmt);
  return bInSync;
}

static void hex(const u8 *a, int n, char *z){
  int i;
  for(i=0; i<n; i++) sprintf(&z[i*2], "%02x", a[i]);
}

static void summary(FILE *f, const char *zLabel, int bInSync, const Stats *st,
                    const char *zWhy){
  progress_end();
  fprintf(f, "becsync: %s %s after %d messages: sent %lld ops (%lld B), "
          "received %lld ops (%lld B), %.2f s%s%s\n",
          bInSync ? "in sync with" : "NOT in sync with", zLabel, st->nRound,
          st->nOpsSent, st->nBytesSent, st->nOpsRecv, st->nBytesRecv,
          now() - st->tStart, zWhy ? ": " : "", zWhy ? zWhy : "");
  fflush(f);
}

/**************************************************************************
** File to file.
*/
static int sync_files(const char *zA, const char *zB){
  sqlite3 *dbA = 0, *dbB = 0;
  char *zLabelA = 0, *zLabelB = 0, *zErr = 0;
  char zRealA[4096], zRealB[4096];
  u8 *m = 0;
  int n = 0, rc, bSync = 0, iSide = 0;
  Stats st;
  memset(&st, 0, sizeof(st));
  st.tStart = now();
  if( realpath(zA, zRealA)==0 || realpath(zB, zRealB)==0 ){
    fprintf(stderr, "becsync: cannot find %s\n", realpath(zA, zRealA) ? zB : zA);
    return EXIT_LOCAL;
  }
  if( db_open(zA, &dbA) || db_open(zB, &dbB) ){
    sqlite3_close(dbA);
    sqlite3_close(dbB);
    return EXIT_LOCAL;
  }
  /* Each side names the other. */
  zLabelB = sqlite3_mprintf("file:%s", zRealB);
  zLabelA = sqlite3_mprintf("file:%s", zRealA);
  rc = db_call(dbA, "SELECT bec_sync_offer(?1)", 1, (const void*[]){zLabelB},
               (int[]){-1}, (int[]){1}, &m, &n, &zErr);
  if( m ){ st.nRound++; st.nBytesSent += n; }
  while( rc==SQLITE_OK && m ){
    u8 *r = 0;
    int nr = 0;
    sqlite3 *db = iSide==0 ? dbB : dbA;
    const char *zL = iSide==0 ? zLabelA : zLabelB;
    rc = db_call(db, "SELECT bec_sync_apply(?1, ?2)", 2,
                 (const void*[]){zL, m}, (int[]){-1, n}, (int[]){1, 0},
                 &r, &nr, &zErr);
    free(m);
    m = r;
    n = nr;
    if( m ){
      st.nRound++;
      if( iSide==0 ) st.nBytesRecv += n; else st.nBytesSent += n;
    }
    iSide = !iSide;
    progress(&st);
  }
  free(m);
  if( rc ){
    progress_end();
    fprintf(stderr, "becsync: %s\n", zErr ? zErr : sqlite3_errstr(rc));
    rc = strstr(zErr ? zErr : "", "malformed") || strstr(zErr ? zErr : "", "bec_sync")
       ? EXIT_PROTO : EXIT_LOCAL;
  }else{
    Stats s2;
    memset(&s2, 0, sizeof(s2));
    bSync = db_state(dbA, zLabelB, &st, 0) && db_state(dbB, zLabelA, &s2, 0);
    summary(stdout, zB, bSync, &st, 0);
    rc = bSync ? EXIT_OK : EXIT_NOSYNC;
  }
  free(zErr);
  sqlite3_free(zLabelA);
  sqlite3_free(zLabelB);
  sqlite3_close(dbA);
  sqlite3_close(dbB);
  return rc;
}

/**************************************************************************
** The encrypted channel.
*/
typedef struct Chan Chan;
struct Chan {
  int fdIn, fdOut;
  int bSecure;          /* the secretstream states are set */
  int bAuthed;          /* the peer sent 'K': large frames, no total deadline */
  double tDeadline;     /* end of the handshake (now() clock) */
  char zFail[160];      /* why the last read or write failed, or "" */
  SS_state push, pull;
};

/* Waits until fd is ready for ev (POLLIN or POLLOUT).  Before the peer is
** authenticated the wait ends at the handshake's total deadline; after, at
** --timeout seconds without progress.  0 when ready, -1 with ch->zFail set
** when time ran out. */
static int chan_wait(Chan *ch, int fd, short ev){
  for(;;){
    struct pollfd pfd;
    double dt = nTimeout;
    int r;
    if( !ch->bAuthed ){
      double dLeft = ch->tDeadline - now();
      if( dLeft<=0 ){
        snprintf(ch->zFail, sizeof(ch->zFail),
                 "not finished within %d s (--handshake-timeout)",
                 nHandshakeTimeout);
        return -1;
      }
      if( dLeft<dt ) dt = dLeft;
    }
    pfd.fd = fd;
    pfd.events = ev;
    pfd.revents = 0;
    r = poll(&pfd, 1, (int)(dt*1000) + 1);
    if( r<0 && errno==EINTR ) continue;
    if( r<0 ){
      snprintf(ch->zFail, sizeof(ch->zFail), "poll: %s", strerror(errno));
      return -1;
    }
    if( r>0 ) return 0;   /* ready, or an error/hangup the read will report */
    if( ch->bAuthed ){
      snprintf(ch->zFail, sizeof(ch->zFail),
               "no progress for %d s (--timeout)", nTimeout);
      return -1;
    }
  }
}

/* Writes in pieces of at most PIPE_BUF, which a descriptor that polled
** writable takes without blocking, so a peer that stops reading is caught by
** chan_wait's clock even on a pipe (a socket also has SO_SNDTIMEO). */
static int write_all(Chan *ch, const u8 *a, size_t n){
  while( n>0 ){
    ssize_t k;
    if( chan_wait(ch, ch->fdOut, POLLOUT) ) return -1;
    k = write(ch->fdOut, a, n<PIPE_BUF ? n : PIPE_BUF);
    if( k<0 && (errno==EINTR || errno==EAGAIN) ) continue;
    if( k<=0 ){
      snprintf(ch->zFail, sizeof(ch->zFail), "write: %s",
               k<0 ? strerror(errno) : "nothing written");
      return -1;
    }
    a += k;
    n -= (size_t)k;
  }
  return 0;
}

static int read_all(Chan *ch, u8 *a, size_t n){
  while( n>0 ){
    ssize_t k;
    if( chan_wait(ch, ch->fdIn, POLLIN) ) return -1;
    k = read(ch->fdIn, a, n);
    if( k<0 && (errno==EINTR || errno==EAGAIN) ) continue;
    if( k<=0 ){
      snprintf(ch->zFail, sizeof(ch->zFail), "%s",
               k<0 ? strerror(errno) : "the peer closed the connection");
      return -1;
    }
    a += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Sends one frame: type byte + payload, encrypted. */
static int chan_send(Chan *ch, char type, const u8 *a, size_t n){
  size_t nPlain = n + 1, nCt = nPlain + SS_ABYTES;
  u8 *aPlain = malloc(nPlain), *aFrame = malloc(nCt + 4);
  int rc = -1;
  if( aPlain && aFrame ){
    aPlain[0] = (u8)type;
    if( n ) memcpy(&aPlain[1], a, n);
    SS_push(&ch->push, &aFrame[4], 0, aPlain, nPlain, 0, 0, SS_TAG_MESSAGE);
    aFrame[0] = (u8)(nCt>>24); aFrame[1] = (u8)(nCt>>16);
    aFrame[2] = (u8)(nCt>>8);  aFrame[3] = (u8)nCt;
    rc = write_all(ch, aFrame, nCt + 4);
  }
  free(aPlain);
  free(aFrame);
  return rc;
}

/* Receives one frame; *ppOut (malloc'd) holds the payload after the type.
** Returns 0, or EXIT_NET (I/O), EXIT_PROTO (bad frame) or EXIT_LOCAL (out
** of memory), with ch->zFail set.  The announced length is checked against
** the bound of the session's stage before anything is allocated for it:
** PREAUTH_MAX_FRAME until the peer is authenticated, MAX_FRAME after. */
static int chan_recv(Chan *ch, char *pType, u8 **ppOut, size_t *pn){
  u8 aLen[4];
  u8 *aCt = 0, *aPlain = 0;
  size_t nCt, nMax = ch->bAuthed ? MAX_FRAME : PREAUTH_MAX_FRAME;
  unsigned long long nPlain = 0;
  unsigned char tag = 0;
  *ppOut = 0;
  *pn = 0;
  if( read_all(ch, aLen, 4) ) return EXIT_NET;
  nCt = ((size_t)aLen[0]<<24) | ((size_t)aLen[1]<<16) | ((size_t)aLen[2]<<8) | aLen[3];
  if( nCt<SS_ABYTES+1 || nCt>nMax ){
    if( nCt>nMax ){
      snprintf(ch->zFail, sizeof(ch->zFail), "a frame of %zu bytes exceeds "
               "the limit of %zu%s", nCt, nMax,
               ch->bAuthed ? "" : " before authentication");
    }else{
      snprintf(ch->zFail, sizeof(ch->zFail), "a frame of %zu bytes is too short", nCt);
    }
    return EXIT_PROTO;
  }
  aCt = malloc(nCt);
  aPlain = malloc(nCt);
  if( aCt==0 || aPlain==0 ){
    free(aCt);
    free(aPlain);
    snprintf(ch->zFail, sizeof(ch->zFail), "out of memory for a frame of %zu bytes", nCt);
    return EXIT_LOCAL;
  }
  if( read_all(ch, aCt, nCt) ){
    free(aCt);
    free(aPlain);
    return EXIT_NET;
  }
  if( SS_pull(&ch->pull, aPlain, &nPlain, &tag, aCt, nCt, 0, 0) || nPlain<1 ){
    free(aCt);
    free(aPlain);
    snprintf(ch->zFail, sizeof(ch->zFail), "a frame failed to decrypt");
    return EXIT_PROTO;
  }
  free(aCt);
  *pType = (char)aPlain[0];
  memmove(aPlain, &aPlain[1], (size_t)nPlain - 1);
  *ppOut = aPlain;
  *pn = (size_t)nPlain - 1;
  return 0;
}

/* An error text the peer sent ('E'), for this side's log: printable ASCII
** only, so that no peer writes control sequences to a terminal (malloc'd). */
static char *peer_text(const char *zPrefix, const u8 *a, size_t n){
  size_t nPre = strlen(zPrefix), i;
  char *z = malloc(nPre + n + 1);
  if( z ){
    memcpy(z, zPrefix, nPre);
    for(i=0; i<n; i++) z[nPre+i] = (a[i]>=0x20 && a[i]<0x7f) ? (char)a[i] : '?';
    z[nPre+n] = 0;
  }
  return z;
}

/* Why the handshake stopped on a read or write (malloc'd). */
static char *handshake_why(const Chan *ch){
  char *z = malloc(sizeof(ch->zFail) + 40);
  if( z ) snprintf(z, sizeof(ch->zFail) + 40, "handshake: %s",
                   ch->zFail[0] ? ch->zFail : "the connection closed");
  return z;
}

/* A frame the handshake refused (too large, undecryptable): say so to the
** peer, which may be an honest newer version, then give up on it. */
static int handshake_refuse(Chan *ch, int rc, char **pzWhy){
  *pzWhy = handshake_why(ch);
  if( rc==EXIT_PROTO && ch->bSecure ){
    (void)chan_send(ch, 'E', (const u8*)ch->zFail, strlen(ch->zFail));
  }
  return rc;
}

/* The handshake: hellos, keys, mutual signatures, membership, all before
** one total deadline and with frames bounded by PREAUTH_MAX_FRAME (see
** BEFORE AUTH at the top).  On success *pzLabel (sqlite3_malloc'd) names the
** peer and ch->bAuthed is set. */
static int handshake(sqlite3 *db, Chan *ch, int bClient, char **pzLabel,
                     char **pzWhy){
  u8 aMine[HELLO_BYTES], aTheirs[HELLO_BYTES], aTranscript[2*HELLO_BYTES + 1];
  u8 aKxPk[crypto_kx_PUBLICKEYBYTES], aKxSk[crypto_kx_SECRETKEYBYTES];
  u8 aRx[crypto_kx_SESSIONKEYBYTES], aTx[crypto_kx_SESSIONKEYBYTES];
  u8 aHdr[SS_HEADERBYTES], aPeerHdr[SS_HEADERBYTES];
  u8 aGroup[32], aPub[32], aPeerPub[32];
  u8 *aSig = 0, *aOk = 0, *aFrame = 0;
  int nSig = 0, nOk = 0, rc = EXIT_OK, bAllowed = 0;
  size_t nFrame = 0;
  char type = 0;
  char zHex[65];

  *pzWhy = 0;
  ch->bAuthed = 0;
  ch->tDeadline = now() + nHandshakeTimeout;
  if( !db_hex(db, "SELECT bec_group_id()", aGroup, 32) ){
    *pzWhy = strdup("this database has no group (bec_create_group or bec_join)");
    return EXIT_LOCAL;
  }
  if( !db_hex(db, "SELECT bec_pubkey()", aPub, 32) ){
    *pzWhy = strdup("this database has no identity key (bec_keygen)");
    return EXIT_LOCAL;
  }
  crypto_kx_keypair(aKxPk, aKxSk);
  memcpy(aMine, "BECS", 4);
  aMine[4] = 1;
  aMine[5] = bClient ? 'C' : 'S';
  memcpy(&aMine[6], aGroup, 32);
  memcpy(&aMine[38], aPub, 32);
  memcpy(&aMine[70], aKxPk, 32);
  if( write_all(ch, aMine, HELLO_BYTES)
   || read_all(ch, aTheirs, HELLO_BYTES) ){
    *pzWhy = handshake_why(ch);
    return EXIT_NET;
  }
  if( memcmp(aTheirs, "BECS", 4) || aTheirs[4]!=1
   || aTheirs[5]!=(bClient ? 'S' : 'C') ){
    *pzWhy = strdup("the peer does not speak becsync version 1");
    return EXIT_PROTO;
  }
  if( memcmp(&aTheirs[6], aGroup, 32) ){
    *pzWhy = strdup("the peer belongs to another group");
    return EXIT_AUTH;
  }
  memcpy(aPeerPub, &aTheirs[38], 32);
  if( bClient ){
    if( crypto_kx_client_session_keys(aRx, aTx, aKxPk, aKxSk, &aTheirs[70]) ){
      *pzWhy = strdup("bad key exchange");
      return EXIT_AUTH;
    }
    memcpy(aTranscript, aMine, HELLO_BYTES);
    memcpy(&aTranscript[HELLO_BYTES], aTheirs, HELLO_BYTES);
  }else{
    if( crypto_kx_server_session_keys(aRx, aTx, aKxPk, aKxSk, &aTheirs[70]) ){
      *pzWhy = strdup("bad key exchange");
      return EXIT_AUTH;
    }
    memcpy(aTranscript, aTheirs, HELLO_BYTES);
    memcpy(&aTranscript[HELLO_BYTES], aMine, HELLO_BYTES);
  }
  sodium_memzero(aKxSk, sizeof(aKxSk));
  SS_init_push(&ch->push, aHdr, aTx);
  if( write_all(ch, aHdr, sizeof(aHdr))
   || read_all(ch, aPeerHdr, sizeof(aPeerHdr)) ){
    *pzWhy = handshake_why(ch);
    return EXIT_NET;
  }
  if( SS_init_pull(&ch->pull, aPeerHdr, aRx) ){
    *pzWhy = strdup("bad stream header");
    return EXIT_PROTO;
  }
  sodium_memzero(aRx, sizeof(aRx));
  sodium_memzero(aTx, sizeof(aTx));
  ch->bSecure = 1;

  /* Each signs the transcript and its own role. */
  aTranscript[2*HELLO_BYTES] = aMine[5];
  if( db_call(db, "SELECT bec_sync_auth_sign(?1)", 1,
              (const void*[]){aTranscript}, (int[]){2*HELLO_BYTES+1}, 0,
              &aSig, &nSig, pzWhy) || nSig!=64 ){
    free(aSig);
    return EXIT_LOCAL;
  }
  rc = chan_send(ch, 'A', aSig, 64) ? EXIT_NET : EXIT_OK;
  free(aSig);
  if( rc==EXIT_OK ) rc = chan_recv(ch, &type, &aFrame, &nFrame);
  if( rc ) return handshake_refuse(ch, rc, pzWhy);
  if( type=='E' ){
    *pzWhy = peer_text("refused: ", aFrame, nFrame);
    free(aFrame);
    return EXIT_AUTH;
  }
  aTranscript[2*HELLO_BYTES] = aTheirs[5];
  if( type!='A' || nFrame!=64
   || db_call(db, "SELECT bec_sync_auth_verify(?1, ?2, ?3)", 3,
              (const void*[]){aPeerPub, aTranscript, aFrame},
              (int[]){32, 2*HELLO_BYTES+1, 64}, 0, &aOk, &nOk, 0)
   || aOk==0 || aOk[0]!='1' ){
    free(aFrame);
    free(aOk);
    *pzWhy = strdup("the peer's identity signature is not valid");
    (void)chan_send(ch, 'E', (const u8*)"authentication failed", 21);
    return EXIT_AUTH;
  }
  free(aFrame);
  free(aOk);
  aOk = 0;
  hex(aPeerPub, 32, zHex);
  if( db_call(db, "SELECT bec_sync_peer_allowed(?1)", 1,
              (const void*[]){aPeerPub}, (int[]){32}, 0, &aOk, &nOk, pzWhy) ){
    return EXIT_LOCAL;
  }
  bAllowed = aOk && aOk[0]=='1';
  free(aOk);
  if( !bAllowed ){
    char zMsg[160];
    snprintf(zMsg, sizeof(zMsg), "key %s is not a member of this group", zHex);
    (void)chan_send(ch, 'E', (const u8*)zMsg, strlen(zMsg));
    *pzWhy = strdup(zMsg);
    return EXIT_AUTH;
  }
  /* Both must accept before any sync message moves.  A peer that refuses
  ** may close before our 'K' arrives: its 'E' is still read. */
  (void)chan_send(ch, 'K', 0, 0);
  rc = chan_recv(ch, &type, &aFrame, &nFrame);
  if( rc ) return handshake_refuse(ch, rc, pzWhy);
  if( type!='K' ){
    *pzWhy = peer_text("refused: ", aFrame, nFrame);
    free(aFrame);
    return type=='E' ? EXIT_AUTH : EXIT_PROTO;
  }
  free(aFrame);
  ch->bAuthed = 1;   /* from here frames up to MAX_FRAME, --timeout per read */
  *pzLabel = zLabelOpt ? sqlite3_mprintf("%s", zLabelOpt)
                       : sqlite3_mprintf("key:%s", zHex);
  return *pzLabel ? EXIT_OK : EXIT_LOCAL;
}

/* One session over a channel.  The client offers; then each message gets
** a reply until one side has nothing more to say.  fSummary receives the
** one-line summary. */
static int run_session(sqlite3 *db, Chan *ch, int bClient, FILE *fSummary,
                       const char *zName){
  char *zLabel = 0, *zWhy = 0, *zErr = 0;
  u8 *m = 0;
  int n = 0, rc, bSync = 0;
  Stats st;
  memset(&st, 0, sizeof(st));
  st.tStart = now();
  rc = handshake(db, ch, bClient, &zLabel, &zWhy);
  if( rc==EXIT_OK && bClient ){
    rc = db_call(db, "SELECT bec_sync_offer(?1)", 1, (const void*[]){zLabel},
                 (int[]){-1}, (int[]){1}, &m, &n, &zErr) ? EXIT_LOCAL : EXIT_OK;
    if( rc==EXIT_OK ){
      st.nRound++;
      st.nBytesSent += n;
      rc = chan_send(ch, 'M', m, (size_t)n) ? EXIT_NET : EXIT_OK;
    }
    free(m);
    m = 0;
  }
  while( rc==EXIT_OK ){
    char type = 0;
    u8 *aIn = 0;
    size_t nIn = 0;
    rc = chan_recv(ch, &type, &aIn, &nIn);
    if( rc ) break;
    if( type=='D' ){
      free(aIn);
      break;
    }
    if( type=='E' ){
      zErr = peer_text("", aIn, nIn);
      free(aIn);
      rc = EXIT_PROTO;
      break;
    }
    if( type!='M' ){
      free(aIn);
      rc = EXIT_PROTO;
      break;
    }
    st.nRound++;
    st.nBytesRecv += (long long)nIn;
    if( db_call(db, "SELECT bec_sync_apply(?1, ?2)", 2,
                (const void*[]){zLabel, aIn}, (int[]){-1, (int)nIn},
                (int[]){1, 0}, &m, &n, &zErr) ){
      free(aIn);
      (void)chan_send(ch, 'E', (const u8*)zErr, strlen(zErr));
      rc = EXIT_PROTO;
      break;
    }
    free(aIn);
    if( m==0 ){
      rc = chan_send(ch, 'D', 0, 0) ? EXIT_NET : EXIT_OK;
      break;
    }
    st.nRound++;
    st.nBytesSent += n;
    rc = chan_send(ch, 'M', m, (size_t)n) ? EXIT_NET : EXIT_OK;
    free(m);
    m = 0;
    db_state(db, zLabel, &st, 0);
    progress(&st);
  }
  if( zLabel ){
    bSync = db_state(db, zLabel, &st, 0);
    if( rc==EXIT_OK && !bSync ) rc = EXIT_NOSYNC;
  }
  if( rc!=EXIT_OK && zWhy==0 && zErr==0 && ch->zFail[0] ){
    zWhy = strdup(ch->zFail);
  }else if( rc==EXIT_NET && zWhy==0 && zErr==0 ){
    zWhy = strdup("the connection failed or timed out");
  }
  summary(fSummary, zName, rc==EXIT_OK, &st, zWhy ? zWhy : zErr);
  free(zWhy);
  free(zErr);
  sqlite3_free(zLabel);
  return rc;
}

/**************************************************************************
** TCP.
*/
static int split_hostport(const char *z, char *zHost, size_t nHost,
                          char *zPort, size_t nPort){
  const char *zColon = strrchr(z, ':');
  if( zColon==0 || zColon==z || (size_t)(zColon-z)>=nHost
   || strlen(zColon+1)==0 || strlen(zColon+1)>=nPort ){
    return -1;
  }
  memcpy(zHost, z, (size_t)(zColon-z));
  zHost[zColon-z] = 0;
  strcpy(zPort, zColon+1);
  return 0;
}

static void set_timeouts(int fd){
  struct timeval tv;
  tv.tv_sec = nTimeout;
  tv.tv_usec = 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Closes a channel's socket after the peer has read what was sent: shut the
** sending side, then drain until the peer closes, so a refusal is not lost
** to a reset.  The drain lasts CLOSE_DRAIN_SECS in total whatever the peer
** sends, and never outlasts the handshake deadline of a peer that did not
** authenticate: such a peer holds this side no longer than that deadline. */
static void tcp_close(Chan *ch){
  int fd = ch->fdIn;
  double tEnd = now() + CLOSE_DRAIN_SECS;
  u8 a[512];
  if( !ch->bAuthed && ch->tDeadline>0 && ch->tDeadline<tEnd ) tEnd = ch->tDeadline;
  shutdown(fd, SHUT_WR);
  for(;;){
    struct pollfd pfd;
    double dt = tEnd - now();
    int r;
    if( dt<=0 ) break;
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    r = poll(&pfd, 1, (int)(dt*1000) + 1);
    if( r<0 && errno==EINTR ) continue;
    if( r<=0 || read(fd, a, sizeof(a))<=0 ) break;
  }
  close(fd);
}

static int tcp_connect(const char *zAddr){
  char zHost[256], zPort[32];
  struct addrinfo hints, *pRes = 0, *p;
  int fd = -1;
  if( split_hostport(zAddr, zHost, sizeof(zHost), zPort, sizeof(zPort)) ){
    return -2;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if( getaddrinfo(zHost, zPort, &hints, &pRes) ) return -1;
  for(p=pRes; p; p=p->ai_next){
    fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
    if( fd<0 ) continue;
    set_timeouts(fd);
    if( connect(fd, p->ai_addr, p->ai_addrlen)==0 ) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(pRes);
  return fd;
}

static int tcp_listen(const char *zAddr){
  char zHost[256], zPort[32];
  struct addrinfo hints, *pRes = 0, *p;
  int fd = -1, one = 1;
  if( split_hostport(zAddr, zHost, sizeof(zHost), zPort, sizeof(zPort)) ){
    return -2;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  if( getaddrinfo(zHost, zPort, &hints, &pRes) ) return -1;
  for(p=pRes; p; p=p->ai_next){
    fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
    if( fd<0 ) continue;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if( bind(fd, p->ai_addr, p->ai_addrlen)==0 && listen(fd, 16)==0 ) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(pRes);
  return fd;
}

static int sync_tcp(sqlite3 *db, const char *zAddr, FILE *fSummary){
  Chan ch;
  int fd = tcp_connect(zAddr), rc;
  if( fd<0 ){
    fprintf(stderr, "becsync: cannot connect to %s%s\n", zAddr,
            fd==-2 ? " (want HOST:PORT)" : "");
    return fd==-2 ? EXIT_USAGE : EXIT_NET;
  }
  memset(&ch, 0, sizeof(ch));
  ch.fdIn = ch.fdOut = fd;
  rc = run_session(db, &ch, 1, fSummary, zAddr);
  tcp_close(&ch);
  return rc;
}

static int serve(sqlite3 *db, const char *zListen, const char **azPeer,
                 int nPeer, int nInterval, int nMax){
  int fd = tcp_listen(zListen), nDone = 0, i;
  double tNext = now();
  if( fd<0 ){
    fprintf(stderr, "becsync: cannot listen on %s%s: %s\n", zListen,
            fd==-2 ? " (want HOST:PORT)" : "", strerror(errno));
    return fd==-2 ? EXIT_USAGE : EXIT_NET;
  }
  fprintf(stderr, "becsync: serving on %s\n", zListen);
  while( nMax<=0 || nDone<nMax ){
    struct pollfd pfd;
    int ms = -1, r;
    if( nPeer ){
      double dt = tNext - now();
      ms = dt<=0 ? 0 : (int)(dt*1000);
    }
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    r = poll(&pfd, 1, ms);
    if( r<0 && errno!=EINTR ) break;
    if( r>0 && (pfd.revents & POLLIN) ){
      struct sockaddr_storage sa;
      socklen_t nSa = sizeof(sa);
      int fdc = accept(fd, (struct sockaddr*)&sa, &nSa);
      if( fdc>=0 ){
        Chan ch;
        char zName[80];
        char zIp[INET6_ADDRSTRLEN] = "?";
        if( sa.ss_family==AF_INET ){
          inet_ntop(AF_INET, &((struct sockaddr_in*)&sa)->sin_addr, zIp, sizeof(zIp));
        }else if( sa.ss_family==AF_INET6 ){
          inet_ntop(AF_INET6, &((struct sockaddr_in6*)&sa)->sin6_addr, zIp, sizeof(zIp));
        }
        snprintf(zName, sizeof(zName), "client %s", zIp);
        set_timeouts(fdc);
        memset(&ch, 0, sizeof(ch));
        ch.fdIn = ch.fdOut = fdc;
        (void)run_session(db, &ch, 0, stdout, zName);
        tcp_close(&ch);
        nDone++;
      }
    }
    if( nPeer && now()>=tNext ){
      for(i=0; i<nPeer && (nMax<=0 || nDone<nMax); i++){
        (void)sync_tcp(db, azPeer[i], stdout);
        nDone++;
      }
      tNext = now() + nInterval;
    }
  }
  close(fd);
  return EXIT_OK;
}

/* Waits for the --exec child until tEnd (now() clock), then stops it: a
** command that never exits must not hold the client after its session. */
static void reap(pid_t pid, double tEnd){
  int st = 0, i;
  while( waitpid(pid, &st, WNOHANG)==0 ){
    if( now()>=tEnd ){
      kill(pid, SIGTERM);
      for(i=0; i<100 && waitpid(pid, &st, WNOHANG)==0; i++) poll(0, 0, 10);
      if( i==100 ){
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
      }
      return;
    }
    poll(0, 0, 10);
  }
}

/* sync DB --exec CMD: the command's stdin/stdout are the channel.  After
** the session the command gets --timeout seconds to exit if the peer was
** authenticated, else what is left of the handshake deadline (at most
** CLOSE_DRAIN_SECS), as tcp_close gives a socket. */
static int sync_exec(sqlite3 *db, const char *zCmd){
  int aIn[2], aOut[2], rc;
  double tEnd;
  pid_t pid;
  Chan ch;
  if( pipe(aIn) || pipe(aOut) ){
    fprintf(stderr, "becsync: pipe: %s\n", strerror(errno));
    return EXIT_LOCAL;
  }
  pid = fork();
  if( pid<0 ){
    fprintf(stderr, "becsync: fork: %s\n", strerror(errno));
    return EXIT_LOCAL;
  }
  if( pid==0 ){
    dup2(aOut[0], 0);
    dup2(aIn[1], 1);
    close(aOut[0]); close(aOut[1]); close(aIn[0]); close(aIn[1]);
    execl("/bin/sh", "sh", "-c", zCmd, (char*)0);
    _exit(127);
  }
  close(aOut[0]);
  close(aIn[1]);
  memset(&ch, 0, sizeof(ch));
  ch.fdIn = aIn[0];
  ch.fdOut = aOut[1];
  rc = run_session(db, &ch, 1, stdout, zCmd);
  close(aIn[0]);
  close(aOut[1]);
  tEnd = now() + (ch.bAuthed ? nTimeout : CLOSE_DRAIN_SECS);
  if( !ch.bAuthed && ch.tDeadline<tEnd ) tEnd = ch.tDeadline;
  reap(pid, tEnd);
  return rc;
}

/**************************************************************************
** Command line.
*/
static int usage(void){
  fprintf(stderr,
    "usage: becsync [options] A.db B.db\n"
    "       becsync [options] serve DB --listen HOST:PORT [--peer HOST:PORT]...\n"
    "               [--interval SECS] [--max-sessions N]\n"
    "       becsync [options] sync DB HOST:PORT\n"
    "       becsync [options] sync DB --exec 'COMMAND'\n"
    "       becsync [options] --stdio DB\n"
    "options: --quiet  --timeout SECS  --handshake-timeout SECS  --label NAME\n"
    "exit: 0 in sync, 1 usage, 2 local database, 3 transport, 4 authentication\n"
    "      or refused, 5 protocol, 6 ended out of sync\n");
  return EXIT_USAGE;
}

int main(int argc, char **argv){
  const char *azArg[8];
  const char *azPeer[64];
  const char *zListen = 0, *zExec = 0;
  int nArg = 0, nPeer = 0, nInterval = 60, nMax = 0, bStdio = 0, i, rc;
  sqlite3 *db = 0;

  signal(SIGPIPE, SIG_IGN);
  if( sodium_init()<0 ) return EXIT_LOCAL;
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  for(i=1; i<argc; i++){
    const char *z = argv[i];
    int bMore = i+1<argc;
    if( strcmp(z, "--quiet")==0 ) bQuiet = 1;
    else if( strcmp(z, "--stdio")==0 ) bStdio = 1;
    else if( strcmp(z, "--timeout")==0 && bMore ) nTimeout = atoi(argv[++i]);
    else if( strcmp(z, "--handshake-timeout")==0 && bMore ){
      nHandshakeTimeout = atoi(argv[++i]);
    }
    else if( strcmp(z, "--label")==0 && bMore ) zLabelOpt = argv[++i];
    else if( strcmp(z, "--listen")==0 && bMore ) zListen = argv[++i];
    else if( strcmp(z, "--exec")==0 && bMore ) zExec = argv[++i];
    else if( strcmp(z, "--interval")==0 && bMore ) nInterval = atoi(argv[++i]);
    else if( strcmp(z, "--max-sessions")==0 && bMore ) nMax = atoi(argv[++i]);
    else if( strcmp(z, "--peer")==0 && bMore ){
      if( nPeer>=64 ) return usage();
      azPeer[nPeer++] = argv[++i];
    }
    else if( z[0]=='-' && z[1]=='-' ) return usage();
    else if( nArg<8 ) azArg[nArg++] = z;
    else return usage();
  }
  /* Up to a million seconds, so that a wait in milliseconds fits an int. */
  if( nTimeout<=0 || nTimeout>1000000 || nInterval<=0
   || nHandshakeTimeout<=0 || nHandshakeTimeout>1000000 ){
    return usage();
  }
  if( bStdio ){
    Chan ch;
    if( nArg!=1 ) return usage();
    bQuiet = 1;
    if( db_open(azArg[0], &db) ) return EXIT_LOCAL;
    memset(&ch, 0, sizeof(ch));
    ch.fdIn = 0;
    ch.fdOut = 1;
    rc = run_session(db, &ch, 0, stderr, "stdio peer");
  }else if( nArg==3 && strcmp(azArg[0], "serve")==0 ){
    return usage();
  }else if( nArg==2 && strcmp(azArg[0], "serve")==0 ){
    if( zListen==0 ) return usage();
    if( db_open(azArg[1], &db) ) return EXIT_LOCAL;
    rc = serve(db, zListen, azPeer, nPeer, nInterval, nMax);
  }else if( strcmp(nArg ? azArg[0] : "", "sync")==0
         && ((nArg==3 && !zExec) || (nArg==2 && zExec)) ){
    if( db_open(azArg[1], &db) ) return EXIT_LOCAL;
    rc = zExec ? sync_exec(db, zExec) : sync_tcp(db, azArg[2], stdout);
  }else if( nArg==2 ){
    return sync_files(azArg[0], azArg[1]);
  }else{
    return usage();
  }
  sqlite3_close(db);
  return rc;
}
