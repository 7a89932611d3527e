// Finding a claim by name or dotted path ("realm_access.roles").
#pragma once

#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace authgate::jwt {

// The literal member wins (claim names may contain dots, e.g. URL-named claims); otherwise
// each dot steps into a nested object. nullptr when absent.
inline const boost::json::value* find_claim(const boost::json::object& payload, std::string_view path) {
    if (const auto* v = payload.if_contains(path)) return v;
    const boost::json::object* obj = &payload;
    for (;;) {
        const std::size_t dot = path.find('.');
        const std::string_view part = path.substr(0, dot);
        const auto* v = obj->if_contains(part);
        if (!v || dot == std::string_view::npos) return v;
        obj = v->if_object();
        if (!obj) return nullptr;
        path.remove_prefix(dot + 1);
    }
}

}  // namespace authgate::jwt
