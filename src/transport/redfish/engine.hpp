// SPDX-License-Identifier: GPL-3.0-or-later
// The Redfish protocol engine: one operation on one target, as an explicit state machine over
// an HttpEndpoint (the real client or a test fake).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "transport/redfish/http.hpp"
#include "transport/redfish/model.hpp"
#include "plugin/plugin.hpp"
#include "transport/redfish/redfish_backend.hpp"

namespace fleetpower::redfish {

enum class AuthMode : std::uint8_t { Auto, Session, Basic };
std::optional<AuthMode> parse_auth_mode(std::string_view s);

/// Per-BMC state shared by every operation on that BMC during one run: the login session and
/// the discovery cache.
struct BmcState {
  // Session.
  std::string token;            ///< X-Auth-Token; empty: none
  std::string session_uri;      ///< for DELETE
  std::string token_user;       ///< user the session belongs to
  bool basic_fallback = false;  ///< auto mode found no usable SessionService
  bool logging_in = false;
  std::vector<std::function<void()>> login_waiters;
  int active_ops = 0;
  int logouts_pending = 0;
  bool close_after_logout = false;  ///< shutdown() came while a logout was in flight
  std::unique_ptr<boost::asio::steady_timer> linger;  ///< idle session expiry (armed when idle)
  // Discovery cache.
  std::optional<ServiceRoot> root;
  std::optional<std::vector<std::string>> systems;
  std::map<std::string, std::vector<std::string>> action_info;  ///< ActionInfo path -> allowed
  std::map<std::string, ManagerInfo> managers;
  /// The vendor plugin auto-detected for this BMC (null: not yet, or no registry).
  const plugin::Plugin* detected = nullptr;
};

/// Runs one operation.  `done` is called exactly once, posted on `ex`.
void run_operation(boost::asio::any_io_executor ex, std::shared_ptr<HttpEndpoint> ep,
                   std::shared_ptr<BmcState> st, OpContext ctx, const Options& opts,
                   CompletionFn done);

/// Best-effort DELETE of the BMC's login session (if any), bounded by `grace`.  `then` (optional)
/// runs once it is over.
void logout(boost::asio::any_io_executor ex, std::shared_ptr<HttpEndpoint> ep,
            std::shared_ptr<BmcState> st, Millis grace, std::function<void()> then = {});

}  // namespace fleetpower::redfish
