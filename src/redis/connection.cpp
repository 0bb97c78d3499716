#include "pulsestream/redis/connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <optional>

#include "link.hpp"
#include "reply_copy.hpp"

namespace pulsestream::redis {

// One command in flight. Ownership: hiredis holds one shared_ptr (its privdata, released in
// handle_reply, which hiredis calls exactly once: with the reply, or with NULL when the context
// goes away); the deadline timer's handler holds only a weak_ptr. So the op lives until hiredis
// is done with it, even after a timeout completed the caller, and a late reply finds `done`.
struct connection::command_op {
    command_op(handler_type h, const executor_type& strand)
        : handler(std::move(h)),
          work(boost::asio::prefer(boost::asio::get_associated_executor(handler, strand),
                                   boost::asio::execution::outstanding_work.tracked)),
          timer(strand) {}

    handler_type handler;
    // Keeps the handler's execution context running until the completion is posted.
    std::optional<boost::asio::any_completion_executor> work;
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>,
                                      executor_type>
        timer;
    connection* owner = nullptr;
    bool done = false;  // completion posted; strand only
};

namespace {

// argv/argvlen for redisAsyncCommandArgv without allocating for short commands.
class argv_view {
public:
    explicit argv_view(const std::vector<std::string>& args) {
        if (args.size() > inline_capacity) {
            heap_argv_.resize(args.size());
            heap_lengths_.resize(args.size());
        }
        const char** argv = data();
        std::size_t* lengths = lengths_data();
        for (std::size_t i = 0; i < args.size(); ++i) {
            argv[i] = args[i].data();
            lengths[i] = args[i].size();
        }
        size_ = static_cast<int>(args.size());
    }
    const char** data() { return heap_argv_.empty() ? inline_argv_.data() : heap_argv_.data(); }
    std::size_t* lengths_data() {
        return heap_lengths_.empty() ? inline_lengths_.data() : heap_lengths_.data();
    }
    int size() const { return size_; }

private:
    static constexpr std::size_t inline_capacity = 8;
    std::array<const char*, inline_capacity> inline_argv_{};
    std::array<std::size_t, inline_capacity> inline_lengths_{};
    std::vector<const char*> heap_argv_;
    std::vector<std::size_t> heap_lengths_;
    int size_ = 0;
};

// Posts the completion through the strand, so it never runs inside hiredis or inside
// async_command; Asio then dispatches it to the handler's associated executor.
void post_completion(const connection::executor_type& strand, connection::handler_type handler,
                     boost::system::error_code ec, reply r) {
    boost::asio::post(strand, boost::asio::append(std::move(handler), ec, std::move(r)));
}

}  // namespace

std::shared_ptr<connection> connection::create(boost::asio::io_context::executor_type executor,
                                               endpoint ep, connection_options options,
                                               std::shared_ptr<breaker> shared_breaker) {
    auto self = std::make_shared<connection>(private_tag{}, executor, std::move(ep), options,
                                             std::move(shared_breaker));
    self->link_->start(self->weak_from_this());
    return self;
}

connection::connection(private_tag, boost::asio::io_context::executor_type executor, endpoint ep,
                       connection_options options, std::shared_ptr<breaker> shared_breaker)
    : strand_(boost::asio::make_strand(executor)),
      options_(options),
      breaker_(shared_breaker ? std::move(shared_breaker)
                              : std::make_shared<breaker>(options.breaker)) {
    link_ = std::make_unique<detail::link>(
        strand_, std::move(ep), options.link,
        detail::link::callbacks{.on_ready = [this](redisAsyncContext*) { timeouts_in_row_ = 0; },
                                .on_lost = {}});
}

connection::~connection() {
    // No handler can be running: each locks the connection first. Freeing the context
    // completes every command still in flight (with operation_aborted).
    closing_ = true;
    link_->stop();
}

bool connection::connected() const noexcept { return link_->connected(); }

std::uint64_t connection::connects() const noexcept { return link_->connects(); }

void connection::close() {
    boost::asio::post(strand_, [self = shared_from_this()] {
        self->closing_ = true;
        self->link_->stop();
    });
}

void connection::start_command(std::vector<std::string> args,
                               std::chrono::steady_clock::time_point deadline,
                               handler_type handler) {
    if (args.empty()) {
        post_completion(strand_, std::move(handler), error::protocol, {});
        return;
    }
    if (!breaker_->allow()) {
        post_completion(strand_, std::move(handler), error::breaker_open, {});
        return;
    }
    if (!link_->connected()) {
        // Fail fast: nothing waits for a reconnect.
        record(error::disconnected);
        post_completion(strand_, std::move(handler), error::disconnected, {});
        return;
    }
    auto op = std::make_shared<command_op>(std::move(handler), strand_);
    op->owner = this;
    boost::asio::post(strand_, [self = shared_from_this(), op = std::move(op),
                                args = std::move(args), deadline]() mutable {
        self->send(op, args);
        if (!op->done) {
            op->timer.expires_at(deadline);
            op->timer.async_wait([weak_self = self->weak_from_this(),
                                  weak_op = std::weak_ptr<command_op>(op)](
                                     const boost::system::error_code& ec) {
                if (ec) {
                    return;  // cancelled: the reply came first
                }
                auto keep = weak_self.lock();
                auto timed_out = weak_op.lock();
                if (keep && timed_out && !timed_out->done) {
                    keep->on_timeout(*timed_out);
                }
            });
        }
    });
}

void connection::send(const std::shared_ptr<command_op>& op, const std::vector<std::string>& args) {
    redisAsyncContext* ac = link_->context();
    if (ac == nullptr || closing_) {
        complete(*op, closing_ ? boost::asio::error::operation_aborted
                               : make_error_code(error::disconnected),
                 {});
        return;
    }
    argv_view argv(args);
    auto* privdata = new std::shared_ptr<command_op>(op);
    if (redisAsyncCommandArgv(ac, &connection::handle_reply, privdata, argv.size(), argv.data(),
                              argv.lengths_data()) != REDIS_OK) {
        delete privdata;  // hiredis did not take it: the context is shutting down
        complete(*op, error::disconnected, {});
    }
}

void connection::handle_reply(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
    const std::unique_ptr<std::shared_ptr<command_op>> holder(
        static_cast<std::shared_ptr<command_op>*>(privdata));
    command_op& op = **holder;
    op.owner->on_reply(op, reply);
}

void connection::on_reply(command_op& op, const void* raw) {
    if (raw != nullptr) {
        timeouts_in_row_ = 0;  // even a late reply proves the server is alive
    }
    if (op.done) {
        return;  // already timed out: the late reply is dropped
    }
    if (raw == nullptr) {
        complete(op,
                 closing_ ? boost::asio::error::operation_aborted
                          : make_error_code(error::disconnected),
                 {});
        return;
    }
    complete(op, {}, detail::copy_reply(*static_cast<const redisReply*>(raw)));
}

void connection::on_timeout(command_op& op) {
    complete(op, error::timeout, {});
    if (options_.drop_after_timeouts != 0 && ++timeouts_in_row_ >= options_.drop_after_timeouts) {
        // Nothing came back for several deadlines: presume the TCP connection dead and replace
        // it. Not inside hiredis here, so the context is freed at once.
        timeouts_in_row_ = 0;
        link_->drop();
    }
}

void connection::complete(command_op& op, boost::system::error_code ec, reply r) {
    op.done = true;
    op.timer.cancel();
    record(ec);
    post_completion(strand_, std::move(op.handler), ec, std::move(r));
    op.work.reset();
}

void connection::record(const boost::system::error_code& ec) {
    if (!ec) {
        breaker_->on_success();
    } else if (ec != error::breaker_open) {
        breaker_->on_failure();
    }
}

}  // namespace pulsestream::redis
