#include "cors/origin_cache.h"

#include <gtest/gtest.h>

#include <string>

#include "cors_test_util.h"

namespace authgate::cors {
namespace {

using test::bare_policy;
using test::compile;

TEST(OriginCache, StoresPerPolicy) {
    OriginCache cache(8);
    EXPECT_EQ(cache.find(1, "https://a.test"), std::nullopt);
    cache.insert(1, "https://a.test", true);
    cache.insert(2, "https://a.test", false);
    EXPECT_EQ(cache.find(1, "https://a.test"), true);
    EXPECT_EQ(cache.find(2, "https://a.test"), false);
    EXPECT_EQ(cache.find(3, "https://a.test"), std::nullopt);
    EXPECT_EQ(cache.hits(), 2u);
    EXPECT_EQ(cache.misses(), 2u);
}

TEST(OriginCache, IsBounded) {
    OriginCache cache(4);
    for (int i = 0; i < 100; ++i) {
        cache.insert(1, "https://o" + std::to_string(i) + ".test", i % 2 == 0);
        EXPECT_LE(cache.size(), 4u);
    }
    EXPECT_GT(cache.evictions(), 0u);
    // The newest entry survives an eviction.
    EXPECT_EQ(cache.find(1, "https://o99.test"), false);
}

TEST(OriginCache, ZeroDisables) {
    OriginCache cache(0);
    cache.insert(1, "https://a.test", true);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.find(1, "https://a.test"), std::nullopt);
}

TEST(OriginCache, PolicyUsesItOnlyForRegexes) {
    auto cfg = bare_policy();
    cfg.allow_origins = {"https://exact.test"};
    cfg.allow_origin_regexes = {R"(https://[a-z]+\.re\.test)"};
    const auto policy = compile(cfg);
    auto cache = make_origin_cache(64);

    EXPECT_TRUE(policy->origin_allowed("https://exact.test", cache.get()));
    EXPECT_EQ(cache->size(), 0u);  // exact answers need no memo

    EXPECT_TRUE(policy->origin_allowed("https://a.re.test", cache.get()));
    EXPECT_FALSE(policy->origin_allowed("https://evil.test", cache.get()));
    EXPECT_EQ(cache->size(), 2u);
    EXPECT_EQ(cache->misses(), 2u);

    EXPECT_TRUE(policy->origin_allowed("https://A.RE.test", cache.get()));  // same key once lower-cased
    EXPECT_FALSE(policy->origin_allowed("https://evil.test", cache.get()));
    EXPECT_EQ(cache->hits(), 2u);
    EXPECT_EQ(cache->size(), 2u);

    // Malformed origins are refused before the cache: they cannot fill it.
    EXPECT_FALSE(policy->origin_allowed("https://a.re.test/x", cache.get()));
    EXPECT_EQ(cache->size(), 2u);
}

TEST(OriginCache, SharedByPoliciesWithoutMixingAnswers) {
    auto a_cfg = bare_policy("a");
    a_cfg.allow_origin_regexes = {R"(https://.*\.a\.test)"};
    auto b_cfg = bare_policy("b");
    b_cfg.allow_origin_regexes = {R"(https://.*\.b\.test)"};
    const auto a = compile(a_cfg);
    const auto b = compile(b_cfg);
    auto cache = make_origin_cache(64);
    for (int round = 0; round < 2; ++round) {
        EXPECT_TRUE(a->origin_allowed("https://x.a.test", cache.get()));
        EXPECT_FALSE(b->origin_allowed("https://x.a.test", cache.get()));
        EXPECT_FALSE(a->origin_allowed("https://x.b.test", cache.get()));
        EXPECT_TRUE(b->origin_allowed("https://x.b.test", cache.get()));
    }
    EXPECT_EQ(cache->size(), 4u);
    EXPECT_EQ(cache->hits(), 4u);
}

TEST(OriginCache, SmallCacheStillGivesSameDecisions) {
    auto cfg = bare_policy();
    cfg.allow_origin_regexes = {R"(https://o[0-9]*[02468]\.test)"};
    const auto policy = compile(cfg);
    auto cache = make_origin_cache(3);
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 20; ++i) {
            const std::string origin = "https://o" + std::to_string(i) + ".test";
            EXPECT_EQ(policy->origin_allowed(origin, cache.get()), i % 2 == 0) << origin;
            EXPECT_LE(cache->size(), 3u);
        }
    }
}

TEST(BigPolicy, ThousandOriginsAndTwentyRegexes) {
    auto cfg = bare_policy();
    for (int i = 0; i < 1000; ++i) cfg.allow_origins.push_back("https://app" + std::to_string(i) + ".example.com");
    for (int i = 0; i < 20; ++i) {
        cfg.allow_origin_regexes.push_back("^https://[a-z0-9-]+\\.tenant" + std::to_string(i) + "\\.example\\.net$");
    }
    const auto policy = compile(cfg);
    auto cache = make_origin_cache(OriginCache::kDefaultMaxEntries);
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 1000; i += 37) {
            EXPECT_TRUE(policy->origin_allowed("https://app" + std::to_string(i) + ".example.com", cache.get()));
        }
        EXPECT_FALSE(policy->origin_allowed("https://app1000.example.com", cache.get()));
        EXPECT_TRUE(policy->origin_allowed("https://shop.tenant0.example.net", cache.get()));
        EXPECT_TRUE(policy->origin_allowed("https://shop.tenant19.example.net", cache.get()));
        EXPECT_FALSE(policy->origin_allowed("https://shop.tenant20.example.net", cache.get()));
        EXPECT_FALSE(policy->origin_allowed("https://shop.tenant1.example.net.evil.org", cache.get()));
    }
    // The five origins not in the exact list went to the regexes once, then the cache.
    EXPECT_EQ(cache->misses(), 5u);
    EXPECT_EQ(cache->hits(), 5u);
}

}  // namespace
}  // namespace authgate::cors
