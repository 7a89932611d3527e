#include "jwt/claims.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace authgate::jwt {
namespace {

constexpr std::int64_t kNow = 1700000000;

Status check(const ClaimsValidator& v, std::string_view json, std::int64_t now = kNow) {
    TimeClaims t;
    return v.validate(boost::json::parse(json).as_object(), now, t);
}

ClaimsValidator with_leeway(std::int64_t leeway) {
    ClaimsValidator::Options o;
    o.leeway_s = leeway;
    return ClaimsValidator(o);
}

TEST(ClaimsTime, ExpWithAndWithoutLeeway) {
    const auto strict = with_leeway(0);
    const auto lenient = with_leeway(30);
    const std::string exp = R"({"exp":1700000000})";
    EXPECT_EQ(check(strict, exp, kNow - 1), Status::ok);
    EXPECT_EQ(check(strict, exp, kNow), Status::token_expired);  // valid strictly before exp
    EXPECT_EQ(check(lenient, exp, kNow + 29), Status::ok);
    EXPECT_EQ(check(lenient, exp, kNow + 30), Status::token_expired);
}

TEST(ClaimsTime, NbfAndIatInTheFuture) {
    const auto lenient = with_leeway(30);
    EXPECT_EQ(check(lenient, R"({"nbf":1700000030})"), Status::ok);
    EXPECT_EQ(check(lenient, R"({"nbf":1700000031})"), Status::token_not_yet_valid);
    EXPECT_EQ(check(lenient, R"({"iat":1700000030})"), Status::ok);
    EXPECT_EQ(check(lenient, R"({"iat":1700000031})"), Status::issued_in_future);
    EXPECT_EQ(check(with_leeway(0), R"({"nbf":1700000000,"iat":1700000000})"), Status::ok);
}

TEST(ClaimsTime, NumericClaimsMustBeNumbers) {
    const auto v = with_leeway(0);
    EXPECT_EQ(check(v, R"({"exp":"1800000000"})"), Status::claim_invalid);
    EXPECT_EQ(check(v, R"({"nbf":true})"), Status::claim_invalid);
    EXPECT_EQ(check(v, R"({"iat":null})"), Status::claim_invalid);
    EXPECT_EQ(check(v, R"({"exp":1800000000.5})"), Status::ok);
    EXPECT_EQ(check(v, R"({"exp":1e300})"), Status::ok);  // clamped, no overflow
    EXPECT_EQ(check(v, R"({"exp":-1e300})"), Status::token_expired);
    EXPECT_EQ(check(v, R"({"exp":18446744073709551615})"), Status::ok);
}

TEST(ClaimsTime, MaxLifetime) {
    ClaimsValidator::Options o;
    o.max_lifetime_s = 3600;
    const ClaimsValidator v(o);
    EXPECT_EQ(check(v, R"({"iat":1700000000,"exp":1700003600})"), Status::ok);
    EXPECT_EQ(check(v, R"({"iat":1700000000,"exp":1700003601})"), Status::lifetime_too_long);
    EXPECT_EQ(check(v, R"({"exp":1700003600})"), Status::ok);  // exp - now
    EXPECT_EQ(check(v, R"({"exp":1700003601})"), Status::lifetime_too_long);
    EXPECT_EQ(check(v, R"({"sub":"x"})"), Status::lifetime_too_long);  // no exp: unbounded
    EXPECT_EQ(check(v, R"({"iat":-1e300,"exp":1e300})"), Status::lifetime_too_long);
}

TEST(ClaimsIssuerAudience, Checks) {
    ClaimsValidator::Options o;
    o.issuers = {"https://a", "https://b"};
    o.audiences = {"api", "web"};
    const ClaimsValidator v(o);
    EXPECT_EQ(check(v, R"({"iss":"https://b","aud":"web"})"), Status::ok);
    EXPECT_EQ(check(v, R"({"iss":"https://b","aud":["x","api"]})"), Status::ok);
    EXPECT_EQ(check(v, R"({"iss":"https://c","aud":"api"})"), Status::issuer_not_allowed);
    EXPECT_EQ(check(v, R"({"aud":"api"})"), Status::issuer_not_allowed);
    EXPECT_EQ(check(v, R"({"iss":7,"aud":"api"})"), Status::claim_invalid);
    EXPECT_EQ(check(v, R"({"iss":"https://a","aud":"other"})"), Status::audience_not_allowed);
    EXPECT_EQ(check(v, R"({"iss":"https://a","aud":["x","y"]})"), Status::audience_not_allowed);
    EXPECT_EQ(check(v, R"({"iss":"https://a","aud":[]})"), Status::audience_not_allowed);
    EXPECT_EQ(check(v, R"({"iss":"https://a"})"), Status::audience_not_allowed);
    EXPECT_EQ(check(v, R"({"iss":"https://a","aud":{"x":1}})"), Status::claim_invalid);
    EXPECT_EQ(check(v, R"({"iss":"https://a","aud":["api",3]})"), Status::claim_invalid);
    EXPECT_EQ(check(v, R"({"iss":"HTTPS://A","aud":"api"})"), Status::issuer_not_allowed);  // exact match
}

TEST(ClaimsRequired, MissingClaim) {
    ClaimsValidator::Options o;
    o.required = {"exp", "sub"};
    const ClaimsValidator v(o);
    EXPECT_EQ(check(v, R"({"exp":1800000000,"sub":"a"})"), Status::ok);
    EXPECT_EQ(check(v, R"({"exp":1800000000})"), Status::claim_missing);
    EXPECT_EQ(check(v, R"({"sub":"a"})"), Status::claim_missing);
}

TEST(ClaimsTime, CheckTimeMatchesValidate) {
    const auto v = with_leeway(5);
    TimeClaims t;
    ASSERT_EQ(v.validate(boost::json::parse(R"({"exp":1700000100,"iat":1699999000})").as_object(), kNow, t), Status::ok);
    EXPECT_EQ(v.check_time(t, kNow + 50), Status::ok);
    EXPECT_EQ(v.check_time(t, kNow + 105), Status::token_expired);
}

}  // namespace
}  // namespace authgate::jwt
