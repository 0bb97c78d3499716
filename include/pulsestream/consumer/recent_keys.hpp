#pragma once

/// @file
/// The primary keys of rows this process committed lately, so that a record arriving again soon
/// after (a producer's retry next to the original, this member's own partitions rewound) is
/// known to be a duplicate before anything is sent to PostgreSQL. A batch without unknown
/// duplicates can then take the direct COPY, which fails as a whole on the first duplicate key.
///
/// It only ever says "stored" for a key whose row this process saw committed, so skipping such a
/// record is exactly what `ON CONFLICT DO NOTHING` would have done with it. A key it forgot or
/// never saw (another member wrote it, the process restarted) is found by PostgreSQL as before.
///
/// Bounded: it keeps the last `capacity` keys and forgets the oldest first (about 100 bytes per
/// key). Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>

#include "pulsestream/core/event.hpp"
#include "pulsestream/core/uuid.hpp"

namespace pulsestream::consumer {

/// `events`' primary key: (client_id, id, event_time).
struct event_key {
    core::uuid client_id;
    core::uuid id;
    std::int64_t event_time_ms = 0;

    friend bool operator==(const event_key&, const event_key&) = default;
};

[[nodiscard]] event_key key_of(const core::event& e) noexcept;

struct event_key_hash {
    std::size_t operator()(const event_key& k) const noexcept;
};

class recent_keys {
public:
    /// Remembers at most `capacity` keys (0 remembers none).
    explicit recent_keys(std::size_t capacity);

    [[nodiscard]] bool contains(const event_key& key) const;

    /// Records that `key`'s row is committed; forgets the oldest key past the capacity.
    void remember(const event_key& key);

    [[nodiscard]] std::size_t size() const noexcept { return keys_.size(); }

private:
    std::size_t capacity_;
    std::deque<event_key> oldest_first_;
    std::unordered_set<event_key, event_key_hash> keys_;
};

}  // namespace pulsestream::consumer
