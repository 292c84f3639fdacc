#pragma once

// Feed admission, the same on the TCP feed and the WebSocket feed: who the FeedRequest's token
// stands for, the filter its Subscribe asks for and where it resumes, or why it is refused.
// Pure: no sockets, no clock; the lookup of session tokens is the caller's.

#include "daemon/control/access.hpp"
#include "daemon/hub/hub.hpp"
#include "vigil/v1/feed.pb.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vigil::feed {

/// The user a session token (from signing in on the HTTP listener) stands for, if any.
using session_lookup = std::function<std::optional<control::user>(std::string_view token)>;

/// A FeedRequest accepted: whose it is, what it asks for, and the event id it resumes after.
struct accepted {
  control::user who;
  hub::filter filter;
  std::optional<std::uint64_t> resume_after;
};

/// A FeedRequest refused: the FeedClosing to answer with.
struct refused {
  v1::FeedError error = v1::FEED_ERROR_UNSPECIFIED;
  std::string message;
  // A token was given and is no user's: a failed authentication of the address (api.md 2.1).
  // A missing token is not one.
  bool failed_authentication = false;
};

using admission = std::variant<accepted, refused>;

/// Admits `request`: its token must be a configured user's (in `users`) or, with `sessions`,
/// a live session token; its Subscribe must make a valid hub::filter.
admission admit(const v1::FeedRequest& request, const std::vector<control::user>& users,
                const session_lookup& sessions = nullptr);

}  // namespace vigil::feed
