// The decision part of the pipeline (see request_decision.h). Moved here from
// session.cpp unchanged but for what it reads from the worker (DecisionContext) and the
// metrics and report_only log line, which the Session adds from the returned outcome.
#include "server/request_decision.h"

#include <ctime>
#include <optional>

#include <boost/beast/core/string.hpp>

#include "observe/access_log.h"
#include "proxy/framing.h"

namespace authgate::server {
namespace beast = boost::beast;
using proxy::ArenaFields;

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

// What prepare() needs to know about the client's header fields, from one walk over
// them instead of a lookup (a case-insensitive tree search) per name.
struct SeenFields {
    std::string_view origin, request_id, host, transfer_encoding, acrm, expect;
    int transfer_encodings = 0, content_lengths = 0, hosts = 0, request_ids = 0, authorizations = 0;
    bool has_origin = false, has_request_id = false, has_acrm = false, has_expect = false, upgrade = false;
    bool connection = false;  // a Connection header may name (and so remove) any of these
    bool connection_names_framing = false;
    bool forwarded_for = false, forwarded_proto = false, forwarded_host = false, via = false;
    bool forwarded = false, real_ip = false;  // set by the gateway alone: removed from the client's
    bool underscores = false;                 // a field name with '_'

    explicit SeenFields(const ArenaFields& fields) {
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
};

// Sets a field the caller knows is absent (insert, no lookup) or may be present (set).
template <class Fields>
void put_field(Fields& fields, bool present, std::string_view name, std::string_view value) {
    if (present) fields.set(name, value);
    else fields.insert(name, value);
}

}  // namespace

// Splits a request target into path and query; absolute-form targets
// ("http://host/path") are reduced to their path.
void split_target(std::string_view target, std::string_view& path, std::string_view& query) {
    if (!target.empty() && target.front() != '/') {
        auto scheme_end = target.find("://");
        if (scheme_end != std::string_view::npos) {
            auto path_start = target.find('/', scheme_end + 3);
            auto q = target.find('?', scheme_end + 3);
            if (path_start == std::string_view::npos || (q != std::string_view::npos && q < path_start)) {
                target = q == std::string_view::npos ? std::string_view("/") : target.substr(q);
                if (target.front() == '?') {
                    path = "/";
                    query = target.substr(1);
                    return;
                }
            } else {
                target = target.substr(path_start);
            }
        }
    }
    auto q = target.find('?');
    path = target.substr(0, q);
    query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

Next bad_header(Exchange& ex, const boost::system::error_code& ec, Reply& reply) {
    if (ec == http::error::body_limit) {
        // Only the declared Content-Length is over the limit: the header was read whole, so
        // route it and let the 413 carry the route's CORS headers like any gateway error.
        const auto& head = ex.parser.get();
        if (auto it = head.find(http::field::origin); it != head.end()) ex.origin = it->value();
        std::string_view raw_path, query;
        split_target(head.target(), raw_path, query);
        if (auto path = proxy::normalize_path(raw_path))
            ex.route = ex.snap->match(head.method_string(), proxy::normalize_host(head[http::field::host]), *path);
        if (ex.route) ex.cors = ex.route->cors.get();
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

Next prepare(Exchange& ex, const DecisionContext& ctx, jwt::AuthOutcome& outcome, Reply& reply) {
    auto fail = [&](http::status status, std::string_view error, std::string description, bool close = false,
                    std::string www_authenticate = {}) {
        reply = Reply::make(status, error, std::move(description), close, std::move(www_authenticate));
        return Next::reply;
    };
    auto& req = ex.parser.get();
    const SeenFields seen(req);
    ex.method = req.method_string();
    ex.version = req.version();
    ex.keep_alive = req.keep_alive();
    ex.path = req.target();
    if (seen.has_origin) ex.origin = seen.origin;
    const bool keep_request_id = seen.has_request_id && proxy::valid_request_id(seen.request_id);
    if (keep_request_id) {
        ex.request_id = seen.request_id;
    } else {
        ex.request_id = proxy::make_request_id(ctx.rng);
    }

    // Framing the upstream could read differently from us is refused outright
    // (request smuggling): only "chunked" alone, one Content-Length, never both.
    if (seen.transfer_encodings > 0) {
        if (seen.transfer_encodings != 1 || !beast::iequals(seen.transfer_encoding, "chunked") ||
            !ex.parser.chunked())
            return fail(http::status::not_implemented, "unsupported_transfer_encoding",
                        "only Transfer-Encoding: chunked is supported", true);
        if (seen.content_lengths > 0)
            return fail(http::status::bad_request, "bad_request", "both Content-Length and Transfer-Encoding", true);
    }
    if (seen.content_lengths > 1)
        return fail(http::status::bad_request, "bad_request", "duplicate Content-Length", true);
    if (seen.connection_names_framing)
        return fail(http::status::bad_request, "bad_request",
                    "Connection must not name Host, Content-Length or Transfer-Encoding", true);
    if (seen.hosts > 1 || (ex.version == 11 && seen.hosts == 0))
        return fail(http::status::bad_request, "bad_request", "missing or repeated Host", true);
    if (seen.hosts == 1 && !proxy::valid_host(seen.host))
        return fail(http::status::bad_request, "bad_request", "invalid Host", true);
    if (seen.underscores && ex.snap->cfg.server.headers_with_underscores == config::Underscores::reject)
        return fail(http::status::bad_request, "bad_request", "header names with '_' are refused");

    std::string_view raw_path, query;
    split_target(req.target(), raw_path, query);
    auto path = proxy::normalize_path(raw_path);
    if (!path) return fail(http::status::bad_request, "bad_request", "invalid request path");

    std::string host = proxy::normalize_host(seen.host);
    if (seen.has_acrm && cors::is_preflight(ex.method, seen.has_origin, true)) {
        // A preflight asks about the method it announces: route it as that method, so a
        // route limited to [GET, POST] still has its preflights answered.
        const auto* target_route = ex.snap->match(seen.acrm, host, *path);
        if (target_route && target_route->cors) {
            ex.route = target_route;
            ex.cors = target_route->cors.get();
            return Next::preflight;
        }
    }
    ex.route = ex.snap->match(ex.method, host, *path);
    if (!ex.route) {
        // Borrow the CORS policy of the route the path was aiming at, so browser code can
        // read the 404.
        if (const auto* near = ex.snap->match_path(*path)) ex.cors = near->cors.get();
        return fail(http::status::not_found, "not_found", "no route matches this request");
    }
    ex.cors = ex.route->cors.get();

    const jwt::Verified* verified = nullptr;
    std::string stripped_query;  // owns the query when strip_token removes a parameter
    if (ex.route->auth) {
        // The gateway and the upstream must not read different credentials.
        if (seen.authorizations > 1)
            return fail(http::status::bad_request, "invalid_request", "more than one Authorization header");
        RequestHeaders view(req, query);
        auto& out = outcome;
        out = ex.route->auth->authenticate(view, static_cast<std::int64_t>(std::time(nullptr)), ctx.token_cache);
        ex.auth = jwt::to_string(out.status);
        using Action = jwt::AuthOutcome::Action;
        switch (out.action) {
            case Action::deny_401: {
                std::string challenge = "Bearer realm=\"authgate\"";
                if (out.token_present) {
                    challenge += ", error=\"invalid_token\", error_description=\"";
                    challenge += ex.auth;
                    challenge += '"';
                    return fail(http::status::unauthorized, "invalid_token", std::string(ex.auth), false,
                                std::move(challenge));
                }
                return fail(http::status::unauthorized, "missing_token", "token missing", false, std::move(challenge));
            }
            case Action::deny_403: {
                std::string challenge = "Bearer realm=\"authgate\", error=\"insufficient_scope\", error_description=\"";
                challenge += ex.auth;
                challenge += '"';
                return fail(http::status::forbidden, "insufficient_scope", std::string(ex.auth), false,
                            std::move(challenge));
            }
            case Action::unavailable:
                fail(http::status::service_unavailable, "temporarily_unavailable", std::string(ex.auth));
                reply.retry_after = true;
                return Next::reply;
            case Action::forward:
                break;
        }
        verified = out.verified.get();
        if (out.strip_token && out.location) {
            using Kind = config::TokenSource::Kind;
            switch (out.location->kind) {
                case Kind::header: req.erase(out.location->name); break;
                case Kind::cookie: {
                    auto rest = jwt::remove_cookie(req[http::field::cookie], out.location->name);
                    if (rest.empty()) req.erase(http::field::cookie);
                    else req.set(http::field::cookie, rest);
                    break;
                }
                case Kind::query: {
                    // The token leaves the query string the upstream sees.
                    stripped_query = jwt::remove_query_param(query, out.location->name);
                    query = stripped_query;
                    break;
                }
            }
        }
    }

    // Build the upstream request in place.
    for (const auto& name : ex.snap->identity_headers) req.erase(name);
    if (seen.forwarded) req.erase(http::field::forwarded);
    if (seen.real_ip) req.erase("X-Real-IP");
    if (seen.underscores && ex.snap->cfg.server.headers_with_underscores == config::Underscores::drop) {
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
    std::string target = ex.route->cfg->strip_prefix.empty() ? *path : proxy::strip_prefix(*path, ex.route->cfg->strip_prefix);
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
    if (verified) {
        // Every identity header was erased above, so one header needs no lookup; with more,
        // set() keeps a payload header named like a claim header from appearing twice.
        const auto& out = verified->forward_headers;
        for (const auto& [name, value] : out) {
            if (out.size() == 1) req.insert(name, value);
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
    if (!keep_request_id || seen.request_ids > 1 || seen.connection)
        put_field(req, seen.has_request_id, "X-Request-Id", ex.request_id);
    if (seen.via) proxy::append_to_list(req, "Via", "1.1 authgate");
    else req.insert(http::field::via, "1.1 authgate");
    req.target(target);
    req.version(11);
    // Last, after every other edit: where the body ends is the parser's decision alone.
    proxy::set_body_framing(req, proxy::body_framing_of(ex.parser), ex.parser.content_length().value_or(0));
    return Next::forward;
}

http::response<http::string_body> error_response(const Reply& reply) {
    http::response<http::string_body> res{reply.status, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    if (!reply.www_authenticate.empty()) res.set(http::field::www_authenticate, reply.www_authenticate);
    if (reply.retry_after) res.set(http::field::retry_after, "5");
    std::string body = "{\"error\":";
    observe::append_json_string(body, reply.error);
    body += ",\"error_description\":";
    observe::append_json_string(body, reply.description);
    body += "}\n";
    res.body() = std::move(body);
    return res;
}

http::response<http::string_body> preflight_response(const Exchange& ex, cors::OriginCache* cache) {
    const auto& req = ex.parser.get();
    http::response<http::string_body> res{http::status::no_content, 11};
    FieldSink sink(res);
    auto acrh = req.find("Access-Control-Request-Headers");
    auto acrpn = req.find("Access-Control-Request-Private-Network");
    bool pna = acrpn != req.end() && beast::iequals(acrpn->value(), "true");
    ex.cors->preflight(ex.origin, req["Access-Control-Request-Method"],
                       acrh == req.end() ? std::string_view() : std::string_view(acrh->value()), pna, cache, sink);
    if (!ex.cors->wildcard()) proxy::merge_vary(res, "Origin");
    proxy::merge_vary(res, "Access-Control-Request-Method");
    proxy::merge_vary(res, "Access-Control-Request-Headers");
    return res;
}

bool finish_local(const Exchange& ex, http::response<http::string_body>& res, bool close, bool cors_done,
                  bool draining, cors::OriginCache* cache) {
    // An unread request body would be parsed as the next request: close instead.
    bool keep = !close && ex.keep_alive && ex.version == 11 && ex.parser.is_header_done() && ex.parser.is_done() &&
                !draining;
    if (!cors_done) add_cors(ex, res, cache);
    if (!ex.request_id.empty()) res.set("X-Request-Id", ex.request_id);
    res.keep_alive(keep);
    res.prepare_payload();
    return keep;
}

}  // namespace authgate::server
