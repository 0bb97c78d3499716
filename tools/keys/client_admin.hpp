#pragma once

/// @file
/// The `clients` table as `pulsestream-keys` changes it (schema.sql): create a client with a new
/// key, list clients, switch a client on or off, rotate its key, set its rate limit. Keys are
/// never stored: only their SHA-256 (core::api_key_hash) and their prefix (api_key.hpp).

#include <cstdint>
#include <optional>
#include <pqxx/connection>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pulsestream::keys {

/// A refusal the operator can fix (unknown client, ambiguous prefix, bad value): nothing was
/// changed.
class admin_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One row of `clients`, without the key hash.
struct client_row {
    std::string id;
    std::string name;
    std::string prefix;
    bool active = true;
    std::optional<std::int32_t> rate_limit_per_sec;  ///< empty: the gateway's RATE_LIMIT_PER_KEY
    std::string created_at;                          ///< UTC, ISO 8601 (seconds)
};

/// A change that makes cached answers about some keys wrong: the hashes to invalidate.
struct key_change {
    client_row client;
    std::vector<std::string> stale_key_hashes;
};

/// A client and its new key (the only time the key exists outside the client's hands).
struct issued_key {
    client_row client;
    std::string api_key;
};

/// Parses a rate limit argument: a positive integer (events per second) or "none".
/// Throws admin_error for anything else.
[[nodiscard]] std::optional<std::int32_t> parse_rate_limit(std::string_view text);

/// Synchronous libpqxx session on one connection; every change is one transaction.
/// Throws pqxx exceptions when PostgreSQL fails, admin_error when the request is refused.
/// Not thread-safe.
class client_admin {
public:
    /// Connects at once (throws pqxx::broken_connection when it cannot).
    explicit client_admin(const std::string& database_url);

    /// Inserts a client with a freshly generated key.
    issued_key create(std::string_view name, std::optional<std::int32_t> rate_limit_per_sec);

    /// Every client, oldest first.
    std::vector<client_row> list();

    /// The client named by `selector`: its id (a UUID) or its exact key prefix.
    client_row find(std::string_view selector);

    /// The client's current key hash (to invalidate caches again after a Redis outage).
    key_change current(std::string_view selector);

    /// Sets `active`; the stale hash is the client's key.
    key_change set_active(std::string_view selector, bool active);

    /// Replaces the client's key: the old hash becomes unknown at once.
    std::pair<key_change, std::string> rotate(std::string_view selector);

    /// Sets or clears (nullopt) the client's own rate limit.
    key_change set_rate_limit(std::string_view selector, std::optional<std::int32_t> per_sec);

private:
    pqxx::connection conn_;
};

}  // namespace pulsestream::keys
