#include "support/tcp_sockets.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <charconv>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

namespace pulsestream::test_support {

namespace {

std::optional<int> int_option(int fd, int level, int name) {
    int value = 0;
    socklen_t size = sizeof value;
    if (getsockopt(fd, level, name, &value, &size) != 0) return std::nullopt;
    return value;
}

std::optional<std::uint16_t> port_of(int fd, bool peer) {
    sockaddr_in address{};
    socklen_t size = sizeof address;
    auto* raw = reinterpret_cast<sockaddr*>(&address);
    if ((peer ? getpeername(fd, raw, &size) : getsockname(fd, raw, &size)) != 0) return std::nullopt;
    if (address.sin_family != AF_INET) return std::nullopt;
    return ntohs(address.sin_port);
}

std::optional<int> descriptor_named(const std::filesystem::path& entry) {
    const auto name = entry.filename().string();
    int fd = -1;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (ec != std::errc{} || end != name.data() + name.size()) return std::nullopt;
    return fd;
}

}  // namespace

std::vector<tcp_socket> connected_tcp_sockets() {
    std::vector<tcp_socket> sockets;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        const auto fd = descriptor_named(entry.path());
        if (!fd) continue;
        if (int_option(*fd, SOL_SOCKET, SO_DOMAIN) != AF_INET) continue;
        if (int_option(*fd, SOL_SOCKET, SO_TYPE) != SOCK_STREAM) continue;
        const auto local = port_of(*fd, false);
        const auto peer = port_of(*fd, true);  // fails for listeners and unconnected sockets
        if (local && peer) sockets.push_back({*fd, *local, *peer});
    }
    return sockets;
}

bool has_tcp_nodelay(int fd) { return int_option(fd, IPPROTO_TCP, TCP_NODELAY).value_or(0) != 0; }

std::uint16_t last_port(std::string_view host_ports) {
    const auto digits = host_ports.substr(host_ports.rfind(':') + 1);
    std::uint16_t port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc{} || end != digits.data() + digits.size() || port == 0) {
        throw std::invalid_argument("no port at the end of '" + std::string(host_ports) + "'");
    }
    return port;
}

}  // namespace pulsestream::test_support
