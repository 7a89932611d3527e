// Every check a provider makes of one token, with its result, for `authgate explain`.
// Not on the request path. The checks are recorded by Provider::verify itself (the same
// call the authenticator makes) as it runs them; those after a failure did not run.
// Failures are jwt::Status values, so they read exactly like the 401s.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.h"
#include "jwt/jws.h"
#include "jwt/status.h"
#include "jwt/token_checks.h"
#include "jwt/verified_token.h"

namespace authgate::jwt {

class Provider;

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

}  // namespace authgate::jwt
