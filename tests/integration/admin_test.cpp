// The admin listener end to end: /healthz, /readyz, /metrics on their own port, next to a
// real proxy in front of the demo backend. Counters are written by a worker after it sent
// the response, so a test reads them by scraping until they match or a deadline passes.
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "jwt/signer.h"
#include "observe/metrics.h"
#include "support/harness.h"
#include "unit/jwt/jwks_server.h"
#include "unit/jwt/jwt_test_util.h"

namespace authgate::test {
namespace {
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kSecret = "admin-test-hs256-secret-0123456789abcdef";

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string hs256(std::int64_t ttl = 600, const std::string& secret = kSecret) {
    auto key = jwt::Key::from_secret(secret).key;
    EXPECT_TRUE(key);
    auto t = jwt::make_token(jwt::Algorithm::HS256, *key, {},
                             boost::json::object{{"sub", "alice"}, {"iat", now() - 10}, {"exp", now() + ttl}});
    EXPECT_TRUE(t);
    return t.value_or("");
}

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

config::Route auth_route(std::string name, std::string prefix, config::RouteAuth::Mode mode) {
    auto r = route(std::move(name), std::move(prefix));
    r.auth.none = false;
    r.auth.providers = {"hs"};
    r.auth.mode = mode;
    return r;
}

// The value of one exact series as a double (timestamps), or -1 when it is absent.
double value(const std::string& text, const std::string& name_and_labels) {
    const std::string prefix = "\n" + name_and_labels + " ";
    const auto at = ("\n" + text).find(prefix);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + prefix.size() - 1));
}

// The value of one exact series in an exposition, or -1 when it is absent.
long long series(const std::string& text, const std::string& name_and_labels) {
    const std::string prefix = name_and_labels + " ";
    for (std::size_t pos = 0; pos < text.size();) {
        auto end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + pos, end - pos);
        if (line.substr(0, prefix.size()) == prefix) return std::stoll(std::string(line.substr(prefix.size())));
        pos = end + 1;
    }
    return -1;
}

class AdminTest : public GatewayTest {
protected:
    void SetUp() override {
        cfg.admin = config::Admin{{"127.0.0.1", 0}, {}};
        cfg.jwt.providers = {hs256_provider("hs", kSecret)};
        cfg.routes = {route("public", "/public/"), auth_route("api", "/api/", config::RouteAuth::Mode::required),
                      auth_route("shadow", "/shadow/", config::RouteAuth::Mode::report_only)};
    }

    std::uint16_t admin_port() {
        auto p = gw().server().admin_port();
        EXPECT_TRUE(p);
        return p.value_or(0);
    }

    std::optional<Response> admin(std::string_view method, std::string_view target, const Headers& headers = {}) {
        Client c(admin_port());
        return c.request(method, target, headers);
    }

    std::string scrape() {
        auto r = admin("GET", "/metrics");
        EXPECT_TRUE(r);
        return r ? r->body : std::string();
    }

    // Scrapes until the series has the value (bounded): the worker counts after it wrote.
    ::testing::AssertionResult metric_becomes(const std::string& series_name, long long want) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        std::string text;
        long long got = -1;
        do {
            text = scrape();
            got = series(text, series_name);
            if (got == want) return ::testing::AssertionSuccess();
        } while (std::chrono::steady_clock::now() < deadline);
        return ::testing::AssertionFailure() << series_name << " is " << got << ", want " << want << "\n" << text;
    }
};

TEST_F(AdminTest, HealthzAndReadyzAnswer200WhileServing) {
    auto h = admin("GET", "/healthz");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200u);
    EXPECT_EQ(h->body, "ok\n");
    EXPECT_EQ(h->header("Cache-Control"), "no-store");
    auto r = admin("GET", "/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    // A query string does not change the resource (probes add cache busters).
    auto q = admin("GET", "/healthz?x=1");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->status, 200u);
}

TEST_F(AdminTest, HeadHasTheHeadersOfGetWithoutABody) {
    Client c(admin_port());
    auto r = c.request("HEAD", "/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->header("Content-Length"), "3");
    EXPECT_TRUE(r->body.empty());
    // The connection is still in sync: no stray body bytes in front of the next response.
    auto next = c.request("GET", "/healthz");
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, "ok\n");
}

TEST_F(AdminTest, UnknownPathIs404AndOtherMethodsAre405) {
    auto nf = admin("GET", "/nope");
    ASSERT_TRUE(nf);
    EXPECT_EQ(nf->status, 404u);
    for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
        auto r = admin(method, "/metrics");
        ASSERT_TRUE(r) << method;
        EXPECT_EQ(r->status, 405u) << method;
        EXPECT_EQ(r->header("Allow"), "GET, HEAD") << method;
    }
}

TEST_F(AdminTest, TheAdminPortNeverProxies) {
    auto r = admin("GET", "/public/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404u);
    auto a = admin("GET", "/api/x", bearer(hs256()));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 404u);
    EXPECT_EQ(backend.requests(), 0u);
    // And the proxy port knows nothing of the admin paths.
    Client c(gw().port());
    auto p = c.request("GET", "/metrics");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status, 404u);
    EXPECT_EQ(p->header("Content-Type"), "application/json");
}

TEST_F(AdminTest, KeepAliveAndConnectionClose) {
    Client c(admin_port());
    for (int i = 0; i < 3; ++i) {
        auto r = c.request("GET", "/healthz");
        ASSERT_TRUE(r);
        EXPECT_TRUE(r->keep_alive);
    }
    auto last = c.request("GET", "/healthz", {{"Connection", "close"}});
    ASSERT_TRUE(last);
    EXPECT_FALSE(last->keep_alive);
    EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(AdminTest, ASlowClientIsCutOffByTheHeaderTimeout) {
    cfg.server.timeouts.header = 300ms;
    Client c(admin_port(), 5s);
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finishes its header
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
    // One that connects and says nothing gets no longer (not the 5 s idle timeout).
    Client silent(admin_port(), 5s);
    const auto silent_start = std::chrono::steady_clock::now();
    EXPECT_TRUE(silent.closed_by_peer());
    EXPECT_LT(std::chrono::steady_clock::now() - silent_start, 4s);
    // The listener still serves everyone else.
    auto r = admin("GET", "/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
}

TEST_F(AdminTest, MetricsAreThePrometheusTextFormat) {
    auto r = admin("GET", "/metrics");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(r->body.find("# HELP authgate_requests_total "), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("# TYPE authgate_requests_total counter\n"), std::string::npos) << r->body;
    // Every sample line is `name{labels} value` or `name value`.
    std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? [0-9.e+-]+$)");
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        EXPECT_TRUE(std::regex_match(line, sample)) << line;
    }
}

TEST_F(AdminTest, RequestsAndDenialsAreCounted) {
    Client c(gw().port());
    auto ok = c.request("GET", "/public/a");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200u);
    auto missing = c.request("GET", "/api/a");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 401u);
    auto expired = c.request("GET", "/api/a", bearer(hs256(-100)));
    ASSERT_TRUE(expired);
    EXPECT_EQ(expired->status, 401u);
    auto good = c.request("GET", "/api/a", bearer(hs256()));
    ASSERT_TRUE(good);
    EXPECT_EQ(good->status, 200u);
    auto none = c.request("GET", "/elsewhere");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 404u);

    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"public\",code=\"200\"}", 1));
    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"api\",code=\"401\"}", 2));
    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"api\",code=\"200\"}", 1));
    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"\",code=\"404\"}", 1));
    EXPECT_TRUE(metric_becomes("authgate_request_duration_seconds_count{route=\"api\"}", 3));
    const auto text = scrape();
    EXPECT_EQ(series(text, "authgate_auth_denials_total{route=\"api\",reason=\"token_missing\"}"), 1) << text;
    EXPECT_EQ(series(text, "authgate_auth_denials_total{route=\"api\",reason=\"token_expired\"}"), 1) << text;
    EXPECT_EQ(series(text, "authgate_auth_report_only_total{route=\"api\",reason=\"token_expired\"}"), -1) << text;
}

TEST_F(AdminTest, ReportOnlyForwardsAndCountsTheWouldBeDenial) {
    Client c(gw().port());
    auto bad = c.request("GET", "/shadow/a", bearer(hs256(600, "some-other-secret-0123456789abcdefghij")));
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 200u) << bad->body;
    EXPECT_FALSE(echoed_header(bad->body, "X-User-Id"));
    auto none = c.request("GET", "/shadow/b");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 200u);
    auto good = c.request("GET", "/shadow/c", bearer(hs256()));
    ASSERT_TRUE(good);
    EXPECT_EQ(good->status, 200u);
    EXPECT_EQ(backend.requests(), 3u);

    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"shadow\",code=\"200\"}", 3));
    const auto text = scrape();
    EXPECT_EQ(series(text, "authgate_auth_report_only_total{route=\"shadow\",reason=\"signature_invalid\"}"), 1)
        << text;
    EXPECT_EQ(series(text, "authgate_auth_report_only_total{route=\"shadow\",reason=\"token_missing\"}"), 1) << text;
    // Nothing was refused: a report_only route has no denial series at all.
    EXPECT_EQ(text.find("authgate_auth_denials_total{route=\"shadow\""), std::string::npos) << text;
    EXPECT_EQ(series(text, "authgate_auth_denials_total{route=\"api\",reason=\"signature_invalid\"}"), 0) << text;
}

TEST_F(AdminTest, UpstreamErrorsAreCountedByKind) {
    config::Upstream dead;
    dead.name = "dead";
    dead.endpoints.push_back({"http", "127.0.0.1", dead_port()});
    cfg.upstreams.push_back(dead);
    cfg.routes.insert(cfg.routes.begin(), route("gone", "/gone/", "dead"));
    Client c(gw().port());
    auto r = c.request("GET", "/gone/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502u);
    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"gone\",code=\"502\"}", 1));
    EXPECT_EQ(series(scrape(), "authgate_upstream_errors_total{upstream=\"dead\",kind=\"connect_refused\"}"), 1);
}

TEST_F(AdminTest, ActiveConnectionsGauge) {
    EXPECT_TRUE(metric_becomes("authgate_connections_active", 0));
    Client c1(gw().port());
    Client c2(gw().port());
    ASSERT_TRUE(c1.request("GET", "/public/a"));
    ASSERT_TRUE(c2.request("GET", "/public/a"));
    EXPECT_TRUE(metric_becomes("authgate_connections_active", 2));
}

// (The proxy's max_connections test: the refusal is a 503, and /metrics counts it.)
TEST_F(AdminTest, MaxConnectionsAnswers503AndIsCounted) {
    cfg.server.limits.max_connections = 1;
    Client first(gw().port());
    ASSERT_EQ(first.request("GET", "/public/a")->status, 200u);
    Client second(gw().port());
    auto r = second.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503u);
    EXPECT_TRUE(metric_becomes("authgate_connections_total{result=\"refused\"}", 1));
    EXPECT_EQ(series(scrape(), "authgate_connections_total{result=\"accepted\"}"), 1);
}

TEST_F(AdminTest, ReadyzIs503UntilAJwksUrlProviderHasKeys) {
    cfg.jwt.providers.push_back(unreachable_jwks_provider("remote"));
    auto& g = gw();
    ASSERT_TRUE(g.snapshot()->providers->wait_for_first_fetch(10s));
    auto r = admin("GET", "/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503u);
    EXPECT_NE(r->body.find("'remote'"), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("'hs'"), std::string::npos) << r->body;  // static keys are always there
    // Alive all the same.
    auto h = admin("GET", "/healthz");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200u);
    const auto text = scrape();
    EXPECT_EQ(series(text, "authgate_jwks_keys_available{provider=\"remote\"}"), 0) << text;
    EXPECT_GE(series(text, "authgate_jwks_fetches_total{provider=\"remote\",result=\"failure\"}"), 1) << text;
}

TEST_F(AdminTest, ReadyzIs503WhileDraining) {
    auto before = admin("GET", "/readyz");
    ASSERT_TRUE(before);
    EXPECT_EQ(before->status, 200u);
    gw().server().shutdown();
    // The admin listener outlives the drain (it stops in wait()).
    auto r = admin("GET", "/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503u);
    EXPECT_NE(r->body.find("draining"), std::string::npos) << r->body;
    auto h = admin("GET", "/healthz");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200u);
}

// SIGTERM's path (Server::stop): not ready at once, but still accepting and serving for
// drain_delay, so a load balancer that has not yet seen /readyz fail loses no request.
TEST_F(AdminTest, StopIsNotReadyAtOnceButServesNewConnectionsForTheDrainDelay) {
    cfg.server.timeouts.drain_delay = std::chrono::milliseconds(1500);
    const auto port = gw().port();
    gw().server().stop();
    auto ready = admin("GET", "/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 503u);
    {
        Client c(port);  // opened after the stop, within the delay
        auto r = c.request("GET", "/public/x");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
    }
    // Then the listener closes: a new connection is refused (bounded wait).
    boost::asio::io_context ioc;
    bool refused = false;
    for (auto deadline = std::chrono::steady_clock::now() + 10s; !refused && std::chrono::steady_clock::now() < deadline;) {
        boost::asio::ip::tcp::socket s(ioc);
        boost::system::error_code ec;
        s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
        refused = static_cast<bool>(ec);
    }
    EXPECT_TRUE(refused) << "the listener still accepts after drain_delay";
    gw().server().wait();
}

TEST_F(AdminTest, RouteCountersSurviveAReload) {
    Client c(gw().port());
    ASSERT_TRUE(c.request("GET", "/public/a"));
    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"public\",code=\"200\"}", 1));

    // Same route names in another order, plus a new one.
    auto next_cfg = cfg;
    next_cfg.routes = {route("extra", "/extra/"), cfg.routes[2], cfg.routes[1], cfg.routes[0]};
    config::Diagnostics diag;
    auto next = proxy::Snapshot::compile(next_cfg, diag);
    ASSERT_TRUE(next) << (diag.errors().empty() ? "" : diag.errors().front());
    gw().server().reload(next);
    gw().server().reload_failed();

    // A new connection, so the request surely starts under the new snapshot.
    Client c2(gw().port());
    ASSERT_TRUE(c2.request("GET", "/public/b"));
    ASSERT_TRUE(c2.request("GET", "/extra/b"));
    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"extra\",code=\"200\"}", 1));
    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"public\",code=\"200\"}", 2));
    const auto text = scrape();
    EXPECT_EQ(series(text, "authgate_config_reloads_total{result=\"success\"}"), 1) << text;
    EXPECT_EQ(series(text, "authgate_config_reloads_total{result=\"failure\"}"), 1) << text;
}

// Alerts need 0 rather than nothing: a fresh gateway exports every series its routes,
// upstreams and caches can have, at 0; then each one moves with what it counts.
TEST_F(AdminTest, ZeroSeriesFromTheStartThenEachMoves) {
    config::CorsPolicy web;
    web.name = "web";
    web.allow_origins = {"https://app.example"};
    cfg.cors.policies = {web};
    cfg.routes[0].cors = "web";  // public
    const double started = static_cast<double>(now());
    auto text = scrape();
    for (const char* zero :
         {"authgate_auth_denials_total{route=\"api\",reason=\"token_missing\"}",
          "authgate_auth_denials_total{route=\"api\",reason=\"keys_unavailable\"}",
          "authgate_auth_report_only_total{route=\"shadow\",reason=\"token_missing\"}",
          "authgate_cors_preflights_total{route=\"public\",result=\"allowed\"}",
          "authgate_cors_preflights_total{route=\"public\",result=\"refused\"}",
          "authgate_cors_origins_refused_total{route=\"public\"}",
          "authgate_upstream_errors_total{upstream=\"backend\",kind=\"connect_refused\"}",
          "authgate_upstream_errors_total{upstream=\"backend\",kind=\"response_timeout\"}",
          "authgate_upstream_response_duration_seconds_count{upstream=\"backend\"}",
          "authgate_upstream_response_duration_seconds_bucket{upstream=\"backend\",le=\"+Inf\"}",
          "authgate_token_cache_hits_total", "authgate_token_cache_misses_total",
          "authgate_token_cache_evictions_total", "authgate_config_reloads_total{result=\"success\"}",
          "authgate_config_reloads_total{result=\"failure\"}",
          "authgate_connections_total{result=\"refused\"}"}) {
        EXPECT_EQ(series(text, zero), 0) << zero << "\n" << text;
    }
    // Series a route cannot have are not invented.
    EXPECT_EQ(series(text, "authgate_auth_denials_total{route=\"public\",reason=\"token_missing\"}"), -1);
    EXPECT_EQ(series(text, "authgate_cors_preflights_total{route=\"api\",result=\"allowed\"}"), -1);
    const double loaded = value(text, "authgate_config_last_reload_success_timestamp_seconds");
    EXPECT_GE(loaded, started - 60) << text;
    EXPECT_LE(loaded, started + 60) << text;
    EXPECT_GT(value(text, "process_start_time_seconds"), 0) << text;
    EXPECT_GT(value(text, "process_resident_memory_bytes"), 0) << text;
    EXPECT_GT(value(text, "process_open_fds"), 0) << text;

    Client c(gw().port());
    auto r = c.request("GET", "/api/a");  // denied
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401u);
    EXPECT_TRUE(metric_becomes("authgate_auth_denials_total{route=\"api\",reason=\"token_missing\"}", 1));

    r = c.request("OPTIONS", "/public/a",
                  {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "GET"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Access-Control-Allow-Origin"), "https://app.example");
    r = c.request("OPTIONS", "/public/a",
                  {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "GET"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->count("Access-Control-Allow-Origin"), 0u);
    EXPECT_TRUE(metric_becomes("authgate_cors_preflights_total{route=\"public\",result=\"allowed\"}", 1));
    EXPECT_TRUE(metric_becomes("authgate_cors_preflights_total{route=\"public\",result=\"refused\"}", 1));

    // Proxied: one with a refused origin, one allowed, then one token three times (cached
    // on its second verification, so a hit on the third).
    r = c.request("GET", "/public/a", {{"Origin", "https://evil.example"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    r = c.request("GET", "/public/a", {{"Origin", "https://app.example"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    const auto token = hs256();
    for (int i = 0; i < 3; ++i) {
        r = c.request("GET", "/api/a", bearer(token));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
    }
    EXPECT_TRUE(metric_becomes("authgate_cors_origins_refused_total{route=\"public\"}", 1));
    EXPECT_TRUE(metric_becomes("authgate_upstream_response_duration_seconds_count{upstream=\"backend\"}", 5));
    EXPECT_TRUE(metric_becomes("authgate_token_cache_hits_total", 1));
    EXPECT_TRUE(metric_becomes("authgate_token_cache_misses_total", 2));
    text = scrape();
    EXPECT_EQ(series(text, "authgate_upstream_errors_total{upstream=\"backend\",kind=\"connect_refused\"}"), 0);
    EXPECT_GT(value(text, "authgate_upstream_response_duration_seconds_sum{upstream=\"backend\"}"), 0) << text;

    config::Diagnostics diag;
    auto next = proxy::Snapshot::compile(cfg, diag);
    ASSERT_TRUE(next) << (diag.errors().empty() ? "" : diag.errors().front());
    gw().server().reload(next);
    text = scrape();
    EXPECT_EQ(series(text, "authgate_config_reloads_total{result=\"success\"}"), 1) << text;
    EXPECT_GE(value(text, "authgate_config_last_reload_success_timestamp_seconds"), loaded) << text;
    // Counters go on across the reload: nothing went back to 0.
    EXPECT_EQ(series(text, "authgate_token_cache_hits_total"), 1) << text;
    EXPECT_EQ(series(text, "authgate_auth_denials_total{route=\"api\",reason=\"token_missing\"}"), 1) << text;
}

// A jwks_url provider's keys: how many, and when they were last fetched (0: never).
TEST_F(AdminTest, JwksKeysAndLastSuccessPerProvider) {
    jwt::test::JwksServer issuer;
    issuer.set_body(jwt::test::jwks_json({jwt::test::jwk_for("rsa", "k1"), jwt::test::jwk_for("p256", "k2")}));
    config::JwtProvider fetched;
    fetched.name = "issuer";
    fetched.algorithms = {"RS256", "ES256"};
    fetched.keys.jwks_url = issuer.url();
    cfg.jwt.providers.push_back(fetched);
    cfg.jwt.providers.push_back(unreachable_jwks_provider("remote"));
    const double started = static_cast<double>(now());
    auto& g = gw();
    ASSERT_TRUE(g.snapshot()->providers->wait_for_first_fetch(10s));
    const auto text = scrape();
    EXPECT_EQ(series(text, "authgate_jwks_keys{provider=\"issuer\"}"), 2) << text;
    const double fetched_at = value(text, "authgate_jwks_last_success_timestamp_seconds{provider=\"issuer\"}");
    EXPECT_GE(fetched_at, started - 60) << text;
    EXPECT_LE(fetched_at, started + 60) << text;
    EXPECT_EQ(series(text, "authgate_jwks_last_success_timestamp_seconds{provider=\"remote\"}"), 0) << text;
    EXPECT_EQ(series(text, "authgate_jwks_keys{provider=\"remote\"}"), 0) << text;
    EXPECT_EQ(series(text, "authgate_jwks_keys{provider=\"hs\"}"), -1) << text;  // static keys only
    gateway.reset();  // before the issuer stops
}

// docs/operations.md is the metrics reference: every family the gateway exports, every
// reason label with its text and every upstream error kind is in it, so it cannot drift.
// Two issuers on one route: each token is decided by the provider its iss selects, so the
// first provider never counts (nor verifies) a token of the second.
TEST_F(AdminTest, JwtDecisionsAreCountedByTheProviderTheIssuerSelects) {
    const std::string kOther = "admin-test-other-secret-0123456789abcdef";
    auto first = hs256_provider("first", kSecret);
    first.issuers = {"https://first"};
    auto second = hs256_provider("second", kOther);
    second.issuers = {"https://second"};
    cfg.jwt.providers = {first, second};
    auto both = route("both", "/both/");
    both.auth.none = false;
    both.auth.providers = {"first", "second"};
    cfg.routes = {both};
    auto token = [&](std::int64_t ttl) {
        auto t = jwt::make_token(jwt::Algorithm::HS256, *jwt::Key::from_secret(kOther).key, {},
                                 boost::json::object{{"iss", "https://second"}, {"sub", "bob"}, {"iat", now() - 10},
                                                     {"exp", now() + ttl}});
        return t.value_or("");
    };
    Client c(gw().port());
    const auto zero = scrape();
    EXPECT_EQ(series(zero, "authgate_jwt_decisions_total{provider=\"first\",result=\"ok\"}"), 0) << zero;
    EXPECT_EQ(series(zero, "authgate_jwt_decisions_total{provider=\"second\",result=\"token_expired\"}"), 0) << zero;
    EXPECT_EQ(c.request("GET", "/both/a", bearer(token(600)))->status, 200u);
    EXPECT_EQ(c.request("GET", "/both/a", bearer(token(600)))->status, 200u);  // a cache hit decides too
    auto expired = c.request("GET", "/both/a", bearer(token(-100)));
    ASSERT_TRUE(expired);
    EXPECT_EQ(expired->status, 401u);
    EXPECT_NE(expired->body.find("token expired"), std::string::npos) << expired->body;
    EXPECT_EQ(c.request("GET", "/both/a")->status, 401u);  // no token: no provider decided

    EXPECT_TRUE(metric_becomes("authgate_requests_total{route=\"both\",code=\"401\"}", 2));
    const auto text = scrape();
    EXPECT_EQ(series(text, "authgate_jwt_decisions_total{provider=\"second\",result=\"ok\"}"), 2) << text;
    EXPECT_EQ(series(text, "authgate_jwt_decisions_total{provider=\"second\",result=\"token_expired\"}"), 1) << text;
    for (const char* result : {"ok", "signature_invalid", "token_expired", "token_missing"})
        EXPECT_EQ(series(text, std::string("authgate_jwt_decisions_total{provider=\"first\",result=\"") + result + "\"}"), 0)
            << result << "\n" << text;
}

TEST_F(AdminTest, EveryFamilyAndLabelValueIsInTheOperationsGuide) {
    std::ifstream f(std::string(AUTHGATE_SOURCE_DIR) + "/docs/operations.md");
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string doc = ss.str();
    ASSERT_FALSE(doc.empty());
    const auto text = scrape();
    std::istringstream in(text);
    std::size_t families = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# TYPE ", 0) != 0) continue;
        const std::string name = line.substr(7, line.find(' ', 7) - 7);
        EXPECT_NE(doc.find("`" + name + "`"), std::string::npos) << name << " is not documented";
        ++families;
    }
    EXPECT_GE(families, 25u) << text;
    for (std::size_t i = 0; i < observe::kAuthReasons; ++i) {
        const auto s = static_cast<jwt::Status>(i);
        if (s == jwt::Status::ok) continue;
        const std::string row = "| `" + std::string(jwt::label(s)) + "` | `" + std::string(jwt::to_string(s)) + "` |";
        EXPECT_NE(doc.find(row), std::string::npos) << row;
    }
    for (std::size_t i = 0; i < proxy::kUpstreamErrors; ++i) {
        const std::string kind(proxy::to_string(static_cast<proxy::UpstreamError>(i)));
        EXPECT_NE(doc.find("`" + kind + "`"), std::string::npos) << kind;
    }
}

TEST_F(AdminTest, AnAdminPortInUseFailsAtStartNamingIt) {
    boost::asio::io_context ioc;
    tcp::acceptor taken(ioc, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    cfg.admin->listen.port = taken.local_endpoint().port();
    try {
        Gateway g(cfg);
        FAIL() << "expected the admin bind to fail";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("admin"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace authgate::test
