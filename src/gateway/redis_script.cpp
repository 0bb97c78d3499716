#include "pulsestream/gateway/redis_script.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "pulsestream/core/sha1.hpp"

namespace pulsestream::gateway {

namespace {

// RESP of the first two arguments of a call: "$7\r\nEVALSHA\r\n$40\r\n<sha1>\r\n".
constexpr std::size_t evalsha_head = 13 + 5 + 40 + 2;

}  // namespace

redis_script::redis_script(std::string_view source)
    : source_(source), sha1_(core::sha1_hex(source)) {}

redis::formatted_command redis_script::call(
    std::initializer_list<std::string_view> keys_and_args, std::size_t key_count) const {
    std::vector<std::string_view> args;
    args.reserve(3 + keys_and_args.size());
    const auto count = std::to_string(key_count);
    args.emplace_back("EVALSHA");
    args.emplace_back(sha1_);
    args.emplace_back(count);
    args.insert(args.end(), keys_and_args.begin(), keys_and_args.end());
    return redis::format_command(args);
}

// The same call with EVAL and the source: everything after the first two arguments is kept.
redis::formatted_command redis_script::as_eval(const redis::formatted_command& call) const {
    const auto count_end = call.resp.find("\r\n") + 2;  // "*N\r\n"
    std::string_view rest(call.resp);
    rest.remove_prefix(count_end + evalsha_head);
    redis::formatted_command eval(std::string(), call.args);
    eval.resp.reserve(call.resp.size() + source_.size());
    eval.resp.append(call.resp, 0, count_end);
    eval.resp += "$4\r\nEVAL\r\n$";
    eval.resp += std::to_string(source_.size());
    eval.resp += "\r\n";
    eval.resp += source_;
    eval.resp += "\r\n";
    eval.resp += rest;
    return eval;
}

boost::asio::awaitable<std::tuple<boost::system::error_code, redis::reply>> redis_script::run(
    redis::connection& connection, redis::formatted_command call,
    std::chrono::milliseconds deadline) const {
    constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    // The connection consumes what it sends; a copy is kept for the NOSCRIPT fallback (one
    // allocation, far cheaper than formatting twice).
    redis::formatted_command sent = call;
    auto result = co_await connection.async_command(std::move(sent), deadline, use_tuple);
    const auto& [ec, reply] = result;
    if (ec || !reply.is_error() || !reply.str.starts_with("NOSCRIPT")) co_return result;
    co_return co_await connection.async_command(as_eval(call), deadline, use_tuple);
}

}  // namespace pulsestream::gateway
