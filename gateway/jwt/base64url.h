// base64url (RFC 4648 section 5) as JWS uses it: no padding, and strict decoding so that
// one token has exactly one textual form (a cache keyed by token bytes and a signature
// over the text must not be fooled by equivalent spellings).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace authgate::jwt {

// Appends the decoded bytes to out. Rejects padding, any character outside the url-safe
// alphabet, a length of 1 mod 4, and non-zero trailing bits (non-canonical encodings).
bool base64url_decode(std::string_view in, std::string& out);

std::string base64url_encode(std::string_view bytes);

// Lenient decoder for configuration values (secret_base64): accepts the standard and the
// url-safe alphabet, with or without '=' padding, ignoring ASCII whitespace.
bool base64_decode_any(std::string_view in, std::string& out);

// Upper bound of the decoded size of `encoded_len` base64url characters.
constexpr std::size_t base64url_decoded_max(std::size_t encoded_len) { return encoded_len / 4 * 3 + 3; }

}  // namespace authgate::jwt
