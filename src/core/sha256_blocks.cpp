#include "pulsestream/core/sha256_blocks.hpp"

#include <bit>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define PULSESTREAM_X86 1
#endif

namespace pulsestream::core {
namespace {

alignas(16) constexpr std::array<std::uint32_t, 64> round_constants{
    0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U,
    0xab1c5ed5U, 0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU,
    0x9bdc06a7U, 0xc19bf174U, 0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU,
    0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU, 0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U,
    0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U, 0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU,
    0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U, 0xa2bfe8a1U, 0xa81a664bU,
    0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U, 0x19a4c116U,
    0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
    0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U,
    0xc67178f2U};

void compress_portable(sha256_state& state, const std::uint8_t* block) noexcept {
    std::array<std::uint32_t, 64> w{};
    for (std::size_t t = 0; t < 16; ++t) {
        w[t] = (std::uint32_t{block[4 * t]} << 24U) | (std::uint32_t{block[4 * t + 1]} << 16U) |
               (std::uint32_t{block[4 * t + 2]} << 8U) | std::uint32_t{block[4 * t + 3]};
    }
    for (std::size_t t = 16; t < 64; ++t) {
        const std::uint32_t s0 =
            std::rotr(w[t - 15], 7) ^ std::rotr(w[t - 15], 18) ^ (w[t - 15] >> 3U);
        const std::uint32_t s1 =
            std::rotr(w[t - 2], 17) ^ std::rotr(w[t - 2], 19) ^ (w[t - 2] >> 10U);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    auto [a, b, c, d, e, f, g, h] = state;
    for (std::size_t t = 0; t < 64; ++t) {
        const std::uint32_t s1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
        const std::uint32_t ch = (e & f) ^ (~e & g);
        const std::uint32_t t1 = h + s1 + ch + round_constants[t] + w[t];
        const std::uint32_t s0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
        const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        const std::uint32_t t2 = s0 + maj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

#ifdef PULSESTREAM_X86

#define PULSESTREAM_SHA_TARGET __attribute__((target("sha,sse4.1")))

// Two rounds per sha256rnds2: the low half of `schedule_plus_k` feeds the first call, the high
// half (moved down) the second. The state lives as ABEF and CDGH, the instructions' layout.
PULSESTREAM_SHA_TARGET inline void four_rounds(__m128i& abef, __m128i& cdgh, __m128i words,
                                               std::size_t group) noexcept {
    const auto k4 = _mm_load_si128(
        reinterpret_cast<const __m128i*>(round_constants.data() + 4 * group));
    __m128i wk = _mm_add_epi32(words, k4);
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
    wk = _mm_shuffle_epi32(wk, 0x0E);
    abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
}

// W[4g..4g+3] from the four previous groups: W[t-16] + s0(W[t-15]) (msg1), + W[t-7] (the
// words straddling the two previous groups), + s1(W[t-2]) (msg2).
PULSESTREAM_SHA_TARGET inline __m128i next_words(__m128i w4, __m128i w3, __m128i w2,
                                                 __m128i w1) noexcept {
    const __m128i partial =
        _mm_add_epi32(_mm_sha256msg1_epu32(w4, w3), _mm_alignr_epi8(w1, w2, 4));
    return _mm_sha256msg2_epu32(partial, w1);
}

PULSESTREAM_SHA_TARGET void compress_sha_ni(sha256_state& state, const std::uint8_t* data,
                                            std::size_t blocks) noexcept {
    // Big-endian words in each 32-bit lane.
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    const __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state.data()));
    const __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state.data() + 4));
    const __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);

    for (; blocks != 0; --blocks, data += 64) {
        const __m128i abef_before = abef;
        const __m128i cdgh_before = cdgh;
        __m128i w[4] = {};  // the last four groups of the message schedule, as a ring
        for (std::size_t group = 0; group < 16; ++group) {
            __m128i words;
            if (group < 4) {
                words = _mm_shuffle_epi8(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * group)),
                    byte_swap);
            } else {
                words = next_words(w[group % 4], w[(group + 1) % 4], w[(group + 2) % 4],
                                   w[(group + 3) % 4]);
            }
            w[group % 4] = words;
            four_rounds(abef, cdgh, words, group);
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }

    const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state.data()), _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state.data() + 4), _mm_alignr_epi8(dchg, feba, 8));
}

bool detect_sha_ni() noexcept {
    unsigned eax = 0;
    unsigned ebx = 0;
    unsigned ecx = 0;
    unsigned edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & bit_SSE4_1) == 0) return false;
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
    return (ebx & bit_SHA) != 0;
}

#endif  // PULSESTREAM_X86

}  // namespace

void sha256_blocks_portable(sha256_state& state, const std::uint8_t* data,
                            std::size_t blocks) noexcept {
    for (; blocks != 0; --blocks, data += 64) compress_portable(state, data);
}

#ifdef PULSESTREAM_X86
bool cpu_has_sha_ni() noexcept {
    static const bool has = detect_sha_ni();
    return has;
}

void sha256_blocks_sha_ni(sha256_state& state, const std::uint8_t* data,
                          std::size_t blocks) noexcept {
    compress_sha_ni(state, data, blocks);
}
#else
bool cpu_has_sha_ni() noexcept { return false; }

void sha256_blocks_sha_ni(sha256_state& state, const std::uint8_t* data,
                          std::size_t blocks) noexcept {
    sha256_blocks_portable(state, data, blocks);
}
#endif

void sha256_blocks(sha256_state& state, const std::uint8_t* data, std::size_t blocks) noexcept {
    if (cpu_has_sha_ni()) {
        sha256_blocks_sha_ni(state, data, blocks);
    } else {
        sha256_blocks_portable(state, data, blocks);
    }
}

}  // namespace pulsestream::core
