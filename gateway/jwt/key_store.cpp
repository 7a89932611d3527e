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

KeyStore::KeyStore(std::vector<KeyPtr> static_keys, std::optional<std::string> jwks_url)
    : id_(next_store_id()), static_keys_(std::move(static_keys)), jwks_url_(std::move(jwks_url)) {
    if (!static_keys_.empty()) publish_locked(static_keys_);  // not shared yet: no lock needed
}

void KeyStore::publish_locked(std::vector<KeyPtr> keys) {
    auto set = std::make_shared<KeySet>();
    set->keys = std::move(keys);
    set->generation = next_key_generation();
    set_ = std::move(set);
    generation_.store(set_->generation, std::memory_order_release);
}

void KeyStore::publish_fetched(std::vector<KeyPtr> keys) {
    std::lock_guard lock(mu_);
    publish_fetched_locked(std::move(keys));
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
    if (&previous == this || !jwks_url_ || !previous.jwks_url_ || *previous.jwks_url_ != *jwks_url_) return false;
    std::vector<KeyPtr> keys;
    {
        std::lock_guard lock(previous.mu_);  // its fetcher may still be publishing
        keys = previous.fetched_;
    }
    if (keys.empty()) return false;
    const auto fetched_at = previous.stats().last_success;
    {
        // Checked under the lock our fetcher publishes under: a fetch that already landed wins.
        std::lock_guard lock(mu_);
        if (ever_fetched_.load(std::memory_order_acquire)) return false;
        publish_fetched_locked(std::move(keys));
    }
    std::lock_guard lock(stats_mu_);
    if (stats_.last_success < fetched_at) stats_.last_success = fetched_at;
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
    if (!jwks_url_) return;
    const std::int64_t now = steady_ms();
    std::int64_t last = last_refetch_ms_.load(std::memory_order_relaxed);
    if (now - last < cooldown_ms_.load(std::memory_order_relaxed)) return;
    // One winner per cooldown window: a flood of unknown kids cannot hammer the issuer.
    if (!last_refetch_ms_.compare_exchange_strong(last, now, std::memory_order_acq_rel)) return;
    refetch_requests_.fetch_add(1, std::memory_order_relaxed);
    refetch_pending_.store(true, std::memory_order_release);
    if (signal_) signal_->poke();
}

void KeyStore::record_fetch(bool success) {
    {
        std::lock_guard lock(stats_mu_);
        ++stats_.attempts;
        ++(success ? stats_.successes : stats_.failures);
        if (success) stats_.last_success = std::chrono::system_clock::now();
    }
    stats_cv_.notify_all();
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
