#pragma once

// Private to src/kafka: the completion side of one async_produce / async_produce_all call,
// shared by the records of that call, and the per-record operation librdkafka carries as the
// message opaque.

#include "pulsestream/kafka/producer.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace pulsestream::kafka::detail {

// Decides who completes the caller's handler, exactly once: the last delivery report, an
// enqueue failure, or a terminal cancellation; the others become no-ops. Reports may arrive on
// any thread (the poll thread, or a thread inside rd_kafka_flush), cancellation on the caller's;
// one mutex orders them (uncontended but for a batch's reports, and cheap next to librdkafka's).
class request {
public:
    request(std::size_t records, boost::asio::any_io_executor work) noexcept;
    virtual ~request() = default;

    request(const request&) = delete;
    request& operator=(const request&) = delete;

    // One record's report. Completes when it is the last one outstanding.
    void on_report(std::size_t index, const boost::system::error_code& ec,
                   const delivery& where);

    // Completes now with `ec` (enqueue failure, stopped producer); later reports are ignored.
    void fail(const boost::system::error_code& ec);

    // Terminal cancellation: completes now with operation_aborted; later reports are ignored.
    void cancel();

    // True once the handler was completed (posted). Any thread; a hint for the deadline sweep,
    // which still goes through fail() to decide.
    [[nodiscard]] bool completed() const noexcept {
        return completed_.load(std::memory_order_acquire);
    }

    // Connects `slot` (if connected) to cancel(); must run in the caller's context.
    static void connect(const std::shared_ptr<request>& self, boost::asio::cancellation_slot slot);

protected:
    // Posts the handler with `ec` and the stored results to `work`. Called once, under mutex_.
    virtual void post_completion(boost::asio::any_io_executor work,
                                 const boost::system::error_code& ec) = 0;
    // Records where record `index` went. Called under mutex_, never after completion.
    virtual void store(std::size_t index, const delivery& where) = 0;

private:
    void complete_locked(const boost::system::error_code& ec);

    std::mutex mutex_;
    std::size_t outstanding_;                // guarded by mutex_
    boost::system::error_code first_error_;  // guarded by mutex_
    boost::asio::any_io_executor work_;      // guarded by mutex_
    // Set once, under mutex_, when the handler is posted; read without the lock by completed().
    std::atomic<bool> completed_{false};
};

class single_request final : public request {
public:
    using handler_type = boost::asio::any_completion_handler<producer::produce_signature>;

    single_request(handler_type handler, boost::asio::any_io_executor work) noexcept
        : request(1, std::move(work)), handler_(std::move(handler)) {}

private:
    void post_completion(boost::asio::any_io_executor work,
                         const boost::system::error_code& ec) override;
    void store(std::size_t index, const delivery& where) override;

    handler_type handler_;
    delivery result_;
};

class batch_request final : public request {
public:
    using handler_type = boost::asio::any_completion_handler<producer::produce_all_signature>;

    batch_request(std::size_t records, handler_type handler, boost::asio::any_io_executor work)
        : request(records, std::move(work)), handler_(std::move(handler)), results_(records) {}

private:
    void post_completion(boost::asio::any_io_executor work,
                         const boost::system::error_code& ec) override;
    void store(std::size_t index, const delivery& where) override;

    handler_type handler_;
    std::vector<delivery> results_;
};

// What librdkafka carries as RD_KAFKA_V_OPAQUE between a successful enqueue and dr_msg_cb: the
// record's bytes (the payload is not copied by librdkafka) and the request it belongs to.
struct record_op {
    message msg;
    std::shared_ptr<request> owner;
    std::size_t index = 0;
};

}  // namespace pulsestream::kafka::detail
