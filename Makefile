# Front door. The real build is CMake; this file only names the jobs.
#   make          release build into build/ (CLI at build/bin/reservoir)
#   make check    deps, then the test suite twice (release build, ASan+UBSan build), and the
#                 real-thread workloads under TSan
#   make demo     deps, build, run the main job (the allocator demo, then the scenario matrix)
#   make bench    build and run the benchmarks: bench/run.sh (allocators, real programs under
#                 each, mempool_alloc under pressure) writes bench/results/DATE.md and .png
#   make stress   SECONDS=N (default 60) of every allocator at once on real threads
#   make models   the mempool model checked with spin (part of make check)
#   make fuzz     SECONDS=N (default 60) of the libFuzzer harness (clang)
#   make format-check  the lines the last commit (or the uncommitted change) touched, against
#                 .clang-format and the 100-column limit (part of make check)
#   make install  PREFIX=DIR (default /usr/local; DESTDIR is honoured): headers, libreservoir.so
#                 and .a, the malloc drop-in, reservoir.pc, the CMake package, the command and
#                 the man pages
#   make clean

JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE    ?= cmake
WERROR   := $(if $(CI),ON,OFF)
CONFIG    = -DCMAKE_BUILD_TYPE=Release -DRSV_WERROR=$(WERROR)

.PHONY: all build install check check-release check-asan check-tsan models demo bench stress fuzz deps \
	format-check clean

SECONDS ?= 60

all: build

deps:
	@scripts/deps.sh

build:
	@$(CMAKE) -S . -B build $(CONFIG) >/dev/null
	@$(CMAKE) --build build -j $(JOBS)

build-asan/.configured:
	@$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRSV_SANITIZE=address \
		-DRSV_DEBUG=ON -DRSV_WERROR=$(WERROR) >/dev/null
	@touch $@

PREFIX ?= /usr/local

install: build
	@$(CMAKE) --install build --prefix $(PREFIX)

check: deps
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory check-release
	@$(MAKE) --no-print-directory check-asan
	@$(MAKE) --no-print-directory check-tsan
	@$(MAKE) --no-print-directory models
	@$(MAKE) --no-print-directory stress SECONDS=10
	@$(MAKE) --no-print-directory fuzz SECONDS=20

format-check:
	@scripts/format-check.sh

check-release: build
	@echo "== tests: release build =="
	@timeout 1200 build/tests/rsv_tests --jobs $(JOBS)
	@tests/check_exports.sh build/lib/libreservoir.so
	@tests/check_headers.sh
	@build/scripts/rsv_mkman check include/reservoir.h include/reservoir/*.h
	@tests/kernel/check_mismatches.sh
	@tests/cli_test.sh build/bin/reservoir
	@tests/check_install.sh build
	@tests/nbd_crypt_test.sh build
	@tests/dropin_test.sh build
	@build/examples/lost_wakeup && build/examples/lost_wakeup --fixed

check-asan: build-asan/.configured
	@$(CMAKE) --build build-asan -j $(JOBS)
	@echo "== tests: ASan+UBSan build =="
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		timeout 1800 build-asan/tests/rsv_tests --jobs $(JOBS)

build-tsan/.configured:
	@$(CMAKE) -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRSV_SANITIZE=thread \
		-DRSV_WERROR=OFF >/dev/null
	@touch $@

# TSan warns that it cannot model atomic_thread_fence (the mempool's ordering uses one), so
# this build does not take -Werror; its reports are what fail it.
check-tsan: build-tsan/.configured
	@$(CMAKE) --build build-tsan -j $(JOBS) --target reservoir_cli rsv_tsan_tests
	@echo "== tests on real threads under TSan (tests/tsan/: Criterion cannot run there) =="
	@TSAN_OPTIONS="halt_on_error=1 exitcode=66" timeout 900 build-tsan/tests/rsv_tsan_tests
	@echo "== workloads on real threads under TSan =="
	@timeout 900 tests/tsan_check.sh build-tsan/bin/reservoir 10

# The Promela model of mempool_alloc/free, checked with spin (models/run.sh).
models:
	@echo "== models (spin) =="
	@models/run.sh

demo: deps build
	@build/bin/reservoir demo
	@echo
	@echo "== the seed scenarios under every policy they read (100 seeds each; report/) =="
	@build/bin/reservoir matrix --seeds 100 --jobs $(JOBS) --out report

# libFuzzer needs clang; the harness is fuzz/fuzz_api.c, its corpus build-fuzz/corpus.
FUZZ_SRC = $(shell find src -name '*.c') fuzz/fuzz_api.c
build-fuzz/fuzz_api: $(FUZZ_SRC) $(shell find src include -name '*.h')
	@mkdir -p build-fuzz/corpus build-fuzz/generated
	@$(CMAKE) -DSRC=$(CURDIR) -DOUT=$(CURDIR)/build-fuzz/generated/build_id.h \
		-P scripts/build_id.cmake
	@clang -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-D_GNU_SOURCE -std=gnu11 -Iinclude -Isrc -Ibuild-fuzz/generated $(FUZZ_SRC) \
		-lpthread -o $@

fuzz: deps build-fuzz/fuzz_api
	@echo "== fuzz: $(SECONDS) s of API operation streams =="
	@build-fuzz/fuzz_api -max_total_time=$(SECONDS) -max_len=512 -print_final_stats=1 \
		-artifact_prefix=build-fuzz/ build-fuzz/corpus > build-fuzz/log 2>&1; status=$$?; \
		grep -E "^(stat::number_of_executed_units|Done)|ERROR|SUMMARY|Test unit written" \
		build-fuzz/log; exit $$status

stress: deps build
	@build/bin/reservoir stress --seconds $(SECONDS) --tasks $(JOBS)

bench: deps build
	@bench/run.sh build
	@build/bench/bench_page
	@bench/nbd_crypt.sh build

clean:
	rm -rf build build-asan build-tsan build-fuzz report
