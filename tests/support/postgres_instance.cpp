#include "support/postgres_instance.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>

#include "support/ports.hpp"
#include "support/wait.hpp"

namespace pulsestream::test_support {

namespace {

using namespace std::chrono_literals;

constexpr const char* system_user = "postgres";
constexpr int port_attempts = 5;

std::filesystem::path bindir() {
    const char* env = std::getenv("PULSESTREAM_PG_BINDIR");
    return env != nullptr && *env != '\0' ? std::filesystem::path(env)
                                          : std::filesystem::path("/usr/lib/postgresql/15/bin");
}

bool executable(const std::filesystem::path& path) { return ::access(path.c_str(), X_OK) == 0; }

bool user_exists(const char* name) {
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    return ::getpwnam_r(name, &entry, buffer.data(), buffer.size(), &found) == 0 &&
           found != nullptr;
}

std::pair<uid_t, gid_t> ids_of(const char* name) {
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwnam_r(name, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
        throw std::runtime_error(std::string("postgres_instance: no system user ") + name);
    }
    return {entry.pw_uid, entry.pw_gid};
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("postgres_instance: cannot read " + path.string());
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool log_says_port_taken(const std::filesystem::path& log) {
    return tail_of_file(log, 50).find("Address already in use") != std::string::npos;
}

}  // namespace

bool postgres_instance::available() {
    return executable(bindir() / "initdb") && executable(bindir() / "postgres") &&
           (::geteuid() != 0 || user_exists(system_user));
}

std::filesystem::path postgres_instance::schema_path() {
    return std::filesystem::path(PULSESTREAM_SOURCE_DIR) / "schema.sql";
}

void postgres_instance::apply_schema(const std::string& url) {
    const std::string sql = read_file(schema_path());
    pqxx::connection connection(url);
    // schema.sql carries its own BEGIN/COMMIT; its "already exists, skipping" notices are noise.
    pqxx::nontransaction session(connection);
    session.exec("SET client_min_messages TO warning");
    session.exec(sql);
}

postgres_instance::postgres_instance(postgres_options options) : options_(std::move(options)) {
    if (::geteuid() == 0) {
        run_as_ = system_user;
    }
}

postgres_instance::~postgres_instance() { stop(); }

void postgres_instance::start() {
    if (dir_) {
        throw std::logic_error("postgres_instance::start called twice; use start_again");
    }
    dir_.emplace("pulsestream-pg-");
    if (!run_as_.empty()) {
        const auto [uid, gid] = ids_of(run_as_.c_str());
        dir_->chown_to(uid, gid);
    }
    init_data_dir();
    for (int attempt = 1;; ++attempt) {
        port_ = free_tcp_port();
        launch();
        if (wait_ready()) {
            break;
        }
        // Another process may have taken the port between free_tcp_port() and bind().
        if (running() || !log_says_port_taken(log_path()) || attempt == port_attempts) {
            fail("server did not become ready");
        }
    }
    if (!options_.database.empty()) {
        create_database(options_.database, options_.apply_schema);
    }
}

void postgres_instance::init_data_dir() {
    const auto log = dir_->path() / "initdb.log";
    spawn_options initdb;
    initdb.argv = {(bindir() / "initdb").string(),
                   "-D",
                   data_dir().string(),
                   "-A",
                   "trust",
                   "-U",
                   "postgres",
                   "-E",
                   "UTF8",
                   "--locale=C",
                   "--no-sync"};
    initdb.run_as_user = run_as_;
    initdb.log_file = log;
    auto process = child_process::spawn(initdb);
    const auto status = process.wait_exit(options_.start_deadline);
    if (!status || !status->exited() || status->exit_code() != 0) {
        throw std::runtime_error("postgres_instance: initdb failed (" +
                                 (status ? status->describe() : std::string("timed out")) + "); " +
                                 log.string() + ":\n" + tail_of_file(log));
    }
}

void postgres_instance::launch() {
    spawn_options server;
    server.argv = {(bindir() / "postgres").string(),
                   "-D",
                   data_dir().string(),
                   "-p",
                   std::to_string(port_),
                   "-c",
                   "listen_addresses=127.0.0.1",
                   "-c",
                   "unix_socket_directories=" + dir_->path().string()};
    if (!options_.durable) {
        for (const char* setting :
             {"fsync=off", "synchronous_commit=off", "full_page_writes=off"}) {
            server.argv.insert(server.argv.end(), {"-c", setting});
        }
    }
    server.run_as_user = run_as_;
    server.log_file = log_path();
    // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its backends down with it.
    server.death_signal = SIGQUIT;
    server_ = child_process::spawn(server);
}

bool postgres_instance::wait_ready() {
    const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port_) +
                                 " user=postgres dbname=postgres connect_timeout=2";
    bool ready = false;
    wait_until(
        [&] {
            if (!server_.running()) {
                return true;  // stop waiting: it died
            }
            try {
                pqxx::connection probe(conninfo);
                ready = true;
            } catch (const std::exception&) {
                // Not listening yet, or "the database system is starting up".
            }
            return ready;
        },
        options_.start_deadline, 20ms);
    return ready;
}

void postgres_instance::stop() {
    // SIGINT is PostgreSQL's fast shutdown: roll back sessions, checkpoint, exit.
    server_.stop(SIGINT, 30s);
}

void postgres_instance::start_again() {
    if (!dir_) {
        throw std::logic_error("postgres_instance::start_again before start");
    }
    if (running()) {
        return;
    }
    launch();
    if (!wait_ready()) {
        fail("server did not become ready again on port " + std::to_string(port_));
    }
}

bool postgres_instance::running() { return server_.running(); }

std::string postgres_instance::url() const { return url(options_.database); }

std::string postgres_instance::url(std::string_view database) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + std::string(database);
}

std::filesystem::path postgres_instance::data_dir() const {
    return dir_ ? dir_->path() / "data" : std::filesystem::path();
}

std::filesystem::path postgres_instance::log_path() const {
    return dir_ ? dir_->path() / "postgres.log" : std::filesystem::path();
}

std::string postgres_instance::create_database(std::string_view name, bool with_schema) {
    {
        pqxx::connection connection(url("postgres"));
        pqxx::nontransaction session(connection);
        const std::string quoted = session.quote(std::string(name));
        if (session.exec("SELECT 1 FROM pg_database WHERE datname = " + quoted).empty()) {
            session.exec("CREATE DATABASE " + session.quote_name(std::string(name)));
        }
    }
    const std::string database_url = url(name);
    if (with_schema) {
        apply_schema(database_url);
    }
    return database_url;
}

void postgres_instance::fail(const std::string& what) {
    const auto status = server_.status();
    const std::string log = tail_of_file(log_path());
    stop();
    throw std::runtime_error("postgres_instance: " + what + " (port " + std::to_string(port_) +
                             (status ? ", " + status->describe() : std::string()) + "); " +
                             log_path().string() + ":\n" + log);
}

namespace {

/// `parent` and the processes whose parent it is.
std::vector<pid_t> process_and_children(pid_t parent) {
    std::vector<pid_t> pids{parent};
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        // pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'.
        std::istringstream rest(line.substr(line.rfind(')') + 1));
        std::string state;
        pid_t ppid = 0;
        if (rest >> state >> ppid && ppid == parent) pids.push_back(std::stoi(name));
    }
    return pids;
}

}  // namespace

void postgres_instance::freeze() {
    for (const pid_t pid : process_and_children(pid())) ::kill(pid, SIGSTOP);
}

void postgres_instance::thaw() {
    for (const pid_t pid : process_and_children(pid())) ::kill(pid, SIGCONT);
}

}  // namespace pulsestream::test_support
