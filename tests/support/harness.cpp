#include "support/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <cerrno>
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


// ---- RawUpstream ------------------------------------------------------------------------

namespace {

bool ieq(std::string_view a, std::string_view b) { return boost::beast::iequals(a, b); }

std::string_view trim_ows(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

// Header lines "Name: value" between `from` and `to` (CRLF separated, no empty line).
bool parse_fields(std::string_view block, std::vector<std::pair<std::string, std::string>>& out) {
    while (!block.empty()) {
        auto eol = block.find("\r\n");
        std::string_view line = block.substr(0, eol);
        block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return false;
        std::string_view name = line.substr(0, colon);
        if (name.find_first_of(" \t") != std::string_view::npos) return false;
        out.emplace_back(std::string(name), std::string(trim_ows(line.substr(colon + 1))));
    }
    return true;
}

enum class Parse { complete, need_more, malformed };

// One request from the front of `buf`: strict, byte-exact, no Beast.
Parse parse_request(std::string_view buf, RawRequest& out, std::size_t& consumed) {
    auto end = buf.find("\r\n\r\n");
    if (end == std::string_view::npos) return buf.size() > (8u << 20) ? Parse::malformed : Parse::need_more;
    RawRequest r;
    r.head = std::string(buf.substr(0, end + 4));
    std::string_view head = buf.substr(0, end + 2);  // every line ends with CRLF
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) return Parse::malformed;
    r.method = std::string(line.substr(0, sp1));
    r.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    r.version = std::string(line.substr(sp2 + 1));
    std::string_view fields = head.substr(eol + 2);
    if (!fields.empty()) fields.remove_suffix(2);  // the last CRLF
    if (!parse_fields(fields, r.headers)) return Parse::malformed;

    std::size_t pos = end + 4;
    std::optional<std::uint64_t> length;
    for (const auto& [n, v] : r.headers) {
        if (ieq(n, "transfer-encoding")) {
            auto last = v.rfind(',');
            r.chunked = ieq(trim_ows(last == std::string::npos ? std::string_view(v) : std::string_view(v).substr(last + 1)),
                            "chunked");
            if (!r.chunked) return Parse::malformed;
        } else if (ieq(n, "content-length")) {
            if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 15) return Parse::malformed;
            auto value = std::stoull(v);
            if (length && *length != value) return Parse::malformed;
            length = value;
        }
    }
    if (r.chunked) {
        for (;;) {
            auto crlf = buf.find("\r\n", pos);
            if (crlf == std::string_view::npos) return buf.size() - pos > (1u << 20) ? Parse::malformed : Parse::need_more;
            std::string_view size_line = buf.substr(pos, crlf - pos);
            auto digits = size_line.substr(0, size_line.find_first_of("; \t"));
            if (digits.empty() || digits.size() > 15 || digits.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos)
                return Parse::malformed;
            std::uint64_t size = std::stoull(std::string(digits), nullptr, 16);
            pos = crlf + 2;
            if (size == 0) {
                for (;;) {  // trailer section, up to the empty line
                    auto t = buf.find("\r\n", pos);
                    if (t == std::string_view::npos) return Parse::need_more;
                    if (t == pos) {
                        pos += 2;
                        break;
                    }
                    if (!parse_fields(buf.substr(pos, t - pos), r.trailers)) return Parse::malformed;
                    pos = t + 2;
                }
                break;
            }
            if (buf.size() < pos + size + 2) return Parse::need_more;
            if (buf.substr(pos + size, 2) != "\r\n") return Parse::malformed;
            r.body.append(buf.substr(pos, size));
            pos += size + 2;
        }
    } else if (length) {
        if (buf.size() < pos + *length) return Parse::need_more;
        r.body = std::string(buf.substr(pos, *length));
        pos += *length;
    }
    r.wire = std::string(buf.substr(0, pos));
    consumed = pos;
    out = std::move(r);
    return Parse::complete;
}

}  // namespace

std::size_t RawRequest::count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& h : headers) n += ieq(h.first, name) ? 1 : 0;
    return n;
}

std::optional<std::string> RawRequest::header(std::string_view name) const {
    for (const auto& h : headers)
        if (ieq(h.first, name)) return h.second;
    return std::nullopt;
}

RawUpstream::RawUpstream() : responder_(&RawUpstream::echo) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error("bind/listen failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

RawUpstream::~RawUpstream() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : threads_)  // no new threads once the acceptor has stopped
        if (t.joinable()) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
}

void RawUpstream::respond_with(Responder r) {
    std::lock_guard lock(mu_);
    responder_ = std::move(r);
}

std::string RawUpstream::response(std::string body, std::string extra_headers, std::string status) {
    return "HTTP/1.1 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n" + extra_headers + "\r\n" + body;
}

RawReply RawUpstream::echo(const RawRequest& r, std::size_t conn, std::size_t nth) {
    std::string body = "conn=" + std::to_string(conn) + " req=" + std::to_string(nth) + " " + r.method + " " + r.target;
    if (r.method == "HEAD") {
        return {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n"};
    }
    return {response(std::move(body))};
}

void RawUpstream::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lock(mu_);
        std::size_t index = conns_.size();
        conns_.emplace_back();
        conns_.back().index = index;
        fds_.push_back(fd);
        threads_.emplace_back([this, fd, index] { serve(fd, index); });
        cv_.notify_all();
    }
}

void RawUpstream::serve(int fd, std::size_t index) {
    bool parsing = true;
    std::string unparsed;
    while (!stop_) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        char buf[65536];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        std::vector<std::pair<RawRequest, std::size_t>> ready;
        Responder responder;
        {
            std::lock_guard lock(mu_);
            auto& c = conns_[index];
            if (n <= 0) {
                c.eof = true;
                cv_.notify_all();
                return;
            }
            c.received.append(buf, static_cast<std::size_t>(n));
            unparsed.append(buf, static_cast<std::size_t>(n));
            while (parsing) {
                RawRequest r;
                std::size_t used = 0;
                auto res = parse_request(unparsed, r, used);
                if (res == Parse::need_more) break;
                if (res == Parse::malformed) {
                    c.malformed = true;
                    parsing = false;
                    break;
                }
                unparsed.erase(0, used);
                c.requests.push_back(r);
                ready.emplace_back(std::move(r), c.requests.size() - 1);
            }
            c.pending = unparsed;
            responder = responder_;
            cv_.notify_all();
        }
        for (const auto& [req, nth] : ready) {
            RawReply reply = responder(req, index, nth);
            std::string_view out = reply.bytes;
            while (!out.empty()) {
                ssize_t w = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
                if (w <= 0) break;
                out.remove_prefix(static_cast<std::size_t>(w));
            }
            if (reply.close) {
                ::shutdown(fd, SHUT_WR);
                parsing = false;
            }
        }
    }
}

std::size_t RawUpstream::accepted() const {
    std::lock_guard lock(mu_);
    return conns_.size();
}

std::size_t RawUpstream::requests() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& c : conns_) n += c.requests.size();
    return n;
}

std::size_t RawUpstream::bytes_received() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& c : conns_) n += c.received.size();
    return n;
}

std::vector<RawConnection> RawUpstream::connections() const {
    std::lock_guard lock(mu_);
    return conns_;
}

std::vector<RawRequest> RawUpstream::all_requests() const {
    std::lock_guard lock(mu_);
    std::vector<RawRequest> out;
    for (const auto& c : conns_) out.insert(out.end(), c.requests.begin(), c.requests.end());
    return out;
}

bool RawUpstream::wait_until(const std::function<bool(const std::vector<RawConnection>&)>& pred,
                             std::chrono::milliseconds limit) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return pred(conns_); });
}

bool RawUpstream::wait_all_closed(std::chrono::milliseconds limit) const {
    return wait_until(
        [](const std::vector<RawConnection>& cs) {
            for (const auto& c : cs)
                if (!c.eof) return false;
            return true;
        },
        limit);
}

}  // namespace authgate::test
