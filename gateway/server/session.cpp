// The downstream session and the forwarder: parse a request, route it, answer CORS
// preflights, authenticate, then stream it to an upstream and the response back.
// Plain and TLS downstreams, and plain and TLS upstreams, share this one implementation
// through templates on the stream type.
#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
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
#include "proxy/framing.h"
#include "proxy/headers.h"
#include "server/request_decision.h"
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
using proxy::BodyFraming;
using proxy::frame;
using proxy::Frame;
using proxy::parse_buffered;
// The most one read of a body adds to a connection's buffer. A buffer holds at most a
// header (or trailers) and one read beyond it: see buffer_cap().
constexpr std::size_t kReadSize = 16 * 1024;
// Interim (1xx) responses accepted before the real one; more is a broken upstream.
constexpr int kMaxInterimResponses = 8;

template <class Stream>
beast::tcp_stream& lowest(Stream& s) {
    return beast::get_lowest_layer(s);
}

// The hard cap of a connection's read buffer: what it may hold unparsed is a header or
// trailer section (header_limit) or a chunk-size line, plus one read.
std::size_t buffer_cap(std::size_t header_limit) {
    return std::max(header_limit, proxy::kMaxChunkLine + 2) + 2 * kReadSize;
}

// Parses what `buffer` holds into the body buffer the caller set on `parser` until body
// bytes come out, the message ends or more bytes are needed; then reads more from `s`
// (under `timeout` per read; asio::error::timed_out once *cancelled is set by a deadline
// that cancelled the read) and parses on. A chunked body's size lines and trailers
// are held to their limits before anything more is read, so a connection never buffers
// more than buffer_cap(trailer_limit).
template <class S, class Parser>
asio::awaitable<boost::system::error_code> read_body_piece(S& s, beast::flat_buffer& buffer, Parser& parser,
                                                           std::size_t trailer_limit, Clock::duration timeout,
                                                           const bool* cancelled = nullptr) {
    const std::size_t room = parser.get().body().size;
    for (;;) {
        boost::system::error_code ec;
        if (proxy::parse_body_piece(parser, buffer, room, ec)) co_return ec;
        if (parser.chunked()) {
            const auto unparsed = buffer.cdata();
            if (auto e = proxy::stalled_chunk_framing(
                    std::string_view(static_cast<const char*>(unparsed.data()), unparsed.size()), trailer_limit))
                co_return *e;
        }
        if (cancelled && *cancelled) co_return asio::error::timed_out;  // the deadline passed meanwhile
        const std::size_t n = std::min(kReadSize, buffer.max_size() - buffer.size());
        if (n == 0) co_return http::error::buffer_overflow;
        lowest(s).expires_after(timeout);
        auto [rec, got] = co_await s.async_read_some(buffer.prepare(n), nothrow);
        if (cancelled && *cancelled) co_return asio::error::timed_out;
        if (rec == asio::error::eof) {
            parser.put_eof(ec);  // ends a close-delimited body; anything else was cut short
            co_return ec;
        }
        if (rec) co_return rec;
        buffer.commit(got);
    }
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

template <class Stream>
class Session {
public:
    // The snapshot the connection was accepted under stays alive with it: a TLS stream
    // refers to that snapshot's ssl::context.
    template <class... Args>
    Session(Worker& w, Args&&... args)
        : w_(w), accepted_under_(w.snapshot), stream_(std::forward<Args>(args)...), body_timer_(w.ioc) {}
    ~Session() {
        if (deadline_) deadline_->stream = nullptr;
    }

    asio::awaitable<void> run(std::string client_ip);

private:
    asio::awaitable<bool> handle_request();
    asio::awaitable<bool> forward(Exchange& ex);
    // The next bytes of the client's request body into up_buf_ (`got` of them), under the
    // request_body deadline. Errors are the parser's, the stream's, or
    // asio::error::timed_out when the deadline passed.
    asio::awaitable<boost::system::error_code> read_request_piece(Exchange& ex, std::size_t& got);
    void end_body_deadline();
    enum class Outcome {
        done_keep,         // response relayed; the downstream connection may carry another request
        done_close,        // response relayed (or aborted): close the downstream connection
        retry,             // a reused upstream connection failed before any response byte
        bad_gateway,       // upstream failed before a response header: answer 502
        gateway_timeout,   // no response header within upstream_response: answer 504
        body_too_large,    // the client's streamed body went over max_body_bytes: answer 413
        bad_request,       // the client's body framing broke mid-stream: answer 400 and close
        trailers_too_large,  // the client's trailers went over max_header_bytes: answer 431 and close
        request_timeout,   // the body missed its request_body deadline: 408, or close both sides
        bad_response_framing,  // the upstream's Connection named a framing field: 502
    };
    static Reply failure_reply(Outcome outcome);
    template <class Up>
    asio::awaitable<Outcome> exchange(Exchange& ex, Up& up, proxy::UpstreamConn& conn, std::size_t first_piece,
                                      bool& reusable);
    // The reply to a request body that failed before or while it was forwarded.
    static Outcome body_failure(const boost::system::error_code& ec);
    template <class From, class To>
    asio::awaitable<void> pump(From& from, To& to, std::array<char, kRelayBuffer>& buf);
    template <class Up>
    asio::awaitable<void> tunnel(Up& up, proxy::UpstreamConn& conn);
    // server::prepare() with this worker's state, then the metrics of its auth outcome.
    Next prepare(Exchange& ex, Reply& reply);
    asio::awaitable<bool> send_error(Exchange& ex, const Reply& reply);
    asio::awaitable<bool> send_local(Exchange& ex, http::response<http::string_body>& res, bool close,
                                     bool cors_done = false);
    asio::awaitable<bool> answer_preflight(Exchange& ex);
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
    std::string request_head_;                 // the request head going upstream (reused)
    std::string head_;                         // the response head being sent (reused)
    // The exchange in progress and its upstream response parser live here rather than in
    // the coroutine frames: Asio recycles frames of up to about 1 KiB and allocates larger
    // ones from the heap for every request.
    // Declared before them: the arena holds their header fields and must outlive them.
    proxy::Arena arena_;
    std::optional<Exchange> exchange_;
    std::optional<http::response_parser<http::buffer_body, ArenaAlloc>> response_parser_;
    char chunk_line_[24];                      // a chunk-size line being sent

    // The request_body deadline: the whole body must arrive within it. Armed only when a
    // body has to be waited for; when it fires it cancels the pending read without closing
    // the connection, so a 408 can still be answered. Its handler may run after the
    // session is gone, hence the shared state.
    struct BodyDeadline {
        beast::tcp_stream* stream = nullptr;  // null once the session is gone
        bool armed = false;
        bool fired = false;
        std::uint64_t generation = 0;
    };
    asio::steady_timer body_timer_;
    std::shared_ptr<BodyDeadline> deadline_;
    Clock::time_point body_deadline_{};
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
    r.redact_query_params = ex.snap->query_token_params;
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
    http::response<http::string_body> res = error_response(reply);
    co_return co_await send_local(ex, res, reply.close);
}

// Writes a response the gateway made itself (errors, preflights).
template <class Stream>
asio::awaitable<bool> Session<Stream>::send_local(Exchange& ex, http::response<http::string_body>& res, bool close,
                                                  bool cors_done) {
    const bool keep = finish_local(ex, res, close, cors_done, w_.draining, w_.origin_cache.get());
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
    http::response<http::string_body> res = preflight_response(ex, w_.origin_cache.get());
    co_return co_await send_local(ex, res, false, true);
}

// One suspension per outcome: the decisions are made synchronously in prepare(), which
// keeps this coroutine's frame small enough for Asio to recycle it between requests.
template <class Stream>
asio::awaitable<bool> Session<Stream>::handle_request() {
    Exchange& ex = exchange_.emplace(arena_, w_.snapshot);
    const auto& cfg = ex.snap->cfg;
    buffer_.max_size(buffer_cap(cfg.server.limits.max_header_bytes));

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
Next Session<Stream>::prepare(Exchange& ex, Reply& reply) {
    jwt::AuthOutcome auth;
    const Next next = server::prepare(ex, DecisionContext{w_.rng, w_.token_cache.get(), client_ip_}, auth, reply);
    if (!ex.auth.empty()) {  // the route's authenticator ran
        if (auth.action != jwt::AuthOutcome::Action::forward)
            w_.metrics.auth_denied(w_.route_slot(*ex.snap, ex.route), auth.status);
        if (auth.report_only_denial) {
            w_.metrics.auth_report_only(w_.route_slot(*ex.snap, ex.route), auth.status);
            spdlog::warn("report_only: request {} on route '{}' would be denied: {}", ex.request_id,
                         ex.route->cfg->name, ex.auth);
        }
    }
    return next;
}

template <class Stream>
void Session<Stream>::end_body_deadline() {
    if (!deadline_ || !deadline_->armed) return;
    deadline_->armed = false;
    ++deadline_->generation;  // a completion already queued finds another generation
    body_timer_.cancel();
}

template <class Stream>
asio::awaitable<boost::system::error_code> Session<Stream>::read_request_piece(Exchange& ex, std::size_t& got) {
    auto& body = ex.parser.get().body();
    body.data = up_buf_.data();
    body.size = up_buf_.size();
    const auto& cfg = ex.snap->cfg.server;
    boost::system::error_code ec;
    // Most bodies arrive with their header: only one that must be waited for arms the timer.
    if (proxy::parse_body_piece(ex.parser, buffer_, up_buf_.size(), ec)) {
        got = up_buf_.size() - body.size;
        co_return ec;
    }
    if (!deadline_) deadline_ = std::make_shared<BodyDeadline>();
    if (!deadline_->armed) {
        if (Clock::now() >= body_deadline_) co_return asio::error::timed_out;
        deadline_->stream = &lowest(stream_);
        deadline_->armed = true;
        deadline_->fired = false;
        body_timer_.expires_at(body_deadline_);
        body_timer_.async_wait([state = deadline_, generation = deadline_->generation](boost::system::error_code e) {
            if (e || !state->stream || !state->armed || state->generation != generation) return;
            state->fired = true;
            state->stream->cancel();  // the pending read fails; the connection stays open
        });
    }
    ec = co_await read_body_piece(stream_, buffer_, ex.parser, cfg.limits.max_header_bytes, cfg.timeouts.idle,
                                  &deadline_->fired);
    got = up_buf_.size() - body.size;
    co_return ec;
}

template <class Stream>
typename Session<Stream>::Outcome Session<Stream>::body_failure(const boost::system::error_code& ec) {
    if (ec == http::error::body_limit) return Outcome::body_too_large;
    if (ec == http::error::header_limit) return Outcome::trailers_too_large;
    if (ec == asio::error::timed_out) return Outcome::request_timeout;  // the request_body deadline
    // The parser refused the body's framing (e.g. an invalid chunk size): answer it. A
    // client that went away mid-body (or idled out) has nothing left to answer.
    if (ec.category() == http::make_error_code(http::error::bad_chunk).category() && ec != http::error::partial_message &&
        ec != http::error::end_of_stream)
        return Outcome::bad_request;
    return Outcome::done_close;
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::forward(Exchange& ex) {
    const bool has_body = !ex.parser.is_done();
    // The head is written now, as prepare() left it: the parser adds a chunked body's
    // trailer fields to the same container, and those must never reach the upstream.
    request_head_.clear();
    proxy::write_request_head(ex.parser.get(), request_head_);
    std::size_t first_piece = 0;
    if (has_body) {
        // The body must arrive whole within request_body of the end of its header. Its first
        // bytes are awaited before an upstream connection is taken: a client that sends a
        // header and then trickles (or nothing) holds no upstream connection, and is
        // answered 408 while nothing has been forwarded.
        body_deadline_ = Clock::now() + ex.snap->cfg.server.timeouts.request_body;
        if (ex.expect_continue && buffer_.size() == 0) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            if (co_await send_all(stream_, asio::buffer(kContinue), ex.snap->cfg.server.timeouts.idle)) co_return false;
        }
        const auto ec = co_await read_request_piece(ex, first_piece);
        if (ec) {
            end_body_deadline();
            const Outcome failed = body_failure(ec);
            if (failed == Outcome::done_close) co_return false;
            co_return co_await send_error(ex, failure_reply(failed));
        }
    }
    for (int attempt = 0;; ++attempt) {
        proxy::ConnectError err;
        auto conn = co_await w_.pool.acquire(*ex.snap, ex.route->upstream, attempt > 0, err);
        if (!conn) {
            end_body_deadline();
            spdlog::warn("request {}: upstream '{}' unavailable: {}", ex.request_id, ex.route->cfg->upstream,
                         proxy::to_string(err));
            upstream_failed(ex, connect_error_kind(err));
            co_return co_await send_error(ex, Reply::make(http::status::bad_gateway, "bad_gateway",
                                                          std::string("upstream unavailable: ") + proxy::to_string(err),
                                                          has_body));
        }
        ex.upstream = conn->endpoint_text;
        bool reusable = false;
        Outcome outcome = conn->is_tls() ? co_await exchange(ex, conn->tls(), *conn, first_piece, reusable)
                                         : co_await exchange(ex, conn->plain(), *conn, first_piece, reusable);
        end_body_deadline();
        switch (outcome) {
            case Outcome::retry:
                if (attempt == 0 && !has_body) continue;
                [[fallthrough]];
            case Outcome::bad_gateway:
                upstream_failed(ex, observe::UpstreamError::reset);
                co_return co_await send_error(ex, Reply::make(http::status::bad_gateway, "bad_gateway",
                                                              "upstream closed the connection before responding",
                                                              has_body));
            case Outcome::bad_response_framing:
                upstream_failed(ex, observe::UpstreamError::reset);
                co_return co_await send_error(ex, Reply::make(http::status::bad_gateway, "bad_gateway",
                                                              "upstream response framing refused", true));
            case Outcome::gateway_timeout:
                upstream_failed(ex, observe::UpstreamError::response_timeout);
                co_return co_await send_error(ex, Reply::make(http::status::gateway_timeout, "gateway_timeout",
                                                              "upstream did not respond in time", true));
            case Outcome::request_timeout:
                // Part of the body is upstream already: no answer can be honest, close both.
                ex.status = 408;
                log(ex);
                co_return false;
            case Outcome::body_too_large:
            case Outcome::trailers_too_large:
            case Outcome::bad_request:
                co_return co_await send_error(ex, failure_reply(outcome));
            case Outcome::done_keep:
            case Outcome::done_close:
                if (reusable) w_.pool.release(*ex.snap, std::move(conn));
                log(ex);
                co_return outcome == Outcome::done_keep;
        }
    }
}

template <class Stream>
Reply Session<Stream>::failure_reply(Outcome outcome) {
    switch (outcome) {
        case Outcome::body_too_large:
            return Reply::make(http::status::payload_too_large, "body_too_large", "request body larger than max_body_bytes",
                               true);
        case Outcome::trailers_too_large:
            return Reply::make(http::status::request_header_fields_too_large, "header_too_large",
                               "request trailers larger than max_header_bytes", true);
        case Outcome::request_timeout:
            return Reply::make(http::status::request_timeout, "request_timeout",
                               "request body not received within request_body", true);
        default:
            return Reply::make(http::status::bad_request, "bad_request", "malformed request body framing", true);
    }
}

template <class Stream>
template <class Up>
asio::awaitable<typename Session<Stream>::Outcome> Session<Stream>::exchange(Exchange& ex, Up& up,
                                                                             proxy::UpstreamConn& conn,
                                                                             std::size_t first_piece,
                                                                             bool& reusable) {
    auto& req = ex.parser.get();
    auto& up_tcp = conn.tcp();
    const auto& t = ex.snap->cfg.server.timeouts;
    // 1. Request head with the body bytes already read, then the rest as it arrives (re-framed
    //    as chunked when it came so; prepare() set the head's framing to match).
    const bool up_chunked = ex.parser.chunked();
    const bool has_body = up_chunked || ex.parser.content_length().value_or(0) > 0;
    const bool retryable = conn.reused && !has_body;
    conn.buffer.max_size(buffer_cap(kUpstreamHeaderLimit));
    {
        const Frame f = frame(request_head_, up_buf_.data(), first_piece, up_chunked, ex.parser.is_done(), chunk_line_);
        if (co_await send_all(up, f, t.idle)) co_return retryable ? Outcome::retry : Outcome::bad_gateway;
        ex.bytes_in += first_piece;
    }
    while (!ex.parser.is_done()) {
        std::size_t got = 0;
        if (const auto rec = co_await read_request_piece(ex, got)) co_return body_failure(rec);
        ex.bytes_in += got;
        const bool last = ex.parser.is_done();
        if (got == 0 && !(last && up_chunked)) continue;  // never an empty chunk
        if (co_await send_all(up, frame({}, up_buf_.data(), got, up_chunked, last, chunk_line_), t.idle))
            co_return Outcome::bad_gateway;
    }

    end_body_deadline();  // the body is whole: nothing of the client's may be cancelled now

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
    // The upstream's Connection must not remove what frames its response either.
    for (auto it = res.find(http::field::connection); it != res.end() && it->name() == http::field::connection; ++it)
        if (proxy::connection_names_framing(it->value())) co_return Outcome::bad_response_framing;
    const bool upstream_keep_alive = rp->keep_alive();
    const bool body_follows = !rp->is_done();

    proxy::strip_hop_by_hop(res, upgraded);
    add_cors(ex, res, w_.origin_cache.get());
    res.set("X-Request-Id", ex.request_id);
    proxy::append_to_list(res, "Via", "1.1 authgate");
    bool close_after = !ex.keep_alive || ex.version != 11 || w_.draining;
    // The client's framing is the gateway's, from the parser's state (an HTTP/1.0 client
    // never gets chunked: its body ends with the connection instead).
    BodyFraming down = BodyFraming::none;
    if (upgraded) {
        down = BodyFraming::none;
    } else if (const auto length = rp->content_length(); length && !rp->chunked()) {
        down = BodyFraming::content_length;
    } else if (body_follows || rp->chunked()) {
        down = ex.version == 11 ? BodyFraming::chunked : (body_follows ? BodyFraming::close : BodyFraming::none);
    }
    if (down == BodyFraming::close) close_after = true;
    proxy::set_body_framing(res, down, rp->content_length().value_or(0));
    res.version(11);  // keep_alive() below follows the version the head is written with
    if (!upgraded) res.keep_alive(!close_after);
    ex.status = code;

    // 3. Response down. Body bytes that came with the header leave in the same write as the
    //    header (one send for a small response); later bytes are relayed as they arrive.
    const bool down_chunked = body_follows && down == BodyFraming::chunked;
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
        // A small body came with its header: parsed here, without a coroutine frame.
        boost::system::error_code rec;
        if (!proxy::parse_body_piece(*rp, conn.buffer, down_buf_.size(), rec))
            rec = co_await read_body_piece(up, conn.buffer, *rp, kUpstreamHeaderLimit, t.upstream_response);
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
    // Reused only when the response ended exactly at its framing: a byte after it would be
    // read as the start of the next client's response.
    reusable = upstream_keep_alive && !rp->need_eof() && conn.buffer.size() == 0;
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
