#include "pulsestream/http/request_framing.hpp"

#include <boost/beast/http/field.hpp>

namespace pulsestream::http {

namespace bhttp = beast::http;

std::optional<std::string> framing_problem(const bhttp::request_parser<bhttp::string_body>& parser,
                                           std::span<const std::string> single_value_fields) {
    const request& req = parser.get();
    if (req.count(bhttp::field::transfer_encoding) != 0) {
        if (req.version() < 11) return "Transfer-Encoding is not allowed in HTTP/1.0";
        if (!parser.chunked()) return "Transfer-Encoding must end in chunked";
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
