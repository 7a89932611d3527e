// What both JWKS fetcher suites (plain http and https) build on: a provider "remote" whose
// keys come from a JWKS URL, behind a route authenticator, and a bounded poll.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "jwt/authenticator.h"
#include "jwt/provider.h"
#include "jwt_test_util.h"

namespace authgate::jwt::test {

// Polls `cond` until true or the deadline passes.
template <typename F>
bool eventually(F cond, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll interval, not synchronisation
    }
    return cond();
}

class RemoteProviderTest : public ::testing::Test {
protected:
    // `adjust` changes the provider's config last (discovery instead of a jwks_url, a
    // key cache file ...).
    void make(const std::string& url, config::Duration refresh,
              const std::function<void(config::JwtProvider&)>& adjust = {}) {
        config::Jwt jwt;
        auto cfg = provider_config("remote", {"RS256", "ES256"});
        cfg.keys.jwks_url = url;
        cfg.keys.jwks_refresh = refresh;
        if (adjust) adjust(cfg);
        jwt.providers = {cfg};
        config::Diagnostics diag;
        set_ = ProviderSet::create(jwt, diag);
        ASSERT_TRUE(diag.ok()) << diag.errors().front();
        provider_ = set_->find("remote");
        config::RouteAuth ra;
        ra.none = false;
        ra.providers = {"remote"};
        auth_ = Authenticator::create(ra, *set_);
    }
    AuthOutcome call(const std::string& token) {
        return auth_->authenticate(FakeRequest().bearer(token), kNow, nullptr);
    }
    static std::string rsa_token(const std::string& kid, const std::string& which = "rsa") {
        return sign_token(Algorithm::RS256, *private_key(which), claims(), {{"kid", kid}});
    }
    // The same, from `issuer` (a provider with an issuer checks iss).
    static std::string rsa_token_from(const std::string& issuer, const std::string& kid,
                                      const std::string& which = "rsa") {
        auto c = claims();
        c["iss"] = issuer;
        return sign_token(Algorithm::RS256, *private_key(which), c, {{"kid", kid}});
    }
    // Stops the fetcher; a derived fixture stops its server after calling this.
    void TearDown() override {
        if (set_) set_->stop();
    }

    std::shared_ptr<ProviderSet> set_;
    std::shared_ptr<const Provider> provider_;
    std::shared_ptr<const Authenticator> auth_;
};

}  // namespace authgate::jwt::test
