// Which origins a policy allows, and exactly which headers it emits.
#include "cors/policy.h"

#include <gtest/gtest.h>

#include "cors/origin.h"
#include "cors/origin_cache.h"
#include "cors_test_util.h"

namespace authgate::cors {
namespace {

using test::actual_headers;
using test::bare_policy;
using test::compile;
using test::Headers;
using test::RecordingSink;

struct OriginCase {
    const char* origin;
    bool allowed;
};

void expect_origins(const Policy& policy, std::initializer_list<OriginCase> cases) {
    auto cache = make_origin_cache(16);
    for (const auto& c : cases) {
        EXPECT_EQ(policy.origin_allowed(c.origin, nullptr), c.allowed) << "no cache: " << c.origin;
        // Twice through the cache: the miss that fills it and the hit must agree.
        EXPECT_EQ(policy.origin_allowed(c.origin, cache.get()), c.allowed) << "cache miss: " << c.origin;
        EXPECT_EQ(policy.origin_allowed(c.origin, cache.get()), c.allowed) << "cache hit: " << c.origin;
    }
}

TEST(PolicyOrigins, ExactList) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://app.example.com", "HTTP://Localhost:3000", "https://secure.example.com:443"};
    const auto policy = compile(cfg);
    expect_origins(*policy, {
                                {"https://app.example.com", true},
                                {"HTTPS://APP.EXAMPLE.COM", true},  // scheme and host ignore case
                                {"http://localhost:3000", true},
                                {"https://secure.example.com", true},  // configured :443 is the default
                                {"http://app.example.com", false},     // scheme matters
                                {"https://app.example.com:8443", false},
                                {"https://app.example.com/", false},
                                {"https://app.example.com.evil.net", false},
                                {"https://evil.app.example.com", false},
                                {"https://app.example.co", false},
                                {"", false},
                                {"null", false},
                                {"https://app.example.com\r\n", false},
                            });
}

TEST(PolicyOrigins, RegexIsFullMatch) {
    auto cfg = bare_policy();
    cfg.allow_origin_regexes = {R"(^https://[a-z0-9-]+\.example\.com$)"};
    const auto policy = compile(cfg);
    expect_origins(*policy, {
                                {"https://a.example.com", true},
                                {"https://A.Example.com", true},  // lower-cased before matching
                                {"https://my-app.example.com", true},
                                {"https://evil-example.com", false},
                                {"https://a.example.com.evil.net", false},
                                {"https://example.com", false},
                                {"http://a.example.com", false},
                                {"https://a.b.example.com", false},
                                {"https://a.example.com:8443", false},
                                {"https://a.example.com/x", false},  // not an origin at all
                            });
}

TEST(PolicyOrigins, UnanchoredRegexIsStillFullMatch) {
    auto cfg = bare_policy();
    cfg.allow_origin_regexes = {R"(https://[a-z]+\.example\.com)"};
    const auto policy = compile(cfg);
    expect_origins(*policy, {
                                {"https://a.example.com", true},
                                {"https://a.example.com.evil.net", false},
                                {"https://evil.net?https://a.example.com", false},
                            });
}

TEST(PolicyOrigins, LongestOriginThroughRegex) {
    auto cfg = bare_policy();
    cfg.allow_origin_regexes = {R"(^https://.*\.example\.com$)"};
    const auto policy = compile(cfg);
    const std::string suffix = ".example.com";
    std::string longest = "https://" + std::string(kMaxOriginLength - 8 - suffix.size(), 'a') + suffix;
    ASSERT_EQ(longest.size(), kMaxOriginLength);
    EXPECT_TRUE(policy->origin_allowed(longest, nullptr));
    EXPECT_FALSE(policy->origin_allowed("a" + longest, nullptr));  // over the limit
}

TEST(PolicyOrigins, RegexesAndExactTogether) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://app.example.org"};
    cfg.allow_origin_regexes = {R"(https://[a-z]+\.one\.test)", R"(https://[a-z]+\.two\.test:\d+)"};
    const auto policy = compile(cfg);
    expect_origins(*policy, {
                                {"https://app.example.org", true},
                                {"https://x.one.test", true},
                                {"https://x.two.test:8080", true},
                                {"https://x.two.test", false},
                                {"https://x.three.test", false},
                            });
}

TEST(PolicyOrigins, NullOnlyWhenListedLiterally) {
    auto listed = bare_policy();
    listed.allow_origins = {"null"};
    expect_origins(*compile(listed), {{"null", true}, {"NULL", false}, {"https://a.com", false}});

    auto regex = bare_policy();
    regex.allow_origin_regexes = {".*"};
    expect_origins(*compile(regex), {{"null", false}, {"https://a.com", true}});

    auto all = bare_policy();
    all.allow_all_origins = true;
    expect_origins(*compile(all), {{"null", false}, {"https://a.com", true}});
}

TEST(PolicyOrigins, AllowAllStillRejectsWhatNoBrowserSends) {
    auto cfg = bare_policy();
    cfg.allow_all_origins = true;
    cfg.allow_credentials = true;  // reflected, so this is where it matters
    config::Diagnostics diag;
    const auto policy = Policy::create(cfg, diag);
    expect_origins(*policy, {
                                {"https://anything.example", true},
                                {"http://localhost:1234", true},
                                {"", false},
                                {"https://a.com/path", false},
                                {"https://a.com\r\nSet-Cookie: x=1", false},
                                {"javascript:alert(1)", false},
                            });
}

TEST(PolicyActual, AllowAllWithoutCredentialsAnswersStar) {
    auto cfg = bare_policy();
    cfg.allow_all_origins = true;
    cfg.expose_headers = {"X-Request-Id"};
    const auto policy = compile(cfg);
    EXPECT_TRUE(policy->wildcard());
    EXPECT_EQ(actual_headers(*policy, "https://anyone.example"),
              (Headers{{"Access-Control-Allow-Origin", "*"}, {"Access-Control-Expose-Headers", "X-Request-Id"}}));
    EXPECT_EQ(actual_headers(*policy, ""), Headers{});
}

TEST(PolicyActual, AllowAllWithCredentialsReflects) {
    auto cfg = bare_policy();
    cfg.allow_all_origins = true;
    cfg.allow_credentials = true;
    config::Diagnostics diag;
    const auto policy = Policy::create(cfg, diag);
    EXPECT_FALSE(policy->wildcard());
    EXPECT_EQ(actual_headers(*policy, "https://anyone.example"),
              (Headers{{"Access-Control-Allow-Origin", "https://anyone.example"},
                       {"Access-Control-Allow-Credentials", "true"}}));
}

TEST(PolicyActual, ExactHeaders) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://app.example.com"};
    cfg.expose_headers = {"X-Request-Id", "X-Trace"};
    cfg.allow_credentials = true;
    const auto policy = compile(cfg);
    EXPECT_FALSE(policy->wildcard());
    EXPECT_EQ(actual_headers(*policy, "https://app.example.com"),
              (Headers{{"Access-Control-Allow-Origin", "https://app.example.com"},
                       {"Access-Control-Allow-Credentials", "true"},
                       {"Access-Control-Expose-Headers", "X-Request-Id, X-Trace"}}));
    // The origin is reflected as sent: that is what the browser compares with.
    EXPECT_EQ(actual_headers(*policy, "HTTPS://App.Example.com").front().second, "HTTPS://App.Example.com");
}

TEST(PolicyActual, MinimalPolicyOnlyAllowOrigin) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://app.example.com"};
    EXPECT_EQ(actual_headers(*compile(cfg), "https://app.example.com"),
              (Headers{{"Access-Control-Allow-Origin", "https://app.example.com"}}));
}

TEST(PolicyActual, DisallowedOrAbsentOriginEmitsNothing) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://app.example.com"};
    cfg.expose_headers = {"X-Request-Id"};
    cfg.allow_credentials = true;
    const auto policy = compile(cfg);
    EXPECT_EQ(actual_headers(*policy, "https://evil.example"), Headers{});
    EXPECT_EQ(actual_headers(*policy, ""), Headers{});
    EXPECT_EQ(actual_headers(*policy, "null"), Headers{});
}

config::CorsPolicy spec_example() {
    // A browser-app policy as users write it: one exact origin, one subdomain regex,
    // credentials, an exposed header and a day of preflight caching.
    config::CorsPolicy cfg;
    cfg.name = "web";
    cfg.allow_origins = {"https://app.example.com"};
    cfg.allow_origin_regexes = {R"(^https://[a-z0-9-]+\.example\.com$)"};
    cfg.expose_headers = {"X-Request-Id"};
    cfg.allow_credentials = true;
    cfg.max_age = 86400;
    return cfg;
}

Headers preflight_headers(const Policy& p, std::string_view origin, std::string_view method = "PUT",
                          std::string_view headers = "content-type", bool private_network = false) {
    RecordingSink sink;
    p.preflight(origin, method, headers, private_network, nullptr, sink);
    return sink.headers;
}

TEST(PolicyPreflight, ExactHeadersForSpecExample) {
    const auto policy = compile(spec_example());
    const Headers expected{
        {"Access-Control-Allow-Origin", "https://b.example.com"},
        {"Access-Control-Allow-Credentials", "true"},
        {"Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS"},
        {"Access-Control-Allow-Headers", "accept, authorization, content-type, x-requested-with"},
        {"Access-Control-Max-Age", "86400"},
    };
    EXPECT_EQ(preflight_headers(*policy, "https://b.example.com"), expected);
}

TEST(PolicyPreflight, WildcardNoOptionalHeaders) {
    auto cfg = bare_policy();
    cfg.allow_all_origins = true;
    cfg.allow_methods = {"GET", "POST"};
    const auto policy = compile(cfg);
    EXPECT_EQ(preflight_headers(*policy, "https://x.test"),
              (Headers{{"Access-Control-Allow-Origin", "*"}, {"Access-Control-Allow-Methods", "GET, POST"}}));
}

TEST(PolicyPreflight, MaxAgeZeroIsSent) {
    auto cfg = bare_policy();
    cfg.allow_all_origins = true;
    cfg.max_age = 0;
    EXPECT_EQ(preflight_headers(*compile(cfg), "https://x.test"),
              (Headers{{"Access-Control-Allow-Origin", "*"}, {"Access-Control-Max-Age", "0"}}));
}

TEST(PolicyPreflight, DisallowedOriginEmitsNothing) {
    const auto policy = compile(spec_example());
    EXPECT_EQ(preflight_headers(*policy, "https://evil-example.com"), Headers{});
    EXPECT_EQ(preflight_headers(*policy, ""), Headers{});
    EXPECT_EQ(preflight_headers(*policy, "https://b.example.com", "PUT", "", true), preflight_headers(*policy, "https://b.example.com"))
        << "private network is not allowed by this policy";
}

TEST(PolicyPreflight, UnlistedMethodOrHeaderStillGetsConfiguredLists) {
    const auto policy = compile(spec_example());
    const auto asked_ok = preflight_headers(*policy, "https://app.example.com", "PUT", "content-type");
    EXPECT_EQ(preflight_headers(*policy, "https://app.example.com", "PROPFIND", "x-custom, content-type"), asked_ok);
    EXPECT_FALSE(policy->method_allowed("PROPFIND"));
    EXPECT_FALSE(policy->headers_allowed("x-custom, content-type"));
}

TEST(PolicyPreflight, PrivateNetwork) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://app.example.com"};
    cfg.allow_private_network = true;
    const auto policy = compile(cfg);
    const struct {
        const char* origin;
        bool requested;
        Headers expected;
    } cases[] = {
        {"https://app.example.com", true,
         {{"Access-Control-Allow-Origin", "https://app.example.com"}, {"Access-Control-Allow-Private-Network", "true"}}},
        {"https://app.example.com", false, {{"Access-Control-Allow-Origin", "https://app.example.com"}}},
        {"https://evil.example", true, {}},
    };
    for (const auto& c : cases) {
        RecordingSink sink;
        policy->preflight(c.origin, "GET", "", c.requested, nullptr, sink);
        EXPECT_EQ(sink.headers, c.expected) << c.origin << " requested=" << c.requested;
    }
}

TEST(PolicyMethods, CaseSensitiveRequestConfiguredUpperCased) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://app.example.com"};
    cfg.allow_methods = {"get", "Post", "patch", "PATCH", "PROPFIND"};
    const auto policy = compile(cfg);
    const struct {
        const char* method;
        bool allowed;
    } cases[] = {
        {"GET", true}, {"POST", true}, {"PATCH", true}, {"PROPFIND", true},
        {"get", false},  // browsers normalise GET; a lower-case one is another method
        {"patch", false}, {"DELETE", false}, {"", false}, {"GE T", false},
    };
    for (const auto& c : cases) EXPECT_EQ(policy->method_allowed(c.method), c.allowed) << c.method;
    EXPECT_EQ(preflight_headers(*policy, "https://app.example.com")[1],
              (std::pair<std::string, std::string>{"Access-Control-Allow-Methods", "GET, POST, PATCH, PROPFIND"}));
}

TEST(PolicyMethods, StarWithoutCredentialsAllowsAny) {
    auto cfg = bare_policy();
    cfg.allow_all_origins = true;
    cfg.allow_methods = {"*"};
    const auto policy = compile(cfg);
    EXPECT_TRUE(policy->method_allowed("PROPFIND"));
    EXPECT_FALSE(policy->method_allowed("BAD METHOD"));
}

TEST(PolicyHeaders, CaseInsensitiveCommaList) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://app.example.com"};
    cfg.allow_headers = {"Content-Type", "authorization", "X-Requested-With"};
    const auto policy = compile(cfg);
    const struct {
        const char* request;
        bool allowed;
    } cases[] = {
        {"", true},
        {"content-type", true},
        {"CONTENT-TYPE", true},
        {"content-type,authorization", true},
        {"  content-type ,\tAuthorization\t, x-requested-with  ", true},
        {"content-type,,authorization,", true},
        {"content-type, x-custom", false},
        {"x-custom", false},
        {"content-typ", false},
        {"content-type-x", false},
    };
    for (const auto& c : cases) EXPECT_EQ(policy->headers_allowed(c.request), c.allowed) << c.request;
    // Emitted as configured.
    EXPECT_EQ(preflight_headers(*policy, "https://app.example.com")[1].second,
              "Content-Type, authorization, X-Requested-With");
}

TEST(PolicyHeaders, StarWithoutCredentialsExceptAuthorization) {
    auto cfg = bare_policy();
    cfg.allow_all_origins = true;
    cfg.allow_headers = {"*"};
    const auto star = compile(cfg);
    EXPECT_TRUE(star->headers_allowed("x-anything, content-type"));
    EXPECT_FALSE(star->headers_allowed("authorization"));

    cfg.allow_headers = {"*", "Authorization"};
    EXPECT_TRUE(compile(cfg)->headers_allowed("x-anything, authorization"));
}

TEST(PolicyIdentity, NameAndUniqueIds) {
    const auto a = compile(spec_example());
    const auto b = compile(spec_example());
    EXPECT_EQ(a->name(), "web");
    EXPECT_NE(a->id(), b->id());
}

TEST(IsPreflight, NeedsOptionsOriginAndRequestMethod) {
    EXPECT_TRUE(is_preflight("OPTIONS", true, true));
    EXPECT_FALSE(is_preflight("OPTIONS", false, true));
    EXPECT_FALSE(is_preflight("OPTIONS", true, false));
    EXPECT_FALSE(is_preflight("GET", true, true));
    EXPECT_FALSE(is_preflight("options", true, true));
}

}  // namespace
}  // namespace authgate::cors
