#pragma once

/// @file
/// The route table: exact paths, one handler per method; a GET route also answers HEAD (the
/// server then sends the header alone). It answers 404 `not_found` and 405
/// `method_not_allowed` (with `Allow`) itself, before any handler runs (DESIGN.md §10), and
/// labels each request with its route's name for metrics, never with the raw path.

#include <boost/beast/http/verb.hpp>
#include <string>
#include <string_view>
#include <map>
#include <utility>
#include <vector>

#include "pulsestream/http/server.hpp"

namespace pulsestream::http {

class router {
public:
    /// Adds `method path`; the path is also the route's metrics label. Not thread-safe: build the
    /// table before serving; dispatching is then read-only and thread-safe.
    void add(beast::http::verb method, std::string path, request_handler handler);

    /// Dispatches one request; usable as the server's request_handler (the router must outlive
    /// the server).
    boost::asio::awaitable<response> operator()(exchange& ex) const;

private:
    using methods = std::vector<std::pair<beast::http::verb, request_handler>>;
    /// The route's handler for `method`, the GET one for HEAD, or null.
    static const request_handler* handler_for(const methods& route, beast::http::verb method);
    std::map<std::string, methods, std::less<>> routes_;
};

}  // namespace pulsestream::http
