#include "jwt/oidc_discovery.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "config/syntax.h"

namespace authgate::jwt {

DiscoveryResult parse_discovery(std::string_view json, std::string_view expected_issuer, bool over_tls) {
    DiscoveryResult r;
    if (json.size() > kMaxDiscoveryBytes) {
        r.error = "document too large";
        return r;
    }
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(json, ec);
    if (ec) {
        r.error = "not valid JSON: " + ec.message();
        return r;
    }
    const auto* root = doc.if_object();
    if (!root) {
        r.error = "not a JSON object";
        return r;
    }
    const auto* issuer = root->if_contains("issuer");
    if (!issuer || !issuer->is_string()) {
        r.error = "no \"issuer\" string";
        return r;
    }
    const std::string_view got(issuer->get_string().data(), issuer->get_string().size());
    if (got != expected_issuer) {
        // Exact comparison (section 4.3): no trailing-slash or case folding.
        r.error = "issuer mismatch: the document names '" + std::string(got) + "', the config '" +
                  std::string(expected_issuer) + "'";
        return r;
    }
    const auto* uri = root->if_contains("jwks_uri");
    if (!uri || !uri->is_string()) {
        r.error = "no \"jwks_uri\" string";
        return r;
    }
    const std::string jwks_uri(uri->get_string().data(), uri->get_string().size());
    std::string why;
    const auto parsed = config::syntax::parse_http_url(jwks_uri, why);
    if (!parsed) {
        r.error = "invalid jwks_uri '" + jwks_uri + "': " + why;
        return r;
    }
    if (over_tls && !parsed->tls) {
        r.error = "jwks_uri '" + jwks_uri + "' is plain http, but the document came over https";
        return r;
    }
    r.ok = true;
    r.jwks_uri = jwks_uri;
    return r;
}

}  // namespace authgate::jwt
