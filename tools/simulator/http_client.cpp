#include "http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace pulsestream::simulator {
namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// What a server that closed an idle keep-alive connection looks like to the next request.
bool stale_connection_error(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe ||
           ec == bhttp::error::partial_message;
}

}  // namespace

std::string http_result::header(std::string_view name) const {
    if (error) {
        return {};
    }
    const auto it = response.find(beast::string_view(name.data(), name.size()));
    return it == response.end() ? std::string{} : std::string(it->value());
}

std::string http_result::describe() const {
    return error ? "error: " + error.message() : std::to_string(status());
}

http_connection::http_connection(net::any_io_executor executor, endpoint target)
    : target_(std::move(target)), resolver_(executor), stream_(executor) {}

void http_connection::close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    buffer_.clear();
    connected_ = false;
}

net::awaitable<boost::system::error_code> http_connection::connect() {
    if (addresses_.empty()) {
        auto [ec, results] =
            co_await resolver_.async_resolve(target_.host, target_.port, use_tuple);
        if (ec) {
            co_return ec;
        }
        addresses_ = std::move(results);
    }
    auto [ec, ignored] = co_await stream_.async_connect(addresses_, use_tuple);
    if (!ec) {
        stream_.socket().set_option(net::ip::tcp::no_delay(true));
        connected_ = true;
    }
    co_return ec;
}

net::awaitable<http_result> http_connection::exchange(const http_request& request) {
    http_result result;
    auto [write_ec, written] = co_await bhttp::async_write(stream_, request, use_tuple);
    if (write_ec) {
        result.error = write_ec;
        co_return result;
    }
    auto [read_ec, read] = co_await bhttp::async_read(stream_, buffer_, result.response, use_tuple);
    result.error = read_ec;
    co_return result;
}

net::awaitable<http_result> http_connection::send(http_request request,
                                                  std::chrono::milliseconds timeout) {
    request.set(bhttp::field::host, target_.host_header);
    request.prepare_payload();
    const auto started = std::chrono::steady_clock::now();
    stream_.expires_after(timeout);
    http_result result;
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = connected_;
        if (!connected_) {
            if (auto ec = co_await connect()) {
                result.error = ec;
                break;
            }
        }
        result = co_await exchange(request);
        if (result.error) {
            close();
            if (reused && stale_connection_error(result.error)) {
                continue;  // the server had closed the idle connection: once more, fresh
            }
        } else if (result.response.need_eof()) {
            close();
        }
        break;
    }
    stream_.expires_never();
    result.latency = std::chrono::steady_clock::now() - started;
    co_return result;
}

}  // namespace pulsestream::simulator
