#include "cache_invalidator.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "pulsestream/redis/endpoint.hpp"

namespace pulsestream::keys {
namespace {

constexpr std::string_view invalidate_channel = "auth:invalidate";

struct context_deleter {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
};
using context_ptr = std::unique_ptr<redisContext, context_deleter>;

struct reply_deleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

timeval to_timeval(std::chrono::milliseconds ms) {
    return timeval{static_cast<time_t>(ms.count() / 1000),
                   static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// One command; the reply, or an error message for a failed connection or an error reply.
class session {
public:
    session(const redis::endpoint& ep, std::chrono::milliseconds timeout) {
        const timeval tv = to_timeval(timeout);
        ctx_.reset(redisConnectWithTimeout(ep.host.c_str(), ep.port, tv));
        if (!ctx_) throw std::runtime_error("cannot allocate a Redis context");
        if (ctx_->err != 0) throw std::runtime_error(ctx_->errstr);
        if (redisSetTimeout(ctx_.get(), tv) != REDIS_OK) throw std::runtime_error(ctx_->errstr);
        if (ep.password) {
            std::vector<std::string> auth{"AUTH"};
            if (ep.username) auth.push_back(*ep.username);
            auth.push_back(*ep.password);
            run(auth);
        }
        if (ep.db != 0) run({"SELECT", std::to_string(ep.db)});
    }

    reply_ptr run(const std::vector<std::string>& args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lengths;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lengths.push_back(a.size());
        }
        reply_ptr reply(static_cast<redisReply*>(redisCommandArgv(
            ctx_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
        if (!reply) throw std::runtime_error(ctx_->errstr[0] != '\0' ? ctx_->errstr : "no reply");
        if (reply->type == REDIS_REPLY_ERROR) {
            throw std::runtime_error(args[0] + ": " + std::string(reply->str, reply->len));
        }
        return reply;
    }

private:
    context_ptr ctx_;
};

redis::endpoint endpoint_of(const std::string& url) {
    auto ep = redis::parse_redis_url(url);
    if (!ep)
        throw std::invalid_argument(
            "REDIS_URL: expected redis://[[user]:password@]host[:port][/db]");
    return *ep;
}

std::string cache_key(const std::string& hash) { return "auth:" + hash; }

}  // namespace

cache_invalidator::cache_invalidator(std::string redis_url, std::chrono::milliseconds timeout)
    : url_(std::move(redis_url)), timeout_(timeout) {
    (void)endpoint_of(url_);
}

invalidation_report cache_invalidator::invalidate(const std::vector<std::string>& key_hashes,
                                                  std::chrono::milliseconds settle) {
    auto report = publish(key_hashes);
    if (!report.delivered || settle.count() == 0) return report;
    std::this_thread::sleep_for(settle);
    auto again = delete_again(key_hashes);
    if (!again.delivered) {
        report.delivered = false;
        report.error = "second DEL: " + again.error;
    }
    return report;
}

invalidation_report cache_invalidator::publish(const std::vector<std::string>& key_hashes) {
    invalidation_report report;
    try {
        session s(endpoint_of(url_), timeout_);
        std::optional<long long> fewest;
        for (const auto& hash : key_hashes) {
            s.run({"DEL", cache_key(hash)});
            const auto reply = s.run({"PUBLISH", std::string(invalidate_channel), hash});
            const long long receivers = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
            if (!fewest || receivers < *fewest) fewest = receivers;
        }
        report.delivered = true;
        report.subscribers = fewest.value_or(0);
    } catch (const std::exception& e) {
        report.error = e.what();
    }
    return report;
}

invalidation_report cache_invalidator::delete_again(const std::vector<std::string>& key_hashes) {
    invalidation_report report;
    try {
        session s(endpoint_of(url_), timeout_);
        for (const auto& hash : key_hashes) s.run({"DEL", cache_key(hash)});
        report.delivered = true;
    } catch (const std::exception& e) {
        report.error = e.what();
    }
    return report;
}

}  // namespace pulsestream::keys
