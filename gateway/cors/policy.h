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
    // Compiles one policy; reports bad origins / regexes with their marks.
    static std::shared_ptr<const Policy> create(const config::CorsPolicy& cfg, config::Diagnostics& diag);
    virtual ~Policy() = default;

    virtual const std::string& name() const = 0;

    // Is this origin allowed? cache may be null.
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
};

std::unique_ptr<OriginCache> make_origin_cache(std::size_t max_entries);  // cors/origin_cache.h defines it

// Is this request a preflight? (OPTIONS with Origin and Access-Control-Request-Method)
inline bool is_preflight(std::string_view method, bool has_origin, bool has_request_method) {
    return method == "OPTIONS" && has_origin && has_request_method;
}

}  // namespace authgate::cors
