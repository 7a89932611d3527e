// `authgate explain`: every step of the decision printed with its result, the failed
// check named as the 401/403 names it, and the same decision the running gateway makes
// for the same request (checked side by side against a live gateway).
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "config/loader.h"
#include "jwt/key.h"
#include "jwt/signer.h"
#include "server/explain.h"
#include "support/harness.h"
#include "unit/jwt/jwks_server.h"
#include "unit/jwt/jwt_test_util.h"

namespace authgate::test {
namespace {
namespace fs = std::filesystem;
namespace jt = jwt::test;
using namespace std::chrono_literals;

const std::string kSecret = "explain-test-secret-0123456789abcdef";

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

boost::json::object claims(std::int64_t ttl = 600, boost::json::object extra = {}) {
    boost::json::object p{{"sub", "alice"}, {"aud", "orders-api"}, {"iat", now()}, {"exp", now() + ttl}};
    for (const auto& kv : extra) p[kv.key()] = kv.value();
    return p;
}

std::string hs256(const boost::json::object& payload, const std::string& secret = kSecret) {
    auto key = jwt::Key::from_secret(secret).key;
    return jwt::make_token(jwt::Algorithm::HS256, *key, {}, payload).value_or("");
}

// Three routes in front of `upstream_port`: public (auth none), admin (claim rule
// roles: admin) and api (strip_prefix, token from the header or the query string).
std::string config_yaml(std::uint16_t upstream_port, const std::string& extra = "") {
    return "server:\n  listen: 127.0.0.1:0\n  workers: 1\n"
           "upstreams:\n  backend:\n    endpoints: [http://127.0.0.1:" +
           std::to_string(upstream_port) +
           "]\n"
           "jwt:\n  providers:\n    main:\n      algorithms: [HS256]\n"
           "      keys:\n        secret: " +
           kSecret +
           "\n      audiences: [orders-api]\n"
           "      token_from:\n        - header: Authorization\n          prefix: \"Bearer \"\n"
           "        - query: access_token\n"
           "      forward_claims:\n        sub: X-User-Id\n        roles: X-User-Roles\n" +
           extra +
           "cors:\n  policies:\n    web:\n      allow_origins: [https://app.example]\n"
           "      allow_methods: [GET, POST, PUT]\n      allow_headers: [authorization, content-type]\n"
           "      allow_credentials: true\n"
           "routes:\n"
           "  - name: public\n    match:\n      path_prefix: /public/\n    upstream: backend\n    cors: web\n"
           "    auth: none\n"
           "  - name: admin\n    match:\n      path_prefix: /api/admin/\n    upstream: backend\n    cors: web\n"
           "    auth:\n      providers: [main]\n      claims:\n        roles: [admin]\n"
           "  - name: api\n    match:\n      path_prefix: /api/\n    upstream: backend\n    cors: web\n"
           "    rewrite:\n      strip_prefix: /api\n    auth:\n      providers: [main]\n";
}

struct Explained {
    int code = -1;
    std::string out, err;
    bool has(std::string_view s) const { return out.find(s) != std::string::npos; }
};

Explained explain(const fs::path& config, const std::vector<std::string>& args) {
    std::vector<std::string> words{"explain", "-c", config.string()};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    std::ostringstream out, err;
    Explained r;
    r.code = server::explain_command(static_cast<int>(argv.size()), argv.data(), out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
}

class ExplainTest : public ::testing::Test {
protected:
    // The upstream is never contacted: port 9 is as good as any.
    fs::path config = write_temp("explain.yaml", config_yaml(9));
    Explained run(const std::vector<std::string>& args) { return explain(config, args); }
};

TEST_F(ExplainTest, NoRouteIs404) {
    auto r = run({"--url", "/nowhere"});
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_TRUE(r.has("route: none matches GET /nowhere\n")) << r.out;
    EXPECT_TRUE(r.has("  HTTP/1.1 404 Not Found\n")) << r.out;
    EXPECT_TRUE(r.has("status: 404 not_found \"no route matches this request\"\n")) << r.out;
}

TEST_F(ExplainTest, PreflightFromAnAllowedOriginIsAnsweredByTheGateway) {
    auto r = run({"--method", "OPTIONS", "--url", "/api/orders", "--header", "Origin: https://app.example", "--header",
                  "Access-Control-Request-Method: PUT", "--header", "Access-Control-Request-Headers: authorization"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(r.has("; matched as PUT, the method the preflight announces\n")) << r.out;
    EXPECT_TRUE(r.has("cors: preflight for PUT answered by the gateway itself (policy web;")) << r.out;
    EXPECT_TRUE(r.has("  origin https://app.example: allowed\n")) << r.out;
    EXPECT_TRUE(r.has("  method PUT: allowed\n")) << r.out;
    EXPECT_TRUE(r.has("  HTTP/1.1 204 No Content\n")) << r.out;
    EXPECT_TRUE(r.has("  Access-Control-Allow-Origin: https://app.example\n")) << r.out;
    EXPECT_TRUE(r.has("  Access-Control-Allow-Methods: GET, POST, PUT\n")) << r.out;
    EXPECT_TRUE(r.has("status: 204 preflight answered by the gateway; the browser accepts it\n")) << r.out;
    EXPECT_FALSE(r.has("auth:")) << "a preflight never needs a token\n" << r.out;
}

TEST_F(ExplainTest, PreflightTheBrowserRefusesSaysWhyAndExits1) {
    // The gateway answers 204 to any preflight on a policy route; a disallowed origin
    // just gets no Access-Control-* headers, which the browser takes as a refusal.
    auto origin = run({"--method", "OPTIONS", "--url", "/api/orders", "--header", "Origin: https://evil.example",
                       "--header", "Access-Control-Request-Method: PUT"});
    EXPECT_EQ(origin.code, 1) << origin.out << origin.err;
    EXPECT_TRUE(origin.has("  origin https://evil.example: not allowed\n")) << origin.out;
    EXPECT_TRUE(origin.has("  HTTP/1.1 204 No Content\n")) << origin.out;
    EXPECT_FALSE(origin.has("Access-Control-Allow-Origin")) << origin.out;
    EXPECT_TRUE(origin.has("status: 204 preflight answered by the gateway; the browser refuses it: origin not allowed\n"))
        << origin.out;

    auto method = run({"--method", "OPTIONS", "--url", "/api/orders", "--header", "Origin: https://app.example",
                       "--header", "Access-Control-Request-Method: DELETE"});
    EXPECT_EQ(method.code, 1) << method.out;
    EXPECT_TRUE(method.has("  method DELETE: not in allow_methods\n")) << method.out;
    EXPECT_TRUE(method.has("the browser refuses it: method not allowed\n")) << method.out;

    auto headers = run({"--method", "OPTIONS", "--url", "/api/orders", "--header", "Origin: https://app.example",
                        "--header", "Access-Control-Request-Method: HEAD", "--header",
                        "Access-Control-Request-Headers: x-secret"});
    EXPECT_EQ(headers.code, 1) << headers.out;
    EXPECT_TRUE(headers.has("  method HEAD: CORS-safelisted\n")) << headers.out;  // not listed, needs no listing
    EXPECT_TRUE(headers.has("  request headers x-secret: not all in allow_headers\n")) << headers.out;
}

TEST_F(ExplainTest, ValidTokenIsForwardedWithItsClaimHeadersAndNotTheSpoofedOnes) {
    auto r = run({"--url", "/api/orders?id=7", "--token", hs256(claims()), "--header", "Origin: https://app.example",
                  "--header", "X-User-Id: mallory"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(r.has("route: api (prefix /api/) -> upstream backend (http://127.0.0.1:9), strip_prefix /api\n"))
        << r.out;
    EXPECT_TRUE(r.has("cors: policy web: origin https://app.example allowed\n")) << r.out;
    EXPECT_TRUE(r.has("auth: mode required, providers [main]\n")) << r.out;
    EXPECT_TRUE(r.has("  token: from header Authorization (prefix \"Bearer \")\n")) << r.out;
    EXPECT_TRUE(r.has("  provider main: ok\n")) << r.out;
    EXPECT_TRUE(r.has("    alg: ok (HS256)\n")) << r.out;
    EXPECT_TRUE(r.has("    signature: ok (HS256)\n")) << r.out;
    EXPECT_TRUE(r.has("    exp: ok (in ")) << r.out;
    EXPECT_TRUE(r.has("    iss: - (not configured)\n")) << r.out;
    EXPECT_TRUE(r.has("    aud: ok (orders-api; allowed: orders-api)\n")) << r.out;
    EXPECT_TRUE(r.has("  result: ok\n")) << r.out;
    EXPECT_TRUE(r.has("  GET /orders?id=7 HTTP/1.1\n")) << r.out;
    EXPECT_TRUE(r.has("\n  X-User-Id: alice\n")) << r.out;
    EXPECT_FALSE(r.has("\n  X-User-Id: mallory\n")) << r.out;
    EXPECT_TRUE(r.has("  replaced: X-User-Id: mallory (identity header: only the gateway sets it)\n")) << r.out;
    EXPECT_TRUE(r.has("\n  X-Forwarded-For: <client address>\n")) << r.out;
    EXPECT_TRUE(r.has("  Access-Control-Allow-Origin: https://app.example\n")) << r.out;
    EXPECT_TRUE(r.has("status: forwarded to upstream backend;")) << r.out;
}

TEST_F(ExplainTest, ExpiredTokenIs401WithTheReasonOfThe401) {
    auto r = run({"--url", "/api/orders", "--token", hs256(claims(-3600))});
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_TRUE(r.has("  provider main: token expired\n")) << r.out;
    EXPECT_TRUE(r.has("    signature: ok (HS256)\n")) << r.out;
    EXPECT_TRUE(r.has("    exp: token expired (1h0m ago, leeway 0s)\n")) << r.out;
    EXPECT_TRUE(r.has("    not checked after that: nbf, iat, max_lifetime, iss, aud, forwarded claims\n")) << r.out;
    EXPECT_TRUE(r.has("  result: token expired\n")) << r.out;
    EXPECT_TRUE(r.has("  WWW-Authenticate: Bearer realm=\"authgate\", error=\"invalid_token\", "
                      "error_description=\"token expired\"\n"))
        << r.out;
    EXPECT_TRUE(r.has("  {\"error\":\"invalid_token\",\"error_description\":\"token expired\"}\n")) << r.out;
    EXPECT_TRUE(r.has("status: 401 invalid_token \"token expired\"\n")) << r.out;
}

TEST_F(ExplainTest, OtherFailedChecksAreNamedToo) {
    auto missing = run({"--url", "/api/orders"});
    EXPECT_EQ(missing.code, 1);
    EXPECT_TRUE(missing.has("  token: none found (looked in: header Authorization (prefix \"Bearer \"), query "
                            "parameter access_token)\n"))
        << missing.out;
    EXPECT_TRUE(missing.has("status: 401 missing_token \"token missing\"\n")) << missing.out;

    auto forged = run({"--url", "/api/orders", "--token", hs256(claims(), "another-secret-0123456789abcdef-xyz")});
    EXPECT_EQ(forged.code, 1);
    EXPECT_TRUE(forged.has("    signature: signature invalid (HS256)\n")) << forged.out;
    EXPECT_TRUE(forged.has("    not checked after that: typ, required claims, exp,")) << forged.out;
    EXPECT_TRUE(forged.has("status: 401 invalid_token \"signature invalid\"\n")) << forged.out;

    auto audience = run({"--url", "/api/orders", "--token", hs256(claims(600, {{"aud", "billing"}}))});
    EXPECT_TRUE(audience.has("    aud: audience not allowed (billing; allowed: orders-api)\n")) << audience.out;
    EXPECT_TRUE(audience.has("status: 401 invalid_token \"audience not allowed\"\n")) << audience.out;

    auto garbage = run({"--url", "/api/orders", "--token", "not.a-token"});
    EXPECT_TRUE(garbage.has("  token: token malformed\n")) << garbage.out;
    EXPECT_TRUE(garbage.has("status: 401 invalid_token \"token malformed\"\n")) << garbage.out;
}

// Two issuers on /multi/: the token's iss picks the provider; `types` is checked after
// the signature.
TEST(Explain, IssuerSelectsTheProviderAndTypIsChecked) {
    const std::string other = "explain-test-other-0123456789abcdef";
    const std::string providers = "    other:\n      issuer: https://other\n      algorithms: [HS256]\n"
                                  "      types: [at+jwt]\n      keys:\n        secret: " +
                                  other + "\n";
    const std::string multi = "  - name: multi\n    match:\n      path_prefix: /multi/\n    upstream: backend\n"
                              "    auth:\n      providers: [main, other]\n";
    const auto cfg = write_temp("multi.yaml", config_yaml(9, providers) + multi);
    auto signed_by_other = [&](std::string typ, std::int64_t ttl = 600) {
        boost::json::object header;
        if (!typ.empty()) header["typ"] = typ;
        return jwt::make_token(jwt::Algorithm::HS256, *jwt::Key::from_secret(other).key, header,
                               claims(ttl, {{"iss", "https://other"}}))
            .value_or("");
    };
    auto ok = explain(cfg, {"--url", "/multi/x", "--token", signed_by_other("at+jwt")});
    EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
    EXPECT_TRUE(ok.has("  selected by iss https://other: provider other\n")) << ok.out;
    EXPECT_TRUE(ok.has("  provider main: not tried (the token's iss selects another provider)\n")) << ok.out;
    EXPECT_TRUE(ok.has("    typ: ok (typ at+jwt; allowed: at+jwt)\n")) << ok.out;
    EXPECT_TRUE(ok.has("  decided by: provider other\n")) << ok.out;

    auto id_token = explain(cfg, {"--url", "/multi/x", "--token", signed_by_other("JWT")});
    EXPECT_EQ(id_token.code, 1) << id_token.out;
    EXPECT_TRUE(id_token.has("    typ: token type not allowed (typ JWT; allowed: at+jwt)\n")) << id_token.out;
    EXPECT_TRUE(id_token.has("status: 401 invalid_token \"token type not allowed\"\n")) << id_token.out;
    EXPECT_TRUE(id_token.has("  decided by: provider other\n")) << id_token.out;

    // No iss: each provider in route order, as before.
    auto anonymous = explain(cfg, {"--url", "/multi/x", "--token", hs256(claims())});
    EXPECT_EQ(anonymous.code, 0) << anonymous.out;
    EXPECT_FALSE(anonymous.has("selected by iss")) << anonymous.out;
    EXPECT_TRUE(anonymous.has("  provider main: ok\n")) << anonymous.out;
    EXPECT_TRUE(anonymous.has("  decided by: provider main\n")) << anonymous.out;
}

TEST_F(ExplainTest, ClaimRuleFailureIs403InsufficientScope) {
    auto user = run({"--url", "/api/admin/users", "--token", hs256(claims(600, {{"roles", boost::json::array{"user"}}}))});
    EXPECT_EQ(user.code, 1) << user.out << user.err;
    EXPECT_TRUE(user.has("route: admin (prefix /api/admin/)")) << user.out;
    EXPECT_TRUE(user.has("  provider main: ok\n")) << user.out;
    EXPECT_TRUE(user.has("  claims rules:\n    roles [admin]: insufficient scope\n")) << user.out;
    EXPECT_TRUE(user.has("error=\"insufficient_scope\", error_description=\"insufficient scope\"")) << user.out;
    EXPECT_TRUE(user.has("status: 403 insufficient_scope \"insufficient scope\"\n")) << user.out;

    auto admin = run({"--url", "/api/admin/users", "--token", hs256(claims(600, {{"roles", boost::json::array{"user", "admin"}}}))});
    EXPECT_EQ(admin.code, 0) << admin.out;
    EXPECT_TRUE(admin.has("    roles [admin]: ok\n")) << admin.out;
    EXPECT_TRUE(admin.has("\n  X-User-Roles: user,admin\n")) << admin.out;
}

TEST_F(ExplainTest, AuthNoneRouteForwardsWithoutTokenButDropsClaimHeaders) {
    auto r = run({"--url", "/public/docs", "--header", "X-User-Id: mallory", "--header", "X-User-Roles: admin"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(r.has("auth: none (no token needed; claim headers sent by the client are still removed)\n")) << r.out;
    EXPECT_TRUE(r.has("  removed: X-User-Id: mallory (identity header: only the gateway sets it)\n")) << r.out;
    EXPECT_TRUE(r.has("  removed: X-User-Roles: admin (identity header: only the gateway sets it)\n")) << r.out;
    EXPECT_FALSE(r.has("\n  X-User-Id:")) << r.out;
    EXPECT_TRUE(r.has("cors: policy web: no Origin header")) << r.out;
    EXPECT_TRUE(r.has("  Vary: Origin\n")) << r.out;
}

TEST_F(ExplainTest, TokenFromTheQueryString) {
    auto r = run({"--url", "/api/orders?access_token=" + hs256(claims()) + "&page=2"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(r.has("  token: from query parameter access_token\n")) << r.out;
    EXPECT_TRUE(r.has("  provider main: ok\n")) << r.out;
    EXPECT_TRUE(r.has("\n  X-User-Id: alice\n")) << r.out;
}

TEST_F(ExplainTest, PathIsNormalizedBeforeRouting) {
    // The dot segment takes the request off the public route and onto a protected one.
    auto r = run({"--url", "/public/../api/orders"});
    EXPECT_TRUE(r.has("path: normalized to /api/orders")) << r.out;
    EXPECT_TRUE(r.has("route: api ")) << r.out;
    EXPECT_EQ(r.code, 1) << r.out;
}

TEST_F(ExplainTest, UsageErrorsExit2) {
    const auto usage = [&](std::vector<std::string> words) {
        std::vector<char*> argv;
        for (auto& w : words) argv.push_back(w.data());
        std::ostringstream out, err;
        const int code = server::explain_command(static_cast<int>(argv.size()), argv.data(), out, err);
        EXPECT_NE(err.str().find("Usage: authgate explain"), std::string::npos) << err.str();
        return code;
    };
    const std::string c = config.string();
    EXPECT_EQ(usage({"explain"}), 2);
    EXPECT_EQ(usage({"explain", "-c", c}), 2);                                   // no --url
    EXPECT_EQ(usage({"explain", "--url", "/x"}), 2);                             // no -c
    EXPECT_EQ(usage({"explain", "-c", c, "--url", "/x", "--header", "NoColon"}), 2);
    EXPECT_EQ(usage({"explain", "-c", c, "--url", "/x", "--bogus", "1"}), 2);
    EXPECT_EQ(usage({"explain", "-c", c, "--url", "/x", "--token"}), 2);        // no value
    EXPECT_EQ(usage({"explain", "-c", c, "--url", "/x y"}), 2);                 // would split the request line
    EXPECT_EQ(usage({"explain", "-c", c, "--url", "/x", "--header", "A: b\r\nX-Evil: 1"}), 2);
}

TEST(Explain, ConfigErrorsAreReportedWithLineAndColumnAndExit1) {
    const auto bad = write_temp("bad.yaml", "server:\n  listn: 127.0.0.1:8080\n"
                                            "upstreams:\n  b:\n    endpoints: [http://127.0.0.1:1]\n"
                                            "routes:\n  - name: r\n    match:\n      path_prefix: /x/\n    upstream: b\n");
    auto r = explain(bad, {"--url", "/x/y"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find(bad.string() + ":2:3: "), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
}

std::string jwks_provider_yaml(const std::string& url) {
    return "    remote:\n      algorithms: [RS256]\n      keys:\n        jwks_url: " + url +
           "\n      forward_claims:\n        sub: X-Remote-User\n";
}

std::string remote_route_yaml() {
    return "  - name: remote\n    match:\n      path_prefix: /remote/\n    upstream: backend\n"
           "    auth:\n      providers: [remote]\n";
}

TEST(Explain, JwksUrlThatCannotBeFetchedIs503AndDoesNotHang) {
    const std::string url = "http://127.0.0.1:" + std::to_string(dead_port()) + "/jwks.json";
    const auto cfg = write_temp("jwks-down.yaml", config_yaml(9, jwks_provider_yaml(url)) + remote_route_yaml());
    const auto token = jt::sign_token(jwt::Algorithm::RS256, *jt::private_key("rsa"), claims(), {{"kid", "k1"}});
    const auto start = std::chrono::steady_clock::now();
    auto r = explain(cfg, {"--url", "/remote/x", "--token", token});
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_TRUE(r.has("  jwks: provider remote: no keys (fetching " + url + " failed")) << r.out;
    EXPECT_TRUE(r.has("    key: keys unavailable (kid k1; no keys: jwks_url not fetched)\n")) << r.out;
    EXPECT_TRUE(r.has("  Retry-After: 5\n")) << r.out;
    EXPECT_TRUE(r.has("status: 503 temporarily_unavailable \"keys unavailable\"\n")) << r.out;
}

TEST(Explain, JwksUrlIsFetchedOnceAndItsKeysUsed) {
    jt::JwksServer issuer;
    issuer.set_body(jt::jwks_json({jt::jwk_for("rsa", "k1")}));
    const auto cfg = write_temp("jwks-up.yaml", config_yaml(9, jwks_provider_yaml(issuer.url())) + remote_route_yaml());
    const auto token = jt::sign_token(jwt::Algorithm::RS256, *jt::private_key("rsa"), claims(), {{"kid", "k1"}});
    auto r = explain(cfg, {"--url", "/remote/x", "--token", token});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(r.has("  jwks: provider remote: 1 keys, fetched from " + issuer.url() + "\n")) << r.out;
    EXPECT_TRUE(r.has("    key: ok (kid k1)\n")) << r.out;
    EXPECT_TRUE(r.has("    signature: ok (RS256)\n")) << r.out;
    EXPECT_TRUE(r.has("\n  X-Remote-User: alice\n")) << r.out;
    EXPECT_EQ(issuer.requests(), 1);
}

// Where each provider's keys come from: discovery names the jwks_uri the keys came from;
// with the issuer down, the key cache file; a secret is static.
TEST(Explain, SaysTheDiscoveryStateAndTheKeySource) {
    jt::JwksServer issuer;
    issuer.set(jt::kOpenIdConfigurationPath, jt::openid_configuration(issuer.origin(), issuer.url("/keys")));
    issuer.set("/keys", jt::jwks_json({jt::jwk_for("rsa", "k1")}));
    const std::string discovery_url = issuer.url(jt::kOpenIdConfigurationPath);
    const auto cache = write_temp("explain-sso.jwks.json", "");
    const std::string provider = "    remote:\n      issuer: " + issuer.origin() + "\n      algorithms: [RS256]\n" +
                                 "      discovery_url: " + discovery_url + "\n      keys:\n        jwks_cache_file: " +
                                 cache.string() + "\n";
    const auto cfg = write_temp("explain-discovery.yaml", config_yaml(9, provider) + remote_route_yaml());
    auto c = claims();
    c["iss"] = issuer.origin();
    const auto token = jt::sign_token(jwt::Algorithm::RS256, *jt::private_key("rsa"), c, {{"kid", "k1"}});

    auto fetched = explain(cfg, {"--url", "/remote/x", "--token", token});
    EXPECT_EQ(fetched.code, 0) << fetched.out << fetched.err;
    EXPECT_TRUE(fetched.has("  jwks: provider remote: discovery " + discovery_url + " names jwks_uri " +
                            issuer.url("/keys") + "; 1 keys, fetched from " + issuer.url("/keys") + "\n"))
        << fetched.out;

    // That fetch wrote the cache file; with the issuer down, explain uses it as the gateway would.
    issuer.set(jt::kOpenIdConfigurationPath, "down", 503);
    auto cached = explain(cfg, {"--url", "/remote/x", "--token", token});
    EXPECT_EQ(cached.code, 0) << cached.out << cached.err;
    EXPECT_TRUE(cached.has("  jwks: provider remote: 1 keys from the key cache file " + cache.string() +
                           " (fetched at unix time "))
        << cached.out;
    EXPECT_TRUE(cached.has("; fetching " + discovery_url + " failed: discovery document: HTTP status 503)\n"))
        << cached.out;

    auto fixed = explain(cfg, {"--url", "/api/orders", "--token", "x"});
    EXPECT_TRUE(fixed.has("  keys: provider main: static, 1 keys from the config\n")) << fixed.out;
}

// The same requests through explain and through the running gateway: the same status,
// and the same WWW-Authenticate, CORS headers and error body.
TEST(Explain, AgreesWithTheRunningGateway) {
    Backend backend;
    const auto path = write_temp("agree.yaml", config_yaml(backend.port()));
    config::Diagnostics diag;
    auto cfg = config::load_file(path.string(), diag);
    ASSERT_TRUE(cfg) << diag.errors().front();
    Gateway gw(*cfg);

    using Headers = std::vector<std::pair<std::string, std::string>>;
    const Headers origin{{"Origin", "https://app.example"}};
    const auto with = [](Headers h, std::string name, std::string value) {
        h.emplace_back(std::move(name), std::move(value));
        return h;
    };
    struct Case {
        std::string method, target;
        Headers headers;
    };
    const std::vector<Case> cases = {
        {"GET", "/nowhere", origin},
        {"GET", "/api/orders", origin},
        {"GET", "/api/orders", with(origin, "Authorization", "Bearer " + hs256(claims(-3600)))},
        {"GET", "/api/orders", with(origin, "Authorization", "Bearer " + hs256(claims()))},
        {"GET", "/api/orders?access_token=" + hs256(claims()), {}},
        {"GET", "/api/admin/x", with(origin, "Authorization", "Bearer " + hs256(claims(600, {{"roles", "user"}})))},
        {"GET", "/public/x", {{"Origin", "https://evil.example"}, {"X-User-Id", "mallory"}}},
        {"OPTIONS", "/api/orders", with(origin, "Access-Control-Request-Method", "PUT")},
        {"OPTIONS", "/api/orders", {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "PUT"}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.method + " " + c.target);
        Client client(gw.port());
        const auto live = client.request(c.method, c.target, c.headers);
        ASSERT_TRUE(live);
        std::vector<std::string> args{"--method", c.method, "--url", c.target, "--header", "Host: gateway.test"};
        for (const auto& [name, value] : c.headers) {
            args.push_back("--header");
            args.push_back(name + ": " + value);
        }
        const auto r = explain(path, args);
        if (r.has("status: forwarded to upstream backend")) {
            EXPECT_EQ(live->status, 200u) << r.out;  // the demo backend answers 200
            EXPECT_EQ(r.code, 0);
            const auto user = echoed_header(live->body, "X-User-Id");
            const std::string line = user ? "\n  X-User-Id: " + *user + "\n" : std::string("\n  X-User-Id:");
            EXPECT_EQ(r.has(line), user.has_value()) << r.out;
        } else {
            EXPECT_TRUE(r.has("status: " + std::to_string(live->status) + " ")) << r.out;
            EXPECT_TRUE(r.has("  HTTP/1.1 " + std::to_string(live->status) + " ")) << r.out;
            EXPECT_EQ(r.code, live->status >= 400 || r.has("the browser refuses it") ? 1 : 0) << r.out;
            if (!live->body.empty()) {
                EXPECT_TRUE(r.has("  " + live->body)) << r.out;
            }
        }
        for (const char* name : {"WWW-Authenticate", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                                 "Access-Control-Allow-Credentials", "Vary", "Retry-After"}) {
            const std::string line = live->count(name) == 0 ? "\n  " + std::string(name) + ":"
                                                            : "\n  " + std::string(name) + ": " + live->header(name) + "\n";
            EXPECT_EQ(r.has(line), live->count(name) != 0) << name << "\n" << r.out;
        }
    }
}

// The real binary: the report on stdout, the decision in the exit status.
TEST(Explain, TheBinaryPrintsTheReportAndExitsWithTheDecision) {
    const auto cfg = write_temp("binary.yaml", config_yaml(9));
    ChildProcess expired({AUTHGATE_BINARY, "explain", "-c", cfg.string(), "--url", "/api/orders", "--token",
                          hs256(claims(-3600))});
    EXPECT_EQ(expired.first_line(), "request: GET /api/orders");
    // Signal 0 sends nothing: this only waits, bounded, for the process to exit.
    EXPECT_EQ(expired.signal_and_wait(0, 20s), 1);
    EXPECT_NE(expired.drain_output().find("status: 401 invalid_token \"token expired\"\n"), std::string::npos)
        << expired.drain_output();

    ChildProcess ok({AUTHGATE_BINARY, "explain", "-c", cfg.string(), "--url", "/api/orders", "--token",
                     hs256(claims())});
    EXPECT_EQ(ok.signal_and_wait(0, 20s), 0);
    EXPECT_NE(ok.drain_output().find("status: forwarded to upstream backend"), std::string::npos) << ok.drain_output();

    ChildProcess usage({AUTHGATE_BINARY, "explain", "--bogus"});
    EXPECT_EQ(usage.first_line(), "authgate explain: unknown argument '--bogus'");
    EXPECT_EQ(usage.signal_and_wait(0, 20s), 2);
}

}  // namespace
}  // namespace authgate::test
