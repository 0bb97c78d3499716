#include "pulsestream/core/uuid.hpp"

#include <algorithm>
#include <charconv>

#include "pulsestream/core/sha1.hpp"

namespace pulsestream::core {
namespace {

constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr bool is_hyphen_position(std::size_t i) noexcept {
    return i == 8 || i == 13 || i == 18 || i == 23;
}

uuid with_version(uuid id, unsigned version) noexcept {
    id.bytes[6] = static_cast<std::uint8_t>((id.bytes[6] & 0x0FU) | (version << 4U));
    id.bytes[8] = static_cast<std::uint8_t>((id.bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
    return id;
}

}  // namespace

std::optional<uuid> parse_uuid(std::string_view text) noexcept {
    if (text.size() != 36) return std::nullopt;
    uuid id;
    std::size_t byte = 0;
    for (std::size_t i = 0; i < 36;) {
        if (is_hyphen_position(i)) {
            if (text[i] != '-') return std::nullopt;
            ++i;
            continue;
        }
        const int hi = hex_value(text[i]);
        const int lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        id.bytes[byte++] = static_cast<std::uint8_t>((hi << 4) | lo);
        i += 2;
    }
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
