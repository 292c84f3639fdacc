#pragma once

// Password hashes for tests: users[].password_hash as `vigilctl hash-secret` writes it (Argon2id),
// but with libsodium's cheapest limits, so that a test hashes and checks in milliseconds.

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

namespace vigil::test {

/// An Argon2id string of `secret` with the cheapest limits.
inline std::string quick_hash(const std::string& secret) {
  EXPECT_GE(sodium_init(), 0);
  char out[crypto_pwhash_STRBYTES];
  EXPECT_EQ(crypto_pwhash_str_alg(out, secret.data(), secret.size(), crypto_pwhash_OPSLIMIT_MIN,
                                  crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13),
            0);
  return out;
}

}  // namespace vigil::test
