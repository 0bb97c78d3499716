#pragma once

// Private: drives one redisAsyncContext's socket with Boost.Asio (the role hiredis'
// adapters/libuv.h plays for libuv).

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/basic_stream_descriptor.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <functional>
#include <memory>

struct redisAsyncContext;

namespace pulsestream::redis::detail {

using strand_type = boost::asio::strand<boost::asio::io_context::executor_type>;

/// Run on the strand around each round of reads (one readable event: every read it makes and
/// every reply callback hiredis runs for them). `end` runs after hiredis has returned, so the
/// owner may run work there that must not run inside hiredis. Either may be empty.
struct read_round_hooks {
    std::function<void()> begin;
    std::function<void()> end;
};

/// Installs hiredis' addRead/delRead/addWrite/delWrite/cleanup hooks on a context and turns them
/// into `async_wait`s on a stream_descriptor over the context's fd. Every hook and every
/// completion runs on `strand`; handlers hold `owner` weakly and do nothing once it is gone.
/// When hiredis tears the context down (cleanup hook) the waits are cancelled, the fd is
/// released (hiredis closes it) and `on_cleanup` runs, still inside hiredis.
class asio_adapter {
public:
    asio_adapter(strand_type strand, std::function<void()> on_cleanup,
                 read_round_hooks read_round = {});
    asio_adapter(const asio_adapter&) = delete;
    asio_adapter& operator=(const asio_adapter&) = delete;
    ~asio_adapter();

    /// Watches `ac` (a fresh context, not yet watched by anyone). On error nothing is installed
    /// and the caller still owns `ac`.
    boost::system::error_code attach(redisAsyncContext* ac, std::weak_ptr<void> owner);

private:
    static void add_read(void* self);
    static void del_read(void* self);
    static void add_write(void* self);
    static void del_write(void* self);
    static void cleanup(void* self);

    void arm_read();
    void arm_write();
    void on_readable(std::uint64_t generation, const boost::system::error_code& ec);
    void on_writable(std::uint64_t generation, const boost::system::error_code& ec);
    void release();

    boost::asio::posix::basic_stream_descriptor<strand_type> fd_;
    std::function<void()> on_cleanup_;
    read_round_hooks read_round_;
    std::weak_ptr<void> owner_;
    redisAsyncContext* ac_ = nullptr;
    std::uint64_t generation_ = 0;  // bumped per context, so stale completions are ignored
    bool want_read_ = false;
    bool want_write_ = false;
    bool read_armed_ = false;
    bool write_armed_ = false;
    bool in_write_ = false;
};

}  // namespace pulsestream::redis::detail
