#include "latency.hpp"

#include <algorithm>
#include <cmath>

namespace pulsestream::simulator {
namespace {

constexpr double growth = 1.02;
constexpr std::size_t bucket_count = 1100;  // growth^1100 µs ≈ 2.8e9 µs

std::size_t bucket_of(double us) {
    if (us <= 1.0) {
        return 0;
    }
    const auto index = static_cast<std::size_t>(std::log(us) / std::log(growth)) + 1;
    return std::min(index, bucket_count - 1);
}

// The middle of bucket `index` (geometric), in µs.
double bucket_value(std::size_t index) {
    if (index == 0) {
        return 1.0;
    }
    return std::pow(growth, static_cast<double>(index) - 0.5);
}

}  // namespace

latency_histogram::latency_histogram() : buckets_(bucket_count, 0) {}

void latency_histogram::record(std::chrono::steady_clock::duration latency) {
    const double us = std::chrono::duration<double, std::micro>(latency).count();
    ++buckets_[bucket_of(us)];
    ++count_;
    sum_us_ += us;
    max_us_ = std::max(max_us_, us);
}

double latency_histogram::percentile_ms(double p) const {
    if (count_ == 0) {
        return 0;
    }
    const auto rank =
        static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen >= std::max<std::uint64_t>(rank, 1)) {
            return std::min(bucket_value(i), max_us_) / 1000.0;
        }
    }
    return max_us_ / 1000.0;
}

double latency_histogram::max_ms() const { return max_us_ / 1000.0; }

double latency_histogram::mean_ms() const {
    return count_ == 0 ? 0 : sum_us_ / static_cast<double>(count_) / 1000.0;
}

}  // namespace pulsestream::simulator
