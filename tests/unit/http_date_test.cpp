#include "pulsestream/http/http_date.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace {

using namespace std::chrono_literals;
using pulsestream::http::current_http_date;
using pulsestream::http::format_http_date;

std::chrono::system_clock::time_point at(std::chrono::seconds since_epoch) {
    return std::chrono::system_clock::time_point(since_epoch);
}

TEST(http_date, formats_the_example_of_rfc_9110) {
    EXPECT_EQ(format_http_date(at(784111777s)), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(http_date, drops_fractions_and_pads_every_field) {
    EXPECT_EQ(format_http_date(at(0s) + 999ms), "Thu, 01 Jan 1970 00:00:00 GMT");
    EXPECT_EQ(format_http_date(at(951782400s)), "Tue, 29 Feb 2000 00:00:00 GMT");
    EXPECT_EQ(format_http_date(at(4102444799s)), "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(http_date, the_current_date_is_now_in_imf_fixdate) {
    const std::string before = format_http_date(std::chrono::system_clock::now());
    const std::string current(current_http_date());
    const std::string after = format_http_date(std::chrono::system_clock::now());
    EXPECT_TRUE(current == before || current == after) << current;
    EXPECT_TRUE(std::regex_match(
        current, std::regex(R"([A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT)")))
        << current;
}

}  // namespace
