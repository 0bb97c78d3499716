#include "report.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace pulsestream::simulator {

const char* to_string(check_status status) {
    switch (status) {
        case check_status::pass:
            return "PASS";
        case check_status::fail:
            return "FAIL";
        case check_status::skip:
            return "SKIP";
    }
    return "?";
}

check_report::check_report(bool json, std::FILE* out)
    : json_(json), color_(!json && ::isatty(::fileno(out)) != 0), out_(out) {}

void check_report::add(check_result result) {
    if (!json_) {
        const char* color = "";
        if (color_) {
            color = result.status == check_status::pass   ? "\033[32m"
                    : result.status == check_status::fail ? "\033[31m"
                                                          : "\033[33m";
        }
        std::fprintf(out_, "%s%s%s  %-27s %s\n      %s (%lld ms)\n", color,
                     to_string(result.status), color_ ? "\033[0m" : "", result.name.c_str(),
                     result.title.c_str(), result.detail.c_str(),
                     static_cast<long long>(result.duration.count()));
        std::fflush(out_);
    }
    results_.push_back(std::move(result));
}

std::size_t check_report::passed() const {
    return static_cast<std::size_t>(
        std::count_if(results_.begin(), results_.end(),
                      [](const auto& r) { return r.status == check_status::pass; }));
}

std::size_t check_report::failed() const {
    return static_cast<std::size_t>(
        std::count_if(results_.begin(), results_.end(),
                      [](const auto& r) { return r.status == check_status::fail; }));
}

std::size_t check_report::skipped() const {
    return static_cast<std::size_t>(
        std::count_if(results_.begin(), results_.end(),
                      [](const auto& r) { return r.status == check_status::skip; }));
}

bool check_report::ok() const { return failed() == 0 && passed() > 0; }

nlohmann::json check_report::to_json() const {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& r : results_) {
        checks.push_back({{"name", r.name},
                          {"title", r.title},
                          {"status", to_string(r.status)},
                          {"detail", r.detail},
                          {"duration_ms", r.duration.count()}});
    }
    return {{"mode", "scenarios"}, {"ok", ok()},           {"passed", passed()},
            {"failed", failed()},  {"skipped", skipped()}, {"checks", std::move(checks)}};
}

void check_report::print_summary() const {
    if (json_) {
        std::fprintf(out_, "%s\n", to_json().dump(2).c_str());
        return;
    }
    std::fprintf(out_, "\n%zu checks: %zu passed, %zu failed, %zu skipped: %s\n", results_.size(),
                 passed(), failed(), skipped(), ok() ? "ALL PASSED" : "FAILED");
    for (const auto& r : results_) {
        if (r.status == check_status::fail) {
            std::fprintf(out_, "  failed: %s (%s)\n", r.name.c_str(), r.detail.c_str());
        }
    }
    std::fflush(out_);
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& json) {
    auto temp = path;
    temp += ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(temp, std::ios::trunc);
        out << json.dump(2) << '\n';
        out.close();
        if (!out) {
            throw std::runtime_error("cannot write " + temp.string());
        }
    }
    std::filesystem::rename(temp, path);
}

}  // namespace pulsestream::simulator
