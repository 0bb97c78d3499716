#pragma once

/// @file
/// An asynchronous Redis command connection: hiredis' async API driven by Boost.Asio, with a
/// deadline on every command, automatic reconnects and a circuit breaker.

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pulsestream/redis/breaker.hpp"
#include "pulsestream/redis/command.hpp"
#include "pulsestream/redis/endpoint.hpp"
#include "pulsestream/redis/error.hpp"
#include "pulsestream/redis/options.hpp"
#include "pulsestream/redis/reply.hpp"

struct redisAsyncContext;

namespace pulsestream::redis {

namespace detail {
class link;
}

/// Tuning of a connection.
struct connection_options {
    link_options link;
    /// Used to build the connection's own breaker when none is shared with it.
    breaker_options breaker;
    /// After this many command timeouts in a row with no reply in between, the connection is
    /// presumed dead (half-open TCP, hung server) and replaced by a new one; 0 never.
    unsigned drop_after_timeouts = 3;
};

/// One Redis connection for request/reply commands.
///
/// **Lifecycle.** Made by create(), which starts connecting at once (non-blocking; host names
/// are resolved off the io thread). After every disconnect (Redis restart, network error, stalled
/// connection) it reconnects by itself with bounded exponential backoff, and sends AUTH/SELECT
/// from the endpoint on every connect. While it is not connected commands fail at once with
/// `error::disconnected`: nothing waits for a reconnect. Destroying the last shared_ptr, or
/// close(), frees the hiredis context: commands still in flight complete with
/// `boost::asio::error::operation_aborted`. Internal handlers hold the connection only weakly, so
/// dropping it is enough; nothing outlives it except completions already posted. Destroy it
/// before its io_context (the io threads may have stopped by then).
///
/// **Threading.** The connection owns a strand on the given io_context; every hiredis call, hook
/// and callback runs on it, so no io thread ever blocks. All public members are thread-safe.
///
/// **Commands.** async_command() sends one command and completes exactly once with
/// `(error_code, reply)`:
///  - success: `ec` is empty and `reply` holds the owned copy of Redis' answer, which may be
///    `reply::kind::error` (WRONGTYPE, NOAUTH, ...): a Redis error reply is not an error_code;
///  - `error::timeout` when `deadline` (counted from initiation) passes first; the late reply is
///    read and dropped when it comes;
///  - `error::disconnected` when not connected or the connection broke mid-flight;
///  - `error::breaker_open` when the breaker refuses (the command is not sent);
///  - `error::protocol` for an empty argument list;
///  - `operation_aborted` when the connection is closed or destroyed.
///
/// The completion never runs inside async_command or inside hiredis, and runs on the handler's
/// associated executor, by default this connection's strand. Failures are posted; a reply runs
/// through that executor right after the read that brought it (inline when the executor is
/// running on the reading thread, e.g. a coroutine on the same single-threaded io_context,
/// saving a trip through the scheduler per command). Works with
/// any completion token: callbacks, `boost::asio::use_awaitable`,
/// `boost::asio::as_tuple(boost::asio::use_awaitable)`, `use_future`. In coroutines build the
/// arguments with `redis::command(...)` (command.hpp): g++ 12 rejects a braced list of strings
/// inside a `co_await` expression.
class connection : public std::enable_shared_from_this<connection> {
    struct private_tag {
        explicit private_tag() = default;
    };

public:
    using executor_type = boost::asio::strand<boost::asio::io_context::executor_type>;
    using completion_signature = void(boost::system::error_code, reply);
    using handler_type = boost::asio::any_completion_handler<completion_signature>;

    /// Starts connecting to `ep` on a new strand of `executor`. `shared_breaker` lets several
    /// connections (a pool) share one breaker; when null the connection makes its own from
    /// `options.breaker`.
    static std::shared_ptr<connection> create(boost::asio::io_context::executor_type executor,
                                              endpoint ep, connection_options options = {},
                                              std::shared_ptr<breaker> shared_breaker = nullptr);

    /// Use create().
    connection(private_tag, boost::asio::io_context::executor_type executor, endpoint ep,
               connection_options options, std::shared_ptr<breaker> shared_breaker);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    /// Frees the hiredis context (see Lifecycle). May run on any thread.
    ~connection();

    /// Sends `args` (command name first, binary-safe) and completes with
    /// `void(boost::system::error_code, reply)` within `deadline`. Thread-safe.
    template <boost::asio::completion_token_for<completion_signature> CompletionToken>
    auto async_command(std::vector<std::string> args, std::chrono::milliseconds deadline,
                       CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, completion_signature>(
            [this](auto handler, std::vector<std::string> command,
                   std::chrono::milliseconds timeout) {
                start_command(format_command(command), std::chrono::steady_clock::now() + timeout,
                              handler_type(std::move(handler)));
            },
            token, std::move(args), deadline);
    }

    /// The same for a command built by `format_command` (command.hpp): no argument vector, no
    /// formatting on the way out. An empty command (`args == 0`) is `error::protocol`.
    template <boost::asio::completion_token_for<completion_signature> CompletionToken>
    auto async_command(formatted_command command, std::chrono::milliseconds deadline,
                       CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, completion_signature>(
            [this](auto handler, formatted_command c, std::chrono::milliseconds timeout) {
                start_command(std::move(c), std::chrono::steady_clock::now() + timeout,
                              handler_type(std::move(handler)));
            },
            token, std::move(command), deadline);
    }

    /// True while connected, authenticated and answering (the server answered the PING sent on
    /// connect). Thread-safe.
    [[nodiscard]] bool connected() const noexcept;
    /// How often the connection became usable (1 after the first connect). Thread-safe.
    [[nodiscard]] std::uint64_t connects() const noexcept;
    /// Stops reconnecting and frees the context on the strand; in-flight commands complete with
    /// `operation_aborted`, later ones with `disconnected`. Idempotent, thread-safe.
    void close();

    [[nodiscard]] executor_type get_executor() const noexcept { return strand_; }
    [[nodiscard]] const std::shared_ptr<breaker>& circuit_breaker() const noexcept {
        return breaker_;
    }

private:
    struct command_op;

    static void handle_reply(redisAsyncContext* ac, void* reply, void* privdata);

    using timer_type =
        boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                          boost::asio::wait_traits<std::chrono::steady_clock>,
                                          executor_type>;

    void start_command(formatted_command command, std::chrono::steady_clock::time_point deadline,
                       handler_type handler);
    void send_outbox();
    void send(std::shared_ptr<command_op> op, const formatted_command& command);
    std::shared_ptr<command_op> take_in_flight(const command_op* op);
    void watch(std::chrono::steady_clock::time_point deadline);
    void sweep();
    void on_reply(command_op& op, const void* reply);
    void on_timeout(command_op& op);
    void complete(command_op& op, boost::system::error_code ec, reply r);
    void deliver_read_round();
    void record(const boost::system::error_code& ec);

    executor_type strand_;
    connection_options options_;
    std::shared_ptr<breaker> breaker_;
    std::unique_ptr<detail::link> link_;
    unsigned timeouts_in_row_ = 0;  // strand only
    bool closing_ = false;          // strand only
    // Commands handed to hiredis whose callback has not run yet, in send order (the order of
    // the replies). Timed-out ones stay until their late reply (or the context's end).
    std::deque<std::shared_ptr<command_op>> in_flight_;  // strand only
    // One timer for every deadline: armed at the earliest deadline of the commands in flight.
    timer_type sweep_timer_;
    std::optional<std::chrono::steady_clock::time_point> sweep_at_;  // strand only

    // A command completed while hiredis is parsing a round of reads; run after it returns.
    struct completed_command {
        boost::asio::any_completion_executor executor;  // the handler's, tracking work
        handler_type handler;
        boost::system::error_code ec;
        reply result;
    };
    // Commands waiting for the strand, in issue order; the first one posts send_outbox().
    struct outgoing_command {
        std::shared_ptr<command_op> op;
        formatted_command command;
    };
    std::mutex outbox_mutex_;
    std::vector<outgoing_command> outbox_;   // guarded by outbox_mutex_
    std::vector<outgoing_command> sending_;  // strand only; keeps its capacity

    bool in_read_round_ = false;                       // strand only
    std::vector<completed_command> read_round_done_;  // strand only
    std::vector<completed_command> delivering_;       // strand only; keeps its capacity
};

}  // namespace pulsestream::redis
