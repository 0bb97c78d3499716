// Replays every file of tests/fuzz/corpus through the fuzz target's invariants, so the corpus
// (seeds plus every crash the fuzzer ever found) is a regression suite in the normal build.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../fuzz/event_parser_checks.hpp"

namespace pulsestream::fuzz {
namespace {

namespace fs = std::filesystem;

fs::path corpus_dir() { return fs::path(__FILE__).parent_path().parent_path() / "fuzz" / "corpus"; }

std::vector<std::string> corpus_files() {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(corpus_dir(), ec)) {
        if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FuzzCorpus, IsPresent) {
    EXPECT_GE(corpus_files().size(), 12U) << "corpus not found at " << corpus_dir();
}

class CorpusFile : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusFile, SatisfiesAllInvariants) {
    const std::string data = read_file(corpus_dir() / GetParam());
    int violations = 0;
    check_input(data, [&](const std::string& what) {
        ++violations;
        ADD_FAILURE() << GetParam() << ": " << what;
    });
    EXPECT_EQ(violations, 0);
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
    std::string name;
    for (const char c : info.param) {
        name.push_back(std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_');
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusFile, ::testing::ValuesIn(corpus_files()), test_name);

// The checks must be able to fail: a parser that accepted garbage would be reported.
TEST(FuzzCorpus, ChecksDetectAViolation) {
    int violations = 0;
    check_body_is_json("{not json", [&](const std::string&) { ++violations; });
    EXPECT_EQ(violations, 1);
}

}  // namespace
}  // namespace pulsestream::fuzz
