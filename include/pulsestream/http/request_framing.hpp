#pragma once

/// @file
/// Requests whose header could be read two ways are refused before any handler sees them
/// (RFC 9112 §3.2, §6.1, §6.3):
/// - a Transfer-Encoding that does not end in `chunked`, or any Transfer-Encoding in HTTP/1.0:
///   the body's length is unknown, and a server that read it as empty would take the body for
///   the next request (request smuggling); also one that is not a plain list of codings
///   (`chunked gzip`), which two readers may frame two ways;
/// - an HTTP/1.1 request without a Host, or any request with more than one;
/// - a field that must have one value (Content-Type, or one the application names, such as its
///   API key) given on more than one line, where the first and the last line could disagree.

#include <optional>
#include <span>
#include <string>

#include "pulsestream/http/exchange.hpp"

namespace pulsestream::http {

/// Why the header just read by `parser` must be refused with 400 `malformed_request`, or
/// nothing. The text is client-safe. `single_value_fields`: field names, any case.
[[nodiscard]] std::optional<std::string> framing_problem(
    const beast::http::request_parser<beast::http::string_body>& parser,
    std::span<const std::string> single_value_fields);

}  // namespace pulsestream::http
