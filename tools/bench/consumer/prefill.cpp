// pulsestream-bench-consumer-prefill: fills a topic with N valid metrics.raw records (values from
// core::to_kafka_value) of 1,000 devices, optionally re-sending a fraction of the ids, and writes
// the same N distinct rows as a COPY text file for the raw-COPY ceiling. Fails when the broker
// no longer holds every record it was given (the devbroker's mock cluster drops the oldest
// records of a partition past a fixed size), so a benchmark never silently reads less.

#include <librdkafka/rdkafka.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "pulsestream/core/event.hpp"
#include "pulsestream/core/uuid.hpp"

namespace {

namespace core = pulsestream::core;

struct options {
    std::string brokers;
    std::string topic = "metrics.raw";
    std::size_t events = 100000;
    std::size_t devices = 1000;
    double duplicates = 0.0;  // fraction of the ids sent a second time
    std::string copy_file;
    std::string client_id = "00000000-0000-4000-8000-000000000001";  // schema.sql's dev client
};

struct kafka_deleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using kafka_ptr = std::unique_ptr<rd_kafka_t, kafka_deleter>;

kafka_ptr make_producer(const std::string& brokers) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    // The gateway's producer settings (DESIGN.md §5), with a longer linger for bulk loading.
    const std::pair<const char*, const char*> settings[] = {
        {"bootstrap.servers", brokers.c_str()}, {"partitioner", "murmur2_random"},
        {"compression.codec", "lz4"},           {"acks", "all"},
        {"enable.idempotence", "true"},         {"linger.ms", "20"},
        {"batch.num.messages", "10000"},        {"queue.buffering.max.messages", "500000"},
    };
    for (const auto& [name, value] : settings) {
        if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            throw std::runtime_error(std::string(name) + ": " + err);
        }
    }
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == nullptr) {
        throw std::runtime_error(std::string("rd_kafka_new: ") + err);
    }
    return kafka_ptr(rk);
}

// RD_KAFKA_PARTITION_UA (the configured partitioner chooses), spelled without its C cast.
constexpr std::int32_t partition_unassigned = -1;

void produce(rd_kafka_t* rk, rd_kafka_topic_t* topic, const std::string& key,
             std::string& value) {
    for (;;) {
        if (rd_kafka_produce(topic, partition_unassigned, RD_KAFKA_MSG_F_COPY, value.data(),
                             value.size(), key.data(), key.size(), nullptr) == 0) {
            return;
        }
        const rd_kafka_resp_err_t rc = rd_kafka_last_error();
        if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(rc));
        }
        rd_kafka_poll(rk, 100);
    }
}

std::string pg_time(std::int64_t ms) {
    const std::time_t secs = ms / 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

// One line of COPY text format; the metadata JSON holds no tab, newline or backslash.
void write_copy_line(std::ofstream& out, const core::event& e) {
    out << core::to_string(e.id) << '\t' << core::to_string(e.client_id) << '\t'
        << core::to_string(e.device_id) << '\t' << e.event_type << '\t' << e.value << '\t'
        << pg_time(e.timestamp_ms) << '\t' << e.metadata->dump() << '\t'
        << pg_time(e.received_at_ms) << '\n';
}

core::event make_event(std::size_t i, const core::uuid& client,
                       const std::vector<core::uuid>& devices, std::int64_t now_ms) {
    static const char* const types[] = {"temperature", "humidity", "pressure", "battery"};
    core::event e;
    e.id = core::uuid_v5(core::namespace_url, "bench-event-" + std::to_string(i));
    e.client_id = client;
    e.device_id = devices[i % devices.size()];
    e.event_type = types[i % 4];
    e.value = static_cast<double>(i % 10000) / 100.0;
    // Spread over the last hour: all in today's (or yesterday's) daily partition.
    e.timestamp_ms = now_ms - static_cast<std::int64_t>(i % 3600000);
    e.received_at_ms = e.timestamp_ms + 15;
    e.metadata = nlohmann::json{{"firmware", "1.4.2"}, {"rssi", -40 - static_cast<int>(i % 50)}};
    return e;
}

// True when every partition still starts at offset 0 and the total is what was produced.
bool broker_holds_all(rd_kafka_t* rk, const std::string& topic, std::size_t expected) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_resp_err_t rc = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1) {
        throw std::runtime_error("metadata failed");
    }
    std::size_t total = 0;
    bool complete = true;
    for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            throw std::runtime_error("watermarks failed");
        }
        if (low != 0) {
            std::cerr << "prefill: partition " << p << " lost its first " << low << " records\n";
            complete = false;
        }
        total += static_cast<std::size_t>(high);
    }
    rd_kafka_metadata_destroy(md);
    std::cerr << "prefill: broker holds " << total << " records, expected " << expected << "\n";
    return complete && total == expected;
}

int run(const options& opts) {
    const auto client = core::parse_uuid(opts.client_id);
    if (!client) {
        throw std::runtime_error("bad --client-id");
    }
    std::vector<core::uuid> devices;
    for (std::size_t d = 0; d < opts.devices; ++d) {
        devices.push_back(core::uuid_v5(core::namespace_url, "bench-device-" + std::to_string(d)));
    }
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    kafka_ptr rk = make_producer(opts.brokers);
    rd_kafka_topic_t* topic = rd_kafka_topic_new(rk.get(), opts.topic.c_str(), nullptr);
    std::ofstream copy_out;
    if (!opts.copy_file.empty()) {
        copy_out.open(opts.copy_file, std::ios::trunc);
    }
    // Every k-th id is sent twice; the copy follows right after, as a redelivery would.
    const std::size_t every =
        opts.duplicates > 0 ? static_cast<std::size_t>(1.0 / opts.duplicates + 0.5) : 0;
    std::size_t sent = 0;
    for (std::size_t i = 0; i < opts.events; ++i) {
        const core::event e = make_event(i, *client, devices, now_ms);
        const std::string key = core::to_string(e.device_id);
        std::string value = core::to_kafka_value(e);
        produce(rk.get(), topic, key, value);
        ++sent;
        if (every != 0 && i % every == 0) {
            produce(rk.get(), topic, key, value);
            ++sent;
        }
        if (copy_out.is_open()) {
            write_copy_line(copy_out, e);
        }
        rd_kafka_poll(rk.get(), 0);
    }
    if (copy_out.is_open()) {
        copy_out.close();
        if (!copy_out) {
            throw std::runtime_error("cannot write " + opts.copy_file);
        }
    }
    rd_kafka_topic_destroy(topic);
    if (rd_kafka_flush(rk.get(), 300000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw std::runtime_error("flush did not finish within 300 s");
    }
    std::cout << sent << "\n";
    return broker_holds_all(rk.get(), opts.topic, sent) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Pre-fills metrics.raw for the consumer benchmark; prints the records sent"};
    options opts;
    app.add_option("--brokers", opts.brokers, "bootstrap servers")->required();
    app.add_option("--topic", opts.topic, "topic");
    app.add_option("--events", opts.events, "distinct events");
    app.add_option("--devices", opts.devices, "devices")->check(CLI::PositiveNumber);
    app.add_option("--duplicates", opts.duplicates, "fraction of ids sent twice")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--copy-file", opts.copy_file, "write the distinct rows as COPY text here");
    app.add_option("--client-id", opts.client_id, "client id of the events");
    CLI11_PARSE(app, argc, argv);
    try {
        return run(opts);
    } catch (const std::exception& e) {
        std::cerr << "prefill: " << e.what() << "\n";
        return 1;
    }
}
