#include "proxy/headers.h"

#include <gtest/gtest.h>

namespace authgate::proxy {
namespace {

TEST(HopByHop, RemovesStandardAndConnectionNamedHeaders) {
    http::fields f;
    f.insert("Connection", "keep-alive, X-Private");
    f.insert("Connection", "X-Other");
    f.insert("X-Private", "1");
    f.insert("X-Other", "1");
    f.insert("Keep-Alive", "timeout=5");
    f.insert("TE", "trailers");
    f.insert("Trailer", "X-T");
    f.insert("Transfer-Encoding", "chunked");
    f.insert("Upgrade", "h2c");
    f.insert("Proxy-Authorization", "Basic x");
    f.insert("Proxy-Connection", "keep-alive");
    f.insert("X-Kept", "yes");
    strip_hop_by_hop(f, false);
    for (auto name : {"Connection", "X-Private", "X-Other", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding",
                      "Upgrade", "Proxy-Authorization", "Proxy-Connection"})
        EXPECT_EQ(f.count(name), 0u) << name;
    EXPECT_EQ(f["X-Kept"], "yes");
}

TEST(HopByHop, KeepsUpgradeForWebSocket) {
    http::fields f;
    f.insert("Connection", "Upgrade, X-Private");
    f.insert("Upgrade", "websocket");
    f.insert("X-Private", "1");
    EXPECT_TRUE(wants_upgrade(f));
    strip_hop_by_hop(f, true);
    EXPECT_EQ(f["Upgrade"], "websocket");
    EXPECT_EQ(f["Connection"], "upgrade");
    EXPECT_EQ(f.count("X-Private"), 0u);
}

TEST(WantsUpgrade, NeedsBothHeaders) {
    http::fields f;
    f.insert("Upgrade", "websocket");
    EXPECT_FALSE(wants_upgrade(f));
    f.insert("Connection", "keep-alive");
    EXPECT_FALSE(wants_upgrade(f));
    f.set("Connection", "keep-alive, UPGRADE");
    EXPECT_TRUE(wants_upgrade(f));
}

TEST(WantsUpgrade, OnlyWebSocketIsHonoured) {
    http::fields f;
    f.insert("Connection", "Upgrade, HTTP2-Settings");
    f.insert("Upgrade", "h2c");
    f.insert("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA");
    EXPECT_FALSE(wants_upgrade(f));
    strip_hop_by_hop(f, wants_upgrade(f));
    EXPECT_EQ(f.count("Upgrade"), 0u);
    EXPECT_EQ(f.count("Connection"), 0u);
    EXPECT_EQ(f.count("HTTP2-Settings"), 0u);
    f.set("Connection", "upgrade");
    f.set("Upgrade", "WebSocket");
    EXPECT_TRUE(wants_upgrade(f));
}

TEST(HopByHop, ManyConnectionOptionsAreMatchedByName) {
    // More names than the inline table holds: the rest are found through the hash set,
    // case-insensitively, and every field not named survives.
    http::fields f;
    std::string options;
    for (int i = 0; i < 40; ++i) {
        options += (i ? ", X-Opt-" : "X-Opt-") + std::to_string(i);
        f.insert("x-opt-" + std::to_string(i), "1");
    }
    f.insert("Connection", options);
    f.insert("X-Kept", "yes");
    strip_hop_by_hop(f, false);
    for (int i = 0; i < 40; ++i) EXPECT_EQ(f.count("x-opt-" + std::to_string(i)), 0u) << i;
    EXPECT_EQ(f["X-Kept"], "yes");
    EXPECT_EQ(f.count("Connection"), 0u);
}

TEST(AppendToList, FoldsRepeatedLines) {
    http::fields f;
    append_to_list(f, "X-Forwarded-For", "1.1.1.1");
    EXPECT_EQ(f["X-Forwarded-For"], "1.1.1.1");
    f.insert("X-Forwarded-For", "2.2.2.2");
    append_to_list(f, "X-Forwarded-For", "3.3.3.3");
    EXPECT_EQ(f.count("X-Forwarded-For"), 1u);
    EXPECT_EQ(f["X-Forwarded-For"], "1.1.1.1, 2.2.2.2, 3.3.3.3");
}

TEST(MergeVary, NeverDuplicatesNeverClobbers) {
    http::fields f;
    merge_vary(f, "Origin");
    EXPECT_EQ(f["Vary"], "Origin");
    merge_vary(f, "origin");
    EXPECT_EQ(f["Vary"], "Origin");
    http::fields g;
    g.insert("Vary", "Accept-Encoding");
    g.insert("Vary", "Accept-Language");
    merge_vary(g, "Origin");
    EXPECT_EQ(g.count("Vary"), 1u);
    EXPECT_EQ(g["Vary"], "Accept-Encoding, Accept-Language, Origin");
    http::fields star;
    star.insert("Vary", "*");
    merge_vary(star, "Origin");
    EXPECT_EQ(star["Vary"], "*");
}

TEST(StripAccessControl, RemovesOnlyThatFamily) {
    http::fields f;
    f.insert("Access-Control-Allow-Origin", "*");
    f.insert("access-control-allow-credentials", "true");
    f.insert("Access-Control-Expose-Headers", "X");
    f.insert("Access-Controlled", "keep");
    f.insert("Content-Type", "text/plain");
    strip_access_control(f);
    EXPECT_EQ(f.count("Access-Control-Allow-Origin"), 0u);
    EXPECT_EQ(f.count("Access-Control-Allow-Credentials"), 0u);
    EXPECT_EQ(f.count("Access-Control-Expose-Headers"), 0u);
    EXPECT_EQ(f["Access-Controlled"], "keep");
    EXPECT_EQ(f["Content-Type"], "text/plain");
}

TEST(RequestId, ValidationAndGeneration) {
    EXPECT_TRUE(valid_request_id("abc-123_x.y:z"));
    EXPECT_FALSE(valid_request_id(""));
    EXPECT_FALSE(valid_request_id("has space"));
    EXPECT_FALSE(valid_request_id("new\nline"));
    EXPECT_FALSE(valid_request_id(std::string(129, 'a')));
    std::mt19937_64 rng(42);
    auto a = make_request_id(rng), b = make_request_id(rng);
    EXPECT_EQ(a.size(), 32u);
    EXPECT_NE(a, b);
    EXPECT_TRUE(valid_request_id(a));
}

TEST(ListContains, CaseInsensitiveTokens) {
    EXPECT_TRUE(list_contains("a, B ,c", "b"));
    EXPECT_FALSE(list_contains("ab, c", "a"));
    EXPECT_FALSE(list_contains("", "a"));
}

}  // namespace
}  // namespace authgate::proxy
