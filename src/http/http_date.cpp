#include "pulsestream/http/http_date.hpp"

#include <array>
#include <cstdio>
#include <ctime>

namespace pulsestream::http {

std::string format_http_date(std::chrono::system_clock::time_point when) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    // Day and month names are fixed English tokens (RFC 9110), not the locale's: no strftime.
    static constexpr std::array<const char*, 7> days{"Sun", "Mon", "Tue", "Wed",
                                                     "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::array<char, 32> text{};
    const int n = std::snprintf(text.data(), text.size(), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                days[static_cast<std::size_t>(utc.tm_wday)], utc.tm_mday,
                                months[static_cast<std::size_t>(utc.tm_mon)], utc.tm_year + 1900,
                                utc.tm_hour, utc.tm_min, utc.tm_sec);
    return {text.data(), static_cast<std::size_t>(n > 0 ? n : 0)};
}

std::string_view current_http_date() {
    thread_local std::time_t formatted_second = -1;
    thread_local std::string formatted;
    const auto now = std::chrono::system_clock::now();
    const std::time_t second = std::chrono::system_clock::to_time_t(now);
    if (second != formatted_second) {
        formatted = format_http_date(now);
        formatted_second = second;
    }
    return formatted;
}

}  // namespace pulsestream::http
