// The JWKS fetcher against a real HTTP server on 127.0.0.1 (ephemeral port, in-process
// thread). Synchronisation is by bounded waits on conditions, never by sleeping.
#include "jwt/jwks_fetcher.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "jwks_server.h"
#include "remote_provider_test.h"

namespace authgate::jwt {
namespace {
using namespace test;
using namespace std::chrono_literals;

class FetcherTest : public RemoteProviderTest {
protected:
    JwksServer server_;
};

TEST_F(FetcherTest, InitialFetch) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1"), jwk_for("p256", "e1")}));
    make(server_.url(), 1h);
    EXPECT_EQ(call(rsa_token("k1")).status, Status::keys_unavailable);  // before start
    set_->start();
    set_->start();  // idempotent
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_EQ(provider_->jwks_stats().successes, 1u);
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
    EXPECT_EQ(call(sign_token(Algorithm::ES256, *private_key("p256"), claims(), {{"kid", "e1"}})).status, Status::ok);
    EXPECT_EQ(server_.requests(), 1);
}

TEST_F(FetcherTest, PeriodicRefreshAndBadResponsesKeepLastGoodSet) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 50ms);
    set_->start();
    ASSERT_TRUE(provider_->wait_for_fetch_attempts(3, 10s));
    EXPECT_GE(server_.requests(), 3);
    EXPECT_EQ(provider_->jwks_stats().failures, 0u);

    for (auto [body, status] : {std::pair<std::string, int>{"garbage", 200}, {jwks_json({jwk_for("rsa", "k1")}), 500},
                                {R"({"keys":[]})", 200}}) {
        server_.set_body(body, status);
        const auto failures = provider_->jwks_stats().failures;
        ASSERT_TRUE(eventually([&] { return provider_->jwks_stats().failures > failures; }));
        EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
    }
}

TEST_F(FetcherTest, OutageKeepsLastGoodSet) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 50ms);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    server_.stop();
    const auto failures = provider_->jwks_stats().failures;
    ASSERT_TRUE(eventually([&] { return provider_->jwks_stats().failures >= failures + 2; }));
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
}

TEST_F(FetcherTest, NeverFetchedIsUnavailable) {
    const std::string url = server_.url();
    server_.stop();  // nothing listens on that port any more
    make(url, 1h);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_EQ(provider_->jwks_stats().failures, 1u);
    auto out = call(rsa_token("k1"));
    EXPECT_EQ(out.action, AuthOutcome::Action::unavailable);
    EXPECT_EQ(out.status, Status::keys_unavailable);
}

TEST_F(FetcherTest, RotationNewKidTriggersRefetch) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 1h);
    set_->set_kid_refetch_cooldown(0ms);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    server_.set_body(jwks_json({jwk_for("rsa", "k1"), jwk_for("rsa2", "k2")}));
    // The request that sees the new kid is answered at once; the fetch happens behind it.
    EXPECT_EQ(call(rsa_token("k2", "rsa2")).status, Status::unknown_kid);
    ASSERT_TRUE(provider_->wait_for_fetch_attempts(2, 10s));
    EXPECT_EQ(call(rsa_token("k2", "rsa2")).status, Status::ok);
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
    EXPECT_EQ(server_.requests(), 2);
}

TEST_F(FetcherTest, UnknownKidFloodFetchesAtMostOncePerCooldown) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 1h);
    set_->set_kid_refetch_cooldown(60s);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    const std::string header = base64url_encode(R"({"alg":"RS256","kid":"bad-)");
    std::vector<std::thread> threads;
    std::atomic<int> unknown{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 250; ++i) {
                const auto token = rsa_token("bad-" + std::to_string(t * 1000 + i));
                if (call(token).status == Status::unknown_kid) unknown.fetch_add(1);
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(unknown.load(), 1000);
    ASSERT_TRUE(provider_->wait_for_fetch_attempts(2, 10s));
    EXPECT_EQ(provider_->jwks_stats().kid_refetch_requests, 1u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(call(rsa_token("again-" + std::to_string(i))).status, Status::unknown_kid);
    EXPECT_EQ(provider_->jwks_stats().kid_refetch_requests, 1u);
    EXPECT_FALSE(provider_->key_store().refetch_pending());
    EXPECT_EQ(server_.requests(), 2);
}

// A config reload builds new providers; one whose jwks_url did not change starts with the
// keys the old one fetched, so nothing answers 503 while the issuer is down.
TEST_F(FetcherTest, ReloadWithTheSameUrlStartsWithTheLastFetchedKeys) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 1h);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    ASSERT_EQ(call(rsa_token("k1")).status, Status::ok);
    server_.stop();  // the issuer goes down, then the config is reloaded

    for (int reload = 1; reload <= 2; ++reload) {  // a carried-over set carries over again
        SCOPED_TRACE("reload " + std::to_string(reload));
        const auto old_set = set_;
        const auto old_id = provider_->id();
        make(server_.url(), 1h);
        set_->carry_over_keys(*old_set);
        // Before any fetch of its own.
        EXPECT_EQ(provider_->jwks_stats().attempts, 0u);
        EXPECT_TRUE(provider_->ever_fetched());
        EXPECT_NE(provider_->id(), old_id);  // verified-token cache entries of the old config never match
        EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
        EXPECT_EQ(call(rsa_token("k9")).status, Status::unknown_kid);  // not "no keys yet"
        // Its own first fetch fails: the carried set is the last good one.
        set_->start();
        ASSERT_TRUE(set_->wait_for_first_fetch(10s));
        EXPECT_EQ(provider_->jwks_stats().failures, 1u);
        EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
        old_set->stop();
    }
    EXPECT_EQ(server_.requests(), 1);
}

TEST_F(FetcherTest, ReloadWithAnotherUrlStartsWithoutKeys) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 1h);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    const auto old_set = set_;

    JwksServer moved;
    const std::string other_url = moved.url();
    moved.stop();  // the new URL is down
    make(other_url, 1h);
    set_->carry_over_keys(*old_set);
    EXPECT_FALSE(provider_->ever_fetched());
    EXPECT_FALSE(provider_->key_set());
    EXPECT_EQ(call(rsa_token("k1")).status, Status::keys_unavailable);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_EQ(call(rsa_token("k1")).status, Status::keys_unavailable);
}

}  // namespace
}  // namespace authgate::jwt
