// The development broker against real librdkafka clients: the in-process mock_cluster with the
// producer settings of DESIGN.md §5 and a consumer-group member, its fault injection as the
// gateway's tests will use it, and the pulsestream-devbroker binary as a child process.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pulsestream/devbroker/control.hpp"
#include "pulsestream/devbroker/mock_cluster.hpp"
#include "support/fd_guard.hpp"
#include "support/tcp_sockets.hpp"
#include "support/wait.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using pulsestream::devbroker::mock_cluster;
using clock_type = std::chrono::steady_clock;

const std::string raw_topic{mock_cluster::default_topic};

// ---------------------------------------------------------------- librdkafka RAII handles

struct conf_deleter {
    void operator()(rd_kafka_conf_t* conf) const noexcept { rd_kafka_conf_destroy(conf); }
};
struct producer_deleter {
    void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
};
struct consumer_deleter {
    void operator()(rd_kafka_t* rk) const noexcept {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
};
struct message_deleter {
    void operator()(rd_kafka_message_t* msg) const noexcept { rd_kafka_message_destroy(msg); }
};
struct partition_list_deleter {
    void operator()(rd_kafka_topic_partition_list_t* list) const noexcept {
        rd_kafka_topic_partition_list_destroy(list);
    }
};
struct metadata_deleter {
    void operator()(const rd_kafka_metadata_t* md) const noexcept { rd_kafka_metadata_destroy(md); }
};

using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;
using producer_ptr = std::unique_ptr<rd_kafka_t, producer_deleter>;
using consumer_ptr = std::unique_ptr<rd_kafka_t, consumer_deleter>;
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;
using partition_list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, partition_list_deleter>;
using metadata_ptr = std::unique_ptr<const rd_kafka_metadata_t, metadata_deleter>;

using settings = std::vector<std::pair<std::string, std::string>>;

conf_ptr make_conf(const settings& values) {
    conf_ptr conf(rd_kafka_conf_new());
    std::array<char, 512> errstr{};
    for (const auto& [key, value] : values) {
        if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr.data(),
                              errstr.size()) != RD_KAFKA_CONF_OK) {
            ADD_FAILURE() << key << "=" << value << ": " << errstr.data();
        }
    }
    return conf;
}

// Poll `step` until `done` holds or the deadline passes; returns whether it holds.
bool poll_until(std::chrono::milliseconds timeout, const std::function<bool()>& done,
                const std::function<void()>& step) {
    const auto deadline = clock_type::now() + timeout;
    while (!done()) {
        if (clock_type::now() >= deadline) {
            return false;
        }
        step();
    }
    return true;
}

// ---------------------------------------------------------------- producer with delivery log

struct delivery {
    rd_kafka_resp_err_t err;
    std::string key;
    std::string value;
    std::int32_t partition;
    std::int64_t offset;
};

// Delivery reports arrive on the thread calling rd_kafka_poll(), i.e. the test thread.
class test_producer {
public:
    test_producer(const std::string& bootstrap, const settings& extra = {}) {
        settings values{{"bootstrap.servers", bootstrap},
                        {"acks", "all"},
                        {"enable.idempotence", "true"},
                        {"partitioner", "murmur2_random"},
                        {"compression.type", "lz4"},
                        {"linger.ms", "5"},
                        // Reconnect fast after a broker comes back (the default backs off to 10 s).
                        {"reconnect.backoff.ms", "50"},
                        {"reconnect.backoff.max.ms", "500"}};
        values.insert(values.end(), extra.begin(), extra.end());
        conf_ptr conf = make_conf(values);
        rd_kafka_conf_set_dr_msg_cb(conf.get(), &test_producer::on_delivery);
        rd_kafka_conf_set_opaque(conf.get(), this);
        std::array<char, 512> errstr{};
        rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size()));
        if (rk_) {
            conf.release();  // owned by rk_ now
        } else {
            ADD_FAILURE() << "rd_kafka_new: " << errstr.data();
        }
    }

    rd_kafka_resp_err_t produce(const std::string& topic, const std::string& key,
                                const std::string& value,
                                std::int32_t partition = RD_KAFKA_PARTITION_UA) {
        // rd_kafka_produceva: the RD_KAFKA_V_* macros of producev are C casts.
        std::array<rd_kafka_vu_t, 5> args{};
        args[0].vtype = RD_KAFKA_VTYPE_TOPIC;
        args[0].u.cstr = topic.c_str();
        args[1].vtype = RD_KAFKA_VTYPE_PARTITION;
        args[1].u.i32 = partition;
        args[2].vtype = RD_KAFKA_VTYPE_KEY;
        args[2].u.mem = {const_cast<char*>(key.data()), key.size()};
        args[3].vtype = RD_KAFKA_VTYPE_VALUE;
        args[3].u.mem = {const_cast<char*>(value.data()), value.size()};
        args[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
        args[4].u.i = RD_KAFKA_MSG_F_COPY;
        rd_kafka_error_t* error = rd_kafka_produceva(rk_.get(), args.data(), args.size());
        if (error == nullptr) {
            return RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        return code;
    }

    // Waits until `count` reports in total have arrived.
    bool wait_for_reports(std::size_t count, std::chrono::milliseconds timeout) {
        return poll_until(
            timeout, [&] { return reports_.size() >= count; },
            [&] { rd_kafka_poll(rk_.get(), 50); });
    }

    // Polls for `window` and returns whether any report arrived (used to assert "no ack").
    bool any_report_within(std::chrono::milliseconds window) {
        const std::size_t before = reports_.size();
        return wait_for_reports(before + 1, window);
    }

    const std::vector<delivery>& reports() const { return reports_; }
    rd_kafka_t* handle() const { return rk_.get(); }

private:
    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
        auto* self = static_cast<test_producer*>(opaque);
        self->reports_.push_back(
            delivery{msg->err, std::string(static_cast<const char*>(msg->key), msg->key_len),
                     std::string(static_cast<const char*>(msg->payload), msg->len), msg->partition,
                     msg->offset});
    }

    std::vector<delivery> reports_;
    producer_ptr rk_;
};

std::size_t count_errors(const std::vector<delivery>& reports, std::size_t from = 0) {
    std::size_t errors = 0;
    for (std::size_t i = from; i < reports.size(); ++i) {
        errors += reports[i].err != RD_KAFKA_RESP_ERR_NO_ERROR ? 1 : 0;
    }
    return errors;
}

consumer_ptr make_consumer(const std::string& bootstrap, const std::string& group) {
    conf_ptr conf = make_conf({{"bootstrap.servers", bootstrap},
                               {"group.id", group},
                               {"auto.offset.reset", "earliest"},
                               {"enable.auto.commit", "false"},
                               // The mock delays a group's first join by 3 s and every
                               // later rebalance by session.timeout.ms - 1 s; below ~3 s
                               // the first join never completes.
                               {"session.timeout.ms", "6000"}});
    std::array<char, 512> errstr{};
    consumer_ptr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr.data(), errstr.size()));
    if (!rk) {
        ADD_FAILURE() << "rd_kafka_new consumer: " << errstr.data();
        return rk;
    }
    conf.release();
    rd_kafka_poll_set_consumer(rk.get());
    return rk;
}

std::int32_t leader_of(rd_kafka_t* rk, const std::string& topic, std::int32_t partition) {
    const rd_kafka_metadata_t* raw = nullptr;
    if (rd_kafka_metadata(rk, 1, nullptr, &raw, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return -1;
    }
    metadata_ptr md(raw);
    for (int t = 0; t < md->topic_cnt; ++t) {
        if (topic == md->topics[t].topic) {
            for (int p = 0; p < md->topics[t].partition_cnt; ++p) {
                if (md->topics[t].partitions[p].id == partition) {
                    return md->topics[t].partitions[p].leader;
                }
            }
        }
    }
    return -1;
}

// ---------------------------------------------------------------- (a) produce + group consume

TEST(DevbrokerMockCluster, KeyedMessagesRoundTripThroughAConsumerGroup) {
    mock_cluster cluster(3);
    cluster.create_default_topics();
    const auto status = cluster.status();
    ASSERT_EQ(status.topics.size(), 2U);
    EXPECT_EQ(status.topics[0].partitions, mock_cluster::default_partitions);
    EXPECT_EQ(status.topics[0].replication, 3);

    constexpr std::size_t n = 1000;
    constexpr int keys = 50;
    test_producer producer(cluster.bootstrap_servers());
    std::map<std::string, std::string> expected;  // value -> key
    for (std::size_t i = 0; i < n; ++i) {
        const std::string key = "device-" + std::to_string(i % keys);
        const std::string value = "value-" + std::to_string(i);
        ASSERT_EQ(producer.produce(raw_topic, key, value), RD_KAFKA_RESP_ERR_NO_ERROR);
        expected[value] = key;
    }
    ASSERT_TRUE(producer.wait_for_reports(n, 30s)) << producer.reports().size() << " of " << n;
    ASSERT_EQ(count_errors(producer.reports()), 0U);

    // murmur2_random is the Java client's partitioner: the same key always maps to
    // murmur2(key) % partitions.
    std::map<std::string, std::int32_t> produced_partition;
    for (const auto& report : producer.reports()) {
        EXPECT_EQ(report.partition, rd_kafka_msg_partitioner_murmur2(
                                        nullptr, report.key.data(), report.key.size(),
                                        mock_cluster::default_partitions, nullptr, nullptr))
            << report.key;
        produced_partition[report.key] = report.partition;
    }

    consumer_ptr consumer = make_consumer(cluster.bootstrap_servers(), "devbroker-test-group");
    ASSERT_TRUE(consumer);
    partition_list_ptr topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), raw_topic.c_str(), RD_KAFKA_PARTITION_UA);
    ASSERT_EQ(rd_kafka_subscribe(consumer.get(), topics.get()), RD_KAFKA_RESP_ERR_NO_ERROR);

    std::map<std::string, std::string> received;                   // value -> key
    std::map<std::string, std::set<std::int32_t>> key_partitions;  // key -> partitions seen
    std::map<std::int32_t, std::int64_t> last_offset;              // partition -> offset
    const bool all_seen = poll_until(
        60s, [&] { return received.size() >= n; },
        [&] {
            message_ptr msg(rd_kafka_consumer_poll(consumer.get(), 100));
            if (!msg || msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                return;
            }
            const std::string key(static_cast<const char*>(msg->key), msg->key_len);
            const std::string value(static_cast<const char*>(msg->payload), msg->len);
            received[value] = key;
            key_partitions[key].insert(msg->partition);
            last_offset[msg->partition] = std::max(last_offset[msg->partition], msg->offset);
        });
    ASSERT_TRUE(all_seen) << received.size() << " of " << n << " received";
    EXPECT_EQ(received, expected);
    ASSERT_EQ(key_partitions.size(), static_cast<std::size_t>(keys));
    for (const auto& [key, partitions] : key_partitions) {
        ASSERT_EQ(partitions.size(), 1U) << key << " spread over partitions";
        EXPECT_EQ(*partitions.begin(), produced_partition[key]) << key;
    }

    ASSERT_EQ(rd_kafka_commit(consumer.get(), nullptr, 0 /* sync */), RD_KAFKA_RESP_ERR_NO_ERROR);
    partition_list_ptr committed(rd_kafka_topic_partition_list_new(8));
    for (std::int32_t p = 0; p < mock_cluster::default_partitions; ++p) {
        rd_kafka_topic_partition_list_add(committed.get(), raw_topic.c_str(), p);
    }
    ASSERT_EQ(rd_kafka_committed(consumer.get(), committed.get(), 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    std::int64_t committed_total = 0;
    for (int i = 0; i < committed->cnt; ++i) {
        const auto& tp = committed->elems[i];
        std::int64_t low = 0;
        std::int64_t high = 0;
        ASSERT_EQ(rd_kafka_query_watermark_offsets(consumer.get(), raw_topic.c_str(), tp.partition,
                                                   &low, &high, 5000),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
        if (last_offset.count(tp.partition) == 0) {
            EXPECT_EQ(high, 0) << "partition " << tp.partition;
            continue;
        }
        EXPECT_EQ(tp.offset, last_offset[tp.partition] + 1) << "partition " << tp.partition;
        EXPECT_EQ(tp.offset, high) << "partition " << tp.partition;
        committed_total += tp.offset - low;
    }
    EXPECT_EQ(committed_total, static_cast<std::int64_t>(n));
}

// Like Kafka and Redpanda, the mock brokers answer without Nagle's algorithm: with it an answer
// can wait in the kernel for the client's ACK of the one before, which slowed the gateway's
// acks=all produces in its benchmarks (docs/BENCHMARKS.md, "Nagle's algorithm").
TEST(DevbrokerMockCluster, AcceptedConnectionsHaveNagleOff) {
    using pulsestream::test_support::connected_tcp_sockets;
    using pulsestream::test_support::has_tcp_nodelay;
    mock_cluster cluster(1);
    const auto broker_port = pulsestream::test_support::last_port(cluster.bootstrap_servers());

    const int client = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(client, 0);
    const pulsestream::test_support::fd_guard client_guard{client};
    sockaddr_in broker{};
    broker.sin_family = AF_INET;
    broker.sin_port = htons(broker_port);
    broker.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&broker), sizeof broker), 0)
        << std::strerror(errno);
    sockaddr_in local{};
    socklen_t local_size = sizeof local;
    ASSERT_EQ(::getsockname(client, reinterpret_cast<sockaddr*>(&local), &local_size), 0);
    const auto client_port = ntohs(local.sin_port);

    // The broker's end of this connection: in this process, peer port = the client's port.
    int accepted = -1;
    ASSERT_TRUE(pulsestream::test_support::wait_until(
        [&] {
            for (const auto& s : connected_tcp_sockets()) {
                if (s.local_port == broker_port && s.peer_port == client_port) accepted = s.fd;
            }
            return accepted >= 0;
        },
        10s))
        << "the mock broker did not accept the connection";
    EXPECT_TRUE(has_tcp_nodelay(accepted));
    EXPECT_FALSE(has_tcp_nodelay(client)) << "a fresh socket has Nagle on, so the check can tell";
}

// ---------------------------------------------------------------- (b) faults

TEST(DevbrokerMockCluster, RejectsBadArgumentsWithClearErrors) {
    mock_cluster cluster(2);
    cluster.create_topic("t", 2, 3);  // replication capped at 2 brokers
    EXPECT_EQ(cluster.status().topics.at(0).replication, 2);
    try {
        cluster.create_topic("t", 2, 1);
        ADD_FAILURE() << "duplicate topic accepted";
    } catch (const pulsestream::devbroker::mock_error& e) {
        EXPECT_EQ(e.code(), RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
        EXPECT_NE(std::string(e.what()).find("create_topic t"), std::string::npos) << e.what();
    }
    EXPECT_THROW(cluster.broker_down(3), pulsestream::devbroker::mock_error);
    EXPECT_THROW(cluster.set_rtt(0, 10), pulsestream::devbroker::mock_error);
    EXPECT_THROW(cluster.set_partition_leader("t", 2, 1), pulsestream::devbroker::mock_error);
    EXPECT_THROW(cluster.set_partition_leader("unknown", 0, 1), pulsestream::devbroker::mock_error);
    EXPECT_THROW(mock_cluster(0), pulsestream::devbroker::mock_error);
}

class DevbrokerFaults : public ::testing::Test {
protected:
    void SetUp() override { cluster_.create_default_topics(); }

    // A producer that has delivered one message: metadata, producer id and connections exist
    // before the fault. `message_timeout` bounds how long librdkafka retries a message.
    std::unique_ptr<test_producer> warm_producer(std::chrono::milliseconds message_timeout) {
        auto producer = std::make_unique<test_producer>(
            cluster_.bootstrap_servers(),
            settings{{"message.timeout.ms", std::to_string(message_timeout.count())}});
        EXPECT_EQ(producer->produce(raw_topic, "warm", "up"), RD_KAFKA_RESP_ERR_NO_ERROR);
        EXPECT_TRUE(producer->wait_for_reports(1, 20s));
        EXPECT_EQ(count_errors(producer->reports()), 0U);
        return producer;
    }

    // Produces `count` messages and returns the index their reports will start at.
    static std::size_t produce_batch(test_producer& producer, int count,
                                     std::int32_t partition = RD_KAFKA_PARTITION_UA) {
        const std::size_t first = producer.reports().size();
        for (int i = 0; i < count; ++i) {
            EXPECT_EQ(producer.produce(raw_topic, "device-" + std::to_string(i),
                                       "fault-" + std::to_string(i), partition),
                      RD_KAFKA_RESP_ERR_NO_ERROR);
        }
        return first;
    }

    mock_cluster cluster_{3};
};

// The gateway's "broker down -> no ack -> 503": with every broker down nothing is acked; the
// messages fail with a timeout when message.timeout.ms runs out; after broker_up the same
// producer delivers again.
TEST_F(DevbrokerFaults, AllBrokersDownMeansNoAckThenTimeoutThenRecovery) {
    auto producer = warm_producer(3s);
    ASSERT_FALSE(HasFailure());
    cluster_.broker_down(mock_cluster::all_brokers);
    const std::size_t first = produce_batch(*producer, 10);
    EXPECT_FALSE(producer->any_report_within(1000ms)) << "acked while every broker was down";
    ASSERT_TRUE(producer->wait_for_reports(first + 10, 20s));
    for (std::size_t i = first; i < producer->reports().size(); ++i) {
        EXPECT_EQ(producer->reports()[i].err, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
            << rd_kafka_err2name(producer->reports()[i].err);
    }

    cluster_.broker_up(mock_cluster::all_brokers);
    const std::size_t after = produce_batch(*producer, 10);
    ASSERT_TRUE(producer->wait_for_reports(after + 10, 30s));
    EXPECT_EQ(count_errors(producer->reports(), after), 0U);
}

// Leaders are spread round-robin, so "down N" always stalls some partitions (the mock alone
// picks them at random, and a broker could lead none of a topic's 8).
TEST_F(DevbrokerFaults, EveryBrokerLeadsPartitionsRoundRobin) {
    auto producer = warm_producer(10s);
    ASSERT_FALSE(HasFailure());
    for (std::int32_t p = 0; p < mock_cluster::default_partitions; ++p) {
        EXPECT_EQ(leader_of(producer->handle(), raw_topic, p), p % cluster_.broker_count() + 1)
            << "partition " << p;
    }
}

// broker_down does not move leadership: only the partitions the broker leads stall; moving
// the leader with set_partition_leader lets the stalled messages through.
TEST_F(DevbrokerFaults, LeaderDownStallsItsPartitionUntilLeadershipMoves) {
    auto producer = warm_producer(60s);
    ASSERT_FALSE(HasFailure());
    const std::int32_t leader = leader_of(producer->handle(), raw_topic, 0);
    ASSERT_GE(leader, 1);
    const std::int32_t other = leader % cluster_.broker_count() + 1;
    std::int32_t other_partition = -1;
    for (std::int32_t p = 1; p < mock_cluster::default_partitions && other_partition < 0; ++p) {
        if (leader_of(producer->handle(), raw_topic, p) != leader) {
            other_partition = p;
        }
    }

    cluster_.broker_down(leader);
    const std::size_t stalled = produce_batch(*producer, 1, 0);
    EXPECT_FALSE(producer->any_report_within(1000ms)) << "partition 0 acked with its leader down";

    if (other_partition >= 0) {  // a partition led elsewhere still works
        produce_batch(*producer, 1, other_partition);
        ASSERT_TRUE(producer->wait_for_reports(stalled + 1, 10s));
        EXPECT_EQ(producer->reports().back().partition, other_partition);
        EXPECT_EQ(producer->reports().back().err, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    const std::size_t expected = producer->reports().size() + 1;
    cluster_.set_partition_leader(raw_topic, 0, other);
    ASSERT_TRUE(producer->wait_for_reports(expected, 30s));
    EXPECT_EQ(producer->reports().back().partition, 0);
    EXPECT_EQ(producer->reports().back().err, RD_KAFKA_RESP_ERR_NO_ERROR)
        << rd_kafka_err2name(producer->reports().back().err);
}

// A frozen broker: connected, but answers late. set_rtt holds the acks back; setting it to 0
// releases them.
TEST_F(DevbrokerFaults, RttHoldsAcksBackUntilCleared) {
    auto producer = warm_producer(60s);
    ASSERT_FALSE(HasFailure());
    cluster_.set_rtt(mock_cluster::all_brokers, 60000);
    const std::size_t first = produce_batch(*producer, 5);
    EXPECT_FALSE(producer->any_report_within(1500ms)) << "acked despite a 60 s rtt";
    cluster_.set_rtt(mock_cluster::all_brokers, 0);
    ASSERT_TRUE(producer->wait_for_reports(first + 5, 30s));
    EXPECT_EQ(count_errors(producer->reports(), first), 0U);
}

// Retriable produce errors (and dropped connections) are retried by librdkafka and end in
// success; a non-retriable one reaches the delivery report.
TEST_F(DevbrokerFaults, PushedProduceErrorsReachTheClient) {
    auto producer = warm_producer(60s);
    ASSERT_FALSE(HasFailure());
    cluster_.push_request_errors(
        pulsestream::devbroker::api_key::produce,
        {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR__TRANSPORT,
         RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
    std::size_t first = produce_batch(*producer, 1);
    ASSERT_TRUE(producer->wait_for_reports(first + 1, 30s));
    EXPECT_EQ(producer->reports().back().err, RD_KAFKA_RESP_ERR_NO_ERROR)
        << rd_kafka_err2name(producer->reports().back().err);

    cluster_.push_request_errors(pulsestream::devbroker::api_key::produce,
                                 {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED});
    first = produce_batch(*producer, 1);
    ASSERT_TRUE(producer->wait_for_reports(first + 1, 30s));
    EXPECT_EQ(producer->reports().back().err, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
        << rd_kafka_err2name(producer->reports().back().err);
}

// ---------------------------------------------------------------- control protocol

TEST(DevbrokerControl, ParsesAndRunsCommands) {
    using pulsestream::devbroker::run_control_line;
    mock_cluster cluster(3);
    cluster.create_default_topics(4);
    EXPECT_EQ(run_control_line(cluster, "down 2"), "ok down 2");
    EXPECT_EQ(run_control_line(cluster, "  rtt   all 25\r"), "ok rtt all 25");
    EXPECT_EQ(run_control_line(cluster, "error 0 3 7"),
              "ok error api-key=0 count=3 err=REQUEST_TIMED_OUT");
    EXPECT_EQ(run_control_line(cluster, "error 3 1 _TRANSPORT"),
              "ok error api-key=3 count=1 err=_TRANSPORT");
    EXPECT_EQ(run_control_line(cluster, "leader metrics.raw 3 1"), "ok leader metrics.raw 3 1");
    EXPECT_EQ(run_control_line(cluster, "status", "127.0.0.1:1"),
              "ok brokers=3 up=1,3 down=2 rtt=1:25,2:25,3:25 "
              "topics=metrics.raw:4:3,metrics.dlq:1:3 bootstrap=" +
                  cluster.bootstrap_servers() + " control=127.0.0.1:1");
    EXPECT_EQ(run_control_line(cluster, "up all"), "ok up all");
    for (const char* bad : {"", "down", "down x", "down 4", "rtt 1 -5", "error 0 0 7",
                            "error 0 1 NO_SUCH_ERROR", "leader nope 0 1", "frobnicate"}) {
        EXPECT_EQ(run_control_line(cluster, bad).rfind("error ", 0), 0U) << "'" << bad << "'";
    }
    // The commands took effect on the cluster, not just in the replies.
    EXPECT_TRUE(cluster.status().brokers.at(1).up);
}

// ---------------------------------------------------------------- (c) the binary

// A child process with piped stdin/stdout; killed and reaped on destruction if still running.
class child_process {
public:
    child_process(const std::vector<std::string>& argv, const std::string& stderr_path) {
        int in[2];
        int out[2];
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
            ADD_FAILURE() << "pipe2 failed";
            return;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        std::vector<char*> args;
        for (const auto& arg : argv) {
            args.push_back(const_cast<char*>(arg.c_str()));
        }
        args.push_back(nullptr);
        const int rc = posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(in[0]);
        ::close(out[1]);
        stdin_fd_ = in[1];
        stdout_fd_ = out[0];
        if (rc != 0) {
            pid_ = -1;
            ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(rc);
        }
    }

    ~child_process() {
        close_stdin();
        if (stdout_fd_ >= 0) {
            ::close(stdout_fd_);
        }
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    bool running() const { return pid_ > 0; }

    bool write_stdin(const std::string& text) {
        return ::write(stdin_fd_, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    }

    void close_stdin() {
        if (stdin_fd_ >= 0) {
            ::close(stdin_fd_);
            stdin_fd_ = -1;
        }
    }

    // The next stdout line (without '\n'), or nullopt at EOF or after the timeout.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
        const auto deadline = clock_type::now() + timeout;
        for (;;) {
            const auto newline = buffer_.find('\n');
            if (newline != std::string::npos) {
                std::string line = buffer_.substr(0, newline);
                buffer_.erase(0, newline + 1);
                return line;
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            pollfd pfd{stdout_fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
                return std::nullopt;
            }
            char chunk[4096];
            const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
            if (n <= 0) {
                return std::nullopt;
            }
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    // Sends `sig` and waits for the exit; returns the wait status, or nullopt on timeout.
    std::optional<int> stop(int sig, std::chrono::milliseconds timeout) {
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
        if (pidfd < 0 || ::kill(pid_, sig) != 0) {
            return std::nullopt;
        }
        pollfd pfd{pidfd, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
        ::close(pidfd);
        int status = 0;
        if (ready != 1 || ::waitpid(pid_, &status, 0) != pid_) {
            return std::nullopt;
        }
        pid_ = -1;
        return status;
    }

    // Whether the child has exited already (reaps it if so).
    bool exited() {
        int status = 0;
        if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return true;
        }
        return pid_ <= 0;
    }

private:
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    int stdout_fd_ = -1;
    std::string buffer_;
};

// A blocking loopback TCP line client with receive deadlines.
class line_client {
public:
    explicit line_client(const std::string& endpoint) {
        const auto colon = endpoint.rfind(':');
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
        ::inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr);
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ADD_FAILURE() << "connect " << endpoint << ": " << std::strerror(errno);
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~line_client() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    line_client(const line_client&) = delete;
    line_client& operator=(const line_client&) = delete;

    std::string call(const std::string& line, std::chrono::milliseconds timeout = 10s) {
        const std::string request = line + "\n";
        if (fd_ < 0 || ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
                           static_cast<ssize_t>(request.size())) {
            return "<send failed>";
        }
        const auto deadline = clock_type::now() + timeout;
        std::string reply;
        char c = 0;
        while (clock_type::now() < deadline) {
            pollfd pfd{fd_, POLLIN, 0};
            if (::poll(&pfd, 1, 100) == 1) {
                if (::recv(fd_, &c, 1, 0) != 1) {
                    return "<closed>";
                }
                if (c == '\n') {
                    return reply;
                }
                reply += c;
            }
        }
        return "<timeout>";
    }

private:
    int fd_ = -1;
};

std::string field(const std::string& status, const std::string& name) {
    std::istringstream in(status);
    std::string token;
    while (in >> token) {
        if (token.rfind(name + "=", 0) == 0) {
            return token.substr(name.size() + 1);
        }
    }
    return {};
}

struct temp_dir {
    temp_dir() { std::filesystem::create_directories(path); }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("devbroker-test-" + std::to_string(::getpid()));
};

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

TEST(DevbrokerBinary, ServesKafkaAndControlAndStopsOnSigterm) {
    const std::string binary = PULSESTREAM_BINARY_DIR "/tools/devbroker/pulsestream-devbroker";
    ASSERT_TRUE(std::filesystem::exists(binary)) << binary << " not built";
    std::signal(SIGPIPE, SIG_IGN);  // a dead child must fail the test, not kill it
    const temp_dir temp;
    const auto& dir = temp.path;
    const auto bootstrap_file = dir / "bootstrap";
    const auto stderr_file = dir / "stderr";

    child_process child({binary, "--brokers", "3", "--partitions", "4", "--bootstrap-file",
                         bootstrap_file.string(), "--control-port", "0"},
                        stderr_file.string());
    ASSERT_TRUE(child.running());
    const auto bootstrap = child.read_line(20s);
    ASSERT_TRUE(bootstrap.has_value()) << "no bootstrap line; stderr:\n" << read_file(stderr_file);
    EXPECT_EQ(std::count(bootstrap->begin(), bootstrap->end(), ','), 2) << *bootstrap;
    EXPECT_EQ(read_file(bootstrap_file), *bootstrap + "\n");

    // Control over stdin: replies on stdout.
    ASSERT_TRUE(child.write_stdin("status\n"));
    const auto status = child.read_line(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->rfind("ok brokers=3 up=1,2,3 down=- ", 0), 0U) << *status;
    EXPECT_EQ(field(*status, "topics"), "metrics.raw:4:3,metrics.dlq:1:3");
    EXPECT_EQ(field(*status, "bootstrap"), *bootstrap);
    const std::string control = field(*status, "control");
    ASSERT_FALSE(control.empty()) << *status;

    // Kafka through the binary: produce one message, read it back.
    {  // clients closed before the faults below
        test_producer producer(*bootstrap);
        ASSERT_EQ(producer.produce(raw_topic, "device-1", "through-the-binary"),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
        ASSERT_TRUE(producer.wait_for_reports(1, 20s));
        const delivery sent = producer.reports().front();
        ASSERT_EQ(sent.err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2name(sent.err);
        consumer_ptr consumer = make_consumer(*bootstrap, "devbroker-binary-test");
        ASSERT_TRUE(consumer);
        partition_list_ptr assignment(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(assignment.get(), raw_topic.c_str(), sent.partition)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
        ASSERT_EQ(rd_kafka_assign(consumer.get(), assignment.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
        std::string consumed;
        poll_until(
            20s, [&] { return !consumed.empty(); },
            [&] {
                message_ptr msg(rd_kafka_consumer_poll(consumer.get(), 100));
                if (msg && msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                    consumed.assign(static_cast<const char*>(msg->payload), msg->len);
                }
            });
        EXPECT_EQ(consumed, "through-the-binary");
    }

    // Control over the admin port; stdin at EOF must not stop the broker.
    child.close_stdin();
    line_client admin(control);
    EXPECT_EQ(admin.call("down 1"), "ok down 1");
    EXPECT_EQ(field(admin.call("status"), "down"), "1");
    EXPECT_EQ(admin.call("up 1"), "ok up 1");
    EXPECT_EQ(admin.call("rtt 2 5"), "ok rtt 2 5");
    EXPECT_EQ(admin.call("bogus").rfind("error ", 0), 0U);
    EXPECT_EQ(field(admin.call("status"), "down"), "-");
    EXPECT_FALSE(child.exited()) << "the broker stopped when stdin closed";

    const auto exit_status = child.stop(SIGTERM, 10s);
    ASSERT_TRUE(exit_status.has_value()) << "no exit within 10 s of SIGTERM";
    EXPECT_TRUE(WIFEXITED(*exit_status)) << "status " << *exit_status;
    EXPECT_EQ(WEXITSTATUS(*exit_status), 0);
    EXPECT_FALSE(std::filesystem::exists(bootstrap_file)) << "bootstrap file left behind";
    EXPECT_NE(read_file(stderr_file).find("never for production"), std::string::npos);
}

}  // namespace
