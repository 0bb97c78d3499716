#include "pulsestream/redis/reply.hpp"

#include "reply_copy.hpp"

namespace pulsestream::redis {

std::string_view to_string(reply::kind k) noexcept {
    switch (k) {
        case reply::kind::string:
            return "string";
        case reply::kind::array:
            return "array";
        case reply::kind::integer:
            return "integer";
        case reply::kind::nil:
            return "nil";
        case reply::kind::status:
            return "status";
        case reply::kind::error:
            return "error";
    }
    return "unknown";
}

namespace detail {

reply copy_reply(const redisReply& r) {
    reply out;
    switch (r.type) {
        case REDIS_REPLY_STRING:
            out.type = reply::kind::string;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = reply::kind::status;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = reply::kind::error;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = reply::kind::integer;
            out.integer = r.integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = reply::kind::array;
            out.elements.reserve(r.elements);
            for (std::size_t i = 0; i < r.elements; ++i) {
                out.elements.push_back(copy_reply(*r.element[i]));
            }
            break;
        default:  // REDIS_REPLY_NIL; hiredis 0.14 speaks RESP2 only
            out.type = reply::kind::nil;
            break;
    }
    return out;
}

}  // namespace detail
}  // namespace pulsestream::redis
