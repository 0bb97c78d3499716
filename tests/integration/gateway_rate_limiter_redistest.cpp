// Per-client token buckets (DESIGN.md §10). Needs no Redis: it lives here only because unit tests
// link pulsestream::core alone and the limiter is part of pulsestream::gateway.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "pulsestream/gateway/rate_limiter.hpp"

namespace {

using namespace std::chrono_literals;
using pulsestream::core::uuid;
using pulsestream::gateway::rate_limiter;

uuid client_id(std::uint8_t n) {
    uuid id{};
    id.bytes[15] = n;
    id.bytes[6] = 0x40;
    return id;
}

const rate_limiter::clock::time_point t0 = rate_limiter::clock::now();

TEST(rate_limiter, zero_rate_is_off) {
    rate_limiter limiter(0);
    for (int i = 0; i < 1000; ++i) {
        ASSERT_EQ(limiter.try_take(client_id(1), std::nullopt, 1'000'000, t0), 0U);
    }
}

TEST(rate_limiter, a_full_bucket_holds_one_second_of_the_rate) {
    rate_limiter limiter(10);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0), 0U) << "token " << i;
    }
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0), 1U);
}

TEST(rate_limiter, refills_continuously) {
    rate_limiter limiter(10);
    ASSERT_EQ(limiter.try_take(client_id(1), std::nullopt, 10, t0), 0U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0 + 50ms), 1U);
    // 100 ms at 10/s is one token, exactly.
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0 + 100ms), 0U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0 + 100ms), 1U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 5, t0 + 600ms), 0U);
    // Never above the capacity, however long it rested.
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 10, t0 + 1h), 0U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0 + 1h), 1U);
}

TEST(rate_limiter, retry_after_is_the_whole_seconds_until_the_tokens_are_there) {
    rate_limiter limiter(4);
    ASSERT_EQ(limiter.try_take(client_id(1), std::nullopt, 4, t0), 0U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 4, t0), 1U);          // exactly 1 s
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0), 1U);          // 0.25 s → 1
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 3, t0 + 500ms), 1U);  // 0.25 s → 1

    rate_limiter slow(1);
    ASSERT_EQ(slow.try_take(client_id(2), 1U, 1, t0), 0U);
    EXPECT_EQ(slow.try_take(client_id(2), 1U, 1, t0), 1U);
    EXPECT_EQ(slow.try_take(client_id(2), 1U, 1, t0 + 999ms), 1U);
    EXPECT_EQ(slow.try_take(client_id(2), 1U, 1, t0 + 1000ms), 0U);
}

TEST(rate_limiter, a_batch_costs_one_token_per_event) {
    rate_limiter limiter(100);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 60, t0), 0U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 60, t0), 1U);  // 40 left, 0.2 s
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 40, t0), 0U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0), 1U);
}

TEST(rate_limiter, an_oversize_batch_is_admitted_on_a_full_bucket_and_leaves_debt) {
    rate_limiter limiter(10);
    ASSERT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0), 0U);
    // 25 > capacity 10: refused until the bucket is full again (0.1 s → 1).
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 25, t0), 1U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 25, t0 + 100ms), 0U);
    // Now 15 tokens in debt: one token needs 1.6 s.
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0 + 100ms), 2U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0 + 1600ms), 1U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 1, t0 + 1700ms), 0U);
    // Another oversize batch waits for a full bucket: 0 → 10 takes 1 s.
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 25, t0 + 1700ms), 1U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 25, t0 + 2600ms), 1U);
    EXPECT_EQ(limiter.try_take(client_id(1), std::nullopt, 25, t0 + 2700ms), 0U);
}

TEST(rate_limiter, the_client_rate_overrides_the_default) {
    rate_limiter limiter(2);
    EXPECT_EQ(limiter.try_take(client_id(1), 50U, 50, t0), 0U);
    EXPECT_EQ(limiter.try_take(client_id(1), 50U, 1, t0), 1U);
    EXPECT_EQ(limiter.try_take(client_id(2), std::nullopt, 2, t0), 0U);
    EXPECT_EQ(limiter.try_take(client_id(2), std::nullopt, 1, t0), 1U);
    // A client with its own rate is limited even when the default is off.
    rate_limiter default_off(0);
    EXPECT_EQ(default_off.try_take(client_id(3), 1U, 1, t0), 0U);
    EXPECT_EQ(default_off.try_take(client_id(3), 1U, 1, t0), 1U);
    EXPECT_EQ(default_off.try_take(client_id(4), std::nullopt, 1000, t0), 0U);
}

TEST(rate_limiter, a_changed_client_rate_caps_the_balance_to_the_new_capacity) {
    rate_limiter limiter(0);
    ASSERT_EQ(limiter.try_take(client_id(1), 100U, 1, t0), 0U);  // 99 left
    EXPECT_EQ(limiter.try_take(client_id(1), 10U, 10, t0), 0U);  // capped to 10, all taken
    EXPECT_EQ(limiter.try_take(client_id(1), 10U, 1, t0), 1U);
}

TEST(rate_limiter, clients_have_their_own_buckets) {
    rate_limiter limiter(1);
    for (std::uint8_t n = 0; n < 50; ++n) {
        EXPECT_EQ(limiter.try_take(client_id(n), std::nullopt, 1, t0), 0U);
        EXPECT_EQ(limiter.try_take(client_id(n), std::nullopt, 1, t0), 1U);
    }
}

TEST(rate_limiter, the_number_of_buckets_is_bounded_by_evicting_the_idlest) {
    // 16 shards of one bucket each: with many clients, an evicted bucket comes back full.
    rate_limiter limiter(1, 16);
    for (std::uint8_t n = 0; n < 200; ++n) {
        ASSERT_EQ(limiter.try_take(client_id(n), std::nullopt, 1, t0), 0U);
    }
    int refused = 0;
    for (std::uint8_t n = 0; n < 200; ++n) {
        refused += limiter.try_take(client_id(n), std::nullopt, 1, t0) != 0 ? 1 : 0;
    }
    // At most the 16 most recent buckets can still be there; the rest were forgotten.
    EXPECT_LE(refused, 16);
}

TEST(rate_limiter, concurrent_takes_never_exceed_the_capacity) {
    rate_limiter limiter(1000);
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) {
                if (limiter.try_take(client_id(1), std::nullopt, 1, t0) == 0) ++allowed;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(allowed.load(), 1000);
}

}  // namespace
