#pragma once

// Private: one self-healing hiredis connection (resolve, connect, AUTH/SELECT, reconnect with
// backoff) shared by `connection` and `subscriber`.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "asio_adapter.hpp"
#include "pulsestream/redis/endpoint.hpp"
#include "pulsestream/redis/options.hpp"

struct redisAsyncContext;

namespace pulsestream::redis::detail {

/// Keeps one redisAsyncContext connected to `endpoint`. The owner (a `connection` or
/// `subscriber`, held by shared_ptr) passes itself to start() as a weak_ptr: every asynchronous
/// handler locks it first, so a link never runs after its owner is gone, and the owner's
/// destructor (which calls stop()) never races a handler.
///
/// Everything except connected()/connects() runs on the strand (or in the owner's destructor).
/// The callbacks also run on the strand, inside hiredis:
///  - on_ready(ac): connected, AUTH and SELECT done and a PING answered; the owner may send
///    commands on `ac`.
///  - on_lost(): the context is being torn down (pending callbacks already got NULL replies);
///    the owner must not call hiredis from it. A reconnect follows unless stopped.
class link {
public:
    struct callbacks {
        std::function<void(redisAsyncContext*)> on_ready;
        std::function<void()> on_lost;
        read_round_hooks read_round;  // around each round of reads (asio_adapter.hpp)
    };

    link(strand_type strand, endpoint ep, link_options options, callbacks cbs);
    link(const link&) = delete;
    link& operator=(const link&) = delete;
    ~link();

    /// First connect attempt, posted to the strand. Call once.
    void start(std::weak_ptr<void> owner);
    /// No more reconnects; frees the context now (its pending callbacks get NULL replies).
    /// Must not be called from inside a hiredis callback.
    void stop();
    /// Frees the context and reconnects after the backoff (a stalled connection). Strand only,
    /// not from inside a hiredis callback.
    void drop();

    /// The usable context, or nullptr while connecting/handshaking/disconnected.
    [[nodiscard]] redisAsyncContext* context() const noexcept { return ready_ ? ac_ : nullptr; }
    [[nodiscard]] bool stopped() const noexcept { return stopped_; }
    /// Any thread.
    [[nodiscard]] bool connected() const noexcept {
        return connected_.load(std::memory_order_acquire);
    }
    /// Number of times the link became usable (first connect included). Any thread.
    [[nodiscard]] std::uint64_t connects() const noexcept {
        return connects_.load(std::memory_order_relaxed);
    }

private:
    static void handle_connect(const redisAsyncContext* ac, int status);
    static void handle_handshake_reply(redisAsyncContext* ac, void* reply, void* privdata);

    void connect();
    void connect_to(const std::string& address);
    void on_connected();
    void on_handshake_reply(const void* reply);
    void become_ready();
    void on_cleanup();
    void attempt_failed();
    void schedule_reconnect();

    strand_type strand_;
    endpoint endpoint_;
    link_options options_;
    callbacks callbacks_;
    std::weak_ptr<void> owner_;
    asio_adapter adapter_;
    boost::asio::ip::basic_resolver<boost::asio::ip::tcp, strand_type> resolver_;
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>,
                                      strand_type>
        connect_timer_;
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>,
                                      strand_type>
        reconnect_timer_;
    redisAsyncContext* ac_ = nullptr;
    bool ready_ = false;
    bool stopped_ = false;
    int handshake_pending_ = 0;
    std::uint64_t attempt_ = 0;
    std::chrono::milliseconds backoff_;
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> connects_{0};
};

}  // namespace pulsestream::redis::detail
