#include "pulsestream/pg/event_writer.hpp"

#include <algorithm>
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

const std::vector<std::string>& event_columns() {
    static const std::vector<std::string> columns{"id",    "client_id",  "device_id", "event_type",
                                                  "value", "event_time", "metadata",  "received_at"};
    return columns;
}

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

// Times the direct path can write as "YYYY-MM-DD HH:MM:SS.mmm+00": 1970-01-01 up to 9999-12-31.
constexpr std::int64_t max_text_ms = 253402300799999;

bool text_time(std::int64_t ms) { return ms >= 0 && ms <= max_text_ms; }

// UTC civil date of a day count since 1970-01-01 (H. Hinnant's days_from_civil, inverted).
void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
    z += 719468;
    const std::int64_t era = z / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
}

void put_digits(char* out, unsigned value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

// "YYYY-MM-DD HH:MM:SS.mmm+00" (26 characters and a NUL); `ms` must satisfy text_time.
void write_time(char* out, std::int64_t ms) {
    const std::int64_t days = ms / 86400000;
    const auto in_day = static_cast<unsigned>(ms % 86400000);
    int y = 0;
    unsigned m = 0;
    unsigned d = 0;
    civil_from_days(days, y, m, d);
    put_digits(out, static_cast<unsigned>(y), 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = ' ';
    put_digits(out + 11, in_day / 3600000, 2);
    out[13] = ':';
    put_digits(out + 14, in_day / 60000 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, in_day / 1000 % 60, 2);
    out[19] = '.';
    put_digits(out + 20, in_day % 1000, 3);
    std::memcpy(out + 23, "+00", 4);
}

// The fast path: COPY straight into `events`, no staging table, no ON CONFLICT. It fails as a
// whole on the first duplicate key (23505) or refused row, and the caller then takes the
// staging path, which handles both; in a steady stream without redeliveries it never fails.
void copy_direct(pqxx::transaction_base& tx, std::span<const core::event> events) {
    pqxx::stream_to stream(tx, "events", event_columns());
    row_text text;
    char event_time[27];
    char received_at[27];
    for (const auto& e : events) {
        fill(text, e);
        write_time(event_time, e.timestamp_ms);
        write_time(received_at, e.received_at_ms);
        const char* metadata = e.metadata ? text.metadata.c_str() : nullptr;
        stream << std::tuple<const char*, const char*, const char*, const std::string&, const char*,
                             const char*, const char*, const char*>(
            text.id, text.client_id, text.device_id, e.event_type, text.value, event_time,
            metadata, received_at);
    }
    stream.complete();
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

void event_writer::disconnect() noexcept {
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
                pqxx::work tx(connection(), "pulsestream_direct");
                copy_direct(tx, events);
                tx.commit();
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
