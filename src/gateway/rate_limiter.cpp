#include "pulsestream/gateway/rate_limiter.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <list>
#include <mutex>
#include <unordered_map>

namespace pulsestream::gateway {

namespace {

// Sharded so io threads taking tokens for different clients rarely meet on one mutex.
constexpr std::size_t shard_count = 16;

struct bucket {
    core::uuid client;
    std::uint32_t rate = 0;  // tokens per second; also the capacity
    double tokens = 0;       // negative while a batch larger than the capacity is paid off
    rate_limiter::clock::time_point updated{};
};

// Refills continuously since the last update, never above the capacity.
void refill(bucket& b, rate_limiter::clock::time_point now) {
    if (now > b.updated) {
        const double elapsed = std::chrono::duration<double>(now - b.updated).count();
        b.tokens = std::min<double>(b.rate, b.tokens + elapsed * b.rate);
        b.updated = now;
    }
}

// Whole seconds until `needed` tokens are there, at least 1. The epsilon keeps float noise
// (9.9999999 tokens of 10) from adding a second.
unsigned seconds_until(const bucket& b, double needed) {
    const double seconds = (needed - b.tokens) / b.rate;
    const double whole = std::ceil(seconds - 1e-9);
    return static_cast<unsigned>(std::max(1.0, whole));
}

unsigned take(bucket& b, std::size_t cost, rate_limiter::clock::time_point now) {
    refill(b, now);
    const double wanted = static_cast<double>(cost);
    const double capacity = b.rate;
    if (wanted <= capacity) {
        if (b.tokens + 1e-9 >= wanted) {
            b.tokens -= wanted;
            return 0;
        }
        return seconds_until(b, wanted);
    }
    // Larger than the bucket can ever hold: admit it on a full bucket and let the debt delay
    // whatever comes next, so the batch costs its full price without being refused forever.
    if (b.tokens + 1e-9 >= capacity) {
        b.tokens -= wanted;
        return 0;
    }
    return seconds_until(b, capacity);
}

// One shard: buckets in least-recently-used order, so when the shard is full the bucket idle
// longest goes. An evicted bucket has usually refilled, which is what a new one starts with.
class shard {
public:
    explicit shard(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

    unsigned try_take(const core::uuid& client, std::uint32_t rate, std::size_t cost,
                      rate_limiter::clock::time_point now) {
        std::lock_guard lock(mutex_);
        bucket& b = find_or_add(client, rate, now);
        if (b.rate != rate) {
            // The client's limit changed: keep its balance, cap it to the new capacity.
            refill(b, now);
            b.rate = rate;
            b.tokens = std::min<double>(b.tokens, rate);
        }
        return take(b, cost, now);
    }

private:
    bucket& find_or_add(const core::uuid& client, std::uint32_t rate,
                        rate_limiter::clock::time_point now) {
        if (const auto it = index_.find(client); it != index_.end()) {
            lru_.splice(lru_.begin(), lru_, it->second);
            return lru_.front();
        }
        if (index_.size() >= capacity_) {
            index_.erase(lru_.back().client);
            lru_.pop_back();
        }
        lru_.push_front(bucket{client, rate, static_cast<double>(rate), now});
        index_.emplace(client, lru_.begin());
        return lru_.front();
    }

    std::mutex mutex_;
    std::size_t capacity_;
    std::list<bucket> lru_;
    std::unordered_map<core::uuid, std::list<bucket>::iterator> index_;
};

}  // namespace

struct rate_limiter::impl {
    impl(std::uint32_t default_rate, std::size_t max_clients)
        : default_per_sec(default_rate),
          shards{make_shards(std::max<std::size_t>(max_clients / shard_count, 1))} {}

    static std::array<std::unique_ptr<shard>, shard_count> make_shards(std::size_t each) {
        std::array<std::unique_ptr<shard>, shard_count> result;
        for (auto& s : result) s = std::make_unique<shard>(each);
        return result;
    }

    std::uint32_t default_per_sec;
    std::array<std::unique_ptr<shard>, shard_count> shards;
};

rate_limiter::rate_limiter(std::uint32_t default_per_sec, std::size_t max_clients)
    : impl_(std::make_unique<impl>(default_per_sec, max_clients)) {}

rate_limiter::~rate_limiter() = default;

unsigned rate_limiter::try_take(const core::uuid& client, std::optional<std::uint32_t> client_rate,
                                std::size_t cost, clock::time_point now) {
    const std::uint32_t rate = client_rate.value_or(impl_->default_per_sec);
    if (rate == 0 || cost == 0) return 0;
    const std::size_t index = std::hash<core::uuid>{}(client) % shard_count;
    return impl_->shards[index]->try_take(client, rate, cost, now);
}

}  // namespace pulsestream::gateway
