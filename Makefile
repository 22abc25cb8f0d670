# bec - Byzantine-fault-tolerant collaboration inside SQLite.
#
#   make            build/bec.so (loadable extension), build/libbec.a, tools
#   make demo       the three-replica story (sql/ and tools/)
#   make demo-root  the threshold root: a stolen creator removed by 3 of 5
#   make test       every test, on a normal and an ASan+UBSan build
#   make bench      benchmarks (figures go to BENCH.md)
#   make fuzz       libFuzzer targets for FUZZ_SECONDS each
#   make soak       long seeded Byzantine simulation
#   make valgrind   the C unit tests under valgrind
#   make install    module, static library, header, bec.pc, tools under PREFIX
#   make uninstall  removes what make install put
#
# Missing Debian packages are installed with apt-get when make runs as root;
# otherwise make says what to install.

CC      ?= cc
PREFIX  ?= /usr/local
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
BASECF  := -std=gnu11 -fPIC $(WARN) -Iext
LIBS    := -lsodium -lxxhash
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

EXT_SRC := $(sort $(wildcard ext/*.c))
EXT_HDR := $(wildcard ext/*.h)
UNIT_SRC := $(sort $(wildcard test/unit/test_*.c))
TOOL_SRC := $(sort $(wildcard tools/*.c))

# Builds use every core (make test builds three variants before testing).
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)

B  ?= build
SAN ?=
ifeq ($(SAN),1)
  B := build-san
  CFLAGS := $(SANFLAGS)
  LDSAN := -fsanitize=address,undefined
endif

OBJ   := $(EXT_SRC:ext/%.c=$(B)/obj/%.o)
SOBJ  := $(EXT_SRC:ext/%.c=$(B)/sobj/%.o)
UNITS := $(UNIT_SRC:test/unit/%.c=$(B)/test/%)
TOOLS := $(TOOL_SRC:tools/%.c=$(B)/%)

DEB_PKGS := libsqlite3-dev libsodium-dev libxxhash-dev sqlite3 python3 graphviz valgrind clang gcc libc6-dev
DEPS_STAMP := .deps-ok

.PHONY: all deps test test-normal test-san demo demo-root bench fuzz fuzz-smoke soak valgrind install uninstall clean

all: deps $(B)/bec.so $(B)/libbec.a $(UNITS) $(TOOLS)

# --- dependencies -----------------------------------------------------------
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "bec: installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "bec: missing Debian packages:$$missing"; \
	    echo "bec: install them with:  sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

# --- the extension ----------------------------------------------------------
$(B)/obj/%.o: ext/%.c $(EXT_HDR) | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASECF) $(CFLAGS) -c $< -o $@

# The static library is built with SQLITE_CORE: direct calls, no routine table.
$(B)/sobj/%.o: ext/%.c $(EXT_HDR) | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASECF) $(CFLAGS) -DSQLITE_CORE -c $< -o $@

# Only the entry points are exported (ext/bec.map).  The soname bec.so lets
# ldconfig index the installed module under the name dlopen looks for when
# SQLite loads it by its short name (see install below).
$(B)/bec.so: $(OBJ) ext/bec.map
	$(CC) -shared $(LDSAN) -Wl,--version-script=ext/bec.map -Wl,-soname,bec.so \
	  -o $@ $(OBJ) $(LIBS)

$(B)/libbec.a: $(SOBJ)
	@rm -f $@
	ar rcs $@ $^

# C unit tests link the static library and SQLite itself.
$(B)/test/%: test/unit/%.c test/unit/bectest.h $(B)/libbec.a
	@mkdir -p $(dir $@)
	$(CC) $(BASECF) $(CFLAGS) -DSQLITE_CORE -DBEC_SRC_ROOT='"$(CURDIR)"' -Itest/unit $< -o $@ $(LDSAN) $(B)/libbec.a -lsqlite3 $(LIBS) -lpthread -lm

# test_kindtoy: the static library again with the toy kind's row compiled
# into BEC_KINDS, to show that a new kind needs no edit but its row.
TOYOBJ := $(EXT_SRC:ext/%.c=$(B)/toyobj/%.o)
$(B)/toyobj/%.o: ext/%.c $(EXT_HDR) | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASECF) $(CFLAGS) -DSQLITE_CORE -DBEC_TEST_TOY_KIND -c $< -o $@

$(B)/libbec-toy.a: $(TOYOBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/test/test_kindtoy: test/unit/test_kindtoy.c test/unit/test_kind.c test/unit/bectest.h $(B)/libbec-toy.a
	@mkdir -p $(dir $@)
	$(CC) $(BASECF) $(CFLAGS) -DSQLITE_CORE -DBEC_SRC_ROOT='"$(CURDIR)"' -DBEC_TEST_TOY_KIND -Itest/unit $< -o $@ $(LDSAN) $(B)/libbec-toy.a -lsqlite3 $(LIBS) -lpthread -lm

$(B)/%: tools/%.c tools/benchutil.h $(B)/libbec.a
	$(CC) $(BASECF) $(CFLAGS) -DSQLITE_CORE $< -o $@ $(LDSAN) $(B)/libbec.a -lsqlite3 $(LIBS) -lpthread -lm

# --- tests ------------------------------------------------------------------
test: all
	@bash test/all.sh

test-normal: all
	@bash test/run.sh build

test-san:
	@$(MAKE) --no-print-directory SAN=1 all
	@bash test/run.sh build-san

valgrind: all
	@bash test/run.sh build valgrind

# --- demo, benchmarks, fuzzing -----------------------------------------------
demo: all
	@bash sql/demo.sh

demo-root: all
	@bash sql/demo-root.sh

bench: all
	@bash tools/bench.sh

fuzz:
	@bash test/fuzz/run.sh $${FUZZ_SECONDS:-60}

soak: all
	@bash test/soak.sh

# make install: the loadable module, libbec.a, bec.h, bec.pc and the tools.
# SQLite loads `.load bec` by dlopen("bec") then dlopen("bec.so"), and dlopen
# finds a bare name only in the system directories or ldconfig's cache;
# ldconfig indexes only files named lib*.so*.  So the module is installed as
# libsqlite3-bec.so, whose soname is bec.so, beside a link bec.so to it, and
# ldconfig (run when installing for real: no DESTDIR, as root) caches it
# under bec.so: `.load bec` and load_extension('bec') then work from any
# directory when LIBDIR is on the linker's path (/usr/local/lib on Debian).
# LDCONFIG= skips it.  make uninstall removes exactly these files.
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
LDCONFIG   ?= ldconfig
BEC_VER     = $(shell sed -n 's/^\#define BEC_VERSION *"\(.*\)"/\1/p' ext/bec.h)
INST_TOOLS := $(notdir $(filter-out $(B)/bench_%,$(TOOLS)))
INST_FILES := $(LIBDIR)/libsqlite3-bec.so $(LIBDIR)/bec.so $(LIBDIR)/libbec.a \
              $(LIBDIR)/pkgconfig/bec.pc $(INCLUDEDIR)/bec.h $(addprefix $(BINDIR)/,$(INST_TOOLS))

define run_ldconfig
	$(if $(LDCONFIG),@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  $(LDCONFIG) || echo "bec: $(LDCONFIG) failed"; fi)
endef

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(B)/bec.so $(DESTDIR)$(LIBDIR)/libsqlite3-bec.so
	ln -sf libsqlite3-bec.so $(DESTDIR)$(LIBDIR)/bec.so
	install -m 0644 $(B)/libbec.a $(DESTDIR)$(LIBDIR)/libbec.a
	install -m 0644 ext/bec.h $(DESTDIR)$(INCLUDEDIR)/bec.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(BEC_VER)|' ext/bec.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/bec.pc
	chmod 0644 $(DESTDIR)$(LIBDIR)/pkgconfig/bec.pc
	for t in $(INST_TOOLS); do install -m 0755 $(B)/$$t $(DESTDIR)$(BINDIR)/; done
	$(run_ldconfig)
	@if [ -z "$(DESTDIR)" ] && [ -n "$(LDCONFIG)" ] && [ "$$(id -u)" = 0 ] && ! ldconfig -p 2>/dev/null | grep -q "=> $(LIBDIR)/bec.so$$"; then \
	  echo "bec: $(LIBDIR) is not on the dynamic linker's path: load bec by its full path"; \
	  echo "bec: ($(LIBDIR)/bec), or add $(LIBDIR) to /etc/ld.so.conf.d/ and run ldconfig"; fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INST_FILES))
	$(run_ldconfig)

clean:
	rm -rf build build-san
