// Registered-claim checks (RFC 7519 section 4.1) for one provider. Time comes in as an
// argument (unix seconds) so tests use a fixed clock; leeway absorbs clock skew.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "jwt/status.h"
#include "jwt/token_checks.h"

namespace authgate::jwt {

// The time claims of a token, kept so a cache hit can re-check them without JSON.
struct TimeClaims {
    std::optional<std::int64_t> exp, nbf, iat;
};

class ClaimsValidator {
public:
    struct Options {
        std::vector<std::string> issuers;     // empty = not checked
        std::vector<std::string> audiences;   // empty = not checked
        std::vector<std::string> required;    // claim names that must be present
        std::int64_t leeway_s = 0;
        std::optional<std::int64_t> max_lifetime_s;
    };
    explicit ClaimsValidator(Options options);

    // Every check, in this order: exp/nbf/iat are numbers (claim_invalid), required claims,
    // time (exp, nbf, iat, lifetime), iss, aud. Fills `times` when the types are right.
    // Each check is recorded into `rec` when there is one.
    Status validate(const boost::json::object& payload, std::int64_t now, TimeClaims& times,
                    CheckRecorder* rec = nullptr) const;
    // The time-dependent subset, for cache hits.
    Status check_time(const TimeClaims& times, std::int64_t now, CheckRecorder* rec = nullptr) const;

    const Options& options() const { return options_; }

private:
    Status check_audience(const boost::json::value* aud) const;  // aud present or not

    Options options_;
};

// A JSON number as whole seconds, clamped to +-2^52 so sums and differences cannot
// overflow; nullopt when `v` is not a number.
std::optional<std::int64_t> numeric_date(const boost::json::value& v);

}  // namespace authgate::jwt
