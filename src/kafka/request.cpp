#include "request.hpp"

#include "report_round.hpp"

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace pulsestream::kafka::detail {
namespace {

// Lives in the caller's cancellation slot; keeps the request alive for as long as the emitter
// may still call it, which can be after the last report.
struct cancel_handler {
    std::shared_ptr<request> target;

    void operator()(boost::asio::cancellation_type type) const {
        if ((type & boost::asio::cancellation_type::terminal) !=
            boost::asio::cancellation_type::none) {
            target->cancel();
        }
    }
};

}  // namespace

request::request(std::size_t records, boost::asio::any_io_executor work) noexcept
    : outstanding_(records), work_(std::move(work)) {}

void request::connect(const std::shared_ptr<request>& self, boost::asio::cancellation_slot slot) {
    if (slot.is_connected()) {
        slot.template emplace<cancel_handler>(cancel_handler{self});
    }
}

void request::on_report(std::size_t index, const boost::system::error_code& ec,
                        const delivery& where) {
    std::lock_guard lock(mutex_);
    if (completed_.load(std::memory_order_relaxed)) {
        return;  // completed already (failure or cancellation): a late report is harmless
    }
    store(index, where);
    if (ec && !first_error_) {
        first_error_ = ec;
    }
    if (--outstanding_ == 0) {
        complete_locked(first_error_);
    }
}

void request::fail(const boost::system::error_code& ec) {
    std::lock_guard lock(mutex_);
    complete_locked(ec);
}

void request::cancel() {
    std::lock_guard lock(mutex_);
    complete_locked(boost::asio::error::operation_aborted);
}

void request::complete_locked(const boost::system::error_code& ec) {
    if (completed_.load(std::memory_order_relaxed)) {
        return;
    }
    completed_.store(true, std::memory_order_release);
    // Posted, or collected by the report round open on this thread (report_round.hpp): either
    // keeps the handler off librdkafka's threads and out of the initiating call; the function
    // holds the work until it has run, so ours can go. Both only queue the function, so doing
    // it under the mutex cannot deadlock.
    post_completion(std::move(work_), ec);
}

void single_request::post_completion(boost::asio::any_io_executor work,
                                     const boost::system::error_code& ec) {
    deliver(std::move(work), [handler = std::move(handler_), ec, where = result_]() mutable {
        std::move(handler)(ec, where);
    });
}

void single_request::store(std::size_t /*index*/, const delivery& where) { result_ = where; }

void batch_request::post_completion(boost::asio::any_io_executor work,
                                    const boost::system::error_code& ec) {
    deliver(std::move(work), [handler = std::move(handler_), ec,
                              results = std::move(results_)]() mutable {
        std::move(handler)(ec, std::move(results));
    });
}

void batch_request::store(std::size_t index, const delivery& where) { results_[index] = where; }

}  // namespace pulsestream::kafka::detail
