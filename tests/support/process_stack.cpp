#include "support/process_stack.hpp"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <istream>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>

#include "pulsestream/core/sha256.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/wait.hpp"

namespace pulsestream::test_support {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

fs::path binary(const char* relative) { return fs::path(PULSESTREAM_BINARY_DIR) / relative; }

// `extra` entries replace same-named entries of `base`, so overrides never depend on the
// order in which the child applies duplicates.
env_vars merged(env_vars base, const env_vars& extra) {
    for (const auto& [name, value] : extra) {
        bool replaced = false;
        for (auto& entry : base) {
            if (entry.first == name) {
                entry.second = value;
                replaced = true;
            }
        }
        if (!replaced) {
            base.emplace_back(name, value);
        }
    }
    return base;
}

// Status of GET `target`, 0 when nothing answers within two seconds.
unsigned http_status(std::uint16_t port, const std::string& target, std::string* body = nullptr) {
    try {
        http_client client(port, std::chrono::seconds(2));
        auto response = client.send(make_request(boost::beast::http::verb::get, target));
        if (body != nullptr) {
            *body = response.body();
        }
        return response.result_int();
    } catch (const std::exception&) {
        return 0;
    }
}

nlohmann::json read_json(const fs::path& path) {
    std::ifstream in(path);
    if (!in) {
        return nullptr;
    }
    return nlohmann::json::parse(in, nullptr, false);
}

std::uint64_t counter(const nlohmann::json& progress, const char* name) {
    if (!progress.is_object() || !progress.contains(name) || !progress[name].is_number()) {
        return 0;
    }
    return progress[name].get<std::uint64_t>();
}

}  // namespace

// --- binaries -----------------------------------------------------------------------------

fs::path binaries::gateway() { return binary("src/gateway/pulsestream-gateway"); }
fs::path binaries::consumer() { return binary("src/consumer/pulsestream-consumer"); }
fs::path binaries::devbroker() { return binary("tools/devbroker/pulsestream-devbroker"); }
fs::path binaries::simulator() { return binary("tools/simulator/pulsestream-simulator"); }

std::string binaries::missing() {
    std::string text;
    for (const auto& path : {gateway(), consumer(), devbroker(), simulator()}) {
        if (!fs::exists(path)) {
            text += (text.empty() ? "" : ", ") + path.string();
        }
    }
    return text.empty() ? text : "missing (build them first): " + text;
}

// --- simulator_process ----------------------------------------------------------------------

nlohmann::json simulator_process::progress() const { return read_json(progress_); }

std::uint64_t simulator_process::accepted() const { return counter(progress(), "events_accepted"); }

bool simulator_process::wait_accepted(std::uint64_t count, std::chrono::milliseconds deadline) {
    return wait_until([&] { return accepted() >= count || !process_.running(); }, deadline, 50ms) &&
           accepted() >= count;
}

bool simulator_process::wait_attempts(const std::string& status, std::uint64_t count,
                                      std::chrono::milliseconds deadline) {
    const auto attempts = [&] {
        const auto p = progress();
        if (!p.is_object() || !p.contains("attempts_by_status")) {
            return std::uint64_t{0};
        }
        return counter(p["attempts_by_status"], status.c_str());
    };
    return wait_until([&] { return attempts() >= count || !process_.running(); }, deadline, 50ms) &&
           attempts() >= count;
}

void simulator_process::interrupt() { process_.signal(SIGINT); }

nlohmann::json simulator_process::finish(std::chrono::milliseconds deadline) {
    if (!process_.wait_exit(deadline)) {
        process_.stop(SIGKILL, 5s);
    }
    return read_json(report_);
}

std::string simulator_process::output() const { return tail_of_file(log_, 80); }

// --- process_stack ---------------------------------------------------------------------------

process_stack::process_stack(process_stack_options options) : options_(std::move(options)) {
    dir_.emplace("pulsestream-e2e-");
    for (int i = 0; i < options_.gateways; ++i) {
        gateways_.push_back(service{"gateway" + std::to_string(i), 0, {}, {}});
    }
    for (int i = 0; i < options_.consumers; ++i) {
        consumers_.push_back(service{"consumer" + std::to_string(i), 0, {}, {}});
    }
}

process_stack::~process_stack() {
    // Drain everything at once, then reap: the daemons stop in parallel.
    for (auto& s : gateways_) {
        s.process.signal(SIGTERM);
    }
    for (auto& s : consumers_) {
        s.process.signal(SIGTERM);
    }
    for (auto& s : gateways_) {
        s.process.stop(SIGTERM, 15s);
    }
    for (auto& s : consumers_) {
        s.process.stop(SIGTERM, 15s);
    }
    devbroker_.process.stop(SIGTERM, 10s);
}

void process_stack::fail(const std::string& what) const {
    throw std::runtime_error(what + "\n" + logs());
}

std::string process_stack::logs() const {
    std::string text;
    const auto add = [&](const service& s) {
        if (!s.log.empty()) {
            text += "---- " + s.name + " (" + s.log.string() + ")\n" + tail_of_file(s.log, 15);
        }
    };
    add(devbroker_);
    for (const auto& s : consumers_) {
        add(s);
    }
    for (const auto& s : gateways_) {
        add(s);
    }
    return text;
}

void process_stack::start() {
    if (const auto missing = binaries::missing(); !missing.empty()) {
        fail(missing);
    }
    postgres_.start();
    redis_.start();
    start_devbroker();
    for (std::size_t i = 0; i < consumers_.size(); ++i) {
        start_consumer(i, false);
    }
    for (std::size_t i = 0; i < gateways_.size(); ++i) {
        start_gateway(i);
    }
    for (auto& c : consumers_) {
        wait_ready(c, "consumer");
    }
}

void process_stack::start_devbroker() {
    devbroker_.name = "devbroker";
    devbroker_.log = dir() / "devbroker.log";
    const auto bootstrap_file = dir() / "bootstrap";
    for (int attempt = 0; attempt < 3; ++attempt) {
        devbroker_.port = free_tcp_port();
        spawn_options spawn;
        spawn.argv = {binaries::devbroker().string(),
                      "--brokers",
                      std::to_string(options_.brokers),
                      "--partitions",
                      std::to_string(options_.partitions),
                      "--bootstrap-file",
                      bootstrap_file.string(),
                      "--control-port",
                      std::to_string(devbroker_.port)};
        spawn.log_file = devbroker_.log;
        devbroker_.process = child_process::spawn(spawn);
        if (wait_until([&] { return fs::exists(bootstrap_file) || !devbroker_.process.running(); },
                       options_.start_deadline) &&
            fs::exists(bootstrap_file)) {
            std::ifstream in(bootstrap_file);
            std::getline(in, bootstrap_);
            return;
        }
        devbroker_.process.stop(SIGKILL, 5s);  // e.g. the control port was taken meanwhile
    }
    fail("pulsestream-devbroker did not start");
}

std::string process_stack::gateway_url(std::size_t i) const {
    return "http://127.0.0.1:" + std::to_string(gateway_port(i));
}

void process_stack::launch_gateway(service& gw) {
    spawn_options spawn;
    spawn.argv = {binaries::gateway().string()};
    spawn.log_file = gw.log;
    spawn.env = merged({{"HOST", "127.0.0.1"},
                        {"PORT", std::to_string(gw.port)},
                        {"DATABASE_URL", postgres_.url()},
                        {"REDIS_URL", redis_.url()},
                        {"KAFKA_BROKERS", bootstrap_},
                        {"GATEWAY_THREADS", "2"},
                        {"PRODUCE_TIMEOUT_MS", "3000"},
                        {"LOG_LEVEL", options_.log_level},
                        {"LOG_FORMAT", "text"}},
                       options_.gateway_env);
    gw.process = child_process::spawn(spawn);
}

void process_stack::launch_consumer(service& c) {
    spawn_options spawn;
    spawn.argv = {binaries::consumer().string()};
    spawn.log_file = c.log;
    spawn.env =
        merged({{"HOST", "127.0.0.1"},
                {"CONSUMER_PORT", std::to_string(c.port)},
                {"DATABASE_URL", postgres_.url()},
                {"KAFKA_BROKERS", bootstrap_},
                {"KAFKA_SESSION_TIMEOUT_MS", std::to_string(options_.session_timeout.count())},
                {"BATCH_MAX_WAIT_MS", "100"},
                {"LOG_LEVEL", options_.log_level},
                {"LOG_FORMAT", "text"}},
               options_.consumer_env);
    c.process = child_process::spawn(spawn);
}

void process_stack::wait_ready(service& s, const char* what) {
    const bool ready =
        wait_until([&] { return !s.process.running() || http_status(s.port, "/readyz") == 200; },
                   options_.start_deadline, 50ms);
    if (!s.process.running()) {
        fail(std::string(what) + " " + s.name +
             " exited: " + (s.process.status() ? s.process.status()->describe() : "?"));
    }
    if (!ready) {
        fail(std::string(what) + " " + s.name + " on port " + std::to_string(s.port) +
             " not ready within the deadline");
    }
}

void process_stack::start_gateway(std::size_t i) {
    auto& gw = gateways_.at(i);
    gw.log = dir() / (gw.name + ".log");
    const bool first = gw.port == 0;
    for (int attempt = 0;; ++attempt) {
        if (first) {
            gw.port = free_tcp_port();
        }
        launch_gateway(gw);
        // A port taken between free_tcp_port() and bind: the gateway exits; try another.
        const bool up = wait_until(
            [&] { return !gw.process.running() || http_status(gw.port, "/readyz") == 200; },
            options_.start_deadline, 50ms);
        if (up && gw.process.running()) {
            return;
        }
        if (!first || attempt == 2 || gw.process.running()) {
            wait_ready(gw, "gateway");  // throws with the reason
            return;
        }
    }
}

std::optional<exit_status> process_stack::stop_gateway(std::size_t i, int sig,
                                                       std::chrono::milliseconds grace) {
    return gateways_.at(i).process.stop(sig, grace);
}

void process_stack::start_consumer(std::size_t i, bool wait) {
    auto& c = consumers_.at(i);
    c.log = dir() / (c.name + ".log");
    if (c.port == 0) {
        c.port = free_tcp_port();
    }
    launch_consumer(c);
    if (wait) {
        wait_ready(c, "consumer");
    }
}

std::optional<exit_status> process_stack::stop_consumer(std::size_t i, int sig,
                                                        std::chrono::milliseconds grace) {
    return consumers_.at(i).process.stop(sig, grace);
}

std::optional<double> process_stack::consumer_metric(std::size_t i, const std::string& name) const {
    std::string body;
    if (http_status(consumers_.at(i).port, "/metrics", &body) != 200) {
        return std::nullopt;
    }
    std::istringstream lines(body);
    std::string line;
    std::optional<double> sum;
    while (std::getline(lines, line)) {
        if (line.starts_with(name) && line.size() > name.size() &&
            (line[name.size()] == ' ' || line[name.size()] == '{')) {
            sum = sum.value_or(0) + std::stod(line.substr(line.rfind(' ') + 1));
        }
    }
    return sum;
}

std::string process_stack::broker_control(const std::string& line) {
    namespace net = boost::asio;
    net::io_context ioc;
    net::ip::tcp::socket socket(ioc);
    boost::system::error_code ec;
    socket.connect({net::ip::make_address("127.0.0.1"), devbroker_.port}, ec);
    if (ec) {
        fail("devbroker control port: " + ec.message());
    }
    // The mock applies some commands on its 1 s tick: allow a few of them.
    timeval tv{10, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    net::write(socket, net::buffer(line + "\n"), ec);
    net::streambuf reply;
    if (!ec) {
        net::read_until(socket, reply, '\n', ec);
    }
    if (ec) {
        fail("devbroker control '" + line + "': " + ec.message());
    }
    std::istream in(&reply);
    std::string text;
    std::getline(in, text);
    return text;
}

std::int64_t process_stack::event_rows() const {
    try {
        pqxx::connection conn(postgres_.url());
        pqxx::nontransaction tx(conn);
        return tx.exec1("SELECT count(*) FROM events")[0].as<std::int64_t>();
    } catch (const std::exception&) {
        return -1;
    }
}

std::string process_stack::create_client(const std::string& name, const std::string& api_key) {
    pqxx::connection conn(postgres_.url());
    pqxx::work tx(conn);
    const auto row = tx.exec_params1(
        "INSERT INTO clients (name, api_key_hash, api_key_prefix) VALUES ($1, $2, $3) "
        "RETURNING id::text",
        name, core::api_key_hash(api_key), api_key.substr(0, 8));
    tx.commit();
    return row[0].as<std::string>();
}

std::vector<std::string> process_stack::simulator_target_args() const {
    std::vector<std::string> args;
    for (std::size_t i = 0; i < gateways_.size(); ++i) {
        args.push_back("--gateway");
        args.push_back(gateway_url(i));
    }
    args.push_back("--database-url");
    args.push_back(postgres_.url());
    return args;
}

simulator_process process_stack::spawn_simulator(const std::vector<std::string>& args) {
    const std::string name = "simulator" + std::to_string(simulators_++);
    simulator_process sim;
    sim.report_ = dir() / (name + ".json");
    sim.progress_ = dir() / (name + ".progress.json");
    sim.log_ = dir() / (name + ".log");
    spawn_options spawn;
    spawn.argv = {binaries::simulator().string()};
    spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
    spawn.argv.insert(spawn.argv.end(), {"--json-file", sim.report_.string(), "--progress-file",
                                         sim.progress_.string()});
    spawn.log_file = sim.log_;
    sim.process_ = child_process::spawn(spawn);
    return sim;
}

nlohmann::json process_stack::run_simulator(const std::vector<std::string>& args,
                                            std::chrono::milliseconds deadline,
                                            simulator_process* process) {
    auto sim = spawn_simulator(args);
    auto report = sim.finish(deadline);
    if (process != nullptr) {
        *process = std::move(sim);
    }
    return report;
}

std::string every_202_is_one_row(const process_stack& stack, const nlohmann::json& report,
                                 std::int64_t other_rows) {
    if (!report.is_object() || report.value("mode", "") != "load") {
        return "no load report";
    }
    std::string problems;
    const auto problem = [&](const std::string& text) {
        problems += (problems.empty() ? "" : "; ") + text;
    };
    const auto& requests = report["requests"];
    const auto& events = report["events"];
    const auto& storage = report["storage"];
    if (requests.value("failed", -1) != 0) {
        problem(std::to_string(requests.value("failed", -1)) + " request(s) never got a 202");
    }
    if (events.value("unresolved", -1) != 0) {
        problem(std::to_string(events.value("unresolved", -1)) + " event(s) unresolved");
    }
    if (report.value("id_mismatches", -1) != 0) {
        problem("202s with unexpected ids");
    }
    if (!storage.is_object()) {
        problem("no storage check in the report");
    } else if (!storage.value("exact", false)) {
        problem("storage: " + storage.dump());
    }
    const auto unique = events.value("unique_accepted", std::int64_t{-1});
    const auto rows = stack.event_rows();
    if (rows != unique + other_rows) {
        problem("events holds " + std::to_string(rows) + " rows, expected " +
                std::to_string(unique) + " accepted + " + std::to_string(other_rows) + " other");
    }
    if (!report.value("ok", false) && problems.empty()) {
        problem("the simulator reported failure");
    }
    if (unique <= 0) {
        problem("nothing was accepted");
    }
    return problems.empty() ? problems : problems + "\nreport: " + report.dump();
}

}  // namespace pulsestream::test_support
