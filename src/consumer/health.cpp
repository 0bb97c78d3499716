#include "pulsestream/consumer/health.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace pulsestream::consumer {

namespace {

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               health_state::clock::now().time_since_epoch())
        .count();
}

std::string utc_now_iso8601() {
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buf,
                  static_cast<int>(ms.count()));
    return out;
}

const char* boolean(bool b) { return b ? "true" : "false"; }

}  // namespace

health_state::health_state(std::chrono::milliseconds staleness,
                           std::chrono::milliseconds live_staleness)
    : staleness_(staleness), live_staleness_(live_staleness) {}

void health_state::tick() noexcept { last_progress_ns_.store(now_ns(), std::memory_order_relaxed); }

void health_state::loop_started() noexcept {
    tick();
    running_ = true;
}

void health_state::loop_stopped(bool failed) noexcept {
    failed_ = failed;
    running_ = false;
}

void health_state::assigned(std::size_t partitions) noexcept { assigned_ = partitions; }

void health_state::database(bool usable) noexcept { database_ = usable; }

void health_state::draining() noexcept { draining_ = true; }

bool health_state::fresh(std::chrono::milliseconds limit) const noexcept {
    const auto age = now_ns() - last_progress_ns_.load(std::memory_order_relaxed);
    return age <= std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count();
}

bool health_state::live() const noexcept { return running_ && fresh(live_staleness_); }

bool health_state::ready() const noexcept {
    return running_ && !draining_ && database_ && assigned_ > 0 && fresh(staleness_);
}

std::string health_state::health_body() const {
    return std::string(R"({"status":")") + (ready() ? "UP" : "DOWN") +
           R"(","service":"pulsestream-consumer","timestamp":")" + utc_now_iso8601() + "\"}";
}

std::string health_state::readiness_body() const {
    const bool loop_ok = running_ && fresh(staleness_);
    return std::string(R"({"status":")") + (ready() ? "ready" : "not_ready") + R"(","loop":")" +
           (loop_ok ? "ok" : (running_ ? "stalled" : "stopped")) + R"(","assigned_partitions":)" +
           std::to_string(assigned_.load()) + R"(,"database":")" +
           (database_ ? "ok" : "unavailable") + R"(","draining":)" + boolean(draining_) + "}";
}

std::string health_state::liveness_body() const {
    return live() ? R"({"status":"ok"})" : R"({"status":"dead"})";
}

}  // namespace pulsestream::consumer
