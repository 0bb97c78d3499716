#include "ws_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cctype>

namespace pulsestream::simulator {
namespace {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

}  // namespace

std::string url_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(hex[u >> 4U]);
            out.push_back(hex[u & 15U]);
        }
    }
    return out;
}

stream_watcher::stream_watcher(net::any_io_executor executor) : ws_(executor) {}

net::awaitable<stream_watcher::open_result> stream_watcher::open(
    net::any_io_executor executor, const endpoint& target, std::string api_key, stream_auth auth,
    std::chrono::milliseconds timeout) {
    open_result result;
    auto watcher = std::make_shared<stream_watcher>(executor);
    auto& tcp = beast::get_lowest_layer(watcher->ws_);
    tcp.expires_after(timeout);

    net::ip::tcp::resolver resolver(executor);
    auto [resolve_ec, addresses] =
        co_await resolver.async_resolve(target.host, target.port, use_tuple);
    if (resolve_ec) {
        result.error = "resolve " + target.host + ": " + resolve_ec.message();
        co_return result;
    }
    auto [connect_ec, ignored] = co_await tcp.async_connect(addresses, use_tuple);
    if (connect_ec) {
        result.error = "connect " + target.url + ": " + connect_ec.message();
        co_return result;
    }

    std::string path = "/v1/stream";
    if (auth == stream_auth::query) {
        path += "?api_key=" + url_encode(api_key);
    } else {
        watcher->ws_.set_option(websocket::stream_base::decorator(
            [key = std::move(api_key)](websocket::request_type& request) {
                request.set("x-api-key", key);
                request.set(beast::http::field::user_agent, "pulsestream-simulator");
            }));
    }
    websocket::response_type response;
    auto [handshake_ec] =
        co_await watcher->ws_.async_handshake(response, target.host_header, path, use_tuple);
    if (handshake_ec) {
        result.status = response.result_int();
        result.error = "upgrade refused: " + handshake_ec.message() +
                       (result.status != 0 ? " (HTTP " + std::to_string(result.status) + ")" : "");
        co_return result;
    }
    // The gateway pings; a client-side idle timeout would only add a second clock.
    tcp.expires_never();
    watcher->ws_.set_option(
        websocket::stream_base::timeout{timeout, websocket::stream_base::none(), false});
    watcher->reading_ = true;
    net::co_spawn(
        executor, [watcher]() { return watcher->read_loop(); }, net::detached);
    result.watcher = std::move(watcher);
    co_return result;
}

net::awaitable<void> stream_watcher::read_loop() {
    auto self = shared_from_this();
    for (;;) {
        auto [ec, n] = co_await ws_.async_read(buffer_, use_tuple);
        if (ec) {
            closed_reason_ =
                ec == websocket::error::closed
                    ? "closed by the server (code " + std::to_string(ws_.reason().code) + ")"
                    : ec.message();
            break;
        }
        ++frames_;
        if (ws_.got_text()) {
            record(beast::buffers_to_string(buffer_.data()));
        } else {
            ++malformed_;
        }
        buffer_.consume(buffer_.size());
    }
    reading_ = false;
}

void stream_watcher::record(const std::string& text) {
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_object() || !json.contains("id") || !json["id"].is_string()) {
        ++malformed_;
        return;
    }
    const auto id = json["id"].get<std::string>();
    ++counts_[id];
    events_.insert_or_assign(id, std::move(json));
}

const nlohmann::json* stream_watcher::find(const std::string& id) const {
    const auto it = events_.find(id);
    return it == events_.end() ? nullptr : &it->second;
}

std::size_t stream_watcher::times_seen(const std::string& id) const {
    const auto it = counts_.find(id);
    return it == counts_.end() ? 0 : it->second;
}

net::awaitable<std::size_t> stream_watcher::wait_for(const std::vector<std::string>& ids,
                                                     std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
        std::size_t seen = 0;
        for (const auto& id : ids) {
            seen += counts_.contains(id) ? 1 : 0;
        }
        if (seen == ids.size() || !reading_ || std::chrono::steady_clock::now() >= end) {
            co_return seen;
        }
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(use_tuple);
    }
}

net::awaitable<void> stream_watcher::close() {
    if (!reading_) {
        co_return;
    }
    // Bounded by the handshake timeout set in open().
    co_await ws_.async_close(websocket::close_code::normal, use_tuple);
    // The reader sees the close reply (or the timeout) and ends.
}

}  // namespace pulsestream::simulator
