#include "support/gateway_stack.hpp"

namespace pulsestream::test_support {

gateway_stack::gateway_stack(std::function<void(core::gateway_config&)> tweak)
    : tweak_(std::move(tweak)) {}

gateway_stack::~gateway_stack() { stop_gateway(); }

bool gateway_stack::available() {
    return postgres_instance::available() && redis_instance::available();
}

void gateway_stack::start() {
    postgres_.start();
    redis_.start();
    kafka_ = std::make_unique<devbroker::mock_cluster>(3);
    kafka_->create_default_topics();

    config_.shared.database_url = postgres_.url();
    config_.shared.redis_url = redis_.url();
    config_.shared.kafka_brokers = kafka_->bootstrap_servers();
    config_.host = "127.0.0.1";
    config_.port = 0;
    config_.threads = 2;
    config_.produce_timeout_ms = 3000;
    config_.idempotency_lock_ttl_s = 10;
    config_.shared.shutdown_timeout_ms = 5000;
    if (tweak_) tweak_(config_);
    start_gateway();
}

void gateway_stack::start_gateway() {
    gateway_ = std::make_unique<gateway::app>(config_);
    gateway_->start();
}

void gateway_stack::stop_gateway() {
    if (!gateway_) return;
    gateway_->shutdown(std::chrono::milliseconds(config_.shared.shutdown_timeout_ms));
    gateway_.reset();
}

}  // namespace pulsestream::test_support
