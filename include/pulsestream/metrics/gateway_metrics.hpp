#pragma once

/// @file
/// The gateway's Prometheus metrics (DESIGN.md §8): the original's HTTP metrics, labelled by the
/// route table's label (never the raw path), and PulseStream's own `pulsestream_*` series.
/// All members are thread-safe; call them from any io_context thread.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/http/server.hpp"

namespace pulsestream::metrics {

/// Where an API key lookup was answered.
enum class auth_layer { process, redis, database };

class gateway_metrics final : public http::request_observer {
public:
    gateway_metrics();

    // http::request_observer
    void on_request_started() override;
    void on_request_finished(const http::exchange& ex, unsigned status,
                             std::chrono::steady_clock::duration elapsed) override;
    void on_handler_exception(const http::exchange& ex, const char* what) override;

    void events_accepted(std::size_t count);
    void request_rejected(core::errc code);
    void broker_ack(std::chrono::steady_clock::duration latency);
    void producer_queue_depth(std::size_t depth);
    void idempotency_replayed();
    void idempotency_conflict();
    void auth_lookup(auth_layer layer, bool hit);
    void redis_failure();
    void redis_breaker_open(bool open);
    void ws_connection_opened();
    void ws_connection_closed();
    void ws_frames_sent(std::size_t count);
    void ws_slow_client_disconnected();
    void redis_subscription_error();
    void stream_publish_skipped();
    void stream_unwatched_tenants(std::size_t count);

    /// The Prometheus text exposition of every series.
    [[nodiscard]] std::string serialize() const;
    [[nodiscard]] const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

private:
    struct http_series {
        prometheus::Counter* requests;
        prometheus::Histogram* duration;
    };
    http_series& http_series_for(std::string_view method, std::string_view route, unsigned status);

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Histogram>& http_duration_;
    prometheus::Family<prometheus::Counter>& http_requests_;
    prometheus::Gauge& http_active_;
    prometheus::Counter& handler_exceptions_;
    prometheus::Counter& events_accepted_;
    prometheus::Family<prometheus::Counter>& rejected_;
    prometheus::Histogram& broker_ack_latency_;
    prometheus::Gauge& producer_queue_depth_;
    prometheus::Counter& idempotency_replays_;
    prometheus::Counter& idempotency_conflicts_;
    prometheus::Family<prometheus::Counter>& auth_lookups_;
    /// Every (layer, hit/miss) series, added once: auth_lookup() runs on every request.
    std::array<std::array<prometheus::Counter*, 2>, 3> auth_lookup_series_{};
    prometheus::Counter& redis_failures_;
    prometheus::Gauge& redis_breaker_open_;
    prometheus::Gauge& ws_connections_;
    prometheus::Counter& ws_frames_sent_;
    prometheus::Counter& ws_slow_disconnects_;
    prometheus::Counter& redis_subscription_errors_;
    prometheus::Counter& stream_publishes_skipped_;
    prometheus::Gauge& stream_unwatched_tenants_;

    // prometheus-cpp's Family::Add locks and hashes every label set; the hot path looks its
    // few (method, route, status) series up here instead, under a reader lock.
    std::shared_mutex series_mutex_;
    std::unordered_map<std::string, http_series> series_;
};

}  // namespace pulsestream::metrics
