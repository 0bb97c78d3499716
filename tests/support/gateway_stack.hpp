#pragma once

// An in-process gateway on a free port with its real partners: a private PostgreSQL (schema
// applied), a private Redis and librdkafka's mock cluster with the PulseStream topics.

#include <functional>
#include <memory>

#include "pulsestream/core/config.hpp"
#include "pulsestream/devbroker/mock_cluster.hpp"
#include "pulsestream/gateway/app.hpp"
#include "support/postgres_instance.hpp"
#include "support/redis_instance.hpp"

namespace pulsestream::test_support {

/// The development key seeded by schema.sql, and its client.
inline constexpr std::string_view dev_api_key = "ps_live_test_key_abc123xyz";
inline constexpr std::string_view dev_client_id = "00000000-0000-4000-8000-000000000001";

class gateway_stack {
public:
    /// `tweak` may change the gateway's configuration before it starts.
    explicit gateway_stack(std::function<void(core::gateway_config&)> tweak = {});
    ~gateway_stack();

    /// Starts PostgreSQL, Redis, the mock cluster (3 brokers, metrics.raw with 8 partitions,
    /// metrics.dlq) and the gateway. Throws when a service cannot start.
    void start();
    /// Stops the gateway gracefully (and may start a new one with start_gateway()).
    void stop_gateway();
    void start_gateway();

    [[nodiscard]] std::uint16_t port() const { return gateway_->port(); }
    [[nodiscard]] const core::gateway_config& config() const { return config_; }
    postgres_instance& postgres() { return postgres_; }
    redis_instance& redis() { return redis_; }
    devbroker::mock_cluster& kafka() { return *kafka_; }

    /// True when PostgreSQL and Redis binaries are installed.
    static bool available();

private:
    std::function<void(core::gateway_config&)> tweak_;
    postgres_instance postgres_;
    redis_instance redis_;
    std::unique_ptr<devbroker::mock_cluster> kafka_;
    core::gateway_config config_;
    std::unique_ptr<gateway::app> gateway_;
};

}  // namespace pulsestream::test_support
