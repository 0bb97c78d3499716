#pragma once

/// @file
/// A Kafka consumer-group member subscribed to one topic (librdkafka high-level consumer) with
/// manual offset management: `enable.auto.commit=false`, `enable.auto.offset.store=false`,
/// `auto.offset.reset=earliest`. Offsets are committed only by `commit`, synchronously.
///
/// Rebalances are served inside `poll` and `close` on the calling thread: the
/// `on_revoked` callback runs *before* librdkafka gives the partitions up, so the caller can
/// drop what it took from them and has not committed; `on_assigned` runs after the new
/// partitions are taken (fetching starts from the committed offsets). Both eager (`range`,
/// `roundrobin`) and cooperative (`cooperative-sticky`) assignment work.
///
/// Thread-safety: one thread drives a member (poll, commit, seek, close). `assignment()` and
/// `high_watermark()` may be called from that thread only. Not copyable or movable
/// (librdkafka holds `this`).

#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pulsestream/kafka/handles.hpp"

namespace pulsestream::consumer {

/// A partition of the subscribed topic and an offset in it.
struct partition_offset {
    std::int32_t partition = 0;
    std::int64_t offset = 0;

    friend bool operator==(const partition_offset&, const partition_offset&) = default;
};

struct group_member_config {
    std::string brokers;   ///< `bootstrap.servers`
    std::string group_id;  ///< `group.id`
    std::string topic;     ///< the one subscribed topic
    std::string client_id = "pulsestream-consumer";
    std::chrono::milliseconds session_timeout{10000};
    /// `max.poll.interval.ms`: longest time between polls before librdkafka leaves the group.
    std::chrono::milliseconds max_poll_interval{300000};
    /// `partition.assignment.strategy`.
    std::string assignment_strategy = "range";
    /// Any other librdkafka property, applied last.
    std::map<std::string, std::string> extra;

    /// Called with the partitions just assigned (after they are taken).
    std::function<void(std::span<const std::int32_t>)> on_assigned;
    /// Called with the partitions about to be given up; `lost` when they were already taken
    /// away (session timed out) rather than handed over.
    std::function<void(std::span<const std::int32_t>, bool lost)> on_revoked;
    /// librdkafka log lines (syslog level 0..7); called from librdkafka threads.
    std::function<void(int level, std::string_view facility, std::string_view message)> on_log;
    /// Client-level errors (all brokers down, …); called from librdkafka threads.
    std::function<void(boost::system::error_code ec, std::string_view reason)> on_error;
};

class group_member {
public:
    /// Creates the consumer and subscribes. Throws std::invalid_argument listing rejected
    /// properties, std::runtime_error when librdkafka refuses to create or subscribe.
    explicit group_member(group_member_config config);
    /// close() if needed, then destroys the client.
    ~group_member();
    group_member(const group_member&) = delete;
    group_member& operator=(const group_member&) = delete;
    group_member(group_member&&) = delete;
    group_member& operator=(group_member&&) = delete;

    /// Waits up to `timeout` for one record and serves rebalances meanwhile. Returns a record
    /// of the topic, or null on timeout. Consumer errors (e.g. unknown topic, broker down) are
    /// reported through `on_error` and return null.
    [[nodiscard]] kafka::message_ptr poll(std::chrono::milliseconds timeout);

    /// Commits `offsets` (each the next offset to read) synchronously. Returns the first error
    /// (the whole commit, or one partition's), or success.
    boost::system::error_code commit(std::span<const partition_offset> offsets);

    /// Moves the fetch position of assigned partitions (`rd_kafka_seek_partitions`): the next
    /// records polled from such a partition start at the given offset; records of it already
    /// fetched are discarded. Partitions no longer assigned are skipped. Returns the first
    /// error, or success.
    boost::system::error_code seek(std::span<const partition_offset> offsets,
                                   std::chrono::milliseconds timeout);

    /// The partitions assigned now, ascending.
    [[nodiscard]] const std::vector<std::int32_t>& assignment() const noexcept {
        return assignment_;
    }

    /// The partition's high watermark as last seen by a fetch (no broker round trip).
    [[nodiscard]] std::optional<std::int64_t> high_watermark(std::int32_t partition) const;

    /// The application's position (next offset to be returned) of every assigned partition
    /// that has one; local, no broker round trip.
    [[nodiscard]] std::vector<partition_offset> positions() const;

    /// The offset the group committed for `partition`, asked of the coordinator (blocks up to
    /// `timeout`). Empty when there is none or on error.
    [[nodiscard]] std::optional<std::int64_t> committed(std::int32_t partition,
                                                        std::chrono::milliseconds timeout) const;

    /// Leaves the group (revoking everything through `on_revoked`). Idempotent.
    void close();

    [[nodiscard]] const std::string& topic() const noexcept { return config_.topic; }
    /// This member's id in the group (empty before the first join).
    [[nodiscard]] std::string member_id() const;
    [[nodiscard]] rd_kafka_t* native_handle() const noexcept { return handle_.get(); }

private:
    static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* partitions, void* opaque);
    static void on_error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
    static void on_log_cb(const rd_kafka_t* rk, int level, const char* facility, const char* buf);

    void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
    [[nodiscard]] kafka::partition_list_ptr make_list(
        std::span<const partition_offset> offsets) const;

    group_member_config config_;
    kafka::handle_ptr handle_;
    std::vector<std::int32_t> assignment_;
    bool closed_ = false;
};

}  // namespace pulsestream::consumer
