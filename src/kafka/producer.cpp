#include "pulsestream/kafka/producer.hpp"

#include "report_round.hpp"
#include "request.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>
#include <string>

namespace pulsestream::kafka {
namespace {

using boost::system::error_code;

// After the flush deadline, how long stop() serves the reports of purged records. Purging is
// local (no broker round trip), so their reports are queued almost at once.
constexpr std::chrono::milliseconds purge_drain_timeout{2000};

// The poll thread's longest sleep; deadlines and stop() wake it earlier.
constexpr int max_poll_wait_ms = 100;

int clamp_ms(std::chrono::milliseconds ms) {
    if (ms.count() < 0) {
        return 0;
    }
    if (ms.count() > std::numeric_limits<int>::max()) {
        return std::numeric_limits<int>::max();
    }
    return static_cast<int>(ms.count());
}

// Builds the librdkafka configuration; every rejected property is reported, not just the first.
conf_ptr make_conf(const producer_config& config) {
    conf_ptr conf(rd_kafka_conf_new());
    std::string problems;
    auto set = [&](const std::string& name, const std::string& value) {
        std::array<char, 512> err{};
        if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err.data(), err.size()) !=
            RD_KAFKA_CONF_OK) {
            problems += problems.empty() ? "" : "; ";
            problems += name + "=" + value + ": " + err.data();
        }
    };
    if (config.brokers.empty()) {
        problems = "brokers: must not be empty";
    }
    set("bootstrap.servers", config.brokers);
    set("client.id", config.client_id);
    set("acks", "all");
    set("enable.idempotence", "true");
    set("partitioner", "murmur2_random");
    set("compression.codec", config.compression);
    set("linger.ms", std::to_string(config.linger_ms));  // "%f": librdkafka reads it as a float
    set("message.timeout.ms", std::to_string(config.message_timeout_ms));
    set("queue.buffering.max.messages", std::to_string(config.queue_buffering_max_messages));
    // Every 202 waits for its ack, so a produce request must not sit in the kernel behind the
    // unacknowledged bytes of the one before it (Nagle); the Java client disables it too.
    set("socket.nagle.disable", "true");
    for (const auto& [name, value] : config.extra) {
        set(name, value);
    }
    if (!problems.empty()) {
        throw std::invalid_argument("kafka producer configuration: " + problems);
    }
    return conf;
}

// One record into librdkafka. On success librdkafka owns `op` (as the message opaque) until
// its delivery report; on failure `op` stays with the caller.
rd_kafka_resp_err_t enqueue(rd_kafka_t* rk, const std::string& topic,
                            std::unique_ptr<detail::record_op>& op) {
    message& msg = op->msg;
    std::array<rd_kafka_vu_t, 6> vu{};
    std::size_t n = 0;
    vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[n++].u.cstr = topic.c_str();
    // msgflags 0: neither RD_KAFKA_MSG_F_COPY nor _FREE; the payload stays in op until the report.
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = 0;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[n].u.mem.ptr = msg.payload.data();
    vu[n++].u.mem.size = msg.payload.size();
    if (msg.key) {
        vu[n].vtype = RD_KAFKA_VTYPE_KEY;
        vu[n].u.mem.ptr = msg.key->data();
        vu[n++].u.mem.size = msg.key->size();
    }
    headers_ptr headers;
    if (!msg.headers.empty()) {
        headers.reset(rd_kafka_headers_new(msg.headers.size()));
        for (const auto& [name, value] : msg.headers) {
            rd_kafka_header_add(headers.get(), name.data(), static_cast<ssize_t>(name.size()),
                                value.data(), static_cast<ssize_t>(value.size()));
        }
        vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
        vu[n++].u.headers = headers.get();
    }
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[n++].u.ptr = op.get();

    const error_ptr error(rd_kafka_produceva(rk, vu.data(), n));
    if (error) {
        return rd_kafka_error_code(error.get());
    }
    (void)headers.release();
    (void)op.release();
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace

// Lets a poll posted to the report executor find out whether the client still exists.
struct producer::report_gate : std::enable_shared_from_this<report_gate> {
    report_gate(rd_kafka_t* client, boost::asio::any_io_executor where)
        : rk(client), executor(std::move(where)) {}

    // librdkafka thread: reports arrived on an empty queue. One poll on its way is enough.
    void schedule() {
        if (scheduled.exchange(true, std::memory_order_acq_rel)) return;
        boost::asio::post(executor, [self = shared_from_this()] { self->serve(); });
    }

    void serve() {
        // Cleared first: a report enqueued from here on schedules the next poll.
        scheduled.store(false, std::memory_order_release);
        detail::report_round round(boost::asio::query(executor, boost::asio::execution::context));
        {
            std::lock_guard lock(mutex);
            if (rk != nullptr) rd_kafka_poll(rk, 0);
        }
        round.finish();  // outside the lock: the completions may produce, or stop the producer
    }

    void close() {
        std::lock_guard lock(mutex);
        rk = nullptr;
    }

    std::mutex mutex;
    rd_kafka_t* rk;  // guarded by mutex; null once the producer stopped
    boost::asio::any_io_executor executor;
    std::atomic<bool> scheduled{false};
};

void producer::on_reports_waiting(rd_kafka_t* /*rk*/, void* opaque) {
    static_cast<report_gate*>(opaque)->schedule();
}

producer::producer(producer_config config) : config_(std::move(config)) {
    conf_ptr conf = make_conf(config_);
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &producer::on_delivery);
    if (config_.on_error) {
        rd_kafka_conf_set_error_cb(conf.get(), &producer::on_error);
    }
    if (config_.on_log) {
        rd_kafka_conf_set_log_cb(conf.get(), &producer::on_log);
    }
    std::array<char, 512> err{};
    handle_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err.data(), err.size()));
    if (!handle_) {
        throw std::runtime_error(std::string("kafka producer: ") + err.data());
    }
    (void)conf.release();  // rd_kafka_new took it
    if (config_.report_executor) {
        main_queue_.reset(rd_kafka_queue_get_main(handle_.get()));
        report_gate_ = std::make_shared<report_gate>(handle_.get(), *config_.report_executor);
        rd_kafka_queue_cb_event_enable(main_queue_.get(), &producer::on_reports_waiting,
                                       report_gate_.get());
    }
    poller_ = std::thread([this] { poll_loop(); });
}

producer::~producer() { stop(); }

void producer::poll_loop() {
    // wake_poller() in stop(), or for a deadline earlier than the wait, cuts the wait short.
    while (!stop_polling_.load(std::memory_order_acquire)) {
        const int wait_ms = expire_deadlines();
        if (report_gate_) {
            rd_kafka_poll(handle_.get(), 0);  // only what the report executor has not served
            sleep_poller(wait_ms);
        } else {
            rd_kafka_poll(handle_.get(), wait_ms);
        }
    }
}

void producer::sleep_poller(int timeout_ms) {
    std::unique_lock lock(poller_mutex_);
    poller_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return poller_woken_; });
    poller_woken_ = false;
}

void producer::wake_poller() {
    if (!report_gate_) {
        rd_kafka_yield(handle_.get());  // cuts rd_kafka_poll's wait short
        return;
    }
    {
        std::lock_guard lock(poller_mutex_);
        poller_woken_ = true;
    }
    poller_cv_.notify_one();
}

void producer::watch_deadline(std::chrono::steady_clock::time_point deadline,
                              std::shared_ptr<detail::request> req) {
    {
        std::lock_guard lock(deadlines_mutex_);
        // Callers mostly use one timeout, so the new deadline is almost always the latest.
        auto at = deadlines_.end();
        while (at != deadlines_.begin() && std::prev(at)->at > deadline) {
            --at;
        }
        deadlines_.insert(at, deadline_entry{deadline, std::move(req)});
    }
    if (deadline.time_since_epoch().count() < poll_wake_.load(std::memory_order_acquire)) {
        wake_poller();  // the poll thread sleeps past this deadline
    }
}

int producer::expire_deadlines() {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<detail::request>> expired;
    auto wake = now + std::chrono::milliseconds(max_poll_wait_ms);
    {
        std::lock_guard lock(deadlines_mutex_);
        while (!deadlines_.empty()) {
            auto& front = deadlines_.front();
            if (front.req->completed()) {
                deadlines_.pop_front();
            } else if (front.at <= now) {
                expired.push_back(std::move(front.req));
                deadlines_.pop_front();
            } else {
                wake = std::min(wake, front.at);
                break;
            }
        }
        // Published under the lock: a deadline added after it is compared with this value.
        poll_wake_.store(wake.time_since_epoch().count(), std::memory_order_release);
    }
    for (const auto& req : expired) {
        req->fail(make_error_code(RD_KAFKA_RESP_ERR__TIMED_OUT));  // no-op if it just completed
    }
    // Rounded up, so the thread does not wake just before the deadline and spin.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
    return std::clamp(static_cast<int>(left.count()), 0, max_poll_wait_ms);
}

void producer::start_produce(std::string topic, message msg, produce_handler handler,
                             boost::asio::any_io_executor work) {
    const auto slot = handler.get_cancellation_slot();
    auto req = std::make_shared<detail::single_request>(std::move(handler), std::move(work));
    auto op = std::make_unique<detail::record_op>(detail::record_op{std::move(msg), req, 0});
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__DESTROY;
    {
        std::shared_lock lock(state_mutex_);
        if (!stopped_) {
            // Connect before enqueueing: once enqueued, the report may complete at any time.
            detail::request::connect(req, slot);
            err = enqueue(handle_.get(), topic, op);
        }
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        req->fail(make_error_code(err));
    }
}

void producer::start_produce_all(std::string topic, std::vector<message> msgs,
                                 produce_all_handler handler, boost::asio::any_io_executor work,
                                 std::optional<std::chrono::steady_clock::time_point> deadline) {
    const auto slot = handler.get_cancellation_slot();
    auto req =
        std::make_shared<detail::batch_request>(msgs.size(), std::move(handler), std::move(work));
    if (msgs.empty()) {
        req->fail({});  // success, completed through the same posting path
        return;
    }
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__DESTROY;
    {
        std::shared_lock lock(state_mutex_);
        if (!stopped_) {
            detail::request::connect(req, slot);
            for (std::size_t i = 0; i < msgs.size(); ++i) {
                auto op =
                    std::make_unique<detail::record_op>(detail::record_op{std::move(msgs[i]), req, i});
                err = enqueue(handle_.get(), topic, op);
                if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                    break;
                }
            }
        }
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        req->fail(make_error_code(err));
    } else if (deadline && !req->completed()) {
        watch_deadline(*deadline, std::move(req));
    }
}

void producer::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* /*opaque*/) {
    // Runs on the poll thread (or in rd_kafka_flush): take the op back and hand the result to
    // the request, which only posts to the caller's executor.
    std::unique_ptr<detail::record_op> op(static_cast<detail::record_op*>(msg->_private));
    if (!op) {
        return;
    }
    const error_code ec = make_error_code(msg->err);
    const delivery where{msg->partition, ec ? delivery{}.offset : msg->offset};
    op->owner->on_report(op->index, ec, where);
}

void producer::on_error(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
    auto* self = static_cast<producer*>(rd_kafka_opaque(rk));
    self->config_.on_error(make_error_code(static_cast<rd_kafka_resp_err_t>(err)),
                           reason != nullptr ? reason : "");
}

void producer::on_log(const rd_kafka_t* rk, int level, const char* facility, const char* buf) {
    auto* self = static_cast<producer*>(rd_kafka_opaque(rk));
    self->config_.on_log(level, facility != nullptr ? facility : "", buf != nullptr ? buf : "");
}

void producer::start_metadata_check(std::chrono::milliseconds timeout, metadata_handler handler,
                                    boost::asio::any_io_executor work) {
    std::shared_lock lock(state_mutex_);
    if (stopped_) {
        boost::asio::post(work, [h = std::move(handler)]() mutable {
            std::move(h)(make_error_code(RD_KAFKA_RESP_ERR__DESTROY));
        });
        return;
    }
    // rd_kafka_metadata blocks for up to `timeout`: run it on the helper thread, post back.
    boost::asio::post(metadata_pool_, [this, timeout, h = std::move(handler),
                                       work = std::move(work)]() mutable {
        const error_code ec = check_metadata(timeout);
        boost::asio::post(work, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
    });
}

bool producer::metadata_reachable(std::chrono::milliseconds timeout) {
    return !check_metadata(timeout);
}

error_code producer::check_metadata(std::chrono::milliseconds timeout) {
    const rd_kafka_metadata_t* raw = nullptr;
    // all_topics=0, no topic: asks only for the brokers (and locally known topics).
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(handle_.get(), 0, nullptr, &raw, clamp_ms(timeout));
    const metadata_ptr md(raw);
    return make_error_code(err);
}

error_code producer::flush(std::chrono::milliseconds timeout) {
    return make_error_code(rd_kafka_flush(handle_.get(), clamp_ms(timeout)));
}

void producer::stop(std::chrono::milliseconds flush_timeout) {
    std::lock_guard stop_lock(stop_mutex_);
    if (stop_done_) {
        return;
    }
    {
        std::unique_lock lock(state_mutex_);
        stopped_ = true;  // from here on nothing is enqueued
    }
    rd_kafka_t* rk = handle_.get();
    if (rd_kafka_flush(rk, clamp_ms(flush_timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // Whatever is left gets a purge report, so no handler waits forever and no op leaks.
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(rk, clamp_ms(purge_drain_timeout));
    }
    metadata_pool_.join();
    stop_polling_.store(true, std::memory_order_release);
    wake_poller();
    poller_.join();
    if (report_gate_) {
        rd_kafka_queue_cb_event_enable(main_queue_.get(), nullptr, nullptr);
        report_gate_->close();  // a poll still queued on the executor does nothing now
    }
    rd_kafka_poll(rk, 0);  // reports that raced with the poller's exit
    {
        // Every request has completed by now; the entries only keep them alive.
        std::lock_guard lock(deadlines_mutex_);
        for (const auto& entry : deadlines_) {
            entry.req->fail(make_error_code(RD_KAFKA_RESP_ERR__DESTROY));  // no-op when done
        }
        deadlines_.clear();
    }
    stop_done_ = true;
}

std::size_t producer::queue_depth() const noexcept {
    const int n = rd_kafka_outq_len(handle_.get());
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

error_code producer::fatal_error() const {
    std::array<char, 256> reason{};
    return make_error_code(rd_kafka_fatal_error(handle_.get(), reason.data(), reason.size()));
}

}  // namespace pulsestream::kafka
