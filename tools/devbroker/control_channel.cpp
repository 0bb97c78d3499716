#include "control_channel.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>
#include <system_error>
#include <vector>

#include "pulsestream/devbroker/control.hpp"

namespace pulsestream::devbroker {
namespace {

constexpr std::size_t max_line = 4096;
constexpr std::size_t max_clients = 16;

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

// A line-oriented input: stdin (replies go to stdout) or an admin client (replies go back).
struct line_source {
    int in_fd;
    int out_fd;
    std::string buffer;
};

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;  // nobody reads our stdout: the commands still take effect
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Admin clients are non-blocking; one that does not read its replies is dropped.
bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool reply(const line_source& source, const std::string& text) {
    const std::string line = text + "\n";
    if (source.out_fd == STDOUT_FILENO) {
        write_all(STDOUT_FILENO, line);
        return true;
    }
    return send_all(source.out_fd, line);
}

// Runs every complete line in the buffer; returns false if the source must be closed.
bool run_lines(line_source& source, mock_cluster& cluster, const std::string& endpoint) {
    std::size_t newline = 0;
    while ((newline = source.buffer.find('\n')) != std::string::npos) {
        const std::string line = source.buffer.substr(0, newline);
        source.buffer.erase(0, newline + 1);
        if (!reply(source, run_control_line(cluster, line, endpoint))) {
            return false;
        }
    }
    if (source.buffer.size() > max_line) {
        reply(source, "error line longer than " + std::to_string(max_line) + " bytes");
        return false;
    }
    return true;
}

// Reads what is available; returns false at end of input, on error, or on a protocol error.
bool serve(line_source& source, mock_cluster& cluster, const std::string& endpoint) {
    char chunk[1024];
    const ssize_t n = ::read(source.in_fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    if (n <= 0) {
        if (!source.buffer.empty()) {  // last line without a newline
            reply(source, run_control_line(cluster, source.buffer, endpoint));
        }
        return false;
    }
    source.buffer.append(chunk, static_cast<std::size_t>(n));
    return run_lines(source, cluster, endpoint);
}

int bind_loopback(std::uint16_t port, std::string& endpoint) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw_errno("control port: socket");
    }
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        throw_errno("control port 127.0.0.1:" + std::to_string(port));
    }
    endpoint = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    return fd;
}

void accept_client(int listen_fd, std::vector<line_source>& clients) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        return;
    }
    if (clients.size() >= max_clients) {
        send_all(fd, "error too many control clients\n");
        ::close(fd);
        return;
    }
    clients.push_back(line_source{fd, fd, {}});
}

}  // namespace

control_channel::control_channel(mock_cluster& cluster, std::optional<std::uint16_t> tcp_port)
    : cluster_(cluster) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        throw_errno("control channel: pipe");
    }
    wake_read_fd_ = fds[0];
    wake_write_fd_ = fds[1];
    if (tcp_port) {
        try {
            listen_fd_ = bind_loopback(*tcp_port, endpoint_);
        } catch (...) {
            ::close(wake_read_fd_);
            ::close(wake_write_fd_);
            throw;
        }
    }
}

control_channel::~control_channel() {
    stop();
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
    }
    ::close(wake_read_fd_);
    ::close(wake_write_fd_);
}

void control_channel::start() {
    thread_ = std::thread([this] { run(); });
}

void control_channel::stop() {
    if (!thread_.joinable()) {
        return;
    }
    const char byte = 1;
    while (::write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
    }
    thread_.join();
}

void control_channel::run() {
    line_source input{STDIN_FILENO, STDOUT_FILENO, {}};
    bool stdin_open = true;
    std::vector<line_source> clients;
    for (;;) {
        // Layout: [wake][listen?][stdin?][clients...]
        std::vector<pollfd> fds{{wake_read_fd_, POLLIN, 0}};
        if (listen_fd_ >= 0) {
            fds.push_back({listen_fd_, POLLIN, 0});
        }
        if (stdin_open) {
            fds.push_back({STDIN_FILENO, POLLIN, 0});
        }
        const std::size_t first_client = fds.size();
        for (const auto& client : clients) {
            fds.push_back({client.in_fd, POLLIN, 0});
        }
        // No timeout needed: stop() always wakes this poll through the pipe.
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::perror("pulsestream-devbroker: control channel poll");
            break;
        }
        if (fds[0].revents != 0) {
            break;
        }
        const bool accept_ready = listen_fd_ >= 0 && fds[1].revents != 0;
        if (stdin_open && fds[first_client - 1].revents != 0 &&
            !serve(input, cluster_, endpoint_)) {
            // CI runs without stdin: end of input only ends this control source.
            stdin_open = false;
        }
        std::vector<line_source> kept;
        for (std::size_t i = 0; i < clients.size(); ++i) {
            if (fds[first_client + i].revents == 0 || serve(clients[i], cluster_, endpoint_)) {
                kept.push_back(std::move(clients[i]));
            } else {
                ::close(clients[i].in_fd);
            }
        }
        clients = std::move(kept);
        if (accept_ready) {
            accept_client(listen_fd_, clients);
        }
    }
    for (const auto& client : clients) {
        ::close(client.in_fd);
    }
}

}  // namespace pulsestream::devbroker
