#include "pulsestream/core/errc.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

namespace pulsestream::core {
namespace {

using json = nlohmann::json;

struct row {
    errc e;
    unsigned status;
    std::string_view code;
    unsigned retry_after;
};

constexpr row expected_rows[] = {
    {errc::invalid_json, 400, "invalid_json", 0},
    {errc::validation_failed, 400, "validation_failed", 0},
    {errc::missing_idempotency_key, 400, "missing_idempotency_key", 0},
    {errc::invalid_idempotency_key, 400, "invalid_idempotency_key", 0},
    {errc::missing_api_key, 401, "missing_api_key", 0},
    {errc::invalid_api_key, 401, "invalid_api_key", 0},
    {errc::api_key_deactivated, 401, "api_key_deactivated", 0},
    {errc::not_found, 404, "not_found", 0},
    {errc::method_not_allowed, 405, "method_not_allowed", 0},
    {errc::idempotency_in_progress, 409, "idempotency_in_progress", 1},
    {errc::payload_too_large, 413, "payload_too_large", 0},
    {errc::unsupported_media_type, 415, "unsupported_media_type", 0},
    {errc::idempotency_key_reused, 422, "idempotency_key_reused", 0},
    {errc::rate_limited, 429, "rate_limited", 0},
    {errc::broker_unavailable, 503, "broker_unavailable", 5},
    {errc::auth_unavailable, 503, "auth_unavailable", 5},
    {errc::malformed_request, 400, "malformed_request", 0},
    {errc::header_too_large, 431, "header_too_large", 0},
    {errc::upgrade_required, 426, "upgrade_required", 0},
    {errc::request_timeout, 408, "request_timeout", 0},
    {errc::internal_error, 500, "internal_error", 0},
};

TEST(Errc, TableMatchesTheDesign) {
    for (const row& r : expected_rows) {
        const error_info& info = describe(r.e);
        EXPECT_EQ(info.http_status, r.status) << r.code;
        EXPECT_EQ(info.code, r.code);
        EXPECT_EQ(info.retry_after_s, r.retry_after) << r.code;
        EXPECT_FALSE(info.message.empty()) << r.code;
    }
}

TEST(Errc, CodesAreUnique) {
    std::set<std::string_view> codes;
    for (const row& r : expected_rows) EXPECT_TRUE(codes.insert(describe(r.e).code).second);
}

TEST(Errc, UnknownValueIsInternalError) {
    EXPECT_EQ(describe(static_cast<errc>(0)).code, "internal_error");
    EXPECT_EQ(describe(static_cast<errc>(999)).code, "internal_error");
}

TEST(Errc, ConvertsToBoostErrorCode) {
    boost::system::error_code ec = errc::rate_limited;
    EXPECT_TRUE(ec.failed());
    EXPECT_EQ(&ec.category(), &error_category());
    EXPECT_STREQ(ec.category().name(), "pulsestream");
    EXPECT_EQ(ec.message(), describe(errc::rate_limited).message);
    EXPECT_EQ(ec, errc::rate_limited);
    EXPECT_NE(ec, errc::invalid_json);
    EXPECT_FALSE(boost::system::error_code{}.failed());
}

TEST(Errc, InteroperatesWithStdErrorCode) {
    const std::error_code std_ec = make_error_code(errc::not_found);
    EXPECT_TRUE(static_cast<bool>(std_ec));
    EXPECT_EQ(std_ec.message(), describe(errc::not_found).message);
}

TEST(ErrorBody, WithoutErrorsHasNoErrorsArray) {
    const json body = json::parse(error_body(errc::invalid_api_key));
    EXPECT_EQ(body, (json{{"status", "error"},
                          {"code", "invalid_api_key"},
                          {"message", describe(errc::invalid_api_key).message}}));
}

TEST(ErrorBody, KeyOrderIsStatusCodeMessageErrors) {
    const std::vector<field_error> errors{{"0.deviceId", "must be a UUID string"}};
    EXPECT_EQ(error_body(errc::validation_failed, errors, "Validation failed"),
              R"({"status":"error","code":"validation_failed","message":"Validation failed",)"
              R"("errors":[{"field":"0.deviceId","message":"must be a UUID string"}]})");
}

TEST(ErrorBody, ListsEveryFieldError) {
    const std::vector<field_error> errors{{"deviceId", "is required"},
                                          {"eventType", "must be 2-50 characters"}};
    const json body = json::parse(error_body(errc::validation_failed, errors));
    ASSERT_EQ(body["errors"].size(), 2U);
    EXPECT_EQ(body["errors"][1]["field"], "eventType");
    EXPECT_EQ(body["errors"][1]["message"], "must be 2-50 characters");
}

TEST(ErrorBody, MessageOverrideIsEscapedAndInvalidUtf8Replaced) {
    const std::string nasty = "quote\" backslash\\ newline\n nul" + std::string(1, '\0') + " bad\xff";
    const std::string text = error_body(errc::invalid_json, {}, nasty);
    const json body = json::parse(text);  // throws if the output were not valid JSON/UTF-8
    EXPECT_EQ(body["message"],
              "quote\" backslash\\ newline\n nul" + std::string(1, '\0') + " bad\xEF\xBF\xBD");
}

}  // namespace
}  // namespace pulsestream::core
