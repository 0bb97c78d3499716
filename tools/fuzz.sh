#!/usr/bin/env bash
# Fuzzes the parsers with libFuzzer + ASan + UBSan: the event parsers (parse_events,
# parse_kafka_value, the consumer's canonical scanner) for two thirds of the time, the parsers at
# the edge (request heads, gzip bodies, stream query strings, stream messages) for the rest.
# Builds tests/fuzz (a standalone CMake project compiling the sources under test with clang++)
# into build/fuzz, runs each target on a copy of its corpus (tests/fuzz/corpus,
# tests/fuzz/corpus-edge), and exits non-zero when an input crashes or breaks an invariant. The
# failing input is kept in build/fuzz/crashes/: fix the bug, then copy the input into the
# target's corpus so that fuzz_corpus_test replays it forever.
# Usage: tools/fuzz.sh [seconds in all, default 60]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
if [[ ! $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 2 ]; then
    echo "usage: tools/fuzz.sh [seconds, at least 2]" >&2
    exit 2
fi
build="$root/build/fuzz"
cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build "$build" -j "$(nproc)"
mkdir -p "$build/crashes"

# fuzz TARGET CORPUS DICT SECONDS
fuzz() {
    local target=$1 corpus=$2 dict=$3 time=$4 status=0
    local work="$build/corpus-$target"
    rm -rf "$work"
    mkdir -p "$work"
    cp "$corpus"/* "$work/"
    "$build/$target" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 -dict="$dict" \
        -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 "$work" || status=$?
    if [[ $status -ne 0 ]]; then
        echo "fuzz.sh: $target found a failing input (exit $status); see $build/crashes/" >&2
        exit "$status"
    fi
}

event_seconds=$((seconds * 2 / 3))
fuzz event_parser_fuzz "$root/tests/fuzz/corpus" "$root/tests/fuzz/event.dict" "$event_seconds"
fuzz edge_parser_fuzz "$root/tests/fuzz/corpus-edge" "$root/tests/fuzz/edge.dict" \
    "$((seconds - event_seconds))"
echo "fuzz.sh: no failure in ${seconds}s"
