// The stages of prepare() and prepare_response(), each on its own: requests parsed by the
// gateway's own parser from raw text, a snapshot compiled from YAML, real HS256 tokens,
// and `now` passed in (no clock read by the stages).
#include <ctime>
#include <optional>
#include <random>
#include <string>

#include <boost/asio/buffer.hpp>
#include <gtest/gtest.h>

#include "jwt/signer.h"
#include "proxy/snapshot.h"
#include "server/prepare.h"
#include "server/responses.h"
#include "support/harness.h"

namespace authgate::server {
namespace {

const std::string kSecret = "prepare-test-secret-0123456789abcdef";
constexpr std::int64_t kNow = 1'800'000'000;  // the stages' clock: no test reads the real one

std::string hs256(std::int64_t exp, std::string sub = "alice", std::string roles = "user") {
    auto key = jwt::Key::from_secret(kSecret).key;
    boost::json::object payload{{"sub", sub}, {"roles", roles}, {"iat", kNow - 10}, {"exp", exp}};
    return jwt::make_token(jwt::Algorithm::HS256, *key, {}, payload).value_or("");
}

// public: GET/POST only, CORS, no auth. api: CORS, HS256 (header or ?access_token, which
// is stripped), strip_prefix /api. admin: claim rule roles: admin. plain: no CORS.
std::string config_yaml(const std::string& server_extra = "") {
    return "server:\n  listen: 127.0.0.1:0\n  workers: 1\n" + server_extra +
           "upstreams:\n  backend:\n    endpoints: [http://127.0.0.1:9]\n"
           "jwt:\n  providers:\n    main:\n      algorithms: [HS256]\n"
           "      keys:\n        secret: " + kSecret + "\n"
           "      token_from:\n        - header: Authorization\n          prefix: \"Bearer \"\n"
           "        - query: access_token\n"
           "      strip_token: true\n"
           "      forward_claims:\n        sub: X-User-Id\n"
           "cors:\n  policies:\n    web:\n      allow_origins: [https://app.example]\n"
           "      allow_methods: [GET, POST, PUT]\n"
           "routes:\n"
           "  - name: public\n    match:\n      path_prefix: /public/\n      methods: [GET, POST]\n"
           "    upstream: backend\n    cors: web\n    auth: none\n"
           "  - name: admin\n    match:\n      path_prefix: /api/admin/\n    upstream: backend\n    cors: web\n"
           "    auth:\n      providers: [main]\n      claims:\n        roles: [admin]\n"
           "  - name: api\n    match:\n      path_prefix: /api/\n    upstream: backend\n    cors: web\n"
           "    rewrite:\n      strip_prefix: /api\n    auth:\n      providers: [main]\n"
           "  - name: plain\n    match:\n      path: /plain\n    upstream: backend\n    auth: none\n";
}

std::shared_ptr<const proxy::Snapshot> compile(const std::string& yaml) {
    static int n = 0;
    const auto path = test::write_temp("prepare_" + std::to_string(++n) + ".yaml", yaml);
    config::Diagnostics diag;
    auto snap = proxy::load_snapshot(path.string(), diag);
    EXPECT_TRUE(snap) << (diag.errors().empty() ? "" : diag.errors().front());
    return snap;
}

// One request as the session holds it: parsed by the exchange's own parser.
struct Request {
    proxy::Arena arena;
    std::optional<Exchange> ex;
    std::mt19937_64 rng{7};
    jwt::AuthOutcome outcome;

    Request(std::shared_ptr<const proxy::Snapshot> snap, const std::string& raw) {
        ex.emplace(arena, std::move(snap));
        boost::system::error_code ec;
        ex->parser.put(boost::asio::buffer(raw), ec);
        EXPECT_TRUE(ex->parser.is_header_done()) << raw << ": " << ec.message();
        auto& req = ex->parser.get();
        ex->method = req.method_string();
        ex->version = req.version();
        ex->keep_alive = req.keep_alive();
        ex->request_id = "rid-1";
    }
    DecisionContext ctx(std::int64_t now = kNow) { return DecisionContext{rng, nullptr, "192.0.2.7", now}; }
    RequestFields fields() { return RequestFields(ex->parser.get()); }
    Routed routed() {
        const auto f = fields();
        return route(*ex->snap, ex->method, ex->parser.get().target(), f.host, f.has_origin,
                     f.has_acrm ? std::optional(f.acrm) : std::nullopt);
    }
    std::string field(std::string_view name) { return std::string(ex->parser.get()[name]); }
    bool has(std::string_view name) { return ex->parser.get().find(name) != ex->parser.get().end(); }
};

class Stages : public ::testing::Test {
protected:
    std::shared_ptr<const proxy::Snapshot> snap = compile(config_yaml());
    Request req(const std::string& head) { return Request(snap, head + "\r\n"); }
};

// ---- check_framing ----

TEST_F(Stages, CheckFramingPassesAPlainRequest) {
    auto r = req("GET /public/x HTTP/1.1\r\nHost: a.example\r\n");
    EXPECT_FALSE(check_framing(*r.ex, r.fields()));
}

TEST_F(Stages, CheckFramingRefusesWhatAnUpstreamCouldReadDifferently) {
    struct Case {
        std::string head;
        unsigned status;
        std::string description;
    };
    const Case cases[] = {
        {"POST /public/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n", 501,
         "only Transfer-Encoding: chunked is supported"},
        {"GET /public/x HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\n", 400,
         "Connection must not name Host, Content-Length or Transfer-Encoding"},
        {"GET /public/x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Host\r\n", 400,
         "Connection must not name Host, Content-Length or Transfer-Encoding"},
        {"GET /public/x HTTP/1.1\r\n", 400, "missing or repeated Host"},
        {"GET /public/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n", 400, "missing or repeated Host"},
        {"GET /public/x HTTP/1.1\r\nHost: a b\r\n", 400, "invalid Host"},
    };
    for (const auto& c : cases) {
        auto r = req(c.head);
        const auto reply = check_framing(*r.ex, r.fields());
        ASSERT_TRUE(reply) << c.head;
        EXPECT_EQ(static_cast<unsigned>(reply->status), c.status) << c.head;
        EXPECT_EQ(reply->description, c.description) << c.head;
        EXPECT_TRUE(reply->close) << c.head;
    }
}

TEST_F(Stages, CheckFramingAllowsAnHttp10RequestWithoutHost) {
    auto r = req("GET /public/x HTTP/1.0\r\n");
    EXPECT_FALSE(check_framing(*r.ex, r.fields()));
}

TEST_F(Stages, CheckFramingRefusesUnderscoresOnlyWhenConfiguredTo) {
    const std::string head = "GET /public/x HTTP/1.1\r\nHost: a\r\nX_User_Id: admin\r\n";
    auto dropped = req(head);
    EXPECT_FALSE(check_framing(*dropped.ex, dropped.fields()));  // the default drops them later
    Request rejected(compile(config_yaml("  headers_with_underscores: reject\n")), head + "\r\n");
    const auto reply = check_framing(*rejected.ex, rejected.fields());
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->description, "header names with '_' are refused");
    EXPECT_FALSE(reply->close);
}

// ---- route ----

TEST_F(Stages, RouteMatchesTheNormalizedPath) {
    auto r = req("GET /public/../api/./orders?x=1 HTTP/1.1\r\nHost: a\r\n");
    const Routed routed = r.routed();
    ASSERT_TRUE(routed.path);
    EXPECT_EQ(*routed.path, "/api/orders");
    EXPECT_EQ(routed.query, "x=1");
    ASSERT_TRUE(routed.route);
    EXPECT_EQ(routed.route->cfg->name, "api");
    EXPECT_FALSE(routed.preflight);
}

TEST_F(Stages, RouteRefusesAPathThatCannotBeNormalized) {
    auto bad = req("GET /api/a%00b HTTP/1.1\r\nHost: a\r\n");  // an encoded control
    EXPECT_FALSE(bad.routed().path);
    EXPECT_FALSE(bad.routed().route);
}

// Absolute-form, as a client configured with a proxy sends it: its path and query route.
TEST_F(Stages, RouteReducesAnAbsoluteFormTargetToItsPathAndQuery) {
    auto r = req("GET http://other.example:8080/api/./orders?x=1 HTTP/1.1\r\nHost: a\r\n");
    const Routed routed = r.routed();
    ASSERT_TRUE(routed.path);
    EXPECT_EQ(*routed.path, "/api/orders");
    EXPECT_EQ(routed.query, "x=1");
    ASSERT_TRUE(routed.route);
    EXPECT_EQ(routed.route->cfg->name, "api");
}

TEST(SplitTarget, AbsoluteFormIsParsedAsAUri) {
    std::string_view path, query;
    split_target("HTTPS://h?q=1", path, query);
    EXPECT_EQ(path, "/");
    EXPECT_EQ(query, "q=1");
    split_target("http://[::1]:80", path, query);
    EXPECT_EQ(path, "/");
    EXPECT_EQ(query, "");
    const std::string_view target = "http://h/a/b?c";
    split_target(target, path, query);
    EXPECT_EQ(path, "/a/b");
    EXPECT_EQ(query, "c");
    EXPECT_EQ(path.data(), target.data() + 8);  // a view into the target: nothing copied
    // Not an http(s) URI with a plain authority: no path, so routing refuses it (400).
    for (const char* bad : {"ftp://h/x", "http://user@h/x", "http://h/x#frag", "http://h:abc/x", "http://[::1/x",
                            "http://h/a b", "*", "h:443", "http:/x"}) {
        split_target(bad, path, query);
        EXPECT_TRUE(path.empty()) << bad << " -> " << path;
        EXPECT_TRUE(query.empty()) << bad;
    }
}

TEST_F(Stages, RouteTellsTheRouteAPathAimedAtWhenNoneMatches) {
    auto r = req("DELETE /public/x HTTP/1.1\r\nHost: a\r\n");  // public takes GET and POST only
    const Routed routed = r.routed();
    EXPECT_FALSE(routed.route);
    ASSERT_TRUE(routed.near);
    EXPECT_EQ(routed.near->cfg->name, "public");
    auto nowhere = req("GET /nowhere HTTP/1.1\r\nHost: a\r\n");
    EXPECT_FALSE(nowhere.routed().route);
    EXPECT_FALSE(nowhere.routed().near);
}

TEST_F(Stages, RouteMatchesAPreflightAsTheMethodItAnnounces) {
    // OPTIONS is not one of public's methods: the preflight is routed as its GET.
    auto r = req("OPTIONS /public/x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\n"
                 "Access-Control-Request-Method: GET\r\n");
    const Routed routed = r.routed();
    ASSERT_TRUE(routed.route);
    EXPECT_EQ(routed.route->cfg->name, "public");
    EXPECT_TRUE(routed.preflight);
    // Without Origin it is a plain OPTIONS request, which public does not take.
    auto no_origin = req("OPTIONS /public/x HTTP/1.1\r\nHost: a\r\nAccess-Control-Request-Method: GET\r\n");
    EXPECT_FALSE(no_origin.routed().preflight);
    EXPECT_FALSE(no_origin.routed().route);
    // A route without a CORS policy has no preflights of its own.
    auto plain = req("OPTIONS /plain HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\n"
                     "Access-Control-Request-Method: GET\r\n");
    EXPECT_FALSE(plain.routed().preflight);
}

// ---- choose_cors ----

TEST_F(Stages, ChooseCorsTakesTheRoutesPolicyOrBorrowsForA404) {
    auto r = req("GET /public/x HTTP/1.1\r\nHost: a\r\n");
    EXPECT_FALSE(choose_cors(*r.ex, r.routed()));
    ASSERT_TRUE(r.ex->cors);
    EXPECT_EQ(r.ex->cors->name(), "web");

    auto missing = req("DELETE /public/x HTTP/1.1\r\nHost: a\r\n");
    EXPECT_FALSE(choose_cors(*missing.ex, missing.routed()));
    EXPECT_FALSE(missing.ex->route);
    ASSERT_TRUE(missing.ex->cors) << "a 404 on public's path carries public's CORS headers";

    auto plain = req("GET /plain HTTP/1.1\r\nHost: a\r\n");
    EXPECT_FALSE(choose_cors(*plain.ex, plain.routed()));
    EXPECT_FALSE(plain.ex->cors);

    auto preflight = req("OPTIONS /api/x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\n"
                         "Access-Control-Request-Method: PUT\r\n");
    EXPECT_EQ(choose_cors(*preflight.ex, preflight.routed()), Next::preflight);
}

// ---- authenticate ----

class Auth : public Stages {
protected:
    // Routes the request, ready for the authenticate stage.
    void route_it(Request& r) {
        routed_ = r.routed();
        choose_cors(*r.ex, routed_);
    }
    Routed routed_;
};

TEST_F(Auth, NoAuthRouteRunsNoAuthenticator) {
    auto r = req("GET /public/x HTTP/1.1\r\nHost: a\r\n");
    route_it(r);
    EXPECT_FALSE(authenticate(*r.ex, r.fields(), routed_.query, r.ctx(), r.outcome));
    EXPECT_TRUE(r.ex->auth.empty());
}

TEST_F(Auth, MissingTokenIs401WithABareChallenge) {
    auto r = req("GET /api/x HTTP/1.1\r\nHost: a\r\n");
    route_it(r);
    const auto reply = authenticate(*r.ex, r.fields(), routed_.query, r.ctx(), r.outcome);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, http::status::unauthorized);
    EXPECT_EQ(reply->error, "missing_token");
    EXPECT_EQ(reply->www_authenticate, "Bearer realm=\"authgate\"");
    EXPECT_EQ(r.ex->auth, "token missing");
}

TEST_F(Auth, TheTimeClaimsAreCheckedAtTheNowPassedIn) {
    const std::string token = hs256(kNow + 60);
    auto valid = req("GET /api/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + token + "\r\n");
    route_it(valid);
    EXPECT_FALSE(authenticate(*valid.ex, valid.fields(), routed_.query, valid.ctx(kNow), valid.outcome));
    ASSERT_TRUE(valid.outcome.verified);
    EXPECT_EQ(valid.ex->auth, "ok");

    auto later = req("GET /api/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + token + "\r\n");
    route_it(later);
    const auto reply = authenticate(*later.ex, later.fields(), routed_.query, later.ctx(kNow + 3600), later.outcome);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, http::status::unauthorized);
    EXPECT_EQ(reply->error, "invalid_token");
    EXPECT_EQ(reply->description, "token expired");
    EXPECT_EQ(reply->www_authenticate,
              "Bearer realm=\"authgate\", error=\"invalid_token\", error_description=\"token expired\"");
}

TEST_F(Auth, AFailedClaimRuleIs403InsufficientScope) {
    auto r = req("GET /api/admin/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + hs256(kNow + 60) + "\r\n");
    route_it(r);
    const auto reply = authenticate(*r.ex, r.fields(), routed_.query, r.ctx(), r.outcome);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, http::status::forbidden);
    EXPECT_EQ(reply->error, "insufficient_scope");
    EXPECT_NE(reply->www_authenticate.find("error=\"insufficient_scope\""), std::string::npos);
}

TEST_F(Auth, TwoAuthorizationHeadersAreRefusedBeforeAnyVerification) {
    const std::string token = hs256(kNow + 60);
    auto r = req("GET /api/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + token +
                    "\r\nAuthorization: Bearer x\r\n");
    route_it(r);
    const auto reply = authenticate(*r.ex, r.fields(), routed_.query, r.ctx(), r.outcome);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, http::status::bad_request);
    EXPECT_EQ(reply->error, "invalid_request");
    EXPECT_TRUE(r.ex->auth.empty());
}

// ---- rewrite_upstream_request ----

TEST_F(Auth, RewriteSendsUpstreamExactlyWhatTheGatewayDecided) {
    auto r = req("POST /api/orders/../items?access_token=" + hs256(kNow + 60) +
                    "&page=2 HTTP/1.1\r\nHost: shop.example\r\nX-User-Id: admin\r\nX_User_Id: admin\r\n"
                    "X-Real-IP: 10.0.0.1\r\nForwarded: for=10.0.0.1\r\nX-Forwarded-For: 198.51.100.1\r\n"
                    "Connection: keep-alive, X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\n"
                    "Content-Length: 0\r\n");
    route_it(r);
    ASSERT_FALSE(authenticate(*r.ex, r.fields(), routed_.query, r.ctx(), r.outcome));
    rewrite_upstream_request(*r.ex, r.fields(), routed_, r.ctx(), r.outcome);
    const auto& up = r.ex->parser.get();
    EXPECT_EQ(up.target(), "/items?page=2");  // normalized, prefix stripped, token stripped
    EXPECT_EQ(up.version(), 11u);
    EXPECT_EQ(r.field("X-User-Id"), "alice");  // the verified claim, not the client's
    EXPECT_EQ(std::distance(up.equal_range("X-User-Id").first, up.equal_range("X-User-Id").second), 1);
    EXPECT_FALSE(r.has("X_User_Id"));
    EXPECT_FALSE(r.has("X-Real-IP"));
    EXPECT_FALSE(r.has("Forwarded"));
    EXPECT_FALSE(r.has("X-Private"));
    EXPECT_FALSE(r.has("Keep-Alive"));
    EXPECT_FALSE(r.has("Connection"));
    EXPECT_EQ(r.field("X-Forwarded-For"), "198.51.100.1, 192.0.2.7");
    EXPECT_EQ(r.field("X-Forwarded-Proto"), "http");
    EXPECT_EQ(r.field("X-Forwarded-Host"), "shop.example");
    EXPECT_EQ(r.field("X-Request-Id"), "rid-1");
    EXPECT_EQ(r.field("Via"), "1.1 authgate");
    EXPECT_EQ(r.field("Content-Length"), "0");
}

TEST_F(Auth, RewriteGivesAnHttp10RequestTheUpstreamAsHost) {
    auto r = req("GET /public/x HTTP/1.0\r\n");
    route_it(r);
    rewrite_upstream_request(*r.ex, r.fields(), routed_, r.ctx(), r.outcome);
    EXPECT_EQ(r.field("Host"), "127.0.0.1:9");
    EXPECT_EQ(r.ex->parser.get().version(), 11u);
    EXPECT_FALSE(r.has("Transfer-Encoding"));
    EXPECT_FALSE(r.has("Content-Length"));
}

// ---- prepare: the stages in order ----

TEST_F(Stages, PrepareRefusesFramingBeforeRoutingAndRoutesBeforeAuthenticating) {
    Reply reply;
    auto framing = req("GET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding\r\n");
    EXPECT_EQ(prepare(*framing.ex, framing.ctx(), framing.outcome, reply), Next::reply);
    EXPECT_EQ(reply.status, http::status::bad_request);  // not the 404 routing would give

    auto nowhere = req("GET /nowhere HTTP/1.1\r\nHost: a\r\n");
    EXPECT_EQ(prepare(*nowhere.ex, nowhere.ctx(), nowhere.outcome, reply), Next::reply);
    EXPECT_EQ(reply.status, http::status::not_found);

    auto preflight = req("OPTIONS /api/x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\n"
                         "Access-Control-Request-Method: PUT\r\n");
    EXPECT_EQ(prepare(*preflight.ex, preflight.ctx(), preflight.outcome, reply), Next::preflight);
    EXPECT_TRUE(preflight.ex->auth.empty()) << "a preflight needs no token";

    auto ok = req("GET /api/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + hs256(kNow + 60) + "\r\n");
    EXPECT_EQ(prepare(*ok.ex, ok.ctx(), ok.outcome, reply), Next::forward);
    EXPECT_EQ(ok.field("X-User-Id"), "alice");
}

// ---- prepare_response and the HTTP/1.1 framing ----

struct Response {
    std::optional<ResponseParser> parser;
    explicit Response(proxy::Arena& arena, const std::string& head) {
        parser.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAlloc(arena)));
        boost::system::error_code ec;
        parser->put(boost::asio::buffer(head), ec);
        EXPECT_TRUE(parser->is_header_done()) << head;
    }
    std::string field(std::string_view name) { return std::string(parser->get()[name]); }
    bool has(std::string_view name) { return parser->get().find(name) != parser->get().end(); }
};

TEST_F(Stages, PrepareResponseRewritesTheUpstreamsHead) {
    auto r = req("GET /public/x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\n");
    r.ex->origin = "https://app.example";
    choose_cors(*r.ex, r.routed());
    Response res(r.arena,
                 "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: 1\r\nKeep-Alive: timeout=5\r\n"
                 "Access-Control-Allow-Origin: *\r\nVary: Accept-Encoding\r\nVia: 1.1 backend\r\n"
                 "Content-Length: 2\r\n\r\n");
    EXPECT_FALSE(prepare_response(*r.ex, *res.parser, nullptr));
    EXPECT_FALSE(res.has("X-Internal"));
    EXPECT_FALSE(res.has("Keep-Alive"));
    EXPECT_EQ(res.field("Access-Control-Allow-Origin"), "https://app.example");  // the gateway's, not "*"
    EXPECT_EQ(res.field("Vary"), "Accept-Encoding, Origin");
    EXPECT_EQ(res.field("Via"), "1.1 backend, 1.1 authgate");
    EXPECT_EQ(res.field("X-Request-Id"), "rid-1");

    proxy::BodyFraming down;
    EXPECT_FALSE(http1_response_framing(*r.ex, *res.parser, false, down));
    EXPECT_EQ(down, proxy::BodyFraming::content_length);
    EXPECT_EQ(res.field("Content-Length"), "2");
}

TEST_F(Stages, PrepareResponseRefusesAHeadThatCouldReframeTheResponse) {
    auto r = req("GET /public/x HTTP/1.1\r\nHost: a\r\n");
    choose_cors(*r.ex, r.routed());
    Response framing(r.arena, "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 2\r\n\r\n");
    EXPECT_EQ(prepare_response(*r.ex, *framing.parser, nullptr), proxy::UpstreamError::bad_response);
    Response upgrade(r.arena, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    EXPECT_EQ(prepare_response(*r.ex, *upgrade.parser, nullptr), proxy::UpstreamError::bad_response)
        << "an upgrade the client did not ask for";
}

TEST_F(Stages, Http1FramingChunksAnUnframedBodyOrClosesForAnHttp10Client) {
    auto r = req("GET /public/x HTTP/1.1\r\nHost: a\r\n");
    Response unframed(r.arena, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    proxy::BodyFraming down;
    EXPECT_FALSE(http1_response_framing(*r.ex, *unframed.parser, false, down));
    EXPECT_EQ(down, proxy::BodyFraming::chunked);
    EXPECT_TRUE(http1_response_framing(*r.ex, *unframed.parser, true, down)) << "draining closes";

    auto old = req("GET /public/x HTTP/1.0\r\n");
    Response old_res(old.arena, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    EXPECT_TRUE(http1_response_framing(*old.ex, *old_res.parser, false, down));
    EXPECT_EQ(down, proxy::BodyFraming::close);
    EXPECT_FALSE(old_res.has("Transfer-Encoding"));
}

// ---- the gateway's own answers ----

TEST(Responses, UpstreamFailuresAnswerWithTheErrorsOwnString) {
    const auto refused = upstream_failure(proxy::UpstreamError::connect_refused, false);
    EXPECT_EQ(refused.status, http::status::bad_gateway);
    EXPECT_EQ(refused.description, "connect_refused");
    EXPECT_FALSE(refused.close);
    const auto slow = upstream_failure(proxy::UpstreamError::response_timeout, false);
    EXPECT_EQ(slow.status, http::status::gateway_timeout);
    EXPECT_EQ(slow.error, "gateway_timeout");
    EXPECT_TRUE(slow.close);
}

TEST_F(Stages, BadHeaderRoutesA413SoItCarriesTheRoutesCors) {
    auto r = req("POST /public/x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\n");
    Reply reply;
    EXPECT_EQ(bad_header(*r.ex, http::error::body_limit, reply), Next::reply);
    EXPECT_EQ(reply.status, http::status::payload_too_large);
    ASSERT_TRUE(r.ex->route);
    EXPECT_EQ(r.ex->route->cfg->name, "public");
    EXPECT_TRUE(r.ex->cors);
}

}  // namespace
}  // namespace authgate::server
