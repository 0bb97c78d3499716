#pragma once

// Private: deep copy of a hiredis reply into an owned pulsestream::redis::reply.

#include <hiredis/hiredis.h>

#include "pulsestream/redis/reply.hpp"

namespace pulsestream::redis::detail {

/// Copies `r` and its elements; hiredis frees `r` when the callback returns.
[[nodiscard]] reply copy_reply(const redisReply& r);

}  // namespace pulsestream::redis::detail
