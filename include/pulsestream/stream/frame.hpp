#pragma once

/// @file
/// A stream message (DESIGN.md §10 "Redis stream message": one per request, a JSON array of the
/// events' Kafka values) split into the WebSocket frames it becomes: one text frame per event,
/// carrying the event's Kafka value byte for byte (§4).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pulsestream::stream {

/// One event of a stream message.
struct event_frame {
    std::string text;        ///< the event's JSON exactly as published (the Kafka value)
    std::string device_id;   ///< its `deviceId` (canonical lower case, as the gateway wrote it)
    std::string event_type;  ///< its `eventType`
};

/// The frames of one message. Built once per Redis message and shared read-only by every
/// session that receives it (the serialize-once half of the fan-out).
using frame_batch = std::vector<event_frame>;

/// Splits `message` into frames, in array order. Elements that are not JSON objects with string
/// `deviceId` and `eventType` are dropped. Empty when `message` is not a JSON array.
/// Pure; thread-safe.
[[nodiscard]] std::optional<frame_batch> split_message(std::string_view message);

}  // namespace pulsestream::stream
