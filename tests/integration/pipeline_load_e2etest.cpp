// The real binaries as processes: 20,000 events through two gateways and two consumers end
// as exactly 20,000 rows.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/process_stack.hpp"
#include "support/process_suite.hpp"

namespace {

using namespace std::chrono_literals;
using namespace pulsestream::test_support;

using pipeline_load = process_suite;

TEST_F(pipeline_load,
       twenty_thousand_events_through_two_gateways_and_two_consumers_are_as_many_rows) {
    process_stack_options options;
    options.gateways = 2;
    options.consumers = 2;
    process_stack stack(options);
    stack.start();

    std::vector<std::string> args = {"load",          "--events", "20000",         "--batch", "50",
                                     "--connections", "8",        "--db-deadline", "120"};
    const auto target = stack.simulator_target_args();
    args.insert(args.end(), target.begin(), target.end());
    simulator_process sim;
    const auto report = stack.run_simulator(args, 300s, &sim);

    ASSERT_TRUE(sim.status() && sim.status()->exited())
        << "simulator: " << (sim.status() ? sim.status()->describe() : "still running") << "\n"
        << sim.output() << stack.logs();
    EXPECT_EQ(sim.status()->exit_code(), 0) << sim.output() << stack.logs();
    ASSERT_TRUE(report.is_object()) << sim.output();
    EXPECT_EQ(report["events"]["sent"], 20000);
    EXPECT_EQ(report["events"]["accepted"], 20000);
    EXPECT_EQ(report["requests"]["accepted"], 400);
    EXPECT_EQ(every_202_is_one_row(stack, report), "") << stack.logs();
    EXPECT_EQ(stack.event_rows(), 20000);
    // Both members of the group wrote a share.
    for (std::size_t i = 0; i < stack.consumers(); ++i) {
        EXPECT_GT(stack.consumer_metric(i, "pulsestream_consumer_rows_inserted_total").value_or(0),
                  0)
            << "consumer " << i;
    }
}

}  // namespace
