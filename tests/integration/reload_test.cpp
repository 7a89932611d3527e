// Reload lifecycle and what reaches the logs: a SIGHUP stops the replaced config's JWKS
// fetching at once (keep-alive connections may keep that config alive for long), the
// snapshot never owns a thread (a worker may drop its last reference), a failed reload's
// diagnostics go through the JSON application log, and query tokens never reach the logs.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "jwt/authenticator.h"
#include "support/harness.h"
#include "unit/jwt/fetcher_threads.h"
#include "unit/jwt/jwks_server.h"
#include "unit/jwt/jwt_test_util.h"

namespace authgate::test {
namespace {
namespace jt = jwt::test;
using namespace std::chrono_literals;

// Polls `cond` until true or the deadline passes.
template <typename F>
bool eventually(F cond, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) return true;
        std::this_thread::sleep_for(1ms);  // poll interval, not synchronisation
    }
    return cond();
}

config::JwtProvider jwks_provider(const std::string& url, config::Duration refresh) {
    config::JwtProvider p;
    p.name = "remote";
    p.algorithms = {"RS256"};
    p.keys.jwks_url = url;
    p.keys.jwks_refresh = refresh;
    return p;
}

config::Route remote_route() {
    auto r = route("remote", "/remote/");
    r.auth.none = false;
    r.auth.providers = {"remote"};
    return r;
}

std::shared_ptr<const proxy::Snapshot> compile(const config::Config& cfg) {
    config::Diagnostics diag;
    auto snap = proxy::Snapshot::compile(cfg, diag);
    EXPECT_TRUE(snap) << (diag.errors().empty() ? "" : diag.errors().front());
    return snap;
}

std::string rs256_token() {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    return jt::sign_token(jwt::Algorithm::RS256, *jt::private_key("rsa"),
                          boost::json::object{{"sub", "alice"}, {"iat", now}, {"exp", now + 600}}, {{"kid", "k1"}});
}

class ReloadTest : public GatewayTest {};

// The old config's fetcher polls every 20 ms; once reloaded away from it, while a
// connection accepted under it is still open, its issuer hears nothing more (but a
// request already on the wire), measured over four refreshes of the new fetcher.
TEST_F(ReloadTest, StopsTheOldJwksFetcherAtOnceWhileAConnectionKeepsItsSnapshot) {
    jt::JwksServer old_issuer, new_issuer;
    old_issuer.set_body(jt::jwks_json({jt::jwk_for("rsa", "k1")}));
    new_issuer.set_body(jt::jwks_json({jt::jwk_for("rsa", "k1")}));
    cfg.jwt.providers = {jwks_provider(old_issuer.url(), 20ms)};
    cfg.routes.insert(cfg.routes.begin(), remote_route());
    auto& g = gw();
    const auto old = g.snapshot();
    const auto old_remote = old->providers->find("remote");
    ASSERT_TRUE(old_remote->wait_for_fetch_attempts(2, 10s));  // it polls
    const auto token = rs256_token();
    const std::vector<std::pair<std::string, std::string>> auth{{"Authorization", "Bearer " + token}};
    Client kept(g.port());  // accepted under the old snapshot, kept open across the reload
    auto r = kept.request("GET", "/remote/x", auth);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;

    auto next_cfg = cfg;
    next_cfg.jwt.providers = {jwks_provider(new_issuer.url(), 20ms)};
    const auto next = compile(next_cfg);
    ASSERT_TRUE(next);
    g.server().reload(next);
    const int at_reload = old_issuer.requests();
    ASSERT_TRUE(next->providers->find("remote")->wait_for_fetch_attempts(5, 10s));
    EXPECT_LE(old_issuer.requests(), at_reload + 1) << "the replaced config still polls its issuer";
    EXPECT_LE(old_remote->jwks_stats().attempts, static_cast<std::uint64_t>(at_reload + 1));

    // Requests under the old snapshot still verify with the keys it had.
    ASSERT_TRUE(old_remote->ever_fetched());
    const auto* old_route = old->match("GET", "localhost", "/remote/x");
    ASSERT_TRUE(old_route && old_route->auth);
    const auto outcome = old_route->auth->authenticate(jt::FakeRequest().bearer(token),
                                                       static_cast<std::int64_t>(std::time(nullptr)), nullptr);
    EXPECT_EQ(outcome.action, jwt::AuthOutcome::Action::forward);
    EXPECT_EQ(outcome.status, jwt::Status::ok);
    // The kept connection goes on, its next request under the new config.
    r = kept.request("GET", "/remote/x", auth);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    gateway.reset();  // before the issuers stop
}

// The server, not the snapshot, owns the fetcher: after a reload to a config without a
// jwks_url no fetcher thread is left, though the old snapshot is still referenced, and
// dropping its last reference on another thread (as a worker may) joins nothing.
TEST_F(ReloadTest, TheLastReferenceToAnOldSnapshotJoinsNoThread) {
    jt::JwksServer issuer;
    issuer.set_body(jt::jwks_json({jt::jwk_for("rsa", "k1")}));
    const int baseline = jt::jwks_fetcher_threads();
    cfg.jwt.providers = {jwks_provider(issuer.url(), 20ms)};
    cfg.routes.insert(cfg.routes.begin(), remote_route());
    auto first = compile(cfg);
    ASSERT_TRUE(first);
    const int devnull = ::open("/dev/null", O_WRONLY);
    server::ServerOptions opts;
    opts.access_log_fd = devnull;
    auto srv = std::make_unique<server::Server>(first, opts);
    srv->start();
    ASSERT_TRUE(first->providers->wait_for_first_fetch(10s));
    ASSERT_TRUE(eventually([&] { return jt::jwks_fetcher_threads() > baseline; }));
    {
        Client c(srv->ports().at(0));  // a connection under the first snapshot, open across the reload
        auto r = c.request("GET", "/remote/x", {{"Authorization", "Bearer " + rs256_token()}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;

        auto next_cfg = cfg;
        next_cfg.jwt.providers = {hs256_provider("remote", std::string(32, 's'))};
        auto next = compile(next_cfg);
        ASSERT_TRUE(next);
        srv->reload(next);
        EXPECT_EQ(jt::jwks_fetcher_threads(), baseline) << "the replaced snapshot's fetcher still runs";
    }
    // Once the workers and the closed connection let go of it, the test holds the last
    // reference, and drops it on another thread.
    std::weak_ptr<const proxy::Snapshot> weak = first;
    ASSERT_TRUE(eventually([&] { return weak.use_count() == 1; }));
    std::thread([snap = std::move(first)]() mutable { snap.reset(); }).join();
    EXPECT_TRUE(weak.expired());
    EXPECT_EQ(jt::jwks_fetcher_threads(), baseline);
    srv->shutdown();
    srv->wait();
    srv.reset();
    ::close(devnull);
}

// A token in the query string is written as REDACTED in the access log.
TEST_F(ReloadTest, QueryTokensAreRedactedInTheAccessLog) {
    char path[] = "/tmp/authgate-access-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    const std::string secret(32, 's');
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    const auto token = jt::sign_token(jwt::Algorithm::HS256, *jt::secret_key(secret),
                                      boost::json::object{{"sub", "alice"}, {"iat", now}, {"exp", now + 600}});
    {
        auto c = base_config(backend.port());
        c.log.format = "json";
        auto p = hs256_provider("q", secret);
        p.token_from = {{config::TokenSource::Kind::query, "access_token", ""}};
        c.jwt.providers = {p};
        auto r = route("api", "/api/");
        r.auth.none = false;
        r.auth.providers = {"q"};
        c.routes = {r};
        Gateway g(c, fd);
        Client client(g.port());
        auto res = client.request("GET", "/api/x?access_token=" + token + "&x=1");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200u) << res->body;
        res = client.request("GET", "/api/y?x=2");  // no token: 401, nothing to hide
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 401u);
    }  // shutdown flushes the worker's buffer
    ::close(fd);
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    ::unlink(path);
    const std::string text = ss.str();
    EXPECT_EQ(text.find(token), std::string::npos) << text;
    std::istringstream lines(text);
    std::string line;
    std::vector<std::string> paths;
    while (std::getline(lines, line)) paths.emplace_back(boost::json::parse(line).at("path").as_string());
    EXPECT_EQ(paths, (std::vector<std::string>{"/api/x?access_token=REDACTED&x=1", "/api/y?x=2"}));
}

std::uint16_t listening_port(const std::string& text) {
    std::smatch m;
    if (!std::regex_search(text, m, std::regex("listening on [0-9.]+:([0-9]+)"))) return 0;
    return static_cast<std::uint16_t>(std::stoi(m[1]));
}

// The real binary with `log.format: json`: a SIGHUP with a broken config is refused, and
// everything the process writes (application log on stderr, access log on stdout, both
// read here from one pipe) is one JSON object per line, the config errors included, each
// naming FILE:LINE:COL. Messages with quotes, backslashes, control characters and bytes
// that are not UTF-8 stay valid JSON; a query token is written as REDACTED.
TEST(ReloadCli, JsonLogCarriesFailedReloadDiagnostics) {
    Backend backend;
    const std::string secret(32, 's');
    const auto yaml = [&](const std::string& upstream) {
        return "server:\n  listen: 127.0.0.1:0\n  workers: 1\n"
               "log:\n  format: json\n"
               "upstreams:\n  b:\n    endpoints: [http://127.0.0.1:" +
               std::to_string(backend.port()) +
               "]\n"
               "jwt:\n  providers:\n    q:\n      algorithms: [HS256]\n      keys:\n        secret: " +
               secret +
               "\n      token_from:\n        - query: access_token\n"
               "routes:\n  - name: one\n    match:\n      path_prefix: /one/\n    upstream: " +
               upstream + "\n    auth:\n      providers: [q]\n";
    };
    auto cfg = write_temp("json-log.yaml", yaml("b"));
    ChildProcess gw({AUTHGATE_BINARY, "-c", cfg.string()});
    std::string output = gw.first_line() + "\n";
    auto port = listening_port(output);
    for (auto deadline = std::chrono::steady_clock::now() + 10s; port == 0 && std::chrono::steady_clock::now() < deadline;) {
        output += gw.drain_output();
        port = listening_port(output);
    }
    ASSERT_NE(port, 0) << output;

    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    const auto token = jt::sign_token(jwt::Algorithm::HS256, *jt::secret_key(secret),
                                      boost::json::object{{"sub", "alice"}, {"iat", now}, {"exp", now + 600}});
    {
        Client c(port);
        auto r = c.request("GET", "/one/x?access_token=" + token + "&x=1");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        r = c.request("GET", "/one/\"quoted\"\\path");  // 401: logged, escaped
        ASSERT_TRUE(r);
        r = c.request("GET", "/one/\xff\xfe\xc3(x");  // not UTF-8: replaced, still JSON
        ASSERT_TRUE(r);
    }
    {
        // Control bytes in the request line: refused, and whatever is logged of it parses.
        Client raw(port);
        raw.send(std::string("GET /one/\x01\x1b[2J\x7f HTTP/1.1\r\nHost: x\r\n\r\n"));
        EXPECT_TRUE(raw.read_response());
    }
    // Line 21, column 15: the upstream's name, which holds a quote, a backslash and
    // control characters (YAML escapes).
    std::ofstream(cfg) << yaml(R"("mi\"ss\\ing\x01\t")");
    ::kill(gw.pid(), SIGHUP);
    bool refused = false;
    for (auto deadline = std::chrono::steady_clock::now() + 10s; !refused && std::chrono::steady_clock::now() < deadline;) {
        output += gw.drain_output();
        refused = output.find("keeping the running configuration") != std::string::npos;
    }
    EXPECT_TRUE(refused) << output;
    {
        Client c(port);  // still serving the running config
        auto r = c.request("GET", "/one/x?access_token=" + token);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
    }
    EXPECT_EQ(gw.signal_and_wait(SIGTERM, 10s), 0);
    output += gw.drain_output();

    EXPECT_EQ(output.find(token), std::string::npos) << "a query token reached the log";
    std::istringstream lines(output);
    std::string line;
    std::size_t objects = 0;
    bool names_position = false, redacted = false, replaced = false;
    const std::string position = cfg.string() + ":21:15: ";
    while (std::getline(lines, line)) {
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        ASSERT_FALSE(ec) << "not JSON: " << line << "\n" << output;
        ASSERT_TRUE(v.is_object()) << line;
        ++objects;
        const auto& o = v.as_object();
        if (const auto* msg = o.if_contains("msg")) {
            const std::string m(msg->as_string());
            if (m.rfind(position, 0) == 0) {
                names_position = true;
                EXPECT_NE(m.find("mi\"ss\\ing\x01\t"), std::string::npos) << m;
                EXPECT_EQ(o.at("level").as_string(), "error");
            }
        }
        if (const auto* p = o.if_contains("path")) {
            redacted = redacted || p->as_string() == "/one/x?access_token=REDACTED&x=1";
            replaced = replaced || p->as_string() == "/one/\ufffd\ufffd\ufffd(x";
        }
    }
    EXPECT_GE(objects, 6u) << output;
    EXPECT_TRUE(names_position) << output;
    EXPECT_TRUE(redacted) << output;
    EXPECT_TRUE(replaced) << "the invalid UTF-8 path is not in the access log as U+FFFD\n" << output;
}

// Reads the child's output until `done` holds for it (bounded); returns whether it did.
template <typename F>
bool output_until(ChildProcess& child, std::string& output, F done, std::chrono::milliseconds limit = 10s) {
    for (auto deadline = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < deadline;) {
        output = child.drain_output();
        if (done(output)) return true;
        std::this_thread::sleep_for(1ms);  // poll interval, not synchronisation
    }
    output = child.drain_output();
    return done(output);
}

bool is_json_object(const std::string& line) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    return !ec && v.is_object();
}

// SIGHUP applies log.level and log.format: a gateway started with info/text and reloaded
// to debug/json writes its application log (stderr) and access log (stdout) as JSON from
// the reload on, debug lines included; before it, plain text and no debug line, although
// the first JWKS fetch logged one at debug.
TEST(ReloadCli, SighupAppliesLogLevelAndFormat) {
    Backend backend;
    jt::JwksServer issuer;
    issuer.set_body(jt::jwks_json({jt::jwk_for("rsa", "k1")}));
    const auto yaml = [&](const std::string& level, const std::string& format) {
        return "server:\n  listen: 127.0.0.1:0\n  workers: 1\n  timeouts:\n    drain_delay: 0s\n"
               "log:\n  level: " + level + "\n  format: " + format + "\n"
               "upstreams:\n  b:\n    endpoints: [http://127.0.0.1:" + std::to_string(backend.port()) + "]\n"
               "jwt:\n  providers:\n    remote:\n      algorithms: [RS256]\n      keys:\n"
               "        jwks_url: " + issuer.url() + "\n"
               "routes:\n  - name: one\n    match:\n      path_prefix: /one/\n    upstream: b\n";
    };
    auto cfg = write_temp("log-reload.yaml", yaml("info", "text"));
    ChildProcess gw({AUTHGATE_BINARY, "-c", cfg.string()});
    std::string output = gw.first_line() + "\n";
    std::uint16_t port = 0;
    ASSERT_TRUE(output_until(gw, output, [&](const std::string& o) { return (port = listening_port(o)) != 0; }))
        << output;
    ASSERT_TRUE(eventually([&] { return issuer.requests() >= 1; }));
    {
        Client c(port);
        auto r = c.request("GET", "/one/before");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
    }
    // The text access line is out before the reload (the worker flushes it within 250 ms).
    ASSERT_TRUE(output_until(gw, output, [](const std::string& o) { return o.find("/one/before") != std::string::npos; }))
        << output;
    const std::size_t before = output.size();

    std::ofstream(cfg) << yaml("debug", "json");
    ::kill(gw.pid(), SIGHUP);
    ASSERT_TRUE(output_until(gw, output, [&](const std::string& o) {
        return o.find("\"level\":\"debug\"", before) != std::string::npos &&
               o.find("configuration reloaded", before) != std::string::npos;
    })) << output;
    {
        Client c(port);
        auto r = c.request("GET", "/one/after");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
    }
    ASSERT_TRUE(output_until(gw, output, [&](const std::string& o) { return o.find("/one/after", before) != std::string::npos; }))
        << output;
    EXPECT_EQ(gw.signal_and_wait(SIGTERM, 10s), 0);
    output = gw.drain_output();

    std::istringstream old_lines(output.substr(0, before));
    std::size_t text_lines = 0;
    for (std::string line; std::getline(old_lines, line);) {
        EXPECT_FALSE(is_json_object(line)) << line;
        EXPECT_EQ(line.find(" debug "), std::string::npos) << "a debug line at level info: " << line;
        ++text_lines;
    }
    EXPECT_GE(text_lines, 2u) << output;  // "listening on" and the access line at least
    std::istringstream new_lines(output.substr(before));
    bool debug = false, access = false, reloaded = false, json = false;
    for (std::string line; std::getline(new_lines, line);) {
        // The new file's own warnings are written before it is applied: in the old format.
        if (!json && !is_json_object(line)) {
            EXPECT_NE(line.find(" warning "), std::string::npos) << line;
            continue;
        }
        json = true;
        ASSERT_TRUE(is_json_object(line)) << "not JSON after the reload: " << line << "\n" << output;
        const auto o = boost::json::parse(line).as_object();
        if (const auto* level = o.if_contains("level")) debug = debug || level->as_string() == "debug";
        if (const auto* msg = o.if_contains("msg"))
            reloaded = reloaded || std::string_view(msg->as_string()).find("configuration reloaded") == 0;
        if (const auto* path = o.if_contains("path")) access = access || path->as_string() == "/one/after";
    }
    EXPECT_TRUE(debug) << output;
    EXPECT_TRUE(reloaded) << output;
    EXPECT_TRUE(access) << output;
}

}  // namespace
}  // namespace authgate::test
