#include "endpoint.hpp"

#include <charconv>

namespace pulsestream::simulator {

std::optional<endpoint> parse_endpoint(std::string_view text) {
    constexpr std::string_view scheme = "http://";
    if (!text.starts_with(scheme)) {
        return std::nullopt;
    }
    text.remove_prefix(scheme.size());
    if (text.ends_with('/')) {
        text.remove_suffix(1);
    }
    if (text.empty() || text.find_first_of("/?#@ ") != std::string_view::npos) {
        return std::nullopt;
    }
    endpoint ep;
    std::string_view port = "80";
    if (text.front() == '[') {  // [v6]:port
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        ep.host = std::string(text.substr(1, close - 1));
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return std::nullopt;
            }
            port = rest.substr(1);
        }
    } else {
        const auto colon = text.rfind(':');
        ep.host = std::string(text.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = text.substr(colon + 1);
        }
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ep.host.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
        return std::nullopt;
    }
    ep.port = std::to_string(value);
    const bool v6 = ep.host.find(':') != std::string::npos;
    ep.host_header = (v6 ? "[" + ep.host + "]" : ep.host) + ":" + ep.port;
    ep.url = "http://" + ep.host_header;
    return ep;
}

}  // namespace pulsestream::simulator
