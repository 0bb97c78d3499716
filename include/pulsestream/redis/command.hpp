#pragma once

/// @file
/// Building a command's argument vector.

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pulsestream::redis {

namespace detail {

template <class Arg>
std::string to_argument(Arg&& arg) {
    using type = std::remove_cvref_t<Arg>;
    if constexpr (std::is_same_v<type, std::string>) {
        return std::string(std::forward<Arg>(arg));  // moves an rvalue, copies an lvalue
    } else if constexpr (std::is_convertible_v<Arg, std::string_view>) {
        return std::string(std::string_view(arg));
    } else {
        static_assert(std::is_integral_v<type> && !std::is_same_v<type, bool> &&
                          !std::is_same_v<type, char>,
                      "redis::command takes strings, string_views, literals and integers");
        return std::to_string(arg);
    }
}

}  // namespace detail

/// One command already in Redis' wire form (RESP: `*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`), built
/// by format_command(). Sending it costs no further formatting or copying of the arguments.
/// Neither an aggregate nor default-constructible, so a braced list (`{"PING"}`, `{}`) passed
/// to `async_command` still means an argument vector.
struct formatted_command {
    formatted_command(std::string bytes, std::size_t count) : resp(std::move(bytes)), args(count) {}

    std::string resp;      ///< the bytes to send
    std::size_t args = 0;  ///< number of arguments (0: an empty command)
};

/// Encodes `args` (binary-safe, command name first) in one allocation.
[[nodiscard]] formatted_command format_command(std::initializer_list<std::string_view> args);
/// The same for arguments built at run time.
[[nodiscard]] formatted_command format_command(std::span<const std::string_view> args);
/// The same for an argument vector (what `connection::async_command` takes).
[[nodiscard]] formatted_command format_command(const std::vector<std::string>& args);

/// `command("SET", key, value, "EX", 30)` → `{"SET", key, value, "EX", "30"}`: arguments may be
/// strings (moved when passed as rvalues), string_views, string literals or integers.
///
/// Prefer it to a braced list inside coroutines: g++ 12 rejects a braced list of strings inside
/// a `co_await` expression ("array used as initializer"); a function call is fine.
template <class... Args>
[[nodiscard]] std::vector<std::string> command(Args&&... args) {
    std::vector<std::string> out;
    out.reserve(sizeof...(Args));
    (out.push_back(detail::to_argument(std::forward<Args>(args))), ...);
    return out;
}

}  // namespace pulsestream::redis
