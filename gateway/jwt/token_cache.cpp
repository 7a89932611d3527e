#include "jwt/token_cache.h"

#include <algorithm>
#include <bit>

namespace authgate::jwt {

TokenCache::TokenCache(std::size_t max_entries, observe::CacheCounters* counters)
    : max_entries_(max_entries == 0 ? 1 : max_entries), counters_(counters) {
    map_.reserve(std::min<std::size_t>(max_entries_, 1 << 16));
    // Twice as many slots as sightings per window keeps overwrites rare; at most 16 MiB.
    const std::size_t slots = std::bit_ceil(std::clamp<std::size_t>(2 * max_entries_, 64, std::size_t{1} << 22));
    seen_ = std::make_unique<std::uint32_t[]>(slots);  // zeroed
    seen_mask_ = slots - 1;
    window_ = std::min(std::max<std::size_t>(max_entries_, 16), slots / 2);
}

void TokenCache::hit() {
    ++hits_;
    if (counters_) counters_->hits.add();
}

void TokenCache::miss() {
    ++misses_;
    if (counters_) counters_->misses.add();
}

bool TokenCache::admit(std::size_t key_hash) {
    const auto fingerprint = static_cast<std::uint32_t>(static_cast<std::uint64_t>(key_hash) >> 32) | 1u;
    std::uint32_t& slot = seen_[key_hash & seen_mask_];
    if (slot == fingerprint) return true;
    slot = fingerprint;
    if (++sightings_ >= window_) {
        // Forget everything: a token first seen this long ago would have left an LRU of
        // this size anyway before its next use.
        std::fill_n(seen_.get(), seen_mask_ + 1, 0u);
        sightings_ = 0;
    }
    return false;
}

bool TokenCache::offer(std::uint64_t provider_id, std::string_view token, std::size_t token_hash,
                       std::shared_ptr<const VerifiedToken> value) {
    if (!value || !admit(key(provider_id, token, token_hash).hash)) return false;
    insert(provider_id, token, token_hash, std::move(value));
    return true;
}

std::shared_ptr<const VerifiedToken> TokenCache::find(std::uint64_t provider_id, std::string_view token,
                                                      std::size_t token_hash, std::uint64_t generation) {
    auto it = map_.find(key(provider_id, token, token_hash));
    if (it == map_.end()) {
        miss();
        return nullptr;
    }
    if (it->second->value->generation != generation) {
        // The provider's keys changed since: the token must be verified again.
        // (Map first: erasing may rehash the key, which views the list node's string.)
        const auto node = it->second;
        map_.erase(it);
        lru_.erase(node);
        miss();
        return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second);  // no allocation, iterators stay valid
    hit();
    return it->second->value;
}

void TokenCache::insert(std::uint64_t provider_id, std::string_view token, std::size_t token_hash,
                        std::shared_ptr<const VerifiedToken> value) {
    if (!value) return;
    // One hash walk: the node is made first and the map told about it; an existing entry
    // (rare: the caller has just missed) keeps its node and takes the new value.
    const KeyView k = key(provider_id, token, token_hash);
    lru_.push_front(Entry{provider_id, std::string(token), k.hash, std::move(value)});
    auto [it, inserted] = map_.emplace(KeyView{provider_id, lru_.front().token, k.hash}, lru_.begin());
    if (!inserted) {
        it->second->value = std::move(lru_.front().value);
        lru_.pop_front();
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    while (map_.size() > max_entries_) {
        const Entry& last = lru_.back();
        map_.erase(KeyView{last.provider, last.token, last.hash});
        lru_.pop_back();
        ++evictions_;
        if (counters_) counters_->evictions.add();
    }
}

void TokenCache::erase(std::uint64_t provider_id, std::string_view token) {
    auto it = map_.find(key(provider_id, token, hash(token)));
    if (it == map_.end()) return;
    const auto node = it->second;
    map_.erase(it);  // before the node whose string the key views
    lru_.erase(node);
}

void TokenCache::clear() {
    map_.clear();
    lru_.clear();
}

std::unique_ptr<TokenCache> make_token_cache(std::uint64_t max_entries, observe::CacheCounters* counters) {
    if (max_entries == 0) return nullptr;
    return std::make_unique<TokenCache>(static_cast<std::size_t>(std::min<std::uint64_t>(max_entries, 1u << 24)),
                                        counters);
}

}  // namespace authgate::jwt
