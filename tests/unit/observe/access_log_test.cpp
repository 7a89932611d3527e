// Access-log redaction of query tokens, JSON escaping, and the JSON application log: every
// line parses, whatever the message holds.
#include "observe/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <vector>

#include <boost/json/src.hpp>  // header-only Boost.JSON: observe_tests links no boost_json
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

// Counts allocations made on the calling thread while `counting` is set. GCC cannot see
// that this operator new pairs with the operator delete below, both on malloc/free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
}  // namespace
void* operator new(std::size_t n) {
    if (counting) ++allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace authgate::observe {
namespace {

const std::vector<std::string> kParams{"access_token", "jwt"};

std::string redacted(std::string_view target, const std::vector<std::string>& params = kParams) {
    std::string out;
    return redact_query(target, params, out) ? out : std::string(target);
}

TEST(Redaction, ReplacesOnlyTheValuesOfTokenParameters) {
    EXPECT_EQ(redacted("/a?access_token=eyJ.x.y&x=1"), "/a?access_token=REDACTED&x=1");
    EXPECT_EQ(redacted("/a?x=1&jwt=abc"), "/a?x=1&jwt=REDACTED");
    EXPECT_EQ(redacted("/a?jwt=1&jwt=2&access_token=3"), "/a?jwt=REDACTED&jwt=REDACTED&access_token=REDACTED");
    // Names compare percent-decoded, as the token extractor reads them.
    EXPECT_EQ(redacted("/a?access%5Ftoken=s3cret"), "/a?access%5Ftoken=REDACTED");
    EXPECT_EQ(redacted("/a?x=1&&jwt=t&"), "/a?x=1&&jwt=REDACTED&");
    // Other parameters, and names that only contain a token parameter's name, stay.
    EXPECT_EQ(redacted("/a?my_jwt=1&jwtx=2&x=jwt"), "/a?my_jwt=1&jwtx=2&x=jwt");
    EXPECT_EQ(redacted("/a/jwt=1"), "/a/jwt=1");  // not a query
    EXPECT_EQ(redacted("/a?jwt&jwt="), "/a?jwt&jwt=");  // no value, nothing to hide
    EXPECT_EQ(redacted("/a?access_token=x", {}), "/a?access_token=x");
}

TEST(Redaction, NothingToRedactAllocatesNothing) {
    std::string out;
    allocations = 0;
    counting = true;
    const bool a = redact_query("/a/b?x=1&y=%41&access=z&jwtx=2", kParams, out);
    const bool b = redact_query("/a/b", kParams, out);
    const bool c = redact_query("/a?jwt=1", {}, out);
    counting = false;
    EXPECT_FALSE(a);
    EXPECT_FALSE(b);
    EXPECT_FALSE(c);
    EXPECT_EQ(allocations, 0u);
    EXPECT_TRUE(out.empty());
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

TEST(AccessLogRecord, JsonAndTextLinesCarryTheRedactedPath) {
    for (const bool json : {true, false}) {
        char path[] = "/tmp/authgate-observe-XXXXXX";
        const int fd = ::mkstemp(path);
        ASSERT_GE(fd, 0);
        {
            AccessLog log(fd, json);
            AccessRecord r;
            r.method = "GET";
            r.path = "/api/x?access_token=eyJhbGciOi.payload.sig&x=1";
            r.redact_query_params = kParams;
            r.status = 200;
            log.write(r);
        }
        ::close(fd);
        const std::string text = read_file(path);
        ::unlink(path);
        EXPECT_EQ(text.find("eyJhbGciOi"), std::string::npos) << text;
        if (json) {
            auto line = boost::json::parse(text).as_object();
            EXPECT_EQ(line.at("path").as_string(), "/api/x?access_token=REDACTED&x=1");
        } else {
            EXPECT_NE(text.find("\"GET /api/x?access_token=REDACTED&x=1\""), std::string::npos) << text;
        }
    }
}

TEST(JsonString, AlwaysParsesBackToTheText) {
    const std::vector<std::string> cases{"plain", "quote \" backslash \\ slash /", "nl\ncr\rtab\t", "ctl \x01\x1f\x7f",
                                         "utf-8 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", std::string("nul \0 in", 8)};
    for (const auto& c : cases) {
        std::string out;
        append_json_string(out, c);
        EXPECT_EQ(boost::json::parse(out).as_string(), c) << out;
    }
    // Bytes that are not UTF-8 become U+FFFD: the line still parses.
    for (const std::string bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xe2\x82"}) {
        std::string out;
        append_json_string(out, bad);
        boost::system::error_code ec;
        auto v = boost::json::parse(out, ec);
        ASSERT_FALSE(ec) << out;
        EXPECT_NE(std::string(v.as_string()).find("\xef\xbf\xbd"), std::string::npos) << out;
    }
}

const std::vector<std::string> kHostile{"a \"quoted\" word", "back\\slash", "two\nlines", "ctl \x01 byte",
                                        "all \" \\ \n \r \t \x01 \x7f \xff together", "ends with \\"};

TEST(AppLog, JsonFormatterWritesOneParsableObjectPerMessage) {
    auto f = make_app_log_formatter("json");
    for (const auto& m : kHostile) {
        spdlog::details::log_msg msg("authgate", spdlog::level::warn, m);
        spdlog::memory_buf_t buf;
        f->format(msg, buf);
        std::string line(buf.data(), buf.size());
        ASSERT_EQ(line.back(), '\n');
        line.pop_back();
        EXPECT_EQ(line.find('\n'), std::string::npos) << line;
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        ASSERT_FALSE(ec) << line;
        const auto& o = v.as_object();
        EXPECT_EQ(o.at("level").as_string(), "warning");
        EXPECT_FALSE(o.at("time").as_string().empty());
        if (m.find('\xff') == std::string::npos) {
            EXPECT_EQ(o.at("msg").as_string(), m) << line;
        }
    }
}

// configure_app_log end to end: the process-wide logger, on stderr.
TEST(AppLog, ConfiguredJsonLogOnStderrParsesLineByLine) {
    char path[] = "/tmp/authgate-applog-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    std::fflush(stderr);
    const int saved = ::dup(2);
    ::dup2(fd, 2);
    ASSERT_TRUE(configure_app_log("info", "json"));
    for (const auto& m : kHostile) spdlog::error("{}", m);
    spdlog::info("request {}: upstream {} failed", "a\"b", "c\\d\n");
    spdlog::default_logger()->flush();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    ::close(fd);
    configure_app_log("info", "text");
    std::istringstream lines(read_file(path));
    ::unlink(path);
    std::string line;
    std::size_t n = 0;
    while (std::getline(lines, line)) {
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        ASSERT_FALSE(ec) << line;
        if (n < kHostile.size() && kHostile[n].find('\xff') == std::string::npos) {
            EXPECT_EQ(v.as_object().at("msg").as_string(), kHostile[n]);
        }
        ++n;
    }
    EXPECT_EQ(n, kHostile.size() + 1);
}

}  // namespace
}  // namespace authgate::observe
