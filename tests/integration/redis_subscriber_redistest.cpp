// redis::subscriber against a private Redis: delivery, binary payloads, a fast burst, the
// handler's strand, surviving a Redis restart (resubscribe), the state handlers (confirmed
// subscriptions, lost connections), handlers that throw, unsubscribe and close.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pulsestream/redis/connection.hpp"
#include "pulsestream/redis/endpoint.hpp"
#include "pulsestream/redis/subscriber.hpp"
#include "support/io_threads.hpp"
#include "support/redis_suite.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
namespace redis = pulsestream::redis;
using pulsestream::test_support::io_threads;
using pulsestream::test_support::redis_suite;
using pulsestream::test_support::wait_until;

// What the message handler saw; filled on the subscriber's strand, read by the test thread.
class inbox {
public:
    void add(std::string_view channel, std::string_view message, bool on_strand) {
        std::lock_guard lock(mutex_);
        messages_.emplace_back(std::string(channel), std::string(message));
        if (!on_strand) {
            ++off_strand_;
        }
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return messages_.size();
    }
    std::vector<std::pair<std::string, std::string>> snapshot() const {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    bool contains(const std::string& channel, const std::string& message) const {
        std::lock_guard lock(mutex_);
        for (const auto& [c, m] : messages_) {
            if (c == channel && m == message) {
                return true;
            }
        }
        return false;
    }
    int off_strand() const {
        std::lock_guard lock(mutex_);
        return off_strand_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<std::string, std::string>> messages_;
    int off_strand_ = 0;
};

// Lines written by handlers on the subscriber's strand, read by the test thread. Held by
// shared_ptr: a handler may still run for a moment after the test's end.
class line_log {
public:
    void add(std::string line) {
        std::lock_guard lock(mutex_);
        lines_.push_back(std::move(line));
    }
    std::vector<std::string> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

struct outcome {
    bool completed = false;
    boost::system::error_code ec;
    redis::reply reply;
};

outcome run(redis::connection& c, std::vector<std::string> args) {
    auto promise = std::make_shared<std::promise<outcome>>();
    auto future = promise->get_future();
    c.async_command(std::move(args), 1s, [promise](boost::system::error_code ec, redis::reply r) {
        promise->set_value({true, ec, std::move(r)});
    });
    if (future.wait_for(6s) != std::future_status::ready) {
        return {};
    }
    return future.get();
}

class redis_subscriber_redis : public redis_suite<redis_subscriber_redis> {
protected:
    void SetUp() override {
        PULSESTREAM_SKIP_WITHOUT_SERVICES(gate_);
        auto ep = redis::parse_redis_url(redis_->url());
        ASSERT_TRUE(ep);
        endpoint_ = *ep;
        options_.connect_timeout = 500ms;
        options_.reconnect_min = 20ms;
        options_.reconnect_max = 200ms;
        redis::connection_options copts;
        copts.link = options_;
        copts.breaker.failure_threshold = 0;
        publisher_ = redis::connection::create(io_.executor(), endpoint_, copts);
        ASSERT_TRUE(wait_until([&] { return publisher_->connected(); }, 5s));
    }
    void TearDown() override {
        if (redis_ && !redis_->running()) {
            redis_->start_again();
        }
    }

    std::shared_ptr<redis::subscriber> make_subscriber() {
        return redis::subscriber::create(
            io_.executor(), endpoint_,
            [this](std::string_view channel, std::string_view message) {
                inbox_.add(channel, message, current_strand_check_());
            },
            options_);
    }

    // Subscribers of `channel` as Redis counts them (PUBSUB NUMSUB).
    long long subscribers_of(const std::string& channel) {
        const auto o = run(*publisher_, {"PUBSUB", "NUMSUB", channel});
        if (!o.completed || o.ec || o.reply.elements.size() != 2) {
            return -1;
        }
        return o.reply.elements[1].integer;
    }

    long long publish(const std::string& channel, const std::string& message) {
        const auto o = run(*publisher_, {"PUBLISH", channel, message});
        return o.completed && !o.ec ? o.reply.integer : -1;
    }

    io_threads io_{2};
    redis::endpoint endpoint_;
    redis::link_options options_;
    std::shared_ptr<redis::connection> publisher_;
    inbox inbox_;
    // Set before the first subscribe(), read by the handler on the subscriber's strand.
    std::function<bool()> current_strand_check_ = [] { return true; };
};

TEST_F(redis_subscriber_redis, receives_published_messages_on_its_strand) {
    auto sub = make_subscriber();
    current_strand_check_ = [weak = std::weak_ptr(sub)] {
        auto s = weak.lock();
        return s && s->get_executor().running_in_this_thread();
    };
    sub->subscribe("events:stream:a");
    sub->subscribe("events:stream:a");  // twice is harmless
    ASSERT_TRUE(wait_until([&] { return subscribers_of("events:stream:a") == 1; }, 5s));
    EXPECT_TRUE(sub->connected());

    EXPECT_EQ(publish("events:stream:a", "hello"), 1);
    const std::string binary("[{\"a\":1}]\0\r\n", 12);
    EXPECT_EQ(publish("events:stream:a", binary), 1);
    EXPECT_EQ(publish("events:stream:other", "not for us"), 0);
    ASSERT_TRUE(wait_until([&] { return inbox_.size() >= 2; }, 5s));
    const auto got = inbox_.snapshot();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], (std::pair<std::string, std::string>{"events:stream:a", "hello"}));
    EXPECT_EQ(got[1].second, binary);
    EXPECT_EQ(inbox_.off_strand(), 0) << "the handler runs on the subscriber's strand";
}

TEST_F(redis_subscriber_redis, keeps_up_with_a_burst_in_order) {
    auto sub = make_subscriber();
    sub->subscribe("burst");
    ASSERT_TRUE(wait_until([&] { return subscribers_of("burst") == 1; }, 5s));
    constexpr int total = 20000;
    std::atomic<int> published{0};
    const std::string padding(200, 'x');
    for (int i = 0; i < total; ++i) {
        publisher_->async_command({"PUBLISH", "burst", std::to_string(i) + ":" + padding}, 10s,
                                  [&](boost::system::error_code ec, redis::reply) {
                                      if (!ec) {
                                          ++published;
                                      }
                                  });
    }
    ASSERT_TRUE(wait_until([&] { return published == total; }, 30s)) << published;
    ASSERT_TRUE(wait_until([&] { return inbox_.size() == total; }, 30s)) << inbox_.size();
    const auto got = inbox_.snapshot();
    for (int i = 0; i < total; ++i) {
        ASSERT_EQ(got[static_cast<std::size_t>(i)].second, std::to_string(i) + ":" + padding);
    }
    EXPECT_EQ(sub->connects(), 1u) << "Redis must not have dropped the subscriber";
}

TEST_F(redis_subscriber_redis, survives_a_redis_restart_and_resubscribes) {
    auto sub = make_subscriber();
    sub->subscribe("restart:a");
    sub->subscribe("restart:b");
    ASSERT_TRUE(wait_until([&] { return subscribers_of("restart:b") == 1; }, 5s));
    ASSERT_EQ(publish("restart:a", "before"), 1);
    ASSERT_TRUE(wait_until([&] { return inbox_.contains("restart:a", "before"); }, 5s));

    redis_->stop();
    ASSERT_TRUE(wait_until([&] { return !sub->connected(); }, 5s));
    sub->subscribe("restart:c");  // while down: sent with the others on reconnect
    redis_->start_again();

    ASSERT_TRUE(wait_until([&] { return subscribers_of("restart:a") == 1 &&
                                        subscribers_of("restart:b") == 1 &&
                                        subscribers_of("restart:c") == 1; },
                           10s, 50ms));
    EXPECT_GE(sub->connects(), 2u);
    EXPECT_EQ(publish("restart:a", "after"), 1);
    EXPECT_EQ(publish("restart:c", "new"), 1);
    EXPECT_TRUE(wait_until([&] { return inbox_.contains("restart:a", "after") &&
                                        inbox_.contains("restart:c", "new"); },
                           5s));
}

TEST_F(redis_subscriber_redis, reports_each_confirmed_subscription_and_each_lost_connection) {
    // What the state handlers saw, in order: "+channel" for a confirmation, "-" for a loss.
    const auto state = std::make_shared<line_log>();
    auto seen = [state] { return state->lines(); };
    auto sub = redis::subscriber::create(
        io_.executor(), endpoint_, [](std::string_view, std::string_view) {}, options_,
        redis::subscriber::state_handlers{
            .subscribed =
                [state](std::string_view channel) { state->add("+" + std::string(channel)); },
            .lost = [state] { state->add("-"); },
            .handler_failed = {}});
    sub->subscribe("state:a");
    ASSERT_TRUE(wait_until([&] { return seen().size() == 1; }, 5s));
    EXPECT_EQ(seen(), std::vector<std::string>{"+state:a"});
    // The confirmation comes after Redis took the SUBSCRIBE: a PUBLISH sent now is received.
    EXPECT_EQ(publish("state:a", "x"), 1);

    redis_->stop();
    ASSERT_TRUE(wait_until([&] { return !seen().empty() && seen().back() == "-"; }, 5s));
    redis_->start_again();
    ASSERT_TRUE(wait_until([&] { return seen().back() == "+state:a"; }, 10s, 50ms))
        << "confirmed again after the reconnect";
    EXPECT_EQ(subscribers_of("state:a"), 1);
    sub->close();
}

TEST_F(redis_subscriber_redis, a_throwing_handler_is_reported_and_delivery_goes_on) {
    // Handlers run inside hiredis' C callbacks: their exceptions must stop there, be reported to
    // handler_failed, and leave the connection serving the next message.
    const auto reported = std::make_shared<line_log>();
    auto sub = redis::subscriber::create(
        io_.executor(), endpoint_,
        [this](std::string_view channel, std::string_view message) {
            if (message == "poison") throw std::runtime_error("cannot take poison");
            if (message == "odd") throw 42;
            inbox_.add(channel, message, true);
        },
        options_,
        redis::subscriber::state_handlers{
            .subscribed = [](std::string_view) { throw std::logic_error("confirmation failed"); },
            .lost = {},
            .handler_failed =
                [reported](std::string_view what) { reported->add(std::string(what)); }});
    sub->subscribe("throw:ch");
    ASSERT_TRUE(wait_until([&] { return subscribers_of("throw:ch") == 1; }, 5s));
    ASSERT_EQ(publish("throw:ch", "poison"), 1);
    ASSERT_EQ(publish("throw:ch", "odd"), 1);
    ASSERT_EQ(publish("throw:ch", "fine"), 1);
    ASSERT_TRUE(wait_until([&] { return inbox_.contains("throw:ch", "fine"); }, 5s));
    EXPECT_EQ(inbox_.size(), 1u);
    EXPECT_EQ(reported->lines(),
              (std::vector<std::string>{"confirmation failed", "cannot take poison",
                                        "unknown exception"}));
    EXPECT_TRUE(sub->connected());
    EXPECT_EQ(sub->connects(), 1u);
    sub->close();
}

TEST_F(redis_subscriber_redis, unsubscribe_stops_delivery) {
    auto sub = make_subscriber();
    sub->subscribe("unsub:gone");
    sub->subscribe("unsub:marker");
    ASSERT_TRUE(wait_until([&] { return subscribers_of("unsub:gone") == 1 &&
                                        subscribers_of("unsub:marker") == 1; },
                           5s));
    ASSERT_EQ(publish("unsub:gone", "1"), 1);
    ASSERT_TRUE(wait_until([&] { return inbox_.contains("unsub:gone", "1"); }, 5s));

    sub->unsubscribe("unsub:gone");
    ASSERT_TRUE(wait_until([&] { return subscribers_of("unsub:gone") == 0; }, 5s));
    EXPECT_EQ(publish("unsub:gone", "2"), 0);
    // Messages on one connection arrive in order: once the marker is in, "2" would have been.
    ASSERT_EQ(publish("unsub:marker", "m"), 1);
    ASSERT_TRUE(wait_until([&] { return inbox_.contains("unsub:marker", "m"); }, 5s));
    EXPECT_FALSE(inbox_.contains("unsub:gone", "2"));

    // Unsubscribing from everything and subscribing again works on the same connection.
    sub->unsubscribe("unsub:marker");
    ASSERT_TRUE(wait_until([&] { return subscribers_of("unsub:marker") == 0; }, 5s));
    sub->subscribe("unsub:gone");
    ASSERT_TRUE(wait_until([&] { return subscribers_of("unsub:gone") == 1; }, 5s));
    EXPECT_EQ(publish("unsub:gone", "3"), 1);
    EXPECT_TRUE(wait_until([&] { return inbox_.contains("unsub:gone", "3"); }, 5s));
    EXPECT_EQ(sub->connects(), 1u);
}

TEST_F(redis_subscriber_redis, close_and_destruction_end_delivery) {
    auto sub = make_subscriber();
    sub->subscribe("close:ch");
    ASSERT_TRUE(wait_until([&] { return subscribers_of("close:ch") == 1; }, 5s));
    sub->close();
    ASSERT_TRUE(wait_until([&] { return subscribers_of("close:ch") == 0; }, 5s));
    EXPECT_FALSE(sub->connected());
    EXPECT_EQ(publish("close:ch", "late"), 0);

    auto second = make_subscriber();
    second->subscribe("close:ch");
    ASSERT_TRUE(wait_until([&] { return subscribers_of("close:ch") == 1; }, 5s));
    second.reset();
    EXPECT_TRUE(wait_until([&] { return subscribers_of("close:ch") == 0; }, 5s));
    EXPECT_EQ(inbox_.size(), 0u);
}

}  // namespace
