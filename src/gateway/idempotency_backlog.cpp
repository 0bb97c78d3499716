#include "pulsestream/gateway/idempotency_backlog.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "pulsestream/gateway/redis_clients.hpp"
#include "pulsestream/gateway/redis_script.hpp"

namespace pulsestream::gateway {

namespace net = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

struct pending_write {
    const redis_script* script;
    redis::formatted_command call;
    clock_type::time_point added;
    clock_type::time_point next_try;
    int runs = 0;  ///< times Redis ran it
};

}  // namespace

struct idempotency_backlog::state {
    state(redis_clients& r, idempotency_backlog_options o) : redis(r), options(o) {}

    /// Takes the writes due now; false (and the loop ends) when none is left at all.
    bool take_due(std::vector<pending_write>& due) {
        std::lock_guard lock(mutex);
        const auto now = clock_type::now();
        std::deque<pending_write> later;
        for (auto& write : writes) {
            if (write.next_try <= now) {
                due.push_back(std::move(write));
            } else {
                later.push_back(std::move(write));
            }
        }
        writes.swap(later);
        taken = due.size();
        if (dropped != 0) {
            // Once a round, not once a request: in a long outage every request would log.
            spdlog::warn(
                "idempotency: {} writes waiting for Redis were dropped (backlog full); "
                "their locks expire by themselves",
                std::exchange(dropped, 0));
        }
        if (writes.empty() && due.empty()) running = false;
        return running;
    }

    /// A taken write goes back to wait for its next try.
    void keep(pending_write write) {
        std::lock_guard lock(mutex);
        writes.push_back(std::move(write));
        --taken;
    }

    /// A taken write is done with (run twice, or given up).
    void forget() {
        std::lock_guard lock(mutex);
        --taken;
    }

    redis_clients& redis;
    const idempotency_backlog_options options;
    mutable std::mutex mutex;
    std::deque<pending_write> writes;  // oldest first
    std::size_t taken = 0;             // being tried in the current round
    std::size_t dropped = 0;           // pushed out by a full backlog since the last report
    bool running = false;              // a retry loop is on its way
};

namespace {

// Detached on the executor of the add() that started it; owns the state it touches.
net::awaitable<void> retry_loop(std::shared_ptr<idempotency_backlog::state> st,
                                net::any_io_executor executor) {
    net::steady_timer timer(executor);
    std::vector<pending_write> due;
    for (;;) {
        timer.expires_after(st->options.retry_interval);
        co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        due.clear();
        if (!st->take_due(due)) co_return;
        bool redis_answers = true;
        std::size_t given_up = 0;
        for (auto& write : due) {
            if (clock_type::now() - write.added > st->options.max_age) {
                ++given_up;
                st->forget();
                continue;
            }
            if (redis_answers) {
                auto [ec, reply] = co_await write.script->run(st->redis.near(executor), write.call,
                                                              st->options.deadline);
                redis_answers = !ec && !reply.is_error();
                if (redis_answers && ++write.runs >= 2) {
                    st->forget();
                    continue;
                }
            }
            write.next_try = clock_type::now() +
                             (write.runs == 1 ? st->options.settle : st->options.retry_interval);
            st->keep(std::move(write));
        }
        if (given_up != 0) {
            spdlog::warn(
                "idempotency: {} writes Redis did not take within {} min were given up", given_up,
                std::chrono::duration_cast<std::chrono::minutes>(st->options.max_age).count());
        }
    }
}

}  // namespace

idempotency_backlog::idempotency_backlog(redis_clients& redis, idempotency_backlog_options options)
    : state_(std::make_shared<state>(redis, options)) {}

void idempotency_backlog::add(const redis_script& script, redis::formatted_command call,
                              const net::any_io_executor& executor) {
    const auto now = clock_type::now();
    bool start = false;
    {
        std::lock_guard lock(state_->mutex);
        while (!state_->writes.empty() && state_->writes.size() >= state_->options.capacity) {
            state_->writes.pop_front();
            ++state_->dropped;
        }
        state_->writes.push_back(pending_write{&script, std::move(call), now, now, 0});
        start = !std::exchange(state_->running, true);
    }
    if (start) net::co_spawn(executor, retry_loop(state_, executor), net::detached);
}

std::size_t idempotency_backlog::size() const {
    std::lock_guard lock(state_->mutex);
    return state_->writes.size() + state_->taken;
}

}  // namespace pulsestream::gateway
