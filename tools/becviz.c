/*
** becviz - draws a bec database's op DAG with Graphviz.
**
**   becviz [options] DB OUT          (becviz --help lists the options)
**
** Authors are colours, runs of one author's data ops share a box with
** their count and the rows they wrote, ops the membership rules ignore are
** grey and dashed, membership ops are labelled with whom they add or
** remove.  The drawing is SELECT bec_dot(options) (ext/bec_dot.c); needs
** `dot` (Debian package graphviz) unless the format is dot.
**
** Exit codes: 0 done, 1 usage, 2 cannot open or read DB, 3 dot failed.
*/
#include <sqlite3.h>

#include "bec.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void usage(FILE *f){
  fprintf(f,
    "usage: becviz [options] DB OUT\n"
    "  draws DB's op DAG into OUT with graphviz (the format from OUT's suffix)\n"
    "\n"
    "  -n, --last N        the newest N ops (default 1000); --limit N is the same\n"
    "  -t, --table NAME    with --key: only the write ops to one row of NAME\n"
    "  -k, --key KEY       that row's key: text as is, a number, or a JSON array\n"
    "                      of the values of a composite key, e.g. '[\"x\",2]'\n"
    "      --no-collapse   one box per op (default: a run of one author's data\n"
    "                      ops is one box with its count)\n"
    "      --no-legend     no legend\n"
    "  -f, --format FMT    svg, png, pdf or dot (default: OUT's suffix, else svg)\n"
    "  -h, --help          this text\n"
    "  -V, --version       the version of becviz and bec\n"
    "\n"
    "exit codes: 0 done, 1 usage, 2 cannot open or read DB, 3 dot failed\n");
}

/* A positive int from z, or 0 if z is not one. */
static int positive_int(const char *z){
  char *zEnd = 0;
  long v = strtol(z, &zEnd, 10);
  if( zEnd==z || *zEnd || v<1 || v>0x7fffffff ) return 0;
  return (int)v;
}

int main(int argc, char **argv){
  enum { OPT_NO_COLLAPSE = 256, OPT_NO_LEGEND };
  static const struct option aLong[] = {
    { "last",        required_argument, 0, 'n' },
    { "limit",       required_argument, 0, 'n' },
    { "table",       required_argument, 0, 't' },
    { "key",         required_argument, 0, 'k' },
    { "no-collapse", no_argument,       0, OPT_NO_COLLAPSE },
    { "no-legend",   no_argument,       0, OPT_NO_LEGEND },
    { "format",      required_argument, 0, 'f' },
    { "help",        no_argument,       0, 'h' },
    { "version",     no_argument,       0, 'V' },
    { 0, 0, 0, 0 }
  };
  const char *zDb = 0, *zOut = 0, *zFormat = 0, *zTable = 0, *zKey = 0;
  int nLast = 1000, bCollapse = 1, bLegend = 1, c, rc, status;
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  char *zDot = 0;
  FILE *f;

  while( (c = getopt_long(argc, argv, "n:t:k:f:hV", aLong, 0))!=-1 ){
    switch( c ){
      case 'n':
        nLast = positive_int(optarg);
        if( nLast==0 ){
          fprintf(stderr, "becviz: --last: '%s' is not a positive number of ops\n", optarg);
          return 1;
        }
        break;
      case 't': zTable = optarg; break;
      case 'k': zKey = optarg; break;
      case 'f': zFormat = optarg; break;
      case OPT_NO_COLLAPSE: bCollapse = 0; break;
      case OPT_NO_LEGEND: bLegend = 0; break;
      case 'h': usage(stdout); return 0;
      case 'V':
        printf("becviz (bec) %s\n", BEC_VERSION);
        return 0;
      default:   /* getopt_long said which option was wrong */
        fprintf(stderr, "becviz: see becviz --help\n");
        return 1;
    }
  }
  if( optind<argc ) zDb = argv[optind++];
  if( optind<argc ) zOut = argv[optind++];
  if( zDb==0 || zOut==0 ){
    fprintf(stderr, "becviz: %s is missing\n", zDb ? "OUT (the output file)"
                                                  : "DB (the database file)");
    usage(stderr);
    return 1;
  }
  if( optind<argc ){
    fprintf(stderr, "becviz: unexpected argument '%s' after DB and OUT\n", argv[optind]);
    return 1;
  }
  if( (zTable==0)!=(zKey==0) ){
    fprintf(stderr, "becviz: --table and --key go together (the row to draw)\n");
    return 1;
  }
  if( zFormat==0 ){
    const char *zSuffix = strrchr(zOut, '.');
    zFormat = zSuffix ? zSuffix+1 : "svg";
  }
  if( strcmp(zFormat, "svg") && strcmp(zFormat, "png") && strcmp(zFormat, "pdf")
   && strcmp(zFormat, "dot") ){
    fprintf(stderr, "becviz: --format: unknown format '%s' (svg, png, pdf or dot)\n", zFormat);
    return 1;
  }
  if( strcmp(zFormat, "dot") && strchr(zOut, '\'') ){
    fprintf(stderr, "becviz: OUT: the output name may not contain a quote\n");
    return 1;
  }
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  rc = sqlite3_open_v2(zDb, &db, SQLITE_OPEN_READWRITE, 0);
  /* The options as bec_dot's JSON object; a key that is not JSON is text. */
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(db,
      "SELECT bec_dot(json_object('last', ?1, 'collapse', json(?2),"
      " 'legend', json(?3), 'table', ?4, 'key',"
      " CASE WHEN json_valid(?5) THEN json(?5) ELSE ?5 END))", -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pStmt, 1, nLast);
    sqlite3_bind_text(pStmt, 2, bCollapse ? "true" : "false", -1, SQLITE_STATIC);
    sqlite3_bind_text(pStmt, 3, bLegend ? "true" : "false", -1, SQLITE_STATIC);
    if( zTable ) sqlite3_bind_text(pStmt, 4, zTable, -1, SQLITE_STATIC);
    if( zKey ) sqlite3_bind_text(pStmt, 5, zKey, -1, SQLITE_STATIC);
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
      free(zDot);
      return 3;
    }
    fclose(f);
  }else{
    char zCmd[4200];
    snprintf(zCmd, sizeof(zCmd), "dot -T%s -o '%s'", zFormat, zOut);
    f = popen(zCmd, "w");
    if( f==0 ){
      fprintf(stderr, "becviz: cannot run dot (apt-get install graphviz)\n");
      free(zDot);
      return 3;
    }
    fputs(zDot, f);
    status = pclose(f);
    if( status!=0 ){
      fprintf(stderr, "becviz: dot failed (exit %d); is graphviz installed?\n",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      free(zDot);
      return 3;
    }
  }
  free(zDot);
  fprintf(stderr, "becviz: wrote %s\n", zOut);
  return 0;
}
