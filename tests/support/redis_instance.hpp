#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace pulsestream::test_support {

/// How a redis_instance is set up.
struct redis_options {
    /// Appended to the command line, e.g. {"--client-output-buffer-limit", "pubsub 1mb 1mb 0"}.
    std::vector<std::string> extra_args;
    /// Deadline for the server to answer PING after each (re)start.
    std::chrono::milliseconds start_deadline = std::chrono::seconds(30);
};

/// A private, throw-away Redis server: redis-server (/usr/bin/redis-server or
/// $PULSESTREAM_REDIS_SERVER) on 127.0.0.1 and a free port, no persistence
/// (`--save "" --appendonly no`), working directory in a temp dir.
///
/// The server is a child_process: it never outlives the test binary. The destructor stops it and
/// deletes the temp dir.
///
/// Thread-safety: one thread drives an instance; url()/port() may be read from any thread once
/// start() has returned. Not copyable, not movable.
class redis_instance {
public:
    /// True when redis-server is installed.
    static bool available();

    explicit redis_instance(redis_options options = {});
    redis_instance(const redis_instance&) = delete;
    redis_instance& operator=(const redis_instance&) = delete;
    ~redis_instance();

    /// Starts the server and waits until it answers PING. Throws std::runtime_error (quoting the
    /// server log) on failure or when the deadline passes. Call once.
    void start();
    /// SIGTERM, waits up to 10 s, then SIGKILL. All data is lost (no persistence). Idempotent.
    void stop();
    /// Starts an empty server again on the same port (outage tests). Throws like start().
    void start_again();
    /// True while the server process runs (also while frozen).
    [[nodiscard]] bool running();

    /// SIGSTOP: the kernel still accepts connections but nothing is answered, the way a hung Redis
    /// behaves (for deadline and circuit-breaker tests). thaw() resumes it; stop() works on a
    /// frozen server too.
    void freeze();
    void thaw();

    /// One synchronous PING over a new connection, answered PONG within `timeout`.
    [[nodiscard]] bool ping(std::chrono::milliseconds timeout = std::chrono::seconds(1)) const;

    /// "redis://127.0.0.1:PORT".
    [[nodiscard]] std::string url() const;
    [[nodiscard]] std::uint16_t port() const { return port_; }
    /// Pid of the server last started; -1 before start().
    [[nodiscard]] pid_t pid() const { return server_.pid(); }
    [[nodiscard]] std::filesystem::path log_path() const;

private:
    void launch();
    [[nodiscard]] bool wait_ready();
    [[noreturn]] void fail(const std::string& what);

    redis_options options_;
    std::optional<temp_dir> dir_;
    std::uint16_t port_ = 0;
    child_process server_;
};

}  // namespace pulsestream::test_support
