#pragma once

// One WebSocket client of the live stream. Lives on its socket's io_context (one thread, so no
// strand); the hub enters it only by posting to that executor.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "hub_core.hpp"
#include "pulsestream/http/exchange.hpp"
#include "pulsestream/stream/filter.hpp"
#include "pulsestream/stream/frame.hpp"

namespace pulsestream::stream {

class ws_session : public std::enable_shared_from_this<ws_session> {
public:
    ws_session(http::taken_connection connection, http::request upgrade, std::string channel,
               stream_filter filter, std::shared_ptr<detail::hub_core> hub);
    /// Leaves the hub if finish() did not run (its io_context was stopped under it).
    ~ws_session();
    ws_session(const ws_session&) = delete;
    ws_session& operator=(const ws_session&) = delete;

    /// Spawns the session's coroutine (handshake, then the read loop) on its executor.
    void start();

    // Only on the session's executor:
    /// Queues the frames of `batch` that pass the filter; a full queue closes with 1013.
    void deliver(const std::shared_ptr<const frame_batch>& batch);
    /// Closes with `code` (after the handshake, if it is still going on). Idempotent.
    void close(boost::beast::websocket::close_code code);

    [[nodiscard]] const boost::asio::any_io_executor& executor() const { return executor_; }
    [[nodiscard]] const std::string& channel() const { return channel_; }

private:
    enum class state { handshake, open, ended };

    boost::asio::awaitable<void> run();
    void begin_close();
    void send_close();
    void do_write();
    void on_write(boost::system::error_code ec);
    void finish();
    void report_frames();

    boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
    boost::asio::any_io_executor executor_;
    http::request upgrade_;
    std::string channel_;
    stream_filter filter_;
    std::shared_ptr<detail::hub_core> hub_;
    boost::asio::steady_timer cutoff_;
    http::connection_slot slot_;  // our place under the gateway's connection cap until finish()

    state state_ = state::handshake;
    bool joined_ = false;
    bool writing_ = false;
    bool close_sent_ = false;
    std::optional<boost::beast::websocket::close_code> close_code_;
    std::deque<std::shared_ptr<const std::string>> queue_;  // front is being written
    std::size_t unreported_frames_ = 0;
};

}  // namespace pulsestream::stream
