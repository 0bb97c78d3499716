#pragma once

// The real PulseStream binaries as separate processes, for end-to-end tests: a private
// PostgreSQL and Redis, pulsestream-devbroker, N gateways and M consumers on free loopback
// ports, plus helpers to break and restore each of them and to run pulsestream-simulator.

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/child_process.hpp"
#include "support/postgres_instance.hpp"
#include "support/redis_instance.hpp"
#include "support/temp_dir.hpp"

namespace pulsestream::test_support {

using env_vars = std::vector<std::pair<std::string, std::string>>;

/// Where the binaries under test are (PULSESTREAM_BINARY_DIR of this build).
struct binaries {
    static std::filesystem::path gateway();
    static std::filesystem::path consumer();
    static std::filesystem::path devbroker();
    static std::filesystem::path simulator();
    /// Empty when all four exist, else a message naming the missing ones.
    static std::string missing();
};

/// What a process_stack runs.
struct process_stack_options {
    int gateways = 2;
    int consumers = 1;
    int brokers = 3;
    int partitions = 8;
    /// KAFKA_SESSION_TIMEOUT_MS of the consumers: the mock cluster's rebalances take this
    /// minus one second, and it must stay above ~3 s.
    std::chrono::milliseconds session_timeout{5000};
    /// Added to (or overriding) every gateway's / consumer's environment.
    env_vars gateway_env;
    env_vars consumer_env;
    std::string log_level = "info";
    /// Deadline for every start and readiness wait.
    std::chrono::milliseconds start_deadline{60000};
};

/// A running pulsestream-simulator (see process_stack::spawn_simulator).
class simulator_process {
public:
    /// The last progress the simulator wrote (load mode with a progress file), or null.
    [[nodiscard]] nlohmann::json progress() const;
    /// Waits until `events_accepted` in the progress file reaches `count`; false when the
    /// deadline passes or the simulator exits first.
    bool wait_accepted(std::uint64_t count, std::chrono::milliseconds deadline);
    /// Waits until the progress counts at least `count` attempts answered `status` ("503",
    /// "error", ...).
    bool wait_attempts(const std::string& status, std::uint64_t count,
                       std::chrono::milliseconds deadline);
    /// `events_accepted` now (0 before the first progress).
    [[nodiscard]] std::uint64_t accepted() const;

    /// SIGINT: load mode stops sending, finishes what is in flight, checks and reports.
    void interrupt();
    /// Waits for the exit and returns the JSON report (null if there is none); the exit
    /// status is in `status()`. Kills the simulator when the deadline passes.
    nlohmann::json finish(std::chrono::milliseconds deadline);
    [[nodiscard]] const std::optional<exit_status>& status() const { return process_.status(); }
    [[nodiscard]] bool running() { return process_.running(); }
    /// The simulator's text output (stdout and stderr).
    [[nodiscard]] std::string output() const;

private:
    friend class process_stack;
    child_process process_;
    std::filesystem::path report_;
    std::filesystem::path progress_;
    std::filesystem::path log_;
};

/// Starts and owns the whole pipeline as processes.
///
/// Every process is a child_process (it never outlives the test binary) logging into the
/// stack's temp dir (kept with PULSESTREAM_KEEP_TEST_DIRS=1). Ports are free ports chosen at
/// start; a restarted gateway or consumer gets its old port back, so URLs stay valid.
/// Gateways listen on 127.0.0.1 with PRODUCE_TIMEOUT_MS 3000 unless `gateway_env` says
/// otherwise; consumers use BATCH_MAX_WAIT_MS 100.
///
/// Errors: start functions throw std::runtime_error quoting the log of what failed.
/// Thread-safety: one test thread drives a stack. Not copyable or movable.
class process_stack {
public:
    explicit process_stack(process_stack_options options = {});
    ~process_stack();
    process_stack(const process_stack&) = delete;
    process_stack& operator=(const process_stack&) = delete;

    /// PostgreSQL, Redis, the devbroker, the consumers, the gateways; returns when every
    /// gateway and consumer answers /readyz with 200.
    void start();

    postgres_instance& postgres() { return postgres_; }
    redis_instance& redis() { return redis_; }
    [[nodiscard]] std::string database_url() const { return postgres_.url(); }
    [[nodiscard]] const std::string& bootstrap() const { return bootstrap_; }
    [[nodiscard]] const std::filesystem::path& dir() const { return dir_->path(); }

    [[nodiscard]] std::size_t gateways() const { return gateways_.size(); }
    [[nodiscard]] std::uint16_t gateway_port(std::size_t i) const { return gateways_.at(i).port; }
    [[nodiscard]] std::string gateway_url(std::size_t i) const;
    /// Starts gateway `i` (again) on its port and waits until it is ready.
    void start_gateway(std::size_t i);
    /// Sends `sig` and waits up to `grace` for the exit (then SIGKILL).
    std::optional<exit_status> stop_gateway(
        std::size_t i, int sig = SIGTERM,
        std::chrono::milliseconds grace = std::chrono::seconds(30));

    [[nodiscard]] std::size_t consumers() const { return consumers_.size(); }
    [[nodiscard]] std::uint16_t consumer_port(std::size_t i) const { return consumers_.at(i).port; }
    /// Starts consumer `i` (again); with `wait_ready`, waits until /readyz says 200.
    void start_consumer(std::size_t i, bool wait_ready = true);
    std::optional<exit_status> stop_consumer(
        std::size_t i, int sig = SIGTERM,
        std::chrono::milliseconds grace = std::chrono::seconds(30));
    /// Value of an unlabelled series of consumer `i`'s /metrics (nullopt if absent/unreachable).
    [[nodiscard]] std::optional<double> consumer_metric(std::size_t i,
                                                        const std::string& name) const;

    /// One line on the devbroker's control port (`down 2`, `up 2`, `status`); returns the
    /// reply line. Throws std::runtime_error when the devbroker cannot be reached.
    std::string broker_control(const std::string& line);

    /// Rows in `events` (all tenants); -1 when PostgreSQL cannot be asked.
    [[nodiscard]] std::int64_t event_rows() const;
    /// Creates a client with `api_key` (stored as its SHA-256) and returns the client id.
    std::string create_client(const std::string& name, const std::string& api_key);

    /// Arguments naming every gateway and the database: `--gateway URL ... --database-url URL`.
    [[nodiscard]] std::vector<std::string> simulator_target_args() const;
    /// Starts pulsestream-simulator with `args` plus `--json-file` and `--progress-file` in
    /// the stack's dir (not `simulator_target_args`: add them yourself).
    simulator_process spawn_simulator(const std::vector<std::string>& args);
    /// Runs the simulator to its end (deadline, then killed) and returns its report.
    nlohmann::json run_simulator(const std::vector<std::string>& args,
                                 std::chrono::milliseconds deadline,
                                 simulator_process* process = nullptr);

    /// The last lines of every log of the stack, for failure messages.
    [[nodiscard]] std::string logs() const;

private:
    struct service {
        std::string name;
        std::uint16_t port = 0;
        child_process process;
        std::filesystem::path log;
    };

    void start_devbroker();
    void launch_gateway(service& gw);
    void launch_consumer(service& c);
    void wait_ready(service& s, const char* what);
    [[noreturn]] void fail(const std::string& what) const;

    process_stack_options options_;
    std::optional<temp_dir> dir_;
    postgres_instance postgres_;
    redis_instance redis_;
    service devbroker_;
    std::string bootstrap_;
    std::vector<service> gateways_;
    std::vector<service> consumers_;
    int simulators_ = 0;
};

/// The e2e verdict on a load report (simulator `--json`) of `stack`: every request ended in
/// a 202, every accepted event is exactly one row, and the table holds nothing else (rows of
/// `events` = unique accepted events + `other_rows`). Empty when all holds, else what failed.
[[nodiscard]] std::string every_202_is_one_row(const process_stack& stack,
                                               const nlohmann::json& report,
                                               std::int64_t other_rows = 0);

}  // namespace pulsestream::test_support
