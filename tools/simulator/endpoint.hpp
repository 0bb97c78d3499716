#pragma once

// A gateway base URL as the simulator takes it on the command line.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pulsestream::simulator {

/// `http://host[:port][/]`: where one gateway listens. Only plain HTTP (the gateway serves no
/// TLS; put a TLS terminator in front of it in production).
struct endpoint {
    std::string host;         ///< name or address, without brackets
    std::string port;         ///< decimal, "80" when the URL names none
    std::string url;          ///< normalised `http://host:port`, for messages
    std::string host_header;  ///< value of the Host header
};

/// Parses `text`; nullopt for anything but `http://host[:port][/]` (no path, query or user).
[[nodiscard]] std::optional<endpoint> parse_endpoint(std::string_view text);

}  // namespace pulsestream::simulator
