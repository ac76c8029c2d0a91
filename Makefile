# Bourse build. `make` builds ./build/bourse; `make test` installs what is missing and runs
# every test (the README's test command); `make check` runs only unit and end-to-end tests.
#
# SANITIZE=address,undefined builds into build/san with the sanitizers on.

CC ?= gcc
MODULES := util core store tlog clearing pricing delivery http cli
PKGS := libh2o-evloop jansson libsodium sqlite3 libcurl libpq

ifeq ($(SANITIZE),)
BUILD ?= build
SANFLAGS :=
else
BUILD ?= build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wwrite-strings \
        -fno-common -Wshadow -Wformat=2
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lssl -lcrypto -lz -lpthread -lm
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(SANFLAGS) -Isrc -DH2O_USE_LIBUV=0 $(PKG_CFLAGS) -MMD -MP
TEST_CFLAGS = $(ALL_CFLAGS) -DBOURSE_TEST

SRCS := $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))
OBJS := $(SRCS:%.c=$(BUILD)/obj/%.o)
TOBJS := $(SRCS:%.c=$(BUILD)/tobj/%.o)
UNIT_SRCS := $(wildcard tests/unit/*_test.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)

.SECONDARY: $(OBJS) $(TOBJS)

.PHONY: all deps test check unit e2e fuzz fuzz-smoke format format-check tidy valgrind run clean bench

all: $(BUILD)/bourse

$(BUILD)/bourse: $(OBJS) $(BUILD)/obj/src/main.o
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tobj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC test $<"
	@$(CC) $(TEST_CFLAGS) -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(TOBJS)
	@mkdir -p $(dir $@)
	@echo "  LD test $@"
	@$(CC) $(TEST_CFLAGS) -o $@ $< $(TOBJS) $(PKG_LIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $< $(OBJS) $(PKG_LIBS)

# Installs the Debian packages the build and the tests need, if any is missing.
deps:
	@./scripts/deps.sh

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "# $$t"; $$t; done

e2e: $(BUILD)/bourse
	BOURSE_BIN=$(abspath $(BUILD)/bourse) prove -j2 tests/e2e/

# The same suites on PostgreSQL: a private cluster (scripts/pg.sh) in $(PG_DIR), stopped
# afterwards whatever happens; the status is the tests'.
.PHONY: e2e-pg unit-pg
PG_DIR := build/pg
PG_RUN = url=$$(./scripts/pg.sh start $(PG_DIR)) || exit 1; \
	trap './scripts/pg.sh stop $(PG_DIR)' EXIT; trap 'exit 130' INT TERM;

e2e-pg: $(BUILD)/bourse
	@$(PG_RUN) BOURSE_TEST_PG=1 BOURSE_TEST_PG_URL=$$url \
	  BOURSE_BIN=$(abspath $(BUILD)/bourse) prove -j2 tests/e2e/

unit-pg: $(UNIT_BINS)
	@$(PG_RUN) BOURSE_TEST_PG_URL=$$url $(MAKE) --no-print-directory unit

# Each fuzz target is built with clang's libFuzzer and run briefly over its corpus.
FUZZ_BUILD := build/fuzz
FUZZ_SRCS_LIB := $(filter-out src/http/server.c src/http/serve.c src/http/pool.c,$(SRCS))
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_SRCS_LIB)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -DBOURSE_TEST \
	  -DH2O_USE_LIBUV=0 $(PKG_CFLAGS) -o $@ $< $(FUZZ_SRCS_LIB) $(PKG_LIBS)

fuzz-smoke: $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
	@set -e; for t in $^; do n=$$(basename $$t); mkdir -p build/fuzz/work-$$n; \
	  echo "# fuzz $$n"; $$t -max_total_time=$${FUZZ_SECONDS:-10} -rss_limit_mb=2048 \
	  build/fuzz/work-$$n tests/fuzz/corpus/$$n 2>&1 | tail -n 2; done

check: unit e2e

test: deps
	$(MAKE) all
	$(MAKE) format-check
	$(MAKE) check
	$(MAKE) e2e-pg
	$(MAKE) unit-pg
	$(MAKE) fuzz-smoke
	$(MAKE) SANITIZE=address,undefined check

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h' | grep -v '^tests/e2e/') && echo "format: clean"

tidy:
	clang-tidy $(filter-out %.h,$(SRCS)) -- -std=c11 -Isrc -DH2O_USE_LIBUV=0 $(PKG_CFLAGS)

valgrind: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do valgrind -q --error-exitcode=1 --leak-check=full $$t; done

run: deps
	$(MAKE) all
	./scripts/run.sh

bench: all
	@for b in bench/*.sh; do echo "== $$b"; $$b; done

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(TOBJS:.o=.d)
