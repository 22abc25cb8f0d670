/*
** embed.c - bec linked into a C program as a static library.
**
**   cc embed.c -o embed -I/usr/local/include /usr/local/lib/libbec.a \
**      -lsqlite3 -lsodium -lxxhash
**   ./embed notes.db
**
** sqlite3_auto_extension() registers bec on every connection the program
** opens afterwards, so no .load is needed.
*/
#include <stdio.h>
#include <sqlite3.h>
#include <bec.h>

static int print_row(void *pArg, int nCol, char **azVal, char **azCol){
  int i;
  (void)pArg;
  for(i=0; i<nCol; i++) printf("%s%s=%s", i ? "  " : "", azCol[i], azVal[i] ? azVal[i] : "NULL");
  printf("\n");
  return 0;
}

int main(int argc, char **argv){
  sqlite3 *db = 0;
  char *zErr = 0;
  int rc;
  if( argc!=2 ){
    fprintf(stderr, "usage: %s DATABASE\n", argv[0]);
    return 1;
  }
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( sqlite3_open(argv[1], &db)!=SQLITE_OK ){
    fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  rc = sqlite3_exec(db,
      "SELECT bec_version() AS version;"
      "SELECT bec_keygen() IS NOT NULL AS has_identity WHERE bec_pubkey() IS NULL;"
      "SELECT bec_create_group() IS NOT NULL AS created WHERE bec_group_id() IS NULL;"
      "SELECT bec_sign('hello from C') IS NOT NULL AS signed;"
      "SELECT count(*) AS ops, (SELECT count(*) FROM bec_heads) AS heads FROM bec_ops;"
      "SELECT bec_check() AS check_result;",
      print_row, 0, &zErr);
  if( rc!=SQLITE_OK ){
    fprintf(stderr, "error: %s\n", zErr);
    sqlite3_free(zErr);
  }
  sqlite3_close(db);
  return rc!=SQLITE_OK;
}
