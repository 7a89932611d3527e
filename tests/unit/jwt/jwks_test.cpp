#include "jwt/jwks.h"

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;

TEST(Jwks, ParsesKeysWithKidAndAlg) {
    auto rsa = jwk_for("rsa", "r1");
    rsa["alg"] = "RS256";
    rsa["use"] = "sig";
    const auto r = parse_jwks(jwks_json({rsa, jwk_for("p256", "e1"), jwk_for("ed25519", "o1")}));
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.keys.size(), 3u);
    EXPECT_EQ(r.keys[0]->kid(), "r1");
    EXPECT_EQ(r.keys[0]->pinned_alg(), Algorithm::RS256);
    EXPECT_EQ(r.keys[1]->curve(), Curve::p256);
    EXPECT_EQ(r.keys[2]->family(), KeyFamily::okp);
    EXPECT_TRUE(r.skipped.empty());
}

TEST(Jwks, SkipsEncryptionKeysAndBadKeysButKeepsTheRest) {
    auto enc = jwk_for("rsa", "enc");
    enc["use"] = "enc";
    auto ops = jwk_for("p256", "ops");
    ops["key_ops"] = boost::json::array{"encrypt"};
    auto ok_ops = jwk_for("p384", "ok");
    ok_ops["key_ops"] = boost::json::array{"verify"};
    boost::json::object weird{{"kty", "RSA"}, {"kid", "bad"}};
    const auto r = parse_jwks(jwks_json({enc, ops, weird, ok_ops}));
    ASSERT_TRUE(r.ok);
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_EQ(r.keys[0]->kid(), "ok");
    EXPECT_EQ(r.skipped.size(), 3u);
}

TEST(Jwks, RefusesNonSets) {
    for (std::string doc : {"", "[]", "{}", R"({"keys":{}})", R"({"keys":)", "null", R"({"keys":[1,2]})"}) {
        const auto r = parse_jwks(doc);
        if (doc == R"({"keys":[1,2]})") {
            EXPECT_TRUE(r.ok);
            EXPECT_TRUE(r.keys.empty());
            EXPECT_EQ(r.skipped.size(), 2u);
        } else {
            EXPECT_FALSE(r.ok) << doc;
            EXPECT_FALSE(r.error.empty());
        }
    }
    EXPECT_FALSE(parse_jwks(std::string(kMaxJwksBytes + 1, ' ')).ok);
}

TEST(Jwks, GenerationsIncrease) {
    const auto a = next_key_generation();
    const auto b = next_key_generation();
    EXPECT_GT(b, a);
    EXPECT_NE(a, 0u);
}

}  // namespace
}  // namespace authgate::jwt
