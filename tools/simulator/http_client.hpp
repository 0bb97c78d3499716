#pragma once

// A keep-alive HTTP/1.1 client connection to one gateway, for C++20 coroutines.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "endpoint.hpp"

namespace pulsestream::simulator {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using http_request = bhttp::request<bhttp::string_body>;
using http_response = bhttp::response<bhttp::string_body>;

/// The outcome of one exchange: a complete response, or the error that prevented one.
struct http_result {
    boost::system::error_code error;  ///< set when no complete response was read
    http_response response;           ///< meaningful only without `error`
    std::chrono::steady_clock::duration latency{};

    [[nodiscard]] bool ok() const { return !error; }
    [[nodiscard]] unsigned status() const { return error ? 0 : response.result_int(); }
    [[nodiscard]] const std::string& body() const { return response.body(); }
    /// The header's value, empty when absent.
    [[nodiscard]] std::string header(std::string_view name) const;
    /// "202", "409", ... or "error: <message>" (for reports).
    [[nodiscard]] std::string describe() const;
};

/// One TCP connection to `endpoint`, opened on first use and reopened after errors.
///
/// `send` sets the Host header and the content length, writes the request and reads the
/// response within `timeout` (connecting included). A request sent on a kept-alive connection
/// that the server had meanwhile closed is sent once more on a fresh connection: every POST
/// of the simulator carries an Idempotency-Key, so a second copy is harmless.
///
/// Thread-safety: one coroutine at a time per connection; the executor must not be run by
/// several threads unless it is a strand. Movable only before first use.
class http_connection {
public:
    http_connection(net::any_io_executor executor, endpoint target);

    [[nodiscard]] net::awaitable<http_result> send(http_request request,
                                                   std::chrono::milliseconds timeout);

    /// Closes the socket (a later send reconnects).
    void close();

    [[nodiscard]] const endpoint& target() const { return target_; }

private:
    net::awaitable<boost::system::error_code> connect();
    net::awaitable<http_result> exchange(const http_request& request);

    endpoint target_;
    net::ip::tcp::resolver resolver_;
    net::ip::tcp::resolver::results_type addresses_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    bool connected_ = false;
};

}  // namespace pulsestream::simulator
