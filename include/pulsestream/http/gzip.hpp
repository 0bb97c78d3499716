#pragma once

/// @file
/// Bounded gzip decompression of request bodies (`Content-Encoding: gzip`).

#include <boost/system/result.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace pulsestream::http {

/// Inflates a gzip member. Stops as soon as the output would exceed `limit` bytes, so a small
/// "zip bomb" costs at most `limit` bytes of memory.
/// Errors (core::errc): payload_too_large past the limit; invalid_json when the bytes are not
/// valid gzip (a truncated stream, a bad header or checksum, trailing garbage).
[[nodiscard]] boost::system::result<std::string> gunzip(std::string_view compressed,
                                                        std::size_t limit);

}  // namespace pulsestream::http
