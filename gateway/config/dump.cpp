#include "config/dump.h"

#include <yaml-cpp/yaml.h>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace authgate::config {
namespace {

// IPv6 literals are stored without their brackets; written back they need them.
std::string host_port(const std::string& host, std::uint16_t port) {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

class Dumper {
public:
    explicit Dumper(Secrets secrets) : secrets_(secrets) {}

    std::string dump(const Config& cfg) {
        out_ << YAML::Comment("effective configuration of " + cfg.file);
        out_ << YAML::BeginMap;
        key("server");
        server(cfg.server);
        if (cfg.admin) {
            key("admin");
            out_ << YAML::BeginMap;
            key("listen", host_port(cfg.admin->listen.host, cfg.admin->listen.port));
            out_ << YAML::EndMap;
        }
        key("log");
        out_ << YAML::BeginMap;
        key("level", cfg.log.level);
        key("format", cfg.log.format);
        key("access_log", cfg.log.access_log);
        out_ << YAML::EndMap;
        key("upstreams");
        begin_map(cfg.upstreams.empty());
        for (const auto& u : cfg.upstreams) upstream(u);
        out_ << YAML::EndMap;
        key("jwt");
        jwt(cfg.jwt);
        key("cors");
        out_ << YAML::BeginMap;
        key("policies");
        begin_map(cfg.cors.policies.empty());
        for (const auto& p : cfg.cors.policies) policy(p);
        out_ << YAML::EndMap << YAML::EndMap;
        key("routes");
        begin_seq(cfg.routes.empty());
        for (const auto& r : cfg.routes) route(r);
        out_ << YAML::EndSeq;
        out_ << YAML::EndMap;
        return std::string(out_.c_str()) + "\n";
    }

private:
    // An empty collection in block style lands on a line of its own ("key:\n  []"); flow
    // keeps it next to its key.
    void begin_map(bool empty) { out_ << (empty ? YAML::Flow : YAML::Block) << YAML::BeginMap; }
    void begin_seq(bool empty) { out_ << (empty ? YAML::Flow : YAML::Block) << YAML::BeginSeq; }
    void key(const char* name) { out_ << YAML::Key << name << YAML::Value; }
    void key(const std::string& name) { out_ << YAML::Key << name << YAML::Value; }
    template <class T>
    void key(const char* name, const T& value) {
        key(name);
        out_ << value;
    }
    void key(const char* name, bool value) {
        key(name);
        out_ << value;
    }
    void key(const char* name, std::uint64_t value) {
        key(name);
        out_ << std::to_string(value);
    }
    void key(const char* name, Duration value) { key(name, format_duration(value)); }
    void list(const char* name, const std::vector<std::string>& items) {
        key(name);
        out_ << YAML::Flow << YAML::BeginSeq;
        for (const auto& item : items) out_ << item;
        out_ << YAML::EndSeq;
    }
    void secret(const char* name, const std::optional<std::string>& value) {
        if (value) key(name, secrets_ == Secrets::redact ? std::string(kRedacted) : *value);
    }

    void server(const Server& s) {
        out_ << YAML::BeginMap;
        key("listen");
        out_ << YAML::BeginSeq;
        for (const auto& l : s.listen) out_ << host_port(l.host, l.port);
        out_ << YAML::EndSeq;
        key("workers", std::uint64_t{s.workers});
        if (s.tls) {
            key("tls");
            out_ << YAML::BeginMap;
            key("cert_file", s.tls->cert_file);
            key("key_file", s.tls->key_file);  // a path, not the key
            out_ << YAML::EndMap;
        }
        key("limits");
        out_ << YAML::BeginMap;
        key("max_header_bytes", s.limits.max_header_bytes);
        key("max_body_bytes", s.limits.max_body_bytes);
        key("max_connections", s.limits.max_connections);
        out_ << YAML::EndMap;
        const auto& t = s.timeouts;
        key("timeouts");
        out_ << YAML::BeginMap;
        key("header", t.header);
        key("idle", t.idle);
        key("upstream_connect", t.upstream_connect);
        key("upstream_response", t.upstream_response);
        key("request_body", t.request_body);
        key("shutdown", t.shutdown);
        key("drain_delay", t.drain_delay);
        out_ << YAML::EndMap;
        key("headers_with_underscores", std::string(s.headers_with_underscores == Underscores::drop     ? "drop"
                                                    : s.headers_with_underscores == Underscores::reject ? "reject"
                                                                                                        : "allow"));
        const auto& h2 = s.http2;
        key("http2");
        out_ << YAML::BeginMap;
        key("enabled", h2.enabled);
        key("cleartext", h2.cleartext);
        key("max_concurrent_streams", h2.max_concurrent_streams);
        key("max_header_list_size", h2.max_header_list_size);
        key("header_table_size", h2.header_table_size);
        key("initial_window_size", h2.initial_window_size);
        key("max_connection_memory", h2.max_connection_memory);
        key("max_resets", h2.max_resets);
        key("max_control_frames", h2.max_control_frames);
        key("flood_interval", h2.flood_interval);
        out_ << YAML::EndMap;
        out_ << YAML::EndMap;
    }

    void upstream(const Upstream& u) {
        key(u.name);
        out_ << YAML::BeginMap;
        key("endpoints");
        begin_seq(u.endpoints.empty());
        for (const auto& e : u.endpoints) out_ << e.scheme + "://" + host_port(e.host, e.port);
        out_ << YAML::EndSeq;
        key("tls");
        out_ << YAML::BeginMap;
        key("verify", u.tls.verify);
        if (!u.tls.ca_file.empty()) key("ca_file", u.tls.ca_file);
        if (!u.tls.server_name.empty()) key("server_name", u.tls.server_name);
        out_ << YAML::EndMap;
        key("pool");
        out_ << YAML::BeginMap;
        key("idle_timeout", u.pool_idle_timeout);
        key("max_idle", u.pool_max_idle);
        out_ << YAML::EndMap;
        out_ << YAML::EndMap;
    }

    void jwt(const Jwt& j) {
        out_ << YAML::BeginMap;
        key("providers");
        begin_map(j.providers.empty());
        for (const auto& p : j.providers) provider(p);
        out_ << YAML::EndMap;
        key("cache");
        out_ << YAML::BeginMap;
        key("max_entries", j.cache_max_entries);
        out_ << YAML::EndMap;
        if (j.key_cache_dir) key("key_cache_dir", *j.key_cache_dir);
        out_ << YAML::EndMap;
    }

    void provider(const JwtProvider& p) {
        key(p.name);
        out_ << YAML::BeginMap;
        list("issuer", p.issuers);
        list("audiences", p.audiences);
        list("algorithms", p.algorithms);
        if (p.types) list("types", *p.types);
        key("keys");
        out_ << YAML::BeginMap;
        secret("secret", p.keys.secret);
        secret("secret_base64", p.keys.secret_base64);
        if (p.keys.public_key_file) key("public_key_file", *p.keys.public_key_file);
        if (p.keys.jwks_file) key("jwks_file", *p.keys.jwks_file);
        if (p.keys.jwks_url)
            key("jwks_url", secrets_ == Secrets::redact ? redact_credentials(*p.keys.jwks_url) : *p.keys.jwks_url);
        key("jwks_refresh", p.keys.jwks_refresh);
        if (p.keys.jwks_cache_file) key("jwks_cache_file", *p.keys.jwks_cache_file);
        key("max_stale", p.keys.max_stale);
        out_ << YAML::EndMap;
        key("leeway", p.leeway);
        list("required_claims", p.required_claims);
        if (p.max_lifetime) key("max_lifetime", *p.max_lifetime);
        key("token_from");
        begin_seq(p.token_from.empty());
        for (const auto& s : p.token_from) {
            out_ << YAML::BeginMap;
            switch (s.kind) {
                case TokenSource::Kind::header:
                    key("header", s.name);
                    if (!s.prefix.empty()) key("prefix", s.prefix);
                    break;
                case TokenSource::Kind::cookie: key("cookie", s.name); break;
                case TokenSource::Kind::query: key("query", s.name); break;
            }
            out_ << YAML::EndMap;
        }
        out_ << YAML::EndSeq;
        key("forward_claims");
        begin_map(p.forward_claims.empty());
        for (const auto& [claim, header] : p.forward_claims) key(claim.c_str(), header);
        out_ << YAML::EndMap;
        if (!p.forward_payload_header.empty()) key("forward_payload_header", p.forward_payload_header);
        key("strip_token", p.strip_token);
        key("discovery", p.discovery);
        if (p.discovery_url)
            key("discovery_url", secrets_ == Secrets::redact ? redact_credentials(*p.discovery_url) : *p.discovery_url);
        out_ << YAML::EndMap;
    }

    void policy(const CorsPolicy& p) {
        key(p.name);
        out_ << YAML::BeginMap;
        list("allow_origins", p.allow_origins);
        list("allow_origin_regexes", p.allow_origin_regexes);
        key("allow_all_origins", p.allow_all_origins);
        list("allow_methods", p.allow_methods);
        list("allow_headers", p.allow_headers);
        list("expose_headers", p.expose_headers);
        key("allow_credentials", p.allow_credentials);
        if (p.max_age) key("max_age", *p.max_age);
        key("allow_private_network", p.allow_private_network);
        out_ << YAML::EndMap;
    }

    void route(const Route& r) {
        out_ << YAML::BeginMap;
        key("name", r.name);
        key("match");
        const auto& m = r.match;
        begin_map(m.path.empty() && m.path_prefix.empty() && m.methods.empty() && m.host.empty());
        if (!r.match.path.empty()) key("path", r.match.path);
        if (!r.match.path_prefix.empty()) key("path_prefix", r.match.path_prefix);
        if (!r.match.methods.empty()) list("methods", r.match.methods);
        if (!r.match.host.empty()) key("host", r.match.host);
        out_ << YAML::EndMap;
        key("upstream", r.upstream);
        if (!r.cors.empty()) key("cors", r.cors);
        if (!r.strip_prefix.empty()) {
            key("rewrite");
            out_ << YAML::BeginMap;
            key("strip_prefix", r.strip_prefix);
            out_ << YAML::EndMap;
        }
        key("auth");
        if (r.auth.none) {
            out_ << "none";
        } else {
            out_ << YAML::BeginMap;
            list("providers", r.auth.providers);
            key("mode", std::string(r.auth.mode == RouteAuth::Mode::required   ? "required"
                                    : r.auth.mode == RouteAuth::Mode::optional ? "optional"
                                                                               : "report_only"));
            key("claims");
            begin_map(r.auth.claims.empty());
            for (const auto& [claim, values] : r.auth.claims) list(claim.c_str(), values);
            out_ << YAML::EndMap;
            out_ << YAML::EndMap;
        }
        out_ << YAML::EndMap;
    }

    YAML::Emitter out_;
    Secrets secrets_;
};

}  // namespace

std::string redact_credentials(std::string_view text) {
    const auto parsed = boost::urls::parse_uri(text);
    if (!parsed || (!parsed->has_userinfo() && !parsed->has_query())) return std::string(text);
    boost::urls::url url = *parsed;
    url.remove_userinfo();
    url.remove_query();
    std::string out(url.buffer());
    // "<redacted>" is not valid in a URL, so it is spliced in as text: the masked dump is
    // for reading, not for loading. Query values go too (issuers put api_key=, token= or a
    // signature there); their names stay, to tell which parameters are set.
    if (parsed->has_userinfo()) out.insert(out.find("//") + 2, std::string(kRedacted) + "@");
    if (parsed->has_query()) {
        const auto fragment = out.find('#');
        std::string query;
        for (const auto& param : parsed->encoded_params()) {
            query += query.empty() ? "?" : "&";
            query += std::string_view(param.key);
            if (param.has_value) query += "=" + std::string(kRedacted);
        }
        out.insert(fragment == std::string::npos ? out.size() : fragment, query);
    }
    return out;
}

std::string format_duration(Duration d) {
    if (d.count() == 0) return "0s";
    struct Unit {
        const char* name;
        Duration::rep ms;
    };
    static constexpr Unit units[] = {{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};
    std::string out;
    auto rest = d.count();
    for (const auto& u : units) {
        if (rest < u.ms) continue;
        out += std::to_string(rest / u.ms) + u.name;
        rest %= u.ms;
    }
    return out;
}

std::string dump_yaml(const Config& cfg, Secrets secrets) { return Dumper(secrets).dump(cfg); }

}  // namespace authgate::config
