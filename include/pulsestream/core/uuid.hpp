#pragma once

/// @file
/// 128-bit UUIDs: strict parsing of the 8-4-4-4-12 hex form, canonical lower-case text,
/// name-based v5 ids (RFC 4122 §4.3, SHA-1) and random v4 ids from caller-supplied bits.
/// Everything here is pure and thread-safe.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pulsestream::core {

/// A UUID as its 16 bytes in network order. Value type; the default is the nil UUID.
struct uuid {
    std::array<std::uint8_t, 16> bytes{};

    friend auto operator<=>(const uuid&, const uuid&) = default;
    friend bool operator==(const uuid&, const uuid&) = default;

    /// The version nibble (4 for random, 5 for name-based, …).
    [[nodiscard]] constexpr unsigned version() const noexcept { return bytes[6] >> 4U; }
};

/// Parses exactly `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (36 characters, hex digits of either
/// case). Braces, URN prefixes, missing hyphens and surrounding spaces are rejected. Any
/// version and variant is accepted.
[[nodiscard]] std::optional<uuid> parse_uuid(std::string_view text) noexcept;

/// Canonical form: 36 characters, lower case.
[[nodiscard]] std::string to_string(const uuid& id);

/// Writes the canonical form into exactly 36 chars at `out` (no terminator); for hot paths that
/// build a larger string.
void write_uuid(const uuid& id, char* out) noexcept;

/// Name-based UUID version 5: SHA-1 over the namespace's bytes followed by `name`.
[[nodiscard]] uuid uuid_v5(const uuid& name_space, std::string_view name) noexcept;

/// The id of item `index` (0-based) of a batch without its own `id`:
/// `uuid_v5(idempotency_key, decimal(index))`, e.g. index 3 uses the name "3". A retried batch
/// (same Idempotency-Key) therefore gets the same ids, which lets storage deduplicate it.
[[nodiscard]] uuid batch_item_id(const uuid& idempotency_key, std::size_t index) noexcept;

/// A version 4 UUID from 128 caller-supplied random bits (`hi` gives bytes 0–7, `lo` 8–15); the
/// version and variant bits are overwritten.
[[nodiscard]] uuid random_uuid_v4(std::uint64_t hi, std::uint64_t lo) noexcept;

/// A version 4 UUID drawn from a uniform random bit generator (e.g. std::mt19937_64 seeded from
/// std::random_device). Not thread-safe with respect to `gen`.
template <class Urbg>
[[nodiscard]] uuid random_uuid_v4(Urbg& gen) {
    const auto draw64 = [&gen] {
        std::uint64_t v = 0;
        for (int bits = 0; bits < 64; bits += 32) {
            v = (v << 32U) | static_cast<std::uint32_t>(gen());
        }
        return v;
    };
    const std::uint64_t hi = draw64();
    return random_uuid_v4(hi, draw64());
}

/// Well-known namespaces of RFC 4122 appendix C.
inline constexpr uuid namespace_dns{{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4,
                                     0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};
inline constexpr uuid namespace_url{{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4,
                                     0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};

}  // namespace pulsestream::core

/// Hash for unordered containers (the bytes are already uniformly distributed for v4/v5).
template <>
struct std::hash<pulsestream::core::uuid> {
    std::size_t operator()(const pulsestream::core::uuid& id) const noexcept {
        std::uint64_t a = 0;
        std::uint64_t b = 0;
        for (std::size_t i = 0; i < 8; ++i) {
            a = (a << 8U) | id.bytes[i];
            b = (b << 8U) | id.bytes[i + 8];
        }
        return static_cast<std::size_t>(a ^ (b * 0x9E3779B97F4A7C15ULL));
    }
};
