#include "pulsestream/pg/client_store.hpp"

#include <pqxx/nontransaction>

namespace pulsestream::pg {

std::optional<client_record> find_client_by_key_hash(pqxx::connection& conn,
                                                     std::string_view key_sha256_hex) {
    pqxx::nontransaction tx(conn);
    const auto rows = tx.exec_params(
        "SELECT id::text, active, rate_limit_per_sec FROM clients WHERE api_key_hash = $1",
        std::string(key_sha256_hex));
    if (rows.empty()) return std::nullopt;
    const auto row = rows[0];
    client_record client;
    // The column is a uuid, so PostgreSQL's text form always parses.
    client.id = core::parse_uuid(row[0].as<std::string>()).value();
    client.active = row[1].as<bool>();
    if (!row[2].is_null()) client.rate_limit_per_sec = row[2].as<std::uint32_t>();
    return client;
}

}  // namespace pulsestream::pg
