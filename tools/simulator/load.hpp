#pragma once

// Load mode: paced concurrent traffic, latency and status statistics, storage check.

#include "options.hpp"

namespace pulsestream::simulator {

/// Runs the load described by `opts` until its duration passes, its event count is sent or
/// SIGINT/SIGTERM arrives; then prints the summary (text or JSON), runs the storage check
/// when a database URL is set and writes `opts.json_file` when set. Returns the exit code:
/// 0 when every request ended in a 202 and the storage check (if any) passed.
[[nodiscard]] int run_load(const options& opts);

}  // namespace pulsestream::simulator
