#include "pulsestream/stream/endpoint.hpp"

#include <boost/beast/websocket/rfc6455.hpp>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/http/reply.hpp"
#include "pulsestream/stream/filter.hpp"
#include "pulsestream/stream/ws_hub.hpp"

namespace pulsestream::stream {

namespace bhttp = boost::beast::http;

namespace {

core::errc errc_of(const boost::system::error_code& ec) {
    if (ec.category() == core::error_category()) return static_cast<core::errc>(ec.value());
    return core::errc::internal_error;
}

http::response upgrade_required() {
    auto res = http::error_response(core::errc::upgrade_required);
    res.set(bhttp::field::upgrade, "websocket");
    res.set(bhttp::field::connection, "Upgrade");
    return res;
}

}  // namespace

stream_endpoint::stream_endpoint(ws_hub& hub, authenticate_fn authenticate)
    : hub_(hub), authenticate_(std::move(authenticate)) {}

boost::asio::awaitable<http::response> stream_endpoint::operator()(http::exchange& ex) const {
    auto query = parse_stream_query(ex.query(), hub_.options().max_filter_values);
    const auto header = ex.message().find("x-api-key");
    std::string key = header != ex.message().end() && !header->value().empty()
                          ? std::string(header->value())
                          : std::move(query.api_key);
    if (key.empty()) co_return http::error_response(core::errc::missing_api_key);
    const auto tenant = co_await authenticate_(std::move(key));
    if (!tenant) co_return http::error_response(errc_of(tenant.error()));
    if (!query.errors.empty()) {
        co_return http::error_response(core::errc::validation_failed, query.errors);
    }
    if (!boost::beast::websocket::is_upgrade(ex.message())) co_return upgrade_required();

    http::request upgrade = ex.message();
    hub_.open(ex.take_over(), std::move(upgrade), *tenant, std::move(query.filter));
    co_return http::response{bhttp::status::switching_protocols, 11};
}

}  // namespace pulsestream::stream
