#include "pulsestream/http/exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

namespace pulsestream::http {

namespace {

/// The target in origin form: an absolute-form target (`http://host/path?q`, which a server
/// must accept, RFC 9112 §3.2.2) loses its scheme and authority.
std::string_view target_of(const request& req) {
    std::string_view target(req.target().data(), req.target().size());
    if (target.starts_with('/')) return target;  // origin form: nearly every request
    for (const std::string_view scheme : {"http://", "https://"}) {
        if (target.size() > scheme.size() &&
            beast::iequals(target.substr(0, scheme.size()), scheme)) {
            const auto path = target.find_first_of("/?", scheme.size());
            if (path == std::string_view::npos) return "/";
            return target.substr(path);
        }
    }
    return target;
}

/// The body timeout. Not the stream's own timer: that one closes the socket, and a client whose
/// body stalls should still get its 408. On expiry the read is cancelled, the socket stays open.
class body_deadline {
public:
    body_deadline(beast::tcp_stream& stream, std::chrono::milliseconds timeout)
        : timer_(stream.get_executor(), timeout), state_(std::make_shared<state>()) {
        // The stream's own timer is off: the server clears it before the handler runs.
        timer_.async_wait([state = state_, &stream](const boost::system::error_code& ec) {
            // The destructor clears `reading` before the timer cancels the wait: a wait that had
            // already completed (its handler queued) when the read finished leaves the stream be.
            if (ec || !state->reading) return;
            state->expired = true;
            boost::system::error_code ignored;
            stream.socket().cancel(ignored);
        });
    }
    ~body_deadline() { state_->reading = false; }
    body_deadline(const body_deadline&) = delete;
    body_deadline& operator=(const body_deadline&) = delete;

    [[nodiscard]] bool expired() const { return state_->expired; }

private:
    struct state {
        bool reading = true;
        bool expired = false;
    };
    boost::asio::steady_timer timer_;
    std::shared_ptr<state> state_;
};

}  // namespace

std::string_view exchange::path() const {
    const auto target = target_of(message());
    return target.substr(0, target.find('?'));
}

std::string_view exchange::query() const {
    const auto target = target_of(message());
    const auto q = target.find('?');
    return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

taken_connection exchange::take_over() {
    taken_over_ = true;
    // Counted again here before the server's own count for this connection ends with its
    // coroutine, so the connection never drops out of the count in between.
    return taken_connection{std::move(stream_.socket()), connection_slot(connections_)};
}

boost::asio::awaitable<boost::system::error_code> exchange::read_body() {
    if (parser_.is_done()) co_return boost::system::error_code{};
    const auto declared = parser_.content_length();
    if (declared && *declared > body_limit_) {
        failed_ = true;  // the body stays unread: the connection closes after the response
        co_return beast::http::error::body_limit;
    }
    parser_.body_limit(body_limit_);  // chunked bodies are checked as they arrive
    // Nearly every small body came in with its header: then the read below does no I/O and
    // needs no timer.
    std::optional<body_deadline> deadline;
    if (!declared || buffer_.size() < *declared) deadline.emplace(stream_, body_timeout_);
    const auto expired = [&deadline] { return deadline && deadline->expired(); };
    if (message().version() >= 11 &&
        beast::iequals(message()[beast::http::field::expect], "100-continue")) {
        // Clients such as curl wait for this before sending a large body; it is sent only now,
        // after the handler accepted the header, so a refused request never uploads its body.
        // Never to an HTTP/1.0 client, which cannot know a 1xx (RFC 9110 §15.2).
        beast::http::response<beast::http::empty_body> go_on{beast::http::status::continue_,
                                                             message().version()};
        auto [write_ec, written] = co_await beast::http::async_write(
            stream_, go_on, boost::asio::as_tuple(boost::asio::use_awaitable));
        (void)written;
        if (write_ec) {
            failed_ = true;
            co_return expired() ? beast::error::timeout : write_ec;
        }
    }
    auto [ec, bytes] = co_await beast::http::async_read(
        stream_, buffer_, parser_, boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)bytes;
    if (expired()) ec = beast::error::timeout;
    if (ec) failed_ = true;
    co_return ec;
}

core::errc exchange::body_failure(const boost::system::error_code& ec) {
    if (ec == beast::http::error::body_limit) return core::errc::payload_too_large;
    if (ec == beast::error::timeout) return core::errc::request_timeout;
    return core::errc::malformed_request;
}

}  // namespace pulsestream::http
