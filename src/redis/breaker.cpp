#include "pulsestream/redis/breaker.hpp"

#include <utility>

namespace pulsestream::redis {

breaker::breaker(breaker_options options, std::function<void(bool open)> on_change)
    : options_(options), on_change_(std::move(on_change)) {}

bool breaker::allow() {
    if (options_.failure_threshold == 0 ||
        state_.load(std::memory_order_acquire) == state::closed) {
        return true;
    }
    std::lock_guard lock(mutex_);
    const auto now = clock::now();
    switch (state_.load(std::memory_order_relaxed)) {
        case state::closed:
            return true;
        case state::open:
            if (now < open_until_) {
                return false;
            }
            state_.store(state::half_open, std::memory_order_release);
            probe_in_flight_ = true;
            probe_started_ = now;
            return true;
        case state::half_open:
            // One probe at a time; a probe lost without a report is replaced after open_for.
            if (probe_in_flight_ && now - probe_started_ < options_.open_for) {
                return false;
            }
            probe_in_flight_ = true;
            probe_started_ = now;
            return true;
    }
    return false;
}

void breaker::on_success() {
    if (options_.failure_threshold == 0) {
        return;
    }
    if (state_.load(std::memory_order_acquire) == state::closed) {
        if (failures_.load(std::memory_order_relaxed) != 0) {
            failures_.store(0, std::memory_order_relaxed);
        }
        return;
    }
    state was;
    {
        std::lock_guard lock(mutex_);
        failures_.store(0, std::memory_order_relaxed);
        probe_in_flight_ = false;
        was = state_.exchange(state::closed, std::memory_order_acq_rel);
    }
    if (was != state::closed && on_change_) on_change_(false);
}

void breaker::on_failure() {
    if (options_.failure_threshold == 0) {
        return;
    }
    const auto current = state_.load(std::memory_order_acquire);
    if (current == state::open) {
        return;  // stragglers sent before it opened do not extend the open period
    }
    if (current == state::closed &&
        failures_.fetch_add(1, std::memory_order_relaxed) + 1 < options_.failure_threshold) {
        return;
    }
    state was;
    {
        std::lock_guard lock(mutex_);
        was = state_.load(std::memory_order_relaxed);
        if (was != state::open) open_locked(clock::now());
    }
    if (was == state::closed && on_change_) on_change_(true);
}

void breaker::open_locked(clock::time_point now) {
    state_.store(state::open, std::memory_order_release);
    open_until_ = now + options_.open_for;
    probe_in_flight_ = false;
    failures_.store(0, std::memory_order_relaxed);
    opened_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace pulsestream::redis
