// API key authentication against a private Redis and PostgreSQL (DESIGN.md §3 "Auth",
// "Redis down", §9 defect 6, §10): layers, negative caching, invalidation, and outages of one or
// both stores with every call bounded by its deadlines.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>
#include <future>
#include <ostream>
#include <pqxx/pqxx>
#include <random>
#include <vector>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/core/sha256.hpp"
#include "pulsestream/core/uuid.hpp"
#include "pulsestream/gateway/auth.hpp"
#include "pulsestream/gateway/redis_clients.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"
#include "pulsestream/pg/blocking_pool.hpp"
#include "pulsestream/redis/endpoint.hpp"
#include "support/await_on.hpp"
#include "support/child_process.hpp"
#include "support/gateway_redis.hpp"
#include "support/postgres_instance.hpp"
#include "support/prometheus_sample.hpp"
#include "support/redis_instance.hpp"
#include "support/services.hpp"
#include "support/wait.hpp"

namespace pulsestream::gateway {
// For gtest messages about boost::system::result<client_identity>.
std::ostream& operator<<(std::ostream& os, const client_identity& c) {
    os << core::to_string(c.id) << " rate ";
    if (c.rate_limit_per_sec) return os << *c.rate_limit_per_sec;
    return os << "default";
}
}  // namespace pulsestream::gateway

namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
using pulsestream::core::api_key_hash;
using pulsestream::core::errc;
using pulsestream::core::uuid;
using pulsestream::gateway::auth_options;
using pulsestream::gateway::authenticator;
using pulsestream::gateway::client_identity;
using pulsestream::metrics::gateway_metrics;
using pulsestream::test_support::await_on;
using pulsestream::test_support::gateway_redis;
using pulsestream::test_support::postgres_instance;
using pulsestream::test_support::prometheus_sample;
using pulsestream::test_support::redis_instance;
using pulsestream::test_support::service_gate;
using pulsestream::test_support::tail_of_file;
using pulsestream::test_support::wait_until;
using auth_result = boost::system::result<client_identity>;
using steady = std::chrono::steady_clock;

constexpr std::string_view dev_key = "ps_live_test_key_abc123xyz";
const uuid dev_client = *pulsestream::core::parse_uuid("00000000-0000-4000-8000-000000000001");

// Every coroutine of these tests must finish well within this; one that does not is a hang, and
// its frame still points at the fixture, so the binary stops here rather than carry on.
constexpr auto hang_deadline = 20s;

double lookups(const gateway_metrics& metrics, std::string_view layer, bool hit) {
    return prometheus_sample(metrics.serialize(), "pulsestream_auth_cache_lookups_total{layer=\"" +
                                                      std::string(layer) + "\",result=\"" +
                                                      (hit ? "hit" : "miss") + "\"}");
}

std::string random_key() {
    static std::mt19937_64 gen{std::random_device{}()};
    return "ps_live_" + to_string(pulsestream::core::random_uuid_v4(gen));
}

std::string code_of(const auth_result& r) {
    if (r) return "ok";
    return std::string(pulsestream::core::describe(static_cast<errc>(r.error().value())).code);
}

class gateway_auth_redis : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!gate_.require(redis_instance::available(), "Redis 7 (package redis-server)") ||
            !gate_.require(postgres_instance::available(), "PostgreSQL 15")) {
            return;
        }
        redis_ = std::make_unique<redis_instance>();
        redis_->start();
        pg_ = std::make_unique<postgres_instance>();
        pg_->start();
        // Every statement with its parameters goes to the server log: the tests count the
        // queries for one key hash there.
        exec("ALTER SYSTEM SET log_statement = 'all'");
        exec("SELECT pg_reload_conf()");
        gateway_redis_ = std::make_unique<gateway_redis>(
            *pulsestream::redis::parse_redis_url(redis_->url()), 2, hang_deadline);
        database_ = std::make_unique<pulsestream::pg::blocking_pool>(pg_->url(), 2);
    }

    static void TearDownTestSuite() {
        // blocking_pool's contract: the io_contexts that await it stop first and outlive it. A
        // query a test gave up on (frozen PostgreSQL) may still be running; it completes onto
        // a stopped context, which must still exist.
        if (gateway_redis_) {
            gateway_redis_->pool().stop();
            gateway_redis_->pool().join();
        }
        database_.reset();
        gateway_redis_.reset();
        redis_.reset();
        pg_.reset();
    }

    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        if (!redis_->running()) redis_->start_again();
        if (!pg_->running()) pg_->start_again();
        ASSERT_TRUE(wait_until([] { return gateway_redis_->usable(); }, 10s)) << "Redis not usable";
        ASSERT_EQ(gateway_redis_->command({"FLUSHALL"}).str, "OK");
        exec("DELETE FROM clients WHERE id <> '" + to_string(dev_client) + "'");
        exec("UPDATE clients SET active = true, rate_limit_per_sec = NULL");
        auth_ = std::make_unique<authenticator>(options_, gateway_redis_->clients(), *database_,
                                                metrics_);
    }

    void TearDown() override {
        if (pg_frozen_) thaw_postgres();
        if (redis_ && redis_->running()) redis_->thaw();
    }

    static void exec(const std::string& sql) {
        pqxx::connection conn(pg_->url());
        pqxx::nontransaction tx(conn);  // autocommit: ALTER SYSTEM refuses a transaction
        tx.exec(sql);
    }

    static void add_client(const uuid& id, std::string_view key, bool active,
                           std::optional<int> rate = std::nullopt) {
        exec(
            "INSERT INTO clients (id, name, api_key_hash, api_key_prefix, active, "
            "rate_limit_per_sec) VALUES ('" +
            to_string(id) + "', 'test', '" + api_key_hash(key) + "', 'ps_live_', " +
            (active ? "true" : "false") + ", " + (rate ? std::to_string(*rate) : "NULL") + ")");
    }

    /// How many statements PostgreSQL ran with `hash` as a parameter (from its log).
    static int database_queries_for(const std::string& hash) {
        std::ifstream log(pg_->log_path());
        const std::string needle = "'" + hash + "'";
        int count = 0;
        for (std::string line; std::getline(log, line);) {
            if (line.find("parameters:") != std::string::npos &&
                line.find(needle) != std::string::npos) {
                ++count;
            }
        }
        return count;
    }

    // PostgreSQL hangs as on a dead host (postgres_instance::freeze); always thawed again in
    // TearDown.
    void freeze_postgres() {
        pg_frozen_ = true;
        pg_->freeze();
    }
    void thaw_postgres() {
        pg_->thaw();
        pg_frozen_ = false;
    }

    static net::io_context& ctx(std::size_t i = 0) { return gateway_redis_->context(i); }

    static auth_result authenticate(authenticator& auth, std::string key, std::size_t context = 0) {
        return await_on<auth_result>(
            ctx(context), [&auth, key = std::move(key)] { return auth.authenticate(key); },
            hang_deadline);
    }
    auth_result authenticate(std::string key, std::size_t context = 0) {
        return authenticate(*auth_, std::move(key), context);
    }

    /// authenticate() and how long it took.
    std::pair<auth_result, steady::duration> timed(std::string key, std::size_t context = 0) {
        const auto started = steady::now();
        auto result = authenticate(std::move(key), context);
        return {std::move(result), steady::now() - started};
    }

    static inline service_gate gate_;
    static inline std::unique_ptr<redis_instance> redis_;
    static inline std::unique_ptr<postgres_instance> pg_;
    static inline std::unique_ptr<gateway_redis> gateway_redis_;
    static inline std::unique_ptr<pulsestream::pg::blocking_pool> database_;

    auth_options options_{.cache_ttl = 300s,
                          .negative_ttl = 30s,
                          .redis_deadline = 100ms,
                          .database_deadline = 500ms,
                          .process_cache_capacity = 1000};
    gateway_metrics metrics_;
    std::unique_ptr<authenticator> auth_;
    bool pg_frozen_ = false;
};

TEST_F(gateway_auth_redis, the_development_key_authenticates_as_its_client) {
    const auto first = authenticate(std::string(dev_key));
    ASSERT_TRUE(first) << code_of(first);
    EXPECT_EQ(first->id, dev_client);
    EXPECT_FALSE(first->rate_limit_per_sec.has_value());
    EXPECT_EQ(lookups(metrics_, "database", true), 1);

    // Then from the process cache, on either io thread.
    EXPECT_EQ(authenticate(std::string(dev_key), 1), first);
    EXPECT_EQ(lookups(metrics_, "process", true), 1);

    // Written back to Redis under the key's hash, where another gateway finds it.
    const auto redis_key = "auth:" + api_key_hash(dev_key);
    ASSERT_TRUE(wait_until(
        [&] {
            return gateway_redis_->command({"EXISTS", redis_key}).integer == 1;
        },
        2s));
    EXPECT_GT(gateway_redis_->command({"TTL", redis_key}).integer, 290);
    authenticator other_gateway(options_, gateway_redis_->clients(), *database_, metrics_);
    EXPECT_EQ(authenticate(other_gateway, std::string(dev_key), 1), first);
    EXPECT_EQ(lookups(metrics_, "redis", true), 1);
    EXPECT_EQ(lookups(metrics_, "database", true), 1);
    EXPECT_EQ(database_queries_for(api_key_hash(dev_key)), 1);
}

TEST_F(gateway_auth_redis, a_per_client_rate_limit_comes_with_the_identity) {
    const auto id = *pulsestream::core::parse_uuid("10000000-0000-4000-8000-00000000000a");
    const auto key = random_key();
    add_client(id, key, true, 250);
    const auto result = authenticate(key);
    ASSERT_TRUE(result) << code_of(result);
    EXPECT_EQ(result->id, id);
    EXPECT_EQ(result->rate_limit_per_sec, 250U);
    // The same from the Redis copy.
    const auto redis_key = "auth:" + api_key_hash(key);
    ASSERT_TRUE(wait_until(
        [&] {
            return gateway_redis_->command({"EXISTS", redis_key}).integer == 1;
        },
        2s));
    authenticator other_gateway(options_, gateway_redis_->clients(), *database_, metrics_);
    EXPECT_EQ(authenticate(other_gateway, key), result);
    EXPECT_EQ(lookups(metrics_, "redis", true), 1);
}

TEST_F(gateway_auth_redis, an_unknown_key_is_cached_negative_and_never_queried_twice) {
    const auto key = random_key();
    const auto hash = api_key_hash(key);
    EXPECT_EQ(code_of(authenticate(key)), "invalid_api_key");
    EXPECT_EQ(code_of(authenticate(key, 1)), "invalid_api_key");
    EXPECT_EQ(database_queries_for(hash), 1);
    EXPECT_EQ(lookups(metrics_, "database", false), 1);

    // Negative in Redis too, for the negative TTL: another gateway does not query either.
    ASSERT_TRUE(wait_until(
        [&] {
            return gateway_redis_->command({"EXISTS", "auth:" + hash}).integer == 1;
        },
        2s));
    const auto ttl = gateway_redis_->command({"TTL", "auth:" + hash}).integer;
    EXPECT_GT(ttl, 25);
    EXPECT_LE(ttl, 30);
    authenticator other_gateway(options_, gateway_redis_->clients(), *database_, metrics_);
    EXPECT_EQ(code_of(authenticate(other_gateway, key)), "invalid_api_key");
    EXPECT_EQ(database_queries_for(hash), 1);
    EXPECT_EQ(lookups(metrics_, "redis", true), 1);

    // The raw key is never a Redis key name nor stored as a value.
    const auto keys = gateway_redis_->command({"KEYS", "*"});
    ASSERT_EQ(keys.elements.size(), 1U);
    EXPECT_EQ(keys.elements[0].str, "auth:" + hash);
    EXPECT_EQ(gateway_redis_->command({"GET", "auth:" + hash}).str.find(key), std::string::npos);
}

TEST_F(gateway_auth_redis, concurrent_misses_of_one_key_share_one_query) {
    const auto key = random_key();
    options_.database_deadline = 5s;
    auth_ =
        std::make_unique<authenticator>(options_, gateway_redis_->clients(), *database_, metrics_);
    // With PostgreSQL frozen every request is sure to miss while the first query is pending.
    freeze_postgres();
    std::vector<std::future<auth_result>> futures;
    for (std::size_t i = 0; i < 20; ++i) {
        futures.push_back(net::co_spawn(
            ctx(i % 2), [this, key] { return auth_->authenticate(key); }, net::use_future));
    }
    EXPECT_TRUE(wait_until([&] { return lookups(metrics_, "redis", false) == 20; }, 2s));
    thaw_postgres();
    for (auto& f : futures) {
        ASSERT_EQ(f.wait_for(hang_deadline), std::future_status::ready);
        EXPECT_EQ(code_of(f.get()), "invalid_api_key");
    }
    EXPECT_EQ(database_queries_for(api_key_hash(key)), 1);
}

TEST_F(gateway_auth_redis, a_deactivated_key_is_refused_as_such) {
    const auto key = random_key();
    add_client(pulsestream::core::parse_uuid("10000000-0000-4000-8000-00000000000b").value(), key,
               false);
    EXPECT_EQ(code_of(authenticate(key)), "api_key_deactivated");
    EXPECT_EQ(code_of(authenticate(key, 1)), "api_key_deactivated");
    EXPECT_EQ(database_queries_for(api_key_hash(key)), 1);
}

TEST_F(gateway_auth_redis, invalidate_drops_the_key_from_the_process_cache) {
    const auto hash = api_key_hash(dev_key);
    ASSERT_TRUE(authenticate(std::string(dev_key)));
    exec("UPDATE clients SET active = false WHERE id = '" + to_string(dev_client) + "'");
    ASSERT_TRUE(wait_until(
        [&] {
            return gateway_redis_->command({"EXISTS", "auth:" + hash}).integer == 1;
        },
        2s));
    // Still cached: without invalidation the change is not seen yet.
    EXPECT_TRUE(authenticate(std::string(dev_key)));

    // What the key tool does: delete the Redis entry, then publish the hash; every gateway calls
    // invalidate() with it (upper-case hex works too).
    ASSERT_EQ(gateway_redis_->command({"DEL", "auth:" + hash}).integer, 1);
    std::string upper = hash;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auth_->invalidate(upper);
    EXPECT_EQ(code_of(authenticate(std::string(dev_key))), "api_key_deactivated");

    exec("UPDATE clients SET active = true WHERE id = '" + to_string(dev_client) + "'");
    ASSERT_TRUE(wait_until(
        [&] {
            return gateway_redis_->command({"EXISTS", "auth:" + hash}).integer == 1;
        },
        2s));
    ASSERT_EQ(gateway_redis_->command({"DEL", "auth:" + hash}).integer, 1);
    auth_->invalidate(hash);
    EXPECT_TRUE(authenticate(std::string(dev_key)));
}

TEST_F(gateway_auth_redis, with_redis_stopped_postgresql_answers_within_the_redis_deadline) {
    redis_->stop();
    const auto margin = 400ms;
    auto [dev, dev_took] = timed(std::string(dev_key));
    ASSERT_TRUE(dev) << code_of(dev);
    EXPECT_EQ(dev->id, dev_client);
    EXPECT_LT(dev_took, options_.redis_deadline + margin);
    for (int i = 0; i < 10; ++i) {
        auto [unknown, took] = timed(random_key(), static_cast<std::size_t>(i % 2));
        EXPECT_EQ(code_of(unknown), "invalid_api_key");
        EXPECT_LT(took, options_.redis_deadline + margin);
    }
    EXPECT_GE(prometheus_sample(metrics_.serialize(), "pulsestream_redis_failures_total"), 11);
}

TEST_F(gateway_auth_redis, with_redis_hung_postgresql_answers_within_the_redis_deadline) {
    redis_->freeze();
    const auto margin = 400ms;
    for (int i = 0; i < 10; ++i) {
        auto [unknown, took] = timed(random_key(), static_cast<std::size_t>(i % 2));
        EXPECT_EQ(code_of(unknown), "invalid_api_key");
        EXPECT_LT(took, options_.redis_deadline + margin);
    }
    auto [dev, took] = timed(std::string(dev_key));
    EXPECT_TRUE(dev) << code_of(dev);
    EXPECT_LT(took, options_.redis_deadline + margin);
    redis_->thaw();
}

TEST_F(gateway_auth_redis, with_both_stopped_an_uncached_key_is_auth_unavailable) {
    redis_->stop();
    pg_->stop();
    for (int i = 0; i < 3; ++i) {
        auto [result, took] = timed(std::string(dev_key));
        EXPECT_EQ(code_of(result), "auth_unavailable");
        EXPECT_LT(took, options_.database_deadline + 500ms);
    }
    // PostgreSQL back (Redis still down): the pool's dead connection is replaced at once.
    pg_->start_again();
    const auto back = authenticate(std::string(dev_key));
    EXPECT_TRUE(back) << code_of(back);
}

TEST_F(gateway_auth_redis, with_both_hung_an_uncached_key_is_auth_unavailable_at_the_deadline) {
    redis_->freeze();
    freeze_postgres();
    const auto key = random_key();
    for (int i = 0; i < 3; ++i) {
        auto [result, took] = timed(key, static_cast<std::size_t>(i % 2));
        EXPECT_EQ(code_of(result), "auth_unavailable");
        EXPECT_GE(took, options_.database_deadline);
        EXPECT_LT(took, options_.redis_deadline + options_.database_deadline + 500ms);
    }
    // The answer that comes after the deadline is harmless, and even useful: it lands in the
    // process cache, so the key is answered while Redis is still down.
    thaw_postgres();
    EXPECT_TRUE(wait_until([&] { return code_of(authenticate(key)) == "invalid_api_key"; }, 5s));
    EXPECT_EQ(database_queries_for(api_key_hash(key)), 1) << tail_of_file(pg_->log_path(), 40);
    redis_->thaw();
}

TEST_F(gateway_auth_redis, a_key_cached_in_process_still_authenticates_with_both_down) {
    options_.cache_ttl = 1s;
    auth_ =
        std::make_unique<authenticator>(options_, gateway_redis_->clients(), *database_, metrics_);
    const auto cached = authenticate(std::string(dev_key));
    ASSERT_TRUE(cached) << code_of(cached);
    const auto unknown = random_key();
    ASSERT_EQ(code_of(authenticate(unknown)), "invalid_api_key");

    redis_->stop();
    freeze_postgres();
    auto [fresh, took] = timed(std::string(dev_key));
    EXPECT_EQ(fresh, cached);
    EXPECT_LT(took, 50ms);
    EXPECT_EQ(code_of(authenticate(unknown)), "invalid_api_key");

    // Once the entry is past its TTL the stores are asked first; when neither answers, the
    // expired entry still beats refusing a known client.
    const double misses = lookups(metrics_, "process", false);
    ASSERT_TRUE(wait_until(
        [&] {
            const auto again = authenticate(std::string(dev_key));
            EXPECT_EQ(again, cached);
            return lookups(metrics_, "process", false) > misses;
        },
        5s, 100ms));
}

}  // namespace
