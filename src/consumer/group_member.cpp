#include "pulsestream/consumer/group_member.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "pulsestream/kafka/error.hpp"

namespace pulsestream::consumer {

namespace {

kafka::conf_ptr make_conf(const group_member_config& config) {
    kafka::conf_ptr conf(rd_kafka_conf_new());
    std::map<std::string, std::string> props{
        {"bootstrap.servers", config.brokers},
        {"group.id", config.group_id},
        {"client.id", config.client_id},
        {"auto.offset.reset", "earliest"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        {"session.timeout.ms", std::to_string(config.session_timeout.count())},
        // Frequent heartbeats make a member notice a rebalance sooner (the coordinator tells it in
        // the heartbeat answer), which shortens every rebalance of the group.
        {"heartbeat.interval.ms",
         std::to_string(std::clamp<std::int64_t>(config.session_timeout.count() / 6, 1, 3000))},
        {"max.poll.interval.ms",
         std::to_string(std::max(config.max_poll_interval, config.session_timeout).count())},
        {"partition.assignment.strategy", config.assignment_strategy},
    };
    for (const auto& [name, value] : config.extra) props[name] = value;

    std::string problems;
    std::array<char, 512> err{};
    for (const auto& [name, value] : props) {
        if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err.data(), err.size()) !=
            RD_KAFKA_CONF_OK) {
            if (!problems.empty()) problems += "; ";
            problems += name + ": " + err.data();
        }
    }
    if (!problems.empty()) {
        throw std::invalid_argument("kafka consumer configuration: " + problems);
    }
    return conf;
}

std::vector<std::int32_t> partitions_of(const rd_kafka_topic_partition_list_t* list) {
    std::vector<std::int32_t> out;
    out.reserve(static_cast<std::size_t>(list->cnt));
    for (int i = 0; i < list->cnt; ++i) out.push_back(list->elems[i].partition);
    std::sort(out.begin(), out.end());
    return out;
}

bool cooperative(rd_kafka_t* rk) {
    const char* protocol = rd_kafka_rebalance_protocol(rk);
    return protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
}

}  // namespace

group_member::group_member(group_member_config config) : config_(std::move(config)) {
    auto conf = make_conf(config_);
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &group_member::on_rebalance);
    if (config_.on_error) rd_kafka_conf_set_error_cb(conf.get(), &group_member::on_error_cb);
    if (config_.on_log) rd_kafka_conf_set_log_cb(conf.get(), &group_member::on_log_cb);

    std::array<char, 512> err{};
    handle_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err.data(), err.size()));
    if (!handle_) throw std::runtime_error(std::string("kafka consumer: ") + err.data());
    (void)conf.release();  // rd_kafka_new took it

    // Rebalance events and errors arrive through the consumer queue, so poll() serves them.
    rd_kafka_poll_set_consumer(handle_.get());

    kafka::partition_list_ptr topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), config_.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (const auto e = rd_kafka_subscribe(handle_.get(), topics.get());
        e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw std::runtime_error(std::string("kafka subscribe: ") + rd_kafka_err2str(e));
    }
}

group_member::~group_member() {
    close();
    handle_.reset();
}

kafka::message_ptr group_member::poll(std::chrono::milliseconds timeout) {
    if (closed_) return nullptr;
    kafka::message_ptr msg(
        rd_kafka_consumer_poll(handle_.get(), static_cast<int>(timeout.count())));
    if (!msg) return nullptr;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (config_.on_error) {
            config_.on_error(kafka::make_error_code(msg->err), rd_kafka_message_errstr(msg.get()));
        }
        return nullptr;
    }
    return msg;
}

kafka::partition_list_ptr group_member::make_list(std::span<const partition_offset> offsets) const {
    kafka::partition_list_ptr list(
        rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& po : offsets) {
        rd_kafka_topic_partition_list_add(list.get(), config_.topic.c_str(), po.partition)->offset =
            po.offset;
    }
    return list;
}

boost::system::error_code group_member::commit(std::span<const partition_offset> offsets) {
    if (offsets.empty()) return {};
    auto list = make_list(offsets);
    if (const auto e = rd_kafka_commit(handle_.get(), list.get(), 0);
        e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return kafka::make_error_code(e);
    }
    for (int i = 0; i < list->cnt; ++i) {
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return kafka::make_error_code(list->elems[i].err);
        }
    }
    return {};
}

boost::system::error_code group_member::seek(std::span<const partition_offset> offsets,
                                             std::chrono::milliseconds timeout) {
    std::vector<partition_offset> owned;
    for (const auto& po : offsets) {
        if (std::binary_search(assignment_.begin(), assignment_.end(), po.partition)) {
            owned.push_back(po);
        }
    }
    if (owned.empty()) return {};
    auto list = make_list(owned);
    kafka::error_ptr error(
        rd_kafka_seek_partitions(handle_.get(), list.get(), static_cast<int>(timeout.count())));
    if (error) return kafka::make_error_code(rd_kafka_error_code(error.get()));
    for (int i = 0; i < list->cnt; ++i) {
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return kafka::make_error_code(list->elems[i].err);
        }
    }
    return {};
}

std::optional<std::int64_t> group_member::high_watermark(std::int32_t partition) const {
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (rd_kafka_get_watermark_offsets(handle_.get(), config_.topic.c_str(), partition, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
        return std::nullopt;
    }
    return high;
}

std::vector<partition_offset> group_member::positions() const {
    std::vector<partition_offset> out;
    if (assignment_.empty()) return out;
    std::vector<partition_offset> query;
    for (const auto p : assignment_) query.push_back({p, RD_KAFKA_OFFSET_INVALID});
    auto list = make_list(query);
    if (rd_kafka_position(handle_.get(), list.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
    for (int i = 0; i < list->cnt; ++i) {
        if (list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[i].offset >= 0) {
            out.push_back({list->elems[i].partition, list->elems[i].offset});
        }
    }
    return out;
}

std::optional<std::int64_t> group_member::committed(std::int32_t partition,
                                                    std::chrono::milliseconds timeout) const {
    const partition_offset query{partition, RD_KAFKA_OFFSET_INVALID};
    auto list = make_list(std::span(&query, 1));
    if (rd_kafka_committed(handle_.get(), list.get(), static_cast<int>(timeout.count())) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        list->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR || list->elems[0].offset < 0) {
        return std::nullopt;
    }
    return list->elems[0].offset;
}

std::string group_member::member_id() const {
    char* id = rd_kafka_memberid(handle_.get());
    if (id == nullptr) return {};
    std::string out(id);
    rd_kafka_mem_free(handle_.get(), id);
    return out;
}

void group_member::close() {
    if (closed_ || !handle_) return;
    closed_ = true;
    // Serves the final revocation through on_rebalance, then leaves the group.
    (void)rd_kafka_consumer_close(handle_.get());
    assignment_.clear();
}

void group_member::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    (void)rk;
    static_cast<group_member*>(opaque)->rebalance(err, partitions);
}

void group_member::rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
    rd_kafka_t* rk = handle_.get();
    const bool coop = cooperative(rk);
    const auto changed = partitions_of(partitions);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop) {
            kafka::error_ptr e(rd_kafka_incremental_assign(rk, partitions));
        } else {
            (void)rd_kafka_assign(rk, partitions);
        }
        std::vector<std::int32_t> merged;
        if (coop)
            std::set_union(assignment_.begin(), assignment_.end(), changed.begin(), changed.end(),
                           std::back_inserter(merged));
        assignment_ = coop ? std::move(merged) : changed;
        if (config_.on_assigned) config_.on_assigned(changed);
        return;
    }
    // Revocation (or an error, after which librdkafka wants everything dropped): the caller
    // abandons its uncommitted work first, then the partitions are given up.
    const bool lost =
        err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk) != 0;
    const auto revoked = err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? changed : assignment_;
    if (config_.on_revoked) config_.on_revoked(revoked, lost);
    if (coop && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        kafka::error_ptr e(rd_kafka_incremental_unassign(rk, partitions));
        std::vector<std::int32_t> rest;
        std::set_difference(assignment_.begin(), assignment_.end(), revoked.begin(), revoked.end(),
                            std::back_inserter(rest));
        assignment_ = std::move(rest);
    } else {
        (void)rd_kafka_assign(rk, nullptr);
        assignment_.clear();
    }
}

void group_member::on_error_cb(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
    auto* self = static_cast<group_member*>(rd_kafka_opaque(rk));
    self->config_.on_error(kafka::make_error_code(static_cast<rd_kafka_resp_err_t>(err)),
                           reason != nullptr ? reason : "");
}

void group_member::on_log_cb(const rd_kafka_t* rk, int level, const char* facility,
                             const char* buf) {
    auto* self = static_cast<group_member*>(rd_kafka_opaque(rk));
    self->config_.on_log(level, facility != nullptr ? facility : "", buf != nullptr ? buf : "");
}

}  // namespace pulsestream::consumer
