#include "jwt/verifier.h"

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace authgate::jwt {
namespace {
using namespace test;

struct Split {
    std::string input, sig;
};

bool verify_token(std::string_view token, Algorithm alg, const Key& key, Status* parse_status = nullptr) {
    ParsedToken t;
    const Status s = parse_token(token, t);
    if (parse_status) *parse_status = s;
    if (s != Status::ok) return false;
    return verify_signature(alg, key, t.signing_input, t.signature);
}

// --- Published vectors -------------------------------------------------------------

constexpr const char* kA1Token =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kA1Key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr const char* kPayloadA = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

TEST(Rfc7515, A1_HS256) {
    auto key = Key::from_jwk(boost::json::object{{"kty", "oct"}, {"k", kA1Key}});
    ASSERT_TRUE(key.key) << key.error;
    EXPECT_TRUE(verify_token(kA1Token, Algorithm::HS256, *key.key));
    ParsedToken t;
    ASSERT_EQ(parse_token(kA1Token, t), Status::ok);
    EXPECT_EQ(t.payload.at("iss").as_string(), "joe");
    EXPECT_EQ(t.payload.at("exp").as_int64(), 1300819380);
    EXPECT_FALSE(verify_token(kA1Token, Algorithm::HS384, *key.key));
}

TEST(Rfc7515, A2_RS256) {
    const std::string n =
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-"
        "pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2Cap"
        "Hg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h"
        "4FRWyuXpoQ";
    const std::string token = std::string("eyJhbGciOiJSUzI1NiJ9.") + kPayloadA +
                              ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
                              "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L0"
                              "7Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipU"
                              "TI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    auto key = Key::from_jwk(boost::json::object{{"kty", "RSA"}, {"n", n}, {"e", "AQAB"}});
    ASSERT_TRUE(key.key) << key.error;
    EXPECT_EQ(key.key->bits(), 2048);
    EXPECT_TRUE(verify_token(token, Algorithm::RS256, *key.key));
    EXPECT_FALSE(verify_token(token, Algorithm::PS256, *key.key));  // same key, other padding
}

TEST(Rfc7515, A3_ES256) {
    const std::string token = std::string("eyJhbGciOiJFUzI1NiJ9.") + kPayloadA +
                              ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    auto key = Key::from_jwk(boost::json::object{{"kty", "EC"},
                                                 {"crv", "P-256"},
                                                 {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                                                 {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}});
    ASSERT_TRUE(key.key) << key.error;
    EXPECT_TRUE(verify_token(token, Algorithm::ES256, *key.key));
}

TEST(Rfc7515, A4_ES512) {
    const std::string token =
        "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA."
        "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZ"
        "CPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";
    auto key = Key::from_jwk(boost::json::object{
        {"kty", "EC"},
        {"crv", "P-521"},
        {"x", "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk"},
        {"y", "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}});
    ASSERT_TRUE(key.key) << key.error;
    // The payload is not JSON, so check the signature directly.
    const auto dot = std::string_view(token).rfind('.');
    std::string sig;
    ASSERT_TRUE(base64url_decode(std::string_view(token).substr(dot + 1), sig));
    EXPECT_TRUE(verify_signature(Algorithm::ES512, *key.key, std::string_view(token).substr(0, dot), sig));
}

TEST(Rfc8037, A4_Ed25519) {
    auto key = Key::from_jwk(
        boost::json::object{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}});
    ASSERT_TRUE(key.key) << key.error;
    const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    std::string sig;
    ASSERT_TRUE(base64url_decode(
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg", sig));
    EXPECT_TRUE(verify_signature(Algorithm::EdDSA, *key.key, input, sig));
    sig[0] ^= 1;
    EXPECT_FALSE(verify_signature(Algorithm::EdDSA, *key.key, input, sig));
}

TEST(JwtIo, DefaultHs256Token) {
    const char* token =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzb21lIjoicGF5bG9hZCJ9.4twFt5NiznN84AWoo1d7KO1T_yoc0Z6XOpOVswacPZg";
    EXPECT_TRUE(verify_token(token, Algorithm::HS256, *secret_key("secret")));
    EXPECT_FALSE(verify_token(token, Algorithm::HS256, *secret_key("secret2")));
}

// --- Every algorithm with generated keys ----------------------------------------------

struct AlgCase {
    Algorithm alg;
    const char* key;  // pkey_for name, or "" for HMAC
};

class PerAlgorithm : public ::testing::TestWithParam<AlgCase> {
protected:
    KeyPtr key() const {
        return *GetParam().key ? private_key(GetParam().key) : secret_key("0123456789abcdef0123456789abcdef-and-more!");
    }
};

TEST_P(PerAlgorithm, SignsAndVerifies) {
    const auto k = key();
    const std::string token = sign_token(GetParam().alg, *k, claims());
    EXPECT_TRUE(verify_token(token, GetParam().alg, *k));
}

TEST_P(PerAlgorithm, EveryFlippedSignatureBitIsRejected) {
    const auto k = key();
    const std::string token = sign_token(GetParam().alg, *k, claims());
    ParsedToken t;
    ASSERT_EQ(parse_token(token, t), Status::ok);
    std::string sig = t.signature;
    for (std::size_t bit = 0; bit < sig.size() * 8; ++bit) {
        sig[bit / 8] = static_cast<char>(sig[bit / 8] ^ (1 << (bit % 8)));
        EXPECT_FALSE(verify_signature(GetParam().alg, *k, t.signing_input, sig)) << "bit " << bit;
        sig[bit / 8] = static_cast<char>(sig[bit / 8] ^ (1 << (bit % 8)));
    }
    EXPECT_TRUE(verify_signature(GetParam().alg, *k, t.signing_input, sig));
    EXPECT_EQ(ERR_peek_error(), 0u);  // failure paths leave no OpenSSL errors behind
}

TEST_P(PerAlgorithm, TamperedPayloadIsRejected) {
    const auto k = key();
    const std::string token = sign_token(GetParam().alg, *k, claims());
    ParsedToken t;
    ASSERT_EQ(parse_token(token, t), Status::ok);
    std::string input(t.signing_input);
    input.back() = input.back() == 'A' ? 'B' : 'A';
    EXPECT_FALSE(verify_signature(GetParam().alg, *k, input, t.signature));
}

TEST_P(PerAlgorithm, WrongSignatureLengthsAreRejected) {
    const auto k = key();
    const std::string token = sign_token(GetParam().alg, *k, claims());
    ParsedToken t;
    ASSERT_EQ(parse_token(token, t), Status::ok);
    EXPECT_FALSE(verify_signature(GetParam().alg, *k, t.signing_input, t.signature.substr(1)));
    EXPECT_FALSE(verify_signature(GetParam().alg, *k, t.signing_input, t.signature + '\0'));
    EXPECT_FALSE(verify_signature(GetParam().alg, *k, t.signing_input, ""));
}

// A PSS signature is random; about one in 256 starts with a zero byte, and without it
// the string is a different encoding of the same integer. Only the k-octet form counts.
TEST(Verifier, RsaSignatureWithoutItsLeadingZeroIsRejected) {
    const auto k = private_key("rsa");
    for (int i = 0; i < 5000; ++i) {
        auto c = claims();
        c["jti"] = i;
        const std::string token = sign_token(Algorithm::PS256, *k, c);
        ParsedToken t;
        ASSERT_EQ(parse_token(token, t), Status::ok);
        if (t.signature[0] != '\0') continue;
        ASSERT_TRUE(verify_signature(Algorithm::PS256, *k, t.signing_input, t.signature));
        EXPECT_FALSE(verify_signature(Algorithm::PS256, *k, t.signing_input, t.signature.substr(1)));
        return;
    }
    FAIL() << "no PSS signature with a leading zero byte in 5000 tries";
}

INSTANTIATE_TEST_SUITE_P(Jws, PerAlgorithm,
                         ::testing::Values(AlgCase{Algorithm::HS256, ""}, AlgCase{Algorithm::HS384, ""},
                                           AlgCase{Algorithm::HS512, ""}, AlgCase{Algorithm::RS256, "rsa"},
                                           AlgCase{Algorithm::RS384, "rsa"}, AlgCase{Algorithm::RS512, "rsa"},
                                           AlgCase{Algorithm::PS256, "rsa"}, AlgCase{Algorithm::PS384, "rsa"},
                                           AlgCase{Algorithm::PS512, "rsa"}, AlgCase{Algorithm::ES256, "p256"},
                                           AlgCase{Algorithm::ES384, "p384"}, AlgCase{Algorithm::ES512, "p521"},
                                           AlgCase{Algorithm::EdDSA, "ed25519"}),
                         [](const auto& info) { return std::string(to_string(info.param.alg)); });

TEST(Verifier, KeyOfOtherFamilyOrCurveNeverVerifies) {
    const std::string token = sign_token(Algorithm::ES256, *private_key("p256"), claims());
    ParsedToken t;
    ASSERT_EQ(parse_token(token, t), Status::ok);
    EXPECT_FALSE(verify_signature(Algorithm::ES256, *private_key("p384"), t.signing_input, t.signature));
    EXPECT_FALSE(verify_signature(Algorithm::ES256, *private_key("rsa"), t.signing_input, t.signature));
    EXPECT_FALSE(verify_signature(Algorithm::ES256, *secret_key("x"), t.signing_input, t.signature));
}

TEST(Verifier, PublicKeyPemAsHmacSecretDoesNotVerifyAgainstTheRsaKey) {
    // The classic alg confusion: HS256 "signed" with the RSA public key text.
    const std::string pem = public_pem(pkey_for("rsa"));
    const std::string forged = sign_token(Algorithm::HS256, *secret_key(pem), claims());
    EXPECT_FALSE(verify_token(forged, Algorithm::HS256, *private_key("rsa")));
    EXPECT_FALSE(verify_token(forged, Algorithm::RS256, *private_key("rsa")));
}

TEST(Verifier, EcdsaRawToDerHandlesHighBitsAndZeros) {
    unsigned char raw[64];
    std::memset(raw, 0, 32);
    std::memset(raw + 32, 0xff, 32);
    unsigned char der[200];
    const std::size_t n = ecdsa_raw_to_der(raw, 32, der);
    // SEQUENCE { INTEGER 0, INTEGER 00 ff..ff }
    ASSERT_EQ(n, 2u + 3u + 2u + 33u);
    EXPECT_EQ(der[0], 0x30);
    EXPECT_EQ(der[2], 0x02);
    EXPECT_EQ(der[3], 0x01);
    EXPECT_EQ(der[4], 0x00);
    EXPECT_EQ(der[6], 33);
    EXPECT_EQ(der[7], 0x00);
    unsigned char big[132];
    std::memset(big, 0x80, sizeof big);
    EXPECT_EQ(ecdsa_raw_to_der(big, 66, der), 3u + 2 * (2 + 67));  // long-form length
    EXPECT_EQ(der[1], 0x81);
}

}  // namespace
}  // namespace authgate::jwt
