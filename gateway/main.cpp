// authgate command line: run the gateway, check or dump a config, mint a token, explain a
// request, probe a health endpoint.
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/version.hpp>
#include <openssl/crypto.h>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "cli/command_line.h"
#include "config/dump.h"
#include "jwt/token_command.h"
#include "observe/access_log.h"
#include "proxy/snapshot.h"
#include "server/explain.h"
#include "server/health.h"
#include "server/server.h"

namespace {

constexpr std::string_view kUsage = R"(authgate — reverse-proxy authentication gateway (JWT + CORS at the edge)

Usage:
  authgate -c FILE                 run in the foreground (also --config FILE, --config=FILE, -cFILE)
  authgate -c FILE --check         validate: prints "FILE: OK" (exit 0) or every error as FILE:LINE:COL: message (exit 1)
  authgate -c FILE --dump-config   print the effective configuration as YAML after ${VAR}/${VAR:-default} expansion
                                   and defaults applied, every secret value masked as "<redacted>" (exit 0; exit 1 if
                                   the config is invalid, with the same errors as --check)
  authgate token --alg ALG (--secret S | --secret-file FILE | --secret-env VAR | --key PRIVATE.pem) [--kid K] [--iss I]
                 [--aud A] [--sub S] [--ttl 1h] [--claim name=value ...] [--claim-json name=JSON ...]
                                   print a signed token for trying a deployment with curl
  authgate explain -c FILE [--method GET] --url /path?query [--header 'Name: value' ...] [--token T]
                                   without starting a server, print what the gateway would do with that request:
                                   route, CORS decision, every JWT check, the request forwarded upstream (or the
                                   gateway's answer) and the status (authgate explain --help for more)
  authgate health URL [--timeout 2s]   GET an http:// URL (e.g. http://127.0.0.1:9901/readyz): exit 0 on 2xx, 1
                                   otherwise (prints the status or the error on stderr); for container HEALTHCHECKs
                                   without curl
  authgate --version               version, OpenSSL and Boost versions
  authgate --help                  usage, signals and exit codes

Exit codes: 0 success; 1 invalid config / failed to start / token refused by explain / health check failed;
2 usage error (unknown or missing argument).

Signals: SIGHUP reload (bad config logged, old one kept; log.level and log.format also applied);
SIGTERM/SIGINT: /readyz 503 at once, keep accepting for server.timeouts.drain_delay, then stop accepting,
finish in-flight requests within server.timeouts.shutdown, exit 0.
)";

// Loads and compiles; prints every error and warning. Null on failure.
std::shared_ptr<const authgate::proxy::Snapshot> load(const std::string& path) {
    return authgate::proxy::load_snapshot(path, std::cerr);
}

// Loads and compiles with every warning and error sent through the application log, one
// record each (FILE:LINE:COL: message), so `log.format: json` gets JSON lines only: the
// log is configured once a config has been read, and a reload has one. Null on failure.
std::shared_ptr<const authgate::proxy::Snapshot> load_logged(const std::string& path) {
    authgate::config::Diagnostics diag;
    auto snap = authgate::proxy::load_snapshot(path, diag);
    for (const auto& w : diag.warnings()) spdlog::warn("{}", w);
    for (const auto& e : diag.errors()) spdlog::error("{}", e);
    return snap;
}

int run(const std::string& path) {
    // The first load prints plainly when it fails: no log format is known without a config.
    authgate::config::Diagnostics diag;
    auto snap = authgate::proxy::load_snapshot(path, diag);
    if (!snap) {
        for (const auto& w : diag.warnings()) std::cerr << w << " (warning)\n";
        for (const auto& e : diag.errors()) std::cerr << e << "\n";
        return 1;
    }
    if (!authgate::observe::configure_app_log(snap->cfg.log.level, snap->cfg.log.format)) return 1;
    for (const auto& w : diag.warnings()) spdlog::warn("{}", w);
    std::unique_ptr<authgate::server::Server> server;
    try {
        server = std::make_unique<authgate::server::Server>(snap);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    // Handlers first: a signal that arrives once the process has announced itself must
    // never meet the default action (SIGHUP would kill it).
    boost::asio::io_context control;
    boost::asio::signal_set stop_signals(control, SIGTERM, SIGINT);
    boost::asio::signal_set reload_signal(control, SIGHUP);
    stop_signals.async_wait([&](boost::system::error_code ec, int sig) {
        if (ec) return;
        spdlog::info("signal {}: not ready; draining in server.timeouts.drain_delay, then stopping", sig);
        server->stop();
        reload_signal.cancel();
    });
    std::function<void()> wait_reload = [&] {
        reload_signal.async_wait([&](boost::system::error_code ec, int) {
            if (ec) return;
            // Reading files and compiling happen here, off the workers' threads.
            if (auto next = load_logged(path)) {
                // log.level and log.format first, so what the new config's JWKS fetcher
                // logs is already in them; the access log follows at each worker's next line.
                authgate::observe::reconfigure_app_log(next->cfg.log.level, next->cfg.log.format);
                server->reload(next);
                spdlog::info("configuration reloaded from {}", path);
            } else {
                spdlog::error("reload of {} failed; keeping the running configuration", path);
                server->reload_failed();
            }
            wait_reload();
        });
    };
    wait_reload();

    server->start();
    std::string addrs;
    auto ports = server->ports();
    for (std::size_t i = 0; i < ports.size(); ++i) {
        addrs += (i ? ", " : "") + snap->cfg.server.listen[i].host + ":" + std::to_string(ports[i]);
    }
    spdlog::info("authgate {} listening on {} ({} routes)", AUTHGATE_VERSION, addrs, snap->routes.size());
    if (auto admin = server->admin_port())
        spdlog::info("admin listener on {}:{} (/healthz, /readyz, /metrics)", snap->cfg.admin->listen.host, *admin);
    control.run();
    server->wait();
    spdlog::info("stopped");
    spdlog::shutdown();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    const std::string_view sub = argc >= 2 ? argv[1] : "";
    if (sub == "token") return authgate::jwt::token_command(argc - 1, argv + 1);
    if (sub == "explain") {
        // Warnings only (a JWKS fetch that failed says why), on stderr: stdout is the report.
        authgate::observe::configure_app_log("warn", "text");
        return authgate::server::explain_command(argc - 1, argv + 1, std::cout, std::cerr);
    }
    if (sub == "health") return authgate::server::health_command(argc - 1, argv + 1, std::cout, std::cerr);

    namespace po = authgate::cli::po;
    const authgate::cli::Command command{"authgate", kUsage};
    po::options_description options;
    options.add_options()
        ("config,c", po::value<std::string>())
        ("check", po::bool_switch())
        ("dump-config", po::bool_switch())
        ("version", po::bool_switch())
        ("help,h", po::bool_switch());
    auto args = authgate::cli::parse(argc, argv, options, command, std::cerr);
    if (!args) return authgate::cli::kUsage;
    const auto flag = [&](const char* name) { return args->values[name].as<bool>(); };
    if (flag("help")) {
        std::cout << kUsage;
        return 0;
    }
    if (flag("version")) {
        // The libraries that decide TLS and parsing behaviour, as linked (OpenSSL) or
        // built against (Boost): what a bug report needs.
        std::cout << "authgate " << AUTHGATE_VERSION << "\n"
                  << OpenSSL_version(OPENSSL_VERSION) << "\n"
                  << "Boost " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "."
                  << BOOST_VERSION % 100 << "\n";
        return 0;
    }
    const std::string config = args->text("config");
    if (config.empty()) return authgate::cli::usage_error(std::cerr, command, "no config file given (-c FILE)");
    if (flag("check") && flag("dump-config"))
        return authgate::cli::usage_error(std::cerr, command, "--check and --dump-config: give one");
    if (flag("check") || flag("dump-config")) {
        const auto snap = load(config);
        if (!snap) return authgate::cli::kFailure;
        if (flag("check"))
            std::cout << config << ": OK\n";
        else
            std::cout << authgate::config::dump_yaml(snap->cfg);
        return 0;
    }
    return run(config);
}
