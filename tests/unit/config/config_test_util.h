// Shared helpers for the config loader tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

#include <unistd.h>

#include "config/loader.h"

namespace authgate::config::test {

// Every inline test config is named like this; relative paths resolve against /etc/authgate.
inline const std::string kFile = "/etc/authgate/gateway.yaml";

struct Loaded {
    std::optional<Config> cfg;
    Diagnostics diag;
};

inline Loaded load(std::string_view yaml, const std::string& file = kFile) {
    Loaded out;
    out.cfg = load_string(yaml, file, out.diag);
    return out;
}

inline std::string dump(const std::vector<std::string>& messages) {
    std::string out;
    for (const auto& m : messages) out += "\n  " + m;
    return out.empty() ? " (none)" : out;
}

// True when one message starts with "FILE:LINE:COL: " and contains `text`.
inline ::testing::AssertionResult has_message(const std::vector<std::string>& messages, const std::string& file,
                                              int line, int col, std::string_view text) {
    const std::string prefix = file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": ";
    for (const auto& m : messages)
        if (m.rfind(prefix, 0) == 0 && m.find(text) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no message at " << line << ":" << col << " containing '" << text
                                         << "'; got:" << dump(messages);
}

inline ::testing::AssertionResult has_error(const Loaded& l, int line, int col, std::string_view text,
                                            const std::string& file = kFile) {
    return has_message(l.diag.errors(), file, line, col, text);
}

inline ::testing::AssertionResult has_warning(const Loaded& l, int line, int col, std::string_view text,
                                              const std::string& file = kFile) {
    return has_message(l.diag.warnings(), file, line, col, text);
}

inline ::testing::AssertionResult loaded_ok(const Loaded& l) {
    if (l.cfg && l.diag.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "load failed:" << dump(l.diag.errors());
}

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
public:
    TempDir() {
        auto base = std::filesystem::temp_directory_path();
        for (int i = 0;; ++i) {
            path_ = base / ("authgate-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(i));
            if (std::filesystem::create_directory(path_)) break;
        }
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

    // Writes `content` to the relative path `name` (creating folders); returns the full path.
    std::string write(const std::string& name, std::string_view content) const {
        auto full = path_ / name;
        std::filesystem::create_directories(full.parent_path());
        std::ofstream(full, std::ios::binary) << content;
        return full.string();
    }

private:
    std::filesystem::path path_;
};

// Sets an environment variable for the scope of a test.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            ::setenv(name_.c_str(), old_->c_str(), 1);
        else
            ::unsetenv(name_.c_str());
    }

private:
    std::string name_;
    std::optional<std::string> old_;
};

}  // namespace authgate::config::test
