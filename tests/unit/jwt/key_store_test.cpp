#include "jwt/key_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;
using namespace std::chrono_literals;

const std::string kUrl = "https://issuer.example/jwks";

KeyPtr rsa(const std::string& kid) { return Key::from_jwk(jwk_for("rsa", kid)).key; }

TEST(KeyStore, StaticKeysArePublishedAtOnce) {
    KeyStore store({secret_key("a-secret-that-is-long-enough-for-hs256!!")}, std::nullopt);
    ASSERT_TRUE(store.current());
    EXPECT_EQ(store.current()->keys.size(), 1u);
    EXPECT_NE(store.generation(), 0u);
    EXPECT_EQ(store.current()->generation, store.generation());
    EXPECT_FALSE(store.ever_fetched());
    EXPECT_FALSE(store.awaiting_first_fetch());  // nothing to wait for without a URL

    KeyStore empty({}, std::nullopt);
    EXPECT_FALSE(empty.current());
    EXPECT_EQ(empty.generation(), 0u);
}

TEST(KeyStore, FetchedKeysComeFirstAndEachPublishIsANewGeneration) {
    const KeyPtr fixed = secret_key("a-secret-that-is-long-enough-for-hs256!!");
    KeyStore store({fixed}, kUrl);
    EXPECT_TRUE(store.awaiting_first_fetch());
    const auto g0 = store.generation();

    store.publish_fetched({rsa("a")});
    EXPECT_FALSE(store.awaiting_first_fetch());
    const auto g1 = store.generation();
    EXPECT_GT(g1, g0);
    const KeySetPtr set = store.current();
    ASSERT_EQ(set->keys.size(), 2u);
    EXPECT_EQ(set->keys[0]->kid(), "a");  // a rotated issuer key wins over a static copy
    EXPECT_EQ(set->keys[1], fixed);

    store.publish_fetched({rsa("b")});
    EXPECT_GT(store.generation(), g1);
    EXPECT_EQ(store.current()->keys[0]->kid(), "b");
    EXPECT_EQ(set->keys[0]->kid(), "a");  // a reader's set never changes under it
}

TEST(KeyStore, ReadersReuseTheirCopyUntilTheGenerationMoves) {
    KeyStore store({}, kUrl);
    store.publish_fetched({rsa("a")});
    EXPECT_EQ(store.current(), store.current());  // the same set, not a new one

    KeySetPtr seen_by_other;
    std::thread([&] { seen_by_other = store.current(); }).join();
    EXPECT_EQ(seen_by_other, store.current());

    store.publish_fetched({rsa("b")});
    std::thread([&] { seen_by_other = store.current(); }).join();
    EXPECT_EQ(seen_by_other->generation, store.generation());
    EXPECT_EQ(store.current()->generation, store.generation());
}

TEST(KeyStore, CarryOverTakesFetchedKeysFromTheSameUrlOnly) {
    KeyStore old({}, kUrl);
    KeyStore next({}, kUrl);
    EXPECT_FALSE(next.carry_over_fetched(old));  // nothing fetched yet
    old.publish_fetched({rsa("a")});
    old.record_fetch(true);
    EXPECT_TRUE(next.carry_over_fetched(old));
    EXPECT_TRUE(next.ever_fetched());
    EXPECT_EQ(next.current()->keys.at(0)->kid(), "a");
    EXPECT_EQ(next.stats().attempts, 0u);  // counts belong to the store that fetched

    KeyStore fetched({}, kUrl);
    fetched.publish_fetched({rsa("b")});
    const auto gen = fetched.generation();
    EXPECT_FALSE(fetched.carry_over_fetched(old));  // its own fetch is newer
    EXPECT_EQ(fetched.generation(), gen);

    KeyStore moved({}, "https://elsewhere.example/jwks");
    EXPECT_FALSE(moved.carry_over_fetched(old));
    KeyStore static_only({rsa("c")}, std::nullopt);
    EXPECT_FALSE(static_only.carry_over_fetched(old));
    EXPECT_FALSE(old.carry_over_fetched(old));
}

TEST(KeyStore, RefetchRequestsRespectTheCooldownAndPokeTheFetcher) {
    KeyStore store({}, kUrl);
    auto signal = std::make_shared<RefetchSignal>();
    int pokes = 0;
    signal->set_handler([&] { ++pokes; });
    store.attach_signal(signal);

    store.set_refetch_cooldown(1h);
    store.request_refetch();
    store.request_refetch();  // within the cooldown: not granted
    EXPECT_EQ(pokes, 1);
    EXPECT_EQ(store.stats().kid_refetch_requests, 1u);
    EXPECT_TRUE(store.refetch_pending());
    EXPECT_TRUE(store.take_refetch_request());
    EXPECT_FALSE(store.take_refetch_request());

    store.set_refetch_cooldown(0ms);
    store.request_refetch();
    EXPECT_EQ(pokes, 2);

    KeyStore no_url({rsa("a")}, std::nullopt);
    no_url.attach_signal(signal);
    no_url.set_refetch_cooldown(0ms);
    no_url.request_refetch();  // nowhere to fetch from
    EXPECT_EQ(pokes, 2);
    EXPECT_FALSE(no_url.refetch_pending());
}

TEST(KeyStore, FetchCountsAndTheirWait) {
    KeyStore store({}, kUrl);
    store.record_fetch(false);
    store.record_fetch(true);
    const auto stats = store.stats();
    EXPECT_EQ(stats.attempts, 2u);
    EXPECT_EQ(stats.successes, 1u);
    EXPECT_EQ(stats.failures, 1u);
    EXPECT_TRUE(store.wait_for_fetch_attempts(2, 0ms));
    EXPECT_FALSE(store.wait_for_fetch_attempts(3, 1ms));
}

// Where the keys in use came from: static ones at first, the cache file's until a live
// fetch replaces them; a reload's store keeps saying the carried keys are cached ones.
TEST(KeyStore, RemembersTheSourceOfItsKeys) {
    KeyStore fixed({secret_key("a-secret-that-is-long-enough-for-hs256!!")}, std::nullopt);
    EXPECT_EQ(fixed.stats().source, KeySource::static_keys);
    KeyStore none({}, kUrl);
    EXPECT_EQ(none.stats().source, KeySource::none);

    const auto at = std::chrono::system_clock::now() - 2h;
    KeyStore old({}, kUrl);
    old.publish_cached({rsa("a")}, at);
    EXPECT_TRUE(old.ever_fetched());  // not "awaiting first fetch": no 503
    EXPECT_FALSE(old.awaiting_first_fetch());
    EXPECT_EQ(old.stats().source, KeySource::cache_file);
    EXPECT_EQ(old.stats().cached_fetched_at, at);
    EXPECT_EQ(old.stats().last_success.time_since_epoch().count(), 0);  // no live fetch yet

    KeyStore next({}, kUrl);
    ASSERT_TRUE(next.carry_over_fetched(old));
    EXPECT_EQ(next.stats().source, KeySource::cache_file);
    EXPECT_EQ(next.stats().cached_fetched_at, at);

    next.publish_fetched({rsa("b")});
    EXPECT_EQ(next.stats().source, KeySource::fetched);
    EXPECT_EQ(next.current()->keys.at(0)->kid(), "b");
    EXPECT_EQ(key_source_name(KeySource::cache_file), "cache_file");
    EXPECT_EQ(key_source_name(KeySource::static_keys), "static");
}

TEST(KeyStore, RecordsTheLastFetchErrorAndDiscoveryState) {
    KeyStore store({}, kUrl);
    store.record_discovery(true, "https://issuer.example/keys");
    store.record_fetch(false, "jwks_uri https://issuer.example/keys: HTTP status 500");
    auto st = store.stats();
    EXPECT_EQ(st.jwks_uri, "https://issuer.example/keys");
    EXPECT_EQ(st.discovery_successes, 1u);
    EXPECT_EQ(st.last_error, "jwks_uri https://issuer.example/keys: HTTP status 500");
    store.record_discovery(false);
    store.record_fetch(true);
    st = store.stats();
    EXPECT_EQ(st.discovery_failures, 1u);
    EXPECT_EQ(st.jwks_uri, "https://issuer.example/keys");  // the last good document's
    EXPECT_EQ(st.last_error, "");
}

}  // namespace
}  // namespace authgate::jwt
