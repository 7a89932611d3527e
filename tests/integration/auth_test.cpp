// JWT authentication end to end through the real proxy: a demo-backend process behind the
// in-process gateway, tokens minted in the test with keys generated at run time.
#include <ctime>
#include <filesystem>
#include <fstream>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "jwt/base64url.h"
#include "jwt/provider.h"
#include "jwt/signer.h"
#include "support/harness.h"
#include "unit/jwt/jwks_server.h"
#include "unit/jwt/jwt_test_util.h"

namespace authgate::test {
namespace {
using namespace std::chrono_literals;
namespace jt = authgate::jwt::test;
using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kSecret = "integration-hs256-secret-0123456789abcdef";

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

boost::json::object claims(std::int64_t ttl = 600) {
    return boost::json::object{{"sub", "alice"}, {"iat", now()}, {"exp", now() + ttl}};
}

std::string hs256(const boost::json::object& payload, const std::string& secret = kSecret,
                  boost::json::object header = {}, jwt::Algorithm alg = jwt::Algorithm::HS256) {
    auto key = jwt::Key::from_secret(secret).key;
    EXPECT_TRUE(key);
    auto t = jwt::make_token(alg, *key, std::move(header), payload);
    EXPECT_TRUE(t);
    return t.value_or("");
}

std::string payload_segment(const std::string& token) {
    auto a = token.find('.');
    auto b = token.find('.', a + 1);
    return token.substr(a + 1, b - a - 1);
}

// Flips bits of a signature character that carries no padding bits (not the last one).
std::string tamper(std::string token) {
    char& ch = token[token.size() - 5];
    ch = ch == 'A' ? 'B' : 'A';
    return token;
}

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// How many times the backend saw a header (names compared case-insensitively): the echo
// lists every received header line.
std::size_t echoed_count(const std::string& body, std::string_view name) {
    std::size_t n = 0;
    // boost::json keeps only one value per duplicate key: count raw occurrences instead.
    std::string lower_body = body, needle = "\"" + std::string(name) + "\":";
    for (auto& c : lower_body) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : needle) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto pos = lower_body.find(needle); pos != std::string::npos; pos = lower_body.find(needle, pos + 1)) ++n;
    return n;
}

boost::json::object json_body(const Response& r) {
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    EXPECT_FALSE(ec) << r.body;
    if (ec || !v.is_object()) return {};
    return v.as_object();
}

std::string str(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string().c_str()) : std::string("<absent>");
}

void expect_invalid_token(const std::optional<Response>& r, const std::string& reason) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401u) << reason << ": " << r->body;
    EXPECT_EQ(r->header("WWW-Authenticate"),
              "Bearer realm=\"authgate\", error=\"invalid_token\", error_description=\"" + reason + "\"");
    EXPECT_EQ(r->header("Content-Type"), "application/json");
    auto body = json_body(*r);
    EXPECT_EQ(str(body, "error"), "invalid_token");
    EXPECT_EQ(str(body, "error_description"), reason);
}

void expect_missing_token(const std::optional<Response>& r) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401u) << r->body;
    EXPECT_EQ(r->header("WWW-Authenticate"), "Bearer realm=\"authgate\"");
    EXPECT_EQ(r->header("Content-Type"), "application/json");
    auto body = json_body(*r);
    EXPECT_EQ(body.size(), 2u);
    EXPECT_EQ(str(body, "error"), "missing_token");
    EXPECT_EQ(str(body, "error_description"), "token missing");
}

config::Route auth_route(std::string name, std::string prefix, std::vector<std::string> providers,
                         config::RouteAuth::Mode mode = config::RouteAuth::Mode::required) {
    auto r = route(std::move(name), std::move(prefix));
    r.auth.none = false;
    r.auth.providers = std::move(providers);
    r.auth.mode = mode;
    return r;
}

// Temporary directory for key files, removed with the object.
class TempDir {
public:
    TempDir() {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("authgate-itest-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string write(const std::string& name, const std::string& content) const {
        auto p = path_ / name;
        std::ofstream(p, std::ios::binary) << content;
        return p.string();
    }

private:
    std::filesystem::path path_;
};

class AuthTest : public GatewayTest {
protected:
    void SetUp() override {
        cfg = base_config(backend.port());
        config::JwtProvider hs = hs256_provider("hs", kSecret);
        hs.forward_claims = {{"sub", "X-User-Id"},
                             {"username", "X-User-Name"},
                             {"roles", "X-User-Roles"},
                             {"realm_access.roles", "X-Realm-Roles"}};
        hs.forward_payload_header = "X-Jwt-Payload";
        // Same secret, token from a cookie or the query too (header last), stripped upstream.
        config::JwtProvider src = hs;
        src.name = "src";
        src.forward_claims = {{"sub", "X-User-Id"}};
        src.forward_payload_header.clear();
        src.token_from = {{config::TokenSource::Kind::cookie, "access_token", ""},
                          {config::TokenSource::Kind::query, "access_token", ""},
                          {config::TokenSource::Kind::header, "Authorization", "Bearer "}};
        src.strip_token = true;
        cfg.jwt.providers = {hs, src};

        auto pub = route("public", "/public/");
        auto api = auth_route("api", "/api/", {"hs"});
        auto opt = auth_route("opt", "/opt/", {"hs"}, config::RouteAuth::Mode::optional);
        auto report = auth_route("report", "/report/", {"hs"}, config::RouteAuth::Mode::report_only);
        auto admin = auth_route("admin", "/admin/", {"hs"});
        admin.auth.claims = {{"roles", {"admin", "ops"}}};
        auto orders = auth_route("orders", "/orders/", {"hs"});
        orders.auth.claims = {{"scope", {"orders:read"}}};
        auto sources = auth_route("sources", "/src/", {"src"});
        cfg.routes = {pub, api, opt, report, admin, orders, sources};
    }
};

TEST_F(AuthTest, MissingTokenIs401WithBareBearerChallenge) {
    Client c(gw().port());
    expect_missing_token(c.request("GET", "/api/x"));
    expect_missing_token(c.request("GET", "/admin/x"));
    EXPECT_EQ(backend.requests(), 0u);
}

TEST_F(AuthTest, InvalidTokensAre401WithTheFailedCheck) {
    auto expired = claims();
    expired["iat"] = now() - 3600;
    expired["exp"] = now() - 60;
    auto future = claims();
    future["nbf"] = now() + 3600;
    const std::string good = hs256(claims());
    const std::string tampered = tamper(good);
    const std::string none_alg = jwt::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                                 jwt::base64url_encode(boost::json::serialize(claims())) + ".";

    const std::vector<std::pair<std::string, std::string>> cases = {
        {hs256(expired), "token expired"},
        {hs256(future), "token not yet valid"},
        {hs256(claims(), "a-different-secret-0123456789abcdefgh"), "signature invalid"},
        {tampered, "signature invalid"},
        {hs256(claims(), kSecret, {}, jwt::Algorithm::HS384), "algorithm not allowed"},
        {none_alg, "algorithm not allowed"},
        {"abc.def", "token malformed"},
        {"not-a-jwt", "token malformed"},
        {"a$b.c!d.e", "token malformed"},
    };
    Client c(gw().port());
    for (const auto& [token, reason] : cases) {
        SCOPED_TRACE(token);
        expect_invalid_token(c.request("GET", "/api/x", bearer(token)), reason);
    }
    EXPECT_EQ(backend.requests(), 0u);
}

TEST_F(AuthTest, ValidTokenForwardsClaimHeadersAndPayload) {
    auto p = claims();
    p["username"] = "Alice A";
    p["roles"] = boost::json::array{"admin", "dev"};
    p["realm_access"] = boost::json::object{{"roles", boost::json::array{"r1", "r2"}}};
    const std::string token = hs256(p);
    Client c(gw().port());
    auto r = c.request("GET", "/api/orders?x=1", bearer(token));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;
    EXPECT_EQ(echoed_field(r->body, "path"), "/api/orders");
    EXPECT_EQ(echoed_field(r->body, "query"), "x=1");
    EXPECT_EQ(echoed_header(r->body, "X-User-Id"), "alice");
    EXPECT_EQ(echoed_header(r->body, "X-User-Name"), "Alice A");
    EXPECT_EQ(echoed_header(r->body, "X-User-Roles"), "admin,dev");
    EXPECT_EQ(echoed_header(r->body, "X-Realm-Roles"), "r1,r2");
    EXPECT_EQ(echoed_header(r->body, "X-Jwt-Payload"), payload_segment(token));
    // strip_token is off for this provider: the upstream sees the token too.
    EXPECT_EQ(echoed_header(r->body, "Authorization"), "Bearer " + token);
    EXPECT_FALSE(r->headers.count("WWW-Authenticate"));

    // A claim the token does not carry yields no header at all.
    auto r2 = c.request("GET", "/api/y", bearer(hs256(claims())));
    ASSERT_TRUE(r2);
    ASSERT_EQ(r2->status, 200u);
    EXPECT_EQ(echoed_header(r2->body, "X-User-Id"), "alice");
    EXPECT_FALSE(echoed_header(r2->body, "X-User-Name"));
    EXPECT_FALSE(echoed_header(r2->body, "X-User-Roles"));
    EXPECT_FALSE(echoed_header(r2->body, "X-Realm-Roles"));
}

TEST_F(AuthTest, SpoofedIdentityHeadersAreRemovedOnEveryRoute) {
    const Headers spoof = {{"x-user-id", "mallory"},     {"X-USER-ID", "mallory2"}, {"X-User-Name", "Mallory"},
                           {"x-user-roles", "admin"},    {"X-Realm-Roles", "root"}, {"x-jwt-payload", "forged"},
                           {"X-Unrelated", "kept"}};
    auto with = [&](Headers extra) {
        Headers h = spoof;
        h.insert(h.end(), extra.begin(), extra.end());
        return h;
    };
    auto expect_clean = [&](const std::optional<Response>& r, bool user, bool payload) {
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200u) << r->body;
        EXPECT_EQ(echoed_header(r->body, "X-Unrelated"), "kept");
        EXPECT_EQ(echoed_count(r->body, "X-User-Id"), user ? 1u : 0u);
        if (user) {
            EXPECT_EQ(echoed_header(r->body, "X-User-Id"), "alice");
        }
        EXPECT_EQ(echoed_count(r->body, "X-Jwt-Payload"), payload ? 1u : 0u);
        if (payload) {
            EXPECT_NE(echoed_header(r->body, "X-Jwt-Payload"), "forged");
        }
        for (auto name : {"X-User-Name", "X-User-Roles", "X-Realm-Roles"})
            EXPECT_EQ(echoed_count(r->body, name), 0u) << name;
    };
    const std::string token = hs256(claims());
    Client c(gw().port());
    // auth: none
    expect_clean(c.request("GET", "/public/x", with({})), false, false);
    // required, valid token without username/roles claims
    expect_clean(c.request("GET", "/api/x", with(bearer(token))), true, true);
    // optional without a token
    expect_clean(c.request("GET", "/opt/x", with({})), false, false);
    // report_only with a bad token
    expect_clean(c.request("GET", "/report/x", with(bearer("abc.def.ghi"))), false, false);
    // a route whose provider forwards only sub: the other provider's headers go too
    expect_clean(c.request("GET", "/src/x", with(bearer(token))), true, false);
}

TEST_F(AuthTest, ClaimWithControlCharactersIsNeverForwardedRaw) {
    auto p = claims();
    p["sub"] = "alice\r\nX-Admin: 1";
    const std::string token = hs256(p);
    auto p2 = claims();
    p2["username"] = std::string("bob\0evil", 8);
    const std::string nul_token = hs256(p2);
    Client c(gw().port());
    expect_invalid_token(c.request("GET", "/api/x", bearer(token)), "claim value invalid");
    expect_invalid_token(c.request("GET", "/api/x", bearer(nul_token)), "claim value invalid");
    expect_invalid_token(c.request("GET", "/opt/x", bearer(token)), "claim value invalid");
    EXPECT_EQ(backend.requests(), 0u);
    // report_only forwards, but never the tainted value nor anything injected by it.
    auto r = c.request("GET", "/report/x", bearer(token));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u);
    EXPECT_FALSE(echoed_header(r->body, "X-User-Id"));
    EXPECT_FALSE(echoed_header(r->body, "X-Admin"));
    EXPECT_EQ(r->body.find("alice"), std::string::npos);
}

TEST_F(AuthTest, OptionalModeForwardsAnonymousButRejectsBadTokens) {
    Client c(gw().port());
    auto anon = c.request("GET", "/opt/x");
    ASSERT_TRUE(anon);
    EXPECT_EQ(anon->status, 200u);
    EXPECT_FALSE(echoed_header(anon->body, "X-User-Id"));
    EXPECT_FALSE(echoed_header(anon->body, "X-Jwt-Payload"));

    auto expired = claims();
    expired["exp"] = now() - 120;
    expired["iat"] = now() - 600;
    expect_invalid_token(c.request("GET", "/opt/x", bearer(hs256(expired))), "token expired");
    expect_invalid_token(c.request("GET", "/opt/x", bearer("garbage")), "token malformed");

    auto ok = c.request("GET", "/opt/x", bearer(hs256(claims())));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200u);
    EXPECT_EQ(echoed_header(ok->body, "X-User-Id"), "alice");
    EXPECT_EQ(backend.requests(), 2u);
}

TEST_F(AuthTest, ReportOnlyNeverBlocks) {
    Client c(gw().port());
    auto bad = c.request("GET", "/report/x", bearer(hs256(claims(), "wrong-secret-wrong-secret-wrong-secret")));
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 200u);
    EXPECT_FALSE(bad->headers.count("WWW-Authenticate"));
    EXPECT_FALSE(echoed_header(bad->body, "X-User-Id"));
    EXPECT_FALSE(echoed_header(bad->body, "X-Jwt-Payload"));

    auto none = c.request("GET", "/report/x");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 200u);
    EXPECT_FALSE(echoed_header(none->body, "X-User-Id"));

    auto good = c.request("GET", "/report/x", bearer(hs256(claims())));
    ASSERT_TRUE(good);
    EXPECT_EQ(good->status, 200u);
    EXPECT_EQ(echoed_header(good->body, "X-User-Id"), "alice");
    EXPECT_EQ(backend.requests(), 3u);
}

TEST_F(AuthTest, ClaimRulesFailingAre403InsufficientScope) {
    auto roles = [](boost::json::value v) {
        auto p = claims();
        p["roles"] = std::move(v);
        return hs256(p);
    };
    auto expect_403 = [](const std::optional<Response>& r) {
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 403u) << r->body;
        EXPECT_EQ(r->header("WWW-Authenticate"),
                  "Bearer realm=\"authgate\", error=\"insufficient_scope\", error_description=\"insufficient scope\"");
        auto body = json_body(*r);
        EXPECT_EQ(str(body, "error"), "insufficient_scope");
        EXPECT_EQ(str(body, "error_description"), "insufficient scope");
    };
    Client c(gw().port());
    expect_403(c.request("GET", "/admin/x", bearer(roles(boost::json::array{"dev", "qa"}))));
    expect_403(c.request("GET", "/admin/x", bearer(roles("Admin"))));  // values are exact
    expect_403(c.request("GET", "/admin/x", bearer(hs256(claims()))));  // claim absent
    EXPECT_EQ(backend.requests(), 0u);

    for (auto v : {boost::json::value(boost::json::array{"dev", "ops"}), boost::json::value("admin")}) {
        auto r = c.request("GET", "/admin/x", bearer(roles(v)));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        EXPECT_EQ(echoed_header(r->body, "X-User-Id"), "alice");
    }
    // An invalid token is still a 401, not a 403.
    expect_invalid_token(c.request("GET", "/admin/x", bearer("x.y")), "token malformed");
}

TEST_F(AuthTest, ScopeRuleNeedsTheScopeInTheSpaceSeparatedString) {
    auto scoped = [](std::string scope) {
        auto p = claims();
        p["scope"] = std::move(scope);
        return hs256(p);
    };
    Client c(gw().port());
    for (std::string s : {"orders:write profile", "orders:readonly", "orders", ""}) {
        auto r = c.request("GET", "/orders/1", bearer(scoped(s)));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 403u) << "scope '" << s << "'";
        EXPECT_NE(r->header("WWW-Authenticate").find("error=\"insufficient_scope\""), std::string::npos);
    }
    auto absent = c.request("GET", "/orders/1", bearer(hs256(claims())));
    ASSERT_TRUE(absent);
    EXPECT_EQ(absent->status, 403u);
    for (std::string s : {"orders:read", "profile orders:read email", "orders:write orders:read"}) {
        auto r = c.request("GET", "/orders/1", bearer(scoped(s)));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << "scope '" << s << "'";
    }
}

TEST_F(AuthTest, CookieAndQueryTokensAreAcceptedAndStrippedUpstream) {
    const std::string token = hs256(claims());
    Client c(gw().port());

    auto cookie = c.request("GET", "/src/x", {{"Cookie", "theme=dark; access_token=" + token + "; lang=en"}});
    ASSERT_TRUE(cookie);
    ASSERT_EQ(cookie->status, 200u) << cookie->body;
    EXPECT_EQ(echoed_header(cookie->body, "X-User-Id"), "alice");
    EXPECT_EQ(echoed_header(cookie->body, "Cookie"), "theme=dark; lang=en");

    auto only_cookie = c.request("GET", "/src/x", {{"Cookie", "access_token=" + token}});
    ASSERT_TRUE(only_cookie);
    ASSERT_EQ(only_cookie->status, 200u);
    EXPECT_FALSE(echoed_header(only_cookie->body, "Cookie"));

    auto query = c.request("GET", "/src/x?a=1&access_token=" + token + "&b=2");
    ASSERT_TRUE(query);
    ASSERT_EQ(query->status, 200u) << query->body;
    EXPECT_EQ(echoed_header(query->body, "X-User-Id"), "alice");
    EXPECT_EQ(echoed_field(query->body, "query"), "a=1&b=2");
    EXPECT_EQ(query->body.find(token), std::string::npos);

    auto header = c.request("GET", "/src/x", bearer(token));
    ASSERT_TRUE(header);
    ASSERT_EQ(header->status, 200u);
    EXPECT_FALSE(echoed_header(header->body, "Authorization"));
    EXPECT_EQ(header->body.find(token), std::string::npos);

    // The cookie comes first in this provider's order: a bad cookie is what gets judged.
    auto bad_cookie = c.request("GET", "/src/x", {{"Cookie", "access_token=bogus"}, {"Authorization", "Bearer " + token}});
    expect_invalid_token(bad_cookie, "token malformed");

    // A cookie is not a source of the "hs" provider.
    expect_missing_token(c.request("GET", "/api/x", {{"Cookie", "access_token=" + token}}));
    expect_missing_token(c.request("GET", "/api/x?access_token=" + token));
}

TEST_F(AuthTest, BearerSchemeIsCaseInsensitiveAndOtherSchemesCountAsMissing) {
    const std::string token = hs256(claims());
    Client c(gw().port());
    for (std::string value : {"bearer " + token, "BEARER " + token, "Bearer    " + token, "bEaReR \t " + token + "  "}) {
        auto r = c.request("GET", "/api/x", {{"Authorization", value}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << value;
        EXPECT_EQ(echoed_header(r->body, "X-User-Id"), "alice") << value;
    }
    expect_missing_token(c.request("GET", "/api/x", {{"Authorization", "Basic dXNlcjpwYXNz"}}));
    expect_missing_token(c.request("GET", "/api/x", {{"Authorization", "Bearer" + token}}));  // another scheme
    // Optional mode: Basic is "no token", so the request goes through anonymously.
    auto basic = c.request("GET", "/opt/x", {{"Authorization", "Basic dXNlcjpwYXNz"}});
    ASSERT_TRUE(basic);
    EXPECT_EQ(basic->status, 200u);
    EXPECT_FALSE(echoed_header(basic->body, "X-User-Id"));
}

TEST_F(AuthTest, Rs256WithPublicKeyFileAndNoAlgorithmConfusion) {
    TempDir dir;
    EVP_PKEY* rsa = jt::pkey_for("rsa");
    const std::string pem = jt::public_pem(rsa);
    config::JwtProvider p;
    p.name = "rsa";
    p.algorithms = {"RS256", "HS256"};  // HS256 listed on purpose: the RSA key must still never act as a secret
    p.keys.public_key_file = dir.write("public.pem", pem);
    p.forward_claims = {{"sub", "X-User-Id"}};
    cfg.jwt.providers.push_back(p);
    cfg.routes.insert(cfg.routes.begin(), auth_route("rsa", "/rsa/", {"rsa"}));

    auto key = jt::private_key("rsa");
    const std::string good = jt::sign_token(jwt::Algorithm::RS256, *key, claims());
    Client c(gw().port());
    auto r = c.request("GET", "/rsa/x", bearer(good));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    EXPECT_EQ(echoed_header(r->body, "X-User-Id"), "alice");

    // Another RSA key's signature.
    auto other = jt::private_key("rsa2");
    expect_invalid_token(c.request("GET", "/rsa/x", bearer(jt::sign_token(jwt::Algorithm::RS256, *other, claims()))),
                         "signature invalid");
    // The classic confusion: HS256 keyed with the public PEM text.
    auto confused = c.request("GET", "/rsa/x", bearer(hs256(claims(), pem)));
    ASSERT_TRUE(confused);
    EXPECT_EQ(confused->status, 401u);
    EXPECT_NE(confused->header("WWW-Authenticate").find("error=\"invalid_token\""), std::string::npos);
    // RS384 is not in the list.
    expect_invalid_token(c.request("GET", "/rsa/x", bearer(jt::sign_token(jwt::Algorithm::RS384, *key, claims()))),
                         "algorithm not allowed");
}

TEST_F(AuthTest, JwksFileSelectsKeysByKid) {
    TempDir dir;
    config::JwtProvider p;
    p.name = "jwks";
    p.algorithms = {"ES256", "RS256"};
    p.keys.jwks_file = dir.write("jwks.json", jt::jwks_json({jt::jwk_for("p256", "ec-1"), jt::jwk_for("rsa", "rsa-1")}));
    p.forward_claims = {{"sub", "X-User-Id"}};
    cfg.jwt.providers.push_back(p);
    cfg.routes.insert(cfg.routes.begin(), auth_route("jwks", "/jwks/", {"jwks"}));

    auto ec = jt::private_key("p256");
    auto rsa = jt::private_key("rsa");
    Client c(gw().port());
    for (const auto& token : {jt::sign_token(jwt::Algorithm::ES256, *ec, claims(), {{"kid", "ec-1"}}),
                              jt::sign_token(jwt::Algorithm::RS256, *rsa, claims(), {{"kid", "rsa-1"}})}) {
        auto r = c.request("GET", "/jwks/x", bearer(token));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        EXPECT_EQ(echoed_header(r->body, "X-User-Id"), "alice");
    }
    expect_invalid_token(
        c.request("GET", "/jwks/x", bearer(jt::sign_token(jwt::Algorithm::ES256, *ec, claims(), {{"kid", "nope"}}))),
        "unknown kid");
    auto other_ec = jt::private_key("p256b");
    expect_invalid_token(
        c.request("GET", "/jwks/x", bearer(jt::sign_token(jwt::Algorithm::ES256, *other_ec, claims(), {{"kid", "ec-1"}}))),
        "signature invalid");
}

TEST_F(AuthTest, JwksUrlNeverFetchedIs503WithRetryAfter) {
    cfg.jwt.providers.push_back(unreachable_jwks_provider("remote"));
    cfg.routes.insert(cfg.routes.begin(), auth_route("remote", "/remote/", {"remote"}));
    auto& g = gw();
    ASSERT_TRUE(g.snapshot()->providers->wait_for_first_fetch(10s));

    auto key = jt::private_key("rsa");
    Client c(g.port());
    auto r = c.request("GET", "/remote/x", bearer(jt::sign_token(jwt::Algorithm::RS256, *key, claims(), {{"kid", "k"}})));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503u) << r->body;
    EXPECT_FALSE(r->header("Retry-After").empty());
    EXPECT_FALSE(r->headers.count("WWW-Authenticate"));
    EXPECT_EQ(r->header("Content-Type"), "application/json");
    EXPECT_EQ(str(json_body(*r), "error"), "temporarily_unavailable");
    // Without a token it is still the client's fault.
    expect_missing_token(c.request("GET", "/remote/x"));
    EXPECT_EQ(backend.requests(), 0u);
}

// A reload compiles new providers. One whose jwks_url did not change starts with the keys
// the running config fetched: its routes and /readyz do not turn 503 until the new fetch
// lands, nor stay 503 while the issuer is down.
TEST_F(AuthTest, ReloadKeepsTheKeysOfAnUnchangedJwksUrl) {
    jt::JwksServer issuer;
    issuer.set_body(jt::jwks_json({jt::jwk_for("rsa", "k1")}));
    config::JwtProvider remote;
    remote.name = "remote";
    remote.algorithms = {"RS256"};
    remote.keys.jwks_url = issuer.url();
    remote.keys.jwks_refresh = 1h;
    cfg.jwt.providers.push_back(remote);
    cfg.admin = config::Admin{{"127.0.0.1", 0}, {}};
    cfg.routes.insert(cfg.routes.begin(), auth_route("remote", "/remote/", {"remote"}));
    auto& g = gw();
    ASSERT_TRUE(g.snapshot()->providers->wait_for_first_fetch(10s));
    const auto token = bearer(jt::sign_token(jwt::Algorithm::RS256, *jt::private_key("rsa"), claims(), {{"kid", "k1"}}));
    const auto get = [&](std::string_view target) {
        Client c(g.port());  // a new connection: it starts under the latest snapshot
        auto r = c.request("GET", target, token);
        return r ? r->status : 0u;
    };
    const auto readyz = [&] {
        Client c(g.server().admin_port().value_or(0));
        auto r = c.request("GET", "/readyz");
        return r ? r->status : 0u;
    };
    ASSERT_EQ(get("/remote/x"), 200u);
    ASSERT_EQ(readyz(), 200u);
    issuer.stop();  // the issuer goes down, then the config is reloaded

    // The new config adds a route, so a request to it surely runs under the new providers.
    auto next_cfg = cfg;
    next_cfg.routes.insert(next_cfg.routes.begin(), auth_route("after", "/after/", {"remote"}));
    config::Diagnostics diag;
    auto next = proxy::Snapshot::compile(next_cfg, diag);
    ASSERT_TRUE(next) << (diag.errors().empty() ? "" : diag.errors().front());
    g.server().reload(next);
    // At once, whether or not the new provider's own first fetch has failed yet ...
    EXPECT_EQ(get("/after/x"), 200u);
    EXPECT_EQ(readyz(), 200u);
    // ... and once it surely has.
    ASSERT_TRUE(next->providers->wait_for_first_fetch(10s));
    EXPECT_EQ(next->providers->find("remote")->jwks_stats().failures, 1u);
    EXPECT_EQ(get("/after/x"), 200u);
    EXPECT_EQ(get("/remote/x"), 200u);
    EXPECT_EQ(readyz(), 200u);
    EXPECT_EQ(issuer.requests(), 1);
}

TEST_F(AuthTest, RepeatedTokenHitsTheCacheAndKeepsWorking) {
    auto p = claims();
    p["roles"] = boost::json::array{"ops"};
    const std::string token = hs256(p);
    Client c(gw().port());
    for (int i = 0; i < 50; ++i) {
        auto r = c.request("GET", "/admin/x?i=" + std::to_string(i), bearer(token));
        ASSERT_TRUE(r) << i;
        ASSERT_EQ(r->status, 200u) << i << ": " << r->body;
        ASSERT_EQ(echoed_header(r->body, "X-User-Id"), "alice") << i;
        ASSERT_EQ(echoed_header(r->body, "X-User-Roles"), "ops") << i;
        ASSERT_EQ(echoed_header(r->body, "X-Jwt-Payload"), payload_segment(token)) << i;
    }
    // A cached verification does not make the token good for a route it fails on.
    auto scoped = c.request("GET", "/orders/x", bearer(token));
    ASSERT_TRUE(scoped);
    EXPECT_EQ(scoped->status, 403u);
    // Nor does the cache accept a near-copy.
    expect_invalid_token(c.request("GET", "/admin/x", bearer(tamper(token))), "signature invalid");
    EXPECT_EQ(backend.requests(), 50u);
}

TEST_F(AuthTest, WorksOnEveryWorkerWithTheCache) {
    cfg.server.workers = 2;
    const std::string token = hs256(claims());
    for (int i = 0; i < 8; ++i) {
        Client c(gw().port());
        for (int j = 0; j < 5; ++j) {
            auto r = c.request("GET", "/api/x", bearer(token));
            ASSERT_TRUE(r);
            ASSERT_EQ(r->status, 200u);
            ASSERT_EQ(echoed_header(r->body, "X-User-Id"), "alice");
        }
    }
}

}  // namespace
}  // namespace authgate::test
