// config/django.yaml, as shipped, in front of a real backend: what docs/migrating-from-django.md
// promises a Django + simplejwt user. Tokens have simplejwt's shape (user_id, token_type, jti,
// exp, iat; no sub), signed in the test with the secret the config reads from the environment.
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "config/loader.h"
#include "jwt/key.h"
#include "jwt/signer.h"
#include "support/harness.h"

namespace authgate::test {
namespace {
namespace fs = std::filesystem;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Django's generated SECRET_KEYs are 50 characters of this kind.
const std::string kSecretKey = "django-insecure-7k#v1^x@q2m$0w!r9t&z%c8e*b6n_p4y(j)s3u5h-g";
const std::string kApp = "https://app.example.com";

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// simplejwt's AccessToken/RefreshToken payload: USER_ID_CLAIM, TOKEN_TYPE_CLAIM, JTI_CLAIM,
// exp and iat, nothing else (AUDIENCE and ISSUER are None by default).
std::string simplejwt_token(std::string_view token_type, std::int64_t lifetime_s, std::int64_t user_id = 42,
                            const std::string& secret = kSecretKey) {
    const boost::json::object payload{{"token_type", token_type},
                                      {"exp", now() + lifetime_s},
                                      {"iat", now()},
                                      {"jti", "0f5c4e7e9b1d4c3a8e2f6a7b9c0d1e2f"},
                                      {"user_id", user_id}};
    auto key = jwt::Key::from_secret(secret).key;
    EXPECT_TRUE(key);
    auto token = jwt::make_token(jwt::Algorithm::HS256, *key, boost::json::object{{"typ", "JWT"}}, payload);
    EXPECT_TRUE(token);
    return token.value_or("");
}

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// Header lines with this name the backend received (its echo lists every line; a JSON
// parse would keep one of duplicate keys).
std::size_t echoed_count(std::string body, std::string needle) {
    for (auto* s : {&body, &needle})
        for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    needle = "\"" + needle + "\":";
    std::size_t n = 0;
    for (auto pos = body.find(needle); pos != std::string::npos; pos = body.find(needle, pos + 1)) ++n;
    return n;
}

class DjangoExample : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv("DJANGO_SECRET_KEY", kSecretKey.c_str(), 1);
        config::Diagnostics diag;
        auto cfg = config::load_file((fs::path(AUTHGATE_SOURCE_DIR) / "config" / "django.yaml").string(), diag);
        std::string errors;
        for (const auto& e : diag.errors()) errors += e + "\n";
        ASSERT_TRUE(cfg) << errors;
        // Only where it listens and where Django is change: every policy, provider and
        // route is the shipped file's.
        cfg->server.listen = {{"127.0.0.1", 0}};
        cfg->server.workers = 1;
        ASSERT_EQ(cfg->upstreams.size(), 1u);
        ASSERT_EQ(cfg->upstreams[0].endpoints.size(), 1u);
        EXPECT_EQ(cfg->upstreams[0].endpoints[0].port, 8000);
        cfg->upstreams[0].endpoints[0].port = backend.port();
        gateway = std::make_unique<Gateway>(std::move(*cfg));
    }

    Backend backend;
    std::unique_ptr<Gateway> gateway;
};

TEST_F(DjangoExample, AccessTokenIsForwardedWithUserIdAsXUserId) {
    Client c(gateway->port());
    auto r = c.request("GET", "/api/orders/?page=2", bearer(simplejwt_token("access", 300)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    EXPECT_EQ(echoed_field(r->body, "path"), "/api/orders/");
    EXPECT_EQ(echoed_header(r->body, "X-User-Id"), "42");  // the number, as its JSON text
    EXPECT_EQ(echoed_count(r->body, "X-User-Id"), 1u);
    // strip_token: false while Django's JWTAuthentication may still read it.
    EXPECT_TRUE(echoed_header(r->body, "Authorization").has_value());
}

TEST_F(DjangoExample, ProtectedRoutesAskForAnAccessToken) {
    Client c(gateway->port());
    auto missing = c.request("GET", "/api/orders/");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 401u);
    EXPECT_EQ(missing->header("WWW-Authenticate"), "Bearer realm=\"authgate\"");

    // Signed with another SECRET_KEY: another Django deployment's token.
    auto forged = c.request("GET", "/api/orders/",
                            bearer(simplejwt_token("access", 300, 42, "another-django-secret-key-0123456789abcdef")));
    ASSERT_TRUE(forged);
    EXPECT_EQ(forged->status, 401u);
    EXPECT_EQ(forged->header("WWW-Authenticate"),
              "Bearer realm=\"authgate\", error=\"invalid_token\", error_description=\"signature invalid\"");
}

TEST_F(DjangoExample, RefreshTokenIsRefusedAndNeverForwarded) {
    const auto before = backend.requests();
    Client c(gateway->port());
    // With simplejwt's default REFRESH_TOKEN_LIFETIME (1 day) max_lifetime refuses it first.
    auto day = c.request("GET", "/api/orders/", bearer(simplejwt_token("refresh", 24 * 3600)));
    ASSERT_TRUE(day);
    EXPECT_EQ(day->status, 401u) << day->body;
    EXPECT_EQ(day->header("WWW-Authenticate"),
              "Bearer realm=\"authgate\", error=\"invalid_token\", error_description=\"token lifetime too long\"");
    // A refresh token as short-lived as an access token: the route's token_type rule.
    auto shortlived = c.request("GET", "/api/orders/", bearer(simplejwt_token("refresh", 300)));
    ASSERT_TRUE(shortlived);
    EXPECT_EQ(shortlived->status, 403u) << shortlived->body;
    EXPECT_EQ(shortlived->header("WWW-Authenticate"),
              "Bearer realm=\"authgate\", error=\"insufficient_scope\", error_description=\"insufficient scope\"");
    EXPECT_EQ(shortlived->body, "{\"error\":\"insufficient_scope\",\"error_description\":\"insufficient scope\"}\n");
    EXPECT_EQ(backend.requests(), before);
}

TEST_F(DjangoExample, ClientSentUserIdIsNeverForwarded) {
    Client c(gateway->port());
    // Public route: no token, so no X-User-Id at all, whichever spelling the client tried
    // (Django would read each of them as HTTP_X_USER_ID).
    auto pub = c.request("POST", "/api/token/",
                         {{"X-User-Id", "1"}, {"X_User_Id", "1"}, {"x-user-id", "1"}, {"Content-Type", "application/json"}},
                         R"({"username":"alice","password":"secret"})");
    ASSERT_TRUE(pub);
    EXPECT_EQ(pub->status, 200u) << pub->body;
    EXPECT_EQ(echoed_count(pub->body, "X-User-Id"), 0u) << pub->body;
    EXPECT_EQ(echoed_count(pub->body, "X_User_Id"), 0u) << pub->body;

    // Protected route: only the verified user_id goes up, once.
    Headers spoofed = bearer(simplejwt_token("access", 300, 7));
    spoofed.emplace_back("X-User-Id", "1");
    spoofed.emplace_back("X_User_Id", "1");
    auto api = c.request("GET", "/api/orders/", spoofed);
    ASSERT_TRUE(api);
    EXPECT_EQ(api->status, 200u) << api->body;
    EXPECT_EQ(echoed_count(api->body, "X-User-Id"), 1u) << api->body;
    EXPECT_EQ(echoed_header(api->body, "X-User-Id"), "7");
    EXPECT_EQ(echoed_count(api->body, "X_User_Id"), 0u) << api->body;
}

TEST_F(DjangoExample, TokenEndpointsNeedNoToken) {
    Client c(gateway->port());
    for (const char* path : {"/api/token/", "/api/token/refresh/", "/api/token/verify/"}) {
        auto r = c.request("POST", path, {{"Content-Type", "application/json"}}, R"({"refresh":"x"})");
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200u) << path << ": " << r->body;
        EXPECT_EQ(echoed_field(r->body, "path"), path);
    }
}

TEST_F(DjangoExample, PreflightWithCsrfTokenIsAnsweredLikeDjangoCorsHeaders) {
    const auto before = backend.requests();
    Client c(gateway->port());
    auto r = c.request("OPTIONS", "/api/orders/",
                       {{"Origin", kApp},
                        {"Access-Control-Request-Method", "POST"},
                        {"Access-Control-Request-Headers", "authorization, content-type, x-csrftoken"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204u);
    EXPECT_EQ(r->header("Access-Control-Allow-Origin"), kApp);
    EXPECT_EQ(r->header("Access-Control-Allow-Credentials"), "true");
    EXPECT_EQ(r->header("Access-Control-Allow-Methods"), "DELETE, GET, OPTIONS, PATCH, POST, PUT");
    EXPECT_EQ(r->header("Access-Control-Allow-Headers"),
              "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with");
    EXPECT_EQ(r->header("Access-Control-Max-Age"), "86400");
    // Answered without a token and never forwarded.
    EXPECT_EQ(backend.requests(), before);

    // The regex entry, also for the token route.
    auto preview = c.request("OPTIONS", "/api/token/",
                             {{"Origin", "https://pr-12.preview.example.com"}, {"Access-Control-Request-Method", "POST"}});
    ASSERT_TRUE(preview);
    EXPECT_EQ(preview->status, 204u);
    EXPECT_EQ(preview->header("Access-Control-Allow-Origin"), "https://pr-12.preview.example.com");
    EXPECT_EQ(preview->header("Access-Control-Max-Age"), "86400");
}

TEST_F(DjangoExample, OriginOutsideTheListGetsNoCorsHeaders) {
    // The last one passes Django's re.match (anchored at the start only) if the regex
    // lacks its $; authgate matches the whole origin.
    for (const char* origin : {"https://evil.example.net", "http://app.example.com",
                               "https://pr-12.preview.example.com.evil.net"}) {
        Client c(gateway->port());
        auto pre = c.request("OPTIONS", "/api/orders/",
                             {{"Origin", origin}, {"Access-Control-Request-Method", "POST"},
                              {"Access-Control-Request-Headers", "x-csrftoken"}});
        ASSERT_TRUE(pre) << origin;
        EXPECT_EQ(pre->status, 204u) << origin;
        auto actual = c.request("GET", "/api/orders/", [&] {
            Headers h = bearer(simplejwt_token("access", 300));
            h.emplace_back("Origin", origin);
            return h;
        }());
        ASSERT_TRUE(actual) << origin;
        EXPECT_EQ(actual->status, 200u) << origin;  // the browser enforces CORS, not the gateway
        for (const auto* r : {&*pre, &*actual}) {
            for (const auto& field : r->headers) {
                const auto name = field.name_string();
                EXPECT_FALSE(boost::beast::iequals(name.substr(0, 15), "Access-Control-")) << origin << ": " << name;
            }
            EXPECT_EQ(r->header("Vary").find("Origin"), 0u) << origin;  // caches still key on it
        }
    }
}

}  // namespace
}  // namespace authgate::test
