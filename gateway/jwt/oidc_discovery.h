// OpenID Connect Discovery 1.0: what the gateway takes from an issuer's configuration
// document (section 3): its issuer, which must be the configured one exactly (section
// 4.3, so a document cannot hand out another issuer's keys), and its jwks_uri.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace authgate::jwt {

// Real documents are a few KiB; a larger one is not a configuration document.
inline constexpr std::size_t kMaxDiscoveryBytes = 64 * 1024;

struct DiscoveryResult {
    bool ok = false;
    std::string error;     // when !ok: why the document was refused
    std::string jwks_uri;  // when ok: an http(s) URL the fetcher can use
};

// Never throws. `over_tls`: the document came over https, so a plain-http jwks_uri
// (which would throw away that protection) is refused.
DiscoveryResult parse_discovery(std::string_view json, std::string_view expected_issuer, bool over_tls);

}  // namespace authgate::jwt
