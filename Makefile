# ngx_personalize: build, test, demo and benchmark.
#
#   make            the nginx module and the lmdb-tools, into $(BUILD)/
#   make test       install what is missing (as root), build, run every test
#   make demo       build, load the sample profiles, run the demo shop
#   make bench      benchmark against bare nginx and the peers
#   make asan       the test suite with the module built under AddressSanitizer
#
# NGINX_SRC names a configurable nginx tree; the default is the one that
# Debian's nginx-dev ships, configured with the flags of the stock nginx.

BUILD     ?= build
NGINX_SRC ?= /usr/share/nginx/src
NGINX_BIN ?= /usr/sbin/nginx
CC        ?= cc
# nginx's configure compiles with -O unless told otherwise, and Debian's
# conf_flags do not tell it (its own build adds -O2 through dpkg); the
# module's hot loops want -O2's inlining
MODOPT    ?= -O2
MODCFLAGS ?=

TOP       := $(CURDIR)
MODDIR    := ngx_personalize_module
MODULE    := $(BUILD)/ngx_http_personalize_module.so
MODSRCS   := $(wildcard $(MODDIR)/*.c $(MODDIR)/*.h) config

TOOLS     := pz-load pz-dump pz-get pz-stat pz-check pz-sign
TOOLBINS  := $(addprefix $(BUILD)/bin/,$(TOOLS))
TOOLCOMMON := $(wildcard lmdb-tools/pz_*.c lmdb-tools/pz_*.h) \
              $(MODDIR)/ngx_personalize_record.c \
              $(MODDIR)/ngx_personalize_record.h \
              $(MODDIR)/ngx_personalize_sign.c \
              $(MODDIR)/ngx_personalize_sign.h
# pz-load is split by concern: pz-load.c and its pz-load-*.c, pz-load.h
LOADSRCS  := $(wildcard lmdb-tools/pz-load-*.c) lmdb-tools/pz-load.h
# and its fast path for JSON lines, in C++ for simdjson (pz_json_fast.h)
LOADFAST  := $(BUILD)/obj/pz_json_fast.o
CXX       ?= g++
TOOLCFLAGS := -O2 -g -Wall -Wextra -Werror -I$(MODDIR) -Ilmdb-tools
TOOLLIBS  := -llmdb -ljansson -lcsv -lcrypto

DEB_PKGS  := nginx nginx-dev liblmdb-dev lmdb-utils libjansson-dev \
             libsimdjson-dev g++ libcsv-dev libssl-dev libpcre2-dev zlib1g-dev gcc make perl \
             clang-14 libclang-rt-14-dev curl chromium nodejs
# make bench also needs these (wrk, the Lua peer, perf for profiles)
BENCH_PKGS := wrk libnginx-mod-http-lua linux-perf

.PHONY: all module tools test unit prove asan fuzz demo bench deps clean e2e-deps

all: module tools

deps:
	@sh .ci/deps.sh $(DEB_PKGS)

module: $(MODULE)

$(BUILD)/nginx/objs/Makefile: config Makefile
	rm -rf $(BUILD)/nginx
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && \
	    if [ -f conf_flags ]; then . ./conf_flags; else NGX_CONF_FLAGS="--with-compat"; fi; \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --with-cc-opt="$(strip $(MODOPT) $(MODCFLAGS))" \
	        --add-dynamic-module=$(TOP) > configure.log || \
	    { cat configure.log; exit 1; }

# bash for the array in conf_flags
$(BUILD)/nginx/objs/Makefile: SHELL := /bin/bash

$(MODULE): $(BUILD)/nginx/objs/Makefile $(MODSRCS)
	$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules
	cp $(BUILD)/nginx/objs/ngx_http_personalize_module.so $@

tools: $(TOOLBINS)

$(BUILD)/bin/%: lmdb-tools/%.c $(TOOLCOMMON)
	@mkdir -p $(BUILD)/bin
	$(CC) $(TOOLCFLAGS) -o $@ $< $(filter %.c,$(TOOLCOMMON)) $(TOOLLIBS)

$(BUILD)/bin/pz-load: lmdb-tools/pz-load.c $(LOADSRCS) $(TOOLCOMMON) $(LOADFAST)
	@mkdir -p $(BUILD)/bin
	$(CC) $(TOOLCFLAGS) -o $@ $< $(filter %.c,$(LOADSRCS) $(TOOLCOMMON)) \
	    $(LOADFAST) $(TOOLLIBS) -lsimdjson -lstdc++

$(LOADFAST): lmdb-tools/pz_json_fast.cc lmdb-tools/pz_json_fast.h lmdb-tools/pz_tool.h
	@mkdir -p $(BUILD)/obj
	$(CXX) -std=c++17 $(TOOLCFLAGS) -c -o $@ $<

# C unit tests of the plain-C parts (record format, scanner, ...)
UNITS := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))

$(BUILD)/unit/test_%: t/unit/test_%.c t/unit/unit.h $(wildcard $(MODDIR)/ngx_personalize_*.[ch])
	@mkdir -p $(BUILD)/unit
	$(CC) -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
	    -I$(MODDIR) -It/unit -o $@ $< \
	    $(filter-out %.h,$(wildcard $(MODDIR)/ngx_personalize_*.c)) -lcrypto

# the fast JSON path of pz-load is C++ and lives with the tools
UNITS := $(filter-out %/test_json_fast,$(UNITS)) $(BUILD)/unit/test_json_fast

$(BUILD)/unit/test_json_fast: t/unit/test_json_fast.c t/unit/unit.h lmdb-tools/pz_json_fast.cc lmdb-tools/pz_json_fast.h $(TOOLCOMMON)
	@mkdir -p $(BUILD)/unit
	$(CXX) -std=c++17 -O1 -g -fsanitize=address,undefined -I$(MODDIR) \
	    -Ilmdb-tools -c -o $@.o lmdb-tools/pz_json_fast.cc
	$(CC) -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
	    -I$(MODDIR) -Ilmdb-tools -It/unit -o $@ $< $@.o \
	    $(filter %.c,$(TOOLCOMMON)) $(TOOLLIBS) -lsimdjson -lstdc++

unit: $(UNITS)
	@set -e; for u in $(UNITS); do echo "# $$u"; $$u; done

prove: all
	PZ_BUILD=$(TOP)/$(BUILD) PZ_NGINX=$(NGINX_BIN) prove -r -j2 t/

test: deps
	$(MAKE) all
	$(MAKE) e2e-deps
	$(MAKE) unit
	$(MAKE) prove
	$(MAKE) asan
	$(MAKE) fuzz FUZZ_SECONDS=20

# The browser test's driver (t/e2e): playwright-core from the lock file; it
# drives Debian's chromium, so no browser is downloaded.
e2e-deps: t/e2e/node_modules/.package-lock.json

t/e2e/node_modules/.package-lock.json: t/e2e/package.json t/e2e/package-lock.json
	@command -v npm >/dev/null || sh .ci/deps.sh npm
	cd t/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund

# The demo shop in the foreground on 127.0.0.1:$(DEMO_PORT); Ctrl-C stops it.
DEMO_PORT ?= 8080

demo: deps
	$(MAKE) all
	DEMO_PORT=$(DEMO_PORT) NGINX_BIN=$(NGINX_BIN) sh conf/demo/run.sh $(BUILD)

# The benchmark (bench/bench.pl; BENCH_* variables make a quick run).
bench: deps
	@sh .ci/deps.sh $(BENCH_PKGS)
	$(MAKE) all $(BUILD)/bench/scan-bench
	BUILD=$(BUILD) NGINX_BIN=$(NGINX_BIN) perl bench/bench.pl

# the scanner alone, in CPU time (bench/scan-bench.c)
$(BUILD)/bench/scan-bench: bench/scan-bench.c ngx_personalize_module/ngx_personalize_scan.c ngx_personalize_module/ngx_personalize_scan.h
	@mkdir -p $(BUILD)/bench
	$(CC) -O2 -g -Wall -Wextra -Ingx_personalize_module -o $@ bench/scan-bench.c ngx_personalize_module/ngx_personalize_scan.c

# The same Perl suite with the module under AddressSanitizer: the stock
# nginx binary runs with the ASan runtime preloaded.  The tools are built
# with ASan and UBSan themselves.
TOOLSAN := -fsanitize=address,undefined -fno-omit-frame-pointer
asan:
	$(MAKE) BUILD=build-asan MODCFLAGS="-fsanitize=address -fno-omit-frame-pointer" \
	    TOOLCFLAGS="$(TOOLCFLAGS) $(TOOLSAN)" CXX="$(CXX) $(TOOLSAN)" module tools
	PZ_BUILD=$(TOP)/build-asan PZ_NGINX=$(NGINX_BIN) \
	    PZ_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
	    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	    prove -r -j2 t/

FUZZ_SECONDS ?= 60
FUZZERS := $(patsubst t/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard t/fuzz/fuzz_*.c))

$(BUILD)/fuzz/fuzz_%: t/fuzz/fuzz_%.c $(wildcard $(MODDIR)/ngx_personalize_*.[ch])
	@mkdir -p $(BUILD)/fuzz
	clang-14 -O1 -g -fsanitize=fuzzer,address,undefined -I$(MODDIR) -o $@ $< \
	    $(filter-out %.h,$(wildcard $(MODDIR)/ngx_personalize_*.c)) -lcrypto

# pz-load's fast JSON path against the jansson path (pz_json_fast.h): it
# links the tools' C and C++, not only the module's plain C
FUZZFLAGS := -O1 -g -fsanitize=address,undefined -I$(MODDIR) -Ilmdb-tools

$(BUILD)/fuzz/fuzz_json_fast: t/fuzz/fuzz_json_fast.c lmdb-tools/pz_json_fast.cc lmdb-tools/pz_json_fast.h $(TOOLCOMMON)
	@mkdir -p $(BUILD)/fuzz
	clang++-14 -std=c++17 $(FUZZFLAGS) -fno-sanitize=vptr \
	    -fsanitize=fuzzer-no-link -c \
	    -o $@.o lmdb-tools/pz_json_fast.cc
	clang-14 $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $< $@.o \
	    $(filter %.c,$(TOOLCOMMON)) $(TOOLLIBS) -lsimdjson -lstdc++

# a target's seeds, if any, are in t/fuzz/seed-<name>
fuzz: $(FUZZERS)
	@set -e; for f in $(FUZZERS); do \
	    n=$$(basename $$f); echo "# $$f for $(FUZZ_SECONDS)s"; \
	    mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	        $(BUILD)/fuzz/corpus-$$n \
	        $$(ls -d t/fuzz/seed-$${n#fuzz_} 2>/dev/null) > $$f.log 2>&1 || \
	        { tail -n 40 $$f.log; echo "# $$f FAILED"; exit 1; }; \
	    tail -n 2 $$f.log; \
	done

clean:
	rm -rf build build-asan
