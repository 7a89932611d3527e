// libFuzzer, differential: arbitrary client bytes through the gateway's own request path
// (the downstream parser of server::Exchange, server::prepare(), the head writer and the
// body relay of session.cpp), then what would reach the upstream re-read by a strict
// HTTP/1.1 reader (strict_http.h). Aborts when the upstream could read something other
// than what the gateway decided: more than one request per exchange, a body framed
// differently from what the gateway relayed, bytes after the message, identity headers
// the gateway did not set, '_' header names, a missing or repeated Host, Forwarded or
// X-Real-IP, a Connection option naming a framing field or a gateway-set header.
//
// Input: byte 0 is flags, the rest is what a client sends on one connection.
//   flags & 1: every "TOKEN" (at most 8) becomes a valid HS256 token (sub "alice") for the
//              fixed secret, so the protected route's forwarding branch is reachable.
//   flags & 2: every LF not preceded by CR becomes CRLF (readable seeds; bare LF otherwise).
// Requests are read one after another from the same bytes (pipelining), as the session
// does, while the previous exchange left the connection usable.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "config/loader.h"
#include "jwt/key.h"
#include "jwt/signer.h"
#include "proxy/framing.h"
#include "proxy/headers.h"
#include "proxy/router.h"
#include "proxy/snapshot.h"
#include "server/prepare.h"
#include "server/responses.h"
#include "strict_http.h"

using namespace authgate;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef0123456789abcdef";
constexpr std::string_view kSubject = "alice";
constexpr int kMaxExchanges = 8;
constexpr std::size_t kRelayBuffer = 32 * 1024;  // session.cpp's

// Small limits, so that 413, 431 and the chunk-line and trailer limits are reachable.
constexpr std::string_view kConfig = R"(
server:
  listen: 127.0.0.1:18080
  workers: 1
  limits:
    max_header_bytes: 4KiB
    max_body_bytes: 2KiB
log:
  level: off
  access_log: false
upstreams:
  legacy:
    endpoints: [http://127.0.0.1:9]
jwt:
  providers:
    main:
      issuer: https://issuer.fuzz
      audiences: [fuzz-api]
      algorithms: [HS256]
      keys:
        secret: fuzz-secret-0123456789abcdef0123456789abcdef
      required_claims: [exp, sub]
      token_from:
        - header: Authorization
          prefix: "Bearer "
        - cookie: access_token
        - query: access_token
      forward_claims:
        sub: X-User-Id
        roles: X-User-Roles
cors:
  policies:
    web:
      allow_origins: [https://app.example]
      allow_methods: [GET, POST, PUT, DELETE]
      allow_headers: [authorization, content-type]
      allow_credentials: true
      max_age: 600
routes:
  - name: public
    match:
      path_prefix: /api/public/
    upstream: legacy
    cors: web
    auth: none
  - name: api
    match:
      path_prefix: /api/
    upstream: legacy
    rewrite:
      strip_prefix: /api
    auth:
      providers: [main]
      mode: required
)";

struct Fixture {
    std::shared_ptr<const proxy::Snapshot> snap;
    std::string token;

    Fixture() {
        spdlog::set_level(spdlog::level::off);
        config::Diagnostics diag;
        auto cfg = config::load_string(kConfig, "/tmp/fuzz_request.yaml", diag);
        if (cfg) snap = proxy::Snapshot::compile(std::move(*cfg), diag);
        if (!snap) {
            std::fprintf(stderr, "fuzz_request: the built-in config does not compile\n");
            std::abort();
        }
        const auto key = jwt::Key::from_secret(kSecret).key;
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        boost::json::object payload{{"sub", kSubject},        {"iss", "https://issuer.fuzz"},
                                    {"aud", "fuzz-api"},      {"iat", now},
                                    {"exp", now + 7 * 86400}};
        auto t = jwt::make_token(jwt::Algorithm::HS256, *key, boost::json::object{{"typ", "JWT"}}, payload);
        if (!t) std::abort();
        token = std::move(*t);
    }
};

std::string printable(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\r') out += "\\r";
        else if (c == '\n') out += "\\n\n";
        else if (c == '\\') out += "\\\\";
        else if (c < 0x20 || c >= 0x7f) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        } else out += static_cast<char>(c);
    }
    return out;
}

// AUTHGATE_FUZZ_IGNORE="text|text": violations whose message contains one of these are
// printed once and not fatal, to fuzz on past a known finding until it is fixed.
bool ignored(std::string_view property) {
    static const std::string list = [] {
        const char* v = std::getenv("AUTHGATE_FUZZ_IGNORE");
        return std::string(v ? v : "");
    }();
    std::string_view rest = list;
    while (!rest.empty()) {
        const auto bar = rest.find('|');
        const auto item = rest.substr(0, bar);
        if (!item.empty() && property.find(item) != std::string_view::npos) return true;
        if (bar == std::string_view::npos) break;
        rest.remove_prefix(bar + 1);
    }
    return false;
}

bool verbose() {
    static const bool v = std::getenv("AUTHGATE_FUZZ_VERBOSE") != nullptr;
    return v;
}

void violation(int exchange, std::string_view property, std::string_view forwarded) {
    if (ignored(property)) return;
    std::fprintf(stderr, "\n=== fuzz_request: property violated in exchange %d: %.*s\n", exchange,
                 static_cast<int>(property.size()), property.data());
    const auto p = printable(forwarded);
    std::fprintf(stderr, "--- forwarded upstream (%zu bytes):\n%s\n--- end\n", forwarded.size(), p.c_str());
    std::abort();
}

bool iequal(std::string_view a, std::string_view b) { return fuzz::strict_iequals(a, b); }

// Does the comma-separated list hold `token` (case-insensitive, OWS trimmed)?
bool list_has(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        auto comma = list.find(',');
        auto item = list.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (iequal(item, token)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

// The checks on what one exchange sent upstream. `relayed` is the body bytes the gateway
// took from the client's message; `truncated` when the exchange stopped before the
// client's body ended (the upstream connection is then closed).
void check_forwarded(const Fixture& fx, const server::Exchange& ex, int n, const std::string& out,
                     const std::string& relayed, bool truncated) {
    const auto r = fuzz::read_strict_request(out);
    using State = fuzz::StrictRequest::State;
    if (r.state == State::error) {
        violation(n, "strict reader refuses the forwarded request: " + r.error, out);
        return;  // ignored (AUTHGATE_FUZZ_IGNORE): nothing more can be read
    }
    if (!r.head_complete) violation(n, "the forwarded head is incomplete", out);
    if (truncated) {
        if (r.state == State::complete)
            violation(n, "the gateway abandoned the body, but the upstream reads a complete request", out);
        if (relayed.compare(0, r.body.size(), r.body) != 0 && r.body.compare(0, relayed.size(), relayed) != 0)
            violation(n, "body bytes differ from what the gateway relayed", out);
    } else {
        if (r.state != State::complete) violation(n, "the upstream does not see the request end where the gateway's did", out);
        if (r.consumed != out.size()) violation(n, "bytes after the forwarded request (a second request upstream)", out);
        if (r.body != relayed) violation(n, "body framing differs from the body the gateway relayed", out);
    }
    if (!r.trailers.empty()) violation(n, "client trailers forwarded", out);

    // Framing agrees with the gateway's parse.
    if (r.chunked && !ex.parser.chunked()) violation(n, "chunked upstream, not chunked from the client", out);
    if (ex.parser.chunked() && !r.chunked) violation(n, "chunked from the client, not chunked upstream", out);
    if (r.content_length && ex.parser.content_length() != r.content_length)
        violation(n, "Content-Length upstream differs from the client's parsed length", out);
    if (!r.chunked && !r.content_length && !relayed.empty())
        violation(n, "a body is relayed without framing", out);

    // Header rules.
    const bool protected_route = ex.route && ex.route->auth;
    int hosts = 0, user_ids = 0, request_ids = 0, xff = 0, xfp = 0, via = 0;
    for (const auto& [name, value] : r.fields) {
        if (name.find('_') != std::string_view::npos) violation(n, "header name with '_' forwarded", out);
        if (iequal(name, "host")) ++hosts;
        if (iequal(name, "forwarded") || iequal(name, "x-real-ip")) violation(n, "Forwarded/X-Real-IP forwarded", out);
        if (iequal(name, "x-request-id")) ++request_ids;
        if (iequal(name, "x-forwarded-for")) ++xff;
        if (iequal(name, "x-forwarded-proto")) ++xfp;
        if (iequal(name, "via")) ++via;
        if (iequal(name, "connection")) {
            for (std::string_view bad : {"host", "content-length", "transfer-encoding", "x-user-id", "x-user-roles",
                                         "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id",
                                         "via"})
                if (list_has(value, bad)) violation(n, "Connection names a framing or gateway-set header", out);
        }
        if (iequal(name, "upgrade")) {
            bool only_websocket = true;
            std::string_view list = value;
            while (true) {
                auto comma = list.find(',');
                auto item = list.substr(0, comma);
                while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
                while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
                if (!iequal(item, "websocket")) only_websocket = false;
                if (comma == std::string_view::npos) break;
                list.remove_prefix(comma + 1);
            }
            if (!only_websocket) violation(n, "an Upgrade other than websocket forwarded", out);
        }
        if (iequal(name, "keep-alive") || iequal(name, "te") || iequal(name, "trailer") ||
            (name.size() >= 6 && iequal(name.substr(0, 6), "proxy-")))
            violation(n, "hop-by-hop header forwarded", out);
        for (const auto& identity : ex.snap->identity_headers) {
            if (!iequal(name, identity)) continue;
            if (!protected_route) violation(n, "identity header on the public route", out);
            if (iequal(name, "x-user-id")) {
                ++user_ids;
                if (value != kSubject) violation(n, "X-User-Id is not the verified token's subject", out);
            } else {
                violation(n, "identity header the verified token does not carry", out);
            }
        }
    }
    if (hosts != 1) violation(n, "Host not present exactly once", out);
    if (protected_route && user_ids != 1) violation(n, "X-User-Id not present exactly once on the protected route", out);
    if (request_ids != 1 || xff != 1 || xfp != 1 || via != 1)
        violation(n, "a gateway-set header (X-Request-Id, X-Forwarded-For/Proto, Via) not present exactly once", out);

    // The path the upstream sees is the normalized one the gateway routed on.
    const auto target = r.target;
    const auto path = target.substr(0, target.find('?'));
    const auto again = proxy::normalize_path(path);
    if (!again || *again != path) violation(n, "forwarded path is not normalized", out);
    if (!protected_route && !path.starts_with("/api/public/")) violation(n, "public route forwards outside its prefix", out);
    (void)fx;
}

std::array<char, kRelayBuffer> up_buf;  // session.cpp's up_buf_

// Session::read_request_piece and read_body_piece with the socket at end of stream: parse
// what is buffered until body bytes come out (into up_buf, `got` of them) or the message
// ends; a chunked body's size line and trailers are held to their limits before a read;
// the read finds the client gone (put_eof). `stuck` counts pieces that made no progress.
boost::system::error_code read_piece(server::Exchange& ex, boost::beast::flat_buffer& buffer, std::size_t& got,
                                     int& stuck, int n) {
    auto& body = ex.parser.get().body();
    body.data = up_buf.data();
    body.size = up_buf.size();
    got = 0;
    boost::system::error_code ec;
    for (;;) {
        const std::size_t before = buffer.size();
        if (proxy::parse_buffered(ex.parser, buffer, ec)) {
            if (ec || body.size != up_buf.size() || ex.parser.is_done()) break;
            if (buffer.size() == before && ++stuck > 1000)
                violation(n, "the body loop makes no progress on buffered bytes (the session would spin)", {});
            continue;
        }
        if (ex.parser.chunked()) {
            const auto unparsed = buffer.cdata();
            if (auto e = proxy::stalled_chunk_framing(
                    std::string_view(static_cast<const char*>(unparsed.data()), unparsed.size()),
                    ex.snap->cfg.server.limits.max_header_bytes))
                return *e;
        }
        ex.parser.put_eof(ec);
        if (!ec && ++stuck > 1000) violation(n, "end of stream neither ends nor fails the body (the session would spin)", {});
        break;
    }
    got = up_buf.size() - body.size;
    if (got > 0) stuck = 0;
    return ec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Fixture fx;
    if (size < 1) return 0;
    const std::uint8_t flags = data[0];
    std::string raw(reinterpret_cast<const char*>(data + 1), size - 1);
    if (flags & 1) {
        int replaced = 0;
        for (auto pos = raw.find("TOKEN"); pos != std::string::npos && replaced < 8; pos = raw.find("TOKEN", pos)) {
            raw.replace(pos, 5, fx.token);
            pos += fx.token.size();
            ++replaced;
        }
    }
    if (flags & 2) {
        std::string crlf;
        crlf.reserve(raw.size() + raw.size() / 8);
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) crlf += '\r';
            crlf += raw[i];
        }
        raw = std::move(crlf);
    }

    // The client's bytes, all already read: session.cpp's buffer_.
    boost::beast::flat_buffer buffer;
    {
        auto mb = buffer.prepare(raw.size());
        std::memcpy(mb.data(), raw.data(), raw.size());
        buffer.commit(raw.size());
    }
    proxy::Arena arena;
    std::mt19937_64 rng(42);
    const server::DecisionContext ctx{rng, nullptr, "192.0.2.7", static_cast<std::int64_t>(std::time(nullptr))};

    for (int n = 0; n < kMaxExchanges && buffer.size() > 0; ++n) {
        std::optional<server::Exchange> holder;
        server::Exchange& ex = holder.emplace(arena, fx.snap);
        auto& req = ex.parser.get();

        // Session::handle_request: the header from what is buffered; nothing more will come,
        // so a header still incomplete ends the connection (end_of_stream or a 400).
        boost::system::error_code ec;
        while (!ec && !ex.parser.is_header_done()) {
            if (!proxy::parse_buffered(ex.parser, buffer, ec)) break;
        }
        if (!ec && !ex.parser.is_header_done()) break;

        server::Reply reply;
        jwt::AuthOutcome auth;
        const server::Next next = ec ? server::bad_header(ex, ec, reply) : server::prepare(ex, ctx, auth, reply);
        if (next == server::Next::reply || next == server::Next::preflight) {
            // Gateway-made response: finish_local decides whether the connection goes on.
            auto res = next == server::Next::reply ? server::error_response(reply)
                                                   : server::preflight_response(ex, nullptr);
            const bool keep = server::finish_local(ex, res, next == server::Next::reply && reply.close,
                                                   next == server::Next::preflight, false, nullptr);
            if (verbose())
                std::fprintf(stderr, "--- exchange %d: answered by the gateway: %u %s%s\n", n, res.result_int(),
                             reply.description.c_str(), keep ? "" : " (connection closed)");
            holder.reset();
            arena.reset();
            if (!keep) break;
            continue;
        }

        // Session::forward writes the head as prepare() decided it, before any body byte is
        // parsed (the parser files trailers with the header fields).
        std::string decided;
        proxy::write_request_head(req, decided);

        // Session::forward: with a body, its first piece is read before anything goes
        // upstream (a failure there forwards nothing: 413/400/431, or the client is gone).
        const bool has_body = !ex.parser.is_done();
        const bool up_chunked = ex.parser.chunked();
        std::size_t got = 0;
        int stuck = 0;
        std::string out;
        if (has_body) {
            if (read_piece(ex, buffer, got, stuck, n)) {
                holder.reset();
                arena.reset();
                break;  // every body failure closes the connection
            }
        }
        // Session::exchange, step 1: the head with the first piece, then the rest as it is
        // parsed, re-framed by frame().
        const std::string& head = decided;
        char chunk_line[24];
        for (const auto& b : proxy::frame(head, up_buf.data(), got, up_chunked, ex.parser.is_done(), chunk_line))
            out.append(static_cast<const char*>(b.data()), b.size());
        std::string relayed(up_buf.data(), got);
        bool truncated = false;
        while (!ex.parser.is_done()) {
            if (read_piece(ex, buffer, got, stuck, n)) {
                truncated = true;  // 413, 431, 400 or the client went away: both connections close
                break;
            }
            relayed.append(up_buf.data(), got);
            const bool last = ex.parser.is_done();
            if (got == 0 && !(last && up_chunked)) continue;  // never an empty chunk
            for (const auto& b : proxy::frame({}, up_buf.data(), got, up_chunked, last, chunk_line))
                out.append(static_cast<const char*>(b.data()), b.size());
        }
        if (!has_body && !relayed.empty()) violation(n, "body bytes relayed for a message without a body", out);
        if (verbose()) {
            const auto p = printable(out);
            std::fprintf(stderr, "--- exchange %d: forwarded to route %s%s:\n%s\n", n, ex.route->cfg->name.c_str(),
                         truncated ? " (body cut short, connections closed)" : "", p.c_str());
        }
        check_forwarded(fx, ex, n, out, relayed, truncated);

        // The response is the upstream's; at best it keeps the connection. The session goes
        // on only for an HTTP/1.1 keep-alive client, and never after an upgrade (the
        // upstream may answer 101: what follows is the tunnel's).
        const bool go_on = !truncated && ex.keep_alive && ex.version == 11 && !ex.upgrade;
        holder.reset();
        arena.reset();
        if (!go_on) break;
    }
    return 0;
}
