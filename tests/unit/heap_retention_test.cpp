#include "pulsestream/runtime/heap_retention.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace {

using pulsestream::runtime::heap_retention;
using pulsestream::runtime::retain_freed_memory;

constexpr std::size_t block_size = 2 << 20;  // above glibc's default mmap threshold, below ours

/// Allocates, touches and frees one block; returns malloc's statistics while it was held and
/// after it was freed.
struct block_trace {
    struct mallinfo2 held;
    struct mallinfo2 freed;
};

block_trace allocate_touch_free() {
    void* block = std::malloc(block_size);
    if (block == nullptr) return {};
    std::memset(block, 1, block_size);
    block_trace trace{};
    trace.held = mallinfo2();
    std::free(block);
    trace.freed = mallinfo2();
    return trace;
}

// Each test case runs in its own process (gtest_discover_tests), so malloc's settings do not
// carry over from one case to the next.

TEST(HeapRetention, GlibcDefaultsMapALargeBlockAndGiveItBack) {
    const auto before = mallinfo2();
    const auto trace = allocate_touch_free();
    EXPECT_GE(trace.held.hblkhd, before.hblkhd + block_size);  // a mapping of its own
    EXPECT_EQ(trace.freed.hblkhd, before.hblkhd);              // unmapped on free
}

TEST(HeapRetention, KeepsALargeFreedBlockInTheHeap) {
    ASSERT_TRUE(retain_freed_memory());
    const auto before = mallinfo2();
    const auto trace = allocate_touch_free();
    EXPECT_EQ(trace.held.hblkhd, before.hblkhd);     // served by the heap, not mapped
    EXPECT_GE(trace.freed.keepcost, block_size);     // its free top kept, not trimmed
    EXPECT_EQ(trace.freed.arena, trace.held.arena);  // the heap did not shrink
}

TEST(HeapRetention, RefusesAThresholdMalloptCannotTake) {
    heap_retention too_large;
    too_large.mmap_threshold = std::size_t{1} << 40;  // beyond mallopt's int
    EXPECT_FALSE(retain_freed_memory(too_large));
}

}  // namespace
