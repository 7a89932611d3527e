// Verified claims turned into upstream request headers (forward_claims).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "jwt/status.h"

namespace authgate::jwt {

class ForwardClaims {
public:
    // claim path -> header name, in config order.
    explicit ForwardClaims(std::vector<std::pair<std::string, std::string>> mapping) : mapping_(std::move(mapping)) {}

    // Appends (header, value) for every mapped claim present. Strings go as they are,
    // numbers/bools as JSON text, arrays comma-joined (string elements raw, others JSON),
    // objects as compact JSON; null and absent claims set no header. A value with a
    // control character (CR, LF, NUL, any < 0x20, DEL) is refused with claim_value_invalid:
    // it could split or smuggle headers upstream.
    Status build(const boost::json::object& payload, std::vector<std::pair<std::string, std::string>>& out) const;

    bool empty() const { return mapping_.empty(); }

private:
    std::vector<std::pair<std::string, std::string>> mapping_;
};

// Header-safe rendering of one claim value (see ForwardClaims::build). false when the
// value must not be forwarded.
bool format_claim_value(const boost::json::value& v, std::string& out);

}  // namespace authgate::jwt
