#pragma once

// What the simulator sends: event bodies, gzip, ids, POST /v1/events requests.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "http_client.hpp"

namespace pulsestream::simulator {

/// Milliseconds since the epoch, now.
[[nodiscard]] std::int64_t now_ms();

/// A source of random version 4 UUIDs (canonical lower case). Not thread-safe.
class uuid_source {
public:
    uuid_source();
    [[nodiscard]] std::string next();

private:
    std::mt19937_64 gen_;
};

/// One event as the API takes it (DESIGN.md §3).
struct event_spec {
    std::string device_id;
    std::string event_type = "temperature";
    double value = 21.5;
    std::int64_t timestamp = 0;
    std::optional<nlohmann::json> metadata;  ///< flat object
    std::optional<std::string> id;           ///< batch items only
};

/// A fresh, valid event of a fresh device, stamped now.
[[nodiscard]] event_spec make_event(uuid_source& ids, std::string_view event_type = "temperature",
                                    double value = 21.5);

[[nodiscard]] nlohmann::json to_json(const event_spec& event);
/// The single-event body.
[[nodiscard]] std::string event_body(const event_spec& event);
/// The batch body: a JSON array.
[[nodiscard]] std::string batch_body(const std::vector<event_spec>& events);

/// gzip (RFC 1952) of `data`. Throws std::runtime_error if zlib fails.
[[nodiscard]] std::string gzip(std::string_view data);

/// `POST /v1/events` with `x-api-key`, `Idempotency-Key` and a JSON content type; `body` is
/// sent as is, with `Content-Encoding: gzip` when `gzipped`. An empty `api_key` or
/// `idempotency_key` leaves that header out.
[[nodiscard]] http_request post_events(std::string body, std::string_view api_key,
                                       std::string_view idempotency_key, bool gzipped = false);

/// The ids the gateway gives the items of a batch sent with `idempotency_key`: an item's own
/// `id`, else the name-based id of the key and the item's index (DESIGN.md §3).
[[nodiscard]] std::vector<std::string> expected_batch_ids(std::string_view idempotency_key,
                                                          const std::vector<event_spec>& events);

/// The ids a 202 reports: `data.id` for one event, `data.ids` for a batch. Empty when the
/// body is not such a 202 body.
[[nodiscard]] std::vector<std::string> accepted_ids(std::string_view response_body);

/// `code` of an error body, empty when there is none.
[[nodiscard]] std::string error_code_of(std::string_view response_body);

}  // namespace pulsestream::simulator
