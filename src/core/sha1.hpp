#pragma once

// Private SHA-1 (FIPS 180-4), used only for name-based UUIDs (RFC 4122 v5), where it is mandated.
// Never use it for anything security-related.

#include <array>
#include <cstdint>
#include <string_view>

namespace pulsestream::core::detail {

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
