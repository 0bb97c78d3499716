#pragma once

/// @file
/// One HTTP request in progress on a server connection, handed to the request handler after
/// the header has been read and before the body is.
///
/// Reading the header first lets a handler refuse a request (401, 404, 405, 415, 413) without
/// reading, buffering or parsing a body it will never use (DESIGN.md §10, defect 8).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/http/connection_slot.hpp"

namespace pulsestream::http {

namespace beast = boost::beast;
using request = beast::http::request<beast::http::string_body>;
using response = beast::http::response<beast::http::string_body>;

/// A connection taken over from the server (exchange::take_over): its socket, and its place
/// under the server's connection cap, held until `slot` is destroyed.
struct taken_connection {
    boost::asio::ip::tcp::socket socket;
    connection_slot slot;
};

/// Lives on the connection's coroutine frame; use it only from the handler it is passed to.
class exchange {
public:
    /// `connections`: the server's count of open connections, in which a taken-over
    /// connection keeps counting; must outlive the exchange (it lives with the connection).
    exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
             beast::http::request_parser<beast::http::string_body>& parser,
             std::uint64_t body_limit, std::chrono::milliseconds body_timeout,
             const std::shared_ptr<std::atomic<std::size_t>>& connections)
        : stream_(stream),
          buffer_(buffer),
          parser_(parser),
          body_limit_(body_limit),
          body_timeout_(body_timeout),
          connections_(connections) {}

    /// The request line and headers. The body is empty until read_body() completed.
    [[nodiscard]] const request& message() const { return parser_.get(); }
    [[nodiscard]] beast::http::verb method() const { return message().method(); }
    /// The request target without its query string.
    [[nodiscard]] std::string_view path() const;
    /// The query string after '?', or empty.
    [[nodiscard]] std::string_view query() const;

    /// Reads the whole body, bounded by the server's body limit and body timeout.
    /// Errors: beast::http::error::body_limit when the body is larger than the limit;
    /// beast::error::timeout when it did not arrive within the body timeout (the socket stays
    /// open, so the handler's answer still reaches the client); any read error. After an error
    /// the connection is closed after the response. body_failure() names the answer.
    boost::asio::awaitable<boost::system::error_code> read_body();
    /// The status-table row for a read_body() error: 413 payload_too_large, 408
    /// request_timeout, or 400 malformed_request (a body that broke off, a bad chunk).
    [[nodiscard]] static core::errc body_failure(const boost::system::error_code& ec);
    /// The body read by read_body().
    [[nodiscard]] const std::string& body() const { return parser_.get().body(); }
    /// Moves the body out (after read_body()).
    [[nodiscard]] std::string take_body() { return std::move(parser_.get().body()); }

    /// True when the connection may carry another request after this one: the body was read
    /// completely (or there was none) and nothing failed.
    [[nodiscard]] bool reusable() const { return parser_.is_done() && !failed_; }

    /// The route's label for metrics: from the route table, never the raw path (defect 9).
    void set_route_label(std::string_view label) { route_label_ = label; }
    [[nodiscard]] std::string_view route_label() const { return route_label_; }

    /// Takes the connection over for another protocol (the WebSocket upgrade): returns its
    /// socket and its place under the connection cap. The server then writes no response,
    /// reads nothing more and does not drain the connection; the new owner answers and closes
    /// it, and the server counts it until the returned slot is destroyed. The response the
    /// handler returns only goes to the request observer (use 101). Bytes the server read
    /// beyond the request header are dropped (a WebSocket client waits for the 101 before it
    /// sends). Call at most once, from the handler, before reading the body.
    [[nodiscard]] taken_connection take_over();
    /// True after take_over().
    [[nodiscard]] bool taken_over() const { return taken_over_; }

private:
    beast::tcp_stream& stream_;
    beast::flat_buffer& buffer_;
    beast::http::request_parser<beast::http::string_body>& parser_;
    std::uint64_t body_limit_;
    std::chrono::milliseconds body_timeout_;
    bool failed_ = false;
    bool taken_over_ = false;
    std::string_view route_label_ = "unmatched";
    const std::shared_ptr<std::atomic<std::size_t>>& connections_;
};

}  // namespace pulsestream::http
