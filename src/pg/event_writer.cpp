#include "pulsestream/pg/event_writer.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <pqxx/connection>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/stream_to>
#include <pqxx/subtransaction>
#include <pqxx/transaction>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "pulsestream/core/uuid.hpp"

namespace pulsestream::pg {

namespace {

// Times travel as epoch milliseconds and are converted by PostgreSQL in the INSERT, which is
// exact and cheaper than formatting and parsing timestamptz text per row.
constexpr const char* create_staging_sql =
    "CREATE TEMP TABLE pulsestream_staging ("
    " id uuid, client_id uuid, device_id uuid, event_type text, value double precision,"
    " event_ms bigint, metadata jsonb, received_ms bigint) ON COMMIT DROP";

constexpr const char* insert_sql =
    "INSERT INTO events"
    " (id, client_id, device_id, event_type, value, event_time, metadata, received_at)"
    " SELECT id, client_id, device_id, event_type, value,"
    " timestamptz 'epoch' + event_ms * interval '1 millisecond', metadata,"
    " timestamptz 'epoch' + received_ms * interval '1 millisecond'"
    " FROM pulsestream_staging ON CONFLICT DO NOTHING";

const std::vector<std::string>& staging_columns() {
    static const std::vector<std::string> columns{"id",    "client_id", "device_id", "event_type",
                                                  "value", "event_ms",  "metadata",  "received_ms"};
    return columns;
}

bool is_uri(std::string_view url) {
    return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

std::string with_session_defaults(std::string url, const event_writer_options& options) {
    const auto seconds = std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::seconds>(options.connect_timeout).count());
    const bool uri = is_uri(url);
    auto add = [&](std::string_view key, const std::string& value) {
        if (url.find(std::string(key) + "=") != std::string::npos) return;
        if (uri) {
            url += url.find('?') == std::string::npos ? '?' : '&';
        } else if (!url.empty()) {
            url += ' ';
        }
        url.append(key).append("=").append(value);
    };
    add("connect_timeout", std::to_string(seconds));
    if (!options.application_name.empty()) add("application_name", options.application_name);
    return url;
}

// The first line of a server message ("ERROR:  text\nDETAIL: …" arrives as what()).
std::string first_line(std::string_view text) {
    if (text.starts_with("ERROR:")) text.remove_prefix(6);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    const auto end = text.find('\n');
    return std::string(text.substr(0, end));
}

// Exceptions the data path turns into refused rows.
struct data_error {
    std::string sqlstate;
    std::string message;
};

std::optional<data_error> as_data_error(const pqxx::sql_error& e) {
    if (classify_sqlstate(e.sqlstate()) != error_kind::data) return std::nullopt;
    return data_error{e.sqlstate(), first_line(e.what())};
}

// Fixed-size text of one row; the pointers handed to stream_to point into it.
struct row_text {
    char id[37];
    char client_id[37];
    char device_id[37];
    char value[32];
    char event_ms[24];
    char received_ms[24];
    std::string metadata;
};

template <class T>
void write_number(char* out, std::size_t size, T number) {
    const auto [end, ec] = std::to_chars(out, out + size - 1, number);
    *(ec == std::errc{} ? end : out) = '\0';
}

void fill(row_text& text, const core::event& e) {
    core::write_uuid(e.id, text.id);
    text.id[36] = '\0';
    core::write_uuid(e.client_id, text.client_id);
    text.client_id[36] = '\0';
    core::write_uuid(e.device_id, text.device_id);
    text.device_id[36] = '\0';
    // Shortest text that reads back as the same double (PostgreSQL parses it exactly).
    write_number(text.value, sizeof text.value, e.value);
    write_number(text.event_ms, sizeof text.event_ms, e.timestamp_ms);
    write_number(text.received_ms, sizeof text.received_ms, e.received_at_ms);
    text.metadata.clear();
    if (e.metadata) text.metadata = e.metadata->dump();
}

// Batches written through staging after one that held duplicates, before COPY is tried again.
constexpr std::size_t staging_after_duplicates = 16;

// Times the direct path takes: 1970-01-01 up to 9999-12-31 (well inside timestamptz and int64
// microseconds; anything else goes through staging, where PostgreSQL judges it).
constexpr std::int64_t max_text_ms = 253402300799999;

bool text_time(std::int64_t ms) { return ms >= 0 && ms <= max_text_ms; }

// --- The fast path: binary COPY straight into `events` over a plain libpq connection. ---
// It fails as a whole on the first duplicate key (23505) or refused row, and the caller then
// takes the staging path, which handles both; in a steady stream without redeliveries it never
// fails. Binary rows cost neither side any text formatting or parsing of uuids, numbers and
// times (libpqxx 6 offers no binary COPY, hence libpq).

struct pq_result_free {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using pq_result = std::unique_ptr<PGresult, pq_result_free>;

// The server's error as the exception the rest of the writer classifies: sql_error with its
// SQLSTATE, or broken_connection when there is none (connection lost or refused).
[[noreturn]] void throw_pq(PGconn* conn, const PGresult* result, const char* what) {
    if (result != nullptr) {
        const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        const char* message = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
        if (state != nullptr) throw pqxx::sql_error(message != nullptr ? message : what, what, state);
    }
    throw pqxx::broken_connection(first_line(PQerrorMessage(conn)));
}

void exec_command(PGconn* conn, const char* sql) {
    pq_result result(PQexec(conn, sql));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) throw_pq(conn, result.get(), sql);
}

void put_be(std::string& out, std::uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

void put_field(std::string& out, const void* data, std::size_t size) {
    put_be(out, size, 4);
    out.append(static_cast<const char*>(data), size);
}

void put_uuid(std::string& out, const core::uuid& id) { put_field(out, id.bytes.data(), 16); }

// timestamptz on the wire: microseconds since 2000-01-01 UTC. Only called for text_time()
// values, so nothing overflows.
void put_time(std::string& out, std::int64_t ms) {
    put_be(out, 8, 4);
    put_be(out, static_cast<std::uint64_t>((ms - 946684800000LL) * 1000), 8);
}

void append_binary_row(std::string& out, const core::event& e, std::string& json) {
    put_be(out, 8, 2);  // fields
    put_uuid(out, e.id);
    put_uuid(out, e.client_id);
    put_uuid(out, e.device_id);
    put_field(out, e.event_type.data(), e.event_type.size());
    put_be(out, 8, 4);
    put_be(out, std::bit_cast<std::uint64_t>(e.value), 8);
    put_time(out, e.timestamp_ms);
    if (e.metadata) {
        json.assign(1, '\x01');  // jsonb's binary format: version 1, then the JSON text
        json += e.metadata->dump();
        put_field(out, json.data(), json.size());
    } else {
        put_be(out, 0xFFFFFFFFU, 4);  // NULL
    }
    put_time(out, e.received_at_ms);
}

void put_copy_data(PGconn* conn, std::string& buffer) {
    if (buffer.empty()) return;
    if (PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) != 1) {
        throw pqxx::broken_connection(first_line(PQerrorMessage(conn)));
    }
    buffer.clear();
}

void copy_rows_binary(PGconn* conn, std::span<const core::event> events) {
    constexpr std::size_t chunk = 256 * 1024;
    {
        pq_result started(PQexec(conn,
                                 "COPY events (id, client_id, device_id, event_type, value,"
                                 " event_time, metadata, received_at) FROM STDIN (FORMAT binary)"));
        if (PQresultStatus(started.get()) != PGRES_COPY_IN) throw_pq(conn, started.get(), "COPY");
    }
    std::string buffer;
    buffer.reserve(chunk + 4096);
    buffer.append("PGCOPY\n\xff\r\n\0", 11);
    put_be(buffer, 0, 4);  // flags
    put_be(buffer, 0, 4);  // header extension length
    std::string json;
    for (const auto& e : events) {
        append_binary_row(buffer, e, json);
        if (buffer.size() >= chunk) put_copy_data(conn, buffer);
    }
    put_be(buffer, 0xFFFFU, 2);  // trailer
    put_copy_data(conn, buffer);
    if (PQputCopyEnd(conn, nullptr) != 1) {
        throw pqxx::broken_connection(first_line(PQerrorMessage(conn)));
    }
    pq_result ended(PQgetResult(conn));
    while (pq_result more{PQgetResult(conn)}) {
    }
    if (PQresultStatus(ended.get()) != PGRES_COMMAND_OK) throw_pq(conn, ended.get(), "COPY");
}

// One transaction: BEGIN, binary COPY into events, COMMIT. On any failure the connection is
// left idle (COPY ended, transaction rolled back) when it still works, and the error rethrown.
void copy_direct(PGconn* conn, std::span<const core::event> events) {
    exec_command(conn, "BEGIN");
    try {
        copy_rows_binary(conn, events);
        exec_command(conn, "COMMIT");
    } catch (...) {
        if (PQtransactionStatus(conn) == PQTRANS_ACTIVE) {
            (void)PQputCopyEnd(conn, "aborted");
            while (pq_result more{PQgetResult(conn)}) {
            }
        }
        if (PQtransactionStatus(conn) == PQTRANS_INERROR ||
            PQtransactionStatus(conn) == PQTRANS_INTRANS) {
            pq_result rolled_back(PQexec(conn, "ROLLBACK"));
        }
        throw;
    }
}

// COPY rows [first, last) into the staging table; PostgreSQL reports row errors at complete().
void copy_rows(pqxx::transaction_base& tx, std::span<const core::event> events) {
    pqxx::stream_to stream(tx, "pulsestream_staging", staging_columns());
    row_text text;
    for (const auto& e : events) {
        fill(text, e);
        const char* metadata = e.metadata ? text.metadata.c_str() : nullptr;
        stream << std::tuple<const char*, const char*, const char*, const std::string&, const char*,
                             const char*, const char*, const char*>(
            text.id, text.client_id, text.device_id, e.event_type, text.value, text.event_ms,
            metadata, text.received_ms);
    }
    stream.complete();
}

std::size_t move_staged_rows(pqxx::transaction_base& tx) {
    return static_cast<std::size_t>(tx.exec(insert_sql).affected_rows());
}

// Writes [lo, hi) of `events` inside its own savepoint; halves that fail are split until the
// refused rows are single rows. `known_bad` skips a try whose failure is already known.
void bisect(pqxx::dbtransaction& tx, std::span<const core::event> events, std::size_t lo,
            std::size_t hi, bool known_bad, write_report& report) {
    if (lo >= hi) return;
    if (!known_bad || hi - lo == 1) {
        std::optional<data_error> failure;
        {
            pqxx::subtransaction sub(tx, "pulsestream_bisect");
            try {
                copy_rows(sub, events.subspan(lo, hi - lo));
                const auto inserted = move_staged_rows(sub);
                sub.exec("TRUNCATE pulsestream_staging");
                sub.commit();
                report.inserted += inserted;
                report.duplicates += (hi - lo) - inserted;
                return;
            } catch (const pqxx::sql_error& e) {
                failure = as_data_error(e);
                if (!failure) throw;
            }
            // Leaving the scope rolls back to the savepoint, emptying the staging table again.
        }
        if (hi - lo == 1) {
            report.refused.push_back(
                {lo, std::move(failure->sqlstate), std::move(failure->message)});
            return;
        }
    }
    const auto mid = lo + (hi - lo) / 2;
    bisect(tx, events, lo, mid, false, report);
    bisect(tx, events, mid, hi, false, report);
}

db_failure failure_from(const std::exception& e) {
    if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
        return {sql->sqlstate(), first_line(sql->what())};
    }
    return {"", first_line(e.what())};
}

}  // namespace

error_kind classify_sqlstate(std::string_view sqlstate) noexcept {
    if (sqlstate.size() != 5) return error_kind::transient;
    if (sqlstate.starts_with("22") || sqlstate.starts_with("23")) return error_kind::data;
    return error_kind::transient;
}

event_writer::event_writer(std::string database_url, event_writer_options options)
    : conninfo_(with_session_defaults(std::move(database_url), options)),
      options_(std::move(options)) {}

event_writer::~event_writer() = default;
event_writer::event_writer(event_writer&&) noexcept = default;
event_writer& event_writer::operator=(event_writer&&) noexcept = default;

pqxx::connection& event_writer::connection() {
    if (!conn_) {
        auto conn = std::make_unique<pqxx::connection>(conninfo_);
        if (options_.statement_timeout.count() > 0) {
            pqxx::nontransaction tx(*conn);
            tx.exec("SET statement_timeout = " +
                    std::to_string(options_.statement_timeout.count()));
        }
        conn_ = std::move(conn);
    }
    return *conn_;
}

void event_writer::pq_finish::operator()(pg_conn* conn) const noexcept { PQfinish(conn); }

PGconn* event_writer::direct_connection() {
    if (!direct_) {
        std::unique_ptr<pg_conn, pq_finish> conn(PQconnectdb(conninfo_.c_str()));
        if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
            throw pqxx::broken_connection(
                conn ? first_line(PQerrorMessage(conn.get())) : "out of memory");
        }
        // Notices (none expected) would go to stderr by default.
        PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
        if (options_.statement_timeout.count() > 0) {
            exec_command(conn.get(), ("SET statement_timeout = " +
                                      std::to_string(options_.statement_timeout.count()))
                                         .c_str());
        }
        direct_ = std::move(conn);
    }
    return direct_.get();
}

void event_writer::disconnect() noexcept {
    direct_.reset();
    try {
        conn_.reset();
    } catch (...) {
        // A failing close leaves nothing to clean up on our side.
    }
}

db_result<write_report> event_writer::write(std::span<const core::event> events) {
    write_report report;
    if (events.empty()) return report;
    try {
        const bool direct =
            staging_only_ == 0 &&
            std::all_of(events.begin(), events.end(), [](const core::event& e) {
                return text_time(e.timestamp_ms) && text_time(e.received_at_ms);
            });
        if (staging_only_ > 0) --staging_only_;
        if (direct) {
            try {
                copy_direct(direct_connection(), events);
                report.inserted = events.size();
                return report;
            } catch (const pqxx::sql_error& e) {
                // A duplicate or a refused row: rolled back; the staging path sorts them out.
                if (classify_sqlstate(e.sqlstate()) != error_kind::data) throw;
            }
        }
        std::optional<data_error> failure;
        {
            pqxx::work tx(connection(), "pulsestream_write");
            tx.exec(create_staging_sql);
            try {
                copy_rows(tx, events);
                report.inserted = move_staged_rows(tx);
            } catch (const pqxx::sql_error& e) {
                failure = as_data_error(e);
                if (!failure) throw;
            }
            if (!failure) {
                tx.commit();
                report.duplicates = events.size() - report.inserted;
                // Duplicates come in runs (a redelivery, a producer retrying): while they do,
                // a direct COPY would only fail, so the next batches go straight to staging.
                staging_only_ = report.duplicates > 0 ? staging_after_duplicates : 0;
                return report;
            }
        }
        // Some row is bad: write again, isolating the bad rows, in one new transaction.
        report = {};
        pqxx::work tx(connection(), "pulsestream_bisect");
        tx.exec(create_staging_sql);
        bisect(tx, events, 0, events.size(), true, report);
        tx.commit();
        return report;
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        // Rolled back by the transaction's destructor; a connection that saw an unknown error
        // is not trusted again.
        disconnect();
        return failure_from(e);
    }
}

db_result<void> event_writer::ensure_partitions(int days_ahead, int retention_days) {
    try {
        pqxx::work tx(connection(), "pulsestream_partitions");
        tx.exec("SELECT pulsestream_ensure_partitions(" + std::to_string(days_ahead) + ", " +
                std::to_string(retention_days) + ")");
        tx.commit();
        return {};
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        disconnect();
        return failure_from(e);
    }
}

db_result<void> event_writer::ping() {
    try {
        pqxx::nontransaction tx(connection());
        tx.exec("SELECT 1");
        return {};
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        disconnect();
        return failure_from(e);
    }
}

void throw_exception_from_error(const db_failure& failure, const boost::source_location&) {
    throw std::runtime_error(failure.sqlstate.empty() ? failure.message
                                                      : failure.sqlstate + ": " + failure.message);
}

}  // namespace pulsestream::pg
