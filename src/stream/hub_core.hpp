#pragma once

// The state ws_hub shares with its sessions: they keep it alive while they close after the hub
// itself is gone, and they find their tenant's channel membership here.

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pulsestream/redis/subscriber.hpp"
#include "pulsestream/stream/ws_hub.hpp"

namespace pulsestream::stream {

class ws_session;

namespace detail {

/// Sessions of one channel living on one io_context: a broadcast posts one handler per group.
struct executor_group {
    boost::asio::any_io_executor executor;
    std::vector<std::weak_ptr<ws_session>> sessions;
};
using channel_snapshot = std::vector<executor_group>;

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

struct hub_core : std::enable_shared_from_this<hub_core> {
    hub_core(hub_options o, metrics::gateway_metrics& m) : options(std::move(o)), metrics(m) {}

    /// Creates the subscriber and the subscription watch (once, right after construction).
    void start(boost::asio::io_context::executor_type executor, redis::endpoint ep,
               redis::link_options link);

    /// A session exists (from its creation on): counted, and closed by shutdown().
    void add(const std::shared_ptr<ws_session>& session);
    /// A session finished its handshake: it joins its channel (subscribing the channel when it
    /// is the first). False after shutdown(): the session must close with 1001.
    bool join(const std::shared_ptr<ws_session>& session);
    /// A session ended: it leaves everything (unsubscribing its channel when it was the last).
    void leave(const ws_session& session);

    /// The subscriber's handler (on its strand).
    void on_message(std::string_view channel, std::string_view message);
    void shutdown();

    const hub_options options;
    metrics::gateway_metrics& metrics;
    std::shared_ptr<redis::subscriber> subscriber;

    struct channel_entry {
        std::unordered_map<const ws_session*, std::weak_ptr<ws_session>> members;
        std::shared_ptr<const channel_snapshot> snapshot;  // rebuilt lazily after a change
    };

    mutable std::mutex mutex;
    bool closed = false;
    std::unordered_map<const ws_session*, std::weak_ptr<ws_session>> all;
    std::unordered_map<std::string, channel_entry, string_hash, std::equal_to<>> channels;
};

}  // namespace detail
}  // namespace pulsestream::stream
