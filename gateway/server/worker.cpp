// A worker's life: accepting (with the max_connections guard), its sessions, the
// housekeeping timer (access-log flush, idle pool sweep), reloads and the graceful drain.
#include "server/worker.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "jwt/token_cache.h"

namespace authgate::server {
namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view kOverloaded =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    "Content-Length: 71\r\n\r\n{\"error\":\"overloaded\",\"error_description\":\"too many open connections\"}\n";
}  // namespace

Worker::Worker(std::size_t idx, std::shared_ptr<const proxy::Snapshot> snap, observe::SnapshotSlots slots,
               const ServerOptions& options, std::atomic<std::size_t>& active, observe::Metrics& all_metrics)
    : index(idx),
      snapshot(std::move(snap)),
      pool(ioc.get_executor()),
      token_cache(jwt::make_token_cache(snapshot->cfg.jwt.cache_max_entries, &all_metrics.worker(idx).token_cache)),
      origin_cache(cors::make_origin_cache(cors::OriginCache::kDefaultMaxEntries)),
      rng(std::random_device{}()),
      access_log(options.access_log_fd, snapshot->cfg.log.format == "json"),
      metrics(all_metrics.worker(idx)),
      active_connections(active),
      all_metrics_(all_metrics),
      slots_(std::move(slots)),
      housekeeping_timer_(ioc),
      drain_timer_(ioc),
      drain_delay_timer_(ioc) {}

Worker::~Worker() = default;

void Worker::start_accepting() {
    for (auto& a : acceptors) accept_loop(a);
    housekeeping();
}

void Worker::accept_loop(tcp::acceptor& acceptor) {
    asio::co_spawn(
        ioc,
        [this, &acceptor]() -> asio::awaitable<void> {
            for (;;) {
                auto [ec, socket] = co_await acceptor.async_accept(nothrow);
                if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
                if (ec) {
                    // EMFILE and friends: keep accepting once descriptors free up.
                    spdlog::warn("accept failed: {}", ec.message());
                    asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
                    co_await pause.async_wait(nothrow);
                    continue;
                }
                if (active_connections.load(std::memory_order_relaxed) >= snapshot->cfg.server.limits.max_connections) {
                    // Best effort, never blocking: the client learns why instead of seeing a reset.
                    ::send(socket.native_handle(), kOverloaded.data(), kOverloaded.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
                    boost::system::error_code ignored;
                    socket.shutdown(tcp::socket::shutdown_send, ignored);
                    metrics.connections_refused.add();
                    continue;
                }
                metrics.connections_accepted.add();
                active_connections.fetch_add(1, std::memory_order_relaxed);
                start_session(*this, std::move(socket));
            }
        },
        asio::detached);
}

void Worker::session_ended(SessionList::iterator it) {
    sessions.erase(it);
    active_connections.fetch_sub(1, std::memory_order_relaxed);
    if (draining && sessions.empty()) {
        drain_timer_.cancel();
        housekeeping_timer_.cancel();
    }
}

void Worker::housekeeping() {
    housekeeping_timer_.expires_after(std::chrono::milliseconds(250));
    housekeeping_timer_.async_wait([this](boost::system::error_code ec) {
        access_log.flush();
        if (ec || draining) return;
        pool.sweep(proxy::Clock::now());
        housekeeping();
    });
}

void Worker::set_snapshot(std::shared_ptr<const proxy::Snapshot> snap, observe::SnapshotSlots slots) {
    snapshot = std::move(snap);
    // Requests still running under the old snapshot find their slots here.
    previous_slots_ = std::move(slots_);
    slots_ = std::move(slots);
    // Cached verdicts were made under the old keys and policies.
    token_cache = jwt::make_token_cache(snapshot->cfg.jwt.cache_max_entries, &metrics.token_cache);
    if (origin_cache) origin_cache->clear();
    // log.format is reloadable: the next line this worker writes is in the new format.
    access_log.set_json(snapshot->cfg.log.format == "json");
    // HTTP/2 connections whose listener settings changed say GOAWAY; their streams finish.
    for (auto& s : sessions)
        if (s.goaway) s.goaway(s.connection, false);
}

void Worker::begin_shutdown_after(std::chrono::steady_clock::duration delay) {
    if (draining) return;
    if (delay <= std::chrono::steady_clock::duration::zero()) return begin_shutdown();
    drain_delay_timer_.expires_after(delay);
    drain_delay_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) begin_shutdown();
    });
}

void Worker::begin_shutdown() {
    if (draining) return;
    draining = true;
    drain_delay_timer_.cancel();  // an immediate shutdown overtakes a delayed one
    for (auto& a : acceptors) {
        boost::system::error_code ignored;
        a.close(ignored);
    }
    for (auto& s : sessions)
        if (s.goaway) s.goaway(s.connection, true);
    // Idle keep-alive connections have nothing in flight: close them now. Busy ones
    // finish their current exchange and close after it (the session checks `draining`).
    for (auto& s : sessions) {
        if (s.idle) s.stream->cancel();
    }
    pool.clear();
    if (sessions.empty()) {
        housekeeping_timer_.cancel();
        return;
    }
    drain_timer_.expires_after(snapshot->cfg.server.timeouts.shutdown);
    drain_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        spdlog::warn("worker {}: shutdown budget spent, closing {} connection(s)", index, sessions.size());
        for (auto& s : sessions) s.stream->socket().close();
        housekeeping_timer_.cancel();
    });
}

}  // namespace authgate::server
