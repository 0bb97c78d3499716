#include "pulsestream/runtime/heap_retention.hpp"

#include <malloc.h>

#include <climits>

namespace pulsestream::runtime {

namespace {

bool set_malloc_option(int option, std::size_t value) noexcept {
    return value <= INT_MAX && mallopt(option, static_cast<int>(value)) == 1;
}

}  // namespace

// The mmap threshold first, and the trim threshold only if it was taken: a trim threshold alone
// would also pin the mmap threshold at glibc's 128 KiB, every larger block then mapped and
// unmapped on its own.
bool retain_freed_memory(const heap_retention& retention) noexcept {
    return set_malloc_option(M_MMAP_THRESHOLD, retention.mmap_threshold) &&
           set_malloc_option(M_TRIM_THRESHOLD, retention.trim_threshold);
}

}  // namespace pulsestream::runtime
