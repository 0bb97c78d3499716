#pragma once

/// @file
/// `POST /v1/events`: the ingest path, in the order DESIGN.md §10 fixes:
/// x-api-key (401) → Idempotency-Key (400) → Content-Type / Content-Encoding (415) → body size
/// after decompression (413) → JSON and validation (400, 413) → idempotency (replay, 409, 422)
/// → rate limit (429) → produce and wait for the broker's ack (503) → 202 → publish to the
/// tenant's live stream. A 202 is sent only after every event of the request is acknowledged.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/core/event.hpp"
#include "pulsestream/gateway/produce_outage.hpp"
#include "pulsestream/http/exchange.hpp"

namespace pulsestream::kafka {
class producer;
struct message;
}
namespace pulsestream::metrics {
class gateway_metrics;
}

namespace pulsestream::gateway {

class authenticator;
class idempotency_store;
class rate_limiter;
class stream_publisher;

struct ingest_options {
    std::size_t max_body_bytes = 1U << 20U;  ///< after decompression
    core::validation_rules rules;
    std::string topic = "metrics.raw";
    /// The gateway's own deadline for the broker's ack (not librdkafka's): past it, 503.
    std::chrono::milliseconds produce_timeout{10'000};
};

/// The request handler. Thread-safe: one instance serves every io thread. All references must
/// outlive it.
class ingest {
public:
    ingest(ingest_options options, authenticator& auth, idempotency_store& idempotency,
           rate_limiter& limiter, kafka::producer& producer, stream_publisher& stream,
           metrics::gateway_metrics& metrics);

    boost::asio::awaitable<http::response> operator()(http::exchange& ex);

private:
    struct accepted;
    http::response reject(core::errc code, std::span<const core::field_error> errors = {},
                          unsigned retry_after_s = 0);
    boost::asio::awaitable<boost::system::error_code> produce(
        std::vector<kafka::message> messages);

    ingest_options options_;
    authenticator& auth_;
    idempotency_store& idempotency_;
    rate_limiter& limiter_;
    kafka::producer& producer_;
    stream_publisher& stream_;
    metrics::gateway_metrics& metrics_;
    produce_outage outage_;
};

}  // namespace pulsestream::gateway
