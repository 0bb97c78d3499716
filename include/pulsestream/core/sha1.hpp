#pragma once

/// @file
/// SHA-1 (FIPS 180-4), only where a protocol mandates it: name-based UUIDs (RFC 4122 v5) and
/// the digests Redis names its cached Lua scripts by (EVALSHA). Never for anything
/// security-related.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace pulsestream::core {

/// Lower-case hex of SHA-1 of `data` (40 characters).
[[nodiscard]] std::string sha1_hex(std::string_view data);

}  // namespace pulsestream::core

namespace pulsestream::core::detail {

/// Incremental SHA-1; `finish()` once, then the object must not be used. Not thread-safe.

class sha1_hasher {
public:
    sha1_hasher() noexcept;
    void update(std::string_view data) noexcept;
    [[nodiscard]] std::array<std::uint8_t, 20> finish() noexcept;

private:
    void compress(const std::uint8_t* block) noexcept;

    std::array<std::uint32_t, 5> state_;
    std::array<std::uint8_t, 64> buffer_{};
    std::uint64_t length_ = 0;  // bytes hashed so far
};

}  // namespace pulsestream::core::detail
