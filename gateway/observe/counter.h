// The counter every metric is made of, on its own so that a component outside observe/
// (the token cache) can count into a worker's metrics without depending on them.
#pragma once

#include <atomic>
#include <cstdint>

namespace authgate::observe {

// A counter with one writer thread: increments are a plain load and store (no locked
// instruction on the hot path); any thread may read it.
class Counter {
public:
    void add(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// What a per-worker cache reports: lookups that found an entry, lookups that did not,
// and entries pushed out to make room.
struct CacheCounters {
    Counter hits;
    Counter misses;
    Counter evictions;
};

}  // namespace authgate::observe
