// Durations, sizes and ${ENV} expansion: the scalar-level grammar of the config file.
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>

#include "config/loader.h"

namespace authgate::config {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Leading decimal digits of `text` (consumed) as a number; nullopt when there are none
// or they overflow.
std::optional<std::uint64_t> take_number(std::string_view& text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    return value;
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t limit) { return b != 0 && a > limit / b; }

struct DurationUnit {
    std::string_view name;
    std::uint64_t ms;
};
// Largest first: a combination must list units in this order, each at most once, so
// "30m5h" or "5s5s" (likely typos) are rejected.
constexpr DurationUnit duration_units[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};

struct SizeUnit {
    std::string_view name;
    std::uint64_t bytes;
};
constexpr SizeUnit size_units[] = {
    {"B", 1},
    {"KB", 1000ULL},
    {"MB", 1000ULL * 1000},
    {"GB", 1000ULL * 1000 * 1000},
    {"TB", 1000ULL * 1000 * 1000 * 1000},
    {"KiB", 1ULL << 10},
    {"MiB", 1ULL << 20},
    {"GiB", 1ULL << 30},
    {"TiB", 1ULL << 40},
};

bool is_env_name(std::string_view name) {
    if (name.empty() || is_digit(name.front())) return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
    // Duration counts milliseconds in an int64.
    constexpr auto max_ms = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
    if (text.empty()) return std::nullopt;

    std::string_view rest = text;
    auto first = take_number(rest);
    if (!first) return std::nullopt;
    if (rest.empty()) {  // bare integer = seconds
        if (mul_overflows(*first, 1000, max_ms)) return std::nullopt;
        return Duration(static_cast<Duration::rep>(*first * 1000));
    }

    std::uint64_t total = 0;
    std::size_t next_unit = 0;  // index into duration_units: units must descend
    std::optional<std::uint64_t> number = first;
    while (true) {
        std::size_t letters = 0;
        while (letters < rest.size() && std::isalpha(static_cast<unsigned char>(rest[letters]))) ++letters;
        std::string_view unit = rest.substr(0, letters);
        rest.remove_prefix(letters);

        std::size_t u = next_unit;
        while (u < std::size(duration_units) && duration_units[u].name != unit) ++u;
        if (u == std::size(duration_units)) return std::nullopt;  // unknown, repeated or out of order
        next_unit = u + 1;

        if (mul_overflows(*number, duration_units[u].ms, max_ms)) return std::nullopt;
        std::uint64_t part = *number * duration_units[u].ms;
        if (part > max_ms - total) return std::nullopt;
        total += part;

        if (rest.empty()) break;
        number = take_number(rest);
        if (!number) return std::nullopt;
    }
    return Duration(static_cast<Duration::rep>(total));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::string_view rest = text;
    auto number = take_number(rest);
    if (!number) return std::nullopt;  // also rejects "-1" and "" 
    if (rest.empty()) return number;
    if (rest.front() == ' ') rest.remove_prefix(1);  // "16 KiB" reads naturally too
    for (const auto& unit : size_units) {
        if (unit.name != rest) continue;
        if (mul_overflows(*number, unit.bytes, std::numeric_limits<std::uint64_t>::max())) return std::nullopt;
        return *number * unit.bytes;
    }
    return std::nullopt;
}

std::optional<std::string> expand_env(std::string_view text, std::string& missing) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t start = text.find("${", pos);
        std::size_t close = start == std::string_view::npos ? start : text.find('}', start + 2);
        if (close == std::string_view::npos) {  // no (complete) reference left: rest is literal
            out.append(text.substr(pos));
            break;
        }
        out.append(text.substr(pos, start - pos));
        std::string_view inner = text.substr(start + 2, close - start - 2);
        std::size_t sep = inner.find(":-");
        std::string name(inner.substr(0, sep));
        if (!is_env_name(name)) {
            // Not a variable reference (e.g. a regex quantifier "${2}"): keep it literally.
            out.append(text.substr(start, close + 1 - start));
            pos = close + 1;
            continue;
        }
        const char* value = std::getenv(name.c_str());
        if (sep != std::string_view::npos) {
            // Shell semantics: ":-" also replaces a variable that is set but empty.
            out.append(value && *value ? std::string_view(value) : inner.substr(sep + 2));
        } else if (value) {
            out.append(value);
        } else {
            missing = name;
            return std::nullopt;
        }
        pos = close + 1;
    }
    return out;
}

}  // namespace authgate::config
