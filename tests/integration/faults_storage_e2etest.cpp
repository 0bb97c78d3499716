// The real binaries as processes under load while PostgreSQL or Redis goes away and comes
// back: every 202 ends as exactly one row, and nothing else is stored.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/postgres_instance.hpp"
#include "support/process_stack.hpp"
#include "support/redis_instance.hpp"
#include "support/services.hpp"

namespace {

using namespace std::chrono_literals;
using namespace pulsestream::test_support;

class storage_faults : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gate_.require(postgres_instance::available() && redis_instance::available(),
                      "PostgreSQL 15 and Redis (packages postgresql-15, redis-server)");
    }
    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        ASSERT_EQ(binaries::missing(), "");
        stack_ = std::make_unique<process_stack>();
        stack_->start();
    }

    // A modest paced load over both gateways that retries on the other gateway; it runs until
    // finish() interrupts it.
    simulator_process start_load() {
        std::vector<std::string> args = {"load",
                                         "--rate",
                                         "60",
                                         "--batch",
                                         "5",
                                         "--connections",
                                         "6",
                                         "--duration",
                                         "300",
                                         "--retry",
                                         "--retry-deadline",
                                         "150",
                                         "--retry-max-delay",
                                         "1",
                                         "--timeout",
                                         "10",
                                         "--db-deadline",
                                         "150"};
        const auto target = stack_->simulator_target_args();
        args.insert(args.end(), target.begin(), target.end());
        return stack_->spawn_simulator(args);
    }

    void wait_more(simulator_process& sim, std::uint64_t more, const char* phase) {
        const auto target = sim.accepted() + more;
        ASSERT_TRUE(sim.wait_accepted(target, 60s))
            << phase << ": accepted " << sim.accepted() << " of " << target << "\n"
            << sim.output() << stack_->logs();
    }

    void finish(simulator_process& sim) {
        sim.interrupt();
        const auto report = sim.finish(300s);
        ASSERT_TRUE(sim.status() && sim.status()->exited())
            << (sim.status() ? sim.status()->describe() : "simulator still running") << "\n"
            << sim.output() << stack_->logs();
        EXPECT_EQ(sim.status()->exit_code(), 0) << sim.output() << stack_->logs();
        EXPECT_EQ(every_202_is_one_row(*stack_, report), "") << sim.output() << stack_->logs();
    }

    static inline service_gate gate_;
    std::unique_ptr<process_stack> stack_;
};

TEST_F(storage_faults, postgres_stopped_and_restarted_during_load) {
    auto sim = start_load();
    wait_more(sim, 300, "before the outage");
    stack_->postgres().stop();
    // Ingest does not depend on PostgreSQL: the gateways keep accepting.
    wait_more(sim, 600, "while PostgreSQL is down");
    const auto rows_while_down = stack_->event_rows();
    EXPECT_EQ(rows_while_down, -1);
    stack_->postgres().start_again();
    wait_more(sim, 300, "after PostgreSQL is back");
    finish(sim);
}

TEST_F(storage_faults, redis_stopped_and_restarted_during_load) {
    auto sim = start_load();
    wait_more(sim, 300, "before the outage");
    stack_->redis().stop();
    // Gateways fail open: auth from their caches/PostgreSQL, edge idempotency skipped.
    wait_more(sim, 600, "while Redis is down");
    stack_->redis().start_again();
    wait_more(sim, 300, "after Redis is back");
    finish(sim);
}

}  // namespace
