#include "pulsestream/http/router.hpp"

#include <boost/beast/http/field.hpp>

#include "pulsestream/http/reply.hpp"

namespace pulsestream::http {

void router::add(beast::http::verb method, std::string path, request_handler handler) {
    routes_[std::move(path)].emplace_back(method, std::move(handler));
}

boost::asio::awaitable<response> router::operator()(exchange& ex) const {
    const auto found = routes_.find(ex.path());
    if (found == routes_.end()) co_return error_response(core::errc::not_found);
    ex.set_route_label(found->first);
    for (const auto& [method, handler] : found->second) {
        if (method == ex.method()) co_return co_await handler(ex);
    }
    std::string allow;
    for (const auto& entry : found->second) {
        if (!allow.empty()) allow += ", ";
        allow += std::string(beast::http::to_string(entry.first));
    }
    auto res = error_response(core::errc::method_not_allowed);
    res.set(beast::http::field::allow, allow);
    co_return res;
}

}  // namespace pulsestream::http
