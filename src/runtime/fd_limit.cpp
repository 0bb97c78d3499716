#include "pulsestream/runtime/fd_limit.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace pulsestream::runtime {

fd_limit raise_fd_limit(std::size_t wanted) noexcept {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return {};
    const auto target = std::min<rlim_t>(static_cast<rlim_t>(wanted), lim.rlim_max);
    if (target > lim.rlim_cur) {
        rlimit raised = lim;
        raised.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    return {static_cast<std::size_t>(lim.rlim_cur), static_cast<std::size_t>(lim.rlim_max)};
}

}  // namespace pulsestream::runtime
