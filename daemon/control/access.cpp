#include "daemon/control/access.hpp"

#include "daemon/net/secret.hpp"

namespace vigil::control {

std::string_view name(role r) noexcept {
  switch (r) {
    case role::viewer: return "viewer";
    case role::nurse: return "nurse";
    case role::admin: return "admin";
  }
  return "unknown";
}

std::optional<role> role_from_name(std::string_view text) noexcept {
  for (const auto r : {role::viewer, role::nurse, role::admin}) {
    if (name(r) == text) return r;
  }
  return std::nullopt;
}

const user* find_user(const std::vector<user>& users, std::string_view token) {
  if (token.empty()) return nullptr;
  const user* found = nullptr;
  for (const auto& u : users) {
    if (net::same_secret(u.token, token)) found = &u;
  }
  return found;
}

}  // namespace vigil::control
