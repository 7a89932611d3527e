// TLS both ways: the gateway terminating TLS for clients, and the gateway as a verifying
// TLS client of an https upstream. Certificates are made in the test with OpenSSL.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <gtest/gtest.h>

#include "support/harness.h"

namespace authgate::test {
namespace {
namespace fs = std::filesystem;
namespace ssl = boost::asio::ssl;

// A self-signed certificate for "localhost" and 127.0.0.1, written as PEM files.
struct SelfSigned {
    fs::path dir, cert, key;
    explicit SelfSigned(const std::string& cn) {
        dir = fs::temp_directory_path() / ("authgate-tls-" + std::to_string(::getpid()) + "-" + cn);
        fs::create_directories(dir);
        cert = dir / "cert.pem";
        key = dir / "key.pem";
        EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        X509* x = X509_new();
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), -60);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, pkey);
        X509_NAME* name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                   -1, 0);
        X509_set_issuer_name(x, name);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
        for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                                  std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
            X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
            X509_add_ext(x, ext, -1);
            X509_EXTENSION_free(ext);
        }
        X509_sign(x, pkey, EVP_sha256());
        FILE* f = std::fopen(cert.c_str(), "w");
        PEM_write_X509(f, x);
        std::fclose(f);
        f = std::fopen(key.c_str(), "w");
        PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
        std::fclose(f);
        X509_free(x);
        EVP_PKEY_free(pkey);
    }
    ~SelfSigned() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

class TlsTest : public ::testing::Test {
protected:
    Backend backend;
    SelfSigned server_cert{"localhost"};
    SelfSigned other_cert{"other"};

    // Gateway terminating TLS in front of the backend.
    std::unique_ptr<Gateway> tls_gateway() {
        auto cfg = base_config(backend.port());
        cfg.server.tls = config::ServerTls{server_cert.cert.string(), server_cert.key.string()};
        cfg.routes = {route("all", "/")};
        return std::make_unique<Gateway>(cfg);
    }
    // Plain gateway whose upstream is https://127.0.0.1:port.
    std::unique_ptr<Gateway> tls_client_gateway(std::uint16_t port, const std::string& ca_file,
                                                const std::string& server_name) {
        auto cfg = base_config(backend.port());
        cfg.upstreams[0].endpoints = {{"https", "127.0.0.1", port}};
        cfg.upstreams[0].tls.ca_file = ca_file;
        cfg.upstreams[0].tls.server_name = server_name;
        cfg.routes = {route("all", "/")};
        return std::make_unique<Gateway>(cfg);
    }
};

TEST_F(TlsTest, TerminatesTlsAndForwardsProtoHttps) {
    auto gw = tls_gateway();
    boost::asio::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(server_cert.cert.string());
    ctx.set_verify_mode(ssl::verify_peer);
    boost::beast::ssl_stream<tcp::socket> s(ioc, ctx);
    SSL_set_tlsext_host_name(s.native_handle(), "localhost");
    s.set_verify_callback(ssl::host_name_verification("localhost"));
    s.next_layer().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), gw->port()));
    s.handshake(ssl::stream_base::client);
    boost::beast::flat_buffer buf;
    for (int i = 0; i < 3; ++i) {  // keep-alive over TLS
        http::request<http::empty_body> req{http::verb::get, "/tls/" + std::to_string(i), 11};
        req.set(http::field::host, "localhost");
        http::write(s, req);
        http::response<http::string_body> res;
        http::read(s, buf, res);
        EXPECT_EQ(res.result_int(), 200u);
        EXPECT_EQ(echoed_header(res.body(), "X-Forwarded-Proto"), "https");
        EXPECT_EQ(echoed_field(res.body(), "path"), "/tls/" + std::to_string(i));
    }
}

TEST_F(TlsTest, HttpsUpstreamVerifiedAgainstCaFile) {
    auto front = tls_gateway();
    auto gw = tls_client_gateway(front->port(), server_cert.cert.string(), "localhost");
    Client c(gw->port());
    auto r = c.request("GET", "/through/tls");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(echoed_field(r->body, "path"), "/through/tls");
    // The second request rides the pooled TLS connection.
    auto r2 = c.request("GET", "/again");
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->status, 200u);
}

TEST_F(TlsTest, UpstreamWithUntrustedCertificateIs502) {
    auto front = tls_gateway();
    auto gw = tls_client_gateway(front->port(), other_cert.cert.string(), "localhost");
    Client c(gw->port());
    auto r = c.request("GET", "/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502u);
    EXPECT_EQ(backend.requests(), 0u);
}

TEST_F(TlsTest, UpstreamWithWrongNameIs502) {
    auto front = tls_gateway();
    auto gw = tls_client_gateway(front->port(), server_cert.cert.string(), "api.example.com");
    Client c(gw->port());
    auto r = c.request("GET", "/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502u);
}

TEST_F(TlsTest, PlainTextToTlsListenerIsDropped) {
    auto gw = tls_gateway();
    Client c(gw->port(), std::chrono::seconds(5));
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_FALSE(c.read_response());
    EXPECT_EQ(backend.requests(), 0u);
}

}  // namespace
}  // namespace authgate::test
