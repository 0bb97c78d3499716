#include "support/ports.hpp"

#include "support/fd_guard.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace pulsestream::test_support {

namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

std::uint16_t free_tcp_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw_errno("free_tcp_port: socket");
    }
    const fd_guard guard{fd};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    // sockaddr_in -> sockaddr is the socket API's own idiom.
    auto* generic = reinterpret_cast<sockaddr*>(&addr);
    if (::bind(fd, generic, sizeof addr) != 0) {
        throw_errno("free_tcp_port: bind 127.0.0.1:0");
    }
    socklen_t len = sizeof addr;
    if (::getsockname(fd, generic, &len) != 0) {
        throw_errno("free_tcp_port: getsockname");
    }
    return ntohs(addr.sin_port);
}

}  // namespace pulsestream::test_support
