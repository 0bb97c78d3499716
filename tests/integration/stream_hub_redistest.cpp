// The stream library on its own (DESIGN.md §4): splitting and filtering, and a ws_hub behind a
// real HTTP server and a private Redis, with options a gateway would not use (fast pings), and
// messages published straight to Redis.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/http/io_pool.hpp"
#include "pulsestream/http/router.hpp"
#include "pulsestream/http/server.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"
#include "pulsestream/stream/endpoint.hpp"
#include "pulsestream/stream/filter.hpp"
#include "pulsestream/stream/frame.hpp"
#include "pulsestream/stream/ws_hub.hpp"
#include "support/redis_instance.hpp"
#include "support/redis_suite.hpp"
#include "support/wait.hpp"
#include "support/ws_client.hpp"

namespace {

using namespace pulsestream::test_support;
using namespace pulsestream::stream;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;

const auto tenant_a = *pulsestream::core::parse_uuid("aaaaaaaa-0000-4000-8000-000000000001");
const auto tenant_b = *pulsestream::core::parse_uuid("bbbbbbbb-0000-4000-8000-000000000002");

// ---- splitting and filtering (pure) ----

TEST(stream_frames, a_message_splits_into_the_exact_bytes_of_each_event) {
    const std::string first =
        R"({"id":"1","deviceId":"d1","eventType":"t[1]","value":1.50,"metadata":{"s":"a,\"b\"]}"}})";
    const std::string second = R"({"deviceId":"d2","eventType":"x","value":-0e0})";
    const auto frames = split_message(" [ " + first + " ,\n" + second + "] ");
    ASSERT_TRUE(frames.has_value());
    ASSERT_EQ(frames->size(), 2u);
    EXPECT_EQ((*frames)[0].text, first);  // numbers keep their spelling: no re-serialization
    EXPECT_EQ((*frames)[0].device_id, "d1");
    EXPECT_EQ((*frames)[0].event_type, "t[1]");
    EXPECT_EQ((*frames)[1].text, second);
    EXPECT_TRUE(split_message("[]").has_value());
    EXPECT_TRUE(split_message("[]")->empty());
}

TEST(stream_frames, malformed_messages_and_elements_are_dropped) {
    EXPECT_FALSE(split_message("").has_value());
    EXPECT_FALSE(split_message("{\"deviceId\":\"d\"}").has_value());
    EXPECT_FALSE(split_message("[{\"a\":1}").has_value());
    EXPECT_FALSE(split_message("[{\"a\":\"]}").has_value());
    const auto frames =
        split_message(R"([1,"s",{"deviceId":5,"eventType":"t"},{"eventType":"t"},{bad json},)"
                      R"({"deviceId":"d","eventType":"t"}])");
    ASSERT_TRUE(frames.has_value());
    ASSERT_EQ(frames->size(), 1u);
    EXPECT_EQ((*frames)[0].device_id, "d");
}

TEST(stream_frames, query_parameters_are_decoded_validated_and_repeatable) {
    const auto q = parse_stream_query(
        "api_key=ps%5Flive+x&deviceId=3F2504E0-4F89-41D3-9A0C-0305E82C3301&eventType=door%20open"
        "&eventType=t&deviceId=3f2504e0-4f89-41d3-9a0c-0305e82c3301&other=1&&bare");
    EXPECT_TRUE(q.errors.empty());
    EXPECT_EQ(q.api_key, "ps_live x");
    EXPECT_EQ(q.filter.devices(), std::vector<std::string>{"3f2504e0-4f89-41d3-9a0c-0305e82c3301"});
    EXPECT_EQ(q.filter.event_types(), (std::vector<std::string>{"door open", "t"}));
    EXPECT_TRUE(q.filter.matches({"", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "t"}));
    EXPECT_FALSE(q.filter.matches({"", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "humidity"}));
    EXPECT_FALSE(q.filter.matches({"", "00000000-0000-4000-8000-000000000000", "t"}));
    EXPECT_TRUE(parse_stream_query("").filter.matches({"", "any", "any"}));

    const auto bad = parse_stream_query("deviceId=nope&eventType=&deviceId=%zz", 8);
    ASSERT_EQ(bad.errors.size(), 3u);
    EXPECT_EQ(bad.errors[0].field, "deviceId");
    EXPECT_EQ(bad.errors[1].field, "eventType");
    std::string many;
    for (int i = 0; i < 3; ++i) many += "&eventType=t" + std::to_string(i);
    const auto too_many = parse_stream_query(many, 2);
    ASSERT_EQ(too_many.errors.size(), 1u);
    EXPECT_EQ(too_many.errors[0].field, "eventType");
    EXPECT_EQ(form_decode("a%2"), "a%2");  // a malformed escape stays as it is
}

// ---- the hub behind a real server ----

/// A Redis connection for the test thread (PUBLISH, PUBSUB NUMSUB).
class redis_cli {
public:
    explicit redis_cli(std::uint16_t port) {
        const timeval timeout{5, 0};
        context_ = redisConnectWithTimeout("127.0.0.1", port, timeout);
        if (context_ == nullptr || context_->err != 0) throw std::runtime_error("redis connect");
        redisSetTimeout(context_, timeout);
    }
    ~redis_cli() { redisFree(context_); }
    redis_cli(const redis_cli&) = delete;
    redis_cli& operator=(const redis_cli&) = delete;

    void publish(const std::string& channel, const std::string& message) {
        free_reply(redisCommand(context_, "PUBLISH %b %b", channel.data(), channel.size(),
                                message.data(), message.size()));
    }
    long long subscribers(const std::string& channel) {
        auto* r = static_cast<redisReply*>(
            redisCommand(context_, "PUBSUB NUMSUB %b", channel.data(), channel.size()));
        const long long n = r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2
                                ? r->element[1]->integer
                                : -1;
        free_reply(r);
        return n;
    }

private:
    static void free_reply(void* r) {
        if (r != nullptr) freeReplyObject(r);
    }
    redisContext* context_ = nullptr;
};

/// An HTTP server on two io threads serving only /v1/stream, with keys "key-a" and "key-b".
struct stream_server {
    explicit stream_server(const redis_instance& redis, hub_options options) : pool(2) {
        hub = std::make_unique<ws_hub>(options, pool.context(0).get_executor(),
                                       *pulsestream::redis::parse_redis_url(redis.url()), metrics);
        endpoint = std::make_unique<stream_endpoint>(
            *hub,
            [](std::string key) -> net::awaitable<boost::system::result<pulsestream::core::uuid>> {
                if (key == "key-a") co_return tenant_a;
                if (key == "key-b") co_return tenant_b;
                co_return pulsestream::core::errc::invalid_api_key;
            });
        routes.add(bhttp::verb::get, "/v1/stream",
                   [this](pulsestream::http::exchange& ex) { return (*endpoint)(ex); });
        std::shared_ptr<pulsestream::http::request_observer> observer(&metrics, [](auto*) {});
        pulsestream::http::server_options server_options;
        server_options.host = "127.0.0.1";
        server = std::make_unique<pulsestream::http::server>(pool, server_options, std::ref(routes),
                                                             observer);
        server->listen();
        pool.start();
    }
    ~stream_server() {
        server->drain();
        hub->shutdown();
        wait_until([&] { return hub->sessions() == 0; }, 5s);
        // Accept loops still waiting are destroyed by the pool, which keeps every context's
        // services until all of them are gone (their shared state holds every acceptor).
        pool.stop();
        pool.join();
    }

    [[nodiscard]] std::uint16_t port() const { return server->port(); }

    pulsestream::metrics::gateway_metrics metrics;
    pulsestream::http::io_pool pool;
    pulsestream::http::router routes;
    std::unique_ptr<ws_hub> hub;
    std::unique_ptr<stream_endpoint> endpoint;
    std::unique_ptr<pulsestream::http::server> server;
};

ws_client_options keyed(std::string key, bool reading = true) {
    ws_client_options o;
    o.headers.emplace_back("x-api-key", std::move(key));
    o.reading = reading;
    return o;
}

class stream_hub : public redis_suite<stream_hub> {};

TEST_F(stream_hub, a_tenant_channel_is_subscribed_while_it_has_viewers_and_only_then) {
    stream_server server(*redis_, {});
    redis_cli redis(redis_->port());
    const auto channel_a = ws_hub::channel_of(tenant_a), channel_b = ws_hub::channel_of(tenant_b);
    EXPECT_EQ(channel_a, "events:stream:aaaaaaaa-0000-4000-8000-000000000001");
    {
        ws_client a1(server.port(), keyed("key-a"));
        auto a2 = std::make_unique<ws_client>(server.port(), keyed("key-a"));
        ws_client b1(server.port(), keyed("key-b"));
        ASSERT_TRUE(wait_until(
            [&] { return redis.subscribers(channel_a) == 1 && redis.subscribers(channel_b) == 1; },
            10s))
            << "one subscription per tenant, whatever the number of its sockets";
        EXPECT_EQ(server.hub->tenants(), 2u);
        EXPECT_EQ(server.hub->sessions(), 3u);
        a2->close();
        ASSERT_TRUE(a2->wait_ended(5s));
        EXPECT_EQ(a2->close_code(), std::optional<std::uint16_t>(1000)) << a2->error().message();
        ASSERT_TRUE(wait_until([&] { return server.hub->sessions() == 2; }, 5s));
        EXPECT_EQ(redis.subscribers(channel_a), 1) << "a1 still watches tenant A";
    }
    EXPECT_TRUE(wait_until(
        [&] { return redis.subscribers(channel_a) == 0 && redis.subscribers(channel_b) == 0; },
        10s));
    EXPECT_EQ(server.hub->tenants(), 0u);
    EXPECT_EQ(server.hub->sessions(), 0u);
}

TEST_F(stream_hub, frames_are_the_published_bytes_of_the_tenant_only_and_bad_messages_harm_nobody) {
    stream_server server(*redis_, {});
    redis_cli redis(redis_->port());
    ws_client a(server.port(), keyed("key-a"));
    ws_client b(server.port(), keyed("key-b"));
    const auto channel_a = ws_hub::channel_of(tenant_a);
    ASSERT_TRUE(wait_until(
        [&] {
            return redis.subscribers(channel_a) == 1 &&
                   redis.subscribers(ws_hub::channel_of(tenant_b)) == 1;
        },
        10s));

    const std::string e1 = R"({"deviceId":"d1","eventType":"t","value":1.50})";
    const std::string e2 = R"({"deviceId":"d2","eventType":"u","value":2})";
    redis.publish(channel_a, "not json");
    redis.publish(channel_a, "[1,2]");
    redis.publish(channel_a, "[" + e1 + ",  " + e2 + "]");
    redis.publish(ws_hub::channel_of(tenant_b), "[" + e2 + "]");
    redis.publish(channel_a, "[" + e2 + "]");
    ASSERT_TRUE(a.wait_frames(3, 5s));
    EXPECT_EQ(a.frames(), (std::vector<std::string>{e1, e2, e2}));
    ASSERT_TRUE(b.wait_frames(1, 5s));
    EXPECT_EQ(b.frames(), std::vector<std::string>{e2});
    EXPECT_FALSE(a.ended());
}

TEST_F(stream_hub, a_client_that_answers_pings_stays_and_one_that_does_not_is_dropped) {
    hub_options options;
    options.ping_interval = 150ms;
    stream_server server(*redis_, options);
    ws_client responsive(server.port(), keyed("key-a"));
    ws_client deaf(server.port(), keyed("key-a", /*reading=*/false));
    ASSERT_TRUE(wait_until([&] { return server.hub->sessions() == 1; }, 5s))
        << "the client that never answered a ping is gone";
    ASSERT_TRUE(wait_until([&] { return responsive.pings() >= 5; }, 5s)) << responsive.pings();
    EXPECT_FALSE(responsive.ended());
    EXPECT_EQ(server.hub->sessions(), 1u);

    deaf.resume();
    ASSERT_TRUE(deaf.wait_ended(5s));
    EXPECT_FALSE(deaf.close_code().has_value())
        << "dropped, not closed: it could not take a close frame";
}

TEST_F(stream_hub,
       shutdown_closes_every_session_with_1001_and_later_ones_right_after_the_handshake) {
    stream_server server(*redis_, {});
    ws_client before(server.port(), keyed("key-a"));
    ASSERT_TRUE(wait_until([&] { return server.hub->tenants() == 1; }, 5s));
    server.hub->shutdown();
    ASSERT_TRUE(before.wait_ended(5s));
    EXPECT_EQ(before.close_code(), std::optional<std::uint16_t>(1001));

    ws_client after(server.port(), keyed("key-b"));
    ASSERT_TRUE(after.wait_ended(5s));
    EXPECT_EQ(after.close_code(), std::optional<std::uint16_t>(1001));
    EXPECT_TRUE(wait_until([&] { return server.hub->sessions() == 0; }, 5s));
    EXPECT_EQ(server.hub->tenants(), 0u);
}

}  // namespace
