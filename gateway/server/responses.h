// The responses the gateway makes itself: JSON errors (including the 502/504 of a failed
// upstream), the 204 of a CORS preflight, and the CORS headers every response on a policy
// route carries. No I/O: the Session sends them, `authgate explain` prints them.
#pragma once

#include <string_view>

#include <boost/beast/http.hpp>

#include "cors/origin_cache.h"
#include "cors/policy.h"
#include "proxy/headers.h"
#include "proxy/upstream_error.h"
#include "server/exchange.h"

namespace authgate::server {

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

// Whether a response add_cors() has seen refuses the request's Origin: the response has a
// policy, the request an Origin, and the answer no Access-Control-Allow-Origin.
template <class Fields>
bool origin_refused(const Exchange& ex, const Fields& fields) {
    return ex.cors && !ex.origin.empty() && fields.find(http::field::access_control_allow_origin) == fields.end();
}

// The JSON error response for `reply`, before finish_local().
http::response<http::string_body> error_response(const Reply& reply);

// The reply to an upstream failure that happened before any response byte reached the
// client: 502 bad_gateway or 504 gateway_timeout, its error_description the error's stable
// string. `close` when the client's connection cannot carry another request.
Reply upstream_failure(proxy::UpstreamError error, bool close);

// What went wrong with the client's request body, read before or while it was forwarded.
enum class BodyFailure {
    too_large,           // over max_body_bytes: 413
    bad_framing,         // the parser refused it (an invalid chunk size, say): 400
    trailers_too_large,  // trailers over max_header_bytes: 431
    timeout,             // not whole within request_body: 408 (while nothing was forwarded)
    gone,                // the client closed or idled out: nothing left to answer
};
BodyFailure body_failure(const boost::system::error_code& ec);
// The reply to a body failure other than `gone`; every one closes the connection.
Reply body_failure_reply(BodyFailure failure);

// The 204 answer to a preflight that prepare() returned Next::preflight for, before
// finish_local() (its CORS headers are already there).
http::response<http::string_body> preflight_response(const Exchange& ex, cors::OriginCache* cache);

// The last touches of a response the gateway makes itself: CORS headers (unless
// cors_done), X-Request-Id, keep-alive and Content-Length. Returns whether the connection
// may carry another request.
bool finish_local(const Exchange& ex, http::response<http::string_body>& res, bool close, bool cors_done,
                  bool draining, cors::OriginCache* cache);

}  // namespace authgate::server
