// Every YAML mapping the loader reads, with the keys it accepts: the one list of config
// keys. The loader's Section takes only these, so it cannot accept a key that is not
// listed here, and config_tests check that docs/configuration.md and config/example.yaml
// name exactly these keys.
//
// Paths use one notation, the reference's: "a.b" for a nested mapping, "NAME[]" for the
// items of a list, and a <placeholder> for a key the user chooses (an upstream's name).
#pragma once

#include <string>
#include <vector>

namespace authgate::config::keys {

struct SectionKeys {
    std::string path;               // the mapping's own path; "" = the top level
    std::vector<std::string> keys;  // accepted keys; when `named`, the placeholder only
    bool named = false;             // keys are user-chosen names (upstreams, claim names ...)

    // The full path of one of `keys`, e.g. "server.timeouts.idle".
    std::string key_path(const std::string& key) const { return path.empty() ? key : path + "." + key; }
};

inline const SectionKeys top{"", {"server", "admin", "log", "upstreams", "jwt", "cors", "routes"}};

inline const SectionKeys server{
    "server", {"listen", "workers", "tls", "limits", "timeouts", "headers_with_underscores", "http2"}};
inline const SectionKeys server_tls{"server.tls", {"cert_file", "key_file"}};
inline const SectionKeys server_limits{"server.limits", {"max_header_bytes", "max_body_bytes", "max_connections"}};
inline const SectionKeys server_timeouts{
    "server.timeouts",
    {"header", "idle", "upstream_connect", "upstream_response", "request_body", "shutdown", "drain_delay"}};
inline const SectionKeys server_http2{"server.http2",
                                     {"enabled", "cleartext", "max_concurrent_streams", "max_header_list_size",
                                      "header_table_size", "initial_window_size", "max_connection_memory",
                                      "max_resets", "max_control_frames", "flood_interval"}};

inline const SectionKeys admin{"admin", {"listen"}};

inline const SectionKeys log{"log", {"level", "format", "access_log"}};

inline const SectionKeys upstreams{"upstreams", {"<name>"}, true};
inline const SectionKeys upstream{"upstreams.<name>", {"endpoints", "tls", "pool"}};
inline const SectionKeys upstream_tls{"upstreams.<name>.tls", {"verify", "ca_file", "server_name"}};
inline const SectionKeys upstream_pool{"upstreams.<name>.pool", {"idle_timeout", "max_idle"}};

inline const SectionKeys jwt{"jwt", {"providers", "cache", "key_cache_dir"}};
inline const SectionKeys jwt_cache{"jwt.cache", {"max_entries"}};
inline const SectionKeys jwt_providers{"jwt.providers", {"<name>"}, true};
inline const SectionKeys provider{"jwt.providers.<name>",
                                  {"issuer", "audiences", "algorithms", "types", "keys", "leeway", "required_claims",
                                   "max_lifetime", "token_from", "forward_claims", "forward_payload_header",
                                   "strip_token",
                                   "discovery", "discovery_url"}};
inline const SectionKeys provider_keys{
    "jwt.providers.<name>.keys",
    {"secret", "secret_base64", "public_key_file", "jwks_file", "jwks_url", "jwks_refresh",
     "jwks_cache_file", "max_stale"}};
inline const SectionKeys token_source{"jwt.providers.<name>.token_from[]", {"header", "cookie", "query", "prefix"}};
inline const SectionKeys forward_claims{"jwt.providers.<name>.forward_claims", {"<claim>"}, true};

inline const SectionKeys cors{"cors", {"policies"}};
inline const SectionKeys cors_policies{"cors.policies", {"<name>"}, true};
inline const SectionKeys cors_policy{"cors.policies.<name>",
                                     {"allow_origins", "allow_origin_regexes", "allow_all_origins", "allow_methods",
                                      "allow_headers", "expose_headers", "allow_credentials", "max_age",
                                      "allow_private_network"}};

inline const SectionKeys route{"routes[]", {"name", "match", "upstream", "cors", "rewrite", "auth"}};
inline const SectionKeys route_match{"routes[].match", {"path", "path_prefix", "methods", "host"}};
inline const SectionKeys route_rewrite{"routes[].rewrite", {"strip_prefix"}};
inline const SectionKeys route_auth{"routes[].auth", {"providers", "mode", "claims"}};
inline const SectionKeys claim_rules{"routes[].auth.claims", {"<claim>"}, true};

// All of the above, parents before children.
inline const std::vector<const SectionKeys*>& all() {
    static const std::vector<const SectionKeys*> sections = {
        &top,           &server,          &server_tls,    &server_limits, &server_timeouts, &admin,
        &server_http2,
        &log,           &upstreams,       &upstream,      &upstream_tls,  &upstream_pool,   &jwt,
        &jwt_cache,     &jwt_providers,   &provider,      &provider_keys, &token_source,    &forward_claims,
        &cors,          &cors_policies,   &cors_policy,   &route,         &route_match,     &route_rewrite,
        &route_auth,    &claim_rules};
    return sections;
}

}  // namespace authgate::config::keys
