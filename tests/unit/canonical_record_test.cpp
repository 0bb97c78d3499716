// The consumer's fast path (parse_canonical_kafka_value) against the DOM reference of the fuzz
// checks: on generated records and on mutations of them, whatever the fast path accepts the
// reference accepts with the same values, and what it declines still gets its answer from
// parse_kafka_value. Also pins that the gateway's usual records do take the fast path, since a
// silent fallback would only show as lost throughput.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../fuzz/event_parser_checks.hpp"
#include "pulsestream/core/event.hpp"
#include "pulsestream/core/validate.hpp"

namespace pulsestream::core {
namespace {

using json = nlohmann::json;
using fuzz::fuzz_rules;

constexpr std::int64_t received_at = 1'700'000'000'000;

uuid id_of(std::string_view text) { return parse_uuid(text).value(); }

event gateway_event() {
    return event{id_of("3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
                 id_of("11111111-2222-4333-8444-555555555555"),
                 id_of("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
                 "temperature",
                 21.5,
                 received_at - 5,
                 json{{"firmware", "1.4.2"}, {"rssi", -67}, {"on", true}, {"ratio", 0.25}},
                 received_at};
}

class record_generator {
public:
    explicit record_generator(std::uint32_t seed) : rng_(seed) {}

    event next() {
        event e;
        e.id = random_uuid_v4(rng_(), rng_());
        e.client_id = random_uuid_v4(rng_(), rng_());
        e.device_id = random_uuid_v4(rng_(), rng_());
        e.event_type = text(near_limit(event_type_min_chars, event_type_max_chars));
        e.value = number();
        e.received_at_ms = pick(0, 9) == 0 ? static_cast<std::int64_t>(rng_()) : received_at;
        const std::int64_t skew = fuzz_rules.timestamp_skew_ms;
        const std::int64_t offsets[] = {pick(-skew, skew), skew, -skew, skew + 1, -skew - 1};
        e.timestamp_ms = e.received_at_ms + offsets[pick(0, 4)];
        if (pick(0, 3) != 0) e.metadata = metadata();
        return e;
    }

    std::string mutate(std::string value) {
        static const std::string bytes = "\"\\{}[],:0-1.eE+ \t\xc3\xa9\x7f\x01nulltruefalse";
        const std::size_t at =
            static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(value.size()) - 1));
        const char c =
            bytes[static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(bytes.size()) - 1))];
        switch (pick(0, 2)) {
            case 0:
                value[at] = c;
                break;
            case 1:
                value.erase(at, 1);
                break;
            default:
                value.insert(at, 1, c);
                break;
        }
        return value;
    }

private:
    std::int64_t pick(std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
    }

    // A size in [lo, hi] mostly, sometimes right at either end, rarely one past either end (so
    // that records with many fields still come out valid often enough).
    std::int64_t near_limit(std::size_t lo, std::size_t hi) {
        const auto l = static_cast<std::int64_t>(lo);
        const auto h = static_cast<std::int64_t>(hi);
        const std::int64_t roll = pick(0, 99);
        if (roll < 3) return h + 1;
        if (roll < 6) return std::max<std::int64_t>(l - 1, 0);
        if (roll < 20) return roll % 2 == 0 ? l : h;
        return pick(l, std::min(h, l + 12));
    }

    std::string text(std::int64_t length) {
        // Half the strings printable ASCII only; the others with now and then DEL, a control,
        // a quote, a backslash or UTF-8.
        static const std::vector<std::string> rare{"\x7f", "\x01", "\"", "\\", "\xc3\xa9"};
        const bool plain = pick(0, 1) == 0;
        std::string s;
        for (std::int64_t i = 0; i < length; ++i) {
            if (!plain && pick(0, 40) == 0) {
                s += rare[static_cast<std::size_t>(pick(0, 4))];
            } else {
                // Printable ASCII but for the two characters JSON escapes.
                static const std::string printable = [] {
                    std::string p;
                    for (char c = 0x20; c < 0x7f; ++c) {
                        if (c != '"' && c != '\\') p.push_back(c);
                    }
                    return p;
                }();
                s.push_back(printable[static_cast<std::size_t>(
                    pick(0, static_cast<std::int64_t>(printable.size()) - 1))]);
            }
        }
        return s;
    }

    double number() {
        switch (pick(0, 5)) {
            case 0:
                return static_cast<double>(pick(-1000000, 1000000));
            case 1:
                return std::ldexp(static_cast<double>(pick(1, 1LL << 52)),
                                  static_cast<int>(pick(-1074, 971)));
            case 2:
                return -std::ldexp(static_cast<double>(pick(1, 1LL << 52)),
                                   static_cast<int>(pick(-60, 60)));
            case 3:
                return static_cast<double>(pick(0, 10000)) / 100.0;
            case 4:
                return pick(0, 1) == 0 ? -0.0 : std::numeric_limits<double>::max();
            default:
                return std::nextafter(0.0, 1.0);
        }
    }

    json metadata() {
        json m = json::object();
        const std::int64_t keys = near_limit(0, metadata_max_keys);
        for (std::int64_t k = 0; k < keys; ++k) {
            const std::string key = text(near_limit(0, metadata_key_max_chars));
            switch (pick(0, 4)) {
                case 0:
                    m[key] = text(near_limit(0, metadata_string_max_chars));
                    break;
                case 1:
                    m[key] = pick(std::numeric_limits<std::int64_t>::min() / 2, 1LL << 62);
                    break;
                case 2:
                    m[key] = number();
                    break;
                case 3:
                    m[key] = pick(0, 1) == 1;
                    break;
                default:
                    m[key] = static_cast<std::uint64_t>(rng_()) << 32U;
                    break;
            }
        }
        return m;
    }

    std::mt19937_64 rng_;
};

void expect_no_violation(std::string_view value) {
    fuzz::check_canonical_record(
        value, [&](const std::string& what) { ADD_FAILURE() << what << ": " << value; });
}

TEST(CanonicalRecord, TheGatewaysUsualRecordTakesTheFastPath) {
    const event e = gateway_event();
    const auto fast = parse_canonical_kafka_value(to_kafka_value(e), fuzz_rules);
    ASSERT_TRUE(fast.has_value());
    EXPECT_TRUE(fuzz::same_event(*fast, e));
    event plain = e;
    plain.metadata.reset();
    EXPECT_TRUE(parse_canonical_kafka_value(to_kafka_value(plain), fuzz_rules).has_value());
}

TEST(CanonicalRecord, DeclinesWhatItDoesNotReadAndTheFullParserStillAnswers) {
    const std::string good = to_kafka_value(gateway_event());
    const std::string declined[] = {
        " " + good,                // whitespace
        good + " ",                // trailing whitespace
        json::parse(good).dump(),  // another key order
        std::string(good).replace(good.find("temperature"), 11, "temp\\u00e9rature"),  // escape
        std::string(good).replace(good.find("1.4.2"), 5, "\xc3\xa9"),                  // UTF-8
    };
    for (const std::string& v : declined) {
        EXPECT_FALSE(parse_canonical_kafka_value(v, fuzz_rules).has_value()) << v;
        EXPECT_TRUE(parse_kafka_value(v, fuzz_rules).has_value()) << v;
    }
    std::string too_far = good;
    too_far.replace(too_far.find("1699999999995"), 13, "1699999000000");  // outside the skew
    EXPECT_FALSE(parse_canonical_kafka_value(too_far, fuzz_rules).has_value());
    const auto full = parse_kafka_value(too_far, fuzz_rules);
    ASSERT_FALSE(full.has_value());
    EXPECT_EQ(full.error().error_class, record_error_class::validation);
}

TEST(CanonicalRecord, KeepsTheMetadataLimitsAndRefusesDuplicateKeys) {
    event e = gateway_event();
    e.metadata = json::object();
    for (int k = 0; k < 32; ++k) (*e.metadata)["k" + std::to_string(k)] = k;
    EXPECT_TRUE(parse_canonical_kafka_value(to_kafka_value(e), fuzz_rules).has_value());
    (*e.metadata)["one-too-many"] = true;
    EXPECT_FALSE(parse_canonical_kafka_value(to_kafka_value(e), fuzz_rules).has_value());
    EXPECT_FALSE(parse_kafka_value(to_kafka_value(e), fuzz_rules).has_value());

    std::string duplicate = to_kafka_value(gateway_event());
    duplicate.replace(duplicate.find(R"("ratio")"), 7, R"("rssi")");
    EXPECT_FALSE(parse_canonical_kafka_value(duplicate, fuzz_rules).has_value()) << duplicate;
    EXPECT_FALSE(parse_kafka_value(duplicate, fuzz_rules).has_value()) << duplicate;
}

TEST(CanonicalRecord, ARecordWithARawNulIsAParseFailure) {
    const std::string value = to_kafka_value(gateway_event()) + std::string("\0junk", 5);
    const auto result = parse_kafka_value(value, fuzz_rules);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().error_class, record_error_class::parse);
}

bool plain_ascii(std::string_view value) {
    return std::none_of(value.begin(), value.end(),
                        [](char c) { return c == '\\' || static_cast<unsigned char>(c) > 0x7FU; });
}

TEST(CanonicalRecord, AgreesWithTheReferenceOnGeneratedRecords) {
    record_generator gen(20261126);
    int fast = 0;
    for (int i = 0; i < 20000; ++i) {
        const std::string value = to_kafka_value(gen.next());
        expect_no_violation(value);
        const bool took_fast_path = parse_canonical_kafka_value(value, fuzz_rules).has_value();
        fast += took_fast_path ? 1 : 0;
        // A valid record of our own writing is declined only for an escape or a non-ASCII byte.
        if (parse_kafka_value(value, fuzz_rules) && plain_ascii(value)) {
            EXPECT_TRUE(took_fast_path) << value;
        }
    }
    EXPECT_GT(fast, 1000);  // the generator makes valid and invalid records
    EXPECT_LT(fast, 20000);
}

TEST(CanonicalRecord, AgreesWithTheReferenceOnMutatedRecords) {
    record_generator gen(7);
    for (int i = 0; i < 20000; ++i) {
        std::string value = to_kafka_value(gen.next());
        for (int m = 0; m < 1 + i % 3; ++m) value = gen.mutate(std::move(value));
        expect_no_violation(value);
    }
}

}  // namespace
}  // namespace pulsestream::core
