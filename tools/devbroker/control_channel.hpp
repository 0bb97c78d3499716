#pragma once

// The devbroker's control channel: lines from stdin and, optionally, from clients of a
// loopback TCP port, run through run_control_line() on one thread.

#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "pulsestream/devbroker/mock_cluster.hpp"

namespace pulsestream::devbroker {

class control_channel {
public:
    /// Binds 127.0.0.1:`tcp_port` (0 = ephemeral) when a port is given; throws
    /// std::system_error if it cannot. Nothing runs until start().
    control_channel(mock_cluster& cluster, std::optional<std::uint16_t> tcp_port);
    ~control_channel();

    control_channel(const control_channel&) = delete;
    control_channel& operator=(const control_channel&) = delete;

    /// "127.0.0.1:port" of the admin port, or empty without one.
    [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

    /// Starts the thread serving stdin (replies on stdout) and the admin port. End of input
    /// on stdin only stops reading stdin.
    void start();

    /// Stops and joins the thread; idempotent.
    void stop();

private:
    void run();

    mock_cluster& cluster_;
    int listen_fd_ = -1;
    int wake_read_fd_ = -1;
    int wake_write_fd_ = -1;
    std::string endpoint_;
    std::thread thread_;
};

}  // namespace pulsestream::devbroker
