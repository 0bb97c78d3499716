#include "pulsestream/gateway/app.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>
#include <thread>

#include "pulsestream/gateway/auth.hpp"
#include "pulsestream/gateway/database_probe.hpp"
#include "pulsestream/gateway/idempotency.hpp"
#include "pulsestream/gateway/ingest.hpp"
#include "pulsestream/gateway/rate_limiter.hpp"
#include "pulsestream/gateway/redis_clients.hpp"
#include "pulsestream/gateway/stream_publisher.hpp"
#include "pulsestream/http/reply.hpp"
#include "pulsestream/http/router.hpp"
#include "pulsestream/http/server.hpp"
#include "pulsestream/kafka/producer.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"
#include "pulsestream/pg/blocking_pool.hpp"
#include "pulsestream/redis/subscriber.hpp"
#include "pulsestream/runtime/logging.hpp"
#include "pulsestream/stream/dashboard.hpp"
#include "pulsestream/stream/endpoint.hpp"
#include "pulsestream/stream/ws_hub.hpp"

namespace pulsestream::gateway {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

/// Auth keys are revoked by publishing the key's SHA-256 hex here (DESIGN.md §10).
constexpr std::string_view auth_invalidate_channel = "auth:invalidate";

redis::endpoint redis_endpoint_of(const std::string& url) {
    auto ep = redis::parse_redis_url(url);
    if (!ep) throw std::invalid_argument("REDIS_URL: not a redis:// URL");
    return *ep;
}

kafka::producer_config producer_config_of(const core::gateway_config& c,
                                           boost::asio::any_io_executor reports) {
    kafka::producer_config p;
    p.report_executor = std::move(reports);
    p.brokers = c.shared.kafka_brokers;
    p.client_id = "pulsestream-gateway";
    // Every request waits for its ack, so linger is latency paid by each one, and a shorter one
    // means more, smaller produce requests; measured with tools/bench/gateway at 64 connections
    // (docs/BENCHMARKS.md): 1 ms instead of 5 ms took single events from 8,586 to 27,449 req/s,
    // and once the 202 was stored without a script, 0.75 ms beat 1 ms again.
    p.linger_ms = c.kafka_linger_ms;
    // librdkafka may keep retrying a little longer than the gateway waits; the gateway answers
    // 503 at PRODUCE_TIMEOUT_MS on its own timer and the idempotency lock outlives both.
    p.message_timeout_ms = static_cast<int>(c.produce_timeout_ms);
    p.on_error = [](boost::system::error_code ec, std::string_view reason) {
        spdlog::warn("kafka: {} ({})", reason, ec.message());
    };
    // Without it librdkafka prints its own lines to stderr, past LOG_LEVEL and LOG_FORMAT.
    p.on_log = [](int level, std::string_view facility, std::string_view text) {
        runtime::log_syslog_line("kafka", level, facility, text);
    };
    return p;
}

std::string utc_now_iso8601() {
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

struct app::impl {
    explicit impl(core::gateway_config c)
        : config(std::move(c)),
          pool(config.threads),
          redis(pool, redis_endpoint_of(config.shared.redis_url)),
          database(config.shared.database_url, config.db_pool_size),
          // Reports are served on the first io thread, woken by librdkafka: no poll thread in
          // between, and the completions for that thread's own connections need no wake-up.
          producer(producer_config_of(config, pool.context(0).get_executor())),
          auth(auth_options{.cache_ttl = seconds(config.auth_cache_ttl_s),
                            .negative_ttl = seconds(config.auth_negative_ttl_s),
                            .redis_deadline = milliseconds(config.redis_timeout_ms)},
               redis, database, metrics),
          idempotency(idempotency_options{.lock_ttl = seconds(config.idempotency_lock_ttl_s),
                                          .result_ttl = seconds(config.idempotency_ttl_s),
                                          .deadline = milliseconds(config.redis_timeout_ms)},
                      redis, metrics),
          limiter(config.rate_limit_per_key),
          stream(redis, metrics, milliseconds(config.redis_timeout_ms),
                 stream_audience::options{.recheck = milliseconds(config.stream_recheck_ms)}),
          ingest_handler(ingest_options{.max_body_bytes = config.max_body_bytes,
                                        .rules = {.timestamp_skew_ms = config.shared.timestamp_skew_ms,
                                                  .max_batch_events = config.max_batch_events},
                                        .topic = config.shared.kafka_topic,
                                        .produce_timeout = milliseconds(config.produce_timeout_ms)},
                         auth, idempotency, limiter, producer, stream, metrics),
          hub(pulsestream::stream::hub_options{
                  .send_queue_limit = config.ws_send_queue_limit,
                  .channel_subscribed =
                      [this](std::string_view channel) {
                          stream.announce_watching(pool.context(0).get_executor(), channel);
                      }},
              pool.context(0).get_executor(), redis_endpoint_of(config.shared.redis_url), metrics),
          stream_route(hub, [this](std::string key) { return tenant_of(std::move(key)); }) {
        add_routes();
    }

    void add_routes() {
        routes.add(bhttp::verb::post, "/v1/events",
                   [this](http::exchange& ex) { return ingest_handler(ex); });
        routes.add(bhttp::verb::get, "/health", [this](http::exchange&) { return health(); });
        routes.add(bhttp::verb::get, "/healthz", [](http::exchange&) -> net::awaitable<http::response> {
            co_return http::json_response(200, R"({"status":"ok"})");
        });
        routes.add(bhttp::verb::get, "/readyz", [this](http::exchange&) { return readiness(); });
        routes.add(bhttp::verb::get, "/metrics", [this](http::exchange&) { return prometheus(); });
        routes.add(bhttp::verb::get, "/v1/stream",
                   [this](http::exchange& ex) { return stream_route(ex); });
        routes.add(bhttp::verb::get, "/", [](http::exchange&) -> net::awaitable<http::response> {
            co_return pulsestream::stream::dashboard_response();
        });
    }

    net::awaitable<boost::system::result<core::uuid>> tenant_of(std::string key) {
        auto client = co_await auth.authenticate(key);
        if (!client) co_return client.error();
        co_return client->id;
    }

    net::awaitable<http::response> health() {
        const bool up = !draining.load();
        co_return http::json_response(up ? 200 : 503,
                                      std::string(R"({"status":")") + (up ? "UP" : "DOWN") +
                                          R"(","service":"pulsestream-gateway","timestamp":")" +
                                          utc_now_iso8601() + "\"}");
    }

    /// Ready while not draining and the broker's metadata is reachable. Redis or PostgreSQL
    /// trouble does not make the gateway unready (it fails open) but is reported.
    net::awaitable<http::response> readiness() {
        auto [ec] = co_await producer.async_metadata_reachable(
            milliseconds(1000), net::as_tuple(net::use_awaitable));
        const bool broker = !ec;
        // Short: a probe with a 1 s timeout must still get its 200 while PostgreSQL is frozen.
        const bool database_ok = co_await database_health.reachable(milliseconds(500));
        const bool redis_ok = redis.breaker_closed();
        const bool ready = broker && !draining.load();
        metrics.producer_queue_depth(producer.queue_depth());
        metrics.redis_breaker_open(!redis_ok);
        std::string body = std::string(R"({"status":")") + (ready ? "ready" : "not_ready") +
                           R"(","draining":)" + (draining.load() ? "true" : "false") +
                           R"(,"broker":")" + (broker ? "ok" : "unreachable") +
                           R"(","redis":")" + (redis_ok ? "ok" : "degraded") +
                           R"(","database":")" + (database_ok ? "ok" : "unreachable") + "\"}";
        co_return http::json_response(ready ? 200 : 503, std::move(body));
    }

    net::awaitable<http::response> prometheus() {
        metrics.producer_queue_depth(producer.queue_depth());
        metrics.redis_breaker_open(!redis.breaker_closed());
        metrics.stream_unwatched_tenants(stream.audience().unwatched());
        http::response res{bhttp::status::ok, 11};
        res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = metrics.serialize();
        co_return res;
    }

    /// Key revocations, and other gateways' announcements that they watch a tenant's stream.
    void subscribe_to_notices() {
        notices = redis::subscriber::create(
            pool.context(0).get_executor(), redis_endpoint_of(config.shared.redis_url),
            [this](std::string_view channel, std::string_view message) {
                if (channel == auth_invalidate_channel) auth.invalidate(message);
                if (channel == stream_publisher::watch_channel) stream.heard_announcement(message);
            },
            {},
            redis::subscriber::state_handlers{
                .subscribed =
                    [this](std::string_view channel) {
                        if (channel == stream_publisher::watch_channel) {
                            stream.hearing_announcements(true);
                        }
                    },
                .lost = [this] { stream.hearing_announcements(false); },
                .handler_failed =
                    [](std::string_view what) {
                        spdlog::error(
                            "redis notices: a handler threw, its message or event went "
                            "unhandled: {}",
                            what);
                    }});
        notices->subscribe(std::string(auth_invalidate_channel));
        notices->subscribe(std::string(stream_publisher::watch_channel));
    }

    core::gateway_config config;
    metrics::gateway_metrics metrics;
    http::io_pool pool;
    redis_clients redis;
    pg::blocking_pool database;
    database_probe database_health{database};
    kafka::producer producer;
    authenticator auth;
    idempotency_store idempotency;
    rate_limiter limiter;
    stream_publisher stream;
    ingest ingest_handler;
    pulsestream::stream::ws_hub hub;  // after the pool: its subscriber must go before the io_contexts
    pulsestream::stream::stream_endpoint stream_route;
    http::router routes;
    std::shared_ptr<redis::subscriber> notices;
    std::unique_ptr<http::server> server;
    std::atomic<bool> draining{false};
    bool stopped = false;
};

app::app(core::gateway_config config) : impl_(std::make_unique<impl>(std::move(config))) {}

app::~app() { shutdown(milliseconds(impl_->config.shared.shutdown_timeout_ms)); }

void app::start() {
    auto& s = *impl_;
    http::server_options options;
    options.host = s.config.host;
    options.port = s.config.port;
    options.max_connections = s.config.max_connections;  // WebSockets count too
    // Behind a load balancer the idle timeout should exceed the balancer's own, so that the
    // gateway never closes a connection the balancer is about to reuse.
    options.header_timeout = milliseconds(s.config.http_header_timeout_ms);
    options.idle_timeout = milliseconds(s.config.http_idle_timeout_ms);
    options.body_timeout = milliseconds(s.config.http_body_timeout_ms);
    // Gzip bodies are bounded on the wire by the same limit; decompression re-checks it.
    options.body_limit = s.config.max_body_bytes;
    // Two lines of either could name two tenants or two keys; neither is guessed (400).
    options.single_value_fields = {"x-api-key", "idempotency-key"};
    // The metrics outlive the server (declared before it), so the observer is not owned here.
    std::shared_ptr<http::request_observer> observer(&s.metrics, [](http::request_observer*) {});
    s.server = std::make_unique<http::server>(s.pool, options, std::ref(s.routes), observer);
    s.server->listen();
    s.subscribe_to_notices();
    s.pool.start();
}

std::uint16_t app::port() const { return impl_->server ? impl_->server->port() : 0; }

void app::shutdown(milliseconds deadline) {
    auto& s = *impl_;
    if (s.stopped) return;
    s.stopped = true;
    s.draining = true;
    const auto until = std::chrono::steady_clock::now() + deadline;
    if (s.server) {
        s.server->drain();
        s.hub.shutdown();  // WebSockets close with 1001 (they left the server at the upgrade)
        // Requests in flight finish on their own threads; this thread only watches the count.
        while ((!s.server->idle() || s.hub.sessions() != 0) &&
               std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(milliseconds(10));
        }
        if (!s.server->idle() || s.hub.sessions() != 0) {
            spdlog::warn("shutdown: {} connections and {} WebSockets still open at the deadline",
                         s.server->connections(), s.hub.sessions());
        } else {
            s.server.reset();  // nothing of it runs any more: free it while its io_contexts exist
        }
    }
    const auto left = std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
    s.producer.stop(std::max(left, milliseconds(100)));
    s.hub.shutdown();
    if (s.notices) s.notices->close();
    s.redis.close();
    s.pool.release_work();
    s.pool.stop();
    s.pool.join();
}

}  // namespace pulsestream::gateway
