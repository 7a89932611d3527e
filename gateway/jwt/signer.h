// Making tokens: `authgate token` (trying a deployment with curl), tests, benchmarks.
// Not on the request path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "jwt/algorithm.h"
#include "jwt/key.h"

namespace authgate::jwt {

// Signature bytes (JOSE form: raw r||s for ECDSA) or nullopt when the key cannot sign alg.
std::optional<std::string> sign(Algorithm alg, const Key& key, std::string_view signing_input);

// header/payload serialized compactly; "alg" is set in the header from `alg`.
std::optional<std::string> make_token(Algorithm alg, const Key& key, boost::json::object header,
                                      const boost::json::object& payload);

}  // namespace authgate::jwt
