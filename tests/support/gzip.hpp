#pragma once

// Gzip-compressing request bodies in tests (Content-Encoding: gzip).

#include <zlib.h>

#include <string>
#include <string_view>

namespace pulsestream::test_support {

/// One gzip member holding `plain`.
inline std::string gzip_bytes(std::string_view plain) {
    z_stream zs{};
    deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(compressBound(static_cast<uLong>(plain.size())) + 64, '\0');
    // zlib's API is not const-correct; it never writes through next_in.
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    zs.avail_in = static_cast<uInt>(plain.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

}  // namespace pulsestream::test_support
