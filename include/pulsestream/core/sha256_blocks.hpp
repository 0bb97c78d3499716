#pragma once

/// @file
/// The SHA-256 compression function (FIPS 180-4 §6.2.2) over whole 64-byte blocks, in two
/// implementations: portable C++ and the x86 SHA extensions (SHA-NI), chosen once at run time.
/// The hasher in sha256.hpp uses sha256_blocks(); both implementations are public so that a test
/// can hold one against the other.

#include <array>
#include <cstddef>
#include <cstdint>

namespace pulsestream::core {

using sha256_state = std::array<std::uint32_t, 8>;

/// Compresses `blocks` consecutive 64-byte blocks at `data` into `state`, with the fastest
/// implementation this CPU runs.
void sha256_blocks(sha256_state& state, const std::uint8_t* data, std::size_t blocks) noexcept;

/// Portable implementation; runs everywhere.
void sha256_blocks_portable(sha256_state& state, const std::uint8_t* data,
                            std::size_t blocks) noexcept;

/// True when the CPU has the SHA extensions (and SSE4.1) that sha256_blocks_sha_ni() needs.
/// Always false on other architectures.
[[nodiscard]] bool cpu_has_sha_ni() noexcept;

/// SHA-NI implementation. Call only when cpu_has_sha_ni(); on other architectures it is the
/// portable one.
void sha256_blocks_sha_ni(sha256_state& state, const std::uint8_t* data,
                          std::size_t blocks) noexcept;

}  // namespace pulsestream::core
