#pragma once

// A bounded latency histogram for load mode: log-spaced buckets, about 2 % resolution.

#include <chrono>
#include <cstdint>
#include <vector>

namespace pulsestream::simulator {

/// Records durations from 1 µs to ~20 min in buckets growing by 2 %, so memory stays fixed
/// however long the load runs; percentiles are within 2 % of the exact value (the maximum
/// is exact). Not thread-safe.
class latency_histogram {
public:
    latency_histogram();

    void record(std::chrono::steady_clock::duration latency);

    [[nodiscard]] std::uint64_t count() const { return count_; }
    /// The `p`-th percentile (0 < p <= 100) in milliseconds; 0 when empty.
    [[nodiscard]] double percentile_ms(double p) const;
    [[nodiscard]] double max_ms() const;
    [[nodiscard]] double mean_ms() const;

private:
    std::vector<std::uint64_t> buckets_;
    std::uint64_t count_ = 0;
    double sum_us_ = 0;
    double max_us_ = 0;
};

}  // namespace pulsestream::simulator
