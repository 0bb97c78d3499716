#include "pulsestream/core/sha256.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pulsestream::core {
namespace {

// FIPS 180-4 / NIST CSHS example vectors.
TEST(Sha256, NistVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                         "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the padding boundary (55/56 bytes need one or two final blocks).
TEST(Sha256, PaddingBoundaries) {
    const std::pair<std::size_t, std::string_view> cases[] = {
        {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
        {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
        {57, "ae14a2563ccf969d99aca69ce6bb74981f734bbf9f655f73b8f06db68cab5217"},
        {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
        {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
        {65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"},
    };
    for (const auto& [n, hex] : cases) EXPECT_EQ(sha256_hex(std::string(n, 'x')), hex) << n;
}

TEST(Sha256, IncrementalEqualsOneShotForEverySplit) {
    const std::string data(300, 'q');
    const sha256_digest whole = sha256(data);
    for (std::size_t split = 0; split <= data.size(); split += 7) {
        sha256_hasher h;
        h.update(std::string_view(data).substr(0, split));
        h.update(std::string_view(data).substr(split));
        EXPECT_EQ(h.finish(), whole) << split;
    }
    sha256_hasher bytewise;
    for (const char c : data) bytewise.update(std::string_view(&c, 1));
    EXPECT_EQ(bytewise.finish(), whole);
}

TEST(Sha256, ApiKeyHashAndFingerprint) {
    // The development key seeded in schema.sql is stored as this hash.
    EXPECT_EQ(api_key_hash("ps_live_test_key_abc123xyz"),
              "51f4321081dc535ff4ef492df6551b44e95cdc0662f4d5d8f9610a6d1def2bb3");
    EXPECT_EQ(body_fingerprint("abc"), sha256_hex("abc"));
    // Re-spaced JSON is a different request.
    EXPECT_NE(body_fingerprint(R"({"a":1})"), body_fingerprint(R"({"a": 1})"));
}

TEST(Sha256, ToHex) {
    const std::uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
    EXPECT_EQ(to_hex(bytes), "000fa0ff");
    EXPECT_EQ(to_hex({}), "");
}

}  // namespace
}  // namespace pulsestream::core
