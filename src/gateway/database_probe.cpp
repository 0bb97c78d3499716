#include "pulsestream/gateway/database_probe.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <pqxx/nontransaction>
#include <type_traits>

#include "pulsestream/pg/blocking_pool.hpp"

namespace pulsestream::gateway {

namespace net = boost::asio;

struct database_probe::state {
    explicit state(pg::blocking_pool& p) : pool(p) {}
    pg::blocking_pool& pool;
    std::atomic<bool> probing{false};
};

namespace {

/// One probe's result, shared by the waiting check and the probe that may outlive it. Touched
/// only on the checking coroutine's executor.
struct probe_outcome {
    explicit probe_outcome(net::any_io_executor executor) : wake(std::move(executor)) {}
    std::optional<bool> answered;
    net::steady_timer wake;
};

// Detached on the checking coroutine's executor; owns what it touches.
net::awaitable<void> probe(std::shared_ptr<database_probe::state> state,
                           std::shared_ptr<probe_outcome> outcome) {
    // Trivially destructible: g++ 12 destroys the closure inside blocking_pool::run's co_await
    // twice (GCC PR 101367).
    constexpr auto select_one = [](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        tx.exec("SELECT 1");
        return true;
    };
    static_assert(std::is_trivially_destructible_v<decltype(select_one)>);
    bool answered = false;
    try {
        answered = co_await state->pool.run(select_one);
    } catch (const std::exception&) {
        answered = false;  // refused, broken or failed: reported as unreachable
    }
    state->probing.store(false);
    outcome->answered = answered;
    outcome->wake.cancel();
}

}  // namespace

database_probe::database_probe(pg::blocking_pool& pool) : state_(std::make_shared<state>(pool)) {}

net::awaitable<bool> database_probe::reachable(std::chrono::milliseconds deadline) {
    if (state_->probing.exchange(true)) co_return false;  // the last probe is still out
    const auto executor = co_await net::this_coro::executor;
    auto outcome = std::make_shared<probe_outcome>(executor);
    outcome->wake.expires_after(deadline);
    net::co_spawn(executor, probe(state_, outcome), net::detached);
    // The probe resumes on this executor too, so it cannot finish between this check and the
    // wait: either it already has, or its cancel() will end the wait.
    if (!outcome->answered) {
        co_await outcome->wake.async_wait(net::as_tuple(net::use_awaitable));
    }
    co_return outcome->answered.value_or(false);
}

}  // namespace pulsestream::gateway
