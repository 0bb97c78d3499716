#include "ws_session.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/version.hpp>

#include "pulsestream/metrics/gateway_metrics.hpp"

namespace pulsestream::stream {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Frames are counted in small batches: one atomic update per write would contend across io
// threads at fan-out rates.
constexpr std::size_t frames_per_report = 64;

}  // namespace

ws_session::ws_session(http::taken_connection connection, http::request upgrade,
                       std::string channel, stream_filter filter,
                       std::shared_ptr<detail::hub_core> hub)
    : ws_(std::move(connection.socket)),
      executor_(ws_.get_executor()),
      upgrade_(std::move(upgrade)),
      channel_(std::move(channel)),
      filter_(std::move(filter)),
      hub_(std::move(hub)),
      cutoff_(executor_),
      slot_(std::move(connection.slot)) {}

ws_session::~ws_session() {
    if (state_ == state::ended) return;
    if (joined_) hub_->metrics.ws_connection_closed();
    hub_->leave(*this);
}

void ws_session::start() {
    net::co_spawn(
        executor_, [self = shared_from_this()] { return self->run(); }, net::detached);
}

net::awaitable<void> ws_session::run() {
    const auto& opt = hub_->options;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    if (opt.socket_send_buffer > 0) {
        const int bytes = opt.socket_send_buffer;
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    }
    // Beast's idle timer is the ping clock: after half the idle timeout without a frame from the
    // client it pings, and when the other half passes without one (no pong) it drops the client.
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = opt.handshake_timeout;
    timeouts.idle_timeout = 2 * opt.ping_interval;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(beast::http::field::server, "pulsestream-gateway");
    }));
    ws_.read_message_max(opt.max_client_message_bytes);

    auto [accept_ec] = co_await ws_.async_accept(upgrade_, use_tuple);
    upgrade_ = {};
    if (accept_ec) {
        finish();
        co_return;
    }
    state_ = state::open;
    if (hub_->join(shared_from_this())) {
        joined_ = true;
        hub_->metrics.ws_connection_opened();
    } else {
        close_code_ = websocket::close_code::going_away;
    }
    if (close_code_) begin_close();

    // Clients have nothing to say; reading keeps control frames (pong, close) flowing.
    beast::flat_buffer buffer;
    for (;;) {
        auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
        if (ec) break;
        buffer.consume(n);
    }
    finish();
}

void ws_session::deliver(const std::shared_ptr<const frame_batch>& batch) {
    if (state_ != state::open || close_code_) return;
    // The limit is checked once per message, not per frame: a batch (up to MAX_BATCH_EVENTS
    // frames) must not disconnect a client that is keeping up. A queue holds at most the limit
    // plus one message.
    if (queue_.size() >= hub_->options.send_queue_limit) {
        hub_->metrics.ws_slow_client_disconnected();
        close(websocket::close_code::try_again_later);
        return;
    }
    for (const auto& frame : *batch) {
        if (!filter_.matches(frame)) continue;
        // Aliasing pointer: the frame's text stays valid as long as the batch, shared by all.
        queue_.push_back(std::shared_ptr<const std::string>(batch, &frame.text));
    }
    if (!writing_ && !queue_.empty()) do_write();
}

void ws_session::close(websocket::close_code code) {
    if (close_code_ || state_ == state::ended) return;
    close_code_ = code;
    if (state_ == state::open) begin_close();  // during the handshake: run() closes after it
}

void ws_session::begin_close() {
    // Frames not yet handed to the socket are dropped: a closing client gets the close frame
    // next, not a backlog first.
    queue_.erase(writing_ ? std::next(queue_.begin()) : queue_.begin(), queue_.end());
    cutoff_.expires_after(hub_->options.close_timeout);
    cutoff_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        // A client that does not even take the close frame (its window is shut) is cut off.
        if (!ec && self->state_ != state::ended) beast::get_lowest_layer(self->ws_).close();
    });
    if (!writing_) send_close();
}

void ws_session::send_close() {
    close_sent_ = true;
    ws_.async_close(websocket::close_reason(*close_code_),
                    [self = shared_from_this()](boost::system::error_code) {
                        // The read loop ends when the client's close frame (or the timeout)
                        // arrives; nothing else to do here.
                    });
}

void ws_session::do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->on_write(ec);
                    });
}

void ws_session::on_write(boost::system::error_code ec) {
    writing_ = false;
    if (state_ == state::ended) return;
    if (ec) {
        // The connection is broken; closing the socket ends the read loop too.
        beast::get_lowest_layer(ws_).close();
        return;
    }
    queue_.pop_front();
    if (++unreported_frames_ >= frames_per_report || queue_.empty()) report_frames();
    if (close_code_) {
        if (!close_sent_) send_close();
        return;
    }
    if (!queue_.empty()) do_write();
}

void ws_session::report_frames() {
    if (unreported_frames_ == 0) return;
    hub_->metrics.ws_frames_sent(unreported_frames_);
    unreported_frames_ = 0;
}

void ws_session::finish() {
    state_ = state::ended;
    cutoff_.cancel();
    queue_.clear();
    report_frames();
    beast::get_lowest_layer(ws_).close();  // aborts a write still pending
    slot_ = {};
    if (joined_) hub_->metrics.ws_connection_closed();
    hub_->leave(*this);
}

}  // namespace pulsestream::stream
