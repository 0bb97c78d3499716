#pragma once

/// @file
/// The HTTP/1.1 server: one acceptor per io_context of an io_pool (SO_REUSEPORT, so the kernel
/// spreads connections over the threads), one coroutine per connection with keep-alive, bounded
/// header and body sizes, timeouts for the header, the body, idle keep-alive and the write
/// (slowloris), a connection cap, and graceful draining.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pulsestream/http/exchange.hpp"
#include "pulsestream/http/io_pool.hpp"

namespace pulsestream::http {

struct server_options {
    std::string host = "0.0.0.0";
    std::uint16_t port = 0;  ///< 0 picks a free port; see server::port()
    std::size_t max_connections = 10'000;
    std::uint32_t header_limit = 16 * 1024;
    std::uint64_t body_limit = 1024 * 1024;  ///< bytes on the wire (before any decompression)
    /// Reading a header: a new connection's from its accept, a keep-alive connection's from
    /// the first byte of its next request.
    std::chrono::milliseconds header_timeout{10'000};
    std::chrono::milliseconds idle_timeout{60'000};  ///< waiting for a keep-alive's next request
    std::chrono::milliseconds body_timeout{30'000};
    std::chrono::milliseconds write_timeout{30'000};
    /// Fields that must not be repeated (besides Host and Content-Type, always checked): a
    /// request with one of them on two lines gets 400 `malformed_request` (request_framing.hpp).
    std::vector<std::string> single_value_fields;
};

/// Answers one request. Runs on the connection's io_context thread; must not block it.
/// An exception escaping it becomes a 500 `internal_error` and is reported to the observer.
using request_handler = std::function<boost::asio::awaitable<response>(exchange&)>;

/// Sees every request, for metrics and logs. Called on io_context threads: thread-safe.
class request_observer {
public:
    virtual ~request_observer() = default;
    /// A request's header was read; every call is matched by one on_request_finished().
    virtual void on_request_started() {}
    virtual void on_request_finished(const exchange& ex, unsigned status,
                                     std::chrono::steady_clock::duration elapsed) = 0;
    /// A handler threw: a bug. Called once per occurrence with the exception's text.
    virtual void on_handler_exception(const exchange& ex, const char* what) = 0;
};

class server {
public:
    /// `pool` and `observer` must outlive the server and its connections.
    server(io_pool& pool, server_options options, request_handler handler,
           std::shared_ptr<request_observer> observer);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds and starts accepting on every io_context. Throws boost::system::system_error when
    /// the address cannot be bound. Call once, before or after the pool started.
    void listen();
    /// The bound port (after listen()).
    [[nodiscard]] std::uint16_t port() const noexcept;
    /// Stops accepting and closes idle connections; requests in flight finish and their
    /// connections close after the response. Thread-safe, idempotent.
    void drain();
    /// Open connections right now.
    [[nodiscard]] std::size_t connections() const noexcept;
    /// True once drain() has taken effect completely: every accept loop and every connection
    /// has ended. Wait for it before stopping the io_pool, so nothing of the server is left to
    /// be destroyed together with an io_context.
    [[nodiscard]] bool idle() const noexcept;
    /// Blocks until idle() or the deadline; returns idle(). Never call it on an io thread.
    bool wait_idle(std::chrono::milliseconds deadline) const;

    struct state;

private:
    std::shared_ptr<state> state_;
};

}  // namespace pulsestream::http
