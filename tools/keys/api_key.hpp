#pragma once

/// @file
/// How `pulsestream-keys` makes API keys and the part of a key it keeps in clear.

#include <cstddef>
#include <string>
#include <string_view>

namespace pulsestream::keys {

/// Every key starts with this (the development key of schema.sql too).
inline constexpr std::string_view key_scheme = "ps_live_";
/// Random base62 characters after the scheme: 32 of them carry about 190 bits.
inline constexpr std::size_t key_random_chars = 32;
/// Characters of a key stored in `clients.api_key_prefix`: the scheme and the first 8 random
/// characters, enough to tell keys apart in listings while 24 random characters stay secret.
inline constexpr std::size_t key_prefix_chars = key_scheme.size() + 8;

/// A new key, `ps_live_` + 32 base62 characters drawn without bias from the kernel's random
/// pool (getrandom(2), the pool behind /dev/urandom). Throws std::system_error when the kernel
/// gives no randomness. Thread-safe.
[[nodiscard]] std::string generate_api_key();

/// The first key_prefix_chars characters of `key` (all of it when shorter).
[[nodiscard]] std::string key_prefix(std::string_view key);

}  // namespace pulsestream::keys
