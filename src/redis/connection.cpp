#include "pulsestream/redis/connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>

#include <optional>

#include "link.hpp"
#include "reply_copy.hpp"

namespace pulsestream::redis {

// One command in flight. Ownership: from the moment it is handed to hiredis until hiredis calls
// handle_reply (exactly once: with the reply, or with NULL when the context goes away) the
// connection's in_flight_ list holds it, and hiredis' privdata is the raw pointer. So the op
// lives until hiredis is done with it, even after a timeout completed the caller, and a late
// reply finds `done`. Deadlines are watched by one timer per connection (sweep()), not one per
// command.
struct connection::command_op {
    command_op(handler_type h, const executor_type& strand,
               std::chrono::steady_clock::time_point at)
        : handler(std::move(h)),
          work(boost::asio::prefer(boost::asio::get_associated_executor(handler, strand),
                                   boost::asio::execution::outstanding_work.tracked)),
          deadline(at) {}

    handler_type handler;
    // Keeps the handler's execution context running until the completion is posted.
    std::optional<boost::asio::any_completion_executor> work;
    std::chrono::steady_clock::time_point deadline;
    connection* owner = nullptr;
    bool done = false;  // completion posted; strand only
};

namespace {

// Posts the completion, so it never runs inside hiredis or inside async_command; once it runs,
// it is dispatched to `executor`, the handler's associated executor (the strand when it has
// none). It is posted to the strand's io_context rather than to the strand: the completion
// needs no serialisation with this connection, and the strand would cost a lock and a hop per
// command. (Not posted to `executor` itself: type-erased, that one may run it inline.)
void post_completion(const connection::executor_type& strand,
                     boost::asio::any_completion_executor executor,
                     connection::handler_type handler, boost::system::error_code ec, reply r) {
    boost::asio::post(strand.get_inner_executor(),
                      boost::asio::bind_executor(
                          std::move(executor),
                          boost::asio::append(std::move(handler), ec, std::move(r))));
}

void post_completion(const connection::executor_type& strand, connection::handler_type handler,
                     boost::system::error_code ec, reply r) {
    auto executor = boost::asio::get_associated_executor(handler, strand);
    post_completion(strand, std::move(executor), std::move(handler), ec, std::move(r));
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
                              : std::make_shared<breaker>(options.breaker)),
      sweep_timer_(strand_) {
    link_ = std::make_unique<detail::link>(
        strand_, std::move(ep), options.link,
        detail::link::callbacks{
            .on_ready = [this](redisAsyncContext*) { timeouts_in_row_ = 0; },
            .on_lost = {},
            .read_round = {.begin = [this] { in_read_round_ = true; },
                           .end = [this] { deliver_read_round(); }}});
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

void connection::start_command(formatted_command command,
                               std::chrono::steady_clock::time_point deadline,
                               handler_type handler) {
    if (command.args == 0) {
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
    auto op = std::make_shared<command_op>(std::move(handler), strand_, deadline);
    op->owner = this;
    bool first = false;
    {
        const std::lock_guard lock(outbox_mutex_);
        first = outbox_.empty();
        outbox_.push_back({std::move(op), std::move(command)});
    }
    // Commands issued while a send is already on its way (e.g. by the coroutines resumed by one
    // read) ride along with it: one trip to the strand for all of them, in issue order.
    if (first) {
        boost::asio::post(strand_, [self = shared_from_this()] { self->send_outbox(); });
    }
}

void connection::send_outbox() {
    {
        const std::lock_guard lock(outbox_mutex_);
        std::swap(outbox_, sending_);
    }
    std::optional<std::chrono::steady_clock::time_point> earliest;
    for (auto& [op, command] : sending_) {
        if (!earliest || op->deadline < *earliest) earliest = op->deadline;
        send(std::move(op), command);
    }
    sending_.clear();
    if (earliest) watch(*earliest);
}

void connection::send(std::shared_ptr<command_op> op, const formatted_command& command) {
    redisAsyncContext* ac = link_->context();
    if (ac == nullptr || closing_) {
        complete(*op, closing_ ? boost::asio::error::operation_aborted
                               : make_error_code(error::disconnected),
                 {});
        return;
    }
    command_op* raw = op.get();
    in_flight_.push_back(std::move(op));
    if (redisAsyncFormattedCommand(ac, &connection::handle_reply, raw, command.resp.data(),
                                   command.resp.size()) != REDIS_OK) {
        // hiredis did not take it (the context is shutting down).
        const auto mine = take_in_flight(raw);
        complete(*mine, error::disconnected, {});
    }
}

std::shared_ptr<connection::command_op> connection::take_in_flight(const command_op* op) {
    // Replies come in send order, so it is the front but for a refused send (the back).
    for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
        if (it->get() == op) {
            auto taken = std::move(*it);
            in_flight_.erase(it);
            return taken;
        }
    }
    return nullptr;
}

void connection::watch(std::chrono::steady_clock::time_point deadline) {
    if (sweep_at_ && *sweep_at_ <= deadline) {
        return;  // the timer fires earlier anyway and re-arms for what is left
    }
    sweep_at_ = deadline;
    sweep_timer_.expires_at(deadline);  // cancels a later wait, which then does nothing
    sweep_timer_.async_wait([weak_self = weak_from_this()](const boost::system::error_code& ec) {
        if (ec) {
            return;
        }
        if (auto self = weak_self.lock()) {
            self->sweep();
        }
    });
}

void connection::sweep() {
    sweep_at_.reset();
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<command_op>> expired;
    std::optional<std::chrono::steady_clock::time_point> next;
    for (const auto& op : in_flight_) {
        if (op->done) {
            continue;
        }
        if (op->deadline <= now) {
            expired.push_back(op);
        } else if (!next || op->deadline < *next) {
            next = op->deadline;
        }
    }
    // on_timeout may drop the context, which completes (and removes) everything in flight.
    for (const auto& op : expired) {
        if (!op->done) {
            on_timeout(*op);
        }
    }
    if (next && !in_flight_.empty()) {
        watch(*next);
    }
}

void connection::handle_reply(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
    auto* op = static_cast<command_op*>(privdata);
    connection* self = op->owner;
    const auto keep = self->take_in_flight(op);
    self->on_reply(*op, reply);
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
    record(ec);
    if (in_read_round_) {
        read_round_done_.push_back(
            {std::move(*op.work), std::move(op.handler), ec, std::move(r)});
    } else {
        post_completion(strand_, std::move(*op.work), std::move(op.handler), ec, std::move(r));
    }
    op.work.reset();
}

// Replies are the hot path: a round of reads often completes several commands, and posting
// each completion would cost one more trip through the scheduler per command. After hiredis has
// returned they run through their own executors instead: inline when that executor is running
// on this thread (a coroutine on this io_context, or this strand), queued to it otherwise. So a
// completion still never runs inside hiredis, nor on a thread its executor does not allow.
void connection::deliver_read_round() {
    in_read_round_ = false;
    if (read_round_done_.empty()) {
        return;
    }
    // The handlers may send commands (completed in a later round) or close this connection;
    // the caller (the read handler) keeps it alive until it returns.
    std::swap(read_round_done_, delivering_);
    for (auto& done : delivering_) {
        done.executor.execute([handler = std::move(done.handler), ec = done.ec,
                               result = std::move(done.result)]() mutable {
            std::move(handler)(ec, std::move(result));
        });
    }
    delivering_.clear();
}

void connection::record(const boost::system::error_code& ec) {
    if (!ec) {
        breaker_->on_success();
    } else if (ec != error::breaker_open) {
        breaker_->on_failure();
    }
}

}  // namespace pulsestream::redis
