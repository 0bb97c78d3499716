#pragma once

/// @file
/// One batch of records taken from Kafka and not yet committed, and its plan: which records
/// become rows and which go to the DLQ as `parse` or `validation` (DESIGN.md §6).
///
/// Not thread-safe: a batch belongs to the loop thread that polls it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pulsestream/consumer/dlq.hpp"
#include "pulsestream/consumer/group_member.hpp"
#include "pulsestream/core/event.hpp"
#include "pulsestream/kafka/handles.hpp"

namespace pulsestream::consumer {

/// Records in poll order; owns the librdkafka messages.
class batch {
public:
    void add(kafka::message_ptr record) { records_.push_back(std::move(record)); }

    /// Forgets the records of `partitions` (revoked: they will be read again by their next
    /// owner from the committed offset). `partitions` must be sorted.
    void drop_partitions(std::span<const std::int32_t> partitions);

    void clear() noexcept { records_.clear(); }
    [[nodiscard]] bool empty() const noexcept { return records_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return records_.size(); }
    [[nodiscard]] const rd_kafka_message_t& operator[](std::size_t i) const { return *records_[i]; }

    /// Per partition, the lowest offset in the batch: where to rewind after a rollback.
    [[nodiscard]] std::vector<partition_offset> first_offsets() const;
    /// Per partition, the highest offset in the batch + 1: what to commit.
    [[nodiscard]] std::vector<partition_offset> next_offsets() const;

private:
    std::vector<kafka::message_ptr> records_;
};

/// A record that goes to the DLQ.
struct rejection {
    std::size_t record = 0;  ///< index in the batch
    failure_class error_class = failure_class::parse;
    std::string message;
};

/// What to do with each record of a batch.
struct batch_plan {
    std::vector<core::event> rows;         ///< valid events, in batch order
    std::vector<std::size_t> row_records;  ///< rows[i] comes from batch[row_records[i]]
    std::vector<rejection> rejected;       ///< parse and validation failures, in batch order
};

/// Parses and validates every record with the gateway's rules (core::parse_kafka_value).
[[nodiscard]] batch_plan plan_batch(const batch& records, const core::validation_rules& rules);

/// Key, value, headers and coordinates of a record, copied (for its DLQ record).
[[nodiscard]] source_record source_of(const rd_kafka_message_t& record, std::string_view topic);

/// The headers of a record, in order (empty when it has none).
[[nodiscard]] kafka::header_list headers_of(const rd_kafka_message_t& record);

}  // namespace pulsestream::consumer
