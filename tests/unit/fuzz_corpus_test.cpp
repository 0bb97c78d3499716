// Replays every file of the fuzz corpora (tests/fuzz/corpus, tests/fuzz/corpus-edge) through
// their fuzz target's invariants, so each corpus (seeds plus every crash the fuzzer ever found)
// is a regression suite in the normal build.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "../fuzz/edge_parser_checks.hpp"
#include "../fuzz/event_parser_checks.hpp"
#include "../fuzz/fuzz_entry.hpp"

namespace pulsestream::fuzz {
namespace {

namespace fs = std::filesystem;

/// One corpus file and the checks of the fuzz target it belongs to.
struct corpus_file {
    std::string corpus;  // directory under tests/fuzz
    std::string name;
    check_fn check;
};

// What gtest prints for a failing file (instead of the struct's bytes).
void PrintTo(const corpus_file& file, std::ostream* out) {
    *out << file.corpus << "/" << file.name;
}

fs::path fuzz_dir() { return fs::path(__FILE__).parent_path().parent_path() / "fuzz"; }

std::vector<corpus_file> files_of(const std::string& corpus, check_fn check) {
    std::vector<corpus_file> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(fuzz_dir() / corpus, ec)) {
        if (entry.is_regular_file()) {
            files.push_back({corpus, entry.path().filename().string(), check});
        }
    }
    std::sort(files.begin(), files.end(),
              [](const corpus_file& a, const corpus_file& b) { return a.name < b.name; });
    return files;
}

std::vector<corpus_file> all_corpus_files() {
    auto files = files_of("corpus", &check_input);
    const auto edge = files_of("corpus-edge", &edge::check_input);
    files.insert(files.end(), edge.begin(), edge.end());
    return files;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FuzzCorpus, IsPresent) {
    EXPECT_GE(files_of("corpus", &check_input).size(), 12U) << "not found in " << fuzz_dir();
    EXPECT_GE(files_of("corpus-edge", &edge::check_input).size(), 8U)
        << "not found in " << fuzz_dir();
}

class CorpusFile : public ::testing::TestWithParam<corpus_file> {};

TEST_P(CorpusFile, SatisfiesAllInvariants) {
    const auto& file = GetParam();
    const std::string data = read_file(fuzz_dir() / file.corpus / file.name);
    int violations = 0;
    file.check(data, [&](const std::string& what) {
        ++violations;
        ADD_FAILURE() << file.corpus << "/" << file.name << ": " << what;
    });
    EXPECT_EQ(violations, 0);
}

std::string test_name(const ::testing::TestParamInfo<corpus_file>& info) {
    std::string name = info.param.corpus + "_" + info.param.name;
    for (char& c : name) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusFile, ::testing::ValuesIn(all_corpus_files()), test_name);

// The checks must be able to fail: a parser that accepted garbage would be reported.
TEST(FuzzCorpus, ChecksDetectAViolation) {
    int violations = 0;
    check_body_is_json("{not json", [&](const std::string&) { ++violations; });
    EXPECT_EQ(violations, 1);
}

}  // namespace
}  // namespace pulsestream::fuzz
