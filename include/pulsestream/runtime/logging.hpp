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

/// A log line of a library that uses syslog levels (librdkafka's log callback), written through
/// spdlog as "<who> <facility>: <text>" so that it obeys LOG_LEVEL and LOG_FORMAT like any other
/// line. Levels 0-2 are critical, 3 error, 4 warn, 5-6 info, 7 debug. Thread-safe.
void log_syslog_line(std::string_view who, int level, std::string_view facility,
                     std::string_view text);

}  // namespace pulsestream::runtime
