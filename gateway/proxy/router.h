// Route matching: first route whose path, method and host conditions all hold.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace authgate::proxy {

// Normalizes a request path for matching and forwarding: percent-encoded unreserved
// characters are decoded (%2e -> '.', %41 -> 'A'), other escapes are kept with upper-case
// hex (%2F stays encoded so it never becomes a separator), then dot segments are removed
// (RFC 3986 5.2.4). Returns nullopt for a path that is not origin-form ("/...") or that
// backends could resolve differently from the gateway: a malformed escape, a raw or
// encoded control character or backslash, a "." or ".." segment followed by ";"
// parameters (raw or "%3B"; "/public/..;/admin" is ".." to Tomcat-style servers).
std::optional<std::string> normalize_path(std::string_view path);

// Appends `text` with every byte >= 0x80 percent-encoded (upper-case hex): a query string
// goes upstream in the URI's own alphabet, as normalize_path does for the path.
void append_percent_encoding_non_ascii(std::string& out, std::string_view text);

// Is a Host header value "host" or "host:port" (port 1-65535, digits only; an IPv6
// address in brackets)? The name may hold letters, digits, '-', '.' and '_'.
bool valid_host(std::string_view host);

// Lower-cases and drops the port of a Host header value ("API.Example.com:8443" ->
// "api.example.com"; "[::1]:80" -> "[::1]").
std::string normalize_host(std::string_view host);

class Router {
public:
    explicit Router(const std::vector<config::Route>& routes);

    // Index of the first matching route, or nullopt. `path` must be normalized and
    // `host` normalized with normalize_host.
    std::optional<std::size_t> match(std::string_view method, std::string_view host, std::string_view path) const;

    // First route whose path condition alone holds (methods and host ignored): used to
    // give a 404 the CORS headers of the route the browser was aiming at.
    std::optional<std::size_t> match_path(std::string_view path) const;

private:
    struct Entry {
        std::string path;
        std::string path_prefix;
        std::vector<std::string> methods;
        std::string host;
    };
    std::vector<Entry> entries_;
};

// Applies rewrite.strip_prefix to a normalized path: "/api/users" - "/api" -> "/users";
// a path equal to the prefix becomes "/". Only strips at a segment boundary or when the
// prefix itself ends with '/'.
std::string strip_prefix(std::string_view path, std::string_view prefix);

}  // namespace authgate::proxy
