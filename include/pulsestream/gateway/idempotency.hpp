#pragma once

/// @file
/// Edge idempotency in Redis (DESIGN.md §3 "Idempotency", §9 defects 3, 4, 5, §10).
///
/// Key `idem:{clientId}:{idempotency-key}` (client-scoped; the idempotency key in canonical lower
/// case). One atomic step takes the lock or reads what is there (no race between SET NX and GET):
/// a lock records the body fingerprint; a completed 202 is recorded with its fingerprint (and
/// the body the caller gives, which the gateway leaves empty: it rebuilds the same bytes from
/// the same request) and replayed byte for byte. 4xx/5xx outcomes only release the lock and are
/// never stored.
/// The lock TTL must exceed the produce timeout, so a slow broker cannot let a second request
/// with the same key through while the first is still waiting.

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "pulsestream/core/uuid.hpp"
#include "pulsestream/gateway/idempotency_backlog.hpp"

namespace pulsestream::metrics {
class gateway_metrics;
}

namespace pulsestream::gateway {

class redis_clients;

enum class idempotency_state {
    acquired,     ///< the lock is ours: process the request, then complete() or release()
    replay,       ///< a 202 was stored for this key and body: answer `stored_body` again
    in_progress,  ///< the same key is being processed now: 409 idempotency_in_progress
    reused,       ///< the key was used with a different body: 422 idempotency_key_reused
    unavailable,  ///< Redis could not answer in time: proceed without edge dedup (fail open);
                  ///< storage dedup (same event ids, ON CONFLICT DO NOTHING) still holds.
                  ///< A timed-out SET may still land later and leave a lock, so finish such a
                  ///< request with complete() or release() as if it were `acquired`
};

struct idempotency_begin {
    idempotency_state state;
    std::string stored_body;  ///< for `replay`: the body complete() stored (may be empty)
    /// For `acquired`: when the lock was asked for. Redis set it no earlier, so it holds until
    /// at least `locked_at + lock_ttl`; complete() relies on that (see there).
    std::optional<std::chrono::steady_clock::time_point> locked_at{};
};

struct idempotency_options {
    std::chrono::seconds lock_ttl{30};          ///< IDEMPOTENCY_LOCK_TTL_S
    std::chrono::seconds result_ttl{86'400};    ///< IDEMPOTENCY_TTL_S
    std::chrono::milliseconds deadline{100};    ///< per Redis command
};

/// Thread-safe; every member completes on the awaiting coroutine's executor and never throws
/// for Redis trouble (it is counted in the metrics and treated as `unavailable`).
class idempotency_store {
public:
    idempotency_store(idempotency_options options, redis_clients& redis,
                      metrics::gateway_metrics& metrics);

    /// Takes the lock for (`client`, `key`) with the body's `fingerprint` (SHA-256 hex of the
    /// decompressed body), or says what stands in the way.
    boost::asio::awaitable<idempotency_begin> begin(const core::uuid& client,
                                                    const core::uuid& key,
                                                    std::string_view fingerprint);
    /// Records the request as done for `result_ttl`, with `body` to hand back as `stored_body`
    /// on replay (empty when the caller rebuilds its answer from the request), replacing our
    /// lock (or nothing); never leaves a lock or result of another fingerprint replaced.
    ///
    /// `locked_at` (from begin()) says our lock was taken then. While it is younger than half the
    /// lock TTL the lock cannot have expired, so the key still holds it and one plain
    /// `SET … XX GET` replaces it: a third of the Redis CPU of a compare-and-set script. The old
    /// value it returns is checked all the same: a value of another fingerprint (only possible
    /// after a stall longer than that margin) is put back at once and logged, a vanished key
    /// goes the script's way. Without `locked_at` (begin() was unavailable) or with an older
    /// lock, the script compares and sets in one step.
    boost::asio::awaitable<void> complete(
        const core::uuid& client, const core::uuid& key, std::string_view fingerprint,
        std::string_view body,
        std::optional<std::chrono::steady_clock::time_point> locked_at = std::nullopt);
    /// Releases our lock after a 4xx/5xx (only if it is still ours: same fingerprint, not done).
    boost::asio::awaitable<void> release(const core::uuid& client, const core::uuid& key,
                                         std::string_view fingerprint);

    /// Completions and releases Redis failed to take, still to be sent (idempotency_backlog.hpp).
    [[nodiscard]] std::size_t writes_waiting() const { return backlog_.size(); }

private:
    [[nodiscard]] bool lock_is_fresh(
        std::optional<std::chrono::steady_clock::time_point> locked_at) const;
    /// complete()'s plain SET over our own lock; false when the key is gone (the script's case).
    boost::asio::awaitable<bool> replace_own_lock(std::string_view name,
                                                  std::string_view fingerprint,
                                                  const std::string& value);
    boost::asio::awaitable<void> put_back(std::string_view name, const std::string& ours,
                                          const std::string& theirs);
    /// The compare-and-set script's call that stores `value` (complete()'s slow path).
    [[nodiscard]] redis::formatted_command complete_call(std::string_view name,
                                                         std::string_view fingerprint,
                                                         const std::string& value) const;
    boost::asio::awaitable<void> compare_and_store(std::string_view name,
                                                   std::string_view fingerprint,
                                                   const std::string& value);
    void count_failure(const boost::system::error_code& ec, const std::string& error_reply,
                       std::string_view what);

    idempotency_options options_;
    redis_clients& redis_;
    metrics::gateway_metrics& metrics_;
    idempotency_backlog backlog_;
};

}  // namespace pulsestream::gateway
