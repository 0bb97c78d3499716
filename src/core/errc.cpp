#include "pulsestream/core/errc.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "text.hpp"

namespace pulsestream::core {
namespace {

constexpr std::size_t table_size = static_cast<std::size_t>(errc::internal_error) + 1;

// Indexed by the enum value; row 0 (success) is never returned by describe().
constexpr std::array<error_info, table_size> table{{
    {200, "ok", "OK", 0},
    {400, "invalid_json", "Request body is not valid JSON", 0},
    {400, "validation_failed", "Validation failed", 0},
    {400, "missing_idempotency_key", "Idempotency-Key header is required", 0},
    {400, "invalid_idempotency_key", "Idempotency-Key must be a UUID", 0},
    {401, "missing_api_key", "x-api-key header is required", 0},
    {401, "invalid_api_key", "Invalid API key", 0},
    {401, "api_key_deactivated", "API key is deactivated", 0},
    {404, "not_found", "Not found", 0},
    {405, "method_not_allowed", "Method not allowed", 0},
    {409, "idempotency_in_progress", "A request with this Idempotency-Key is being processed", 1},
    {413, "payload_too_large", "Payload too large", 0},
    {415, "unsupported_media_type", "Unsupported media type", 0},
    {422, "idempotency_key_reused", "Idempotency-Key was already used with a different body", 0},
    {429, "rate_limited", "Rate limit exceeded", 0},
    {503, "broker_unavailable", "Event broker unavailable, retry later", 5},
    {503, "auth_unavailable", "Authentication unavailable, retry later", 5},
    {400, "malformed_request", "Malformed HTTP request", 0},
    {431, "header_too_large", "Request headers are too large", 0},
    {426, "upgrade_required", "This endpoint speaks WebSocket only", 0},
    {408, "request_timeout", "The request body did not arrive in time", 0},
    {500, "internal_error", "Internal server error", 0},
}};

// boost::system::error_category has a protected non-virtual destructor by design (categories are
// never deleted through a base pointer), which -Wnon-virtual-dtor cannot know.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    // A fixed id makes codes compare equal across shared-library copies of the category.
    category() noexcept : boost::system::error_category(0x70756c7365737472ULL) {}

    const char* name() const noexcept override { return "pulsestream"; }

    std::string message(int ev) const override {
        return std::string(describe(static_cast<errc>(ev)).message);
    }

    char const* message(int ev, char* buffer, std::size_t len) const noexcept override {
        const std::string_view m = describe(static_cast<errc>(ev)).message;
        if (len == 0) return buffer;
        const std::size_t n = std::min(len - 1, m.size());
        m.copy(buffer, n);
        buffer[n] = '\0';
        return buffer;
    }
};
#pragma GCC diagnostic pop

}  // namespace

const error_info& describe(errc e) noexcept {
    const auto i = static_cast<std::size_t>(e);
    if (i == 0 || i >= table.size()) return table[static_cast<std::size_t>(errc::internal_error)];
    return table[i];
}

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

std::string error_body(errc e, std::span<const field_error> errors,
                       std::string_view message_override) {
    const error_info& info = describe(e);
    std::string out;
    out.reserve(64 + info.message.size() + errors.size() * 48);
    out += R"({"status":"error","code":)";
    detail::append_json_string(out, info.code);
    out += R"(,"message":)";
    detail::append_json_string(out, message_override.empty() ? info.message : message_override);
    if (!errors.empty()) {
        out += R"(,"errors":[)";
        bool first = true;
        for (const field_error& fe : errors) {
            if (!first) out.push_back(',');
            first = false;
            out += R"({"field":)";
            detail::append_json_string(out, fe.field);
            out += R"(,"message":)";
            detail::append_json_string(out, fe.message);
            out.push_back('}');
        }
        out.push_back(']');
    }
    out.push_back('}');
    return out;
}

}  // namespace pulsestream::core
