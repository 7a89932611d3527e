#include "jwt/jws.h"

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;

Status parse(std::string_view token) {
    ParsedToken t;
    return parse_token(token, t);
}

std::string seg(std::string_view json) { return base64url_encode(json); }

TEST(ParseToken, Statuses) {
    const std::string h = seg(R"({"alg":"HS256"})");
    const std::string p = seg(R"({"sub":"a"})");
    EXPECT_EQ(parse(h + "." + p + ".c2ln"), Status::ok);
    EXPECT_EQ(parse(h + "." + p + "."), Status::ok);  // empty signature: the verifier refuses it
    EXPECT_EQ(parse(""), Status::token_malformed);
    EXPECT_EQ(parse("abc"), Status::token_malformed);
    EXPECT_EQ(parse(h + "." + p), Status::token_malformed);
    EXPECT_EQ(parse(h + "." + p + ".sig.x"), Status::token_malformed);
    EXPECT_EQ(parse(h + "." + p + ".a.b.c"), Status::token_malformed);
    EXPECT_EQ(parse("." + p + ".c2ln"), Status::token_malformed);
    EXPECT_EQ(parse(h + "..c2ln"), Status::token_malformed);
    EXPECT_EQ(parse(h + "=." + p + ".c2ln"), Status::token_malformed);
    EXPECT_EQ(parse(h + "." + p + ".c2ln="), Status::token_malformed);
    EXPECT_EQ(parse(h + "." + p + ".c2l+"), Status::token_malformed);
    EXPECT_EQ(parse(seg("not json") + "." + p + ".c2ln"), Status::header_invalid);
    EXPECT_EQ(parse(seg("[1]") + "." + p + ".c2ln"), Status::header_invalid);
    EXPECT_EQ(parse(seg("{}") + "." + p + ".c2ln"), Status::header_invalid);
    EXPECT_EQ(parse(seg(R"({"alg":5})") + "." + p + ".c2ln"), Status::header_invalid);
    EXPECT_EQ(parse(seg(R"({"alg":"HS256","kid":1})") + "." + p + ".c2ln"), Status::header_invalid);
    EXPECT_EQ(parse(seg(R"({"alg":"HS256","crit":["exp"]})") + "." + p + ".c2ln"), Status::crit_unsupported);
    EXPECT_EQ(parse(h + "." + seg("\"str\"") + ".c2ln"), Status::payload_invalid);
    EXPECT_EQ(parse(h + "." + seg("{\"a\":") + ".c2ln"), Status::payload_invalid);
    EXPECT_EQ(parse(h + "." + seg("{\"a\":\"\xff\"}") + ".c2ln"), Status::payload_invalid);  // not UTF-8
    EXPECT_EQ(parse(std::string(kMaxTokenBytes + 1, 'a')), Status::token_too_large);
}

TEST(ParseToken, AlgNoneAndUnknownHaveNoAlgorithm) {
    ParsedToken t;
    ASSERT_EQ(parse_token(seg(R"({"alg":"none"})") + "." + seg("{}") + ".", t), Status::ok);
    EXPECT_FALSE(t.alg.has_value());
    ASSERT_EQ(parse_token(seg(R"({"alg":"hs256"})") + "." + seg("{}") + ".", t), Status::ok);
    EXPECT_FALSE(t.alg.has_value());
    ASSERT_EQ(parse_token(seg(R"({"alg":"EdDSA","kid":"k1"})") + "." + seg("{}") + ".", t), Status::ok);
    EXPECT_EQ(t.alg, Algorithm::EdDSA);
    EXPECT_TRUE(t.has_kid);
    EXPECT_EQ(t.kid, "k1");
}

}  // namespace
}  // namespace authgate::jwt
