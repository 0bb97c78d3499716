#pragma once

// Private text helpers shared by the core sources: UTF-8 measurement and JSON string output.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pulsestream::core::detail {

/// Code points in `s`, which must be valid UTF-8 (every non-continuation byte starts one).
[[nodiscard]] inline std::size_t code_points(std::string_view s) noexcept {
    std::size_t n = 0;
    for (const char c : s) {
        n += (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }
    return n;
}

/// True if valid UTF-8 `s` holds a C0 control (U+0000–U+001F), DEL (U+007F) or a C1 control
/// (U+0080–U+009F, encoded C2 80 … C2 9F).
[[nodiscard]] inline bool has_control(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20U || c == 0x7FU) return true;
        if (c == 0xC2U && i + 1 < s.size()) {
            const auto next = static_cast<unsigned char>(s[i + 1]);
            if (next >= 0x80U && next <= 0x9FU) return true;
        }
    }
    return false;
}

/// Length (1–4) of the well-formed UTF-8 sequence starting at `s[i]`, or 0 when it is not
/// well formed (overlong forms, surrogates and values above U+10FFFF are not).
[[nodiscard]] std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

/// True if all of `s` is well-formed UTF-8.
[[nodiscard]] bool is_valid_utf8(std::string_view s) noexcept;

/// Appends `s` as a quoted JSON string: `"` and `\` escaped, controls below U+0020 as
/// short escapes or \u00XX, other text as UTF-8; ill-formed bytes become U+FFFD.
void append_json_string(std::string& out, std::string_view s);

/// Appends a finite double in the shortest form that reads back to the same value; non-finite
/// values (which JSON cannot carry) become `null`.
void append_json_number(std::string& out, double v);

/// Appends a signed decimal integer.
void append_json_number(std::string& out, std::int64_t v);

}  // namespace pulsestream::core::detail
