#include "pulsestream/redis/command.hpp"

#include <charconv>

namespace pulsestream::redis {

namespace {

// Decimal digits of n, for sizing the buffer up front.
std::size_t digits(std::size_t n) {
    std::size_t d = 1;
    while (n >= 10) {
        n /= 10;
        ++d;
    }
    return d;
}

void append_number(std::string& out, char tag, std::size_t n) {
    char buf[24];
    buf[0] = tag;
    const auto end = std::to_chars(buf + 1, buf + sizeof buf - 2, n).ptr;
    end[0] = '\r';
    end[1] = '\n';
    out.append(buf, static_cast<std::size_t>(end + 2 - buf));
}

template <class Range>
formatted_command format(const Range& args) {
    formatted_command out(std::string(), args.size());
    std::size_t size = 1 + digits(args.size()) + 2;
    for (const auto& arg : args) size += 1 + digits(arg.size()) + 2 + arg.size() + 2;
    out.resp.reserve(size);
    append_number(out.resp, '*', args.size());
    for (const auto& arg : args) {
        append_number(out.resp, '$', arg.size());
        out.resp.append(arg.data(), arg.size());
        out.resp += "\r\n";
    }
    return out;
}

}  // namespace

formatted_command format_command(std::initializer_list<std::string_view> args) {
    return format(args);
}

formatted_command format_command(std::span<const std::string_view> args) { return format(args); }

formatted_command format_command(const std::vector<std::string>& args) { return format(args); }

}  // namespace pulsestream::redis
