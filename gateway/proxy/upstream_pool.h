// Upstream connections: connect (plain or TLS, round robin, skipping endpoints that fail),
// and a per-worker keep-alive pool. One pool per worker thread; never shared, no locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "proxy/snapshot.h"
#include "proxy/upstream_error.h"

namespace authgate::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class UpstreamConn {
public:
    UpstreamConn(const asio::any_io_executor& ex, asio::ssl::context* tls);

    bool is_tls() const { return tls_.has_value(); }
    beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
    beast::ssl_stream<beast::tcp_stream>& tls() { return *tls_; }
    beast::tcp_stream& plain() { return *plain_; }

    beast::flat_buffer buffer;  // bytes read past the end of a response stay here
    std::size_t upstream = 0;
    std::size_t endpoint = 0;
    std::string endpoint_text;  // "host:port", for logs
    bool reused = false;        // came from the pool (a failure before any byte may be retried)
    Clock::time_point idle_since{};

private:
    std::optional<beast::tcp_stream> plain_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};

class UpstreamPool {
public:
    explicit UpstreamPool(asio::any_io_executor ex) : ex_(std::move(ex)) {}

    // A pooled connection to the upstream when one is alive (fresh=false), else a new one:
    // endpoints in round-robin order, each tried once. Null on failure, with `err` set to
    // the last endpoint's failure (connect_refused, connect_timeout, tls or resolve).
    asio::awaitable<std::unique_ptr<UpstreamConn>> acquire(const Snapshot& snap, std::size_t upstream, bool fresh,
                                                           UpstreamError& err);

    // Returns a connection whose last exchange ended cleanly and that may be kept alive.
    void release(const Snapshot& snap, std::unique_ptr<UpstreamConn> conn);

    // Closes idle connections past their upstream's pool idle timeout.
    void sweep(Clock::time_point now);

    std::size_t idle_connections() const;
    void clear();

private:
    using Bucket = std::deque<std::unique_ptr<UpstreamConn>>;
    void rebuild_for(const Snapshot& snap);
    asio::awaitable<std::unique_ptr<UpstreamConn>> connect(const Snapshot& snap, std::size_t upstream,
                                                           std::size_t endpoint, UpstreamError& err);

    asio::any_io_executor ex_;
    std::uint64_t snapshot_id_ = 0;
    std::vector<std::vector<Bucket>> buckets_;     // [upstream][endpoint], most recent at back
    std::vector<std::size_t> next_endpoint_;       // round robin per upstream
    std::vector<Clock::duration> idle_timeout_;    // per upstream
    std::vector<std::size_t> max_idle_;            // per upstream
};

}  // namespace authgate::proxy
