#pragma once

// A subscriber of the gateway's live stream (`GET /v1/stream`, DESIGN.md §4).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "endpoint.hpp"

namespace pulsestream::simulator {

namespace net = boost::asio;

/// How the stream's API key travels.
enum class stream_auth {
    header,  ///< `x-api-key` request header
    query,   ///< `api_key` query parameter (what browsers use)
};

/// One WebSocket on `/v1/stream` that records every event frame it receives, by event id.
///
/// `open` connects and upgrades; then a reader runs on the executor until `close` or until
/// the server closes. Frames are expected to be text, one JSON object per event with a
/// string `id`; anything else is counted in `malformed_frames`.
///
/// Thread-safety: everything runs on the single-threaded executor given to `open`; call the
/// accessors from coroutines on that executor only. Lifetime: the reader holds a shared_ptr,
/// so the object lives until the reader ends.
class stream_watcher : public std::enable_shared_from_this<stream_watcher> {
public:
    struct open_result {
        std::shared_ptr<stream_watcher> watcher;  ///< null when the upgrade failed
        std::string error;                        ///< why, for reports
        unsigned status = 0;                      ///< HTTP status of a refused upgrade, else 0
    };

    /// Connects to `target` and upgrades within `timeout` (which also bounds the closing
    /// handshake later).
    [[nodiscard]] static net::awaitable<open_result> open(net::any_io_executor executor,
                                                          const endpoint& target,
                                                          std::string api_key, stream_auth auth,
                                                          std::chrono::milliseconds timeout);

    /// Waits until every id in `ids` has been seen, the stream closed, or `deadline` passed;
    /// returns how many of `ids` were seen.
    [[nodiscard]] net::awaitable<std::size_t> wait_for(const std::vector<std::string>& ids,
                                                       std::chrono::milliseconds deadline);

    /// The frame of event `id`, or null if none arrived.
    [[nodiscard]] const nlohmann::json* find(const std::string& id) const;
    /// How many frames carried event `id`.
    [[nodiscard]] std::size_t times_seen(const std::string& id) const;
    /// Every event id seen, with its count.
    [[nodiscard]] const std::map<std::string, std::size_t>& counts() const { return counts_; }
    [[nodiscard]] std::size_t frames() const { return frames_; }
    [[nodiscard]] std::size_t malformed_frames() const { return malformed_; }
    /// Why the reader stopped; empty while it runs.
    [[nodiscard]] const std::string& closed_reason() const { return closed_reason_; }
    [[nodiscard]] bool is_open() const { return reading_; }

    /// Sends a close frame (1000); the reader ends when the server answers it.
    [[nodiscard]] net::awaitable<void> close();

    explicit stream_watcher(net::any_io_executor executor);

private:
    net::awaitable<void> read_loop();
    void record(const std::string& text);

    boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
    boost::beast::flat_buffer buffer_;
    std::map<std::string, nlohmann::json> events_;
    std::map<std::string, std::size_t> counts_;
    std::size_t frames_ = 0;
    std::size_t malformed_ = 0;
    bool reading_ = false;
    std::string closed_reason_;
};

/// Percent-encodes `text` for a query parameter value.
[[nodiscard]] std::string url_encode(std::string_view text);

}  // namespace pulsestream::simulator
