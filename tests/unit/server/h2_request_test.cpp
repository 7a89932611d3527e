// The h2 -> h1 translation on its own: fields checked as decoded, the HTTP/1.1 head rebuilt,
// and body bytes fed to a Beast parser in the framing that head announced.
#include <string>
#include <vector>

#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "server/h2_request.h"

namespace authgate::server {
namespace {
namespace http = boost::beast::http;
using Fields = std::vector<std::pair<std::string, std::string>>;

const Fields kBase = {{":method", "GET"}, {":scheme", "https"}, {":authority", "api.example"}, {":path", "/a?b=1"}};

H2RequestHead head_of(const Fields& fields, std::size_t limit = 16 * 1024) {
    H2RequestHead h(limit);
    for (const auto& [n, v] : fields) h.field(n, v);
    return h;
}

Fields with(Fields extra, Fields base = kBase) {
    base.insert(base.end(), extra.begin(), extra.end());
    return base;
}

TEST(H2RequestHead, RebuildsAnHttp1HeadWithHostCookieAndFraming) {
    const auto h = head_of(with({{"accept", "*/*"}, {"cookie", "a=1"}, {"x-b", "2"}, {"cookie", "c=3"}}));
    ASSERT_TRUE(h.valid());
    std::string out;
    h.write_http1(out, H2RequestHead::Body::none, 0);
    EXPECT_EQ(out, "GET /a?b=1 HTTP/1.1\r\nhost: api.example\r\naccept: */*\r\nx-b: 2\r\ncookie: a=1; c=3\r\n\r\n");
    h.write_http1(out, H2RequestHead::Body::length, 7);
    EXPECT_NE(out.find("content-length: 7\r\n"), std::string::npos);
    h.write_http1(out, H2RequestHead::Body::chunked, 0);
    EXPECT_NE(out.find("transfer-encoding: chunked\r\n"), std::string::npos);
    // The client's content-length is the framing: nothing is added to it.
    const auto cl = head_of(with({{"content-length", "3"}}));
    cl.write_http1(out, H2RequestHead::Body::chunked, 0);
    EXPECT_EQ(out.find("transfer-encoding"), std::string::npos);
    EXPECT_NE(out.find("content-length: 3\r\n"), std::string::npos);
    // host without :authority is the Host; the same in both is fine.
    Fields no_authority = {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "h.example"}};
    const auto ha = head_of(no_authority);
    ASSERT_TRUE(ha.valid());
    ha.write_http1(out, H2RequestHead::Body::none, 0);
    EXPECT_NE(out.find("host: h.example\r\n"), std::string::npos);
    EXPECT_TRUE(head_of(with({{"host", "API.example"}})).valid());
}

TEST(H2RequestHead, RefusesWhatAnHttp1UpstreamCouldReadDifferently) {
    const std::vector<std::pair<const char*, Fields>> refused = {
        {"connection", with({{"connection", "close"}})},
        {"keep-alive", with({{"keep-alive", "1"}})},
        {"proxy-connection", with({{"proxy-connection", "x"}})},
        {"transfer-encoding", with({{"transfer-encoding", "chunked"}})},
        {"upgrade", with({{"upgrade", "h2c"}})},
        {"te gzip", with({{"te", "gzip"}})},
        {"upper case", with({{"X-A", "1"}})},
        {"space in name", with({{"x a", "1"}})},
        {"CR", with({{"x-a", "1\r\nx-b: 2"}})},
        {"LF", with({{"x-a", "1\nb"}})},
        {"NUL", with({{"x-a", std::string("1\0", 2)}})},
        {"leading space", with({{"x-a", " 1"}})},
        {"trailing tab", with({{"x-a", "1\t"}})},
        {"unknown pseudo", with({{":protocol", "websocket"}})},
        {"repeated pseudo", with({{":path", "/other"}})},
        {"pseudo after regular", with({{":path", "/x"}}, {{":method", "GET"}, {":scheme", "http"}, {"x", "1"}})},
        {"no :method", {{":scheme", "http"}, {":path", "/"}}},
        {"no :scheme", {{":method", "GET"}, {":path", "/"}}},
        {"no :path", {{":method", "GET"}, {":scheme", "http"}}},
        {"CONNECT", {{":method", "CONNECT"}, {":authority", "h:443"}}},
        {"relative path", {{":method", "GET"}, {":scheme", "http"}, {":path", "a"}}},
        {"* not OPTIONS", {{":method", "GET"}, {":scheme", "http"}, {":path", "*"}}},
        {"space in path", {{":method", "GET"}, {":scheme", "http"}, {":path", "/a HTTP/1.1"}}},
        {"space in method", {{":method", "G T"}, {":scheme", "http"}, {":path", "/"}}},
        {"other scheme", {{":method", "GET"}, {":scheme", "ftp"}, {":path", "/"}}},
        {"authority vs host", with({{"host", "evil.example"}})},
        {"two hosts", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "a"}, {"host", "a"}}},
        {"empty authority", {{":method", "GET"}, {":scheme", "http"}, {":authority", ""}, {":path", "/"}}},
    };
    for (const auto& [what, fields] : refused) EXPECT_FALSE(head_of(fields).valid()) << what;
    EXPECT_TRUE(head_of(with({{"te", "trailers"}})).valid());
    EXPECT_TRUE(head_of({{":method", "OPTIONS"}, {":scheme", "http"}, {":path", "*"}}).valid());
}

TEST(H2RequestHead, CountsTheHeaderListAsRfc9113Does) {
    const auto small = head_of(with({{"x-a", std::string(100, 'a')}}), 1024);
    EXPECT_FALSE(small.too_large());
    const auto big = head_of(with({{"x-a", std::string(1000, 'a')}}), 1024);
    EXPECT_TRUE(big.too_large());
    EXPECT_TRUE(big.valid());  // answered 431, not reset
}

// Parses `head` and then the body pieces through H2BodyFeed; returns the body the parser saw.
std::string through_parser(const std::string& head, bool chunked, const std::vector<std::string>& pieces,
                           boost::system::error_code& ec, std::uint64_t body_limit = 1 << 20) {
    http::request_parser<http::buffer_body> parser;
    parser.body_limit(body_limit);
    H2BodyFeed::put(parser, head, ec);
    if (ec || !parser.is_header_done()) return {};
    EXPECT_EQ(parser.chunked(), chunked);
    H2BodyFeed feed(parser.chunked());
    std::string body;
    char buf[4096];
    for (const auto& p : pieces) {
        parser.get().body().data = buf;
        parser.get().body().size = sizeof buf;
        feed.data(parser, p, ec);
        body.append(buf, sizeof buf - parser.get().body().size);
        if (ec) return body;
    }
    parser.get().body().data = buf;
    parser.get().body().size = sizeof buf;
    feed.end(parser, ec);
    EXPECT_TRUE(ec || parser.is_done());
    return body;
}

TEST(H2BodyFeed, ChunkedAndLengthBodiesEndWhereTheStreamEnded) {
    boost::system::error_code ec;
    const auto h = head_of(with({}, {{":method", "POST"}, {":scheme", "http"}, {":path", "/"}, {":authority", "a"}}));
    std::string head;
    h.write_http1(head, H2RequestHead::Body::chunked, 0);
    EXPECT_EQ(through_parser(head, true, {"ab", "", "cde", std::string(3000, 'x')}, ec), "abcde" + std::string(3000, 'x'));
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(through_parser(head, true, {}, ec), "");
    EXPECT_FALSE(ec) << ec.message();
    h.write_http1(head, H2RequestHead::Body::length, 5);
    EXPECT_EQ(through_parser(head, false, {"ab", "cde"}, ec), "abcde");
    EXPECT_FALSE(ec) << ec.message();
    // Short of the length the head announced: the parser says so.
    EXPECT_EQ(through_parser(head, false, {"ab"}, ec), "ab");
    EXPECT_TRUE(ec);
    // max_body_bytes holds for chunked h2 bodies as for HTTP/1.1.
    h.write_http1(head, H2RequestHead::Body::chunked, 0);
    through_parser(head, true, {std::string(600, 'a'), std::string(600, 'b')}, ec, 1000);
    EXPECT_EQ(ec, http::error::body_limit);
}

}  // namespace
}  // namespace authgate::server
