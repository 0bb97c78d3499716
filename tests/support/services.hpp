#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace pulsestream::test_support {

/// True when the environment variable CI is "true" or "1" (any case): missing services then
/// fail the tests instead of skipping them.
bool running_in_ci();

/// Policy for a service (PostgreSQL, Redis, ...) an integration suite needs.
///
/// Use one `service_gate` per fixture, as a static member:
/// @code
///   static void SetUpTestSuite() {
///       if (!gate_.require(postgres_instance::available(), "PostgreSQL 15")) return;
///       pg_ = std::make_unique<postgres_instance>();
///       pg_->start();   // a throw here fails the suite: gtest then skips its tests
///   }
///   void SetUp() override { PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_); }
/// @endcode
/// When the service is missing: under CI `require` records a failure (gtest then skips every test
/// of the suite and the binary fails); otherwise it records a skip reason, and
/// PULSESTREAM_SKIP_WITHOUT_SERVICES makes every test of the suite GTEST_SKIP with a message on how
/// to install the service (gtest 1.12 runs the tests even when SetUpTestSuite calls GTEST_SKIP,
/// hence the per-test check).
///
/// Thread-safety: used from gtest's main thread only.
class service_gate {
public:
    /// Returns `available`. When false, fails (CI) or remembers why to skip.
    bool require(bool available, std::string_view what);

    /// Non-empty when a required service is missing and the tests should be skipped.
    [[nodiscard]] const std::string& skip_reason() const { return skip_reason_; }

    /// Forgets previous results (call from TearDownTestSuite if the gate is reused).
    void reset() { skip_reason_.clear(); }

private:
    std::string skip_reason_;
};

/// The message shown when `what` is missing.
std::string missing_service_message(std::string_view what);

}  // namespace pulsestream::test_support

/// In a fixture's SetUp(): skips the test when its suite's gate recorded a missing service.
#define PULSESTREAM_SKIP_WITHOUT_SERVICES(gate)   \
    do {                                          \
        if (!(gate).skip_reason().empty()) {      \
            GTEST_SKIP() << (gate).skip_reason(); \
        }                                         \
    } while (false)
