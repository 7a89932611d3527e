// One access-log line per request with every field, in JSON and text.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "jwt/signer.h"
#include "support/harness.h"

namespace authgate::test {
namespace {

std::string read_all(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

TEST(AccessLog, JsonLinePerRequestWithEveryField) {
    Backend backend;
    char path[] = "/tmp/authgate-access-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    {
        auto cfg = base_config(backend.port());
        cfg.log.format = "json";
        cfg.routes = {route("pub", "/pub/")};
        Gateway gw(cfg, fd);
        Client c(gw.port());
        ASSERT_EQ(c.request("POST", "/pub/a?q=1", {{"X-Request-Id", "req-1"}}, "hello")->status, 200u);
        ASSERT_EQ(c.request("GET", "/missing", {{"X-Request-Id", "req-2"}})->status, 404u);
    }  // shutdown flushes the worker's buffer
    ::close(fd);
    std::istringstream lines(read_all(path));
    std::string line;
    std::vector<boost::json::object> records;
    while (std::getline(lines, line)) records.push_back(boost::json::parse(line).as_object());
    ::unlink(path);
    ASSERT_EQ(records.size(), 2u);
    const auto& a = records[0];
    EXPECT_EQ(a.at("request_id").as_string(), "req-1");
    EXPECT_EQ(a.at("client").as_string(), "127.0.0.1");
    EXPECT_EQ(a.at("method").as_string(), "POST");
    EXPECT_EQ(a.at("path").as_string(), "/pub/a?q=1");
    EXPECT_EQ(a.at("route").as_string(), "pub");
    EXPECT_EQ(a.at("upstream").as_string(), "127.0.0.1:" + std::to_string(backend.port()));
    EXPECT_EQ(a.at("status").as_int64(), 200);
    EXPECT_EQ(a.at("bytes_in").as_int64(), 5);
    EXPECT_GT(a.at("bytes_out").as_int64(), 0);
    EXPECT_TRUE(a.at("duration_ms").is_double());
    EXPECT_FALSE(a.at("time").as_string().empty());
    const auto& b = records[1];
    EXPECT_EQ(b.at("status").as_int64(), 404);
    EXPECT_EQ(b.at("route").as_string(), "");
}

TEST(AccessLog, TextLineEscapesHostileInput) {
    Backend backend;
    char path[] = "/tmp/authgate-access-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    {
        auto cfg = base_config(backend.port());
        cfg.routes = {route("pub", "/pub/")};
        Gateway gw(cfg, fd);
        Client c(gw.port());
        ASSERT_EQ(c.request("GET", "/pub/%22quoted%22", {{"X-Request-Id", "id-7"}})->status, 200u);
    }
    ::close(fd);
    auto text = read_all(path);
    ::unlink(path);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
    EXPECT_NE(text.find("\"id-7\""), std::string::npos) << text;
    EXPECT_NE(text.find("route=pub"), std::string::npos) << text;
    EXPECT_NE(text.find("status=200"), std::string::npos) << text;
}

// The provider that decided the token is on the line; requests no provider decided
// (no auth, no token) have no provider field.
TEST(AccessLog, NamesTheProviderThatDecided) {
    Backend backend;
    char path[] = "/tmp/authgate-access-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    const std::string secret = "access-log-test-secret-0123456789abcdef";
    {
        auto cfg = base_config(backend.port());
        cfg.log.format = "json";
        cfg.jwt.providers = {hs256_provider("corp", secret)};
        auto api = route("api", "/api/");
        api.auth.none = false;
        api.auth.providers = {"corp"};
        cfg.routes = {route("pub", "/pub/"), api};
        Gateway gw(cfg, fd);
        Client c(gw.port());
        const auto token = jwt::make_token(jwt::Algorithm::HS256, *jwt::Key::from_secret(secret).key, {},
                                           boost::json::object{{"sub", "alice"}});
        ASSERT_TRUE(token);
        ASSERT_EQ(c.request("GET", "/api/a", {{"Authorization", "Bearer " + *token}})->status, 200u);
        ASSERT_EQ(c.request("GET", "/api/a")->status, 401u);
        ASSERT_EQ(c.request("GET", "/pub/a")->status, 200u);
    }
    ::close(fd);
    std::istringstream lines(read_all(path));
    ::unlink(path);
    std::vector<boost::json::object> records;
    for (std::string line; std::getline(lines, line);) records.push_back(boost::json::parse(line).as_object());
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].at("provider").as_string(), "corp");
    EXPECT_EQ(records[0].at("auth").as_string(), "ok");
    EXPECT_FALSE(records[1].contains("provider"));
    EXPECT_EQ(records[1].at("auth").as_string(), "token missing");
    EXPECT_FALSE(records[2].contains("provider"));
}

}  // namespace
}  // namespace authgate::test
