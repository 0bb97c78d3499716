#include "pulsestream/core/config.hpp"

#include <algorithm>
#include <array>
#include <boost/throw_exception.hpp>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <thread>
#include <utility>

namespace pulsestream::core {
namespace {

constexpr std::int64_t day_ms = 86400000;
constexpr std::int64_t day_s = 86400;
constexpr std::int64_t hour_ms = 3600000;

std::string shortest_text(double v) {
    std::array<char, 32> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return ec == std::errc{} ? std::string(buf.data(), end) : std::to_string(v);
}

// Collects every problem instead of stopping at the first, so an operator fixes them in one go.
class env_reader {
public:
    explicit env_reader(const env_lookup& env) : env_(env) {}

    template <class T>
    bool integer(std::string_view name, T& out, std::int64_t min, std::int64_t max) {
        const auto raw = get(name);
        if (!raw) return true;
        std::int64_t v = 0;
        const char* end = raw->data() + raw->size();
        const auto [ptr, ec] = std::from_chars(raw->data(), end, v);
        if (ec != std::errc{} || ptr != end || v < min || v > max) {
            error(name, "expected an integer " + std::to_string(min) + ".." + std::to_string(max) +
                            ", got '" + shorten(*raw) + "'");
            return false;
        }
        out = static_cast<T>(v);
        return true;
    }

    bool decimal(std::string_view name, double& out, double min, double max) {
        const auto raw = get(name);
        if (!raw) return true;
        double v = 0;
        const char* end = raw->data() + raw->size();
        const auto [ptr, ec] = std::from_chars(raw->data(), end, v);
        if (ec != std::errc{} || ptr != end || !(v >= min && v <= max)) {
            error(name, "expected a number " + shortest_text(min) + ".." + shortest_text(max) +
                            ", got '" + shorten(*raw) + "'");
            return false;
        }
        out = v;
        return true;
    }

    void text(std::string_view name, std::string& out) {
        if (auto raw = get(name)) out = std::move(*raw);
    }

    void url(std::string_view name, std::string& out, std::initializer_list<std::string_view> schemes) {
        const auto raw = get(name);
        if (!raw) return;
        for (std::string_view scheme : schemes) {
            if (raw->size() > scheme.size() && raw->starts_with(scheme)) {
                out = *raw;
                return;
            }
        }
        std::string expected;
        for (std::string_view scheme : schemes) {
            if (!expected.empty()) expected += " or ";
            expected += scheme;
        }
        error(name, "expected a URL starting with " + expected + ", got '" + shorten(*raw) + "'");
    }

    void one_of(std::string_view name, std::string& out,
                std::initializer_list<std::string_view> allowed) {
        auto raw = get(name);
        if (!raw) return;
        std::string lower = *raw;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (std::find(allowed.begin(), allowed.end(), lower) != allowed.end()) {
            out = std::move(lower);
            return;
        }
        std::string expected;
        for (std::string_view a : allowed) {
            if (!expected.empty()) expected += '|';
            expected += a;
        }
        error(name, "expected one of " + expected + ", got '" + shorten(*raw) + "'");
    }

    void topic(std::string_view name, std::string& out) {
        const auto raw = get(name);
        if (!raw) return;
        const bool legal_chars = std::all_of(raw->begin(), raw->end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
        });
        if (!legal_chars || raw->size() > 249 || *raw == "." || *raw == "..") {
            error(name, "expected a Kafka topic name (1-249 of [a-zA-Z0-9._-]), got '" +
                            shorten(*raw) + "'");
            return;
        }
        out = *raw;
    }

    void brokers(std::string_view name, std::string& out) {
        const auto raw = get(name);
        if (!raw) return;
        std::string_view rest = *raw;
        bool ok = true;
        while (ok) {
            const std::size_t comma = rest.find(',');
            const std::string_view item = rest.substr(0, comma);
            const std::size_t colon = item.rfind(':');
            ok = !item.empty() && item.find(' ') == std::string_view::npos &&
                 colon != std::string_view::npos && colon > 0 && colon + 1 < item.size();
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
        if (!ok) {
            error(name, "expected a comma-separated list of host:port, got '" + shorten(*raw) + "'");
            return;
        }
        out = *raw;
    }

    void error(std::string_view name, std::string message) {
        errors_.push_back(std::string(name) + ": " + std::move(message));
    }

    std::vector<std::string> take_errors() { return std::move(errors_); }
    [[nodiscard]] bool ok() const { return errors_.empty(); }

private:
    std::optional<std::string> get(std::string_view name) const {
        auto v = env_(name);
        if (v && v->empty()) return std::nullopt;  // VAR= behaves like unset (compose files)
        return v;
    }

    static std::string shorten(std::string_view raw) {
        constexpr std::size_t limit = 80;
        if (raw.size() <= limit) return std::string(raw);
        return std::string(raw.substr(0, limit)) + "...";
    }

    const env_lookup& env_;
    std::vector<std::string> errors_;
};

void read_shared(env_reader& r, shared_config& c) {
    r.url("DATABASE_URL", c.database_url, {"postgresql://", "postgres://"});
    r.url("REDIS_URL", c.redis_url, {"redis://"});
    r.brokers("KAFKA_BROKERS", c.kafka_brokers);
    r.topic("KAFKA_TOPIC", c.kafka_topic);
    r.topic("KAFKA_DLQ_TOPIC", c.kafka_dlq_topic);
    if (c.kafka_topic == c.kafka_dlq_topic) r.error("KAFKA_DLQ_TOPIC", "must differ from KAFKA_TOPIC");
    r.integer("TIMESTAMP_SKEW_MS", c.timestamp_skew_ms, 0, 7 * day_ms);
    r.one_of("LOG_LEVEL", c.log_level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
    r.one_of("LOG_FORMAT", c.log_format, {"text", "json"});
    r.integer("SHUTDOWN_TIMEOUT_MS", c.shutdown_timeout_ms, 1, 600000);
}

void read_host(env_reader& r, std::string& host) {
    r.text("HOST", host);
    if (host.find_first_of(" /") != std::string::npos) {
        r.error("HOST", "expected a host name or address, got '" + host + "'");
    }
}

}  // namespace

env_lookup process_env() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* v = std::getenv(std::string(name).c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

env_lookup env_from_map(std::map<std::string, std::string, std::less<>> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

config_result<gateway_config> load_gateway_config(const env_lookup& env) {
    env_reader r(env);
    gateway_config c;
    c.threads = std::max(1U, std::thread::hardware_concurrency());
    read_shared(r, c.shared);
    read_host(r, c.host);
    r.integer("PORT", c.port, 0, 65535);
    r.integer("GATEWAY_THREADS", c.threads, 1, 1024);
    r.integer("MAX_CONNECTIONS", c.max_connections, 1, 1000000);
    r.integer("HTTP_HEADER_TIMEOUT_MS", c.http_header_timeout_ms, 1, hour_ms);
    r.integer("HTTP_IDLE_TIMEOUT_MS", c.http_idle_timeout_ms, 1, hour_ms);
    r.integer("HTTP_BODY_TIMEOUT_MS", c.http_body_timeout_ms, 1, hour_ms);
    r.integer("MAX_BODY_BYTES", c.max_body_bytes, 1, 256LL << 20);
    r.integer("MAX_BATCH_EVENTS", c.max_batch_events, 1, 100000);
    const bool timeout_ok = r.integer("PRODUCE_TIMEOUT_MS", c.produce_timeout_ms, 1, 600000);
    r.decimal("KAFKA_LINGER_MS", c.kafka_linger_ms, 0, 1000);
    const bool lock_ok = r.integer("IDEMPOTENCY_LOCK_TTL_S", c.idempotency_lock_ttl_s, 1, day_s);
    r.integer("IDEMPOTENCY_TTL_S", c.idempotency_ttl_s, 1, 30 * day_s);
    r.integer("AUTH_CACHE_TTL_S", c.auth_cache_ttl_s, 1, day_s);
    r.integer("AUTH_NEGATIVE_TTL_S", c.auth_negative_ttl_s, 1, day_s);
    r.integer("RATE_LIMIT_PER_KEY", c.rate_limit_per_key, 0, 100000000);
    r.integer("REDIS_TIMEOUT_MS", c.redis_timeout_ms, 1, 60000);
    r.integer("WS_SEND_QUEUE_LIMIT", c.ws_send_queue_limit, 1, 1000000);
    r.integer("DB_POOL_SIZE", c.db_pool_size, 1, 256);
    // The lock must outlive the slowest produce, or a retry could be processed twice (§9.3).
    if (timeout_ok && lock_ok && c.idempotency_lock_ttl_s * 1000 <= c.produce_timeout_ms) {
        r.error("IDEMPOTENCY_LOCK_TTL_S",
                "must exceed PRODUCE_TIMEOUT_MS (" + std::to_string(c.idempotency_lock_ttl_s) +
                    " s <= " + std::to_string(c.produce_timeout_ms) + " ms)");
    }
    if (!r.ok()) return config_errors{r.take_errors()};
    return c;
}

config_result<consumer_config> load_consumer_config(const env_lookup& env) {
    env_reader r(env);
    consumer_config c;
    read_shared(r, c.shared);
    read_host(r, c.host);
    r.integer("CONSUMER_PORT", c.consumer_port, 0, 65535);
    r.text("KAFKA_GROUP_ID", c.group_id);
    r.integer("BATCH_MAX_EVENTS", c.batch_max_events, 1, 100000);
    r.integer("BATCH_MAX_WAIT_MS", c.batch_max_wait_ms, 1, 60000);
    r.integer("CONSUMER_DB_CONNECTIONS", c.db_connections, 1, 64);
    r.integer("KAFKA_SESSION_TIMEOUT_MS", c.session_timeout_ms, 1, 3600000);
    r.integer("RETENTION_DAYS", c.retention_days, 1, 3650);
    if (!r.ok()) return config_errors{r.take_errors()};
    return c;
}

void throw_exception_from_error(const config_errors& errors, const boost::source_location& loc) {
    std::string what = "invalid configuration:";
    for (const std::string& m : errors.messages) what += "\n  " + m;
    boost::throw_exception(std::invalid_argument(what), loc);
}

}  // namespace pulsestream::core
