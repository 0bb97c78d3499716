#pragma once

// A blocking HTTP/1.1 test client over a real loopback socket. Every read has a receive
// timeout, so a server that never answers fails the test instead of hanging it.

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace pulsestream::test_support {

class http_client {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;
    using response = boost::beast::http::response<boost::beast::http::string_body>;

    explicit http_client(std::uint16_t port,
                         std::chrono::seconds receive_timeout = std::chrono::seconds(15))
        : socket_(ioc_) {
        socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
        timeval tv{static_cast<time_t>(receive_timeout.count()), 0};
        setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }

    response send(request req) {
        req.prepare_payload();
        boost::beast::http::write(socket_, req);
        return receive();
    }

    response receive() {
        response res;
        boost::beast::http::read(socket_, buffer_, res);
        return res;
    }

    /// The answer to a HEAD request: the header alone; its Content-Length describes a body that
    /// is not sent, so a body on the wire would be read as the next response.
    response receive_header_only() {
        boost::beast::http::response_parser<boost::beast::http::string_body> parser;
        parser.skip(true);
        boost::beast::http::read(socket_, buffer_, parser);
        return parser.release();
    }

    void write_raw(std::string_view bytes) {
        boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size()));
    }

    /// Half-closes: the server sees the end of the request stream, the answer can still come.
    void shutdown_send() { socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send); }

    /// True when the server closed the connection (EOF or reset) within the receive timeout.
    bool closed_by_server() {
        char byte;
        boost::system::error_code ec;
        socket_.read_some(boost::asio::buffer(&byte, 1), ec);
        return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
    }

    /// True when the server closed the connection, as closed_by_server() sees it, sooner than
    /// `bound` from now: a server timeout was applied, not a longer one.
    bool closed_by_server_within(std::chrono::steady_clock::duration bound) {
        const auto started = std::chrono::steady_clock::now();
        return closed_by_server() && std::chrono::steady_clock::now() - started < bound;
    }

private:
    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
};

inline http_client::request make_request(boost::beast::http::verb method, std::string target,
                                         std::string body = {}) {
    http_client::request req{method, target, 11};
    req.set(boost::beast::http::field::host, "localhost");
    req.body() = std::move(body);
    return req;
}

}  // namespace pulsestream::test_support
