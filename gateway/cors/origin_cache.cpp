#include "cors/origin_cache.h"

namespace authgate::cors {

std::optional<bool> OriginCache::find(std::uint64_t policy_id, std::string_view origin) {
    const auto it = entries_.find(KeyView{policy_id, origin});
    if (it == entries_.end()) {
        ++misses_;
        return std::nullopt;
    }
    ++hits_;
    return it->second;
}

void OriginCache::insert(std::uint64_t policy_id, std::string_view origin, bool allowed) {
    if (max_entries_ == 0) return;
    if (entries_.size() >= max_entries_) {
        entries_.clear();
        ++evictions_;
    }
    // Allocation is fine here: this follows a regex run, which costs far more.
    entries_.insert_or_assign(Key{policy_id, std::string(origin)}, allowed);
}

std::unique_ptr<OriginCache> make_origin_cache(std::size_t max_entries) {
    return std::make_unique<OriginCache>(max_entries);
}

}  // namespace authgate::cors
