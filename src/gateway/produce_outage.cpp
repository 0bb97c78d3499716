#include "pulsestream/gateway/produce_outage.hpp"

#include <spdlog/spdlog.h>

namespace pulsestream::gateway {

void produce_outage::failed(std::string_view reason) {
    const auto now = clock::now();
    const std::lock_guard lock(mutex_);
    last_failure_ = now;
    ++failures_;
    if (failing_.load(std::memory_order_relaxed)) return;
    failing_.store(true, std::memory_order_relaxed);
    since_ = now;
    spdlog::warn(
        "kafka: a produce request got no acknowledgement ({}); such requests are answered 503 "
        "until the broker acknowledges again",
        reason);
}

void produce_outage::try_end() {
    const auto now = clock::now();
    const std::lock_guard lock(mutex_);
    if (!failing_.load(std::memory_order_relaxed) || now - last_failure_ < quiet_) return;
    failing_.store(false, std::memory_order_relaxed);
    const std::chrono::duration<double> lasted = now - since_;
    spdlog::info(
        "kafka: the broker acknowledges again; {} requests were answered 503 over {:.1f} s",
        failures_, lasted.count());
    failures_ = 0;
}

}  // namespace pulsestream::gateway
