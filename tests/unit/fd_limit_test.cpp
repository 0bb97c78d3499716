#include "pulsestream/runtime/fd_limit.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace {

using pulsestream::runtime::raise_fd_limit;

// Each test case runs in its own process (gtest_discover_tests), so changing the limit is safe.
class fd_limit_test : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original_), 0);
        if (original_.rlim_max < 300) GTEST_SKIP() << "hard open-file limit below 300";
        rlimit low = original_;
        low.rlim_cur = 256;
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    }
    void TearDown() override { setrlimit(RLIMIT_NOFILE, &original_); }

    static rlim_t soft_now() {
        rlimit now{};
        getrlimit(RLIMIT_NOFILE, &now);
        return now.rlim_cur;
    }

    rlimit original_{};
};

TEST_F(fd_limit_test, raises_the_soft_limit_to_what_is_wanted) {
    const auto result = raise_fd_limit(300);
    EXPECT_EQ(result.soft, 300u);
    EXPECT_EQ(soft_now(), 300u);
}

TEST_F(fd_limit_test, never_lowers_it) {
    const auto result = raise_fd_limit(100);
    EXPECT_EQ(result.soft, 256u);
    EXPECT_EQ(soft_now(), 256u);
}

TEST_F(fd_limit_test, stops_at_the_hard_limit) {
    rlimit capped{256, 280};
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &capped), 0);  // lowering the hard limit needs no privilege
    const auto result = raise_fd_limit(100000);
    EXPECT_EQ(result.soft, 280u);
    EXPECT_EQ(result.hard, 280u);
    EXPECT_EQ(soft_now(), 280u);
}

}  // namespace
