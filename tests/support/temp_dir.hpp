#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace pulsestream::test_support {

/// A fresh directory `$TMPDIR/<prefix>XXXXXX` (mkdtemp), removed with its contents on destruction.
///
/// The directory holds a file `owner.pid` naming this process. Creating one first removes stale
/// directories with the same prefix whose owner process no longer exists (left behind by a test
/// binary that was killed), so interrupted runs do not fill the disk. Setting
/// PULSESTREAM_KEEP_TEST_DIRS=1 keeps the directory for post-mortem reading.
///
/// Thread-safety: none needed after construction. Movable, not copyable.
class temp_dir {
public:
    /// Throws std::system_error when the directory cannot be created.
    explicit temp_dir(const std::string& prefix);
    temp_dir(temp_dir&& other) noexcept;
    temp_dir& operator=(temp_dir&& other) noexcept;
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir();

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

    /// Gives the directory itself to `uid:gid` (for a server run as another user).
    void chown_to(uid_t uid, gid_t gid) const;

private:
    void remove() noexcept;
    std::filesystem::path path_;
};

/// Removes `$TMPDIR/<prefix>*` directories whose owner.pid names a process that is gone.
void remove_stale_temp_dirs(const std::string& prefix) noexcept;

}  // namespace pulsestream::test_support
