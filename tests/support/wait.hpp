#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace pulsestream::test_support {

/// Polls `pred` until it returns true or `deadline` has passed; returns the last result.
///
/// The way tests await a condition: never a bare sleep. `pred` runs at least once (also with a
/// zero deadline), then every `poll` interval, and once more at the deadline. Runs `pred` on the
/// calling thread.
inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                       std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        if (pred()) {
            return true;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= end) {
            return false;
        }
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(poll, end - now));
    }
}

}  // namespace pulsestream::test_support
