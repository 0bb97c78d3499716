#include "pulsestream/consumer/sharded_writer.hpp"

#include <algorithm>
#include <functional>
#include <future>
#include <iterator>
#include <utility>

namespace pulsestream::consumer {

namespace {

bool by_index(const pg::refused_row& a, const pg::refused_row& b) { return a.index < b.index; }

}  // namespace

sharded_writer::sharded_writer(const std::string& database_url, std::size_t connections,
                               std::size_t min_rows_per_shard, std::size_t remembered_keys)
    : min_rows_per_shard_(std::max<std::size_t>(1, min_rows_per_shard)),
      recent_(remembered_keys),
      batch_keys_(batch_keys_capacity) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, connections); ++i) {
        writers_.emplace_back(database_url);
    }
}

sharded_writer::sorted_rows sharded_writer::sort_out(std::span<const core::event> rows) {
    sorted_rows sorted;
    sorted.fresh.reserve(rows.size());
    sorted.fresh_keys.reserve(rows.size());
    batch_keys_.clear();
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const event_key key = key_of(rows[i]);
        if (recent_.contains(key)) {
            ++sorted.known_duplicates;
        } else if (const auto first = batch_keys_.find(key)) {
            sorted.repeats.emplace_back(i, *first);
        } else {
            batch_keys_.remember(key, i);
            sorted.fresh.push_back(i);
            sorted.fresh_keys.push_back(key);
        }
    }
    return sorted;
}

pg::db_result<pg::write_report> sharded_writer::write(std::span<core::event> rows) {
    sorted_rows sorted = sort_out(rows);
    auto report = write_fresh(rows, sorted.fresh);
    if (!report) return report;
    settle(*report, rows.size(), sorted);
    return report;
}

pg::db_result<pg::write_report> sharded_writer::write_fresh(std::span<core::event> rows,
                                                            const std::vector<std::size_t>& fresh) {
    const auto shards =
        std::clamp<std::size_t>(fresh.size() / min_rows_per_shard_, 1, writers_.size());
    std::vector<std::vector<core::event>> parts(shards);
    std::vector<std::vector<std::size_t>> origin(shards);
    for (auto& part : parts) part.reserve(fresh.size() / shards + fresh.size() / 8);
    for (const std::size_t i : fresh) {
        const auto s = shards == 1 ? 0 : std::hash<core::uuid>{}(rows[i].id) % shards;
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
    return merged;
}

// After a committed write: remember what is now stored, count the known duplicates, and give
// each repeat within the batch the outcome of its first occurrence.
void sharded_writer::settle(pg::write_report& report, std::size_t batch_size,
                            const sorted_rows& sorted) {
    std::vector<const pg::refused_row*> refused_at(report.refused.empty() ? 0 : batch_size);
    for (const auto& r : report.refused) refused_at[r.index] = &r;
    const auto refused = [&](std::size_t i) {
        return refused_at.empty() ? nullptr : refused_at[i];
    };
    for (std::size_t j = 0; j < sorted.fresh.size(); ++j) {
        if (refused(sorted.fresh[j]) == nullptr) recent_.remember(sorted.fresh_keys[j]);
    }
    report.duplicates += sorted.known_duplicates;
    std::vector<pg::refused_row> repeated_refusals;
    for (const auto& [index, first] : sorted.repeats) {
        if (const auto* r = refused(first)) {
            repeated_refusals.push_back({index, r->sqlstate, r->message});
        } else {
            ++report.duplicates;
        }
    }
    std::move(repeated_refusals.begin(), repeated_refusals.end(),
              std::back_inserter(report.refused));
    std::sort(report.refused.begin(), report.refused.end(), by_index);
}

pg::db_result<void> sharded_writer::ensure_partitions(int days_ahead, int retention_days) {
    return writers_.front().ensure_partitions(days_ahead, retention_days);
}

pg::db_result<void> sharded_writer::ping() { return writers_.front().ping(); }

}  // namespace pulsestream::consumer
