// Helpers shared by the CORS tests: a sink that records headers in order, and policy
// configs built in code with file positions filled in by hand.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "cors/policy.h"

namespace authgate::cors::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

class RecordingSink : public HeaderSink {
public:
    void set(std::string_view name, std::string_view value) override { headers.emplace_back(name, value); }
    Headers headers;
};

// A policy with no defaults that would surprise a test: empty lists unless set.
inline config::CorsPolicy bare_policy(std::string name = "web") {
    config::CorsPolicy p;
    p.name = std::move(name);
    p.allow_methods.clear();
    p.allow_headers.clear();
    p.marks.self = {"cfg.yaml", 10, 5};
    return p;
}

// Gives list item i of `list` the position line:col in cfg.yaml.
inline void mark(config::CorsPolicy& p, const std::string& list, std::size_t i, int line, int col) {
    p.marks.keys[list + "[" + std::to_string(i) + "]"] = config::Mark{"cfg.yaml", line, col};
}

// gtest without gmock (only gtest is linked): string checks with a readable failure.
inline ::testing::AssertionResult starts_with(const std::string& text, const std::string& prefix) {
    if (text.rfind(prefix, 0) == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "\"" << text << "\"\n  does not start with\n\"" << prefix << "\"";
}
inline ::testing::AssertionResult has_substr(const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "\"" << text << "\"\n  does not contain\n\"" << part << "\"";
}

inline std::shared_ptr<const Policy> compile(const config::CorsPolicy& cfg) {
    config::Diagnostics diag;
    auto policy = Policy::create(cfg, diag);
    EXPECT_TRUE(diag.ok()) << (diag.errors().empty() ? "" : diag.errors().front());
    return policy;
}

inline Headers actual_headers(const Policy& p, std::string_view origin, OriginCache* cache = nullptr) {
    RecordingSink sink;
    p.actual(origin, cache, sink);
    return sink.headers;
}

}  // namespace authgate::cors::test
