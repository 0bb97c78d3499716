#pragma once

// The fixture of the e2e fault tests: the real binaries as processes (process_stack), a paced
// simulator load that retries on the other gateway, and the final verdict that every 202 is
// exactly one row and nothing else is stored.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/process_stack.hpp"
#include "support/process_suite.hpp"

namespace pulsestream::test_support {

class faults_under_load : public process_suite {
protected:

    void start_stack(int gateways = 2, int consumers = 1) {
        process_stack_options options;
        options.gateways = gateways;
        options.consumers = consumers;
        stack_ = std::make_unique<process_stack>(options);
        stack_->start();
    }

    /// A modest paced load over every gateway that retries on the next one (same
    /// Idempotency-Key and body); it runs until finish() interrupts it.
    simulator_process start_load() {
        std::vector<std::string> args = {
            "load",    "--rate", "60", "--batch",          "5",   "--connections",     "6",
            "--duration", "300", "--retry", "--retry-deadline", "150", "--retry-max-delay", "1",
            "--timeout", "10",   "--db-deadline", "150"};
        const auto target = stack_->simulator_target_args();
        args.insert(args.end(), target.begin(), target.end());
        return stack_->spawn_simulator(args);
    }

    /// Waits until the load has `more` accepted events than now.
    void wait_more(simulator_process& sim, std::uint64_t more, const char* phase) {
        const auto target = sim.accepted() + more;
        ASSERT_TRUE(sim.wait_accepted(target, std::chrono::seconds(60)))
            << phase << ": accepted " << sim.accepted() << " of " << target << "\n"
            << sim.output() << stack_->logs();
    }

    /// Stops the load and checks the verdict; returns the simulator's report.
    nlohmann::json finish(simulator_process& sim) {
        sim.interrupt();
        const auto report = sim.finish(std::chrono::seconds(300));
        EXPECT_TRUE(sim.status() && sim.status()->exited() && sim.status()->exit_code() == 0)
            << (sim.status() ? sim.status()->describe() : "simulator still running") << "\n"
            << sim.output() << stack_->logs();
        EXPECT_EQ(every_202_is_one_row(*stack_, report), "") << sim.output() << stack_->logs();
        return report;
    }

    std::unique_ptr<process_stack> stack_;
};

}  // namespace pulsestream::test_support
