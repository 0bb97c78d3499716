#pragma once

/// @file
/// One place under the server's connection cap (`server_options::max_connections`), held by a
/// connection that left the HTTP server (a WebSocket after the upgrade): the server counts it
/// until the slot is destroyed, so upgraded sockets cannot grow past the cap unnoticed.

#include <atomic>
#include <cstddef>
#include <memory>

namespace pulsestream::http {

/// Move-only. Counts +1 while it holds a counter; an empty (default-constructed or moved-from)
/// slot counts nothing. May be destroyed on any thread; keeps the counter alive by itself.
class connection_slot {
public:
    connection_slot() noexcept = default;
    /// Takes a place: increments `*counter`, which the destructor decrements again.
    explicit connection_slot(std::shared_ptr<std::atomic<std::size_t>> counter) noexcept;
    ~connection_slot();

    connection_slot(connection_slot&& other) noexcept = default;
    connection_slot& operator=(connection_slot&& other) noexcept;
    connection_slot(const connection_slot&) = delete;
    connection_slot& operator=(const connection_slot&) = delete;

    /// True while this slot holds a place.
    [[nodiscard]] bool held() const noexcept { return counter_ != nullptr; }

private:
    void release() noexcept;

    std::shared_ptr<std::atomic<std::size_t>> counter_;
};

}  // namespace pulsestream::http
