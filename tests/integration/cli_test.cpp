// The real binary: --version, --help, --check, --dump-config, token, health, SIGHUP reload
// and SIGTERM drain.
#include <signal.h>
#include <sys/wait.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>

#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "jwt/key_cache_file.h"
#include "support/harness.h"
#include "unit/jwt/jwks_server.h"
#include "unit/jwt/jwt_test_util.h"

namespace authgate::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Ran {
    int status;
    std::string output;
};

// Runs the binary to completion (bounded), capturing stdout+stderr.
Ran run(const std::vector<std::string>& args, std::chrono::milliseconds limit = 20s) {
    std::vector<std::string> argv{AUTHGATE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string cmd;
    for (const auto& a : argv) cmd += "'" + a + "' ";
    cmd += "2>&1";
    FILE* p = ::popen(("timeout " + std::to_string(limit.count() / 1000) + " " + cmd).c_str(), "r");
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int st = ::pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string gateway_yaml(std::uint16_t backend_port, const std::string& extra_route = "") {
    return "server:\n  listen: 127.0.0.1:0\n  workers: 2\n  timeouts:\n    shutdown: 5s\n"
           "upstreams:\n  b:\n    endpoints: [http://127.0.0.1:" +
           std::to_string(backend_port) +
           "]\n"
           "routes:\n  - name: one\n    match:\n      path_prefix: /one/\n    upstream: b\n" +
           extra_route;
}

std::uint16_t listening_port(const std::string& line) {
    std::smatch m;
    std::regex re("listening on [0-9.]+:([0-9]+)");
    if (!std::regex_search(line, m, re)) return 0;
    return static_cast<std::uint16_t>(std::stoi(m[1]));
}

TEST(Cli, VersionAndHelp) {
    auto v = run({"--version"});
    EXPECT_EQ(v.status, 0);
    EXPECT_NE(v.output.find("authgate "), std::string::npos);
    EXPECT_NE(v.output.find("OpenSSL 3."), std::string::npos) << v.output;
    EXPECT_NE(v.output.find("Boost 1."), std::string::npos) << v.output;
    auto h = run({"--help"});
    EXPECT_EQ(h.status, 0);
    EXPECT_NE(h.output.find("--check"), std::string::npos);
    auto bad = run({"--nonsense"});
    EXPECT_EQ(bad.status, 2);
}

TEST(Cli, HelpListsExitCodesAndSignals) {
    auto h = run({"--help"});
    EXPECT_EQ(h.status, 0);
    for (const char* what : {"--dump-config", "--secret-file", "--secret-env", "authgate health URL", "Exit codes:",
                             "2 usage error", "SIGHUP", "SIGTERM", "drain_delay"})
        EXPECT_NE(h.output.find(what), std::string::npos) << what << " not in\n" << h.output;
}

TEST(Cli, ConfigOptionSpellingsAndUsageErrors) {
    auto cfg = write_temp("spellings.yaml", gateway_yaml(1));
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"-c", cfg.string(), "--check"}, {"--config", cfg.string(), "--check"},
          {"--config=" + cfg.string(), "--check"}, {"-c" + cfg.string(), "--check"}, {"--check", "-c", cfg.string()}}) {
        auto r = run(args);
        EXPECT_EQ(r.status, 0) << args[0] << "\n" << r.output;
        EXPECT_EQ(r.output, cfg.string() + ": OK\n") << args[0];
    }
    struct Usage {
        std::vector<std::string> args;
        std::string message;
    };
    for (const auto& u : std::vector<Usage>{
             {{"-c"}, "authgate: the required argument for option '--config' is missing"},
             {{"--check", "-c"}, "the required argument for option '--config' is missing"},
             {{"--check"}, "authgate: no config file given (-c FILE)"},
             {{"-c", cfg.string(), "--chek"}, "authgate: unknown argument '--chek'"},
             {{"-c", cfg.string(), "extra"}, "authgate: unknown argument 'extra'"},
             {{"-c", cfg.string(), "-c", cfg.string()}, "'--config' cannot be specified more than once"},
             {{"-c", cfg.string(), "--check", "--dump-config"}, "--check and --dump-config: give one"}}) {
        auto r = run(u.args);
        EXPECT_EQ(r.status, 2) << u.args[0] << "\n" << r.output;
        EXPECT_NE(r.output.find(u.message), std::string::npos) << r.output;
        EXPECT_NE(r.output.find("Usage:"), std::string::npos) << r.output;
    }
}

// The effective config: ${VAR} expanded, defaults written out, the secret never printed.
TEST(Cli, DumpConfigExpandsTheEnvironmentAndMasksSecrets) {
    const std::string secret = "dump-secret-Zq9-0123456789abcdef0123456789";
    ::setenv("AUTHGATE_DUMP_TEST_SECRET", secret.c_str(), 1);
    ::setenv("AUTHGATE_DUMP_TEST_PORT", "9137", 1);
    ::unsetenv("AUTHGATE_DUMP_TEST_ISSUER");
    auto cfg = write_temp("dump.yaml",
                          "upstreams:\n  b:\n    endpoints: [\"http://127.0.0.1:${AUTHGATE_DUMP_TEST_PORT}\"]\n"
                          "jwt:\n  providers:\n    hs:\n      algorithms: [HS256]\n"
                          "      issuer: ${AUTHGATE_DUMP_TEST_ISSUER:-https://issuer.example}\n"
                          "      keys:\n        secret: ${AUTHGATE_DUMP_TEST_SECRET}\n"
                          "routes:\n  - name: r\n    upstream: b\n    auth:\n      providers: [hs]\n");
    auto r = run({"-c", cfg.string(), "--dump-config"});
    ::unsetenv("AUTHGATE_DUMP_TEST_SECRET");
    ::unsetenv("AUTHGATE_DUMP_TEST_PORT");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output.find(secret), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("dump-secret"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("${"), std::string::npos) << r.output;
    const YAML::Node y = YAML::Load(r.output);
    EXPECT_EQ(y["upstreams"]["b"]["endpoints"][0].as<std::string>(), "http://127.0.0.1:9137");
    EXPECT_EQ(y["jwt"]["providers"]["hs"]["issuer"][0].as<std::string>(), "https://issuer.example");
    EXPECT_EQ(y["jwt"]["providers"]["hs"]["keys"]["secret"].as<std::string>(), "<redacted>");
    EXPECT_EQ(y["server"]["timeouts"]["drain_delay"].as<std::string>(), "5s");
}

TEST(Cli, DumpConfigOfABadConfigFailsWithTheCheckErrors) {
    auto p = write_temp("bad-dump.yaml",
                        "server:\n  listn: 127.0.0.1:8080\n"
                        "upstreams:\n  b:\n    endpoints: [http://127.0.0.1:1]\n"
                        "routes:\n  - name: r\n    match:\n      path_prefix: /x/\n    upstream: missing\n");
    auto dump = run({"-c", p.string(), "--dump-config"});
    auto check = run({"-c", p.string(), "--check"});
    EXPECT_EQ(dump.status, 1);
    EXPECT_EQ(dump.output, check.output);
    EXPECT_NE(dump.output.find(p.string() + ":2:3:"), std::string::npos) << dump.output;
}

TEST(Cli, CheckAcceptsShippedConfigs) {
    ::setenv("JWT_SECRET", "an-example-secret-of-at-least-32-bytes!!", 1);
    ::setenv("DJANGO_SECRET_KEY", "django-insecure-an-example-secret-key-of-50-characters", 1);  // django.yaml
    for (const auto& entry : fs::directory_iterator(fs::path(AUTHGATE_SOURCE_DIR) / "config")) {
        if (entry.path().extension() != ".yaml") continue;
        auto r = run({"-c", entry.path().string(), "--check"});
        EXPECT_EQ(r.status, 0) << entry.path() << "\n" << r.output;
        EXPECT_NE(r.output.find("OK"), std::string::npos) << r.output;
    }
}

TEST(Cli, CheckReportsEveryErrorWithLineAndColumn) {
    auto p = write_temp("bad.yaml",
                        "server:\n  listn: 127.0.0.1:8080\n"
                        "upstreams:\n  b:\n    endpoints: [http://127.0.0.1:1]\n"
                        "routes:\n  - name: r\n    match:\n      path_prefix: /x/\n    upstream: missing\n");
    auto r = run({"-c", p.string(), "--check"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find(p.string() + ":2:3:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(p.string() + ":10:15:"), std::string::npos) << r.output;
}

TEST(Cli, TokenCommandMintsATokenTheGatewayParses) {
    auto r = run({"token", "--alg", "HS256", "--secret", "0123456789abcdef0123456789abcdef", "--sub", "alice"});
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '.'), 2) << r.output;
}

TEST(Cli, TokenSecretFromEnvironmentOrFile) {
    const std::string secret = "0123456789abcdef0123456789abcdef-env";
    ::setenv("AUTHGATE_CLI_TEST_SECRET", secret.c_str(), 1);
    auto from_env = run({"token", "--alg", "HS256", "--secret-env", "AUTHGATE_CLI_TEST_SECRET", "--sub", "alice"});
    ::unsetenv("AUTHGATE_CLI_TEST_SECRET");
    auto file = write_temp("token.secret", secret + "\n");
    auto from_file = run({"token", "--alg", "HS256", "--secret-file", file.string(), "--sub", "alice"});
    ASSERT_EQ(from_env.status, 0) << from_env.output;
    ASSERT_EQ(from_file.status, 0) << from_file.output;
    // Same key, same claims: the signatures verify with the one secret.
    for (const auto& out : {from_env.output, from_file.output}) {
        const std::string token = out.substr(0, out.find('\n'));
        jwt::ParsedToken t;
        ASSERT_EQ(jwt::parse_token(token, t), jwt::Status::ok) << token;
        EXPECT_TRUE(jwt::verify_signature(jwt::Algorithm::HS256, *jwt::test::secret_key(secret), t.signing_input,
                                          t.signature));
    }
    auto unset = run({"token", "--alg", "HS256", "--secret-env", "AUTHGATE_CLI_TEST_UNSET"});
    EXPECT_EQ(unset.status, 2);
    EXPECT_NE(unset.output.find("AUTHGATE_CLI_TEST_UNSET is not set"), std::string::npos) << unset.output;
}

// `authgate health` against a real admin listener.
class HealthTest : public GatewayTest {
protected:
    void SetUp() override { cfg.admin = config::Admin{{"127.0.0.1", 0}, {}}; }
    std::string admin_url(const std::string& path) {
        return "http://127.0.0.1:" + std::to_string(*gw().server().admin_port()) + path;
    }
};

TEST_F(HealthTest, TwoHundredIsHealthyAnythingElseIsNot) {
    auto ok = run({"health", admin_url("/healthz")});
    EXPECT_EQ(ok.status, 0) << ok.output;
    EXPECT_NE(ok.output.find("200 OK"), std::string::npos) << ok.output;
    auto missing = run({"health", admin_url("/nothing-here"), "--timeout", "5s"});
    EXPECT_EQ(missing.status, 1) << missing.output;
    EXPECT_NE(missing.output.find("404 Not Found"), std::string::npos) << missing.output;
}

TEST(Health, RefusedOrSilentIsUnhealthy) {
    const auto port = std::to_string(dead_port());
    auto refused = run({"health", "http://127.0.0.1:" + port + "/healthz"});
    EXPECT_EQ(refused.status, 1) << refused.output;
    EXPECT_NE(refused.output.find("Connection refused"), std::string::npos) << refused.output;
    // Listening but never answering: the kernel completes the handshake, nobody reads.
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor silent(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto started = std::chrono::steady_clock::now();
    auto late = run({"health", "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/readyz",
                     "--timeout", "300ms"});
    EXPECT_EQ(late.status, 1) << late.output;
    EXPECT_NE(late.output.find("no answer within 300ms"), std::string::npos) << late.output;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(Health, MalformedOrHttpsUrlIsAUsageError) {
    for (const auto& [url, message] : std::vector<std::pair<std::string, std::string>>{
             {"https://127.0.0.1:9901/healthz", "https is not supported"},
             {"127.0.0.1:9901/healthz", "malformed URL"},
             {"ftp://127.0.0.1:9901/healthz", "only http:// URLs"},
             {"http://user:pw@127.0.0.1:9901/healthz", "credentials"},
             {"http://127.0.0.1:99999/healthz", "invalid port"},
             {"http://[::1/healthz", "malformed URL"},
             {"http:///healthz", "no host"}}) {
        auto r = run({"health", url});
        EXPECT_EQ(r.status, 2) << url << "\n" << r.output;
        EXPECT_NE(r.output.find(message), std::string::npos) << url << "\n" << r.output;
    }
    EXPECT_EQ(run({"health"}).status, 2);
    EXPECT_EQ(run({"health", "http://127.0.0.1:1/", "--timeout", "soon"}).status, 2);
    EXPECT_EQ(run({"health", "http://127.0.0.1:1/", "--timeout", "3000000h"}).status, 2);
    EXPECT_EQ(run({"health", "http://127.0.0.1:1/", "http://127.0.0.1:2/"}).status, 2);
}

TEST(Cli, ReloadOnSighupAndDrainOnSigterm) {
    Backend backend;
    auto cfg = write_temp("run.yaml", gateway_yaml(backend.port()));
    ChildProcess gw({AUTHGATE_BINARY, "-c", cfg.string()});
    auto port = listening_port(gw.first_line());
    ASSERT_NE(port, 0) << gw.first_line();
    {
        Client c(port);
        EXPECT_EQ(c.request("GET", "/one/x")->status, 200u);
        EXPECT_EQ(c.request("GET", "/two/x")->status, 404u);
    }
    // A broken config on SIGHUP is refused and the running one kept.
    std::ofstream(cfg) << "server: [broken\n";
    ::kill(gw.pid(), SIGHUP);
    bool refused = false;
    for (auto deadline = std::chrono::steady_clock::now() + 10s; !refused && std::chrono::steady_clock::now() < deadline;)
        refused = gw.drain_output().find("keeping the running configuration") != std::string::npos;
    EXPECT_TRUE(refused) << gw.drain_output();
    {
        Client c(port);
        EXPECT_EQ(c.request("GET", "/one/x")->status, 200u);
    }
    // The new config adds /two/; wait (bounded) until it answers.
    std::ofstream(cfg) << gateway_yaml(backend.port(),
                                       "  - name: two\n    match:\n      path_prefix: /two/\n    upstream: b\n");
    ::kill(gw.pid(), SIGHUP);
    unsigned status = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
        Client c(port);
        status = c.request("GET", "/two/x")->status;
        gw.drain_output();  // polling logs a line per request: keep the pipe from filling
        if (status == 200) break;
    }
    EXPECT_EQ(status, 200u);
    {
        Client c(port);
        EXPECT_EQ(c.request("GET", "/one/x")->status, 200u);
    }
    // SIGTERM while a request is in flight: it completes, then the process exits 0.
    // Signal only once the backend has the slow request: before that the gateway may not
    // have read it yet, and an idle connection is closed at once on SIGTERM.
    const auto before = backend.requests();
    Client slow(port);
    slow.send("GET /one/x?delay_ms=300 HTTP/1.1\r\nHost: a\r\n\r\n");
    for (auto deadline = std::chrono::steady_clock::now() + 5s;
         backend.requests() <= before && std::chrono::steady_clock::now() < deadline;) {
    }
    ASSERT_GT(backend.requests(), before) << "the slow request never reached the backend";
    EXPECT_EQ(gw.signal_and_wait(SIGTERM, 10s), 0);
    auto r = slow.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
}

// SIGHUP compiles new JWT providers. One whose jwks_url did not change answers with the
// keys already fetched, not 503 until its own fetch lands (never, with the issuer down).
TEST(Cli, SighupKeepsTheKeysOfAnUnchangedJwksUrl) {
    namespace jt = jwt::test;
    Backend backend;
    jt::JwksServer issuer;
    issuer.set_body(jt::jwks_json({jt::jwk_for("rsa", "k1")}));
    const auto auth_route = [](const std::string& name) {
        return "  - name: " + name + "\n    match:\n      path_prefix: /" + name + "/\n    upstream: b\n" +
               "    auth:\n      providers: [remote]\n";
    };
    const std::string jwt_yaml = "jwt:\n  providers:\n    remote:\n      algorithms: [RS256]\n      keys:\n" +
                                 std::string("        jwks_url: ") + issuer.url() + "\n        jwks_refresh: 1h\n";
    auto cfg = write_temp("jwks-reload.yaml", gateway_yaml(backend.port(), auth_route("two")) + jwt_yaml);
    ChildProcess gw({AUTHGATE_BINARY, "-c", cfg.string()});
    // The plain-http jwks_url warning comes first; the listening line follows it.
    auto port = listening_port(gw.first_line());
    for (auto deadline = std::chrono::steady_clock::now() + 10s; port == 0 && std::chrono::steady_clock::now() < deadline;)
        port = listening_port(gw.drain_output());
    ASSERT_NE(port, 0) << gw.first_line() << "\n" << gw.drain_output();

    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    const auto token = jt::sign_token(jwt::Algorithm::RS256, *jt::private_key("rsa"),
                                      boost::json::object{{"sub", "alice"}, {"iat", now}, {"exp", now + 600}},
                                      {{"kid", "k1"}});
    const auto get = [&](const std::string& target) {
        Client c(port);
        auto r = c.request("GET", target, {{"Authorization", "Bearer " + token}});
        // The loops below poll: keep the access log's pipe from filling up, or the
        // gateway's workers block writing to it.
        gw.drain_output();
        return r ? r->status : 0u;
    };
    // The first fetch runs in the background after start: wait (bounded) for the keys.
    unsigned status = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         status != 200 && std::chrono::steady_clock::now() < deadline;)
        status = get("/two/x");
    ASSERT_EQ(status, 200u);
    issuer.stop();

    // The new config adds /three/: the first answer that is not 404 comes from it.
    std::ofstream(cfg) << gateway_yaml(backend.port(), auth_route("two") + auth_route("three")) + jwt_yaml;
    ::kill(gw.pid(), SIGHUP);
    status = 404;
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         status == 404 && std::chrono::steady_clock::now() < deadline;)
        status = get("/three/x");
    EXPECT_EQ(status, 200u);
    EXPECT_EQ(get("/two/x"), 200u);
    EXPECT_EQ(issuer.requests(), 1);
    EXPECT_EQ(gw.signal_and_wait(SIGTERM, 10s), 0);
}

// The real binary, started while the discovery issuer is down, serves the keys of its
// cache file (written by an earlier run), and a SIGHUP keeps them.
TEST(Cli, SighupKeepsServingTheCachedKeysOfADiscoveryProvider) {
    namespace jt = jwt::test;
    Backend backend;
    jt::JwksServer issuer;
    issuer.set(jt::kOpenIdConfigurationPath, "down", 503);
    const std::string discovery_url = issuer.url(jt::kOpenIdConfigurationPath);
    const auto cache = write_temp("sighup-sso.jwks.json", "");
    const auto doc = jwt::format_key_cache(discovery_url, issuer.url("/keys"), std::chrono::system_clock::now() - 1h,
                                           jt::jwks_json({jt::jwk_for("rsa", "k1")}));
    ASSERT_TRUE(doc);
    ASSERT_EQ(jwt::write_file_atomically(cache.string(), *doc), "");
    const auto auth_route = [](const std::string& name) {
        return "  - name: " + name + "\n    match:\n      path_prefix: /" + name + "/\n    upstream: b\n" +
               "    auth:\n      providers: [sso]\n";
    };
    const std::string jwt_yaml = "jwt:\n  providers:\n    sso:\n      issuer: " + issuer.origin() +
                                 "\n      algorithms: [RS256]\n      discovery_url: " + discovery_url +
                                 "\n      keys:\n        jwks_refresh: 1h\n        jwks_cache_file: " + cache.string() + "\n";
    auto cfg = write_temp("discovery-reload.yaml", gateway_yaml(backend.port(), auth_route("two")) + jwt_yaml);
    ChildProcess gw({AUTHGATE_BINARY, "-c", cfg.string()});
    // The plain-http discovery warning comes first; the listening line follows it.
    auto port = listening_port(gw.first_line());
    for (auto deadline = std::chrono::steady_clock::now() + 10s; port == 0 && std::chrono::steady_clock::now() < deadline;)
        port = listening_port(gw.drain_output());
    ASSERT_NE(port, 0) << gw.first_line() << "\n" << gw.drain_output();

    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    const auto token = jt::sign_token(
        jwt::Algorithm::RS256, *jt::private_key("rsa"),
        boost::json::object{{"sub", "alice"}, {"iss", issuer.origin()}, {"iat", now}, {"exp", now + 600}},
        {{"kid", "k1"}});
    const auto get = [&](const std::string& target) {
        Client c(port);
        auto r = c.request("GET", target, {{"Authorization", "Bearer " + token}});
        gw.drain_output();  // keep the log pipe from filling up
        return r ? r->status : 0u;
    };
    // 503 until the first fetch has failed and the cache file is read: wait (bounded).
    unsigned status = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         status != 200 && std::chrono::steady_clock::now() < deadline;)
        status = get("/two/x");
    ASSERT_EQ(status, 200u);

    std::ofstream(cfg) << gateway_yaml(backend.port(), auth_route("two") + auth_route("three")) + jwt_yaml;
    ::kill(gw.pid(), SIGHUP);
    status = 404;
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         status == 404 && std::chrono::steady_clock::now() < deadline;)
        status = get("/three/x");
    EXPECT_EQ(status, 200u);
    EXPECT_EQ(get("/two/x"), 200u);
    EXPECT_EQ(issuer.requests("/keys"), 0);  // never reached: the document is what fails
    EXPECT_EQ(gw.signal_and_wait(SIGTERM, 10s), 0);
}

// --check and start load through one path: each config that cannot start fails --check
// too, with the same message at the same place, and both exit 1.
TEST(Cli, CheckRejectsWhatStartRejects) {
    const std::string route = "routes:\n  - name: r\n    match:\n      path_prefix: /\n    upstream: b\n";
    const std::string upstream = "upstreams:\n  b:\n    endpoints: [http://127.0.0.1:" + std::to_string(dead_port()) + "]\n";
    const auto admin_port = std::to_string(dead_port());
    const auto not_pem = write_temp("parity-not-a-cert.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n");
    struct Case {
        std::string name, yaml, where, message;
    } cases[] = {
        {"host-name", "server:\n  listen: myhost:8080\n" + upstream + route, ":2:11:",
         "server.listen: invalid listen address 'myhost:8080': 'myhost' is not an IP address"},
        {"localhost", "server:\n  listen: localhost:0\n" + upstream + route, ":2:11:",
         "'localhost' is a name, not an address: write 127.0.0.1 (or [::1])"},
        {"admin-host-name", "server:\n  listen: 127.0.0.1:0\nadmin:\n  listen: metrics:9901\n" + upstream + route,
         ":4:11:", "admin.listen: invalid listen address 'metrics:9901'"},
        {"admin-port", "server:\n  listen: 0.0.0.0:" + admin_port + "\nadmin:\n  listen: 127.0.0.1:" + admin_port + "\n" +
                           upstream + route,
         ":4:11:", "takes the port of server.listen 0.0.0.0:" + admin_port},
        {"jwks-url",
         "server:\n  listen: 127.0.0.1:0\njwt:\n  providers:\n    p:\n      algorithms: [RS256]\n      keys:\n"
         "        jwks_url: https://[::1/jwks\n" +
             upstream + route,
         ":8:19:", "invalid jwks_url 'https://[::1/jwks': missing ']' after IPv6 address"},
        {"jwks-port",
         "server:\n  listen: 127.0.0.1:0\njwt:\n  providers:\n    p:\n      algorithms: [RS256]\n      keys:\n"
         "        jwks_url: https://issuer.example:99999/jwks\n" +
             upstream + route,
         ":8:19:", "invalid port '99999' (expected 1-65535)"},
        {"endpoint", "server:\n  listen: 127.0.0.1:0\nupstreams:\n  b:\n    endpoints: [\"https://user@app/\"]\n" + route,
         ":5:17:", "invalid endpoint 'https://user@app/': must not contain user info"},
        {"tls-pem",
         "server:\n  listen: 127.0.0.1:0\n  tls:\n    cert_file: " + not_pem.string() + "\n    key_file: " +
             not_pem.string() + "\n" + upstream + route,
         ":4:16:", "cannot load certificate"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto file = write_temp("parity-" + c.name + ".yaml", c.yaml).string();
        const auto checked = run({"-c", file, "--check"}, 10s);
        const auto started = run({"-c", file}, 10s);  // exits at once; `timeout` ends it (124) if it ran
        EXPECT_EQ(checked.status, 1) << checked.output;
        EXPECT_EQ(started.status, 1) << started.output;
        EXPECT_NE(checked.output.find(file + c.where), std::string::npos) << checked.output;
        EXPECT_NE(checked.output.find(c.message), std::string::npos) << checked.output;
        EXPECT_EQ(started.output, checked.output);
    }
}

}  // namespace
}  // namespace authgate::test
