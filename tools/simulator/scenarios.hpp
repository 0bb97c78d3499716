#pragma once

// Scenario mode: the checks that show a running pipeline behaves as DESIGN.md says.

#include "options.hpp"

namespace pulsestream::simulator {

/// Runs every check against `opts.gateways`, prints each result and the summary (text or
/// JSON), writes `opts.json_file` when set. Returns the exit code: 0 when all passed.
[[nodiscard]] int run_scenarios(const options& opts);

}  // namespace pulsestream::simulator
