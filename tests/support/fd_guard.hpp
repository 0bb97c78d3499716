#pragma once

#include <unistd.h>

namespace pulsestream::test_support {

/// Closes a file descriptor when it goes out of scope, however the scope is left (a thrown
/// error, a failed ASSERT). It owns the descriptor: nothing else may close it.
struct fd_guard {
    explicit fd_guard(int owned) noexcept : fd(owned) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() { ::close(fd); }

    int fd;
};

}  // namespace pulsestream::test_support
