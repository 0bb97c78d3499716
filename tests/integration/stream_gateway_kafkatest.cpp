// The live stream end to end (DESIGN.md §4, §9 defect 7, §10): two gateways in this process
// sharing one PostgreSQL, one Redis and one mock Kafka cluster, real WebSocket clients on
// loopback. Events accepted by gateway A reach clients of their tenant on gateway B, in order per
// device, and never another tenant's; filters; refusals before the upgrade; a slow client is
// dropped with 1013 without hurting a fast one or ingest; Redis restarts; 503s are never
// published; a tenant nobody watches is not published until a viewer announces itself; shutdown
// closes with 1001.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>

#include "pulsestream/core/sha256.hpp"
#include "pulsestream/gateway/app.hpp"
#include "pulsestream/gateway/stream_publisher.hpp"
#include "pulsestream/stream/ws_hub.hpp"
#include "support/gateway_stack.hpp"
#include "support/ingest_requests.hpp"
#include "support/services.hpp"
#include "support/stream_helpers.hpp"
#include "support/wait.hpp"
#include "support/ws_client.hpp"

namespace {

using namespace pulsestream::test_support;
using nlohmann::json;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

constexpr std::string_view second_key = "ps_live_stream_second_tenant_key";
constexpr std::size_t queue_limit = 64;

class stream_gateway : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!gate_.require(gateway_stack::available(), "PostgreSQL 15 and Redis 7")) return;
        stack_ = std::make_unique<gateway_stack>([](pulsestream::core::gateway_config& c) {
            c.ws_send_queue_limit = queue_limit;
            c.max_batch_events = 200;
            // A tenant found unwatched stays unpublished until an announcement: every test here
            // that waits for its stream to go live relies on the gateways' announcements.
            c.stream_recheck_ms = 600'000;
        });
        stack_->start();
        gateway_b_ = std::make_unique<pulsestream::gateway::app>(stack_->config());
        gateway_b_->start();
        second_client_id_ = add_client("stream second", second_key);
    }
    /// A new tenant with `key`; returns its id.
    static std::string add_client(std::string_view name, std::string_view key) {
        pqxx::connection conn(stack_->postgres().url());
        pqxx::work tx(conn);
        auto id = tx.exec_params1(
                        "INSERT INTO clients (name, api_key_hash, api_key_prefix) "
                        "VALUES ($1, $2, 'ps_live_') RETURNING id",
                        std::string(name), pulsestream::core::sha256_hex(key))[0]
                      .as<std::string>();
        tx.commit();
        return id;
    }
    static void TearDownTestSuite() {
        if (gateway_b_) gateway_b_->shutdown(5s);
        gateway_b_.reset();
        stack_.reset();
    }
    void SetUp() override { PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_); }

    static std::uint16_t port_a() { return stack_->port(); }
    static std::uint16_t port_b() { return gateway_b_->port(); }

    static ws_client_options with_key(std::string_view key, std::string target = "/v1/stream") {
        ws_client_options o;
        o.target = std::move(target);
        o.headers.emplace_back("x-api-key", std::string(key));
        return o;
    }

    /// A batch body of `n` events of `device` with values first, first+1, ...
    static std::string batch_of(const std::string& device, int first, int n,
                                const std::string& type = "temperature") {
        std::string body = "[";
        for (int i = 0; i < n; ++i) {
            body += (i ? "," : "") + event_json(device, type, first + i);
        }
        return body + "]";
    }

    static std::vector<json> events_of(const ws_client& client) {
        std::vector<json> out;
        for (const auto& f : client.frames()) out.push_back(json::parse(f));
        return out;
    }

    static std::size_t count_devices(const ws_client& client,
                                     const std::set<std::string>& devices) {
        std::size_t n = 0;
        for (const auto& e : events_of(client))
            n += devices.count(e["deviceId"].get<std::string>());
        return n;
    }

    static void expect_refused(const ws_client::handshake_response& res, unsigned status,
                               std::string_view code) {
        EXPECT_EQ(res.result_int(), status) << res.body();
        const auto body = json::parse(res.body(), nullptr, false);
        ASSERT_TRUE(body.is_object()) << res.body();
        EXPECT_EQ(body["status"], "error");
        EXPECT_EQ(body["code"], code);
    }

    static inline service_gate gate_;
    static inline std::unique_ptr<gateway_stack> stack_;
    static inline std::unique_ptr<pulsestream::gateway::app> gateway_b_;
    static inline std::string second_client_id_;
};

TEST_F(
    stream_gateway,
    a_client_on_gateway_b_gets_every_event_accepted_by_a_in_order_per_device_and_no_other_tenants) {
    ws_client mine(port_b(), with_key(dev_api_key));
    ws_client theirs(port_b(), with_key(second_key));
    ASSERT_TRUE(wait_stream_live(mine, port_a(), dev_api_key));
    ASSERT_TRUE(wait_stream_live(theirs, port_a(), second_key));

    const std::vector<std::string> devices = {fresh_uuid(), fresh_uuid(), fresh_uuid()};
    const auto other_device = fresh_uuid();
    std::map<std::string, int> next;  // the value is each device's sequence number
    http_client a(port_a());          // one connection: its requests are published in order
    for (int round = 0; round < 6; ++round) {
        for (const auto& d : devices) {
            const int n = round % 2 == 0 ? 1 : 7;  // single events and batches alternate
            const auto body =
                n == 1 ? event_json(d, "temperature", next[d]) : batch_of(d, next[d], n);
            ASSERT_EQ(a.send(ingest_request(body, fresh_uuid())).result_int(), 202);
            next[d] += n;
        }
        ASSERT_EQ(
            a.send(ingest_request(batch_of(other_device, round * 3, 3), fresh_uuid(), second_key))
                .result_int(),
            202);
    }
    const std::size_t expected = static_cast<std::size_t>(next[devices[0]] * 3);
    const std::set<std::string> mine_set(devices.begin(), devices.end());
    ASSERT_TRUE(wait_until([&] { return count_devices(mine, mine_set) >= expected; }, 15s))
        << count_devices(mine, mine_set) << " of " << expected;
    ASSERT_TRUE(wait_until([&] { return count_devices(theirs, {other_device}) >= 18; }, 15s));

    std::map<std::string, int> seen;
    for (const auto& e : events_of(mine)) {
        EXPECT_EQ(e["clientId"], std::string(dev_client_id)) << e.dump();
        EXPECT_NE(e["deviceId"], other_device);
        const auto d = e["deviceId"].get<std::string>();
        if (!mine_set.count(d)) continue;  // markers
        // One frame per event, the Kafka value: every field of it, in order per device.
        EXPECT_TRUE(e.contains("id") && e.contains("receivedAt") && e.contains("timestamp"));
        EXPECT_EQ(e["value"].get<double>(), seen[d]) << "device " << d;
        ++seen[d];
    }
    for (const auto& d : devices) EXPECT_EQ(seen[d], next[d]) << "no duplicates, none missing";
    for (const auto& e : events_of(theirs)) {
        EXPECT_EQ(e["clientId"], second_client_id_) << e.dump();
        EXPECT_FALSE(mine_set.count(e["deviceId"].get<std::string>()));
    }

    EXPECT_EQ(scrape_metric(port_b(), "pulsestream_ws_connections"), 2);
    EXPECT_GE(scrape_metric(port_b(), "pulsestream_ws_frames_sent_total"),
              static_cast<double>(expected));
}

TEST_F(stream_gateway,
       a_tenant_nobody_watches_is_not_published_until_a_viewer_on_any_gateway_announces_itself) {
    constexpr std::string_view key = "ps_live_stream_unwatched_tenant_key";
    add_client("stream unwatched", key);
    http_client a(port_a());
    const auto skipped = [] {
        return scrape_metric(port_a(), "pulsestream_stream_publishes_skipped_total");
    };
    const auto accepted = [&](const std::string& device) {
        return a.send(ingest_request(event_json(device), fresh_uuid(), key)).result_int() == 202;
    };
    // The first PUBLISH finds no subscriber; once its reply is in, A skips the tenant.
    const double initially = skipped();
    ASSERT_TRUE(wait_until([&] { return accepted(fresh_uuid()) && skipped() > initially; }, 5s));

    // A viewer on gateway B: B announces its subscription and A publishes again at once (the
    // suite's recheck is ten minutes, so nothing else could end the skipping).
    {
        ws_client viewer(port_b(), with_key(key));
        ASSERT_TRUE(wait_stream_live(viewer, port_a(), key));
        const double with_viewer = skipped();
        const auto device = fresh_uuid();
        ASSERT_TRUE(accepted(device));
        EXPECT_TRUE(wait_until([&] { return has_device_frame(viewer, device); }, 5s));
        EXPECT_EQ(skipped(), with_viewer);
    }

    // The viewer left: B unsubscribes, a PUBLISH finds nobody again, and skipping resumes.
    const double after_viewer = skipped();
    EXPECT_TRUE(wait_until([&] { return accepted(fresh_uuid()) && skipped() > after_viewer; }, 5s));
}

TEST_F(stream_gateway, filters_by_device_and_event_type_with_repeatable_parameters) {
    const auto d1 = fresh_uuid(), d2 = fresh_uuid(), d3 = fresh_uuid();
    std::string upper_d2 = d2;
    std::transform(upper_d2.begin(), upper_d2.end(), upper_d2.begin(), ::toupper);
    // Key as a query parameter (browsers), devices in either case, two event types.
    ws_client_options o;
    o.target = "/v1/stream?api_key=" + std::string(dev_api_key) + "&deviceId=" + d1 +
               "&deviceId=" + upper_d2 + "&eventType=temperature&eventType=door%20open";
    ws_client filtered(port_b(), o);
    ws_client all(port_b(), with_key(dev_api_key));
    ASSERT_TRUE(wait_stream_live(all, port_a(), dev_api_key));

    http_client a(port_a());
    for (const auto& d : {d1, d2, d3}) {
        for (const std::string type : {"temperature", "humidity", "door open"}) {
            ASSERT_EQ(a.send(ingest_request(event_json(d, type), fresh_uuid())).result_int(), 202);
        }
    }
    ASSERT_TRUE(all.wait_frames(9, 15s));
    ASSERT_TRUE(wait_until([&] { return count_devices(all, {d1, d2, d3}) == 9; }, 15s));
    // The unfiltered client got all nine after the filtered one was offered them too.
    ASSERT_TRUE(wait_until([&] { return filtered.frame_count() >= 4; }, 5s));
    std::multiset<std::pair<std::string, std::string>> got;
    for (const auto& e : events_of(filtered)) {
        got.emplace(e["deviceId"].get<std::string>(), e["eventType"].get<std::string>());
    }
    const std::multiset<std::pair<std::string, std::string>> want = {
        {d1, "temperature"}, {d1, "door open"}, {d2, "temperature"}, {d2, "door open"}};
    EXPECT_EQ(got, want);
}

TEST_F(stream_gateway, bad_or_missing_keys_and_bad_filters_are_refused_before_the_upgrade) {
    expect_refused(ws_client::attempt(port_a(), {}), 401, "missing_api_key");
    expect_refused(ws_client::attempt(port_a(), with_key("ps_live_nope")), 401, "invalid_api_key");
    ws_client_options query;
    query.target = "/v1/stream?api_key=ps_live_nope";
    expect_refused(ws_client::attempt(port_a(), query), 401, "invalid_api_key");
    expect_refused(ws_client::attempt(port_a(), with_key(dev_api_key, "/v1/stream?deviceId=nope")),
                   400, "validation_failed");
    // A valid key on a plain GET: not a WebSocket upgrade.
    http_client plain(port_a());
    auto req = make_request(bhttp::verb::get, "/v1/stream");
    req.set("x-api-key", std::string(dev_api_key));
    const auto res = plain.send(req);
    EXPECT_EQ(res.result_int(), 426);
    EXPECT_EQ(json::parse(res.body())["code"], "upgrade_required");
}

TEST_F(stream_gateway,
       a_slow_client_is_closed_with_1013_while_a_fast_one_keeps_up_and_ingest_is_unaffected) {
    http_client a(port_a());
    const auto timed_post = [&](const std::string& body) {
        const auto start = std::chrono::steady_clock::now();
        const auto res = a.send(ingest_request(body, fresh_uuid()));
        EXPECT_EQ(res.result_int(), 202);
        return std::chrono::steady_clock::now() - start;
    };
    const auto median = [](std::vector<std::chrono::steady_clock::duration> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::vector<std::chrono::steady_clock::duration> before, during;
    for (int i = 0; i < 10; ++i) before.push_back(timed_post(batch_of(fresh_uuid(), 0, 100)));

    ws_client fast(port_a(), with_key(dev_api_key));
    ws_client_options stalled = with_key(dev_api_key);
    stalled.reading = false;
    stalled.receive_buffer = 4096;
    ws_client slow(port_a(), stalled);
    ASSERT_TRUE(wait_stream_live(fast, port_a(), dev_api_key));

    const double slow_before = scrape_metric(port_a(), "pulsestream_ws_disconnected_slow_total");
    const auto device = fresh_uuid();
    int posted = 0;
    // One batch (one Redis message of 100 frames) at a time, the next once the fast client has
    // read it all: that client keeps up by construction, also when CI's other tests take the
    // CPU its reading thread needs (unpaced, it fell behind there and was closed with 1013 too).
    // The slow client's socket buffers fill after some hundred frames, then its queue.
    const auto post_read_by_fast_client = [&] {
        during.push_back(timed_post(batch_of(device, posted, 100)));
        posted += 100;
        return wait_until(
            [&] { return count_devices(fast, {device}) >= static_cast<std::size_t>(posted); },
            20s);
    };
    const auto fast_client_state = [&] {
        return std::to_string(count_devices(fast, {device})) + " of " + std::to_string(posted) +
               "; fast client: " + std::to_string(fast.frame_count()) + " frames, ended " +
               (fast.ended() ? "true" : "false") + " (" + fast.error().message() +
               ", close code " + std::to_string(fast.close_code().value_or(0)) + ")";
    };
    while (posted < 100 * 60 &&
           scrape_metric(port_a(), "pulsestream_ws_disconnected_slow_total") == slow_before) {
        ASSERT_TRUE(post_read_by_fast_client()) << fast_client_state();
    }
    ASSERT_GT(scrape_metric(port_a(), "pulsestream_ws_disconnected_slow_total"), slow_before)
        << "after " << posted << " events";
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(post_read_by_fast_client()) << fast_client_state();

    // The fast client got every event, in order, and is still connected.
    ASSERT_EQ(count_devices(fast, {device}), static_cast<std::size_t>(posted))
        << fast_client_state();
    int expected_value = 0;
    for (const auto& e : events_of(fast)) {
        if (e["deviceId"] == device) {
            EXPECT_EQ(e["value"].get<double>(), expected_value++);
        }
    }
    EXPECT_FALSE(fast.ended());

    // The slow one reads again: what was in flight, then the close frame with 1013.
    slow.resume();
    ASSERT_TRUE(slow.wait_ended(10s));
    EXPECT_EQ(slow.close_code(), std::optional<std::uint16_t>(1013)) << slow.error().message();
    EXPECT_LT(count_devices(slow, {device}), static_cast<std::size_t>(posted));

    // Ingest never waited on the stream.
    const auto base = median(before), stalled_median = median(during);
    EXPECT_LT(stalled_median, std::max(3 * base, base + std::chrono::milliseconds(50)))
        << "median POST " << std::chrono::duration_cast<std::chrono::microseconds>(base).count()
        << " us before, "
        << std::chrono::duration_cast<std::chrono::microseconds>(stalled_median).count()
        << " us with a stalled client";
    EXPECT_LT(*std::max_element(during.begin(), during.end()), std::chrono::seconds(2));
}

TEST_F(stream_gateway,
       a_redis_restart_pauses_the_stream_and_it_resumes_without_restarting_the_gateway) {
    ws_client client(port_b(), with_key(dev_api_key));
    ASSERT_TRUE(wait_stream_live(client, port_a(), dev_api_key));
    const double errors_before =
        scrape_metric(port_b(), "pulsestream_redis_subscription_errors_total");

    stack_->redis().stop();
    // Ingest goes on (fail open); the socket stays open; the lost subscription is counted.
    http_client a(port_a());
    EXPECT_EQ(a.send(ingest_request(event_json(fresh_uuid()), fresh_uuid())).result_int(), 202);
    EXPECT_TRUE(wait_until(
        [&] {
            return scrape_metric(port_b(), "pulsestream_redis_subscription_errors_total") >
                   errors_before;
        },
        10s));
    EXPECT_FALSE(client.ended());

    stack_->redis().start_again();
    EXPECT_TRUE(wait_stream_live(client, port_a(), dev_api_key, 30s));
    EXPECT_FALSE(client.ended());
}

TEST_F(stream_gateway, a_request_answered_503_is_never_published_even_when_its_ack_comes_late) {
    ws_client client(port_b(), with_key(dev_api_key));
    ASSERT_TRUE(wait_stream_live(client, port_a(), dev_api_key));

    const auto late_device = fresh_uuid();
    stack_->kafka().set_rtt(-1, stack_->config().produce_timeout_ms + 1000);
    const auto res =
        http_client(port_a()).send(ingest_request(event_json(late_device), fresh_uuid()));
    stack_->kafka().set_rtt(-1, 0);
    ASSERT_EQ(res.result_int(), 503) << res.body();
    // Whatever the producer does with the late record, it is done with it once its queue is
    // empty; a publish would have happened by then, ahead of the marker below.
    ASSERT_TRUE(
        wait_until([&] { return scrape_metric(port_a(), "pulsestream_producer_queue_depth") == 0; },
                   20s, 100ms));
    ASSERT_TRUE(wait_stream_live(client, port_a(), dev_api_key));
    EXPECT_FALSE(has_device_frame(client, late_device));
}

TEST_F(stream_gateway, shutdown_closes_streams_with_1001) {
    pulsestream::gateway::app gateway_c(stack_->config());
    gateway_c.start();
    ws_client client(gateway_c.port(), with_key(dev_api_key));
    ASSERT_TRUE(wait_stream_live(client, port_a(), dev_api_key));
    EXPECT_EQ(scrape_metric(gateway_c.port(), "pulsestream_ws_connections"), 1);

    const auto started = std::chrono::steady_clock::now();
    gateway_c.shutdown(5s);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "the client answered the close";
    ASSERT_TRUE(client.wait_ended(5s));
    EXPECT_EQ(client.close_code(), std::optional<std::uint16_t>(1001));
}

}  // namespace
