#include "pulsestream/core/uuid.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "pulsestream/core/sha1.hpp"

namespace pulsestream::core {
namespace {

// Nibble value of every byte, 0xFF for a byte that is not a hex digit: one load per digit
// instead of three range tests (parse_uuid runs three times per record in the consumer).
constexpr std::array<std::uint8_t, 256> hex_values = [] {
    std::array<std::uint8_t, 256> table{};
    table.fill(0xFF);
    const auto set_run = [&table](char first, char last, int value_of_first) {
        for (char c = first; c <= last; ++c) {
            table[static_cast<unsigned char>(c)] =
                static_cast<std::uint8_t>(value_of_first + c - first);
        }
    };
    set_run('0', '9', 0);
    set_run('a', 'f', 10);
    set_run('A', 'F', 10);
    return table;
}();

// Offsets of the 16 two-digit groups in the 8-4-4-4-12 form.
constexpr std::array<std::uint8_t, 16> byte_offsets{0,  2,  4,  6,  9,  11, 14, 16,
                                                    19, 21, 24, 26, 28, 30, 32, 34};

uuid with_version(uuid id, unsigned version) noexcept {
    id.bytes[6] = static_cast<std::uint8_t>((id.bytes[6] & 0x0FU) | (version << 4U));
    id.bytes[8] = static_cast<std::uint8_t>((id.bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
    return id;
}

}  // namespace

std::optional<uuid> parse_uuid(std::string_view text) noexcept {
    if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
        text[23] != '-') {
        return std::nullopt;
    }
    uuid id;
    unsigned bad = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        const std::uint8_t hi = hex_values[static_cast<unsigned char>(text[byte_offsets[i]])];
        const std::uint8_t lo = hex_values[static_cast<unsigned char>(text[byte_offsets[i] + 1])];
        bad |= hi | lo;
        id.bytes[i] = static_cast<std::uint8_t>((hi << 4U) | (lo & 0x0FU));
    }
    if ((bad & 0xF0U) != 0) return std::nullopt;
    return id;
}

void write_uuid(const uuid& id, char* out) noexcept {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::size_t pos = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[pos++] = '-';
        out[pos++] = digits[id.bytes[i] >> 4U];
        out[pos++] = digits[id.bytes[i] & 0xFU];
    }
}

std::string to_string(const uuid& id) {
    std::string out(36, '\0');
    write_uuid(id, out.data());
    return out;
}

uuid uuid_v5(const uuid& name_space, std::string_view name) noexcept {
    detail::sha1_hasher h;
    h.update(std::string_view(reinterpret_cast<const char*>(name_space.bytes.data()), 16));
    h.update(name);
    const auto digest = h.finish();
    uuid id;
    std::copy_n(digest.begin(), 16, id.bytes.begin());
    return with_version(id, 5);
}

uuid batch_item_id(const uuid& idempotency_key, std::size_t index) noexcept {
    std::array<char, 24> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), index);
    return uuid_v5(idempotency_key,
                   std::string_view(buf.data(), static_cast<std::size_t>(res.ptr - buf.data())));
}

uuid random_uuid_v4(std::uint64_t hi, std::uint64_t lo) noexcept {
    uuid id;
    for (std::size_t i = 0; i < 8; ++i) {
        id.bytes[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
        id.bytes[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
    }
    return with_version(id, 4);
}

}  // namespace pulsestream::core
