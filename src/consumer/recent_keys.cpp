#include "pulsestream/consumer/recent_keys.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>

namespace pulsestream::consumer {

namespace {

constexpr std::size_t no_slot = std::numeric_limits<std::size_t>::max();

}  // namespace

event_key key_of(const core::event& e) noexcept { return {e.client_id, e.id, e.timestamp_ms}; }

recent_keys::recent_keys(std::size_t capacity)
    : capacity_(std::min<std::size_t>(capacity, std::numeric_limits<std::uint32_t>::max() / 4)) {
    if (capacity_ == 0) return;
    entries_.resize(capacity_);
    // At most half full, so that probe runs stay short.
    slots_.assign(std::bit_ceil(2 * capacity_), 0);
    mask_ = slots_.size() - 1;
}

std::size_t recent_keys::home_of(const event_key& key) const noexcept {
    // The id is random (v4) or a hash (v5), so it alone spreads keys well; the rest is mixed in
    // for ids that repeat across clients or times.
    const std::size_t h = std::hash<core::uuid>{}(key.id) ^
                          (std::hash<core::uuid>{}(key.client_id) * 31U) ^
                          (static_cast<std::size_t>(key.event_time_ms) * 0x9E3779B97F4A7C15ULL);
    return (h ^ (h >> 29U)) & mask_;
}

std::size_t recent_keys::slot_of(const event_key& key) const noexcept {
    if (capacity_ == 0) return no_slot;
    for (std::size_t i = home_of(key);; i = (i + 1) & mask_) {
        const std::uint32_t s = slots_[i];
        if (s == 0) return no_slot;
        if (entries_[s - 1].key == key) return i;
    }
}

std::optional<std::size_t> recent_keys::find(const event_key& key) const noexcept {
    const std::size_t i = slot_of(key);
    if (i == no_slot) return std::nullopt;
    return entries_[slots_[i] - 1].number;
}

void recent_keys::remember(const event_key& key, std::size_t number) {
    if (capacity_ == 0 || slot_of(key) != no_slot) return;
    if (size_ == capacity_) {
        forget(entries_[next_].key);
    } else {
        ++size_;
    }
    entries_[next_] = entry{key, number};
    std::size_t i = home_of(key);
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = static_cast<std::uint32_t>(next_ + 1);
    next_ = (next_ + 1) % capacity_;
}

// Linear probing's deletion without tombstones: later members of the probe run move back into
// the hole when their home position allows it (Knuth, TAOCP vol. 3, algorithm 6.4 R).
void recent_keys::forget(const event_key& key) noexcept {
    std::size_t hole = slot_of(key);
    if (hole == no_slot) return;
    for (std::size_t j = (hole + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
        const std::size_t home = home_of(entries_[slots_[j] - 1].key);
        // Whether `home` lies cyclically in (hole, j]: then the entry at j must stay.
        const bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            slots_[hole] = slots_[j];
            hole = j;
        }
    }
    slots_[hole] = 0;
}

void recent_keys::clear() noexcept {
    std::fill(slots_.begin(), slots_.end(), 0U);
    next_ = 0;
    size_ = 0;
}

}  // namespace pulsestream::consumer
