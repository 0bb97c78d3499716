// pulsestream-gateway: HTTP ingest, live stream and metrics. Configured by environment only.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "pulsestream/core/config.hpp"
#include "pulsestream/gateway/app.hpp"
#include "pulsestream/runtime/fd_limit.hpp"
#include "pulsestream/runtime/heap_retention.hpp"
#include "pulsestream/runtime/logging.hpp"
#include "pulsestream/runtime/signals.hpp"

namespace {

// Descriptors the gateway holds besides client connections: Redis, Kafka, PostgreSQL, epoll,
// timers, logs.
constexpr std::size_t own_descriptors = 256;

void raise_fd_limit_for(std::size_t max_connections) {
    const std::size_t wanted = max_connections + own_descriptors;
    const auto limit = pulsestream::runtime::raise_fd_limit(wanted);
    if (limit.soft < wanted) {
        spdlog::warn("open-file limit {} (hard {}) is below MAX_CONNECTIONS {} plus {} of the "
                     "gateway's own: clients past it wait in the accept queue; raise the hard "
                     "limit (ulimit -Hn, systemd LimitNOFILE, docker ulimits)",
                     limit.soft, limit.hard, max_connections, own_descriptors);
    }
}

}  // namespace

int main() {
    using namespace pulsestream;
    runtime::block_termination_signals();
    auto config = core::load_gateway_config(core::process_env());
    if (!config) {
        for (const auto& message : config.error().messages) std::fprintf(stderr, "config: %s\n", message.c_str());
        return 2;
    }
    runtime::configure_logging("pulsestream-gateway", config->shared.log_level, config->shared.log_format);
    raise_fd_limit_for(config->max_connections);
    if (!runtime::retain_freed_memory()) spdlog::warn("malloc kept its default heap thresholds");
    try {
        gateway::app app(*config);
        app.start();
        spdlog::info("listening on {}:{} with {} threads", config->host, app.port(), config->threads);
        const int signal = runtime::wait_for_termination_signal();
        spdlog::info("signal {}: draining", signal);
        app.shutdown(std::chrono::milliseconds(config->shared.shutdown_timeout_ms));
        spdlog::info("stopped");
        return 0;
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
}
