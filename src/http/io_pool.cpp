#include "pulsestream/http/io_pool.hpp"

#include <algorithm>

namespace pulsestream::http {

io_pool::io_pool(std::size_t threads) {
    const std::size_t n = std::max<std::size_t>(threads, 1);
    contexts_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        // Concurrency hint 1: each context is only ever run by its one thread, so Asio can
        // skip its internal locking.
        contexts_.push_back(std::make_unique<shutdownable_context>(1));
        guards_.emplace_back(contexts_.back()->get_executor());
    }
}

io_pool::~io_pool() {
    stop();
    join();
    for (auto& ctx : contexts_) ctx->shutdown();  // every context's handlers, then the contexts
}

void io_pool::start() {
    for (auto& ctx : contexts_) {
        threads_.emplace_back([&ioc = *ctx] { ioc.run(); });
    }
}

void io_pool::release_work() {
    for (auto& guard : guards_) guard.reset();
}

void io_pool::stop() {
    release_work();
    for (auto& ctx : contexts_) ctx->stop();
}

void io_pool::join() {
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    threads_.clear();
}

}  // namespace pulsestream::http
