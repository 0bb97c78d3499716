#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "support/postgres_instance.hpp"
#include "support/services.hpp"

namespace pulsestream::test_support {

/// A gtest fixture whose tests share one private PostgreSQL (schema.sql applied), started once
/// for the suite:
/// @code
///   class my_suite : public postgres_suite<my_suite> {};
///   TEST_F(my_suite, ...) { ... pg_->url() ... }
/// @endcode
/// Without PostgreSQL 15 every test of the suite is skipped (or fails under CI, see
/// service_gate). A suite that starts more once overrides SetUpTestSuite() and calls
/// start_postgres() first, going on only when it returns true; a fixture that overrides SetUp()
/// starts it with PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_). `Derived` (CRTP) gives each suite
/// its own server.
///
/// Lifetime: the server lives from SetUpTestSuite to TearDownTestSuite. Thread-safety: as
/// gtest's fixtures; pg_->url() may be read from any thread.
template <class Derived>
class postgres_suite : public ::testing::Test {
protected:
    static void SetUpTestSuite() { start_postgres(); }
    static void TearDownTestSuite() { pg_.reset(); }
    void SetUp() override { PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_); }

    /// Starts the suite's PostgreSQL; false (nothing started) when it is not installed.
    static bool start_postgres() {
        if (!gate_.require(postgres_instance::available(),
                           "PostgreSQL 15 (package postgresql-15)")) {
            return false;
        }
        pg_ = std::make_unique<postgres_instance>();
        pg_->start();
        return true;
    }

    static inline service_gate gate_;
    static inline std::unique_ptr<postgres_instance> pg_;
};

}  // namespace pulsestream::test_support
