#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "support/redis_instance.hpp"
#include "support/services.hpp"

namespace pulsestream::test_support {

/// A gtest fixture whose tests share one private Redis, started once for the suite:
/// @code
///   class my_suite : public redis_suite<my_suite> {};
///   TEST_F(my_suite, ...) { ... redis_->url() ... }
/// @endcode
/// Without redis-server every test of the suite is skipped (or fails under CI, see
/// service_gate). A fixture that overrides SetUp() starts it with
/// PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_). `Derived` (CRTP) gives each suite its own server.
///
/// Lifetime: the server lives from SetUpTestSuite to TearDownTestSuite; a test that stops or
/// freezes it leaves it so for the next test unless its fixture's TearDown() restores it.
/// Thread-safety: as gtest's fixtures; redis_->url()/port() may be read from any thread.
template <class Derived>
class redis_suite : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!gate_.require(redis_instance::available(), "Redis 7 (package redis-server)")) {
            return;
        }
        redis_ = std::make_unique<redis_instance>();
        redis_->start();
    }
    static void TearDownTestSuite() { redis_.reset(); }
    void SetUp() override { PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_); }

    static inline service_gate gate_;
    static inline std::unique_ptr<redis_instance> redis_;
};

}  // namespace pulsestream::test_support
