// schema.sql against a private PostgreSQL 15: seeding, idempotency, partition routing, the move of
// default-partition rows into a new daily partition, retention, tenant-scoped dedup, restart.
#include <gtest/gtest.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "support/postgres_instance.hpp"
#include "support/postgres_suite.hpp"
#include "support/services.hpp"

namespace {

using pulsestream::test_support::postgres_instance;
using pulsestream::test_support::postgres_suite;
using pulsestream::test_support::service_gate;

// printf '%s' ps_live_test_key_abc123xyz | sha256sum
constexpr const char* dev_key_sha256 =
    "51f4321081dc535ff4ef492df6551b44e95cdc0662f4d5d8f9610a6d1def2bb3";
constexpr const char* dev_client_id = "00000000-0000-4000-8000-000000000001";
constexpr const char* other_client_id = "00000000-0000-4000-8000-0000000000ff";
constexpr const char* device_id = "6f1c2a4e-8b3d-4c5e-9f70-112233445566";

class schema_pg : public postgres_suite<schema_pg> {
protected:
    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        db_ = std::make_unique<pqxx::connection>(pg_->url());
    }

    // One value of the first row; the query must return exactly one row.
    std::string scalar(const std::string& sql) {
        pqxx::nontransaction tx(*db_);
        const auto result = tx.exec(sql);
        EXPECT_EQ(result.size(), 1U) << sql;
        return result.empty() || result[0][0].is_null() ? std::string("<null>")
                                                        : result[0][0].as<std::string>();
    }

    void exec(const std::string& sql) {
        pqxx::work tx(*db_);
        tx.exec(sql);
        tx.commit();
    }

    // Inserts one event, `day_offset` UTC days from today at 12:00 UTC; returns rows inserted.
    std::size_t insert_event(const std::string& id, int day_offset,
                             const std::string& client = dev_client_id) {
        pqxx::work tx(*db_);
        const auto result = tx.exec(
            "INSERT INTO events (id, client_id, device_id, event_type, value, event_time,"
            " metadata, received_at) VALUES (" +
            tx.quote(id) + ", " + tx.quote(client) + ", " + tx.quote(device_id) +
            ", 'temperature', 21.5, " + noon_utc(day_offset) +
            ", '{\"unit\":\"C\"}', now()) ON CONFLICT DO NOTHING");
        tx.commit();
        return static_cast<std::size_t>(result.affected_rows());
    }

    // The partition holding event `id` of the development client.
    std::string partition_of(const std::string& id) {
        return scalar("SELECT tableoid::regclass::text FROM events WHERE client_id = '" +
                      std::string(dev_client_id) + "' AND id = '" + id + "'");
    }

    // Name of the daily partition for today + `day_offset` (UTC), computed by the server.
    std::string partition_name(int day_offset) {
        return scalar("SELECT 'events_p' || to_char((now() AT TIME ZONE 'UTC')::date + " +
                      std::to_string(day_offset) + ", 'YYYYMMDD')");
    }

    static std::string noon_utc(int day_offset) {
        return "(((now() AT TIME ZONE 'UTC')::date + " + std::to_string(day_offset) +
               ")::timestamp + interval '12 hours') AT TIME ZONE 'UTC'";
    }

    std::unique_ptr<pqxx::connection> db_;
};

TEST_F(schema_pg, applying_the_schema_again_is_harmless) {
    exec(
        "INSERT INTO events (id, client_id, device_id, event_type, value, event_time,"
        " received_at) VALUES ('10000000-0000-4000-8000-000000000001', '" +
        std::string(dev_client_id) + "', '" + device_id + "', 'kept', 1, now(), now())");

    ASSERT_NO_THROW(postgres_instance::apply_schema(pg_->url()));
    ASSERT_NO_THROW(postgres_instance::apply_schema(pg_->url()));

    EXPECT_EQ(scalar("SELECT count(*) FROM clients"), "1");
    EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE event_type = 'kept'"), "1");
}

TEST_F(schema_pg, development_client_is_found_by_the_sha256_of_its_key) {
    pqxx::nontransaction tx(*db_);
    const auto rows = tx.exec(
        "SELECT id::text, name, api_key_prefix, active, rate_limit_per_sec IS NULL"
        " FROM clients WHERE api_key_hash = " +
        tx.quote(dev_key_sha256));
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0][0].as<std::string>(), dev_client_id);
    EXPECT_EQ(rows[0][1].as<std::string>(), "development");
    EXPECT_EQ(rows[0][2].as<std::string>(), "ps_live_");
    EXPECT_TRUE(rows[0][3].as<bool>());
    EXPECT_TRUE(rows[0][4].as<bool>());
}

TEST_F(schema_pg, clients_reject_malformed_hashes_and_non_positive_rate_limits) {
    EXPECT_THROW(exec("INSERT INTO clients (name, api_key_hash, api_key_prefix)"
                      " VALUES ('x', 'NOT-HEX', 'ps_live_')"),
                 pqxx::check_violation);
    EXPECT_THROW(exec("INSERT INTO clients (name, api_key_hash, api_key_prefix, rate_limit_per_sec)"
                      " VALUES ('x', repeat('a', 64), 'ps_live_', 0)"),
                 pqxx::check_violation);
    EXPECT_THROW(exec("INSERT INTO clients (name, api_key_hash, api_key_prefix) VALUES ('dup', '" +
                      std::string(dev_key_sha256) + "', 'ps_live_')"),
                 pqxx::unique_violation);
}

TEST_F(schema_pg, rows_are_routed_to_daily_partitions_or_the_default_one) {
    ASSERT_EQ(insert_event("20000000-0000-4000-8000-000000000001", -1), 1U);
    ASSERT_EQ(insert_event("20000000-0000-4000-8000-000000000002", 0), 1U);
    ASSERT_EQ(insert_event("20000000-0000-4000-8000-000000000003", 1), 1U);
    ASSERT_EQ(insert_event("20000000-0000-4000-8000-000000000004", 30), 1U);

    EXPECT_EQ(partition_of("20000000-0000-4000-8000-000000000001"), partition_name(-1));
    EXPECT_EQ(partition_of("20000000-0000-4000-8000-000000000002"), partition_name(0));
    EXPECT_EQ(partition_of("20000000-0000-4000-8000-000000000003"), partition_name(1));
    EXPECT_EQ(partition_of("20000000-0000-4000-8000-000000000004"), "events_default");
    EXPECT_EQ(scalar("SELECT metadata->>'unit' FROM events"
                     " WHERE id = '20000000-0000-4000-8000-000000000002'"),
              "C");
}

TEST_F(schema_pg, on_conflict_do_nothing_dedups_per_tenant) {
    const std::string id = "30000000-0000-4000-8000-000000000001";
    EXPECT_EQ(insert_event(id, 0), 1U);
    EXPECT_EQ(insert_event(id, 0), 0U);
    // Another tenant reusing the id is a separate row: it cannot suppress the first tenant's.
    EXPECT_EQ(insert_event(id, 0, other_client_id), 1U);

    EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE id = '" + id + "' AND client_id = '" +
                     dev_client_id + "'"),
              "1");
    EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE id = '" + id + "'"), "2");
    // The primary key itself refuses the duplicate without ON CONFLICT.
    EXPECT_THROW(exec("INSERT INTO events (id, client_id, device_id, event_type, value,"
                      " event_time, received_at) SELECT id, client_id, device_id, event_type,"
                      " value, event_time, received_at FROM events WHERE id = '" +
                      id + "' AND client_id = '" + dev_client_id + "'"),
                 pqxx::unique_violation);
}

TEST_F(schema_pg, a_new_partition_takes_over_rows_of_its_day_from_the_default_partition) {
    const std::string early = "40000000-0000-4000-8000-000000000001";
    const std::string other_day = "40000000-0000-4000-8000-000000000002";
    ASSERT_EQ(insert_event(early, 5), 1U);
    ASSERT_EQ(insert_event(other_day, 40), 1U);
    ASSERT_EQ(partition_of(early), "events_default");

    exec("SELECT pulsestream_ensure_partitions(6, 14)");

    EXPECT_EQ(partition_of(early), partition_name(5));
    EXPECT_EQ(partition_of(other_day), "events_default");
    EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE id = '" + early + "'"), "1");
    // The moved row's partition has the primary key: dedup still holds there.
    EXPECT_EQ(insert_event(early, 5), 0U);
    // Calling it again changes nothing.
    exec("SELECT pulsestream_ensure_partitions(6, 14)");
    EXPECT_EQ(partition_of(early), partition_name(5));
}

TEST_F(schema_pg, partitions_and_default_rows_past_retention_are_dropped) {
    exec(
        "CREATE TABLE events_p20000101 PARTITION OF events"
        " FOR VALUES FROM ('2000-01-01 00:00:00+00') TO ('2000-01-02 00:00:00+00')");
    exec(
        "INSERT INTO events (id, client_id, device_id, event_type, value, event_time,"
        " received_at) VALUES ('50000000-0000-4000-8000-000000000001', '" +
        std::string(dev_client_id) + "', '" + device_id +
        "', 'old', 1, '2000-01-01 12:00:00+00', now()), ('50000000-0000-4000-8000-000000000002', "
        "'" +
        dev_client_id + "', '" + device_id + "', 'old', 1, '2001-06-01 12:00:00+00', now())");
    ASSERT_EQ(scalar("SELECT count(*) FROM events WHERE event_type = 'old'"), "2");

    exec("SELECT pulsestream_ensure_partitions(3, 14)");

    EXPECT_EQ(scalar("SELECT to_regclass('events_p20000101') IS NULL"), "t");
    EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE event_type = 'old'"), "0");
    EXPECT_EQ(scalar("SELECT to_regclass('" + partition_name(-1) + "') IS NOT NULL"), "t");
}

TEST_F(schema_pg, ensure_partitions_rejects_nonsense_arguments) {
    EXPECT_THROW(exec("SELECT pulsestream_ensure_partitions(-1, 14)"), pqxx::sql_error);
    EXPECT_THROW(exec("SELECT pulsestream_ensure_partitions(3, 0)"), pqxx::sql_error);
}

// Restarts the shared server; every test connects afresh in SetUp, so order does not matter.
TEST_F(schema_pg, data_survives_stop_and_start_again) {
    const std::string id = "60000000-0000-4000-8000-000000000001";
    ASSERT_EQ(insert_event(id, 0), 1U);
    const auto port = pg_->port();
    db_.reset();

    pg_->stop();
    EXPECT_FALSE(pg_->running());
    EXPECT_THROW(pqxx::connection{pg_->url()}, pqxx::broken_connection);

    pg_->start_again();
    EXPECT_TRUE(pg_->running());
    EXPECT_EQ(pg_->port(), port);
    db_ = std::make_unique<pqxx::connection>(pg_->url());
    EXPECT_EQ(partition_of(id), partition_name(0));
}

}  // namespace
