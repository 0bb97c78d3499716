#include "support/services.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace pulsestream::test_support {

bool running_in_ci() {
    const char* ci = std::getenv("CI");
    if (ci == nullptr) {
        return false;
    }
    std::string value(ci);
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return value == "true" || value == "1";
}

std::string missing_service_message(std::string_view what) {
    return std::string(what) +
           " is not installed; install it with tools/install-deps (Debian bookworm packages)";
}

bool service_gate::require(bool available, std::string_view what) {
    if (available) {
        return true;
    }
    if (running_in_ci()) {
        ADD_FAILURE() << missing_service_message(what) << " (CI=true: missing services fail)";
    } else if (skip_reason_.empty()) {
        skip_reason_ = missing_service_message(what);
    } else {
        skip_reason_ += "; " + missing_service_message(what);
    }
    return false;
}

}  // namespace pulsestream::test_support
