#pragma once

// A WebSocket test client over a real loopback socket (Beast). The handshake is synchronous with
// a receive timeout; afterwards a thread of its own reads frames into a list the test polls with
// deadlines, so a server that goes quiet fails the test instead of hanging it.

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/wait.hpp"

namespace pulsestream::test_support {

struct ws_client_options {
    std::string target = "/v1/stream";
    std::vector<std::pair<std::string, std::string>> headers;
    /// SO_RCVBUF set before connecting (0 = the kernel's default): a small one makes a client
    /// that stops reading visible to the server after a few frames.
    int receive_buffer = 0;
    /// False: frames are not read until resume() (the client "stops reading").
    bool reading = true;
};

class ws_client {
public:
    using handshake_response = boost::beast::websocket::response_type;

    /// Connects to 127.0.0.1:`port` and completes the handshake; throws boost::system::system_error
    /// when the server refuses it (see attempt() to inspect a refusal).
    explicit ws_client(std::uint16_t port, ws_client_options options = {})
        : ws_(ioc_), reading_(options.reading) {
        handshake_response res;
        boost::system::error_code ec;
        connect(port, options, res, ec);
        if (ec) throw boost::system::system_error(ec, "websocket handshake");
        ws_.control_callback(
            [this](boost::beast::websocket::frame_type kind, boost::beast::string_view) {
                if (kind == boost::beast::websocket::frame_type::ping) {
                    std::lock_guard lock(mutex_);
                    ++pings_;
                }
            });
        if (reading_) boost::asio::post(ioc_, [this] { read(); });
        thread_ = std::thread([this] { ioc_.run(); });
    }

    /// The server's answer to an upgrade request: 101, or the refusal (status and JSON body).
    static handshake_response attempt(std::uint16_t port, ws_client_options options = {}) {
        ws_client probe(no_start{});
        handshake_response res;
        boost::system::error_code ec;
        probe.connect(port, options, res, ec);
        return res;
    }

    ~ws_client() {
        boost::asio::post(ioc_, [this] { boost::beast::get_lowest_layer(ws_).close(); });
        work_.reset();
        if (thread_.joinable()) thread_.join();
    }
    ws_client(const ws_client&) = delete;
    ws_client& operator=(const ws_client&) = delete;

    /// Starts reading (after options.reading = false).
    void resume() {
        boost::asio::post(ioc_, [this] {
            if (!reading_) {
                reading_ = true;
                read();
            }
        });
    }

    /// Sends a close frame with `code`; the server's reply (close_code()) ends the reading.
    void close(
        boost::beast::websocket::close_code code = boost::beast::websocket::close_code::normal) {
        boost::asio::post(ioc_, [this, code] {
            closing_ = true;
            ws_.async_close(code, [this](boost::system::error_code ec) {
                std::lock_guard lock(mutex_);
                ended_ = true;
                error_ = ec;
                if (!ec) close_code_ = ws_.reason().code;
            });
        });
    }

    [[nodiscard]] std::vector<std::string> frames() const {
        std::lock_guard lock(mutex_);
        return frames_;
    }
    [[nodiscard]] std::size_t frame_count() const {
        std::lock_guard lock(mutex_);
        return frames_.size();
    }
    /// True once reading ended: a close frame (close_code()) or an error (error()).
    [[nodiscard]] bool ended() const {
        std::lock_guard lock(mutex_);
        return ended_;
    }
    /// The code of the server's close frame, when reading ended with one.
    [[nodiscard]] std::optional<std::uint16_t> close_code() const {
        std::lock_guard lock(mutex_);
        return close_code_;
    }
    [[nodiscard]] boost::system::error_code error() const {
        std::lock_guard lock(mutex_);
        return error_;
    }
    [[nodiscard]] std::size_t pings() const {
        std::lock_guard lock(mutex_);
        return pings_;
    }

    bool wait_frames(std::size_t n, std::chrono::milliseconds deadline) const {
        return wait_until([&] { return frame_count() >= n; }, deadline);
    }
    bool wait_ended(std::chrono::milliseconds deadline) const {
        return wait_until([&] { return ended(); }, deadline);
    }

private:
    struct no_start {};
    explicit ws_client(no_start) : ws_(ioc_) {}

    void connect(std::uint16_t port, const ws_client_options& options, handshake_response& res,
                 boost::system::error_code& ec) {
        auto& socket = boost::beast::get_lowest_layer(ws_).socket();
        socket.open(boost::asio::ip::tcp::v4());
        if (options.receive_buffer > 0) {
            const int bytes = options.receive_buffer;
            ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
        }
        timeval tv{10, 0};
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
        if (ec) return;
        const auto headers = options.headers;
        ws_.set_option(boost::beast::websocket::stream_base::decorator(
            [headers](boost::beast::websocket::request_type& req) {
                for (const auto& [name, value] : headers) req.set(name, value);
            }));
        ws_.handshake(res, "localhost", options.target, ec);
    }

    void read() {
        ws_.async_read(buffer_, [this](boost::system::error_code ec, std::size_t) {
            std::lock_guard lock(mutex_);
            if (ec && closing_) return;  // our close() reports the end
            if (ec) {
                ended_ = true;
                error_ = ec;
                if (ec == boost::beast::websocket::error::closed) close_code_ = ws_.reason().code;
                return;
            }
            frames_.push_back(boost::beast::buffers_to_string(buffer_.data()));
            buffer_.consume(buffer_.size());
            boost::asio::post(ioc_, [this] { read(); });
        });
    }

    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
        ioc_.get_executor()};
    boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
    boost::beast::flat_buffer buffer_;
    bool reading_ = true;   // io thread only
    bool closing_ = false;  // io thread only
    std::thread thread_;

    mutable std::mutex mutex_;
    std::vector<std::string> frames_;
    bool ended_ = false;
    std::optional<std::uint16_t> close_code_;
    boost::system::error_code error_;
    std::size_t pings_ = 0;
};

}  // namespace pulsestream::test_support
