#pragma once

// The simulator's command line (CLI11).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "endpoint.hpp"

namespace pulsestream::simulator {

/// The development key seeded by schema.sql.
inline constexpr const char* default_api_key = "ps_live_test_key_abc123xyz";

struct options {
    // Common
    std::vector<endpoint> gateways;
    std::string api_key = default_api_key;
    std::string database_url;  ///< empty: no storage checks
    bool json = false;
    std::string json_file;
    std::chrono::milliseconds request_timeout{15000};
    std::chrono::milliseconds db_deadline{60000};

    // Scenario mode
    std::string second_api_key;
    int trickle = 20;
    std::chrono::milliseconds stream_deadline{10000};

    // Load mode
    bool load = false;
    double rate = 0;  ///< requests per second over all connections; 0 = as fast as possible
    std::chrono::milliseconds duration{10000};
    std::uint64_t events = 0;  ///< stop after this many events; 0 = run for `duration`
    int connections = 8;
    int batch = 1;
    bool retry = false;
    std::chrono::milliseconds retry_deadline{120000};
    std::chrono::milliseconds retry_max_delay{2000};
    std::string progress_file;
};

/// Parses argv. Returns the options, or the exit code for main (0 after --help, 2 for
/// errors, which are printed).
[[nodiscard]] std::optional<options> parse_options(int argc, char** argv, int& exit_code);

}  // namespace pulsestream::simulator
