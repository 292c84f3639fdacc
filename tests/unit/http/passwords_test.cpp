// Password hashes: which strings vigild takes as Argon2id hashes, and the check of a user name
// and password, whose dummy hash for names that are no one's costs what a user's hash costs.

#include "daemon/http/passwords.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

namespace vigil::http {
namespace {

/// An Argon2id string with the cheapest limits (m=8 KiB, t=1): quick in a test.
std::string quick_hash(const std::string& secret, unsigned long long ops = crypto_pwhash_argon2id_OPSLIMIT_MIN) {
  EXPECT_GE(sodium_init(), 0);
  char out[crypto_pwhash_argon2id_STRBYTES];
  EXPECT_EQ(crypto_pwhash_argon2id_str(out, secret.data(), secret.size(), ops, crypto_pwhash_argon2id_MEMLIMIT_MIN),
            0);
  return out;
}

TEST(Passwords, OnlyArgon2idStringsLibsodiumCanParseAreHashes) {
  EXPECT_TRUE(is_argon2id_hash(quick_hash("a long secret")));
  EXPECT_FALSE(is_argon2id_hash(""));
  EXPECT_FALSE(is_argon2id_hash("a long secret"));
  EXPECT_FALSE(is_argon2id_hash("$argon2id$v=19$m=65536,t=2,p=1$garbage"));
  EXPECT_FALSE(is_argon2id_hash(quick_hash("a long secret").substr(0, 40)));
  EXPECT_FALSE(is_argon2id_hash(quick_hash("a long secret") + std::string(200, 'A')));
  char argon2i[crypto_pwhash_argon2i_STRBYTES];
  ASSERT_EQ(crypto_pwhash_argon2i_str(argon2i, "a long secret", 13, crypto_pwhash_argon2i_OPSLIMIT_MIN,
                                      crypto_pwhash_argon2i_MEMLIMIT_MIN),
            0);
  EXPECT_FALSE(is_argon2id_hash(argon2i));
}

TEST(Passwords, TheRightPasswordOfAUserWithAHashSignsIn) {
  const std::vector<control::user> users = {
      {"nurse-cy", "internal-token-of-cy", control::role::nurse, quick_hash("cy's long secret")},
      {"dr-vic", "viewer-token-dr-vic", control::role::viewer},
  };
  const password_check passwords(users);
  const auto right = passwords.check("nurse-cy", "cy's long secret");
  EXPECT_TRUE(right.right);
  EXPECT_EQ(right.named, &users[0]);

  const auto wrong = passwords.check("nurse-cy", "cy's long secret ");
  EXPECT_FALSE(wrong.right);
  EXPECT_EQ(wrong.named, &users[0]);
  // A user without a hash cannot sign in, not even with their token as the password.
  const auto tokened = passwords.check("dr-vic", "viewer-token-dr-vic");
  EXPECT_FALSE(tokened.right);
  EXPECT_EQ(tokened.named, &users[1]);
  const auto nobody = passwords.check("nobody", "cy's long secret");
  EXPECT_FALSE(nobody.right);
  EXPECT_EQ(nobody.named, nullptr);
  EXPECT_FALSE(passwords.check("", "").right);
}

TEST(Passwords, ANameThatIsNoOnesIsCheckedAgainstADummyWithTheLimitsOfTheFirstUsersHash) {
  const std::vector<control::user> users = {
      {"dr-vic", "viewer-token-dr-vic", control::role::viewer},
      {"nurse-cy", "internal-token-of-cy", control::role::nurse, quick_hash("cy's long secret", 3)},
      {"nurse-ana", "internal-token-of-ana", control::role::nurse, quick_hash("ana's long secret")},
  };
  const password_check passwords(users);
  EXPECT_EQ(passwords.dummy_hash().rfind("$argon2id$v=19$m=8,t=3,p=1$", 0), 0u) << passwords.dummy_hash();
  EXPECT_TRUE(is_argon2id_hash(passwords.dummy_hash()));
  // Its secret is nobody's: not even an empty one.
  EXPECT_NE(crypto_pwhash_str_verify(passwords.dummy_hash().c_str(), "", 0), 0);
  EXPECT_NE(passwords.dummy_hash(), password_check(users).dummy_hash());
}

TEST(Passwords, WithNoPasswordsThereIsNothingToCheck) {
  const std::vector<control::user> users = {{"dr-vic", "viewer-token-dr-vic", control::role::viewer}};
  const password_check passwords(users);
  EXPECT_TRUE(passwords.dummy_hash().empty());
  EXPECT_FALSE(passwords.check("dr-vic", "anything at all").right);
}

}  // namespace
}  // namespace vigil::http
