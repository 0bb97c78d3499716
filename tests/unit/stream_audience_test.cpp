// gateway::stream_audience: when a PUBLISH may be skipped because Redis reported no subscriber,
// and every way a mark must give way (an announcement, a changed epoch, lost hearing, recheck).
#include "pulsestream/gateway/stream_audience.hpp"

#include <gtest/gtest.h>

namespace {

using pulsestream::core::parse_uuid;
using pulsestream::core::uuid;
using pulsestream::gateway::stream_audience;
using namespace std::chrono_literals;

const uuid tenant = *parse_uuid("6f1c7c4e-3a4b-4c5d-8e9f-0a1b2c3d4e5f");
const uuid other = *parse_uuid("0b7e5a8d-1c2d-4e3f-9a0b-1c2d3e4f5a6b");

class audience : public ::testing::Test {
protected:
    audience() { subject.hearing(true); }

    /// Takes a ticket for `t`, which must be granted, and reports `receivers` for it.
    void publish_and_hear(const uuid& t, long long receivers) {
        const auto ticket = subject.publish_ticket(t, now);
        ASSERT_TRUE(ticket.has_value());
        subject.heard(t, receivers, *ticket, now);
    }

    stream_audience subject{stream_audience::options{.recheck = 1s, .max_unwatched = 2}};
    stream_audience::clock::time_point now = stream_audience::clock::now();
};

TEST_F(audience, a_tenant_nobody_received_is_skipped_until_the_recheck) {
    publish_and_hear(tenant, 0);
    EXPECT_FALSE(subject.publish_ticket(tenant, now + 999ms));
    EXPECT_TRUE(subject.publish_ticket(other, now)) << "only that tenant";
    EXPECT_EQ(subject.unwatched(), 1U);
    EXPECT_TRUE(subject.publish_ticket(tenant, now + 1s)) << "one PUBLISH asks again";
    EXPECT_TRUE(subject.publish_ticket(tenant, now + 1s)) << "until its reply says otherwise";
}

TEST_F(audience, a_tenant_with_a_receiver_is_always_published) {
    publish_and_hear(tenant, 2);
    EXPECT_TRUE(subject.publish_ticket(tenant, now));
    EXPECT_EQ(subject.unwatched(), 0U);
}

TEST_F(audience, a_reply_with_receivers_clears_an_earlier_mark) {
    const auto old_ticket = subject.publish_ticket(tenant, now);
    publish_and_hear(tenant, 0);
    subject.heard(tenant, 1, *old_ticket, now);
    EXPECT_TRUE(subject.publish_ticket(tenant, now));
}

TEST_F(audience, an_announcement_clears_the_mark_at_once) {
    publish_and_hear(tenant, 0);
    subject.watched(tenant);
    EXPECT_TRUE(subject.publish_ticket(tenant, now));
    EXPECT_EQ(subject.unwatched(), 0U);
}

TEST_F(audience, a_reply_of_zero_read_after_an_announcement_is_not_believed) {
    // The PUBLISH reached Redis before the new viewer's SUBSCRIBE; its reply arrives after the
    // announcement of that viewer.
    const auto ticket = subject.publish_ticket(tenant, now);
    ASSERT_TRUE(ticket);
    subject.watched(other);  // any announcement: the epoch is shared
    subject.heard(tenant, 0, *ticket, now);
    EXPECT_TRUE(subject.publish_ticket(tenant, now));
}

TEST_F(audience, nothing_is_skipped_while_announcements_cannot_be_heard) {
    publish_and_hear(tenant, 0);
    subject.hearing(false);
    EXPECT_TRUE(subject.publish_ticket(tenant, now)) << "the mark of before is dropped";
    publish_and_hear(tenant, 0);
    EXPECT_TRUE(subject.publish_ticket(tenant, now)) << "and no new one is set";
    EXPECT_EQ(subject.unwatched(), 0U);
}

TEST_F(audience, a_reply_to_a_publish_sent_before_hearing_resumed_is_not_believed) {
    subject.hearing(false);
    const auto ticket = subject.publish_ticket(tenant, now);
    subject.hearing(true);
    subject.heard(tenant, 0, *ticket, now);
    EXPECT_TRUE(subject.publish_ticket(tenant, now));
}

TEST_F(audience, a_new_audience_skips_nothing_before_it_hears) {
    stream_audience fresh;
    const auto ticket = fresh.publish_ticket(tenant, now);
    fresh.heard(tenant, 0, *ticket, now);
    EXPECT_TRUE(fresh.publish_ticket(tenant, now));
}

TEST_F(audience, marks_are_bounded) {
    const uuid third = *parse_uuid("9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a");
    publish_and_hear(tenant, 0);
    publish_and_hear(other, 0);
    publish_and_hear(third, 0);
    EXPECT_EQ(subject.unwatched(), 2U);
    EXPECT_TRUE(subject.publish_ticket(third, now)) << "beyond the bound: just published";
}

}  // namespace
