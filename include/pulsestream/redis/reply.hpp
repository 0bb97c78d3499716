#pragma once

/// @file
/// An owned copy of one Redis reply (hiredis frees its own `redisReply` when the reply callback
/// returns, so every reply handed to PulseStream code is copied into this type first).

#include <string>
#include <string_view>
#include <vector>

namespace pulsestream::redis {

/// One RESP2 reply. Plain value type: copyable, movable, no reference into hiredis memory.
///
/// A Redis error reply (`-ERR ...`, `-WRONGTYPE ...`) is a *successful* round trip and arrives as
/// `kind::error` with the message in `str`; connection problems are `error_code`s instead.
struct reply {
    enum class kind { string, array, integer, nil, status, error };

    kind type = kind::nil;
    /// Payload of `string`, `status` and `error` replies (binary-safe).
    std::string str;
    /// Payload of `integer` replies.
    long long integer = 0;
    /// Elements of `array` replies (nested arrays allowed).
    std::vector<reply> elements;

    [[nodiscard]] bool is_nil() const noexcept { return type == kind::nil; }
    [[nodiscard]] bool is_error() const noexcept { return type == kind::error; }
    /// True for the status reply `+OK` (SET, SELECT, AUTH, ...).
    [[nodiscard]] bool is_ok() const noexcept { return type == kind::status && str == "OK"; }
};

/// "string", "array", ... (for logs and test messages).
[[nodiscard]] std::string_view to_string(reply::kind k) noexcept;

}  // namespace pulsestream::redis
