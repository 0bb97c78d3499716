#pragma once

/// @file
/// Writes one batch over several PostgreSQL connections at once: the rows are split into
/// shards by a hash of the event id, and each shard is written by its own pg::event_writer (its
/// own transaction) on its own thread. A single connection leaves every core but one idle on
/// the server while the consumer waits; two roughly double the insert rate (STYLE.md).
///
/// Why by event id: two shards never hold the same key, so concurrent transactions of one batch
/// never wait on each other's rows (no lock waits, no deadlocks between shards).
///
/// Contract: the same as pg::event_writer::write for the whole batch, with one difference: on a
/// transient failure some shards may have committed. The caller retries the whole batch (those
/// rows are then duplicates, skipped by ON CONFLICT), so nothing is lost or doubled.
///
/// Before that, rows whose key it saw committed lately (recent_keys) and repeats of a key within
/// the batch are set aside and counted as duplicates (a repeat of a refused row is refused
/// alike), so a producer's retries do not turn a batch into one that the direct COPY refuses.
///
/// Not thread-safe: one caller thread; the helper threads live only inside write().

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "pulsestream/consumer/recent_keys.hpp"
#include "pulsestream/core/event.hpp"
#include "pulsestream/pg/event_writer.hpp"

namespace pulsestream::consumer {

class sharded_writer {
public:
    /// `connections` writers (at least 1) to `database_url`; none connects before use. A batch
    /// smaller than `min_rows_per_shard` × 2 goes through the first writer alone. The keys of
    /// the last `remembered_keys` committed rows are kept (recent_keys; 0 keeps none).
    sharded_writer(const std::string& database_url, std::size_t connections,
                   std::size_t min_rows_per_shard = 250, std::size_t remembered_keys = 65536);

    /// Writes `rows` (elements may be moved from). Refused indices refer to `rows`.
    [[nodiscard]] pg::db_result<pg::write_report> write(std::span<core::event> rows);

    /// Partition maintenance and liveness checks go through the first connection.
    [[nodiscard]] pg::db_result<void> ensure_partitions(int days_ahead, int retention_days);
    [[nodiscard]] pg::db_result<void> ping();

    [[nodiscard]] std::size_t connections() const noexcept { return writers_.size(); }

private:
    // A batch sorted out before writing: rows to write (with their keys), rows already stored,
    // and (index, index of the first occurrence) for keys repeated within the batch.
    struct sorted_rows {
        std::vector<std::size_t> fresh;
        std::vector<event_key> fresh_keys;
        std::size_t known_duplicates = 0;
        std::vector<std::pair<std::size_t, std::size_t>> repeats;
    };

    [[nodiscard]] sorted_rows sort_out(std::span<const core::event> rows);
    [[nodiscard]] pg::db_result<pg::write_report> write_fresh(
        std::span<core::event> rows, const std::vector<std::size_t>& fresh);
    void settle(pg::write_report& report, std::size_t batch_size, const sorted_rows& sorted);

    std::vector<pg::event_writer> writers_;
    std::size_t min_rows_per_shard_;
    recent_keys recent_;
    // The keys of the batch being sorted out; a repeat past this many rows is left to PostgreSQL.
    static constexpr std::size_t batch_keys_capacity = 65536;
    recent_keys batch_keys_;
};

}  // namespace pulsestream::consumer
