#pragma once

/// @file
/// Environment-driven configuration of the daemons (DESIGN.md §2). Each loader reads every
/// variable once through an `env_lookup`, applies defaults, validates ranges and formats, and
/// returns either the whole config or *all* problems at once (the daemon prints them and exits
/// with code 2). An unset or empty variable takes its default.
///
/// Depends on nothing else in PulseStream. Loaders are pure given the lookup; thread-safe.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pulsestream::core {

/// Returns the value of an environment variable, or nullopt when it is not set.
using env_lookup = std::function<std::optional<std::string>(std::string_view)>;

/// The real process environment (std::getenv). Safe as long as nobody calls setenv meanwhile.
[[nodiscard]] env_lookup process_env();

/// A fixed set of variables (for tests and tools); the map is copied into the lookup.
[[nodiscard]] env_lookup env_from_map(std::map<std::string, std::string, std::less<>> vars);

/// Variables shared by the gateway and the consumer.
struct shared_config {
    std::string database_url = "postgresql://postgres:postgres@localhost:5432/pulsestream";
    std::string redis_url = "redis://localhost:6379";   ///< REDIS_URL, redis://[:pw@]host[:port][/db]
    std::string kafka_brokers = "localhost:9092";       ///< KAFKA_BROKERS, comma-separated host:port
    std::string kafka_topic = "metrics.raw";            ///< KAFKA_TOPIC
    std::string kafka_dlq_topic = "metrics.dlq";        ///< KAFKA_DLQ_TOPIC (must differ)
    std::int64_t timestamp_skew_ms = 300000;            ///< TIMESTAMP_SKEW_MS, 0..7 days
    std::string log_level = "info";  ///< LOG_LEVEL: trace|debug|info|warn|error|critical|off
    std::string log_format = "text";                    ///< LOG_FORMAT: text|json
    std::int64_t shutdown_timeout_ms = 10000;  ///< SHUTDOWN_TIMEOUT_MS: drain deadline, 1..600000
};

/// `pulsestream-gateway` settings.
struct gateway_config {
    shared_config shared;
    std::string host = "0.0.0.0";                 ///< HOST
    std::uint16_t port = 3000;                    ///< PORT, 0..65535 (0 = ephemeral)
    unsigned threads = 1;                         ///< GATEWAY_THREADS, 1..1024; default = cores
    std::size_t max_connections = 16384;          ///< MAX_CONNECTIONS: HTTP + WebSocket, 1..1000000
    std::int64_t http_header_timeout_ms = 10000;  ///< HTTP_HEADER_TIMEOUT_MS: reading a header
    std::int64_t http_idle_timeout_ms = 60000;    ///< HTTP_IDLE_TIMEOUT_MS: keep-alive wait
    std::int64_t http_body_timeout_ms = 30000;    ///< HTTP_BODY_TIMEOUT_MS: reading a body
    std::size_t max_body_bytes = 1U << 20U;       ///< MAX_BODY_BYTES, after decompression
    std::size_t max_batch_events = 500;           ///< MAX_BATCH_EVENTS, 1..100000
    std::int64_t produce_timeout_ms = 10000;      ///< PRODUCE_TIMEOUT_MS, 1..600000
    double kafka_linger_ms = 0.75;                ///< KAFKA_LINGER_MS, 0..1000, fractions allowed
    std::int64_t idempotency_lock_ttl_s = 30;     ///< IDEMPOTENCY_LOCK_TTL_S, > produce timeout
    std::int64_t idempotency_ttl_s = 86400;       ///< IDEMPOTENCY_TTL_S, 1..30 days
    std::int64_t auth_cache_ttl_s = 300;          ///< AUTH_CACHE_TTL_S, 1..86400
    std::int64_t auth_negative_ttl_s = 30;        ///< AUTH_NEGATIVE_TTL_S, 1..86400
    std::uint32_t rate_limit_per_key = 0;         ///< RATE_LIMIT_PER_KEY events/s, 0 = off
    std::int64_t redis_timeout_ms = 250;          ///< REDIS_TIMEOUT_MS: per-command deadline
    std::size_t ws_send_queue_limit = 256;        ///< WS_SEND_QUEUE_LIMIT frames per socket
    std::size_t db_pool_size = 4;                 ///< DB_POOL_SIZE: PostgreSQL connections
    /// No variable: how long a tenant that Redis reported unwatched goes unpublished before one
    /// PUBLISH asks again (gateway::stream_audience). Tests lengthen it so that only the
    /// gateways' announcements can end it.
    std::int64_t stream_recheck_ms = 1000;
};

/// `pulsestream-consumer` settings.
struct consumer_config {
    shared_config shared;
    std::string host = "0.0.0.0";                         ///< HOST (metrics/health port)
    std::uint16_t consumer_port = 3001;                   ///< CONSUMER_PORT, 0..65535
    std::string group_id = "pulsestream-metrics-group";   ///< KAFKA_GROUP_ID
    std::size_t batch_max_events = 20000;                 ///< BATCH_MAX_EVENTS, 1..100000
    std::int64_t batch_max_wait_ms = 200;                 ///< BATCH_MAX_WAIT_MS, 1..60000
    std::size_t db_connections = 2;                       ///< CONSUMER_DB_CONNECTIONS, 1..64
    std::int64_t session_timeout_ms = 10000;              ///< KAFKA_SESSION_TIMEOUT_MS
    std::int64_t retention_days = 14;                     ///< RETENTION_DAYS, 1..3650
};

/// Every problem found, one line each, e.g. "PORT: expected an integer 0..65535, got 'abc'".
struct config_errors {
    std::vector<std::string> messages;
};

template <class T>
using config_result = boost::system::result<T, config_errors>;

/// Reads the shared and gateway variables.
[[nodiscard]] config_result<gateway_config> load_gateway_config(const env_lookup& env);

/// Reads the shared and consumer variables.
[[nodiscard]] config_result<consumer_config> load_consumer_config(const env_lookup& env);

/// Lets `result::value()` throw std::invalid_argument listing all messages.
[[noreturn]] void throw_exception_from_error(const config_errors& errors,
                                             const boost::source_location& loc);

}  // namespace pulsestream::core
