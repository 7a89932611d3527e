#include "jwt/extractor.h"

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;
using Kind = config::TokenSource::Kind;

std::optional<std::string> extract(const TokenExtractor& x, const FakeRequest& r) {
    std::string scratch;
    auto t = x.extract(r, scratch);
    if (!t) return std::nullopt;
    return std::string(t->token);
}

TEST(Extractor, DefaultBearerCaseInsensitiveWithExtraSpaces) {
    const TokenExtractor x({});
    EXPECT_EQ(extract(x, FakeRequest().set("Authorization", "Bearer abc")), "abc");
    EXPECT_EQ(extract(x, FakeRequest().set("authorization", "bearer abc")), "abc");
    EXPECT_EQ(extract(x, FakeRequest().set("Authorization", "BEARER    abc  ")), "abc");
    EXPECT_EQ(extract(x, FakeRequest().set("Authorization", "Bearer\tabc")), "abc");
    EXPECT_EQ(extract(x, FakeRequest().set("Authorization", "Bearer")), "");  // present, empty
    EXPECT_EQ(extract(x, FakeRequest().set("Authorization", "Basic dXNlcjpwYXNz")), std::nullopt);
    EXPECT_EQ(extract(x, FakeRequest().set("Authorization", "Bearerabc")), std::nullopt);
    EXPECT_EQ(extract(x, FakeRequest()), std::nullopt);
}

TEST(Extractor, SourcesInOrderFirstPresentWins) {
    const TokenExtractor x({{Kind::header, "X-Token", ""}, {Kind::cookie, "access_token", ""},
                            {Kind::query, "access_token", ""}});
    FakeRequest r;
    r.query("a=1&access_token=q%2Dtok").set("Cookie", "x=1; access_token=c-tok");
    EXPECT_EQ(extract(x, r), "c-tok");
    r.set("X-Token", "h-tok");
    EXPECT_EQ(extract(x, r), "h-tok");
    EXPECT_EQ(extract(x, FakeRequest().query("access_token=q%2Dtok")), "q-tok");
    EXPECT_EQ(extract(x, FakeRequest().set("Authorization", "Bearer z")), std::nullopt);
    std::string scratch;
    auto t = x.extract(FakeRequest().query("access_token=q"), scratch);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->source, 2u);
}

TEST(Cookies, Parsing) {
    EXPECT_EQ(find_cookie("a=1; token=xyz; b=2", "token"), "xyz");
    EXPECT_EQ(find_cookie("token=\"xyz\"", "token"), "xyz");
    EXPECT_EQ(find_cookie("  token = xyz ;", "token"), "xyz");
    EXPECT_EQ(find_cookie("mytoken=1; token=2", "token"), "2");
    EXPECT_EQ(find_cookie("a=1", "token"), std::nullopt);
    EXPECT_EQ(find_cookie("token", "token"), std::nullopt);
    EXPECT_EQ(find_cookie("", "token"), std::nullopt);
}

TEST(Query, PercentDecoding) {
    EXPECT_EQ(find_query_param("a=1&t=x%2Ey+z", "t"), "x.y z");
    EXPECT_EQ(find_query_param("t%5Fx=1", "t_x"), "1");
    EXPECT_EQ(find_query_param("t", "t"), "");
    EXPECT_EQ(find_query_param("t=%zz", "t"), "");  // bad escape: present, unusable
    EXPECT_EQ(find_query_param("t=%4", "t"), "");
    EXPECT_EQ(find_query_param("a=1&&b=2", "t"), std::nullopt);
    EXPECT_EQ(find_query_param("t=1&t=2", "t"), "1");
    std::string out;
    EXPECT_FALSE(percent_decode("%", out));
    EXPECT_TRUE(percent_decode("%41%62", out));
    EXPECT_EQ(out, "Ab");
}

TEST(Strip, RemoveCookie) {
    EXPECT_EQ(remove_cookie("a=1; token=x; b=2", "token"), "a=1; b=2");
    EXPECT_EQ(remove_cookie("token=x", "token"), "");
    EXPECT_EQ(remove_cookie("token=x;token=y; c=3", "token"), "c=3");
    EXPECT_EQ(remove_cookie("a=1", "token"), "a=1");
    EXPECT_EQ(remove_cookie("mytoken=1", "token"), "mytoken=1");
}

TEST(Strip, RemoveQueryParam) {
    EXPECT_EQ(remove_query_param("a=1&access_token=x&b=2", "access_token"), "a=1&b=2");
    EXPECT_EQ(remove_query_param("access_token=x", "access_token"), "");
    EXPECT_EQ(remove_query_param("access%5Ftoken=x&c=%20", "access_token"), "c=%20");  // raw kept
    EXPECT_EQ(remove_query_param("a=1", "t"), "a=1");
    EXPECT_EQ(remove_query_param("", "t"), "");
}

TEST(AuthPrefix, CustomPrefixes) {
    EXPECT_EQ(strip_auth_prefix("Token abc", "Token "), "abc");
    EXPECT_EQ(strip_auth_prefix("abc", ""), "abc");
    EXPECT_EQ(strip_auth_prefix("JWT=abc", "JWT="), "abc");
    EXPECT_EQ(strip_auth_prefix("Bearer abc", "Token "), std::nullopt);
}

}  // namespace
}  // namespace authgate::jwt
