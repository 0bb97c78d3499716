#include "pulsestream/http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <list>
#include <thread>
#include <tuple>
#include <vector>

#include "pulsestream/http/http_date.hpp"
#include "pulsestream/http/reply.hpp"
#include "pulsestream/http/request_framing.hpp"

namespace pulsestream::http {

namespace net = boost::asio;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// A connection as its shard sees it, so that drain() can close the idle ones.
struct connection_entry {
    beast::tcp_stream* stream;
    bool busy = false;
};

}  // namespace

/// One io_context's share of the server. Everything but the acceptor's construction is touched
/// only on that io_context's thread, so nothing here needs a lock.
struct shard {
    explicit shard(net::io_context& context) : ioc(context), acceptor(context) {}
    net::io_context& ioc;
    tcp::acceptor acceptor;
    std::list<connection_entry> connections;
    bool draining = false;
};

struct server::state {
    state(io_pool& p, server_options o, request_handler h, std::shared_ptr<request_observer> obs)
        : pool(p), options(std::move(o)), handler(std::move(h)), observer(std::move(obs)) {}
    io_pool& pool;
    const server_options options;
    const request_handler handler;
    const std::shared_ptr<request_observer> observer;
    std::vector<std::unique_ptr<shard>> shards;
    std::atomic<std::size_t> connections{0};
    std::atomic<std::size_t> accepting{0};  // accept loops still running
    std::atomic<bool> draining{false};
    std::atomic<std::uint16_t> port{0};
};

namespace {

/// Counts a connection for as long as it lives, including when its coroutine is destroyed.
class connection_count {
public:
    explicit connection_count(std::atomic<std::size_t>& n) : n_(n) { ++n_; }
    ~connection_count() { --n_; }
    connection_count(const connection_count&) = delete;
    connection_count& operator=(const connection_count&) = delete;

private:
    std::atomic<std::size_t>& n_;
};

/// Unregisters a connection from its shard when the connection's coroutine ends.
class registration {
public:
    registration(shard& s, beast::tcp_stream& stream)
        : shard_(s), it_(s.connections.insert(s.connections.end(), connection_entry{&stream})) {}
    ~registration() { shard_.connections.erase(it_); }
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    connection_entry& entry() { return *it_; }

private:
    shard& shard_;
    std::list<connection_entry>::iterator it_;
};

bool is_quiet_close(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
           ec == net::error::operation_aborted || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == bhttp::error::partial_message;
}

/// Reads a request's header: a new connection's within the header timeout; a keep-alive
/// connection's next one within the idle timeout for its first bytes, then the header timeout
/// for the rest, so that a client keeping a connection open between requests is not thereby
/// allowed to dribble a header for as long. Bytes of a pipelined request already buffered
/// count as arrived.
net::awaitable<boost::system::error_code> read_header(
    beast::tcp_stream& stream, beast::flat_buffer& buffer,
    bhttp::request_parser<bhttp::string_body>& parser, const server_options& opt, bool first) {
    if (!first && buffer.size() == 0) {
        stream.expires_after(opt.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(
            buffer.prepare(beast::read_size(buffer, 65536)), use_tuple);
        if (ec) co_return ec;
        buffer.commit(n);
        // A whole header usually comes in one segment: parsed here, no second read.
        boost::system::error_code parse_ec;
        buffer.consume(parser.put(buffer.data(), parse_ec));
        if (parse_ec != bhttp::error::need_more) co_return parse_ec;
    }
    stream.expires_after(opt.header_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
    co_return ec;
}

/// `res` as the last response of its connection, with the fields every response carries.
response closing(response res) {
    res.set(bhttp::field::date, current_http_date());
    res.keep_alive(false);
    res.prepare_payload();
    return res;
}

/// Malformed HTTP gets a short JSON answer before the connection closes, never a silent drop.
response malformed_request_response(const boost::system::error_code& ec) {
    return closing(error_response(ec == bhttp::error::header_limit
                                      ? core::errc::header_too_large
                                      : core::errc::malformed_request));
}

/// A header that parsed but could be read two ways (request_framing.hpp).
response ambiguous_request_response(unsigned version, const std::string& problem) {
    const auto e = core::errc::malformed_request;
    auto res = json_response(core::describe(e).http_status, core::error_body(e, {}, problem));
    res.version(version);
    return closing(std::move(res));
}

response internal_error_response() { return error_response(core::errc::internal_error); }

net::awaitable<response> answer(server::state& st, exchange& ex) {
    const auto started = std::chrono::steady_clock::now();
    st.observer->on_request_started();
    response res;
    bool threw = false;
    try {
        res = co_await st.handler(ex);
    } catch (const std::exception& e) {
        st.observer->on_handler_exception(ex, e.what());
        threw = true;
    }
    if (threw) res = internal_error_response();
    res.version(ex.message().version());
    res.set(bhttp::field::date, current_http_date());
    res.keep_alive(ex.message().keep_alive() && ex.reusable() && !st.draining.load());
    res.prepare_payload();
    st.observer->on_request_finished(ex, res.result_int(),
                                     std::chrono::steady_clock::now() - started);
    co_return res;
}

net::awaitable<void> run_connection(std::shared_ptr<server::state> st, shard& sh,
                                    tcp::socket socket) {
    connection_count counted(st->connections);
    beast::tcp_stream stream(std::move(socket));
    boost::system::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    registration registered(sh, stream);
    // Shares the state's lifetime: a taken-over connection's slot may outlive the server.
    const std::shared_ptr<std::atomic<std::size_t>> connections(st, &st->connections);
    beast::flat_buffer buffer;
    const auto& opt = st->options;

    for (bool first = true; !sh.draining; first = false) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(opt.header_limit);
        // The body limit is applied by exchange::read_body(): a too-large Content-Length must
        // not answer 413 before the handler had its say on the header (401 comes first).
        parser.body_limit(boost::none);
        if (const auto ec = co_await read_header(stream, buffer, parser, opt, first)) {
            if (!is_quiet_close(ec)) {
                stream.expires_after(opt.write_timeout);
                auto res = malformed_request_response(ec);
                co_await bhttp::async_write(stream, res, use_tuple);
            }
            break;
        }
        if (auto problem = framing_problem(parser, opt.single_value_fields)) {
            stream.expires_after(opt.write_timeout);
            auto res = ambiguous_request_response(parser.get().version(), *problem);
            co_await bhttp::async_write(stream, res, use_tuple);
            break;
        }
        stream.expires_never();
        registered.entry().busy = true;
        exchange ex(stream, buffer, parser, opt.body_limit, opt.body_timeout, connections);
        response res = co_await answer(*st, ex);
        registered.entry().busy = false;
        if (ex.taken_over()) co_return;  // the socket has a new owner (WebSocket)

        stream.expires_after(opt.write_timeout);
        boost::system::error_code write_ec;
        if (parser.get().method() == bhttp::verb::head) {
            // The header alone: the status, fields and Content-Length a GET would get, no body
            // (RFC 9110 §9.3.2); a body here would be read as the next response.
            bhttp::response_serializer<bhttp::string_body> serializer(res);
            std::tie(write_ec, std::ignore) =
                co_await bhttp::async_write_header(stream, serializer, use_tuple);
        } else {
            std::tie(write_ec, std::ignore) = co_await bhttp::async_write(stream, res, use_tuple);
        }
        if (write_ec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_loop(std::shared_ptr<server::state> st, shard& sh) {
    // Counted so that idle() covers the loops too: the owner frees the server once nothing of
    // it runs. (A loop still waiting when the pool stops is destroyed by io_pool, which keeps
    // every context's services until all handlers are gone: the state holds every acceptor.)
    connection_count running(st->accepting);
    net::steady_timer backoff(sh.ioc);
    for (;;) {
        auto [ec, socket] = co_await sh.acceptor.async_accept(use_tuple);
        if (ec == net::error::operation_aborted || !sh.acceptor.is_open()) co_return;
        if (ec) {
            // Out of file descriptors or similar: back off briefly instead of spinning.
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        if (st->connections.load() >= st->options.max_connections) {
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        net::co_spawn(sh.ioc, run_connection(st, sh, std::move(socket)), net::detached);
    }
}

void open_acceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    // Every io_context gets its own acceptor on the same port; the kernel balances among them.
    acceptor.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
}

}  // namespace

server::server(io_pool& pool, server_options options, request_handler handler,
               std::shared_ptr<request_observer> observer)
    : state_(std::make_shared<state>(pool, std::move(options), std::move(handler),
                                     std::move(observer))) {}

server::~server() { drain(); }

void server::listen() {
    tcp::endpoint endpoint(net::ip::make_address(state_->options.host), state_->options.port);
    for (std::size_t i = 0; i < state_->pool.size(); ++i) {
        auto sh = std::make_unique<shard>(state_->pool.context(i));
        open_acceptor(sh->acceptor, endpoint);
        // With port 0 the first bind picks the port; the others must share that one.
        endpoint.port(sh->acceptor.local_endpoint().port());
        net::co_spawn(sh->ioc, accept_loop(state_, *sh), net::detached);
        state_->shards.push_back(std::move(sh));
    }
    state_->port = endpoint.port();
}

std::uint16_t server::port() const noexcept { return state_->port.load(); }

std::size_t server::connections() const noexcept { return state_->connections.load(); }

bool server::idle() const noexcept {
    return state_->connections.load() == 0 && state_->accepting.load() == 0;
}

bool server::wait_idle(std::chrono::milliseconds deadline) const {
    const auto until = std::chrono::steady_clock::now() + deadline;
    // The io threads end the connections; this (non-io) thread only watches the counts.
    while (!idle() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return idle();
}

void server::drain() {
    if (state_->draining.exchange(true)) return;
    for (auto& sh : state_->shards) {
        net::post(sh->ioc, [st = state_, s = sh.get()] {
            s->draining = true;
            boost::system::error_code ignored;
            s->acceptor.close(ignored);
            for (auto& c : s->connections) {
                if (!c.busy) c.stream->cancel();
            }
        });
    }
}

}  // namespace pulsestream::http
