#pragma once

/// @file
/// A Lua script that travels by digest. EVALSHA sends the script's 40-character SHA-1 instead
/// of its source, so the request is shorter and Redis does not hash the source on every call.
/// A server that does not know the script (first use, restart, SCRIPT FLUSH) answers NOSCRIPT;
/// the call is then repeated once as EVAL, which also caches it for the next EVALSHA.

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tuple>

#include "pulsestream/redis/command.hpp"
#include "pulsestream/redis/connection.hpp"
#include "pulsestream/redis/reply.hpp"

namespace pulsestream::gateway {

/// Immutable after construction, so one object may serve every thread.
class redis_script {
public:
    explicit redis_script(std::string_view source);

    /// The EVALSHA call of this script with `keys_and_args` (the first `key_count` are KEYS),
    /// encoded once: cheaper than an argument vector for a call on the request path.
    [[nodiscard]] redis::formatted_command call(std::initializer_list<std::string_view> keys_and_args,
                                                std::size_t key_count) const;

    /// Sends `call` (built by call() of this object) on `connection`; on NOSCRIPT repeats it
    /// once as EVAL with the source. Completes with Redis' reply (which may be an error reply)
    /// or with the connection's error; `deadline` applies to each attempt, so a NOSCRIPT
    /// fallback may take up to twice as long. The object must outlive the call.
    [[nodiscard]] boost::asio::awaitable<std::tuple<boost::system::error_code, redis::reply>> run(
        redis::connection& connection, redis::formatted_command call,
        std::chrono::milliseconds deadline) const;

    [[nodiscard]] const std::string& sha1() const noexcept { return sha1_; }

private:
    [[nodiscard]] redis::formatted_command as_eval(const redis::formatted_command& call) const;

    std::string source_;
    std::string sha1_;
};

}  // namespace pulsestream::gateway
