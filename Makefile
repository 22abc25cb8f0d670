# bec - Byzantine-fault-tolerant collaboration inside SQLite.
#
#   make            build/bec.so (loadable extension), build/libbec.a, tools
#   make demo       the three-replica story (sql/ and tools/)
#   make test       every test, on a normal and an ASan+UBSan build
#   make bench      benchmarks (figures go to BENCH.md)
#   make fuzz       libFuzzer targets for FUZZ_SECONDS each
#   make soak       long seeded Byzantine simulation
#   make valgrind   the C unit tests under valgrind
#   make install    module, static library and header under PREFIX
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

.PHONY: all deps test test-normal test-san demo bench fuzz fuzz-smoke soak valgrind install clean

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
	$(CC) $(BASECF) $(CFLAGS) -DSQLITE_CORE -Itest/unit $< -o $@ $(LDSAN) $(B)/libbec.a -lsqlite3 $(LIBS) -lpthread -lm

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
	$(CC) $(BASECF) $(CFLAGS) -DSQLITE_CORE -DBEC_TEST_TOY_KIND -Itest/unit $< -o $@ $(LDSAN) $(B)/libbec-toy.a -lsqlite3 $(LIBS) -lpthread -lm

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

bench: all
	@bash tools/bench.sh

fuzz:
	@bash test/fuzz/run.sh $${FUZZ_SECONDS:-60}

soak: all
	@bash test/soak.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(B)/bec.so $(DESTDIR)$(PREFIX)/lib/bec.so
	install -m 0644 $(B)/libbec.a $(DESTDIR)$(PREFIX)/lib/libbec.a
	install -m 0644 ext/bec.h $(DESTDIR)$(PREFIX)/include/bec.h
	for t in $(filter-out $(B)/bench_%,$(TOOLS)); do install -m 0755 $$t $(DESTDIR)$(PREFIX)/bin/; done

clean:
	rm -rf build build-san
