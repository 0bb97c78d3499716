// The dashboard page in a real browser (DESIGN.md §3 `/`, §9 defect 7): an in-process gateway
// with its real partners, and tests/browser/dashboard.test.mjs driving Debian's chromium headless
// through playwright-core against it. Needs node, chromium and `npm ci` in tests/browser; fails
// under CI=true when any is missing, else skips.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "support/child_process.hpp"
#include "support/gateway_stack.hpp"
#include "support/services.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace pulsestream::test_support;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path source_dir() {
    const char* env = std::getenv("PULSESTREAM_SOURCE_DIR");
    return env != nullptr && *env != '\0' ? fs::path(env) : fs::path(PULSESTREAM_SOURCE_DIR);
}

fs::path node_binary() {
    const char* env = std::getenv("PULSESTREAM_NODE");
    return env != nullptr && *env != '\0' ? fs::path(env) : fs::path("/usr/bin/node");
}

fs::path chromium_binary() {
    const char* env = std::getenv("CHROMIUM");
    return env != nullptr && *env != '\0' ? fs::path(env) : fs::path("/usr/bin/chromium");
}

bool browser_tools_available() {
    return fs::exists(node_binary()) && fs::exists(chromium_binary()) &&
           fs::exists(source_dir() / "tests/browser/node_modules/playwright-core/package.json");
}

class dashboard_browser : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!gate_.require(gateway_stack::available(), "PostgreSQL 15 and Redis 7")) return;
        if (!gate_.require(browser_tools_available(),
                           "node, chromium (apt-get install chromium) and playwright-core "
                           "(npm ci in tests/browser)")) {
            return;
        }
        stack_ = std::make_unique<gateway_stack>();
        stack_->start();
    }
    static void TearDownTestSuite() { stack_.reset(); }
    void SetUp() override { PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_); }

    static inline service_gate gate_;
    static inline std::unique_ptr<gateway_stack> stack_;
};

TEST_F(dashboard_browser, shows_posted_events_as_text_and_reconnects_with_the_stored_key) {
    temp_dir logs("dashboard-browser");
    const auto log = logs.path() / "node.log";
    spawn_options options;
    options.argv = {node_binary().string(),
                    (source_dir() / "tests/browser/dashboard.test.mjs").string(),
                    std::to_string(stack_->port()), std::string(dev_api_key)};
    options.log_file = log;
    options.working_dir = source_dir() / "tests/browser";
    options.env.emplace_back("CHROMIUM", chromium_binary().string());
    options.env.emplace_back("HOME", logs.path().string());  // chromium's crash and cache dirs
    auto child = child_process::spawn(options);
    const auto status = child.wait_exit(120s);
    ASSERT_TRUE(status.has_value()) << "the browser test did not finish within 120 s\n"
                                    << tail_of_file(log, 40);
    EXPECT_TRUE(status->exited() && status->exit_code() == 0) << status->describe() << "\n"
                                                              << tail_of_file(log, 40);
    std::cout << tail_of_file(log, 40) << "\n";  // the checks that ran, for the CI log
}

}  // namespace
