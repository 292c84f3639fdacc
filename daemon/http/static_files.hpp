#pragma once

// The nurse station page: the files of web/, built into vigild (cmake/EmbedWeb.cmake), served
// at / (index.html) and /static/<file>, GET and HEAD only, with a strict Content-Security-Policy
// (the page's own origin only: no CDN, no inline script) and ETags for revalidation.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <span>
#include <string_view>

namespace vigil::http {

/// One built-in file of the page.
struct web_file {
  std::string_view path;          // "/index.html", "/app.js": its path under web/
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view etag;          // quoted, from the file's SHA-256
  std::string_view body;
};

/// Every file of web/, sorted by path (generated).
std::span<const web_file> web_files();

/// The file for a path under web/ ("/app.js"), or null.
const web_file* find_web_file(std::string_view path);

/// The Content-Security-Policy sent with the page.
inline constexpr std::string_view page_csp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The answer for `/` and `/static/...`; nullopt for any other path (the API's).
std::optional<boost::beast::http::response<boost::beast::http::string_body>> serve_page(
    const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace vigil::http
