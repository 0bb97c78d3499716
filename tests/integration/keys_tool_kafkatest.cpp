// pulsestream-keys as a child process against a private PostgreSQL and Redis and a running
// in-process gateway (mock Kafka): a created key is accepted; deactivation, rotation and rate
// limits reach the gateway within a second (measured from the tool's start, with the gateway's
// caches warm); listings never show a key; an unreachable Redis is reported with exit code 3 and
// `invalidate` repairs it.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "pulsestream/core/sha256.hpp"
#include "support/child_process.hpp"
#include "support/gateway_stack.hpp"
#include "support/ingest_requests.hpp"
#include "support/ports.hpp"
#include "support/services.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace {

using namespace pulsestream::test_support;
using namespace std::chrono_literals;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

std::filesystem::path keys_binary() {
    return std::filesystem::path(PULSESTREAM_BINARY_DIR) / "tools/keys/pulsestream-keys";
}

struct run_result {
    int exit_code = -1;
    std::string output;  // stdout and stderr together

    /// The first line that is a JSON document (the tool's --json output).
    [[nodiscard]] json json_line() const {
        std::istringstream lines(output);
        for (std::string line; std::getline(lines, line);) {
            if (!line.empty() && (line.front() == '{' || line.front() == '['))
                return json::parse(line);
        }
        ADD_FAILURE() << "no JSON line in:\n" << output;
        return json{};
    }
};

/// The tool while it runs: started, awaited later.
class running_tool {
public:
    running_tool(child_process process, std::filesystem::path log)
        : process_(std::move(process)), log_(std::move(log)) {}

    run_result finish() {
        run_result result;
        const auto status = process_.wait_exit(30s);
        if (status && status->exited()) result.exit_code = status->exit_code();
        std::ifstream in(log_);
        std::stringstream text;
        text << in.rdbuf();
        result.output = text.str();
        return result;
    }

private:
    child_process process_;
    std::filesystem::path log_;
};

struct redis_deleter {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
};

class keys_tool : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!gate_.require(gateway_stack::available(), "PostgreSQL 15 and Redis 7")) return;
        stack_ = std::make_unique<gateway_stack>();
        stack_->start();
        dir_.emplace("pulsestream-keys-tool-");
    }
    static void TearDownTestSuite() {
        stack_.reset();
        dir_.reset();
    }
    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        ASSERT_TRUE(std::filesystem::exists(keys_binary()))
            << keys_binary() << " is missing: build the pulsestream-keys target";
    }

    static running_tool start(std::vector<std::string> args) {
        const auto log = dir_->path() / ("run" + std::to_string(++runs_) + ".log");
        spawn_options options;
        options.argv = {keys_binary().string()};
        options.argv.insert(options.argv.end(), args.begin(), args.end());
        options.env = {{"DATABASE_URL", stack_->postgres().url()},
                       {"REDIS_URL", stack_->redis().url()}};
        options.log_file = log;
        return running_tool(child_process::spawn(options), log);
    }

    static run_result run(std::vector<std::string> args) { return start(std::move(args)).finish(); }

    /// Creates a client with the tool; returns its JSON (id, prefix, api_key, ...).
    static json create_client(const std::string& name, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"create", "--name", name, "--json"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto result = run(args);
        EXPECT_EQ(result.exit_code, 0) << result.output;
        return result.json_line();
    }

    static http_client::response post(std::string_view api_key) {
        http_client client(stack_->port());
        return client.send(ingest_request(event_json(fresh_uuid()), fresh_uuid(), api_key));
    }

    static std::string code_of(const http_client::response& res) {
        const auto body = json::parse(res.body(), nullptr, false);
        return body.is_object() && body.contains("code") ? body["code"].get<std::string>() : "";
    }

    /// Polls the gateway until `api_key` gets `status` (and `code`, if given); returns how long
    /// that took from `since`, or nothing when `deadline` passed first.
    static std::optional<std::chrono::milliseconds> await_answer(
        std::string_view api_key, unsigned status, std::string_view code,
        clock_type::time_point since, std::chrono::milliseconds deadline) {
        std::optional<std::chrono::milliseconds> took;
        wait_until(
            [&] {
                const auto res = post(api_key);
                if (res.result_int() != status || (!code.empty() && code_of(res) != code)) {
                    return false;
                }
                took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() -
                                                                             since);
                return true;
            },
            deadline);
        return took;
    }

    static bool cached_in_redis(const std::string& key_hash) {
        std::unique_ptr<redisContext, redis_deleter> c(
            redisConnect("127.0.0.1", stack_->redis().port()));
        if (!c || c->err != 0) return false;
        auto* reply =
            static_cast<redisReply*>(redisCommand(c.get(), "EXISTS auth:%s", key_hash.c_str()));
        const bool exists =
            reply != nullptr && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
        freeReplyObject(reply);
        return exists;
    }

    /// Makes the gateway cache `api_key` in-process and in Redis, so that only the tool's
    /// invalidation can make it change its answer within a second (AUTH_CACHE_TTL_S is 300 s).
    static void warm_caches(const std::string& api_key) {
        ASSERT_EQ(post(api_key).result_int(), 202);
        ASSERT_TRUE(wait_until(
            [&] { return cached_in_redis(pulsestream::core::api_key_hash(api_key)); }, 5s))
            << "the gateway did not write the key's answer to Redis";
        ASSERT_EQ(post(api_key).result_int(), 202);
    }

    static inline service_gate gate_;
    static inline std::unique_ptr<gateway_stack> stack_;
    static inline std::optional<temp_dir> dir_;
    static inline int runs_ = 0;
};

TEST_F(keys_tool, create_prints_a_key_once_stores_only_its_hash_and_the_gateway_accepts_it) {
    const auto created = create_client("acme", {"--rate-limit", "1000"});
    const std::string key = created["api_key"];
    EXPECT_TRUE(std::regex_match(key, std::regex("ps_live_[0-9A-Za-z]{32}"))) << key;
    EXPECT_EQ(created["prefix"], key.substr(0, 16));
    EXPECT_EQ(created["rate_limit_per_sec"], 1000);
    EXPECT_EQ(created["active"], true);

    pqxx::connection conn(stack_->postgres().url());
    pqxx::work tx(conn);
    const auto row = tx.exec_params1(
        "SELECT api_key_hash, api_key_prefix, name, rate_limit_per_sec FROM clients WHERE id = "
        "$1::uuid",
        created["id"].get<std::string>());
    EXPECT_EQ(row[0].as<std::string>(), pulsestream::core::api_key_hash(key));
    EXPECT_EQ(row[1].as<std::string>(), key.substr(0, 16));
    EXPECT_EQ(row[2].as<std::string>(), "acme");
    EXPECT_EQ(row[3].as<int>(), 1000);
    // The key itself is nowhere in the table.
    const auto dump =
        tx.exec1("SELECT string_agg(clients::text, '|') FROM clients")[0].as<std::string>();
    EXPECT_EQ(dump.find(key), std::string::npos);

    EXPECT_EQ(post(key).result_int(), 202);
    // A second key is different (the generator is not stuck).
    EXPECT_NE(create_client("acme-2")["api_key"], key);
}

TEST_F(keys_tool, list_shows_clients_but_never_a_key_or_its_hash) {
    const auto created = create_client("listed", {"--rate-limit", "7"});
    const std::string key = created["api_key"];
    const std::string hash = pulsestream::core::api_key_hash(key);

    const auto text = run({"list"});
    ASSERT_EQ(text.exit_code, 0) << text.output;
    EXPECT_NE(text.output.find(created["id"].get<std::string>()), std::string::npos) << text.output;
    EXPECT_NE(text.output.find(created["prefix"].get<std::string>()), std::string::npos);
    EXPECT_NE(text.output.find("listed"), std::string::npos);
    EXPECT_EQ(text.output.find(key), std::string::npos);
    EXPECT_EQ(text.output.find(hash), std::string::npos);

    const auto as_json = run({"list", "--json"});
    ASSERT_EQ(as_json.exit_code, 0) << as_json.output;
    EXPECT_EQ(as_json.output.find(key), std::string::npos);
    EXPECT_EQ(as_json.output.find(hash), std::string::npos);
    bool found = false;
    for (const auto& c : as_json.json_line()) {
        EXPECT_FALSE(c.contains("api_key"));
        if (c["id"] == created["id"]) {
            found = true;
            EXPECT_EQ(c["name"], "listed");
            EXPECT_EQ(c["prefix"], created["prefix"]);
            EXPECT_EQ(c["rate_limit_per_sec"], 7);
            EXPECT_EQ(c["active"], true);
        }
    }
    EXPECT_TRUE(found) << as_json.output;
}

TEST_F(keys_tool, a_deactivated_key_is_refused_within_a_second_and_accepted_again_after_activate) {
    const auto created = create_client("revoked");
    const std::string key = created["api_key"];
    const std::string id = created["id"];
    warm_caches(key);

    const auto started = clock_type::now();
    auto tool = start({"deactivate", id});
    const auto took = await_answer(key, 401, "api_key_deactivated", started, 3s);
    const auto result = tool.finish();
    ASSERT_TRUE(took.has_value()) << "the gateway still accepts the deactivated key\n"
                                  << result.output;
    EXPECT_LT(*took, 1000ms) << "revocation took " << took->count() << " ms";
    std::cout << "[ measured ] deactivate -> 401 after " << took->count() << " ms\n";
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("reached 1 subscriber"), std::string::npos) << result.output;
    // After the tool's second DEL the key stays refused (no stale answer came back).
    EXPECT_EQ(code_of(post(key)), "api_key_deactivated");

    const auto reactivated = clock_type::now();
    auto again = start({"activate", created["prefix"]});  // by prefix this time
    const auto back = await_answer(key, 202, "", reactivated, 3s);
    EXPECT_EQ(again.finish().exit_code, 0);
    ASSERT_TRUE(back.has_value());
    EXPECT_LT(*back, 1000ms);
}

TEST_F(keys_tool, rotate_refuses_the_old_key_within_a_second_and_accepts_the_new_one) {
    const auto created = create_client("rotated");
    const std::string old_key = created["api_key"];
    warm_caches(old_key);

    const auto started = clock_type::now();
    auto tool = start({"rotate", created["id"], "--json"});
    const auto took = await_answer(old_key, 401, "invalid_api_key", started, 3s);
    const auto result = tool.finish();
    ASSERT_TRUE(took.has_value()) << "the gateway still accepts the old key\n" << result.output;
    EXPECT_LT(*took, 1000ms) << "rotation took " << took->count() << " ms";
    std::cout << "[ measured ] rotate -> old key 401 after " << took->count() << " ms\n";
    ASSERT_EQ(result.exit_code, 0) << result.output;

    const auto rotated = result.json_line();
    const std::string new_key = rotated["api_key"];
    EXPECT_NE(new_key, old_key);
    EXPECT_EQ(rotated["id"], created["id"]);
    EXPECT_EQ(rotated["prefix"], new_key.substr(0, 16));
    EXPECT_EQ(post(new_key).result_int(), 202);
    EXPECT_EQ(code_of(post(old_key)), "invalid_api_key");
}

TEST_F(keys_tool, a_rate_limit_reaches_the_gateway_and_can_be_cleared) {
    const auto created = create_client("limited");
    const std::string key = created["api_key"];
    warm_caches(key);

    const auto limited = run({"set-rate-limit", created["id"], "1"});
    ASSERT_EQ(limited.exit_code, 0) << limited.output;
    // One token per second: back-to-back requests hit the limit at once.
    EXPECT_TRUE(await_answer(key, 429, "rate_limited", clock_type::now(), 2s).has_value());

    const auto cleared = run({"set-rate-limit", created["id"], "none"});
    ASSERT_EQ(cleared.exit_code, 0) << cleared.output;
    // RATE_LIMIT_PER_KEY is 0 (off) in this stack: five in a row pass.
    ASSERT_TRUE(await_answer(key, 202, "", clock_type::now(), 2s).has_value());
    for (int i = 0; i < 5; ++i) EXPECT_EQ(post(key).result_int(), 202);
}

TEST_F(keys_tool, an_unreachable_redis_is_reported_with_exit_3_and_invalidate_repairs_it) {
    const auto created = create_client("partitioned");
    const std::string key = created["api_key"];
    const std::string hash = pulsestream::core::api_key_hash(key);
    warm_caches(key);

    const auto dead_redis = "redis://127.0.0.1:" + std::to_string(free_tcp_port());
    const auto result = run({"--redis-url", dead_redis, "deactivate", created["id"]});
    EXPECT_EQ(result.exit_code, 3) << result.output;
    EXPECT_NE(result.output.find("stored in PostgreSQL"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("invalidate --hash " + hash), std::string::npos) << result.output;
    {
        pqxx::connection conn(stack_->postgres().url());
        pqxx::work tx(conn);
        EXPECT_FALSE(tx.exec_params1("SELECT active FROM clients WHERE id = $1::uuid",
                                     created["id"].get<std::string>())[0]
                         .as<bool>());
    }
    // The gateway was not told: its caches still accept the key.
    EXPECT_EQ(post(key).result_int(), 202);

    const auto started = clock_type::now();
    auto repair = start({"invalidate", "--hash", hash});
    const auto took = await_answer(key, 401, "api_key_deactivated", started, 3s);
    EXPECT_EQ(repair.finish().exit_code, 0);
    ASSERT_TRUE(took.has_value());
    EXPECT_LT(*took, 1000ms);
}

TEST_F(keys_tool, refusals_change_nothing_and_exit_non_zero) {
    EXPECT_EQ(run({"deactivate", "00000000-0000-4000-8000-00000000dead"}).exit_code, 1);
    EXPECT_EQ(run({"deactivate", "ps_live_nosuchprefix"}).exit_code, 1);
    const auto created = create_client("strict");
    EXPECT_EQ(run({"set-rate-limit", created["id"], "0"}).exit_code, 1);
    EXPECT_EQ(run({"set-rate-limit", created["id"], "fast"}).exit_code, 1);
    EXPECT_EQ(run({"create", "--name", "x", "--rate-limit", "-5"}).exit_code, 1);
    EXPECT_EQ(run({}).exit_code, 2);
    EXPECT_EQ(run({"frobnicate"}).exit_code, 2);
    EXPECT_EQ(run({"invalidate", "--hash", "not-a-hash"}).exit_code, 2);
    const auto unreachable_db =
        run({"--database-url",
             "postgresql://postgres@127.0.0.1:" + std::to_string(free_tcp_port()) + "/x", "list"});
    EXPECT_EQ(unreachable_db.exit_code, 1) << unreachable_db.output;

    pqxx::connection conn(stack_->postgres().url());
    pqxx::work tx(conn);
    const auto row = tx.exec_params1(
        "SELECT active, rate_limit_per_sec IS NULL FROM clients WHERE id = $1::uuid",
        created["id"].get<std::string>());
    EXPECT_TRUE(row[0].as<bool>());
    EXPECT_TRUE(row[1].as<bool>());
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM clients WHERE name = 'x'")[0].as<int>(), 0);
}

}  // namespace
