#include "link.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string_view>

namespace pulsestream::redis::detail {

link::link(strand_type strand, endpoint ep, link_options options, callbacks cbs)
    : strand_(strand),
      endpoint_(std::move(ep)),
      options_(options),
      callbacks_(std::move(cbs)),
      adapter_(strand, [this] { on_cleanup(); }, callbacks_.read_round),
      resolver_(strand),
      connect_timer_(strand),
      reconnect_timer_(strand),
      backoff_(options.reconnect_min) {}

link::~link() { stop(); }

void link::start(std::weak_ptr<void> owner) {
    owner_ = std::move(owner);
    boost::asio::post(strand_, [owner = owner_, this] {
        if (auto keep = owner.lock()) {
            connect();
        }
    });
}

void link::stop() {
    stopped_ = true;
    connect_timer_.cancel();
    reconnect_timer_.cancel();
    resolver_.cancel();
    if (ac_ != nullptr) {
        redisAsyncFree(ac_);  // runs on_cleanup() before it returns
    }
}

void link::drop() {
    if (ac_ != nullptr) {
        redisAsyncFree(ac_);
    }
}

void link::connect() {
    if (stopped_ || ac_ != nullptr) {
        return;
    }
    const auto attempt = ++attempt_;
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([owner = owner_, this, attempt](const boost::system::error_code& ec) {
        auto keep = owner.lock();
        if (!keep || ec || attempt != attempt_ || ready_ || stopped_) {
            return;
        }
        if (ac_ != nullptr) {
            redisAsyncFree(ac_);  // on_cleanup() schedules the retry
        } else {
            ++attempt_;  // the resolve still running is now stale
            resolver_.cancel();
            attempt_failed();
        }
    });

    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(endpoint_.host, ec);
    if (!ec) {
        connect_to(address.to_string());
        return;
    }
    // hiredis would resolve with a blocking getaddrinfo() on this io thread; Asio's resolver
    // runs it on its own thread, and hiredis then gets a numeric address.
    resolver_.async_resolve(
        endpoint_.host, std::to_string(endpoint_.port),
        [owner = owner_, this, attempt](
            const boost::system::error_code& resolve_ec,
            const boost::asio::ip::tcp::resolver::results_type& results) {
            auto keep = owner.lock();
            if (!keep || attempt != attempt_ || stopped_) {
                return;
            }
            if (resolve_ec || results.empty()) {
                attempt_failed();
                return;
            }
            // hiredis tries one address; Redis usually binds IPv4 (127.0.0.1, 0.0.0.0).
            auto chosen = results.begin()->endpoint().address();
            for (const auto& entry : results) {
                if (entry.endpoint().address().is_v4()) {
                    chosen = entry.endpoint().address();
                    break;
                }
            }
            connect_to(chosen.to_string());
        });
}

void link::connect_to(const std::string& address) {
    // Non-blocking connect(2): returns at once, completion is seen as writability.
    redisAsyncContext* ac = redisAsyncConnect(address.c_str(), endpoint_.port);
    if (ac == nullptr) {
        attempt_failed();
        return;
    }
    if (ac->err != 0 || adapter_.attach(ac, owner_)) {
        redisAsyncFree(ac);  // no hooks installed yet: frees and closes the fd, nothing else
        attempt_failed();
        return;
    }
    ac->data = this;
    ac_ = ac;
    redisEnableKeepAlive(&ac->c);  // a dead peer is noticed even on an idle subscriber
    redisAsyncSetConnectCallback(ac, &link::handle_connect);  // arms the first write wait
}

void link::handle_connect(const redisAsyncContext* ac, int status) {
    // On failure hiredis frees the context right after this returns; on_cleanup() follows.
    if (status == REDIS_OK) {
        static_cast<link*>(ac->data)->on_connected();
    }
}

void link::on_connected() {
    handshake_pending_ = 0;
    auto send = [this](std::initializer_list<std::string_view> args) {
        std::array<const char*, 3> argv{};
        std::array<std::size_t, 3> lengths{};
        std::size_t n = 0;
        for (const auto arg : args) {
            argv[n] = arg.data();
            lengths[n] = arg.size();
            ++n;
        }
        if (redisAsyncCommandArgv(ac_, &link::handle_handshake_reply, this, static_cast<int>(n),
                                  argv.data(), lengths.data()) == REDIS_OK) {
            ++handshake_pending_;
        }
        // On failure the attempt never becomes ready and the connect timer abandons it.
    };
    if (endpoint_.password) {
        if (endpoint_.username) {
            send({"AUTH", *endpoint_.username, *endpoint_.password});
        } else {
            send({"AUTH", *endpoint_.password});
        }
    }
    const std::string db = std::to_string(endpoint_.db);
    if (endpoint_.db != 0) {
        send({"SELECT", db});
    }
    // Usable only once the server answered: a hung server accepts TCP connections (the kernel
    // does) but never answers, and must not count as connected.
    send({"PING"});
}

void link::handle_handshake_reply(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
    static_cast<link*>(privdata)->on_handshake_reply(reply);
}

void link::on_handshake_reply(const void* reply) {
    if (reply == nullptr || ac_ == nullptr) {
        return;  // the context is going away; on_cleanup() handles it
    }
    if (static_cast<const redisReply*>(reply)->type == REDIS_REPLY_ERROR) {
        // Wrong password or database: retry after the backoff (the server may be fixed).
        // Inside a reply callback hiredis defers the free until the callback returns.
        redisAsyncFree(ac_);
        return;
    }
    if (--handshake_pending_ == 0) {
        become_ready();
    }
}

void link::become_ready() {
    ready_ = true;
    backoff_ = options_.reconnect_min;
    connect_timer_.cancel();
    connects_.fetch_add(1, std::memory_order_relaxed);
    connected_.store(true, std::memory_order_release);
    if (callbacks_.on_ready) {
        callbacks_.on_ready(ac_);
    }
}

void link::on_cleanup() {
    ac_ = nullptr;
    ready_ = false;
    handshake_pending_ = 0;
    connected_.store(false, std::memory_order_release);
    connect_timer_.cancel();
    if (callbacks_.on_lost) {
        callbacks_.on_lost();
    }
    schedule_reconnect();
}

void link::attempt_failed() {
    connect_timer_.cancel();
    schedule_reconnect();
}

void link::schedule_reconnect() {
    if (stopped_) {
        return;
    }
    reconnect_timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
    reconnect_timer_.async_wait([owner = owner_, this](const boost::system::error_code& ec) {
        auto keep = owner.lock();
        if (keep && !ec && !stopped_) {
            connect();
        }
    });
}

}  // namespace pulsestream::redis::detail
