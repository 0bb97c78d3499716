#pragma once

/// @file
/// The gateway process wired together: configuration in, a serving HTTP port out. Tests start
/// it in-process on port 0; main() starts it, waits for a termination signal and shuts it down.

#include <chrono>
#include <cstdint>
#include <memory>

#include "pulsestream/core/config.hpp"

namespace pulsestream::gateway {

class app {
public:
    /// Builds every component; connects nothing yet. Throws std::invalid_argument for a
    /// configuration the loader could not refuse on its own (e.g. an unusable broker setting).
    explicit app(core::gateway_config config);
    /// Calls shutdown() if it has not run.
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    /// Binds HOST:PORT and starts the io threads. Throws boost::system::system_error when the
    /// port cannot be bound.
    void start();
    /// The bound port (after start()).
    [[nodiscard]] std::uint16_t port() const;

    /// Graceful stop within `deadline`: readiness turns 503, the listener closes, idle
    /// connections close, requests in flight finish, the producer is flushed, threads stop.
    /// Idempotent; call from a non-io thread.
    void shutdown(std::chrono::milliseconds deadline);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace pulsestream::gateway
