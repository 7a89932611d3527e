// Header rules shared by both directions of the proxy: hop-by-hop removal, list-valued
// header merging, request ids. Pure functions over Beast's field container.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>

namespace authgate::proxy {

namespace http = boost::beast::http;

// Removes Connection and every header it names, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade and Proxy-* (RFC 9110 7.6.1). With keep_upgrade the Upgrade
// header and "Connection: upgrade" survive, for relaying a WebSocket handshake.
void strip_hop_by_hop(http::fields& fields, bool keep_upgrade);

// Does the request ask for a protocol upgrade ("Connection: upgrade" + "Upgrade: x")?
bool wants_upgrade(const http::fields& fields);

// Appends `value` to a comma-separated list header (creating it), e.g. X-Forwarded-For.
void append_to_list(http::fields& fields, std::string_view name, std::string_view value);

// Adds `token` to Vary unless already listed (case-insensitive) or Vary is "*".
void merge_vary(http::fields& fields, std::string_view token);

// Removes every Access-Control-* header (the gateway alone speaks CORS on a policy route).
void strip_access_control(http::fields& fields);

// A client's X-Request-Id is kept when it is 1..128 visible safe characters.
bool valid_request_id(std::string_view id);

// 32 lower-case hex characters from the worker's generator.
std::string make_request_id(std::mt19937_64& rng);

// Does the comma-separated header value contain `token` (case-insensitive)?
bool list_contains(std::string_view list, std::string_view token);

}  // namespace authgate::proxy
