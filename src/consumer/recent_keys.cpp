#include "pulsestream/consumer/recent_keys.hpp"

#include <functional>

namespace pulsestream::consumer {

event_key key_of(const core::event& e) noexcept { return {e.client_id, e.id, e.timestamp_ms}; }

std::size_t event_key_hash::operator()(const event_key& k) const noexcept {
    // The id is random (v4) or a hash (v5), so it alone spreads keys well; the rest is mixed in
    // for ids that repeat across clients or times.
    const std::size_t h = std::hash<core::uuid>{}(k.id);
    return h ^ (std::hash<core::uuid>{}(k.client_id) * 31U) ^
           std::hash<std::int64_t>{}(k.event_time_ms);
}

recent_keys::recent_keys(std::size_t capacity) : capacity_(capacity) { keys_.reserve(capacity); }

bool recent_keys::contains(const event_key& key) const { return keys_.contains(key); }

void recent_keys::remember(const event_key& key) {
    if (capacity_ == 0 || !keys_.insert(key).second) return;
    oldest_first_.push_back(key);
    if (oldest_first_.size() > capacity_) {
        keys_.erase(oldest_first_.front());
        oldest_first_.pop_front();
    }
}

}  // namespace pulsestream::consumer
