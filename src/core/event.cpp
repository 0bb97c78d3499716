#include "pulsestream/core/event.hpp"

#include <utility>

#include "text.hpp"

namespace pulsestream::core {
namespace {

void append_uuid(std::string& out, const uuid& id) {
    out.push_back('"');
    const std::size_t at = out.size();
    out.resize(at + 36);
    write_uuid(id, out.data() + at);
    out.push_back('"');
}

uuid id_for(const parsed_request& request, std::size_t index, const uuid& idempotency_key) {
    if (!request.is_batch) return idempotency_key;
    const auto& own = request.events[index].id;
    return own ? *own : batch_item_id(idempotency_key, index);
}

}  // namespace

void append_kafka_value(std::string& out, const event& e) {
    out += R"({"id":)";
    append_uuid(out, e.id);
    out += R"(,"clientId":)";
    append_uuid(out, e.client_id);
    out += R"(,"deviceId":)";
    append_uuid(out, e.device_id);
    out += R"(,"eventType":)";
    detail::append_json_string(out, e.event_type);
    out += R"(,"value":)";
    detail::append_json_number(out, e.value);
    out += R"(,"timestamp":)";
    detail::append_json_number(out, e.timestamp_ms);
    if (e.metadata) {
        out += R"(,"metadata":)";
        // replace: metadata built by parse_events is valid UTF-8 already; this only guards
        // hand-built events so that serialisation can never throw on content.
        out += e.metadata->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out += R"(,"receivedAt":)";
    detail::append_json_number(out, e.received_at_ms);
    out.push_back('}');
}

std::string to_kafka_value(const event& e) {
    std::string out;
    out.reserve(224 + e.event_type.size() + (e.metadata ? 128 : 0));
    append_kafka_value(out, e);
    return out;
}

std::vector<event> assign_ids(const parsed_request& request, const uuid& idempotency_key,
                              const uuid& client_id, std::int64_t received_at_ms) {
    std::vector<event> out;
    out.reserve(request.events.size());
    for (std::size_t i = 0; i < request.events.size(); ++i) {
        const event_input& in = request.events[i];
        out.push_back(event{id_for(request, i, idempotency_key), client_id, in.device_id,
                            in.event_type, in.value, in.timestamp_ms, in.metadata,
                            received_at_ms});
    }
    return out;
}

std::vector<event> assign_ids(parsed_request&& request, const uuid& idempotency_key,
                              const uuid& client_id, std::int64_t received_at_ms) {
    std::vector<event> out;
    out.reserve(request.events.size());
    for (std::size_t i = 0; i < request.events.size(); ++i) {
        event_input& in = request.events[i];
        out.push_back(event{id_for(request, i, idempotency_key), client_id, in.device_id,
                            std::move(in.event_type), in.value, in.timestamp_ms,
                            std::move(in.metadata), received_at_ms});
    }
    return out;
}

}  // namespace pulsestream::core
