#include "jwt/token_command.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include <boost/json/parse.hpp>

#include "cli/command_line.h"
#include "config/files.h"
#include "jwt/signer.h"

namespace authgate::jwt {
namespace {

constexpr std::string_view kUsage =
    "usage: authgate token --alg ALG (--secret S | --secret-file FILE | --secret-env VAR | --key PRIVATE.pem)\n"
    "                      [--kid K] [--typ JWT] [--iss I] [--aud A] [--sub S] [--ttl 1h]\n"
    "                      [--claim name=value ...] [--claim-json 'name=JSON' ...]\n"
    "--secret-file and --secret-env keep the secret out of the process list and shell history;\n"
    "a file's trailing newline is not part of the secret.\n";
constexpr cli::Command kCommand{"authgate token", kUsage};

int usage_error(const std::string& message) { return cli::usage_error(std::cerr, kCommand, message); }

// The HMAC secret from whichever of --secret, --secret-file and --secret-env was given.
std::optional<std::string> secret_from(const cli::Parsed& args, std::string& error) {
    if (args.has("secret")) return args.text("secret");
    if (args.has("secret-file")) {
        const std::string path = args.text("secret-file");
        auto text = config::read_file(path, &error);
        if (!text) return std::nullopt;
        // `echo secret > file` and editors end the file with a newline the issuer's secret lacks.
        if (text->ends_with('\n')) text->pop_back();
        if (text->ends_with('\r')) text->pop_back();
        if (text->empty()) {
            error = "--secret-file " + path + " is empty";
            return std::nullopt;
        }
        return text;
    }
    const std::string var = args.text("secret-env");
    const char* value = std::getenv(var.c_str());
    if (!value || !*value) {
        error = "--secret-env: environment variable " + var + (value ? " is empty" : " is not set");
        return std::nullopt;
    }
    return std::string(value);
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
    // argv[0] may be "token" (as dispatched by main) or the program name; skip either.
    if (argc > 1 && argv[0] && std::strcmp(argv[0], "token") != 0 && std::strcmp(argv[1], "token") == 0) {
        --argc;
        ++argv;
    }
    namespace po = cli::po;
    po::options_description options;
    options.add_options()
        ("help,h", po::bool_switch())
        ("alg", po::value<std::string>())
        ("secret", po::value<std::string>())
        ("secret-file", po::value<std::string>())
        ("secret-env", po::value<std::string>())
        ("key", po::value<std::string>())
        ("kid", po::value<std::string>())
        ("typ", po::value<std::string>())
        ("iss", po::value<std::string>())
        ("aud", po::value<std::string>())
        ("sub", po::value<std::string>())
        ("ttl", po::value<std::string>())
        ("claim", po::value<std::vector<std::string>>())
        ("claim-json", po::value<std::vector<std::string>>());
    const auto args = cli::parse(argc, argv, options, kCommand, std::cerr);
    if (!args) return cli::kUsage;
    if (args->values["help"].as<bool>()) {
        std::cout << kUsage;
        return 0;
    }

    // In command-line order: a claim given twice takes its last value.
    boost::json::object extra;
    for (const auto& o : args->in_order) {
        if (o.string_key != "claim" && o.string_key != "claim-json") continue;
        const std::string flag = "--" + o.string_key;
        const std::string& v = o.value.front();
        const auto eq = v.find('=');
        if (eq == std::string::npos || eq == 0) return usage_error(flag + " needs name=value, got " + v);
        const std::string name = v.substr(0, eq);
        const std::string text = v.substr(eq + 1);
        if (o.string_key == "claim") {
            extra[name] = text;
        } else {
            boost::system::error_code ec;
            auto parsed = boost::json::parse(text, ec);
            if (ec) return usage_error("--claim-json " + name + ": not JSON: " + ec.message());
            extra[name] = std::move(parsed);
        }
    }
    const std::string alg_name = args->text("alg");
    if (alg_name.empty()) return usage_error("--alg is required");
    const auto alg = parse_algorithm(alg_name);
    if (!alg) return usage_error("unsupported algorithm " + alg_name);
    const int sources = static_cast<int>(args->has("secret") + args->has("secret-file") + args->has("secret-env") +
                                         args->has("key"));
    if (sources != 1) return usage_error("give exactly one of --secret, --secret-file, --secret-env and --key");
    const std::string ttl = args->text("ttl", "1h");
    const std::string key_file = args->text("key");
    const std::string kid = args->text("kid"), iss = args->text("iss"), aud = args->text("aud"),
                      sub = args->text("sub");
    std::int64_t ttl_s = 0;
    if (!parse_ttl(ttl, ttl_s)) return usage_error("bad --ttl " + ttl);

    KeyResult key;
    std::string error;
    if (!args->has("key")) {
        const auto secret = secret_from(*args, error);
        if (!secret) return usage_error(error);
        key = Key::from_secret(*secret);
    } else {
        const auto pem = config::read_file(key_file, &error);
        if (!pem) return usage_error(error);
        key = Key::from_private_pem(*pem);
    }
    if (!key.key) return usage_error(key.error);
    if (!key.key->compatible(*alg)) return usage_error("the key cannot sign " + alg_name);

    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    // --typ at+jwt for a provider with `types`; --typ "" leaves typ out.
    boost::json::object header;
    if (const std::string typ = args->text("typ", "JWT"); !typ.empty()) header["typ"] = typ;
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
