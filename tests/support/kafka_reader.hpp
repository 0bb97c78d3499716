#pragma once

// Reads a topic back as a consumer-group member, for tests that check what reached Kafka.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pulsestream::test_support {

struct kafka_record {
    std::optional<std::string> key;
    std::string value;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// Consumes `topic` from the beginning in a fresh group until `count` records arrived or the
/// deadline passed, and returns what arrived (fewer than `count` on timeout). With `count` 0 it
/// reads until `quiet` passes without a new record (to check that nothing more arrives).
std::vector<kafka_record> read_topic(const std::string& bootstrap, const std::string& topic,
                                     std::size_t count, std::chrono::milliseconds deadline,
                                     std::chrono::milliseconds quiet = std::chrono::seconds(2));

}  // namespace pulsestream::test_support
