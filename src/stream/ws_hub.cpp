#include "pulsestream/stream/ws_hub.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "hub_core.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"
#include "ws_session.hpp"

namespace pulsestream::stream {

namespace net = boost::asio;

namespace detail {

namespace {

/// Samples the subscription's connection and counts each outage once (lost, or down while viewers
/// wait). The hub owns no timer it would have to cancel across threads: the loop ends by itself
/// once the hub is shut down or gone.
net::awaitable<void> watch_subscription(std::weak_ptr<hub_core> weak,
                                        std::chrono::milliseconds period) {
    net::steady_timer timer(co_await net::this_coro::executor);
    bool was_connected = false;
    bool outage_counted = false;
    for (;;) {
        timer.expires_after(period);
        co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        auto core = weak.lock();
        if (!core) co_return;
        bool wanted = false;
        {
            std::lock_guard lock(core->mutex);
            if (core->closed) co_return;
            wanted = !core->channels.empty();
        }
        const bool connected = core->subscriber->connected();
        if (connected) {
            if (outage_counted) spdlog::info("stream: Redis subscription restored");
            outage_counted = false;
        } else if (!outage_counted && (was_connected || wanted)) {
            // Once per outage: lost, or never there while viewers wait.
            core->metrics.redis_subscription_error();
            spdlog::warn("stream: Redis subscription down; live streams pause until it is back");
            outage_counted = true;
        }
        was_connected = connected;
    }
}

std::shared_ptr<const channel_snapshot> snapshot_of(const hub_core::channel_entry& entry) {
    auto groups = std::make_shared<channel_snapshot>();
    for (const auto& [raw, weak] : entry.members) {
        const auto session = weak.lock();
        if (!session) continue;
        const auto& ex = session->executor();
        auto group = std::find_if(groups->begin(), groups->end(),
                                  [&](const executor_group& g) { return g.executor == ex; });
        if (group == groups->end()) group = groups->insert(groups->end(), executor_group{ex, {}});
        group->sessions.push_back(weak);
    }
    return groups;
}

}  // namespace

void hub_core::start(net::io_context::executor_type executor, redis::endpoint ep,
                     redis::link_options link) {
    std::weak_ptr<hub_core> weak = shared_from_this();
    subscriber = redis::subscriber::create(
        executor, std::move(ep),
        [weak](std::string_view channel, std::string_view message) {
            if (auto core = weak.lock()) core->on_message(channel, message);
        },
        link,
        redis::subscriber::state_handlers{
            .subscribed = options.channel_subscribed,
            .lost = {},
            .handler_failed = [](std::string_view what) {
                spdlog::error("stream: a handler threw, its message or event went unhandled: {}",
                              what);
            }});
    net::co_spawn(subscriber->get_executor(), watch_subscription(weak, options.subscription_check),
                  net::detached);
}

void hub_core::add(const std::shared_ptr<ws_session>& session) {
    std::lock_guard lock(mutex);
    all.emplace(session.get(), session);
}

bool hub_core::join(const std::shared_ptr<ws_session>& session) {
    std::lock_guard lock(mutex);
    if (closed) return false;
    auto& entry = channels[session->channel()];
    entry.members.emplace(session.get(), session);
    entry.snapshot.reset();
    // Under the mutex, so that subscribe and unsubscribe reach the subscriber's strand in the
    // order the membership changed.
    if (entry.members.size() == 1) subscriber->subscribe(session->channel());
    return true;
}

void hub_core::leave(const ws_session& session) {
    std::lock_guard lock(mutex);
    all.erase(&session);
    const auto channel = channels.find(session.channel());
    if (channel == channels.end() || channel->second.members.erase(&session) == 0) return;
    channel->second.snapshot.reset();
    if (channel->second.members.empty()) {
        // After shutdown the subscriber is closed, and its io_context may be going away.
        if (!closed) subscriber->unsubscribe(channel->first);
        channels.erase(channel);
    }
}

void hub_core::on_message(std::string_view channel, std::string_view message) {
    {
        std::lock_guard lock(mutex);
        if (!channels.contains(channel)) return;  // the last viewer just left
    }
    auto frames = split_message(message);
    if (!frames) {
        spdlog::warn("stream: dropped a message on a tenant channel that is not a JSON array");
        return;
    }
    if (frames->empty()) return;
    const auto batch = std::make_shared<const frame_batch>(std::move(*frames));
    std::shared_ptr<const channel_snapshot> snapshot;
    {
        std::lock_guard lock(mutex);
        const auto found = channels.find(channel);
        if (found == channels.end()) return;
        if (!found->second.snapshot) found->second.snapshot = snapshot_of(found->second);
        snapshot = found->second.snapshot;
    }
    for (std::size_t g = 0; g < snapshot->size(); ++g) {
        net::post((*snapshot)[g].executor, [snapshot, g, batch] {
            for (const auto& weak : (*snapshot)[g].sessions) {
                if (auto session = weak.lock()) session->deliver(batch);
            }
        });
    }
}

void hub_core::shutdown() {
    std::vector<std::weak_ptr<ws_session>> everyone;
    {
        std::lock_guard lock(mutex);
        if (closed) return;
        closed = true;
        everyone.reserve(all.size());
        for (const auto& [raw, weak] : all) everyone.push_back(weak);
    }
    subscriber->close();
    for (auto& weak : everyone) {
        auto session = weak.lock();
        if (!session) continue;
        net::post(session->executor(), [weak = std::move(weak)] {
            if (auto s = weak.lock()) s->close(boost::beast::websocket::close_code::going_away);
        });
    }
}

}  // namespace detail

ws_hub::ws_hub(hub_options options, net::io_context::executor_type subscriber_executor,
               redis::endpoint redis, metrics::gateway_metrics& metrics, redis::link_options link)
    : core_(std::make_shared<detail::hub_core>(std::move(options), metrics)) {
    core_->start(subscriber_executor, std::move(redis), link);
}

ws_hub::~ws_hub() { core_->shutdown(); }

const hub_options& ws_hub::options() const { return core_->options; }

void ws_hub::open(http::taken_connection connection, http::request upgrade,
                  const core::uuid& tenant, stream_filter filter) {
    auto session = std::make_shared<ws_session>(std::move(connection), std::move(upgrade),
                                                channel_of(tenant), std::move(filter), core_);
    core_->add(session);
    session->start();
}

void ws_hub::shutdown() { core_->shutdown(); }

std::size_t ws_hub::sessions() const {
    std::lock_guard lock(core_->mutex);
    return core_->all.size();
}

std::size_t ws_hub::tenants() const {
    std::lock_guard lock(core_->mutex);
    return core_->channels.size();
}

bool ws_hub::subscription_connected() const { return core_->subscriber->connected(); }

namespace {
constexpr std::string_view channel_prefix = "events:stream:";
}

std::string ws_hub::channel_of(const core::uuid& tenant) {
    std::string channel(channel_prefix);         // fits the small-string buffer: no allocation yet
    channel.resize(channel_prefix.size() + 36);  // the one allocation of a per-request path
    core::write_uuid(tenant, channel.data() + channel_prefix.size());
    return channel;
}

std::optional<core::uuid> ws_hub::tenant_of(std::string_view channel) {
    if (!channel.starts_with(channel_prefix)) return std::nullopt;
    return core::parse_uuid(channel.substr(channel_prefix.size()));
}

}  // namespace pulsestream::stream
