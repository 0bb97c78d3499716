#pragma once

/// @file
/// The Java client's default key partitioner, so that tests (and tools) can predict where a key
/// lands. librdkafka's `murmur2_random` partitioner maps a non-null key the same way; a null key
/// goes to a random available partition instead.

#include <cstdint>
#include <string_view>

namespace pulsestream::kafka {

/// Kafka's `Utils.murmur2(byte[])` (seed 0x9747b28c) over the bytes of `data`, as the signed
/// 32-bit value the Java client returns. Pure; thread-safe.
[[nodiscard]] std::int32_t murmur2(std::string_view data) noexcept;

/// The partition the Java producer's default partitioner picks for a non-null `key`:
/// `Utils.toPositive(Utils.murmur2(key)) % partition_count`. Returns -1 when
/// `partition_count` is not positive. Pure; thread-safe.
[[nodiscard]] int partition_for_key(std::string_view key, int partition_count) noexcept;

}  // namespace pulsestream::kafka
