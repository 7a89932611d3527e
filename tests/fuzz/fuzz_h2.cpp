// libFuzzer: arbitrary HTTP/2 frames from a client through the gateway's h2 -> h1 path:
// nghttp2's server session (HTTP messaging on, the options h2_session.cpp sets), each
// request stream's fields into server::H2RequestHead, its rebuilt HTTP/1.1 head through the
// exchange's Beast parser and server::prepare(), its DATA through server::H2BodyFeed and
// proxy::frame() as the Forwarder relays them. What would reach the upstream is re-read by
// the strict HTTP/1.1 reader (strict_http.h); aborts when the upstream could read something
// other than what the gateway decided (a second request, framing that disagrees with the
// relayed body, a field the stream was refused for, a missing or repeated Host, a
// connection-specific or '_' field). Memory stays bounded: at most kMaxStreams streams are
// tracked, each head to max_header_list_size and each body to max_body_bytes.
//
// Input: frames after the client preface (added here), e.g. a SETTINGS frame first. A field
// value "TOKEN" becomes a valid HS256 token, so the protected route's forwarding is reachable.
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

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
#include "server/h2_request.h"
#include "server/prepare.h"
#include "server/responses.h"
#include "strict_http.h"

using namespace authgate;

namespace {

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef0123456789abcdef";
constexpr std::size_t kMaxStreams = 16;
constexpr std::size_t kRelayBuffer = 32 * 1024;  // the Forwarder's

constexpr std::string_view kConfig = R"(
server:
  listen: 127.0.0.1:18080
  workers: 1
  limits:
    max_header_bytes: 4KiB
    max_body_bytes: 2KiB
  http2:
    enabled: true
    cleartext: true
    max_header_list_size: 4KiB
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
      forward_claims:
        sub: X-User-Id
routes:
  - name: public
    match:
      path_prefix: /api/public/
    upstream: legacy
    auth: none
  - name: api
    match:
      path_prefix: /api/
    upstream: legacy
    auth:
      providers: [main]
)";

struct Fixture {
    std::shared_ptr<const proxy::Snapshot> snap;
    std::string token;
    std::string bearer;
    Fixture() {
        spdlog::set_level(spdlog::level::off);
        config::Diagnostics diag;
        auto cfg = config::load_string(kConfig, "/tmp/fuzz_h2.yaml", diag);
        if (cfg) snap = proxy::Snapshot::compile(std::move(*cfg), diag);
        if (!snap) {
            std::fprintf(stderr, "fuzz_h2: the built-in config does not compile\n");
            std::abort();
        }
        const auto key = jwt::Key::from_secret(kSecret).key;
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        boost::json::object payload{{"sub", "alice"}, {"iss", "https://issuer.fuzz"}, {"aud", "fuzz-api"},
                                    {"iat", now},     {"exp", now + 7 * 86400}};
        auto t = jwt::make_token(jwt::Algorithm::HS256, *key, boost::json::object{{"typ", "JWT"}}, payload);
        if (!t) std::abort();
        token = std::move(*t);
        bearer = "Bearer " + token;
    }
};

[[noreturn]] void violation(std::string_view what, std::string_view forwarded) {
    std::fprintf(stderr, "\n=== fuzz_h2: %.*s\n--- forwarded (%zu bytes):\n%.*s\n--- end\n", static_cast<int>(what.size()),
                 what.data(), forwarded.size(), static_cast<int>(forwarded.size()), forwarded.data());
    std::abort();
}

// One request stream, as h2_session.cpp's H2Stream keeps it.
struct Stream {
    explicit Stream(const Fixture& fx)
        : head(fx.snap->cfg.server.http2.max_header_list_size), snap(fx.snap) {}
    server::H2RequestHead head;
    std::shared_ptr<const proxy::Snapshot> snap;
    proxy::Arena arena;
    std::optional<server::Exchange> ex;
    std::optional<server::H2BodyFeed> feed;
    bool header_done = false, end_stream = false, refused = false, forwarding = false, failed = false;
    std::string pending;  // DATA before the framing was decided
    std::string out;      // what the upstream would read
    std::string relayed;  // the body bytes the gateway took
    char chunk_line[24];
};

struct Context {
    const Fixture& fx;
    std::map<std::int32_t, std::unique_ptr<Stream>> streams;
    std::mt19937_64 rng{42};
};

// The checks on what one stream sent upstream.
void check(const Stream& s, bool complete) {
    const auto r = fuzz::read_strict_request(s.out);
    using State = fuzz::StrictRequest::State;
    if (r.state == State::error) violation("strict reader refuses the forwarded request: " + r.error, s.out);
    if (!r.head_complete) violation("the forwarded head is incomplete", s.out);
    if (complete) {
        if (r.state != State::complete) violation("the upstream does not see the request end where the gateway's did", s.out);
        if (r.consumed != s.out.size()) violation("bytes after the forwarded request (a second request upstream)", s.out);
        if (r.body != s.relayed) violation("body framing differs from the body the gateway relayed", s.out);
    } else if (s.relayed.compare(0, r.body.size(), r.body) != 0 && r.body.compare(0, s.relayed.size(), s.relayed) != 0) {
        violation("body bytes differ from what the gateway relayed", s.out);
    }
    int hosts = 0;
    for (const auto& [name, value] : r.fields) {
        if (name.find('_') != std::string_view::npos) violation("header name with '_' forwarded", s.out);
        if (fuzz::strict_iequals(name, "host")) ++hosts;
        for (std::string_view bad : {"connection", "keep-alive", "proxy-connection", "upgrade", "te", "forwarded",
                                     "x-real-ip", "http2-settings"})
            if (fuzz::strict_iequals(name, bad)) violation("a field the gateway refuses or removes was forwarded", s.out);
        if (fuzz::strict_iequals(name, "x-user-id") && (!s.ex->route || !s.ex->route->auth || value != "alice"))
            violation("X-User-Id the gateway did not set", s.out);
    }
    if (hosts != 1) violation("Host not present exactly once", s.out);
}

// The framing is decided: the head through the parser and prepare(), as H2Stream::serve.
void decide(Context& c, Stream& s, server::H2RequestHead::Body body, std::uint64_t length) {
    std::string head;
    s.head.write_http1(head, body, length);
    auto& ex = s.ex.emplace(s.arena, s.snap);
    boost::system::error_code ec;
    server::H2BodyFeed::put(ex.parser, head, ec);
    if (ec || !ex.parser.is_header_done() || s.head.too_large()) return;  // 400/413/431, nothing forwarded
    server::Reply reply;
    jwt::AuthOutcome auth;
    const server::DecisionContext ctx{c.rng, nullptr, "192.0.2.7", static_cast<std::int64_t>(std::time(nullptr))};
    if (server::prepare(ex, ctx, auth, reply) != server::Next::forward) return;
    s.forwarding = true;
    proxy::write_request_head(ex.parser.get(), s.out);
    s.feed.emplace(ex.parser.chunked());
    const std::string pending = std::move(s.pending);
    s.pending.clear();
    if (!pending.empty()) {
        auto& b = ex.parser.get().body();
        static char buf[kRelayBuffer];
        b.data = buf;
        b.size = sizeof buf;
        s.feed->data(ex.parser, pending, ec);
        const std::size_t got = sizeof buf - b.size;
        s.relayed.append(buf, got);
        for (const auto& part : proxy::frame({}, buf, got, ex.parser.chunked(), false, s.chunk_line))
            s.out.append(static_cast<const char*>(part.data()), part.size());
        if (ec) s.failed = true;
    }
}

void on_data(Stream& s, std::string_view bytes) {
    if (!s.header_done || s.refused || s.failed) return;
    if (!s.ex) {
        s.pending.append(bytes);  // bounded by the stream window
        return;
    }
    if (!s.forwarding) return;
    auto& ex = *s.ex;
    static char buf[kRelayBuffer];
    auto& b = ex.parser.get().body();
    b.data = buf;
    b.size = sizeof buf;
    boost::system::error_code ec;
    s.feed->data(ex.parser, bytes, ec);
    const std::size_t got = sizeof buf - b.size;
    s.relayed.append(buf, got);
    if (got > 0)
        for (const auto& part : proxy::frame({}, buf, got, ex.parser.chunked(), false, s.chunk_line))
            s.out.append(static_cast<const char*>(part.data()), part.size());
    if (ec) s.failed = true;  // 413 or a short body: the upstream connection is closed
}

void on_end(Stream& s) {
    if (!s.forwarding || s.failed || !s.feed) return;
    auto& ex = *s.ex;
    static char buf[kRelayBuffer];
    auto& b = ex.parser.get().body();
    b.data = buf;
    b.size = sizeof buf;
    boost::system::error_code ec;
    s.feed->end(ex.parser, ec);
    if (ec) {
        s.failed = true;
        return;
    }
    if (ex.parser.chunked())
        for (const auto& part : proxy::frame({}, buf, 0, true, true, s.chunk_line))
            s.out.append(static_cast<const char*>(part.data()), part.size());
    check(s, true);
}

Stream* stream_of(Context& c, std::int32_t id) {
    auto it = c.streams.find(id);
    return it == c.streams.end() ? nullptr : it->second.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Fixture fx;
    Context c{fx, {}, {}};
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
        auto& c = *static_cast<Context*>(u);
        if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST && c.streams.size() < kMaxStreams)
            c.streams.emplace(f->hd.stream_id, std::make_unique<Stream>(c.fx));
        return 0;
    });
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* n, std::size_t nl, const std::uint8_t* v,
               std::size_t vl, std::uint8_t, void* u) {
            auto& c = *static_cast<Context*>(u);
            if (f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: dropped
            Stream* s = stream_of(c, f->hd.stream_id);
            if (!s || s->header_done) return 0;
            std::string_view value(reinterpret_cast<const char*>(v), vl);
            if (value == "TOKEN") value = c.fx.token;
            else if (value == "Bearer TOKEN") value = c.fx.bearer;
            s->head.field(std::string_view(reinterpret_cast<const char*>(n), nl), value);
            return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
        auto& c = *static_cast<Context*>(u);
        Stream* s = stream_of(c, f->hd.stream_id);
        if (!s) return 0;
        const bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        using Body = server::H2RequestHead::Body;
        if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
            s->header_done = true;
            if (!s->head.valid()) {
                s->refused = true;
                return 0;
            }
            if (end || s->head.has_content_length()) decide(c, *s, Body::none, 0);
            if (end) {
                s->end_stream = true;
                on_end(*s);
            }
        } else if (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) {
            if (!s->header_done || s->refused) return 0;
            if (!s->ex) {
                // The first DATA frame decides: all of it with END_STREAM, else chunked.
                if (end && !s->pending.empty()) decide(c, *s, Body::length, s->pending.size());
                else decide(c, *s, end ? Body::none : Body::chunked, 0);
            }
            if (end) {
                s->end_stream = true;
                on_end(*s);
            }
        }
        return 0;
    });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d, std::size_t n, void* u) {
            auto& c = *static_cast<Context*>(u);
            if (Stream* s = stream_of(c, id)) on_data(*s, std::string_view(reinterpret_cast<const char*>(d), n));
            return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, [](nghttp2_session*, std::int32_t id, std::uint32_t,
                                                                  void* u) {
        auto& c = *static_cast<Context*>(u);
        Stream* s = stream_of(c, id);
        // A stream reset mid-body: the upstream connection would be closed; what it read so
        // far must still be a prefix of one request.
        if (s && s->forwarding && !s->end_stream && !s->failed) check(*s, false);
        c.streams.erase(id);
        return 0;
    });
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_continuations(opt, 16);
    nghttp2_session* session = nullptr;
    nghttp2_session_server_new2(&session, cb, &c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreams},
                                               {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 4096},
                                               {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 3);

    constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    nghttp2_session_mem_recv(session, reinterpret_cast<const std::uint8_t*>(kPreface.data()), kPreface.size());
    // In two slices, so that frames split across reads are decoded as the gateway decodes them.
    const std::size_t half = size / 2;
    for (auto [p, n] : {std::pair{data, half}, std::pair{data + half, size - half}}) {
        if (nghttp2_session_mem_recv(session, p, n) < 0) break;
        const std::uint8_t* out = nullptr;
        while (nghttp2_session_mem_send(session, &out) > 0) {
        }
    }
    nghttp2_session_del(session);
    return 0;
}
