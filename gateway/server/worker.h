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
#include "observe/access_log.h"
#include "proxy/snapshot.h"
#include "proxy/upstream_pool.h"
#include "server/server.h"

namespace authgate::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

class Worker {
public:
    Worker(std::size_t index, std::shared_ptr<const proxy::Snapshot> snapshot, const ServerOptions& options,
           std::atomic<std::size_t>& active_connections);
    ~Worker();

    // Session registry, so shutdown can close idle keep-alive connections at once and
    // wait for busy ones.
    struct SessionHandle {
        beast::tcp_stream* stream = nullptr;
        bool idle = true;  // waiting for the next request's first byte
    };
    using SessionList = std::list<SessionHandle>;

    void start_accepting();
    void set_snapshot(std::shared_ptr<const proxy::Snapshot> snapshot);  // on this worker's thread
    void begin_shutdown();                                                // on this worker's thread
    void session_ended(SessionList::iterator it);

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
    std::atomic<std::size_t>& active_connections;
    std::vector<tcp::acceptor> acceptors;
    SessionList sessions;
    bool draining = false;

private:
    void accept_loop(tcp::acceptor& acceptor);
    void housekeeping();
    asio::steady_timer housekeeping_timer_;
    asio::steady_timer drain_timer_;
};

// Runs one downstream connection to completion (plain or TLS per the snapshot).
void start_session(Worker& worker, tcp::socket socket);

}  // namespace authgate::server
