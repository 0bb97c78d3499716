#pragma once

/// @file
/// Per-client token buckets (DESIGN.md §10): the rate is the client's `rate_limit_per_sec` or
/// else RATE_LIMIT_PER_KEY (0 = off); capacity is one second of the rate; a batch of N events
/// costs N tokens. Buckets live in this gateway process.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "pulsestream/core/uuid.hpp"

namespace pulsestream::gateway {

/// Thread-safe.
class rate_limiter {
public:
    using clock = std::chrono::steady_clock;

    /// `default_per_sec` 0 means no limit for clients without their own.
    explicit rate_limiter(std::uint32_t default_per_sec, std::size_t max_clients = 100'000);
    ~rate_limiter();
    rate_limiter(const rate_limiter&) = delete;
    rate_limiter& operator=(const rate_limiter&) = delete;

    /// Takes `cost` tokens from `client`'s bucket. Returns 0 when allowed; otherwise the whole
    /// seconds (at least 1) until the bucket will hold `cost` tokens, for Retry-After. A batch
    /// costing more than the capacity is allowed when the bucket is full and leaves it in debt,
    /// so it is never refused forever.
    [[nodiscard]] unsigned try_take(const core::uuid& client,
                                    std::optional<std::uint32_t> client_rate, std::size_t cost,
                                    clock::time_point now = clock::now());

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace pulsestream::gateway
