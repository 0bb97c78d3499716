#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "pulsestream/gateway/redis_clients.hpp"
#include "pulsestream/http/io_pool.hpp"
#include "pulsestream/redis/endpoint.hpp"
#include "pulsestream/redis/reply.hpp"
#include "support/await_on.hpp"

namespace pulsestream::test_support {

/// The gateway's Redis clients (one connection per io_context, one shared breaker) on an
/// io_pool of their own, for tests of the gateway parts that talk to Redis, plus the raw
/// commands those tests check Redis with.
///
/// Lifetime: the constructor starts the pool's threads; the destructor stops and joins them,
/// then destroys the clients before the pool (redis_clients' contract). Thread-safety: as
/// redis_clients; command() and usable() block the calling thread, which must not be one of the
/// pool's. Not copyable, not movable.
class gateway_redis {
public:
    /// Clients for `endpoint` on `threads` io threads; `hang_deadline` bounds command() and
    /// usable() (see await_on).
    gateway_redis(const redis::endpoint& endpoint, std::size_t threads,
                  std::chrono::seconds hang_deadline = default_hang_deadline)
        : pool_(threads), hang_deadline_(hang_deadline) {
        pool_.start();
        clients_ = std::make_unique<gateway::redis_clients>(pool_, endpoint);
    }
    gateway_redis(const gateway_redis&) = delete;
    gateway_redis& operator=(const gateway_redis&) = delete;
    ~gateway_redis() {
        pool_.stop();
        pool_.join();
        clients_.reset();
    }

    [[nodiscard]] http::io_pool& pool() { return pool_; }
    [[nodiscard]] boost::asio::io_context& context(std::size_t i = 0) { return pool_.context(i); }
    [[nodiscard]] gateway::redis_clients& clients() { return *clients_; }

    /// One raw command on the connection of context 0 (1 s command deadline), for checking or
    /// preparing what Redis stores. Throws boost::system::system_error when the command fails.
    redis::reply command(std::vector<std::string> args) {
        return await_on<redis::reply>(
            context(),
            [this, args = std::move(args)]() -> boost::asio::awaitable<redis::reply> {
                const auto ex = co_await boost::asio::this_coro::executor;
                co_return co_await clients_->near(ex).async_command(args, std::chrono::seconds(1),
                                                                    boost::asio::use_awaitable);
            },
            hang_deadline_);
    }

    /// True when the connection of every context answers PING with PONG within 500 ms: Redis is
    /// reachable (again) and the breaker lets commands through. Never throws.
    bool usable() {
        using outcome = std::tuple<boost::system::error_code, redis::reply>;
        for (std::size_t i = 0; i < pool_.size(); ++i) {
            const auto [ec, reply] = await_on<outcome>(
                context(i),
                [this]() -> boost::asio::awaitable<outcome> {
                    const auto ex = co_await boost::asio::this_coro::executor;
                    std::vector<std::string> args{"PING"};
                    co_return co_await clients_->near(ex).async_command(
                        std::move(args), std::chrono::milliseconds(500),
                        boost::asio::as_tuple(boost::asio::use_awaitable));
                },
                hang_deadline_);
            if (ec || reply.str != "PONG") return false;
        }
        return true;
    }

private:
    http::io_pool pool_;
    std::chrono::seconds hang_deadline_;
    std::unique_ptr<gateway::redis_clients> clients_;
};

}  // namespace pulsestream::test_support
