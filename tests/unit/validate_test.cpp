#include "pulsestream/core/validate.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace pulsestream::core {
namespace {

using json = nlohmann::json;

constexpr std::int64_t now = 1'700'000'000'000;
constexpr std::int64_t skew = 300'000;
const validation_rules rules{skew, 500};
constexpr std::string_view device_upper = "6BA7B810-9DAD-11D1-80B4-00C04FD430C8";
constexpr std::string_view device_lower = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

json valid_event() {
    return {{"deviceId", device_upper},
            {"eventType", "temperature"},
            {"value", 21.5},
            {"timestamp", now}};
}

parse_result parse(std::string_view body) { return parse_events(body, rules, now); }
parse_result parse_json(const json& body) { return parse_events(body.dump(), rules, now); }

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

// The failure of `r`, which must be a failure with `code`.
parse_failure failure(const parse_result& r, errc code) {
    EXPECT_FALSE(r.has_value());
    if (r.has_value()) return {};
    EXPECT_EQ(r.error().code, code) << describe(r.error().code).code;
    return r.error();
}

// The validation errors of `r`, which must be validation_failed.
std::vector<field_error> errors(const parse_result& r) {
    return failure(r, errc::validation_failed).errors;
}

// Exactly one validation error, on `field`; returns its message.
std::string single_error(const parse_result& r, std::string_view field) {
    const auto errs = errors(r);
    EXPECT_EQ(errs.size(), 1U);
    if (errs.size() != 1U) return {};
    EXPECT_EQ(errs[0].field, field);
    return errs[0].message;
}

json with(std::string_view key, json value) {
    json e = valid_event();
    e[std::string(key)] = std::move(value);
    return e;
}

json without(std::string_view key) {
    json e = valid_event();
    e.erase(std::string(key));
    return e;
}

// ---------------------------------------------------------------- single events

TEST(ParseEvents, AcceptsOneValidEvent) {
    const auto r = parse_json(valid_event());
    ASSERT_TRUE(r.has_value()) << error_body(r.error().code, r.error().errors);
    EXPECT_FALSE(r->is_batch);
    ASSERT_EQ(r->events.size(), 1U);
    const event_input& e = r->events[0];
    EXPECT_EQ(to_string(e.device_id), device_lower);
    EXPECT_EQ(e.event_type, "temperature");
    EXPECT_DOUBLE_EQ(e.value, 21.5);
    EXPECT_EQ(e.timestamp_ms, now);
    EXPECT_FALSE(e.metadata.has_value());
    EXPECT_FALSE(e.id.has_value());
}

TEST(ParseEvents, DropsUnknownFieldsAndIdOfASingleEvent) {
    json e = valid_event();
    e["extra"] = {{"nested", {1, 2, {{"deep", true}}}}};
    e["id"] = "not even a uuid";
    e["clientId"] = "x";
    e["receivedAt"] = "y";
    const auto r = parse_json(e);
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->events[0].id.has_value());
}

TEST(ParseEvents, ReportsEveryMissingFieldInFixedOrder) {
    const auto errs = errors(parse(std::string_view("{}")));
    ASSERT_EQ(errs.size(), 4U);
    EXPECT_EQ(errs[0], (field_error{"deviceId", "is required"}));
    EXPECT_EQ(errs[1].field, "eventType");
    EXPECT_EQ(errs[2].field, "value");
    EXPECT_EQ(errs[3].field, "timestamp");
    for (const char* f : {"deviceId", "eventType", "value", "timestamp"}) {
        EXPECT_EQ(single_error(parse_json(without(f)), f), "is required") << f;
    }
}

TEST(ParseEvents, ErrorOrderDoesNotDependOnKeyOrder) {
    const auto errs = errors(parse(std::string_view(
        R"({"timestamp":"x","value":"x","eventType":1,"deviceId":2})")));
    ASSERT_EQ(errs.size(), 4U);
    EXPECT_EQ(errs[0].field, "deviceId");
    EXPECT_EQ(errs[3].field, "timestamp");
}

TEST(ParseEvents, RejectsWrongTypes) {
    const std::pair<std::string_view, json> cases[] = {
        {"deviceId", 123},
        {"deviceId", nullptr},
        {"deviceId", "not-a-uuid"},
        {"deviceId", "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}"},
        {"deviceId", "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
        {"deviceId", json::array({device_lower})},
        {"eventType", 5},
        {"eventType", nullptr},
        {"eventType", json::object({{"a", "bc"}})},
        {"value", "1"},
        {"value", true},
        {"value", nullptr},
        {"value", json::array({1})},
        {"timestamp", std::to_string(now)},
        {"timestamp", nullptr},
        {"timestamp", 1.5},
        {"timestamp", static_cast<double>(now)},  // 1.7e12 as a JSON float: not an integer
        {"metadata", "a"},
        {"metadata", nullptr},
        {"metadata", json::array()},
        {"metadata", 1},
    };
    for (const auto& [field, value] : cases) {
        EXPECT_FALSE(single_error(parse_json(with(field, value)), field).empty())
            << field << " = " << value.dump();
    }
}

TEST(ParseEvents, TimestampMustBeAJsonInteger) {
    const std::string t = std::to_string(now);
    const std::string prefix =
        R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"timestamp":)";
    EXPECT_TRUE(parse(prefix + t + "}").has_value());
    EXPECT_EQ(single_error(parse(prefix + t + ".0}"), "timestamp"),
              "must be an integer (epoch milliseconds)");
    EXPECT_FALSE(single_error(parse(prefix + "1.7e12}"), "timestamp").empty());
    EXPECT_FALSE(single_error(parse(prefix + "\"" + t + "\"}"), "timestamp").empty());
}

TEST(ParseEvents, TimestampSkewBoundariesBothSides) {
    EXPECT_TRUE(parse_json(with("timestamp", now + skew)).has_value());
    EXPECT_TRUE(parse_json(with("timestamp", now - skew)).has_value());
    EXPECT_EQ(single_error(parse_json(with("timestamp", now + skew + 1)), "timestamp"),
              "must be within 300000 ms of the server time");
    EXPECT_EQ(single_error(parse_json(with("timestamp", now - skew - 1)), "timestamp"),
              "must be within 300000 ms of the server time");
    EXPECT_TRUE(parse_events(with("timestamp", now + 10).dump(), {0, 500}, now + 10).has_value());
    EXPECT_FALSE(parse_events(with("timestamp", now + 11).dump(), {0, 500}, now + 10).has_value());
}

TEST(ParseEvents, HugeTimestampsAreRejectedNotWrapped) {
    const std::string prefix =
        R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"timestamp":)";
    for (const char* t : {"18446744073709551615", "9223372036854775808", "9223372036854775807",
                          "-9223372036854775808", "0", "-1", "99999999999999999999999"}) {
        EXPECT_EQ(single_error(parse(prefix + t + "}"), "timestamp").substr(0, 7), "must be")
            << t;
    }
}

TEST(ParseEvents, ValueAcceptsAnyFiniteNumber) {
    for (const char* v : {"0", "-0", "-1", "1.5e-300", "1e308", "-1.7976931348623157e308",
                          "18446744073709551615", "100000000000000000000000000000", "3"}) {
        const std::string body =
            R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","timestamp":)" +
            std::to_string(now) + R"(,"value":)" + v + "}";
        const auto r = parse(body);
        ASSERT_TRUE(r.has_value()) << v;
        EXPECT_DOUBLE_EQ(r->events[0].value, std::stod(v)) << v;
    }
}

TEST(ParseEvents, NonFiniteNumbersAreInvalidJson) {
    for (const char* v : {"1e400", "-1e400", "NaN", "nan", "Infinity", "-Infinity", "inf"}) {
        const std::string body =
            R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","timestamp":)" +
            std::to_string(now) + R"(,"value":)" + v + "}";
        failure(parse(body), errc::invalid_json);
    }
}

TEST(ParseEvents, EventTypeLengthInCodePoints) {
    EXPECT_EQ(single_error(parse_json(with("eventType", "a")), "eventType"), "must be 2-50 characters");
    EXPECT_EQ(single_error(parse_json(with("eventType", "")), "eventType"), "must be 2-50 characters");
    EXPECT_TRUE(parse_json(with("eventType", "ab")).has_value());
    EXPECT_TRUE(parse_json(with("eventType", std::string(50, 'x'))).has_value());
    EXPECT_FALSE(parse_json(with("eventType", std::string(51, 'x'))).has_value());
    // Multi-byte characters count once: é (2 bytes), € (3 bytes), 😀 (4 bytes).
    EXPECT_TRUE(parse_json(with("eventType", "\xC3\xA9\xC3\xA9")).has_value());
    EXPECT_FALSE(parse_json(with("eventType", "\xF0\x9F\x98\x80")).has_value());  // 1 code point
    EXPECT_TRUE(parse_json(with("eventType", repeat("\xE2\x82\xAC", 50))).has_value());
    EXPECT_FALSE(parse_json(with("eventType", repeat("\xE2\x82\xAC", 51))).has_value());
    EXPECT_TRUE(parse_json(with("eventType", repeat("\xF0\x9F\x98\x80", 50))).has_value());
    EXPECT_FALSE(parse_json(with("eventType", repeat("\xF0\x9F\x98\x80", 51))).has_value());
}

TEST(ParseEvents, EventTypeRejectsControlCharacters) {
    for (const char* escaped : {"\\u0000x", "a\\u0000", "a\\tb", "a\\nb", "a\\u001fb", "a\\u007fb",
                                "a\\u0080b", "a\\u0085b", "a\\u009fb"}) {
        const std::string body =
            R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","value":1,"timestamp":)" +
            std::to_string(now) + R"(,"eventType":")" + escaped + "\"}";
        EXPECT_EQ(single_error(parse(body), "eventType"), "must not contain control characters")
            << escaped;
    }
    // Neighbours that are not controls.
    EXPECT_TRUE(parse_json(with("eventType", "a\xC2\xA0" "b")).has_value());  // U+00A0
    EXPECT_TRUE(parse_json(with("eventType", "a~b")).has_value());            // U+007E
    EXPECT_TRUE(parse_json(with("eventType", "a\xC3\x80" "b")).has_value());  // U+00C0
}

TEST(ParseEvents, RawControlBytesAndInvalidUtf8AreInvalidJson) {
    const std::string head =
        R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","value":1,"timestamp":)" +
        std::to_string(now) + R"(,"eventType":")";
    for (std::string bad : {std::string("a\x01" "b"), std::string("a\0b", 3), std::string("\xff\xfe"),
                            std::string("a\xC0\xAF"), std::string("a\xED\xA0\x80"),
                            std::string("a\xF4\x90\x80\x80"), std::string("a\xE2\x82"),
                            std::string("\\ud800x"), std::string("\\udc00x")}) {
        failure(parse(head + bad + "\"}"), errc::invalid_json);
    }
    // Invalid UTF-8 in a key and outside strings.
    failure(parse(std::string_view("{\"\xff\":1}")), errc::invalid_json);
    failure(parse(std::string_view("\xff")), errc::invalid_json);
}

TEST(ParseEvents, MalformedJson) {
    for (std::string_view body : {"", " ", "{", "[", "{\"deviceId\"}", "[1,]", "{,}", "{'a':1}",
                                  "{} {}", "{}x", "[{}]]", "{\"a\":01}", "{\"a\":.5}", "/**/{}"}) {
        const auto f = failure(parse(body), errc::invalid_json);
        EXPECT_FALSE(f.message.empty()) << body;
    }
}

// nlohmann's lexer alone reads a NUL byte as the end of the input: "{…}\0junk" parsed as the
// object and the junk was never looked at.
TEST(ParseEvents, ARawNulAnywhereIsInvalidJson) {
    const std::string event = valid_event().dump();
    for (const std::string& body : {event + std::string("\0", 1), event + std::string("\0{junk", 6),
                                    "[" + event + std::string("]\0]", 3)}) {
        const auto f = failure(parse(body), errc::invalid_json);
        EXPECT_EQ(f.message, "Invalid JSON near byte " + std::to_string(body.find('\0') + 1));
    }
}

TEST(ParseEvents, BodyMustBeObjectOrArray) {
    for (std::string_view body : {"42", "\"x\"", "null", "true", "-1.5"}) {
        const auto errs = errors(parse(body));
        ASSERT_EQ(errs.size(), 1U) << body;
        EXPECT_EQ(errs[0].field, "");
    }
}

TEST(ParseEvents, DuplicateKeysAreInvalidJson) {
    const std::string ts = std::to_string(now);
    for (const std::string& body : {
             R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"timestamp":)" + ts + "}",
             R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"value":2,"timestamp":)" + ts + "}",
             R"({"x":1,"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"timestamp":)" + ts + R"(,"x":1})",
             R"({"id":1,"id":2,"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"timestamp":)" + ts + "}",
             R"({"x":{"a":1,"a":1},"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"timestamp":)" + ts + "}",
             R"({"metadata":{"k":1,"k":2},"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"timestamp":)" + ts + "}",
             std::string(R"([{"a":1,"b":{"c":[{"d":1,"d":1}]}}])"),
         }) {
        const auto f = failure(parse(body), errc::invalid_json);
        EXPECT_EQ(f.message, "Duplicate key in a JSON object") << body;
    }
    // The same key in sibling objects is fine.
    json x = valid_event();
    x["x"] = json::array({{{"a", 1}}, {{"a", 1}}});
    EXPECT_TRUE(parse_json(json::array({x, x})).has_value());
}

TEST(ParseEvents, DeepNestingIsRejectedWithoutRecursion) {
    const auto f = failure(parse(std::string(1'000'000, '[')), errc::invalid_json);
    EXPECT_EQ(f.message, "JSON nesting is deeper than 16 levels");
    failure(parse(std::string(1'000'000, '{')), errc::invalid_json);
    failure(parse(repeat("{\"a\":", 100'000)), errc::invalid_json);
    // Depth 16 in total is allowed: object (1) + 15 nested arrays in a dropped field.
    const std::string ts = std::to_string(now);
    const std::string base =
        R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"timestamp":)" +
        ts + R"(,"x":)";
    EXPECT_TRUE(parse(base + std::string(15, '[') + std::string(15, ']') + "}").has_value());
    failure(parse(base + std::string(16, '[') + std::string(16, ']') + "}"), errc::invalid_json);
}

// ---------------------------------------------------------------- metadata

TEST(ParseEvents, MetadataIsStoredWithItsTypes) {
    const json meta = {{"room", "kitchen"}, {"floor", 2}, {"ratio", 0.5}, {"on", true},
                       {"neg", -3}, {"tab", "a\tb"}, {"", "empty key"}};
    const auto r = parse_json(with("metadata", meta));
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->events[0].metadata.has_value());
    EXPECT_EQ(*r->events[0].metadata, meta);
    EXPECT_TRUE((*r->events[0].metadata)["floor"].is_number_integer());
    EXPECT_TRUE((*r->events[0].metadata)["ratio"].is_number_float());
    EXPECT_TRUE((*r->events[0].metadata)["on"].is_boolean());
}

TEST(ParseEvents, EmptyMetadataObjectIsKept) {
    const auto r = parse_json(with("metadata", json::object()));
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->events[0].metadata.has_value());
    EXPECT_TRUE(r->events[0].metadata->empty());
}

TEST(ParseEvents, MetadataKeyCountLimit) {
    json meta = json::object();
    for (int i = 0; i < 32; ++i) meta["k" + std::to_string(i)] = i;
    EXPECT_TRUE(parse_json(with("metadata", meta)).has_value());
    meta["k32"] = 32;
    EXPECT_EQ(single_error(parse_json(with("metadata", meta)), "metadata"), "must have at most 32 keys");
}

TEST(ParseEvents, MetadataKeyLengthLimit) {
    EXPECT_TRUE(parse_json(with("metadata", {{std::string(64, 'k'), 1}})).has_value());
    EXPECT_TRUE(parse_json(with("metadata", {{repeat("\xC3\xA9", 64), 1}})).has_value());
    EXPECT_EQ(single_error(parse_json(with("metadata", {{std::string(65, 'k'), 1}})), "metadata"),
              "keys must be at most 64 characters");
    EXPECT_EQ(single_error(parse_json(with("metadata", {{std::string("a\0b", 3), 1}})), "metadata"),
              "keys must not contain NUL characters");
}

TEST(ParseEvents, MetadataValueRules) {
    EXPECT_TRUE(parse_json(with("metadata", {{"s", std::string(256, 'v')}})).has_value());
    EXPECT_TRUE(parse_json(with("metadata", {{"s", repeat("\xE2\x82\xAC", 256)}})).has_value());
    EXPECT_EQ(single_error(parse_json(with("metadata", {{"s", std::string(257, 'v')}})), "metadata.s"),
              "must be at most 256 characters");
    EXPECT_EQ(single_error(parse_json(with("metadata", {{"s", std::string("a\0b", 3)}})), "metadata.s"),
              "must not contain NUL characters");
    const std::string not_scalar = "must be a string, a finite number or a boolean";
    EXPECT_EQ(single_error(parse_json(with("metadata", {{"o", {{"nested", 1}}}})), "metadata.o"),
              not_scalar);
    EXPECT_EQ(single_error(parse_json(with("metadata", {{"a", {1, 2}}})), "metadata.a"), not_scalar);
    EXPECT_EQ(single_error(parse_json(with("metadata", {{"n", nullptr}})), "metadata.n"), not_scalar);
}

TEST(ParseEvents, MetadataListsEveryBadValue) {
    const auto errs = errors(parse_json(with(
        "metadata", {{"a", nullptr}, {"b", "ok"}, {"c", {{"x", 1}}}, {"d", std::string(300, 'x')}})));
    ASSERT_EQ(errs.size(), 3U);
    EXPECT_EQ(errs[0].field, "metadata.a");
    EXPECT_EQ(errs[1].field, "metadata.c");
    EXPECT_EQ(errs[2].field, "metadata.d");
}

TEST(ParseEvents, MetadataNumbersMustBeFinite) {
    const std::string body =
        R"({"deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"ab","value":1,"timestamp":)" +
        std::to_string(now) + R"(,"metadata":{"x":1e999}})";
    failure(parse(body), errc::invalid_json);
}

// ---------------------------------------------------------------- batches

json batch(std::size_t n) {
    json arr = json::array();
    for (std::size_t i = 0; i < n; ++i) arr.push_back(valid_event());
    return arr;
}

TEST(ParseBatch, AcceptsABatch) {
    json arr = batch(3);
    arr[1]["eventType"] = "humidity";
    const auto r = parse_json(arr);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->is_batch);
    ASSERT_EQ(r->events.size(), 3U);
    EXPECT_EQ(r->events[1].event_type, "humidity");
}

TEST(ParseBatch, ABatchOfOneIsStillABatch) {
    const auto r = parse_json(batch(1));
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->is_batch);
}

TEST(ParseBatch, EmptyArrayIsValidationFailed) {
    EXPECT_EQ(single_error(parse(std::string_view("[]")), ""), "must contain at least one event");
}

TEST(ParseBatch, MaxAcceptedMaxPlusOneTooLarge) {
    const auto r = parse_json(batch(500));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->events.size(), 500U);
    const auto f = failure(parse_json(batch(501)), errc::payload_too_large);
    EXPECT_NE(f.message.find("500"), std::string::npos);
    // The limit counts items of any kind, and follows the rules.
    failure(parse_events("[1,2,3,4]", {skew, 3}, now), errc::payload_too_large);
    EXPECT_TRUE(parse_events(batch(3).dump(), {skew, 3}, now).has_value());
}

TEST(ParseBatch, ListsEveryBadItemWithIndexedPaths) {
    json arr = batch(5);
    arr[1]["deviceId"] = "nope";
    arr[3].erase("eventType");
    arr[3]["value"] = "x";
    arr[4]["metadata"] = {{"k", nullptr}};
    const auto errs = errors(parse_json(arr));
    ASSERT_EQ(errs.size(), 4U);
    EXPECT_EQ(errs[0], (field_error{"1.deviceId", "must be a UUID string"}));
    EXPECT_EQ(errs[1], (field_error{"3.eventType", "is required"}));
    EXPECT_EQ(errs[2].field, "3.value");
    EXPECT_EQ(errs[3].field, "4.metadata.k");
}

TEST(ParseBatch, NonObjectItemsAreReportedByIndex) {
    const json arr = {1, valid_event(), json::array(), nullptr, "x", json::array({valid_event()})};
    const auto errs = errors(parse_json(arr));
    ASSERT_EQ(errs.size(), 5U);
    EXPECT_EQ(errs[0], (field_error{"0", "must be an event object"}));
    EXPECT_EQ(errs[1].field, "2");
    EXPECT_EQ(errs[2].field, "3");
    EXPECT_EQ(errs[3].field, "4");
    EXPECT_EQ(errs[4].field, "5");
}

TEST(ParseBatch, ItemIdsAreParsedAndCanonical) {
    json arr = batch(2);
    arr[0]["id"] = "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11";
    const auto r = parse_json(arr);
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->events[0].id.has_value());
    EXPECT_EQ(to_string(*r->events[0].id), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    EXPECT_FALSE(r->events[1].id.has_value());
}

TEST(ParseBatch, BadItemIdIsAnError) {
    for (const json& bad : {json("x"), json(1), json(nullptr)}) {
        json arr = batch(2);
        arr[1]["id"] = bad;
        EXPECT_EQ(single_error(parse_json(arr), "1.id"), "must be a UUID string");
    }
}

TEST(ParseBatch, DuplicateIdsAreReportedOnTheLaterItems) {
    json arr = batch(4);
    arr[0]["id"] = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    arr[1]["value"] = "bad";
    arr[2]["id"] = "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11";  // same id, other case
    arr[3]["id"] = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    const auto errs = errors(parse_json(arr));
    ASSERT_EQ(errs.size(), 3U);
    EXPECT_EQ(errs[0].field, "1.value");
    EXPECT_EQ(errs[1], (field_error{"2.id", "duplicates the id of item 0"}));
    EXPECT_EQ(errs[2], (field_error{"3.id", "duplicates the id of item 0"}));
}

TEST(ParseBatch, TimestampOfEveryItemIsChecked) {
    json arr = batch(2);
    arr[1]["timestamp"] = now - skew - 1;
    EXPECT_EQ(single_error(parse_json(arr), "1.timestamp"), "must be within 300000 ms of the server time");
}

TEST(ParseEvents, ResultValueThrowsWithTheCode) {
    const auto r = parse(std::string_view("{"));
    try {
        (void)r.value();
        FAIL() << "value() should throw";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), errc::invalid_json);
    }
}

TEST(ParseEvents, LargeBatchParsesQuickly) {
    json arr = batch(500);
    for (auto& e : arr) e["metadata"] = {{"room", "kitchen"}, {"floor", 2}};
    const std::string body = arr.dump();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(parse(body).has_value());
    const auto per_batch = (std::chrono::steady_clock::now() - start) / 20;
    // Generous bound (debug build, shared CI cores): catches accidental quadratic behaviour.
    EXPECT_LT(per_batch, std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace pulsestream::core
