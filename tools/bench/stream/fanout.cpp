// Live-stream fan-out benchmark against a running gateway (tools/bench/stream/run.sh starts one).
//
//   idle:   open N WebSocket clients of one tenant, hold them, and report the gateway's resident
//           memory per connection (VmRSS of --gateway-pid before and after).
//   fanout: open N clients, then post events at a steady rate (one POST per --batch events) and
//           report delivered frames/s and the delay from each request's 202 to each frame.
//
// Clients run on one io_context thread of this process; the poster is a second thread with a
// keep-alive connection. Each event's `value` is its sequence number, so a frame is matched to
// its request without parsing the whole JSON.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
    std::uint16_t port = 3000;
    std::string key = "ps_live_test_key_abc123xyz";
    std::string mode = "fanout";
    std::size_t clients = 1000;
    unsigned rate = 100;  // events per second
    unsigned batch = 1;   // events per request
    unsigned seconds = 10;
    int gateway_pid = 0;
    unsigned connect_parallel = 256;
};

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               clock_type::now().time_since_epoch())
        .count();
}

std::string uuid(std::mt19937_64& gen) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s(36, '-');
    for (std::size_t i = 0; i < 36; ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) continue;
        s[i] = hex[gen() & 15U];
    }
    s[14] = '4';
    s[19] = hex[8 + (gen() & 3U)];
    return s;
}

long vm_rss_kib(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

/// One WebSocket client: connect, handshake, then read frames until stopped, recording
/// (sequence, arrival) for every event frame.
class client : public std::enable_shared_from_this<client> {
public:
    client(net::io_context& ioc, const settings& s, std::atomic<std::size_t>& connected,
           std::atomic<std::size_t>& failed)
        : ws_(ioc), settings_(s), connected_(connected), failed_(failed) {}

    void start() {
        beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
        beast::get_lowest_layer(ws_).async_connect(
            tcp::endpoint(net::ip::make_address("127.0.0.1"), settings_.port),
            [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
    }
    void stop() {
        net::post(ws_.get_executor(),
                  [self = shared_from_this()] { beast::get_lowest_layer(self->ws_).close(); });
    }

    bool saw_marker = false;
    std::vector<std::pair<std::int64_t, std::int64_t>> arrivals;  // (sequence, ns)

private:
    void on_connect(beast::error_code ec) {
        if (ec) return fail();
        beast::get_lowest_layer(ws_).expires_never();
        ws_.set_option(websocket::stream_base::decorator(
            [key = settings_.key](websocket::request_type& req) { req.set("x-api-key", key); }));
        ws_.async_handshake(
            "127.0.0.1", "/v1/stream",
            [self = shared_from_this()](beast::error_code ec2) { self->on_handshake(ec2); });
    }
    void on_handshake(beast::error_code ec) {
        if (ec) return fail();
        ++connected_;
        read();
    }
    void read() {
        ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return;
            self->on_frame();
            self->read();
        });
    }
    void on_frame() {
        const auto t = now_ns();
        const auto data = buffer_.cdata();
        const std::string_view text(static_cast<const char*>(data.data()), data.size());
        const auto at = text.find("\"value\":");
        if (at != std::string_view::npos) {
            std::int64_t seq = 0;
            const char* first = text.data() + at + 8;
            const auto [ptr, err] = std::from_chars(first, text.data() + text.size(), seq);
            if (err == std::errc{}) {
                if (seq < 0) {
                    saw_marker = true;
                } else {
                    arrivals.emplace_back(seq, t);
                }
            }
        }
        buffer_.consume(buffer_.size());
    }
    void fail() {
        ++failed_;
        ++connected_;  // counted as settled
    }

    websocket::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buffer_;
    const settings& settings_;
    std::atomic<std::size_t>& connected_;
    std::atomic<std::size_t>& failed_;
};

/// Blocking keep-alive POST /v1/events.
class poster {
public:
    explicit poster(const settings& s) : settings_(s), socket_(ioc_) { connect(); }

    /// Returns the status; reconnects once on a broken connection.
    unsigned post(const std::string& body) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            try {
                beast::http::request<beast::http::string_body> req{beast::http::verb::post,
                                                                   "/v1/events", 11};
                req.set(beast::http::field::host, "127.0.0.1");
                req.set(beast::http::field::content_type, "application/json");
                req.set("x-api-key", settings_.key);
                req.set("Idempotency-Key", uuid(gen_));
                req.body() = body;
                req.prepare_payload();
                beast::http::write(socket_, req);
                beast::http::response<beast::http::string_body> res;
                beast::http::read(socket_, buffer_, res);
                return res.result_int();
            } catch (const std::exception&) {
                socket_ = tcp::socket(ioc_);
                connect();
            }
        }
        return 0;
    }
    std::mt19937_64& gen() { return gen_; }

private:
    void connect() {
        socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), settings_.port));
    }

    const settings& settings_;
    net::io_context ioc_;
    tcp::socket socket_;
    beast::flat_buffer buffer_;
    std::mt19937_64 gen_{std::random_device{}()};
};

std::string event_json(const std::string& device, std::string_view type, std::int64_t value) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    return R"({"deviceId":")" + device + R"(","eventType":")" + std::string(type) +
           R"(","value":)" + std::to_string(value) + R"(,"timestamp":)" + std::to_string(ms) + "}";
}

void raise_fd_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

struct client_pool {
    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
    std::vector<std::shared_ptr<client>> clients;
    std::atomic<std::size_t> settled{0};
    std::atomic<std::size_t> failed{0};
    std::thread thread;

    /// Opens `n` clients, at most `parallel` handshakes at a time; returns when all settled.
    void open(const settings& s, std::size_t n) {
        thread = std::thread([this] { ioc.run(); });
        for (std::size_t i = 0; i < n; ++i) {
            while (i - settled.load() >= s.connect_parallel)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            auto c = std::make_shared<client>(ioc, s, settled, failed);
            clients.push_back(c);
            net::post(ioc, [c] { c->start(); });
        }
        while (settled.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    void close() {
        for (auto& c : clients) c->stop();
        work.reset();
        thread.join();
    }
};

/// Read after the client thread has stopped or through this post, which runs on it.
template <class F>
auto on_clients(client_pool& pool, F f) {
    std::promise<decltype(f())> done;
    net::post(pool.ioc, [&] { done.set_value(f()); });
    return done.get_future().get();
}

int run_idle(const settings& s) {
    client_pool pool;
    const long before = s.gateway_pid > 0 ? vm_rss_kib(s.gateway_pid) : -1;
    const auto started = clock_type::now();
    pool.open(s, s.clients);
    const double open_s = std::chrono::duration<double>(clock_type::now() - started).count();
    std::this_thread::sleep_for(std::chrono::seconds(2));  // let the gateway settle
    const long after = s.gateway_pid > 0 ? vm_rss_kib(s.gateway_pid) : -1;
    const std::size_t ok = s.clients - pool.failed.load();
    std::printf(
        "idle clients=%zu connected=%zu open_s=%.2f gateway_rss_before_kib=%ld after_kib=%ld "
        "per_connection_kib=%.2f\n",
        s.clients, ok, open_s, before, after,
        ok > 0 && before > 0 ? static_cast<double>(after - before) / static_cast<double>(ok)
                             : -1.0);
    pool.close();
    return ok == s.clients ? 0 : 1;
}

int run_fanout(const settings& s) {
    client_pool pool;
    pool.open(s, s.clients);
    const std::size_t ok = s.clients - pool.failed.load();
    if (ok != s.clients)
        std::fprintf(stderr, "fanout: %zu of %zu clients failed to connect\n", s.clients - ok,
                     s.clients);

    poster http(s);
    // The tenant's channel is subscribed a moment after the first client joined.
    const auto device = uuid(http.gen());
    const auto live_deadline = clock_type::now() + std::chrono::seconds(30);
    for (;;) {
        http.post("[" + event_json(device, "marker", -1) + "]");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const auto waiting = on_clients(pool, [&] {
            return std::count_if(pool.clients.begin(), pool.clients.end(),
                                 [](auto& c) { return !c->saw_marker; });
        });
        if (waiting == static_cast<long>(s.clients - ok)) break;
        if (clock_type::now() > live_deadline) {
            std::fprintf(stderr, "fanout: %ld clients saw no marker within 30 s\n", waiting);
            break;
        }
    }

    const std::size_t requests = static_cast<std::size_t>(s.rate) * s.seconds / s.batch;
    const std::size_t events = requests * s.batch;
    std::vector<std::int64_t> acked(requests, 0);
    std::vector<std::string> devices;
    for (int i = 0; i < 10; ++i) devices.push_back(uuid(http.gen()));
    const auto interval = std::chrono::nanoseconds(1'000'000'000LL * s.batch / s.rate);
    const auto t0 = clock_type::now();
    std::size_t non_202 = 0;
    for (std::size_t r = 0; r < requests; ++r) {
        std::this_thread::sleep_until(t0 + r * interval);
        std::string body = "[";
        for (unsigned i = 0; i < s.batch; ++i) {
            const auto seq = static_cast<std::int64_t>(r * s.batch + i);
            if (i != 0) body += ',';
            body +=
                event_json(devices[static_cast<std::size_t>(seq) % devices.size()], "bench", seq);
        }
        body += ']';
        if (http.post(body) != 202) ++non_202;
        acked[r] = now_ns();
    }
    const double post_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    // Frames still in flight: wait until the count stops growing (at most 10 s).
    std::size_t last = 0;
    for (int i = 0; i < 100; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const auto now = on_clients(pool, [&] {
            std::size_t n = 0;
            for (auto& c : pool.clients) n += c->arrivals.size();
            return n;
        });
        if (now == last && now > 0) break;
        last = now;
    }
    pool.close();

    std::vector<std::int64_t> latencies;
    latencies.reserve(events * s.clients);
    std::int64_t first_arrival = INT64_MAX, last_arrival = 0;
    std::size_t early = 0;
    for (auto& c : pool.clients) {
        for (const auto& [seq, t] : c->arrivals) {
            if (seq < 0 || static_cast<std::size_t>(seq) >= events) continue;
            const auto lat = t - acked[static_cast<std::size_t>(seq) / s.batch];
            if (lat < 0) ++early;  // the frame beat the 202 to this process
            latencies.push_back(std::max<std::int64_t>(lat, 0));
            first_arrival = std::min(first_arrival, t);
            last_arrival = std::max(last_arrival, t);
        }
    }
    std::sort(latencies.begin(), latencies.end());
    const auto pct = [&](double p) {
        if (latencies.empty()) return -1.0;
        const auto i =
            std::min(latencies.size() - 1,
                     static_cast<std::size_t>(p * static_cast<double>(latencies.size())));
        return static_cast<double>(latencies[i]) / 1e6;
    };
    const double span_s =
        latencies.empty() ? 0 : static_cast<double>(last_arrival - first_arrival) / 1e9;
    std::printf(
        "fanout clients=%zu rate=%u batch=%u seconds=%u posted_events=%zu posting_s=%.2f "
        "non_202=%zu "
        "expected_frames=%zu delivered_frames=%zu frames_per_s=%.0f latency_ms_p50=%.2f p90=%.2f "
        "p99=%.2f "
        "max=%.2f frames_before_202=%zu\n",
        s.clients, s.rate, s.batch, s.seconds, events, post_s, non_202, events * ok,
        latencies.size(), span_s > 0 ? static_cast<double>(latencies.size()) / span_s : 0.0,
        pct(0.50), pct(0.90), pct(0.99),
        latencies.empty() ? -1.0 : static_cast<double>(latencies.back()) / 1e6, early);
    return latencies.size() == events * ok && non_202 == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    settings s;
    CLI::App app{"PulseStream live-stream fan-out benchmark (against a running gateway)"};
    app.add_option("mode", s.mode, "fanout or idle")->check(CLI::IsMember({"fanout", "idle"}));
    app.add_option("--port", s.port, "gateway port")->required();
    app.add_option("--key", s.key, "API key of the tenant");
    app.add_option("--clients", s.clients, "WebSocket clients");
    app.add_option("--rate", s.rate, "events posted per second (fanout)")
        ->check(CLI::PositiveNumber);
    app.add_option("--batch", s.batch, "events per request (fanout)")->check(CLI::PositiveNumber);
    app.add_option("--seconds", s.seconds, "posting time (fanout)")->check(CLI::PositiveNumber);
    app.add_option("--gateway-pid", s.gateway_pid, "gateway process, for its memory (idle)");
    CLI11_PARSE(app, argc, argv);
    raise_fd_limit();
    return s.mode == "idle" ? run_idle(s) : run_fanout(s);
}
