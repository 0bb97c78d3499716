#pragma once

/// @file
/// The process's open-file limit. Each client connection is a file descriptor, and the common
/// soft default (1024) is far below a gateway's connection cap: past it accept() fails and new
/// clients wait. Servers therefore raise the soft limit towards the hard one at start-up.

#include <cstddef>

namespace pulsestream::runtime {

struct fd_limit {
    std::size_t soft = 0;  ///< in force after the call
    std::size_t hard = 0;
};

/// Raises the soft RLIMIT_NOFILE to `wanted`, or to the hard limit if that is lower; never
/// lowers it. Returns the limits in force afterwards. Call once at start-up, before threads.
fd_limit raise_fd_limit(std::size_t wanted) noexcept;

}  // namespace pulsestream::runtime
