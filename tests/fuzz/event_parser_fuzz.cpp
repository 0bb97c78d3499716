// libFuzzer target for the event parsers; see event_parser_checks.hpp for the invariants.
// Build and run with tools/fuzz.sh.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "event_parser_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    pulsestream::fuzz::check_input(input, [](const std::string& what) {
        std::fprintf(stderr, "invariant violated: %s\n", what.c_str());
        std::abort();
    });
    return 0;
}
