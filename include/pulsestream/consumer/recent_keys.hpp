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
/// Bounded: it keeps the last `capacity` keys, each with a number of the caller's, and forgets
/// the oldest first; about 64 bytes per key, allocated once. An open-addressing table, because
/// it is asked about every record (a node-based set cost the consumer a third more CPU).
/// Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

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

class recent_keys {
public:
    /// Remembers at most `capacity` keys (0 remembers none).
    explicit recent_keys(std::size_t capacity);

    /// The number remembered with `key`, if it is remembered.
    [[nodiscard]] std::optional<std::size_t> find(const event_key& key) const noexcept;
    [[nodiscard]] bool contains(const event_key& key) const noexcept {
        return find(key).has_value();
    }

    /// Remembers `key` with `number` unless it is remembered already (then nothing changes);
    /// forgets the oldest key when full.
    void remember(const event_key& key, std::size_t number = 0);

    /// Forgets every key.
    void clear() noexcept;

    [[nodiscard]] std::size_t size() const noexcept { return size_; }

private:
    struct entry {
        event_key key;
        std::size_t number = 0;
    };

    [[nodiscard]] std::size_t home_of(const event_key& key) const noexcept;
    [[nodiscard]] std::size_t slot_of(const event_key& key) const noexcept;
    void forget(const event_key& key) noexcept;

    std::size_t capacity_;
    std::vector<entry> entries_;  // in arrival order, circular: entries_[next_] is the oldest
    std::size_t next_ = 0;
    std::size_t size_ = 0;
    std::vector<std::uint32_t> slots_;  // 0 = empty, else index into entries_ + 1
    std::size_t mask_ = 0;
};

}  // namespace pulsestream::consumer
