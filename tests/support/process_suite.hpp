#pragma once

#include <gtest/gtest.h>

#include "support/postgres_instance.hpp"
#include "support/process_stack.hpp"
#include "support/redis_instance.hpp"
#include "support/services.hpp"

namespace pulsestream::test_support {

/// A gtest fixture for tests that run the project's binaries as processes (process_stack):
/// skipped without PostgreSQL and Redis (failed under CI, see service_gate), failed at once when
/// a binary the stack spawns was not built.
class process_suite : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gate_.require(postgres_instance::available() && redis_instance::available(),
                      "PostgreSQL 15 and Redis (packages postgresql-15, redis-server)");
    }
    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        ASSERT_EQ(binaries::missing(), "");
    }

    static inline service_gate gate_;
};

}  // namespace pulsestream::test_support
