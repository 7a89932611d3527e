#include "jwt/key.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;

TEST(KeyPem, LoadsEverySupportedType) {
    struct Case {
        const char* which;
        KeyFamily family;
        Curve curve;
    } cases[] = {{"rsa", KeyFamily::rsa, Curve::none},
                 {"p256", KeyFamily::ec, Curve::p256},
                 {"p384", KeyFamily::ec, Curve::p384},
                 {"p521", KeyFamily::ec, Curve::p521},
                 {"ed25519", KeyFamily::okp, Curve::ed25519}};
    for (const auto& c : cases) {
        auto r = Key::from_public_pem(public_pem(pkey_for(c.which)));
        ASSERT_TRUE(r.key) << c.which << ": " << r.error;
        EXPECT_EQ(r.key->family(), c.family) << c.which;
        EXPECT_EQ(r.key->curve(), c.curve) << c.which;
        EXPECT_FALSE(r.key->has_kid());
    }
}

TEST(KeyPem, Compatibility) {
    auto p256 = Key::from_public_pem(public_pem(pkey_for("p256"))).key;
    EXPECT_TRUE(p256->compatible(Algorithm::ES256));
    EXPECT_FALSE(p256->compatible(Algorithm::ES384));
    EXPECT_FALSE(p256->compatible(Algorithm::RS256));
    EXPECT_FALSE(p256->compatible(Algorithm::HS256));
    auto rsa = Key::from_public_pem(public_pem(pkey_for("rsa"))).key;
    for (auto a : {Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS512})
        EXPECT_TRUE(rsa->compatible(a));
    EXPECT_FALSE(rsa->compatible(Algorithm::HS256));
    EXPECT_FALSE(rsa->compatible(Algorithm::EdDSA));
    auto secret = secret_key("s");
    EXPECT_TRUE(secret->compatible(Algorithm::HS512));
    EXPECT_FALSE(secret->compatible(Algorithm::RS256));
}

TEST(KeyPem, RefusesSmallRsaOtherCurvesPrivateKeysAndJunk) {
    auto small = Key::from_public_pem(public_pem(pkey_for("rsa1024")));
    EXPECT_FALSE(small.key);
    EXPECT_NE(small.error.find("2048"), std::string::npos) << small.error;
    EXPECT_FALSE(Key::from_public_pem(public_pem(pkey_for("secp256k1"))).key);
    EXPECT_FALSE(Key::from_public_pem(private_pem(pkey_for("rsa"))).key);
    EXPECT_FALSE(Key::from_public_pem("hello").key);
    EXPECT_FALSE(Key::from_public_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").key);
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(KeyPem, LoadsCertificatePublicKey) {
    EVP_PKEY* k = pkey_for("p256");
    ossl::X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), k);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("issuer"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    ASSERT_GT(X509_sign(cert.get(), k, EVP_sha256()), 0);
    ossl::Bio bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    auto r = Key::from_public_pem(std::string(data, static_cast<std::size_t>(n)));
    ASSERT_TRUE(r.key) << r.error;
    EXPECT_EQ(r.key->curve(), Curve::p256);
    // and it verifies what the private key signed
    const std::string token = sign_token(Algorithm::ES256, *private_key("p256"), claims());
    ParsedToken t;
    ASSERT_EQ(parse_token(token, t), Status::ok);
    EXPECT_TRUE(verify_signature(Algorithm::ES256, *r.key, t.signing_input, t.signature));
}

TEST(KeyPem, PrivatePemRoundTrip) {
    auto r = Key::from_private_pem(private_pem(pkey_for("ed25519")));
    ASSERT_TRUE(r.key) << r.error;
    EXPECT_EQ(r.key->family(), KeyFamily::okp);
}

TEST(KeySecret, EmptyRefused) { EXPECT_FALSE(Key::from_secret("").key); }

TEST(KeyJwk, BuildsEachTypeFromGeneratedKeys) {
    for (const char* which : {"rsa", "p256", "p384", "p521", "ed25519"}) {
        auto r = Key::from_jwk(jwk_for(which, std::string("kid-") + which));
        ASSERT_TRUE(r.key) << which << ": " << r.error;
        EXPECT_TRUE(r.key->has_kid());
        EXPECT_EQ(r.key->kid(), std::string("kid-") + which);
        // verifies what the matching private key signs
        const Algorithm alg = std::string(which) == "rsa"    ? Algorithm::RS256
                              : std::string(which) == "p256" ? Algorithm::ES256
                              : std::string(which) == "p384" ? Algorithm::ES384
                              : std::string(which) == "p521" ? Algorithm::ES512
                                                             : Algorithm::EdDSA;
        const std::string token = sign_token(alg, *private_key(which), claims());
        ParsedToken t;
        ASSERT_EQ(parse_token(token, t), Status::ok);
        EXPECT_TRUE(verify_signature(alg, *r.key, t.signing_input, t.signature)) << which;
    }
}

TEST(KeyJwk, OctAndPinnedAlg) {
    auto r = Key::from_jwk(boost::json::object{{"kty", "oct"}, {"k", base64url_encode("secret")}, {"alg", "HS384"}});
    ASSERT_TRUE(r.key) << r.error;
    EXPECT_EQ(r.key->secret(), "secret");
    EXPECT_TRUE(r.key->compatible(Algorithm::HS384));
    EXPECT_FALSE(r.key->compatible(Algorithm::HS256));  // pinned by the JWK
}

TEST(KeyJwk, RefusesBadMembers) {
    auto ec = jwk_for("p256");
    auto bad = [](boost::json::object o) { return Key::from_jwk(o).key == nullptr; };
    EXPECT_TRUE(bad({}));
    EXPECT_TRUE(bad({{"kty", "XYZ"}}));
    EXPECT_TRUE(bad({{"kty", "oct"}}));
    EXPECT_TRUE(bad({{"kty", "oct"}, {"k", ""}}));
    EXPECT_TRUE(bad({{"kty", "oct"}, {"k", "a+b"}}));
    EXPECT_TRUE(bad({{"kty", "RSA"}, {"n", "AQAB"}}));
    EXPECT_TRUE(bad({{"kty", "RSA"}, {"n", base64url_encode(std::string(64, '\x99'))}, {"e", "AQAB"}}));  // 512 bits
    auto wrong_crv = ec;
    wrong_crv["crv"] = "P-384";
    EXPECT_TRUE(bad(wrong_crv));
    auto short_x = ec;
    short_x["x"] = base64url_encode(std::string(31, 'a'));
    EXPECT_TRUE(bad(short_x));
    auto off_curve = ec;
    off_curve["y"] = base64url_encode(std::string(32, '\x01'));
    EXPECT_TRUE(bad(off_curve));
    auto bad_alg = ec;
    bad_alg["alg"] = "RS256";
    EXPECT_TRUE(bad(bad_alg));
    auto unknown_alg = ec;
    unknown_alg["alg"] = "none";
    EXPECT_TRUE(bad(unknown_alg));
    auto kid_num = ec;
    kid_num["kid"] = 5;
    EXPECT_TRUE(bad(kid_num));
    EXPECT_TRUE(bad({{"kty", "OKP"}, {"crv", "Ed448"}, {"x", base64url_encode(std::string(57, 'a'))}}));
    EXPECT_TRUE(bad({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64url_encode(std::string(31, 'a'))}}));
    EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace authgate::jwt
