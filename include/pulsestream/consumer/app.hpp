#pragma once

/// @file
/// `pulsestream-consumer` wired by hand (STYLE.md): configuration → PostgreSQL writer, DLQ
/// producer, consumer-group loop on its own thread, and the HTTP port
/// (`HOST`:`CONSUMER_PORT`) serving `/metrics`, `/health` (the original's body, UP only when
/// ready), `/healthz` (live) and `/readyz` (ready: loop turning, an assignment, a usable
/// database, not draining). Tests run it in-process; main() is a thin wrapper.
///
/// Thread-safety: start/shutdown from one thread; health() and metrics() from any.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "pulsestream/consumer/health.hpp"
#include "pulsestream/core/config.hpp"
#include "pulsestream/metrics/consumer_metrics.hpp"

namespace pulsestream::consumer {

/// Knobs beyond the environment (tests and tools); the defaults are what the binary uses.
struct app_options {
    /// `dlq.consumer` header and Kafka `client.id` suffix; empty: "<hostname>:<pid>".
    std::string consumer_id;
    /// `partition.assignment.strategy` of the group.
    std::string assignment_strategy = "range";
    /// Extra librdkafka properties for the group member and for the DLQ producer.
    std::map<std::string, std::string> consumer_properties;
    std::map<std::string, std::string> producer_properties;
    /// Longest time without loop progress before readiness fails.
    std::chrono::milliseconds readiness_staleness{10000};
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{5000};
    std::chrono::milliseconds maintenance_interval = std::chrono::hours(1);
    /// PostgreSQL connections writing shards of a batch in parallel (sharded_writer); 0 takes
    /// the configuration's (`CONSUMER_DB_CONNECTIONS`).
    std::size_t db_connections = 0;
    /// Serve HTTP at all (some tests run many members without ports).
    bool serve_http = true;
};

class app {
public:
    /// Builds every component; connects nowhere yet except that the group member subscribes.
    /// Throws std::invalid_argument / std::runtime_error when Kafka settings are refused.
    explicit app(core::consumer_config config, app_options options = {});
    /// shutdown() with the configured deadline if it was not called.
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    /// Called once, on the loop thread, when the loop ends by itself (an unexpected error),
    /// never after shutdown() started. Set before start(). main() uses it to wake up.
    void on_loop_exit(std::function<void()> callback);

    /// Binds the HTTP port (throws boost::system::system_error when it cannot) and starts the
    /// loop thread.
    void start();

    /// The bound HTTP port (after start(); 0 without HTTP).
    [[nodiscard]] std::uint16_t port() const noexcept;

    /// Graceful stop: readiness goes 503, the loop finishes (or abandons uncommitted) its
    /// batch and leaves the group, the DLQ producer is flushed, the HTTP server drained.
    /// Returns false when the loop did not finish within `deadline`: the caller must then end
    /// the process without destroying this object (std::_Exit). Idempotent.
    bool shutdown(std::chrono::milliseconds deadline);

    /// Whether the loop ended by an unexpected error.
    [[nodiscard]] bool failed() const noexcept;

    [[nodiscard]] health_state& health() noexcept;
    [[nodiscard]] metrics::consumer_metrics& metrics() noexcept;
    /// Batches committed so far.
    [[nodiscard]] std::uint64_t batches_committed() const noexcept;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// "<hostname>:<pid>".
[[nodiscard]] std::string default_consumer_id();

}  // namespace pulsestream::consumer
