#include "pulsestream/redis/subscriber.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>

#include <exception>
#include <functional>
#include <string_view>
#include <vector>

#include "link.hpp"

namespace pulsestream::redis {

namespace {

std::string_view view_of(const redisReply* r) {
    return r->type == REDIS_REPLY_STRING ? std::string_view(r->str, r->len) : std::string_view{};
}

using failure_report = std::function<void(std::string_view what)>;

void report(const failure_report& report_failure, std::string_view what) noexcept {
    if (!report_failure) {
        return;
    }
    try {
        report_failure(what);
    } catch (...) {
        // Nowhere left to report it.
    }
}

// Every handler runs inside a hiredis callback (a read or a disconnect): nothing may unwind
// through its C frames.
template <class Call>
void guarded(const failure_report& report_failure, Call&& call) noexcept {
    try {
        call();
    } catch (const std::exception& e) {
        report(report_failure, e.what());
    } catch (...) {
        report(report_failure, "unknown exception");
    }
}

}  // namespace

std::shared_ptr<subscriber> subscriber::create(boost::asio::io_context::executor_type executor,
                                               endpoint ep, message_handler handler,
                                               link_options options, state_handlers on_state) {
    auto self = std::make_shared<subscriber>(private_tag{}, executor, std::move(ep),
                                             std::move(handler), options, std::move(on_state));
    self->link_->start(self->weak_from_this());
    return self;
}

subscriber::subscriber(private_tag, boost::asio::io_context::executor_type executor, endpoint ep,
                       message_handler handler, link_options options, state_handlers on_state)
    : strand_(boost::asio::make_strand(executor)),
      handler_(std::move(handler)),
      on_state_(std::move(on_state)) {
    link_ = std::make_unique<detail::link>(
        strand_, std::move(ep), options,
        detail::link::callbacks{.on_ready = [this](redisAsyncContext* ac) { on_ready(ac); },
                                .on_lost = [this] { on_lost(); },
                                .read_round = {}});
}

subscriber::~subscriber() {
    closed_ = true;
    link_->stop();
}

bool subscriber::connected() const noexcept { return link_->connected(); }

std::uint64_t subscriber::connects() const noexcept { return link_->connects(); }

void subscriber::subscribe(std::string channel) {
    boost::asio::post(strand_, [self = shared_from_this(), channel = std::move(channel)]() mutable {
        if (self->closed_) {
            return;
        }
        const auto [it, inserted] = self->channels_.insert(std::move(channel));
        if (!inserted) {
            return;
        }
        if (auto* ac = self->link_->context()) {
            self->send(ac, "SUBSCRIBE", {*it});
        }
    });
}

void subscriber::unsubscribe(std::string channel) {
    boost::asio::post(strand_, [self = shared_from_this(), channel = std::move(channel)] {
        if (self->channels_.erase(channel) == 0) {
            return;
        }
        if (auto* ac = self->link_->context()) {
            self->send(ac, "UNSUBSCRIBE", {channel});
        }
    });
}

void subscriber::close() {
    boost::asio::post(strand_, [self = shared_from_this()] {
        self->closed_ = true;
        self->link_->stop();
    });
}

void subscriber::on_ready(redisAsyncContext* ac) {
    if (!channels_.empty()) {
        send(ac, "SUBSCRIBE", channels_);  // a fresh connection has no subscriptions
    }
}

void subscriber::send(redisAsyncContext* ac, std::string_view command,
                      const std::set<std::string, std::less<>>& channels) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    argv.reserve(channels.size() + 1);
    lengths.reserve(channels.size() + 1);
    argv.push_back(command.data());
    lengths.push_back(command.size());
    for (const auto& channel : channels) {
        argv.push_back(channel.data());
        lengths.push_back(channel.size());
    }
    // Every channel gets the same callback and privdata: hiredis calls it for the SUBSCRIBE
    // confirmation and then once per message. The privdata is this subscriber, which outlives
    // the context (the destructor frees it). UNSUBSCRIBE takes no callback; hiredis refuses it
    // when nothing is subscribed, which is fine to ignore.
    redisAsyncCommandArgv(ac, &subscriber::handle_message, this, static_cast<int>(argv.size()),
                          argv.data(), lengths.data());
}

void subscriber::handle_message(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
    if (reply != nullptr) {
        static_cast<subscriber*>(privdata)->on_message(reply);
    }
    // NULL: the context is going away; the link reconnects and on_ready() resubscribes.
}

void subscriber::on_message(const void* raw) {
    const auto* r = static_cast<const redisReply*>(raw);
    if (closed_ || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        return;
    }
    const std::string_view kind = view_of(r->element[0]);
    const std::string_view channel = view_of(r->element[1]);
    if (!channels_.contains(channel)) {
        return;  // unsubscribed, confirmation still on its way
    }
    if (kind != "message") {
        on_confirmation(kind, channel);
        return;
    }
    guarded(on_state_.handler_failed, [&] { handler_(channel, view_of(r->element[2])); });
}

void subscriber::on_lost() {
    if (closed_ || !on_state_.lost) {
        return;
    }
    guarded(on_state_.handler_failed, [&] { on_state_.lost(); });
}

void subscriber::on_confirmation(std::string_view kind, std::string_view channel) {
    if (kind != "subscribe" || !on_state_.subscribed) {
        return;
    }
    guarded(on_state_.handler_failed, [&] { on_state_.subscribed(channel); });
}

}  // namespace pulsestream::redis
