#pragma once

/// @file
/// A few command connections (one per io thread) behind one circuit breaker.

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "pulsestream/redis/breaker.hpp"
#include "pulsestream/redis/connection.hpp"
#include "pulsestream/redis/endpoint.hpp"

namespace pulsestream::redis {

/// N `connection`s to one endpoint sharing one `breaker` (so the whole pool stops waiting on a
/// dead Redis together). Typically one connection per io thread or per io_context.
///
/// Thread-safety: all members are thread-safe. Lifetime: destroying the pool drops its
/// connections (their in-flight commands complete with `operation_aborted` unless someone else
/// still holds the connection).
class pool {
public:
    /// One connection on each of `executors` (e.g. one io_context per thread).
    pool(std::span<const boost::asio::io_context::executor_type> executors, const endpoint& ep,
         const connection_options& options = {});
    /// `size` connections on `ioc` (each on its own strand); `size` 0 is taken as 1.
    pool(boost::asio::io_context& ioc, std::size_t size, const endpoint& ep,
         const connection_options& options = {});
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;
    ~pool();

    /// The next connection, round-robin, skipping connections that are not connected when a
    /// connected one exists. The reference stays valid as long as the pool.
    [[nodiscard]] const std::shared_ptr<connection>& pick() noexcept;

    [[nodiscard]] std::size_t size() const noexcept { return connections_.size(); }
    /// True when at least one connection is connected.
    [[nodiscard]] bool any_connected() const noexcept;
    [[nodiscard]] const std::shared_ptr<breaker>& circuit_breaker() const noexcept {
        return breaker_;
    }
    [[nodiscard]] const std::vector<std::shared_ptr<connection>>& connections() const noexcept {
        return connections_;
    }

    /// close() on every connection. Idempotent.
    void close();

private:
    std::shared_ptr<breaker> breaker_;
    std::vector<std::shared_ptr<connection>> connections_;
    std::atomic<std::size_t> next_{0};
};

}  // namespace pulsestream::redis
