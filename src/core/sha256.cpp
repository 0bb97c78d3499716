#include "pulsestream/core/sha256.hpp"

#include <algorithm>
#include <cstring>

#include "pulsestream/core/sha256_blocks.hpp"

namespace pulsestream::core {

sha256_hasher::sha256_hasher() noexcept
    : state_{0x6a09e667U, 0xbb67ae85U, 0x3c6ef372U, 0xa54ff53aU,
             0x510e527fU, 0x9b05688cU, 0x1f83d9abU, 0x5be0cd19U} {}

void sha256_hasher::update(std::string_view data) noexcept {
    const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
    std::size_t n = data.size();
    std::size_t used = length_ % 64;
    length_ += n;
    if (used != 0) {
        const std::size_t take = std::min(n, 64 - used);
        std::memcpy(buffer_.data() + used, p, take);
        p += take;
        n -= take;
        used += take;
        if (used < 64) return;
        sha256_blocks(state_, buffer_.data(), 1);
    }
    const std::size_t whole_blocks = n / 64;
    sha256_blocks(state_, p, whole_blocks);
    p += whole_blocks * 64;
    n -= whole_blocks * 64;
    if (n != 0) std::memcpy(buffer_.data(), p, n);
}

sha256_digest sha256_hasher::finish() noexcept {
    const std::uint64_t bits = length_ * 8;
    std::size_t used = length_ % 64;
    buffer_[used++] = 0x80;
    if (used > 56) {
        std::fill(buffer_.begin() + static_cast<std::ptrdiff_t>(used), buffer_.end(), 0);
        sha256_blocks(state_, buffer_.data(), 1);
        used = 0;
    }
    std::fill(buffer_.begin() + static_cast<std::ptrdiff_t>(used), buffer_.begin() + 56, 0);
    for (std::size_t i = 0; i < 8; ++i) {
        buffer_[56 + i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
    }
    sha256_blocks(state_, buffer_.data(), 1);
    sha256_digest out{};
    for (std::size_t i = 0; i < 8; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
            out[4 * i + j] = static_cast<std::uint8_t>(state_[i] >> (24 - 8 * j));
        }
    }
    return out;
}

sha256_digest sha256(std::string_view data) noexcept {
    sha256_hasher h;
    h.update(data);
    return h.finish();
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out(bytes.size() * 2, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        out[2 * i] = digits[bytes[i] >> 4U];
        out[2 * i + 1] = digits[bytes[i] & 0xFU];
    }
    return out;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

std::string body_fingerprint(std::string_view decompressed_body) {
    return sha256_hex(decompressed_body);
}

std::string api_key_hash(std::string_view raw_key) { return sha256_hex(raw_key); }

}  // namespace pulsestream::core
