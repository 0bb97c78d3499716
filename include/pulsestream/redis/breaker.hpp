#pragma once

/// @file
/// A circuit breaker in front of Redis, so callers stop waiting on a Redis that is down.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>

namespace pulsestream::redis {

/// Tuning of a breaker.
struct breaker_options {
    /// Consecutive failures (timeouts, disconnects) that open the breaker; 0 disables it.
    unsigned failure_threshold = 5;
    /// How long an open breaker refuses commands before it lets one probe through.
    std::chrono::milliseconds open_for{1000};
};

/// Closed → (failure_threshold consecutive failures) → open → (open_for elapsed) → half-open.
/// Half-open admits exactly one probe: its success closes the breaker, its failure opens it
/// again for another `open_for`. A probe that never reports (its connection was closed) is
/// replaced by a new one after `open_for`.
///
/// Callers ask allow() before sending and report every outcome with on_success()/on_failure().
/// Any reply from Redis, an error reply included, is a success: the server answered.
///
/// Thread-safety: all members may be called concurrently (one breaker is shared by the
/// connections of a pool). The closed-state fast path is lock-free.
class breaker {
public:
    enum class state : std::uint8_t { closed, open, half_open };

    /// `on_change` is told when the breaker opens after being closed (true) and when it closes
    /// again (false), not of every re-opening after a failed probe: for a log line an operator
    /// can act on. It is called outside the breaker's lock, on the thread reporting the outcome.
    explicit breaker(breaker_options options = {}, std::function<void(bool open)> on_change = {});

    /// True when a command may be sent now. In half-open state true only for the one probe.
    [[nodiscard]] bool allow();
    void on_success();
    void on_failure();

    /// Current state, for metrics and tests.
    [[nodiscard]] state current() const noexcept { return state_.load(std::memory_order_relaxed); }
    /// How many times the breaker opened since construction (metrics).
    [[nodiscard]] std::uint64_t times_opened() const noexcept {
        return opened_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] const breaker_options& options() const noexcept { return options_; }

private:
    using clock = std::chrono::steady_clock;
    void open_locked(clock::time_point now);

    const breaker_options options_;
    const std::function<void(bool open)> on_change_;
    std::atomic<state> state_{state::closed};
    std::atomic<unsigned> failures_{0};
    std::atomic<std::uint64_t> opened_{0};
    std::mutex mutex_;
    clock::time_point open_until_{};
    clock::time_point probe_started_{};
    bool probe_in_flight_ = false;
};

}  // namespace pulsestream::redis
