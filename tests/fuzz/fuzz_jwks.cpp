// libFuzzer: JWKS documents (and single JWKs) from an untrusted issuer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json/parse.hpp>

#include "jwt/jwks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto result = authgate::jwt::parse_jwks(input);
    (void)result;
    boost::system::error_code ec;
    auto value = boost::json::parse(input, ec);
    if (!ec && value.is_object()) (void)authgate::jwt::Key::from_jwk(value.get_object());
    return 0;
}
