#pragma once

// Check results of scenario mode and how they are printed (text or JSON).

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pulsestream::simulator {

enum class check_status { pass, fail, skip };

/// One named check and what was seen.
struct check_result {
    std::string name;   ///< stable identifier, e.g. "idempotency_concurrent"
    std::string title;  ///< what is checked, one line
    check_status status = check_status::fail;
    std::string detail;  ///< what was seen
    std::chrono::milliseconds duration{};
};

/// Collects check results. In text mode each result is printed to `out` as it is added; in
/// JSON mode nothing is printed until `print_json`. Not thread-safe.
class check_report {
public:
    check_report(bool json, std::FILE* out);

    void add(check_result result);

    [[nodiscard]] std::size_t passed() const;
    [[nodiscard]] std::size_t failed() const;
    [[nodiscard]] std::size_t skipped() const;
    /// True when nothing failed and something passed.
    [[nodiscard]] bool ok() const;
    [[nodiscard]] const std::vector<check_result>& results() const { return results_; }

    /// `{"mode":"scenarios","ok":..,"passed":..,"failed":..,"skipped":..,"checks":[...]}`.
    [[nodiscard]] nlohmann::json to_json() const;
    /// Text: the summary line (and the names of failed checks). JSON: the whole report.
    void print_summary() const;

private:
    bool json_;
    bool color_;
    std::FILE* out_;
    std::vector<check_result> results_;
};

[[nodiscard]] const char* to_string(check_status status);

/// Writes `json` to `path` (through a temporary file and a rename, so a reader never sees it
/// half written). Throws std::runtime_error on failure.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& json);

}  // namespace pulsestream::simulator
