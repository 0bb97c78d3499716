#include "requests.hpp"

#include <zlib.h>

#include <chrono>
#include <stdexcept>

#include "pulsestream/core/uuid.hpp"

namespace pulsestream::simulator {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

uuid_source::uuid_source() : gen_(std::random_device{}()) {}

std::string uuid_source::next() { return core::to_string(core::random_uuid_v4(gen_)); }

event_spec make_event(uuid_source& ids, std::string_view event_type, double value) {
    event_spec event;
    event.device_id = ids.next();
    event.event_type = std::string(event_type);
    event.value = value;
    event.timestamp = now_ms();
    return event;
}

nlohmann::json to_json(const event_spec& event) {
    nlohmann::json json{{"deviceId", event.device_id},
                        {"eventType", event.event_type},
                        {"value", event.value},
                        {"timestamp", event.timestamp}};
    if (event.metadata) {
        json["metadata"] = *event.metadata;
    }
    if (event.id) {
        json["id"] = *event.id;
    }
    return json;
}

std::string event_body(const event_spec& event) { return to_json(event).dump(); }

std::string batch_body(const std::vector<event_spec>& events) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& event : events) {
        array.push_back(to_json(event));
    }
    return array.dump();
}

std::string gzip(std::string_view data) {
    z_stream zs{};
    // 15 window bits + 16: a gzip header and trailer instead of zlib's.
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        throw std::runtime_error("zlib: deflateInit2 failed");
    }
    std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        throw std::runtime_error("zlib: deflate did not finish");
    }
    return out;
}

http_request post_events(std::string body, std::string_view api_key,
                         std::string_view idempotency_key, bool gzipped) {
    http_request request{bhttp::verb::post, "/v1/events", 11};
    if (!api_key.empty()) {
        request.set("x-api-key", std::string(api_key));
    }
    if (!idempotency_key.empty()) {
        request.set("Idempotency-Key", std::string(idempotency_key));
    }
    request.set(bhttp::field::content_type, "application/json");
    if (gzipped) {
        request.set(bhttp::field::content_encoding, "gzip");
    }
    request.body() = std::move(body);
    return request;
}

std::vector<std::string> expected_batch_ids(std::string_view idempotency_key,
                                            const std::vector<event_spec>& events) {
    const auto key = core::parse_uuid(idempotency_key);
    std::vector<std::string> ids;
    ids.reserve(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (events[i].id) {
            ids.push_back(*events[i].id);
        } else {
            ids.push_back(key ? core::to_string(core::batch_item_id(*key, i)) : std::string{});
        }
    }
    return ids;
}

std::vector<std::string> accepted_ids(std::string_view response_body) {
    const auto json = nlohmann::json::parse(response_body, nullptr, false);
    std::vector<std::string> ids;
    if (!json.is_object() || !json.contains("data") || !json["data"].is_object()) {
        return ids;
    }
    const auto& data = json["data"];
    if (data.contains("id") && data["id"].is_string()) {
        ids.push_back(data["id"].get<std::string>());
    } else if (data.contains("ids") && data["ids"].is_array()) {
        for (const auto& id : data["ids"]) {
            if (id.is_string()) {
                ids.push_back(id.get<std::string>());
            }
        }
    }
    return ids;
}

std::string error_code_of(std::string_view response_body) {
    const auto json = nlohmann::json::parse(response_body, nullptr, false);
    if (json.is_object() && json.contains("code") && json["code"].is_string()) {
        return json["code"].get<std::string>();
    }
    return {};
}

}  // namespace pulsestream::simulator
