// What the deployment files rely on, checked on the real programs: every metric the Grafana
// dashboard and the Prometheus alerts query is in the live /metrics of an in-process gateway or
// consumer (real PostgreSQL, Redis, mock Kafka) after some traffic; every shared library the
// built binaries load comes with the Docker runtime image's packages; and the Dockerfile's build
// stage configures on exactly the sources it copies (tools/check-deploy --ldd, --configure).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "pulsestream/consumer/app.hpp"
#include "support/check_deploy.hpp"
#include "support/gateway_stack.hpp"
#include "support/ingest_requests.hpp"
#include "support/prometheus_sample.hpp"
#include "support/services.hpp"
#include "support/wait.hpp"

namespace {

using namespace pulsestream::test_support;
using namespace std::chrono_literals;
using nlohmann::json;

/// Sample names of a Prometheus text exposition ("name{labels} value" or "name value").
std::set<std::string> sample_names(const std::string& exposition) {
    std::set<std::string> names;
    std::istringstream lines(exposition);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line.front() == '#') continue;
        names.insert(line.substr(0, line.find_first_of("{ ")));
    }
    return names;
}

std::string get_metrics(std::uint16_t port) {
    http_client client(port);
    const auto res = client.send(make_request(boost::beast::http::verb::get, "/metrics"));
    EXPECT_EQ(res.result_int(), 200);
    return res.body();
}

class deploy_metrics : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!gate_.require(gateway_stack::available(), "PostgreSQL 15 and Redis 7")) return;
        stack_ = std::make_unique<gateway_stack>();
        stack_->start();
        pulsestream::core::consumer_config c;
        c.shared = stack_->config().shared;
        c.host = "127.0.0.1";
        c.consumer_port = 0;
        c.batch_max_wait_ms = 200;
        c.session_timeout_ms = 3000;  // the mock cluster waits session - 1 s for members to join
        pulsestream::consumer::app_options options;
        options.consumer_id = "deploy-metrics";
        consumer_ = std::make_unique<pulsestream::consumer::app>(c, options);
        consumer_->start();
    }
    static void TearDownTestSuite() {
        if (consumer_) consumer_->shutdown(10s);
        consumer_.reset();
        stack_.reset();
    }
    void SetUp() override { PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_); }

    static inline service_gate gate_;
    static inline std::unique_ptr<gateway_stack> stack_;
    static inline std::unique_ptr<pulsestream::consumer::app> consumer_;
};

TEST_F(deploy_metrics, every_metric_the_dashboard_and_alerts_query_is_in_a_live_metrics_page) {
    const auto listed = check_deploy("--list-metrics");
    ASSERT_EQ(listed.exit_code, 0) << listed.output;
    const auto queried = json::parse(listed.output);
    ASSERT_GE(queried.size(), 10U) << listed.output;

    // Traffic that creates the labelled series: an accepted event, refusals by code.
    {
        http_client client(stack_->port());
        EXPECT_EQ(client.send(ingest_request(event_json(fresh_uuid()), fresh_uuid())).result_int(),
                  202);
    }
    {
        http_client client(stack_->port());
        EXPECT_EQ(
            client.send(ingest_request(event_json(fresh_uuid()), fresh_uuid(), "")).result_int(),
            401);
    }
    // The consumer has joined, stored the event and measured its lag.
    std::string consumer_page;
    const bool stored = wait_until(
        [&] {
            consumer_page = get_metrics(consumer_->port());
            const double rows =
                prometheus_sample(consumer_page, "pulsestream_consumer_rows_inserted_total");
            return rows >= 1 &&
                   consumer_page.find("pulsestream_consumer_lag{") != std::string::npos;
        },
        60s, 100ms);
    ASSERT_TRUE(stored) << "the consumer did not store the event:\n" << consumer_page;

    auto exported = sample_names(get_metrics(stack_->port()));
    const auto from_consumer = sample_names(consumer_page);
    exported.insert(from_consumer.begin(), from_consumer.end());
    for (const auto& name : queried) {
        EXPECT_TRUE(exported.count(name.get<std::string>()) == 1)
            << name
            << " is queried by deploy/grafana or prometheus/alerts.yml but is not in the "
               "live /metrics of the gateway or the consumer";
    }
}

TEST_F(deploy_metrics, the_runtime_image_packages_cover_every_library_the_built_binaries_load) {
    // The image links optimised binaries; a Debug tree (the debug, asan and tsan presets) also
    // loads what an optimised link drops (libboost_system) and its sanitizer's runtime.
    if (std::string_view(PULSESTREAM_BUILD_TYPE) == "Debug") {
        GTEST_SKIP() << "the image builds Release; this tree is a Debug build";
    }
    const auto result = check_deploy(std::string("--ldd '") + PULSESTREAM_BINARY_DIR + "'");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("pulsestream-gateway: every shared library"), std::string::npos)
        << result.output;
}

TEST_F(deploy_metrics, the_image_build_stage_configures_on_the_sources_it_copies) {
    const auto result = check_deploy("--configure");
    EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
