#include "pulsestream/gateway/ingest.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <charconv>

#include "pulsestream/core/sha256.hpp"
#include "pulsestream/core/uuid.hpp"
#include "pulsestream/core/validate.hpp"
#include "pulsestream/gateway/auth.hpp"
#include "pulsestream/gateway/idempotency.hpp"
#include "pulsestream/gateway/rate_limiter.hpp"
#include "pulsestream/gateway/stream_publisher.hpp"
#include "pulsestream/http/field_value.hpp"
#include "pulsestream/http/gzip.hpp"
#include "pulsestream/http/reply.hpp"
#include "pulsestream/kafka/producer.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"

namespace pulsestream::gateway {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using core::errc;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::int64_t epoch_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string_view header(const http::request& req, std::string_view name) {
    const auto value = req[boost::beast::string_view(name.data(), name.size())];
    return {value.data(), value.size()};
}

/// `application/json`, optionally with parameters (`; charset=utf-8`), in any case.
bool is_json_media_type(std::string_view content_type) {
    const auto media_type = http::trim_ows(content_type.substr(0, content_type.find(';')));
    return boost::beast::iequals(media_type, "application/json");
}

enum class body_encoding { identity, gzip, unsupported };

body_encoding encoding_of(std::string_view content_encoding) {
    const auto value = http::trim_ows(content_encoding);
    if (value.empty() || boost::beast::iequals(value, "identity")) return body_encoding::identity;
    if (boost::beast::iequals(value, "gzip")) return body_encoding::gzip;
    return body_encoding::unsupported;
}

/// Every Content-Encoding line counts: repeated lines are one list (RFC 9110 §5.3), so two
/// lines of `gzip` are `gzip, gzip`, which is refused like the one-line form.
body_encoding encoding_of(const http::request& req) {
    auto result = body_encoding::identity;
    auto [line, end] = req.equal_range(bhttp::field::content_encoding);
    for (; line != end; ++line) {
        const auto value = line->value();
        const auto encoding = encoding_of(std::string_view(value.data(), value.size()));
        if (encoding == body_encoding::identity) continue;
        if (encoding == body_encoding::unsupported || result == body_encoding::gzip) {
            return body_encoding::unsupported;
        }
        result = body_encoding::gzip;
    }
    return result;
}

void append_uuid(std::string& out, const core::uuid& id) {
    const auto at = out.size();
    out.resize(at + 36);
    core::write_uuid(id, out.data() + at);
}

/// The 202 body: the original's for one event; `{"accepted":N,"ids":[...]}` for a batch.
/// Built in one buffer, without temporaries.
std::string accepted_body(const std::vector<core::event>& events, bool is_batch) {
    constexpr std::string_view head =
        R"({"status":"success","message":"Event accepted for processing","data":)";
    std::string body;
    if (!is_batch) {
        const auto& e = events.front();
        body.reserve(head.size() + 128);
        body += head;
        body += R"({"id":")";
        append_uuid(body, e.id);
        body += R"(","deviceId":")";
        append_uuid(body, e.device_id);
        body += R"(","timestamp":)";
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, e.timestamp_ms).ptr;
        body.append(digits, end);
        body += "}}";
        return body;
    }
    body.reserve(head.size() + 32 + events.size() * 39);
    body += head;
    body += R"({"accepted":)";
    body += std::to_string(events.size());
    body += R"(,"ids":[)";
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (i != 0) body += ',';
        body += '"';
        append_uuid(body, events[i].id);
        body += '"';
    }
    body += "]}}";
    return body;
}

/// One record per event, keyed by its device (DESIGN.md §5).
std::vector<kafka::message> kafka_messages(const std::vector<core::event>& events) {
    std::vector<kafka::message> messages;
    messages.reserve(events.size());
    for (const auto& e : events) {
        messages.push_back(kafka::message{core::to_string(e.device_id), core::to_kafka_value(e), {}});
    }
    return messages;
}

/// The stream message: a JSON array of the records' values (DESIGN.md §10).
std::string stream_message_of(const std::vector<kafka::message>& messages) {
    std::size_t size = 2;
    for (const auto& m : messages) size += m.payload.size() + 1;
    std::string out;
    out.reserve(size);
    out += '[';
    for (const auto& m : messages) {
        if (out.size() > 1) out += ',';
        out += m.payload;
    }
    out += ']';
    return out;
}

http::response accepted_response(std::string body) {
    return http::json_response(202, std::move(body));
}

/// The 202 of a request accepted before, for a retry with the same key and body bytes. Those
/// make the same events with the same ids, so the body is rebuilt instead of kept in Redis for
/// IDEMPOTENCY_TTL_S, where it was most of an accepted request's record (docs/BENCHMARKS.md).
/// A record that still carries a body (written by a gateway that stored it) is answered with it.
http::response replayed_response(const idempotency_begin& claim,
                                 const core::parsed_request& request, const core::uuid& key,
                                 const core::uuid& client, std::int64_t received_at) {
    auto res = accepted_response(
        claim.stored_body.empty()
            ? accepted_body(core::assign_ids(request, key, client, received_at), request.is_batch)
            : claim.stored_body);
    res.set("Idempotent-Replayed", "true");
    return res;
}

}  // namespace

ingest::ingest(ingest_options options, authenticator& auth, idempotency_store& idempotency,
               rate_limiter& limiter, kafka::producer& producer, stream_publisher& stream,
               metrics::gateway_metrics& metrics)
    : options_(std::move(options)),
      auth_(auth),
      idempotency_(idempotency),
      limiter_(limiter),
      producer_(producer),
      stream_(stream),
      metrics_(metrics) {}

http::response ingest::reject(errc code, std::span<const core::field_error> errors,
                              unsigned retry_after_s) {
    metrics_.request_rejected(code);
    return http::error_response(code, errors, retry_after_s);
}

net::awaitable<http::response> ingest::operator()(http::exchange& ex) {
    const auto& req = ex.message();

    const auto api_key = header(req, "x-api-key");
    if (api_key.empty()) co_return reject(errc::missing_api_key);
    const auto client = co_await auth_.authenticate(api_key);
    if (!client) co_return reject(static_cast<errc>(client.error().value()));

    const auto raw_key = http::trim_ows(header(req, "idempotency-key"));
    if (raw_key.empty()) co_return reject(errc::missing_idempotency_key);
    const auto idempotency_key = core::parse_uuid(raw_key);
    if (!idempotency_key) co_return reject(errc::invalid_idempotency_key);

    if (!is_json_media_type(header(req, "content-type"))) {
        co_return reject(errc::unsupported_media_type);
    }
    const auto encoding = encoding_of(req);
    if (encoding == body_encoding::unsupported) co_return reject(errc::unsupported_media_type);

    if (const auto ec = co_await ex.read_body()) {
        co_return reject(http::exchange::body_failure(ec));
    }
    std::string body;
    if (encoding == body_encoding::gzip) {
        auto inflated = http::gunzip(ex.body(), options_.max_body_bytes);
        if (!inflated) co_return reject(static_cast<errc>(inflated.error().value()));
        body = std::move(*inflated);
    } else {
        body = ex.take_body();
    }

    const auto received_at = epoch_ms_now();
    auto parsed = core::parse_events(body, options_.rules, received_at);
    if (!parsed) co_return reject(parsed.error().code, parsed.error().errors);
    const bool is_batch = parsed->is_batch;

    const auto fingerprint = core::body_fingerprint(body);
    const auto claim = co_await idempotency_.begin(client->id, *idempotency_key, fingerprint);
    switch (claim.state) {
        case idempotency_state::replay:
            co_return replayed_response(claim, *parsed, *idempotency_key, client->id, received_at);
        case idempotency_state::in_progress: co_return reject(errc::idempotency_in_progress);
        case idempotency_state::reused: co_return reject(errc::idempotency_key_reused);
        case idempotency_state::acquired:
        // Also when Redis did not answer in time: the lock may still land there late, so it is
        // completed or released like our own (both only touch a lock with our fingerprint).
        case idempotency_state::unavailable: break;
    }

    auto events = core::assign_ids(std::move(*parsed), *idempotency_key, client->id, received_at);
    if (const auto wait_s = limiter_.try_take(client->id, client->rate_limit_per_sec, events.size())) {
        co_await idempotency_.release(client->id, *idempotency_key, fingerprint);
        co_return reject(errc::rate_limited, {}, wait_s);
    }

    // The Kafka values, serialised once: each record's payload, and together the stream
    // message published after the ack.
    auto messages = kafka_messages(events);
    auto stream_message = stream_message_of(messages);

    if (const auto ec = co_await produce(std::move(messages))) {
        co_await idempotency_.release(client->id, *idempotency_key, fingerprint);
        co_return reject(errc::broker_unavailable);
    }
    metrics_.events_accepted(events.size());

    // Publish first, not awaited, then record the 202 (without its body: a replay rebuilds it):
    // both commands leave in one write to Redis and their replies come back in one read.
    stream_.publish(co_await net::this_coro::executor, client->id, std::move(stream_message));
    co_await idempotency_.complete(client->id, *idempotency_key, fingerprint, {},
                                   claim.locked_at);
    co_return accepted_response(accepted_body(events, is_batch));
}

/// Produces every event keyed by its device and waits for all acks, or for the gateway's own
/// deadline: librdkafka would keep retrying for message.timeout.ms, far longer than a client
/// should wait (defect 10). A late ack after the deadline is harmless: the request was answered
/// 503, is never published to the stream, and a retry has the same event ids.
net::awaitable<boost::system::error_code> ingest::produce(std::vector<kafka::message> messages) {
    metrics_.producer_queue_depth(producer_.queue_depth());

    // The deadline is the producer's (its poll thread watches it): no timer and no racing
    // coroutines per request, which cost more than the rest of the produce.
    const auto started = std::chrono::steady_clock::now();
    const auto [ec, deliveries] = co_await producer_.async_produce_all(
        options_.topic, std::move(messages), options_.produce_timeout, use_tuple);
    if (ec) {
        outage_.failed(ec.message());
    } else {
        metrics_.broker_ack(std::chrono::steady_clock::now() - started);
        outage_.acknowledged();
    }
    co_return ec;
}

}  // namespace pulsestream::gateway
