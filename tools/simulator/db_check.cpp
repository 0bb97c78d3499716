#include "db_check.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <set>
#include <thread>

namespace pulsestream::simulator {
namespace {

// A uuid[] literal: ids are canonical UUIDs, so nothing needs quoting.
std::string array_literal(std::vector<std::string>::const_iterator first,
                          std::vector<std::string>::const_iterator last) {
    std::string out = "{";
    for (auto it = first; it != last; ++it) {
        if (it != first) {
            out += ',';
        }
        out += *it;
    }
    out += '}';
    return out;
}

}  // namespace

row_count count_rows(const std::string& database_url, const std::vector<std::string>& ids) {
    std::set<std::string> unique(ids.begin(), ids.end());
    const std::vector<std::string> list(unique.begin(), unique.end());
    row_count count;
    count.ids = list.size();
    pqxx::connection conn(database_url);
    pqxx::nontransaction tx(conn);
    constexpr std::size_t chunk = 10000;
    for (std::size_t i = 0; i < list.size(); i += chunk) {
        const auto last =
            list.begin() + static_cast<std::ptrdiff_t>(std::min(list.size(), i + chunk));
        const auto row = tx.exec_params1(
            "SELECT count(*), count(DISTINCT id) FROM events WHERE id = ANY($1::uuid[])",
            array_literal(list.begin() + static_cast<std::ptrdiff_t>(i), last));
        count.rows += row[0].as<std::size_t>();
        count.distinct += row[1].as<std::size_t>();
    }
    return count;
}

row_count wait_for_rows(const std::string& database_url, const std::vector<std::string>& ids,
                        std::chrono::milliseconds deadline) {
    const auto started = std::chrono::steady_clock::now();
    const auto end = started + deadline;
    row_count count;
    for (;;) {
        try {
            count = count_rows(database_url, ids);
        } catch (const std::exception& e) {
            count = row_count{};
            count.error = e.what();
        }
        const auto now = std::chrono::steady_clock::now();
        count.waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - started);
        const bool settled =
            count.error.empty() && (count.distinct == count.ids || count.rows > count.distinct);
        if (settled || now >= end) {
            return count;
        }
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            std::chrono::milliseconds(200), end - now));
    }
}

std::optional<nlohmann::json> stored_metadata(const std::string& database_url,
                                              const std::string& id) {
    pqxx::connection conn(database_url);
    pqxx::nontransaction tx(conn);
    const auto result = tx.exec_params("SELECT metadata::text FROM events WHERE id = $1::uuid", id);
    if (result.empty()) {
        return std::nullopt;
    }
    if (result[0][0].is_null()) {
        return nlohmann::json();
    }
    return nlohmann::json::parse(result[0][0].c_str(), nullptr, false);
}

}  // namespace pulsestream::simulator
