#pragma once

/// @file
/// Publishing accepted events to the tenant's live-stream channel `events:stream:{clientId}`
/// (DESIGN.md §4, §10): one Redis message per request, a JSON array of the events' Kafka values.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <string>

#include "pulsestream/core/uuid.hpp"

namespace pulsestream::metrics {
class gateway_metrics;
}

namespace pulsestream::gateway {

class redis_clients;

/// Thread-safe.
class stream_publisher {
public:
    stream_publisher(redis_clients& redis, metrics::gateway_metrics& metrics,
                     std::chrono::milliseconds deadline);

    /// Publishes `events_json` (a JSON array) to the client's channel without waiting for the
    /// outcome: call only after the broker acknowledged the events. A failure is counted and
    /// otherwise ignored, so it can never turn an accepted request into an error (defect 4).
    /// `near` is the caller's executor: the Redis connection of its io_context is used.
    void publish(const boost::asio::any_io_executor& near, const core::uuid& client,
                 std::string events_json);

private:
    redis_clients& redis_;
    metrics::gateway_metrics& metrics_;
    std::chrono::milliseconds deadline_;
};

}  // namespace pulsestream::gateway
