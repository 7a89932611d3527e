// One home per rule: a config with one mistake gets exactly one message, at the mistake's
// FILE:LINE:COL, whether the loader or a compile step is the one that knows. Runs what
// `authgate --check` runs, up to the compile steps that report (CORS policies, JWT
// providers, route authenticators); the snapshot's own remaining checks need TLS files.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config_test_util.h"
#include "cors/policy.h"
#include "jwt/authenticator.h"

namespace authgate::config {
namespace {
using test::dump;
using test::kFile;

// A clean config (no message at all); each case replaces one line of it.
const std::string kBase = R"(upstreams:
  app:
    endpoints: [http://127.0.0.1:9000]
jwt:
  providers:
    corp:
      algorithms: [HS256]
      keys:
        secret: a-secret-that-is-long-enough-for-hs256!!
cors:
  policies:
    web:
      allow_origins: [https://app.example]
routes:
  - name: api
    match:
      path_prefix: /api/
    upstream: app
    cors: web
    auth:
      providers: [corp]
      claims:
        roles: [admin]
)";

struct Checked {
    Diagnostics diag;
    std::vector<std::string> messages;  // errors, then warnings
};

Checked check(const std::string& yaml) {
    Checked out;
    if (auto cfg = load_string(yaml, kFile, out.diag)) {
        for (const auto& policy : cfg->cors.policies) cors::Policy::create(policy, out.diag);
        auto providers = jwt::ProviderSet::create(cfg->jwt, out.diag);
        for (const auto& route : cfg->routes) {
            if (!route.auth.none) jwt::Authenticator::create(route.auth, *providers);
        }
    }
    out.messages = out.diag.errors();
    out.messages.insert(out.messages.end(), out.diag.warnings().begin(), out.diag.warnings().end());
    return out;
}

std::string with(const std::string& line, const std::string& replacement) {
    std::string yaml = kBase;
    const auto at = yaml.find(line);
    EXPECT_NE(at, std::string::npos) << line;
    if (at != std::string::npos) yaml.replace(at, line.size(), replacement);
    return yaml;
}

TEST(OneMessage, TheBaseConfigIsClean) {
    const auto c = check(kBase);
    EXPECT_TRUE(c.messages.empty()) << dump(c.messages);
}

TEST(OneMessage, EachMistakeIsReportedOnceAtItsPosition) {
    struct Case {
        std::string line, replacement;
        int at_line, at_col;
        std::string text;
        bool error = true;
    } cases[] = {
        {"algorithms: [HS256]", "algorithms: [HS256, none]", 7, 27, "alg none is never accepted"},
        {"algorithms: [HS256]", "algorithms: [HS256, HS257]", 7, 27, "unknown algorithm 'HS257'"},
        {"algorithms: [HS256]", "algorithms: []", 7, 19, "at least one algorithm is required"},
        {"        secret: a-secret-that-is-long-enough-for-hs256!!", "        jwks_url: ftp://issuer.example/jwks", 9,
         19, "invalid jwks_url 'ftp://issuer.example/jwks': must start with http:// or https://"},
        {"        secret: a-secret-that-is-long-enough-for-hs256!!",
         "        jwks_url: https://issuer.example/jwks\n        jwks_refresh: 0s", 10, 23,
         "jwks_refresh: must be greater than 0"},
        {"      keys:\n        secret: a-secret-that-is-long-enough-for-hs256!!", "      keys: {}", 8, 13,
         "at least one key source is required"},
        {"upstream: app", "upstream: ap", 18, 15, "unknown upstream 'ap'"},
        {"cors: web", "cors: webb", 19, 11, "unknown cors policy 'webb'"},
        {"providers: [corp]", "providers: [corpp]", 21, 19, "unknown jwt provider 'corpp'"},
        {"providers: [corp]", "providers: []", 21, 18, "at least one provider is required"},
        {"roles: [admin]", "roles: []", 23, 16, "at least one accepted value is required"},
        {"secret: a-secret-that-is-long-enough-for-hs256!!", "secret: short", 9, 17,
         "HMAC secret is shorter than 32 bytes", false},
        {"secret: a-secret-that-is-long-enough-for-hs256!!", "secret_base64: c2hvcnQ=", 9, 24,
         "HMAC secret is shorter than 32 bytes", false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.replacement);
        const auto checked = check(with(c.line, c.replacement));
        ASSERT_EQ(checked.messages.size(), 1u) << dump(checked.messages);
        const auto& bucket = c.error ? checked.diag.errors() : checked.diag.warnings();
        EXPECT_TRUE(test::has_message(bucket, kFile, c.at_line, c.at_col, c.text));
    }
}

}  // namespace
}  // namespace authgate::config
