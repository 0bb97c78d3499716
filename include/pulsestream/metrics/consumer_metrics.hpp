#pragma once

/// @file
/// The consumer's Prometheus metrics (DESIGN.md §8): the original's three series
/// (`pulsestream_consumer_events_processed_total`, `…_events_failed_total`,
/// `…_db_write_duration_seconds`) plus batch size, rows inserted vs duplicates skipped, DLQ
/// records by class, database retries, offset commit failures, assigned partitions and lag per
/// partition.
///
/// Thread-safety: every member may be called from any thread (the batch loop writes, the HTTP
/// thread serializes). Lifetime: the registry lives as long as this object.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace pulsestream::metrics {

class consumer_metrics {
public:
    consumer_metrics();

    /// Records taken from Kafka in one batch (histogram `pulsestream_consumer_batch_size`).
    void batch(std::size_t records);
    /// Records stored (inserted or already present): `…_events_processed_total`.
    void events_processed(std::size_t count);
    /// Records sent to the DLQ: `…_events_failed_total` and `…_dlq_total{class}`
    /// (`class` is parse, validation or constraint).
    void events_failed(std::string_view error_class, std::size_t count);
    /// One committed database write (histogram `…_db_write_duration_seconds`).
    void db_write(std::chrono::steady_clock::duration elapsed);
    /// `…_rows_inserted_total` and `…_duplicates_skipped_total`.
    void rows(std::size_t inserted, std::size_t duplicates);
    /// A batch rolled back by a transient error and retried (`…_db_retries_total`).
    void db_retry();
    /// An offset commit the broker refused (`…_commit_failures_total`); the rows are stored,
    /// the records come again and are deduplicated.
    void commit_failed();
    /// Partitions assigned right now (`…_assigned_partitions`).
    void assigned_partitions(std::size_t count);
    /// `…_lag{partition}`: records between the committed offset and the high watermark.
    void lag(std::int32_t partition, std::int64_t records);
    /// Drops the lag series of a partition no longer assigned.
    void forget_partition(std::int32_t partition);

    /// The Prometheus text exposition of every series.
    [[nodiscard]] std::string serialize() const;
    [[nodiscard]] const std::shared_ptr<prometheus::Registry>& registry() const {
        return registry_;
    }

private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Counter& processed_;
    prometheus::Counter& failed_;
    prometheus::Histogram& db_write_;
    prometheus::Histogram& batch_size_;
    prometheus::Counter& inserted_;
    prometheus::Counter& duplicates_;
    prometheus::Family<prometheus::Counter>& dlq_;
    prometheus::Counter& dlq_parse_;
    prometheus::Counter& dlq_validation_;
    prometheus::Counter& dlq_constraint_;
    prometheus::Counter& db_retries_;
    prometheus::Counter& commit_failures_;
    prometheus::Gauge& assigned_;
    prometheus::Family<prometheus::Gauge>& lag_;

    std::mutex lag_mutex_;
    std::map<std::int32_t, prometheus::Gauge*> lag_series_;  // guarded by lag_mutex_
};

}  // namespace pulsestream::metrics
