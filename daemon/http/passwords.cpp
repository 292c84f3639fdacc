#include "daemon/http/passwords.hpp"

#include "daemon/http/sign_ins.hpp"

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <stdexcept>

namespace vigil::http {
namespace {

constexpr std::string_view argon2id_prefix = "$argon2id$";

/// The number after `name` ("m=", "t=") in the parameters of an Argon2id string; 0 if none.
std::uint64_t parameter(std::string_view hash, std::string_view name) {
  // "$argon2id$v=19$m=65536,t=2,p=1$salt$hash": the parameters are the fourth field.
  std::size_t at = argon2id_prefix.size();
  at = hash.find('$', at);
  if (at == std::string_view::npos) return 0;
  const auto end = hash.find('$', at + 1);
  const auto fields = hash.substr(at + 1, end == std::string_view::npos ? std::string_view::npos : end - at - 1);
  for (std::size_t start = 0; start < fields.size();) {
    const auto comma = fields.find(',', start);
    const auto field = fields.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (field.substr(0, name.size()) == name) {
      std::uint64_t value = 0;
      const auto digits = field.substr(name.size());
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      return ec == std::errc() && ptr == digits.data() + digits.size() ? value : 0;
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return 0;
}

/// A hash of a random secret nobody knows, as costly to check as `model` (or, with no model,
/// as one made by vigilctl hash-secret).
std::string dummy_like(std::string_view model) {
  std::uint64_t ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
  std::uint64_t mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
  if (const auto t = parameter(model, "t="); t > 0) ops = t;
  if (const auto m = parameter(model, "m="); m > 0) mem = m * 1024;  // m is in KiB
  ops = std::clamp<std::uint64_t>(ops, crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_OPSLIMIT_MAX);
  mem = std::clamp<std::uint64_t>(mem, crypto_pwhash_argon2id_MEMLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MAX);
  const auto secret = random_token();
  char out[crypto_pwhash_argon2id_STRBYTES];
  if (crypto_pwhash_argon2id_str(out, secret.data(), secret.size(), ops, static_cast<std::size_t>(mem)) != 0) {
    throw std::runtime_error("cannot make the dummy password hash (out of memory?)");
  }
  return out;
}

}  // namespace

bool is_argon2id_hash(std::string_view hash) {
  if (sodium_init() < 0) return false;
  if (hash.substr(0, argon2id_prefix.size()) != argon2id_prefix) return false;
  if (hash.size() >= crypto_pwhash_argon2id_STRBYTES) return false;
  const std::string text(hash);  // libsodium reads up to a NUL
  // -1: not a string it can parse; 0 or 1: one it can check against (1: made with other limits).
  return crypto_pwhash_argon2id_str_needs_rehash(text.c_str(), crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                                                 crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) >= 0;
}

password_check::password_check(const std::vector<control::user>& users) : users_(users) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  const auto has_hash = [](const control::user& u) { return !u.password_hash.empty(); };
  const auto first = std::find_if(users_.begin(), users_.end(), has_hash);
  if (first != users_.end()) dummy_hash_ = dummy_like(first->password_hash);
}

password_check::result password_check::check(std::string_view name, std::string_view password) const {
  result out;
  for (const auto& u : users_) {
    if (u.name == name) out.named = &u;
  }
  if (dummy_hash_.empty()) return out;
  const bool has_hash = out.named != nullptr && !out.named->password_hash.empty();
  const std::string& hash = has_hash ? out.named->password_hash : dummy_hash_;
  const bool matches = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  out.right = matches && has_hash;
  return out;
}

}  // namespace vigil::http
