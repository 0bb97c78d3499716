#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace pulsestream::test_support {

/// What run_command saw.
struct run_result {
    /// The exit status; -1 when the command could not be started or did not exit normally
    /// (killed by a signal).
    int exit_code = -1;
    /// Everything the command wrote to its standard output.
    std::string output;
};

/// Runs `command` through /bin/sh (popen) and waits for it to exit. Only standard output is
/// captured: append " 2>&1" to `command` for standard error too.
///
/// No deadline of its own: give a command that might hang one (e.g. `timeout 60 ...`).
/// Thread-safety: any thread.
inline run_result run_command(const std::string& command) {
    run_result result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
        result.output.append(buffer.data(), n);
    }
    const int status = ::pclose(pipe);
    if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    return result;
}

}  // namespace pulsestream::test_support
