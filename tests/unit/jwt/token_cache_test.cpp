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

TEST(TokenCache, FactoryZeroMeansOff) {
    EXPECT_EQ(make_token_cache(0), nullptr);
    auto c = make_token_cache(5);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->capacity(), 5u);
}

}  // namespace
}  // namespace authgate::jwt
