#include "pulsestream/core/uuid.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <unordered_set>

namespace pulsestream::core {
namespace {

uuid must_parse(std::string_view text) {
    const auto id = parse_uuid(text);
    EXPECT_TRUE(id.has_value()) << text;
    return id.value_or(uuid{});
}

TEST(Uuid, ParsesAndPrintsCanonicalLowerCase) {
    const uuid id = must_parse("6BA7B810-9dad-11D1-80b4-00C04FD430C8");
    EXPECT_EQ(id, namespace_dns);
    EXPECT_EQ(to_string(id), "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
    EXPECT_EQ(id.version(), 1U);
}

TEST(Uuid, AcceptsAnyVersionAndNil) {
    EXPECT_EQ(must_parse("00000000-0000-0000-0000-000000000000"), uuid{});
    EXPECT_EQ(to_string(must_parse("ffffffff-ffff-ffff-ffff-ffffffffffff")),
              "ffffffff-ffff-ffff-ffff-ffffffffffff");
    EXPECT_TRUE(parse_uuid("123e4567-e89b-72d3-a456-426614174000"));  // v7-shaped
}

TEST(Uuid, RejectsEveryOtherForm) {
    for (std::string_view bad : {
             "",
             "6ba7b810-9dad-11d1-80b4-00c04fd430c",      // short
             "6ba7b810-9dad-11d1-80b4-00c04fd430c88",    // long
             "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",   // braces
             "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
             "6ba7b8109dad11d180b400c04fd430c8",         // no hyphens
             "6ba7b810-9dad-11d1-80b400c04fd430c8-",     // hyphen moved
             "6ba7b810_9dad_11d1_80b4_00c04fd430c8",
             " 6ba7b810-9dad-11d1-80b4-00c04fd430c8",
             "6ba7b810-9dad-11d1-80b4-00c04fd430c8 ",
             "6ba7b810-9dad-11d1-80b4-00c04fd430cg",     // not hex
             "6ba7b810-9dad-11d1-80b4-00c04fd430c\xc8",
             "+ba7b810-9dad-11d1-80b4-00c04fd430c8",
         }) {
        EXPECT_FALSE(parse_uuid(bad)) << bad;
    }
}

TEST(Uuid, V5KnownVectors) {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "www.example.com")
    EXPECT_EQ(to_string(uuid_v5(namespace_dns, "www.example.com")),
              "2ed6657d-e927-568b-95e1-2665a8aea6a2");
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
    EXPECT_EQ(to_string(uuid_v5(namespace_dns, "python.org")),
              "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    // Python: uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com/")
    EXPECT_EQ(to_string(uuid_v5(namespace_url, "https://example.com/")),
              "dd2c1780-811a-5296-81c5-178a0ef488bc");
    EXPECT_EQ(uuid_v5(namespace_dns, "").version(), 5U);
}

TEST(Uuid, BatchItemIdIsV5OfKeyAndDecimalIndex) {
    const uuid key = must_parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    EXPECT_EQ(batch_item_id(key, 0), uuid_v5(key, "0"));
    EXPECT_EQ(batch_item_id(key, 499), uuid_v5(key, "499"));
    EXPECT_EQ(batch_item_id(key, 7), batch_item_id(key, 7));
    EXPECT_NE(batch_item_id(key, 1), batch_item_id(key, 2));
    const uuid other = must_parse("3f2504e0-4f89-41d3-9a0c-0305e82c3302");
    EXPECT_NE(batch_item_id(key, 1), batch_item_id(other, 1));
    EXPECT_EQ(batch_item_id(key, 3).version(), 5U);
}

TEST(Uuid, RandomV4SetsVersionAndVariant) {
    const uuid id = random_uuid_v4(~0ULL, ~0ULL);
    EXPECT_EQ(to_string(id), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    EXPECT_EQ(to_string(random_uuid_v4(0, 0)), "00000000-0000-4000-8000-000000000000");
    std::mt19937_64 gen(42);
    std::set<uuid> seen;
    for (int i = 0; i < 1000; ++i) {
        const uuid r = random_uuid_v4(gen);
        EXPECT_EQ(r.version(), 4U);
        EXPECT_EQ(r.bytes[8] & 0xC0U, 0x80U);
        EXPECT_TRUE(seen.insert(r).second);
    }
}

TEST(Uuid, RoundTripsThroughText) {
    std::mt19937_64 gen(7);
    for (int i = 0; i < 200; ++i) {
        const uuid r = random_uuid_v4(gen);
        EXPECT_EQ(parse_uuid(to_string(r)), r);
    }
}

TEST(Uuid, OrderingAndHash) {
    const uuid a = must_parse("00000000-0000-0000-0000-000000000001");
    const uuid b = must_parse("00000000-0000-0000-0000-000000000002");
    EXPECT_LT(a, b);
    EXPECT_NE(std::hash<uuid>{}(a), std::hash<uuid>{}(b));
    std::unordered_set<uuid> set{a, b, a};
    EXPECT_EQ(set.size(), 2U);
}

}  // namespace
}  // namespace pulsestream::core
