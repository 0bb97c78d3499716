#include "scenarios.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <exception>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "db_check.hpp"
#include "http_client.hpp"
#include "report.hpp"
#include "requests.hpp"
#include "ws_client.hpp"

namespace pulsestream::simulator {
namespace {

using namespace boost::asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

struct outcome {
    check_status status;
    std::string detail;
};

outcome pass(std::string detail) { return {check_status::pass, std::move(detail)}; }
outcome fail(std::string detail) { return {check_status::fail, std::move(detail)}; }
outcome skip(std::string detail) { return {check_status::skip, std::move(detail)}; }

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

std::string upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return text;
}

// "202 (Idempotent-Replayed: true)" / "401 invalid_api_key" / "error: Connection refused".
std::string seen(const http_result& r) {
    std::string text = r.describe();
    if (!r.ok()) {
        return text;
    }
    if (const auto code = error_code_of(r.body()); !code.empty()) {
        text += " " + code;
    }
    if (r.header("Idempotent-Replayed") == "true") {
        text += " (Idempotent-Replayed: true)";
    }
    return text;
}

// g++ 12 rejects braced lists of strings inside co_await expressions: build them here.
template <class T>
std::vector<T> one(const T& item) {
    return std::vector<T>(1, item);
}

bool is_replay(const http_result& r) {
    return r.status() == 202 && r.header("Idempotent-Replayed") == "true";
}

// Compares a stream frame with the event that was posted; empty when they match.
std::string frame_mismatch(const nlohmann::json& frame, const event_spec& sent,
                           const std::string& client_id) {
    const auto field_is = [&](const char* name, auto&& predicate) {
        return frame.contains(name) && predicate(frame[name]);
    };
    if (!field_is("deviceId", [&](const auto& v) { return v == lower(sent.device_id); })) {
        return "deviceId " + frame.value("deviceId", nlohmann::json()).dump();
    }
    if (!field_is("eventType", [&](const auto& v) { return v == sent.event_type; })) {
        return "eventType";
    }
    if (!field_is("value", [&](const auto& v) {
            return v.is_number() && v.template get<double>() == sent.value;
        })) {
        return "value";
    }
    if (!field_is("timestamp", [&](const auto& v) {
            return v.is_number_integer() && v.template get<std::int64_t>() == sent.timestamp;
        })) {
        return "timestamp";
    }
    if (!field_is("receivedAt", [](const auto& v) { return v.is_number_integer(); })) {
        return "receivedAt";
    }
    if (!client_id.empty() &&
        !field_is("clientId", [&](const auto& v) { return v == client_id; })) {
        return "clientId";
    }
    if (sent.metadata &&
        !field_is("metadata", [&](const auto& v) { return v == *sent.metadata; })) {
        return "metadata";
    }
    return {};
}

// A request that was answered 202, kept for the replay checks.
struct accepted_request {
    std::string key;
    std::string body;  // as sent (uncompressed JSON)
    std::string response_body;
    std::size_t gateway = 0;
};

class scenario_run {
public:
    scenario_run(net::any_io_executor executor, const options& opts, check_report& report)
        : executor_(std::move(executor)), opts_(opts), report_(report) {
        for (const auto& gw : opts_.gateways) {
            connections_.push_back(std::make_unique<http_connection>(executor_, gw));
        }
    }

    net::awaitable<void> run() {
        co_await check("stream_open",
                       "WebSocket /v1/stream opens on the last gateway and delivers events "
                       "posted to the first",
                       stream_open());
        co_await check("stream_auth", "a stream upgrade with an unknown key is refused with 401",
                       stream_bad_key());
        co_await check("auth_missing_key", "POST without x-api-key -> 401 missing_api_key",
                       missing_key());
        co_await check("auth_invalid_key", "POST with an unknown key -> 401 invalid_api_key",
                       invalid_key());
        co_await check("validation_stale_timestamp",
                       "an event an hour old -> 400 validation_failed on field timestamp",
                       stale_timestamp());
        co_await check("idempotency_concurrent",
                       "three concurrent posts with one Idempotency-Key -> one 202, the rest 409 "
                       "(or replays)",
                       concurrent_posts());
        co_await check("trickle",
                       std::to_string(opts_.trickle) +
                           " valid events, gateways alternating -> 202 each, all on the stream",
                       trickle());
        co_await check("batch", "a batch of 10 (one with its own id) -> 202 with the expected ids",
                       batch());
        co_await check("gzip", "a gzip-compressed body -> 202, on the stream", gzip_body());
        co_await check("gzip_same_request",
                       "the same JSON sent uncompressed with that key is a replay of the gzip "
                       "request",
                       gzip_same_request());
        co_await check("idempotency_replay",
                       "a retry (same key, same body, other gateway) -> Idempotent-Replayed: true "
                       "with the identical body",
                       replay());
        co_await check("idempotency_key_reused",
                       "the same key with another body -> 422 idempotency_key_reused",
                       reused_key());
        co_await check("metadata", "metadata is kept (stream frame)", metadata());
        co_await check("tenant_isolation",
                       "another tenant's events reach its own stream, never this tenant's",
                       tenant_isolation());
        co_await check("stream_exactly_once",
                       "every accepted event of this tenant was on the stream exactly once",
                       stream_exactly_once());
        if (stream_) {
            co_await stream_->close();
        }
        if (stream2_) {
            co_await stream2_->close();
        }
    }

    // Blocking PostgreSQL checks, run after the io_context has finished.
    void storage_checks() {
        run_blocking_check("storage_exactly_once",
                           "every accepted event is exactly one row; rejected ones are none",
                           [this] { return storage_exactly_once(); });
        run_blocking_check("storage_metadata", "metadata is kept (events.metadata)",
                           [this] { return storage_metadata(); });
    }

private:
    // --- plumbing -------------------------------------------------------------------------

    net::awaitable<void> check(std::string name, std::string title, net::awaitable<outcome> body) {
        const auto started = std::chrono::steady_clock::now();
        outcome result = fail("not run");
        try {
            result = co_await std::move(body);
        } catch (const std::exception& e) {
            result = fail(std::string("exception: ") + e.what());
        }
        report_.add(
            {std::move(name), std::move(title), result.status, std::move(result.detail),
             std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started)});
    }

    template <class F>
    void run_blocking_check(std::string name, std::string title, F body) {
        const auto started = std::chrono::steady_clock::now();
        outcome result = fail("not run");
        try {
            result = body();
        } catch (const std::exception& e) {
            result = fail(std::string("exception: ") + e.what());
        }
        report_.add(
            {std::move(name), std::move(title), result.status, std::move(result.detail),
             std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started)});
    }

    std::size_t gateways() const { return connections_.size(); }
    std::size_t last_gateway() const { return gateways() - 1; }
    std::size_t other_gateway(std::size_t gw) const { return (gw + 1) % gateways(); }
    const std::string& url(std::size_t gw) const { return opts_.gateways[gw].url; }

    // The next gateway in turn: checks spread their posts over all gateways.
    std::size_t next_gateway() { return turn_++ % gateways(); }

    net::awaitable<http_result> post(std::size_t gw, http_request request) {
        co_return co_await connections_[gw]->send(std::move(request), opts_.request_timeout);
    }

    // Posts one fresh valid event as `api_key`; returns its id when answered 202.
    net::awaitable<std::optional<std::string>> post_valid(std::size_t gw,
                                                          const std::string& api_key,
                                                          event_spec event) {
        const std::string key = ids_.next();
        const auto r = co_await post(gw, post_events(event_body(event), api_key, key));
        if (r.status() != 202) {
            co_return std::nullopt;
        }
        accepted_.push_back(key);
        co_return key;
    }

    // Posts probes to `gw` until one shows on `watcher` (a new subscription may need a moment
    // before the gateway relays events to it). Returns the probe's frame and the posts made.
    net::awaitable<std::pair<const nlohmann::json*, int>> probe(stream_watcher& watcher,
                                                                std::size_t gw,
                                                                const std::string& api_key) {
        const auto end = std::chrono::steady_clock::now() + opts_.stream_deadline;
        int posts = 0;
        while (std::chrono::steady_clock::now() < end && watcher.is_open()) {
            ++posts;
            const auto id = co_await post_valid(gw, api_key, make_event(ids_, "probe", posts));
            if (id && co_await watcher.wait_for(one(*id), milliseconds(1000)) == 1) {
                co_return std::pair{watcher.find(*id), posts};
            }
        }
        co_return std::pair<const nlohmann::json*, int>{nullptr, posts};
    }

    // Waits until `ids` are on this tenant's stream and compares each frame with what was sent.
    net::awaitable<std::string> expect_on_stream(const std::vector<std::string>& ids,
                                                 const std::vector<event_spec>& sent) {
        if (!stream_ || !stream_->is_open()) {
            co_return "the stream is not open" +
                (stream_ ? " (" + stream_->closed_reason() + ")" : std::string{});
        }
        const auto got = co_await stream_->wait_for(ids, opts_.stream_deadline);
        if (got != ids.size()) {
            co_return std::to_string(got) + "/" + std::to_string(ids.size()) +
                " seen on the stream within the deadline";
        }
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto mismatch = frame_mismatch(*stream_->find(ids[i]), sent[i], client_id_);
            if (!mismatch.empty()) {
                co_return "frame of " + ids[i] + " differs in " + mismatch + ": " +
                    stream_->find(ids[i])->dump();
            }
        }
        for (const auto& id : ids) {
            on_stream_.push_back(id);
        }
        co_return std::string{};
    }

    // --- checks ---------------------------------------------------------------------------

    net::awaitable<outcome> stream_open() {
        auto opened =
            co_await stream_watcher::open(executor_, opts_.gateways[last_gateway()], opts_.api_key,
                                          stream_auth::header, opts_.request_timeout);
        if (!opened.watcher) {
            co_return fail(url(last_gateway()) + ": " + opened.error);
        }
        stream_ = std::move(opened.watcher);
        const auto [frame, posts] = co_await probe(*stream_, 0, opts_.api_key);
        if (frame == nullptr) {
            co_return fail("none of " + std::to_string(posts) + " probe(s) posted to " + url(0) +
                           " showed on the stream at " + url(last_gateway()) +
                           (stream_->is_open() ? "" : " (" + stream_->closed_reason() + ")"));
        }
        client_id_ = frame->value("clientId", std::string{});
        co_return pass("stream at " + url(last_gateway()) +
                       " (x-api-key header) got a probe posted to " + url(0) + " after " +
                       std::to_string(posts) + " post(s); clientId " + client_id_);
    }

    net::awaitable<outcome> stream_bad_key() {
        auto opened = co_await stream_watcher::open(executor_, opts_.gateways[0],
                                                    "ps_live_unknown_" + ids_.next(),
                                                    stream_auth::query, opts_.request_timeout);
        if (opened.watcher) {
            co_await opened.watcher->close();
            co_return fail("the upgrade was accepted");
        }
        if (opened.status != 401) {
            co_return fail(opened.error);
        }
        co_return pass("upgrade refused with HTTP 401 (api_key query parameter)");
    }

    net::awaitable<outcome> expect_error(std::size_t gw, http_request request, unsigned status,
                                         const std::string& code) {
        const auto r = co_await post(gw, std::move(request));
        const auto got = seen(r);
        if (r.status() == status && error_code_of(r.body()) == code) {
            co_return pass(url(gw) + " answered " + got);
        }
        co_return fail(url(gw) + " answered " + got + ", expected " + std::to_string(status) + " " +
                       code);
    }

    net::awaitable<outcome> missing_key() {
        co_return co_await expect_error(next_gateway(),
                                        post_events(event_body(make_event(ids_)), "", ids_.next()),
                                        401, "missing_api_key");
    }

    net::awaitable<outcome> invalid_key() {
        co_return co_await expect_error(next_gateway(),
                                        post_events(event_body(make_event(ids_)),
                                                    "ps_live_invalid_" + ids_.next(), ids_.next()),
                                        401, "invalid_api_key");
    }

    net::awaitable<outcome> stale_timestamp() {
        auto event = make_event(ids_);
        event.timestamp -= 3'600'000;
        const std::string key = ids_.next();
        rejected_.push_back(key);
        const std::size_t gw = next_gateway();
        const auto r = co_await post(gw, post_events(event_body(event), opts_.api_key, key));
        if (r.status() != 400 || error_code_of(r.body()) != "validation_failed") {
            co_return fail(url(gw) + " answered " + seen(r) + ", expected 400 validation_failed");
        }
        const auto json = nlohmann::json::parse(r.body(), nullptr, false);
        const auto& errors = json.contains("errors") ? json["errors"] : nlohmann::json();
        const bool names_field =
            errors.is_array() && std::any_of(errors.begin(), errors.end(), [](const auto& e) {
                return e.is_object() && e.value("field", std::string{}) == "timestamp";
            });
        if (!names_field) {
            co_return fail("400 validation_failed but errors[] does not name timestamp: " +
                           r.body());
        }
        co_return pass(url(gw) + " answered 400 validation_failed, errors[].field timestamp");
    }

    net::awaitable<outcome> concurrent_posts() {
        const auto event = make_event(ids_);
        const std::string key = ids_.next();
        const std::string body = event_body(event);
        // Own connections, so the three requests really travel at the same time.
        std::vector<std::unique_ptr<http_connection>> conns;
        for (std::size_t i = 0; i < 3; ++i) {
            conns.push_back(
                std::make_unique<http_connection>(executor_, opts_.gateways[i % gateways()]));
        }
        const auto send = [&](std::size_t i) {
            return conns[i]->send(post_events(body, opts_.api_key, key), opts_.request_timeout);
        };
        auto [a, b, c] = co_await (send(0) && send(1) && send(2));
        const std::vector<http_result*> results{&a, &b, &c};
        int fresh = 0;
        int replays = 0;
        int in_progress = 0;
        std::string retry_after;
        std::vector<std::string> other;
        for (const auto* r : results) {
            if (is_replay(*r)) {
                ++replays;
            } else if (r->status() == 202) {
                ++fresh;
            } else if (r->status() == 409 &&
                       error_code_of(r->body()) == "idempotency_in_progress") {
                ++in_progress;
                retry_after = r->header("Retry-After");
            } else {
                other.push_back(seen(*r));
            }
        }
        std::ostringstream detail;
        detail << fresh << "x 202, " << in_progress << "x 409 idempotency_in_progress";
        if (in_progress > 0) {
            detail << " (Retry-After: " << retry_after << ")";
        }
        detail << ", " << replays << "x 202 replay";
        for (const auto& o : other) {
            detail << ", " << o;
        }
        detail << " (gateways " << (gateways() > 1 ? "alternating" : "single") << ")";
        if (fresh >= 1) {
            accepted_.push_back(key);
            once_on_stream_.push_back(key);
        }
        if (fresh != 1 || !other.empty()) {
            co_return fail(detail.str());
        }
        if (!retry_after.empty() && retry_after != "1") {
            co_return fail(detail.str() + ": Retry-After of a 409 must be 1");
        }
        co_return pass(detail.str());
    }

    net::awaitable<outcome> trickle() {
        std::vector<std::string> ids;
        std::vector<event_spec> sent;
        std::map<std::size_t, int> per_gateway;
        for (int i = 0; i < opts_.trickle; ++i) {
            auto event = make_event(ids_, "temperature", 20.0 + i * 0.25);
            if (i == 0) {
                event.device_id = upper(event.device_id);  // echoed and stored in lower case
            }
            const std::string key = i == 1 ? upper(ids_.next()) : ids_.next();
            const std::string body = event_body(event);
            const std::size_t gw = next_gateway();
            const auto r = co_await post(gw, post_events(body, opts_.api_key, key));
            if (r.status() != 202) {
                co_return fail("event " + std::to_string(i) + " to " + url(gw) + ": " + seen(r));
            }
            const auto json = nlohmann::json::parse(r.body(), nullptr, false);
            const auto& data = json.is_object() && json.contains("data") ? json["data"] : json;
            if (!data.is_object() || data.value("id", std::string{}) != lower(key) ||
                data.value("deviceId", std::string{}) != lower(event.device_id) ||
                !data.contains("timestamp") || data["timestamp"] != event.timestamp) {
                co_return fail("202 body of event " + std::to_string(i) + " is " + r.body() +
                               " (expected id " + lower(key) + ", deviceId " +
                               lower(event.device_id) + ")");
            }
            if (i == 0) {
                first_ = accepted_request{key, body, r.body(), gw};
            }
            ++per_gateway[gw];
            ids.push_back(lower(key));
            sent.push_back(event);
        }
        accepted_.insert(accepted_.end(), ids.begin(), ids.end());
        if (const auto problem = co_await expect_on_stream(ids, sent); !problem.empty()) {
            co_return fail(std::to_string(ids.size()) + " accepted, but " + problem);
        }
        std::string spread;
        for (const auto& [gw, count] : per_gateway) {
            spread += (spread.empty() ? "" : ", ") + std::to_string(count) + " via " + url(gw);
        }
        co_return pass(std::to_string(ids.size()) + "/" + std::to_string(opts_.trickle) +
                       " accepted (" + spread +
                       "; ids and deviceIds echoed in lower case), all on "
                       "the stream with matching fields");
    }

    net::awaitable<outcome> batch() {
        std::vector<event_spec> events;
        for (int i = 0; i < 10; ++i) {
            events.push_back(make_event(ids_, i % 2 == 0 ? "humidity" : "pressure", 40.0 + i));
        }
        events[3].id = ids_.next();
        const std::string key = ids_.next();
        const auto expected = expected_batch_ids(key, events);
        const std::size_t gw = next_gateway();
        const auto r = co_await post(gw, post_events(batch_body(events), opts_.api_key, key));
        if (r.status() != 202) {
            co_return fail(url(gw) + " answered " + seen(r));
        }
        const auto json = nlohmann::json::parse(r.body(), nullptr, false);
        const auto got = accepted_ids(r.body());
        if (!json.contains("data") || json["data"].value("accepted", -1) != 10 || got != expected) {
            co_return fail("202 body " + r.body() + " does not list the expected 10 ids");
        }
        accepted_.insert(accepted_.end(), got.begin(), got.end());
        if (const auto problem = co_await expect_on_stream(got, events); !problem.empty()) {
            co_return fail("accepted, but " + problem);
        }
        co_return pass(url(gw) +
                       " accepted 10 with ids = the item's own id or uuid_v5(key, index); "
                       "all 10 on the stream");
    }

    net::awaitable<outcome> gzip_body() {
        const auto event = make_event(ids_, "vibration", 0.03);
        const std::string key = ids_.next();
        const std::string body = event_body(event);
        const std::string compressed = gzip(body);
        const std::size_t gw = next_gateway();
        const auto r = co_await post(gw, post_events(compressed, opts_.api_key, key, true));
        if (r.status() != 202) {
            co_return fail(url(gw) + " answered " + seen(r));
        }
        gzipped_ = accepted_request{key, body, r.body(), gw};
        accepted_.push_back(key);
        if (const auto problem = co_await expect_on_stream(one(key), one(event));
            !problem.empty()) {
            co_return fail("accepted, but " + problem);
        }
        co_return pass(url(gw) + " accepted " + std::to_string(compressed.size()) +
                       " gzip bytes (" + std::to_string(body.size()) +
                       " uncompressed); on the stream");
    }

    net::awaitable<outcome> expect_replay(const std::optional<accepted_request>& original,
                                          bool gzipped_original) {
        if (!original) {
            co_return fail("the original request was not accepted");
        }
        const std::size_t gw = other_gateway(original->gateway);
        const auto r = co_await post(gw, post_events(original->body, opts_.api_key, original->key));
        if (!is_replay(r)) {
            co_return fail(url(gw) + " answered " + seen(r) +
                           ", expected 202 with "
                           "Idempotent-Replayed: true");
        }
        if (r.body() != original->response_body) {
            co_return fail("replayed body differs: " + r.body() + " vs " + original->response_body);
        }
        co_return pass(url(gw) + " replayed the 202 of " + url(original->gateway) +
                       (gzipped_original ? " (plain body, same fingerprint as the gzip one)" : "") +
                       ", byte-identical body");
    }

    net::awaitable<outcome> gzip_same_request() {
        co_return co_await expect_replay(gzipped_, true);
    }

    net::awaitable<outcome> replay() { co_return co_await expect_replay(first_, false); }

    net::awaitable<outcome> reused_key() {
        if (!first_) {
            co_return fail("the original request was not accepted");
        }
        const std::size_t gw = other_gateway(first_->gateway);
        co_return co_await expect_error(
            gw, post_events(event_body(make_event(ids_)), opts_.api_key, first_->key), 422,
            "idempotency_key_reused");
    }

    net::awaitable<outcome> metadata() {
        auto event = make_event(ids_, "battery", 87);
        event.metadata = nlohmann::json{
            {"firmware", "1.4.2"}, {"battery", 87}, {"charging", true}, {"site", "lab \"3\" <b>"}};
        const std::string key = ids_.next();
        const std::size_t gw = next_gateway();
        const auto r = co_await post(gw, post_events(event_body(event), opts_.api_key, key));
        if (r.status() != 202) {
            co_return fail(url(gw) + " answered " + seen(r));
        }
        accepted_.push_back(key);
        metadata_id_ = key;
        metadata_ = *event.metadata;
        if (const auto problem = co_await expect_on_stream(one(key), one(event));
            !problem.empty()) {
            co_return fail("accepted, but " + problem);
        }
        co_return pass("the stream frame carries " + metadata_.dump());
    }

    net::awaitable<outcome> tenant_isolation() {
        if (opts_.second_api_key.empty()) {
            co_return skip("no --second-api-key given");
        }
        if (!stream_ || !stream_->is_open()) {
            co_return fail("this tenant's stream is not open");
        }
        auto opened =
            co_await stream_watcher::open(executor_, opts_.gateways[0], opts_.second_api_key,
                                          stream_auth::query, opts_.request_timeout);
        if (!opened.watcher) {
            co_return fail("second tenant's stream at " + url(0) + ": " + opened.error);
        }
        stream2_ = std::move(opened.watcher);
        const auto [probe_frame, posts] = co_await probe(*stream2_, 0, opts_.second_api_key);
        if (probe_frame == nullptr) {
            co_return fail("no probe of the second tenant showed on its own stream");
        }
        const std::string other_client = probe_frame->value("clientId", std::string{});
        std::vector<std::string> theirs = {probe_frame->value("id", std::string{})};
        for (int i = 0; i < 3; ++i) {
            const std::size_t gw = next_gateway();
            const auto id =
                co_await post_valid(gw, opts_.second_api_key, make_event(ids_, "door", i));
            if (!id) {
                co_return fail("the second tenant's event " + std::to_string(i) + " to " + url(gw) +
                               " was not accepted");
            }
            theirs.push_back(*id);
        }
        const auto got = co_await stream2_->wait_for(theirs, opts_.stream_deadline);
        if (got != theirs.size()) {
            co_return fail(std::to_string(got) + "/" + std::to_string(theirs.size()) +
                           " of the second tenant's events on its own stream");
        }
        // A marker of this tenant, posted after theirs to the same gateways, bounds the wait:
        // once it is here, their events had their chance to (wrongly) arrive.
        const auto marker = co_await post_valid(0, opts_.api_key, make_event(ids_, "marker", 1));
        if (!marker || co_await stream_->wait_for(one(*marker), opts_.stream_deadline) != 1) {
            co_return fail("this tenant's marker event did not show on its stream");
        }
        std::size_t leaked = 0;
        for (const auto& id : theirs) {
            leaked += stream_->times_seen(id);
        }
        std::size_t leaked_back = 0;
        for (const auto& [id, count] : stream_->counts()) {
            leaked_back += stream2_->times_seen(id);
        }
        if (leaked != 0 || leaked_back != 0) {
            co_return fail(std::to_string(leaked) +
                           " of the second tenant's frames on this "
                           "tenant's stream, " +
                           std::to_string(leaked_back) + " the other way");
        }
        if (other_client.empty() || other_client == client_id_) {
            co_return fail("the second tenant's frames carry clientId '" + other_client + "'");
        }
        co_return pass("the second tenant's " + std::to_string(theirs.size()) +
                       " events reached its stream (api_key query parameter, clientId " +
                       other_client + "), none reached this tenant's stream, nor the reverse");
    }

    net::awaitable<outcome> stream_exactly_once() {
        if (!stream_ || !stream_->is_open()) {
            co_return fail("the stream is not open" +
                           (stream_ ? " (" + stream_->closed_reason() + ")" : std::string{}));
        }
        // A marker through each gateway bounds the wait for late duplicates (replays must not
        // publish again).
        std::vector<std::string> markers;
        for (std::size_t gw = 0; gw < gateways(); ++gw) {
            if (const auto id =
                    co_await post_valid(gw, opts_.api_key, make_event(ids_, "marker", 2))) {
                markers.push_back(*id);
            }
        }
        if (markers.size() != gateways() ||
            co_await stream_->wait_for(markers, opts_.stream_deadline) != markers.size()) {
            co_return fail("the closing markers did not all show on the stream");
        }
        std::vector<std::string> expected = on_stream_;
        expected.insert(expected.end(), once_on_stream_.begin(), once_on_stream_.end());
        std::vector<std::string> wrong;
        for (const auto& id : expected) {
            if (const auto n = stream_->times_seen(id); n != 1) {
                wrong.push_back(id + " seen " + std::to_string(n) + "x");
            }
        }
        if (!wrong.empty() || stream_->malformed_frames() != 0) {
            std::string detail =
                std::to_string(stream_->malformed_frames()) + " malformed frame(s)";
            for (const auto& w : wrong) {
                detail += "; " + w;
            }
            co_return fail(detail);
        }
        co_return pass(std::to_string(expected.size()) + " events each seen once (" +
                       std::to_string(stream_->frames()) + " frames in all, none malformed)");
    }

    outcome storage_exactly_once() {
        if (opts_.database_url.empty()) {
            return skip("no database URL (set DATABASE_URL or --database-url)");
        }
        const auto count = wait_for_rows(opts_.database_url, accepted_, opts_.db_deadline);
        std::string detail = std::to_string(count.distinct) + "/" + std::to_string(count.ids) +
                             " accepted events are rows, " + std::to_string(count.rows) +
                             " rows in all (after " + std::to_string(count.waited.count()) + " ms)";
        if (!count.error.empty()) {
            return fail(detail + "; database: " + count.error);
        }
        if (!count.exact()) {
            return fail(detail);
        }
        const auto rejected = count_rows(opts_.database_url, rejected_);
        if (rejected.rows != 0) {
            return fail(detail + "; but " + std::to_string(rejected.rows) +
                        " row(s) for rejected requests");
        }
        return pass(detail + "; 0 rows for the " + std::to_string(rejected_.size()) +
                    " rejected event(s)");
    }

    outcome storage_metadata() {
        if (opts_.database_url.empty()) {
            return skip("no database URL (set DATABASE_URL or --database-url)");
        }
        if (metadata_id_.empty()) {
            return fail("the metadata event was not accepted");
        }
        const auto stored = stored_metadata(opts_.database_url, metadata_id_);
        if (!stored) {
            return fail("no row for event " + metadata_id_);
        }
        if (*stored != metadata_) {
            return fail("stored " + stored->dump() + ", sent " + metadata_.dump());
        }
        return pass("events.metadata of " + metadata_id_ + " = " + stored->dump());
    }

    net::any_io_executor executor_;
    const options& opts_;
    check_report& report_;
    uuid_source ids_;
    std::vector<std::unique_ptr<http_connection>> connections_;
    std::size_t turn_ = 0;

    std::shared_ptr<stream_watcher> stream_;   // this tenant, on the last gateway
    std::shared_ptr<stream_watcher> stream2_;  // the second tenant, on the first gateway
    std::string client_id_;

    std::vector<std::string> accepted_;        // ids answered 202 (both tenants)
    std::vector<std::string> rejected_;        // ids of events refused: never rows
    std::vector<std::string> on_stream_;       // this tenant's events seen on the stream
    std::vector<std::string> once_on_stream_;  // accepted, must be seen exactly once
    std::optional<accepted_request> first_;
    std::optional<accepted_request> gzipped_;
    std::string metadata_id_;
    nlohmann::json metadata_;
};

}  // namespace

int run_scenarios(const options& opts) {
    check_report report(opts.json, stdout);
    if (!opts.json) {
        std::string list;
        for (const auto& gw : opts.gateways) {
            list += (list.empty() ? "" : ", ") + gw.url;
        }
        std::printf("PulseStream scenarios against %s%s\n\n", list.c_str(),
                    opts.database_url.empty() ? "" : " (with storage checks)");
        std::fflush(stdout);
    }
    net::io_context ioc;
    scenario_run run(ioc.get_executor(), opts, report);
    std::exception_ptr failure;
    net::co_spawn(ioc, run.run(), [&](std::exception_ptr e) { failure = e; });
    ioc.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
    run.storage_checks();
    report.print_summary();
    if (!opts.json_file.empty()) {
        write_json_file(opts.json_file, report.to_json());
    }
    return report.ok() ? 0 : 1;
}

}  // namespace pulsestream::simulator
