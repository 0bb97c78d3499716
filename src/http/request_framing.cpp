#include "pulsestream/http/request_framing.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <string_view>

#include "pulsestream/http/field_value.hpp"

namespace pulsestream::http {

namespace bhttp = beast::http;

namespace {

// RFC 9110 §5.6.2.
bool is_token(std::string_view s) {
    constexpr std::string_view other_tchars = "!#$%&'*+-.^_`|~";
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               other_tchars.find(c) != std::string_view::npos;
    });
}

/// Every Transfer-Encoding line read as one list (RFC 9110 §5.3, empty elements allowed): true
/// when each coding is a plain token and the last is chunked. Beast's own reading stops at the
/// first element that is not a token, so it takes `chunked gzip` or `gzip, chunked x` for
/// chunked, where another reader sees a coding that is not; the body's framing must not depend
/// on who reads it. Codings with parameters are refused too: no client sends them.
bool ends_in_plain_chunked(const request& req) {
    std::string_view last;
    auto [line, end] = req.equal_range(bhttp::field::transfer_encoding);
    for (; line != end; ++line) {
        std::string_view list(line->value().data(), line->value().size());
        while (!list.empty()) {
            const auto comma = list.find(',');
            const auto coding = trim_ows(list.substr(0, comma));
            if (!coding.empty()) {
                if (!is_token(coding)) return false;
                last = coding;
            }
            list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
        }
    }
    return beast::iequals(last, "chunked");
}

}  // namespace

std::optional<std::string> framing_problem(const bhttp::request_parser<bhttp::string_body>& parser,
                                           std::span<const std::string> single_value_fields) {
    const request& req = parser.get();
    if (req.count(bhttp::field::transfer_encoding) != 0) {
        if (req.version() < 11) return "Transfer-Encoding is not allowed in HTTP/1.0";
        if (!parser.chunked() || !ends_in_plain_chunked(req)) {
            return "Transfer-Encoding must be a list of codings that ends in chunked";
        }
    }
    const auto hosts = req.count(bhttp::field::host);
    if (hosts > 1) return "More than one Host header";
    if (hosts == 0 && req.version() >= 11) return "Host header is required";
    if (req.count(bhttp::field::content_type) > 1) return "More than one Content-Type header";
    for (const auto& name : single_value_fields) {
        if (req.count(name) > 1) return "More than one " + name + " header";
    }
    return std::nullopt;
}

}  // namespace pulsestream::http
