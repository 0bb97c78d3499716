#include "pulsestream/core/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace pulsestream::core {
namespace {

bool has_message_starting(const config_errors& e, std::string_view prefix) {
    return std::any_of(e.messages.begin(), e.messages.end(),
                       [&](const std::string& m) { return m.rfind(prefix, 0) == 0; });
}

TEST(GatewayConfig, Defaults) {
    const auto r = load_gateway_config(env_from_map({}));
    ASSERT_TRUE(r.has_value());
    const gateway_config& c = *r;
    EXPECT_EQ(c.shared.database_url, "postgresql://postgres:postgres@localhost:5432/pulsestream");
    EXPECT_EQ(c.shared.redis_url, "redis://localhost:6379");
    EXPECT_EQ(c.shared.kafka_brokers, "localhost:9092");
    EXPECT_EQ(c.shared.kafka_topic, "metrics.raw");
    EXPECT_EQ(c.shared.kafka_dlq_topic, "metrics.dlq");
    EXPECT_EQ(c.shared.timestamp_skew_ms, 300000);
    EXPECT_EQ(c.shared.log_level, "info");
    EXPECT_EQ(c.shared.log_format, "text");
    EXPECT_EQ(c.host, "0.0.0.0");
    EXPECT_EQ(c.port, 3000);
    EXPECT_EQ(c.threads, std::max(1U, std::thread::hardware_concurrency()));
    EXPECT_EQ(c.max_connections, 16384U);
    EXPECT_EQ(c.http_header_timeout_ms, 10000);
    EXPECT_EQ(c.http_idle_timeout_ms, 60000);
    EXPECT_EQ(c.http_body_timeout_ms, 30000);
    EXPECT_EQ(c.max_body_bytes, 1048576U);
    EXPECT_EQ(c.max_batch_events, 500U);
    EXPECT_EQ(c.produce_timeout_ms, 10000);
    EXPECT_EQ(c.kafka_linger_ms, 0.75);
    EXPECT_EQ(c.idempotency_lock_ttl_s, 30);
    EXPECT_EQ(c.idempotency_ttl_s, 86400);
    EXPECT_EQ(c.auth_cache_ttl_s, 300);
    EXPECT_EQ(c.auth_negative_ttl_s, 30);
    EXPECT_EQ(c.rate_limit_per_key, 0U);
}

TEST(GatewayConfig, ReadsEveryVariable) {
    const auto r = load_gateway_config(env_from_map({
        {"DATABASE_URL", "postgres://u:p@db:5433/x"},
        {"REDIS_URL", "redis://cache:6380/1"},
        {"KAFKA_BROKERS", "k1:9092,k2:9093"},
        {"KAFKA_TOPIC", "t.raw"},
        {"KAFKA_DLQ_TOPIC", "t.dlq"},
        {"TIMESTAMP_SKEW_MS", "1000"},
        {"LOG_LEVEL", "DEBUG"},
        {"LOG_FORMAT", "json"},
        {"HOST", "127.0.0.1"},
        {"PORT", "0"},
        {"GATEWAY_THREADS", "2"},
        {"MAX_CONNECTIONS", "500"},
        {"HTTP_HEADER_TIMEOUT_MS", "2000"},
        {"HTTP_IDLE_TIMEOUT_MS", "75000"},
        {"HTTP_BODY_TIMEOUT_MS", "120000"},
        {"MAX_BODY_BYTES", "2048"},
        {"MAX_BATCH_EVENTS", "10"},
        {"PRODUCE_TIMEOUT_MS", "500"},
        {"KAFKA_LINGER_MS", "0.5"},
        {"IDEMPOTENCY_LOCK_TTL_S", "1"},
        {"IDEMPOTENCY_TTL_S", "60"},
        {"AUTH_CACHE_TTL_S", "5"},
        {"AUTH_NEGATIVE_TTL_S", "2"},
        {"RATE_LIMIT_PER_KEY", "100"},
    }));
    ASSERT_TRUE(r.has_value()) << r.error().messages.front();
    EXPECT_EQ(r->shared.database_url, "postgres://u:p@db:5433/x");
    EXPECT_EQ(r->shared.redis_url, "redis://cache:6380/1");
    EXPECT_EQ(r->shared.kafka_brokers, "k1:9092,k2:9093");
    EXPECT_EQ(r->shared.kafka_topic, "t.raw");
    EXPECT_EQ(r->shared.timestamp_skew_ms, 1000);
    EXPECT_EQ(r->shared.log_level, "debug");
    EXPECT_EQ(r->shared.log_format, "json");
    EXPECT_EQ(r->host, "127.0.0.1");
    EXPECT_EQ(r->port, 0);
    EXPECT_EQ(r->threads, 2U);
    EXPECT_EQ(r->max_connections, 500U);
    EXPECT_EQ(r->http_header_timeout_ms, 2000);
    EXPECT_EQ(r->http_idle_timeout_ms, 75000);
    EXPECT_EQ(r->http_body_timeout_ms, 120000);
    EXPECT_EQ(r->max_body_bytes, 2048U);
    EXPECT_EQ(r->max_batch_events, 10U);
    EXPECT_EQ(r->produce_timeout_ms, 500);
    EXPECT_EQ(r->kafka_linger_ms, 0.5);
    EXPECT_EQ(r->idempotency_lock_ttl_s, 1);
    EXPECT_EQ(r->rate_limit_per_key, 100U);
}

TEST(GatewayConfig, ReportsAllBadVariablesTogether) {
    const auto r = load_gateway_config(env_from_map({
        {"PORT", "abc"},
        {"GATEWAY_THREADS", "0"},
        {"MAX_BATCH_EVENTS", "-5"},
        {"LOG_LEVEL", "verbose"},
        {"LOG_FORMAT", "xml"},
        {"DATABASE_URL", "mysql://x"},
        {"REDIS_URL", "http://x"},
        {"KAFKA_TOPIC", "bad topic!"},
        {"TIMESTAMP_SKEW_MS", "12.5"},
        {"KAFKA_BROKERS", "nohostport"},
        {"KAFKA_LINGER_MS", "1001"},
        {"HTTP_IDLE_TIMEOUT_MS", "0"},
    }));
    ASSERT_FALSE(r.has_value());
    const config_errors& e = r.error();
    EXPECT_EQ(e.messages.size(), 12U);
    EXPECT_NE(std::find(e.messages.begin(), e.messages.end(),
                        "HTTP_IDLE_TIMEOUT_MS: expected an integer 1..3600000, got '0'"),
              e.messages.end());
    EXPECT_NE(std::find(e.messages.begin(), e.messages.end(),
                        "KAFKA_LINGER_MS: expected a number 0..1000, got '1001'"),
              e.messages.end());
    EXPECT_NE(std::find(e.messages.begin(), e.messages.end(),
                        "PORT: expected an integer 0..65535, got 'abc'"),
              e.messages.end());
    for (const char* name : {"GATEWAY_THREADS:", "MAX_BATCH_EVENTS:", "LOG_LEVEL:", "LOG_FORMAT:",
                             "DATABASE_URL:", "REDIS_URL:", "KAFKA_TOPIC:", "TIMESTAMP_SKEW_MS:",
                             "KAFKA_BROKERS:"}) {
        EXPECT_TRUE(has_message_starting(e, name)) << name;
    }
}

TEST(GatewayConfig, IntegersAreStrict) {
    for (const char* bad : {"3000 ", " 3000", "+3000", "3e3", "0x10", "65536", "99999999999999999999"}) {
        const auto r = load_gateway_config(env_from_map({{"PORT", bad}}));
        EXPECT_FALSE(r.has_value()) << bad;
    }
}

TEST(GatewayConfig, EmptyValueMeansDefault) {
    const auto r = load_gateway_config(env_from_map({{"PORT", ""}, {"LOG_LEVEL", ""}}));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->port, 3000);
    EXPECT_EQ(r->shared.log_level, "info");
}

TEST(GatewayConfig, LockTtlMustExceedProduceTimeout) {
    auto r = load_gateway_config(
        env_from_map({{"IDEMPOTENCY_LOCK_TTL_S", "10"}, {"PRODUCE_TIMEOUT_MS", "10000"}}));
    ASSERT_FALSE(r.has_value());
    ASSERT_EQ(r.error().messages.size(), 1U);
    EXPECT_TRUE(has_message_starting(r.error(), "IDEMPOTENCY_LOCK_TTL_S: must exceed"));
    r = load_gateway_config(env_from_map({{"PRODUCE_TIMEOUT_MS", "30000"}}));  // vs default 30 s
    EXPECT_FALSE(r.has_value());
    r = load_gateway_config(
        env_from_map({{"IDEMPOTENCY_LOCK_TTL_S", "11"}, {"PRODUCE_TIMEOUT_MS", "10000"}}));
    EXPECT_TRUE(r.has_value());
}

TEST(GatewayConfig, TopicsMustDiffer) {
    const auto r = load_gateway_config(env_from_map({{"KAFKA_DLQ_TOPIC", "metrics.raw"}}));
    ASSERT_FALSE(r.has_value());
    EXPECT_TRUE(has_message_starting(r.error(), "KAFKA_DLQ_TOPIC: must differ"));
}

TEST(GatewayConfig, AllLogLevels) {
    for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
        const auto r = load_gateway_config(env_from_map({{"LOG_LEVEL", level}}));
        ASSERT_TRUE(r.has_value()) << level;
        EXPECT_EQ(r->shared.log_level, level);
    }
}

TEST(GatewayConfig, ValueThrowsListingEveryProblem) {
    const auto r = load_gateway_config(env_from_map({{"PORT", "x"}, {"HOST", "a b"}}));
    try {
        (void)r.value();
        FAIL() << "value() should throw";
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("PORT:"), std::string::npos);
        EXPECT_NE(what.find("HOST:"), std::string::npos);
    }
}

TEST(ConsumerConfig, Defaults) {
    const auto r = load_consumer_config(env_from_map({}));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->consumer_port, 3001);
    EXPECT_EQ(r->host, "0.0.0.0");
    EXPECT_EQ(r->group_id, "pulsestream-metrics-group");
    EXPECT_EQ(r->batch_max_events, 20000U);
    EXPECT_EQ(r->batch_max_wait_ms, 200);
    EXPECT_EQ(r->db_connections, 2U);
    EXPECT_EQ(r->session_timeout_ms, 10000);
    EXPECT_EQ(r->retention_days, 14);
    EXPECT_EQ(r->shared.kafka_dlq_topic, "metrics.dlq");
}

TEST(ConsumerConfig, ReadsAndValidates) {
    auto r = load_consumer_config(env_from_map({{"CONSUMER_PORT", "4001"},
                                                {"KAFKA_GROUP_ID", "g"},
                                                {"BATCH_MAX_EVENTS", "100"},
                                                {"BATCH_MAX_WAIT_MS", "50"},
                                                {"CONSUMER_DB_CONNECTIONS", "4"},
                                                {"KAFKA_SESSION_TIMEOUT_MS", "6000"},
                                                {"RETENTION_DAYS", "7"},
                                                {"TIMESTAMP_SKEW_MS", "60000"}}));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->consumer_port, 4001);
    EXPECT_EQ(r->group_id, "g");
    EXPECT_EQ(r->batch_max_events, 100U);
    EXPECT_EQ(r->db_connections, 4U);
    EXPECT_EQ(r->retention_days, 7);
    EXPECT_EQ(r->shared.timestamp_skew_ms, 60000);
    r = load_consumer_config(env_from_map(
        {{"BATCH_MAX_EVENTS", "0"}, {"RETENTION_DAYS", "x"}, {"LOG_FORMAT", "yaml"}}));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().messages.size(), 3U);
}

TEST(ConsumerConfig, DbConnectionsMustBe1To64) {
    for (const char* bad : {"0", "65", "-1", "two", "2.5"}) {
        const auto r = load_consumer_config(env_from_map({{"CONSUMER_DB_CONNECTIONS", bad}}));
        ASSERT_FALSE(r.has_value()) << bad;
        ASSERT_EQ(r.error().messages.size(), 1U) << bad;
        EXPECT_NE(r.error().messages[0].find("CONSUMER_DB_CONNECTIONS"), std::string::npos)
            << r.error().messages[0];
    }
    for (const auto& [text, value] : {std::pair{"1", 1U}, std::pair{"64", 64U}}) {
        const auto r = load_consumer_config(env_from_map({{"CONSUMER_DB_CONNECTIONS", text}}));
        ASSERT_TRUE(r.has_value()) << text;
        EXPECT_EQ(r->db_connections, value);
    }
}

TEST(ProcessEnv, ReadsTheRealEnvironment) {
    ::setenv("PULSESTREAM_CORE_TEST_VAR", "hello", 1);
    const env_lookup env = process_env();
    EXPECT_EQ(env("PULSESTREAM_CORE_TEST_VAR"), "hello");
    ::unsetenv("PULSESTREAM_CORE_TEST_VAR");
    EXPECT_EQ(env("PULSESTREAM_CORE_TEST_VAR"), std::nullopt);
}

}  // namespace
}  // namespace pulsestream::core
