// Route claim rules (route auth.claims): checked after a token verified; a failure is a
// 403 insufficient_scope, not a 401, because the token itself is fine.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "jwt/status.h"

namespace authgate::jwt {

class ClaimRules {
public:
    // claim path -> accepted values. The key "scope" means: every listed scope is in the
    // token's space-separated "scope" string (or its "scope"/"scp" array).
    explicit ClaimRules(std::vector<std::pair<std::string, std::vector<std::string>>> rules)
        : rules_(std::move(rules)) {}

    // ok, or insufficient_scope.
    Status check(const boost::json::object& payload) const;
    bool empty() const { return rules_.empty(); }

private:
    std::vector<std::pair<std::string, std::vector<std::string>>> rules_;
};

}  // namespace authgate::jwt
