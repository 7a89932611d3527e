// The gateway server: N workers, each one io_context on one thread with its own acceptors
// (SO_REUSEPORT), upstream pool, token and origin caches. A connection lives its whole
// life on the worker that accepted it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/snapshot.h"

namespace authgate::server {

class Worker;

struct ServerOptions {
    int access_log_fd = 1;  // where access-log lines go
};

class Server {
public:
    // Binds every listener (throws std::runtime_error naming the address on failure) but
    // does not accept until start().
    explicit Server(std::shared_ptr<const proxy::Snapshot> snapshot, ServerOptions options = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void start();                       // starts the worker threads and the JWKS fetcher
    std::vector<std::uint16_t> ports() const;  // bound port of each listen address, in config order
    // Bound port of the `admin:` listener (GET /healthz, /readyz, /metrics), if configured.
    // It is bound with the others and serves from start() until wait() has drained the workers.
    std::optional<std::uint16_t> admin_port() const;

    // Installs a new snapshot: requests already running keep theirs. The server owns the
    // JWKS fetcher of the running snapshot's providers: a reload stops the old one here,
    // at once (its providers keep their keys for the requests still running under it),
    // and starts one for the new providers, which begin with the keys last fetched from
    // an unchanged jwks_url. Call it from one control thread (it may block briefly
    // joining the old fetcher). Counted as a successful reload in /metrics;
    // reload_failed() counts one that did not compile.
    void reload(std::shared_ptr<const proxy::Snapshot> snapshot);
    void reload_failed();

    // What SIGTERM/SIGINT do: /readyz answers 503 at once, the listeners go on accepting
    // and serving for server.timeouts.drain_delay (so load balancers stop routing here
    // before connections are refused), then shutdown(). Safe from any thread; returns at once.
    void stop();
    // Stops accepting, closes idle connections, lets in-flight requests finish within the
    // snapshot's shutdown budget, then stops the workers; overtakes a stop() still in its
    // delay. Safe from any thread; returns at once.
    void shutdown();
    // Blocks until every worker thread has ended, then stops the admin listener and the
    // JWKS fetcher.
    void wait();

    std::size_t active_connections() const;

private:
    void drain_after(config::Duration delay);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace authgate::server
