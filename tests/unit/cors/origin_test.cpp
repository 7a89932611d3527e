#include "cors/origin.h"

#include <gtest/gtest.h>

#include <string>

namespace authgate::cors {
namespace {

struct ParseCase {
    std::string text;
    OriginError expected;
};

class ParseOriginTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseOriginTest, Classifies) {
    const auto& c = GetParam();
    EXPECT_EQ(parse_origin(c.text), c.expected) << c.text << " -> " << to_string(parse_origin(c.text));
}

INSTANTIATE_TEST_SUITE_P(
    Origins, ParseOriginTest,
    ::testing::Values(
        ParseCase{"https://app.example.com", OriginError::none},
        ParseCase{"http://localhost:3000", OriginError::none},
        ParseCase{"HTTPS://App.Example.COM", OriginError::none},
        ParseCase{"http://127.0.0.1:8080", OriginError::none},
        ParseCase{"http://[::1]:8080", OriginError::none},
        ParseCase{"http://[::1]", OriginError::none},
        ParseCase{"chrome-extension://abcdefghijklmnop", OriginError::none},
        ParseCase{"https://a.example.com:65535", OriginError::none},
        ParseCase{"", OriginError::empty},
        ParseCase{std::string("https://") + std::string(600, 'a') + ".com", OriginError::too_long},
        ParseCase{"app.example.com", OriginError::missing_scheme},
        ParseCase{"//app.example.com", OriginError::missing_scheme},
        ParseCase{"app.example.com:8080", OriginError::missing_scheme},
        ParseCase{"1http://a.com", OriginError::bad_scheme},
        ParseCase{"ht tp://a.com", OriginError::bad_scheme},
        ParseCase{"https://user@a.com", OriginError::userinfo},
        ParseCase{"https://*.example.com", OriginError::wildcard},
        ParseCase{"https://*.example.com/", OriginError::wildcard},
        ParseCase{"*", OriginError::missing_scheme},
        ParseCase{"https://", OriginError::empty_host},
        ParseCase{"https://:8080", OriginError::empty_host},
        ParseCase{"https://a b.com", OriginError::bad_host},
        ParseCase{"https://a.com\r\nX-Evil: 1", OriginError::bad_host},
        ParseCase{"https://ex\xc3\xa4mple.com", OriginError::bad_host},
        ParseCase{"http://[::1", OriginError::bad_host},
        ParseCase{"http://[]:80", OriginError::bad_host},
        ParseCase{"http://[::1]x", OriginError::bad_host},
        ParseCase{"https://a.com:", OriginError::bad_port},
        ParseCase{"https://a.com:0", OriginError::bad_port},
        ParseCase{"https://a.com:65536", OriginError::bad_port},
        ParseCase{"https://a.com:123456", OriginError::bad_port},
        ParseCase{"https://a.com:80a", OriginError::bad_port},
        ParseCase{"https://a.com:8080:1", OriginError::bad_port},
        ParseCase{"https://a.com/", OriginError::path},
        ParseCase{"https://a.com/app", OriginError::path},
        ParseCase{"https://a.com?x=1", OriginError::path},
        ParseCase{"https://a.com#f", OriginError::path}));

TEST(NormaliseOrigin, LowerCasesAndDropsDefaultPort) {
    const struct {
        const char* in;
        const char* out;
    } cases[] = {
        {"HTTPS://App.Example.COM", "https://app.example.com"},
        {"https://a.com:443", "https://a.com"},
        {"http://a.com:80", "http://a.com"},
        {"http://a.com:443", "http://a.com:443"},
        {"https://a.com:80", "https://a.com:80"},
        {"https://a.com:08443", "https://a.com:8443"},
        {"http://[::1]:8080", "http://[::1]:8080"},
    };
    for (const auto& c : cases) {
        OriginParts parts;
        ASSERT_EQ(parse_origin(c.in, &parts), OriginError::none) << c.in;
        EXPECT_EQ(normalise_origin(parts), c.out) << c.in;
    }
}

TEST(NormaliseOrigin, NullIsNotATupleOrigin) { EXPECT_NE(parse_origin("null"), OriginError::none); }

}  // namespace
}  // namespace authgate::cors
