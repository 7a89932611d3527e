#include "jwt/base64url.h"

#include <array>

namespace authgate::jwt {
namespace {

constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// 0..63 for alphabet characters, 0xff otherwise; `url` selects -_ versus +/.
constexpr std::array<std::uint8_t, 256> make_table(bool url, bool both) {
    std::array<std::uint8_t, 256> t{};
    for (auto& v : t) v = 0xff;
    for (int i = 0; i < 26; ++i) {
        t['A' + i] = static_cast<std::uint8_t>(i);
        t['a' + i] = static_cast<std::uint8_t>(26 + i);
    }
    for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<std::uint8_t>(52 + i);
    if (url || both) {
        t['-'] = 62;
        t['_'] = 63;
    }
    if (!url || both) {
        t['+'] = 62;
        t['/'] = 63;
    }
    return t;
}

constexpr auto kUrlTable = make_table(true, false);
constexpr auto kAnyTable = make_table(false, true);

}  // namespace

bool base64url_decode(std::string_view in, std::string& out) {
    const std::size_t rem = in.size() % 4;
    if (rem == 1) return false;  // 6 bits cannot make a byte
    const std::size_t full = in.size() - rem;
    const std::size_t start = out.size();
    // Sized once and written through a pointer: push_back per byte (a capacity check
    // each) made this cost several times more than the table lookups.
    out.resize(start + full / 4 * 3 + (rem == 0 ? 0 : rem - 1));
    char* dst = out.data() + start;
    const auto* src = reinterpret_cast<const unsigned char*>(in.data());
    std::uint8_t bad = 0;
    for (std::size_t i = 0; i < full; i += 4) {
        const std::uint8_t a = kUrlTable[src[i]];
        const std::uint8_t b = kUrlTable[src[i + 1]];
        const std::uint8_t c = kUrlTable[src[i + 2]];
        const std::uint8_t d = kUrlTable[src[i + 3]];
        bad |= a | b | c | d;
        const std::uint32_t v = (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) | (std::uint32_t{c} << 6) | d;
        dst[0] = static_cast<char>(v >> 16);
        dst[1] = static_cast<char>((v >> 8) & 0xff);
        dst[2] = static_cast<char>(v & 0xff);
        dst += 3;
    }
    if (rem == 2) {
        const std::uint8_t a = kUrlTable[src[full]];
        const std::uint8_t b = kUrlTable[src[full + 1]];
        bad |= a | b;
        if (b & 0x0f) bad |= 0xc0;  // non-canonical: unused low bits must be zero
        dst[0] = static_cast<char>((a << 2) | (b >> 4));
    } else if (rem == 3) {
        const std::uint8_t a = kUrlTable[src[full]];
        const std::uint8_t b = kUrlTable[src[full + 1]];
        const std::uint8_t c = kUrlTable[src[full + 2]];
        bad |= a | b | c;
        if (c & 0x03) bad |= 0xc0;
        dst[0] = static_cast<char>((a << 2) | (b >> 4));
        dst[1] = static_cast<char>(((b & 0x0f) << 4) | (c >> 2));
    }
    if (bad & 0xc0) {
        out.resize(start);  // nothing of a rejected input is left behind
        return false;
    }
    return true;
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                                static_cast<unsigned char>(bytes[i + 2]);
        out.push_back(kUrlAlphabet[v >> 18]);
        out.push_back(kUrlAlphabet[(v >> 12) & 63]);
        out.push_back(kUrlAlphabet[(v >> 6) & 63]);
        out.push_back(kUrlAlphabet[v & 63]);
    }
    const std::size_t rem = bytes.size() - i;
    if (rem == 1) {
        const std::uint32_t v = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
        out.push_back(kUrlAlphabet[v >> 18]);
        out.push_back(kUrlAlphabet[(v >> 12) & 63]);
    } else if (rem == 2) {
        const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
        out.push_back(kUrlAlphabet[v >> 18]);
        out.push_back(kUrlAlphabet[(v >> 12) & 63]);
        out.push_back(kUrlAlphabet[(v >> 6) & 63]);
    }
    return out;
}

bool base64_decode_any(std::string_view in, std::string& out) {
    // Normalise to the unpadded url-safe form, then reuse the strict decoder but without
    // the canonical-bits rule: operators paste secrets from many tools.
    std::string clean;
    clean.reserve(in.size());
    bool padding = false;
    for (char ch : in) {
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') continue;
        if (ch == '=') {
            padding = true;
            continue;
        }
        if (padding) return false;  // data after padding
        const std::uint8_t v = kAnyTable[static_cast<unsigned char>(ch)];
        if (v == 0xff) return false;
        clean.push_back(kUrlAlphabet[v]);
    }
    if (clean.size() % 4 == 1) return false;
    // Clear non-canonical trailing bits so the strict decoder accepts the value.
    const std::size_t rem = clean.size() % 4;
    if (rem == 2 || rem == 3) {
        const std::uint8_t mask = rem == 2 ? 0x30 : 0x3c;
        const std::uint8_t v = kUrlTable[static_cast<unsigned char>(clean.back())] & mask;
        clean.back() = kUrlAlphabet[v];
    }
    return base64url_decode(clean, out);
}

}  // namespace authgate::jwt
