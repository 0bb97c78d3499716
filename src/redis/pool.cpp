#include "pulsestream/redis/pool.hpp"

#include <algorithm>
#include <stdexcept>

namespace pulsestream::redis {

pool::pool(std::span<const boost::asio::io_context::executor_type> executors, const endpoint& ep,
           const connection_options& options)
    : breaker_(std::make_shared<breaker>(options.breaker)) {
    connections_.reserve(executors.size());
    for (const auto& executor : executors) {
        connections_.push_back(connection::create(executor, ep, options, breaker_));
    }
    if (connections_.empty()) {
        throw std::invalid_argument("redis::pool needs at least one executor");
    }
}

pool::pool(boost::asio::io_context& ioc, std::size_t size, const endpoint& ep,
           const connection_options& options)
    : breaker_(std::make_shared<breaker>(options.breaker)) {
    size = std::max<std::size_t>(size, 1);
    connections_.reserve(size);
    for (std::size_t i = 0; i < size; ++i) {
        connections_.push_back(connection::create(ioc.get_executor(), ep, options, breaker_));
    }
}

pool::~pool() = default;

const std::shared_ptr<connection>& pool::pick() noexcept {
    const std::size_t n = connections_.size();
    const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& candidate = connections_[(start + i) % n];
        if (candidate->connected()) {
            return candidate;
        }
    }
    return connections_[start % n];  // none connected: its command fails fast
}

bool pool::any_connected() const noexcept {
    for (const auto& c : connections_) {
        if (c->connected()) {
            return true;
        }
    }
    return false;
}

void pool::close() {
    for (const auto& c : connections_) {
        c->close();
    }
}

}  // namespace pulsestream::redis
