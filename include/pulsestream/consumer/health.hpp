#pragma once

/// @file
/// Liveness and readiness of the consumer (DESIGN.md §6, defect 10): ready only while the loop
/// runs and made progress recently, holds at least one partition, the database was usable at
/// the last attempt and the process is not draining. The loop writes, the HTTP thread reads.
///
/// Thread-safety: every member may be called from any thread (atomics only).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

namespace pulsestream::consumer {

class health_state {
public:
    using clock = std::chrono::steady_clock;

    /// `staleness`: longest time without loop progress for readiness; `live_staleness`: the
    /// same for liveness (longer: a slow database write is not a dead process).
    explicit health_state(std::chrono::milliseconds staleness = std::chrono::seconds(10),
                          std::chrono::milliseconds live_staleness = std::chrono::minutes(3));

    /// The loop is alive and turning (called every poll slice and every batch step).
    void tick() noexcept;
    void loop_started() noexcept;
    /// The loop ended; `failed` when it ended by an unexpected error.
    void loop_stopped(bool failed) noexcept;
    void assigned(std::size_t partitions) noexcept;
    void database(bool usable) noexcept;
    void draining() noexcept;

    [[nodiscard]] bool live() const noexcept;
    [[nodiscard]] bool ready() const noexcept;
    [[nodiscard]] bool failed() const noexcept { return failed_.load(); }

    /// `{"status":"UP"|"DOWN","service":"pulsestream-consumer","timestamp":"…Z"}` (the
    /// original's /health shape), UP exactly when ready().
    [[nodiscard]] std::string health_body() const;
    /// `{"status":"ready"|"not_ready","loop":…,"assigned_partitions":N,"database":…,
    /// "draining":…}` for /readyz.
    [[nodiscard]] std::string readiness_body() const;
    /// `{"status":"ok"|"dead"}` for /healthz.
    [[nodiscard]] std::string liveness_body() const;

private:
    [[nodiscard]] bool fresh(std::chrono::milliseconds limit) const noexcept;

    std::chrono::milliseconds staleness_;
    std::chrono::milliseconds live_staleness_;
    std::atomic<std::int64_t> last_progress_ns_{0};
    std::atomic<bool> running_{false};
    std::atomic<bool> failed_{false};
    std::atomic<std::size_t> assigned_{0};
    std::atomic<bool> database_{false};
    std::atomic<bool> draining_{false};
};

}  // namespace pulsestream::consumer
