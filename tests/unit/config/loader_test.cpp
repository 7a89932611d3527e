// Loader behaviour shared by every section: YAML errors, unknown keys, env expansion,
// positions, collecting every error, and the server / admin / log / upstreams sections.
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

// ---- document level ----

TEST(Loader, YamlSyntaxErrorIsReportedWithItsPosition) {
    auto l = load("server:\n  listen: [a, b\nlog: {}\n");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 1u) << test::dump(l.diag.errors());
    // yaml-cpp notices the unclosed '[' where the next line starts.
    EXPECT_TRUE(has_error(l, 3, 4, "YAML syntax error: end of sequence flow not found"));
}

TEST(Loader, TabIndentationIsASyntaxError) {
    auto l = load("server:\n\tlisten: 0.0.0.0:8080\n");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 1u);
    EXPECT_NE(l.diag.errors()[0].find("YAML syntax error"), std::string::npos) << l.diag.errors()[0];
}

TEST(Loader, RootMustBeAMapping) {
    for (const char* text : {"", "# only a comment\n", "- server\n- log\n", "just a string\n", "~\n"}) {
        auto l = load(text);
        EXPECT_FALSE(l.cfg) << text;
        EXPECT_TRUE(has_error(l, 1, 1, "the config must be a mapping")) << text;
    }
}

TEST(Loader, OnlyOneDocumentIsAllowed) {
    auto l = load("log: {}\n---\nlog: {}\n");
    EXPECT_FALSE(l.cfg);
    EXPECT_TRUE(has_error(l, 3, 1, "only one YAML document"));
}

TEST(Loader, MinimalConfigUsesDefaultsAndWarnsAboutMissingRoutes) {
    auto l = load("log: {}\n");
    ASSERT_TRUE(loaded_ok(l));
    const Config& c = *l.cfg;
    EXPECT_EQ(c.file, test::kFile);
    ASSERT_EQ(c.server.listen.size(), 1u);
    EXPECT_EQ(c.server.listen[0].host, "0.0.0.0");
    EXPECT_EQ(c.server.listen[0].port, 8080);
    EXPECT_EQ(c.server.workers, 0u);
    EXPECT_FALSE(c.server.tls);
    EXPECT_FALSE(c.admin);
    EXPECT_EQ(c.log.level, "info");
    EXPECT_TRUE(c.upstreams.empty());
    EXPECT_TRUE(c.routes.empty());
    EXPECT_TRUE(has_warning(l, 1, 1, "no routes defined"));
}

TEST(Loader, EmptySectionsReadAsEmpty) {
    auto l = load("server:\nlog:\nupstreams:\njwt:\ncors:\n");
    ASSERT_TRUE(loaded_ok(l));
    EXPECT_EQ(l.cfg->server.listen.size(), 1u);
}

// ---- keys ----

TEST(Loader, UnknownKeyWithSuggestion) {
    auto l = load("server:\n  listn: 0.0.0.0:8080\n");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 1u);
    EXPECT_EQ(l.diag.errors()[0], test::kFile + ":2:3: unknown key 'listn' in server; did you mean 'listen'?");
}

TEST(Loader, UnknownKeyWithoutCloseMatchHasNoSuggestion) {
    auto l = load("server:\n  frobnicate: 1\n");
    ASSERT_EQ(l.diag.errors().size(), 1u);
    EXPECT_EQ(l.diag.errors()[0], test::kFile + ":2:3: unknown key 'frobnicate' in server");
}

TEST(Loader, UnknownTopLevelKey) {
    auto l = load("sever:\n  listen: 0.0.0.0:80\nroute: []\n");
    EXPECT_TRUE(has_error(l, 1, 1, "unknown key 'sever' at top level; did you mean 'server'?"));
    EXPECT_TRUE(has_error(l, 3, 1, "unknown key 'route' at top level; did you mean 'routes'?"));
}

TEST(Loader, UnknownKeysInNestedSections) {
    auto l = load(R"(server:
  timeouts:
    idel: 5s
  limits: {max_body: 1}
upstreams:
  app:
    endpoint: [http://a]
)");
    EXPECT_TRUE(has_error(l, 3, 5, "unknown key 'idel' in server.timeouts; did you mean 'idle'?"));
    EXPECT_TRUE(has_error(l, 4, 12, "unknown key 'max_body' in server.limits"));
    EXPECT_TRUE(has_error(l, 7, 5, "unknown key 'endpoint' in upstreams.app; did you mean 'endpoints'?"));
}

TEST(Loader, EnvVariablesInKeysAreNotExpanded) {
    ScopedEnv env("AG_TEST_KEY", "server");
    auto l = load("${AG_TEST_KEY}: {}\n");
    EXPECT_TRUE(has_error(l, 1, 1, "unknown key '${AG_TEST_KEY}' at top level"));
}

TEST(Loader, DuplicateKeyIsAnError) {
    auto l = load("server:\n  workers: 1\n  workers: 2\n");
    EXPECT_FALSE(l.cfg);
    EXPECT_TRUE(has_error(l, 3, 3, "duplicate key 'workers' in server"));
}

TEST(Loader, NonStringKeyIsAnError) {
    auto l = load("server:\n  [a, b]: 1\n");
    EXPECT_TRUE(has_error(l, 2, 3, "keys must be plain strings in server"));
}

TEST(Loader, SectionOfTheWrongTypeIsAnError) {
    auto l = load("server: 8080\nlog: [info]\n");
    EXPECT_TRUE(has_error(l, 1, 9, "server: expected a mapping, got '8080'"));
    EXPECT_TRUE(has_error(l, 2, 6, "log: expected a mapping, got a list"));
}

// ---- every error at once ----

TEST(Loader, ReportsEveryErrorNotJustTheFirst) {
    auto l = load(R"(server:
  listen: 0.0.0.0:99999
  workers: abc
log:
  level: loud
upstreams:
  app:
    endpoints: [ftp://x]
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 4u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 2, 11, "server.listen: invalid listen address '0.0.0.0:99999': invalid port '99999'"));
    EXPECT_TRUE(has_error(l, 3, 12, "server.workers: expected an integer, got 'abc'"));
    EXPECT_TRUE(has_error(l, 5, 10, "log.level: invalid value 'loud'"));
    EXPECT_TRUE(has_error(l, 8, 17, "upstreams.app.endpoints[0]: invalid endpoint 'ftp://x'"));
}

TEST(Loader, ExistingDiagnosticsDoNotMakeAGoodConfigFail) {
    Diagnostics diag;
    diag.error("an earlier, unrelated problem");
    auto cfg = load_string("log: {}\n", test::kFile, diag);
    EXPECT_TRUE(cfg);
}

// ---- ${ENV} ----

TEST(Loader, EnvVariablesAreExpandedBeforeInterpretation) {
    ScopedEnv port("AG_TEST_PORT", "9090");
    ScopedEnv workers("AG_TEST_WORKERS", "4");
    ScopedEnv access("AG_TEST_ACCESS_LOG", "false");
    ScopedEnv unset("AG_TEST_ADMIN_HOST", nullptr);
    auto l = load(R"(server:
  listen: 127.0.0.1:${AG_TEST_PORT}
  workers: ${AG_TEST_WORKERS}
  timeouts: {idle: "${AG_TEST_IDLE:-90s}"}
admin:
  listen: ${AG_TEST_ADMIN_HOST:-127.0.0.1}:9901
log:
  access_log: ${AG_TEST_ACCESS_LOG}
)");
    ASSERT_TRUE(loaded_ok(l));
    EXPECT_EQ(l.cfg->server.listen[0].port, 9090);
    EXPECT_EQ(l.cfg->server.workers, 4u);
    EXPECT_EQ(l.cfg->server.timeouts.idle, Duration(90s));
    ASSERT_TRUE(l.cfg->admin);
    EXPECT_EQ(l.cfg->admin->listen.host, "127.0.0.1");
    EXPECT_FALSE(l.cfg->log.access_log);
}

TEST(Loader, MissingEnvVariableIsAnErrorAtItsValue) {
    ScopedEnv unset("AG_TEST_NOPE", nullptr);
    ScopedEnv unset2("AG_TEST_NOPE2", nullptr);
    auto l = load(R"(server:
  listen: ${AG_TEST_NOPE}
upstreams:
  app:
    endpoints:
      - http://a
      - http://${AG_TEST_NOPE2}:80
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 2u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 2, 11, "server.listen: environment variable 'AG_TEST_NOPE' is not set"));
    EXPECT_TRUE(has_error(l, 7, 9, "upstreams.app.endpoints[1]: environment variable 'AG_TEST_NOPE2' is not set"));
}

// ---- server ----

TEST(Server, ListenAcceptsAListWithIpv6AndPortZero) {
    auto l = load(R"(server:
  listen:
    - 0.0.0.0:0
    - "[::1]:8080"
    - 127.0.0.1:8443
)");
    ASSERT_TRUE(loaded_ok(l));
    const auto& listen = l.cfg->server.listen;
    ASSERT_EQ(listen.size(), 3u);
    EXPECT_EQ(listen[0].host, "0.0.0.0");
    EXPECT_EQ(listen[0].port, 0);
    EXPECT_EQ(listen[1].host, "::1");
    EXPECT_EQ(listen[1].port, 8080);
    EXPECT_EQ(listen[2].host, "127.0.0.1");
    EXPECT_EQ(listen[2].port, 8443);
    EXPECT_EQ(l.cfg->server.marks.at("listen[1]").line, 4);
    EXPECT_EQ(l.cfg->server.marks.at("listen[1]").col, 7);
}

TEST(Server, BadListenAddresses) {
    auto l = load(R"(server:
  listen: [127.0.0.1:80, "localhost:http", "::1:8080", 8080, "[::1]"]
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 4u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 2, 26, "server.listen[1]: invalid listen address 'localhost:http': invalid port 'http'"));
    EXPECT_TRUE(has_error(l, 2, 44, "IPv6 addresses must be in brackets, e.g. [::1]:8080"));
    EXPECT_TRUE(has_error(l, 2, 56, "server.listen[3]: invalid listen address '8080': missing port"));
    EXPECT_TRUE(has_error(l, 2, 62, "server.listen[4]: invalid listen address '[::1]': missing port"));
}

// The server binds addresses and resolves no names: a name fails --check as it would fail start.
TEST(Server, ListenHostsMustBeAddresses) {
    auto l = load(R"(server:
  listen: [myhost:8080, "localhost:8443", 0.0.0.0:8080]
admin:
  listen: my-admin:9901
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 3u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 2, 12,
                          "server.listen[0]: invalid listen address 'myhost:8080': 'myhost' is not an IP address: listen "
                          "on an address such as 0.0.0.0 (every IPv4 interface), [::] (every interface) or 127.0.0.1 "
                          "(loopback only)"));
    EXPECT_TRUE(has_error(l, 2, 25,
                          "server.listen[1]: invalid listen address 'localhost:8443': 'localhost' is a name, not an "
                          "address: write 127.0.0.1 (or [::1])"));
    EXPECT_TRUE(has_error(l, 4, 11, "admin.listen: invalid listen address 'my-admin:9901': 'my-admin' is not an IP address"));
}

TEST(Server, EmptyListenListIsAnError) {
    auto l = load("server:\n  listen: []\n");
    EXPECT_TRUE(has_error(l, 2, 11, "at least one listen address is required"));
}

TEST(Server, WorkersMustBeANonNegativeInteger) {
    EXPECT_EQ(load("server: {workers: 6}\n").cfg->server.workers, 6u);
    EXPECT_TRUE(has_error(load("server:\n  workers: -1\n"), 2, 12, "server.workers: must not be negative, got '-1'"));
    EXPECT_TRUE(has_error(load("server:\n  workers: 1.5\n"), 2, 12, "expected an integer, got '1.5'"));
    EXPECT_TRUE(has_error(load("server:\n  workers: [1]\n"), 2, 12, "expected an integer, got a list"));
    EXPECT_TRUE(has_error(load("server:\n  workers:\n"), 2, 3, "expected an integer, got nothing"));
    EXPECT_TRUE(has_error(load("server:\n  workers: 4294967296\n"), 2, 12, "out of range"));
    EXPECT_TRUE(has_error(load("server:\n  workers: 99999999999999999999\n"), 2, 12, "out of range"));
}

TEST(Server, LimitsAndTimeoutsUseUnits) {
    auto l = load(R"(server:
  limits:
    max_header_bytes: 32KiB
    max_body_bytes: 1MB
    max_connections: 500
  timeouts:
    header: 5s
    idle: 1m30s
    upstream_connect: 250ms
    upstream_response: 45
    shutdown: 0
)");
    ASSERT_TRUE(loaded_ok(l));
    const Server& s = l.cfg->server;
    EXPECT_EQ(s.limits.max_header_bytes, 32u * 1024);
    EXPECT_EQ(s.limits.max_body_bytes, 1000000u);
    EXPECT_EQ(s.limits.max_connections, 500u);
    EXPECT_EQ(s.timeouts.header, Duration(5s));
    EXPECT_EQ(s.timeouts.idle, Duration(90s));
    EXPECT_EQ(s.timeouts.upstream_connect, Duration(250ms));
    EXPECT_EQ(s.timeouts.upstream_response, Duration(45s));
    EXPECT_EQ(s.timeouts.shutdown, Duration(0));
    EXPECT_EQ(s.marks.at("timeouts.idle").line, 8);
    EXPECT_EQ(s.marks.at("limits.max_body_bytes").col, 21);
}

TEST(Server, BadLimitsAndTimeouts) {
    auto l = load(R"(server:
  limits:
    max_header_bytes: -1
    max_body_bytes: 12XB
    max_connections: 0
  timeouts:
    header: 0s
    idle: -5s
    upstream_connect: 3 seconds
    shutdown: 99999999999999999999h
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 7u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 3, 23, "server.limits.max_header_bytes: size must not be negative, got '-1'"));
    EXPECT_TRUE(has_error(l, 4, 21, "server.limits.max_body_bytes: invalid size '12XB'"));
    EXPECT_TRUE(has_error(l, 5, 22, "server.limits.max_connections: must be greater than 0"));
    EXPECT_TRUE(has_error(l, 7, 13, "server.timeouts.header: must be greater than 0"));
    EXPECT_TRUE(has_error(l, 8, 11, "server.timeouts.idle: duration must not be negative, got '-5s'"));
    EXPECT_TRUE(has_error(l, 9, 23, "server.timeouts.upstream_connect: invalid duration '3 seconds'"));
    EXPECT_TRUE(has_error(l, 10, 15, "invalid duration '99999999999999999999h'"));
}

TEST(Server, TlsNeedsBothFiles) {
    auto l = load("server:\n  tls:\n    cert_file: /etc/ssl/certs\n");
    EXPECT_FALSE(l.cfg);
    EXPECT_TRUE(has_error(l, 2, 3, "server.tls: missing required key 'key_file'"));
    EXPECT_TRUE(has_error(l, 3, 16, "server.tls.cert_file: not a regular file: /etc/ssl/certs"));
}

// ---- admin, log ----

TEST(Admin, ListenIsRequiredAndParsed) {
    auto ok = load("admin:\n  listen: 127.0.0.1:9901\n");
    ASSERT_TRUE(loaded_ok(ok));
    ASSERT_TRUE(ok.cfg->admin);
    EXPECT_EQ(ok.cfg->admin->listen.host, "127.0.0.1");
    EXPECT_EQ(ok.cfg->admin->listen.port, 9901);
    EXPECT_EQ(ok.cfg->admin->marks.at("listen").line, 2);

    EXPECT_TRUE(has_error(load("admin: {}\n"), 1, 1, "admin: missing required key 'listen'"));
    EXPECT_TRUE(has_error(load("admin:\n  listen: [127.0.0.1:1]\n"), 2, 11, "expected a string, got a list"));
}

// Bound without SO_REUSEPORT, the admin listener cannot share a port with the server's.
TEST(Admin, NeedsAPortOfItsOwn) {
    auto l = load(R"(server:
  listen:
    - 127.0.0.1:8080
    - "[::]:9901"
admin:
  listen: 127.0.0.1:9901
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 1u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 6, 11,
                          "admin.listen: 127.0.0.1:9901 takes the port of server.listen [::]:9901 (line 4): give the "
                          "admin listener a port of its own"));

    EXPECT_TRUE(has_error(load("server:\n  listen: 0.0.0.0:9901\nadmin:\n  listen: 127.0.0.1:9901\n"), 4, 11,
                          "takes the port of server.listen 0.0.0.0:9901 (line 2)"));
    EXPECT_TRUE(loaded_ok(load("server:\n  listen: 0.0.0.0:9901\nadmin:\n  listen: 127.0.0.1:9902\n")));
    EXPECT_TRUE(loaded_ok(load("server:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n")));

    // An invalid server.listen is reported once: the admin port is not compared with the
    // default 0.0.0.0:8080 nor with what is left of a list missing an item.
    auto bad = load("server:\n  listen: myhost:8080\nadmin:\n  listen: 127.0.0.1:8080\n");
    ASSERT_EQ(bad.diag.errors().size(), 1u) << test::dump(bad.diag.errors());
    EXPECT_TRUE(has_error(bad, 2, 11, "invalid listen address 'myhost:8080'"));
    auto partial = load("server:\n  listen: [myhost:8080, 0.0.0.0:9901]\nadmin:\n  listen: 127.0.0.1:9901\n");
    ASSERT_EQ(partial.diag.errors().size(), 1u) << test::dump(partial.diag.errors());
}

TEST(Log, ValuesAreChecked) {
    auto ok = load("log:\n  level: debug\n  format: json\n  access_log: false\n");
    ASSERT_TRUE(loaded_ok(ok));
    EXPECT_EQ(ok.cfg->log.level, "debug");
    EXPECT_EQ(ok.cfg->log.format, "json");
    EXPECT_FALSE(ok.cfg->log.access_log);

    auto l = load("log:\n  level: debg\n  format: xml\n  access_log: yes\n");
    ASSERT_EQ(l.diag.errors().size(), 3u);
    EXPECT_TRUE(has_error(
        l, 2, 10,
        "log.level: invalid value 'debg' (expected one of trace|debug|info|warn|error|off); did you mean 'debug'?"));
    EXPECT_TRUE(has_error(l, 3, 11, "log.format: invalid value 'xml' (expected one of text|json)"));
    EXPECT_TRUE(has_error(l, 4, 15, "log.access_log: expected true or false, got 'yes'"));
}

// ---- upstreams ----

TEST(Upstreams, EndpointsTlsAndPool) {
    auto l = load(R"(upstreams:
  app:
    endpoints:
      - http://127.0.0.1:9000
      - https://backend.internal
      - http://[::1]:8081/
    tls:
      verify: false
      server_name: backend.internal
    pool:
      idle_timeout: 90s
      max_idle: 8
  other:
    endpoints: [http://other]
)");
    ASSERT_TRUE(loaded_ok(l));
    ASSERT_EQ(l.cfg->upstreams.size(), 2u);
    const Upstream& app = l.cfg->upstreams[0];
    EXPECT_EQ(app.name, "app");
    ASSERT_EQ(app.endpoints.size(), 3u);
    EXPECT_EQ(app.endpoints[0].scheme, "http");
    EXPECT_EQ(app.endpoints[0].host, "127.0.0.1");
    EXPECT_EQ(app.endpoints[0].port, 9000);
    EXPECT_EQ(app.endpoints[1].scheme, "https");
    EXPECT_EQ(app.endpoints[1].port, 443);
    EXPECT_EQ(app.endpoints[2].host, "::1");
    EXPECT_EQ(app.endpoints[2].port, 8081);
    EXPECT_FALSE(app.tls.verify);
    EXPECT_EQ(app.tls.server_name, "backend.internal");
    EXPECT_EQ(app.pool_idle_timeout, Duration(90s));
    EXPECT_EQ(app.pool_max_idle, 8u);
    EXPECT_EQ(app.marks.self.line, 3);
    EXPECT_EQ(app.marks.at("endpoints[2]").line, 6);
    EXPECT_EQ(app.marks.at("tls.server_name").col, 20);
    EXPECT_TRUE(has_warning(l, 8, 15, "TLS certificate verification is disabled for upstream 'app'"));

    const Upstream& other = l.cfg->upstreams[1];
    EXPECT_EQ(other.name, "other");
    EXPECT_EQ(other.endpoints[0].port, 80);
    EXPECT_TRUE(other.tls.verify);
    EXPECT_EQ(other.pool_max_idle, 64u);
}

TEST(Upstreams, EndpointErrors) {
    auto l = load(R"(upstreams:
  a:
    endpoints: []
  b:
    tls: {verify: true}
  c:
    endpoints:
      - http://host/api
      - 10.0.0.1:80
      - https://host:0
  d:
  e:
    endpoints: http://single
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 7u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 3, 16, "upstreams.a.endpoints: at least one endpoint is required"));
    EXPECT_TRUE(has_error(l, 4, 3, "upstreams.b: missing required key 'endpoints'"));
    EXPECT_TRUE(has_error(l, 8, 9, "must not have a path, query or fragment"));
    EXPECT_TRUE(has_error(l, 9, 9, "invalid endpoint '10.0.0.1:80': must start with http:// or https://"));
    EXPECT_TRUE(has_error(l, 10, 9, "invalid port '0'"));
    EXPECT_TRUE(has_error(l, 11, 3, "upstreams.d: missing required key 'endpoints'"));
    EXPECT_TRUE(has_error(l, 13, 16, "upstreams.e.endpoints: expected a list, got 'http://single'"));
}

// Each URL a connection could not be made to, reported where it is written.
TEST(Upstreams, MalformedEndpointUrls) {
    auto l = load(R"(upstreams:
  app:
    endpoints:
      - "https://"
      - "https://host:99999"
      - "https://user@host/"
      - "https://[::1"
      - "ftp://x"
      - "http://app_1:8080/"
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 5u) << test::dump(l.diag.errors());
    EXPECT_TRUE(has_error(l, 4, 9, "upstreams.app.endpoints[0]: invalid endpoint 'https://': missing host"));
    EXPECT_TRUE(has_error(l, 5, 9,
                          "upstreams.app.endpoints[1]: invalid endpoint 'https://host:99999': invalid port '99999' "
                          "(expected 1-65535)"));
    EXPECT_TRUE(has_error(l, 6, 9,
                          "upstreams.app.endpoints[2]: invalid endpoint 'https://user@host/': must not contain user info"));
    EXPECT_TRUE(has_error(l, 7, 9,
                          "upstreams.app.endpoints[3]: invalid endpoint 'https://[::1': missing ']' after IPv6 address"));
    EXPECT_TRUE(
        has_error(l, 8, 9, "upstreams.app.endpoints[4]: invalid endpoint 'ftp://x': must start with http:// or https://"));
}

TEST(Loader, NeverThrowsOnOddInput) {
    const std::string deep(5000, '[');
    for (std::string text : {deep, std::string("\xff\xfe\x00garbage", 10), std::string("a: b: c\n"),
                             std::string("&a [*a]\n"), std::string("? [complex]\n: key\n"),
                             std::string("routes:\n  - *undefined\n"), std::string("server: !!binary AAAA\n"),
                             std::string("upstreams:\n  ~: {endpoints: [http://a]}\n")}) {
        Diagnostics diag;
        std::optional<Config> cfg;
        EXPECT_NO_THROW(cfg = load_string(text, test::kFile, diag)) << text;
        EXPECT_FALSE(cfg) << text;
        EXPECT_FALSE(diag.ok()) << text;
    }
}

// ---- hardening keys ----

TEST(Loader, RequestBodyTimeoutDefaultsToAMinute) {
    auto l = load("server: {}\n");
    ASSERT_TRUE(loaded_ok(l));
    EXPECT_EQ(l.cfg->server.timeouts.request_body, Duration(60s));
    EXPECT_EQ(l.cfg->server.headers_with_underscores, Underscores::drop);
}

TEST(Loader, RequestBodyTimeoutIsReadAndMustBePositive) {
    auto l = load("server:\n  timeouts:\n    request_body: 5s\n");
    ASSERT_TRUE(loaded_ok(l));
    EXPECT_EQ(l.cfg->server.timeouts.request_body, Duration(5s));
    auto zero = load("server:\n  timeouts:\n    request_body: 0s\n");
    EXPECT_FALSE(zero.cfg);
    ASSERT_EQ(zero.diag.errors().size(), 1u) << test::dump(zero.diag.errors());
    EXPECT_EQ(zero.diag.errors()[0].rfind(test::kFile + ":3:19: ", 0), 0u) << zero.diag.errors()[0];
}

TEST(Loader, DrainDelayDefaultsToFiveSecondsAndMayBeZero) {
    auto l = load("server: {}\n");
    ASSERT_TRUE(loaded_ok(l));
    EXPECT_EQ(l.cfg->server.timeouts.drain_delay, Duration(5s));
    auto zero = load("server:\n  timeouts:\n    drain_delay: 0s\n");
    ASSERT_TRUE(loaded_ok(zero));
    EXPECT_EQ(zero.cfg->server.timeouts.drain_delay, Duration(0s));
    auto bad = load("server:\n  timeouts:\n    drain_delay: soon\n");
    EXPECT_FALSE(bad.cfg);
}

TEST(Loader, HeadersWithUnderscoresTakesDropRejectOrAllow) {
    const std::pair<const char*, Underscores> cases[] = {
        {"drop", Underscores::drop}, {"reject", Underscores::reject}, {"allow", Underscores::allow}};
    for (const auto& [text, want] : cases) {
        auto l = load(std::string("server:\n  headers_with_underscores: ") + text + "\n");
        ASSERT_TRUE(loaded_ok(l)) << text;
        EXPECT_EQ(l.cfg->server.headers_with_underscores, want) << text;
    }
    auto bad = load("server:\n  headers_with_underscores: rejct\n");
    EXPECT_FALSE(bad.cfg);
    ASSERT_EQ(bad.diag.errors().size(), 1u);
    EXPECT_EQ(bad.diag.errors()[0], test::kFile +
                                        ":2:29: server.headers_with_underscores: invalid value 'rejct' (expected one of drop|reject|allow); "
                                        "did you mean 'reject'?");
}

TEST(Loader, Http2KeysAreReadWithSafeDefaults) {
    auto d = load("server:\n  workers: 1\n");
    ASSERT_TRUE(loaded_ok(d));
    const Http2 defaults;
    EXPECT_EQ(d.cfg->server.http2, defaults);
    EXPECT_FALSE(defaults.enabled);
    EXPECT_FALSE(defaults.cleartext);
    EXPECT_EQ(defaults.max_concurrent_streams, 100u);
    auto l = load("server:\n  http2:\n    enabled: true\n    cleartext: true\n    max_concurrent_streams: 8\n"
                  "    max_header_list_size: 8KiB\n    max_resets: 5\n    flood_interval: 2s\n");
    ASSERT_TRUE(loaded_ok(l));
    EXPECT_TRUE(l.cfg->server.http2.enabled);
    EXPECT_TRUE(l.cfg->server.http2.cleartext);
    EXPECT_EQ(l.cfg->server.http2.max_concurrent_streams, 8u);
    EXPECT_EQ(l.cfg->server.http2.max_header_list_size, 8192u);
    EXPECT_EQ(l.cfg->server.http2.max_resets, 5u);
    EXPECT_EQ(l.cfg->server.http2.flood_interval, Duration(2s));
}

TEST(Loader, Http2LimitsOutOfRangeNameTheirLine) {
    auto zero = load("server:\n  http2:\n    enabled: true\n    max_concurrent_streams: 0\n");
    EXPECT_FALSE(zero.cfg);
    ASSERT_EQ(zero.diag.errors().size(), 1u) << test::dump(zero.diag.errors());
    EXPECT_EQ(zero.diag.errors()[0].rfind(test::kFile + ":4:29: ", 0), 0u) << zero.diag.errors()[0];
    auto window = load("server:\n  http2:\n    initial_window_size: 4GiB\n");
    EXPECT_FALSE(window.cfg);
    ASSERT_EQ(window.diag.errors().size(), 1u) << test::dump(window.diag.errors());
    auto h2c = load("server:\n  http2:\n    cleartext: true\n");
    EXPECT_FALSE(h2c.cfg);
    ASSERT_EQ(h2c.diag.errors().size(), 1u) << test::dump(h2c.diag.errors());
    EXPECT_NE(h2c.diag.errors()[0].find(":3:16: "), std::string::npos) << h2c.diag.errors()[0];
    EXPECT_NE(h2c.diag.errors()[0].find("needs server.http2.enabled"), std::string::npos) << h2c.diag.errors()[0];
}

}  // namespace
}  // namespace authgate::config
