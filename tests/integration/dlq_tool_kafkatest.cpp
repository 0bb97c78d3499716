// pulsestream-dlq as a child process against the mock cluster: list (text and JSON, every
// header), replay by offset and --all with dlq.replay.count incremented, --dry-run, and the
// refusal of records replayed --max-replays times.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <boost/asio/use_future.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "pulsestream/consumer/batch.hpp"
#include "pulsestream/consumer/dlq.hpp"
#include "pulsestream/devbroker/mock_cluster.hpp"
#include "pulsestream/kafka/handles.hpp"
#include "pulsestream/kafka/producer.hpp"
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using pulsestream::devbroker::mock_cluster;
using pulsestream::test_support::child_process;
using pulsestream::test_support::temp_dir;
namespace consumer = pulsestream::consumer;
namespace kafka = pulsestream::kafka;

std::filesystem::path dlq_binary() {
    return std::filesystem::path(PULSESTREAM_BINARY_DIR) / "tools/dlq/pulsestream-dlq";
}

struct run_result {
    int exit_code = -1;
    std::string output;
};

struct read_record {
    std::optional<std::string> key;
    std::string value;
    kafka::header_list headers;
};

class dlq_tool : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        cluster_ = std::make_unique<mock_cluster>(1);
        kafka::producer_config pc;
        pc.brokers = cluster_->bootstrap_servers();
        producer_ = std::make_unique<kafka::producer>(std::move(pc));
        dir_.emplace("pulsestream-dlq-tool-");
    }
    static void TearDownTestSuite() {
        producer_.reset();
        cluster_.reset();
        dir_.reset();
    }

    void SetUp() override {
        ASSERT_TRUE(std::filesystem::exists(dlq_binary()))
            << dlq_binary() << " is missing: build the pulsestream-dlq target";
        const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        raw_ = "raw." + name;
        dlq_ = "dlq." + name;
        cluster_->create_topic(raw_, 2, 1);
        cluster_->create_topic(dlq_, 1, 1);
    }

    run_result run(std::vector<std::string> args) {
        const auto log = dir_->path() / ("run" + std::to_string(++runs_) + ".log");
        pulsestream::test_support::spawn_options options;
        options.argv = {dlq_binary().string(), "--dlq-topic", dlq_, "--target", raw_};
        options.argv.insert(options.argv.end(), args.begin(), args.end());
        options.env = {{"KAFKA_BROKERS", cluster_->bootstrap_servers()}};
        options.log_file = log;
        auto process = child_process::spawn(options);
        const auto status = process.wait_exit(60s);
        run_result result;
        if (status && status->exited()) result.exit_code = status->exit_code();
        std::ifstream in(log);
        std::stringstream text;
        text << in.rdbuf();
        result.output = text.str();
        return result;
    }

    /// Produces three DLQ records: replay counts 0, 3 and 1.
    void fill_dlq() {
        std::vector<kafka::message> messages;
        const int counts[] = {0, 3, 1};
        for (int i = 0; i < 3; ++i) {
            consumer::source_record source;
            source.topic = raw_;
            source.partition = 1;
            source.offset = 10 + i;
            source.timestamp_ms = 1'700'000'000'000;
            source.key = "device-" + std::to_string(i);
            source.value = "value\t" + std::to_string(i);
            source.headers = {{"trace", "t" + std::to_string(i)}};
            if (counts[i] > 0)
                source.headers.emplace_back("dlq.replay.count", std::to_string(counts[i]));
            messages.push_back(consumer::make_dlq_message(std::move(source),
                                                          consumer::failure_class::validation,
                                                          "eventType: too short", "tester", 42));
        }
        auto delivered =
            producer_->async_produce_all(dlq_, std::move(messages), boost::asio::use_future);
        ASSERT_EQ(delivered.wait_for(30s), std::future_status::ready);
        delivered.get();
    }

    /// Every record of the raw topic once `expected` were read (or after 10 s).
    std::vector<read_record> read_raw(std::size_t expected) {
        char err[512];
        kafka::conf_ptr conf(rd_kafka_conf_new());
        rd_kafka_conf_set(conf.get(), "bootstrap.servers", cluster_->bootstrap_servers().c_str(),
                          err, sizeof err);
        rd_kafka_conf_set(conf.get(), "group.id", "reader", err, sizeof err);
        kafka::handle_ptr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), err, sizeof err));
        kafka::partition_list_ptr list(rd_kafka_topic_partition_list_new(2));
        for (int p = 0; p < 2; ++p) {
            rd_kafka_topic_partition_list_add(list.get(), raw_.c_str(), p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_assign(rk.get(), list.get());
        std::vector<read_record> out;
        const auto end = std::chrono::steady_clock::now() + 10s;
        while (out.size() < expected && std::chrono::steady_clock::now() < end) {
            kafka::message_ptr msg(rd_kafka_consumer_poll(rk.get(), 100));
            if (!msg || msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
            read_record r;
            if (msg->key != nullptr)
                r.key.emplace(static_cast<const char*>(msg->key), msg->key_len);
            r.value.assign(static_cast<const char*>(msg->payload), msg->len);
            r.headers = consumer::headers_of(*msg);
            out.push_back(std::move(r));
        }
        rd_kafka_consumer_close(rk.get());
        return out;
    }

    std::int64_t raw_records() {
        std::int64_t total = 0;
        char err[512];
        kafka::conf_ptr conf(rd_kafka_conf_new());
        rd_kafka_conf_set(conf.get(), "bootstrap.servers", cluster_->bootstrap_servers().c_str(),
                          err, sizeof err);
        kafka::handle_ptr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof err));
        for (int p = 0; p < 2; ++p) {
            std::int64_t low = 0;
            std::int64_t high = 0;
            EXPECT_EQ(
                rd_kafka_query_watermark_offsets(rk.get(), raw_.c_str(), p, &low, &high, 10000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
            total += high;
        }
        return total;
    }

    static inline std::unique_ptr<mock_cluster> cluster_;
    static inline std::unique_ptr<kafka::producer> producer_;
    static inline std::optional<temp_dir> dir_;
    static inline int runs_ = 0;
    std::string raw_;
    std::string dlq_;
};

TEST_F(dlq_tool, list_prints_every_record_with_key_offset_and_headers) {
    fill_dlq();
    const auto json = run({"list", "--json"});
    ASSERT_EQ(json.exit_code, 0) << json.output;
    const auto begin = json.output.find("[\n");
    const auto end = json.output.rfind(']');
    ASSERT_NE(begin, std::string::npos) << json.output;
    const auto records = nlohmann::json::parse(json.output.substr(begin, end - begin + 1));
    ASSERT_EQ(records.size(), 3U);
    EXPECT_EQ(records[1].at("offset"), 1);
    EXPECT_EQ(records[1].at("key"), "device-1");
    EXPECT_EQ(records[1].at("value"), "value\t1");
    const auto& headers = records[1].at("headers");
    EXPECT_EQ(headers.at("trace"), "t1");
    EXPECT_EQ(headers.at("dlq.error.class"), "validation");
    EXPECT_EQ(headers.at("dlq.error.message"), "eventType: too short");
    EXPECT_EQ(headers.at("dlq.source.topic"), raw_);
    EXPECT_EQ(headers.at("dlq.source.partition"), "1");
    EXPECT_EQ(headers.at("dlq.source.offset"), "11");
    EXPECT_EQ(headers.at("dlq.source.timestamp"), "1700000000000");
    EXPECT_EQ(headers.at("dlq.consumer"), "tester");
    EXPECT_EQ(headers.at("dlq.failed.at"), "42");
    EXPECT_EQ(headers.at("dlq.replay.count"), "3");

    const auto text = run({"list"});
    ASSERT_EQ(text.exit_code, 0) << text.output;
    EXPECT_NE(text.output.find("partition 0 offset 2 key device-2"), std::string::npos)
        << text.output;
    EXPECT_NE(text.output.find("dlq.error.class: validation"), std::string::npos);
    EXPECT_NE(text.output.find("3 record(s)"), std::string::npos);
}

TEST_F(dlq_tool, replay_increments_the_count_refuses_past_the_limit_and_dry_run_produces_nothing) {
    fill_dlq();
    const auto dry = run({"replay", "--offset", "0", "--offset", "1", "--dry-run"});
    EXPECT_EQ(dry.exit_code, 1) << dry.output;  // offset 1 was replayed 3 times already
    EXPECT_NE(dry.output.find("would replay 0:0"), std::string::npos) << dry.output;
    EXPECT_NE(dry.output.find("refused 0:1: already replayed 3 time(s)"), std::string::npos);
    EXPECT_EQ(raw_records(), 0);

    const auto one = run({"replay", "--offset", "0"});
    ASSERT_EQ(one.exit_code, 0) << one.output;
    auto raw = read_raw(1);
    ASSERT_EQ(raw.size(), 1U);
    EXPECT_EQ(raw[0].key, "device-0");
    EXPECT_EQ(raw[0].value, "value\t0");
    EXPECT_EQ(std::string(consumer::find_header(raw[0].headers, "dlq.replay.count").value_or("")),
              "1");
    EXPECT_EQ(std::string(consumer::find_header(raw[0].headers, "trace").value_or("")), "t0");
    EXPECT_FALSE(
        consumer::find_header(raw[0].headers, "dlq.error.class"));  // only the count travels

    const auto all = run({"replay", "--all", "--max-replays", "3"});
    EXPECT_EQ(all.exit_code, 1) << all.output;  // the record replayed 3 times is refused
    raw = read_raw(3);
    ASSERT_EQ(raw.size(), 3U);
    EXPECT_EQ(raw_records(), 3);
    int with_count_two = 0;
    for (const auto& r : raw) {
        EXPECT_NE(r.key, "device-1");
        if (consumer::find_header(r.headers, "dlq.replay.count") == "2") ++with_count_two;
    }
    EXPECT_EQ(with_count_two, 1);  // device-2 went from 1 to 2

    EXPECT_EQ(run({"replay", "--offset", "7"}).exit_code, 1);  // no such record
    EXPECT_EQ(run({"replay"}).exit_code, 2);                   // nothing chosen
}

}  // namespace
