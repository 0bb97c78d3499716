#include "pulsestream/runtime/heap_retention.hpp"

#include <malloc.h>

#include <climits>

namespace pulsestream::runtime {

namespace {

bool set_malloc_option(int option, std::size_t value) noexcept {
    return value <= INT_MAX && mallopt(option, static_cast<int>(value)) == 1;
}

}  // namespace

bool retain_freed_memory(const heap_retention& retention) noexcept {
    const bool mmap_set = set_malloc_option(M_MMAP_THRESHOLD, retention.mmap_threshold);
    const bool trim_set = set_malloc_option(M_TRIM_THRESHOLD, retention.trim_threshold);
    return mmap_set && trim_set;
}

}  // namespace pulsestream::runtime
