#pragma once

/// @file
/// The devbroker's line-based control protocol (stdin and the loopback admin port).
///
/// One command per line, tokens separated by blanks; each line gets exactly one reply line,
/// `ok ...` or `error <message>`:
///
/// | command | effect |
/// |---|---|
/// | `down <broker>` | `mock_cluster::broker_down` |
/// | `up <broker>` | `mock_cluster::broker_up` |
/// | `rtt <broker> <ms>` | `mock_cluster::set_rtt` |
/// | `error <api-key> <count> <err>` | `push_request_errors` with `count` times `err` |
/// | `leader <topic> <partition> <broker>` | `set_partition_leader` (`-1` = leaderless) |
/// | `status` | the state, one line (below) |
///
/// `status` answers `ok brokers=N up=1,2 down=3 rtt=1:0,2:0,3:250 topics=NAME:PARTITIONS:REPL,...
/// bootstrap=HOST:PORT,... [control=HOST:PORT]` (one line; `-` for an empty list).
///
/// `<broker>` is a broker id or `all` (also `-1`). `<api-key>` is the Kafka ApiKey number
/// (0 = Produce). `<err>` is a librdkafka error number (e.g. `7`, `-195`) or its name without
/// the `RD_KAFKA_RESP_ERR_` prefix (e.g. `REQUEST_TIMED_OUT`, `_TRANSPORT`).

#include <cstdint>
#include <string>
#include <string_view>

#include "pulsestream/devbroker/mock_cluster.hpp"

namespace pulsestream::devbroker {

/// A parsed control line.
struct control_command {
    enum class kind { down, up, rtt, error, leader, status };

    kind what = kind::status;
    std::int32_t broker = 0;
    int rtt_ms = 0;
    std::int16_t api_key = 0;
    int count = 0;
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::string topic;
    std::int32_t partition = 0;
};

/// Parses one line (without its newline; a trailing `\r` is ignored). Throws `mock_error`
/// with a message suitable for the `error` reply on bad syntax. Does not check broker ids or
/// topics against a cluster; `execute_control` does.
[[nodiscard]] control_command parse_control_line(std::string_view line);

/// Runs `command` on `cluster` and returns the `ok ...` reply. Throws `mock_error` if the
/// cluster refuses. `control_endpoint`, when not empty, is reported by `status` as `control=`.
[[nodiscard]] std::string execute_control(mock_cluster& cluster, const control_command& command,
                                          std::string_view control_endpoint = {});

/// Parses and runs one line; never throws `mock_error`: failures become `error <message>`.
/// The reply has no newline. Thread-safe as far as `mock_cluster` is.
[[nodiscard]] std::string run_control_line(mock_cluster& cluster, std::string_view line,
                                           std::string_view control_endpoint = {});

}  // namespace pulsestream::devbroker
