// Config validation in Policy::create: every error and warning, at the position of the
// offending value ("FILE:LINE:COL: message").
#include <gtest/gtest.h>

#include "cors/policy.h"
#include "cors_test_util.h"

namespace authgate::cors {
namespace {

using test::bare_policy;
using test::mark;
using test::has_substr;
using test::starts_with;

struct OriginErrorCase {
    const char* origin;
    const char* message;  // expected substring
};

class BadOriginTest : public ::testing::TestWithParam<OriginErrorCase> {};

TEST_P(BadOriginTest, IsAnErrorAtItsPosition) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://ok.example.com", GetParam().origin};
    mark(cfg, "allow_origins", 0, 7, 9);
    mark(cfg, "allow_origins", 1, 8, 9);
    config::Diagnostics diag;
    const auto policy = Policy::create(cfg, diag);
    ASSERT_EQ(diag.errors().size(), 1u);
    EXPECT_TRUE(starts_with(diag.errors()[0], "cfg.yaml:8:9: invalid origin \"" + std::string(GetParam().origin) + "\""));
    EXPECT_TRUE(has_substr(diag.errors()[0], GetParam().message));
    // The policy is still usable, without the bad entry.
    ASSERT_NE(policy, nullptr);
    EXPECT_TRUE(policy->origin_allowed("https://ok.example.com", nullptr));
}

INSTANTIATE_TEST_SUITE_P(
    Origins, BadOriginTest,
    ::testing::Values(
        OriginErrorCase{"https://app.example.com/", "(did you mean \"https://app.example.com\"?)"},
        OriginErrorCase{"https://app.example.com/login", "no path"},
        OriginErrorCase{"HTTPS://App.example.com:443/", "did you mean \"https://app.example.com\"?"},
        OriginErrorCase{"https://*.example.com",
                        R"(use allow_origin_regexes, e.g. '^https://[a-z0-9-]+\.example\.com$')"},
        OriginErrorCase{"*", "missing scheme"},
        OriginErrorCase{"app.example.com", "missing scheme"},
        OriginErrorCase{"https://app.example.com:99999", "invalid port"},
        OriginErrorCase{"https://app.example.com:", "invalid port"},
        OriginErrorCase{"https://app.example.com:http", "invalid port"},
        OriginErrorCase{"https://user:pw@app.example.com", "user info"},
        OriginErrorCase{"https://", "missing host"},
        OriginErrorCase{"https://app example.com", "invalid host"},
        OriginErrorCase{"", "empty origin"},
        OriginErrorCase{"Null", "missing scheme"}));

TEST(PolicyConfig, NullIsAcceptedLiterally) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"null"};
    config::Diagnostics diag;
    Policy::create(cfg, diag);
    EXPECT_TRUE(diag.ok());
    EXPECT_TRUE(diag.warnings().empty());
}

TEST(PolicyConfig, InvalidRegexNamesTheError) {
    auto cfg = bare_policy();
    cfg.allow_origin_regexes = {R"(^https://[a-z]+\.ok\.com$)", "^https://[a-z+\\.example\\.com$", "(unclosed"};
    mark(cfg, "allow_origin_regexes", 0, 12, 7);
    mark(cfg, "allow_origin_regexes", 1, 13, 7);
    mark(cfg, "allow_origin_regexes", 2, 14, 7);
    config::Diagnostics diag;
    const auto policy = Policy::create(cfg, diag);
    ASSERT_EQ(diag.errors().size(), 2u);
    EXPECT_TRUE(starts_with(diag.errors()[0], "cfg.yaml:13:7: invalid regex '^https://[a-z+\\.example\\.com$': "));
    EXPECT_TRUE(has_substr(diag.errors()[0], "(error_brack)"));
    EXPECT_TRUE(starts_with(diag.errors()[1], "cfg.yaml:14:7: invalid regex '(unclosed': "));
    EXPECT_TRUE(has_substr(diag.errors()[1], "(error_paren)"));
    EXPECT_TRUE(policy->origin_allowed("https://a.ok.com", nullptr));
}

TEST(PolicyConfig, UpperCaseRegexWarns) {
    auto cfg = bare_policy();
    cfg.allow_origin_regexes = {R"(^https://App\.example\.com$)", R"(^https://\w+\.example\.com:\d+\x41?$)"};
    mark(cfg, "allow_origin_regexes", 0, 3, 4);
    mark(cfg, "allow_origin_regexes", 1, 4, 4);
    config::Diagnostics diag;
    Policy::create(cfg, diag);
    EXPECT_TRUE(diag.ok());
    ASSERT_EQ(diag.warnings().size(), 1u);  // escapes such as \x41 are not literal letters
    EXPECT_TRUE(starts_with(diag.warnings()[0], "cfg.yaml:3:4: regex '^https://App\\.example\\.com$' has upper-case"));
}

// Patterns carried over from django-cors-headers (Python re) may anchor with \A and \Z.
TEST(PolicyConfig, PythonAnchorWarns) {
    auto cfg = bare_policy();
    cfg.allow_origin_regexes = {R"(\Ahttps://[a-z]+\.example\.com\Z)", R"(^https://[\Aa-z]+\.example\.com$)"};
    mark(cfg, "allow_origin_regexes", 0, 3, 4);
    mark(cfg, "allow_origin_regexes", 1, 4, 4);
    config::Diagnostics diag;
    auto policy = Policy::create(cfg, diag);
    EXPECT_TRUE(diag.ok());
    ASSERT_EQ(diag.warnings().size(), 1u);  // inside brackets \A is a class member, not an anchor
    EXPECT_TRUE(starts_with(diag.warnings()[0], "cfg.yaml:3:4: regex '\\Ahttps://[a-z]+\\.example\\.com\\Z' uses \\A, "
                                                "a Python anchor"))
        << diag.warnings()[0];
    EXPECT_TRUE(policy->origin_allowed("https://app.example.com", nullptr));  // by the second pattern

    cfg.allow_origin_regexes.resize(1);
    config::Diagnostics alone;
    auto first_only = Policy::create(cfg, alone);
    EXPECT_FALSE(first_only->origin_allowed("https://app.example.com", nullptr));  // why it warns
}

TEST(PolicyConfig, NestedQuantifierWarns) {
    const struct {
        const char* pattern;
        bool warns;
    } cases[] = {
        {R"(^https://([a-z0-9-]+\.)*example\.com$)", true},
        {R"(^https://(a+)+$)", true},
        {R"(^https://((ab)*c)+$)", true},
        {R"(^https://(x|y{2})*$)", true},
        {R"(^https://[a-z0-9-]+\.example\.com$)", false},
        {R"(^https://(app|admin)\.example\.com(:[0-9]+)?$)", false},
        {R"(^https://[(+]*\.example\.com$)", false},  // inside a bracket expression
        {R"(^https://\(a+\)+$)", false},              // escaped parentheses
    };
    for (const auto& c : cases) {
        auto cfg = bare_policy();
        cfg.allow_origin_regexes = {c.pattern};
        mark(cfg, "allow_origin_regexes", 0, 6, 8);
        config::Diagnostics diag;
        Policy::create(cfg, diag);
        EXPECT_TRUE(diag.ok()) << c.pattern;
        ASSERT_EQ(diag.warnings().size(), c.warns ? 1u : 0u) << c.pattern;
        if (c.warns) {
            EXPECT_TRUE(starts_with(diag.warnings()[0], "cfg.yaml:6:8: regex '" + std::string(c.pattern) +
                                                            "' has a repeated group that itself repeats"));
        }
    }
}

TEST(PolicyConfig, AllowAllWithCredentialsIsALoudWarning) {
    auto cfg = bare_policy();
    cfg.allow_all_origins = true;
    cfg.allow_credentials = true;
    cfg.marks.keys["allow_all_origins"] = {"cfg.yaml", 21, 26};
    config::Diagnostics diag;
    Policy::create(cfg, diag);
    EXPECT_TRUE(diag.ok());
    ASSERT_EQ(diag.warnings().size(), 1u);
    EXPECT_TRUE(starts_with(diag.warnings()[0], "cfg.yaml:21:26: cors policy \"web\": allow_all_origins with "
                                               "allow_credentials reflects ANY origin with credentials"));
}

TEST(PolicyConfig, AllowAllMakesListsRedundant) {
    auto cfg = bare_policy();
    cfg.allow_all_origins = true;
    cfg.allow_origins = {"https://a.example.com"};
    cfg.marks.keys["allow_all_origins"] = {"cfg.yaml", 21, 26};
    config::Diagnostics diag;
    Policy::create(cfg, diag);
    ASSERT_EQ(diag.warnings().size(), 1u);
    EXPECT_TRUE(starts_with(diag.warnings()[0], "cfg.yaml:21:26: cors policy \"web\": allow_all_origins makes"));
}

TEST(PolicyConfig, PolicyAllowingNothingWarnsAtThePolicy) {
    config::Diagnostics diag;
    Policy::create(bare_policy(), diag);
    EXPECT_TRUE(diag.ok());
    ASSERT_EQ(diag.warnings().size(), 1u);
    EXPECT_EQ(diag.warnings()[0], "cfg.yaml:10:5: cors policy \"web\" allows no origin");
}

TEST(PolicyConfig, DuplicateOriginWarns) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://a.example.com", "HTTPS://A.example.com:443"};
    mark(cfg, "allow_origins", 1, 5, 3);
    config::Diagnostics diag;
    Policy::create(cfg, diag);
    EXPECT_TRUE(diag.ok());
    ASSERT_EQ(diag.warnings().size(), 1u);
    EXPECT_EQ(diag.warnings()[0], "cfg.yaml:5:3: duplicate origin \"HTTPS://A.example.com:443\"");
}

TEST(PolicyConfig, MethodsAndHeadersMustBeTokens) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://a.example.com"};
    cfg.allow_methods = {"GET", "GE T", "", "POST\r\n"};
    cfg.allow_headers = {"content-type", "x:bad"};
    cfg.expose_headers = {"X-Request-Id", "X Bad"};
    mark(cfg, "allow_methods", 1, 30, 15);
    mark(cfg, "allow_methods", 2, 30, 22);
    mark(cfg, "allow_methods", 3, 30, 26);
    mark(cfg, "allow_headers", 1, 31, 31);
    mark(cfg, "expose_headers", 1, 32, 33);
    config::Diagnostics diag;
    const auto policy = Policy::create(cfg, diag);
    const std::vector<std::string> expected{
        "cfg.yaml:30:15: invalid method \"GE T\": not an HTTP token",
        "cfg.yaml:30:22: invalid method \"\": not an HTTP token",
        "cfg.yaml:30:26: invalid method \"POST\r\n\": not an HTTP token",
        "cfg.yaml:31:31: invalid header name \"x:bad\" in allow_headers: not an HTTP token",
        "cfg.yaml:32:33: invalid header name \"X Bad\" in expose_headers: not an HTTP token",
    };
    EXPECT_EQ(diag.errors(), expected);
    // Bad entries are left out of the emitted values.
    test::RecordingSink sink;
    policy->preflight("https://a.example.com", "GET", "", false, nullptr, sink);
    EXPECT_EQ(sink.headers[1].second, "GET");
    EXPECT_EQ(sink.headers[2].second, "content-type");
}

TEST(PolicyConfig, StarWithCredentialsWarns) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://a.example.com"};
    cfg.allow_credentials = true;
    cfg.allow_methods = {"*"};
    cfg.allow_headers = {"*"};
    mark(cfg, "allow_methods", 0, 40, 1);
    mark(cfg, "allow_headers", 0, 41, 1);
    config::Diagnostics diag;
    const auto policy = Policy::create(cfg, diag);
    EXPECT_TRUE(diag.ok());
    ASSERT_EQ(diag.warnings().size(), 2u);
    EXPECT_TRUE(starts_with(diag.warnings()[0], "cfg.yaml:40:1: with allow_credentials browsers read \"*\""));
    EXPECT_TRUE(starts_with(diag.warnings()[1], "cfg.yaml:41:1: with allow_credentials browsers read \"*\""));
    EXPECT_FALSE(policy->method_allowed("PROPFIND"));
    EXPECT_FALSE(policy->headers_allowed("x-custom"));
}

TEST(PolicyConfig, MissingMarkFallsBackToThePolicy) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://a.example.com/"};
    config::Diagnostics diag;
    Policy::create(cfg, diag);
    ASSERT_EQ(diag.errors().size(), 1u);
    EXPECT_TRUE(starts_with(diag.errors()[0], "cfg.yaml:10:5: "));
}

}  // namespace
}  // namespace authgate::cors
