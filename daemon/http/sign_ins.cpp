#include "daemon/http/sign_ins.hpp"

#include <sodium.h>

#include <stdexcept>
#include <vector>

namespace vigil::http {

std::string random_token(std::size_t bytes) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  sodium_memzero(raw.data(), raw.size());
  return hex;
}

sign_ins::sign_ins(std::chrono::seconds valid_for, std::size_t max_live)
    : valid_for_(valid_for), max_live_(max_live == 0 ? 1 : max_live) {}

std::string sign_ins::key_of(std::string_view token) {
  std::string key(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr, 0);
  return key;
}

void sign_ins::drop(std::unordered_map<std::string, entry>::iterator it) {
  by_expiry_.erase(it->second.order);
  live_.erase(it);
}

sign_ins::issued sign_ins::issue(const control::user& who, clock::time_point now) {
  issued out{random_token(), now + valid_for_};
  std::lock_guard lock(mutex_);
  // Expired ones first, then the oldest live ones while there is no room.
  while (!by_expiry_.empty()) {
    const auto it = live_.find(by_expiry_.begin()->second);
    if (it->second.expires > now && live_.size() < max_live_) break;
    drop(it);
  }
  const auto key = key_of(out.token);
  const auto order = next_order_++;
  live_.emplace(key, entry{who, out.expires, order});
  by_expiry_.emplace(order, key);
  return out;
}

std::optional<control::user> sign_ins::find(std::string_view token, clock::time_point now) {
  if (token.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  const auto it = live_.find(key_of(token));
  if (it == live_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    drop(it);
    return std::nullopt;
  }
  return it->second.who;
}

bool sign_ins::revoke(std::string_view token, clock::time_point now) {
  if (token.empty()) return false;
  std::lock_guard lock(mutex_);
  const auto it = live_.find(key_of(token));
  if (it == live_.end()) return false;
  const bool was_live = it->second.expires > now;
  drop(it);
  return was_live;
}

std::optional<control::user> user_of(const control::user* configured, sign_ins* sessions, std::string_view token) {
  if (configured != nullptr) return *configured;
  if (sessions == nullptr) return std::nullopt;
  return sessions->find(token, sign_ins::clock::now());
}

std::size_t sign_ins::size() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

}  // namespace vigil::http
