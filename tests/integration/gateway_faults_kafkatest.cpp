// The gateway when its partners fail (DESIGN.md §3 "Redis down", §9 defects 4 and 10, §10):
// a frozen or dead broker gives 503 on the gateway's own deadline and never a 202; a dead Redis
// neither hangs nor fails requests; with Redis and PostgreSQL both gone an unknown key is 503.
// Real PostgreSQL, Redis, mock Kafka cluster and sockets.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "support/gateway_stack.hpp"
#include "support/ingest_requests.hpp"
#include "support/kafka_reader.hpp"
#include "support/log_capture.hpp"
#include "support/services.hpp"
#include "support/wait.hpp"

namespace {

using namespace pulsestream::test_support;
using nlohmann::json;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

class gateway_faults : public ::testing::Test {
protected:
    void SetUp() override {
        if (!gate_.require(gateway_stack::available(), "PostgreSQL 15 and Redis 7")) {
            GTEST_SKIP() << gate_.skip_reason();
        }
    }

    void start(std::function<void(pulsestream::core::gateway_config&)> tweak = {}) {
        stack_ = std::make_unique<gateway_stack>(std::move(tweak));
        stack_->start();
    }

    http_client::response post(const std::string& body, const std::string& key,
                               std::string_view api_key = dev_api_key) {
        return http_client(stack_->port()).send(ingest_request(body, key, api_key));
    }

    static std::string code_of(const http_client::response& res) {
        return json::parse(res.body()).value("code", "");
    }

    service_gate gate_;
    std::unique_ptr<gateway_stack> stack_;
};

TEST_F(gateway_faults, a_dead_broker_gives_503_on_the_gateways_deadline_and_never_a_202) {
    // Defect 10: the original waited ~20 s on a frozen broker instead of answering 503.
    start([](auto& c) { c.produce_timeout_ms = 1500; });
    stack_->kafka().broker_down(-1);
    const auto key = fresh_uuid();
    const auto body = event_json(fresh_uuid());
    const auto started = clock_type::now();
    const auto res = post(body, key);
    const auto elapsed = clock_type::now() - started;
    EXPECT_EQ(res.result_int(), 503) << res.body();
    EXPECT_EQ(code_of(res), "broker_unavailable");
    EXPECT_EQ(res[bhttp::field::retry_after], "5");
    EXPECT_LT(elapsed, 1500ms + 1s);

    // The 503 released the idempotency lock: the client's retry goes through once the broker is back.
    stack_->kafka().broker_up(-1);
    http_client::response retry;
    ASSERT_TRUE(wait_until([&] {
        retry = post(body, key);
        return retry.result_int() == 202;
    }, 30s, 200ms)) << retry.body();
}

TEST_F(gateway_faults, a_frozen_broker_gives_503_and_the_late_ack_is_never_a_second_answer) {
    start([](auto& c) { c.produce_timeout_ms = 1000; });
    stack_->kafka().set_rtt(-1, 3000);
    const auto res = post(event_json(fresh_uuid()), fresh_uuid());
    EXPECT_EQ(res.result_int(), 503);
    EXPECT_EQ(code_of(res), "broker_unavailable");
    stack_->kafka().set_rtt(-1, 0);
}

TEST_F(gateway_faults, requests_are_accepted_without_waiting_while_redis_is_down) {
    start([](auto& c) { c.redis_timeout_ms = 200; });
    ASSERT_EQ(post(event_json(fresh_uuid()), fresh_uuid()).result_int(), 202);  // key cached
    stack_->redis().stop();
    for (int i = 0; i < 20; ++i) {
        const auto started = clock_type::now();
        const auto res = post(event_json(fresh_uuid()), fresh_uuid());
        EXPECT_EQ(res.result_int(), 202) << res.body();
        EXPECT_LT(clock_type::now() - started, 2s);
    }
    http_client client(stack_->port());
    const auto ready = client.send(make_request(bhttp::verb::get, "/readyz"));
    EXPECT_EQ(ready.result_int(), 200);  // fails open: Redis trouble is reported, not fatal

    // Redis back: edge idempotency works again by itself.
    stack_->redis().start_again();
    const auto key = fresh_uuid();
    const auto body = event_json(fresh_uuid());
    ASSERT_TRUE(wait_until([&] {
        const auto first = post(body, key);
        const auto second = post(body, key);
        return first.result_int() == 202 && second["Idempotent-Replayed"] == "true";
    }, 30s, 200ms));
}

TEST_F(gateway_faults, an_unknown_key_with_redis_and_postgres_down_is_503_auth_unavailable) {
    start([](auto& c) { c.redis_timeout_ms = 200; });
    stack_->redis().stop();
    stack_->postgres().stop();
    const auto started = clock_type::now();
    const auto res = post(event_json(fresh_uuid()), fresh_uuid(), "ps_live_never_seen_key");
    EXPECT_EQ(res.result_int(), 503) << res.body();
    EXPECT_EQ(code_of(res), "auth_unavailable");
    EXPECT_EQ(res[bhttp::field::retry_after], "5");
    EXPECT_LT(clock_type::now() - started, 5s);
    const auto ready = http_client(stack_->port()).send(make_request(bhttp::verb::get, "/readyz"));
    EXPECT_EQ(ready.result_int(), 200);  // both fail open; the broker is what readiness needs
    EXPECT_EQ(json::parse(ready.body())["database"], "unreachable");
}

// DESIGN.md §10: PostgreSQL trouble does not make the gateway unready, but /readyz says so.
// The whole server is frozen (postmaster and backends), the case in which a query on an open
// connection hangs instead of failing.
TEST_F(gateway_faults, readiness_reports_a_frozen_database_and_stays_ready) {
    start();
    ASSERT_EQ(post(event_json(fresh_uuid()), fresh_uuid()).result_int(), 202);  // key cached
    const auto readyz = [&] {
        return http_client(stack_->port()).send(make_request(bhttp::verb::get, "/readyz"));
    };
    EXPECT_EQ(json::parse(readyz().body())["database"], "ok");

    auto& postgres = stack_->postgres();
    postgres.freeze();
    struct thaw {
        postgres_instance& postgres;
        ~thaw() { postgres.thaw(); }
    } thaw_on_exit{postgres};
    // The first check waits out its probe; the next ones neither wait nor queue another probe.
    for (int i = 0; i < 3; ++i) {
        const auto started = clock_type::now();
        const auto res = readyz();
        EXPECT_EQ(res.result_int(), 200) << res.body();
        EXPECT_EQ(json::parse(res.body())["database"], "unreachable");
        EXPECT_LT(clock_type::now() - started, i == 0 ? 2s : 400ms);
    }
    EXPECT_EQ(post(event_json(fresh_uuid()), fresh_uuid()).result_int(), 202);  // fails open

    postgres.thaw();
    EXPECT_TRUE(wait_until([&] { return json::parse(readyz().body())["database"] == "ok"; }, 15s,
                           200ms));
}

// Without a log callback librdkafka prints its own lines to stderr, which breaks LOG_FORMAT=json
// and ignores LOG_LEVEL. Its lines say why a broker is unreachable but nothing when it is back:
// the gateway logs the start of an outage once (not once per 503) and its end.
TEST_F(gateway_faults, a_broker_outage_reaches_spdlog_once_at_its_start_and_once_at_its_end) {
    // The stack goes first: its librdkafka threads must not log into a logger being replaced.
    const log_capture log([&] { stack_.reset(); });
    start([](auto& c) { c.produce_timeout_ms = 1000; });
    stack_->kafka().broker_down(-1);
    EXPECT_EQ(post(event_json(fresh_uuid()), fresh_uuid()).result_int(), 503);
    EXPECT_EQ(post(event_json(fresh_uuid()), fresh_uuid()).result_int(), 503);
    EXPECT_TRUE(wait_until([&] { return log.lines_starting("kafka FAIL: ") > 0; }, 10s))
        << "no librdkafka FAIL line reached spdlog";
    EXPECT_EQ(log.lines_starting("kafka: a produce request got no acknowledgement"), 1U);

    stack_->kafka().broker_up(-1);
    EXPECT_TRUE(wait_until(
        [&] {
            return post(event_json(fresh_uuid()), fresh_uuid()).result_int() == 202 &&
                   log.lines_starting("kafka: the broker acknowledges again; ") == 1;
        },
        30s, 200ms));
    EXPECT_EQ(log.lines_starting("kafka: a produce request got no acknowledgement"), 1U);
}

TEST_F(gateway_faults, the_rate_limit_answers_429_with_retry_after_and_counts_batch_events) {
    start([](auto& c) { c.rate_limit_per_key = 100; });
    auto batch_of = [](int n) {
        std::string batch = "[";
        for (int i = 0; i < n; ++i) batch += (i ? "," : "") + event_json(fresh_uuid());
        return batch + "]";
    };
    // Each batch costs 100 tokens, a full second of the rate; the bucket refills only while a
    // request waits for its ack, so back-to-back batches soon find it short.
    std::string key, body;
    http_client::response limited;
    for (int attempt = 0; attempt < 5 && limited.result_int() != 429; ++attempt) {
        key = fresh_uuid();
        body = batch_of(100);
        limited = post(body, key);
    }
    ASSERT_EQ(limited.result_int(), 429) << limited.body();
    EXPECT_EQ(code_of(limited), "rate_limited");
    ASSERT_FALSE(limited[bhttp::field::retry_after].empty());
    EXPECT_GE(std::stoi(std::string(limited[bhttp::field::retry_after])), 1);
    // The 429 released the lock: the same key is accepted once tokens are back.
    ASSERT_TRUE(wait_until([&] { return post(body, key).result_int() == 202; }, 5s, 200ms));
}

TEST_F(gateway_faults, shutdown_finishes_the_request_in_flight) {
    start();
    // A warm producer (metadata, producer id) so that the slow broker below delays only the ack
    // of the request in flight, well inside PRODUCE_TIMEOUT_MS.
    ASSERT_EQ(post(event_json(fresh_uuid()), fresh_uuid()).result_int(), 202);
    stack_->kafka().set_rtt(-1, 500);
    const auto key = fresh_uuid();
    auto in_flight = std::async(std::launch::async, [&] { return post(event_json(fresh_uuid()), key); });
    // Wait until the request is being handled, then drain.
    ASSERT_TRUE(wait_until([&] {
        http_client probe(stack_->port());
        const auto m = probe.send(make_request(bhttp::verb::get, "/metrics")).body();
        return m.find("http_active_requests 2") != std::string::npos;
    }, 10s, 10ms));
    stack_->stop_gateway();
    const auto res = in_flight.get();
    EXPECT_EQ(res.result_int(), 202) << res.body();
    stack_->kafka().set_rtt(-1, 0);
}

}  // namespace
