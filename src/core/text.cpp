#include "text.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace pulsestream::core::detail {

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const auto cont = [&](std::size_t k) { return k < s.size() && (byte(k) & 0xC0U) == 0x80U; };
    const unsigned char c = byte(i);
    if (c < 0x80U) return 1;
    if (c < 0xC2U) return 0;  // stray continuation byte, or overlong C0/C1 lead
    if (c < 0xE0U) return cont(i + 1) ? 2 : 0;
    if (c < 0xF0U) {
        if (!cont(i + 1) || !cont(i + 2)) return 0;
        const unsigned char c1 = byte(i + 1);
        if (c == 0xE0U && c1 < 0xA0U) return 0;   // overlong
        if (c == 0xEDU && c1 >= 0xA0U) return 0;  // UTF-16 surrogate
        return 3;
    }
    if (c < 0xF5U) {
        if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
        const unsigned char c1 = byte(i + 1);
        if (c == 0xF0U && c1 < 0x90U) return 0;   // overlong
        if (c == 0xF4U && c1 >= 0x90U) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

bool is_valid_utf8(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

void append_json_string(std::string& out, std::string_view s) {
    static constexpr std::string_view hex = "0123456789abcdef";
    out.push_back('"');
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20U && c < 0x80U && c != '"' && c != '\\') {
            // Copy the run of plain ASCII in one go: the common case for event JSON.
            std::size_t j = i + 1;
            while (j < s.size()) {
                const auto d = static_cast<unsigned char>(s[j]);
                if (d < 0x20U || d >= 0x80U || d == '"' || d == '\\') break;
                ++j;
            }
            out.append(s.substr(i, j - i));
            i = j;
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; ++i; continue;
            case '\\': out += "\\\\"; ++i; continue;
            case '\b': out += "\\b"; ++i; continue;
            case '\f': out += "\\f"; ++i; continue;
            case '\n': out += "\\n"; ++i; continue;
            case '\r': out += "\\r"; ++i; continue;
            case '\t': out += "\\t"; ++i; continue;
            default: break;
        }
        if (c < 0x20U) {
            out += "\\u00";
            out.push_back(hex[c >> 4U]);
            out.push_back(hex[c & 0xFU]);
            ++i;
            continue;
        }
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    out.push_back('"');
}

void append_json_number(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    std::array<char, 32> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    out.append(buf.data(), res.ptr);
}

void append_json_number(std::string& out, std::int64_t v) {
    std::array<char, 24> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    out.append(buf.data(), res.ptr);
}

}  // namespace pulsestream::core::detail
