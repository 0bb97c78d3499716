#pragma once

/// @file
/// SHA-256 (FIPS 180-4), self-contained so the core needs no OpenSSL (the block function uses
/// the CPU's SHA instructions where it has them: sha256_blocks.hpp). Used for API-key hashes
/// (the `clients.api_key_hash` column and the `auth:{sha256}` cache keys) and for the request
/// body fingerprint of the idempotency layer.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "pulsestream/core/sha256_blocks.hpp"

namespace pulsestream::core {

using sha256_digest = std::array<std::uint8_t, 32>;

/// Incremental SHA-256 (e.g. over a body as it is decompressed). Not thread-safe; `finish()`
/// may be called once, after which the object must not be used.
class sha256_hasher {
public:
    sha256_hasher() noexcept;
    void update(std::string_view data) noexcept;
    [[nodiscard]] sha256_digest finish() noexcept;

private:
    sha256_state state_;
    std::array<std::uint8_t, 64> buffer_{};
    std::uint64_t length_ = 0;  // bytes hashed so far
};

/// SHA-256 of `data`.
[[nodiscard]] sha256_digest sha256(std::string_view data) noexcept;

/// Lower-case hex of SHA-256 of `data` (64 characters).
[[nodiscard]] std::string sha256_hex(std::string_view data);

/// Lower-case hex of arbitrary bytes.
[[nodiscard]] std::string to_hex(std::span<const std::uint8_t> bytes);

/// The idempotency fingerprint of a request: sha256_hex of the *decompressed* body bytes, so the
/// same JSON sent gzipped and plain matches, while re-ordered or re-spaced JSON does not.
[[nodiscard]] std::string body_fingerprint(std::string_view decompressed_body);

/// How an API key is stored and cached: sha256_hex of the raw key (never the key itself).
[[nodiscard]] std::string api_key_hash(std::string_view raw_key);

}  // namespace pulsestream::core
