// A complete example config loads to exactly what it says, plus the
// file-system behaviour: path resolution, TLS file checks and load_file.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/loader.h"
#include "config_test_util.h"

namespace authgate::config {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using test::has_error;
using test::loaded_ok;
using test::ScopedEnv;
using test::TempDir;

// A complete configuration as a user writes one: every section and option, with the
// defaults and the comments a reader needs.
constexpr const char* kSpecExample = R"yaml(server:
  listen: 0.0.0.0:8080              # host:port; also a list of them
  workers: 0                        # 0 or absent = one per CPU core
  tls:                              # optional: terminate TLS on this listener
    cert_file: certs/server.crt
    key_file: certs/server.key
  limits:
    max_header_bytes: 16KiB         # larger request header -> 431
    max_body_bytes: 10MiB           # larger request body -> 413
    max_connections: 10000
  timeouts:
    header: 10s                     # to receive a whole request header (slowloris guard)
    idle: 60s                       # keep-alive idle downstream
    upstream_connect: 2s            # -> 502 when exceeded / refused
    upstream_response: 30s          # to the first byte of the upstream response -> 504

admin:                              # optional; separate listener, never proxied
  listen: 127.0.0.1:9901            # GET /healthz, /readyz, /metrics (Prometheus text)

log:
  level: info                       # trace|debug|info|warn|error|off
  format: text                      # text|json
  access_log: true

upstreams:
  legacy:
    endpoints:                      # several = round robin, skipping ones that fail to connect
      - http://127.0.0.1:9000
      - https://10.0.0.7:9443       # https upstream (TLS client, SNI, verify on by default)
    tls:
      verify: true
      ca_file: certs/ca.pem

jwt:
  providers:
    corp:
      issuer: https://auth.example.com        # string or list; absent = not checked
      audiences: [orders-api]                 # token aud (string or array) must share one; absent = not checked
      algorithms: [RS256, ES256]              # required; a token whose alg is not listed is rejected
      types: [at+jwt, JWT]                    # optional: allowed JOSE typ values
      keys:                                   # at least one source
        secret: ${JWT_SECRET}                 # HMAC secret (raw bytes of the string)
        secret_base64: ...                    # HMAC secret given as base64/base64url
        public_key_file: keys/public.pem      # PEM: RSA, EC P-256/384/521, Ed25519
        jwks_file: keys/jwks.json             # JSON Web Key Set (RFC 7517)
        jwks_url: https://auth.example.com/.well-known/jwks.json
        jwks_refresh: 5m                      # re-fetch period; last good set kept on failure
      leeway: 30s                             # clock skew allowed on exp/nbf/iat
      required_claims: [exp, sub]             # must be present
      max_lifetime: 24h                       # optional: exp - iat (or exp - now) may not exceed
      token_from:                             # tried in order; default: Authorization Bearer
        - header: Authorization
          prefix: "Bearer "
        - cookie: access_token
        - query: access_token
      forward_claims:                         # claim -> upstream request header
        sub: X-User-Id
        username: X-User-Name
        roles: X-User-Roles                   # array -> comma-joined; object -> compact JSON
        realm_access.roles: X-Realm-Roles     # dotted path into nested objects
      forward_payload_header: X-Jwt-Payload   # optional: the verified payload, base64url JSON
      strip_token: false                      # true: remove the token from the upstream request

cors:
  policies:
    web:
      allow_origins: [https://app.example.com]
      allow_origin_regexes: ['^https://[a-z0-9-]+\.example\.com$']   # full-match
      allow_all_origins: false
      allow_methods: [GET, POST, PUT, PATCH, DELETE, OPTIONS]
      allow_headers: [accept, authorization, content-type, x-requested-with]
      expose_headers: [X-Request-Id]
      allow_credentials: true
      max_age: 86400                          # seconds, sent as Access-Control-Max-Age
      allow_private_network: false            # answer Access-Control-Request-Private-Network

routes:                                       # first match wins
  - name: public
    match:
      path_prefix: /api/public/
    upstream: legacy
    cors: web
    auth: none                                # no token needed (claim headers still stripped)
  - name: api
    match:
      path_prefix: /api/                      # also: path (exact), methods: [..], host: name
    upstream: legacy
    cors: web
    rewrite:
      strip_prefix: /api                      # optional
    auth:
      providers: [corp]                       # token must verify with one of them
      mode: required                          # required | optional (bad token still 401) | report_only
      claims:                                 # optional rules, all must hold -> else 403
        roles: [admin, ops]                   # claim equals, or (array) contains, one of these
        scope: orders:read                    # space-separated scope string contains this
)yaml";

TEST(SpecExample, LoadsToWhatItSays) {
    TempDir dir;
    dir.write("certs/server.crt", "cert");
    dir.write("certs/server.key", "key");
    dir.write("certs/ca.pem", "ca");
    const std::string file = dir.write("authgate.yaml", kSpecExample);
    const std::string root = dir.path().string();
    ScopedEnv secret("JWT_SECRET", "an-hmac-secret-that-is-long-enough!");

    Diagnostics diag;
    auto cfg = load_file(file, diag);
    ASSERT_TRUE(cfg) << test::dump(diag.errors());
    EXPECT_TRUE(diag.warnings().empty()) << test::dump(diag.warnings());
    EXPECT_EQ(cfg->file, file);

    // server
    const Server& s = cfg->server;
    ASSERT_EQ(s.listen.size(), 1u);
    EXPECT_EQ(s.listen[0].host, "0.0.0.0");
    EXPECT_EQ(s.listen[0].port, 8080);
    EXPECT_EQ(s.workers, 0u);
    ASSERT_TRUE(s.tls);
    EXPECT_EQ(s.tls->cert_file, root + "/certs/server.crt");
    EXPECT_EQ(s.tls->key_file, root + "/certs/server.key");
    EXPECT_EQ(s.limits.max_header_bytes, 16u * 1024);
    EXPECT_EQ(s.limits.max_body_bytes, 10u * 1024 * 1024);
    EXPECT_EQ(s.limits.max_connections, 10000u);
    EXPECT_EQ(s.timeouts.header, Duration(10s));
    EXPECT_EQ(s.timeouts.idle, Duration(60s));
    EXPECT_EQ(s.timeouts.upstream_connect, Duration(2s));
    EXPECT_EQ(s.timeouts.upstream_response, Duration(30s));
    EXPECT_EQ(s.timeouts.shutdown, Duration(10s));
    EXPECT_EQ(s.marks.at("tls.cert_file").file, file);
    EXPECT_EQ(s.marks.at("tls.cert_file").line, 5);
    EXPECT_EQ(s.marks.at("tls.cert_file").col, 16);

    // admin, log
    ASSERT_TRUE(cfg->admin);
    EXPECT_EQ(cfg->admin->listen.host, "127.0.0.1");
    EXPECT_EQ(cfg->admin->listen.port, 9901);
    EXPECT_EQ(cfg->log.level, "info");
    EXPECT_EQ(cfg->log.format, "text");
    EXPECT_TRUE(cfg->log.access_log);

    // upstreams
    ASSERT_EQ(cfg->upstreams.size(), 1u);
    const Upstream& legacy = cfg->upstreams[0];
    EXPECT_EQ(legacy.name, "legacy");
    ASSERT_EQ(legacy.endpoints.size(), 2u);
    EXPECT_EQ(legacy.endpoints[0].scheme, "http");
    EXPECT_EQ(legacy.endpoints[0].host, "127.0.0.1");
    EXPECT_EQ(legacy.endpoints[0].port, 9000);
    EXPECT_EQ(legacy.endpoints[1].scheme, "https");
    EXPECT_EQ(legacy.endpoints[1].host, "10.0.0.7");
    EXPECT_EQ(legacy.endpoints[1].port, 9443);
    EXPECT_TRUE(legacy.tls.verify);
    EXPECT_EQ(legacy.tls.ca_file, root + "/certs/ca.pem");
    EXPECT_EQ(legacy.tls.server_name, "");

    // jwt
    ASSERT_EQ(cfg->jwt.providers.size(), 1u);
    const JwtProvider& corp = cfg->jwt.providers[0];
    EXPECT_EQ(corp.name, "corp");
    EXPECT_EQ(corp.issuers, std::vector<std::string>{"https://auth.example.com"});
    EXPECT_EQ(corp.audiences, std::vector<std::string>{"orders-api"});
    EXPECT_EQ(corp.algorithms, (std::vector<std::string>{"RS256", "ES256"}));
    EXPECT_EQ(corp.types, (std::vector<std::string>{"at+jwt", "JWT"}));
    EXPECT_EQ(corp.keys.secret, "an-hmac-secret-that-is-long-enough!");
    EXPECT_EQ(corp.keys.secret_base64, "...");
    EXPECT_EQ(corp.keys.public_key_file, root + "/keys/public.pem");
    EXPECT_EQ(corp.keys.jwks_file, root + "/keys/jwks.json");
    EXPECT_EQ(corp.keys.jwks_url, "https://auth.example.com/.well-known/jwks.json");
    EXPECT_EQ(corp.keys.jwks_refresh, Duration(5min));
    EXPECT_EQ(corp.leeway, Duration(30s));
    EXPECT_EQ(corp.required_claims, (std::vector<std::string>{"exp", "sub"}));
    EXPECT_EQ(corp.max_lifetime, Duration(24h));
    ASSERT_EQ(corp.token_from.size(), 3u);
    EXPECT_EQ(corp.token_from[0].kind, TokenSource::Kind::header);
    EXPECT_EQ(corp.token_from[0].name, "Authorization");
    EXPECT_EQ(corp.token_from[0].prefix, "Bearer ");
    EXPECT_EQ(corp.token_from[1].kind, TokenSource::Kind::cookie);
    EXPECT_EQ(corp.token_from[1].name, "access_token");
    EXPECT_EQ(corp.token_from[2].kind, TokenSource::Kind::query);
    EXPECT_EQ(corp.token_from[2].name, "access_token");
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(corp.forward_claims, (Pairs{{"sub", "X-User-Id"},
                                          {"username", "X-User-Name"},
                                          {"roles", "X-User-Roles"},
                                          {"realm_access.roles", "X-Realm-Roles"}}));
    EXPECT_EQ(corp.forward_payload_header, "X-Jwt-Payload");
    EXPECT_FALSE(corp.strip_token);
    EXPECT_EQ(cfg->jwt.cache_max_entries, 10000u);
    EXPECT_EQ(corp.keys.marks.at("public_key_file").line, 44);

    // cors
    ASSERT_EQ(cfg->cors.policies.size(), 1u);
    const CorsPolicy& web = cfg->cors.policies[0];
    EXPECT_EQ(web.name, "web");
    EXPECT_EQ(web.allow_origins, std::vector<std::string>{"https://app.example.com"});
    EXPECT_EQ(web.allow_origin_regexes, std::vector<std::string>{R"(^https://[a-z0-9-]+\.example\.com$)"});
    EXPECT_FALSE(web.allow_all_origins);
    EXPECT_EQ(web.allow_methods, (std::vector<std::string>{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}));
    EXPECT_EQ(web.allow_headers,
              (std::vector<std::string>{"accept", "authorization", "content-type", "x-requested-with"}));
    EXPECT_EQ(web.expose_headers, std::vector<std::string>{"X-Request-Id"});
    EXPECT_TRUE(web.allow_credentials);
    EXPECT_EQ(web.max_age, 86400u);
    EXPECT_FALSE(web.allow_private_network);
    EXPECT_EQ(web.marks.at("allow_origin_regexes[0]").line, 68);
    EXPECT_EQ(web.marks.at("allow_origin_regexes[0]").col, 30);

    // routes
    ASSERT_EQ(cfg->routes.size(), 2u);
    const Route& pub = cfg->routes[0];
    EXPECT_EQ(pub.name, "public");
    EXPECT_EQ(pub.match.path_prefix, "/api/public/");
    EXPECT_EQ(pub.upstream, "legacy");
    EXPECT_EQ(pub.cors, "web");
    EXPECT_TRUE(pub.auth.none);
    const Route& api = cfg->routes[1];
    EXPECT_EQ(api.name, "api");
    EXPECT_EQ(api.match.path_prefix, "/api/");
    EXPECT_EQ(api.match.path, "");
    EXPECT_TRUE(api.match.methods.empty());
    EXPECT_EQ(api.match.host, "");
    EXPECT_EQ(api.upstream, "legacy");
    EXPECT_EQ(api.cors, "web");
    EXPECT_EQ(api.strip_prefix, "/api");
    EXPECT_FALSE(api.auth.none);
    EXPECT_EQ(api.auth.providers, std::vector<std::string>{"corp"});
    EXPECT_EQ(api.auth.mode, RouteAuth::Mode::required);
    using Rules = std::vector<std::pair<std::string, std::vector<std::string>>>;
    EXPECT_EQ(api.auth.claims, (Rules{{"roles", {"admin", "ops"}}, {"scope", {"orders:read"}}}));
}

TEST(SpecExample, MissingSecretVariableIsTheOnlyError) {
    TempDir dir;
    dir.write("certs/server.crt", "cert");
    dir.write("certs/server.key", "key");
    dir.write("certs/ca.pem", "ca");
    const std::string file = dir.write("authgate.yaml", kSpecExample);
    ScopedEnv secret("JWT_SECRET", nullptr);

    Diagnostics diag;
    EXPECT_FALSE(load_file(file, diag));
    ASSERT_EQ(diag.errors().size(), 1u) << test::dump(diag.errors());
    EXPECT_EQ(diag.errors()[0], file + ":42:17: jwt.providers.corp.keys.secret: environment variable 'JWT_SECRET' "
                                       "is not set (write ${JWT_SECRET:-default} to give a default)");
}

TEST(Files, TlsFilesMustExistOtherPathsAreOnlyResolved) {
    TempDir dir;
    dir.write("certs/server.crt", "cert");
    const std::string file = dir.write("conf/gw.yaml", R"(server:
  tls:
    cert_file: ../certs/server.crt
    key_file: /nonexistent/authgate/server.key
upstreams:
  app:
    endpoints: [https://x]
    tls:
      ca_file: certs/missing-ca.pem
jwt:
  providers:
    corp:
      algorithms: [RS256]
      keys:
        public_key_file: missing.pem
        jwks_file: /nonexistent/jwks.json
)");
    Diagnostics diag;
    auto cfg = load_file(file, diag);
    EXPECT_FALSE(cfg);
    ASSERT_EQ(diag.errors().size(), 2u) << test::dump(diag.errors());
    EXPECT_TRUE(test::has_message(diag.errors(), file, 4, 15,
                                  "server.tls.key_file: file not found: /nonexistent/authgate/server.key"));
    EXPECT_TRUE(test::has_message(diag.errors(), file, 9, 16,
                                  "upstreams.app.tls.ca_file: file not found: " + dir.path().string() +
                                      "/conf/certs/missing-ca.pem"));
}

TEST(Files, RelativePathsResolveAgainstTheConfigFolder) {
    TempDir dir;
    dir.write("certs/server.crt", "cert");
    dir.write("conf/server.key", "key");
    const std::string file = dir.write("conf/gw.yaml", R"(server:
  tls:
    cert_file: ../certs/./server.crt
    key_file: server.key
jwt:
  providers:
    corp:
      algorithms: [RS256]
      keys: {public_key_file: keys/pub.pem}
)");
    Diagnostics diag;
    auto cfg = load_file(file, diag);
    ASSERT_TRUE(cfg) << test::dump(diag.errors());
    const std::string root = dir.path().string();
    EXPECT_EQ(cfg->server.tls->cert_file, root + "/certs/server.crt");
    EXPECT_EQ(cfg->server.tls->key_file, root + "/conf/server.key");
    EXPECT_EQ(cfg->jwt.providers[0].keys.public_key_file, root + "/conf/keys/pub.pem");
}

TEST(Files, RelativeConfigNameIsMadeAbsolute) {
    auto l = test::load("jwt:\n  providers:\n    p:\n      algorithms: [RS256]\n      keys: {jwks_file: j.json}\n",
                        "conf/gw.yaml");
    ASSERT_TRUE(loaded_ok(l));
    const fs::path expected_dir = fs::current_path() / "conf";
    EXPECT_EQ(l.cfg->file, (expected_dir / "gw.yaml").string());
    EXPECT_EQ(l.cfg->jwt.providers[0].keys.jwks_file, (expected_dir / "j.json").string());
    // Messages use the name as given, so a user can paste it.
    EXPECT_EQ(l.cfg->jwt.providers[0].keys.marks.at("jwks_file").file, "conf/gw.yaml");
}

TEST(Files, LoadFileReportsAnUnreadableFile) {
    Diagnostics diag;
    EXPECT_FALSE(load_file("/nonexistent/authgate.yaml", diag));
    ASSERT_EQ(diag.errors().size(), 1u);
    EXPECT_EQ(diag.errors()[0].rfind("/nonexistent/authgate.yaml: cannot open config file", 0), 0u)
        << diag.errors()[0];

    TempDir dir;
    Diagnostics dir_diag;
    EXPECT_FALSE(load_file(dir.path().string(), dir_diag));  // a directory, not a file
    EXPECT_FALSE(dir_diag.ok());
}

}  // namespace
}  // namespace authgate::config
