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
    EXPECT_EQ(t.typ, "JWT");  // the default
    EXPECT_TRUE(verify_signature(Algorithm::HS256, *secret_key("s3cret"), t.signing_input, t.signature));
    EXPECT_EQ(t.payload.at("roles").as_string(), "a,b");
    EXPECT_EQ(t.payload.at("groups").as_array().size(), 2u);
    EXPECT_EQ(t.payload.at("exp").as_int64() - t.payload.at("iat").as_int64(), 300);
    EXPECT_EQ(t.payload.at("sub").as_string(), "bob");
}

TEST(TokenCommand, TypIsSetOrLeftOut) {
    auto at = run({"--alg", "HS256", "--secret", "s3cret", "--typ", "at+jwt"});
    ASSERT_EQ(at.code, 0) << at.err;
    const std::string at_token = at.out.substr(0, at.out.find('\n'));
    ParsedToken t;
    ASSERT_EQ(parse_token(at_token, t), Status::ok);
    EXPECT_TRUE(t.has_typ);
    EXPECT_EQ(t.typ, "at+jwt");
    auto none = run({"--alg", "HS256", "--secret", "s3cret", "--typ", ""});
    ASSERT_EQ(none.code, 0) << none.err;
    const std::string none_token = none.out.substr(0, none.out.find('\n'));
    ParsedToken u;
    ASSERT_EQ(parse_token(none_token, u), Status::ok);
    EXPECT_FALSE(u.has_typ);
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

// The token's signature verifies with exactly `secret`.
void expect_signed_with(const Run& r, const std::string& secret) {
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string token = r.out.substr(0, r.out.find('\n'));
    ParsedToken t;
    ASSERT_EQ(parse_token(token, t), Status::ok);
    EXPECT_TRUE(verify_signature(Algorithm::HS256, *secret_key(secret), t.signing_input, t.signature));
    EXPECT_FALSE(verify_signature(Algorithm::HS256, *secret_key(secret + "\n"), t.signing_input, t.signature));
}

// Error exit 2 with `text` in the message and nothing on stdout.
void expect_refused(const Run& r, const std::string& text) {
    EXPECT_EQ(r.code, 2);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
}

TEST(TokenCommand, SecretFromAFileWithoutItsTrailingNewline) {
    TempFile lf("file-secret-0123456789abcdef0123456789\n", ".secret");
    expect_signed_with(run({"--alg", "HS256", "--secret-file", lf.path()}), "file-secret-0123456789abcdef0123456789");
    TempFile crlf("file-secret-0123456789abcdef0123456789\r\n", ".secret");
    expect_signed_with(run({"--alg", "HS256", "--secret-file=" + crlf.path()}),
                       "file-secret-0123456789abcdef0123456789");
    // Only the one line ending goes: anything else is the secret's.
    TempFile two("file-secret-0123456789abcdef0123456789\n\n", ".secret");
    expect_signed_with(run({"--alg", "HS256", "--secret-file", two.path()}),
                       "file-secret-0123456789abcdef0123456789\n");
}

TEST(TokenCommand, SecretFromTheEnvironment) {
    ::setenv("AUTHGATE_TOKEN_TEST_SECRET", "env-secret-0123456789abcdef0123456789", 1);
    expect_signed_with(run({"--alg", "HS256", "--secret-env", "AUTHGATE_TOKEN_TEST_SECRET"}),
                       "env-secret-0123456789abcdef0123456789");
    ::unsetenv("AUTHGATE_TOKEN_TEST_SECRET");
}

TEST(TokenCommand, SecretSourceErrorsSayWhich) {
    TempFile empty("\n", ".secret");
    TempFile ok("file-secret-0123456789abcdef0123456789", ".secret");
    expect_refused(run({"--alg", "HS256", "--secret-file", "/nonexistent/secret"}),
                   "cannot read /nonexistent/secret: No such file or directory");
    expect_refused(run({"--alg", "HS256", "--secret-file", empty.path()}), "is empty");
    ::unsetenv("AUTHGATE_TOKEN_TEST_UNSET");
    expect_refused(run({"--alg", "HS256", "--secret-env", "AUTHGATE_TOKEN_TEST_UNSET"}),
                   "environment variable AUTHGATE_TOKEN_TEST_UNSET is not set");
    ::setenv("AUTHGATE_TOKEN_TEST_EMPTY", "", 1);
    expect_refused(run({"--alg", "HS256", "--secret-env", "AUTHGATE_TOKEN_TEST_EMPTY"}),
                   "environment variable AUTHGATE_TOKEN_TEST_EMPTY is empty");
    ::unsetenv("AUTHGATE_TOKEN_TEST_EMPTY");
    const std::string one_of = "give exactly one of --secret, --secret-file, --secret-env and --key";
    expect_refused(run({"--alg", "HS256", "--secret", "x", "--secret-file", ok.path()}), one_of);
    expect_refused(run({"--alg", "HS256", "--secret-file", ok.path(), "--secret-env", "HOME"}), one_of);
    expect_refused(run({"--alg", "HS256", "--secret-file", ok.path(), "--key", ok.path()}), one_of);
    expect_refused(run({"--alg", "HS256", "--secret-file"}), "--secret-file");  // no value
}

TEST(TokenCommand, ClaimsInCommandLineOrder) {
    auto r = run({"--alg", "HS256", "--secret", "0123456789abcdef0123456789abcdef", "--claim-json", "n=1", "--claim",
                  "n=two", "--claim", "m=3", "--claim-json", "m=[3]"});
    ASSERT_EQ(r.code, 0) << r.err;
    ParsedToken t;
    const std::string token = r.out.substr(0, r.out.find('\n'));
    ASSERT_EQ(parse_token(token, t), Status::ok);
    EXPECT_EQ(t.payload.at("n").as_string(), "two");
    EXPECT_TRUE(t.payload.at("m").is_array());
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
             {"--bogus"},
             {"--alg", "HS256", "--alg", "HS384", "--secret", "x"},
             {"--alg", "HS256", "--secret", "x", "stray"}}) {
        auto r = run(args);
        EXPECT_EQ(r.code, 2);
        EXPECT_TRUE(r.out.empty());
        EXPECT_FALSE(r.err.empty());
    }
}

}  // namespace
}  // namespace authgate::jwt
