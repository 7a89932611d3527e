// Per-worker memo of "is this origin allowed by that policy?", so the allow_origin_regexes
// of a policy run once per distinct origin instead of on every request. Exact-list and
// allow-all answers are a hash lookup already and are not cached.
//
// Keyed by (policy id, lower-cased origin). The id is unique per compiled Policy for the
// process lifetime (never an address), so after a reload a new policy cannot pick up the
// old one's answers, and stale entries just age out.
//
// Bounded: when full the cache is cleared and refilled. That is cheaper and simpler than
// LRU bookkeeping on every hit; the set of origins hitting a gateway is small, so in
// practice it never fills, and when someone sprays random origins the cost is bounded
// (the regexes run, as they would without a cache) and so is the memory.
//
// Not thread-safe: one per worker thread. Lookups do not allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cors/policy.h"

namespace authgate::cors {

class OriginCache {
public:
    static constexpr std::size_t kDefaultMaxEntries = 4096;

    // max_entries 0 disables caching (lookups miss, inserts are dropped).
    explicit OriginCache(std::size_t max_entries = kDefaultMaxEntries) : max_entries_(max_entries) {}

    std::optional<bool> find(std::uint64_t policy_id, std::string_view origin);
    void insert(std::uint64_t policy_id, std::string_view origin, bool allowed);
    void clear() { entries_.clear(); }

    std::size_t size() const { return entries_.size(); }
    std::size_t max_entries() const { return max_entries_; }

    // For metrics and tests.
    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }
    std::uint64_t evictions() const { return evictions_; }  // times the cache was cleared because full

private:
    struct Key {
        std::uint64_t policy_id;
        std::string origin;
    };
    struct KeyView {
        std::uint64_t policy_id;
        std::string_view origin;
    };
    // Transparent hash and equality so find() takes a KeyView: no std::string on a lookup.
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(const KeyView& k) const noexcept {
            const std::size_t h = std::hash<std::string_view>{}(k.origin);
            return h ^ (static_cast<std::size_t>(k.policy_id) * 0x9e3779b97f4a7c15ULL);
        }
        std::size_t operator()(const Key& k) const noexcept { return (*this)(KeyView{k.policy_id, k.origin}); }
    };
    struct Equal {
        using is_transparent = void;
        static KeyView view(const Key& k) { return {k.policy_id, k.origin}; }
        static KeyView view(const KeyView& k) { return k; }
        template <class A, class B>
        bool operator()(const A& a, const B& b) const noexcept {
            const KeyView x = view(a), y = view(b);
            return x.policy_id == y.policy_id && x.origin == y.origin;
        }
    };

    std::size_t max_entries_;
    std::unordered_map<Key, bool, Hash, Equal> entries_;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
    std::uint64_t evictions_ = 0;
};

}  // namespace authgate::cors
