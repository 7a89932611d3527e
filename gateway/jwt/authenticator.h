// Route-level authentication: the one entry point the proxy calls per request.
// CONTRACT between jwt/ and proxy/: the proxy only uses what is declared here.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "jwt/status.h"
#include "observe/counter.h"

namespace authgate::jwt {

class Provider;    // compiled config::JwtProvider (keys, algorithms, claim checks)
class JwksFetcher; // background JWKS URL fetching (jwt/jwks_fetcher.h)
class TokenCache;  // per-worker verified-token cache; not thread-safe

// Read-only view of the downstream request, implemented by the proxy over Beast fields.
class RequestView {
public:
    virtual ~RequestView() = default;
    // First value of the header (case-insensitive name), or nullopt.
    virtual std::optional<std::string_view> header(std::string_view name) const = 0;
    // Raw query string without '?', possibly empty.
    virtual std::string_view query() const = 0;
};

// What a verified token yields, shared by cache hits.
struct Verified {
    std::vector<std::pair<std::string, std::string>> forward_headers;  // header -> value
    std::int64_t exp = 0;  // 0 = no exp
};

// Where the token was found (for strip_token).
struct TokenLocation {
    config::TokenSource::Kind kind = config::TokenSource::Kind::header;
    std::string_view name;  // header, cookie or query parameter name (points into config)
};

struct AuthOutcome {
    enum class Action {
        forward,      // go on: attach `verified->forward_headers` when verified != nullptr
        deny_401,     // invalid_token / missing_token
        deny_403,     // insufficient_scope (valid token failed route claim rules)
        unavailable,  // 503 + Retry-After: provider never obtained keys
    };
    Action action = Action::forward;
    Status status = Status::ok;  // the failed check when not ok (also set in report_only)
    bool token_present = false;
    bool report_only_denial = false;  // mode report_only and it would have been denied
    std::shared_ptr<const Verified> verified;  // non-null when a token verified
    std::optional<TokenLocation> location;     // where the token came from
    // The provider that decided: the one that verified the token, or whose failure is the
    // status. Null when none did (no token, a malformed one, a route without providers).
    const Provider* provider = nullptr;
    bool strip_token = false;                  // provider asks to strip it upstream
};

// All providers of a config, compiled once per snapshot. create() reports what only the
// key material can tell (unreadable key file, bad JWKS, unusable key) into diag with the
// config marks; the config's shape is the loader's to check.
class ProviderSet {
public:
    static std::shared_ptr<ProviderSet> create(const config::Jwt& jwt, config::Diagnostics& diag);
    ~ProviderSet();
    std::shared_ptr<const Provider> find(std::string_view name) const;
    // Every provider in config order, read-only (readiness and metrics of the admin listener).
    std::vector<std::shared_ptr<const Provider>> providers() const;
    // Every forward_claims header and forward_payload_header of every provider, lower case:
    // the proxy removes them from every client request.
    const std::vector<std::string>& identity_headers() const;
    // Reload: every jwks_url provider starts with the last keys a provider of `previous`
    // fetched from the same URL (KeyStore::carry_over_fetched). Call before start().
    void carry_over_keys(const ProviderSet& previous);
    // A fetcher for this set's jwks_url providers, not started; null when none has a
    // jwks_url. The caller owns it, starts it and stops it: the server does so on its
    // control thread, so neither a fetch outliving a reload nor a thread join is ever
    // tied to the last reference of a snapshot (which a worker may drop).
    std::unique_ptr<JwksFetcher> make_fetcher();
    // One-shot users (explain, tests): a fetcher owned by the set; idempotent. stop(), or
    // the set's destructor, ends it (joining its thread). The server never uses these.
    void start();
    void stop();

    // Test hooks (added): minimum time between two unknown-kid re-fetches of a provider
    // (default 30 s), and a bounded wait until every jwks_url provider finished its first
    // fetch attempt (success or failure). false on timeout.
    void set_kid_refetch_cooldown(std::chrono::milliseconds cooldown);
    bool wait_for_first_fetch(std::chrono::milliseconds timeout) const;

private:
    ProviderSet();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class Authenticator {
public:
    // Compiles route auth against the providers. Nothing to report: the loader checked the
    // provider names and the rules (a hand-built RouteAuth that breaks them fails closed).
    static std::shared_ptr<const Authenticator> create(const config::RouteAuth& auth, const ProviderSet& providers);
    virtual ~Authenticator() = default;
    // now: unix seconds. cache may be null (no caching).
    virtual AuthOutcome authenticate(const RequestView& request, std::int64_t now, TokenCache* cache) const = 0;
};

// Per-worker cache factory (bounded; max_entries 0 = disabled -> returns nullptr).
// (jwt/token_cache.h defines TokenCache; the proxy includes it to own one per worker.)
// counters: see TokenCache's constructor; may be null.
std::unique_ptr<TokenCache> make_token_cache(std::uint64_t max_entries, observe::CacheCounters* counters = nullptr);

// Helpers for strip_token.
std::string remove_cookie(std::string_view cookie_header, std::string_view name);   // "" if nothing left
std::string remove_query_param(std::string_view query, std::string_view name);      // without '?'

}  // namespace authgate::jwt
