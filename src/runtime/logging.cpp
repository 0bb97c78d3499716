#include "pulsestream/runtime/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace pulsestream::runtime {

namespace {

/// `%*` in a pattern: the log message escaped for a JSON string, so a quote or newline in a
/// message can never break the one-object-per-line format.
class json_escaped_message final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        static constexpr char hex[] = "0123456789abcdef";
        for (const char ch : std::string_view(msg.payload.data(), msg.payload.size())) {
            const auto c = static_cast<unsigned char>(ch);
            switch (c) {
                case '"': dest.append(std::string_view("\\\"")); break;
                case '\\': dest.append(std::string_view("\\\\")); break;
                case '\n': dest.append(std::string_view("\\n")); break;
                case '\r': dest.append(std::string_view("\\r")); break;
                case '\t': dest.append(std::string_view("\\t")); break;
                default:
                    if (c < 0x20) {
                        const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                        dest.append(esc, esc + sizeof esc);
                    } else {
                        dest.push_back(ch);
                    }
            }
        }
    }
    [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<json_escaped_message>();
    }
};

}  // namespace

void configure_logging(std::string_view service, std::string_view level, std::string_view format) {
    auto logger = std::make_shared<spdlog::logger>(
        std::string(service), std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (format == "json") {
        auto formatter = std::make_unique<spdlog::pattern_formatter>();
        formatter->add_flag<json_escaped_message>('*').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","service":"%n","message":"%*"})");
        logger->set_formatter(std::move(formatter));
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %-8l %n: %v");
    }
    logger->set_level(spdlog::level::from_str(std::string(level)));
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
}

void log_syslog_line(std::string_view who, int level, std::string_view facility,
                     std::string_view text) {
    const auto lvl = level <= 2   ? spdlog::level::critical
                     : level == 3 ? spdlog::level::err
                     : level == 4 ? spdlog::level::warn
                     : level <= 6 ? spdlog::level::info
                                  : spdlog::level::debug;
    spdlog::log(lvl, "{} {}: {}", who, facility, text);
}

}  // namespace pulsestream::runtime
