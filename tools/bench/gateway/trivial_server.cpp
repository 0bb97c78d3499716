// The baseline for the gateway benchmark: PulseStream's own HTTP server (same threads, same
// keep-alive handling) answering every request 202 with a fixed body and doing no other work.
// Usage: pulsestream-bench-trivial-server PORT [THREADS]
#include <boost/asio/awaitable.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "pulsestream/http/reply.hpp"
#include "pulsestream/http/server.hpp"
#include "pulsestream/runtime/signals.hpp"

namespace {

class no_metrics final : public pulsestream::http::request_observer {
public:
    void on_request_finished(const pulsestream::http::exchange&, unsigned,
                             std::chrono::steady_clock::duration) override {}
    void on_handler_exception(const pulsestream::http::exchange&, const char*) override {}
};

boost::asio::awaitable<pulsestream::http::response> accept_everything(
    pulsestream::http::exchange& ex) {
    co_await ex.read_body();
    co_return pulsestream::http::json_response(
        202, R"({"status":"success","message":"Event accepted for processing"})");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
        return 2;
    }
    pulsestream::runtime::block_termination_signals();
    pulsestream::http::server_options options;
    options.host = "127.0.0.1";
    options.port = static_cast<std::uint16_t>(std::atoi(argv[1]));
    const unsigned threads = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2]))
                                      : std::thread::hardware_concurrency();
    pulsestream::http::io_pool pool(threads);
    pulsestream::http::server server(pool, options, accept_everything,
                                     std::make_shared<no_metrics>());
    server.listen();
    pool.start();
    std::printf("listening on 127.0.0.1:%u\n", server.port());
    std::fflush(stdout);
    pulsestream::runtime::wait_for_termination_signal();
    server.drain();
    pool.stop();
    pool.join();
    return 0;
}
