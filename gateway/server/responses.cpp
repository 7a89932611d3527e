#include "server/responses.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/string.hpp>

#include "observe/access_log.h"

namespace authgate::server {
namespace beast = boost::beast;

http::response<http::string_body> error_response(const Reply& reply) {
    http::response<http::string_body> res{reply.status, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    if (!reply.www_authenticate.empty()) res.set(http::field::www_authenticate, reply.www_authenticate);
    if (reply.retry_after) res.set(http::field::retry_after, "5");
    std::string body = "{\"error\":";
    observe::append_json_string(body, reply.error);
    body += ",\"error_description\":";
    observe::append_json_string(body, reply.description);
    body += "}\n";
    res.body() = std::move(body);
    return res;
}

Reply upstream_failure(proxy::UpstreamError error, bool close) {
    const bool timeout = proxy::status_of(error) == 504;
    // A timed-out upstream may still be reading the request: the client's connection ends too.
    return Reply::make(timeout ? http::status::gateway_timeout : http::status::bad_gateway,
                       timeout ? "gateway_timeout" : "bad_gateway", std::string(proxy::to_string(error)),
                       close || timeout);
}

BodyFailure body_failure(const boost::system::error_code& ec) {
    if (ec == http::error::body_limit) return BodyFailure::too_large;
    if (ec == http::error::header_limit) return BodyFailure::trailers_too_large;
    if (ec == boost::asio::error::timed_out) return BodyFailure::timeout;  // the request_body deadline
    // The parser refused the body's framing: answer it. A client that went away mid-body
    // (or idled out) has nothing left to answer.
    if (ec.category() == http::make_error_code(http::error::bad_chunk).category() && ec != http::error::partial_message &&
        ec != http::error::end_of_stream)
        return BodyFailure::bad_framing;
    return BodyFailure::gone;
}

Reply body_failure_reply(BodyFailure failure) {
    switch (failure) {
        case BodyFailure::too_large:
            return Reply::make(http::status::payload_too_large, "body_too_large", "request body larger than max_body_bytes",
                               true);
        case BodyFailure::trailers_too_large:
            return Reply::make(http::status::request_header_fields_too_large, "header_too_large",
                               "request trailers larger than max_header_bytes", true);
        case BodyFailure::timeout:
            return Reply::make(http::status::request_timeout, "request_timeout",
                               "request body not received within request_body", true);
        case BodyFailure::bad_framing:
        case BodyFailure::gone: break;
    }
    return Reply::make(http::status::bad_request, "bad_request", "malformed request body framing", true);
}

http::response<http::string_body> preflight_response(const Exchange& ex, cors::OriginCache* cache) {
    const auto& req = ex.parser.get();
    http::response<http::string_body> res{http::status::no_content, 11};
    FieldSink sink(res);
    auto acrh = req.find("Access-Control-Request-Headers");
    auto acrpn = req.find("Access-Control-Request-Private-Network");
    bool pna = acrpn != req.end() && beast::iequals(acrpn->value(), "true");
    ex.cors->preflight(ex.origin, req["Access-Control-Request-Method"],
                       acrh == req.end() ? std::string_view() : std::string_view(acrh->value()), pna, cache, sink);
    if (!ex.cors->wildcard()) proxy::merge_vary(res, "Origin");
    proxy::merge_vary(res, "Access-Control-Request-Method");
    proxy::merge_vary(res, "Access-Control-Request-Headers");
    return res;
}

bool finish_local(const Exchange& ex, http::response<http::string_body>& res, bool close, bool cors_done,
                  bool draining, cors::OriginCache* cache) {
    // An unread request body would be parsed as the next request: close instead.
    bool keep = !close && ex.keep_alive && ex.version == 11 && ex.parser.is_header_done() && ex.parser.is_done() &&
                !draining;
    if (!cors_done) add_cors(ex, res, cache);
    if (!ex.request_id.empty()) res.set("X-Request-Id", ex.request_id);
    res.keep_alive(keep);
    res.prepare_payload();
    return keep;
}

}  // namespace authgate::server
