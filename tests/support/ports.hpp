#pragma once

#include <cstdint>

namespace pulsestream::test_support {

/// Returns a TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it for a socket
/// bound to port 0, which is then closed.
///
/// Another process may take the port before the caller binds it; servers started on it should
/// retry with a new port when binding fails. Throws std::system_error when no socket can be bound.
/// Thread-safe.
std::uint16_t free_tcp_port();

}  // namespace pulsestream::test_support
