#pragma once

/// @file
/// The consumer loop of DESIGN.md §6, one plain thread driving Kafka (STYLE.md "Consumer
/// model"), plus one helper thread for the database write of the batch in flight:
///
/// 1. take a batch: up to `batch_max_events` records, or what arrived within `batch_max_wait`
///    of its first record (cut short when the write in flight has finished, so its commit is
///    never delayed by a slow trickle);
/// 2. parse and validate every record (core::parse_kafka_value);
/// 3. wait for the previous batch's write (if any) and finish that batch: DLQ, offset commit
///    (steps 5 and 6 below);
/// 4. start writing the valid rows on the helper thread (pg::event_writer through
///    sharded_writer: one transaction per connection; rows PostgreSQL refuses with a data error
///    are isolated) and go back to step 1 for the next batch while it runs;
/// 5. once the write committed: produce every poison pill (parse, validation, constraint) to
///    the DLQ and await all delivery reports;
/// 6. commit the next offset of every partition of the batch, synchronously. A commit the
///    group refuses (e.g. while a rebalance is in progress) is retried with the next batch's
///    commit, or when idle, for the partitions still owned.
///
/// So at most one batch is written while the next one is fetched, parsed and validated;
/// batches are finished (DLQ, offsets) strictly in order, each only after its own database
/// commit. Offsets are therefore committed only for records that are stored or dead-lettered.
/// The DLQ step comes after the database so that a transient failure, which makes the batch
/// come again, never dead-letters a record twice.
///
/// Transient failures (database unavailable, DLQ delivery failed or timed out): the batch in
/// flight and the next one already taken are abandoned, every partition of them is rewound
/// (seek) to the oldest uncommitted offset (the start of the batch in flight, or of the next
/// batch for partitions only it holds), the loop backs off (capped exponential) and polls the
/// same records again — forever, never to the DLQ. Polling continues between attempts, so the
/// group's rebalances are served and the member stays in the group.
///
/// Rebalances are served inside the poll of step 1. A revocation first finishes the batch in
/// flight (waits for its write, then DLQ and offset commit, as step 3 would have done), so
/// what is committed to PostgreSQL is also committed in Kafka before the partitions go; if
/// that write failed, nothing of it is committed and the rewind is kept for the partitions
/// still owned. Records of revoked partitions are dropped from the batch being collected
/// (never written), so no offset of work not committed to PostgreSQL is ever committed; the
/// partition's next owner reads them again from the committed offset.
///
/// Partition maintenance (`pulsestream_ensure_partitions(3, retention_days)`) runs at start-up
/// and every `maintenance_interval` between batches, never during a write (the writer's
/// connections belong to one thread at a time).
///
/// Thread-safety: `run` on one thread; `request_stop` from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pulsestream/consumer/batch.hpp"
#include "pulsestream/consumer/group_member.hpp"
#include "pulsestream/consumer/health.hpp"
#include "pulsestream/consumer/sharded_writer.hpp"
#include "pulsestream/core/event.hpp"
#include "pulsestream/kafka/producer.hpp"
#include "pulsestream/metrics/consumer_metrics.hpp"

namespace pulsestream::consumer {

struct loop_options {
    std::string dlq_topic = "metrics.dlq";
    /// `dlq.consumer` header value: who dead-lettered the record.
    std::string consumer_id = "pulsestream-consumer";
    std::size_t batch_max_events = 5000;
    std::chrono::milliseconds batch_max_wait{200};
    core::validation_rules rules;
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{5000};
    /// Longest wait for the DLQ delivery reports of one batch.
    std::chrono::milliseconds dlq_timeout{35000};
    std::chrono::milliseconds seek_timeout{5000};
    int partitions_ahead = 3;
    int retention_days = 14;
    std::chrono::milliseconds maintenance_interval = std::chrono::hours(1);
    std::chrono::milliseconds maintenance_retry = std::chrono::seconds(30);
    /// While idle, the database is pinged this often so readiness stays truthful.
    std::chrono::milliseconds idle_ping_interval = std::chrono::seconds(5);
};

class batch_loop {
public:
    /// Creates the group member (which subscribes at once). `producer`, `writer`, `metrics`
    /// and `health` must outlive the loop. Throws like group_member's constructor.
    batch_loop(loop_options options, group_member_config member_config, kafka::producer& producer,
               sharded_writer& writer, metrics::consumer_metrics& metrics, health_state& health);
    ~batch_loop();
    batch_loop(const batch_loop&) = delete;
    batch_loop& operator=(const batch_loop&) = delete;

    /// Runs until request_stop(): the batch being written (and one already taken when the
    /// stop came, which is written first) is finished (dead-lettered, committed) or, when it
    /// cannot be (transient failure), abandoned uncommitted; then the member leaves the group.
    /// Exceptions other than std::bad_alloc do not escape from the steps (they are transient
    /// failures); run() itself may throw only on a bug.
    void run();

    /// Asks run() to return; wakes a back-off sleep. Thread-safe, idempotent.
    void request_stop() noexcept;

    /// Batches committed so far (for tests and logs).
    [[nodiscard]] std::uint64_t batches_committed() const noexcept { return committed_.load(); }

private:
    enum class outcome { committed, transient };

    /// A batch whose rows are being written on the helper thread.
    struct in_flight {
        batch records;
        batch_plan plan;
        std::future<pg::db_result<pg::write_report>> result;
        std::chrono::steady_clock::time_point started;
    };

    void poll_batch();
    [[nodiscard]] bool write_done() const;
    void start_write(batch records, batch_plan plan);
    outcome finish_in_flight();
    outcome check_write(in_flight& f, pg::write_report& report);
    outcome send_to_dlq(const batch& records, const batch_plan& plan,
                        const pg::write_report& report);
    void commit(const batch& records);
    void commit_uncommitted();
    void abandon_and_rewind();
    void rewind();
    void back_off();
    void maintain();
    void idle_ping();
    /// Readiness follows every database attempt; the first success after failures is logged.
    void database_usable(bool usable);
    void update_lag();
    void on_assigned(std::span<const std::int32_t> partitions);
    void on_revoked(std::span<const std::int32_t> partitions, bool lost);
    [[nodiscard]] bool stopping() const noexcept { return stop_.load(std::memory_order_relaxed); }

    loop_options options_;
    kafka::producer& producer_;
    sharded_writer& writer_;
    metrics::consumer_metrics& metrics_;
    health_state& health_;
    std::unique_ptr<group_member> member_;  // after the callbacks' targets above

    batch batch_;                        // being collected (the next batch)
    std::optional<in_flight> in_flight_;  // being written
    std::vector<partition_offset> pending_rewind_;
    bool retry_pending_ = false;  // a write failed while a rebalance was served
    // Next offsets of batches stored (and dead-lettered) whose offset commit failed.
    std::map<std::int32_t, std::int64_t> uncommitted_;
    // Next offsets this member committed, per partition it still owns: where the lag counts
    // from (the position runs ahead of it by the batch being written).
    std::map<std::int32_t, std::int64_t> committed_offsets_;
    std::chrono::milliseconds backoff_;
    std::chrono::steady_clock::time_point next_maintenance_{};
    std::chrono::steady_clock::time_point last_db_check_{};
    std::chrono::steady_clock::time_point last_lag_update_{};
    std::optional<std::chrono::steady_clock::time_point> database_failing_since_;

    std::atomic<bool> stop_{false};
    std::mutex stop_mutex_;
    std::condition_variable stop_cv_;
    std::atomic<std::uint64_t> committed_{0};
};

}  // namespace pulsestream::consumer
