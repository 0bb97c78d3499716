#include "pulsestream/gateway/stream_publisher.hpp"

#include <boost/asio/bind_executor.hpp>

#include "pulsestream/gateway/redis_clients.hpp"
#include "pulsestream/metrics/gateway_metrics.hpp"
#include "pulsestream/redis/command.hpp"
#include "pulsestream/stream/ws_hub.hpp"

namespace pulsestream::gateway {

stream_publisher::stream_publisher(redis_clients& redis, metrics::gateway_metrics& metrics,
                                   std::chrono::milliseconds deadline)
    : redis_(redis), metrics_(metrics), deadline_(deadline) {}

void stream_publisher::publish(const boost::asio::any_io_executor& near,
                               const core::uuid& client, std::string events_json) {
    auto& connection = redis_.near(near);
    const auto channel = stream::ws_hub::channel_of(client);
    connection.async_command(redis::format_command({"PUBLISH", channel, events_json}), deadline_,
                             boost::asio::bind_executor(
                                 connection.get_executor(),
                                 [&metrics = metrics_](boost::system::error_code ec, redis::reply r) {
                                     if (ec || r.is_error()) metrics.redis_failure();
                                 }));
}

}  // namespace pulsestream::gateway
