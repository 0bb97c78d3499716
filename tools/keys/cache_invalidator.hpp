#pragma once

/// @file
/// Tells running gateways that cached answers about some keys are wrong (DESIGN.md §10 "Key
/// revocation"): for each key hash, `DEL auth:{hash}` (the shared Redis cache) and
/// `PUBLISH auth:invalidate {hash}` (every gateway drops it from its own cache), then, after a
/// settle delay, `DEL auth:{hash}` once more. The second DEL removes an old answer that a gateway
/// whose PostgreSQL lookup started before the change wrote back after the first DEL.

#include <chrono>
#include <string>
#include <vector>

namespace pulsestream::keys {

/// What happened on Redis.
struct invalidation_report {
    bool delivered = false;     ///< every DEL and PUBLISH was answered
    long long subscribers = 0;  ///< fewest receivers of one PUBLISH (gateways listening)
    std::string error;          ///< why not delivered
};

/// Synchronous hiredis client; one short connection per step. Not thread-safe.
class cache_invalidator {
public:
    /// `redis_url` as REDIS_URL (redis://[[user]:password@]host[:port][/db]); `timeout` bounds
    /// connecting and every command. Throws std::invalid_argument for a malformed URL.
    cache_invalidator(std::string redis_url, std::chrono::milliseconds timeout);

    /// DEL + PUBLISH for every hash, then waits `settle` and DELs again (skipped when zero).
    /// Never throws for Redis trouble: the report says what failed.
    invalidation_report invalidate(const std::vector<std::string>& key_hashes,
                                   std::chrono::milliseconds settle);

private:
    invalidation_report publish(const std::vector<std::string>& key_hashes);
    invalidation_report delete_again(const std::vector<std::string>& key_hashes);

    std::string url_;
    std::chrono::milliseconds timeout_;
};

}  // namespace pulsestream::keys
