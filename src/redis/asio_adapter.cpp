#include "asio_adapter.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace pulsestream::redis::detail {

namespace {
// Replies already in the kernel buffer are read in the same handler, up to this many extra
// 16 KiB reads, so a busy subscriber keeps up without starving the other work of the strand.
constexpr int max_extra_reads = 32;

asio_adapter* self_of(void* p) { return static_cast<asio_adapter*>(p); }
}  // namespace

asio_adapter::asio_adapter(strand_type strand, std::function<void()> on_cleanup,
                           read_round_hooks read_round)
    : fd_(std::move(strand)),
      on_cleanup_(std::move(on_cleanup)),
      read_round_(std::move(read_round)) {}

asio_adapter::~asio_adapter() {
    // The owning link frees its context first; should it not, stop watching the fd (hiredis
    // still owns and closes it) and unhook, so hiredis never calls into a dead adapter.
    if (ac_ != nullptr) {
        ac_->ev = {};
        boost::system::error_code ignored;
        fd_.cancel(ignored);
        fd_.release();
    }
}

boost::system::error_code asio_adapter::attach(redisAsyncContext* ac, std::weak_ptr<void> owner) {
    boost::system::error_code ec;
    fd_.assign(ac->c.fd, ec);
    if (ec) {
        return ec;
    }
    owner_ = std::move(owner);
    ac_ = ac;
    ++generation_;
    want_read_ = want_write_ = read_armed_ = write_armed_ = in_write_ = false;
    ac->ev.data = this;
    ac->ev.addRead = &asio_adapter::add_read;
    ac->ev.delRead = &asio_adapter::del_read;
    ac->ev.addWrite = &asio_adapter::add_write;
    ac->ev.delWrite = &asio_adapter::del_write;
    ac->ev.cleanup = &asio_adapter::cleanup;
    return {};
}

void asio_adapter::add_read(void* p) {
    auto* self = self_of(p);
    self->want_read_ = true;
    if (!self->read_armed_ && self->ac_ != nullptr) {
        self->arm_read();
    }
}

void asio_adapter::del_read(void* p) { self_of(p)->want_read_ = false; }

void asio_adapter::add_write(void* p) {
    auto* self = self_of(p);
    self->want_write_ = true;
    if (self->write_armed_ || self->in_write_ || self->ac_ == nullptr) {
        return;  // on_writable re-arms after its write when hiredis still has bytes to send
    }
    if ((self->ac_->c.flags & REDIS_CONNECTED) != 0) {
        // A connected socket is almost always writable: flush on the next strand turn (commands
        // issued in this turn coalesce into one write) instead of a round trip through epoll.
        self->write_armed_ = true;
        boost::asio::post(self->fd_.get_executor(),
                          [owner = self->owner_, self, generation = self->generation_] {
                              if (auto keep = owner.lock()) {
                                  self->on_writable(generation, {});
                              }
                          });
    } else {
        self->arm_write();  // connect(2) in progress: writable means connected (or failed)
    }
}

void asio_adapter::del_write(void* p) { self_of(p)->want_write_ = false; }

void asio_adapter::cleanup(void* p) { self_of(p)->release(); }

void asio_adapter::arm_read() {
    read_armed_ = true;
    fd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                   [owner = owner_, this, generation = generation_](
                       const boost::system::error_code& ec) {
                       if (auto keep = owner.lock()) {
                           on_readable(generation, ec);
                       }
                   });
}

void asio_adapter::arm_write() {
    write_armed_ = true;
    fd_.async_wait(boost::asio::posix::descriptor_base::wait_write,
                   [owner = owner_, this, generation = generation_](
                       const boost::system::error_code& ec) {
                       if (auto keep = owner.lock()) {
                           on_writable(generation, ec);
                       }
                   });
}

void asio_adapter::on_readable(std::uint64_t generation, const boost::system::error_code& ec) {
    if (generation != generation_) {
        return;  // completion of a context that is gone
    }
    read_armed_ = false;
    if (ec == boost::asio::error::operation_aborted || !want_read_) {
        return;
    }
    if (read_round_.begin) {
        read_round_.begin();
    }
    // Any other wait error is left for hiredis' own read to detect and report.
    redisAsyncHandleRead(ac_);  // may tear the context down (generation changes)
    for (int i = 0; i < max_extra_reads && generation == generation_ && want_read_; ++i) {
        boost::asio::posix::descriptor_base::bytes_readable pending(true);
        boost::system::error_code ioctl_ec;
        fd_.io_control(pending, ioctl_ec);
        if (ioctl_ec || pending.get() == 0) {
            break;
        }
        redisAsyncHandleRead(ac_);
    }
    if (generation == generation_ && want_read_ && !read_armed_) {
        arm_read();
    }
    if (read_round_.end) {
        read_round_.end();  // last: it may run the owner's handlers, which may close the link
    }
}

void asio_adapter::on_writable(std::uint64_t generation, const boost::system::error_code& ec) {
    if (generation != generation_) {
        return;
    }
    write_armed_ = false;
    if (ec == boost::asio::error::operation_aborted || !want_write_) {
        return;
    }
    in_write_ = true;
    redisAsyncHandleWrite(ac_);  // may tear the context down (generation changes)
    if (generation != generation_) {
        return;
    }
    in_write_ = false;
    // Still wanted: a partial write (socket buffer full) or connect(2) still in progress.
    if (want_write_ && !write_armed_) {
        arm_write();
    }
}

void asio_adapter::release() {
    if (ac_ == nullptr) {
        return;  // hiredis may call cleanup more than once
    }
    ac_ = nullptr;
    ++generation_;
    want_read_ = want_write_ = read_armed_ = write_armed_ = in_write_ = false;
    boost::system::error_code ignored;
    fd_.cancel(ignored);
    fd_.release();  // hiredis closes the fd itself
    if (on_cleanup_) {
        on_cleanup_();
    }
}

}  // namespace pulsestream::redis::detail
