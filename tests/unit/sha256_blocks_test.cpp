// The two SHA-256 block functions: the portable one against a FIPS 180-4 vector (the hasher's
// own tests exercise whichever one this CPU picks), and SHA-NI against the portable one over
// random states and block counts.
#include "pulsestream/core/sha256_blocks.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace pulsestream::core {
namespace {

constexpr sha256_state initial_state{0x6a09e667U, 0xbb67ae85U, 0x3c6ef372U, 0xa54ff53aU,
                                     0x510e527fU, 0x9b05688cU, 0x1f83d9abU, 0x5be0cd19U};

// "abc" padded to one block by hand: the message, 0x80, zeros, the length in bits (24).
std::vector<std::uint8_t> abc_block() {
    std::vector<std::uint8_t> block(64, 0);
    block[0] = 'a';
    block[1] = 'b';
    block[2] = 'c';
    block[3] = 0x80;
    block[63] = 24;
    return block;
}

constexpr sha256_state abc_digest_words{0xba7816bfU, 0x8f01cfeaU, 0x414140deU, 0x5dae2223U,
                                        0xb00361a3U, 0x96177a9cU, 0xb410ff61U, 0xf20015adU};

TEST(Sha256Blocks, PortableMatchesTheFipsVector) {
    auto state = initial_state;
    const auto block = abc_block();
    sha256_blocks_portable(state, block.data(), 1);
    EXPECT_EQ(state, abc_digest_words);
}

TEST(Sha256Blocks, ShaNiMatchesTheFipsVector) {
    if (!cpu_has_sha_ni()) GTEST_SKIP() << "this CPU has no SHA extensions";
    auto state = initial_state;
    const auto block = abc_block();
    sha256_blocks_sha_ni(state, block.data(), 1);
    EXPECT_EQ(state, abc_digest_words);
}

TEST(Sha256Blocks, ShaNiAgreesWithPortableOnRandomStatesAndBlockCounts) {
    if (!cpu_has_sha_ni()) GTEST_SKIP() << "this CPU has no SHA extensions";
    std::mt19937 random(20261126);
    std::uniform_int_distribution<std::uint32_t> word;
    std::uniform_int_distribution<int> byte(0, 255);
    for (std::size_t blocks = 0; blocks <= 9; ++blocks) {
        for (int trial = 0; trial < 50; ++trial) {
            sha256_state state{};
            for (auto& w : state) w = word(random);
            std::vector<std::uint8_t> data(64 * blocks + 1);  // +1: an unaligned start below
            for (auto& b : data) b = static_cast<std::uint8_t>(byte(random));
            const std::uint8_t* start = data.data() + (trial % 2);
            auto portable = state;
            auto sha_ni = state;
            sha256_blocks_portable(portable, start, blocks);
            sha256_blocks_sha_ni(sha_ni, start, blocks);
            ASSERT_EQ(sha_ni, portable) << blocks << " blocks, trial " << trial;
        }
    }
}

TEST(Sha256Blocks, TheDispatcherPicksAnImplementationThatAgrees) {
    const auto block = abc_block();
    auto state = initial_state;
    sha256_blocks(state, block.data(), 1);
    EXPECT_EQ(state, abc_digest_words);
}

}  // namespace
}  // namespace pulsestream::core
