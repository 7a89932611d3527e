// Header rules shared by both directions of the proxy: hop-by-hop removal, list-valued
// header merging, request ids. Pure functions over Beast's field container.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include "proxy/arena.h"

namespace authgate::proxy {

namespace http = boost::beast::http;

// The fields of a proxied exchange live in the session's arena (see arena.h); responses
// the gateway makes itself use Beast's default fields. Every function below takes either.
using ArenaFields = http::basic_fields<ArenaAllocator<char>>;

// Removes Connection and every header it names, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade and Proxy-* (RFC 9110 7.6.1). With keep_upgrade the Upgrade
// header and "Connection: upgrade" survive, for relaying a WebSocket handshake.
void strip_hop_by_hop(http::fields& fields, bool keep_upgrade);
void strip_hop_by_hop(ArenaFields& fields, bool keep_upgrade);

// Does the request ask for a protocol upgrade ("Connection: upgrade" + "Upgrade: x")?
bool wants_upgrade(const http::fields& fields);
bool wants_upgrade(const ArenaFields& fields);

// Appends `value` to a comma-separated list header (creating it), e.g. X-Forwarded-For.
void append_to_list(http::fields& fields, std::string_view name, std::string_view value);
void append_to_list(ArenaFields& fields, std::string_view name, std::string_view value);

// Adds `token` to Vary unless already listed (case-insensitive) or Vary is "*".
void merge_vary(http::fields& fields, std::string_view token);
void merge_vary(ArenaFields& fields, std::string_view token);

// Removes every Access-Control-* header (the gateway alone speaks CORS on a policy route).
void strip_access_control(http::fields& fields);
void strip_access_control(ArenaFields& fields);

// A client's X-Request-Id is kept when it is 1..128 visible safe characters.
bool valid_request_id(std::string_view id);

// 32 lower-case hex characters from the worker's generator.
std::string make_request_id(std::mt19937_64& rng);

// The head authgate sends, appended to `out`: request line (or status line), every field
// as stored, blank line; always HTTP/1.1. Written by hand into a buffer the session
// reuses: Beast's serializer presents the fields as a chain of buffer views whose
// iteration cost more user-space instructions than the rest of a proxied request.
template <class Fields>
void write_request_head(const http::header<true, Fields>& head, std::string& out);
template <class Fields>
void write_response_head(const http::header<false, Fields>& head, std::string& out);

// Does the comma-separated header value contain `token` (case-insensitive)?
bool list_contains(std::string_view list, std::string_view token);

}  // namespace authgate::proxy
