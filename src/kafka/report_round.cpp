#include "report_round.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

namespace pulsestream::kafka::detail {
namespace {
thread_local report_round* current_round = nullptr;
}  // namespace

report_round::report_round(const boost::asio::execution_context& here) noexcept
    : here_(here), outer_(current_round) {
    current_round = this;
}

report_round::~report_round() {
    if (open_) current_round = outer_;
}

report_round* report_round::current() noexcept { return current_round; }

void report_round::add(boost::asio::any_io_executor work,
                       boost::asio::any_completion_handler<void()> completion) {
    completions_.push_back({std::move(work), std::move(completion)});
}

void report_round::finish() {
    current_round = outer_;
    open_ = false;
    for (auto& entry : completions_) {
        auto run = [completion = std::move(entry.completion)]() mutable {
            std::move(completion)();
        };
        const boost::asio::execution_context& context =
            boost::asio::query(entry.work, boost::asio::execution::context);
        if (&context == &here_) {
            entry.work.execute(std::move(run));  // inline when it runs on this thread
        } else {
            boost::asio::post(entry.work, std::move(run));  // e.g. another io thread's context
        }
    }
    completions_.clear();
}

}  // namespace pulsestream::kafka::detail
