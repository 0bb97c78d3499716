#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pulsestream::test_support {

/// How a child process ended, as reported by waitpid().
struct exit_status {
    /// Raw waitpid() status; -1 when the child was reaped by someone else (SIGCHLD ignored).
    int raw = -1;

    /// True when the child called exit(); exit_code() is then meaningful.
    [[nodiscard]] bool exited() const;
    [[nodiscard]] int exit_code() const;
    /// True when a signal ended the child; term_signal() is then meaningful.
    [[nodiscard]] bool signaled() const;
    [[nodiscard]] int term_signal() const;
    /// "exit code 3", "killed by signal 9 (Killed)", "unknown (reaped elsewhere)".
    [[nodiscard]] std::string describe() const;
};

/// What to run and how.
struct spawn_options {
    /// Program and arguments; argv[0] is the executable path (no PATH lookup).
    std::vector<std::string> argv;
    /// Variables set (or overridden) on top of the parent's environment.
    std::vector<std::pair<std::string, std::string>> env;
    /// Run as this system user (setgid, initgroups, setuid); needs root. Empty: as the caller.
    std::string run_as_user;
    /// stdout and stderr are appended to this file (created if missing). Empty: /dev/null.
    std::filesystem::path log_file;
    /// Working directory of the child. Empty: the parent's.
    std::filesystem::path working_dir;
    /// Signal the kernel sends the child when the spawning thread dies (PR_SET_PDEATHSIG).
    int death_signal = SIGKILL;
};

/// A child process owned by this object: the destructor stops it.
///
/// Nothing started through this class outlives the test binary. A normal exit, a failed
/// assertion or an exception run the destructor (stop(), then SIGKILL). When the test binary is
/// killed (SIGINT, SIGTERM, ctest timeout, SIGKILL), the kernel sends `death_signal` to the child
/// (PR_SET_PDEATHSIG). That signal fires when the *thread* that called spawn() ends, so spawn
/// from a thread that lives as long as the child (the main thread, a SetUpTestSuite).
///
/// The child runs in its own process group, with all signals unblocked and default dispositions,
/// stdin from /dev/null and only fds 0-2 open.
///
/// Thread-safety: one object is used by one thread at a time. Movable, not copyable.
class child_process {
public:
    /// Forks and execs. Throws std::system_error when the user does not exist, the log file cannot
    /// be opened, or fork/exec fails (the exec error of the child is reported here, not later).
    static child_process spawn(const spawn_options& options);

    child_process() = default;
    child_process(child_process&& other) noexcept;
    child_process& operator=(child_process&& other) noexcept;
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    /// stop(SIGTERM, 10 s).
    ~child_process();

    /// Process id; -1 for an empty (default-constructed or moved-from) object.
    [[nodiscard]] pid_t pid() const { return pid_; }

    /// True while the child has not exited (reaps it when it has).
    [[nodiscard]] bool running();

    /// Sends `sig` to the child. Returns false when it has already exited.
    bool signal(int sig);

    /// Waits up to `deadline` for the child to exit and reaps it. Empty when still running.
    std::optional<exit_status> wait_exit(std::chrono::milliseconds deadline);

    /// Sends `sig` (and SIGCONT, so a stopped child gets it), waits up to `grace`, then sends
    /// SIGKILL and waits again. Returns how the child ended (empty for an empty object).
    std::optional<exit_status> stop(int sig = SIGTERM,
                                    std::chrono::milliseconds grace = std::chrono::seconds(10));

    /// The exit status once the child has been reaped.
    [[nodiscard]] const std::optional<exit_status>& status() const { return status_; }

private:
    explicit child_process(pid_t pid) : pid_(pid) {}
    bool try_reap();

    pid_t pid_ = -1;
    std::optional<exit_status> status_;
};

/// The last `max_lines` lines of a text file (for error messages quoting a server log).
std::string tail_of_file(const std::filesystem::path& path, std::size_t max_lines = 20);

}  // namespace pulsestream::test_support
