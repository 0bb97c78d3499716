#include "pulsestream/http/router.hpp"

#include <algorithm>
#include <boost/beast/http/field.hpp>

#include "pulsestream/http/reply.hpp"

namespace pulsestream::http {

namespace bhttp = beast::http;

namespace {

bool registers(const auto& route, bhttp::verb method) {
    return std::any_of(route.begin(), route.end(),
                       [method](const auto& entry) { return entry.first == method; });
}

/// The route's methods, with HEAD wherever GET answers it (RFC 9110 §9.1).
std::string allow_header(const auto& route) {
    std::string allow;
    for (const auto& entry : route) {
        if (!allow.empty()) allow += ", ";
        allow += std::string(bhttp::to_string(entry.first));
        if (entry.first == bhttp::verb::get && !registers(route, bhttp::verb::head)) {
            allow += ", HEAD";
        }
    }
    return allow;
}

}  // namespace

void router::add(bhttp::verb method, std::string path, request_handler handler) {
    routes_[std::move(path)].emplace_back(method, std::move(handler));
}

const request_handler* router::handler_for(const methods& route, bhttp::verb method) {
    for (const auto& [registered, handler] : route) {
        if (registered == method) return &handler;
    }
    // HEAD is GET without the body, which the server leaves out (RFC 9110 §9.3.2).
    if (method == bhttp::verb::head) return handler_for(route, bhttp::verb::get);
    return nullptr;
}

boost::asio::awaitable<response> router::operator()(exchange& ex) const {
    const auto found = routes_.find(ex.path());
    if (found == routes_.end()) co_return error_response(core::errc::not_found);
    ex.set_route_label(found->first);
    if (const auto* handler = handler_for(found->second, ex.method())) {
        co_return co_await (*handler)(ex);
    }
    auto res = error_response(core::errc::method_not_allowed);
    res.set(bhttp::field::allow, allow_header(found->second));
    co_return res;
}

}  // namespace pulsestream::http
