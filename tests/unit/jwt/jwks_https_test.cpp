// The JWKS fetcher over https against a real TLS server on 127.0.0.1 (ephemeral port,
// in-process thread, plain OpenSSL). Certificates are made here: a test CA, server
// certificates it signs, and self-signed/foreign ones. The fetcher trusts the test CA the
// way production trusts the system store: set_default_verify_paths(), which reads
// SSL_CERT_FILE when the fetcher's TLS context is made (ProviderSet::start()).
// Synchronisation is by bounded waits on conditions, never by sleeping.
#include "jwt/jwks_fetcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "jwt/ossl.h"
#include "jwks_server.h"
#include "remote_provider_test.h"

namespace authgate::jwt {
namespace {
using namespace test;
using namespace std::chrono_literals;

using SslCtxPtr = std::shared_ptr<SSL_CTX>;
using SslPtr = std::unique_ptr<SSL, ossl::Deleter<SSL, SSL_free>>;

// A key and the certificate for it.
struct Identity {
    ossl::Pkey key;
    ossl::X509Ptr cert;

    std::string cert_pem() const {
        ossl::Bio bio(BIO_new(BIO_s_mem()));
        PEM_write_bio_X509(bio.get(), cert.get());
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(n));
    }
};

void add_ext(X509* x, X509V3_CTX& ctx, int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ASSERT_NE(ext, nullptr) << value;
    EXPECT_EQ(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

// A CA (is_ca, no SAN) or a server certificate with subjectAltName `san`; signed by
// `issuer`, or self-signed when issuer is null.
Identity make_identity(const std::string& cn, const char* san, const Identity* issuer, bool is_ca = false) {
    static long serial = 1;
    Identity id;
    id.key = ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    id.cert = ossl::X509Ptr(X509_new());
    EXPECT_TRUE(id.key && id.cert);
    X509* x = id.cert.get();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_set_pubkey(x, id.key.get());
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509* issuer_cert = issuer ? issuer->cert.get() : x;
    EVP_PKEY* signing_key = issuer ? issuer->key.get() : id.key.get();
    X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer_cert, x, nullptr, nullptr, 0);
    add_ext(x, ctx, NID_subject_key_identifier, "hash");
    if (issuer) add_ext(x, ctx, NID_authority_key_identifier, "keyid:always");
    if (is_ca) {
        add_ext(x, ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, ctx, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, ctx, NID_key_usage, "critical,digitalSignature");
        add_ext(x, ctx, NID_ext_key_usage, "serverAuth");
        add_ext(x, ctx, NID_subject_alt_name, san);
    }
    EXPECT_GT(X509_sign(x, signing_key, EVP_sha256()), 0);
    return id;
}

SslCtxPtr server_ctx(const Identity& id) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    EXPECT_TRUE(ctx);
    EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), id.cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), id.key.get()), 1);
    EXPECT_EQ(SSL_CTX_check_private_key(ctx.get()), 1);
    return ctx;
}

// Serves a JWKS over TLS, one connection at a time (and whatever else was set for other
// paths, as JwksServer does: an OpenID configuration document). Counts connections,
// completed handshakes and requests; remembers the SNI and Host of the last request.
class TlsJwksServer {
public:
    explicit TlsJwksServer(const Identity& id) : ctx_(server_ctx(id)) {}
    ~TlsJwksServer() { stop(); }

    void set_body(std::string body) { table_.set(kJwksPath, std::move(body)); }
    void set(const std::string& path, std::string body) { table_.set(path, std::move(body)); }
    // Later connections present this certificate.
    void set_identity(const Identity& id) {
        auto ctx = server_ctx(id);
        std::lock_guard lock(mu_);
        ctx_ = std::move(ctx);
    }
    int connections() const { return connections_.load(); }
    int handshakes() const { return handshakes_.load(); }
    int requests() const { return requests_.load(); }
    std::string last_sni() const {
        std::lock_guard lock(mu_);
        return sni_;
    }
    std::string last_host() const {
        std::lock_guard lock(mu_);
        return host_;
    }
    std::string url(const std::string& host, const std::string& path = kJwksPath) const {
        return "https://" + host + ":" + std::to_string(listener_.port()) + path;
    }
    std::uint16_t port() const { return listener_.port(); }
    void stop() { listener_.stop(); }

private:
    void accept_one(int c) {
        connections_.fetch_add(1);
        // Every blocking read/write below is bounded, so a stuck client cannot hang stop().
        timeval tv{2, 0};
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        serve(c);
        ERR_clear_error();  // the server thread's queue: failed handshakes leave entries
    }
    void serve(int c) {
        SslCtxPtr ctx;
        {
            std::lock_guard lock(mu_);
            ctx = ctx_;
        }
        SslPtr ssl(SSL_new(ctx.get()));
        if (!ssl || SSL_set_fd(ssl.get(), c) != 1) return;
        if (SSL_accept(ssl.get()) != 1) return;  // e.g. the client rejected our certificate
        handshakes_.fetch_add(1);
        const char* sni = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name);

        std::string req;
        char buf[2048];
        while (req.find("\r\n\r\n") == std::string::npos) {
            const int n = SSL_read(ssl.get(), buf, sizeof buf);
            if (n <= 0) return;
            req.append(buf, static_cast<std::size_t>(n));
        }
        EXPECT_EQ(req.rfind("GET /", 0), 0u) << req;
        std::string host;
        if (const auto at = req.find("\r\nHost: "); at != std::string::npos) {
            const auto from = at + 8;
            host = req.substr(from, req.find("\r\n", from) - from);
        }
        {
            std::lock_guard lock(mu_);
            sni_ = sni ? sni : "";
            host_ = host;
        }
        requests_.fetch_add(1);
        const auto [status, body] = table_.answer(req);
        const std::string res =
            "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        std::size_t off = 0;
        while (off < res.size()) {
            const int n = SSL_write(ssl.get(), res.data() + off, static_cast<int>(res.size() - off));
            if (n <= 0) return;
            off += static_cast<std::size_t>(n);
        }
        SSL_shutdown(ssl.get());  // close_notify; the client may already be gone (SIGPIPE ignored)
    }

    std::atomic<int> connections_{0};
    std::atomic<int> handshakes_{0};
    std::atomic<int> requests_{0};
    mutable std::mutex mu_;
    SslCtxPtr ctx_;
    ResponseTable table_;
    std::string sni_;
    std::string host_;
    LoopbackListener listener_{[this](int c) { accept_one(c); }};  // last: its thread uses the above
};

// Sets an environment variable for the scope, then puts back what was there.
class ScopedEnv {
public:
    explicit ScopedEnv(const char* name) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
    }
    ~ScopedEnv() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }
    void set(const std::string& value) { ::setenv(name_, value.c_str(), 1); }

private:
    const char* name_;
    std::optional<std::string> old_;
};

class HttpsFetcherTest : public RemoteProviderTest {
protected:
    static void SetUpTestSuite() {
        // A TLS peer that hangs up mid-write must give EPIPE, not kill the test binary.
        old_sigpipe_ = std::signal(SIGPIPE, SIG_IGN);
        ca_ = new Identity(make_identity("authgate test CA", nullptr, nullptr, true));
        other_ca_ = new Identity(make_identity("authgate other CA", nullptr, nullptr, true));
        ca_file_ = new TempFile(ca_->cert_pem());
        other_ca_file_ = new TempFile(other_ca_->cert_pem());
    }
    static void TearDownTestSuite() {
        delete other_ca_file_;
        delete ca_file_;
        delete other_ca_;
        delete ca_;
        std::signal(SIGPIPE, old_sigpipe_);
    }

    // Before start(): the fetcher's TLS context reads SSL_CERT_FILE when it is made.
    void trust(const TempFile& ca) { cert_file_.set(ca.path()); }
    void serve(const Identity& id, const std::string& body) {
        server_ = std::make_unique<TlsJwksServer>(id);
        server_->set_body(body);
    }
    // One fetch that must fail in the TLS handshake: the server saw the connection, the
    // client never sent a request, and the provider has no keys (503 semantics).
    void expect_handshake_rejected() {
        set_->start();
        ASSERT_TRUE(set_->wait_for_first_fetch(10s));
        const auto stats = provider_->jwks_stats();
        EXPECT_EQ(stats.successes, 0u);
        EXPECT_EQ(stats.failures, 1u);
        EXPECT_FALSE(provider_->ever_fetched());
        EXPECT_EQ(server_->connections(), 1);
        EXPECT_EQ(server_->requests(), 0);
        const auto out = call(rsa_token("k1"));
        EXPECT_EQ(out.action, AuthOutcome::Action::unavailable);
        EXPECT_EQ(out.status, Status::keys_unavailable);
    }
    void TearDown() override {
        RemoteProviderTest::TearDown();
        if (server_) server_->stop();
    }

    static inline void (*old_sigpipe_)(int) = nullptr;
    static inline Identity* ca_ = nullptr;
    static inline Identity* other_ca_ = nullptr;
    static inline TempFile* ca_file_ = nullptr;
    static inline TempFile* other_ca_file_ = nullptr;

    ScopedEnv cert_file_{"SSL_CERT_FILE"};  // restored after the fetcher stopped (TearDown)
    std::unique_ptr<TlsJwksServer> server_;
};

const std::string& jwks_k1() {
    static const std::string body = jwks_json({jwk_for("rsa", "k1")});
    return body;
}

TEST_F(HttpsFetcherTest, HostNameWithTrustedCa) {
    const Identity leaf = make_identity("localhost", "DNS:localhost,IP:127.0.0.1", ca_);
    serve(leaf, jwks_k1());
    trust(*ca_file_);
    make(server_->url("localhost"), 1h);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_EQ(provider_->jwks_stats().successes, 1u);
    EXPECT_EQ(provider_->jwks_stats().failures, 0u);
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
    EXPECT_EQ(server_->requests(), 1);
    EXPECT_EQ(server_->last_sni(), "localhost");  // SNI is sent for a host name
    EXPECT_EQ(server_->last_host(), "localhost:" + std::to_string(server_->port()));
}

TEST_F(HttpsFetcherTest, IpAddressWithTrustedCa) {
    const Identity leaf = make_identity("localhost", "DNS:localhost,IP:127.0.0.1", ca_);
    serve(leaf, jwks_k1());
    trust(*ca_file_);
    make(server_->url("127.0.0.1"), 1h);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_EQ(provider_->jwks_stats().successes, 1u);
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
    EXPECT_EQ(server_->requests(), 1);
    EXPECT_EQ(server_->last_sni(), "");  // RFC 6066: no SNI for an IP literal
}

TEST_F(HttpsFetcherTest, CertificateForAnotherHostIsRejected) {
    const Identity leaf = make_identity("other.example", "DNS:other.example", ca_);
    serve(leaf, jwks_k1());
    trust(*ca_file_);
    make(server_->url("localhost"), 1h);
    expect_handshake_rejected();
}

TEST_F(HttpsFetcherTest, CertificateWithoutTheIpIsRejected) {
    const Identity leaf = make_identity("localhost", "DNS:localhost", ca_);  // no IP SAN
    serve(leaf, jwks_k1());
    trust(*ca_file_);
    make(server_->url("127.0.0.1"), 1h);
    expect_handshake_rejected();
}

TEST_F(HttpsFetcherTest, SelfSignedCertificateIsRejected) {
    const Identity self_signed = make_identity("localhost", "DNS:localhost,IP:127.0.0.1", nullptr);
    serve(self_signed, jwks_k1());
    trust(*ca_file_);
    make(server_->url("localhost"), 1h);
    expect_handshake_rejected();
}

TEST_F(HttpsFetcherTest, CaNotInTrustStoreIsRejected) {
    // A correct certificate for localhost, but SSL_CERT_FILE names a different CA: what
    // made the other tests pass is the trust store, not a lax check.
    const Identity leaf = make_identity("localhost", "DNS:localhost,IP:127.0.0.1", ca_);
    serve(leaf, jwks_k1());
    trust(*other_ca_file_);
    make(server_->url("localhost"), 1h);
    expect_handshake_rejected();
}

TEST_F(HttpsFetcherTest, FailingRefreshKeepsLastGoodSetThenRecovers) {
    const Identity leaf = make_identity("localhost", "DNS:localhost,IP:127.0.0.1", ca_);
    const Identity wrong_host = make_identity("other.example", "DNS:other.example", ca_);
    serve(leaf, jwks_k1());
    trust(*ca_file_);
    make(server_->url("localhost"), 50ms);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    ASSERT_EQ(provider_->jwks_stats().successes, 1u);

    server_->set_identity(wrong_host);
    const auto before = provider_->jwks_stats();
    ASSERT_TRUE(eventually([&] { return provider_->jwks_stats().failures >= before.failures + 2; }));
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);  // last good set still serves

    server_->set_identity(leaf);
    const auto failed = provider_->jwks_stats();
    ASSERT_TRUE(eventually([&] { return provider_->jwks_stats().successes > failed.successes; }));
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
}

// OpenID discovery over TLS: the document and the jwks_uri it names, both verified
// against the test CA.
TEST_F(HttpsFetcherTest, DiscoveryOverTls) {
    const Identity leaf = make_identity("localhost", "DNS:localhost,IP:127.0.0.1", ca_);
    serve(leaf, jwks_k1());
    const std::string issuer = "https://localhost:" + std::to_string(server_->port());
    server_->set(kOpenIdConfigurationPath, openid_configuration(issuer, server_->url("localhost")));
    trust(*ca_file_);
    make(server_->url("localhost", kOpenIdConfigurationPath), 1h, [&](config::JwtProvider& c) {
        c.keys.jwks_url.reset();
        c.discovery = true;
        c.discovery_url = server_->url("localhost", kOpenIdConfigurationPath);
        c.issuers = {issuer};
    });
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    const auto stats = provider_->jwks_stats();
    EXPECT_EQ(stats.successes, 1u) << stats.last_error;
    EXPECT_EQ(stats.jwks_uri, server_->url("localhost"));
    EXPECT_EQ(server_->requests(), 2);  // the document, then the keys
    EXPECT_EQ(call(rsa_token_from(issuer, "k1")).status, Status::ok);
}

// An https document naming a plain-http jwks_uri would hand the keys to whoever sits on
// the path: refused, and the http URI never fetched.
TEST_F(HttpsFetcherTest, DiscoveryRefusesADowngradeToHttp) {
    JwksServer plain;
    plain.set_body(jwks_k1());
    const Identity leaf = make_identity("localhost", "DNS:localhost,IP:127.0.0.1", ca_);
    serve(leaf, jwks_k1());
    const std::string issuer = "https://localhost:" + std::to_string(server_->port());
    server_->set(kOpenIdConfigurationPath, openid_configuration(issuer, plain.url()));
    trust(*ca_file_);
    make(server_->url("localhost", kOpenIdConfigurationPath), 1h, [&](config::JwtProvider& c) {
        c.keys.jwks_url.reset();
        c.discovery = true;
        c.discovery_url = server_->url("localhost", kOpenIdConfigurationPath);
        c.issuers = {issuer};
    });
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_EQ(provider_->jwks_stats().failures, 1u);
    EXPECT_NE(provider_->jwks_stats().last_error.find("is plain http, but the document came over https"),
              std::string::npos);
    EXPECT_FALSE(provider_->ever_fetched());
    EXPECT_EQ(plain.requests(), 0);
    set_->stop();
    plain.stop();
}

}  // namespace
}  // namespace authgate::jwt
