#pragma once

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace pulsestream::test_support {

/// Collects what spdlog's default logger writes (the message text only, info and above) for as
/// long as it lives, then puts the previous logger back.
///
/// spdlog's free functions use the default logger through a raw pointer, so nothing may still be
/// logging when it is replaced: `stop_loggers` (run first in the destructor) stops the threads
/// of the code under test that log, e.g. by destroying it.
class log_capture {
public:
    explicit log_capture(std::function<void()> stop_loggers = {})
        : stop_loggers_(std::move(stop_loggers)) {
        sink_->set_pattern("%v");
        auto logger = std::make_shared<spdlog::logger>("test", sink_);
        logger->set_level(spdlog::level::info);
        spdlog::set_default_logger(std::move(logger));
    }
    ~log_capture() {
        if (stop_loggers_) stop_loggers_();
        spdlog::set_default_logger(previous_);
    }
    log_capture(const log_capture&) = delete;
    log_capture& operator=(const log_capture&) = delete;

    /// How many lines so far begin with `prefix`.
    [[nodiscard]] std::size_t lines_starting(std::string_view prefix) const {
        std::size_t n = 0;
        for (const auto& line : sink_->last_formatted()) {
            if (std::string_view(line).starts_with(prefix)) ++n;
        }
        return n;
    }

private:
    std::function<void()> stop_loggers_;
    std::shared_ptr<spdlog::logger> previous_ = spdlog::default_logger();
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_ =
        std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
};

}  // namespace pulsestream::test_support
