// Finding the token in a request: configured sources in order, first present one wins.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "jwt/authenticator.h"

namespace authgate::jwt {

struct ExtractedToken {
    std::string_view token;   // into the request, or into the caller's scratch string
    std::size_t source = 0;   // index into the extractor's sources
};

class TokenExtractor {
public:
    // Empty sources = Authorization with prefix "Bearer ".
    explicit TokenExtractor(std::vector<config::TokenSource> sources);

    // The first source that carries a token. A header whose scheme differs from the
    // prefix (Basic ...) carries none. A matching scheme with nothing after it yields an
    // empty token (present, and malformed). Query values are percent-decoded into scratch.
    std::optional<ExtractedToken> extract(const RequestView& request, std::string& scratch) const;

    const std::vector<config::TokenSource>& sources() const { return sources_; }

private:
    std::vector<config::TokenSource> sources_;
};

bool same_source(const config::TokenSource& a, const config::TokenSource& b);

// Header value after `prefix` ("Bearer "): the scheme compares case-insensitively and
// any run of spaces/tabs may follow it. nullopt when the scheme does not match.
std::optional<std::string_view> strip_auth_prefix(std::string_view value, std::string_view prefix);
// Value of cookie `name` in a Cookie header (quotes removed), or nullopt.
std::optional<std::string_view> find_cookie(std::string_view cookie_header, std::string_view name);
// Percent-decoded value of query parameter `name` (first occurrence), or nullopt.
std::optional<std::string> find_query_param(std::string_view query, std::string_view name);
// application/x-www-form-urlencoded decoding ('+' is a space). false on a bad escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace authgate::jwt
