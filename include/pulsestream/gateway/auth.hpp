#pragma once

/// @file
/// API key authentication (DESIGN.md §3 "Auth", §9 defect 6, §10): the key is hashed (SHA-256)
/// at once and only the hash is ever used as a cache key or query parameter. Lookups go
/// in-process cache → Redis read-through cache `auth:{sha256}` → PostgreSQL on its own threads,
/// and unknown keys are cached negative, so unknown keys never hit PostgreSQL on every request.

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <memory>
#include <cstdint>
#include <optional>
#include <string_view>

#include "pulsestream/core/uuid.hpp"

namespace pulsestream::metrics {
class gateway_metrics;
}
namespace pulsestream::pg {
class blocking_pool;
}

namespace pulsestream::gateway {

class redis_clients;

/// The tenant a valid, active key belongs to.
struct client_identity {
    core::uuid id;
    /// Events per second allowed for this client; empty: the gateway's RATE_LIMIT_PER_KEY.
    std::optional<std::uint32_t> rate_limit_per_sec;

    friend bool operator==(const client_identity&, const client_identity&) = default;
};

struct auth_options {
    std::chrono::seconds cache_ttl{300};    ///< AUTH_CACHE_TTL_S: Redis and in-process, known keys
    std::chrono::seconds negative_ttl{30};  ///< AUTH_NEGATIVE_TTL_S: unknown keys
    std::chrono::milliseconds redis_deadline{100};  ///< per Redis command
    std::chrono::milliseconds database_deadline{2000};  ///< waiting for PostgreSQL, queue included
    std::size_t process_cache_capacity = 100'000;  ///< entries; bounded memory under key spraying
};

/// Thread-safe; authenticate() may run concurrently on every io thread.
class authenticator {
public:
    /// All references must outlive the authenticator.
    authenticator(auth_options options, redis_clients& redis, pg::blocking_pool& database,
                  metrics::gateway_metrics& metrics);
    ~authenticator();
    authenticator(const authenticator&) = delete;
    authenticator& operator=(const authenticator&) = delete;

    /// The client of `api_key` (the raw header value).
    /// Errors (core::errc): invalid_api_key (unknown), api_key_deactivated, auth_unavailable
    /// (neither Redis nor PostgreSQL could answer in time and the key is not cached in-process).
    /// Redis trouble alone never fails a request: it falls through to PostgreSQL (fail open).
    /// Completes on the awaiting coroutine's executor.
    boost::asio::awaitable<boost::system::result<client_identity>> authenticate(
        std::string_view api_key);

    /// Forgets a key everywhere in this process (called for every `auth:invalidate` message,
    /// whose payload is the key's SHA-256 hex). The Redis entry is the key tool's to delete.
    void invalidate(std::string_view key_sha256_hex);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace pulsestream::gateway
