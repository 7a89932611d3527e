// The keys one provider verifies with: its static keys (config) and, with a remote source
// (a jwks_url, or an OpenID discovery URL), the last fetched ones, or at start those of
// its key cache file. Published as immutable KeySets shared by every worker; a reload's
// store starts with the keys its predecessor had from the same source. Also the fetch
// bookkeeping of that source: unknown-kid re-fetch requests, fetch counts, discovery state.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jwt/jwks.h"

namespace authgate::jwt {

// Wakes the JWKS fetcher when a request saw an unknown kid. Shared between the stores
// and the fetcher so neither outlives the other's pointer; poke() is a no-op while no
// fetcher runs.
class RefetchSignal {
public:
    void set_handler(std::function<void()> h) {
        std::lock_guard lock(mu_);
        handler_ = std::move(h);
    }
    void poke() {
        std::lock_guard lock(mu_);  // rare: at most once per cooldown per store
        if (handler_) handler_();
    }

private:
    std::mutex mu_;
    std::function<void()> handler_;
};

// Where the remote keys in use came from (static: no remote keys, only configured ones).
enum class KeySource { none, static_keys, fetched, cache_file };
// Stable names: the metric label, explain and /readyz use them.
std::string_view key_source_name(KeySource s);

struct JwksStats {
    std::uint64_t attempts = 0;
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    std::uint64_t kid_refetch_requests = 0;  // granted (cooldown passed) requests
    // When the keys in use were fetched (carried over by a reload with them); epoch = never.
    std::chrono::system_clock::time_point last_success{};
    std::string last_error;  // why the last fetch failed; "" after a success
    KeySource source = KeySource::none;
    // cache_file keys: when the cached set was fetched (the file's fetched_at).
    std::chrono::system_clock::time_point cached_fetched_at{};
    // Discovery providers: the jwks_uri of the last good document ("" = none yet), and
    // the document fetches by result.
    std::string jwks_uri;
    std::uint64_t discovery_successes = 0;
    std::uint64_t discovery_failures = 0;
};

class KeyStore {
public:
    // `remote_source`: where fetched keys come from, the jwks_url or the discovery URL
    // (nullopt: static keys only).
    KeyStore(std::vector<KeyPtr> static_keys, std::optional<std::string> remote_source);
    KeyStore(const KeyStore&) = delete;
    KeyStore& operator=(const KeyStore&) = delete;

    // --- read side (request path) ---
    // Current keys (null until there are any). Lock-free in the steady state: a
    // per-thread copy is reused while the generation is unchanged.
    KeySetPtr current() const;
    // Generation of the current set (0 = none); a cache entry of another one is stale.
    std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    // True once there are remote keys: this store's own fetch, ones carried over, or the
    // key cache file's.
    bool ever_fetched() const { return ever_fetched_.load(std::memory_order_acquire); }
    // A remote-source store before its first keys arrive: a refusal is "keys unavailable".
    bool awaiting_first_fetch() const { return remote_source_ && !ever_fetched(); }
    // An unknown kid: maybe the issuer rotated its keys. Asks the fetcher for a fetch soon,
    // at most once per cooldown; a no-op without a jwks_url.
    void request_refetch() const;

    // --- write side (the fetcher) ---
    // Publishes fetched keys (merged with the static ones, fetched first) as a new generation.
    void publish_fetched(std::vector<KeyPtr> keys);
    // Publishes keys read from the key cache file, fetched at `fetched_at`: used like
    // fetched ones until a live fetch replaces them, but the store says where they came from.
    void publish_cached(std::vector<KeyPtr> keys, std::chrono::system_clock::time_point fetched_at);
    // Reload: when `previous` fetches from the same source and has remote keys, this
    // store starts with them (merged with its own static keys) instead of none, so its
    // routes do not answer 503 until its own first fetch lands, or while the issuer is down.
    // No-op once this store has fetched itself (its set is newer). Fetch counts do not
    // carry over; the time of the last success does, with the keys. True when keys were
    // carried over.
    bool carry_over_fetched(const KeyStore& previous);
    // True once per burst of unknown-kid requests (the fetch about to start answers them).
    bool take_refetch_request() { return refetch_pending_.exchange(false, std::memory_order_acq_rel); }
    bool refetch_pending() const { return refetch_pending_.load(std::memory_order_acquire); }
    // `error`: why a failed fetch failed (kept for explain).
    void record_fetch(bool success, std::string error = {});
    // A discovery document fetch: its jwks_uri when it was good.
    void record_discovery(bool success, const std::string& jwks_uri = {});
    void attach_signal(std::shared_ptr<RefetchSignal> s) { signal_ = std::move(s); }
    const std::shared_ptr<RefetchSignal>& signal() const { return signal_; }

    // --- metrics and test hooks ---
    JwksStats stats() const;
    // Waits until at least `attempts` fetches finished (success or failure); false on timeout.
    bool wait_for_fetch_attempts(std::uint64_t attempts, std::chrono::milliseconds timeout) const;
    // Minimum time between two kid-triggered fetches (default 30 s).
    void set_refetch_cooldown(std::chrono::milliseconds d) const { cooldown_ms_.store(d.count()); }

private:
    // mu_ held:
    void publish_locked(std::vector<KeyPtr> keys);
    void publish_fetched_locked(std::vector<KeyPtr> keys);
    void set_source(KeySource source, std::chrono::system_clock::time_point cached_fetched_at);

    const std::uint64_t id_;  // process-unique: the per-thread copy's tag
    const std::vector<KeyPtr> static_keys_;
    const std::optional<std::string> remote_source_;

    mutable std::mutex mu_;  // writers, and readers whose per-thread copy is stale
    KeySetPtr set_;
    std::vector<KeyPtr> fetched_;  // the last fetched keys alone, for the next reload (mu_)
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<bool> ever_fetched_{false};

    mutable std::atomic<bool> refetch_pending_{false};
    mutable std::atomic<std::int64_t> cooldown_ms_{30000};
    mutable std::atomic<std::int64_t> last_refetch_ms_{std::numeric_limits<std::int64_t>::min() / 2};
    mutable std::atomic<std::uint64_t> refetch_requests_{0};
    std::shared_ptr<RefetchSignal> signal_;

    mutable std::mutex stats_mu_;
    mutable std::condition_variable stats_cv_;
    JwksStats stats_;
};

}  // namespace authgate::jwt
