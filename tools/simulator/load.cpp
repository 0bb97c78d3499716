#include "load.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "db_check.hpp"
#include "http_client.hpp"
#include "latency.hpp"
#include "report.hpp"
#include "requests.hpp"

namespace pulsestream::simulator {
namespace {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t max_failure_samples = 10;

// One request as built once and sent identically on every attempt.
struct request_spec {
    std::string key;
    std::string body;
    std::vector<std::string> ids;  // what the 202 must report
};

struct load_stats {
    latency_histogram latency;  // of attempts answered with an HTTP response
    std::map<std::string, std::uint64_t> attempts_by_status;
    std::uint64_t requests_sent = 0;
    std::uint64_t requests_accepted = 0;
    std::uint64_t requests_failed = 0;
    std::uint64_t events_sent = 0;
    std::uint64_t events_accepted = 0;
    std::uint64_t replays = 0;
    std::uint64_t retries = 0;
    std::uint64_t id_mismatches = 0;
    std::vector<std::string> accepted_ids;
    // Events of requests that never got a 202 but may have reached the broker (an attempt
    // ended in 503, 409 or without an answer): they may or may not be rows.
    std::vector<std::string> unresolved_ids;
    std::vector<std::string> failure_samples;
    std::map<std::string, std::vector<std::string>> in_flight;  // key -> ids
};

class load_run {
public:
    load_run(net::io_context& ioc, const options& opts)
        : ioc_(ioc), opts_(opts), signals_(ioc, SIGINT, SIGTERM), timer_(ioc) {
        interactive_ = !opts_.json && ::isatty(STDOUT_FILENO) != 0;
        if (opts_.events > 0) {
            total_requests_ = (opts_.events + static_cast<std::uint64_t>(opts_.batch) - 1) /
                              static_cast<std::uint64_t>(opts_.batch);
        }
    }

    void start() {
        started_ = clock_type::now();
        signals_.async_wait([this](const boost::system::error_code& ec, int) {
            if (!ec) {
                on_signal();
            }
        });
        for (int i = 0; i < opts_.connections; ++i) {
            ++workers_running_;
            net::co_spawn(ioc_, worker(static_cast<std::size_t>(i)), net::detached);
        }
        net::co_spawn(ioc_, ticker(), net::detached);
    }

    load_stats& stats() { return stats_; }
    [[nodiscard]] milliseconds elapsed() const {
        return std::chrono::duration_cast<milliseconds>((done_ ? finished_ : clock_type::now()) -
                                                        started_);
    }
    [[nodiscard]] bool interrupted() const { return interrupted_; }

    nlohmann::json progress_json(bool done) const {
        return {{"done", done},
                {"elapsed_ms",
                 std::chrono::duration_cast<milliseconds>(clock_type::now() - started_).count()},
                {"requests_sent", stats_.requests_sent},
                {"requests_accepted", stats_.requests_accepted},
                {"requests_failed", stats_.requests_failed},
                {"events_sent", stats_.events_sent},
                {"events_accepted", stats_.events_accepted},
                {"retries", stats_.retries},
                {"in_flight", stats_.in_flight.size()},
                {"attempts_by_status", stats_.attempts_by_status}};
    }

private:
    void on_signal() {
        if (stopping_) {
            // Second signal: give up on requests still in flight.
            interrupted_ = true;
            ioc_.stop();
            return;
        }
        stopping_ = true;
        interrupted_ = true;
        if (!opts_.json) {
            std::fprintf(stderr,
                         "\nstopping: no new requests; waiting for those in flight "
                         "(again to abandon them)\n");
        }
        signals_.async_wait([this](const boost::system::error_code& ec, int) {
            if (!ec) {
                on_signal();
            }
        });
    }

    // The send time of the next request, or nullopt when the load is over.
    std::optional<clock_type::time_point> take_slot() {
        if (stopping_) {
            return std::nullopt;
        }
        if (total_requests_ > 0 && issued_ >= total_requests_) {
            return std::nullopt;
        }
        auto at = clock_type::now();
        if (opts_.rate > 0) {
            at = started_ +
                 std::chrono::duration_cast<clock_type::duration>(
                     std::chrono::duration<double>(static_cast<double>(issued_) / opts_.rate));
        }
        if (total_requests_ == 0 && at >= started_ + opts_.duration) {
            return std::nullopt;
        }
        ++issued_;
        return at;
    }

    request_spec build_request() {
        std::size_t count = static_cast<std::size_t>(opts_.batch);
        if (opts_.events > 0) {
            count = static_cast<std::size_t>(
                std::min<std::uint64_t>(count, opts_.events - stats_.events_sent));
        }
        static constexpr const char* types[] = {"temperature", "humidity", "pressure", "battery"};
        const std::string device = ids_.next();
        std::vector<event_spec> events;
        for (std::size_t i = 0; i < count; ++i) {
            auto event = make_event(ids_, types[(sequence_ + i) % 4],
                                    static_cast<double>((sequence_ + i) % 1000) / 10.0);
            event.device_id = device;
            events.push_back(std::move(event));
        }
        sequence_ += count;
        request_spec spec;
        spec.key = ids_.next();
        if (opts_.batch == 1) {
            spec.body = event_body(events.front());
            spec.ids = {spec.key};
        } else {
            spec.body = batch_body(events);
            spec.ids = expected_batch_ids(spec.key, events);
        }
        return spec;
    }

    void record_failure(const std::string& message) {
        if (stats_.failure_samples.size() < max_failure_samples) {
            stats_.failure_samples.push_back(message);
        }
    }

    net::awaitable<void> worker(std::size_t index) {
        // One connection per gateway; a worker starts on "its" gateway and moves on (round
        // robin) only when retrying.
        std::vector<std::unique_ptr<http_connection>> connections;
        for (const auto& gw : opts_.gateways) {
            connections.push_back(std::make_unique<http_connection>(ioc_.get_executor(), gw));
        }
        std::size_t current = index % connections.size();
        net::steady_timer pause(ioc_);
        while (const auto slot = take_slot()) {
            if (*slot > clock_type::now()) {
                pause.expires_at(*slot);
                co_await pause.async_wait(use_tuple);
            }
            auto spec = build_request();
            if (spec.ids.empty()) {
                break;
            }
            ++stats_.requests_sent;
            stats_.events_sent += spec.ids.size();
            stats_.in_flight.emplace(spec.key, spec.ids);
            co_await execute(spec, connections, current, pause);
            stats_.in_flight.erase(spec.key);
        }
        if (--workers_running_ == 0) {
            finished_ = clock_type::now();
            done_ = true;
            timer_.cancel();
            signals_.cancel();
        }
    }

    net::awaitable<void> execute(const request_spec& spec,
                                 std::vector<std::unique_ptr<http_connection>>& connections,
                                 std::size_t& current, net::steady_timer& pause) {
        const auto deadline = clock_type::now() + opts_.retry_deadline;
        bool maybe_stored = false;
        milliseconds backoff{100};
        for (;;) {
            auto& conn = *connections[current];
            const auto r = co_await conn.send(post_events(spec.body, opts_.api_key, spec.key),
                                              opts_.request_timeout);
            const unsigned status = r.status();
            ++stats_.attempts_by_status[r.ok() ? std::to_string(status) : "error"];
            if (r.ok()) {
                stats_.latency.record(r.latency);
            }
            if (status == 202) {
                accept(spec, r);
                co_return;
            }
            const std::string code = r.ok() ? error_code_of(r.body()) : std::string{};
            const bool retryable =
                !r.ok() || status == 503 || (status == 409 && code == "idempotency_in_progress");
            maybe_stored = maybe_stored || retryable;
            const std::string what =
                conn.target().url + ": " + r.describe() + (code.empty() ? "" : " " + code);
            if (!opts_.retry || !retryable || clock_type::now() >= deadline) {
                ++stats_.requests_failed;
                record_failure(what);
                if (maybe_stored) {
                    stats_.unresolved_ids.insert(stats_.unresolved_ids.end(), spec.ids.begin(),
                                                 spec.ids.end());
                }
                co_return;
            }
            ++stats_.retries;
            current = (current + 1) % connections.size();
            auto delay = backoff;
            if (const auto retry_after = r.header("Retry-After"); !retry_after.empty()) {
                int seconds = 0;
                std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(),
                                seconds);
                delay = milliseconds(seconds * 1000);
            }
            delay = std::min(delay, opts_.retry_max_delay);
            backoff = std::min(backoff * 2, opts_.retry_max_delay);
            pause.expires_after(delay);
            co_await pause.async_wait(use_tuple);
        }
    }

    void accept(const request_spec& spec, const http_result& r) {
        ++stats_.requests_accepted;
        if (r.header("Idempotent-Replayed") == "true") {
            ++stats_.replays;
        }
        const auto ids = accepted_ids(r.body());
        if (ids != spec.ids) {
            ++stats_.id_mismatches;
            record_failure("202 with unexpected ids: " + r.body().substr(0, 200));
        }
        // What the client was told is what must be stored.
        stats_.events_accepted += ids.size();
        stats_.accepted_ids.insert(stats_.accepted_ids.end(), ids.begin(), ids.end());
    }

    net::awaitable<void> ticker() {
        auto last_print = clock_type::now();
        std::uint64_t last_events = 0;
        while (!done_) {
            timer_.expires_after(milliseconds(250));
            co_await timer_.async_wait(use_tuple);
            if (!opts_.progress_file.empty()) {
                write_json_file(opts_.progress_file, progress_json(done_));
            }
            const auto now = clock_type::now();
            if (interactive_ && !done_ && now - last_print >= std::chrono::seconds(1)) {
                const double seconds = std::chrono::duration<double>(now - last_print).count();
                const double rate =
                    static_cast<double>(stats_.events_accepted - last_events) / seconds;
                std::printf(
                    "\r%6.1fs  %8.0f ev/s  accepted %llu  rejected %llu  retries %llu  "
                    "p99 %.1f ms   ",
                    std::chrono::duration<double>(now - started_).count(), rate,
                    static_cast<unsigned long long>(stats_.events_accepted),
                    static_cast<unsigned long long>(stats_.requests_failed),
                    static_cast<unsigned long long>(stats_.retries),
                    stats_.latency.percentile_ms(99));
                std::fflush(stdout);
                last_print = now;
                last_events = stats_.events_accepted;
            }
        }
        if (interactive_) {
            std::printf("\r%*s\r", 100, "");
            std::fflush(stdout);
        }
    }

    net::io_context& ioc_;
    const options& opts_;
    net::signal_set signals_;
    net::steady_timer timer_;
    bool interactive_ = false;
    bool stopping_ = false;
    bool interrupted_ = false;
    bool done_ = false;
    int workers_running_ = 0;
    std::uint64_t total_requests_ = 0;  // 0: until the duration passes
    std::uint64_t issued_ = 0;
    std::uint64_t sequence_ = 0;
    clock_type::time_point started_;
    clock_type::time_point finished_;
    uuid_source ids_;
    load_stats stats_;
};

struct storage_result {
    bool checked = false;
    row_count accepted;
    std::size_t unresolved_rows = 0;
};

storage_result check_storage(const options& opts, const load_stats& stats) {
    storage_result result;
    if (opts.database_url.empty()) {
        return result;
    }
    result.checked = true;
    result.accepted = wait_for_rows(opts.database_url, stats.accepted_ids, opts.db_deadline);
    if (!stats.unresolved_ids.empty() && result.accepted.error.empty()) {
        try {
            result.unresolved_rows = count_rows(opts.database_url, stats.unresolved_ids).rows;
        } catch (const std::exception& e) {
            result.accepted.error = e.what();
        }
    }
    return result;
}

nlohmann::json to_json(const options& opts, load_run& run, const storage_result& storage, bool ok) {
    const auto& s = run.stats();
    nlohmann::json gateways = nlohmann::json::array();
    for (const auto& gw : opts.gateways) {
        gateways.push_back(gw.url);
    }
    nlohmann::json json{
        {"mode", "load"},
        {"ok", ok},
        {"interrupted", run.interrupted()},
        {"duration_ms", run.elapsed().count()},
        {"gateways", gateways},
        {"connections", opts.connections},
        {"batch", opts.batch},
        {"rate", opts.rate},
        {"requests",
         {{"sent", s.requests_sent},
          {"accepted", s.requests_accepted},
          {"failed", s.requests_failed},
          {"replayed", s.replays}}},
        {"events",
         {{"sent", s.events_sent},
          {"accepted", s.events_accepted},
          {"unique_accepted",
           std::set<std::string>(s.accepted_ids.begin(), s.accepted_ids.end()).size()},
          {"unresolved", s.unresolved_ids.size()}}},
        {"retries", s.retries},
        {"id_mismatches", s.id_mismatches},
        {"attempts_by_status", s.attempts_by_status},
        {"latency_ms",
         {{"count", s.latency.count()},
          {"p50", s.latency.percentile_ms(50)},
          {"p90", s.latency.percentile_ms(90)},
          {"p99", s.latency.percentile_ms(99)},
          {"max", s.latency.max_ms()},
          {"mean", s.latency.mean_ms()}}},
        {"failures", s.failure_samples},
    };
    if (storage.checked) {
        json["storage"] = {{"ids", storage.accepted.ids},
                           {"rows", storage.accepted.rows},
                           {"distinct", storage.accepted.distinct},
                           {"exact", storage.accepted.exact()},
                           {"waited_ms", storage.accepted.waited.count()},
                           {"error", storage.accepted.error},
                           {"unresolved_rows", storage.unresolved_rows}};
    } else {
        json["storage"] = nullptr;
    }
    return json;
}

void print_text(const options& opts, load_run& run, const storage_result& storage, bool ok) {
    const auto& s = run.stats();
    const double seconds = std::max(0.001, std::chrono::duration<double>(run.elapsed()).count());
    std::printf(
        "Load: %llu requests (%llu events) in %.1f s over %d connection(s) to %zu "
        "gateway(s)%s: %.0f accepted events/s\n",
        static_cast<unsigned long long>(s.requests_sent),
        static_cast<unsigned long long>(s.events_sent), seconds, opts.connections,
        opts.gateways.size(), run.interrupted() ? " (interrupted)" : "",
        static_cast<double>(s.events_accepted) / seconds);
    std::printf("  accepted   %llu events in %llu requests (%llu replayed)\n",
                static_cast<unsigned long long>(s.events_accepted),
                static_cast<unsigned long long>(s.requests_accepted),
                static_cast<unsigned long long>(s.replays));
    std::printf("  failed     %llu requests (%zu events unresolved)\n",
                static_cast<unsigned long long>(s.requests_failed), s.unresolved_ids.size());
    for (const auto& sample : s.failure_samples) {
        std::printf("             %s\n", sample.c_str());
    }
    std::printf("  retries    %llu\n", static_cast<unsigned long long>(s.retries));
    std::string statuses;
    for (const auto& [status, count] : s.attempts_by_status) {
        statuses += (statuses.empty() ? "" : ", ") + status + ": " + std::to_string(count);
    }
    std::printf("  attempts   %s\n", statuses.empty() ? "none" : statuses.c_str());
    std::printf("  latency    p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  (%llu answers)\n",
                s.latency.percentile_ms(50), s.latency.percentile_ms(90),
                s.latency.percentile_ms(99), s.latency.max_ms(),
                static_cast<unsigned long long>(s.latency.count()));
    if (s.id_mismatches > 0) {
        std::printf("  ids        %llu 202s reported other ids than expected\n",
                    static_cast<unsigned long long>(s.id_mismatches));
    }
    if (storage.checked) {
        const auto& c = storage.accepted;
        std::printf(
            "  storage    %zu/%zu accepted events are rows, %zu rows in all%s (after %lld "
            "ms)%s%s\n",
            c.distinct, c.ids, c.rows, c.rows > c.distinct ? " (DUPLICATES)" : "",
            static_cast<long long>(c.waited.count()),
            c.error.empty() ? "" : "; database: ", c.error.c_str());
        if (!s.unresolved_ids.empty()) {
            std::printf("             %zu of the %zu unresolved events are rows\n",
                        storage.unresolved_rows, s.unresolved_ids.size());
        }
    } else {
        std::printf("  storage    not checked (no DATABASE_URL)\n");
    }
    std::printf("Result: %s\n", ok ? "PASS" : "FAIL");
    std::fflush(stdout);
}

}  // namespace

int run_load(const options& opts) {
    net::io_context ioc;
    load_run run(ioc, opts);
    run.start();
    ioc.run();
    auto& stats = run.stats();
    // Abandoned by a second signal: their outcome is unknown.
    for (const auto& [key, ids] : stats.in_flight) {
        stats.unresolved_ids.insert(stats.unresolved_ids.end(), ids.begin(), ids.end());
        ++stats.requests_failed;
    }
    stats.in_flight.clear();
    if (!opts.progress_file.empty()) {
        write_json_file(opts.progress_file, run.progress_json(true));
    }
    const auto storage = check_storage(opts, stats);
    const bool ok = stats.requests_failed == 0 && stats.id_mismatches == 0 &&
                    stats.requests_sent > 0 && (!storage.checked || storage.accepted.exact());
    const auto json = to_json(opts, run, storage, ok);
    if (opts.json) {
        std::printf("%s\n", json.dump(2).c_str());
    } else {
        print_text(opts, run, storage, ok);
    }
    if (!opts.json_file.empty()) {
        write_json_file(opts.json_file, json);
    }
    return ok ? 0 : 1;
}

}  // namespace pulsestream::simulator
