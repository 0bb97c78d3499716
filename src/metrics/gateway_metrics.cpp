#include "pulsestream/metrics/gateway_metrics.hpp"

#include <prometheus/text_serializer.h>

#include <boost/beast/http/verb.hpp>
#include <mutex>

namespace pulsestream::metrics {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
    static const prometheus::Histogram::BucketBoundaries buckets{
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    return buckets;
}

double seconds(std::chrono::steady_clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

std::string_view layer_name(auth_layer layer) {
    switch (layer) {
        case auth_layer::process: return "process";
        case auth_layer::redis: return "redis";
        case auth_layer::database: return "database";
    }
    return "unknown";
}

}  // namespace

gateway_metrics::gateway_metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      http_duration_(BuildHistogram()
                         .Name("http_request_duration_seconds")
                         .Help("Duration of HTTP requests in seconds")
                         .Register(*registry_)),
      http_requests_(BuildCounter()
                         .Name("http_requests_total")
                         .Help("Total number of HTTP requests")
                         .Register(*registry_)),
      http_active_(BuildGauge()
                       .Name("http_active_requests")
                       .Help("HTTP requests being handled right now")
                       .Register(*registry_)
                       .Add({})),
      handler_exceptions_(BuildCounter()
                              .Name("pulsestream_internal_errors_total")
                              .Help("Requests that failed with an unexpected exception (a bug)")
                              .Register(*registry_)
                              .Add({})),
      events_accepted_(BuildCounter()
                           .Name("pulsestream_events_accepted_total")
                           .Help("Events acknowledged by the broker and answered 202")
                           .Register(*registry_)
                           .Add({})),
      rejected_(BuildCounter()
                    .Name("pulsestream_requests_rejected_total")
                    .Help("Requests answered with an error, by stable error code")
                    .Register(*registry_)),
      broker_ack_latency_(BuildHistogram()
                              .Name("pulsestream_broker_ack_latency_seconds")
                              .Help("Time from produce to the broker's acknowledgement")
                              .Register(*registry_)
                              .Add({}, latency_buckets())),
      producer_queue_depth_(BuildGauge()
                                .Name("pulsestream_producer_queue_depth")
                                .Help("Messages waiting in the Kafka producer's queue")
                                .Register(*registry_)
                                .Add({})),
      idempotency_replays_(BuildCounter()
                               .Name("pulsestream_idempotency_replays_total")
                               .Help("202 responses replayed for a retried key")
                               .Register(*registry_)
                               .Add({})),
      idempotency_conflicts_(BuildCounter()
                                 .Name("pulsestream_idempotency_conflicts_total")
                                 .Help("Requests refused with 409 while the same key was in flight")
                                 .Register(*registry_)
                                 .Add({})),
      auth_lookups_(BuildCounter()
                        .Name("pulsestream_auth_cache_lookups_total")
                        .Help("API key lookups by cache layer and result")
                        .Register(*registry_)),
      redis_failures_(BuildCounter()
                          .Name("pulsestream_redis_failures_total")
                          .Help("Redis commands that failed or timed out (the gateway failed open)")
                          .Register(*registry_)
                          .Add({})),
      redis_breaker_open_(BuildGauge()
                              .Name("pulsestream_redis_breaker_open")
                              .Help("1 while the Redis circuit breaker is open")
                              .Register(*registry_)
                              .Add({})),
      ws_connections_(BuildGauge()
                          .Name("pulsestream_ws_connections")
                          .Help("Open WebSocket stream connections")
                          .Register(*registry_)
                          .Add({})),
      ws_frames_sent_(BuildCounter()
                          .Name("pulsestream_ws_frames_sent_total")
                          .Help("Event frames sent to WebSocket clients")
                          .Register(*registry_)
                          .Add({})),
      ws_slow_disconnects_(BuildCounter()
                               .Name("pulsestream_ws_disconnected_slow_total")
                               .Help("WebSocket clients closed (1013) for falling behind")
                               .Register(*registry_)
                               .Add({})),
      redis_subscription_errors_(BuildCounter()
                                     .Name("pulsestream_redis_subscription_errors_total")
                                     .Help("Failures of the Redis stream subscription")
                                     .Register(*registry_)
                                     .Add({})),
      stream_publishes_skipped_(BuildCounter()
                                    .Name("pulsestream_stream_publishes_skipped_total")
                                    .Help("Accepted requests not published to the live stream: no "
                                          "subscriber for the tenant")
                                    .Register(*registry_)
                                    .Add({})),
      stream_unwatched_tenants_(BuildGauge()
                                    .Name("pulsestream_stream_unwatched_tenants")
                                    .Help("Tenants whose stream Redis last reported as unwatched")
                                    .Register(*registry_)
                                    .Add({})) {
    for (const auto layer : {auth_layer::process, auth_layer::redis, auth_layer::database}) {
        for (const bool hit : {false, true}) {
            auth_lookup_series_[static_cast<std::size_t>(layer)][hit ? 1 : 0] = &auth_lookups_.Add(
                {{"layer", std::string(layer_name(layer))}, {"result", hit ? "hit" : "miss"}});
        }
    }
}

void gateway_metrics::on_request_started() { http_active_.Increment(); }

gateway_metrics::http_series& gateway_metrics::http_series_for(std::string_view method,
                                                                std::string_view route,
                                                                unsigned status) {
    std::string key;
    key.reserve(method.size() + route.size() + 8);
    key.append(method).append(" ").append(route).append(" ").append(std::to_string(status));
    {
        std::shared_lock lock(series_mutex_);
        if (auto it = series_.find(key); it != series_.end()) return it->second;
    }
    std::unique_lock lock(series_mutex_);
    if (auto it = series_.find(key); it != series_.end()) return it->second;
    const prometheus::Labels labels{{"method", std::string(method)},
                                    {"route", std::string(route)},
                                    {"status_code", std::to_string(status)}};
    http_series series{&http_requests_.Add(labels), &http_duration_.Add(labels, latency_buckets())};
    return series_.emplace(std::move(key), series).first->second;
}

void gateway_metrics::on_request_finished(const http::exchange& ex, unsigned status,
                                          std::chrono::steady_clock::duration elapsed) {
    http_active_.Decrement();
    const auto verb = boost::beast::http::to_string(ex.method());
    auto& series = http_series_for({verb.data(), verb.size()}, ex.route_label(), status);
    series.requests->Increment();
    series.duration->Observe(seconds(elapsed));
}

void gateway_metrics::on_handler_exception(const http::exchange&, const char*) {
    handler_exceptions_.Increment();
}

void gateway_metrics::events_accepted(std::size_t count) {
    events_accepted_.Increment(static_cast<double>(count));
}

void gateway_metrics::request_rejected(core::errc code) {
    rejected_.Add({{"code", std::string(core::describe(code).code)}}).Increment();
}

void gateway_metrics::broker_ack(std::chrono::steady_clock::duration latency) {
    broker_ack_latency_.Observe(seconds(latency));
}

void gateway_metrics::producer_queue_depth(std::size_t depth) {
    producer_queue_depth_.Set(static_cast<double>(depth));
}

void gateway_metrics::idempotency_replayed() { idempotency_replays_.Increment(); }
void gateway_metrics::idempotency_conflict() { idempotency_conflicts_.Increment(); }

void gateway_metrics::auth_lookup(auth_layer layer, bool hit) {
    auth_lookup_series_[static_cast<std::size_t>(layer)][hit ? 1 : 0]->Increment();
}

void gateway_metrics::redis_failure() { redis_failures_.Increment(); }
void gateway_metrics::redis_breaker_open(bool open) { redis_breaker_open_.Set(open ? 1 : 0); }
void gateway_metrics::ws_connection_opened() { ws_connections_.Increment(); }
void gateway_metrics::ws_connection_closed() { ws_connections_.Decrement(); }
void gateway_metrics::ws_frames_sent(std::size_t count) {
    ws_frames_sent_.Increment(static_cast<double>(count));
}
void gateway_metrics::ws_slow_client_disconnected() { ws_slow_disconnects_.Increment(); }
void gateway_metrics::redis_subscription_error() { redis_subscription_errors_.Increment(); }
void gateway_metrics::stream_publish_skipped() { stream_publishes_skipped_.Increment(); }
void gateway_metrics::stream_unwatched_tenants(std::size_t count) {
    stream_unwatched_tenants_.Set(static_cast<double>(count));
}

std::string gateway_metrics::serialize() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace pulsestream::metrics
