#include "support/temp_dir.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <system_error>
#include <utility>

namespace pulsestream::test_support {

namespace {

constexpr const char* owner_file = "owner.pid";

bool keep_dirs() {
    const char* keep = std::getenv("PULSESTREAM_KEEP_TEST_DIRS");
    return keep != nullptr && std::string(keep) == "1";
}

std::string host_name() {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    return name;
}

// The host name guards against a /tmp shared between containers, whose pids we cannot see.
bool owner_gone(const std::filesystem::path& dir) {
    std::ifstream in(dir / owner_file);
    pid_t pid = 0;
    std::string host;
    if (!(in >> pid >> host) || pid <= 0 || host != host_name()) {
        // No owner recorded (yet: being created right now), or another machine's: leave it alone.
        return false;
    }
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

void remove_stale_temp_dirs(const std::string& prefix) noexcept {
    std::error_code ec;
    const auto root = std::filesystem::temp_directory_path(ec);
    if (ec) {
        return;
    }
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
        const auto name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0 && entry.is_directory(ec) && owner_gone(entry.path())) {
            std::filesystem::remove_all(entry.path(), ec);
        }
    }
}

temp_dir::temp_dir(const std::string& prefix) {
    remove_stale_temp_dirs(prefix);
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
    std::ofstream(path_ / owner_file) << ::getpid() << ' ' << host_name() << '\n';
}

temp_dir::temp_dir(temp_dir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

temp_dir& temp_dir::operator=(temp_dir&& other) noexcept {
    if (this != &other) {
        remove();
        path_ = std::exchange(other.path_, {});
    }
    return *this;
}

temp_dir::~temp_dir() { remove(); }

void temp_dir::remove() noexcept {
    if (!path_.empty() && !keep_dirs()) {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    path_.clear();
}

void temp_dir::chown_to(uid_t uid, gid_t gid) const {
    if (::chown(path_.c_str(), uid, gid) != 0) {
        throw std::system_error(errno, std::generic_category(), "chown " + path_.string());
    }
}

}  // namespace pulsestream::test_support
