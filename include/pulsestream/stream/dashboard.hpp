#pragma once

/// @file
/// The live dashboard served at `GET /` (DESIGN.md §3): one self-contained HTML page (no CDN, no
/// build step) embedded into the binary. It asks for the API key and keeps it in the tab's
/// sessionStorage (the page never contains one), connects to `/v1/stream`, shows the latest
/// events and an events-per-second chart by eventType, and renders every value as text.

#include <string_view>

#include "pulsestream/http/exchange.hpp"

namespace pulsestream::stream {

/// The page's HTML (static storage).
[[nodiscard]] std::string_view dashboard_html();

/// 200 with the page, `text/html`, and a Content-Security-Policy that allows only the page's own
/// inline script and style and connections to its own origin (no images, frames or forms). Pure;
/// thread-safe.
[[nodiscard]] http::response dashboard_response();

}  // namespace pulsestream::stream
