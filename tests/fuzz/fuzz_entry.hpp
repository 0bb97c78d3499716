#pragma once

// What every libFuzzer target does with an input: run its invariant checks, and abort (which
// libFuzzer reports with the input saved) on the first violation.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

namespace pulsestream::fuzz {

using check_fn = void (*)(std::string_view input,
                          const std::function<void(const std::string& what)>& fail);

inline int run_checks(const std::uint8_t* data, std::size_t size, check_fn check) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check(input, [](const std::string& what) {
        std::fprintf(stderr, "invariant violated: %s\n", what.c_str());
        std::abort();
    });
    return 0;
}

}  // namespace pulsestream::fuzz
