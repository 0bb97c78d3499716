#include "pulsestream/pg/blocking_pool.hpp"

namespace pulsestream::pg {

namespace {

std::string with_connect_timeout(std::string url) {
    if (url.find("connect_timeout") != std::string::npos) return url;
    url += url.find('?') == std::string::npos ? '?' : '&';
    return url + "connect_timeout=2";
}

}  // namespace

blocking_pool::blocking_pool(std::string url, std::size_t threads)
    : url_(with_connect_timeout(std::move(url))), threads_(threads == 0 ? 1 : threads) {}

blocking_pool::~blocking_pool() { threads_.join(); }

blocking_pool::lease::lease(blocking_pool& pool) : pool_(pool) {
    std::lock_guard lock(pool_.mutex_);
    if (!pool_.idle_.empty()) {
        conn_ = std::move(pool_.idle_.back());
        pool_.idle_.pop_back();
    }
}

blocking_pool::lease::~lease() {
    if (!conn_) return;
    std::lock_guard lock(pool_.mutex_);
    pool_.idle_.push_back(std::move(conn_));
}

pqxx::connection& blocking_pool::lease::open() {
    if (conn_ && !conn_->is_open()) conn_.reset();
    if (!conn_) conn_ = std::make_unique<pqxx::connection>(pool_.url_);
    return *conn_;
}

}  // namespace pulsestream::pg
