#pragma once

/// @file
/// How a Redis link (command connection or subscriber) connects and reconnects.

#include <chrono>

namespace pulsestream::redis {

/// Connect and reconnect timing shared by `connection` and `subscriber`.
struct link_options {
    /// Deadline for TCP connect plus AUTH/SELECT; when it passes the attempt is abandoned
    /// and retried after the backoff.
    std::chrono::milliseconds connect_timeout{2000};
    /// First delay before reconnecting after a failed attempt or a lost connection; doubles on
    /// each further failure up to `reconnect_max`; resets once a connection is usable.
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{2000};
};

}  // namespace pulsestream::redis
