// Config -> YAML: what `authgate --dump-config` prints. Every key the loader reads is
// written with its effective value (${VAR} expanded, defaults applied, paths absolute),
// durations in the loader's own syntax ("5s", "1m30s", "250ms"), so that the output,
// unmasked, loads back to an equal Config.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"

namespace authgate::config {

// What a masked credential reads as.
inline constexpr std::string_view kRedacted = "<redacted>";

enum class Secrets {
    redact,  // HMAC secrets and URL credentials read "<redacted>": safe to paste in a ticket
    reveal,  // as loaded (tests: the dump must reload to the same Config)
};

std::string dump_yaml(const Config& cfg, Secrets secrets = Secrets::redact);

// A URL with its user:password@ (if any) replaced by "<redacted>@" and every query value by
// "<redacted>" (names kept); the rest as written.
std::string redact_credentials(std::string_view url);

// The shortest form parse_duration reads back exactly: "0s", "250ms", "5s", "1h30m".
std::string format_duration(Duration d);

}  // namespace authgate::config
