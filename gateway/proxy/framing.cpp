#include "proxy/framing.h"

#include <charconv>

#include "config/strings.h"

namespace authgate::proxy {

bool connection_names_framing(std::string_view list) {
    bool found = false;
    strings::for_each_list_item(list, [&](std::string_view t) {
        found = found || strings::iequals(t, "host") || strings::iequals(t, "content-length") ||
                strings::iequals(t, "transfer-encoding");
    });
    return found;
}

std::optional<http::error> stalled_chunk_framing(std::string_view unparsed, std::size_t trailer_limit) {
    // The CRLF that ends the previous chunk's data is parsed with the next size line.
    if (unparsed.starts_with("\r\n")) unparsed.remove_prefix(2);
    const auto eol = unparsed.find("\r\n");
    if (eol == std::string_view::npos) {
        if (unparsed.size() > kMaxChunkLine) return http::error::bad_chunk;
        return std::nullopt;
    }
    // A whole size line that did not parse on is the last chunk's: its trailers are pending.
    if (eol > kMaxChunkLine) return http::error::bad_chunk;
    if (unparsed.size() - eol - 2 > trailer_limit) return http::error::header_limit;
    return std::nullopt;
}

Frame frame(std::string_view head, const char* data, std::size_t n, bool chunked, bool last, char (&line)[24]) {
    Frame f{};
    std::size_t i = 0;
    if (!head.empty()) f[i++] = boost::asio::buffer(head.data(), head.size());
    if (n > 0) {
        if (chunked) {
            char* end = std::to_chars(line, line + 20, n, 16).ptr;
            *end++ = '\r';
            *end++ = '\n';
            f[i++] = boost::asio::buffer(line, static_cast<std::size_t>(end - line));
        }
        f[i++] = boost::asio::buffer(data, n);
        if (chunked) f[i++] = boost::asio::buffer("\r\n", 2);
    }
    if (chunked && last) f[i++] = boost::asio::buffer("0\r\n\r\n", 5);
    return f;
}

}  // namespace authgate::proxy
