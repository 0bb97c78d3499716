#pragma once

// Invariants of a request head as the HTTP server reads it: Beast's parser, then
// http::framing_problem, which refuses heads that two readers could read two ways (request
// smuggling). Part of the edge target's checks (edge_parser_checks.hpp).
//
// For each input, parsed as the head of a request with the gateway's header limit:
//  1. Neither the parser nor framing_problem throws.
//  2. A refusal's text is non-empty and one line (it becomes the message of a JSON error).
//  3. A head framing_problem lets through has, counted here over the raw fields (not with
//     Beast's count()): at most one Host, exactly one in HTTP/1.1; at most one Content-Type and
//     one of each single-value field; and a Transfer-Encoding only in HTTP/1.1 or later, whose
//     last coding, read here from the raw values, is `chunked`, and Beast reads it as chunked
//     too, and then no Content-Length; without one, Content-Length elements that are all one
//     64-bit number, the body length Beast uses. A disagreement there is how a body gets taken
//     for the next request.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pulsestream/http/field_value.hpp"
#include "pulsestream/http/request_framing.hpp"
#include "pulsestream/http/server.hpp"

namespace pulsestream::fuzz::head {

namespace beast = boost::beast;

using report_fn = std::function<void(const std::string& what)>;

inline const std::uint32_t header_limit = http::server_options{}.header_limit;
// As the gateway names them (gateway/app.cpp).
inline const std::vector<std::string> single_value_fields{"x-api-key", "idempotency-key"};

using request_parser = beast::http::request_parser<beast::http::string_body>;

/// Feeds `input` to `parser` as far as the end of the head: false when Beast refused the head
/// or the input ended before it did.
inline bool read_head(request_parser& parser, std::string_view input) {
    parser.header_limit(header_limit);
    parser.eager(false);
    while (!parser.is_header_done()) {
        beast::error_code ec;
        const auto used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
        input.remove_prefix(used);
        if (ec || used == 0) return false;
    }
    return true;
}

/// The elements of every line of one field taken as one list (RFC 9110 §5.3), trimmed, empty
/// ones included.
inline std::vector<std::string_view> list_elements(const std::vector<std::string_view>& lines) {
    std::vector<std::string_view> elements;
    for (auto list : lines) {
        while (true) {
            const auto comma = list.find(',');
            elements.push_back(http::trim_ows(list.substr(0, comma)));
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
        }
    }
    return elements;
}

/// The last non-empty Transfer-Encoding coding (empty list elements do not count).
inline std::string_view last_coding(const std::vector<std::string_view>& lines) {
    std::string_view last;
    for (const auto coding : list_elements(lines)) {
        if (!coding.empty()) last = coding;
    }
    return last;
}

/// The body length the server uses must be the one every Content-Length element states.
inline void check_content_length(const request_parser& parser,
                                 const std::vector<std::string_view>& lines,
                                 const report_fn& fail) {
    std::optional<std::uint64_t> stated;
    for (const auto element : list_elements(lines)) {
        std::uint64_t value = 0;
        const auto [end, ec] =
            std::from_chars(element.data(), element.data() + element.size(), value);
        if (element.empty() || ec != std::errc() || end != element.data() + element.size()) {
            fail("a Content-Length that is not a 64-bit number was let through");
            return;
        }
        if (stated && *stated != value) {
            fail("Content-Lengths that differ were let through");
            return;
        }
        stated = value;
    }
    // Without a Content-Length (and a Transfer-Encoding) a request has no body (RFC 9112 §6.3).
    const auto length = parser.content_length();
    if (stated ? length != stated : length.value_or(0) != 0) {
        fail("Beast's body length differs from the Content-Length the head states");
    }
}

inline void check_accepted_head(const request_parser& parser, const report_fn& fail) {
    const auto& req = parser.get();
    std::size_t hosts = 0, content_types = 0;
    std::vector<std::size_t> singles(single_value_fields.size(), 0);
    std::vector<std::string_view> codings, lengths;
    for (const auto& field : req) {
        const auto name = field.name_string();
        const std::string_view value(field.value().data(), field.value().size());
        if (beast::iequals(name, "host")) ++hosts;
        if (beast::iequals(name, "content-type")) ++content_types;
        if (beast::iequals(name, "transfer-encoding")) codings.push_back(value);
        if (beast::iequals(name, "content-length")) lengths.push_back(value);
        for (std::size_t i = 0; i < single_value_fields.size(); ++i) {
            if (beast::iequals(name, single_value_fields[i])) ++singles[i];
        }
    }
    if (hosts > 1 || (hosts == 0 && req.version() >= 11)) {
        fail("a head with " + std::to_string(hosts) + " Host fields was let through");
    }
    if (content_types > 1) fail("a head with more than one Content-Type was let through");
    for (std::size_t i = 0; i < singles.size(); ++i) {
        if (singles[i] > 1) {
            fail("a head with more than one " + single_value_fields[i] + " was let through");
        }
    }
    if (codings.empty()) {
        check_content_length(parser, lengths, fail);
        return;
    }
    if (!lengths.empty()) fail("a head with Transfer-Encoding and Content-Length was let through");
    if (req.version() < 11) fail("an HTTP/1.0 head with Transfer-Encoding was let through");
    if (!beast::iequals(last_coding(codings), "chunked")) {
        fail("a Transfer-Encoding not ending in chunked was let through");
    }
    if (!parser.chunked()) {
        fail("a Transfer-Encoding ending in chunked that Beast does not read so");
    }
}

inline void check_request_head(std::string_view input, const report_fn& fail) {
    request_parser parser;
    if (!read_head(parser, input)) return;  // the server answers Beast's refusal with 400
    const auto problem = http::framing_problem(parser, single_value_fields);
    if (!problem) {
        check_accepted_head(parser, fail);
    } else if (problem->empty() || problem->find_first_of("\r\n") != std::string::npos) {
        fail("a refusal's text is empty or not one line");
    }
}

}  // namespace pulsestream::fuzz::head
