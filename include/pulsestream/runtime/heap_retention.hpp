#pragma once

/// @file
/// How much freed memory malloc keeps for reuse instead of giving it back to the kernel.
/// glibc's defaults (blocks above 128 KiB mapped and unmapped one by one, a heap's free top
/// returned once it passes 128 KiB, both raised only after a large block has been unmapped) suit
/// short programs. In the gateway, librdkafka's broker thread allocates and frees its buffers
/// for every produce request, and with the defaults its heap was shrunk with madvise about 450
/// times a second under load, each shrink paid back in page faults: about 5 % of the gateway's
/// CPU (perf record of the gateway under tools/bench/gateway's load, 2026-11-28).

#include <cstddef>

namespace pulsestream::runtime {

struct heap_retention {
    std::size_t mmap_threshold = 4 << 20;  ///< blocks up to this size come from a heap
    std::size_t trim_threshold = 8 << 20;  ///< a heap's free top is kept up to this size
};

/// Applies `retention` to every heap of the process (glibc's mallopt); glibc's own adaptive
/// limits go up to 32 MiB and 64 MiB. Returns false if malloc refused either value. Call once at
/// start-up, before threads.
bool retain_freed_memory(const heap_retention& retention = {}) noexcept;

}  // namespace pulsestream::runtime
