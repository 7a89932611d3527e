#include "jwt/token_report.h"

#include "jwt/claim_rules.h"
#include "jwt/provider.h"

namespace authgate::jwt {

TokenReport report_token(const Provider& provider, const ParsedToken& token, std::int64_t now) {
    TokenReport report;
    ParsedToken copy = token;  // verify() moves the payload out
    CheckRecorder recorder;
    report.status = provider.verify(copy, now, report.verified, &recorder);
    recorder.finish(report.status);
    report.checks = recorder.take();
    return report;
}

std::vector<Status> report_claim_rules(const config::RouteAuth& auth, const boost::json::object& payload) {
    std::vector<Status> out;
    for (const auto& rule : auth.claims) out.push_back(ClaimRules({rule}).check(payload));
    return out;
}

}  // namespace authgate::jwt
