#pragma once

/// @file
/// How much freed memory malloc keeps for reuse instead of giving it back to the kernel.
/// glibc's defaults (blocks above 128 KiB mapped and unmapped one by one, a heap's free top
/// returned once it passes 128 KiB, both raised only after a large block has been unmapped) suit
/// short programs. In the gateway, librdkafka's broker thread allocates and frees its buffers
/// for every produce request; with the defaults its heap was shrunk with madvise again and
/// again, and the gateway took about one page fault per accepted single-event request
/// (docs/BENCHMARKS.md, "Freed memory kept in the heap").

#include <cstddef>

namespace pulsestream::runtime {

struct heap_retention {
    std::size_t mmap_threshold = 4 << 20;  ///< blocks up to this size come from a heap
    std::size_t trim_threshold = 8 << 20;  ///< a heap's free top is kept up to this size
};

/// Applies `retention` to every heap of the process (glibc's mallopt); glibc's own adaptive
/// limits go up to 32 MiB and 64 MiB. Returns false if a value does not fit mallopt's int or
/// malloc refused it; a refused mmap threshold leaves the trim threshold alone. Call once at
/// start-up.
bool retain_freed_memory(const heap_retention& retention = {}) noexcept;

}  // namespace pulsestream::runtime
