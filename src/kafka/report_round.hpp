#pragma once

// Private to src/kafka: the completions of requests finished by one poll of the report
// executor. Collected while rd_kafka_poll runs and run once it has returned: through their own
// executor when it belongs to the report executor's execution context (inline when it is
// running on this thread, e.g. a coroutine of that single-threaded io_context), posted to it
// otherwise, as without a round. So a completion never runs inside librdkafka, and the requests
// of the report executor's thread skip a trip through its queue.

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>

#include <utility>
#include <vector>

namespace pulsestream::kafka::detail {

class report_round {
public:
    // Becomes the current thread's round until finish(). `here`: the report executor's context.
    explicit report_round(const boost::asio::execution_context& here) noexcept;
    // Without finish() (an exception), only stops being current; what was collected is dropped.
    ~report_round();
    report_round(const report_round&) = delete;
    report_round& operator=(const report_round&) = delete;

    // The round open on this thread, or null.
    [[nodiscard]] static report_round* current() noexcept;

    void add(boost::asio::any_io_executor work,
             boost::asio::any_completion_handler<void()> completion);

    // Stops being current, then runs every completion, in the order they were added.
    void finish();

private:
    struct completion_entry {
        boost::asio::any_io_executor work;  // the request's executor, tracking work
        boost::asio::any_completion_handler<void()> completion;
    };

    std::vector<completion_entry> completions_;
    const boost::asio::execution_context& here_;
    report_round* outer_;
    bool open_ = true;
};

// Hands a request's completion to the open report round, or posts it to `work`.
template <typename Completion>
void deliver(boost::asio::any_io_executor work, Completion&& completion) {
    if (auto* round = report_round::current()) {
        round->add(std::move(work), std::forward<Completion>(completion));
        return;
    }
    boost::asio::post(work, std::forward<Completion>(completion));
}

}  // namespace pulsestream::kafka::detail
