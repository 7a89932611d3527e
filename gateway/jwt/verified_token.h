// What jwt/ keeps about a verified token beyond the contract's Verified: the payload (route
// claim rules need it on cache hits too) and the time claims (re-checked on every hit).
#pragma once

#include <cstdint>

#include <boost/json/object.hpp>

#include "jwt/authenticator.h"
#include "jwt/claims.h"

namespace authgate::jwt {

struct VerifiedToken : Verified {
    boost::json::object payload;
    TimeClaims times;
    std::uint64_t provider_id = 0;
    std::uint64_t generation = 0;  // key set it was verified with
};

}  // namespace authgate::jwt
