#include "jwt/token_command.h"

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;

struct Run {
    int code;
    std::string out, err;
};

Run run(std::vector<std::string> args) {
    args.insert(args.begin(), "token");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    const int code = token_command(static_cast<int>(argv.size()), argv.data());
    return Run{code, testing::internal::GetCapturedStdout(), testing::internal::GetCapturedStderr()};
}

TEST(TokenCommand, HmacTokenWithClaims) {
    auto r = run({"--alg", "HS256", "--secret", "s3cret", "--kid", "k", "--iss", "https://i", "--aud", "api", "--sub",
                  "bob", "--ttl", "5m", "--claim", "roles=a,b", "--claim-json", "groups=[\"x\",\"y\"]"});
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string token = r.out.substr(0, r.out.find('\n'));
    ParsedToken t;
    ASSERT_EQ(parse_token(token, t), Status::ok);
    EXPECT_EQ(t.kid, "k");
    EXPECT_TRUE(verify_signature(Algorithm::HS256, *secret_key("s3cret"), t.signing_input, t.signature));
    EXPECT_EQ(t.payload.at("roles").as_string(), "a,b");
    EXPECT_EQ(t.payload.at("groups").as_array().size(), 2u);
    EXPECT_EQ(t.payload.at("exp").as_int64() - t.payload.at("iat").as_int64(), 300);
    EXPECT_EQ(t.payload.at("sub").as_string(), "bob");
}

TEST(TokenCommand, PrivateKeyFilesForEveryFamily) {
    struct Case {
        const char* alg;
        const char* key;
    } cases[] = {{"RS256", "rsa"}, {"PS384", "rsa"}, {"ES256", "p256"}, {"ES512", "p521"}, {"EdDSA", "ed25519"}};
    for (const auto& c : cases) {
        TempFile pem(private_pem(pkey_for(c.key)));
        auto r = run({"--alg", c.alg, "--key", pem.path()});
        ASSERT_EQ(r.code, 0) << c.alg << r.err;
        const std::string token = r.out.substr(0, r.out.find('\n'));  // t views into it
        ParsedToken t;
        ASSERT_EQ(parse_token(token, t), Status::ok);
        EXPECT_TRUE(verify_signature(*parse_algorithm(c.alg), *private_key(c.key), t.signing_input, t.signature));
        EXPECT_EQ(t.payload.at("exp").as_int64() - t.payload.at("iat").as_int64(), 3600);  // default ttl
    }
}

TEST(TokenCommand, ErrorsExitTwo) {
    TempFile pem(private_pem(pkey_for("p256")));
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {},
             {"--alg", "none", "--secret", "x"},
             {"--alg", "HS256"},
             {"--alg", "HS256", "--secret", "x", "--key", pem.path()},
             {"--alg", "RS256", "--key", pem.path()},
             {"--alg", "HS256", "--secret", "x", "--ttl", "soon"},
             {"--alg", "HS256", "--secret", "x", "--claim", "novalue"},
             {"--alg", "HS256", "--secret", "x", "--claim-json", "a={"},
             {"--alg", "ES256", "--key", "/nonexistent.pem"},
             {"--bogus"}}) {
        auto r = run(args);
        EXPECT_EQ(r.code, 2);
        EXPECT_TRUE(r.out.empty());
        EXPECT_FALSE(r.err.empty());
    }
}

}  // namespace
}  // namespace authgate::jwt
