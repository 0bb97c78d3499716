#pragma once

/// @file
/// Whether PostgreSQL answers, for the body of /readyz (DESIGN.md §10: database trouble does
/// not make the gateway unready, it fails open, but readiness reports it).

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>

namespace pulsestream::pg {
class blocking_pool;
}

namespace pulsestream::gateway {

/// One `SELECT 1` at a time on the key-lookup pool, awaited for at most a deadline. A frozen
/// server keeps its probe's pool thread until the connection breaks; while that probe is out,
/// every check answers "unreachable" at once instead of queueing another, so probes never pile
/// up on the pool that API key lookups need. Thread-safe.
class database_probe {
public:
    /// `pool` must outlive the io_contexts on which reachable() is awaited.
    explicit database_probe(pg::blocking_pool& pool);

    /// True when PostgreSQL answered within `deadline`. Resumes on the caller's executor, which
    /// must be a single thread or a strand.
    boost::asio::awaitable<bool> reachable(std::chrono::milliseconds deadline);

    struct state;

private:
    std::shared_ptr<state> state_;
};

}  // namespace pulsestream::gateway
