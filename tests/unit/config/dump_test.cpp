// --dump-config's YAML: every value the loader read, written so that it loads back to an
// equal Config, with credentials masked unless asked for.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "config/dump.h"
#include "config/keys.h"
#include "config/loader.h"
#include "config_test_util.h"

namespace authgate::config {
namespace {

using namespace std::chrono_literals;
using test::loaded_ok;
using test::TempDir;

// Every key the loader reads, each away from its default, with strings YAML would read as
// something else if written plainly (a trailing space, "null", "true", "*", "#", "${2}").
constexpr const char* kRich = R"yaml(server:
  listen: [127.0.0.1:8443, "[::1]:9443", 0.0.0.0:0]
  workers: 3
  tls:
    cert_file: certs/server.crt
    key_file: ../secret-dir/server.key
  limits:
    max_header_bytes: 32KiB
    max_body_bytes: 1MB
    max_connections: 77
  timeouts:
    header: 1500ms
    idle: 0
    upstream_connect: 1m30s
    upstream_response: 2h
    request_body: 45s
    shutdown: 0s
    drain_delay: 1h1m1s1ms
  headers_with_underscores: reject
  http2:
    enabled: true
    cleartext: true
    max_concurrent_streams: 7
    max_header_list_size: 8KiB
    header_table_size: 0
    initial_window_size: 1MiB
    max_connection_memory: 2MiB
    max_resets: 9
    max_control_frames: 11
    flood_interval: 3s
admin:
  listen: "[::1]:9901"
log:
  level: debug
  format: json
  access_log: false
upstreams:
  legacy:
    endpoints: [http://127.0.0.1:9000, "https://[2001:db8::1]:8443/", https://backend.internal]
    tls:
      verify: false
      ca_file: certs/ca.pem
      server_name: backend.example
    pool:
      idle_timeout: 250ms
      max_idle: 3
  other:
    endpoints: [http://10.0.0.8:80]
jwt:
  cache:
    max_entries: 0
  key_cache_dir: cache
  providers:
    corp:
      issuer: [https://a.example, "null"]
      audiences: ["*", "true"]
      algorithms: [HS256, RS256, EdDSA]
      types: [at+jwt, "", application/JWT]
      keys:
        secret: "hmac secret: with # and ${2} "
        secret_base64: c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA
        public_key_file: keys/public.pem
        jwks_file: /abs/jwks.json
        jwks_url: https://auth.example/jwks.json?tenant=a
        jwks_refresh: 90s
      leeway: 30s
      required_claims: [exp, sub, "~"]
      max_lifetime: 24h
      token_from:
        - header: X-Token
          prefix: "Token "
        - header: Authorization
        - cookie: access_token
        - query: "access token"
      forward_claims:
        sub: X-User-Id
        realm_access.roles: X-Realm-Roles
        "a: b": X-Odd
      forward_payload_header: X-Jwt-Payload
      strip_token: true
    second:
      algorithms: [ES256]
      keys:
        jwks_url: http://127.0.0.1:1/jwks
    oidc:
      issuer: https://login.example/tenant/
      algorithms: [RS256]
      discovery: true
      discovery_url: https://login.example/tenant/v2/.well-known/openid-configuration?p=a
      keys:
        jwks_cache_file: ../oidc.jwks.json
        max_stale: 3d12h
cors:
  policies:
    web:
      allow_origins: [https://app.example.com, "null"]
      allow_origin_regexes: ['^https://[a-z0-9-]+\.example\.com$', 'x{2}#y']
      allow_all_origins: true
      allow_methods: [GET, PURGE]
      allow_headers: [x-csrftoken]
      expose_headers: [X-Request-Id, "- odd"]
      allow_credentials: true
      max_age: 1h
      allow_private_network: true
    bare:
      allow_methods: []
routes:
  - name: exact
    match:
      path: /exact
      methods: [get, Post]
      host: API.Example.com:8443
    upstream: legacy
    cors: web
    rewrite:
      strip_prefix: /exact
    auth:
      providers: [corp, second]
      mode: report_only
      claims:
        roles: [admin, "null"]
        scope: "orders:read"
        realm_access.roles: ops
  - name: "true"
    match:
      path_prefix: /api/
    upstream: other
    auth:
      providers: [second]
      mode: optional
  - name: open
    upstream: other
    auth: none
)yaml";

struct Files {
    TempDir dir;
    std::string file;
    Files() {
        for (const char* f : {"conf/certs/server.crt", "secret-dir/server.key", "conf/certs/ca.pem", "conf/cache/.keep"})
            dir.write(f, "x");
        file = (dir.path() / "conf/gateway.yaml").string();
    }
};

Config load_ok(const std::string& yaml, const std::string& file) {
    Diagnostics diag;
    auto cfg = load_string(yaml, file, diag);
    EXPECT_TRUE(cfg && diag.ok()) << test::dump(diag.errors()) << "\n" << yaml;
    return cfg.value_or(Config{});
}

TEST(Dump, RichConfigReloadsToAnEqualConfig) {
    Files f;
    const Config original = load_ok(kRich, f.file);
    // Not a vacuous comparison: the rich config differs from the defaults everywhere.
    ASSERT_EQ(original.routes.size(), 3u);
    EXPECT_FALSE(original.server == Server{});
    EXPECT_FALSE(original.log == Log{});

    const std::string dumped = dump_yaml(original, Secrets::reveal);
    const Config reloaded = load_ok(dumped, f.file);
    EXPECT_TRUE(reloaded == original) << dumped;
    // Field by field where a mismatch is most likely, for a readable failure.
    EXPECT_EQ(reloaded.server.timeouts.drain_delay, original.server.timeouts.drain_delay);
    EXPECT_EQ(reloaded.server.listen.size(), 3u);
    ASSERT_EQ(reloaded.jwt.providers.size(), 3u);
    EXPECT_EQ(reloaded.jwt.providers[2].discovery_url, original.jwt.providers[2].discovery_url);
    EXPECT_EQ(reloaded.jwt.providers[2].keys.max_stale, 84h);
    // key_cache_dir names a file for every remote provider without one of its own.
    EXPECT_EQ(reloaded.jwt.providers[1].keys.jwks_cache_file, (f.dir.path() / "conf/cache/second.jwks.json").string());
    EXPECT_EQ(reloaded.jwt.providers[2].keys.jwks_cache_file, (f.dir.path() / "oidc.jwks.json").string());
    EXPECT_EQ(reloaded.jwt.providers[0].keys.secret, "hmac secret: with # and ${2} ");
    EXPECT_EQ(reloaded.jwt.providers[0].token_from, original.jwt.providers[0].token_from);
    EXPECT_EQ(reloaded.jwt.providers[0].forward_claims, original.jwt.providers[0].forward_claims);
    EXPECT_EQ(reloaded.cors.policies, original.cors.policies);
    EXPECT_EQ(reloaded.routes, original.routes);
    // Stable: dumping the reloaded config says the same.
    EXPECT_EQ(dump_yaml(reloaded, Secrets::reveal), dumped);
}

// Every key path in `node`, in config/keys.h's notation ("upstreams.<name>.tls.verify").
void key_paths(const YAML::Node& node, const std::string& path, std::set<std::string>& out) {
    if (node.IsSequence()) {
        for (const auto& item : node) key_paths(item, path + "[]", out);
        return;
    }
    if (!node.IsMap()) return;
    const keys::SectionKeys* section = nullptr;
    for (const auto* s : keys::all())
        if (s->path == path) section = s;
    for (const auto& kv : node) {
        const std::string name = section && section->named ? section->keys.front() : kv.first.Scalar();
        const std::string child = path.empty() ? name : path + "." + name;
        out.insert(child);
        key_paths(kv.second, child, out);
    }
}

TEST(Dump, WritesEveryKeyTheLoaderKnows) {
    Files f;
    std::set<std::string> dumped;
    key_paths(YAML::Load(dump_yaml(load_ok(kRich, f.file), Secrets::reveal)), "", dumped);
    std::set<std::string> known;
    for (const auto* s : keys::all())
        for (const auto& k : s->keys) known.insert(s->key_path(k));
    for (const auto& k : known) EXPECT_TRUE(dumped.count(k)) << "the dump does not write " << k;
    for (const auto& k : dumped) EXPECT_TRUE(known.count(k)) << "the dump writes " << k << ", which the loader does not know";
}

TEST(Dump, EqualityNoticesAChangedValue) {
    // The round trip above relies on ==; make sure it is not blind to nested fields.
    Files f;
    const Config a = load_ok(kRich, f.file);
    Config b = a;
    b.jwt.providers[1].keys.jwks_refresh += 1ms;
    EXPECT_FALSE(a == b);
    b = a;
    b.routes[0].auth.claims[0].second.push_back("x");
    EXPECT_FALSE(a == b);
}

TEST(Dump, DefaultsAreWrittenOut) {
    Files f;
    const Config cfg = load_ok("upstreams:\n  b:\n    endpoints: [http://127.0.0.1:9000]\n"
                               "routes:\n  - name: r\n    upstream: b\n",
                               f.file);
    const YAML::Node y = YAML::Load(dump_yaml(cfg));
    EXPECT_EQ(y["server"]["listen"][0].as<std::string>(), "0.0.0.0:8080");
    EXPECT_EQ(y["server"]["workers"].as<std::string>(), "0");
    EXPECT_EQ(y["server"]["limits"]["max_header_bytes"].as<std::string>(), "16384");
    EXPECT_EQ(y["server"]["timeouts"]["header"].as<std::string>(), "10s");
    EXPECT_EQ(y["server"]["timeouts"]["drain_delay"].as<std::string>(), "5s");
    EXPECT_EQ(y["server"]["headers_with_underscores"].as<std::string>(), "drop");
    EXPECT_EQ(y["log"]["level"].as<std::string>(), "info");
    EXPECT_EQ(y["upstreams"]["b"]["pool"]["idle_timeout"].as<std::string>(), "30s");
    EXPECT_EQ(y["jwt"]["cache"]["max_entries"].as<std::string>(), "10000");
    EXPECT_EQ(y["routes"][0]["auth"].as<std::string>(), "none");
    EXPECT_FALSE(y["admin"]) << "no admin listener unless configured";
}

TEST(Dump, SecretsAreMasked) {
    Files f;
    const std::string dumped = dump_yaml(load_ok(kRich, f.file));
    for (const char* secret : {"hmac secret", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"})
        EXPECT_EQ(dumped.find(secret), std::string::npos) << secret << " in\n" << dumped;
    const YAML::Node y = YAML::Load(dumped);
    const YAML::Node keys = y["jwt"]["providers"]["corp"]["keys"];
    EXPECT_EQ(keys["secret"].as<std::string>(), "<redacted>");
    EXPECT_EQ(keys["secret_base64"].as<std::string>(), "<redacted>");
    // Not secrets: paths (a key file's path is not the key); a URL keeps all but credentials and query values.
    EXPECT_EQ(keys["public_key_file"].as<std::string>(), (f.dir.path() / "conf/keys/public.pem").string());
    EXPECT_EQ(y["server"]["tls"]["key_file"].as<std::string>(), (f.dir.path() / "secret-dir/server.key").string());
    EXPECT_EQ(keys["jwks_url"].as<std::string>(), "https://auth.example/jwks.json?tenant=<redacted>");
    EXPECT_EQ(y["jwt"]["providers"]["second"]["keys"]["jwks_url"].as<std::string>(), "http://127.0.0.1:1/jwks");
    EXPECT_EQ(y["jwt"]["providers"]["oidc"]["discovery_url"].as<std::string>(),
              "https://login.example/tenant/v2/.well-known/openid-configuration?p=<redacted>");
}

TEST(Dump, CredentialsInAUrlAreMasked) {
    EXPECT_EQ(redact_credentials("https://user:pa%40ss@auth.example:8443/jwks.json?t=a"),
              "https://<redacted>@auth.example:8443/jwks.json?t=<redacted>");
    EXPECT_EQ(redact_credentials("https://auth.example/jwks?api_key=s3cret&flag&x="),
              "https://auth.example/jwks?api_key=<redacted>&flag&x=<redacted>");
    EXPECT_EQ(redact_credentials("https://token@auth.example/"), "https://<redacted>@auth.example/");
    EXPECT_EQ(redact_credentials("https://auth.example/jwks.json"), "https://auth.example/jwks.json");
    EXPECT_EQ(redact_credentials("not a url"), "not a url");
}

TEST(Dump, DurationsInTheLoadersSyntax) {
    EXPECT_EQ(format_duration(0ms), "0s");
    EXPECT_EQ(format_duration(250ms), "250ms");
    EXPECT_EQ(format_duration(5s), "5s");
    EXPECT_EQ(format_duration(90s), "1m30s");
    EXPECT_EQ(format_duration(1h), "1h");
    EXPECT_EQ(format_duration(1h + 30min + 500ms), "1h30m500ms");
    for (Duration d : {Duration(1), Duration(999), Duration(1001), Duration(3'599'999), Duration(86'400'000),
                       Duration(123'456'789'012)})
        EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
}

}  // namespace
}  // namespace authgate::config
