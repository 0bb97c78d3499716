#include "pulsestream/gateway/idempotency.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cstring>

#include "pulsestream/gateway/redis_clients.hpp"
#include "pulsestream/gateway/redis_script.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"
#include "pulsestream/redis/command.hpp"

namespace pulsestream::gateway {

namespace {

// Stored values: "L:{fingerprint}" while a request holds the lock, "D:{fingerprint}:{body}"
// once it is done (the gateway leaves {body} empty and rebuilds its 202 on replay).
// Fingerprints are hex, so the first ':' after the tag ends them.
constexpr std::string_view lock_tag = "L:";
constexpr std::string_view done_tag = "D:";

// Deletes the key only while it still holds exactly our lock: a lock that expired and was taken
// by a retry, or a stored result, must survive our release.
const redis_script& release_script() {
    static const redis_script script(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
        "return 0");
    return script;
}

// Stores the result unless the key holds another request's lock or result (a different
// fingerprint): a request that went on after an `unavailable` begin() must not overwrite a
// result it never saw. ARGV: our lock, our result prefix, the result, its TTL in seconds.
const redis_script& complete_script() {
    static const redis_script script(
        "local v = redis.call('GET', KEYS[1]) "
        "if v == false or v == ARGV[1] or string.sub(v, 1, string.len(ARGV[2])) == ARGV[2] then "
        "redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4]) return 1 end "
        "return 0");
    return script;
}

// Puts another request's value back where complete()'s plain SET replaced it, unless the key
// changed again since. ARGV: our value, theirs, its TTL in seconds.
const redis_script& put_back_script() {
    static const redis_script script(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then "
        "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end "
        "return 0");
    return script;
}

// `idem:{client}:{key}` in a buffer of its own: no allocation on the request path.
class redis_key {
public:
    redis_key(const core::uuid& client, const core::uuid& key) noexcept {
        std::memcpy(text_.data(), "idem:", 5);
        core::write_uuid(client, text_.data() + 5);
        text_[5 + 36] = ':';
        core::write_uuid(key, text_.data() + 5 + 36 + 1);
    }
    [[nodiscard]] std::string_view view() const noexcept { return {text_.data(), text_.size()}; }

private:
    std::array<char, 5 + 36 + 1 + 36> text_{};
};

std::string lock_value(std::string_view fingerprint) {
    std::string value(lock_tag);
    value += fingerprint;
    return value;
}

struct stored_value {
    bool done = false;
    std::string_view fingerprint;
    std::string_view body;
};

std::optional<stored_value> parse_value(std::string_view value) {
    if (value.starts_with(lock_tag)) {
        return stored_value{false, value.substr(lock_tag.size()), {}};
    }
    if (value.starts_with(done_tag)) {
        const auto rest = value.substr(done_tag.size());
        const auto colon = rest.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        return stored_value{true, rest.substr(0, colon), rest.substr(colon + 1)};
    }
    return std::nullopt;
}

std::chrono::seconds at_least_one_second(std::chrono::seconds ttl) {
    return std::max(ttl, std::chrono::seconds(1));
}

}  // namespace

idempotency_store::idempotency_store(idempotency_options options, redis_clients& redis,
                                     metrics::gateway_metrics& metrics)
    : options_(options),
      redis_(redis),
      metrics_(metrics),
      backlog_(redis, idempotency_backlog_options{.deadline = options.deadline}) {}

boost::asio::awaitable<idempotency_begin> idempotency_store::begin(const core::uuid& client,
                                                                   const core::uuid& key,
                                                                   std::string_view fingerprint) {
    const auto executor = co_await boost::asio::this_coro::executor;
    // One atomic step (Redis ≥ 6.2): set the lock if absent, else return what is there. No
    // window between a failed SET NX and a GET in which the value can change (defect 4).
    const redis_key name(client, key);
    const auto lock = lock_value(fingerprint);
    const auto ttl = std::to_string(at_least_one_second(options_.lock_ttl).count());
    auto command = redis::format_command({"SET", name.view(), lock, "NX", "GET", "EX", ttl});
    const auto asked_at = std::chrono::steady_clock::now();
    auto [ec, reply] = co_await redis_.near(executor).async_command(
        std::move(command), options_.deadline, boost::asio::as_tuple(boost::asio::use_awaitable));
    metrics_.redis_breaker_open(!redis_.breaker_closed());
    if (ec || reply.is_error()) {
        metrics_.redis_failure();
        spdlog::debug("idempotency: Redis unavailable ({}), edge dedup skipped",
                      ec ? ec.message() : reply.str);
        co_return idempotency_begin{idempotency_state::unavailable, {}};
    }
    if (reply.is_nil()) co_return idempotency_begin{idempotency_state::acquired, {}, asked_at};

    const auto stored = parse_value(reply.str);
    if (!stored) {
        // Not ours to interpret; behave as if Redis could not tell (storage dedup still holds).
        metrics_.redis_failure();
        spdlog::warn("idempotency: unrecognised value under an idempotency key");
        co_return idempotency_begin{idempotency_state::unavailable, {}};
    }
    if (stored->fingerprint != fingerprint) {
        co_return idempotency_begin{idempotency_state::reused, {}};
    }
    if (!stored->done) {
        metrics_.idempotency_conflict();
        co_return idempotency_begin{idempotency_state::in_progress, {}};
    }
    metrics_.idempotency_replayed();
    co_return idempotency_begin{idempotency_state::replay, std::string(stored->body)};
}

boost::asio::awaitable<void> idempotency_store::complete(
    const core::uuid& client, const core::uuid& key, std::string_view fingerprint,
    std::string_view body, std::optional<std::chrono::steady_clock::time_point> locked_at) {
    std::string value;
    value.reserve(done_tag.size() + fingerprint.size() + 1 + body.size());
    value += done_tag;
    value += fingerprint;
    value += ':';
    value += body;
    const redis_key name(client, key);
    if (lock_is_fresh(locked_at) && co_await replace_own_lock(name.view(), fingerprint, value)) {
        co_return;
    }
    co_await compare_and_store(name.view(), fingerprint, value);
}

bool idempotency_store::lock_is_fresh(
    std::optional<std::chrono::steady_clock::time_point> locked_at) const {
    const auto margin = std::chrono::duration_cast<std::chrono::milliseconds>(
                            at_least_one_second(options_.lock_ttl)) /
                        2;
    return locked_at && std::chrono::steady_clock::now() - *locked_at < margin;
}

boost::asio::awaitable<bool> idempotency_store::replace_own_lock(std::string_view name,
                                                                 std::string_view fingerprint,
                                                                 const std::string& value) {
    const auto executor = co_await boost::asio::this_coro::executor;
    const auto ttl = std::to_string(at_least_one_second(options_.result_ttl).count());
    auto command = redis::format_command({"SET", name, value, "EX", ttl, "XX", "GET"});
    auto [ec, reply] = co_await redis_.near(executor).async_command(
        std::move(command), options_.deadline, boost::asio::as_tuple(boost::asio::use_awaitable));
    metrics_.redis_breaker_open(!redis_.breaker_closed());
    if (ec || reply.is_error()) {
        count_failure(ec, reply.str, "storing the result");
        backlog_.add(complete_script(), complete_call(name, fingerprint, value), executor);
        co_return true;
    }
    if (reply.is_nil()) co_return false;  // XX found no key (deleted or evicted): nothing was set
    const auto previous = parse_value(reply.str);
    if (previous && previous->fingerprint == fingerprint) co_return true;
    spdlog::warn(
        "idempotency: a lock younger than half its TTL was gone and another request's value "
        "stood in its place (a stall of Redis or of this gateway?); putting that value back");
    co_await put_back(name, value, reply.str);
    co_return true;
}

boost::asio::awaitable<void> idempotency_store::put_back(std::string_view name,
                                                         const std::string& ours,
                                                         const std::string& theirs) {
    const auto executor = co_await boost::asio::this_coro::executor;
    const auto previous = parse_value(theirs);
    const auto ttl = (previous && previous->done) ? options_.result_ttl : options_.lock_ttl;
    auto call = put_back_script().call(
        {name, ours, theirs, std::to_string(at_least_one_second(ttl).count())}, 1);
    auto [ec, reply] =
        co_await put_back_script().run(redis_.near(executor), call, options_.deadline);
    metrics_.redis_breaker_open(!redis_.breaker_closed());
    if (ec || reply.is_error()) {
        count_failure(ec, reply.str, "putting back another value");
        backlog_.add(put_back_script(), std::move(call), executor);
    }
}

redis::formatted_command idempotency_store::complete_call(std::string_view name,
                                                          std::string_view fingerprint,
                                                          const std::string& value) const {
    const auto lock = lock_value(fingerprint);
    const auto result_prefix =
        std::string_view(value).substr(0, done_tag.size() + fingerprint.size() + 1);
    const auto ttl = std::to_string(at_least_one_second(options_.result_ttl).count());
    return complete_script().call({name, lock, result_prefix, value, ttl}, 1);
}

boost::asio::awaitable<void> idempotency_store::compare_and_store(std::string_view name,
                                                                  std::string_view fingerprint,
                                                                  const std::string& value) {
    const auto executor = co_await boost::asio::this_coro::executor;
    auto call = complete_call(name, fingerprint, value);
    auto [ec, reply] =
        co_await complete_script().run(redis_.near(executor), call, options_.deadline);
    metrics_.redis_breaker_open(!redis_.breaker_closed());
    // The 202 still goes out; the backlog stores it once Redis answers again, so a retry that
    // finds a lock meanwhile (409) gets the replay afterwards. Storage dedup keeps the event
    // single whatever happens to the key.
    if (ec || reply.is_error()) {
        count_failure(ec, reply.str, "storing the result");
        backlog_.add(complete_script(), std::move(call), executor);
    }
}

void idempotency_store::count_failure(const boost::system::error_code& ec,
                                      const std::string& error_reply, std::string_view what) {
    metrics_.redis_failure();
    spdlog::debug("idempotency: {} failed ({})", what, ec ? ec.message() : error_reply);
}

boost::asio::awaitable<void> idempotency_store::release(const core::uuid& client,
                                                        const core::uuid& key,
                                                        std::string_view fingerprint) {
    const auto executor = co_await boost::asio::this_coro::executor;
    const redis_key name(client, key);
    const auto lock = lock_value(fingerprint);
    auto call = release_script().call({name.view(), lock}, 1);
    auto [ec, reply] =
        co_await release_script().run(redis_.near(executor), call, options_.deadline);
    metrics_.redis_breaker_open(!redis_.breaker_closed());
    // Until the backlog's release lands, a retry gets 409 with Retry-After.
    if (ec || reply.is_error()) {
        count_failure(ec, reply.str, "releasing the lock");
        backlog_.add(release_script(), std::move(call), executor);
    }
}

}  // namespace pulsestream::gateway
