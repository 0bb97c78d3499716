#pragma once

/// @file
/// The value of the `Date` response field, which an origin server with a clock must send
/// (RFC 9110 §6.6.1), in the IMF-fixdate form of RFC 9110 §5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT".

#include <chrono>
#include <string>
#include <string_view>

namespace pulsestream::http {

/// `when` in IMF-fixdate, to the second (always UTC, always 29 characters).
[[nodiscard]] std::string format_http_date(std::chrono::system_clock::time_point when);

/// Now in IMF-fixdate. Formatted at most once a second on each thread, so a busy server does not
/// pay for it per response; the view is valid until this thread calls again.
[[nodiscard]] std::string_view current_http_date();

}  // namespace pulsestream::http
