/*
** bec.h - the public header of bec, Byzantine-fault-tolerant collaboration
** inside SQLite.
**
** Loadable extension:   .load ./build/bec          (entry sqlite3_bec_init)
** Static library:       link libbec.a, then
**                         sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
**                       and every connection opened afterwards has bec.
** See docs/reference.md for the SQL surface.
*/
#ifndef BEC_H
#define BEC_H

#ifdef __cplusplus
extern "C" {
#endif

#define BEC_VERSION        "0.1.0"
#define BEC_VERSION_NUMBER 1000

struct sqlite3;
struct sqlite3_api_routines;

/* Registers bec's functions and tables on db.  Returns an SQLite result
** code; on failure *pzErrMsg (from sqlite3_malloc) says why. */
int sqlite3_bec_init(struct sqlite3 *db, char **pzErrMsg,
                     const struct sqlite3_api_routines *pApi);

/* Sets the file that holds this connection's unsealed secret key, or with
** zPath NULL goes back to the default "<database file>-bec-key": the same
** as SELECT bec_key_file(zPath).  Call it after bec is registered on db,
** before bec_keygen(), or later to point at a moved key.  Returns an
** SQLite result code; sqlite3_errmsg(db) says why on failure. */
int bec_set_key_file(struct sqlite3 *db, const char *zPath);

/* Sets (or with xCallback NULL clears) a callback that bec_check() on db
** calls as it goes: zStep names the step ("ops": each op re-verified, then
** one step per kind of derived state, e.g. "membership", "tables"), nDone
** of nTotal items are done.  A nonzero return stops bec_check() with
** SQLITE_INTERRUPT.  Every connection of the process can also watch running
** checks in the table bec_check_progress.  For programs that link libbec.a
** (the loadable module exports only its entry point).  Returns an SQLite
** result code. */
int bec_check_progress(struct sqlite3 *db,
                       int (*xCallback)(void *pArg, const char *zStep,
                                        long long nDone, long long nTotal),
                       void *pArg);

#ifdef __cplusplus
}
#endif
#endif /* BEC_H */
