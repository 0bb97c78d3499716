#include "pulsestream/stream/frame.hpp"

#include <nlohmann/json.hpp>

namespace pulsestream::stream {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

/// The top-level elements of a JSON array as slices of the input, so that each frame is the
/// published bytes and not a re-serialization (numbers keep their exact spelling). Only the
/// structure is scanned here; each element is parsed (and so validated) afterwards.
std::optional<std::vector<std::string_view>> top_level_elements(std::string_view array) {
    array = trimmed(array);
    if (array.size() < 2 || array.front() != '[' || array.back() != ']') return std::nullopt;
    std::vector<std::string_view> elements;
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    std::size_t start = 1;
    for (std::size_t i = 1; i + 1 < array.size(); ++i) {
        const char c = array[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
            case '"':
                in_string = true;
                break;
            case '{':
            case '[':
                ++depth;
                break;
            case '}':
            case ']':
                if (--depth < 0) return std::nullopt;
                break;
            case ',':
                if (depth == 0) {
                    elements.push_back(trimmed(array.substr(start, i - start)));
                    start = i + 1;
                }
                break;
            default:
                break;
        }
    }
    if (depth != 0 || in_string) return std::nullopt;
    const auto last = trimmed(array.substr(start, array.size() - 1 - start));
    if (!last.empty() || !elements.empty()) elements.push_back(last);
    return elements;
}

std::optional<event_frame> frame_of(std::string_view element) {
    auto value = nlohmann::json::parse(element, nullptr, /*allow_exceptions=*/false);
    if (!value.is_object()) return std::nullopt;
    const auto device = value.find("deviceId");
    const auto type = value.find("eventType");
    if (device == value.end() || !device->is_string() || type == value.end() ||
        !type->is_string()) {
        return std::nullopt;
    }
    return event_frame{std::string(element), device->get<std::string>(), type->get<std::string>()};
}

}  // namespace

std::optional<frame_batch> split_message(std::string_view message) {
    // nlohmann would read a raw NUL as the end of an element and keep the bytes after it in the
    // frame; no JSON text holds one.
    if (message.find('\0') != std::string_view::npos) return std::nullopt;
    auto elements = top_level_elements(message);
    if (!elements) return std::nullopt;
    frame_batch frames;
    frames.reserve(elements->size());
    for (const auto element : *elements) {
        if (auto frame = frame_of(element)) frames.push_back(std::move(*frame));
    }
    return frames;
}

}  // namespace pulsestream::stream
