// The synchronous heart of the pipeline, one call per stage: from a parsed request header
// to one decision (forward, answer a CORS preflight, or answer with an error), with the
// request rewritten in place for the upstream when it is forwarded; and the rewrite of the
// upstream's response head on its way back. No I/O: the Session runs these on every
// request, and `authgate explain` runs the very same calls on a request built from its
// command line.
//
//   prepare():  check_framing -> route -> choose_cors -> authenticate -> rewrite_upstream_request
//   prepare_response(): hop-by-hop out, CORS, X-Request-Id and Via in
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/system/error_code.hpp>

#include "cors/origin_cache.h"
#include "proxy/framing.h"
#include "proxy/headers.h"
#include "server/exchange.h"

namespace authgate::server {

using proxy::ArenaFields;

// What the stages need to know about the client's header fields, from one walk over them
// instead of a lookup (a case-insensitive tree search) per name.
struct RequestFields {
    std::string_view origin, request_id, host, transfer_encoding, acrm, expect;
    int transfer_encodings = 0, content_lengths = 0, hosts = 0, request_ids = 0, authorizations = 0;
    bool has_origin = false, has_request_id = false, has_acrm = false, has_expect = false, upgrade = false;
    bool connection = false;  // a Connection header may name (and so remove) any of these
    bool connection_names_framing = false;
    bool forwarded_for = false, forwarded_proto = false, forwarded_host = false, via = false;
    bool forwarded = false, real_ip = false;  // set by the gateway alone: removed from the client's
    bool underscores = false;                 // a field name with '_'

    explicit RequestFields(const ArenaFields& fields);
};

// Splits a request target into path and query; absolute-form targets
// ("http://host/path?q") are reduced to their path and query. A target that is neither
// origin-form nor an absolute http(s) URI gives an empty path (refused as invalid).
void split_target(std::string_view target, std::string_view& path, std::string_view& query);

// Stage 1. Refuses what an upstream could read differently from the gateway (request
// smuggling): Transfer-Encoding other than chunked alone, both framing fields, duplicate
// Content-Length, a Connection naming a framing field, a missing, repeated or malformed
// Host, and names with '_' under headers_with_underscores: reject.
std::optional<Reply> check_framing(const Exchange& ex, const RequestFields& fields);

// Stage 2. Where a request goes: its target normalized (proxy::normalize_path) and matched
// against the routes, first match wins. A CORS preflight (OPTIONS with Origin and
// `preflight_method`, its Access-Control-Request-Method) is matched as the method it
// announces, so a route limited to [GET, POST] has its preflights answered.
struct Routed {
    std::optional<std::string> path;            // normalized; nullopt: the target is refused (400)
    std::string_view query;                     // as received, a view into the target
    const proxy::RouteRuntime* route = nullptr;  // null: no route matches (404)
    const proxy::RouteRuntime* near = nullptr;   // no route: the first whose path matches, if any
    bool preflight = false;                      // a preflight for `route`, whose CORS policy answers it
};
Routed route(const proxy::Snapshot& snap, std::string_view method, std::string_view target, std::string_view host,
             bool has_origin, std::optional<std::string_view> preflight_method);

// Stage 3. The CORS policy whose headers the response carries (ex.cors): the route's, or
// for a 404 the policy of the route the path was aiming at, so browser code can read it.
// Next::preflight when the gateway answers the request itself (preflight_response()).
std::optional<Next> choose_cors(Exchange& ex, const Routed& routed);

// Stage 4. The route's authenticator and claim rules, at `ctx.now`. Sets `outcome` and
// ex.auth when one ran; the reply is the 401/403/503 (RFC 6750 challenge included).
std::optional<Reply> authenticate(Exchange& ex, const RequestFields& fields, std::string_view query,
                                  const DecisionContext& ctx, jwt::AuthOutcome& outcome);

// Stage 5. Rewrites the request in place for the upstream: the token removed where
// strip_token says so, identity headers (any provider's claim headers, Forwarded,
// X-Real-IP, names with '_' under `drop`) and hop-by-hop headers out, verified claim
// headers, X-Forwarded-*, X-Request-Id and Via in, the target rewritten (strip_prefix,
// non-ASCII percent-encoded), and last the body framing, from the parser's state alone.
void rewrite_upstream_request(Exchange& ex, const RequestFields& fields, const Routed& routed,
                              const DecisionContext& ctx, const jwt::AuthOutcome& outcome);

// The five stages in order, for a request whose header was parsed without error.
Next prepare(Exchange& ex, const DecisionContext& ctx, jwt::AuthOutcome& outcome, Reply& reply);

// The reply to a header the parser refused (413, 431, 400).
Next bad_header(Exchange& ex, const boost::system::error_code& ec, Reply& reply);

// The upstream's response head, read by `parser`, rewritten in place for the client:
// refused (bad_response) when its Connection names a framing field or it is a 101 the
// client did not ask for; else hop-by-hop headers out, the gateway's CORS headers (the
// upstream's own dropped on a policy route), X-Request-Id and Via in. The framing the
// body goes down with is the downstream protocol's (http1_response_framing() for HTTP/1).
using ResponseParser = http::response_parser<http::buffer_body, ArenaAlloc>;
std::optional<proxy::UpstreamError> prepare_response(const Exchange& ex, ResponseParser& parser,
                                                     cors::OriginCache* cache);

// The HTTP/1.1 framing of the response to the client, from the response parser's state:
// Content-Length when the upstream gave one, else chunked (or, for an HTTP/1.0 client, the
// end of the connection), nothing for a 101; sets the framing and Connection fields.
// Returns whether the client connection closes after this response.
bool http1_response_framing(const Exchange& ex, ResponseParser& parser, bool draining, proxy::BodyFraming& down);

}  // namespace authgate::server
