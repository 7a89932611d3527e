// Compact JWS parsing (RFC 7515 section 7.1): three base64url segments, a JSON header and
// payload, the decoded signature. Parsing decides nothing about trust: the verifier
// (verifier.h) chooses the algorithm from the allow-list and the key.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "jwt/algorithm.h"
#include "jwt/status.h"

namespace authgate::jwt {

// Tokens above this are refused before any decoding (memory and CPU bound per request).
inline constexpr std::size_t kMaxTokenBytes = 16 * 1024;

struct ParsedToken {
    std::string_view header_b64;     // views into the token passed to parse_token
    std::string_view payload_b64;
    std::string_view signing_input;  // header_b64 "." payload_b64
    std::string signature;           // decoded signature bytes
    boost::json::object payload;
    std::optional<Algorithm> alg;    // nullopt: "none" or a name authgate does not know
    std::string kid;
    bool has_kid = false;
    std::string typ;  // the JOSE header's typ (RFC 7515 4.1.9), as written
    bool has_typ = false;
};

// Splits, decodes and parses; checks exactly three segments, JSON objects, `alg` a string,
// `kid` and `typ` strings when present, no `crit`. Never throws. On failure `out` is unspecified.
Status parse_token(std::string_view token, ParsedToken& out);

}  // namespace authgate::jwt
