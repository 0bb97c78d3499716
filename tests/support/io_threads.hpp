#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <thread>
#include <vector>

namespace pulsestream::test_support {

/// An io_context run by `n` threads for the lifetime of the object (one test, usually).
///
/// A work guard keeps the threads running while nothing is queued. The destructor releases the
/// guard, stops the context and joins the threads: handlers still queued then are not run, so
/// destroy whatever posts to the context (connections, timers) before this, or accept that its
/// completions are dropped. Thread-safety: context()/executor()/make_strand() may be called from
/// any thread. Not copyable, not movable.
class io_threads {
public:
    using executor_type = boost::asio::io_context::executor_type;
    using strand_type = boost::asio::strand<executor_type>;

    explicit io_threads(int n) : guard_(boost::asio::make_work_guard(context_)) {
        for (int i = 0; i < n; ++i) {
            threads_.emplace_back([this] { context_.run(); });
        }
    }
    io_threads(const io_threads&) = delete;
    io_threads& operator=(const io_threads&) = delete;
    ~io_threads() {
        guard_.reset();
        context_.stop();
        for (auto& t : threads_) {
            t.join();
        }
    }

    [[nodiscard]] boost::asio::io_context& context() { return context_; }
    [[nodiscard]] executor_type executor() { return context_.get_executor(); }
    /// A new strand on the context.
    [[nodiscard]] strand_type make_strand() { return boost::asio::make_strand(context_); }

private:
    boost::asio::io_context context_;
    boost::asio::executor_work_guard<executor_type> guard_;
    std::vector<std::thread> threads_;
};

}  // namespace pulsestream::test_support
