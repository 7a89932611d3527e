#include "jwt/token_cache.h"

#include <gtest/gtest.h>

namespace authgate::jwt {
namespace {

std::shared_ptr<const VerifiedToken> entry(std::uint64_t generation) {
    auto v = std::make_shared<VerifiedToken>();
    v->generation = generation;
    return v;
}

TEST(TokenCache, HitReturnsTheSameObject) {
    TokenCache c(10);
    auto v = entry(1);
    c.insert(7, "tok", v);
    EXPECT_EQ(c.find(7, "tok", 1), v);
    EXPECT_EQ(c.hits(), 1u);
    EXPECT_EQ(c.find(8, "tok", 1), nullptr);   // other provider
    EXPECT_EQ(c.find(7, "tok2", 1), nullptr);  // other token
    EXPECT_EQ(c.misses(), 2u);
}

TEST(TokenCache, GenerationChangeInvalidates) {
    TokenCache c(10);
    c.insert(1, "tok", entry(5));
    EXPECT_EQ(c.find(1, "tok", 6), nullptr);
    EXPECT_EQ(c.size(), 0u);
}

TEST(TokenCache, BoundedLeastRecentlyUsedEviction) {
    TokenCache c(3);
    c.insert(1, "a", entry(1));
    c.insert(1, "b", entry(1));
    c.insert(1, "c", entry(1));
    ASSERT_NE(c.find(1, "a", 1), nullptr);  // a is now most recent
    c.insert(1, "d", entry(1));            // evicts b
    EXPECT_EQ(c.size(), 3u);
    EXPECT_EQ(c.find(1, "b", 1), nullptr);
    EXPECT_NE(c.find(1, "a", 1), nullptr);
    EXPECT_NE(c.find(1, "c", 1), nullptr);
    EXPECT_NE(c.find(1, "d", 1), nullptr);
    for (int i = 0; i < 1000; ++i) c.insert(2, "t" + std::to_string(i), entry(1));
    EXPECT_EQ(c.size(), 3u);
}

// The worker's metrics see what every cache it ever had did: counters outlive the cache a
// reload replaces, and only capacity pushes an entry out as an eviction.
TEST(TokenCache, CountsHitsMissesAndEvictionsIntoTheWorkersCounters) {
    observe::CacheCounters counters;
    {
        TokenCache c(2, &counters);
        c.insert(1, "a", entry(1));
        c.insert(1, "b", entry(1));
        EXPECT_NE(c.find(1, "a", 1), nullptr);  // hit
        EXPECT_EQ(c.find(1, "x", 1), nullptr);  // miss: unseen
        EXPECT_EQ(c.find(1, "b", 2), nullptr);  // miss: made under other keys (dropped, not evicted)
        c.insert(1, "c", entry(1));
        c.insert(1, "d", entry(1));             // over capacity: evicts a
        c.erase(1, "d");                        // not an eviction
        EXPECT_EQ(c.evictions(), 1u);
    }
    auto next = make_token_cache(1, &counters);  // as after a reload
    next->insert(1, "e", entry(1));
    next->insert(1, "f", entry(1));
    EXPECT_NE(next->find(1, "f", 1), nullptr);
    EXPECT_EQ(counters.hits.get(), 2u);
    EXPECT_EQ(counters.misses.get(), 2u);
    EXPECT_EQ(counters.evictions.get(), 2u);
}

TEST(TokenCache, ReinsertReplacesAndEraseRemoves) {
    TokenCache c(3);
    c.insert(1, "a", entry(1));
    auto v2 = entry(2);
    c.insert(1, "a", v2);
    EXPECT_EQ(c.size(), 1u);
    EXPECT_EQ(c.find(1, "a", 2), v2);
    c.erase(1, "a");
    EXPECT_EQ(c.size(), 0u);
    c.insert(1, "x", entry(1));
    c.clear();
    EXPECT_EQ(c.size(), 0u);
}

TEST(TokenCache, LongTokensAsKeys) {
    TokenCache c(2);
    const std::string big(16 * 1024, 'x');
    c.insert(1, big, entry(1));
    EXPECT_NE(c.find(1, std::string(big), 1), nullptr);
}

TEST(TokenCache, OfferCachesATokenOnItsSecondVerification) {
    TokenCache c(10);
    const auto h = TokenCache::hash("tok");
    EXPECT_FALSE(c.offer(1, "tok", h, entry(1)));
    EXPECT_EQ(c.size(), 0u);
    EXPECT_FALSE(c.offer(2, "tok", h, entry(1)));  // per provider
    EXPECT_TRUE(c.offer(1, "tok", h, entry(1)));
    EXPECT_EQ(c.size(), 1u);
    EXPECT_NE(c.find(1, "tok", h, 1), nullptr);
    EXPECT_EQ(c.find(2, "tok", h, 1), nullptr);
}

TEST(TokenCache, OneUseTokensNeverEnterOrEvict) {
    TokenCache c(100);
    const std::string reused = "reused";
    ASSERT_FALSE(c.offer(1, reused, TokenCache::hash(reused), entry(1)));
    ASSERT_TRUE(c.offer(1, reused, TokenCache::hash(reused), entry(1)));
    // A flood of distinct tokens, each verified once: nothing is cached, nothing evicted.
    for (int i = 0; i < 100000; ++i) {
        const std::string t = "one-use-" + std::to_string(i);
        EXPECT_FALSE(c.offer(1, t, TokenCache::hash(t), entry(1))) << i;
    }
    EXPECT_EQ(c.size(), 1u);
    EXPECT_NE(c.find(1, reused, 1), nullptr);
}

TEST(TokenCache, AdmissionForgetsAfterAWindowOfSightings) {
    TokenCache c(100);
    ASSERT_EQ(c.admission_window(), 100u);
    ASSERT_FALSE(c.offer(1, "a", TokenCache::hash("a"), entry(1)));
    for (std::size_t i = 0; i < c.admission_window(); ++i) {
        const std::string t = "other-" + std::to_string(i);
        c.offer(1, t, TokenCache::hash(t), entry(1));
    }
    // "a" was seen a whole window ago: it counts as new again.
    EXPECT_FALSE(c.offer(1, "a", TokenCache::hash("a"), entry(1)));
    EXPECT_TRUE(c.offer(1, "a", TokenCache::hash("a"), entry(1)));
}

TEST(TokenCache, AdmissionTableIsBoundedForHugeCaches) {
    TokenCache c(std::size_t{1} << 24);
    EXPECT_EQ(c.admission_window(), std::size_t{1} << 21);
    EXPECT_EQ(TokenCache(1).admission_window(), 16u);
}

TEST(TokenCache, FactoryZeroMeansOff) {
    EXPECT_EQ(make_token_cache(0), nullptr);
    auto c = make_token_cache(5);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->capacity(), 5u);
}

}  // namespace
}  // namespace authgate::jwt
