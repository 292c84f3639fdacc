#pragma once

// Session tokens handed out by POST /api/v1/signin: each stands for one configured user (name
// and role) until it expires or is signed out. Held in memory only: a restart signs everyone out.

#include "daemon/control/access.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vigil::http {

class sign_ins {
 public:
  using clock = std::chrono::system_clock;

  /// A session token issued, and when it stops being accepted.
  struct issued {
    std::string token;
    clock::time_point expires;
  };

  /// `valid_for`: how long a session token is accepted; `max_live`: how many are held at once
  /// (past it the one that expires first is dropped).
  explicit sign_ins(std::chrono::seconds valid_for, std::size_t max_live = default_max_live);

  /// A new random session token for `who`, valid from `now`.
  issued issue(const control::user& who, clock::time_point now);
  /// The user `token` stands for at `now`, if it is a live session token.
  std::optional<control::user> find(std::string_view token, clock::time_point now);
  /// Ends the session of `token`; whether there was one live at `now`.
  bool revoke(std::string_view token, clock::time_point now);
  /// Session tokens held (expired ones may be counted until the next issue drops them).
  std::size_t size() const;

  static constexpr std::size_t default_max_live = 10'000;

 private:
  struct entry {
    control::user who;
    clock::time_point expires;
    std::uint64_t order;  // key in by_expiry_
  };

  /// Keyed by a hash of the token, not the token: a lookup's timing then says nothing about
  /// which characters of a guessed token are right.
  static std::string key_of(std::string_view token);
  void drop(std::unordered_map<std::string, entry>::iterator it);

  std::chrono::seconds valid_for_;
  std::size_t max_live_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> live_;
  std::map<std::uint64_t, std::string> by_expiry_;  // issue order, which is expiry order: one validity for all
  std::uint64_t next_order_ = 0;
};

/// The user a bearer token stands for on the HTTP listener (REST and the WebSocket feed):
/// `configured`, the configured user whose token it is (already looked up), else the user of a
/// live session token in `sessions` (null: none are accepted).
std::optional<control::user> user_of(const control::user* configured, sign_ins* sessions, std::string_view token);

/// A random secret: `bytes` random bytes from libsodium, as lower-case hex.
std::string random_token(std::size_t bytes = 32);

}  // namespace vigil::http
