// The downstream session and the forwarder: parse a request, route it, answer CORS
// preflights, authenticate, then stream it to an upstream and the response back.
// Plain and TLS downstreams, and plain and TLS upstreams, share this one implementation
// through templates on the stream type.
#include <array>
#include <charconv>
#include <ctime>
#include <optional>
#include <string>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <spdlog/spdlog.h>

#include "jwt/authenticator.h"
#include "observe/access_log.h"
#include "proxy/headers.h"
#include "server/worker.h"

namespace authgate::server {
namespace http = beast::http;
using namespace std::chrono_literals;
using proxy::Clock;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kRelayBuffer = 32 * 1024;
constexpr std::size_t kUpstreamHeaderLimit = 64 * 1024;

using proxy::ArenaFields;
using ArenaAlloc = proxy::ArenaAllocator<char>;
// Interim (1xx) responses accepted before the real one; more is a broken upstream.
constexpr int kMaxInterimResponses = 8;

template <class Stream>
beast::tcp_stream& lowest(Stream& s) {
    return beast::get_lowest_layer(s);
}

// A Beast header adapter for the JWT extractor.
class RequestHeaders final : public jwt::RequestView {
public:
    RequestHeaders(const ArenaFields& f, std::string_view query) : fields_(f), query_(query) {}
    std::optional<std::string_view> header(std::string_view name) const override {
        auto it = fields_.find(name);
        if (it == fields_.end()) return std::nullopt;
        return it->value();
    }
    std::string_view query() const override { return query_; }

private:
    const ArenaFields& fields_;
    std::string_view query_;
};

template <class Fields>
class FieldSink final : public cors::HeaderSink {
public:
    explicit FieldSink(Fields& f) : fields_(f) {}
    void set(std::string_view name, std::string_view value) override { fields_.set(name, value); }

private:
    Fields& fields_;
};

// The buffers of one write: the head if it has not gone out yet, then the body bytes,
// framed as one chunk (size line, data, CRLF) when chunked, plus the zero chunk that ends
// a chunked body on the last piece. `line` holds the size line until the write completes.
using Frame = std::array<asio::const_buffer, 5>;
Frame frame(std::string_view head, const char* data, std::size_t n, bool chunked, bool last, char (&line)[24]) {
    Frame f{};
    std::size_t i = 0;
    if (!head.empty()) f[i++] = asio::buffer(head.data(), head.size());
    if (n > 0) {
        if (chunked) {
            char* end = std::to_chars(line, line + 20, n, 16).ptr;
            *end++ = '\r';
            *end++ = '\n';
            f[i++] = asio::buffer(line, static_cast<std::size_t>(end - line));
        }
        f[i++] = asio::buffer(data, n);
        if (chunked) f[i++] = asio::buffer("\r\n", 2);
    }
    if (chunked && last) f[i++] = asio::buffer("0\r\n\r\n", 5);
    return f;
}

// Writes all of `buffers`. On a plain socket the bytes go first straight to the kernel
// (the socket is non-blocking): a small response or request nearly always fits in the
// socket buffer whole, and then no timer, asynchronous operation or completion is
// needed. Whatever the kernel did not take (and anything on TLS) goes through an
// asynchronous write under `timeout`, as a slow reader must not hold the gateway.
template <class S, class Buffers>
asio::awaitable<boost::system::error_code> send_all(S& s, const Buffers& buffers, Clock::duration timeout) {
    if constexpr (std::is_same_v<S, beast::tcp_stream>) {
        auto& socket = s.socket();
        boost::system::error_code ec;
        if (!socket.non_blocking()) socket.non_blocking(true, ec);
        const std::size_t total = asio::buffer_size(buffers);
        const std::size_t sent = ec ? 0 : socket.send(buffers, 0, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
        if (ec || sent == total) co_return ec;
        beast::buffers_suffix<Buffers> rest(buffers);
        rest.consume(sent);
        s.expires_after(timeout);
        auto [wec, n] = co_await asio::async_write(s, rest, nothrow);
        co_return wec;
    } else {
        beast::get_lowest_layer(s).expires_after(timeout);
        auto [wec, n] = co_await asio::async_write(s, buffers, nothrow);
        co_return wec;
    }
}

// Feeds the parser what is already buffered, without an asynchronous operation (which
// would parse the same bytes, then post its completion through the scheduler). True
// when that made progress or failed (`ec`); false when bytes must be read first.
template <class Parser>
bool parse_buffered(Parser& parser, beast::flat_buffer& buffer, boost::system::error_code& ec) {
    if (buffer.size() == 0) return false;
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_buffer) ec = {};  // the body buffer is full: progress
    if (ec == http::error::need_more) {
        ec = {};
        return used > 0;
    }
    return true;
}

// What prepare() needs to know about the client's header fields, from one walk over
// them instead of a lookup (a case-insensitive tree search) per name.
struct SeenFields {
    std::string_view origin, request_id, host, transfer_encoding, acrm, expect;
    int transfer_encodings = 0, content_lengths = 0, hosts = 0, request_ids = 0;
    bool has_origin = false, has_request_id = false, has_acrm = false, has_expect = false, upgrade = false;
    bool connection = false;  // a Connection header may name (and so remove) any of these
    bool forwarded_for = false, forwarded_proto = false, forwarded_host = false, via = false;

    explicit SeenFields(const ArenaFields& fields) {
        for (const auto& f : fields) {
            switch (f.name()) {
                case http::field::origin:
                    if (!has_origin) origin = f.value();
                    has_origin = true;
                    break;
                case http::field::transfer_encoding:
                    transfer_encoding = f.value();
                    ++transfer_encodings;
                    break;
                case http::field::content_length: ++content_lengths; break;
                case http::field::host:
                    host = f.value();
                    ++hosts;
                    break;
                case http::field::access_control_request_method:
                    if (!has_acrm) acrm = f.value();
                    has_acrm = true;
                    break;
                case http::field::expect:
                    if (!has_expect) expect = f.value();
                    has_expect = true;
                    break;
                case http::field::upgrade: upgrade = true; break;
                case http::field::connection: connection = true; break;
                case http::field::via: via = true; break;
                case http::field::unknown: {
                    const auto name = f.name_string();
                    if (name.size() < 12 || !beast::iequals(name.substr(0, 2), "x-")) break;
                    if (beast::iequals(name, "x-request-id")) {
                        if (!has_request_id) request_id = f.value();
                        has_request_id = true;
                        ++request_ids;
                    } else if (beast::iequals(name, "x-forwarded-for")) {
                        forwarded_for = true;
                    } else if (beast::iequals(name, "x-forwarded-proto")) {
                        forwarded_proto = true;
                    } else if (beast::iequals(name, "x-forwarded-host")) {
                        forwarded_host = true;
                    }
                    break;
                }
                default: break;
            }
        }
    }
};

// Sets a field the caller knows is absent (insert, no lookup) or may be present (set).
template <class Fields>
void put_field(Fields& fields, bool present, std::string_view name, std::string_view value) {
    if (present) fields.set(name, value);
    else fields.insert(name, value);
}

// Splits a request target into path and query; absolute-form targets
// ("http://host/path") are reduced to their path.
void split_target(std::string_view target, std::string_view& path, std::string_view& query) {
    if (!target.empty() && target.front() != '/') {
        auto scheme_end = target.find("://");
        if (scheme_end != std::string_view::npos) {
            auto path_start = target.find('/', scheme_end + 3);
            auto q = target.find('?', scheme_end + 3);
            if (path_start == std::string_view::npos || (q != std::string_view::npos && q < path_start)) {
                target = q == std::string_view::npos ? std::string_view("/") : target.substr(q);
                if (target.front() == '?') {
                    path = "/";
                    query = target.substr(1);
                    return;
                }
            } else {
                target = target.substr(path_start);
            }
        }
    }
    auto q = target.find('?');
    path = target.substr(0, q);
    query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

observe::UpstreamError connect_error_kind(proxy::ConnectError e) {
    switch (e) {
        case proxy::ConnectError::timeout: return observe::UpstreamError::connect_timeout;
        case proxy::ConnectError::tls: return observe::UpstreamError::tls;
        case proxy::ConnectError::resolve: return observe::UpstreamError::resolve;
        case proxy::ConnectError::none:
        case proxy::ConnectError::refused: break;
    }
    return observe::UpstreamError::connect_refused;
}

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

// Everything about one request/response exchange that the access log and the error
// responses need.
struct Exchange {
    explicit Exchange(proxy::Arena& arena)
        : parser(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAlloc(arena))) {}
    std::shared_ptr<const proxy::Snapshot> snap;
    http::request_parser<http::buffer_body, ArenaAlloc> parser;
    const proxy::RouteRuntime* route = nullptr;
    const cors::Policy* cors = nullptr;  // the policy whose headers this response carries
    std::string request_id;
    std::string origin;  // copy: headers are rewritten before the response is built
    std::string method;
    std::string path;    // as received, for the log
    unsigned version = 11;
    bool keep_alive = true;
    Clock::time_point start = Clock::now();
    unsigned status = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::string upstream;
    std::string_view auth;
    bool expect_continue = false;
    bool upgrade = false;
};

template <class Stream>
class Session {
public:
    // The snapshot the connection was accepted under stays alive with it: a TLS stream
    // refers to that snapshot's ssl::context.
    template <class... Args>
    Session(Worker& w, Args&&... args) : w_(w), accepted_under_(w.snapshot), stream_(std::forward<Args>(args)...) {}

    asio::awaitable<void> run(std::string client_ip);

private:
    asio::awaitable<bool> handle_request();
    asio::awaitable<bool> forward(Exchange& ex);
    enum class Outcome {
        done_keep,         // response relayed; the downstream connection may carry another request
        done_close,        // response relayed (or aborted): close the downstream connection
        retry,             // a reused upstream connection failed before any response byte
        bad_gateway,       // upstream failed before a response header: answer 502
        gateway_timeout,   // no response header within upstream_response: answer 504
        body_too_large,    // the client's streamed body went over max_body_bytes: answer 413
        bad_request,       // the client's body framing broke mid-stream: answer 400 and close
    };
    template <class Up>
    asio::awaitable<Outcome> exchange(Exchange& ex, Up& up, proxy::UpstreamConn& conn, bool& reusable);
    template <class From, class To>
    asio::awaitable<void> pump(From& from, To& to, std::array<char, kRelayBuffer>& buf);
    template <class Up>
    asio::awaitable<void> tunnel(Up& up, proxy::UpstreamConn& conn);
    // What prepare() decided: forward, answer a preflight, or answer with `Reply`.
    enum class Next { forward, preflight, reply };
    Next prepare(Exchange& ex, Reply& reply);
    Next bad_header(Exchange& ex, const boost::system::error_code& ec, Reply& reply);
    asio::awaitable<bool> send_error(Exchange& ex, const Reply& reply);
    asio::awaitable<bool> send_local(Exchange& ex, http::response<http::string_body>& res, bool close,
                                     bool cors_done = false);
    asio::awaitable<bool> answer_preflight(Exchange& ex);
    template <class Fields>
    void add_cors(Exchange& ex, Fields& fields);
    void log(const Exchange& ex);
    void upstream_failed(const Exchange& ex, observe::UpstreamError kind) {
        w_.metrics.upstream_error(w_.upstream_slot(*ex.snap, ex.route->upstream), kind);
    }
    asio::awaitable<void> close();

    Worker& w_;
    std::shared_ptr<const proxy::Snapshot> accepted_under_;
    Stream stream_;
    beast::flat_buffer buffer_;
    std::string client_ip_;
    Worker::SessionList::iterator handle_;
    std::array<char, kRelayBuffer> up_buf_;    // request body chunks going up
    std::array<char, kRelayBuffer> down_buf_;  // response body chunks coming down
    std::string head_;                         // the head being sent (reused, one per session)
    // The exchange in progress and its upstream response parser live here rather than in
    // the coroutine frames: Asio recycles frames of up to about 1 KiB and allocates larger
    // ones from the heap for every request.
    // Declared before them: the arena holds their header fields and must outlive them.
    proxy::Arena arena_;
    std::optional<Exchange> exchange_;
    std::optional<http::response_parser<http::buffer_body, ArenaAlloc>> response_parser_;
    char chunk_line_[24];                      // a chunk-size line being sent
};

template <class Stream>
asio::awaitable<void> Session<Stream>::run(std::string client_ip) {
    client_ip_ = std::move(client_ip);
    w_.sessions.push_front({&lowest(stream_), true});
    handle_ = w_.sessions.begin();
    struct Unregister {
        Worker& w;
        Worker::SessionList::iterator it;
        ~Unregister() { w.session_ended(it); }
    } unregister{w_, handle_};

    const auto& timeouts = w_.snapshot->cfg.server.timeouts;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        lowest(stream_).expires_after(timeouts.header);
        auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, nothrow);
        if (ec) {
            spdlog::debug("tls handshake from {} failed: {}", client_ip_, ec.message());
            co_return;
        }
    }
    for (;;) {
        if (w_.draining) break;
        // Between requests the connection is idle: wait for the first byte under the idle
        // timeout, then give the whole header the (shorter) header timeout.
        if (buffer_.size() == 0) {
            handle_->idle = true;
            lowest(stream_).expires_after(w_.snapshot->cfg.server.timeouts.idle);
            auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), nothrow);
            if (ec) break;  // closed, idle timeout or shutdown
            buffer_.commit(n);
        }
        handle_->idle = false;
        bool keep_going = co_await handle_request();
        response_parser_.reset();
        exchange_.reset();
        arena_.reset();  // nothing of the exchange is left that could point into it
        if (!keep_going) break;
    }
    co_await close();
}

template <class Stream>
asio::awaitable<void> Session<Stream>::close() {
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        lowest(stream_).expires_after(1s);
        co_await stream_.async_shutdown(nothrow);
    }
    boost::system::error_code ec;
    lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest(stream_).close();
}

template <class Stream>
template <class Fields>
void Session<Stream>::add_cors(Exchange& ex, Fields& fields) {
    if (!ex.cors) return;
    const auto& policy = *ex.cors;
    // The gateway alone speaks CORS on a policy route: drop whatever the upstream said.
    proxy::strip_access_control(fields);
    FieldSink sink(fields);
    policy.actual(ex.origin, w_.origin_cache.get(), sink);
    if (!policy.wildcard()) proxy::merge_vary(fields, "Origin");
}

template <class Stream>
void Session<Stream>::log(const Exchange& ex) {
    const auto duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ex.start);
    w_.metrics.response(w_.route_slot(*ex.snap, ex.route), ex.status, duration);
    if (!ex.snap->cfg.log.access_log) return;
    observe::AccessRecord r;
    r.time = std::chrono::system_clock::now();
    r.request_id = ex.request_id;
    r.client = client_ip_;
    r.method = ex.method;
    r.path = ex.path;
    r.route = ex.route ? std::string_view(ex.route->cfg->name) : std::string_view();
    r.upstream = ex.upstream;
    r.status = ex.status;
    r.bytes_in = ex.bytes_in;
    r.bytes_out = ex.bytes_out;
    r.duration = duration;
    r.auth = ex.auth;
    w_.access_log.write(r);
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::send_error(Exchange& ex, const Reply& reply) {
    http::response<http::string_body> res{reply.status, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    if (!reply.www_authenticate.empty()) res.set(http::field::www_authenticate, reply.www_authenticate);
    if (reply.retry_after) res.set(http::field::retry_after, "5");
    std::string body = "{\"error\":";
    observe::append_json_string(body, reply.error);
    body += ",\"error_description\":";
    observe::append_json_string(body, reply.description);
    body += "}\n";
    res.body() = std::move(body);
    co_return co_await send_local(ex, res, reply.close);
}

// Writes a response the gateway made itself (errors, preflights).
template <class Stream>
asio::awaitable<bool> Session<Stream>::send_local(Exchange& ex, http::response<http::string_body>& res, bool close,
                                                  bool cors_done) {
    // An unread request body would be parsed as the next request: close instead.
    bool keep = !close && ex.keep_alive && ex.version == 11 && ex.parser.is_header_done() && ex.parser.is_done() &&
                !w_.draining;
    if (!cors_done) add_cors(ex, res);
    if (!ex.request_id.empty()) res.set("X-Request-Id", ex.request_id);
    res.keep_alive(keep);
    res.prepare_payload();
    ex.status = res.result_int();
    head_.clear();
    proxy::write_response_head(res, head_);
    // A HEAD request gets the head alone (Content-Length still tells the body's size).
    const std::string_view body = ex.method == "HEAD" ? std::string_view() : std::string_view(res.body());
    const std::array<asio::const_buffer, 2> out{asio::buffer(head_), asio::buffer(body.data(), body.size())};
    const auto ec = co_await send_all(stream_, out, ex.snap->cfg.server.timeouts.idle);
    ex.bytes_out += body.size();
    log(ex);
    co_return !ec && keep;
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::answer_preflight(Exchange& ex) {
    const auto& req = ex.parser.get();
    http::response<http::string_body> res{http::status::no_content, 11};
    FieldSink sink(res);
    auto acrh = req.find("Access-Control-Request-Headers");
    auto acrpn = req.find("Access-Control-Request-Private-Network");
    bool pna = acrpn != req.end() && beast::iequals(acrpn->value(), "true");
    ex.cors->preflight(ex.origin, req["Access-Control-Request-Method"],
                              acrh == req.end() ? std::string_view() : std::string_view(acrh->value()), pna, w_.origin_cache.get(), sink);
    if (!ex.cors->wildcard()) proxy::merge_vary(res, "Origin");
    proxy::merge_vary(res, "Access-Control-Request-Method");
    proxy::merge_vary(res, "Access-Control-Request-Headers");
    co_return co_await send_local(ex, res, false, true);
}

// One suspension per outcome: the decisions are made synchronously in prepare(), which
// keeps this coroutine's frame small enough for Asio to recycle it between requests.
template <class Stream>
asio::awaitable<bool> Session<Stream>::handle_request() {
    Exchange& ex = exchange_.emplace(arena_);
    ex.snap = w_.snapshot;
    const auto& cfg = ex.snap->cfg;
    ex.parser.header_limit(static_cast<std::uint32_t>(cfg.server.limits.max_header_bytes));
    ex.parser.body_limit(cfg.server.limits.max_body_bytes);

    // The header usually arrived whole with the bytes the idle wait read.
    boost::system::error_code ec;
    if (!parse_buffered(ex.parser, buffer_, ec) || (!ec && !ex.parser.is_header_done())) {
        lowest(stream_).expires_after(cfg.server.timeouts.header);
        std::tie(ec, std::ignore) = co_await http::async_read_header(stream_, buffer_, ex.parser, nothrow);
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted) co_return false;
    // A timed-out tcp_stream is already closed: nothing can be written back.
    if (ec == beast::error::timeout) co_return false;
    Reply reply;
    switch (ec ? bad_header(ex, ec, reply) : prepare(ex, reply)) {
        case Next::forward: co_return co_await forward(ex);
        case Next::preflight: co_return co_await answer_preflight(ex);
        case Next::reply: break;
    }
    co_return co_await send_error(ex, reply);
}

template <class Stream>
typename Session<Stream>::Next Session<Stream>::bad_header(Exchange& ex, const boost::system::error_code& ec,
                                                           Reply& reply) {
    if (ec == http::error::body_limit) {
        // Only the declared Content-Length is over the limit: the header was read whole, so
        // route it and let the 413 carry the route's CORS headers like any gateway error.
        const auto& head = ex.parser.get();
        if (auto it = head.find(http::field::origin); it != head.end()) ex.origin = it->value();
        std::string_view raw_path, query;
        split_target(head.target(), raw_path, query);
        if (auto path = proxy::normalize_path(raw_path))
            ex.route = ex.snap->match(head.method_string(), proxy::normalize_host(head[http::field::host]), *path);
        if (ex.route) ex.cors = ex.route->cors.get();
        reply = Reply::make(http::status::payload_too_large, "body_too_large", "request body larger than max_body_bytes",
                            true);
    } else if (ec == http::error::header_limit) {
        reply = Reply::make(http::status::request_header_fields_too_large, "header_too_large",
                            "request header larger than max_header_bytes", true);
    } else {
        reply = Reply::make(http::status::bad_request, "bad_request", "malformed request: " + ec.message(), true);
    }
    return Next::reply;
}

template <class Stream>
typename Session<Stream>::Next Session<Stream>::prepare(Exchange& ex, Reply& reply) {
    auto fail = [&](http::status status, std::string_view error, std::string description, bool close = false,
                    std::string www_authenticate = {}) {
        reply = Reply::make(status, error, std::move(description), close, std::move(www_authenticate));
        return Next::reply;
    };
    auto& req = ex.parser.get();
    const SeenFields seen(req);
    ex.method = req.method_string();
    ex.version = req.version();
    ex.keep_alive = req.keep_alive();
    ex.path = req.target();
    if (seen.has_origin) ex.origin = seen.origin;
    const bool keep_request_id = seen.has_request_id && proxy::valid_request_id(seen.request_id);
    if (keep_request_id) {
        ex.request_id = seen.request_id;
    } else {
        ex.request_id = proxy::make_request_id(w_.rng);
    }

    // Framing the upstream could read differently from us is refused outright
    // (request smuggling): only "chunked" alone, one Content-Length, never both.
    if (seen.transfer_encodings > 0) {
        if (seen.transfer_encodings != 1 || !beast::iequals(seen.transfer_encoding, "chunked") ||
            !ex.parser.chunked())
            return fail(http::status::not_implemented, "unsupported_transfer_encoding",
                        "only Transfer-Encoding: chunked is supported", true);
        if (seen.content_lengths > 0)
            return fail(http::status::bad_request, "bad_request", "both Content-Length and Transfer-Encoding", true);
    }
    if (seen.content_lengths > 1)
        return fail(http::status::bad_request, "bad_request", "duplicate Content-Length", true);
    if (seen.hosts > 1 || (ex.version == 11 && seen.hosts == 0))
        return fail(http::status::bad_request, "bad_request", "missing or repeated Host", true);

    std::string_view raw_path, query;
    split_target(req.target(), raw_path, query);
    auto path = proxy::normalize_path(raw_path);
    if (!path) return fail(http::status::bad_request, "bad_request", "invalid request path");

    std::string host = proxy::normalize_host(seen.host);
    if (seen.has_acrm && cors::is_preflight(ex.method, seen.has_origin, true)) {
        // A preflight asks about the method it announces: route it as that method, so a
        // route limited to [GET, POST] still has its preflights answered.
        const auto* target_route = ex.snap->match(seen.acrm, host, *path);
        if (target_route && target_route->cors) {
            ex.route = target_route;
            ex.cors = target_route->cors.get();
            return Next::preflight;
        }
    }
    ex.route = ex.snap->match(ex.method, host, *path);
    if (!ex.route) {
        // Borrow the CORS policy of the route the path was aiming at, so browser code can
        // read the 404.
        if (const auto* near = ex.snap->match_path(*path)) ex.cors = near->cors.get();
        return fail(http::status::not_found, "not_found", "no route matches this request");
    }
    ex.cors = ex.route->cors.get();

    std::shared_ptr<const jwt::Verified> verified;
    std::string stripped_query;  // owns the query when strip_token removes a parameter
    if (ex.route->auth) {
        RequestHeaders view(req, query);
        auto out = ex.route->auth->authenticate(view, static_cast<std::int64_t>(std::time(nullptr)),
                                                w_.token_cache.get());
        ex.auth = jwt::to_string(out.status);
        using Action = jwt::AuthOutcome::Action;
        if (out.action != Action::forward) w_.metrics.auth_denied(w_.route_slot(*ex.snap, ex.route), out.status);
        switch (out.action) {
            case Action::deny_401: {
                std::string challenge = "Bearer realm=\"authgate\"";
                if (out.token_present) {
                    challenge += ", error=\"invalid_token\", error_description=\"";
                    challenge += ex.auth;
                    challenge += '"';
                    return fail(http::status::unauthorized, "invalid_token", std::string(ex.auth), false,
                                std::move(challenge));
                }
                return fail(http::status::unauthorized, "missing_token", "token missing", false, std::move(challenge));
            }
            case Action::deny_403: {
                std::string challenge = "Bearer realm=\"authgate\", error=\"insufficient_scope\", error_description=\"";
                challenge += ex.auth;
                challenge += '"';
                return fail(http::status::forbidden, "insufficient_scope", std::string(ex.auth), false,
                            std::move(challenge));
            }
            case Action::unavailable:
                fail(http::status::service_unavailable, "temporarily_unavailable", std::string(ex.auth));
                reply.retry_after = true;
                return Next::reply;
            case Action::forward:
                break;
        }
        if (out.report_only_denial) {
            w_.metrics.auth_report_only(w_.route_slot(*ex.snap, ex.route), out.status);
            spdlog::warn("report_only: request {} on route '{}' would be denied: {}", ex.request_id,
                         ex.route->cfg->name, ex.auth);
        }
        verified = std::move(out.verified);
        if (out.strip_token && out.location) {
            using Kind = config::TokenSource::Kind;
            switch (out.location->kind) {
                case Kind::header: req.erase(out.location->name); break;
                case Kind::cookie: {
                    auto rest = jwt::remove_cookie(req[http::field::cookie], out.location->name);
                    if (rest.empty()) req.erase(http::field::cookie);
                    else req.set(http::field::cookie, rest);
                    break;
                }
                case Kind::query: {
                    // The token leaves the query string the upstream sees.
                    stripped_query = jwt::remove_query_param(query, out.location->name);
                    query = stripped_query;
                    break;
                }
            }
        }
    }

    // Build the upstream request in place.
    for (const auto& name : ex.snap->identity_headers) req.erase(name);
    ex.upgrade = seen.upgrade && proxy::wants_upgrade(req);
    const bool chunked = ex.parser.chunked();
    if (seen.has_expect) {
        ex.expect_continue = beast::iequals(seen.expect, "100-continue");
        req.erase(http::field::expect);  // the gateway answers 100-continue itself
    }
    std::string target = ex.route->cfg->strip_prefix.empty() ? *path : proxy::strip_prefix(*path, ex.route->cfg->strip_prefix);
    if (!query.empty()) {
        target += '?';
        target += query;
    }
    const std::string_view forwarded_host = seen.host;  // still in the arena: erased fields are not freed
    proxy::strip_hop_by_hop(req, ex.upgrade);
    if (chunked) req.chunked(true);
    if (verified) {
        // Every identity header was erased above, so one header needs no lookup; with more,
        // set() keeps a payload header named like a claim header from appearing twice.
        const auto& out = verified->forward_headers;
        for (const auto& [name, value] : out) {
            if (out.size() == 1) req.insert(name, value);
            else req.set(name, value);
        }
    }
    if (seen.forwarded_for) proxy::append_to_list(req, "X-Forwarded-For", client_ip_);
    else req.insert("X-Forwarded-For", client_ip_);
    put_field(req, seen.forwarded_proto, "X-Forwarded-Proto", ex.snap->server_tls ? "https" : "http");
    if (forwarded_host.empty()) {
        if (seen.forwarded_host) req.erase("X-Forwarded-Host");
    } else {
        put_field(req, seen.forwarded_host, "X-Forwarded-Host", forwarded_host);
    }
    // A valid id the client sent once stays as it is, unless Connection may have removed it.
    if (!keep_request_id || seen.request_ids > 1 || seen.connection)
        put_field(req, seen.has_request_id, "X-Request-Id", ex.request_id);
    if (seen.via) proxy::append_to_list(req, "Via", "1.1 authgate");
    else req.insert(http::field::via, "1.1 authgate");
    req.target(target);
    req.version(11);
    return Next::forward;
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::forward(Exchange& ex) {
    const bool has_body = !ex.parser.is_done();
    for (int attempt = 0;; ++attempt) {
        proxy::ConnectError err;
        auto conn = co_await w_.pool.acquire(*ex.snap, ex.route->upstream, attempt > 0, err);
        if (!conn) {
            spdlog::warn("request {}: upstream '{}' unavailable: {}", ex.request_id, ex.route->cfg->upstream,
                         proxy::to_string(err));
            upstream_failed(ex, connect_error_kind(err));
            co_return co_await send_error(ex, Reply::make(http::status::bad_gateway, "bad_gateway",
                                                          std::string("upstream unavailable: ") + proxy::to_string(err)));
        }
        ex.upstream = conn->endpoint_text;
        bool reusable = false;
        Outcome outcome = conn->is_tls() ? co_await exchange(ex, conn->tls(), *conn, reusable)
                                         : co_await exchange(ex, conn->plain(), *conn, reusable);
        switch (outcome) {
            case Outcome::retry:
                if (attempt == 0 && !has_body) continue;
                [[fallthrough]];
            case Outcome::bad_gateway:
                upstream_failed(ex, observe::UpstreamError::reset);
                co_return co_await send_error(ex, Reply::make(http::status::bad_gateway, "bad_gateway",
                                                              "upstream closed the connection before responding",
                                                              has_body));
            case Outcome::gateway_timeout:
                upstream_failed(ex, observe::UpstreamError::response_timeout);
                co_return co_await send_error(ex, Reply::make(http::status::gateway_timeout, "gateway_timeout",
                                                              "upstream did not respond in time", true));
            case Outcome::body_too_large:
                co_return co_await send_error(ex, Reply::make(http::status::payload_too_large, "body_too_large",
                                                              "request body larger than max_body_bytes", true));
            case Outcome::bad_request:
                co_return co_await send_error(ex, Reply::make(http::status::bad_request, "bad_request",
                                                              "malformed request body framing", true));
            case Outcome::done_keep:
            case Outcome::done_close:
                if (reusable) w_.pool.release(*ex.snap, std::move(conn));
                log(ex);
                co_return outcome == Outcome::done_keep;
        }
    }
}

template <class Stream>
template <class Up>
asio::awaitable<typename Session<Stream>::Outcome> Session<Stream>::exchange(Exchange& ex, Up& up,
                                                                             proxy::UpstreamConn& conn,
                                                                             bool& reusable) {
    auto& req = ex.parser.get();
    auto& up_tcp = conn.tcp();
    const auto& t = ex.snap->cfg.server.timeouts;
    const bool has_body = !ex.parser.is_done();
    const bool retryable = conn.reused && !has_body;

    // 1. Request head, then the body as it arrives (re-framed as chunked when it came so).
    const bool up_chunked = has_body && req.chunked();
    head_.clear();
    proxy::write_request_head(req, head_);
    if (co_await send_all(up, asio::buffer(head_), t.idle)) co_return retryable ? Outcome::retry : Outcome::bad_gateway;

    if (has_body && ex.expect_continue) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        if (co_await send_all(stream_, asio::buffer(kContinue), t.idle)) co_return Outcome::done_close;
    }
    while (!ex.parser.is_done()) {
        req.body().data = up_buf_.data();
        req.body().size = up_buf_.size();
        boost::system::error_code rec;
        if (!parse_buffered(ex.parser, buffer_, rec)) {
            lowest(stream_).expires_after(t.idle);
            std::tie(rec, std::ignore) = co_await http::async_read_some(stream_, buffer_, ex.parser, nothrow);
        }
        if (rec == http::error::need_buffer) rec = {};
        if (rec == http::error::body_limit) co_return Outcome::body_too_large;
        if (rec.category() == http::make_error_code(http::error::bad_chunk).category() &&
            rec != http::error::partial_message && rec != http::error::end_of_stream)
            co_return Outcome::bad_request;  // e.g. an invalid chunk size
        if (rec) co_return Outcome::done_close;  // client went away mid-body: nothing to answer
        const std::size_t got = up_buf_.size() - req.body().size;
        ex.bytes_in += got;
        const bool last = ex.parser.is_done();
        // Never an empty chunk: "0\r\n\r\n" would end the body early.
        if (got == 0 && !(last && up_chunked)) continue;
        if (co_await send_all(up, frame({}, up_buf_.data(), got, up_chunked, last, chunk_line_), t.idle))
            co_return Outcome::bad_gateway;
    }

    // 2. Response header, skipping interim 1xx (the gateway answered Expect itself).
    auto& rp = response_parser_;
    for (int interim = 0;; ++interim) {
        if (interim > kMaxInterimResponses) co_return Outcome::bad_gateway;
        rp.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAlloc(arena_)));
        rp->header_limit(kUpstreamHeaderLimit);
        rp->body_limit(boost::none);  // streamed, never held whole
        if (req.method() == http::verb::head) rp->skip(true);
        up_tcp.expires_after(t.upstream_response);
        auto [rec, rn] = co_await http::async_read_header(up, conn.buffer, *rp, nothrow);
        if (rec == beast::error::timeout) co_return Outcome::gateway_timeout;
        if (rec) co_return (retryable && rn == 0) ? Outcome::retry : Outcome::bad_gateway;
        unsigned code = rp->get().result_int();
        if (code >= 100 && code < 200 && code != 101) continue;
        break;
    }
    auto& res = rp->get();
    const unsigned code = res.result_int();
    const bool upgraded = code == 101 && ex.upgrade;
    if (code == 101 && !upgraded) co_return Outcome::bad_gateway;  // an upgrade nobody asked for
    const bool upstream_keep_alive = rp->keep_alive();
    const bool upstream_chunked = rp->chunked();
    const bool has_length = rp->content_length().has_value();
    const bool body_follows = !rp->is_done();

    proxy::strip_hop_by_hop(res, upgraded);
    add_cors(ex, res);
    res.set("X-Request-Id", ex.request_id);
    proxy::append_to_list(res, "Via", "1.1 authgate");
    bool close_after = !ex.keep_alive || ex.version != 11 || w_.draining;
    if (body_follows) {
        if (upstream_chunked) {
            res.chunked(true);
        } else if (!has_length) {
            // Read-until-close body: re-frame it as chunked for HTTP/1.1 clients so the
            // connection survives; HTTP/1.0 clients get it delimited by close.
            if (ex.version == 11) res.chunked(true);
            else close_after = true;
        }
    }
    res.version(11);  // keep_alive() below follows the version the head is written with
    if (!upgraded) res.keep_alive(!close_after);
    ex.status = code;

    // 3. Response down. Body bytes that came with the header leave in the same write as the
    //    header (one send for a small response); later bytes are relayed as they arrive.
    const bool down_chunked = body_follows && res.chunked();
    head_.clear();
    proxy::write_response_head(res, head_);
    bool header_sent = false;
    if (upgraded || !body_follows || conn.buffer.size() == 0) {
        // No body, or nothing of it here yet: the client gets the header now (streams, SSE).
        if (co_await send_all(stream_, asio::buffer(head_), t.idle)) co_return Outcome::done_close;
        header_sent = true;
    }
    if (upgraded) {
        co_await tunnel(up, conn);
        co_return Outcome::done_close;
    }
    while (!rp->is_done()) {
        res.body().data = down_buf_.data();
        res.body().size = down_buf_.size();
        boost::system::error_code rec;
        if (!parse_buffered(*rp, conn.buffer, rec)) {
            up_tcp.expires_after(t.upstream_response);
            std::tie(rec, std::ignore) = co_await http::async_read_some(up, conn.buffer, *rp, nothrow);
        }
        if (rec == http::error::need_buffer) rec = {};
        if (rec) {
            if (!header_sent) co_return Outcome::bad_gateway;  // the client has seen nothing yet
            // Closing is the only honest signal left: a clean end would present a truncated
            // body as complete.
            spdlog::warn("request {}: upstream {} failed mid-response: {}", ex.request_id, ex.upstream, rec.message());
            upstream_failed(ex, observe::UpstreamError::mid_response);
            co_return Outcome::done_close;
        }
        const std::size_t got = down_buf_.size() - res.body().size;
        ex.bytes_out += got;
        const bool last = rp->is_done();
        if (got == 0 && !last) continue;  // see the request loop: never an empty chunk
        const Frame f = frame(header_sent ? std::string_view() : std::string_view(head_), down_buf_.data(), got,
                              down_chunked, last, chunk_line_);
        header_sent = true;
        if (asio::buffer_size(f) == 0) continue;
        if (co_await send_all(stream_, f, t.idle)) co_return Outcome::done_close;
    }
    up_tcp.expires_never();
    reusable = upstream_keep_alive && !rp->need_eof();
    co_return close_after ? Outcome::done_close : Outcome::done_keep;
}

template <class Stream>
template <class From, class To>
asio::awaitable<void> Session<Stream>::pump(From& from, To& to, std::array<char, kRelayBuffer>& buf) {
    const auto idle = w_.snapshot->cfg.server.timeouts.idle;
    for (;;) {
        lowest(from).expires_after(idle);
        auto [rec, n] = co_await from.async_read_some(asio::buffer(buf), nothrow);
        if (rec) co_return;
        lowest(to).expires_after(idle);
        auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), nothrow);
        if (wec) co_return;
    }
}

// After a 101: raw bytes both ways until either side closes or idles out.
template <class Stream>
template <class Up>
asio::awaitable<void> Session<Stream>::tunnel(Up& up, proxy::UpstreamConn& conn) {
    using namespace asio::experimental::awaitable_operators;
    // Bytes that arrived behind the headers belong to the tunnel.
    if (conn.buffer.size() > 0) {
        auto [ec, n] = co_await asio::async_write(stream_, conn.buffer.data(), nothrow);
        if (ec) co_return;
        conn.buffer.consume(n);
    }
    if (buffer_.size() > 0) {
        auto [ec, n] = co_await asio::async_write(up, buffer_.data(), nothrow);
        if (ec) co_return;
        buffer_.consume(n);
    }
    co_await (pump(stream_, up, up_buf_) || pump(up, stream_, down_buf_));
}

template <class Stream>
asio::awaitable<void> run_session(std::unique_ptr<Session<Stream>> session, std::string client_ip) {
    co_await session->run(std::move(client_ip));
}

}  // namespace

void start_session(Worker& w, tcp::socket socket) {
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    std::string ip = ec ? std::string("-") : remote.address().to_string();
    socket.set_option(tcp::no_delay(true), ec);
    if (w.snapshot->server_tls) {
        using TlsStream = beast::ssl_stream<beast::tcp_stream>;
        auto s = std::make_unique<Session<TlsStream>>(w, std::move(socket), *w.snapshot->server_tls);
        asio::co_spawn(w.ioc, run_session(std::move(s), std::move(ip)), asio::detached);
    } else {
        auto s = std::make_unique<Session<beast::tcp_stream>>(w, std::move(socket));
        asio::co_spawn(w.ioc, run_session(std::move(s), std::move(ip)), asio::detached);
    }
}

}  // namespace authgate::server
