#include "pulsestream/stream/filter.hpp"

#include <algorithm>

#include "pulsestream/core/uuid.hpp"

namespace pulsestream::stream {

namespace {

constexpr std::size_t max_event_type_bytes = 200;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string too_many(std::size_t max_values) {
    return "at most " + std::to_string(max_values) + " values";
}

bool contains(const std::vector<std::string>& values, std::string_view v) {
    return std::find(values.begin(), values.end(), v) != values.end();
}

}  // namespace

void stream_filter::allow_device(std::string device_id) {
    if (!contains(devices_, device_id)) devices_.push_back(std::move(device_id));
}

void stream_filter::allow_event_type(std::string event_type) {
    if (!contains(event_types_, event_type)) event_types_.push_back(std::move(event_type));
}

bool stream_filter::matches(const event_frame& frame) const {
    return (devices_.empty() || contains(devices_, frame.device_id)) &&
           (event_types_.empty() || contains(event_types_, frame.event_type));
}

std::string form_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
                   hex_value(text[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

stream_query parse_stream_query(std::string_view query, std::size_t max_values) {
    stream_query result;
    std::size_t devices = 0;
    std::size_t types = 0;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        const auto name = form_decode(pair.substr(0, eq));
        auto value =
            eq == std::string_view::npos ? std::string{} : form_decode(pair.substr(eq + 1));
        if (name == "api_key") {
            result.api_key = std::move(value);
        } else if (name == "deviceId") {
            if (++devices > max_values) {
                if (devices == max_values + 1) {
                    result.errors.push_back({"deviceId", too_many(max_values)});
                }
                continue;
            }
            const auto id = core::parse_uuid(value);
            if (!id) {
                result.errors.push_back({"deviceId", "must be a UUID"});
                continue;
            }
            result.filter.allow_device(core::to_string(*id));
        } else if (name == "eventType") {
            if (++types > max_values) {
                if (types == max_values + 1) {
                    result.errors.push_back({"eventType", too_many(max_values)});
                }
                continue;
            }
            if (value.empty() || value.size() > max_event_type_bytes) {
                result.errors.push_back({"eventType", "must be 1 to 200 bytes"});
                continue;
            }
            result.filter.allow_event_type(std::move(value));
        }
    }
    return result;
}

}  // namespace pulsestream::stream
