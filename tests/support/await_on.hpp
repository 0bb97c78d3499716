#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>

namespace pulsestream::test_support {

/// How long await_on waits before it calls a coroutine hung.
inline constexpr std::chrono::seconds default_hang_deadline{10};

/// Spawns the coroutine `make()` on `ctx` (which other threads must be running) and blocks the
/// calling thread until it finishes; returns its result, or rethrows its exception.
///
/// A coroutine that has not finished within `hang_deadline` is a hang: its frame may still point
/// at the test's fixture, so rather than carry on (and crash later, somewhere unrelated) the
/// binary prints "FATAL: a coroutine did not finish within N s" to stderr and aborts.
/// Call it from a thread that does not run `ctx`, or it deadlocks until the deadline.
template <class T>
T await_on(boost::asio::io_context& ctx, std::function<boost::asio::awaitable<T>()> make,
           std::chrono::seconds hang_deadline = default_hang_deadline) {
    auto future = boost::asio::co_spawn(ctx, std::move(make), boost::asio::use_future);
    if (future.wait_for(hang_deadline) != std::future_status::ready) {
        std::fprintf(stderr, "FATAL: a coroutine did not finish within %lld s\n",
                     static_cast<long long>(hang_deadline.count()));
        std::abort();
    }
    return future.get();
}

}  // namespace pulsestream::test_support
