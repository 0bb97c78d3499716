// pulsestream::kafka::producer against the Kafka protocol (librdkafka's mock cluster through
// devbroker::mock_cluster): completions on the caller's strand, records read back by a plain
// librdkafka consumer, Java-compatible partitioning, headers, broker outages, a full queue,
// cancellation, and stop() with records in flight.

#include <pulsestream/devbroker/mock_cluster.hpp>
#include <pulsestream/kafka/error.hpp>
#include <pulsestream/kafka/handles.hpp>
#include <pulsestream/kafka/partitioner.hpp>
#include <pulsestream/kafka/producer.hpp>

#include "support/io_threads.hpp"
#include "support/tcp_sockets.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/system/errc.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace kafka = pulsestream::kafka;
using namespace std::chrono_literals;
using boost::system::error_code;
using pulsestream::devbroker::mock_cluster;
using pulsestream::test_support::io_threads;
using pulsestream::test_support::wait_until;
using clock_type = std::chrono::steady_clock;
using strand_type = io_threads::strand_type;

constexpr int partitions = 8;

// ---------------------------------------------------------------- helpers

kafka::producer_config config_for(const mock_cluster& cluster) {
    kafka::producer_config config;
    config.brokers = cluster.bootstrap_servers();
    config.linger_ms = 5;
    config.extra["log_level"] = "3";  // the fault tests provoke expected connection warnings
    return config;
}

// `metrics.raw` with the tests' partitions and a replica on every broker; returns its name.
std::string create_raw_topic(mock_cluster& cluster) {
    const std::string topic = "metrics.raw";
    cluster.create_topic(topic, partitions, cluster.broker_count());
    return topic;
}

std::string key_of(int i) { return "device-" + std::to_string(i % 500); }
std::string payload_of(int i) { return R"({"seq":)" + std::to_string(i) + "}"; }

struct consumed {
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::optional<std::string> key;
    std::string payload;
    kafka::header_list headers;
};

// Reads `topic` from the beginning with a plain librdkafka consumer (assign, no group
// membership) until `expected` records arrived or `deadline` passed.
std::vector<consumed> consume(const mock_cluster& cluster, const std::string& topic,
                              std::size_t expected, std::chrono::milliseconds deadline) {
    kafka::conf_ptr conf(rd_kafka_conf_new());
    std::array<char, 512> err{};
    for (const auto& [name, value] :
         std::map<std::string, std::string>{{"bootstrap.servers", cluster.bootstrap_servers()},
                                            {"group.id", "kafka-producer-test-reader"},
                                            {"enable.auto.commit", "false"},
                                            {"log_level", "3"}}) {
        if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err.data(), err.size()) !=
            RD_KAFKA_CONF_OK) {
            ADD_FAILURE() << name << ": " << err.data();
            return {};
        }
    }
    kafka::handle_ptr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err.data(), err.size()));
    if (!rk) {
        ADD_FAILURE() << "consumer: " << err.data();
        return {};
    }
    (void)conf.release();
    kafka::partition_list_ptr assignment(rd_kafka_topic_partition_list_new(partitions));
    for (int p = 0; p < partitions; ++p) {
        rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    if (rd_kafka_assign(rk.get(), assignment.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ADD_FAILURE() << "assign failed";
        return {};
    }

    std::vector<consumed> out;
    const auto end = clock_type::now() + deadline;
    while (out.size() < expected && clock_type::now() < end) {
        kafka::message_ptr msg(rd_kafka_consumer_poll(rk.get(), 100));
        if (!msg || msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            continue;
        }
        consumed c;
        c.partition = msg->partition;
        c.offset = msg->offset;
        if (msg->key != nullptr) {
            c.key.emplace(static_cast<const char*>(msg->key), msg->key_len);
        }
        c.payload.assign(static_cast<const char*>(msg->payload), msg->len);
        rd_kafka_headers_t* hdrs = nullptr;
        if (rd_kafka_message_headers(msg.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char* name = nullptr;
            const void* value = nullptr;
            std::size_t size = 0;
            for (std::size_t i = 0;
                 rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                 RD_KAFKA_RESP_ERR_NO_ERROR;
                 ++i) {
                c.headers.emplace_back(name, std::string(static_cast<const char*>(value), size));
            }
        }
        out.push_back(std::move(c));
    }
    rd_kafka_consumer_close(rk.get());
    return out;
}

// The result of one produce, written once by its completion handler.
struct outcome {
    error_code ec;
    kafka::delivery where;
    bool on_strand = false;
    std::thread::id thread;
};

// Completion bookkeeping shared between handlers (io threads) and the test thread.
struct outcomes {
    explicit outcomes(std::size_t n) : slots(n) {}

    void record(std::size_t i, error_code ec, kafka::delivery where, bool on_strand) {
        slots[i] = {ec, where, on_strand, std::this_thread::get_id()};
        calls[i].fetch_add(1);
        done.fetch_add(1, std::memory_order_release);
    }
    bool all_done() const { return done.load(std::memory_order_acquire) >= slots.size(); }

    std::vector<outcome> slots;
    std::vector<std::atomic<int>> calls = std::vector<std::atomic<int>>(slots.size());
    std::atomic<std::size_t> done{0};
};

asio::awaitable<void> produce_sequence(kafka::producer& producer, std::string topic,
                                       strand_type strand, outcomes& results, int first,
                                       int count) {
    for (int i = first; i < first + count; ++i) {
        auto [ec, where] = co_await producer.async_produce(topic, key_of(i), payload_of(i),
                                                           asio::as_tuple(asio::use_awaitable));
        results.record(static_cast<std::size_t>(i), ec, where, strand.running_in_this_thread());
    }
}

// Produces one record and waits for its success, so the producer is connected and knows the
// topic's leaders before a fault is injected.
void warm_up(kafka::producer& producer, const std::string& topic) {
    std::atomic<int> state{0};  // 0 pending, 1 ok, 2 failed
    producer.async_produce(topic, "warm-up", "{}", [&](error_code ec, kafka::delivery) {
        state = ec ? 2 : 1;
    });
    ASSERT_TRUE(wait_until([&] { return state != 0; }, 20s));
    ASSERT_EQ(state, 1);
}

// ---------------------------------------------------------------- partitioner and errors

TEST(kafka_partitioner, murmur2_matches_java_vectors) {
    // Kafka's UtilsTest.testMurmur2 and Akka's Murmur2Spec (values of Java's Utils.murmur2).
    const std::vector<std::pair<std::string, std::int32_t>> java = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
        {"1", -1993445489},
        {"12", 126087238},
        {"123", -267702483},
        {"1234", -1614185708},
        {"12345", -1188365604},
    };
    for (const auto& [key, hash] : java) {
        EXPECT_EQ(kafka::murmur2(key), hash) << key;
        EXPECT_EQ(kafka::partition_for_key(key, 8), (hash & 0x7fffffff) % 8) << key;
    }
    EXPECT_EQ(kafka::partition_for_key("x", 0), -1);
}

TEST(kafka_partitioner, partition_for_key_matches_librdkafka_murmur2) {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> len(0, 64);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int i = 0; i < 5000; ++i) {
        std::string key(static_cast<std::size_t>(len(rng)), '\0');
        for (char& c : key) {
            c = static_cast<char>(byte(rng));
        }
        for (const int count : {1, 3, 8, 12, 100}) {
            const int32_t expected = rd_kafka_msg_partitioner_murmur2(
                nullptr, key.data(), key.size(), count, nullptr, nullptr);
            ASSERT_EQ(kafka::partition_for_key(key, count), expected)
                << "key length " << key.size() << ", " << count << " partitions";
        }
    }
}

TEST(kafka_error, category_wraps_librdkafka_codes) {
    const error_code full = kafka::make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL);
    EXPECT_STREQ(full.category().name(), "rdkafka");
    EXPECT_EQ(full.message(), rd_kafka_err2str(RD_KAFKA_RESP_ERR__QUEUE_FULL));
    EXPECT_TRUE(kafka::is_kafka_error(full));
    EXPECT_EQ(kafka::resp_err(full), RD_KAFKA_RESP_ERR__QUEUE_FULL);
    EXPECT_EQ(full, boost::system::errc::no_buffer_space);
    EXPECT_EQ(kafka::make_error_code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT),
              boost::system::errc::timed_out);
    EXPECT_FALSE(kafka::make_error_code(RD_KAFKA_RESP_ERR_NO_ERROR));
    EXPECT_EQ(kafka::resp_err(asio::error::operation_aborted), RD_KAFKA_RESP_ERR_UNKNOWN);

    for (const auto e : {RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
                         RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
                         RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
                         RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                         RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR__PURGE_QUEUE}) {
        EXPECT_TRUE(kafka::is_retryable(kafka::make_error_code(e))) << rd_kafka_err2name(e);
    }
    for (const auto e : {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC,
                         RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__FATAL,
                         RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                         RD_KAFKA_RESP_ERR__INVALID_ARG, RD_KAFKA_RESP_ERR_NO_ERROR}) {
        EXPECT_FALSE(kafka::is_retryable(kafka::make_error_code(e))) << rd_kafka_err2name(e);
    }
    EXPECT_FALSE(kafka::is_retryable(asio::error::operation_aborted));
}

TEST(kafka_producer, rejects_bad_configuration_listing_every_problem) {
    kafka::producer_config config;
    config.brokers = "127.0.0.1:1";
    config.compression = "rot13";
    config.extra["no.such.property"] = "1";
    try {
        kafka::producer p(config);
        FAIL() << "constructor accepted a bad configuration";
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("compression.codec"), std::string::npos) << what;
        EXPECT_NE(what.find("no.such.property"), std::string::npos) << what;
    }
}

// ---------------------------------------------------------------- against the mock cluster

TEST(kafka_producer, concurrent_produces_complete_on_the_callers_strand_and_read_back) {
    mock_cluster cluster(3);
    const std::string topic = create_raw_topic(cluster);

    constexpr int total = 5000;
    constexpr int coroutines = 25;
    constexpr int per_coroutine = 100;  // 2,500 from coroutines, 2,500 from plain handlers
    outcomes results(total);
    std::atomic<int> coroutine_failures{0};
    io_threads io(2);
    kafka::producer producer(config_for(cluster));

    for (int c = 0; c < coroutines; ++c) {
        strand_type strand = io.make_strand();
        asio::co_spawn(strand,
                       produce_sequence(producer, topic, strand, results, c * per_coroutine,
                                        per_coroutine),
                       [&](std::exception_ptr e) {
                           if (e) {
                               ++coroutine_failures;
                           }
                       });
    }
    std::vector<strand_type> strands;
    for (int s = 0; s < 50; ++s) {
        strands.push_back(io.make_strand());
    }
    for (int i = coroutines * per_coroutine; i < total; ++i) {
        strand_type strand = strands[static_cast<std::size_t>(i) % strands.size()];
        // Initiate from the strand too, as a session would.
        asio::post(strand, [&, strand, i] {
            producer.async_produce(
                topic, key_of(i), payload_of(i),
                asio::bind_executor(strand, [&, strand, i](error_code ec, kafka::delivery d) {
                    results.record(static_cast<std::size_t>(i), ec, d,
                                   strand.running_in_this_thread());
                }));
        });
    }

    ASSERT_TRUE(wait_until([&] { return results.all_done(); }, 60s))
        << results.done.load() << " of " << total << " completed";
    EXPECT_EQ(coroutine_failures.load(), 0);

    std::set<std::pair<std::int32_t, std::int64_t>> positions;
    std::set<std::thread::id> threads;
    for (int i = 0; i < total; ++i) {
        const outcome& o = results.slots[static_cast<std::size_t>(i)];
        ASSERT_EQ(results.calls[static_cast<std::size_t>(i)].load(), 1) << i;
        ASSERT_FALSE(o.ec) << i << ": " << o.ec.message();
        EXPECT_TRUE(o.on_strand) << i;
        EXPECT_GE(o.where.offset, 0) << i;
        EXPECT_EQ(o.where.partition, kafka::partition_for_key(key_of(i), partitions)) << i;
        positions.emplace(o.where.partition, o.where.offset);
        threads.insert(o.thread);
    }
    EXPECT_EQ(positions.size(), static_cast<std::size_t>(total)) << "offsets are not distinct";
    EXPECT_LE(threads.size(), 2U);
    EXPECT_EQ(producer.queue_depth(), 0U);

    const auto records = consume(cluster, topic, total, 30s);
    ASSERT_EQ(records.size(), static_cast<std::size_t>(total));
    std::map<std::pair<std::int32_t, std::int64_t>, const consumed*> by_position;
    for (const consumed& c : records) {
        by_position.emplace(std::pair{c.partition, c.offset}, &c);
    }
    for (int i = 0; i < total; ++i) {
        const outcome& o = results.slots[static_cast<std::size_t>(i)];
        const auto it = by_position.find({o.where.partition, o.where.offset});
        ASSERT_NE(it, by_position.end()) << i;
        const consumed& c = *it->second;
        ASSERT_TRUE(c.key.has_value()) << i;
        EXPECT_EQ(*c.key, key_of(i));
        EXPECT_EQ(c.payload, payload_of(i));
        EXPECT_EQ(c.partition, kafka::partition_for_key(*c.key, partitions));
    }
    producer.stop();
}

TEST(kafka_producer, headers_null_keys_and_binary_values_round_trip) {
    mock_cluster cluster(1);
    const std::string topic = "metrics.dlq";
    cluster.create_topic(topic, partitions, 1);
    io_threads io(1);
    kafka::producer producer(config_for(cluster));

    const std::string binary("a\0b\xff", 4);
    const kafka::header_list headers = {{"dlq.error.class", "parse"},
                                        {"dlq.source.partition", "3"},
                                        {"dup", "first"},
                                        {"dup", "second"},
                                        {"empty", ""},
                                        {"binary", binary}};
    std::atomic<int> done{0};
    std::array<error_code, 2> ecs;
    strand_type strand = io.make_strand();
    producer.async_produce(topic, kafka::message{"device-1", binary, headers},
                           asio::bind_executor(strand, [&](error_code ec, kafka::delivery) {
                               ecs[0] = ec;
                               ++done;
                           }));
    producer.async_produce(topic, kafka::message{std::nullopt, "", {}},
                           asio::bind_executor(strand, [&](error_code ec, kafka::delivery) {
                               ecs[1] = ec;
                               ++done;
                           }));
    ASSERT_TRUE(wait_until([&] { return done == 2; }, 20s));
    ASSERT_FALSE(ecs[0]) << ecs[0].message();
    ASSERT_FALSE(ecs[1]) << ecs[1].message();

    const auto records = consume(cluster, topic, 2, 20s);
    ASSERT_EQ(records.size(), 2U);
    const consumed& with_key = records[0].key ? records[0] : records[1];
    const consumed& without_key = records[0].key ? records[1] : records[0];
    ASSERT_TRUE(with_key.key.has_value());
    EXPECT_EQ(*with_key.key, "device-1");
    EXPECT_EQ(with_key.payload, binary);
    EXPECT_EQ(with_key.headers, headers);
    EXPECT_FALSE(without_key.key.has_value());
    EXPECT_EQ(without_key.payload, "");
    EXPECT_TRUE(without_key.headers.empty());
}

// Each 202 waits for its ack: a produce request must leave at once, not wait in the kernel
// (Nagle's algorithm) for the broker to acknowledge the bytes of the one before it.
TEST(kafka_producer, broker_connections_have_nagle_off) {
    using pulsestream::test_support::connected_tcp_sockets;
    using pulsestream::test_support::has_tcp_nodelay;
    mock_cluster cluster(1);
    const std::string topic = create_raw_topic(cluster);
    const auto broker_port = pulsestream::test_support::last_port(cluster.bootstrap_servers());
    io_threads io(1);
    kafka::producer producer(config_for(cluster));
    warm_up(producer, topic);  // connected, and a produce request went out

    int producer_ends = 0;
    for (const auto& s : connected_tcp_sockets()) {
        if (s.peer_port != broker_port || s.local_port == broker_port) continue;  // not ours
        ++producer_ends;
        EXPECT_TRUE(has_tcp_nodelay(s.fd)) << "producer socket to port " << broker_port;
    }
    EXPECT_GE(producer_ends, 1);
}

TEST(kafka_producer, batch_completes_once_with_every_delivery_in_input_order) {
    mock_cluster cluster(3);
    const std::string topic = create_raw_topic(cluster);
    io_threads io(2);
    kafka::producer producer(config_for(cluster));
    strand_type strand = io.make_strand();

    constexpr int n = 300;
    std::vector<kafka::message> batch;
    for (int i = 0; i < n; ++i) {
        batch.push_back({key_of(i), payload_of(i), {{"seq", std::to_string(i)}}});
    }
    std::atomic<int> calls{0};
    error_code result;
    std::vector<kafka::delivery> deliveries;
    bool on_strand = false;
    producer.async_produce_all(
        topic, std::move(batch),
        asio::bind_executor(strand, [&](error_code ec, std::vector<kafka::delivery> d) {
            result = ec;
            deliveries = std::move(d);
            on_strand = strand.running_in_this_thread();
            ++calls;
        }));
    ASSERT_TRUE(wait_until([&] { return calls > 0; }, 30s));
    ASSERT_FALSE(result) << result.message();
    EXPECT_TRUE(on_strand);
    ASSERT_EQ(deliveries.size(), static_cast<std::size_t>(n));
    std::map<std::int32_t, std::int64_t> last_offset;
    for (int i = 0; i < n; ++i) {
        const kafka::delivery& d = deliveries[static_cast<std::size_t>(i)];
        EXPECT_EQ(d.partition, kafka::partition_for_key(key_of(i), partitions)) << i;
        // The idempotent producer keeps the order of records within a partition.
        auto [it, first] = last_offset.emplace(d.partition, d.offset);
        if (!first) {
            EXPECT_GT(d.offset, it->second) << i;
            it->second = d.offset;
        }
    }

    std::atomic<int> empty_calls{0};
    producer.async_produce_all(topic, {},
                               asio::bind_executor(strand, [&](error_code ec, auto d) {
                                   EXPECT_FALSE(ec);
                                   EXPECT_TRUE(d.empty());
                                   ++empty_calls;
                               }));
    ASSERT_TRUE(wait_until([&] { return empty_calls > 0; }, 5s));
    // Exactly once: give a stray second completion the chance to show up.
    producer.stop();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(empty_calls.load(), 1);
}

TEST(kafka_producer, a_batch_with_a_deadline_times_out_once_and_its_late_reports_are_harmless) {
    mock_cluster cluster(1);
    const std::string topic = create_raw_topic(cluster);
    io_threads io(2);
    kafka::producer producer(config_for(cluster));
    warm_up(producer, topic);
    strand_type strand = io.make_strand();

    // Acked in time: the deadline changes nothing.
    std::atomic<int> quick_calls{0};
    error_code quick_result;
    std::vector<kafka::delivery> quick_deliveries;
    producer.async_produce_all(
        topic, {{"k1", "v1", {}}, {"k2", "v2", {}}}, 10s,
        asio::bind_executor(strand, [&](error_code ec, std::vector<kafka::delivery> d) {
            quick_result = ec;
            quick_deliveries = std::move(d);
            ++quick_calls;
        }));
    ASSERT_TRUE(wait_until([&] { return quick_calls > 0; }, 10s));
    EXPECT_FALSE(quick_result) << quick_result.message();
    ASSERT_EQ(quick_deliveries.size(), 2U);
    EXPECT_GE(quick_deliveries[0].offset, 0);

    // A slow broker: the deadline wins, once, on the caller's strand, close to its time.
    cluster.set_rtt(mock_cluster::all_brokers, 1500);
    std::atomic<int> calls{0};
    error_code result;
    bool on_strand = false;
    std::chrono::milliseconds took{};
    const auto start = clock_type::now();
    producer.async_produce_all(
        topic, {{"late1", "a", {}}, {"late2", "b", {}}}, 200ms,
        asio::bind_executor(strand, [&](error_code ec, std::vector<kafka::delivery>) {
            took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
            result = ec;
            on_strand = strand.running_in_this_thread();
            ++calls;
        }));
    ASSERT_TRUE(wait_until([&] { return calls > 0; }, 1200ms));
    EXPECT_EQ(kafka::resp_err(result), RD_KAFKA_RESP_ERR__TIMED_OUT) << result.message();
    EXPECT_TRUE(kafka::is_retryable(result));
    EXPECT_TRUE(on_strand);
    EXPECT_GE(took, 195ms);
    EXPECT_LT(took, 600ms);

    // The records are still written; their late reports are dropped.
    cluster.set_rtt(mock_cluster::all_brokers, 0);
    EXPECT_FALSE(producer.flush(10s)) << "late reports did not arrive";
    EXPECT_EQ(calls.load(), 1);
    const auto records = consume(cluster, topic, 5, 20s);  // warm-up, k1, k2, late1, late2
    EXPECT_EQ(records.size(), 5U);
    producer.stop();
    EXPECT_EQ(calls.load(), 1);
}

TEST(kafka_producer, all_brokers_down_fails_every_record_after_message_timeout) {
    mock_cluster cluster(3);
    const std::string topic = create_raw_topic(cluster);
    io_threads io(2);
    auto config = config_for(cluster);
    config.message_timeout_ms = 2000;
    std::mutex sink_mutex;
    std::vector<error_code> client_errors;
    std::atomic<int> log_lines{0};
    config.on_error = [&](error_code ec, std::string_view) {
        std::lock_guard lock(sink_mutex);
        client_errors.push_back(ec);
    };
    config.on_log = [&](int, std::string_view, std::string_view) { ++log_lines; };
    kafka::producer producer(config);
    warm_up(producer, topic);

    cluster.broker_down(mock_cluster::all_brokers);
    constexpr int n = 50;
    outcomes results(n);
    strand_type strand = io.make_strand();
    const auto start = clock_type::now();
    for (int i = 0; i < n; ++i) {
        producer.async_produce(topic, key_of(i), payload_of(i),
                               asio::bind_executor(strand, [&, i](error_code ec, kafka::delivery d) {
                                   results.record(static_cast<std::size_t>(i), ec, d,
                                                  strand.running_in_this_thread());
                               }));
    }
    ASSERT_TRUE(wait_until([&] { return results.all_done(); }, 2000ms + 3000ms))
        << results.done.load() << " of " << n << " completed";
    const auto elapsed = clock_type::now() - start;
    for (int i = 0; i < n; ++i) {
        const outcome& o = results.slots[static_cast<std::size_t>(i)];
        ASSERT_TRUE(o.ec) << i << " succeeded with all brokers down";
        EXPECT_EQ(kafka::resp_err(o.ec), RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) << o.ec.message();
        EXPECT_TRUE(kafka::is_retryable(o.ec));
        EXPECT_TRUE(o.on_strand);
    }
    // The report comes from message.timeout.ms, not from an early local failure.
    EXPECT_GE(elapsed, 1500ms);
    producer.stop(0ms);
    // The outage also reached the optional sinks (error_cb on the poll thread, log_cb).
    std::lock_guard lock(sink_mutex);
    EXPECT_NE(std::find_if(client_errors.begin(), client_errors.end(),
                           [](const error_code& ec) {
                               return kafka::resp_err(ec) == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
                           }),
              client_errors.end());
    EXPECT_GT(log_lines.load(), 0);
}

TEST(kafka_producer, metadata_reachability_follows_the_brokers_without_blocking_io_threads) {
    mock_cluster cluster(1);
    create_raw_topic(cluster);
    io_threads io(1);
    kafka::producer producer(config_for(cluster));
    strand_type strand = io.make_strand();

    EXPECT_TRUE(producer.metadata_reachable(5s));

    auto check = [&](std::chrono::milliseconds timeout) {
        std::atomic<bool> done{false};
        error_code result;
        bool on_strand = false;
        producer.async_metadata_reachable(timeout,
                                          asio::bind_executor(strand, [&](error_code ec) {
                                              result = ec;
                                              on_strand = strand.running_in_this_thread();
                                              done = true;
                                          }));
        EXPECT_TRUE(wait_until([&] { return done.load(); }, timeout + 3s));
        EXPECT_TRUE(on_strand);
        return result;
    };
    EXPECT_FALSE(check(5s));

    cluster.broker_down(mock_cluster::all_brokers);
    // While the check waits on its helper thread, the io thread stays free.
    std::atomic<bool> io_ran{false};
    const auto start = clock_type::now();
    std::thread probe([&] {
        const error_code ec = check(800ms);
        EXPECT_TRUE(ec);
        EXPECT_TRUE(kafka::is_kafka_error(ec)) << ec.message();
    });
    asio::post(strand, [&] { io_ran = true; });
    EXPECT_TRUE(wait_until([&] { return io_ran.load(); }, 500ms));
    probe.join();
    EXPECT_LT(clock_type::now() - start, 800ms + 2500ms);
    EXPECT_FALSE(producer.metadata_reachable(300ms));

    producer.stop(0ms);
    std::atomic<bool> after_stop{false};
    producer.async_metadata_reachable(1s, asio::bind_executor(strand, [&](error_code ec) {
                                          EXPECT_EQ(kafka::resp_err(ec),
                                                    RD_KAFKA_RESP_ERR__DESTROY);
                                          after_stop = true;
                                      }));
    EXPECT_TRUE(wait_until([&] { return after_stop.load(); }, 2s));
}

TEST(kafka_producer, full_queue_fails_at_once_with_a_retryable_error) {
    mock_cluster cluster(1);
    create_raw_topic(cluster);
    cluster.broker_down(mock_cluster::all_brokers);
    io_threads io(2);
    auto config = config_for(cluster);
    config.queue_buffering_max_messages = 10;
    kafka::producer producer(config);
    strand_type strand = io.make_strand();

    constexpr int n = 25;
    outcomes results(n);
    std::array<clock_type::time_point, n> completed_at{};
    const auto start = clock_type::now();
    for (int i = 0; i < n; ++i) {
        producer.async_produce("metrics.raw", key_of(i), payload_of(i),
                               asio::bind_executor(strand, [&, i](error_code ec, kafka::delivery d) {
                                   completed_at[static_cast<std::size_t>(i)] = clock_type::now();
                                   results.record(static_cast<std::size_t>(i), ec, d,
                                                  strand.running_in_this_thread());
                               }));
    }
    const auto initiated = clock_type::now();
    EXPECT_LT(initiated - start, 200ms) << "async_produce blocked on a full queue";

    // Records 10..24 do not fit: each fails at once, on the caller's strand.
    ASSERT_TRUE(wait_until([&] { return results.done.load() >= n - 10; }, 1s));
    for (int i = 10; i < n; ++i) {
        const outcome& o = results.slots[static_cast<std::size_t>(i)];
        ASSERT_EQ(results.calls[static_cast<std::size_t>(i)].load(), 1) << i;
        EXPECT_EQ(kafka::resp_err(o.ec), RD_KAFKA_RESP_ERR__QUEUE_FULL) << i << o.ec.message();
        EXPECT_TRUE(kafka::is_retryable(o.ec));
        EXPECT_TRUE(o.on_strand);
        EXPECT_LT(completed_at[static_cast<std::size_t>(i)] - start, 500ms) << i;
    }
    // Ten records wait in the queue (plus, possibly, an unserved connection-error event).
    EXPECT_GE(producer.queue_depth(), 10U);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(results.calls[static_cast<std::size_t>(i)].load(), 0) << i;
    }

    // stop() purges the ten queued records; each handler completes once, with the purge error.
    const auto stop_start = clock_type::now();
    producer.stop(100ms);
    EXPECT_LT(clock_type::now() - stop_start, 3s);
    ASSERT_TRUE(wait_until([&] { return results.all_done(); }, 2s));
    for (int i = 0; i < 10; ++i) {
        const outcome& o = results.slots[static_cast<std::size_t>(i)];
        EXPECT_EQ(results.calls[static_cast<std::size_t>(i)].load(), 1) << i;
        EXPECT_EQ(kafka::resp_err(o.ec), RD_KAFKA_RESP_ERR__PURGE_QUEUE) << o.ec.message();
        EXPECT_TRUE(o.on_strand);
    }
}

TEST(kafka_producer, stop_completes_every_in_flight_handler_and_joins) {
    mock_cluster cluster(3);
    const std::string topic = create_raw_topic(cluster);
    constexpr int n = 400;
    outcomes results(n);
    std::atomic<int> batch_calls{0};
    error_code batch_result;
    io_threads io(2);
    auto producer = std::make_unique<kafka::producer>(config_for(cluster));
    warm_up(*producer, topic);

    // A frozen cluster: connected, requests sent, no acknowledgement for 10 s.
    cluster.set_rtt(mock_cluster::all_brokers, 10000);
    strand_type strand = io.make_strand();
    for (int i = 0; i < n; ++i) {
        producer->async_produce(topic, key_of(i), payload_of(i),
                                asio::bind_executor(strand, [&, i](error_code ec, kafka::delivery d) {
                                    results.record(static_cast<std::size_t>(i), ec, d,
                                                   strand.running_in_this_thread());
                                }));
    }
    std::vector<kafka::message> batch(20, kafka::message{"k", "v", {}});
    producer->async_produce_all(topic, std::move(batch),
                                asio::bind_executor(strand, [&](error_code ec, auto) {
                                    batch_result = ec;
                                    ++batch_calls;
                                }));
    // Let linger pass so that records are in produce requests, not only in local queues.
    EXPECT_TRUE(wait_until([&] { return producer->queue_depth() > 0; }, 1s));
    std::this_thread::sleep_for(100ms);  // no observable condition for "request sent"
    EXPECT_EQ(results.done.load(), 0U);

    const auto stop_start = clock_type::now();
    producer->stop(300ms);
    const auto stop_took = clock_type::now() - stop_start;
    EXPECT_LT(stop_took, 300ms + 2500ms);
    EXPECT_EQ(producer->queue_depth(), 0U);

    ASSERT_TRUE(wait_until([&] { return results.all_done() && batch_calls > 0; }, 2s))
        << results.done.load() << " of " << n << " completed";
    std::map<rd_kafka_resp_err_t, int> by_error;
    for (int i = 0; i < n; ++i) {
        const outcome& o = results.slots[static_cast<std::size_t>(i)];
        EXPECT_EQ(results.calls[static_cast<std::size_t>(i)].load(), 1) << i;
        EXPECT_TRUE(o.ec) << i << " succeeded on a frozen cluster";
        EXPECT_TRUE(o.on_strand);
        ++by_error[kafka::resp_err(o.ec)];
    }
    for (const auto& [err, count] : by_error) {
        EXPECT_TRUE(err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT ||
                    err == RD_KAFKA_RESP_ERR__PURGE_QUEUE)
            << rd_kafka_err2name(err) << " x" << count;
    }
    EXPECT_EQ(batch_calls.load(), 1);
    EXPECT_TRUE(kafka::is_retryable(batch_result)) << batch_result.message();

    // After stop: refused at once, still posted to the caller's strand.
    std::atomic<bool> refused{false};
    producer->async_produce(topic, "k", "v",
                            asio::bind_executor(strand, [&](error_code ec, kafka::delivery) {
                                EXPECT_EQ(kafka::resp_err(ec), RD_KAFKA_RESP_ERR__DESTROY);
                                EXPECT_TRUE(strand.running_in_this_thread());
                                refused = true;
                            }));
    EXPECT_TRUE(wait_until([&] { return refused.load(); }, 1s));
    producer->stop();  // idempotent
    producer.reset();
    cluster.set_rtt(mock_cluster::all_brokers, 0);
}

asio::awaitable<void> produce_or_time_out(kafka::producer& producer, std::string topic,
                                          std::atomic<int>& winner, std::atomic<bool>& finished) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, 200ms);
    auto result = co_await (
        producer.async_produce(topic, "late", "report", asio::as_tuple(asio::use_awaitable)) ||
        timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    winner = static_cast<int>(result.index());
    finished = true;
}

TEST(kafka_producer, terminal_cancellation_completes_at_once_and_the_late_report_is_harmless) {
    mock_cluster cluster(1);
    const std::string topic = create_raw_topic(cluster);
    io_threads io(2);
    kafka::producer producer(config_for(cluster));
    warm_up(producer, topic);
    cluster.set_rtt(mock_cluster::all_brokers, 1500);

    // The gateway's pattern: produce || timer. The timer wins; the produce is cancelled.
    std::atomic<int> winner{-1};
    std::atomic<bool> finished{false};
    const auto start = clock_type::now();
    asio::co_spawn(io.make_strand(), produce_or_time_out(producer, topic, winner, finished),
                   [](std::exception_ptr e) {
                       if (e) {
                           std::rethrow_exception(e);
                       }
                   });
    ASSERT_TRUE(wait_until([&] { return finished.load(); }, 1200ms));
    EXPECT_EQ(winner.load(), 1);
    EXPECT_LT(clock_type::now() - start, 1200ms);

    // A cancelled handler-based produce: operation_aborted at once, exactly once.
    asio::cancellation_signal signal;
    std::atomic<int> calls{0};
    error_code cancelled;
    strand_type strand = io.make_strand();
    asio::post(strand, [&] {
        producer.async_produce(
            topic, "cancel", "me",
            asio::bind_cancellation_slot(
                signal.slot(), asio::bind_executor(strand, [&](error_code ec, kafka::delivery) {
                    cancelled = ec;
                    ++calls;
                })));
        signal.emit(asio::cancellation_type::total);  // not supported: ignored
    });
    asio::post(strand, [&] { signal.emit(asio::cancellation_type::terminal); });
    ASSERT_TRUE(wait_until([&] { return calls.load() > 0; }, 1s));
    EXPECT_EQ(cancelled, asio::error::operation_aborted);

    // The records are still written; their reports arrive later and are dropped.
    cluster.set_rtt(mock_cluster::all_brokers, 0);
    EXPECT_FALSE(producer.flush(10s)) << "late reports did not arrive";
    EXPECT_EQ(producer.queue_depth(), 0U);
    EXPECT_EQ(calls.load(), 1);
    const auto records = consume(cluster, topic, 3, 20s);  // warm-up, late, cancel
    EXPECT_EQ(records.size(), 3U);
    producer.stop();
}

}  // namespace

// ------------------------------------------------ reports served on a report executor

// An io_context run by a thread of its own while the test lasts, counting the handlers it ran.
struct report_context {
    asio::io_context context;
    asio::executor_work_guard<asio::io_context::executor_type> work{context.get_executor()};
    std::atomic<std::size_t> handlers{0};
    std::thread runner{[this] {
        while (context.run_one() != 0) ++handlers;
    }};

    ~report_context() {
        work.reset();
        runner.join();
    }
};

// Produces `count` records, each after the previous one's report.
void produce_one_at_a_time(kafka::producer& producer, const std::string& topic, int count) {
    for (int i = 0; i < count; ++i) {
        auto delivered = producer.async_produce(topic, key_of(i), payload_of(i), asio::use_future);
        ASSERT_EQ(delivered.wait_for(10s), std::future_status::ready) << i;
        EXPECT_NO_THROW(delivered.get()) << i;
    }
}

TEST(kafka_producer, reports_are_served_on_the_report_executor_as_they_arrive) {
    mock_cluster cluster(3);
    const std::string topic = create_raw_topic(cluster);
    report_context reports;
    auto config = config_for(cluster);
    config.report_executor = reports.context.get_executor();
    kafka::producer producer(config);
    warm_up(producer, topic);

    // One record at a time, each waiting for its report. Left to the poll thread's 100 ms round
    // they would take about 5 s; librdkafka wakes the executor as each report arrives.
    const auto start = clock_type::now();
    produce_one_at_a_time(producer, topic, 100);
    EXPECT_LT(clock_type::now() - start, 3s);
    producer.stop();
}

// Client errors travel through the same queue as the reports. Which thread serves them is not
// fixed (the poll thread's round may come first), only that they arrive.
TEST(kafka_producer, client_errors_still_reach_on_error_with_a_report_executor) {
    report_context reports;
    kafka::producer_config config;
    config.brokers = "127.0.0.1:1";  // nothing listens there
    config.extra["log_level"] = "0";
    std::atomic<int> errors{0};
    config.on_error = [&](error_code, std::string_view) { ++errors; };
    config.report_executor = reports.context.get_executor();
    kafka::producer producer(config);
    EXPECT_TRUE(wait_until([&] { return errors.load() > 0; }, 10s));
    producer.stop(0ms);
}

// Produces `count` records in turn from a coroutine; returns how many completions resumed it
// on the thread running `home`.
asio::awaitable<int> produce_in_turn(kafka::producer& producer, std::string topic, int count,
                                     asio::io_context& home) {
    int on_home_thread = 0;
    for (int i = 0; i < count; ++i) {
        co_await producer.async_produce(topic, key_of(i), payload_of(i), asio::use_awaitable);
        if (home.get_executor().running_in_this_thread()) ++on_home_thread;
    }
    co_return on_home_thread;
}

// Runs produce_in_turn on `home` (run by a thread of its own) and waits for its count.
int run_in_turn(kafka::producer& producer, const std::string& topic, int count,
                asio::io_context& home) {
    auto done = asio::co_spawn(home, produce_in_turn(producer, topic, count, home),
                               asio::use_future);
    if (done.wait_for(30s) != std::future_status::ready) return -1;
    return done.get();
}

// The reports of one poll on the report executor complete their requests after the poll: a
// coroutine of the report executor's own io_context is resumed right there, one of another
// io_context through that context's queue, each on its own thread.
TEST(kafka_producer, a_report_poll_resumes_its_own_contexts_requests_without_another_handler) {
    mock_cluster cluster(3);
    const std::string topic = create_raw_topic(cluster);
    report_context own;
    report_context other;
    auto config = config_for(cluster);
    config.report_executor = own.context.get_executor();
    kafka::producer producer(config);
    warm_up(producer, topic);
    constexpr int count = 200;

    EXPECT_EQ(run_in_turn(producer, topic, count, other.context), count);

    // One record at a time from `own`: each report costs one handler there (the poll that
    // serves it and resumes the coroutine), not two (the poll, then the posted completion).
    // The poll thread's round may serve a report now and then; that costs one handler too.
    const std::size_t before = own.handlers;
    EXPECT_EQ(run_in_turn(producer, topic, count, own.context), count);
    const std::size_t used = own.handlers - before;
    EXPECT_LT(used, count * 3 / 2) << used << " handlers for " << count << " records";
    producer.stop();
}

TEST(kafka_producer, reports_arrive_while_the_report_executor_is_idle_and_its_queued_poll_is_harmless) {
    mock_cluster cluster(3);
    const std::string topic = create_raw_topic(cluster);
    asio::io_context idle;  // never run while the producer lives
    {
        auto config = config_for(cluster);
        config.report_executor = idle.get_executor();
        kafka::producer producer(config);
        // The poll thread serves what the executor does not.
        produce_one_at_a_time(producer, topic, 10);
        producer.stop();
    }
    // The poll queued while the producer lived runs after it is gone, and must not touch it.
    EXPECT_EQ(idle.poll(), 1U);
}
