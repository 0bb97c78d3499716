#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace pulsestream::test_support {

/// A connected IPv4 TCP socket of this process, with both ends' ports.
struct tcp_socket {
    int fd = -1;
    std::uint16_t local_port = 0;
    std::uint16_t peer_port = 0;
};

/// Every connected IPv4 TCP socket this process holds, found through /proc/self/fd, so a test
/// can inspect sockets a library opened (librdkafka's broker connections, the mock cluster's
/// accepted ones) without a handle on them. A snapshot: another thread may close or reuse a
/// descriptor right after.
std::vector<tcp_socket> connected_tcp_sockets();

/// True when TCP_NODELAY is set on `fd` (Nagle's algorithm off).
bool has_tcp_nodelay(int fd);

/// The port of the last `host:port` in a comma-separated list such as a one-broker
/// `bootstrap.servers`. Throws std::invalid_argument when it does not end in a port.
std::uint16_t last_port(std::string_view host_ports);

}  // namespace pulsestream::test_support
