#pragma once

/// @file
/// Reading HTTP field values (RFC 9110 §5.5, §5.6).

#include <string_view>

namespace pulsestream::http {

/// `value` without the optional whitespace (spaces and tabs) around it.
[[nodiscard]] constexpr std::string_view trim_ows(std::string_view value) noexcept {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    return value;
}

}  // namespace pulsestream::http
