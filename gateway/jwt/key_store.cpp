#include "jwt/key_store.h"

#include <array>

namespace authgate::jwt {
namespace {

std::uint64_t next_store_id() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string_view key_source_name(KeySource s) {
    switch (s) {
        case KeySource::none: return "none";
        case KeySource::static_keys: return "static";
        case KeySource::fetched: return "fetched";
        case KeySource::cache_file: return "cache_file";
    }
    return "none";
}

KeyStore::KeyStore(std::vector<KeyPtr> static_keys, std::optional<std::string> remote_source)
    : id_(next_store_id()), static_keys_(std::move(static_keys)), remote_source_(std::move(remote_source)) {
    if (!static_keys_.empty()) {
        publish_locked(static_keys_);  // not shared yet: no lock needed
        stats_.source = KeySource::static_keys;
    }
}

void KeyStore::publish_locked(std::vector<KeyPtr> keys) {
    auto set = std::make_shared<KeySet>();
    set->keys = std::move(keys);
    set->generation = next_key_generation();
    set_ = std::move(set);
    generation_.store(set_->generation, std::memory_order_release);
}

void KeyStore::publish_fetched(std::vector<KeyPtr> keys) {
    {
        std::lock_guard lock(mu_);
        publish_fetched_locked(std::move(keys));
    }
    set_source(KeySource::fetched, {});
}

void KeyStore::publish_cached(std::vector<KeyPtr> keys, std::chrono::system_clock::time_point fetched_at) {
    {
        std::lock_guard lock(mu_);
        publish_fetched_locked(std::move(keys));
    }
    set_source(KeySource::cache_file, fetched_at);
}

void KeyStore::set_source(KeySource source, std::chrono::system_clock::time_point cached_fetched_at) {
    std::lock_guard lock(stats_mu_);
    stats_.source = source;
    stats_.cached_fetched_at = cached_fetched_at;
}

void KeyStore::publish_fetched_locked(std::vector<KeyPtr> keys) {
    // Fetched keys first: a rotated issuer key should win over a stale static copy.
    std::vector<KeyPtr> merged = keys;
    merged.insert(merged.end(), static_keys_.begin(), static_keys_.end());
    fetched_ = std::move(keys);
    publish_locked(std::move(merged));
    ever_fetched_.store(true, std::memory_order_release);
}

bool KeyStore::carry_over_fetched(const KeyStore& previous) {
    if (&previous == this || !remote_source_ || !previous.remote_source_ ||
        *previous.remote_source_ != *remote_source_)
        return false;
    std::vector<KeyPtr> keys;
    {
        std::lock_guard lock(previous.mu_);  // its fetcher may still be publishing
        keys = previous.fetched_;
    }
    if (keys.empty()) return false;
    const auto was = previous.stats();
    {
        // Checked under the lock our fetcher publishes under: a fetch that already landed wins.
        std::lock_guard lock(mu_);
        if (ever_fetched_.load(std::memory_order_acquire)) return false;
        publish_fetched_locked(std::move(keys));
    }
    // The keys keep saying where they came from (a cache file's stay cached ones).
    std::lock_guard lock(stats_mu_);
    if (stats_.last_success < was.last_success) stats_.last_success = was.last_success;
    stats_.source = was.source;
    stats_.cached_fetched_at = was.cached_fetched_at;
    if (stats_.jwks_uri.empty()) stats_.jwks_uri = was.jwks_uri;
    return true;
}

KeySetPtr KeyStore::current() const {
    // Per-thread copy, reused while the generation stands still: the steady state costs
    // one atomic load and no lock. A direct-mapped table keyed by store id; a collision
    // only costs a trip through the mutex.
    struct Slot {
        std::uint64_t store = 0;
        std::uint64_t generation = 0;
        KeySetPtr set;
    };
    thread_local std::array<Slot, 16> slots;
    const std::uint64_t gen = generation_.load(std::memory_order_acquire);
    if (gen == 0) return nullptr;
    Slot& slot = slots[id_ % slots.size()];
    if (slot.store == id_ && slot.generation == gen) return slot.set;
    std::lock_guard lock(mu_);
    slot.store = id_;
    slot.generation = set_->generation;
    slot.set = set_;
    return set_;
}

void KeyStore::request_refetch() const {
    if (!remote_source_) return;
    const std::int64_t now = steady_ms();
    std::int64_t last = last_refetch_ms_.load(std::memory_order_relaxed);
    if (now - last < cooldown_ms_.load(std::memory_order_relaxed)) return;
    // One winner per cooldown window: a flood of unknown kids cannot hammer the issuer.
    if (!last_refetch_ms_.compare_exchange_strong(last, now, std::memory_order_acq_rel)) return;
    refetch_requests_.fetch_add(1, std::memory_order_relaxed);
    refetch_pending_.store(true, std::memory_order_release);
    if (signal_) signal_->poke();
}

void KeyStore::record_fetch(bool success, std::string error) {
    {
        std::lock_guard lock(stats_mu_);
        ++stats_.attempts;
        ++(success ? stats_.successes : stats_.failures);
        if (success) stats_.last_success = std::chrono::system_clock::now();
        stats_.last_error = success ? std::string() : std::move(error);
    }
    stats_cv_.notify_all();
}

void KeyStore::record_discovery(bool success, const std::string& jwks_uri) {
    std::lock_guard lock(stats_mu_);
    ++(success ? stats_.discovery_successes : stats_.discovery_failures);
    if (success) stats_.jwks_uri = jwks_uri;
}

JwksStats KeyStore::stats() const {
    std::lock_guard lock(stats_mu_);
    JwksStats s = stats_;
    s.kid_refetch_requests = refetch_requests_.load();
    return s;
}

bool KeyStore::wait_for_fetch_attempts(std::uint64_t attempts, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(stats_mu_);
    return stats_cv_.wait_for(lock, timeout, [&] { return stats_.attempts >= attempts; });
}

}  // namespace authgate::jwt
