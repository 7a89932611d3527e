// Integration-test harness: a real backend process, an in-process gateway on an ephemeral
// loopback port, and a raw HTTP client with bounded waits (no sleeps).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "config/config.h"
#include "proxy/snapshot.h"
#include "server/server.h"

namespace authgate::test {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// A child process whose stdout first line is read (e.g. "listening on 127.0.0.1:PORT").
// Stopped with SIGTERM (then SIGKILL after a bounded wait) by its PID in the destructor.
class ChildProcess {
public:
    ChildProcess(const std::vector<std::string>& argv, std::chrono::milliseconds wait_for_line = std::chrono::seconds(10));
    ~ChildProcess();
    const std::string& first_line() const { return first_line_; }
    pid_t pid() const { return pid_; }
    // Sends a signal and waits (bounded) for exit; returns the exit status or -1.
    int signal_and_wait(int sig, std::chrono::milliseconds limit);
    // Reads the rest of stdout+stderr so far (non-blocking).
    std::string drain_output();

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::string first_line_;
    std::string pending_;
};

// The demo backend as a real process on an ephemeral port.
class Backend {
public:
    Backend();
    std::uint16_t port() const { return port_; }
    std::uint64_t requests();  // via GET /__stats
    ChildProcess& process() { return *proc_; }

private:
    std::unique_ptr<ChildProcess> proc_;
    std::uint16_t port_ = 0;
};

// A loopback port nothing listens on (bound, read, closed).
std::uint16_t dead_port();

// Writes `text` to a file `name` in a per-process temp directory; returns its path.
std::filesystem::path write_temp(const std::string& name, const std::string& text);

// A minimal config: one listener on 127.0.0.1:0, one upstream, routes added by the test.
config::Config base_config(std::uint16_t backend_port, unsigned workers = 1);
config::Route route(std::string name, std::string path_prefix, std::string upstream = "backend");
// An HS256 provider with `secret` that forwards `sub` as X-User-Id.
config::JwtProvider hs256_provider(std::string name, std::string secret);
// An RS256 provider whose jwks_url is a loopback port nothing listens on: it never has keys.
config::JwtProvider unreachable_jwks_provider(std::string name);

// The gateway in-process.
class Gateway {
public:
    // access_log_fd: where access-log lines go (-1 = /dev/null).
    explicit Gateway(config::Config cfg, int access_log_fd = -1);
    ~Gateway();
    std::uint16_t port() const { return port_; }
    server::Server& server() { return *server_; }
    std::shared_ptr<const proxy::Snapshot> snapshot() const { return snap_; }

private:
    std::shared_ptr<const proxy::Snapshot> snap_;
    std::unique_ptr<server::Server> server_;
    std::uint16_t port_ = 0;
};

// Base fixture: a backend process, a config aimed at it, and the gateway started on first
// use of gw(), so each test can adjust `cfg` before that.
class GatewayTest : public ::testing::Test {
protected:
    Gateway& gw() {
        if (!gateway) gateway = std::make_unique<Gateway>(cfg);
        return *gateway;
    }
    Backend backend;
    config::Config cfg = base_config(backend.port());
    std::unique_ptr<Gateway> gateway;
};

struct Response {
    unsigned status = 0;
    http::fields headers;
    std::string body;
    bool keep_alive = true;
    std::string header(std::string_view name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : std::string(it->value());
    }
    std::size_t count(std::string_view name) const { return headers.count(name); }
};

// A blocking client on one connection, every read bounded by a timeout.
class Client {
public:
    explicit Client(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Sends raw bytes.
    void send(std::string_view bytes);
    // Reads one response (nullopt on timeout/close/parse error). head: response to HEAD.
    std::optional<Response> read_response(bool head = false);
    // Convenience: a GET/POST... with headers; returns the response.
    std::optional<Response> request(std::string_view method, std::string_view target,
                                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                                    std::string_view body = {});
    // True when the server closed the connection (read returns EOF within the timeout).
    bool closed_by_peer();
    tcp::socket& socket() { return socket_; }
    boost::beast::flat_buffer& buffer() { return buffer_; }

private:
    boost::asio::io_context ioc_;
    tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
};

// Reads the body of a JSON echo from the demo backend: value of a received header
// (case-insensitive name), or nullopt.
std::optional<std::string> echoed_header(const std::string& json_body, std::string_view name);
std::string echoed_field(const std::string& json_body, std::string_view field);  // "path", "method", ...


// ---------------------------------------------------------------------------------------
// A raw recording upstream for wire-level tests: a thread with a blocking acceptor on
// 127.0.0.1:0 and one thread per accepted connection. Every byte received is recorded per
// connection; a strict little reader (not Beast) splits the bytes into requests (head to
// CRLFCRLF, then Content-Length bytes or a chunked body up to and including its trailer
// section) and each complete request is answered with the bytes the responder returns.
// Reads poll with a short timeout so the destructor stops every thread promptly.
struct RawRequest {
    std::string method, target, version;
    std::vector<std::pair<std::string, std::string>> headers;   // as received, in order
    std::vector<std::pair<std::string, std::string>> trailers;  // chunked only
    std::string head;  // request line and header lines, with the final CRLFCRLF
    std::string wire;  // every byte of this request as received (head + framed body)
    std::string body;  // the body, de-chunked
    bool chunked = false;
    // Number of header lines with this name (case-insensitive).
    std::size_t count(std::string_view name) const;
    // Value of the first header line with this name, or nullopt.
    std::optional<std::string> header(std::string_view name) const;
};

struct RawConnection {
    std::size_t index = 0;          // accept order, from 0
    std::string received;           // every byte, in order
    std::vector<RawRequest> requests;  // complete requests
    std::string pending;            // bytes after the last complete request
    bool eof = false;               // the gateway closed (or reset) this connection
    bool malformed = false;         // bytes the strict reader refused
};

struct RawReply {
    std::string bytes;   // written as is, in one write
    bool close = false;  // shut down our sending side after writing (close-delimited body)
};

class RawUpstream {
public:
    // conn: index of the connection, nth: index of the request on that connection.
    using Responder = std::function<RawReply(const RawRequest&, std::size_t conn, std::size_t nth)>;
    RawUpstream();
    ~RawUpstream();
    RawUpstream(const RawUpstream&) = delete;
    RawUpstream& operator=(const RawUpstream&) = delete;

    std::uint16_t port() const { return port_; }
    void respond_with(Responder r);
    // The default answer: 200, text body "conn=C req=N METHOD TARGET" (no body to HEAD).
    static RawReply echo(const RawRequest& r, std::size_t conn, std::size_t nth);
    // "HTTP/1.1 <status>" with Content-Length and `extra_headers` ("Name: v\r\n" lines).
    static std::string response(std::string body, std::string extra_headers = {}, std::string status = "200 OK");

    std::size_t accepted() const;
    std::size_t requests() const;        // complete requests over all connections
    std::size_t bytes_received() const;  // over all connections
    std::vector<RawConnection> connections() const;  // a copy
    std::vector<RawRequest> all_requests() const;    // in connection, then arrival order
    // Waits (bounded) until pred holds over the connections; returns whether it did.
    bool wait_until(const std::function<bool(const std::vector<RawConnection>&)>& pred,
                    std::chrono::milliseconds limit) const;
    // Waits (bounded) until every accepted connection has seen EOF.
    bool wait_all_closed(std::chrono::milliseconds limit) const;

private:
    void accept_loop();
    void serve(int fd, std::size_t index);

    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    Responder responder_;
    std::vector<RawConnection> conns_;
    std::vector<int> fds_;
    std::vector<std::thread> threads_;
    std::thread acceptor_;
};

}  // namespace authgate::test
