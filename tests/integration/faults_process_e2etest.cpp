// The real binaries as processes under load while a broker, a consumer or a gateway goes
// away: every 202 ends as exactly one row, and nothing else is stored.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "support/faults_under_load.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
using namespace pulsestream::test_support;

using process_faults = faults_under_load;

TEST_F(process_faults, broker_down_and_up_during_load) {
    start_stack(2, 1);
    auto sim = start_load();
    wait_more(sim, 300, "before the outage");
    // Broker 2 leads partitions 1, 4 and 7 (the devbroker spreads leaders round-robin) and the
    // mock keeps leadership on a downed broker: those partitions stall until it is up, so the
    // gateways answer 503 after PRODUCE_TIMEOUT_MS and the clients retry.
    ASSERT_EQ(stack_->broker_control("down 2").rfind("ok", 0), 0u);
    ASSERT_TRUE(sim.wait_attempts("503", 2, 60s)) << sim.progress().dump() << stack_->logs();
    ASSERT_EQ(stack_->broker_control("up 2").rfind("ok", 0), 0u);
    wait_more(sim, 600, "after the broker is back");
    const auto report = finish(sim);
    EXPECT_GT(report.value("retries", 0), 0);
}

TEST_F(process_faults, consumer_killed_and_restarted_during_load) {
    start_stack(2, 2);
    auto sim = start_load();
    wait_more(sim, 300, "before the kill");
    const auto status = stack_->stop_consumer(0, SIGKILL);
    ASSERT_TRUE(status && status->signaled()) << (status ? status->describe() : "?");
    // After the session timeout the survivor owns every partition.
    EXPECT_TRUE(wait_until(
        [&] {
            return stack_->consumer_metric(1, "pulsestream_consumer_assigned_partitions") == 8.0;
        },
        60s, 100ms))
        << stack_->logs();
    wait_more(sim, 300, "with one consumer");
    stack_->start_consumer(0);
    wait_more(sim, 300, "after the restart");
    finish(sim);
}

TEST_F(process_faults, gateway_sigterm_during_load_clients_retry_on_the_other) {
    start_stack(2, 1);
    auto sim = start_load();
    wait_more(sim, 300, "before SIGTERM");
    const auto status = stack_->stop_gateway(0, SIGTERM);
    ASSERT_TRUE(status && status->exited()) << (status ? status->describe() : "?");
    EXPECT_EQ(status->exit_code(), 0) << stack_->logs();
    wait_more(sim, 600, "with one gateway");
    const auto report = finish(sim);
    EXPECT_GT(report.value("retries", 0), 0) << "nobody had to move to the other gateway";
}

}  // namespace
