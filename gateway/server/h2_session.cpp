// The HTTP/2 downstream: H2Connection (one client connection, its nghttp2 session, a
// reader and a writer coroutine) and H2Stream (one request: the Downstream of its own
// Forwarder, see forwarder.h). See h2_session.h for how a connection gets here.
//
// A stream's request head is checked (pseudo-headers, connection-specific fields, names
// and values that HTTP/1.1 could read differently), rebuilt as an HTTP/1.1 head — Host
// from :authority, cookie crumbs joined, and the body's framing: the client's
// content-length, or Content-Length when END_STREAM came before the first DATA frame was
// done with, else chunked — and parsed by the exchange's Beast parser. From there on it is
// an HTTP/1.1 exchange: prepare(), the Forwarder, prepare_response(). Body bytes go through
// the same parser (re-framed as chunks when chunked), so max_body_bytes and the upstream's
// framing are the parser's decision, as on HTTP/1.1.
//
// Memory is bounded per stream by its flow-control window (no WINDOW_UPDATE until the
// Forwarder took the bytes), per connection by max_concurrent_streams and
// max_connection_memory, and the write buffer by one 64 KiB batch of nghttp2's output.
#include "server/h2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <spdlog/spdlog.h>

#include "observe/access_log.h"
#include "proxy/framing.h"
#include "server/forwarder.h"
#include "server/h2_request.h"
#include "server/io.h"
#include "server/prepare.h"
#include "server/responses.h"

namespace authgate::server {
namespace {

using io::lowest;
using io::nothrow;
using observe::Http2Limit;
using proxy::Clock;

constexpr std::size_t kWriteBatch = 64 * 1024;  // nghttp2 output gathered per socket write
constexpr std::size_t kReadSize = 16 * 1024;
// CONTINUATION frames one header block may have (nghttp2's own bound is set looser, so
// this one, which is metered, fires first).
constexpr std::size_t kMaxContinuations = 8;
// After GOAWAY for a flood or a connection error: how long, and how much, is read and dropped.
constexpr auto kLinger = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = 1024 * 1024;

template <class Stream>
class H2Connection;

// Freed stream objects kept by a worker thread for the next streams: one is large (its
// Forwarder's relay buffers), and a connection opens and closes thousands a second, which
// through malloc and free alone cost an eighth of the gateway's CPU (perf, h2load). At most
// kSpare per thread and stream type are kept, so what the cache holds is bounded.
template <std::size_t Size>
class SpareBlocks {
public:
    static constexpr std::size_t kSpare = 64;
    ~SpareBlocks() {
        for (void* p : blocks_) ::operator delete(p);
    }
    static void* take() {
        auto& b = mine().blocks_;
        if (b.empty()) return ::operator new(Size);
        void* p = b.back();
        b.pop_back();
        return p;
    }
    static void give(void* p) {
        auto& b = mine().blocks_;
        if (b.size() < kSpare) b.push_back(p);
        else ::operator delete(p);
    }

private:
    static SpareBlocks& mine() {
        thread_local SpareBlocks blocks;
        return blocks;
    }
    std::vector<void*> blocks_;
};

// One request stream: collects its header, then runs prepare() and the Forwarder in its
// own coroutine, and is the Forwarder's Downstream (the calls forwarder.h lists).
template <class Stream>
class H2Stream {
public:
    H2Stream(H2Connection<Stream>& c, std::int32_t id)
        : c_(c),
          id_(id),
          head_(c.settings().max_header_list_size),
          forwarder_(*this, c.worker(), arena_),
          signal_(c.worker().ioc) {}
    H2Stream(const H2Stream&) = delete;  // its Forwarder points back into it
    H2Stream& operator=(const H2Stream&) = delete;
    // Created and destroyed on their worker's thread only (see SpareBlocks).
    static void* operator new(std::size_t n) {
        return n == sizeof(H2Stream) ? SpareBlocks<sizeof(H2Stream)>::take() : ::operator new(n);
    }
    static void operator delete(void* p, std::size_t n) {
        if (n == sizeof(H2Stream)) SpareBlocks<sizeof(H2Stream)>::give(p);
        else ::operator delete(p);
    }

    // ---- what the Forwarder asks of the downstream (see forwarder.h) ----
    asio::awaitable<bool> expect_body(Exchange&) { co_return !closed_; }  // the deadline runs from the header
    asio::awaitable<boost::system::error_code> read_request_piece(Exchange& ex, std::span<char> into,
                                                                  std::size_t& got);
    void end_body_deadline() {}  // the deadline is only looked at while a piece is awaited
    bool begin_response(Exchange& ex, ResponseParser& parser);
    asio::awaitable<boost::system::error_code> send_response_head() { co_return submit(body_follows_); }
    asio::awaitable<boost::system::error_code> send_response_body(const char* data, std::size_t n, bool last);
    bool response_started() const { return submitted_; }
    template <class Up>
    asio::awaitable<void> tunnel(Up&, beast::flat_buffer&, RelayBuffer&, RelayBuffer&) {
        co_return;  // never: an h2 request carries no Upgrade (refused as connection-specific)
    }
    asio::awaitable<bool> answer(Exchange& ex, const Reply& reply) {
        http::response<http::string_body> res = error_response(reply);
        co_return co_await send_local(ex, res, false);
    }
    void log(const Exchange& ex);

    // ---- the connection's calls ----
    // One field of the request header (pseudo or regular), as nghttp2 decoded it.
    void on_field(std::string_view name, std::string_view value) { head_.field(name, value); }
    // The header block ended; `end_stream` when no body follows. False: refuse the stream.
    bool on_header_done(bool end_stream) {
        in_end_ = end_stream;
        return head_.valid();
    }
    void on_data(const std::uint8_t* data, std::size_t n) {
        in_.append(reinterpret_cast<const char*>(data), n);
        wake();
    }
    void on_end_stream() {
        in_end_ = true;
        wake();
    }
    void on_closed() {
        closed_ = true;
        wake();
    }
    // nghttp2 asks for response body bytes.
    ssize_t read_out(std::uint8_t* buf, std::size_t length, std::uint32_t* flags);
    // The request: its own coroutine, from the header to the log line.
    asio::awaitable<void> serve();

    bool started() const { return started_; }
    bool closed() const { return closed_; }
    bool request_ended() const { return in_end_; }
    bool response_complete() const { return out_eof_; }
    std::size_t unconsumed() const { return in_.size() - in_pos_; }  // body bytes nobody will read
    std::int32_t id() const { return id_; }

private:
    void wake() { signal_.cancel(); }
    // Waits for wake() (true) or `deadline` (false).
    asio::awaitable<bool> wait(Clock::time_point deadline) {
        signal_.expires_at(deadline);
        auto [ec] = co_await signal_.async_wait(nothrow);
        co_return ec == asio::error::operation_aborted;
    }
    Next decide(Exchange& ex, Reply& reply);
    // The head rebuilt as HTTP/1.1 into the exchange's parser; false: it refused it (`ec`).
    bool parse_head(Exchange& ex, boost::system::error_code& ec);
    template <class Fields>
    void set_response_fields(const http::header<false, Fields>& head, std::optional<std::uint64_t> length);
    boost::system::error_code submit(bool with_body);
    asio::awaitable<bool> send_local(Exchange& ex, http::response<http::string_body>& res, bool cors_done);
    asio::awaitable<bool> answer_preflight(Exchange& ex) {
        http::response<http::string_body> res = preflight_response(ex, c_.worker().origin_cache.get());
        c_.worker().metrics.cors_preflight(c_.worker().route_slot(*ex.snap, ex.route), !origin_refused(ex, res));
        co_return co_await send_local(ex, res, true);
    }

    H2Connection<Stream>& c_;
    const std::int32_t id_;
    H2RequestHead head_;
    bool started_ = false;
    // The request body: DATA bytes not yet handed to the parser (at most the stream window).
    std::string in_;
    std::size_t in_pos_ = 0;
    bool in_end_ = false;              // END_STREAM received
    std::optional<H2BodyFeed> feed_;   // once the head went to the parser
    bool closed_ = false;              // reset, or the connection is gone
    Clock::time_point body_deadline_ = Clock::time_point::max();
    // The response.
    std::vector<nghttp2_nv> nv_;
    std::string nv_text_;  // the names (lower case) and values nv_ points into
    std::vector<std::pair<std::size_t, std::size_t>> nv_spans_;
    bool body_follows_ = false;
    bool submitted_ = false;
    const char* out_ = nullptr;  // body bytes nghttp2 has not taken yet
    std::size_t out_len_ = 0;
    bool out_last_ = false;
    bool out_eof_ = false;  // END_STREAM went into a DATA frame
    std::string local_body_;
    std::string http1_head_;  // the rebuilt HTTP/1.1 head
    // Last: the exchange and the Forwarder point into the arena.
    proxy::Arena arena_;
    std::optional<Exchange> exchange_;
    Forwarder<H2Stream> forwarder_;
    asio::steady_timer signal_;  // wake(): body bytes in, body bytes out, reset
};

template <class Stream>
class H2Connection {
public:
    H2Connection(Worker& w, Stream& s, std::string_view client_ip, Worker::SessionHandle& handle)
        : w_(w),
          stream_(s),
          client_ip_(client_ip),
          handle_(handle),
          settings_from_(w.snapshot),
          write_wake_(w.ioc),
          idle_timer_(w.ioc) {}
    H2Connection(const H2Connection&) = delete;
    H2Connection& operator=(const H2Connection&) = delete;
    ~H2Connection() {
        handle_.goaway = nullptr;
        handle_.connection = nullptr;
        if (session_) nghttp2_session_del(session_);
    }

    asio::awaitable<void> run(beast::flat_buffer& buffered);

    Worker& worker() { return w_; }
    nghttp2_session* session() { return session_; }
    const std::string& client_ip() const { return client_ip_; }
    const config::Http2& settings() const { return settings_from_->cfg.server.http2; }
    bool tls() const { return !std::is_same_v<Stream, beast::tcp_stream>; }
    // The writer has something to send (a submitted frame, consumed window, resumed data).
    void kick() {
        if (writer_waiting_) write_wake_.cancel();
    }
    // A stream refused for a protocol error (counted as a reset: see max_resets).
    void refuse(H2Stream<Stream>& s, std::uint32_t error = NGHTTP2_PROTOCOL_ERROR) {
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id(), error);
        if (error == NGHTTP2_PROTOCOL_ERROR) w_.metrics.http2_limit(Http2Limit::protocol_error);
        kick();
    }
    void start(H2Stream<Stream>& s);
    // The stream's coroutine ended: it is forgotten (RST_STREAM when the client still sends).
    void finished(H2Stream<Stream>& s);
    static void goaway_hook(void* self, bool shutdown) { static_cast<H2Connection*>(self)->goaway(shutdown); }

private:
    asio::awaitable<void> reader();
    asio::awaitable<void> writer();
    bool setup();
    // Feeds bytes read from the client to nghttp2; false when the connection must end.
    bool receive(const char* data, std::size_t n);
    void goaway(bool shutdown);
    // Ends the connection for a flood: GOAWAY ENHANCE_YOUR_CALM, then close.
    void calm_down(Http2Limit why) {
        if (calm_) return;
        calm_ = true;
        w_.metrics.http2_limit(why);
        // nghttp2 ignores what the client sends from here on; GOAWAY goes out, then the
        // connection closes.
        nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
        spdlog::debug("http2 from {}: {} limit, GOAWAY ENHANCE_YOUR_CALM", client_ip_,
                      observe::kHttp2LimitNames[static_cast<std::size_t>(why)]);
    }
    bool count(std::uint64_t& counter, std::uint64_t limit, Http2Limit why) {
        const auto now = Clock::now();
        if (now - window_start_ > settings().flood_interval) {
            window_start_ = now;
            resets_ = 0;
            control_frames_ = 0;
        }
        if (++counter <= limit) return true;
        calm_down(why);
        return false;
    }
    void arm_idle();
    void disarm_idle() {
        ++idle_generation_;
        idle_timer_.cancel();
    }
    // After a stream ended or GOAWAY went out: nothing left to do ends the reader.
    void maybe_done();
    H2Stream<Stream>* stream_of(std::int32_t id) {
        return static_cast<H2Stream<Stream>*>(nghttp2_session_get_stream_user_data(session_, id));
    }
    // What one stream may hold: itself (the Forwarder's relay buffers), its window of body
    // bytes and its header.
    std::size_t stream_cost() const {
        return sizeof(H2Stream<Stream>) + settings().initial_window_size + settings().max_header_list_size;
    }

    // nghttp2 callbacks (user_data is the connection).
    static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* self);
    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self);
    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t flags, void* self);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self);
    static int on_data_chunk(nghttp2_session*, std::uint8_t flags, std::int32_t id, const std::uint8_t* data,
                             std::size_t len, void* self);
    static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t error, void* self);
    static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self);

    Worker& w_;
    Stream& stream_;
    std::string client_ip_;
    Worker::SessionHandle& handle_;
    std::shared_ptr<const proxy::Snapshot> settings_from_;  // the snapshot whose server.http2 was sent
    nghttp2_session* session_ = nullptr;
    // Every stream whose header began and whose coroutine has not ended; nghttp2 may have
    // closed it already (a client reset does not stop an upstream exchange at once), and
    // it counts against max_concurrent_streams and max_connection_memory until it ends.
    std::map<std::int32_t, std::unique_ptr<H2Stream<Stream>>> streams_;
    std::size_t memory_ = 0;
    std::array<char, kReadSize> read_buf_;
    std::string out_;
    asio::steady_timer write_wake_;
    bool writer_waiting_ = false;
    bool writing_ = false;
    bool writer_done_ = false;
    bool reader_done_ = false;
    bool write_failed_ = false;
    bool calm_ = false;            // a flood: GOAWAY ENHANCE_YOUR_CALM and close
    bool stopped_reading_ = false;  // the gateway, not the client, ended the connection
    bool goaway_sent_ = false;
    bool header_open_ = false;     // a header block is between HEADERS and END_HEADERS
    bool settings_seen_ = false;   // the client's first SETTINGS (after its preface)
    std::size_t header_block_ = 0;  // bytes of the header block being received
    std::size_t continuations_ = 0;  // CONTINUATION frames of it
    Clock::time_point window_start_ = Clock::now();
    std::uint64_t resets_ = 0;
    std::uint64_t control_frames_ = 0;
    asio::steady_timer idle_timer_;
    std::uint64_t idle_generation_ = 0;
    // Idle-timer handlers may run after the connection is gone: they hold this weakly.
    std::shared_ptr<H2Connection*> alive_ = std::make_shared<H2Connection*>(this);
    asio::steady_timer* done_signal_ = nullptr;  // run() waits on it for the writer and the streams
};

// ---- the stream ---------------------------------------------------------------------------

template <class Stream>
bool H2Stream<Stream>::parse_head(Exchange& ex, boost::system::error_code& ec) {
    using Body = H2RequestHead::Body;
    const std::size_t buffered = in_.size() - in_pos_;
    const Body body = !in_end_ ? Body::chunked : buffered > 0 ? Body::length : Body::none;
    head_.write_http1(http1_head_, body, buffered);
    H2BodyFeed::put(ex.parser, http1_head_, ec);
    if (ec || !ex.parser.is_header_done()) return false;
    feed_.emplace(ex.parser.chunked());
    return true;
}

template <class Stream>
asio::awaitable<boost::system::error_code> H2Stream<Stream>::read_request_piece(Exchange& ex, std::span<char> into,
                                                                               std::size_t& got) {
    auto& body = ex.parser.get().body();
    body.data = into.data();
    body.size = into.size();
    got = 0;
    for (;;) {
        const std::size_t buffered = in_.size() - in_pos_;
        if (buffered > 0 || (in_end_ && !feed_->ended())) {
            boost::system::error_code ec;
            const std::size_t k = std::min(buffered, into.size());
            feed_->data(ex.parser, std::string_view(in_.data() + in_pos_, k), ec);
            in_pos_ += k;
            if (in_pos_ == in_.size()) {
                in_.clear();
                in_pos_ = 0;
            }
            if (!ec && in_end_ && in_.empty()) feed_->end(ex.parser, ec);  // trailers were dropped
            got = into.size() - body.size;
            // The bytes are the Forwarder's now: the client may send as many again.
            if (k > 0 && !closed_) {
                nghttp2_session_consume(c_.session(), id_, k);
                c_.kick();
            }
            co_return ec;
        }
        if (closed_) co_return asio::error::connection_reset;
        if (!co_await wait(body_deadline_) && in_.size() == in_pos_ && !closed_ && !in_end_)
            co_return asio::error::timed_out;
    }
}

template <class Stream>
template <class Fields>
void H2Stream<Stream>::set_response_fields(const http::header<false, Fields>& head,
                                           std::optional<std::uint64_t> length) {
    nv_text_.clear();
    nv_spans_.clear();
    auto add = [&](std::string_view name, std::string_view value) {
        const std::size_t at = nv_text_.size();
        for (const char c : name) nv_text_ += static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        nv_text_ += value;
        nv_spans_.emplace_back(at, name.size());
    };
    char status[4];
    std::snprintf(status, sizeof status, "%03u", head.result_int() % 1000);
    add(":status", status);
    for (const auto& f : head) {
        const auto n = f.name();
        if (n == http::field::connection || n == http::field::keep_alive || n == http::field::proxy_connection ||
            n == http::field::transfer_encoding || n == http::field::upgrade || n == http::field::te ||
            n == http::field::content_length)
            continue;  // connection-specific in HTTP/2; the length is the parser's (below)
        add(f.name_string(), f.value());
    }
    if (length) add("content-length", std::to_string(*length));
    nv_.clear();
    std::size_t begin = 0;
    for (std::size_t i = 0; i < nv_spans_.size(); ++i) {
        const auto [at, name_len] = nv_spans_[i];
        const std::size_t end = i + 1 < nv_spans_.size() ? nv_spans_[i + 1].first : nv_text_.size();
        auto* base = reinterpret_cast<std::uint8_t*>(nv_text_.data());
        nv_.push_back({base + at, base + at + name_len, name_len, end - at - name_len, NGHTTP2_NV_FLAG_NONE});
        begin = end;
    }
    (void)begin;
}

template <class Stream>
bool H2Stream<Stream>::begin_response(Exchange&, ResponseParser& parser) {
    body_follows_ = !parser.is_done();
    std::optional<std::uint64_t> length;
    if (const auto cl = parser.content_length(); cl && !parser.chunked()) length = *cl;
    set_response_fields(parser.get(), length);
    return false;  // the connection's life is not one stream's to decide
}

template <class Stream>
boost::system::error_code H2Stream<Stream>::submit(bool with_body) {
    if (closed_) return asio::error::connection_reset;
    submitted_ = true;
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session* session, std::int32_t id, std::uint8_t* buf, std::size_t length,
                                std::uint32_t* flags, nghttp2_data_source*, void*) -> ssize_t {
        auto* s = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session, id));
        if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // its coroutine has ended
        return s->read_out(buf, length, flags);
    };
    if (nghttp2_submit_response(c_.session(), id_, nv_.data(), nv_.size(), with_body ? &provider : nullptr) != 0)
        return asio::error::connection_reset;
    if (!with_body) out_eof_ = true;
    c_.kick();
    return {};
}

template <class Stream>
ssize_t H2Stream<Stream>::read_out(std::uint8_t* buf, std::size_t length, std::uint32_t* flags) {
    const std::size_t n = std::min(length, out_len_);
    if (n > 0) std::memcpy(buf, out_, n);
    out_ += n;
    out_len_ -= n;
    if (out_len_ == 0) {
        if (out_last_) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            out_eof_ = true;
        }
        wake();  // the Forwarder may reuse its buffer
        if (n == 0 && !out_last_) return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
}

template <class Stream>
asio::awaitable<boost::system::error_code> H2Stream<Stream>::send_response_body(const char* data, std::size_t n,
                                                                               bool last) {
    if (!submitted_)
        if (const auto ec = submit(true)) co_return ec;
    out_ = data;
    out_len_ = n;
    out_last_ = last;
    nghttp2_session_resume_data(c_.session(), id_);
    c_.kick();
    // Flow control is the backpressure: nghttp2 takes the bytes as the client's windows allow.
    while (out_len_ > 0 || (out_last_ && !out_eof_)) {
        if (closed_) co_return asio::error::connection_reset;
        co_await wait(Clock::time_point::max());
    }
    co_return boost::system::error_code{};
}

template <class Stream>
asio::awaitable<bool> H2Stream<Stream>::send_local(Exchange& ex, http::response<http::string_body>& res,
                                                   bool cors_done) {
    auto& w = c_.worker();
    finish_local(ex, res, false, cors_done, w.draining, w.origin_cache.get());
    if (!cors_done && origin_refused(ex, res)) w.metrics.cors_origin_refused(w.route_slot(*ex.snap, ex.route));
    ex.status = res.result_int();
    // A HEAD request gets the head alone; its content-length still tells the body's size.
    const auto length = res.has_content_length() ? std::optional<std::uint64_t>(res.body().size()) : std::nullopt;
    local_body_ = ex.method == "HEAD" ? std::string() : std::move(res.body());
    set_response_fields(res.base(), length);
    if (local_body_.empty()) {
        submit(false);
    } else if (!co_await send_response_body(local_body_.data(), local_body_.size(), true)) {
        ex.bytes_out += local_body_.size();
    }
    log(ex);
    co_return false;
}

template <class Stream>
void H2Stream<Stream>::log(const Exchange& ex) {
    auto& w = c_.worker();
    const auto duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ex.start);
    w.metrics.response(w.route_slot(*ex.snap, ex.route), ex.status, duration);
    w.metrics.requests_by_protocol[1].add();
    if (!ex.snap->cfg.log.access_log) return;
    observe::AccessRecord r;
    r.time = std::chrono::system_clock::now();
    r.request_id = ex.request_id;
    r.client = c_.client_ip();
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
    r.upstream_error = ex.upstream_error;
    r.protocol = "h2";
    w.access_log.write(r);
}

template <class Stream>
Next H2Stream<Stream>::decide(Exchange& ex, Reply& reply) {
    auto& w = c_.worker();
    jwt::AuthOutcome auth;
    const DecisionContext ctx{w.rng, w.token_cache.get(), c_.client_ip(), static_cast<std::int64_t>(std::time(nullptr))};
    const Next next = prepare(ex, ctx, auth, reply);
    if (!ex.auth.empty()) {
        if (auth.action != jwt::AuthOutcome::Action::forward)
            w.metrics.auth_denied(w.route_slot(*ex.snap, ex.route), auth.status);
        if (auth.report_only_denial) {
            w.metrics.auth_report_only(w.route_slot(*ex.snap, ex.route), auth.status);
            spdlog::warn("report_only: request {} on route '{}' would be denied: {}", ex.request_id,
                         ex.route->cfg->name, ex.auth);
        }
    }
    return next;
}

template <class Stream>
asio::awaitable<void> H2Stream<Stream>::serve() {
    started_ = true;
    auto& w = c_.worker();
    // The whole body must arrive within request_body of the end of the header, as on HTTP/1.1.
    body_deadline_ = Clock::now() + w.snapshot->cfg.server.timeouts.request_body;
    // A body without content-length: the first DATA frames decide its framing. When
    // END_STREAM came with them (everything one read brought is processed before this
    // coroutine runs again) it goes up with a Content-Length, else chunked.
    if (!head_.too_large() && !head_.has_content_length())
        while (in_.empty() && !in_end_ && !closed_)
            if (!co_await wait(body_deadline_)) break;
    if (closed_) co_return;  // reset before anything was decided: nothing to answer or log
    Exchange& ex = exchange_.emplace(arena_, w.snapshot);
    Reply reply;
    Next next;
    boost::system::error_code ec;
    if (head_.too_large()) {
        w.metrics.http2_limit(Http2Limit::header_list);
        ex.method = head_.method();
        ex.path = head_.path();
        ex.request_id = proxy::make_request_id(w.rng);
        next = bad_header(ex, http::error::header_limit, reply);
    } else if (!parse_head(ex, ec)) {
        ex.method = head_.method();
        ex.path = head_.path();
        ex.request_id = proxy::make_request_id(w.rng);
        next = bad_header(ex, ec ? ec : http::error::partial_message, reply);
    } else {
        next = decide(ex, reply);
    }
    switch (next) {
        case Next::forward: co_await forwarder_.forward(ex); break;
        case Next::preflight: co_await answer_preflight(ex); break;
        case Next::reply: co_await answer(ex, reply); break;
    }
    forwarder_.reset();
    exchange_.reset();
}

// ---- the connection -----------------------------------------------------------------------

template <class Stream>
void H2Connection<Stream>::start(H2Stream<Stream>& s) {
    asio::co_spawn(
        w_.ioc,
        [](H2Connection* c, H2Stream<Stream>* stream) -> asio::awaitable<void> {
            co_await stream->serve();
            c->finished(*stream);
        }(this, &s),
        asio::detached);
}

template <class Stream>
void H2Connection<Stream>::finished(H2Stream<Stream>& s) {
    const std::int32_t id = s.id();
    if (!s.closed() && session_) {
        nghttp2_session_set_stream_user_data(session_, id, nullptr);
        // A response cut short (the upstream failed mid-body) must not look whole: reset.
        // A whole one while the request body still comes: that body is not wanted (RFC 9113 8.1).
        if (!s.response_complete())
            nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
        else if (!s.request_ended())
            nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
    }
    // Bytes nobody will read still count against the connection window: give them back.
    if (s.unconsumed() > 0 && session_) nghttp2_session_consume_connection(session_, s.unconsumed());
    memory_ -= std::min(memory_, stream_cost());
    streams_.erase(id);
    if (streams_.empty()) arm_idle();
    kick();
    maybe_done();
}

template <class Stream>
void H2Connection<Stream>::maybe_done() {
    if (streams_.empty() && done_signal_) done_signal_->cancel();
    // GOAWAY went out and no stream is left: the reader need not wait for the client.
    if (!writing_ && !reader_done_ && streams_.empty() && !nghttp2_session_want_read(session_) &&
        !nghttp2_session_want_write(session_))
        lowest(stream_).socket().cancel();
}

template <class Stream>
void H2Connection<Stream>::arm_idle() {
    const auto idle = w_.snapshot->cfg.server.timeouts.idle;
    const std::uint64_t generation = ++idle_generation_;
    idle_timer_.expires_after(idle);
    idle_timer_.async_wait([weak = std::weak_ptr<H2Connection*>(alive_), generation](boost::system::error_code ec) {
        const auto alive = weak.lock();
        if (ec || !alive) return;
        H2Connection* c = *alive;
        if (c->idle_generation_ != generation || !c->streams_.empty() || !c->session_) return;
        // No stream for timeouts.idle: GOAWAY, and the connection ends once it is written.
        c->goaway_sent_ = true;
        nghttp2_session_terminate_session(c->session_, NGHTTP2_NO_ERROR);
        c->kick();
        c->maybe_done();
    });
}

template <class Stream>
void H2Connection<Stream>::goaway(bool shutdown) {
    if (goaway_sent_ || !session_) return;
    // A reload says GOAWAY only to connections whose SETTINGS it changed: the client opens a
    // new connection for further requests, the streams in flight here finish.
    if (!shutdown && w_.snapshot->cfg.server.http2 == settings()) return;
    goaway_sent_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    kick();
    maybe_done();
}

// ---- nghttp2 callbacks --------------------------------------------------------------------

template <class Stream>
int H2Connection<Stream>::on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* self) {
    auto* c = static_cast<H2Connection*>(self);
    if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_CONTINUATION) {
        // CONTINUATION flood (CVE-2024-27316 class): the block is bounded before it is decoded.
        const bool first = hd->type == NGHTTP2_HEADERS;
        c->header_block_ = (first ? 0 : c->header_block_) + hd->length;
        c->continuations_ = first ? 0 : c->continuations_ + 1;
        c->header_open_ = (hd->flags & NGHTTP2_FLAG_END_HEADERS) == 0;
        if (c->header_block_ > 2 * c->settings().max_header_list_size || c->continuations_ > kMaxContinuations)
            c->calm_down(Http2Limit::header_block);
    }
    return 0;
}

template <class Stream>
int H2Connection<Stream>::on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* self) {
    auto* c = static_cast<H2Connection*>(self);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    const std::int32_t id = frame->hd.stream_id;
    // Streams still being served after nghttp2 closed them (a client reset does not cancel an
    // upstream exchange) count too: a reset is no way around the limit.
    const auto& h2 = c->settings();
    const bool too_many = c->streams_.size() >= h2.max_concurrent_streams;
    if (too_many || c->memory_ + c->stream_cost() > h2.max_connection_memory) {
        c->w_.metrics.http2_limit(too_many ? Http2Limit::concurrent_streams : Http2Limit::connection_memory);
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
        return 0;  // its fields are ignored: it has no user data
    }
    auto s = std::make_unique<H2Stream<Stream>>(*c, id);
    nghttp2_session_set_stream_user_data(session, id, s.get());
    c->memory_ += c->stream_cost();
    c->streams_.emplace(id, std::move(s));
    c->disarm_idle();
    return 0;
}

template <class Stream>
int H2Connection<Stream>::on_header(nghttp2_session* session, const nghttp2_frame* frame, const std::uint8_t* name,
                                    std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                                    std::uint8_t, void*) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: dropped
    auto* s = static_cast<H2Stream<Stream>*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (!s) return 0;
    s->on_field(std::string_view(reinterpret_cast<const char*>(name), namelen),
                std::string_view(reinterpret_cast<const char*>(value), valuelen));
    return 0;
}

template <class Stream>
int H2Connection<Stream>::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    auto* c = static_cast<H2Connection*>(self);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    const auto& h2 = c->settings();
    switch (frame->hd.type) {
        case NGHTTP2_HEADERS: {
            c->header_open_ = false;
            auto* s = c->stream_of(frame->hd.stream_id);
            if (!s) break;
            if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
                if (s->on_header_done(end_stream)) c->start(*s);
                else c->refuse(*s);
            } else if (end_stream) {  // trailers end the body
                s->on_end_stream();
            }
            break;
        }
        case NGHTTP2_DATA: {
            auto* s = c->stream_of(frame->hd.stream_id);
            if (!s) break;
            if (end_stream) s->on_end_stream();
            break;
        }
        case NGHTTP2_RST_STREAM: c->count(c->resets_, h2.max_resets, Http2Limit::rapid_reset); break;
        case NGHTTP2_SETTINGS:
            c->settings_seen_ = true;
            [[fallthrough]];
        case NGHTTP2_PING:
            if (frame->hd.flags & NGHTTP2_FLAG_ACK) break;
            [[fallthrough]];
        case NGHTTP2_PRIORITY:
            c->count(c->control_frames_, h2.max_control_frames, Http2Limit::control_flood);
            break;
        default: break;
    }
    return 0;
}

template <class Stream>
int H2Connection<Stream>::on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t id,
                                        const std::uint8_t* data, std::size_t len, void* self) {
    auto* c = static_cast<H2Connection*>(self);
    auto* s = c->stream_of(id);
    if (!s) {
        // Nobody reads it (a refused or finished stream): give the window back at once.
        nghttp2_session_consume(session, id, len);
        return 0;
    }
    s->on_data(data, len);
    return 0;
}

template <class Stream>
int H2Connection<Stream>::on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* self) {
    auto* c = static_cast<H2Connection*>(self);
    auto* s = c->stream_of(id);
    if (!s) return 0;
    s->on_closed();
    if (!s->started()) {  // refused or reset before it had a coroutine
        if (s->unconsumed() > 0) nghttp2_session_consume_connection(c->session_, s->unconsumed());
        c->memory_ -= std::min(c->memory_, c->stream_cost());
        c->streams_.erase(id);
        if (c->streams_.empty()) c->arm_idle();
    }
    return 0;
}

template <class Stream>
int H2Connection<Stream>::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    auto* c = static_cast<H2Connection*>(self);
    // A stream nghttp2 or the gateway reset for a protocol error counts like a client's reset:
    // a client cannot turn a stream of malformed requests into a rapid reset either.
    if (frame->hd.type == NGHTTP2_RST_STREAM && frame->rst_stream.error_code == NGHTTP2_PROTOCOL_ERROR)
        c->count(c->resets_, c->settings().max_resets, Http2Limit::rapid_reset);
    if (frame->hd.type == NGHTTP2_GOAWAY) c->goaway_sent_ = true;
    return 0;
}

// ---- the connection's life ----------------------------------------------------------------

template <class Stream>
bool H2Connection<Stream>::setup() {
    nghttp2_session_callbacks* cb = nullptr;
    if (nghttp2_session_callbacks_new(&cb) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, &on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, &on_frame_send);
    nghttp2_option* opt = nullptr;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return false;
    }
    const auto& h2 = settings();
    // HTTP messaging stays on: nghttp2 checks pseudo-headers, field names and values and
    // content-length against the DATA frames; the stream code checks again on top.
    nghttp2_option_set_no_auto_window_update(opt, 1);  // a window opens when the Forwarder took the bytes
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, h2.header_table_size);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_outbound_ack(opt, 1000);  // PING/SETTINGS acks queued while the client does not read
    // nghttp2's own rapid-reset bucket, looser than max_resets (which counts first and is metered).
    const auto secs = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(h2.flood_interval).count()));
    nghttp2_option_set_stream_reset_rate_limit(opt, 2 * h2.max_resets, std::max<std::uint64_t>(1, 2 * h2.max_resets / secs));
    nghttp2_option_set_max_continuations(opt, 2 * kMaxContinuations);
    const int rv = nghttp2_session_server_new2(&session_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
        session_ = nullptr;
        return false;
    }
    const std::array<nghttp2_settings_entry, 5> entries{{
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, static_cast<std::uint32_t>(h2.max_concurrent_streams)},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(h2.initial_window_size)},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, static_cast<std::uint32_t>(h2.header_table_size)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(h2.max_header_list_size)},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    }};
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries.data(), entries.size()) != 0) return false;
    // The connection window: every stream's window at once, within the memory cap.
    const std::uint64_t window = std::min<std::uint64_t>(
        {h2.initial_window_size * h2.max_concurrent_streams, h2.max_connection_memory, 0x7fffffff});
    if (window > 65535)
        nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, static_cast<std::int32_t>(window));
    return true;
}

template <class Stream>
bool H2Connection<Stream>::receive(const char* data, std::size_t n) {
    const auto rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(data), n);
    if (calm_) {  // GOAWAY is queued: nothing more is read
        stopped_reading_ = true;
        kick();
        return false;
    }
    if (rv < 0) {
        stopped_reading_ = true;
        spdlog::debug("http2 from {}: {}", client_ip_, nghttp2_strerror(static_cast<int>(rv)));
        // A connection error (a bad preface, a frame nghttp2 refused): it has queued GOAWAY
        // when it could; PROTOCOL_ERROR otherwise.
        if (rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC) nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
        kick();
        return false;
    }
    kick();
    return true;
}

template <class Stream>
asio::awaitable<void> H2Connection<Stream>::reader() {
    const auto& timeouts = settings_from_->cfg.server.timeouts;
    for (;;) {
        if (write_failed_ || !nghttp2_session_want_read(session_)) break;
        // The preface and SETTINGS, and a header block once begun, must come within the
        // header timeout (slowloris); otherwise the idle timer (no stream) or the streams'
        // own deadlines decide.
        if (!settings_seen_ || header_open_) lowest(stream_).expires_after(timeouts.header);
        else lowest(stream_).expires_never();
        auto [ec, n] = co_await stream_.async_read_some(asio::buffer(read_buf_), nothrow);
        if (ec) break;
        if (!receive(read_buf_.data(), n)) break;
    }
    reader_done_ = true;
}

template <class Stream>
asio::awaitable<void> H2Connection<Stream>::writer() {
    const auto& timeouts = settings_from_->cfg.server.timeouts;
    for (;;) {
        out_.clear();
        while (out_.size() < kWriteBatch) {
            const std::uint8_t* data = nullptr;
            const auto n = nghttp2_session_mem_send(session_, &data);
            if (n <= 0) break;
            out_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
        }
        if (out_.empty()) {
            if (reader_done_ || (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_))) break;
            writer_waiting_ = true;
            write_wake_.expires_at(Clock::time_point::max());
            co_await write_wake_.async_wait(nothrow);
            writer_waiting_ = false;
            continue;
        }
        // A client that does not read holds no more than this batch: the write times out.
        lowest(stream_).expires_after(timeouts.idle);
        writing_ = true;
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), nothrow);
        writing_ = false;
        if (ec) {
            write_failed_ = true;
            lowest(stream_).socket().cancel();  // the reader stops too
            break;
        }
        maybe_done();
    }
    writer_done_ = true;
    if (done_signal_) done_signal_->cancel();
}

template <class Stream>
asio::awaitable<void> H2Connection<Stream>::run(beast::flat_buffer& buffered) {
    if (!setup()) co_return;
    handle_.idle = false;  // never cancelled as idle: shutdown and reload say GOAWAY instead
    handle_.connection = this;
    handle_.goaway = &goaway_hook;
    asio::steady_timer done(w_.ioc);
    done_signal_ = &done;
    arm_idle();
    if (w_.draining) goaway(true);
    asio::co_spawn(
        w_.ioc, [](H2Connection* c) -> asio::awaitable<void> { co_await c->writer(); }(this), asio::detached);
    bool ok = true;
    if (buffered.size() > 0) {
        const auto bytes = buffered.cdata();
        ok = receive(static_cast<const char*>(bytes.data()), bytes.size());
        buffered.consume(buffered.size());
    }
    if (ok) co_await reader();
    reader_done_ = true;
    // Streams still running learn that the client is gone; those that never started go now.
    for (auto it = streams_.begin(); it != streams_.end();) {
        it->second->on_closed();
        it = it->second->started() ? std::next(it) : streams_.erase(it);
    }
    kick();
    // The writer flushes what is queued (GOAWAY), the streams end (an upstream exchange in
    // flight ends by its own deadlines); then the caller closes the socket.
    while (!writer_done_ || !streams_.empty()) {
        done.expires_at(Clock::time_point::max());
        co_await done.async_wait(nothrow);
    }
    done_signal_ = nullptr;
    disarm_idle();
    if (stopped_reading_ && !write_failed_) {
        // A close with unread bytes is a reset, which may destroy the GOAWAY before the
        // client read it: read and drop what still comes, briefly and boundedly.
        lowest(stream_).expires_after(kLinger);
        for (std::size_t drained = 0; drained < kLingerBytes;) {
            auto [ec, n] = co_await stream_.async_read_some(asio::buffer(read_buf_), nothrow);
            if (ec) break;
            drained += n;
        }
    }
}

template <class Stream>
asio::awaitable<void> serve(Worker& w, Stream& s, beast::flat_buffer& buffered, std::string_view client_ip,
                            Worker::SessionHandle& handle) {
    auto c = std::make_unique<H2Connection<Stream>>(w, s, client_ip, handle);
    co_await c->run(buffered);
}

}  // namespace

bool negotiated_h2(H2TlsStream& s) {
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(s.native_handle(), &proto, &len);
    return len == 2 && proto[0] == 'h' && proto[1] == '2';
}

asio::awaitable<bool> h2_preface_follows(beast::tcp_stream& s, beast::flat_buffer& buffer,
                                         const config::Timeouts& timeouts) {
    for (bool first = true;; first = false) {
        const auto bytes = buffer.cdata();
        const std::string_view seen(static_cast<const char*>(bytes.data()), bytes.size());
        const std::size_t n = std::min(seen.size(), kH2Preface.size());
        if (seen.substr(0, n) != kH2Preface.substr(0, n)) co_return false;
        if (n == kH2Preface.size()) co_return true;
        s.expires_after(first && seen.empty() ? timeouts.idle : timeouts.header);
        auto [ec, got] = co_await s.async_read_some(buffer.prepare(4096), nothrow);
        if (ec) co_return false;  // the HTTP/1.1 loop finds the connection closed too
        buffer.commit(got);
    }
}

asio::awaitable<void> serve_h2(Worker& w, beast::tcp_stream& s, beast::flat_buffer& buffered,
                               std::string_view client_ip, Worker::SessionHandle& handle) {
    return serve(w, s, buffered, client_ip, handle);
}

asio::awaitable<void> serve_h2(Worker& w, H2TlsStream& s, beast::flat_buffer& buffered, std::string_view client_ip,
                               Worker::SessionHandle& handle) {
    return serve(w, s, buffered, client_ip, handle);
}

}  // namespace authgate::server
