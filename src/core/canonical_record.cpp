// The consumer's fast path: a value exactly as to_kafka_value writes it (fixed key order, no
// whitespace, plain ASCII text) is read by this small scanner instead of the general SAX parser,
// which costs most of the consumer's CPU. Anything unusual (an escape, a non-ASCII byte, another
// key order, a number outside int64/uint64/double range, any rule broken) makes it give up, and
// parse_kafka_value then runs the full parser, which also words the errors. So this scanner only
// ever has to be right about values that are valid; tests/fuzz checks it against a DOM reference.

#include <charconv>
#include <limits>
#include <optional>
#include <string_view>

#include "pulsestream/core/validate.hpp"
#include "text.hpp"

namespace pulsestream::core {
namespace {

using json = nlohmann::json;

// One JSON number token as nlohmann classifies it: an integer without fraction or exponent is
// unsigned when non-negative, signed when negative, if it fits; anything else is a double.
struct number_token {
    enum kind_t : std::uint8_t { signed_integer, unsigned_integer, floating } kind = floating;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;

    [[nodiscard]] double as_double() const {
        if (kind == signed_integer) return static_cast<double>(i);
        if (kind == unsigned_integer) return static_cast<double>(u);
        return d;
    }
    [[nodiscard]] std::optional<std::int64_t> as_int64() const {
        if (kind == signed_integer) return i;
        if (kind == unsigned_integer && u <= std::numeric_limits<std::int64_t>::max()) {
            return static_cast<std::int64_t>(u);
        }
        return std::nullopt;
    }
    [[nodiscard]] json to_json() const {
        if (kind == signed_integer) return i;
        if (kind == unsigned_integer) return u;
        return d;
    }
};

class canonical_scanner {
public:
    explicit canonical_scanner(std::string_view text) : text_(text) {}

    [[nodiscard]] bool at_end() const { return pos_ == text_.size(); }

    bool literal(std::string_view expected) {
        if (text_.substr(pos_, expected.size()) != expected) return false;
        pos_ += expected.size();
        return true;
    }

    bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

    std::optional<uuid> quoted_uuid() {
        constexpr std::size_t quoted_size = 38;
        if (text_.size() - pos_ < quoted_size || text_[pos_] != '"' ||
            text_[pos_ + quoted_size - 1] != '"') {
            return std::nullopt;
        }
        const auto id = parse_uuid(text_.substr(pos_ + 1, 36));
        pos_ += quoted_size;
        return id;
    }

    /// A string of printable ASCII and DEL only: no escape, no control below U+0020, no byte
    /// above 0x7F (UTF-8 text goes to the full parser, which checks it is well formed).
    std::optional<std::string_view> plain_string() {
        if (!peek('"')) return std::nullopt;
        const std::size_t start = ++pos_;
        while (pos_ < text_.size()) {
            const auto c = static_cast<unsigned char>(text_[pos_]);
            if (c == '"') return text_.substr(start, pos_++ - start);
            if (c < 0x20U || c == '\\' || c > 0x7FU) return std::nullopt;
            ++pos_;
        }
        return std::nullopt;
    }

    /// A number token of JSON's grammar, converted as nlohmann would; nullopt when the grammar
    /// does not match or the value does not fit (those cases are the full parser's).
    std::optional<number_token> number() {
        const std::size_t start = pos_;
        const bool negative = peek('-');
        if (negative) ++pos_;
        if (peek('0')) {
            ++pos_;
        } else if (!digits()) {
            return std::nullopt;
        }
        bool integral = true;
        if (peek('.')) {
            ++pos_;
            if (!digits()) return std::nullopt;
            integral = false;
        }
        if (peek('e') || peek('E')) {
            ++pos_;
            if (peek('+') || peek('-')) ++pos_;
            if (!digits()) return std::nullopt;
            integral = false;
        }
        const char* first = text_.data() + start;
        const char* last = text_.data() + pos_;
        number_token n;
        std::from_chars_result res{};
        if (integral && negative) {
            n.kind = number_token::signed_integer;
            res = std::from_chars(first, last, n.i);
        } else if (integral) {
            n.kind = number_token::unsigned_integer;
            res = std::from_chars(first, last, n.u);
        } else {
            n.kind = number_token::floating;
            res = std::from_chars(first, last, n.d);
        }
        if (integral && res.ec == std::errc::result_out_of_range) {
            // Like nlohmann: an integer beyond 64 bits is read as a double.
            n.kind = number_token::floating;
            res = std::from_chars(first, last, n.d);
        }
        if (res.ec != std::errc() || res.ptr != last) return std::nullopt;
        return n;
    }

private:
    bool digits() {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
        return pos_ > start;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

bool valid_event_type(std::string_view type) {
    // ASCII only here, so bytes are code points.
    return type.size() >= event_type_min_chars && type.size() <= event_type_max_chars &&
           !detail::has_control(type);
}

// `{}` or `{"key":value,...}` with plain keys and values that are plain strings, numbers or
// booleans, within the metadata limits; nullopt for anything else.
std::optional<json> read_metadata(canonical_scanner& in) {
    if (!in.literal("{")) return std::nullopt;
    json::object_t object;
    if (in.literal("}")) return json(std::move(object));
    do {
        const auto key = in.plain_string();
        if (!key || key->size() > metadata_key_max_chars || !in.literal(":")) return std::nullopt;
        json value;
        if (in.peek('"')) {
            const auto s = in.plain_string();
            if (!s || s->size() > metadata_string_max_chars) return std::nullopt;
            value = std::string(*s);
        } else if (in.literal("true")) {
            value = true;
        } else if (in.literal("false")) {
            value = false;
        } else if (const auto n = in.number()) {
            value = n->to_json();
        } else {
            return std::nullopt;
        }
        // A duplicate key is invalid JSON to the full parser.
        if (!object.emplace(std::string(*key), std::move(value)).second) return std::nullopt;
        if (object.size() > metadata_max_keys) return std::nullopt;
    } while (in.literal(","));
    if (!in.literal("}")) return std::nullopt;
    return json(std::move(object));
}

bool within_skew(std::int64_t timestamp, std::int64_t received_at, std::int64_t skew) {
    const auto a = static_cast<std::uint64_t>(timestamp);
    const auto b = static_cast<std::uint64_t>(received_at);
    const std::uint64_t diff = timestamp >= received_at ? a - b : b - a;
    return skew >= 0 && diff <= static_cast<std::uint64_t>(skew);
}

}  // namespace

std::optional<event> parse_canonical_kafka_value(std::string_view value,
                                                 const validation_rules& rules) {
    canonical_scanner in(value);
    event e;
    std::optional<uuid> id;
    if (!in.literal(R"({"id":)") || !(id = in.quoted_uuid())) return std::nullopt;
    e.id = *id;
    if (!in.literal(R"(,"clientId":)") || !(id = in.quoted_uuid())) return std::nullopt;
    e.client_id = *id;
    if (!in.literal(R"(,"deviceId":)") || !(id = in.quoted_uuid())) return std::nullopt;
    e.device_id = *id;

    if (!in.literal(R"(,"eventType":)")) return std::nullopt;
    const auto type = in.plain_string();
    if (!type || !valid_event_type(*type)) return std::nullopt;
    e.event_type = std::string(*type);

    std::optional<number_token> n;
    if (!in.literal(R"(,"value":)") || !(n = in.number())) return std::nullopt;
    e.value = n->as_double();

    if (!in.literal(R"(,"timestamp":)") || !(n = in.number())) return std::nullopt;
    const auto timestamp = n->as_int64();
    if (!timestamp) return std::nullopt;
    e.timestamp_ms = *timestamp;

    if (in.literal(R"(,"metadata":)")) {
        e.metadata = read_metadata(in);
        if (!e.metadata) return std::nullopt;
    }

    if (!in.literal(R"(,"receivedAt":)") || !(n = in.number())) return std::nullopt;
    const auto received_at = n->as_int64();
    if (!received_at || !in.literal("}") || !in.at_end()) return std::nullopt;
    e.received_at_ms = *received_at;

    if (!within_skew(e.timestamp_ms, e.received_at_ms, rules.timestamp_skew_ms)) {
        return std::nullopt;
    }
    return e;
}

}  // namespace pulsestream::core
