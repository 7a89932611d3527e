#!/usr/bin/env bash
# Sets up, builds and runs every test of authgate on Debian 12:
#   1. unit + integration tests (ctest), release build
#   2. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the libFuzzer targets, each for FUZZ_SECONDS (default 60)
#   4. the real-browser CORS test (Debian chromium driven by playwright-core)
# Exits non-zero on the first failure; ends with one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"

bash deploy/install-deps.sh test

passed=0
failed=0
run_ctest() {  # build-dir label
  local log
  log=$(mktemp)
  if (cd "$1" && ctest --output-on-failure -j"$jobs" --timeout 300) 2>&1 | tee "$log"; then :; else
    failed=$((failed + 1))
  fi
  local line
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1 || true)
  if [ -n "$line" ]; then
    local total fails
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<< "$line")
    fails=$(sed -E 's/.*, ([0-9]+) tests failed.*/\1/' <<< "$line")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
  fi
  rm -f "$log"
}

echo "== release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
run_ctest build

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTHGATE_SANITIZE=ON \
      -DAUTHGATE_BENCHMARKS=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan

echo "== fuzzing (${FUZZ_SECONDS}s per target)"
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTHGATE_FUZZ=ON \
      -DAUTHGATE_TESTS=OFF -DAUTHGATE_BENCHMARKS=OFF >/dev/null
fuzz_targets="fuzz_jwt_verify fuzz_jwks fuzz_request fuzz_parsers fuzz_h2"
# shellcheck disable=SC2086
cmake --build build-fuzz -j"$jobs" --target $fuzz_targets
for target in $fuzz_targets; do
  corpus="$root/tests/fuzz/corpus/${target#fuzz_}"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  # The HTTP dictionary serves both request-path targets (header names, framing, escapes).
  dict=()
  case "$target" in fuzz_request|fuzz_parsers) dict=(-dict="$root/tests/fuzz/request.dict") ;; esac
  # A crash input lands in build-fuzz/ (not the source tree); the log names it.
  if "build-fuzz/$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 "${dict[@]}" \
       -artifact_prefix="build-fuzz/$target-" "$work" >"build-fuzz/$target.log" 2>&1; then
    passed=$((passed + 1)); echo "$target: no crash in ${FUZZ_SECONDS}s"
  else
    failed=$((failed + 1)); grep -A40 "^=== fuzz_" "build-fuzz/$target.log" | head -40 || true
    tail -40 "build-fuzz/$target.log"; echo "$target: FAILED"
  fi
  rm -rf "$work"
done

if [ -x tests/browser/run.sh ]; then
  echo "== real-browser CORS test"
  if AUTHGATE_BUILD="$root/build" tests/browser/run.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

echo "authgate: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
