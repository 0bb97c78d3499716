// pulsestream-devbroker: a local Kafka-protocol broker (librdkafka's mock cluster) for tests
// and the demo. Prints the bootstrap list on stdout, serves the control protocol (control.hpp)
// on stdin and optionally on a loopback port, and runs until SIGTERM or SIGINT.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "control_channel.hpp"
#include "pulsestream/devbroker/mock_cluster.hpp"

namespace {

using pulsestream::devbroker::control_channel;
using pulsestream::devbroker::mock_cluster;

struct options {
    int brokers = mock_cluster::default_brokers;
    int partitions = mock_cluster::default_partitions;
    int dlq_partitions = mock_cluster::default_dlq_partitions;
    std::string topic{mock_cluster::default_topic};
    std::string dlq_topic{mock_cluster::default_dlq_topic};
    std::string bootstrap_file;
    int control_port = -1;
};

void log(const std::string& message) {
    std::fprintf(stderr, "pulsestream-devbroker: %s\n", message.c_str());
}

// Readers polling for the file never see it half-written.
void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
    std::filesystem::path temp = path;
    temp += ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(temp, std::ios::trunc);
        out << content;
        out.close();
        if (!out) {
            throw std::runtime_error("cannot write " + temp.string());
        }
    }
    std::filesystem::rename(temp, path);
}

sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

int run(const options& opts) {
    mock_cluster cluster(opts.brokers);
    cluster.create_topic(opts.topic, opts.partitions, mock_cluster::default_replication);
    cluster.create_topic(opts.dlq_topic, opts.dlq_partitions, mock_cluster::default_replication);

    std::optional<std::uint16_t> port;
    if (opts.control_port >= 0) {
        port = static_cast<std::uint16_t>(opts.control_port);
    }
    control_channel control(cluster, port);

    const std::string bootstrap = cluster.bootstrap_servers();
    if (!opts.bootstrap_file.empty()) {
        write_file_atomically(opts.bootstrap_file, bootstrap + "\n");
    }
    std::printf("%s\n", bootstrap.c_str());
    std::fflush(stdout);
    log(std::to_string(opts.brokers) + " brokers at " + bootstrap + "; topics " + opts.topic +
        " (" + std::to_string(opts.partitions) + " partitions), " + opts.dlq_topic + " (" +
        std::to_string(opts.dlq_partitions) + ")");
    if (!control.endpoint().empty()) {
        log("control port " + control.endpoint());
    }
    control.start();

    const sigset_t signals = stop_signals();
    int signal = 0;
    sigwait(&signals, &signal);
    log(std::string("received ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping");

    control.stop();
    if (!opts.bootstrap_file.empty()) {
        std::error_code ignored;
        std::filesystem::remove(opts.bootstrap_file, ignored);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    options opts;
    CLI::App app{
        "Local Kafka-protocol broker for PulseStream tests and demos "
        "(librdkafka mock cluster, in memory, never for production)",
        "pulsestream-devbroker"};
    app.add_option("--brokers", opts.brokers, "number of brokers")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--partitions", opts.partitions, "partitions of the events topic")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("--dlq-partitions", opts.dlq_partitions, "partitions of the DLQ topic")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("--topic", opts.topic, "events topic")->capture_default_str();
    app.add_option("--dlq-topic", opts.dlq_topic, "dead-letter topic")->capture_default_str();
    app.add_option("--bootstrap-file", opts.bootstrap_file,
                   "also write the bootstrap list to this file (atomically; removed on exit)");
    app.add_option("--control-port", opts.control_port,
                   "serve the control protocol on 127.0.0.1:PORT too (0 = ephemeral)")
        ->check(CLI::Range(0, 65535));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }
    if (opts.topic == opts.dlq_topic) {
        log("--topic and --dlq-topic must differ");
        return 2;
    }

    // Before any thread exists, so that every thread (librdkafka's too) inherits the mask and
    // the signals reach only sigwait() in run().
    const sigset_t signals = stop_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    log("WARNING: keeps all data in memory and loses it on exit; for local tests and demos "
        "only, never for production");
    try {
        return run(opts);
    } catch (const std::exception& e) {
        log(std::string("error: ") + e.what());
        return 1;
    }
}
