#include "pulsestream/stream/dashboard.hpp"

namespace pulsestream::stream {

namespace bhttp = boost::beast::http;

http::response dashboard_response() {
    http::response res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "text/html; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-store");
    // Defence in depth behind textContent: even injected markup could load nothing and post
    // nowhere. 'self' in connect-src covers ws:// and wss:// to the same host (CSP Level 3).
    res.set("Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    res.body() = std::string(dashboard_html());
    return res;
}

}  // namespace pulsestream::stream
