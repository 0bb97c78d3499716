#pragma once

// Invariants of the event parsers, shared by the libFuzzer target (event_parser_fuzz.cpp) and
// the corpus replay unit test (tests/unit/fuzz_corpus_test.cpp), so every corpus file is also a
// regression test under the normal build.
//
// For each input:
//  1. parse_events never throws; its outcome is consistent (codes, error lists, limits).
//  2. It agrees with an independent DOM-based reference validator written from DESIGN.md §3:
//     syntax errors match nlohmann's DOM parser, acceptance matches the reference rules, and
//     accepted events carry exactly the DOM's values.
//  3. Accepted events survive to_kafka_value -> parse_kafka_value unchanged.
//  4. parse_kafka_value never throws on the raw input; what it accepts re-serialises to a value
//     it accepts again with the same content.
//  5. error_body() of every failure is valid JSON.
//  6. parse_canonical_kafka_value (the consumer's fast path) accepts only records the DOM
//     reference accepts, with exactly the DOM's values.

#include <cmath>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/core/event.hpp"
#include "pulsestream/core/validate.hpp"

namespace pulsestream::fuzz {

using report_fn = std::function<void(const std::string& what)>;

inline constexpr std::int64_t fuzz_now_ms = 1'700'000'000'000;
inline const core::validation_rules fuzz_rules{300'000, 8};

namespace reference {

using json = nlohmann::json;

/// nlohmann's DOM of `text`, discarded when it is not JSON. nlohmann alone would take a raw NUL
/// byte for the end of the input and accept "[1]\0garbage"; no JSON text holds one.
inline json dom(std::string_view text) {
    if (text.find('\0') != std::string_view::npos) return json(json::value_t::discarded);
    return json::parse(text.begin(), text.end(), nullptr, false);
}

inline std::size_t code_points(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0U) != 0x80U;
    return n;
}

inline bool has_control(std::string_view s) {
    // Decode code points and test the ranges literally (independent of the library's bytes test).
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::uint32_t cp = c;
        std::size_t len = 1;
        if (c >= 0xF0U) {
            len = 4;
        } else if (c >= 0xE0U) {
            len = 3;
        } else if (c >= 0xC0U) {
            len = 2;
        }
        if (len > 1) {
            cp = c & (0xFFU >> (len + 1));
            for (std::size_t k = 1; k < len && i + k < s.size(); ++k) {
                cp = (cp << 6U) | (static_cast<unsigned char>(s[i + k]) & 0x3FU);
            }
        }
        if (cp <= 0x1FU || cp == 0x7FU || (cp >= 0x80U && cp <= 0x9FU)) return true;
        i += len;
    }
    return false;
}

inline bool valid_metadata(const json& m) {
    if (!m.is_object() || m.size() > 32) return false;
    for (const auto& [k, v] : m.items()) {
        if (code_points(k) > 64 || k.find('\0') != std::string::npos) return false;
        if (v.is_string()) {
            const auto& s = v.get_ref<const std::string&>();
            if (code_points(s) > 256 || s.find('\0') != std::string::npos) return false;
        } else if (!v.is_number() && !v.is_boolean()) {
            return false;
        }
    }
    return true;
}

inline bool in_window(const json& t, std::int64_t reference, std::int64_t skew) {
    if (!t.is_number_integer()) return false;
    if (t.is_number_unsigned() && t.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        return false;
    }
    const long double diff = static_cast<long double>(t.get<std::int64_t>()) - reference;
    return std::fabs(diff) <= static_cast<long double>(skew);
}

inline std::optional<core::uuid> uuid_field(const json& o, const char* name) {
    const auto it = o.find(name);
    if (it == o.end() || !it->is_string()) return std::nullopt;
    return core::parse_uuid(it->get_ref<const std::string&>());
}

// Validates one event object the DOM way; fills `out` when valid.
inline bool event_ok(const json& o, bool batch_item, std::int64_t reference,
                     core::event_input& out) {
    if (!o.is_object()) return false;
    const auto device = uuid_field(o, "deviceId");
    if (!device) return false;
    const auto type = o.find("eventType");
    if (type == o.end() || !type->is_string()) return false;
    const auto& t = type->get_ref<const std::string&>();
    if (code_points(t) < 2 || code_points(t) > 50 || has_control(t)) return false;
    const auto value = o.find("value");
    if (value == o.end() || !value->is_number() || !std::isfinite(value->get<double>())) {
        return false;
    }
    const auto ts = o.find("timestamp");
    if (ts == o.end() || !in_window(*ts, reference, fuzz_rules.timestamp_skew_ms)) return false;
    const auto meta = o.find("metadata");
    if (meta != o.end() && !valid_metadata(*meta)) return false;
    out = core::event_input{};
    if (batch_item && o.contains("id")) {
        const auto id = uuid_field(o, "id");
        if (!id) return false;
        out.id = id;
    }
    out.device_id = *device;
    out.event_type = t;
    out.value = value->get<double>();
    out.timestamp_ms = ts->get<std::int64_t>();
    if (meta != o.end()) out.metadata = *meta;
    return true;
}

// Validates one metrics.raw value the DOM way (request rules, skew judged against receivedAt);
// fills `out` when valid.
inline bool record_ok(const json& o, core::event& out) {
    if (!o.is_object()) return false;
    const auto id = uuid_field(o, "id");
    const auto client = uuid_field(o, "clientId");
    const auto received = o.find("receivedAt");
    const bool received_is_int64 =
        received != o.end() && received->is_number_integer() &&
        !(received->is_number_unsigned() &&
          received->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX));
    if (!id || !client || !received_is_int64) return false;
    const auto received_at = received->get<std::int64_t>();
    core::event_input in;
    if (!event_ok(o, false, received_at, in)) return false;
    out = core::event{*id,      *client,         in.device_id,           std::move(in.event_type),
                      in.value, in.timestamp_ms, std::move(in.metadata), received_at};
    return true;
}

inline std::size_t depth(const json& j) {
    // Iterative, so that checking a deep document cannot overflow the stack either.
    std::size_t deepest = 0;
    std::vector<std::pair<const json*, std::size_t>> stack{{&j, 1}};
    while (!stack.empty()) {
        const auto [node, d] = stack.back();
        stack.pop_back();
        if (!node->is_structured()) continue;
        deepest = std::max(deepest, d);
        for (const json& child : *node) stack.emplace_back(&child, d + 1);
    }
    return deepest;
}

}  // namespace reference

inline bool same_event_input(const core::event_input& a, const core::event_input& b) {
    const bool same_value = a.value == b.value || (std::isnan(a.value) && std::isnan(b.value));
    return a.id == b.id && a.device_id == b.device_id && a.event_type == b.event_type &&
           same_value && a.timestamp_ms == b.timestamp_ms && a.metadata == b.metadata;
}

inline bool same_event(const core::event& a, const core::event& b) {
    return a.id == b.id && a.client_id == b.client_id && a.device_id == b.device_id &&
           a.event_type == b.event_type && a.value == b.value && a.timestamp_ms == b.timestamp_ms &&
           a.metadata == b.metadata && a.received_at_ms == b.received_at_ms;
}

inline void check_body_is_json(const std::string& body, const report_fn& report) {
    if (!nlohmann::json::accept(body)) report("error_body is not valid JSON: " + body);
}

inline void check_request(std::string_view data, const report_fn& report) {
    using core::errc;
    using json = nlohmann::json;
    const auto result = core::parse_events(data, fuzz_rules, fuzz_now_ms);
    const json dom = reference::dom(data);

    if (!result) {
        const core::parse_failure& f = result.error();
        check_body_is_json(core::error_body(f.code, f.errors, f.message), report);
        if (f.code == errc::validation_failed) {
            if (f.errors.empty()) report("validation_failed without field errors");
        } else if (f.code == errc::invalid_json || f.code == errc::payload_too_large) {
            if (!f.errors.empty()) report("field errors on a non-validation failure");
        } else {
            report("unexpected code " + std::string(core::describe(f.code).code));
        }
        if (dom.is_discarded()) {
            if (f.code == errc::validation_failed) report("validation_failed on malformed JSON");
            return;
        }
        if (f.code == errc::invalid_json) {
            const bool deep = reference::depth(dom) > core::max_json_depth;
            const bool duplicate = f.message == "Duplicate key in a JSON object";
            if (!deep && !duplicate) report("invalid_json for JSON that nlohmann accepts");
            return;
        }
        if (f.code == errc::payload_too_large) {
            if (!dom.is_array() || dom.size() <= fuzz_rules.max_batch_events) {
                report("payload_too_large for a body within the batch limit");
            }
            return;
        }
        // validation_failed: the reference must reject too.
        core::event_input scratch;
        if (dom.is_object() && reference::event_ok(dom, false, fuzz_now_ms, scratch)) {
            report("validation_failed for an event the reference accepts");
        }
        if (dom.is_array() && !dom.empty() && dom.size() <= fuzz_rules.max_batch_events) {
            bool all_ok = true;
            std::set<core::uuid> ids;
            for (const json& item : dom) {
                all_ok = all_ok && reference::event_ok(item, true, fuzz_now_ms, scratch);
                if (all_ok && scratch.id) all_ok = ids.insert(*scratch.id).second;
            }
            if (all_ok) report("validation_failed for a batch the reference accepts");
        }
        return;
    }

    // Accepted.
    const core::parsed_request& req = *result;
    if (dom.is_discarded()) return report("accepted JSON that nlohmann rejects");
    if (req.events.empty() || req.events.size() > fuzz_rules.max_batch_events) {
        return report("accepted an empty or oversized request");
    }
    if (req.is_batch != dom.is_array()) return report("is_batch disagrees with the body shape");
    if (reference::depth(dom) > core::max_json_depth) return report("accepted too deep a body");
    const std::size_t n = dom.is_array() ? dom.size() : 1;
    if (n != req.events.size()) return report("event count differs from the body");
    std::set<core::uuid> ids;
    for (std::size_t i = 0; i < n; ++i) {
        core::event_input expected;
        const json& item = dom.is_array() ? dom[i] : dom;
        if (!reference::event_ok(item, req.is_batch, fuzz_now_ms, expected)) {
            return report("accepted item " + std::to_string(i) + " that the reference rejects");
        }
        if (!same_event_input(expected, req.events[i])) {
            return report("item " + std::to_string(i) + " differs from the DOM's values");
        }
        if (expected.id && !ids.insert(*expected.id).second) {
            return report("accepted duplicate batch ids");
        }
    }

    // Round trip through the Kafka value.
    const auto key = core::uuid_v5(core::namespace_dns, data);
    const auto client = core::uuid_v5(core::namespace_url, data);
    for (const core::event& e : core::assign_ids(req, key, client, fuzz_now_ms)) {
        const std::string value = core::to_kafka_value(e);
        const auto back = core::parse_kafka_value(value, fuzz_rules);
        if (!back) return report("own Kafka value rejected: " + back.error().message + " " + value);
        if (!same_event(*back, e)) return report("Kafka value round trip changed " + value);
    }
}

// The fast path never accepts what the DOM reference rejects, and reads the same values.
inline void check_canonical_record(std::string_view data, const report_fn& report) {
    const auto fast = core::parse_canonical_kafka_value(data, fuzz_rules);
    if (!fast) return;
    const auto dom = reference::dom(data);
    core::event expected;
    if (dom.is_discarded() || !reference::record_ok(dom, expected)) {
        return report("fast path accepted a record the reference rejects");
    }
    if (!same_event(*fast, expected)) report("fast path read other values than the reference");
}

inline void check_record(std::string_view data, const report_fn& report) {
    check_canonical_record(data, report);
    const auto result = core::parse_kafka_value(data, fuzz_rules);
    if (!result) {
        if (result.error().message.empty()) report("record failure without a message");
        try {
            (void)nlohmann::json(result.error().message).dump();  // throws on invalid UTF-8
        } catch (const nlohmann::json::exception&) {
            report("record failure message is not UTF-8 (it goes into a Kafka header)");
        }
        return;
    }
    const std::string again = core::to_kafka_value(*result);
    const auto second = core::parse_kafka_value(again, fuzz_rules);
    if (!second) return report("re-serialised record rejected: " + second.error().message);
    if (!same_event(*second, *result)) report("re-serialised record changed");
}

/// Runs every check on one input; `report` is called once per violated invariant.
inline void check_input(std::string_view data, const report_fn& report) {
    check_request(data, report);
    check_record(data, report);
}

}  // namespace pulsestream::fuzz
