// The checks a provider makes of one token, in the order it makes them, and a recorder the
// verification writes each check's outcome into as it runs (for `authgate explain`).
// The request path passes no recorder: each check then costs one predictable branch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jwt/status.h"

namespace authgate::jwt {

// One table: the checks' order (JwtVerifier, then ClaimsValidator, then the forwarded
// claims) and the name a reader sees. "claim types" is reported only when it fails.
#define AUTHGATE_TOKEN_CHECKS(X)                                                              \
    X(alg, "alg")                         /* the allow-list */                                \
    X(key, "key")                         /* a key by kid and type */                         \
    X(signature, "signature")                                                                 \
    X(typ, "typ")                         /* the JOSE typ allow-list (`types`) */             \
    X(claim_types, "claim types")         /* exp, nbf, iat are numbers */                     \
    X(required_claims, "required claims")                                                     \
    X(exp, "exp")                                                                             \
    X(nbf, "nbf")                                                                             \
    X(iat, "iat")                                                                             \
    X(max_lifetime, "max_lifetime")                                                           \
    X(iss, "iss")                                                                             \
    X(aud, "aud")                                                                             \
    X(forwarded_claims, "forwarded claims") /* values fit in a header */

enum class Check : std::uint8_t {
#define AUTHGATE_X(name, text) name,
    AUTHGATE_TOKEN_CHECKS(AUTHGATE_X)
#undef AUTHGATE_X
};

inline constexpr std::string_view kCheckNames[] = {
#define AUTHGATE_X(name, text) text,
    AUTHGATE_TOKEN_CHECKS(AUTHGATE_X)
#undef AUTHGATE_X
};

constexpr std::string_view to_string(Check c) { return kCheckNames[static_cast<std::size_t>(c)]; }

struct TokenCheck {
    enum class Result {
        ok,
        failed,          // `status` says why
        not_applicable,  // not configured, or the claim is absent (`detail` says which)
        not_reached,     // an earlier check failed
    };
    std::string_view name;  // to_string(Check), or "verify" for a status no check claims
    Result result = Result::ok;
    Status status = Status::ok;
    std::string detail;  // what the token and the configuration said, for a reader
};

// Collects the checks of one verification, in the order they ran.
class CheckRecorder {
public:
    // `status` ok: passed; otherwise failed with it.
    void add(Check c, Status status, std::string detail) {
        checks_.push_back({to_string(c), status == Status::ok ? TokenCheck::Result::ok : TokenCheck::Result::failed,
                           status, std::move(detail)});
    }
    void not_applicable(Check c, std::string detail) {
        checks_.push_back({to_string(c), TokenCheck::Result::not_applicable, Status::ok, std::move(detail)});
    }
    // After a failure: every check of the table after the last one recorded, as not reached.
    void finish(Status verdict);
    std::vector<TokenCheck> take() { return std::move(checks_); }

private:
    std::vector<TokenCheck> checks_;
};

// Records check `c` with `status` when there is a recorder; `detail()` runs only then.
template <class Detail>
inline void record(CheckRecorder* rec, Check c, Status status, Detail&& detail) {
    if (rec) [[unlikely]]
        rec->add(c, status, detail());
}

// Records check `c` as not applicable (nothing configured, claim absent) when there is a recorder.
inline void record_not_applicable(CheckRecorder* rec, Check c, const char* detail) {
    if (rec) [[unlikely]]
        rec->not_applicable(c, detail);
}

// "45s", "9m58s", "2h0m", "3d1h": a duration for a reader.
std::string human_seconds(std::int64_t seconds);

}  // namespace authgate::jwt
