// pulsestream-simulator's scenario mode against the real binaries as processes (two
// gateways, one consumer): every check passes on a healthy pipeline, and the simulator does
// fail when the pipeline misbehaves from its point of view.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/ports.hpp"
#include "support/postgres_instance.hpp"
#include "support/process_stack.hpp"
#include "support/redis_instance.hpp"
#include "support/services.hpp"

namespace {

using namespace std::chrono_literals;
using namespace pulsestream::test_support;

constexpr const char* second_key = "ps_live_e2e_second_tenant_key";

class simulator_scenarios : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!gate_.require(postgres_instance::available() && redis_instance::available(),
                           "PostgreSQL 15 and Redis (packages postgresql-15, redis-server)") ||
            !binaries::missing().empty()) {
            return;
        }
        stack_ = std::make_unique<process_stack>();
        stack_->start();
        stack_->create_client("e2e second tenant", second_key);
    }
    static void TearDownTestSuite() { stack_.reset(); }
    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        ASSERT_EQ(binaries::missing(), "");
        ASSERT_TRUE(stack_);
    }

    static nlohmann::json run(std::vector<std::string> args, simulator_process& sim) {
        return stack_->run_simulator(args, 180s, &sim);
    }

    static std::string status_of(const nlohmann::json& report, const std::string& name) {
        for (const auto& check : report["checks"]) {
            if (check["name"] == name) {
                return check["status"].get<std::string>() + ": " +
                       check["detail"].get<std::string>();
            }
        }
        return "missing";
    }

    static inline service_gate gate_;
    static inline std::unique_ptr<process_stack> stack_;
};

TEST_F(simulator_scenarios, every_check_passes_against_two_gateways_and_a_consumer) {
    auto args = stack_->simulator_target_args();
    args.insert(args.end(), {"--second-api-key", second_key});
    simulator_process sim;
    const auto report = run(args, sim);

    ASSERT_TRUE(sim.status() && sim.status()->exited()) << sim.output();
    EXPECT_EQ(sim.status()->exit_code(), 0) << sim.output() << stack_->logs();
    ASSERT_TRUE(report.is_object()) << sim.output();
    EXPECT_EQ(report["ok"], true);
    EXPECT_EQ(report["failed"], 0);
    EXPECT_EQ(report["skipped"], 0);
    for (const char* name :
         {"stream_open", "stream_auth", "auth_missing_key", "auth_invalid_key",
          "validation_stale_timestamp", "idempotency_concurrent", "trickle", "batch", "gzip",
          "gzip_same_request", "idempotency_replay", "idempotency_key_reused", "metadata",
          "tenant_isolation", "stream_exactly_once", "storage_exactly_once", "storage_metadata"}) {
        EXPECT_EQ(status_of(report, name).rfind("PASS", 0), 0u)
            << name << " -> " << status_of(report, name);
    }
}

TEST_F(simulator_scenarios, an_unknown_api_key_fails_the_run) {
    auto args = stack_->simulator_target_args();
    args.insert(args.end(), {"--api-key", "ps_live_not_a_real_key", "--stream-deadline", "2"});
    simulator_process sim;
    const auto report = run(args, sim);

    ASSERT_TRUE(sim.status() && sim.status()->exited()) << sim.output();
    EXPECT_EQ(sim.status()->exit_code(), 1) << sim.output();
    EXPECT_EQ(report["ok"], false);
    EXPECT_EQ(status_of(report, "stream_open").rfind("FAIL", 0), 0u)
        << status_of(report, "stream_open");
    EXPECT_EQ(status_of(report, "trickle").rfind("FAIL", 0), 0u) << status_of(report, "trickle");
    EXPECT_EQ(status_of(report, "tenant_isolation").rfind("SKIP", 0), 0u);
}

TEST_F(simulator_scenarios, an_unreachable_gateway_fails_the_run) {
    const std::string nowhere = "http://127.0.0.1:" + std::to_string(free_tcp_port());
    simulator_process sim;
    const auto report = run({"--gateway", stack_->gateway_url(0), "--gateway", nowhere, "--timeout",
                             "2", "--no-database-check"},
                            sim);

    ASSERT_TRUE(sim.status() && sim.status()->exited()) << sim.output();
    EXPECT_EQ(sim.status()->exit_code(), 1) << sim.output();
    EXPECT_EQ(status_of(report, "stream_open").rfind("FAIL", 0), 0u)
        << status_of(report, "stream_open");
    EXPECT_EQ(status_of(report, "storage_exactly_once").rfind("SKIP", 0), 0u);
}

TEST_F(simulator_scenarios, a_bad_command_line_exits_2) {
    simulator_process sim;
    run({"--gateway", "https://example.com"}, sim);
    ASSERT_TRUE(sim.status() && sim.status()->exited()) << sim.output();
    EXPECT_EQ(sim.status()->exit_code(), 2) << sim.output();
}

}  // namespace
