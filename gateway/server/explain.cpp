#include "server/explain.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "cli/command_line.h"
#include "config/strings.h"
#include "jwt/extractor.h"
#include "jwt/provider.h"
#include "jwt/token_report.h"
#include "server/prepare.h"
#include "server/responses.h"

namespace authgate::server {
namespace {
namespace beast = boost::beast;
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kUsage =
    R"(Usage: authgate explain -c FILE [--method GET] --url TARGET [--header 'Name: value' ...] [--token T]

Prints what the gateway configured in FILE would do with one request, without starting
it: the route chosen, the CORS decision, every JWT check with its result, the request
that would be forwarded upstream (or the response the gateway would answer with), and
the final status.

  -c, --config FILE  the configuration, as for `authgate -c FILE`
  --method M         the request method (default GET). A CORS preflight is OPTIONS with
                     Origin and Access-Control-Request-Method headers.
  --url TARGET       path with an optional query (/api/x?access_token=...), or an
                     absolute URL whose host:port becomes the Host header
  --header 'N: V'    a request header; may repeat. Host defaults to localhost.
  --token T          the same as --header 'Authorization: Bearer T'

A route whose jwt provider has a jwks_url or discovery fetches that key set once (waiting
5s at most), or uses its key cache file when the fetch fails, as the gateway does at start.
Exit status: 0 the request would succeed (forwarded upstream, or a preflight the browser
accepts); 1 it would not (the gateway answers 4xx/5xx, or a preflight without the CORS
permission the browser needs), or the config has errors; 2 usage error.
)";

// X-Forwarded-For gets the client's address appended; explain has no client.
constexpr std::string_view kClientAddress = "<client address>";
constexpr auto kJwksWait = 5s;

struct Args {
    std::string config;
    std::string method = "GET";
    std::string url;
    Headers headers;  // as given, in order
};

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

constexpr cli::Command kCommand{"authgate explain", kUsage};

// An error message, or empty when the arguments are usable.
std::string read_args(const cli::Parsed& parsed, Args& a) {
    a.config = parsed.text("config");
    a.method = parsed.text("method", a.method);
    a.url = parsed.text("url");
    if (a.method.empty() || a.method.find(' ') != std::string::npos || has_control(a.method))
        return "--method takes one word, such as GET";
    if (parsed.has("url") && (a.url.empty() || a.url.find(' ') != std::string::npos || has_control(a.url)))
        return "--url must not be empty or contain spaces or control characters (percent-encode them)";
    // --header and --token in the order given: that is the order of the request's headers.
    for (const auto& o : parsed.in_order) {
        if (o.string_key != "header" && o.string_key != "token") continue;
        const std::string_view value = o.value.front();
        if (o.string_key == "header") {
            const auto colon = value.find(':');
            const auto name = strings::trim_ows(value.substr(0, colon));
            if (colon == std::string_view::npos || name.empty() || name.find_first_of(" \t") != std::string_view::npos ||
                has_control(value))
                return "--header takes 'Name: value', got '" + std::string(value) + "'";
            a.headers.emplace_back(name, strings::trim_ows(value.substr(colon + 1)));
        } else {
            if (value.empty() || has_control(value)) return "--token takes a token";
            a.headers.emplace_back("Authorization", "Bearer " + std::string(value));
        }
    }
    if (a.config.empty()) return "no config file given (-c FILE)";
    if (a.url.empty()) return "no request given (--url TARGET)";
    return {};
}

// The Host of an absolute-form target ("https://api.example:8443/x" -> "api.example:8443"),
// else localhost.
std::string default_host(std::string_view url) {
    const auto uri = boost::urls::parse_uri(url);
    if (!uri || !uri->has_authority() || uri->encoded_host().empty()) return "localhost";
    return std::string(uri->encoded_host_and_port());
}

// The request as the client's headers give it, for the token extractor (before the
// decision rewrote anything).
class ArgsRequest final : public jwt::RequestView {
public:
    ArgsRequest(const Headers& headers, std::string_view query) : headers_(headers), query_(query) {}
    std::optional<std::string_view> header(std::string_view name) const override {
        for (const auto& [n, v] : headers_) {
            if (beast::iequals(n, name)) return std::string_view(v);
        }
        return std::nullopt;
    }
    std::string_view query() const override { return query_; }

private:
    const Headers& headers_;
    std::string_view query_;
};

// One run of the gateway's decision on the request.
struct Decision {
    proxy::Arena arena;  // before the exchange: it holds the exchange's header fields
    std::optional<Exchange> ex;
    jwt::AuthOutcome auth;
    Reply reply;
    Next next = Next::reply;
};

std::unique_ptr<Decision> decide(const std::shared_ptr<const proxy::Snapshot>& snap, const std::string& raw,
                                 std::mt19937_64& rng, std::int64_t now) {
    auto d = std::make_unique<Decision>();
    Exchange& ex = d->ex.emplace(d->arena, snap);
    boost::system::error_code ec;
    ex.parser.put(boost::asio::buffer(raw), ec);
    // A declared body is not here: the decision reads the header only.
    if (ec == http::error::need_more && ex.parser.is_header_done()) ec = {};
    if (!ec && !ex.parser.is_header_done()) ec = http::error::partial_message;
    d->next = ec ? bad_header(ex, ec, d->reply)
                 : prepare(ex, DecisionContext{rng, nullptr, kClientAddress, now}, d->auth, d->reply);
    return d;
}

std::string describe_match(const config::RouteMatch& m) {
    std::vector<std::string> parts;
    if (!m.path.empty()) parts.push_back("path " + m.path);
    if (!m.path_prefix.empty()) parts.push_back("prefix " + m.path_prefix);
    if (!m.methods.empty()) parts.push_back("methods [" + strings::join(m.methods) + "]");
    if (!m.host.empty()) parts.push_back("host " + m.host);
    return parts.empty() ? std::string("any request") : strings::join(parts);
}

std::string describe_upstream(const config::Upstream& u) {
    std::vector<std::string> endpoints;
    for (const auto& e : u.endpoints) endpoints.push_back(e.scheme + "://" + e.host + ":" + std::to_string(e.port));
    return u.name + " (" + strings::join(endpoints) + ")";
}

std::string describe_source(const config::TokenSource& s) {
    using Kind = config::TokenSource::Kind;
    switch (s.kind) {
        case Kind::header: return "header " + s.name + (s.prefix.empty() ? "" : " (prefix \"" + s.prefix + "\")");
        case Kind::cookie: return "cookie " + s.name;
        case Kind::query: return "query parameter " + s.name;
    }
    return s.name;
}

// Prints a head ("...\r\n...\r\n\r\n") one line each, indented.
void print_head(std::ostream& out, std::string_view head) {
    while (!head.empty()) {
        const auto eol = head.find("\r\n");
        const auto line = head.substr(0, eol);
        if (!line.empty()) out << "  " << line << "\n";
        if (eol == std::string_view::npos) break;
        head.remove_prefix(eol + 2);
    }
}

// The route's providers, by name, in the route's order.
std::vector<std::shared_ptr<const jwt::Provider>> route_providers(const proxy::Snapshot& snap,
                                                                 const config::Route& route) {
    std::vector<std::shared_ptr<const jwt::Provider>> out;
    for (const auto& name : route.auth.providers) {
        if (auto p = snap.providers->find(name)) out.push_back(std::move(p));
    }
    return out;
}

// Where a remote provider's keys came from after the fetch: the discovery state (the
// jwks_uri the document named), then the key source (fetched, the cache file, or none).
std::string remote_keys_note(const jwt::Provider& p) {
    const auto st = p.jwks_stats();
    const auto keys = p.key_set();
    const std::string count = std::to_string(keys ? keys->keys.size() : 0) + " keys";
    std::string note = "jwks: provider " + p.name() + ": ";
    if (p.uses_discovery() && !st.jwks_uri.empty())
        note += "discovery " + p.remote_source() + " names jwks_uri " + st.jwks_uri + "; ";
    if (p.ever_fetched() && st.source == jwt::KeySource::cache_file) {
        const auto at = std::chrono::system_clock::to_time_t(st.cached_fetched_at);
        note += count + " from the key cache file " + p.config().keys.jwks_cache_file.value_or("") +
                " (fetched at unix time " + std::to_string(at) + "; fetching " + p.remote_source() +
                " failed: " + st.last_error + ")";
    } else if (p.ever_fetched()) {
        note += count + ", fetched from " + (p.uses_discovery() ? st.jwks_uri : p.remote_source());
    } else if (st.failures > 0) {
        note += "no keys (fetching " + p.remote_source() + " failed: " + st.last_error + ")";
    } else {
        note += "no keys (" + std::string(p.uses_discovery() ? "discovery" : "jwks_url") + " not fetched within " +
                std::to_string(kJwksWait.count()) + "s)";
    }
    return note;
}

// Fetches the key sets of the route's remote providers (jwks_url or discovery) that have
// none yet, once and bounded, as the running gateway's fetcher does at start. Says where
// each provider's keys come from, one line per provider (static ones too).
std::vector<std::string> fetch_jwks(const proxy::Snapshot& snap, const config::Route& route) {
    std::vector<std::shared_ptr<const jwt::Provider>> remote;
    std::vector<std::string> notes;
    bool waiting = false;
    for (auto& p : route_providers(snap, route)) {
        if (!p->has_remote_keys()) {
            const auto keys = p->key_set();
            notes.push_back("keys: provider " + p->name() + ": static, " +
                            std::to_string(keys ? keys->keys.size() : 0) + " keys from the config");
            continue;
        }
        waiting = waiting || !p->ever_fetched();
        remote.push_back(std::move(p));
    }
    if (waiting) {
        snap.providers->start();
        snap.providers->wait_for_first_fetch(kJwksWait);
        snap.providers->stop();
    }
    for (const auto& p : remote) notes.push_back(remote_keys_note(*p));
    return notes;
}

void print_route(std::ostream& out, const proxy::Snapshot& snap, const Decision& d) {
    const Exchange& ex = *d.ex;
    if (!ex.route) {
        if (d.reply.error != "not_found") {
            out << "route: not reached (the request is refused before routing)\n";
            return;
        }
        out << "route: none matches " << ex.method << " " << ex.path;
        const auto& req = ex.parser.get();
        if (const auto* near = route(snap, ex.method, req.target(), req[http::field::host], false, {}).near)
            out << " (the path is route " << near->cfg->name << "'s, whose other conditions do not hold: "
                << describe_match(near->cfg->match) << ")";
        out << "\n";
        return;
    }
    const auto& r = *ex.route->cfg;
    out << "route: " << r.name << " (" << describe_match(r.match) << ") -> upstream "
        << describe_upstream(*snap.upstreams[ex.route->upstream].cfg);
    if (!r.strip_prefix.empty()) out << ", strip_prefix " << r.strip_prefix;
    if (d.next == Next::preflight)
        out << "; matched as " << ex.parser.get()["Access-Control-Request-Method"]
            << ", the method the preflight announces";
    out << "\n";
}

// The CORS part. For a preflight, whether the browser accepts the answer; `refusal` says
// why not.
void print_cors(std::ostream& out, const Decision& d, std::string& refusal) {
    const Exchange& ex = *d.ex;
    if (!ex.cors) {
        out << "cors: " << (ex.route ? "the route has no CORS policy" : "no policy applies")
            << ": no Access-Control-* headers\n";
        return;
    }
    const cors::Policy& policy = *ex.cors;
    const bool has_origin = !ex.origin.empty();
    const bool origin_ok = has_origin && policy.origin_allowed(ex.origin, nullptr);
    if (d.next != Next::preflight) {
        out << "cors: policy " << policy.name() << (ex.route ? "" : " (of the route the path aims at)") << ": ";
        if (!has_origin) out << "no Origin header (not a cross-origin browser request): no Access-Control-* headers\n";
        else if (origin_ok) out << "origin " << ex.origin << " allowed\n";
        else
            out << "origin " << ex.origin
                << " not allowed: no Access-Control-* headers, so the browser keeps the response from the page\n";
        return;
    }
    const auto& req = ex.parser.get();
    const std::string_view method = req["Access-Control-Request-Method"];
    const auto acrh = req.find("Access-Control-Request-Headers");
    out << "cors: preflight for " << method << " answered by the gateway itself (policy " << policy.name()
        << "; never forwarded, no token needed)\n";
    out << "  origin " << ex.origin << ": " << (origin_ok ? "allowed" : "not allowed") << "\n";
    // GET, HEAD and POST are CORS-safelisted: a browser needs no listing for them.
    const bool safelisted = method == "GET" || method == "HEAD" || method == "POST";
    const bool method_ok = safelisted || policy.method_allowed(method);
    out << "  method " << method << ": "
        << (policy.method_allowed(method) ? "allowed" : safelisted ? "CORS-safelisted" : "not in allow_methods") << "\n";
    bool headers_ok = true;
    if (acrh != req.end()) {
        headers_ok = policy.headers_allowed(acrh->value());
        out << "  request headers " << acrh->value() << ": " << (headers_ok ? "allowed" : "not all in allow_headers")
            << "\n";
    }
    if (!origin_ok) refusal = "origin not allowed";
    else if (!method_ok) refusal = "method not allowed";
    else if (!headers_ok) refusal = "request headers not allowed";
}

void print_provider(std::ostream& out, const jwt::Provider& p, const jwt::TokenReport& r) {
    using Result = jwt::TokenCheck::Result;
    out << "  provider " << p.name() << ": " << jwt::to_string(r.status) << "\n";
    std::vector<std::string> skipped;
    for (const auto& c : r.checks) {
        if (c.result == Result::not_reached) {
            skipped.emplace_back(c.name);
            continue;
        }
        out << "    " << c.name << ": ";
        switch (c.result) {
            case Result::ok: out << "ok"; break;
            case Result::failed: out << jwt::to_string(c.status); break;
            case Result::not_applicable: out << "-"; break;
            case Result::not_reached: break;
        }
        if (!c.detail.empty()) out << " (" << c.detail << ")";
        out << "\n";
    }
    if (!skipped.empty()) out << "    not checked after that: " << strings::join(skipped) << "\n";
}

void print_auth(std::ostream& out, const proxy::Snapshot& snap, const Decision& d, const Headers& client,
                std::string_view query, const std::vector<std::string>& jwks_notes, std::int64_t now) {
    const Exchange& ex = *d.ex;
    if (!ex.route || d.next == Next::preflight) return;
    if (!ex.route->auth) {
        out << "auth: none (no token needed; claim headers sent by the client are still removed)\n";
        return;
    }
    if (ex.auth.empty()) {
        out << "auth: not reached\n";
        return;
    }
    const auto& cfg = ex.route->cfg->auth;
    static constexpr std::string_view kModes[] = {"required", "optional", "report_only"};
    out << "auth: mode " << kModes[static_cast<int>(cfg.mode)] << ", providers [" << strings::join(cfg.providers) << "]\n";
    for (const auto& note : jwks_notes) out << "  " << note << "\n";

    const auto providers = route_providers(snap, *ex.route->cfg);
    const auto& outcome = d.auth;
    std::shared_ptr<const jwt::VerifiedToken> verified;  // the payload the claim rules read
    if (!outcome.location) {
        std::vector<config::TokenSource> sources;
        std::vector<std::string> looked;
        for (const auto& p : providers) {
            for (const auto& s : p->extractor().sources()) {
                if (std::any_of(sources.begin(), sources.end(), [&](const auto& o) { return jwt::same_source(o, s); }))
                    continue;
                sources.push_back(s);
                looked.push_back(describe_source(s));
            }
        }
        out << "  token: none found (looked in: " << strings::join(looked) << ")\n";
    } else {
        // The token the authenticator took, read again from the client's request through
        // the source of each provider that takes tokens from that place.
        const ArgsRequest view(client, query);
        std::vector<const jwt::Provider*> takers;  // the providers that take it from there
        const config::TokenSource* first_source = nullptr;
        for (const auto& p : providers) {
            const config::TokenSource* own = nullptr;
            for (const auto& s : p->extractor().sources()) {
                const config::TokenSource probe{outcome.location->kind, std::string(outcome.location->name), s.prefix};
                if (!own && jwt::same_source(s, probe)) own = &s;
            }
            if (!own) {
                out << "  provider " << p->name() << ": takes no token from there\n";
                continue;
            }
            if (!first_source) first_source = own;
            takers.push_back(p.get());
        }
        std::string scratch;  // may hold the token (a decoded query value): parsed views into it
        std::optional<jwt::ParsedToken> parsed;
        if (first_source) {
            out << "  token: from " << describe_source(*first_source) << "\n";
            const auto found = jwt::TokenExtractor({*first_source}).extract(view, scratch);
            jwt::ParsedToken t;
            // Too large is refused before parsing (and before any provider sees it).
            const auto status = !found ? jwt::Status::token_missing
                                : outcome.status == jwt::Status::token_too_large ? outcome.status
                                                                                  : jwt::parse_token(found->token, t);
            if (status != jwt::Status::ok)
                out << "  token: " << jwt::to_string(status) << "\n";
            else
                parsed = std::move(t);
        }
        if (parsed) {
            // Selection by iss, as the authenticator makes it: providers naming the token's
            // issuer verify it alone.
            std::vector<std::string> selected;
            for (const auto* p : takers)
                if (p->issuer_matches(parsed->payload)) selected.push_back(p->name());
            if (!selected.empty() && takers.size() > 1)
                out << "  selected by iss " << parsed->payload.at("iss").as_string().c_str() << ": provider "
                    << strings::join(selected) << "\n";
            for (const auto* p : takers) {
                if (!selected.empty() && !p->issuer_matches(parsed->payload)) {
                    out << "  provider " << p->name() << ": not tried (the token's iss selects another provider)\n";
                    continue;
                }
                const auto report = jwt::report_token(*p, *parsed, now);
                print_provider(out, *p, report);
                if (!verified) verified = report.verified;
            }
        }
    }
    if (!cfg.claims.empty()) {
        if (!verified) {
            out << "  claims rules: not checked (no verified token)\n";
        } else {
            out << "  claims rules:\n";
            const auto results = jwt::report_claim_rules(cfg, verified->payload);
            for (std::size_t i = 0; i < results.size(); ++i) {
                out << "    " << cfg.claims[i].first << " [" << strings::join(cfg.claims[i].second)
                    << "]: " << (results[i] == jwt::Status::ok ? "ok" : jwt::to_string(results[i])) << "\n";
            }
        }
    }
    using Action = jwt::AuthOutcome::Action;
    out << "  result: ";
    if (outcome.report_only_denial)
        out << "would be denied (" << ex.auth << "); report_only forwards it"
            << (outcome.verified ? " with its claim headers" : " without claim headers") << "\n";
    else if (outcome.action == Action::forward && !outcome.token_present)
        out << "no token; mode optional forwards it without claim headers\n";
    else
        out << ex.auth << "\n";
    if (outcome.provider) out << "  decided by: provider " << outcome.provider->name() << "\n";
}

// What the gateway dropped or replaced of the client's headers.
void print_removed(std::ostream& out, const Headers& client, const Decision& d, const proxy::Snapshot& snap) {
    const auto& req = d.ex->parser.get();
    const auto& auth = d.auth;
    std::vector<std::string> lines;
    for (const auto& [name, value] : client) {
        bool present = false, kept = false;
        for (const auto& f : req) {
            if (!beast::iequals(f.name_string(), name)) continue;
            present = true;
            const std::string_view v = f.value();
            // Kept as it was, or appended to (X-Forwarded-For, Via).
            kept = kept || v == value || (v.size() > value.size() + 2 && v.substr(0, value.size()) == value &&
                                          v.substr(value.size(), 2) == ", ");
        }
        if (kept) continue;
        const std::string lower = strings::lower(name);
        std::string why;
        if (std::find(snap.identity_headers.begin(), snap.identity_headers.end(), lower) != snap.identity_headers.end())
            why = "identity header: only the gateway sets it";
        else if (auth.strip_token && auth.location &&
                 ((auth.location->kind == config::TokenSource::Kind::header && beast::iequals(name, auth.location->name)) ||
                  (auth.location->kind == config::TokenSource::Kind::cookie && beast::iequals(name, "cookie"))))
            why = "the token leaves it: strip_token";
        lines.push_back(std::string(present ? "replaced: " : "removed: ") + name + ": " + value +
                        (why.empty() ? "" : " (" + why + ")"));
    }
    if (lines.empty()) return;
    out << "client headers the gateway removed or replaced:\n";
    for (const auto& l : lines) out << "  " << l << "\n";
}

// What the client receives of an upstream's response, shown on a plain "200 OK": the very
// rewrite a live response goes through (prepare_response() and the HTTP/1.1 framing).
void print_relayed_response(std::ostream& out, Decision& d) {
    static constexpr std::string_view kUpstreamHead =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n";
    const Exchange& ex = *d.ex;
    ResponseParser parser(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAlloc(d.arena)));
    if (ex.method == "HEAD") parser.skip(true);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(kUpstreamHead), ec);  // the head alone: the body is not the gateway's
    if (!parser.is_header_done() || prepare_response(ex, parser, nullptr)) return;
    proxy::BodyFraming framing;
    http1_response_framing(ex, parser, false, framing);
    std::string head;
    proxy::write_response_head(parser.get(), head);
    out << "response: the upstream's, rewritten by the gateway"
        << (ex.cors ? " (its CORS headers are the gateway's; the upstream's own are dropped)" : "")
        << "; for an upstream \"200 OK\" with Content-Type and Content-Length the client gets:\n";
    print_head(out, head);
}

}  // namespace

int explain_command(int argc, char** argv, std::ostream& out, std::ostream& err) {
    namespace po = cli::po;
    po::options_description options;
    options.add_options()
        ("help,h", po::bool_switch())
        ("config,c", po::value<std::string>())
        ("method", po::value<std::string>())
        ("url", po::value<std::string>())
        ("header", po::value<std::vector<std::string>>())
        ("token", po::value<std::vector<std::string>>());
    const auto parsed = cli::parse(argc, argv, options, kCommand, err);
    if (!parsed) return cli::kUsage;
    if (parsed->values["help"].as<bool>()) {
        out << kUsage;
        return 0;
    }
    Args args;
    if (const auto error = read_args(*parsed, args); !error.empty()) return cli::usage_error(err, kCommand, error);
    auto snap = proxy::load_snapshot(args.config, err);
    if (!snap) return 1;

    Headers client = args.headers;
    if (std::none_of(client.begin(), client.end(), [](const auto& h) { return beast::iequals(h.first, "host"); }))
        client.insert(client.begin(), {"Host", default_host(args.url)});
    std::string raw = args.method + " " + args.url + " HTTP/1.1\r\n";
    for (const auto& [name, value] : client) raw += name + ": " + value + "\r\n";
    raw += "\r\n";
    std::string_view raw_path, query;
    split_target(args.url, raw_path, query);

    std::mt19937_64 rng(std::random_device{}());
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    auto d = decide(snap, raw, rng, now);
    std::vector<std::string> jwks_notes;
    if (d->ex->route && !d->ex->auth.empty()) {
        // Keys the running gateway would have fetched at start: fetch them, decide again.
        jwks_notes = fetch_jwks(*snap, *d->ex->route->cfg);
        if (!jwks_notes.empty()) d = decide(snap, raw, rng, now);
    }
    const Exchange& ex = *d->ex;

    out << "request: " << args.method << " " << args.url << "\n";
    if (const auto path = proxy::normalize_path(raw_path); path && *path != raw_path)
        out << "path: normalized to " << *path << " (what routing and the upstream see)\n";
    print_route(out, *snap, *d);
    std::string refusal;
    print_cors(out, *d, refusal);
    print_auth(out, *snap, *d, client, query, jwks_notes, now);

    if (d->next == Next::forward) {
        const auto& upstream = *snap->upstreams[ex.route->upstream].cfg;
        std::string head;
        proxy::write_request_head(ex.parser.get(), head);
        out << "forwarded request (upstream " << upstream.name << "):\n";
        print_head(out, head);
        print_removed(out, client, *d, *snap);
        print_relayed_response(out, *d);
        out << "status: forwarded to upstream " << upstream.name
            << "; the client gets the upstream's response (502 or 504 if it is unreachable or slow)\n";
        return 0;
    }

    // A response the gateway makes itself, finished as the session finishes it.
    const bool preflight = d->next == Next::preflight;
    auto res = preflight ? preflight_response(ex, nullptr) : error_response(d->reply);
    finish_local(ex, res, !preflight && d->reply.close, preflight, false, nullptr);
    std::string head;
    proxy::write_response_head(res, head);
    out << "response (made by the gateway):\n";
    print_head(out, head);
    std::string_view body = res.body();
    if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
    if (!body.empty() && ex.method != "HEAD") out << "  " << body << "\n";
    if (preflight) {
        // A browser that asked for private network access needs the answer to grant it.
        const auto& req = ex.parser.get();
        const auto pna = req.find("Access-Control-Request-Private-Network");
        if (refusal.empty() && pna != req.end() && beast::iequals(pna->value(), "true") &&
            res.find("Access-Control-Allow-Private-Network") == res.end())
            refusal = "private network access not allowed";
        out << "status: 204 preflight answered by the gateway; "
            << (refusal.empty() ? "the browser accepts it" : "the browser refuses it: " + refusal) << "\n";
        return refusal.empty() ? 0 : 1;
    }
    out << "status: " << res.result_int() << " " << d->reply.error << " \"" << d->reply.description << "\"\n";
    return res.result_int() < 400 ? 0 : 1;
}

}  // namespace authgate::server
