#pragma once

// Helpers of the live-stream tests: scraping one series from a gateway's /metrics, and waiting
// until a WebSocket client's tenant channel is live by posting marker events until one arrives.

#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>

#include "support/http_client.hpp"
#include "support/ingest_requests.hpp"
#include "support/wait.hpp"
#include "support/ws_client.hpp"

namespace pulsestream::test_support {

/// The value of the unlabelled series `name` in the gateway's /metrics (-1 when absent).
inline double scrape_metric(std::uint16_t port, std::string_view name) {
    http_client client(port);
    const auto res = client.send(make_request(boost::beast::http::verb::get, "/metrics"));
    std::istringstream lines(res.body());
    for (std::string line; std::getline(lines, line);) {
        if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
            line[name.size()] == ' ') {
            return std::stod(line.substr(name.size() + 1));
        }
    }
    return -1;
}

/// True when some frame of `client` is an event of device `device_id`.
inline bool has_device_frame(const ws_client& client, const std::string& device_id) {
    for (const auto& frame : client.frames()) {
        const auto event = nlohmann::json::parse(frame, nullptr, false);
        if (event.is_object() && event.value("deviceId", "") == device_id) return true;
    }
    return false;
}

/// Posts a marker event (a fresh device) through `post_port` with `api_key` every 200 ms until
/// `client` receives one, or `deadline` passes. A gateway subscribes a tenant's channel a moment
/// after the first client connected (Redis confirms asynchronously), and again after a Redis
/// restart; events published before that are not delivered by design (pub/sub has no backlog).
inline bool wait_stream_live(const ws_client& client, std::uint16_t post_port,
                             std::string_view api_key,
                             std::chrono::milliseconds deadline = std::chrono::seconds(15)) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
        const auto device = fresh_uuid();
        try {
            http_client(post_port).send(
                ingest_request(event_json(device, "marker"), fresh_uuid(), api_key));
        } catch (const std::exception&) {
            // The gateway may be unreachable for a moment; try again.
        }
        if (wait_until([&] { return has_device_frame(client, device); },
                       std::chrono::milliseconds(200))) {
            return true;
        }
    }
    return false;
}

}  // namespace pulsestream::test_support
