#include "options.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>

namespace pulsestream::simulator {
namespace {

constexpr const char* description =
    "pulsestream-simulator: verifies a running PulseStream pipeline (scenario mode, the default)\n"
    "or loads it (load mode: the `load` subcommand, or any load option).";

constexpr const char* footer =
    R"(Scenario mode opens the live stream (WebSocket /v1/stream) on the LAST --gateway and
posts to all gateways in turn, checking: the stream opens and delivers across gateways;
missing/invalid API key -> 401; stale timestamp -> 400 validation_failed; three concurrent
posts with one Idempotency-Key -> one 202, the rest 409 (or replays); a trickle of valid
events -> 202 each and all on the stream; a batch; a gzip body; a replay
(Idempotent-Replayed: true, identical body); a reused key with another body -> 422; metadata
kept; with --second-api-key, another tenant's events never on this tenant's stream. With a
database URL it waits until every accepted event is exactly one row.

Load mode sends --connections concurrent keep-alive connections, spread over the gateways,
each request with a fresh Idempotency-Key and deviceId, paced to --rate, until --duration
passes or --events were sent (Ctrl-C also ends it early, with the summary). It prints a
progress line on a terminal, then latency percentiles and status counts; with a database
URL it checks that the rows equal the unique accepted events.

Exit status: 0 when every check passed, 1 when one failed, 2 for a usage error.
Examples:
  pulsestream-simulator --gateway http://127.0.0.1:3000 --gateway http://127.0.0.1:3001
  pulsestream-simulator load --rate 200 --duration 30 --batch 10 --retry)";

std::chrono::milliseconds seconds_to_ms(double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
}

}  // namespace

std::optional<options> parse_options(int argc, char** argv, int& exit_code) {
    options opts;
    CLI::App app{description, "pulsestream-simulator"};
    app.footer(footer);
    app.get_formatter()->column_width(34);

    std::vector<std::string> gateway_urls;
    double timeout_s = 15;
    double db_deadline_s = 60;
    double stream_deadline_s = 10;
    double duration_s = 10;
    double retry_deadline_s = 120;
    double retry_max_delay_s = 2;
    bool no_database = false;

    const std::string common = "Common options";
    app.add_option("--gateway,-g", gateway_urls,
                   "gateway base URL http://HOST:PORT; repeat for several gateways "
                   "(default http://127.0.0.1:3000)")
        ->group(common);
    app.add_option("--api-key,-k", opts.api_key, "API key of the tenant to post as")
        ->capture_default_str()
        ->group(common);
    app.add_option("--database-url", opts.database_url,
                   "PostgreSQL URL of the pipeline's database: enables the storage checks "
                   "(default: $DATABASE_URL)")
        ->envname("DATABASE_URL")
        ->group(common);
    app.add_flag("--no-database-check", no_database,
                 "skip the storage checks even when DATABASE_URL is set")
        ->group(common);
    app.add_flag("--json", opts.json, "print one JSON report on stdout instead of text")
        ->group(common);
    app.add_option("--json-file", opts.json_file, "also write the JSON report to this file")
        ->group(common);
    app.add_option("--timeout", timeout_s, "seconds one HTTP request may take")
        ->check(CLI::Range(0.1, 600.0))
        ->capture_default_str()
        ->group(common);
    app.add_option("--db-deadline", db_deadline_s,
                   "seconds to wait for accepted events to become rows")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str()
        ->group(common);

    const std::string scenario = "Scenario mode";
    app.add_option("--second-api-key", opts.second_api_key,
                   "API key of another tenant, for the tenant isolation check "
                   "(skipped without it)")
        ->group(scenario);
    app.add_option("--trickle", opts.trickle, "number of single valid events posted one by one")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str()
        ->group(scenario);
    app.add_option("--stream-deadline", stream_deadline_s,
                   "seconds to wait for posted events to show on the stream")
        ->check(CLI::Range(0.1, 600.0))
        ->capture_default_str()
        ->group(scenario);

    const std::string load = "Load mode";
    auto* load_command = app.add_subcommand(
        "load", "load mode: generate traffic (all options above and below still apply)");
    load_command->fallthrough();
    auto* rate = app.add_option("--rate", opts.rate,
                                "requests per second over all connections (0 = as fast as "
                                "the connections go)")
                     ->check(CLI::Range(0.0, 1e7))
                     ->capture_default_str()
                     ->group(load);
    auto* duration = app.add_option("--duration", duration_s, "seconds to run")
                         ->check(CLI::Range(0.1, 86400.0))
                         ->capture_default_str()
                         ->group(load);
    auto* events = app.add_option("--events", opts.events,
                                  "stop after sending this many events (0 = run for --duration)")
                       ->group(load);
    auto* connections = app.add_option("--connections,-c", opts.connections,
                                       "concurrent connections, spread over the gateways")
                            ->check(CLI::Range(1, 10000))
                            ->capture_default_str()
                            ->group(load);
    auto* batch = app.add_option("--batch", opts.batch,
                                 "events per request: 1 sends single events, more send arrays")
                      ->check(CLI::Range(1, 100000))
                      ->capture_default_str()
                      ->group(load);
    auto* retry = app.add_flag("--retry", opts.retry,
                               "retry a request answered 503 or 409, or lost to a connection "
                               "error or timeout, with the same Idempotency-Key and body on the "
                               "next gateway (round robin), until --retry-deadline")
                      ->group(load);
    app.add_option("--retry-deadline", retry_deadline_s,
                   "seconds a request may keep retrying before it counts as failed")
        ->check(CLI::Range(0.1, 86400.0))
        ->capture_default_str()
        ->group(load);
    app.add_option("--retry-max-delay", retry_max_delay_s,
                   "longest pause between retries in seconds (Retry-After is capped to it)")
        ->check(CLI::Range(0.0, 600.0))
        ->capture_default_str()
        ->group(load);
    app.add_option("--progress-file", opts.progress_file,
                   "write the running counts as JSON to this file every 250 ms "
                   "(for scripts and tests)")
        ->group(load);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        exit_code = app.exit(e) == 0 ? 0 : 2;
        return std::nullopt;
    }

    if (gateway_urls.empty()) {
        gateway_urls.emplace_back("http://127.0.0.1:3000");
    }
    for (const auto& url : gateway_urls) {
        auto ep = parse_endpoint(url);
        if (!ep) {
            std::fprintf(stderr, "pulsestream-simulator: --gateway %s: expected http://HOST:PORT\n",
                         url.c_str());
            exit_code = 2;
            return std::nullopt;
        }
        opts.gateways.push_back(std::move(*ep));
    }
    if (opts.api_key.empty()) {
        std::fprintf(stderr, "pulsestream-simulator: --api-key must not be empty\n");
        exit_code = 2;
        return std::nullopt;
    }
    if (no_database) {
        opts.database_url.clear();
    }
    opts.request_timeout = seconds_to_ms(timeout_s);
    opts.db_deadline = seconds_to_ms(db_deadline_s);
    opts.stream_deadline = seconds_to_ms(stream_deadline_s);
    opts.duration = seconds_to_ms(duration_s);
    opts.retry_deadline = seconds_to_ms(retry_deadline_s);
    opts.retry_max_delay = seconds_to_ms(retry_max_delay_s);
    opts.load = load_command->parsed() || rate->count() > 0 || duration->count() > 0 ||
                events->count() > 0 || connections->count() > 0 || batch->count() > 0 ||
                retry->count() > 0;
    exit_code = 0;
    return opts;
}

}  // namespace pulsestream::simulator
