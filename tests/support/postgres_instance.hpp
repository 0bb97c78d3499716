#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace pulsestream::test_support {

/// How a postgres_instance is set up.
struct postgres_options {
    /// false (tests): fsync, synchronous_commit and full_page_writes off, for speed.
    /// true (benchmarks): PostgreSQL's durable defaults.
    bool durable = false;
    /// Database created at start().
    std::string database = "pulsestream";
    /// Apply schema.sql to `database` at start().
    bool apply_schema = true;
    /// Deadline for initdb, and for the server to accept connections after each (re)start.
    std::chrono::milliseconds start_deadline = std::chrono::seconds(60);
};

/// A private, throw-away PostgreSQL 15 server: its own data directory in a temp dir, listening
/// on 127.0.0.1 only, on a free port, trust authentication for the superuser `postgres`.
///
/// Binaries come from /usr/lib/postgresql/15/bin (or $PULSESTREAM_PG_BINDIR). PostgreSQL refuses
/// to run as root, so as root initdb and postgres run as the `postgres` system user. The server is
/// a child_process: it never outlives the test binary (see child_process). start() takes about a
/// second. The destructor stops the server and deletes the data.
///
/// Thread-safety: one thread drives an instance; url()/port() may be read from any thread once
/// start() has returned. Not copyable, not movable.
class postgres_instance {
public:
    /// True when initdb and postgres are installed (and, as root, the `postgres` user exists).
    static bool available();
    /// The repository's schema.sql (PULSESTREAM_SOURCE_DIR "/schema.sql").
    static std::filesystem::path schema_path();
    /// Applies schema.sql to the database at `url` (a session of its own; NOTICEs silenced).
    static void apply_schema(const std::string& url);

    explicit postgres_instance(postgres_options options = {});
    postgres_instance(const postgres_instance&) = delete;
    postgres_instance& operator=(const postgres_instance&) = delete;
    /// Stops the server, removes the temp dir.
    ~postgres_instance();

    /// initdb, start the server, wait until it accepts connections, create the database and
    /// apply schema.sql. Throws std::runtime_error (quoting the server log) on failure or
    /// when the deadline passes. Call once.
    void start();
    /// Fast shutdown (SIGINT), waits up to 30 s, then SIGKILL. Connections drop. Idempotent.
    void stop();
    /// Starts the server again on the same data directory and the same port (outage tests):
    /// existing data is kept, URLs stay valid. Throws like start().
    void start_again();
    /// True while the server process runs.
    [[nodiscard]] bool running();
    /// SIGSTOP to the postmaster and every backend: PostgreSQL hangs as on a dead host (TCP
    /// connects still succeed, nothing answers, open connections block). Each backend is a
    /// process group of its own, so signalling the postmaster's group would miss them.
    void freeze();
    /// SIGCONT to the same processes.
    void thaw();

    /// "postgresql://postgres@127.0.0.1:PORT/<database>".
    [[nodiscard]] std::string url() const;
    /// The same for another database of this server (e.g. "postgres").
    [[nodiscard]] std::string url(std::string_view database) const;
    [[nodiscard]] std::uint16_t port() const { return port_; }
    /// Pid of the server (postmaster) last started; -1 before start().
    [[nodiscard]] pid_t pid() const { return server_.pid(); }
    [[nodiscard]] std::filesystem::path data_dir() const;
    [[nodiscard]] std::filesystem::path log_path() const;

    /// Creates database `name` (if missing) and, when asked, applies schema.sql to it: a clean
    /// database for a test that must not see others' rows. Returns its URL.
    std::string create_database(std::string_view name, bool with_schema = true);

private:
    void init_data_dir();
    void launch();
    [[nodiscard]] bool wait_ready();
    [[noreturn]] void fail(const std::string& what);

    postgres_options options_;
    std::string run_as_;
    std::optional<temp_dir> dir_;
    std::uint16_t port_ = 0;
    child_process server_;
};

}  // namespace pulsestream::test_support
