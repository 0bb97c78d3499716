#!/usr/bin/env bash
# Fuzzes the event parsers (parse_events, parse_kafka_value) with libFuzzer + ASan + UBSan.
# Builds tests/fuzz (a standalone CMake project compiling the core sources with clang++) into
# build/fuzz, runs it for N seconds on a copy of tests/fuzz/corpus, and exits non-zero when an
# input crashes or breaks an invariant. The failing input is kept in build/fuzz/crashes/: fix the
# bug, then copy the input into tests/fuzz/corpus/ so that fuzz_corpus_test replays it forever.
# Usage: tools/fuzz.sh [seconds, default 60]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
if [[ ! $seconds =~ ^[0-9]+$ ]]; then
    echo "usage: tools/fuzz.sh [seconds]" >&2
    exit 2
fi
build="$root/build/fuzz"
cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build "$build" -j "$(nproc)"

work="$build/corpus"
rm -rf "$work"
mkdir -p "$work" "$build/crashes"
cp "$root"/tests/fuzz/corpus/* "$work/"

status=0
"$build/event_parser_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -dict="$root/tests/fuzz/event.dict" -artifact_prefix="$build/crashes/" -print_final_stats=1 \
    "$work" || status=$?
if [[ $status -ne 0 ]]; then
    echo "fuzz.sh: the fuzzer found a failing input (exit $status); see $build/crashes/" >&2
    exit "$status"
fi
echo "fuzz.sh: no failure in ${seconds}s"
