#include "pulsestream/gateway/stream_audience.hpp"

namespace pulsestream::gateway {

stream_audience::stream_audience() : stream_audience(options{}) {}

stream_audience::stream_audience(options o) : options_(o) {}

std::optional<std::uint64_t> stream_audience::publish_ticket(const core::uuid& tenant,
                                                             clock::time_point now) {
    std::lock_guard lock(mutex_);
    const auto mark = unwatched_since_.find(tenant);
    if (mark != unwatched_since_.end()) {
        if (now - mark->second < options_.recheck) return std::nullopt;
        unwatched_since_.erase(mark);  // this PUBLISH asks again
    }
    return epoch_;
}

void stream_audience::heard(const core::uuid& tenant, long long receivers, std::uint64_t sent_epoch,
                            clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (receivers != 0) {
        unwatched_since_.erase(tenant);
        return;
    }
    if (!hearing_ || sent_epoch != epoch_) return;  // an announcement may have come in between
    if (unwatched_since_.size() >= options_.max_unwatched) return;
    unwatched_since_.insert_or_assign(tenant, now);
}

void stream_audience::watched(const core::uuid& tenant) {
    std::lock_guard lock(mutex_);
    ++epoch_;
    unwatched_since_.erase(tenant);
}

void stream_audience::hearing(bool yes) {
    std::lock_guard lock(mutex_);
    ++epoch_;
    hearing_ = yes;
    unwatched_since_.clear();
}

std::size_t stream_audience::unwatched() const {
    std::lock_guard lock(mutex_);
    return unwatched_since_.size();
}

}  // namespace pulsestream::gateway
