#pragma once

/// @file
/// `GET /v1/stream` (DESIGN.md §4): authenticates the upgrade request, parses its filters and
/// hands the connection to the ws_hub. Every refusal is an ordinary HTTP response in the
/// standard error JSON, sent before any upgrade.

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <functional>
#include <string>

#include "pulsestream/core/uuid.hpp"
#include "pulsestream/http/exchange.hpp"

namespace pulsestream::stream {

class ws_hub;

/// Resolves an API key (the raw value) to its tenant, or fails with a core::errc
/// (invalid_api_key, api_key_deactivated, auth_unavailable). Completes on the awaiting
/// coroutine's executor. The key must never be logged.
using authenticate_fn =
    std::function<boost::asio::awaitable<boost::system::result<core::uuid>>(std::string api_key)>;

/// The route handler. Checks, in order: the key (the `x-api-key` header, else the `api_key`
/// query parameter, which browsers need since they cannot set headers on a WebSocket) → 401
/// `missing_api_key`/`invalid_api_key`/`api_key_deactivated` or 503 `auth_unavailable`; the
/// filters → 400 `validation_failed`; a WebSocket upgrade → 426 `upgrade_required`. Then the
/// connection is taken over (http::exchange::take_over) and the reported status is 101.
///
/// Thread-safe (const); `hub` must outlive it and the server that calls it.
class stream_endpoint {
public:
    stream_endpoint(ws_hub& hub, authenticate_fn authenticate);

    boost::asio::awaitable<http::response> operator()(http::exchange& ex) const;

private:
    ws_hub& hub_;
    authenticate_fn authenticate_;
};

}  // namespace pulsestream::stream
