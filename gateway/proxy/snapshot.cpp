#include "proxy/snapshot.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <ostream>

#include <openssl/ssl.h>

#include "config/loader.h"

namespace authgate::proxy {
namespace ssl = boost::asio::ssl;

Snapshot::Snapshot(config::Config c) : cfg(std::move(c)), router_(cfg.routes) {}
// Joins nothing: the server owns the JWKS fetchers, and a worker may drop the last reference.
Snapshot::~Snapshot() = default;

namespace {

std::shared_ptr<ssl::context> make_client_tls(const config::Upstream& up, config::Diagnostics& diag) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (!up.tls.verify) {
        ctx->set_verify_mode(ssl::verify_none);
        return ctx;
    }
    ctx->set_verify_mode(ssl::verify_peer);
    if (!up.tls.ca_file.empty()) {
        ctx->load_verify_file(up.tls.ca_file, ec);
        if (ec) diag.error(up.marks.at("tls.ca_file"), "cannot load CA file '" + up.tls.ca_file + "': " + ec.message());
    } else {
        ctx->set_default_verify_paths(ec);
        if (ec) diag.error(up.marks.self, "cannot load the system trust store: " + ec.message());
    }
    return ctx;
}

// With server.http2.enabled: ALPN picks h2 when the client offers it, else http/1.1.
void offer_h2_alpn(SSL_CTX* ctx) {
    SSL_CTX_set_alpn_select_cb(
        ctx,
        [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
           void*) -> int {
            static const unsigned char protos[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
            unsigned char* sel = nullptr;
            if (SSL_select_next_proto(&sel, outlen, protos, sizeof(protos), in, inlen) != OPENSSL_NPN_NEGOTIATED)
                return SSL_TLSEXT_ERR_NOACK;
            *out = sel;
            return SSL_TLSEXT_ERR_OK;
        },
        nullptr);
}

std::shared_ptr<ssl::context> make_server_tls(const config::ServerTls& tls, const config::Marks& marks,
                                              config::Diagnostics& diag) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) diag.error(marks.at("tls.cert_file"), "cannot load certificate '" + tls.cert_file + "': " + ec.message());
    ctx->use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) diag.error(marks.at("tls.key_file"), "cannot load private key '" + tls.key_file + "': " + ec.message());
    SSL_CTX_set_alpn_select_cb(
        ctx->native_handle(),
        [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
           void*) -> int {
            // We speak HTTP/1.1 only; pick it if offered so h2-first clients fall back.
            static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
            unsigned char* sel = nullptr;
            if (SSL_select_next_proto(&sel, outlen, http11, sizeof(http11), in, inlen) != OPENSSL_NPN_NEGOTIATED)
                return SSL_TLSEXT_ERR_NOACK;
            *out = sel;
            return SSL_TLSEXT_ERR_OK;
        },
        nullptr);
    return ctx;
}

}  // namespace

std::shared_ptr<const Snapshot> Snapshot::compile(config::Config cfg, config::Diagnostics& diag) {
    static std::atomic<std::uint64_t> next_id{1};
    std::shared_ptr<Snapshot> snap(new Snapshot(std::move(cfg)));
    snap->id = next_id.fetch_add(1);
    const config::Config& c = snap->cfg;

    if (c.server.tls) snap->server_tls = make_server_tls(*c.server.tls, c.server.marks, diag);
    if (snap->server_tls && c.server.http2.enabled) offer_h2_alpn(snap->server_tls->native_handle());

    for (const auto& up : c.upstreams) {
        UpstreamRuntime rt{&up, nullptr};
        bool any_tls = std::any_of(up.endpoints.begin(), up.endpoints.end(),
                                   [](const config::Endpoint& e) { return e.scheme == "https"; });
        if (any_tls) rt.tls = make_client_tls(up, diag);
        snap->upstreams.push_back(std::move(rt));
    }

    for (const auto& pc : c.cors.policies) {
        if (auto p = cors::Policy::create(pc, diag)) snap->cors_policies.push_back(std::move(p));
    }

    snap->providers = jwt::ProviderSet::create(c.jwt, diag);
    if (snap->providers) {
        snap->identity_headers = snap->providers->identity_headers();  // lower case already
    }
    for (const auto& p : c.jwt.providers) {
        for (const auto& src : p.token_from) {
            auto& names = snap->query_token_params;
            if (src.kind == config::TokenSource::Kind::query && !src.name.empty() &&
                std::find(names.begin(), names.end(), src.name) == names.end())
                names.push_back(src.name);
        }
    }

    for (const auto& r : c.routes) {
        RouteRuntime rt;
        rt.cfg = &r;
        // The loader checked both references (config/loader.cpp); a config built by hand
        // that breaks them compiles to nothing rather than to a route going nowhere.
        auto up = std::find_if(c.upstreams.begin(), c.upstreams.end(),
                               [&](const config::Upstream& u) { return u.name == r.upstream; });
        assert(up != c.upstreams.end() && "the loader checks route upstreams");
        if (up == c.upstreams.end()) return nullptr;
        rt.upstream = static_cast<std::size_t>(up - c.upstreams.begin());
        if (!r.cors.empty()) {
            auto it = std::find_if(snap->cors_policies.begin(), snap->cors_policies.end(),
                                   [&](const auto& p) { return p->name() == r.cors; });
            assert(it != snap->cors_policies.end() && "the loader checks route CORS policies");
            if (it == snap->cors_policies.end()) return nullptr;
            rt.cors = *it;
        }
        if (!r.auth.none && snap->providers) rt.auth = jwt::Authenticator::create(r.auth, *snap->providers);
        snap->routes.push_back(std::move(rt));
    }
    if (!diag.ok()) return nullptr;
    return snap;
}

std::shared_ptr<const Snapshot> load_snapshot(const std::string& path, config::Diagnostics& diag) {
    auto cfg = config::load_file(path, diag);
    std::shared_ptr<const Snapshot> snap;
    if (cfg) snap = Snapshot::compile(std::move(*cfg), diag);
    return diag.ok() ? snap : nullptr;
}

std::shared_ptr<const Snapshot> load_snapshot(const std::string& path, std::ostream& diagnostics) {
    config::Diagnostics diag;
    auto snap = load_snapshot(path, diag);
    for (const auto& w : diag.warnings()) diagnostics << w << " (warning)\n";
    for (const auto& e : diag.errors()) diagnostics << e << "\n";
    return snap;
}

}  // namespace authgate::proxy
