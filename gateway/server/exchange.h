// What one request/response exchange carries through the pipeline: the parsed request, the
// decisions taken on it (route, CORS policy, auth status) and what the access log reports.
// Plain data, no I/O: the stages (prepare.h), the gateway's own responses (responses.h),
// the Session, the Forwarder and `authgate explain` all read and write it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <tuple>

#include <boost/beast/http.hpp>

#include "cors/policy.h"
#include "jwt/authenticator.h"
#include "proxy/arena.h"
#include "proxy/snapshot.h"
#include "proxy/upstream_error.h"

namespace authgate::server {

namespace http = boost::beast::http;
using ArenaAlloc = proxy::ArenaAllocator<char>;

// A JSON error response the gateway answers with itself.
struct Reply {
    http::status status = http::status::internal_server_error;
    std::string_view error;  // the JSON "error" code: a literal
    std::string description;
    bool close = false;
    std::string www_authenticate;
    bool retry_after = false;

    static Reply make(http::status status, std::string_view error, std::string description, bool close = false,
                      std::string www_authenticate = {}) {
        return Reply{status, error, std::move(description), close, std::move(www_authenticate), false};
    }
};

struct Exchange {
    // The parser takes the snapshot's header and body limits.
    Exchange(proxy::Arena& arena, std::shared_ptr<const proxy::Snapshot> snapshot)
        : snap(std::move(snapshot)),
          parser(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAlloc(arena))) {
        parser.header_limit(static_cast<std::uint32_t>(snap->cfg.server.limits.max_header_bytes));
        parser.body_limit(snap->cfg.server.limits.max_body_bytes);
    }
    std::shared_ptr<const proxy::Snapshot> snap;
    http::request_parser<http::buffer_body, ArenaAlloc> parser;
    const proxy::RouteRuntime* route = nullptr;
    const cors::Policy* cors = nullptr;  // the policy whose headers this response carries
    std::string request_id;
    bool request_id_from_client = false;  // the client's own valid X-Request-Id, kept as it was
    std::string origin;  // copy: headers are rewritten before the response is built
    std::string method;
    std::string path;    // as received, for the log
    unsigned version = 11;
    bool keep_alive = true;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    unsigned status = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::string upstream;
    std::string_view auth;  // jwt::to_string of the auth status; empty when no auth ran
    std::string_view provider;  // the jwt provider that decided (its config name); empty when none did
    std::string_view upstream_error;  // proxy::to_string of what failed upstream; empty when nothing did
    bool expect_continue = false;
    bool upgrade = false;
};

// What the decision needs from whoever runs it (a worker, or `explain`).
struct DecisionContext {
    std::mt19937_64& rng;          // request ids
    jwt::TokenCache* token_cache;  // may be null (no caching)
    std::string_view client_ip;    // appended to X-Forwarded-For
    std::int64_t now;              // unix seconds, for the token's time claims
};

// What prepare() decided: forward, answer a preflight, or answer with `Reply`.
enum class Next { forward, preflight, reply };

}  // namespace authgate::server
