#pragma once

/// @file
/// The live stream's fan-out (DESIGN.md §4): WebSocket sessions grouped by tenant, one Redis
/// subscriber connection for all their channels, and each Redis message split once into frames
/// and handed to every interested session without ever blocking the ingest path.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pulsestream/core/uuid.hpp"
#include "pulsestream/http/exchange.hpp"
#include "pulsestream/redis/endpoint.hpp"
#include "pulsestream/redis/options.hpp"
#include "pulsestream/stream/filter.hpp"

namespace pulsestream::metrics {
class gateway_metrics;
}

namespace pulsestream::stream {

namespace detail {
struct hub_core;
}

struct hub_options {
    /// Frames queued per client, the one being written included (WS_SEND_QUEUE_LIMIT). A client
    /// whose queue holds this many when the next message comes is closed with 1013 "try again
    /// later". Checked per message, so a queue holds at most this plus one message's frames (a
    /// batch of MAX_BATCH_EVENTS must not drop a client that keeps up).
    std::size_t send_queue_limit = 256;
    /// A ping goes out after this long without hearing from the client; a client that sends
    /// nothing back (no pong) within another interval is disconnected.
    std::chrono::milliseconds ping_interval{30'000};
    /// Bound on the opening handshake and on the closing one.
    std::chrono::milliseconds handshake_timeout{10'000};
    /// A client being closed that does not take the close frame within this time (it stopped
    /// reading) is cut off.
    std::chrono::milliseconds close_timeout{5'000};
    /// SO_SNDBUF of stream sockets in bytes (the kernel doubles it); 0 keeps the kernel's
    /// autotuning, which lets a client that stopped reading park up to 4 MiB (tcp_wmem) in the
    /// kernel before its queue even starts to fill. 64 KiB carries hundreds of events per
    /// round trip, bounds kernel memory per client and lets a stalled client be noticed.
    int socket_send_buffer = 64 * 1024;
    /// Largest message a client may send (it has nothing to say; 1009 when exceeded).
    std::size_t max_client_message_bytes = 4096;
    /// Most `deviceId` (and `eventType`) filter values per connection.
    std::size_t max_filter_values = 64;
    /// How often the subscription's connection is sampled for the error metric.
    std::chrono::milliseconds subscription_check{1000};
    /// Called on the subscriber's strand each time Redis confirms the subscription of a
    /// tenant's channel (again after every reconnect); must be quick and must not block. The
    /// gateway announces it to every gateway (gateway::stream_audience).
    std::function<void(std::string_view channel)> channel_subscribed;
};

/// Owns the sessions of one gateway process and their Redis subscription.
///
/// Each tenant's channel `events:stream:{clientId}` is subscribed while the tenant has at least
/// one open session and unsubscribed when its last one ends. A Redis message (a JSON array of
/// Kafka values) is split once into frames; the tenant's sessions are snapshotted (weak
/// pointers, under a mutex held only for the copy), and one handler per io_context is posted
/// that offers the frames to each of its sessions. A session filters them and queues what
/// passes, up to hub_options::send_queue_limit; it never blocks anyone else.
///
/// While Redis is away the sessions stay open and receive nothing; the subscriber reconnects by
/// itself and subscribes every wanted channel again, so the stream resumes (DESIGN.md §10).
///
/// **Threading.** All members are thread-safe. Sessions run on the executor of the socket they
/// are given, which must be an io_context run by one thread (http::io_pool): a session has no
/// strand of its own.
///
/// **Lifetime.** The metrics must outlive the hub and every session. Destroying the hub shuts it
/// down (as shutdown()); sessions still closing keep the shared state alive until they end.
/// Destroy the hub before its io_contexts, and their pending work (io_pool::stop/join) before
/// the metrics.
class ws_hub {
public:
    /// Starts the Redis subscriber (connecting in the background) on a strand of
    /// `subscriber_executor`.
    ws_hub(hub_options options, boost::asio::io_context::executor_type subscriber_executor,
           redis::endpoint redis, metrics::gateway_metrics& metrics, redis::link_options link = {});
    ~ws_hub();
    ws_hub(const ws_hub&) = delete;
    ws_hub& operator=(const ws_hub&) = delete;

    [[nodiscard]] const hub_options& options() const;

    /// Runs a session on `connection` (taken over from the HTTP server, whose connection cap
    /// it keeps counting in until the session ends): completes the WebSocket handshake
    /// answering `upgrade`, then streams `tenant`'s events that pass `filter`, one text frame
    /// per event. After shutdown() the session is closed with 1001 as soon as its handshake
    /// is done.
    void open(http::taken_connection connection, http::request upgrade, const core::uuid& tenant,
              stream_filter filter);

    /// Closes every session with 1001 "going away", and every later one right after its
    /// handshake, and closes the Redis subscription. Does not wait: watch sessions().
    /// Idempotent. Call it before the io_contexts stop.
    void shutdown();

    /// Sessions alive: handshaking, open or closing.
    [[nodiscard]] std::size_t sessions() const;
    /// Tenants with at least one open session, i.e. channels subscribed.
    [[nodiscard]] std::size_t tenants() const;
    /// True while the subscription connection to Redis is up.
    [[nodiscard]] bool subscription_connected() const;

    /// `events:stream:{clientId}` (DESIGN.md §4), the channel gateway::stream_publisher uses.
    [[nodiscard]] static std::string channel_of(const core::uuid& tenant);
    /// The tenant whose channel `channel` is; nothing when it is no tenant's channel.
    [[nodiscard]] static std::optional<core::uuid> tenant_of(std::string_view channel);

private:
    std::shared_ptr<detail::hub_core> core_;
};

}  // namespace pulsestream::stream
