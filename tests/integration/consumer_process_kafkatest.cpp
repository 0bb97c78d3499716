// The pulsestream-consumer binary as child processes against a private PostgreSQL 15 and the
// mock cluster: SIGTERM drains and exits 0 with offsets committed; three members of one group,
// one SIGKILLed mid-batch, still store every record exactly once (defect 10: a dead member).
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pulsestream/core/event.hpp"
#include "pulsestream/devbroker/mock_cluster.hpp"
#include "pulsestream/kafka/handles.hpp"
#include "pulsestream/kafka/producer.hpp"
#include "support/child_process.hpp"
#include "support/ports.hpp"
#include "support/postgres_instance.hpp"
#include "support/postgres_suite.hpp"
#include "support/services.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
using pulsestream::devbroker::mock_cluster;
using pulsestream::test_support::child_process;
using pulsestream::test_support::postgres_instance;
using pulsestream::test_support::postgres_suite;
using pulsestream::test_support::service_gate;
using pulsestream::test_support::temp_dir;
using pulsestream::test_support::wait_until;
namespace kafka = pulsestream::kafka;

constexpr int partitions = 8;

std::filesystem::path consumer_binary() {
    return std::filesystem::path(PULSESTREAM_BINARY_DIR) / "src/consumer/pulsestream-consumer";
}

/// Status of GET `target` on 127.0.0.1:`port`, 0 when nothing answers within a second.
unsigned http_status(std::uint16_t port, const std::string& target) {
    namespace http = boost::beast::http;
    try {
        boost::asio::io_context ioc;
        boost::beast::tcp_stream stream(ioc);
        stream.expires_after(1s);
        stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
        http::request<http::empty_body> req{http::verb::get, target, 11};
        req.set(http::field::host, "127.0.0.1");
        http::write(stream, req);
        boost::beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        return res.result_int();
    } catch (const std::exception&) {
        return 0;
    }
}

class consumer_process : public postgres_suite<consumer_process> {
protected:
    static void SetUpTestSuite() {
        if (!start_postgres()) return;
        cluster_ = std::make_unique<mock_cluster>(1);
        kafka::producer_config pc;
        pc.brokers = cluster_->bootstrap_servers();
        pc.linger_ms = 2;
        producer_ = std::make_unique<kafka::producer>(std::move(pc));
        logs_.emplace("pulsestream-consumer-process-");
    }
    static void TearDownTestSuite() {
        producer_.reset();
        cluster_.reset();
        pg_.reset();
        logs_.reset();
    }

    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        ASSERT_TRUE(std::filesystem::exists(consumer_binary()))
            << consumer_binary() << " is missing: build the pulsestream-consumer target";
        const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        url_ = pg_->create_database("c" + std::to_string(++databases_));
        topic_ = "raw." + name;
        dlq_topic_ = "dlq." + name;
        group_ = "group." + name;
        cluster_->create_topic(topic_, partitions, 1);
        cluster_->create_topic(dlq_topic_, 1, 1);
    }

    struct member {
        child_process process;
        std::uint16_t port = 0;
        std::filesystem::path log;
    };

    member spawn(const std::string& name) {
        member m;
        m.port = pulsestream::test_support::free_tcp_port();
        m.log = logs_->path() / (name + ".log");
        pulsestream::test_support::spawn_options options;
        options.argv = {consumer_binary().string()};
        options.log_file = m.log;
        options.env = {
            {"DATABASE_URL", url_},      {"KAFKA_BROKERS", cluster_->bootstrap_servers()},
            {"KAFKA_TOPIC", topic_},     {"KAFKA_DLQ_TOPIC", dlq_topic_},
            {"KAFKA_GROUP_ID", group_},  {"KAFKA_SESSION_TIMEOUT_MS", "3000"},
            {"BATCH_MAX_EVENTS", "200"}, {"BATCH_MAX_WAIT_MS", "100"},
            {"HOST", "127.0.0.1"},       {"CONSUMER_PORT", std::to_string(m.port)},
            {"LOG_LEVEL", "info"},       {"LOG_FORMAT", "text"},
        };
        m.process = child_process::spawn(options);
        return m;
    }

    /// Produces `count` valid events of random devices; returns when all are acknowledged.
    void produce(int count, std::mt19937_64& rng) {
        std::vector<kafka::message> messages;
        for (int i = 0; i < count; ++i) {
            pulsestream::core::event e;
            e.id = pulsestream::core::random_uuid_v4(rng);
            e.client_id = *pulsestream::core::parse_uuid("00000000-0000-4000-8000-000000000001");
            e.device_id = pulsestream::core::random_uuid_v4(rng);
            e.event_type = "temperature";
            e.value = i;
            e.timestamp_ms = 1'700'000'000'000 + i;
            e.received_at_ms = e.timestamp_ms + 5;
            messages.push_back({pulsestream::core::to_string(e.device_id),
                                pulsestream::core::to_kafka_value(e),
                                {}});
        }
        auto delivered =
            producer_->async_produce_all(topic_, std::move(messages), boost::asio::use_future);
        ASSERT_EQ(delivered.wait_for(30s), std::future_status::ready);
        delivered.get();
    }

    std::int64_t rows() const {
        try {
            pqxx::connection conn(url_);
            pqxx::nontransaction tx(conn);
            return tx.exec("SELECT count(*) FROM events")[0][0].as<std::int64_t>();
        } catch (const std::exception&) {
            return -1;
        }
    }

    static std::int64_t end_offset(const std::string& topic, int partition) {
        char err[512];
        kafka::conf_ptr conf(rd_kafka_conf_new());
        rd_kafka_conf_set(conf.get(), "bootstrap.servers", cluster_->bootstrap_servers().c_str(),
                          err, sizeof err);
        kafka::handle_ptr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof err));
        std::int64_t low = -1;
        std::int64_t high = -1;
        rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), partition, &low, &high, 10000);
        return high;
    }

    /// True once the group committed the end offset of every partition.
    bool all_committed() const {
        char err[512];
        kafka::conf_ptr conf(rd_kafka_conf_new());
        rd_kafka_conf_set(conf.get(), "bootstrap.servers", cluster_->bootstrap_servers().c_str(),
                          err, sizeof err);
        rd_kafka_conf_set(conf.get(), "group.id", group_.c_str(), err, sizeof err);
        kafka::handle_ptr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), err, sizeof err));
        kafka::partition_list_ptr list(rd_kafka_topic_partition_list_new(partitions));
        for (int p = 0; p < partitions; ++p) {
            rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p);
        }
        bool all = rd_kafka_committed(rk.get(), list.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int i = 0; all && i < list->cnt; ++i) {
            all = list->elems[i].offset == end_offset(topic_, list->elems[i].partition);
        }
        rd_kafka_consumer_close(rk.get());
        return all;
    }

    static inline int databases_ = 0;
    static inline std::unique_ptr<mock_cluster> cluster_;
    static inline std::unique_ptr<kafka::producer> producer_;
    static inline std::optional<temp_dir> logs_;
    std::string url_;
    std::string topic_;
    std::string dlq_topic_;
    std::string group_;
};

TEST_F(consumer_process, sigterm_drains_commits_offsets_leaves_the_group_and_exits_zero) {
    std::mt19937_64 rng(1);
    produce(3000, rng);
    auto consumer = spawn("single");
    ASSERT_TRUE(wait_until([&] { return rows() == 3000; }, 30s))
        << rows() << "\n"
        << pulsestream::test_support::tail_of_file(consumer.log);
    EXPECT_TRUE(wait_until([&] { return http_status(consumer.port, "/health") == 200; }, 10s));
    EXPECT_EQ(http_status(consumer.port, "/healthz"), 200U);

    ASSERT_TRUE(consumer.process.signal(SIGTERM));
    const auto status = consumer.process.wait_exit(20s);
    ASSERT_TRUE(status.has_value()) << "still running after SIGTERM";
    EXPECT_TRUE(status->exited() && status->exit_code() == 0)
        << status->describe() << "\n"
        << pulsestream::test_support::tail_of_file(consumer.log);
    EXPECT_TRUE(all_committed());
    const auto log = pulsestream::test_support::tail_of_file(consumer.log, 50);
    EXPECT_NE(log.find("leaving consumer group"), std::string::npos) << log;
    EXPECT_EQ(end_offset(dlq_topic_, 0), 0);
}

TEST_F(consumer_process, bad_configuration_exits_2_listing_every_error) {
    pulsestream::test_support::spawn_options options;
    options.argv = {consumer_binary().string()};
    options.log_file = logs_->path() / "badconfig.log";
    options.env = {{"BATCH_MAX_EVENTS", "zero"}, {"CONSUMER_PORT", "99999"}};
    auto process = child_process::spawn(options);
    const auto status = process.wait_exit(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(status->exited() && status->exit_code() == 2) << status->describe();
    const auto log = pulsestream::test_support::tail_of_file(options.log_file);
    EXPECT_NE(log.find("BATCH_MAX_EVENTS"), std::string::npos) << log;
    EXPECT_NE(log.find("CONSUMER_PORT"), std::string::npos) << log;
}

TEST_F(consumer_process, three_members_one_killed_mid_batch_every_record_stored_exactly_once) {
    std::vector<member> members;
    for (int i = 0; i < 3; ++i) members.push_back(spawn("member" + std::to_string(i)));

    std::atomic<bool> stop{false};
    std::atomic<int> produced{0};
    std::thread load([&] {
        std::mt19937_64 rng(2);
        while (!stop) {
            produce(200, rng);
            produced += 200;
            std::this_thread::sleep_for(5ms);  // pacing of the load, not a wait
        }
    });
    // Every member holds partitions and is writing: the group is settled and busy.
    const bool settled = wait_until(
        [&] {
            for (auto& m : members) {
                if (http_status(m.port, "/readyz") != 200) return false;
            }
            return rows() > 2000;
        },
        40s, 100ms);
    if (!settled) {
        stop = true;
        load.join();
        FAIL() << "group never settled\n"
               << pulsestream::test_support::tail_of_file(members[0].log);
    }
    // A member under continuous load is between poll and commit almost all the time.
    ASSERT_TRUE(members[1].process.signal(SIGKILL));
    const auto killed_at = rows();
    // The survivors take its partitions over once its session times out, and go on.
    EXPECT_TRUE(wait_until([&] { return rows() > killed_at + 5000; }, 40s));
    stop = true;
    load.join();

    const auto total = produced.load();
    EXPECT_TRUE(wait_until([&] { return rows() >= total; }, 60s)) << rows() << " of " << total;
    EXPECT_TRUE(wait_until([&] { return all_committed(); }, 30s));
    EXPECT_EQ(rows(), total);  // the primary key makes "at least once" exactly one row
    EXPECT_EQ(end_offset(dlq_topic_, 0), 0);
    for (std::size_t i : {0U, 2U}) {
        members[i].process.signal(SIGTERM);
        const auto status = members[i].process.wait_exit(20s);
        ASSERT_TRUE(status.has_value());
        EXPECT_TRUE(status->exited() && status->exit_code() == 0) << status->describe();
    }
}

}  // namespace
