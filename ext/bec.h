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

#ifdef __cplusplus
}
#endif
#endif /* BEC_H */
