#include "pulsestream/consumer/app.hpp"

#include <limits.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "pulsestream/consumer/batch_loop.hpp"
#include "pulsestream/consumer/sharded_writer.hpp"
#include "pulsestream/http/io_pool.hpp"
#include "pulsestream/http/reply.hpp"
#include "pulsestream/http/router.hpp"
#include "pulsestream/http/server.hpp"
#include "pulsestream/kafka/producer.hpp"
#include "pulsestream/runtime/logging.hpp"

namespace pulsestream::consumer {

namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;

class quiet_observer final : public http::request_observer {
public:
    void on_request_finished(const http::exchange&, unsigned,
                             std::chrono::steady_clock::duration) override {}
    void on_handler_exception(const http::exchange& ex, const char* what) override {
        spdlog::error("HTTP handler for {} failed: {}", ex.path(), what);
    }
};

kafka::producer_config producer_config_of(const core::consumer_config& config,
                                          const app_options& options,
                                          const std::string& consumer_id) {
    kafka::producer_config pc;
    pc.brokers = config.shared.kafka_brokers;
    pc.client_id = "pulsestream-consumer-dlq-" + consumer_id;
    pc.extra = options.producer_properties;
    pc.on_log = [](int level, std::string_view facility, std::string_view text) {
        runtime::log_syslog_line("dlq producer", level, facility, text);
    };
    pc.on_error = [](boost::system::error_code ec, std::string_view reason) {
        spdlog::warn("dlq producer: {} ({})", reason, ec.message());
    };
    return pc;
}

group_member_config member_config_of(const core::consumer_config& config,
                                     const app_options& options, const std::string& consumer_id) {
    group_member_config mc;
    mc.brokers = config.shared.kafka_brokers;
    mc.group_id = config.group_id;
    mc.topic = config.shared.kafka_topic;
    mc.client_id = "pulsestream-consumer-" + consumer_id;
    mc.session_timeout = std::chrono::milliseconds(config.session_timeout_ms);
    mc.assignment_strategy = options.assignment_strategy;
    mc.extra = options.consumer_properties;
    mc.on_log = [](int level, std::string_view facility, std::string_view text) {
        runtime::log_syslog_line("consumer", level, facility, text);
    };
    mc.on_error = [](boost::system::error_code ec, std::string_view reason) {
        spdlog::warn("consumer: {} ({})", reason, ec.message());
    };
    return mc;
}

loop_options loop_options_of(const core::consumer_config& config, const app_options& options,
                             const std::string& consumer_id) {
    loop_options lo;
    lo.dlq_topic = config.shared.kafka_dlq_topic;
    lo.consumer_id = consumer_id;
    lo.batch_max_events = config.batch_max_events;
    lo.batch_max_wait = std::chrono::milliseconds(config.batch_max_wait_ms);
    lo.rules.timestamp_skew_ms = config.shared.timestamp_skew_ms;
    lo.backoff_initial = options.backoff_initial;
    lo.backoff_max = options.backoff_max;
    lo.retention_days = static_cast<int>(config.retention_days);
    lo.maintenance_interval = options.maintenance_interval;
    return lo;
}

}  // namespace

std::string default_consumer_id() {
    char host[HOST_NAME_MAX + 1] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return std::string(host[0] != '\0' ? host : "localhost") + ":" + std::to_string(getpid());
}

struct app::impl {
    impl(core::consumer_config c, app_options o)
        : config(std::move(c)),
          options(std::move(o)),
          consumer_id(options.consumer_id.empty() ? default_consumer_id() : options.consumer_id),
          health(options.readiness_staleness),
          writer(config.shared.database_url,
                 options.db_connections != 0 ? options.db_connections : config.db_connections),
          producer(producer_config_of(config, options, consumer_id)),
          loop(loop_options_of(config, options, consumer_id),
               member_config_of(config, options, consumer_id), producer, writer, metrics, health) {
        routes.add(bhttp::verb::get, "/metrics",
                   [this](http::exchange&) { return serve_metrics(); });
        routes.add(bhttp::verb::get, "/health", [this](http::exchange&) {
            return serve_json(health.ready(), health.health_body());
        });
        routes.add(bhttp::verb::get, "/healthz", [this](http::exchange&) {
            return serve_json(health.live(), health.liveness_body());
        });
        routes.add(bhttp::verb::get, "/readyz", [this](http::exchange&) {
            return serve_json(health.ready(), health.readiness_body());
        });
    }

    net::awaitable<http::response> serve_metrics() {
        http::response res{bhttp::status::ok, 11};
        res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = metrics.serialize();
        res.prepare_payload();
        co_return res;
    }

    static net::awaitable<http::response> serve_json(bool ok, std::string body) {
        co_return http::json_response(ok ? 200 : 503, std::move(body));
    }

    void run_loop() {
        bool failed = false;
        try {
            loop.run();
        } catch (const std::exception& e) {
            failed = true;
            spdlog::critical("consumer loop stopped by an unexpected error: {}", e.what());
        }
        health.loop_stopped(failed);
        done.set_value();
        std::function<void()> callback;
        {
            std::lock_guard lock(mutex);
            if (failed && !shutting_down) callback = on_exit;
        }
        if (callback) callback();
    }

    core::consumer_config config;
    app_options options;
    std::string consumer_id;
    metrics::consumer_metrics metrics;
    health_state health;
    sharded_writer writer;
    kafka::producer producer;
    batch_loop loop;

    http::router routes;
    std::optional<http::io_pool> pool;
    std::unique_ptr<http::server> server;

    std::mutex mutex;
    std::function<void()> on_exit;  // guarded by mutex
    bool shutting_down = false;     // guarded by mutex
    bool shut_down = false;         // guarded by mutex
    bool shutdown_ok = true;        // guarded by mutex
    std::promise<void> done;
    std::future<void> done_future = done.get_future();
    std::thread loop_thread;
};

app::app(core::consumer_config config, app_options options)
    : impl_(std::make_unique<impl>(std::move(config), std::move(options))) {}

app::~app() {
    if (!impl_) return;
    if (!shutdown(std::chrono::milliseconds(impl_->config.shared.shutdown_timeout_ms))) {
        // The loop is stuck in a call we cannot interrupt; its objects must not be destroyed
        // under it.
        spdlog::critical("consumer loop did not stop; leaking it");
        impl_->loop_thread.detach();
        (void)impl_.release();
    }
}

void app::on_loop_exit(std::function<void()> callback) {
    std::lock_guard lock(impl_->mutex);
    impl_->on_exit = std::move(callback);
}

void app::start() {
    auto& s = *impl_;
    if (s.options.serve_http) {
        s.pool.emplace(1);
        http::server_options so;
        so.host = s.config.host;
        so.port = s.config.consumer_port;
        so.max_connections = 256;
        so.body_limit = 4096;
        s.server = std::make_unique<http::server>(
            *s.pool, so, [&s](http::exchange& ex) { return s.routes(ex); },
            std::make_shared<quiet_observer>());
        s.server->listen();
        s.pool->start();
    }
    s.loop_thread = std::thread([&s] { s.run_loop(); });
    spdlog::info(
        "consumer {} started: group {}, topic {}, DLQ {}, batches of up to {} records / "
        "{} ms, {} database connections, HTTP port {}",
        s.consumer_id, s.config.group_id, s.config.shared.kafka_topic,
        s.config.shared.kafka_dlq_topic, s.config.batch_max_events, s.config.batch_max_wait_ms,
        s.writer.connections(), port());
}

std::uint16_t app::port() const noexcept { return impl_->server ? impl_->server->port() : 0; }

bool app::shutdown(std::chrono::milliseconds deadline) {
    auto& s = *impl_;
    {
        std::lock_guard lock(s.mutex);
        if (s.shut_down) return s.shutdown_ok;
        s.shutting_down = true;
    }
    const auto until = std::chrono::steady_clock::now() + deadline;
    s.health.draining();
    s.loop.request_stop();
    if (s.loop_thread.joinable()) {
        if (s.done_future.wait_until(until) != std::future_status::ready) {
            spdlog::error("consumer loop did not finish within {} ms", deadline.count());
            std::lock_guard lock(s.mutex);
            s.shut_down = true;
            s.shutdown_ok = false;
            return false;
        }
        s.loop_thread.join();
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    s.producer.stop(std::max(left, std::chrono::milliseconds(100)));
    if (s.server) {
        s.server->drain();
        // Requests for /metrics or health are short; past the wait the pool stops anyway.
        if (s.server->wait_idle(std::chrono::seconds(2))) s.server.reset();
    }
    if (s.pool) {
        s.pool->release_work();
        s.pool->stop();
        s.pool->join();
    }
    std::lock_guard lock(s.mutex);
    s.shut_down = true;
    return true;
}

bool app::failed() const noexcept { return impl_->health.failed(); }

health_state& app::health() noexcept { return impl_->health; }

metrics::consumer_metrics& app::metrics() noexcept { return impl_->metrics; }

std::uint64_t app::batches_committed() const noexcept { return impl_->loop.batches_committed(); }

}  // namespace pulsestream::consumer
