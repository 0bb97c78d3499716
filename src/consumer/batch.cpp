#include "pulsestream/consumer/batch.hpp"

#include <algorithm>
#include <map>

#include "pulsestream/core/validate.hpp"

namespace pulsestream::consumer {

namespace {

std::string_view payload_of(const rd_kafka_message_t& record) {
    if (record.payload == nullptr) return {};
    return {static_cast<const char*>(record.payload), record.len};
}

}  // namespace

void batch::drop_partitions(std::span<const std::int32_t> partitions) {
    std::erase_if(records_, [partitions](const kafka::message_ptr& record) {
        return std::binary_search(partitions.begin(), partitions.end(), record->partition);
    });
}

std::vector<partition_offset> batch::first_offsets() const {
    std::map<std::int32_t, std::int64_t> first;
    for (const auto& record : records_) {
        auto [it, fresh] = first.try_emplace(record->partition, record->offset);
        if (!fresh) it->second = std::min(it->second, record->offset);
    }
    std::vector<partition_offset> out;
    for (const auto& [partition, offset] : first) out.push_back({partition, offset});
    return out;
}

std::vector<partition_offset> batch::next_offsets() const {
    std::map<std::int32_t, std::int64_t> next;
    for (const auto& record : records_) {
        auto [it, fresh] = next.try_emplace(record->partition, record->offset + 1);
        if (!fresh) it->second = std::max(it->second, record->offset + 1);
    }
    std::vector<partition_offset> out;
    for (const auto& [partition, offset] : next) out.push_back({partition, offset});
    return out;
}

batch_plan plan_batch(const batch& records, const core::validation_rules& rules) {
    batch_plan plan;
    plan.rows.reserve(records.size());
    plan.row_records.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        auto parsed = core::parse_kafka_value(payload_of(records[i]), rules);
        if (parsed) {
            plan.rows.push_back(std::move(*parsed));
            plan.row_records.push_back(i);
            continue;
        }
        auto failure = std::move(parsed).error();
        plan.rejected.push_back({i,
                                 failure.error_class == core::record_error_class::parse
                                     ? failure_class::parse
                                     : failure_class::validation,
                                 std::move(failure.message)});
    }
    return plan;
}

kafka::header_list headers_of(const rd_kafka_message_t& record) {
    kafka::header_list out;
    rd_kafka_headers_t* headers = nullptr;
    // librdkafka parses the headers lazily and keeps them with the message.
    if (rd_kafka_message_headers(&record, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
        out.emplace_back(name, value == nullptr
                                   ? std::string()
                                   : std::string(static_cast<const char*>(value), size));
    }
    return out;
}

source_record source_of(const rd_kafka_message_t& record, std::string_view topic) {
    source_record source;
    source.topic = std::string(topic);
    source.partition = record.partition;
    source.offset = record.offset;
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    source.timestamp_ms = rd_kafka_message_timestamp(&record, &type);
    if (type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) source.timestamp_ms = -1;
    if (record.key != nullptr) {
        source.key = std::string(static_cast<const char*>(record.key), record.key_len);
    }
    source.value = std::string(payload_of(record));
    source.headers = headers_of(record);
    return source;
}

}  // namespace pulsestream::consumer
