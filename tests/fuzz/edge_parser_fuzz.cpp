// libFuzzer target for the parsers at the edge: request heads, gzip bodies, stream queries,
// stream messages; see edge_parser_checks.hpp for the invariants. Build and run with tools/fuzz.sh.

#include "edge_parser_checks.hpp"
#include "fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return pulsestream::fuzz::run_checks(data, size, &pulsestream::fuzz::edge::check_input);
}
