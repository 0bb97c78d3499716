#pragma once

/// @file
/// The `clients` table (schema.sql): API keys are stored only as the hex SHA-256 of the key.
/// Blocking libpqxx calls: run them on a pg::blocking_pool, never on an io_context thread.

#include <cstdint>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <string_view>

#include "pulsestream/core/uuid.hpp"

namespace pulsestream::pg {

/// What the gateway needs to know about the owner of an API key.
struct client_record {
    core::uuid id;
    bool active = false;
    /// Events per second allowed for this client; empty means the gateway-wide default.
    std::optional<std::uint32_t> rate_limit_per_sec;

    friend bool operator==(const client_record&, const client_record&) = default;
};

/// The client whose key hashes to `key_sha256_hex` (lower-case hex), or nothing.
[[nodiscard]] std::optional<client_record> find_client_by_key_hash(pqxx::connection& conn,
                                                                   std::string_view key_sha256_hex);

}  // namespace pulsestream::pg
