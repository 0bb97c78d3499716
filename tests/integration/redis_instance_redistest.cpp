// The private Redis of the test support, and the child_process guarantees every private server
// relies on: stop escalates to SIGKILL, destruction leaves no process, and a killed test binary
// takes its servers with it (PR_SET_PDEATHSIG).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "support/child_process.hpp"
#include "support/redis_instance.hpp"
#include "support/redis_suite.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
using pulsestream::test_support::child_process;
using pulsestream::test_support::redis_instance;
using pulsestream::test_support::redis_suite;
using pulsestream::test_support::spawn_options;
using pulsestream::test_support::wait_until;

struct context_deleter {
    void operator()(redisContext* c) const { redisFree(c); }
};
struct reply_deleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using context_ptr = std::unique_ptr<redisContext, context_deleter>;
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

context_ptr connect(const redis_instance& redis) {
    const timeval timeout{1, 0};
    context_ptr context(redisConnectWithTimeout("127.0.0.1", redis.port(), timeout));
    if (context && context->err == 0) {
        redisSetTimeout(context.get(), timeout);
    }
    return context;
}

reply_ptr command(redisContext* context, const char* format, const char* arg1 = nullptr,
                  const char* arg2 = nullptr) {
    return reply_ptr(static_cast<redisReply*>(redisCommand(context, format, arg1, arg2)));
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

class redis_instance_redis : public redis_suite<redis_instance_redis> {};

TEST_F(redis_instance_redis, serves_set_and_get_on_its_own_port) {
    EXPECT_EQ(redis_->url(), "redis://127.0.0.1:" + std::to_string(redis_->port()));
    EXPECT_NE(redis_->port(), 6379);
    const auto context = connect(*redis_);
    ASSERT_TRUE(context && context->err == 0) << (context ? context->errstr : "no context");

    const auto set = command(context.get(), "SET %s %s", "greeting", "hello");
    ASSERT_TRUE(set);
    EXPECT_EQ(set->type, REDIS_REPLY_STATUS);
    const auto get = command(context.get(), "GET %s", "greeting");
    ASSERT_TRUE(get);
    ASSERT_EQ(get->type, REDIS_REPLY_STRING);
    EXPECT_EQ(std::string(get->str, get->len), "hello");
}

TEST_F(redis_instance_redis, stop_and_start_again_keep_the_port_and_lose_the_data) {
    {
        const auto context = connect(*redis_);
        ASSERT_TRUE(context && context->err == 0);
        ASSERT_TRUE(command(context.get(), "SET %s %s", "volatile", "1"));
    }
    const auto port = redis_->port();

    redis_->stop();
    EXPECT_FALSE(redis_->running());
    EXPECT_FALSE(redis_->ping(200ms));

    redis_->start_again();
    EXPECT_TRUE(redis_->running());
    EXPECT_EQ(redis_->port(), port);
    EXPECT_TRUE(redis_->ping());
    const auto context = connect(*redis_);
    ASSERT_TRUE(context && context->err == 0);
    const auto get = command(context.get(), "GET %s", "volatile");
    ASSERT_TRUE(get);
    EXPECT_EQ(get->type, REDIS_REPLY_NIL);  // no persistence
}

TEST_F(redis_instance_redis, a_frozen_server_accepts_but_never_answers) {
    redis_->freeze();
    EXPECT_TRUE(redis_->running());
    EXPECT_FALSE(redis_->ping(200ms));
    redis_->thaw();
    EXPECT_TRUE(wait_until([] { return redis_->ping(200ms); }, 5s));
}

TEST_F(redis_instance_redis, destroying_an_instance_leaves_no_process) {
    pid_t pid = -1;
    {
        redis_instance second;
        second.start();
        pid = second.pid();
        ASSERT_GT(pid, 0);
        EXPECT_FALSE(process_gone(pid));
        EXPECT_NE(second.port(), redis_->port());
    }
    EXPECT_TRUE(wait_until([pid] { return process_gone(pid); }, 10s));
}

TEST(child_process_test, stop_escalates_to_sigkill_when_the_signal_is_ignored) {
    spawn_options options;
    options.argv = {"/bin/sh", "-c", "trap '' TERM; exec sleep 600"};
    auto child = child_process::spawn(options);
    // The shell must have installed its trap before the SIGTERM, or the test proves nothing.
    ASSERT_TRUE(wait_until(
        [&] {
            std::FILE* f =
                std::fopen(("/proc/" + std::to_string(child.pid()) + "/comm").c_str(), "r");
            char name[32] = {};
            const bool exec_done = f != nullptr && std::fgets(name, sizeof name, f) != nullptr &&
                                   std::string(name) == "sleep\n";
            if (f != nullptr) {
                std::fclose(f);
            }
            return exec_done;
        },
        10s));

    const auto status = child.stop(SIGTERM, 200ms);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->signaled()) << status->describe();
    EXPECT_EQ(status->term_signal(), SIGKILL) << status->describe();
    EXPECT_FALSE(child.running());
}

TEST(child_process_test, exec_failure_is_reported_by_spawn) {
    spawn_options options;
    options.argv = {"/nonexistent/pulsestream-binary"};
    EXPECT_THROW(child_process::spawn(options), std::system_error);
}

TEST(child_process_test, reports_exit_codes) {
    spawn_options options;
    options.argv = {"/bin/sh", "-c", "exit 7"};
    auto child = child_process::spawn(options);
    const auto status = child.wait_exit(10s);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->exited());
    EXPECT_EQ(status->exit_code(), 7);
}

// A "test binary" (a forked copy of this one) spawns a server-like child and is then SIGKILLed,
// so no destructor runs: the kernel must still kill the child (PR_SET_PDEATHSIG). This process
// becomes a child subreaper so the orphan is reparented here and can be reaped and inspected.
TEST(child_process_test, children_die_with_a_killed_test_binary) {
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int pid_pipe[2];
    int hold_pipe[2];
    ASSERT_EQ(::pipe(pid_pipe), 0);
    ASSERT_EQ(::pipe(hold_pipe), 0);

    const pid_t fake_binary = ::fork();
    ASSERT_GE(fake_binary, 0);
    if (fake_binary == 0) {
        ::close(pid_pipe[0]);
        ::close(hold_pipe[1]);
        try {
            spawn_options options;
            options.argv = {"/bin/sleep", "600"};
            auto child = child_process::spawn(options);
            const pid_t pid = child.pid();
            [[maybe_unused]] auto n = ::write(pid_pipe[1], &pid, sizeof pid);
            char byte = 0;
            // Blocks until killed; EOF (the test itself died) ends it too.
            n = ::read(hold_pipe[0], &byte, 1);
        } catch (...) {
            ::_exit(1);  // the parent then reads EOF instead of a pid and fails
        }
        ::_exit(0);
    }
    ::close(pid_pipe[1]);
    ::close(hold_pipe[0]);
    pid_t grandchild = -1;
    ASSERT_EQ(::read(pid_pipe[0], &grandchild, sizeof grandchild),
              static_cast<ssize_t>(sizeof grandchild));
    ::close(pid_pipe[0]);
    ASSERT_GT(grandchild, 0);
    ASSERT_FALSE(process_gone(grandchild));

    ::kill(fake_binary, SIGKILL);
    int raw = 0;
    ASSERT_TRUE(
        wait_until([&] { return ::waitpid(fake_binary, &raw, WNOHANG) == fake_binary; }, 10s));
    ::close(hold_pipe[1]);

    int grandchild_status = 0;
    const bool reaped = wait_until(
        [&] { return ::waitpid(grandchild, &grandchild_status, WNOHANG) == grandchild; }, 10s);
    if (!reaped) {
        ::kill(grandchild, SIGKILL);  // do not leave it behind when the test fails
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    ASSERT_TRUE(reaped) << "the child outlived its killed parent";
    EXPECT_TRUE(WIFSIGNALED(grandchild_status));
    EXPECT_EQ(WTERMSIG(grandchild_status), SIGKILL);
}

}  // namespace
