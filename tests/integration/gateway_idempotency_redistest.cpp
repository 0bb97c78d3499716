// Edge idempotency on a private Redis (DESIGN.md §3 "Idempotency", §9 defects 3, 4, 5).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <random>
#include <vector>

#include "pulsestream/core/sha256.hpp"
#include "pulsestream/core/uuid.hpp"
#include "pulsestream/gateway/idempotency.hpp"
#include "pulsestream/gateway/redis_clients.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"
#include "pulsestream/redis/endpoint.hpp"
#include "support/await_on.hpp"
#include "support/gateway_redis.hpp"
#include "support/prometheus_sample.hpp"
#include "support/redis_instance.hpp"
#include "support/services.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
using pulsestream::core::body_fingerprint;
using pulsestream::core::parse_uuid;
using pulsestream::core::uuid;
using pulsestream::gateway::idempotency_begin;
using pulsestream::gateway::idempotency_options;
using pulsestream::gateway::idempotency_state;
using pulsestream::gateway::idempotency_store;
using pulsestream::metrics::gateway_metrics;
using pulsestream::test_support::await_on;
using pulsestream::test_support::gateway_redis;
using pulsestream::test_support::prometheus_sample;
using pulsestream::test_support::redis_instance;
using pulsestream::test_support::service_gate;
using pulsestream::test_support::wait_until;

// Every coroutine of these tests must finish well within this; one that does not is a hang, and
// its frame still points at the fixture, so the binary stops here rather than carry on.
constexpr auto hang_deadline = 10s;

std::string state_name(idempotency_state s) {
    switch (s) {
        case idempotency_state::acquired:
            return "acquired";
        case idempotency_state::replay:
            return "replay";
        case idempotency_state::in_progress:
            return "in_progress";
        case idempotency_state::reused:
            return "reused";
        case idempotency_state::unavailable:
            return "unavailable";
    }
    return "?";
}

uuid fresh_uuid() {
    static std::mt19937_64 gen{std::random_device{}()};
    return pulsestream::core::random_uuid_v4(gen);
}

class gateway_idempotency_redis : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!gate_.require(redis_instance::available(), "Redis 7 (package redis-server)")) return;
        redis_ = std::make_unique<redis_instance>();
        redis_->start();
        gateway_redis_ = std::make_unique<gateway_redis>(
            *pulsestream::redis::parse_redis_url(redis_->url()), 2, hang_deadline);
    }

    static void TearDownTestSuite() {
        gateway_redis_.reset();
        redis_.reset();
    }

    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        if (!redis_->running()) redis_->start_again();
        // Usable means both connections answer (reconnected, breaker closed again).
        ASSERT_TRUE(wait_until([] { return gateway_redis_->usable(); }, 10s)) << "Redis not usable";
        ASSERT_EQ(gateway_redis_->command({"FLUSHALL"}).str, "OK");
        store_ = std::make_unique<idempotency_store>(options_, gateway_redis_->clients(), metrics_);
    }

    static net::io_context& ctx(std::size_t i = 0) { return gateway_redis_->context(i); }

    idempotency_begin begin(const uuid& client, const uuid& key, const std::string& fp,
                            std::size_t context = 0) {
        return await_on<idempotency_begin>(
            ctx(context), [this, client, key, fp] { return store_->begin(client, key, fp); },
            hang_deadline);
    }

    void complete(const uuid& client, const uuid& key, const std::string& fp,
                  const std::string& body,
                  std::optional<std::chrono::steady_clock::time_point> locked_at = {}) {
        await_on<void>(
            ctx(),
            [this, client, key, fp, body, locked_at] {
                return store_->complete(client, key, fp, body, locked_at);
            },
            hang_deadline);
    }

    static std::string key_name(const uuid& client, const uuid& key) {
        return "idem:" + to_string(client) + ":" + to_string(key);
    }

    static std::string command_stats() {
        return gateway_redis_->command({"INFO", "commandstats"}).str;
    }

    void release(const uuid& client, const uuid& key, const std::string& fp) {
        await_on<void>(
            ctx(), [this, client, key, fp] { return store_->release(client, key, fp); },
            hang_deadline);
    }

    static inline service_gate gate_;
    static inline std::unique_ptr<redis_instance> redis_;
    static inline std::unique_ptr<gateway_redis> gateway_redis_;

    idempotency_options options_{.lock_ttl = 30s, .result_ttl = 86400s, .deadline = 100ms};
    gateway_metrics metrics_;
    std::unique_ptr<idempotency_store> store_;
    const uuid client_ = fresh_uuid();
    const uuid key_ = fresh_uuid();
    const std::string body_a_ = body_fingerprint(R"({"deviceId":"a","value":1})");
    const std::string body_b_ = body_fingerprint(R"({"value":1,"deviceId":"a"})");
};

TEST_F(gateway_idempotency_redis, near_gives_the_connection_of_the_callers_io_context) {
    auto& first = gateway_redis_->clients().near(ctx(0).get_executor());
    auto& second = gateway_redis_->clients().near(ctx(1).get_executor());
    EXPECT_NE(&first, &second);
    EXPECT_EQ(&gateway_redis_->clients().near(ctx(0).get_executor()), &first);
    EXPECT_EQ(&gateway_redis_->clients().near(net::make_strand(ctx(1))), &second);
    EXPECT_TRUE(gateway_redis_->clients().breaker_closed());
}

TEST_F(gateway_idempotency_redis, the_first_request_takes_the_lock) {
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    // The lock is stored under the client-scoped, canonical key with the lock TTL.
    const auto name = "idem:" + to_string(client_) + ":" + to_string(key_);
    const auto ttl = gateway_redis_->command({"TTL", name});
    EXPECT_GT(ttl.integer, 25);
    EXPECT_LE(ttl.integer, 30);
}

TEST_F(gateway_idempotency_redis, the_same_body_while_locked_is_in_progress_another_is_reused) {
    ASSERT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "in_progress");
    EXPECT_EQ(state_name(begin(client_, key_, body_b_).state), "reused");
    EXPECT_EQ(prometheus_sample(metrics_.serialize(), "pulsestream_idempotency_conflicts_total"),
              1);
}

TEST_F(gateway_idempotency_redis, a_completed_request_is_replayed_byte_for_byte) {
    ASSERT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    const std::string stored =
        std::string(R"({"status":"success","data":{"id":"x:y"}} ü)") + '\0' + "tail:\r\n";
    complete(client_, key_, body_a_, stored);

    for (int i = 0; i < 2; ++i) {
        const auto again = begin(client_, key_, body_a_, static_cast<std::size_t>(i));
        EXPECT_EQ(state_name(again.state), "replay");
        EXPECT_EQ(again.stored_body, stored);
    }
    EXPECT_EQ(state_name(begin(client_, key_, body_b_).state), "reused");
    EXPECT_EQ(prometheus_sample(metrics_.serialize(), "pulsestream_idempotency_replays_total"), 2);
    // Stored for the result TTL, not the lock TTL.
    const auto ttl =
        gateway_redis_->command({"TTL", "idem:" + to_string(client_) + ":" + to_string(key_)});
    EXPECT_GT(ttl.integer, 86000);
}

TEST_F(gateway_idempotency_redis, a_released_lock_lets_the_retry_in) {
    ASSERT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    release(client_, key_, body_a_);
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    // After a release anyone may take the key, with any body.
    release(client_, key_, body_a_);
    EXPECT_EQ(state_name(begin(client_, key_, body_b_).state), "acquired");
}

TEST_F(gateway_idempotency_redis, release_deletes_only_our_own_lock) {
    ASSERT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    release(client_, key_, body_b_);  // someone else's fingerprint: not ours
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "in_progress");

    complete(client_, key_, body_a_, "202 body");
    release(client_, key_, body_a_);  // a stored result is never released
    const auto replay = begin(client_, key_, body_a_);
    EXPECT_EQ(state_name(replay.state), "replay");
    EXPECT_EQ(replay.stored_body, "202 body");
}

TEST_F(gateway_idempotency_redis, case_variants_of_the_key_are_one_key) {
    const auto upper = parse_uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF");
    const auto lower = parse_uuid("6f9619ff-8b86-d011-b42d-00c04fc964ff");
    const auto client_upper = parse_uuid("A1B2C3D4-0000-4000-8000-0000000000AB");
    const auto client_lower = parse_uuid("a1b2c3d4-0000-4000-8000-0000000000ab");
    ASSERT_TRUE(upper && lower && client_upper && client_lower);

    ASSERT_EQ(state_name(begin(*client_upper, *upper, body_a_).state), "acquired");
    EXPECT_EQ(state_name(begin(*client_lower, *lower, body_a_).state), "in_progress");
    EXPECT_EQ(gateway_redis_
                  ->command({"EXISTS",
                             "idem:a1b2c3d4-0000-4000-8000-0000000000ab:"
                             "6f9619ff-8b86-d011-b42d-00c04fc964ff"})
                  .integer,
              1);
}

TEST_F(gateway_idempotency_redis, keys_of_two_clients_are_independent) {
    const auto other_client = fresh_uuid();
    ASSERT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    EXPECT_EQ(state_name(begin(other_client, key_, body_b_).state), "acquired");
    complete(client_, key_, body_a_, "mine");
    EXPECT_EQ(state_name(begin(other_client, key_, body_b_).state), "in_progress");
    EXPECT_EQ(begin(client_, key_, body_a_).stored_body, "mine");
}

TEST_F(gateway_idempotency_redis, of_fifty_concurrent_requests_exactly_one_takes_the_lock) {
    std::vector<std::future<idempotency_begin>> futures;
    for (std::size_t i = 0; i < 50; ++i) {
        futures.push_back(net::co_spawn(
            ctx(i % 2), [this] { return store_->begin(client_, key_, body_a_); }, net::use_future));
    }
    int acquired = 0;
    int in_progress = 0;
    for (auto& f : futures) {
        ASSERT_EQ(f.wait_for(hang_deadline), std::future_status::ready);
        const auto state = f.get().state;
        acquired += state == idempotency_state::acquired ? 1 : 0;
        in_progress += state == idempotency_state::in_progress ? 1 : 0;
    }
    EXPECT_EQ(acquired, 1);
    EXPECT_EQ(in_progress, 49);
}

TEST_F(gateway_idempotency_redis, an_expired_lock_can_be_taken_again) {
    options_.lock_ttl = 1s;
    store_ = std::make_unique<idempotency_store>(options_, gateway_redis_->clients(), metrics_);
    ASSERT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    ASSERT_EQ(state_name(begin(client_, key_, body_a_).state), "in_progress");
    EXPECT_TRUE(wait_until(
        [&] { return begin(client_, key_, body_a_).state == idempotency_state::acquired; }, 5s,
        50ms));
}

TEST_F(gateway_idempotency_redis, a_stopped_redis_is_unavailable_at_once_and_nothing_throws) {
    redis_->stop();
    for (int i = 0; i < 10; ++i) {
        const auto started = std::chrono::steady_clock::now();
        EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "unavailable");
        complete(client_, key_, body_a_, "x");
        release(client_, key_, body_a_);
        EXPECT_LT(std::chrono::steady_clock::now() - started, 3 * options_.deadline + 200ms);
    }
    EXPECT_GE(prometheus_sample(metrics_.serialize(), "pulsestream_redis_failures_total"), 30);
}

TEST_F(gateway_idempotency_redis, a_hung_redis_is_unavailable_within_the_deadline) {
    redis_->freeze();
    for (int i = 0; i < 8; ++i) {
        const auto started = std::chrono::steady_clock::now();
        EXPECT_EQ(state_name(begin(client_, key_, body_a_, i % 2).state), "unavailable");
        EXPECT_LT(std::chrono::steady_clock::now() - started, options_.deadline + 200ms);
    }
    // Repeated timeouts open the breaker: later calls do not even wait for the deadline.
    EXPECT_FALSE(gateway_redis_->clients().breaker_closed());
    EXPECT_EQ(prometheus_sample(metrics_.serialize(), "pulsestream_redis_breaker_open"), 1);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "unavailable");
    EXPECT_LT(std::chrono::steady_clock::now() - started, 50ms);
    redis_->thaw();
    ASSERT_TRUE(wait_until([] { return gateway_redis_->usable(); }, 10s));
    // A timed-out SET can still land once Redis wakes up, leaving a lock nobody was told about.
    // That is why a request that went on after `unavailable` also completes or releases.
    release(client_, key_, body_a_);
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
}

// The lock a timed-out SET NX leaves when Redis wakes up is finished by the completion that
// failed while Redis hung: the retry gets the replay once Redis is back, not 409 until the lock
// expires (found by a fault probe: 409 for the whole lock TTL after a 5 s freeze).
TEST_F(gateway_idempotency_redis, a_completion_redis_missed_is_stored_once_it_is_back) {
    redis_->freeze();
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "unavailable");  // its SET waits
    complete(client_, key_, body_a_, "accepted");  // fails as well: Redis still hangs
    EXPECT_EQ(store_->writes_waiting(), 1u);
    redis_->thaw();
    const auto stored = [&] {
        return gateway_redis_->command({"GET", key_name(client_, key_)}).str;
    };
    EXPECT_TRUE(wait_until([&] { return stored().starts_with("D:"); }, 10s, 50ms))
        << "still " << stored();
    EXPECT_TRUE(wait_until([&] { return store_->writes_waiting() == 0; }, 10s));
    const auto retry = begin(client_, key_, body_a_);
    EXPECT_EQ(state_name(retry.state), "replay");
    EXPECT_EQ(retry.stored_body, "accepted");
}

TEST_F(gateway_idempotency_redis, a_release_redis_missed_removes_the_lock_that_landed_late) {
    redis_->freeze();
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "unavailable");
    release(client_, key_, body_a_);  // e.g. after a 503; fails while Redis hangs
    redis_->thaw();
    // Done once Redis ran the release twice, 2 s apart: the lock is gone, whichever came first.
    EXPECT_TRUE(wait_until([&] { return store_->writes_waiting() == 0; }, 15s));
    EXPECT_TRUE(gateway_redis_->command({"GET", key_name(client_, key_)}).is_nil());
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
}

TEST_F(gateway_idempotency_redis, complete_never_overwrites_another_requests_result) {
    ASSERT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    complete(client_, key_, body_a_, "first");
    // A request with another body that went on without the lock (Redis was unavailable to it).
    complete(client_, key_, body_b_, "second");
    EXPECT_EQ(begin(client_, key_, body_a_).stored_body, "first");
    EXPECT_EQ(state_name(begin(client_, key_, body_b_).state), "reused");

    // Without a lock (Redis lost it, or begin() was unavailable) the result is still stored,
    // and completing the same request twice keeps the latest body.
    const auto other = fresh_uuid();
    complete(client_, other, body_a_, "late");
    complete(client_, other, body_a_, "later");
    EXPECT_EQ(begin(client_, other, body_a_).stored_body, "later");

    // Someone else's lock is not replaced by our result.
    const auto third = fresh_uuid();
    ASSERT_EQ(state_name(begin(client_, third, body_b_).state), "acquired");
    complete(client_, third, body_a_, "not mine");
    EXPECT_EQ(state_name(begin(client_, third, body_b_).state), "in_progress");
}

// complete() over a lock this request took moments ago: one plain SET … XX GET, no script.
TEST_F(gateway_idempotency_redis, a_fresh_lock_is_replaced_by_a_plain_set_not_a_script) {
    const auto claim = begin(client_, key_, body_a_);
    ASSERT_EQ(state_name(claim.state), "acquired");
    ASSERT_TRUE(claim.locked_at.has_value());
    ASSERT_EQ(gateway_redis_->command({"CONFIG", "RESETSTAT"}).str, "OK");

    complete(client_, key_, body_a_, "202 body", claim.locked_at);

    const auto stats = command_stats();
    EXPECT_NE(stats.find("cmdstat_set:calls=1,"), std::string::npos) << stats;
    EXPECT_EQ(stats.find("cmdstat_eval"), std::string::npos) << stats;
    EXPECT_EQ(begin(client_, key_, body_a_).stored_body, "202 body");
    EXPECT_GT(gateway_redis_->command({"TTL", key_name(client_, key_)}).integer, 86000);
}

// A stall longer than the lock TTL lets a request with another body take the key; the plain
// SET then sees that value in its reply and puts it back, with a TTL of its kind.
TEST_F(gateway_idempotency_redis, a_value_of_another_body_found_by_the_plain_set_is_put_back) {
    const auto name = key_name(client_, key_);
    const auto claim = begin(client_, key_, body_a_);
    ASSERT_EQ(state_name(claim.state), "acquired");
    ASSERT_EQ(gateway_redis_->command({"SET", name, "L:" + body_b_, "EX", "30"}).str, "OK");

    complete(client_, key_, body_a_, "mine", claim.locked_at);
    EXPECT_EQ(state_name(begin(client_, key_, body_b_).state), "in_progress");
    EXPECT_EQ(state_name(begin(client_, key_, body_a_).state), "reused");
    const auto lock_ttl = gateway_redis_->command({"TTL", name}).integer;
    EXPECT_GT(lock_ttl, 25);
    EXPECT_LE(lock_ttl, 30);

    // The same for another body's stored result.
    ASSERT_EQ(gateway_redis_->command({"SET", name, "D:" + body_b_ + ":theirs"}).str, "OK");
    complete(client_, key_, body_a_, "mine", claim.locked_at);
    EXPECT_EQ(begin(client_, key_, body_b_).stored_body, "theirs");
    EXPECT_GT(gateway_redis_->command({"TTL", name}).integer, 86000);
}

TEST_F(gateway_idempotency_redis, a_fresh_lock_that_vanished_still_gets_the_result_stored) {
    const auto claim = begin(client_, key_, body_a_);
    ASSERT_EQ(state_name(claim.state), "acquired");
    ASSERT_EQ(gateway_redis_->command({"DEL", key_name(client_, key_)}).integer, 1);

    complete(client_, key_, body_a_, "stored anyway", claim.locked_at);
    EXPECT_EQ(begin(client_, key_, body_a_).stored_body, "stored anyway");
}

// Past half the lock TTL the lock may have expired: compare and set in one script.
TEST_F(gateway_idempotency_redis, an_old_lock_is_completed_by_the_script) {
    ASSERT_EQ(state_name(begin(client_, key_, body_a_).state), "acquired");
    ASSERT_EQ(gateway_redis_->command({"CONFIG", "RESETSTAT"}).str, "OK");
    const auto long_ago = std::chrono::steady_clock::now() - options_.lock_ttl / 2 - 1s;

    complete(client_, key_, body_a_, "by script", long_ago);

    const auto stats = command_stats();
    EXPECT_NE(stats.find("cmdstat_eval"), std::string::npos) << stats;
    EXPECT_EQ(begin(client_, key_, body_a_).stored_body, "by script");
}

// The scripts travel by digest (EVALSHA); a server that lost its script cache (restart,
// SCRIPT FLUSH) gets the source once (EVAL) and digests again afterwards.
TEST_F(gateway_idempotency_redis, scripts_run_by_digest_and_survive_a_flushed_script_cache) {
    ASSERT_EQ(gateway_redis_->command({"SCRIPT", "FLUSH"}).str, "OK");
    ASSERT_EQ(gateway_redis_->command({"CONFIG", "RESETSTAT"}).str, "OK");
    const uuid keys[] = {fresh_uuid(), fresh_uuid(), fresh_uuid()};
    for (const auto& key : keys) {
        ASSERT_EQ(state_name(begin(client_, key, body_a_).state), "acquired");
        complete(client_, key, body_a_, "stored " + to_string(key));
        EXPECT_EQ(begin(client_, key, body_a_).stored_body, "stored " + to_string(key));
    }
    const auto stats = gateway_redis_->command({"INFO", "commandstats"}).str;
    EXPECT_NE(stats.find("cmdstat_evalsha:calls=3,"), std::string::npos) << stats;
    EXPECT_NE(stats.find("cmdstat_eval:calls=1,"), std::string::npos) << stats;

    ASSERT_EQ(gateway_redis_->command({"SCRIPT", "FLUSH"}).str, "OK");
    const auto after_flush = fresh_uuid();
    ASSERT_EQ(state_name(begin(client_, after_flush, body_a_).state), "acquired");
    complete(client_, after_flush, body_a_, "after flush");
    EXPECT_EQ(begin(client_, after_flush, body_a_).stored_body, "after flush");
}

}  // namespace
