#include "support/redis_instance.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "support/ports.hpp"
#include "support/wait.hpp"

namespace pulsestream::test_support {

namespace {

using namespace std::chrono_literals;

constexpr int port_attempts = 5;

std::string server_binary() {
    const char* env = std::getenv("PULSESTREAM_REDIS_SERVER");
    return env != nullptr && *env != '\0' ? env : "/usr/bin/redis-server";
}

timeval to_timeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

struct context_deleter {
    void operator()(redisContext* c) const { redisFree(c); }
};
struct reply_deleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};

bool log_says_port_taken(const std::filesystem::path& log) {
    return tail_of_file(log, 50).find("Address already in use") != std::string::npos;
}

}  // namespace

bool redis_instance::available() { return ::access(server_binary().c_str(), X_OK) == 0; }

redis_instance::redis_instance(redis_options options) : options_(std::move(options)) {}

redis_instance::~redis_instance() { stop(); }

void redis_instance::start() {
    if (dir_) {
        throw std::logic_error("redis_instance::start called twice; use start_again");
    }
    dir_.emplace("pulsestream-redis-");
    for (int attempt = 1;; ++attempt) {
        port_ = free_tcp_port();
        launch();
        if (wait_ready()) {
            return;
        }
        // Another process may have taken the port between free_tcp_port() and bind().
        if (running() || !log_says_port_taken(log_path()) || attempt == port_attempts) {
            fail("server did not answer PING");
        }
    }
}

void redis_instance::launch() {
    spawn_options server;
    server.argv = {server_binary(),
                   "--port",
                   std::to_string(port_),
                   "--bind",
                   "127.0.0.1",
                   "--save",
                   "",
                   "--appendonly",
                   "no",
                   "--daemonize",
                   "no",
                   "--dir",
                   dir_->path().string()};
    server.argv.insert(server.argv.end(), options_.extra_args.begin(), options_.extra_args.end());
    server.log_file = log_path();
    server_ = child_process::spawn(server);
}

bool redis_instance::wait_ready() {
    bool ready = false;
    wait_until(
        [&] {
            if (!server_.running()) {
                return true;  // stop waiting: it died
            }
            ready = ping(500ms);
            return ready;
        },
        options_.start_deadline, 10ms);
    return ready;
}

bool redis_instance::ping(std::chrono::milliseconds timeout) const {
    const std::unique_ptr<redisContext, context_deleter> context(
        redisConnectWithTimeout("127.0.0.1", port_, to_timeval(timeout)));
    if (!context || context->err != 0) {
        return false;
    }
    if (redisSetTimeout(context.get(), to_timeval(timeout)) != REDIS_OK) {
        return false;
    }
    const std::unique_ptr<redisReply, reply_deleter> reply(
        static_cast<redisReply*>(redisCommand(context.get(), "PING")));
    return reply && reply->type == REDIS_REPLY_STATUS &&
           std::string_view(reply->str, reply->len) == "PONG";
}

void redis_instance::stop() { server_.stop(SIGTERM, 10s); }

void redis_instance::start_again() {
    if (!dir_) {
        throw std::logic_error("redis_instance::start_again before start");
    }
    if (running()) {
        return;
    }
    launch();
    if (!wait_ready()) {
        fail("server did not answer PING again on port " + std::to_string(port_));
    }
}

bool redis_instance::running() { return server_.running(); }

void redis_instance::freeze() { server_.signal(SIGSTOP); }

void redis_instance::thaw() { server_.signal(SIGCONT); }

std::string redis_instance::url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

std::filesystem::path redis_instance::log_path() const {
    return dir_ ? dir_->path() / "redis.log" : std::filesystem::path();
}

void redis_instance::fail(const std::string& what) {
    const auto status = server_.status();
    const std::string log = tail_of_file(log_path());
    stop();
    throw std::runtime_error("redis_instance: " + what + " (port " + std::to_string(port_) +
                             (status ? ", " + status->describe() : std::string()) + "); " +
                             log_path().string() + ":\n" + log);
}

}  // namespace pulsestream::test_support
