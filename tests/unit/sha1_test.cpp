#include "pulsestream/core/sha1.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using pulsestream::core::sha1_hex;

TEST(Sha1, FipsVectors) {
    EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    EXPECT_EQ(sha1_hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

// Redis names a cached script by the SHA-1 of its source: SCRIPT LOAD "return 1" answers this.
TEST(Sha1, MatchesRedisScriptDigest) {
    EXPECT_EQ(sha1_hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

}  // namespace
