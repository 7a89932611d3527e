// The compiled, immutable configuration every request reads. Built once per load or
// reload; workers hold it as shared_ptr<const Snapshot> and a request keeps the snapshot
// it started with.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "config/config.h"
#include "cors/policy.h"
#include "jwt/authenticator.h"
#include "proxy/router.h"

namespace authgate::proxy {

struct UpstreamRuntime {
    const config::Upstream* cfg = nullptr;
    std::shared_ptr<boost::asio::ssl::context> tls;  // set when an endpoint is https
};

struct RouteRuntime {
    const config::Route* cfg = nullptr;
    std::size_t upstream = 0;
    std::shared_ptr<const cors::Policy> cors;          // null: no CORS on this route
    std::shared_ptr<const jwt::Authenticator> auth;    // null: auth none
};

class Snapshot {
public:
    // Compiles a loaded config; every problem goes to diag. Returns null when !diag.ok().
    static std::shared_ptr<const Snapshot> compile(config::Config cfg, config::Diagnostics& diag);
    ~Snapshot();

    config::Config cfg;
    std::vector<UpstreamRuntime> upstreams;
    std::vector<RouteRuntime> routes;
    std::vector<std::shared_ptr<const cors::Policy>> cors_policies;
    // The providers and their keys. Their JWKS fetcher is not the snapshot's: the server
    // owns it (ProviderSet::make_fetcher), so destroying a snapshot never stops or joins
    // anything, whichever thread drops the last reference.
    std::shared_ptr<jwt::ProviderSet> providers;
    std::vector<std::string> identity_headers;  // lower case; stripped from every request
    // Query parameters some provider takes its token from (token_from: query), each once:
    // their values are redacted in the access log.
    std::vector<std::string> query_token_params;
    std::shared_ptr<boost::asio::ssl::context> server_tls;  // set when server.tls is configured

    const RouteRuntime* match(std::string_view method, std::string_view host, std::string_view path) const {
        auto i = router_.match(method, host, path);
        return i ? &routes[*i] : nullptr;
    }

    const RouteRuntime* match_path(std::string_view path) const {
        auto i = router_.match_path(path);
        return i ? &routes[*i] : nullptr;
    }

private:
    explicit Snapshot(config::Config c);

public:
    std::uint64_t id = 0;  // unique per compiled snapshot: per-worker state keyed on it resets on reload

private:
    Router router_;
};

// Loads a config file and compiles it, printing every warning and error (FILE:LINE:COL:
// message) to `diagnostics`: startup, --check, SIGHUP reloads and `explain` all load this
// way. Null when there was an error.
std::shared_ptr<const Snapshot> load_snapshot(const std::string& path, std::ostream& diagnostics);
// Same, leaving the warnings and errors in `diag` for the caller to report (a SIGHUP
// reload sends them through the application log).
std::shared_ptr<const Snapshot> load_snapshot(const std::string& path, config::Diagnostics& diag);

}  // namespace authgate::proxy
