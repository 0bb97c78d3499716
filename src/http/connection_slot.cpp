#include "pulsestream/http/connection_slot.hpp"

#include <utility>

namespace pulsestream::http {

connection_slot::connection_slot(std::shared_ptr<std::atomic<std::size_t>> counter) noexcept
    : counter_(std::move(counter)) {
    if (counter_) ++*counter_;
}

connection_slot::~connection_slot() { release(); }

connection_slot& connection_slot::operator=(connection_slot&& other) noexcept {
    if (this != &other) {
        release();
        counter_ = std::move(other.counter_);
    }
    return *this;
}

void connection_slot::release() noexcept {
    if (counter_) {
        --*counter_;
        counter_.reset();
    }
}

}  // namespace pulsestream::http
