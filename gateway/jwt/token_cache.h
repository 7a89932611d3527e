// Per-worker cache of verified tokens: a hit skips base64/JSON decoding and the signature
// check, which dominate the cost of a request. Not thread-safe by design (one per worker,
// no locks). Bounded, least-recently-used eviction.
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

namespace authgate::jwt {

class TokenCache {
public:
    explicit TokenCache(std::size_t max_entries);
    TokenCache(const TokenCache&) = delete;
    TokenCache& operator=(const TokenCache&) = delete;

    // The entry, when present and made under `generation`; a stale entry is dropped.
    std::shared_ptr<const VerifiedToken> find(std::uint64_t provider_id, std::string_view token,
                                              std::uint64_t generation);
    void insert(std::uint64_t provider_id, std::string_view token, std::shared_ptr<const VerifiedToken> value);
    void erase(std::uint64_t provider_id, std::string_view token);
    void clear();

    std::size_t size() const { return map_.size(); }
    std::size_t capacity() const { return max_entries_; }
    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }

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
    static KeyView key(std::uint64_t provider, std::string_view token) {
        return {provider, token, std::hash<std::string_view>{}(token) ^ (provider * 0x9e3779b97f4a7c15ull)};
    }
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
};

}  // namespace authgate::jwt
