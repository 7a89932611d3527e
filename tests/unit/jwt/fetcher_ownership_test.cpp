// Who owns a JWKS fetcher: ProviderSet::make_fetcher hands it to the caller (the server),
// so the set, and the snapshot holding it, never stop or join a thread when destroyed;
// stopping the fetcher ends the fetching but keeps the keys already published.
#include <thread>

#include <gtest/gtest.h>

#include "fetcher_threads.h"
#include "jwks_server.h"
#include "remote_provider_test.h"

namespace authgate::jwt {
namespace {
using namespace test;
using namespace std::chrono_literals;

class FetcherOwnershipTest : public RemoteProviderTest {
protected:
    JwksServer server_;
};

TEST_F(FetcherOwnershipTest, NoFetcherWithoutAJwksUrl) {
    config::Jwt jwt;
    auto cfg = provider_config("static", {"HS256"});
    cfg.keys.secret = std::string(32, 's');
    jwt.providers = {cfg};
    config::Diagnostics diag;
    auto set = ProviderSet::create(jwt, diag);
    ASSERT_TRUE(diag.ok());
    EXPECT_EQ(set->make_fetcher(), nullptr);
}

// The last reference to the providers is dropped on another thread (as a worker drops the
// last reference to a replaced snapshot) while their fetcher runs: that joins nothing, the
// fetcher goes on until its owner stops it, and the keys outlive the stop.
TEST_F(FetcherOwnershipTest, TheCallerOwnsTheFetcherNotTheSet) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 20ms);
    const int baseline = jwks_fetcher_threads();
    auto fetcher = set_->make_fetcher();
    ASSERT_NE(fetcher, nullptr);
    EXPECT_EQ(jwks_fetcher_threads(), baseline);  // made, not started
    fetcher->start();
    ASSERT_TRUE(provider_->wait_for_fetch_attempts(2, 10s));
    ASSERT_TRUE(eventually([&] { return jwks_fetcher_threads() > baseline; }));
    const int running = jwks_fetcher_threads();

    auto set = std::move(set_);
    auto auth = std::move(auth_);
    std::thread([set = std::move(set), auth = std::move(auth)]() mutable {
        auth.reset();
        set.reset();  // the last reference to the set: joins nothing
    }).join();
    EXPECT_EQ(jwks_fetcher_threads(), running);
    const auto attempts = provider_->jwks_stats().attempts;
    EXPECT_TRUE(provider_->wait_for_fetch_attempts(attempts + 2, 10s)) << "the fetcher stopped with the set";

    fetcher->stop();  // the owner stops it, here
    fetcher.reset();
    EXPECT_EQ(jwks_fetcher_threads(), baseline);
    const auto keys = provider_->key_set();
    ASSERT_TRUE(keys);
    EXPECT_FALSE(keys->keys.empty());
    EXPECT_TRUE(provider_->ever_fetched());
}

// A stopped fetcher's providers still verify with the keys they had.
TEST_F(FetcherOwnershipTest, StoppingTheFetcherKeepsVerifying) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 1h);
    auto fetcher = set_->make_fetcher();
    fetcher->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    fetcher->stop();
    fetcher.reset();
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
}

}  // namespace
}  // namespace authgate::jwt
