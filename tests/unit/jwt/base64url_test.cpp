#include "jwt/base64url.h"

#include <gtest/gtest.h>
#include <vector>

namespace authgate::jwt {
namespace {

std::string dec(std::string_view s, bool* ok = nullptr) {
    std::string out;
    const bool r = base64url_decode(s, out);
    if (ok) *ok = r;
    return out;
}

TEST(Base64Url, RoundTripsEveryLength) {
    std::string bytes;
    for (int n = 0; n < 70; ++n) {
        const std::string enc = base64url_encode(bytes);
        EXPECT_EQ(enc.find('='), std::string::npos);
        bool ok = false;
        EXPECT_EQ(dec(enc, &ok), bytes);
        EXPECT_TRUE(ok);
        bytes.push_back(static_cast<char>(n * 37 + 250));
    }
}

TEST(Base64Url, KnownValues) {
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_EQ(dec("eyJhbGciOiJIUzI1NiJ9"), R"({"alg":"HS256"})");
}

TEST(Base64Url, RejectsPaddingAndStrayCharacters) {
    bool ok = true;
    dec("YQ==", &ok);
    EXPECT_FALSE(ok);
    for (const std::string& bad : std::vector<std::string>{"a+b", "a/bc", "ab c", "ab.c", "ab\n", "YQ=", std::string("Y\0Q", 3)}) {
        dec(bad, &ok);
        EXPECT_FALSE(ok) << bad;
    }
}

TEST(Base64Url, RejectsImpossibleLength) {
    bool ok = true;
    dec("abcde", &ok);
    EXPECT_FALSE(ok);
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
    bool ok = false;
    EXPECT_EQ(dec("YQ", &ok), "a");
    EXPECT_TRUE(ok);
    dec("YR", &ok);  // same byte with non-zero unused bits
    EXPECT_FALSE(ok);
    EXPECT_EQ(dec("YWI", &ok), "ab");
    EXPECT_TRUE(ok);
    dec("YWJ", &ok);
    EXPECT_FALSE(ok);
}

TEST(Base64Any, AcceptsStandardUrlPaddedAndUnpadded) {
    for (std::string in : {"+/8=", "-_8", "+/8", "-_8=", " +/ 8= "}) {
        std::string out;
        EXPECT_TRUE(base64_decode_any(in, out)) << in;
        EXPECT_EQ(out, "\xfb\xff") << in;
    }
    std::string out;
    EXPECT_FALSE(base64_decode_any("ab=c", out));
    EXPECT_FALSE(base64_decode_any("a*bc", out));
}

}  // namespace
}  // namespace authgate::jwt
