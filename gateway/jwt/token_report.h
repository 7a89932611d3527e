// Every check a provider makes of one token, with its result, for `authgate explain`.
// Not on the request path. The verdict is Provider::verify's own (the same call the
// authenticator makes); the report only spreads it over the checks in the order verify
// makes them (provider.h, claims.h): those before the failed one passed, those after it
// did not run. Failures are jwt::Status values, so they read exactly like the 401s.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.h"
#include "jwt/status.h"
#include "jwt/verified_token.h"
#include "jwt/verifier.h"

namespace authgate::jwt {

class Provider;

struct TokenCheck {
    enum class Result {
        ok,
        failed,          // `status` says why
        not_applicable,  // not configured, or the claim is absent (`detail` says which)
        not_reached,     // an earlier check failed
    };
    std::string_view name;  // "alg", "key", "signature", "claim types", "required claims", "exp", "nbf",
                            // "iat", "max_lifetime", "iss", "aud", "forwarded claims"
    Result result = Result::ok;
    Status status = Status::ok;
    std::string detail;  // what the token and the configuration said, for a reader
};

struct TokenReport {
    Status status = Status::ok;  // Provider::verify's verdict
    std::vector<TokenCheck> checks;
    std::shared_ptr<const VerifiedToken> verified;  // set when status is ok
};

// `token` as parse_token left it after succeeding. now: unix seconds.
TokenReport report_token(const Provider& provider, const ParsedToken& token, std::int64_t now);

// Each route claim rule (auth.claims, in order) checked on its own with ClaimRules:
// ok or insufficient_scope.
std::vector<Status> report_claim_rules(const config::RouteAuth& auth, const boost::json::object& payload);

// "45s", "9m58s", "2h0m", "3d1h": a duration for a reader.
std::string human_seconds(std::int64_t seconds);

}  // namespace authgate::jwt
