#include "jwt/token_checks.h"

#include <algorithm>
#include <iterator>

namespace authgate::jwt {

void CheckRecorder::finish(Status verdict) {
    if (verdict == Status::ok) return;
    // Verification stops at its first failure, so that failure is the last check recorded.
    if (checks_.empty() || checks_.back().result != TokenCheck::Result::failed) {
        checks_.push_back({"verify", TokenCheck::Result::failed, verdict, {}});  // a status no check claims
        return;
    }
    const auto failed = std::find(std::begin(kCheckNames), std::end(kCheckNames), checks_.back().name);
    for (auto it = failed == std::end(kCheckNames) ? failed : failed + 1; it != std::end(kCheckNames); ++it) {
        if (*it == to_string(Check::claim_types)) continue;  // only news when it fails
        checks_.push_back({*it, TokenCheck::Result::not_reached, Status::ok, {}});
    }
}

std::string human_seconds(std::int64_t s) {
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    if (s < 86400) return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
    return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

}  // namespace authgate::jwt
