#include "daemon/http/static_files.hpp"

#include "daemon/http/api.hpp"
#include "daemon/http/router.hpp"

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace vigil::http {

namespace bh = boost::beast::http;

namespace {

constexpr std::string_view static_prefix = "/static/";

/// Whether the If-None-Match header names `etag` (or is "*").
bool matches(const request& req, std::string_view etag) {
  const auto it = req.find(bh::field::if_none_match);
  if (it == req.end()) return false;
  std::string_view list(it->value().data(), it->value().size());
  while (!list.empty()) {
    const auto comma = list.find(',');
    auto item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
  }
  return false;
}

}  // namespace

const web_file* find_web_file(std::string_view path) {
  const auto files = web_files();
  const auto it = std::find_if(files.begin(), files.end(), [&](const web_file& f) { return f.path == path; });
  return it == files.end() ? nullptr : &*it;
}

std::optional<response> serve_page(const request& req) {
  const std::string_view target(req.target().data(), req.target().size());
  const auto path = path_of(target);
  const web_file* file = nullptr;
  if (path == "/") {
    file = find_web_file("/index.html");
  } else if (path.starts_with(static_prefix)) {
    file = find_web_file(path.substr(static_prefix.size() - 1));
    if (file != nullptr && file->path == "/index.html") file = nullptr;  // the page itself is at / only
  } else {
    return std::nullopt;
  }
  if (req.method() != bh::verb::get && req.method() != bh::verb::head) {
    auto r = error_response(status::method_not_allowed, "method_not_allowed", "the page takes GET, HEAD");
    r.set(bh::field::allow, "GET, HEAD");
    return r;
  }
  if (file == nullptr) {
    return error_response(status::not_found, "not_found", fmt::format("no file {} in the nurse station page", path));
  }
  response r(matches(req, file->etag) ? status::not_modified : status::ok, 11);
  r.set(bh::field::etag, file->etag);
  // Revalidated on every load: a station must never run yesterday's script after an upgrade.
  r.set(bh::field::cache_control, "no-cache");
  r.set("Content-Security-Policy", page_csp);
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "no-referrer");
  r.set(bh::field::x_frame_options, "DENY");
  if (r.result() == status::ok) {
    r.set(bh::field::content_type, file->content_type);
    r.body() = std::string(file->body);
  }
  return r;
}

}  // namespace vigil::http
