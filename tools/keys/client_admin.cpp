#include "client_admin.hpp"

#include <charconv>
#include <pqxx/except>
#include <pqxx/result>
#include <pqxx/transaction>

#include "api_key.hpp"
#include "pulsestream/core/sha256.hpp"
#include "pulsestream/core/uuid.hpp"

namespace pulsestream::keys {
namespace {

constexpr std::string_view row_columns =
    "id::text, name, api_key_prefix, active, rate_limit_per_sec, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), api_key_hash";

client_row to_client(const pqxx::row& row) {
    client_row c;
    c.id = row[0].as<std::string>();
    c.name = row[1].as<std::string>();
    c.prefix = row[2].as<std::string>();
    c.active = row[3].as<bool>();
    if (!row[4].is_null()) c.rate_limit_per_sec = row[4].as<std::int32_t>();
    c.created_at = row[5].as<std::string>();
    return c;
}

struct locked_client {
    client_row client;
    std::string key_hash;
};

// A UUID selects by id, anything else by exact prefix; more than one match is refused rather
// than guessed, since the prefix of the development key is shared by hand-made rows.
locked_client lock_client(pqxx::work& tx, std::string_view selector) {
    const bool by_id = core::parse_uuid(selector).has_value();
    const std::string sql =
        std::string("SELECT ") + std::string(row_columns) + " FROM clients WHERE " +
        (by_id ? "id = $1::uuid" : "api_key_prefix = $1") + " ORDER BY created_at, id FOR UPDATE";
    const auto rows = tx.exec_params(sql, std::string(selector));
    if (rows.empty()) {
        throw admin_error("no client with " + std::string(by_id ? "id " : "key prefix ") +
                          std::string(selector));
    }
    if (rows.size() > 1) {
        throw admin_error(std::to_string(rows.size()) + " clients have key prefix " +
                          std::string(selector) + "; name the client by its id");
    }
    return {to_client(rows[0]), rows[0][6].as<std::string>()};
}

// The schema refuses 0 (CHECK rate_limit_per_sec > 0): 0 stands for NULL in the statements.
std::int32_t rate_param(std::optional<std::int32_t> rate) { return rate.value_or(0); }

}  // namespace

std::optional<std::int32_t> parse_rate_limit(std::string_view text) {
    if (text == "none") return std::nullopt;
    std::int32_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value < 1) {
        throw admin_error("rate limit: expected a positive integer (events/s) or 'none', got '" +
                          std::string(text) + "'");
    }
    return value;
}

client_admin::client_admin(const std::string& database_url) : conn_(database_url) {}

issued_key client_admin::create(std::string_view name, std::optional<std::int32_t> rate) {
    if (name.empty()) throw admin_error("name: must not be empty");
    if (rate && *rate < 1) throw admin_error("rate limit: must be positive");
    // A collision of 190-bit keys does not happen; the retry only keeps the UNIQUE constraint
    // from ever turning into an error message.
    for (int attempt = 1;; ++attempt) {
        std::string key = generate_api_key();
        try {
            pqxx::work tx(conn_);
            const auto rows = tx.exec_params(
                "INSERT INTO clients (name, api_key_hash, api_key_prefix, rate_limit_per_sec) "
                "VALUES ($1, $2, $3, NULLIF($4, 0)) RETURNING " +
                    std::string(row_columns),
                std::string(name), core::api_key_hash(key), key_prefix(key), rate_param(rate));
            tx.commit();
            return {to_client(rows[0]), std::move(key)};
        } catch (const pqxx::unique_violation&) {
            if (attempt == 3) throw;
        }
    }
}

std::vector<client_row> client_admin::list() {
    pqxx::work tx(conn_);
    const auto rows =
        tx.exec("SELECT " + std::string(row_columns) + " FROM clients ORDER BY created_at, id");
    std::vector<client_row> clients;
    clients.reserve(rows.size());
    for (const auto& row : rows) clients.push_back(to_client(row));
    return clients;
}

client_row client_admin::find(std::string_view selector) { return current(selector).client; }

key_change client_admin::current(std::string_view selector) {
    pqxx::work tx(conn_);
    auto found = lock_client(tx, selector);
    return {std::move(found.client), {std::move(found.key_hash)}};
}

key_change client_admin::set_active(std::string_view selector, bool active) {
    pqxx::work tx(conn_);
    auto found = lock_client(tx, selector);
    tx.exec_params("UPDATE clients SET active = $2 WHERE id = $1::uuid", found.client.id, active);
    tx.commit();
    found.client.active = active;
    return {std::move(found.client), {std::move(found.key_hash)}};
}

std::pair<key_change, std::string> client_admin::rotate(std::string_view selector) {
    pqxx::work tx(conn_);
    auto found = lock_client(tx, selector);
    std::string key = generate_api_key();
    tx.exec_params("UPDATE clients SET api_key_hash = $2, api_key_prefix = $3 WHERE id = $1::uuid",
                   found.client.id, core::api_key_hash(key), key_prefix(key));
    tx.commit();
    found.client.prefix = key_prefix(key);
    return {key_change{std::move(found.client), {std::move(found.key_hash)}}, std::move(key)};
}

key_change client_admin::set_rate_limit(std::string_view selector,
                                        std::optional<std::int32_t> per_sec) {
    if (per_sec && *per_sec < 1) throw admin_error("rate limit: must be positive");
    pqxx::work tx(conn_);
    auto found = lock_client(tx, selector);
    tx.exec_params("UPDATE clients SET rate_limit_per_sec = NULLIF($2, 0) WHERE id = $1::uuid",
                   found.client.id, rate_param(per_sec));
    tx.commit();
    found.client.rate_limit_per_sec = per_sec;
    return {std::move(found.client), {std::move(found.key_hash)}};
}

}  // namespace pulsestream::keys
