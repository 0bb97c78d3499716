#include "support/kafka_reader.hpp"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <memory>
#include <stdexcept>

namespace pulsestream::test_support {

namespace {

struct consumer_deleter {
    void operator()(rd_kafka_t* rk) const {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
};

void set(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
    char err[256];
    if (rd_kafka_conf_set(conf, name, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        throw std::runtime_error(std::string("kafka_reader: ") + err);
    }
}

kafka_record to_record(const rd_kafka_message_t* m) {
    kafka_record r;
    if (m->key) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
    r.partition = m->partition;
    r.offset = m->offset;
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; !rd_kafka_header_get_all(headers, i, &name, &value, &size); ++i) {
            r.headers.emplace_back(name, std::string(static_cast<const char*>(value), size));
        }
    }
    return r;
}

}  // namespace

std::vector<kafka_record> read_topic(const std::string& bootstrap, const std::string& topic,
                                     std::size_t count, std::chrono::milliseconds deadline,
                                     std::chrono::milliseconds quiet) {
    static std::atomic<int> groups{0};
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "group.id",
        "test-reader-" + std::to_string(getpid()) + "-" + std::to_string(++groups));
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "enable.auto.commit", "false");
    set(conf, "session.timeout.ms", "6000");
    // End-of-partition events tell "assigned and caught up" apart from "not assigned yet".
    set(conf, "enable.partition.eof", "true");
    char err[256];
    std::unique_ptr<rd_kafka_t, consumer_deleter> rk(
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err));
    if (!rk) throw std::runtime_error(std::string("kafka_reader: ") + err);
    rd_kafka_poll_set_consumer(rk.get());
    auto* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk.get(), topics);
    rd_kafka_topic_partition_list_destroy(topics);

    std::vector<kafka_record> records;
    const auto until = std::chrono::steady_clock::now() + deadline;
    auto last_record = std::chrono::steady_clock::now();
    bool assigned = false;
    while (std::chrono::steady_clock::now() < until) {
        if (count != 0 && records.size() >= count) break;
        if (count == 0 && assigned && std::chrono::steady_clock::now() - last_record > quiet) break;
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
        if (!m) continue;
        if (!assigned) last_record = std::chrono::steady_clock::now();  // quiet counts from here
        assigned = true;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            records.push_back(to_record(m));
            last_record = std::chrono::steady_clock::now();
        }
        rd_kafka_message_destroy(m);
    }
    return records;
}

}  // namespace pulsestream::test_support
