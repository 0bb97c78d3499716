#pragma once

/// @file
/// A Redis pub/sub subscriber on a dedicated connection that survives Redis restarts.

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "pulsestream/redis/endpoint.hpp"
#include "pulsestream/redis/options.hpp"

struct redisAsyncContext;

namespace pulsestream::redis {

namespace detail {
class link;
}

/// One connection in SUBSCRIBE mode and the set of channels it should be subscribed to.
///
/// subscribe()/unsubscribe() change that set; whenever the connection is (re)established, for
/// example after a Redis restart, it subscribes to every channel of the set again. Messages
/// published while the connection is down are lost (pub/sub has no backlog). Replies are read as
/// soon as they arrive (Redis disconnects a subscriber whose output buffer grows too large; that
/// is just one more reconnect here).
///
/// **Message handler.** Called once per message, on this subscriber's strand, inside hiredis'
/// read loop: `channel` and `message` point into hiredis' reply and are valid only during the
/// call. It must be quick and must not block: copy what it needs and hand it off (post). It may
/// call subscribe()/unsubscribe(). An exception it throws must not cross hiredis: it is caught,
/// the message is dropped and state_handlers::handler_failed hears of it. unsubscribe() takes
/// effect on the strand a moment after the call; from then on no message of that channel reaches
/// the handler, not even one Redis sent before confirming.
///
/// **Threading/lifetime.** Made by create(); all public members are thread-safe. Destroying the
/// last shared_ptr, or close(), closes the connection; the handler is not called afterwards
/// (after close(): once the close has reached the strand). Destroy it before its io_context.
class subscriber : public std::enable_shared_from_this<subscriber> {
    struct private_tag {
        explicit private_tag() = default;
    };

public:
    using executor_type = boost::asio::strand<boost::asio::io_context::executor_type>;
    using message_handler =
        std::function<void(std::string_view channel, std::string_view message)>;

    /// Optional handlers for the subscription's own state, called on the strand like the
    /// message handler and with the same rules.
    struct state_handlers {
        /// Redis confirmed the SUBSCRIBE of `channel`: messages published from now on arrive.
        /// Called again after every reconnect.
        std::function<void(std::string_view channel)> subscribed;
        /// The connection is gone: no channel is subscribed until `subscribed` says so again.
        std::function<void()> lost;
        /// Another handler threw (its message was dropped, or its event went unhandled);
        /// `what` is the exception's what(), or "unknown exception". For the owner's log: this
        /// library has none. An exception from here is swallowed.
        std::function<void(std::string_view what)> handler_failed;
    };

    /// Starts connecting at once on a new strand of `executor`.
    static std::shared_ptr<subscriber> create(boost::asio::io_context::executor_type executor,
                                              endpoint ep, message_handler handler,
                                              link_options options = {},
                                              state_handlers on_state = {});

    /// Use create().
    subscriber(private_tag, boost::asio::io_context::executor_type executor, endpoint ep,
               message_handler handler, link_options options, state_handlers on_state);
    subscriber(const subscriber&) = delete;
    subscriber& operator=(const subscriber&) = delete;
    ~subscriber();

    /// Adds `channel` to the set (SUBSCRIBE now if connected, else on connect). Thread-safe;
    /// asynchronous: Redis confirms a moment later. Subscribing twice is harmless.
    void subscribe(std::string channel);
    /// Removes `channel` from the set (UNSUBSCRIBE if connected). Thread-safe.
    void unsubscribe(std::string channel);

    /// True while connected (and the channel set has been sent). Thread-safe.
    [[nodiscard]] bool connected() const noexcept;
    /// How often the connection became usable (1 after the first connect). Thread-safe.
    [[nodiscard]] std::uint64_t connects() const noexcept;
    /// Stops reconnecting and closes the connection; no more handler calls. Thread-safe.
    void close();

    [[nodiscard]] executor_type get_executor() const noexcept { return strand_; }

private:
    static void handle_message(redisAsyncContext* ac, void* reply, void* privdata);

    void on_ready(redisAsyncContext* ac);
    void on_message(const void* reply);
    void on_confirmation(std::string_view kind, std::string_view channel);
    void on_lost();
    void send(redisAsyncContext* ac, std::string_view command,
              const std::set<std::string, std::less<>>& channels);

    executor_type strand_;
    message_handler handler_;
    state_handlers on_state_;
    std::set<std::string, std::less<>> channels_;  // strand only
    bool closed_ = false;                          // strand only
    std::unique_ptr<detail::link> link_;
};

}  // namespace pulsestream::redis
