#pragma once

// Who may do what. Every person or system that reads feeds or changes state has a user entry
// in the configuration: a name (recorded with every change they make), a token and a role, and
// for people who sign in at the nurse station, a password hash.
// Monitors are not users: they have device tokens (ingest.devices) and may only stream.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::control {

/// Roles, each allowed everything the one before it is.
enum class role : std::uint8_t {
  viewer = 1,  // feeds, sessions, timelines, reports
  nurse = 2,   // and acknowledge alarms, pause audio, add notes
  admin = 3,   // and open, dose, override, close and abort sessions
};

struct user {
  std::string name;
  // What vigild knows the user by: the configured token, or for a user with only a password
  // hash, a random one made at load that nobody is shown.
  std::string token;
  control::role role = control::role::viewer;
  // An Argon2id string (libsodium's crypto_pwhash_str) for signing in on the HTTP listener;
  // empty: the user cannot sign in with a password.
  std::string password_hash{};
};

std::string_view name(role r) noexcept;
std::optional<role> role_from_name(std::string_view text) noexcept;

/// The user holding `token`, if any (compared without stopping at the first difference).
const user* find_user(const std::vector<user>& users, std::string_view token);

}  // namespace vigil::control
