#pragma once

#include <sstream>
#include <string>

namespace pulsestream::test_support {

/// The value of the sample `series` in the Prometheus text exposition `text`, or `absent` when no
/// line starts with `series` and a space.
///
/// `series` is the metric name with its labels exactly as the exposition writes them, e.g.
/// `pulsestream_redis_failures_total` or `name{layer="redis",result="hit"}`.
inline double prometheus_sample(const std::string& text, const std::string& series,
                                double absent = 0) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return absent;
}

}  // namespace pulsestream::test_support
