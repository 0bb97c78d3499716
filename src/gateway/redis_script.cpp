#include "pulsestream/gateway/redis_script.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "pulsestream/core/sha1.hpp"

namespace pulsestream::gateway {

redis_script::redis_script(std::string_view source)
    : source_(source), sha1_(core::sha1_hex(source)) {}

std::vector<std::string> redis_script::command(std::string_view verb, std::string_view script,
                                               const std::vector<std::string>& keys_and_args,
                                               std::size_t key_count) const {
    std::vector<std::string> args;
    args.reserve(3 + keys_and_args.size());
    args.emplace_back(verb);
    args.emplace_back(script);
    args.push_back(std::to_string(key_count));
    args.insert(args.end(), keys_and_args.begin(), keys_and_args.end());
    return args;
}

boost::asio::awaitable<std::tuple<boost::system::error_code, redis::reply>> redis_script::run(
    redis::connection& connection, std::vector<std::string> keys_and_args, std::size_t key_count,
    std::chrono::milliseconds deadline) const {
    constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    auto by_digest = command("EVALSHA", sha1_, keys_and_args, key_count);
    auto result = co_await connection.async_command(std::move(by_digest), deadline, use_tuple);
    const auto& [ec, reply] = result;
    if (ec || !reply.is_error() || !reply.str.starts_with("NOSCRIPT")) co_return result;
    auto by_source = command("EVAL", source_, keys_and_args, key_count);
    co_return co_await connection.async_command(std::move(by_source), deadline, use_tuple);
}

}  // namespace pulsestream::gateway
