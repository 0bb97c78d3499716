#pragma once

/// @file
/// Where a Redis server is and how to log in: parsed from `REDIS_URL`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pulsestream::redis {

/// A Redis server address plus the AUTH/SELECT a new connection sends before it is usable.
struct endpoint {
    std::string host = "localhost";
    std::uint16_t port = 6379;
    /// Redis 6 ACL user; sent as `AUTH username password`. Only set together with `password`.
    std::optional<std::string> username;
    /// Sent as `AUTH password` (or with `username`) on every (re)connect.
    std::optional<std::string> password;
    /// Sent as `SELECT db` on every (re)connect when not 0.
    int db = 0;
};

/// Parses `redis://[[username]:password@]host[:port][/db]`.
///
/// The scheme is case-insensitive; `host` may be a name, an IPv4 address or a bracketed IPv6
/// address (`[::1]`); `port` defaults to 6379 and must be 1-65535; `db` is a decimal number
/// (empty or `/` means 0). Username and password are percent-decoded. Returns nothing for any
/// other form: another scheme (`rediss://` is not supported), an empty host, a query string or
/// fragment, a username without a password, or bad numbers. Pure function, thread-safe.
[[nodiscard]] std::optional<endpoint> parse_redis_url(std::string_view url);

}  // namespace pulsestream::redis
