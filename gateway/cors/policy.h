// A compiled CORS policy. CONTRACT between cors/ and proxy/: the proxy only uses what is
// declared here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace authgate::cors {

// Receives the headers the policy wants on a response (names in canonical case).
class HeaderSink {
public:
    virtual ~HeaderSink() = default;
    virtual void set(std::string_view name, std::string_view value) = 0;
};

class OriginCache;  // per-worker bounded cache of origin decisions; not thread-safe

class Policy {
public:
    // Compiles one policy; reports bad origins / regexes with their marks. Always returns a
    // policy: entries with errors are left out (narrower, never wider); check diag.ok().
    static std::shared_ptr<const Policy> create(const config::CorsPolicy& cfg, config::Diagnostics& diag);
    virtual ~Policy() = default;

    virtual const std::string& name() const = 0;

    // Is this origin allowed? cache may be null. Only a well-formed scheme://host[:port]
    // (scheme and host compared case-insensitively) or a literally listed "null" can be
    // allowed; anything else is refused even by allow_all_origins. See policy.cpp.
    virtual bool origin_allowed(std::string_view origin, OriginCache* cache) const = 0;

    // True when the policy answers "*" to everyone (allow_all_origins without credentials):
    // then no "Vary: Origin" is needed.
    virtual bool wildcard() const = 0;

    // Preflight answer headers (status is always 204). origin may be empty (absent);
    // request_method / request_headers / private_network from the Access-Control-Request-*
    // headers. Emits nothing for a disallowed origin. Does not emit Vary: the proxy adds
    // "Vary: Origin" (and for preflights also Access-Control-Request-Method and
    // Access-Control-Request-Headers) itself.
    virtual void preflight(std::string_view origin, std::string_view request_method,
                           std::string_view request_headers, bool request_private_network, OriginCache* cache,
                           HeaderSink& out) const = 0;

    // Headers for an actual (non-preflight) response, including gateway-made errors.
    // Emits nothing when origin is empty or disallowed.
    virtual void actual(std::string_view origin, OriginCache* cache, HeaderSink& out) const = 0;

    // Added for `authgate explain`, logs and tests; preflight() does not depend on them
    // (it always answers with the configured lists and lets the browser decide).
    //
    // Is the Access-Control-Request-Method in allow_methods? Case-sensitive, as browsers
    // compare it; configured methods were upper-cased. "*" allows any method when the
    // policy has no credentials. CORS-safelisted methods (GET, HEAD, POST) need no listing
    // for a browser, but this reports the configuration only.
    virtual bool method_allowed(std::string_view request_method) const = 0;

    // Is every name in Access-Control-Request-Headers (comma-separated, any spaces or
    // tabs, empty items ignored) in allow_headers? Case-insensitive. "*" allows any name
    // except Authorization when the policy has no credentials (as in Fetch).
    virtual bool headers_allowed(std::string_view request_headers) const = 0;

    // Unique per compiled policy for the process lifetime; the OriginCache key.
    virtual std::uint64_t id() const = 0;
};

std::unique_ptr<OriginCache> make_origin_cache(std::size_t max_entries);  // cors/origin_cache.h defines it

// Is this request a preflight? (OPTIONS with Origin and Access-Control-Request-Method)
inline bool is_preflight(std::string_view method, bool has_origin, bool has_request_method) {
    return method == "OPTIONS" && has_origin && has_request_method;
}

}  // namespace authgate::cors
