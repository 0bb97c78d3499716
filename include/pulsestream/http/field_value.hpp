#pragma once

/// @file
/// Reading HTTP field values (RFC 9110 §5.5, §5.6).

#include <string_view>

namespace pulsestream::http {

/// `value` without the optional whitespace (spaces and tabs) around it.
[[nodiscard]] constexpr std::string_view trim_ows(std::string_view value) noexcept {
    const auto is_ows = [](char c) { return c == ' ' || c == '\t'; };
    while (!value.empty() && is_ows(value.front())) value.remove_prefix(1);
    while (!value.empty() && is_ows(value.back())) value.remove_suffix(1);
    return value;
}

}  // namespace pulsestream::http
