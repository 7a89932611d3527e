// routes: matching rules, rewrite, auth, references to upstreams / cors policies / jwt
// providers, and the warnings about routes that cannot behave as written.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"

namespace authgate::config {
namespace {

using test::has_error;
using test::has_warning;
using test::loaded_ok;

// 12 lines; the routes given to load_routes() start on line 13.
constexpr const char* kBase = R"(upstreams:
  app:
    endpoints: [http://127.0.0.1:9000]
jwt:
  providers:
    corp:
      algorithms: [HS256]
      keys: {secret: 0123456789abcdef0123456789abcdef}
cors:
  policies:
    web: {allow_origins: [https://app.example.com]}
routes:
)";

test::Loaded load_routes(const std::string& routes) { return test::load(std::string(kBase) + routes); }

TEST(Routes, MatchRewriteAndAuth) {
    auto l = load_routes(R"(  - name: public
    match:
      path_prefix: /api/public/
      methods: [get, Post]
      host: API.Example.com:8443
    upstream: app
    cors: web
    auth: none
  - name: api
    match: {path: /api/orders}
    upstream: app
    rewrite: {strip_prefix: /api}
    auth:
      providers: [corp]
      mode: report_only
      claims:
        roles: [admin, ops]
        scope: orders:read
  - name: fallback
    upstream: app
)");
    ASSERT_TRUE(loaded_ok(l));
    ASSERT_EQ(l.cfg->routes.size(), 3u);

    const Route& pub = l.cfg->routes[0];
    EXPECT_EQ(pub.name, "public");
    EXPECT_EQ(pub.match.path_prefix, "/api/public/");
    EXPECT_EQ(pub.match.path, "");
    EXPECT_EQ(pub.match.methods, (std::vector<std::string>{"GET", "POST"}));
    EXPECT_EQ(pub.match.host, "api.example.com");
    EXPECT_EQ(pub.upstream, "app");
    EXPECT_EQ(pub.cors, "web");
    EXPECT_TRUE(pub.auth.none);
    EXPECT_EQ(pub.marks.self.line, 13);
    EXPECT_EQ(pub.marks.at("upstream").line, 18);
    EXPECT_EQ(pub.marks.at("match.host").col, 13);

    const Route& api = l.cfg->routes[1];
    EXPECT_EQ(api.match.path, "/api/orders");
    EXPECT_EQ(api.strip_prefix, "/api");
    EXPECT_FALSE(api.auth.none);
    EXPECT_EQ(api.auth.providers, std::vector<std::string>{"corp"});
    EXPECT_EQ(api.auth.mode, RouteAuth::Mode::report_only);
    using Rules = std::vector<std::pair<std::string, std::vector<std::string>>>;
    EXPECT_EQ(api.auth.claims, (Rules{{"roles", {"admin", "ops"}}, {"scope", {"orders:read"}}}));
    EXPECT_EQ(api.auth.marks.self.line, 26);
    EXPECT_EQ(api.auth.marks.at("providers[0]").col, 19);
    EXPECT_EQ(api.auth.marks.at("claims.roles").line, 29);

    const Route& fallback = l.cfg->routes[2];
    EXPECT_TRUE(fallback.auth.none);  // absent auth = none
    EXPECT_EQ(fallback.cors, "");
    EXPECT_TRUE(l.diag.warnings().empty()) << test::dump(l.diag.warnings());
}

TEST(Routes, DefaultModeIsRequired) {
    auto l = load_routes("  - name: r\n    upstream: app\n    auth: {providers: corp}\n");
    EXPECT_TRUE(has_error(l, 15, 23, "routes[0].auth.providers: expected a list, got 'corp'"));
    auto ok = load_routes("  - name: r\n    upstream: app\n    auth: {providers: [corp]}\n");
    ASSERT_TRUE(loaded_ok(ok));
    EXPECT_EQ(ok.cfg->routes[0].auth.mode, RouteAuth::Mode::required);
}

TEST(Routes, ErrorsPointAtTheOffendingValue) {
    auto l = load_routes(R"(  - match: {path_prefix: api/}
    upstream: ap
  - name: dup
    upstream: missing
    cors: webb
    rewrite: {strip_prefix: api}
    auth:
      providers: [corp, corpp]
      mode: mandatory
  - name: dup
    upstream: app
    auth: yes
  - name: empty-auth
    upstream: app
    auth:
  - name: no-providers
    upstream: app
    auth: {mode: optional}
  - name: bad-match
    upstream: app
    match: {path: /a, path_prefix: /b, methods: ["GET POST"], host: "bad host", pth: /x}
    auth:
      providers: []
      claims: {roles: [], scope: , x: {a: b}}
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 20u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 13, 5, "routes[0]: missing required key 'name'"));
    EXPECT_TRUE(has_error(l, 13, 26, "routes[0].match.path_prefix: must start with '/', got 'api/'"));
    EXPECT_TRUE(has_error(l, 14, 15, "routes[0].upstream: unknown upstream 'ap'; did you mean 'app'?"));
    EXPECT_TRUE(has_error(l, 16, 15, "routes[1].upstream: unknown upstream 'missing' (defined: app)"));
    EXPECT_TRUE(has_error(l, 17, 11, "routes[1].cors: unknown cors policy 'webb'; did you mean 'web'?"));
    EXPECT_TRUE(has_error(l, 18, 29, "routes[1].rewrite.strip_prefix: must start with '/', got 'api'"));
    EXPECT_TRUE(has_error(l, 20, 25, "routes[1].auth.providers[1]: unknown jwt provider 'corpp'; did you mean 'corp'?"));
    EXPECT_TRUE(has_error(l, 21, 13, "routes[1].auth.mode: invalid value 'mandatory'"));
    EXPECT_TRUE(has_error(l, 22, 11, "routes[2].name: duplicate route name 'dup' (first defined at line 15)"));
    EXPECT_TRUE(has_error(l, 24, 11, "routes[2].auth: expected 'none' or a mapping with providers, got 'yes'"));
    EXPECT_TRUE(has_error(l, 27, 5, "routes[3].auth: expected 'none' or a mapping with providers, got nothing"));
    EXPECT_TRUE(has_error(l, 30, 5, "routes[4].auth: missing required key 'providers'"));
    EXPECT_TRUE(has_error(l, 33, 36, "routes[5].match.path_prefix: use either path (exact) or path_prefix, not both"));
    EXPECT_TRUE(has_error(l, 33, 50, "routes[5].match.methods[0]: invalid method 'GET POST'"));
    EXPECT_TRUE(has_error(l, 33, 69,
                          "routes[5].match.host: invalid host 'bad host': a host may contain only letters, digits"));
    EXPECT_TRUE(has_error(l, 33, 81, "unknown key 'pth' in routes[5].match; did you mean 'path'?"));
    EXPECT_TRUE(has_error(l, 35, 18, "routes[5].auth.providers: at least one provider is required"));
    EXPECT_TRUE(has_error(l, 36, 23, "routes[5].auth.claims.roles: at least one accepted value is required"));
    EXPECT_TRUE(has_error(l, 36, 27, "routes[5].auth.claims.scope: expected a string or a list, got nothing"));
    EXPECT_TRUE(has_error(l, 36, 39, "routes[5].auth.claims.x: expected a string or a list, got a mapping"));
}

TEST(Routes, EmptyClaimValueIsAnError) {
    auto l = load_routes("  - name: r\n    upstream: app\n    auth:\n      providers: [corp]\n      claims:\n        scope:\n");
    EXPECT_TRUE(has_error(l, 18, 9, "routes[0].auth.claims.scope: expected a string or a list, got nothing"));
}

TEST(Routes, ReferencesWithNothingDefined) {
    auto l = test::load(R"(routes:
  - name: r
    upstream: app
    cors: web
    auth: {providers: [corp]}
)");
    EXPECT_TRUE(has_error(l, 3, 15, "unknown upstream 'app' (none are defined)"));
    EXPECT_TRUE(has_error(l, 4, 11, "unknown cors policy 'web' (none are defined)"));
    EXPECT_TRUE(has_error(l, 5, 24, "unknown jwt provider 'corp' (none are defined)"));
}

TEST(Routes, UpstreamIsRequired) {
    auto l = load_routes("  - name: r\n");
    EXPECT_TRUE(has_error(l, 13, 5, "routes[0]: missing required key 'upstream'"));
}

TEST(Routes, MustBeAListOfMappings) {
    EXPECT_TRUE(has_error(load_routes("  r: {upstream: app}\n"), 13, 3, "routes: expected a list, got a mapping"));
    EXPECT_TRUE(has_error(load_routes("  - app\n"), 13, 5, "routes[0]: expected a mapping, got 'app'"));
}

TEST(Routes, Warnings) {
    auto empty = load_routes("  []\n");
    ASSERT_TRUE(loaded_ok(empty));
    EXPECT_TRUE(has_warning(empty, 12, 1, "no routes defined: every request will get 404"));

    auto l = load_routes(R"(  - name: v1
    match: {path_prefix: /v1/}
    upstream: app
    rewrite: {strip_prefix: /api}
  - name: all
    match: {path_prefix: /}
    upstream: app
  - name: never
    match: {path: /x}
    upstream: app
)");
    ASSERT_TRUE(loaded_ok(l));
    ASSERT_EQ(l.diag.warnings().size(), 2u) << test::dump(l.diag.warnings());
    EXPECT_TRUE(has_warning(l, 16, 29, "strip_prefix '/api' is not a prefix of '/v1/'"));
    EXPECT_TRUE(has_warning(l, 20, 5, "route 'never' is unreachable: route 'all' before it matches every request"));
}

}  // namespace
}  // namespace authgate::config
