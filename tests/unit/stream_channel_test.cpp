// The tenant channel names of the live stream (DESIGN.md §4): `events:stream:{clientId}`, and
// reading the tenant back out of an announcement.
#include <gtest/gtest.h>

#include "pulsestream/stream/ws_hub.hpp"

namespace {

using pulsestream::core::parse_uuid;
using pulsestream::stream::ws_hub;

TEST(stream_channel, is_the_prefix_and_the_canonical_lower_case_client_id) {
    const auto tenant = *parse_uuid("6F1C7C4E-3A4B-4C5D-8E9F-0A1B2C3D4E5F");
    EXPECT_EQ(ws_hub::channel_of(tenant), "events:stream:6f1c7c4e-3a4b-4c5d-8e9f-0a1b2c3d4e5f");
}

TEST(stream_channel, names_its_tenant_and_nothing_else_does) {
    const auto tenant = *parse_uuid("0b7e5a8d-1c2d-4e3f-9a0b-1c2d3e4f5a6b");
    EXPECT_EQ(ws_hub::tenant_of(ws_hub::channel_of(tenant)), tenant);
    EXPECT_FALSE(ws_hub::tenant_of("events:stream:"));
    EXPECT_FALSE(ws_hub::tenant_of("events:stream:0b7e5a8d-1c2d-4e3f-9a0b-1c2d3e4f5a6"));
    EXPECT_FALSE(ws_hub::tenant_of("events:stream:0b7e5a8d-1c2d-4e3f-9a0b-1c2d3e4f5a6bb"));
    EXPECT_FALSE(ws_hub::tenant_of("auth:invalidate"));
    EXPECT_FALSE(ws_hub::tenant_of("0b7e5a8d-1c2d-4e3f-9a0b-1c2d3e4f5a6b"));
}

}  // namespace
