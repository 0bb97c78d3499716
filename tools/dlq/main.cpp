// pulsestream-dlq: lists the dead-letter topic (records with key, offset and every header) and
// replays chosen records to metrics.raw with dlq.replay.count incremented, refusing records
// already replayed --max-replays times. Brokers and topics come from KAFKA_BROKERS,
// KAFKA_DLQ_TOPIC and KAFKA_TOPIC unless flags say otherwise.
#include <librdkafka/rdkafka.h>

#include <CLI/CLI.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pulsestream/consumer/batch.hpp"
#include "pulsestream/consumer/dlq.hpp"
#include "pulsestream/kafka/handles.hpp"
#include "pulsestream/kafka/producer.hpp"

namespace {

using namespace std::chrono_literals;
namespace consumer = pulsestream::consumer;
namespace kafka = pulsestream::kafka;

struct dlq_record {
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::optional<std::string> key;
    std::string value;
    kafka::header_list headers;
};

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

kafka::handle_ptr make_reader(const std::string& brokers) {
    char err[512];
    kafka::conf_ptr conf(rd_kafka_conf_new());
    for (const auto& [name, value] : {std::pair{"bootstrap.servers", brokers.c_str()},
                                      {"group.id", "pulsestream-dlq-tool"},
                                      {"enable.auto.commit", "false"},
                                      {"enable.partition.eof", "false"}}) {
        if (rd_kafka_conf_set(conf.get(), name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
            throw std::runtime_error(std::string(name) + ": " + err);
        }
    }
    kafka::handle_ptr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
    if (!rk) throw std::runtime_error(std::string("kafka: ") + err);
    (void)conf.release();
    return rk;
}

int partition_count(rd_kafka_t* rk, const std::string& topic) {
    kafka::topic_ptr handle(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
    const rd_kafka_metadata_t* raw = nullptr;
    if (const auto e = rd_kafka_metadata(rk, 0, handle.get(), &raw, 10000);
        e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw std::runtime_error("metadata of " + topic + ": " + rd_kafka_err2str(e));
    }
    kafka::metadata_ptr md(raw);
    if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw std::runtime_error("topic " + topic + " not found");
    }
    return md->topics[0].partition_cnt;
}

// Every record of the topic, up to the high watermarks seen at the start.
std::vector<dlq_record> read_all(const std::string& brokers, const std::string& topic) {
    auto rk = make_reader(brokers);
    const int partitions = partition_count(rk.get(), topic);
    kafka::partition_list_ptr list(rd_kafka_topic_partition_list_new(partitions));
    std::int64_t remaining = 0;
    std::vector<std::int64_t> ends(static_cast<std::size_t>(partitions), 0);
    for (int p = 0; p < partitions; ++p) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        if (const auto e =
                rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high, 10000);
            e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            throw std::runtime_error("watermarks of " + topic + ": " + rd_kafka_err2str(e));
        }
        ends[static_cast<std::size_t>(p)] = high;
        remaining += high - low;
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = low;
    }
    rd_kafka_assign(rk.get(), list.get());
    std::vector<dlq_record> out;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (remaining > 0 && std::chrono::steady_clock::now() < deadline) {
        kafka::message_ptr msg(rd_kafka_consumer_poll(rk.get(), 200));
        if (!msg || msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
        if (msg->offset >= ends[static_cast<std::size_t>(msg->partition)]) continue;
        dlq_record r;
        r.partition = msg->partition;
        r.offset = msg->offset;
        if (msg->key != nullptr) r.key.emplace(static_cast<const char*>(msg->key), msg->key_len);
        if (msg->payload != nullptr)
            r.value.assign(static_cast<const char*>(msg->payload), msg->len);
        r.headers = consumer::headers_of(*msg);
        out.push_back(std::move(r));
        --remaining;
    }
    rd_kafka_consumer_close(rk.get());
    if (remaining > 0)
        std::fprintf(stderr, "warning: %lld records not read\n", static_cast<long long>(remaining));
    return out;
}

nlohmann::json to_json(const dlq_record& r) {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [name, value] : r.headers) headers[name] = value;
    return {{"partition", r.partition},
            {"offset", r.offset},
            {"key", r.key ? nlohmann::json(*r.key) : nlohmann::json(nullptr)},
            {"value", r.value},
            {"headers", headers}};
}

void print(const std::vector<dlq_record>& records, bool json) {
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : records) out.push_back(to_json(r));
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        return;
    }
    for (const auto& r : records) {
        std::cout << "partition " << r.partition << " offset " << r.offset << " key "
                  << r.key.value_or("<null>") << '\n';
        for (const auto& [name, value] : r.headers)
            std::cout << "  " << name << ": " << value << '\n';
        std::cout << "  value: " << r.value << "\n\n";
    }
    std::cout << records.size() << " record(s)\n";
}

// "N" (partition 0) or "P:N".
std::pair<std::int32_t, std::int64_t> parse_position(const std::string& text) {
    const auto colon = text.find(':');
    if (colon == std::string::npos) return {0, std::stoll(text)};
    return {std::stoi(text.substr(0, colon)), std::stoll(text.substr(colon + 1))};
}

int replay(const std::string& brokers, const std::string& dlq_topic, const std::string& target,
           const std::vector<std::string>& positions, bool all, bool dry_run,
           std::uint32_t max_replays) {
    std::set<std::pair<std::int32_t, std::int64_t>> wanted;
    for (const auto& p : positions) wanted.insert(parse_position(p));
    const auto records = read_all(brokers, dlq_topic);

    std::vector<kafka::message> messages;
    int refused = 0;
    std::set<std::pair<std::int32_t, std::int64_t>> found;
    for (const auto& r : records) {
        if (!all && wanted.count({r.partition, r.offset}) == 0) continue;
        found.insert({r.partition, r.offset});
        const auto count = consumer::replay_count(r.headers);
        if (count >= max_replays) {
            std::cout << "refused " << r.partition << ":" << r.offset << ": already replayed "
                      << count << " time(s) (limit " << max_replays << ")\n";
            ++refused;
            continue;
        }
        std::cout
            << (dry_run ? "would replay " : "replaying ") << r.partition << ":" << r.offset << " ("
            << consumer::find_header(r.headers, consumer::dlq_header::error_class).value_or("?")
            << ", replay " << count + 1 << ") to " << target << '\n';
        messages.push_back(consumer::make_replay_message(r.key, r.value, r.headers));
    }
    int missing = 0;
    for (const auto& w : wanted) {
        if (found.count(w) == 0) {
            std::cout << "not found: " << w.first << ":" << w.second << '\n';
            ++missing;
        }
    }
    if (!dry_run && !messages.empty()) {
        kafka::producer_config pc;
        pc.brokers = brokers;
        pc.client_id = "pulsestream-dlq-tool";
        kafka::producer producer(std::move(pc));
        const auto n = messages.size();
        auto delivered =
            producer.async_produce_all(target, std::move(messages), boost::asio::use_future);
        if (delivered.wait_for(60s) != std::future_status::ready) {
            throw std::runtime_error("replay not acknowledged within 60 s");
        }
        delivered.get();  // throws on a delivery error
        producer.stop();
        std::cout << n << " record(s) replayed\n";
    }
    return refused + missing == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"PulseStream dead-letter tool: list and replay metrics.dlq records"};
    app.require_subcommand(1);
    std::string brokers = env_or("KAFKA_BROKERS", "localhost:9092");
    std::string dlq_topic = env_or("KAFKA_DLQ_TOPIC", "metrics.dlq");
    std::string target = env_or("KAFKA_TOPIC", "metrics.raw");
    app.add_option("--brokers", brokers, "bootstrap servers (KAFKA_BROKERS)");
    app.add_option("--dlq-topic", dlq_topic, "dead-letter topic (KAFKA_DLQ_TOPIC)");
    app.add_option("--target", target, "topic to replay to (KAFKA_TOPIC)");

    auto* list = app.add_subcommand("list", "print every DLQ record with its headers");
    bool json = false;
    list->add_flag("--json", json, "one JSON array instead of text");

    auto* replay_cmd = app.add_subcommand("replay", "produce DLQ records back to the target topic");
    std::vector<std::string> positions;
    bool all = false;
    bool dry_run = false;
    std::uint32_t max_replays = 3;
    auto* offset_opt = replay_cmd->add_option(
        "--offset", positions,
        "record to replay: OFFSET (partition 0) or PARTITION:OFFSET; repeatable");
    auto* all_opt = replay_cmd->add_flag("--all", all, "replay every record");
    offset_opt->excludes(all_opt);
    replay_cmd->add_flag("--dry-run", dry_run, "print what would be replayed, produce nothing");
    replay_cmd
        ->add_option("--max-replays", max_replays,
                     "refuse records whose dlq.replay.count reached this")
        ->check(CLI::Range(1U, 1000U));

    CLI11_PARSE(app, argc, argv);
    try {
        if (list->parsed()) {
            print(read_all(brokers, dlq_topic), json);
            return 0;
        }
        if (positions.empty() && !all) {
            std::cerr << "replay: give --offset N (repeatable) or --all\n";
            return 2;
        }
        return replay(brokers, dlq_topic, target, positions, all, dry_run, max_replays);
    } catch (const std::exception& e) {
        std::cerr << "pulsestream-dlq: " << e.what() << '\n';
        return 1;
    }
}
