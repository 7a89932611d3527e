#include "support/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <stdexcept>

namespace authgate::test {
namespace asio = boost::asio;
using namespace std::chrono_literals;

ChildProcess::ChildProcess(const std::vector<std::string>& argv, std::chrono::milliseconds wait_for_line) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        ::close(fds[0]);
        ::close(fds[1]);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
    ::fcntl(out_fd_, F_SETFL, ::fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
    auto deadline = std::chrono::steady_clock::now() + wait_for_line;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{out_fd_, POLLIN, 0};
        ::poll(&p, 1, 100);
        char buf[4096];
        ssize_t n = ::read(out_fd_, buf, sizeof buf);
        if (n > 0) pending_.append(buf, static_cast<std::size_t>(n));
        auto nl = pending_.find('\n');
        if (nl != std::string::npos) {
            first_line_ = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            return;
        }
        if (n == 0) break;
    }
    throw std::runtime_error("child " + argv[0] + " printed no line in time: " + pending_);
}

std::string ChildProcess::drain_output() {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(out_fd_, buf, sizeof buf);
        if (n <= 0) break;
        pending_.append(buf, static_cast<std::size_t>(n));
    }
    return pending_;
}

int ChildProcess::signal_and_wait(int sig, std::chrono::milliseconds limit) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        pollfd p{out_fd_, POLLIN, 0};
        ::poll(&p, 1, 20);  // bounded wait on the child's output, not a sleep for sync
        drain_output();
    }
    return -1;
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && signal_and_wait(SIGTERM, 5s) < 0 && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
}

Backend::Backend() {
    proc_ = std::make_unique<ChildProcess>(std::vector<std::string>{AUTHGATE_DEMO_BACKEND, "--port", "0"});
    auto colon = proc_->first_line().rfind(':');
    port_ = static_cast<std::uint16_t>(std::stoi(proc_->first_line().substr(colon + 1)));
}

std::uint64_t Backend::requests() {
    Client c(port_);
    auto r = c.request("GET", "/__stats");
    if (!r) return ~0ull;
    return boost::json::parse(r->body).at("requests").to_number<std::uint64_t>();
}

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
    const auto dir = std::filesystem::temp_directory_path() / ("authgate-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto path = dir / name;
    std::ofstream(path) << text;
    return path;
}

std::uint16_t dead_port() {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

config::Config base_config(std::uint16_t backend_port, unsigned workers) {
    config::Config cfg;
    cfg.file = "test.yaml";
    cfg.server.listen = {{"127.0.0.1", 0}};
    cfg.server.workers = workers;
    cfg.server.timeouts.header = 2s;
    cfg.server.timeouts.idle = 5s;
    cfg.server.timeouts.upstream_connect = 1s;
    cfg.server.timeouts.upstream_response = 2s;
    cfg.server.timeouts.shutdown = 3s;
    cfg.log.access_log = true;
    config::Upstream up;
    up.name = "backend";
    up.endpoints.push_back({"http", "127.0.0.1", backend_port});
    cfg.upstreams.push_back(up);
    return cfg;
}

config::Route route(std::string name, std::string path_prefix, std::string upstream) {
    config::Route r;
    r.name = std::move(name);
    r.match.path_prefix = std::move(path_prefix);
    r.upstream = std::move(upstream);
    return r;
}

config::JwtProvider hs256_provider(std::string name, std::string secret) {
    config::JwtProvider p;
    p.name = std::move(name);
    p.algorithms = {"HS256"};
    p.keys.secret = std::move(secret);
    p.forward_claims = {{"sub", "X-User-Id"}};
    return p;
}

config::JwtProvider unreachable_jwks_provider(std::string name) {
    config::JwtProvider p;
    p.name = std::move(name);
    p.algorithms = {"RS256"};
    p.keys.jwks_url = "http://127.0.0.1:" + std::to_string(dead_port()) + "/.well-known/jwks.json";
    return p;
}

Gateway::Gateway(config::Config cfg, int access_log_fd) {
    config::Diagnostics diag;
    snap_ = proxy::Snapshot::compile(std::move(cfg), diag);
    if (!snap_) {
        std::string all;
        for (const auto& e : diag.errors()) all += e + "\n";
        throw std::runtime_error("config does not compile:\n" + all);
    }
    static int devnull = ::open("/dev/null", O_WRONLY);
    server::ServerOptions opts;
    opts.access_log_fd = access_log_fd >= 0 ? access_log_fd : devnull;
    server_ = std::make_unique<server::Server>(snap_, opts);
    server_->start();
    port_ = server_->ports().at(0);
}

Gateway::~Gateway() {
    server_->shutdown();
    server_->wait();
}

Client::Client(std::uint16_t port, std::chrono::milliseconds timeout) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    // Kernel-level timeouts bound every blocking read and write.
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void Client::send(std::string_view bytes) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
}

std::optional<Response> Client::read_response(bool head) {
    http::response_parser<http::string_body> p;
    p.body_limit(512 * 1024 * 1024);
    if (head) p.skip(true);
    boost::system::error_code ec;
    http::read(socket_, buffer_, p, ec);
    if (ec) return std::nullopt;
    Response r;
    auto msg = p.release();
    r.status = msg.result_int();
    r.keep_alive = msg.keep_alive();
    for (const auto& f : msg) r.headers.insert(f.name_string(), f.value());
    r.body = std::move(msg.body());
    return r;
}

std::optional<Response> Client::request(std::string_view method, std::string_view target,
                                        const std::vector<std::pair<std::string, std::string>>& headers,
                                        std::string_view body) {
    std::string raw;
    raw += method;
    raw += ' ';
    raw += target;
    raw += " HTTP/1.1\r\n";
    bool has_host = false;
    for (const auto& [n, v] : headers) {
        if (boost::beast::iequals(n, "host")) has_host = true;
        raw += n + ": " + v + "\r\n";
    }
    if (!has_host) raw += "Host: gateway.test\r\n";
    if (!body.empty()) raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    raw += "\r\n";
    raw += body;
    send(raw);
    return read_response(method == "HEAD");
}

bool Client::closed_by_peer() {
    char byte;
    boost::system::error_code ec;
    if (buffer_.size() > 0) return false;
    socket_.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
}

std::optional<std::string> echoed_header(const std::string& json_body, std::string_view name) {
    boost::system::error_code ec;
    auto v = boost::json::parse(json_body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* headers = v.as_object().if_contains("headers");
    if (!headers || !headers->is_object()) return std::nullopt;
    for (const auto& kv : headers->as_object()) {
        if (boost::beast::iequals(std::string_view(kv.key().data(), kv.key().size()), name))
            return std::string(kv.value().as_string().c_str());
    }
    return std::nullopt;
}

std::string echoed_field(const std::string& json_body, std::string_view field) {
    boost::system::error_code ec;
    auto v = boost::json::parse(json_body, ec);
    if (ec || !v.is_object()) return {};
    const auto* f = v.as_object().if_contains(field);
    if (!f) return {};
    if (f->is_string()) return std::string(f->as_string().c_str());
    return boost::json::serialize(*f);
}

}  // namespace authgate::test
