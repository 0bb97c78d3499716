#include "pulsestream/metrics/consumer_metrics.hpp"

#include <prometheus/text_serializer.h>

namespace pulsestream::metrics {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

prometheus::Counter& plain_counter(prometheus::Registry& registry, const std::string& name,
                                   const std::string& help) {
    return BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

consumer_metrics::consumer_metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      processed_(plain_counter(*registry_, "pulsestream_consumer_events_processed_total",
                               "Records stored in PostgreSQL (inserted or already present)")),
      failed_(plain_counter(*registry_, "pulsestream_consumer_events_failed_total",
                            "Records sent to the dead-letter topic")),
      db_write_(BuildHistogram()
                    .Name("pulsestream_consumer_db_write_duration_seconds")
                    .Help("Duration of one committed batch write to PostgreSQL")
                    .Register(*registry_)
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01,
                                                                     0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                                     2.5, 5, 10})),
      batch_size_(
          BuildHistogram()
              .Name("pulsestream_consumer_batch_size")
              .Help("Records per batch taken from Kafka")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 50, 100, 250, 500, 1000, 2500,
                                                               5000, 10000, 50000})),
      inserted_(plain_counter(*registry_, "pulsestream_consumer_rows_inserted_total",
                              "Rows inserted into events")),
      duplicates_(plain_counter(*registry_, "pulsestream_consumer_duplicates_skipped_total",
                                "Rows skipped because they were already stored")),
      dlq_(BuildCounter()
               .Name("pulsestream_consumer_dlq_total")
               .Help("Records sent to the dead-letter topic, by class")
               .Register(*registry_)),
      dlq_parse_(dlq_.Add({{"class", "parse"}})),
      dlq_validation_(dlq_.Add({{"class", "validation"}})),
      dlq_constraint_(dlq_.Add({{"class", "constraint"}})),
      db_retries_(plain_counter(*registry_, "pulsestream_consumer_db_retries_total",
                                "Batches rolled back by a transient database error and retried")),
      commit_failures_(plain_counter(*registry_, "pulsestream_consumer_commit_failures_total",
                                     "Offset commits refused by the broker")),
      assigned_(BuildGauge()
                    .Name("pulsestream_consumer_assigned_partitions")
                    .Help("Partitions assigned to this consumer")
                    .Register(*registry_)
                    .Add({})),
      lag_(BuildGauge()
               .Name("pulsestream_consumer_lag")
               .Help("Records between the committed offset and the partition's high watermark")
               .Register(*registry_)) {}

void consumer_metrics::batch(std::size_t records) {
    batch_size_.Observe(static_cast<double>(records));
}

void consumer_metrics::events_processed(std::size_t count) {
    processed_.Increment(static_cast<double>(count));
}

void consumer_metrics::events_failed(std::string_view error_class, std::size_t count) {
    if (count == 0) return;
    failed_.Increment(static_cast<double>(count));
    if (error_class == "parse") {
        dlq_parse_.Increment(static_cast<double>(count));
    } else if (error_class == "validation") {
        dlq_validation_.Increment(static_cast<double>(count));
    } else if (error_class == "constraint") {
        dlq_constraint_.Increment(static_cast<double>(count));
    } else {
        dlq_.Add({{"class", std::string(error_class)}}).Increment(static_cast<double>(count));
    }
}

void consumer_metrics::db_write(std::chrono::steady_clock::duration elapsed) {
    db_write_.Observe(std::chrono::duration<double>(elapsed).count());
}

void consumer_metrics::rows(std::size_t inserted, std::size_t duplicates) {
    inserted_.Increment(static_cast<double>(inserted));
    duplicates_.Increment(static_cast<double>(duplicates));
}

void consumer_metrics::db_retry() { db_retries_.Increment(); }

void consumer_metrics::commit_failed() { commit_failures_.Increment(); }

void consumer_metrics::assigned_partitions(std::size_t count) {
    assigned_.Set(static_cast<double>(count));
}

void consumer_metrics::lag(std::int32_t partition, std::int64_t records) {
    std::lock_guard lock(lag_mutex_);
    auto& series = lag_series_[partition];
    if (series == nullptr) series = &lag_.Add({{"partition", std::to_string(partition)}});
    series->Set(static_cast<double>(records));
}

void consumer_metrics::forget_partition(std::int32_t partition) {
    std::lock_guard lock(lag_mutex_);
    const auto it = lag_series_.find(partition);
    if (it == lag_series_.end()) return;
    lag_.Remove(it->second);
    lag_series_.erase(it);
}

std::string consumer_metrics::serialize() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace pulsestream::metrics
