// The `admin:` listener: GET/HEAD /healthz, /readyz and /metrics over plain HTTP/1.1.
// Never proxied, never routed: it knows three paths and nothing of the config's routes.
//
// It runs on its own thread and io_context rather than on a worker: a scrape sums every
// worker's counters and renders text, which must never delay a proxied request queued on
// that worker's loop, and readiness has to answer while the workers drain after SIGTERM.
// The thread sleeps in epoll between scrapes, so it costs nothing when idle. The workers
// never wait on it: it only reads atomics and the snapshot pointer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"

namespace authgate::server {

class AdminServer {
public:
    struct Readiness {
        bool ready = true;
        std::string reason;  // why not, for the body
        std::string note;    // while ready: what is worth knowing (e.g. serving cached keys)
    };
    struct Handlers {
        std::function<Readiness()> readiness;
        std::function<std::string()> metrics;  // Prometheus text
    };
    struct Options {
        std::chrono::milliseconds header_timeout{10000};  // to receive a whole request header
        std::chrono::milliseconds idle_timeout{60000};    // keep-alive idle between requests
        std::size_t max_connections = 64;                 // more are closed at once
    };

    // Binds (throws std::runtime_error naming the address on failure); serves after start().
    AdminServer(const config::ListenAddress& listen, Handlers handlers, Options options);
    ~AdminServer();  // stop()
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    std::uint16_t port() const;
    void start();  // starts the thread
    void stop();   // closes the listener and every admin connection, joins; idempotent

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace authgate::server
