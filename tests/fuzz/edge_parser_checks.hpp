#pragma once

// Invariants of the parsers at the gateway's edge other than the event parsers, shared by the
// libFuzzer target (edge_parser_fuzz.cpp) and the corpus replay unit test
// (tests/unit/fuzz_corpus_test.cpp): gzip request bodies, the query string of a stream upgrade,
// the Redis stream messages a gateway splits into WebSocket frames, and request heads.
//
// For each input:
//  1. gunzip never throws; what it returns fits its limit; its only errors are
//     payload_too_large and invalid_json.
//  2. The input gzip-compressed by zlib comes back unchanged with a limit of its size, and a
//     limit one byte smaller is payload_too_large.
//  3. parse_stream_query never throws; every device it allows is a canonical lower-case UUID,
//     every event type 1 to 200 bytes, at most max_values of each; its errors name deviceId or
//     eventType only.
//  4. form_decode never makes a text longer.
//  5. split_message never throws; every frame is a JSON object whose deviceId and eventType are
//     the frame's. When the input is a JSON array, the frames are exactly its elements that are
//     objects with string deviceId and eventType, in order and with their exact bytes.
//  6. The input as a request head: request_head_checks.hpp.

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "../support/gzip.hpp"
#include "event_parser_checks.hpp"
#include "pulsestream/core/errc.hpp"
#include "pulsestream/core/uuid.hpp"
#include "pulsestream/http/gzip.hpp"
#include "pulsestream/stream/filter.hpp"
#include "pulsestream/stream/frame.hpp"
#include "request_head_checks.hpp"

namespace pulsestream::fuzz::edge {

using report_fn = std::function<void(const std::string& what)>;
using json = nlohmann::json;

inline constexpr std::size_t gunzip_limit = 4096;
inline constexpr std::size_t query_max_values = 4;

inline void check_gunzip(std::string_view input, const report_fn& fail) {
    const auto inflated = http::gunzip(input, gunzip_limit);
    if (inflated) {
        if (inflated->size() > gunzip_limit) fail("gunzip returned more than its limit");
    } else if (inflated.error() != core::errc::payload_too_large &&
               inflated.error() != core::errc::invalid_json) {
        fail("gunzip failed with an unexpected error: " + inflated.error().message());
    }

    const auto packed = test_support::gzip_bytes(input);
    const auto back = http::gunzip(packed, input.size());
    if (!back) {
        fail("gunzip refused a valid gzip member: " + back.error().message());
    } else if (*back != input) {
        fail("gunzip changed the bytes of a valid gzip member");
    }
    if (!input.empty()) {
        const auto short_limit = http::gunzip(packed, input.size() - 1);
        if (short_limit || short_limit.error() != core::errc::payload_too_large) {
            fail("gunzip with a limit one byte short was not payload_too_large");
        }
    }
}

inline void check_stream_query(std::string_view input, const report_fn& fail) {
    const auto query = stream::parse_stream_query(input, query_max_values);
    const auto& filter = query.filter;
    if (filter.devices().size() > query_max_values) fail("more devices than max_values");
    if (filter.event_types().size() > query_max_values) fail("more event types than max_values");
    for (const auto& device : filter.devices()) {
        const auto id = core::parse_uuid(device);
        if (!id || core::to_string(*id) != device) fail("a device is not a lower-case UUID");
    }
    for (const auto& type : filter.event_types()) {
        if (type.empty() || type.size() > 200) fail("an event type is not 1 to 200 bytes");
    }
    for (const auto& error : query.errors) {
        if (error.field != "deviceId" && error.field != "eventType") {
            fail("an error names field " + error.field);
        }
    }
    if (stream::form_decode(input).size() > input.size()) fail("form_decode made a text longer");
}

/// The elements of `array` that split_message must turn into frames, as its DOM sees them.
inline std::vector<const json*> expected_frames(const json& array) {
    std::vector<const json*> frames;
    for (const auto& element : array) {
        if (element.is_object() && element.contains("deviceId") &&
            element["deviceId"].is_string() && element.contains("eventType") &&
            element["eventType"].is_string()) {
            frames.push_back(&element);
        }
    }
    return frames;
}

inline void check_split_message(std::string_view input, const report_fn& fail) {
    const auto frames = stream::split_message(input);
    if (frames) {
        for (const auto& frame : *frames) {
            const auto value = reference::dom(frame.text);
            if (!value.is_object() || value.value("deviceId", json()) != frame.device_id ||
                value.value("eventType", json()) != frame.event_type) {
                fail("a frame's text does not hold its deviceId and eventType");
            }
        }
    }
    const auto dom = reference::dom(input);
    if (!dom.is_array()) return;
    if (!frames) {
        fail("split_message refused a JSON array");
        return;
    }
    const auto expected = expected_frames(dom);
    if (frames->size() != expected.size()) {
        fail("split_message found " + std::to_string(frames->size()) + " frames, the DOM " +
             std::to_string(expected.size()));
        return;
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& got = (*frames)[i];
        const json& element = *expected[i];
        if (got.device_id != element["deviceId"] || got.event_type != element["eventType"] ||
            reference::dom(got.text) != element) {
            fail("frame " + std::to_string(i) + " differs from the DOM's element");
        }
        if (input.find(got.text) == std::string_view::npos) {
            fail("frame " + std::to_string(i) + " is not the element's exact bytes");
        }
    }
}

inline void check_input(std::string_view input, const report_fn& fail) {
    check_gunzip(input, fail);
    check_stream_query(input, fail);
    check_split_message(input, fail);
    head::check_request_head(input, fail);
}

}  // namespace pulsestream::fuzz::edge
