#include "pulsestream/gateway/auth.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/except>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/core/sha256.hpp"
#include "pulsestream/gateway/redis_clients.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"
#include "pulsestream/pg/blocking_pool.hpp"
#include "pulsestream/pg/client_store.hpp"

namespace pulsestream::gateway {

namespace {

namespace net = boost::asio;
using clock = std::chrono::steady_clock;
using metrics::auth_layer;

// PostgreSQL lookups waiting at once (distinct keys). Past it, a spray of unknown keys while
// PostgreSQL is slow is refused at once instead of queueing without bound on its few threads.
constexpr std::size_t max_database_lookups = 1024;
constexpr std::size_t cache_shards = 16;

enum class key_status { active, deactivated, unknown };

/// What is known about one key hash: the answer every cache layer stores.
struct key_answer {
    key_status status = key_status::unknown;
    client_identity client{};
};

boost::system::result<client_identity> to_result(const key_answer& answer) {
    switch (answer.status) {
        case key_status::active:
            return answer.client;
        case key_status::deactivated:
            return core::make_error_code(core::errc::api_key_deactivated);
        case key_status::unknown:
            break;
    }
    return core::make_error_code(core::errc::invalid_api_key);
}

// Known, active keys are cached long; unknown and deactivated ones only briefly, so a key that
// is created or re-activated works soon even if its invalidation message was lost.
std::chrono::seconds ttl_of(const key_answer& answer, const auth_options& options) {
    return std::max(std::chrono::seconds(1),
                    answer.status == key_status::active ? options.cache_ttl : options.negative_ttl);
}

key_answer from_record(const std::optional<pg::client_record>& record) {
    if (!record) return {};
    return key_answer{record->active ? key_status::active : key_status::deactivated,
                      client_identity{record->id, record->rate_limit_per_sec}};
}

// Redis value: {"unknown":true} or {"id":"…","active":true,"rate_limit_per_sec":null}.
std::string to_redis_value(const key_answer& answer) {
    if (answer.status == key_status::unknown) return R"({"unknown":true})";
    nlohmann::json value{{"id", core::to_string(answer.client.id)},
                         {"active", answer.status == key_status::active},
                         {"rate_limit_per_sec", nullptr}};
    if (answer.client.rate_limit_per_sec) {
        value["rate_limit_per_sec"] = *answer.client.rate_limit_per_sec;
    }
    return value.dump();
}

// Anything unexpected reads as a miss: PostgreSQL answers and the value is written again.
std::optional<key_answer> from_redis_value(std::string_view text) {
    const auto value = nlohmann::json::parse(text, nullptr, false);
    if (!value.is_object()) return std::nullopt;
    if (const auto it = value.find("unknown"); it != value.end() && it->is_boolean() && *it) {
        return key_answer{};
    }
    const auto id = value.find("id");
    const auto active = value.find("active");
    const auto rate = value.find("rate_limit_per_sec");
    if (id == value.end() || !id->is_string() || active == value.end() || !active->is_boolean()) {
        return std::nullopt;
    }
    const auto uuid = core::parse_uuid(id->get_ref<const std::string&>());
    if (!uuid) return std::nullopt;
    key_answer answer{active->get<bool>() ? key_status::active : key_status::deactivated,
                      client_identity{*uuid, std::nullopt}};
    if (rate != value.end() && rate->is_number_unsigned()) {
        answer.client.rate_limit_per_sec = rate->get<std::uint32_t>();
    }
    return answer;
}

std::string redis_key(std::string_view hash) {
    std::string key = "auth:";
    key += hash;
    return key;
}

// A PostgreSQL outage would otherwise log once per request.
void warn_throttled(std::string_view what) {
    static std::atomic<clock::rep> last{0};
    const auto now = clock::now().time_since_epoch().count();
    auto previous = last.load(std::memory_order_relaxed);
    const auto second = std::chrono::duration_cast<clock::duration>(std::chrono::seconds(1));
    if (now - previous < second.count()) return;
    if (last.compare_exchange_strong(previous, now, std::memory_order_relaxed)) {
        spdlog::warn("auth: {}", what);
    }
}

/// Bounded in-process cache: sharded LRU lists of key hashes. Expired entries stay until they
/// are evicted or replaced, so they can still answer when Redis and PostgreSQL are both down.
class process_cache {
public:
    struct hit {
        key_answer answer;
        bool fresh = false;
    };

    explicit process_cache(std::size_t capacity) {
        const std::size_t each =
            capacity == 0 ? 0 : std::max<std::size_t>(capacity / cache_shards, 1);
        for (auto& s : shards_) s.capacity = each;
    }

    std::optional<hit> get(const std::string& hash, clock::time_point now) {
        auto& s = shard_of(hash);
        std::lock_guard lock(s.mutex);
        const auto it = s.index.find(hash);
        if (it == s.index.end()) return std::nullopt;
        s.lru.splice(s.lru.begin(), s.lru, it->second);
        return hit{it->second->answer, now < it->second->expires};
    }

    void put(const std::string& hash, const key_answer& answer, clock::time_point expires) {
        auto& s = shard_of(hash);
        std::lock_guard lock(s.mutex);
        if (s.capacity == 0) return;
        if (const auto it = s.index.find(hash); it != s.index.end()) {
            it->second->answer = answer;
            it->second->expires = expires;
            s.lru.splice(s.lru.begin(), s.lru, it->second);
            return;
        }
        if (s.index.size() >= s.capacity) {
            s.index.erase(s.lru.back().hash);
            s.lru.pop_back();
        }
        s.lru.push_front(entry{hash, answer, expires});
        s.index.emplace(hash, s.lru.begin());
    }

    void erase(const std::string& hash) {
        auto& s = shard_of(hash);
        std::lock_guard lock(s.mutex);
        if (const auto it = s.index.find(hash); it != s.index.end()) {
            s.lru.erase(it->second);
            s.index.erase(it);
        }
    }

private:
    struct entry {
        std::string hash;
        key_answer answer;
        clock::time_point expires;
    };
    struct shard {
        std::mutex mutex;
        std::size_t capacity = 0;
        std::list<entry> lru;
        std::unordered_map<std::string, std::list<entry>::iterator> index;
    };

    shard& shard_of(const std::string& hash) {
        return shards_[std::hash<std::string>{}(hash) % cache_shards];
    }

    std::array<shard, cache_shards> shards_;
};

/// One PostgreSQL query that every request missing the same key at the same time waits for.
struct database_lookup {
    std::mutex mutex;
    bool finished = false;
    std::optional<key_answer> answer;  // empty: PostgreSQL failed
    // One timer per waiting request, on that request's io_context; finishing cancels them.
    std::vector<std::shared_ptr<net::steady_timer>> waiters;
};

/// What a PostgreSQL query still running after its requests gave up needs: it owns a share of
/// this, so a late answer is harmless (it fills the caches, or is dropped after invalidate()).
struct shared_state {
    shared_state(auth_options opts, pg::blocking_pool& pool)
        : options(opts), cache(opts.process_cache_capacity), database(pool) {}

    void remember(const std::string& hash, const key_answer& answer, std::uint64_t seen) {
        // An invalidate() since the lookup began may have dropped exactly this answer.
        if (generation.load() != seen) return;
        cache.put(hash, answer, clock::now() + ttl_of(answer, options));
    }

    void finish(const std::string& hash, const std::shared_ptr<database_lookup>& lookup,
                std::optional<key_answer> answer) {
        {
            std::lock_guard lock(lookups_mutex);
            const auto it = lookups.find(hash);
            if (it != lookups.end() && it->second == lookup) lookups.erase(it);
        }
        std::vector<std::shared_ptr<net::steady_timer>> waiters;
        {
            std::lock_guard lock(lookup->mutex);
            lookup->finished = true;
            lookup->answer = std::move(answer);
            waiters.swap(lookup->waiters);
        }
        // A timer belongs to its own io thread: cancel it there.
        for (auto& timer : waiters) {
            auto executor = timer->get_executor();
            net::post(executor, [timer = std::move(timer)] { timer->cancel(); });
        }
    }

    const auth_options options;
    process_cache cache;
    pg::blocking_pool& database;
    std::atomic<std::uint64_t> generation{0};
    std::mutex lookups_mutex;
    std::unordered_map<std::string, std::shared_ptr<database_lookup>> lookups;
};

/// Finishes the lookup however the query coroutine ends, even when its io_context is torn down
/// first, so that no later request joins a lookup nobody will finish.
class lookup_finisher {
public:
    lookup_finisher(std::shared_ptr<shared_state> state, std::string hash,
                    std::shared_ptr<database_lookup> lookup)
        : state_(std::move(state)), hash_(std::move(hash)), lookup_(std::move(lookup)) {}
    lookup_finisher(const lookup_finisher&) = delete;
    lookup_finisher& operator=(const lookup_finisher&) = delete;
    ~lookup_finisher() { state_->finish(hash_, lookup_, std::move(answer)); }

    std::optional<key_answer> answer;

private:
    std::shared_ptr<shared_state> state_;
    std::string hash_;
    std::shared_ptr<database_lookup> lookup_;
};

// Runs detached on the first waiting request's executor; owns everything it touches.
net::awaitable<void> query_database(std::shared_ptr<shared_state> state, std::string hash,
                                    std::shared_ptr<database_lookup> lookup, std::uint64_t seen,
                                    std::shared_ptr<redis::connection> write_back) {
    lookup_finisher finisher(state, hash, std::move(lookup));
    // Captures only a pointer (`hash` lives in this frame until the job is done): g++ 12
    // destroys the temporary closure inside blocking_pool::run's co_await twice (GCC PR 101367),
    // which is harmless only for a trivially destructible job.
    const auto find = [key_hash = &hash](pqxx::connection& conn) {
        return pg::find_client_by_key_hash(conn, *key_hash);
    };
    static_assert(std::is_trivially_destructible_v<decltype(find)>);
    // A pooled connection only learns that PostgreSQL restarted when it is used: the pool drops
    // it and a retry takes the next one or a new one. Dead connections fail at once, and the
    // waiters' deadline bounds the whole anyway.
    constexpr int attempts = 3;
    for (int attempt = 1;; ++attempt) {
        std::string failure;
        try {
            const auto record = co_await state->database.run(find);
            finisher.answer = from_record(record);
            break;
        } catch (const pqxx::broken_connection& e) {
            failure = e.what();
            if (attempt < attempts) continue;
        } catch (const std::exception& e) {
            failure = e.what();
        }
        warn_throttled("PostgreSQL lookup failed: " + failure);
        co_return;
    }
    state->remember(hash, *finisher.answer, seen);
    if (write_back && state->generation.load() == seen) {
        // Fire and forget: the answer is already ours; Redis only saves the next gateway a query.
        std::vector<std::string> command{
            "SET", redis_key(hash), to_redis_value(*finisher.answer), "EX",
            std::to_string(ttl_of(*finisher.answer, state->options).count())};
        write_back->async_command(std::move(command), state->options.redis_deadline,
                                  [](boost::system::error_code, redis::reply) {});
    }
}

}  // namespace

struct authenticator::impl {
    impl(auth_options opts, redis_clients& r, pg::blocking_pool& pool, metrics::gateway_metrics& m)
        : state(std::make_shared<shared_state>(opts, pool)), redis(r), metrics(m) {}

    /// The Redis layer: an answer, or nothing on a miss. `redis_ok` tells a miss from a failure.
    net::awaitable<std::optional<key_answer>> from_redis(const std::string& hash,
                                                         redis::connection& conn, bool& redis_ok);
    /// The PostgreSQL layer, joined with concurrent lookups of the same key and bounded by
    /// database_deadline. Nothing when PostgreSQL failed or did not answer in time.
    /// Counts the database lookup metric when PostgreSQL answered.
    net::awaitable<std::optional<key_answer>> from_database(
        const std::string& hash, std::uint64_t seen, std::shared_ptr<redis::connection> write_back);

    std::shared_ptr<shared_state> state;
    redis_clients& redis;
    metrics::gateway_metrics& metrics;
};

net::awaitable<std::optional<key_answer>> authenticator::impl::from_redis(const std::string& hash,
                                                                          redis::connection& conn,
                                                                          bool& redis_ok) {
    // Built outside the co_await: g++ 12 miscompiles braced lists inside it.
    std::vector<std::string> command{"GET", redis_key(hash)};
    auto [ec, reply] = co_await conn.async_command(
        std::move(command), state->options.redis_deadline, net::as_tuple(net::use_awaitable));
    metrics.redis_breaker_open(!redis.breaker_closed());
    redis_ok = !ec && !reply.is_error();
    if (!redis_ok) {
        metrics.redis_failure();
        co_return std::nullopt;
    }
    std::optional<key_answer> answer;
    if (reply.type == redis::reply::kind::string) answer = from_redis_value(reply.str);
    metrics.auth_lookup(auth_layer::redis, answer.has_value());
    co_return answer;
}

net::awaitable<std::optional<key_answer>> authenticator::impl::from_database(
    const std::string& hash, std::uint64_t seen, std::shared_ptr<redis::connection> write_back) {
    const auto executor = co_await net::this_coro::executor;
    std::shared_ptr<database_lookup> lookup;
    std::optional<process_cache::hit> cached;
    bool first = false;
    {
        std::lock_guard lock(state->lookups_mutex);
        if (const auto it = state->lookups.find(hash); it != state->lookups.end()) {
            lookup = it->second;
        } else {
            // A lookup may have finished while this request waited for Redis. It filled the
            // cache before it left the map, so looking here, under the map's lock, never misses
            // its answer (and never queries PostgreSQL twice for it).
            cached = state->cache.get(hash, clock::now());
            if ((!cached || !cached->fresh) && state->lookups.size() < max_database_lookups) {
                lookup = std::make_shared<database_lookup>();
                state->lookups.emplace(hash, lookup);
                first = true;
            }
        }
    }
    if (cached && cached->fresh) co_return cached->answer;
    if (!lookup) {
        warn_throttled("too many PostgreSQL lookups waiting; refusing more");
        co_return std::nullopt;
    }
    if (first) {
        // Outside the lock: the query may finish (and take the lock) before co_spawn returns.
        net::co_spawn(executor, query_database(state, hash, lookup, seen, std::move(write_back)),
                      net::detached);
    }
    auto timer = std::make_shared<net::steady_timer>(executor, state->options.database_deadline);
    bool finished = false;
    {
        std::lock_guard lock(lookup->mutex);
        finished = lookup->finished;
        if (!finished) lookup->waiters.push_back(timer);
    }
    if (!finished) {
        co_await timer->async_wait(net::as_tuple(net::use_awaitable));
    }
    std::optional<key_answer> answer;
    {
        std::lock_guard lock(lookup->mutex);
        finished = lookup->finished;
        answer = lookup->answer;
    }
    if (!finished) {
        warn_throttled("PostgreSQL did not answer within the deadline");
    } else if (answer) {
        metrics.auth_lookup(auth_layer::database, answer->status != key_status::unknown);
    }
    co_return answer;
}

authenticator::authenticator(auth_options options, redis_clients& redis,
                             pg::blocking_pool& database, metrics::gateway_metrics& metrics)
    : impl_(std::make_unique<impl>(options, redis, database, metrics)) {}

authenticator::~authenticator() = default;

net::awaitable<boost::system::result<client_identity>> authenticator::authenticate(
    std::string_view api_key) {
    // Hashed before anything else: only the hash is ever looked up, stored or logged.
    const std::string hash = core::api_key_hash(api_key);
    auto& state = *impl_->state;
    const auto cached = state.cache.get(hash, clock::now());
    impl_->metrics.auth_lookup(auth_layer::process, cached && cached->fresh);
    if (cached && cached->fresh) co_return to_result(cached->answer);

    const auto seen = state.generation.load();
    const auto executor = co_await net::this_coro::executor;
    auto& conn = impl_->redis.near(executor);
    bool redis_ok = false;
    const auto cached_in_redis = co_await impl_->from_redis(hash, conn, redis_ok);
    if (cached_in_redis) {
        state.remember(hash, *cached_in_redis, seen);
        co_return to_result(*cached_in_redis);
    }

    // Redis missed or failed (fail open): PostgreSQL decides. Only write back to a Redis that
    // just answered; a failing one would only cost another deadline.
    std::shared_ptr<redis::connection> write_back;
    if (redis_ok) write_back = conn.shared_from_this();
    const auto answer = co_await impl_->from_database(hash, seen, std::move(write_back));
    if (answer) co_return to_result(*answer);
    if (cached) {
        // Both stores are unreachable: an expired entry beats refusing a known client.
        co_return to_result(cached->answer);
    }
    co_return core::make_error_code(core::errc::auth_unavailable);
}

void authenticator::invalidate(std::string_view key_sha256_hex) {
    std::string hash(key_sha256_hex);
    std::transform(hash.begin(), hash.end(), hash.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto& state = *impl_->state;
    // Bump first: an answer read before this call can no longer be cached after it.
    state.generation.fetch_add(1);
    state.cache.erase(hash);
    std::lock_guard lock(state.lookups_mutex);
    state.lookups.erase(hash);
}

}  // namespace pulsestream::gateway
