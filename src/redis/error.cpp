#include "pulsestream/redis/error.hpp"

#include <string>

namespace pulsestream::redis {

namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer), which -Wnon-virtual-dtor flags anyway.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "pulsestream.redis"; }

    std::string message(int ev) const override {
        switch (static_cast<error>(ev)) {
            case error::timeout:
                return "Redis command deadline exceeded";
            case error::disconnected:
                return "not connected to Redis";
            case error::breaker_open:
                return "Redis circuit breaker is open";
            case error::protocol:
                return "Redis command refused by the client";
        }
        return "unknown Redis client error";
    }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace pulsestream::redis
