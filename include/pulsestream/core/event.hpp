#pragma once

/// @file
/// The event model: what a client sends (`event_input`), what travels on `metrics.raw`
/// (`event`, serialised by `to_kafka_value`), and how ids are assigned (DESIGN.md §3, §5).

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/core/uuid.hpp"

namespace pulsestream::core {

/// Limits shared by the gateway and the consumer.
struct validation_rules {
    std::int64_t timestamp_skew_ms = 300000;  ///< TIMESTAMP_SKEW_MS
    std::size_t max_batch_events = 500;       ///< MAX_BATCH_EVENTS
};

/// Fixed limits of the contract (not configurable).
inline constexpr std::size_t event_type_min_chars = 2;
inline constexpr std::size_t event_type_max_chars = 50;
inline constexpr std::size_t metadata_max_keys = 32;
inline constexpr std::size_t metadata_key_max_chars = 64;
inline constexpr std::size_t metadata_string_max_chars = 256;
/// Deepest JSON nesting accepted in a body (events are flat; this only bounds dropped fields).
inline constexpr std::size_t max_json_depth = 16;

/// One validated event as the client sent it. `device_id` is a parsed UUID (so canonical
/// output is lower case); `metadata`, when present, is a flat JSON object whose values are
/// strings, finite numbers or booleans.
struct event_input {
    std::optional<uuid> id;  ///< batch items only; always empty for a single event
    uuid device_id;
    std::string event_type;
    double value = 0;
    std::int64_t timestamp_ms = 0;
    std::optional<nlohmann::json> metadata;
};

/// A validated request body: one event (`is_batch == false`, exactly one element) or a batch.
struct parsed_request {
    std::vector<event_input> events;
    bool is_batch = false;
};

/// An event as produced to Kafka and stored in PostgreSQL.
struct event {
    uuid id;
    uuid client_id;
    uuid device_id;
    std::string event_type;
    double value = 0;
    std::int64_t timestamp_ms = 0;
    std::optional<nlohmann::json> metadata;
    std::int64_t received_at_ms = 0;
};

/// The Kafka value (and WebSocket frame) of an event:
/// `{"id","clientId","deviceId","eventType","value","timestamp","metadata"?,"receivedAt"}`,
/// compact, in that order; uuids canonical lower case; `value` in the shortest form that reads
/// back exactly; `timestamp`/`receivedAt` as integers; `metadata` omitted when absent.
/// Never throws on content (ill-formed UTF-8 becomes U+FFFD, a non-finite value becomes null,
/// which the consumer then rejects); throws only std::bad_alloc.
[[nodiscard]] std::string to_kafka_value(const event& e);

/// Appends the same JSON as to_kafka_value to `out` (to build arrays without extra copies).
void append_kafka_value(std::string& out, const event& e);

/// Turns a validated request into events. A single event's id is the Idempotency-Key; a batch
/// item's id is its own `id` or else `batch_item_id(idempotency_key, index)`. Copies the
/// request's strings; use the rvalue overload to move them instead.
[[nodiscard]] std::vector<event> assign_ids(const parsed_request& request,
                                            const uuid& idempotency_key, const uuid& client_id,
                                            std::int64_t received_at_ms);

/// As above, moving event types and metadata out of `request`.
[[nodiscard]] std::vector<event> assign_ids(parsed_request&& request, const uuid& idempotency_key,
                                            const uuid& client_id, std::int64_t received_at_ms);

}  // namespace pulsestream::core
