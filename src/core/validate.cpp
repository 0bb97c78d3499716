#include "pulsestream/core/validate.hpp"

#include <algorithm>
#include <array>
#include <boost/system/system_error.hpp>
#include <limits>
#include <optional>
#include <unordered_set>
#include <utility>

#include "text.hpp"

namespace pulsestream::core {
namespace {

using json = nlohmann::json;

// Known event fields, in the order their errors are listed.
enum field : std::uint8_t {
    f_id,
    f_client_id,
    f_device_id,
    f_event_type,
    f_value,
    f_timestamp,
    f_metadata,
    f_received_at,
    f_count,
    f_unknown = f_count,
};

constexpr std::array<std::string_view, f_count> field_names{
    "id", "clientId", "deviceId", "eventType", "value", "timestamp", "metadata", "receivedAt"};

constexpr std::uint16_t bit(field f) { return static_cast<std::uint16_t>(1U << f); }

namespace msg {
constexpr std::string_view required = "is required";
constexpr std::string_view uuid = "must be a UUID string";
constexpr std::string_view string = "must be a string";
constexpr std::string_view event_type_length = "must be 2-50 characters";
constexpr std::string_view control = "must not contain control characters";
constexpr std::string_view number = "must be a number";
constexpr std::string_view integer = "must be an integer (epoch milliseconds)";
constexpr std::string_view object = "must be an object";
constexpr std::string_view meta_value = "must be a string, a finite number or a boolean";
constexpr std::string_view meta_string_length = "must be at most 256 characters";
constexpr std::string_view meta_nul = "must not contain NUL characters";
constexpr std::string_view meta_keys = "must have at most 32 keys";
constexpr std::string_view meta_key_length = "keys must be at most 64 characters";
constexpr std::string_view meta_key_nul = "keys must not contain NUL characters";
constexpr std::string_view item_object = "must be an event object";
constexpr std::string_view body_shape = "must be an event object or an array of event objects";
constexpr std::string_view empty_batch = "must contain at least one event";
}  // namespace msg

static_assert(event_type_min_chars == 2 && event_type_max_chars == 50);
static_assert(metadata_max_keys == 32 && metadata_key_max_chars == 64 &&
              metadata_string_max_chars == 256);

enum class mode : std::uint8_t { request, record };

enum class frame_kind : std::uint8_t { batch, event, metadata, skip };

// One JSON scalar as delivered by the SAX parser.
struct scalar {
    enum kind_t : std::uint8_t { null, boolean, integer, unsigned_integer, floating, string };
    kind_t kind = null;
    bool b = false;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
    std::string* s = nullptr;

    [[nodiscard]] bool is_number() const {
        return kind == integer || kind == unsigned_integer || kind == floating;
    }
    [[nodiscard]] double as_double() const {
        if (kind == integer) return static_cast<double>(i);
        if (kind == unsigned_integer) return static_cast<double>(u);
        return d;
    }
};

// The event object being read: values land here as they arrive and are judged at its end, so
// that errors come out in a fixed order whatever the key order.
struct item_draft {
    std::size_t index = 0;
    std::uint16_t seen = 0;
    std::array<std::string_view, f_count> error{};
    event_input in;
    uuid client_id;
    std::int64_t received_at = 0;
    bool timestamp_overflow = false;
    std::size_t metadata_keys = 0;
    bool metadata_key_too_long = false;
    bool metadata_key_nul = false;
    std::vector<field_error> metadata_errors;

    [[nodiscard]] bool valid(field f) const { return (seen & bit(f)) != 0 && error[f].empty(); }
};

struct indexed_error {
    std::size_t item;
    field_error error;
};

// |a - b| <= limit without signed overflow for any pair of int64 values.
bool within(std::int64_t a, std::int64_t b, std::int64_t limit) {
    const auto ua = static_cast<std::uint64_t>(a);
    const auto ub = static_cast<std::uint64_t>(b);
    const std::uint64_t diff = a >= b ? ua - ub : ub - ua;
    return limit >= 0 && diff <= static_cast<std::uint64_t>(limit);
}

// The SAX handler for nlohmann::json::sax_parse: reads a body or a Kafka value in one pass,
// straight into event_input values, with no DOM. It stops the parse (returns false) only for
// reasons that make the rest pointless: nesting too deep, a duplicate key, too many events.
class event_sax {
public:
    event_sax(mode m, const validation_rules& rules, std::int64_t now_ms)
        : mode_(m), rules_(rules), now_ms_(now_ms) {}

    // --- nlohmann SAX interface --------------------------------------------------------------
    bool null() { return on_scalar(scalar{}); }
    bool boolean(bool v) {
        scalar s;
        s.kind = scalar::boolean;
        s.b = v;
        return on_scalar(s);
    }
    bool number_integer(std::int64_t v) {
        scalar s;
        s.kind = scalar::integer;
        s.i = v;
        return on_scalar(s);
    }
    bool number_unsigned(std::uint64_t v) {
        scalar s;
        s.kind = scalar::unsigned_integer;
        s.u = v;
        return on_scalar(s);
    }
    bool number_float(double v, const std::string& /*raw*/) {
        scalar s;
        s.kind = scalar::floating;
        s.d = v;
        return on_scalar(s);
    }
    bool string(std::string& v) {
        scalar s;
        s.kind = scalar::string;
        s.s = &v;
        return on_scalar(s);
    }
    bool binary(json::binary_t& /*v*/) { return on_scalar(scalar{}); }
    bool start_object(std::size_t /*elements*/) { return start_container(true); }
    bool start_array(std::size_t /*elements*/) { return start_container(false); }
    bool key(std::string& k);
    bool end_object() { return end_container(); }
    bool end_array() { return end_container(); }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& /*ex*/) {
        syntax_error_at_ = position;
        return false;
    }

    // --- results -----------------------------------------------------------------------------
    parse_result take_request_result();
    record_result take_record_result();

private:
    bool on_scalar(const scalar& v);
    bool start_container(bool is_object);
    bool end_container();
    bool next_item();
    void begin_item(std::size_t index);
    void finish_item();
    void finish_batch();
    void set_field(const scalar& v);
    void set_metadata(const scalar& v);
    bool metadata_key(std::string& k);
    bool remember_other_key(std::string& k);
    [[nodiscard]] field lookup(std::string_view k) const;
    [[nodiscard]] std::string path(std::string_view name) const;
    void add_error(std::size_t item, std::string field_path, std::string_view message);
    bool fail(errc code, std::string message) {
        failure_.emplace(parse_failure{code, {}, std::move(message)});
        return false;
    }

    struct frame {
        frame_kind kind = frame_kind::skip;
    };

    mode mode_;
    const validation_rules& rules_;
    std::int64_t now_ms_;

    std::array<frame, max_json_depth> frames_{};
    std::size_t depth_ = 0;
    // Keys seen in the open object at each depth that are not tracked elsewhere (unknown fields
    // and dropped subtrees), for duplicate detection. Left empty, and so free, in the common case.
    std::array<std::unordered_set<std::string>, max_json_depth> other_keys_;

    bool is_batch_ = false;
    std::size_t items_ = 0;
    item_draft draft_;
    field pending_ = f_unknown;
    json::object_t* metadata_ = nullptr;
    json* metadata_slot_ = nullptr;
    const std::string* metadata_key_ = nullptr;

    std::vector<event_input> events_;
    std::vector<std::pair<uuid, std::size_t>> explicit_ids_;
    std::optional<event> record_;
    std::vector<indexed_error> errors_;
    bool errors_unsorted_ = false;
    bool structural_error_ = false;
    bool root_shape_error_ = false;
    std::optional<std::size_t> syntax_error_at_;
    std::optional<parse_failure> failure_;
};

field event_sax::lookup(std::string_view k) const {
    switch (k.size()) {
        case 2:
            if (k == "id" && (mode_ == mode::record || is_batch_)) return f_id;
            break;
        case 5:
            if (k == "value") return f_value;
            break;
        case 8:
            if (k == "deviceId") return f_device_id;
            if (k == "clientId" && mode_ == mode::record) return f_client_id;
            if (k == "metadata") return f_metadata;
            break;
        case 9:
            if (k == "eventType") return f_event_type;
            if (k == "timestamp") return f_timestamp;
            break;
        case 10:
            if (k == "receivedAt" && mode_ == mode::record) return f_received_at;
            break;
        default:
            break;
    }
    return f_unknown;
}

std::string event_sax::path(std::string_view name) const {
    if (!is_batch_) return std::string(name);
    std::string out = std::to_string(draft_.index);
    if (!name.empty()) {
        out.push_back('.');
        out.append(name);
    }
    return out;
}

void event_sax::add_error(std::size_t item, std::string field_path, std::string_view message) {
    errors_.push_back(indexed_error{item, field_error{std::move(field_path), std::string(message)}});
}

bool event_sax::on_scalar(const scalar& v) {
    if (depth_ == 0) {
        root_shape_error_ = true;
        return true;
    }
    switch (frames_[depth_ - 1].kind) {
        case frame_kind::batch:
            if (!next_item()) return false;
            add_error(items_ - 1, std::to_string(items_ - 1), msg::item_object);
            return true;
        case frame_kind::event:
            set_field(v);
            return true;
        case frame_kind::metadata:
            set_metadata(v);
            return true;
        case frame_kind::skip:
            return true;
    }
    return true;
}

bool event_sax::start_container(bool is_object) {
    if (depth_ == max_json_depth) {
        return fail(errc::invalid_json, "JSON nesting is deeper than 16 levels");
    }
    frame_kind kind = frame_kind::skip;
    if (depth_ == 0) {
        if (is_object) {
            kind = frame_kind::event;
            begin_item(0);
        } else if (mode_ == mode::request) {
            kind = frame_kind::batch;
            is_batch_ = true;
        } else {
            root_shape_error_ = true;
        }
    } else {
        switch (frames_[depth_ - 1].kind) {
            case frame_kind::batch:
                if (!next_item()) return false;
                if (is_object) {
                    kind = frame_kind::event;
                    begin_item(items_ - 1);
                } else {
                    add_error(items_ - 1, std::to_string(items_ - 1), msg::item_object);
                }
                break;
            case frame_kind::event:
                if (pending_ == f_metadata && is_object) {
                    kind = frame_kind::metadata;
                    metadata_ = &draft_.in.metadata.emplace(json::object())
                                     .get_ref<json::object_t&>();
                } else if (pending_ == f_metadata) {
                    draft_.error[f_metadata] = msg::object;
                } else if (pending_ != f_unknown) {
                    set_field(scalar{});  // any container is the wrong type for a scalar field
                }
                break;
            case frame_kind::metadata:
                if (metadata_slot_ != nullptr) {
                    draft_.metadata_errors.push_back(
                        {path("metadata." + *metadata_key_), std::string(msg::meta_value)});
                    metadata_slot_ = nullptr;
                }
                break;
            case frame_kind::skip:
                break;
        }
    }
    frames_[depth_++] = frame{kind};
    return true;
}

bool event_sax::end_container() {
    const frame top = frames_[--depth_];
    if (!other_keys_[depth_].empty()) other_keys_[depth_].clear();
    switch (top.kind) {
        case frame_kind::event:
            finish_item();
            break;
        case frame_kind::metadata:
            metadata_ = nullptr;
            metadata_slot_ = nullptr;
            break;
        case frame_kind::batch:
            finish_batch();
            break;
        case frame_kind::skip:
            break;
    }
    return true;
}

bool event_sax::key(std::string& k) {
    switch (frames_[depth_ - 1].kind) {
        case frame_kind::event: {
            pending_ = lookup(k);
            if (pending_ == f_unknown) return remember_other_key(k);
            if ((draft_.seen & bit(pending_)) != 0) {
                return fail(errc::invalid_json, "Duplicate key in a JSON object");
            }
            draft_.seen = static_cast<std::uint16_t>(draft_.seen | bit(pending_));
            return true;
        }
        case frame_kind::metadata:
            return metadata_key(k);
        case frame_kind::batch:
        case frame_kind::skip:
            break;
    }
    return remember_other_key(k);
}

bool event_sax::remember_other_key(std::string& k) {
    if (!other_keys_[depth_ - 1].insert(std::move(k)).second) {
        return fail(errc::invalid_json, "Duplicate key in a JSON object");
    }
    return true;
}

bool event_sax::metadata_key(std::string& k) {
    metadata_slot_ = nullptr;
    // Every key is kept (also past the limit) so that duplicates are still detected; the body
    // size bounds how many there can be.
    auto [it, inserted] = metadata_->try_emplace(std::move(k));
    if (!inserted) return fail(errc::invalid_json, "Duplicate key in a JSON object");
    if (++draft_.metadata_keys > metadata_max_keys) return true;
    const std::string& name = it->first;
    if (detail::code_points(name) > metadata_key_max_chars) {
        draft_.metadata_key_too_long = true;
        return true;
    }
    if (name.find('\0') != std::string::npos) {
        draft_.metadata_key_nul = true;
        return true;
    }
    metadata_slot_ = &it->second;
    metadata_key_ = &name;
    return true;
}

void event_sax::set_metadata(const scalar& v) {
    if (metadata_slot_ == nullptr) return;
    std::string_view problem;
    switch (v.kind) {
        case scalar::null:
            problem = msg::meta_value;
            break;
        case scalar::boolean:
            *metadata_slot_ = v.b;
            break;
        case scalar::integer:
            *metadata_slot_ = v.i;
            break;
        case scalar::unsigned_integer:
            *metadata_slot_ = v.u;
            break;
        case scalar::floating:
            *metadata_slot_ = v.d;  // finite: the parser refuses numbers out of double range
            break;
        case scalar::string:
            if (detail::code_points(*v.s) > metadata_string_max_chars) {
                problem = msg::meta_string_length;
            } else if (v.s->find('\0') != std::string::npos) {
                problem = msg::meta_nul;
            } else {
                *metadata_slot_ = std::move(*v.s);
            }
            break;
    }
    if (!problem.empty()) {
        draft_.metadata_errors.push_back({path("metadata." + *metadata_key_), std::string(problem)});
    }
    metadata_slot_ = nullptr;
}

void event_sax::set_field(const scalar& v) {
    std::string_view& error = draft_.error[pending_];
    switch (pending_) {
        case f_id:
        case f_client_id:
        case f_device_id: {
            std::optional<uuid> id;
            if (v.kind == scalar::string) id = parse_uuid(*v.s);
            if (!id) {
                error = msg::uuid;
            } else if (pending_ == f_id) {
                draft_.in.id = *id;
            } else if (pending_ == f_client_id) {
                draft_.client_id = *id;
            } else {
                draft_.in.device_id = *id;
            }
            break;
        }
        case f_event_type:
            if (v.kind != scalar::string) {
                error = msg::string;
            } else if (const std::size_t n = detail::code_points(*v.s);
                       n < event_type_min_chars || n > event_type_max_chars) {
                error = msg::event_type_length;
            } else if (detail::has_control(*v.s)) {
                error = msg::control;
            } else {
                draft_.in.event_type = std::move(*v.s);
            }
            break;
        case f_value:
            if (v.is_number()) {
                draft_.in.value = v.as_double();
            } else {
                error = msg::number;
            }
            break;
        case f_timestamp:
        case f_received_at: {
            std::int64_t t = 0;
            if (v.kind == scalar::integer) {
                t = v.i;
            } else if (v.kind == scalar::unsigned_integer &&
                       v.u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                t = static_cast<std::int64_t>(v.u);
            } else if (v.kind == scalar::unsigned_integer && pending_ == f_timestamp) {
                draft_.timestamp_overflow = true;  // an integer, but outside any skew window
                break;
            } else {
                error = msg::integer;
                break;
            }
            (pending_ == f_timestamp ? draft_.in.timestamp_ms : draft_.received_at) = t;
            break;
        }
        case f_metadata:
            error = msg::object;
            break;
        case f_unknown:
            break;
    }
}

bool event_sax::next_item() {
    if (items_ == rules_.max_batch_events) {
        return fail(errc::payload_too_large, "Too many events in one request (at most " +
                                                 std::to_string(rules_.max_batch_events) + ")");
    }
    ++items_;
    return true;
}

void event_sax::begin_item(std::size_t index) {
    draft_ = item_draft{};
    draft_.index = index;
    pending_ = f_unknown;
}

void event_sax::finish_item() {
    const auto report = [this](field f, std::string_view message) {
        add_error(draft_.index, path(field_names[f]), message);
        if (mode_ == mode::record && (f == f_id || f == f_client_id || f == f_received_at)) {
            structural_error_ = true;
        }
    };
    const bool record = mode_ == mode::record;
    for (std::uint8_t i = 0; i < f_count; ++i) {
        const auto f = static_cast<field>(i);
        if ((f == f_client_id || f == f_received_at) && !record) continue;
        if (f == f_id && !record && !is_batch_) continue;
        const bool seen = (draft_.seen & bit(f)) != 0;
        const bool optional = f == f_metadata || (f == f_id && !record);
        if (!draft_.error[f].empty()) {
            report(f, draft_.error[f]);
        } else if (!seen) {
            if (!optional) report(f, msg::required);
        } else if (f == f_timestamp) {
            const bool have_reference = !record || draft_.valid(f_received_at);
            const std::int64_t reference = record ? draft_.received_at : now_ms_;
            if (have_reference && (draft_.timestamp_overflow ||
                                   !within(draft_.in.timestamp_ms, reference,
                                           rules_.timestamp_skew_ms))) {
                report(f, "must be within " + std::to_string(rules_.timestamp_skew_ms) +
                              (record ? " ms of receivedAt" : " ms of the server time"));
            }
        } else if (f == f_metadata) {
            if (draft_.metadata_keys > metadata_max_keys) report(f, msg::meta_keys);
            if (draft_.metadata_key_too_long) report(f, msg::meta_key_length);
            if (draft_.metadata_key_nul) report(f, msg::meta_key_nul);
            for (field_error& e : draft_.metadata_errors) {
                errors_.push_back(indexed_error{draft_.index, std::move(e)});
            }
        }
    }
    if (is_batch_ && draft_.valid(f_id)) explicit_ids_.emplace_back(*draft_.in.id, draft_.index);
    if (!errors_.empty()) return;  // the request fails: no need to keep the event
    if (record) {
        record_.emplace(event{draft_.in.id.value_or(uuid{}), draft_.client_id,
                              draft_.in.device_id, std::move(draft_.in.event_type),
                              draft_.in.value, draft_.in.timestamp_ms,
                              std::move(draft_.in.metadata), draft_.received_at});
    } else {
        events_.push_back(std::move(draft_.in));
    }
}

void event_sax::finish_batch() {
    if (items_ == 0) add_error(0, std::string(), msg::empty_batch);
    if (explicit_ids_.size() < 2) return;
    std::sort(explicit_ids_.begin(), explicit_ids_.end());
    for (std::size_t i = 1; i < explicit_ids_.size(); ++i) {
        if (explicit_ids_[i].first != explicit_ids_[i - 1].first) continue;
        // Sorted by (id, index), so the first of a run is the earliest item with that id.
        std::size_t first = i - 1;
        while (first > 0 && explicit_ids_[first - 1].first == explicit_ids_[i].first) --first;
        const std::size_t item = explicit_ids_[i].second;
        add_error(item, std::to_string(item) + ".id",
                  "duplicates the id of item " + std::to_string(explicit_ids_[first].second));
        errors_unsorted_ = true;
    }
}

parse_result event_sax::take_request_result() {
    if (failure_) return std::move(*failure_);
    if (syntax_error_at_) {
        return parse_failure{errc::invalid_json, {},
                             "Invalid JSON near byte " + std::to_string(*syntax_error_at_)};
    }
    if (root_shape_error_) {
        return parse_failure{errc::validation_failed,
                             {field_error{std::string(), std::string(msg::body_shape)}},
                             {}};
    }
    if (!errors_.empty()) {
        if (errors_unsorted_) {
            std::stable_sort(errors_.begin(), errors_.end(),
                             [](const indexed_error& a, const indexed_error& b) {
                                 return a.item < b.item;
                             });
        }
        std::vector<field_error> out;
        out.reserve(errors_.size());
        for (indexed_error& e : errors_) out.push_back(std::move(e.error));
        return parse_failure{errc::validation_failed, std::move(out), {}};
    }
    return parsed_request{std::move(events_), is_batch_};
}

record_result event_sax::take_record_result() {
    if (failure_) return record_failure{record_error_class::parse, std::move(failure_->message)};
    if (syntax_error_at_) {
        return record_failure{record_error_class::parse,
                              "invalid JSON near byte " + std::to_string(*syntax_error_at_)};
    }
    if (root_shape_error_) {
        return record_failure{record_error_class::parse, "value is not a JSON object"};
    }
    if (!errors_.empty()) {
        std::string message;
        for (const indexed_error& e : errors_) {
            if (!message.empty()) message += "; ";
            message += e.error.field;
            message += ": ";
            message += e.error.message;
        }
        return record_failure{
            structural_error_ ? record_error_class::parse : record_error_class::validation,
            std::move(message)};
    }
    if (!record_) return record_failure{record_error_class::parse, "value is not a JSON object"};
    return std::move(*record_);
}

// nlohmann's lexer takes a NUL byte for the end of the input, so "{…}\0anything" would parse as
// the object alone. No JSON text holds a raw NUL (in a string it must be escaped): refused first.
std::optional<std::size_t> raw_nul(std::string_view text) {
    const auto at = text.find('\0');
    if (at == std::string_view::npos) return std::nullopt;
    return at + 1;  // counted like nlohmann's positions: bytes read up to and including it
}

}  // namespace

parse_result parse_events(std::string_view body, const validation_rules& rules,
                          std::int64_t now_ms) {
    if (const auto at = raw_nul(body)) {
        return parse_failure{
            errc::invalid_json, {}, "Invalid JSON near byte " + std::to_string(*at)};
    }
    event_sax handler(mode::request, rules, now_ms);
    json::sax_parse(body.begin(), body.end(), &handler);
    return handler.take_request_result();
}

record_result parse_kafka_value(std::string_view value, const validation_rules& rules) {
    if (const auto at = raw_nul(value)) {
        return record_failure{record_error_class::parse,
                              "invalid JSON near byte " + std::to_string(*at)};
    }
    if (auto e = parse_canonical_kafka_value(value, rules)) return std::move(*e);
    event_sax handler(mode::record, rules, 0);
    json::sax_parse(value.begin(), value.end(), &handler);
    return handler.take_record_result();
}

std::string_view to_string(record_error_class c) noexcept {
    return c == record_error_class::parse ? "parse" : "validation";
}

void throw_exception_from_error(const parse_failure& failure, const boost::source_location& loc) {
    boost::throw_exception(
        boost::system::system_error(make_error_code(failure.code), failure.message), loc);
}

void throw_exception_from_error(const record_failure& failure, const boost::source_location& loc) {
    boost::throw_exception(boost::system::system_error(make_error_code(errc::internal_error),
                                                       std::string(to_string(failure.error_class)) +
                                                           ": " + failure.message),
                           loc);
}

}  // namespace pulsestream::core
