// CORS end to end through the real proxy: preflights answered by the gateway, actual
// responses (the backend's own CORS headers replaced), and gateway-made errors that a
// browser must still be able to read.
#include <ctime>
#include <map>
#include <set>

#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "jwt/key.h"
#include "jwt/signer.h"
#include "support/harness.h"

namespace authgate::test {
namespace {
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kSecret = "cors-integration-secret-0123456789abcdef";
const std::string kApp = "https://app.example.com";

std::string token(boost::json::object extra = {}) {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    boost::json::object p{{"sub", "alice"}, {"iat", now}, {"exp", now + 600}};
    for (const auto& kv : extra) p[kv.key()] = kv.value();
    auto key = jwt::Key::from_secret(kSecret).key;
    return jwt::make_token(jwt::Algorithm::HS256, *key, {}, p).value_or("");
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && boost::beast::iequals(s.substr(0, prefix.size()), prefix);
}

// Every Access-Control-* header of a response, name (lower case) -> values.
std::map<std::string, std::vector<std::string>> access_control(const Response& r) {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& f : r.headers) {
        if (!starts_with_ci(f.name_string(), "access-control-")) continue;
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out[name].emplace_back(f.value());
    }
    return out;
}

// Every Vary token over all Vary lines, as written (order kept).
std::vector<std::string> vary_tokens(const Response& r) {
    std::vector<std::string> out;
    for (const auto& f : r.headers) {
        if (!boost::beast::iequals(f.name_string(), "vary")) continue;
        std::string_view v = f.value();
        while (!v.empty()) {
            auto comma = v.find(',');
            auto item = v.substr(0, comma);
            while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
            while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
            if (!item.empty()) out.emplace_back(item);
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    return out;
}

std::size_t vary_count(const Response& r, std::string_view token) {
    std::size_t n = 0;
    for (const auto& t : vary_tokens(r)) n += boost::beast::iequals(t, token) ? 1 : 0;
    return n;
}

Headers preflight_headers(const std::string& origin, std::string method = "POST",
                          std::string request_headers = "authorization, content-type") {
    Headers h{{"Origin", origin}, {"Access-Control-Request-Method", std::move(method)}};
    if (!request_headers.empty()) h.emplace_back("Access-Control-Request-Headers", std::move(request_headers));
    return h;
}

using AC = std::map<std::string, std::vector<std::string>>;

// The headers an allowed origin gets on an actual response of the "web" policy.
AC web_actual(const std::string& origin) {
    return {{"access-control-allow-origin", {origin}},
            {"access-control-allow-credentials", {"true"}},
            {"access-control-expose-headers", {"X-Request-Id, X-Trace"}}};
}

class CorsTest : public GatewayTest {
protected:
    void SetUp() override {
        cfg = base_config(backend.port());
        config::CorsPolicy web;
        web.name = "web";
        web.allow_origins = {kApp};
        web.allow_origin_regexes = {R"(^https://[a-z0-9-]+\.example\.com$)"};
        web.allow_methods = {"GET", "POST", "PUT", "DELETE"};
        web.allow_headers = {"authorization", "content-type", "x-requested-with"};
        web.expose_headers = {"X-Request-Id", "X-Trace"};
        web.allow_credentials = true;
        web.max_age = 600;
        web.allow_private_network = true;
        config::CorsPolicy open;
        open.name = "open";
        open.allow_all_origins = true;
        config::CorsPolicy open_cred = open;
        open_cred.name = "open-cred";
        open_cred.allow_credentials = true;
        cfg.cors.policies = {web, open, open_cred};

        cfg.jwt.providers = {hs256_provider("hs", kSecret)};

        config::Upstream dead;
        dead.name = "dead";
        dead.endpoints.push_back({"http", "127.0.0.1", dead_port()});
        cfg.upstreams.push_back(dead);

        auto with_cors = [](config::Route r, std::string policy) {
            r.cors = std::move(policy);
            return r;
        };
        auto secured = [](config::Route r) {
            r.auth.none = false;
            r.auth.providers = {"hs"};
            return r;
        };
        auto scoped = secured(with_cors(route("scoped", "/scoped/"), "web"));
        scoped.auth.claims = {{"roles", {"admin"}}};
        cfg.routes = {
            with_cors(route("web", "/web/"), "web"),
            secured(with_cors(route("secure", "/secure/"), "web")),
            scoped,
            route("plain", "/plain/"),
            with_cors(route("open", "/open/"), "open"),
            with_cors(route("open-cred", "/open-cred/"), "open-cred"),
            with_cors(route("dead", "/dead/", "dead"), "web"),
        };
    }
};

TEST_F(CorsTest, PreflightIsAnsweredByTheGatewayWithExactHeaders) {
    Client c(gw().port());
    for (const char* path : {"/web/items", "/secure/items"}) {  // /secure needs a token, a preflight never does
        SCOPED_TRACE(path);
        auto r = c.request("OPTIONS", path, preflight_headers(kApp));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 204u) << r->body;
        EXPECT_TRUE(r->body.empty());
        EXPECT_FALSE(r->headers.count("WWW-Authenticate"));
        AC expected{{"access-control-allow-origin", {kApp}},
                    {"access-control-allow-methods", {"GET, POST, PUT, DELETE"}},
                    {"access-control-allow-headers", {"authorization, content-type, x-requested-with"}},
                    {"access-control-max-age", {"600"}},
                    {"access-control-allow-credentials", {"true"}}};
        EXPECT_EQ(access_control(*r), expected);
        EXPECT_EQ(r->count("Vary"), 1u);
        EXPECT_EQ(r->header("Vary"), "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
        EXPECT_TRUE(r->keep_alive);
    }
    // A preflight without Access-Control-Request-Headers is answered the same way.
    auto r = c.request("OPTIONS", "/secure/x", preflight_headers(kApp, "DELETE", ""));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204u);
    EXPECT_EQ(r->header("Access-Control-Allow-Origin"), kApp);
    EXPECT_EQ(backend.requests(), 0u);
}

TEST_F(CorsTest, PreflightFromDisallowedOriginIs204WithoutCorsHeaders) {
    Client c(gw().port());
    for (std::string origin : {"https://evil.example.net", "null", "https://app.example.com.evil.net", "not an origin"}) {
        SCOPED_TRACE(origin);
        auto r = c.request("OPTIONS", "/secure/x", preflight_headers(origin));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 204u);
        EXPECT_TRUE(access_control(*r).empty());
        EXPECT_EQ(vary_count(*r, "Origin"), 1u);
    }
    EXPECT_EQ(backend.requests(), 0u);
}

TEST_F(CorsTest, PreflightOnRouteWithoutPolicyIsForwarded) {
    Client c(gw().port());
    auto r = c.request("OPTIONS", "/plain/x", preflight_headers(kApp));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(echoed_field(r->body, "method"), "OPTIONS");
    EXPECT_EQ(echoed_header(r->body, "Access-Control-Request-Method"), "POST");
    EXPECT_EQ(echoed_header(r->body, "Origin"), kApp);
    EXPECT_TRUE(access_control(*r).empty());
    EXPECT_EQ(vary_count(*r, "Origin"), 0u);
    EXPECT_EQ(backend.requests(), 1u);
}

TEST_F(CorsTest, OptionsWithoutRequestMethodIsAnOrdinaryRequest) {
    Client c(gw().port());
    auto r = c.request("OPTIONS", "/web/x", {{"Origin", kApp}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(echoed_field(r->body, "method"), "OPTIONS");
    EXPECT_EQ(access_control(*r), web_actual(kApp));
    // On an auth route it needs a token like any request.
    auto r2 = c.request("OPTIONS", "/secure/x", {{"Origin", kApp}});
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->status, 401u);
    EXPECT_EQ(backend.requests(), 1u);
}

TEST_F(CorsTest, ActualRequestFromAllowedOrigin) {
    Client c(gw().port());
    auto r = c.request("GET", "/web/x", {{"Origin", kApp}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(access_control(*r), web_actual(kApp));
    EXPECT_EQ(r->count("Vary"), 1u);
    EXPECT_EQ(r->header("Vary"), "Origin");
    // The origin reaches the upstream unchanged.
    EXPECT_EQ(echoed_header(r->body, "Origin"), kApp);

    auto post = c.request("POST", "/secure/x", {{"Origin", kApp}, {"Authorization", "Bearer " + token()}}, "{}");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 200u);
    EXPECT_EQ(echoed_header(post->body, "X-User-Id"), "alice");
    EXPECT_EQ(access_control(*post), web_actual(kApp));
    EXPECT_EQ(vary_count(*post, "Origin"), 1u);
}

TEST_F(CorsTest, DisallowedOrAbsentOriginProceedsWithoutCorsHeaders) {
    Client c(gw().port());
    const std::vector<Headers> cases = {
        {{"Origin", "https://evil.example.net"}}, {}, {{"Origin", "null"}}, {{"Origin", "http://app.example.com"}}};
    for (const auto& h : cases) {
        auto r = c.request("GET", "/web/x", h);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
        EXPECT_TRUE(access_control(*r).empty()) << (h.empty() ? "no origin" : h[0].second);
        EXPECT_EQ(r->header("Vary"), "Origin");
    }
    EXPECT_EQ(backend.requests(), cases.size());
}

TEST_F(CorsTest, UpstreamCorsHeadersAreReplacedAndVaryMerged) {
    Client c(gw().port());
    auto r = c.request("GET", "/web/x?cors=1", {{"Origin", kApp}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->count("Access-Control-Allow-Origin"), 1u);
    EXPECT_EQ(access_control(*r), web_actual(kApp));
    EXPECT_EQ(vary_count(*r, "Accept-Encoding"), 1u);
    EXPECT_EQ(vary_count(*r, "Origin"), 1u);
    EXPECT_EQ(vary_tokens(*r).size(), 2u);

    // Disallowed origin: the upstream's "*" is dropped, not passed through.
    auto evil = c.request("GET", "/web/x?cors=1", {{"Origin", "https://evil.example.net"}});
    ASSERT_TRUE(evil);
    EXPECT_TRUE(access_control(*evil).empty());
    EXPECT_EQ(vary_count(*evil, "Accept-Encoding"), 1u);
    EXPECT_EQ(vary_count(*evil, "Origin"), 1u);

    // A wildcard policy answers "*" once and leaves the upstream's Vary alone.
    auto open = c.request("GET", "/open/x?cors=1", {{"Origin", "https://anyone.test"}});
    ASSERT_TRUE(open);
    AC star{{"access-control-allow-origin", {"*"}}};
    EXPECT_EQ(access_control(*open), star);
    EXPECT_EQ(vary_count(*open, "Accept-Encoding"), 1u);
    EXPECT_EQ(vary_count(*open, "Origin"), 0u);

    // Without a policy the gateway does not speak CORS: the upstream's headers pass.
    auto plain = c.request("GET", "/plain/x?cors=1", {{"Origin", kApp}});
    ASSERT_TRUE(plain);
    EXPECT_EQ(access_control(*plain), star);
    EXPECT_EQ(plain->header("Vary"), "Accept-Encoding");
}

TEST_F(CorsTest, AllowAllOriginsWithAndWithoutCredentials) {
    Client c(gw().port());
    auto r = c.request("GET", "/open/x", {{"Origin", "https://anyone.test"}});
    ASSERT_TRUE(r);
    AC star{{"access-control-allow-origin", {"*"}}};
    EXPECT_EQ(access_control(*r), star);
    EXPECT_EQ(vary_count(*r, "Origin"), 0u);

    auto pre = c.request("OPTIONS", "/open/x", preflight_headers("https://anyone.test"));
    ASSERT_TRUE(pre);
    EXPECT_EQ(pre->status, 204u);
    EXPECT_EQ(pre->header("Access-Control-Allow-Origin"), "*");
    EXPECT_FALSE(pre->headers.count("Access-Control-Allow-Credentials"));
    EXPECT_EQ(vary_count(*pre, "Origin"), 0u);

    auto cred = c.request("GET", "/open-cred/x", {{"Origin", "https://anyone.test"}});
    ASSERT_TRUE(cred);
    AC reflected{{"access-control-allow-origin", {"https://anyone.test"}},
                 {"access-control-allow-credentials", {"true"}}};
    EXPECT_EQ(access_control(*cred), reflected);
    EXPECT_EQ(cred->header("Vary"), "Origin");

    auto cred_pre = c.request("OPTIONS", "/open-cred/x", preflight_headers("https://anyone.test"));
    ASSERT_TRUE(cred_pre);
    EXPECT_EQ(cred_pre->status, 204u);
    EXPECT_EQ(cred_pre->header("Access-Control-Allow-Origin"), "https://anyone.test");
    EXPECT_EQ(cred_pre->header("Access-Control-Allow-Credentials"), "true");
    EXPECT_EQ(vary_count(*cred_pre, "Origin"), 1u);

    // Even allow-all refuses what is not an origin at all.
    auto junk = c.request("GET", "/open-cred/x", {{"Origin", "javascript:alert(1)"}});
    ASSERT_TRUE(junk);
    EXPECT_TRUE(access_control(*junk).empty());
    EXPECT_EQ(backend.requests(), 3u);
}

TEST_F(CorsTest, GatewayErrorsCarryCorsHeaders) {
    auto expect_cors = [](const std::optional<Response>& r, unsigned status) {
        ASSERT_TRUE(r) << status;
        EXPECT_EQ(r->status, status) << r->body;
        EXPECT_EQ(access_control(*r), web_actual(kApp)) << status;
        EXPECT_EQ(vary_count(*r, "Origin"), 1u) << status;
        EXPECT_EQ(r->header("Content-Type"), "application/json") << status;
    };
    {
        Client c(gw().port());
        auto missing = c.request("GET", "/secure/x", {{"Origin", kApp}});
        expect_cors(missing, 401u);
        EXPECT_EQ(missing->header("WWW-Authenticate"), "Bearer realm=\"authgate\"");
        expect_cors(c.request("GET", "/secure/x", {{"Origin", kApp}, {"Authorization", "Bearer x.y.z"}}), 401u);
        expect_cors(c.request("GET", "/scoped/x", {{"Origin", kApp}, {"Authorization", "Bearer " + token()}}), 403u);
        expect_cors(c.request("GET", "/dead/x", {{"Origin", kApp}}), 502u);
        // A disallowed origin still gets the error, without CORS headers but with Vary.
        auto evil = c.request("GET", "/secure/x", {{"Origin", "https://evil.example.net"}});
        ASSERT_TRUE(evil);
        EXPECT_EQ(evil->status, 401u);
        EXPECT_TRUE(access_control(*evil).empty());
        EXPECT_EQ(vary_count(*evil, "Origin"), 1u);
    }
    EXPECT_EQ(backend.requests(), 0u);
}

TEST_F(CorsTest, TooLargeBodiesAre413WithCorsHeaders) {
    cfg.server.limits.max_body_bytes = 1000;
    {
        Client c(gw().port());
        c.send("POST /web/x HTTP/1.1\r\nHost: a\r\nOrigin: " + kApp + "\r\nContent-Length: 5000\r\n\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413u);
        EXPECT_NE(r->body.find("body_too_large"), std::string::npos);
        EXPECT_EQ(access_control(*r), web_actual(kApp));
        EXPECT_EQ(vary_count(*r, "Origin"), 1u);
    }
    {
        Client c(gw().port());
        std::string chunk(600, 'a');
        c.send("POST /web/x HTTP/1.1\r\nHost: a\r\nOrigin: " + kApp +
               "\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413u);
        EXPECT_EQ(access_control(*r), web_actual(kApp));
        EXPECT_EQ(vary_count(*r, "Origin"), 1u);
    }
}

TEST_F(CorsTest, GatewayTimeoutCarriesCorsHeaders) {
    cfg.server.timeouts.upstream_response = 300ms;
    Client c(gw().port());
    auto r = c.request("GET", "/web/x?delay_ms=3000", {{"Origin", kApp}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 504u);
    EXPECT_NE(r->body.find("gateway_timeout"), std::string::npos);
    EXPECT_EQ(access_control(*r), web_actual(kApp));
    EXPECT_EQ(vary_count(*r, "Origin"), 1u);
}

TEST_F(CorsTest, OriginRegexMustMatchTheWholeOrigin) {
    Client c(gw().port());
    for (std::string origin : {"https://a.example.com", "https://api-2.example.com"}) {
        auto r = c.request("GET", "/web/x", {{"Origin", origin}});
        ASSERT_TRUE(r);
        EXPECT_EQ(access_control(*r), web_actual(origin)) << origin;
        auto pre = c.request("OPTIONS", "/web/x", preflight_headers(origin));
        ASSERT_TRUE(pre);
        EXPECT_EQ(pre->header("Access-Control-Allow-Origin"), origin);
    }
    for (std::string origin : {"https://a.example.com.evil.net", "https://evil.net/https://a.example.com",
                               "https://a.b.example.com", "http://a.example.com", "https://a.example.com:8443",
                               "https://example.com", "xhttps://a.example.com"}) {
        auto r = c.request("GET", "/web/x", {{"Origin", origin}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
        EXPECT_TRUE(access_control(*r).empty()) << origin;
        auto pre = c.request("OPTIONS", "/web/x", preflight_headers(origin));
        ASSERT_TRUE(pre);
        EXPECT_EQ(pre->status, 204u);
        EXPECT_TRUE(access_control(*pre).empty()) << origin;
    }
}

TEST_F(CorsTest, PrivateNetworkPreflight) {
    Client c(gw().port());
    auto with_pna = [](std::string origin) {
        auto h = preflight_headers(std::move(origin));
        h.emplace_back("Access-Control-Request-Private-Network", "true");
        return h;
    };
    auto r = c.request("OPTIONS", "/web/x", with_pna(kApp));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204u);
    EXPECT_EQ(r->header("Access-Control-Allow-Private-Network"), "true");
    EXPECT_EQ(r->header("Access-Control-Allow-Origin"), kApp);

    // Not asked: not answered.
    auto plain = c.request("OPTIONS", "/web/x", preflight_headers(kApp));
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->headers.count("Access-Control-Allow-Private-Network"));
    // Asked, but the policy does not allow it.
    auto denied = c.request("OPTIONS", "/open-cred/x", with_pna(kApp));
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 204u);
    EXPECT_EQ(denied->header("Access-Control-Allow-Origin"), kApp);
    EXPECT_FALSE(denied->headers.count("Access-Control-Allow-Private-Network"));
    // Asked by a disallowed origin: nothing.
    auto evil = c.request("OPTIONS", "/web/x", with_pna("https://evil.example.net"));
    ASSERT_TRUE(evil);
    EXPECT_TRUE(access_control(*evil).empty());
    EXPECT_EQ(backend.requests(), 0u);
}

}  // namespace
}  // namespace authgate::test

namespace authgate::test {
namespace {

// A route limited to some methods still has its preflights answered: the preflight is
// routed as the method it announces, not as OPTIONS.
TEST_F(CorsTest, PreflightOnMethodRestrictedRouteIsAnswered) {
    auto limited = route("limited", "/limited/");
    limited.cors = "web";
    limited.match.methods = {"GET", "POST"};
    cfg.routes.insert(cfg.routes.begin(), limited);
    Client c(gw().port());
    auto r = c.request("OPTIONS", "/limited/x", preflight_headers(kApp, "POST"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204u);
    EXPECT_EQ(r->header("Access-Control-Allow-Origin"), kApp);
    // A preflight announcing a method no route takes is not answered as a preflight.
    auto other = c.request("OPTIONS", "/limited/x", preflight_headers(kApp, "DELETE"));
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 404u);
    EXPECT_EQ(backend.requests(), 0u);
}

// A 404 on a path a policy route covers (wrong method) is readable by browser code.
TEST_F(CorsTest, NotFoundCarriesTheCorsHeadersOfTheRouteThePathAimedAt) {
    auto limited = route("limited", "/limited/");
    limited.cors = "web";
    limited.match.methods = {"GET"};
    cfg.routes = {limited};
    Client c(gw().port());
    auto r = c.request("DELETE", "/limited/x", {{"Origin", kApp}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404u);
    EXPECT_EQ(access_control(*r), web_actual(kApp));
    EXPECT_EQ(vary_count(*r, "Origin"), 1u);
    auto nowhere = c.request("GET", "/nowhere", {{"Origin", kApp}});
    ASSERT_TRUE(nowhere);
    EXPECT_EQ(nowhere->status, 404u);
    EXPECT_TRUE(access_control(*nowhere).empty());
}

}  // namespace
}  // namespace authgate::test
