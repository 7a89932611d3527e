#include "proxy/upstream_pool.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/ssl.h>

namespace authgate::proxy {
namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// A pooled connection idle for longer than this is checked for a peer close (or stray
// bytes) before reuse; a fresher one is trusted: the check is a syscall, and on a busy
// gateway one syscall is several per cent of a proxied request. Bytes that came with the
// response are caught at release (the session never pools a connection with any left).
constexpr auto stale_check_after = std::chrono::milliseconds(500);

bool peer_closed(beast::tcp_stream& s) {
    char byte;
    ssize_t n = ::recv(s.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;                                           // orderly close
    if (n < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK);      // reset etc.
    return true;  // unsolicited bytes on an idle HTTP connection: do not trust it
}
}  // namespace

UpstreamConn::UpstreamConn(const asio::any_io_executor& ex, asio::ssl::context* tls) {
    // Beast sizes each read by the buffer's free capacity (512 bytes when empty): room up
    // front lets one recv take a whole response header.
    buffer.reserve(16 * 1024);
    if (tls) {
        tls_.emplace(ex, *tls);
    } else {
        plain_.emplace(ex);
    }
}

void UpstreamPool::rebuild_for(const Snapshot& snap) {
    if (snapshot_id_ == snap.id) return;
    clear();
    snapshot_id_ = snap.id;
    buckets_.clear();
    buckets_.resize(snap.upstreams.size());
    next_endpoint_.assign(snap.upstreams.size(), 0);
    idle_timeout_.clear();
    max_idle_.clear();
    for (std::size_t i = 0; i < snap.upstreams.size(); ++i) {
        const auto& cfg = *snap.upstreams[i].cfg;
        buckets_[i].resize(cfg.endpoints.size());
        idle_timeout_.push_back(cfg.pool_idle_timeout);
        max_idle_.push_back(static_cast<std::size_t>(cfg.pool_max_idle));
    }
}

void UpstreamPool::clear() {
    buckets_.clear();  // closing sockets is the streams' destructors' job
    snapshot_id_ = 0;
}

std::size_t UpstreamPool::idle_connections() const {
    std::size_t n = 0;
    for (const auto& up : buckets_)
        for (const auto& b : up) n += b.size();
    return n;
}

void UpstreamPool::sweep(Clock::time_point now) {
    for (std::size_t u = 0; u < buckets_.size(); ++u) {
        for (auto& bucket : buckets_[u]) {
            while (!bucket.empty() && now - bucket.front()->idle_since >= idle_timeout_[u]) bucket.pop_front();
        }
    }
}

asio::awaitable<std::unique_ptr<UpstreamConn>> UpstreamPool::acquire(const Snapshot& snap, std::size_t upstream,
                                                                     bool fresh, UpstreamError& err) {
    rebuild_for(snap);
    err = UpstreamError::connect_refused;  // until an endpoint says otherwise
    const auto& cfg = *snap.upstreams[upstream].cfg;
    const std::size_t n = cfg.endpoints.size();
    std::size_t start = next_endpoint_[upstream]++ % n;

    if (!fresh) {
        auto now = Clock::now();
        // Prefer the round-robin endpoint's pool, then any endpoint's: reuse beats a connect.
        for (std::size_t k = 0; k < n; ++k) {
            auto& bucket = buckets_[upstream][(start + k) % n];
            while (!bucket.empty()) {
                auto conn = std::move(bucket.back());
                bucket.pop_back();
                auto idle = now - conn->idle_since;
                if (idle >= idle_timeout_[upstream]) continue;
                if (idle >= stale_check_after && peer_closed(conn->tcp())) continue;
                conn->reused = true;
                co_return conn;
            }
        }
    }
    for (std::size_t k = 0; k < n; ++k) {
        auto conn = co_await connect(snap, upstream, (start + k) % n, err);
        if (conn) co_return conn;
    }
    co_return nullptr;
}

void UpstreamPool::release(const Snapshot& snap, std::unique_ptr<UpstreamConn> conn) {
    if (snapshot_id_ != snap.id || conn->upstream >= buckets_.size()) return;  // config changed: drop it
    auto& bucket = buckets_[conn->upstream][conn->endpoint];
    if (bucket.size() >= max_idle_[conn->upstream]) return;
    conn->idle_since = Clock::now();
    conn->buffer.clear();
    bucket.push_back(std::move(conn));
}

asio::awaitable<std::unique_ptr<UpstreamConn>> UpstreamPool::connect(const Snapshot& snap, std::size_t upstream,
                                                                     std::size_t endpoint, UpstreamError& err) {
    const auto& rt = snap.upstreams[upstream];
    const auto& ep = rt.cfg->endpoints[endpoint];
    const auto& timeouts = snap.cfg.server.timeouts;
    const bool tls = ep.scheme == "https";
    auto conn = std::make_unique<UpstreamConn>(ex_, tls ? rt.tls.get() : nullptr);
    conn->upstream = upstream;
    conn->endpoint = endpoint;
    conn->endpoint_text = ep.host + ":" + std::to_string(ep.port);

    // Literal addresses skip the resolver; names go through Asio's async resolver, which
    // runs getaddrinfo off this thread.
    std::string host = ep.host;
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    std::vector<tcp::endpoint> targets;
    if (!ec) {
        targets.emplace_back(addr, ep.port);
    } else {
        tcp::resolver resolver(ex_);
        auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(ep.port), nothrow);
        if (rec) {
            err = UpstreamError::resolve;
            co_return nullptr;
        }
        for (const auto& r : results) targets.push_back(r.endpoint());
    }

    auto& stream = conn->tcp();
    stream.expires_after(timeouts.upstream_connect);
    auto [cec, connected] = co_await stream.async_connect(targets, nothrow);
    (void)connected;
    if (cec) {
        err = cec == beast::error::timeout ? UpstreamError::connect_timeout : UpstreamError::connect_refused;
        co_return nullptr;
    }
    stream.socket().set_option(tcp::no_delay(true), ec);

    if (tls) {
        const std::string& name = rt.cfg->tls.server_name.empty() ? host : rt.cfg->tls.server_name;
        auto& s = conn->tls();
        boost::system::error_code not_an_address;
        asio::ip::make_address(name, not_an_address);
        // SNI carries names only, never literal addresses (RFC 6066 3).
        if (not_an_address) SSL_set_tlsext_host_name(s.native_handle(), name.c_str());
        if (rt.cfg->tls.verify) s.set_verify_callback(asio::ssl::host_name_verification(name));
        stream.expires_after(timeouts.upstream_connect);
        auto [hsec] = co_await s.async_handshake(asio::ssl::stream_base::client, nothrow);
        if (hsec) {
            err = hsec == beast::error::timeout ? UpstreamError::connect_timeout : UpstreamError::tls;
            co_return nullptr;
        }
    }
    stream.expires_never();
    co_return conn;
}

}  // namespace authgate::proxy
