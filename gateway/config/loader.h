// YAML -> config::Config. Reports every problem found (not just the first) as
// "FILE:LINE:COL: message" through Diagnostics; never throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace authgate::config {

// Reads and validates the file. Returns the config when diag.ok(); otherwise nullopt and
// diag holds every error. Checks: unknown keys, types, ${VAR}/${VAR:-default}, units,
// listen/endpoint syntax, enums, references between sections (route -> upstream, cors
// policy, jwt provider). Compile-level checks (key files, regexes) belong to jwt/ and cors/.
std::optional<Config> load_file(const std::string& path, Diagnostics& diag);

// Same, from text; `file` names it in messages and anchors relative paths (its folder).
std::optional<Config> load_string(std::string_view yaml, const std::string& file, Diagnostics& diag);

// "250ms", "30s", "5m", "24h", "1h30m" or integer seconds. nullopt when malformed.
std::optional<Duration> parse_duration(std::string_view text);
// Integer bytes or "16KiB", "10MiB", "1GiB", "512KB" (KB = 1000). nullopt when malformed.
std::optional<std::uint64_t> parse_size(std::string_view text);
// "${NAME}" and "${NAME:-default}" replaced from the environment; a missing NAME without a
// default leaves `missing` set to its name and returns nullopt.
std::optional<std::string> expand_env(std::string_view text, std::string& missing);

}  // namespace authgate::config
