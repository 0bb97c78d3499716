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
/// Not thread-safe: one caller thread; the helper threads live only inside write().

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "pulsestream/core/event.hpp"
#include "pulsestream/pg/event_writer.hpp"

namespace pulsestream::consumer {

class sharded_writer {
public:
    /// `connections` writers (at least 1) to `database_url`; none connects before use. A batch
    /// smaller than `min_rows_per_shard` × 2 goes through the first writer alone.
    sharded_writer(const std::string& database_url, std::size_t connections,
                   std::size_t min_rows_per_shard = 250);

    /// Writes `rows` (elements may be moved from). Refused indices refer to `rows`.
    [[nodiscard]] pg::db_result<pg::write_report> write(std::span<core::event> rows);

    /// Partition maintenance and liveness checks go through the first connection.
    [[nodiscard]] pg::db_result<void> ensure_partitions(int days_ahead, int retention_days);
    [[nodiscard]] pg::db_result<void> ping();

    [[nodiscard]] std::size_t connections() const noexcept { return writers_.size(); }

private:
    std::vector<pg::event_writer> writers_;
    std::size_t min_rows_per_shard_;
};

}  // namespace pulsestream::consumer
