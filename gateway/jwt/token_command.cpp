#include "jwt/token_command.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/json/parse.hpp>

#include "jwt/signer.h"

namespace authgate::jwt {
namespace {

constexpr const char* kUsage =
    "usage: authgate token --alg ALG (--secret S | --key PRIVATE.pem) [--kid K] [--iss I] [--aud A]\n"
    "                      [--sub S] [--ttl 1h] [--claim name=value ...] [--claim-json 'name=JSON' ...]\n";

int usage_error(const std::string& message) {
    std::cerr << "authgate token: " << message << "\n" << kUsage;
    return 2;
}

// "90", "30s", "5m", "1h", "2d", also combined ("1h30m").
bool parse_ttl(std::string_view text, std::int64_t& seconds) {
    if (text.empty()) return false;
    seconds = 0;
    std::int64_t number = -1;
    for (char c : text) {
        if (c >= '0' && c <= '9') {
            number = (number < 0 ? 0 : number) * 10 + (c - '0');
            if (number > 100LL * 365 * 86400) return false;
            continue;
        }
        if (number < 0) return false;
        const std::int64_t unit = c == 's' ? 1 : c == 'm' ? 60 : c == 'h' ? 3600 : c == 'd' ? 86400 : 0;
        if (unit == 0) return false;
        seconds += number * unit;
        number = -1;
    }
    if (number >= 0) seconds += number;  // bare seconds
    return seconds > 0;
}

}  // namespace

int token_command(int argc, char** argv) {
    std::string alg_name, secret, key_file, kid, iss, aud, sub, ttl = "1h";
    bool have_secret = false;
    boost::json::object extra;
    // argv[0] may be "token" (as dispatched by main) or the program name; skip either.
    int i = 1;
    if (argc > 0 && argv[0] && std::strcmp(argv[0], "token") != 0 && argc > 1 && std::strcmp(argv[1], "token") == 0)
        i = 2;
    for (; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&](std::string& into) -> bool {
            if (i + 1 >= argc) return false;
            into = argv[++i];
            return true;
        };
        std::string v;
        if (arg == "--help" || arg == "-h") {
            std::cout << kUsage;
            return 0;
        } else if (arg == "--alg") {
            if (!value(alg_name)) return usage_error("--alg needs a value");
        } else if (arg == "--secret") {
            if (!value(secret)) return usage_error("--secret needs a value");
            have_secret = true;
        } else if (arg == "--key") {
            if (!value(key_file)) return usage_error("--key needs a value");
        } else if (arg == "--kid") {
            if (!value(kid)) return usage_error("--kid needs a value");
        } else if (arg == "--iss") {
            if (!value(iss)) return usage_error("--iss needs a value");
        } else if (arg == "--aud") {
            if (!value(aud)) return usage_error("--aud needs a value");
        } else if (arg == "--sub") {
            if (!value(sub)) return usage_error("--sub needs a value");
        } else if (arg == "--ttl") {
            if (!value(ttl)) return usage_error("--ttl needs a value");
        } else if (arg == "--claim" || arg == "--claim-json") {
            if (!value(v)) return usage_error(arg + " needs name=value");
            const auto eq = v.find('=');
            if (eq == std::string::npos || eq == 0) return usage_error(arg + " needs name=value, got " + v);
            const std::string name = v.substr(0, eq);
            const std::string text = v.substr(eq + 1);
            if (arg == "--claim") {
                extra[name] = text;
            } else {
                boost::system::error_code ec;
                auto parsed = boost::json::parse(text, ec);
                if (ec) return usage_error("--claim-json " + name + ": not JSON: " + ec.message());
                extra[name] = std::move(parsed);
            }
        } else {
            return usage_error("unknown argument " + arg);
        }
    }
    if (alg_name.empty()) return usage_error("--alg is required");
    const auto alg = parse_algorithm(alg_name);
    if (!alg) return usage_error("unsupported algorithm " + alg_name);
    if (have_secret == !key_file.empty()) return usage_error("give exactly one of --secret and --key");
    std::int64_t ttl_s = 0;
    if (!parse_ttl(ttl, ttl_s)) return usage_error("bad --ttl " + ttl);

    KeyResult key;
    if (have_secret) {
        key = Key::from_secret(secret);
    } else {
        std::ifstream in(key_file, std::ios::binary);
        if (!in) return usage_error("cannot read " + key_file);
        std::ostringstream ss;
        ss << in.rdbuf();
        key = Key::from_private_pem(ss.str());
    }
    if (!key.key) return usage_error(key.error);
    if (!key.key->compatible(*alg)) return usage_error("the key cannot sign " + alg_name);

    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    boost::json::object header{{"typ", "JWT"}};
    if (!kid.empty()) header["kid"] = kid;
    boost::json::object payload;
    if (!iss.empty()) payload["iss"] = iss;
    if (!aud.empty()) payload["aud"] = aud;
    if (!sub.empty()) payload["sub"] = sub;
    payload["iat"] = now;
    payload["exp"] = now + ttl_s;
    for (auto& kv : extra) payload[kv.key()] = kv.value();
    auto token = make_token(*alg, *key.key, std::move(header), payload);
    if (!token) return usage_error("signing failed");
    std::cout << *token << "\n";
    return 0;
}

}  // namespace authgate::jwt
