#pragma once

#include <filesystem>
#include <string>

#include "support/run_command.hpp"
#include "support/source_dir.hpp"

namespace pulsestream::test_support {

/// Runs the repository's tools/check-deploy with `args` (passed to the shell as written: quote
/// paths) and returns its exit code and its standard output and error, interleaved.
///
/// Debian's /usr/bin/python3 runs it when present: it is the python3 that python3-yaml installs
/// PyYAML for; any other python3 on the PATH may lack it. Thread-safety: any thread.
inline run_result check_deploy(const std::string& args) {
    const std::string python =
        std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    return run_command(python + " '" + (source_dir() / "tools/check-deploy").string() + "' " +
                       args + " 2>&1");
}

}  // namespace pulsestream::test_support
