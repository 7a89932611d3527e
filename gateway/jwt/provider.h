// A compiled jwt.providers entry: allowed algorithms, keys (static and/or fetched from a
// JWKS URL), claim checks, token sources and forwarded claims. Shared read-only by all
// workers; the only mutable state is the published key set (swapped whole) and counters.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "jwt/algorithm.h"
#include "jwt/claims.h"
#include "jwt/extractor.h"
#include "jwt/forward_claims.h"
#include "jwt/jwks.h"
#include "jwt/verified_token.h"
#include "jwt/verifier.h"

namespace authgate::jwt {

// Wakes the JWKS fetcher when a request saw an unknown kid. Shared between the providers
// and the fetcher so neither outlives the other's pointer; poke() is a no-op while no
// fetcher runs.
class RefetchSignal {
public:
    void set_handler(std::function<void()> h) {
        std::lock_guard lock(mu_);
        handler_ = std::move(h);
    }
    void poke() {
        std::lock_guard lock(mu_);  // rare: at most once per cooldown per provider
        if (handler_) handler_();
    }

private:
    std::mutex mu_;
    std::function<void()> handler_;
};

struct JwksStats {
    std::uint64_t attempts = 0;
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    std::uint64_t kid_refetch_requests = 0;  // granted (cooldown passed) requests
};

class Provider {
public:
    // Reads key files, reports problems into diag at the config marks.
    static std::shared_ptr<Provider> create(const config::JwtProvider& cfg, config::Diagnostics& diag);
    // Same, plus already-built keys (tests, fuzzing, benchmarks).
    static std::shared_ptr<Provider> create_with_keys(const config::JwtProvider& cfg, std::vector<KeyPtr> keys,
                                                      config::Diagnostics& diag);

    const std::string& name() const { return cfg_.name; }
    std::uint64_t id() const { return id_; }  // process-unique, never reused (cache key)
    const AlgorithmSet& algorithms() const { return algorithms_; }
    const TokenExtractor& extractor() const { return extractor_; }
    bool strip_token() const { return cfg_.strip_token; }
    const config::JwtProvider& config() const { return cfg_; }

    // Whether the token's iss is one this provider expects (to try it first).
    bool issuer_matches(const boost::json::object& payload) const;

    // Full check of a parsed token: alg allow-list, key choice by kid/type, signature,
    // claims, forwarded claim values. On success moves the payload out of `token`.
    Status verify(ParsedToken& token, std::int64_t now, std::shared_ptr<const VerifiedToken>& out) const;
    // What a cache hit must still pass (time claims).
    Status recheck(const VerifiedToken& v, std::int64_t now) const { return validator_.check_time(v.times, now); }

    // Current keys (null until there are any) and their generation (0 = none). Lock-free
    // in the steady state: a per-thread copy is reused while the generation is unchanged.
    KeySetPtr key_set() const;
    std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

    // --- JWKS URL side (used by the fetcher) ---
    bool has_jwks_url() const { return cfg_.keys.jwks_url.has_value(); }
    const std::string& jwks_url() const { return *cfg_.keys.jwks_url; }
    config::Duration jwks_refresh() const { return cfg_.keys.jwks_refresh; }
    // True once this provider has a fetched key set: its own fetch, or one carried over
    // from the provider it replaced at a reload (carry_over_fetched).
    bool ever_fetched() const { return ever_fetched_.load(std::memory_order_acquire); }
    // Publishes fetched keys (merged with the static ones) as a new generation.
    void publish_fetched(std::vector<KeyPtr> keys);
    // Reload: when `previous` fetches from the same jwks_url and has fetched keys, this
    // provider starts with them (merged with its own static keys) instead of none, so its
    // routes do not answer 503 until its own first fetch lands, or while the issuer is down.
    // No-op once this provider has fetched itself (its set is newer). Fetch counts and
    // cached verdicts do not carry over (the id is new). True when keys were carried over.
    bool carry_over_fetched(const Provider& previous);
    void record_fetch(bool success);
    // Fetcher side of the unknown-kid re-fetch: true once per request burst.
    bool take_refetch_request() { return refetch_pending_.exchange(false, std::memory_order_acq_rel); }
    bool refetch_pending() const { return refetch_pending_.load(std::memory_order_acquire); }
    void attach_signal(std::shared_ptr<RefetchSignal> s) { signal_ = std::move(s); }
    const std::shared_ptr<RefetchSignal>& signal() const { return signal_; }

    // --- test hooks / metrics ---
    // Minimum time between two kid-triggered fetches (default 30 s).
    void set_kid_refetch_cooldown(std::chrono::milliseconds d) const { cooldown_ms_.store(d.count()); }
    JwksStats jwks_stats() const;
    // Waits until at least `attempts` fetches finished (success or failure); false on timeout.
    bool wait_for_fetch_attempts(std::uint64_t attempts, std::chrono::milliseconds timeout) const;
    // Signature checks performed (a cache hit performs none).
    std::uint64_t signature_checks() const { return signature_checks_.load(std::memory_order_relaxed); }

private:
    explicit Provider(const config::JwtProvider& cfg);
    void publish(std::vector<KeyPtr> keys);
    // set_mu_ held:
    void publish_locked(std::vector<KeyPtr> keys);
    void publish_fetched_locked(std::vector<KeyPtr> keys);
    void request_refetch() const;

    config::JwtProvider cfg_;
    std::uint64_t id_;
    AlgorithmSet algorithms_;
    ClaimsValidator validator_;
    TokenExtractor extractor_;
    ForwardClaims forward_;
    std::vector<KeyPtr> static_keys_;

    mutable std::mutex set_mu_;  // writers, and readers whose per-thread copy is stale
    KeySetPtr set_;
    std::vector<KeyPtr> fetched_;  // the last fetched keys alone, for the next reload (set_mu_)
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<bool> ever_fetched_{false};

    mutable std::atomic<bool> refetch_pending_{false};
    mutable std::atomic<std::int64_t> cooldown_ms_{30000};
    mutable std::atomic<std::int64_t> last_kid_refetch_ms_{std::numeric_limits<std::int64_t>::min() / 2};
    std::shared_ptr<RefetchSignal> signal_;

    mutable std::atomic<std::uint64_t> signature_checks_{0};
    mutable std::mutex stats_mu_;
    mutable std::condition_variable stats_cv_;
    JwksStats stats_;
    mutable std::atomic<std::uint64_t> kid_requests_{0};
};

}  // namespace authgate::jwt
