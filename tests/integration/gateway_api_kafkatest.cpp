// The gateway's HTTP contract (DESIGN.md §3, §10) against real PostgreSQL, Redis, the Kafka
// protocol (librdkafka's mock cluster) and real sockets: every row of the status table with its
// exact JSON shape, and the gateway defects of the original (§9) as named regression tests.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "pulsestream/core/sha256.hpp"
#include "pulsestream/kafka/partitioner.hpp"
#include "pulsestream/redis/endpoint.hpp"
#include "support/gateway_redis.hpp"
#include "support/gateway_stack.hpp"
#include "support/gzip.hpp"
#include "support/ingest_requests.hpp"
#include "support/kafka_reader.hpp"
#include "support/services.hpp"
#include "support/wait.hpp"

namespace {

using namespace pulsestream::test_support;
using nlohmann::json;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

class gateway_api : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!gate_.require(gateway_stack::available(), "PostgreSQL 15 and Redis 7")) return;
        stack_ = std::make_unique<gateway_stack>([](pulsestream::core::gateway_config& c) {
            c.max_body_bytes = 64 * 1024;
            c.max_batch_events = 100;
            // Far below the defaults (10 s, 60 s), so a test can tell they were applied; far
            // above what any request of these tests takes.
            c.http_header_timeout_ms = 1000;
            c.http_idle_timeout_ms = 2000;
        });
        stack_->start();
    }
    static void TearDownTestSuite() { stack_.reset(); }
    void SetUp() override { PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_); }

    static http_client::response post(const std::string& body, const std::string& key,
                                      std::string_view api_key = dev_api_key) {
        http_client client(stack_->port());
        return client.send(ingest_request(body, key, api_key));
    }

    static json body_of(const http_client::response& res) { return json::parse(res.body()); }

    static void expect_error(const http_client::response& res, unsigned status, std::string_view code) {
        EXPECT_EQ(res.result_int(), status) << res.body();
        const auto body = body_of(res);
        EXPECT_EQ(body["status"], "error");
        EXPECT_EQ(body["code"], code);
        EXPECT_TRUE(body["message"].is_string());
        EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    }

    /// The Kafka records whose value carries event id `id`.
    static std::vector<kafka_record> records_with_id(const std::string& id, std::size_t expected) {
        std::vector<kafka_record> found;
        const auto all = read_topic(stack_->kafka().bootstrap_servers(), "metrics.raw", 0, 30s);
        for (const auto& r : all) {
            if (json::parse(r.value)["id"] == id) found.push_back(r);
        }
        EXPECT_EQ(found.size(), expected) << "records with id " << id;
        return found;
    }

    static inline service_gate gate_;
    static inline std::unique_ptr<gateway_stack> stack_;
};

TEST_F(gateway_api, a_single_event_is_acknowledged_and_lands_in_metrics_raw_keyed_by_device) {
    const auto key = fresh_uuid();
    const std::string device = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";  // upper case on purpose
    const auto timestamp = now_ms();
    const auto res = post(R"({"deviceId":")" + device +
                              R"(","eventType":"temperature","value":21.5,"timestamp":)" +
                              std::to_string(timestamp) +
                              R"(,"metadata":{"room":"lab","floor":2,"ok":true},"extra":"dropped"})",
                          key);
    ASSERT_EQ(res.result_int(), 202) << res.body();
    const auto body = body_of(res);
    EXPECT_EQ(body["status"], "success");
    EXPECT_EQ(body["message"], "Event accepted for processing");
    EXPECT_EQ(body["data"]["id"], key);
    EXPECT_EQ(body["data"]["deviceId"], "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    EXPECT_EQ(body["data"]["timestamp"], timestamp);

    const auto records = records_with_id(key, 1);
    ASSERT_EQ(records.size(), 1u);
    const auto& record = records[0];
    ASSERT_TRUE(record.key.has_value());
    EXPECT_EQ(*record.key, "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    // The partition a Java client (murmur2) picks for that key.
    EXPECT_EQ(record.partition, pulsestream::kafka::partition_for_key(*record.key, 8));
    const auto value = json::parse(record.value);
    EXPECT_EQ(value["clientId"], std::string(dev_client_id));
    EXPECT_EQ(value["deviceId"], "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    EXPECT_EQ(value["eventType"], "temperature");
    EXPECT_EQ(value["value"], 21.5);
    EXPECT_EQ(value["timestamp"], timestamp);
    EXPECT_EQ(value["metadata"], json::parse(R"({"room":"lab","floor":2,"ok":true})"));  // defect 8
    EXPECT_TRUE(value["receivedAt"].is_number_integer());
    EXPECT_FALSE(value.contains("extra"));
}

TEST_F(gateway_api, a_batch_is_acknowledged_with_deterministic_ids) {
    const auto key = fresh_uuid();
    const auto own_id = fresh_uuid();
    const std::string body = "[" + event_json(fresh_uuid()) + "," +
                             R"({"id":")" + own_id + R"(",)" + event_json(fresh_uuid()).substr(1) +
                             "," + event_json(fresh_uuid()) + "]";
    const auto res = post(body, key);
    ASSERT_EQ(res.result_int(), 202) << res.body();
    const auto data = body_of(res)["data"];
    EXPECT_EQ(data["accepted"], 3);
    ASSERT_EQ(data["ids"].size(), 3u);
    const auto key_uuid = *pulsestream::core::parse_uuid(key);
    EXPECT_EQ(data["ids"][0], pulsestream::core::to_string(pulsestream::core::batch_item_id(key_uuid, 0)));
    EXPECT_EQ(data["ids"][1], own_id);
    EXPECT_EQ(data["ids"][2], pulsestream::core::to_string(pulsestream::core::batch_item_id(key_uuid, 2)));
    records_with_id(data["ids"][2], 1);
}

TEST_F(gateway_api, missing_and_unknown_api_keys_are_401) {
    expect_error(post(event_json(fresh_uuid()), fresh_uuid(), ""), 401, "missing_api_key");
    expect_error(post(event_json(fresh_uuid()), fresh_uuid(), "ps_live_no_such_key"), 401,
                 "invalid_api_key");
}

TEST_F(gateway_api, a_deactivated_key_is_401_api_key_deactivated) {
    const std::string key = "ps_live_deactivated_key_for_test";
    {
        pqxx::connection conn(stack_->postgres().url());
        pqxx::work tx(conn);
        tx.exec_params(
            "INSERT INTO clients (name, api_key_hash, api_key_prefix, active) VALUES ('off', $1, "
            "'ps_live_', false)",
            pulsestream::core::sha256_hex(key));
        tx.commit();
    }
    expect_error(post(event_json(fresh_uuid()), fresh_uuid(), key), 401, "api_key_deactivated");
}

TEST_F(gateway_api, auth_is_decided_from_headers_before_the_body_is_read) {
    http_client client(stack_->port());
    // A declared body far over the limit: 401 must still come first (DESIGN.md §10 order).
    client.write_raw("POST /v1/events HTTP/1.1\r\nHost: x\r\nx-api-key: wrong\r\n"
                     "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n");
    const auto res = client.receive();
    expect_error(res, 401, "invalid_api_key");
    EXPECT_TRUE(client.closed_by_server());
}

TEST_F(gateway_api, header_and_idle_timeouts_are_the_configured_ones) {
    http_client slowloris(stack_->port());
    slowloris.write_raw("POST /v1/events HTTP/1.1\r\nHost: x\r\n");  // never finished
    EXPECT_TRUE(slowloris.closed_by_server_within(5s));  // HTTP_HEADER_TIMEOUT_MS 1000, not 10 s

    http_client idle(stack_->port());
    EXPECT_EQ(idle.send(make_request(bhttp::verb::get, "/healthz")).result_int(), 200);
    EXPECT_TRUE(idle.closed_by_server_within(8s));  // HTTP_IDLE_TIMEOUT_MS 2000, not 60 s
}

TEST_F(gateway_api, idempotency_key_is_required_and_must_be_a_uuid) {
    expect_error(post(event_json(fresh_uuid()), ""), 400, "missing_idempotency_key");
    expect_error(post(event_json(fresh_uuid()), "not-a-uuid"), 400, "invalid_idempotency_key");
    expect_error(post(event_json(fresh_uuid()), "{" + fresh_uuid() + "}"), 400,
                 "invalid_idempotency_key");
}

TEST_F(gateway_api, non_json_content_and_unknown_encodings_are_415) {
    auto req = ingest_request(event_json(fresh_uuid()), fresh_uuid());
    req.set(bhttp::field::content_type, "text/plain");
    expect_error(http_client(stack_->port()).send(req), 415, "unsupported_media_type");
    auto br = ingest_request(event_json(fresh_uuid()), fresh_uuid());
    br.set(bhttp::field::content_encoding, "br");
    expect_error(http_client(stack_->port()).send(br), 415, "unsupported_media_type");
    // Two lines are one list (RFC 9110 §5.3): "gzip, gzip", refused like the one-line form, not
    // read as one gzip from the first line.
    auto twice = ingest_request(gzip_bytes(event_json(fresh_uuid())), fresh_uuid());
    twice.insert(bhttp::field::content_encoding, "gzip");
    twice.insert(bhttp::field::content_encoding, "gzip");
    expect_error(http_client(stack_->port()).send(twice), 415, "unsupported_media_type");
}

TEST_F(gateway_api, a_key_header_given_twice_is_400_not_a_guess) {
    auto keys = ingest_request(event_json(fresh_uuid()), fresh_uuid());
    keys.insert("x-api-key", "ps_live_someone_else");
    expect_error(http_client(stack_->port()).send(keys), 400, "malformed_request");
    auto idempotency = ingest_request(event_json(fresh_uuid()), fresh_uuid());
    idempotency.insert("Idempotency-Key", fresh_uuid());
    expect_error(http_client(stack_->port()).send(idempotency), 400, "malformed_request");
}

TEST_F(gateway_api, a_body_that_breaks_off_is_400_malformed_request_not_invalid_json) {
    const auto body = event_json(fresh_uuid());
    http_client client(stack_->port());
    client.write_raw("POST /v1/events HTTP/1.1\r\nHost: x\r\nx-api-key: " + std::string(dev_api_key) +
                     "\r\nIdempotency-Key: " + fresh_uuid() +
                     "\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size() + 10) + "\r\n\r\n" + body);
    client.shutdown_send();
    expect_error(client.receive(), 400, "malformed_request");
}

TEST_F(gateway_api, invalid_json_and_invalid_events_are_400_with_field_paths) {
    expect_error(post("{not json", fresh_uuid()), 400, "invalid_json");
    const auto res = post("[" + event_json(fresh_uuid()) + R"(,{"deviceId":"nope","eventType":"x","value":"1","timestamp":1}])",
                          fresh_uuid());
    expect_error(res, 400, "validation_failed");
    std::set<std::string> fields;
    const auto body = body_of(res);
    for (const auto& e : body["errors"]) fields.insert(e["field"].get<std::string>());
    EXPECT_TRUE(fields.count("1.deviceId")) << res.body();
    EXPECT_TRUE(fields.count("1.eventType"));
    EXPECT_TRUE(fields.count("1.value"));
    EXPECT_TRUE(fields.count("1.timestamp"));
    EXPECT_FALSE(fields.count("0.deviceId"));
}

TEST_F(gateway_api, oversized_bodies_and_batches_are_413) {
    expect_error(post(std::string(70 * 1024, ' ') + event_json(fresh_uuid()), fresh_uuid()), 413,
                 "payload_too_large");
    std::string batch = "[";
    for (int i = 0; i < 101; ++i) batch += (i ? "," : "") + event_json(fresh_uuid());
    expect_error(post(batch + "]", fresh_uuid()), 413, "payload_too_large");
}


TEST_F(gateway_api, gzip_bodies_are_the_same_request_as_plain_ones_and_bounded_after_inflation) {
    const auto key = fresh_uuid();
    const auto body = event_json(fresh_uuid());
    auto gz = ingest_request(gzip_bytes(body), key);
    gz.set(bhttp::field::content_encoding, "gzip");
    const auto first = http_client(stack_->port()).send(gz);
    ASSERT_EQ(first.result_int(), 202) << first.body();
    const auto plain = post(body, key);  // same decompressed bytes: same fingerprint → replay
    EXPECT_EQ(plain.result_int(), 202);
    EXPECT_EQ(plain["Idempotent-Replayed"], "true");
    EXPECT_EQ(plain.body(), first.body());

    // A small gzip body that inflates past MAX_BODY_BYTES (64 KiB here).
    auto bomb = ingest_request(gzip_bytes(std::string(200 * 1024, ' ') + body), fresh_uuid());
    bomb.set(bhttp::field::content_encoding, "gzip");
    expect_error(http_client(stack_->port()).send(bomb), 413, "payload_too_large");
}

TEST_F(gateway_api, a_retry_is_replayed_byte_for_byte_and_case_variants_are_one_key) {
    const auto key = fresh_uuid();
    const auto body = event_json(fresh_uuid());
    const auto first = post(body, key);
    ASSERT_EQ(first.result_int(), 202);
    EXPECT_EQ(first.count("Idempotent-Replayed"), 0u);
    std::string upper = key;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const auto again = post(body, upper);  // defect 5: case variants bypassed dedup
    EXPECT_EQ(again.result_int(), 202);
    EXPECT_EQ(again["Idempotent-Replayed"], "true");
    EXPECT_EQ(again.body(), first.body());
    records_with_id(key, 1);  // produced once
}

TEST_F(gateway_api, redis_keeps_no_202_body_and_replays_rebuild_it_byte_for_byte) {
    gateway_redis redis(*pulsestream::redis::parse_redis_url(stack_->redis().url()), 1);
    const auto record_name = [](const std::string& key) {
        return "idem:" + std::string(dev_client_id) + ":" + key;
    };
    std::string batch = "[";
    for (int i = 0; i < 3; ++i) batch += (i ? "," : "") + event_json(fresh_uuid());
    batch += "]";
    for (const auto& body : {event_json(fresh_uuid()), batch}) {
        const auto key = fresh_uuid();
        const auto first = post(body, key);
        ASSERT_EQ(first.result_int(), 202) << first.body();
        // Done and its fingerprint, nothing else: the bytes of the 202 are not kept.
        EXPECT_EQ(redis.command({"GET", record_name(key)}).str,
                  "D:" + pulsestream::core::body_fingerprint(body) + ":");
        const auto again = post(body, key);
        EXPECT_EQ(again.result_int(), 202);
        EXPECT_EQ(again["Idempotent-Replayed"], "true");
        EXPECT_EQ(again.body(), first.body());
    }

    // A record that carries its 202 (as gateways that stored the body wrote it) is answered with
    // that body as stored.
    const auto key = fresh_uuid();
    const auto body = event_json(fresh_uuid());
    const std::string stored = R"({"status":"success","message":"stored by an earlier gateway"})";
    redis.command({"SET", record_name(key),
                   "D:" + pulsestream::core::body_fingerprint(body) + ":" + stored, "EX", "60"});
    const auto replay = post(body, key);
    EXPECT_EQ(replay.result_int(), 202);
    EXPECT_EQ(replay["Idempotent-Replayed"], "true");
    EXPECT_EQ(replay.body(), stored);
}

TEST_F(gateway_api, a_reused_key_with_another_body_is_422) {
    const auto key = fresh_uuid();
    ASSERT_EQ(post(event_json(fresh_uuid()), key).result_int(), 202);
    expect_error(post(event_json(fresh_uuid()), key), 422, "idempotency_key_reused");
}

TEST_F(gateway_api, a_corrected_body_after_a_400_is_accepted_with_the_same_key) {
    // Defect 5: the original cached 4xx responses for 24 h.
    const auto key = fresh_uuid();
    expect_error(post(R"({"deviceId":"bad"})", key), 400, "validation_failed");
    EXPECT_EQ(post(event_json(fresh_uuid()), key).result_int(), 202);
}

TEST_F(gateway_api, keys_are_scoped_per_client) {
    // Defect 5: the same Idempotency-Key from another tenant is another request.
    const std::string other_key = "ps_live_second_tenant_key_123";
    {
        pqxx::connection conn(stack_->postgres().url());
        pqxx::work tx(conn);
        tx.exec_params("INSERT INTO clients (name, api_key_hash, api_key_prefix) VALUES ('second', $1, 'ps_live_')",
                       pulsestream::core::sha256_hex(other_key));
        tx.commit();
    }
    const auto key = fresh_uuid();
    const auto body = event_json(fresh_uuid());
    ASSERT_EQ(post(body, key).result_int(), 202);
    const auto other = post(body, key, other_key);
    EXPECT_EQ(other.result_int(), 202);
    EXPECT_EQ(other.count("Idempotent-Replayed"), 0u);
}

TEST_F(gateway_api, fifty_parallel_requests_with_one_key_give_exactly_one_202) {
    // Defect 3/4: a slow broker must not let two requests with one key through, and the race
    // between taking the lock and reading it must never answer 500.
    stack_->kafka().set_rtt(-1, 300);
    const auto key = fresh_uuid();
    const auto body = event_json(fresh_uuid());
    std::vector<std::future<http_client::response>> responses;
    for (int i = 0; i < 50; ++i) {
        responses.push_back(std::async(std::launch::async, [&] { return post(body, key); }));
    }
    int fresh = 0, replayed = 0, conflicts = 0;
    for (auto& f : responses) {
        const auto res = f.get();
        if (res.result_int() == 202) {
            (res.count("Idempotent-Replayed") ? replayed : fresh)++;
        } else {
            expect_error(res, 409, "idempotency_in_progress");
            EXPECT_EQ(res[bhttp::field::retry_after], "1");
            ++conflicts;
        }
    }
    stack_->kafka().set_rtt(-1, 0);
    EXPECT_EQ(fresh, 1);
    EXPECT_GT(conflicts, 0);
    EXPECT_EQ(fresh + replayed + conflicts, 50);
    const auto after = post(body, key);
    EXPECT_EQ(after.result_int(), 202);
    EXPECT_EQ(after["Idempotent-Replayed"], "true");
    records_with_id(key, 1);
}

TEST_F(gateway_api, unknown_routes_and_methods_are_404_and_405) {
    http_client client(stack_->port());
    expect_error(client.send(make_request(bhttp::verb::get, "/v1/nothing")), 404, "not_found");
    const auto res = client.send(make_request(bhttp::verb::get, "/v1/events"));
    expect_error(res, 405, "method_not_allowed");
    EXPECT_EQ(res[bhttp::field::allow], "POST");
}

TEST_F(gateway_api, health_readiness_and_metrics_with_route_labels_only) {
    http_client client(stack_->port());
    const auto health = client.send(make_request(bhttp::verb::get, "/health"));
    EXPECT_EQ(health.result_int(), 200);
    EXPECT_EQ(body_of(health)["status"], "UP");
    EXPECT_EQ(client.send(make_request(bhttp::verb::get, "/healthz")).result_int(), 200);
    const auto ready = client.send(make_request(bhttp::verb::get, "/readyz"));
    EXPECT_EQ(ready.result_int(), 200) << ready.body();
    EXPECT_EQ(body_of(ready), json::parse(R"({"status":"ready","draining":false,"broker":"ok",
                                              "redis":"ok","database":"ok"})"));
    client.send(make_request(bhttp::verb::get, "/some/random/path/4711"));
    const auto metrics = client.send(make_request(bhttp::verb::get, "/metrics"));
    EXPECT_EQ(metrics.result_int(), 200);
    const auto& text = metrics.body();
    EXPECT_NE(text.find(R"(http_requests_total{method="POST",route="/v1/events",status_code="202"})"),
              std::string::npos);
    EXPECT_NE(text.find("http_active_requests 1"), std::string::npos);  // this very request
    EXPECT_NE(text.find("pulsestream_events_accepted_total"), std::string::npos);
    EXPECT_EQ(text.find("4711"), std::string::npos);  // defect 9: no raw paths as labels
}

}  // namespace
