#pragma once

/// @file
/// Tells the log when produce requests start to fail (each one answered 503) and when the
/// broker acknowledges again: one warning and one info line per outage, not one per request.
/// librdkafka's own lines say why a broker is unreachable but nothing when it is back.
///
/// An outage ends with the first acknowledgement that comes `quiet` after the last failure, so
/// a partial one (one broker of three down: some requests fail, others pass) does not flap.
///
/// Thread-safety: every member may be called from any io thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

namespace pulsestream::gateway {

class produce_outage {
public:
    using clock = std::chrono::steady_clock;

    explicit produce_outage(clock::duration quiet = std::chrono::seconds(2)) : quiet_(quiet) {}

    /// A request got no acknowledgement (its 503 is on its way); `reason` as the error says it.
    void failed(std::string_view reason);
    /// A request was acknowledged: ends the outage if one is going on and has gone quiet.
    void acknowledged() {
        // One relaxed load on the request path when all is well; the rest is under the mutex.
        if (failing_.load(std::memory_order_relaxed)) try_end();
    }

private:
    void try_end();

    const clock::duration quiet_;
    std::atomic<bool> failing_{false};  // written only under mutex_
    std::mutex mutex_;                  // taken only on a 503 or during an outage
    clock::time_point since_;           // the outage's first failure
    clock::time_point last_failure_;
    std::uint64_t failures_ = 0;  // in the current outage
};

}  // namespace pulsestream::gateway
