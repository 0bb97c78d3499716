#pragma once

/// @file
/// What one gateway knows about who watches each tenant's live stream, so that it can skip the
/// PUBLISH that no subscriber would receive (DESIGN.md §4).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "pulsestream/core/uuid.hpp"

namespace pulsestream::gateway {

/// Tenants whose stream channel Redis last reported as having no subscriber ("unwatched").
///
/// A PUBLISH's reply is the number of subscribers that received the message. After a reply of
/// 0 the tenant is unwatched and its events are not published for up to `recheck`; then one
/// PUBLISH asks again. A gateway whose SUBSCRIBE to a tenant's channel Redis has confirmed
/// announces it on the watch channel, and every gateway that hears the announcement forgets
/// the mark at once, so a new viewer waits for the announcement's round trip, not for
/// `recheck` (which only bounds the damage of an announcement lost on the way).
///
/// Why no mark can outlive a viewer's arrival: the announcement reaches Redis after the
/// viewer's SUBSCRIBE, so a PUBLISH that still found nobody reached Redis before the
/// announcement. Its reply is only believed when no announcement arrived between sending the
/// PUBLISH and reading the reply (the epoch, which every announcement and every change of
/// hearing moves on), and only while this gateway is subscribed to the watch channel
/// (hearing): a mark set before the announcement arrives is erased by it. While not hearing,
/// for example before the first subscription or after a lost connection, nothing is skipped,
/// and the marks of before are dropped.
///
/// Thread-safe; every member takes one short lock.
class stream_audience {
public:
    using clock = std::chrono::steady_clock;

    struct options {
        /// How long a reply of 0 is trusted before one PUBLISH asks again.
        clock::duration recheck = std::chrono::seconds(1);
        /// Most tenants marked at once (bounded memory); beyond it, more are just published.
        std::size_t max_unwatched = 100'000;
    };

    stream_audience();
    explicit stream_audience(options o);

    /// Whether to publish `tenant`'s events now: not while it is known to have no subscriber;
    /// otherwise yes, with the epoch to hand to heard() along with the PUBLISH's reply.
    [[nodiscard]] std::optional<std::uint64_t> publish_ticket(const core::uuid& tenant,
                                                              clock::time_point now);
    /// The PUBLISH for `tenant` sent at `sent_epoch` reached `receivers` subscribers.
    void heard(const core::uuid& tenant, long long receivers, std::uint64_t sent_epoch,
               clock::time_point now);

    /// An announcement: some gateway now watches `tenant`.
    void watched(const core::uuid& tenant);
    /// Whether announcements reach this gateway (its subscription to the watch channel is
    /// confirmed) or not (not yet, or the connection was lost).
    void hearing(bool yes);

    /// Tenants marked unwatched now (the expired ones until they are asked again).
    [[nodiscard]] std::size_t unwatched() const;

private:
    const options options_;
    mutable std::mutex mutex_;
    bool hearing_ = false;
    std::uint64_t epoch_ = 0;
    std::unordered_map<core::uuid, clock::time_point> unwatched_since_;
};

}  // namespace pulsestream::gateway
