#include "pulsestream/devbroker/mock_cluster.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace pulsestream::devbroker {
namespace {

constexpr int max_brokers = 64;

std::string broker_name(std::int32_t id) {
    return id == mock_cluster::all_brokers ? std::string("all brokers")
                                           : "broker " + std::to_string(id);
}

void throw_if_failed(rd_kafka_resp_err_t err, const std::string& what) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw mock_error(err,
                         what + ": " + rd_kafka_err2str(err) + " (" + rd_kafka_err2name(err) + ")");
    }
}

void require(bool condition, const std::string& message) {
    if (!condition) {
        throw mock_error(RD_KAFKA_RESP_ERR__INVALID_ARG, message);
    }
}

rd_kafka_t* new_hidden_handle() {
    // The handle only owns the mock cluster; it has no bootstrap servers and never connects.
    // Its logger (stderr) also carries the mock cluster's own error logs.
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    std::array<char, 512> errstr{};
    // log_level 4 hides the notice about the missing bootstrap.servers, keeps warnings.
    for (const auto& [key, value] :
         {std::pair{"client.id", "pulsestream-devbroker"}, std::pair{"log_level", "4"},
          // The mock brokers' accepted connections take the handle's socket settings. Kafka
          // and Redpanda answer without Nagle's algorithm; with it, an answer could wait in the
          // kernel behind the unacknowledged one before it, and at 8 connections the gateway's
          // single events took a third longer (docs/BENCHMARKS.md, "Nagle's algorithm").
          std::pair{"socket.nagle.disable", "true"}}) {
        if (rd_kafka_conf_set(conf, key, value, errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            throw mock_error(RD_KAFKA_RESP_ERR__FAIL,
                             std::string("mock cluster handle config: ") + errstr.data());
        }
    }
    // rd_kafka_new takes ownership of conf only on success.
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
    if (rk == nullptr) {
        rd_kafka_conf_destroy(conf);
        throw mock_error(RD_KAFKA_RESP_ERR__FAIL,
                         std::string("cannot create the mock cluster's handle: ") + errstr.data());
    }
    return rk;
}

}  // namespace

void mock_cluster::rd_kafka_deleter::operator()(rd_kafka_t* rk) const noexcept {
    rd_kafka_destroy(rk);
}

void mock_cluster::mock_cluster_deleter::operator()(
    rd_kafka_mock_cluster_s* cluster) const noexcept {
    rd_kafka_mock_cluster_destroy(cluster);
}

mock_cluster::mock_cluster(int brokers) : broker_count_(brokers) {
    require(brokers >= 1 && brokers <= max_brokers, "mock cluster: broker count must be 1.." +
                                                        std::to_string(max_brokers) + ", got " +
                                                        std::to_string(brokers));
    handle_.reset(new_hidden_handle());
    cluster_.reset(rd_kafka_mock_cluster_new(handle_.get(), brokers));
    if (!cluster_) {
        throw mock_error(RD_KAFKA_RESP_ERR__FAIL, "cannot start a mock cluster of " +
                                                      std::to_string(brokers) +
                                                      " brokers (see librdkafka's log above)");
    }
    bootstrap_servers_ = rd_kafka_mock_cluster_bootstraps(cluster_.get());
    brokers_.reserve(static_cast<std::size_t>(brokers));
    for (std::int32_t id = 1; id <= brokers; ++id) {
        brokers_.push_back(broker_state{id, true, 0});
    }
}

mock_cluster::~mock_cluster() = default;

std::string mock_cluster::bootstrap_servers() const { return bootstrap_servers_; }

void mock_cluster::create_topic(const std::string& name, int partitions, int replication) {
    require(!name.empty(), "create_topic: empty topic name");
    require(partitions >= 1, "create_topic " + name + ": partitions must be >= 1, got " +
                                 std::to_string(partitions));
    require(replication >= 1, "create_topic " + name + ": replication must be >= 1, got " +
                                  std::to_string(replication));
    const int capped = std::min(replication, broker_count_);
    std::lock_guard lock(mutex_);
    throw_if_failed(rd_kafka_mock_topic_create(cluster_.get(), name.c_str(), partitions, capped),
                    "create_topic " + name);
    spread_leaders(name, partitions);
    topics_.push_back(topic_state{name, partitions, capped});
}

void mock_cluster::spread_leaders(const std::string& topic, int partitions) {
    // The mock picks leaders at random, so with a few partitions a broker may lead none and
    // taking it down would change nothing. Round-robin, as Kafka assigns them, makes every
    // broker lead partitions and a fault on broker N predictable.
    for (int partition = 0; partition < partitions; ++partition) {
        const std::int32_t leader = partition % broker_count_ + 1;
        throw_if_failed(
            rd_kafka_mock_partition_set_leader(cluster_.get(), topic.c_str(), partition, leader),
            "create_topic " + topic + ": leader of [" + std::to_string(partition) + "]");
    }
}

void mock_cluster::create_default_topics(int raw_partitions) {
    create_topic(std::string(default_topic), raw_partitions, default_replication);
    create_topic(std::string(default_dlq_topic), default_dlq_partitions, default_replication);
}

void mock_cluster::check_broker(std::int32_t id, bool allow_all, std::string_view what) const {
    const bool known = id >= 1 && id <= broker_count_;
    require(known || (allow_all && id == all_brokers),
            std::string(what) + ": no broker " + std::to_string(id) + " (brokers are 1.." +
                std::to_string(broker_count_) + (allow_all ? ", or -1 for all)" : ")"));
}

void mock_cluster::set_up(std::int32_t id, bool up) {
    const char* what = up ? "broker_up" : "broker_down";
    check_broker(id, true, what);
    std::lock_guard lock(mutex_);
    throw_if_failed(up ? rd_kafka_mock_broker_set_up(cluster_.get(), id)
                       : rd_kafka_mock_broker_set_down(cluster_.get(), id),
                    std::string(what) + " " + broker_name(id));
    for (auto& broker : brokers_) {
        if (id == all_brokers || broker.id == id) {
            broker.up = up;
        }
    }
}

void mock_cluster::broker_down(std::int32_t id) { set_up(id, false); }

void mock_cluster::broker_up(std::int32_t id) { set_up(id, true); }

void mock_cluster::set_rtt(std::int32_t broker, int ms) {
    check_broker(broker, true, "set_rtt");
    require(ms >= 0, "set_rtt: delay must be >= 0 ms, got " + std::to_string(ms));
    std::lock_guard lock(mutex_);
    throw_if_failed(rd_kafka_mock_broker_set_rtt(cluster_.get(), broker, ms),
                    "set_rtt " + broker_name(broker));
    for (auto& state : brokers_) {
        if (broker == all_brokers || state.id == broker) {
            state.rtt_ms = ms;
        }
    }
}

void mock_cluster::push_request_errors(std::int16_t api_key,
                                       const std::vector<rd_kafka_resp_err_t>& errors) {
    require(api_key >= 0, "push_request_errors: negative api key " + std::to_string(api_key));
    if (errors.empty()) {
        return;
    }
    rd_kafka_mock_push_request_errors_array(cluster_.get(), api_key, errors.size(), errors.data());
}

void mock_cluster::push_broker_request_errors(
    std::int32_t broker, std::int16_t api_key,
    const std::vector<std::pair<rd_kafka_resp_err_t, std::chrono::milliseconds>>& errors) {
    check_broker(broker, false, "push_broker_request_errors");
    require(api_key >= 0,
            "push_broker_request_errors: negative api key " + std::to_string(api_key));
    // The C API is variadic only; pushing one (error, rtt) pair per call appends in order.
    for (const auto& [err, delay] : errors) {
        require(delay.count() >= 0 && delay.count() <= INT32_MAX,
                "push_broker_request_errors: delay out of range");
        throw_if_failed(
            rd_kafka_mock_broker_push_request_error_rtts(cluster_.get(), broker, api_key, 1, err,
                                                         static_cast<int>(delay.count())),
            "push_broker_request_errors " + broker_name(broker));
    }
}

void mock_cluster::clear_request_errors(std::int16_t api_key) {
    rd_kafka_mock_clear_request_errors(cluster_.get(), api_key);
}

void mock_cluster::check_topic(const std::string& topic, std::int32_t partition) const {
    // The mock silently creates unknown topics here; refuse that to catch typos in tests.
    const auto it = std::find_if(topics_.begin(), topics_.end(),
                                 [&](const topic_state& t) { return t.name == topic; });
    require(it != topics_.end(), "unknown topic " + topic + " (create it with create_topic)");
    require(partition >= 0 && partition < it->partitions,
            "topic " + topic + " has no partition " + std::to_string(partition) +
                " (partitions are 0.." + std::to_string(it->partitions - 1) + ")");
}

void mock_cluster::set_partition_leader(const std::string& topic, std::int32_t partition,
                                        std::int32_t broker) {
    if (broker != -1) {  // -1 = leaderless
        check_broker(broker, false, "set_partition_leader");
    }
    std::lock_guard lock(mutex_);
    check_topic(topic, partition);
    throw_if_failed(
        rd_kafka_mock_partition_set_leader(cluster_.get(), topic.c_str(), partition, broker),
        "set_partition_leader " + topic + " [" + std::to_string(partition) + "]");
}

void mock_cluster::set_group_coordinator(const std::string& group, std::int32_t broker) {
    require(!group.empty(), "set_group_coordinator: empty group id");
    check_broker(broker, false, "set_group_coordinator");
    throw_if_failed(rd_kafka_mock_coordinator_set(cluster_.get(), "group", group.c_str(), broker),
                    "set_group_coordinator " + group);
}

void mock_cluster::set_topic_error(const std::string& topic, rd_kafka_resp_err_t err) {
    std::lock_guard lock(mutex_);
    check_topic(topic, 0);
    rd_kafka_mock_topic_set_error(cluster_.get(), topic.c_str(), err);
}

cluster_status mock_cluster::status() const {
    std::lock_guard lock(mutex_);
    return cluster_status{bootstrap_servers_, brokers_, topics_};
}

}  // namespace pulsestream::devbroker
