// One worker: an io_context run by one thread, and everything a request touches that is
// not immutable config. Nothing here is shared with another worker, so nothing is locked.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <random>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "cors/origin_cache.h"
#include "jwt/authenticator.h"
#include "jwt/provider.h"
#include "observe/access_log.h"
#include "observe/metrics.h"
#include "proxy/snapshot.h"
#include "proxy/upstream_pool.h"
#include "server/server.h"

namespace authgate::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

class Worker {
public:
    Worker(std::size_t index, std::shared_ptr<const proxy::Snapshot> snapshot, observe::SnapshotSlots slots,
           const ServerOptions& options, std::atomic<std::size_t>& active_connections, observe::Metrics& metrics);
    ~Worker();

    // Session registry, so shutdown can close idle keep-alive connections at once and
    // wait for busy ones.
    struct SessionHandle {
        beast::tcp_stream* stream = nullptr;
        bool idle = true;  // waiting for the next request's first byte
        // An HTTP/2 connection drains itself: shutdown (true) and every reload (false) call
        // this instead of cancelling it, and it sends GOAWAY and lets its streams finish (added).
        void (*goaway)(void* connection, bool shutdown) = nullptr;
        void* connection = nullptr;
    };
    using SessionList = std::list<SessionHandle>;

    void start_accepting();
    // On this worker's thread; slots are the metric slots of the snapshot's routes and upstreams.
    void set_snapshot(std::shared_ptr<const proxy::Snapshot> snapshot, observe::SnapshotSlots slots);
    void begin_shutdown();                                                // on this worker's thread
    // Goes on serving and accepting for `delay`, then begin_shutdown() (on this thread).
    void begin_shutdown_after(std::chrono::steady_clock::duration delay);
    void session_ended(SessionList::iterator it);

    // Metric slots of a route (null: none matched) or upstream of `snap`, which is the
    // current snapshot or, for a request that started before a reload, an older one.
    std::uint32_t route_slot(const proxy::Snapshot& snap, const proxy::RouteRuntime* route) const {
        if (!route) return observe::Metrics::kNoRoute;
        const auto i = static_cast<std::size_t>(route - snap.routes.data());
        if (snap.id == slots_.snapshot_id) return slots_.routes[i];
        if (snap.id == previous_slots_.snapshot_id) return previous_slots_.routes[i];
        return all_metrics_.route_slot(route->cfg->name);  // outlived two reloads: rare, by name
    }
    std::uint32_t upstream_slot(const proxy::Snapshot& snap, std::size_t upstream) const {
        if (snap.id == slots_.snapshot_id) return slots_.upstreams[upstream];
        if (snap.id == previous_slots_.snapshot_id) return previous_slots_.upstreams[upstream];
        return all_metrics_.upstream_slot(snap.upstreams[upstream].cfg->name);
    }
    std::uint32_t provider_slot(const proxy::Snapshot& snap, const jwt::Provider& p) const {
        if (snap.id == slots_.snapshot_id) return slots_.providers[p.index()];
        if (snap.id == previous_slots_.snapshot_id) return previous_slots_.providers[p.index()];
        return all_metrics_.provider_slot(p.name());
    }

    // One thread runs it and only that thread touches its sockets and timers, so the reactor
    // skips per-descriptor locking; posts from other threads (reload, shutdown) stay safe.
    asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    const std::size_t index;
    std::shared_ptr<const proxy::Snapshot> snapshot;
    proxy::UpstreamPool pool;
    std::unique_ptr<jwt::TokenCache> token_cache;
    std::unique_ptr<cors::OriginCache> origin_cache;
    std::mt19937_64 rng;
    observe::AccessLog access_log;
    observe::WorkerMetrics& metrics;  // written only by this worker's thread
    std::atomic<std::size_t>& active_connections;
    std::vector<tcp::acceptor> acceptors;
    SessionList sessions;
    bool draining = false;

private:
    void accept_loop(tcp::acceptor& acceptor);
    void housekeeping();
    observe::Metrics& all_metrics_;
    observe::SnapshotSlots slots_;
    observe::SnapshotSlots previous_slots_;
    asio::steady_timer housekeeping_timer_;
    asio::steady_timer drain_timer_;
    asio::steady_timer drain_delay_timer_;
};

// Runs one downstream connection to completion (plain or TLS per the snapshot).
void start_session(Worker& worker, tcp::socket socket);

}  // namespace authgate::server
