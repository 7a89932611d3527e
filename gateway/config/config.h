// Plain configuration structs: what the YAML says, after ${ENV} expansion, unit parsing
// and path resolution, before any compilation into runtime objects. The loader
// (loader.h) fills them; jwt/, cors/ and proxy/ compile them into immutable runtime
// objects and report problems through Diagnostics with the Mark of the offending value.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace authgate::config {

using Duration = std::chrono::milliseconds;

// Where a value stands in the config file (1-based line and column).
struct Mark {
    std::string file;
    int line = 0;
    int col = 0;
    bool operator==(const Mark&) const = default;
};

// Errors and warnings collected while loading and compiling; every message is
// rendered "FILE:LINE:COL: message" so a user can jump to it.
class Diagnostics {
public:
    void error(const Mark& at, const std::string& message);
    void warning(const Mark& at, const std::string& message);
    void error(const std::string& message) { errors_.push_back(message); }  // no position

    bool ok() const { return errors_.empty(); }
    const std::vector<std::string>& errors() const { return errors_; }
    const std::vector<std::string>& warnings() const { return warnings_; }

    static std::string format(const Mark& at, const std::string& message);

private:
    std::vector<std::string> errors_;
    std::vector<std::string> warnings_;
};

// Positions of the values of a YAML mapping, by key; list items are keyed "key[i]"
// (e.g. "allow_origins[2]"), so a compile step can point at the exact element.
struct Marks {
    Mark self;                         // the mapping itself
    std::map<std::string, Mark> keys;  // value positions
    const Mark& at(const std::string& key) const {
        auto it = keys.find(key);
        return it == keys.end() ? self : it->second;
    }
    // Where a value was written is not what it means: two configs that say the same
    // compare equal however their files are laid out.
    bool operator==(const Marks&) const { return true; }
};

struct ListenAddress {
    std::string host;  // an IP address as written ("0.0.0.0", "127.0.0.1", "::1"); never a name
    std::uint16_t port = 0;
    bool operator==(const ListenAddress&) const = default;
};

struct ServerTls {
    std::string cert_file;  // absolute after loading
    std::string key_file;
    bool operator==(const ServerTls&) const = default;
};

struct Limits {
    std::uint64_t max_header_bytes = 16 * 1024;
    std::uint64_t max_body_bytes = 10 * 1024 * 1024;
    std::uint64_t max_connections = 10000;
    bool operator==(const Limits&) const = default;
};

struct Timeouts {
    Duration header = std::chrono::seconds(10);
    Duration idle = std::chrono::seconds(60);
    Duration upstream_connect = std::chrono::seconds(2);
    Duration upstream_response = std::chrono::seconds(30);
    Duration request_body = std::chrono::seconds(60);  // whole body, from the end of its header -> 408
    Duration shutdown = std::chrono::seconds(10);  // drain budget on SIGTERM/SIGINT (added)
    // On SIGTERM/SIGINT /readyz turns 503 at once, but the listeners keep accepting this
    // long before the drain starts: load balancers stop routing here first (added).
    Duration drain_delay = std::chrono::seconds(5);
    bool operator==(const Timeouts&) const = default;
};

// What happens to a client header whose name contains '_': WSGI/CGI backends read
// X_User_Id and X-User-Id as the same variable, so by default such names never pass.
enum class Underscores { drop, reject, allow };

// server.http2: the HTTP/2 downstream (h2 over TLS by ALPN, h2c with prior knowledge) and
// the limits that bound what one client connection may cost (added).
struct Http2 {
    bool enabled = false;    // ALPN offers h2 (before http/1.1) on TLS listeners
    bool cleartext = false;  // plain listeners take the h2 client preface (prior knowledge)
    std::uint64_t max_concurrent_streams = 100;  // open streams per connection (SETTINGS and enforced)
    std::uint64_t max_header_list_size = 16 * 1024;  // decoded request header -> 431
    std::uint64_t header_table_size = 4096;          // HPACK dynamic table, both directions
    std::uint64_t initial_window_size = 65535;       // per-stream receive window: body bytes buffered
    std::uint64_t max_connection_memory = 32 * 1024 * 1024;  // streams refused beyond it
    std::uint64_t max_resets = 200;          // streams reset per flood_interval -> GOAWAY
    std::uint64_t max_control_frames = 1000;  // SETTINGS, PING, PRIORITY per flood_interval -> GOAWAY
    Duration flood_interval = std::chrono::seconds(10);
    bool operator==(const Http2&) const = default;
};

struct Server {
    std::vector<ListenAddress> listen{{"0.0.0.0", 8080}};
    unsigned workers = 0;  // 0 = one per core
    std::optional<ServerTls> tls;
    Limits limits;
    Timeouts timeouts;
    Underscores headers_with_underscores = Underscores::drop;
    Http2 http2;
    Marks marks;
    bool operator==(const Server&) const = default;
};

struct Admin {
    ListenAddress listen;
    Marks marks;
    bool operator==(const Admin&) const = default;
};

struct Log {
    std::string level = "info";   // trace|debug|info|warn|error|off
    std::string format = "text";  // text|json
    bool access_log = true;
    bool operator==(const Log&) const = default;
};

struct UpstreamTls {
    bool verify = true;
    std::string ca_file;      // absolute; empty = system trust store
    std::string server_name;  // SNI / verified name override (added); empty = endpoint host
    bool operator==(const UpstreamTls&) const = default;
};

struct Endpoint {
    std::string scheme;  // "http" | "https"
    std::string host;
    std::uint16_t port = 0;
    bool operator==(const Endpoint&) const = default;
};

struct Upstream {
    std::string name;
    std::vector<Endpoint> endpoints;
    UpstreamTls tls;
    Duration pool_idle_timeout = std::chrono::seconds(30);  // pool.idle_timeout (added)
    std::uint64_t pool_max_idle = 64;                        // pool.max_idle per endpoint and worker (added)
    Marks marks;
    bool operator==(const Upstream&) const = default;
};

// jwt.providers.NAME.token_from items
struct TokenSource {
    enum class Kind { header, cookie, query };
    Kind kind = Kind::header;
    std::string name;    // header, cookie or query parameter name
    std::string prefix;  // header only, e.g. "Bearer "
    bool operator==(const TokenSource&) const = default;
};

struct JwtKeys {
    std::optional<std::string> secret;
    std::optional<std::string> secret_base64;
    std::optional<std::string> public_key_file;  // absolute
    std::optional<std::string> jwks_file;        // absolute
    std::optional<std::string> jwks_url;
    Duration jwks_refresh = std::chrono::minutes(5);
    // Last good remote key set, read at start when the issuer cannot be reached (absolute;
    // from jwks_cache_file, else jwt.key_cache_dir/<provider>.jwks.json).
    std::optional<std::string> jwks_cache_file;
    Duration max_stale = std::chrono::hours(24 * 7);  // older cached keys are not used
    Marks marks;
    bool operator==(const JwtKeys&) const = default;
};

struct JwtProvider {
    std::string name;
    std::vector<std::string> issuers;    // empty = not checked
    std::vector<std::string> audiences;  // empty = not checked
    std::vector<std::string> algorithms;
    // JOSE `typ` values a token may carry (RFC 8725 3.11), as written; "" admits a token
    // without one. nullopt: typ is not checked.
    std::optional<std::vector<std::string>> types;
    JwtKeys keys;
    Duration leeway = Duration::zero();
    std::vector<std::string> required_claims;
    std::optional<Duration> max_lifetime;
    std::vector<TokenSource> token_from;  // empty = Authorization "Bearer "
    std::vector<std::pair<std::string, std::string>> forward_claims;  // claim path -> header, file order
    std::string forward_payload_header;  // empty = none
    bool strip_token = false;
    // OpenID Connect Discovery: the JWKS URL comes from the issuer's configuration
    // document. The loader sets discovery_url from the issuer when only `discovery: true`
    // is given, so discovery_url is the one URL fetched whenever discovery is on.
    bool discovery = false;
    std::optional<std::string> discovery_url;
    Marks marks;
    bool operator==(const JwtProvider&) const = default;

    // Where remote keys come from: the discovery document's URL, or the jwks_url; nullopt
    // for static keys only. A reload keeps the keys of an unchanged source.
    const std::optional<std::string>& remote_source() const { return discovery ? discovery_url : keys.jwks_url; }
};

struct Jwt {
    std::vector<JwtProvider> providers;
    std::uint64_t cache_max_entries = 10000;  // jwt.cache.max_entries per worker (added); 0 = off
    std::optional<std::string> key_cache_dir;  // absolute; default directory of jwks_cache_file
    Marks marks;
    bool operator==(const Jwt&) const = default;
};

struct CorsPolicy {
    std::string name;
    std::vector<std::string> allow_origins;
    std::vector<std::string> allow_origin_regexes;
    bool allow_all_origins = false;
    std::vector<std::string> allow_methods{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    std::vector<std::string> allow_headers{"accept", "authorization", "content-type", "x-requested-with"};
    std::vector<std::string> expose_headers;
    bool allow_credentials = false;
    std::optional<std::uint64_t> max_age;  // seconds
    bool allow_private_network = false;
    Marks marks;
    bool operator==(const CorsPolicy&) const = default;
};

struct Cors {
    std::vector<CorsPolicy> policies;
    Marks marks;
    bool operator==(const Cors&) const = default;
};

struct RouteMatch {
    std::string path;         // exact (empty = unused)
    std::string path_prefix;  // prefix (empty = unused)
    std::vector<std::string> methods;  // upper case; empty = any
    std::string host;         // lower case, no port; empty = any
    bool operator==(const RouteMatch&) const = default;
};

struct RouteAuth {
    bool none = true;  // "auth: none" or absent
    std::vector<std::string> providers;
    enum class Mode { required, optional, report_only };
    Mode mode = Mode::required;
    // claim name (dotted path allowed) -> accepted values; "scope" is special:
    // every listed scope must be in the space-separated scope string.
    std::vector<std::pair<std::string, std::vector<std::string>>> claims;
    Marks marks;
    bool operator==(const RouteAuth&) const = default;
};

struct Route {
    std::string name;
    RouteMatch match;
    std::string upstream;
    std::string cors;  // policy name; empty = none
    std::string strip_prefix;
    RouteAuth auth;
    Marks marks;
    bool operator==(const Route&) const = default;
};

struct Config {
    std::string file;  // absolute path of the config file
    Server server;
    std::optional<Admin> admin;
    Log log;
    std::vector<Upstream> upstreams;  // file order
    Jwt jwt;
    Cors cors;
    std::vector<Route> routes;
    bool operator==(const Config&) const = default;
};

}  // namespace authgate::config
