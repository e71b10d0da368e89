# skillcast — the two commands a new user types are `make demo` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
PORT       ?= 8080
# A test that fails is run once more before it counts: several assert real
# timings (lost within 1 s, HLS within 20 s) that a briefly starved 2-core
# machine can miss. A test that really fails, fails twice.
CTEST      = ctest --test-dir $(BUILD) --output-on-failure --timeout 300 --repeat until-pass:2

.PHONY: all build deps demo test test-unit test-asan bench soak fuzz fuzz-build fuzz-smoke package clean format

all: build

deps:
	bash scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: deps build
	./$(BUILD)/app/skillcast demo --port $(PORT)

# Everything but the long runs: unit, integration, fault and browser tests,
# then the same suite again under ASan+UBSan (LeakSanitizer on), then a
# short run of each fuzzer.
test: deps build
	$(CTEST) -LE 'soak|bench' -j 2
	$(MAKE) test-asan
	$(MAKE) fuzz-smoke

test-unit: build
	$(CTEST) -L unit

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSC_SANITIZE=ON

# The whole suite under ASan+UBSan: every binary the tests start (the node,
# the harnesses, the unit tests) is the sanitized build, leaks fail the test
# that exits with them. Tests see SC_SANITIZED=1: RSS-growth bounds are
# printed, not judged (the quarantine grows the RSS by design; the plain
# pass judges them), and the ingest and relay fault tests run 10 and 2
# kill/restart cycles instead of 50 and 5 (the plain pass runs them all).
# A small quarantine keeps the node's memory near normal.
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0:quarantine_size_mb=16 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 SC_FAULT_CYCLES=10 SC_RELAY_FAULT_CYCLES=2

test-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	$(ASAN_ENV) ctest --test-dir $(ASAN_BUILD) --output-on-failure --timeout 600 \
	  --repeat until-pass:2 -LE 'soak|bench' -j 2

# Fuzzing: each libFuzzer target for FUZZ_SECONDS (make fuzz), or briefly
# (make fuzz-smoke, part of make test). New inputs found go to build-fuzz/corpus.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 120
FUZZ_TARGETS = config events control http

$(FUZZ_BUILD)/CMakeCache.txt:
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSC_FUZZ=ON -DSC_WERROR=OFF

fuzz-build: $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

fuzz: deps fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  echo "=== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=detect_leaks=1 $(FUZZ_BUILD)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=65536 -rss_limit_mb=2048 $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=$(or $(SMOKE_SECONDS),15)

bench: deps build
	bash bench/run-all

soak: deps build
	$(CTEST) -L soak

# A .deb for the contest's servers: installed under /usr, pages from
# /usr/share/skillcast/web, systemd units, man page.
package: deps
	cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	  -DSC_WEB_DIR_DEFAULT=/usr/share/skillcast/web -DSC_TESTS=OFF
	cmake --build build-pkg -j $(JOBS)
	cd build-pkg && cpack -G DEB
	@ls -1 build-pkg/*.deb

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-pkg
