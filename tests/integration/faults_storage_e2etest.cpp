// The real binaries as processes under load while PostgreSQL or Redis goes away and comes
// back: every 202 ends as exactly one row, and nothing else is stored.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/faults_under_load.hpp"

namespace {

using namespace std::chrono_literals;
using namespace pulsestream::test_support;

using storage_faults = faults_under_load;

TEST_F(storage_faults, postgres_stopped_and_restarted_during_load) {
    start_stack();
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
    start_stack();
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
