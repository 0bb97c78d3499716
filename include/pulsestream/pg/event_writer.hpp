#pragma once

/// @file
/// The consumer's batch writer into the partitioned `events` table (DESIGN.md §6, §7, §10).
///
/// One call writes one batch in ONE committed transaction, no per-row round trip:
/// - fast path: the rows are streamed with binary COPY straight into `events`, over a plain
///   libpq connection of the writer's own (libpqxx 6 has no binary COPY), BEGIN … COMMIT.
///   A COPY fails as a whole on the first duplicate key (a redelivered record) or refused row;
///   it is then rolled back and the batch takes the staging path. (Without duplicates this
///   writes each row once instead of twice and skips ON CONFLICT's speculative insertion:
///   measured with psql on the 2-core dev machine, 500,000 rows into an empty `events`:
///   4.4 s for COPY into `events` vs 1.2 s + 4.0 s for COPY into staging + INSERT.)
///   Used when every time of the batch lies in 1970..9999, and not for the
///   16 batches after one that held duplicates (redeliveries come in runs);
/// - staging path: COPY into a temporary staging table (`ON COMMIT DROP`), then
///   `INSERT INTO events … SELECT … FROM staging ON CONFLICT DO NOTHING`, so a redelivered
///   record is counted as a duplicate instead of failing the batch.
/// Either way a committed row is durable (the session's `synchronous_commit` is untouched).
///
/// PostgreSQL errors are classified by SQLSTATE (DESIGN.md §10):
/// - class 22 (data exception) and 23 (integrity constraint violation) are *data errors*: some
///   row is refused. The writer then isolates the refused rows by bisection: the batch is
///   written again in one transaction in which every half is tried in its own savepoint, halves
///   that fail are split further, and a single row that still fails is reported as refused with
///   PostgreSQL's message. Every other row is written; the transaction commits once.
/// - everything else (connection refused or lost, `57P01` admin shutdown, `08xxx`, `40001`
///   serialization failure, `53xxx`, unknown errors) is *transient*: the transaction is rolled
///   back, nothing is written, the connection is dropped (the next call reconnects) and the
///   call returns a `db_failure`. The caller retries the same rows later; never the DLQ.
///
/// Blocking (libpqxx, libpq). Not thread-safe: one writer per thread; a writer owns up to two
/// connections (the direct COPY's, and the staging path's, opened on first use).

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <pqxx/connection>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pulsestream/core/event.hpp"

struct pg_conn;  // libpq's PGconn

namespace pulsestream::pg {

/// How an error of PostgreSQL is handled.
enum class error_kind {
    data,       ///< SQLSTATE class 22 or 23: the row is bad; isolate it, dead-letter it
    transient,  ///< anything else: roll back, retry later
};

/// Classifies a five-character SQLSTATE; an empty or malformed one is transient.
[[nodiscard]] error_kind classify_sqlstate(std::string_view sqlstate) noexcept;

/// A row PostgreSQL refused with a data error.
struct refused_row {
    std::size_t index = 0;  ///< position in the span given to `write`
    std::string sqlstate;   ///< e.g. "23514"
    std::string message;    ///< PostgreSQL's primary message, one line
};

/// The outcome of a batch that was committed.
struct write_report {
    std::size_t inserted = 0;          ///< new rows in `events`
    std::size_t duplicates = 0;        ///< rows skipped by ON CONFLICT (already stored)
    std::vector<refused_row> refused;  ///< ascending by index; empty without data errors
};

/// A transient failure: nothing of the call was committed.
struct db_failure {
    std::string sqlstate;  ///< empty when there was none (connection refused, lost, …)
    std::string message;
};

template <class T>
using db_result = boost::system::result<T, db_failure>;

struct event_writer_options {
    /// libpq `connect_timeout` (whole seconds, at least 1) unless the URL sets one.
    std::chrono::milliseconds connect_timeout{5000};
    /// `statement_timeout` of the session: a statement running longer is cancelled, which is
    /// a transient error (57014). 0 leaves the server's default.
    std::chrono::milliseconds statement_timeout{120000};
    /// `application_name` of the session unless the URL sets one.
    std::string application_name = "pulsestream-consumer";
};

class event_writer {
public:
    /// Does not connect; the first call does. `database_url` is a libpq URI
    /// (`postgresql://…`) or keyword/value string.
    explicit event_writer(std::string database_url, event_writer_options options = {});
    ~event_writer();
    event_writer(const event_writer&) = delete;
    event_writer& operator=(const event_writer&) = delete;
    event_writer(event_writer&&) noexcept;
    event_writer& operator=(event_writer&&) noexcept;

    /// Writes `events` as described above: success with counts and the refused rows (each
    /// index once), or a transient `db_failure` after which nothing was written.
    /// `inserted + duplicates + refused.size() == events.size()` on success. An empty span
    /// succeeds without touching the database. Never throws except std::bad_alloc.
    [[nodiscard]] db_result<write_report> write(std::span<const core::event> events);

    /// `SELECT pulsestream_ensure_partitions(days_ahead, retention_days)` in its own
    /// transaction: daily partitions ahead, expired ones dropped (schema.sql). Any error is
    /// reported as a `db_failure`.
    [[nodiscard]] db_result<void> ensure_partitions(int days_ahead, int retention_days);

    /// Connects if needed and runs `SELECT 1`: whether the database is usable right now.
    [[nodiscard]] db_result<void> ping();

    /// Closes the connection (the next call reconnects).
    void disconnect() noexcept;

    /// Whether a connection is open (not whether it still works).
    [[nodiscard]] bool connected() const noexcept { return conn_ != nullptr || direct_ != nullptr; }

private:
    pqxx::connection& connection();
    pg_conn* direct_connection();

    struct pq_finish {
        void operator()(pg_conn* conn) const noexcept;
    };

    std::string conninfo_;
    event_writer_options options_;
    std::unique_ptr<pqxx::connection> conn_;       // staging path, maintenance, ping
    std::unique_ptr<pg_conn, pq_finish> direct_;   // the direct COPY (libpq, binary)
    std::size_t staging_only_ = 0;  // writes left that skip the direct COPY
};

/// Lets `result::value()` throw std::runtime_error with the failure's message.
[[noreturn]] void throw_exception_from_error(const db_failure& failure,
                                             const boost::source_location& loc);

}  // namespace pulsestream::pg
