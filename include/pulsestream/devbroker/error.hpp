#pragma once

/// @file
/// The one exception type of the development broker.

#include <librdkafka/rdkafka.h>

#include <stdexcept>
#include <string>

namespace pulsestream::devbroker {

/// Thrown by every failing `mock_cluster` operation and by the control-line parser.
///
/// The devbroker is a development tool, so failures are exceptions with a message meant for a
/// person (what was asked, why it failed). `code()` is the librdkafka error when librdkafka
/// refused the request, `RD_KAFKA_RESP_ERR__INVALID_ARG` when the arguments were rejected
/// before reaching librdkafka, and `RD_KAFKA_RESP_ERR__FAIL` for anything else.
class mock_error : public std::runtime_error {
public:
    mock_error(rd_kafka_resp_err_t code, const std::string& message)
        : std::runtime_error(message), code_(code) {}

    /// The librdkafka error code behind this failure.
    [[nodiscard]] rd_kafka_resp_err_t code() const noexcept { return code_; }

private:
    rd_kafka_resp_err_t code_;
};

}  // namespace pulsestream::devbroker
