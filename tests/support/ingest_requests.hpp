#pragma once

// Building POST /v1/events requests for tests.

#include <chrono>
#include <random>
#include <string>

#include "pulsestream/core/uuid.hpp"
#include "support/gateway_stack.hpp"
#include "support/http_client.hpp"

namespace pulsestream::test_support {

inline std::string fresh_uuid() {
    thread_local std::mt19937_64 gen{std::random_device{}()};
    return core::to_string(core::random_uuid_v4(gen));
}

inline std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// A valid single event body.
inline std::string event_json(const std::string& device_id,
                              const std::string& event_type = "temperature", double value = 21.5,
                              std::int64_t timestamp = now_ms()) {
    return R"({"deviceId":")" + device_id + R"(","eventType":")" + event_type + R"(","value":)" +
           std::to_string(value) + R"(,"timestamp":)" + std::to_string(timestamp) + "}";
}

/// POST /v1/events with the dev key, a JSON content type and the given idempotency key.
inline http_client::request ingest_request(const std::string& body,
                                           const std::string& idempotency_key,
                                           std::string_view api_key = dev_api_key) {
    auto req = make_request(boost::beast::http::verb::post, "/v1/events", body);
    if (!api_key.empty()) req.set("x-api-key", std::string(api_key));
    if (!idempotency_key.empty()) req.set("Idempotency-Key", idempotency_key);
    req.set(boost::beast::http::field::content_type, "application/json");
    return req;
}

}  // namespace pulsestream::test_support
