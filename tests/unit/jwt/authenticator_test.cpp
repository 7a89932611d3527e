#include "jwt/authenticator.h"

#include <gtest/gtest.h>

#include "jwt/provider.h"
#include "jwt/token_cache.h"
#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;
using Action = AuthOutcome::Action;
using Mode = config::RouteAuth::Mode;

constexpr const char* kSecretA = "secret-a-0123456789-0123456789-012";
constexpr const char* kSecretB = "secret-b-0123456789-0123456789-012";

class AuthTest : public ::testing::Test {
protected:
    void SetUp() override {
        config::Jwt jwt;
        auto a = provider_config("a", {"HS256"});
        a.keys.secret = kSecretA;
        a.issuers = {"https://a"};
        a.forward_claims = {{"sub", "X-User"}};
        auto b = provider_config("b", {"HS256", "ES256"});
        b.keys.secret = kSecretB;
        b.issuers = {"https://b"};
        b.forward_claims = {{"sub", "X-B-User"}};
        b.forward_payload_header = "X-Jwt-Payload";
        b.strip_token = true;
        b.token_from = {{config::TokenSource::Kind::header, "Authorization", "Bearer "},
                        {config::TokenSource::Kind::cookie, "session", ""}};
        jwt.providers = {a, b};
        providers_ = ProviderSet::create(jwt, diag_);
        ASSERT_TRUE(diag_.ok()) << diag_.errors().front();
    }

    std::shared_ptr<const Authenticator> route(std::vector<std::string> names, Mode mode = Mode::required,
                                               std::vector<std::pair<std::string, std::vector<std::string>>> rules = {}) {
        config::RouteAuth auth;
        auth.none = false;
        auth.providers = std::move(names);
        auth.mode = mode;
        auth.claims = std::move(rules);
        auto a = Authenticator::create(auth, *providers_);
        EXPECT_TRUE(diag_.ok());
        return a;
    }

    std::string token_a(boost::json::object c = claims()) {
        c["iss"] = "https://a";
        return sign_token(Algorithm::HS256, *secret_key(kSecretA), c);
    }
    std::string token_b(boost::json::object c = claims()) {
        c["iss"] = "https://b";
        return sign_token(Algorithm::HS256, *secret_key(kSecretB), c);
    }

    config::Diagnostics diag_;
    std::shared_ptr<ProviderSet> providers_;
};

TEST_F(AuthTest, IdentityHeadersAreLowerCaseAndUnique) {
    const std::vector<std::string> want{"x-user", "x-b-user", "x-jwt-payload"};
    EXPECT_EQ(providers_->identity_headers(), want);
    EXPECT_TRUE(providers_->find("a"));
    EXPECT_FALSE(providers_->find("zzz"));
}

TEST_F(AuthTest, RequiredMode) {
    auto auth = route({"a"});
    auto ok = auth->authenticate(FakeRequest().bearer(token_a()), kNow, nullptr);
    EXPECT_EQ(ok.action, Action::forward);
    EXPECT_EQ(ok.status, Status::ok);
    EXPECT_TRUE(ok.token_present);
    ASSERT_TRUE(ok.verified);
    EXPECT_EQ(ok.verified->forward_headers.at(0), (std::pair<std::string, std::string>{"X-User", "alice"}));
    ASSERT_TRUE(ok.location);
    EXPECT_EQ(ok.location->name, "Authorization");
    EXPECT_FALSE(ok.strip_token);

    auto missing = auth->authenticate(FakeRequest(), kNow, nullptr);
    EXPECT_EQ(missing.action, Action::deny_401);
    EXPECT_EQ(missing.status, Status::token_missing);
    EXPECT_FALSE(missing.token_present);

    auto basic = auth->authenticate(FakeRequest().set("Authorization", "Basic Zm9vOmJhcg=="), kNow, nullptr);
    EXPECT_EQ(basic.status, Status::token_missing);

    auto bad = auth->authenticate(FakeRequest().bearer("garbage"), kNow, nullptr);
    EXPECT_EQ(bad.action, Action::deny_401);
    EXPECT_EQ(bad.status, Status::token_malformed);
    EXPECT_TRUE(bad.token_present);
    EXPECT_FALSE(bad.verified);

    auto empty = auth->authenticate(FakeRequest().set("Authorization", "Bearer   "), kNow, nullptr);
    EXPECT_EQ(empty.status, Status::token_malformed);

    auto expired = auth->authenticate(FakeRequest().bearer(token_a(claims(-100))), kNow, nullptr);
    EXPECT_EQ(expired.status, Status::token_expired);

    auto huge = auth->authenticate(FakeRequest().bearer(std::string(kMaxTokenBytes + 1, 'a')), kNow, nullptr);
    EXPECT_EQ(huge.status, Status::token_too_large);
}

TEST_F(AuthTest, OptionalMode) {
    auto auth = route({"a"}, Mode::optional);
    auto anon = auth->authenticate(FakeRequest(), kNow, nullptr);
    EXPECT_EQ(anon.action, Action::forward);
    EXPECT_FALSE(anon.verified);
    EXPECT_FALSE(anon.token_present);
    auto bad = auth->authenticate(FakeRequest().bearer(token_b()), kNow, nullptr);
    EXPECT_EQ(bad.action, Action::deny_401);
    EXPECT_EQ(bad.status, Status::signature_invalid);
    auto good = auth->authenticate(FakeRequest().bearer(token_a()), kNow, nullptr);
    EXPECT_EQ(good.action, Action::forward);
    EXPECT_TRUE(good.verified);
}

TEST_F(AuthTest, ReportOnlyNeverBlocks) {
    auto auth = route({"a"}, Mode::report_only, {{"roles", {"admin"}}});
    auto missing = auth->authenticate(FakeRequest(), kNow, nullptr);
    EXPECT_EQ(missing.action, Action::forward);
    EXPECT_TRUE(missing.report_only_denial);
    EXPECT_EQ(missing.status, Status::token_missing);
    auto bad = auth->authenticate(FakeRequest().bearer(token_a(claims(-100))), kNow, nullptr);
    EXPECT_EQ(bad.action, Action::forward);
    EXPECT_TRUE(bad.report_only_denial);
    EXPECT_EQ(bad.status, Status::token_expired);
    EXPECT_FALSE(bad.verified);
    auto scope = auth->authenticate(FakeRequest().bearer(token_a()), kNow, nullptr);
    EXPECT_EQ(scope.action, Action::forward);
    EXPECT_TRUE(scope.report_only_denial);
    EXPECT_EQ(scope.status, Status::insufficient_scope);
    auto c = claims();
    c["roles"] = boost::json::array{"admin"};
    auto good = auth->authenticate(FakeRequest().bearer(token_a(c)), kNow, nullptr);
    EXPECT_FALSE(good.report_only_denial);
    EXPECT_EQ(good.status, Status::ok);
    EXPECT_TRUE(good.verified);
}

TEST_F(AuthTest, ClaimRulesGive403) {
    auto auth = route({"a"}, Mode::required, {{"scope", {"orders:read"}}});
    auto c = claims();
    c["scope"] = "profile";
    auto denied = auth->authenticate(FakeRequest().bearer(token_a(c)), kNow, nullptr);
    EXPECT_EQ(denied.action, Action::deny_403);
    EXPECT_EQ(denied.status, Status::insufficient_scope);
    EXPECT_FALSE(denied.verified);
    c["scope"] = "profile orders:read";
    EXPECT_EQ(auth->authenticate(FakeRequest().bearer(token_a(c)), kNow, nullptr).action, Action::forward);
}

TEST_F(AuthTest, SeveralProvidersAnyMayAccept) {
    auto auth = route({"a", "b"});
    auto a = auth->authenticate(FakeRequest().bearer(token_a()), kNow, nullptr);
    ASSERT_TRUE(a.verified);
    EXPECT_EQ(a.verified->forward_headers.at(0).first, "X-User");
    EXPECT_FALSE(a.strip_token);
    auto b = auth->authenticate(FakeRequest().bearer(token_b()), kNow, nullptr);
    ASSERT_TRUE(b.verified);
    EXPECT_EQ(b.verified->forward_headers.at(0).first, "X-B-User");
    EXPECT_TRUE(b.strip_token);
    // b's expired token: a rejects the signature, b gets further -> token expired.
    auto expired = auth->authenticate(FakeRequest().bearer(token_b(claims(-100))), kNow, nullptr);
    EXPECT_EQ(expired.status, Status::token_expired);
    // ES256 is only allowed by b, which has no EC key.
    auto es = sign_token(Algorithm::ES256, *private_key("p256"), claims());
    EXPECT_EQ(auth->authenticate(FakeRequest().bearer(es), kNow, nullptr).status, Status::key_mismatch);
    auto rs = sign_token(Algorithm::RS256, *private_key("rsa"), claims());
    EXPECT_EQ(auth->authenticate(FakeRequest().bearer(rs), kNow, nullptr).status, Status::algorithm_not_allowed);
}

// Selection by iss: a token naming one provider's issuer is verified by that provider
// alone; a token naming none (or no iss) is tried against each in route order.
TEST_F(AuthTest, IssuerSelectsTheProvider) {
    auto auth = route({"a", "b"});
    const auto& a = providers_->find("a")->verifier();
    const auto& b = providers_->find("b")->verifier();
    auto checks = [&] { return std::pair{a.signature_checks(), b.signature_checks()}; };
    using Checks = std::pair<std::uint64_t, std::uint64_t>;

    auto before = checks();
    auto ok = auth->authenticate(FakeRequest().bearer(token_b()), kNow, nullptr);
    EXPECT_EQ(ok.status, Status::ok);
    ASSERT_TRUE(ok.provider);
    EXPECT_EQ(ok.provider->name(), "b");
    EXPECT_EQ(checks(), (Checks{before.first, before.second + 1}));

    // b's expired token: b's failure, and a never looked at it.
    before = checks();
    auto expired = auth->authenticate(FakeRequest().bearer(token_b(claims(-100))), kNow, nullptr);
    EXPECT_EQ(expired.status, Status::token_expired);
    ASSERT_TRUE(expired.provider);
    EXPECT_EQ(expired.provider->name(), "b");
    EXPECT_EQ(checks(), (Checks{before.first, before.second + 1}));

    // Claims iss https://a but signed with b's secret: only a tries, and says why.
    auto c = claims();
    c["iss"] = "https://a";
    const std::string lying = sign_token(Algorithm::HS256, *secret_key(kSecretB), c);
    before = checks();
    auto refused = auth->authenticate(FakeRequest().bearer(lying), kNow, nullptr);
    EXPECT_EQ(refused.status, Status::signature_invalid);
    ASSERT_TRUE(refused.provider);
    EXPECT_EQ(refused.provider->name(), "a");
    EXPECT_EQ(checks(), (Checks{before.first + 1, before.second}));

    // No iss: every provider in route order, the furthest failure reported.
    const std::string anonymous = sign_token(Algorithm::HS256, *secret_key(kSecretB), claims());
    before = checks();
    auto in_order = auth->authenticate(FakeRequest().bearer(anonymous), kNow, nullptr);
    EXPECT_EQ(in_order.status, Status::issuer_not_allowed);  // b: good signature, no iss
    ASSERT_TRUE(in_order.provider);
    EXPECT_EQ(in_order.provider->name(), "b");
    EXPECT_EQ(checks(), (Checks{before.first + 1, before.second + 1}));

    // An iss no provider names: also in order.
    c["iss"] = "https://elsewhere";
    before = checks();
    auto foreign = auth->authenticate(FakeRequest().bearer(sign_token(Algorithm::HS256, *secret_key(kSecretA), c)), kNow,
                                      nullptr);
    EXPECT_EQ(foreign.status, Status::issuer_not_allowed);
    EXPECT_EQ(foreign.provider->name(), "a");
    EXPECT_EQ(checks(), (Checks{before.first + 1, before.second + 1}));

    // A malformed token reaches no provider.
    auto junk = auth->authenticate(FakeRequest().bearer("x.y"), kNow, nullptr);
    EXPECT_EQ(junk.status, Status::token_malformed);
    EXPECT_EQ(junk.provider, nullptr);
}

// Two providers naming the same issuer (a key rotation split over two entries): both are
// selected, in route order.
TEST_F(AuthTest, IssuerNamedByTwoProvidersSelectsBoth) {
    config::Jwt jwt;
    auto old_key = provider_config("old", {"HS256"});
    old_key.keys.secret = kSecretA;
    old_key.issuers = {"https://same"};
    auto new_key = provider_config("new", {"HS256"});
    new_key.keys.secret = kSecretB;
    new_key.issuers = {"https://same"};
    auto other = provider_config("other", {"HS256"});
    other.keys.secret = kSecretB;  // would verify the signature, but is not selected
    jwt.providers = {old_key, new_key, other};
    auto set = ProviderSet::create(jwt, diag_);
    config::RouteAuth ra;
    ra.none = false;
    ra.providers = {"old", "new", "other"};
    auto auth = Authenticator::create(ra, *set);
    auto c = claims();
    c["iss"] = "https://same";
    auto out = auth->authenticate(FakeRequest().bearer(sign_token(Algorithm::HS256, *secret_key(kSecretB), c)), kNow,
                                  nullptr);
    EXPECT_EQ(out.status, Status::ok);
    EXPECT_EQ(out.provider->name(), "new");
    EXPECT_EQ(set->find("other")->verifier().signature_checks(), 0u);
    EXPECT_EQ(set->find("old")->verifier().signature_checks(), 1u);
}

TEST_F(AuthTest, TokenSourcesPerProvider) {
    auto auth = route({"a", "b"});
    // Only b reads the "session" cookie, so a token of a found there is refused.
    auto via_cookie_b = auth->authenticate(FakeRequest().set("Cookie", "session=" + token_b()), kNow, nullptr);
    EXPECT_EQ(via_cookie_b.action, Action::forward);
    ASSERT_TRUE(via_cookie_b.location);
    EXPECT_EQ(via_cookie_b.location->kind, config::TokenSource::Kind::cookie);
    EXPECT_EQ(via_cookie_b.location->name, "session");
    auto via_cookie_a = auth->authenticate(FakeRequest().set("Cookie", "session=" + token_a()), kNow, nullptr);
    EXPECT_EQ(via_cookie_a.status, Status::signature_invalid);
    EXPECT_EQ(route({"a"})->authenticate(FakeRequest().set("Cookie", "session=" + token_a()), kNow, nullptr).status,
              Status::token_missing);
}

TEST_F(AuthTest, CacheHitSkipsVerification) {
    auto auth = route({"a"}, Mode::required, {{"sub", {"alice"}}});
    auto cache = make_token_cache(100);
    const auto& provider = static_cast<const Provider&>(*providers_->find("a"));
    const std::string token = token_a();
    // The first use only marks the token; the second verifies it again and caches it.
    auto first = auth->authenticate(FakeRequest().bearer(token), kNow, cache.get());
    ASSERT_TRUE(first.verified);
    EXPECT_EQ(cache->size(), 0u);
    const auto once = provider.verifier().signature_checks();
    auto second = auth->authenticate(FakeRequest().bearer(token), kNow, cache.get());
    ASSERT_TRUE(second.verified);
    EXPECT_EQ(provider.verifier().signature_checks(), once + 1);
    EXPECT_EQ(cache->size(), 1u);
    const auto checks = provider.verifier().signature_checks();
    auto third = auth->authenticate(FakeRequest().bearer(token), kNow + 1, cache.get());
    EXPECT_EQ(third.verified, second.verified);  // same shared object
    EXPECT_EQ(provider.verifier().signature_checks(), checks);
    EXPECT_EQ(cache->hits(), 1u);
    // Route rules still apply on hits.
    auto other_rules = route({"a"}, Mode::required, {{"sub", {"bob"}}});
    EXPECT_EQ(other_rules->authenticate(FakeRequest().bearer(token), kNow, cache.get()).action, Action::deny_403);
    EXPECT_EQ(provider.verifier().signature_checks(), checks);
}

TEST_F(AuthTest, CacheRespectsExpiry) {
    auto auth = route({"a"});
    auto cache = make_token_cache(100);
    const std::string token = token_a(claims(60));
    ASSERT_TRUE(auth->authenticate(FakeRequest().bearer(token), kNow, cache.get()).verified);
    ASSERT_TRUE(auth->authenticate(FakeRequest().bearer(token), kNow, cache.get()).verified);
    EXPECT_EQ(cache->size(), 1u);
    auto later = auth->authenticate(FakeRequest().bearer(token), kNow + 60, cache.get());
    EXPECT_EQ(later.action, Action::deny_401);
    EXPECT_EQ(later.status, Status::token_expired);
    EXPECT_EQ(cache->size(), 0u);
}

TEST_F(AuthTest, CacheInvalidatedByKeySetGeneration) {
    config::Jwt jwt;
    auto cfg = provider_config("rot", {"RS256"});
    cfg.keys.jwks_url = "http://127.0.0.1:1/never-started";
    jwt.providers = {cfg};
    auto set = ProviderSet::create(jwt, diag_);
    auto provider = std::const_pointer_cast<Provider>(set->find("rot"));
    provider->key_store().publish_fetched({Key::from_jwk(jwk_for("rsa", "k1")).key});
    config::RouteAuth ra;
    ra.none = false;
    ra.providers = {"rot"};
    auto auth = Authenticator::create(ra, *set);
    auto cache = make_token_cache(100);
    const std::string token = sign_token(Algorithm::RS256, *private_key("rsa"), claims(), {{"kid", "k1"}});
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(auth->authenticate(FakeRequest().bearer(token), kNow, cache.get()).verified);
    EXPECT_EQ(cache->hits(), 1u);  // verified, verified and cached, hit
    // Rotation removes k1: the cached verification must not survive it.
    provider->key_store().publish_fetched({Key::from_jwk(jwk_for("rsa2", "k2")).key});
    auto after = auth->authenticate(FakeRequest().bearer(token), kNow, cache.get());
    EXPECT_EQ(after.status, Status::unknown_kid);
    EXPECT_EQ(cache->hits(), 1u);
}

TEST_F(AuthTest, UnavailableProviderIs503) {
    config::Jwt jwt;
    auto cfg = provider_config("remote", {"RS256"});
    cfg.keys.jwks_url = "http://127.0.0.1:1/jwks";
    jwt.providers = {cfg};
    auto set = ProviderSet::create(jwt, diag_);
    config::RouteAuth ra;
    ra.none = false;
    ra.providers = {"remote"};
    auto auth = Authenticator::create(ra, *set);
    const std::string token = sign_token(Algorithm::RS256, *private_key("rsa"), claims(), {{"kid", "x"}});
    auto out = auth->authenticate(FakeRequest().bearer(token), kNow, nullptr);
    EXPECT_EQ(out.action, Action::unavailable);
    EXPECT_EQ(out.status, Status::keys_unavailable);
    ra.mode = Mode::report_only;
    auto report = Authenticator::create(ra, *set)->authenticate(FakeRequest().bearer(token), kNow, nullptr);
    EXPECT_EQ(report.action, Action::forward);
    EXPECT_TRUE(report.report_only_denial);
}

// Provider names and the rules' shape are the loader's to check (routes_test.cpp); what a
// RouteAuth built by hand without them does: fail closed.
TEST_F(AuthTest, HandBuiltRouteAuthWithoutProvidersFailsClosed) {
    auto nobody = route({});
    auto out = nobody->authenticate(FakeRequest().bearer(token_a()), kNow, nullptr);
    EXPECT_EQ(out.action, Action::deny_401);
    EXPECT_EQ(out.status, Status::no_key);

    for (const char* claim : {"roles", "scope"}) {
        auto no_value = route({"a"}, Mode::required, {{claim, {}}});
        EXPECT_EQ(no_value->authenticate(FakeRequest().bearer(token_a()), kNow, nullptr).action, Action::deny_403)
            << claim;
    }
}

TEST_F(AuthTest, UnknownProviderNameIsAProgrammingError) {
    config::RouteAuth ra;
    ra.none = false;
    ra.providers = {"a", "ghost"};
    // Debug builds stop at the assert; release builds leave the unknown name out.
    EXPECT_DEBUG_DEATH(
        {
            auto auth = Authenticator::create(ra, *providers_);
            EXPECT_TRUE(auth->authenticate(FakeRequest().bearer(token_a()), kNow, nullptr).verified);
        },
        "the loader checks provider names");
}

TEST_F(AuthTest, AuthNoneForwardsEverything) {
    config::RouteAuth none;
    auto open = Authenticator::create(none, *providers_);
    auto out = open->authenticate(FakeRequest(), kNow, nullptr);
    EXPECT_EQ(out.action, Action::forward);
    EXPECT_EQ(out.status, Status::ok);
}

TEST(StatusStrings, StableAndDistinct) {
    std::set<std::string_view> seen;
#define AUTHGATE_X(name, text) EXPECT_TRUE(seen.insert(to_string(Status::name)).second) << #name;
    AUTHGATE_JWT_STATUS(AUTHGATE_X)
#undef AUTHGATE_X
    EXPECT_EQ(to_string(Status::token_expired), "token expired");
    EXPECT_EQ(to_string(Status::unknown_kid), "unknown kid");
    EXPECT_EQ(to_string(Status::signature_invalid), "signature invalid");
}

}  // namespace
}  // namespace authgate::jwt
