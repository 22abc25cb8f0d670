/*
** bec_keyfile.c - where the unsealed secret key lives: never in the
** database.
**
** The rule: a secret key is never readable through SQL or in a copy of the
** database file (.dump, .backup, VACUUM INTO, cp).  A key sealed under a
** passphrase (bec_keygen(passphrase): Argon2id + XSalsa20-Poly1305, the
** 'seckey_sealed' row of bec_store_config) may stay in the database: a
** copy of it is useless without the passphrase.  An unsealed key lives
**
**   - in a key file: by default "<main database file>-bec-key", beside the
**     database like SQLite's own -journal and -wal files, or wherever the
**     app points the connection with SELECT bec_key_file(path);
**   - for a database without a file (":memory:", a temporary database, a
**     memdb image) and no key file set: only in the connection's memory,
**     wiped when the connection closes.
**
** Key file format, 43 bytes:   "bec-key-v1\n" || Ed25519 seed (32 bytes)
**
** bec_keygen() creates it with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, and
** writes and fsyncs it (and its directory) before the public key is
** committed: a crash leaves at worst a key file without an identity, never
** an identity without its key.  An existing file is never overwritten.
** The file is read with O_NOFOLLOW and refused, as ssh refuses a private
** key, unless it is a regular file owned by this user with no permission
** bits for group or others, of the exact size and magic; and the public key
** derived from it must be the database's bec_pubkey().
**
** The key is read lazily, when something must be signed, so a database
** whose key file is missing (a copy of the file, a read-only replica) can
** still be read and synced; only signing fails, saying why.
**
** MOVING AN OLD KEY OUT.  bec before key files stored the seed as a plain
** 'seckey' row.  bec_key_migrate moves it: first to the key file (or, for a
** database without a file, to the connection's memory), and only when the
** key is safe there, a DELETE of the row run with PRAGMA secure_delete on,
** so SQLite zeroes the bytes the row occupied in its page instead of
** leaving them in free space.  In WAL mode the new page goes to the WAL
** while the old one, seed included, is still in the database file or in
** older WAL frames; a TRUNCATE checkpoint then writes the new page over the
** old one and empties the WAL.  SQLite can checkpoint only when no
** statement of the connection is running, which is the case when bec is
** loaded by sqlite3_load_extension(), the shell's .load or
** sqlite3_auto_extension(): sqlite3_bec_init moves the key then.  When the
** move happens later, inside a statement (SELECT load_extension(), or a
** retry after the key file could not be written at load), the old frames
** stay in the WAL until SQLite's next checkpoint resets it.  What no
** program can undo: copies of the database made before the move, a
** rollback journal in PERSIST mode, and the old blocks of the filesystem
** or its snapshots.  A key that was ever stored in plaintext should be
** considered as exposed as those copies were.
*/
#include "becInt.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_SUFFIX "-bec-key"

_Static_assert(sizeof(BEC_KEYFILE_MAGIC)-1==BEC_KEYFILE_MAGIC_BYTES,
               "key file magic size");

/* The main database's file name, or 0 if it has none. */
static const char *db_file(sqlite3 *db){
  const char *z = sqlite3_db_filename(db, "main");
  sqlite3_vfs *pVfs = 0;
  if( z==0 || z[0]==0 ) return 0;
  /* A deserialized image (the memdb VFS) has a name but no file. */
  if( sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &pVfs)==SQLITE_OK
   && pVfs && pVfs->zName && strcmp(pVfs->zName, "memdb")==0 ){
    return 0;
  }
  return z;
}

int bec_key_path(BecCtx *p, char **pzPath){
  const char *zDb;
  *pzPath = 0;
  if( p->zKeyFile ){
    *pzPath = sqlite3_mprintf("%s", p->zKeyFile);
  }else if( (zDb = db_file(p->db))!=0 ){
    *pzPath = sqlite3_mprintf("%s" KEYFILE_SUFFIX, zDb);
  }else{
    return SQLITE_OK;
  }
  return *pzPath ? SQLITE_OK : SQLITE_NOMEM;
}

static void forget_key(BecCtx *p){
  bec_crypto_wipe(p->aSecret, sizeof(p->aSecret));
  p->bUnlocked = 0;
  p->eKeySrc = BEC_KEY_NONE;
}

int bec_key_set_path(BecCtx *p, const char *zPath){
  char *z = 0;
  if( zPath ){
    z = sqlite3_mprintf("%s", zPath);
    if( z==0 ) return SQLITE_NOMEM;
  }
  sqlite3_free(p->zKeyFile);
  p->zKeyFile = z;
  /* A key read from the old file is read again from the new one; a key
  ** that lives only in memory, or was unsealed, stays. */
  if( p->eKeySrc==BEC_KEY_FILE ) forget_key(p);
  return SQLITE_OK;
}

/* The C API: the SQL function with the path bound, never pasted. */
int bec_set_key_file(sqlite3 *db, const char *zPath){
  sqlite3_stmt *pStmt = 0;
  int rc;
#ifndef SQLITE_CORE
  if( sqlite3_api==0 ) return SQLITE_MISUSE;   /* bec was never loaded */
#endif
  rc = sqlite3_prepare_v2(db, "SELECT bec_key_file(?1)", -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    if( zPath ) sqlite3_bind_text(pStmt, 1, zPath, -1, SQLITE_STATIC);
    (void)sqlite3_step(pStmt);
    rc = sqlite3_finalize(pStmt);
  }
  return rc;
}

/**************************************************************************
** The key file itself.
*/
int bec_keyfile_read(const char *zPath, u8 *aSeed, char **pzErr){
  u8 a[BEC_KEYFILE_BYTES+1];
  struct stat st;
  size_t nRead = 0;
  int fd, rc = SQLITE_ERROR;
  /* O_NONBLOCK: a FIFO planted at the path must not hang the open. */
  fd = open(zPath, O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC);
  if( fd<0 ){
    if( errno==ENOENT ){
      *pzErr = sqlite3_mprintf("the secret key file %s is missing: this "
          "identity cannot sign here (restore the file, or point to it with "
          "bec_key_file(path))", zPath);
    }else if( errno==ELOOP ){
      *pzErr = sqlite3_mprintf("the secret key file %s is a symbolic link: "
          "refused (bec reads only a regular file)", zPath);
    }else{
      *pzErr = sqlite3_mprintf("cannot open the secret key file %s: %s",
                               zPath, strerror(errno));
    }
    return SQLITE_ERROR;
  }
  if( fstat(fd, &st) ){
    *pzErr = sqlite3_mprintf("cannot read the secret key file %s: %s", zPath,
                             strerror(errno));
  }else if( !S_ISREG(st.st_mode) ){
    *pzErr = sqlite3_mprintf("the secret key file %s is not a regular file: "
                             "refused", zPath);
  }else if( st.st_uid!=geteuid() ){
    *pzErr = sqlite3_mprintf("the secret key file %s belongs to another user "
        "(uid %d; this process runs as uid %d): refused", zPath,
        (int)st.st_uid, (int)geteuid());
  }else if( st.st_mode & (S_IRWXG|S_IRWXO) ){
    *pzErr = sqlite3_mprintf("the secret key file %s is open to group or "
        "others (mode %04o): refused; make it owner-only with chmod 600",
        zPath, (unsigned)(st.st_mode & 07777));
  }else{
    while( nRead<sizeof(a) ){
      ssize_t n = read(fd, a+nRead, sizeof(a)-nRead);
      if( n<0 && errno==EINTR ) continue;
      if( n<=0 ) break;
      nRead += (size_t)n;
    }
    if( nRead!=BEC_KEYFILE_BYTES
     || memcmp(a, BEC_KEYFILE_MAGIC, BEC_KEYFILE_MAGIC_BYTES) ){
      *pzErr = sqlite3_mprintf("%s is not a bec key file (%d bytes starting "
          "with \"bec-key-v1\")", zPath, BEC_KEYFILE_BYTES);
    }else{
      memcpy(aSeed, &a[BEC_KEYFILE_MAGIC_BYTES], BEC_SEED_BYTES);
      rc = SQLITE_OK;
    }
  }
  bec_crypto_wipe(a, sizeof(a));
  close(fd);
  if( rc && *pzErr==0 ) rc = SQLITE_NOMEM;
  return rc;
}

/* Makes the new directory entry durable too (best effort: some file
** systems cannot fsync a directory). */
static void sync_dir(const char *zPath){
  const char *zSlash = strrchr(zPath, '/');
  char *zDir;
  int fd;
  if( zSlash==0 ) zDir = sqlite3_mprintf(".");
  else zDir = sqlite3_mprintf("%.*s", (int)(zSlash-zPath>0 ? zSlash-zPath : 1), zPath);
  if( zDir==0 ) return;
  fd = open(zDir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
  if( fd>=0 ){
    (void)fsync(fd);
    close(fd);
  }
  sqlite3_free(zDir);
}

/* Creates zPath holding aSeed, fully written and fsynced.  If the file
** exists, nothing is written: *pbExists is set and *pzErr is left 0. */
static int keyfile_create(const char *zPath, const u8 *aSeed, int *pbExists,
                          char **pzErr){
  u8 a[BEC_KEYFILE_BYTES];
  size_t nDone = 0;
  const char *zWhat = 0;
  int fd, e = 0;
  *pbExists = 0;
  fd = open(zPath, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600);
  if( fd<0 ){
    if( errno==EEXIST ){
      *pbExists = 1;
      return SQLITE_ERROR;
    }
    *pzErr = sqlite3_mprintf("cannot create the secret key file %s: %s",
                             zPath, strerror(errno));
    return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  memcpy(a, BEC_KEYFILE_MAGIC, BEC_KEYFILE_MAGIC_BYTES);
  memcpy(&a[BEC_KEYFILE_MAGIC_BYTES], aSeed, BEC_SEED_BYTES);
  /* The umask may have taken the owner's own bits: exactly 0600. */
  if( fchmod(fd, 0600) ){ zWhat = "chmod"; e = errno; }
  while( zWhat==0 && nDone<sizeof(a) ){
    ssize_t n = write(fd, a+nDone, sizeof(a)-nDone);
    if( n<0 && errno==EINTR ) continue;
    if( n<=0 ){ zWhat = "write"; e = n<0 ? errno : EIO; }
    else nDone += (size_t)n;
  }
  if( zWhat==0 && fsync(fd) ){ zWhat = "fsync"; e = errno; }
  if( close(fd) && zWhat==0 ){ zWhat = "close"; e = errno; }
  bec_crypto_wipe(a, sizeof(a));
  if( zWhat ){
    unlink(zPath);
    *pzErr = sqlite3_mprintf("cannot write the secret key file %s (%s: %s)",
                             zPath, zWhat, strerror(e));
    return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  sync_dir(zPath);
  return SQLITE_OK;
}

int bec_key_save(BecCtx *p, const u8 *aSeed, char **pzCreated, char **pzErr){
  char *zPath = 0;
  int bExists = 0;
  int rc = bec_key_path(p, &zPath);
  *pzCreated = 0;
  if( rc || zPath==0 ) return rc;
  rc = keyfile_create(zPath, aSeed, &bExists, pzErr);
  if( bExists ){
    *pzErr = sqlite3_mprintf("the secret key file %s already exists (a key "
        "made earlier, perhaps for a database since deleted); bec never "
        "overwrites a key: move it away, or choose another file with "
        "bec_key_file(path)", zPath);
    if( *pzErr==0 ) rc = SQLITE_NOMEM;
  }
  if( rc ) sqlite3_free(zPath);
  else *pzCreated = zPath;
  return rc;
}

void bec_key_discard(const char *zPath){
  if( zPath ) unlink(zPath);
}

/**************************************************************************
** Loading the key for signing.
*/
/* Reports zMsg (taken over): SQLITE_ERROR, or SQLITE_NOMEM if it is 0. */
static int key_error(char **pzErr, char *zMsg){
  *pzErr = zMsg;
  return zMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

int bec_key_load(BecCtx *p, char **pzErr){
  u8 *aSealed = 0, *aPub = 0;
  int nSealed = 0, nPub = 0;
  char *zPath = 0, *zWhy = 0;
  u8 aSeed[BEC_SEED_BYTES], aDerived[BEC_PUBKEY_BYTES];
  int rc;
  if( p->bUnlocked ) return SQLITE_OK;
  rc = bec_config_get_blob(p, "seckey_sealed", &aSealed, &nSealed);
  if( rc==SQLITE_OK && aSealed ){
    rc = key_error(pzErr, sqlite3_mprintf("bec: the identity key is locked: "
                                          "call bec_unlock(passphrase) first"));
    goto done;
  }
  if( rc==SQLITE_OK ) rc = bec_key_migrate(p, pzErr);
  if( rc || p->bUnlocked ) goto done;
  rc = bec_config_get_blob(p, "pubkey", &aPub, &nPub);
  if( rc ) goto done;
  if( nPub!=BEC_PUBKEY_BYTES ){
    rc = key_error(pzErr, sqlite3_mprintf("bec: this database has no "
                                          "identity: call bec_keygen() first"));
    goto done;
  }
  rc = bec_key_path(p, &zPath);
  if( rc ) goto done;
  if( zPath==0 ){
    rc = key_error(pzErr, sqlite3_mprintf("bec: this database has no file, "
        "and its secret key lived only in the memory of the connection that "
        "made it: this connection cannot sign (see bec_key_file(path))"));
    goto done;
  }
  rc = bec_keyfile_read(zPath, aSeed, &zWhy);
  if( rc==SQLITE_OK ){
    bec_crypto_secret_from_seed(aSeed, aDerived, p->aSecret);
    if( memcmp(aDerived, aPub, BEC_PUBKEY_BYTES) ){
      char zFile[2*BEC_PUBKEY_BYTES+1], zDb[2*BEC_PUBKEY_BYTES+1];
      bec_crypto_wipe(p->aSecret, sizeof(p->aSecret));
      bec_hex_encode(aDerived, BEC_PUBKEY_BYTES, zFile);
      bec_hex_encode(aPub, BEC_PUBKEY_BYTES, zDb);
      rc = key_error(pzErr, sqlite3_mprintf("bec: the secret key file %s holds "
          "another identity's key (public key %.16s..., this database's is "
          "%.16s...)", zPath, zFile, zDb));
    }else{
      memcpy(p->aPub, aDerived, BEC_PUBKEY_BYTES);
      p->bUnlocked = 1;
      p->eKeySrc = BEC_KEY_FILE;
    }
  }else if( rc!=SQLITE_NOMEM ){
    rc = key_error(pzErr, sqlite3_mprintf("bec: %s", zWhy));
  }
done:
  bec_crypto_wipe(aSeed, sizeof(aSeed));
  sqlite3_free(aSealed);
  sqlite3_free(aPub);
  sqlite3_free(zPath);
  sqlite3_free(zWhy);
  return rc;
}

/**************************************************************************
** Moving a plaintext key out of the database (see the top of the file).
*/

/* Deletes the 'seckey' row with secure_delete on for that statement. */
static int delete_secure(BecCtx *p, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int iOld = -1;
  int rc = sqlite3_prepare_v2(p->db, "PRAGMA main.secure_delete", -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    if( sqlite3_step(pStmt)==SQLITE_ROW ) iOld = sqlite3_column_int(pStmt, 0);
    rc = sqlite3_finalize(pStmt);
  }
  if( rc==SQLITE_OK ) rc = bec_ctx_exec(p, "PRAGMA main.secure_delete=1", pzErr);
  if( rc==SQLITE_OK ){
    rc = bec_config_delete(p, "seckey");
  }
  if( iOld==0 ) (void)bec_ctx_exec(p, "PRAGMA main.secure_delete=0", 0);
  if( iOld==2 ) (void)bec_ctx_exec(p, "PRAGMA main.secure_delete=FAST", 0);
  return rc;
}

int bec_key_migrate(BecCtx *p, char **pzErr){
  u8 *aOld = 0, *aPub = 0;
  int nOld = 0, nPub = 0, bExists = 0;
  u8 aDerived[BEC_PUBKEY_BYTES], aSecret[BEC_SECKEY_BYTES];
  u8 aSeed[BEC_SEED_BYTES];
  char *zPath = 0, *zWhy = 0;
  int rc = bec_config_get_blob(p, "seckey", &aOld, &nOld);
  if( rc || aOld==0 ) return rc;
  memset(aSeed, 0, sizeof(aSeed));
  memset(aSecret, 0, sizeof(aSecret));
  if( nOld!=BEC_SEED_BYTES ){
    zWhy = sqlite3_mprintf("it is damaged (%d bytes, want %d)", nOld,
                           BEC_SEED_BYTES);
    rc = SQLITE_ERROR;
    goto done;
  }
  bec_crypto_secret_from_seed(aOld, aDerived, aSecret);
  rc = bec_config_get_blob(p, "pubkey", &aPub, &nPub);
  if( rc ) goto done;
  if( nPub!=BEC_PUBKEY_BYTES || memcmp(aPub, aDerived, BEC_PUBKEY_BYTES) ){
    zWhy = sqlite3_mprintf("it is not the key of this database's identity "
                           "(bec_pubkey())");
    rc = SQLITE_ERROR;
    goto done;
  }
  rc = bec_key_path(p, &zPath);
  if( rc==SQLITE_OK && zPath ){
    rc = keyfile_create(zPath, aOld, &bExists, &zWhy);
    if( bExists ){
      /* Written by an earlier move whose DELETE did not happen or was
      ** rolled back: the same key there is fine, another is not. */
      rc = bec_keyfile_read(zPath, aSeed, &zWhy);
      if( rc==SQLITE_OK && memcmp(aSeed, aOld, BEC_SEED_BYTES) ){
        zWhy = sqlite3_mprintf("the secret key file %s already exists and "
                               "holds another key", zPath);
        rc = SQLITE_ERROR;
      }
    }
  }
  if( rc ) goto done;
  rc = delete_secure(p, &zWhy);
  if( rc ) goto done;
  memcpy(p->aSecret, aSecret, BEC_SECKEY_BYTES);
  memcpy(p->aPub, aDerived, BEC_PUBKEY_BYTES);
  p->bUnlocked = 1;
  p->eKeySrc = zPath ? BEC_KEY_FILE : BEC_KEY_MEMORY;
  /* Checkpoint and empty the WAL so the old page is gone from it; SQLITE_OK
  ** and nothing done outside WAL mode, SQLITE_LOCKED inside a statement
  ** (then the frames stay until SQLite's next checkpoint: see above). */
  if( sqlite3_get_autocommit(p->db) ){
    (void)sqlite3_wal_checkpoint_v2(p->db, "main", SQLITE_CHECKPOINT_TRUNCATE,
                                    0, 0);
  }
done:
  if( rc && rc!=SQLITE_NOMEM ){
    *pzErr = sqlite3_mprintf("bec: this database still holds its secret key "
        "in bec_store_config (written by an older bec), and it could not be "
        "moved out%s%s: %s", zPath ? " to " : "", zPath ? zPath : "",
        zWhy ? zWhy : sqlite3_errstr(rc));
    if( *pzErr==0 ) rc = SQLITE_NOMEM;
  }
  if( aOld ) bec_crypto_wipe(aOld, (size_t)nOld);
  bec_crypto_wipe(aSecret, sizeof(aSecret));
  bec_crypto_wipe(aSeed, sizeof(aSeed));
  sqlite3_free(aOld);
  sqlite3_free(aPub);
  sqlite3_free(zPath);
  sqlite3_free(zWhy);
  return rc;
}
