// pg::event_writer against a private PostgreSQL 15: COPY + INSERT … ON CONFLICT, COPY text
// escaping, bisection of rows PostgreSQL refuses (defect 1), transient failures while the
// server is down (defect 2). Needs PostgreSQL only; named _kafkatest with the consumer's suites.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <vector>

#include "pulsestream/consumer/recent_keys.hpp"
#include "pulsestream/consumer/sharded_writer.hpp"
#include "pulsestream/core/event.hpp"
#include "pulsestream/core/uuid.hpp"
#include "pulsestream/pg/event_writer.hpp"
#include "support/postgres_instance.hpp"
#include "support/postgres_suite.hpp"
#include "support/services.hpp"

namespace {

using namespace std::chrono_literals;
using pulsestream::core::event;
using pulsestream::core::uuid;
using pulsestream::pg::error_kind;
using pulsestream::pg::event_writer;
using pulsestream::test_support::postgres_instance;
using pulsestream::test_support::postgres_suite;
using pulsestream::test_support::service_gate;

constexpr std::int64_t base_ms = 1'700'000'000'123;  // 2023-11-14T22:13:20.123Z

class consumer_event_writer : public postgres_suite<consumer_event_writer> {
protected:
    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        // A database per test: constraints added by one test never leak into another.
        url_ = pg_->create_database("w" + std::to_string(++databases_));
    }

    event make_event(std::string type = "temperature") {
        event e;
        e.id = pulsestream::core::random_uuid_v4(rng_);
        e.client_id = *pulsestream::core::parse_uuid("00000000-0000-4000-8000-000000000001");
        e.device_id = *pulsestream::core::parse_uuid("6f1c2a4e-8b3d-4c5e-9f70-112233445566");
        e.event_type = std::move(type);
        e.value = 21.5;
        e.timestamp_ms = base_ms;
        e.received_at_ms = base_ms + 7;
        return e;
    }

    std::vector<event> make_events(std::size_t n) {
        std::vector<event> events;
        for (std::size_t i = 0; i < n; ++i) events.push_back(make_event());
        return events;
    }

    std::int64_t count(const std::string& where = "true") {
        pqxx::connection conn(url_);
        pqxx::nontransaction tx(conn);
        return tx.exec("SELECT count(*) FROM events WHERE " + where)[0][0].as<std::int64_t>();
    }

    void exec(const std::string& sql) {
        pqxx::connection conn(url_);
        pqxx::work tx(conn);
        tx.exec(sql);
        tx.commit();
    }

    static inline int databases_ = 0;
    std::string url_;
    std::mt19937_64 rng_{42};
};

TEST(consumer_sqlstate, classes_22_and_23_are_data_errors_everything_else_transient) {
    EXPECT_EQ(pulsestream::pg::classify_sqlstate("23514"), error_kind::data);
    EXPECT_EQ(pulsestream::pg::classify_sqlstate("22P05"), error_kind::data);
    EXPECT_EQ(pulsestream::pg::classify_sqlstate("23505"), error_kind::data);
    EXPECT_EQ(pulsestream::pg::classify_sqlstate("57P01"), error_kind::transient);
    EXPECT_EQ(pulsestream::pg::classify_sqlstate("08006"), error_kind::transient);
    EXPECT_EQ(pulsestream::pg::classify_sqlstate("40001"), error_kind::transient);
    EXPECT_EQ(pulsestream::pg::classify_sqlstate("42P01"), error_kind::transient);
    EXPECT_EQ(pulsestream::pg::classify_sqlstate(""), error_kind::transient);
    EXPECT_EQ(pulsestream::pg::classify_sqlstate("22"), error_kind::transient);
}

TEST_F(consumer_event_writer, writes_a_batch_and_counts_redelivered_rows_as_duplicates) {
    event_writer writer(url_);
    auto events = make_events(1000);
    events[3].metadata = nlohmann::json{{"unit", "C"}, {"ok", true}, {"n", 1.25}};

    auto first = writer.write(events);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(first->inserted, 1000U);
    EXPECT_EQ(first->duplicates, 0U);
    EXPECT_TRUE(first->refused.empty());

    // The same rows again, plus 10 new ones (a redelivery after a crash).
    auto more = make_events(10);
    events.insert(events.end(), more.begin(), more.end());
    auto second = writer.write(events);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(second->inserted, 10U);
    EXPECT_EQ(second->duplicates, 1000U);
    EXPECT_EQ(count(), 1010);

    // Times are exact to the millisecond; metadata is stored.
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    const auto row = tx.exec(
        "SELECT (extract(epoch FROM event_time) * 1000)::bigint,"
        " (extract(epoch FROM received_at) * 1000)::bigint, metadata::text, value"
        " FROM events WHERE id = '" +
        pulsestream::core::to_string(events[3].id) + "'");
    ASSERT_EQ(row.size(), 1U);
    EXPECT_EQ(row[0][0].as<std::int64_t>(), base_ms);
    EXPECT_EQ(row[0][1].as<std::int64_t>(), base_ms + 7);
    EXPECT_EQ(nlohmann::json::parse(row[0][2].as<std::string>()), *events[3].metadata);
    EXPECT_EQ(row[0][3].as<double>(), 21.5);
}

TEST_F(consumer_event_writer, duplicates_inside_one_batch_are_stored_once) {
    event_writer writer(url_);
    auto events = make_events(3);
    events.push_back(events[1]);
    auto result = writer.write(events);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->inserted, 3U);
    EXPECT_EQ(result->duplicates, 1U);
    EXPECT_EQ(count(), 3);
}

TEST_F(consumer_event_writer, copy_escaping_keeps_tabs_newlines_backslashes_quotes_and_unicode) {
    event_writer writer(url_);
    const std::vector<std::string> nasty{
        "tab\there",
        "new\nline and \r carriage",
        "back\\slash \\N \\t \\\\",
        "quotes \" ' ` and , ; |",
        "unicode é ü 日本語 🚀 \xE2\x80\xA8",
        "\\.",  // COPY's end-of-data marker when alone on a line
        "form\ffeed \b backspace \v vtab \x7f del",
    };
    std::vector<event> events;
    for (const auto& text : nasty) {
        auto e = make_event(text);
        e.metadata = nlohmann::json{{text, text}, {"plain", text}};
        events.push_back(std::move(e));
    }
    // Extreme doubles must also read back exactly.
    events[0].value = 0.1 + 0.2;
    events[1].value = -1.7976931348623157e308;
    events[2].value = 4.9e-324;

    auto result = writer.write(events);
    ASSERT_TRUE(result) << result.error().message;
    ASSERT_EQ(result->inserted, events.size());

    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    for (const auto& e : events) {
        const auto row =
            tx.exec("SELECT event_type, metadata::text, value FROM events WHERE id = '" +
                    pulsestream::core::to_string(e.id) + "'");
        ASSERT_EQ(row.size(), 1U);
        EXPECT_EQ(row[0][0].as<std::string>(), e.event_type);
        EXPECT_EQ(nlohmann::json::parse(row[0][1].as<std::string>()), *e.metadata) << e.event_type;
        EXPECT_EQ(row[0][2].as<double>(), e.value);
    }
}

// The direct path writes times as text (1970 to 9999); times outside that range take the
// staging path. Both must store every time exactly.
TEST_F(consumer_event_writer, times_are_exact_on_the_direct_and_the_staging_path) {
    event_writer writer(url_);
    const std::vector<std::int64_t> direct{0, 951868799999 /* 2000-02-29T23:59:59.999 */,
                                           1709251199000 /* 2024-02-29T23:59:59 */,
                                           253402300799999 /* 9999-12-31T23:59:59.999 */};
    const std::vector<std::int64_t> staged{-1, -62135596800000 /* 0001-01-01 */};
    for (const auto& times : {direct, staged}) {
        std::vector<event> events;
        for (const auto ms : times) {
            auto e = make_event();
            e.timestamp_ms = ms;
            e.received_at_ms = ms == 0 ? 1 : ms - 1;
            events.push_back(std::move(e));
        }
        auto result = writer.write(events);
        ASSERT_TRUE(result) << result.error().message;
        EXPECT_EQ(result->inserted, events.size());
        pqxx::connection conn(url_);
        pqxx::nontransaction tx(conn);
        for (const auto& e : events) {
            const auto row = tx.exec(
                "SELECT (extract(epoch FROM event_time) * 1000)::bigint,"
                " (extract(epoch FROM received_at) * 1000)::bigint FROM events WHERE id = '" +
                pulsestream::core::to_string(e.id) + "'");
            ASSERT_EQ(row.size(), 1U);
            EXPECT_EQ(row[0][0].as<std::int64_t>(), e.timestamp_ms);
            EXPECT_EQ(row[0][1].as<std::int64_t>(), e.received_at_ms);
        }
    }
    EXPECT_EQ(count(), 6);
}

TEST_F(consumer_event_writer, original_defect_1_one_refused_row_of_five_keeps_the_other_four) {
    exec("ALTER TABLE events ADD CONSTRAINT no_bad CHECK (event_type <> 'refuse-me')");
    event_writer writer(url_);
    auto events = make_events(5);
    events[2].event_type = "refuse-me";

    auto result = writer.write(events);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->inserted, 4U);
    EXPECT_EQ(result->duplicates, 0U);
    ASSERT_EQ(result->refused.size(), 1U);
    EXPECT_EQ(result->refused[0].index, 2U);
    EXPECT_EQ(result->refused[0].sqlstate, "23514");
    EXPECT_NE(result->refused[0].message.find("no_bad"), std::string::npos)
        << result->refused[0].message;
    EXPECT_EQ(count(), 4);
    EXPECT_EQ(count("event_type = 'refuse-me'"), 0);
}

TEST_F(consumer_event_writer, bisection_finds_every_bad_row_of_a_large_batch) {
    exec("ALTER TABLE events ADD CONSTRAINT no_bad CHECK (event_type <> 'refuse-me')");
    event_writer writer(url_);
    auto events = make_events(2000);
    const std::vector<std::size_t> bad{0, 17, 18, 999, 1999};
    for (auto i : bad) events[i].event_type = "refuse-me";
    // A jsonb data error (NUL escape) is found the same way: it fails at COPY, not at INSERT.
    events[500].metadata = nlohmann::json{{"k", std::string("a\0b", 3)}};
    // And a row already stored counts as a duplicate, not as refused.
    ASSERT_TRUE(writer.write(std::span(events).subspan(1000, 1)));

    auto result = writer.write(events);
    ASSERT_TRUE(result) << result.error().message;
    std::vector<std::size_t> refused;
    for (const auto& r : result->refused) refused.push_back(r.index);
    EXPECT_EQ(refused, (std::vector<std::size_t>{0, 17, 18, 500, 999, 1999}));
    EXPECT_EQ(result->refused[3].sqlstate.substr(0, 2), "22");
    EXPECT_EQ(result->inserted, 2000U - 6U - 1U);
    EXPECT_EQ(result->duplicates, 1U);
    EXPECT_EQ(count(), 2000 - 6);
}

TEST_F(consumer_event_writer, every_row_refused_is_reported_and_nothing_written) {
    exec("ALTER TABLE events ADD CONSTRAINT no_bad CHECK (event_type <> 'refuse-me')");
    event_writer writer(url_);
    auto events = make_events(4);
    for (auto& e : events) e.event_type = "refuse-me";
    auto result = writer.write(events);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->refused.size(), 4U);
    EXPECT_EQ(result->inserted, 0U);
    EXPECT_EQ(count(), 0);
}

TEST_F(consumer_event_writer, partitions_are_maintained_and_ping_reports_a_usable_database) {
    event_writer writer(url_);
    ASSERT_TRUE(writer.ping());
    auto result = writer.ensure_partitions(3, 14);
    ASSERT_TRUE(result) << result.error().message;
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    const auto name = tx.exec(
                            "SELECT 'events_p' || to_char((now() AT TIME ZONE 'UTC')::date + 3,"
                            " 'YYYYMMDD')")[0][0]
                          .as<std::string>();
    EXPECT_FALSE(tx.exec("SELECT to_regclass('" + name + "')")[0][0].is_null());
}

TEST_F(consumer_event_writer, sharded_writes_map_refused_rows_back_to_the_batch) {
    exec("ALTER TABLE events ADD CONSTRAINT no_bad CHECK (event_type <> 'refuse-me')");
    pulsestream::consumer::sharded_writer writer(url_, 3, 100);
    auto events = make_events(3000);
    const std::vector<std::size_t> bad{5, 1500, 2999};
    for (auto i : bad) events[i].event_type = "refuse-me";
    events.push_back(events[10]);  // a duplicate inside the batch lands in the same shard
    const auto ids = [&] {
        std::vector<std::string> out;
        for (const auto& e : events) out.push_back(pulsestream::core::to_string(e.id));
        return out;
    }();

    auto result = writer.write(events);
    ASSERT_TRUE(result) << result.error().message;
    std::vector<std::size_t> refused;
    for (const auto& r : result->refused) refused.push_back(r.index);
    EXPECT_EQ(refused, bad);
    EXPECT_EQ(result->inserted, 3000U - bad.size());
    EXPECT_EQ(result->duplicates, 1U);
    EXPECT_EQ(count(), 3000 - 3);
    for (auto i : bad) EXPECT_EQ(count("id = '" + ids[i] + "'"), 0) << i;
}

TEST_F(consumer_event_writer, rows_committed_lately_are_duplicates_without_asking_the_database) {
    pulsestream::consumer::sharded_writer writer(url_, 2, 100);
    auto first = make_events(400);
    const auto again = first;
    ASSERT_TRUE(writer.write(first));
    // From now on PostgreSQL would refuse these rows (CHECK comes before ON CONFLICT), so if
    // they reached it they would come back refused, not as duplicates.
    exec("ALTER TABLE events ADD CONSTRAINT not_again CHECK (event_type <> 'again') NOT VALID");
    std::vector<event> batch;
    for (auto e : again) {
        e.event_type = "again";  // same key (client, id, time), other content
        batch.push_back(std::move(e));
    }
    auto fresh = make_events(300);
    batch.insert(batch.end(), fresh.begin(), fresh.end());
    batch.push_back(fresh.front());  // and a repeat within the batch

    auto result = writer.write(batch);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_TRUE(result->refused.empty());
    EXPECT_EQ(result->inserted, 300U);
    EXPECT_EQ(result->duplicates, 401U);
    EXPECT_EQ(count(), 700);
    EXPECT_EQ(count("event_type = 'again'"), 0);
}

TEST_F(consumer_event_writer, a_repeat_of_a_refused_row_is_refused_too_and_is_not_remembered) {
    exec("ALTER TABLE events ADD CONSTRAINT no_bad CHECK (event_type <> 'refuse-me')");
    pulsestream::consumer::sharded_writer writer(url_, 1, 100);
    auto events = make_events(10);
    events[3].event_type = "refuse-me";
    events.push_back(events[3]);
    auto result = writer.write(events);
    ASSERT_TRUE(result) << result.error().message;
    ASSERT_EQ(result->refused.size(), 2U);
    EXPECT_EQ(result->refused[0].index, 3U);
    EXPECT_EQ(result->refused[1].index, 10U);
    EXPECT_EQ(result->refused[1].sqlstate, "23514");
    EXPECT_EQ(result->inserted, 9U);
    EXPECT_EQ(result->duplicates, 0U);

    exec("ALTER TABLE events DROP CONSTRAINT no_bad");
    std::vector<event> retry{events[3]};
    result = writer.write(retry);  // refused before, so not known as stored: written now
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->inserted, 1U);
    EXPECT_EQ(count(), 10);
}

TEST(recent_keys, forgets_the_oldest_key_past_its_capacity) {
    pulsestream::consumer::recent_keys recent(2);
    const auto key = [](std::uint8_t n) {
        pulsestream::consumer::event_key k;
        k.id.bytes[0] = n;
        k.event_time_ms = 5;
        return k;
    };
    recent.remember(key(1));
    recent.remember(key(2));
    recent.remember(key(2));  // already known: no second place in the order
    EXPECT_TRUE(recent.contains(key(1)));
    recent.remember(key(3));
    EXPECT_FALSE(recent.contains(key(1)));
    EXPECT_TRUE(recent.contains(key(2)));
    EXPECT_TRUE(recent.contains(key(3)));
    EXPECT_EQ(recent.size(), 2U);
    auto other_time = key(3);
    other_time.event_time_ms = 6;
    EXPECT_FALSE(recent.contains(other_time));

    // Many keys through a small table: every remembered key is found, every forgotten one not
    // (the deletions keep the probe runs intact).
    pulsestream::consumer::recent_keys window(1000);
    std::mt19937_64 rng(42);
    std::vector<pulsestream::consumer::event_key> keys(20000);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        keys[i].id = pulsestream::core::random_uuid_v4(rng(), rng());
        keys[i].event_time_ms = static_cast<std::int64_t>(i % 7);
        window.remember(keys[i], i);
        if (i % 997 == 0) {
            for (std::size_t j = 0; j <= i; ++j) {
                const auto found = window.find(keys[j]);
                ASSERT_EQ(found.has_value(), j + 1000 > i) << j << " after " << i;
                if (found) {
                    ASSERT_EQ(*found, j);
                }
            }
        }
    }
    EXPECT_EQ(window.size(), 1000U);
    window.clear();
    EXPECT_FALSE(window.contains(keys.back()));
    EXPECT_EQ(window.size(), 0U);

    pulsestream::consumer::recent_keys none(0);
    none.remember(key(1));
    EXPECT_FALSE(none.contains(key(1)));
}

// Last in the suite: it stops the shared server (and starts it again).
TEST_F(consumer_event_writer, original_defect_2_database_down_is_a_transient_failure_not_data) {
    event_writer writer(url_);
    ASSERT_TRUE(writer.write(make_events(1)));  // connected

    pg_->stop();
    auto events = make_events(5);
    auto down = writer.write(events);
    ASSERT_FALSE(down);
    EXPECT_FALSE(down.error().message.empty());
    EXPECT_FALSE(writer.ping());
    EXPECT_FALSE(writer.connected());

    pg_->start_again();
    auto up = writer.write(events);
    ASSERT_TRUE(up) << up.error().message;
    EXPECT_EQ(up->inserted, 5U);
    EXPECT_EQ(count(), 6);
}

}  // namespace
