#include "pulsestream/kafka/partitioner.hpp"

namespace pulsestream::kafka {

std::int32_t murmur2(std::string_view data) noexcept {
    // Java computes in wrapping signed 32-bit arithmetic and shifts with >>> (logical); unsigned
    // arithmetic gives the same bits without signed-overflow UB.
    constexpr std::uint32_t seed = 0x9747b28cU;
    constexpr std::uint32_t m = 0x5bd1e995U;
    constexpr int r = 24;

    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    const std::size_t length = data.size();
    std::uint32_t h = seed ^ static_cast<std::uint32_t>(length);

    const std::size_t blocks = length / 4;
    for (std::size_t i = 0; i < blocks; ++i) {
        const unsigned char* p = bytes + i * 4;
        // Little-endian, independent of the host's byte order and alignment.
        std::uint32_t k = static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                          static_cast<std::uint32_t>(p[2]) << 16 |
                          static_cast<std::uint32_t>(p[3]) << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }

    const unsigned char* tail = bytes + blocks * 4;
    switch (length % 4) {
        case 3:
            h ^= static_cast<std::uint32_t>(tail[2]) << 16;
            [[fallthrough]];
        case 2:
            h ^= static_cast<std::uint32_t>(tail[1]) << 8;
            [[fallthrough]];
        case 1:
            h ^= static_cast<std::uint32_t>(tail[0]);
            h *= m;
            break;
        default:
            break;
    }

    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return static_cast<std::int32_t>(h);
}

int partition_for_key(std::string_view key, int partition_count) noexcept {
    if (partition_count <= 0) {
        return -1;
    }
    const std::uint32_t positive = static_cast<std::uint32_t>(murmur2(key)) & 0x7fffffffU;
    return static_cast<int>(positive % static_cast<std::uint32_t>(partition_count));
}

}  // namespace pulsestream::kafka
