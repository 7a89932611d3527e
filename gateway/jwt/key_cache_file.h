// The last good remote key set of a provider on disk (keys.jwks_cache_file), so a gateway
// that starts while its issuer is unreachable serves from it instead of answering 503.
// One JSON document:
//   {"authgate_jwks_cache":1,"source":"<jwks_url or discovery URL>","jwks_uri":"...",
//    "fetched_at":<unix seconds>,"jwks":{...the JWKS as fetched...}}
// `source` ties the file to the configured remote source: a file from another one is
// foreign and never used. Only the fetcher thread reads or writes it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jwt/key.h"

namespace authgate::jwt {

inline constexpr int kKeyCacheVersion = 1;

struct CachedKeys {
    std::vector<KeyPtr> keys;          // at least one usable key
    std::vector<std::string> skipped;  // keys of the set left out, one line each
    std::string jwks_uri;
    std::chrono::system_clock::time_point fetched_at;
};

struct KeyCacheReadResult {
    std::optional<CachedKeys> keys;  // set when the file can be used
    std::string error;               // otherwise why not ("" when the file does not exist)
};

// The file as written for one successful fetch. `jwks_json`: the set as fetched (it must
// parse as JSON); nullopt when it does not.
std::optional<std::string> format_key_cache(std::string_view source, std::string_view jwks_uri,
                                            std::chrono::system_clock::time_point fetched_at,
                                            std::string_view jwks_json);

// Parses and checks a cache document: version, source equal to `expected_source`,
// fetched_at not in the future (by more than a minute of clock skew) nor older than
// max_stale at `now`, and a key set with at least one usable key.
KeyCacheReadResult parse_key_cache(std::string_view text, std::string_view expected_source,
                                   std::chrono::milliseconds max_stale, std::chrono::system_clock::time_point now);

// Reads `path` and parses it as above. A missing file is no error (error "", no keys).
KeyCacheReadResult read_key_cache(const std::string& path, std::string_view expected_source,
                                  std::chrono::milliseconds max_stale, std::chrono::system_clock::time_point now);

// Replaces `path` atomically: a temporary file in the same directory (mode 0600),
// written, fsync'ed and renamed over it, then the directory fsync'ed; a failure leaves
// the old file as it was and no temporary file behind. Returns "" or why it failed.
std::string write_file_atomically(const std::string& path, std::string_view content);

}  // namespace authgate::jwt
