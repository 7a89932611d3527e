#include "proxy/framing.h"

#include <cstring>
#include <string>

#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

namespace authgate::proxy {
namespace {

std::string flatten(const Frame& f) {
    std::string out;
    for (const auto& b : f) out.append(static_cast<const char*>(b.data()), b.size());
    return out;
}

TEST(BodyFraming, SetReplacesWhateverTheMessageCarried) {
    http::fields f;
    f.insert(http::field::content_length, "5, 5");
    f.insert(http::field::content_length, "7");
    f.insert(http::field::transfer_encoding, "gzip");
    set_body_framing(f, BodyFraming::content_length, 12345);
    EXPECT_EQ(f.count(http::field::content_length), 1u);
    EXPECT_EQ(f[http::field::content_length], "12345");
    EXPECT_EQ(f.count(http::field::transfer_encoding), 0u);

    set_body_framing(f, BodyFraming::content_length, 0);
    EXPECT_EQ(f[http::field::content_length], "0");
    set_body_framing(f, BodyFraming::chunked);
    EXPECT_EQ(f.count(http::field::content_length), 0u);
    EXPECT_EQ(f[http::field::transfer_encoding], "chunked");
    for (auto none : {BodyFraming::none, BodyFraming::close}) {
        set_body_framing(f, none);
        EXPECT_EQ(f.count(http::field::content_length), 0u);
        EXPECT_EQ(f.count(http::field::transfer_encoding), 0u);
    }
}

TEST(BodyFraming, ComesFromTheParser) {
    auto parse = [](std::string_view text) {
        http::request_parser<http::buffer_body> p;
        boost::system::error_code ec;
        p.put(boost::asio::buffer(text.data(), text.size()), ec);
        EXPECT_TRUE(!ec || ec == http::error::need_buffer) << ec.message();
        return body_framing_of(p);
    };
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), BodyFraming::none);
    // An empty body keeps its Content-Length: 0 (some backends want one on every POST).
    EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), BodyFraming::content_length);
    EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"), BodyFraming::content_length);
    EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), BodyFraming::chunked);
}

TEST(ParseBodyPiece, StopsAtBodyBytesTheEndOrAnError) {
    http::request_parser<http::buffer_body> p;
    boost::beast::flat_buffer buffer;
    const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    boost::system::error_code ec;
    p.put(boost::asio::buffer(head), ec);
    ASSERT_TRUE(p.is_header_done());
    char out[16];
    auto give = [&](std::string_view bytes) {
        auto b = buffer.prepare(bytes.size());
        std::memcpy(b.data(), bytes.data(), bytes.size());
        buffer.commit(bytes.size());
        p.get().body().data = out;
        p.get().body().size = sizeof out;
        return parse_body_piece(p, buffer, sizeof out, ec);
    };
    EXPECT_FALSE(give("3\r"));                 // half a size line: read more
    EXPECT_TRUE(give("\nabc\r\n"));          // the size line parses on to the data
    EXPECT_EQ(sizeof out - p.get().body().size, 3u);
    EXPECT_FALSE(give("4;x=y\r\n"));         // a size line alone yields nothing yet
    EXPECT_TRUE(give("defg\r\n0\r\n\r\n"));
    EXPECT_EQ(sizeof out - p.get().body().size, 4u);  // stops at the body bytes: they go out first
    EXPECT_FALSE(p.is_done());
    EXPECT_TRUE(give(""));                          // the rest was buffered: the last chunk ends it
    EXPECT_EQ(sizeof out - p.get().body().size, 0u);
    EXPECT_TRUE(p.is_done());
    EXPECT_FALSE(ec) << ec.message();
}

TEST(ConnectionNamesFraming, AnyCaseAnyPositionInTheList) {
    for (const char* v : {"Content-Length", "content-length", "keep-alive, Transfer-Encoding", " HOST ",
                          "x, y,transfer-encoding"})
        EXPECT_TRUE(connection_names_framing(v)) << v;
    for (const char* v : {"", "keep-alive", "close", "upgrade, X-Private", "content-length-x", "hostname"})
        EXPECT_FALSE(connection_names_framing(v)) << v;
}

TEST(StalledChunkFraming, SizeLinesAndTrailersHaveLimits) {
    // A size line still growing: fine up to kMaxChunkLine, refused beyond.
    EXPECT_FALSE(stalled_chunk_framing("1;" + std::string(kMaxChunkLine - 2, 'a'), 1024));
    EXPECT_EQ(stalled_chunk_framing("1;" + std::string(kMaxChunkLine, 'a'), 1024), http::error::bad_chunk);
    // The CRLF that ended the previous chunk's data does not count.
    EXPECT_FALSE(stalled_chunk_framing("\r\n" + std::string(kMaxChunkLine, 'f'), 1024));
    // The last chunk's trailers: held to the trailer limit.
    EXPECT_FALSE(stalled_chunk_framing("0\r\nX-T: " + std::string(100, 'v'), 1024));
    EXPECT_EQ(stalled_chunk_framing("0\r\nX-T: " + std::string(2000, 'v'), 1024), http::error::header_limit);
    EXPECT_EQ(stalled_chunk_framing("0;" + std::string(kMaxChunkLine + 1, 'e') + "\r\n", 1024),
              http::error::bad_chunk);
}

TEST(Frame, ChunkedPiecesNeverEndTheBodyEarly) {
    char line[24];
    EXPECT_EQ(flatten(frame("HEAD\r\n\r\n", "abc", 3, false, true, line)), "HEAD\r\n\r\nabc");
    EXPECT_EQ(flatten(frame({}, "abcdefghijklmnopq", 17, true, false, line)), "11\r\nabcdefghijklmnopq\r\n");
    EXPECT_EQ(flatten(frame({}, "abc", 3, true, true, line)), "3\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(flatten(frame({}, nullptr, 0, true, false, line)), "");  // no empty chunk
    EXPECT_EQ(flatten(frame("H", nullptr, 0, true, true, line)), "H0\r\n\r\n");
}

}  // namespace
}  // namespace authgate::proxy
