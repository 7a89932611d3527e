// YAML -> config::Config. The walk never stops at the first problem: each reader reports
// into Diagnostics and carries on with what it could read, so `authgate --check` shows
// every mistake in one run. Values are ${ENV}-expanded before they are interpreted.
#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config/keys.h"
#include "config/strings.h"
#include "config/syntax.h"

namespace authgate::config {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> jwt_algorithms = {"HS256", "HS384", "HS512", "RS256", "RS384",
                                                 "RS512", "PS256", "PS384", "PS512", "ES256",
                                                 "ES384", "ES512", "EdDSA"};

// A YAML value, where it stands and how messages name it.
struct Value {
    YAML::Node node;
    Mark mark;          // the value's position (its key's when the value is empty)
    Mark key_mark;      // the key holding it (the item itself for list items)
    std::string path;   // for messages, e.g. "server.timeouts.idle", "routes[1].auth"

    bool null() const { return !node.IsDefined() || node.IsNull(); }
};

struct Entry {
    std::string key;
    Mark key_mark;
    Value value;
};

std::string describe(const YAML::Node& node) {
    if (!node.IsDefined() || node.IsNull()) return "nothing";
    if (node.IsMap()) return "a mapping";
    if (node.IsSequence()) return "a list";
    return "'" + node.Scalar() + "'";
}

std::string child_path(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
}

std::string suggestion(std::string_view word, const std::vector<std::string>& candidates) {
    std::string best = syntax::closest(word, candidates);
    return best.empty() ? "" : "; did you mean '" + best + "'?";
}

bool contains(const std::vector<std::string>& items, std::string_view item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

template <class T>
std::vector<std::string> names_of(const std::vector<T>& items) {
    std::vector<std::string> names;
    for (const auto& item : items) names.push_back(item.name);
    return names;
}

class Loader;

// One YAML mapping read against its known keys. Unknown, duplicate and non-string keys
// are reported here once, so section readers only ask for the keys they know. An empty
// value (`tls:` with nothing under it) reads as an empty mapping.
class Section {
public:
    // `known` comes from config/keys.h, the one list of keys; a `named` one takes any key
    // (a mapping of user-chosen names such as upstreams). When `marks` is given, every
    // value position is recorded as marks->keys[prefix + key] and list items as
    // prefix + "key[i]".
    Section(Loader& loader, const Value& value, const keys::SectionKeys& known, Marks* marks = nullptr,
            std::string mark_prefix = "");

    const Value& value() const { return value_; }
    const Mark& self() const { return value_.mark; }
    const std::vector<Entry>& entries() const { return entries_; }
    const Value* get(std::string_view key) const {
        for (const auto& e : entries_)
            if (e.key == key) return &e.value;
        return nullptr;
    }

private:
    void record_marks(const Entry& e, Marks& marks, const std::string& prefix) const;

    Loader& loader_;
    Value value_;
    std::vector<Entry> entries_;
};

class Loader {
public:
    Loader(const std::string& file, Diagnostics& diag) : file_(file), diag_(diag) {
        std::error_code ec;
        fs::path absolute = fs::absolute(fs::path(file), ec);
        absolute_file_ = ec ? file : absolute.lexically_normal().string();
        base_dir_ = ec ? fs::path(file).parent_path() : absolute.lexically_normal().parent_path();
    }

    std::optional<Config> load(std::string_view yaml);

    // ---- positions and messages ----
    Mark mark(const YAML::Node& node, const Mark& fallback) const {
        if (!node.IsDefined()) return fallback;
        YAML::Mark m = node.Mark();
        if (m.is_null()) return fallback;
        return Mark{file_, m.line + 1, m.column + 1};
    }
    void error(const Mark& at, const std::string& message) { diag_.error(at, message); }
    void error(const Value& v, const std::string& message) { diag_.error(v.mark, v.path + ": " + message); }
    void warning(const Value& v, const std::string& message) { diag_.warning(v.mark, v.path + ": " + message); }
    void missing(const Section& s, std::string_view key) {
        diag_.error(s.value().key_mark, s.value().path + ": missing required key '" + std::string(key) + "'");
    }

private:
    // ---- scalar readers: nullopt after reporting an error ----
    std::optional<std::string> scalar(const Value& v, std::string_view expected);
    std::optional<std::string> text(const Value& v) { return scalar(v, "a string"); }
    std::optional<std::string> nonempty_text(const Value& v);
    std::optional<bool> boolean(const Value& v);
    std::optional<std::uint64_t> integer(const Value& v);
    std::optional<Duration> duration(const Value& v);
    std::optional<Duration> positive_duration(const Value& v);
    std::optional<std::uint64_t> size(const Value& v);
    std::optional<std::string> file_path(const Value& v);
    std::optional<std::string> existing_file(const Value& v);
    std::optional<std::string> one_of(const Value& v, const std::vector<std::string>& options);
    std::optional<std::string> http_token(const Value& v);

    // ---- lists ----
    std::vector<Value> items(const Value& v, bool allow_single = false);
    std::vector<std::string> text_list(const Value& v, bool allow_single = false);

    // Reads `key` of `s` with `read` into `out` when present and valid.
    template <class T, class R>
    void assign(T& out, const Section& s, std::string_view key, std::optional<R> (Loader::*read)(const Value&)) {
        if (const Value* v = s.get(key))
            if (auto r = (this->*read)(*v)) out = std::move(*r);
    }

    // ---- sections ----
    void read_server(const Value& v, Server& out);
    std::vector<ListenAddress> read_listen_list(const Value& v);
    std::optional<ListenAddress> read_listen(const Value& v);
    std::optional<ServerTls> read_server_tls(const Value& v, Marks& marks);
    void read_limits(const Value& v, Limits& out, Marks& marks);
    void read_timeouts(const Value& v, Timeouts& out, Marks& marks);
    void read_http2(const Value& v, Http2& out, Marks& marks);
    Admin read_admin(const Value& v);
    Log read_log(const Value& v);
    std::vector<Upstream> read_upstreams(const Value& v);
    Upstream read_upstream(const Entry& e);
    void read_upstream_tls(const Value& v, Upstream& out);
    Jwt read_jwt(const Value& v);
    JwtProvider read_provider(const Entry& e);
    std::vector<std::string> read_algorithms(const Value& v);
    std::vector<std::string> read_types(const Value& v);
    void read_keys(const Value& v, JwtKeys& out, bool discovery);
    bool read_discovery(const Section& s, JwtProvider& p);
    std::optional<std::string> directory(const Value& v);
    void apply_key_cache_dir(const Value& v, Jwt& jwt);
    std::vector<TokenSource> read_token_from(const Value& v, Marks& marks);
    std::optional<TokenSource> read_token_source(const Value& v, Marks& marks, const std::string& prefix);
    std::vector<std::pair<std::string, std::string>> read_forward_claims(const Value& v, Marks& marks);
    Cors read_cors(const Value& v);
    CorsPolicy read_policy(const Entry& e);
    std::optional<std::uint64_t> max_age(const Value& v);
    std::vector<Route> read_routes(const Value& v, const Config& cfg);
    Route read_route(const Value& v, const Config& cfg);
    void read_match(const Value& v, Route& route);
    void read_auth(const Value& v, RouteAuth& out, const Config& cfg);
    std::vector<std::pair<std::string, std::vector<std::string>>> read_claim_rules(const Value& v, Marks& marks);
    void check_reference(const Value& v, const std::string& name, const std::vector<std::string>& defined,
                         std::string_view what);
    void check_admin_port(const Config& cfg);
    bool listen_invalid_ = false;  // server.listen had an invalid item (already reported)
    void warn_about_routes(const std::vector<Route>& routes, const Value& v);

    std::string file_;           // as given: messages use it so users can jump to it
    std::string absolute_file_;  // Config::file
    fs::path base_dir_;          // relative paths are resolved against this
    Diagnostics& diag_;
};

// ------------------------------------------------------------------------------------
// Section

Section::Section(Loader& loader, const Value& value, const keys::SectionKeys& known, Marks* marks,
                 std::string mark_prefix)
    : loader_(loader), value_(value) {
    if (value.null()) return;
    if (!value.node.IsMap()) {
        loader_.error(value, "expected a mapping, got " + describe(value.node));
        return;
    }
    const std::string where = value.path.empty() ? "at top level" : "in " + value.path;
    for (auto it = value.node.begin(); it != value.node.end(); ++it) {
        const YAML::Node key_node = it->first;
        const YAML::Node value_node = it->second;
        Mark key_mark = loader_.mark(key_node, value.mark);
        if (!key_node.IsScalar()) {
            loader_.error(key_mark, "keys must be plain strings " + where);
            continue;
        }
        const std::string key = key_node.Scalar();
        // An empty value has no useful position of its own: point at its key.
        const Mark value_mark = value_node.IsNull() ? key_mark : loader_.mark(value_node, key_mark);
        // Built in one go: assigning to an existing YAML::Node would write through it.
        Entry e{key, key_mark, Value{value_node, value_mark, key_mark, child_path(value.path, key)}};
        if (!known.named && !contains(known.keys, e.key)) {
            loader_.error(key_mark, "unknown key '" + e.key + "' " + where + suggestion(e.key, known.keys));
            continue;
        }
        if (get(e.key)) {
            loader_.error(key_mark, "duplicate key '" + e.key + "' " + where);
            continue;
        }
        if (marks) record_marks(e, *marks, mark_prefix);
        entries_.push_back(std::move(e));
    }
}

void Section::record_marks(const Entry& e, Marks& marks, const std::string& prefix) const {
    marks.keys[prefix + e.key] = e.value.mark;
    if (!e.value.node.IsSequence()) return;
    std::size_t i = 0;
    for (auto it = e.value.node.begin(); it != e.value.node.end(); ++it, ++i)
        marks.keys[prefix + e.key + "[" + std::to_string(i) + "]"] = loader_.mark(*it, e.value.mark);
}

// ------------------------------------------------------------------------------------
// Scalars

std::optional<std::string> Loader::scalar(const Value& v, std::string_view expected) {
    if (!v.node.IsDefined() || !v.node.IsScalar()) {
        error(v, "expected " + std::string(expected) + ", got " + describe(v.node));
        return std::nullopt;
    }
    std::string missing;
    auto expanded = expand_env(v.node.Scalar(), missing);
    if (!expanded)
        error(v, "environment variable '" + missing + "' is not set (write ${" + missing +
                     ":-default} to give a default)");
    return expanded;
}

std::optional<std::string> Loader::nonempty_text(const Value& v) {
    auto s = text(v);
    if (s && s->empty()) {
        error(v, "must not be empty");
        return std::nullopt;
    }
    return s;
}

std::optional<bool> Loader::boolean(const Value& v) {
    auto s = scalar(v, "true or false");
    if (!s) return std::nullopt;
    // YAML 1.2 core booleans only: "yes"/"on" are ambiguous and easy to mistype.
    if (*s == "true" || *s == "True" || *s == "TRUE") return true;
    if (*s == "false" || *s == "False" || *s == "FALSE") return false;
    error(v, "expected true or false, got '" + *s + "'");
    return std::nullopt;
}

std::optional<std::uint64_t> Loader::integer(const Value& v) {
    auto s = scalar(v, "an integer");
    if (!s) return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), value);
    if (!s->empty() && ec == std::errc() && end == s->data() + s->size()) return value;
    if (ec == std::errc::result_out_of_range)
        error(v, "integer '" + *s + "' is out of range");
    else if (!s->empty() && s->front() == '-')
        error(v, "must not be negative, got '" + *s + "'");
    else
        error(v, "expected an integer, got '" + *s + "'");
    return std::nullopt;
}

std::optional<Duration> Loader::duration(const Value& v) {
    auto s = scalar(v, "a duration");
    if (!s) return std::nullopt;
    if (auto d = parse_duration(*s)) return d;
    if (!s->empty() && s->front() == '-')
        error(v, "duration must not be negative, got '" + *s + "'");
    else
        error(v, "invalid duration '" + *s + "' (expected e.g. 250ms, 30s, 5m, 24h, 1h30m or integer seconds)");
    return std::nullopt;
}

std::optional<Duration> Loader::positive_duration(const Value& v) {
    auto d = duration(v);
    if (d && d->count() == 0) {
        error(v, "must be greater than 0");
        return std::nullopt;
    }
    return d;
}

std::optional<std::uint64_t> Loader::size(const Value& v) {
    auto s = scalar(v, "a size");
    if (!s) return std::nullopt;
    if (auto n = parse_size(*s)) return n;
    if (!s->empty() && s->front() == '-')
        error(v, "size must not be negative, got '" + *s + "'");
    else
        error(v, "invalid size '" + *s + "' (expected bytes or e.g. 16KiB, 10MiB, 1GiB, 512KB)");
    return std::nullopt;
}

std::optional<std::string> Loader::file_path(const Value& v) {
    auto s = nonempty_text(v);
    if (!s) return std::nullopt;
    fs::path p(*s);
    if (p.is_relative()) p = base_dir_ / p;
    return p.lexically_normal().string();
}

// TLS material is loaded by the server at start, far from the config: say it here.
std::optional<std::string> Loader::existing_file(const Value& v) {
    auto p = file_path(v);
    if (!p) return std::nullopt;
    std::error_code ec;
    if (!fs::exists(*p, ec)) {
        error(v, "file not found: " + *p);
        return std::nullopt;
    }
    if (!fs::is_regular_file(*p, ec)) {
        error(v, "not a regular file: " + *p);
        return std::nullopt;
    }
    return p;
}

std::optional<std::string> Loader::one_of(const Value& v, const std::vector<std::string>& options) {
    auto s = text(v);
    if (!s) return std::nullopt;
    if (contains(options, *s)) return s;
    error(v, "invalid value '" + *s + "' (expected one of " + strings::join(options, "|") + ")" + suggestion(*s, options));
    return std::nullopt;
}

std::optional<std::string> Loader::http_token(const Value& v) {
    auto s = text(v);
    if (!s) return std::nullopt;
    if (syntax::is_token(*s)) return s;
    error(v, "invalid header name '" + *s + "' (letters, digits and !#$%&'*+-.^_`|~ only)");
    return std::nullopt;
}

// ------------------------------------------------------------------------------------
// Lists

std::vector<Value> Loader::items(const Value& v, bool allow_single) {
    if (v.null()) return {};
    if (allow_single && v.node.IsScalar()) return {v};
    if (!v.node.IsSequence()) {
        error(v, std::string(allow_single ? "expected a string or a list" : "expected a list") + ", got " +
                     describe(v.node));
        return {};
    }
    std::vector<Value> out;
    std::size_t i = 0;
    for (auto it = v.node.begin(); it != v.node.end(); ++it, ++i) {
        const YAML::Node node = *it;
        const Mark at = mark(node, v.mark);
        out.push_back(Value{node, at, at, v.path + "[" + std::to_string(i) + "]"});
    }
    return out;
}

// An empty string in a list is always a mistake (a stray comma or an unset variable).
std::vector<std::string> Loader::text_list(const Value& v, bool allow_single) {
    std::vector<std::string> out;
    for (const auto& item : items(v, allow_single))
        if (auto s = nonempty_text(item)) out.push_back(std::move(*s));
    return out;
}

// ------------------------------------------------------------------------------------
// server, admin, log

void Loader::read_server(const Value& v, Server& out) {
    Section s(*this, v, keys::server, &out.marks);
    out.marks.self = s.self();
    if (const Value* listen = s.get("listen")) {
        auto addresses = read_listen_list(*listen);
        if (!addresses.empty()) out.listen = std::move(addresses);
    }
    if (const Value* workers = s.get("workers")) {
        if (auto n = integer(*workers)) {
            if (*n > UINT_MAX)
                error(*workers, "integer '" + std::to_string(*n) + "' is out of range");
            else
                out.workers = static_cast<unsigned>(*n);
        }
    }
    if (const Value* tls = s.get("tls")) out.tls = read_server_tls(*tls, out.marks);
    if (const Value* limits = s.get("limits")) read_limits(*limits, out.limits, out.marks);
    if (const Value* timeouts = s.get("timeouts")) read_timeouts(*timeouts, out.timeouts, out.marks);
    if (const Value* underscores = s.get("headers_with_underscores")) {
        if (auto r = one_of(*underscores, {"drop", "reject", "allow"}))
            out.headers_with_underscores = *r == "drop"     ? Underscores::drop
                                           : *r == "reject" ? Underscores::reject
                                                            : Underscores::allow;
    }
    if (const Value* http2 = s.get("http2")) read_http2(*http2, out.http2, out.marks);
}

std::vector<ListenAddress> Loader::read_listen_list(const Value& v) {
    if (v.node.IsSequence() && v.node.size() == 0) {
        error(v, "at least one listen address is required");
        return {};
    }
    if (v.null()) {
        error(v, "expected host:port or a list of them, got nothing");
        return {};
    }
    std::vector<ListenAddress> out;
    bool all_valid = true;
    for (const auto& item : items(v, /*allow_single=*/true)) {
        if (auto address = read_listen(item))
            out.push_back(std::move(*address));
        else
            all_valid = false;
    }
    // All or nothing: a partial list would no longer line up with its marks (listen[i]),
    // and the admin port check must not compare against addresses the file did not give.
    if (!all_valid) {
        listen_invalid_ = true;
        return {};
    }
    return out;
}

std::optional<ListenAddress> Loader::read_listen(const Value& v) {
    auto s = text(v);
    if (!s) return std::nullopt;
    std::string why;
    auto address = syntax::parse_listen(*s, why);
    if (!address) error(v, "invalid listen address '" + *s + "': " + why);
    return address;
}

std::optional<ServerTls> Loader::read_server_tls(const Value& v, Marks& marks) {
    Section s(*this, v, keys::server_tls, &marks, "tls.");
    ServerTls tls;
    for (const char* key : {"cert_file", "key_file"})
        if (!s.get(key)) missing(s, key);
    assign(tls.cert_file, s, "cert_file", &Loader::existing_file);
    assign(tls.key_file, s, "key_file", &Loader::existing_file);
    return tls;
}

void Loader::read_limits(const Value& v, Limits& out, Marks& marks) {
    Section s(*this, v, keys::server_limits, &marks, "limits.");
    assign(out.max_header_bytes, s, "max_header_bytes", &Loader::size);
    assign(out.max_body_bytes, s, "max_body_bytes", &Loader::size);
    assign(out.max_connections, s, "max_connections", &Loader::integer);
    // Zero would make the gateway refuse every request: surely not what was meant.
    if (const Value* v = s.get("max_header_bytes"); v && out.max_header_bytes == 0) error(*v, "must be greater than 0");
    if (const Value* v = s.get("max_connections"); v && out.max_connections == 0) error(*v, "must be greater than 0");
}

void Loader::read_timeouts(const Value& v, Timeouts& out, Marks& marks) {
    Section s(*this, v, keys::server_timeouts, &marks, "timeouts.");
    // A zero header/connect/response timeout would fail every request; idle 0 (no
    // keep-alive), shutdown 0 (stop at once) and drain_delay 0 (drain at once) are meaningful.
    assign(out.header, s, "header", &Loader::positive_duration);
    assign(out.idle, s, "idle", &Loader::duration);
    assign(out.upstream_connect, s, "upstream_connect", &Loader::positive_duration);
    assign(out.upstream_response, s, "upstream_response", &Loader::positive_duration);
    assign(out.request_body, s, "request_body", &Loader::positive_duration);
    assign(out.shutdown, s, "shutdown", &Loader::duration);
    assign(out.drain_delay, s, "drain_delay", &Loader::duration);
}

void Loader::read_http2(const Value& v, Http2& out, Marks& marks) {
    Section s(*this, v, keys::server_http2, &marks, "http2.");
    assign(out.enabled, s, "enabled", &Loader::boolean);
    assign(out.cleartext, s, "cleartext", &Loader::boolean);
    assign(out.max_concurrent_streams, s, "max_concurrent_streams", &Loader::integer);
    assign(out.max_header_list_size, s, "max_header_list_size", &Loader::size);
    assign(out.header_table_size, s, "header_table_size", &Loader::size);
    assign(out.initial_window_size, s, "initial_window_size", &Loader::size);
    assign(out.max_connection_memory, s, "max_connection_memory", &Loader::size);
    assign(out.max_resets, s, "max_resets", &Loader::integer);
    assign(out.max_control_frames, s, "max_control_frames", &Loader::integer);
    assign(out.flood_interval, s, "flood_interval", &Loader::positive_duration);
    // SETTINGS values are 31-bit (windows, streams) or 32-bit; zero would refuse every
    // stream or every byte, which is surely not what was meant.
    auto in_range = [&](std::string_view key, std::uint64_t value, std::uint64_t low, std::uint64_t high) {
        if (const Value* k = s.get(key); k && (value < low || value > high))
            error(*k, "must be between " + std::to_string(low) + " and " + std::to_string(high));
    };
    in_range("max_concurrent_streams", out.max_concurrent_streams, 1, 0x7fffffff);
    in_range("max_header_list_size", out.max_header_list_size, 1, 0x7fffffff);
    in_range("header_table_size", out.header_table_size, 0, 64 * 1024);
    in_range("initial_window_size", out.initial_window_size, 1024, 0x7fffffff);
    in_range("max_connection_memory", out.max_connection_memory, 1024 * 1024, UINT64_MAX);
    in_range("max_resets", out.max_resets, 1, UINT32_MAX);
    in_range("max_control_frames", out.max_control_frames, 1, UINT32_MAX);
    if (const Value* k = s.get("cleartext"); k && out.cleartext && !out.enabled)
        error(*k, "cleartext: true needs server.http2.enabled: true");
}

Admin Loader::read_admin(const Value& v) {
    Admin admin;
    Section s(*this, v, keys::admin, &admin.marks);
    admin.marks.self = s.self();
    if (const Value* listen = s.get("listen")) {
        if (auto address = read_listen(*listen)) admin.listen = *address;
    } else {
        missing(s, "listen");
    }
    return admin;
}

Log Loader::read_log(const Value& v) {
    Log log;
    Section s(*this, v, keys::log);
    if (const Value* level = s.get("level"))
        if (auto r = one_of(*level, {"trace", "debug", "info", "warn", "error", "off"})) log.level = *r;
    if (const Value* format = s.get("format"))
        if (auto r = one_of(*format, {"text", "json"})) log.format = *r;
    assign(log.access_log, s, "access_log", &Loader::boolean);
    return log;
}

// ------------------------------------------------------------------------------------
// upstreams

std::vector<Upstream> Loader::read_upstreams(const Value& v) {
    std::vector<Upstream> out;
    Section s(*this, v, keys::upstreams);
    for (const auto& e : s.entries()) out.push_back(read_upstream(e));
    return out;
}

Upstream Loader::read_upstream(const Entry& e) {
    Upstream u;
    u.name = e.key;
    Section s(*this, e.value, keys::upstream, &u.marks);
    u.marks.self = s.self();

    if (const Value* endpoints = s.get("endpoints")) {
        if (endpoints->null() || (endpoints->node.IsSequence() && endpoints->node.size() == 0))
            error(*endpoints, "at least one endpoint is required");
        for (const auto& item : items(*endpoints)) {
            auto url = text(item);
            if (!url) continue;
            std::string why;
            if (auto ep = syntax::parse_endpoint(*url, why))
                u.endpoints.push_back(std::move(*ep));
            else
                error(item, "invalid endpoint '" + *url + "': " + why);
        }
    } else {
        missing(s, "endpoints");
    }

    if (const Value* tls = s.get("tls")) read_upstream_tls(*tls, u);
    if (const Value* pool = s.get("pool")) {
        Section p(*this, *pool, keys::upstream_pool, &u.marks, "pool.");
        assign(u.pool_idle_timeout, p, "idle_timeout", &Loader::duration);
        assign(u.pool_max_idle, p, "max_idle", &Loader::integer);
    }
    return u;
}

void Loader::read_upstream_tls(const Value& v, Upstream& out) {
    Section s(*this, v, keys::upstream_tls, &out.marks, "tls.");
    assign(out.tls.verify, s, "verify", &Loader::boolean);
    assign(out.tls.ca_file, s, "ca_file", &Loader::existing_file);
    assign(out.tls.server_name, s, "server_name", &Loader::nonempty_text);
    if (const Value* verify = s.get("verify"); verify && !out.tls.verify)
        warning(*verify, "TLS certificate verification is disabled for upstream '" + out.name + "'");
}

// ------------------------------------------------------------------------------------
// jwt

Jwt Loader::read_jwt(const Value& v) {
    Jwt jwt;
    Section s(*this, v, keys::jwt, &jwt.marks);
    jwt.marks.self = s.self();
    if (const Value* providers = s.get("providers")) {
        Section names(*this, *providers, keys::jwt_providers);
        for (const auto& e : names.entries()) jwt.providers.push_back(read_provider(e));
    }
    if (const Value* cache = s.get("cache")) {
        Section c(*this, *cache, keys::jwt_cache, &jwt.marks, "cache.");
        assign(jwt.cache_max_entries, c, "max_entries", &Loader::integer);
    }
    if (const Value* dir = s.get("key_cache_dir")) apply_key_cache_dir(*dir, jwt);
    return jwt;
}

// A directory the gateway writes into later: it must exist now, so a typo fails --check
// rather than every cache write once the gateway runs.
std::optional<std::string> Loader::directory(const Value& v) {
    auto p = file_path(v);
    if (!p) return std::nullopt;
    std::error_code ec;
    if (!fs::is_directory(*p, ec)) {
        error(v, "directory not found: " + *p);
        return std::nullopt;
    }
    return p;
}

// Every provider with remote keys and no jwks_cache_file of its own caches them in
// `dir`, one file per provider name; providers with static keys only have nothing to cache.
void Loader::apply_key_cache_dir(const Value& v, Jwt& jwt) {
    const auto dir = directory(v);
    if (!dir) return;
    jwt.key_cache_dir = *dir;
    for (auto& p : jwt.providers) {
        if (!p.remote_source() || p.keys.jwks_cache_file) continue;
        const bool plain_name = !p.name.empty() && p.name != "." && p.name != ".." &&
                                p.name.find_first_of(std::string("/\0", 2)) == std::string::npos;
        if (!plain_name) {
            error(v, "jwt provider '" + p.name + "' cannot name a file in key_cache_dir; set its keys.jwks_cache_file");
            continue;
        }
        p.keys.jwks_cache_file = (fs::path(*dir) / (p.name + ".jwks.json")).lexically_normal().string();
    }
}

JwtProvider Loader::read_provider(const Entry& e) {
    JwtProvider p;
    p.name = e.key;
    Section s(*this, e.value, keys::provider, &p.marks);
    p.marks.self = s.self();

    if (const Value* issuer = s.get("issuer")) p.issuers = text_list(*issuer, /*allow_single=*/true);
    if (const Value* audiences = s.get("audiences")) p.audiences = text_list(*audiences, /*allow_single=*/true);
    if (const Value* algorithms = s.get("algorithms"))
        p.algorithms = read_algorithms(*algorithms);
    else
        missing(s, "algorithms");
    if (const Value* types = s.get("types")) p.types = read_types(*types);
    // Discovery alone is a key source; when asked for but wrong, that error is the one to show.
    const bool discovery = read_discovery(s, p);
    if (const Value* keys = s.get("keys"))
        read_keys(*keys, p.keys, discovery);
    else if (!discovery)
        missing(s, "keys");
    const Value* discovery_key = s.get("discovery_url") ? s.get("discovery_url") : s.get("discovery");
    if (p.discovery && p.keys.jwks_url && discovery_key)
        error(*discovery_key, "discovery and keys.jwks_url are two remote key sources; keep one");
    assign(p.leeway, s, "leeway", &Loader::duration);
    if (const Value* claims = s.get("required_claims")) p.required_claims = text_list(*claims);
    assign(p.max_lifetime, s, "max_lifetime", &Loader::positive_duration);
    if (const Value* from = s.get("token_from")) p.token_from = read_token_from(*from, p.marks);
    if (const Value* claims = s.get("forward_claims")) p.forward_claims = read_forward_claims(*claims, p.marks);
    assign(p.forward_payload_header, s, "forward_payload_header", &Loader::http_token);
    assign(p.strip_token, s, "strip_token", &Loader::boolean);
    return p;
}

std::vector<std::string> Loader::read_algorithms(const Value& v) {
    std::vector<std::string> out;
    for (const auto& item : items(v)) {
        auto alg = text(item);
        if (!alg) continue;
        const std::string lower = strings::lower(*alg);
        if (lower == "none")
            error(item, "alg none is never accepted");
        else if (!contains(jwt_algorithms, *alg))
            error(item, "unknown algorithm '" + *alg + "' (expected one of " + strings::join(jwt_algorithms) + ")" +
                            suggestion(*alg, jwt_algorithms));
        else
            out.push_back(std::move(*alg));
    }
    // Checked on the list itself so an all-invalid list does not also say "empty".
    if (v.null() || (v.node.IsSequence() && v.node.size() == 0))
        error(v, "at least one algorithm is required");
    return out;
}

// JOSE typ values: media types without parameters ("at+jwt", "application/jwt"), or ""
// for a token without typ. An empty list would refuse every token: an error, not a lock-out.
std::vector<std::string> Loader::read_types(const Value& v) {
    std::vector<std::string> out;
    for (const auto& item : items(v, /*allow_single=*/true)) {
        auto t = text(item);
        if (!t) continue;
        const bool ok = std::all_of(t->begin(), t->end(), [](char c) { return strings::is_tchar(c) || c == '/'; });
        if (!ok)
            error(item, "'" + *t + "' is not a JOSE typ (a media type such as at+jwt or JWT; \"\" admits tokens without typ)");
        else
            out.push_back(std::move(*t));
    }
    if (v.null() || (v.node.IsSequence() && v.node.size() == 0))
        error(v, "an empty types list admits no token; list \"\" to admit tokens without typ, or remove the key");
    return out;
}

// discovery / discovery_url (OpenID Connect Discovery 1.0): the document is fetched from
// discovery_url, or from the issuer (section 4), and its issuer must equal the configured
// one exactly (section 4.3): hence exactly one issuer. True when discovery was asked for
// (p.discovery is set only when it can work).
bool Loader::read_discovery(const Section& s, JwtProvider& p) {
    const Value* flag = s.get("discovery");
    const Value* url = s.get("discovery_url");
    std::optional<bool> on;
    if (flag) on = boolean(*flag);
    if (url && on == false) {
        error(*flag, "discovery is false, but discovery_url is set; remove one");
        return true;
    }
    if (!url && on != true) return false;
    const Value& at = url ? *url : *flag;
    if (p.issuers.size() != 1) {
        error(at, "discovery needs exactly one issuer (the discovery document must name it), got " +
                      std::to_string(p.issuers.size()));
        return true;
    }
    std::string target;
    if (url) {
        auto u = nonempty_text(*url);
        if (!u) return true;
        target = *u;
    } else {
        std::string_view issuer = p.issuers.front();
        while (!issuer.empty() && issuer.back() == '/') issuer.remove_suffix(1);  // section 4
        target = std::string(issuer) + "/.well-known/openid-configuration";
    }
    std::string why;
    auto parsed = syntax::parse_http_url(target, why);
    if (!parsed) {
        error(at, url ? "invalid discovery_url '" + target + "': " + why
                      : "issuer '" + p.issuers.front() + "' gives no usable discovery URL: " + why);
        return true;
    }
    if (!parsed->tls) warning(at, "keys fetched over plain http can be tampered with; use https");
    p.discovery = true;
    p.discovery_url = std::move(target);
    return true;
}

void Loader::read_keys(const Value& v, JwtKeys& out, bool discovery) {
    Section s(*this, v, keys::provider_keys, &out.marks);
    out.marks.self = s.self();
    assign(out.secret, s, "secret", &Loader::nonempty_text);
    assign(out.secret_base64, s, "secret_base64", &Loader::nonempty_text);
    assign(out.public_key_file, s, "public_key_file", &Loader::file_path);  // jwt/ checks existence
    assign(out.jwks_file, s, "jwks_file", &Loader::file_path);
    if (const Value* url = s.get("jwks_url")) {
        if (auto u = nonempty_text(*url)) {
            // The fetcher's own parse (jwt/jwks_fetcher.cpp): a URL it could not use fails
            // here, at --check, not as a fetch error once the gateway runs.
            std::string why;
            if (auto parsed = syntax::parse_http_url(*u, why)) {
                out.jwks_url = *u;
                if (!parsed->tls) warning(*url, "keys fetched over plain http can be tampered with; use https");
            } else {
                error(*url, "invalid jwks_url '" + *u + "': " + why);
            }
        }
    }
    assign(out.jwks_refresh, s, "jwks_refresh", &Loader::positive_duration);
    if (const Value* cache = s.get("jwks_cache_file")) {
        if (!out.jwks_url && !discovery && !s.get("jwks_url")) {
            error(*cache, "a cache file needs a remote key source (keys.jwks_url, or discovery on the provider)");
        } else if (auto path = file_path(*cache)) {
            // The file need not exist yet (the first good fetch writes it); its directory must.
            std::error_code ec;
            if (!fs::is_directory(fs::path(*path).parent_path(), ec))
                error(*cache, "directory not found: " + fs::path(*path).parent_path().string());
            else
                out.jwks_cache_file = std::move(*path);
        }
    }
    assign(out.max_stale, s, "max_stale", &Loader::positive_duration);

    static const std::vector<std::string> sources = {"secret", "secret_base64", "public_key_file", "jwks_file",
                                                     "jwks_url"};
    bool any = std::any_of(sources.begin(), sources.end(), [&](const std::string& k) { return s.get(k) != nullptr; });
    if (!any && !discovery)
        error(v, "at least one key source is required: " + strings::join(sources) + " (or discovery on the provider)");
    // Short HMAC secrets are jwt/provider.cpp's to report: it sees every secret, including
    // those from secret_base64 and jwks_file.
}

std::vector<TokenSource> Loader::read_token_from(const Value& v, Marks& marks) {
    std::vector<TokenSource> out;
    auto list = items(v);
    for (std::size_t i = 0; i < list.size(); ++i)
        if (auto source = read_token_source(list[i], marks, "token_from[" + std::to_string(i) + "]."))
            out.push_back(std::move(*source));
    return out;
}

std::optional<TokenSource> Loader::read_token_source(const Value& v, Marks& marks, const std::string& prefix) {
    Section s(*this, v, keys::token_source, &marks, prefix);
    const Value* header = s.get("header");
    const Value* cookie = s.get("cookie");
    const Value* query = s.get("query");
    int kinds = (header != nullptr) + (cookie != nullptr) + (query != nullptr);
    if (kinds != 1) {
        error(v, "each token_from item needs exactly one of header, cookie or query");
        return std::nullopt;
    }
    TokenSource source;
    if (const Value* prefix_value = s.get("prefix")) {
        if (!header) {
            error(*prefix_value, "prefix is only allowed with header");
            return std::nullopt;
        }
        if (auto p = text(*prefix_value)) source.prefix = *p;
    }
    std::optional<std::string> name;
    if (header) {
        source.kind = TokenSource::Kind::header;
        name = http_token(*header);
    } else if (cookie) {
        source.kind = TokenSource::Kind::cookie;
        name = http_token(*cookie);  // cookie names are tokens too (RFC 6265)
    } else {
        source.kind = TokenSource::Kind::query;
        name = nonempty_text(*query);
    }
    if (!name) return std::nullopt;
    source.name = *name;
    return source;
}

std::vector<std::pair<std::string, std::string>> Loader::read_forward_claims(const Value& v, Marks& marks) {
    std::vector<std::pair<std::string, std::string>> out;
    Section s(*this, v, keys::forward_claims, &marks, "forward_claims.");
    std::map<std::string, std::string> claim_of_header;  // lower-case header -> claim
    for (const auto& e : s.entries()) {
        auto header = http_token(e.value);
        if (!header) continue;
        const std::string lower = strings::lower(*header);
        // Two claims into one header would make the upstream see whichever came last.
        if (auto [it, inserted] = claim_of_header.emplace(lower, e.key); !inserted) {
            error(e.value, "header '" + *header + "' is already used for claim '" + it->second + "'");
            continue;
        }
        out.emplace_back(e.key, *header);
    }
    return out;
}

// ------------------------------------------------------------------------------------
// cors

Cors Loader::read_cors(const Value& v) {
    Cors cors;
    Section s(*this, v, keys::cors, &cors.marks);
    cors.marks.self = s.self();
    if (const Value* policies = s.get("policies")) {
        Section names(*this, *policies, keys::cors_policies);
        for (const auto& e : names.entries()) cors.policies.push_back(read_policy(e));
    }
    return cors;
}

CorsPolicy Loader::read_policy(const Entry& e) {
    CorsPolicy p;
    p.name = e.key;
    Section s(*this, e.value, keys::cors_policy, &p.marks);
    p.marks.self = s.self();
    // Origin syntax and regexes are checked by cors/ (using the marks recorded above).
    if (const Value* list = s.get("allow_origins")) p.allow_origins = text_list(*list);
    if (const Value* list = s.get("allow_origin_regexes")) p.allow_origin_regexes = text_list(*list);
    if (const Value* list = s.get("allow_methods")) p.allow_methods = text_list(*list);
    if (const Value* list = s.get("allow_headers")) p.allow_headers = text_list(*list);
    if (const Value* list = s.get("expose_headers")) p.expose_headers = text_list(*list);
    assign(p.allow_all_origins, s, "allow_all_origins", &Loader::boolean);
    assign(p.allow_credentials, s, "allow_credentials", &Loader::boolean);
    assign(p.allow_private_network, s, "allow_private_network", &Loader::boolean);
    assign(p.max_age, s, "max_age", &Loader::max_age);
    return p;
}

// Integer seconds or a duration; Access-Control-Max-Age has no sub-second precision.
std::optional<std::uint64_t> Loader::max_age(const Value& v) {
    auto d = duration(v);
    if (!d) return std::nullopt;
    if (d->count() % 1000 != 0) {
        error(v, "max_age must be whole seconds");
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(d->count() / 1000);
}

// ------------------------------------------------------------------------------------
// routes

std::vector<Route> Loader::read_routes(const Value& v, const Config& cfg) {
    std::vector<Route> out;
    std::map<std::string, Mark> seen;  // route name -> where first defined
    for (const auto& item : items(v)) {
        Route route = read_route(item, cfg);
        if (!route.name.empty()) {
            auto [it, inserted] = seen.emplace(route.name, route.marks.at("name"));
            if (!inserted)
                error(route.marks.at("name"), item.path + ".name: duplicate route name '" + route.name +
                                                  "' (first defined at line " + std::to_string(it->second.line) + ")");
        }
        out.push_back(std::move(route));
    }
    warn_about_routes(out, v);
    return out;
}

Route Loader::read_route(const Value& v, const Config& cfg) {
    Route r;
    Section s(*this, v, keys::route, &r.marks);
    r.marks.self = s.self();

    if (s.get("name"))
        assign(r.name, s, "name", &Loader::nonempty_text);
    else
        missing(s, "name");
    if (const Value* match = s.get("match")) read_match(*match, r);
    if (const Value* upstream = s.get("upstream")) {
        if (auto name = nonempty_text(*upstream)) {
            r.upstream = *name;
            check_reference(*upstream, *name, names_of(cfg.upstreams), "upstream");
        }
    } else {
        missing(s, "upstream");
    }
    if (const Value* cors = s.get("cors")) {
        if (auto name = nonempty_text(*cors)) {
            r.cors = *name;
            check_reference(*cors, *name, names_of(cfg.cors.policies), "cors policy");
        }
    }
    if (const Value* rewrite = s.get("rewrite")) {
        Section rw(*this, *rewrite, keys::route_rewrite, &r.marks, "rewrite.");
        if (const Value* strip = rw.get("strip_prefix")) {
            if (auto p = text(*strip)) {
                if (p->empty() || p->front() != '/')
                    error(*strip, "must start with '/', got '" + *p + "'");
                else
                    r.strip_prefix = *p;
            }
        }
    }
    if (const Value* auth = s.get("auth")) read_auth(*auth, r.auth, cfg);
    return r;
}

void Loader::read_match(const Value& v, Route& route) {
    Section s(*this, v, keys::route_match, &route.marks, "match.");
    auto read_path = [&](const char* key, std::string& out) {
        const Value* value = s.get(key);
        if (!value) return;
        auto p = text(*value);
        if (!p) return;
        if (p->empty() || p->front() != '/')
            error(*value, "must start with '/', got '" + *p + "'");
        else
            out = *p;
    };
    read_path("path", route.match.path);
    read_path("path_prefix", route.match.path_prefix);
    if (s.get("path") && s.get("path_prefix"))
        error(*s.get("path_prefix"), "use either path (exact) or path_prefix, not both");

    if (const Value* methods = s.get("methods")) {
        for (const auto& item : items(*methods)) {
            auto m = text(item);
            if (!m) continue;
            if (!syntax::is_token(*m)) {
                error(item, "invalid method '" + *m + "'");
                continue;
            }
            std::transform(m->begin(), m->end(), m->begin(), [](unsigned char c) { return std::toupper(c); });
            route.match.methods.push_back(*m);
        }
    }
    if (const Value* host = s.get("host")) {
        if (auto h = nonempty_text(*host)) {
            std::string why;
            if (auto normalized = syntax::normalize_route_host(*h, why))
                route.match.host = *normalized;
            else
                error(*host, "invalid host '" + *h + "': " + why);
        }
    }
}

void Loader::read_auth(const Value& v, RouteAuth& out, const Config& cfg) {
    out.marks.self = v.mark;
    // An empty `auth:` is rejected rather than read as "none": on a security gateway an
    // indentation slip must not silently open a route.
    if (v.node.IsScalar()) {
        auto s = text(v);
        if (s && *s != "none") error(v, "expected 'none' or a mapping with providers, got '" + *s + "'");
        out.none = true;
        return;
    }
    if (!v.node.IsMap()) {
        error(v, "expected 'none' or a mapping with providers, got " + describe(v.node));
        return;
    }
    out.none = false;
    Section s(*this, v, keys::route_auth, &out.marks);
    if (const Value* providers = s.get("providers")) {
        const auto defined = names_of(cfg.jwt.providers);
        for (const auto& item : items(*providers)) {
            auto name = nonempty_text(item);
            if (!name) continue;
            check_reference(item, *name, defined, "jwt provider");
            out.providers.push_back(*name);
        }
        if (providers->null() || (providers->node.IsSequence() && providers->node.size() == 0))
            error(*providers, "at least one provider is required");
    } else {
        missing(s, "providers");
    }
    if (const Value* mode = s.get("mode")) {
        if (auto m = one_of(*mode, {"required", "optional", "report_only"})) {
            out.mode = *m == "required"   ? RouteAuth::Mode::required
                       : *m == "optional" ? RouteAuth::Mode::optional
                                          : RouteAuth::Mode::report_only;
        }
    }
    if (const Value* claims = s.get("claims")) out.claims = read_claim_rules(*claims, out.marks);
}

std::vector<std::pair<std::string, std::vector<std::string>>> Loader::read_claim_rules(const Value& v,
                                                                                        Marks& marks) {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    Section s(*this, v, keys::claim_rules, &marks, "claims.");
    for (const auto& e : s.entries()) {
        if (e.value.node.IsSequence() && e.value.node.size() == 0) {
            error(e.value, "at least one accepted value is required");
            continue;
        }
        if (e.value.null()) {
            error(e.value, "expected a string or a list, got nothing");
            continue;
        }
        auto values = text_list(e.value, /*allow_single=*/true);
        if (!values.empty()) out.emplace_back(e.key, std::move(values));
    }
    return out;
}

void Loader::check_reference(const Value& v, const std::string& name, const std::vector<std::string>& defined,
                             std::string_view what) {
    if (contains(defined, name)) return;
    std::string hint = defined.empty() ? " (none are defined)" : suggestion(name, defined);
    if (hint.empty()) hint = " (defined: " + strings::join(defined) + ")";
    error(v, "unknown " + std::string(what) + " '" + name + "'" + hint);
}

// The server binds its listeners with SO_REUSEPORT, the admin listener without: sharing a
// port with one would fail at start with "address in use", so it fails here instead.
void Loader::check_admin_port(const Config& cfg) {
    const auto show = [](const ListenAddress& a) {
        const bool v6 = a.host.find(':') != std::string::npos;
        return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
    };
    const auto& listen = cfg.server.listen;
    for (std::size_t i = 0; i < listen.size(); ++i) {
        if (!syntax::listen_overlaps(cfg.admin->listen, listen[i])) continue;
        const auto& marks = cfg.server.marks.keys;
        auto at = marks.find("listen[" + std::to_string(i) + "]");
        if (at == marks.end()) at = marks.find("listen");
        const std::string where = at == marks.end() ? "" : " (line " + std::to_string(at->second.line) + ")";
        diag_.error(cfg.admin->marks.at("listen"), "admin.listen: " + show(cfg.admin->listen) +
                                                       " takes the port of server.listen " + show(listen[i]) + where +
                                                       ": give the admin listener a port of its own");
        return;
    }
}

// First match wins: a route after one that matches everything can never be chosen.
void Loader::warn_about_routes(const std::vector<Route>& routes, const Value& v) {
    if (routes.empty()) {
        diag_.warning(v.key_mark, "no routes defined: every request will get 404");
        return;
    }
    const Route* catch_all = nullptr;
    for (const auto& r : routes) {
        if (catch_all) {
            diag_.warning(r.marks.self, "route '" + r.name + "' is unreachable: route '" + catch_all->name +
                                            "' before it matches every request");
            continue;
        }
        const auto& m = r.match;
        bool any_path = m.path.empty() && (m.path_prefix.empty() || m.path_prefix == "/");
        if (any_path && m.methods.empty() && m.host.empty()) catch_all = &r;

        const std::string& matched = m.path.empty() ? m.path_prefix : m.path;
        if (!r.strip_prefix.empty() && !matched.empty() && matched.rfind(r.strip_prefix, 0) != 0)
            diag_.warning(r.marks.at("rewrite.strip_prefix"), "strip_prefix '" + r.strip_prefix +
                                                                   "' is not a prefix of '" + matched +
                                                                   "': matching requests are not rewritten");
    }
}

// ------------------------------------------------------------------------------------
// the whole file

std::optional<Config> Loader::load(std::string_view yaml) {
    const std::size_t errors_before = diag_.errors().size();
    const Mark start{file_, 1, 1};

    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(std::string(yaml));
    } catch (const YAML::Exception& e) {
        Mark at = e.mark.is_null() ? start : Mark{file_, e.mark.line + 1, e.mark.column + 1};
        error(at, "YAML syntax error: " + e.msg);
        return std::nullopt;
    }
    if (docs.empty() || !docs.front().IsMap()) {
        Mark at = docs.empty() ? start : mark(docs.front(), start);
        error(at, "the config must be a mapping of sections (server, upstreams, jwt, cors, routes, ...)");
        return std::nullopt;
    }
    if (docs.size() > 1) error(mark(docs[1], start), "only one YAML document is allowed in a config file");

    Value root{docs.front(), mark(docs.front(), start), start, ""};
    Section s(*this, root, keys::top);

    Config cfg;
    cfg.file = absolute_file_;
    if (const Value* v = s.get("server")) read_server(*v, cfg.server);
    if (const Value* v = s.get("admin")) cfg.admin = read_admin(*v);
    if (cfg.admin && !listen_invalid_) check_admin_port(cfg);
    if (const Value* v = s.get("log")) cfg.log = read_log(*v);
    if (const Value* v = s.get("upstreams")) cfg.upstreams = read_upstreams(*v);
    if (const Value* v = s.get("jwt")) cfg.jwt = read_jwt(*v);
    if (const Value* v = s.get("cors")) cfg.cors = read_cors(*v);
    // Last: routes refer to upstreams, cors policies and jwt providers by name.
    if (const Value* v = s.get("routes"))
        cfg.routes = read_routes(*v, cfg);
    else
        diag_.warning(start, "no routes defined: every request will get 404");

    if (diag_.errors().size() != errors_before) return std::nullopt;
    return cfg;
}

}  // namespace

std::optional<Config> load_string(std::string_view yaml, const std::string& file, Diagnostics& diag) {
    // Nothing may escape: a config problem must become a message, never a crash (this also
    // runs on SIGHUP inside a live server).
    try {
        Loader loader(file, diag);
        return loader.load(yaml);
    } catch (const std::exception& e) {
        diag.error(Mark{file, 1, 1}, std::string("internal error while loading the config: ") + e.what());
    } catch (...) {
        diag.error(Mark{file, 1, 1}, "internal error while loading the config");
    }
    return std::nullopt;
}

std::optional<Config> load_file(const std::string& path, Diagnostics& diag) {
    try {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            diag.error(path + ": cannot open config file: " + std::strerror(errno));
            return std::nullopt;
        }
        std::ostringstream text;
        text << in.rdbuf();
        if (in.bad()) {
            diag.error(path + ": cannot read config file");
            return std::nullopt;
        }
        return load_string(text.str(), path, diag);
    } catch (const std::exception& e) {
        diag.error(path + ": cannot read config file: " + e.what());
    } catch (...) {
        diag.error(path + ": cannot read config file");
    }
    return std::nullopt;
}

}  // namespace authgate::config
