// libFuzzer target for the event parsers; see event_parser_checks.hpp for the invariants.
// Build and run with tools/fuzz.sh.

#include "event_parser_checks.hpp"
#include "fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return pulsestream::fuzz::run_checks(data, size, &pulsestream::fuzz::check_input);
}
