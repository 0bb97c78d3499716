#include "pulsestream/gateway/stream_publisher.hpp"

#include <boost/asio/bind_executor.hpp>

#include "pulsestream/gateway/redis_clients.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"
#include "pulsestream/redis/command.hpp"
#include "pulsestream/stream/ws_hub.hpp"

namespace pulsestream::gateway {

stream_publisher::stream_publisher(redis_clients& redis, metrics::gateway_metrics& metrics,
                                   std::chrono::milliseconds deadline,
                                   stream_audience::options audience)
    : redis_(redis), metrics_(metrics), deadline_(deadline), audience_(audience) {}

void stream_publisher::publish(const boost::asio::any_io_executor& near,
                               const core::uuid& client, std::string events_json) {
    const auto ticket = audience_.publish_ticket(client, stream_audience::clock::now());
    if (!ticket) {
        metrics_.stream_publish_skipped();
        return;
    }
    auto& connection = redis_.near(near);
    connection.async_command(
        redis::format_command({"PUBLISH", stream::ws_hub::channel_of(client), events_json}),
        deadline_,
        boost::asio::bind_executor(connection.get_executor(),
                                   [&metrics = metrics_, &audience = audience_, client,
                                    epoch = *ticket](boost::system::error_code ec, redis::reply r) {
                                       if (ec || r.is_error()) {
                                           metrics.redis_failure();
                                       } else if (r.type == redis::reply::kind::integer) {
                                           audience.heard(client, r.integer, epoch,
                                                          stream_audience::clock::now());
                                       }
                                   }));
}

void stream_publisher::announce_watching(const boost::asio::any_io_executor& near,
                                         std::string_view channel) {
    auto& connection = redis_.near(near);
    connection.async_command(
        redis::format_command({"PUBLISH", watch_channel, channel}), deadline_,
        boost::asio::bind_executor(
            connection.get_executor(),
            [&metrics = metrics_](boost::system::error_code ec, redis::reply r) {
                // Lost: the others ask again after their recheck.
                if (ec || r.is_error()) metrics.redis_failure();
            }));
}

void stream_publisher::heard_announcement(std::string_view channel) {
    if (const auto tenant = stream::ws_hub::tenant_of(channel)) audience_.watched(*tenant);
}

void stream_publisher::hearing_announcements(bool yes) { audience_.hearing(yes); }

}  // namespace pulsestream::gateway
