// The stages of prepare() and prepare_response() (see prepare.h), in the order they run.
#include "server/prepare.h"

#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "jwt/provider.h"
#include "server/responses.h"

namespace authgate::server {
namespace beast = boost::beast;

namespace {

// A Beast header adapter for the JWT extractor.
class RequestHeaders final : public jwt::RequestView {
public:
    RequestHeaders(const ArenaFields& f, std::string_view query) : fields_(f), query_(query) {}
    std::optional<std::string_view> header(std::string_view name) const override {
        auto it = fields_.find(name);
        if (it == fields_.end()) return std::nullopt;
        return it->value();
    }
    std::string_view query() const override { return query_; }

private:
    const ArenaFields& fields_;
    std::string_view query_;
};

// Sets a field the caller knows is absent (insert, no lookup) or may be present (set).
template <class Fields>
void put_field(Fields& fields, bool present, std::string_view name, std::string_view value) {
    if (present) fields.set(name, value);
    else fields.insert(name, value);
}

Reply refuse(std::string_view description, bool close = true) {
    return Reply::make(http::status::bad_request, "bad_request", std::string(description), close);
}

// "Bearer realm=...": the RFC 6750 challenge of a 401 or 403.
std::string challenge(std::string_view error, std::string_view description) {
    std::string c = "Bearer realm=\"authgate\"";
    if (error.empty()) return c;
    c += ", error=\"";
    c += error;
    c += "\", error_description=\"";
    c += description;
    c += '"';
    return c;
}

}  // namespace

RequestFields::RequestFields(const ArenaFields& fields) {
    for (const auto& f : fields) {
        switch (f.name()) {
            case http::field::origin:
                if (!has_origin) origin = f.value();
                has_origin = true;
                break;
            case http::field::transfer_encoding:
                transfer_encoding = f.value();
                ++transfer_encodings;
                break;
            case http::field::content_length: ++content_lengths; break;
            case http::field::host:
                host = f.value();
                ++hosts;
                break;
            case http::field::access_control_request_method:
                if (!has_acrm) acrm = f.value();
                has_acrm = true;
                break;
            case http::field::expect:
                if (!has_expect) expect = f.value();
                has_expect = true;
                break;
            case http::field::upgrade: upgrade = true; break;
            case http::field::connection:
                connection = true;
                connection_names_framing = connection_names_framing || proxy::connection_names_framing(f.value());
                break;
            case http::field::via: via = true; break;
            case http::field::authorization: ++authorizations; break;
            case http::field::forwarded: forwarded = true; break;
            case http::field::unknown: {
                const auto name = f.name_string();
                if (name.find('_') != std::string_view::npos) underscores = true;
                if (name.size() == 9 && beast::iequals(name, "x-real-ip")) real_ip = true;
                if (name.size() < 12 || !beast::iequals(name.substr(0, 2), "x-")) break;
                if (beast::iequals(name, "x-request-id")) {
                    if (!has_request_id) request_id = f.value();
                    has_request_id = true;
                    ++request_ids;
                } else if (beast::iequals(name, "x-forwarded-for")) {
                    forwarded_for = true;
                } else if (beast::iequals(name, "x-forwarded-proto")) {
                    forwarded_proto = true;
                } else if (beast::iequals(name, "x-forwarded-host")) {
                    forwarded_host = true;
                }
                break;
            }
            default: break;
        }
    }
}

void split_target(std::string_view target, std::string_view& path, std::string_view& query) {
    if (!target.empty() && target.front() != '/') {
        // Absolute-form (RFC 9112 3.2.2), as sent to a proxy. Boost.URL's url_view parses
        // in place, without allocating; what is not an http(s) URI with an authority and no
        // user info (RFC 9110 4.2.4) leaves no path, which routing refuses (400).
        path = {};
        query = {};
        const auto uri = boost::urls::parse_absolute_uri(target);
        if (!uri || !uri->has_authority() || uri->has_userinfo() ||
            (uri->scheme_id() != boost::urls::scheme::http && uri->scheme_id() != boost::urls::scheme::https))
            return;
        const std::string_view p = uri->encoded_path();
        // An authority is followed by nothing, '/' or '?' (RFC 3986 path-abempty): Boost.URL
        // 1.81 reads "host:x/y" as a port "" and a path "x/y".
        if (!p.empty() && p.front() != '/') return;
        path = p.empty() ? std::string_view("/") : p;
        if (uri->has_query()) query = uri->encoded_query();
        return;
    }
    auto q = target.find('?');
    path = target.substr(0, q);
    query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// ---- 1. framing ------------------------------------------------------------------------

std::optional<Reply> check_framing(const Exchange& ex, const RequestFields& f) {
    if (f.transfer_encodings > 0) {
        if (f.transfer_encodings != 1 || !beast::iequals(f.transfer_encoding, "chunked") || !ex.parser.chunked())
            return Reply::make(http::status::not_implemented, "unsupported_transfer_encoding",
                               "only Transfer-Encoding: chunked is supported", true);
        if (f.content_lengths > 0) return refuse("both Content-Length and Transfer-Encoding");
    }
    if (f.content_lengths > 1) return refuse("duplicate Content-Length");
    if (f.connection_names_framing) return refuse("Connection must not name Host, Content-Length or Transfer-Encoding");
    if (f.hosts > 1 || (ex.version == 11 && f.hosts == 0)) return refuse("missing or repeated Host");
    if (f.hosts == 1 && !proxy::valid_host(f.host)) return refuse("invalid Host");
    if (f.underscores && ex.snap->cfg.server.headers_with_underscores == config::Underscores::reject)
        return refuse("header names with '_' are refused", false);
    return std::nullopt;
}

// ---- 2. route --------------------------------------------------------------------------

Routed route(const proxy::Snapshot& snap, std::string_view method, std::string_view target, std::string_view host,
             bool has_origin, std::optional<std::string_view> preflight_method) {
    Routed r;
    std::string_view raw_path;
    split_target(target, raw_path, r.query);
    r.path = proxy::normalize_path(raw_path);
    if (!r.path) return r;
    const std::string normalized_host = proxy::normalize_host(host);
    if (preflight_method && cors::is_preflight(method, has_origin, true)) {
        const auto* announced = snap.match(*preflight_method, normalized_host, *r.path);
        if (announced && announced->cors) {
            r.route = announced;
            r.preflight = true;
            return r;
        }
    }
    r.route = snap.match(method, normalized_host, *r.path);
    if (!r.route) r.near = snap.match_path(*r.path);
    return r;
}

// ---- 3. CORS ---------------------------------------------------------------------------

std::optional<Next> choose_cors(Exchange& ex, const Routed& routed) {
    ex.route = routed.route;
    const auto* policy_of = routed.route ? routed.route : routed.near;
    ex.cors = policy_of ? policy_of->cors.get() : nullptr;
    if (routed.preflight) return Next::preflight;
    return std::nullopt;
}

// ---- 4. authenticate -------------------------------------------------------------------

std::optional<Reply> authenticate(Exchange& ex, const RequestFields& fields, std::string_view query,
                                  const DecisionContext& ctx, jwt::AuthOutcome& out) {
    out = {};  // nothing of an earlier request's outcome may reach this one's upstream request
    if (!ex.route->auth) return std::nullopt;
    // The gateway and the upstream must not read different credentials.
    if (fields.authorizations > 1)
        return Reply::make(http::status::bad_request, "invalid_request", "more than one Authorization header");
    RequestHeaders view(ex.parser.get(), query);
    out = ex.route->auth->authenticate(view, ctx.now, ctx.token_cache);
    ex.auth = jwt::to_string(out.status);
    if (out.provider) ex.provider = out.provider->name();
    using Action = jwt::AuthOutcome::Action;
    switch (out.action) {
        case Action::deny_401:
            if (out.token_present)
                return Reply::make(http::status::unauthorized, "invalid_token", std::string(ex.auth), false,
                                   challenge("invalid_token", ex.auth));
            return Reply::make(http::status::unauthorized, "missing_token", "token missing", false, challenge({}, {}));
        case Action::deny_403:
            return Reply::make(http::status::forbidden, "insufficient_scope", std::string(ex.auth), false,
                               challenge("insufficient_scope", ex.auth));
        case Action::unavailable: {
            auto reply = Reply::make(http::status::service_unavailable, "temporarily_unavailable", std::string(ex.auth));
            reply.retry_after = true;
            return reply;
        }
        case Action::forward: break;
    }
    return std::nullopt;
}

// ---- 5. the upstream request -----------------------------------------------------------

void rewrite_upstream_request(Exchange& ex, const RequestFields& seen, const Routed& routed,
                              const DecisionContext& ctx, const jwt::AuthOutcome& out) {
    auto& req = ex.parser.get();
    const auto& server = ex.snap->cfg.server;
    const bool authenticated = ex.route->auth != nullptr;  // only then is `out` this request's
    std::string_view query = routed.query;
    std::string stripped_query;  // owns the query when strip_token removes a parameter
    if (authenticated && out.strip_token && out.location) {
        using Kind = config::TokenSource::Kind;
        switch (out.location->kind) {
            case Kind::header: req.erase(out.location->name); break;
            case Kind::cookie: {
                auto rest = jwt::remove_cookie(req[http::field::cookie], out.location->name);
                if (rest.empty()) req.erase(http::field::cookie);
                else req.set(http::field::cookie, rest);
                break;
            }
            case Kind::query:
                // The token leaves the query string the upstream sees.
                stripped_query = jwt::remove_query_param(query, out.location->name);
                query = stripped_query;
                break;
        }
    }
    for (const auto& name : ex.snap->identity_headers) req.erase(name);
    if (seen.forwarded) req.erase(http::field::forwarded);
    if (seen.real_ip) req.erase("X-Real-IP");
    if (seen.underscores && server.headers_with_underscores == config::Underscores::drop) {
        // WSGI/CGI backends read X_User_Id and X-User-Id as one variable.
        for (auto it = req.begin(); it != req.end();)
            it = it->name() == http::field::unknown && it->name_string().find('_') != std::string_view::npos
                     ? req.erase(it)
                     : std::next(it);
    }
    ex.upgrade = seen.upgrade && proxy::wants_upgrade(req);
    if (seen.has_expect) {
        ex.expect_continue = beast::iequals(seen.expect, "100-continue");
        req.erase(http::field::expect);  // the gateway answers 100-continue itself
    }
    const auto& strip = ex.route->cfg->strip_prefix;
    std::string target = strip.empty() ? *routed.path : proxy::strip_prefix(*routed.path, strip);
    if (!query.empty()) {
        target += '?';
        proxy::append_percent_encoding_non_ascii(target, query);
    }
    const std::string_view forwarded_host = seen.host;  // still in the arena: erased fields are not freed
    proxy::strip_hop_by_hop(req, ex.upgrade);
    if (ex.upgrade) req.set(http::field::upgrade, "websocket");  // no other protocol rides along
    if (seen.hosts == 0) {
        // An HTTP/1.0 client may omit Host; the request goes upstream as HTTP/1.1, which
        // requires one: name the upstream, as nginx's default proxy Host does.
        const auto& ep = ex.snap->upstreams[ex.route->upstream].cfg->endpoints.front();
        const bool v6 = ep.host.find(':') != std::string::npos;  // stored without its brackets
        req.insert(http::field::host, (v6 ? "[" + ep.host + "]" : ep.host) + ":" + std::to_string(ep.port));
    }
    if (const auto* verified = authenticated ? out.verified.get() : nullptr) {
        // Every identity header was erased above, so one header needs no lookup; with more,
        // set() keeps a payload header named like a claim header from appearing twice.
        const auto& claims = verified->forward_headers;
        for (const auto& [name, value] : claims) {
            if (claims.size() == 1) req.insert(name, value);
            else req.set(name, value);
        }
    }
    if (seen.forwarded_for) proxy::append_to_list(req, "X-Forwarded-For", ctx.client_ip);
    else req.insert("X-Forwarded-For", ctx.client_ip);
    put_field(req, seen.forwarded_proto, "X-Forwarded-Proto", ex.snap->server_tls ? "https" : "http");
    if (forwarded_host.empty()) {
        if (seen.forwarded_host) req.erase("X-Forwarded-Host");
    } else {
        put_field(req, seen.forwarded_host, "X-Forwarded-Host", forwarded_host);
    }
    // A valid id the client sent once stays as it is, unless Connection may have removed it.
    if (!ex.request_id_from_client || seen.request_ids > 1 || seen.connection)
        put_field(req, seen.has_request_id, "X-Request-Id", ex.request_id);
    if (seen.via) proxy::append_to_list(req, "Via", "1.1 authgate");
    else req.insert(http::field::via, "1.1 authgate");
    req.target(target);
    req.version(11);
    // Last, after every other edit: where the body ends is the parser's decision alone.
    proxy::set_body_framing(req, proxy::body_framing_of(ex.parser), ex.parser.content_length().value_or(0));
}

// ---- all of them -----------------------------------------------------------------------

Next prepare(Exchange& ex, const DecisionContext& ctx, jwt::AuthOutcome& outcome, Reply& reply) {
    auto& req = ex.parser.get();
    const RequestFields fields(req);
    ex.method = req.method_string();
    ex.version = req.version();
    ex.keep_alive = req.keep_alive();
    ex.path = req.target();
    if (fields.has_origin) ex.origin = fields.origin;
    ex.request_id_from_client = fields.has_request_id && proxy::valid_request_id(fields.request_id);
    if (ex.request_id_from_client) ex.request_id = fields.request_id;
    else ex.request_id = proxy::make_request_id(ctx.rng);

    auto answer = [&](std::optional<Reply>&& r) {
        reply = std::move(*r);
        return Next::reply;
    };
    if (auto refused = check_framing(ex, fields)) return answer(std::move(refused));
    const Routed routed =
        route(*ex.snap, ex.method, req.target(), fields.host, fields.has_origin,
              fields.has_acrm ? std::optional(fields.acrm) : std::nullopt);
    if (!routed.path) return answer(refuse("invalid request path", false));
    if (auto preflight = choose_cors(ex, routed)) return *preflight;
    if (!ex.route)
        return answer(Reply::make(http::status::not_found, "not_found", "no route matches this request"));
    if (auto denied = authenticate(ex, fields, routed.query, ctx, outcome)) return answer(std::move(denied));
    rewrite_upstream_request(ex, fields, routed, ctx, outcome);
    return Next::forward;
}

Next bad_header(Exchange& ex, const boost::system::error_code& ec, Reply& reply) {
    if (ec == http::error::body_limit) {
        // Only the declared Content-Length is over the limit: the header was read whole, so
        // route it and let the 413 carry the route's CORS headers like any gateway error.
        const auto& head = ex.parser.get();
        if (auto it = head.find(http::field::origin); it != head.end()) ex.origin = it->value();
        ex.route = route(*ex.snap, head.method_string(), head.target(), head[http::field::host], false, {}).route;
        ex.cors = ex.route ? ex.route->cors.get() : nullptr;
        reply = Reply::make(http::status::payload_too_large, "body_too_large", "request body larger than max_body_bytes",
                            true);
    } else if (ec == http::error::header_limit) {
        reply = Reply::make(http::status::request_header_fields_too_large, "header_too_large",
                            "request header larger than max_header_bytes", true);
    } else {
        reply = Reply::make(http::status::bad_request, "bad_request", "malformed request: " + ec.message(), true);
    }
    return Next::reply;
}

// ---- the response ----------------------------------------------------------------------

std::optional<proxy::UpstreamError> prepare_response(const Exchange& ex, ResponseParser& parser,
                                                     cors::OriginCache* cache) {
    auto& res = parser.get();
    const bool upgraded = res.result() == http::status::switching_protocols;
    if (upgraded && !ex.upgrade) return proxy::UpstreamError::bad_response;  // an upgrade nobody asked for
    // The upstream's Connection must not remove what frames its response either.
    for (auto it = res.find(http::field::connection); it != res.end() && it->name() == http::field::connection; ++it)
        if (proxy::connection_names_framing(it->value())) return proxy::UpstreamError::bad_response;
    proxy::strip_hop_by_hop(res, upgraded);
    add_cors(ex, res, cache);
    res.set("X-Request-Id", ex.request_id);
    proxy::append_to_list(res, "Via", "1.1 authgate");
    return std::nullopt;
}

bool http1_response_framing(const Exchange& ex, ResponseParser& parser, bool draining, proxy::BodyFraming& down) {
    using proxy::BodyFraming;
    auto& res = parser.get();
    const bool upgraded = res.result() == http::status::switching_protocols;
    const bool body_follows = !parser.is_done();
    bool close_after = !ex.keep_alive || ex.version != 11 || draining;
    // The client's framing is the gateway's, from the parser's state (an HTTP/1.0 client
    // never gets chunked: its body ends with the connection instead).
    down = BodyFraming::none;
    if (upgraded) {
        down = BodyFraming::none;
    } else if (const auto length = parser.content_length(); length && !parser.chunked()) {
        down = BodyFraming::content_length;
    } else if (body_follows || parser.chunked()) {
        down = ex.version == 11 ? BodyFraming::chunked : (body_follows ? BodyFraming::close : BodyFraming::none);
    }
    if (down == BodyFraming::close) close_after = true;
    proxy::set_body_framing(res, down, parser.content_length().value_or(0));
    res.version(11);  // keep_alive() below follows the version the head is written with
    if (!upgraded) res.keep_alive(!close_after);
    return close_after;
}

}  // namespace authgate::server
