#include "pulsestream/gateway/produce_outage.hpp"

#include <spdlog/spdlog.h>

namespace pulsestream::gateway {

namespace {

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

void produce_outage::failed(std::string_view reason) {
    const auto now = now_ns();
    last_failure_ns_.store(now, std::memory_order_relaxed);
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (failing_.load(std::memory_order_relaxed) || failing_.exchange(true)) return;
    since_ns_.store(now, std::memory_order_relaxed);
    spdlog::warn(
        "kafka: a produce request got no acknowledgement ({}); such requests are answered 503 "
        "until the broker acknowledges again",
        reason);
}

void produce_outage::try_end() {
    const auto now = now_ns();
    if (now - last_failure_ns_.load(std::memory_order_relaxed) < quiet_ns_) return;
    if (!failing_.exchange(false)) return;  // another thread ended it first
    const double seconds = static_cast<double>(now - since_ns_.load()) / 1e9;
    spdlog::info(
        "kafka: the broker acknowledges again; {} requests were answered 503 over {:.1f} s",
        failures_.exchange(0), seconds);
}

}  // namespace pulsestream::gateway
