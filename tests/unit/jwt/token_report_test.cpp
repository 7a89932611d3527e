#include "jwt/token_report.h"

#include <gtest/gtest.h>

#include "jwt/provider.h"
#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;
using Result = TokenCheck::Result;

const std::string kSecret = "token-report-secret-0123456789abcdef";

// Every check configured: iss, aud, a required claim, leeway, max_lifetime, a forwarded claim.
std::shared_ptr<Provider> full_provider() {
    auto cfg = provider_config("p", {"HS256"});
    cfg.keys.secret = kSecret;
    cfg.issuers = {"https://issuer.example"};
    cfg.audiences = {"orders-api"};
    cfg.required_claims = {"sub"};
    cfg.leeway = std::chrono::seconds(30);
    cfg.max_lifetime = std::chrono::hours(1);
    cfg.forward_claims = {{"sub", "X-User-Id"}};
    config::Diagnostics diag;
    auto p = Provider::create(cfg, diag);
    EXPECT_TRUE(diag.ok()) << diag.errors().front();
    return p;
}

boost::json::object good_claims() {
    return {{"iss", "https://issuer.example"}, {"aud", "orders-api"}, {"sub", "alice"}, {"iat", kNow},
            {"exp", kNow + 600}};
}

TokenReport report(const Provider& p, const std::string& token) {
    ParsedToken t;
    EXPECT_EQ(parse_token(token, t), Status::ok);
    return report_token(p, t, kNow);
}

TokenReport report(const Provider& p, const boost::json::object& payload) {
    return report(p, sign_token(Algorithm::HS256, *secret_key(kSecret), payload));
}

const TokenCheck* find(const TokenReport& r, std::string_view name) {
    for (const auto& c : r.checks) {
        if (c.name == name) return &c;
    }
    return nullptr;
}

// The failed check is `name` with `status`; every check before it passed (or had nothing
// to check) and every check after it did not run.
void expect_failed_at(const TokenReport& r, std::string_view name, Status status) {
    EXPECT_EQ(r.status, status);
    bool after = false;
    for (const auto& c : r.checks) {
        SCOPED_TRACE(std::string(c.name));
        if (after) {
            EXPECT_EQ(c.result, Result::not_reached);
        } else if (c.name == name) {
            EXPECT_EQ(c.result, Result::failed);
            EXPECT_EQ(c.status, status);
            after = true;
        } else {
            EXPECT_TRUE(c.result == Result::ok || c.result == Result::not_applicable);
        }
    }
    EXPECT_TRUE(after) << "no check " << name;
}

TEST(TokenReport, AValidTokenPassesEveryCheckInVerifyOrder) {
    auto p = full_provider();
    const auto r = report(*p, good_claims());
    EXPECT_EQ(r.status, Status::ok);
    ASSERT_TRUE(r.verified);
    EXPECT_EQ(r.verified->forward_headers.at(0).second, "alice");
    std::vector<std::string_view> names;
    for (const auto& c : r.checks) names.push_back(c.name);
    const std::vector<std::string_view> order = {"alg", "key", "signature", "typ", "required claims", "exp", "nbf",
                                                 "iat", "max_lifetime", "iss", "aud", "forwarded claims"};
    EXPECT_EQ(names, order);
    EXPECT_EQ(find(r, "typ")->result, Result::not_applicable);  // no `types`: not checked
    EXPECT_EQ(find(r, "typ")->detail, "not configured");
    EXPECT_EQ(find(r, "nbf")->result, Result::not_applicable);
    EXPECT_EQ(find(r, "nbf")->detail, "absent");
    EXPECT_EQ(find(r, "exp")->result, Result::ok);
    EXPECT_EQ(find(r, "exp")->detail, "in 10m0s, leeway 30s");
    EXPECT_EQ(find(r, "aud")->detail, "orders-api; allowed: orders-api");
}

TEST(TokenReport, EachFailureLandsOnItsCheck) {
    auto p = full_provider();
    const auto with = [](const char* key, boost::json::value v) {
        auto c = good_claims();
        c[key] = std::move(v);
        return c;
    };
    auto without_sub = good_claims();
    without_sub.erase("sub");

    expect_failed_at(report(*p, with("exp", kNow - 31)), "exp", Status::token_expired);
    EXPECT_EQ(find(report(*p, with("exp", kNow - 31)), "exp")->detail, "31s ago, leeway 30s");
    expect_failed_at(report(*p, with("nbf", kNow + 600)), "nbf", Status::token_not_yet_valid);
    expect_failed_at(report(*p, with("iat", kNow + 600)), "iat", Status::issued_in_future);
    expect_failed_at(report(*p, with("exp", kNow + 7200)), "max_lifetime", Status::lifetime_too_long);
    expect_failed_at(report(*p, with("iss", "https://evil.example")), "iss", Status::issuer_not_allowed);
    expect_failed_at(report(*p, with("aud", "billing")), "aud", Status::audience_not_allowed);
    expect_failed_at(report(*p, without_sub), "required claims", Status::claim_missing);
    expect_failed_at(report(*p, with("sub", "alice\r\nX-Admin: 1")), "forwarded claims", Status::claim_value_invalid);
    // claim_invalid comes from three checks: told apart by what is wrong in the payload.
    expect_failed_at(report(*p, with("exp", "tomorrow")), "claim types", Status::claim_invalid);
    expect_failed_at(report(*p, with("iss", 7)), "iss", Status::claim_invalid);
    expect_failed_at(report(*p, with("aud", 7)), "aud", Status::claim_invalid);
}

// The report trusts verify()'s order (provider.h, claims.h): a token failing two checks
// must be refused for the earlier one, or "ok" before the failure would not be true.
TEST(TokenReport, ATokenFailingSeveralChecksIsReportedAtTheFirstVerifyMakes) {
    auto p = full_provider();
    auto expired_bad_iss = good_claims();
    expired_bad_iss["exp"] = kNow - 600;
    expired_bad_iss["iss"] = "https://evil.example";
    expect_failed_at(report(*p, expired_bad_iss), "exp", Status::token_expired);

    auto bad_iss_bad_aud = good_claims();
    bad_iss_bad_aud["iss"] = "https://evil.example";
    bad_iss_bad_aud["aud"] = "billing";
    expect_failed_at(report(*p, bad_iss_bad_aud), "iss", Status::issuer_not_allowed);

    auto no_sub_expired = good_claims();
    no_sub_expired.erase("sub");
    no_sub_expired["exp"] = kNow - 600;
    expect_failed_at(report(*p, no_sub_expired), "required claims", Status::claim_missing);

    auto not_yet_too_long = good_claims();
    not_yet_too_long["nbf"] = kNow + 600;
    not_yet_too_long["exp"] = kNow + 7200;
    expect_failed_at(report(*p, not_yet_too_long), "nbf", Status::token_not_yet_valid);

    auto expired = good_claims();
    expired["exp"] = kNow - 600;
    const auto forged_and_expired = sign_token(Algorithm::HS256, *secret_key("another-secret-0123456789abcdef!!"), expired);
    expect_failed_at(report(*p, forged_and_expired), "signature", Status::signature_invalid);
}

TEST(TokenReport, SignatureAndKeyFailuresStopBeforeTheClaims) {
    auto p = full_provider();
    const auto forged = sign_token(Algorithm::HS256, *secret_key("another-secret-0123456789abcdef!!"), good_claims());
    expect_failed_at(report(*p, forged), "signature", Status::signature_invalid);
    expect_failed_at(report(*p, sign_token(Algorithm::HS384, *secret_key(kSecret), good_claims())), "alg",
                     Status::algorithm_not_allowed);
    EXPECT_EQ(find(report(*p, sign_token(Algorithm::HS384, *secret_key(kSecret), good_claims())), "alg")->detail,
              "HS384; allowed: HS256");

    // A provider whose keys all carry a kid: a token naming another one.
    auto cfg = provider_config("k", {"RS256"});
    config::Diagnostics diag;
    auto keyed = Provider::create_with_keys(cfg, {Key::from_jwk(jwk_for("rsa", "k1")).key}, diag);
    ASSERT_TRUE(diag.ok());
    const auto other_kid = sign_token(Algorithm::RS256, *private_key("rsa"), good_claims(), {{"kid", "k2"}});
    expect_failed_at(report(*keyed, other_kid), "key", Status::unknown_kid);
    EXPECT_EQ(find(report(*keyed, other_kid), "key")->detail, "kid k2: no key has it");
}

TEST(TokenReport, ClaimRulesOneByOne) {
    config::RouteAuth auth;
    auth.claims = {{"roles", {"admin", "ops"}}, {"scope", {"orders:read"}}};
    const boost::json::object payload{{"roles", boost::json::array{"user", "ops"}}, {"scope", "orders:write"}};
    EXPECT_EQ(report_claim_rules(auth, payload), (std::vector<Status>{Status::ok, Status::insufficient_scope}));
}

TEST(TokenReport, HumanSeconds) {
    EXPECT_EQ(human_seconds(0), "0s");
    EXPECT_EQ(human_seconds(59), "59s");
    EXPECT_EQ(human_seconds(598), "9m58s");
    EXPECT_EQ(human_seconds(3600), "1h0m");
    EXPECT_EQ(human_seconds(90061), "1d1h");
}

}  // namespace
}  // namespace authgate::jwt
