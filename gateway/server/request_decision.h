// The synchronous heart of the pipeline: from a parsed request header to one decision
// (forward, answer a CORS preflight, or answer with an error), with the request rewritten
// in place for the upstream when it is forwarded; and the responses the gateway makes
// itself. No I/O here: the Session runs it on every request, and `authgate explain` runs
// the very same code on a request built from its command line.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <tuple>

#include <boost/beast/http.hpp>

#include "cors/policy.h"
#include "jwt/authenticator.h"
#include "proxy/arena.h"
#include "proxy/headers.h"
#include "proxy/snapshot.h"
#include "proxy/upstream_pool.h"

namespace authgate::server {

namespace http = boost::beast::http;
using ArenaAlloc = proxy::ArenaAllocator<char>;

// A JSON error response the gateway answers with itself.
struct Reply {
    http::status status = http::status::internal_server_error;
    std::string_view error;  // the JSON "error" code: a literal
    std::string description;
    bool close = false;
    std::string www_authenticate;
    bool retry_after = false;

    static Reply make(http::status status, std::string_view error, std::string description, bool close = false,
                      std::string www_authenticate = {}) {
        return Reply{status, error, std::move(description), close, std::move(www_authenticate), false};
    }
};

// Everything about one request/response exchange that the decision, the access log and
// the error responses need.
struct Exchange {
    // The parser takes the snapshot's header and body limits.
    Exchange(proxy::Arena& arena, std::shared_ptr<const proxy::Snapshot> snapshot)
        : snap(std::move(snapshot)),
          parser(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAlloc(arena))) {
        parser.header_limit(static_cast<std::uint32_t>(snap->cfg.server.limits.max_header_bytes));
        parser.body_limit(snap->cfg.server.limits.max_body_bytes);
    }
    std::shared_ptr<const proxy::Snapshot> snap;
    http::request_parser<http::buffer_body, ArenaAlloc> parser;
    const proxy::RouteRuntime* route = nullptr;
    const cors::Policy* cors = nullptr;  // the policy whose headers this response carries
    std::string request_id;
    std::string origin;  // copy: headers are rewritten before the response is built
    std::string method;
    std::string path;    // as received, for the log
    unsigned version = 11;
    bool keep_alive = true;
    proxy::Clock::time_point start = proxy::Clock::now();
    unsigned status = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::string upstream;
    std::string_view auth;  // jwt::to_string of the auth status; empty when no auth ran
    bool expect_continue = false;
    bool upgrade = false;
};

// What the decision needs from whoever runs it (a worker, or `explain`).
struct DecisionContext {
    std::mt19937_64& rng;          // request ids
    jwt::TokenCache* token_cache;  // may be null (no caching)
    std::string_view client_ip;    // appended to X-Forwarded-For
};

// What prepare() decided: forward, answer a preflight, or answer with `Reply`.
enum class Next { forward, preflight, reply };

// Decides on a request whose header was parsed without error: framing checks, routing,
// CORS preflight, authentication and claim rules (`auth` receives the authenticator's
// outcome; ex.auth is set when one ran), then, for Next::forward, rewrites the request in
// place for the upstream (identity and hop-by-hop headers out, claim headers,
// X-Forwarded-*, X-Request-Id and Via in, the target rewritten).
Next prepare(Exchange& ex, const DecisionContext& ctx, jwt::AuthOutcome& auth, Reply& reply);

// Splits a request target into path and query; absolute-form targets
// ("http://host/path") are reduced to their path.
void split_target(std::string_view target, std::string_view& path, std::string_view& query);

// The reply to a header the parser refused (413, 431, 400).
Next bad_header(Exchange& ex, const boost::system::error_code& ec, Reply& reply);

// A cors::HeaderSink that sets Beast fields.
template <class Fields>
class FieldSink final : public cors::HeaderSink {
public:
    explicit FieldSink(Fields& f) : fields_(f) {}
    void set(std::string_view name, std::string_view value) override { fields_.set(name, value); }

private:
    Fields& fields_;
};

// The CORS headers of an actual (non-preflight) response, gateway-made or relayed.
// cache may be null.
template <class Fields>
void add_cors(const Exchange& ex, Fields& fields, cors::OriginCache* cache) {
    if (!ex.cors) return;
    const auto& policy = *ex.cors;
    // The gateway alone speaks CORS on a policy route: drop whatever the upstream said.
    proxy::strip_access_control(fields);
    FieldSink sink(fields);
    policy.actual(ex.origin, cache, sink);
    if (!policy.wildcard()) proxy::merge_vary(fields, "Origin");
}

// The JSON error response for `reply`, before finish_local().
http::response<http::string_body> error_response(const Reply& reply);

// The 204 answer to a preflight that prepare() returned Next::preflight for, before
// finish_local() (its CORS headers are already there).
http::response<http::string_body> preflight_response(const Exchange& ex, cors::OriginCache* cache);

// The last touches of a response the gateway makes itself: CORS headers (unless
// cors_done), X-Request-Id, keep-alive and Content-Length. Returns whether the connection
// may carry another request.
bool finish_local(const Exchange& ex, http::response<http::string_body>& res, bool close, bool cors_done,
                  bool draining, cors::OriginCache* cache);

}  // namespace authgate::server
