#include "pulsestream/core/sha1.hpp"

#include "pulsestream/core/sha256.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace pulsestream::core::detail {

sha1_hasher::sha1_hasher() noexcept
    : state_{0x67452301U, 0xEFCDAB89U, 0x98BADCFEU, 0x10325476U, 0xC3D2E1F0U} {}

void sha1_hasher::compress(const std::uint8_t* block) noexcept {
    std::array<std::uint32_t, 80> w{};
    for (std::size_t t = 0; t < 16; ++t) {
        w[t] = (std::uint32_t{block[4 * t]} << 24U) | (std::uint32_t{block[4 * t + 1]} << 16U) |
               (std::uint32_t{block[4 * t + 2]} << 8U) | std::uint32_t{block[4 * t + 3]};
    }
    for (std::size_t t = 16; t < 80; ++t) {
        w[t] = std::rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    }
    auto [a, b, c, d, e] = state_;
    for (std::size_t t = 0; t < 80; ++t) {
        std::uint32_t f = 0;
        std::uint32_t k = 0;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999U;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1U;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCU;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6U;
        }
        const std::uint32_t temp = std::rotl(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = std::rotl(b, 30);
        b = a;
        a = temp;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
    state_[4] += e;
}

void sha1_hasher::update(std::string_view data) noexcept {
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
        compress(buffer_.data());
    }
    for (; n >= 64; n -= 64, p += 64) compress(p);
    if (n != 0) std::memcpy(buffer_.data(), p, n);
}

std::array<std::uint8_t, 20> sha1_hasher::finish() noexcept {
    const std::uint64_t bits = length_ * 8;
    std::size_t used = length_ % 64;
    buffer_[used++] = 0x80;
    if (used > 56) {
        std::fill(buffer_.begin() + static_cast<std::ptrdiff_t>(used), buffer_.end(), 0);
        compress(buffer_.data());
        used = 0;
    }
    std::fill(buffer_.begin() + static_cast<std::ptrdiff_t>(used), buffer_.begin() + 56, 0);
    for (std::size_t i = 0; i < 8; ++i) {
        buffer_[56 + i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
    }
    compress(buffer_.data());
    std::array<std::uint8_t, 20> out{};
    for (std::size_t i = 0; i < 5; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
            out[4 * i + j] = static_cast<std::uint8_t>(state_[i] >> (24 - 8 * j));
        }
    }
    return out;
}

}  // namespace pulsestream::core::detail

namespace pulsestream::core {

std::string sha1_hex(std::string_view data) {
    detail::sha1_hasher h;
    h.update(data);
    const auto digest = h.finish();
    return to_hex(digest);
}

}  // namespace pulsestream::core
