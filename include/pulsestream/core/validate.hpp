#pragma once

/// @file
/// Parsing and validation of request bodies (gateway) and Kafka values (consumer) against the
/// rules of DESIGN.md §3 and §10, in one streaming (SAX) pass without an intermediate DOM.
///
/// Decisions beyond the table of §3, applied to both entry points:
/// - Duplicate keys in any JSON object are `invalid_json` (never "last one wins").
/// - Nesting deeper than `max_json_depth` (16) is `invalid_json`; the parse stops at once, so
///   pathological bodies such as a million `[` cost no stack and little time.
/// - `1e400` and other numbers outside double range are `invalid_json`; `NaN`/`Infinity` are not
///   JSON tokens and so are `invalid_json` too.
/// - `timestamp` must be a JSON integer: `1.5`, `1e12`, `1.0` and strings are rejected.
/// - `null` is not "absent": `"metadata":null` and `"id":null` are wrong types (as with Zod's
///   `.optional()` in the original).
/// - An `id` on a single (non-batch) event is dropped like any unknown top-level field.
/// - A body that is valid JSON but neither an object nor an array is `validation_failed` with the
///   empty field path; an empty array is `validation_failed` with the empty path.
/// - Metadata keys are also refused when longer than 64 code points or containing NUL (PostgreSQL
///   jsonb refuses `\u0000` in keys as in values); at most the first 32 keys are checked one by
///   one, so the error list stays bounded.
/// - Field errors are listed item by item in the order id, clientId, deviceId, eventType, value,
///   timestamp, metadata, receivedAt; a duplicate batch `id` is reported on the later item(s).
///
/// All functions are pure and thread-safe.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/core/event.hpp"

namespace pulsestream::core {

/// Why a request body was refused.
struct parse_failure {
    errc code = errc::invalid_json;    ///< invalid_json, validation_failed or payload_too_large
    std::vector<field_error> errors;   ///< non-empty only for validation_failed
    std::string message;               ///< client-safe detail to use as the body's message
                                       ///< (e.g. "Invalid JSON at byte 17"); may be empty
};

/// Success holds the validated request; failure says why (see error_body()).
using parse_result = boost::system::result<parsed_request, parse_failure>;

/// Parses and validates a (decompressed) POST /v1/events body at server time `now_ms`.
/// A body may be one event object or an array of 1..rules.max_batch_events event objects; more
/// items is `payload_too_large`. One invalid item fails the whole request and every invalid item
/// is listed (`3.deviceId`; just `deviceId` for a single event; `N` for a non-object item).
/// Never throws except std::bad_alloc.
[[nodiscard]] parse_result parse_events(std::string_view body, const validation_rules& rules,
                                        std::int64_t now_ms);

/// Dead-letter class of a record the consumer cannot store (`dlq.error.class` header).
enum class record_error_class {
    parse,       ///< not JSON, not an object, or id/clientId/receivedAt missing or malformed
    validation,  ///< structurally fine, but breaks the gateway's rules
};

/// "parse" or "validation".
[[nodiscard]] std::string_view to_string(record_error_class c) noexcept;

/// Why a Kafka record was refused; `message` is a short UTF-8 text for `dlq.error.message`,
/// e.g. "deviceId: must be a UUID string; timestamp: must be an integer".
struct record_failure {
    record_error_class error_class = record_error_class::parse;
    std::string message;
};

using record_result = boost::system::result<event, record_failure>;

/// Parses and re-validates one `metrics.raw` value (as written by to_kafka_value) with the
/// gateway's rules, except that the timestamp is judged against the record's own `receivedAt`
/// (|timestamp - receivedAt| <= rules.timestamp_skew_ms), never the local clock.
/// Never throws except std::bad_alloc.
[[nodiscard]] record_result parse_kafka_value(std::string_view value,
                                              const validation_rules& rules);

/// The fast path parse_kafka_value tries first: reads `value` only when it is exactly in
/// to_kafka_value's form (that key order, no whitespace) with ASCII-only text without escapes,
/// and is valid by the same rules; returns nullopt for anything else, valid or not, which the
/// full parser then handles. Whenever it returns an event, the full parser would return the
/// same event. Exposed for the tests that check exactly that. Never throws except bad_alloc.
[[nodiscard]] std::optional<event> parse_canonical_kafka_value(std::string_view value,
                                                               const validation_rules& rules);

/// Lets `result::value()` throw boost::system::system_error carrying the failure's code.
[[noreturn]] void throw_exception_from_error(const parse_failure& failure,
                                             const boost::source_location& loc);
/// Lets `result::value()` throw boost::system::system_error (code internal_error, with message).
[[noreturn]] void throw_exception_from_error(const record_failure& failure,
                                             const boost::source_location& loc);

}  // namespace pulsestream::core
