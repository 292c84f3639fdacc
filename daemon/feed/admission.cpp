#include "daemon/feed/admission.hpp"

namespace vigil::feed {

admission admit(const v1::FeedRequest& request, const std::vector<control::user>& users,
                const session_lookup& sessions) {
  std::optional<control::user> who;
  if (const control::user* configured = control::find_user(users, request.token()); configured != nullptr) {
    who = *configured;
  } else if (sessions && !request.token().empty()) {
    who = sessions(request.token());
  }
  if (!who) return refused{v1::FEED_ERROR_UNAUTHORIZED, "missing or unknown token", !request.token().empty()};
  std::string error;
  auto filter = hub::filter::from(request.subscribe(), error);
  if (!filter) return refused{v1::FEED_ERROR_BAD_REQUEST, std::move(error), false};
  const auto& s = request.subscribe();
  return accepted{std::move(*who), std::move(*filter),
                  s.has_resume_after() ? std::optional<std::uint64_t>(s.resume_after()) : std::nullopt};
}

}  // namespace vigil::feed
