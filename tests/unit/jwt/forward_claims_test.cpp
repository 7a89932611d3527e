#include "jwt/forward_claims.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "jwt/claim_rules.h"

namespace authgate::jwt {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using Map = std::vector<std::pair<std::string, std::string>>;

Status build(const ForwardClaims& f, std::string_view json, Headers& out) {
    out.clear();
    return f.build(boost::json::parse(json).as_object(), out);
}

TEST(ForwardClaims, FormatsEachType) {
    const ForwardClaims f(Map{{"sub", "X-User"},
                           {"n", "X-N"},
                           {"admin", "X-Admin"},
                           {"roles", "X-Roles"},
                           {"mixed", "X-Mixed"},
                           {"obj", "X-Obj"},
                           {"realm_access.roles", "X-Realm"},
                           {"missing", "X-Missing"},
                           {"nul", "X-Null"},
                           {"https://example.com/tenant", "X-Tenant"}});
    Headers h;
    ASSERT_EQ(build(f, R"({"sub":"alice","n":42,"admin":true,"roles":["a","b"],"mixed":["x",1,true,{"k":"v"}],
                        "obj":{"a":1,"b":"c"},"realm_access":{"roles":["r1","r2"]},"nul":null,
                        "https://example.com/tenant":"t1"})",
                    h),
              Status::ok);
    const Headers want{{"X-User", "alice"},     {"X-N", "42"},          {"X-Admin", "true"},
                       {"X-Roles", "a,b"},      {"X-Mixed", "x,1,true,{\"k\":\"v\"}"},
                       {"X-Obj", R"({"a":1,"b":"c"})"}, {"X-Realm", "r1,r2"}, {"X-Tenant", "t1"}};
    EXPECT_EQ(h, want);
}

TEST(ForwardClaims, DottedPathMisses) {
    const ForwardClaims f(Map{{"a.b.c", "X-C"}});
    Headers h;
    EXPECT_EQ(build(f, R"({"a":{"b":"str"}})", h), Status::ok);
    EXPECT_TRUE(h.empty());
    EXPECT_EQ(build(f, R"({"a":{"b":{"c":"deep"}}})", h), Status::ok);
    ASSERT_EQ(h.size(), 1u);
    EXPECT_EQ(h[0].second, "deep");
}

TEST(ForwardClaims, ControlCharactersAreRefused) {
    const ForwardClaims f(Map{{"sub", "X-User"}});
    Headers h;
    for (std::string bad : {"a\\r\\nX-Admin: 1", "a\\nb", "a\\u0000b", "a\\tb", "a\\u007fb", "a\\u001bb"}) {
        EXPECT_EQ(build(f, "{\"sub\":\"" + bad + "\"}", h), Status::claim_value_invalid) << bad;
    }
    const ForwardClaims arr(Map{{"roles", "X-Roles"}});
    EXPECT_EQ(build(arr, R"({"roles":["ok","bad\r\n"]})", h), Status::claim_value_invalid);
    // Inside an object the JSON escaping keeps the value on one line: allowed.
    const ForwardClaims obj(Map{{"o", "X-O"}});
    EXPECT_EQ(build(obj, R"({"o":{"k":"a\nb"}})", h), Status::ok);
    EXPECT_EQ(h[0].second, R"({"k":"a\nb"})");
    // UTF-8 is not a control character.
    EXPECT_EQ(build(f, R"({"sub":"Zoë"})", h), Status::ok);
}

Status rules(std::vector<std::pair<std::string, std::vector<std::string>>> r, std::string_view json) {
    return ClaimRules(std::move(r)).check(boost::json::parse(json).as_object());
}

TEST(ClaimRules, ListMembership) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> roles{{"roles", {"admin", "ops"}}};
    EXPECT_EQ(rules(roles, R"({"roles":["user","ops"]})"), Status::ok);
    EXPECT_EQ(rules(roles, R"({"roles":"admin"})"), Status::ok);
    EXPECT_EQ(rules(roles, R"({"roles":["user"]})"), Status::insufficient_scope);
    EXPECT_EQ(rules(roles, R"({"roles":"user"})"), Status::insufficient_scope);
    EXPECT_EQ(rules(roles, R"({})"), Status::insufficient_scope);
    EXPECT_EQ(rules({{"realm.roles", {"x"}}}, R"({"realm":{"roles":["x"]}})"), Status::ok);
    EXPECT_EQ(rules({{"level", {"3"}}}, R"({"level":3})"), Status::ok);
    EXPECT_EQ(rules({{"admin", {"true"}}}, R"({"admin":true})"), Status::ok);
    EXPECT_EQ(rules({}, R"({})"), Status::ok);
}

TEST(ClaimRules, Scopes) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> need{{"scope", {"orders:read", "orders:write"}}};
    EXPECT_EQ(rules(need, R"({"scope":"openid orders:read  orders:write"})"), Status::ok);
    EXPECT_EQ(rules(need, R"({"scope":"orders:read"})"), Status::insufficient_scope);
    EXPECT_EQ(rules(need, R"({"scope":"orders:reader orders:write"})"), Status::insufficient_scope);
    EXPECT_EQ(rules(need, R"({"scp":["orders:write","orders:read"]})"), Status::ok);
    EXPECT_EQ(rules(need, R"({"scope":["orders:write","orders:read"]})"), Status::ok);
    EXPECT_EQ(rules(need, R"({"scope":42})"), Status::insufficient_scope);
}

}  // namespace
}  // namespace authgate::jwt
