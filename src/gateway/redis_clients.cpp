#include "pulsestream/gateway/redis_clients.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

namespace pulsestream::gateway {

namespace {

/// An outage of Redis is worth a line in the log, not only a metric: when it starts and ends.
void log_breaker_change(bool open) {
    if (open) {
        spdlog::warn(
            "Redis does not answer: circuit breaker open, failing open (auth from the "
            "caches and PostgreSQL, no edge idempotency) until it does");
    } else {
        spdlog::info("Redis answers again: circuit breaker closed");
    }
}

}  // namespace

redis_clients::redis_clients(http::io_pool& pool, redis::endpoint endpoint,
                             redis::connection_options options)
    : breaker_(std::make_shared<redis::breaker>(options.breaker, log_breaker_change)) {
    contexts_.reserve(pool.size());
    connections_.reserve(pool.size());
    for (std::size_t i = 0; i < pool.size(); ++i) {
        auto& ioc = pool.context(i);
        contexts_.push_back(&ioc);
        connections_.push_back(
            redis::connection::create(ioc.get_executor(), endpoint, options, breaker_));
    }
}

// The connections free their hiredis contexts themselves; by now the io threads have stopped,
// so nothing else touches them.
redis_clients::~redis_clients() = default;

redis::connection& redis_clients::near(const boost::asio::any_io_executor& executor) {
    const boost::asio::execution_context& ctx =
        boost::asio::query(executor, boost::asio::execution::context);
    for (std::size_t i = 0; i < contexts_.size(); ++i) {
        if (static_cast<const boost::asio::execution_context*>(contexts_[i]) == &ctx) {
            return *connections_[i];
        }
    }
    // An executor of another context (a test, a helper thread): spread the load. A counter per
    // thread avoids a shared atomic and a header change; exact fairness does not matter here.
    thread_local std::size_t next = 0;
    return *connections_[next++ % connections_.size()];
}

bool redis_clients::breaker_closed() const {
    return breaker_->current() == redis::breaker::state::closed;
}

void redis_clients::close() {
    for (const auto& connection : connections_) connection->close();
}

}  // namespace pulsestream::gateway
