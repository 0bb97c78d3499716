#pragma once

// End-to-end verification in PostgreSQL: are the accepted events rows, exactly once each?

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace pulsestream::simulator {

/// What PostgreSQL holds for a set of event ids.
struct row_count {
    std::size_t ids = 0;       ///< ids asked about (distinct)
    std::size_t rows = 0;      ///< rows of `events` with one of them
    std::size_t distinct = 0;  ///< distinct ids among those rows
    std::string error;         ///< last error, when the database could not be asked
    std::chrono::milliseconds waited{};

    /// Every id is a row and none twice.
    [[nodiscard]] bool exact() const { return error.empty() && rows == ids && distinct == ids; }
};

/// Counts the rows of `events` whose id is in `ids` (duplicates in `ids` are ignored). Throws
/// on database errors.
[[nodiscard]] row_count count_rows(const std::string& database_url,
                                   const std::vector<std::string>& ids);

/// Polls `count_rows` until every id is a row, a duplicate shows (it cannot go away), or
/// `deadline` passes; returns the last count. Database errors (PostgreSQL restarting) are
/// retried until the deadline and reported in `error`.
[[nodiscard]] row_count wait_for_rows(const std::string& database_url,
                                      const std::vector<std::string>& ids,
                                      std::chrono::milliseconds deadline);

/// The stored `metadata` of event `id` (JSON null when the column is NULL), nullopt when
/// there is no such row. Throws on database errors.
[[nodiscard]] std::optional<nlohmann::json> stored_metadata(const std::string& database_url,
                                                            const std::string& id);

}  // namespace pulsestream::simulator
