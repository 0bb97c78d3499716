// The deployment files agree with the code (tools/check-deploy): compose files, Dockerfile,
// Prometheus, Grafana and nginx are checked statically; every PulseStream service's environment
// is fed to the real configuration loaders; and a planted mistake makes the check fail.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "pulsestream/core/config.hpp"
#include "support/check_deploy.hpp"
#include "support/source_dir.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using pulsestream::test_support::check_deploy;
using pulsestream::test_support::source_dir;

pulsestream::core::env_lookup lookup_of(const json& env) {
    std::map<std::string, std::string, std::less<>> vars;
    for (const auto& [name, value] : env.items()) vars[name] = value.get<std::string>();
    return pulsestream::core::env_from_map(std::move(vars));
}

std::string joined(const pulsestream::core::config_errors& errors) {
    std::string out;
    for (const auto& m : errors.messages) out += "\n  " + m;
    return out;
}

TEST(deploy_check, the_deployment_files_pass_the_static_checks) {
    const auto result = check_deploy("--static");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find(" passed, 0 failed"), std::string::npos) << result.output;
}

TEST(deploy_check, every_compose_service_environment_is_a_valid_configuration) {
    const auto result = check_deploy("--env-json");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto files = json::parse(result.output);
    int gateways = 0;
    int consumers = 0;
    for (const auto& [file, services] : files.items()) {
        for (const auto& [name, service] : services.items()) {
            const auto where = file + " " + name;
            if (service["role"] == "gateway") {
                ++gateways;
                const auto config =
                    pulsestream::core::load_gateway_config(lookup_of(service["env"]));
                ASSERT_TRUE(config.has_value()) << where << joined(config.error());
                EXPECT_EQ(config->port, 3000) << where;
                EXPECT_EQ(config->host, "0.0.0.0") << where;
                EXPECT_EQ(config->shared.kafka_topic, "metrics.raw") << where;
            } else if (service["role"] == "consumer") {
                ++consumers;
                const auto config =
                    pulsestream::core::load_consumer_config(lookup_of(service["env"]));
                ASSERT_TRUE(config.has_value()) << where << joined(config.error());
                EXPECT_EQ(config->consumer_port, 3001) << where;
                EXPECT_EQ(config->group_id, "pulsestream-metrics-group") << where;
            }
        }
    }
    EXPECT_EQ(gateways, 3);  // one in docker-compose.yml, two in docker-compose.scale.yml
    EXPECT_EQ(consumers, 3);
}

/// Runs the static check on a copy of the deployment files in which `file` has `anchor`
/// replaced by `replacement`: a planted mistake the check must catch.
pulsestream::test_support::run_result check_with_mistake(const std::string& file,
                                                         const std::string& anchor,
                                                         const std::string& replacement) {
    std::mt19937_64 gen{std::random_device{}()};
    const fs::path copy =
        fs::temp_directory_path() / ("pulsestream-deploy-check-" + std::to_string(gen()));
    fs::create_directories(copy);
    const auto root = source_dir();
    for (const char* item : {"docker-compose.yml", "docker-compose.scale.yml", "Dockerfile",
                             ".dockerignore", "schema.sql", "CMakeLists.txt", "CMakePresets.json",
                             "cmake", "include", "src", "tools", "deploy", "prometheus", "docs"}) {
        if (fs::exists(root / item)) {
            fs::copy(root / item, copy / item, fs::copy_options::recursive);
        }
    }
    std::ifstream in(copy / file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = text.find(anchor);
    if (at == std::string::npos) {
        fs::remove_all(copy);
        ADD_FAILURE() << file << " no longer holds: " << anchor;
        return {};
    }
    text.replace(at, anchor.size(), replacement);
    std::ofstream(copy / file, std::ios::trunc) << text;
    auto result = check_deploy("--static --root '" + copy.string() + "'");
    fs::remove_all(copy);
    return result;
}

TEST(deploy_check, a_variable_no_binary_reads_fails_the_check) {
    // The last service-level environment entry of the consumer gains a variable nobody reads.
    const std::string anchor = "      RETENTION_DAYS: \"14\"\n";
    const auto result =
        check_with_mistake("docker-compose.yml", anchor, anchor + "      RETENTION_DAYZ: \"7\"\n");
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_NE(result.output.find("not read by pulsestream-consumer: RETENTION_DAYZ"),
              std::string::npos)
        << result.output;
}

TEST(deploy_check, nginx_keeping_upstream_connections_as_long_as_the_gateways_fails_the_check) {
    // nginx's own default (60 s) equals the gateways' idle timeout: the race the check names.
    const auto result = check_with_mistake("deploy/nginx/nginx.conf", "keepalive_timeout 50s;", "");
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_NE(result.output.find("upstream keepalive_timeout 60000 ms is not below gateway-1's "
                                 "HTTP_IDLE_TIMEOUT_MS 60000"),
              std::string::npos)
        << result.output;
}

}  // namespace
