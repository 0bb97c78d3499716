#pragma once

/// @file
/// The gateway's Redis command connections: one per io_context of the pool, so a request's
/// Redis round trip stays on its own thread, all sharing one circuit breaker.

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <vector>

#include "pulsestream/http/io_pool.hpp"
#include "pulsestream/redis/breaker.hpp"
#include "pulsestream/redis/connection.hpp"
#include "pulsestream/redis/endpoint.hpp"

namespace pulsestream::gateway {

/// Thread-safe after construction. Destroy after the pool's threads stopped.
class redis_clients {
public:
    redis_clients(http::io_pool& pool, redis::endpoint endpoint,
                  redis::connection_options options = {});
    ~redis_clients();
    redis_clients(const redis_clients&) = delete;
    redis_clients& operator=(const redis_clients&) = delete;

    /// The connection living on the io_context that `executor` belongs to (any connection
    /// when it belongs to none of them).
    [[nodiscard]] redis::connection& near(const boost::asio::any_io_executor& executor);
    /// True while the shared breaker lets commands through.
    [[nodiscard]] bool breaker_closed() const;
    [[nodiscard]] const std::shared_ptr<redis::breaker>& circuit_breaker() const { return breaker_; }
    /// Closes every connection (in-flight commands complete with operation_aborted).
    void close();

private:
    std::shared_ptr<redis::breaker> breaker_;
    std::vector<boost::asio::io_context*> contexts_;
    std::vector<std::shared_ptr<redis::connection>> connections_;
};

}  // namespace pulsestream::gateway
