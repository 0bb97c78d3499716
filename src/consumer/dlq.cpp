#include "pulsestream/consumer/dlq.hpp"

#include <charconv>
#include <utility>

namespace pulsestream::consumer {

namespace {

// Cuts at most `max` bytes without splitting a UTF-8 sequence (continuation bytes are 10xxxxxx).
std::string_view utf8_prefix(std::string_view text, std::size_t max) noexcept {
    if (text.size() <= max) return text;
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
    return text.substr(0, end);
}

void keep_foreign_headers(const kafka::header_list& from, kafka::header_list& to) {
    for (const auto& [name, value] : from) {
        if (!std::string_view(name).starts_with(dlq_header::prefix)) to.emplace_back(name, value);
    }
}

}  // namespace

std::string_view to_string(failure_class c) noexcept {
    switch (c) {
        case failure_class::parse:
            return "parse";
        case failure_class::validation:
            return "validation";
        case failure_class::constraint:
            return "constraint";
    }
    return "parse";
}

std::optional<std::string_view> find_header(const kafka::header_list& headers,
                                            std::string_view name) noexcept {
    std::optional<std::string_view> found;
    for (const auto& [key, value] : headers) {
        if (key == name) found = value;
    }
    return found;
}

std::uint32_t replay_count(const kafka::header_list& headers) noexcept {
    const auto text = find_header(headers, dlq_header::replay_count);
    if (!text) return 0;
    std::uint32_t count = 0;
    const auto* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, count);
    return ec == std::errc{} && ptr == end ? count : 0;
}

kafka::message make_dlq_message(source_record source, failure_class error_class,
                                std::string_view error_message, std::string_view consumer_id,
                                std::int64_t failed_at_ms) {
    kafka::message msg{std::move(source.key), std::move(source.value), {}};
    msg.headers.reserve(source.headers.size() + 9);
    keep_foreign_headers(source.headers, msg.headers);
    auto add = [&msg](std::string_view name, std::string value) {
        msg.headers.emplace_back(std::string(name), std::move(value));
    };
    add(dlq_header::error_class, std::string(to_string(error_class)));
    add(dlq_header::error_message,
        std::string(utf8_prefix(error_message, max_error_message_bytes)));
    add(dlq_header::source_topic, std::move(source.topic));
    add(dlq_header::source_partition, std::to_string(source.partition));
    add(dlq_header::source_offset, std::to_string(source.offset));
    add(dlq_header::source_timestamp, std::to_string(source.timestamp_ms));
    add(dlq_header::consumer, std::string(consumer_id));
    add(dlq_header::failed_at, std::to_string(failed_at_ms));
    add(dlq_header::replay_count, std::to_string(replay_count(source.headers)));
    return msg;
}

kafka::message make_replay_message(std::optional<std::string> key, std::string value,
                                   const kafka::header_list& headers) {
    kafka::message msg{std::move(key), std::move(value), {}};
    keep_foreign_headers(headers, msg.headers);
    msg.headers.emplace_back(std::string(dlq_header::replay_count),
                             std::to_string(replay_count(headers) + 1));
    return msg;
}

}  // namespace pulsestream::consumer
