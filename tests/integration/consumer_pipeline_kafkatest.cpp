// The consumer in-process (consumer::app) against a private PostgreSQL 15 and librdkafka's mock
// cluster: the original's defects 1, 2 and 10 (consumer parts) as named regression tests, poison
// pills, redelivery, a PostgreSQL outage under load, rebalances, and the HTTP endpoints.
// TEST_LOG_INFO=1 shows the consumer's info log; TEST_ASSIGNOR=cooperative-sticky runs the group
// with that assignor instead of the default (range).
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pulsestream/consumer/app.hpp"
#include "pulsestream/consumer/batch.hpp"
#include "pulsestream/consumer/dlq.hpp"
#include "pulsestream/core/event.hpp"
#include "pulsestream/devbroker/mock_cluster.hpp"
#include "pulsestream/kafka/handles.hpp"
#include "pulsestream/kafka/producer.hpp"
#include "support/log_capture.hpp"
#include "support/postgres_instance.hpp"
#include "support/postgres_suite.hpp"
#include "support/services.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
using pulsestream::core::event;
using pulsestream::devbroker::mock_cluster;
using pulsestream::kafka::header_list;
using pulsestream::test_support::log_capture;
using pulsestream::test_support::postgres_instance;
using pulsestream::test_support::postgres_suite;
using pulsestream::test_support::service_gate;
using pulsestream::test_support::wait_until;
namespace consumer = pulsestream::consumer;
namespace kafka = pulsestream::kafka;

constexpr int raw_partitions = 4;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// A record read back from a topic.
struct read_record {
    std::optional<std::string> key;
    std::string value;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    header_list headers;

    [[nodiscard]] std::string header(std::string_view name) const {
        return std::string(consumer::find_header(headers, name).value_or("<absent>"));
    }
};

class consumer_pipeline : public postgres_suite<consumer_pipeline> {
protected:
    static void SetUpTestSuite() {
        spdlog::set_level(std::getenv("TEST_LOG_INFO") ? spdlog::level::info : spdlog::level::warn);
        if (!start_postgres()) return;
        cluster_ = std::make_unique<mock_cluster>(1);
        kafka::producer_config pc;
        pc.brokers = cluster_->bootstrap_servers();
        pc.linger_ms = 1;
        producer_ = std::make_unique<kafka::producer>(std::move(pc));
    }
    static void TearDownTestSuite() {
        producer_.reset();
        cluster_.reset();
        pg_.reset();
    }

    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        url_ = pg_->create_database("p" + std::to_string(++databases_));  // names <= 63 chars
        topic_ = "raw." + name;
        dlq_topic_ = "dlq." + name;
        group_ = "group." + name;
        cluster_->create_topic(topic_, raw_partitions, 1);
        cluster_->create_topic(dlq_topic_, 1, 1);
    }

    pulsestream::core::consumer_config config(const std::string& group = {}) const {
        pulsestream::core::consumer_config c;
        c.shared.database_url = url_;
        c.shared.kafka_brokers = cluster_->bootstrap_servers();
        c.shared.kafka_topic = topic_;
        c.shared.kafka_dlq_topic = dlq_topic_;
        c.shared.shutdown_timeout_ms = 20000;
        c.group_id = group.empty() ? group_ : group;
        c.batch_max_events = 500;
        c.batch_max_wait_ms = 300;
        c.session_timeout_ms = 3000;  // the mock waits session - 1 s for members to rejoin
        c.host = "127.0.0.1";
        c.consumer_port = 0;
        return c;
    }

    static consumer::app_options options(bool http = false) {
        consumer::app_options o;
        o.consumer_id = "test-consumer";
        o.serve_http = http;
        o.backoff_max = 1000ms;
        if (const char* s = std::getenv("TEST_ASSIGNOR")) o.assignment_strategy = s;
        return o;
    }

    std::unique_ptr<consumer::app> start_consumer(const std::string& group = {},
                                                  bool http = false) {
        auto app = std::make_unique<consumer::app>(config(group), options(http));
        app->start();
        return app;
    }

    event make_event(const std::string& device = "6f1c2a4e-8b3d-4c5e-9f70-112233445566") {
        event e;
        e.id = pulsestream::core::random_uuid_v4(rng_);
        e.client_id = *pulsestream::core::parse_uuid("00000000-0000-4000-8000-000000000001");
        e.device_id = *pulsestream::core::parse_uuid(device);
        e.event_type = "temperature";
        e.value = 21.5;
        e.timestamp_ms = now_ms() - 3'600'000;  // an hour-old backlog is still valid
        e.received_at_ms = e.timestamp_ms + 10;
        return e;
    }

    std::string random_device() {
        return pulsestream::core::to_string(pulsestream::core::random_uuid_v4(rng_));
    }

    /// Produces and waits for every delivery report.
    static void produce(const std::string& topic, std::vector<kafka::message> messages) {
        auto delivered =
            producer_->async_produce_all(topic, std::move(messages), boost::asio::use_future);
        ASSERT_EQ(delivered.wait_for(30s), std::future_status::ready);
        delivered.get();
    }

    void produce_events(const std::vector<event>& events) {
        std::vector<kafka::message> messages;
        for (const auto& e : events) {
            messages.push_back({pulsestream::core::to_string(e.device_id),
                                pulsestream::core::to_kafka_value(e),
                                {}});
        }
        produce(topic_, std::move(messages));
    }

    /// A thread producing `per_round` fresh events (new device and id each) to topic_ every
    /// `pace` until `stop`, adding them to `produced`. Ids come from its own seeded generator.
    /// The sum of pulsestream_consumer_lag over all partitions in a /metrics text.
    static double total_lag(const std::string& exposition) {
        double sum = 0;
        std::istringstream lines(exposition);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("pulsestream_consumer_lag{", 0) == 0) {
                sum += std::stod(line.substr(line.rfind(' ') + 1));
            }
        }
        return sum;
    }

    std::thread produce_in_background(std::atomic<bool>& stop, std::atomic<int>& produced,
                                      std::uint64_t seed, int per_round,
                                      std::chrono::milliseconds pace) {
        return std::thread([this, &stop, &produced, seed, per_round, pace] {
            std::mt19937_64 rng(seed);
            while (!stop) {
                std::vector<kafka::message> messages;
                for (int i = 0; i < per_round; ++i) {
                    auto e = make_event(
                        pulsestream::core::to_string(pulsestream::core::random_uuid_v4(rng)));
                    e.id = pulsestream::core::random_uuid_v4(rng);
                    messages.push_back({pulsestream::core::to_string(e.device_id),
                                        pulsestream::core::to_kafka_value(e),
                                        {}});
                }
                produce(topic_, std::move(messages));
                produced += per_round;
                std::this_thread::sleep_for(pace);  // pacing of the load, not a wait for a condition
            }
        });
    }

    std::int64_t rows(const std::string& where = "true") const {
        pqxx::connection conn(url_);
        pqxx::nontransaction tx(conn);
        return tx.exec("SELECT count(*) FROM events WHERE " + where)[0][0].as<std::int64_t>();
    }

    /// Rows once the count has reached `expected` (or whatever it is at the deadline), then
    /// checked to stay there a moment (a second batch would have to come from a redelivery).
    std::int64_t await_rows(std::int64_t expected, std::chrono::milliseconds deadline = 30s) const {
        std::int64_t n = 0;
        wait_until(
            [&] {
                try {
                    n = rows();
                } catch (const std::exception&) {
                    n = -1;
                }
                return n >= expected;
            },
            deadline, 50ms);
        return n;
    }

    void exec(const std::string& sql) const {
        pqxx::connection conn(url_);
        pqxx::work tx(conn);
        tx.exec(sql);
        tx.commit();
    }

    /// Every record of `topic` (all partitions) once at least `expected` have been read, or at
    /// the deadline.
    static std::vector<read_record> read_topic(const std::string& topic, int partitions,
                                               std::size_t expected,
                                               std::chrono::milliseconds deadline = 20s) {
        std::vector<read_record> out;
        char err[512];
        kafka::conf_ptr conf(rd_kafka_conf_new());
        rd_kafka_conf_set(conf.get(), "bootstrap.servers", cluster_->bootstrap_servers().c_str(),
                          err, sizeof err);
        rd_kafka_conf_set(conf.get(), "group.id", "reader", err, sizeof err);
        rd_kafka_conf_set(conf.get(), "enable.partition.eof", "false", err, sizeof err);
        kafka::handle_ptr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), err, sizeof err));
        kafka::partition_list_ptr list(rd_kafka_topic_partition_list_new(partitions));
        for (int p = 0; p < partitions; ++p) {
            rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_assign(rk.get(), list.get());
        const auto end = std::chrono::steady_clock::now() + deadline;
        while (out.size() < expected && std::chrono::steady_clock::now() < end) {
            kafka::message_ptr msg(rd_kafka_consumer_poll(rk.get(), 100));
            if (!msg || msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
            read_record r;
            if (msg->key != nullptr) {
                r.key = std::string(static_cast<const char*>(msg->key), msg->key_len);
            }
            r.value = std::string(static_cast<const char*>(msg->payload), msg->len);
            r.partition = msg->partition;
            r.offset = msg->offset;
            r.headers = consumer::headers_of(*msg);
            out.push_back(std::move(r));
        }
        rd_kafka_consumer_close(rk.get());
        return out;
    }

    /// The high watermark of a partition, asked of the broker: records ever written to it.
    static std::int64_t end_offset(const std::string& topic, int partition) {
        char err[512];
        kafka::conf_ptr conf(rd_kafka_conf_new());
        rd_kafka_conf_set(conf.get(), "bootstrap.servers", cluster_->bootstrap_servers().c_str(),
                          err, sizeof err);
        kafka::handle_ptr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof err));
        std::int64_t low = -1;
        std::int64_t high = -1;
        EXPECT_EQ(rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), partition, &low, &high,
                                                   10000),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
        return high;
    }

    /// The offsets `group` committed for every partition of the raw topic (-1: none).
    std::vector<std::int64_t> committed(const std::string& group) const {
        char err[512];
        kafka::conf_ptr conf(rd_kafka_conf_new());
        rd_kafka_conf_set(conf.get(), "bootstrap.servers", cluster_->bootstrap_servers().c_str(),
                          err, sizeof err);
        rd_kafka_conf_set(conf.get(), "group.id", group.c_str(), err, sizeof err);
        kafka::handle_ptr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), err, sizeof err));
        kafka::partition_list_ptr list(rd_kafka_topic_partition_list_new(raw_partitions));
        for (int p = 0; p < raw_partitions; ++p) {
            rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p);
        }
        std::vector<std::int64_t> out(raw_partitions, -1);
        if (rd_kafka_committed(rk.get(), list.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (int i = 0; i < list->cnt; ++i) {
                out[static_cast<std::size_t>(list->elems[i].partition)] =
                    list->elems[i].offset < 0 ? -1 : list->elems[i].offset;
            }
        }
        rd_kafka_consumer_close(rk.get());
        return out;
    }

    /// True once `group` has committed the end offset of every non-empty raw partition.
    bool all_committed(const std::string& group) const {
        const auto offsets = committed(group);
        for (int p = 0; p < raw_partitions; ++p) {
            const auto end = end_offset(topic_, p);
            if (end > 0 && offsets[static_cast<std::size_t>(p)] != end) return false;
        }
        return true;
    }

    static inline int databases_ = 0;
    static inline std::unique_ptr<mock_cluster> cluster_;
    static inline std::unique_ptr<kafka::producer> producer_;
    std::string url_;
    std::string topic_;
    std::string dlq_topic_;
    std::string group_;
    std::mt19937_64 rng_{7};
};

TEST_F(consumer_pipeline, original_defect_1_refused_row_of_five_goes_to_dlq_and_four_are_stored) {
    exec("ALTER TABLE events ADD CONSTRAINT no_bad CHECK (event_type <> 'refuse-me')");
    std::vector<event> events;
    for (int i = 0; i < 5; ++i) events.push_back(make_event());  // one device: one partition
    events[2].event_type = "refuse-me";
    produce_events(events);

    auto app = start_consumer();
    EXPECT_EQ(await_rows(4), 4);
    const auto dlq = read_topic(dlq_topic_, 1, 1);
    ASSERT_EQ(dlq.size(), 1U);
    EXPECT_EQ(dlq[0].header("dlq.error.class"), "constraint");
    EXPECT_NE(dlq[0].header("dlq.error.message").find("no_bad"), std::string::npos);
    EXPECT_EQ(dlq[0].value, pulsestream::core::to_kafka_value(events[2]));
    EXPECT_EQ(dlq[0].key, pulsestream::core::to_string(events[2].device_id));
    EXPECT_EQ(dlq[0].header("dlq.source.offset"), "2");
    EXPECT_TRUE(wait_until([&] { return all_committed(group_); }, 15s));
    const auto offsets = committed(group_);
    EXPECT_EQ(*std::max_element(offsets.begin(), offsets.end()), 5);  // past all five
    EXPECT_EQ(rows("event_type = 'refuse-me'"), 0);
    app->shutdown(20s);
}

TEST_F(consumer_pipeline, poison_pills_go_to_the_dlq_with_their_headers_and_never_block) {
    const std::string device = random_device();
    auto valid1 = make_event(device);
    auto invalid = make_event(device);
    invalid.event_type = "x";  // shorter than 2 characters
    auto valid2 = make_event(device);
    auto replayed = make_event(device);
    replayed.event_type = "y";
    std::vector<kafka::message> messages{
        {device, pulsestream::core::to_kafka_value(valid1), {}},
        {device, "this is not json", {{"trace", "abc"}}},
        {device, R"({"deviceId":"6f1c2a4e-8b3d-4c5e-9f70-112233445566"})", {}},
        {device, pulsestream::core::to_kafka_value(invalid), {}},
        {device, pulsestream::core::to_kafka_value(valid2), {}},
        {device, pulsestream::core::to_kafka_value(replayed), {{"dlq.replay.count", "2"}}},
    };
    produce(topic_, std::move(messages));
    const auto started = now_ms();

    auto app = start_consumer();
    EXPECT_EQ(await_rows(2), 2);
    auto dlq = read_topic(dlq_topic_, 1, 4);
    ASSERT_EQ(dlq.size(), 4U);
    std::sort(dlq.begin(), dlq.end(), [](const read_record& a, const read_record& b) {
        return std::stoll(a.header("dlq.source.offset")) <
               std::stoll(b.header("dlq.source.offset"));
    });
    EXPECT_EQ(dlq[0].header("dlq.error.class"), "parse");
    EXPECT_EQ(dlq[0].value, "this is not json");
    EXPECT_EQ(dlq[0].header("trace"), "abc");  // the record's own headers are kept
    EXPECT_EQ(dlq[1].header("dlq.error.class"), "parse");
    EXPECT_EQ(dlq[2].header("dlq.error.class"), "validation");
    EXPECT_NE(dlq[2].header("dlq.error.message").find("eventType"), std::string::npos)
        << dlq[2].header("dlq.error.message");
    EXPECT_EQ(dlq[3].header("dlq.error.class"), "validation");
    EXPECT_EQ(dlq[3].header("dlq.replay.count"), "2");  // carried over, not incremented
    for (const auto& r : dlq) {
        EXPECT_EQ(r.key, device);
        EXPECT_EQ(r.header("dlq.source.topic"), topic_);
        EXPECT_EQ(r.header("dlq.consumer"), "test-consumer");
        EXPECT_NE(r.header("dlq.source.partition"), "<absent>");
        EXPECT_GT(std::stoll(r.header("dlq.source.timestamp")), started - 60'000);
        EXPECT_GE(std::stoll(r.header("dlq.failed.at")), started);
        EXPECT_NE(r.header("dlq.error.message"), "");
    }
    EXPECT_EQ(dlq[0].header("dlq.source.offset"), "1");
    EXPECT_EQ(dlq[0].header("dlq.replay.count"), "0");
    // Nothing blocks the partition: a record produced afterwards is stored too.
    produce_events({make_event(device)});
    EXPECT_EQ(await_rows(3), 3);
    EXPECT_TRUE(wait_until([&] { return all_committed(group_); }, 15s));
    app->shutdown(20s);
}

TEST_F(consumer_pipeline, original_defect_10_a_new_group_reads_the_backlog) {
    std::vector<event> events;
    for (int i = 0; i < 2000; ++i) events.push_back(make_event(random_device()));
    produce_events(events);  // before any member of the group exists

    auto app = start_consumer();
    EXPECT_EQ(await_rows(2000), 2000);
    EXPECT_TRUE(wait_until([&] { return all_committed(group_); }, 15s));
    app->shutdown(20s);
}

TEST_F(consumer_pipeline, the_same_records_delivered_twice_are_stored_once) {
    std::vector<event> events;
    for (int i = 0; i < 1000; ++i) events.push_back(make_event(random_device()));
    produce_events(events);
    auto first = start_consumer();
    ASSERT_EQ(await_rows(1000), 1000);
    ASSERT_TRUE(wait_until([&] { return all_committed(group_); }, 15s));
    first->shutdown(20s);

    // Every record again: a second group reads the topic from the start, and the same values
    // are produced once more (a producer retry).
    produce_events(events);
    auto second = start_consumer(group_ + ".again");
    ASSERT_TRUE(wait_until([&] { return all_committed(group_ + ".again"); }, 30s));
    EXPECT_EQ(rows(), 1000);
    const auto metrics = second->metrics().serialize();
    EXPECT_NE(metrics.find("pulsestream_consumer_duplicates_skipped_total 2000"), std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("pulsestream_consumer_rows_inserted_total 0"), std::string::npos);
    second->shutdown(20s);
    EXPECT_EQ(end_offset(dlq_topic_, 0), 0);
}

// The next batch is taken while the previous one is written (batch_loop's overlap); offsets
// must still follow the database: while one write is held back by a table lock, nothing of it
// or of the batch taken after it is committed.
TEST_F(consumer_pipeline, offsets_stay_behind_database_commits_while_the_next_batch_is_taken) {
    auto app = start_consumer();
    std::vector<event> first;
    for (int i = 0; i < 50; ++i) first.push_back(make_event(random_device()));
    produce_events(first);
    ASSERT_EQ(await_rows(50), 50);
    ASSERT_TRUE(wait_until([&] { return all_committed(group_); }, 15s));
    const auto before = committed(group_);
    const auto batches = [&] {
        const auto text = app->metrics().serialize();
        const std::string name = "pulsestream_consumer_batch_size_count ";
        const auto at = text.find(name);
        return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size()));
    };
    const auto batches_before = batches();

    pqxx::connection blocker(url_);
    pqxx::work lock(blocker);
    lock.exec("LOCK TABLE events IN SHARE MODE");  // inserts wait; count(*) does not
    std::vector<event> more;
    for (int i = 0; i < 1500; ++i) more.push_back(make_event(random_device()));
    produce_events(more);
    const auto writers_waiting = [&] {
        pqxx::connection conn(url_);
        pqxx::nontransaction tx(conn);
        return tx.exec("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                       " WHERE NOT l.granted AND a.application_name = 'pulsestream-consumer'")[0][0]
            .as<int>();
    };
    // One batch is stuck in its write and the loop has taken (and planned) the next one.
    ASSERT_TRUE(wait_until(
        [&] { return writers_waiting() >= 1 && batches() >= batches_before + 2; }, 20s, 20ms));
    EXPECT_EQ(rows(), 50);
    EXPECT_EQ(committed(group_), before);

    lock.abort();
    EXPECT_EQ(await_rows(1550), 1550);
    EXPECT_TRUE(wait_until([&] { return all_committed(group_); }, 15s));
    EXPECT_EQ(rows(), 1550);
    app->shutdown(20s);
    EXPECT_EQ(end_offset(dlq_topic_, 0), 0);
}

TEST_F(consumer_pipeline,
       original_defect_2_database_outage_under_load_loses_nothing_and_dlqs_nothing) {
    // The capture goes in before the app starts and ends after the app is gone: the app's
    // threads log from their start, and the default logger must not change under them.
    std::unique_ptr<consumer::app> app;
    const log_capture log([&] { app.reset(); });
    app = start_consumer();
    std::atomic<bool> stop{false};
    std::atomic<int> produced{0};
    std::thread load = produce_in_background(stop, produced, 99, 50, 20ms);
    ASSERT_TRUE(wait_until([&] { return rows() >= 500; }, 30s));

    pg_->stop();
    // The consumer notices, rolls back and retries with back-off; readiness goes 503.
    EXPECT_TRUE(wait_until(
        [&] {
            return app->metrics().serialize().find("pulsestream_consumer_db_retries_total 0") ==
                       std::string::npos &&
                   !app->health().ready();
        },
        20s));
    // Down for a few seconds under load: several retries with growing back-off.
    EXPECT_TRUE(wait_until(
        [&] {
            return app->metrics().serialize().find("pulsestream_consumer_db_retries_total 5") !=
                   std::string::npos;
        },
        30s));
    EXPECT_FALSE(app->health().ready());
    // The lag shows the backlog while it grows (it stood still at its last value before: the
    // loop only measured it when idle or after a commit, and an outage is neither).
    const auto lag = [&] { return total_lag(app->metrics().serialize()); };
    const auto lag_before = lag();
    EXPECT_TRUE(wait_until([&] { return lag() >= lag_before + 500; }, 20s))
        << "lag stayed at " << lag() << " while records kept arriving";
    pg_->start_again();

    stop = true;
    load.join();
    const int total = produced.load();
    EXPECT_EQ(await_rows(total, 60s), total);
    EXPECT_TRUE(wait_until([&] { return all_committed(group_); }, 30s));
    EXPECT_TRUE(wait_until([&] { return lag() == 0; }, 15s)) << "lag " << lag();
    EXPECT_EQ(rows(), total);
    EXPECT_EQ(end_offset(dlq_topic_, 0), 0);  // nothing dead-lettered
    EXPECT_TRUE(wait_until([&] { return app->health().ready(); }, 15s));
    // Each failure was a warning; the end of the outage is one line too.
    EXPECT_EQ(log.lines_starting("database usable again, after "), 1U);
    app->shutdown(20s);
}

TEST_F(consumer_pipeline, shutdown_while_the_database_is_down_abandons_the_batch_uncommitted) {
    std::vector<event> events;
    for (int i = 0; i < 300; ++i) events.push_back(make_event(random_device()));
    produce_events(events);
    auto app = start_consumer();
    ASSERT_EQ(await_rows(300), 300);
    ASSERT_TRUE(wait_until([&] { return all_committed(group_); }, 15s));
    const auto before = committed(group_);

    pg_->stop();
    std::vector<event> more;
    for (int i = 0; i < 300; ++i) more.push_back(make_event(random_device()));
    produce_events(more);
    ASSERT_TRUE(wait_until(
        [&] {
            return app->metrics().serialize().find("pulsestream_consumer_db_retries_total 0") ==
                   std::string::npos;
        },
        20s));
    // Stop mid-retry: nothing of the unstored batch may be committed.
    EXPECT_TRUE(app->shutdown(10s));
    EXPECT_FALSE(app->failed());
    EXPECT_EQ(committed(group_), before);

    pg_->start_again();
    auto next = start_consumer();
    EXPECT_EQ(await_rows(600), 600);
    EXPECT_TRUE(wait_until([&] { return all_committed(group_); }, 15s));
    EXPECT_EQ(end_offset(dlq_topic_, 0), 0);
    next->shutdown(20s);
}

TEST_F(consumer_pipeline, members_joining_and_leaving_under_load_store_every_record_once) {
    auto first = start_consumer();
    std::atomic<bool> stop{false};
    std::atomic<int> produced{0};
    std::thread load = produce_in_background(stop, produced, 5, 100, 10ms);
    ASSERT_TRUE(wait_until([&] { return rows() >= 1000; }, 30s));
    auto second = start_consumer();  // joins: partitions move
    ASSERT_TRUE(wait_until([&] { return second->batches_committed() > 0; }, 30s));
    auto third = start_consumer();
    ASSERT_TRUE(wait_until([&] { return third->batches_committed() > 0; }, 30s));
    first->shutdown(20s);  // leaves: its partitions move again
    first.reset();
    const auto before = rows();
    ASSERT_TRUE(wait_until([&] { return rows() >= before + 1000; }, 30s));
    stop = true;
    load.join();
    const int total = produced.load();
    EXPECT_EQ(await_rows(total, 60s), total);
    EXPECT_TRUE(wait_until([&] { return all_committed(group_); }, 30s));
    EXPECT_EQ(rows(), total);
    second->shutdown(20s);
    third->shutdown(20s);
}

TEST_F(consumer_pipeline, http_health_is_up_only_when_ready_and_metrics_are_served) {
    auto app = start_consumer({}, true);
    ASSERT_NE(app->port(), 0);
    auto get = [&](const std::string& target) {
        boost::asio::io_context ioc;
        boost::asio::ip::tcp::socket socket(ioc);
        socket.connect({boost::asio::ip::make_address("127.0.0.1"), app->port()});
        namespace http = boost::beast::http;
        http::request<http::empty_body> req{http::verb::get, target, 11};
        req.set(http::field::host, "127.0.0.1");
        http::write(socket, req);
        boost::beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(socket, buffer, res);
        return std::make_pair(res.result_int(), res.body());
    };
    // Live as soon as the loop thread turns (it starts right after start() returns).
    EXPECT_TRUE(wait_until([&] { return get("/healthz").first == 200; }, 15s));
    produce_events({make_event()});
    ASSERT_EQ(await_rows(1), 1);
    ASSERT_TRUE(wait_until([&] { return get("/readyz").first == 200; }, 15s));
    const auto health = get("/health");
    EXPECT_EQ(health.first, 200U);
    const auto body = nlohmann::json::parse(health.second);
    EXPECT_EQ(body.at("status"), "UP");
    EXPECT_EQ(body.at("service"), "pulsestream-consumer");
    // The row is visible in PostgreSQL before the loop has finished the batch (the write runs
    // on its own thread; the counters and the lag move after the offset commit), so await them.
    std::pair<unsigned, std::string> metrics;
    EXPECT_TRUE(wait_until(
        [&] {
            metrics = get("/metrics");
            return metrics.second.find("pulsestream_consumer_rows_inserted_total 1") !=
                       std::string::npos &&
                   metrics.second.find("pulsestream_consumer_lag{partition=") != std::string::npos;
        },
        15s));
    EXPECT_EQ(metrics.first, 200U);
    for (const char* name :
         {"pulsestream_consumer_events_processed_total 1",
          "pulsestream_consumer_events_failed_total",
          "pulsestream_consumer_db_write_duration_seconds", "pulsestream_consumer_batch_size",
          "pulsestream_consumer_rows_inserted_total 1",
          "pulsestream_consumer_duplicates_skipped_total",
          "pulsestream_consumer_dlq_total{class=\"constraint\"}",
          "pulsestream_consumer_db_retries_total", "pulsestream_consumer_lag{partition="}) {
        EXPECT_NE(metrics.second.find(name), std::string::npos) << name;
    }
    EXPECT_EQ(get("/nope").first, 404U);

    // Draining: not ready any more.
    app->health().draining();
    EXPECT_EQ(get("/health").first, 503U);
    EXPECT_EQ(nlohmann::json::parse(get("/readyz").second).at("draining"), true);
    app->shutdown(20s);
}

}  // namespace
