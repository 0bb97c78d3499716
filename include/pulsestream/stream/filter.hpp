#pragma once

/// @file
/// Which events of its tenant a stream client wants (DESIGN.md §4): the `deviceId` and
/// `eventType` query parameters of `GET /v1/stream`, each repeatable, and the parsing of that
/// query string.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/stream/frame.hpp"

namespace pulsestream::stream {

/// An event passes when its device is one of the allowed devices (or none is named) and its
/// type is one of the allowed types (or none is named). Immutable once built; thread-safe to
/// read.
class stream_filter {
public:
    /// Allows `device_id`, which must be in canonical lower case (as parse_stream_query gives).
    void allow_device(std::string device_id);
    void allow_event_type(std::string event_type);

    [[nodiscard]] bool matches(const event_frame& frame) const;
    [[nodiscard]] bool empty() const { return devices_.empty() && event_types_.empty(); }
    [[nodiscard]] const std::vector<std::string>& devices() const { return devices_; }
    [[nodiscard]] const std::vector<std::string>& event_types() const { return event_types_; }

private:
    std::vector<std::string> devices_;
    std::vector<std::string> event_types_;
};

/// What the query string of a stream upgrade asks for.
struct stream_query {
    std::string api_key;  ///< the `api_key` parameter, decoded; empty when absent
    stream_filter filter;
    /// Invalid parameters (field `deviceId` or `eventType`); non-empty means 400
    /// `validation_failed`.
    std::vector<core::field_error> errors;
};

/// Parses `a=1&b=2` (without the '?'), percent-decoding names and values ('+' is a space, as
/// browsers' URLSearchParams write it; a malformed escape stays as it is). A `deviceId` must be
/// a UUID (either case; kept in canonical lower case); an `eventType` must be 1–200 bytes; each
/// may appear at most `max_values` times. Other parameters are ignored. Pure; thread-safe.
[[nodiscard]] stream_query parse_stream_query(std::string_view query, std::size_t max_values = 64);

/// `application/x-www-form-urlencoded` decoding of one name or value, as above.
[[nodiscard]] std::string form_decode(std::string_view text);

}  // namespace pulsestream::stream
