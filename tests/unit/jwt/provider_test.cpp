#include "jwt/provider.h"

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;

config::Mark mark(int line) { return config::Mark{"/etc/authgate.yaml", line, 7}; }

bool has_error(const config::Diagnostics& d, const std::string& needle) {
    for (const auto& e : d.errors())
        if (e.find(needle) != std::string::npos) return true;
    return false;
}

Status verify(const Provider& p, const std::string& token, std::int64_t now = kNow) {
    ParsedToken t;
    if (Status s = parse_token(token, t); s != Status::ok) return s;
    std::shared_ptr<const VerifiedToken> v;
    return p.verify(t, now, v);
}

TEST(ProviderCreate, LoadsEveryStaticKeySource) {
    TempFile pem(public_pem(pkey_for("rsa")));
    TempFile jwks(jwks_json({jwk_for("p256", "e1")}), ".json");
    auto cfg = provider_config("corp", {"HS256", "RS256", "ES256"});
    cfg.keys.secret = "a-secret-that-is-long-enough-for-hs256!!";
    cfg.keys.public_key_file = pem.path();
    cfg.keys.jwks_file = jwks.path();
    config::Diagnostics diag;
    auto p = Provider::create(cfg, diag);
    ASSERT_TRUE(diag.ok()) << diag.errors().front();
    ASSERT_TRUE(p->key_set());
    EXPECT_EQ(p->key_set()->keys.size(), 3u);
    EXPECT_EQ(verify(*p, sign_token(Algorithm::HS256, *secret_key(*cfg.keys.secret), claims())), Status::ok);
    EXPECT_EQ(verify(*p, sign_token(Algorithm::RS256, *private_key("rsa"), claims())), Status::ok);
    EXPECT_EQ(verify(*p, sign_token(Algorithm::ES256, *private_key("p256"), claims(), {{"kid", "e1"}})), Status::ok);
}

TEST(ProviderCreate, SecretBase64AcceptsBothAlphabets) {
    for (std::string enc : {"+/+/c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "-_-_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}) {
        auto cfg = provider_config("p", {"HS256"});
        cfg.keys.secret_base64 = enc;
        config::Diagnostics diag;
        auto p = Provider::create(cfg, diag);
        EXPECT_TRUE(diag.ok());
        std::string raw;
        ASSERT_TRUE(base64_decode_any(enc, raw));
        EXPECT_EQ(verify(*p, sign_token(Algorithm::HS256, *secret_key(raw), claims())), Status::ok);
    }
}

TEST(ProviderCreate, ReportsProblemsAtTheirMarks) {
    TempFile junk("this is not pem");
    TempFile small(public_pem(pkey_for("rsa1024")));
    TempFile bad_jwks("{\"keys\": 5}", ".json");
    struct Case {
        std::function<void(config::JwtProvider&)> set;
        std::string needle;
    } cases[] = {
        {[](auto& c) { c.keys.public_key_file = "/nonexistent/key.pem"; c.keys.marks.keys["public_key_file"] = mark(11); },
         "authgate.yaml:11:7: cannot read"},
        {[&](auto& c) { c.keys.public_key_file = junk.path(); c.keys.marks.keys["public_key_file"] = mark(12); },
         "authgate.yaml:12:7:"},
        {[&](auto& c) { c.keys.public_key_file = small.path(); c.keys.marks.keys["public_key_file"] = mark(13); },
         "2048"},
        {[&](auto& c) { c.keys.jwks_file = bad_jwks.path(); c.keys.marks.keys["jwks_file"] = mark(14); },
         "authgate.yaml:14:7:"},
        {[](auto& c) { c.keys.secret_base64 = "***"; c.keys.marks.keys["secret_base64"] = mark(15); },
         "authgate.yaml:15:7:"},
        {[](auto& c) { c.keys.secret = ""; }, "empty"},
    };
    for (auto& c : cases) {
        auto cfg = provider_config("p", {"RS256"});
        c.set(cfg);
        config::Diagnostics diag;
        Provider::create(cfg, diag);
        EXPECT_TRUE(has_error(diag, c.needle)) << c.needle << " / "
                                               << (diag.errors().empty() ? "no errors" : diag.errors().front());
    }
}

TEST(ProviderCreate, ReportsWhatOnlyTheKeysCanTell) {
    auto cfg = provider_config("p", {"RS256"});
    cfg.keys.secret = "a-secret-that-is-long-enough-for-hs256!!";
    config::Diagnostics diag;
    Provider::create(cfg, diag);
    // Only RS256 but only a secret: no key fits any algorithm.
    EXPECT_TRUE(has_error(diag, "no configured key can be used"));
    ASSERT_EQ(diag.warnings().size(), 1u);
    EXPECT_NE(diag.warnings().front().find("a HMAC secret matches none of the algorithms"), std::string::npos);
}

// RFC 7518 3.2, whatever the secret's source; reported where that source is written.
TEST(ProviderCreate, ShortHmacSecretsWarnAtTheirSource) {
    TempFile jwks(jwks_json({boost::json::object{{"kty", "oct"}, {"k", base64url_encode("short-jwks-secret")}}}),
                  ".json");
    struct Case {
        std::function<void(config::JwtProvider&)> set;
        int line;
    } cases[] = {
        {[](auto& c) { c.keys.secret = "short"; c.keys.marks.keys["secret"] = mark(31); }, 31},
        {[](auto& c) { c.keys.secret_base64 = "c2hvcnQ="; c.keys.marks.keys["secret_base64"] = mark(32); }, 32},
        {[&](auto& c) { c.keys.jwks_file = jwks.path(); c.keys.marks.keys["jwks_file"] = mark(33); }, 33},
    };
    for (auto& c : cases) {
        auto cfg = provider_config("p", {"HS256"});
        c.set(cfg);
        config::Diagnostics diag;
        Provider::create(cfg, diag);
        EXPECT_TRUE(diag.ok()) << diag.errors().front();
        ASSERT_EQ(diag.warnings().size(), 1u) << c.line;
        EXPECT_EQ(diag.warnings().front(), "/etc/authgate.yaml:" + std::to_string(c.line) +
                                               ":7: jwt provider p: HMAC secret is shorter than 32 bytes; tokens "
                                               "signed with it are easy to forge");
    }
    // Long enough: nothing to say.
    auto cfg = provider_config("p", {"HS256"});
    cfg.keys.secret = "a-secret-that-is-long-enough-for-hs256!!";
    config::Diagnostics diag;
    Provider::create(cfg, diag);
    EXPECT_TRUE(diag.warnings().empty());
}

// The loader refuses these (config/loader.cpp); a config built by hand that has them gets
// no second opinion from create() and fails closed.
TEST(ProviderCreate, ShapeIsTheLoadersAndAHandBuiltBreachFailsClosed) {
    const std::string secret = "a-secret-that-is-long-enough-for-hs256!!";
    auto cfg = provider_config("p", {"none", "HS999", "NONE"});
    cfg.keys.secret = secret;
    config::Diagnostics diag;
    auto p = Provider::create(cfg, diag);
    EXPECT_TRUE(diag.ok());
    const std::string none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(R"({"sub":"a"})") + ".";
    EXPECT_EQ(verify(*p, none), Status::algorithm_not_allowed);
    EXPECT_EQ(verify(*p, sign_token(Algorithm::HS256, *secret_key(secret), claims())), Status::algorithm_not_allowed);

    config::Diagnostics no_keys_diag;
    auto no_keys = Provider::create(provider_config("p", {"RS256"}), no_keys_diag);
    EXPECT_TRUE(no_keys_diag.ok());
    EXPECT_EQ(verify(*no_keys, sign_token(Algorithm::RS256, *private_key("rsa"), claims())), Status::no_key);
}

class ProviderVerify : public ::testing::Test {
protected:
    std::shared_ptr<Provider> make(std::vector<std::string> algs, std::vector<KeyPtr> keys,
                                   std::function<void(config::JwtProvider&)> tweak = {}) {
        auto cfg = provider_config("p", std::move(algs));
        if (tweak) tweak(cfg);
        config::Diagnostics diag;
        return Provider::create_with_keys(cfg, std::move(keys), diag);
    }
};

TEST_F(ProviderVerify, AlgorithmAllowListAndNone) {
    auto p = make({"RS256"}, {private_key("rsa")});
    EXPECT_EQ(verify(*p, sign_token(Algorithm::RS256, *private_key("rsa"), claims())), Status::ok);
    EXPECT_EQ(verify(*p, sign_token(Algorithm::RS384, *private_key("rsa"), claims())), Status::algorithm_not_allowed);
    const std::string none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(R"({"sub":"a"})") + ".";
    EXPECT_EQ(verify(*p, none), Status::algorithm_not_allowed);
}

TEST_F(ProviderVerify, AlgConfusionPublicKeyAsHmacSecret) {
    const std::string pem = public_pem(pkey_for("rsa"));
    const std::string forged = sign_token(Algorithm::HS256, *secret_key(pem), claims());
    // Only RS256 allowed: the alg gate stops it.
    EXPECT_EQ(verify(*make({"RS256"}, {Key::from_public_pem(pem).key}), forged), Status::algorithm_not_allowed);
    // Even with HS256 allowed, an RSA key is never used as an HMAC secret.
    EXPECT_EQ(verify(*make({"RS256", "HS256"}, {Key::from_public_pem(pem).key}), forged), Status::key_mismatch);
}

TEST_F(ProviderVerify, KidSelection) {
    auto k1 = Key::from_jwk(jwk_for("p256", "k1")).key;
    auto k2 = Key::from_jwk(jwk_for("p256b", "k2")).key;
    auto p = make({"ES256"}, {k1, k2});
    EXPECT_EQ(verify(*p, sign_token(Algorithm::ES256, *private_key("p256b"), claims(), {{"kid", "k2"}})), Status::ok);
    EXPECT_EQ(p->verifier().signature_checks(), 1u);  // went straight to k2
    // Right kid, wrong key: signature invalid.
    EXPECT_EQ(verify(*p, sign_token(Algorithm::ES256, *private_key("p256"), claims(), {{"kid", "k2"}})),
              Status::signature_invalid);
    EXPECT_EQ(verify(*p, sign_token(Algorithm::ES256, *private_key("p256"), claims(), {{"kid", "nope"}})),
              Status::unknown_kid);
    // No kid: every compatible key is tried.
    EXPECT_EQ(verify(*p, sign_token(Algorithm::ES256, *private_key("p256b"), claims())), Status::ok);
}

TEST_F(ProviderVerify, KidPointingAtKeyOfOtherType) {
    auto r = Key::from_jwk(jwk_for("rsa", "r")).key;
    auto p = make({"RS256", "ES256"}, {r});
    EXPECT_EQ(verify(*p, sign_token(Algorithm::ES256, *private_key("p256"), claims(), {{"kid", "r"}})),
              Status::key_mismatch);
}

TEST_F(ProviderVerify, KeylessKidMatchesAnyKid) {
    // A PEM-configured key has no kid; tokens from issuers that add one still verify.
    auto p = make({"EdDSA"}, {Key::from_public_pem(public_pem(pkey_for("ed25519"))).key});
    EXPECT_EQ(verify(*p, sign_token(Algorithm::EdDSA, *private_key("ed25519"), claims(), {{"kid", "any"}})),
              Status::ok);
}

TEST_F(ProviderVerify, NoKeysForTheFamily) {
    auto p = make({"HS256", "RS256"}, {private_key("rsa")});
    EXPECT_EQ(verify(*p, sign_token(Algorithm::HS256, *secret_key("x"), claims())), Status::key_mismatch);
    auto empty = make({"HS256"}, {});
    EXPECT_EQ(verify(*empty, sign_token(Algorithm::HS256, *secret_key("x"), claims())), Status::no_key);
}

TEST_F(ProviderVerify, ClaimsAndForwardedValues) {
    auto p = make({"HS256"}, {secret_key("k")}, [](auto& c) {
        c.issuers = {"https://issuer"};
        c.audiences = {"api"};
        c.required_claims = {"sub"};
        c.leeway = std::chrono::seconds(10);
        c.max_lifetime = std::chrono::hours(1);
        c.forward_claims = {{"sub", "X-User"}, {"roles", "X-Roles"}};
        c.forward_payload_header = "X-Jwt-Payload";
    });
    const auto k = secret_key("k");
    auto good = claims();
    good["iss"] = "https://issuer";
    good["aud"] = boost::json::array{"other", "api"};
    good["roles"] = boost::json::array{"a", "b"};
    const std::string token = sign_token(Algorithm::HS256, *k, good);
    ParsedToken t;
    ASSERT_EQ(parse_token(token, t), Status::ok);
    const std::string payload_b64(t.payload_b64);
    std::shared_ptr<const VerifiedToken> v;
    ASSERT_EQ(p->verify(t, kNow, v), Status::ok);
    ASSERT_TRUE(v);
    const std::vector<std::pair<std::string, std::string>> want{
        {"X-User", "alice"}, {"X-Roles", "a,b"}, {"X-Jwt-Payload", payload_b64}};
    EXPECT_EQ(v->forward_headers, want);
    EXPECT_EQ(v->exp, kNow + 600);
    EXPECT_EQ(v->payload.at("sub").as_string(), "alice");

    auto with = [&](auto f) {
        auto c = good;
        f(c);
        return verify(*p, sign_token(Algorithm::HS256, *k, c));
    };
    EXPECT_EQ(with([](auto& c) { c["exp"] = kNow - 10; }), Status::token_expired);
    EXPECT_EQ(with([](auto& c) { c["exp"] = kNow - 9; }), Status::ok);
    EXPECT_EQ(with([](auto& c) { c["nbf"] = kNow + 11; }), Status::token_not_yet_valid);
    EXPECT_EQ(with([](auto& c) { c["iat"] = kNow + 11; }), Status::issued_in_future);
    EXPECT_EQ(with([](auto& c) { c["iss"] = "https://evil"; }), Status::issuer_not_allowed);
    EXPECT_EQ(with([](auto& c) { c["aud"] = "web"; }), Status::audience_not_allowed);
    EXPECT_EQ(with([](auto& c) { c.erase("sub"); }), Status::claim_missing);
    EXPECT_EQ(with([](auto& c) { c["exp"] = "soon"; }), Status::claim_invalid);
    EXPECT_EQ(with([](auto& c) { c["exp"] = kNow + 7200; }), Status::lifetime_too_long);
    EXPECT_EQ(with([](auto& c) { c["sub"] = "alice\r\nX-Admin: yes"; }), Status::claim_value_invalid);
    // A tampered signature never gets as far as the claims.
    std::string bad = sign_token(Algorithm::HS256, *k, good);
    bad[bad.size() - 2] = bad[bad.size() - 2] == 'A' ? 'B' : 'A';
    EXPECT_EQ(verify(*p, bad), Status::signature_invalid);
}

TEST_F(ProviderVerify, JwksUrlNeverFetchedIsUnavailable) {
    auto p = make({"RS256"}, {}, [](auto& c) { c.keys.jwks_url = "http://127.0.0.1:1/jwks"; });
    EXPECT_FALSE(p->key_set());
    EXPECT_EQ(verify(*p, sign_token(Algorithm::RS256, *private_key("rsa"), claims(), {{"kid", "a"}})),
              Status::keys_unavailable);
    EXPECT_EQ(verify(*p, sign_token(Algorithm::RS256, *private_key("rsa"), claims())), Status::keys_unavailable);
}

TEST_F(ProviderVerify, KeySetIsSharedAndGenerationChangesOnPublish) {
    auto p = make({"RS256"}, {}, [](auto& c) { c.keys.jwks_url = "http://127.0.0.1:1/jwks"; });
    EXPECT_EQ(p->key_store().generation(), 0u);
    p->key_store().publish_fetched({Key::from_jwk(jwk_for("rsa", "a")).key});
    const auto g1 = p->key_store().generation();
    EXPECT_NE(g1, 0u);
    EXPECT_EQ(p->key_set(), p->key_set());  // per-thread copy reused
    EXPECT_TRUE(p->ever_fetched());
    EXPECT_EQ(verify(*p, sign_token(Algorithm::RS256, *private_key("rsa"), claims(), {{"kid", "a"}})), Status::ok);
    p->key_store().publish_fetched({Key::from_jwk(jwk_for("rsa2", "b")).key});
    EXPECT_GT(p->key_store().generation(), g1);
    EXPECT_EQ(p->key_set()->generation, p->key_store().generation());
    EXPECT_EQ(verify(*p, sign_token(Algorithm::RS256, *private_key("rsa"), claims(), {{"kid", "a"}})),
              Status::unknown_kid);
}

TEST_F(ProviderVerify, CarryOverTakesTheFetchedKeysOfTheSameUrlOnly) {
    const auto url = [](const std::string& u) { return [u](config::JwtProvider& c) { c.keys.jwks_url = u; }; };
    const std::string old_secret = "the-old-configs-hs256-secret-0123456789";
    const std::string new_secret = "the-new-configs-hs256-secret-0123456789";
    auto old = make({"RS256", "HS256"}, {secret_key(old_secret)}, url("http://127.0.0.1:1/jwks"));
    const auto rs = sign_token(Algorithm::RS256, *private_key("rsa"), claims(), {{"kid", "a"}});

    auto next = make({"RS256", "HS256"}, {secret_key(new_secret)}, url("http://127.0.0.1:1/jwks"));
    EXPECT_FALSE(next->key_store().carry_over_fetched(old->key_store()));  // nothing fetched yet: nothing to carry
    EXPECT_FALSE(next->ever_fetched());

    old->key_store().publish_fetched({Key::from_jwk(jwk_for("rsa", "a")).key});
    EXPECT_TRUE(next->key_store().carry_over_fetched(old->key_store()));
    EXPECT_TRUE(next->ever_fetched());
    EXPECT_EQ(verify(*next, rs), Status::ok);
    // Static keys come from the new config, never from the old provider's set.
    EXPECT_EQ(verify(*next, sign_token(Algorithm::HS256, *secret_key(new_secret), claims())), Status::ok);
    EXPECT_EQ(verify(*next, sign_token(Algorithm::HS256, *secret_key(old_secret), claims())),
              Status::signature_invalid);
    EXPECT_EQ(next->key_set()->keys.size(), 2u);

    // A fetch of its own that already landed is newer: left alone.
    auto fetched = make({"RS256"}, {}, url("http://127.0.0.1:1/jwks"));
    fetched->key_store().publish_fetched({Key::from_jwk(jwk_for("rsa2", "b")).key});
    const auto gen = fetched->key_store().generation();
    EXPECT_FALSE(fetched->key_store().carry_over_fetched(old->key_store()));
    EXPECT_EQ(fetched->key_store().generation(), gen);
    EXPECT_EQ(verify(*fetched, rs), Status::unknown_kid);

    // Another URL, or none: starts as it would without a previous config.
    auto moved = make({"RS256"}, {}, url("http://127.0.0.1:2/jwks"));
    EXPECT_FALSE(moved->key_store().carry_over_fetched(old->key_store()));
    EXPECT_EQ(verify(*moved, rs), Status::keys_unavailable);
    auto file_only = make({"RS256"}, {Key::from_jwk(jwk_for("rsa2", "b")).key});
    EXPECT_FALSE(file_only->key_store().carry_over_fetched(old->key_store()));
    EXPECT_EQ(verify(*file_only, rs), Status::unknown_kid);
    EXPECT_FALSE(old->key_store().carry_over_fetched(old->key_store()));
}

TEST(ProviderTypes, NormalizedAsRfc7515Asks) {
    EXPECT_EQ(Provider::normalize_type("JWT"), "jwt");
    EXPECT_EQ(Provider::normalize_type("application/JWT"), "jwt");
    EXPECT_EQ(Provider::normalize_type("Application/AT+JWT"), "at+jwt");
    EXPECT_EQ(Provider::normalize_type("application/vnd/x"), "application/vnd/x");  // a '/' left: kept whole
    EXPECT_EQ(Provider::normalize_type("application/"), "application/");
    EXPECT_EQ(Provider::normalize_type(""), "");
}

// RFC 8725 3.11 / RFC 9068: an access-token route must not take an ID token or a refresh
// token signed by the same key.
TEST_F(ProviderVerify, TypesAllowList) {
    const KeyPtr key = private_key("rsa");
    auto at_only = make({"RS256"}, {key}, [](config::JwtProvider& c) { c.types = {{"at+jwt"}}; });
    auto signed_with = [&](boost::json::object header, boost::json::object payload = claims()) {
        return sign_token(Algorithm::RS256, *key, std::move(payload), std::move(header));
    };
    EXPECT_EQ(verify(*at_only, signed_with({{"typ", "at+jwt"}})), Status::ok);
    EXPECT_EQ(verify(*at_only, signed_with({{"typ", "application/at+jwt"}})), Status::ok);
    EXPECT_EQ(verify(*at_only, signed_with({{"typ", "AT+JWT"}})), Status::ok);
    // An OIDC ID token: typ JWT, aud the client, a nonce.
    auto id_claims = claims();
    id_claims["aud"] = "web-client";
    id_claims["nonce"] = "n-0S6_WzA2Mj";
    EXPECT_EQ(verify(*at_only, signed_with({{"typ", "JWT"}}, id_claims)), Status::token_type_not_allowed);
    // A simplejwt refresh token: typ JWT, token_type refresh.
    auto refresh = claims(86400);
    refresh["token_type"] = "refresh";
    refresh["user_id"] = 42;
    EXPECT_EQ(verify(*at_only, signed_with({{"typ", "JWT"}}, refresh)), Status::token_type_not_allowed);
    EXPECT_EQ(verify(*at_only, signed_with({})), Status::token_type_not_allowed);  // no typ
    // typ must be a string when present, whatever the config.
    EXPECT_EQ(verify(*at_only, signed_with({{"typ", 1}})), Status::header_invalid);
    // After the signature: a forged token says "signature invalid", never which typ passes.
    const std::string forged = sign_token(Algorithm::RS256, *private_key("rsa2"), claims(), {{"typ", "JWT"}});
    EXPECT_EQ(verify(*at_only, forged), Status::signature_invalid);

    // "" admits a token without typ; the key unset checks nothing.
    auto or_none = make({"RS256"}, {key}, [](config::JwtProvider& c) { c.types = {{"application/JWT", ""}}; });
    EXPECT_EQ(verify(*or_none, signed_with({})), Status::ok);
    EXPECT_EQ(verify(*or_none, signed_with({{"typ", "jwt"}})), Status::ok);
    EXPECT_EQ(verify(*or_none, signed_with({{"typ", "at+jwt"}})), Status::token_type_not_allowed);
    auto unset = make({"RS256"}, {key});
    EXPECT_EQ(verify(*unset, signed_with({{"typ", "refresh+jwt"}})), Status::ok);
    EXPECT_EQ(verify(*unset, signed_with({})), Status::ok);
}

}  // namespace
}  // namespace authgate::jwt
