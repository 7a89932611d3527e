// jwt and cors sections: providers, key sources, token sources, claim forwarding,
// policies, and the marks that jwt/ and cors/ use to point at their own errors.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"

namespace authgate::config {
namespace {

using namespace std::chrono_literals;
using test::has_error;
using test::has_warning;
using test::load;
using test::loaded_ok;
using test::ScopedEnv;

TEST(Jwt, FullProvider) {
    ScopedEnv secret("AG_TEST_SECRET", "0123456789abcdef0123456789abcdef");
    auto l = load(R"(jwt:
  providers:
    corp:
      issuer: https://auth.example.com
      audiences: orders-api
      algorithms: [RS256, ES256, EdDSA]
      keys:
        secret: ${AG_TEST_SECRET}
        public_key_file: keys/public.pem
        jwks_file: ../shared/jwks.json
        jwks_url: https://auth.example.com/jwks.json
        jwks_refresh: 10m
      leeway: 30s
      required_claims: [exp, sub]
      max_lifetime: 24h
      token_from:
        - header: Authorization
          prefix: "Bearer "
        - cookie: access_token
        - query: token
        - header: X-Token
      forward_claims:
        sub: X-User-Id
        username: X-User-Name
        roles: X-User-Roles
        realm_access.roles: X-Realm-Roles
      forward_payload_header: X-Jwt-Payload
      strip_token: true
    other:
      issuer: [https://a.example, https://b.example]
      algorithms: [HS256]
      keys: {secret_base64: c2VjcmV0}
  cache:
    max_entries: 0
)");
    ASSERT_TRUE(loaded_ok(l));
    const Jwt& jwt = l.cfg->jwt;
    EXPECT_EQ(jwt.cache_max_entries, 0u);
    ASSERT_EQ(jwt.providers.size(), 2u);

    const JwtProvider& p = jwt.providers[0];
    EXPECT_EQ(p.name, "corp");
    EXPECT_EQ(p.issuers, std::vector<std::string>{"https://auth.example.com"});
    EXPECT_EQ(p.audiences, std::vector<std::string>{"orders-api"});
    EXPECT_EQ(p.algorithms, (std::vector<std::string>{"RS256", "ES256", "EdDSA"}));
    EXPECT_EQ(p.keys.secret, "0123456789abcdef0123456789abcdef");
    EXPECT_FALSE(p.keys.secret_base64);
    // Resolved against the config's folder, not checked for existence (jwt/ does that).
    EXPECT_EQ(p.keys.public_key_file, "/etc/authgate/keys/public.pem");
    EXPECT_EQ(p.keys.jwks_file, "/etc/shared/jwks.json");
    EXPECT_EQ(p.keys.jwks_url, "https://auth.example.com/jwks.json");
    EXPECT_EQ(p.keys.jwks_refresh, Duration(10min));
    EXPECT_EQ(p.leeway, Duration(30s));
    EXPECT_EQ(p.required_claims, (std::vector<std::string>{"exp", "sub"}));
    EXPECT_EQ(p.max_lifetime, Duration(24h));
    ASSERT_EQ(p.token_from.size(), 4u);
    EXPECT_EQ(p.token_from[0].kind, TokenSource::Kind::header);
    EXPECT_EQ(p.token_from[0].name, "Authorization");
    EXPECT_EQ(p.token_from[0].prefix, "Bearer ");
    EXPECT_EQ(p.token_from[1].kind, TokenSource::Kind::cookie);
    EXPECT_EQ(p.token_from[1].name, "access_token");
    EXPECT_EQ(p.token_from[2].kind, TokenSource::Kind::query);
    EXPECT_EQ(p.token_from[2].name, "token");
    EXPECT_EQ(p.token_from[3].name, "X-Token");
    EXPECT_EQ(p.token_from[3].prefix, "");
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(p.forward_claims, (Pairs{{"sub", "X-User-Id"},
                                       {"username", "X-User-Name"},
                                       {"roles", "X-User-Roles"},
                                       {"realm_access.roles", "X-Realm-Roles"}}));
    EXPECT_EQ(p.forward_payload_header, "X-Jwt-Payload");
    EXPECT_TRUE(p.strip_token);

    // Marks jwt/ uses for its own messages.
    EXPECT_EQ(p.marks.self.line, 4);
    EXPECT_EQ(p.marks.at("algorithms[2]").line, 6);
    EXPECT_EQ(p.marks.at("algorithms[2]").col, 34);
    EXPECT_EQ(p.marks.at("forward_claims.roles").line, 25);
    EXPECT_EQ(p.keys.marks.self.line, 8);
    EXPECT_EQ(p.keys.marks.at("public_key_file").line, 9);
    EXPECT_EQ(p.keys.marks.at("public_key_file").col, 26);
    EXPECT_EQ(p.keys.marks.at("jwks_url").file, test::kFile);

    const JwtProvider& other = jwt.providers[1];
    EXPECT_EQ(other.issuers, (std::vector<std::string>{"https://a.example", "https://b.example"}));
    EXPECT_TRUE(other.audiences.empty());
    EXPECT_EQ(other.keys.secret_base64, "c2VjcmV0");
    EXPECT_TRUE(other.token_from.empty());
    EXPECT_EQ(other.leeway, Duration(0));
    EXPECT_FALSE(other.max_lifetime);
}

TEST(Jwt, AlgorithmErrors) {
    auto l = load(R"(jwt:
  providers:
    corp:
      algorithms: [RS256, none, HS257, NONE]
      keys: {}
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 4u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 4, 27, "jwt.providers.corp.algorithms[1]: alg none is never accepted"));
    EXPECT_TRUE(has_error(l, 4, 33, "unknown algorithm 'HS257' (expected one of HS256, HS384"));
    EXPECT_TRUE(has_error(l, 4, 33, "; did you mean 'HS256'?"));
    EXPECT_TRUE(has_error(l, 4, 40, "alg none is never accepted"));
    EXPECT_TRUE(has_error(l, 5, 13, "jwt.providers.corp.keys: at least one key source is required"));
}

TEST(Jwt, TypesAllowList) {
    auto l = load(R"(jwt:
  providers:
    listed:
      algorithms: [HS256]
      types: [at+jwt, "", application/JWT]
      keys: {secret: 0123456789abcdef0123456789abcdef}
    single:
      algorithms: [HS256]
      types: at+jwt
      keys: {secret: 0123456789abcdef0123456789abcdef}
    unset:
      algorithms: [HS256]
      keys: {secret: 0123456789abcdef0123456789abcdef}
)");
    ASSERT_TRUE(loaded_ok(l));
    const auto& p = l.cfg->jwt.providers;
    EXPECT_EQ(p[0].types, (std::vector<std::string>{"at+jwt", "", "application/JWT"}));
    EXPECT_EQ(p[1].types, (std::vector<std::string>{"at+jwt"}));
    EXPECT_FALSE(p[2].types);
}

TEST(Jwt, TypesErrors) {
    auto l = load(R"(jwt:
  providers:
    empty:
      algorithms: [HS256]
      types: []
      keys: {secret: 0123456789abcdef0123456789abcdef}
    odd:
      algorithms: [HS256]
      types: ["at jwt", [x]]
      keys: {secret: 0123456789abcdef0123456789abcdef}
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 3u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 5, 14, "jwt.providers.empty.types: an empty types list admits no token; list \"\""));
    EXPECT_TRUE(has_error(l, 9, 15, "'at jwt' is not a JOSE typ"));
    EXPECT_TRUE(has_error(l, 9, 25, "jwt.providers.odd.types[1]"));
}

TEST(Jwt, AlgorithmsAndKeysAreRequired) {
    auto l = load("jwt:\n  providers:\n    corp:\n      leeway: 5s\n    empty:\n      algorithms: []\n      keys:\n");
    EXPECT_TRUE(has_error(l, 3, 5, "jwt.providers.corp: missing required key 'algorithms'"));
    EXPECT_TRUE(has_error(l, 3, 5, "jwt.providers.corp: missing required key 'keys'"));
    EXPECT_TRUE(has_error(l, 6, 19, "jwt.providers.empty.algorithms: at least one algorithm is required"));
    EXPECT_TRUE(has_error(l, 7, 7, "jwt.providers.empty.keys: at least one key source is required"));
}

TEST(Jwt, KeyErrorsAndWarnings) {
    auto l = load(R"(jwt:
  providers:
    corp:
      algorithms: [RS256]
      keys:
        secret: ""
        jwks_url: ftp://auth.example.com/jwks
        jwks_refresh: 0s
        jwks_uri: https://x
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 4u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 6, 17, "jwt.providers.corp.keys.secret: must not be empty"));
    EXPECT_TRUE(has_error(l, 7, 19, "jwt.providers.corp.keys.jwks_url: invalid jwks_url 'ftp://auth.example.com/jwks': must start with http:// or https://"));
    EXPECT_TRUE(has_error(l, 8, 23, "jwt.providers.corp.keys.jwks_refresh: must be greater than 0"));
    EXPECT_TRUE(has_error(l, 9, 9, "unknown key 'jwks_uri' in jwt.providers.corp.keys; did you mean 'jwks_url'?"));

    auto w = load(R"(jwt:
  providers:
    corp:
      algorithms: [HS256]
      keys:
        secret: short
        jwks_url: http://auth.internal/jwks
)");
    ASSERT_TRUE(loaded_ok(w));
    EXPECT_TRUE(has_warning(w, 7, 19, "plain http"));
    // The short secret is the compile step's to report (one_message_test.cpp).
    for (const auto& m : w.diag.warnings()) EXPECT_EQ(m.find("HMAC"), std::string::npos) << m;
}

// Parsed with the fetcher's own function: what --check accepts is what gets fetched.
TEST(Jwt, MalformedJwksUrls) {
    const std::pair<std::string, std::string> cases[] = {
        {"https://", "missing host"},
        {"https://host:99999/x", "invalid port '99999' (expected 1-65535)"},
        {"https://user@host/", "must not contain user info"},
        {"https://[::1/x", "missing ']' after IPv6 address"},
        {"ftp://x", "must start with http:// or https://"},
        {"https://issuer.example/jwks set", "spaces and control characters must be percent-encoded"},
    };
    for (const auto& [url, why] : cases) {
        SCOPED_TRACE(url);
        auto l = load("jwt:\n  providers:\n    corp:\n      algorithms: [RS256]\n      keys:\n        jwks_url: \"" +
                      url + "\"\n");
        EXPECT_FALSE(l.cfg);
        ASSERT_EQ(l.diag.errors().size(), 1u) << test::dump(l.diag.errors());
        EXPECT_TRUE(has_error(l, 6, 19, "jwt.providers.corp.keys.jwks_url: invalid jwks_url '" + url + "': " + why));
    }
}

TEST(Jwt, TokenSourceErrors) {
    auto l = load(R"(jwt:
  providers:
    corp:
      algorithms: [HS256]
      keys: {secret: 0123456789abcdef0123456789abcdef}
      token_from:
        - header: Authorization
          cookie: session
        - cookie: session
          prefix: "Bearer "
        - {}
        - header: "Bad Header"
        - query: ""
        - heder: X
)");
    EXPECT_FALSE(l.cfg);
    EXPECT_TRUE(has_error(l, 7, 11, "jwt.providers.corp.token_from[0]: each token_from item needs exactly one of"));
    EXPECT_TRUE(has_error(l, 10, 19, "token_from[1].prefix: prefix is only allowed with header"));
    EXPECT_TRUE(has_error(l, 11, 11, "token_from[2]: each token_from item needs exactly one of"));
    EXPECT_TRUE(has_error(l, 12, 19, "token_from[3].header: invalid header name 'Bad Header'"));
    EXPECT_TRUE(has_error(l, 13, 18, "token_from[4].query: must not be empty"));
    EXPECT_TRUE(has_error(l, 14, 11, "unknown key 'heder' in jwt.providers.corp.token_from[5]; did you mean 'header'?"));
}

TEST(Jwt, ForwardClaimErrors) {
    auto l = load(R"(jwt:
  providers:
    corp:
      algorithms: [HS256]
      keys: {secret: 0123456789abcdef0123456789abcdef}
      forward_claims:
        sub: X-User-Id
        email: "X User Email"
        name: x-user-id
        roles: [X-Roles]
      forward_payload_header: "X:Payload"
      strip_token: maybe
      audience: x
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 6u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 8, 16, "forward_claims.email: invalid header name 'X User Email'"));
    EXPECT_TRUE(has_error(l, 9, 15, "forward_claims.name: header 'x-user-id' is already used for claim 'sub'"));
    EXPECT_TRUE(has_error(l, 10, 16, "forward_claims.roles: expected a string, got a list"));
    EXPECT_TRUE(has_error(l, 11, 31, "forward_payload_header: invalid header name 'X:Payload'"));
    EXPECT_TRUE(has_error(l, 12, 20, "strip_token: expected true or false, got 'maybe'"));
    EXPECT_TRUE(has_error(l, 13, 7, "unknown key 'audience' in jwt.providers.corp; did you mean 'audiences'?"));
}

TEST(Jwt, ProvidersMustBeAMapping) {
    auto l = load("jwt:\n  providers: [corp]\n  cache: {max_entries: -5}\n");
    EXPECT_TRUE(has_error(l, 2, 14, "jwt.providers: expected a mapping, got a list"));
    EXPECT_TRUE(has_error(l, 3, 24, "jwt.cache.max_entries: must not be negative"));
}

TEST(Cors, PolicyValuesAndMarks) {
    ScopedEnv origin("AG_TEST_ORIGIN", "https://env.example.com");
    auto l = load(R"(cors:
  policies:
    web:
      allow_origins:
        - https://a.example.com
        - https://b.example.com
        - ${AG_TEST_ORIGIN}
      allow_origin_regexes: ['^https://[a-z]+\.example\.com$']
      allow_all_origins: false
      allow_methods: [GET, POST]
      allow_headers: [authorization]
      expose_headers: [X-Request-Id]
      allow_credentials: true
      max_age: 10m
      allow_private_network: true
    open:
      allow_all_origins: true
      max_age: 600
)");
    ASSERT_TRUE(loaded_ok(l));
    ASSERT_EQ(l.cfg->cors.policies.size(), 2u);
    const CorsPolicy& web = l.cfg->cors.policies[0];
    EXPECT_EQ(web.name, "web");
    EXPECT_EQ(web.allow_origins,
              (std::vector<std::string>{"https://a.example.com", "https://b.example.com", "https://env.example.com"}));
    EXPECT_EQ(web.allow_origin_regexes, std::vector<std::string>{R"(^https://[a-z]+\.example\.com$)"});
    EXPECT_FALSE(web.allow_all_origins);
    EXPECT_EQ(web.allow_methods, (std::vector<std::string>{"GET", "POST"}));
    EXPECT_EQ(web.allow_headers, std::vector<std::string>{"authorization"});
    EXPECT_EQ(web.expose_headers, std::vector<std::string>{"X-Request-Id"});
    EXPECT_TRUE(web.allow_credentials);
    EXPECT_EQ(web.max_age, 600u);
    EXPECT_TRUE(web.allow_private_network);
    EXPECT_EQ(web.marks.self.line, 4);
    EXPECT_EQ(web.marks.at("allow_origins[2]").line, 7);
    EXPECT_EQ(web.marks.at("allow_origins[2]").col, 11);
    EXPECT_EQ(web.marks.at("allow_origin_regexes[0]").line, 8);
    EXPECT_EQ(web.marks.at("allow_origin_regexes[0]").col, 30);
    EXPECT_EQ(web.marks.at("nonexistent").line, 4);  // falls back to the policy itself

    const CorsPolicy& open = l.cfg->cors.policies[1];
    EXPECT_TRUE(open.allow_all_origins);
    EXPECT_EQ(open.max_age, 600u);
    EXPECT_EQ(open.allow_methods.size(), 6u);  // defaults kept
    EXPECT_FALSE(open.allow_credentials);
}

TEST(Cors, StructuralErrors) {
    auto l = load(R"(cors:
  policies:
    web:
      allow_origins: https://app.example.com
      allow_headers: [accept, ""]
      allow_credentials: maybe
      max_age: 1500ms
      allow_origin: [x]
    other:
      max_age: -1
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 6u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 4, 22, "cors.policies.web.allow_origins: expected a list, got 'https://app.example.com'"));
    EXPECT_TRUE(has_error(l, 5, 31, "cors.policies.web.allow_headers[1]: must not be empty"));
    EXPECT_TRUE(has_error(l, 6, 26, "expected true or false, got 'maybe'"));
    EXPECT_TRUE(has_error(l, 7, 16, "max_age must be whole seconds"));
    EXPECT_TRUE(has_error(l, 8, 7, "unknown key 'allow_origin' in cors.policies.web; did you mean 'allow_origins'?"));
    EXPECT_TRUE(has_error(l, 10, 16, "cors.policies.other.max_age: duration must not be negative"));
}

}  // namespace
}  // namespace authgate::config
