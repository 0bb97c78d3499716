#pragma once

/// @file
/// The process's Kafka producer: asynchronous produce whose delivery report completes the
/// caller's handler on the caller's executor, never blocking an io thread (DESIGN.md §5,
/// STYLE.md "Gateway concurrency / Kafka").

#include <pulsestream/kafka/error.hpp>
#include <pulsestream/kafka/handles.hpp>
#include <pulsestream/kafka/partitioner.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace pulsestream::kafka {

namespace detail {
class request;
}

/// Record headers in order; names may repeat (Kafka allows it).
using header_list = std::vector<std::pair<std::string, std::string>>;

/// One record to produce. The producer takes the bytes by move and owns them until the
/// delivery report (librdkafka is given the payload without a copy).
struct message {
    std::optional<std::string> key;  ///< `std::nullopt` produces a null key (random partition)
    std::string payload;             ///< an empty string is an empty, non-null value
    header_list headers;
};

/// Where a record was written. After a failure, `partition` is the one the partitioner chose
/// (or -1) and `offset` is -1001 (`RD_KAFKA_OFFSET_INVALID`).
struct delivery {
    std::int32_t partition = -1;
    std::int64_t offset = -1001;

    friend bool operator==(const delivery&, const delivery&) = default;
};

/// Producer settings. The fixed part of the configuration is not here: `acks=all`,
/// `enable.idempotence=true`, `partitioner=murmur2_random` are always set (DESIGN.md §5).
struct producer_config {
    std::string brokers;              ///< `bootstrap.servers`; required
    double linger_ms = 5;             ///< `linger.ms` (librdkafka takes fractions of a ms)
    std::string compression = "lz4";  ///< `compression.codec`
    /// `message.timeout.ms`: how long librdkafka keeps trying before the report says
    /// `__MSG_TIMED_OUT`. An operation whose caller gave up stays alive until then.
    int message_timeout_ms = 30000;
    int queue_buffering_max_messages = 100000;  ///< beyond it a produce fails at once
    std::string client_id = "pulsestream";      ///< `client.id`
    /// Any other librdkafka property; applied last, so it may override the ones above and the
    /// fixed ones (tests do, e.g. `socket.timeout.ms`).
    std::map<std::string, std::string> extra;
    /// Optional sink for librdkafka's log lines (`level` is syslog-style, 0..7). Called from
    /// librdkafka's internal threads; must be thread-safe and quick. Unset: librdkafka prints
    /// to stderr.
    std::function<void(int level, std::string_view facility, std::string_view message)> on_log;
    /// Optional sink for client-level errors (`error_cb`: all brokers down, fatal idempotence
    /// errors, ...). Called on the poll thread (or on `report_executor`, when given); must not
    /// block. These errors are informational: the affected records still get their own reports.
    std::function<void(boost::system::error_code ec, std::string_view reason)> on_error;
    /// Optional: serve delivery reports (and `on_error`) on this executor, woken by librdkafka
    /// when reports arrive, instead of on the poll thread. Saves a thread hop per report when
    /// the handlers run on the same io_context. The poll thread still watches deadlines and
    /// serves what is left every 100 ms, so reports arrive even while the executor is idle.
    std::optional<boost::asio::any_io_executor> report_executor;
};

/// One librdkafka producer (`rd_kafka_t`) and the thread that serves its delivery reports
/// (or watches only their deadlines, when `report_executor` serves them).
///
/// Produce: `async_produce` enqueues one record and returns at once; the completion handler,
/// signature `void(boost::system::error_code, delivery)`, runs later on the handler's
/// associated executor (for a coroutine, its executor; for a handler bound with
/// `bind_executor(strand, …)`, that strand), never inline in the initiating call and never on
/// librdkafka's threads. A handler without an associated executor runs on Asio's
/// `system_executor` pool, so bind it. The associated executor must be convertible to
/// `boost::asio::any_io_executor` (every Asio executor is). Outstanding work is counted on it
/// until the handler has run, so `io_context::run` does not return under a pending produce.
///
/// Errors (all `rdkafka`-category codes unless noted; see `is_retryable`):
/// - the local queue is full (`queue_buffering_max_messages`): `__QUEUE_FULL` at once, posted to
///   the handler's executor; the producer never blocks or retries on a full queue;
/// - no acknowledgement within `message_timeout_ms`: `__MSG_TIMED_OUT`;
/// - produce after or during `stop()`: `__DESTROY`; records still pending at the end of
///   `stop()` are purged: `__PURGE_QUEUE` / `__PURGE_INFLIGHT`;
/// - terminal cancellation through the handler's cancellation slot (e.g. `asio::experimental::
///   awaitable_operators` `||` with a timer, or `parallel_group`): the handler completes at
///   once with `boost::asio::error::operation_aborted`. The record cannot be recalled: it may
///   still be written; its late report is discarded. Partial and total cancellation are not
///   supported (they promise no side effects), and are ignored.
///
/// Every handler is completed exactly once, and every operation's bytes freed, by the end of
/// `stop()`. The caller's executors (their execution contexts) must outlive `stop()`.
///
/// Thread-safety: all member functions may be called concurrently from any thread, except
/// that destruction must not race with other calls. `flush`, `stop`, `metadata_reachable` and
/// the destructor block (up to their timeouts): never call them on an io thread.
///
/// Lifetime: not copyable or movable (librdkafka holds `this`). Call `stop()` before
/// destroying the executors that handlers run on; the destructor calls `stop()` if needed.
class producer {
public:
    using produce_signature = void(boost::system::error_code, delivery);
    using produce_all_signature = void(boost::system::error_code, std::vector<delivery>);
    using metadata_signature = void(boost::system::error_code);

    /// Creates the client and starts the poll thread. Throws `std::invalid_argument` listing
    /// every rejected property (all at once), or `std::runtime_error` if librdkafka refuses
    /// to create the client. No broker is contacted here.
    explicit producer(producer_config config);

    /// `stop()` with its default deadline if it was not called, then destroys the client.
    ~producer();

    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;
    producer(producer&&) = delete;
    producer& operator=(producer&&) = delete;

    /// Produces `msg` to `topic` (partition chosen by `murmur2_random` on the key).
    /// Completion: `void(boost::system::error_code, delivery)`.
    template <class CompletionToken>
    auto async_produce(std::string topic, message msg, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, produce_signature>(
            [this](auto handler, std::string t, message m) {
                auto work = tracked_executor(handler);
                start_produce(std::move(t), std::move(m), std::move(handler), std::move(work));
            },
            token, std::move(topic), std::move(msg));
    }

    /// Shorthand for a record with a key, a payload and no headers.
    template <class CompletionToken>
    auto async_produce(std::string topic, std::string key, std::string payload,
                       CompletionToken&& token) {
        return async_produce(std::move(topic),
                             message{std::move(key), std::move(payload), {}},
                             std::forward<CompletionToken>(token));
    }

    /// Produces every record of `msgs` to `topic` and completes once:
    /// `void(boost::system::error_code, std::vector<delivery>)`, deliveries in input order.
    /// Completes when all reports are in, with the first error reported (if any), so no record
    /// of the batch is still in flight then. Exception: when a record cannot be enqueued
    /// (queue full, shutdown) the operation completes at once with that error, the rest are
    /// not produced, and the ones already enqueued may still be written (their reports are
    /// discarded). An empty batch succeeds at once. Cancellation as for `async_produce`.
    template <class CompletionToken>
    auto async_produce_all(std::string topic, std::vector<message> msgs,
                           CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, produce_all_signature>(
            [this](auto handler, std::string t, std::vector<message> m) {
                auto work = tracked_executor(handler);
                start_produce_all(std::move(t), std::move(m), std::move(handler),
                                  std::move(work));
            },
            token, std::move(topic), std::move(msgs));
    }

    /// As above, with a deadline of the caller's own: when some report is still missing
    /// `timeout` after the call, the operation completes with `__TIMED_OUT` (retryable) and the
    /// late reports are discarded; the records cannot be recalled and may still be written.
    /// Cheaper than racing the produce against a timer (`||`, `parallel_group`): the deadline
    /// is watched by the producer's poll thread, with no timer or coroutine per call. Precision:
    /// a few milliseconds. Cancellation as for `async_produce`.
    template <class CompletionToken>
    auto async_produce_all(std::string topic, std::vector<message> msgs,
                           std::chrono::milliseconds timeout, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, produce_all_signature>(
            [this](auto handler, std::string t, std::vector<message> m,
                   std::chrono::milliseconds within) {
                auto work = tracked_executor(handler);
                start_produce_all(std::move(t), std::move(m), std::move(handler),
                                  std::move(work),
                                  std::chrono::steady_clock::now() + within);
            },
            token, std::move(topic), std::move(msgs), timeout);
    }

    /// Asks a broker for cluster metadata, off the io threads (on a helper thread of this
    /// producer), and completes with `void(boost::system::error_code)`: success when a broker
    /// answered within `timeout`, else the librdkafka error (`__TRANSPORT`, `__TIMED_OUT`) or
    /// `__DESTROY` after `stop()`. For readiness probes. Checks run one at a time.
    template <class CompletionToken>
    auto async_metadata_reachable(std::chrono::milliseconds timeout, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, metadata_signature>(
            [this](auto handler, std::chrono::milliseconds t) {
                auto work = tracked_executor(handler);
                start_metadata_check(t, std::move(handler), std::move(work));
            },
            token, timeout);
    }

    /// Blocking form of `async_metadata_reachable`: true when a broker answered within
    /// `timeout`. Blocks the calling thread: not on an io thread.
    [[nodiscard]] bool metadata_reachable(std::chrono::milliseconds timeout);

    /// Waits until every enqueued record has been reported, or `timeout`. Returns
    /// `__TIMED_OUT` if records remain. Blocks: not on an io thread. Producing continues to
    /// work during and after it.
    boost::system::error_code flush(std::chrono::milliseconds timeout);

    /// Shuts down: new produces fail with `__DESTROY`; waits up to `flush_timeout` for
    /// outstanding records; purges what is left (their handlers get `__PURGE_QUEUE` or
    /// `__PURGE_INFLIGHT`) and serves those reports; waits for running metadata checks; then
    /// stops and joins the poll thread. Afterwards every handler has been completed (posted to
    /// its executor). Idempotent; a concurrent second call waits for the first. Blocks: not on
    /// an io thread.
    void stop(std::chrono::milliseconds flush_timeout = std::chrono::seconds(5));

    /// Records and events librdkafka still holds (`rd_kafka_outq_len`): a gauge for metrics.
    [[nodiscard]] std::size_t queue_depth() const noexcept;

    /// The producer's fatal error (idempotence guarantees broken), or success. After a fatal
    /// error every produce fails with `__FATAL`; the process should restart the producer.
    [[nodiscard]] boost::system::error_code fatal_error() const;

    /// The librdkafka client, for what this class does not wrap. Valid until destruction.
    [[nodiscard]] rd_kafka_t* native_handle() const noexcept { return handle_.get(); }

private:
    using produce_handler = boost::asio::any_completion_handler<produce_signature>;
    using produce_all_handler = boost::asio::any_completion_handler<produce_all_signature>;
    using metadata_handler = boost::asio::any_completion_handler<metadata_signature>;

    /// The handler's associated executor, holding outstanding work until it is destroyed.
    template <class Handler>
    static boost::asio::any_io_executor tracked_executor(const Handler& handler) {
        return boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                   boost::asio::execution::outstanding_work.tracked);
    }

    void start_produce(std::string topic, message msg, produce_handler handler,
                       boost::asio::any_io_executor work);
    void start_produce_all(
        std::string topic, std::vector<message> msgs, produce_all_handler handler,
        boost::asio::any_io_executor work,
        std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);
    void start_metadata_check(std::chrono::milliseconds timeout, metadata_handler handler,
                              boost::asio::any_io_executor work);

    boost::system::error_code check_metadata(std::chrono::milliseconds timeout);
    void poll_loop();
    void watch_deadline(std::chrono::steady_clock::time_point deadline,
                        std::shared_ptr<detail::request> req);
    // Poll thread: fails the requests whose deadline passed, forgets the completed ones at the
    // front; returns how long the next poll may block.
    int expire_deadlines();

    struct report_gate;
    static void on_reports_waiting(rd_kafka_t* rk, void* opaque);
    void sleep_poller(int timeout_ms);
    void wake_poller();

    static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
    static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
    static void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* buf);

    // Declaration order is destruction order in reverse: the callbacks in config_ outlive the
    // client, the client outlives the threads that use it.
    producer_config config_;
    handle_ptr handle_;
    // With config_.report_executor: the client's main queue (its reports) and what the posted
    // polls share with stop(), which closes it before the client goes.
    queue_ptr main_queue_;
    std::shared_ptr<report_gate> report_gate_;

    // Shared by every produce (check + enqueue), unique once by stop(): after stop() has set
    // stopped_, no record can be enqueued, so the final purge and drain see every record.
    std::shared_mutex state_mutex_;
    bool stopped_ = false;  // guarded by state_mutex_

    std::mutex stop_mutex_;     // serializes stop() calls
    bool stop_done_ = false;    // guarded by stop_mutex_

    // Requests with a deadline, in deadline order (the front expires first). Completed ones are
    // dropped from the front as the poll thread passes.
    struct deadline_entry {
        std::chrono::steady_clock::time_point at;
        std::shared_ptr<detail::request> req;
    };
    std::mutex deadlines_mutex_;
    std::deque<deadline_entry> deadlines_;  // guarded by deadlines_mutex_
    // When the poll thread wakes up at the latest (steady_clock ticks): a new deadline before
    // it wakes the thread early.
    std::atomic<std::chrono::steady_clock::rep> poll_wake_{0};

    std::atomic<bool> stop_polling_{false};
    // The poll thread's sleep when reports are served elsewhere (it must not wait on the queue).
    std::mutex poller_mutex_;
    std::condition_variable poller_cv_;
    bool poller_woken_ = false;  // guarded by poller_mutex_
    boost::asio::thread_pool metadata_pool_{1};
    std::thread poller_;
};

}  // namespace pulsestream::kafka
