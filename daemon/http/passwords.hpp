#pragma once

// Users' passwords: the Argon2id hashes of the configuration (libsodium's crypto_pwhash_str),
// checked when a user signs in. vigild never sees a password but in a sign-in's body.

#include "daemon/control/access.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace vigil::http {

/// Whether `hash` is an Argon2id string libsodium can check a password against
/// ("$argon2id$v=19$m=...,t=...,p=...$salt$hash").
bool is_argon2id_hash(std::string_view hash);

/// Checks a user name and password against the users' hashes. A name that is no one's, and a
/// user without a hash, are checked against a dummy hash of the same cost, so that the time
/// taken does not tell whether a name exists. Slow by design (Argon2id, about 0.1 s of one CPU
/// with the limits of vigilctl hash-secret): never call it on the I/O thread. Safe to call
/// from any thread.
class password_check {
 public:
  /// `users` must outlive the check. Hashes a random secret once for the dummy, with the limits
  /// of the first user who has a hash.
  explicit password_check(const std::vector<control::user>& users);

  /// What came of one check.
  struct result {
    const control::user* named = nullptr;  // the user of that name, if there is one
    bool right = false;                    // the password is theirs (never without a hash)
  };

  /// Checks `password` against the hash of the user named `name`.
  result check(std::string_view name, std::string_view password) const;
  /// The hash that a name that is no one's is checked against: a secret nobody knows, with the
  /// limits of the first user's hash. Empty when no user has a password.
  const std::string& dummy_hash() const noexcept { return dummy_hash_; }

 private:
  const std::vector<control::user>& users_;
  std::string dummy_hash_;  // empty when nobody has a password: there is nothing to guess
};

}  // namespace vigil::http
