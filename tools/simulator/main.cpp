// pulsestream-simulator: scenario verification and load generation against a running
// PulseStream pipeline (see --help).
#include <csignal>
#include <cstdio>
#include <exception>

#include "load.hpp"
#include "options.hpp"
#include "scenarios.hpp"

int main(int argc, char** argv) {
    using namespace pulsestream::simulator;
    std::signal(SIGPIPE, SIG_IGN);
    int exit_code = 0;
    const auto opts = parse_options(argc, argv, exit_code);
    if (!opts) {
        return exit_code;
    }
    try {
        return opts->load ? run_load(*opts) : run_scenarios(*opts);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pulsestream-simulator: %s\n", e.what());
        return 1;
    }
}
