// Per-worker cache of verified tokens: a hit skips base64/JSON decoding and the signature
// check, which dominate the cost of a request. Not thread-safe by design (one per worker,
// no locks). Bounded, least-recently-used eviction.
//
// Admission (offer): a token is cached on its second verification, not its first. A
// first sighting only leaves a 4-byte fingerprint in a small table that is wiped every
// `capacity` sightings (the "doorkeeper" of TinyLFU). A client that uses its token more
// than once pays one extra verification; a stream of one-use tokens (many clients, a
// flood of distinct valid tokens) no longer evicts the tokens that are reused, and costs
// no allocation, no eviction and no cold-memory walk per request. Measured: caching every
// fresh RS256 token cost 5-15% more CPU per request than not caching them at all.
//
// Keyed by (provider id, exact token bytes). An entry is only served while the provider's
// key set generation is the one it was verified under, and the caller re-runs the time
// checks on every hit, so an entry never outlives the token's exp nor a key rotation.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "jwt/verified_token.h"
#include "observe/counter.h"

namespace authgate::jwt {

class TokenCache {
public:
    // counters: where hits, misses and evictions are also counted (a worker's metrics,
    // which outlive the cache a reload replaces); may be null.
    explicit TokenCache(std::size_t max_entries, observe::CacheCounters* counters = nullptr);
    TokenCache(const TokenCache&) = delete;
    TokenCache& operator=(const TokenCache&) = delete;

    // The token's hash: computed once per request and passed to find() and offer().
    static std::size_t hash(std::string_view token) { return std::hash<std::string_view>{}(token); }

    // The entry, when present and made under `generation`; a stale entry is dropped.
    std::shared_ptr<const VerifiedToken> find(std::uint64_t provider_id, std::string_view token,
                                              std::size_t token_hash, std::uint64_t generation);
    std::shared_ptr<const VerifiedToken> find(std::uint64_t provider_id, std::string_view token,
                                              std::uint64_t generation) {
        return find(provider_id, token, hash(token), generation);
    }
    // A token just verified: cached if it was verified recently already (see above).
    bool offer(std::uint64_t provider_id, std::string_view token, std::size_t token_hash,
               std::shared_ptr<const VerifiedToken> value);
    // Caches unconditionally.
    void insert(std::uint64_t provider_id, std::string_view token, std::size_t token_hash,
                std::shared_ptr<const VerifiedToken> value);
    void insert(std::uint64_t provider_id, std::string_view token, std::shared_ptr<const VerifiedToken> value) {
        insert(provider_id, token, hash(token), std::move(value));
    }
    void erase(std::uint64_t provider_id, std::string_view token);
    void clear();

    std::size_t size() const { return map_.size(); }
    std::size_t capacity() const { return max_entries_; }
    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }
    std::uint64_t evictions() const { return evictions_; }
    std::size_t admission_window() const { return window_; }

private:
    // The hash is computed once per lookup and stored with the key: libstdc++ does not
    // cache hash codes for a noexcept hasher, so walking a bucket would otherwise re-hash
    // every (several hundred bytes long) token in it.
    struct KeyView {
        std::uint64_t provider;
        std::string_view token;  // into the list node's string (nodes never move)
        std::size_t hash;
        bool operator==(const KeyView& o) const {
            return hash == o.hash && provider == o.provider && token == o.token;
        }
    };
    struct KeyHash {
        std::size_t operator()(const KeyView& k) const noexcept { return k.hash; }
    };
    static KeyView key(std::uint64_t provider, std::string_view token, std::size_t token_hash) {
        return {provider, token, token_hash ^ static_cast<std::size_t>(provider * 0x9e3779b97f4a7c15ull)};
    }
    bool admit(std::size_t key_hash);
    struct Entry {
        std::uint64_t provider;
        std::string token;
        std::size_t hash;
        std::shared_ptr<const VerifiedToken> value;
    };
    using List = std::list<Entry>;

    std::size_t max_entries_;
    List lru_;  // front = most recently used
    std::unordered_map<KeyView, List::iterator, KeyHash> map_;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
    std::uint64_t evictions_ = 0;
    observe::CacheCounters* counters_;
    void hit();
    void miss();

    // Doorkeeper: slot = low hash bits, value = high 32 bits | 1 (0 = empty).
    std::unique_ptr<std::uint32_t[]> seen_;
    std::size_t seen_mask_ = 0;
    std::size_t window_ = 0;  // sightings between two wipes
    std::size_t sightings_ = 0;
};

}  // namespace authgate::jwt
