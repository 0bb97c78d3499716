#include "pulsestream/devbroker/control.hpp"

#include <charconv>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace pulsestream::devbroker {
namespace {

constexpr int max_error_count = 100000;

[[noreturn]] void syntax_error(const std::string& message) {
    throw mock_error(RD_KAFKA_RESP_ERR__INVALID_ARG, message);
}

std::vector<std::string_view> split_blanks(std::string_view line) {
    std::vector<std::string_view> tokens;
    std::size_t pos = 0;
    while (pos < line.size()) {
        const std::size_t start = line.find_first_not_of(" \t", pos);
        if (start == std::string_view::npos) {
            break;
        }
        const std::size_t end = std::min(line.find_first_of(" \t", start), line.size());
        tokens.push_back(line.substr(start, end - start));
        pos = end;
    }
    return tokens;
}

template <typename Int>
std::optional<Int> to_int(std::string_view token) {
    Int value{};
    const auto* end = token.data() + token.size();
    const auto [ptr, ec] = std::from_chars(token.data(), end, value);
    if (ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return value;
}

template <typename Int>
Int parse_int(std::string_view token, std::string_view what, Int min,
              Int max = std::numeric_limits<Int>::max()) {
    const auto value = to_int<Int>(token);
    if (!value || *value < min || *value > max) {
        syntax_error(std::string(what) + " must be an integer in " + std::to_string(min) + ".." +
                     std::to_string(max) + ", got '" + std::string(token) + "'");
    }
    return *value;
}

std::int32_t parse_broker(std::string_view token) {
    if (token == "all") {
        return mock_cluster::all_brokers;
    }
    return parse_int<std::int32_t>(token, "broker", -1);
}

rd_kafka_resp_err_t parse_error_code(std::string_view token) {
    const rd_kafka_err_desc* descs = nullptr;
    std::size_t count = 0;
    rd_kafka_get_err_descs(&descs, &count);
    const auto number = to_int<int>(token);
    for (std::size_t i = 0; i < count; ++i) {
        if (descs[i].name == nullptr) {
            continue;  // unused slots in the table
        }
        if (number ? static_cast<int>(descs[i].code) == *number
                   : std::string_view(descs[i].name) == token) {
            return descs[i].code;
        }
    }
    syntax_error("unknown error code '" + std::string(token) +
                 "' (a librdkafka error number such as 7, or a name such as REQUEST_TIMED_OUT)");
}

void expect_args(const std::vector<std::string_view>& tokens, std::size_t args,
                 std::string_view usage) {
    if (tokens.size() != args + 1) {
        syntax_error("usage: " + std::string(usage));
    }
}

std::string broker_text(std::int32_t broker) {
    return broker == mock_cluster::all_brokers ? "all" : std::to_string(broker);
}

template <typename T, typename Pred, typename Fmt>
std::string join(const std::vector<T>& items, Pred keep, Fmt format) {
    std::string out;
    for (const auto& item : items) {
        if (!keep(item)) {
            continue;
        }
        if (!out.empty()) {
            out += ',';
        }
        out += format(item);
    }
    return out.empty() ? "-" : out;
}

std::string status_line(const cluster_status& status, std::string_view control_endpoint) {
    const auto always = [](const auto&) { return true; };
    const auto is_up = [](const broker_state& b) { return b.up; };
    const auto is_down = [](const broker_state& b) { return !b.up; };
    const auto id = [](const broker_state& b) { return std::to_string(b.id); };
    const auto rtt = [](const broker_state& b) {
        return std::to_string(b.id) + ":" + std::to_string(b.rtt_ms);
    };
    const auto topic = [](const topic_state& t) {
        return t.name + ":" + std::to_string(t.partitions) + ":" + std::to_string(t.replication);
    };
    std::ostringstream out;
    out << "ok brokers=" << status.brokers.size() << " up=" << join(status.brokers, is_up, id)
        << " down=" << join(status.brokers, is_down, id)
        << " rtt=" << join(status.brokers, always, rtt)
        << " topics=" << join(status.topics, always, topic)
        << " bootstrap=" << status.bootstrap_servers;
    if (!control_endpoint.empty()) {
        out << " control=" << control_endpoint;
    }
    return out.str();
}

}  // namespace

control_command parse_control_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    const auto tokens = split_blanks(line);
    if (tokens.empty()) {
        syntax_error(
            "empty command (try: status, down <broker>, up <broker>, rtt <broker> <ms>, "
            "error <api-key> <count> <err>, leader <topic> <partition> <broker>)");
    }
    control_command command;
    const std::string_view verb = tokens[0];
    if (verb == "down" || verb == "up") {
        expect_args(tokens, 1, std::string(verb) + " <broker|all>");
        command.what = verb == "down" ? control_command::kind::down : control_command::kind::up;
        command.broker = parse_broker(tokens[1]);
    } else if (verb == "rtt") {
        expect_args(tokens, 2, "rtt <broker|all> <ms>");
        command.what = control_command::kind::rtt;
        command.broker = parse_broker(tokens[1]);
        command.rtt_ms = parse_int<int>(tokens[2], "ms", 0);
    } else if (verb == "error") {
        expect_args(tokens, 3, "error <api-key> <count> <err-code>");
        command.what = control_command::kind::error;
        command.api_key = parse_int<std::int16_t>(tokens[1], "api-key", 0);
        command.count = parse_int<int>(tokens[2], "count", 1, max_error_count);
        command.error = parse_error_code(tokens[3]);
    } else if (verb == "leader") {
        expect_args(tokens, 3, "leader <topic> <partition> <broker|-1>");
        command.what = control_command::kind::leader;
        command.topic = std::string(tokens[1]);
        command.partition = parse_int<std::int32_t>(tokens[2], "partition", 0);
        command.broker = parse_int<std::int32_t>(tokens[3], "broker", -1);
    } else if (verb == "status") {
        expect_args(tokens, 0, "status");
        command.what = control_command::kind::status;
    } else {
        syntax_error("unknown command '" + std::string(verb) +
                     "' (commands: status, down, up, rtt, error, leader)");
    }
    return command;
}

std::string execute_control(mock_cluster& cluster, const control_command& command,
                            std::string_view control_endpoint) {
    switch (command.what) {
        case control_command::kind::down:
            cluster.broker_down(command.broker);
            return "ok down " + broker_text(command.broker);
        case control_command::kind::up:
            cluster.broker_up(command.broker);
            return "ok up " + broker_text(command.broker);
        case control_command::kind::rtt:
            cluster.set_rtt(command.broker, command.rtt_ms);
            return "ok rtt " + broker_text(command.broker) + " " + std::to_string(command.rtt_ms);
        case control_command::kind::error:
            cluster.push_request_errors(
                command.api_key, std::vector<rd_kafka_resp_err_t>(
                                     static_cast<std::size_t>(command.count), command.error));
            return "ok error api-key=" + std::to_string(command.api_key) +
                   " count=" + std::to_string(command.count) +
                   " err=" + rd_kafka_err2name(command.error);
        case control_command::kind::leader:
            cluster.set_partition_leader(command.topic, command.partition, command.broker);
            return "ok leader " + command.topic + " " + std::to_string(command.partition) + " " +
                   std::to_string(command.broker);
        case control_command::kind::status:
            return status_line(cluster.status(), control_endpoint);
    }
    return "error unhandled command";
}

std::string run_control_line(mock_cluster& cluster, std::string_view line,
                             std::string_view control_endpoint) {
    try {
        return execute_control(cluster, parse_control_line(line), control_endpoint);
    } catch (const mock_error& e) {
        return std::string("error ") + e.what();
    }
}

}  // namespace pulsestream::devbroker
