#pragma once

/// @file
/// Idempotency writes that Redis could not take when they were due (DESIGN.md §3 "Redis down").
///
/// A `SET … NX` that timed out may still land when Redis comes back, leaving a lock that
/// nothing finishes: every retry of that request would get 409 until the lock expires, although
/// the request was answered long ago. The same lock is left when Redis fails between the lock
/// and the completion. So a completion or release that failed is kept here and sent again, once
/// a second, until Redis has run it twice at least two seconds apart (the second run catches a
/// lock that landed after the first) or it is ten minutes old. The scripts only ever replace
/// this request's own lock, or store its own result where nothing stands, so a late run cannot
/// overwrite anybody else's value.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

#include "pulsestream/redis/command.hpp"

namespace pulsestream::gateway {

class redis_clients;
class redis_script;

struct idempotency_backlog_options {
    std::size_t capacity = 10'000;  ///< writes kept; past it the oldest is dropped (and logged)
    std::chrono::milliseconds retry_interval{1000};
    std::chrono::milliseconds settle{2000};  ///< between the two runs Redis must take
    std::chrono::milliseconds max_age{std::chrono::minutes(10)};
    std::chrono::milliseconds deadline{250};  ///< per command
};

/// Thread-safe. The retry loop runs on the executor of the add() that found the backlog empty
/// and ends when the backlog is empty again; `redis` must outlive the io_contexts it runs on.
class idempotency_backlog {
public:
    idempotency_backlog(redis_clients& redis, idempotency_backlog_options options = {});

    /// Keeps `call` of `script` (which must outlive the backlog's loop: the scripts are static)
    /// to be sent again from `executor`'s io_context.
    void add(const redis_script& script, redis::formatted_command call,
             const boost::asio::any_io_executor& executor);

    /// Writes waiting.
    [[nodiscard]] std::size_t size() const;

    struct state;

private:
    std::shared_ptr<state> state_;
};

}  // namespace pulsestream::gateway
