#pragma once

/// @file
/// librdkafka's `rd_kafka_resp_err_t` as `boost::system::error_code` values, and the
/// retryable/fatal split that picks 503 (retry later) versus a permanent failure.

#include <librdkafka/rdkafka.h>

#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>

namespace pulsestream::kafka {

/// The `rdkafka` category (a singleton; thread-safe). Values are `rd_kafka_resp_err_t`, both
/// the negative client-side codes (`RD_KAFKA_RESP_ERR__*`) and broker codes; `message()` is
/// `rd_kafka_err2str`. `RD_KAFKA_RESP_ERR_NO_ERROR` (0) is success. Timeouts, a full queue,
/// oversize messages and shutdown are equivalent to the matching `boost::system::errc`
/// conditions (`timed_out`, `no_buffer_space`, `message_size`, `operation_canceled`).
[[nodiscard]] const boost::system::error_category& error_category() noexcept;

/// Wraps a librdkafka error code. `RD_KAFKA_RESP_ERR_NO_ERROR` gives a success code.
[[nodiscard]] boost::system::error_code make_error_code(rd_kafka_resp_err_t e) noexcept;

/// True when `ec` belongs to the `rdkafka` category (and is not success).
[[nodiscard]] bool is_kafka_error(const boost::system::error_code& ec) noexcept;

/// The librdkafka code inside `ec`: `RD_KAFKA_RESP_ERR_NO_ERROR` for success and
/// `RD_KAFKA_RESP_ERR_UNKNOWN` for a code of another category.
[[nodiscard]] rd_kafka_resp_err_t resp_err(const boost::system::error_code& ec) noexcept;

/// Whether sending the same record again later may succeed: the local queue is full, a
/// timeout, transport or broker availability problem, a leader election, too few in-sync
/// replicas, or the producer shutting down / purging (the record may or may not have been
/// written; idempotent consumers make a retry safe). False for permanent failures (message too
/// large, unknown topic or partition, authorization, invalid arguments, a fatal idempotence
/// error), for success, and for codes of other categories (such as `operation_aborted` after a
/// caller's own cancellation, whose meaning only the caller knows).
[[nodiscard]] bool is_retryable(const boost::system::error_code& ec) noexcept;

}  // namespace pulsestream::kafka
