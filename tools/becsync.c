/*
** becsync - reconcile bec databases, between two files, over TCP, or over
** any pipe (so `ssh host becsync --stdio db` is a transport):
**
**   becsync A.db B.db                           both files, both ways
**   becsync serve DB --listen 127.0.0.1:PORT    serve peers concurrently
**          [--peer HOST:PORT]... [--interval SECS] [--max-sessions N]
**          [--max-conns N] [--max-per-addr N] [--backlog N]
**   becsync sync DB HOST:PORT                   one session with a server
**   becsync sync DB HOST:PORT --live            ... kept open: pushes both
**                                               ways (see LIVE SESSIONS)
**   becsync sync DB --exec 'ssh host becsync --stdio db'
**   becsync --stdio DB                          the serving side on stdin/out
**   becsync run CONFIG                          a replica's long-running
**                                               process (see RUN)
**   becsync status DB                           per peer: successes,
**                                               failures, ops, bytes
**                                               (see STATUS AND METRICS)
**
** Options: --quiet (no progress line), --timeout SECS (I/O, default 30),
** --handshake-timeout SECS (default 10), --round-timeout SECS (default
** 300), --label NAME (the peer's name in bec_peers; default "key:<its
** key>", or "file:<path>" for files), --passphrase-fd N and
** --passphrase-file FILE (a sealed key's passphrase; see PASSPHRASE),
** --relay-key PK (see RELAY PIN).
**
** RELAY PIN.  A relay that is not a member (bec_join(group_id) on a replica
** no one added) stores and forwards an encrypted group's ciphertext; it is
** no member, so bec_sync_peer_allowed refuses it.  --relay-key PK (64 hex
** digits; in run's config "relay-key = PK") pins one such key: this
** process accepts a peer with that key as well as members, in either
** direction.  It is asked as bec_sync_peer_allowed(peer, PK), which refuses
** the pin with a reason when this replica's group holds ops and is not
** encrypted (the relay would read every value): becsync then exits 1
** before any session.  A replica that holds no op yet syncs with anyone
** anyway, to learn the group.
**
** Channel (docs/sync.md, "becsync"): each side sends a hello in clear
**   "BECS" | version 1 | role 'C' or 'S' | group id (32) | identity key (32)
**   | ephemeral X25519 key (32)
** then both derive session keys with crypto_kx (the connecting side is the
** kx client) and send a crypto_secretstream_xchacha20poly1305 header.
** Every later frame is a 4-byte big-endian length and one secretstream
** message whose first plaintext byte is its type: 'A' the sender's Ed25519
** signature (bec_sync_auth_sign) of client hello || server hello || its
** role; 'K' the sender accepts the peer (and may carry a flags byte,
** K_LIVE, then the sender's op count for PROGRESS); 'M' a sync message; 'D' nothing more to say; 'E' an error
** text; in a live session, between rounds, 'P' 'H' 'B' (LIVE SESSIONS).  After checking the peer's signature,
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
** must make progress within --timeout seconds, and the round (the offer to
** the last 'D') must end within --round-timeout seconds in total.  Both
** roles apply the same rules, so a hostile server cannot hold or bloat a
** client either.
**
** THE SERVER (serve).  Nothing a peer does may delay another peer's
** session, so every served connection has its own thread, and the accept
** loop does nothing but accept, count and hand over:
**
**   - The main thread polls the listening socket (backlog --backlog) and
**     accepts at once.  A connection over a bound (--max-conns open served
**     connections in total, --max-per-addr from one IPv4 address or IPv6
**     /64) is closed at once, before any byte is read, and logged.  Every
**     other connection gets a thread of its own, which runs the session and
**     ends with it; there are never more such threads than --max-conns.
**   - Each --peer has one dialling thread of its own, outside those bounds,
**     that syncs with it every --interval seconds (times 0.9 to 1.1, drawn
**     anew each time, and a first dial within the first tenth of the
**     interval, at most 1 s), so relays started together drift apart and an
**     unreachable peer (connect is bounded by --handshake-timeout) holds only
**     its own thread.
**   - SQL runs on connections from a pool (one per session in its round,
**     POOL_KEEP kept open between sessions so their caches stay warm): a
**     session borrows one for each step of its handshake, so a peer that
**     is not authenticated holds no database connection while it idles,
**     and one for its whole round, because bec keeps a round's state
**     (what was sent, the peer's filter) in its connection.  The database
**     is switched to WAL, so reads never wait for a writer.
**   - Writes: bec_sync_offer and bec_sync_apply each run in one BEGIN
**     IMMEDIATE transaction inside bec.  In this process they take the
**     write lock (Db.muWrite) first, so two sessions never race for
**     SQLite's lock and never meet SQLITE_BUSY; other processes writing the
**     same file are waited for by the busy handler, for up to --timeout
**     seconds.  Only the write itself is serialised: handshakes, reads and
**     all network I/O of other sessions go on meanwhile.
**   - Two relays that dial each other at the same moment both run their
**     sessions, concurrently, on separate connections.  That is safe: ops
**     are stored under the write lock, so an op that both sessions bring is
**     stored once and the second copy is a duplicate; the per-peer counters
**     are added, and the persisted shared heads of either session are ops
**     the peer holds (only a starting point for the next offer).  It costs
**     at most one redundant round, which the jitter makes rare.
**   - Every line the server writes has one format (log_line): UTC time,
**     level, the peer's address, the first 16 hex digits of its key once
**     verified, its display name as a JSON string (or "-"), the message.  Sessions log to stdout; the server's own
**     lines (listening, stopping, errors of its own) go to stderr.
**
** Exit codes: 0 in sync; 1 usage; 2 local database error; 3 transport
** error (connect, I/O, timeout, end of stream); 4 authentication failed or
** refused (not a member); 5 protocol error (malformed message, a bound
** exceeded, the peer reported an error); 6 the session ended out of sync.
*/
#define _GNU_SOURCE   /* accept4, pipe2 */
#include "bec.h"

#include <sqlite3.h>
#include <sodium.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
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
#define K_LIVE        0x01    /* 'K' flags: a live session (LIVE SESSIONS) */
#define MAX_FRAME     (64*1024*1024 + 1 + 17)
/* Before authentication (see BEFORE AUTH above).  The bound is part of the
** protocol, so it is not an option: both sides must agree on it. */
#define PREAUTH_MAX_FRAME  1024
#define REDEMPTION_BYTES   128    /* bec_invite.c: invite_pk key sig */
#define HANDSHAKE_TIMEOUT  10
#define ROUND_TIMEOUT      300
/* Closing drains what the peer still sends so that a refusal is not lost to
** a reset, for at most this long in total (and never past the handshake
** deadline of a peer that did not authenticate). */
#define CLOSE_DRAIN_SECS   1
/* serve's defaults (docs/reference.md): open served connections in total
** and per address, and the listen backlog. */
#define MAX_CONNS          256
#define MAX_PER_ADDR       16
#define LISTEN_BACKLOG     128
#define MAX_PEERS          64
/* Refused connections logged a second, at most: a flood of connections must
** not become a flood of log lines; the next line counts those left out. */
#define REFUSED_LOG_PER_SEC 10
/* Idle database connections serve keeps open between sessions. */
#define POOL_KEEP          16
#define SS_state      crypto_secretstream_xchacha20poly1305_state
#define SS_push       crypto_secretstream_xchacha20poly1305_push
#define SS_pull       crypto_secretstream_xchacha20poly1305_pull
#define SS_init_push  crypto_secretstream_xchacha20poly1305_init_push
#define SS_init_pull  crypto_secretstream_xchacha20poly1305_init_pull
#define SS_ABYTES     crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADERBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE

typedef unsigned char u8;

/* Options: set by main() before any thread starts, read-only after. */
static int bQuiet = 0;
static int nTimeout = 30;
static int nHandshakeTimeout = HANDSHAKE_TIMEOUT;
static int nRoundTimeout = ROUND_TIMEOUT;
static const char *zLabelOpt = 0;
static int bLiveOpt = 0;        /* --live: dial live sessions */
static u8 aRelayPin[32];        /* --relay-key (RELAY PIN), if bRelayPin */
static int bRelayPin = 0;

/* Counters of one session, for the progress line and the summary. */
typedef struct Stats Stats;
struct Stats {
  int nRound;
  long long nOpsSent, nOpsRecv, nBytesSent, nBytesRecv;
  double tStart;
  long long nOwnOps;          /* ops held here at the handshake, or -1 */
  long long nPeerOps;         /* ops the peer said it holds ('K'), or -1 */
  char zSnap[72];             /* a snapshot joiner's answer (bec_sync_state's
                              ** "snapshot": a checkpoint id, or "none") */
};

/* Seconds on the monotonic clock: deadlines must not move with the date. */
static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec/1e9;
}

static void hex(const u8 *a, int n, char *z){
  int i;
  for(i=0; i<n; i++) sprintf(&z[i*2], "%02x", a[i]);
}

/**************************************************************************
** Log lines.  serve writes every line in one format:
**
**   2026-12-01T21:49:57.123Z INFO 127.0.0.1:41234 1a2b3c4d5e6f7a8b "Alice" in sync with ...
**
** that is: UTC time to the millisecond, a level (INFO, WARN, ERROR), the
** peer's address (or "-"), the first 16 hex digits of the peer's identity
** key once its signature has been checked (or "-"), the display name of
** that member as a JSON string (or "-"), and the message.  The
** one-shot commands print "becsync: <message>" as before.  A line is
** formatted whole and written under a lock, so the lines of concurrent
** sessions never interleave.
*/
#define LOG_INFO   0
#define LOG_WARN   1
#define LOG_ERROR  2
#define ADDR_CHARS (INET6_ADDRSTRLEN + 8)

/* Where one session's (or the server's) lines go, and whom they are about. */
typedef struct Log Log;
struct Log {
  FILE *f;
  int bStamp;                 /* serve's format; else "becsync: " */
  char zAddr[ADDR_CHARS];     /* the peer's address, or "" */
  char zKey[17];              /* its key's first 8 bytes in hex, or "" */
  char zName[160];            /* its display name as a JSON string, or "" */
};

static pthread_mutex_t logMutex = PTHREAD_MUTEX_INITIALIZER;

static void log_init(Log *pLog, FILE *f, int bStamp, const char *zAddr){
  memset(pLog, 0, sizeof(*pLog));
  pLog->f = f;
  pLog->bStamp = bStamp;
  if( zAddr ) snprintf(pLog->zAddr, sizeof(pLog->zAddr), "%s", zAddr);
}

static void log_line(const Log *pLog, int eLevel, const char *zFmt, ...){
  static const char *azLevel[] = { "INFO", "WARN", "ERROR" };
  char zMsg[2048], zHead[360];
  va_list ap;
  va_start(ap, zFmt);
  vsnprintf(zMsg, sizeof(zMsg), zFmt, ap);
  va_end(ap);
  if( pLog->bStamp ){
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(zHead, sizeof(zHead), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s %s %s ",
             tm.tm_year+1900, tm.tm_mon+1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, (int)(ts.tv_nsec/1000000), azLevel[eLevel],
             pLog->zAddr[0] ? pLog->zAddr : "-", pLog->zKey[0] ? pLog->zKey : "-",
             pLog->zName[0] ? pLog->zName : "-");
  }else{
    snprintf(zHead, sizeof(zHead), "becsync: ");
  }
  pthread_mutex_lock(&logMutex);
  fprintf(pLog->f, "%s%s\n", zHead, zMsg);
  fflush(pLog->f);
  pthread_mutex_unlock(&logMutex);
}

/* Sets pLog->zName to the display name of the member whose key is zHex (64
** hex digits), as a JSON string, if it has one.  Names are labels for
** people (they are not unique, and say nothing about rights: the key does)
** and hold no control character (bec_names.c), so one line stays one
** line; quotes and backslashes are escaped so the field stays parseable. */
static void log_name(Log *pLog, sqlite3 *db, const char *zHex){
  sqlite3_stmt *pStmt = 0;
  pLog->zName[0] = 0;
  if( sqlite3_prepare_v2(db, "SELECT json_quote(name) FROM bec_members WHERE"
                         " pubkey=?1 AND name IS NOT NULL", -1, &pStmt, 0)
      ==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zHex, 64, SQLITE_STATIC);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      const char *z = (const char*)sqlite3_column_text(pStmt, 0);
      if( z ) snprintf(pLog->zName, sizeof(pLog->zName), "%s", z);
    }
  }
  sqlite3_finalize(pStmt);
}

/* PROGRESS.  How many ops are on their way is not known in advance (sync
** finds out what each side lacks as it goes), but the peer's op count,
** sent in its 'K', bounds it from below: at least peer - ours(at start)
** ops are new here.  The line shows received of that estimate and, while
** ops move, an ETA from the rate so far.  The estimate only grows: it is
** the larger of that difference and what has arrived. */
static void progress_text(const Stats *st, double tNow, char *z, size_t n){
  long long nWant = -1;
  int k;
  k = snprintf(z, n, "round %d  sent %lld ops %lld B  received %lld ops",
               st->nRound, st->nOpsSent, st->nBytesSent, st->nOpsRecv);
  if( st->nPeerOps>=0 && st->nOwnOps>=0 ){
    nWant = st->nPeerOps - st->nOwnOps;
    if( nWant<st->nOpsRecv ) nWant = st->nOpsRecv;
  }
  if( nWant>0 && k>0 && (size_t)k<n ){
    k += snprintf(&z[k], n-(size_t)k, " of ~%lld (%d%%)", nWant,
                  (int)(100*st->nOpsRecv/nWant));
  }
  if( k>0 && (size_t)k<n ){
    k += snprintf(&z[k], n-(size_t)k, " %lld B", st->nBytesRecv);
  }
  if( nWant>st->nOpsRecv && st->nOpsRecv>0 && k>0 && (size_t)k<n ){
    double dEta = (tNow - st->tStart) * (double)(nWant - st->nOpsRecv)
                  / (double)st->nOpsRecv;
    snprintf(&z[k], n-(size_t)k, "  ETA %.0f s", dEta<1 ? 1 : dEta);
  }
}

/* The progress line is for a terminal and one session: never in serve.
** BEC_PROGRESS=1 shows it without a terminal (tests). */
static int progress_on(const Log *pLog){
  const char *zForce = getenv("BEC_PROGRESS");
  if( bQuiet || pLog->bStamp ) return 0;
  return isatty(2) || (zForce && zForce[0]=='1');
}

static void progress(const Log *pLog, const Stats *st){
  char z[256];
  if( !progress_on(pLog) ) return;
  progress_text(st, now(), z, sizeof(z));
  fprintf(stderr, "\rbecsync: %s   ", z);
  fflush(stderr);
}

static void progress_end(const Log *pLog){
  if( progress_on(pLog) ) fprintf(stderr, "\r%100s\r", "");
}

/* The one-line summary of a session; rc decides the level.  A session that
** ended without error but out of sync is INFO: on a busy relay the heads
** move while a session runs (docs/sync.md, "The server"). */
static void summary(const Log *pLog, int rc, const char *zLabel, int bInSync,
                    const Stats *st, const char *zWhy){
  progress_end(pLog);
  log_line(pLog, rc==EXIT_OK || rc==EXIT_NOSYNC ? LOG_INFO
                 : rc==EXIT_LOCAL ? LOG_ERROR : LOG_WARN,
           "%s %s after %d messages: sent %lld ops (%lld B), "
           "received %lld ops (%lld B), %.2f s%s%s%s%s",
           bInSync ? "in sync with" : "NOT in sync with", zLabel, st->nRound,
           st->nOpsSent, st->nBytesSent, st->nOpsRecv, st->nBytesRecv,
           now() - st->tStart, st->zSnap[0] ? ", snapshot " : "", st->zSnap,
           zWhy ? ": " : "", zWhy ? zWhy : "");
}

/**************************************************************************
** The database side: everything goes through bec's SQL functions.
*/

/* Opens zPath with the busy handler set: a writer in another process is
** waited for up to --timeout seconds.  EXIT_OK, or EXIT_LOCAL with *pzErr
** (malloc'd) saying why. */
static int db_connect(const char *zPath, sqlite3 **pDb, char **pzErr){
  int rc = sqlite3_open_v2(zPath, pDb, SQLITE_OPEN_READWRITE, 0);
  if( rc ){
    char zMsg[600];
    snprintf(zMsg, sizeof(zMsg), "cannot open %s: %s", zPath,
             *pDb ? sqlite3_errmsg(*pDb) : sqlite3_errstr(rc));
    *pzErr = strdup(zMsg);
    sqlite3_close(*pDb);
    *pDb = 0;
    return EXIT_LOCAL;
  }
  sqlite3_busy_timeout(*pDb, nTimeout*1000);
  return EXIT_OK;
}

static int db_open(const char *zPath, sqlite3 **pDb){
  char *zErr = 0;
  int rc = db_connect(zPath, pDb, &zErr);
  if( rc ) fprintf(stderr, "becsync: %s\n", zErr ? zErr : "out of memory");
  free(zErr);
  return rc;
}

/* Where a session's SQL runs.  The one-shot commands hold one connection
** (dbFixed).  serve opens connections to zPath on demand and keeps up to
** POOL_KEEP idle ones (see THE SERVER at the top).  muWrite is taken around
** every call that writes, so that this process has one writer at a time. */
typedef struct Db Db;
struct Db {
  sqlite3 *dbFixed;           /* the one-shot commands' connection, or 0 */
  const char *zPath;          /* serve: the database file */
  pthread_mutex_t mu;         /* guards aIdle and nIdle */
  sqlite3 *aIdle[POOL_KEEP];  /* owned: closed by db_pool_close */
  int nIdle;
  pthread_mutex_t muWrite;
  int nLiveInterval;          /* live client: a full round this often (s) */
  sqlite3 *dbSign;            /* serve: the unlocked connection that signs
                              ** handshakes when the key is sealed, or 0 */
  pthread_mutex_t muSign;     /* guards dbSign */
  int bRemoved;               /* this replica's key was removed from the
                              ** group in its own view (atomic access) */
};

static void db_init(Db *pDb, sqlite3 *dbFixed, const char *zPath){
  memset(pDb, 0, sizeof(*pDb));
  pDb->dbFixed = dbFixed;
  pDb->zPath = zPath;
  pthread_mutex_init(&pDb->mu, 0);
  pthread_mutex_init(&pDb->muWrite, 0);
  pthread_mutex_init(&pDb->muSign, 0);
}

/* A connection for the caller alone until db_put: EXIT_OK, or EXIT_LOCAL
** with *pzErr (malloc'd). */
static int db_get(Db *pDb, sqlite3 **pp, char **pzErr){
  if( pDb->dbFixed ){
    *pp = pDb->dbFixed;
    return EXIT_OK;
  }
  *pp = 0;
  pthread_mutex_lock(&pDb->mu);
  if( pDb->nIdle>0 ) *pp = pDb->aIdle[--pDb->nIdle];
  pthread_mutex_unlock(&pDb->mu);
  if( *pp ) return EXIT_OK;
  if( db_connect(pDb->zPath, pp, pzErr) ) return EXIT_LOCAL;
  /* WAL (set by serve) with synchronous=NORMAL: a commit does not wait for
  ** the disk while holding the write lock; a power cut may lose the last
  ** ops received, never corrupt the file, and the next sync brings them. */
  sqlite3_exec(*pp, "PRAGMA synchronous=NORMAL", 0, 0, 0);
  return EXIT_OK;
}

/* Gives back a connection from db_get (0 is ignored).  One left inside a
** transaction, or beyond POOL_KEEP idle ones, is closed instead. */
static void db_put(Db *pDb, sqlite3 *db){
  if( db==0 || db==pDb->dbFixed ) return;
  pthread_mutex_lock(&pDb->mu);
  if( pDb->nIdle<POOL_KEEP && sqlite3_get_autocommit(db) ){
    pDb->aIdle[pDb->nIdle++] = db;
    db = 0;
  }
  pthread_mutex_unlock(&pDb->mu);
  sqlite3_close(db);
}

static void db_pool_close(Db *pDb){
  while( pDb->nIdle>0 ) sqlite3_close(pDb->aIdle[--pDb->nIdle]);
  sqlite3_close(pDb->dbSign);
  pDb->dbSign = 0;
  pthread_mutex_destroy(&pDb->mu);
  pthread_mutex_destroy(&pDb->muWrite);
  pthread_mutex_destroy(&pDb->muSign);
}

/* Runs zSql with blob/text arguments; the first column of the first row is
** returned in *ppOut and *pn (from malloc, 0 for NULL).  The SQLite result
** code, non-zero on error, with the message in *pzErr (malloc'd). */
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

/* Process-wide counters for --metrics (see METRICS), under gMetrics.mu. */
static struct {
  pthread_mutex_t mu;
  long long nStarted, nActive, nLive, nRounds;
  long long anEnded[7];                 /* sessions ended, by exit code */
  long long nOpsSent, nOpsRecv, nBytesSent, nBytesRecv;
  long long nWriteWait;                 /* sessions waiting for muWrite */
} gMetrics = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, {0}, 0, 0, 0, 0, 0 };

static void metrics_count(long long *p, long long n){
  pthread_mutex_lock(&gMetrics.mu);
  *p += n;
  pthread_mutex_unlock(&gMetrics.mu);
}

/* db_call for bec_sync_offer and bec_sync_apply, which write: under the
** process's write lock (see THE SERVER at the top). */
static int db_sync_call(Db *pDb, sqlite3 *db, const char *zSql, int nArg,
                        const void **aArg, const int *anArg, const int *abText,
                        u8 **ppOut, int *pn, char **pzErr){
  int rc;
  metrics_count(&gMetrics.nWriteWait, 1);
  pthread_mutex_lock(&pDb->muWrite);
  metrics_count(&gMetrics.nWriteWait, -1);
  rc = db_call(db, zSql, nArg, aArg, anArg, abText, ppOut, pn, pzErr);
  pthread_mutex_unlock(&pDb->muWrite);
  return rc;
}

/* An error of this side's database rather than of the peer's message. */
static int is_local_error(int rc){
  switch( rc & 0xff ){
    case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_NOMEM: case SQLITE_IOERR:
    case SQLITE_FULL: case SQLITE_CANTOPEN: case SQLITE_READONLY:
      return 1;
  }
  return 0;
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
      " json_extract(s,'$.error'), json_extract(s,'$.snapshot')"
      " FROM (SELECT bec_sync_state(?1) AS s)",
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
      if( sqlite3_column_type(pStmt, 4)==SQLITE_TEXT ){
        snprintf(st->zSnap, sizeof(st->zSnap), "%s",
                 (const char*)sqlite3_column_text(pStmt, 4));
      }
    }
  }
  sqlite3_finalize(pStmt);
  return bInSync;
}

/**************************************************************************
** File to file.
*/
static void root_step(Db *pDb, sqlite3 *db, Log *pLog);

static int sync_files(const char *zA, const char *zB){
  sqlite3 *dbA = 0, *dbB = 0;
  char *zLabelA = 0, *zLabelB = 0, *zErr = 0;
  char zRealA[4096], zRealB[4096];
  u8 *m = 0;
  int n = 0, rc, bSync = 0, iSide = 0;
  Stats st;
  Log lg;
  memset(&st, 0, sizeof(st));
  st.tStart = now();
  log_init(&lg, stdout, 0, 0);
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
    progress(&lg, &st);
  }
  free(m);
  if( rc ){
    progress_end(&lg);
    lg.f = stderr;
    log_line(&lg, LOG_ERROR, "%s", zErr ? zErr : sqlite3_errstr(rc));
    rc = strstr(zErr ? zErr : "", "malformed") || strstr(zErr ? zErr : "", "bec_sync")
       ? EXIT_PROTO : EXIT_LOCAL;
  }else{
    Stats s2;
    memset(&s2, 0, sizeof(s2));
    bSync = db_state(dbA, zLabelB, &st, 0) && db_state(dbB, zLabelA, &s2, 0);
    rc = bSync ? EXIT_OK : EXIT_NOSYNC;
    summary(&lg, rc, zB, bSync, &st, 0);
    /* The threshold root's work due from either file, as after a network
    ** session (the next sync carries the ops it makes). */
    root_step(0, dbA, &lg);
    root_step(0, dbB, &lg);
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
  int bAuthed;          /* the peer sent 'K': large frames, the round's clock */
  int bWantLive;        /* client: ask for a live session (LIVE SESSIONS) */
  int bLive;            /* both sides agreed: the session stays open */
  const int *pQuit;     /* a descriptor readable when this session must end
                        ** (run dropped the peer), or 0 */
  double tDeadline;     /* end of the handshake, then of the round (now()) */
  char zFail[160];      /* why the last read or write failed, or "" */
  SS_state push, pull;
};

/* Waits until fd is ready for ev (POLLIN or POLLOUT).  Before the peer is
** authenticated the wait ends at the handshake's total deadline; after, at
** the round's total deadline or after --timeout seconds without progress,
** whichever comes first.  0 when ready, -1 with ch->zFail set when time ran
** out. */
static int chan_wait(Chan *ch, int fd, short ev){
  for(;;){
    struct pollfd pfd;
    double dt = nTimeout, dLeft = ch->tDeadline - now();
    int r, bIdleLimit = 1;
    if( dLeft<=0 ){
      if( ch->bAuthed ){
        snprintf(ch->zFail, sizeof(ch->zFail),
                 "the round did not finish within %d s (--round-timeout)",
                 nRoundTimeout);
      }else{
        snprintf(ch->zFail, sizeof(ch->zFail),
                 "not finished within %d s (--handshake-timeout)",
                 nHandshakeTimeout);
      }
      return -1;
    }
    if( !ch->bAuthed || dLeft<dt ){
      dt = dLeft;
      bIdleLimit = 0;
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
    if( bIdleLimit ){
      snprintf(ch->zFail, sizeof(ch->zFail),
               "no progress for %d s (--timeout)", nTimeout);
      return -1;
    }
  }
}

/* Writes in pieces of at most PIPE_BUF, which a descriptor that polled
** writable takes without blocking, so a peer that stops reading is caught by
** chan_wait's clock even on a pipe (sockets are non-blocking). */
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

/**************************************************************************
** TOLD REMOVED (docs/sync.md, "A removed member is told").  A server that
** refuses a peer whose signature is valid but whose key is not a member
** looks for the op that removed that key:
**
**   SELECT hash, author FROM bec_ops WHERE kind='remove' AND target=:key
**     AND valid=1 AND :key NOT IN (SELECT pubkey FROM bec_members)
**     ORDER BY depth DESC, hash LIMIT 1
**
** (the causally latest valid removal of it; among concurrent ones the
** lowest hash).  If there is one, instead of 'E' it sends
**
**   'R'  the removal op's hash (32 bytes)
**
** and, once the client's 'K' has arrived (both signatures are checked and
** each side accepted the other), reads 'Q' (the client's heads, 32 bytes
** each, at most TOLD_MAX_HEADS) and sends the removal op and its causal
** past minus the causal past of those heads, one op per 'O' frame in depth
** order, then 'D'.  Only ops in the removal's past move: the removed key
** was entitled to read them, and nothing written after its removal.  The
** client stores them through bec_ingest (the normal acceptance path),
** checks that the op now removes its own key in its own view, and exits 4
** naming the remover and the op.  Both sides then close.
*/
#define TOLD_MAX_HEADS 1024

/* Server: tells a refused, authenticated peer aPeerPub that it was
** removed, if it was.  *pbTold is 0 (and nothing was sent) if the key was
** never removed: the caller then refuses with 'E' as usual. */
static int tell_removed(Db *pDb, Chan *ch, const u8 *aPeerPub, int *pbTold,
                        char **pzWhy){
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  char zKey[65], zOp[65], zBy[17];
  u8 aOp[32], *aFrame = 0;
  size_t nFrame = 0, i;
  char type = 0, *zHeads = 0;
  long long nSent = 0;
  int rc;

  *pbTold = 0;
  hex(aPeerPub, 32, zKey);
  if( db_get(pDb, &db, pzWhy) ) return EXIT_LOCAL;
  rc = sqlite3_prepare_v2(db, "SELECT hash, author FROM bec_ops WHERE"
      " kind='remove' AND target=?1 AND valid=1 AND ?1 NOT IN"
      " (SELECT pubkey FROM bec_members) ORDER BY depth DESC, hash LIMIT 1",
      -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zKey, 64, SQLITE_STATIC);
    if( sqlite3_step(pStmt)==SQLITE_ROW
     && sqlite3_column_bytes(pStmt, 0)==64 && sqlite3_column_bytes(pStmt, 1)==64 ){
      memcpy(zOp, sqlite3_column_text(pStmt, 0), 65);
      memcpy(zBy, sqlite3_column_text(pStmt, 1), 16);
      zBy[16] = 0;
      *pbTold = 1;
    }
    rc = sqlite3_finalize(pStmt);
    pStmt = 0;
  }
  db_put(pDb, db);
  db = 0;
  if( rc ){
    *pzWhy = strdup("cannot read bec_ops to tell a removed member");
    return EXIT_LOCAL;
  }
  if( !*pbTold ) return EXIT_OK;
  for(i=0; i<32; i++) sscanf(&zOp[i*2], "%2hhx", &aOp[i]);
  if( chan_send(ch, 'R', aOp, 32) ) return EXIT_NET;
  rc = chan_recv(ch, &type, &aFrame, &nFrame);
  if( rc ) return handshake_refuse(ch, rc, pzWhy);
  if( type!='K' ){
    *pzWhy = peer_text("refused: ", aFrame, nFrame);
    free(aFrame);
    return EXIT_AUTH;
  }
  free(aFrame);
  ch->bAuthed = 1;                      /* both sides accepted each other */
  ch->tDeadline = now() + nRoundTimeout;
  rc = chan_recv(ch, &type, &aFrame, &nFrame);
  if( rc ) return handshake_refuse(ch, rc, pzWhy);
  if( type!='Q' || nFrame%32 || nFrame>32*TOLD_MAX_HEADS ){
    free(aFrame);
    *pzWhy = strdup("told removed: expected its heads ('Q')");
    (void)chan_send(ch, 'E', (const u8*)*pzWhy, strlen(*pzWhy));
    return EXIT_PROTO;
  }
  /* The heads as a JSON array of hex hashes, for json_each. */
  zHeads = malloc(nFrame/32*67 + 3);
  if( zHeads ){
    char *z = zHeads;
    *z++ = '[';
    for(i=0; i<nFrame/32; i++){
      if( i ) *z++ = ',';
      *z++ = '"';
      hex(&aFrame[i*32], 32, z);
      z += 64;
      *z++ = '"';
    }
    *z++ = ']';
    *z = 0;
  }
  free(aFrame);
  if( zHeads==0 ) return EXIT_LOCAL;
  rc = db_get(pDb, &db, pzWhy) ? SQLITE_ERROR : SQLITE_OK;
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(db, "WITH RECURSIVE"
        " theirs(h) AS (SELECT value FROM json_each(?2) UNION"
        "   SELECT d.value FROM theirs JOIN bec_ops o ON o.hash=theirs.h,"
        "   json_each(o.deps) d),"
        " past(h) AS (SELECT ?1 UNION"
        "   SELECT d.value FROM past JOIN bec_ops o ON o.hash=past.h,"
        "   json_each(o.deps) d)"
        " SELECT bec_op(o.hash) FROM past JOIN bec_ops o ON o.hash=past.h"
        " WHERE past.h NOT IN theirs ORDER BY o.depth, o.hash", -1, &pStmt, 0);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zOp, 64, SQLITE_STATIC);
    sqlite3_bind_text(pStmt, 2, zHeads, -1, SQLITE_STATIC);
    while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
      if( chan_send(ch, 'O', sqlite3_column_blob(pStmt, 0),
                    (size_t)sqlite3_column_bytes(pStmt, 0)) ){
        rc = SQLITE_IOERR;
        break;
      }
      nSent++;
    }
    if( rc==SQLITE_DONE ) rc = SQLITE_OK;
    if( rc && rc!=SQLITE_IOERR && *pzWhy==0 ){
      *pzWhy = strdup(sqlite3_errmsg(db));
    }
    sqlite3_finalize(pStmt);
  }
  db_put(pDb, db);
  free(zHeads);
  if( rc==SQLITE_IOERR ) return EXIT_NET;
  if( rc ) return EXIT_LOCAL;
  if( chan_send(ch, 'D', 0, 0) ) return EXIT_NET;
  if( asprintf(pzWhy, "removed member told: sent the op that removed it, %.16s "
               "(by %s), and %lld ops of its past", zOp, zBy, nSent)<0 ){
    *pzWhy = 0;
  }
  return EXIT_AUTH;
}

/* Client: the server said 'R' (aFrame, nFrame: the removal op's hash).
** Stores the removal and its past, then checks it in this replica's own
** view.  EXIT_AUTH naming the remover if this key is removed here,
** EXIT_PROTO if the server's ops do not show that. */
static int hear_removed(Db *pDb, Chan *ch, const u8 *aHash, size_t nHash,
                        Stats *st, char **pzWhy){
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  u8 *aHeads = 0, *aFrame = 0, *aBy = 0;
  size_t nFrame = 0;
  int nHeads = 0, rc, nBy = 0;
  long long nStored = 0, nRefused = 0;
  char type = 0, zOp[65];

  if( nHash!=32 ){
    *pzWhy = strdup("told removed: a removal hash is 32 bytes");
    return EXIT_PROTO;
  }
  hex(aHash, 32, zOp);
  ch->bAuthed = 1;                      /* both sides accepted each other */
  ch->tDeadline = now() + nRoundTimeout;
  if( db_get(pDb, &db, pzWhy) ) return EXIT_LOCAL;
  aHeads = malloc(32*TOLD_MAX_HEADS);
  rc = aHeads ? sqlite3_prepare_v2(db, "SELECT hash FROM bec_heads LIMIT ?1",
                                   -1, &pStmt, 0) : SQLITE_NOMEM;
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, TOLD_MAX_HEADS);
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      const char *z = (const char*)sqlite3_column_text(pStmt, 0);
      int i;
      if( z==0 || sqlite3_column_bytes(pStmt, 0)!=64 ) continue;
      for(i=0; i<32; i++) sscanf(&z[i*2], "%2hhx", &aHeads[32*nHeads+i]);
      nHeads++;
    }
    rc = sqlite3_finalize(pStmt);
  }
  if( rc==SQLITE_OK && chan_send(ch, 'Q', aHeads, (size_t)nHeads*32) ){
    rc = SQLITE_IOERR;
  }
  free(aHeads);
  /* Each op through the normal acceptance path; a refused one is counted,
  ** and the check below decides. */
  while( rc==SQLITE_OK ){
    int rcRecv = chan_recv(ch, &type, &aFrame, &nFrame);
    if( rcRecv ){
      db_put(pDb, db);
      return handshake_refuse(ch, rcRecv, pzWhy);
    }
    if( type=='D' ){
      free(aFrame);
      break;
    }
    if( type!='O' ){
      free(aFrame);
      db_put(pDb, db);
      *pzWhy = strdup("told removed: expected ops ('O') and 'D'");
      return EXIT_PROTO;
    }
    st->nBytesRecv += (long long)nFrame;
    if( db_sync_call(pDb, db, "SELECT bec_ingest(?1)", 1,
                     (const void*[]){aFrame}, (int[]){(int)nFrame}, 0, 0, 0, 0) ){
      nRefused++;
    }else{
      nStored++;
    }
    free(aFrame);
  }
  st->nOpsRecv += nStored;
  if( rc==SQLITE_OK ){
    rc = db_call(db, "SELECT author FROM bec_ops WHERE hash=?1 AND kind='remove'"
                 " AND valid=1 AND target=bec_pubkey() AND bec_pubkey() NOT IN"
                 " (SELECT pubkey FROM bec_members)", 1, (const void*[]){zOp},
                 (int[]){64}, (int[]){1}, &aBy, &nBy, pzWhy);
  }
  db_put(pDb, db);
  if( rc==SQLITE_IOERR ) return EXIT_NET;
  if( rc ) return EXIT_LOCAL;
  if( aBy==0 || nBy<16 ){
    free(aBy);
    if( asprintf(pzWhy, "refused: the server says this key was removed in op "
                 "%s, but after storing %lld ops (%lld refused) that op does "
                 "not remove it here", zOp, nStored, nRefused)<0 ) *pzWhy = 0;
    return EXIT_PROTO;
  }
  if( asprintf(pzWhy, "removed from the group by %.16s... in op %s (%lld ops "
               "of the removal and its past received)", (const char*)aBy, zOp,
               nStored)<0 ){
    *pzWhy = 0;
  }
  free(aBy);
  return EXIT_AUTH;
}

/* INVITATIONS.  A client that is not a member yet may put its invitation's
** redemption (bec_invite.c) after its 'A' signature; the redemption names
** the key that signed the handshake.  The serving replica, if it issued
** the invitation, signs the newcomer's add (bec_invite_redeem, with the
** signing connection when the key is sealed) and then serves it as the
** member it now is; a refused redemption is answered with an 'E' frame
** that says why (exit 4 at the client).  *pbAllowed says whether the peer
** may sync now. */
static int redeem(Db *pDb, const u8 *aRed, const u8 *aPeerPub, Chan *ch,
                  Log *pLog, int *pbAllowed, char **pzWhy){
  sqlite3 *db = 0;
  u8 *aOut = 0;
  int nOut = 0, rc;
  char *zErr = 0;
  if( pDb->dbSign ){
    pthread_mutex_lock(&pDb->muSign);
    rc = db_call(pDb->dbSign, "SELECT bec_invite_redeem(?1)", 1,
                 (const void*[]){aRed}, (int[]){REDEMPTION_BYTES}, 0, &aOut,
                 &nOut, &zErr);
    pthread_mutex_unlock(&pDb->muSign);
  }else{
    if( db_get(pDb, &db, pzWhy) ) return EXIT_LOCAL;
    rc = db_call(db, "SELECT bec_invite_redeem(?1)", 1, (const void*[]){aRed},
                 (int[]){REDEMPTION_BYTES}, 0, &aOut, &nOut, &zErr);
    db_put(pDb, db);
  }
  if( rc ){
    char zMsg[300];
    snprintf(zMsg, sizeof(zMsg), "invitation refused: %s",
             zErr ? zErr : "cannot redeem it");
    free(zErr);
    free(aOut);
    (void)chan_send(ch, 'E', (const u8*)zMsg, strlen(zMsg));
    *pzWhy = strdup(zMsg);
    return EXIT_AUTH;
  }
  free(zErr);
  if( aOut && nOut==64 ){
    log_line(pLog, LOG_INFO, "added %.16s... by its invitation (op %.16s...)",
             pLog->zKey, (const char*)aOut);
  }
  free(aOut);
  aOut = 0;
  if( db_get(pDb, &db, pzWhy) ) return EXIT_LOCAL;
  rc = db_call(db, "SELECT bec_sync_peer_allowed(?1)", 1,
               (const void*[]){aPeerPub}, (int[]){32}, 0, &aOut, &nOut, pzWhy);
  db_put(pDb, db);
  *pbAllowed = rc==SQLITE_OK && aOut && aOut[0]=='1';
  free(aOut);
  return rc ? EXIT_LOCAL : EXIT_OK;
}

/* The handshake: hellos, keys, mutual signatures, membership, all before
** one total deadline and with frames bounded by PREAUTH_MAX_FRAME (see
** BEFORE AUTH at the top).  Each of its three database steps borrows a
** connection from pDb for that step only, so a peer that idles holds none.
** On success *pzLabel (sqlite3_malloc'd) names the peer, pLog->zKey shows
** its key, ch->bAuthed is set and the round's deadline starts. */
static int handshake(Db *pDb, Chan *ch, int bClient, Log *pLog, char **pzLabel,
                     Stats *pStats, char **pzWhy){
  u8 aMine[HELLO_BYTES], aTheirs[HELLO_BYTES], aTranscript[2*HELLO_BYTES + 1];
  u8 aKxPk[crypto_kx_PUBLICKEYBYTES], aKxSk[crypto_kx_SECRETKEYBYTES];
  u8 aRx[crypto_kx_SESSIONKEYBYTES], aTx[crypto_kx_SESSIONKEYBYTES];
  u8 aHdr[SS_HEADERBYTES], aPeerHdr[SS_HEADERBYTES];
  u8 aGroup[32], aPub[32], aPeerPub[32];
  u8 *aSig = 0, *aOk = 0, *aFrame = 0;
  u8 aAuth[64+REDEMPTION_BYTES], aRed[REDEMPTION_BYTES];
  int nSig = 0, nOk = 0, rc = EXIT_OK, bAllowed = 0, bGroup, bPub, bValid;
  int nAuth, bRedeem = 0;
  long long nOwnOps = -1;
  size_t nFrame = 0;
  char type = 0;
  char zHex[65];
  sqlite3 *db = 0;

  *pzWhy = 0;
  ch->bAuthed = 0;
  ch->tDeadline = now() + nHandshakeTimeout;
  if( db_get(pDb, &db, pzWhy) ) return EXIT_LOCAL;
  bGroup = db_hex(db, "SELECT bec_group_id()", aGroup, 32);
  bPub = bGroup && db_hex(db, "SELECT bec_pubkey()", aPub, 32);
  db_put(pDb, db);
  if( !bGroup ){
    *pzWhy = strdup("this database has no group (bec_create_group or bec_join)");
    return EXIT_LOCAL;
  }
  if( !bPub ){
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
  if( pDb->dbSign ){
    /* A sealed key is unlocked on this connection alone (see PASSPHRASE). */
    pthread_mutex_lock(&pDb->muSign);
    rc = db_call(pDb->dbSign, "SELECT bec_sync_auth_sign(?1)", 1,
                 (const void*[]){aTranscript}, (int[]){2*HELLO_BYTES+1}, 0,
                 &aSig, &nSig, pzWhy);
    pthread_mutex_unlock(&pDb->muSign);
  }else{
    if( db_get(pDb, &db, pzWhy) ) return EXIT_LOCAL;
    rc = db_call(db, "SELECT bec_sync_auth_sign(?1)", 1,
                 (const void*[]){aTranscript}, (int[]){2*HELLO_BYTES+1}, 0,
                 &aSig, &nSig, pzWhy);
    db_put(pDb, db);
  }
  if( rc || nSig!=64 ){
    free(aSig);
    if( *pzWhy==0 ) *pzWhy = strdup("bec_sync_auth_sign gave no signature");
    return EXIT_LOCAL;
  }
  /* A client waiting to be added presents its invitation's redemption
  ** after its signature (INVITATIONS). */
  memcpy(aAuth, aSig, 64);
  free(aSig);
  nAuth = 64;
  if( bClient ){
    u8 *aPresent = 0;
    int nPresent = 0;
    if( db_get(pDb, &db, pzWhy) ) return EXIT_LOCAL;
    rc = db_call(db, "SELECT bec_invite_redemption()", 0, 0, 0, 0, &aPresent,
                 &nPresent, pzWhy);
    db_put(pDb, db);
    if( rc ){
      free(aPresent);
      return EXIT_LOCAL;
    }
    if( nPresent==REDEMPTION_BYTES ){
      memcpy(&aAuth[64], aPresent, REDEMPTION_BYTES);
      nAuth += REDEMPTION_BYTES;
    }
    free(aPresent);
  }
  rc = chan_send(ch, 'A', aAuth, nAuth) ? EXIT_NET : EXIT_OK;
  if( rc==EXIT_OK ) rc = chan_recv(ch, &type, &aFrame, &nFrame);
  if( rc ) return handshake_refuse(ch, rc, pzWhy);
  if( type=='E' ){
    *pzWhy = peer_text("refused: ", aFrame, nFrame);
    free(aFrame);
    return EXIT_AUTH;
  }
  aTranscript[2*HELLO_BYTES] = aTheirs[5];
  if( db_get(pDb, &db, pzWhy) ){
    free(aFrame);
    return EXIT_LOCAL;
  }
  bValid = type=='A' && (nFrame==64 || nFrame==64+REDEMPTION_BYTES)
        && db_call(db, "SELECT bec_sync_auth_verify(?1, ?2, ?3)", 3,
                   (const void*[]){aPeerPub, aTranscript, aFrame},
                   (int[]){32, 2*HELLO_BYTES+1, 64}, 0, &aOk, &nOk, 0)==SQLITE_OK
        && aOk!=0 && aOk[0]=='1';
  bRedeem = bValid && !bClient && nFrame==64+REDEMPTION_BYTES
         && memcmp(&aFrame[64+32], aPeerPub, 32)==0;
  if( bRedeem ) memcpy(aRed, &aFrame[64], REDEMPTION_BYTES);
  free(aFrame);
  free(aOk);
  aOk = 0;
  rc = EXIT_OK;
  if( bValid ){
    u8 *aN = 0;
    int nN = 0;
    if( db_call(db, "SELECT bec_sync_op_count()", 0, 0, 0, 0, &aN, &nN, 0)
        ==SQLITE_OK && aN ){
      nOwnOps = atoll((const char*)aN);
    }
    free(aN);
    hex(aPeerPub, 32, zHex);
    memcpy(pLog->zKey, zHex, 16);
    pLog->zKey[16] = 0;
    log_name(pLog, db, zHex);
    if( db_call(db, bRelayPin ? "SELECT bec_sync_peer_allowed(?1, ?2)"
                              : "SELECT bec_sync_peer_allowed(?1)", 1+bRelayPin,
                (const void*[]){aPeerPub, aRelayPin}, (int[]){32, 32}, 0,
                &aOk, &nOk, pzWhy) ){
      rc = EXIT_LOCAL;
    }
    bAllowed = aOk && aOk[0]=='1';
    free(aOk);
  }
  db_put(pDb, db);
  if( rc ) return rc;
  if( !bValid ){
    *pzWhy = strdup("the peer's identity signature is not valid");
    (void)chan_send(ch, 'E', (const u8*)"authentication failed", 21);
    return EXIT_AUTH;
  }
  if( !bAllowed && bRedeem ){
    rc = redeem(pDb, aRed, aPeerPub, ch, pLog, &bAllowed, pzWhy);
    if( rc ) return rc;
  }
  if( !bAllowed && !bClient ){
    /* A removed member is told, not just refused (TOLD REMOVED). */
    int bTold = 0;
    rc = tell_removed(pDb, ch, aPeerPub, &bTold, pzWhy);
    if( bTold || rc ) return rc;
  }
  if( !bAllowed ){
    char zMsg[160];
    snprintf(zMsg, sizeof(zMsg), "key %s is not a member of this group", zHex);
    (void)chan_send(ch, 'E', (const u8*)zMsg, strlen(zMsg));
    *pzWhy = strdup(zMsg);
    return EXIT_AUTH;
  }
  /* Both must accept before any sync message moves.  A peer that refuses
  ** may close before our 'K' arrives: its 'E' is still read. */
  /* 'K' may carry one flags byte (LIVE SESSIONS): the client asks for a
  ** live session, the server says it holds them.  Older peers send none
  ** and ignore it. */
  {
    /* flags, then (PROGRESS) the ops this side holds, 8 bytes big-endian. */
    u8 aK[9];
    int i;
    aK[0] = bClient ? (ch->bWantLive ? K_LIVE : 0) : K_LIVE;
    for(i=0; i<8; i++){
      aK[1+i] = (u8)((unsigned long long)(nOwnOps<0 ? 0 : nOwnOps) >> (56-8*i));
    }
    (void)chan_send(ch, 'K', aK, 9);
  }
  rc = chan_recv(ch, &type, &aFrame, &nFrame);
  if( rc ) return handshake_refuse(ch, rc, pzWhy);
  if( type=='R' && bClient ){
    rc = hear_removed(pDb, ch, aFrame, nFrame, pStats, pzWhy);
    free(aFrame);
    return rc;
  }
  if( type!='K' ){
    *pzWhy = peer_text("refused: ", aFrame, nFrame);
    free(aFrame);
    return type=='E' ? EXIT_AUTH : EXIT_PROTO;
  }
  ch->bLive = nFrame>=1 && (aFrame[0] & K_LIVE)
           && (bClient ? ch->bWantLive : 1);
  if( pStats ){
    pStats->nOwnOps = nOwnOps;
    pStats->nPeerOps = -1;
    if( nFrame>=9 ){
      int i;
      pStats->nPeerOps = 0;
      for(i=0; i<8; i++) pStats->nPeerOps = (pStats->nPeerOps<<8) | aFrame[1+i];
      if( pStats->nPeerOps<0 ) pStats->nPeerOps = -1;
    }
  }
  free(aFrame);
  /* From here frames up to MAX_FRAME, --timeout per read, and the round's
  ** own total deadline. */
  ch->bAuthed = 1;
  ch->tDeadline = now() + nRoundTimeout;
  *pzLabel = zLabelOpt ? sqlite3_mprintf("%s", zLabelOpt)
                       : sqlite3_mprintf("key:%s", zHex);
  return *pzLabel ? EXIT_OK : EXIT_LOCAL;
}

/**************************************************************************
** LIVE SESSIONS (docs/sync.md, "Live sessions").  A client that asks for
** it ('K' carrying K_LIVE, answered in kind by a server that holds live
** sessions) keeps the connection open after the first round.  Every later
** round is an ordinary bec sync session on the same channel: the client
** sends an offer ('M'), each 'M' is answered with 'M' or 'D', and every op
** goes through bec_sync_apply, so a push is accepted exactly as any sync
** is.  Only the client starts rounds, so two never cross; between rounds:
**
**   'P'  news (server to client): my heads moved; the client starts a
**        round at once.  A 'P' that crosses the client's offer is noted
**        and costs one more round at most.
**   'H'  keepalive: the client sends one when it has sent nothing for
**        --keepalive seconds, the server echoes it at once; a side that
**        hears nothing for --timeout seconds drops the session (exit 3).
**        So the client sets the rhythm, and its --keepalive must stay
**        below the server's --timeout (the defaults, 10 and 30, do).
**   'B'  bye: the sender ends the session cleanly (SIGTERM, a stopping
**        server), only between rounds; then it closes.
**
** What to push is decided by the heads: a round is due when this side's
** heads differ from the heads the peer was last seen in sync with (a
** BLAKE2b fingerprint of the sorted head hashes).  Heads change when any
** connection, in this process or another, commits an op: one watcher
** thread per process reads PRAGMA data_version on a connection of its own
** (it moves only when another connection commits) and, when the
** fingerprint changed, wakes every live session through its eventfd.
** Polling data_version every 5 ms cost about 1.2% of a core per idle
** process (each read takes the WAL's read locks), so the watcher sleeps on
** inotify instead: a write to the database, its -wal or -journal starts a
** burst of polls every WATCH_MS for WATCH_BURST_MS (a commit becomes
** visible a moment after its last write), and with no event it looks once
** every WATCH_IDLE_MS; where inotify is unavailable it polls every
** WATCH_POLL_MS.  A session compares on its own
** connection, so its own commits (ops the peer just sent) never trigger a
** push back.  A round that ends out of sync (heads moved meanwhile) is
** followed by another, at most LIVE_RETRIES times with no change.  Each
** round still has its --round-timeout; long pushes move in the messages
** bec already bounds (10,000 ops, 4 MiB) and each message is committed on
** arrival, so a broken transfer resumes from what was stored: the next
** offer names the receiver's heads, and the sender sends exactly the rest.
*/

static double unit_random(void);

static void stats_add(Stats *pTo, const Stats *p){
  pTo->nRound += p->nRound;
  pTo->nOpsSent += p->nOpsSent;
  pTo->nOpsRecv += p->nOpsRecv;
  pTo->nBytesSent += p->nBytesSent;
  pTo->nBytesRecv += p->nBytesRecv;
}
#define WATCH_MS      2       /* data_version poll while writes happen */
#define WATCH_BURST_MS 250    /* ... for this long after a write's event
                              ** (a writer descheduled on a loaded machine
                              ** may commit well after its last write) */
#define WATCH_IDLE_MS 250     /* and with no event at all, this often */
#define WATCH_POLL_MS 5       /* without inotify: always this often */
#define LIVE_RETRIES  2

/* The stop pipe: SIGTERM, SIGINT or a stopping server writes a byte to
** gStop[1] and no one ever reads it, so gStop[0] stays readable and every
** poll that includes it returns at once. */
static int gStop[2] = { -1, -1 };

static void stop_all(void){
  if( gStop[1]>=0 && write(gStop[1], "x", 1)<0 ){ /* already full: stopping */ }
}

static int stopping(void){
  struct pollfd pfd;
  if( gStop[0]<0 ) return 0;
  pfd.fd = gStop[0];
  pfd.events = POLLIN;
  pfd.revents = 0;
  return poll(&pfd, 1, 0)>0;
}

static void on_stop_signal(int sig){
  (void)sig;
  stop_all();
}

/* Creates the stop pipe and routes SIGTERM and SIGINT to it: serve, run
** and live sessions end cleanly instead of dying. */
static int stop_init(void){
  struct sigaction sa;
  if( gStop[0]<0 && pipe2(gStop, O_CLOEXEC | O_NONBLOCK) ) return -1;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, 0);
  sigaction(SIGINT, &sa, 0);
  return 0;
}

/* The fingerprint of db's heads: BLAKE2b of the sorted hashes.  0 or -1. */
static int heads_print(sqlite3 *db, u8 *aOut){
  crypto_generichash_state h;
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT hash FROM bec_heads ORDER BY hash",
                              -1, &pStmt, 0);
  crypto_generichash_init(&h, 0, 0, 32);
  while( rc==SQLITE_OK && (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    crypto_generichash_update(&h, sqlite3_column_text(pStmt, 0),
                              (size_t)sqlite3_column_bytes(pStmt, 0));
    rc = SQLITE_OK;
  }
  sqlite3_finalize(pStmt);
  crypto_generichash_final(&h, aOut, 32);
  return rc==SQLITE_DONE ? 0 : -1;
}

/* The watcher: one thread per process, started by the first live session,
** ended by the stop pipe. */
static struct {
  pthread_mutex_t mu;         /* guards everything below */
  int bStarted;
  pthread_t tid;
  const char *zPath;
  int *aFd;                   /* eventfds of live sessions (malloc'd) */
  int nFd, nAlloc;
} gWatch = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0, 0 };

static void watch_wake_all(void){
  uint64_t one = 1;
  int i;
  pthread_mutex_lock(&gWatch.mu);
  for(i=0; i<gWatch.nFd; i++){
    if( write(gWatch.aFd[i], &one, sizeof(one))<0 ){ /* already awake */ }
  }
  pthread_mutex_unlock(&gWatch.mu);
}

/* An inotify descriptor on the database's directory, or -1 (then the
** watcher polls every WATCH_MS).  zName gets the file's base name. */
static int watch_inotify(const char *zPath, char *zName, size_t nName){
  char zDir[4096];
  const char *zSlash = strrchr(zPath, '/');
  int fd;
  if( zSlash ){
    snprintf(zDir, sizeof(zDir), "%.*s", (int)(zSlash - zPath) + 1, zPath);
    snprintf(zName, nName, "%s", zSlash + 1);
  }else{
    snprintf(zDir, sizeof(zDir), ".");
    snprintf(zName, nName, "%s", zPath);
  }
  fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if( fd>=0 && inotify_add_watch(fd, zDir, IN_MODIFY | IN_CLOSE_WRITE
                                 | IN_CREATE | IN_MOVED_TO)<0 ){
    close(fd);
    fd = -1;
  }
  return fd;
}

/* Drains ifd; 1 if an event was about the database, its -wal or -journal. */
static int watch_events(int ifd, const char *zName){
  char aBuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  size_t nName = strlen(zName);
  int bHit = 0;
  for(;;){
    ssize_t n = read(ifd, aBuf, sizeof(aBuf)), i;
    if( n<=0 ) break;
    for(i=0; i<n; ){
      const struct inotify_event *e = (const struct inotify_event*)&aBuf[i];
      if( e->len>0 && strncmp(e->name, zName, nName)==0
       && (e->name[nName]==0 || strcmp(&e->name[nName], "-wal")==0
           || strcmp(&e->name[nName], "-journal")==0) ){
        bHit = 1;
      }
      i += (ssize_t)(sizeof(struct inotify_event) + e->len);
    }
  }
  return bHit;
}

static void *watch_main(void *pArg){
  sqlite3 *db = 0;
  sqlite3_stmt *pVer = 0;
  char *zErr = 0;
  char zName[512];
  sqlite3_int64 iVer = -1;
  u8 aPrint[32], aNow[32];
  int bPrint = 0, ifd;
  double tBurst = now() + 1.0;
  (void)pArg;
  /* Until the watcher has its connection, pushes wait for the periodic
  ** rounds; it tries again every WATCH_IDLE_MS, logging the first failure. */
  while( db_connect(gWatch.zPath, &db, &zErr)
      || sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &pVer, 0) ){
    struct pollfd pfd;
    if( !bPrint ){
      Log lg;
      log_init(&lg, stderr, 1, 0);
      log_line(&lg, LOG_ERROR, "live sessions cannot watch %s: %s (retrying "
               "every %d ms)", gWatch.zPath, zErr ? zErr : sqlite3_errmsg(db),
               WATCH_IDLE_MS);
      bPrint = 1;
    }
    free(zErr);
    zErr = 0;
    sqlite3_close(db);
    db = 0;
    pfd.fd = gStop[0];
    pfd.events = POLLIN;
    pfd.revents = 0;
    if( poll(&pfd, 1, WATCH_IDLE_MS)>0 ) return 0;
  }
  bPrint = 0;
  ifd = watch_inotify(gWatch.zPath, zName, sizeof(zName));
  for(;;){
    struct pollfd a[2];
    int nWait;
    if( sqlite3_step(pVer)==SQLITE_ROW ){
      sqlite3_int64 v = sqlite3_column_int64(pVer, 0);
      sqlite3_reset(pVer);
      if( v!=iVer && heads_print(db, aNow)==0 ){
        iVer = v;
        if( !bPrint || memcmp(aNow, aPrint, 32) ){
          memcpy(aPrint, aNow, 32);
          bPrint = 1;
          watch_wake_all();
        }
      }
    }else{
      sqlite3_reset(pVer);
    }
    /* With inotify: poll every WATCH_MS only for WATCH_BURST_MS after a
    ** write to the files (the commit becomes visible in the WAL index a
    ** moment after its last write), else sleep until a write or
    ** WATCH_IDLE_MS.  Without inotify: every WATCH_MS. */
    nWait = ifd<0 ? WATCH_POLL_MS : now()>tBurst ? WATCH_IDLE_MS : WATCH_MS;
    a[0].fd = gStop[0];
    a[0].events = POLLIN;
    a[0].revents = 0;
    a[1].fd = ifd;
    a[1].events = POLLIN;
    a[1].revents = 0;
    if( poll(a, 2, nWait)>0 ){
      if( a[0].revents ) break;
      if( a[1].revents && watch_events(ifd, zName) ){
        tBurst = now() + WATCH_BURST_MS/1000.0;
      }
    }
  }
  if( ifd>=0 ) close(ifd);
  sqlite3_finalize(pVer);
  sqlite3_close(db);
  return 0;
}

/* Registers a live session's eventfd (starting the watcher on zPath if it
** does not run yet).  0 or -1. */
static int watch_add(const char *zPath, int fd){
  int rc = 0;
  pthread_mutex_lock(&gWatch.mu);
  if( !gWatch.bStarted ){
    gWatch.zPath = zPath;
    if( pthread_create(&gWatch.tid, 0, watch_main, 0)==0 ) gWatch.bStarted = 1;
    else rc = -1;
  }
  if( rc==0 && gWatch.nFd>=gWatch.nAlloc ){
    int nNew = gWatch.nAlloc ? gWatch.nAlloc*2 : 16;
    int *aNew = realloc(gWatch.aFd, sizeof(int)*(size_t)nNew);
    if( aNew ){
      gWatch.aFd = aNew;
      gWatch.nAlloc = nNew;
    }else{
      rc = -1;
    }
  }
  if( rc==0 ) gWatch.aFd[gWatch.nFd++] = fd;
  pthread_mutex_unlock(&gWatch.mu);
  return rc;
}

static void watch_remove(int fd){
  int i;
  pthread_mutex_lock(&gWatch.mu);
  for(i=0; i<gWatch.nFd; i++){
    if( gWatch.aFd[i]==fd ){
      gWatch.aFd[i] = gWatch.aFd[--gWatch.nFd];
      break;
    }
  }
  pthread_mutex_unlock(&gWatch.mu);
}

/* Ends the watcher (the stop pipe must have been written). */
static void watch_join(void){
  if( gWatch.bStarted ){
    pthread_join(gWatch.tid, 0);
    gWatch.bStarted = 0;
  }
  free(gWatch.aFd);
  gWatch.aFd = 0;
  gWatch.nFd = gWatch.nAlloc = 0;
}

/* 1 if the session's own quit descriptor is readable. */
static int chan_quit(const Chan *ch){
  struct pollfd pfd;
  if( ch->pQuit==0 ) return 0;
  pfd.fd = *ch->pQuit;
  pfd.events = POLLIN;
  pfd.revents = 0;
  return poll(&pfd, 1, 0)>0;
}

/* The keepalive period: --keepalive, else a third of --timeout. */
static int nKeepaliveOpt = 0;
static int keepalive_secs(void){
  if( nKeepaliveOpt>0 ) return nKeepaliveOpt;
  return nTimeout>=3 ? nTimeout/3 : 1;
}

/* A frame between rounds (H, P, B): under the session's --timeout. */
static int live_send(Chan *ch, char type){
  ch->tDeadline = now() + nRoundTimeout;
  return chan_send(ch, type, 0, 0) ? EXIT_NET : EXIT_OK;
}

/**************************************************************************
** STATUS AND METRICS (docs/reference.md, "becsync status").
**
** Status: a table of becsync's own in the database, becsync_peer, one row
** per peer: a dialled peer under its address as given (HOST:PORT, the
** --exec command), a served one under its label (key:<hex identity key>)
** once authenticated, so no one without a member key adds rows.  It holds
** times, counts and the last error text, nothing secret, and it is no op:
** bec never syncs it and no merge reads it, so it cannot affect
** convergence.  A row is written when a session ends and after each live
** round that moved ops; a failure to write it (a read-only file) is
** ignored.  `becsync status DB` prints it.
**
** Metrics: --metrics FILE (the config key metrics) keeps a Prometheus text
** file of process-wide counters, rewritten every METRICS_SECS seconds and
** at exit, atomically: written whole to FILE.tmp, then renamed over FILE.
*/
#define METRICS_SECS  1

static const char *zMetricsPath = 0;      /* --metrics FILE, or 0 */

static void status_record(Db *pDb, const char *zPeer, int rc, int bEnd,
                          const Stats *st, const char *zErr){
  static const char *zSql =
    "CREATE TABLE IF NOT EXISTS becsync_peer(peer TEXT PRIMARY KEY,"
    " last_success TEXT, last_failure TEXT,"
    " sessions INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,"
    " ops_sent INTEGER NOT NULL DEFAULT 0, ops_received INTEGER NOT NULL DEFAULT 0,"
    " bytes_sent INTEGER NOT NULL DEFAULT 0,"
    " bytes_received INTEGER NOT NULL DEFAULT 0, last_error TEXT) WITHOUT ROWID";
  static const char *zUpsert =
    "INSERT INTO becsync_peer(peer, last_success, last_failure, sessions,"
    " failures, ops_sent, ops_received, bytes_sent, bytes_received, last_error)"
    " VALUES(?1, CASE WHEN ?2 THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') END,"
    "  CASE WHEN ?2 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ','now') END,"
    "  ?3, 1-?2, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT(peer) DO UPDATE SET"
    " last_success=coalesce(excluded.last_success, last_success),"
    " last_failure=coalesce(excluded.last_failure, last_failure),"
    " sessions=sessions+excluded.sessions, failures=failures+excluded.failures,"
    " ops_sent=ops_sent+excluded.ops_sent,"
    " ops_received=ops_received+excluded.ops_received,"
    " bytes_sent=bytes_sent+excluded.bytes_sent,"
    " bytes_received=bytes_received+excluded.bytes_received,"
    " last_error=coalesce(excluded.last_error, last_error)";
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  char *zWhy = 0;
  int bOk = rc==EXIT_OK || rc==EXIT_NOSYNC;
  if( zPeer==0 || db_get(pDb, &db, &zWhy) ){
    free(zWhy);
    return;
  }
  pthread_mutex_lock(&pDb->muWrite);
  if( sqlite3_exec(db, zSql, 0, 0, 0)==SQLITE_OK
   && sqlite3_prepare_v2(db, zUpsert, -1, &pStmt, 0)==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zPeer, -1, SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 2, bOk);
    sqlite3_bind_int(pStmt, 3, bEnd);
    sqlite3_bind_int64(pStmt, 4, st->nOpsSent);
    sqlite3_bind_int64(pStmt, 5, st->nOpsRecv);
    sqlite3_bind_int64(pStmt, 6, st->nBytesSent);
    sqlite3_bind_int64(pStmt, 7, st->nBytesRecv);
    if( !bOk ) sqlite3_bind_text(pStmt, 8, zErr ? zErr : "failed", -1, SQLITE_STATIC);
    sqlite3_step(pStmt);
  }
  sqlite3_finalize(pStmt);
  pthread_mutex_unlock(&pDb->muWrite);
  db_put(pDb, db);
}

/* A round's counts, for the metrics. */
static void metrics_round(const Stats *st){
  pthread_mutex_lock(&gMetrics.mu);
  gMetrics.nRounds++;
  gMetrics.nOpsSent += st->nOpsSent;
  gMetrics.nOpsRecv += st->nOpsRecv;
  gMetrics.nBytesSent += st->nBytesSent;
  gMetrics.nBytesRecv += st->nBytesRecv;
  pthread_mutex_unlock(&gMetrics.mu);
}

/* Writes the metrics file (temp file, then rename).  bUp 0 at exit. */
static void metrics_write(const char *zDbPath, int bUp){
  static const char *azResult[] = { "ok", "usage", "local", "net", "auth",
                                    "proto", "nosync" };
  char zTmp[4200];
  long long nPending = -1, nFail = 0;
  sqlite3 *db = 0;
  FILE *f;
  int i;
  if( zMetricsPath==0 ) return;
  if( zDbPath
   && sqlite3_open_v2(zDbPath, &db, SQLITE_OPEN_READONLY, 0)==SQLITE_OK ){
    sqlite3_stmt *pStmt = 0;
    sqlite3_busy_timeout(db, 1000);
    if( sqlite3_prepare_v2(db, "SELECT count(DISTINCT hash) FROM bec_pending",
                           -1, &pStmt, 0)==SQLITE_OK
     && sqlite3_step(pStmt)==SQLITE_ROW ){
      nPending = sqlite3_column_int64(pStmt, 0);
    }
    sqlite3_finalize(pStmt);
  }
  sqlite3_close(db);
  snprintf(zTmp, sizeof(zTmp), "%s.tmp", zMetricsPath);
  f = fopen(zTmp, "w");
  if( f==0 ) return;
  pthread_mutex_lock(&gMetrics.mu);
  for(i=1; i<6; i++) nFail += gMetrics.anEnded[i];
  fprintf(f,
    "# HELP becsync_up 1 while becsync runs; 0 in the file it leaves at exit.\n"
    "# TYPE becsync_up gauge\nbecsync_up %d\n"
    "# HELP becsync_sessions_started_total Sessions started, served and dialled.\n"
    "# TYPE becsync_sessions_started_total counter\nbecsync_sessions_started_total %lld\n"
    "# HELP becsync_sessions_active Sessions running now.\n"
    "# TYPE becsync_sessions_active gauge\nbecsync_sessions_active %lld\n"
    "# HELP becsync_live_sessions Live sessions open now.\n"
    "# TYPE becsync_live_sessions gauge\nbecsync_live_sessions %lld\n"
    "# HELP becsync_sessions_ended_total Sessions ended, by result.\n"
    "# TYPE becsync_sessions_ended_total counter\n",
    bUp, gMetrics.nStarted, gMetrics.nActive, gMetrics.nLive);
  for(i=0; i<7; i++){
    fprintf(f, "becsync_sessions_ended_total{result=\"%s\"} %lld\n", azResult[i],
            gMetrics.anEnded[i]);
  }
  fprintf(f,
    "# HELP becsync_session_failures_total Sessions that failed (local, net, auth, proto).\n"
    "# TYPE becsync_session_failures_total counter\nbecsync_session_failures_total %lld\n"
    "# HELP becsync_rounds_total Sync rounds completed.\n"
    "# TYPE becsync_rounds_total counter\nbecsync_rounds_total %lld\n"
    "# HELP becsync_ops_total Ops moved, by direction.\n"
    "# TYPE becsync_ops_total counter\n"
    "becsync_ops_total{direction=\"sent\"} %lld\nbecsync_ops_total{direction=\"received\"} %lld\n"
    "# HELP becsync_bytes_total Sync message bytes moved, by direction.\n"
    "# TYPE becsync_bytes_total counter\n"
    "becsync_bytes_total{direction=\"sent\"} %lld\nbecsync_bytes_total{direction=\"received\"} %lld\n"
    "# HELP becsync_write_queue Sessions waiting for the database write lock now.\n"
    "# TYPE becsync_write_queue gauge\nbecsync_write_queue %lld\n",
    nFail, gMetrics.nRounds, gMetrics.nOpsSent, gMetrics.nOpsRecv,
    gMetrics.nBytesSent, gMetrics.nBytesRecv, gMetrics.nWriteWait);
  pthread_mutex_unlock(&gMetrics.mu);
  if( nPending>=0 ){
    fprintf(f, "# HELP becsync_pending_ops Ops waiting in bec's pending area for predecessors.\n"
            "# TYPE becsync_pending_ops gauge\nbecsync_pending_ops %lld\n", nPending);
  }
  fprintf(f, "# HELP becsync_metrics_timestamp_seconds When this file was written.\n"
          "# TYPE becsync_metrics_timestamp_seconds gauge\n"
          "becsync_metrics_timestamp_seconds %lld\n", (long long)time(0));
  if( fclose(f)==0 ) rename(zTmp, zMetricsPath);
  else unlink(zTmp);
}

/* The metrics thread: the file every METRICS_SECS until the stop pipe. */
static void *metrics_main(void *pArg){
  const char *zDbPath = (const char*)pArg;
  for(;;){
    struct pollfd pfd;
    metrics_write(zDbPath, 1);
    pfd.fd = gStop[0];
    pfd.events = POLLIN;
    pfd.revents = 0;
    if( poll(&pfd, 1, METRICS_SECS*1000)>0 ) break;
  }
  return 0;
}

/* One round: one bec sync session.  The client offers; the server starts
** by reading the client's offer, or from aFirst (an 'M' already read
** between rounds of a live session; freed here).  Each 'M' gets a reply
** until one side has nothing more to say ('D').  'P' and 'H' frames that
** cross the round are skipped ('P' sets *pbNews).  The round's ops, bytes
** and messages are added to st; an error's text goes to *pzErr (malloc'd). */
static int run_round(Db *pDb, Chan *ch, sqlite3 *db, int bClient,
                     const char *zLabel, Log *pLog, Stats *st, u8 *aFirst,
                     size_t nFirst, int *pbNews, char **pzErr){
  u8 *m = 0;
  int n = 0, rc = EXIT_OK, rcSql;
  if( bClient ){
    rc = db_sync_call(pDb, db, "SELECT bec_sync_offer(?1)", 1,
                      (const void*[]){zLabel}, (int[]){-1}, (int[]){1},
                      &m, &n, pzErr) ? EXIT_LOCAL : EXIT_OK;
    if( rc==EXIT_OK ){
      st->nRound++;
      st->nBytesSent += n;
      rc = chan_send(ch, 'M', m, (size_t)n) ? EXIT_NET : EXIT_OK;
    }
    free(m);
    m = 0;
  }
  while( rc==EXIT_OK ){
    char type = 'M';
    u8 *aIn = aFirst;
    size_t nIn = nFirst;
    if( aFirst ){
      aFirst = 0;
    }else{
      rc = chan_recv(ch, &type, &aIn, &nIn);
      if( rc ) break;
    }
    if( type=='P' || type=='H' ){
      if( type=='P' ) *pbNews = 1;
      free(aIn);
      continue;
    }
    if( type=='D' ){
      free(aIn);
      break;
    }
    if( type=='E' ){
      *pzErr = peer_text("", aIn, nIn);
      free(aIn);
      rc = EXIT_PROTO;
      break;
    }
    if( type=='B' ){
      free(aIn);
      snprintf(ch->zFail, sizeof(ch->zFail), "the peer ended the session in a round");
      rc = EXIT_NET;
      break;
    }
    if( type!='M' ){
      free(aIn);
      rc = EXIT_PROTO;
      break;
    }
    st->nRound++;
    st->nBytesRecv += (long long)nIn;
    rcSql = db_sync_call(pDb, db, "SELECT bec_sync_apply(?1, ?2)", 2,
                         (const void*[]){zLabel, aIn}, (int[]){-1, (int)nIn},
                         (int[]){1, 0}, &m, &n, pzErr);
    free(aIn);
    if( rcSql ){
      (void)chan_send(ch, 'E', (const u8*)*pzErr, strlen(*pzErr));
      rc = is_local_error(rcSql) ? EXIT_LOCAL : EXIT_PROTO;
      break;
    }
    if( m==0 ){
      rc = chan_send(ch, 'D', 0, 0) ? EXIT_NET : EXIT_OK;
      break;
    }
    st->nRound++;
    st->nBytesSent += n;
    rc = chan_send(ch, 'M', m, (size_t)n) ? EXIT_NET : EXIT_OK;
    free(m);
    m = 0;
    db_state(db, zLabel, st, 0);
    progress(pLog, st);
  }
  return rc;
}

/* Between the rounds of a live session (LIVE SESSIONS above): waits for
** news (the watcher's wake, the peer's 'P' or 'M'), keeps the connection
** alive, and runs a round whenever one is due.  bInSync: the first round
** ended in sync, with this side's heads' fingerprint aSeen.  Rounds that moved ops are
** logged; *pTotal gets every round's counts.  EXIT_OK when either side
** ended the session cleanly ('B', the stop pipe). */
static int live_loop(Db *pDb, Chan *ch, sqlite3 *db, int bClient,
                     const char *zLabel, Log *pLog, const char *zName,
                     const char *zStatus, int bInSync, const u8 *aSeen,
                     Stats *pTotal, char **pzErr){
  u8 aConf[32], aNow[32];
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int rc = EXIT_OK, bNeed = !bInSync, nRetry = 0, bPoked = 0;
  int nKeep = keepalive_secs();
  double tLastRecv = now(), tLastSend = now(), tNextRound = 0;
  int nInterval = pDb->nLiveInterval;
  memset(aConf, 0, sizeof(aConf));
  if( efd<0 || watch_add(pDb->zPath, efd) ){
    *pzErr = strdup("cannot watch the database for a live session");
    if( efd>=0 ) close(efd);
    return EXIT_LOCAL;
  }
  /* aSeen: this side's heads when the first round ended in sync; anything
  ** committed since is news, whenever the watcher woke. */
  if( bInSync ){
    memcpy(aConf, aSeen, 32);
    if( heads_print(db, aNow) || memcmp(aNow, aConf, 32) ) bNeed = 1;
  }
  if( bClient && nInterval>0 ) tNextRound = now() + nInterval*(0.9 + 0.2*unit_random());
  log_line(pLog, LOG_INFO, "live session with %s: open", zName);
  metrics_count(&gMetrics.nLive, 1);
  while( rc==EXIT_OK ){
    struct pollfd a[4];
    double t = now(), tWake;
    int r, nFd;
    if( stopping() || chan_quit(ch) ){
      (void)live_send(ch, 'B');
      break;
    }
    if( bClient && tNextRound>0 && t>=tNextRound ){
      bNeed = 1;
      tNextRound = t + nInterval*(0.9 + 0.2*unit_random());
    }
    if( bNeed && bClient ){
      /* A round: the client's offer, the server's replies. */
      Stats st;
      int bNews = 0, bSync;
      memset(&st, 0, sizeof(st));
      st.tStart = now();
      ch->tDeadline = now() + nRoundTimeout;
      rc = run_round(pDb, ch, db, 1, zLabel, pLog, &st, 0, 0, &bNews, pzErr);
      tLastRecv = tLastSend = now();
      if( rc ) break;
      bSync = heads_print(db, aNow)==0 && db_state(db, zLabel, &st, 0);
      if( st.nOpsSent || st.nOpsRecv ){
        summary(pLog, EXIT_OK, zName, bSync, &st, 0);
        status_record(pDb, zStatus, EXIT_OK, 0, &st, 0);
      }
      stats_add(pTotal, &st);
      metrics_round(&st);
      if( bSync ){
        memcpy(aConf, aNow, 32);
        nRetry = 0;
      }
      bNeed = bNews || (!bSync && nRetry++<LIVE_RETRIES);
      continue;
    }
    if( bNeed && !bClient && !bPoked ){
      rc = live_send(ch, 'P');
      tLastSend = now();
      bPoked = 1;
      bNeed = 0;
      continue;
    }
    /* Idle: wait for the socket, the watcher or the stop pipe. */
    tWake = tLastRecv + nTimeout;
    if( bClient && tLastSend + nKeep < tWake ) tWake = tLastSend + nKeep;
    if( tNextRound>0 && tNextRound<tWake ) tWake = tNextRound;
    a[0].fd = ch->fdIn;   a[0].events = POLLIN; a[0].revents = 0;
    a[1].fd = efd;        a[1].events = POLLIN; a[1].revents = 0;
    a[2].fd = gStop[0];   a[2].events = POLLIN; a[2].revents = 0;
    a[3].fd = ch->pQuit ? *ch->pQuit : -1;
    a[3].events = POLLIN; a[3].revents = 0;
    nFd = 4;
    r = poll(a, (nfds_t)nFd, tWake>t ? (int)((tWake-t)*1000) + 1 : 0);
    if( r<0 && errno!=EINTR ){
      snprintf(ch->zFail, sizeof(ch->zFail), "poll: %s", strerror(errno));
      rc = EXIT_NET;
      break;
    }
    if( r>0 && a[1].revents ){
      uint64_t v;
      if( read(efd, &v, sizeof(v))<0 ){ /* drained already */ }
      if( heads_print(db, aNow)==0 && memcmp(aNow, aConf, 32) ){
        bNeed = 1;
        nRetry = 0;
      }
    }
    if( r>0 && a[0].revents ){
      char type = 0;
      u8 *aIn = 0;
      size_t nIn = 0;
      ch->tDeadline = now() + nRoundTimeout;
      rc = chan_recv(ch, &type, &aIn, &nIn);
      if( rc ) break;
      tLastRecv = now();
      if( type=='H' ){
        free(aIn);
        if( !bClient ){
          rc = live_send(ch, 'H');    /* the server echoes the client's */
          tLastSend = now();
        }
      }else if( type=='P' && bClient ){
        free(aIn);
        bNeed = 1;
      }else if( type=='B' ){
        free(aIn);
        log_line(pLog, LOG_INFO, "live session with %s: the peer ended it", zName);
        break;
      }else if( type=='E' ){
        *pzErr = peer_text("", aIn, nIn);
        free(aIn);
        rc = EXIT_PROTO;
      }else if( type=='M' && !bClient ){
        /* The client starts a round; aIn is its offer. */
        Stats st;
        int bNews = 0, bSync;
        memset(&st, 0, sizeof(st));
        st.tStart = now();
        rc = run_round(pDb, ch, db, 0, zLabel, pLog, &st, aIn, nIn, &bNews,
                       pzErr);
        tLastRecv = tLastSend = now();
        if( rc ) break;
        bSync = heads_print(db, aNow)==0 && db_state(db, zLabel, &st, 0);
        if( st.nOpsSent || st.nOpsRecv ){
          summary(pLog, EXIT_OK, zName, bSync, &st, 0);
          status_record(pDb, zStatus, EXIT_OK, 0, &st, 0);
        }
        stats_add(pTotal, &st);
        metrics_round(&st);
        bPoked = 0;
        if( bSync ){
          memcpy(aConf, aNow, 32);
          nRetry = 0;
          bNeed = 0;
        }else{
          bNeed = nRetry++<LIVE_RETRIES;
        }
      }else{
        free(aIn);
        snprintf(ch->zFail, sizeof(ch->zFail), "a frame of type 0x%02x between rounds",
                 (unsigned)(u8)type);
        rc = EXIT_PROTO;
      }
      continue;
    }
    t = now();
    if( t - tLastRecv >= nTimeout ){
      snprintf(ch->zFail, sizeof(ch->zFail), "nothing heard for %d s (--timeout; "
               "keepalives every %d s)", nTimeout, nKeep);
      rc = EXIT_NET;
    }else if( bClient && t - tLastSend >= nKeep ){
      rc = live_send(ch, 'H');
      tLastSend = now();
    }
  }
  watch_remove(efd);
  close(efd);
  metrics_count(&gMetrics.nLive, -1);
  return rc;
}

/* One session over a channel: the handshake, a round, and for a live
** session the rounds that follow (live_loop).  The rounds run on one
** connection from pDb, which holds each round's state.  The one-line
** summary goes to pLog, naming the peer zName. */
/* After a sync, the threshold root's work due from this replica
** (docs/root.md): bec_root_step on the connection that signs, under the
** write lock, when the group has a root and this replica an identity.  A
** failure is logged, never fatal to the sync.  pDb is 0 in file-to-file
** mode (one connection per file, no server locks). */
static void root_step(Db *pDb, sqlite3 *db, Log *pLog){
  sqlite3 *dbS = pDb && pDb->dbSign ? pDb->dbSign : db;
  int rc;
  u8 *z = 0;
  char *zErr = 0;
  int n = 0;
  if( db_call(db, "SELECT 1 FROM bec_root WHERE bec_pubkey() IS NOT NULL "
                  "LIMIT 1", 0, 0, 0, 0, &z, &n, 0) || z==0 ){
    free(z);
    return;
  }
  free(z);
  z = 0;
  if( pDb && pDb->dbSign ) pthread_mutex_lock(&pDb->muSign);
  rc = pDb ? db_sync_call(pDb, dbS, "SELECT bec_root_step()", 0, 0, 0, 0, &z,
                          &n, &zErr)
           : db_call(dbS, "SELECT bec_root_step()", 0, 0, 0, 0, &z, &n, &zErr);
  if( rc ){
    log_line(pLog, LOG_WARN, "bec_root_step: %s", zErr ? zErr : "failed");
  }else if( z && strcmp((const char*)z, "0") ){
    log_line(pLog, LOG_INFO, "threshold root: %s ops made", (const char*)z);
  }
  if( pDb && pDb->dbSign ) pthread_mutex_unlock(&pDb->muSign);
  free(z);
  z = 0;
  /* A removed holder's share still counts until the holders change
  ** (docs/root.md, "Epochs"): prompt for the re-key. */
  if( db_call(db, "SELECT count(*) FROM bec_root r JOIN bec_root_holders h"
                  " ON h.session=r.session WHERE r.state='active' AND"
                  " h.member=0", 0, 0, 0, 0, &z, &n, 0)==SQLITE_OK
   && z && strcmp((const char*)z, "0") ){
    log_line(pLog, LOG_WARN, "threshold root: %s holder(s) of the active root "
             "are no longer members, and their shares still count: re-key "
             "with bec_root_propose('holders', json_array(...), k)",
             (const char*)z);
  }
  free(z);
  free(zErr);
}

static int run_session(Db *pDb, Chan *ch, int bClient, Log *pLog,
                       const char *zName){
  char *zLabel = 0, *zWhy = 0, *zErr = 0;
  int rc, bSync = 0, bNews = 0, bConf = 0;
  u8 aConf[32];
  sqlite3 *db = 0;
  Stats st, first;
  memset(&st, 0, sizeof(st));
  st.tStart = now();
  metrics_count(&gMetrics.nStarted, 1);
  metrics_count(&gMetrics.nActive, 1);
  rc = handshake(pDb, ch, bClient, pLog, &zLabel, &st, &zWhy);
  if( rc==EXIT_OK ) rc = db_get(pDb, &db, &zErr);
  if( rc==EXIT_OK ){
    rc = run_round(pDb, ch, db, bClient, zLabel, pLog, &st, 0, 0, &bNews, &zErr);
  }
  if( zLabel && db ){
    /* The heads first, then "in sync": an op committed in between makes
    ** the session out of sync, so a live loop never starts from heads
    ** that the peer was not shown (a push would be missed). */
    bConf = heads_print(db, aConf)==0;
    bSync = db_state(db, zLabel, &st, 0);
    if( rc==EXIT_OK && !bSync && !ch->bLive ) rc = EXIT_NOSYNC;
  }
  first = st;
  if( rc==EXIT_OK || rc==EXIT_NOSYNC ) metrics_round(&st);
  if( rc==EXIT_OK && ch->bLive ){
    Stats total = st;
    summary(pLog, EXIT_OK, zName, bSync, &st, 0);
    status_record(pDb, bClient ? zName : zLabel, EXIT_OK, 0, &st, 0);
    memset(&first, 0, sizeof(first));
    rc = live_loop(pDb, ch, db, bClient, zLabel, pLog, zName,
                   bClient ? zName : zLabel, bSync && bConf && !bNews, aConf,
                   &total, &zErr);
    st = total;
    bSync = rc==EXIT_OK;
  }
  if( db && (rc==EXIT_OK || rc==EXIT_NOSYNC) ) root_step(pDb, db, pLog);
  db_put(pDb, db);
  if( rc!=EXIT_OK && zWhy==0 && zErr==0 && ch->zFail[0] ){
    zWhy = strdup(ch->zFail);
  }else if( rc==EXIT_NET && zWhy==0 && zErr==0 ){
    zWhy = strdup("the connection failed or timed out");
  }
  if( ch->bLive ){
    log_line(pLog, rc==EXIT_OK ? LOG_INFO : rc==EXIT_LOCAL ? LOG_ERROR : LOG_WARN,
             "live session with %s ended after %d messages: sent %lld ops "
             "(%lld B), received %lld ops (%lld B), %.2f s%s%s", zName,
             st.nRound, st.nOpsSent, st.nBytesSent, st.nOpsRecv, st.nBytesRecv,
             now() - st.tStart, (zWhy || zErr) ? ": " : "",
             zWhy ? zWhy : zErr ? zErr : "");
  }else{
    summary(pLog, rc, zName, rc==EXIT_OK, &st, zWhy ? zWhy : zErr);
  }
  /* A served peer gets a status row only once authenticated (zLabel). */
  status_record(pDb, bClient ? zName : zLabel, rc, 1, &first,
                zWhy ? zWhy : zErr);
  metrics_count(&gMetrics.nActive, -1);
  metrics_count(&gMetrics.anEnded[rc>=0 && rc<7 ? rc : EXIT_PROTO], 1);
  free(zWhy);
  free(zErr);
  sqlite3_free(zLabel);
  return rc;
}

/**************************************************************************
** TCP.  Sockets are non-blocking: every read and write waits in chan_wait,
** under the session's deadlines.
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
    ssize_t k;
    int r;
    if( dt<=0 ) break;
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    r = poll(&pfd, 1, (int)(dt*1000) + 1);
    if( r<0 && errno==EINTR ) continue;
    if( r<=0 ) break;
    k = read(fd, a, sizeof(a));
    if( k<0 && (errno==EINTR || errno==EAGAIN) ) continue;
    if( k<=0 ) break;
  }
  close(fd);
}

/* Frames go out at once: Nagle's algorithm would hold a small frame (a
** live session's 'P', a short reply) until the peer's delayed ACK, some
** 20-40 ms, which is most of a push's latency budget. */
static void no_delay(int fd){
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Waits until fd, connecting, is connected or tEnd passes: 0 or an errno. */
static int connect_wait(int fd, double tEnd){
  struct pollfd pfd;
  int err = 0, r;
  socklen_t nErr = sizeof(err);
  for(;;){
    double dt = tEnd - now();
    if( dt<=0 ) return ETIMEDOUT;
    pfd.fd = fd;
    pfd.events = POLLOUT;
    pfd.revents = 0;
    r = poll(&pfd, 1, (int)(dt*1000) + 1);
    if( r<0 && errno==EINTR ) continue;
    if( r<0 ) return errno;
    if( r>0 ) break;
  }
  if( getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &nErr) ) return errno;
  return err;
}

/* A non-blocking socket connected to zAddr within --handshake-timeout
** seconds (all of its addresses together), so an address that never
** answers costs that long, not the kernel's minutes of SYN retries.  -2 if
** zAddr is not HOST:PORT; -1 if it could not connect, with zWhy saying why. */
static int tcp_connect(const char *zAddr, char *zWhy, size_t nWhy){
  char zHost[256], zPort[32];
  struct addrinfo hints, *pRes = 0, *p;
  double tEnd = now() + nHandshakeTimeout;
  int fd = -1, r;
  snprintf(zWhy, nWhy, "no address");
  if( split_hostport(zAddr, zHost, sizeof(zHost), zPort, sizeof(zPort)) ){
    snprintf(zWhy, nWhy, "want HOST:PORT");
    return -2;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  r = getaddrinfo(zHost, zPort, &hints, &pRes);
  if( r ){
    snprintf(zWhy, nWhy, "%s", gai_strerror(r));
    return -1;
  }
  for(p=pRes; p; p=p->ai_next){
    int err;
    fd = socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                p->ai_protocol);
    if( fd<0 ){
      snprintf(zWhy, nWhy, "socket: %s", strerror(errno));
      continue;
    }
    no_delay(fd);
    err = connect(fd, p->ai_addr, p->ai_addrlen)==0 ? 0 : errno;
    if( err==EINPROGRESS ) err = connect_wait(fd, tEnd);
    if( err==0 ) break;
    snprintf(zWhy, nWhy, "%s", err==ETIMEDOUT
             ? "no answer within --handshake-timeout" : strerror(err));
    close(fd);
    fd = -1;
  }
  freeaddrinfo(pRes);
  return fd;
}

static int tcp_listen(const char *zAddr, int nBacklog){
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
    fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
    if( fd<0 ) continue;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if( bind(fd, p->ai_addr, p->ai_addrlen)==0 && listen(fd, nBacklog)==0 ) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(pRes);
  return fd;
}

/* One session with the server at zAddr; the summary goes to pLog (serve's
** dialling threads) or stdout, a failure to connect to stderr. */
static int sync_tcp(Db *pDb, const char *zAddr, Log *pLog, const int *pQuit){
  char zWhy[160];
  Chan ch;
  int fd = tcp_connect(zAddr, zWhy, sizeof(zWhy)), rc;
  if( fd<0 ){
    Log err = *pLog;
    Stats none;
    char zErr[200];
    if( !err.bStamp ) err.f = stderr;
    log_line(&err, LOG_WARN, "cannot connect to %s: %s", zAddr, zWhy);
    memset(&none, 0, sizeof(none));
    snprintf(zErr, sizeof(zErr), "cannot connect: %s", zWhy);
    if( fd!=-2 ) status_record(pDb, zAddr, EXIT_NET, 1, &none, zErr);
    metrics_count(&gMetrics.anEnded[EXIT_NET], 1);
    return fd==-2 ? EXIT_USAGE : EXIT_NET;
  }
  memset(&ch, 0, sizeof(ch));
  ch.fdIn = ch.fdOut = fd;
  ch.bWantLive = bLiveOpt;
  ch.pQuit = pQuit;
  rc = run_session(pDb, &ch, 1, pLog, zAddr);
  tcp_close(&ch);
  return rc;
}

/**************************************************************************
** The server (see THE SERVER at the top).
*/

/* A served connection's place in the bounds: the address it is counted
** under (an IPv4 address as ::ffff:a.b.c.d, an IPv6 address's /64). */
typedef struct Slot Slot;
struct Slot {
  int bUsed;
  u8 aKey[16];
};

typedef struct Server Server;
struct Server {
  Db *pDb;
  int nMaxSessions;           /* stop after this many sessions; 0: never */
  int nMaxConns, nMaxPerAddr; /* bounds on served connections */
  int nInterval;              /* --peer period, seconds */
  pthread_mutex_t mu;         /* guards everything below */
  pthread_cond_t cv;          /* nActive dropped, or bStop was set */
  int bStop;                  /* no new session; the accept loop ends */
  int nStarted;               /* sessions started, served and dialled */
  int nActive;                /* sessions running now */
  Slot *aSlot;                /* nMaxConns slots (malloc'd) */
  int aWake[2];               /* a byte in aWake[1] wakes the accept loop */
  /* Refusal lines (REFUSED_LOG_PER_SEC); the accept loop's alone. */
  double tRefused;            /* start of the current second */
  int nRefusedLines;          /* lines written in it */
  int nRefusedQuiet;          /* refusals not logged since the last line */
};

/* A served connection, handed to its thread (which frees it). */
typedef struct Conn Conn;
struct Conn {
  Server *p;
  int fd;
  int iSlot;
  char zAddr[ADDR_CHARS];
};

/* A --peer and its dialling thread. */
typedef struct Dialer Dialer;
struct Dialer {
  Server *p;
  const char *zAddr;
  pthread_t tid;
  int bQuit;                  /* run's reload dropped this peer (p->mu) */
  int aQuit[2];               /* a byte in aQuit[1] ends its live session */
  char *zOwn;                 /* run: zAddr's own copy (malloc'd), or 0 */
};

/* The text ("1.2.3.4:5", "[::1]:5") and the bound key of an address. */
static void addr_of(const struct sockaddr_storage *sa, char *zAddr,
                    u8 aKey[16]){
  char zIp[INET6_ADDRSTRLEN] = "?";
  memset(aKey, 0, 16);
  if( sa->ss_family==AF_INET ){
    const struct sockaddr_in *p4 = (const struct sockaddr_in*)sa;
    inet_ntop(AF_INET, &p4->sin_addr, zIp, sizeof(zIp));
    snprintf(zAddr, ADDR_CHARS, "%s:%u", zIp, ntohs(p4->sin_port));
    aKey[10] = aKey[11] = 0xff;
    memcpy(&aKey[12], &p4->sin_addr, 4);
  }else if( sa->ss_family==AF_INET6 ){
    const struct sockaddr_in6 *p6 = (const struct sockaddr_in6*)sa;
    const u8 *a = p6->sin6_addr.s6_addr;
    if( IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr) ){
      inet_ntop(AF_INET, &a[12], zIp, sizeof(zIp));
      snprintf(zAddr, ADDR_CHARS, "%s:%u", zIp, ntohs(p6->sin6_port));
      memcpy(aKey, a, 16);
    }else{
      inet_ntop(AF_INET6, a, zIp, sizeof(zIp));
      snprintf(zAddr, ADDR_CHARS, "[%s]:%u", zIp, ntohs(p6->sin6_port));
      memcpy(aKey, a, 8);
    }
  }else{
    snprintf(zAddr, ADDR_CHARS, "-");
  }
}

/* Sets bStop and wakes everyone; the caller holds p->mu. */
static void server_stop_locked(Server *p){
  if( !p->bStop ){
    p->bStop = 1;
    if( write(p->aWake[1], "x", 1)<0 ){ /* the loop also sees bStop */ }
    stop_all();   /* live sessions end at their next idle moment */
    pthread_cond_broadcast(&p->cv);
  }
}

/* Admits one session: a served connection from aKey (then *piSlot is its
** slot), or a dial (aKey 0, no slot).  0, or why not (a static text). */
static const char *server_admit(Server *p, const u8 *aKey, int *piSlot){
  const char *zNo = 0;
  int i, nUsed = 0, nSame = 0, iFree = -1;
  *piSlot = -1;
  pthread_mutex_lock(&p->mu);
  if( p->bStop ){
    zNo = "the server is stopping";
  }else if( aKey ){
    for(i=0; i<p->nMaxConns; i++){
      if( !p->aSlot[i].bUsed ){
        if( iFree<0 ) iFree = i;
        continue;
      }
      nUsed++;
      if( memcmp(p->aSlot[i].aKey, aKey, 16)==0 ) nSame++;
    }
    if( iFree<0 ){
      zNo = "too many connections (--max-conns)";
    }else if( nSame>=p->nMaxPerAddr ){
      zNo = "too many connections from this address (--max-per-addr)";
    }else{
      p->aSlot[iFree].bUsed = 1;
      memcpy(p->aSlot[iFree].aKey, aKey, 16);
      *piSlot = iFree;
    }
  }
  if( zNo==0 ){
    p->nActive++;
    p->nStarted++;
    if( p->nMaxSessions>0 && p->nStarted>=p->nMaxSessions ){
      server_stop_locked(p);
    }
  }
  pthread_mutex_unlock(&p->mu);
  return zNo;
}

/* Ends a session admitted by server_admit. */
static void server_release(Server *p, int iSlot){
  pthread_mutex_lock(&p->mu);
  if( iSlot>=0 ) p->aSlot[iSlot].bUsed = 0;
  p->nActive--;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

/* Sleeps until tUntil (now() clock); 1 at once when the server stops. */
static int server_sleep(Server *p, double tUntil, const int *pbQuit){
  int bStop;
  pthread_mutex_lock(&p->mu);
  while( !p->bStop && !(pbQuit && *pbQuit) ){
    double dt = tUntil - now();
    struct timespec ts;
    if( dt<=0 ) break;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)dt;
    ts.tv_nsec += (long)((dt - (double)(time_t)dt)*1e9);
    if( ts.tv_nsec>=1000000000 ){
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&p->cv, &p->mu, &ts);
  }
  bStop = p->bStop || (pbQuit && *pbQuit);
  pthread_mutex_unlock(&p->mu);
  return bStop;
}

/* A uniform random number in [0, 1). */
static double unit_random(void){
  return randombytes_uniform(1000000)/1e6;
}

/* The thread of one served connection: its session, then its slot back. */
static void *conn_main(void *pArg){
  Conn *c = (Conn*)pArg;
  char zName[ADDR_CHARS + 8];
  Chan ch;
  Log lg;
  log_init(&lg, stdout, 1, c->zAddr);
  snprintf(zName, sizeof(zName), "client %s", c->zAddr);
  memset(&ch, 0, sizeof(ch));
  ch.fdIn = ch.fdOut = c->fd;
  no_delay(c->fd);
  (void)run_session(c->p->pDb, &ch, 0, &lg, zName);
  tcp_close(&ch);
  server_release(c->p, c->iSlot);
  free(c);
  return 0;
}

/* REMOVED.  Is this replica's key removed from the group in its own view
** (a valid removal of it is stored and it is no member)?  A dialler that
** is refused for that reason stops the serving process, which exits 4:
** a removed member is told once (TOLD REMOVED), then stops, instead of
** dialling into refusals forever.  A key that is merely not added yet
** (waiting for an invitation, say) keeps trying. */
static int replica_removed(Db *pDb){
  sqlite3 *db = 0;
  u8 *aOut = 0;
  int nOut = 0, bRemoved = 0;
  char *zErr = 0;
  if( db_get(pDb, &db, &zErr) ){
    free(zErr);
    return 0;
  }
  if( db_call(db, "SELECT EXISTS (SELECT 1 FROM bec_ops WHERE kind='remove'"
              " AND valid=1 AND target=bec_pubkey()) AND bec_pubkey() NOT IN"
              " (SELECT pubkey FROM bec_members)", 0, 0, 0, 0, &aOut, &nOut,
              &zErr)==SQLITE_OK ){
    bRemoved = aOut && aOut[0]=='1';
  }
  db_put(pDb, db);
  free(aOut);
  free(zErr);
  return bRemoved;
}

/* The thread of one --peer: a session every --interval seconds, jittered,
** until the server stops. */
static void *dial_main(void *pArg){
  Dialer *d = (Dialer*)pArg;
  Server *p = d->p;
  double dFirst = p->nInterval*0.1 < 1.0 ? p->nInterval*0.1 : 1.0;
  double tNext = now() + dFirst*unit_random();
  int nFail = 0;
  for(;;){
    int iSlot, rc;
    double tStart;
    Log lg;
    if( server_sleep(p, tNext, &d->bQuit) ) break;
    if( server_admit(p, 0, &iSlot) ) break;
    log_init(&lg, stdout, 1, d->zAddr);
    tStart = now();
    rc = sync_tcp(p->pDb, d->zAddr, &lg, &d->aQuit[0]);
    server_release(p, -1);
    if( rc==EXIT_AUTH && replica_removed(p->pDb) ){
      /* Dialling on would only be refused again: stop the whole process,
      ** which then exits 4 (REMOVED). */
      if( !__atomic_exchange_n(&p->pDb->bRemoved, 1, __ATOMIC_SEQ_CST) ){
        log_line(&lg, LOG_ERROR, "this replica's key was removed from the "
                 "group: stopping (exit 4)");
      }
      pthread_mutex_lock(&p->mu);
      server_stop_locked(p);
      pthread_mutex_unlock(&p->mu);
      break;
    }
    if( !bLiveOpt ){
      tNext = now() + p->nInterval*(0.9 + 0.2*unit_random());
      continue;
    }
    /* A live session ended: dial again after a jittered back-off that
    ** doubles with each failure in a row, from 1 s up to --interval (a
    ** session that lasted longer than that starts the count again). */
    if( rc==EXIT_OK || now() - tStart > p->nInterval ) nFail = 0;
    if( rc!=EXIT_OK ) nFail++;
    {
      double dWait = nFail==0 ? 1.0 : (double)(1 << (nFail<7 ? nFail-1 : 6));
      if( dWait>p->nInterval ) dWait = p->nInterval;
      tNext = now() + dWait*(0.5 + unit_random());
    }
  }
  return 0;
}

/* Hands an accepted connection to a thread of its own, or closes it at
** once when a bound says no. */
static void serve_conn(Server *p, int fd, const struct sockaddr_storage *sa){
  pthread_attr_t attr;
  pthread_t tid;
  u8 aKey[16];
  const char *zNo;
  Conn *c = malloc(sizeof(Conn));
  Log lg;
  int iSlot = -1, rc;
  if( c==0 ){
    close(fd);
    return;
  }
  memset(c, 0, sizeof(*c));
  addr_of(sa, c->zAddr, aKey);
  log_init(&lg, stdout, 1, c->zAddr);
  zNo = server_admit(p, aKey, &iSlot);
  if( zNo ){
    double t = now();
    if( t - p->tRefused>=1.0 ){
      p->tRefused = t;
      p->nRefusedLines = 0;
    }
    if( p->nRefusedLines<REFUSED_LOG_PER_SEC ){
      p->nRefusedLines++;
      if( p->nRefusedQuiet ){
        log_line(&lg, LOG_WARN, "connection refused: %s (and %d more not logged)",
                 zNo, p->nRefusedQuiet);
      }else{
        log_line(&lg, LOG_WARN, "connection refused: %s", zNo);
      }
      p->nRefusedQuiet = 0;
    }else{
      p->nRefusedQuiet++;
    }
    close(fd);
    free(c);
    return;
  }
  c->p = p;
  c->fd = fd;
  c->iSlot = iSlot;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  rc = pthread_create(&tid, &attr, conn_main, c);
  pthread_attr_destroy(&attr);
  if( rc ){
    log_line(&lg, LOG_ERROR, "connection refused: no thread: %s", strerror(rc));
    close(fd);
    free(c);
    server_release(p, iSlot);
  }
}

/* Enough descriptors for the bounds: a socket and a database connection's
** two files per served connection, and some to spare. */
static void raise_fd_limit(int nConns){
  struct rlimit rl;
  rlim_t nWant = (rlim_t)nConns*4 + 64;
  if( getrlimit(RLIMIT_NOFILE, &rl)==0 && rl.rlim_cur<nWant ){
    rl.rlim_cur = rl.rlim_max!=RLIM_INFINITY && rl.rlim_max<nWant ? rl.rlim_max : nWant;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/**************************************************************************
** RUN: becsync run CONFIG, one long-running process per replica.  The
** config file is lines of "key = value"; blank lines and lines whose first
** non-blank character is '#' are ignored; keys are the long options'
** names without the dashes (docs/reference.md has the complete example):
**
**   database = PATH           required; relative to the config's directory
**   peer = HOST:PORT          repeated, 0 to MAX_PEERS; a live session each
**   listen = HOST:PORT        optional: serve peers too (a relay)
**   passphrase-file = PATH    a sealed key (see PASSPHRASE); or
**   passphrase-fd = N
**   metrics = PATH            Prometheus text file (see METRICS)
**   relay-key = PK            a relay that is not a member (RELAY PIN)
**   timeout, handshake-timeout, round-timeout, keepalive, interval,
**   max-conns, max-per-addr, backlog    as the options of the same name
**
** An unknown key, a bad value or a key given twice (other than peer) is an
** error naming the file and line.  SIGHUP reads the file again: the peers
** are applied at once (sessions to peers no longer listed end with 'B',
** new peers are dialled); a change to any other key is logged as needing a
** restart and ignored; a file with an error is logged and ignored (the
** running configuration stays).  SIGTERM and SIGINT end every session
** cleanly and exit 0.
*/
typedef struct Config Config;
struct Config {
  char *zDb, *zListen, *zPassFile, *zMetrics;  /* malloc'd, or 0 */
  char *zRelayKey;                             /* malloc'd, or 0 */
  char *azPeer[MAX_PEERS];                     /* malloc'd */
  int nPeer;
  int nPassFd;
  int nTimeout, nHandshakeTimeout, nRoundTimeout, nKeepalive, nInterval;
  int nMaxConns, nMaxPerAddr, nBacklog;
};

static int int_arg(const char *z, int lo, int hi);

/* 64 hex digits into aKey: 0, or -1. */
static int relay_key_parse(const char *z, u8 *aKey){
  int i;
  if( strlen(z)!=64 ) return -1;
  for(i=0; i<32; i++){
    unsigned v;
    if( !isxdigit((unsigned char)z[2*i]) || !isxdigit((unsigned char)z[2*i+1])
     || sscanf(&z[2*i], "%2x", &v)!=1 ) return -1;
    aKey[i] = (u8)v;
  }
  return 0;
}

/* RELAY PIN: a pin is refused, before any session, when this replica's
** group holds ops and is not encrypted.  0, or EXIT_USAGE (said why). */
static int relay_pin_check(sqlite3 *db){
  char *zErr = 0;
  if( !bRelayPin ) return 0;
  if( db_call(db, "SELECT bec_sync_peer_allowed(?1, ?1)", 1,
              (const void*[]){aRelayPin}, (int[]){32}, 0, 0, 0, &zErr) ){
    fprintf(stderr, "becsync: --relay-key refused: %s\n",
            zErr ? zErr : "cannot check the group");
    free(zErr);
    return EXIT_USAGE;
  }
  return 0;
}

static void config_free(Config *c){
  int i;
  free(c->zDb);
  free(c->zListen);
  free(c->zPassFile);
  free(c->zMetrics);
  free(c->zRelayKey);
  for(i=0; i<c->nPeer; i++) free(c->azPeer[i]);
  memset(c, 0, sizeof(*c));
}

/* A path from the config: relative ones are taken from the config file's
** directory, so that the process's working directory (/ under systemd)
** does not matter.  malloc'd, or 0. */
static char *config_path(const char *zConfig, const char *zVal){
  const char *zSlash = strrchr(zConfig, '/');
  char *z;
  size_t nDir;
  if( zVal[0]=='/' || zSlash==0 ) return strdup(zVal);
  nDir = (size_t)(zSlash - zConfig) + 1;
  z = malloc(nDir + strlen(zVal) + 1);
  if( z ){
    memcpy(z, zConfig, nDir);
    strcpy(&z[nDir], zVal);
  }
  return z;
}

/* Reads zConfig into *c (its defaults first).  0, or -1 with *pzErr
** (malloc'd) "FILE:LINE: why". */
static int config_load(const char *zConfig, Config *c, char **pzErr){
  static const struct { const char *zKey; int lo, hi; } aInt[] = {
    { "timeout", 1, 1000000 }, { "handshake-timeout", 1, 1000000 },
    { "round-timeout", 1, 1000000 }, { "keepalive", 1, 1000000 },
    { "interval", 1, 1000000 }, { "max-conns", 1, 1000000 },
    { "max-per-addr", 1, 1000000 }, { "backlog", 1, 65535 },
    { "passphrase-fd", 0, INT_MAX },
  };
  int aSeen[16];               /* line where each single key was given */
  FILE *f = fopen(zConfig, "r");
  char zLine[4096], zErr[4400];
  int iLine = 0, rc = 0;
  memset(c, 0, sizeof(*c));
  memset(aSeen, 0, sizeof(aSeen));
  c->nPassFd = -1;
  c->nTimeout = 30;
  c->nHandshakeTimeout = HANDSHAKE_TIMEOUT;
  c->nRoundTimeout = ROUND_TIMEOUT;
  c->nKeepalive = 0;
  c->nInterval = 60;
  c->nMaxConns = MAX_CONNS;
  c->nMaxPerAddr = MAX_PER_ADDR;
  c->nBacklog = LISTEN_BACKLOG;
  zErr[0] = 0;
  if( f==0 ){
    snprintf(zErr, sizeof(zErr), "%s: %s", zConfig, strerror(errno));
    rc = -1;
  }
  while( rc==0 && fgets(zLine, sizeof(zLine), f) ){
    char *zKey = zLine, *zEq, *zVal, *zEnd;
    int i, iKey = -1;
    iLine++;
    if( strchr(zLine, '\n')==0 && !feof(f) ){
      snprintf(zErr, sizeof(zErr), "%s:%d: line too long", zConfig, iLine);
      rc = -1;
      break;
    }
    while( *zKey==' ' || *zKey=='\t' ) zKey++;
    if( *zKey=='#' || *zKey=='\n' || *zKey=='\r' || *zKey==0 ) continue;
    zEq = strchr(zKey, '=');
    if( zEq==0 ){
      snprintf(zErr, sizeof(zErr), "%s:%d: want \"key = value\"", zConfig, iLine);
      rc = -1;
      break;
    }
    zVal = zEq + 1;
    for(zEnd=zEq; zEnd>zKey && (zEnd[-1]==' ' || zEnd[-1]=='\t'); zEnd--){}
    *zEnd = 0;
    while( *zVal==' ' || *zVal=='\t' ) zVal++;
    for(zEnd=zVal+strlen(zVal); zEnd>zVal && (zEnd[-1]=='\n' || zEnd[-1]=='\r'
        || zEnd[-1]==' ' || zEnd[-1]=='\t'); zEnd--){}
    *zEnd = 0;
    if( zVal[0]==0 ){
      snprintf(zErr, sizeof(zErr), "%s:%d: %.100s: no value", zConfig, iLine, zKey);
      rc = -1;
      break;
    }
    if( strcmp(zKey, "peer")==0 ){
      char zH[256], zP[32];
      if( c->nPeer>=MAX_PEERS ){
        snprintf(zErr, sizeof(zErr), "%s:%d: more than %d peers", zConfig,
                 iLine, MAX_PEERS);
        rc = -1;
      }else if( split_hostport(zVal, zH, sizeof(zH), zP, sizeof(zP)) ){
        snprintf(zErr, sizeof(zErr), "%s:%d: peer: want HOST:PORT", zConfig, iLine);
        rc = -1;
      }else if( (c->azPeer[c->nPeer] = strdup(zVal))!=0 ){
        c->nPeer++;
      }
      continue;
    }
    /* Keys given once: their index in aSeen. */
    if( strcmp(zKey, "database")==0 ) iKey = 9;
    else if( strcmp(zKey, "listen")==0 ) iKey = 10;
    else if( strcmp(zKey, "passphrase-file")==0 ) iKey = 11;
    else if( strcmp(zKey, "metrics")==0 ) iKey = 12;
    else if( strcmp(zKey, "relay-key")==0 ) iKey = 13;
    for(i=0; iKey<0 && i<(int)(sizeof(aInt)/sizeof(aInt[0])); i++){
      if( strcmp(zKey, aInt[i].zKey)==0 ) iKey = i;
    }
    if( iKey<0 ){
      snprintf(zErr, sizeof(zErr), "%s:%d: unknown key \"%.100s\"", zConfig,
               iLine, zKey);
      rc = -1;
      break;
    }
    if( aSeen[iKey] ){
      snprintf(zErr, sizeof(zErr), "%s:%d: %.100s given twice (first on line %d)",
               zConfig, iLine, zKey, aSeen[iKey]);
      rc = -1;
      break;
    }
    aSeen[iKey] = iLine;
    if( iKey<9 ){
      int v = int_arg(zVal, aInt[iKey].lo, aInt[iKey].hi);
      int *apV[] = { &c->nTimeout, &c->nHandshakeTimeout, &c->nRoundTimeout,
                     &c->nKeepalive, &c->nInterval, &c->nMaxConns,
                     &c->nMaxPerAddr, &c->nBacklog, &c->nPassFd };
      if( v<aInt[iKey].lo ){
        snprintf(zErr, sizeof(zErr), "%s:%d: %.100s: want a whole number from %d "
                 "to %d", zConfig, iLine, zKey, aInt[iKey].lo, aInt[iKey].hi);
        rc = -1;
      }else{
        *apV[iKey] = v;
      }
    }else if( iKey==9 ){
      c->zDb = config_path(zConfig, zVal);
    }else if( iKey==10 ){
      char zH[256], zP[32];
      if( split_hostport(zVal, zH, sizeof(zH), zP, sizeof(zP)) ){
        snprintf(zErr, sizeof(zErr), "%s:%d: listen: want HOST:PORT", zConfig, iLine);
        rc = -1;
      }else{
        c->zListen = strdup(zVal);
      }
    }else if( iKey==11 ){
      c->zPassFile = config_path(zConfig, zVal);
    }else if( iKey==13 ){
      u8 aKey[32];
      if( relay_key_parse(zVal, aKey) ){
        snprintf(zErr, sizeof(zErr), "%s:%d: relay-key: want 64 hex digits (the "
                 "relay's bec_pubkey())", zConfig, iLine);
        rc = -1;
      }else{
        c->zRelayKey = strdup(zVal);
      }
    }else{
      c->zMetrics = config_path(zConfig, zVal);
    }
  }
  if( f ) fclose(f);
  if( rc==0 && c->zDb==0 ){
    snprintf(zErr, sizeof(zErr), "%s: no \"database = PATH\" line", zConfig);
    rc = -1;
  }
  if( rc==0 && c->zPassFile && c->nPassFd>=0 ){
    snprintf(zErr, sizeof(zErr), "%s:%d: passphrase-fd and passphrase-file "
             "(line %d) exclude each other", zConfig, aSeen[8], aSeen[11]);
    rc = -1;
  }
  if( rc==0 && c->zListen==0 && c->nPeer==0 ){
    snprintf(zErr, sizeof(zErr), "%s: neither \"listen\" nor \"peer\": nothing "
             "to do", zConfig);
    rc = -1;
  }
  if( rc ){
    config_free(c);
    *pzErr = strdup(zErr[0] ? zErr : "out of memory");
  }
  return rc;
}

/* The keys of a reload that need a restart, as text ("" if none). */
static void config_changed(const Config *a, const Config *b, char *z, size_t n){
#define CFG_STR_NE(x, y) (((x)==0)!=((y)==0) || ((x) && strcmp((x),(y))))
  z[0] = 0;
  if( CFG_STR_NE(a->zDb, b->zDb) ) strncat(z, " database", n-strlen(z)-1);
  if( CFG_STR_NE(a->zListen, b->zListen) ) strncat(z, " listen", n-strlen(z)-1);
  if( CFG_STR_NE(a->zPassFile, b->zPassFile) || a->nPassFd!=b->nPassFd ){
    strncat(z, " passphrase", n-strlen(z)-1);
  }
  if( CFG_STR_NE(a->zMetrics, b->zMetrics) ) strncat(z, " metrics", n-strlen(z)-1);
  if( CFG_STR_NE(a->zRelayKey, b->zRelayKey) ) strncat(z, " relay-key", n-strlen(z)-1);
  if( a->nTimeout!=b->nTimeout || a->nHandshakeTimeout!=b->nHandshakeTimeout
   || a->nRoundTimeout!=b->nRoundTimeout || a->nKeepalive!=b->nKeepalive
   || a->nInterval!=b->nInterval ){
    strncat(z, " timeouts", n-strlen(z)-1);
  }
  if( a->nMaxConns!=b->nMaxConns || a->nMaxPerAddr!=b->nMaxPerAddr
   || a->nBacklog!=b->nBacklog ){
    strncat(z, " limits", n-strlen(z)-1);
  }
#undef CFG_STR_NE
}

/* SIGHUP: a byte in gHup[1]; run's loop reads it back. */
static int gHup[2] = { -1, -1 };

static void on_hup_signal(int sig){
  (void)sig;
  if( gHup[1]>=0 && write(gHup[1], "h", 1)<0 ){ /* one is enough */ }
}

/* Starts the dialling thread of zAddr (copied).  The Dialer, or 0. */
static Dialer *dial_start(Server *p, const char *zAddr){
  Dialer *d = calloc(1, sizeof(Dialer));
  if( d==0 ) return 0;
  d->p = p;
  d->zOwn = strdup(zAddr);
  d->zAddr = d->zOwn;
  if( d->zOwn==0 || pipe2(d->aQuit, O_CLOEXEC | O_NONBLOCK) ){
    free(d->zOwn);
    free(d);
    return 0;
  }
  if( pthread_create(&d->tid, 0, dial_main, d) ){
    close(d->aQuit[0]);
    close(d->aQuit[1]);
    free(d->zOwn);
    free(d);
    return 0;
  }
  return d;
}

/* Ends a dialling thread (its live session says 'B'), waits for it, frees
** it.  With bNow 0 the server is stopping anyway: only the wait. */
static void dial_stop(Dialer *d, int bNow){
  if( bNow ){
    pthread_mutex_lock(&d->p->mu);
    d->bQuit = 1;
    pthread_cond_broadcast(&d->p->cv);
    pthread_mutex_unlock(&d->p->mu);
    if( write(d->aQuit[1], "q", 1)<0 ){ /* the flag is set anyway */ }
  }
  pthread_join(d->tid, 0);
  close(d->aQuit[0]);
  close(d->aQuit[1]);
  free(d->zOwn);
  free(d);
}

/* SIGHUP: reads zConfig again and applies its peers (see RUN). */
static void run_reload(Server *p, const char *zConfig, Config *pCfg,
                       Dialer **apDial, int *pnDial, const Log *pLog){
  Config c;
  char *zErr = 0, zNeed[200];
  int i, j, nAdd = 0, nDrop = 0;
  if( config_load(zConfig, &c, &zErr) ){
    log_line(pLog, LOG_ERROR, "reload: %s; the running configuration stays",
             zErr ? zErr : "out of memory");
    free(zErr);
    return;
  }
  config_changed(pCfg, &c, zNeed, sizeof(zNeed));
  if( zNeed[0] ){
    log_line(pLog, LOG_WARN, "reload: changes to%s need a restart; ignored", zNeed);
  }
  for(i=0; i<*pnDial; ){
    for(j=0; j<c.nPeer && strcmp(c.azPeer[j], apDial[i]->zAddr); j++){}
    if( j<c.nPeer ){
      i++;
      continue;
    }
    dial_stop(apDial[i], 1);
    apDial[i] = apDial[--*pnDial];
    nDrop++;
  }
  for(j=0; j<c.nPeer; j++){
    for(i=0; i<*pnDial && strcmp(c.azPeer[j], apDial[i]->zAddr); i++){}
    if( i<*pnDial ) continue;
    if( (apDial[*pnDial] = dial_start(p, c.azPeer[j]))==0 ){
      log_line(pLog, LOG_ERROR, "no thread to dial %s", c.azPeer[j]);
    }else{
      ++*pnDial;
      nAdd++;
    }
  }
  for(i=0; i<pCfg->nPeer; i++) free(pCfg->azPeer[i]);
  memcpy(pCfg->azPeer, c.azPeer, sizeof(c.azPeer));
  pCfg->nPeer = c.nPeer;
  c.nPeer = 0;
  config_free(&c);
  log_line(pLog, LOG_INFO, "reloaded %s: %d peer%s (%d added, %d dropped)",
           zConfig, *pnDial, *pnDial==1 ? "" : "s", nAdd, nDrop);
}

/* serve, and run (zConfig and pCfg set: no listening socket if zListen is
** 0, and SIGHUP reloads the peers). */
static int serve(Db *pDb, const char *zListen, const char **azPeer, int nPeer,
                 int nInterval, int nMax, int nMaxConns, int nMaxPerAddr,
                 int nBacklog, const char *zConfig, Config *pCfg){
  Server srv;
  Dialer *apDial[MAX_PEERS];
  pthread_t tMetrics;
  int bMetrics = 0;
  pthread_condattr_t ca;
  Log lg;
  sqlite3 *db = 0;
  char *zErr = 0;
  u8 *aMode = 0;
  int nMode = 0, nDial = 0, fd, i;

  log_init(&lg, stderr, 1, 0);
  raise_fd_limit(nMaxConns);
  /* WAL: the readers of handshakes never wait for a writer. */
  if( db_get(pDb, &db, &zErr)==EXIT_OK ){
    db_call(db, "PRAGMA journal_mode=WAL", 0, 0, 0, 0, &aMode, &nMode, 0);
    if( aMode==0 || strcmp((char*)aMode, "wal")!=0 ){
      log_line(&lg, LOG_WARN, "the database is not in WAL mode (%s): sessions "
               "wait for each other's reads", aMode ? (char*)aMode : "?");
    }
    free(aMode);
    db_put(pDb, db);
  }
  free(zErr);
  fd = zListen ? tcp_listen(zListen, nBacklog) : -3;
  if( fd<0 && fd!=-3 ){
    log_line(&lg, LOG_ERROR, "cannot listen on %s%s: %s", zListen,
             fd==-2 ? " (want HOST:PORT)" : "", strerror(errno));
    return fd==-2 ? EXIT_USAGE : EXIT_NET;
  }
  memset(&srv, 0, sizeof(srv));
  srv.pDb = pDb;
  srv.nMaxSessions = nMax;
  srv.nMaxConns = nMaxConns;
  srv.nMaxPerAddr = nMaxPerAddr;
  srv.nInterval = nInterval;
  srv.aSlot = calloc((size_t)nMaxConns, sizeof(Slot));
  if( srv.aSlot==0 || pipe2(srv.aWake, O_CLOEXEC | O_NONBLOCK) ){
    log_line(&lg, LOG_ERROR, "out of resources: %s", strerror(errno));
    free(srv.aSlot);
    if( fd>=0 ) close(fd);
    return EXIT_LOCAL;
  }
  pthread_mutex_init(&srv.mu, 0);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&srv.cv, &ca);
  pthread_condattr_destroy(&ca);
  if( zListen ){
    log_line(&lg, LOG_INFO, "serving on %s (at most %d connections, %d per "
             "address; backlog %d; %d peer%s every %d s)", zListen, nMaxConns,
             nMaxPerAddr, nBacklog, nPeer, nPeer==1 ? "" : "s", nInterval);
  }
  if( zConfig ){
    log_line(&lg, LOG_INFO, "running %s: %d live peer%s%s%s", zConfig, nPeer,
             nPeer==1 ? "" : "s", zListen ? ", relay on " : "",
             zListen ? zListen : "");
  }
  if( zMetricsPath ){
    bMetrics = pthread_create(&tMetrics, 0, metrics_main, (void*)pDb->zPath)==0;
  }
  for(i=0; i<nPeer; i++){
    if( (apDial[nDial] = dial_start(&srv, azPeer[i]))==0 ){
      log_line(&lg, LOG_ERROR, "no thread to dial %s", azPeer[i]);
    }else{
      nDial++;
    }
  }

  for(;;){
    struct pollfd a[4];
    struct sockaddr_storage sa;
    socklen_t nSa = sizeof(sa);
    int fdc, r;
    a[3].fd = zConfig ? gHup[0] : -1;   /* SIGHUP */
    a[3].events = POLLIN;
    a[3].revents = 0;
    a[0].fd = fd;
    a[0].events = POLLIN;
    a[1].fd = srv.aWake[0];
    a[1].events = POLLIN;
    a[2].fd = gStop[0];       /* SIGTERM, SIGINT */
    a[2].events = POLLIN;
    a[0].revents = a[1].revents = a[2].revents = 0;
    r = poll(a, 4, -1);
    if( r<0 && errno==EINTR ) continue;
    if( r<0 ){
      log_line(&lg, LOG_ERROR, "poll: %s", strerror(errno));
      break;
    }
    if( a[1].revents || a[2].revents ) break;
    if( a[3].revents ){
      char zBuf[64];
      while( read(gHup[0], zBuf, sizeof(zBuf))>0 ){}
      run_reload(&srv, zConfig, pCfg, apDial, &nDial, &lg);
      continue;
    }
    if( !(a[0].revents & POLLIN) ) continue;
    fdc = accept4(fd, (struct sockaddr*)&sa, &nSa, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if( fdc<0 ){
      if( errno==EMFILE || errno==ENFILE || errno==ENOBUFS || errno==ENOMEM ){
        /* Out of descriptors: the backlog holds them meanwhile. */
        log_line(&lg, LOG_ERROR, "accept: %s", strerror(errno));
        poll(0, 0, 100);
      }
      continue;
    }
    serve_conn(&srv, fdc, &sa);
  }

  /* Stopping (--max-sessions reached, or an error): no new session; those
  ** running end within their own deadlines. */
  if( fd>=0 ) close(fd);
  pthread_mutex_lock(&srv.mu);
  server_stop_locked(&srv);
  while( srv.nActive>0 ) pthread_cond_wait(&srv.cv, &srv.mu);
  pthread_mutex_unlock(&srv.mu);
  for(i=0; i<nDial; i++) dial_stop(apDial[i], 0);
  watch_join();
  if( bMetrics ) pthread_join(tMetrics, 0);
  metrics_write(pDb->zPath, 0);
  log_line(&lg, LOG_INFO, "stopped after %d sessions", srv.nStarted);
  pthread_cond_destroy(&srv.cv);
  pthread_mutex_destroy(&srv.mu);
  close(srv.aWake[0]);
  close(srv.aWake[1]);
  free(srv.aSlot);
  return __atomic_load_n(&pDb->bRemoved, __ATOMIC_SEQ_CST) ? EXIT_AUTH : EXIT_OK;
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
static int sync_exec(Db *pDb, const char *zCmd){
  int aIn[2], aOut[2], rc;
  double tEnd;
  pid_t pid;
  Chan ch;
  Log lg;
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
  log_init(&lg, stdout, 0, 0);
  rc = run_session(pDb, &ch, 1, &lg, zCmd);
  close(aIn[0]);
  close(aOut[1]);
  tEnd = now() + (ch.bAuthed ? nTimeout : CLOSE_DRAIN_SECS);
  if( !ch.bAuthed && ch.tDeadline<tEnd ) tEnd = ch.tDeadline;
  reap(pid, tEnd);
  return rc;
}

/**************************************************************************
** PASSPHRASE.  A key sealed with bec_keygen(passphrase) must be unlocked
** before becsync can sign its handshake.  The passphrase comes from
** --passphrase-fd N (read up to the first newline or end of file), from
** --passphrase-file F (a regular file owned by this user and readable by
** no one else, as ssh demands of a private key; one trailing newline is
** stripped), or, when neither is given and the key is sealed, from a
** prompt on the controlling terminal with echo off.  Never from the
** command line, where any user reads it in /proc/PID/cmdline.  It lives
** in guarded memory (sodium_malloc) only until bec_unlock has checked it,
** then it is wiped: the one-shot commands unlock their connection; serve
** and run unlock one connection kept for signing (Db.dbSign), so Argon2id
** runs once, not once per pooled connection.
*/
#define PASS_MAX  1024

static int nPassFd = -1;              /* --passphrase-fd, or -1 */
static const char *zPassFile = 0;     /* --passphrase-file, or 0 */

/* 1 if the database keeps its secret key sealed (docs/reference.md, "Where
** the secret key lives": the row seckey_sealed of bec_store_config). */
static int key_is_sealed(sqlite3 *db){
  sqlite3_stmt *pStmt = 0;
  int bSealed = 0;
  if( sqlite3_prepare_v2(db, "SELECT 1 FROM bec_store_config"
                         " WHERE key='seckey_sealed'", -1, &pStmt, 0)==SQLITE_OK ){
    bSealed = sqlite3_step(pStmt)==SQLITE_ROW;
  }
  sqlite3_finalize(pStmt);
  return bSealed;
}

/* Reads one line from fd, a byte at a time so that nothing after the line
** is consumed, into z (PASS_MAX bytes).  The length, or -1 with zWhy. */
static int pass_read_line(int fd, char *z, char *zWhy, size_t nWhy){
  int n = 0;
  for(;;){
    char c;
    ssize_t k = read(fd, &c, 1);
    if( k<0 && errno==EINTR ) continue;
    if( k<0 ){
      snprintf(zWhy, nWhy, "cannot read the passphrase: %s", strerror(errno));
      return -1;
    }
    if( k==0 || c=='\n' ) break;
    if( n>=PASS_MAX-1 ){
      snprintf(zWhy, nWhy, "the passphrase is longer than %d bytes", PASS_MAX-1);
      return -1;
    }
    z[n++] = c;
  }
  if( n>0 && z[n-1]=='\r' ) n--;
  return n;
}

/* The passphrase file: refused unless a regular file of this user that
** group and others cannot read.  The length, or -1 with zWhy. */
static int pass_read_file(const char *zFile, char *z, char *zWhy, size_t nWhy){
  struct stat sb;
  int fd = open(zFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), n = 0;
  if( fd<0 ){
    snprintf(zWhy, nWhy, "cannot open the passphrase file %s: %s", zFile,
             strerror(errno));
    return -1;
  }
  if( fstat(fd, &sb) || !S_ISREG(sb.st_mode) ){
    snprintf(zWhy, nWhy, "the passphrase file %s is not a regular file", zFile);
    n = -1;
  }else if( sb.st_uid!=geteuid() ){
    snprintf(zWhy, nWhy, "the passphrase file %s belongs to another user: "
             "refused", zFile);
    n = -1;
  }else if( sb.st_mode & 077 ){
    snprintf(zWhy, nWhy, "the passphrase file %s is open to group or others "
             "(mode %04o): refused; chmod 600 it", zFile,
             (unsigned)(sb.st_mode & 07777));
    n = -1;
  }
  while( n>=0 ){
    ssize_t k = read(fd, &z[n], (size_t)(PASS_MAX - n));
    if( k<0 && errno==EINTR ) continue;
    if( k<0 ){
      snprintf(zWhy, nWhy, "cannot read the passphrase file %s: %s", zFile,
               strerror(errno));
      n = -1;
    }else if( k==0 ){
      break;
    }else if( (n += (int)k)>=PASS_MAX ){
      snprintf(zWhy, nWhy, "the passphrase file %s is longer than %d bytes",
               zFile, PASS_MAX-1);
      n = -1;
    }
  }
  close(fd);
  if( n>0 && z[n-1]=='\n' ) n--;
  return n;
}

/* Asks on the controlling terminal, echo off.  The length, or -1 with zWhy
** (no terminal). */
static int pass_prompt(const char *zDb, char *z, char *zWhy, size_t nWhy){
  struct termios old, quiet;
  char zAsk[300];
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC), n, bRestore = 0;
  if( fd<0 ){
    snprintf(zWhy, nWhy, "the identity key of %s is locked: give "
             "--passphrase-fd N or --passphrase-file FILE (no terminal to ask "
             "on)", zDb);
    return -1;
  }
  if( tcgetattr(fd, &old)==0 ){
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    bRestore = tcsetattr(fd, TCSAFLUSH, &quiet)==0;
  }
  snprintf(zAsk, sizeof(zAsk), "becsync: passphrase for %s: ", zDb);
  if( write(fd, zAsk, strlen(zAsk))<0 ){ /* the read below still works */ }
  n = pass_read_line(fd, z, zWhy, nWhy);
  if( bRestore ) tcsetattr(fd, TCSAFLUSH, &old);
  if( write(fd, "\n", 1)<0 ){ /* cosmetic */ }
  close(fd);
  return n;
}

/* Unlocks db's identity when its key is sealed, with the passphrase from
** the source chosen (see PASSPHRASE).  EXIT_OK (also when the key is not
** sealed: nothing to do), or EXIT_LOCAL after saying why on stderr. */
static int unlock_identity(sqlite3 *db, const char *zDb){
  char zWhy[600];
  char *z;
  char *zErr = 0;
  int n, rc = EXIT_OK;
  if( !key_is_sealed(db) ) return EXIT_OK;
  z = sodium_malloc(PASS_MAX);
  if( z==0 ){
    fprintf(stderr, "becsync: out of memory for the passphrase\n");
    return EXIT_LOCAL;
  }
  if( nPassFd>=0 ) n = pass_read_line(nPassFd, z, zWhy, sizeof(zWhy));
  else if( zPassFile ) n = pass_read_file(zPassFile, z, zWhy, sizeof(zWhy));
  else n = pass_prompt(zDb, z, zWhy, sizeof(zWhy));
  if( n==0 ){
    snprintf(zWhy, sizeof(zWhy), "the passphrase is empty");
    n = -1;
  }
  if( n<0 ){
    fprintf(stderr, "becsync: %s\n", zWhy);
    rc = EXIT_LOCAL;
  }else if( db_call(db, "SELECT bec_unlock(?1)", 1, (const void*[]){z},
                    (int[]){n}, (int[]){1}, 0, 0, &zErr) ){
    /* bec says "bec_unlock: wrong passphrase" and the like. */
    fprintf(stderr, "becsync: cannot unlock the identity key of %s: %s\n", zDb,
            zErr ? zErr : "out of memory");
    rc = EXIT_LOCAL;
  }
  free(zErr);
  sodium_free(z);     /* wipes it */
  return rc;
}

/* serve and run: a connection of their own, unlocked, that signs every
** handshake (Db.dbSign), if the key is sealed.  EXIT_OK or EXIT_LOCAL. */
static int unlock_pool(Db *pDb){
  sqlite3 *db = 0;
  int rc;
  if( db_open(pDb->zPath, &db) ) return EXIT_LOCAL;
  if( !key_is_sealed(db) ){
    sqlite3_close(db);
    return EXIT_OK;
  }
  rc = unlock_identity(db, pDb->zPath);
  if( rc ) sqlite3_close(db);
  else pDb->dbSign = db;
  return rc;
}

/* becsync status DB: the becsync_peer table (see STATUS AND METRICS), one
** line per peer, read-only.  0, or 2 if the database cannot be read. */
static int status_main(const char *zDb){
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  int rc, n = 0;
  if( sqlite3_open_v2(zDb, &db, SQLITE_OPEN_READONLY, 0) ){
    fprintf(stderr, "becsync: cannot open %s: %s\n", zDb, sqlite3_errmsg(db));
    sqlite3_close(db);
    return EXIT_LOCAL;
  }
  sqlite3_busy_timeout(db, nTimeout*1000);
  rc = sqlite3_prepare_v2(db, "SELECT peer, coalesce(last_success,'never'),"
      " coalesce(last_failure,'never'), sessions, failures, ops_sent,"
      " ops_received, bytes_sent, bytes_received, coalesce(last_error,'')"
      " FROM becsync_peer ORDER BY peer", -1, &pStmt, 0);
  if( rc ){
    int bNone = strstr(sqlite3_errmsg(db), "no such table")!=0;
    if( bNone ) printf("no sessions recorded in %s\n", zDb);
    else fprintf(stderr, "becsync: %s: %s\n", zDb, sqlite3_errmsg(db));
    sqlite3_close(db);
    return bNone ? EXIT_OK : EXIT_LOCAL;
  }
  printf("%-28s %-24s %-24s %8s %8s %9s %9s %12s %12s  %s\n", "peer",
         "last success", "last failure", "sessions", "failures", "ops sent",
         "ops recv", "bytes sent", "bytes recv", "last error");
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    char zPeer[300];
    const char *z = (const char*)sqlite3_column_text(pStmt, 0);
    /* A key label is shortened as in the log lines: its first 16 digits. */
    if( z && strncmp(z, "key:", 4)==0 ) snprintf(zPeer, sizeof(zPeer), "key:%.16s", z+4);
    else snprintf(zPeer, sizeof(zPeer), "%s", z ? z : "");
    printf("%-28s %-24s %-24s %8lld %8lld %9lld %9lld %12lld %12lld  %s\n",
           zPeer, sqlite3_column_text(pStmt, 1), sqlite3_column_text(pStmt, 2),
           sqlite3_column_int64(pStmt, 3), sqlite3_column_int64(pStmt, 4),
           sqlite3_column_int64(pStmt, 5), sqlite3_column_int64(pStmt, 6),
           sqlite3_column_int64(pStmt, 7), sqlite3_column_int64(pStmt, 8),
           sqlite3_column_text(pStmt, 9));
    n++;
  }
  rc = sqlite3_finalize(pStmt);
  if( n==0 ) printf("no sessions recorded in %s\n", zDb);
  sqlite3_close(db);
  return rc ? EXIT_LOCAL : EXIT_OK;
}

/* becsync run CONFIG (see RUN): the config sets what serve's options set,
** every peer gets a live session, and SIGHUP reloads the peers. */
static int run_main(const char *zConfig){
  Config cfg;
  Db dbs;
  sqlite3 *db = 0;
  char *zErr = 0;
  struct sigaction sa;
  int rc;
  if( config_load(zConfig, &cfg, &zErr) ){
    fprintf(stderr, "becsync: %s\n", zErr ? zErr : "out of memory");
    free(zErr);
    return EXIT_USAGE;
  }
  nTimeout = cfg.nTimeout;
  nHandshakeTimeout = cfg.nHandshakeTimeout;
  nRoundTimeout = cfg.nRoundTimeout;
  nKeepaliveOpt = cfg.nKeepalive;
  nPassFd = cfg.nPassFd;
  zPassFile = cfg.zPassFile;
  bLiveOpt = 1;
  if( cfg.zMetrics ) zMetricsPath = cfg.zMetrics;
  if( cfg.zRelayKey ){
    bRelayPin = relay_key_parse(cfg.zRelayKey, aRelayPin)==0;
  }
  if( stop_init() || pipe2(gHup, O_CLOEXEC | O_NONBLOCK) ){
    fprintf(stderr, "becsync: pipe: %s\n", strerror(errno));
    config_free(&cfg);
    return EXIT_LOCAL;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_hup_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, 0);
  if( db_open(cfg.zDb, &db) ){
    config_free(&cfg);
    return EXIT_LOCAL;
  }
  if( (rc = relay_pin_check(db))!=0 ){
    sqlite3_close(db);
    config_free(&cfg);
    return rc;
  }
  sqlite3_close(db);
  db_init(&dbs, 0, cfg.zDb);
  dbs.nLiveInterval = cfg.nInterval;
  if( unlock_pool(&dbs) ){
    db_pool_close(&dbs);
    config_free(&cfg);
    return EXIT_LOCAL;
  }
  rc = serve(&dbs, cfg.zListen, (const char**)cfg.azPeer, cfg.nPeer,
             cfg.nInterval, 0, cfg.nMaxConns, cfg.nMaxPerAddr, cfg.nBacklog,
             zConfig, &cfg);
  db_pool_close(&dbs);
  config_free(&cfg);
  return rc;
}

/**************************************************************************
** Command line.
*/
static void usage(FILE *f){
  fprintf(f,
    "usage: becsync [options] A.db B.db\n"
    "       becsync [options] serve DB --listen HOST:PORT [--peer HOST:PORT]...\n"
    "       becsync [options] sync DB HOST:PORT\n"
    "       becsync [options] sync DB --exec 'COMMAND'\n"
    "       becsync [options] --stdio DB\n"
    "       becsync [options] run CONFIG\n"
    "       becsync status DB\n"
    "\n"
    "  A.db B.db             syncs two database files until both hold the same ops\n"
    "  serve DB              answers peers on --listen and dials each --peer\n"
    "  sync DB HOST:PORT     one session with a becsync serve\n"
    "  sync DB --exec CMD    one session with CMD's stdin and stdout\n"
    "  --stdio DB            one session on this process's stdin and stdout\n"
    "  run CONFIG            a long-running replica or relay (docs/reference.md)\n"
    "  status DB             per peer: last success, failures, ops, bytes\n"
    "\n"
    "options:\n"
    "  -q, --quiet                  no progress line\n"
    "      --timeout SECS           I/O without progress ends a session (default 30)\n"
    "      --handshake-timeout SECS deadline of the handshake (default 10)\n"
    "      --round-timeout SECS     deadline of the sync round (default 300)\n"
    "      --label NAME             the peer's name in bec_peers (default key:<key>)\n"
    "      --passphrase-fd N        read a sealed key's passphrase from fd N\n"
    "      --passphrase-file FILE   ... or from an owner-only file\n"
    "      --live                   sync, serve --peer: keep sessions open, push\n"
    "      --keepalive SECS         between keepalives of a live session\n"
    "      --metrics FILE           Prometheus text, rewritten every second\n"
    "      --relay-key PK           also accept this relay, not a member, as a\n"
    "                               peer (encrypted groups only)\n"
    "  serve:\n"
    "      --listen HOST:PORT       where to answer peers\n"
    "      --peer HOST:PORT         a relay to dial every --interval (repeatable)\n"
    "      --interval SECS          between dials of each peer (default 60)\n"
    "      --max-sessions N         exit 0 after N sessions (default 0: never)\n"
    "      --max-conns N            connections open at once\n"
    "      --max-per-addr N         connections open at once from one address\n"
    "      --backlog N              the listen backlog\n"
    "  -h, --help                   this text\n"
    "  -V, --version                the version of becsync and bec\n"
    "\n"
    "exit: 0 in sync, 1 usage, 2 local database, 3 transport, 4 authentication\n"
    "      or refused, 5 protocol, 6 ended out of sync\n");
}

/* Says what was wrong with the command line; EXIT_USAGE. */
static int bad_usage(const char *zFmt, ...){
  va_list ap;
  fprintf(stderr, "becsync: ");
  va_start(ap, zFmt);
  vfprintf(stderr, zFmt, ap);
  va_end(ap);
  fprintf(stderr, "\nbecsync: see becsync --help\n");
  return EXIT_USAGE;
}

/* A whole number in [lo, hi] from z, or lo-1. */
static int int_arg(const char *z, int lo, int hi){
  char *zEnd = 0;
  long v;
  errno = 0;
  v = strtol(z, &zEnd, 10);
  if( errno || zEnd==z || *zEnd || v<lo || v>hi ) return lo-1;
  return (int)v;
}

int main(int argc, char **argv){
  /* Long options only, but for the usual -q, -h, -V.  Values are checked
  ** as they are read, so the message names the option. */
  enum { O_STDIO = 256, O_TIMEOUT, O_HANDSHAKE, O_ROUND, O_LABEL, O_LISTEN,
         O_EXEC, O_INTERVAL, O_MAX_SESSIONS, O_MAX_CONNS, O_MAX_PER_ADDR,
         O_BACKLOG, O_PEER, O_METRICS, O_LIVE, O_KEEPALIVE, O_PASS_FD,
         O_PASS_FILE, O_RELAY_KEY };
  static const struct option aLong[] = {
    { "quiet",             no_argument,       0, 'q' },
    { "stdio",             no_argument,       0, O_STDIO },
    { "timeout",           required_argument, 0, O_TIMEOUT },
    { "handshake-timeout", required_argument, 0, O_HANDSHAKE },
    { "round-timeout",     required_argument, 0, O_ROUND },
    { "label",             required_argument, 0, O_LABEL },
    { "listen",            required_argument, 0, O_LISTEN },
    { "exec",              required_argument, 0, O_EXEC },
    { "interval",          required_argument, 0, O_INTERVAL },
    { "max-sessions",      required_argument, 0, O_MAX_SESSIONS },
    { "max-conns",         required_argument, 0, O_MAX_CONNS },
    { "max-per-addr",      required_argument, 0, O_MAX_PER_ADDR },
    { "backlog",           required_argument, 0, O_BACKLOG },
    { "peer",              required_argument, 0, O_PEER },
    /* Operators' view (see STATUS AND METRICS). */
    { "metrics",           required_argument, 0, O_METRICS },
    /* Live sessions (see LIVE SESSIONS). */
    { "live",              no_argument,       0, O_LIVE },
    { "keepalive",         required_argument, 0, O_KEEPALIVE },
    /* A sealed key's passphrase (see PASSPHRASE); never an argument. */
    { "passphrase-fd",     required_argument, 0, O_PASS_FD },
    { "passphrase-file",   required_argument, 0, O_PASS_FILE },
    /* A relay that is not a member (see RELAY PIN). */
    { "relay-key",         required_argument, 0, O_RELAY_KEY },
    { "help",              no_argument,       0, 'h' },
    { "version",           no_argument,       0, 'V' },
    { 0, 0, 0, 0 }
  };
  const char *azArg[8];
  const char *azPeer[MAX_PEERS];
  const char *zListen = 0, *zExec = 0;
  int nArg = 0, nPeer = 0, nInterval = 60, nMax = 0, bStdio = 0, rc, c;
  int nMaxConns = MAX_CONNS, nMaxPerAddr = MAX_PER_ADDR;
  int nBacklog = LISTEN_BACKLOG;
  sqlite3 *db = 0;
  Db dbs;
  pthread_t tMetrics;
  int bMetrics = 0;

  signal(SIGPIPE, SIG_IGN);
  /* Times up to a million seconds, so that a wait in milliseconds fits an
  ** int; counts up to a million. */
#define INT_OPT(var, lo, hi) \
  if( (var = int_arg(optarg, lo, hi))<(lo) ){ \
    return bad_usage("--%s: '%s' is not a whole number from %d to %d", \
                     aLong[iLong].name, optarg, lo, hi); \
  }
  for(;;){
    int iLong = -1;
    c = getopt_long(argc, argv, "qhV", aLong, &iLong);
    if( c==-1 ) break;
    if( iLong<0 ){
      for(iLong=0; aLong[iLong].name && aLong[iLong].val!=c; iLong++){}
    }
    switch( c ){
      case 'q': bQuiet = 1; break;
      case O_STDIO: bStdio = 1; break;
      case O_TIMEOUT: INT_OPT(nTimeout, 1, 1000000); break;
      case O_HANDSHAKE: INT_OPT(nHandshakeTimeout, 1, 1000000); break;
      case O_ROUND: INT_OPT(nRoundTimeout, 1, 1000000); break;
      case O_LABEL: zLabelOpt = optarg; break;
      case O_LISTEN: zListen = optarg; break;
      case O_EXEC: zExec = optarg; break;
      case O_INTERVAL: INT_OPT(nInterval, 1, 1000000); break;
      case O_MAX_SESSIONS: INT_OPT(nMax, 0, INT_MAX); break;
      case O_MAX_CONNS: INT_OPT(nMaxConns, 1, 1000000); break;
      case O_MAX_PER_ADDR: INT_OPT(nMaxPerAddr, 1, 1000000); break;
      case O_BACKLOG: INT_OPT(nBacklog, 1, 65535); break;
      case O_PEER:
        if( nPeer>=MAX_PEERS ) return bad_usage("--peer: at most %d peers", MAX_PEERS);
        azPeer[nPeer++] = optarg;
        break;
      case O_METRICS: zMetricsPath = optarg; break;
      case O_LIVE: bLiveOpt = 1; break;
      case O_KEEPALIVE: INT_OPT(nKeepaliveOpt, 1, 1000000); break;
      case O_PASS_FD: INT_OPT(nPassFd, 0, INT_MAX); break;
      case O_PASS_FILE: zPassFile = optarg; break;
      case O_RELAY_KEY:
        if( relay_key_parse(optarg, aRelayPin) ){
          return bad_usage("--relay-key: want 64 hex digits (the relay's "
                           "bec_pubkey()), not '%s'", optarg);
        }
        bRelayPin = 1;
        break;
      case 'h': usage(stdout); return 0;
      case 'V': printf("becsync (bec) %s\n", BEC_VERSION); return 0;
      default:   /* getopt_long has said which option was wrong */
        fprintf(stderr, "becsync: see becsync --help\n");
        return EXIT_USAGE;
    }
  }
#undef INT_OPT
  while( optind<argc ){
    if( nArg>=8 ) return bad_usage("too many arguments, from '%s'", argv[optind]);
    azArg[nArg++] = argv[optind++];
  }
  if( sodium_init()<0 ) return EXIT_LOCAL;
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( nArg==2 && strcmp(azArg[0], "run")==0 ) return run_main(azArg[1]);
  if( nArg==2 && strcmp(azArg[0], "status")==0 ) return status_main(azArg[1]);
  if( (bStdio || (nArg>0 && strcmp(azArg[0], "serve")==0)
       || (nArg>0 && strcmp(azArg[0], "sync")==0)) && stop_init() ){
    fprintf(stderr, "becsync: pipe: %s\n", strerror(errno));
    return EXIT_LOCAL;
  }
  if( bStdio ){
    Chan ch;
    Log lg;
    if( nArg!=1 ) return bad_usage("--stdio takes one argument, DB (got %d)", nArg);
    bQuiet = 1;
    if( db_open(azArg[0], &db) ) return EXIT_LOCAL;
    if( (rc = relay_pin_check(db))!=0 ){
      sqlite3_close(db);
      return rc;
    }
    if( unlock_identity(db, azArg[0]) ){
      sqlite3_close(db);
      return EXIT_LOCAL;
    }
    db_init(&dbs, db, azArg[0]);
    memset(&ch, 0, sizeof(ch));
    ch.fdIn = 0;
    ch.fdOut = 1;
    log_init(&lg, stderr, 0, 0);
    rc = run_session(&dbs, &ch, 0, &lg, "stdio peer");
    stop_all();
    watch_join();
    metrics_write(azArg[0], 0);
  }else if( nArg==3 && strcmp(azArg[0], "serve")==0 ){
    return bad_usage("serve: '%s': a peer to dial is given with --peer", azArg[2]);
  }else if( nArg==2 && strcmp(azArg[0], "serve")==0 ){
    if( zListen==0 ) return bad_usage("serve needs --listen HOST:PORT");
    if( db_open(azArg[1], &db) ) return EXIT_LOCAL;
    if( (rc = relay_pin_check(db))!=0 ){
      sqlite3_close(db);
      return rc;
    }
    /* Connections come from the pool, which opens its own. */
    sqlite3_close(db);
    db = 0;
    db_init(&dbs, 0, azArg[1]);
    if( unlock_pool(&dbs) ){
      db_pool_close(&dbs);
      return EXIT_LOCAL;
    }
    rc = serve(&dbs, zListen, azPeer, nPeer, nInterval, nMax, nMaxConns,
               nMaxPerAddr, nBacklog, 0, 0);
  }else if( strcmp(nArg ? azArg[0] : "", "sync")==0 && bLiveOpt
         && nArg==3 && !zExec ){
    /* A live client: pooled connections and WAL like serve, so that the
    ** watcher and writers in other processes never wait for a session. */
    Log lg;
    if( db_open(azArg[1], &db) ) return EXIT_LOCAL;
    if( (rc = relay_pin_check(db))!=0 ){
      sqlite3_close(db);
      return rc;
    }
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", 0, 0, 0);
    sqlite3_close(db);
    db = 0;
    db_init(&dbs, 0, azArg[1]);
    dbs.nLiveInterval = nInterval;
    if( unlock_pool(&dbs) ){
      db_pool_close(&dbs);
      return EXIT_LOCAL;
    }
    log_init(&lg, stdout, 1, azArg[2]);
    if( zMetricsPath ){
      bMetrics = pthread_create(&tMetrics, 0, metrics_main, (void*)azArg[1])==0;
    }
    rc = sync_tcp(&dbs, azArg[2], &lg, 0);
    stop_all();
    watch_join();
    if( bMetrics ) pthread_join(tMetrics, 0);
    metrics_write(azArg[1], 0);
  }else if( strcmp(nArg ? azArg[0] : "", "sync")==0
         && ((nArg==3 && !zExec) || (nArg==2 && zExec)) ){
    Log lg;
    if( db_open(azArg[1], &db) ) return EXIT_LOCAL;
    if( (rc = relay_pin_check(db))!=0 ){
      sqlite3_close(db);
      return rc;
    }
    if( unlock_identity(db, azArg[1]) ){
      sqlite3_close(db);
      return EXIT_LOCAL;
    }
    db_init(&dbs, db, 0);
    log_init(&lg, stdout, 0, 0);
    rc = zExec ? sync_exec(&dbs, zExec) : sync_tcp(&dbs, azArg[2], &lg, 0);
    metrics_write(azArg[1], 0);
  }else if( nArg>=1 && (strcmp(azArg[0], "serve")==0 || strcmp(azArg[0], "sync")==0) ){
    return bad_usage("%s: wrong arguments (%d after '%s'; see the usage)",
                     azArg[0], nArg-1, azArg[0]);
  }else if( nArg==2 ){
    return sync_files(azArg[0], azArg[1]);
  }else{
    usage(stderr);
    return nArg ? bad_usage("%d arguments; expected A.db B.db or a subcommand", nArg)
                : bad_usage("nothing to do");
  }
  db_pool_close(&dbs);
  sqlite3_close(db);
  return rc;
}
