#include "pulsestream/core/event.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "pulsestream/core/validate.hpp"

namespace pulsestream::core {
namespace {

using json = nlohmann::json;

constexpr std::int64_t now = 1'700'000'000'000;
const validation_rules rules{300'000, 500};

uuid id_of(std::string_view text) { return parse_uuid(text).value(); }

const uuid key = id_of("3f2504e0-4f89-41d3-9a0c-0305e82c3301");
const uuid client = id_of("11111111-2222-4333-8444-555555555555");
const uuid device = id_of("6ba7b810-9dad-11d1-80b4-00c04fd430c8");

event sample_event() {
    return event{key, client, device, "temperature", 21.5, now - 5, std::nullopt, now};
}

// ---------------------------------------------------------------- to_kafka_value

TEST(KafkaValue, ExactShapeAndOrder) {
    EXPECT_EQ(to_kafka_value(sample_event()),
              R"({"id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301",)"
              R"("clientId":"11111111-2222-4333-8444-555555555555",)"
              R"("deviceId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","eventType":"temperature",)"
              R"("value":21.5,"timestamp":1699999999995,"receivedAt":1700000000000})");
}

TEST(KafkaValue, MetadataGoesBetweenTimestampAndReceivedAt) {
    event e = sample_event();
    e.metadata = json{{"room", "kitchen"}, {"floor", 2}};
    const std::string v = to_kafka_value(e);
    EXPECT_NE(v.find(R"("timestamp":1699999999995,"metadata":{"floor":2,"room":"kitchen"},)"
                     R"("receivedAt":)"),
              std::string::npos)
        << v;
}

TEST(KafkaValue, NumbersReadBackExactly) {
    for (double v : {0.1, -0.0, 42.0, 1e300, -1.7976931348623157e308, 5e-324, 123456.789}) {
        event e = sample_event();
        e.value = v;
        const json j = json::parse(to_kafka_value(e));
        EXPECT_EQ(j["value"].get<double>(), v);
    }
    event e = sample_event();
    e.value = 42.0;
    EXPECT_NE(to_kafka_value(e).find(R"("value":42,)"), std::string::npos);
}

TEST(KafkaValue, NonFiniteValueBecomesNullAndIsRejectedDownstream) {
    event e = sample_event();
    e.value = std::numeric_limits<double>::quiet_NaN();
    const std::string v = to_kafka_value(e);
    EXPECT_NE(v.find(R"("value":null)"), std::string::npos);
    const auto r = parse_kafka_value(v, rules);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().error_class, record_error_class::validation);
}

TEST(KafkaValue, StringsAreEscaped) {
    event e = sample_event();
    e.event_type = "a\"b\\c\x01\xff";
    const json j = json::parse(to_kafka_value(e));
    EXPECT_EQ(j["eventType"], "a\"b\\c\x01\xEF\xBF\xBD");
}

TEST(KafkaValue, AppendBuildsArrays) {
    std::string out = "[";
    append_kafka_value(out, sample_event());
    out += ",";
    append_kafka_value(out, sample_event());
    out += "]";
    EXPECT_EQ(json::parse(out).size(), 2U);
}

// ---------------------------------------------------------------- assign_ids

parsed_request request_of(std::string_view body) {
    auto r = parse_events(body, rules, now);
    EXPECT_TRUE(r.has_value());
    return r.has_value() ? std::move(*r) : parsed_request{};
}

std::string event_json(std::string_view extra = "") {
    return R"({"deviceId":"6BA7B810-9DAD-11D1-80B4-00C04FD430C8","eventType":"t1","value":1,)"
           R"("timestamp":)" +
           std::to_string(now) + std::string(extra) + "}";
}

TEST(AssignIds, SingleEventIdIsTheIdempotencyKey) {
    const auto events = assign_ids(request_of(event_json()), key, client, now + 1);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].id, key);
    EXPECT_EQ(events[0].client_id, client);
    EXPECT_EQ(events[0].device_id, device);
    EXPECT_EQ(events[0].received_at_ms, now + 1);
}

TEST(AssignIds, BatchItemsUseOwnIdOrDerivedId) {
    const std::string body = "[" + event_json(R"(,"id":"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")") +
                             "," + event_json() + "," + event_json() + "]";
    const parsed_request req = request_of(body);
    const auto first = assign_ids(req, key, client, now);
    ASSERT_EQ(first.size(), 3U);
    EXPECT_EQ(to_string(first[0].id), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    EXPECT_EQ(first[1].id, batch_item_id(key, 1));
    EXPECT_EQ(first[2].id, batch_item_id(key, 2));
    EXPECT_NE(first[1].id, first[2].id);
    // A retry of the same batch (parsed again, later) gets the same ids.
    const auto retry = assign_ids(request_of(body), key, client, now + 5000);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(retry[i].id, first[i].id);
    // Another key gives other derived ids.
    const auto other = assign_ids(req, client, client, now);
    EXPECT_NE(other[1].id, first[1].id);
}

TEST(AssignIds, RvalueOverloadMovesStrings) {
    parsed_request req = request_of(event_json(R"(,"metadata":{"k":"v"})"));
    const auto events = assign_ids(std::move(req), key, client, now);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].event_type, "t1");
    ASSERT_TRUE(events[0].metadata.has_value());
    EXPECT_EQ((*events[0].metadata)["k"], "v");
}

// ---------------------------------------------------------------- parse_kafka_value

void expect_same(const event& a, const event& b) {
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.client_id, b.client_id);
    EXPECT_EQ(a.device_id, b.device_id);
    EXPECT_EQ(a.event_type, b.event_type);
    EXPECT_EQ(a.value, b.value);
    EXPECT_EQ(a.timestamp_ms, b.timestamp_ms);
    EXPECT_EQ(a.metadata, b.metadata);
    EXPECT_EQ(a.received_at_ms, b.received_at_ms);
}

TEST(ParseKafkaValue, RoundTrip) {
    event e = sample_event();
    e.metadata = json{{"room", "kitchen"}, {"floor", 2}, {"on", false}, {"r", 0.25}};
    const auto r = parse_kafka_value(to_kafka_value(e), rules);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    expect_same(*r, e);
}

TEST(ParseKafkaValue, RoundTripFromARequest) {
    const std::string body = "[" + event_json(R"(,"metadata":{"a":"\u00e9"})") + "," +
                             event_json() + "]";
    for (const event& e : assign_ids(request_of(body), key, client, now)) {
        const auto r = parse_kafka_value(to_kafka_value(e), rules);
        ASSERT_TRUE(r.has_value()) << r.error().message;
        expect_same(*r, e);
    }
}

TEST(ParseKafkaValue, SkewIsJudgedAgainstReceivedAtNotTheClock) {
    event e = sample_event();
    e.received_at_ms = 631'152'000'000;  // 1990: a very old backlog is still valid
    e.timestamp_ms = e.received_at_ms + rules.timestamp_skew_ms;
    EXPECT_TRUE(parse_kafka_value(to_kafka_value(e), rules).has_value());
    e.timestamp_ms = e.received_at_ms - rules.timestamp_skew_ms;
    EXPECT_TRUE(parse_kafka_value(to_kafka_value(e), rules).has_value());
    e.timestamp_ms = e.received_at_ms + rules.timestamp_skew_ms + 1;
    auto r = parse_kafka_value(to_kafka_value(e), rules);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().error_class, record_error_class::validation);
    EXPECT_EQ(r.error().message, "timestamp: must be within 300000 ms of receivedAt");
    e.timestamp_ms = e.received_at_ms - rules.timestamp_skew_ms - 1;
    EXPECT_FALSE(parse_kafka_value(to_kafka_value(e), rules).has_value());
}

TEST(ParseKafkaValue, ExtremeTimesDoNotOverflow) {
    event e = sample_event();
    e.timestamp_ms = std::numeric_limits<std::int64_t>::min();
    e.received_at_ms = std::numeric_limits<std::int64_t>::max();
    const auto r = parse_kafka_value(to_kafka_value(e), rules);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().error_class, record_error_class::validation);
}

TEST(ParseKafkaValue, ParseClassFailures) {
    const std::string good = to_kafka_value(sample_event());
    json missing_id = json::parse(good);
    missing_id.erase("id");
    json bad_client = json::parse(good);
    bad_client["clientId"] = "nope";
    json missing_received = json::parse(good);
    missing_received.erase("receivedAt");
    json string_received = json::parse(good);
    string_received["receivedAt"] = "1700000000000";
    json float_received = json::parse(good);
    float_received["receivedAt"] = 1.5;
    for (const std::string& v :
         {std::string(""), std::string("not json"), std::string("[]"), std::string("[") + good + "]",
          std::string("42"), std::string("null"), good.substr(0, good.size() - 1),
          std::string("\xff\xfe"), missing_id.dump(), bad_client.dump(), missing_received.dump(),
          string_received.dump(), float_received.dump(), std::string(100000, '['),
          std::string(R"({"id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"})")}) {
        const auto r = parse_kafka_value(v, rules);
        ASSERT_FALSE(r.has_value()) << v.substr(0, 80);
        EXPECT_EQ(r.error().error_class, record_error_class::parse) << v.substr(0, 80);
        EXPECT_FALSE(r.error().message.empty());
    }
    const auto r = parse_kafka_value(missing_id.dump(), rules);
    EXPECT_EQ(r.error().message, "id: is required");
}

TEST(ParseKafkaValue, ValidationClassFailures) {
    const json good = json::parse(to_kafka_value(sample_event()));
    const std::pair<std::string, json> cases[] = {
        {"deviceId", "nope"},          {"eventType", "x"},
        {"eventType", "a\u0085b"},     {"eventType", std::string("ab\0", 3)},
        {"value", "1"},                {"timestamp", 1.5},
        {"metadata", {{"k", nullptr}}}, {"metadata", "x"},
    };
    for (const auto& [field, value] : cases) {
        json v = good;
        v[field] = value;
        const auto r = parse_kafka_value(v.dump(), rules);
        ASSERT_FALSE(r.has_value()) << field;
        EXPECT_EQ(r.error().error_class, record_error_class::validation) << field;
        EXPECT_EQ(r.error().message.rfind(field, 0), 0U) << r.error().message;
    }
    json both = good;
    both["eventType"] = "x";
    both["value"] = "x";
    EXPECT_EQ(parse_kafka_value(both.dump(), rules).error().message,
              "eventType: must be 2-50 characters; value: must be a number");
}

TEST(ParseKafkaValue, StructuralErrorsWinOverValidationErrors) {
    json v = json::parse(to_kafka_value(sample_event()));
    v["eventType"] = "x";
    v.erase("clientId");
    const auto r = parse_kafka_value(v.dump(), rules);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().error_class, record_error_class::parse);
}

TEST(ParseKafkaValue, UnknownFieldsAreIgnored) {
    json v = json::parse(to_kafka_value(sample_event()));
    v["producer"] = {{"version", 2}};
    EXPECT_TRUE(parse_kafka_value(v.dump(), rules).has_value());
}

TEST(ParseKafkaValue, ErrorClassNames) {
    EXPECT_EQ(to_string(record_error_class::parse), "parse");
    EXPECT_EQ(to_string(record_error_class::validation), "validation");
}

}  // namespace
}  // namespace pulsestream::core
