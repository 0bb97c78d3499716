#include "pulsestream/http/reply.hpp"

#include <boost/beast/http/field.hpp>

namespace pulsestream::http {

namespace bhttp = beast::http;

response json_response(unsigned status, std::string body) {
    response res{static_cast<bhttp::status>(status), 11};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::move(body);
    return res;
}

response error_response(core::errc e, std::span<const core::field_error> errors,
                        unsigned retry_after_s) {
    const auto& info = core::describe(e);
    auto res = json_response(info.http_status, core::error_body(e, errors));
    const unsigned retry_after = retry_after_s != 0 ? retry_after_s : info.retry_after_s;
    if (retry_after != 0) res.set(bhttp::field::retry_after, std::to_string(retry_after));
    return res;
}

}  // namespace pulsestream::http
