#include "pulsestream/http/gzip.hpp"

#include <zlib.h>

#include <array>

#include "pulsestream/core/errc.hpp"

namespace pulsestream::http {

namespace {

/// Owns a z_stream set up for gzip decoding.
class inflater {
public:
    inflater() {
        // 16 + MAX_WBITS: accept the gzip wrapper only (not raw deflate or zlib).
        ok_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;
    }
    ~inflater() {
        if (ok_) inflateEnd(&zs_);
    }
    inflater(const inflater&) = delete;
    inflater& operator=(const inflater&) = delete;
    [[nodiscard]] bool ok() const { return ok_; }
    z_stream& stream() { return zs_; }

private:
    z_stream zs_{};
    bool ok_ = false;
};

}  // namespace

boost::system::result<std::string> gunzip(std::string_view compressed, std::size_t limit) {
    inflater inf;
    if (!inf.ok()) return core::make_error_code(core::errc::internal_error);
    z_stream& zs = inf.stream();
    // zlib's API is not const-correct; it never writes through next_in.
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    zs.avail_in = static_cast<uInt>(compressed.size());

    std::string out;
    std::array<char, 16 * 1024> chunk{};
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
        zs.avail_out = static_cast<uInt>(chunk.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            return core::make_error_code(core::errc::invalid_json);
        }
        const std::size_t produced = chunk.size() - zs.avail_out;
        if (out.size() + produced > limit) return core::make_error_code(core::errc::payload_too_large);
        out.append(chunk.data(), produced);
        if (rc == Z_OK && produced == 0 && zs.avail_in == 0) {
            return core::make_error_code(core::errc::invalid_json);  // truncated stream
        }
    }
    if (zs.avail_in != 0) return core::make_error_code(core::errc::invalid_json);
    return out;
}

}  // namespace pulsestream::http
