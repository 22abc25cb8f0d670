/*
** becviz - draws a bec database's op DAG with Graphviz.
**
**   becviz DB OUT.svg [--limit N] [--format svg|png|pdf|dot]
**
** Authors are colours, ops the membership rules ignore are grey and dashed,
** membership ops are labelled with whom they add or remove.  Needs `dot`
** (Debian package graphviz) unless --format dot.
**
** Exit codes: 0 done, 1 usage, 2 cannot open or read DB, 3 dot failed.
*/
#include "becInt.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static void usage(void){
  fprintf(stderr, "usage: becviz DB OUT [--limit N] [--format svg|png|pdf|dot]\n"
                  "  draws the newest N ops (default 1000) of DB's op DAG into OUT\n");
}

int main(int argc, char **argv){
  const char *zDb = 0, *zOut = 0, *zFormat = 0;
  int nLimit = 1000, i, rc, status;
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  char *zDot = 0;
  FILE *f;

  for(i=1; i<argc; i++){
    if( strcmp(argv[i], "--limit")==0 && i+1<argc ){
      nLimit = atoi(argv[++i]);
    }else if( strcmp(argv[i], "--format")==0 && i+1<argc ){
      zFormat = argv[++i];
    }else if( strcmp(argv[i], "-h")==0 || strcmp(argv[i], "--help")==0 ){
      usage();
      return 0;
    }else if( zDb==0 ){
      zDb = argv[i];
    }else if( zOut==0 ){
      zOut = argv[i];
    }else{
      usage();
      return 1;
    }
  }
  if( zDb==0 || zOut==0 || nLimit<1 ){
    usage();
    return 1;
  }
  if( zFormat==0 ){
    const char *zDot2 = strrchr(zOut, '.');
    zFormat = zDot2 ? zDot2+1 : "svg";
  }
  if( strcmp(zFormat, "svg") && strcmp(zFormat, "png") && strcmp(zFormat, "pdf")
   && strcmp(zFormat, "dot") ){
    fprintf(stderr, "becviz: unknown format '%s' (svg, png, pdf or dot)\n", zFormat);
    return 1;
  }
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  rc = sqlite3_open_v2(zDb, &db, SQLITE_OPEN_READWRITE, 0);
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(db, "SELECT bec_dot(?1)", -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, nLimit);
    if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_text(pStmt, 0) ){
      zDot = strdup((const char*)sqlite3_column_text(pStmt, 0));
    }else{
      rc = SQLITE_ERROR;
    }
  }
  if( rc || zDot==0 ){
    fprintf(stderr, "becviz: cannot read the DAG of %s: %s\n", zDb,
            db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_finalize(pStmt);
    sqlite3_close(db);
    return 2;
  }
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  if( strcmp(zFormat, "dot")==0 ){
    f = fopen(zOut, "w");
    if( f==0 || fputs(zDot, f)<0 ){
      fprintf(stderr, "becviz: cannot write %s\n", zOut);
      return 3;
    }
    fclose(f);
  }else{
    char zCmd[4200];
    snprintf(zCmd, sizeof(zCmd), "dot -T%s -o '%s'", zFormat, zOut);
    if( strchr(zOut, '\'') ){
      fprintf(stderr, "becviz: the output name may not contain a quote\n");
      return 1;
    }
    f = popen(zCmd, "w");
    if( f==0 ){
      fprintf(stderr, "becviz: cannot run dot (apt-get install graphviz)\n");
      return 3;
    }
    fputs(zDot, f);
    status = pclose(f);
    if( status!=0 ){
      fprintf(stderr, "becviz: dot failed (exit %d); is graphviz installed?\n",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      return 3;
    }
  }
  free(zDot);
  fprintf(stderr, "becviz: wrote %s\n", zOut);
  return 0;
}
