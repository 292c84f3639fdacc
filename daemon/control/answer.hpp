#pragma once

#include "daemon/control/service.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

namespace vigil::control {

/// Runs `request` through `commands` and resumes the calling coroutine with the answer, on its
/// own executor: at once for most commands, after the commit for those answered once saved.
/// The service copies what it needs of `request` before it returns.
inline boost::asio::awaitable<v1::ControlResponse> answer(service& commands, const v1::ControlRequest& request) {
  namespace asio = boost::asio;
  const auto executor = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(v1::ControlResponse)>(
      [&commands, &request, executor](auto handler) {
        // The reply may come at once or from another completion; either way the coroutine
        // resumes through its executor, never inside the service's call.
        auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
        commands.handle(request, [waiting, executor](v1::ControlResponse response) {
          asio::post(executor, [waiting, response = std::move(response)]() mutable { std::move(*waiting)(std::move(response)); });
        });
      },
      asio::use_awaitable);
}

}  // namespace vigil::control
