// Small text-level parsers the loader needs (addresses, URLs, HTTP tokens, suggestions).
// Kept apart from the YAML walk so they can be tested alone. Outside gateway/config only
// parse_http_url is used: the JWKS fetcher reads the URL the loader checked with it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/strings.h"

namespace authgate::config::syntax {

// Levenshtein distance, used to suggest the key or name the user probably meant.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when within `max_distance` edits, else empty.
std::string closest(std::string_view word, const std::vector<std::string>& candidates, std::size_t max_distance = 2);

// RFC 9110 token (header names, methods): strings.h has the one definition.
using strings::is_token;

// "ip:port" or "[v6]:port"; host stored without brackets. Port 0 is allowed (ephemeral).
// The host must be an IP address, as the server binds it (a name, even localhost, is
// refused: which address it stands for depends on the resolver at start). On failure
// `why` says what is wrong.
std::optional<ListenAddress> parse_listen(std::string_view text, std::string& why);

// True when binding both would fail: the same port (not 0) on the same address, or on
// an address the other's wildcard covers ([::] also takes IPv4). Both already parsed.
bool listen_overlaps(const ListenAddress& a, const ListenAddress& b);

// "http://host[:port]" or "https://host[:port]" (optional trailing '/'), no path, query,
// fragment or user info. Default port 80 / 443; host stored without brackets.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& why);

// An http(s) URL the gateway fetches from (jwks_url): no user info, port 1-65535.
struct HttpUrl {
    bool tls = false;
    std::string host;    // without brackets for IPv6 literals
    std::string port;    // the scheme's default when the URL has none
    std::string target;  // path + query, at least "/"; a fragment is dropped
};
std::optional<HttpUrl> parse_http_url(std::string_view text, std::string& why);

// Route match host: lower case, port removed, IPv6 brackets kept (as in a Host header).
std::optional<std::string> normalize_route_host(std::string_view text, std::string& why);

}  // namespace authgate::config::syntax
