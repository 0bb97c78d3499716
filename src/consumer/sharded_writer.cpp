#include "pulsestream/consumer/sharded_writer.hpp"

#include <algorithm>
#include <functional>
#include <future>
#include <optional>
#include <utility>

namespace pulsestream::consumer {

sharded_writer::sharded_writer(const std::string& database_url, std::size_t connections,
                               std::size_t min_rows_per_shard)
    : min_rows_per_shard_(std::max<std::size_t>(1, min_rows_per_shard)) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, connections); ++i) {
        writers_.emplace_back(database_url);
    }
}

pg::db_result<pg::write_report> sharded_writer::write(std::span<core::event> rows) {
    const auto shards = std::min(writers_.size(), rows.size() / min_rows_per_shard_);
    if (shards <= 1) return writers_.front().write(rows);

    std::vector<std::vector<core::event>> parts(shards);
    std::vector<std::vector<std::size_t>> origin(shards);
    for (auto& part : parts) part.reserve(rows.size() / shards + rows.size() / 8);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto s = std::hash<core::uuid>{}(rows[i].id) % shards;
        parts[s].push_back(std::move(rows[i]));
        origin[s].push_back(i);
    }

    std::vector<std::future<pg::db_result<pg::write_report>>> others;
    for (std::size_t s = 1; s < shards; ++s) {
        others.push_back(std::async(std::launch::async,
                                    [this, s, &parts] { return writers_[s].write(parts[s]); }));
    }
    std::vector<pg::db_result<pg::write_report>> results;
    results.push_back(writers_.front().write(parts[0]));
    for (auto& f : others) results.push_back(f.get());

    pg::write_report merged;
    for (std::size_t s = 0; s < shards; ++s) {
        if (!results[s]) return results[s].error();
        merged.inserted += results[s]->inserted;
        merged.duplicates += results[s]->duplicates;
        for (auto& r : results[s]->refused) {
            r.index = origin[s][r.index];
            merged.refused.push_back(std::move(r));
        }
    }
    std::sort(merged.refused.begin(), merged.refused.end(),
              [](const pg::refused_row& a, const pg::refused_row& b) { return a.index < b.index; });
    return merged;
}

pg::db_result<void> sharded_writer::ensure_partitions(int days_ahead, int retention_days) {
    return writers_.front().ensure_partitions(days_ahead, retention_days);
}

pg::db_result<void> sharded_writer::ping() { return writers_.front().ping(); }

}  // namespace pulsestream::consumer
