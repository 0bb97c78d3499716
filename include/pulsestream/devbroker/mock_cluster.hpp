#pragma once

/// @file
/// An in-process Kafka-protocol cluster for tests and the local demo, built on librdkafka's
/// mock cluster (librdkafka 2.0.2, `rdkafka_mock.h`). Data lives in memory only; never use it
/// in production.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pulsestream/devbroker/error.hpp"

struct rd_kafka_mock_cluster_s;

namespace pulsestream::devbroker {

/// Kafka protocol request types (ApiKey) that the mock cluster serves and that fault injection
/// (`mock_cluster::push_request_errors`) can target.
namespace api_key {
inline constexpr std::int16_t produce = 0;
inline constexpr std::int16_t fetch = 1;
inline constexpr std::int16_t list_offsets = 2;
inline constexpr std::int16_t metadata = 3;
inline constexpr std::int16_t offset_commit = 8;
inline constexpr std::int16_t offset_fetch = 9;
inline constexpr std::int16_t find_coordinator = 10;
inline constexpr std::int16_t join_group = 11;
inline constexpr std::int16_t heartbeat = 12;
inline constexpr std::int16_t leave_group = 13;
inline constexpr std::int16_t sync_group = 14;
inline constexpr std::int16_t api_versions = 18;
inline constexpr std::int16_t init_producer_id = 22;
}  // namespace api_key

/// A broker as this object last set it.
struct broker_state {
    std::int32_t id = 0;
    bool up = true;
    int rtt_ms = 0;  ///< response delay added by `set_rtt`
};

/// A topic created through `mock_cluster::create_topic`.
struct topic_state {
    std::string name;
    int partitions = 0;
    int replication = 0;  ///< after capping at the broker count
};

/// A snapshot for the `status` control command and for logs.
struct cluster_status {
    std::string bootstrap_servers;
    std::vector<broker_state> brokers;
    std::vector<topic_state> topics;
};

/// One in-memory Kafka cluster of `brokers` brokers listening on ephemeral 127.0.0.1 ports.
///
/// The constructor creates a hidden producer-type `rd_kafka_t` (librdkafka needs one to own the
/// mock cluster; it connects nowhere) and the cluster; the destructor tears both down, which
/// closes every client connection and drops all data. Broker ids are 1..`broker_count()`.
///
/// What the librdkafka 2.0.2 mock serves: produce (also idempotent and transactional), fetch,
/// list offsets, metadata, consumer groups (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
/// LeaveGroup, OffsetCommit, OffsetFetch). Not served: CreateTopics and the rest of the Admin
/// API, so topics come from `create_topic`. A client whose `allow.auto.create.topics` is true
/// (the producer default) auto-creates an unknown topic with 4 partitions; consumers do not.
/// Each partition keeps at most 5 MiB or 100000 message sets; older data is dropped (a consumer
/// lagging further behind gets OFFSET_OUT_OF_RANGE). There is no ISR: `acks=all` is acked by
/// the leader alone, even with every follower down. Listeners are on 127.0.0.1 only.
/// Consumer groups: the first join waits 3 s, every later rebalance (member joins, leaves,
/// times out) waits the members' `session.timeout.ms` minus 1 s; with `session.timeout.ms`
/// below ~3 s the first join never completes. For fast tests use about 4000-6000.
///
/// Faults: `broker_down` refuses connections and closes the open ones but does not move
/// partition leadership (use `set_partition_leader`); `set_rtt` delays every response of a
/// broker (a frozen broker: connected, no acks); `push_request_errors` makes the next requests
/// of one type fail. Each call returns once the mock applied it, which can take up to ~1 s:
/// the 2.0.2 mock thread sometimes misses its wake-up and serves commands on its 1 s tick
/// (the destructor likewise).
///
/// Errors: every operation throws `mock_error` with a readable message.
///
/// Thread-safety: all member functions may be called concurrently from any thread (the
/// librdkafka mock serializes commands on its own thread; the bookkeeping here has a mutex).
/// Construction and destruction must not race with other calls. Not copyable or movable;
/// hold it in a `std::unique_ptr` to pass it around.
class mock_cluster {
public:
    /// Default topic names and sizes of PulseStream (DESIGN.md §5).
    static constexpr std::string_view default_topic = "metrics.raw";
    static constexpr int default_partitions = 8;
    static constexpr int default_replication = 3;
    static constexpr std::string_view default_dlq_topic = "metrics.dlq";
    static constexpr int default_dlq_partitions = 1;
    static constexpr int default_brokers = 3;

    /// Passed as a broker id: the operation applies to every broker.
    static constexpr std::int32_t all_brokers = -1;

    /// Starts the cluster. Throws `mock_error` if `brokers` is not in 1..64 or librdkafka
    /// fails to create the listeners.
    explicit mock_cluster(int brokers = default_brokers);
    ~mock_cluster();

    mock_cluster(const mock_cluster&) = delete;
    mock_cluster& operator=(const mock_cluster&) = delete;
    mock_cluster(mock_cluster&&) = delete;
    mock_cluster& operator=(mock_cluster&&) = delete;

    /// Comma-separated `127.0.0.1:port` list, usable as `bootstrap.servers`.
    [[nodiscard]] std::string bootstrap_servers() const;

    [[nodiscard]] int broker_count() const noexcept { return broker_count_; }

    /// Creates `name` with `partitions` partitions; `replication` is capped at the broker
    /// count. Partition p is led by broker `p % broker_count() + 1`, so every broker leads
    /// some partitions. Throws if the topic exists (also when a client auto-created it) or an argument
    /// is out of range.
    void create_topic(const std::string& name, int partitions, int replication);

    /// Creates `default_topic` with `raw_partitions` partitions and `default_dlq_topic` with
    /// `default_dlq_partitions`, both with `default_replication` (capped at the broker count).
    void create_default_topics(int raw_partitions = default_partitions);

    /// Stops broker `id` (or `all_brokers`): open connections are closed and new ones refused.
    /// Partition leaders stay where they are, so requests to partitions it leads get no
    /// answer until `broker_up` or `set_partition_leader`.
    void broker_down(std::int32_t id);

    /// Lets broker `id` (or `all_brokers`) accept connections again, on the same port.
    void broker_up(std::int32_t id);

    /// Delays every response of `broker` (or `all_brokers`) by `ms` milliseconds; 0 restores.
    void set_rtt(std::int32_t broker, int ms);

    /// The next `errors.size()` requests of type `api_key`, to any broker, fail with these
    /// errors in order (one error per request). `RD_KAFKA_RESP_ERR__TRANSPORT` makes the
    /// broker drop the connection instead of answering.
    void push_request_errors(std::int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);

    /// Like `push_request_errors` but for one broker, each error answered after its delay
    /// (an error of `RD_KAFKA_RESP_ERR_NO_ERROR` with a delay is a slow success). Broker
    /// errors are served before the cluster-wide ones.
    void push_broker_request_errors(
        std::int32_t broker, std::int16_t api_key,
        const std::vector<std::pair<rd_kafka_resp_err_t, std::chrono::milliseconds>>& errors);

    /// Drops the not yet used cluster-wide errors pushed for `api_key`.
    void clear_request_errors(std::int16_t api_key);

    /// Moves the leadership of `topic` [`partition`] to `broker`, or makes it leaderless
    /// with `-1`. The topic must have been created with `create_topic`.
    void set_partition_leader(const std::string& topic, std::int32_t partition,
                              std::int32_t broker);

    /// Makes `broker` the coordinator of consumer group `group` (it need not be up).
    void set_group_coordinator(const std::string& group, std::int32_t broker);

    /// Makes Metadata requests report `err` for `topic` (`RD_KAFKA_RESP_ERR_NO_ERROR` clears).
    void set_topic_error(const std::string& topic, rd_kafka_resp_err_t err);

    /// The state as set through this object.
    [[nodiscard]] cluster_status status() const;

    /// The librdkafka mock cluster, for faults this class does not wrap. Valid for the
    /// lifetime of this object.
    [[nodiscard]] rd_kafka_mock_cluster_s* native_handle() const noexcept { return cluster_.get(); }

private:
    struct rd_kafka_deleter {
        void operator()(rd_kafka_t* rk) const noexcept;
    };
    struct mock_cluster_deleter {
        void operator()(rd_kafka_mock_cluster_s* cluster) const noexcept;
    };

    void check_broker(std::int32_t id, bool allow_all, std::string_view what) const;
    void check_topic(const std::string& topic, std::int32_t partition) const;
    void spread_leaders(const std::string& topic, int partitions);  // caller holds mutex_
    void set_up(std::int32_t id, bool up);

    int broker_count_;
    // Declared before cluster_: the cluster must be destroyed first.
    std::unique_ptr<rd_kafka_t, rd_kafka_deleter> handle_;
    std::unique_ptr<rd_kafka_mock_cluster_s, mock_cluster_deleter> cluster_;
    std::string bootstrap_servers_;

    mutable std::mutex mutex_;
    std::vector<broker_state> brokers_;  // guarded by mutex_
    std::vector<topic_state> topics_;    // guarded by mutex_
};

}  // namespace pulsestream::devbroker
