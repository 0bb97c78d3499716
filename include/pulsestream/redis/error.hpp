#pragma once

/// @file
/// Failures of the Redis client as `boost::system::error_code`s in the `pulsestream.redis`
/// category. A Redis *error reply* is not among them: it arrives as `reply::kind::error`.

#include <boost/system/error_code.hpp>
#include <boost/system/is_error_code_enum.hpp>

namespace pulsestream::redis {

/// Value 0 is reserved for success.
enum class error : int {
    /// The command's deadline passed before its reply arrived (the late reply is dropped).
    timeout = 1,
    /// No usable connection: not (yet) connected, reconnecting, or the connection broke while
    /// the command was in flight. Completes at once, never waits for a reconnect.
    disconnected,
    /// The circuit breaker is open: Redis failed repeatedly, the command was not sent.
    breaker_open,
    /// hiredis refused the command (empty argument list, unusable context state).
    protocol,
};

/// The `pulsestream.redis` category (a singleton; thread-safe).
[[nodiscard]] const boost::system::error_category& error_category() noexcept;

/// Found by ADL, so `boost::system::error_code ec = error::timeout;` works.
[[nodiscard]] boost::system::error_code make_error_code(error e) noexcept;

}  // namespace pulsestream::redis

template <>
struct boost::system::is_error_code_enum<pulsestream::redis::error> : std::true_type {};
