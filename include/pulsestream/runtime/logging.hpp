#pragma once

/// @file
/// Process-wide spdlog set-up for the daemons: LOG_LEVEL and LOG_FORMAT (text or json).

#include <string_view>

namespace pulsestream::runtime {

/// Replaces the default logger by one writing to stderr. `format` "json" writes one JSON object
/// per line (`time`, `level`, `service`, `message`, message escaped); anything else, plain text.
/// `level` is a spdlog level name (trace, debug, info, warn, error, critical, off).
/// Call once at start-up, before any thread logs.
void configure_logging(std::string_view service, std::string_view level, std::string_view format);

}  // namespace pulsestream::runtime
