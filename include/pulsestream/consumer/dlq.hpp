#pragma once

/// @file
/// Dead-letter records of `metrics.dlq` (DESIGN.md §5, §10): the failed record's key and value
/// unchanged, its other headers kept, and the `dlq.*` headers below. Header values are UTF-8
/// text; numbers are decimal; times are epoch milliseconds. Shared by the consumer (which
/// writes them) and `pulsestream-dlq` (which lists and replays them).
///
/// Everything here is pure and thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pulsestream/kafka/producer.hpp"

namespace pulsestream::consumer {

/// Header names.
namespace dlq_header {
inline constexpr std::string_view error_class = "dlq.error.class";
inline constexpr std::string_view error_message = "dlq.error.message";
inline constexpr std::string_view source_topic = "dlq.source.topic";
inline constexpr std::string_view source_partition = "dlq.source.partition";
inline constexpr std::string_view source_offset = "dlq.source.offset";
inline constexpr std::string_view source_timestamp = "dlq.source.timestamp";
inline constexpr std::string_view consumer = "dlq.consumer";
inline constexpr std::string_view failed_at = "dlq.failed.at";
inline constexpr std::string_view replay_count = "dlq.replay.count";
/// Every header name starts with this.
inline constexpr std::string_view prefix = "dlq.";
}  // namespace dlq_header

/// Why a record went to the DLQ (`dlq.error.class`).
enum class failure_class {
    parse,       ///< not an event at all (not JSON, ids missing, …)
    validation,  ///< an event breaking the gateway's rules
    constraint,  ///< valid, but PostgreSQL refused it with a data error (SQLSTATE 22/23)
};

/// "parse", "validation" or "constraint".
[[nodiscard]] std::string_view to_string(failure_class c) noexcept;

/// Where the failed record came from.
struct source_record {
    std::string topic;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::int64_t timestamp_ms = -1;  ///< the record's timestamp; -1 when it has none
    std::optional<std::string> key;  ///< nullopt for a null key
    std::string value;
    kafka::header_list headers;  ///< the record's own headers, in order
};

/// Longest `dlq.error.message` written (bytes; cut at a UTF-8 character boundary).
inline constexpr std::size_t max_error_message_bytes = 1024;

/// The DLQ record for `source`: key and value moved over unchanged; the source's headers
/// except `dlq.*` ones, then the nine `dlq.*` headers. `dlq.replay.count` is the source's own
/// count carried over unchanged (0 when absent): only a replay increments it.
[[nodiscard]] kafka::message make_dlq_message(source_record source, failure_class error_class,
                                              std::string_view error_message,
                                              std::string_view consumer_id,
                                              std::int64_t failed_at_ms);

/// The value of the last header named `name`, if any.
[[nodiscard]] std::optional<std::string_view> find_header(const kafka::header_list& headers,
                                                          std::string_view name) noexcept;

/// `dlq.replay.count` of a record: its last such header as a decimal, 0 when absent or not a
/// non-negative decimal.
[[nodiscard]] std::uint32_t replay_count(const kafka::header_list& headers) noexcept;

/// The record to produce back to `metrics.raw` when replaying a DLQ record: key and value
/// unchanged, its non-`dlq.*` headers, and `dlq.replay.count` = replay_count(headers) + 1.
[[nodiscard]] kafka::message make_replay_message(std::optional<std::string> key, std::string value,
                                                 const kafka::header_list& headers);

}  // namespace pulsestream::consumer
