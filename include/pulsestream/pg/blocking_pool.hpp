#pragma once

/// @file
/// Blocking libpqxx work kept off the io_context threads: a few threads of its own, one
/// PostgreSQL connection each, and results handed back to the awaiting coroutine's executor.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>
#include <type_traits>
#include <vector>

namespace pulsestream::pg {

/// Thread-safe. Destruction waits for running jobs; destroy it after the io_contexts that await
/// it have stopped.
class blocking_pool {
public:
    /// `url` is a libpq connection URL; a `connect_timeout` of 2 s is added unless it has one,
    /// so that a job against an unreachable server fails instead of hanging. Connections are
    /// opened lazily and reopened after they break.
    blocking_pool(std::string url, std::size_t threads);
    ~blocking_pool();
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;

    /// Runs `job(pqxx::connection&)` on a pool thread and resumes the caller on its own
    /// executor with the result. Exceptions from libpqxx (pqxx::broken_connection,
    /// pqxx::sql_error, ...) are rethrown in the caller; a broken connection is dropped so the
    /// next job reconnects.
    template <class Job>
    boost::asio::awaitable<std::invoke_result_t<Job&, pqxx::connection&>> run(Job job) {
        co_return co_await boost::asio::co_spawn(threads_.get_executor(),
                                                 run_on_pool_thread(this, std::move(job)),
                                                 boost::asio::use_awaitable);
    }

private:
    // A plain function template, not a capturing lambda: a lambda coroutine's captures live in
    // the closure, which co_spawn does not keep alive for the coroutine's whole run.
    template <class Job>
    static boost::asio::awaitable<std::invoke_result_t<Job&, pqxx::connection&>>
    run_on_pool_thread(blocking_pool* self, Job job) {
        lease conn(*self);
        co_return conn.call(job);
    }

    /// One connection taken from the free list for one job, given back afterwards.
    class lease {
    public:
        explicit lease(blocking_pool& pool);
        ~lease();
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;

        template <class Job>
        auto call(Job& job) {
            try {
                return job(open());
            } catch (const pqxx::broken_connection&) {
                conn_.reset();
                throw;
            }
        }

    private:
        pqxx::connection& open();
        blocking_pool& pool_;
        std::unique_ptr<pqxx::connection> conn_;
    };

    std::string url_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<pqxx::connection>> idle_;
    boost::asio::thread_pool threads_;
};

}  // namespace pulsestream::pg
