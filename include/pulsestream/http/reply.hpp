#pragma once

/// @file
/// Building responses: JSON bodies, and the one mapping from a PulseStream error to its HTTP
/// status, stable JSON body and Retry-After (the table lives in core/errc.hpp).

#include <span>
#include <string>

#include "pulsestream/core/errc.hpp"
#include "pulsestream/http/exchange.hpp"

namespace pulsestream::http {

/// A response with `Content-Type: application/json` and the given body.
[[nodiscard]] response json_response(unsigned status, std::string body);

/// The error's status and stable body. `retry_after_s` overrides the table's Retry-After
/// (used for 429, whose wait is computed from the token bucket); 0 keeps the table's value.
[[nodiscard]] response error_response(core::errc e,
                                      std::span<const core::field_error> errors = {},
                                      unsigned retry_after_s = 0);

}  // namespace pulsestream::http
