#pragma once

/// @file
/// Publishing accepted events to the tenant's live-stream channel `events:stream:{clientId}`
/// (DESIGN.md §4, §10): one Redis message per request, a JSON array of the events' Kafka values,
/// and none while Redis reports that nobody watches the tenant (gateway::stream_audience).

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "pulsestream/core/uuid.hpp"
#include "pulsestream/gateway/stream_audience.hpp"

namespace pulsestream::metrics {
class gateway_metrics;
}

namespace pulsestream::gateway {

class redis_clients;

/// Thread-safe.
class stream_publisher {
public:
    /// Where a gateway announces that it has started watching a tenant's channel; the message
    /// is the channel's name.
    static constexpr std::string_view watch_channel = "events:watch";

    stream_publisher(redis_clients& redis, metrics::gateway_metrics& metrics,
                     std::chrono::milliseconds deadline, stream_audience::options audience);

    /// Publishes `events_json` (a JSON array) to the client's channel without waiting for the
    /// outcome: call only after the broker acknowledged the events. A failure is counted and
    /// otherwise ignored, so it can never turn an accepted request into an error (defect 4).
    /// Skipped (and counted) while the tenant is known to have no subscriber. `near` is the
    /// caller's executor: the Redis connection of its io_context is used.
    void publish(const boost::asio::any_io_executor& near, const core::uuid& client,
                 std::string events_json);

    /// Tells every gateway that this one now receives `channel` (its SUBSCRIBE is confirmed).
    void announce_watching(const boost::asio::any_io_executor& near, std::string_view channel);
    /// A message on watch_channel: some gateway now receives the channel it names.
    void heard_announcement(std::string_view channel);
    /// Whether this gateway is subscribed to watch_channel (confirmed) or not (connection lost).
    void hearing_announcements(bool yes);

    [[nodiscard]] const stream_audience& audience() const { return audience_; }

private:
    redis_clients& redis_;
    metrics::gateway_metrics& metrics_;
    std::chrono::milliseconds deadline_;
    stream_audience audience_;
};

}  // namespace pulsestream::gateway
