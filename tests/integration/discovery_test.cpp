// OpenID discovery and the key cache file through the real gateway: a local issuer serving
// its configuration document and key set, and a gateway that fetches through discovery,
// writes the cache file, and, started while the issuer is down, answers 503 without a
// cache file but serves from one (ready, and saying so on /readyz) with it. Reload included.
#include <sys/stat.h>

#include <ctime>
#include <filesystem>

#include <gtest/gtest.h>

#include "jwt/key_cache_file.h"
#include "jwt/provider.h"
#include "jwt/signer.h"
#include "proxy/snapshot.h"
#include "support/harness.h"
#include "unit/jwt/jwks_server.h"
#include "unit/jwt/jwt_test_util.h"

namespace authgate::test {
namespace {
using namespace std::chrono_literals;
namespace jt = authgate::jwt::test;
namespace fs = std::filesystem;

config::Route auth_route(std::string name, std::string prefix, std::vector<std::string> providers) {
    auto r = route(std::move(name), std::move(prefix));
    r.auth.none = false;
    r.auth.providers = std::move(providers);
    return r;
}

class DiscoveryGatewayTest : public GatewayTest {
protected:
    void SetUp() override {
        for (int i = 0;; ++i) {
            dir_ = fs::temp_directory_path() / ("authgate-discovery-" + std::to_string(::getpid()) + "-" + std::to_string(i));
            if (fs::create_directory(dir_)) break;
        }
        issuer_.set(jt::kOpenIdConfigurationPath, jt::openid_configuration(issuer_.origin(), issuer_.url("/keys")));
        issuer_.set("/keys", jt::jwks_json({jt::jwk_for("rsa", "k1")}));
        config::JwtProvider sso;
        sso.name = "sso";
        sso.issuers = {issuer_.origin()};
        sso.algorithms = {"RS256"};
        sso.discovery = true;
        sso.discovery_url = issuer_.url(jt::kOpenIdConfigurationPath);
        sso.keys.jwks_refresh = 1h;
        sso.keys.jwks_cache_file = cache_file();
        cfg.jwt.providers.push_back(sso);
        cfg.admin = config::Admin{{"127.0.0.1", 0}, {}};
        cfg.routes.insert(cfg.routes.begin(), auth_route("sso", "/sso/", {"sso"}));
    }
    void TearDown() override {
        gateway.reset();  // its fetcher first, then the issuer it fetches from
        issuer_.stop();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    std::string cache_file() const { return (dir_ / "sso.jwks.json").string(); }
    std::string token() const {
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        return jt::sign_token(jwt::Algorithm::RS256, *jt::private_key("rsa"),
                              boost::json::object{{"sub", "alice"}, {"iss", issuer_.origin()}, {"iat", now},
                                                  {"exp", now + 600}},
                              {{"kid", "k1"}});
    }
    // A gateway started now, once its first fetch attempt is over.
    Gateway& started() {
        auto& g = gw();
        EXPECT_TRUE(g.snapshot()->providers->wait_for_first_fetch(10s));
        return g;
    }
    std::optional<Response> get(const std::string& target) {
        Client c(gateway->port());  // a new connection: it starts under the latest snapshot
        return c.request("GET", target, {{"Authorization", "Bearer " + token()}});
    }
    unsigned status_of(const std::string& target) {
        auto r = get(target);
        return r ? r->status : 0u;
    }
    std::optional<Response> admin(const std::string& target) {
        Client c(gateway->server().admin_port().value_or(0));
        return c.request("GET", target);
    }
    std::vector<std::string> dir_entries() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
        return out;
    }

    jt::JwksServer issuer_;
    fs::path dir_;
};

TEST_F(DiscoveryGatewayTest, FetchesThroughDiscoveryAndWritesTheCacheFile) {
    started();
    auto r = get("/sso/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    auto ready = admin("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200u);
    EXPECT_EQ(ready->body, "ready\n");
    EXPECT_EQ(issuer_.requests(jt::kOpenIdConfigurationPath), 1);
    EXPECT_EQ(issuer_.requests("/keys"), 1);

    EXPECT_EQ(dir_entries(), std::vector<std::string>{"sso.jwks.json"});  // no temporary file left behind
    struct stat st {};
    ASSERT_EQ(::stat(cache_file().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const auto cached = jwt::read_key_cache(cache_file(), issuer_.url(jt::kOpenIdConfigurationPath), 1h,
                                            std::chrono::system_clock::now());
    ASSERT_TRUE(cached.keys) << cached.error;
    EXPECT_EQ(cached.keys->jwks_uri, issuer_.url("/keys"));

    const auto metrics = admin("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("authgate_jwks_key_source{provider=\"sso\",source=\"fetched\"} 1\n"), std::string::npos)
        << metrics->body;
    EXPECT_NE(metrics->body.find("authgate_oidc_discovery_fetches_total{provider=\"sso\",result=\"success\"} 1\n"),
              std::string::npos)
        << metrics->body;
}

TEST_F(DiscoveryGatewayTest, IssuerDownAtStartWithoutACacheFileIs503) {
    issuer_.set(jt::kOpenIdConfigurationPath, "down", 503);
    started();
    auto r = get("/sso/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503u) << r->body;
    EXPECT_FALSE(r->header("Retry-After").empty());
    auto ready = admin("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 503u);
    EXPECT_EQ(ready->body, "not ready: jwt provider(s) 'sso' have not obtained keys from their jwks_url yet\n");
    EXPECT_EQ(backend.requests(), 0u);
    EXPECT_TRUE(dir_entries().empty());  // nothing good fetched, nothing written
}

TEST_F(DiscoveryGatewayTest, IssuerDownAtStartServesTheCacheFileAndKeepsItAcrossAReload) {
    // A first run with the issuer up leaves the cache file behind.
    started();
    ASSERT_EQ(status_of("/sso/x"), 200u);
    gateway.reset();
    ASSERT_TRUE(fs::exists(cache_file()));

    // The issuer is down when the gateway starts again.
    issuer_.set(jt::kOpenIdConfigurationPath, "down", 503);
    auto& g = started();
    auto r = get("/sso/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    const auto ready = [&] {
        auto a = admin("/readyz");
        return a ? std::to_string(a->status) + " " + a->body : std::string("no answer");
    };
    const std::string cached_note_start = "200 ready (jwt provider sso: serving cached keys fetched ";
    EXPECT_EQ(ready().rfind(cached_note_start, 0), 0u) << ready();
    EXPECT_NE(ready().find("Z; issuer unreachable)\n"), std::string::npos) << ready();
    const auto metrics = admin("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("authgate_jwks_key_source{provider=\"sso\",source=\"cache_file\"} 1\n"),
              std::string::npos)
        << metrics->body;

    // A reload (what SIGHUP does) with the provider unchanged keeps the cached keys.
    auto next_cfg = cfg;
    next_cfg.routes.insert(next_cfg.routes.begin(), auth_route("after", "/after/", {"sso"}));
    config::Diagnostics diag;
    auto next = proxy::Snapshot::compile(next_cfg, diag);
    ASSERT_TRUE(next) << (diag.errors().empty() ? "" : diag.errors().front());
    g.server().reload(next);
    EXPECT_EQ(status_of("/after/x"), 200u);
    ASSERT_TRUE(next->providers->wait_for_first_fetch(10s));  // the new fetcher's first try failed too
    EXPECT_EQ(status_of("/after/x"), 200u);
    EXPECT_EQ(ready().rfind(cached_note_start, 0), 0u) << ready();
}

TEST_F(DiscoveryGatewayTest, IssuerMismatchIsRefused) {
    issuer_.set(jt::kOpenIdConfigurationPath, jt::openid_configuration("https://evil.example", issuer_.url("/keys")));
    auto& g = started();
    const auto st = g.snapshot()->providers->find("sso")->jwks_stats();
    EXPECT_NE(st.last_error.find("issuer mismatch: the document names 'https://evil.example'"), std::string::npos)
        << st.last_error;
    EXPECT_EQ(issuer_.requests("/keys"), 0);
    auto r = get("/sso/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503u) << r->body;
}

}  // namespace
}  // namespace authgate::test
