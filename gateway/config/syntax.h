// Small text-level parsers the loader needs (addresses, URLs, HTTP tokens, suggestions).
// Internal to gateway/config; kept apart from the YAML walk so they can be tested alone.
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

// "host:port" or "[v6]:port"; host stored without brackets. Port 0 is allowed (ephemeral).
// On failure `why` says what is wrong.
std::optional<ListenAddress> parse_listen(std::string_view text, std::string& why);

// "http://host[:port]" or "https://host[:port]" (optional trailing '/'), no path, query,
// fragment or user info. Default port 80 / 443; host stored without brackets.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& why);

// Route match host: lower case, port removed, IPv6 brackets kept (as in a Host header).
std::optional<std::string> normalize_route_host(std::string_view text, std::string& why);

}  // namespace authgate::config::syntax
