#include "api_key.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <span>
#include <system_error>

namespace pulsestream::keys {
namespace {

constexpr std::string_view base62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// Bytes at or above 248 (= 4 * 62) are thrown away, so `byte % 62` is uniform.
constexpr unsigned accept_below = 4 * base62.size();

void fill_random(std::span<unsigned char> out) {
    std::size_t filled = 0;
    while (filled < out.size()) {
        const ssize_t n = ::getrandom(out.data() + filled, out.size() - filled, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        filled += static_cast<std::size_t>(n);
    }
}

}  // namespace

std::string generate_api_key() {
    std::string key(key_scheme);
    std::array<unsigned char, 64> pool{};
    while (key.size() < key_scheme.size() + key_random_chars) {
        fill_random(pool);
        for (const unsigned char byte : pool) {
            if (byte >= accept_below) continue;
            key += base62[byte % base62.size()];
            if (key.size() == key_scheme.size() + key_random_chars) break;
        }
    }
    return key;
}

std::string key_prefix(std::string_view key) {
    return std::string(key.substr(0, key_prefix_chars));
}

}  // namespace pulsestream::keys
