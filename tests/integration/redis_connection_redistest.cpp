// redis::connection, pool and breaker against a private Redis: round trips and reply kinds,
// concurrency, deadlines against a stopped and a frozen server, the circuit breaker,
// reconnecting after a restart, AUTH/SELECT, coroutines, completion executors and teardown
// with commands in flight. Also the pure parts: URL parsing and the breaker's state machine.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pulsestream/redis/breaker.hpp"
#include "pulsestream/redis/command.hpp"
#include "pulsestream/redis/connection.hpp"
#include "pulsestream/redis/endpoint.hpp"
#include "pulsestream/redis/error.hpp"
#include "pulsestream/redis/pool.hpp"
#include "pulsestream/redis/reply.hpp"
#include "support/io_threads.hpp"
#include "support/redis_suite.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace redis = pulsestream::redis;
using pulsestream::test_support::io_threads;
using pulsestream::test_support::redis_suite;
using pulsestream::test_support::wait_until;
using kind = redis::reply::kind;
using std::chrono::milliseconds;

struct outcome {
    bool completed = false;
    boost::system::error_code ec;
    redis::reply reply;
    milliseconds elapsed{};
};

// Runs one command and waits for its completion (bounded: deadline + 5 s).
outcome run(redis::connection& c, std::vector<std::string> args, milliseconds deadline = 2s) {
    auto promise = std::make_shared<std::promise<outcome>>();
    auto future = promise->get_future();
    const auto start = std::chrono::steady_clock::now();
    c.async_command(std::move(args), deadline,
                    [promise, start](boost::system::error_code ec, redis::reply r) {
                        promise->set_value(
                            {true, ec, std::move(r),
                             std::chrono::duration_cast<milliseconds>(
                                 std::chrono::steady_clock::now() - start)});
                    });
    if (future.wait_for(deadline + 5s) != std::future_status::ready) {
        return {};
    }
    return future.get();
}

bool answers_ping(redis::connection& c) {
    const auto o = run(c, {"PING"}, 300ms);
    return o.completed && !o.ec && o.reply.type == kind::status && o.reply.str == "PONG";
}

std::string describe(const outcome& o) {
    if (!o.completed) {
        return "never completed";
    }
    return "ec=" + o.ec.message() + " kind=" + std::string(redis::to_string(o.reply.type)) +
           " str=" + o.reply.str + " after " + std::to_string(o.elapsed.count()) + " ms";
}

class redis_connection_redis : public redis_suite<redis_connection_redis> {
protected:
    void TearDown() override {
        // A test that stopped or froze the server leaves it usable for the next one.
        if (redis_) {
            redis_->thaw();
            if (!redis_->running()) {
                redis_->start_again();
            }
        }
    }

    static redis::endpoint endpoint() {
        auto ep = redis::parse_redis_url(redis_->url());
        EXPECT_TRUE(ep.has_value());
        return ep.value_or(redis::endpoint{});
    }

    // Fast reconnects keep outage tests short.
    static redis::connection_options fast_options() {
        redis::connection_options options;
        options.link.connect_timeout = 500ms;
        options.link.reconnect_min = 20ms;
        options.link.reconnect_max = 200ms;
        return options;
    }

    std::shared_ptr<redis::connection> connect(redis::connection_options options = fast_options()) {
        auto c = redis::connection::create(io_.executor(), endpoint(), options);
        EXPECT_TRUE(wait_until([&] { return c->connected(); }, 5s)) << "never connected";
        return c;
    }

    io_threads io_{2};
};

// --- pure parts ----------------------------------------------------------------------------

TEST(redis_url, parses_host_port_password_and_db) {
    const auto plain = redis::parse_redis_url("redis://localhost:6379");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->host, "localhost");
    EXPECT_EQ(plain->port, 6379);
    EXPECT_FALSE(plain->password);
    EXPECT_FALSE(plain->username);
    EXPECT_EQ(plain->db, 0);

    const auto full = redis::parse_redis_url("REDIS://:s%40cret@10.0.0.7:7000/5");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->host, "10.0.0.7");
    EXPECT_EQ(full->port, 7000);
    EXPECT_EQ(full->password, "s@cret");
    EXPECT_FALSE(full->username);
    EXPECT_EQ(full->db, 5);

    const auto acl = redis::parse_redis_url("redis://gateway:pw@redis/");
    ASSERT_TRUE(acl);
    EXPECT_EQ(acl->host, "redis");
    EXPECT_EQ(acl->port, 6379);
    EXPECT_EQ(acl->username, "gateway");
    EXPECT_EQ(acl->password, "pw");
    EXPECT_EQ(acl->db, 0);

    const auto v6 = redis::parse_redis_url("redis://[::1]:6380/2");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 6380);
    EXPECT_EQ(v6->db, 2);
}

TEST(redis_url, refuses_what_it_cannot_honour) {
    for (const char* bad : {"", "localhost:6379", "http://localhost:6379", "rediss://h:6379",
                            "redis://", "redis://:6379", "redis://h:0", "redis://h:65536",
                            "redis://h:", "redis://h:12a", "redis://h/x", "redis://h/-1",
                            "redis://h?db=1", "redis://user@h", "redis://:p%4@h",
                            "redis://[::1", "redis://[::1]x"}) {
        EXPECT_FALSE(redis::parse_redis_url(bad)) << bad;
    }
}

TEST(redis_command, builds_arguments_from_strings_views_literals_and_integers) {
    std::string key = "k";
    const std::string_view view = "view";
    const auto args = redis::command("SET", key, view, std::string("moved"), "EX", 30, 7LL);
    EXPECT_EQ(args, (std::vector<std::string>{"SET", "k", "view", "moved", "EX", "30", "7"}));
    EXPECT_EQ(key, "k") << "lvalues are copied, not moved from";
    EXPECT_TRUE(redis::command().empty());
}

TEST(redis_command, formats_resp_once_binary_safe) {
    const std::string binary("a\0\r\nb", 5);
    const auto c = redis::format_command({"SET", "k", binary, ""});
    EXPECT_EQ(c.args, 4U);
    EXPECT_EQ(c.resp, std::string("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0\r\nb\r\n$0\r\n\r\n", 37));
    EXPECT_EQ(redis::format_command(std::vector<std::string>{"SET", "k", binary, ""}).resp, c.resp);
    EXPECT_EQ(redis::format_command(std::vector<std::string>{}).args, 0U);
}

TEST(redis_breaker, opens_after_consecutive_failures_and_probes_once) {
    redis::breaker b({.failure_threshold = 3, .open_for = 50ms});
    EXPECT_EQ(b.current(), redis::breaker::state::closed);
    b.on_failure();
    b.on_failure();
    b.on_success();  // not consecutive
    b.on_failure();
    b.on_failure();
    EXPECT_EQ(b.current(), redis::breaker::state::closed);
    EXPECT_TRUE(b.allow());
    b.on_failure();
    EXPECT_EQ(b.current(), redis::breaker::state::open);
    EXPECT_EQ(b.times_opened(), 1u);
    EXPECT_FALSE(b.allow());

    ASSERT_TRUE(wait_until([&] { return b.allow(); }, 2s));  // the probe
    EXPECT_EQ(b.current(), redis::breaker::state::half_open);
    EXPECT_FALSE(b.allow()) << "only one probe at a time";
    b.on_failure();
    EXPECT_EQ(b.current(), redis::breaker::state::open);
    EXPECT_EQ(b.times_opened(), 2u);

    ASSERT_TRUE(wait_until([&] { return b.allow(); }, 2s));
    b.on_success();
    EXPECT_EQ(b.current(), redis::breaker::state::closed);
    EXPECT_TRUE(b.allow());
}

TEST(redis_breaker, tells_when_it_opens_and_closes_but_not_of_each_failed_probe) {
    std::vector<bool> changes;
    redis::breaker b({.failure_threshold = 1, .open_for = 20ms},
                     [&changes](bool open) { changes.push_back(open); });
    b.on_failure();
    ASSERT_TRUE(wait_until([&] { return b.allow(); }, 2s));  // a probe
    b.on_failure();                                          // fails: open again, unannounced
    ASSERT_TRUE(wait_until([&] { return b.allow(); }, 2s));
    b.on_success();
    b.on_success();
    EXPECT_EQ(changes, (std::vector<bool>{true, false}));
}

TEST(redis_breaker, threshold_zero_never_opens) {
    redis::breaker b({.failure_threshold = 0, .open_for = 50ms});
    for (int i = 0; i < 100; ++i) {
        b.on_failure();
    }
    EXPECT_TRUE(b.allow());
    EXPECT_EQ(b.current(), redis::breaker::state::closed);
}

TEST(redis_error, has_its_own_category_and_messages) {
    const boost::system::error_code ec = redis::error::breaker_open;
    EXPECT_EQ(&ec.category(), &redis::error_category());
    EXPECT_STREQ(ec.category().name(), "pulsestream.redis");
    EXPECT_NE(ec.message().find("breaker"), std::string::npos);
    EXPECT_TRUE(ec == redis::error::breaker_open);
    EXPECT_FALSE(ec == redis::error::timeout);
}

// --- against Redis -------------------------------------------------------------------------

TEST_F(redis_connection_redis, set_get_incr_set_nx_ex_and_publish_round_trip) {
    auto c = connect();
    auto o = run(*c, {"SET", "rt:key", "value"});
    ASSERT_TRUE(o.completed && !o.ec) << describe(o);
    EXPECT_TRUE(o.reply.is_ok());

    o = run(*c, {"GET", "rt:key"});
    ASSERT_TRUE(o.completed && !o.ec) << describe(o);
    EXPECT_EQ(o.reply.type, kind::string);
    EXPECT_EQ(o.reply.str, "value");

    o = run(*c, {"INCR", "rt:counter"});
    EXPECT_EQ(o.reply.type, kind::integer) << describe(o);
    EXPECT_EQ(o.reply.integer, 1);
    o = run(*c, {"INCR", "rt:counter"});
    EXPECT_EQ(o.reply.integer, 2);

    o = run(*c, {"SET", "rt:lock", "first", "NX", "EX", "30"});
    EXPECT_TRUE(o.reply.is_ok()) << describe(o);
    o = run(*c, {"SET", "rt:lock", "second", "NX", "EX", "30"});
    EXPECT_TRUE(o.reply.is_nil()) << "NX must refuse an existing key: " << describe(o);
    o = run(*c, {"TTL", "rt:lock"});
    EXPECT_GT(o.reply.integer, 0);
    EXPECT_LE(o.reply.integer, 30);
    o = run(*c, {"GET", "rt:lock"});
    EXPECT_EQ(o.reply.str, "first");

    o = run(*c, {"PUBLISH", "rt:nobody-listens", "payload"});
    ASSERT_TRUE(o.completed && !o.ec) << describe(o);
    EXPECT_EQ(o.reply.type, kind::integer);
    EXPECT_EQ(o.reply.integer, 0);
}

TEST_F(redis_connection_redis, formatted_commands_round_trip_and_empty_is_a_protocol_error) {
    auto c = connect();
    const std::string value("bin\0ary\r\n", 10);
    auto promise = std::make_shared<std::promise<outcome>>();
    auto future = promise->get_future();
    c->async_command(redis::format_command({"SET", "fmt:key", value}), 2s,
                     [promise](boost::system::error_code ec, redis::reply r) {
                         promise->set_value({true, ec, std::move(r), {}});
                     });
    ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
    const auto set = future.get();
    ASSERT_FALSE(set.ec) << describe(set);
    EXPECT_TRUE(set.reply.is_ok());
    const auto got = run(*c, {"GET", "fmt:key"});
    EXPECT_EQ(got.reply.str, value) << describe(got);

    auto empty_promise = std::make_shared<std::promise<outcome>>();
    auto empty_future = empty_promise->get_future();
    c->async_command(redis::formatted_command(std::string(), 0), 2s,
                     [empty_promise](boost::system::error_code ec, redis::reply r) {
                         empty_promise->set_value({true, ec, std::move(r), {}});
                     });
    ASSERT_EQ(empty_future.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(empty_future.get().ec, redis::error::protocol);
}

TEST_F(redis_connection_redis, every_reply_kind_is_copied) {
    auto c = connect();
    // status
    auto o = run(*c, {"SET", "kinds:s", "x"});
    EXPECT_EQ(o.reply.type, kind::status);
    EXPECT_EQ(o.reply.str, "OK");
    // string, binary-safe both ways
    const std::string binary("a\0b\r\nc", 6);
    run(*c, {"SET", "kinds:bin", binary});
    o = run(*c, {"GET", "kinds:bin"});
    EXPECT_EQ(o.reply.type, kind::string);
    EXPECT_EQ(o.reply.str, binary);
    // integer
    o = run(*c, {"STRLEN", "kinds:bin"});
    EXPECT_EQ(o.reply.type, kind::integer);
    EXPECT_EQ(o.reply.integer, 6);
    // nil
    o = run(*c, {"GET", "kinds:missing"});
    EXPECT_EQ(o.reply.type, kind::nil);
    // error replies are replies, not error codes
    o = run(*c, {"INCR", "kinds:s"});
    ASSERT_TRUE(o.completed);
    EXPECT_FALSE(o.ec);
    EXPECT_EQ(o.reply.type, kind::error);
    EXPECT_TRUE(o.reply.is_error());
    EXPECT_NE(o.reply.str.find("not an integer"), std::string::npos) << o.reply.str;
    o = run(*c, {"NO-SUCH-COMMAND"});
    EXPECT_FALSE(o.ec);
    EXPECT_EQ(o.reply.type, kind::error);
    // array, with a nil element and a nested array
    o = run(*c, {"MGET", "kinds:s", "kinds:missing"});
    ASSERT_EQ(o.reply.type, kind::array) << describe(o);
    ASSERT_EQ(o.reply.elements.size(), 2u);
    EXPECT_EQ(o.reply.elements[0].str, "x");
    EXPECT_TRUE(o.reply.elements[1].is_nil());
    run(*c, {"ZADD", "kinds:z", "1", "one", "2", "two"});
    o = run(*c, {"ZSCAN", "kinds:z", "0"});
    ASSERT_EQ(o.reply.type, kind::array) << describe(o);
    ASSERT_EQ(o.reply.elements.size(), 2u);
    EXPECT_EQ(o.reply.elements[0].str, "0");
    ASSERT_EQ(o.reply.elements[1].type, kind::array);
    EXPECT_EQ(o.reply.elements[1].elements.size(), 4u);
    // many arguments (more than fit inline)
    std::vector<std::string> rpush{"RPUSH", "kinds:list"};
    for (int i = 0; i < 50; ++i) {
        rpush.push_back(std::to_string(i));
    }
    o = run(*c, rpush);
    EXPECT_EQ(o.reply.integer, 50);
}

TEST_F(redis_connection_redis, empty_command_is_a_protocol_error) {
    auto c = connect();
    const auto o = run(*c, {});
    ASSERT_TRUE(o.completed);
    EXPECT_EQ(o.ec, redis::error::protocol);
}

TEST_F(redis_connection_redis, a_thousand_concurrent_commands_from_two_io_threads_all_complete) {
    redis::pool pool(io_.context(), 2, endpoint(), fast_options());
    ASSERT_TRUE(wait_until([&] { return pool.connections()[0]->connected() &&
                                        pool.connections()[1]->connected(); },
                           5s));
    constexpr int total = 1000;
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::atomic<int> max_seen{0};
    for (int i = 0; i < total; ++i) {
        // Issued from the io threads themselves, as gateway sessions do.
        asio::post(io_.context(), [&] {
            pool.pick()->async_command(
                {"INCR", "concurrent:counter"}, 5s,
                [&](boost::system::error_code ec, redis::reply r) {
                    if (ec || r.type != kind::integer) {
                        ++failed;
                        return;
                    }
                    int seen = max_seen.load();
                    while (r.integer > seen && !max_seen.compare_exchange_weak(
                                                   seen, static_cast<int>(r.integer))) {
                    }
                    ++ok;
                });
        });
    }
    ASSERT_TRUE(wait_until([&] { return ok + failed == total; }, 20s))
        << ok << " ok, " << failed << " failed";
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(max_seen, total);
    const auto o = run(*pool.pick(), {"GET", "concurrent:counter"});
    EXPECT_EQ(o.reply.str, std::to_string(total));
}

TEST_F(redis_connection_redis, completion_runs_on_the_handlers_executor_never_inline) {
    auto c = connect();
    auto user_strand = asio::make_strand(io_.context());
    std::promise<bool> on_user_strand;
    c->async_command({"PING"}, 1s,
                     asio::bind_executor(user_strand, [&](boost::system::error_code, redis::reply) {
                         on_user_strand.set_value(user_strand.running_in_this_thread());
                     }));
    auto f1 = on_user_strand.get_future();
    ASSERT_EQ(f1.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(f1.get());

    // Without an associated executor the handler runs on the connection's strand.
    std::promise<bool> on_connection_strand;
    c->async_command({"PING"}, 1s, [&](boost::system::error_code, redis::reply) {
        on_connection_strand.set_value(c->get_executor().running_in_this_thread());
    });
    auto f2 = on_connection_strand.get_future();
    ASSERT_EQ(f2.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(f2.get());

    // Even an immediate failure is posted, not invoked inside async_command: initiated on the
    // connection's strand, the completion can only run after the initiating handler returned.
    std::promise<bool> inside_initiator;
    std::atomic<bool> initiating{false};
    asio::post(c->get_executor(), [&] {
        initiating = true;
        c->async_command({}, 1s, [&](boost::system::error_code, redis::reply) {
            inside_initiator.set_value(initiating);
        });
        initiating = false;
    });
    auto f3 = inside_initiator.get_future();
    ASSERT_EQ(f3.wait_for(5s), std::future_status::ready);
    EXPECT_FALSE(f3.get());
}

// Replies parsed in one read are completed after hiredis returns, through each handler's
// executor: here the connection's strand (no associated executor), so they run inline at the
// end of the read. Order, exactly-once and commands sent from a completion must survive that.
TEST_F(redis_connection_redis, replies_read_together_complete_once_each_in_order_and_may_send_more) {
    auto c = connect();
    constexpr int total = 200;
    std::mutex mutex;
    std::vector<long long> seen;
    std::atomic<int> follow_ups_ok{0};
    std::atomic<int> failures{0};
    std::atomic<int> follow_up_failures{0};
    asio::post(c->get_executor(), [&] {
        for (int i = 0; i < total; ++i) {
            c->async_command({"INCR", "pipelined:n"}, 5s,
                             [&, i](boost::system::error_code ec, redis::reply r) {
                                 if (ec || r.type != kind::integer) {
                                     ++failures;
                                     return;
                                 }
                                 {
                                     const std::lock_guard lock(mutex);
                                     seen.push_back(r.integer);
                                 }
                                 if (i % 2 == 0) {
                                     c->async_command({"GET", "pipelined:n"}, 5s,
                                                      [&](boost::system::error_code e,
                                                          redis::reply got) {
                                                          ++(!e && got.type == kind::string
                                                                 ? follow_ups_ok
                                                                 : follow_up_failures);
                                                      });
                                 }
                             });
        }
    });
    const auto incr_completions = [&] {
        const std::lock_guard lock(mutex);
        return static_cast<int>(seen.size()) + failures;
    };
    ASSERT_TRUE(wait_until([&] { return incr_completions() >= total; }, 10s))
        << incr_completions() << " of " << total;
    ASSERT_TRUE(wait_until([&] { return follow_ups_ok + follow_up_failures >= total / 2; }, 10s))
        << follow_ups_ok << " follow-ups";
    EXPECT_EQ(follow_up_failures, 0);
    EXPECT_EQ(failures, 0);
    const std::lock_guard lock(mutex);
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(total));
    for (int i = 0; i < total; ++i) {
        ASSERT_EQ(seen[i], i + 1) << "completion " << i << " out of order";
    }
}

// A completion delivered at the end of a read may drop the last owner of the connection: the
// read keeps it alive until it returns, and every other command still completes exactly once.
TEST_F(redis_connection_redis, a_completion_may_release_the_last_owner) {
    auto owner = std::make_shared<std::shared_ptr<redis::connection>>(connect());
    auto& c = **owner;
    constexpr int total = 20;
    std::atomic<int> completions{0};
    std::atomic<int> unexpected{0};
    asio::post(c.get_executor(), [&, owner] {
        for (int i = 0; i < total; ++i) {
            c.async_command({"PING"}, 5s, [&, i, owner](boost::system::error_code ec, redis::reply) {
                if (ec && ec != asio::error::operation_aborted) {
                    ++unexpected;
                }
                if (i == 0) {
                    owner->reset();  // the test's last reference: freed once the read returns
                }
                ++completions;
            });
        }
    });
    owner.reset();
    ASSERT_TRUE(wait_until([&] { return completions >= total; }, 10s)) << completions;
    EXPECT_EQ(unexpected, 0);
    EXPECT_FALSE(wait_until([&] { return completions > total; }, 200ms)) << "a completion ran twice";
}

TEST_F(redis_connection_redis, works_from_cpp20_coroutines) {
    auto c = connect();
    auto done = std::make_shared<std::promise<std::string>>();
    asio::co_spawn(
        io_.context(),
        [c, done]() -> asio::awaitable<void> {
            std::string log;
            // redis::command() rather than a braced list: g++ 12 rejects a braced list of
            // strings inside a co_await expression.
            auto [ec, set] = co_await c->async_command(redis::command("SET", "coro:key", 42), 1s,
                                                       asio::as_tuple(asio::use_awaitable));
            log += ec ? "set-failed;" : (set.is_ok() ? "set;" : "set-not-ok;");
            // The throwing form: success returns the reply.
            const redis::reply got =
                co_await c->async_command(redis::command("GET", "coro:key"), 1s,
                                          asio::use_awaitable);
            log += "get=" + got.str + ";";
            // and a failure throws system_error with our category.
            try {
                co_await c->async_command(redis::command(), 1s, asio::use_awaitable);
                log += "no-throw;";
            } catch (const boost::system::system_error& e) {
                log += e.code() == redis::error::protocol ? "threw;" : "threw-other;";
            }
            done->set_value(log);
        },
        asio::detached);
    auto f = done->get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get(), "set;get=42;threw;");
}

TEST_F(redis_connection_redis, a_stopped_redis_fails_fast_within_the_deadline) {
    auto c = connect();
    ASSERT_TRUE(answers_ping(*c));
    redis_->stop();
    constexpr auto deadline = 1000ms;
    // Sent before or after the connection noticed the EOF: either way an error, fast.
    for (int i = 0; i < 3; ++i) {
        const auto o = run(*c, {"GET", "anything"}, deadline);
        ASSERT_TRUE(o.completed);
        EXPECT_TRUE(o.ec == redis::error::disconnected || o.ec == redis::error::breaker_open)
            << describe(o);
        EXPECT_LT(o.elapsed, deadline + 100ms) << describe(o);
    }
    EXPECT_TRUE(wait_until([&] { return !c->connected(); }, 2s));
    const auto o = run(*c, {"GET", "anything"}, deadline);
    EXPECT_TRUE(o.ec) << describe(o);
    EXPECT_LT(o.elapsed, 100ms) << "disconnected: no waiting at all; " << describe(o);
}

TEST_F(redis_connection_redis, a_frozen_redis_times_out_at_the_deadline_and_the_late_reply_is_dropped) {
    auto c = connect();
    ASSERT_TRUE(run(*c, {"SET", "frozen:a", "A"}).reply.is_ok());
    ASSERT_TRUE(run(*c, {"SET", "frozen:b", "B"}).reply.is_ok());
    redis_->freeze();
    constexpr auto deadline = 300ms;
    const auto o = run(*c, {"GET", "frozen:a"}, deadline);
    ASSERT_TRUE(o.completed);
    EXPECT_EQ(o.ec, redis::error::timeout) << describe(o);
    EXPECT_GE(o.elapsed, deadline - 5ms) << describe(o);
    EXPECT_LT(o.elapsed, deadline + 100ms) << describe(o);
    redis_->thaw();
    // The late "A" reply must be consumed and dropped, not handed to the next command.
    const auto next = run(*c, {"GET", "frozen:b"}, 2s);
    ASSERT_TRUE(next.completed && !next.ec) << describe(next);
    EXPECT_EQ(next.reply.str, "B");
}

TEST_F(redis_connection_redis, repeated_timeouts_replace_a_stalled_connection) {
    auto options = fast_options();
    options.drop_after_timeouts = 2;
    options.breaker.failure_threshold = 0;
    auto c = connect(options);
    ASSERT_EQ(c->connects(), 1u);
    redis_->freeze();
    EXPECT_EQ(run(*c, {"PING"}, 100ms).ec, redis::error::timeout);
    EXPECT_EQ(run(*c, {"PING"}, 100ms).ec, redis::error::timeout);
    // Dropped; a frozen server accepts TCP but never answers the PING of the handshake, so the
    // connection does not come back while it is frozen, and commands now fail at once.
    ASSERT_TRUE(wait_until([&] { return !c->connected(); }, 2s));
    EXPECT_FALSE(wait_until([&] { return c->connected(); }, 500ms))
        << "reconnected to a server that does not answer";
    const auto fast = run(*c, {"PING"}, 1s);
    EXPECT_EQ(fast.ec, redis::error::disconnected) << describe(fast);
    EXPECT_LT(fast.elapsed, 100ms);
    redis_->thaw();
    ASSERT_TRUE(wait_until([&] { return answers_ping(*c); }, 10s));
    EXPECT_GE(c->connects(), 2u);
}

TEST_F(redis_connection_redis, the_breaker_opens_fails_fast_and_closes_when_redis_is_back) {
    auto options = fast_options();
    options.breaker = {.failure_threshold = 3, .open_for = 300ms};
    auto c = connect(options);
    const auto& b = *c->circuit_breaker();
    redis_->stop();
    ASSERT_TRUE(wait_until([&] { return !c->connected(); }, 5s));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(run(*c, {"PING"}, 1s).ec, redis::error::disconnected);
    }
    EXPECT_EQ(b.current(), redis::breaker::state::open);
    const auto refused = run(*c, {"PING"}, 1s);
    EXPECT_EQ(refused.ec, redis::error::breaker_open) << describe(refused);
    EXPECT_LT(refused.elapsed, 50ms);

    redis_->start_again();
    ASSERT_TRUE(wait_until([&] { return answers_ping(*c); }, 10s, 50ms));
    EXPECT_EQ(b.current(), redis::breaker::state::closed);
    EXPECT_GE(b.times_opened(), 1u);
}

TEST_F(redis_connection_redis, the_pool_shares_one_breaker) {
    auto options = fast_options();
    options.breaker = {.failure_threshold = 2, .open_for = 10s};
    redis::pool pool(io_.context(), 2, endpoint(), options);
    ASSERT_TRUE(wait_until([&] { return pool.any_connected(); }, 5s));
    for (const auto& c : pool.connections()) {
        EXPECT_EQ(c->circuit_breaker(), pool.circuit_breaker());
    }
    pool.circuit_breaker()->on_failure();
    pool.circuit_breaker()->on_failure();
    for (const auto& c : pool.connections()) {
        EXPECT_EQ(run(*c, {"PING"}).ec, redis::error::breaker_open);
    }
}

TEST_F(redis_connection_redis, reconnects_by_itself_after_a_restart) {
    auto c = connect();
    ASSERT_TRUE(run(*c, {"SET", "restart:k", "v"}).reply.is_ok());
    redis_->stop();
    ASSERT_TRUE(wait_until([&] { return !c->connected(); }, 5s));
    redis_->start_again();
    ASSERT_TRUE(wait_until([&] { return answers_ping(*c); }, 10s, 50ms));
    EXPECT_TRUE(c->connected());
    EXPECT_GE(c->connects(), 2u);
    // A fresh server (no persistence): the old key is gone, new commands work.
    EXPECT_TRUE(run(*c, {"GET", "restart:k"}).reply.is_nil());
}

TEST_F(redis_connection_redis, sends_auth_and_select_from_the_url_on_every_connect) {
    auto admin = connect();
    ASSERT_TRUE(run(*admin, {"CONFIG", "SET", "requirepass", "p@ss word"}).reply.is_ok());
    struct restore {
        redis::connection& admin;
        ~restore() { run(admin, {"CONFIG", "SET", "requirepass", ""}); }
    } restore_password{*admin};

    const std::string port = std::to_string(redis_->port());
    auto ep = redis::parse_redis_url("redis://:p%40ss%20word@127.0.0.1:" + port + "/3");
    ASSERT_TRUE(ep);
    auto c = redis::connection::create(io_.executor(), *ep, fast_options());
    ASSERT_TRUE(wait_until([&] { return c->connected(); }, 5s));
    const auto info = run(*c, {"CLIENT", "INFO"});
    ASSERT_EQ(info.reply.type, kind::string) << describe(info);
    EXPECT_NE(info.reply.str.find(" db=3 "), std::string::npos) << info.reply.str;

    auto wrong = redis::parse_redis_url("redis://:nope@127.0.0.1:" + port);
    ASSERT_TRUE(wrong);
    auto refused = redis::connection::create(io_.executor(), *wrong, fast_options());
    EXPECT_FALSE(wait_until([&] { return refused->connected(); }, 500ms))
        << "a wrong password must never count as connected";
    EXPECT_EQ(run(*refused, {"PING"}).ec, redis::error::disconnected);
}

TEST_F(redis_connection_redis, host_names_are_resolved_without_blocking) {
    redis::endpoint ep = endpoint();
    ep.host = "localhost";
    auto c = redis::connection::create(io_.executor(), ep, fast_options());
    ASSERT_TRUE(wait_until([&] { return c->connected(); }, 5s));
    EXPECT_TRUE(answers_ping(*c));
}

TEST_F(redis_connection_redis, nothing_listening_means_disconnected_not_waiting) {
    redis::endpoint ep = endpoint();
    ep.port = 1;  // nothing listens there; the connect is refused again and again
    auto c = redis::connection::create(io_.executor(), ep, fast_options());
    const auto o = run(*c, {"PING"}, 1s);
    EXPECT_EQ(o.ec, redis::error::disconnected) << describe(o);
    EXPECT_LT(o.elapsed, 100ms);
    EXPECT_FALSE(c->connected());
}

TEST_F(redis_connection_redis, close_aborts_commands_in_flight) {
    auto c = connect();
    redis_->freeze();
    auto promise = std::make_shared<std::promise<boost::system::error_code>>();
    c->async_command({"PING"}, 10s, [promise](boost::system::error_code ec, redis::reply) {
        promise->set_value(ec);
    });
    // Make sure the command reached hiredis before closing: PING is queued on the strand first.
    std::promise<void> queued;
    asio::post(c->get_executor(), [&] { queued.set_value(); });
    ASSERT_EQ(queued.get_future().wait_for(5s), std::future_status::ready);
    c->close();
    auto f = promise->get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get(), asio::error::operation_aborted);
    EXPECT_TRUE(wait_until([&] { return !c->connected(); }, 2s));
    const auto after = run(*c, {"PING"});
    EXPECT_TRUE(after.ec) << describe(after);
}

TEST_F(redis_connection_redis, destroying_the_connection_completes_commands_in_flight) {
    auto c = connect();
    redis_->freeze();
    std::vector<std::future<boost::system::error_code>> results;
    for (int i = 0; i < 20; ++i) {
        auto promise = std::make_shared<std::promise<boost::system::error_code>>();
        results.push_back(promise->get_future());
        c->async_command({"GET", "in-flight"}, i % 2 == 0 ? 10s : 1ms,
                         [promise](boost::system::error_code ec, redis::reply) {
                             promise->set_value(ec);
                         });
    }
    std::promise<void> queued;
    asio::post(c->get_executor(), [&] { queued.set_value(); });
    ASSERT_EQ(queued.get_future().wait_for(5s), std::future_status::ready);
    c.reset();  // the last owner: frees the context on this thread
    for (auto& r : results) {
        ASSERT_EQ(r.wait_for(5s), std::future_status::ready);
        const auto ec = r.get();
        EXPECT_TRUE(ec == asio::error::operation_aborted || ec == redis::error::timeout)
            << ec.message();
    }
}

}  // namespace
