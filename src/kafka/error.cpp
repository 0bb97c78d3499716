#include "pulsestream/kafka/error.hpp"

#include <boost/system/errc.hpp>

#include <algorithm>
#include <string>
#include <string_view>

namespace pulsestream::kafka {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer); -Wnon-virtual-dtor cannot see that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    // A fixed id makes codes compare equal across copies of the category in several binaries.
    category() noexcept : boost::system::error_category(0x7264'6b61'666b'6131ULL) {}

    const char* name() const noexcept override { return "rdkafka"; }

    std::string message(int ev) const override {
        return rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(ev));
    }

    const char* message(int ev, char* buffer, std::size_t len) const noexcept override {
        // rd_kafka_err2str returns static strings (or a thread-local one for unknown codes).
        const std::string_view m = rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(ev));
        if (len == 0) {
            return buffer;
        }
        const std::size_t n = std::min(len - 1, m.size());
        m.copy(buffer, n);
        buffer[n] = '\0';
        return buffer;
    }

    boost::system::error_condition default_error_condition(int ev) const noexcept override {
        using boost::system::errc::make_error_condition;
        namespace errc = boost::system::errc;
        switch (static_cast<rd_kafka_resp_err_t>(ev)) {
            case RD_KAFKA_RESP_ERR__TIMED_OUT:
            case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
            case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
            case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
                return make_error_condition(errc::timed_out);
            case RD_KAFKA_RESP_ERR__QUEUE_FULL:
                return make_error_condition(errc::no_buffer_space);
            case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
                return make_error_condition(errc::message_size);
            case RD_KAFKA_RESP_ERR__DESTROY:
            case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
            case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
                return make_error_condition(errc::operation_canceled);
            default:
                return {ev, *this};
        }
    }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

boost::system::error_code make_error_code(rd_kafka_resp_err_t e) noexcept {
    return {static_cast<int>(e), error_category()};
}

bool is_kafka_error(const boost::system::error_code& ec) noexcept {
    return ec && ec.category() == error_category();
}

rd_kafka_resp_err_t resp_err(const boost::system::error_code& ec) noexcept {
    if (!ec) {
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (ec.category() != error_category()) {
        return RD_KAFKA_RESP_ERR_UNKNOWN;
    }
    return static_cast<rd_kafka_resp_err_t>(ec.value());
}

bool is_retryable(const boost::system::error_code& ec) noexcept {
    if (!is_kafka_error(ec)) {
        return false;
    }
    switch (static_cast<rd_kafka_resp_err_t>(ec.value())) {
        // Client side: capacity, time, connectivity, shutdown.
        case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        case RD_KAFKA_RESP_ERR__TIMED_OUT:
        case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
        case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
        case RD_KAFKA_RESP_ERR__TRANSPORT:
        case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        case RD_KAFKA_RESP_ERR__RESOLVE:
        case RD_KAFKA_RESP_ERR__NODE_UPDATE:
        case RD_KAFKA_RESP_ERR__WAIT_COORD:
        case RD_KAFKA_RESP_ERR__RETRY:
        case RD_KAFKA_RESP_ERR__DESTROY:
        case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
        case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        case RD_KAFKA_RESP_ERR__ISR_INSUFF:
        // Broker side: leadership and replication in flux.
        case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
        case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
        case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
        case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
        case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
        case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
        case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
        case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
        case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
            return true;
        default:
            return false;
    }
}

}  // namespace pulsestream::kafka
