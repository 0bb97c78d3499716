// pulsestream-consumer: Kafka consumer-group member writing batches to PostgreSQL, poison pills
// to the DLQ. Configured by environment only (DESIGN.md §2); exit 2 on bad configuration.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "pulsestream/consumer/app.hpp"
#include "pulsestream/core/config.hpp"
#include "pulsestream/runtime/logging.hpp"
#include "pulsestream/runtime/signals.hpp"

int main() {
    using namespace pulsestream;
    runtime::block_termination_signals();
    auto config = core::load_consumer_config(core::process_env());
    if (!config) {
        for (const auto& message : config.error().messages)
            std::fprintf(stderr, "config: %s\n", message.c_str());
        return 2;
    }
    runtime::configure_logging("pulsestream-consumer", config->shared.log_level,
                               config->shared.log_format);
    try {
        consumer::app app(*config);
        // A loop that dies wakes the signal wait below, so the process exits instead of idling.
        app.on_loop_exit([] { ::kill(::getpid(), SIGTERM); });
        app.start();
        const int signal = runtime::wait_for_termination_signal();
        spdlog::info("signal {}: finishing the current batch and leaving the group", signal);
        if (!app.shutdown(std::chrono::milliseconds(config->shared.shutdown_timeout_ms))) {
            spdlog::critical("shutdown deadline passed; exiting without waiting");
            spdlog::shutdown();
            std::_Exit(1);
        }
        spdlog::info("stopped");
        return app.failed() ? 1 : 0;
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
}
