#include "support/child_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <fstream>
#include <system_error>

#include "support/wait.hpp"

extern char** environ;

namespace pulsestream::test_support {

bool exit_status::exited() const { return raw != -1 && WIFEXITED(raw); }
int exit_status::exit_code() const { return exited() ? WEXITSTATUS(raw) : -1; }
bool exit_status::signaled() const { return raw != -1 && WIFSIGNALED(raw); }
int exit_status::term_signal() const { return signaled() ? WTERMSIG(raw) : 0; }

std::string exit_status::describe() const {
    if (exited()) {
        return "exit code " + std::to_string(exit_code());
    }
    if (signaled()) {
        return "killed by signal " + std::to_string(term_signal()) + " (" +
               ::strsignal(term_signal()) + ")";
    }
    return "unknown (reaped elsewhere)";
}

namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), what);
}

class fd_owner {
public:
    explicit fd_owner(int fd = -1) : fd_(fd) {}
    fd_owner(const fd_owner&) = delete;
    fd_owner& operator=(const fd_owner&) = delete;
    ~fd_owner() { reset(); }
    [[nodiscard]] int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = -1;
    }

private:
    int fd_;
};

struct user_ids {
    uid_t uid;
    gid_t gid;
    std::vector<gid_t> groups;
};

// getpwnam and getgrouplist read files and allocate: not allowed between fork and exec in a
// multi-threaded process, so the child only gets the resolved numbers.
user_ids resolve_user(const std::string& name) {
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    const int rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found == nullptr) {
        throw_errno(rc != 0 ? rc : ENOENT, "spawn: no system user '" + name + "'");
    }
    user_ids ids{entry.pw_uid, entry.pw_gid, {}};
    int count = 32;
    for (;;) {
        ids.groups.resize(static_cast<std::size_t>(count));
        if (::getgrouplist(name.c_str(), ids.gid, ids.groups.data(), &count) >= 0) {
            ids.groups.resize(static_cast<std::size_t>(count));
            return ids;
        }
    }
}

std::vector<std::string> merged_environment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::vector<std::string> result;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view line(*entry);
        const auto name = line.substr(0, line.find('='));
        bool overridden = false;
        for (const auto& [key, value] : overrides) {
            overridden = overridden || key == name;
        }
        if (!overridden) {
            result.emplace_back(line);
        }
    }
    for (const auto& [key, value] : overrides) {
        result.push_back(key + "=" + value);
    }
    return result;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> result;
    result.reserve(strings.size() + 1);
    for (auto& s : strings) {
        result.push_back(s.data());
    }
    result.push_back(nullptr);
    return result;
}

// What the child reports through the pipe when it fails before exec.
struct child_failure {
    int stage;
    int error;
};

enum stage : int {
    stage_stdio,
    stage_groups,
    stage_gid,
    stage_uid,
    stage_deathsig,
    stage_chdir,
    stage_exec
};

const char* stage_name(int s) {
    switch (s) {
        case stage_stdio:
            return "redirecting stdio";
        case stage_groups:
            return "setgroups";
        case stage_gid:
            return "setgid";
        case stage_uid:
            return "setuid";
        case stage_deathsig:
            return "prctl(PR_SET_PDEATHSIG)";
        case stage_chdir:
            return "chdir";
        default:
            return "exec";
    }
}

struct child_plan {
    char** argv;
    char** envp;
    const user_ids* user;
    const char* working_dir;
    int stdin_fd;
    int log_fd;
    int error_fd;
    int death_signal;
    pid_t parent;
};

[[noreturn]] void child_fail(int error_fd, int s) {
    const child_failure failure{s, errno};
    [[maybe_unused]] const auto n = ::write(error_fd, &failure, sizeof failure);
    ::_exit(127);
}

// Runs in the forked child: async-signal-safe calls only.
[[noreturn]] void run_child(const child_plan& plan) {
    ::setpgid(0, 0);
    for (int sig = 1; sig < NSIG; ++sig) {
        ::signal(sig, SIG_DFL);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    if (::dup2(plan.stdin_fd, STDIN_FILENO) < 0 || ::dup2(plan.log_fd, STDOUT_FILENO) < 0 ||
        ::dup2(plan.log_fd, STDERR_FILENO) < 0) {
        child_fail(plan.error_fd, stage_stdio);
    }
    // Keep only 0-2 and the error pipe (close-on-exec): no leaked sockets or pipes of the tests.
    if (plan.error_fd > 3) {
        ::close_range(3, static_cast<unsigned>(plan.error_fd) - 1, 0);
    }
    ::close_range(static_cast<unsigned>(plan.error_fd) + 1, UINT_MAX, 0);

    if (plan.user != nullptr) {
        if (::setgroups(plan.user->groups.size(), plan.user->groups.data()) != 0) {
            child_fail(plan.error_fd, stage_groups);
        }
        if (::setgid(plan.user->gid) != 0) {
            child_fail(plan.error_fd, stage_gid);
        }
        if (::setuid(plan.user->uid) != 0) {
            child_fail(plan.error_fd, stage_uid);
        }
    }
    // After setuid: changing credentials clears the parent-death signal.
    if (::prctl(PR_SET_PDEATHSIG, plan.death_signal) != 0) {
        child_fail(plan.error_fd, stage_deathsig);
    }
    // The parent may have died before prctl: then no signal will ever come.
    if (::getppid() != plan.parent) {
        ::_exit(126);
    }
    if (plan.working_dir != nullptr && ::chdir(plan.working_dir) != 0) {
        child_fail(plan.error_fd, stage_chdir);
    }
    ::execve(plan.argv[0], plan.argv, plan.envp);
    child_fail(plan.error_fd, stage_exec);
}

int open_or_throw(const std::filesystem::path& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw_errno(errno, "spawn: open " + path.string());
    }
    return fd;
}

}  // namespace

child_process child_process::spawn(const spawn_options& options) {
    if (options.argv.empty()) {
        throw std::invalid_argument("spawn: empty argv");
    }
    std::vector<std::string> args = options.argv;
    std::vector<std::string> env = merged_environment(options.env);
    std::vector<char*> argv = c_strings(args);
    std::vector<char*> envp = c_strings(env);
    std::optional<user_ids> user;
    if (!options.run_as_user.empty()) {
        user = resolve_user(options.run_as_user);
    }
    const fd_owner stdin_fd(open_or_throw("/dev/null", O_RDONLY));
    const fd_owner log_fd(options.log_file.empty()
                              ? open_or_throw("/dev/null", O_WRONLY)
                              : open_or_throw(options.log_file, O_WRONLY | O_CREAT | O_APPEND));
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw_errno(errno, "spawn: pipe2");
    }
    fd_owner read_end(pipe_fds[0]);
    fd_owner write_end(pipe_fds[1]);

    const child_plan plan{argv.data(),
                          envp.data(),
                          user ? &*user : nullptr,
                          options.working_dir.empty() ? nullptr : options.working_dir.c_str(),
                          stdin_fd.get(),
                          log_fd.get(),
                          write_end.get(),
                          options.death_signal,
                          ::getpid()};
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw_errno(errno, "spawn: fork");
    }
    if (pid == 0) {
        run_child(plan);
    }
    write_end.reset();

    // EOF means exec succeeded (the pipe is close-on-exec); a record means the child failed.
    child_failure failure{};
    ssize_t n = 0;
    do {
        n = ::read(read_end.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    child_process child(pid);
    if (n == static_cast<ssize_t>(sizeof failure)) {
        child.wait_exit(std::chrono::seconds(10));
        throw_errno(failure.error,
                    "spawn " + options.argv.front() + ": " + stage_name(failure.stage));
    }
    return child;
}

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

child_process& child_process::operator=(child_process&& other) noexcept {
    if (this != &other) {
        if (pid_ > 0 && !status_) {
            stop();
        }
        pid_ = std::exchange(other.pid_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
    }
    return *this;
}

child_process::~child_process() {
    if (pid_ > 0 && !status_) {
        stop();
    }
}

bool child_process::try_reap() {
    if (status_) {
        return true;
    }
    if (pid_ <= 0) {
        return false;
    }
    int raw = 0;
    pid_t r = 0;
    do {
        r = ::waitpid(pid_, &raw, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid_) {
        status_ = exit_status{raw};
    } else if (r < 0) {
        // ECHILD: SIGCHLD is ignored somewhere and the kernel reaped the child for us.
        status_ = exit_status{-1};
    }
    return status_.has_value();
}

bool child_process::running() { return pid_ > 0 && !try_reap(); }

bool child_process::signal(int sig) {
    if (!running()) {
        return false;
    }
    return ::kill(pid_, sig) == 0;
}

std::optional<exit_status> child_process::wait_exit(std::chrono::milliseconds deadline) {
    if (pid_ <= 0) {
        return std::nullopt;
    }
    wait_until([this] { return try_reap(); }, deadline, std::chrono::milliseconds(2));
    return status_;
}

std::optional<exit_status> child_process::stop(int sig, std::chrono::milliseconds grace) {
    if (pid_ <= 0) {
        return std::nullopt;
    }
    if (signal(sig)) {
        ::kill(pid_, SIGCONT);
    }
    if (wait_exit(grace)) {
        return status_;
    }
    signal(SIGKILL);
    // SIGKILL cannot be caught; the deadline only guards against a child stuck in the kernel.
    return wait_exit(std::chrono::seconds(10));
}

std::string tail_of_file(const std::filesystem::path& path, std::size_t max_lines) {
    std::ifstream in(path);
    if (!in) {
        return "(no " + path.string() + ")";
    }
    std::deque<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        lines.push_back(std::move(line));
        if (lines.size() > max_lines) {
            lines.pop_front();
        }
    }
    std::string result;
    for (const auto& line : lines) {
        result += line;
        result += '\n';
    }
    return result;
}

}  // namespace pulsestream::test_support
