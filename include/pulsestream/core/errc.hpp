#pragma once

/// @file
/// Expected request outcomes of PulseStream as one error enum in one Boost.System category,
/// the single table mapping each to an HTTP status, a stable machine-readable code, a
/// client-safe message and a Retry-After, and the stable JSON error body (DESIGN.md §3, §10).

#include <boost/system/error_code.hpp>
#include <boost/system/is_error_code_enum.hpp>
#include <span>
#include <string>
#include <string_view>

namespace pulsestream::core {

/// Every error a client can see. Value 0 is reserved for success so that a default
/// `boost::system::error_code` means "no error".
enum class errc : int {
    invalid_json = 1,
    validation_failed,
    missing_idempotency_key,
    invalid_idempotency_key,
    missing_api_key,
    invalid_api_key,
    api_key_deactivated,
    not_found,
    method_not_allowed,
    idempotency_in_progress,
    payload_too_large,
    unsupported_media_type,
    idempotency_key_reused,
    rate_limited,
    broker_unavailable,
    auth_unavailable,
    malformed_request,
    header_too_large,
    upgrade_required,
    request_timeout,
    internal_error,
};

/// One row of the status table.
struct error_info {
    unsigned http_status;      ///< e.g. 400
    std::string_view code;     ///< stable identifier, e.g. "invalid_json"
    std::string_view message;  ///< client-safe default message, never internal detail
    unsigned retry_after_s;    ///< Retry-After seconds to send, 0 = no header (429 is computed
                               ///< by the caller from the token bucket, so it is 0 here)
};

/// The table row of `e`. Unknown values map to the `internal_error` row.
/// Thread-safe; the reference is to static storage.
[[nodiscard]] const error_info& describe(errc e) noexcept;

/// The `pulsestream` category (a singleton; thread-safe). `message()` gives describe().message.
[[nodiscard]] const boost::system::error_category& error_category() noexcept;

/// Found by ADL, so `boost::system::error_code ec = errc::rate_limited;` works.
[[nodiscard]] boost::system::error_code make_error_code(errc e) noexcept;

/// One invalid field of a request body. `field` is a path such as `deviceId`, `3.deviceId` or
/// `0.metadata.room` (empty for the body as a whole); `message` says what rule was broken.
struct field_error {
    std::string field;
    std::string message;

    friend bool operator==(const field_error&, const field_error&) = default;
};

/// The stable error body:
/// `{"status":"error","code":"…","message":"…","errors":[{"field":"…","message":"…"}]}`.
/// `errors` is present only when `errors` is non-empty. `message_override`, when non-empty,
/// replaces the table message (callers must pass only client-safe text). Strings are JSON-escaped
/// and invalid UTF-8 is replaced by U+FFFD, so the output is always valid JSON.
[[nodiscard]] std::string error_body(errc e, std::span<const field_error> errors = {},
                                     std::string_view message_override = {});

}  // namespace pulsestream::core

template <>
struct boost::system::is_error_code_enum<pulsestream::core::errc> : std::true_type {};
